// Writes fixtures/light-client/anvil-basic/{proof,headers}.json from a live anvil (see
// scripts/anvil-proof-fixtures.sh, which starts anvil and calls this). Deterministic: fixed
// genesis timestamp, fixed block timestamps, fixed transaction fields.
//
//   node scripts/anvil-proof-fixtures.mjs RPC_URL OUT_DIR
//
// The contract is hand-assembled EVM bytecode whose constructor writes the storage image of
// contracts/src/Settlement.sol (owner at slot 0, batchCount at 1, mapping(uint256 => Batch) at
// 2) for batches 0 and 1, and whose runtime code is the single byte 0x00 (STOP).
//
// A real reorg: after genesis, a snapshot; chain A deploys in block 1 (t0+12) and mines blocks
// 2-3; the snapshot is reverted; chain B deploys in block 1 (t0+13) and mines up to block 64.
// Chain B is canonical (its block 64 is the checkpoint); chain A's blocks were reorged away.
import { writeFileSync } from "node:fs";
import { createHash } from "node:crypto";

const [url, out] = process.argv.slice(2);
if (!url || !out) throw new Error("usage: anvil-proof-fixtures.mjs RPC_URL OUT_DIR");

const T0 = 1767225600; // 2026-01-01T00:00:00Z, the genesis timestamp (anvil --timestamp)
const DEPLOYER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"; // anvil account 0
const NODE = "70997970c51812dc3a010c7d01b50e0d17dc79c8"; // anvil account 1: the "node"
const HEADS = 64;

let id = 0;
async function rpc(method, params = []) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
  });
  const j = await r.json();
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

const hex = (n, bytes = 32) => n.toString(16).padStart(bytes * 2, "0");
const sha256 = (s) => createHash("sha256").update(s).digest("hex");
const ROOTS = [sha256("otr anvil-basic batch 0"), sha256("otr anvil-basic batch 1")];

// --- the constructor, opcode by opcode
const op = { PUSH1: "60", PUSH32: "7f", MSTORE: "52", MSTORE8: "53", SHA3: "20", DUP2: "81",
  ADD: "01", SSTORE: "55", POP: "50", RETURN: "f3", OR: "17", SHL: "1b", TIMESTAMP: "42",
  NUMBER: "43" };
const push1 = (n) => op.PUSH1 + hex(n, 1);
const push32 = (h) => op.PUSH32 + h.padStart(64, "0");
let code = "";
// slot 0: owner = the deployer; slot 1: batchCount = 2
code += push32(DEPLOYER.slice(2)) + push1(0) + op.SSTORE;
code += push32(hex(2)) + push1(1) + op.SSTORE;
for (const [index, b] of [
  { root: ROOTS[0], headerCount: 3n, firstSequence: 0n, receipts: 7n, dispute: 0n, slashed: 0n },
  { root: ROOTS[1], headerCount: 2n, firstSequence: 3n, receipts: 4n, dispute: 3n, slashed: 5n * 10n ** 17n },
].entries()) {
  // base = keccak256(pad32(index) || pad32(2))
  code += push32(hex(index)) + push1(0) + op.MSTORE + push1(2) + push1(32) + op.MSTORE;
  code += push1(64) + push1(0) + op.SHA3;
  // word +0: root
  code += push32(b.root) + op.DUP2 + push1(0) + op.ADD + op.SSTORE;
  // word +1: node | postedAt (block.timestamp) << 160 | headerCount << 224
  code += push32(hex((b.headerCount << 224n) | BigInt("0x" + NODE)));
  code += op.TIMESTAMP + push1(160) + op.SHL + op.OR + op.DUP2 + push1(1) + op.ADD + op.SSTORE;
  // word +2: postedBlock (block.number) | firstSequence << 64 | receiptCount << 128 | disputeState << 192
  code += push32(hex((b.firstSequence << 64n) | (b.receipts << 128n) | (b.dispute << 192n)));
  code += op.NUMBER + op.OR + op.DUP2 + push1(2) + op.ADD + op.SSTORE;
  // word +3: slashedWei
  if (b.slashed) code += push32(hex(b.slashed)) + op.DUP2 + push1(3) + op.ADD + op.SSTORE;
  code += op.POP;
}
// return the runtime code: one byte 0x00
code += push1(0) + push1(0) + op.MSTORE8 + push1(1) + push1(0) + op.RETURN;

async function slotsToProve() {
  const slots = [hex(0), hex(1)];
  for (const index of [0, 1, 2]) {
    const base = BigInt(await rpc("web3_sha3", ["0x" + hex(index) + hex(2)]));
    for (let w = 0n; w < 4n; w++) slots.push(hex((base + w) % (1n << 256n)));
  }
  return slots.map((s) => "0x" + s);
}

async function mineAt(ts) {
  await rpc("evm_mine", [ts]);
}

async function deploy(ts) {
  await rpc("evm_setNextBlockTimestamp", [ts]);
  const tx = await rpc("eth_sendTransaction", [{
    from: DEPLOYER, data: "0x" + code, gas: "0x100000",
    maxFeePerGas: "0x77359400", maxPriorityFeePerGas: "0x3b9aca00", nonce: "0x0",
  }]);
  let receipt = null;
  for (let i = 0; i < 100 && !receipt; i++) {
    receipt = await rpc("eth_getTransactionReceipt", [tx]);
    if (!receipt) await new Promise((r) => setTimeout(r, 50));
  }
  if (!receipt || receipt.status !== "0x1") throw new Error("deployment failed");
  return receipt.contractAddress;
}

async function headers(from, to) {
  const out = [];
  for (let n = from; n <= to; n++) {
    const b = await rpc("eth_getBlockByNumber", ["0x" + n.toString(16), false]);
    delete b.transactions; // the header fields are what the fixture is about
    out.push(b);
  }
  return out;
}

const genesis = await rpc("eth_getBlockByNumber", ["0x0", false]);
if (Number(genesis.timestamp) !== T0) throw new Error("start anvil with --timestamp " + T0);
const slots = await slotsToProve();
const snapshot = await rpc("evm_snapshot");

// Chain A (reorged away).
const addrA = await deploy(T0 + 12);
for (let n = 2; n <= 3; n++) await mineAt(T0 + 12 * n);
const proofA = await rpc("eth_getProof", [addrA, slots, "0x1"]);
const headersA = await headers(1, 3);

if (!(await rpc("evm_revert", [snapshot]))) throw new Error("evm_revert failed");
if (Number(await rpc("eth_blockNumber")) !== 0) throw new Error("revert did not drop the blocks");

// Chain B (canonical).
const addr = await deploy(T0 + 13);
if (addr !== addrA) throw new Error("both chains must deploy at the same address");
for (let n = 2; n <= HEADS; n++) await mineAt(T0 + 1 + 12 * n);
const proof = await rpc("eth_getProof", [addr, slots, "0x1"]);
const headersB = await headers(1, HEADS);
const runtime = await rpc("eth_getCode", [addr, "0x1"]);
if (runtime !== "0x00") throw new Error("unexpected runtime code " + runtime);

const json = (v) => JSON.stringify(v, null, 2) + "\n";
writeFileSync(`${out}/proof.json`, json({ canonical: proof, reorged: proofA }));
writeFileSync(`${out}/headers.json`, json({ canonical: headersB, reorged: headersA }));
console.error(`wrote ${out}/proof.json and headers.json (contract ${addr}, ${slots.length} slots, ` +
  `checkpoint block ${HEADS} ${headersB[HEADS - 1].hash})`);

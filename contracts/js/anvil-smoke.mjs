// Deploys the committed artifacts to a running anvil (RPC URL in argv[2]) from its first unlocked
// account and checks that the runtime code on chain is byte for byte the artifact's
// deployedBytecode (for contracts without immutables). Run through scripts/anvil-smoke.sh.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const url = process.argv[2] ?? "http://127.0.0.1:8545";
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "artifacts");
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

const [from] = await rpc("eth_accounts");
let failed = 0;
for (const [name, args] of [
  ["ModelRegistry", from.slice(2).toLowerCase().padStart(64, "0")],
  ["Groth16VerifierMulAdd", ""],
  ["WideAddStepVerifier", ""],
]) {
  const art = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), "utf8"));
  const tx = await rpc("eth_sendTransaction", [{ from, data: art.bytecode + args, gas: "0xf42400" }]);
  let rcpt = null;
  for (let i = 0; i < 50 && !rcpt; i++) {
    rcpt = await rpc("eth_getTransactionReceipt", [tx]);
    if (!rcpt) await new Promise((r) => setTimeout(r, 100));
  }
  const code = await rpc("eth_getCode", [rcpt.contractAddress, "latest"]);
  const same = code.toLowerCase() === art.deployedBytecode.toLowerCase();
  console.log(`${name}: deployed at ${rcpt.contractAddress}, gas ${parseInt(rcpt.gasUsed, 16)}, runtime code ${same ? "matches" : "DIFFERS from"} the artifact`);
  if (!same) failed++;
}
console.log(`${3 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

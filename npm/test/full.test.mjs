// fixtures/bundles/full_a1_like: one bundle with evidence of NVIDIA's A1 shape (report,
// 5-certificate chain, driver and VBIOS RIMs, 6 OCSP answers), the GPU nonce bound to the header
// hash, both inclusion proofs, finality and a real Groth16 spot-check proof. It verifies with
// every claim checked, and each tampered copy fails with the code of what was changed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import * as V from "@otr/verifier";
import { caseOptions, fullCase, record, rejectsWith } from "./helpers.mjs";

const { OtrError } = V;
const full = fullCase();
const opts = caseOptions(full);
const json = () => JSON.parse(readFileSync(join(full.path, "bundle.json"), "utf8"));
const bytes = () => new Uint8Array(readFileSync(join(full.path, "bundle.otrb")));
const fails = (bundle, code, o = opts) => rejectsWith(assert, OtrError, V.verifyBundle(bundle, o), code);

function checkClaims(c) {
  const b = json();
  assert.equal(c.finality.state, full.spec.finality);
  assert.equal(c.structure.header_hash, "0x" + c.gpu.device.nonce, "GPU nonce = header hash");
  assert.equal(c.gpu.device.nonce_verified, true);
  assert.equal(c.gpu.device.dev_root, true);
  assert.equal(c.gpu.production, false, "dev evidence is never production");
  // Both manifests checked; every golden measurement matched (one entry is inactive: skipped).
  assert.deepEqual(c.gpu.rims.map((r) => [r.kind, r.version, r.dev_root]),
    [["driver", "550.90.07", true], ["vbios", "96.00.9F.00.01", true]]);
  const m = c.gpu.measurements;
  assert.equal(m.golden, 33);
  assert.equal(m.matched + m.skipped, m.golden);
  assert.equal(m.results.filter((r) => r.verdict === "match").length, m.matched);
  // Every OCSP answer (device chain 1..=3, each RIM chain 0..=2) was checked and is good.
  assert.deepEqual(c.gpu.ocsp.map((o) => `${o.chain}-${o.index}`),
    ["device-1", "device-2", "device-3", "driver_rim-0", "driver_rim-1", "driver_rim-2",
      "vbios_rim-0", "vbios_rim-1", "vbios_rim-2"]);
  for (const o of c.gpu.ocsp) assert.equal(o.verdict.status, "good", JSON.stringify(o));
  // The proof is bound to the receipt's trace: rows 20..23 of the DOWN step at leaf 1, with the
  // matrix commitment opening to the fixture model's matrix root.
  assert.deepEqual(c.proofs, [{
    circuit_id: b.zk_proofs[0].circuit_id.slice(2),
    public_inputs: 4,
    bound: {
      step_index: 1,
      step: { pos: 0, stage: 1, op: 14 },
      matrix: "blk.0.ffn_down.weight",
      row_start: 20,
      unit_rows: 4,
      rows: 640,
      matrix_root: full.spec.matrix_root,
    },
  }]);
  assert.equal(c.chain.status, "absent");
  record("ok");
}

test("full_a1_like: the binary and JSON forms verify with every claim checked (WebCrypto and pure-Rust p384)", async () => {
  assert.equal(full.spec.expected, "ok");
  for (const crypto of ["auto", "wasm"]) {
    await V.clearCache();
    checkClaims(await V.verifyBundle(bytes(), { ...opts, crypto }));
    checkClaims(await V.verifyBundle(json(), { ...opts, crypto }));
  }
});

test("full_a1_like: the proof is bound to the model's matrix root only when it opens to it", async () => {
  checkClaims(await V.verifyBundle(bytes(), { ...opts, expectedMatrixRoot: full.spec.matrix_root }));
  await fails(bytes(), "ZK_STATEMENT_MATRIX_ROOT", { ...opts, expectedMatrixRoot: "11".repeat(32) });
  const unbound = json();
  delete unbound.zk_proofs[0].statement;
  const c = await V.verifyBundle(unbound, opts);
  assert.equal(c.proofs[0].bound, undefined, "valid, but not bound to the answer");
  await fails(unbound, "ZK_STATEMENT_MISSING", { ...opts, expectedMatrixRoot: full.spec.matrix_root });
});

test("full_a1_like: without the verifying key, the RIM root or dev roots allowed, it is rejected", async () => {
  await fails(bytes(), "PROOF_UNKNOWN_CIRCUIT", { ...opts, verifyingKeys: [] });
  const deviceRootOnly = { devRoots: readFileSync(join(full.path, "dev-root.pem"), "utf8") };
  const e = await fails(bytes(), "RIM_CHAIN", { ...opts, trustAnchors: deviceRootOnly });
  assert.match(e.message, /trusted root/);
  await fails(bytes(), "POLICY_DEV_ROOT", { ...opts, policy: {} });
  // Two days on, the OCSP answers (valid 24 h) are stale.
  await fails(bytes(), "OCSP_STALE", { ...opts, time: "2026-01-03T00:00:00Z" });
});

// Copies of the bundle with one thing changed (JSON form), and the code each must give.
const b64flip = (text, i, x = 1) => {
  const buf = Buffer.from(text, "base64");
  buf[i] ^= x;
  return buf.toString("base64");
};
const TAMPERED = [
  ["proof: a public input changed", "PROOF_INVALID", (b) => {
    const p = b.zk_proofs[0].public_inputs;
    p[1] = "0x" + (BigInt(p[1]) + 1n).toString(16).padStart(64, "0");
  }],
  ["proof: its first point's x coordinate set above the field modulus", "PROOF_POINT_INVALID", (b) => {
    // Compressed G1: x little-endian in 32 bytes, flags in the top two bits of the last byte.
    // 2^254 - 1 with no flags is above BN254's modulus (< 2^254), so no point has it. (A flipped
    // bit of x is not enough: about half of all x are on the curve.)
    const buf = Buffer.from(b.zk_proofs[0].proof, "base64");
    buf.fill(0xff, 0, 31);
    buf[31] = 0x3f;
    b.zk_proofs[0].proof = buf.toString("base64");
  }],
  ["proof: a public input not below the field modulus", "PROOF_INPUT_NOT_CANONICAL", (b) => {
    b.zk_proofs[0].public_inputs[0] = "0x" + "ff".repeat(32);
  }],
  ["proof: its circuit id changed", "PROOF_UNKNOWN_CIRCUIT", (b) => {
    b.zk_proofs[0].circuit_id = "0x" + "00".repeat(32);
  }],
  ["statement: the step leaf's index moved", "ZK_STATEMENT_LEAF", (b) => {
    b.zk_proofs[0].statement.step.index = 0;
  }],
  ["statement: another layer's matrix named", "ZK_STATEMENT_STEP", (b) => {
    b.zk_proofs[0].statement.matrix = "blk.1.ffn_down.weight";
  }],
  ["statement: one byte of the input vector flipped", "ZK_STATEMENT_DIGEST", (b) => {
    b.zk_proofs[0].statement.x = b64flip(b.zk_proofs[0].statement.x, 9);
  }],
  ["statement: rows per unit that the proof's output commitment does not cover", "ZK_STATEMENT_PUBLIC_INPUT", (b) => {
    b.zk_proofs[0].statement.unit_rows = 8;
  }],
  ["statement: a matrix opening in an empty tree", "ZK_STATEMENT_MATRIX", (b) => {
    b.zk_proofs[0].statement.matrix_size = 0;
  }],
  ["report: one byte of a measurement flipped", "REPORT_SIGNATURE_INVALID", (b) => {
    b.evidence.report = b64flip(b.evidence.report, 60);
  }],
  ["driver RIM: a golden measurement changed after signing", "RIM_DIGEST_MISMATCH", (b) => {
    b.evidence.rims[0] = b.evidence.rims[0].replace(/ns2:Hash0="([0-9a-f])/, (_, d) => `ns2:Hash0="${d === "0" ? "1" : "0"}`);
  }],
  ["driver RIM removed", "POLICY_MISSING_RIMS", (b) => b.evidence.rims.splice(0, 1)],
  ["OCSP: one byte of an answer's signature value flipped", "OCSP_BAD_SIGNATURE", (b) => {
    // The answer's signatureAlgorithm (ecdsa-with-SHA384) comes first, then the BIT STRING
    // holding (r, s); the embedded responder certificate follows.
    const der = Buffer.from(b.evidence.ocsp[0], "base64");
    const oid = der.indexOf(Buffer.from("06082a8648ce3d040303", "hex"));
    assert.ok(oid > 0);
    b.evidence.ocsp[0] = b64flip(b.evidence.ocsp[0], oid + 10 + 12);
  }],
  ["OCSP: the answer for the RIM signer removed", "POLICY_MISSING_OCSP", (b) => b.evidence.ocsp.splice(3, 1)],
  ["receipt: output hash changed", "INCLUSION_ROOT_MISMATCH", (b) => {
    b.receipt.output_hash = "0x" + "11".repeat(32);
  }],
  ["header: timestamp changed after signing", "HEADER_SIGNER_MISMATCH", (b) => { b.header.timestamp += 1; }],
  ["rollup: a batch path hash changed", "INCLUSION_ROOT_MISMATCH", (b) => {
    b.rollup.path[0] = "0x" + "22".repeat(32);
  }],
  ["chain status: posted after the verification time", "FINALITY_POSTED_IN_FUTURE", (b) => {
    b.chain_status.batch_posted_at += 10 * 86400;
  }],
];
for (const [what, code, edit] of TAMPERED) {
  test(`full_a1_like tampered (${what}): ${code}`, async () => {
    const b = json();
    edit(b);
    await fails(b, code);
    await fails(JSON.stringify(b), code);
  });
}

// The binary form, changed at positions found from its own layout (docs/PROTOCOL.md: u32
// big-endian lengths and counts, 0/1 option tags).
const find = (hay, needle) => {
  const n = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + n.length <= hay.length; i++) {
    for (let j = 0; j < n.length; j++) if (hay[i + j] !== n[j]) continue outer;
    return i;
  }
  throw new Error(`${needle} not in the bundle`);
};
const u32 = (b, at, v) => new DataView(b.buffer).setUint32(at, v);

test("full_a1_like binary: cut, extended and with bad lengths, counts, tags and text", async () => {
  const good = bytes();
  const header = 5 + 209; // magic + version, then the 209-byte receipt; the header follows
  assert.equal(good[header], 1, "header version byte");
  await fails(good.slice(0, 20), "RECEIPT_TRUNCATED");
  await fails(good.slice(0, header + 30), "HEADER_TRUNCATED");
  await fails(good.slice(0, good.length - 40), "BUNDLE_TRUNCATED");
  await fails(Uint8Array.from([...good, 0]), "BUNDLE_TRAILING_BYTES");
  const rim = find(good, "<SoftwareIdentity");
  let b = good.slice();
  u32(b, rim - 8, 0xffffffff); // RIM count
  await fails(b, "BUNDLE_COUNT_EXCEEDED");
  b = good.slice();
  u32(b, rim - 4, 0xffffffff); // first RIM's length
  await fails(b, "BUNDLE_LENGTH_EXCEEDED");
  const arch = find(good, "HOPPER");
  b = good.slice();
  b[arch] = 0xff;
  await fails(b, "BUNDLE_INVALID_UTF8");
  b = good.slice();
  b[arch + 6] = 2; // the rollup section's option tag: only 0 or 1
  await fails(b, "BUNDLE_NON_CANONICAL");
  b = good.slice();
  b[4] = 9;
  await fails(b, "BUNDLE_UNSUPPORTED_VERSION");
});

test("full_a1_like: a batch index above 2^53 - 1 comes back as a BigInt, not an error", async () => {
  // Without a light-client section nothing proves the batch index, so the bundle verifies;
  // its claims must still carry the exact number.
  const b = json();
  b.rollup.batch_index = 2 ** 53 + 8; // JSON.stringify writes it exactly (a power of two plus 8)
  const text = JSON.stringify(b).replace(`"batch_index":${2 ** 53 + 8}`, '"batch_index":9007199254740999');
  const c = await V.verifyBundle(text, opts);
  assert.equal(c.structure.batch.batch_index, 9007199254740999n);
  // Only that integer: every other one is still a number.
  assert.equal(c.structure.sequence, 42);
  assert.equal(c.structure.chain_id, 31337);
  assert.equal(typeof c.receipt.created_at, "number");
  assert.equal(typeof c.gpu.device.board_id, "number");
  assert.equal(c.finality.state, "final");
});

// rim_defects/: the driver RIM with one content defect each, re-signed by the dev RIM signer
// (signature and digest verify), so the verifier reports the defect itself.
const defects = JSON.parse(readFileSync(join(full.path, "rim_defects/cases.json"), "utf8"));
for (const [name, { description, expected }] of Object.entries(defects)) {
  test(`full_a1_like with a re-signed driver RIM (${description}): ${expected}`, async () => {
    const b = json();
    b.evidence.rims[0] = readFileSync(join(full.path, "rim_defects", `${name}.xml`), "utf8");
    await fails(b, expected);
  });
}

test("full_a1_like with a report signed by the dev GPU whose NVDEC0 status is 0x00: MEASUREMENT_NVDEC_STATUS", async () => {
  const b = json();
  const hex = readFileSync(join(full.path, "report_nvdec_0x00.hex"), "utf8").trim();
  b.evidence.report = Buffer.from(hex, "hex").toString("base64");
  await fails(b, "MEASUREMENT_NVDEC_STATUS");
});

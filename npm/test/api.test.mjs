// The four calls and their options through the ES module entry point: inclusion proofs, Groth16
// proofs (alone and inside a bundle), options and input errors, and bundle defects made by
// editing a fixture's JSON (each must surface as its own error code).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import * as V from "@otr/verifier";
import { caseOptions, cases, FIXTURES, rejectsWith } from "./helpers.mjs";
import { bundleProof } from "./zk.mjs";

const { OtrError } = V;
const final = cases("bundles").find((c) => c.name === "final");
const finalJson = () => JSON.parse(readFileSync(join(final.path, "bundle.json"), "utf8"));
const finalBytes = () => new Uint8Array(readFileSync(join(final.path, "bundle.otrb")));
const opts = caseOptions(final);

const ZK = join(FIXTURES, "zk/snarkjs_muladd");
const vk = readFileSync(join(ZK, "verification_key.json"), "utf8");
const proof = JSON.parse(readFileSync(join(ZK, "proof.json"), "utf8"));
const pub = JSON.parse(readFileSync(join(ZK, "public.json"), "utf8"));

test("exports: codes, stages, OtrError", () => {
  assert.ok(V.ERROR_CODES.length > 100);
  assert.ok(V.ERROR_CODES.includes("REPORT_NONCE_MISMATCH"));
  assert.ok(V.ERROR_CODES.includes("INPUT_TYPE"), "the WebAssembly layer's own codes are in the union");
  // Codes of the core that no call of the package produces are not (src/codes.ts, CORE_ONLY_CODES).
  for (const c of ["HEADER_SEQUENCE_GAP", "INPUT_EMPTY_LIST", "OCSP_NONCE_MISMATCH", "LIGHT_TOO_MANY_HEADERS"]) {
    assert.ok(!V.ERROR_CODES.includes(c), c);
  }
  assert.equal(new Set(V.ERROR_CODES).size, V.ERROR_CODES.length);
  assert.ok(V.STAGES.includes("proof"));
  const e = new OtrError("PROOF_INVALID", "proof", "m");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "OtrError");
});

test("codes.ts is generated from the current Rust sources", async () => {
  const { execFileSync } = await import("node:child_process");
  execFileSync("python3", [join(FIXTURES, "../scripts/gen-error-codes.py"), "--check"], { stdio: "inherit" });
});

test("time: RFC 3339, Date and Unix seconds give the same verdict; default is now", async () => {
  for (const time of ["2026-01-01T00:00:00Z", new Date("2026-01-01T00:00:00Z"), 1767225600]) {
    const c = await V.verifyBundle(finalBytes(), { ...opts, time });
    assert.equal(c.gpu.time, "2026-01-01T00:00:00Z");
  }
  // No time: now. The dev chain's validity decides the verdict, so only the stamp is checked.
  const before = Math.floor(Date.now() / 1000);
  try {
    const c = await V.verifyBundle(finalBytes(), { policy: opts.policy, trustAnchors: opts.trustAnchors });
    assert.ok(Date.parse(c.gpu.time) / 1000 >= before);
  } catch (e) {
    assert.ok(e instanceof OtrError);
  }
});

test("inclusion: the receipt of a fixture bundle is in its micro-batch", async () => {
  const b = finalJson();
  const ok = await V.verifyBundle(b, opts);
  const claims = await V.verifyInclusion({
    leaf: ok.structure.receipt_hash,
    index: b.receipt_proof.leaf_index,
    size: b.header.receipt_count,
    path: b.receipt_proof.path,
    root: b.header.receipts_root,
  });
  assert.equal("0x" + claims.root, b.header.receipts_root);
  assert.equal(claims.index, b.receipt_proof.leaf_index);
  // BigInt index and size, Uint8Array leaf.
  const leaf = Uint8Array.from(Buffer.from(ok.structure.receipt_hash.slice(2), "hex"));
  await V.verifyInclusion({
    leaf,
    index: BigInt(b.receipt_proof.leaf_index),
    size: BigInt(b.header.receipt_count),
    path: b.receipt_proof.path,
    root: b.header.receipts_root,
  });
  const good = {
    leaf,
    index: b.receipt_proof.leaf_index,
    size: b.header.receipt_count,
    path: b.receipt_proof.path,
    root: b.header.receipts_root,
  };
  const flipped = b.header.receipts_root.slice(0, -1) + (b.header.receipts_root.endsWith("0") ? "1" : "0");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, root: flipped }), "INCLUSION_ROOT_MISMATCH", "inclusion");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, index: 99 }), "INCLUSION_INDEX_OUT_OF_RANGE");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, path: good.path.slice(1) }), "INCLUSION_PATH_LENGTH");
  const deep = Array(65).fill("00".repeat(32));
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, path: deep }), "INCLUSION_PATH_TOO_DEEP");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, root: "abc" }), "INPUT_HASH", "input");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, leaf: "zz" }), "INPUT_ENCODING");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, index: -1 }), "INPUT_TYPE");
  await rejectsWith(assert, OtrError, V.verifyInclusion({ ...good, extra: 1 }), "INPUT_UNKNOWN_OPTION");
});

test("Groth16: the snarkjs fixture verifies; every defect has its code", async () => {
  const ok = await V.verifyProof({ vk, proof, publicInputs: pub });
  assert.deepEqual(ok.public_inputs, pub);
  assert.equal(ok.key_id.length, 64);
  // Objects and text are the same.
  await V.verifyProof({ vk: JSON.parse(vk), proof: JSON.stringify(proof), publicInputs: JSON.stringify(pub) });

  const e = (x) => V.verifyProof({ vk, proof, publicInputs: pub, ...x });
  await rejectsWith(assert, OtrError, e({ publicInputs: ["33", "15"] }), "PROOF_INVALID", "proof");
  await rejectsWith(assert, OtrError, e({ publicInputs: ["33"] }), "PROOF_INPUT_COUNT");
  const r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
  await rejectsWith(assert, OtrError, e({ publicInputs: [r, "14"] }), "PROOF_INPUT_NOT_CANONICAL");
  await rejectsWith(assert, OtrError, e({ proof: { ...proof, pi_a: ["1", "3", "1"] } }), "PROOF_POINT_INVALID");
  await rejectsWith(assert, OtrError, e({ proof: { ...proof, protocol: "plonk" } }), "PROOF_UNSUPPORTED");
  await rejectsWith(assert, OtrError, e({ proof: "{" }), "PROOF_JSON_INVALID");
  await rejectsWith(assert, OtrError, e({ proof: " ".repeat(300 * 1024) }), "PROOF_TOO_LARGE");
  await rejectsWith(assert, OtrError, e({ publicInputs: Array(513).fill("1") }), "PROOF_TOO_MANY_INPUTS");
  const vkObj = JSON.parse(vk);
  await rejectsWith(
    assert,
    OtrError,
    e({ vk: { ...vkObj, IC: vkObj.IC.slice(1) } }),
    "PROOF_VK_MALFORMED",
  );
});

test("a bundle carrying a real Groth16 proof verifies with its key, and fails without", async () => {
  const keyId = (await V.verifyProof({ vk, proof, publicInputs: pub })).key_id;
  const b = finalJson();
  b.zk_proofs = [{ circuit_id: "0x" + keyId, ...bundleProof(proof, pub) }];
  const claims = await V.verifyBundle(b, { ...opts, verifyingKeys: [vk] });
  assert.deepEqual(claims.proofs, [{ circuit_id: keyId, public_inputs: 2 }]);
  await rejectsWith(assert, OtrError, V.verifyBundle(b, opts), "PROOF_UNKNOWN_CIRCUIT", "proof");

  const wrong = structuredClone(b);
  wrong.zk_proofs[0].public_inputs[1] = "0x" + "00".repeat(31) + "0f";
  await rejectsWith(assert, OtrError, V.verifyBundle(wrong, { ...opts, verifyingKeys: [vk] }), "PROOF_INVALID");
  const short = structuredClone(b);
  short.zk_proofs[0].proof = short.zk_proofs[0].proof.slice(0, 40);
  await rejectsWith(assert, OtrError, V.verifyBundle(short, { ...opts, verifyingKeys: [vk] }), "PROOF_TRUNCATED");
  const long = structuredClone(b);
  long.zk_proofs[0].proof = Buffer.concat([Buffer.from(b.zk_proofs[0].proof, "base64"), Buffer.alloc(3)]).toString("base64");
  await rejectsWith(assert, OtrError, V.verifyBundle(long, { ...opts, verifyingKeys: [vk] }), "PROOF_TRAILING_BYTES");
  await rejectsWith(
    assert,
    OtrError,
    V.verifyBundle(b, { ...opts, verifyingKeys: ["{}"] }),
    "PROOF_JSON_INVALID",
  );
});

test("request and model checks", async () => {
  const b = finalJson();
  const c = await V.verifyBundle(b, {
    ...opts,
    expectedRequestHash: b.receipt.request_hash,
    expectedWeightsRoot: Uint8Array.from(Buffer.from(b.receipt.weights_root.slice(2), "hex")),
  });
  assert.equal(c.request_verified, true);
  assert.equal(c.model_verified, true);
  assert.equal(c.sampling_verified, false);
  const t = b.receipt.sampling.temperature_milli;
  const s = await V.verifyBundle(b, { ...opts, expectedTemperatureMilli: t });
  assert.equal(s.sampling_verified, true);
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedTemperatureMilli: t + 1 }), "RECEIPT_SAMPLING_MISMATCH", "receipt");
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedTemperatureMilli: -1 }), "INPUT_TYPE", "input");
  // This bundle opens no PROMPT leaf: a prompt to compare with is refused, not ignored.
  assert.equal(s.prompt_verified, false);
  assert.equal(s.prompt, undefined);
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedPrompt: "The sky is" }), "PROMPT_NOT_OPENED", "receipt");
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedPrompt: 42 }), "INPUT_TYPE", "input");
  const zero = "00".repeat(32);
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedRequestHash: zero }), "RECEIPT_REQUEST_MISMATCH", "receipt");
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedWeightsRoot: zero }), "RECEIPT_MODEL_MISMATCH");
  await rejectsWith(assert, OtrError, V.verifyBundle(b, { ...opts, expectedWeightsRoot: "0x12" }), "INPUT_HASH", "input");
});

test("chatPrompt gives the text a node runs for chat messages (Gemma's template)", async () => {
  assert.equal(
    await V.chatPrompt([{ role: "user", content: "Hi" }]),
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
  );
  assert.equal(
    await V.chatPrompt([
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Capital of " }, { type: "text", text: "France?" }] },
      { role: "assistant", content: "Paris." },
      { role: "user", content: "And Italy?" },
    ]),
    "<start_of_turn>user\nBe brief.\n\nCapital of France?<end_of_turn>\n" +
      "<start_of_turn>model\nParis.<end_of_turn>\n" +
      "<start_of_turn>user\nAnd Italy?<end_of_turn>\n<start_of_turn>model\n",
  );
  await rejectsWith(assert, OtrError, V.chatPrompt("Hi"), "INPUT_TYPE", "input");
  await rejectsWith(assert, OtrError, V.chatPrompt([{ role: "user" }]), "INPUT_TYPE", "input");
  await rejectsWith(assert, OtrError, V.chatPrompt([{ content: "Hi" }]), "INPUT_TYPE", "input");
});

test("options errors are typed, never silent defaults", async () => {
  const bytes = finalBytes();
  const bad = (o) => V.verifyBundle(bytes, { ...opts, ...o });
  await rejectsWith(assert, OtrError, bad({ polcy: {} }), "INPUT_UNKNOWN_OPTION", "input");
  await rejectsWith(assert, OtrError, bad({ time: "yesterday" }), "INPUT_TIME");
  await rejectsWith(assert, OtrError, bad({ time: new Date("nonsense") }), "INPUT_TIME");
  await rejectsWith(assert, OtrError, bad({ time: -5 }), "INPUT_TIME");
  await rejectsWith(assert, OtrError, bad({ time: true }), "INPUT_TYPE");
  await rejectsWith(assert, OtrError, bad({ policy: { ...opts.policy, allow_dev_root: true } }), "INPUT_POLICY");
  await rejectsWith(assert, OtrError, bad({ policy: { ocsp_freshness: "sometimes" } }), "INPUT_POLICY");
  await rejectsWith(assert, OtrError, bad({ trustAnchors: { devRoots: "not a PEM" } }), "INPUT_ANCHOR");
  const broken = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  await rejectsWith(assert, OtrError, bad({ trustAnchors: { devRoots: broken } }), "INPUT_ANCHOR");
  await rejectsWith(assert, OtrError, bad({ trustAnchors: { devRoot: "x" } }), "INPUT_UNKNOWN_OPTION");
  await rejectsWith(assert, OtrError, bad({ trustAnchors: { devRoots: 42 } }), "INPUT_TYPE");
  await rejectsWith(assert, OtrError, V.verifyBundle(42, opts), "INPUT_TYPE");
  await rejectsWith(assert, OtrError, V.verifyBundle(bytes, "strict"), "INPUT_TYPE");
  // Replacing NVIDIA's device root with the dev root (as a production anchor) is allowed, and
  // the claims then still say where the chain ended.
  const dev = opts.trustAnchors.devRoots;
  await rejectsWith(
    assert,
    OtrError,
    V.verifyBundle(bytes, { time: opts.time, policy: { require_ocsp: false, require_rims: false } }),
    "CHAIN_UNTRUSTED_ROOT",
    "chain",
  );
  const replaced = await V.verifyBundle(bytes, {
    time: opts.time,
    policy: { require_ocsp: false, require_rims: false },
    trustAnchors: { deviceRoots: dev, rimRoots: [dev] },
  });
  assert.equal(replaced.gpu.device.dev_root, false);
});

// Defects made by editing the fixture's JSON form; every edit reaches a distinct code.
const EDITS = [
  ["receipt version", (b) => (b.receipt.version = 2), "RECEIPT_UNSUPPORTED_VERSION"],
  ["receipt top_p above 1000", (b) => (b.receipt.sampling.top_p_milli = 1001), "RECEIPT_FIELD_OUT_OF_RANGE"],
  ["header version", (b) => (b.header.version = 9), "HEADER_UNSUPPORTED_VERSION"],
  ["bundle version", (b) => (b.version = 2), "BUNDLE_UNSUPPORTED_VERSION"],
  ["zero challenge window", (b) => (b.chain_status.challenge_window_secs = 0), "FINALITY_ZERO_WINDOW"],
  ["window end overflows", (b) => (b.chain_status.batch_posted_at = 2 ** 63), "FINALITY_TIME_OVERFLOW"],
  ["posted after the verification time", (b) => (b.chain_status.batch_posted_at = 1867218400), "FINALITY_POSTED_IN_FUTURE"],
  ["header index outside the batch", (b) => (b.rollup.header_index = 99), "INCLUSION_INDEX_OUT_OF_RANGE"],
  ["batch path over 64 nodes", (b) => (b.rollup.path = Array(65).fill("0x" + "00".repeat(32))), "BUNDLE_COUNT_EXCEEDED"],
  ["header signature v", (b) => (b.header_signature = b.header_signature.slice(0, -2) + "05"), "HEADER_SIGNATURE_RECOVERY_ID"],
  ["chain status without rollup", (b) => (b.rollup = null), "BUNDLE_CHAIN_STATUS_WITHOUT_ROLLUP"],
  ["malformed PEM chain", (b) => (b.evidence.cert_chain_pem = "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"), "CHAIN_PEM"],
  ["unknown field", (b) => (b.extra = 1), "BUNDLE_JSON_INVALID"],
  ["report cut short", (b) => (b.evidence.report = b.evidence.report.slice(0, 100)), "SPDM_TRUNCATED"],
  ["arch name too long", (b) => (b.evidence.arch = "X".repeat(40)), "BUNDLE_LENGTH_EXCEEDED"],
];
for (const [name, edit, code] of EDITS) {
  test(`bundle defect: ${name} -> ${code}`, async () => {
    const b = finalJson();
    edit(b);
    await rejectsWith(assert, OtrError, V.verifyBundle(b, opts), code);
  });
}

test("binary bundle defects", async () => {
  const good = finalBytes();
  await rejectsWith(assert, OtrError, V.verifyBundle(new Uint8Array([1, 2, 3, 4, 5]), opts), "BUNDLE_BAD_MAGIC");
  const extra = new Uint8Array(good.length + 1);
  extra.set(good);
  await rejectsWith(assert, OtrError, V.verifyBundle(extra, opts), "BUNDLE_TRAILING_BYTES");
  await rejectsWith(assert, OtrError, V.verifyBundle(new Uint8Array(4 * 1024 * 1024 + 1), opts), "BUNDLE_TOO_LARGE");
  await rejectsWith(assert, OtrError, V.verifyBundle("{", opts), "BUNDLE_JSON_INVALID");
  // An ArrayBuffer is accepted like a Uint8Array.
  const ab = good.buffer.slice(good.byteOffset, good.byteOffset + good.byteLength);
  assert.equal((await V.verifyBundle(ab, opts)).finality.state, "final");
});

test("signature cache: a cleared cache gives the same claims", async () => {
  const a = await V.verifyBundle(finalBytes(), opts);
  await V.clearCache();
  const b = await V.verifyBundle(finalBytes(), opts);
  assert.deepEqual(a, b);
  assert.match(await V.wasmVersion(), /^\d+\.\d+\.\d+$/);
});

test("header signature defects", async () => {
  const b = finalJson();
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const sig = b.header_signature.slice(2);
  const r = sig.slice(0, 64);
  const s = BigInt("0x" + sig.slice(64, 128));
  const v = parseInt(sig.slice(128), 16);
  const highS = (N - s).toString(16).padStart(64, "0");
  const withSig = (hex) => ({ ...b, header_signature: "0x" + hex });
  await rejectsWith(assert, OtrError, V.verifyBundle(withSig(r + highS + (v === 27 ? "1c" : "1b")), opts), "HEADER_SIGNATURE_HIGH_S");
  await rejectsWith(assert, OtrError, V.verifyBundle(withSig("00".repeat(32) + sig.slice(64)), opts), "HEADER_SIGNATURE_MALFORMED");
  await rejectsWith(assert, OtrError, V.verifyBundle(withSig("11".repeat(32) + "22".repeat(32) + "1b"), opts), "HEADER_SIGNATURE_INVALID");
});

test("a binary bundle whose PEM text is not UTF-8", async () => {
  const bin = finalBytes();
  bin[Buffer.from(bin).indexOf("-----BEGIN") + 3] = 0xff;
  await rejectsWith(assert, OtrError, V.verifyBundle(bin, opts), "BUNDLE_INVALID_UTF8");
});

test("GPU evidence budgets and malformed inputs", async () => {
  const c = cases("attestation").find((x) => x.name === "ok");
  const o = caseOptions(c);
  const chain = readFileSync(join(c.path, "chain.pem"), "utf8");
  const report = readFileSync(join(c.path, "report.hex"), "utf8");
  const gpu = (ev) => V.verifyGpuEvidence({ report, chain, ...ev }, o);
  await rejectsWith(assert, OtrError, gpu({ report: new Uint8Array(70000).fill(0x11) }), "SPDM_TOO_LARGE", "spdm");
  await rejectsWith(assert, OtrError, gpu({ chain: "" }), "CHAIN_EMPTY", "chain");
  await rejectsWith(assert, OtrError, gpu({ chain: chain.repeat(2) }), "CHAIN_TOO_LONG");
  await rejectsWith(assert, OtrError, gpu({ ocsp: [new Uint8Array([0x30, 3, 0x0a, 1, 1])] }), "OCSP_STATUS_NOT_SUCCESSFUL", "ocsp");
  await rejectsWith(assert, OtrError, gpu({ ocsp: [new Uint8Array([0x30, 3, 0x0a, 1])] }), "OCSP_DECODE");
  await rejectsWith(assert, OtrError, gpu({ chain: undefined }), "INPUT_TYPE", "input");
  await rejectsWith(assert, OtrError, gpu({ reports: [] }), "INPUT_UNKNOWN_OPTION");
  await rejectsWith(assert, OtrError, V.verifyGpuEvidence({ report, chain }, { ...o, verifyingKeys: [] }), "INPUT_UNKNOWN_OPTION");
});

test("crypto: WebCrypto (auto) and pure WASM give the same claims and codes on every bundle fixture", async () => {
  assert.ok(globalThis.crypto?.subtle, "Node 20 has WebCrypto");
  for (const c of cases("bundles")) {
    const bytes = readFileSync(join(c.path, "bundle.otrb"));
    const outcome = async (crypto) => {
      await V.clearCache();
      try {
        return { claims: await V.verifyBundle(bytes, { ...caseOptions(c), crypto }) };
      } catch (e) {
        assert.ok(e instanceof OtrError, String(e));
        return { code: e.code, stage: e.stage, message: e.message };
      }
    };
    assert.deepEqual(await outcome("auto"), await outcome("wasm"), c.name);
  }
});

// The CommonJS entry point (require("@otr/verifier")): every self-made fixture, NVIDIA A1, and
// the error objects. The ES module tests cover the rest; both builds run the same facade.
const assert = require("node:assert/strict");
const { readFileSync, existsSync } = require("node:fs");
const { join } = require("node:path");
const { test, before } = require("node:test");

const V = require("@otr/verifier");

let H;
before(async () => {
  H = await import("./helpers.mjs");
});

test("the CommonJS build exports the same API", () => {
  for (const name of ["verifyBundle", "verifyGpuEvidence", "verifyInclusion", "verifyProof", "init", "clearCache", "chatPrompt"]) {
    assert.equal(typeof V[name], "function", name);
  }
  assert.ok(Array.isArray(V.ERROR_CODES));
  assert.equal(typeof V.OtrError, "function");
});

test("CJS: every bundle fixture gives its expected verdict or code", async () => {
  for (const c of H.cases("bundles")) {
    const file = join(c.path, "bundle.otrb");
    const run = V.verifyBundle(readFileSync(file), H.caseOptions(c));
    if (c.spec.expected === "ok") {
      const claims = await run;
      assert.equal(claims.finality.state, c.spec.finality, c.name);
    } else {
      await H.rejectsWith(assert, V.OtrError, run, c.spec.expected);
    }
  }
});

test("CJS: every attestation fixture gives its expected verdict or code", async () => {
  for (const c of H.cases("attestation")) {
    const run = V.verifyGpuEvidence(H.attestationEvidence(c), H.caseOptions(c));
    if (c.spec.expected === "ok") {
      assert.equal((await run).production, false, c.name);
    } else {
      await H.rejectsWith(assert, V.OtrError, run, c.spec.expected);
    }
  }
});

test("CJS: every full-GPU fixture gives its expected verdict or code", async () => {
  for (const c of H.cases("gpu")) {
    const run = V.verifyGpuEvidence(H.gpuEvidence(c), H.caseOptions(c));
    if (c.spec.expected === "ok") {
      assert.equal((await run).production, false, c.name);
    } else {
      await H.rejectsWith(assert, V.OtrError, run, c.spec.expected);
    }
  }
});

test("CJS: every dev-chain fixture gives its expected verdict, or code and stage", async () => {
  const chainCases = H.cases("light-client/dev-chain");
  assert.ok(chainCases.length >= 9);
  for (const c of chainCases) {
    const trustedCheckpoint = {
      chainId: c.spec.trusted_checkpoint.chain_id,
      blockHash: c.spec.trusted_checkpoint.block_hash,
    };
    const bundle = join(c.path, "bundle.otrb");
    const run = existsSync(bundle)
      ? V.verifyBundle(readFileSync(bundle), { ...H.caseOptions(c), trustedCheckpoint })
      : V.verifyChainProof({
          chainProof: JSON.parse(readFileSync(join(c.path, "chain_proof.json"), "utf8")),
          batchIndex: c.spec.batch_index,
          trustedCheckpoint,
        });
    if (c.spec.expected === "ok") {
      const claims = await run;
      assert.equal(existsSync(bundle) ? claims.chain.claims.batch_index : claims.batch_index, 9, c.name);
    } else {
      await H.rejectsWith(assert, V.OtrError, run, c.spec.expected, c.spec.stage);
    }
  }
});

test("CJS: errors are Error objects with code, stage and message", async () => {
  const c = H.cases("bundles").find((x) => x.name === "report_byte_flipped");
  const e = await H.rejectsWith(
    assert,
    V.OtrError,
    V.verifyBundle(readFileSync(join(c.path, "bundle.otrb")), H.caseOptions(c)),
    "REPORT_SIGNATURE_INVALID",
    "report",
  );
  assert.ok(e instanceof Error);
  assert.equal(e.name, "OtrError");
  assert.match(String(e.stack), /OtrError/);
});

test("CJS: Groth16 fixture", async () => {
  const Z = join(H.FIXTURES, "zk/snarkjs_muladd");
  const r = await V.verifyProof({
    vk: readFileSync(join(Z, "verification_key.json"), "utf8"),
    proof: readFileSync(join(Z, "proof.json"), "utf8"),
    publicInputs: readFileSync(join(Z, "public.json"), "utf8"),
  });
  assert.deepEqual(r.public_inputs, ["33", "14"]);
});

test("CJS: NVIDIA A1 full verification", async (t) => {
  const a1 = H.nvidiaA1();
  if (!a1) {
    t.skip(H.SAMPLES_ABSENT);
    return;
  }
  const c = await V.verifyGpuEvidence(a1, H.A1_OPTIONS);
  assert.equal(c.production, true);
  assert.equal(c.measurements.golden, 33);
  assert.ok(existsSync(H.SAMPLES));
});

// Refusals that need a signed or proven defective input, each made by the project's dev
// generators (`otr dev fixtures`): the exact code and stage of each, under both signature
// back ends, and the well-formed controls they are variations of.
//
// - fixtures/attestation: leaf certificates with a key the verifier cannot use;
// - fixtures/gpu: a report without its driver version, a manifest whose C14N 1.1 form needs
//   the xml:base fix-up, OCSP answers from an expired responder or with a critical extension;
// - fixtures/light-client/dev-chain: self-made chains whose proven state is defective, checked
//   alone (`verifyChainProof`) or stapled to a bundle (`verifyBundle`).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { OtrError, verifyBundle, verifyChainProof, verifyGpuEvidence } from "@otr/verifier";
import { attestationEvidence, caseOptions, cases, gpuEvidence, rejectsWith } from "./helpers.mjs";

// (area, case, code, stage). The case.json of each must name the same code.
const EVIDENCE = [
  ["attestation", "chain_unsupported_key", "CHAIN_UNSUPPORTED_ALGORITHM", "chain"],
  ["attestation", "report_bad_leaf_key", "REPORT_BAD_LEAF_KEY", "report"],
  ["gpu", "rim_version_unavailable", "RIM_VERSION_UNAVAILABLE", "rim"],
  ["gpu", "rim_c14n_xml_base", "RIM_C14N_UNSUPPORTED", "rim"],
  ["gpu", "ocsp_responder_expired", "OCSP_RESPONDER_CHAIN", "ocsp"],
  ["gpu", "ocsp_unsupported_critical_extension", "OCSP_UNSUPPORTED", "ocsp"],
];

for (const [area, name, code, stage] of EVIDENCE) {
  const c = cases(area).find((x) => x.name === name);
  for (const crypto of ["auto", "wasm"]) {
    test(`${area}/${name}: ${code} at stage ${stage} (crypto: ${crypto})`, async () => {
      assert.ok(c, `fixtures/${area}/${name} is missing (run: cargo run -p otr-node -- dev fixtures)`);
      assert.equal(c.spec.expected, code);
      const evidence = area === "gpu" ? gpuEvidence(c) : attestationEvidence(c);
      const run = verifyGpuEvidence(evidence, { ...caseOptions(c), crypto });
      await rejectsWith(assert, OtrError, run, code, stage);
    });
  }
}

test("the messages say what was refused", async () => {
  const message = async (area, name) => {
    const c = cases(area).find((x) => x.name === name);
    const evidence = area === "gpu" ? gpuEvidence(c) : attestationEvidence(c);
    return (await verifyGpuEvidence(evidence, caseOptions(c)).catch((e) => e)).message;
  };
  assert.match(await message("gpu", "ocsp_responder_expired"), /expired/);
  assert.match(await message("gpu", "ocsp_unsupported_critical_extension"), /critical extension.*1\.3\.6\.1\.5\.5\.7\.48\.1\.3/);
  assert.match(await message("gpu", "rim_c14n_xml_base"), /xml:base/);
});

// The controls: the same generators' inputs without the defect verify.
test("controls: the leaf, report, manifests and OCSP answers these cases vary verify when intact", async () => {
  const a = cases("attestation").find((x) => x.name === "ok");
  assert.equal((await verifyGpuEvidence(attestationEvidence(a), caseOptions(a))).production, false);
  const g = cases("gpu").find((x) => x.name === "ok");
  const claims = await verifyGpuEvidence(gpuEvidence(g), caseOptions(g));
  assert.equal(claims.device.driver_version, "550.90.07");
  assert.equal(claims.ocsp.length, 9);
});

// ---------------------------------------------------------------------------------------------
// Self-made chains.

const chainCases = cases("light-client/dev-chain");
const checkpoint = (c) => ({
  chainId: c.spec.trusted_checkpoint.chain_id,
  blockHash: c.spec.trusted_checkpoint.block_hash,
});

// (case, code, stage): every defective dev chain.
const CHAIN = [
  ["account_absent", "LIGHT_ACCOUNT_ABSENT", "light_client"],
  ["account_invalid", "LIGHT_ACCOUNT_INVALID", "light_client"],
  ["batch_not_posted", "LIGHT_BATCH_NOT_POSTED", "light_client"],
  ["dispute_state_invalid", "LIGHT_DISPUTE_STATE_INVALID", "light_client"],
  ["node_invalid", "LIGHT_NODE_INVALID", "light_client"],
  ["time_overflow", "LIGHT_TIME_OVERFLOW", "light_client"],
  ["batch_root_mismatch", "BUNDLE_BATCH_ROOT_MISMATCH", "inclusion"],
];

test("every dev-chain case is in the table above, with its case.json's code and stage", () => {
  const named = new Set([...CHAIN.map(([n]) => n), "ok", "bundle_ok"]);
  assert.deepEqual(chainCases.map((c) => c.name).sort(), [...named].sort());
  for (const [name, code, stage] of CHAIN) {
    const c = chainCases.find((x) => x.name === name);
    assert.equal(c.spec.expected, code, name);
    assert.equal(c.spec.stage, stage, name);
  }
});

/** Runs a dev-chain case the way its folder says: the section alone, or stapled to a bundle. */
function runChainCase(c, form = "json") {
  if (existsSync(join(c.path, "bundle.json"))) {
    const bundle =
      form === "json"
        ? readFileSync(join(c.path, "bundle.json"), "utf8")
        : new Uint8Array(readFileSync(join(c.path, "bundle.otrb")));
    return verifyBundle(bundle, { ...caseOptions(c), trustedCheckpoint: checkpoint(c) });
  }
  return verifyChainProof({
    chainProof: readFileSync(join(c.path, "chain_proof.json"), "utf8"),
    batchIndex: c.spec.batch_index,
    trustedCheckpoint: checkpoint(c),
  });
}

for (const [name, code, stage] of CHAIN) {
  test(`dev chain ${name}: ${code} at stage ${stage}`, async () => {
    const c = chainCases.find((x) => x.name === name);
    await rejectsWith(assert, OtrError, runChainCase(c), code, stage);
    if (existsSync(join(c.path, "bundle.otrb"))) {
      await rejectsWith(assert, OtrError, runChainCase(c, "otrb"), code, stage);
    }
  });
}

test("dev chain ok: the section alone proves batch 9 under the trusted block", async () => {
  const c = chainCases.find((x) => x.name === "ok");
  const claims = await runChainCase(c);
  const inWindow = cases("bundles").find((x) => x.name === "in_window");
  const bundle = JSON.parse(readFileSync(join(inWindow.path, "bundle.json"), "utf8"));
  assert.equal(claims.batch_index, 9);
  assert.equal(claims.batch_root.replace(/^0x/, ""), bundle.rollup.batch_root.replace(/^0x/, ""));
  assert.equal(claims.block_number, 100);
  assert.equal(claims.checkpoint_number, 103);
  assert.equal(claims.confirmations, 3);
  assert.equal(claims.dispute_state.state, "none");
  assert.equal(claims.window_end, claims.posted_at + 3600);
  // Another batch index is not what the section's storage proofs are about.
  const other = verifyChainProof({
    chainProof: readFileSync(join(c.path, "chain_proof.json"), "utf8"),
    batchIndex: 10,
    trustedCheckpoint: checkpoint(c),
  });
  await rejectsWith(assert, OtrError, other, "LIGHT_SLOT_MISMATCH", "light_client");
});

for (const form of ["json", "otrb"]) {
  test(`dev chain bundle_ok (${form}): in_window's bundle, its chain proven`, async () => {
    const c = chainCases.find((x) => x.name === "bundle_ok");
    const claims = await runChainCase(c, form);
    assert.equal(claims.chain.status, "verified");
    assert.equal(claims.chain.claims.batch_index, claims.structure.batch.batch_index);
    assert.equal(claims.finality.state, "in_window");
    // Without the checkpoint the section is carried but not proven.
    const bytes = readFileSync(join(c.path, "bundle.json"), "utf8");
    assert.equal((await verifyBundle(bytes, caseOptions(c))).chain.status, "unverified");
  });
}

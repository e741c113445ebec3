// Real NVIDIA H100 evidence (../shared/nvidia-samples, never copied into the repository) through
// the ES module entry point: set A1 verifies completely (report, device chain, FWID, nonce, both
// reference manifests, 33 golden measurements, stapled OCSP) at 2025-06-01 with OCSP checked at
// production time; NVIDIA's own negative samples fail with their codes. Skipped, saying so, when
// the samples are absent.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { OtrError, verifyGpuEvidence } from "@otr/verifier";
import { A1_OPTIONS, nvidiaA1, record, rejectsWith, SAMPLES, SAMPLES_ABSENT } from "./helpers.mjs";

const a1 = nvidiaA1();
if (!a1) console.log(`# ${SAMPLES_ABSENT}`);
const skip = a1 ? false : SAMPLES_ABSENT;
const sample = (p) => readFileSync(join(SAMPLES, p));

test("NVIDIA A1: full verification at 2025-06-01 (OCSP at producedAt)", { skip }, async () => {
  const c = await verifyGpuEvidence(a1, A1_OPTIONS);
  record("ok");
  assert.equal(c.production, true);
  assert.equal(c.time, "2025-06-01T00:00:00Z");
  assert.equal(c.device.arch, "HOPPER");
  assert.equal(c.device.nonce, a1.nonce);
  assert.equal(c.device.nonce_verified, true);
  assert.equal(c.device.fwid_verified, true);
  assert.equal(c.device.dev_root, false);
  assert.equal(c.device.driver_version, "550.90.07");
  assert.equal(c.device.vbios_version, "96.00.9F.00.01");
  assert.deepEqual(
    c.rims.map((r) => [r.kind, r.version, r.dev_root]),
    [
      ["driver", "550.90.07", false],
      ["vbios", "96.00.9F.00.01", false],
    ],
  );
  assert.equal(c.measurements.golden, 33);
  assert.equal(c.measurements.matched + c.measurements.skipped, 33);
  assert.ok(c.measurements.results.every((r) => r.verdict !== "mismatch"));
  // Device chain (BROM, ICA, identity CA) and both RIM signer chains, all GOOD.
  assert.ok(c.ocsp.length >= 7, `${c.ocsp.length} OCSP claims`);
  assert.ok(c.ocsp.every((o) => o.verdict.status === "good"), JSON.stringify(c.ocsp.map((o) => o.verdict.status)));
  for (const chain of ["device", "driver_rim", "vbios_rim"]) {
    assert.ok(c.ocsp.some((o) => o.chain === chain), chain);
  }
});

test("NVIDIA A1: hex text and raw bytes, base64 and DER read alike", { skip }, async () => {
  const raw = Uint8Array.from(Buffer.from(a1.report.trim(), "hex"));
  // The samples' OCSP answers are base64 text; give them as DER bytes here.
  const der = a1.ocsp.map((o) => Uint8Array.from(Buffer.from(o.toString("latin1"), "base64")));
  const c = await verifyGpuEvidence({ ...a1, report: raw, ocsp: der, nonce: Buffer.from(a1.nonce, "hex") }, A1_OPTIONS);
  assert.equal(c.production, true);
});

test("NVIDIA A1: WebCrypto (auto) and pure WASM give the same claims", { skip }, async () => {
  const { clearCache } = await import("@otr/verifier");
  await clearCache();
  const auto = await verifyGpuEvidence(a1, A1_OPTIONS);
  await clearCache();
  const wasm = await verifyGpuEvidence(a1, { ...A1_OPTIONS, crypto: "wasm" });
  assert.deepEqual(auto, wasm);
});

const NEGATIVE = [
  ["another nonce", () => [{ ...a1, nonce: "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e" }, A1_OPTIONS], "REPORT_NONCE_MISMATCH", "report"],
  ["at 2026-11-26 the RIM signer has expired", () => [a1, { ...A1_OPTIONS, time: "2026-11-26T00:00:00Z" }], "RIM_CHAIN", "rim"],
  ["strict OCSP freshness at 2025-06-01", () => [a1, { time: A1_OPTIONS.time }], "OCSP_NOT_YET_VALID", "ocsp"],
  [
    "report from another GPU (NVIDIA's invalid-signature sample)",
    () => [
      {
        report: sample("attestation-sdk/sample_attestation_data/gpu/hopperAttestationReportInvalidSignature.txt"),
        chain: sample("attestation-sdk/sample_attestation_data/gpu/hopperCertChain.txt"),
      },
      { time: A1_OPTIONS.time, policy: { require_rims: false, require_ocsp: false } },
    ],
    "REPORT_SIGNATURE_INVALID",
  ],
  ["driver RIM for 550.144.03", () => [{ ...a1, rims: [sample("attestation-sdk/unit-tests-testdata/NV_GPU_DRIVER_GH100_550.144.03.xml"), a1.rims[1]] }, A1_OPTIONS], "RIM_VERSION_MISMATCH"],
  ["RIM with a bad XML signature", () => [{ ...a1, rims: [sample("attestation-sdk/unit-tests-testdata/incorrect_signature_driver_rim.xml"), a1.rims[1]] }, A1_OPTIONS], "RIM_SIGNATURE_INVALID"],
  ["RIM signed by a debug CA", () => [{ ...a1, rims: [sample("attestation-sdk/unit-tests-testdata/incorrect_cert_chain_driver_rim.xml"), a1.rims[1]] }, A1_OPTIONS], "RIM_CHAIN"],
  ["RIM payload edited", () => [{ ...a1, rims: [sample("attestation-sdk/sample_rims/NV_GPU_DRIVER_GH100_535.86.09_measurement_mismatch.xml"), a1.rims[1]] }, A1_OPTIONS], "RIM_DIGEST_MISMATCH"],
  ["wrong RIM root", () => [a1, { ...A1_OPTIONS, trustAnchors: { rimRoots: sample("attestation-sdk/unit-tests-testdata/incorrect_rim_root.crt").toString() } }], "RIM_CHAIN"],
  ["no RIMs under the default policy", () => [{ ...a1, rims: [] }, A1_OPTIONS], "POLICY_MISSING_RIMS", "policy"],
  ["no OCSP under the default policy", () => [{ ...a1, ocsp: [] }, A1_OPTIONS], "POLICY_MISSING_OCSP"],
  ["two driver RIMs", () => [{ ...a1, rims: [a1.rims[0], a1.rims[0]] }, A1_OPTIONS], "RIM_DUPLICATE_KIND"],
  ["17 OCSP answers", () => [{ ...a1, ocsp: Array(17).fill(a1.ocsp[0]) }, A1_OPTIONS], "INPUT_TOO_MANY", "input"],
  ["driver not in the accepted list", () => [a1, { ...A1_OPTIONS, policy: { ...A1_OPTIONS.policy, accepted_driver_versions: ["1.0"] } }], "POLICY_DRIVER_VERSION"],
  ["VBIOS not in the accepted list", () => [a1, { ...A1_OPTIONS, policy: { ...A1_OPTIONS.policy, accepted_vbios_versions: ["96.00.00.00.00"] } }], "POLICY_VBIOS_VERSION"],
  ["report neither hex nor SPDM", () => [{ ...a1, report: "zz" }, A1_OPTIONS], "INPUT_REPORT_ENCODING"],
  ["nonce not 32 bytes", () => [{ ...a1, nonce: "abcd" }, A1_OPTIONS], "INPUT_HASH"],
  [
    "BROM certificate missing (go-nvtrust invalidCertChain)",
    () => [
      { report: sample("nvtrust/legacy-2023/attestationReport.txt"), chain: sample("go-nvtrust/invalidCertChain.txt") },
      { time: "2024-01-01T00:00:00Z", policy: { require_rims: false, require_ocsp: false } },
    ],
    "CHAIN_WRONG_LENGTH",
  ],
  [
    "A2 report against the PROD VBIOS RIM: 4 measurement mismatches",
    () => [
      {
        report: sample("nvtrust/legacy-2023/attestationReport.txt"),
        chain: sample("nvtrust/legacy-2023/gpuAkCertChain.txt"),
        rims: [sample("nvtrust/rims/Driver_RIM_test_no_gpu.swidtag"), sample("nvtrust/rims/1010_0200_882_96005E0001_PROD.swidtag")],
      },
      { time: "2024-01-01T00:00:00Z", policy: { require_ocsp: false } },
    ],
    "MEASUREMENT_MISMATCH",
    "measurement",
  ],
  [
    "FWID required, A2 has none",
    () => [
      { report: sample("nvtrust/legacy-2023/attestationReport.txt"), chain: sample("nvtrust/legacy-2023/gpuAkCertChain.txt") },
      { time: "2024-01-01T00:00:00Z", policy: { require_ocsp: false, require_rims: false, require_fwid: true } },
    ],
    "REPORT_FWID_MISSING",
  ],
];
for (const [name, make, code, stage] of NEGATIVE) {
  test(`NVIDIA negative: ${name} -> ${code}`, { skip }, async () => {
    const [ev, o] = make();
    await rejectsWith(assert, OtrError, verifyGpuEvidence(ev, o), code, stage);
    // The same code with the pure-WASM signature checks.
    await rejectsWith(assert, OtrError, verifyGpuEvidence(ev, { ...o, crypto: "wasm" }), code, stage);
  });
}

test("NVIDIA A2 (2023, no FWID): full verification at 2024-01-01 without OCSP", { skip }, async () => {
  const c = await verifyGpuEvidence(
    {
      report: sample("nvtrust/legacy-2023/attestationReport.txt"),
      chain: sample("nvtrust/legacy-2023/gpuAkCertChain.txt"),
      rims: [sample("nvtrust/rims/Driver_RIM_test_no_gpu.swidtag"), sample("nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag")],
      nonce: "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e",
    },
    { time: "2024-01-01T00:00:00Z", policy: { require_ocsp: false } },
  );
  assert.equal(c.production, true);
  assert.equal(c.device.fwid_verified, false);
  assert.equal(c.measurements.golden, 33);
});

// Shared by the Node tests: fixture folders, case.json -> options, NVIDIA sample paths, and a
// record of every error code a test saw (scripts/code-coverage.mjs reads it).
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const NPM = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(NPM, "..");
export const FIXTURES = join(REPO, "fixtures");
export const SAMPLES = process.env.OTR_NVIDIA_SAMPLES ?? resolve(REPO, "..", "shared", "nvidia-samples");
export const ARTIFACTS = join(REPO, "target", "test-artifacts");

/** Fixture folders of one area (`bundles`, `attestation`), each with its parsed case.json. */
export function cases(area) {
  const dir = join(FIXTURES, area);
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, "case.json")))
    .sort()
    .map((name) => {
      const path = join(dir, name);
      return { name, path, spec: JSON.parse(readFileSync(join(path, "case.json"), "utf8")) };
    });
}

/**
 * The options a case.json (or spec.json) describes: time, policy, its dev root(s) if it trusts
 * any (`dev_root`, or the list `dev_roots`), and the verifying keys it names (`verifying_keys`).
 */
export function caseOptions(c) {
  const options = { time: c.spec.time, policy: c.spec.policy ?? {} };
  const roots = c.spec.dev_roots ?? (c.spec.dev_root ? [c.spec.dev_root] : []);
  if (roots.length) {
    // One PEM text (it may hold several certificates).
    options.trustAnchors = { devRoots: roots.map((r) => readFileSync(join(c.path, r), "utf8")).join("") };
  }
  if (c.spec.expected_prompt !== undefined) {
    options.expectedPrompt = c.spec.expected_prompt;
  }
  if (c.spec.verifying_keys) {
    options.verifyingKeys = c.spec.verifying_keys.map((k) => readFileSync(join(c.path, k), "utf8"));
  }
  return options;
}

/**
 * fixtures/bundles/full_a1_like: the one bundle with A1-shaped evidence (RIMs, OCSP) and a real
 * Groth16 proof, described by its spec.json (two dev roots and a verifying key).
 */
export function fullCase() {
  const path = join(FIXTURES, "bundles", "full_a1_like");
  return { name: "full_a1_like", path, spec: JSON.parse(readFileSync(join(path, "spec.json"), "utf8")) };
}

/** The evidence of a full-GPU fixture (fixtures/gpu/<case>): report, chain, RIMs, OCSP, nonce. */
export function gpuEvidence(c) {
  const files = (sub) =>
    existsSync(join(c.path, sub))
      ? readdirSync(join(c.path, sub)).sort().map((f) => readFileSync(join(c.path, sub, f)))
      : [];
  return {
    ...attestationEvidence(c),
    rims: files("rims"),
    ocsp: files("ocsp"),
  };
}

/** The evidence of an attestation fixture. */
export function attestationEvidence(c) {
  const ev = {
    report: readFileSync(join(c.path, "report.hex"), "utf8"),
    chain: readFileSync(join(c.path, "chain.pem"), "utf8"),
  };
  if (c.spec.nonce) ev.nonce = c.spec.nonce;
  return ev;
}

/** NVIDIA's sample set A1 (INDEX.md), or null when ../shared/nvidia-samples is absent. */
export function nvidiaA1() {
  if (!existsSync(join(SAMPLES, "INDEX.md"))) return null;
  const S = SAMPLES;
  const ocspDir = join(S, "go-nvattest-tools/ocsp");
  return {
    report: readFileSync(join(S, "nvtrust/hopperAttestationReport.txt"), "utf8"),
    chain: readFileSync(join(S, "nvtrust/hopperCertChain.txt"), "utf8"),
    rims: [
      readFileSync(join(S, "go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml")),
      readFileSync(join(S, "go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml")),
    ],
    ocsp: readdirSync(ocspDir)
      .filter((f) => f.endsWith(".dat"))
      .sort()
      .map((f) => readFileSync(join(ocspDir, f))),
    nonce: "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb",
  };
}

export const A1_OPTIONS = { time: "2025-06-01T00:00:00Z", policy: { ocsp_freshness: "at_produced_at" } };

export const SAMPLES_ABSENT =
  `NVIDIA samples not found at ${SAMPLES} (they are not part of the repository): ` +
  "real-evidence tests skipped";

/**
 * Runs `promise`, requires it to reject with an OtrError of `code`, records the code, returns
 * the error. `OtrError` is the class of the entry point under test (ESM or CJS).
 */
export async function rejectsWith(assert, OtrError, promise, code, stage) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${code}, but it verified`);
  assert.ok(error instanceof OtrError, `expected an OtrError, got ${error}`);
  assert.ok(error instanceof Error);
  assert.equal(typeof error.code, "string");
  assert.equal(typeof error.stage, "string");
  assert.ok(error.message.length > 0);
  record(error.code);
  assert.equal(error.code, code, `${error.code}: ${error.message}`);
  if (stage) assert.equal(error.stage, stage);
  return error;
}

/** Notes that a test saw `code` (target/test-artifacts/codes-reached/<test file>.txt). */
export function record(code) {
  const dir = join(ARTIFACTS, "codes-reached");
  mkdirSync(dir, { recursive: true });
  const file = basename(process.argv[1] ?? "unknown").replace(/[^\w.-]/g, "_");
  appendFileSync(join(dir, `${file}.txt`), `${code}\n`);
}

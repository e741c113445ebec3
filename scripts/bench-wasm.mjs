#!/usr/bin/env node
// Measures the WASM verifier (npm/dist, built by scripts/npm-test.sh or scripts/build-wasm.sh +
// `npm run build` in npm/) and writes the "## WASM verifier" section of docs/BENCHMARKS.md
// (replacing it if present, keeping the other sections):
//   - wasm size, raw and gzipped (budget 400 KB gzipped);
//   - cold: a fresh Node process instantiates the module and verifies one fixture bundle
//     (budget 250 ms);
//   - warm full verification in Node of (a) a fixture bundle carrying a real Groth16 proof and
//     (b) NVIDIA A1 (report, chain, both RIMs, stapled OCSP) (budget 50 ms), with the signature
//     cache (repeat verification) and with the cache cleared before every run;
//   - Groth16 verification alone against snarkjs on fixtures/zk/snarkjs_muladd, same run.
// Usage: node scripts/bench-wasm.mjs [--only size|cold|warm|groth16] [--no-write]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NPM = join(REPO, "npm");
const DIST = join(NPM, "dist");
const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : null;
const write = !args.includes("--no-write") && !only;
const want = (k) => !only || only === k;
const CMD = "node scripts/bench-wasm.mjs";

const V = await import(pathToFileURL(join(DIST, "index.js")).href);
const H = await import(pathToFileURL(join(NPM, "test/helpers.mjs")).href);
const { bundleProof } = await import(pathToFileURL(join(NPM, "test/zk.mjs")).href);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => x.toFixed(2);
async function time(n, f, before) {
  const out = [];
  for (let i = 0; i < n; i++) {
    if (before) await before();
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return median(out);
}

const rows = [];
const notes = [];
const row = (what, value, budget, verdict, command) => rows.push({ what, value, budget, verdict, command });

// Fixture bundle `final` with the snarkjs fixture's proof attached (the proof is not covered by
// the header signature, so attaching it keeps the bundle valid).
const final = H.cases("bundles").find((c) => c.name === "final");
const ZK = join(H.FIXTURES, "zk/snarkjs_muladd");
const vkText = readFileSync(join(ZK, "verification_key.json"), "utf8");
const proofJson = JSON.parse(readFileSync(join(ZK, "proof.json"), "utf8"));
const pub = JSON.parse(readFileSync(join(ZK, "public.json"), "utf8"));

async function bundleWithProof() {
  const keyId = (await V.verifyProof({ vk: vkText, proof: proofJson, publicInputs: pub })).key_id;
  const b = JSON.parse(readFileSync(join(final.path, "bundle.json"), "utf8"));
  b.zk_proofs = [{ circuit_id: "0x" + keyId, ...bundleProof(proofJson, pub) }];
  return b;
}

if (want("size")) {
  const wasm = readFileSync(join(DIST, "otr_verifier_wasm_bg.wasm"));
  const gz = gzipSync(wasm, { level: 9 }).length;
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  row("wasm size, raw", `${kb(wasm.length)} (${wasm.length} B)`, "", "", `${CMD} --only size`);
  row("wasm size, gzip -9", `${kb(gz)} (${gz} B)`, "400 KB", gz <= 400_000 ? "within" : "OVER", `${CMD} --only size`);
}

if (want("cold")) {
  // A fresh process each time: import the package, instantiate, verify one fixture bundle.
  const script = `
    const t0 = performance.now();
    const V = await import(${JSON.stringify(pathToFileURL(join(DIST, "index.js")).href)});
    const H = await import(${JSON.stringify(pathToFileURL(join(NPM, "test/helpers.mjs")).href)});
    const { readFileSync } = await import("node:fs");
    const c = H.cases("bundles").find((x) => x.name === "final");
    const bytes = readFileSync(c.path + "/bundle.otrb");
    const opts = H.caseOptions(c);
    const t1 = performance.now();
    await V.init();
    const t2 = performance.now();
    await V.verifyBundle(bytes, opts);
    const t3 = performance.now();
    console.log(JSON.stringify({ init: t2 - t1, first: t3 - t2, total: t3 - t1, withImport: t3 - t0 }));`;
  const runs = [];
  for (let i = 0; i < 7; i++) {
    runs.push(JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })));
  }
  const total = median(runs.map((r) => r.total));
  row("cold: instantiate + first bundle verification (fresh Node process, median of 7)", `${ms(total)} ms`, "250 ms",
    total <= 250 ? "within" : "OVER", `${CMD} --only cold`);
  row("  of which instantiate (read + compile + init the .wasm)", `${ms(median(runs.map((r) => r.init)))} ms`, "", "", `${CMD} --only cold`);
  row("  of which first verification", `${ms(median(runs.map((r) => r.first)))} ms`, "", "", `${CMD} --only cold`);
}

let warmBundle;
let warmA1;
if (want("warm")) {
  const b = await bundleWithProof();
  const opts = { ...H.caseOptions(final), verifyingKeys: [vkText] };
  await V.verifyBundle(b, opts);
  const N = 30;
  warmBundle = await time(N, () => V.verifyBundle(b, opts));
  const bundleCold = await time(N, () => V.verifyBundle(b, opts), () => V.clearCache());
  row("warm: fixture bundle + one Groth16 proof, signature cache on (median of 30)", `${ms(warmBundle)} ms`, "50 ms",
    warmBundle <= 50 ? "within" : "OVER", `${CMD} --only warm`);
  row("warm: same, cache cleared before each run (every signature checked)", `${ms(bundleCold)} ms`, "50 ms",
    bundleCold <= 50 ? "within" : "OVER", `${CMD} --only warm`);
  const a1 = H.nvidiaA1();
  if (a1) {
    await V.verifyGpuEvidence(a1, H.A1_OPTIONS);
    warmA1 = await time(N, () => V.verifyGpuEvidence(a1, H.A1_OPTIONS));
    const a1Cold = await time(10, () => V.verifyGpuEvidence(a1, H.A1_OPTIONS), () => V.clearCache());
    row("warm: NVIDIA A1 full (report, chain, 2 RIMs, 7 OCSP), signature cache on", `${ms(warmA1)} ms`, "50 ms",
      warmA1 <= 50 ? "within" : "OVER", `${CMD} --only warm`);
    row("warm: NVIDIA A1 full, cache cleared before each run (24 P-384 verifications)", `${ms(a1Cold)} ms`, "50 ms",
      a1Cold <= 50 ? "within" : "OVER", `${CMD} --only warm`);
    row("estimate: A1-like bundle (A1 evidence + bundle + proof), cache on: sum of the two", `${ms(warmA1 + warmBundle)} ms`,
      "50 ms", warmA1 + warmBundle <= 50 ? "within" : "OVER", `${CMD} --only warm`);
    row("estimate: the same, every signature checked: sum", `${ms(a1Cold + bundleCold)} ms`, "50 ms",
      a1Cold + bundleCold <= 50 ? "within" : "OVER", `${CMD} --only warm`);
  } else {
    notes.push(`NVIDIA A1 rows missing: ${H.SAMPLES_ABSENT}.`);
  }
}

if (want("groth16")) {
  const require = createRequire(join(NPM, "package.json"));
  const snarkjs = require("snarkjs");
  const vk = JSON.parse(vkText);
  const N = 30;
  // Warm both first (snarkjs builds its BN254 curve once; ours instantiates once).
  await V.verifyProof({ vk: vkText, proof: proofJson, publicInputs: pub });
  if (!(await snarkjs.groth16.verify(vk, pub, proofJson))) throw new Error("snarkjs rejects the fixture");
  const ours = await time(N, () => V.verifyProof({ vk: vkText, proof: proofJson, publicInputs: pub }));
  const theirs = await time(N, () => snarkjs.groth16.verify(vk, pub, proofJson));
  row("Groth16 verify (parse key + proof, prepare, pairing check), ours (WASM)", `${ms(ours)} ms`, "", "", `${CMD} --only groth16`);
  const snarkVersion = JSON.parse(readFileSync(join(NPM, "node_modules/snarkjs/package.json"), "utf8")).version;
  row(`Groth16 verify, snarkjs ${snarkVersion} (same key, proof and inputs)`, `${ms(theirs)} ms`,
    "", "", `${CMD} --only groth16`);
  row("ratio snarkjs / ours", `${(theirs / ours).toFixed(2)}x`, "ours faster", theirs > ours ? "yes" : "NO", `${CMD} --only groth16`);
  const curve = globalThis.curve_bn128;
  if (curve?.terminate) await curve.terminate();
}

const machine = `${cpus()[0]?.model ?? "?"}, ${cpus().length} cores (load average ${loadavg()[0].toFixed(2)} when run), Node ${process.version}`;
const table = [
  "| measurement | value | budget | verdict | command |",
  "|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.what} | ${r.value} | ${r.budget} | ${r.verdict} | \`${r.command}\` |`),
].join("\n");
console.log(table);
for (const n of notes) console.log(n);

if (write) {
  const section = `## WASM verifier (issue: WASM verifier and npm package)

\`@otr/verifier\` (npm/) running the WebAssembly build of otr-core (verifier-wasm/) in Node; medians.
Machine: ${machine}; shared with other builds, so timings are noisy.
Build: \`scripts/build-wasm.sh\` (cargo profile \`wasm\`: LTO, opt-level z except the curve crates at 3,
then \`wasm-opt -Oz\`) and \`npm run build\` in npm/ (\`scripts/npm-test.sh\` does both). Reproduce
all rows: \`${CMD}\` (rewrites this section); one group: the command in its row (prints, does not write).

${table}

The fixture bundle is \`fixtures/bundles/final\` (dev evidence: report and 5-certificate chain, no
RIMs or OCSP; node signature; two inclusion proofs; finality) with the snarkjs fixture's proof attached.
"Signature cache on" is the package's default: a P-384 signature already verified (same key, message
and signature bytes) is not verified again, so a repeat verification costs the parsing, the report
signature... only if the report changes, and every time and policy check; "cache cleared" checks every
signature with the pure-Rust \`p384\` crate compiled to WebAssembly. No real bundle can carry NVIDIA's
A1 evidence (its nonce is not a header hash), so the A1-like bundle is estimated as the sum of the two
measured parts.${notes.length ? "\n\n" + notes.join("\n") : ""}
`;
  const path = join(REPO, "docs/BENCHMARKS.md");
  const text = readFileSync(path, "utf8");
  const start = text.indexOf("\n## WASM verifier");
  let out;
  if (start < 0) {
    out = text.trimEnd() + "\n\n" + section;
  } else {
    const next = text.indexOf("\n## ", start + 1);
    out = text.slice(0, start + 1) + section + (next < 0 ? "" : "\n" + text.slice(next + 1));
  }
  writeFileSync(path, out);
  console.log(`wrote the "## WASM verifier" section of ${path}`);
}
process.exit(0);

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
//   - Groth16 verification of a real spot-check unit proof (fixtures/zk/matvec_r4).
//   - the light client: a full stapled inclusion (fixtures/bundles/stapled: 64 headers, the
//     account proof, 4 storage proofs) with verifyChainProof, and the extra cost of a trusted
//     checkpoint in verifyBundle (goal under 5 ms).
//   - warm full verification of one real bundle of the budget's shape (A1-shaped dev evidence
//     with RIMs and OCSP, inclusion, finality, one Groth16 proof: fixtures/bundles/full_a1_like).
// Usage: node scripts/bench-wasm.mjs [--only size|cold|warm|full|groth16|matvec|lightclient] [--no-write]
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, homedir, loadavg } from "node:os";
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

if (want("warm")) {
  const b = await bundleWithProof();
  const a1 = H.nvidiaA1();
  const N = 30;
  const a1Every = {};
  const a1Cached = {};
  for (const [crypto, label] of [
    ["auto", "WebCrypto P-384 (default)"],
    ["wasm", "pure-Rust p384 in WASM"],
  ]) {
    const opts = { ...H.caseOptions(final), verifyingKeys: [vkText], crypto };
    await V.verifyBundle(b, opts);
    const cached = await time(N, () => V.verifyBundle(b, opts));
    const every = await time(N, () => V.verifyBundle(b, opts), () => V.clearCache());
    row(`warm: fixture bundle + one Groth16 proof, ${label}, every signature checked`, `${ms(every)} ms`, "50 ms",
      every <= 50 ? "within" : "OVER", `${CMD} --only warm`);
    row(`warm: same, ${label}, signatures cached from the previous run`, `${ms(cached)} ms`, "", "", `${CMD} --only warm`);
    if (a1) {
      const ao = { ...H.A1_OPTIONS, crypto };
      await V.verifyGpuEvidence(a1, ao);
      const a1CachedMs = await time(N, () => V.verifyGpuEvidence(a1, ao));
      const a1EveryMs = await time(crypto === "wasm" ? 10 : N, () => V.verifyGpuEvidence(a1, ao), () => V.clearCache());
      row(`warm: NVIDIA A1 full (report, chain, 2 RIMs, 7 OCSP), ${label}, every signature checked`, `${ms(a1EveryMs)} ms`,
        "50 ms", a1EveryMs <= 50 ? "within" : "OVER", `${CMD} --only warm`);
      row(`warm: same, ${label}, signatures cached from the previous run`, `${ms(a1CachedMs)} ms`, "", "", `${CMD} --only warm`);
      a1Every[crypto] = a1EveryMs;
      a1Cached[crypto] = a1CachedMs;
    }
  }
  // NVIDIA's own Python verifier (nv-local-gpu-verifier, installed by scripts/nvidia-ref-setup.sh)
  // on the same evidence, in the same run.
  const venvPy = join(process.env.OTR_CACHE ?? join(homedir(), ".cache/otr"), "nvref-venv/bin/python");
  if (a1 && existsSync(venvPy)) {
    const S = H.SAMPLES;
    const ref = JSON.parse(execFileSync(venvPy, [
      join(REPO, "scripts/nvidia-ref-verify.py"),
      "--report", join(S, "nvtrust/hopperAttestationReport.txt"),
      "--chain", join(S, "nvtrust/hopperCertChain.txt"),
      "--driver-rim", join(S, "go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml"),
      "--vbios-rim", join(S, "go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml"),
      "--nonce", a1.nonce, "--time", H.A1_OPTIONS.time,
      "--ocsp-dir", join(S, "go-nvattest-tools/ocsp"), "--json", "--repeat", "30",
    ], { encoding: "utf8" }));
    if (!ref.verdict) throw new Error("NVIDIA's verifier must accept A1");
    const first = ref.in_process_seconds_first * 1e3;
    const later = ref.in_process_seconds_mean_excluding_first * 1e3;
    row("NVIDIA's Python verifier (nv-local-gpu-verifier 2.7.3), A1, in-process first run", `${ms(first)} ms`, "", "",
      `${CMD} --only warm`);
    row("NVIDIA's Python verifier, A1, later runs (mean of 29)", `${ms(later)} ms`, "", "", `${CMD} --only warm`);
    row("ratio NVIDIA Python (first run) / ours (WebCrypto, every signature checked)", `${(first / a1Every.auto).toFixed(1)}x`,
      "ours faster", first > a1Every.auto ? "yes" : "NO", `${CMD} --only warm`);
    row("ratio NVIDIA Python (later runs) / ours (WebCrypto, signatures cached)", `${(later / a1Cached.auto).toFixed(1)}x`,
      "ours faster", later > a1Cached.auto ? "yes" : "NO", `${CMD} --only warm`);
  } else if (a1) {
    notes.push(`NVIDIA's Python verifier not installed at ${venvPy} (scripts/nvidia-ref-setup.sh): no comparison rows.`);
  }
  if (!a1) notes.push(`NVIDIA A1 rows missing: ${H.SAMPLES_ABSENT}.`);
}

if (want("full")) {
  // One real bundle of the budget's shape: fixtures/bundles/full_a1_like (A1-shaped dev
  // evidence with both RIMs and 6 OCSP answers, nonce = header hash, node signature, both
  // inclusion proofs, finality, one Groth16 spot-check proof of the matvec circuit).
  const fc = H.fullCase();
  const bytes = new Uint8Array(readFileSync(join(fc.path, "bundle.otrb")));
  const N = 30;
  for (const [crypto, label] of [
    ["auto", "WebCrypto P-384 (default)"],
    ["wasm", "pure-Rust p384 in WASM"],
  ]) {
    const opts = { ...H.caseOptions(fc), crypto };
    const c = await V.verifyBundle(bytes, opts);
    if (c.finality.state !== "final" || c.proofs.length !== 1 || c.gpu.ocsp.length !== 9 || c.gpu.rims.length !== 2) {
      throw new Error("full_a1_like must verify with its RIMs, OCSP answers and proof");
    }
    const cached = await time(N, () => V.verifyBundle(bytes, opts));
    const every = await time(crypto === "wasm" ? 10 : N, () => V.verifyBundle(bytes, opts), () => V.clearCache());
    row(`warm: full A1-like bundle (fixtures/bundles/full_a1_like: report, 5-cert chain, 2 RIMs, 6 OCSP, inclusion, finality, one Groth16 proof), ${label}, every signature checked`,
      `${ms(every)} ms`, "50 ms", every <= 50 ? "within" : "OVER", `${CMD} --only full`);
    row(`warm: same, ${label}, signatures cached from the previous run`, `${ms(cached)} ms`, "", "", `${CMD} --only full`);
  }
  // How many P-384 signatures one verification checks (WebCrypto calls, caches cleared),
  // against NVIDIA's A1 sample: the shapes match when the counts do.
  const subtle = globalThis.crypto.subtle;
  const verify = subtle.verify;
  let n = 0;
  subtle.verify = function (...a) {
    n++;
    return verify.apply(this, a);
  };
  const count = async (f) => {
    await V.clearCache();
    n = 0;
    await f();
    return n;
  };
  const ours = await count(() => V.verifyBundle(bytes, H.caseOptions(fc)));
  const a1 = H.nvidiaA1();
  const theirs = a1 ? await count(() => V.verifyGpuEvidence(a1, H.A1_OPTIONS)) : null;
  subtle.verify = verify;
  row("P-384 signatures checked in one verification (WebCrypto calls): full_a1_like bundle / NVIDIA A1 evidence",
    `${ours} / ${theirs ?? "n/a"}`, "", "", `${CMD} --only full`);
}

if (want("groth16")) {
  const require = createRequire(join(NPM, "package.json"));
  const snarkjs = require("snarkjs");
  const vk = JSON.parse(vkText);
  const N = 30;
  // Warm both first (snarkjs builds its BN254 curve once; ours instantiates once); medians of 30.
  await V.verifyProof({ vk: vkText, proof: proofJson, publicInputs: pub });
  if (!(await snarkjs.groth16.verify(vk, pub, proofJson))) throw new Error("snarkjs rejects the fixture");
  // Interleaved, so that both see the same machine load.
  const [a, b, c] = [[], [], []];
  for (let i = 0; i < N; i++) {
    await V.clearCache();
    a.push(await time(1, () => V.verifyProof({ vk: vkText, proof: proofJson, publicInputs: pub })));
    b.push(await time(1, () => V.verifyProof({ vk: vkText, proof: proofJson, publicInputs: pub })));
    c.push(await time(1, () => snarkjs.groth16.verify(vk, pub, proofJson)));
  }
  const [ours, oursPrepared, theirs] = [median(a), median(b), median(c)];
  row("Groth16 verify, ours (WASM): parse key + proof, prepare key, pairing check", `${ms(ours)} ms`, "", "", `${CMD} --only groth16`);
  row("Groth16 verify, ours, key already prepared (the default on repeat: keys are kept)", `${ms(oursPrepared)} ms`, "", "",
    `${CMD} --only groth16`);
  const snarkVersion = JSON.parse(readFileSync(join(NPM, "node_modules/snarkjs/package.json"), "utf8")).version;
  row(`Groth16 verify, snarkjs ${snarkVersion} (same key, proof and inputs)`, `${ms(theirs)} ms`,
    "", "", `${CMD} --only groth16`);
  row("ratio snarkjs / ours (both parsing and preparing the key)", `${(theirs / ours).toFixed(2)}x`, "ours faster",
    theirs > ours ? "yes" : "NO", `${CMD} --only groth16`);
  const curve = globalThis.curve_bn128;
  if (curve?.terminate) await curve.terminate();
}

if (want("matvec")) {
  // A real spot-check proof of this project's circuit (one R = 4 unit of the 640 x 2048
  // matrix-vector product, 4 public inputs): fixtures/zk/matvec_r4.
  const MV = join(H.FIXTURES, "zk/matvec_r4");
  const mvVk = readFileSync(join(MV, "verification_key.json"), "utf8");
  const mvProof = JSON.parse(readFileSync(join(MV, "proof.json"), "utf8"));
  const mvPub = JSON.parse(readFileSync(join(MV, "public.json"), "utf8"));
  const args = { vk: mvVk, proof: mvProof, publicInputs: mvPub };
  await V.verifyProof(args);
  const [a, b] = [[], []];
  for (let i = 0; i < 30; i++) {
    await V.clearCache();
    a.push(await time(1, () => V.verifyProof(args)));
    b.push(await time(1, () => V.verifyProof(args)));
  }
  const [cold, prepared] = [median(a), median(b)];
  row("Groth16 verify of a spot-check unit proof (R = 4, 4 public inputs; fixtures/zk/matvec_r4), ours (WASM): parse key + proof, prepare key, pairing check",
    `${ms(cold)} ms`, "10 ms", cold <= 10 ? "within" : "OVER", `${CMD} --only matvec`);
  row("the same, key already prepared", `${ms(prepared)} ms`, "10 ms", prepared <= 10 ? "within" : "OVER",
    `${CMD} --only matvec`);
}

if (want("lightclient")) {
  const st = H.cases("bundles").find((c) => c.name === "stapled");
  const ch = st.spec.chain;
  const b = JSON.parse(readFileSync(join(st.path, "bundle.json"), "utf8"));
  const trustedCheckpoint = {
    chainId: ch.chain_id,
    blockHash: ch.trusted_checkpoint,
    settlement: ch.settlement,
    challengeWindowSecs: ch.challenge_window_secs,
  };
  const text = JSON.stringify(b.chain_proof);
  const args = { chainProof: text, batchIndex: b.rollup.batch_index, trustedCheckpoint };
  const headers = b.chain_proof.headers.length;
  const c = await V.verifyChainProof(args);
  if (c.confirmations !== headers - 1) throw new Error("the stapled fixture must verify");
  const N = 200;
  const full = await time(N, () => V.verifyChainProof(args));
  row(`light client: full stapled inclusion (${headers} headers + account proof + ${b.chain_proof.storage.length} storage proofs; JSON text in, claims out), verifyChainProof`,
    `${ms(full)} ms`, "5 ms", full <= 5 ? "within" : "OVER", `${CMD} --only lightclient`);
  // The same inside a bundle: with and without the trusted checkpoint (signatures cached, so the
  // difference is the light-client section).
  const opts = H.caseOptions(st);
  const withCp = { ...opts, trustedCheckpoint };
  await V.verifyBundle(b, withCp);
  const [a, z] = [[], []];
  for (let i = 0; i < 60; i++) {
    a.push(await time(1, () => V.verifyBundle(b, withCp)));
    z.push(await time(1, () => V.verifyBundle(b, opts)));
  }
  const [yes, no] = [median(a), median(z)];
  row("light client: verifyBundle of the stapled bundle with a trusted checkpoint (signatures cached)", `${ms(yes)} ms`, "", "",
    `${CMD} --only lightclient`);
  row("  the same without a checkpoint (section reported unverified)", `${ms(no)} ms`, "", "", `${CMD} --only lightclient`);
  row("  difference: the light-client section inside a bundle", `${ms(yes - no)} ms`, "5 ms", yes - no <= 5 ? "within" : "OVER",
    `${CMD} --only lightclient`);
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
"Every signature checked" clears the package's caches (verified signatures, prepared verifying keys)
before each run; "cached" repeats the same verification, so only parsing, hashing, the Groth16 pairing
check and the time and policy checks run.
WebCrypto (the default, \`crypto: "auto"\`): a first pass lists the P-384 checks, Node's WebCrypto
(OpenSSL) confirms them, the second pass verifies (verifier-wasm/src/sigs.rs); \`crypto: "wasm"\` uses
the pure-Rust \`p384\` crate compiled to WebAssembly (32-bit limbs), several times slower than native.
Cold uses the default. No real bundle can carry NVIDIA's A1 evidence (its nonce is not a header hash),
so the full-budget rows use \`fixtures/bundles/full_a1_like\` (made by \`otr dev fixtures\`): the A1 shape
signed by the dev hierarchies (report, 5-certificate chain, driver and VBIOS RIMs with 4-certificate
KeyInfo chains, 6 OCSP answers giving 9 OCSP checks; A1 has 7 answers), the GPU nonce bound to the
header hash, node signature, both inclusion proofs, finality and one Groth16 proof of the spot-check
circuit (fixtures/zk/matvec_r4); no light-client section.${notes.length ? "\n\n" + notes.join("\n") : ""}
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

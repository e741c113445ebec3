// Which error codes of src/codes.ts the tests reach: codes seen by the Node tests (recorded in
// target/test-artifacts/codes-reached/ by test/helpers.mjs) plus codes the Rust tests assert
// (string literals in the Rust test files) or the fixtures expect (case.json). Prints the ones
// reached by neither. Then compares the codes the Node tests do not reach with the list in
// npm/README.md (between the `unreached:start` and `unreached:end` markers, each with its
// reason): exits 1 when a code is unreached and not listed, or listed and reached. Without
// NVIDIA's samples (real-evidence tests skipped) the comparison is printed, not enforced.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, FIXTURES, NPM, REPO, SAMPLES } from "../test/helpers.mjs";

const all = [...readFileSync(join(NPM, "src/codes.ts"), "utf8").matchAll(/^ {2}"([A-Z0-9_]+)",$/gm)].map((m) => m[1]);

const js = new Set();
const dir = join(ARTIFACTS, "codes-reached");
if (existsSync(dir)) {
  for (const f of readdirSync(dir)) for (const c of readFileSync(join(dir, f), "utf8").split("\n")) if (c) js.add(c);
}

function walk(d, out = []) {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}
const isRustTest = (p) =>
  p.endsWith(".rs") && (/\/tests\//.test(p) || /(^|\/)tests?(_\w+)?\.rs$/.test(p) || /_tests\.rs$/.test(p));
const rust = new Set();
for (const root of ["core", "prover-node", "verifier-wasm"]) {
  for (const p of walk(join(REPO, root)).filter(isRustTest)) {
    for (const m of readFileSync(p, "utf8").matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)) rust.add(m[1]);
  }
}
for (const p of walk(FIXTURES).filter((p) => p.endsWith("case.json"))) {
  const expected = JSON.parse(readFileSync(p, "utf8")).expected;
  if (expected) rust.add(expected);
}

// Codes the README's list names as what is given instead of an unreachable one.
const REACHED_ELSEWHERE_NAMED = new Set([
  "BUNDLE_CHAIN_STATUS_WITHOUT_ROLLUP", "BUNDLE_JSON_INVALID", "BUNDLE_TRAILING_BYTES",
  "BUNDLE_COUNT_EXCEEDED", "BUNDLE_LENGTH_EXCEEDED", "LIGHT_SLOT_MISMATCH",
  "OCSP_RESPONDER_UNAUTHORIZED", "POLICY_MISSING_OCSP", "LIGHT_RLP_NON_CANONICAL",
]);

const unreached = all.filter((c) => !js.has(c) && !rust.has(c));
const jsOnly = all.filter((c) => js.has(c));
console.log(`error codes: ${all.length}; reached by the Node tests: ${jsOnly.length}; ` +
  `by Node or Rust tests: ${all.length - unreached.length}; by neither: ${unreached.length}`);
for (const c of unreached) console.log(`  unreached: ${c}`);
writeFileSync(join(ARTIFACTS, "codes-unreached.txt"), unreached.join("\n") + "\n");

// The package's own tests against the README's list of codes they cannot reach.
const readme = readFileSync(join(NPM, "README.md"), "utf8");
const block = readme.slice(readme.indexOf("<!-- unreached:start -->"), readme.indexOf("<!-- unreached:end -->"));
const listed = new Set([...block.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((m) => m[1]));
// Codes the README names only as where a refusal happens instead (reached by the tests).
const nodeUnreached = all.filter((c) => !js.has(c));
const unlisted = nodeUnreached.filter((c) => !listed.has(c));
const stale = [...listed].filter((c) => all.includes(c) && js.has(c) && !REACHED_ELSEWHERE_NAMED.has(c));
const unknown = [...listed].filter((c) => !all.includes(c));
console.log(`Node tests: ${all.length - nodeUnreached.length} of ${all.length} codes reached; ` +
  `${nodeUnreached.filter((c) => listed.has(c)).length} not reached and explained in npm/README.md`);
for (const c of unlisted) console.log(`  not reached by the Node tests and not explained in npm/README.md: ${c}`);
for (const c of stale) console.log(`  listed in npm/README.md as not reached, but reached: ${c}`);
for (const c of unknown) console.log(`  listed in npm/README.md but not an error code: ${c}`);
if (unlisted.length || stale.length || unknown.length) {
  if (existsSync(join(SAMPLES, "INDEX.md"))) process.exit(1);
  console.log("  (NVIDIA samples absent: not enforced)");
}

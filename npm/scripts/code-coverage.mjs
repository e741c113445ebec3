// Which error codes of src/codes.ts the tests reach: codes seen by the Node tests (recorded in
// target/test-artifacts/codes-reached/ by test/helpers.mjs) plus codes the Rust tests assert
// (string literals in the Rust test files) or the fixtures expect (case.json). Prints the ones
// reached by neither; npm/README.md lists them. Informational: exits 0.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, FIXTURES, NPM, REPO } from "../test/helpers.mjs";

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

const unreached = all.filter((c) => !js.has(c) && !rust.has(c));
const jsOnly = all.filter((c) => js.has(c));
console.log(`error codes: ${all.length}; reached by the Node tests: ${jsOnly.length}; ` +
  `by Node or Rust tests: ${all.length - unreached.length}; by neither: ${unreached.length}`);
for (const c of unreached) console.log(`  unreached: ${c}`);
writeFileSync(join(ARTIFACTS, "codes-unreached.txt"), unreached.join("\n") + "\n");

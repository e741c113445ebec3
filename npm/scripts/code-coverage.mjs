// Checks that the Node tests reach every error code the package can throw: `ERROR_CODES` of
// src/codes.ts (scripts/gen-error-codes.py derives it from the Rust sources), against the codes
// the tests saw (recorded in target/test-artifacts/codes-reached/ by test/helpers.mjs). Exits 1
// when a code of `ERROR_CODES` is unreached, when a test saw one of `CORE_ONLY_CODES` (the core's
// codes the package is said never to throw: the generator's reasons are wrong), or when a test
// saw a code in neither list (src/codes.ts is stale).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, NPM } from "../test/helpers.mjs";

const source = readFileSync(join(NPM, "src/codes.ts"), "utf8");
function list(name) {
  const m = source.match(new RegExp(`export const ${name} = \\[\\n([^\\]]*)\\] as const;`));
  if (!m) throw new Error(`src/codes.ts has no ${name} list`);
  return [...m[1].matchAll(/^ {2}"([A-Z0-9_]+)",$/gm)].map((x) => x[1]);
}
const thrown = list("ERROR_CODES");
const coreOnly = list("CORE_ONLY_CODES");

const seen = new Set();
const dir = join(ARTIFACTS, "codes-reached");
if (existsSync(dir)) {
  for (const f of readdirSync(dir)) for (const c of readFileSync(join(dir, f), "utf8").split("\n")) if (c) seen.add(c);
}
seen.delete("ok"); // what the tests record for a verified case

const unreached = thrown.filter((c) => !seen.has(c));
const wronglyCoreOnly = coreOnly.filter((c) => seen.has(c));
const unknown = [...seen].filter((c) => !thrown.includes(c) && !coreOnly.includes(c)).sort();
writeFileSync(join(ARTIFACTS, "codes-unreached.txt"), unreached.map((c) => `${c}\n`).join(""));

console.log(
  `error codes the package throws: ${thrown.length}; reached by the Node tests: ` +
    `${thrown.length - unreached.length}; unreached: ${unreached.length} ` +
    `(${coreOnly.length} more codes of the core are never thrown by the package: npm/README.md)`,
);
for (const c of unreached) console.log(`  not reached by the Node tests: ${c}`);
for (const c of wronglyCoreOnly) console.log(`  listed as never thrown by the package, but a test saw it: ${c}`);
for (const c of unknown) console.log(`  seen by a test but in neither list of src/codes.ts: ${c}`);
if (unreached.length || wronglyCoreOnly.length || unknown.length) process.exit(1);

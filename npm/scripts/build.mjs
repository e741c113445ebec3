// Builds dist/ from src/ and the wasm-bindgen output in wasm/ (made by scripts/build-wasm.sh):
//   dist/index.js   ES module (Node ESM, browsers, workers, bundlers)
//   dist/index.cjs  CommonJS (Node require)
//   dist/*.d.ts, dist/*.d.cts  types for both
//   dist/otr_verifier_wasm_bg.wasm  the verifier, loaded by both from next to them
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wasmDir = join(root, "wasm");
const dist = join(root, "dist");
const WASM = "otr_verifier_wasm_bg.wasm";

if (!existsSync(join(wasmDir, WASM))) {
  console.error("build: wasm/ is missing: run scripts/build-wasm.sh from the repository root first");
  process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const common = {
  entryPoints: [join(root, "src/index.ts")],
  bundle: true,
  platform: "neutral",
  target: "es2020",
  external: ["node:fs/promises"],
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};
await esbuild.build({
  ...common,
  format: "esm",
  outfile: join(dist, "index.js"),
  define: { __OTR_CJS__: "false" },
});
await esbuild.build({
  ...common,
  format: "cjs",
  outfile: join(dist, "index.cjs"),
  define: { __OTR_CJS__: "true", "import.meta.url": "undefined" },
});
copyFileSync(join(wasmDir, WASM), join(dist, WASM));

// Types: tsc writes dist/*.d.ts; the .d.cts copies point at each other for CommonJS users.
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], {
  stdio: "inherit",
});
for (const f of readdirSync(dist).filter((f) => f.endsWith(".d.ts"))) {
  const text = readFileSync(join(dist, f), "utf8").replace(/from "(\.\/[\w-]+)\.js"/g, 'from "$1.cjs"');
  writeFileSync(join(dist, f.replace(/\.d\.ts$/, ".d.cts")), text);
}
console.error(`build: wrote ${readdirSync(dist).join(" ")}`);

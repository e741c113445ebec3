// The engine built for wasm32 (engine/wasm, simd128 and scalar kernels) against the native build,
// on both tiny fixture models: same GGUF bytes, same prompt, same sampling -> the same prompt
// tokens, generated tokens, weights root, tokenizer hash, trace root and trace step count.
// The native values come from the native `otr-engine` binary run in this same test (AVX2 with
// 2 threads, and scalar with 1 thread), and are also checked against the committed manifests.
//
//   OTR_ENGINE_BIN=target/debug/otr-engine OTR_ENGINE_WASM_PKG=target/engine-wasm/pkg \
//     node --test engine/wasm/test.mjs
// (scripts/test-engine-wasm.sh builds both and runs this.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = resolve(root, process.env.OTR_ENGINE_BIN ?? "target/debug/otr-engine");
const pkg = resolve(root, process.env.OTR_ENGINE_WASM_PKG ?? "target/engine-wasm/pkg");
const wasm = createRequire(import.meta.url)(join(pkg, "otr_engine_wasm.js"));

const work = mkdtempSync(join(tmpdir(), "otr-engine-wasm-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

const FIELDS = ["prompt_tokens", "tokens", "finish_reason", "weights_root", "tokenizer_hash",
  "trace_root", "trace_steps"];

function native(gguf, prompt, s, extra) {
  const args = ["generate", "--model", gguf, "--prompt", prompt, "--json",
    "--max-tokens", String(s.max_tokens), "--seed", String(s.seed),
    "--temperature-milli", String(s.temperature_milli), "--top-k", String(s.top_k),
    "--top-p-milli", String(s.top_p_milli), "--cache-dir", join(work, "cache"), ...extra];
  const raw = execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  // The command line reports prompt_tokens as a count; the ids are checked on the wasm side
  // against the manifest.
  return JSON.parse(raw);
}

function inWasm(bytes, prompt, s, kernel) {
  const out = JSON.parse(wasm.generate(bytes, prompt, s.max_tokens, s.temperature_milli, s.top_k,
    s.top_p_milli, BigInt(s.seed), kernel));
  assert.equal(out.error, undefined, `wasm ${kernel}: ${out.error}: ${out.message}`);
  return out;
}

const GREEDY = { max_tokens: 8, temperature_milli: 0, top_k: 0, top_p_milli: 1000, seed: 0 };

for (const name of ["tiny-gemma3", "tiny-llama"]) {
  const manifest = JSON.parse(readFileSync(join(root, "fixtures/models", name, "manifest.json"), "utf8"));
  const bytes = wasm.fixture_gguf(name);
  const gguf = join(work, `${name}.gguf`);
  writeFileSync(gguf, bytes);

  test(`${name}: the wasm build of the generator makes the manifest's GGUF`, () => {
    assert.ok(bytes.length > 0);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), manifest.gguf_sha256);
  });

  const sampled = {
    max_tokens: manifest.sampled.max_tokens, temperature_milli: manifest.sampled.temperature_milli,
    top_k: manifest.sampled.top_k, top_p_milli: manifest.sampled.top_p_milli,
    seed: manifest.sampled.seed,
  };
  const cases = [
    ["greedy", manifest.prompt, { ...GREEDY, max_tokens: manifest.greedy.max_tokens }, manifest.greedy],
    ["sampled", manifest.prompt, sampled, manifest.sampled],
    // Longer than the sliding window, special tokens in the text, 24 tokens.
    ["chat greedy 24", "<start_of_turn>user\nhello world, the red cat<end_of_turn>\n<start_of_turn>model\n",
      { ...GREEDY, max_tokens: 24 }, null],
    ["sampled 24 seed 99", "we and the sun and the moon", { max_tokens: 24, temperature_milli: 1200,
      top_k: 0, top_p_milli: 1000, seed: 99 }, null],
  ];
  for (const [label, prompt, s, expected] of cases) {
    test(`${name} ${label}: wasm (simd128, scalar) equals native (AVX2 x2 threads, scalar x1)`, () => {
      assert.equal(wasm.has_simd128(), true, "the module is built with +simd128");
      const nat = native(gguf, prompt, s, ["--threads", "2"]);
      const natScalar = native(gguf, prompt, s, ["--threads", "1", "--scalar"]);
      const simd = inWasm(bytes, prompt, s, "simd128");
      const scalar = inWasm(bytes, prompt, s, "scalar");
      assert.equal(simd.kernel, "Simd128");
      assert.equal(scalar.kernel, "Scalar");
      for (const w of [simd, scalar]) {
        assert.equal(nat.prompt_tokens, w.prompt_tokens.length, `${w.kernel}: prompt length`);
        for (const f of FIELDS.slice(1)) {
          assert.deepEqual(w[f], nat[f], `${w.kernel}: ${f}`);
          assert.deepEqual(natScalar[f], nat[f], `native scalar: ${f}`);
        }
      }
      assert.ok(nat.tokens.length > 0 && nat.trace_steps > 0);
      assert.equal(simd.weights_root, manifest.weights_root);
      assert.equal(simd.tokenizer_hash, manifest.tokenizer_hash);
      if (expected) {
        assert.deepEqual(simd.prompt_tokens, manifest.prompt_tokens);
        assert.deepEqual(simd.tokens, expected.tokens);
        assert.equal(simd.trace_root, expected.trace_root);
        assert.equal(simd.trace_steps, expected.trace_steps);
      }
    });
  }

  test(`${name}: a truncated GGUF is a typed error in wasm, not a trap`, () => {
    const out = JSON.parse(wasm.generate(bytes.subarray(0, 1000), manifest.prompt, 4, 0, 0, 1000, 0n, "scalar"));
    assert.equal(out.error, "GGUF_FORMAT");
  });
}

#!/usr/bin/env bash
# Builds the WebAssembly verifier (verifier-wasm/) and its wasm-bindgen glue into npm/wasm/:
#   cargo (wasm32-unknown-unknown, profile `wasm`: release + LTO) -> wasm-bindgen --target web
#   (wasm-opt -Oz first when binaryen is installed; optional, the package works without it).
# Needs wasm-bindgen-cli of exactly the version verifier-wasm pins (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'build-wasm: %s\n' "$*" >&2; }

pinned=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' verifier-wasm/Cargo.toml)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$pinned" ]; then
    say "wasm-bindgen $pinned is needed (found: ${have:-none}); run scripts/setup.sh"
    exit 1
fi

cargo build -p otr-verifier-wasm --target wasm32-unknown-unknown --profile wasm --locked
raw=target/wasm32-unknown-unknown/wasm/otr_verifier_wasm.wasm
if command -v wasm-opt >/dev/null; then
    # Before wasm-bindgen, not after: binaryen 108 (Debian bookworm) mislabels the externref
    # table that wasm-bindgen adds, and the module then fails to instantiate.
    # Rust's wasm32 target enables these post-MVP features by default.
    wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
        "$raw" -o target/wasm32-unknown-unknown/wasm/otr_verifier_wasm.opt.wasm
    say "wasm-opt -Oz: $(stat -c %s "$raw") -> $(stat -c %s target/wasm32-unknown-unknown/wasm/otr_verifier_wasm.opt.wasm) bytes"
    raw=target/wasm32-unknown-unknown/wasm/otr_verifier_wasm.opt.wasm
else
    say "wasm-opt not found (Debian package binaryen): keeping the unoptimised module"
fi
out=npm/wasm
rm -rf "$out"
mkdir -p "$out"
# --target web: an ES module whose init takes the module bytes, a URL or a compiled module; the
# npm facade (npm/src/index.ts) feeds it in Node (ESM and CommonJS), browsers and workers.
wasm-bindgen --target web --out-dir "$out" --out-name otr_verifier_wasm "$raw"
wasm="$out/otr_verifier_wasm_bg.wasm"
say "wrote $out/ ($(stat -c %s "$wasm") bytes of wasm, $(gzip -9c "$wasm" | wc -c) gzipped)"

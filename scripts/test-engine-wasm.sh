#!/usr/bin/env bash
# The engine built for wasm32-unknown-unknown (engine/wasm: simd128 and scalar kernels) runs the
# tiny fixture models under Node and must give the same tokens, weights root and trace root as
# the native build run in the same test (engine/wasm/test.mjs). About a minute of build from
# scratch (no LTO, opt-level 1), seconds of test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf 'test-engine-wasm: %s\n' "$*" >&2; }

pinned=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' verifier-wasm/Cargo.toml)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$pinned" ]; then
    say "wasm-bindgen $pinned is needed (found: ${have:-none}); run scripts/setup.sh"
    exit 1
fi

cargo build -p otr-engine --bin otr-engine --locked
# Its own workspace and lock file; built into target/engine-wasm so that its +simd128 flags do
# not invalidate the other wasm32 builds.
(cd engine/wasm && CARGO_TARGET_DIR="$root/target/engine-wasm" cargo build --release --locked)
raw=target/engine-wasm/wasm32-unknown-unknown/release/otr_engine_wasm.wasm
rm -rf target/engine-wasm/pkg
wasm-bindgen --target nodejs --out-dir target/engine-wasm/pkg --out-name otr_engine_wasm "$raw"
say "module: $(stat -c %s target/engine-wasm/pkg/otr_engine_wasm_bg.wasm) bytes"
OTR_ENGINE_BIN=target/debug/otr-engine OTR_ENGINE_WASM_PKG=target/engine-wasm/pkg \
    node --test engine/wasm/test.mjs

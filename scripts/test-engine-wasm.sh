#!/usr/bin/env bash
# The engine built for wasm32-unknown-unknown (engine/wasm: simd128 and scalar kernels) runs the
# tiny fixture models under Node and must give the same tokens, weights root and trace root as
# the native build run in the same test (engine/wasm/test.mjs). A few minutes of build from
# scratch on 2 cores (no LTO, opt-level 1), seconds of test.
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
# Its own workspace, built into target/engine-wasm so that its +simd128 flags do not invalidate
# the other wasm32 builds. Its lock file is the root one (copied, not committed), so it pins the
# same versions and never goes stale; cargo only prunes what the module does not use.
cp Cargo.lock engine/wasm/Cargo.lock
(cd engine/wasm && CARGO_TARGET_DIR="$root/target/engine-wasm" cargo build --release)
raw=target/engine-wasm/wasm32-unknown-unknown/release/otr_engine_wasm.wasm
rm -rf target/engine-wasm/pkg
wasm-bindgen --target nodejs --out-dir target/engine-wasm/pkg --out-name otr_engine_wasm "$raw"
say "module: $(stat -c %s target/engine-wasm/pkg/otr_engine_wasm_bg.wasm) bytes"
OTR_ENGINE_BIN=target/debug/otr-engine OTR_ENGINE_WASM_PKG=target/engine-wasm/pkg \
    node --test engine/wasm/test.mjs

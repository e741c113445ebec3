#!/usr/bin/env bash
# Sets up what is missing, then runs every test of the project. Exit 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*" >&2; }
start=$(date +%s)
# One clean build of everything the tests need; incremental state would double the workspace
# crates' footprint on disk for no gain in a single run. Set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step "setup"
scripts/setup.sh

step "format (cargo fmt --check)"
cargo fmt --all -- --check

step "lint (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "anvil for the JSON-RPC tests (contracts/tests/rpc_anvil.rs, prover-node/tests/chain_rpc.rs)"
# Installs npm @foundry-rs/anvil once here, so the tests' parallel scripts/anvil.sh calls find it.
kill "$(scripts/anvil.sh "$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')")"

step "unit and integration tests"
cargo test --workspace --locked

step "otr-core builds for wasm32-unknown-unknown (no_std: no I/O, no clock, no RNG)"
cargo build -p otr-core --target wasm32-unknown-unknown --locked

step "the engine on wasm32 under Node: same tokens and trace roots as native (tiny models)"; scripts/test-engine-wasm.sh

step "self-made fixtures reproduce byte for byte"
scripts/check-fixtures.sh

step "settlement contract artifacts reproduce byte for byte (solcjs)"
scripts/build-contracts.sh --check

step "the same contract bytecode deploys to anvil"
scripts/anvil-smoke.sh

step "fuzz targets: seeds reproduce, regressions replay, 20 s of fuzzing each (cargo fuzz)"
scripts/fuzz-setup.sh
scripts/fuzz-smoke.sh

step "differential check against NVIDIA's own verifier"
scripts/differential.sh

step "npm package @otr/verifier (WASM build, Node ESM/CJS and Chromium tests)"
scripts/npm-test.sh

step "the official openai npm and Python clients against a real node"
scripts/openai-clients-test.sh

step "web demo in Chromium against a real node"
scripts/build-web-demo.sh
cargo build -p otr-node --locked
(cd web-demo && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && OTR_BIN="$PWD/../target/debug/otr" npm test)

printf '\nall tests passed in %ss\n' "$(( $(date +%s) - start ))" >&2

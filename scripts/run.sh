#!/usr/bin/env bash
# Sets up what is missing, builds the `otr` binary and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p otr-node --locked
exec scripts/main-job.sh "$@"

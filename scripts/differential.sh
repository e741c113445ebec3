#!/usr/bin/env bash
# Differential check of our verifier against NVIDIA's Python verifier on the real samples.
# When ../shared/nvidia-samples is absent (a machine without the samples), says so and skips:
# the self-made fixtures still run in the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
S="${OTR_NVIDIA_SAMPLES:-../shared/nvidia-samples}"
if [ ! -f "$S/INDEX.md" ]; then
    echo "differential: NVIDIA samples not found at $S; SKIPPED (not counted as passing)" >&2
    exit 0
fi
scripts/nvidia-ref-setup.sh
cargo build -q -p otr-node --locked
exec python3 scripts/differential.py --otr target/debug/otr

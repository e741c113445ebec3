#!/usr/bin/env bash
# Attestation benchmark (release build): writes its section of docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
S="${OTR_NVIDIA_SAMPLES:-../shared/nvidia-samples}"
[ -f "$S/INDEX.md" ] || { echo "bench-attestation: NVIDIA samples not found at $S" >&2; exit 2; }
scripts/nvidia-ref-setup.sh
cargo build --release -p otr-node --locked
bench=$(cargo bench -p otr-node --bench attestation --no-run --message-format=json --locked 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="attestation" and m.get("executable"): print(m["executable"])' | tail -1)
exec python3 scripts/bench-attestation.py "$bench"

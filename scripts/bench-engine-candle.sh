#!/usr/bin/env bash
# otr-engine against candle 0.11 on the same Gemma 3 270M GGUF: teacher-forced top-1 agreement
# and perplexity against the f32 float reference and candle's quantized path, prefill/decode
# tokens/s and peak RSS of each in its own process; writes its section of docs/BENCHMARKS.md.
#   scripts/bench-engine-candle.sh [--threads N] [--reps N] [--prompt-tokens N] [--decode-tokens N]
# engine/bench-candle/ is its own cargo workspace (not built by scripts/test.sh); the first
# release build of candle takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
model="${OTR_CACHE_DIR:-$HOME/.cache/otr}/models/gemma-3-270m-q4_k_m.gguf"
[ -f "$model" ] || scripts/fetch-model.sh
(cd engine/bench-candle && CARGO_TARGET_DIR="$root/engine/bench-candle/target" \
    nice -n 19 cargo build --release --locked)
engine/bench-candle/target/release/otr-bench-candle all --model "$model" \
    --doc "$root/docs/BENCHMARKS.md" "$@"

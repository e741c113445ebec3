#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECS seconds (default 600), in one process each
# (no -jobs: libFuzzer's -jobs=1 forks a worker that logs to ./fuzz-0.log instead).
# Usage: scripts/fuzz-run.sh [SECS] [TARGET...]   (default: every target in fuzz/fuzz_targets)
# The growing corpus lives in fuzz/target/corpus/<target> (git-ignored); the committed seeds in
# fuzz/corpus/<target> are read, never written. Logs: ${FUZZ_LOG_DIR:-/tmp}/fuzz-<target>.log.
# Crashing inputs land in fuzz/artifacts/<target>/. Exit status: non-zero if any target failed.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1

secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=($(cargo fuzz list))
fi
log_dir=${FUZZ_LOG_DIR:-/tmp}
status=0
cargo fuzz build -a >/dev/null || exit 1
# The engine targets' seeds are generated, not committed (see fuzz/examples/gen_seeds.rs).
[ -d corpus/gguf ] && [ -d corpus/engine_cache ] || cargo run -q --example gen_seeds >/dev/null
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t"
    log="$log_dir/fuzz-$t.log"
    echo "== $t: ${secs}s, log $log"
    cargo fuzz run -a "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -timeout=30 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    grep -E '^stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE' "$log" | sed "s/^/   $t: /"
    if [ $rc -ne 0 ]; then
        echo "   $t: FAILED (rc $rc), see $log and fuzz/artifacts/$t/"
        status=1
    fi
done
exit $status

#!/usr/bin/env bash
# CI smoke test of the fuzz targets: checks that fuzz/examples/gen_seeds.rs reproduces the
# committed seeds in fuzz/corpus/, builds the targets, replays every input kept under
# fixtures/fuzz-regressions/<target>/, then fuzzes each target for SECS seconds (default 20)
# from its committed seeds. Fails on any crash, panic, overflow, timeout or out-of-memory.
# Needs cargo-fuzz (scripts/fuzz-setup.sh) and a C++ compiler; runs on a stable toolchain.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo/fuzz"
export RUSTC_BOOTSTRAP=1

secs=${1:-20}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(-rss_limit_mb=2048 -max_len=65536 -timeout=30)

# The committed seeds must be exactly what the generator writes. The engine targets' seeds are
# tiny generated model files, which are not committed (like fixtures/models/*/model.gguf): they
# are written here.
cargo run -q --example gen_seeds -- "$work/seeds"
diff -r -x gguf -x engine_cache "$work/seeds" corpus
for t in gguf engine_cache; do
    rm -rf "corpus/$t"
    cp -r "$work/seeds/$t" "corpus/$t"
done
cargo fuzz build -a
for t in $(cargo fuzz list); do
    regressions="$repo/fixtures/fuzz-regressions/$t"
    if [ -d "$regressions" ]; then
        inputs=$(find "$regressions" -type f ! -name '*.json' ! -name '*.md' | sort)
        if [ -n "$inputs" ]; then
            echo "== $t: replaying $(echo "$inputs" | wc -l) regression input(s)"
            # shellcheck disable=SC2086
            cargo fuzz run -a "$t" $inputs -- "${flags[@]}" -runs=1
        fi
    fi
    echo "== $t: fuzzing ${secs}s"
    mkdir -p "$work/$t"
    rc=0
    cargo fuzz run -a "$t" "$work/$t" "corpus/$t" -- "${flags[@]}" \
        -max_total_time="$secs" -print_final_stats=1 >"$work/$t.log" 2>&1 || rc=$?
    grep -E '^stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE' "$work/$t.log" || true
    if [ "$rc" -ne 0 ]; then
        tail -n 60 "$work/$t.log"
        echo "fuzz smoke: $t failed (rc $rc); the input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzz smoke: all targets ok"

#!/usr/bin/env bash
# Installs cargo-fuzz if it is missing (idempotent). The fuzz targets need nightly-only rustc
# flags (-Zsanitizer, sanitizer coverage); on a stable toolchain they are unlocked with
# RUSTC_BOOTSTRAP=1, which the other scripts/fuzz-*.sh set.
set -euo pipefail

if cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz present: $(cargo fuzz --version)"
else
    cargo install cargo-fuzz --locked
fi
# libFuzzer is compiled from C++ sources by libfuzzer-sys.
if ! command -v c++ >/dev/null 2>&1; then
    echo "a C++ compiler is needed (apt-get install g++)" >&2
    exit 1
fi

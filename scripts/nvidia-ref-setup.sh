#!/usr/bin/env bash
# Create (idempotently) a virtualenv with NVIDIA's reference Python GPU verifier,
# PyPI package nv-local-gpu-verifier==2.7.3, used by scripts/nvidia-ref-verify.py
# and scripts/nvidia-ref-parse.py as a differential/benchmark oracle.
#
#   venv: ${OTR_CACHE:-$HOME/.cache/otr}/nvref-venv
#
# Exit 0 when the package is already installed at the pinned version.
set -euo pipefail

PKG=nv-local-gpu-verifier
VER=2.7.3
CACHE="${OTR_CACHE:-$HOME/.cache/otr}"
VENV="$CACHE/nvref-venv"
PY="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && \
   [ "$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$PKG'))" 2>/dev/null || true)" = "$VER" ]; then
    echo "nvidia-ref-setup: $PKG==$VER already installed in $VENV" >&2
    exit 0
fi

if ! command -v "$PY" >/dev/null 2>&1; then
    echo "nvidia-ref-setup: $PY not found (need CPython >= 3.8 with venv)" >&2
    exit 2
fi

mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
    echo "nvidia-ref-setup: creating virtualenv $VENV" >&2
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip >&2 || true
echo "nvidia-ref-setup: installing $PKG==$VER" >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check "$PKG==$VER" >&2

"$VENV/bin/python" -c "import verifier, importlib.metadata as m; print('nvidia-ref-setup: ok,', '$PKG', m.version('$PKG'))" >&2

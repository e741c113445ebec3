#!/usr/bin/env bash
# Puts the built @otr/verifier package next to the demo page (web-demo/vendor/, not committed),
# building the WebAssembly verifier and the package first when they are missing or older than
# the Rust sources.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=npm/dist
if [ ! -f "$dist/index.js" ] || [ -n "$(find core/src verifier-wasm/src npm/src -newer "$dist/index.js" -print -quit 2>/dev/null)" ]; then
    scripts/build-wasm.sh
    (cd npm && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build)
fi
rm -rf web-demo/vendor/otr-verifier
mkdir -p web-demo/vendor/otr-verifier
cp "$dist"/*.js "$dist"/*.wasm web-demo/vendor/otr-verifier/
echo "build-web-demo: web-demo/vendor/otr-verifier ready" >&2

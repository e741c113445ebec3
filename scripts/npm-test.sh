#!/usr/bin/env bash
# Builds the WASM verifier and the npm package @otr/verifier, then runs its tests:
#   Node (ESM and CommonJS entry points, self-made fixtures, NVIDIA's real samples when
#   ../shared/nvidia-samples exists, every error code the calls can throw, the published types)
#   and a real browser (Debian chromium via playwright-core; page and Web Worker; a screenshot in
#   target/test-artifacts/). Installs npm dependencies with `npm ci` from the committed lock file
#   (cache under ~/.npm), only when the lock file changed since the last install.
# Needs what scripts/setup.sh installs (wasm-bindgen-cli, chromium; binaryen optional).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'npm-test: %s\n' "$*" >&2; }

scripts/build-wasm.sh

cd npm
stamp=node_modules/.otr-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "npm ci (package-lock.json changed or node_modules missing)"
    npm ci --no-audit --no-fund --cache "$HOME/.npm" >&2
    echo "$want" > "$stamp"
fi

say "error codes: npm/src/codes.ts matches the Rust sources"
python3 ../scripts/gen-error-codes.py --check

say "build: dist/ (ESM, CommonJS, types, wasm)"
npm run --silent build

rm -rf ../target/test-artifacts/codes-reached
say "Node tests (node:test)"
npm test --silent

say "browser tests (chromium + playwright-core)"
npm run --silent test:browser

# Fails when a code the package can throw (ERROR_CODES) is not reached by the Node tests, or a
# test saw one the package is said never to throw (CORE_ONLY_CODES).
say "error codes: every code of ERROR_CODES reached by the Node tests"
node scripts/code-coverage.mjs
say "ok"

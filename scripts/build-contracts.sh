#!/usr/bin/env bash
# Compiles the settlement contracts (contracts/src) with the pinned solcjs (npm `solc`, exact
# version in contracts/js/package.json) into contracts/artifacts/*.json.
#   scripts/build-contracts.sh           install (if needed) and compile, writing the artifacts
#   scripts/build-contracts.sh --check   compile in memory; fail unless the committed artifacts
#                                        are reproduced byte for byte
# Idempotent: npm deps are installed from the committed package-lock.json only when missing.
set -euo pipefail
cd "$(dirname "$0")/../contracts/js"
want=$(node -p 'require("./package-lock.json").packages["node_modules/solc"].version')
have=$(node -p 'try { require("./node_modules/solc/package.json").version } catch { "" }' 2>/dev/null || true)
if [[ "$have" != "$want" ]]; then
  echo "installing solc $want (npm ci, without the optional anvil binary)" >&2
  npm ci --omit=optional --no-audit --no-fund --ignore-scripts >&2
fi
exec node build.mjs "$@"

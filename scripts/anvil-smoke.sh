#!/usr/bin/env bash
# Starts anvil (scripts/anvil.sh), deploys committed contract artifacts to it and checks that the
# runtime code on chain is the artifact's byte for byte; stops anvil. Port: $1 (default 8547).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8547}"
pid=$(scripts/anvil.sh "$port")
trap 'kill "$pid" 2>/dev/null || true' EXIT
node contracts/js/anvil-smoke.mjs "http://127.0.0.1:$port"

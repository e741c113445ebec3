#!/usr/bin/env bash
# Starts anvil (npm @foundry-rs/anvil, pinned in contracts/js/package-lock.json; installed there
# idempotently) on 127.0.0.1, in the background, and prints its PID on standard output.
#   scripts/anvil.sh [PORT]        default port 8545; extra anvil flags via ANVIL_ARGS
#   kill "$(scripts/anvil.sh 8546)" when done
# Logs go to ${ANVIL_LOG:-/tmp/otr-anvil-PORT.log}. Fails if nothing answers within 10 s.
set -euo pipefail
port="${1:-8545}"
cd "$(dirname "$0")/../contracts/js"
bin="node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
case "$(uname -m)" in
  aarch64|arm64) bin="node_modules/@foundry-rs/anvil-linux-arm64/bin/anvil" ;;
esac
if [[ ! -x "$bin" ]]; then
  echo "installing @foundry-rs/anvil (npm ci)" >&2
  npm ci --no-audit --no-fund --ignore-scripts >&2
fi
[[ -x "$bin" ]] || { echo "anvil binary not found at contracts/js/$bin" >&2; exit 1; }
log="${ANVIL_LOG:-/tmp/otr-anvil-$port.log}"
# shellcheck disable=SC2086
nohup "$bin" --host 127.0.0.1 --port "$port" --chain-id 31337 ${ANVIL_ARGS:-} >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  if curl -s -m 1 -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$port" | grep -q result; then
    echo "$pid"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
echo "anvil did not answer on 127.0.0.1:$port within 10 s (log: $log)" >&2
exit 1

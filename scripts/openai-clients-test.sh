#!/usr/bin/env bash
# The official openai npm and Python packages talk to a real node unchanged, streaming included.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${OTR_CACHE:-$HOME/.cache/otr}/openai-venv"
if ! "$venv/bin/python" -c 'import openai' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "openai==1.99.9"
fi
(cd prover-node/clients && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
cargo build -q -p otr-node --locked
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
target/debug/otr serve --model fixture-gemma3 --listen "127.0.0.1:$port" --data-dir "$data" 2>"$data/node.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
node prover-node/clients/client.mjs "http://127.0.0.1:$port/v1"
"$venv/bin/python" prover-node/clients/client.py "http://127.0.0.1:$port/v1"
echo "openai-clients: npm and Python clients work unchanged" >&2

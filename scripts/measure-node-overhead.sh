#!/usr/bin/env bash
# Measures the prover node's work per answer outside the engine, for the economics simulator
# (docs/measured-costs.json, figure node.answer_overhead_ms): a release `otr serve` with the tiny
# fixture model (engine time negligible), N sequential non-streaming completions of 4 tokens over
# loopback HTTP (request hashing, receipt, SQLite commit with synchronous=FULL), then each answer's
# bundle (built and self-checked with otr-core on request). Prints medians in ms as JSON.
# Usage: scripts/measure-node-overhead.sh [N]   (default 40; needs target/release/otr)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40}"
BIN=target/release/otr
[ -x "$BIN" ] || cargo build --release -p otr-node --bin otr
DATA="$(mktemp -d)"
PORT=$((20000 + RANDOM % 20000))
"$BIN" serve --model fixture-gemma3 --listen "127.0.0.1:$PORT" --data-dir "$DATA" >"$DATA/log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
python3 - "$PORT" "$N" <<'PY'
import json, sys, time, urllib.request, statistics
port, n = int(sys.argv[1]), int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
for _ in range(200):
    try:
        urllib.request.urlopen(base + "/health", timeout=1).read(); break
    except Exception:
        time.sleep(0.05)
def post(body):
    req = urllib.request.Request(base + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())
ans, ids = [], []
post({"prompt": "warm up", "max_tokens": 4, "temperature": 0})
for i in range(n):
    t = time.perf_counter()
    r = post({"prompt": f"hello {i}", "max_tokens": 4, "temperature": 0})
    ans.append((time.perf_counter() - t) * 1000)
    ids.append(r["otr"]["receipt_id"])
time.sleep(0.6)  # let the last micro-batch close
bun = []
for rid in ids:
    t = time.perf_counter()
    urllib.request.urlopen(f"{base}/v1/receipts/{rid}/bundle", timeout=30).read()
    bun.append((time.perf_counter() - t) * 1000)
out = {"n": n, "answer_ms_median": statistics.median(ans), "bundle_ms_median": statistics.median(bun),
       "answer_plus_bundle_ms": statistics.median(ans) + statistics.median(bun)}
print(json.dumps(out))
PY

#!/usr/bin/env bash
# Regenerates fixtures/light-client/anvil-basic/{proof,headers}.json: real eth_getProof and
# eth_getBlockByNumber output from anvil (npm @foundry-rs/anvil, installed idempotently into
# contracts/js by scripts/anvil.sh) for a hand-assembled contract holding the settlement
# contract's storage image, with a real reorg (scripts/anvil-proof-fixtures.mjs says how).
# case.json in that folder is written by hand and names the expected verdicts.
#   scripts/anvil-proof-fixtures.sh           rewrite the fixture files
#   scripts/anvil-proof-fixtures.sh --check   regenerate into a temporary folder, fail on any diff
# Anvil listens on 127.0.0.1 on a random free port and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=fixtures/light-client/anvil-basic
out="$dest"
if [[ "${1:-}" == "--check" ]]; then
  out=$(mktemp -d)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=$(ANVIL_ARGS="--timestamp 1767225600 --hardfork prague" ANVIL_LOG="${TMPDIR:-/tmp}/otr-anvil-proof-$port.log" scripts/anvil.sh "$port")
cleanup() {
  kill "$pid" 2>/dev/null || true
  if [[ "$out" != "$dest" ]]; then rm -rf "$out"; fi
}
trap cleanup EXIT
mkdir -p "$out"
node scripts/anvil-proof-fixtures.mjs "http://127.0.0.1:$port" "$out"
if [[ "$out" != "$dest" ]]; then
  for f in proof.json headers.json; do
    if ! cmp -s "$out/$f" "$dest/$f"; then
      echo "anvil-proof-fixtures: $dest/$f does not reproduce (run scripts/anvil-proof-fixtures.sh)" >&2
      diff <(head -c 2000 "$dest/$f") <(head -c 2000 "$out/$f") | head -20 >&2 || true
      exit 1
    fi
  done
  echo "anvil-proof-fixtures: fixtures reproduce byte for byte" >&2
fi

#!/usr/bin/env bash
# Regenerates fixtures/bundles/stapled: a bundle served by `otr serve --chain-rpc` on anvil,
# with its light-client proof stapled (64 headers from the proven block, the account proof of
# the settlement contract, the batch's storage proofs), the node's dev root, and case.json (the
# trusted checkpoint and the claims it proves). Made by prover-node/tests/chain_rpc.rs, which
# starts anvil itself (scripts/anvil.sh).
#   scripts/gen-stapled-bundle-fixture.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/fixtures/bundles/stapled"
rm -rf "$out"
OTR_WRITE_STAPLED_FIXTURE="$out" cargo test -p otr-node --test chain_rpc node_on_anvil -- --nocapture 2>&1 \
  | grep -v "dispute defence round failed" | tail -5
test -f "$out/case.json" || { echo "fixture not written" >&2; exit 1; }
echo "wrote $out"

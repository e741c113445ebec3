#!/usr/bin/env bash
# Regenerates the self-made fixtures into a temporary folder and fails if any byte differs from
# the committed ones (generators are deterministic from a fixed seed).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cargo run -q -p otr-node --locked -- dev fixtures --out "$tmp"
# fixtures/bundles/stapled comes from a live anvil (scripts/gen-stapled-bundle-fixture.sh): not
# byte-reproducible, checked by prover-node/tests/chain_rpc.rs instead.
# fixtures/light-client/dev-chain (self-made chains for the light client) is compared too; the
# other fixtures/light-client folders come from anvil (scripts/anvil-proof-fixtures.sh).
# fixtures/bundles/full_a1_like (full evidence + a Groth16 proof) is made from gpu/ok and
# fixtures/zk/matvec_r4, and compared here with the other bundles.
if ! diff -r "$tmp/attestation" fixtures/attestation \
    || ! diff -r --exclude=stapled "$tmp/bundles" fixtures/bundles \
    || ! diff -r "$tmp/gpu" fixtures/gpu \
    || ! diff -r "$tmp/light-client/dev-chain" fixtures/light-client/dev-chain; then
    echo "check-fixtures: regenerated fixtures differ from fixtures/{attestation,bundles,gpu,light-client/dev-chain} (run: cargo run -p otr-node -- dev fixtures)" >&2
    exit 1
fi
echo "check-fixtures: fixtures reproduce byte for byte" >&2

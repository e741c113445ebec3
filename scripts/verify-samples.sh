#!/usr/bin/env bash
# Verifies real NVIDIA H100 evidence offline (set A1 of ../shared/nvidia-samples) and a dev-signed
# report with the release `otr` binary, printing the verified claims.
set -euo pipefail
cd "$(dirname "$0")/.."
OTR=target/release/otr
S="${OTR_NVIDIA_SAMPLES:-../shared/nvidia-samples}"
if [ -f "$S/INDEX.md" ]; then
    echo "== NVIDIA H100 sample A1: report, device chain, driver + VBIOS manifests, 7 stapled OCSP answers" >&2
    ocsp=(); for f in "$S"/go-nvattest-tools/ocsp/*.dat; do ocsp+=(--ocsp "$f"); done
    "$OTR" verify gpu --report "$S/nvtrust/hopperAttestationReport.txt" --chain "$S/nvtrust/hopperCertChain.txt" \
        --rim "$S/go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml" \
        --rim "$S/go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml" "${ocsp[@]}" \
        --nonce 931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb \
        --time 2025-06-01T00:00:00Z --policy docs/policies/stapled-historic.json > target/a1-claims.json
    python3 - <<'PY'
import json
c = json.load(open("target/a1-claims.json"))
d, m = c["device"], c["measurements"]
print(f"verified: {d['hwmodel']} ueid {d['ueid'][:12]}..., driver {d['driver_version']}, VBIOS {d['vbios_version']}")
print(f"  nonce {d['nonce'][:16]}... bound, FWID bound: {d['fwid_verified']}, production root: {c['production']}")
print(f"  manifests: " + ", ".join(f"{r['kind']} {r['version']}" for r in c["rims"]))
print(f"  measurements: {m['matched']} of {m['golden']} golden values match, {m['skipped']} not applicable (NVDEC0 off)")
print(f"  OCSP: {len(c['ocsp'])} answers GOOD")
print("  full claims: target/a1-claims.json")
PY
else
    echo "NVIDIA samples not found at $S: skipping the real-evidence demonstration" >&2
fi
echo "== dev-signed report (NOT PRODUCTION), rejected by the default policy, accepted when the dev root is trusted" >&2
F=fixtures/attestation/ok
if err=$("$OTR" verify gpu --report $F/report.hex --chain $F/chain.pem --device-only --dev-root fixtures/attestation/dev-root.pem 2>&1 >/dev/null); then
    echo "unexpected: the default policy accepted dev evidence" >&2; exit 1
fi
echo "default policy: ${err#error: }" | cut -c1-100
echo '{"allow_dev_roots": true}' > target/dev-policy.json
"$OTR" verify gpu --report $F/report.hex --chain $F/chain.pem --device-only --dev-root fixtures/attestation/dev-root.pem \
    --policy target/dev-policy.json --nonce "$(python3 -c 'print("42"*32)')" | python3 -c 'import json,sys; c=json.load(sys.stdin); print("verified dev evidence: production =", c["production"], ", dev_root =", c["device"]["dev_root"])'

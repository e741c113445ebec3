#!/usr/bin/env bash
# Run NVIDIA's reference verifier (scripts/nvidia-ref-verify.py) on the NVIDIA samples in ../shared
# and check the outcomes expected by ../shared/nvidia-samples/INDEX.md (set A1 + section B negatives).
# Prints one line per case; exit 0 iff every case behaves as expected, 2 if venv/samples are missing.
# Temporary files (a tampered copy of the A1 report) go to a mktemp dir, never into the repo.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
S="${OTR_NVIDIA_SAMPLES:-$HERE/../../shared/nvidia-samples}"
V="$HERE/nvidia-ref-verify.py"
PY="${PYTHON:-python3}"

if [ ! -f "$S/INDEX.md" ]; then
    echo "nvidia-ref-check-samples: NVIDIA samples not found at $S (set OTR_NVIDIA_SAMPLES)" >&2
    exit 2
fi

N_A1=931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb
N_A2=4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e
R1="$S/nvtrust/hopperAttestationReport.txt"; C1="$S/nvtrust/hopperCertChain.txt"
DR1="$S/go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml"
VR1="$S/go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml"
OCSP="$S/go-nvattest-tools/ocsp"; T1=2025-06-01T00:00:00Z
SDK="$S/attestation-sdk"

TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
# A1 report with one bit flipped in the digest of measurement block 10 (signature must fail).
"$PY" -c "
import sys; b=bytearray.fromhex(''.join(open(sys.argv[1]).read().split())); b[52+55*9]^=1
open(sys.argv[2],'w').write(b.hex())" "$R1" "$TMP/a1_flipped.txt"

fails=0
# case NAME EXPECT(pass|fail) EXPECTED_ERROR_SUBSTRING_OR_- EXPECTED_MISMATCH_RIM_INDICES_OR_- -- ARGS...
case_() {
    local name="$1" expect="$2" errsub="$3" mism="$4"; shift 5
    local out rc
    out="$("$PY" "$V" --json "$@")"; rc=$?
    if [ $rc -eq 2 ]; then echo "SETUP ERROR in $name" >&2; exit 2; fi
    local line
    line="$(printf '%s' "$out" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
expect, errsub, mism = sys.argv[1:4]
ok = d["verdict"] == (expect == "pass")
if errsub != "-":
    ok = ok and errsub in (d["error"] or "")
got = ",".join(str(m.get("rim_index")) for m in d["mismatches"])
if mism != "-":
    ok = ok and got == mism
print("%s %s matched=%s/%s mism=[%s] %.0fms err=%s" % (
    "ok  " if ok else "BAD ", "PASS" if d["verdict"] else "FAIL", d["measurements_matched"],
    d["measurements_compared"], got, d["in_process_seconds_per_run"] * 1000, d["error"]))
' "$expect" "$errsub" "$mism")"
    printf '%-46s %s\n' "$name" "$line"
    case "$line" in ok*) ;; *) fails=$((fails+1));; esac
}

case_ "A1 (OCSP stored, t=$T1)"            pass - "" -- --report "$R1" --chain "$C1" --driver-rim "$DR1" --vbios-rim "$VR1" --nonce $N_A1 --time $T1 --ocsp-dir "$OCSP"
case_ "A1 at 2026-11-26 (expired certs)" fail "Error" - -- --report "$R1" --chain "$C1" --driver-rim "$DR1" --vbios-rim "$VR1" --nonce $N_A1 --time 2026-11-26T00:00:00Z --ocsp-dir "$OCSP"
case_ "B wrong nonce"                       fail NonceMismatchError - -- --report "$R1" --chain "$C1" --driver-rim "$DR1" --vbios-rim "$VR1" --nonce $N_A2 --time $T1 --ocsp-dir "$OCSP"
case_ "B InvalidSignature report (FWID first)" fail "" - -- --report "$SDK/sample_attestation_data/gpu/hopperAttestationReportInvalidSignature.txt" --chain "$SDK/sample_attestation_data/gpu/hopperCertChain.txt" --driver-rim "$DR1" --vbios-rim "$VR1" --nonce $N_A1 --time $T1 --ocsp-dir "$OCSP"
case_ "A1 report, 1 bit flipped"            fail SignatureVerificationError - -- --report "$TMP/a1_flipped.txt" --chain "$C1" --driver-rim "$DR1" --vbios-rim "$VR1" --nonce $N_A1 --time $T1 --ocsp-dir "$OCSP"
case_ "B invalidCertChain (4 certs)"        fail IncorrectNumberOfCertificatesError - -- --report "$S/nvtrust/legacy-2023/attestationReport.txt" --chain "$S/go-nvtrust/invalidCertChain.txt" --driver-rim "$S/nvtrust/rims/Driver_RIM_test_no_gpu.swidtag" --vbios-rim "$S/nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag" --nonce $N_A2 --time 2024-01-01T00:00:00Z
case_ "B incorrect_signature_driver_rim (no OCSP)" fail RIMSignatureVerificationError - -- --report "$R1" --chain "$C1" --driver-rim "$SDK/unit-tests-testdata/incorrect_signature_driver_rim.xml" --vbios-rim "$VR1" --nonce $N_A1 --time $T1
case_ "B incorrect_cert_chain_driver_rim (no OCSP)" fail RIMCertChainVerificationError - -- --report "$R1" --chain "$C1" --driver-rim "$SDK/unit-tests-testdata/incorrect_cert_chain_driver_rim.xml" --vbios-rim "$VR1" --nonce $N_A1 --time $T1
case_ "B A1 + driver RIM 550.144.03 (no OCSP)" fail "driver-rim-version-match=False" "7,22,31,39,40" -- --report "$R1" --chain "$C1" --driver-rim "$SDK/unit-tests-testdata/NV_GPU_DRIVER_GH100_550.144.03.xml" --vbios-rim "$VR1" --nonce $N_A1 --time $T1
case_ "A2 (no OCSP answers exist, t=2024-01-01)" pass - "" -- --report "$S/nvtrust/legacy-2023/attestationReport.txt" --chain "$S/nvtrust/legacy-2023/gpuAkCertChain.txt" --driver-rim "$S/nvtrust/rims/Driver_RIM_test_no_gpu.swidtag" --vbios-rim "$S/nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag" --nonce $N_A2 --time 2024-01-01T00:00:00Z
case_ "B A2 + PROD VBIOS RIM (no OCSP)"     fail "measres=fail" "1,2,3,9" -- --report "$S/nvtrust/legacy-2023/attestationReport.txt" --chain "$S/nvtrust/legacy-2023/gpuAkCertChain.txt" --driver-rim "$S/nvtrust/rims/Driver_RIM_test_no_gpu.swidtag" --vbios-rim "$S/nvtrust/rims/1010_0200_882_96005E0001_PROD.swidtag" --nonce $N_A2 --time 2024-01-01T00:00:00Z

if [ $fails -ne 0 ]; then echo "nvidia-ref-check-samples: $fails case(s) not as expected" >&2; exit 1; fi
echo "nvidia-ref-check-samples: all cases as expected"

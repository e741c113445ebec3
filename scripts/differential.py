#!/usr/bin/env python3
"""Differential check: our verifier (`otr`) against NVIDIA's own Python verifier
(nv-local-gpu-verifier 2.7.3, run offline by scripts/nvidia-ref-verify.py).

1. Parsing: for every report of INDEX.md section D, `otr inspect report` and NVIDIA's parser give
   the same request nonce, the same 64 measurement values, the same driver/VBIOS versions and the
   same raw value of every opaque field.
2. Verdicts: on set A1 and the section-B negatives, both verifiers accept or reject alike; when
   both accept, the measurement values they report are identical.

Usage: scripts/differential.py [--otr target/debug/otr]. Exit 0 iff everything agrees;
2 when the NVIDIA samples or the reference verifier's virtualenv are missing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
S = os.environ.get("OTR_NVIDIA_SAMPLES", os.path.join(ROOT, "..", "shared", "nvidia-samples"))
VENV_PY = os.path.join(os.environ.get("OTR_CACHE", os.path.expanduser("~/.cache/otr")), "nvref-venv", "bin", "python")
A1_NONCE = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"
A2_NONCE = "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e"

REPORTS = [
    "nvtrust/hopperAttestationReport.txt",
    "nvtrust/legacy-2023/attestationReport.txt",
    "attestation-sdk/unit-tests-testdata/hopperAttestationReport.txt",
    "attestation-sdk/sample_attestation_data/gpu/hopperAttestationReport.txt",
    "attestation-sdk/sample_attestation_data/gpu/hopperAttestationReportExpired.txt",
    "attestation-sdk/sample_attestation_data/gpu/hopperAttestationReportInvalidSignature.txt",
]


def p(rel):
    return os.path.join(S, rel)


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        out = json.loads(r.stdout) if r.stdout.strip() else None
    except json.JSONDecodeError:
        out = None
    return r.returncode, out, r.stderr.strip()


def parse_diff(otr):
    bad = 0
    for rel in REPORTS:
        _, ours, err = run_json([otr, "inspect", "report", p(rel)])
        _, ref, err2 = run_json([sys.executable, os.path.join(HERE, "nvidia-ref-parse.py"), "--report", p(rel)])
        if ours is None or ref is None:
            print(f"FAIL parse {rel}: {err or err2}")
            bad += 1
            continue
        problems = []
        if ours["request"]["nonce"] != ref["request"]["nonce"]:
            problems.append("request nonce")
        ours_m = {str(b["index"]): b["value"] for b in ours["response"]["blocks"]}
        if ours_m != ref["measurements"]:
            problems.append("measurements")
        if (ours["driver_version"] or "").lower() != (ref["driver_version"] or "").lower():
            problems.append(f"driver {ours['driver_version']} vs {ref['driver_version']}")
        if (ours["vbios_version"] or "").lower() != (ref["vbios_version"] or "").lower():
            problems.append(f"vbios {ours['vbios_version']} vs {ref['vbios_version']}")
        ours_o = {f["name"]: f["value"] for f in ours["response"]["opaque"]}
        for name, value in ref["opaque"].items():
            short = name.replace("OPAQUE_FIELD_ID_", "")
            if short == "MSRSCNT":  # NVIDIA gives the u32 counters
                value = "".join(v.to_bytes(4, "little").hex() for v in value)
            elif short == "SWITCH_PDI":  # NVIDIA gives the 8-byte PDIs
                value = "".join(value)
            elif short == "OPAQUE_DATA_VERSION":  # NVIDIA gives the u16
                value = value.to_bytes(2, "little").hex()
            elif short == "FEATURE_FLAG":  # NVIDIA gives the mode name
                value = {"SPT": "0000", "MPT": "0100", "PPCIE": "0200"}.get(value, value)
            if ours_o.get(short) != value:
                problems.append(f"opaque {short}")
        print(("ok  " if not problems else "FAIL") + f" parse {rel}" + (": " + ", ".join(problems) if problems else
              f" (64 blocks, {len(ours_o)} opaque fields equal)"))
        bad += bool(problems)
    return bad


def verdict_diff(otr):
    a1 = ["--report", p("nvtrust/hopperAttestationReport.txt"), "--chain", p("nvtrust/hopperCertChain.txt")]
    a1_rims = [p("go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml"),
               p("go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml")]
    ocsp_dir = p("go-nvattest-tools/ocsp")
    ocsp = sorted(os.path.join(ocsp_dir, f) for f in os.listdir(ocsp_dir))
    tmp = tempfile.mkdtemp()
    flipped = os.path.join(tmp, "a1_flipped.txt")
    b = bytearray.fromhex("".join(open(p("nvtrust/hopperAttestationReport.txt")).read().split()))
    b[52 + 55 * 9] ^= 1
    open(flipped, "w").write(b.hex())
    t = "2025-06-01T00:00:00Z"
    # (name, report, chain, rims, nonce, time, with_ocsp)
    cases = [
        ("A1 complete", p("nvtrust/hopperAttestationReport.txt"), p("nvtrust/hopperCertChain.txt"), a1_rims, A1_NONCE, t, True),
        ("A1 wrong nonce", p("nvtrust/hopperAttestationReport.txt"), p("nvtrust/hopperCertChain.txt"), a1_rims, A2_NONCE, t, True),
        ("A1 flipped measurement", flipped, p("nvtrust/hopperCertChain.txt"), a1_rims, A1_NONCE, t, True),
        ("A1 after responder expiry", p("nvtrust/hopperAttestationReport.txt"), p("nvtrust/hopperCertChain.txt"), a1_rims, A1_NONCE, "2025-10-01T00:00:00Z", True),
        ("invalid signature report", p("attestation-sdk/sample_attestation_data/gpu/hopperAttestationReportInvalidSignature.txt"),
         p("attestation-sdk/sample_attestation_data/gpu/hopperCertChain.txt"), a1_rims, A1_NONCE, t, True),
        ("broken chain", p("nvtrust/legacy-2023/attestationReport.txt"), p("go-nvtrust/invalidCertChain.txt"),
         [p("nvtrust/rims/Driver_RIM_test_no_gpu.swidtag"), p("nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag")], A2_NONCE, "2024-01-01T00:00:00Z", False),
        ("A2 complete (no OCSP answers exist)", p("nvtrust/legacy-2023/attestationReport.txt"), p("nvtrust/legacy-2023/gpuAkCertChain.txt"),
         [p("nvtrust/rims/Driver_RIM_test_no_gpu.swidtag"), p("nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag")], A2_NONCE, "2024-01-01T00:00:00Z", False),
        ("A2 with production VBIOS RIM", p("nvtrust/legacy-2023/attestationReport.txt"), p("nvtrust/legacy-2023/gpuAkCertChain.txt"),
         [p("nvtrust/rims/Driver_RIM_test_no_gpu.swidtag"), p("nvtrust/rims/1010_0200_882_96005E0001_PROD.swidtag")], A2_NONCE, "2024-01-01T00:00:00Z", False),
        ("RIM with bad XML signature", p("nvtrust/hopperAttestationReport.txt"), p("nvtrust/hopperCertChain.txt"),
         [p("attestation-sdk/unit-tests-testdata/incorrect_signature_driver_rim.xml"), a1_rims[1]], A1_NONCE, t, False),
        ("RIM with broken signer chain", p("nvtrust/hopperAttestationReport.txt"), p("nvtrust/hopperCertChain.txt"),
         [p("attestation-sdk/unit-tests-testdata/incorrect_cert_chain_driver_rim.xml"), a1_rims[1]], A1_NONCE, t, False),
        ("A1 today (RIM signers expired)", p("nvtrust/hopperAttestationReport.txt"), p("nvtrust/hopperCertChain.txt"), a1_rims, A1_NONCE, "2026-11-26T00:00:00Z", False),
    ]
    policy_ignore = os.path.join(tmp, "nvidia-semantics.json")
    json.dump({"ocsp_freshness": "ignore"}, open(policy_ignore, "w"))
    policy_no_ocsp = os.path.join(tmp, "no-ocsp.json")
    json.dump({"require_ocsp": False}, open(policy_no_ocsp, "w"))
    bad = 0
    for name, report, chain, rims, nonce, time, with_ocsp in cases:
        cmd = [otr, "verify", "gpu", "--report", report, "--chain", chain, "--nonce", nonce, "--time", time,
               "--policy", policy_ignore if with_ocsp else policy_no_ocsp]
        for r in rims:
            cmd += ["--rim", r]
        if with_ocsp:
            for o in ocsp:
                cmd += ["--ocsp", o]
        rc, ours, err = run_json(cmd)
        ref_cmd = [VENV_PY, os.path.join(HERE, "nvidia-ref-verify.py"), "--report", report, "--chain", chain,
                   "--driver-rim", rims[0], "--vbios-rim", rims[1], "--nonce", nonce, "--time", time, "--json"]
        if with_ocsp:
            ref_cmd += ["--ocsp-dir", ocsp_dir]
        _, ref, err2 = run_json(ref_cmd)
        if ref is None:
            print(f"FAIL {name}: reference verifier gave no result: {err2[-300:]}")
            bad += 1
            continue
        ours_ok = rc == 0
        agree = ours_ok == bool(ref["verdict"])
        detail = "accept" if ours_ok else err.replace("error: ", "")[:90]
        if agree and ours_ok:
            ours_m = {str(m["index"]): m["value"] for m in ours["device"]["measurements"]}
            if ours_m != ref["measurements"]:
                agree, detail = False, "measurement values differ"
        print(("ok  " if agree else "FAIL") + f" {name}: ours {detail} | NVIDIA {'accept' if ref['verdict'] else 'reject: ' + str(ref.get('error'))[:60]}")
        bad += not agree
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--otr", default=os.path.join(ROOT, "target", "debug", "otr"))
    a = ap.parse_args()
    if not os.path.exists(os.path.join(S, "INDEX.md")):
        print(f"differential: NVIDIA samples not found at {S}; cannot compare (set OTR_NVIDIA_SAMPLES)", file=sys.stderr)
        return 2
    if not os.path.exists(VENV_PY):
        print(f"differential: NVIDIA's reference verifier is not installed ({VENV_PY}); run scripts/nvidia-ref-setup.sh", file=sys.stderr)
        return 2
    bad = parse_diff(a.otr) + verdict_diff(a.otr)
    print("differential: all agree" if bad == 0 else f"differential: {bad} disagreement(s)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

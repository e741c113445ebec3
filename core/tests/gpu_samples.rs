//! Full GPU verification (device evidence + RIMs + OCSP + golden measurements) on the real
//! NVIDIA sets A1 and A2 of INDEX.md, and the section-B manifest negatives.

use otr_core::attestation::gpu::{verify_gpu, GpuEvidence};
use otr_core::attestation::policy::OcspFreshnessPolicy;
use otr_core::attestation::{Policy, TrustAnchors};
use otr_core::crypto::RustCrypto;
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::{ErrorCode, UnixTime};
use std::path::{Path, PathBuf};

fn samples() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/nvidia-samples");
    if p.join("INDEX.md").exists() {
        Some(p)
    } else {
        eprintln!(
            "NVIDIA samples not found at {}; skipping (self-made fixtures still run)",
            p.display()
        );
        None
    }
}

fn t(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap()
}

struct Set {
    report: Vec<u8>,
    chain: Vec<Vec<u8>>,
    rims: Vec<Vec<u8>>,
    ocsp: Vec<Vec<u8>>,
    nonce: [u8; 32],
}

fn set(s: &Path, report: &str, chain: &str, rims: &[&str], ocsp: bool, nonce: &str) -> Set {
    let ocsp = if ocsp {
        let mut v: Vec<_> = std::fs::read_dir(s.join("go-nvattest-tools/ocsp"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        v.sort();
        v
    } else {
        vec![]
    };
    Set {
        report: hex_decode_lenient(&std::fs::read(s.join(report)).unwrap()).unwrap(),
        chain: pem_certificates(&std::fs::read(s.join(chain)).unwrap()).unwrap(),
        rims: rims
            .iter()
            .map(|r| std::fs::read(s.join(r)).unwrap())
            .collect(),
        ocsp,
        nonce: hex::decode(nonce).unwrap().try_into().unwrap(),
    }
}

fn run(
    x: &Set,
    time: UnixTime,
    policy: &Policy,
) -> Result<otr_core::attestation::gpu::GpuClaims, String> {
    let ev = GpuEvidence {
        report: &x.report,
        chain: &x.chain,
        rims: &x.rims,
        ocsp: &x.ocsp,
    };
    verify_gpu(
        &ev,
        Some(&x.nonce),
        time,
        policy,
        &TrustAnchors::nvidia(),
        &RustCrypto,
    )
    .map(|v| v.claims)
    .map_err(|e| format!("{}: {e}", e.code()))
}

const A1_RIMS: [&str; 2] = [
    "go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml",
    "go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml",
];
const A1_NONCE: &str = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";

fn a1(s: &Path, rims: &[&str]) -> Set {
    set(
        s,
        "nvtrust/hopperAttestationReport.txt",
        "nvtrust/hopperCertChain.txt",
        rims,
        true,
        A1_NONCE,
    )
}

fn a1_without_ocsp(s: &Path, rims: &[&str]) -> Set {
    set(
        s,
        "nvtrust/hopperAttestationReport.txt",
        "nvtrust/hopperCertChain.txt",
        rims,
        false,
        A1_NONCE,
    )
}

#[test]
fn a1_passes_everything_with_answers_checked_when_produced() {
    let Some(s) = samples() else { return };
    let x = a1(&s, &A1_RIMS);
    let p = Policy {
        ocsp_freshness: OcspFreshnessPolicy::AtProducedAt,
        ..Policy::default()
    };
    let c = run(&x, t("2025-06-01T00:00:00Z"), &p).unwrap();
    let m = c.measurements.as_ref().unwrap();
    // 33 golden entries: 32 match, index 35 is not compared because NVDEC0 is disabled (0x55).
    assert_eq!((m.golden, m.matched, m.skipped), (33, 32, 1));
    assert_eq!(c.rims.len(), 2);
    // 3 device-chain certificates + 3 per RIM chain.
    assert_eq!(
        c.ocsp.len(),
        9,
        "{:?}",
        c.ocsp
            .iter()
            .map(|o| (o.chain, o.index))
            .collect::<Vec<_>>()
    );
    assert!(c.production);
}

#[test]
fn a1_with_nvidia_ocsp_semantics_passes_until_responders_expire() {
    let Some(s) = samples() else { return };
    let x = a1(&s, &A1_RIMS);
    let p = Policy {
        ocsp_freshness: OcspFreshnessPolicy::Ignore,
        ..Policy::default()
    };
    assert!(run(&x, t("2024-06-02T00:00:00Z"), &p).is_ok());
    assert!(run(&x, t("2025-09-21T12:00:00Z"), &p).is_ok());
    let e = run(&x, t("2025-09-23T00:00:00Z"), &p).unwrap_err();
    assert!(e.starts_with("OCSP_RESPONDER_CHAIN"), "{e}");
}

#[test]
fn a1_strict_ocsp_rejects_answers_from_another_day() {
    let Some(s) = samples() else { return };
    let x = a1(&s, &A1_RIMS);
    let e = run(&x, t("2025-06-01T00:00:00Z"), &Policy::default()).unwrap_err();
    assert!(e.starts_with("OCSP_NOT_YET_VALID"), "{e}");
}

#[test]
fn a1_today_fails_on_expired_rim_signers() {
    let Some(s) = samples() else { return };
    let x = a1_without_ocsp(&s, &A1_RIMS);
    let p = Policy {
        require_ocsp: false,
        ..Policy::default()
    };
    let e = run(&x, t("2026-11-26T00:00:00Z"), &p).unwrap_err();
    assert!(e.starts_with("RIM_CHAIN") && e.contains("expired"), "{e}");
}

#[test]
fn a2_passes_in_its_window() {
    let Some(s) = samples() else { return };
    let x = set(
        &s,
        "nvtrust/legacy-2023/attestationReport.txt",
        "nvtrust/legacy-2023/gpuAkCertChain.txt",
        &[
            "nvtrust/rims/Driver_RIM_test_no_gpu.swidtag",
            "nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag",
        ],
        false,
        "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e",
    );
    let p = Policy {
        require_ocsp: false,
        ..Policy::default()
    };
    let c = run(&x, t("2024-01-01T00:00:00Z"), &p).unwrap();
    let m = c.measurements.unwrap();
    assert_eq!((m.golden, m.matched, m.skipped), (33, 32, 1));
    assert!(!c.device.fwid_verified);
    // The strict default wants OCSP answers, and there are none for this set.
    let e = run(&x, t("2024-01-01T00:00:00Z"), &Policy::default()).unwrap_err();
    assert!(e.starts_with("POLICY_MISSING_OCSP"), "{e}");
    // Without RIMs the strict default refuses.
    let bare = Set { rims: vec![], ..x };
    assert!(run(&bare, t("2024-01-01T00:00:00Z"), &p)
        .unwrap_err()
        .starts_with("POLICY_MISSING_RIMS"));
}

#[test]
fn section_b_manifest_negatives() {
    let Some(s) = samples() else { return };
    let p = Policy {
        require_ocsp: false,
        ..Policy::default()
    };
    let at = t("2025-06-01T00:00:00Z");
    // A2 report with the production VBIOS RIM: four VBIOS mismatches.
    let x = set(
        &s,
        "nvtrust/legacy-2023/attestationReport.txt",
        "nvtrust/legacy-2023/gpuAkCertChain.txt",
        &[
            "nvtrust/rims/Driver_RIM_test_no_gpu.swidtag",
            "nvtrust/rims/1010_0200_882_96005E0001_PROD.swidtag",
        ],
        false,
        "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e",
    );
    let e = run(&x, t("2024-01-01T00:00:00Z"), &p).unwrap_err();
    assert!(e.starts_with("MEASUREMENT_MISMATCH"), "{e}");
    for idx in ["1", "2", "3", "9"] {
        assert!(e.contains(idx), "{e}");
    }
    // A1 with a driver RIM of another release: version mismatch first.
    let x = a1_without_ocsp(
        &s,
        &[
            "attestation-sdk/unit-tests-testdata/NV_GPU_DRIVER_GH100_550.144.03.xml",
            A1_RIMS[1],
        ],
    );
    let e = run(&x, t("2025-01-15T00:00:00Z"), &p).unwrap_err();
    assert!(e.starts_with("RIM_VERSION_MISMATCH"), "{e}");
    // Bad XML signature, broken signer chain.
    let x = a1_without_ocsp(
        &s,
        &[
            "attestation-sdk/unit-tests-testdata/incorrect_signature_driver_rim.xml",
            A1_RIMS[1],
        ],
    );
    assert!(run(&x, at, &p)
        .unwrap_err()
        .starts_with("RIM_SIGNATURE_INVALID"));
    let x = a1_without_ocsp(
        &s,
        &[
            "attestation-sdk/unit-tests-testdata/incorrect_cert_chain_driver_rim.xml",
            A1_RIMS[1],
        ],
    );
    assert!(run(&x, at, &p).unwrap_err().starts_with("RIM_CHAIN"));
    // Edited payload: the reference digest catches it.
    let x = a1_without_ocsp(
        &s,
        &[
            "attestation-sdk/sample_rims/NV_GPU_DRIVER_GH100_535.86.09_measurement_mismatch.xml",
            A1_RIMS[1],
        ],
    );
    assert!(run(&x, at, &p)
        .unwrap_err()
        .starts_with("RIM_DIGEST_MISMATCH"));
    // The same RIM twice.
    let x = a1_without_ocsp(&s, &[A1_RIMS[1], A1_RIMS[1]]);
    assert!(run(&x, at, &p)
        .unwrap_err()
        .starts_with("RIM_DUPLICATE_KIND"));
}

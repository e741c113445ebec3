//! Device evidence (report + chain + nonce) on NVIDIA's real H100 samples: every report of
//! INDEX.md section D and the section-B negatives for signatures, chains and nonces.

use otr_core::attestation::list::parse_evidence_list;
use otr_core::attestation::{verify_device_evidence, Policy, TrailingBytes, TrustAnchors};
use otr_core::crypto::RustCrypto;
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::{ErrorCode, UnixTime};

fn samples() -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/nvidia-samples");
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

fn now() -> UnixTime {
    UnixTime::parse_rfc3339("2026-11-26T00:00:00Z").unwrap()
}

fn load(dir: &std::path::Path, report: &str, chain: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
    let r = hex_decode_lenient(&std::fs::read(dir.join(report)).unwrap()).unwrap();
    let c = pem_certificates(&std::fs::read(dir.join(chain)).unwrap()).unwrap();
    (r, c)
}

fn nonce(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn check(
    report: &[u8],
    chain: &[Vec<u8>],
    n: Option<&str>,
    policy: &Policy,
) -> Result<otr_core::attestation::evidence::DeviceClaims, String> {
    let n = n.map(nonce);
    verify_device_evidence(
        report,
        chain,
        n.as_ref(),
        now(),
        policy,
        &TrustAnchors::nvidia(),
        &RustCrypto,
    )
    .map(|v| v.claims)
    .map_err(|e| e.code().to_string())
}

const A1_NONCE: &str = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";
const A2_NONCE: &str = "4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e";

#[test]
fn section_d_positive_reports() {
    let Some(s) = samples() else { return };
    let p = Policy::device_only();
    // (report, chain, nonce, driver, vbios, fwid present)
    let cases = [
        (
            "nvtrust/hopperAttestationReport.txt",
            "nvtrust/hopperCertChain.txt",
            Some(A1_NONCE),
            "550.90.07",
            "96.00.9F.00.01",
            true,
        ),
        (
            "nvtrust/legacy-2023/attestationReport.txt",
            "nvtrust/legacy-2023/gpuAkCertChain.txt",
            Some(A2_NONCE),
            "545.00",
            "96.00.5E.00.01",
            false,
        ),
        (
            "attestation-sdk/unit-tests-testdata/hopperAttestationReport.txt",
            "attestation-sdk/unit-tests-testdata/hopperCertChain.txt",
            Some("5bb22e377702d4e1e8215a903ba094826b9ac7f731dee1fe8102958bf2840aca"),
            "580.159.03",
            "96.00.74.00.20",
            true,
        ),
        (
            "attestation-sdk/sample_attestation_data/gpu/hopperAttestationReport.txt",
            "attestation-sdk/sample_attestation_data/gpu/hopperCertChain.txt",
            None,
            "535.86.09",
            "96.00.5E.00.01",
            false,
        ),
        (
            "attestation-sdk/sample_attestation_data/gpu/hopperAttestationReportExpired.txt",
            "attestation-sdk/sample_attestation_data/gpu/hopperCertChainExpired.txt",
            Some(A1_NONCE),
            "570.124.03",
            "96.00.5E.00.04",
            true,
        ),
    ];
    for (r, c, n, drv, vbios, fwid) in cases {
        let (report, chain) = load(&s, r, c);
        let claims = check(&report, &chain, n, &p).unwrap_or_else(|e| panic!("{r}: {e}"));
        assert_eq!(claims.driver_version.as_deref(), Some(drv), "{r}");
        assert_eq!(claims.vbios_version.as_deref(), Some(vbios), "{r}");
        assert_eq!(claims.fwid_verified, fwid, "{r}");
        assert_eq!(claims.measurements.len(), 64, "{r}");
        assert_eq!(claims.measurements[63].index, 64, "{r}");
        assert_eq!(claims.hwmodel.as_deref(), Some("GH100 A01 GSP BROM"), "{r}");
        assert!(!claims.dev_root);
    }
}

#[test]
fn a1_claims_match_nvidia() {
    let Some(s) = samples() else { return };
    let (report, chain) = load(
        &s,
        "nvtrust/hopperAttestationReport.txt",
        "nvtrust/hopperCertChain.txt",
    );
    let claims = check(&report, &chain, Some(A1_NONCE), &Policy::device_only()).unwrap();
    assert_eq!(
        claims.ueid,
        "478176379286082186618948445787393647364802107249"
    );
    assert_eq!(claims.nvdec0_status, Some(0x55));
    assert_eq!(claims.project.as_deref(), Some("1010"));
    assert_eq!(claims.project_sku.as_deref(), Some("0200"));
    assert_eq!(claims.chip_sku.as_deref(), Some("882"));
    assert_eq!(report.len(), 4117);
}

#[test]
fn evidence_lists() {
    let Some(s) = samples() else { return };
    let json =
        std::fs::read(s.join("attestation-sdk/unit-tests-testdata/evidence_hopper_590_12.json"))
            .unwrap();
    let items = parse_evidence_list(&json).unwrap();
    assert!(!items.is_empty());
    let it = &items[0];
    assert_eq!(
        hex::encode(it.nonce.unwrap()),
        "e97b23a1718095a0e9e35edca810768c70a6a5a389b705e753b197912bc11576"
    );
    let claims = check(
        &it.report,
        &it.chain,
        Some(&hex::encode(it.nonce.unwrap())),
        &Policy::device_only(),
    )
    .unwrap();
    assert_eq!(claims.driver_version.as_deref(), Some("590.12"));
    assert_eq!(claims.vbios_version.as_deref(), Some("96.00.A5.00.01"));
    assert!(claims.fwid_verified);
}

#[test]
fn ppcie_eight_gpus() {
    let Some(s) = samples() else { return };
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.join("go-nvattest-tools/test_ppcie_data.json")).unwrap(),
    )
    .unwrap();
    let gpus = v["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 8);
    let mut ok = 0;
    for g in gpus {
        // NVIDIA's python object dump: PEM certificates base64-encoded one by one, report as hex.
        let chain: Vec<Vec<u8>> = g["CertificateChains"]["GpuAttestationCertificateChain"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| {
                let pem = otr_core::encoding::base64_decode_lenient(
                    c["pem"].as_str().unwrap().as_bytes(),
                )
                .unwrap();
                pem_certificates(&pem).unwrap()
            })
            .collect();
        let report_field = find_report(g).expect("attestation report field");
        let claims = check(
            &report_field,
            &chain,
            Some("1234567890123456789012345678901234567890123456789012345678901234"),
            &Policy::device_only(),
        )
        .unwrap();
        assert_eq!(claims.driver_version.as_deref(), Some("570.124.06"));
        assert_eq!(claims.vbios_version.as_deref(), Some("96.00.CF.00.02"));
        ok += 1;
    }
    assert_eq!(ok, 8);
}

fn find_report(g: &serde_json::Value) -> Option<Vec<u8>> {
    // Search the object for a hex or base64 string that parses as an SPDM report.
    fn walk(v: &serde_json::Value, out: &mut Option<Vec<u8>>) {
        match v {
            serde_json::Value::String(s) if s.len() > 4000 => {
                let cand = hex_decode_lenient(s.as_bytes())
                    .or_else(|| otr_core::encoding::base64_decode_lenient(s.as_bytes()));
                if let Some(b) = cand.filter(|b| b.starts_with(&[0x11, 0xe0])) {
                    *out = Some(b);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = None;
    walk(g, &mut out);
    out
}

#[test]
fn section_b_negatives() {
    let Some(s) = samples() else { return };
    let p = Policy::device_only();
    let (bad, chain) = load(
        &s,
        "attestation-sdk/sample_attestation_data/gpu/hopperAttestationReportInvalidSignature.txt",
        "attestation-sdk/sample_attestation_data/gpu/hopperCertChain.txt",
    );
    assert_eq!(
        check(&bad, &chain, Some(A1_NONCE), &p).unwrap_err(),
        "REPORT_SIGNATURE_INVALID"
    );

    let (a2, _) = load(
        &s,
        "nvtrust/legacy-2023/attestationReport.txt",
        "nvtrust/legacy-2023/gpuAkCertChain.txt",
    );
    let broken =
        pem_certificates(&std::fs::read(s.join("go-nvtrust/invalidCertChain.txt")).unwrap())
            .unwrap();
    let e = check(&a2, &broken, Some(A2_NONCE), &p).unwrap_err();
    assert!(e.starts_with("CHAIN_"), "{e}");

    let (a1, a1_chain) = load(
        &s,
        "nvtrust/hopperAttestationReport.txt",
        "nvtrust/hopperCertChain.txt",
    );
    assert_eq!(
        check(&a1, &a1_chain, Some(A2_NONCE), &p).unwrap_err(),
        "REPORT_NONCE_MISMATCH"
    );
    // A1 report with A2's chain: signature by a different GPU's key.
    let (_, a2_chain) = load(
        &s,
        "nvtrust/legacy-2023/attestationReport.txt",
        "nvtrust/legacy-2023/gpuAkCertChain.txt",
    );
    assert_eq!(
        check(&a1, &a2_chain, Some(A1_NONCE), &p).unwrap_err(),
        "REPORT_SIGNATURE_INVALID"
    );
    // Chain that stops short of the root.
    assert_eq!(
        check(&a1, &a1_chain[..4], Some(A1_NONCE), &p).unwrap_err(),
        "CHAIN_WRONG_LENGTH"
    );
    // Any flipped byte in the signed part is caught.
    for at in [4usize, 100, 3600, 4000] {
        let mut t = a1.clone();
        t[at] ^= 1;
        let e = check(&t, &a1_chain, None, &p).unwrap_err();
        assert!(
            e == "REPORT_SIGNATURE_INVALID" || e.starts_with("SPDM_"),
            "byte {at}: {e}"
        );
    }
    // Before the chain's validity: the leaf dates from 2020.
    let early = UnixTime::parse_rfc3339("2019-01-01T00:00:00Z").unwrap();
    let e = verify_device_evidence(
        &a1,
        &a1_chain,
        None,
        early,
        &p,
        &TrustAnchors::nvidia(),
        &RustCrypto,
    )
    .unwrap_err();
    assert_eq!(e.code(), "CHAIN_NOT_YET_VALID");
}

#[test]
fn trustee_trailing_byte_is_policy() {
    let Some(s) = samples() else { return };
    // Any real report with one extra byte appended stands in for trustee's hopper_coco_report1.
    let (mut a1, chain) = load(
        &s,
        "nvtrust/hopperAttestationReport.txt",
        "nvtrust/hopperCertChain.txt",
    );
    a1.push(0);
    assert_eq!(
        check(&a1, &chain, Some(A1_NONCE), &Policy::device_only()).unwrap_err(),
        "SPDM_TRAILING_BYTES"
    );
    let lenient = Policy {
        trailing_bytes: TrailingBytes::Allow,
        ..Policy::device_only()
    };
    assert!(check(&a1, &chain, Some(A1_NONCE), &lenient).is_ok());
}

#[test]
fn every_truncation_fails_cleanly() {
    let Some(s) = samples() else { return };
    let (a1, chain) = load(
        &s,
        "nvtrust/hopperAttestationReport.txt",
        "nvtrust/hopperCertChain.txt",
    );
    for n in 0..a1.len() {
        let e = check(&a1[..n], &chain, None, &Policy::device_only()).unwrap_err();
        assert!(e.starts_with("SPDM_"), "len {n}: {e}");
    }
}

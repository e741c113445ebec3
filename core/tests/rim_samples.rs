//! RIM verification and golden-measurement comparison on NVIDIA's public samples
//! (`../shared/nvidia-samples`, expectations from its `INDEX.md` sections A, B and E).
//! When the samples are absent these tests print a notice and pass; the self-contained tests
//! live in `core/src/rim/tests.rs`.

use std::path::{Path, PathBuf};

use otr_core::attestation::roots::NVIDIA_RIM_ROOT_PEM;
use otr_core::attestation::spdm::SpdmReport;
use otr_core::crypto::RustCrypto;
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::rim::xml::{Document, Node};
use otr_core::rim::{
    check_driver_version, check_vbios_version, compare_measurements, dsig, verify_rim,
    MeasurementError, RimError, RimKind, Verdict, SWID_NS,
};
use otr_core::x509::{parse_chain, verify_chain, Certificate, ChainOptions};
use otr_core::{ErrorCode, UnixTime};

fn samples() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/nvidia-samples"
    ));
    if dir.join("INDEX.md").is_file() {
        Some(dir)
    } else {
        println!("NVIDIA samples not found at {}; skipping", dir.display());
        None
    }
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn pem_cert(text: &[u8]) -> Certificate {
    Certificate::from_der(&pem_certificates(text).unwrap()[0]).unwrap()
}

fn rim_root() -> Certificate {
    pem_cert(NVIDIA_RIM_ROOT_PEM.as_bytes())
}

fn report(dir: &Path, rel: &str) -> SpdmReport {
    SpdmReport::parse(&hex_decode_lenient(&read(dir, rel)).unwrap()).unwrap()
}

fn t(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap()
}

const A1_DRIVER: &str = "go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml";
const A1_VBIOS: &str = "go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml";
const A1_REPORT: &str = "nvtrust/hopperAttestationReport.txt";
const A2_DRIVER: &str = "nvtrust/rims/Driver_RIM_test_no_gpu.swidtag";
const A2_VBIOS: &str = "nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag";
const A2_REPORT: &str = "nvtrust/legacy-2023/attestationReport.txt";
const NOW: &str = "2026-11-26T00:00:00Z";

/// INDEX.md table E: file, colloquialVersion, active entries, digest ok, signature ok, chain ok, window.
type Row = (
    &'static str,
    &'static str,
    usize,
    bool,
    bool,
    bool,
    &'static str,
    &'static str,
);
#[rustfmt::skip]
const TABLE_E: &[Row] = &[
    ("attestation-sdk/sample_rims/NV_GPU_DRIVER_GH100_535.86.09_measurement_mismatch.xml", "535.86.09", 22, false, true, true, "2025-05-24", "2027-04-30"),
    ("attestation-sdk/sample_rims/NV_GPU_DRIVER_GH100_570.124.03_expired.xml", "570.124.03", 21, false, true, true, "2025-01-01", "2025-01-02"),
    ("attestation-sdk/sample_rims/NV_GPU_VBIOS_1010_0200_882_96005E0001_measurement_mismatch.xml", "96.00.5E.00.01", 12, true, true, true, "2023-12-13", "2025-12-12"),
    ("attestation-sdk/unit-tests-testdata/NV_GPU_DRIVER_GH100_550.144.03.xml", "550.144.03", 21, true, true, true, "2024-12-30", "2026-12-30"),
    ("attestation-sdk/unit-tests-testdata/incorrect_cert_chain_driver_rim.xml", "97.00.83.00.09", 20, true, true, false, "2025-02-01", "2027-02-01"),
    ("attestation-sdk/unit-tests-testdata/incorrect_signature_driver_rim.xml", "550.144.03", 21, true, false, true, "2024-12-30", "2026-12-30"),
    ("go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml", "550.90.07", 21, true, true, true, "2024-06-01", "2026-06-01"),
    ("go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml", "96.00.9F.00.01", 12, true, true, true, "2024-02-23", "2026-02-22"),
    ("nvtrust/rims/1010_0200_882_96005E0001_PROD.swidtag", "96.00.5E.00.01", 12, true, true, true, "2023-06-23", "2025-06-22"),
    ("nvtrust/rims/1010_0200_882_96005E0001_test_no_gpu.swidtag", "96.00.5E.00.01", 12, true, true, true, "2023-06-23", "2025-06-22"),
    ("nvtrust/rims/1010_0200_882_96005E0003_PROD.swidtag", "96.00.5E.00.03", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0200_882_960074001A_PROD.swidtag", "96.00.74.00.1A", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0200_882_960074001C_PROD.swidtag", "96.00.74.00.1C", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0205_862_96005E0002_PROD.swidtag", "96.00.5E.00.02", 12, true, true, true, "2023-06-28", "2025-06-27"),
    ("nvtrust/rims/1010_0205_862_96005E0004_PROD.swidtag", "96.00.5E.00.04", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0205_862_960074001F_PROD.swidtag", "96.00.74.00.1F", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0205_862_9600740020_PROD.swidtag", "96.00.74.00.20", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0210_886_9600740011_PROD.swidtag", "96.00.74.00.11", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/1010_0215_866_9600740010_PROD.swidtag", "96.00.74.00.10", 12, true, true, true, "2023-09-06", "2025-09-05"),
    ("nvtrust/rims/Driver_RIM_test_no_gpu.swidtag", "545.00", 21, true, true, true, "2023-06-27", "2025-06-26"),
    ("nvtrust/rims/g520_0200_885_9600740001_PROD.swidtag", "96.00.74.00.01", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0200_885_960074000D_PROD.swidtag", "96.00.74.00.0D", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0202_885_96006D0008_PROD.swidtag", "96.00.6D.00.08", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0202_885_96006D0027_PROD.swidtag", "96.00.6D.00.27", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0202_885_9600740014_PROD.swidtag", "96.00.74.00.14", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0202_885_9600740018_PROD.swidtag", "96.00.74.00.18", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0205_865_9600740006_PROD.swidtag", "96.00.74.00.06", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0205_865_960074000F_PROD.swidtag", "96.00.74.00.0F", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0207_865_9600740015_PROD.swidtag", "96.00.74.00.15", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0207_865_9600740019_PROD.swidtag", "96.00.74.00.19", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0213_881_96006D0007_PROD.swidtag", "96.00.6D.00.07", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0213_881_96006D0026_PROD.swidtag", "96.00.6D.00.26", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0228_889_96006D000A_PROD.swidtag", "96.00.6D.00.0A", 12, true, true, true, "2023-08-25", "2025-08-24"),
    ("nvtrust/rims/g520_0228_889_96006D0029_PROD.swidtag", "96.00.6D.00.29", 12, true, true, true, "2023-08-25", "2025-08-24"),
];

/// Counts active measurement resources straight from the XML (independent of `Rim`).
fn active_in_xml(doc: &Document) -> usize {
    doc.nodes()
        .iter()
        .filter(|n| match n {
            Node::Element(e) => {
                e.is(SWID_NS, "Resource")
                    && e.attribute("", "type")
                        .is_some_and(|a| a.value == "Measurement")
                    && e.attribute("", "active").is_some_and(|a| a.value == "True")
            }
            _ => false,
        })
        .count()
}

#[test]
fn table_e_digest_signature_chain_window() {
    let Some(dir) = samples() else { return };
    let anchors = [rim_root()];
    let v = RustCrypto;
    for &(file, version, active, digest_ok, sig_ok, chain_ok, start, end) in TABLE_E {
        let xml = read(&dir, file);
        let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(active_in_xml(&doc), active, "{file}: active entries");
        let parts = dsig::locate(&doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        // NVIDIA's chains: L4 signer, L3, L2, root (the Debug-CA sample carries only two).
        assert_eq!(
            parts.certificates.len(),
            if chain_ok { 4 } else { 2 },
            "{file}"
        );
        let digest = dsig::check_digest(&doc, &parts);
        assert_eq!(digest.is_ok(), digest_ok, "{file}: digest {digest:?}");
        if let Err(e) = &digest {
            assert_eq!(e.code(), "RIM_DIGEST_MISMATCH");
        }
        let sig = dsig::check_signature(&doc, &parts, &v);
        assert_eq!(sig.is_ok(), sig_ok, "{file}: signature {sig:?}");
        if let Err(e) = &sig {
            assert_eq!(e.code(), "RIM_SIGNATURE_INVALID");
        }
        // Chain signatures, checked inside the validity window.
        let certs = parse_chain(&parts.certificates).unwrap();
        let leaf = &certs[0];
        assert!(
            leaf.not_before.to_string().starts_with(start),
            "{file}: notBefore {}",
            leaf.not_before
        );
        let earliest = certs.iter().map(|c| c.not_after).min().unwrap();
        assert!(
            earliest.to_string().starts_with(end),
            "{file}: earliest notAfter {earliest}"
        );
        let inside = UnixTime(leaf.not_before.0 + (earliest.0 - leaf.not_before.0) / 2);
        let chain = verify_chain(&certs, &anchors, inside, &v, &ChainOptions::default());
        assert_eq!(chain.is_ok(), chain_ok, "{file}: chain {chain:?}");
        if chain_ok {
            let expired = verify_chain(
                &certs,
                &anchors,
                UnixTime(earliest.0 + 1),
                &v,
                &ChainOptions::default(),
            );
            assert_eq!(expired.unwrap_err().code(), "CHAIN_EXPIRED", "{file}");
        }
        // The full pipeline, inside the window.
        match verify_rim(&xml, &anchors, inside, &v) {
            Ok(rim) => {
                assert!(digest_ok && sig_ok && chain_ok, "{file}");
                assert_eq!(rim.rim().meta.colloquial_version, version, "{file}");
                assert_eq!(rim.rim().active().count(), active, "{file}");
                assert_eq!(rim.rim().measurements.len(), 64, "{file}");
                assert_eq!(rim.expires(), earliest);
            }
            Err(e) => {
                let want = if !digest_ok {
                    "RIM_DIGEST_MISMATCH"
                } else if !sig_ok {
                    "RIM_SIGNATURE_INVALID"
                } else {
                    "RIM_CHAIN"
                };
                assert_eq!(e.code(), want, "{file}: {e}");
            }
        }
    }
}

#[test]
fn a1_rims_verify_in_window_and_expire_later() {
    let Some(dir) = samples() else { return };
    let anchors = [rim_root()];
    for file in [A1_DRIVER, A1_VBIOS] {
        let xml = read(&dir, file);
        let ok = verify_rim(&xml, &anchors, t("2025-06-01T00:00:00Z"), &RustCrypto).unwrap();
        assert_eq!(
            ok.rim().meta.platform_manufacturer_id.as_deref(),
            Some("5703")
        );
        assert_eq!(
            ok.rim().meta.firmware_manufacturer_id.as_deref(),
            Some("5703")
        );
        assert_eq!(ok.rim().meta.product.as_deref(), Some("GH100"));
        assert_eq!(ok.rim().name, "GH100");
        assert_eq!(ok.rim().tag_id.len(), 96);
        assert!(
            ok.signer().contains("HCC RIM L4 Signer") || ok.signer().contains("L4"),
            "{}",
            ok.signer()
        );
        let err = verify_rim(&xml, &anchors, t(NOW), &RustCrypto).unwrap_err();
        assert_eq!(err.code(), "RIM_CHAIN");
        assert_eq!(err.inner_code(), Some("CHAIN_EXPIRED"), "{err}");
        assert!(matches!(err, RimError::Chain(_)));
    }
}

#[test]
fn incorrect_rims_and_root() {
    let Some(dir) = samples() else { return };
    let anchors = [rim_root()];
    let when = t("2025-06-01T00:00:00Z");
    let xml = read(
        &dir,
        "attestation-sdk/unit-tests-testdata/incorrect_signature_driver_rim.xml",
    );
    assert_eq!(
        verify_rim(&xml, &anchors, when, &RustCrypto)
            .unwrap_err()
            .code(),
        "RIM_SIGNATURE_INVALID"
    );
    let xml = read(
        &dir,
        "attestation-sdk/unit-tests-testdata/incorrect_cert_chain_driver_rim.xml",
    );
    let err = verify_rim(&xml, &anchors, when, &RustCrypto).unwrap_err();
    assert_eq!(err.code(), "RIM_CHAIN", "{err}");
    let bad_root = pem_cert(&read(
        &dir,
        "attestation-sdk/unit-tests-testdata/incorrect_rim_root.crt",
    ));
    let xml = read(&dir, A1_DRIVER);
    let err = verify_rim(&xml, &[bad_root], when, &RustCrypto).unwrap_err();
    assert_eq!(err.code(), "RIM_CHAIN", "{err}");
    // NVIDIA's own copy of the RIM root is the pinned one.
    let nv_root = pem_cert(&read(
        &dir,
        "attestation-sdk/unit-tests-testdata/trusted_certs/rim_root.crt",
    ));
    assert!(verify_rim(&xml, &[nv_root], when, &RustCrypto).is_ok());
}

fn verified(dir: &Path, file: &str, when: &str) -> otr_core::rim::VerifiedRim {
    verify_rim(&read(dir, file), &[rim_root()], t(when), &RustCrypto)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn a1_and_a2_measurements_match() {
    let Some(dir) = samples() else { return };
    for (drv, vb, rep, when) in [
        (A1_DRIVER, A1_VBIOS, A1_REPORT, "2025-06-01T00:00:00Z"),
        (A2_DRIVER, A2_VBIOS, A2_REPORT, "2024-01-01T00:00:00Z"),
    ] {
        let (driver, vbios, report) = (
            verified(&dir, drv, when),
            verified(&dir, vb, when),
            report(&dir, rep),
        );
        check_driver_version(driver.rim(), &report).unwrap();
        check_vbios_version(vbios.rim(), &report).unwrap();
        let cmp = compare_measurements(driver.rim(), vbios.rim(), &report).unwrap();
        assert_eq!(cmp.golden(), 33, "{rep}");
        assert_eq!(cmp.mismatched, 0, "{rep}: {:?}", cmp.mismatches());
        assert_eq!(cmp.matched + cmp.skipped, 33, "{rep}");
        assert!(cmp.require_all_match().is_ok());
        let skipped: Vec<u8> = cmp
            .results
            .iter()
            .filter(|r| r.verdict == Verdict::Skipped)
            .map(|r| r.index)
            .collect();
        assert!(skipped.is_empty() || skipped == [35], "{skipped:?}");
        println!(
            "{rep}: matched {} skipped {} of {}",
            cmp.matched,
            cmp.skipped,
            cmp.golden()
        );
        // Swapping the two RIMs changes nothing but the kinds.
        let swapped = compare_measurements(vbios.rim(), driver.rim(), &report).unwrap();
        assert_eq!(swapped.matched, cmp.matched);
        // The same RIM twice conflicts on every active index.
        let err = compare_measurements(driver.rim(), driver.rim(), &report).unwrap_err();
        assert_eq!(err.code(), "RIM_INDEX_CONFLICT");
    }
}

fn mismatch_indices(err: &MeasurementError) -> Vec<(u8, RimKind)> {
    match err {
        MeasurementError::Mismatch { mismatches } => {
            mismatches.iter().map(|m| (m.index, m.kind)).collect()
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn section_b_measurement_mismatches() {
    let Some(dir) = samples() else { return };
    // A2 report with the PROD VBIOS RIM: VBIOS mismatches at 1, 2, 3, 9.
    let when = "2024-01-01T00:00:00Z";
    let driver = verified(&dir, A2_DRIVER, when);
    let vbios = verified(
        &dir,
        "nvtrust/rims/1010_0200_882_96005E0001_PROD.swidtag",
        when,
    );
    let report2 = report(&dir, A2_REPORT);
    check_vbios_version(vbios.rim(), &report2).unwrap();
    let cmp = compare_measurements(driver.rim(), vbios.rim(), &report2).unwrap();
    let err = cmp.require_all_match().unwrap_err();
    assert_eq!(err.code(), "MEASUREMENT_MISMATCH");
    let k = RimKind::Vbios;
    assert_eq!(
        mismatch_indices(&err),
        [(1, k), (2, k), (3, k), (9, k)],
        "{err}"
    );
    assert_eq!(cmp.mismatched, 4);

    // A1 report with the 550.144.03 driver RIM: version mismatch and 5 driver mismatches.
    let when = "2025-06-01T00:00:00Z";
    let driver = verified(
        &dir,
        "attestation-sdk/unit-tests-testdata/NV_GPU_DRIVER_GH100_550.144.03.xml",
        when,
    );
    let vbios = verified(&dir, A1_VBIOS, when);
    let report1 = report(&dir, A1_REPORT);
    let err = check_driver_version(driver.rim(), &report1).unwrap_err();
    assert_eq!(err.code(), "RIM_VERSION_MISMATCH");
    match &err {
        RimError::VersionMismatch {
            kind: RimKind::Driver,
            mismatch,
        } => {
            assert_eq!(mismatch.got, "550.144.03");
            assert_eq!(mismatch.expected, "550.90.07");
        }
        e => panic!("unexpected {e}"),
    }
    check_vbios_version(vbios.rim(), &report1).unwrap();
    let err = otr_core::rim::verify_measurements(driver.rim(), vbios.rim(), &report1).unwrap_err();
    let k = RimKind::Driver;
    assert_eq!(
        mismatch_indices(&err),
        [(7, k), (22, k), (31, k), (39, k), (40, k)],
        "{err}"
    );
    // Every mismatch carries the runtime value and the alternatives.
    if let MeasurementError::Mismatch { mismatches } = &err {
        for m in mismatches {
            assert_eq!(m.got.as_ref().map(String::len), Some(96));
            assert!(!m.expected.is_empty() && !m.expected.contains(m.got.as_ref().unwrap()));
        }
    }
    // A VBIOS RIM checked against the driver version of the report fails.
    assert_eq!(
        check_vbios_version(driver.rim(), &report1)
            .unwrap_err()
            .code(),
        "RIM_VERSION_MISMATCH"
    );
}

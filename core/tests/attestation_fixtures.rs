//! Every self-made fixture under `fixtures/attestation/` gives the verdict its `case.json` names.
//! These cases need nothing outside the repository, and together reach every device-evidence
//! error code (checked at the end).

use std::collections::BTreeSet;
use std::path::Path;

use otr_core::attestation::{verify_device_evidence, Policy, TrustAnchors};
use otr_core::crypto::RustCrypto;
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::x509::Certificate;
use otr_core::{ErrorCode, UnixTime};

#[test]
fn attestation_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/attestation");
    let mut seen = BTreeSet::new();
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/attestation")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for case in entries.into_iter().filter(|p| p.join("case.json").exists()) {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
        let report = hex_decode_lenient(&std::fs::read(case.join("report.hex")).unwrap()).unwrap();
        let chain = pem_certificates(&std::fs::read(case.join("chain.pem")).unwrap()).unwrap();
        let nonce: [u8; 32] = hex::decode(m["nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let time = UnixTime::parse_rfc3339(m["time"].as_str().unwrap()).unwrap();
        let policy: Policy = serde_json::from_value(m["policy"].clone()).unwrap();
        let mut anchors = TrustAnchors::nvidia();
        if let Some(root) = m["dev_root"].as_str() {
            let der = pem_certificates(&std::fs::read(case.join(root)).unwrap())
                .unwrap()
                .remove(0);
            anchors = anchors.with_dev_root(Certificate::from_der(&der).unwrap());
        }
        let got = match verify_device_evidence(
            &report,
            &chain,
            Some(&nonce),
            time,
            &policy,
            &anchors,
            &RustCrypto,
        ) {
            Ok(v) => {
                assert!(
                    v.claims.dev_root,
                    "{name}: dev evidence must be labelled dev"
                );
                "ok".to_string()
            }
            Err(e) => e.code().to_string(),
        };
        assert_eq!(
            got,
            m["expected"].as_str().unwrap(),
            "fixture {name}: {}",
            m["description"]
        );
        seen.insert(got);
        n += 1;
    }
    assert!(n >= 25, "only {n} fixtures found");
    for code in [
        "ok",
        "POLICY_DEV_ROOT",
        "POLICY_DRIVER_VERSION",
        "POLICY_VBIOS_VERSION",
        "REPORT_NONCE_MISMATCH",
        "REPORT_SIGNATURE_INVALID",
        "REPORT_FWID_MISMATCH",
        "REPORT_FWID_MISSING",
        "SPDM_TRAILING_BYTES",
        "SPDM_TRUNCATED",
        "SPDM_BAD_FIELD",
        "SPDM_BAD_MEASUREMENT_BLOCK",
        "SPDM_BLOCK_COUNT",
        "SPDM_BAD_OPAQUE_DATA",
        "CHAIN_UNTRUSTED_ROOT",
        "CHAIN_EXPIRED",
        "CHAIN_NOT_YET_VALID",
        "CHAIN_NOT_CA",
        "CHAIN_KEY_USAGE",
        "CHAIN_PATH_LEN",
        "CHAIN_UNKNOWN_CRITICAL_EXTENSION",
        "CHAIN_ISSUER_MISMATCH",
        "CHAIN_BAD_SIGNATURE",
        "CHAIN_WRONG_LENGTH",
        "CHAIN_CERT_DECODE",
    ] {
        assert!(seen.contains(code), "no fixture reaches {code}");
    }
}

//! Every self-made fixture under `fixtures/gpu/` (dev report and chain, dev-signed reference
//! manifests, dev OCSP answers) gives the verdict its `case.json` names under `verify_gpu`.
//! These cases need nothing outside the repository, and together reach every RIM, measurement
//! and OCSP error code listed at the end.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use otr_core::attestation::gpu::{verify_gpu, GpuError, GpuEvidence};
use otr_core::attestation::{Policy, TrustAnchors};
use otr_core::crypto::RustCrypto;
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::rim::RimError;
use otr_core::x509::Certificate;
use otr_core::{ErrorCode, UnixTime};

/// The files of `dir` (if it exists), sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn gpu_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/gpu");
    let mut seen = BTreeSet::new();
    let mut n = 0;
    for case in files(&dir)
        .into_iter()
        .filter(|p| p.join("case.json").exists())
    {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
        let report = hex_decode_lenient(&std::fs::read(case.join("report.hex")).unwrap()).unwrap();
        let chain = pem_certificates(&std::fs::read(case.join("chain.pem")).unwrap()).unwrap();
        let rims: Vec<Vec<u8>> = files(&case.join("rims"))
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        let ocsp: Vec<Vec<u8>> = files(&case.join("ocsp"))
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        let nonce: [u8; 32] = hex::decode(m["nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let time = UnixTime::parse_rfc3339(m["time"].as_str().unwrap()).unwrap();
        let policy: Policy = serde_json::from_value(m["policy"].clone()).unwrap();
        let mut anchors = TrustAnchors::nvidia();
        for root in m["dev_roots"].as_array().into_iter().flatten() {
            let der = pem_certificates(&std::fs::read(case.join(root.as_str().unwrap())).unwrap())
                .unwrap()
                .remove(0);
            anchors = anchors.with_dev_root(Certificate::from_der(&der).unwrap());
        }
        let ev = GpuEvidence {
            report: &report,
            chain: &chain,
            rims: &rims,
            ocsp: &ocsp,
        };
        let (got, inner) = match verify_gpu(&ev, Some(&nonce), time, &policy, &anchors, &RustCrypto)
        {
            Ok(v) => {
                assert!(
                    !v.claims.production,
                    "{name}: dev evidence must not count as production"
                );
                let cmp = v
                    .claims
                    .measurements
                    .as_ref()
                    .expect("measurements compared");
                assert_eq!(cmp.matched + cmp.skipped, cmp.golden, "{name}");
                assert_eq!(v.claims.rims.len(), 2, "{name}");
                assert_eq!(v.claims.ocsp.len(), 9, "{name}: 3 device + 3 per RIM chain");
                ("ok".to_string(), None)
            }
            Err(e) => {
                let inner = match &e {
                    GpuError::Rim(r @ RimError::Chain(_)) => r.inner_code(),
                    _ => None,
                };
                (e.code().to_string(), inner)
            }
        };
        assert_eq!(
            got,
            m["expected"].as_str().unwrap(),
            "fixture {name}: {}",
            m["description"]
        );
        assert_eq!(
            inner,
            m["inner"].as_str(),
            "fixture {name}: inner chain code"
        );
        seen.insert(got);
        n += 1;
    }
    assert!(n >= 20, "only {n} GPU fixtures found");
    for code in [
        "ok",
        "RIM_DIGEST_MISMATCH",
        "RIM_SIGNATURE_INVALID",
        "RIM_CHAIN",
        "RIM_VERSION_MISMATCH",
        "MEASUREMENT_MISMATCH",
        "RIM_INDEX_CONFLICT",
        "RIM_DOCTYPE",
        "RIM_XML_SYNTAX",
        "RIM_NO_SIGNATURE",
        "RIM_DUPLICATE_KIND",
        "POLICY_MISSING_RIMS",
        "POLICY_MISSING_OCSP",
        "OCSP_REVOKED",
        "OCSP_UNKNOWN_STATUS",
        "OCSP_STALE",
        "OCSP_NOT_YET_VALID",
        "OCSP_BAD_SIGNATURE",
        "OCSP_RESPONDER_UNAUTHORIZED",
        "OCSP_DECODE",
    ] {
        assert!(seen.contains(code), "no GPU fixture reaches {code}");
    }
}

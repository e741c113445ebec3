//! The input conversions and core calls of the WASM layer, natively: every bundle fixture gives
//! its expected verdict or code through `api`, and each input error has its code. (The same calls
//! through JavaScript are tested by `npm test` in npm/.)

use std::fs;
use std::path::{Path, PathBuf};

use otr_core::crypto::RustCrypto;
use otr_core::ErrorCode;
use otr_verifier_wasm::api::{self, Settings};
use otr_verifier_wasm::failure::{Failure, InputError};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn settings(case: &serde_json::Value, dir: &Path) -> Settings {
    let time = api::time_from_text(case["time"].as_str().unwrap()).unwrap();
    let mut s = Settings::new(time);
    s.policy = serde_json::from_value(case["policy"].clone()).unwrap();
    if let Some(root) = case["dev_root"].as_str() {
        let pem = fs::read_to_string(dir.join(root)).unwrap();
        s.anchors = api::trust_anchors(None, None, &[pem]).unwrap();
    }
    s.expected_prompt = case["expected_prompt"]
        .as_str()
        .map(|p| p.as_bytes().to_vec());
    s
}

#[test]
fn every_bundle_fixture_gives_its_expected_outcome() {
    let mut seen = 0;
    for entry in fs::read_dir(fixtures().join("bundles")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(text) = fs::read_to_string(dir.join("case.json")) else {
            continue;
        };
        let case: serde_json::Value = serde_json::from_str(&text).unwrap();
        let expected = case["expected"].as_str().unwrap();
        let s = settings(&case, &dir);
        let bytes = fs::read(dir.join("bundle.otrb")).unwrap();
        let outcome = api::read_bundle(&bytes)
            .map_err(|e| Failure::of(&e))
            .and_then(|b| api::verify_bundle(&b, &s, &RustCrypto).map_err(|e| Failure::of(&e)));
        match outcome {
            Ok(v) => {
                assert_eq!(expected, "ok", "{}", dir.display());
                let finality = serde_json::to_value(v.finality).unwrap();
                assert_eq!(finality["state"], case["finality"], "{}", dir.display());
                assert!(!v.gpu.production);
                assert_eq!(v.prompt_verified, case["expected_prompt"].is_string());
            }
            Err(f) => assert_eq!(f.code, expected, "{}: {}", dir.display(), f.message),
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} bundle fixtures found");
}

#[test]
fn json_and_binary_forms_read_alike() {
    let dir = fixtures().join("bundles/final");
    let bin = api::read_bundle(&fs::read(dir.join("bundle.otrb")).unwrap()).unwrap();
    let mut text = b"  \n".to_vec();
    text.extend(fs::read(dir.join("bundle.json")).unwrap());
    assert_eq!(api::read_bundle(&text).unwrap(), bin);
    let e = api::read_bundle(b"{").unwrap_err();
    assert_eq!(e.code(), "BUNDLE_JSON_INVALID");
    let e = api::read_bundle(b"OTRX").unwrap_err();
    assert_eq!(e.code(), "BUNDLE_BAD_MAGIC");
}

#[test]
fn gpu_evidence_fixture() {
    let dir = fixtures().join("attestation/ok");
    let case: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let s = settings(&case, &dir);
    let nonce = api::hash_from_text(case["nonce"].as_str().unwrap(), "nonce").unwrap();
    let input = api::GpuInput {
        report: fs::read(dir.join("report.hex")).unwrap(),
        chain_pem: fs::read(dir.join("chain.pem")).unwrap(),
        nonce: Some(nonce),
        ..Default::default()
    };
    let claims = api::verify_gpu_evidence(&input, &s, &RustCrypto).unwrap();
    assert!(claims.device.dev_root && !claims.production);
    let bad = api::GpuInput {
        chain_pem: b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n".to_vec(),
        ..input
    };
    let f = api::verify_gpu_evidence(&bad, &s, &RustCrypto).unwrap_err();
    assert_eq!(f.code, "CHAIN_PEM");
}

#[test]
fn input_errors_have_codes() {
    assert_eq!(api::time_from_seconds(1.5e9).unwrap().0, 1_500_000_000);
    assert_eq!(api::time_from_seconds(1.9).unwrap().0, 1);
    for bad in [f64::NAN, -1.0, f64::INFINITY, 1e12] {
        assert_eq!(
            api::time_from_seconds(bad).unwrap_err().code(),
            "INPUT_TIME"
        );
    }
    assert_eq!(
        api::time_from_text("soon").unwrap_err().code(),
        "INPUT_TIME"
    );
    assert_eq!(
        api::hash_from_text(&format!("0x{}", "ab".repeat(32)), "h").unwrap(),
        [0xab; 32]
    );
    assert_eq!(
        api::hash_from_text("ab", "h").unwrap_err(),
        InputError::Hash { what: "h" }
    );
    assert_eq!(
        api::hash_from_bytes(&[0; 31], "h").unwrap_err().code(),
        "INPUT_HASH"
    );
    assert_eq!(
        api::report_bytes(b"zz").unwrap_err().code(),
        "INPUT_REPORT_ENCODING"
    );
    assert_eq!(api::report_bytes(&[0x11, 0xe0]).unwrap(), vec![0x11, 0xe0]);
    assert_eq!(api::report_bytes(b"11 e0\n").unwrap(), vec![0x11, 0xe0]);
    let e = api::trust_anchors(None, None, &["no pem".into()]).unwrap_err();
    assert_eq!((e.code(), e.stage().as_str()), ("INPUT_ANCHOR", "input"));
    let e = api::trust_anchors(
        Some(&["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()]),
        None,
        &[],
    )
    .unwrap_err();
    assert_eq!(e.code(), "INPUT_ANCHOR");
    // Replacing a root list keeps the other one.
    let dev = fs::read_to_string(fixtures().join("attestation/dev-root.pem")).unwrap();
    let a = api::trust_anchors(Some(std::slice::from_ref(&dev)), None, &[]).unwrap();
    assert_eq!((a.device.len(), a.rim.len()), (1, 1));
    assert!(!a.device[0].dev);
    let a = api::trust_anchors(None, None, &[dev]).unwrap();
    assert_eq!((a.device.len(), a.rim.len()), (2, 2));
    assert!(a.device[1].dev && a.rim[1].dev);
}

#[test]
fn inclusion_and_proof() {
    use otr_core::rollup::merkle;
    let items: Vec<[u8; 1]> = (0..5u8).map(|i| [i]).collect();
    let root = merkle::root(&items);
    let p = merkle::prove(&items, 3).unwrap();
    let c = api::verify_inclusion(&[3], 3, 5, &p.path, &root).unwrap();
    assert_eq!(c.root, hex::encode(root));
    let e = api::verify_inclusion(&[4], 3, 5, &p.path, &root).unwrap_err();
    assert_eq!(e.code(), "INCLUSION_ROOT_MISMATCH");

    let zk = fixtures().join("zk/snarkjs_muladd");
    let read = |f: &str| fs::read_to_string(zk.join(f)).unwrap();
    let keys = api::VkCache::new(1);
    let vk = keys.get(&read("verification_key.json")).unwrap();
    let c = api::verify_proof(&vk, &read("proof.json"), &read("public.json")).unwrap();
    assert_eq!(c.public_inputs, vec!["33", "14"]);
    assert_eq!(c.key_id, hex::encode(vk.key_id()));
    // Served from the cache the second time: the same key.
    assert_eq!(
        keys.get(&read("verification_key.json")).unwrap().key_id(),
        vk.key_id()
    );
    assert_eq!(keys.get("{").unwrap_err().code, "PROOF_JSON_INVALID");
    let f = api::verify_proof(&vk, &read("proof.json"), r#"["33","15"]"#).unwrap_err();
    assert_eq!((f.code, f.stage.as_str()), ("PROOF_INVALID", "proof"));
}

/// fixtures/bundles/full_a1_like (spec.json: two dev roots, a verifying key): A1-shaped evidence
/// with both RIMs and OCSP answers, and a Groth16 proof, verified natively through `api`.
#[test]
fn full_a1_like_bundle_verifies_with_rims_ocsp_and_proof() {
    let dir = fixtures().join("bundles/full_a1_like");
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("spec.json")).unwrap()).unwrap();
    let mut s = Settings::new(api::time_from_text(spec["time"].as_str().unwrap()).unwrap());
    s.policy = serde_json::from_value(spec["policy"].clone()).unwrap();
    let roots: Vec<String> = spec["dev_roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap())
        .collect();
    s.anchors = api::trust_anchors(None, None, &roots).unwrap();
    let keys = api::VkCache::new(4);
    for f in spec["verifying_keys"].as_array().unwrap() {
        let text = fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap();
        s.verifying_keys.push(keys.get(&text).unwrap());
    }
    let b = api::read_bundle(&fs::read(dir.join("bundle.otrb")).unwrap()).unwrap();
    let v = api::verify_bundle(&b, &s, &RustCrypto).unwrap();
    assert_eq!(
        serde_json::to_value(v.finality).unwrap()["state"],
        spec["finality"]
    );
    assert_eq!(v.proofs.len(), 1);
    assert_eq!(v.gpu.rims.len(), 2);
    assert_eq!(v.gpu.ocsp.len(), 9);
    assert!(!v.gpu.production);

    // Without the key, the proof is for an unknown circuit.
    s.verifying_keys.clear();
    let e = api::verify_bundle(&b, &s, &RustCrypto).unwrap_err();
    assert_eq!(Failure::of(&e).code, "PROOF_UNKNOWN_CIRCUIT");
}

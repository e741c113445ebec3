//! Every bundle fixture under `fixtures/bundles/` gives the verdict (and finality) its
//! `case.json` names, through the library and through the `otr verify bundle` command; the
//! binary and JSON forms decode to the same bundle.

use std::path::{Path, PathBuf};
use std::process::Command;

use otr_core::attestation::{Policy, TrustAnchors};
use otr_core::crypto::RustCrypto;
use otr_core::encoding::pem_certificates;
use otr_core::rollup::AnswerBundle;
use otr_core::verify::{verify_bundle, VerifyOptions};
use otr_core::x509::Certificate;
use otr_core::{ErrorCode, UnixTime};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").exists())
        .collect();
    v.sort();
    v
}

#[test]
fn bundle_fixtures_library() {
    let mut n = 0;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
        let bin = std::fs::read(case.join("bundle.otrb")).unwrap();
        let decoded = AnswerBundle::decode(&bin);
        if let Ok(json) = std::fs::read_to_string(case.join("bundle.json")) {
            assert_eq!(
                AnswerBundle::from_json(&json).unwrap(),
                *decoded.as_ref().unwrap(),
                "{name}: JSON and binary forms differ"
            );
        }
        let policy: Policy = serde_json::from_value(m["policy"].clone()).unwrap();
        let root =
            pem_certificates(&std::fs::read(case.join(m["dev_root"].as_str().unwrap())).unwrap())
                .unwrap()
                .remove(0);
        let anchors = TrustAnchors::nvidia().with_dev_root(Certificate::from_der(&root).unwrap());
        let opts = VerifyOptions {
            time: UnixTime::parse_rfc3339(m["time"].as_str().unwrap()).unwrap(),
            policy: &policy,
            anchors: &anchors,
            verifier: &RustCrypto,
            verifying_keys: &[],
            expected_request_hash: None,
            expected_weights_root: None,
            expected_temperature_milli: None,
            expected_prompt: m["expected_prompt"].as_str().map(str::as_bytes),
        };
        let got = match decoded {
            Err(e) => e.code().to_string(),
            Ok(b) => match verify_bundle(&b, &opts) {
                Ok(v) => {
                    let state = serde_json::to_value(v.finality).unwrap()["state"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    assert_eq!(
                        Some(state.as_str()),
                        m["finality"].as_str(),
                        "{name}: finality"
                    );
                    assert!(
                        !v.gpu.production,
                        "{name}: dev evidence must not be labelled production"
                    );
                    assert_eq!(
                        v.gpu.device.nonce,
                        hex::encode(v.structure.header_hash),
                        "{name}: GPU nonce is the header hash"
                    );
                    "ok".to_string()
                }
                Err(e) => e.code().to_string(),
            },
        };
        assert_eq!(
            got,
            m["expected"].as_str().unwrap(),
            "fixture {name}: {}",
            m["description"]
        );
        n += 1;
    }
    assert!(n >= 14, "only {n} bundle fixtures");
}

#[test]
fn bundle_fixtures_cli() {
    let otr = env!("CARGO_BIN_EXE_otr");
    for case in cases() {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
        let policy_file =
            std::env::temp_dir().join(format!("otr-policy-{}.json", std::process::id()));
        std::fs::write(&policy_file, m["policy"].to_string()).unwrap();
        let file = if case.join("bundle.json").exists() {
            case.join("bundle.json")
        } else {
            case.join("bundle.otrb")
        };
        let mut cmd = Command::new(otr);
        cmd.args(["verify", "bundle"])
            .arg(&file)
            .args(["--time", m["time"].as_str().unwrap(), "--policy"])
            .arg(&policy_file)
            .arg("--dev-root")
            .arg(case.join(m["dev_root"].as_str().unwrap()));
        if let Some(p) = m["expected_prompt"].as_str() {
            cmd.args(["--prompt", p]);
        }
        let out = cmd.output().unwrap();
        let expected = m["expected"].as_str().unwrap();
        if expected == "ok" {
            assert!(
                out.status.success(),
                "{}: {}",
                case.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["finality"]["state"], m["finality"]);
            assert_eq!(
                v["prompt_verified"],
                m["expected_prompt"].is_string(),
                "{}",
                case.display()
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "{}", case.display());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.starts_with(&format!("error: {expected}: ")),
                "{}: {err}",
                case.display()
            );
        }
    }
}

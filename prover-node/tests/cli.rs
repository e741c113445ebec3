//! `otr verify gpu` and `otr inspect report` as a user runs them: exit codes, JSON claims on
//! stdout, `error: CODE: message` on stderr.

use std::path::Path;
use std::process::Command;

fn otr(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn fixture(case: &str, file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/attestation")
        .join(case)
        .join(file)
        .to_string_lossy()
        .into()
}

#[test]
fn verify_gpu_exit_codes_and_output() {
    let root = fixture("", "dev-root.pem");
    let policy = std::env::temp_dir().join(format!("otr-cli-policy-{}.json", std::process::id()));
    std::fs::write(&policy, r#"{"allow_dev_roots": true}"#).unwrap();
    let policy = policy.to_string_lossy().to_string();
    let nonce = "42".repeat(32);
    let base = |case: &str| {
        vec![
            "verify".to_string(),
            "gpu".into(),
            "--report".into(),
            fixture(case, "report.hex"),
            "--chain".into(),
            fixture(case, "chain.pem"),
            "--dev-root".into(),
            root.clone(),
            "--device-only".into(),
            "--time".into(),
            "2026-01-01T00:00:00Z".into(),
        ]
    };
    let run = |v: Vec<String>| otr(&v.iter().map(String::as_str).collect::<Vec<_>>());

    let mut ok = base("ok");
    ok.extend([
        "--policy".into(),
        policy.clone(),
        "--nonce".into(),
        nonce.clone(),
    ]);
    let (code, out, err) = run(ok.clone());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["device"]["nonce"], nonce);
    assert_eq!(v["device"]["nonce_verified"], true);
    assert_eq!(v["production"], false);
    assert_eq!(v["device"]["measurements"].as_array().unwrap().len(), 64);

    // The same evidence under the default policy: dev roots refused.
    let (code, out, err) = run(base("ok"));
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.starts_with("error: POLICY_DEV_ROOT: "), "{err}");

    // Wrong nonce, with the pure-Rust verifier too.
    let mut wrong = ok.clone();
    wrong.extend(["--crypto".into(), "rust".into()]);
    *wrong.iter_mut().find(|a| **a == nonce).unwrap() = "43".repeat(32);
    let (code, _, err) = run(wrong);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: REPORT_NONCE_MISMATCH: "), "{err}");

    // Inputs that cannot be read: exit 2 with an INPUT_ code.
    let (code, _, err) = otr(&[
        "verify",
        "gpu",
        "--report",
        "/nonexistent",
        "--chain",
        "/nonexistent",
    ]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: INPUT_READ: "), "{err}");
    let mut bad_time = ok.clone();
    *bad_time
        .iter_mut()
        .find(|a| a.as_str() == "2026-01-01T00:00:00Z")
        .unwrap() = "yesterday".into();
    let (code, _, err) = run(bad_time);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: INPUT_TIME: "), "{err}");
}

#[test]
fn inspect_report_prints_every_field() {
    let (code, out, err) = otr(&["inspect", "report", &fixture("ok", "report.hex")]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["driver_version"], "550.90.07");
    assert_eq!(v["response"]["blocks"].as_array().unwrap().len(), 64);
    let (code, _, err) = otr(&["inspect", "report", &fixture("truncated", "report.hex")]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: SPDM_TRUNCATED: "), "{err}");
}

#[test]
fn evidence_list_of_real_gpus() {
    let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/nvidia-samples");
    if !s.join("INDEX.md").exists() {
        eprintln!(
            "NVIDIA samples not found at {}; skipping (fixtures cover the rest)",
            s.display()
        );
        return;
    }
    let list = s.join("attestation-sdk/unit-tests-testdata/evidence_hopper_590_12.json");
    let list = list.to_string_lossy();
    let (code, out, err) = otr(&[
        "verify",
        "gpu",
        "--evidence-list",
        &list,
        "--device-only",
        "--time",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["device"]["driver_version"], "590.12");
    assert_eq!(v[0]["production"], true);
    let (code, _, err) = otr(&[
        "verify",
        "gpu",
        "--evidence-list",
        &list,
        "--device-only",
        "--nonce",
        &"ab".repeat(32),
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: REPORT_NONCE_MISMATCH: "), "{err}");
}

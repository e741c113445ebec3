//! `otr verify gpu` and `otr inspect report` as a user runs them: exit codes, JSON claims on
//! stdout, `error: CODE: message` on stderr.

mod common;

use std::path::Path;

use common::otr;

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

/// `otr params suggest` prints what otr-sim's closed forms give: the chosen (rho, stake) makes
/// every deterred cheating strategy's expected profit negative with the stated margin, and the
/// stake is the least that does (at 99% of it the binding strategy pays).
#[test]
fn params_suggest_matches_closed_forms() {
    use otr_sim::model::{deterrence, Params, Scenario, CHEATERS};
    let (code, out, err) = otr(&[
        "params",
        "suggest",
        "--value-at-risk",
        "100",
        "--gas-price",
        "30",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = otr_sim::CostModel::embedded();
    let want = otr_sim::suggest::suggest(&c, &otr_sim::suggest::Inputs::new(100.0, 30.0));
    let p: Params = serde_json::from_value(v["params"].clone()).unwrap();
    assert_eq!(p, want.params);
    assert_eq!(v["chosen"]["rho"].as_f64().unwrap(), want.chosen.rho);
    assert_eq!(p.stake_eth, want.chosen.stake_eth);
    assert_eq!(p.gas_price_gwei, 30.0);
    // The scenario `suggest` evaluates: one node, its defaults.
    let s = Scenario {
        nodes: 1,
        request_rate: 0.1,
        value_at_risk_usd: 100.0,
        challenger_presence: 0.0,
        audit_fraction: 0.05,
        challengers: 3,
        ..Scenario::default()
    };
    let skipped: Vec<String> = v["not_deterred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[0].as_str().unwrap().to_string())
        .collect();
    let binding = v["chosen"]["binding_strategy"]
        .as_str()
        .unwrap()
        .to_string();
    let mut checked = 0;
    for st in CHEATERS {
        if skipped.iter().any(|n| n == st.name()) {
            continue;
        }
        let d = deterrence(st, &c, &p, &s);
        assert!(
            d.penalty_usd >= 1.5 * d.expected_gain_usd * (1.0 - 1e-9),
            "{}: penalty {} < 1.5 x gain {}",
            st.name(),
            d.penalty_usd,
            d.expected_gain_usd
        );
        assert!(d.expected_profit_usd < 0.0 || d.expected_gain_usd == 0.0);
        if st.name() == binding {
            let mut lower = p.clone();
            lower.stake_eth *= 0.99;
            lower.min_stake_eth = lower.stake_eth;
            let dl = deterrence(st, &c, &lower, &s);
            assert!(
                dl.penalty_usd < 1.5 * dl.expected_gain_usd,
                "{binding}: the stake is not the least that deters"
            );
        }
        checked += 1;
    }
    assert!(checked > 0);

    // The text form states the same rho and stake.
    let (code, text, err) = otr(&[
        "params",
        "suggest",
        "--value-at-risk",
        "100",
        "--gas-price",
        "30",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("rho (spot-check rate)     {:.3}", want.chosen.rho)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{:.3} ETH", want.chosen.stake_eth)),
        "{text}"
    );

    // Bad input is a usage error with a code, not a panic.
    let (code, _, err) = otr(&[
        "params",
        "suggest",
        "--value-at-risk=-1",
        "--gas-price",
        "30",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("SIM_INPUT"), "{err}");
    let (code, _, err) = otr(&["params", "suggest", "--gas-price", "30"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--value-at-risk"), "{err}");
}

/// `otr simulate` runs otr-sim's simulator: the same seed gives the library's report, and the
/// report's accounting holds (served + dropped = arrivals, throughput = completed / time).
#[test]
fn simulate_matches_library_and_closed_forms() {
    use otr_sim::model::{detect_within, Params, Scenario, Strategy};
    let args = [
        "simulate",
        "--seed",
        "7",
        "--hours",
        "2",
        "--nodes",
        "3",
        "--rate",
        "0.05",
        "--rho",
        "0.05",
        "--byzantine",
        "skip-work",
        "--fraction",
        "0.34",
        "--presence",
        "1",
        "--json",
    ];
    let (code, out, err) = otr(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = otr_sim::CostModel::embedded();
    let p = Params {
        rho: 0.05,
        ..Params::default()
    };
    let s = Scenario {
        seed: 7,
        duration_s: 7200.0,
        nodes: 3,
        request_rate: 0.05,
        byzantine: vec![Strategy::SkipWork],
        byzantine_fraction: 0.34,
        challenger_presence: 1.0,
        ..Scenario::default()
    };
    let r = otr_sim::simulate(&c, &p, &s);
    assert_eq!(v["arrivals"].as_u64().unwrap(), r.arrivals);
    assert_eq!(v["served"].as_u64().unwrap(), r.served);
    assert_eq!(v["completed"].as_u64().unwrap(), r.completed);
    assert!(r.arrivals > 100, "{} arrivals", r.arrivals);
    assert_eq!(r.served + r.dropped, r.arrivals);
    let qps = v["throughput_qps"].as_f64().unwrap();
    assert!((qps - r.completed as f64 / 7200.0).abs() < 1e-9, "{qps}");
    // One skip-work node among three (round(0.34 * 3) = 1).
    assert_eq!(v["by_strategy"]["skip-work"]["nodes"].as_u64(), Some(1));
    // Detection within k receipts: 1 - (1 - p)^k.
    assert!((detect_within(0.05, 20.0) - (1.0 - 0.95f64.powi(20))).abs() < 1e-12);

    // The text form carries the same counts.
    let (code, text, err) = otr(&args[..args.len() - 1]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains(&format!("{} requests, {} served", r.arrivals, r.served)),
        "{text}"
    );
    let (code, _, err) = otr(&["simulate", "--rho", "2"]);
    assert_eq!(code, 2);
    assert!(err.contains("SIM_INPUT"), "{err}");
    let (code, help, _) = otr(&["simulate", "--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains("--value-at-risk") && help.contains("skip-work"),
        "{help}"
    );
}

#[test]
fn run_prints_the_manifest_tokens_and_roots_for_any_kernel_and_thread_count() {
    for (name, folder) in [
        ("fixture-gemma3", "tiny-gemma3"),
        ("fixture-llama", "tiny-llama"),
    ] {
        let man: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../fixtures/models")
                    .join(folder)
                    .join("manifest.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let prompt = man["prompt"].as_str().unwrap();
        let greedy = &man["greedy"];
        let max = greedy["max_tokens"].to_string();
        for extra in [
            &["--threads", "1", "--kernel", "scalar"][..],
            &["--threads", "2"][..],
        ] {
            let mut args = vec![
                "run",
                "--model",
                name,
                "--prompt",
                prompt,
                "--max-tokens",
                &max,
            ];
            args.extend_from_slice(extra);
            args.push("--json");
            let (code, out, err) = otr(&args);
            assert_eq!(code, 0, "{err}");
            let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            assert_eq!(v["tokens"], greedy["tokens"], "{name} {extra:?}");
            assert_eq!(v["trace_root"], greedy["trace_root"], "{name} {extra:?}");
            assert_eq!(v["trace_steps"], greedy["trace_steps"], "{name} {extra:?}");
            assert_eq!(v["weights_root"], man["weights_root"], "{name}");
            assert_eq!(v["finish_reason"], "length");
        }
        // Seeded sampling: the manifest's sampled run.
        let sm = &man["sampled"];
        let t = format!(
            "{}",
            sm["temperature_milli"].as_u64().unwrap() as f64 / 1000.0
        );
        let p = format!("{}", sm["top_p_milli"].as_u64().unwrap() as f64 / 1000.0);
        let (k, seed, max) = (
            sm["top_k"].to_string(),
            sm["seed"].to_string(),
            sm["max_tokens"].to_string(),
        );
        let (code, out, err) = otr(&[
            "run",
            "--model",
            name,
            "--prompt",
            prompt,
            "--temperature",
            &t,
            "--top-p",
            &p,
            "--top-k",
            &k,
            "--seed",
            &seed,
            "--max-tokens",
            &max,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["tokens"], sm["tokens"], "{name} sampled");
        assert_eq!(v["trace_root"], sm["trace_root"], "{name} sampled");
    }
    // Text mode prints the completion on stdout.
    let (code, out, _) = otr(&[
        "run",
        "--model",
        "fixture-llama",
        "--prompt",
        "the",
        "--max-tokens",
        "3",
    ]);
    assert_eq!(code, 0);
    assert!(!out.trim().is_empty());
    // Typed usage errors.
    for (args, want) in [
        (
            vec!["run", "--model", "no-such-model", "--prompt", "x"],
            "MODEL_NOT_FOUND",
        ),
        (
            vec!["run", "--model", "fixture-llama", "--prompt", "x", "--chat"],
            "RUN_NO_CHAT_TEMPLATE",
        ),
        (
            vec![
                "run",
                "--model",
                "fixture-llama",
                "--prompt",
                "x",
                "--temperature",
                "101",
            ],
            "RUN_BAD_ARGUMENT",
        ),
        (
            vec![
                "run",
                "--model",
                "fixture-llama",
                "--prompt",
                "x",
                "--top-p",
                "0",
            ],
            "RUN_BAD_ARGUMENT",
        ),
    ] {
        let (code, _, err) = otr(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// `otr gpu probe` runs the nvidia provider's detection. Without a driver (CI) it must report
/// the missing library, not crash; with one it must report NVML's CC state, and exit 0 only
/// when the provider can attest.
#[test]
fn gpu_probe_reports_the_driver_and_cc_state_without_crashing() {
    let nonce = "11".repeat(32);
    let (rc, out, err) = otr(&["gpu", "probe", "--nonce", &nonce, "--force-report"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("probe prints JSON");
    assert_eq!(v["nonce"], nonce.as_str());
    assert_eq!(v["library"], "libnvidia-ml.so.1");
    let ok = v["provider"]["ok"].as_bool().expect("provider.ok");
    if ok {
        assert_eq!(rc, 0, "{err}");
        assert_eq!(v["cc_state"]["feature_enabled"], true);
        assert!(v["attestation"]["report_bytes"].as_u64().unwrap() > 0);
    } else {
        assert_eq!(rc, 2);
        let msg = v["provider"]["message"].as_str().unwrap();
        assert!(err.contains(&format!("error: NO_CC_GPU: {msg}")), "{err}");
        if v.get("load_error").is_some() {
            assert!(msg.starts_with("no NVIDIA driver here"), "{msg}");
            assert!(v.get("cc_state").is_none());
        } else {
            assert!(v["driver_version"].is_string() || v["driver_version"]["error"].is_object());
            assert!(v["cc_state"].is_object(), "{v}");
        }
    }
    let (rc, _, err) = otr(&["gpu", "probe", "--nonce", "zz"]);
    assert_eq!(rc, 2);
    assert!(err.contains("INPUT_NONCE"), "{err}");
}

/// The full bundle fixture's spot-check proof is bound to its receipt's trace; with
/// `--matrix-root` (the registry's `poseidonRoot`) the CLI also requires it to be bound to that
/// model: the fixture's root passes, another root and a proof without its statement fail.
#[test]
fn verify_bundle_binds_proofs_to_the_matrix_root() {
    let d = format!(
        "{}/../fixtures/bundles/full_a1_like",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{d}/spec.json")).unwrap()).unwrap();
    let dir = std::env::temp_dir().join(format!("otr-cli-matrix-root-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(&policy, r#"{"allow_dev_roots": true}"#).unwrap();
    let root = spec["matrix_root"].as_str().unwrap().to_string();
    let run = |bundle: &str, root: &str| {
        otr(&[
            "verify",
            "bundle",
            bundle,
            "--vk",
            &format!("{d}/verification_key.json"),
            "--dev-root",
            &format!("{d}/dev-root.pem"),
            "--dev-root",
            &format!("{d}/dev-rim-root.pem"),
            "--time",
            spec["time"].as_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--matrix-root",
            root,
        ])
    };
    let otrb = format!("{d}/bundle.otrb");
    let (rc, out, err) = run(&otrb, &root);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let b = &v["proofs"][0]["bound"];
    assert_eq!(b["matrix"], "blk.0.ffn_down.weight");
    assert_eq!(
        (b["row_start"].as_u64(), b["unit_rows"].as_u64()),
        (Some(20), Some(4))
    );
    assert_eq!(b["matrix_root"], root.as_str());
    let (rc, _, err) = run(&otrb, &"11".repeat(32));
    assert_eq!(rc, 1);
    assert!(err.contains("ZK_STATEMENT_MATRIX_ROOT"), "{err}");
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{d}/bundle.json")).unwrap())
            .unwrap();
    j["zk_proofs"][0]
        .as_object_mut()
        .unwrap()
        .remove("statement");
    let unbound = dir.join("unbound.json");
    std::fs::write(&unbound, j.to_string()).unwrap();
    let (rc, _, err) = run(unbound.to_str().unwrap(), &root);
    assert_eq!(rc, 1);
    assert!(err.contains("ZK_STATEMENT_MISSING"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

//! ZK spot-checks end to end on the tiny fixture model: a two-contributor ceremony with
//! `otr zk ceremony`, `otr zk prove` / `otr zk verify` on snarkjs JSON, then a node with
//! `--zk-params` and `--spot-check-rate 1`: a posted receipt's bundle gains a proof that
//! verifies in otr-core, and a tampered proof or public input is rejected with its code.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ceremony, free_port, otr, p, request, start};
use otr_core::crypto::RustCrypto;
use otr_core::rollup::AnswerBundle;
use otr_core::verify::{verify_bundle, VerifyOptions};
use otr_core::ErrorCode;

#[test]
fn node_attaches_verified_spot_check_proofs() {
    let dir = std::env::temp_dir().join(format!("otr-spotcheck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keys = ceremony(&dir);

    // The verifying key in snarkjs JSON; a proof of one unit; verification of the JSON forms.
    let vk_json = p(&dir, "vk.json");
    let (code, _, err) = otr(&["zk", "export-vk", "--params", &keys, "--out", &vk_json]);
    assert_eq!(code, 0, "{err}");
    let out = p(&dir, "proof");
    let (code, stdout, err) = otr(&[
        "zk",
        "prove",
        "--params",
        &keys,
        "--unit",
        "3",
        "--out-dir",
        &out,
    ]);
    assert_eq!(code, 0, "{err}");
    let proved: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let public = p(&dir, "proof/public.json");
    let proof_json = p(&dir, "proof/proof.json");
    let (code, stdout, err) = otr(&[
        "zk",
        "verify",
        "--vk",
        &vk_json,
        "--proof",
        &proof_json,
        "--public",
        &public,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains(proved["circuit_id"].as_str().unwrap()),
        "{stdout}"
    );
    // The unit's first row (public input 1) is 3 * R = 12; claiming row 8 is rejected.
    let inputs: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
    assert_eq!(inputs[1], "12");
    let mut moved = inputs.clone();
    moved[1] = "8".into();
    let bad = p(&dir, "proof/public-moved.json");
    std::fs::write(&bad, serde_json::to_string(&moved).unwrap()).unwrap();
    let (code, _, err) = otr(&[
        "zk",
        "verify",
        "--vk",
        &vk_json,
        "--proof",
        &proof_json,
        "--public",
        &bad,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("PROOF_INVALID"), "{err}");

    // A node that proves every posted receipt.
    let data = dir.join("node");
    let port = free_port();
    let mut node = start(
        &data,
        port,
        &[
            "--zk-params",
            &keys,
            "--spot-check-rate",
            "1",
            "--post-interval-ms",
            "200",
        ],
    );
    let (s, _, body) = request(
        port,
        "POST",
        "/v1/completions",
        r#"{"prompt":"the tower is in","max_tokens":2,"temperature":0}"#,
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["otr"]["receipt_id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let bundle = loop {
        let (s, _, b) = request(port, "GET", &format!("/v1/receipts/{id}/bundle"), "").unwrap();
        if s == 200 {
            let bundle = AnswerBundle::from_json(&b).unwrap();
            if !bundle.zk_proofs.is_empty() {
                break bundle;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "no spot-check proof: {s} {b}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // `otr watch` checks the posted bundles, proofs included: with the node's published keys
    // every posted receipt verifies and its proof is bound to the registry's matrix root; with a
    // key that is not the proofs', the receipt with the proof is reported.
    let watch = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_otr"))
            .args(["watch", "--once", "--allow-dev-root", "--node"])
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data)
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let reports: Vec<serde_json::Value> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|r: &serde_json::Value| r.get("receipts_on_chain").is_some())
            .collect();
        (out.status.success(), reports, stdout)
    };
    let (ok, reports, text) = watch(&[]);
    assert!(ok, "{text}");
    let sum = |key: &str| -> u64 { reports.iter().map(|r| r[key].as_u64().unwrap()).sum() };
    assert!(sum("receipts_on_chain") >= 1, "{text}");
    assert_eq!(sum("receipts_verified"), sum("receipts_on_chain"), "{text}");
    let other_vk = format!(
        "{}/../fixtures/zk/matvec_r4/verification_key.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let (ok, _, text) = watch(&["--vk", &other_vk]);
    assert!(!ok && text.contains("PROOF_UNKNOWN_CIRCUIT"), "{text}");
    let (anchors, policy, now) = common::dev_trust(port);
    // The node publishes the verifying key of its proofs.
    let (_, _, info) = request(port, "GET", "/v1/node", "").unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let zk = &info["zk_spot_checks"];
    assert_eq!(zk["rate_ppm"], 1_000_000);
    let published = otr_core::zk::snarkjs::parse_vk(&zk["verification_key"].to_string()).unwrap();
    assert_eq!(
        zk["circuit_id"].as_str().unwrap(),
        hex::encode(published.key_id())
    );
    // With keys, the node also names a MatVecStepVerifier on its embedded chain for the matrix
    // operators of the keys' shape (disputes at those steps are settled by unit proofs).
    let setup =
        otr_node::node::dispute::MatVecSetup::load("fixture-gemma3", &[Path::new(&keys).into()])
            .unwrap();
    let expected: Vec<(u8, u8)> = setup.op_shapes().iter().map(|s| (s.0, s.1)).collect();
    assert!(
        !expected.is_empty(),
        "the keys' shape is one of the model's"
    );
    let model_id = bundle.receipt.model_id;
    let t = Instant::now();
    loop {
        let d = otr_node::node::settlement::SavedDeployment::read(&data)
            .unwrap()
            .deployment();
        let named = otr_contracts::Chain::load(&data.join(otr_node::node::settlement::CHAIN_FILE))
            .ok()
            .map(|mut c| {
                let n_layers = otr_contracts::host::view(
                    &mut c,
                    d.registry,
                    &otr_contracts::bindings::model_registry::ModelRegistry::modelCall {
                        modelId: model_id.into(),
                    },
                )
                .unwrap()
                .numLayers;
                let layer_ops = [1u8, 2, 3, 8, 11, 12, 14];
                let mut named = Vec::new();
                for op in layer_ops {
                    // A unit verifier, not the refutation verifier every layer matrix step
                    // gets at registration.
                    let v = d.step_verifier(&mut c, model_id, 1, op).unwrap();
                    if v != otr_contracts::Address::ZERO
                        && !d.refutable(&mut c, model_id, 1, op).unwrap()
                    {
                        named.push((1u8, op));
                    }
                }
                // The head's logits: a matrix verifier counts, not the refutation verifier
                // a tied head gets when no key proves its shape.
                if d.step_verifier(&mut c, model_id, n_layers + 1, 1).unwrap()
                    != otr_contracts::Address::ZERO
                    && !d.refutable(&mut c, model_id, n_layers + 1, 1).unwrap()
                {
                    named.push((2, 1));
                }
                named
            });
        if named.as_ref() == Some(&expected) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "matrix operators named {named:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = node.kill();
    let _ = node.wait();
    // The proof is durable: after a restart the bundle carries the same proof.
    let port = free_port();
    let mut node = start(
        &data,
        port,
        &[
            "--zk-params",
            &keys,
            "--spot-check-rate",
            "1",
            "--post-interval-ms",
            "200",
        ],
    );
    let (s, _, b) = request(port, "GET", &format!("/v1/receipts/{id}/bundle"), "").unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        AnswerBundle::from_json(&b).unwrap().zk_proofs,
        bundle.zk_proofs
    );
    let _ = node.kill();
    let _ = node.wait();

    let vk = otr_core::zk::snarkjs::parse_vk(&std::fs::read_to_string(&vk_json).unwrap()).unwrap();
    let key_id = vk.key_id();
    assert_eq!(published.key_id(), key_id);
    assert_eq!(bundle.zk_proofs.len(), 1);
    let zp = &bundle.zk_proofs[0];
    assert_eq!(zp.circuit_id, key_id);
    assert_eq!(zp.proof.len(), 128);
    assert_eq!(zp.public_inputs.len(), 4);
    // The sampled unit starts at a multiple of R = 4 below 64.
    let row = u64::from_be_bytes(zp.public_inputs[1][24..].try_into().unwrap());
    assert!(zp.public_inputs[1][..24].iter().all(|&b| b == 0) && row % 4 == 0 && row < 64);

    let keys_list = [(key_id, &vk)];
    let opts = VerifyOptions {
        time: now,
        policy: &policy,
        anchors: &anchors,
        verifier: &RustCrypto,
        verifying_keys: &keys_list,
        expected_request_hash: None,
        expected_weights_root: None,
        expected_temperature_milli: None,
        expected_prompt: None,
    };
    let verified = verify_bundle(&bundle, &opts).unwrap();
    assert_eq!(verified.proofs.len(), 1);
    assert_eq!(verified.proofs[0].circuit_id, hex::encode(key_id));
    // The proof is bound to this answer: its statement opens a 64 x 64 matrix step of the
    // receipt's trace, the unit is the proof's, and the matrix commitment opens to the root the
    // registry holds for the model.
    let b = verified.proofs[0].bound.as_ref().expect("a statement");
    assert_eq!((b.row_start, b.unit_rows, b.rows), (row, 4, 64));
    assert!(b.step_index < bundle.receipt.trace_steps);
    let registry_root = {
        let d = otr_node::node::settlement::SavedDeployment::read(&data)
            .unwrap()
            .deployment();
        let mut c =
            otr_contracts::Chain::load(&data.join(otr_node::node::settlement::CHAIN_FILE)).unwrap();
        otr_contracts::host::view(
            &mut c,
            d.registry,
            &otr_contracts::bindings::model_registry::ModelRegistry::modelCall {
                modelId: bundle.receipt.model_id.into(),
            },
        )
        .unwrap()
        .poseidonRoot
    };
    assert_eq!(b.matrix_root, hex::encode(registry_root.0));
    // A statement whose input is not the trace's is refused.
    let mut t = bundle.clone();
    t.zk_proofs[0].statement.as_mut().unwrap().x[4] ^= 1;
    assert_eq!(
        verify_bundle(&t, &opts).unwrap_err().code(),
        "ZK_STATEMENT_DIGEST"
    );

    // Without the key the proof's circuit is unknown.
    let e = verify_bundle(
        &bundle,
        &VerifyOptions {
            verifying_keys: &[],
            ..opts
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), "PROOF_UNKNOWN_CIRCUIT");
    // A changed byte of the proof: a point off the curve or a proof that does not verify.
    for i in [0usize, 40, 100] {
        let mut t = bundle.clone();
        t.zk_proofs[0].proof[i] ^= 0x01;
        let e = verify_bundle(&t, &opts).unwrap_err();
        assert!(
            ["PROOF_INVALID", "PROOF_POINT_INVALID"].contains(&e.code()),
            "byte {i}: {}",
            e.code()
        );
    }
    // Another unit's row for the same proof: PROOF_INVALID.
    let mut t = bundle.clone();
    t.zk_proofs[0].public_inputs[1][31] ^= 4;
    assert_eq!(
        verify_bundle(&t, &opts).unwrap_err().code(),
        "PROOF_INVALID"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! The node on an EVM node over JSON-RPC (`otr serve --chain-rpc URL`), against a real anvil
//! started by `scripts/anvil.sh` on a free port: the node deploys the settlement contracts on
//! the dev chain, funds and stakes its account, posts its micro-batch headers, and staples the
//! light-client proof of each posted batch to its bundles. A bundle then verifies fully offline
//! against a block hash taken from the chain itself (not from the bundle); a tampered storage
//! proof, a checkpoint off the stapled chain, another network or another contract are refused
//! with their codes; `otr verify bundle --trusted-checkpoint` and `otr watch --chain-rpc` work.
//!
//! With `OTR_WRITE_STAPLED_FIXTURE=DIR` the test also writes the stapled bundle fixture there
//! (`scripts/gen-stapled-bundle-fixture.sh`: fixtures/bundles/stapled).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ask, bundle_text, dev_trust, free_port, http, start, tempdir, Anvil};
use otr_contracts::rpc::RpcHost;
use otr_contracts::Host;
use otr_core::chain::{keccak256, ChainTrust, EthHeader};
use otr_core::error::ErrorCode;
use otr_core::rollup::{AnswerBundle, DisputeState, Finality};
use otr_core::verify::{verify_bundle, verify_bundle_with_chain, ChainCheck, VerifyOptions};
use otr_node::node::settlement::{SavedDeployment, RPC_DEPLOYMENT_FILE};

/// The node process, killed on drop (also when an assertion fails).
struct NodeProc(std::process::Child);

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `otr serve` on the anvil at `url`: a 600 s challenge window, posting every 200 ms.
fn node_on_anvil(dir: &std::path::Path, port: u16, url: &str) -> NodeProc {
    NodeProc(start(
        dir,
        port,
        &[
            "--chain-rpc",
            url,
            "--challenge-window-secs",
            "600",
            "--post-interval-ms",
            "200",
        ],
    ))
}

/// The number of a stapled header.
fn number(raw: &[u8]) -> u64 {
    EthHeader::decode(raw, 0).unwrap().number
}

#[test]
fn node_on_anvil_staples_light_client_proofs_that_verify_offline() {
    let anvil = Anvil::start();
    let dir = tempdir("staple");
    let port = free_port();
    let child = node_on_anvil(&dir, port, &anvil.url);
    let saved = SavedDeployment::read_file(&dir.join(RPC_DEPLOYMENT_FILE)).unwrap();
    assert_eq!(saved.chain_id, 31337);
    assert_eq!(saved.challenge_window_secs, 600);

    let id = ask(port, "The capital of France is");
    // Wait until the batch is posted and the bundle carries its chain proof.
    let t = Instant::now();
    let first: AnswerBundle = loop {
        let b = AnswerBundle::from_json(&bundle_text(port, &id)).unwrap();
        if b.rollup.is_some() && b.chain_proof.is_some() {
            break b;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no stapled rollup inclusion after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let cp = first.chain_proof.as_ref().unwrap();
    let proven = number(&cp.headers[0]);

    // The chain moves on: 63 more blocks. The node extends the stapled header chain (the
    // proof stays at its block) up to 64 headers.
    let mut rpc = RpcHost::connect(&anvil.url).unwrap();
    let head = rpc.block_number().unwrap();
    rpc.advance(0, proven + 63 - head).unwrap();
    let text = bundle_text(port, &id);
    let b = AnswerBundle::from_json(&text).unwrap();
    let cp = b.chain_proof.clone().expect("still stapled");
    assert_eq!(
        cp.headers.len(),
        64,
        "header chain from the proven block to the head"
    );
    assert_eq!(number(&cp.headers[0]), proven);
    assert_eq!(number(&cp.headers[63]), proven + 63);
    assert_eq!(cp.contract, saved.settlement.0 .0);
    // Both encodings carry it, identically.
    assert_eq!(AnswerBundle::decode(&b.encode()).unwrap(), b);
    assert_eq!(AnswerBundle::from_json(&b.to_json()).unwrap(), b);

    // The trusted checkpoint comes from the chain, not from the bundle.
    let checkpoint = rpc.block_hash(proven + 63).unwrap().0;
    assert_eq!(keccak256(&cp.headers[63]), checkpoint);

    let (anchors, policy, time) = dev_trust(port);
    let v = otr_node::native_crypto::OpensslVerifier::new();
    let opts = VerifyOptions {
        time,
        policy: &policy,
        anchors: &anchors,
        verifier: &v,
        verifying_keys: &[],
        expected_request_hash: None,
        expected_weights_root: None,
        expected_temperature_milli: None,
        expected_prompt: None,
    };
    // No trusted checkpoint: the section is reported as unverified, not accepted.
    let plain = verify_bundle(&b, &opts).unwrap();
    assert_eq!(plain.chain, ChainCheck::Unverified);

    let mut trust = ChainTrust::checkpoint(31337, checkpoint);
    trust.contract = Some(saved.settlement.0 .0);
    trust.challenge_window_secs = Some(600);
    let full =
        verify_bundle_with_chain(&b, &opts, Some(&trust)).expect("stapled inclusion verifies");
    let ChainCheck::Verified(claims) = &full.chain else {
        panic!("chain proof not verified: {:?}", full.chain);
    };
    let r = b.rollup.as_ref().unwrap();
    assert_eq!(claims.chain_id, 31337);
    assert_eq!(claims.batch_index, r.batch_index);
    assert_eq!(claims.batch_root, r.batch_root);
    assert_eq!(claims.block_number, proven);
    assert_eq!(claims.checkpoint_number, proven + 63);
    assert_eq!(claims.confirmations, 63);
    assert_eq!(claims.node, Some(b.header.node_address));
    assert_eq!(claims.dispute_state, DisputeState::None);
    assert_eq!(claims.window_end, claims.posted_at + 600);
    assert!(
        matches!(full.finality, Finality::InWindow { .. }),
        "{:?}",
        full.finality
    );

    // A checkpoint inside the stapled chain works too (the chain is cut there).
    let mid = ChainTrust::checkpoint(31337, rpc.block_hash(proven + 10).unwrap().0);
    let v10 = verify_bundle_with_chain(&b, &opts, Some(&mid)).unwrap();
    let ChainCheck::Verified(c10) = &v10.chain else {
        panic!("not verified");
    };
    assert_eq!(c10.confirmations, 10);

    let code = |b: &AnswerBundle, t: &ChainTrust| {
        verify_bundle_with_chain(b, &opts, Some(t))
            .map(|_| ())
            .unwrap_err()
            .code()
            .to_string()
    };
    // A checkpoint the stapled chain does not reach.
    let off = ChainTrust::checkpoint(31337, [0x5a; 32]);
    assert_eq!(code(&b, &off), "LIGHT_HEADER_NOT_ON_CHAIN");
    // Another network.
    let other = ChainTrust::checkpoint(1, checkpoint);
    assert_eq!(code(&b, &other), "LIGHT_CHAIN_ID_MISMATCH");
    // Another contract pinned.
    let mut wrong_contract = trust;
    wrong_contract.contract = Some([0x11; 20]);
    assert_eq!(code(&b, &wrong_contract), "LIGHT_ADDRESS_MISMATCH");
    // A tampered storage value (the batch root word).
    let mut t1 = b.clone();
    t1.chain_proof.as_mut().unwrap().storage[0].value[31] ^= 1;
    assert_eq!(code(&t1, &trust), "LIGHT_VALUE_MISMATCH");
    // A tampered storage proof node.
    let mut t2 = b.clone();
    let node = t2.chain_proof.as_mut().unwrap().storage[0]
        .proof
        .last_mut()
        .unwrap();
    let last = node.len() - 1;
    node[last] ^= 1;
    let c2 = code(&t2, &trust);
    assert!(c2.starts_with("LIGHT_"), "{c2}");
    // A stapled chain with a forged header below the checkpoint.
    let mut t3 = b.clone();
    t3.chain_proof.as_mut().unwrap().headers[5][40] ^= 1;
    let c3 = code(&t3, &trust);
    assert!(c3.starts_with("LIGHT_"), "{c3}");
    // The proof of another batch's slots.
    let mut t4 = b.clone();
    t4.rollup.as_mut().unwrap().batch_index += 1;
    assert!(verify_bundle_with_chain(&t4, &opts, Some(&trust)).is_err());
    // Trusting a checkpoint and getting no chain proof.
    let mut t5 = b.clone();
    t5.chain_proof = None;
    assert_eq!(code(&t5, &trust), "LIGHT_NO_CHAIN_PROOF");

    // The CLI: `otr verify bundle --trusted-checkpoint`.
    let info: serde_json::Value =
        serde_json::from_str(&http(port, "GET", "/v1/node", "").unwrap().1).unwrap();
    let root = dir.join("dev-root-for-cli.pem");
    std::fs::write(&root, info["dev_root_pem"].as_str().unwrap()).unwrap();
    let policy_file = dir.join("policy.json");
    std::fs::write(
        &policy_file,
        r#"{"allow_dev_roots": true, "require_ocsp": false, "require_rims": false}"#,
    )
    .unwrap();
    let file = dir.join("stapled.json");
    std::fs::write(&file, &text).unwrap();
    let cli = |cp: &str| {
        Command::new(env!("CARGO_BIN_EXE_otr"))
            .args(["verify", "bundle"])
            .arg(&file)
            .arg("--policy")
            .arg(&policy_file)
            .arg("--dev-root")
            .arg(&root)
            .args(["--trusted-checkpoint", cp])
            .args(["--settlement", &hex::encode(saved.settlement)])
            .output()
            .unwrap()
    };
    let ok = cli(&hex::encode(checkpoint));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(out["chain"]["status"], "verified");
    assert_eq!(out["chain"]["claims"]["confirmations"], 63);
    let bad = cli(&hex::encode([0x5a; 32]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("LIGHT_HEADER_NOT_ON_CHAIN"));

    // `otr watch` over RPC re-checks the posted receipt.
    let dep = dir.join(RPC_DEPLOYMENT_FILE);
    let w = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args([
            "watch",
            "--once",
            "--allow-dev-root",
            "--chain-rpc",
            &anvil.url,
        ])
        .arg("--chain-deployment")
        .arg(&dep)
        .args(["--node", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let wout = String::from_utf8_lossy(&w.stdout);
    assert!(
        w.status.success(),
        "{wout}\n{}",
        String::from_utf8_lossy(&w.stderr)
    );
    let rep: serde_json::Value = serde_json::from_str(wout.lines().next().unwrap()).unwrap();
    assert_eq!(rep["index"], r.batch_index);
    assert!(rep["receipts_verified"].as_u64().unwrap() >= 1);

    if let Ok(out) = std::env::var("OTR_WRITE_STAPLED_FIXTURE") {
        write_fixture(&PathBuf::from(out), &b, &info, checkpoint, &saved, proven);
    }

    // A challenger (anvil's account 1) opens a dispute over the receipt: the proven storage word
    // changed, so the node proves the batch again at the new head, and the trusted verification
    // now says disputed.
    let key1 = k256::ecdsa::SigningKey::from_slice(
        &hex::decode("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d").unwrap(),
    )
    .unwrap();
    let challenger = rpc.add_signer(key1);
    let bond = otr_contracts::U256::from(10u64).pow(otr_contracts::U256::from(17u64));
    otr_node::node::settlement::open_dispute_for(
        &mut rpc,
        &saved.deployment(),
        challenger,
        &b,
        bond,
    )
    .expect("open a dispute over RPC");
    let disputed = AnswerBundle::from_json(&bundle_text(port, &id)).unwrap();
    let cp2 = disputed.chain_proof.as_ref().unwrap();
    assert!(
        number(&cp2.headers[0]) > proven + 63,
        "proof taken again after the dispute"
    );
    let head_hash = keccak256(cp2.headers.last().unwrap());
    assert_eq!(
        head_hash,
        rpc.block_hash(number(cp2.headers.last().unwrap()))
            .unwrap()
            .0
    );
    let mut trust2 = ChainTrust::checkpoint(31337, head_hash);
    trust2.contract = Some(saved.settlement.0 .0);
    let v2 = verify_bundle_with_chain(&disputed, &opts, Some(&trust2)).unwrap();
    let ChainCheck::Verified(c2) = &v2.chain else {
        panic!("not verified");
    };
    assert_eq!(c2.dispute_state, DisputeState::Open);
    assert_eq!(v2.finality, Finality::Disputed);
    // The old bundle still verifies against its own checkpoint: as of its block, no dispute.
    assert!(verify_bundle_with_chain(&b, &opts, Some(&trust)).is_ok());
    drop(child);

    // A restart on the same chain reuses the deployment and keeps posting.
    let child = NodeProc(start(
        &dir,
        port,
        &["--chain-rpc", &anvil.url, "--post-interval-ms", "200"],
    ));
    let again = SavedDeployment::read_file(&dep).unwrap();
    assert_eq!(again.settlement, saved.settlement);
    let id2 = ask(port, "One two three");
    let t = Instant::now();
    loop {
        let b2 = AnswerBundle::from_json(&bundle_text(port, &id2)).unwrap();
        if let Some(r2) = &b2.rollup {
            assert!(r2.batch_index > r.batch_index);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not posted after restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// fixtures/bundles/stapled: the bundle (both forms), the node's dev root, and case.json with
/// the trusted checkpoint and the claims it proves.
fn write_fixture(
    out: &std::path::Path,
    b: &AnswerBundle,
    info: &serde_json::Value,
    checkpoint: [u8; 32],
    saved: &SavedDeployment,
    proven: u64,
) {
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("bundle.json"), b.to_json()).unwrap();
    std::fs::write(out.join("bundle.otrb"), b.encode()).unwrap();
    std::fs::write(
        out.join("dev-root.pem"),
        info["dev_root_pem"].as_str().unwrap(),
    )
    .unwrap();
    let cs = b.chain_status.as_ref().unwrap();
    // Verified a minute after posting: in its window.
    let t = cs.batch_posted_at + 60;
    let time = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let time = String::from_utf8_lossy(&time.stdout).trim().to_string();
    let r = b.rollup.as_ref().unwrap();
    let case = serde_json::json!({
        "description": "posted on anvil over JSON-RPC, light-client proof stapled (64 headers)",
        "made_by": "scripts/gen-stapled-bundle-fixture.sh (prover-node/tests/chain_rpc.rs)",
        "dev_root": "dev-root.pem",
        "expected": "ok",
        "finality": "in_window",
        "policy": {"allow_dev_roots": true, "require_ocsp": false, "require_rims": false},
        "time": time,
        "chain": {
            "chain_id": 31337,
            "trusted_checkpoint": hex::encode(checkpoint),
            "settlement": hex::encode(saved.settlement),
            "challenge_window_secs": saved.challenge_window_secs,
            "expected_claims": {
                "batch_index": r.batch_index,
                "batch_root": format!("0x{}", hex::encode(r.batch_root)),
                "block_number": proven,
                "checkpoint_number": proven + 63,
                "confirmations": 63,
                "dispute_state": {"state": "none"}
            }
        }
    });
    std::fs::write(
        out.join("case.json"),
        serde_json::to_string_pretty(&case).unwrap() + "\n",
    )
    .unwrap();
}

/// The committed stapled fixture (fixtures/bundles/stapled) verifies offline, with no chain:
/// the trusted checkpoint, contract and window come from its case.json.
#[test]
fn committed_stapled_fixture_verifies_offline_against_its_checkpoint() {
    use otr_core::attestation::{Policy, TrustAnchors};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bundles/stapled");
    let case: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
    let bin = std::fs::read(dir.join("bundle.otrb")).unwrap();
    let b = AnswerBundle::decode(&bin).unwrap();
    let json = std::fs::read_to_string(dir.join("bundle.json")).unwrap();
    assert_eq!(AnswerBundle::from_json(&json).unwrap(), b);
    assert_eq!(b.chain_proof.as_ref().unwrap().headers.len(), 64);
    let pem = std::fs::read(dir.join("dev-root.pem")).unwrap();
    let root = otr_core::encoding::pem_certificates(&pem)
        .unwrap()
        .remove(0);
    let anchors =
        TrustAnchors::nvidia().with_dev_root(otr_core::x509::Certificate::from_der(&root).unwrap());
    let policy: Policy = serde_json::from_value(case["policy"].clone()).unwrap();
    let v = otr_node::native_crypto::OpensslVerifier::new();
    let opts = VerifyOptions {
        time: otr_core::UnixTime::parse_rfc3339(case["time"].as_str().unwrap()).unwrap(),
        policy: &policy,
        anchors: &anchors,
        verifier: &v,
        verifying_keys: &[],
        expected_request_hash: None,
        expected_weights_root: None,
        expected_temperature_milli: None,
        expected_prompt: None,
    };
    let c = &case["chain"];
    let h = |k: &str| hex::decode(c[k].as_str().unwrap()).unwrap();
    let mut trust = ChainTrust::checkpoint(
        c["chain_id"].as_u64().unwrap(),
        h("trusted_checkpoint").try_into().unwrap(),
    );
    trust.contract = Some(h("settlement").try_into().unwrap());
    trust.challenge_window_secs = c["challenge_window_secs"].as_u64();
    let got = verify_bundle_with_chain(&b, &opts, Some(&trust)).unwrap();
    let ChainCheck::Verified(claims) = &got.chain else {
        panic!("not verified");
    };
    let claims = serde_json::to_value(claims).unwrap();
    for (k, expected) in c["expected_claims"].as_object().unwrap() {
        assert_eq!(&claims[k], expected, "claim {k}");
    }
    assert!(matches!(got.finality, Finality::InWindow { .. }));

    // Years later: the bundle's own chain status says final, but the proof is as of a block
    // inside the window (a dispute opened after it would not show), so the proven finality
    // stays in window.
    let later = VerifyOptions {
        time: otr_core::UnixTime::parse_rfc3339("2027-06-01T00:00:00Z").unwrap(),
        ..opts
    };
    let unproven = verify_bundle(&b, &later).unwrap();
    assert!(
        matches!(unproven.finality, Finality::Final { .. }),
        "{:?}",
        unproven.finality
    );
    let proven = verify_bundle_with_chain(&b, &later, Some(&trust)).unwrap();
    assert!(
        matches!(proven.finality, Finality::InWindow { .. }),
        "{:?}",
        proven.finality
    );
}

/// A reorganization drops the node's posted batch: the chain is rolled back to before the post
/// (anvil `evm_snapshot` / `evm_revert`). The node sees that the chain's header sequence is
/// behind its store's record, posts the headers again, and its bundle then carries an inclusion
/// and a stapled proof of the new chain that verify against that chain's head.
#[test]
fn a_batch_dropped_by_a_reorganization_is_posted_again() {
    use serde_json::json;
    let anvil = Anvil::start();
    let dir = tempdir("reorg");
    let port = free_port();
    let _child = node_on_anvil(&dir, port, &anvil.url);
    let saved = SavedDeployment::read_file(&dir.join(RPC_DEPLOYMENT_FILE)).unwrap();
    let mut rpc = RpcHost::connect(&anvil.url).unwrap();
    let before = rpc.request("evm_snapshot", json!([])).unwrap();
    let posted_at = |b: &AnswerBundle| {
        b.chain_proof
            .as_ref()
            .map(|cp| (number(&cp.headers[0]), keccak256(&cp.headers[0])))
    };
    let wait_posted = |id: &str, not: Option<[u8; 32]>| -> AnswerBundle {
        let t = Instant::now();
        loop {
            let b = AnswerBundle::from_json(&bundle_text(port, id)).unwrap();
            if b.rollup.is_some() && posted_at(&b).is_some_and(|(_, h)| Some(h) != not) {
                return b;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "no (new) stapled rollup inclusion after 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let id = ask(port, "The capital of France is");
    let first = wait_posted(&id, None);
    let (_, first_block) = posted_at(&first).unwrap();

    // The reorganization: the post's block and everything after it are gone.
    assert_eq!(
        rpc.request("evm_revert", json!([before])).unwrap(),
        json!(true)
    );
    assert!(
        rpc.block_hash(number(&first.chain_proof.as_ref().unwrap().headers[0]))
            .map_or(true, |h| h.0 != first_block),
        "the post's block is gone"
    );
    let again = wait_posted(&id, Some(first_block));
    let (block, _) = posted_at(&again).unwrap();
    let r = again.rollup.as_ref().unwrap();
    assert_eq!(
        r.batch_root,
        first.rollup.as_ref().unwrap().batch_root,
        "same headers"
    );
    let count = otr_node::node::settlement::batch_count(&mut rpc, &saved.deployment()).unwrap();
    assert_eq!(count, r.batch_index + 1, "posted once on the new chain");

    let head = rpc.block_number().unwrap();
    assert!(head >= block);
    let (anchors, policy, time) = dev_trust(port);
    let v = otr_node::native_crypto::OpensslVerifier::new();
    let opts = VerifyOptions {
        time,
        policy: &policy,
        anchors: &anchors,
        verifier: &v,
        verifying_keys: &[],
        expected_request_hash: None,
        expected_weights_root: None,
        expected_temperature_milli: None,
        expected_prompt: None,
    };
    let b = AnswerBundle::from_json(&bundle_text(port, &id)).unwrap();
    let cp = b.chain_proof.as_ref().unwrap();
    let tip = number(cp.headers.last().unwrap());
    let mut trust = ChainTrust::checkpoint(31337, rpc.block_hash(tip).unwrap().0);
    trust.contract = Some(saved.settlement.0 .0);
    let full = verify_bundle_with_chain(&b, &opts, Some(&trust))
        .expect("the stapled proof of the new chain verifies");
    assert!(
        matches!(full.chain, ChainCheck::Verified(_)),
        "{:?}",
        full.chain
    );
}

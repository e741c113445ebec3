//! Settlement end to end on the embedded chain: a real `otr serve` posts its micro-batch headers
//! as rollup batches; bundles go provisional -> in window -> final; their rollup inclusion
//! verifies and names the on-chain batch root; restarts (also after losing the store's record of
//! posts, or with an older chain file) keep posting from where the chain stopped; the dispute
//! call path opens a dispute from a bundle; `otr watch` re-checks every posted receipt.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ask, bundle_text, dev_trust, free_port, start, tempdir};
use otr_contracts::{Address, Chain, U256};
use otr_core::rollup::{AnswerBundle, DisputeState, Finality};
use otr_node::node::settlement::{self, SavedDeployment, CHAIN_FILE};

const FAST: &[&str] = &["--challenge-window-secs", "2", "--post-interval-ms", "200"];

fn bundle(port: u16, id: &str) -> AnswerBundle {
    AnswerBundle::from_json(&bundle_text(port, id)).unwrap()
}

fn verify(port: u16, b: &AnswerBundle) -> otr_core::verify::VerifiedBundle {
    let (anchors, policy, time) = dev_trust(port);
    let v = otr_node::native_crypto::OpensslVerifier::new();
    let opts = otr_core::verify::VerifyOptions {
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
    otr_core::verify::verify_bundle(b, &opts).expect("bundle verifies")
}

/// Polls the bundle until `pred` holds on its verified finality.
fn wait_for(
    port: u16,
    id: &str,
    what: &str,
    pred: impl Fn(&Finality) -> bool,
) -> (AnswerBundle, otr_core::verify::VerifiedBundle) {
    let t = Instant::now();
    loop {
        let b = bundle(port, id);
        let v = verify(port, &b);
        if pred(&v.finality) {
            return (b, v);
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{id}: still {:?}, waiting for {what}",
            v.finality
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The chain as the node last saved it, and its deployment.
fn chain(data: &Path) -> (Chain, otr_contracts::deploy::Deployment) {
    let d = SavedDeployment::read(data).unwrap().deployment();
    (Chain::load(&data.join(CHAIN_FILE)).unwrap(), d)
}

/// Checks the bundle's rollup section against the chain file: same root at that index.
fn check_on_chain(data: &Path, b: &AnswerBundle, v: &otr_core::verify::VerifiedBundle) {
    let r = b.rollup.as_ref().expect("posted");
    let (mut c, d) = chain(data);
    let onchain = settlement::read_batch(&mut c, &d, r.batch_index).unwrap();
    v.structure
        .check_batch(r.batch_index, &onchain.root)
        .unwrap();
    assert_eq!(onchain.header_count, r.batch_size);
    assert_eq!(
        onchain.first_sequence + r.header_index as u64,
        b.header.sequence
    );
    assert_eq!(onchain.node, b.header.node_address);
}

fn kill(mut child: std::process::Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[test]
fn bundles_go_provisional_then_in_window_then_final() {
    let dir = tempdir("finality");
    let port = free_port();
    let child = start(&dir, port, FAST);
    let id = ask(port, "The capital of France is");
    // Right after the answer: attested, and either not posted yet or in its window.
    let b = bundle(port, &id);
    let v = verify(port, &b);
    assert!(
        matches!(
            v.finality,
            Finality::Provisional | Finality::InWindow { .. }
        ),
        "{:?}",
        v.finality
    );
    assert_eq!(b.rollup.is_some(), b.chain_status.is_some());
    let (b, v) = wait_for(port, &id, "in window", |f| {
        matches!(f, Finality::InWindow { .. } | Finality::Final { .. })
    });
    let batch = v
        .structure
        .batch
        .as_ref()
        .expect("rollup inclusion verified");
    assert_eq!(batch.batch_root, b.rollup.as_ref().unwrap().batch_root);
    check_on_chain(&dir, &b, &v);
    let cs = b.chain_status.unwrap();
    assert_eq!(cs.challenge_window_secs, 2);
    assert_eq!(cs.dispute, DisputeState::None);
    let (b, v) = wait_for(port, &id, "final", |f| matches!(f, Finality::Final { .. }));
    check_on_chain(&dir, &b, &v);
    if let Finality::Final { since } = v.finality {
        assert_eq!(since.0, (cs.batch_posted_at + 2) as i64);
    }

    // `otr watch --once` re-checks every posted receipt against the chain.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(["watch", "--once", "--allow-dev-root", "--node"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!reports.is_empty());
    let verified: u64 = reports
        .iter()
        .map(|r| r["receipts_verified"].as_u64().unwrap())
        .sum();
    let on_chain: u64 = reports
        .iter()
        .map(|r| r["receipts_on_chain"].as_u64().unwrap())
        .sum();
    assert_eq!(verified, on_chain, "{stdout}");
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restarts_keep_posting_from_where_the_chain_stopped() {
    let dir = tempdir("restart");
    let port = free_port();
    let child = start(&dir, port, FAST);
    let first: Vec<String> = (0..2).map(|i| ask(port, &format!("First {i}"))).collect();
    let mut posted = Vec::new();
    for id in &first {
        let (b, v) = wait_for(port, id, "posted", |f| !matches!(f, Finality::Provisional));
        check_on_chain(&dir, &b, &v);
        posted.push(b.rollup.unwrap());
    }
    kill(child);
    let old_chain = std::fs::read(dir.join(CHAIN_FILE)).unwrap();

    // Restart after SIGKILL: earlier posts stay, new answers are posted after them.
    let child = start(&dir, port, FAST);
    let second: Vec<String> = (0..2).map(|i| ask(port, &format!("Second {i}"))).collect();
    for (id, before) in first.iter().zip(&posted) {
        assert_eq!(bundle(port, id).rollup.as_ref(), Some(before));
    }
    for id in &second {
        let (b, v) = wait_for(port, id, "posted", |f| !matches!(f, Finality::Provisional));
        check_on_chain(&dir, &b, &v);
        assert!(b.rollup.unwrap().batch_index > posted[0].batch_index);
    }
    kill(child);

    // A crash after the chain was saved but before the store recorded the post: the node
    // recovers the posts from the chain (no double posting, same batch indices).
    let (mut c, d) = chain(&dir);
    let batches_before = settlement::batch_count(&mut c, &d).unwrap();
    {
        let db = rusqlite::Connection::open(dir.join("node.sqlite3")).unwrap();
        db.execute_batch("DELETE FROM rollup; DELETE FROM rollup_batches;")
            .unwrap();
    }
    let child = start(&dir, port, FAST);
    for (id, before) in first.iter().zip(&posted) {
        assert_eq!(bundle(port, id).rollup.as_ref(), Some(before));
    }
    let (mut c, d) = chain(&dir);
    assert_eq!(settlement::batch_count(&mut c, &d).unwrap(), batches_before);
    kill(child);

    // A chain file older than the store (the posts after it are lost): the node re-posts them.
    std::fs::write(dir.join(CHAIN_FILE), &old_chain).unwrap();
    let child = start(&dir, port, FAST);
    for id in first.iter().chain(&second) {
        let (b, v) = wait_for(port, id, "posted", |f| !matches!(f, Finality::Provisional));
        check_on_chain(&dir, &b, &v);
    }
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_challenger_can_open_a_dispute_from_a_bundle() {
    let dir = tempdir("dispute");
    let port = free_port();
    // A long window, so the batch is still open when the challenger moves.
    let child = start(
        &dir,
        port,
        &[
            "--challenge-window-secs",
            "600",
            "--post-interval-ms",
            "200",
        ],
    );
    let id = ask(port, "Dispute me");
    let (b, _) = wait_for(port, &id, "posted", |f| !matches!(f, Finality::Provisional));
    kill(child);
    // The embedded chain has one writer (the node); here the node is stopped, so the test plays
    // the challenger on the chain file.
    let (mut c, d) = chain(&dir);
    let challenger = Address::repeat_byte(0xc0);
    c.set_balance(challenger, U256::from(10u64).pow(U256::from(18u64)));
    let bond = U256::from(10u64).pow(U256::from(17u64));
    let dispute = settlement::open_dispute_for(&mut c, &d, challenger, &b, bond).unwrap();
    let r = b.rollup.as_ref().unwrap();
    let status = d.chain_status(&mut c, r.batch_index).unwrap();
    assert_eq!(status.dispute, DisputeState::Open);
    let game = d.dispute(&mut c, dispute).unwrap();
    assert_eq!(game.batchIndex, r.batch_index);
    let _ = std::fs::remove_dir_all(&dir);
}

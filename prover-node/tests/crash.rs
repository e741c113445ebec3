//! Durability under SIGKILL: a real `otr serve` process answers requests from several clients
//! and is killed with SIGKILL at random moments, then restarted. Afterwards every answer a client
//! received (its receipt id and hash) must be stored, batched, attested, and its bundle must
//! verify with otr-core. Uses the tiny fixture model and dev attestation.

mod common;

use common::{free_port, http, start};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otr_core::crypto::RustCrypto;
use otr_core::rollup::AnswerBundle;
use otr_core::verify::{verify_bundle, VerifyOptions};

/// A tiny deterministic RNG for kill times (xorshift).
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_under_load_loses_no_answered_receipt() {
    let data = std::env::temp_dir().join(format!("otr-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let answered: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let port = free_port();
    for round in 0..5 {
        let mut node = start(&data, port, &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let (stop, answered) = (stop.clone(), answered.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let body = format!(r#"{{"prompt": "round {round} client {c} request {i}", "max_tokens": 4, "temperature": 0}}"#);
                        if let Some((200, text)) = http(port, "POST", "/v1/completions", &body) {
                            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                            let id = v["otr"]["receipt_id"].as_str().unwrap().to_string();
                            let hash = v["otr"]["receipt_hash"].as_str().unwrap().to_string();
                            answered.lock().unwrap().push((id, hash));
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200 + rng(&mut seed) % 1300));
        node.kill().unwrap(); // SIGKILL
        node.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 10,
        "too few answers under load: {}",
        answered.len()
    );

    let mut node = start(&data, port, &[]);
    let (anchors, policy, now) = common::dev_trust(port);
    for (id, hash) in &answered {
        let (status, text) = http(port, "GET", &format!("/v1/receipts/{id}/bundle"), "").unwrap();
        assert_eq!(status, 200, "receipt {id} lost or not attested: {text}");
        let b = AnswerBundle::from_json(&text).unwrap();
        assert_eq!(
            &hex::encode(b.receipt.receipt_hash()),
            hash,
            "{id}: stored receipt differs from the answer"
        );
        let opts = VerifyOptions {
            time: now,
            policy: &policy,
            anchors: &anchors,
            verifier: &RustCrypto,
            verifying_keys: &[],
            expected_request_hash: None,
            expected_weights_root: None,
            expected_temperature_milli: None,
            expected_prompt: None,
        };
        verify_bundle(&b, &opts).unwrap_or_else(|e| panic!("{id}: bundle does not verify: {e}"));
    }
    node.kill().unwrap();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&data);
    eprintln!(
        "{} answered receipts survived 5 SIGKILLs and verify",
        answered.len()
    );
}

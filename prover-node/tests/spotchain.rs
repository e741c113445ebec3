//! On-chain spot checks end to end: a node on its embedded chain deployed with a spot-check
//! rate of 100% (`--chain-spot-check-ppm 1000000`) answers requests; for every posted receipt
//! the SpotChecks contract samples one trace step, and the node proves it with
//! `proveSpotCheck` where the operator has a single-call step verifier, or records why it
//! cannot. The test then reads the node's saved chain: a receipt is cleared on-chain exactly
//! when the node says it proved it, and the step the node proved is the contract's
//! `selectedStep`.

mod common;

use common::*;
use otr_contracts::bindings::spot_checks::SpotChecks;
use otr_contracts::evm::Chain;
use otr_contracts::host;
use otr_contracts::U256;
use otr_core::rollup::AnswerBundle;
use otr_node::node::settlement::{SavedDeployment, CHAIN_FILE};
use std::time::{Duration, Instant};

fn bundle(port: u16, id: &str) -> AnswerBundle {
    AnswerBundle::from_json(&bundle_text(port, id)).unwrap()
}

fn counts(port: u16) -> serde_json::Value {
    let (status, text) = http(port, "GET", "/v1/node", "").unwrap();
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["chain_spot_checks"].clone()
}

#[test]
fn the_node_proves_the_steps_the_spot_check_contract_samples() {
    let dir = tempdir("all");
    let port = free_port();
    let mut node = start(
        &dir,
        port,
        &[
            "--post-interval-ms",
            "200",
            "--chain-spot-check-ppm",
            "1000000",
        ],
    );
    let prompts = [
        "The capital of France is",
        "One two three",
        "Water boils at",
        "A cat sat on",
        "Rust is a language",
        "The sky is",
        "Seven eight",
        "Hello there",
        "Bits and bytes",
        "Ten little",
    ];
    let ids: Vec<String> = prompts.iter().map(|p| ask(port, p)).collect();
    // Every receipt selected (100%) and handled: proved, or recorded as unprovable.
    let t = Instant::now();
    let done = loop {
        let c = counts(port);
        let total: i64 = c
            .as_object()
            .map(|m| m.values().filter_map(|v| v.as_i64()).sum())
            .unwrap_or(0);
        let queued = c["queued"].as_i64().unwrap_or(0);
        if total == ids.len() as i64 && queued == 0 {
            break c;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "on-chain spot checks not done: {c}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["failed"].as_i64().unwrap_or(0), 0, "{done}");
    assert_eq!(done["missed"].as_i64().unwrap_or(0), 0, "{done}");
    let proved = done["proved"].as_i64().unwrap_or(0);
    assert!(proved >= 1, "no sampled step was provable: {done}");
    let bundles: Vec<AnswerBundle> = ids.iter().map(|id| bundle(port, id)).collect();
    let _ = node.kill();
    let _ = node.wait();

    // The node's own records.
    let db = rusqlite::Connection::open(dir.join("node.sqlite3")).unwrap();
    let mut on_chain_cleared = 0;
    let d = SavedDeployment::read(&dir).unwrap().deployment();
    let mut chain = Chain::load(&dir.join(CHAIN_FILE)).unwrap();
    for (id, b) in ids.iter().zip(&bundles) {
        let (status, step, note): (String, Option<i64>, Option<String>) = db
            .query_row(
                "SELECT status, step, note FROM chain_spot_checks WHERE receipt_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let batch = U256::from(b.rollup.as_ref().expect("posted").batch_index);
        let rh = b.receipt.receipt_hash();
        let selected: bool = host::view(
            &mut chain,
            d.spot_checks,
            &SpotChecks::isSelectedCall {
                batchIndex: batch,
                receiptHash: rh.into(),
            },
        )
        .unwrap();
        assert!(selected, "{id}: a 100% rate selects every receipt");
        let want_step: u64 = host::view(
            &mut chain,
            d.spot_checks,
            &SpotChecks::selectedStepCall {
                batchIndex: batch,
                receiptHash: rh.into(),
                traceSteps: b.receipt.trace_steps,
            },
        )
        .unwrap();
        assert_eq!(step, Some(want_step as i64), "{id}: the contract's step");
        let cleared: bool = host::view(
            &mut chain,
            d.spot_checks,
            &SpotChecks::clearedCall {
                batchIndex: batch,
                receiptHash: rh.into(),
            },
        )
        .unwrap();
        match status.as_str() {
            "proved" => {
                assert!(cleared, "{id}: proved by the node but not cleared on-chain");
                on_chain_cleared += 1;
            }
            "unprovable" => {
                assert!(!cleared, "{id}");
                let note = note.unwrap_or_default();
                assert!(note.contains("no step verifier"), "{id}: {note}");
            }
            other => panic!("{id}: status {other} ({note:?})"),
        }
    }
    assert_eq!(on_chain_cleared, proved);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With unit proving keys for two shapes (`--zk-params` twice: two-contributor ceremonies for
/// the fixture's 64 x 64 attention projections and its 64 x 256 `DOWN`), a receipt whose sampled
/// step is a matrix-vector product of one of them is proved with `proveSpotCheckMatVec` and the
/// unit the seed draws: the node's unit is the contract's `selectedUnit`, and the receipt is
/// cleared on-chain. The node publishes both verifying keys.
#[test]
fn matrix_steps_are_proved_with_the_unit_the_seed_draws() {
    let dir = tempdir("matvec");
    let keys = ceremony(&dir);
    let down = ceremony_for(&dir, 64, 256);
    let data = dir.join("node");
    let port = free_port();
    let mut node = start(
        &data,
        port,
        &[
            "--post-interval-ms",
            "200",
            "--chain-spot-check-ppm",
            "1000000",
            "--zk-params",
            &keys,
            "--zk-params",
            &down,
        ],
    );
    let (status, text) = http(port, "GET", "/v1/node", "").unwrap();
    assert_eq!(status, 200, "{text}");
    let info: serde_json::Value = serde_json::from_str(&text).unwrap();
    let published = info["zk_spot_checks"]["keys"]
        .as_array()
        .expect("keys")
        .clone();
    let shapes: Vec<(u64, u64)> = published
        .iter()
        .map(|k| {
            let s = &k["shape"];
            (
                s["matrix_rows"].as_u64().unwrap(),
                s["cols"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shapes, [(64, 64), (64, 256)]);
    // Ask in rounds of ten until a receipt is sampled at a matrix step of the keys' shape (about
    // one step in eight of the fixture's trace).
    let mut ids = Vec::new();
    let found = 'rounds: loop {
        assert!(ids.len() < 80, "no receipt sampled at a keyed matrix step");
        for i in 0..10 {
            ids.push(ask(port, &format!("Counting {} and {i}", ids.len())));
        }
        let t = Instant::now();
        let c = loop {
            let c = counts(port);
            let total: i64 = c
                .as_object()
                .map(|m| m.values().filter_map(|v| v.as_i64()).sum())
                .unwrap_or(0);
            if total == ids.len() as i64 && c["queued"].as_i64().unwrap_or(0) == 0 {
                break c;
            }
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "on-chain spot checks not done: {c}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(c["failed"].as_i64().unwrap_or(0), 0, "{c}");
        let db = rusqlite::Connection::open(data.join("node.sqlite3")).unwrap();
        for id in &ids {
            let note: Option<String> = db
                .query_row(
                    "SELECT note FROM chain_spot_checks WHERE receipt_id = ?1 AND status = 'proved'",
                    [id],
                    |r| r.get(0),
                )
                .unwrap_or(None);
            if let Some(n) = note.filter(|n| n.starts_with("matrix-vector unit ")) {
                break 'rounds (id.clone(), n);
            }
        }
    };
    let (id, note) = found;
    let b = bundle(port, &id);
    let _ = node.kill();
    let _ = node.wait();
    // "matrix-vector unit U of N"
    let words: Vec<&str> = note.split(' ').collect();
    let (unit, units): (u64, u64) = (words[2].parse().unwrap(), words[4].parse().unwrap());
    assert!(units > 1 && unit < units, "{note}");
    let d = SavedDeployment::read(&data).unwrap().deployment();
    let mut chain = Chain::load(&data.join(CHAIN_FILE)).unwrap();
    let batch = b.rollup.as_ref().expect("posted").batch_index;
    let rh = b.receipt.receipt_hash();
    assert_eq!(
        d.selected_unit(&mut chain, batch, rh, units).unwrap(),
        unit,
        "the unit the contract draws"
    );
    let cleared: bool = host::view(
        &mut chain,
        d.spot_checks,
        &SpotChecks::clearedCall {
            batchIndex: U256::from(batch),
            receiptHash: rh.into(),
        },
    )
    .unwrap();
    assert!(cleared, "{id}: proved by the node but not cleared on-chain");
    let _ = std::fs::remove_dir_all(&dir);
}

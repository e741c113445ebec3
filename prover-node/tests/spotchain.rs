//! On-chain spot checks end to end: a node on its embedded chain deployed with a spot-check
//! rate of 100% (`--chain-spot-check-ppm 1000000`) and unit proving keys for two of the fixture
//! model's matrix shapes (`--zk-params` twice: 64 x 64 attention projections, 64 x 256 `DOWN`)
//! answers requests; for every posted receipt the SpotChecks contract samples a trace index, and
//! the node proves the first layer matrix-vector step at or after it with the unit the seed draws
//! (`proveSpotCheck`), or records why it cannot (a shape without keys has no verifier). The test
//! then reads the node's saved chain: a receipt is cleared on-chain exactly when the node says it
//! proved it, the proved step is at most a few leaves after the contract's `selectedStep`, and
//! the proved unit is the contract's `selectedUnit`.

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
    let dir = tempdir("spotchain");
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
    // Ask in rounds of ten until a receipt's step is proved (a step of a keyed shape).
    let mut ids = Vec::new();
    let done = loop {
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
        assert_eq!(c["missed"].as_i64().unwrap_or(0), 0, "{c}");
        if c["proved"].as_i64().unwrap_or(0) > 0 {
            break c;
        }
    };
    let proved = done["proved"].as_i64().unwrap();
    let bundles: Vec<AnswerBundle> = ids.iter().map(|id| bundle(port, id)).collect();
    let _ = node.kill();
    let _ = node.wait();

    let db = rusqlite::Connection::open(data.join("node.sqlite3")).unwrap();
    let d = SavedDeployment::read(&data).unwrap().deployment();
    let mut chain = Chain::load(&data.join(CHAIN_FILE)).unwrap();
    let mut on_chain_cleared = 0;
    for (id, b) in ids.iter().zip(&bundles) {
        let (status, step, note): (String, Option<i64>, Option<String>) = db
            .query_row(
                "SELECT status, step, note FROM chain_spot_checks WHERE receipt_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let batch = b.rollup.as_ref().expect("posted").batch_index;
        let rh = b.receipt.receipt_hash();
        let selected: bool = host::view(
            &mut chain,
            d.spot_checks,
            &SpotChecks::isSelectedCall {
                batchIndex: U256::from(batch),
                receiptHash: rh.into(),
            },
        )
        .unwrap();
        assert!(selected, "{id}: a 100% rate selects every receipt");
        let sampled: u64 = host::view(
            &mut chain,
            d.spot_checks,
            &SpotChecks::selectedStepCall {
                batchIndex: U256::from(batch),
                receiptHash: rh.into(),
                traceSteps: b.receipt.trace_steps,
            },
        )
        .unwrap();
        // The proved step is the first layer matrix step at or after the sampled index: a few
        // leaves on at most (after a layer's DOWN: its RESID_FFN, the head, the next EMBED and
        // ATTN_NORM), wrapping around the trace.
        let n = b.receipt.trace_steps;
        let step = step.expect("a step") as u64;
        assert!(
            (step + n - sampled) % n <= 8,
            "{id}: step {step}, sampled {sampled}"
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
        let note = note.unwrap_or_default();
        match status.as_str() {
            "proved" => {
                assert!(cleared, "{id}: proved by the node but not cleared on-chain");
                on_chain_cleared += 1;
                // "matrix-vector unit U of N": the contract's draw.
                let words: Vec<&str> = note.split(' ').collect();
                assert_eq!(words[..2], ["matrix-vector", "unit"], "{note}");
                let (unit, units): (u64, u64) =
                    (words[2].parse().unwrap(), words[4].parse().unwrap());
                assert!(units > 1 && unit < units, "{note}");
                assert_eq!(
                    d.selected_unit(&mut chain, batch, rh, units).unwrap(),
                    unit,
                    "{id}: the unit the contract draws"
                );
            }
            "unprovable" => {
                assert!(!cleared, "{id}");
                assert!(note.contains("no step verifier"), "{id}: {note}");
            }
            other => panic!("{id}: status {other} ({note})"),
        }
    }
    assert_eq!(on_chain_cleared, proved);
    let _ = std::fs::remove_dir_all(&dir);
}

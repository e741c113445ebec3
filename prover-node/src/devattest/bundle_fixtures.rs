//! Self-made answer-bundle fixtures: `fixtures/bundles/<case>/` with `bundle.json` (and
//! `bundle.otrb`, the binary form) and a `case.json` naming the expected verdict or error code
//! and, for accepted bundles, the expected finality state.

use std::path::Path;

use otr_core::rollup::{ChainStatus, DisputeState};
use serde_json::json;

use super::bundle::{build_bundle, node_key, sample_receipt, BundleSpec};
use super::fixtures::{FIXTURE_SEED, FIXTURE_TIME};
use super::DevGpu;

/// (name, description, bundle, expected verdict, expected finality, policy override).
type Case = (
    &'static str,
    &'static str,
    otr_core::rollup::AnswerBundle,
    &'static str,
    Option<&'static str>,
    Option<serde_json::Value>,
);

/// FIXTURE_TIME as Unix seconds.
const NOW: u64 = 1_767_225_600;

pub fn generate(out: &Path) -> std::io::Result<usize> {
    let gpu = DevGpu::generate(FIXTURE_SEED);
    let key = node_key(FIXTURE_SEED);
    let receipts: Vec<_> = (0..5)
        .map(|i| sample_receipt(&format!("request-{i}"), NOW - 700))
        .collect();
    let others: Vec<[u8; 32]> = (0..6u8).map(|i| [i; 32]).collect();
    let spec = |batch: Option<(u64, Vec<[u8; 32]>, usize)>, chain_status| BundleSpec {
        gpu: &gpu,
        node_key: &key,
        seed: FIXTURE_SEED,
        chain_id: 31337,
        sequence: 42,
        receipts: receipts.clone(),
        index: 3,
        timestamp: NOW - 600,
        batch,
        chain_status,
    };
    let posted = |at: u64, dispute| {
        Some(ChainStatus {
            batch_posted_at: at,
            challenge_window_secs: 3600,
            dispute,
        })
    };
    let batch = || Some((9u64, others.clone(), 2usize));
    let good = build_bundle(&spec(None, None));

    // (name, description, bundle, expected, expected finality, policy override)
    let mut cases: Vec<Case> = vec![
        (
            "provisional",
            "attested and signed, not posted yet",
            good.clone(),
            "ok",
            Some("provisional"),
            None,
        ),
        (
            "in_window",
            "posted 500 s ago, 3600 s challenge window",
            build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::None))),
            "ok",
            Some("in_window"),
            None,
        ),
        (
            "final",
            "posted two hours ago, window passed without dispute",
            build_bundle(&spec(batch(), posted(NOW - 7200, DisputeState::None))),
            "ok",
            Some("final"),
            None,
        ),
        (
            "disputed",
            "posted, a dispute is open",
            build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::Open))),
            "ok",
            Some("disputed"),
            None,
        ),
        (
            "slashed",
            "a dispute was lost by the node",
            build_bundle(&spec(
                batch(),
                posted(
                    NOW - 7200,
                    DisputeState::ResolvedNodeLost {
                        slashed_wei: 10u128.pow(18),
                    },
                ),
            )),
            "ok",
            Some("slashed"),
            None,
        ),
        (
            "dev_root_rejected",
            "genuine dev bundle; the policy does not allow dev roots",
            good.clone(),
            "POLICY_DEV_ROOT",
            None,
            Some(json!({ "require_rims": false, "require_ocsp": false })),
        ),
    ];
    let mut tampered =
        |name, description, expected, f: &dyn Fn(&mut otr_core::rollup::AnswerBundle)| {
            let mut b = build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::None)));
            f(&mut b);
            cases.push((name, description, b, expected, None, None));
        };
    tampered(
        "receipt_output_changed",
        "the receipt's output hash changed after batching",
        "INCLUSION_ROOT_MISMATCH",
        &|b| b.receipt.output_hash[0] ^= 1,
    );
    tampered(
        "receipt_path_changed",
        "one hash of the receipt's audit path changed",
        "INCLUSION_ROOT_MISMATCH",
        &|b| b.receipt_proof.path[0][5] ^= 1,
    );
    tampered(
        "header_changed",
        "the header's timestamp changed after signing",
        "HEADER_SIGNER_MISMATCH",
        &|b| b.header.timestamp += 1,
    );
    tampered(
        "batch_path_changed",
        "one hash of the batch audit path changed",
        "INCLUSION_ROOT_MISMATCH",
        &|b| b.rollup.as_mut().unwrap().path[1][0] ^= 1,
    );
    tampered(
        "report_byte_flipped",
        "one bit of a measurement in the GPU report flipped",
        "REPORT_SIGNATURE_INVALID",
        &|b| b.evidence.report[60] ^= 1,
    );
    tampered(
        "receipt_after_header",
        "the receipt claims a time after its micro-batch",
        "BUNDLE_RECEIPT_AFTER_HEADER",
        &|b| b.receipt.created_at = b.header.timestamp + 1,
    );

    {
        // The GPU attested another micro-batch: its nonce is not this header's hash.
        let mut b = build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::None)));
        let other = build_bundle(&BundleSpec {
            sequence: 43,
            ..spec(None, None)
        });
        b.evidence.report = other.evidence.report;
        cases.push((
            "report_for_other_header",
            "the GPU report attests a different micro-batch header",
            b,
            "REPORT_NONCE_MISMATCH",
            None,
            None,
        ));
    }
    let dir = out.join("bundles");
    for (name, description, bundle, expected, finality, policy) in &cases {
        let d = dir.join(name);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("bundle.json"), bundle.to_json() + "\n")?;
        std::fs::write(d.join("bundle.otrb"), bundle.encode())?;
        let mut m = json!({
            "description": description,
            "expected": expected,
            "time": FIXTURE_TIME,
            "policy": policy.clone().unwrap_or(json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true })),
            "dev_root": "../../attestation/dev-root.pem",
            "made_by": "otr dev fixtures (prover-node/src/devattest/bundle_fixtures.rs), seed \"otr-fixtures-v1\"",
        });
        if let Some(f) = finality {
            m["finality"] = json!(f);
        }
        std::fs::write(
            d.join("case.json"),
            serde_json::to_string_pretty(&m)? + "\n",
        )?;
    }
    // A binary bundle cut short.
    let d = dir.join("truncated");
    std::fs::create_dir_all(&d)?;
    let bytes = good.encode();
    std::fs::write(d.join("bundle.otrb"), &bytes[..bytes.len() / 2])?;
    std::fs::write(
        d.join("case.json"),
        serde_json::to_string_pretty(&json!({
            "description": "the binary bundle cut in half",
            "expected": "BUNDLE_TRUNCATED",
            "time": FIXTURE_TIME,
            "policy": { "require_rims": false, "require_ocsp": false, "allow_dev_roots": true },
            "dev_root": "../../attestation/dev-root.pem",
            "made_by": "otr dev fixtures (prover-node/src/devattest/bundle_fixtures.rs)",
        }))? + "\n",
    )?;
    std::fs::write(
        dir.join("README.md"),
        "# Bundle fixtures\n\nAnswer bundles made by `otr dev fixtures` with a dev node key (secp256k1) and a dev GPU\n(NOT PRODUCTION), as `bundle.json` and `bundle.otrb` (the binary form), each with a `case.json`:\nexpected verdict or error code, expected finality, time, policy, dev root. Checked by\n`prover-node/tests/bundle_fixtures.rs` and by `otr verify bundle`.\n",
    )?;
    Ok(cases.len() + 1)
}

//! The light client on real anvil output (`fixtures/light-client/anvil-basic`, made by
//! `scripts/anvil-proof-fixtures.sh`): every case in its case.json, by name.

#[path = "support/anvil_fixture.rs"]
mod anvil_fixture;

use anvil_fixture::{AnvilFixture, Eip1186};
use otr_core::chain::{
    keccak256, verify_batch_inclusion, Checkpoint, EthHeader, HeaderFork, LightError, StorageProof,
    VerifiedChainClaims,
};
use otr_core::error::ErrorCode;
use serde_json::Value;

fn run(
    f: &AnvilFixture,
    checkpoint: &Checkpoint,
    headers: &[Vec<u8>],
    proofs: &Eip1186,
    storage: &[StorageProof],
    batch: u64,
) -> Result<VerifiedChainClaims, LightError> {
    verify_batch_inclusion(
        checkpoint,
        headers,
        &proofs.account,
        storage,
        &f.contract,
        &f.layout,
        batch,
    )
}

fn run_case(f: &AnvilFixture, name: &str) -> Result<VerifiedChainClaims, LightError> {
    let cp = &f.checkpoint;
    let (h, p) = (&f.canonical_headers, &f.canonical);
    match name {
        "good_batch_0" => run(f, cp, h, p, &f.storage_for(p, 0), 0),
        "good_batch_1_node_lost" => run(f, cp, h, p, &f.storage_for(p, 1), 1),
        "batch_2_not_posted" => run(f, cp, h, p, &f.storage_for(p, 2), 2),
        "proof_for_another_slot" => {
            let mut s = f.storage_for(p, 0);
            s[0] = f.slot_proof(p, 1);
            run(f, cp, h, p, &s, 0)
        }
        "wrong_value" => {
            let mut s = f.storage_for(p, 0);
            s[0].value[31] ^= 1;
            run(f, cp, h, p, &s, 0)
        }
        "truncated_node" => {
            let mut s = f.storage_for(p, 0);
            s[0].proof.last_mut().unwrap().pop();
            run(f, cp, h, p, &s, 0)
        }
        "header_not_on_trusted_chain" => {
            let r = &f.reorged;
            run(f, cp, &f.reorged_headers, r, &f.storage_for(r, 0), 0)
        }
        "reorged_away_block" => {
            let mut headers = f.reorged_headers.clone();
            headers.extend_from_slice(&f.canonical_headers[3..]);
            let r = &f.reorged;
            run(f, cp, &headers, r, &f.storage_for(r, 0), 0)
        }
        other => panic!("case.json names an unknown case {other}"),
    }
}

#[test]
fn headers_re_encode_to_their_hashes_and_link() {
    let f = AnvilFixture::load();
    assert_eq!(f.canonical_headers.len(), 64);
    for (i, raw) in f.canonical_headers.iter().enumerate() {
        let h = EthHeader::decode(raw, i).unwrap();
        assert_eq!(h.fork, HeaderFork::Prague);
        assert_eq!(h.number, i as u64 + 1);
        if i > 0 {
            assert_eq!(h.parent_hash, keccak256(&f.canonical_headers[i - 1]));
        }
    }
    assert_eq!(
        keccak256(f.canonical_headers.last().unwrap()),
        f.checkpoint.block_hash
    );
    // The reorg is real: same heights, other blocks.
    assert_ne!(f.reorged_headers[0], f.canonical_headers[0]);
}

#[test]
fn every_case_has_its_verdict() {
    let f = AnvilFixture::load();
    let cases = f.case["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let got = run_case(&f, name);
        match case["verdict"].as_str().unwrap() {
            "ok" => {
                let claims = got.unwrap_or_else(|e| panic!("{name}: {} {e}", e.code()));
                let json = serde_json::to_value(&claims).unwrap();
                for (k, v) in case["claims"].as_object().unwrap() {
                    assert_eq!(&json[k], v, "{name}: claim {k}");
                }
                assert_eq!(claims.chain_id, 31337);
                assert_eq!(claims.checkpoint_number, 64);
                check_claims_shape(&claims, &json);
            }
            "error" => {
                let e = got.err().unwrap_or_else(|| panic!("{name}: verified"));
                assert_eq!(e.code(), case["code"].as_str().unwrap(), "{name}: {e}");
                assert_eq!(e.stage().as_str(), "light_client");
            }
            v => panic!("{name}: unknown verdict {v}"),
        }
    }
}

fn check_claims_shape(c: &VerifiedChainClaims, json: &Value) {
    assert_eq!(
        json["contract"],
        "0x5fbdb2315678afecb367f032d93f642f64180aa3"
    );
    assert_eq!(c.window_end, c.posted_at + c.challenge_window_secs);
}

#[test]
fn a_relabelled_proof_for_another_slot_fails() {
    // The right key over another slot's nodes: the walk leaves the other slot's path.
    let f = AnvilFixture::load();
    let p = &f.canonical;
    let mut s = f.storage_for(p, 0);
    s[0].proof = f.slot_proof(p, 1).proof;
    let e = run(&f, &f.checkpoint, &f.canonical_headers, p, &s, 0).unwrap_err();
    assert!(
        matches!(
            e.code(),
            "LIGHT_PROOF_INVALID" | "LIGHT_VALUE_MISMATCH" | "LIGHT_PROOF_TRAILING_NODES"
        ),
        "{e}"
    );
}

#[test]
fn settlement_layout_matches_the_compiled_contract() {
    // contracts/artifacts/Settlement.json carries solc's storage layout; the core's constant
    // must say the same (word, byte offset, size) for every member it reads.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/artifacts/Settlement.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("{} absent: layout cross-check skipped", path.display());
        return;
    };
    let art: Value = serde_json::from_str(&text).unwrap();
    let sl = &art["storageLayout"];
    let batches = sl["storage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["label"] == "batches")
        .unwrap();
    let layout = otr_core::chain::BatchLayout::settlement(1, None);
    assert_eq!(
        layout.mapping_slot,
        otr_core::chain::layout::word_of(batches["slot"].as_str().unwrap().parse().unwrap())
    );
    let ty = batches["type"].as_str().unwrap();
    let value_ty = sl["types"][ty]["value"].as_str().unwrap();
    let members = sl["types"][value_ty]["members"].as_array().unwrap();
    let member = |label: &str| {
        let m = members.iter().find(|m| m["label"] == label).unwrap();
        let size: u8 = sl["types"][m["type"].as_str().unwrap()]["numberOfBytes"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        otr_core::chain::SlotField::new(
            m["slot"].as_str().unwrap().parse().unwrap(),
            m["offset"].as_u64().unwrap() as u8,
            size,
        )
    };
    assert_eq!(layout.root, member("root"));
    assert_eq!(layout.node, Some(member("node")));
    assert_eq!(layout.posted_at, member("postedAt"));
    assert_eq!(layout.header_count, Some(member("headerCount")));
    assert_eq!(layout.posted_block, Some(member("postedBlock")));
    assert_eq!(layout.dispute_state, member("disputeState"));
    assert_eq!(layout.slashed_wei, member("slashedWei"));
}

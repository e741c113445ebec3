//! Disputes at matrix-vector steps (docs/PROTOCOL.md §7.9) played by both sides in-process on
//! the embedded revm chain with the tiny Llama fixture model, its real engine and real unit
//! proofs: a frivolous challenger disputes an honest node at `Q`, `O` and `DOWN` steps; the
//! node opens the step (`openMatVec`, its whole output), the challenger recomputes the product
//! with its own engine, finds every row right and names the first unit, the node proves it
//! (`proveUnit`) and wins the bond. Keys: the INSECURE public phase 1's initial keys
//! (`otr_zk::ceremony::initial_key`), test keys only.

use std::sync::Arc;

use otr_contracts::deploy::{Deployment, MatVecShape, Params};
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::{Address, Chain, U256};
use otr_core::rollup::{MicroBatchHeader, Receipt, SamplingParams};
use otr_node::node::dispute::{
    self, leaf_key, op, LeafKey, MatVecReplay, MatVecSetup, Move, Outcome,
};
use otr_node::node::inference::{Inference, RunKind};

const CHAIN_ID: u64 = 31337;
const T0: u64 = 1_764_140_000;
const PROMPT: &str = "The quick brown fox";

fn sampling() -> SamplingParams {
    SamplingParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 3,
        seed: 7,
    }
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// Test keys of shape `(rows, cols, R)` (public INSECURE phase 1, no contribution).
fn test_keys(rows: usize, cols: usize, r: usize) -> otr_zk::keys::Keys {
    let shape = otr_zk::UnitShape::new(rows, cols, r).unwrap();
    let pk = otr_zk::ceremony::initial_key(shape).unwrap();
    let vk = otr_core::zk::PreparedVk::new(pk.vk.clone()).unwrap();
    otr_zk::keys::Keys {
        key_id: vk.key_id(),
        pk,
        vk,
        shape,
    }
}

#[test]
fn an_honest_llama_node_wins_frivolous_disputes_at_matrix_vector_steps() {
    let e: Arc<dyn Inference> =
        otr_node::node::engine_impl::load("fixture-llama", std::path::Path::new("."))
            .expect("load fixture-llama");
    let info = e.info();
    let s = sampling();
    let honest = e.trace(PROMPT, &s, RunKind::Honest).unwrap();
    let nl = info.num_layers;
    // Tiny Llama: Q and O are 64 x 64, DOWN 64 x 256.
    let setup = MatVecSetup::with_keys(
        "fixture-llama",
        vec![test_keys(64, 64, 4), test_keys(64, 256, 4)],
    )
    .unwrap();

    let mut chain = Chain::new(CHAIN_ID, T0);
    let (owner, node, challenger) = (
        Address::repeat_byte(0xa0),
        Address::repeat_byte(0xb0),
        Address::repeat_byte(0xc0),
    );
    for a in [owner, node, challenger] {
        chain.set_balance(a, eth(100));
    }
    let params = Params::devnet();
    let d = Deployment::deploy(&mut chain, owner, &params, T0).unwrap();
    // The registry entry as the node registers it: for a fixture model it carries the matrix
    // commitments' root, which proveUnit opens C_W against.
    let entry = otr_node::node::settlement::registry_entry(&info);
    assert_ne!(entry.poseidonRoot.0, [0u8; 32]);
    otr_contracts::host::send(
        &mut chain,
        owner,
        d.registry,
        &otr_contracts::bindings::model_registry::ModelRegistry::registerModelCall {
            modelId: info.model_id.into(),
            m: entry,
            vks: vec![],
        },
        U256::ZERO,
    )
    .unwrap();
    let rounds = d.deploy_poseidon_rounds(&mut chain).unwrap();
    let mut shapes = Vec::new();
    for (rows, cols, r, vk) in setup.shapes() {
        let g16 = d.deploy_matvec_groth16(&mut chain, vk.vk()).unwrap();
        let ops: &[u8] = if cols == 64 {
            &[op::Q, op::O]
        } else {
            &[op::DOWN]
        };
        for &o in ops {
            shapes.push(MatVecShape {
                stage_class: 1,
                op: o,
                rows: rows as u32,
                cols: cols as u32,
                unit_rows: r as u32,
                verifier: g16,
            });
        }
    }
    d.set_matvec_verifier(&mut chain, info.model_id, rounds, false, &shapes)
        .unwrap();
    d.stake(&mut chain, node, eth(2)).unwrap();

    let pos = honest.generation.prompt_tokens - 1;
    let targets = [
        LeafKey {
            pos,
            stage: 1,
            op: op::Q,
        },
        LeafKey {
            pos: 0,
            stage: nl,
            op: op::O,
        },
        LeafKey {
            pos,
            stage: 2,
            op: op::DOWN,
        },
    ];
    // One receipt per target, one batch.
    let receipts: Vec<Receipt> = (0..targets.len())
        .map(|i| Receipt {
            version: 1,
            model_id: info.model_id,
            weights_root: info.weights_root,
            request_hash: [i as u8 + 1; 32],
            output_hash: honest.output_hash,
            prompt_tokens: honest.generation.prompt_tokens,
            completion_tokens: honest.generation.completion_tokens,
            sampling: s,
            trace_root: honest.generation.trace_root,
            trace_steps: honest.generation.trace_steps,
            created_at: T0,
        })
        .collect();
    let hashes: Vec<[u8; 32]> = receipts.iter().map(|r| r.receipt_hash()).collect();
    let h = MicroBatchHeader {
        version: 1,
        chain_id: CHAIN_ID,
        node_address: node.0 .0,
        sequence: 0,
        prev_header_hash: [0; 32],
        receipts_root: otr_core::rollup::merkle::root(&hashes),
        receipt_count: receipts.len() as u32,
        timestamp: chain.timestamp(),
    };
    let (index, _) = d
        .post_batch(&mut chain, node, std::slice::from_ref(&h))
        .unwrap();

    let node_trace = Trace::new(honest.leaves.clone());
    for (i, key) in targets.iter().enumerate() {
        let at = honest
            .leaves
            .iter()
            .position(|l| leaf_key(l) == Some(*key))
            .expect("key in trace") as u64;
        // The challenger's trace is wrong at that leaf; its engine is right.
        let mut theirs = honest.leaves.clone();
        theirs[at as usize][56] ^= 1;
        let theirs = Trace::new(theirs);
        let r = ReceiptRef::new(index, std::slice::from_ref(&h), 0, &receipts, i).unwrap();
        let id = dispute::open(&mut chain, &d, challenger, &r, params.min_bond).unwrap();
        let stake0 = d.stake_of(&mut chain, node).unwrap();
        let credit0 = d.credit_of(&mut chain, node).unwrap();
        let replay = || dispute::Replay {
            engine: e.as_ref(),
            prompt: PROMPT,
            sampling: &s,
            run: RunKind::Honest,
        };
        let mut node_material = MatVecReplay {
            replay: replay(),
            setup: &setup,
        };
        let mut challenger_material = MatVecReplay {
            replay: replay(),
            setup: &setup,
        };
        let (outcome, moves) = dispute::play_both_with(
            &mut chain,
            &d,
            id,
            (node, &node_trace, &mut node_material),
            (challenger, &theirs, Some(&mut challenger_material)),
            params.move_timeout,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::NodeWon, "{key:?}: {moves:?}");
        assert!(
            moves.contains(&Move::OpenedMatVec {
                index: at,
                key: *key
            }),
            "{key:?}: {moves:?}"
        );
        // Every row of the node's output is the challenger's own: nothing to point at.
        assert!(
            moves.contains(&Move::NamedUnit {
                row_start: 0,
                wrong_row: None
            }),
            "{key:?}: {moves:?}"
        );
        assert!(
            moves.contains(&Move::ProvedUnit {
                index: at,
                key: *key,
                row_start: 0
            }),
            "{key:?}: {moves:?}"
        );
        assert_eq!(d.stake_of(&mut chain, node).unwrap(), stake0);
        assert_eq!(
            d.credit_of(&mut chain, node).unwrap() - credit0,
            params.min_bond * U256::from(params.winner_bps) / U256::from(10_000u64),
            "{key:?}: the node gets its share of the bond"
        );
    }
}

#[test]
fn the_challenger_names_the_unit_of_the_first_wrong_row() {
    let mine: Vec<u8> = (0..64i64).flat_map(|v| v.to_le_bytes()).collect();
    let mut theirs = mine.clone();
    assert_eq!(dispute::first_wrong_row(&theirs, &mine), None);
    theirs[8 * 37 + 3] ^= 1;
    theirs[8 * 50] ^= 1;
    assert_eq!(dispute::first_wrong_row(&theirs, &mine), Some(37));
    assert_eq!(
        dispute::first_wrong_row(&mine[..8 * 10], &mine),
        Some(10),
        "a short output is wrong where it ends"
    );
    // Matrix steps and their inputs.
    let k = |stage, op| LeafKey { pos: 3, stage, op };
    for (o, input) in [
        (op::Q, op::ATTN_NORM),
        (op::K, op::ATTN_NORM),
        (op::V, op::ATTN_NORM),
        (op::O, op::ATTN),
        (op::GATE, op::FFN_NORM),
        (op::UP, op::FFN_NORM),
        (op::DOWN, op::ACT),
    ] {
        assert!(dispute::is_mat_vec(k(2, o), 4));
        assert_eq!(dispute::mat_vec_input(k(2, o)), k(2, input));
    }
    assert!(dispute::is_mat_vec(k(5, op::LOGITS), 4));
    assert_eq!(
        dispute::mat_vec_input(k(5, op::LOGITS)),
        k(5, op::FINAL_NORM)
    );
    for (stage, o) in [
        (2, op::ATTN),
        (2, op::ACT),
        (5, 0),
        (5, 2),
        (0, op::EMBED),
        (0, 1),
    ] {
        assert!(!dispute::is_mat_vec(k(stage, o), 4), "{stage} {o}");
    }
}

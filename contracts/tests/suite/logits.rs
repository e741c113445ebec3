//! `LogitsStepVerifier` and the claim's part round (`DisputeGame.namePart`, `revealPart`) on
//! real runs of the Gemma fixture (head tied to the embedding) and the Llama fixture (a separate
//! `output.weight`): logits biased towards the runner-up (engine
//! `DevFault::LogitsBias`) are refuted with one logit recomputed from its embedding row and the
//! node slashed; honest logits stand; wrong parts, rows and stages are refused; the gas at
//! Gemma 3 270M's size (262,144 logits, a 32 KiB chunk revealed):
//! `cargo test -p otr-contracts --test contracts logits_gas -- --nocapture`.

use crate::act::{gemma, gemma_270m_config, llama, model_entry};
use crate::common::*;
use crate::sample::{phase, trace_of, PROMPT};
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{logits_claim, logits_refutation_witness, wide_chunk};
use otr_contracts::proofs::Trace;
use otr_engine::fixed::shift_sat;
use otr_engine::model::trace::{head_op, leaf, StepKey};
use otr_engine::model::EMBED_ROW_TAG;
use otr_engine::{Config, DevFault, Model, Sampling};
use sha2::{Digest, Sha256};

fn register(w: &mut World, cfg: &Config, weights_root: [u8; 32], rows_root: [u8; 32]) {
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(cfg, weights_root),
            vks: vec![],
        },
    );
    w.d.set_logits_verifier(
        &mut w.chain,
        MODEL_ID,
        weights_root,
        rows_root,
        cfg.vocab as u64,
    )
    .unwrap();
}

/// The node's logits at step `index` of its run, the step's input `x` and the index of its
/// `FINAL_NORM` leaf.
fn logits_step(m: &Model, fault: Option<DevFault>, index: u64) -> (Vec<u8>, Vec<u8>, u64) {
    let rec = m
        .step_input_with_fault(PROMPT, &Sampling::greedy(3), fault, index)
        .unwrap();
    assert_eq!(rec.key.op, head_op::LOGITS);
    (rec.output.bytes(), rec.inputs[0].bytes(), index - 1)
}

fn disputed(m: &Model, node: &Trace, theirs: &Trace) -> (World, u64) {
    let mut w = World::new();
    register(
        &mut w,
        m.config(),
        m.info().weights_root,
        m.head_rows_root(),
    );
    let mut r = receipt(node, 1, 3, m.info().weights_root, T0);
    r.prompt_tokens = PROMPT.len() as u32;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, node, theirs);
    (w, id)
}

/// Both heads: Gemma's tied to the embedding, Llama's a separate `output.weight`.
#[test]
fn biased_logits_are_refuted_with_one_recomputed_logit() {
    for m in [gemma(), llama()] {
        biased_logits_refuted(m);
    }
}

fn biased_logits_refuted(m: &Model) {
    let fault = Some(DevFault::LogitsBias {
        pos: PROMPT.len() as u32 - 1,
    });
    let node = trace_of(m, fault);
    let honest = trace_of(m, None);
    let (mut w, id) = disputed(m, &node, &honest);
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let (y, x, x_at) = logits_step(m, fault, at);
    let (mine, _, _) = logits_step(m, None, at);
    // A claim must be the chunks' hashes of the committed logits.
    let e =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &node,
            &[x_at],
            logits_claim(&mine),
        )
        .unwrap_err();
    assert!(e.to_string().contains("ClaimMismatch"), "{e}");
    w.d.claim_step(&mut w.chain, w.node, id, &node, &[x_at], logits_claim(&y))
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    // A claim with parts is refuted only after a part is revealed.
    let row = first_wrong(&y, &mine);
    let o = m.head_row_opening(row as u32).unwrap();
    let wit = logits_refutation_witness(row, &x, &o.row, &o.path);
    let e =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], wit.clone())
            .unwrap_err();
    assert!(e.to_string().contains("ClaimStageIs"), "{e}");
    let e =
        w.d.name_part(&mut w.chain, w.challenger, id, &c, 1)
            .unwrap_err();
    assert!(e.to_string().contains("NoSuchPart"), "{e}");
    w.d.name_part(&mut w.chain, w.challenger, id, &c, 0)
        .unwrap();
    assert_eq!(phase(&mut w, id), 1, "the node reveals");
    // The node must reveal the chunk it claimed.
    let e =
        w.d.reveal_part(&mut w.chain, w.node, id, &c, &mine)
            .unwrap_err();
    assert!(e.to_string().contains("PartMismatch"), "{e}");
    let part = wide_chunk(&y, 0).unwrap();
    let out = w.d.reveal_part(&mut w.chain, w.node, id, &c, part).unwrap();
    println!("revealPart gas (fixture vocabulary): {}", out.gas_used);
    let (p, data) = w.d.part_revealed(&mut w.chain, id).unwrap().unwrap();
    assert_eq!((p, &data[..]), (0, part));
    // A right logit, another row's opening, or another input refutes nothing.
    let right = (0..y.len() as u64 / 8)
        .find(|&j| j != row && y[8 * j as usize..][..8] == mine[8 * j as usize..][..8])
        .unwrap();
    let ro = m.head_row_opening(right as u32).unwrap();
    for bad in [
        logits_refutation_witness(right, &x, &ro.row, &ro.path),
        logits_refutation_witness(row, &x, &ro.row, &ro.path),
        logits_refutation_witness(row, &x[..x.len() - 2], &o.row, &o.path),
    ] {
        let e =
            w.d.refute_step(&mut w.chain, w.challenger, id, &c, part, bad)
                .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "{e}");
    }
    let stake = w.stake_of(w.node);
    let out =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, part, wit)
            .unwrap();
    println!("refuteStep (LOGITS) gas (fixture): {}", out.gas_used);
    assert_eq!(phase(&mut w, id), 4, "the challenger won");
    assert!(w.stake_of(w.node) < stake, "slashed");
}

#[test]
fn honest_logits_stand_and_a_node_that_does_not_reveal_loses() {
    let m = gemma();
    let honest = trace_of(m, None);
    let nl = m.config().n_layers as u16;
    let at = (0..honest.len())
        .find(|&i| {
            let k = leaf_key(honest.leaf(i));
            k.stage == nl + 1 && k.op == head_op::LOGITS
        })
        .unwrap();
    let mut theirs: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    let last = theirs[at as usize].len() - 1;
    theirs[at as usize][last] ^= 1;
    let theirs = Trace::new(theirs);
    for reveal in [true, false] {
        let (mut w, id) = disputed(m, &honest, &theirs);
        assert_eq!(w.d.dispute(&mut w.chain, id).unwrap().agreeSize, at);
        let (y, x, x_at) = logits_step(m, None, at);
        w.d.claim_step(&mut w.chain, w.node, id, &honest, &[x_at], logits_claim(&y))
            .unwrap();
        let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
        w.d.name_part(&mut w.chain, w.challenger, id, &c, 0)
            .unwrap();
        if !reveal {
            // The node does not reveal: the challenger wins at the node's deadline.
            w.chain.advance(w.params.move_timeout, 1);
            w.d.timeout(&mut w.chain, w.challenger, id).unwrap();
            assert_eq!(phase(&mut w, id), 4);
            continue;
        }
        let part = wide_chunk(&y, 0).unwrap();
        w.d.reveal_part(&mut w.chain, w.node, id, &c, part).unwrap();
        for j in [0u64, 7, y.len() as u64 / 8 - 1] {
            let o = m.head_row_opening(j as u32).unwrap();
            let wit = logits_refutation_witness(j, &x, &o.row, &o.path);
            let e =
                w.d.refute_step(&mut w.chain, w.challenger, id, &c, part, wit)
                    .unwrap_err();
            assert!(e.to_string().contains("NotRefuted"), "{j}: {e}");
        }
        w.chain.advance(w.params.move_timeout, 1);
        w.d.timeout(&mut w.chain, w.node, id).unwrap();
        assert_eq!(phase(&mut w, id), 3, "the node won");
    }
}

fn first_wrong(theirs: &[u8], mine: &[u8]) -> u64 {
    (0..theirs.len() / 8)
        .find(|&j| theirs[8 * j..8 * j + 8] != mine[8 * j..8 * j + 8])
        .expect("a wrong logit") as u64
}

/// Gas of a `LOGITS` dispute's part round and refutation at Gemma 3 270M's size: 262,144
/// logits (64 chunks), the claim of 64 hashes, chunk 48 revealed (32 KiB), logit 200,001
/// refuted with its 640-column row opened by an 18-hash path. Prints table rows for
/// docs/BENCHMARKS.md.
#[test]
fn logits_gas() {
    let cfg = gemma_270m_config();
    let (cols, vocab, j) = (640usize, 262_144u64, 200_001u64);
    let root = [0x42; 32];
    let (rm, re) = (12_345_678u32, -40i32);
    let mut row = Vec::new();
    row.extend_from_slice(&rm.to_le_bytes());
    row.extend_from_slice(&re.to_le_bytes());
    let bs: Vec<u8> = (0..cols / 32).map(|b| (b % 31 + 1) as u8).collect();
    let q: Vec<i8> = (0..cols)
        .map(|i| (i as i32 * 37 % 255 - 127) as i8)
        .collect();
    row.extend_from_slice(&bs);
    row.extend(q.iter().map(|&v| v as u8));
    let xexp = -12i32;
    let xq: Vec<i16> = (0..cols)
        .map(|i| ((i as i32 * 7919) % 60_000 - 30_000) as i16)
        .collect();
    let mut x = xexp.to_le_bytes().to_vec();
    x.extend(xq.iter().flat_map(|v| v.to_le_bytes()));
    let mut acc = 0i64;
    for (b, &scale) in bs.iter().enumerate() {
        let s: i64 = (32 * b..32 * b + 32)
            .map(|i| q[i] as i64 * xq[i] as i64)
            .sum();
        acc += scale as i64 * s;
    }
    let right = shift_sat(acc as i128 * rm as i128, re + xexp + 32);
    let logits: Vec<i64> = (0..vocab as i64)
        .map(|i| {
            if i as u64 == j {
                right + 1
            } else {
                i % 1000 - 500
            }
        })
        .collect();
    let y = wide(&logits);
    let mut row_leaf = EMBED_ROW_TAG.to_vec();
    row_leaf.extend_from_slice(&(j as u32).to_be_bytes());
    row_leaf.extend_from_slice(&row);
    let path: Vec<[u8; 32]> = (0..18u8).map(|i| [i.wrapping_mul(29) ^ 0x5c; 32]).collect();
    let rows_root = otr_core::rollup::merkle::root_from_path(
        &otr_core::rollup::merkle::leaf_hash(&row_leaf),
        j,
        vocab,
        &path,
    )
    .unwrap();
    let nl = cfg.n_layers as u16;
    let pos = 15u32;
    let given = vec![
        leaf(
            StepKey {
                pos,
                stage: nl + 1,
                op: 0,
            },
            &Sha256::digest(&x).into(),
        ),
        leaf(
            StepKey {
                pos,
                stage: nl + 1,
                op: head_op::LOGITS,
            },
            &otr_core::rollup::tensor::wide_digest_bytes(&y),
        ),
    ];
    let (node, at) = in_layout(&given, pos + 1, nl);
    let theirs = last_leaf_changed(&node);
    let mut w = World::new();
    register(&mut w, &cfg, root, rows_root);
    let mut r = receipt(&node, 1, 10, root, T0);
    r.prompt_tokens = pos + 1;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, &node, &theirs);
    let claim =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[at[0]], logits_claim(&y))
            .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let part = j / otr_core::rollup::tensor::WIDE_CHUNK as u64;
    let name =
        w.d.name_part(&mut w.chain, w.challenger, id, &c, part)
            .unwrap();
    let chunk = wide_chunk(&y, part).unwrap();
    let reveal =
        w.d.reveal_part(&mut w.chain, w.node, id, &c, chunk)
            .unwrap();
    let wit = logits_refutation_witness(j, &x, &row, &path);
    let refute =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, chunk, wit)
            .unwrap();
    assert_eq!(phase(&mut w, id), 4);
    println!(
        "| `LOGITS` claim (64 chunk hashes of 262,144 logits) | claimStep | {} |",
        claim.gas_used
    );
    println!("| `LOGITS` part named | namePart | {} |", name.gas_used);
    println!(
        "| `LOGITS` chunk revealed (4,096 logits, 32 KiB) | revealPart | {} |",
        reveal.gas_used
    );
    println!(
        "| `LOGITS` refutation (one logit: a 640-column row opened by an 18-hash path, times the final norm) | refuteStep | {} |",
        refute.gas_used
    );
    assert!(refute.gas_used > 100_000);
}

//! `MatRowStepVerifier`: a layer's matrix step settled by claim and refutation of one row, on
//! real runs of the Gemma fixture and the Llama fixture: a node whose `DOWN` (or `Q`, `GATE`)
//! output is wrong in one row (engine `DevFault::MatVecBias`) is refuted with that row of the
//! matrix, opened in the matrix-rows tree (engine `Model::matrix_rows_root`), and slashed; an
//! honest output stands against every row; forged rows, matrices, inputs, claims and stages are
//! refused; the gas at Gemma 3 270M's widest shapes:
//! `cargo test -p otr-contracts --test contracts matrow_gas -- --nocapture`.

use crate::act::{gemma, gemma_270m_config, llama, model_entry};
use crate::common::*;
use crate::sample::{phase, trace_of, PROMPT};
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{matrow_refutation_witness, MatrixRow};
use otr_contracts::proofs::Trace;
use otr_engine::fixed::shift_sat;
use otr_engine::model::trace::{layer_op, leaf, StepKey};
use otr_engine::model::{matrix_rows_leaf, EMBED_ROW_TAG};
use otr_engine::{Config, DevFault, Model, Sampling};
use sha2::{Digest, Sha256};

fn register(w: &mut World, cfg: &Config, weights_root: [u8; 32], matrices_root: [u8; 32]) {
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(cfg, weights_root),
            vks: vec![],
        },
    );
    w.d.set_matrow_verifier(&mut w.chain, MODEL_ID, weights_root, matrices_root)
        .unwrap();
}

/// The converted-weights name of layer step `key`'s matrix.
fn matrix_name(key: StepKey) -> String {
    let t = match key.op {
        layer_op::Q => "attn_q",
        layer_op::K => "attn_k",
        layer_op::V => "attn_v",
        layer_op::O => "attn_output",
        layer_op::GATE => "ffn_gate",
        layer_op::UP => "ffn_up",
        _ => "ffn_down",
    };
    format!("blk.{}.{t}.weight", key.stage - 1)
}

/// Row `j` of step `key`'s matrix, opened in the model's matrix-rows tree.
pub(crate) fn opened_row(m: &Model, key: StepKey, j: u64) -> MatrixRow {
    let o = m.matrix_row_opening(&matrix_name(key), j as u32).unwrap();
    MatrixRow {
        row: o.row.row,
        row_path: o.row.path,
        rows: o.row.size,
        rows_root: o.rows_root,
        index: o.index,
        size: o.size,
        path: o.path,
    }
}

/// The output `y` of step `index` of a run (`fault` injected), its input `x`, its key and the
/// index of its input leaf.
fn step(m: &Model, fault: Option<DevFault>, index: u64) -> (Vec<u8>, Vec<u8>, StepKey, u64) {
    let rec = m
        .step_input_with_fault(PROMPT, &Sampling::greedy(3), fault, index)
        .unwrap();
    let in_op = match rec.key.op {
        layer_op::Q | layer_op::K | layer_op::V => layer_op::ATTN_NORM,
        layer_op::O => layer_op::ATTN,
        layer_op::GATE | layer_op::UP => layer_op::FFN_NORM,
        _ => layer_op::ACT,
    };
    let node = trace_of(m, fault);
    let x_at = (0..index)
        .rev()
        .find(|&i| {
            leaf_key(node.leaf(i))
                == StepKey {
                    op: in_op,
                    ..rec.key
                }
        })
        .unwrap();
    (rec.output.bytes(), rec.inputs[0].bytes(), rec.key, x_at)
}

fn disputed(m: &Model, node: &Trace, theirs: &Trace) -> (World, u64) {
    let mut w = World::new();
    register(
        &mut w,
        m.config(),
        m.info().weights_root,
        m.matrix_rows_root(),
    );
    let mut r = receipt(node, 1, 3, m.info().weights_root, T0);
    r.prompt_tokens = PROMPT.len() as u32;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, node, theirs);
    (w, id)
}

/// Both fixtures, three operators (the input of each is another step kind).
#[test]
fn a_wrong_row_is_refuted_with_that_row_of_the_matrix() {
    for (m, stage, op) in [
        (gemma(), 1, layer_op::DOWN),
        (llama(), 2, layer_op::Q),
        (gemma(), 2, layer_op::GATE),
    ] {
        wrong_row_refuted(m, stage, op);
    }
}

fn wrong_row_refuted(m: &Model, stage: u16, op: u8) {
    let fault = Some(DevFault::MatVecBias { pos: 2, stage, op });
    let node = trace_of(m, fault);
    let honest = trace_of(m, None);
    let (mut w, id) = disputed(m, &node, &honest);
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let (y, x, key, x_at) = step(m, fault, at);
    assert_eq!(
        (key.pos, key.stage, key.op),
        (2, stage, op),
        "disputed at the tampered step"
    );
    let (mine, _, _, _) = step(m, None, at);
    // The claim must be the committed output.
    let e =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[x_at], mine.clone())
            .unwrap_err();
    assert!(e.to_string().contains("ClaimMismatch"), "{e}");
    // ... with the step's input leaf.
    let e =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[x_at - 1], y.clone())
            .unwrap_err();
    assert!(e.to_string().contains("WrongInputStep"), "{e}");
    let out =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[x_at], y.clone())
            .unwrap();
    println!("claimStep ({op}) gas (fixture): {}", out.gas_used);
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    assert_eq!(c.claim, y);
    // The game records the claim's block, where the event query starts (RPC providers cap the
    // range of `eth_getLogs`): the event is in that block and no later one.
    let at_block =
        w.d.claim(&mut w.chain, id)
            .unwrap()
            .claimedBlock
            .to::<u64>();
    assert!(at_block > 0 && at_block <= w.chain.block_number());
    use alloy_sol_types::SolEvent;
    let topic = otr_contracts::bindings::dispute_game::DisputeGame::StepClaimed::SIGNATURE_HASH;
    let dg = w.d.dispute_game;
    use otr_contracts::Host;
    assert_eq!(
        Host::logs(&mut w.chain, dg, topic, at_block).unwrap().len(),
        1
    );
    assert!(Host::logs(&mut w.chain, dg, topic, at_block + 1)
        .unwrap()
        .is_empty());
    let row = first_wrong(&y, &mine);
    assert_eq!(row, 1, "the fault biases row 1");
    let o = opened_row(m, key, row);
    // A right row, another row's opening, another input, a forged matrix root, or the matrix
    // of another step refutes nothing.
    let right = opened_row(m, key, 0);
    let mut forged = o.clone();
    forged.rows_root[0] ^= 1;
    let mut fewer = o.clone();
    fewer.rows -= 1;
    let other = opened_row(
        m,
        StepKey {
            op: if op == layer_op::Q {
                layer_op::K
            } else {
                layer_op::Q
            },
            ..key
        },
        row,
    );
    for bad in [
        matrow_refutation_witness(0, &x, &right),
        matrow_refutation_witness(row, &x, &right),
        matrow_refutation_witness(row, &x[..x.len() - 2], &o),
        matrow_refutation_witness(row, &x, &forged),
        matrow_refutation_witness(row, &x, &fewer),
        matrow_refutation_witness(row, &x, &other),
    ] {
        let e =
            w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], bad)
                .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "{e}");
    }
    // A witness that does not decode reverts.
    assert!(w
        .d
        .refute_step(&mut w.chain, w.challenger, id, &c, &[], vec![0u8; 31])
        .is_err());
    // Only the challenger refutes.
    let wit = matrow_refutation_witness(row, &x, &o);
    assert!(w
        .d
        .refute_step(&mut w.chain, w.node, id, &c, &[], wit.clone())
        .is_err());
    let stake = w.stake_of(w.node);
    let out =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], wit)
            .unwrap();
    println!("refuteStep ({op}) gas (fixture): {}", out.gas_used);
    assert_eq!(phase(&mut w, id), 4, "the challenger won");
    assert!(w.stake_of(w.node) < stake, "slashed");
}

/// The honest output stands against every row; a node that claims nothing loses at its
/// deadline.
#[test]
fn an_honest_output_stands_against_every_row() {
    let m = llama();
    let honest = trace_of(m, None);
    let at = (0..honest.len())
        .find(|&i| {
            let k = leaf_key(honest.leaf(i));
            k.stage == 1 && k.op == layer_op::O && k.pos == 1
        })
        .unwrap();
    let mut theirs: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    let last = theirs[at as usize].len() - 1;
    theirs[at as usize][last] ^= 1;
    let theirs = Trace::new(theirs);
    for claim in [true, false] {
        let (mut w, id) = disputed(m, &honest, &theirs);
        assert_eq!(w.d.dispute(&mut w.chain, id).unwrap().agreeSize, at);
        if !claim {
            w.chain.advance(w.params.move_timeout, 1);
            w.d.timeout(&mut w.chain, w.challenger, id).unwrap();
            assert_eq!(phase(&mut w, id), 4, "no claim: the challenger wins");
            continue;
        }
        let (y, x, key, x_at) = step(m, None, at);
        w.d.claim_step(&mut w.chain, w.node, id, &honest, &[x_at], y.clone())
            .unwrap();
        let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
        let e =
            w.d.name_part(&mut w.chain, w.challenger, id, &c, 0)
                .unwrap_err();
        assert!(e.to_string().contains("NoSuchPart"), "{e}");
        for j in 0..y.len() as u64 / 8 {
            let wit = matrow_refutation_witness(j, &x, &opened_row(m, key, j));
            let e =
                w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], wit)
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
        .expect("a wrong value") as u64
}

/// Gas of a layer matrix dispute's claim and refutation at Gemma 3 270M's two widest shapes:
/// `GATE` (2,048 rows x 640 columns: the claim is 16 KiB) and `DOWN` (640 rows x 2,048 columns:
/// the refuting row and input are 2 KiB and 4 KiB), a row opened by a path as deep as its
/// matrix's row tree (11 and 10 hashes) and its matrix by 7 hashes in a tree of 128 matrices
/// (Gemma 3 270M has 127). Prints table rows for docs/BENCHMARKS.md.
#[test]
fn matrow_gas() {
    let cfg = gemma_270m_config();
    for (op, rows, cols) in [
        (layer_op::GATE, 2048usize, 640usize),
        (layer_op::DOWN, 640, 2048),
    ] {
        // In the left power-of-two subtree: a path as long as the tree is deep.
        let j = 3u64;
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
        let ys: Vec<i64> = (0..rows as i64)
            .map(|i| {
                if i as u64 == j {
                    right + 1
                } else {
                    i % 1000 - 500
                }
            })
            .collect();
        let y = wide(&ys);
        let mut row_leaf = EMBED_ROW_TAG.to_vec();
        row_leaf.extend_from_slice(&(j as u32).to_be_bytes());
        row_leaf.extend_from_slice(&row);
        let depth = (rows as f64).log2().ceil() as u8;
        let row_path: Vec<[u8; 32]> = (0..depth)
            .map(|i| [i.wrapping_mul(29) ^ 0x5c; 32])
            .collect();
        let rows_root = otr_core::rollup::merkle::root_from_path(
            &otr_core::rollup::merkle::leaf_hash(&row_leaf),
            j,
            rows as u64,
            &row_path,
        )
        .unwrap();
        let stage = 7u16;
        let key = StepKey { pos: 15, stage, op };
        let (index, size) = (100u64, 128u64);
        let path: Vec<[u8; 32]> = (0..7u8).map(|i| [i.wrapping_mul(13) ^ 0xa3; 32]).collect();
        let mleaf = matrix_rows_leaf(&matrix_name(key), rows as u32, &rows_root);
        let matrices_root = otr_core::rollup::merkle::root_from_path(
            &otr_core::rollup::merkle::leaf_hash(&mleaf),
            index,
            size,
            &path,
        )
        .unwrap();
        let in_op = if op == layer_op::DOWN {
            layer_op::ACT
        } else {
            layer_op::FFN_NORM
        };
        let nl = cfg.n_layers as u16;
        let given = vec![
            leaf(StepKey { op: in_op, ..key }, &Sha256::digest(&x).into()),
            leaf(key, &otr_core::rollup::tensor::wide_digest_bytes(&y)),
        ];
        let (node, at) = in_layout(&given, 16, nl);
        let theirs = last_leaf_changed(&node);
        let mut w = World::new();
        let root = [0x42; 32];
        register(&mut w, &cfg, root, matrices_root);
        let mut r = receipt(&node, 1, 10, root, T0);
        r.prompt_tokens = 16;
        let p = w.post_receipts(vec![r]);
        let id = w.dispute_first(&p);
        w.bisect_to_one_step(id, &node, &theirs);
        let claim =
            w.d.claim_step(&mut w.chain, w.node, id, &node, &[at[0]], y.clone())
                .unwrap();
        let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
        let m = MatrixRow {
            row,
            row_path,
            rows: rows as u64,
            rows_root,
            index,
            size,
            path,
        };
        let refute =
            w.d.refute_step(
                &mut w.chain,
                w.challenger,
                id,
                &c,
                &[],
                matrow_refutation_witness(j, &x, &m),
            )
            .unwrap();
        assert_eq!(phase(&mut w, id), 4);
        let name = if op == layer_op::DOWN { "DOWN" } else { "GATE" };
        println!(
            "| `{name}` claim ({rows} x {cols}: the whole output, {} KiB) | claimStep | {} |",
            rows * 8 / 1024,
            claim.gas_used
        );
        println!(
            "| `{name}` refutation (one {cols}-column row opened by {depth} + 7 hashes, times the input) | refuteStep | {} |",
            refute.gas_used
        );
        assert!(refute.gas_used > 100_000);
    }
}

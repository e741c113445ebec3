//! `EmbedStepVerifier` (the token embedding recomputed from the committed token and the row
//! opened in the embedding-row tree) on real steps of both fixture models, prompt and generated
//! positions, wrong tokens, rows, weights and a faulty run; `DisputeGame.declareUnprovable` (no
//! winner at a step without a step verifier) and `layoutIndex` against the engine's layout; the
//! gas of a Gemma 3 270M-sized `EMBED`:
//! `cargo test -p otr-contracts --test contracts embed_gas -- --nocapture`.

use crate::act::{gemma, gemma_270m_config, llama, model_entry, prove_last_leaf};
use crate::common::*;
use otr_contracts::bindings::dispute_game::DisputeGame;
use otr_contracts::bindings::embed_step::EmbedStepVerifier;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::embed_step_witness;
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Address, Bytes, U256};
use otr_engine::fixed::shift_sat;
use otr_engine::model::trace::{embed_op, head_op, layout_index, leaf, StepKey};
use otr_engine::model::EMBED_ROW_TAG;
use otr_engine::{DevFault, Model, Sampling, StepTensor};
use sha2::{Digest, Sha256};

const PROMPT: &[u32] = &[2, 40, 77, 91, 120];

fn registered(w: &mut World, m: &Model) {
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(m.config(), m.info().weights_root),
            vks: vec![],
        },
    );
}

fn set_embed(w: &mut World, m: &Model, weights_root: [u8; 32]) -> Address {
    w.d.set_embed_verifier(
        &mut w.chain,
        MODEL_ID,
        weights_root,
        m.embed_rows_root(),
        m.config().vocab as u64,
        m.config().embed_scale_q32(),
    )
    .unwrap()
}

fn verify(w: &mut World, v: Address, root: [u8; 32], out: &[u8], input: &[u8], wit: &[u8]) -> bool {
    host::view(
        &mut w.chain,
        v,
        &EmbedStepVerifier::verifyStepCall {
            modelId: MODEL_ID.into(),
            weightsRoot: root.into(),
            outLeaf: Bytes::copy_from_slice(out),
            inLeaves: vec![Bytes::copy_from_slice(input)],
            witness: Bytes::copy_from_slice(wit),
        },
    )
    .unwrap()
}

/// The step at `pos`: its leaf, its input leaf and witness, from a run (with `fault`).
fn embed_case(m: &Model, pos: u32, fault: Option<DevFault>) -> (Vec<u8>, Vec<u8>, Vec<u8>, u32) {
    let s = Sampling::greedy(3);
    let (_, steps) = m
        .trace_steps_with_fault(PROMPT, &s, fault, &mut |_, _| true)
        .unwrap();
    let key = StepKey {
        pos,
        stage: 0,
        op: embed_op::EMBED,
    };
    let index = steps.iter().position(|x| x.0 == key).unwrap();
    let rec = m
        .step_input_with_fault(PROMPT, &s, fault, index as u64)
        .unwrap();
    let (in_key, token) = match &rec.inputs[0] {
        StepTensor::Prompt { ids: p, .. } => (
            StepKey {
                pos: 0,
                stage: 0,
                op: embed_op::PROMPT,
            },
            p[pos as usize],
        ),
        StepTensor::Token(t) => (
            StepKey {
                pos: pos - 1,
                stage: m.config().n_layers as u16 + 1,
                op: head_op::SAMPLE,
            },
            *t,
        ),
        other => panic!("{other:?}"),
    };
    let d = |k: StepKey| steps.iter().find(|x| x.0 == k).unwrap().1;
    let o = m.embed_row_opening(token).unwrap();
    let wit = embed_step_witness(&rec.inputs[0].bytes(), &o.row, &o.path);
    (leaf(key, &d(key)), leaf(in_key, &d(in_key)), wit, token)
}

#[test]
fn embed_verifier_accepts_real_steps_of_both_models_and_rejects_wrong_ones() {
    for m in [gemma(), llama()] {
        let root = m.info().weights_root;
        let mut w = World::new();
        registered(&mut w, m);
        let v = set_embed(&mut w, m, root);
        let p = PROMPT.len() as u32;
        // Prompt positions (token from the PROMPT leaf) and generated ones (from SAMPLE).
        for pos in [0, 1, p - 1, p, p + 1] {
            let (out, input, wit, token) = embed_case(m, pos, None);
            assert!(verify(&mut w, v, root, &out, &input, &wit), "pos {pos}");
            // A changed output.
            let mut bad = out.clone();
            bad[56] ^= 1;
            assert!(
                !verify(&mut w, v, root, &bad, &input, &wit),
                "pos {pos}: output"
            );
            // Another token's row (a valid opening, the wrong row).
            let other = (token + 1) % m.config().vocab as u32;
            let o = m.embed_row_opening(other).unwrap();
            let (_, _, good_wit, _) = embed_case(m, pos, None);
            let tokens = tokens_of(&good_wit);
            let wrong_row = embed_step_witness(&tokens, &o.row, &o.path);
            assert!(
                !verify(&mut w, v, root, &out, &input, &wrong_row),
                "pos {pos}: row"
            );
            // The right row with one quant changed (its path no longer opens).
            let mut row = m.embed_row_opening(token).unwrap();
            let last = row.row.len() - 1;
            row.row[last] ^= 1;
            let forged = embed_step_witness(&tokens, &row.row, &row.path);
            assert!(
                !verify(&mut w, v, root, &out, &input, &forged),
                "pos {pos}: quant"
            );
            // Tokens that are not the input leaf's.
            let mut t2 = tokens.clone();
            t2[0] ^= 1;
            let o = m.embed_row_opening(token).unwrap();
            let lie = embed_step_witness(&t2, &o.row, &o.path);
            assert!(
                !verify(&mut w, v, root, &out, &input, &lie),
                "pos {pos}: tokens"
            );
        }
        // A generated position's step with the PROMPT leaf as its input: past the prompt.
        let (out, _, _, token) = embed_case(m, p, None);
        let (_, prompt_leaf, prompt_wit, _) = embed_case(m, 0, None);
        let o = m.embed_row_opening(token).unwrap();
        let wit = embed_step_witness(&tokens_of(&prompt_wit), &o.row, &o.path);
        assert!(
            !verify(&mut w, v, root, &out, &prompt_leaf, &wit),
            "past the prompt"
        );
        // Another weights root than the verifier's.
        let v2 = set_embed(&mut w, m, [0x77; 32]);
        let (out, input, wit, _) = embed_case(m, 1, None);
        assert!(
            !verify(&mut w, v2, root, &out, &input, &wit),
            "other weights"
        );
        // The faulty run: the last prompt position embeds the next id's row.
        let fault = Some(DevFault::EmbedNextToken { pos: p - 1 });
        let (out, input, wit, _) = embed_case(m, p - 1, fault);
        assert!(!verify(&mut w, v, root, &out, &input, &wit), "faulty EMBED");
    }
}

/// The `tokens` field of an embed witness (first dynamic field of the ABI encoding).
fn tokens_of(wit: &[u8]) -> Vec<u8> {
    let off = U256::from_be_slice(&wit[..32]).to::<usize>();
    let len = U256::from_be_slice(&wit[off..off + 32]).to::<usize>();
    wit[off + 32..off + 32 + len].to_vec()
}

/// `layoutIndex` equals the engine's `layout_index` on every leaf of real runs and refuses keys
/// no run has.
#[test]
fn layout_index_matches_the_engine() {
    let mut w = World::new();
    for m in [gemma(), llama()] {
        let nl = m.config().n_layers as u16;
        for (prompt, n) in [(PROMPT, 3), (&PROMPT[..1], 2)] {
            let (g, steps) = m
                .trace_steps(prompt, &Sampling::greedy(n), &mut |_, _| true)
                .unwrap();
            let stride = (steps.len() / 97).max(1);
            let keys = steps.iter().step_by(stride).map(|s| s.0).chain([
                StepKey {
                    pos: 1,
                    stage: 0,
                    op: 0,
                },
                StepKey {
                    pos: 0,
                    stage: 0,
                    op: 2,
                },
                StepKey {
                    pos: 0,
                    stage: 1,
                    op: 16,
                },
                StepKey {
                    pos: 0,
                    stage: nl + 2,
                    op: 0,
                },
                StepKey {
                    pos: g.prompt_tokens,
                    stage: nl + 1,
                    op: 3,
                },
            ]);
            for k in keys {
                let r = host::view(
                    &mut w.chain,
                    w.d.dispute_game,
                    &DisputeGame::layoutIndexCall {
                        pos: k.pos,
                        stage: k.stage,
                        op: k.op,
                        promptTokens: g.prompt_tokens,
                        numLayers: nl,
                    },
                )
                .unwrap();
                let want = layout_index(k, g.prompt_tokens, nl);
                assert_eq!((r._0, r._1), (want.is_some(), want.unwrap_or(0)), "{k:?}");
            }
        }
    }
}

/// Plays a dispute over a real run whose last leaf (a `SAMPLE`) the challenger disputes, down to
/// that leaf; returns the world and the dispute id.
fn dispute_to_last_leaf(m: &Model, prompt_tokens: u32) -> (World, u64, Trace) {
    let (_, steps) = m
        .trace_steps(PROMPT, &Sampling::greedy(3), &mut |_, _| true)
        .unwrap();
    let leaves: Vec<Vec<u8>> = steps.iter().map(|(k, d)| leaf(*k, d)).collect();
    let trace = Trace::new(leaves);
    let theirs = last_leaf_changed(&trace);
    let mut w = World::new();
    registered(&mut w, m);
    let mut r = receipt(&trace, 1, 3, m.info().weights_root, T0);
    r.prompt_tokens = prompt_tokens;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, &trace, &theirs);
    (w, id, trace)
}

#[test]
fn a_step_without_a_verifier_ends_the_dispute_with_no_winner() {
    let m = gemma();
    let p = PROMPT.len() as u32;
    let (mut w, id, trace) = dispute_to_last_leaf(m, p);
    let last = leaf_key(trace.leaf(trace.len() - 1));
    assert_eq!(
        (last.stage, last.op),
        (m.config().n_layers as u16 + 1, head_op::SAMPLE)
    );
    // Only the node moves.
    assert!(w
        .d
        .declare_unprovable(&mut w.chain, w.challenger, id, &trace)
        .is_err());
    let stake = w.stake_of(w.node);
    let credit = w.credit(w.challenger);
    let node_credit = w.credit(w.node);
    let out =
        w.d.declare_unprovable(&mut w.chain, w.node, id, &trace)
            .unwrap();
    let x = w.d.dispute(&mut w.chain, id).unwrap();
    assert_eq!(x.phase, 5, "NoContest");
    assert_eq!(w.stake_of(w.node), stake, "not slashed");
    assert_eq!(w.credit(w.challenger), credit, "no bond back");
    assert_eq!(
        w.credit(w.node) - node_credit,
        w.params.min_bond * U256::from(w.params.winner_bps) / U256::from(10_000u64),
        "the node's share of the bond, as in a win"
    );
    println!("declareUnprovable gas: {}", out.gas_used);
    // Over: no further move, and the receipt can be disputed again.
    assert!(w.d.timeout(&mut w.chain, w.challenger, id).is_err());
    assert!(w
        .d
        .declare_unprovable(&mut w.chain, w.node, id, &trace)
        .is_err());
}

#[test]
fn no_contest_is_refused_where_a_verifier_exists_or_the_step_is_out_of_place() {
    let m = gemma();
    let p = PROMPT.len() as u32;
    // A registered step verifier for SAMPLE: the node must prove, not declare.
    let (mut w, id, trace) = dispute_to_last_leaf(m, p);
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::setStepVerifierCall {
            modelId: MODEL_ID.into(),
            class_: 2,
            op: head_op::SAMPLE,
            verifier: addr(0x99),
        },
    );
    let e =
        w.d.declare_unprovable(&mut w.chain, w.node, id, &trace)
            .unwrap_err();
    assert!(e.to_string().contains("HasStepVerifier"), "{e}");
    // A receipt whose prompt count puts the last leaf elsewhere in the layout.
    let (mut w, id, trace) = dispute_to_last_leaf(m, p + 1);
    let e =
        w.d.declare_unprovable(&mut w.chain, w.node, id, &trace)
            .unwrap_err();
    assert!(e.to_string().contains("NotInLayout"), "{e}");
}

/// Gas of a Gemma 3 270M-sized `EMBED` (640 values, a row of a 262,144-row tree: 18 path
/// hashes) proven at the end of a dispute. Prints a table row for docs/BENCHMARKS.md.
#[test]
fn embed_gas() {
    let cfg = gemma_270m_config();
    let (cols, vocab, token) = (640usize, 262_144u64, 200_000u32);
    let mut body = Vec::new();
    let (rm, re) = (12_345_678u32, -40i32);
    body.extend_from_slice(&rm.to_le_bytes());
    body.extend_from_slice(&re.to_le_bytes());
    body.extend((0..cols / 32).map(|b| (b % 31 + 1) as u8));
    body.extend((0..cols).map(|i| (i as i32 * 37 % 255 - 127) as i8 as u8));
    let scale = cfg.embed_scale_q32();
    let h: Vec<i64> = (0..cols)
        .map(|i| {
            let q = body[8 + cols / 32 + i] as i8 as i128;
            let bs = body[8 + i / 32] as i128;
            let v = shift_sat(q * bs * rm as i128, re + 32);
            shift_sat(v as i128 * scale as i128, -32)
        })
        .collect();
    let out_bytes = wide(&h);
    let mut row_leaf = EMBED_ROW_TAG.to_vec();
    row_leaf.extend_from_slice(&token.to_be_bytes());
    row_leaf.extend_from_slice(&body);
    let path: Vec<[u8; 32]> = (0..18u8).map(|i| [i.wrapping_mul(29) ^ 0x5c; 32]).collect();
    let rows_root = otr_core::rollup::merkle::root_from_path(
        &otr_core::rollup::merkle::leaf_hash(&row_leaf),
        token as u64,
        vocab,
        &path,
    )
    .unwrap();
    let prompt: Vec<u8> = (0..16u32)
        .flat_map(|t| (t * 1000 + token).to_le_bytes())
        .collect();
    let mut ids = prompt.clone();
    ids[0..4].copy_from_slice(&token.to_le_bytes());
    // The `PROMPT` output: `u32le(len(text)) || text || ids` (a 60-byte text here).
    let mut tokens = 60u32.to_le_bytes().to_vec();
    tokens.extend([b'w'; 60]);
    tokens.extend(ids);
    let trace = Trace::new(vec![
        leaf(
            StepKey {
                pos: 0,
                stage: 0,
                op: embed_op::PROMPT,
            },
            &Sha256::digest(&tokens).into(),
        ),
        leaf(
            StepKey {
                pos: 0,
                stage: 0,
                op: embed_op::EMBED,
            },
            &Sha256::digest(&out_bytes).into(),
        ),
    ]);
    let root = [0x42; 32];
    let wit = embed_step_witness(&tokens, &body, &path);
    let gas = prove_last_leaf(&cfg, root, &trace, &[0], wit, |w| {
        w.d.set_embed_verifier(&mut w.chain, MODEL_ID, root, rows_root, vocab, scale)
            .unwrap();
    })
    .unwrap();
    println!("| `EMBED` (640 values, 16-token prompt of 60 text bytes, 18-hash row path) | proveStep | {gas} |");
    assert!(gas > 50_000);
}

/// A receipt whose `traceSteps` is not its token counts' layout (here: one completion token more
/// than its trace computes) is slashed with no game; a consistent one is refused. `layoutSteps`
/// equals the engine's `layout_steps`.
#[test]
fn a_receipt_claiming_more_tokens_than_its_trace_is_slashed_at_once() {
    let m = gemma();
    let nl = m.config().n_layers as u16;
    let (g, steps) = m
        .trace_steps(PROMPT, &Sampling::greedy(3), &mut |_, _| true)
        .unwrap();
    let leaves: Vec<Vec<u8>> = steps.iter().map(|(k, d)| leaf(*k, d)).collect();
    let trace = Trace::new(leaves);
    let mut w = World::new();
    registered(&mut w, m);
    for (p, c) in [
        (g.prompt_tokens, g.completion_tokens),
        (1, 1),
        (0, 4),
        (7, 0),
        (300, 200),
    ] {
        let got: u64 = host::view(
            &mut w.chain,
            w.d.dispute_game,
            &DisputeGame::layoutStepsCall {
                promptTokens: p,
                completionTokens: c,
                numLayers: nl,
            },
        )
        .unwrap();
        assert_eq!(
            got,
            otr_engine::model::trace::layout_steps(p, c, nl),
            "{p} {c}"
        );
    }
    let mut honest = receipt(&trace, 1, 3, m.info().weights_root, T0);
    honest.prompt_tokens = g.prompt_tokens;
    honest.completion_tokens = g.completion_tokens;
    let mut greedy = honest.clone();
    greedy.request_hash = [2; 32];
    greedy.completion_tokens += 1; // claims a token its trace does not compute
    let p = w.post_receipts(vec![honest, greedy]);
    let stake0 = w.stake_of(w.node);
    let bond = w.params.min_bond;
    let call = |i: usize| DisputeGame::challengeLayoutCall {
        r: (&p.receipt_ref(0, i)).into(),
    };
    let e = host::send(&mut w.chain, w.challenger, w.d.dispute_game, &call(0), bond).fails();
    assert!(e.is("LayoutMatches"), "{e}");
    host::send(&mut w.chain, w.challenger, w.d.dispute_game, &call(1), bond).unwrap();
    assert_eq!(w.stake_of(w.node), stake0 - w.params.slash_amount);
    let e = host::send(&mut w.chain, w.challenger, w.d.dispute_game, &call(1), bond).fails();
    assert!(e.is("AlreadyProven"), "{e}");
}

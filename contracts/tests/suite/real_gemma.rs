//! Gemma 3 270M (the real model) disputed on the real contracts (revm): a wrong row of layer 7's
//! `DOWN` output is refuted with that row of `blk.6.ffn_down.weight` opened in the model's
//! matrix-rows tree (`MatRowStepVerifier`: no unit keys exist for Gemma 3 270M's shapes), and a
//! sampled answer's swapped token (temperature 1, no top-k or top-p cut, so that the runner-up
//! is always a candidate the node could try to claim) is refuted with one chunk of its 262,144
//! logits
//! (`SampleStepVerifier`); the honest claims stand. Prints the gas at the real sizes. Runs
//! whenever the model file is present; when it is absent the test is SKIPPED WITH A LOUD MESSAGE
//! (run `scripts/fetch-model.sh` first; the README's test command does). `OTR_MODEL_PATH` names
//! another copy of the same file.

use crate::act::model_entry;
use crate::common::*;
use crate::sample::{claim_of, i64s, phase};
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{matrow_refutation_witness, sampled_refutation_witness, MatrixRow};
use otr_contracts::proofs::Trace;
use otr_engine::model::trace::{head_op, layer_op, leaf};
use otr_engine::{default_cache_dir, DevFault, LoadOptions, Model, Sampling, StepTensor};
use sha2::{Digest, Sha256};

fn real_model() -> Option<Model> {
    let path = std::env::var_os("OTR_MODEL_PATH")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| default_cache_dir().join("gemma-3-270m-q4_k_m.gguf"));
    if !path.exists() {
        eprintln!();
        eprintln!("{}", "#".repeat(80));
        eprintln!("## SKIPPED real_gemma: model file not found at");
        eprintln!("##   {}", path.display());
        eprintln!("## Run scripts/fetch-model.sh (Gemma terms of use apply) and test again.");
        eprintln!("{}", "#".repeat(80));
        return None;
    }
    Some(Model::load_with(&path, &default_cache_dir(), LoadOptions::default()).unwrap())
}

fn trace(m: &Model, ids: &[u32], s: &Sampling, fault: Option<DevFault>) -> Trace {
    let (_, steps) = m
        .trace_steps_with_fault(ids, s, fault, &mut |_, _| true)
        .unwrap();
    Trace::new(steps.iter().map(|(k, d)| leaf(*k, d)).collect())
}

/// A world with the real model registered and the dispute over `node` (the challenger's trace
/// `theirs`) bisected to the first leaf they differ at.
fn disputed(m: &Model, node: &Trace, theirs: &Trace, prompt: u32, s: &Sampling) -> (World, u64) {
    let mut w = World::new();
    let root = m.info().weights_root;
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(m.config(), root),
            vks: vec![],
        },
    );
    let mut r = receipt(node, 1, s.max_tokens, root, T0);
    r.prompt_tokens = prompt;
    r.sampling = (*s).into();
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, node, theirs);
    (w, id)
}

#[test]
fn real_gemma_wrong_matrix_row_and_swapped_sampled_token_are_refuted() {
    let Some(m) = real_model() else {
        return;
    };
    let ids = m
        .tokenizer()
        .encode("The Eiffel Tower is located in the city of", true, false);
    let n = ids.len() as u32;

    // A wrong row inside layer 7 (stage 7) at the last prompt position.
    let s = Sampling::greedy(2);
    let fault = Some(DevFault::MatVecBias {
        pos: n - 1,
        stage: 7,
        op: layer_op::DOWN,
    });
    let honest = trace(&m, &ids, &s, None);
    let node = trace(&m, &ids, &s, fault);
    let (mut w, id) = disputed(&m, &node, &honest, n, &s);
    let t0 = std::time::Instant::now();
    let rows_root = m.matrix_rows_root();
    eprintln!(
        "matrix-rows root of Gemma 3 270M: {} ({:.1}s)",
        hex::encode(rows_root),
        t0.elapsed().as_secs_f64()
    );
    w.d.set_matrow_verifier(&mut w.chain, MODEL_ID, m.info().weights_root, rows_root)
        .unwrap();
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let rec = m.step_input_with_fault(&ids, &s, fault, at).unwrap();
    assert_eq!(
        (rec.key.pos, rec.key.stage, rec.key.op),
        (n - 1, 7, layer_op::DOWN)
    );
    let (y, x) = (rec.output.bytes(), rec.inputs[0].bytes());
    assert_eq!(y.len(), 8 * 640);
    let x_at = at - 1; // `ACT` comes right before `DOWN`
    let claim =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[x_at], y.clone())
            .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let opened = |j: u32| {
        let o = m.matrix_row_opening("blk.6.ffn_down.weight", j).unwrap();
        MatrixRow {
            row: o.row.row,
            row_path: o.row.path,
            rows: o.row.size,
            rows_root: o.rows_root,
            index: o.index,
            size: o.size,
            path: o.path,
        }
    };
    // A right row refutes nothing; the biased row 1 does.
    let e =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &c,
            &[],
            matrow_refutation_witness(0, &x, &opened(0)),
        )
        .unwrap_err();
    assert!(e.to_string().contains("NotRefuted"), "{e}");
    let refute =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &c,
            &[],
            matrow_refutation_witness(1, &x, &opened(1)),
        )
        .unwrap();
    assert_eq!(phase(&mut w, id), 4, "the challenger won");
    println!(
        "| Gemma 3 270M, layer 7 `DOWN` (640 x 2,048), real weights: claimStep {} / refuteStep {} |",
        claim.gas_used, refute.gas_used
    );

    // A sampled answer whose first token is the runner-up instead of the draw's pick.
    let s = Sampling {
        temperature_milli: 1000,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 2,
        seed: 11,
    };
    let fault = Some(DevFault::SampleRunnerUp { index: 0 });
    let honest = trace(&m, &ids, &s, None);
    let node = trace(&m, &ids, &s, fault);
    let (mut w, id) = disputed(&m, &node, &honest, n, &s);
    w.d.set_sample_verifier(
        &mut w.chain,
        MODEL_ID,
        m.config().vocab as u64,
        otr_engine::tables::exp2_table_digest(),
    )
    .unwrap();
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let rec = m.step_input_with_fault(&ids, &s, fault, at).unwrap();
    assert_eq!((rec.key.pos, rec.key.op), (n - 1, head_op::SAMPLE));
    let StepTensor::Token(bad) = rec.output else {
        panic!("a SAMPLE step outputs a token")
    };
    let logits = rec.inputs[0].bytes();
    assert_eq!(logits.len(), 8 * 262_144);
    let l = i64s(&logits);
    let right = claim_of(&l, &s, 0, n, None);
    assert_ne!(right.token, bad);
    let candidates = right.chunks.iter().map(|c| c.n as u64).sum::<u64>();
    // The node's token with right summaries: the draw lands elsewhere.
    let wrong = claim_of(&l, &s, 0, n, Some(bad));
    assert!(w
        .d
        .claim_step(&mut w.chain, w.node, id, &node, &[at - 1], wrong.encode())
        .is_err());
    // Bent so that it lands on the node's token: the weight before the token moved in one
    // chunk.
    let mut bent = wrong.clone();
    let u = {
        let h = Sha256::new()
            .chain_update(b"OTR/sampler/v1\0")
            .chain_update(s.seed.to_le_bytes())
            .chain_update(0u64.to_le_bytes())
            .finalize();
        u64::from_le_bytes(h[..8].try_into().unwrap()) as u128
    };
    let r = (u * bent.wKept) >> 64;
    let delta = r as i128 - bent.cT as i128;
    // A chunk whose weight before the token can take the change.
    let j = (0..bent.chunks.len())
        .max_by_key(|&j| bent.chunks[j].c)
        .unwrap();
    assert!(bent.chunks[j].c as i128 + delta >= 0);
    bent.cT = r;
    bent.chunks[j].c = (bent.chunks[j].c as i128 + delta) as u128;
    let claim =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[at - 1], bent.encode())
            .unwrap_or_else(|e| panic!("{e}"));
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let table = otr_engine::tables::exp2_table_bytes();
    let other = if j == 0 { 1 } else { 0 };
    let e =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &c,
            &[],
            sampled_refutation_witness(&logits, other as u64, &table).unwrap(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("NotRefuted"), "{e}");
    let refute =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &c,
            &[],
            sampled_refutation_witness(&logits, j as u64, &table).unwrap(),
        )
        .unwrap();
    assert_eq!(phase(&mut w, id), 4, "the challenger won");
    println!(
        "| Gemma 3 270M, sampled `SAMPLE` (262,144 real logits, {candidates} candidates at temperature 1): claimStep {} / refuteStep {} |",
        claim.gas_used, refute.gas_used
    );

    // The honest node's claim at that step stands against every chunk: the weights, counts
    // and sums recomputed on chain are the engine's, bit for bit, over the real logits.
    let mut theirs: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    let last = theirs[at as usize].len() - 1;
    theirs[at as usize][last] ^= 1;
    let (mut w, id) = disputed(&m, &honest, &Trace::new(theirs), n, &s);
    w.d.set_sample_verifier(
        &mut w.chain,
        MODEL_ID,
        m.config().vocab as u64,
        otr_engine::tables::exp2_table_digest(),
    )
    .unwrap();
    assert_eq!(w.d.dispute(&mut w.chain, id).unwrap().agreeSize, at);
    w.d.claim_step(&mut w.chain, w.node, id, &honest, &[at - 1], right.encode())
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    for j in 0..right.chunks.len() as u64 {
        let e =
            w.d.refute_step(
                &mut w.chain,
                w.challenger,
                id,
                &c,
                &[],
                sampled_refutation_witness(&logits, j, &table).unwrap(),
            )
            .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "chunk {j}: {e}");
    }
    w.chain.advance(w.params.move_timeout, 1);
    w.d.timeout(&mut w.chain, w.node, id).unwrap();
    assert_eq!(phase(&mut w, id), 3, "the node won");
}

/// Gemma 3 270M's attention settled by a claim of its sums (`AttnStepVerifier` deployed with a
/// proof limit of 1 visible position and parts of 4, so that a real prompt's last position is
/// claimed in several parts): at layer 6 (global), a node that read its cached values wrong
/// (`DevFault::AttnBias`) claims sums that give its output and is refuted at the first part;
/// the honest node's claim (its output recomputed on chain from its last state: the engine's,
/// bit for bit, at real scale) stands against every part.
#[test]
fn real_gemma_attention_claim_is_refuted_when_wrong_and_stands_when_right() {
    use otr_contracts::deploy::{attn_claim, attn_part, attn_refutation_witness, AttnLimits};
    use otr_engine::model::attn_parts::{encode_state, AttnInputs, AttnShape};
    let Some(m) = real_model() else {
        return;
    };
    let cfg = m.config().clone();
    let ids = m
        .tokenizer()
        .encode("The Eiffel Tower is located in the city of", true, false);
    let n = ids.len() as u32;
    let stage = 6u16;
    assert!(cfg.is_global(stage as usize - 1));
    let s = Sampling::greedy(2);
    let chunk = 4usize;
    let limits = AttnLimits {
        max_visible: 1,
        window: cfg.sliding_window as u64,
        global_every: cfg.global_every as u64,
        chunk: chunk as u64,
    };
    let shape = AttnShape {
        heads: cfg.n_heads,
        kv_heads: cfg.n_kv_heads,
        head_dim: cfg.head_dim,
    };
    let fault = Some(DevFault::AttnBias { pos: n - 1, stage });
    let honest = trace(&m, &ids, &s, None);
    let node = trace(&m, &ids, &s, fault);
    let find = |t: &Trace, pos: u32, op: u8| {
        (0..t.len())
            .find(|&i| {
                let k = leaf_key(t.leaf(i));
                (k.pos, k.stage, k.op) == (pos, stage, op)
            })
            .unwrap()
    };
    let at = find(&honest, n - 1, layer_op::ATTN);
    let q_at = find(&honest, n - 1, layer_op::Q_ROPE);
    let inputs = |f: Option<DevFault>| {
        let rec = m.step_input_with_fault(&ids, &s, f, at).unwrap();
        assert_eq!(
            (rec.key.pos, rec.key.stage, rec.key.op),
            (n - 1, stage, layer_op::ATTN)
        );
        let b: Vec<Vec<u8>> = rec.inputs.iter().map(|t| t.bytes()).collect();
        AttnInputs::from_bytes(shape, &b[0], &b[1], &b[2]).unwrap()
    };
    let mine = inputs(None);
    let states = |x: &AttnInputs| -> Vec<Vec<u8>> {
        x.states(chunk).iter().map(|s| encode_state(s)).collect()
    };
    // Plays claim, namePart(part), revealPart and refuteStep (with the honest values); the
    // refutation's result.
    let play = |node: &Trace, theirs: &Trace, claimed: &[Vec<u8>], part: u64| {
        let (mut w, id) = disputed(&m, node, theirs, n, &s);
        w.d.set_attn_verifier(
            &mut w.chain,
            MODEL_ID,
            otr_engine::tables::exp2_table_digest(),
            limits,
        )
        .unwrap();
        assert_eq!(w.d.dispute(&mut w.chain, id).unwrap().agreeSize, at);
        let claim = attn_claim(cfg.canonical().as_bytes(), claimed);
        let g =
            w.d.claim_step(&mut w.chain, w.node, id, node, &[q_at], claim)
                .unwrap()
                .gas_used;
        let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
        w.d.name_part(&mut w.chain, w.challenger, id, &c, part)
            .unwrap();
        let p = attn_part(claimed, part).unwrap();
        w.d.reveal_part(&mut w.chain, w.node, id, &c, &p).unwrap();
        let r = mine.part_range(part as usize, chunk);
        let mut idx: Vec<u64> = r
            .clone()
            .map(|j| find(&honest, j as u32, layer_op::K_ROPE))
            .collect();
        idx.extend(r.map(|j| find(&honest, j as u32, layer_op::V_CACHE)));
        let (q, ks, vs) = mine.part_bytes(part as usize, chunk);
        let wit = attn_refutation_witness(&q, &ks, &vs, &otr_engine::tables::exp2_table_bytes());
        let r =
            w.d.refute_step_opened(&mut w.chain, w.challenger, id, &c, &p, &honest, &idx, wit);
        (r, g, phase(&mut w, id))
    };

    // The node that misread its values: its sums give its (wrong) output; part 0 refutes them.
    let (r, claim_gas, ph) = play(&node, &honest, &states(&inputs(fault)), 0);
    let r = r.unwrap();
    assert_eq!(ph, 4, "the challenger won");
    println!(
        "| Gemma 3 270M, layer 6 `ATTN` by refutation, real weights, {n} visible positions in parts of {chunk}: claimStep {claim_gas} / refuteStep of part 0 {} |",
        r.gas_used
    );

    // The honest node against a challenger whose own ATTN leaf is off: its claim stands at
    // every part.
    let mut theirs: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    let last = theirs[at as usize].len() - 1;
    theirs[at as usize][last] ^= 1;
    let theirs = Trace::new(theirs);
    let right = states(&mine);
    assert!(right.len() >= 3, "several parts");
    for part in 0..right.len() as u64 {
        let (r, _, ph) = play(&honest, &theirs, &right, part);
        let e = r.unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "part {part}: {e}");
        assert_eq!(ph, 2, "the challenger is to move");
    }
}

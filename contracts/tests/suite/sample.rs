//! `SampleStepVerifier` and the claim-and-refute moves (`DisputeGame.claimStep`,
//! `refuteStep`) on real runs of the Gemma fixture: an honest greedy pick stands (no
//! counterexample, the node wins at the challenger's deadline), a wrong one (engine
//! `DevFault::SampleRunnerUp`) is refuted and slashed, bad counterexamples and claims are
//! refused; a sampled (temperature > 0) pick is claimed with its draw's summary of the logits,
//! stands when right and is refuted chunk by chunk when wrong; the gas of a refutation at
//! Gemma 3 270M's vocabulary (262,144 logits, two 32 KiB chunks):
//! `cargo test -p otr-contracts --test contracts sample_gas -- --nocapture`.

use crate::act::{gemma, gemma_270m_config, model_entry};
use crate::common::*;
use otr_contracts::bindings::dispute_game::DisputeGame;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{
    greedy_pick, sample_refutation_witness, sampled_refutation_witness, sampling_word,
    SampledChunk, SampledClaim, StepClaim,
};
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Bytes, U256};
use otr_engine::model::sampling;
use otr_engine::model::trace::{head_op, leaf, StepKey};
use otr_engine::{Config, DevFault, Model, Sampling, StepTensor};
use sha2::{Digest, Sha256};

pub(crate) const PROMPT: &[u32] = &[2, 40, 77, 91, 120];

fn register(w: &mut World, cfg: &Config, weights_root: [u8; 32]) {
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(cfg, weights_root),
            vks: vec![],
        },
    );
    w.d.set_sample_verifier(
        &mut w.chain,
        MODEL_ID,
        cfg.vocab as u64,
        otr_engine::tables::exp2_table_digest(),
    )
    .unwrap();
}

/// The trace of a greedy 3-token run of [`PROMPT`] with `fault` injected.
pub(crate) fn trace_of(m: &Model, fault: Option<DevFault>) -> Trace {
    let (_, steps) = m
        .trace_steps_with_fault(PROMPT, &Sampling::greedy(3), fault, &mut |_, _| true)
        .unwrap();
    Trace::new(steps.iter().map(|(k, d)| leaf(*k, d)).collect())
}

/// A dispute over the node's run (`fault` injected) that the challenger (the honest run, or
/// `theirs`) plays to the first leaf they differ at; `temperature` is the receipt's.
fn disputed(m: &Model, node: &Trace, theirs: &Trace, temperature: u32) -> (World, u64) {
    let mut w = World::new();
    register(&mut w, m.config(), m.info().weights_root);
    let mut r = receipt(node, 1, 3, m.info().weights_root, T0);
    r.prompt_tokens = PROMPT.len() as u32;
    r.sampling.temperature_milli = temperature;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, node, theirs);
    (w, id)
}

/// The disputed `SAMPLE` step of a run: its index, the token it committed, the index of its
/// `LOGITS` input and the logits (i64le).
fn sample_step(m: &Model, fault: Option<DevFault>, index: u64) -> (u32, u64, Vec<u8>) {
    sample_step_with(m, fault, index, &Sampling::greedy(3))
}

fn sample_step_with(
    m: &Model,
    fault: Option<DevFault>,
    index: u64,
    s: &Sampling,
) -> (u32, u64, Vec<u8>) {
    let rec = m.step_input_with_fault(PROMPT, s, fault, index).unwrap();
    assert_eq!(rec.key.op, head_op::SAMPLE);
    let StepTensor::Token(t) = rec.output else {
        panic!("a SAMPLE step outputs a token")
    };
    (t, index - 1, rec.inputs[0].bytes())
}

pub(crate) fn phase(w: &mut World, id: u64) -> u8 {
    w.d.dispute(&mut w.chain, id).unwrap().phase
}

#[test]
fn an_honest_greedy_pick_stands_no_logit_beats_it() {
    let m = gemma();
    let node = trace_of(m, None);
    let theirs = last_leaf_changed(&node);
    let (mut w, id) = disputed(m, &node, &theirs, 0);
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let (t, logits_at, logits) = sample_step(m, None, at);
    assert_eq!(greedy_pick(&logits), Some(t as u64));
    // The claim must be the committed token, with the step's LOGITS as its input.
    for (ins, claim, want) in [
        (
            vec![logits_at],
            (t + 1).to_le_bytes().to_vec(),
            "ClaimMismatch",
        ),
        (
            vec![logits_at - 1],
            t.to_le_bytes().to_vec(),
            "WrongInputStep",
        ),
        (
            vec![logits_at],
            t.to_le_bytes()[..3].to_vec(),
            "ClaimMismatch",
        ),
    ] {
        let e =
            w.d.claim_step(&mut w.chain, w.node, id, &node, &ins, claim)
                .unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    // Greedy with a verifier: no "no contest".
    let e =
        w.d.declare_unprovable(&mut w.chain, w.node, id, &node)
            .unwrap_err();
    assert!(e.to_string().contains("HasStepVerifier"), "{e}");
    let out =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &node,
            &[logits_at],
            t.to_le_bytes().to_vec(),
        )
        .unwrap();
    println!("claimStep gas: {}", out.gas_used);
    assert_eq!(phase(&mut w, id), 2, "the challenger's move");
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().expect("event");
    assert_eq!(c.claim, t.to_le_bytes());
    // No bisection answer while a claim stands.
    let e =
        w.d.respond(&mut w.chain, w.challenger, id, &theirs)
            .unwrap_err();
    assert!(e.to_string().contains("ClaimUnderway"), "{e}");
    // No counterexample: the pick itself, every other token (smaller, or equal with a larger
    // id), a token outside the vocabulary.
    let vocab = logits.len() as u64 / 8;
    for j in [t as u64, (t as u64 + 1) % vocab, vocab - 1, 0] {
        let wit = sample_refutation_witness(&logits, t as u64, j).unwrap();
        let e =
            w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], wit)
                .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "{j}: {e}");
    }
    let mut wit = sample_refutation_witness(&logits, t as u64, 0).unwrap();
    // Token `vocab` (word 0 of the witness) is refused however its chunk is given.
    wit[24..32].copy_from_slice(&vocab.to_be_bytes());
    assert!(w
        .d
        .refute_step(&mut w.chain, w.challenger, id, &c, &[], wit)
        .is_err());
    // Only the challenger refutes; the node's deadline is the challenger's.
    let wit = sample_refutation_witness(&logits, t as u64, 0).unwrap();
    assert!(w
        .d
        .refute_step(&mut w.chain, w.node, id, &c, &[], wit)
        .is_err());
    w.chain.advance(w.params.move_timeout, 1);
    let stake = w.stake_of(w.node);
    w.d.timeout(&mut w.chain, w.node, id).unwrap();
    assert_eq!(phase(&mut w, id), 3, "the node won");
    assert_eq!(w.stake_of(w.node), stake);
}

#[test]
fn a_wrong_greedy_token_is_refuted_and_the_node_slashed() {
    let m = gemma();
    let fault = Some(DevFault::SampleRunnerUp { index: 1 });
    let node = trace_of(m, fault);
    let honest = trace_of(m, None);
    assert_ne!(node.root(), honest.root());
    let (mut w, id) = disputed(m, &node, &honest, 0);
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let (t, logits_at, logits) = sample_step(m, fault, at);
    let best = greedy_pick(&logits).unwrap();
    assert_ne!(best, t as u64, "the fault picked the runner-up");
    // The node can only claim the token it committed.
    w.d.claim_step(
        &mut w.chain,
        w.node,
        id,
        &node,
        &[logits_at],
        t.to_le_bytes().to_vec(),
    )
    .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    // A counterexample must open in the agreed logits and beat the claim.
    let good = sample_refutation_witness(&logits, t as u64, best).unwrap();
    // The counterexample's value raised, its chunk no longer the agreed logits'.
    let mut raised = logits.clone();
    let b = 8 * best as usize;
    raised[b..b + 8].copy_from_slice(&i64::MAX.to_le_bytes());
    let forged = sample_refutation_witness(&raised, t as u64, best).unwrap();
    let e =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], forged)
            .unwrap_err();
    assert!(e.to_string().contains("NotRefuted"), "{e}");
    let other = StepClaim {
        claim: best.to_le_bytes()[..4].to_vec(),
        ..c.clone()
    };
    let e =
        w.d.refute_step(&mut w.chain, w.challenger, id, &other, &[], good.clone())
            .unwrap_err();
    assert!(e.to_string().contains("ClaimDiffers"), "{e}");
    let stake = w.stake_of(w.node);
    let credit = w.credit(w.challenger);
    let out =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], good)
            .unwrap();
    println!("refuteStep gas (fixture vocabulary): {}", out.gas_used);
    assert_eq!(phase(&mut w, id), 4, "the challenger won");
    assert!(w.stake_of(w.node) < stake, "slashed");
    assert!(
        w.credit(w.challenger) > credit + w.params.min_bond,
        "bond back and a reward"
    );
}

/// A sampled run's parameters (temperature, top-k and top-p all cutting).
fn sampled() -> Sampling {
    Sampling {
        temperature_milli: 900,
        top_k: 20,
        top_p_milli: 950,
        max_tokens: 3,
        seed: 5,
    }
}

/// A dispute over a sampled run (the receipt carries `s`), played to the first leaf the two
/// traces differ at.
fn disputed_sampled(m: &Model, node: &Trace, theirs: &Trace, s: &Sampling) -> (World, u64) {
    let mut w = World::new();
    register(&mut w, m.config(), m.info().weights_root);
    let mut r = receipt(node, 1, 3, m.info().weights_root, T0);
    r.prompt_tokens = PROMPT.len() as u32;
    r.sampling = (*s).into();
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, node, theirs);
    (w, id)
}

fn sampled_trace(m: &Model, fault: Option<DevFault>, s: &Sampling) -> Trace {
    let (_, steps) = m
        .trace_steps_with_fault(PROMPT, s, fault, &mut |_, _| true)
        .unwrap();
    Trace::new(steps.iter().map(|(k, d)| leaf(*k, d)).collect())
}

/// The claim (`SampleStepVerifier.Sampled`) of token `t` from `logits` under `s` at completion
/// `index`: the engine's cuts and summaries with the token replaced by `t` (the sampler's own
/// when `t` is `None`).
pub(crate) fn claim_of(
    logits: &[i64],
    s: &Sampling,
    index: u64,
    prompt_tokens: u32,
    t: Option<u32>,
) -> SampledClaim {
    let mut c = sampling::sampled_claim(logits, s, index).unwrap();
    if let Some(t) = t {
        c.cuts.t = (logits[t as usize], t);
        c.chunks = logits
            .chunks(4096)
            .enumerate()
            .map(|(j, v)| {
                sampling::chunk_summary(v, (j * 4096) as u32, &c.cuts, s.temperature_milli)
            })
            .collect();
        c.c_t = c.chunks.iter().map(|x| x.c).sum();
    }
    let w = |l: i64| sampling::weight(l, c.cuts.lmax, s.temperature_milli) as u64;
    let (kb, pb) = (c.cuts.kb.unwrap_or_default(), c.cuts.pb.unwrap_or_default());
    SampledClaim {
        sampling: sampling_word(
            s.temperature_milli,
            s.top_k,
            s.top_p_milli,
            s.seed,
            prompt_tokens,
        ),
        token: c.cuts.t.1,
        lt: c.cuts.t.0,
        wt: w(c.cuts.t.0),
        lmax: c.cuts.lmax,
        hasKb: c.cuts.kb.is_some(),
        lkb: kb.0,
        kb: kb.1,
        hasPb: c.cuts.pb.is_some(),
        lpb: pb.0,
        pb: pb.1,
        wpb: c.cuts.pb.map_or(0, |p| w(p.0)),
        wTotal: c.w_total,
        wKept: c.w_kept,
        cT: c.c_t,
        chunks: c
            .chunks
            .iter()
            .map(|x| SampledChunk {
                max: x.max,
                n: x.n,
                w: x.w,
                k: x.k,
                c: x.c,
            })
            .collect(),
    }
}

pub(crate) fn i64s(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// An honest sampled pick (temperature 0.9, top-k 20, top-p 0.95) is claimed with its draw's
/// summary and stands: the one chunk of the fixture's logits refutes nothing. A node whose
/// token is the runner-up instead cannot claim it with right summaries (the draw lands
/// elsewhere); with a summary bent so that it lands on its token, the challenger refutes that
/// chunk and the node is slashed.
#[test]
fn a_sampled_pick_stands_when_right_and_is_refuted_when_wrong() {
    let m = gemma();
    let s = sampled();
    let table = otr_engine::tables::exp2_table_bytes();
    let honest = sampled_trace(m, None, &s);
    let theirs = last_leaf_changed(&honest);
    let (mut w, id) = disputed_sampled(m, &honest, &theirs, &s);
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let (t, logits_at, logits) = sample_step_with(m, None, at, &s);
    let pos = leaf_key(honest.leaf(at)).pos;
    let index = u64::from(pos) + 1 - PROMPT.len() as u64;
    let has: bool = host::view(
        &mut w.chain,
        w.d.dispute_game,
        &DisputeGame::hasStepProofCall {
            modelId: MODEL_ID.into(),
            outLeaf: Bytes::copy_from_slice(honest.leaf(at)),
            temperatureMilli: 900,
        },
    )
    .unwrap();
    assert!(has, "a sampled pick is refutable");
    let l = i64s(&logits);
    let claim = claim_of(&l, &s, index, PROMPT.len() as u32, None);
    assert_eq!(claim.token, t);
    // The greedy form of the claim, or the claim of another receipt's sampling, is refused.
    let e =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &honest,
            &[logits_at],
            t.to_le_bytes().to_vec(),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("Sampled") || e.to_string().contains("revert"),
        "{e}"
    );
    let mut other = claim.clone();
    other.sampling += U256::from(1u64) << 96;
    let e =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &honest,
            &[logits_at],
            other.encode(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("SamplingMismatch"), "{e}");
    let out =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &honest,
            &[logits_at],
            claim.encode(),
        )
        .unwrap();
    println!(
        "claimStep (sampled, fixture vocabulary) gas: {}",
        out.gas_used
    );
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let mut bad_table = table.clone();
    bad_table[8] ^= 1;
    for wit in [
        sampled_refutation_witness(&logits, 0, &table).unwrap(),
        sampled_refutation_witness(&logits, 0, &bad_table).unwrap(),
    ] {
        let e =
            w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], wit)
                .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "{e}");
    }
    w.chain.advance(w.params.move_timeout, 1);
    w.d.timeout(&mut w.chain, w.node, id).unwrap();
    assert_eq!(phase(&mut w, id), 3, "the node won");

    // The node answers the runner-up of its last pick.
    let fault = Some(DevFault::SampleRunnerUp { index });
    let node = sampled_trace(m, fault, &s);
    let (mut w, id) = disputed_sampled(m, &node, &honest, &s);
    assert_eq!(w.d.dispute(&mut w.chain, id).unwrap().agreeSize, at);
    let (bad, _, _) = sample_step_with(m, fault, at, &s);
    assert_ne!(bad, t);
    let mut forged = claim_of(&l, &s, index, PROMPT.len() as u32, Some(bad));
    let e =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &node,
            &[logits_at],
            forged.encode(),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("DrawMismatch") || e.to_string().contains("TopPCut"),
        "right summaries do not fit another token: {e}"
    );
    // Bend the summary: the weight before the token moved so that the draw lands on it.
    let r = {
        let h = Sha256::new()
            .chain_update(b"OTR/sampler/v1\0")
            .chain_update(s.seed.to_le_bytes())
            .chain_update(index.to_le_bytes())
            .finalize();
        let u = u64::from_le_bytes(h[..8].try_into().unwrap()) as u128;
        (u * forged.wKept) >> 64
    };
    let delta = r as i128 - forged.cT as i128;
    forged.cT = r;
    forged.chunks[0].c = (forged.chunks[0].c as i128 + delta) as u128;
    forged.chunks[0].k = (forged.chunks[0].k as i128).max(forged.chunks[0].c as i128) as u128;
    assert_eq!(
        forged.chunks[0].k, claim.chunks[0].k,
        "the kept weight is unchanged"
    );
    w.d.claim_step(
        &mut w.chain,
        w.node,
        id,
        &node,
        &[logits_at],
        forged.encode(),
    )
    .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let stake = w.stake_of(w.node);
    let out =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &c,
            &[],
            sampled_refutation_witness(&logits, 0, &table).unwrap(),
        )
        .unwrap();
    println!(
        "refuteStep (sampled, fixture vocabulary) gas: {}",
        out.gas_used
    );
    assert_eq!(phase(&mut w, id), 4, "the challenger won");
    assert!(w.stake_of(w.node) < stake, "slashed");
}

/// Gas of a `SAMPLE` refutation at Gemma 3 270M's size: 262,144 logits (64 chunks of 4096),
/// the claimed token and the counterexample in different chunks (two 32 KiB chunks, 6-hash
/// paths). Prints table rows for docs/BENCHMARKS.md.
#[test]
fn sample_gas() {
    let cfg = gemma_270m_config();
    let root = [0x42; 32];
    let vocab = cfg.vocab as u64;
    let (t, j) = (1_000u64, 200_001u64);
    let logits: Vec<i64> = (0..vocab as i64)
        .map(|i| (i * 7_919) % 1_000_003 - 500_000)
        .map(|v| if v as u64 == j { 0 } else { v })
        .collect();
    let mut logits = logits;
    logits[t as usize] = 900_000;
    logits[j as usize] = 900_001;
    let bytes = wide(&logits);
    let digest = otr_core::rollup::tensor::wide_digest_bytes(&bytes);
    let nl = cfg.n_layers as u16;
    let pos = 15u32;
    let given = vec![
        leaf(
            StepKey {
                pos,
                stage: nl + 1,
                op: head_op::LOGITS,
            },
            &digest,
        ),
        leaf(
            StepKey {
                pos,
                stage: nl + 1,
                op: head_op::SAMPLE,
            },
            &Sha256::digest((t as u32).to_le_bytes()).into(),
        ),
    ];
    let (node, at) = in_layout(&given, pos + 1, nl);
    let theirs = last_leaf_changed(&node);
    let mut w = World::new();
    register(&mut w, &cfg, root);
    let mut r = receipt(&node, 1, 10, root, T0);
    r.prompt_tokens = pos + 1;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, &node, &theirs);
    let claim =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &node,
            &[at[0]],
            (t as u32).to_le_bytes().to_vec(),
        )
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let wit = sample_refutation_witness(&bytes, t, j).unwrap();
    let refute =
        w.d.refute_step(&mut w.chain, w.challenger, id, &c, &[], wit)
            .unwrap();
    assert_eq!(phase(&mut w, id), 4);
    println!(
        "| `SAMPLE` claim (greedy, 262,144-logit vocabulary) | claimStep | {} |",
        claim.gas_used
    );
    println!(
        "| `SAMPLE` refutation (two 32 KiB logit chunks, 6-hash paths) | refuteStep | {} |",
        refute.gas_used
    );
    assert!(refute.gas_used > 100_000);
    let _ = U256::ZERO;
}

/// Gas of a sampled `SAMPLE` dispute at Gemma 3 270M's size: 262,144 logits spread over about
/// 16 nats (every one a candidate at temperature 1), top-p 0.95: the claim of 64 chunk
/// summaries, and the refutation of one chunk (4,096 logits weighed on chain with the 2^-x
/// table, a 32 KiB chunk and the 8,200-byte table as calldata). Prints table rows for
/// docs/BENCHMARKS.md.
#[test]
fn sampled_gas() {
    let cfg = gemma_270m_config();
    let root = [0x42; 32];
    let vocab = cfg.vocab;
    let mut rng = otr_engine::rng::SplitMix(3);
    let logits: Vec<i64> = (0..vocab)
        .map(|_| (rng.next() % (1u64 << 36)) as i64 - (1 << 35))
        .collect();
    let s = Sampling {
        temperature_milli: 1000,
        top_k: 0,
        top_p_milli: 950,
        max_tokens: 16,
        seed: 9,
    };
    let pos = 15u32;
    let t = sampling::sample(&logits, &s, 0);
    let bytes = wide(&logits);
    let nl = cfg.n_layers as u16;
    let given = vec![
        leaf(
            StepKey {
                pos,
                stage: nl + 1,
                op: head_op::LOGITS,
            },
            &otr_core::rollup::tensor::wide_digest_bytes(&bytes),
        ),
        leaf(
            StepKey {
                pos,
                stage: nl + 1,
                op: head_op::SAMPLE,
            },
            &Sha256::digest(t.to_le_bytes()).into(),
        ),
    ];
    let (node, at) = in_layout(&given, pos + 1, nl);
    let theirs = last_leaf_changed(&node);
    let mut w = World::new();
    register(&mut w, &cfg, root);
    let mut r = receipt(&node, 1, 10, root, T0);
    r.prompt_tokens = pos + 1;
    r.sampling = s.into();
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, &node, &theirs);
    // One chunk's count moved to another: the totals still add up, chunk 7 is wrong.
    let mut claim = claim_of(&logits, &s, 0, pos + 1, None);
    assert_eq!(claim.chunks.len(), 64);
    claim.chunks[7].n += 1;
    claim.chunks[8].n -= 1;
    let out =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[at[0]], claim.encode())
            .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let table = otr_engine::tables::exp2_table_bytes();
    let e =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &c,
            &[],
            sampled_refutation_witness(&bytes, 6, &table).unwrap(),
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
            sampled_refutation_witness(&bytes, 7, &table).unwrap(),
        )
        .unwrap();
    assert_eq!(phase(&mut w, id), 4);
    println!(
        "| `SAMPLE` claim (sampled, 64 chunk summaries of 262,144 logits) | claimStep | {} |",
        out.gas_used
    );
    println!(
        "| `SAMPLE` refutation (sampled: one chunk of 4,096 logits weighed on chain) | refuteStep | {} |",
        refute.gas_used
    );
    assert!(refute.gas_used > 100_000);
}

//! `SampleStepVerifier` and the claim-and-refute moves (`DisputeGame.claimStep`,
//! `refuteStep`) on real runs of the Gemma fixture: an honest greedy pick stands (no
//! counterexample, the node wins at the challenger's deadline), a wrong one (engine
//! `DevFault::SampleRunnerUp`) is refuted and slashed, bad counterexamples and claims are
//! refused, a sampled (temperature > 0) receipt ends with no contest; the gas of a refutation at
//! Gemma 3 270M's vocabulary (262,144 logits, two 32 KiB chunks):
//! `cargo test -p otr-contracts --test contracts sample_gas -- --nocapture`.

use crate::act::{gemma, gemma_270m_config, model_entry};
use crate::common::*;
use otr_contracts::bindings::dispute_game::DisputeGame;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{greedy_pick, sample_refutation_witness, StepClaim};
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Bytes, U256};
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
    w.d.set_sample_verifier(&mut w.chain, MODEL_ID, cfg.vocab as u64)
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
    let rec = m
        .step_input_with_fault(PROMPT, &Sampling::greedy(3), fault, index)
        .unwrap();
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

#[test]
fn a_sampled_token_ends_with_no_contest() {
    let m = gemma();
    let node = trace_of(m, None);
    let theirs = last_leaf_changed(&node);
    let (mut w, id) = disputed(m, &node, &theirs, 700);
    let at = w.d.dispute(&mut w.chain, id).unwrap().agreeSize;
    let (t, logits_at, _) = sample_step(m, None, at);
    let has: bool = host::view(
        &mut w.chain,
        w.d.dispute_game,
        &DisputeGame::hasStepProofCall {
            modelId: MODEL_ID.into(),
            outLeaf: Bytes::copy_from_slice(node.leaf(at)),
            temperatureMilli: 700,
        },
    )
    .unwrap();
    assert!(!has);
    let e =
        w.d.claim_step(
            &mut w.chain,
            w.node,
            id,
            &node,
            &[logits_at],
            t.to_le_bytes().to_vec(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("NotGreedy"), "{e}");
    w.d.declare_unprovable(&mut w.chain, w.node, id, &node)
        .unwrap();
    assert_eq!(phase(&mut w, id), 5, "no contest");
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

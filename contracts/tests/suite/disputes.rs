//! Dishonest nodes caught, frivolous challengers, every timeout path.

use crate::common::*;
use crate::lifecycle::play_to_one_step;
use otr_contracts::deploy::BatchFinality;
use otr_contracts::U256;
use otr_core::rollup::DisputeState;

/// A node that cheats after a copy of a correct earlier step: its trace holds, where the honest
/// trace has the next step, a duplicate of the step before (correct, so its verifier accepts
/// it). The bisection stops at the duplicate; the layout check refuses it (the step is not the
/// one at that index), so the node cannot win on a step it did not have to compute.
#[test]
fn a_misplaced_correct_step_does_not_win_a_dispute() {
    let mut w = World::new();
    let honest = synth_trace(2, None);
    let resid = honest.index_of((0, 1, OP_RESID_ATTN));
    let mut leaves: Vec<Vec<u8>> = (0..honest.trace.len())
        .map(|i| honest.trace.leaf(i).to_vec())
        .collect();
    leaves.insert(resid as usize + 1, leaves[resid as usize].clone());
    let mut tensors = honest.tensors.clone();
    tensors.insert(resid as usize + 1, tensors[resid as usize].clone());
    let mut keys = honest.keys.clone();
    keys.insert(resid as usize + 1, keys[resid as usize]);
    let forged = SynthTrace {
        trace: otr_contracts::proofs::Trace::new(leaves),
        tensors,
        keys,
    };
    let p = w.post_receipts(vec![receipt(&forged.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let id = w.dispute_first(&p);
    play_to_one_step(&mut w, id, &forged, &honest);
    let d = w.d.dispute(&mut w.chain, id).unwrap();
    assert_eq!(d.agreeSize, resid + 1, "the bisection stops at the copy");
    // The copy's own inputs and witness: the sum is right, the place is not.
    let (inputs, witness) = honest.resid_witness(resid);
    let e =
        w.d.prove_step(&mut w.chain, w.node, id, &forged.trace, &inputs, witness)
            .fails();
    assert!(e.is("NotInLayout"), "{e}");
    // Nor is it a step without a verifier.
    let e =
        w.d.declare_unprovable(&mut w.chain, w.node, id, &forged.trace)
            .fails();
    assert!(e.is("NotInLayout"), "{e}");
}

#[test]
fn wrong_output_is_found_by_bisection_and_the_node_slashed() {
    let mut w = World::new();
    // The node's residual add at position 1, layer 2 is off by one; so is everything after it.
    let bad = synth_trace(3, Some((1, 2)));
    let honest = synth_trace(3, None);
    let p = w.post_receipts(vec![receipt(&bad.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let stake0 = w.stake_of(w.node);
    let id = w.dispute_first(&p);
    play_to_one_step(&mut w, id, &bad, &honest);
    let d = w.d.dispute(&mut w.chain, id).unwrap();
    let cheat = bad.index_of((1, 2, OP_RESID_ATTN));
    assert_eq!(
        d.agreeSize, cheat,
        "bisection stops at the first wrong leaf"
    );
    // The node cannot prove the step: the recomputed sum does not match its leaf.
    let (inputs, witness) = bad.resid_witness(cheat);
    let e =
        w.d.prove_step(&mut w.chain, w.node, id, &bad.trace, &inputs, witness)
            .fails();
    assert!(e.is("StepNotProven"), "{e}");
    // Nor can it use the honest leaf: it is not the leaf its trace committed to.
    let (inputs, witness) = honest.resid_witness(cheat);
    let e =
        w.d.prove_step(&mut w.chain, w.node, id, &honest.trace, &inputs, witness)
            .fails();
    assert!(e.is("RootMismatch"), "{e}");
    // So it runs out of time.
    w.chain.advance(w.params.move_timeout, 1);
    w.d.timeout(&mut w.chain, w.other, id).unwrap();
    let slash = w.params.slash_amount;
    assert_eq!(w.stake_of(w.node), stake0 - slash);
    // Challenger: bond back + half the slash.
    assert_eq!(
        w.credit(w.challenger),
        w.params.min_bond + slash / U256::from(2u64)
    );
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeLost {
            slashed_wei: slash.to()
        }
    );
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Slashed { .. }
    ));
    // The receipt cannot be disputed again.
    let e =
        w.d.open_dispute(
            &mut w.chain,
            w.other,
            &p.receipt_ref(0, 0),
            w.params.min_bond,
        )
        .fails();
    assert!(e.is("AlreadyProven"), "{e}");
    // Credit is paid out on claim.
    let before = w.chain.balance(w.challenger);
    otr_contracts::host::send(
        &mut w.chain,
        w.challenger,
        w.d.staking,
        &otr_contracts::bindings::node_staking::NodeStaking::claimCreditCall {},
        U256::ZERO,
    )
    .unwrap();
    assert_eq!(
        w.chain.balance(w.challenger) - before,
        w.params.min_bond + slash / U256::from(2u64)
    );
}

#[test]
fn bisection_finds_the_first_wrong_leaf_for_many_trace_shapes() {
    // Trace lengths 7 per position: 1..=4 positions, a cheat at each residual add.
    for positions in 1..=4u32 {
        for pos in 0..positions {
            for stage in 1..=N_LAYERS {
                let mut w = World::new();
                let bad = synth_trace(positions, Some((pos, stage)));
                let honest = synth_trace(positions, None);
                let p = w.post_receipts(vec![receipt(&bad.trace, 1, 10, WEIGHTS_ROOT, T0)]);
                let id = w.dispute_first(&p);
                play_to_one_step(&mut w, id, &bad, &honest);
                let d = w.d.dispute(&mut w.chain, id).unwrap();
                assert_eq!(
                    d.agreeSize,
                    bad.index_of((pos, stage, OP_RESID_ATTN)),
                    "{positions}/{pos}/{stage}"
                );
            }
        }
    }
}

#[test]
fn downgraded_model_is_slashed_without_a_game() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    // Receipt 1 claims the registered model id but carries other (cheaper) weights.
    let p = w.post_receipts(vec![
        receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0),
        receipt(&t.trace, 2, 10, [0x99; 32], T0),
    ]);
    use otr_contracts::bindings::dispute_game::DisputeGame;
    let honest = DisputeGame::challengeModelCall {
        r: (&p.receipt_ref(0, 0)).into(),
    };
    let e = otr_contracts::host::send(
        &mut w.chain,
        w.challenger,
        w.d.dispute_game,
        &honest,
        w.params.min_bond,
    )
    .fails();
    assert!(e.is("ModelMatches"), "{e}");
    let stake0 = w.stake_of(w.node);
    let bad = DisputeGame::challengeModelCall {
        r: (&p.receipt_ref(0, 1)).into(),
    };
    otr_contracts::host::send(
        &mut w.chain,
        w.challenger,
        w.d.dispute_game,
        &bad,
        w.params.min_bond,
    )
    .unwrap();
    assert_eq!(w.stake_of(w.node), stake0 - w.params.slash_amount);
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Slashed { .. }
    ));
    let e = otr_contracts::host::send(
        &mut w.chain,
        w.other,
        w.d.dispute_game,
        &bad,
        w.params.min_bond,
    )
    .fails();
    assert!(e.is("AlreadyProven"), "{e}");
}

#[test]
fn timeout_node_never_answers_the_challenge() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    let p = w.post_receipts(vec![receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let id = w.dispute_first(&p);
    w.chain.advance(w.params.move_timeout - 1, 1);
    let e = w.d.timeout(&mut w.chain, w.other, id).fails();
    assert!(e.is("TooEarly"), "{e}");
    w.chain.advance(1, 1);
    let e = w.d.bisect(&mut w.chain, w.node, id, &t.trace).fails();
    assert!(e.is("MoveTooLate"), "{e}");
    w.d.timeout(&mut w.chain, w.other, id).unwrap();
    assert!(matches!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeLost { .. }
    ));
    let e = w.d.timeout(&mut w.chain, w.other, id).fails();
    assert!(e.is("WrongPhase"), "{e}");
}

#[test]
fn timeout_challenger_stops_responding_loses_its_bond() {
    let mut w = World::new();
    let t = synth_trace(2, None);
    let p = w.post_receipts(vec![receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let stake0 = w.stake_of(w.node);
    let id = w.dispute_first(&p);
    w.d.bisect(&mut w.chain, w.node, id, &t.trace).unwrap();
    w.chain.advance(w.params.move_timeout, 1);
    let e =
        w.d.respond(&mut w.chain, w.challenger, id, &t.trace)
            .fails();
    assert!(e.is("MoveTooLate"), "{e}");
    w.d.timeout(&mut w.chain, w.other, id).unwrap();
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeWon
    );
    assert_eq!(w.stake_of(w.node), stake0);
    assert_eq!(w.credit(w.node), w.params.min_bond / U256::from(2u64));
    assert_eq!(w.credit(w.challenger), U256::ZERO);
}

#[test]
fn timeout_node_cannot_prove_the_last_step() {
    let mut w = World::new();
    let bad = synth_trace(1, Some((0, 1)));
    let honest = synth_trace(1, None);
    let p = w.post_receipts(vec![receipt(&bad.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let id = w.dispute_first(&p);
    play_to_one_step(&mut w, id, &bad, &honest);
    let e = w.d.bisect(&mut w.chain, w.node, id, &bad.trace).fails();
    assert!(e.is("OneStepReached"), "{e}");
    w.chain.advance(w.params.move_timeout, 1);
    w.d.timeout(&mut w.chain, w.challenger, id).unwrap();
    assert!(matches!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeLost { .. }
    ));
}

#[test]
fn a_wrong_consistency_proof_is_rejected() {
    let mut w = World::new();
    let t = synth_trace(2, None);
    let p = w.post_receipts(vec![receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let id = w.dispute_first(&p);
    // The node tries to reveal a prefix that is not a prefix of its committed trace.
    let other = synth_trace(2, Some((0, 1)));
    let e = w.d.bisect(&mut w.chain, w.node, id, &other.trace).fails();
    assert!(e.is("ConsistencyInvalid"), "{e}");
}

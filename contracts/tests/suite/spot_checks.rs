//! Spot-check selection from a later block hash, proofs before the deadline, slashing after it.

use crate::common::*;
use otr_contracts::bindings::spot_checks::{SpotChecks, StepOpening};
use otr_contracts::deploy::{BatchFinality, Params};
use otr_contracts::host::{self, CallError, TxOutcome};
use otr_contracts::proofs::ReceiptRef;
use otr_contracts::{Bytes, U256};

fn all_selected() -> World {
    World::with_params(Params {
        rho_ppm: 1_000_000,
        ..Params::devnet()
    })
}

fn selected_step(w: &mut World, batch: u64, r: &ReceiptRef, steps: u64) -> u64 {
    let rh = otr_core::rollup::Receipt::decode(&r.receipt)
        .unwrap()
        .receipt_hash();
    host::view(
        &mut w.chain,
        w.d.spot_checks,
        &SpotChecks::selectedStepCall {
            batchIndex: U256::from(batch),
            receiptHash: rh.into(),
            traceSteps: steps,
        },
    )
    .unwrap()
}

pub fn prove(
    w: &mut World,
    r: &ReceiptRef,
    t: &SynthTrace,
    step: u64,
) -> Result<TxOutcome, CallError> {
    let (ins, witness) = t.resid_witness(step);
    let n = t.trace.len();
    let call = SpotChecks::proveSpotCheckCall {
        r: r.into(),
        outLeaf: Bytes::from(t.trace.leaf(step).to_vec()),
        outPath: t.trace.path(step, n).iter().map(|h| (*h).into()).collect(),
        inputs: ins
            .iter()
            .map(|&i| StepOpening::Leaf {
                index: i,
                leaf: Bytes::from(t.trace.leaf(i).to_vec()),
                path: t.trace.path(i, n).iter().map(|h| (*h).into()).collect(),
            })
            .collect(),
        witness: witness.into(),
    };
    host::send(&mut w.chain, w.node, w.d.spot_checks, &call, U256::ZERO).map(|r| r.1)
}

#[test]
fn selected_receipts_are_proved_or_the_node_is_slashed() {
    let mut w = all_selected();
    let t = synth_trace(2, None);
    let rs: Vec<_> = (0..12)
        .map(|i| receipt(&t.trace, i, 10, WEIGHTS_ROOT, T0))
        .collect();
    let p = w.post_receipts(rs.clone());
    // The seed block is postedBlock + 2: not yet.
    let e = w.d.record_seed(&mut w.chain, w.other, p.index).fails();
    assert!(e.is("SeedNotYet"), "{e}");
    w.chain.advance(30, 3);
    w.d.record_seed(&mut w.chain, w.other, p.index).unwrap();
    let e = w.d.record_seed(&mut w.chain, w.other, p.index).fails();
    assert!(e.is("SeedAlreadyRecorded"), "{e}");

    // Sort receipts into provable (the sampled step is a residual add, which has an on-chain
    // verifier) and not.
    let mut provable = None;
    let mut unprovable = None;
    for i in 0..rs.len() {
        let r = p.receipt_ref(0, i);
        let s = selected_step(&mut w, p.index, &r, t.trace.len());
        let op = t.keys[s as usize].2;
        if op == OP_RESID_ATTN || op == OP_RESID_FFN {
            provable.get_or_insert((r, s));
        } else {
            unprovable.get_or_insert((r, s));
        }
    }
    let (good, gs) = provable.expect("a receipt sampled at a residual add");
    let (bad, bs) = unprovable.expect("a receipt sampled elsewhere");
    // A proof of another step than the sampled one is rejected.
    let other = t.index_of((0, 1, OP_RESID_ATTN));
    let wrong = if other == gs {
        t.index_of((0, 1, OP_RESID_FFN))
    } else {
        other
    };
    let e = prove(&mut w, &good, &t, wrong).fails();
    assert!(e.is("RootMismatch") || e.is("PathLength"), "{e}");
    prove(&mut w, &good, &t, gs).unwrap();
    let e = prove(&mut w, &good, &t, gs).fails();
    assert!(e.is("AlreadyProved"), "{e}");

    // Too early to report.
    let report = |r: &ReceiptRef| SpotChecks::reportMissedCall { r: r.into() };
    let e = host::send(
        &mut w.chain,
        w.other,
        w.d.spot_checks,
        &report(&bad),
        U256::ZERO,
    )
    .fails();
    assert!(e.is("DeadlineNotPassed"), "{e}");
    w.chain.advance(w.params.proof_window, 1);
    // Too late to prove.
    let _ = bs;
    let e = prove(&mut w, &good, &t, gs).fails();
    assert!(e.is("DeadlinePassed") || e.is("AlreadyProved"), "{e}");
    let stake0 = w.stake_of(w.node);
    host::send(
        &mut w.chain,
        w.other,
        w.d.spot_checks,
        &report(&bad),
        U256::ZERO,
    )
    .unwrap();
    assert_eq!(w.stake_of(w.node), stake0 - w.params.spot_slash);
    assert_eq!(w.credit(w.other), w.params.spot_slash / U256::from(2u64));
    let e = host::send(
        &mut w.chain,
        w.other,
        w.d.spot_checks,
        &report(&bad),
        U256::ZERO,
    )
    .fails();
    assert!(e.is("AlreadyReported"), "{e}");
    let e = host::send(
        &mut w.chain,
        w.other,
        w.d.spot_checks,
        &report(&good),
        U256::ZERO,
    )
    .fails();
    assert!(e.is("AlreadyProved"), "{e}");
    assert!(matches!(
        w.d.finality(&mut w.chain, p.index).unwrap(),
        BatchFinality::Slashed { .. }
    ));
}

#[test]
fn a_seed_not_recorded_within_256_blocks_expires() {
    let mut w = all_selected();
    let t = synth_trace(1, None);
    let p = w.post_receipts(vec![receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    w.chain.advance(3_600, 300);
    let e = w.d.record_seed(&mut w.chain, w.other, p.index).fails();
    assert!(e.is("SeedExpired"), "{e}");
    // Without a seed nothing is selected, and nothing can be reported.
    let call = SpotChecks::reportMissedCall {
        r: (&p.receipt_ref(0, 0)).into(),
    };
    let e = host::send(&mut w.chain, w.other, w.d.spot_checks, &call, U256::ZERO).fails();
    assert!(e.is("NoSeed"), "{e}");
}

/// Gas of the spot-check transactions: `recordSeed`, `proveSpotCheck` of a residual add
/// (recomputed on-chain; the synthetic two-position trace's short paths), `reportMissed`
/// (with the slash). `cargo test -p otr-contracts --test contracts spot_check_gas -- --nocapture`.
#[test]
fn spot_check_gas() {
    let mut w = all_selected();
    let t = synth_trace(2, None);
    let rs: Vec<_> = (0..16)
        .map(|i| receipt(&t.trace, i, 10, WEIGHTS_ROOT, T0))
        .collect();
    let p = w.post_receipts(rs.clone());
    w.chain.advance(30, 3);
    let seed = host::send(
        &mut w.chain,
        w.other,
        w.d.spot_checks,
        &SpotChecks::recordSeedCall {
            batchIndex: U256::from(p.index),
        },
        U256::ZERO,
    )
    .unwrap()
    .1;
    let mut proved = None;
    let mut missed = None;
    for i in 0..rs.len() {
        let r = p.receipt_ref(0, i);
        let s = selected_step(&mut w, p.index, &r, t.trace.len());
        let op = t.keys[s as usize].2;
        if op == OP_RESID_ATTN || op == OP_RESID_FFN {
            if proved.is_none() {
                proved = Some(prove(&mut w, &r, &t, s).unwrap());
            }
        } else {
            missed.get_or_insert(r);
        }
    }
    let proved = proved.expect("a receipt sampled at a residual add");
    w.chain.advance(w.params.proof_window, 1);
    let report = SpotChecks::reportMissedCall {
        r: (&missed.expect("an unprovable receipt")).into(),
    };
    let missed = host::send(&mut w.chain, w.other, w.d.spot_checks, &report, U256::ZERO)
        .unwrap()
        .1;
    println!("| `recordSeed` (once per batch) | {} |", seed.gas_used);
    println!(
        "| `proveSpotCheck`, residual add recomputed on-chain (receipt in a 16-receipt header, {}-leaf trace) | {} |",
        t.trace.len(),
        proved.gas_used
    );
    println!(
        "| `reportMissed` (a selected receipt left unproved: slash, reporter's share) | {} |",
        missed.gas_used
    );
}

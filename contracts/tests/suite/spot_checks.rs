//! Spot-check selection from a later block hash, proofs before the deadline, slashing after it.

use crate::common::*;
use otr_contracts::bindings::spot_checks::SpotChecks;
use otr_contracts::deploy::{BatchFinality, Params};
use otr_contracts::host;
use otr_contracts::proofs::ReceiptRef;
use otr_contracts::U256;

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

/// Seeds, selection and the deadline: the seed exists only after its block, once; every
/// receipt is selected at 100%; none can be reported before the deadline; after it an unproved
/// one slashes the node (the reporter's share paid), once, and the batch is marked slashed. (A
/// spot check's proof, the unit of the first layer matrix-vector step at or after the sampled
/// index: `matvec.rs`, `matvec_spot_check_proves_the_unit_the_seed_draws`.)
#[test]
fn selected_receipts_are_reported_after_the_deadline() {
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
    // Every sampled index is in the trace.
    for i in 0..rs.len() {
        let s = selected_step(&mut w, p.index, &p.receipt_ref(0, i), t.trace.len());
        assert!(s < t.trace.len());
    }
    let bad = p.receipt_ref(0, 3);
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

/// Gas of the spot-check transactions `recordSeed` and `reportMissed` (with the slash); the
/// proof's: `matvec_spot_check_gas` in `matvec.rs`.
/// `cargo test -p otr-contracts --test contracts spot_check_gas -- --nocapture`.
#[test]
fn spot_check_gas() {
    let mut w = all_selected();
    let t = synth_trace(2, None);
    let rs: Vec<_> = (0..16)
        .map(|i| receipt(&t.trace, i, 10, WEIGHTS_ROOT, T0))
        .collect();
    let p = w.post_receipts(rs);
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
    w.chain.advance(w.params.proof_window, 1);
    let report = SpotChecks::reportMissedCall {
        r: (&p.receipt_ref(0, 5)).into(),
    };
    let missed = host::send(&mut w.chain, w.other, w.d.spot_checks, &report, U256::ZERO)
        .unwrap()
        .1;
    println!("| `recordSeed` (once per batch) | {} |", seed.gas_used);
    println!(
        "| `reportMissed` (a selected receipt left unproved: slash, reporter's share) | {} |",
        missed.gas_used
    );
}

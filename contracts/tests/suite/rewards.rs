//! PoEA rewards: attributed work of final, cleared receipts; no double claim.

use crate::common::*;
use otr_contracts::bindings::rewards::Rewards;
use otr_contracts::deploy::Params;
use otr_contracts::host;
use otr_contracts::{Bytes, U256};

fn register(w: &mut World, p: &Posted, header: usize) -> Result<U256, otr_contracts::CallError> {
    let hashes: Vec<[u8; 32]> = p.headers.iter().map(|h| h.header_hash()).collect();
    let path = otr_core::rollup::merkle::prove(&hashes, header as u64)
        .unwrap()
        .path;
    let receipts: Vec<u8> = p.receipts[header].iter().flat_map(|r| r.encode()).collect();
    let call = Rewards::registerWorkCall {
        batchIndex: p.index,
        headerIndex: header as u32,
        header: Bytes::from(p.headers[header].encode()),
        headerPath: path.iter().map(|h| (*h).into()).collect(),
        receipts: receipts.into(),
    };
    host::send(&mut w.chain, w.other, w.d.rewards, &call, U256::ZERO).map(|r| r.0)
}

#[test]
fn rewards_pay_attributed_work_once() {
    let mut w = World::with_params(Params {
        rho_ppm: 0,
        ..Params::devnet()
    });
    let t = synth_trace(1, None);
    let p = w.post(vec![
        vec![
            receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0),
            receipt(&t.trace, 2, 5, WEIGHTS_ROOT, T0),
        ],
        // A downgraded receipt earns nothing (even if nobody challenged it).
        vec![
            receipt(&t.trace, 3, 100, [0x99; 32], T0),
            receipt(&t.trace, 4, 1, WEIGHTS_ROOT, T0),
        ],
    ]);
    // Not final yet.
    let e = register(&mut w, &p, 0).fails();
    assert!(e.is("NotFinal"), "{e}");
    w.chain.advance(w.params.challenge_window, 3);
    let e = register(&mut w, &p, 0).fails();
    assert!(e.is("NoSeed"), "{e}");
    w.d.record_seed(&mut w.chain, w.other, p.index).unwrap();
    let e = register(&mut w, &p, 0).fails();
    assert!(e.is("SpotCheckPending"), "{e}");
    w.chain.advance(w.params.proof_window, 1);

    let w0 = register(&mut w, &p, 0).unwrap();
    assert_eq!(w0, U256::from((20 + 10) * COST_WEIGHT));
    let w1 = register(&mut w, &p, 1).unwrap();
    assert_eq!(w1, U256::from(2 * COST_WEIGHT));
    // Double registration of a micro-batch.
    let e = register(&mut w, &p, 0).fails();
    assert!(e.is("AlreadyCounted"), "{e}");

    let fund = Rewards::fundCall { epoch: U256::ZERO };
    host::send(&mut w.chain, w.owner, w.d.rewards, &fund, eth(1)).unwrap();
    let claim = Rewards::claimCall { epoch: U256::ZERO };
    let e = host::send(&mut w.chain, w.node, w.d.rewards, &claim, U256::ZERO).fails();
    assert!(e.is("ClaimNotOpen"), "{e}");
    let opens: U256 = host::view(
        &mut w.chain,
        w.d.rewards,
        &Rewards::claimOpensAtCall { epoch: U256::ZERO },
    )
    .unwrap();
    let now = w.chain.timestamp();
    w.chain.advance(opens.to::<u64>() - now, 1);
    // Registration is closed once claims open.
    let e = register(&mut w, &p, 0).fails();
    assert!(e.is("RegistrationClosed") || e.is("AlreadyCounted"), "{e}");
    let before = w.chain.balance(w.node);
    host::send(&mut w.chain, w.node, w.d.rewards, &claim, U256::ZERO).unwrap();
    assert_eq!(w.chain.balance(w.node) - before, eth(1));
    // Double claim.
    let e = host::send(&mut w.chain, w.node, w.d.rewards, &claim, U256::ZERO).fails();
    assert!(e.is("AlreadyPaid"), "{e}");
    // Someone without work.
    let e = host::send(&mut w.chain, w.challenger, w.d.rewards, &claim, U256::ZERO).fails();
    assert!(e.is("NoWork"), "{e}");
}

#[test]
fn a_slashed_batch_earns_nothing() {
    let mut w = World::with_params(Params {
        rho_ppm: 0,
        ..Params::devnet()
    });
    let t = synth_trace(1, None);
    let p = w.post_receipts(vec![
        receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0),
        receipt(&t.trace, 2, 10, [9; 32], T0),
    ]);
    use otr_contracts::bindings::dispute_game::DisputeGame;
    let call = DisputeGame::challengeModelCall {
        r: (&p.receipt_ref(0, 1)).into(),
    };
    host::send(
        &mut w.chain,
        w.challenger,
        w.d.dispute_game,
        &call,
        w.params.min_bond,
    )
    .unwrap();
    w.chain
        .advance(w.params.proof_window + w.params.challenge_window, 3);
    let e = register(&mut w, &p, 0).fails();
    assert!(e.is("NotFinal"), "{e}");
}

//! The life of a batch; re-posting; header-chain checks; unauthorized calls; persistence.

use crate::common::*;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::node_staking::NodeStaking;
use otr_contracts::bindings::settlement::Settlement;
use otr_contracts::deploy::BatchFinality;
use otr_contracts::host;
use otr_contracts::{proofs, Address, Chain, U256};
use otr_core::rollup::{evaluate_finality, ChainStatus, DisputeState, Finality};
use otr_core::UnixTime;

fn core_finality(cs: &ChainStatus, now: u64) -> Finality {
    evaluate_finality(&cs.to_inputs(UnixTime(now as i64)).unwrap()).unwrap()
}

#[test]
fn batch_life_post_provisional_challenge_resolution_final() {
    let mut w = World::new();
    let t = synth_trace(2, None);
    let rs: Vec<_> = (0..3)
        .map(|i| receipt(&t.trace, i, 10, WEIGHTS_ROOT, T0))
        .collect();
    let p = w.post(vec![rs.clone(), rs[..1].to_vec()]);
    assert_eq!(p.index, 0);
    let b = w.d.batch(&mut w.chain, 0).unwrap();
    assert_eq!(b.root.0, proofs::batch_root(&p.headers));
    assert_eq!((b.headerCount, b.receiptCount, b.firstSequence), (2, 4, 0));

    // Provisional: in the window.
    let end = T0 + w.params.challenge_window;
    assert_eq!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::InWindow {
            posted_at: T0,
            ends_at: end
        }
    );
    let cs = w.d.chain_status(&mut w.chain, 0).unwrap();
    assert_eq!(cs.dispute, DisputeState::None);
    assert!(matches!(
        core_finality(&cs, T0 + 1),
        Finality::InWindow { .. }
    ));

    // Challenge (a frivolous one: the trace is right).
    w.chain.advance(10, 1);
    let r = p.receipt_ref(0, 1);
    let (id, _) =
        w.d.open_dispute(&mut w.chain, w.challenger, &r, w.params.min_bond)
            .unwrap();
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Disputed { .. }
    ));
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::Open
    );

    // Resolution: the challenger's own re-execution agrees at every step, so the game ends at
    // the last leaf, which the node proves by on-chain recomputation.
    let own = synth_trace(2, None);
    let rounds = play_to_one_step(&mut w, id, &t, &own);
    assert!(rounds >= 4, "{rounds} rounds");
    let last = t.trace.len() - 1;
    let d = w.d.dispute(&mut w.chain, id).unwrap();
    assert_eq!((d.agreeSize, d.disagreeSize), (last, last + 1));
    let (inputs, witness) = t.resid_witness(last);
    w.d.prove_step(&mut w.chain, w.node, id, &t.trace, &inputs, witness)
        .unwrap();
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeWon
    );
    // The challenger's bond: half to the node, half to the treasury.
    assert_eq!(w.credit(w.node), w.params.min_bond / U256::from(2u64));
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::InWindow { .. }
    ));

    // Final at exactly postedAt + window.
    let now = w.chain.timestamp();
    w.chain.advance(end - 1 - now, 1);
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::InWindow { .. }
    ));
    w.chain.advance(1, 1);
    assert_eq!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Final { since: end }
    );
    let cs = w.d.chain_status(&mut w.chain, 0).unwrap();
    assert_eq!(
        core_finality(&cs, end),
        Finality::Final {
            since: UnixTime(end as i64)
        }
    );
    // No challenge after the window.
    let e =
        w.d.open_dispute(&mut w.chain, w.challenger, &r, w.params.min_bond)
            .fails();
    assert!(e.is("WindowClosed"), "{e}");
}

/// Plays bisection moves (node from `node_trace`, challenger from `own`) until one step is left;
/// returns the number of rounds.
pub fn play_to_one_step(w: &mut World, id: u64, node_trace: &SynthTrace, own: &SynthTrace) -> u32 {
    let mut rounds = 0;
    loop {
        let d = w.d.dispute(&mut w.chain, id).unwrap();
        if d.disagreeSize - d.agreeSize <= 1 {
            return rounds;
        }
        w.d.bisect(&mut w.chain, w.node, id, &node_trace.trace)
            .unwrap();
        w.chain.advance(5, 1);
        w.d.respond(&mut w.chain, w.challenger, id, &own.trace)
            .unwrap();
        w.chain.advance(5, 1);
        rounds += 1;
    }
}

#[test]
fn reposting_a_batch_is_rejected() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    let p = w.post_receipts(vec![receipt(&t.trace, 1, 5, WEIGHTS_ROOT, T0)]);
    let e = w.d.post_batch(&mut w.chain, w.node, &p.headers).fails();
    assert!(e.is("BatchAlreadyPosted"), "{e}");
    // The same headers under another root (a duplicate of header 0) break the chain instead.
    let mut twice = p.headers.clone();
    twice.extend(p.headers.clone());
    let e = w.d.post_batch(&mut w.chain, w.node, &twice).fails();
    assert!(e.is("SequenceGap"), "{e}");
}

type Mutation = Box<dyn Fn(&mut Vec<otr_core::rollup::MicroBatchHeader>)>;

#[test]
fn header_chain_rules_are_enforced() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    let r = receipt(&t.trace, 1, 5, WEIGHTS_ROOT, T0);
    let good = w.headers(&[vec![r.clone()], vec![r.clone()]]);
    let cases: Vec<(&str, Mutation)> = vec![
        ("WrongChainId", Box::new(|h| h[0].chain_id = 1)),
        ("WrongNode", Box::new(|h| h[0].node_address = [9; 20])),
        ("SequenceGap", Box::new(|h| h[1].sequence = 5)),
        (
            "PrevHashMismatch",
            Box::new(|h| h[1].prev_header_hash = [1; 32]),
        ),
        (
            "TimestampRegression",
            Box::new(|h| h[1].timestamp = h[0].timestamp - 1),
        ),
        ("UnsupportedVersion", Box::new(|h| h[0].version = 2)),
    ];
    for (name, mutate) in cases {
        let mut hs = good.clone();
        mutate(&mut hs);
        let e = w.d.post_batch(&mut w.chain, w.node, &hs).fails();
        assert!(e.is(name), "{name}: {e}");
    }
    // A wrong root.
    let call = Settlement::postBatchCall {
        root: [7u8; 32].into(),
        headers: proofs::headers_calldata(&good).into(),
    };
    let e = host::send(&mut w.chain, w.node, w.d.settlement, &call, U256::ZERO).fails();
    assert!(e.is("BatchRootMismatch"), "{e}");
    // 1..=20 headers: the on-chain RFC 6962 root equals otr-core's.
    w.next_seq = 0;
    w.prev_hash = [0; 32];
    for n in 1..=20usize {
        let lists = vec![vec![r.clone()]; n];
        let p = w.post(lists);
        let b = w.d.batch(&mut w.chain, p.index).unwrap();
        assert_eq!(b.root.0, proofs::batch_root(&p.headers), "n = {n}");
    }
}

#[test]
fn unauthorized_calls_are_rejected() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    let r = receipt(&t.trace, 1, 5, WEIGHTS_ROOT, T0);
    // An unstaked account cannot post, even its own well-formed chain.
    let mut hs = w.headers(&[vec![r.clone()]]);
    hs[0].node_address = w.other.0 .0;
    hs[0].sequence = 0;
    hs[0].prev_header_hash = [0; 32];
    let e = w.d.post_batch(&mut w.chain, w.other, &hs).fails();
    assert!(e.is("NotStaked"), "{e}");
    // A staked node cannot post another node's headers.
    w.next_seq = 0;
    w.prev_hash = [0; 32];
    let hs = w.headers(&[vec![r.clone()]]);
    w.d.stake(&mut w.chain, w.other, eth(2)).unwrap();
    let e = w.d.post_batch(&mut w.chain, w.other, &hs).fails();
    assert!(e.is("WrongNode"), "{e}");
    w.next_seq = 0;
    w.prev_hash = [0; 32];

    let z = U256::ZERO;
    let o = w.other;
    let m = ModelRegistry::Model {
        configHash: [0; 32].into(),
        tokenizerHash: [0; 32].into(),
        weightsRoot: [0; 32].into(),
        poseidonRoot: [0; 32].into(),
        costWeight: 1,
        numLayers: 1,
        active: true,
    };
    let e = host::send(
        &mut w.chain,
        o,
        w.d.registry,
        &ModelRegistry::registerModelCall {
            modelId: [1; 32].into(),
            m,
            vks: vec![],
        },
        z,
    )
    .fails();
    assert!(e.is("Unauthorized"), "{e}");
    let slash = NodeStaking::slashCall {
        node: w.node,
        amount: eth(1),
        beneficiary: o,
        bps: U256::from(10_000u64),
    };
    let e = host::send(&mut w.chain, o, w.d.staking, &slash, z).fails();
    assert!(e.is("Unauthorized"), "{e}");
    let e = host::send(
        &mut w.chain,
        o,
        w.d.staking,
        &NodeStaking::setSlasherCall {
            who: o,
            allowed: true,
        },
        z,
    )
    .fails();
    assert!(e.is("Unauthorized"), "{e}");
    let e = host::send(
        &mut w.chain,
        o,
        w.d.staking,
        &NodeStaking::extendLockCall {
            node: w.node,
            until: U256::MAX,
        },
        z,
    )
    .fails();
    assert!(e.is("Unauthorized"), "{e}");
    let p = w.post_receipts(vec![r]);
    let fake = Settlement::onFraudProvenCall {
        index: U256::from(p.index),
        slashed: U256::from(1u64),
    };
    let e = host::send(&mut w.chain, o, w.d.settlement, &fake, z).fails();
    assert!(e.is("Unauthorized"), "{e}");
    let e = host::send(
        &mut w.chain,
        o,
        w.d.settlement,
        &Settlement::setAdjudicatorCall {
            who: o,
            allowed: true,
        },
        z,
    )
    .fails();
    assert!(e.is("Unauthorized"), "{e}");

    // Dispute moves by the wrong side.
    let id = w.dispute_first(&p);
    let e = w.d.bisect(&mut w.chain, w.challenger, id, &t.trace).fails();
    assert!(e.is("NotYourMove"), "{e}");
    w.d.bisect(&mut w.chain, w.node, id, &t.trace).unwrap();
    let e = w.d.respond(&mut w.chain, w.node, id, &t.trace).fails();
    assert!(e.is("NotYourMove"), "{e}");
    let e = w.d.respond(&mut w.chain, o, id, &t.trace).fails();
    assert!(e.is("NotYourMove"), "{e}");
    // A bond below the minimum.
    let e =
        w.d.open_dispute(&mut w.chain, o, &p.receipt_ref(0, 0), U256::from(1u64))
            .fails();
    assert!(e.is("BondTooSmall"), "{e}");
}

#[test]
fn stake_withdrawal_waits_for_delay_and_locks() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    w.post_receipts(vec![receipt(&t.trace, 1, 5, WEIGHTS_ROOT, T0)]);
    let z = U256::ZERO;
    host::send(
        &mut w.chain,
        w.node,
        w.d.staking,
        &NodeStaking::requestWithdrawalCall { amount: eth(1) },
        z,
    )
    .unwrap();
    // Requested: no more posting.
    let hs = w.headers(&[vec![receipt(&t.trace, 2, 5, WEIGHTS_ROOT, T0)]]);
    let e = w.d.post_batch(&mut w.chain, w.node, &hs).fails();
    assert!(e.is("NotStaked"), "{e}");
    let e = host::send(
        &mut w.chain,
        w.node,
        w.d.staking,
        &NodeStaking::withdrawCall {},
        z,
    )
    .fails();
    assert!(e.is("WithdrawalLocked"), "{e}");
    // The lock (window + extension) outlasts the delay.
    w.chain.advance(w.params.withdrawal_delay, 1);
    let e = host::send(
        &mut w.chain,
        w.node,
        w.d.staking,
        &NodeStaking::withdrawCall {},
        z,
    )
    .fails();
    assert!(e.is("WithdrawalLocked"), "{e}");
    w.chain
        .advance(w.params.challenge_window + w.params.lock_extension, 1);
    let before = w.chain.balance(w.node);
    host::send(
        &mut w.chain,
        w.node,
        w.d.staking,
        &NodeStaking::withdrawCall {},
        z,
    )
    .unwrap();
    assert_eq!(w.chain.balance(w.node) - before, eth(1));
    assert_eq!(w.stake_of(w.node), eth(1));
}

#[test]
fn chain_state_persists_to_a_file_and_storage_slots_are_documented() {
    let mut w = World::new();
    let t = synth_trace(1, None);
    let p = w.post_receipts(vec![receipt(&t.trace, 1, 5, WEIGHTS_ROOT, T0)]);
    let dir = std::env::temp_dir().join(format!("otr-contracts-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chain.json");
    w.chain.save(&path).unwrap();
    let mut c2 = Chain::load(&path).unwrap();
    assert_eq!(
        (c2.block_number(), c2.timestamp()),
        (w.chain.block_number(), w.chain.timestamp())
    );
    let b = w.d.batch(&mut c2, p.index).unwrap();
    assert_eq!(b.root.0, proofs::batch_root(&p.headers));
    // The documented slot of batches[n].root: keccak256(abi.encode(n, 2)) (contracts/README.md).
    let mut pre = [0u8; 64];
    pre[24..32].copy_from_slice(&p.index.to_be_bytes());
    pre[63] = 2;
    let slot = U256::from_be_bytes(alloy_primitives::keccak256(pre).0);
    assert_eq!(
        c2.storage(w.d.settlement, slot),
        U256::from_be_bytes(b.root.0)
    );
    // Slot + 1: node (bytes 0..20 from the right), postedAt (next 8), headerCount (next 4).
    let w1 = c2.storage(w.d.settlement, slot + U256::from(1u64));
    assert_eq!(w1 >> 160 & U256::from(u64::MAX), U256::from(b.postedAt));
    // The chain goes on after loading.
    w.d.stake(&mut c2, w.other, eth(1)).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A fresh directory for one persistence test.
fn persist_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("otr-contracts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn saves_after_the_first_append_only_what_changed_and_load_replays_them() {
    let mut w = World::new();
    let dir = persist_dir("journal");
    let path = dir.join("chain.json");
    let journal = otr_contracts::evm::journal_path(&path);
    w.chain.save(&path).unwrap();
    let snapshot_len = std::fs::metadata(&path).unwrap().len();
    let mut indexes = Vec::new();
    for i in 0..3u8 {
        let t = synth_trace(1 + i as u32, None);
        w.chain.advance(7, 2);
        let p = w.post_receipts(vec![receipt(&t.trace, 1 + i, 5, WEIGHTS_ROOT, T0)]);
        indexes.push(p.index);
        let before = std::fs::metadata(&journal).unwrap().len();
        w.chain.save(&path).unwrap();
        let added = std::fs::metadata(&journal).unwrap().len() - before;
        // The snapshot is untouched; the journal grew by one line much smaller than the state.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), snapshot_len);
        assert!(
            added > 0 && added * 10 < snapshot_len,
            "{added} vs {snapshot_len}"
        );
        let c2 = Chain::load(&path).unwrap();
        assert_eq!(c2.state_fingerprint(), w.chain.state_fingerprint());
        assert_eq!(
            (c2.block_number(), c2.timestamp()),
            (w.chain.block_number(), w.chain.timestamp())
        );
    }
    // A loaded chain continues the same journal, and a second load sees its appends.
    let mut c2 = Chain::load(&path).unwrap();
    c2.set_balance(Address::repeat_byte(0x42), U256::from(5u64));
    c2.save(&path).unwrap();
    let c3 = Chain::load(&path).unwrap();
    assert_eq!(c3.balance(Address::repeat_byte(0x42)), U256::from(5u64));
    assert_eq!(c3.state_fingerprint(), c2.state_fingerprint());
    for i in indexes {
        assert!(w.d.batch(&mut Chain::load(&path).unwrap(), i).is_ok());
    }
}

#[test]
fn a_torn_journal_line_is_dropped_and_a_stale_journal_ignored() {
    let mut w = World::new();
    let dir = persist_dir("torn");
    let path = dir.join("chain.json");
    let journal = otr_contracts::evm::journal_path(&path);
    w.chain.save(&path).unwrap();
    let t = synth_trace(1, None);
    w.post_receipts(vec![receipt(&t.trace, 1, 5, WEIGHTS_ROOT, T0)]);
    w.chain.save(&path).unwrap();
    let saved = w.chain.state_fingerprint();
    // A crash in the middle of the next append leaves half a line.
    w.chain
        .set_balance(Address::repeat_byte(7), U256::from(9u64));
    w.chain.save(&path).unwrap();
    let full = std::fs::read(&journal).unwrap();
    let cut = full.len() - 10;
    std::fs::write(&journal, &full[..cut]).unwrap();
    let mut c = Chain::load(&path).unwrap();
    assert_eq!(c.state_fingerprint(), saved);
    assert_eq!(c.balance(Address::repeat_byte(7)), U256::ZERO);
    // The next save does not append after the torn bytes: it writes a new snapshot.
    c.set_balance(Address::repeat_byte(8), U256::from(1u64));
    c.save(&path).unwrap();
    let c2 = Chain::load(&path).unwrap();
    assert_eq!(c2.state_fingerprint(), c.state_fingerprint());
    // A journal that names another snapshot (a compaction interrupted after its new snapshot
    // was in place) is ignored.
    std::fs::write(&journal, &full).unwrap();
    let c3 = Chain::load(&path).unwrap();
    assert_eq!(c3.state_fingerprint(), c.state_fingerprint());
    // A corrupt complete line is an error, not a silent loss.
    let mut c4 = Chain::load(&path).unwrap();
    c4.save(&path).unwrap(); // the stale journal is replaced: a new snapshot
    c4.set_balance(Address::repeat_byte(9), U256::from(1u64));
    c4.save(&path).unwrap(); // appended
    assert_eq!(
        Chain::load(&path).unwrap().balance(Address::repeat_byte(9)),
        U256::from(1u64)
    );
    let mut j = std::fs::read(&journal).unwrap();
    let n = j.len();
    j[n - 5] = b'#';
    std::fs::write(&journal, &j).unwrap();
    assert!(matches!(
        Chain::load(&path),
        Err(otr_contracts::evm::PersistError::Format(_))
    ));
}

#[test]
fn a_journal_grown_past_the_snapshot_is_compacted_into_a_new_snapshot() {
    let mut w = World::new();
    let dir = persist_dir("compact");
    let path = dir.join("chain.json");
    let journal = otr_contracts::evm::journal_path(&path);
    w.chain.save(&path).unwrap();
    let first = std::fs::read(&path).unwrap();
    let mut compacted = false;
    for i in 0..400u64 {
        for k in 0..64u8 {
            w.chain
                .set_balance(Address::with_last_byte(k), U256::from(i + 1));
        }
        w.chain.save(&path).unwrap();
        if std::fs::read(&path).unwrap() != first {
            compacted = true;
            break;
        }
    }
    assert!(compacted, "the snapshot was never rewritten");
    // Right after a compaction the journal holds only its header line.
    let j = std::fs::read(&journal).unwrap();
    assert_eq!(j.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(
        Chain::load(&path).unwrap().state_fingerprint(),
        w.chain.state_fingerprint()
    );
}

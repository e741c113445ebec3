//! The settlement gas report (docs/BENCHMARKS.md "Settlement gas"). Run:
//! `cargo test -p otr-contracts --test contracts gas_report -- --nocapture`

use crate::common::*;
use crate::groth16::muladd;
use otr_contracts::bindings::rewards::Rewards;
use otr_contracts::deploy::Params;
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Bytes, U256};

/// A trace of `n` leaves (contents do not matter for the bisection's gas).
fn big_trace(n: u32) -> Trace {
    Trace::new(
        (0..n)
            .map(|i| {
                trace_leaf(
                    i / 300,
                    ((i % 300) / 16) as u16,
                    (i % 16) as u8,
                    &i.to_le_bytes(),
                )
            })
            .collect(),
    )
}

#[test]
fn gas_report() {
    let mut lines = vec!["| operation | gas |".to_string(), "|---|---:|".to_string()];
    // Batch posts.
    let t = synth_trace(1, None);
    let mut post = Vec::new();
    for n in [1usize, 16, 64, 256, 1024] {
        let mut w = World::new();
        let lists = vec![vec![receipt(&t.trace, 1, 10, WEIGHTS_ROOT, T0)]; n];
        let p = w.post(lists);
        post.push((n, p.gas));
        lines.push(format!(
            "| postBatch, {n} headers ({} bytes calldata) | {} ({} per header) |",
            n * 113,
            p.gas,
            p.gas / n as u64
        ));
    }
    // Disputes on a 65,536-step trace.
    let mut w = World::new();
    let trace = big_trace(1 << 16);
    let p = w.post_receipts(vec![receipt(&trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let (id, open) =
        w.d.open_dispute(
            &mut w.chain,
            w.challenger,
            &p.receipt_ref(0, 0),
            w.params.min_bond,
        )
        .unwrap();
    lines.push(format!(
        "| openDispute (receipt + header + batch inclusion) | {} |",
        open.gas_used
    ));
    let (mut bis, mut resp, mut rounds) = (0u64, 0u64, 0u64);
    let mut other = trace.clone();
    // The challenger disagrees from leaf 40,000 on.
    other = Trace::new(
        (0..other.len())
            .map(|i| {
                if i >= 40_000 {
                    trace_leaf(9, 9, 9, &[1])
                } else {
                    other.leaf(i).to_vec()
                }
            })
            .collect(),
    );
    loop {
        let d = w.d.dispute(&mut w.chain, id).unwrap();
        if d.disagreeSize - d.agreeSize <= 1 {
            break;
        }
        bis +=
            w.d.bisect(&mut w.chain, w.node, id, &trace)
                .unwrap()
                .gas_used;
        resp +=
            w.d.respond(&mut w.chain, w.challenger, id, &other)
                .unwrap()
                .1
                .gas_used;
        rounds += 1;
    }
    lines.push(format!(
        "| dispute round on a 65,536-step trace (bisect + respond), mean of {rounds} | {} ({} + {}) |",
        (bis + resp) / rounds,
        bis / rounds,
        resp / rounds
    ));
    w.chain.advance(w.params.move_timeout, 1);
    let to = w.d.timeout(&mut w.chain, w.other, id).unwrap();
    lines.push(format!(
        "| timeout (resolution with slashing) | {} |",
        to.gas_used
    ));
    // One-step by on-chain recomputation (8-element wide add) at the end of a full game.
    let mut w = World::new();
    let st = synth_trace(2, None);
    let p = w.post_receipts(vec![receipt(&st.trace, 1, 10, WEIGHTS_ROOT, T0)]);
    let id = w.dispute_first(&p);
    crate::lifecycle::play_to_one_step(&mut w, id, &st, &st);
    let last = st.trace.len() - 1;
    let (ins, wit) = st.resid_witness(last);
    let ps =
        w.d.prove_step(&mut w.chain, w.node, id, &st.trace, &ins, wit)
            .unwrap();
    lines.push(format!(
        "| proveStep, residual add recomputed on-chain (8 x i64) | {} |",
        ps.gas_used
    ));
    // Groth16.
    let mut m = muladd();
    let (ok, g) = m.verify(m.proof, m.inputs.clone());
    assert!(ok);
    lines.push(format!(
        "| Groth16 verifyProof (generated verifier, 2 public inputs), whole transaction | {g} |"
    ));
    // Rewards: registerWork for a micro-batch of 16 receipts.
    let mut w = World::with_params(Params {
        rho_ppm: 0,
        ..Params::devnet()
    });
    let rs: Vec<_> = (0..16)
        .map(|i| receipt(&t.trace, i, 10, WEIGHTS_ROOT, T0))
        .collect();
    let p = w.post_receipts(rs.clone());
    w.chain.advance(w.params.challenge_window, 3);
    let sg = w.d.record_seed(&mut w.chain, w.other, p.index);
    assert!(sg.is_ok());
    w.chain.advance(w.params.proof_window, 1);
    let call = Rewards::registerWorkCall {
        batchIndex: p.index,
        headerIndex: 0,
        header: Bytes::from(p.headers[0].encode()),
        headerPath: vec![],
        receipts: rs
            .iter()
            .flat_map(|r| r.encode())
            .collect::<Vec<u8>>()
            .into(),
    };
    let (_, rw) = host::send(&mut w.chain, w.node, w.d.rewards, &call, U256::ZERO).unwrap();
    lines.push(format!(
        "| registerWork, one micro-batch of 16 receipts | {} ({} per receipt) |",
        rw.gas_used,
        rw.gas_used / 16
    ));
    println!("{}", lines.join("\n"));
    for (n, g) in post {
        for r in [4u64, 16] {
            println!(
                "post per receipt: {n} headers x {r} receipts: {}",
                g / (n as u64 * r)
            );
        }
    }
}

//! `AttnStepVerifier`: attention recomputed on-chain over the visible KV cache (sliding window
//! of local layers), checked on real `ATTN` steps of both fixture models, against the engine's
//! `ops::attend` on edge cases, and the gas of Gemma 3 270M-sized steps for several context
//! lengths: `cargo test -p otr-contracts --test contracts attn_gas -- --nocapture`.

use crate::act::{
    changed_output_leaf, gemma, gemma_270m_config, llama, prove_last_leaf, stages, Bed, PROMPT,
};
use crate::common::*;
use otr_contracts::bindings::attn_step::AttnStepVerifier;
use otr_contracts::deploy::attn_step_witness;
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Bytes, U256};
use otr_engine::fixed::Act16;
use otr_engine::model::ops;
use otr_engine::model::trace::{layer_op, leaf, StepKey};
use otr_engine::{tables, Config, Kernel, Model, Sampling};
use sha2::{Digest, Sha256};

/// One real `ATTN` step: its leaf, its `1 + 2 cnt` input leaves, the witness parts.
#[derive(Clone)]
struct Case {
    out_leaf: Vec<u8>,
    in_leaves: Vec<Vec<u8>>,
    q: Vec<u8>,
    ks: Vec<u8>,
    vs: Vec<u8>,
    output: Vec<u8>,
    lo: u32,
}

impl Case {
    fn witness(&self, m: &Model) -> Vec<u8> {
        attn_step_witness(
            m.config().canonical().as_bytes(),
            &self.q,
            &self.ks,
            &self.vs,
            &tables::exp2_table_bytes(),
        )
    }
}

fn window_start(cfg: &Config, l: usize, pos: u32) -> u32 {
    if cfg.is_global(l) || cfg.sliding_window == 0 {
        0
    } else {
        (pos + 1).saturating_sub(cfg.sliding_window as u32)
    }
}

fn case(m: &Model, key: StepKey) -> Case {
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
    let digest = |k: StepKey| steps.iter().find(|x| x.0 == k).expect("step").1;
    let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
    let rec = m.step_input(PROMPT, &s, index).unwrap();
    assert_eq!(rec.key, key);
    m.replay_step(&rec).unwrap();
    let lo = window_start(m.config(), key.stage as usize - 1, key.pos);
    let k = |pos, op| StepKey {
        pos,
        stage: key.stage,
        op,
    };
    let mut in_leaves = vec![leaf(
        k(key.pos, layer_op::Q_ROPE),
        &digest(k(key.pos, layer_op::Q_ROPE)),
    )];
    for op in [layer_op::K_ROPE, layer_op::V_CACHE] {
        for j in lo..=key.pos {
            in_leaves.push(leaf(k(j, op), &digest(k(j, op))));
        }
    }
    Case {
        out_leaf: leaf(key, &digest(key)),
        in_leaves,
        q: rec.inputs[0].bytes(),
        ks: rec.inputs[1].bytes(),
        vs: rec.inputs[2].bytes(),
        output: rec.output.bytes(),
        lo,
    }
}

#[test]
fn attn_verifier_accepts_real_steps_of_both_models_and_rejects_wrong_ones() {
    for m in [gemma(), llama()] {
        let cfg = m.config().clone();
        let mut bed = Bed::new(&cfg, m.info().weights_root);
        let v = bed
            .d
            .set_attn_verifier(
                &mut bed.chain,
                bed.model_id,
                tables::exp2_table_digest(),
                limits(&cfg),
            )
            .unwrap();
        let mut windowed = false;
        for pos in [0, 1, PROMPT.len() as u32 - 1, PROMPT.len() as u32] {
            for stage in stages(&cfg) {
                let key = StepKey {
                    pos,
                    stage,
                    op: layer_op::ATTN,
                };
                let c = case(m, key);
                windowed |= c.lo > 0;
                let w = c.witness(m);
                assert!(bed.verify(v, &c.out_leaf, &c.in_leaves, &w), "{key:?}");
                let bad = changed_output_leaf(key, &c.output);
                assert!(!bed.verify(v, &bad, &c.in_leaves, &w), "{key:?}: output");
            }
        }
        // The tiny Gemma's local layers have a window of 4: the last positions see part of
        // the cache only.
        assert_eq!(windowed, cfg.sliding_window > 0 && cfg.global_every != 1);
        let pos = PROMPT.len() as u32;
        let local = (1..=cfg.n_layers as u16).find(|&s| !cfg.is_global(s as usize - 1));
        let stage = local.unwrap_or(1);
        let key = StepKey {
            pos,
            stage,
            op: layer_op::ATTN,
        };
        let c = case(m, key);
        let w = c.witness(m);
        let n = c.in_leaves.len();
        let cnt = (n - 1) / 2;
        let row = c.ks.len() / cnt;
        let rejects = |bed: &mut Bed, ins: &[Vec<u8>], w: &[u8], what: &str| {
            assert!(!bed.verify(v, &c.out_leaf, ins, w), "{what}");
        };
        // One key leaf less (and its tensor), keys and values swapped, two keys swapped.
        let mut ins = c.in_leaves.clone();
        ins.remove(1);
        ins.remove(cnt);
        let w1 = attn_step_witness(
            cfg.canonical().as_bytes(),
            &c.q,
            &c.ks[row..],
            &c.vs[row..],
            &tables::exp2_table_bytes(),
        );
        rejects(&mut bed, &ins, &w1, "a position less");
        let mut ins = c.in_leaves.clone();
        ins[1..].rotate_left(cnt);
        let ws = attn_step_witness(
            cfg.canonical().as_bytes(),
            &c.q,
            &c.vs,
            &c.ks,
            &tables::exp2_table_bytes(),
        );
        rejects(&mut bed, &ins, &ws, "keys and values swapped");
        if cnt > 1 {
            let mut ins = c.in_leaves.clone();
            ins.swap(1, 2);
            let mut ks = c.ks.clone();
            ks[..2 * row].rotate_left(row);
            let wk = attn_step_witness(
                cfg.canonical().as_bytes(),
                &c.q,
                &ks,
                &c.vs,
                &tables::exp2_table_bytes(),
            );
            rejects(&mut bed, &ins, &wk, "two keys swapped");
        }
        // The query of another position (same digest under another key); a changed key value.
        let mut ins = c.in_leaves.clone();
        ins[0] = leaf(
            StepKey {
                pos: pos - 1,
                stage,
                op: layer_op::Q_ROPE,
            },
            c.in_leaves[0][25..57].try_into().unwrap(),
        );
        rejects(&mut bed, &ins, &w, "query of another position");
        let mut ks = c.ks.clone();
        ks[6] ^= 1;
        let wk = attn_step_witness(
            cfg.canonical().as_bytes(),
            &c.q,
            &ks,
            &c.vs,
            &tables::exp2_table_bytes(),
        );
        rejects(&mut bed, &c.in_leaves, &wk, "changed key value");
        // A changed table entry; a verifier deployed with another table digest.
        let mut t = tables::exp2_table_bytes();
        t[80] ^= 1;
        let wt = attn_step_witness(cfg.canonical().as_bytes(), &c.q, &c.ks, &c.vs, &t);
        rejects(&mut bed, &c.in_leaves, &wt, "changed table");
        let other = bed
            .d
            .set_attn_verifier(&mut bed.chain, bed.model_id, [9; 32], limits(&cfg))
            .unwrap();
        assert!(!bed.verify(other, &c.out_leaf, &c.in_leaves, &w));
        // A config without the window (every layer global) asks for more leaves: not the
        // registered config either.
        if c.lo > 0 {
            let mut g = cfg.clone();
            g.global_every = 1;
            let wg = attn_step_witness(
                g.canonical().as_bytes(),
                &c.q,
                &c.ks,
                &c.vs,
                &tables::exp2_table_bytes(),
            );
            rejects(&mut bed, &c.in_leaves, &wg, "another config");
        }
    }
}

fn act16(r: &mut otr_engine::rng::SplitMix, n: usize, exp: i32, extreme: bool) -> Act16 {
    let mut q: Vec<i16> = (0..n).map(|_| (r.next() >> 48) as i16).collect();
    if extreme {
        q[0] = i16::MAX;
        q[n - 1] = i16::MIN;
    }
    Act16 { q, exp }
}

#[test]
fn attn_arithmetic_equals_the_engine_on_edge_cases() {
    let m = gemma();
    let mut bed = Bed::new(m.config(), m.info().weights_root);
    let v = bed
        .d
        .set_attn_verifier(
            &mut bed.chain,
            bed.model_id,
            tables::exp2_table_digest(),
            limits(m.config()),
        )
        .unwrap();
    let table = tables::exp2_table_bytes();
    let mut r = otr_engine::rng::SplitMix(23);
    for i in 0..20 {
        let kv = 1 + (r.next() % 2) as usize;
        let heads = kv * (1 + (r.next() % 2) as usize);
        let hd = [1usize, 8, 16, 20, 32, 48][i % 6];
        let cnt = 1 + (r.next() % 6) as usize;
        // Exponents over the engine's whole range; every fourth case with extremes.
        let exp = |r: &mut otr_engine::rng::SplitMix| (r.next() % 65) as i32 - 32;
        let ext = i % 4 == 0;
        let q: Vec<Act16> = (0..heads)
            .map(|_| {
                let e = exp(&mut r);
                act16(&mut r, hd, e, ext)
            })
            .collect();
        let ks: Vec<Act16> = (0..cnt * kv)
            .map(|_| {
                let e = if ext { 32 } else { exp(&mut r) };
                act16(&mut r, hd, e, ext)
            })
            .collect();
        let vs: Vec<Act16> = (0..cnt * kv)
            .map(|_| {
                let e = if i % 4 == 1 { -32 } else { exp(&mut r) };
                act16(&mut r, hd, e, ext)
            })
            .collect();
        let cfg_scale = otr_engine::fixed::isqrt_u128((1u128 << 64) / hd as u128) as i64;
        let group = heads / kv;
        let mut want = Vec::new();
        for (h, qh) in q.iter().enumerate() {
            let kh: Vec<&Act16> = ks.iter().skip(h / group).step_by(kv).collect();
            let vh: Vec<&Act16> = vs.iter().skip(h / group).step_by(kv).collect();
            want.extend(ops::attend(Kernel::Scalar, qh, &kh, &vh, cfg_scale));
        }
        let bytes = |v: &[Act16]| v.iter().flat_map(Act16::bytes).collect::<Vec<u8>>();
        let got = host::view(
            &mut bed.chain,
            v,
            &AttnStepVerifier::attendCall {
                q: Bytes::from(bytes(&q)),
                ks: Bytes::from(bytes(&ks)),
                vs: Bytes::from(bytes(&vs)),
                table: Bytes::from(table.clone()),
                heads: U256::from(heads),
                kvHeads: U256::from(kv),
                hd: U256::from(hd),
            },
        )
        .unwrap();
        assert!(got._0, "case {i}");
        let got: Vec<i64> = got.y.iter().map(|v| i64::try_from(*v).unwrap()).collect();
        assert_eq!(
            got, want,
            "case {i}: heads {heads} kv {kv} hd {hd} cnt {cnt}"
        );
    }
    // An exponent outside the engine's range is refused.
    let q = vec![Act16 {
        q: vec![1; 16],
        exp: 33,
    }];
    let k = vec![Act16 {
        q: vec![1; 16],
        exp: 0,
    }];
    let b = |v: &[Act16]| Bytes::from(v.iter().flat_map(Act16::bytes).collect::<Vec<u8>>());
    let got = host::view(
        &mut bed.chain,
        v,
        &AttnStepVerifier::attendCall {
            q: b(&q),
            ks: b(&k),
            vs: b(&k),
            table: Bytes::from(table),
            heads: U256::from(1),
            kvHeads: U256::from(1),
            hd: U256::from(16),
        },
    )
    .unwrap();
    assert!(!got._0);
}

/// `proveStep` of the last leaf of `trace` at the end of a dispute (the challenger's trace
/// differs there), or the error when the transaction fails (out of gas past the cap).
/// The verifier's limits for `cfg` (`AttnLimits::estimate`).
pub(crate) fn limits(cfg: &Config) -> otr_contracts::deploy::AttnLimits {
    otr_contracts::deploy::AttnLimits::estimate(
        cfg.n_heads as u64,
        cfg.head_dim as u64,
        cfg.context_len as u64,
        cfg.sliding_window as u64,
        cfg.global_every as u64,
    )
}

fn prove_last(
    cfg: &Config,
    trace: &Trace,
    in_idx: &[u64],
    witness: Vec<u8>,
) -> Result<u64, String> {
    prove_last_leaf(cfg, [0x77; 32], trace, in_idx, witness, |w| {
        w.d.set_attn_verifier(
            &mut w.chain,
            MODEL_ID,
            tables::exp2_table_digest(),
            limits(cfg),
        )
        .unwrap();
    })
}

/// Gas of Gemma 3 270M-sized `ATTN` steps (4 query heads and 1 kv head of 256, a global
/// layer: every earlier position visible) proven at the end of a dispute, for several context
/// lengths. The trace holds every step of the 18 layers up to the attention step (289 leaves
/// per position), so the input leaves' audit paths have a real trace's length. Values of real
/// magnitudes (Act16 exponents -20..-10); the same key at every position, so that every
/// position's weight is 1 and every value is summed: the most work a step of that length can
/// take (a peaked attention skips the values whose weight rounds to 0, and costs less). Prints table rows for docs/BENCHMARKS.md; a length
/// whose transaction runs out of gas under the 16M cap, or whose calldata alone is over it,
/// prints that.
#[test]
fn attn_gas() {
    let cfg = gemma_270m_config();
    let (hd, heads, kv) = (cfg.head_dim, cfg.n_heads, cfg.n_kv_heads);
    let stage = 6u16; // layer 5: global (global_every 6)
    assert!(cfg.is_global(stage as usize - 1));
    let mut r = otr_engine::rng::SplitMix(29);
    let table = tables::exp2_table_bytes();
    let mut lines = Vec::new();
    for ctx in [8u32, 32, 64, 96, 128, 256] {
        let pos = ctx - 1;
        let mut gen = |n: usize| -> Vec<Act16> {
            (0..n)
                .map(|_| {
                    let e = -10 - (r.next() % 11) as i32;
                    act16(&mut r, hd, e, false)
                })
                .collect()
        };
        let q = gen(heads);
        // The most work: one key at every position (equal scores, so no weight rounds to 0
        // and every value enters the sum), values of one exponent.
        let key = gen(kv);
        let ks: Vec<Vec<Act16>> = (0..ctx).map(|_| key.clone()).collect();
        let vs: Vec<Vec<Act16>> = (0..ctx)
            .map(|_| {
                gen(kv)
                    .into_iter()
                    .map(|a| Act16 { exp: -15, ..a })
                    .collect()
            })
            .collect();
        let bytes = |v: &[Act16]| v.iter().flat_map(Act16::bytes).collect::<Vec<u8>>();
        let scale = cfg.attn_scale_q32();
        let flat_k: Vec<Act16> = ks.iter().flatten().cloned().collect();
        let flat_v: Vec<Act16> = vs.iter().flatten().cloned().collect();
        let mut out = Vec::new();
        for (h, qh) in q.iter().enumerate() {
            let kh: Vec<&Act16> = flat_k.iter().skip(h / (heads / kv)).step_by(kv).collect();
            let vh: Vec<&Act16> = flat_v.iter().skip(h / (heads / kv)).step_by(kv).collect();
            out.extend(ops::attend(Kernel::Scalar, qh, &kh, &vh, scale));
        }
        let out = Act16::from_wide(&out).bytes();
        // Every step of positions 0..=pos in trace order, up to this position's ATTN.
        let mut leaves = Vec::new();
        let mut in_idx = vec![0u64; 1 + 2 * ctx as usize];
        for j in 0..=pos {
            let mut push = |key: StepKey, d: [u8; 32]| {
                leaves.push(leaf(key, &d));
                leaves.len() as u64 - 1
            };
            let filler =
                |key: StepKey| -> [u8; 32] { Sha256::digest(format!("{key:?}").as_bytes()).into() };
            let k0 = StepKey {
                pos: j,
                stage: 0,
                op: otr_engine::model::trace::embed_op::EMBED,
            };
            push(k0, filler(k0));
            for st in 1..=cfg.n_layers as u16 {
                for op in 0..16u8 {
                    let key = StepKey {
                        pos: j,
                        stage: st,
                        op,
                    };
                    if st != stage {
                        push(key, filler(key));
                        continue;
                    }
                    match op {
                        layer_op::Q_ROPE if j == pos => {
                            in_idx[0] = push(key, Sha256::digest(bytes(&q)).into());
                        }
                        layer_op::K_ROPE => {
                            in_idx[1 + j as usize] =
                                push(key, Sha256::digest(bytes(&ks[j as usize])).into());
                        }
                        layer_op::V_CACHE => {
                            in_idx[1 + (ctx + j) as usize] =
                                push(key, Sha256::digest(bytes(&vs[j as usize])).into());
                        }
                        layer_op::ATTN if j == pos => {
                            push(key, Sha256::digest(&out).into());
                        }
                        _ => {
                            push(key, filler(key));
                        }
                    }
                    if j == pos && op == layer_op::ATTN {
                        break;
                    }
                }
                if j == pos && st == stage {
                    break;
                }
            }
        }
        let trace = Trace::new(leaves);
        let w = attn_step_witness(
            cfg.canonical().as_bytes(),
            &bytes(&q),
            &bytes(&flat_k),
            &bytes(&flat_v),
            &table,
        );
        let wlen = w.len();
        let depth = in_idx
            .iter()
            .map(|&i| trace.path(i, trace.len() - 1).len())
            .max()
            .unwrap();
        let gas = match prove_last(&cfg, &trace, &in_idx, w) {
            Ok(g) => g.to_string(),
            Err(e) => format!("over the 16,000,000 cap ({e})"),
        };
        lines.push(format!(
            "| `proveStep`, ATTN (4 heads x 256, 1 kv head), {ctx} visible positions, {} input leaves with paths of up to {depth} ({wlen} bytes witness) | {gas} |",
            1 + 2 * ctx,
        ));
        eprintln!("{}", lines.last().unwrap());
    }
    for l in &lines {
        println!("{l}");
    }
}

/// The attention verifier's proof limit (`AttnLimits::estimate`, 90 visible positions at Gemma 3
/// 270M size, where 96 were measured to fit): `byProof` says which steps a proof settles; a
/// step seeing more positions is settled by a claim (tests in `attn_claim.rs`), so at no length
/// can the node end the dispute with no contest (`HasStepVerifier`).
#[test]
fn attention_past_the_proof_limit_is_claimed_not_unprovable() {
    let cfg = crate::act::gemma_270m_config();
    let l = limits(&cfg);
    assert_eq!(l.max_visible, 90);
    let stage = (1..=cfg.n_layers as u16)
        .find(|&s| cfg.is_global(s as usize - 1))
        .unwrap();
    for (pos, by_proof) in [(7u32, true), (89, true), (90, false), (127, false)] {
        let key = StepKey {
            pos,
            stage,
            op: layer_op::ATTN,
        };
        let (trace, _) = in_layout(&[leaf(key, &[0x33; 32])], pos + 1, cfg.n_layers as u16);
        let theirs = last_leaf_changed(&trace);
        let mut w = World::new();
        let reg = w.d.registry;
        w.owner_send(
            reg,
            &otr_contracts::bindings::model_registry::ModelRegistry::registerModelCall {
                modelId: MODEL_ID.into(),
                m: crate::act::model_entry(&cfg, [0x77; 32]),
                vks: vec![],
            },
        );
        let v =
            w.d.set_attn_verifier(&mut w.chain, MODEL_ID, tables::exp2_table_digest(), l)
                .unwrap();
        let mut r = receipt(&trace, 1, 10, [0x77; 32], T0);
        r.prompt_tokens = pos + 1;
        let p = w.post_receipts(vec![r]);
        let id = w.dispute_first(&p);
        w.bisect_to_one_step(id, &trace, &theirs);
        let proof: bool = host::view(
            &mut w.chain,
            v,
            &AttnStepVerifier::byProofCall {
                modelId: MODEL_ID.into(),
                outLeaf: trace.leaf(trace.len() - 1).to_vec().into(),
            },
        )
        .unwrap();
        assert_eq!(proof, by_proof, "pos {pos}");
        let has: bool = host::view(
            &mut w.chain,
            w.d.dispute_game,
            &otr_contracts::bindings::dispute_game::DisputeGame::hasStepProofCall {
                modelId: MODEL_ID.into(),
                outLeaf: trace.leaf(trace.len() - 1).to_vec().into(),
                temperatureMilli: 0,
            },
        )
        .unwrap();
        assert!(has, "pos {pos}");
        let e =
            w.d.declare_unprovable(&mut w.chain, w.node, id, &trace)
                .fails();
        assert!(e.is("HasStepVerifier"), "pos {pos}: {e}");
    }
}

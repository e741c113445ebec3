//! The attention unit circuit (`zk/src/circuit/attn.rs`): completeness on real `ATTN` steps of
//! both fixture models (every head), exact agreement with the engine (`ops::attend`) on random
//! heads with extreme exponents, values and scales, and soundness (wrong output element, wrong
//! maximum, wrong rounding at a tie, wrong division remainders, wrong commitments).
//! `cargo test -p otr-zk --test attn` (the dev profile optimizes otr-zk; about a minute).

use otr_engine::fixed::{div_rne, rshift_rne, shift_sat, Act16};
use otr_engine::model::ops;
use otr_engine::model::trace::layer_op;
use otr_engine::tables::{exp_neg_wide, tables, LOG2E_Q30};
use otr_engine::{Kernel, LoadOptions, Model, Sampling, StepKey, StepTensor};
use otr_zk::attn::{
    self, check_attn_witness, prove_attn_unit, prove_attn_witness, verify_attn_unit, AttnHead,
    AttnShape, AttnStatement, AttnTamper, AttnWitness,
};
use otr_zk::prove::prepared_vk;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const PROMPT: &[u32] = &[2, 40, 77, 91, 120];

fn load(name: &str) -> Model {
    let opts = LoadOptions {
        threads: 1,
        kernel: Kernel::Scalar,
        verbose: false,
    };
    otr_engine::fixture::load(name, opts).unwrap()
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A real `ATTN` step of a fixture model: its three input tensors' bytes and its output.
struct Step {
    q: Vec<u8>,
    k: Vec<u8>,
    v: Vec<u8>,
    out: Act16,
    positions: usize,
}

fn attn_step(m: &Model, stage: u16, pos: u32) -> Step {
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
    let key = StepKey {
        pos,
        stage,
        op: layer_op::ATTN,
    };
    let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
    let rec = m.step_input(PROMPT, &s, index).unwrap();
    assert_eq!(rec.key, key);
    m.replay_step(&rec).unwrap();
    assert_eq!(rec.output.digest(), steps[index as usize].1);
    let out = match &rec.output {
        StepTensor::Act(a) => a.clone(),
        other => panic!("not an Act16: {other:?}"),
    };
    let nkv = m.config().n_kv_heads;
    let positions = match &rec.inputs[1] {
        StepTensor::Acts(v) => v.len() / nkv,
        other => panic!("not Acts: {other:?}"),
    };
    Step {
        q: rec.inputs[0].bytes(),
        k: rec.inputs[1].bytes(),
        v: rec.inputs[2].bytes(),
        out,
        positions,
    }
}

fn head_of(m: &Model, head: usize) -> AttnHead {
    let c = m.config();
    AttnHead {
        n_heads: c.n_heads,
        n_kv_heads: c.n_kv_heads,
        head,
    }
}

#[test]
fn real_heads_of_both_models_equal_the_engine_and_a_gemma_head_proves() {
    for (name, stage, pos) in [("tiny-gemma3", 1u16, 4u32), ("tiny-llama", 2, 5)] {
        let m = load(name);
        let cfg = m.config();
        let st = attn_step(&m, stage, pos);
        let shape = AttnShape::new(cfg.head_dim, st.positions).unwrap();
        let scale = cfg.attn_scale_q32();
        // Every head's reference output, quantized together, is the step's output.
        let mut all = Vec::new();
        let mut heads = Vec::new();
        for h in 0..cfg.n_heads {
            let (q, ks, vs) =
                AttnStatement::head_inputs(&shape, head_of(&m, h), &st.q, &st.k, &st.v).unwrap();
            let out = attn::reference(&q, &ks, &vs, scale);
            all.extend_from_slice(&out);
            heads.push((q, ks, vs, out));
        }
        assert_eq!(Act16::from_wide(&all), st.out, "{name}");
        let out_bytes = st.out.bytes();
        for (h, (q, ks, vs, out)) in heads.iter().enumerate() {
            let w = AttnWitness::new(q, ks, vs, scale).unwrap();
            assert_eq!(&w.out, out);
            let from_trace = AttnStatement::from_trace(
                &shape,
                head_of(&m, h),
                scale,
                &st.q,
                &st.k,
                &st.v,
                &out_bytes,
                out,
            )
            .unwrap();
            assert_eq!(from_trace, w.statement);
            assert!(check_attn_witness(w).unwrap(), "{name} head {h}");
        }
        if name != "tiny-gemma3" {
            continue;
        }
        let (q, ks, vs, out) = &heads[1];
        let pk = &attn::initial_key_insecure(shape).unwrap();
        let vk = prepared_vk(pk).unwrap();
        let p = prove_attn_unit(pk, q, ks, vs, scale, &mut rng(1)).unwrap();
        assert_eq!(&p.outputs, out);
        let good = AttnStatement::from_trace(
            &shape,
            head_of(&m, 1),
            scale,
            &st.q,
            &st.k,
            &st.v,
            &out_bytes,
            &p.outputs,
        )
        .unwrap();
        assert_eq!(p.statement, good);
        verify_attn_unit(&vk, &good, &p.proof).unwrap();
        let bad = |s: AttnStatement| {
            let e = verify_attn_unit(&vk, &s, &p.proof).unwrap_err();
            assert_eq!(e.code(), "PROOF_INVALID");
        };
        // Another head's query; a changed value; another scale; a changed output.
        bad(AttnStatement {
            q_commitment: attn::q_commitment(&heads[0].0),
            ..good
        });
        let mut vs2 = vs.clone();
        vs2[0].q[3] ^= 1;
        bad(AttnStatement {
            kv_commitment: attn::kv_commitment(ks, &vs2),
            ..good
        });
        bad(AttnStatement {
            scale: scale + 1,
            ..good
        });
        let mut out2 = out.clone();
        out2[5] += 1;
        bad(AttnStatement {
            output_commitment: otr_zk::commit::output_commitment(&out2),
            ..good
        });
        // A wrong output is refused before proving, and by the trace check.
        let w = AttnWitness::claim(q, ks, vs, scale, &out2).unwrap();
        let e = prove_attn_witness(pk, w, &mut rng(2)).unwrap_err();
        assert_eq!(e.code(), "ZK_UNSATISFIED");
        let mut far = out.clone();
        far[0] = far[0].wrapping_add(1 << 40);
        let e = AttnStatement::from_trace(
            &shape,
            head_of(&m, 1),
            scale,
            &st.q,
            &st.k,
            &st.v,
            &out_bytes,
            &far,
        )
        .unwrap_err();
        assert_eq!(e.code(), "ZK_SHAPE_INVALID");
        // The trace bytes of another window are refused.
        let e = AttnStatement::head_inputs(
            &AttnShape::new(cfg.head_dim, st.positions + 1).unwrap(),
            head_of(&m, 1),
            &st.q,
            &st.k,
            &st.v,
        )
        .unwrap_err();
        assert_eq!(e.code(), "ZK_SHAPE_INVALID");
    }
}

/// Exponents the engine's `Act16` takes (`[-32, 31]`), the ends most often.
fn exponent(r: &mut ChaCha20Rng) -> i32 {
    const EXPS: [i32; 10] = [-32, -31, -30, -20, -5, 0, 12, 29, 30, 31];
    if r.next_u32().is_multiple_of(2) {
        EXPS[r.next_u32() as usize % EXPS.len()]
    } else {
        (r.next_u32() % 64) as i32 - 32
    }
}

fn value(r: &mut ChaCha20Rng) -> i16 {
    match r.next_u32() % 8 {
        0 => i16::MIN + 1,
        1 => i16::MAX,
        2 => 0,
        3 => (r.next_u32() % 7) as i16 - 3,
        _ => r.next_u32() as i16,
    }
}

fn act(r: &mut ChaCha20Rng, d: usize) -> Act16 {
    Act16 {
        exp: exponent(r),
        q: (0..d).map(|_| value(r)).collect(),
    }
}

fn scale(r: &mut ChaCha20Rng) -> i64 {
    match r.next_u32() % 8 {
        0 => i64::MAX,
        1 => i64::MIN,
        2 => 0,
        3 => -(1 << 31),
        4 => (r.next_u64() as i64) >> 20,
        _ => 758_713_601, // 1/sqrt(32) with 32 fractional bits, about
    }
}

/// What the branches of a case exercise (the engine's intermediate values).
#[derive(Default, Debug)]
struct Seen {
    saturated_scores: usize,
    vanished_weights: usize,
    partial_weights: usize,
    big_value_exponent: usize,
    saturated_outputs: usize,
    negative_shift: usize,
}

fn observe(seen: &mut Seen, q: &Act16, ks: &[Act16], vs: &[Act16], sc: i64, out: &[i64]) {
    let s: Vec<i64> = ks
        .iter()
        .map(|k| shift_sat(ops::dot16(&q.q, &k.q) as i128 * sc as i128, q.exp + k.exp))
        .collect();
    let m = *s.iter().max().unwrap();
    for (&sj, k) in s.iter().zip(ks) {
        seen.saturated_scores += usize::from(sj == i64::MAX || sj == i64::MIN);
        seen.negative_shift += usize::from(q.exp + k.exp < 0);
        let p = exp_neg_wide(sj.saturating_sub(m));
        seen.vanished_weights += usize::from(p == 0);
        seen.partial_weights += usize::from(p > 0 && p < 1 << 30);
    }
    let em = vs.iter().map(|v| v.exp).max().unwrap();
    seen.big_value_exponent += usize::from(em + 32 > 60);
    seen.saturated_outputs += out
        .iter()
        .filter(|&&o| o == i64::MAX || o == i64::MIN)
        .count();
}

#[test]
fn random_heads_with_extreme_exponents_equal_the_engine_and_off_by_one_outputs_fail() {
    let mut r = rng(11);
    let mut seen = Seen::default();
    for case in 0..48 {
        let d = [1usize, 2, 3, 5][case % 4];
        let p = 1 + (r.next_u32() % 5) as usize;
        let q = act(&mut r, d);
        let mut ks: Vec<Act16> = (0..p).map(|_| act(&mut r, d)).collect();
        let vs: Vec<Act16> = (0..p).map(|_| act(&mut r, d)).collect();
        if case % 6 == 5 && p > 1 {
            // A repeated key: equal scores, one of them the maximum.
            ks[p - 1] = ks[0].clone();
        }
        let sc = scale(&mut r);
        let w = AttnWitness::new(&q, &ks, &vs, sc).unwrap();
        observe(&mut seen, &q, &ks, &vs, sc, &w.out);
        assert!(check_attn_witness(w.clone()).unwrap(), "case {case}");
        let i = case % d;
        for delta in [1i64, -1] {
            let mut out = w.out.clone();
            let Some(o) = out[i].checked_add(delta) else {
                continue;
            };
            out[i] = o;
            let bad = AttnWitness::claim(&q, &ks, &vs, sc, &out).unwrap();
            assert!(!check_attn_witness(bad).unwrap(), "case {case} {delta}");
        }
    }
    // The cases reach every branch of the engine's arithmetic.
    assert!(seen.saturated_scores > 0, "{seen:?}");
    assert!(seen.vanished_weights > 0, "{seen:?}");
    assert!(seen.partial_weights > 0, "{seen:?}");
    assert!(seen.big_value_exponent > 0, "{seen:?}");
    assert!(seen.saturated_outputs > 0, "{seen:?}");
    assert!(seen.negative_shift > 0, "{seen:?}");
}

/// Two keys with equal scores (weights `2^30` each, total `2^31`), values at exponent -32:
/// `out = (v0 + v1) / 2`, a tie whenever the sum is odd.
#[test]
fn output_ties_round_half_to_even() {
    let q = Act16 {
        exp: -10,
        q: vec![3, -7],
    };
    let ks = vec![q.clone(), q.clone()];
    for (a, b, want) in [
        (1i16, 2i16, 2i64),
        (1, 0, 0),
        (-1, 0, 0),
        (-3, 0, -2),
        (5, 2, 4),
    ] {
        let vs = vec![
            Act16 {
                exp: -32,
                q: vec![a, 0],
            },
            Act16 {
                exp: -32,
                q: vec![b, 0],
            },
        ];
        let w = AttnWitness::new(&q, &ks, &vs, 1 << 30).unwrap();
        assert_eq!(w.out[0], want, "({a} + {b}) / 2");
        assert!(check_attn_witness(w.clone()).unwrap());
        // The other neighbour of the tie (half away from even) fails.
        let other = if want * 2 > (a + b) as i64 {
            want - 1
        } else {
            want + 1
        };
        let bad = AttnWitness::claim(&q, &ks, &vs, 1 << 30, &[other, 0]).unwrap();
        assert!(
            !check_attn_witness(bad).unwrap(),
            "({a} + {b}) / 2 -> {other}"
        );
    }
}

fn tampered(w: &AttnWitness, t: AttnTamper) -> bool {
    let mut w = w.clone();
    w.tamper = t;
    check_attn_witness(w).unwrap()
}

#[test]
fn dishonest_witnesses_are_unsatisfied() {
    let mut r = rng(5);
    let d = 4;
    let q = act(&mut r, d);
    let q = Act16 { exp: -20, ..q };
    let ks: Vec<Act16> = (0..3)
        .map(|_| Act16 {
            exp: -12,
            ..act(&mut r, d)
        })
        .collect();
    let vs: Vec<Act16> = (0..3)
        .map(|j| Act16 {
            exp: -8 - j,
            ..act(&mut r, d)
        })
        .collect();
    let sc = 758_713_601;
    let w = AttnWitness::new(&q, &ks, &vs, sc).unwrap();
    assert!(check_attn_witness(w.clone()).unwrap());
    assert!(tampered(&w, AttnTamper::None));
    for t in [
        AttnTamper::Max { delta: 1 },
        AttnTamper::Max { delta: -1 },
        AttnTamper::Max {
            delta: i64::MIN / 2,
        },
        AttnTamper::ValueExpMax { delta: 1 },
        AttnTamper::ValueExpMax { delta: -1 },
        AttnTamper::ScoreQuotient { key: 1 },
        AttnTamper::InterpQuotient { key: 2 },
        AttnTamper::WeightQuotient { key: 0 },
        AttnTamper::AlignQuotient { key: 2 },
        AttnTamper::OutQuotient { dim: 3 },
    ] {
        assert!(!tampered(&w, t), "{t:?}");
    }
    // Honest data under another statement: each commitment and the scale.
    let other = AttnWitness::new(&ks[0], &ks, &vs, sc).unwrap().statement;
    for st in [
        AttnStatement {
            q_commitment: other.q_commitment,
            ..w.statement
        },
        AttnStatement {
            kv_commitment: attn::kv_commitment(&vs, &ks),
            ..w.statement
        },
        AttnStatement {
            scale: sc - 1,
            ..w.statement
        },
        AttnStatement {
            output_commitment: other.output_commitment,
            ..w.statement
        },
    ] {
        let mut bad = w.clone();
        bad.statement = st;
        assert!(!check_attn_witness(bad).unwrap());
    }
}

#[test]
fn unsupported_inputs_are_typed_errors_or_unsatisfied() {
    assert_eq!(AttnShape::new(0, 4).unwrap_err().code(), "ZK_SHAPE_INVALID");
    assert_eq!(AttnShape::new(8, 0).unwrap_err().code(), "ZK_SHAPE_INVALID");
    let q = Act16 {
        exp: 0,
        q: vec![1, 2],
    };
    let short = Act16 { exp: 0, q: vec![1] };
    let one = std::slice::from_ref(&q);
    let e = AttnWitness::new(&q, one, &[short], 1).unwrap_err();
    assert_eq!(e.code(), "ZK_SHAPE_INVALID");
    let e = AttnWitness::claim(&q, one, one, 1, &[0]).unwrap_err();
    assert_eq!(e.code(), "ZK_SHAPE_INVALID");
    // Exponents `Act16::from_wide` never makes are outside the circuit: unsatisfied.
    let wild = Act16 {
        exp: 40,
        q: vec![1, 2],
    };
    let w = AttnWitness::new(&q, std::slice::from_ref(&wild), one, 1).unwrap();
    assert!(!check_attn_witness(w).unwrap());
    let shape = AttnShape::new(2, 1).unwrap();
    let head = AttnHead {
        n_heads: 2,
        n_kv_heads: 1,
        head: 2,
    };
    let e =
        AttnStatement::head_inputs(&shape, head, &q.bytes(), &q.bytes(), &q.bytes()).unwrap_err();
    assert_eq!(e.code(), "ZK_SHAPE_INVALID");
}

/// Which roundings of `exp_neg_wide(-dd)` are exact ties: `t = rne(dd LOG2E / 2^30)`, the
/// interpolation `rne((T[i+1] - T[i]) rem / 2^22)`, the shift `rne(x / 2^n)` (for the test's
/// coverage only; the verdicts come from the engine and the circuit).
fn tie_kinds(dd: i64) -> [bool; 3] {
    let a = dd as i128 * LOG2E_Q30 as i128;
    let t_tie = a & ((1 << 30) - 1) == 1 << 29;
    let t = rshift_rne(a, 30) as u64;
    let n = t >> 32;
    if n > 30 {
        return [t_tie, false, false];
    }
    let frac = t & 0xffff_ffff;
    let (i, rem) = ((frac >> 22) as usize, (frac & ((1 << 22) - 1)) as i128);
    let tab = &tables().exp2_neg;
    let prod = (tab[i + 1] - tab[i]) as i128 * rem;
    let x = tab[i] as i128 + rshift_rne(prod, 22);
    let shift_tie = n >= 1 && x.rem_euclid(1 << n) == 1 << (n - 1);
    [t_tie, prod.rem_euclid(1 << 22) == 1 << 21, shift_tie]
}

/// Score differences `dd` whose weight `exp_neg_wide(-dd)` meets each kind of tie.
fn tie_differences() -> Vec<i64> {
    let mut r = rng(3);
    let mut found: Vec<i64> = Vec::new();
    let mut count = [0usize; 3];
    // Ties of t: dd LOG2E = 2^29 mod 2^30, i.e. dd = 2^29 mod 2^30 (LOG2E_Q30 is odd).
    for k in [0i64, 1, 5, 40] {
        found.push((1 << 29) + (k << 30));
    }
    // Ties of the interpolation: aim at a t whose remainder times the table step is 2^21 mod
    // 2^22, then find the dd that rounds to it.
    while count[1] < 4 {
        let n = (r.next_u32() % 20) as u64;
        let i = (r.next_u32() % 1024) as u64;
        let tab = &tables().exp2_neg;
        let step = tab[i as usize + 1] - tab[i as usize];
        let e = step.trailing_zeros();
        if e > 21 {
            continue;
        }
        let rem = (1u64 << (21 - e)) * (2 * (r.next_u32() as u64 % (1 << e.min(20))) + 1);
        if rem >= 1 << 22 {
            continue;
        }
        let t = (n << 32) + (i << 22) + rem;
        let guess = ((t as i128) << 30) / LOG2E_Q30 as i128;
        for dd in guess - 2..=guess + 2 {
            if rshift_rne(dd * LOG2E_Q30 as i128, 30) == t as i128 && tie_kinds(dd as i64)[1] {
                found.push(dd as i64);
                count[1] += 1;
                break;
            }
        }
    }
    // Ties of the shift: frequent (x odd at n = 1, ...).
    while count[2] < 4 {
        let dd = (r.next_u64() >> 28) as i64;
        if tie_kinds(dd)[2] {
            found.push(dd);
            count[2] += 1;
        }
    }
    found
}

/// Two keys whose scores differ by `dd` (`scale = dd`, keys `[1]` and `[0]`), values `[0]` and
/// `[1]` at exponent 28: `out = rne(p 2^60 / (2^30 + p))` with `p = exp_neg_wide(-dd)`, so every
/// change of the weight changes the output by about 2^29.
#[test]
fn weights_at_rounding_ties_equal_the_engine() {
    let one = |x: i16, exp: i32| Act16 { exp, q: vec![x] };
    let q = one(1, 0);
    let ks = vec![one(1, 0), one(0, 0)];
    let vs = vec![one(0, 28), one(1, 28)];
    let mut kinds = [0usize; 3];
    for dd in tie_differences() {
        for (k, hit) in tie_kinds(dd).into_iter().enumerate() {
            kinds[k] += usize::from(hit);
        }
        let w = AttnWitness::new(&q, &ks, &vs, dd).unwrap();
        let p = exp_neg_wide(-dd);
        assert_eq!(
            w.out[0] as i128,
            div_rne((p as i128) << 60, (1 << 30) + p as i128)
        );
        assert!(check_attn_witness(w.clone()).unwrap(), "dd {dd}");
        // The outputs of the weight rounded the other way (one up, one down) fail.
        for alt in [p - 1, p + 1] {
            let out = div_rne((alt as i128) << 60, (1 << 30) + alt as i128) as i64;
            assert_ne!(out, w.out[0]);
            let bad = AttnWitness::claim(&q, &ks, &vs, dd, &[out]).unwrap();
            assert!(!check_attn_witness(bad).unwrap(), "dd {dd} weight {alt}");
        }
    }
    assert!(kinds.iter().all(|&k| k >= 4), "{kinds:?}");
}

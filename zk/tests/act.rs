//! The ACT unit circuit (`zk/src/circuit/act.rs`): completeness on real steps of both fixture
//! models, exact agreement with the engine (`ops::gated`, `Act16::from_wide`) on edge values,
//! and soundness (wrong output, table entry, input commitment, rounding, index, clamping).
//! Run in release: `cargo test -p otr-zk --release --test act`.

use std::sync::OnceLock;

use ark_bn254::Bn254;
use ark_groth16::ProvingKey;
use otr_engine::fixed::{Act16, W_ONE};
use otr_engine::model::ops;
use otr_engine::model::trace::layer_op;
use otr_engine::tables::InterpTable;
use otr_engine::{Kernel, LoadOptions, Model, Sampling, StepKey, StepTensor};
use otr_zk::act::{
    self, check_act_witness, prove_act_unit, prove_act_witness, verify_act_unit, ActShape,
    ActStatement, ActTable, ActTamper, ActWitness,
};
use otr_zk::prove::prepared_vk;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const PROMPT: &[u32] = &[2, 40, 77, 91, 120];
/// Elements per unit in the proving tests.
const E: usize = 32;

fn load(name: &str) -> Model {
    let opts = LoadOptions {
        threads: 1,
        kernel: Kernel::Scalar,
        verbose: false,
    };
    otr_engine::fixture::load(name, opts).unwrap()
}

fn wide(t: &StepTensor) -> Vec<i64> {
    match t {
        StepTensor::Wide(v) => v.clone(),
        other => panic!("not wide: {other:?}"),
    }
}

/// A real ACT step of a fixture model: (gate, up, output bytes, table).
struct Step {
    gate: Vec<i64>,
    up: Vec<i64>,
    out: Vec<u8>,
    table: ActTable,
}

fn act_step(m: &Model, stage: u16, pos: u32) -> Step {
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
    let key = StepKey {
        pos,
        stage,
        op: layer_op::ACT,
    };
    let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
    let rec = m.step_input(PROMPT, &s, index).unwrap();
    assert_eq!(rec.key, key);
    m.replay_step(&rec).unwrap();
    // The recorded output is the trace leaf's preimage.
    let digest = steps[index as usize].1;
    assert_eq!(rec.output.digest(), digest);
    Step {
        gate: wide(&rec.inputs[0]),
        up: wide(&rec.inputs[1]),
        out: rec.output.bytes(),
        table: ActTable::from_digest(&m.act_table_digest()).unwrap(),
    }
}

fn gemma_key() -> &'static ProvingKey<Bn254> {
    static K: OnceLock<ProvingKey<Bn254>> = OnceLock::new();
    K.get_or_init(|| {
        act::initial_key_insecure(ActShape::new(ActTable::Gelu, 256, E).unwrap()).unwrap()
    })
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn real_steps_of_both_models_satisfy_and_a_gemma_unit_proves() {
    for (name, table) in [
        ("tiny-gemma3", ActTable::Gelu),
        ("tiny-llama", ActTable::Silu),
    ] {
        let m = load(name);
        let st = act_step(&m, 1, 2);
        assert_eq!(st.table, table);
        let len = st.gate.len();
        let shape = ActShape::new(table, len, E).unwrap();
        // The engine's step output is the reference's.
        let want = act::reference(&st.gate, &st.up, table.table());
        assert_eq!(want.bytes(), st.out);
        for start in (0..len).step_by(E) {
            let w = ActWitness::new(shape, &st.gate, &st.up, start).unwrap();
            // What a verifier computes from the trace bytes is the witness's statement.
            let from_trace = ActStatement::from_trace(
                &shape,
                start as u64,
                &bytes(&st.gate),
                &bytes(&st.up),
                &st.out,
            )
            .unwrap();
            assert_eq!(from_trace, w.statement);
            assert!(check_act_witness(w).unwrap(), "{name} unit {start}");
        }
        if table == ActTable::Gelu {
            let pk = gemma_key();
            let vk = prepared_vk(pk).unwrap();
            let start = 3 * E;
            let p = prove_act_unit(pk, shape, &st.gate, &st.up, start, &mut rng(1)).unwrap();
            let from_trace = ActStatement::from_trace(
                &shape,
                start as u64,
                &bytes(&st.gate),
                &bytes(&st.up),
                &st.out,
            )
            .unwrap();
            assert_eq!(p.statement, from_trace);
            verify_act_unit(&vk, &from_trace, &p.proof).unwrap();
            // Any changed public input is rejected.
            let bad = |s: ActStatement| {
                let e = verify_act_unit(&vk, &s, &p.proof).unwrap_err();
                assert_eq!(e.code(), "PROOF_INVALID");
            };
            bad(ActStatement {
                table_commitment: ActTable::Silu.commitment(),
                ..from_trace
            });
            bad(ActStatement {
                start: start as u64 + E as u64,
                ..from_trace
            });
            // The input commitment of another unit; of a changed up value.
            let other =
                ActStatement::from_trace(&shape, 0, &bytes(&st.gate), &bytes(&st.up), &st.out)
                    .unwrap();
            bad(ActStatement {
                input_commitment: other.input_commitment,
                ..from_trace
            });
            let mut up2 = st.up.clone();
            up2[start + 5] += 1;
            let changed = ActStatement::from_trace(
                &shape,
                start as u64,
                &bytes(&st.gate),
                &bytes(&up2),
                &st.out,
            )
            .unwrap();
            bad(ActStatement {
                input_commitment: changed.input_commitment,
                ..from_trace
            });
            // A changed output byte.
            let mut out2 = st.out.clone();
            out2[4 + 2 * (start + 7)] ^= 1;
            let changed = ActStatement::from_trace(
                &shape,
                start as u64,
                &bytes(&st.gate),
                &bytes(&st.up),
                &out2,
            )
            .unwrap();
            bad(changed);
            // Dishonest witnesses are refused before proving.
            let mut w = ActWitness::new(shape, &st.gate, &st.up, start).unwrap();
            w.q[7] += 1;
            let w = ActWitness::claim(shape, start, &w.gate, &w.up, w.exp, &w.q);
            assert_eq!(
                prove_act_witness(pk, w, &mut rng(2)).unwrap_err().code(),
                "ZK_UNSATISFIED"
            );
            assert_ne!(ActTable::Gelu.commitment(), ActTable::Silu.commitment());
        }
    }
}

/// Edge values around the table of `table`: below, at and above `lo` and `hi`, exact grid
/// points, interpolation ties, saturation, rounding ties of the output.
fn edge_vectors(t: &InterpTable) -> Vec<(Vec<i64>, Vec<i64>)> {
    let shift = 32 - t.step_bits;
    let step = 1i64 << shift;
    let n = t.values.len() as i64;
    let (lo, hi) = (t.lo, t.lo + (n - 1) * step);
    let half = step / 2;
    let gates = vec![
        i64::MIN,
        lo - 1,
        lo,
        lo + 1,
        lo + step,
        lo + step + half,
        lo + 7 * step + half,
        -W_ONE,
        -half,
        0,
        1,
        half,
        W_ONE + half,
        hi - step,
        hi - 1,
        hi,
        hi + 1,
        i64::MAX,
        3 * W_ONE + 3,
        -(3 * W_ONE) - 5,
    ];
    let k = gates.len();
    let mut out = Vec::new();
    // 1. Plain: up = 1.0.
    out.push((gates.clone(), vec![W_ONE; k]));
    // 2. Saturation: up at the extremes (f u / 2^32 beyond i64).
    out.push((
        gates.clone(),
        (0..k)
            .map(|i| if i % 2 == 0 { i64::MAX } else { i64::MIN })
            .collect(),
    ));
    // 3. Small up (rounding of f u / 2^32, ties: f = g above the table, u = 1 gives g / 2^32).
    let mut g3 = gates.clone();
    g3.extend([
        hi + W_ONE / 2,
        hi + 3 * (W_ONE / 2),
        hi + 5 * (W_ONE / 2) + 1,
    ]);
    let mut u3: Vec<i64> = (0..k).map(|i| (i as i64 % 5) - 2).collect();
    u3.extend([1, 1, 1]);
    out.push((g3, u3));
    // 4. Output rounding ties: one large element sets the exponent, others at half steps.
    let mut g4 = vec![hi + (1 << 40), hi, hi + (1 << 24), hi + 3 * (1 << 24)];
    g4.extend(&gates[..8]);
    let u4 = vec![W_ONE; g4.len()];
    out.push((g4, u4));
    // 5. Zero vector (exponent -32, no rounding).
    out.push((vec![0; 4], vec![0; 4]));
    out
}

#[test]
fn edge_values_equal_the_engine_and_one_off_outputs_fail() {
    for table in [ActTable::Gelu, ActTable::Silu] {
        let t = table.table();
        for (case, (g, u)) in edge_vectors(t).into_iter().enumerate() {
            let len = g.len();
            let shape = ActShape::new(table, len, len).unwrap();
            let w = ActWitness::new(shape, &g, &u, 0).unwrap();
            // The witness's output is the engine's, element by element.
            let y = ops::gated(&g, &u, t);
            assert_eq!(Act16::from_wide(&y).q, w.q);
            assert!(
                check_act_witness(w.clone()).unwrap(),
                "{table:?} case {case}"
            );
            for j in 0..len {
                for delta in [-1i16, 1] {
                    let mut q = w.q.clone();
                    let Some(v) = q[j].checked_add(delta) else {
                        continue;
                    };
                    q[j] = v;
                    let bad = ActWitness::claim(shape, 0, &g, &u, w.exp, &q);
                    assert!(
                        !check_act_witness(bad).unwrap(),
                        "{table:?} case {case} elem {j} {delta:+}"
                    );
                }
            }
            // Another exponent.
            for exp in [w.exp - 1, w.exp + 1] {
                let q: Vec<i16> = y
                    .iter()
                    .map(|&v| {
                        otr_engine::fixed::rshift_rne(v as i128, (exp + 32).max(0) as u32) as i16
                    })
                    .collect();
                if exp + 32 < 0 || q == w.q {
                    continue;
                }
                let bad = ActWitness::claim(shape, 0, &g, &u, exp, &q);
                // A larger exponent with exact values is consistent per element; a smaller
                // one overflows i16 somewhere: only the latter must fail.
                if exp < w.exp {
                    assert!(
                        !check_act_witness(bad).unwrap(),
                        "{table:?} case {case} exp {exp}"
                    );
                }
            }
        }
    }
}

fn tampered(shape: ActShape, g: &[i64], u: &[i64], t: ActTamper) -> bool {
    let mut w = ActWitness::new(shape, g, u, 0).unwrap();
    w.tamper = t;
    check_act_witness(w).unwrap()
}

#[test]
fn dishonest_witnesses_are_unsatisfied() {
    let table = ActTable::Gelu;
    let t = table.table();
    let shift = 32 - t.step_bits;
    // Inside the table, off the grid, an interpolation tie, above the table, a rounding tie of
    // the output.
    let g = vec![
        -W_ONE / 3,
        W_ONE / 2 + (1 << (shift - 1)) + 12345,
        t.lo + (5 << shift) + (1 << (shift - 1)),
        9 * W_ONE,
        2 * W_ONE + 7,
        -2 * W_ONE,
        W_ONE,
        20 * W_ONE,
    ];
    let u = vec![
        W_ONE,
        3 * W_ONE,
        W_ONE,
        W_ONE / 2,
        -W_ONE,
        W_ONE + 1,
        W_ONE,
        W_ONE,
    ];
    let shape = ActShape::new(table, g.len(), g.len()).unwrap();
    assert!(tampered(shape, &g, &u, ActTamper::None));
    for elem in [0, 1, 2] {
        assert!(
            !tampered(shape, &g, &u, ActTamper::IndexShift { elem }),
            "index {elem}"
        );
        assert!(
            !tampered(shape, &g, &u, ActTamper::IndexPastEnd { elem }),
            "past end {elem}"
        );
        assert!(
            !tampered(shape, &g, &u, ActTamper::InterpRounding { elem }),
            "interp {elem}"
        );
    }
    for elem in 0..g.len() {
        assert!(
            !tampered(shape, &g, &u, ActTamper::QuantQuotient { elem }),
            "quant {elem}"
        );
        assert!(
            !tampered(shape, &g, &u, ActTamper::ClampBit { elem }),
            "clamp {elem}"
        );
    }
    // Outputs computed with one table entry changed (the entry element 1 interpolates from).
    let off = (g[1] - t.lo) as u64;
    let i = (off >> shift) as usize;
    let mut values = t.values.clone();
    values[i] += 1 << 20;
    let bad_t = InterpTable {
        lo: t.lo,
        step_bits: t.step_bits,
        values,
    };
    let bad = act::reference(&g, &u, &bad_t);
    let honest = act::reference(&g, &u, t);
    assert_ne!(bad.q, honest.q);
    let w = ActWitness::claim(shape, 0, &g, &u, bad.exp, &bad.q);
    assert!(!check_act_witness(w).unwrap(), "changed table entry");
    // Outputs with the other table.
    let other = act::reference(&g, &u, ActTable::Silu.table());
    assert_ne!(other.q, honest.q);
    let w = ActWitness::claim(shape, 0, &g, &u, other.exp, &other.q);
    assert!(!check_act_witness(w).unwrap(), "other table");
    // Floor instead of half-to-even rounding of the interpolation and of f u / 2^32.
    let floor_f = |x: i64| -> i64 {
        let sh = 32 - t.step_bits;
        let hi = t.lo + (((t.values.len() - 1) as i64) << sh);
        if x <= t.lo {
            return 0;
        }
        if x >= hi {
            return x;
        }
        let off = (x - t.lo) as u64;
        let i = (off >> sh) as usize;
        let rem = (off & ((1 << sh) - 1)) as i128;
        let (a, b) = (t.values[i] as i128, t.values[i + 1] as i128);
        (a + (((b - a) * rem) >> sh)) as i64
    };
    // Small `up` values keep the exponent at -32 (no output rounding), so every rounding
    // difference of `y` shows in the outputs.
    let u: Vec<i64> = (0..g.len() as i64).map(|j| 1001 + 2 * j).collect();
    let honest = act::reference(&g, &u, t);
    assert_eq!(honest.exp, -32);
    let yf: Vec<i64> = g
        .iter()
        .zip(&u)
        .map(|(&g, &u)| ((floor_f(g) as i128 * u as i128) >> 32) as i64)
        .collect();
    let af = Act16::from_wide(&yf);
    if af.q != honest.q || af.exp != honest.exp {
        let w = ActWitness::claim(shape, 0, &g, &u, af.exp, &af.q);
        assert!(!check_act_witness(w).unwrap(), "floor rounding");
    } else {
        panic!("floor rounding gives the same outputs: pick other values");
    }
    // An out-of-range start is refused.
    assert_eq!(
        ActWitness::new(shape, &g, &u, 1).unwrap_err().code(),
        "ZK_SHAPE_INVALID"
    );
}

#[test]
fn a_key_derived_from_a_two_party_phase1_proves_an_act_unit() {
    use otr_zk::circuit::act::ActCircuit;
    use otr_zk::phase1::{self, Phase1};
    let shape = ActShape::new(ActTable::Silu, 8, 2).unwrap();
    let n = phase1::constraints_plus_inputs(ActCircuit::setup(shape)).unwrap();
    let mut p1 = Phase1::init(Phase1::log_size_for(n)).unwrap();
    p1.contribute("alice", &mut rng(11), None).unwrap();
    p1.contribute("bob", &mut rng(12), None).unwrap();
    phase1::verify(&p1).unwrap();
    let pk = act::initial_key_from_phase1(&p1.powers, shape).unwrap();
    let vk = prepared_vk(&pk).unwrap();
    let g = [
        -40 * W_ONE,
        -W_ONE,
        0,
        W_ONE / 3,
        5 * W_ONE + 1,
        31 * W_ONE,
        33 * W_ONE,
        7,
    ];
    let u = [
        W_ONE,
        2 * W_ONE,
        -W_ONE,
        W_ONE,
        3,
        -5 * W_ONE,
        W_ONE / 7,
        i64::MAX,
    ];
    let p = prove_act_unit(&pk, shape, &g, &u, 6, &mut rng(13)).unwrap();
    let out = act::reference(&g, &u, ActTable::Silu.table());
    let st = ActStatement::from_trace(&shape, 6, &bytes(&g), &bytes(&u), &out.bytes()).unwrap();
    assert_eq!(st, p.statement);
    verify_act_unit(&vk, &st, &p.proof).unwrap();
    // The key of another shape (the public-seed key of the same shape) does not verify it.
    let other = prepared_vk(&act::initial_key_insecure(shape).unwrap()).unwrap();
    assert_eq!(
        verify_act_unit(&other, &st, &p.proof).unwrap_err().code(),
        "PROOF_INVALID"
    );
}

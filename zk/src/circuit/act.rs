//! The spot-check circuit of one `ACT` unit: `E` consecutive elements of
//! `Act16::from_wide(ops::gated(gate, up, f))`, exactly as the engine computes them
//! ([`crate::act`]), with `f` the engine's `InterpTable::eval`.
//!
//! Public inputs (in order): table commitment, first element, input commitment, output
//! commitment ([`crate::act::ActStatement`]). Witness: the `E` gate and up values, the output
//! bytes (`i32le exp || i16le q[..]`), and the division witnesses of every rounding.
//!
//! Per element, with `T` the table (`n` entries), `sh = 32 - step_bits`, `lo`,
//! `hi = lo + (n - 1) 2^sh` (every integer below is exact: nothing wraps modulo the field, the
//! largest is `|f u| <= 2^126`):
//! 1. `g`, `u` are the two's-complement integers of their 64 committed bits;
//! 2. `below = [g <= lo]`, `above = [g >= hi]` (bit decompositions of `lo - g + 2^65` and
//!    `g - hi + 2^65`), `inside = 1 - below - above`;
//! 3. `off = inside (g - lo) = i 2^sh + rem` with the bits of `i` (`ceil log2 (n - 1)` of them,
//!    and `n - 2 - i >= 0` range-checked when `n - 1` is not a power of two) and the `sh` bits
//!    of `rem`: inside the table `off` is in `[1, (n-1) 2^sh - 1]`, so `i <= n - 2` and
//!    `(i, rem)` is the engine's `(off >> sh, off & (2^sh - 1))`; outside, `off = 0`;
//! 4. `a = T[i]`, `d = T[i + 1] - T[i]` by a two-level one-hot selection over the bits of
//!    `i`: the one-hot vectors of the low `kl` and high `kh` bits (products of the bits,
//!    `2^kl + 2^kh` constraints, `kl + kh = ceil log2 (n - 1)`), `V_h = sum_l T[h 2^kl + l] onehot_lo[l]` (free: the table
//!    is constant), `a = sum_h onehot_hi[h] V_h` (`2^kh` products); the same for `d`. The
//!    table is part of the circuit (the key is the table's), and the first public input is
//!    enforced equal to the table's commitment;
//! 5. `interp = a + rne(d rem / 2^sh)`: `d rem = q 2^sh + r`, `r` in `sh` bits, `q` in a
//!    range from the table's largest step; round up iff `r > 2^(sh-1)` or `r = 2^(sh-1)` and
//!    `q` odd (half to even, `otr_engine::fixed::rshift_rne`);
//! 6. `f = inside interp + above g` (`0` below: `InterpTable::eval`);
//! 7. `y = clamp(rne(f u / 2^32), i64)` (`shift_sat(f u, -32)`): `f u = q 2^32 + r` likewise,
//!    the clamps by comparisons;
//! 8. the output: `s = exp + 32` in 6 bits, `p = 2^s` from them (shared by the unit),
//!    `y = q0 p + r0` with `r0` and `p - 1 - r0` in 64 bits, `q0 + 2^16` in 17 bits, round
//!    half to even (`h = p / 2`, or no rounding for `s = 0`): the result equals the committed
//!    `i16` `q`, and `q != -32768` (`Act16::from_wide` never yields it).
//!
//! The unit's position: `start = E k` with `k` in `ceil log2 (len / E)` bits (and
//! `len / E - 1 - k >= 0` when not a power of two).

use ark_bn254::Fr;
use ark_ff::{Field, One};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::R1CSVar;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use otr_engine::fixed::{rshift_rne, W_FRAC};

use super::gadgets::{
    byte_bits, constant_dot, enforce_bits, fr_i128, is_nonneg, is_nonneg_flip, one_hot, pow2,
    signed, unsigned, Cs,
};
use super::hash_bits;
use crate::act::{ActShape, ActTamper, ActWitness, TAG_ACT16_SLICE, TAG_GATED_IN};
use crate::commit::ceil_log2;

type R<T> = Result<T, SynthesisError>;

/// The circuit: a shape, and the witness when proving (`None` for setup).
#[derive(Clone, Debug)]
pub struct ActCircuit {
    pub shape: ActShape,
    pub witness: Option<ActWitness>,
}

impl ActCircuit {
    pub fn setup(shape: ActShape) -> Self {
        ActCircuit {
            shape,
            witness: None,
        }
    }

    pub fn prove(witness: ActWitness) -> Self {
        ActCircuit {
            shape: witness.shape,
            witness: Some(witness),
        }
    }
}

fn missing() -> SynthesisError {
    SynthesisError::AssignmentMissing
}

fn wit(cs: &Cs, v: Option<i128>) -> R<FpVar<Fr>> {
    FpVar::new_witness(cs.clone(), || v.map(fr_i128).ok_or_else(missing))
}

fn c(v: i128) -> FpVar<Fr> {
    FpVar::constant(fr_i128(v))
}

/// `rne(v / 2^k)` (half to even) for `|v| < 2^(k + qb)`, `k >= 1`: the division witness and
/// its range checks. Returns the rounded quotient.
fn rshift_rne_var(
    cs: &Cs,
    v: &FpVar<Fr>,
    v_native: Option<i128>,
    k: u32,
    qb: u32,
    flip_round: bool,
) -> R<FpVar<Fr>> {
    let qr = v_native.map(|v| (v >> k, v - ((v >> k) << k)));
    let q = wit(cs, qr.map(|x| x.0))?;
    let r = wit(cs, qr.map(|x| x.1))?;
    (&q * FpVar::constant(pow2(k)) + &r).enforce_equal(v)?;
    enforce_bits(cs, &r, k)?;
    let q_bits = enforce_bits(cs, &(&q + FpVar::constant(pow2(qb))), qb + 1)?;
    let odd = q_bits[0].clone();
    let half = c(1i128 << (k - 1));
    let gt = is_nonneg_flip(cs, &(&r - &half - c(1)), k, flip_round)?;
    let eq = (&r - &half).is_eq(&FpVar::zero())?;
    Ok(q + FpVar::from(gt) + FpVar::from(eq & odd))
}

/// `x != 0`: `x inv = 1` with the inverse as witness (0 when there is none: unsatisfied).
fn nonzero(cs: &Cs, x: &FpVar<Fr>) -> R<()> {
    let inv = FpVar::new_witness(cs.clone(), || {
        x.value()
            .map(|v| v.inverse().unwrap_or_default())
            .map_err(|_| missing())
    })?;
    (x * &inv).enforce_equal(&FpVar::constant(Fr::one()))
}

/// Native witness of one element's table lookup (the engine's `InterpTable::eval` split).
fn native_index(g: i64, lo: i64, hi: i64, shift: u32) -> (u64, u64) {
    if g <= lo || g >= hi {
        return (0, 0);
    }
    let off = (g - lo) as u64;
    (off >> shift, off & ((1u64 << shift) - 1))
}

impl ConstraintSynthesizer<Fr> for ActCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> R<()> {
        let shape = self.shape;
        shape.check().map_err(|_| SynthesisError::Unsatisfiable)?;
        let w = self.witness.as_ref();
        let st = w.map(|w| w.statement);
        let tamper = w.map(|w| w.tamper).unwrap_or_default();
        let e_n = shape.elems;
        let t = shape.table.table();
        let n = t.values.len();
        let shift = W_FRAC - t.step_bits;
        let lo = t.lo;
        let hi = lo + (((n - 1) as i64) << shift);
        let ib = ceil_log2(n - 1);
        // The split of the index bits that costs least: 2^kl + 3 2^kh constraints.
        let kl = (0..=ib)
            .min_by_key(|&kl| (1u64 << kl) + 3 * (1u64 << (ib - kl)))
            .expect("non-empty");
        let tv: Vec<i128> = t.values.iter().map(|&v| v as i128).collect();
        let dv: Vec<i128> = tv.windows(2).map(|p| p[1] - p[0]).collect();
        let dmax = dv.iter().map(|d| d.unsigned_abs()).max().unwrap_or(0);
        // |q| of the interpolation's division <= max |d| < 2^db.
        let db = (128 - dmax.leading_zeros()).max(1);

        // Public inputs.
        let table_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.table_commitment).ok_or_else(missing)
        })?;
        let start_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| Fr::from(s.start)).ok_or_else(missing)
        })?;
        let input_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.input_commitment).ok_or_else(missing)
        })?;
        let output_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.output_commitment).ok_or_else(missing)
        })?;
        table_in.enforce_equal(&FpVar::constant(shape.table.commitment()))?;

        // Position.
        let units = shape.units();
        let kb = ceil_log2(units);
        let unit_index = st.map(|s| s.start / e_n as u64);
        let k_bits = (0..kb)
            .map(|l| {
                Boolean::new_witness(cs.clone(), || {
                    unit_index.map(|u| (u >> l) & 1 == 1).ok_or_else(missing)
                })
            })
            .collect::<R<Vec<_>>>()?;
        let k = unsigned(&cs, &k_bits)?;
        if !units.is_power_of_two() {
            enforce_bits(&cs, &(c(units as i128 - 1) - &k), kb)?;
        }
        (k * FpVar::constant(Fr::from(e_n as u64))).enforce_equal(&start_in)?;

        // Committed bytes.
        let in_bytes = w.map(|w| crate::act::input_bytes(&w.gate, &w.up));
        let in_bits = byte_bits(&cs, in_bytes.as_deref(), shape.input_len())?;
        hash_bits(&cs, TAG_GATED_IN, &in_bits)?.enforce_equal(&input_in)?;
        let out_bytes = w.map(|w| crate::act::output_bytes(w.exp, &w.q));
        let out_bits = byte_bits(&cs, out_bytes.as_deref(), shape.output_len())?;
        hash_bits(&cs, TAG_ACT16_SLICE, &out_bits)?.enforce_equal(&output_in)?;

        // The exponent: s = exp + 32 in [0, 63], p = 2^s, h = p / 2 (1 for s = 0: no rounding).
        let exp = signed(&cs, &out_bits[..32])?;
        let s = &exp + c(W_FRAC as i128);
        let s_bits = enforce_bits(&cs, &s, 6)?;
        let mut p = FpVar::constant(Fr::one());
        for (j, b) in s_bits.iter().enumerate() {
            let factor = FpVar::constant(Fr::one())
                + FpVar::from(b.clone()) * FpVar::constant(pow2(1 << j) - Fr::one());
            p = if j == 0 { factor } else { p * factor };
        }
        let s_zero = s.is_eq(&FpVar::zero())?;
        let inv2 = Fr::from(2u64).inverse().expect("2 != 0");
        let half = (&p + FpVar::from(s_zero)) * FpVar::constant(inv2);
        let s_native = w.map(|w| (w.exp as i64 + W_FRAC as i64).clamp(0, 63) as u32);

        for j in 0..e_n {
            let g = signed(&cs, &in_bits[64 * j..64 * j + 64])?;
            let u = signed(&cs, &in_bits[64 * (e_n + j)..64 * (e_n + j) + 64])?;
            let gn = w.map(|w| w.gate[j]);
            let un = w.map(|w| w.up[j]);
            let here = |x: &dyn Fn(usize) -> ActTamper| tamper == x(j);

            // 2. Range tests.
            let below = is_nonneg(&cs, &(c(lo as i128) - &g), 65)?;
            let above = is_nonneg_flip(
                &cs,
                &(&g - c(hi as i128)),
                65,
                here(&|elem| ActTamper::ClampBit { elem }),
            )?;
            let inside =
                FpVar::constant(Fr::one()) - FpVar::from(below) - FpVar::from(above.clone());
            // 3. Index and remainder.
            let off = &inside * (&g - c(lo as i128));
            let mut ir = gn.map(|g| native_index(g, lo, hi, shift));
            if let Some((i, rem)) = ir.as_mut() {
                match tamper {
                    ActTamper::IndexShift { elem } if elem == j => {
                        *i += 1;
                        *rem = rem.wrapping_sub(1u64 << shift);
                    }
                    ActTamper::IndexPastEnd { elem } if elem == j => {
                        let off = (*i << shift) + *rem;
                        *i = (n - 1) as u64;
                        *rem = off.wrapping_sub(*i << shift);
                    }
                    _ => {}
                }
            }
            let i_bits = (0..ib)
                .map(|b| {
                    Boolean::new_witness(cs.clone(), || {
                        ir.map(|(i, _)| (i >> b) & 1 == 1).ok_or_else(missing)
                    })
                })
                .collect::<R<Vec<_>>>()?;
            let rem_bits = (0..shift)
                .map(|b| {
                    Boolean::new_witness(cs.clone(), || {
                        ir.map(|(_, r)| (r >> b) & 1 == 1).ok_or_else(missing)
                    })
                })
                .collect::<R<Vec<_>>>()?;
            let i_var = unsigned(&cs, &i_bits)?;
            let rem = unsigned(&cs, &rem_bits)?;
            (&i_var * FpVar::constant(pow2(shift)) + &rem).enforce_equal(&off)?;
            if !(n - 1).is_power_of_two() {
                enforce_bits(&cs, &(c(n as i128 - 2) - &i_var), ib)?;
            }
            // 4. a = T[i], d = T[i + 1] - T[i].
            let oh_lo = one_hot(&i_bits[..kl as usize]);
            let oh_hi = one_hot(&i_bits[kl as usize..]);
            let mut a = FpVar::zero();
            let mut d = FpVar::zero();
            for (h, sel) in oh_hi.iter().enumerate() {
                let base = h << kl;
                if base >= dv.len() {
                    break;
                }
                let end = (base + (1 << kl)).min(dv.len());
                let va = constant_dot(&cs, &tv[base..end], &oh_lo)?;
                let vd = constant_dot(&cs, &dv[base..end], &oh_lo)?;
                a += sel * &va;
                d += sel * &vd;
            }
            // 5. interp = a + rne(d rem / 2^sh).
            let dr = &d * &rem;
            let dr_native = ir.map(|(i, r)| dv.get(i as usize).copied().unwrap_or(0) * r as i128);
            let interp = &a
                + rshift_rne_var(
                    &cs,
                    &dr,
                    dr_native,
                    shift,
                    db,
                    here(&|elem| ActTamper::InterpRounding { elem }),
                )?;
            // 6. f.
            let f = &inside * &interp + FpVar::from(above) * &g;
            // 7. y = clamp(rne(f u / 2^32)).
            let f_native = gn.map(|g| shape.table.table().eval(g) as i128);
            let v = &f * &u;
            let v_native = f_native.zip(un).map(|(f, u)| f * u as i128);
            let z = rshift_rne_var(&cs, &v, v_native, W_FRAC, 95, false)?;
            let (i64_max, i64_min) = (i64::MAX as i128, i64::MIN as i128);
            let over = is_nonneg(&cs, &(&z - c(i64_max + 1)), 96)?;
            let under = is_nonneg(&cs, &(c(i64_min - 1) - &z), 96)?;
            let y =
                &z + FpVar::from(over) * (c(i64_max) - &z) + FpVar::from(under) * (c(i64_min) - &z);
            // 8. q = rne(y / 2^s), committed as i16.
            let y_native =
                v_native.map(|v| rshift_rne(v, W_FRAC).clamp(i64::MIN as i128, i64::MAX as i128));
            let mut qr = y_native.zip(s_native).map(|(y, s)| {
                let p = 1i128 << s;
                (y.div_euclid(p), y.rem_euclid(p), p)
            });
            if let (ActTamper::QuantQuotient { elem }, Some((q0, r0, p))) = (tamper, qr.as_mut()) {
                if elem == j {
                    if *r0 == 0 {
                        *q0 += 1;
                        *r0 -= *p;
                    } else {
                        *q0 -= 1;
                        *r0 += *p;
                    }
                }
            }
            let q0 = wit(&cs, qr.map(|x| x.0))?;
            let r0 = wit(&cs, qr.map(|x| x.1))?;
            (&q0 * &p + &r0).enforce_equal(&y)?;
            enforce_bits(&cs, &r0, 64)?;
            enforce_bits(&cs, &(&p - c(1) - &r0), 64)?;
            let q0_bits = enforce_bits(&cs, &(&q0 + c(1 << 16)), 17)?;
            let dq = &r0 - &half;
            let gt = is_nonneg(&cs, &(&dq - c(1)), 64)?;
            let tie = dq.is_eq(&FpVar::zero())?;
            let q = &q0 + FpVar::from(gt) + FpVar::from(tie & q0_bits[0].clone());
            let q_out = signed(&cs, &out_bits[32 + 16 * j..48 + 16 * j])?;
            q.enforce_equal(&q_out)?;
            nonzero(&cs, &(&q_out + c(32768)))?;
        }
        Ok(())
    }
}

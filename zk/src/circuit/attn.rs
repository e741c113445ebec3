//! The attention unit circuit: one query head attending over `P` positions, exactly
//! `otr_engine::model::ops::attend` (public inputs and witness: [`crate::attn`]).
//!
//! Constraints, with `d = head_dim` and every rounding "half to even" (`rne`):
//! 1. every byte of the query (`i32le exp || i16le q[d]`), of the `P` keys and `P` values
//!    (the same form each) and of the output (`i64le out[d]`) is 8 booleans; the scale is 64
//!    booleans (two's complement) equal to public input 2; the three commitments are recomputed
//!    with Poseidon and equated with public inputs 0, 1 and 3;
//! 2. every exponent `e` (query, keys, values) has `e + 32` in 6 bits (`[-32, 31]`, the range
//!    of `Act16::from_wide`), and `2^(e + 32)` is a product of `1 + b_l (2^(2^l) - 1)`;
//! 3. scores: `dot_j = sum_i q_i k_ji` (exact), `v_j = dot_j scale`,
//!    `w_j = v_j 2^(e_q + 32) 2^(e_kj + 32)` (exact: `|w| < 2^228`), `s_j = clamp(rne(w_j / 2^64),
//!    i64)` = `shift_sat(dot_j scale, e_q + e_kj)`;
//! 4. the maximum `m`: `m - s_j` in 64 bits for every `j` (so `s_j <= m`), and
//!    `prod_j (m - s_j) = 0` (so `m` is one of them);
//! 5. weights, `exp_neg_wide(s_j - m)`: `t = rne((m - s_j) LOG2E_Q30 / 2^30)` (66 bits),
//!    `n = t >> 32`, `i` = bits 22..31 of `t`, `rem` = bits 0..21; the 2^-x table entries
//!    `T[i]`, `T[i+1] - T[i]` by one-hot selection over the constant table;
//!    `x = T[i] + rne((T[i+1] - T[i]) rem / 2^22)`; `p_j = rne(x / 2^n)` for `n <= 30`, `0` for
//!    `n >= 31` (the engine's early return for `n > 31`, and `x <= 2^30` rounds to 0 at 31);
//! 6. `E = max_j e_vj` proven like `m` (`E - e_vj` in 6 bits, the product zero);
//!    `p'_j = rne(p_j / 2^(E - e_vj))`, `acc_i = sum_j p'_j v_ji` (exact);
//! 7. `total = sum_j p_j` (at least `2^30`: the maximum's weight), and per element
//!    `out_i = clamp(rne(acc_i 2^(E + 32) / total), i64)` for `E + 32 <= 60`, the sign of
//!    `acc_i` saturated (`i64::MAX`, `0`, `i64::MIN`) for `E + 32 > 60` (`scaled_div`);
//!    equal to the committed `out_i`.
//!
//! Every rounding `rne(x / D)` is one division witness: `2x + D = Q (2D) + R` with
//! `0 <= R < 2D` (bits of `R` and of `2D - 1 - R`) and `Q` range-checked by bits; then
//! `rne = Q - [R = 0 and Q odd]` (`Q = floor(x / D + 1/2)`; `R = 0` is exactly the tie). No
//! field equation wraps: the largest integer is `|2 w + 2^64| < 2^230`.

use ark_bn254::Fr;
use ark_ff::{One, PrimeField, Zero};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::R1CSVar;
use ark_relations::lc;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use otr_engine::tables::{tables, EXP2_BITS, LOG2E_Q30};

use super::gadgets::{
    byte_bits, constant_dot, enforce_bits, fr_i128, fr_to_i128, lc_of, lc_var, one_hot, pow2,
    signed, unsigned, weighted_bits, Cs,
};
use super::hash_bits;
use crate::attn::{AttnShape, AttnTamper, AttnWitness, TAG_ATTN_KV};
use crate::commit::{ceil_log2, TAG_ACT16, TAG_WIDE};

type R<T> = Result<T, SynthesisError>;

/// Fractional bits of the scores' shift (`w / 2^64`).
const SCORE_SHIFT: u32 = 64;
/// Bound of the score quotient: `|rne(w / 2^64)| < 2^166`.
const SCORE_QB: u32 = 166;
/// Bits of `t = rne(dd LOG2E / 2^30)` (`dd < 2^64`, `LOG2E_Q30 < 2^31`).
const T_BITS: u32 = 66;
/// Bound of the output quotient: `|acc 2^(E+32) / total| <= 2^15 2^63`.
const OUT_QB: u32 = 80;

/// The circuit: a shape, and the witness when proving (`None` for setup).
#[derive(Clone, Debug)]
pub struct AttnCircuit {
    pub shape: AttnShape,
    pub witness: Option<AttnWitness>,
}

impl AttnCircuit {
    pub fn setup(shape: AttnShape) -> Self {
        AttnCircuit {
            shape,
            witness: None,
        }
    }

    pub fn prove(witness: AttnWitness) -> Self {
        AttnCircuit {
            shape: witness.shape,
            witness: Some(witness),
        }
    }
}

fn missing() -> SynthesisError {
    SynthesisError::AssignmentMissing
}

fn c(v: i128) -> FpVar<Fr> {
    FpVar::constant(fr_i128(v))
}

fn cp2(k: u32) -> FpVar<Fr> {
    FpVar::constant(pow2(k))
}

/// A field element as a signed integer (the half above `(p - 1) / 2` negative).
fn to_big(x: Fr) -> BigInt {
    let u: BigUint = x.into();
    let p: BigUint = Fr::MODULUS.into();
    if u > (&p >> 1u32) {
        BigInt::from_biguint(Sign::Minus, p - u)
    } else {
        BigInt::from_biguint(Sign::Plus, u)
    }
}

fn from_big(b: &BigInt) -> Fr {
    let f = Fr::from(b.magnitude().clone());
    if b.sign() == Sign::Minus {
        -f
    } else {
        f
    }
}

fn value_i128(x: &FpVar<Fr>) -> Option<i128> {
    x.value().ok().and_then(fr_to_i128)
}

/// The range of a division's quotient.
#[derive(Clone, Copy)]
enum QRange {
    /// `0 <= Q < 2^n`: the bits are `Q`'s.
    Unsigned(u32),
    /// `-2^n <= Q < 2^n`: the bits are those of `Q + 2^n` (`n + 1` of them).
    Signed(u32),
}

/// A rounded quotient: `out = rne(x / D)`, with the division witness `Q` (round half up) and
/// its bits, and whether the division was a tie.
struct Rounded {
    out: FpVar<Fr>,
    q_bits: Vec<Boolean<Fr>>,
    tie: Boolean<Fr>,
}

/// `rne(x / den)` for `den >= 1` with `2 den <= 2^rb`: `2x + den = Q 2den + R`,
/// `0 <= R < 2^rb`, and (unless `2 den = 2^rb` is a constant, `exact_pow2`) `2 den - 1 - R` in
/// `rb` bits too. `nudge` moves the witness to `Q + 1`, `R - 2 den` (soundness tests only).
fn rne_div(
    cs: &Cs,
    x: &FpVar<Fr>,
    den: &FpVar<Fr>,
    rb: u32,
    exact_pow2: bool,
    qr: QRange,
    nudge: bool,
) -> R<Rounded> {
    let num = x.double()? + den;
    let dd = den.double()?;
    let qr_native = num.value().ok().zip(dd.value().ok()).map(|(n, d)| {
        let (n, d) = (to_big(n), to_big(d));
        let (mut q, mut r) = if d.sign() == Sign::Plus {
            n.div_mod_floor(&d)
        } else {
            (BigInt::zero(), n)
        };
        if nudge {
            q += 1;
            r -= &d;
        }
        (from_big(&q), from_big(&r))
    });
    let q = FpVar::new_witness(cs.clone(), || qr_native.map(|x| x.0).ok_or_else(missing))?;
    let r = FpVar::new_witness(cs.clone(), || qr_native.map(|x| x.1).ok_or_else(missing))?;
    (&q * &dd + &r).enforce_equal(&num)?;
    enforce_bits(cs, &r, rb)?;
    if !exact_pow2 {
        enforce_bits(cs, &(&dd - c(1) - &r), rb)?;
    }
    let q_bits = match qr {
        QRange::Unsigned(n) => enforce_bits(cs, &q, n)?,
        QRange::Signed(n) => enforce_bits(cs, &(&q + cp2(n)), n + 1)?,
    };
    let tie = r.is_eq(&FpVar::zero())?;
    let down = tie.clone() & q_bits[0].clone();
    Ok(Rounded {
        out: q - FpVar::from(down),
        q_bits,
        tie,
    })
}

/// Whether any / all of the bits are set.
fn any_all(cs: &Cs, bits: &[Boolean<Fr>]) -> R<(Boolean<Fr>, Boolean<Fr>)> {
    let sum = weighted_bits(cs, bits, std::iter::repeat(Fr::one()))?;
    let none = sum.is_eq(&FpVar::zero())?;
    let all = sum.is_eq(&FpVar::constant(Fr::from(bits.len() as u64)))?;
    Ok((!none, all))
}

/// `clamp(out, i64)` for the output of a signed division (`QRange::Signed(n)`, `n > 63`):
/// `out > i64::MAX` exactly when `Q >= 2^63`, `out < i64::MIN` exactly when `Q < -2^63` (the
/// tie correction only lowers an odd `Q`), read from the bits of `Q + 2^n`.
fn clamp_i64(cs: &Cs, r: &Rounded, n: u32) -> R<FpVar<Fr>> {
    let n = n as usize;
    let top = r.q_bits[n].clone();
    let (any, all) = any_all(cs, &r.q_bits[63..n])?;
    let over = top.clone() & any;
    let under = !top & !all;
    let out = &r.out;
    Ok(out
        + FpVar::from(over) * (c(i64::MAX as i128) - out)
        + FpVar::from(under) * (c(i64::MIN as i128) - out))
}

/// `2^(sum b_l 2^l)` (`bits.len() <= 6`).
fn pow2_bits(bits: &[Boolean<Fr>]) -> FpVar<Fr> {
    let mut p = FpVar::constant(Fr::one());
    for (l, b) in bits.iter().enumerate() {
        let factor = FpVar::constant(Fr::one())
            + FpVar::from(b.clone()) * FpVar::constant(pow2(1 << l) - Fr::one());
        p = if l == 0 { factor } else { p * factor };
    }
    p
}

/// An exponent's `e + 32` (6 bits, enforced) and those bits, from the `i32` bits.
fn exponent(cs: &Cs, bits32: &[Boolean<Fr>]) -> R<(FpVar<Fr>, Vec<Boolean<Fr>>)> {
    let s = signed(cs, bits32)? + c(32);
    let b = enforce_bits(cs, &s, 6)?;
    Ok((s, b))
}

/// Bits of the 2^-x table index split into a low and a high one-hot vector.
const LOOKUP_LOW_BITS: usize = 6;

/// `(T[i], T[i+1] - T[i])` of the 2^-x table for the 10 bits of `i`.
fn exp2_lookup(cs: &Cs, i_bits: &[Boolean<Fr>]) -> R<(FpVar<Fr>, FpVar<Fr>)> {
    let t = &tables().exp2_neg;
    let tv: Vec<i128> = t[..t.len() - 1].iter().map(|&v| v as i128).collect();
    let dv: Vec<i128> = t.windows(2).map(|p| (p[1] - p[0]) as i128).collect();
    let lo = one_hot(&i_bits[..LOOKUP_LOW_BITS]);
    let hi = one_hot(&i_bits[LOOKUP_LOW_BITS..]);
    let w = 1 << LOOKUP_LOW_BITS;
    let mut a = FpVar::zero();
    let mut d = FpVar::zero();
    for (h, sel) in hi.iter().enumerate() {
        let r = h * w..(h + 1) * w;
        a += sel * constant_dot(cs, &tv[r.clone()], &lo)?;
        d += sel * constant_dot(cs, &dv[r], &lo)?;
    }
    Ok((a, d))
}

/// `sum_i a_i b_i` with one product each.
fn dot(cs: &Cs, a: &[FpVar<Fr>], b: &[FpVar<Fr>]) -> R<FpVar<Fr>> {
    let mut acc = lc!();
    let mut val = Some(Fr::zero());
    for (x, y) in a.iter().zip(b) {
        let p = x * y;
        acc = acc + lc_of(&p);
        val = val.zip(p.value().ok()).map(|(s, v)| s + v);
    }
    lc_var(cs, acc, val)
}

/// `prod_j (m - x_j) = 0`: `m` is one of the `x_j` (the field has no zero divisors).
fn is_one_of(diffs: &[FpVar<Fr>]) -> R<()> {
    let mut prod = diffs[0].clone();
    for x in &diffs[1..] {
        prod *= x;
    }
    prod.enforce_equal(&FpVar::zero())
}

impl ConstraintSynthesizer<Fr> for AttnCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> R<()> {
        let shape = self.shape;
        shape.check().map_err(|_| SynthesisError::Unsatisfiable)?;
        let w = self.witness.as_ref();
        let st = w.map(|w| w.statement);
        let tamper = w.map(|w| w.tamper).unwrap_or_default();
        let (hd, np) = (shape.head_dim, shape.positions);
        let act_bits = 8 * shape.act_len();

        // Public inputs.
        let q_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.q_commitment).ok_or_else(missing)
        })?;
        let kv_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.kv_commitment).ok_or_else(missing)
        })?;
        let scale_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| fr_i128(s.scale as i128)).ok_or_else(missing)
        })?;
        let out_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.output_commitment).ok_or_else(missing)
        })?;

        // Committed bytes.
        let q_bytes = w.map(|w| w.q.bytes());
        let q_bits = byte_bits(&cs, q_bytes.as_deref(), shape.act_len())?;
        hash_bits(&cs, TAG_ACT16, &q_bits)?.enforce_equal(&q_in)?;
        let kv_bytes = w.map(|w| crate::attn::kv_bytes(&w.keys, &w.values));
        let kv_bits = byte_bits(&cs, kv_bytes.as_deref(), shape.kv_len())?;
        hash_bits(&cs, TAG_ATTN_KV, &kv_bits)?.enforce_equal(&kv_in)?;
        let out_bytes = w.map(|w| crate::commit::wide_bytes(&w.out));
        let out_bits = byte_bits(&cs, out_bytes.as_deref(), shape.output_len())?;
        hash_bits(&cs, TAG_WIDE, &out_bits)?.enforce_equal(&out_in)?;
        let scale_bytes = w.map(|w| w.scale.to_le_bytes());
        let scale_bits = byte_bits(&cs, scale_bytes.as_ref().map(|b| &b[..]), 8)?;
        let scale = signed(&cs, &scale_bits)?;
        scale.enforce_equal(&scale_in)?;

        let key_bits = |j: usize| &kv_bits[act_bits * j..act_bits * (j + 1)];
        let value_bits = |j: usize| &kv_bits[act_bits * (np + j)..act_bits * (np + j + 1)];
        let values_of = |bits: &[Boolean<Fr>]| -> R<Vec<FpVar<Fr>>> {
            (0..hd)
                .map(|i| signed(&cs, &bits[32 + 16 * i..48 + 16 * i]))
                .collect()
        };

        // 3. Scores.
        let (_, eq_bits) = exponent(&cs, &q_bits[..32])?;
        let q_pow = pow2_bits(&eq_bits);
        let qv = values_of(&q_bits)?;
        let mut scores = Vec::with_capacity(np);
        for j in 0..np {
            let kb = key_bits(j);
            let (_, ek_bits) = exponent(&cs, &kb[..32])?;
            let kv = values_of(kb)?;
            let v = dot(&cs, &qv, &kv)? * &scale;
            let wv = v * (&q_pow * pow2_bits(&ek_bits));
            let r = rne_div(
                &cs,
                &wv,
                &cp2(SCORE_SHIFT),
                SCORE_SHIFT + 1,
                true,
                QRange::Signed(SCORE_QB),
                tamper == AttnTamper::ScoreQuotient { key: j },
            )?;
            scores.push(clamp_i64(&cs, &r, SCORE_QB)?);
        }

        // 4. The maximum.
        let m_native = scores
            .iter()
            .map(value_i128)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().max())
            .map(|m| match tamper {
                AttnTamper::Max { delta } => m + delta as i128,
                _ => m,
            });
        let m = FpVar::new_witness(cs.clone(), || m_native.map(fr_i128).ok_or_else(missing))?;
        let diffs: Vec<FpVar<Fr>> = scores.iter().map(|s| &m - s).collect();
        let mut dd_bits = Vec::with_capacity(np);
        for dj in &diffs {
            dd_bits.push(enforce_bits(&cs, dj, 64)?);
        }
        is_one_of(&diffs)?;

        // 5. Weights.
        let frac = EXP2_BITS as usize; // index bits
        let shift = 32 - EXP2_BITS; // remainder bits
        let mut ps = Vec::with_capacity(np);
        for (j, bits) in dd_bits.iter().enumerate() {
            let a = unsigned(&cs, bits)? * FpVar::constant(Fr::from(LOG2E_Q30 as u64));
            let t = rne_div(&cs, &a, &cp2(30), 31, true, QRange::Unsigned(T_BITS), false)?;
            // t = Q - [tie and Q odd]: its bits are Q's with bit 0 cleared on a tie.
            let mut tb = t.q_bits.clone();
            tb[0] = tb[0].clone() & !t.tie.clone();
            let rem = unsigned(&cs, &tb[..shift as usize])?;
            let i_bits = &tb[shift as usize..shift as usize + frac];
            let n_bits = &tb[32..T_BITS as usize];
            let (hi_any, _) = any_all(&cs, &n_bits[5..])?;
            let (_, lo_all) = any_all(&cs, &n_bits[..5])?;
            let vanishes = hi_any | lo_all;
            let (ta, td) = exp2_lookup(&cs, i_bits)?;
            let interp = rne_div(
                &cs,
                &(td * rem),
                &cp2(shift),
                shift + 1,
                true,
                QRange::Signed(22),
                tamper == AttnTamper::InterpQuotient { key: j },
            )?;
            let x = ta + interp.out;
            let pn = pow2_bits(&n_bits[..5]);
            let r = rne_div(
                &cs,
                &x,
                &pn,
                32,
                false,
                QRange::Unsigned(31),
                tamper == AttnTamper::WeightQuotient { key: j },
            )?;
            ps.push((FpVar::constant(Fr::one()) - FpVar::from(vanishes)) * r.out);
        }
        let total = ps.iter().fold(FpVar::zero(), |s, p| s + p);

        // 6. Value exponents, aligned weights, the accumulator.
        let mut evs = Vec::with_capacity(np);
        for j in 0..np {
            evs.push(exponent(&cs, &value_bits(j)[..32])?.0);
        }
        let em_native = evs
            .iter()
            .map(value_i128)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| v.into_iter().max())
            .map(|m| match tamper {
                AttnTamper::ValueExpMax { delta } => m + delta as i128,
                _ => m,
            });
        let em = FpVar::new_witness(cs.clone(), || em_native.map(fr_i128).ok_or_else(missing))?;
        let em_bits = enforce_bits(&cs, &em, 6)?;
        let ediffs: Vec<FpVar<Fr>> = evs.iter().map(|e| &em - e).collect();
        let mut aligned = Vec::with_capacity(np);
        for (j, (dj, pj)) in ediffs.iter().zip(&ps).enumerate() {
            let bits = enforce_bits(&cs, dj, 6)?;
            let r = rne_div(
                &cs,
                pj,
                &pow2_bits(&bits),
                64,
                false,
                QRange::Unsigned(31),
                tamper == AttnTamper::AlignQuotient { key: j },
            )?;
            aligned.push(r.out);
        }
        is_one_of(&ediffs)?;
        let vals = (0..np)
            .map(|j| values_of(value_bits(j)))
            .collect::<R<Vec<_>>>()?;

        // 7. Output.
        // E + 32 > 60: 61, 62, 63 = 1111xy with x or y.
        let eb = &em_bits;
        let saturates = eb[5].clone()
            & eb[4].clone()
            & eb[3].clone()
            & eb[2].clone()
            & (eb[1].clone() | eb[0].clone());
        let pe = pow2_bits(&em_bits);
        let rb = ceil_log2(np) + 31;
        for i in 0..hd {
            let col: Vec<FpVar<Fr>> = vals.iter().map(|v| v[i].clone()).collect();
            let acc = dot(&cs, &aligned, &col)?;
            let r = rne_div(
                &cs,
                &(acc * &pe),
                &total,
                rb,
                false,
                QRange::Signed(OUT_QB),
                tamper == AttnTamper::OutQuotient { dim: i },
            )?;
            let clamped = clamp_i64(&cs, &r, OUT_QB)?;
            // The sign of acc is Q's (|Q| >= 2^19 unless acc = 0 when E + 32 > 60).
            let top = r.q_bits[OUT_QB as usize].clone();
            let (low_any, _) = any_all(&cs, &r.q_bits[..OUT_QB as usize])?;
            let pos = top.clone() & low_any;
            let neg = !top;
            let sign = FpVar::from(pos) * c_i64_max() + FpVar::from(neg) * c_i64_min();
            let out = &clamped + FpVar::from(saturates.clone()) * (sign - &clamped);
            out.enforce_equal(&signed(&cs, &out_bits[64 * i..64 * i + 64])?)?;
        }
        Ok(())
    }
}

fn c_i64_max() -> FpVar<Fr> {
    c(i64::MAX as i128)
}

fn c_i64_min() -> FpVar<Fr> {
    c(i64::MIN as i128)
}

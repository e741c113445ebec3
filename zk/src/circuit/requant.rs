//! The engine's requantization of one row, exactly: `y = shift_sat(v, s)` with
//! `v = acc * m` and `s = e + x_exp + 32` (`otr_engine::fixed::shift_sat`): `v * 2^s` for
//! `s >= 0`, `v / 2^-s` rounded half to even for `s < 0`, saturated to i64.
//!
//! With `|v| < 2^vb` (`vb` = [`crate::unit::UnitShape::value_bits`]):
//! 1. `s` is clamped to `[-(vb + 1), 63]`. This changes no result: a left shift by 63 of any
//!    nonzero `v` already saturates (or is exactly `i64::MIN` for `v = -1`), as does every larger
//!    one; a right shift by `vb + 1` or more rounds every `|v| < 2^vb` to 0.
//! 2. `u = |s|` (7 bits), `p = 2^u` from the bits of `u`.
//! 3. Left: `zl = v p`. Right: `v = q p + r` with `0 <= r < p` (both `r` and `p - 1 - r`
//!    range-checked), `|q| < 2^vb` range-checked; half `h = p / 2`; round up iff `r > h`, or
//!    `r = h` and `q` is odd; `zr = q + up`.
//! 4. `z = zl` if `s >= 0` else `zr`; `y = clamp(z, i64::MIN, i64::MAX)`; `y` is decomposed in
//!    64 bits (its two's-complement bytes feed the output commitment).
//!
//! No wrap-around modulo the field: `|q p| < 2^(vb + 75)`, `|zl| < 2^(vb + 75)`, all far below
//! `2^253`, so every field equation above is an integer equation.

use ark_bn254::Fr;
use ark_ff::{Field, One};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::R1CSVar;
use ark_relations::r1cs::SynthesisError;

use super::gadgets::{
    enforce_bits, fr_i128, fr_to_i128, is_nonneg, is_nonneg_flip, pow2, select_mul, Cs,
};

type R<T> = Result<T, SynthesisError>;

/// Dishonest variants for soundness tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequantTamper {
    /// Use the floor quotient (or ceiling) instead of the true division witness.
    pub quotient: bool,
    /// Flip the "remainder above half" bit.
    pub rounding_bit: bool,
}

/// Returns `y` and its 64 two's-complement bits (little-endian).
pub fn requant(
    cs: &Cs,
    acc: &FpVar<Fr>,
    m: &FpVar<Fr>,
    e: &FpVar<Fr>,
    x_exp: &FpVar<Fr>,
    vb: u32,
    tamper: RequantTamper,
) -> R<(FpVar<Fr>, Vec<Boolean<Fr>>)> {
    let s_min = -(vb as i128 + 1);
    let v = acc * m;
    // 1. clamp s (|s| < 2^33: e and x_exp are i32).
    let s = e + x_exp + FpVar::constant(Fr::from(32u64));
    let hi = is_nonneg(cs, &(&s - FpVar::constant(Fr::from(64u64))), 34)?;
    let lo = is_nonneg(cs, &(FpVar::constant(fr_i128(s_min - 1)) - &s), 34)?;
    let sc = &s
        + select_mul(&hi, &(FpVar::constant(Fr::from(63u64)) - &s))?
        + select_mul(&lo, &(FpVar::constant(fr_i128(s_min)) - &s))?;
    // 2. u = |sc|, p = 2^u.
    let neg = is_nonneg(cs, &(FpVar::constant(-Fr::one()) - &sc), 8)?;
    let u = &sc - select_mul(&neg, &sc.double()?)?;
    let u_bits = enforce_bits(cs, &u, 7)?;
    let mut p = FpVar::constant(Fr::one());
    for (j, b) in u_bits.iter().enumerate() {
        let factor = FpVar::constant(Fr::one())
            + FpVar::from(b.clone()) * FpVar::constant(pow2(1 << j) - Fr::one());
        p = if j == 0 { factor } else { p * factor };
    }
    // 3a. left shift.
    let zl = &v * &p;
    // 3b. right shift: v = q p + r.
    let qr = match (v.value(), p.value()) {
        (Ok(vv), Ok(pv)) => {
            let (vi, pi) = (fr_to_i128(vv), fr_to_i128(pv));
            match (vi, pi) {
                (Some(vi), Some(pi)) if pi > 0 => {
                    let (mut q, mut r) = (vi.div_euclid(pi), vi.rem_euclid(pi));
                    if tamper.quotient {
                        if r == 0 {
                            q += 1;
                            r -= pi;
                        } else {
                            q -= 1;
                            r += pi;
                        }
                    }
                    Some((fr_i128(q), fr_i128(r)))
                }
                _ => None,
            }
        }
        _ => None,
    };
    let q = FpVar::new_witness(cs.clone(), || {
        qr.map(|x| x.0).ok_or(SynthesisError::AssignmentMissing)
    })?;
    let r = FpVar::new_witness(cs.clone(), || {
        qr.map(|x| x.1).ok_or(SynthesisError::AssignmentMissing)
    })?;
    (&q * &p).enforce_equal(&(&v - &r))?;
    enforce_bits(cs, &r, vb + 1)?;
    enforce_bits(cs, &(&p - FpVar::constant(Fr::one()) - &r), vb + 1)?;
    let q_bits = enforce_bits(cs, &(&q + FpVar::constant(pow2(vb))), vb + 1)?;
    let odd = q_bits[0].clone();
    let half = select_mul(&neg, &p)? * FpVar::constant(Fr::from(2u64).inverse().expect("2 != 0"));
    let d = &r - &half;
    let gt = is_nonneg_flip(
        cs,
        &(&d - FpVar::constant(Fr::one())),
        vb + 2,
        tamper.rounding_bit,
    )?;
    let eq = d.is_eq(&FpVar::constant(Fr::from(0u64)))?;
    let tie_up = eq & odd;
    let zr = &q + FpVar::from(gt) + FpVar::from(tie_up);
    // 4. select and clamp.
    let z = &zr + select_mul(&!neg, &(&zl - &zr))?;
    let zb = vb + 76;
    let i64_max = fr_i128(i64::MAX as i128);
    let i64_min = fr_i128(i64::MIN as i128);
    let over = is_nonneg(cs, &(&z - FpVar::constant(i64_max + Fr::one())), zb)?;
    let under = is_nonneg(cs, &(FpVar::constant(i64_min - Fr::one()) - &z), zb)?;
    let y = &z
        + select_mul(&over, &(FpVar::constant(i64_max) - &z))?
        + select_mul(&under, &(FpVar::constant(i64_min) - &z))?;
    let mut bits = enforce_bits(cs, &(&y + FpVar::constant(pow2(63))), 64)?;
    bits[63] = !bits[63].clone();
    Ok((y, bits))
}

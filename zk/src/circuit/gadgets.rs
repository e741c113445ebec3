//! Small R1CS gadgets over BN254's scalar field: bit decompositions, signed integers from
//! bits, range checks and sign tests. Linear combinations are built directly (one symbolic
//! variable per combination), so only booleanity and products cost constraints.

use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, One, PrimeField, Zero};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::R1CSVar;
use ark_relations::lc;
use ark_relations::r1cs::{ConstraintSystemRef, LinearCombination, SynthesisError, Variable};

pub type Cs = ConstraintSystemRef<Fr>;
type R<T> = Result<T, SynthesisError>;

/// `2^k` as a field element (any `k < 254`).
pub fn pow2(k: u32) -> Fr {
    Fr::from(2u64).pow([k as u64])
}

/// A signed integer as a field element.
pub fn fr_i128(v: i128) -> Fr {
    if v < 0 {
        -Fr::from(v.unsigned_abs())
    } else {
        Fr::from(v as u128)
    }
}

/// A field element read as a signed integer of at most 126 bits (`None` if larger).
pub fn fr_to_i128(x: Fr) -> Option<i128> {
    let small = |y: Fr| -> Option<i128> {
        let b = y.into_bigint();
        if b.num_bits() > 126 {
            return None;
        }
        Some(b.0[0] as i128 | (b.0[1] as i128) << 64)
    };
    small(x).or_else(|| small(-x).map(|v| -v))
}

/// The linear combination of a field variable.
pub fn lc_of(x: &FpVar<Fr>) -> LinearCombination<Fr> {
    match x {
        FpVar::Constant(c) => lc!() + (*c, Variable::One),
        FpVar::Var(a) => lc!() + a.variable,
    }
}

/// Wraps a linear combination (and its value, when known) as a field variable: no constraint.
pub fn lc_var(cs: &Cs, lc: LinearCombination<Fr>, value: Option<Fr>) -> R<FpVar<Fr>> {
    let v = cs.new_lc(lc)?;
    Ok(FpVar::Var(AllocatedFp::new(value, v, cs.clone())))
}

/// `sum_i c_i b_i` over booleans, with its value.
pub fn weighted_bits(
    cs: &Cs,
    bits: &[Boolean<Fr>],
    coeffs: impl Iterator<Item = Fr>,
) -> R<FpVar<Fr>> {
    let mut lc = lc!();
    let mut value = Some(Fr::zero());
    for (b, c) in bits.iter().zip(coeffs) {
        lc = lc + (c, b.lc());
        value = match (value, b.value()) {
            (Some(v), Ok(bv)) => Some(if bv { v + c } else { v }),
            _ => None,
        };
    }
    lc_var(cs, lc, value)
}

/// Unsigned little-endian integer from bits.
pub fn unsigned(cs: &Cs, bits: &[Boolean<Fr>]) -> R<FpVar<Fr>> {
    weighted_bits(cs, bits, (0..bits.len() as u32).map(pow2))
}

/// Two's-complement little-endian integer from bits.
pub fn signed(cs: &Cs, bits: &[Boolean<Fr>]) -> R<FpVar<Fr>> {
    let n = bits.len() as u32;
    weighted_bits(
        cs,
        bits,
        (0..n).map(|i| if i + 1 == n { -pow2(i) } else { pow2(i) }),
    )
}

/// Witness booleans for the bits of `bytes` (little-endian within each byte); `bytes` is
/// `None` in setup mode, when only `len` matters.
pub fn byte_bits(cs: &Cs, bytes: Option<&[u8]>, len: usize) -> R<Vec<Boolean<Fr>>> {
    (0..8 * len)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                bytes
                    .and_then(|b| b.get(i / 8))
                    .map(|b| (b >> (i % 8)) & 1 == 1)
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect()
}

/// Enforces `0 <= x < 2^n` and returns the `n` bits of `x` (`n <= 252`).
pub fn enforce_bits(cs: &Cs, x: &FpVar<Fr>, n: u32) -> R<Vec<Boolean<Fr>>> {
    enforce_bits_flip(cs, x, n, None)
}

/// [`enforce_bits`], with the witness value of bit `flip` inverted (soundness tests only).
pub fn enforce_bits_flip(
    cs: &Cs,
    x: &FpVar<Fr>,
    n: u32,
    flip: Option<usize>,
) -> R<Vec<Boolean<Fr>>> {
    assert!(n <= 252);
    let value = x.value().ok().map(|v| v.into_bigint());
    let bits = (0..n as usize)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                value
                    .map(|b| b.get_bit(i) ^ (flip == Some(i)))
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect::<R<Vec<_>>>()?;
    let mut sum = lc!();
    for (i, b) in bits.iter().enumerate() {
        sum = sum + (pow2(i as u32), b.lc());
    }
    cs.enforce_constraint(lc!() + Variable::One, sum, lc_of(x))?;
    Ok(bits)
}

/// `x >= 0`, for `x` known to satisfy `|x| < 2^n`: the top bit of the `n + 1`-bit `x + 2^n`.
pub fn is_nonneg(cs: &Cs, x: &FpVar<Fr>, n: u32) -> R<Boolean<Fr>> {
    is_nonneg_flip(cs, x, n, false)
}

/// [`is_nonneg`], optionally with the answer's witness inverted (soundness tests only).
pub fn is_nonneg_flip(cs: &Cs, x: &FpVar<Fr>, n: u32, flip: bool) -> R<Boolean<Fr>> {
    let shifted = x + FpVar::constant(pow2(n));
    let bits = enforce_bits_flip(cs, &shifted, n + 1, flip.then_some(n as usize))?;
    Ok(bits[n as usize].clone())
}

/// `b * x` (one constraint).
pub fn select_mul(b: &Boolean<Fr>, x: &FpVar<Fr>) -> R<FpVar<Fr>> {
    Ok(FpVar::from(b.clone()) * x)
}

/// The one-hot vector of the number the bits spell (little-endian): entry `l` is `1` exactly
/// when the bits spell `l` (`2^k - 2` constraints for `k >= 1` bits).
pub fn one_hot(bits: &[Boolean<Fr>]) -> Vec<FpVar<Fr>> {
    let mut v = vec![FpVar::constant(Fr::one())];
    for b in bits {
        let bf = FpVar::from(b.clone());
        let len = v.len();
        let mut nv = vec![FpVar::zero(); 2 * len];
        for (idx, x) in v.iter().enumerate() {
            let xb = x * &bf;
            nv[idx] = x - &xb;
            nv[idx + len] = xb;
        }
        v = nv;
    }
    v
}

/// `sum_l coeffs[l] x[l]` for constant `coeffs`, as one linear combination (no constraint;
/// zero coefficients are left out).
pub fn constant_dot(cs: &Cs, coeffs: &[i128], x: &[FpVar<Fr>]) -> R<FpVar<Fr>> {
    let mut terms = Vec::with_capacity(coeffs.len());
    let mut value = Some(Fr::zero());
    for (&k, xv) in coeffs.iter().zip(x) {
        if k == 0 {
            continue;
        }
        let kf = fr_i128(k);
        match xv {
            FpVar::Constant(x0) => terms.push((kf * x0, Variable::One)),
            FpVar::Var(a) => terms.push((kf, a.variable)),
        }
        value = value.zip(xv.value().ok()).map(|(s, xv)| s + kf * xv);
    }
    let mut lc = LinearCombination(terms);
    lc.compactify();
    lc_var(cs, lc, value)
}

/// The constant one.
pub fn one() -> FpVar<Fr> {
    FpVar::constant(Fr::one())
}

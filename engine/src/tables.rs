//! Integer tables for the nonlinearities, built by documented procedures from
//! [`crate::detmath`] (only `+ - * /` on f64, then round half to even to integers).
//! [`tables_digest`] hashes them; a unit test pins the digest so a platform that computed
//! any entry differently is caught.

use crate::detmath;
use crate::fixed::{rshift_rne, W_FRAC};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Fractional bits of the 2^-x table entries.
pub const EXP2_FRAC: u32 = 30;
/// Index bits of the 2^-x table (1024 intervals on `[0, 1]`).
pub const EXP2_BITS: u32 = 10;
/// `log2(e)` with 30 fractional bits.
pub const LOG2E_Q30: i64 = 1_549_082_005;
/// Domain tag of an interpolation table's commitment ([`InterpTable::digest`]).
pub const INTERP_TABLE_TAG: &[u8] = b"OTR/interp-table/v1\0";
/// Fractional bits of the RoPE sin/cos values (14-bit tables: `1.0 = 16384`).
pub const ROPE_FRAC: u32 = 14;

fn to_int(v: f64, frac: u32) -> i64 {
    (v * crate::gguf::f16::pow2(frac as i32)).round_ties_even() as i64
}

/// A function sampled on `[lo, lo + n * 2^-step_bits]` at `n + 1` points (wide values), linear
/// interpolation between them; below the range the function is 0, above it the identity.
#[derive(Debug)]
pub struct InterpTable {
    pub lo: i64,
    pub step_bits: u32,
    pub values: Vec<i64>,
}

impl InterpTable {
    fn build(lo_real: i64, hi_real: i64, step_bits: u32, f: impl Fn(f64) -> f64) -> Self {
        let n = ((hi_real - lo_real) as usize) << step_bits;
        let step = crate::gguf::f16::pow2(-(step_bits as i32));
        let values = (0..=n)
            .map(|i| to_int(f(lo_real as f64 + i as f64 * step), W_FRAC))
            .collect();
        InterpTable {
            lo: lo_real << W_FRAC,
            step_bits,
            values,
        }
    }

    /// Canonical bytes, what the on-chain activation verifier hashes:
    /// `i64le(lo) || u32le(step_bits) || u32le(count) || count x i64le(value)`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(16 + 8 * self.values.len());
        b.extend_from_slice(&self.lo.to_le_bytes());
        b.extend_from_slice(&self.step_bits.to_le_bytes());
        b.extend_from_slice(&(self.values.len() as u32).to_le_bytes());
        for v in &self.values {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// `SHA-256("OTR/interp-table/v1\0" || canonical_bytes)`: the table's commitment.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(INTERP_TABLE_TAG)
            .chain_update(self.canonical_bytes())
            .finalize()
            .into()
    }

    /// `f(x)` for a wide `x`, by linear interpolation (rounded half to even).
    pub fn eval(&self, x: i64) -> i64 {
        let shift = W_FRAC - self.step_bits;
        let hi = self.lo + (((self.values.len() - 1) as i64) << shift);
        if x <= self.lo {
            return 0;
        }
        if x >= hi {
            return x;
        }
        let off = (x - self.lo) as u64;
        let i = (off >> shift) as usize;
        let rem = (off & ((1u64 << shift) - 1)) as i128;
        let (a, b) = (self.values[i] as i128, self.values[i + 1] as i128);
        (a + rshift_rne((b - a) * rem, shift)) as i64
    }
}

/// All tables.
#[derive(Debug)]
pub struct Tables {
    /// `2^(-k / 1024)` for `k = 0..=1024`, with [`EXP2_FRAC`] fractional bits.
    pub exp2_neg: Vec<i64>,
    /// GELU (tanh form), step 2^-8 on [-8, 8].
    pub gelu: InterpTable,
    /// SiLU, step 2^-7 on [-32, 32].
    pub silu: InterpTable,
}

fn gelu_tanh(x: f64) -> f64 {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    0.5 * x * (1.0 + detmath::tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
}

fn silu(x: f64) -> f64 {
    x / (1.0 + detmath::exp(-x))
}

/// The process-wide tables (built once).
pub fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| Tables {
        exp2_neg: (0..=1024)
            .map(|k| {
                to_int(
                    detmath::exp(-(k as f64) / 1024.0 * std::f64::consts::LN_2),
                    EXP2_FRAC,
                )
            })
            .collect(),
        gelu: InterpTable::build(-8, 8, 8, gelu_tanh),
        silu: InterpTable::build(-32, 32, 7, silu),
    })
}

/// Domain tag of the 2^-x table's commitment ([`exp2_table_digest`]).
pub const EXP2_TABLE_TAG: &[u8] = b"OTR/exp2-table/v1\0";

/// The 2^-x table ([`Tables::exp2_neg`], 1025 entries) as i64le: what the on-chain attention
/// verifier is given whole.
pub fn exp2_table_bytes() -> Vec<u8> {
    tables()
        .exp2_neg
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// `SHA-256("OTR/exp2-table/v1\0" || exp2_table_bytes())`: the commitment the on-chain
/// attention verifier is deployed with.
pub fn exp2_table_digest() -> [u8; 32] {
    Sha256::new()
        .chain_update(EXP2_TABLE_TAG)
        .chain_update(exp2_table_bytes())
        .finalize()
        .into()
}

/// `2^t` for a wide `t <= 0` (in units of 2^-32), as a value with [`EXP2_FRAC`] fractional bits.
pub fn exp2_neg_wide(t: i64) -> i64 {
    let t = t.min(0).unsigned_abs();
    let n = t >> W_FRAC;
    if n > EXP2_FRAC as u64 + 1 {
        return 0;
    }
    let frac = t & ((1u64 << W_FRAC) - 1);
    let shift = W_FRAC - EXP2_BITS;
    let i = (frac >> shift) as usize;
    let rem = (frac & ((1u64 << shift) - 1)) as i128;
    let tab = &tables().exp2_neg;
    let (a, b) = (tab[i] as i128, tab[i + 1] as i128);
    let v = a + rshift_rne((b - a) * rem, shift);
    rshift_rne(v, n as u32) as i64
}

/// `e^d` for a wide `d <= 0`, with [`EXP2_FRAC`] fractional bits (`d * log2 e`, then 2^x).
pub fn exp_neg_wide(d: i64) -> i64 {
    let t = rshift_rne(d as i128 * LOG2E_Q30 as i128, 30);
    exp2_neg_wide(t.max(i64::MIN as i128) as i64)
}

/// RoPE inverse frequencies `base^(-2i/dim)` for `i < dim/2`, as f64 (deterministic).
pub fn rope_inv_freq(base: f64, dim: usize) -> Vec<f64> {
    let lnb = detmath::ln(base);
    (0..dim / 2)
        .map(|i| detmath::exp(-((2 * i) as f64) / dim as f64 * lnb))
        .collect()
}

/// `(cos, sin)` of `pos * inv_freq[i]` with [`ROPE_FRAC`] fractional bits.
pub fn rope_cos_sin(pos: u32, inv_freq: &[f64]) -> Vec<(i32, i32)> {
    inv_freq
        .iter()
        .map(|&f| {
            let (s, c) = detmath::sin_cos(pos as f64 * f);
            (to_int(c, ROPE_FRAC) as i32, to_int(s, ROPE_FRAC) as i32)
        })
        .collect()
}

/// SHA-256 over every table entry and the RoPE tables of positions 0..4096 for bases 1e4 and
/// 1e6 at dim 256 (little-endian integers), pinned by a unit test.
pub fn tables_digest() -> [u8; 32] {
    let t = tables();
    let mut h = Sha256::new();
    for v in t
        .exp2_neg
        .iter()
        .chain(&t.gelu.values)
        .chain(&t.silu.values)
    {
        h.update(v.to_le_bytes());
    }
    for base in [10_000.0, 1_000_000.0] {
        let f = rope_inv_freq(base, 256);
        for p in 0..4096 {
            for (c, s) in rope_cos_sin(p, &f) {
                h.update(c.to_le_bytes());
                h.update(s.to_le_bytes());
            }
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::W_ONE;

    #[test]
    fn exp_table_accuracy() {
        for i in 0..2000 {
            let d = -(i as i64) * (W_ONE / 100);
            let got = exp_neg_wide(d) as f64 / (1u64 << EXP2_FRAC) as f64;
            let want = (-(i as f64) / 100.0).exp();
            assert!((got - want).abs() < 2e-6, "{i}: {got} {want}");
        }
        assert_eq!(exp_neg_wide(0), 1 << EXP2_FRAC);
    }

    #[test]
    fn gelu_accuracy() {
        let t = tables();
        for i in -1000..1000 {
            let x = i as f64 / 97.0;
            let got = t.gelu.eval((x * W_ONE as f64) as i64) as f64 / W_ONE as f64;
            let want = 0.5
                * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh());
            assert!((got - want).abs() < 1e-5, "{x}: {got} {want}");
        }
    }

    #[test]
    fn rope_tables_are_unit() {
        let f = rope_inv_freq(10_000.0, 64);
        for p in [0u32, 1, 100, 5000] {
            for (c, s) in rope_cos_sin(p, &f) {
                let n = (c as i64 * c as i64 + s as i64 * s as i64) as f64 / (1u64 << 28) as f64;
                assert!((n - 1.0).abs() < 3e-4);
            }
        }
    }

    #[test]
    fn interp_table_canonical_bytes_hold_the_table() {
        let t = tables();
        for tab in [&t.gelu, &t.silu] {
            let b = tab.canonical_bytes();
            assert_eq!(b.len(), 16 + 8 * tab.values.len());
            assert_eq!(i64::from_le_bytes(b[0..8].try_into().unwrap()), tab.lo);
            assert_eq!(
                u32::from_le_bytes(b[8..12].try_into().unwrap()),
                tab.step_bits
            );
            let n = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
            assert_eq!(n, tab.values.len());
            let last = i64::from_le_bytes(b[b.len() - 8..].try_into().unwrap());
            assert_eq!(last, tab.values[n - 1]);
            let d: [u8; 32] = Sha256::new()
                .chain_update(b"OTR/interp-table/v1\0")
                .chain_update(&b)
                .finalize()
                .into();
            assert_eq!(tab.digest(), d);
        }
        assert_ne!(t.gelu.digest(), t.silu.digest());
    }

    #[test]
    fn exp2_table_bytes_hold_the_table() {
        let b = exp2_table_bytes();
        let t = &tables().exp2_neg;
        assert_eq!(b.len(), 8 * 1025);
        assert_eq!(
            i64::from_le_bytes(b[..8].try_into().unwrap()),
            1 << EXP2_FRAC
        );
        assert_eq!(
            i64::from_le_bytes(b[8 * 1024..].try_into().unwrap()),
            t[1024]
        );
        let d: [u8; 32] = Sha256::new()
            .chain_update(b"OTR/exp2-table/v1\0")
            .chain_update(&b)
            .finalize()
            .into();
        assert_eq!(exp2_table_digest(), d);
    }

    #[test]
    fn tables_digest_pinned() {
        // A change here means the tables differ: every trace root changes with them.
        let d = hex::encode(tables_digest());
        assert_eq!(d, include_str!("tables_digest.txt").trim());
    }
}

//! The element-wise and attention operators, shared by the forward pass and step replay.
//! All integer; every rounding is half to even; see `engine/README.md` for the formulas.

use crate::fixed::{div_rne, isqrt_u128, rshift_rne, shift_sat, Act16, W_FRAC};
use crate::kernels::Kernel;
use crate::tables::{self, InterpTable, ROPE_FRAC};
use crate::weights::{QMatrix, BLOCK, NORM_FRAC};

/// RMSNorm: `y_i = h_i / sqrt(mean(h^2) + eps) * g_i`.
/// `ms = round(sum h_i^2 / n)` (64 fractional bits, saturating) `+ eps_q64`;
/// `rms = isqrt(ms)` (32 fractional bits); `inv = round(2^64 / rms)`;
/// `y_i = round(round(h_i * inv / 2^32) * g_i / 2^16)`.
pub fn rms_norm(h: &[i64], g: &[i32], eps_q64: u128) -> Vec<i64> {
    let mut ss: u128 = 0;
    for &x in h {
        let a = x.unsigned_abs() as u128;
        ss = ss.saturating_add(a.saturating_mul(a));
    }
    let n = h.len().max(1) as u128;
    let ms = (ss / n + u128::from(2 * (ss % n) >= n)).saturating_add(eps_q64);
    let rms = isqrt_u128(ms).max(1) as i128;
    let inv = div_rne(1i128 << 64, rms);
    h.iter()
        .zip(g)
        .map(|(&x, &w)| {
            let t = rshift_rne(x as i128 * inv, W_FRAC);
            shift_sat(t * w as i128, -(NORM_FRAC as i32))
        })
        .collect()
}

/// Row `r` of an int8 matrix as wide values: `q * b * m * 2^e`, then times `scale_q32 / 2^32`.
pub fn embed_row(m: &QMatrix, r: usize, scale_q32: i64) -> Vec<i64> {
    let q = &m.q[r * m.cols..(r + 1) * m.cols];
    let bs = &m.bscale[r * m.cols / BLOCK..(r + 1) * m.cols / BLOCK];
    q.iter()
        .enumerate()
        .map(|(i, &x)| {
            let v = shift_sat(
                x as i128 * bs[i / BLOCK] as i128 * m.rm[r] as i128,
                m.re[r] + W_FRAC as i32,
            );
            shift_sat(v as i128 * scale_q32 as i128, -32)
        })
        .collect()
}

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs `(i, i + d/2)` (GPT-NeoX; Gemma).
    Neox,
    /// Pairs `(2i, 2i + 1)` (llama.cpp "normal"; Llama GGUFs).
    Normal,
}

/// Rotates one head in place: `(a, b) -> ((a c - b s) / 2^14, (b c + a s) / 2^14)`.
pub fn rope(x: &mut [i64], cs: &[(i32, i32)], style: RopeStyle) {
    let half = x.len() / 2;
    for (i, &(c, s)) in cs.iter().enumerate().take(half) {
        let (ia, ib) = match style {
            RopeStyle::Neox => (i, i + half),
            RopeStyle::Normal => (2 * i, 2 * i + 1),
        };
        let (a, b) = (x[ia] as i128, x[ib] as i128);
        x[ia] = shift_sat(a * c as i128 - b * s as i128, -(ROPE_FRAC as i32));
        x[ib] = shift_sat(b * c as i128 + a * s as i128, -(ROPE_FRAC as i32));
    }
}

/// Exact i16 dot product (each product fits i32: `|a_i b_i| <= 2^30`; the sum is i64).
#[inline(always)]
pub fn dot16(a: &[i16], b: &[i16]) -> i64 {
    // A plain loop (no closures), so that it is compiled with the features of the function it
    // is inlined into.
    let n = a.len().min(b.len());
    let mut s = 0i64;
    for i in 0..n {
        s += (a[i] as i32 * b[i] as i32) as i64;
    }
    s
}

/// `round(v * 2^shift / den)`, `den > 0`; 0 when the shift makes the result vanish.
fn scaled_div(v: i128, shift: i32, den: i128) -> i64 {
    let r = if shift >= 0 {
        if shift > 60 {
            return if v == 0 {
                0
            } else if v > 0 {
                i64::MAX
            } else {
                i64::MIN
            };
        }
        div_rne(v << shift, den)
    } else {
        let k = (-shift) as u32;
        if k > 126 - (128 - den.leading_zeros()).min(126) {
            return 0;
        }
        div_rne(v, den << k)
    };
    r.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// One head of attention for one query over the keys/values `ks`, `vs` (already restricted to
/// the positions it may see). Scores `s_j = (q . k_j) * scale * 2^(e_q + e_kj)` (wide);
/// weights `p_j = 2^((s_j - max s) log2 e)` by the 2^x table (30 fractional bits);
/// `out = sum_j p_j v_j / sum_j p_j`, with each `p_j` aligned to the largest value exponent
/// `E`: `p'_j = round(p_j / 2^(E - e_vj))`, `acc = sum p'_j v_j` (exact i64),
/// `out = round(acc * 2^(E + 32) / sum p_j)`.
///
/// `kernel` picks how the loops are compiled (the scalar reference, or the same code built with
/// AVX2 / AVX-512 enabled, detected at run time); integer arithmetic makes them the same bits.
pub fn attend(kernel: Kernel, q: &Act16, ks: &[&Act16], vs: &[&Act16], scale_q32: i64) -> Vec<i64> {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if crate::kernels::avx512::detected() => {
            // SAFETY: the CPU has the features (checked above).
            unsafe { attend_avx512(q, ks, vs, scale_q32) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { attend_avx2(q, ks, vs, scale_q32) }
        }
        _ => attend_body(q, ks, vs, scale_q32),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn attend_avx2(q: &Act16, ks: &[&Act16], vs: &[&Act16], scale_q32: i64) -> Vec<i64> {
    attend_body(q, ks, vs, scale_q32)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn attend_avx512(q: &Act16, ks: &[&Act16], vs: &[&Act16], scale_q32: i64) -> Vec<i64> {
    attend_body(q, ks, vs, scale_q32)
}

#[inline(always)]
fn attend_body(q: &Act16, ks: &[&Act16], vs: &[&Act16], scale_q32: i64) -> Vec<i64> {
    let d = q.q.len();
    let mut scores: Vec<i64> = Vec::with_capacity(ks.len());
    for k in ks {
        let d = dot16(&q.q, &k.q);
        scores.push(shift_sat(d as i128 * scale_q32 as i128, q.exp + k.exp));
    }
    let m = scores.iter().copied().max().unwrap_or(0);
    let p: Vec<i64> = scores
        .iter()
        .map(|&s| tables::exp_neg_wide(s.saturating_sub(m)))
        .collect();
    let total: i64 = p.iter().sum();
    let e_max = vs.iter().map(|v| v.exp).max().unwrap_or(0);
    let mut acc = vec![0i64; d];
    for (pj, v) in p.iter().zip(vs) {
        // `p_j <= 2^30` (the 2^x table's 1.0), so `pp` fits i32 and each product i64.
        let pp = rshift_rne(*pj as i128, (e_max - v.exp) as u32) as i32;
        if pp == 0 {
            continue;
        }
        for (a, &x) in acc.iter_mut().zip(&v.q) {
            *a += pp as i64 * x as i64;
        }
    }
    acc.iter()
        .map(|&a| scaled_div(a as i128, e_max + W_FRAC as i32, total.max(1) as i128))
        .collect()
}

/// Gated activation: `round(f(gate_i) * up_i / 2^32)`, `f` by table with interpolation.
pub fn gated(gate: &[i64], up: &[i64], f: &InterpTable) -> Vec<i64> {
    gate.iter()
        .zip(up)
        .map(|(&g, &u)| shift_sat(f.eval(g) as i128 * u as i128, -(W_FRAC as i32)))
        .collect()
}

/// Saturating element-wise sum.
pub fn add(a: &[i64], b: &[i64]) -> Vec<i64> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x.saturating_add(y))
        .collect()
}

/// Splits a wide vector into `heads` equal heads, each quantized to its own [`Act16`].
pub fn per_head_act(v: &[i64], heads: usize) -> Vec<Act16> {
    v.chunks(v.len() / heads.max(1))
        .map(Act16::from_wide)
        .collect()
}

//! The element-wise and attention operators, shared by the forward pass and step replay.
//! All integer; every rounding is half to even; see `engine/README.md` for the formulas.

use crate::fixed::{div_rne, isqrt_u128, rne_shr_i64, rshift_rne, shift_sat, Act16, W_FRAC};
use crate::kernels::Kernel;
use crate::tables::{self, InterpTable, ROPE_FRAC};
use crate::weights::{QMatrix, BLOCK, NORM_FRAC};

/// RMSNorm: `y_i = h_i / sqrt(mean(h^2) + eps) * g_i`.
/// `ms = round(sum h_i^2 / n)` (64 fractional bits, saturating) `+ eps_q64`;
/// `rms = isqrt(ms)` (32 fractional bits); `inv = round(2^64 / rms)`;
/// `y_i = round(round(h_i * inv / 2^32) * g_i / 2^16)`.
pub fn rms_norm(h: &[i64], g: &[i32], eps_q64: u128) -> Vec<i64> {
    let max_x = h.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
    let n = h.len().max(1) as u128;
    let bits = |v: u128| 128 - v.leading_zeros();
    // Each square is below 2^126; when `n` of them cannot reach 2^128 the sum needs no
    // saturation (the same value as the saturating sum below).
    let ss: u128 = if 2 * bits(max_x as u128) + bits(n) <= 128 {
        h.iter()
            .map(|&x| {
                let a = x.unsigned_abs() as u128;
                a * a
            })
            .sum()
    } else {
        h.iter().fold(0u128, |ss, &x| {
            let a = x.unsigned_abs() as u128;
            ss.saturating_add(a.saturating_mul(a))
        })
    };
    let ms = (ss / n + u128::from(2 * (ss % n) >= n)).saturating_add(eps_q64);
    let rms = isqrt_u128(ms).max(1) as i128;
    let inv = div_rne(1i128 << 64, rms);
    // Fast path, the same integers: with `|x| < 2^bx` and `inv < 2^bi`, `x * inv` fits i128,
    // `t = round(x * inv / 2^32)` is at most `2^(bx + bi - 32)` and `t * w` fits i64 when
    // `bx + bi - 32 + bw <= 62`, so neither rounding step can saturate.
    let max_w = g.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0);
    let (bx, bi, bw) = (bits(max_x as u128), bits(inv as u128), bits(max_w as u128));
    if inv < 1i128 << 63 && bx + bi <= 94 && (bx + bi).saturating_sub(W_FRAC) + bw <= 62 {
        return h
            .iter()
            .zip(g)
            .map(|(&x, &w)| {
                let t = rne_shr_i128(x as i128 * inv, W_FRAC);
                rne_shr_i64(t * w as i64, NORM_FRAC)
            })
            .collect();
    }
    h.iter()
        .zip(g)
        .map(|(&x, &w)| {
            let t = rshift_rne(x as i128 * inv, W_FRAC);
            shift_sat(t * w as i128, -(NORM_FRAC as i32))
        })
        .collect()
}

/// `round(v / 2^s)` (half to even) for `1 <= s < 64` and `|v| < 2^126`, branch-free (see
/// [`rshift_rne`]); the caller knows the result fits i64.
#[inline(always)]
fn rne_shr_i128(v: i128, s: u32) -> i64 {
    let odd = (v >> s) & 1;
    ((v + ((1i128 << (s - 1)) - 1 + odd)) >> s) as i64
}

/// Division rounded half to even by one divisor `d` (`1 <= d < 2^63`), many numerators: a
/// reciprocal `m = floor((2^128 - 1) / d)` computed once turns each division into a
/// multiplication, corrected to the exact quotient, so [`RecipDiv::div_rne`] equals
/// [`div_rne`].
#[derive(Clone, Copy, Debug)]
pub struct RecipDiv {
    d: u128,
    m: u128,
}

/// The high 128 bits of the 256-bit product `a * b`.
#[inline(always)]
fn mulhi_u128(a: u128, b: u128) -> u128 {
    const LO: u128 = u64::MAX as u128;
    let (a0, a1, b0, b1) = (a & LO, a >> 64, b & LO, b >> 64);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & LO) + (p10 & LO);
    p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64)
}

impl RecipDiv {
    /// `None` unless `1 <= d < 2^63`.
    pub fn new(d: i128) -> Option<RecipDiv> {
        (1..1i128 << 63).contains(&d).then(|| RecipDiv {
            d: d as u128,
            m: u128::MAX / d as u128,
        })
    }

    /// `round(n / d)`, ties to even, for `|n| / d < 2^64` (the caller's bound; then every
    /// product below fits). Rounding half to even is odd-symmetric, so the sign is put back
    /// after dividing `|n|`.
    #[inline]
    pub fn div_rne(&self, n: i128) -> i128 {
        let a = n.unsigned_abs();
        // `m >= 2^128 / d - 1`, so `a / d - a m / 2^128 <= a / 2^128 < 1`: the estimate is the
        // floor of the quotient or one or two below it.
        let mut q = mulhi_u128(a, self.m);
        let mut r = a - q * self.d;
        while r >= self.d {
            q += 1;
            r -= self.d;
        }
        // `r < d < 2^63`, so `2r` does not overflow.
        let up = 2 * r > self.d || (2 * r == self.d && q & 1 == 1);
        let q = (q + u128::from(up)) as i128;
        if n < 0 {
            -q
        } else {
            q
        }
    }
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
    scaled_div_all(&acc, e_max + W_FRAC as i32, total.max(1) as i128)
}

/// [`scaled_div`] of every element of `acc`. `a << shift` over `den`, or `a` over
/// `den << -shift`, is one divisor for the whole head: a reciprocal ([`RecipDiv`]) when the
/// shifted values and the divisor fit i64 (`den`, a sum of weights of at most 2^30, does).
pub(crate) fn scaled_div_all(acc: &[i64], shift: i32, den: i128) -> Vec<i64> {
    let bits = |v: u128| 128 - v.leading_zeros() as i32;
    let max_a = acc.iter().map(|a| a.unsigned_abs()).max().unwrap_or(0) as u128;
    if (0..=60).contains(&shift) && den >= 1 {
        // `|a << shift| < 2^(ba + shift) <= 2^123` and the quotient is below
        // `2^(ba + shift - bd + 1) <= 2^62`: no saturation, and `RecipDiv`'s bound holds.
        if bits(max_a) + shift - bits(den as u128) < 62 {
            if let Some(rd) = RecipDiv::new(den) {
                return acc
                    .iter()
                    .map(|&a| rd.div_rne((a as i128) << shift) as i64)
                    .collect();
            }
        }
    } else if (-62..0).contains(&shift) {
        // The quotient of an i64 by a divisor of at least 1 is below 2^63 + 1.
        if let Some(rd) = RecipDiv::new(den << -shift) {
            return acc.iter().map(|&a| rd.div_rne(a as i128) as i64).collect();
        }
    }
    acc.iter()
        .map(|&a| scaled_div(a as i128, shift, den))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix;

    /// The definition of [`rms_norm`], every product in i128 with saturation, no fast paths.
    fn rms_norm_reference(h: &[i64], g: &[i32], eps_q64: u128) -> Vec<i64> {
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

    fn wide(r: &mut SplitMix, bits: u64) -> i64 {
        (r.next() as i64) >> (64 - bits.clamp(1, 64))
    }

    #[test]
    fn rms_norm_fast_paths_equal_the_definition() {
        let mut r = SplitMix(7);
        for case in 0..3000u64 {
            let n = 1 + (r.next() % 300) as usize;
            let xb = 1 + r.next() % 64;
            let wb = 1 + r.next() % 32;
            let mut h: Vec<i64> = (0..n).map(|_| wide(&mut r, xb)).collect();
            let g: Vec<i32> = (0..n).map(|_| wide(&mut r, wb) as i32).collect();
            match case % 7 {
                0 => h[0] = i64::MIN,
                1 => h[n - 1] = i64::MAX,
                2 => h.iter_mut().for_each(|x| *x = 0),
                3 => h.iter_mut().for_each(|x| *x = i64::MIN),
                _ => {}
            }
            let eps = [0u128, 1, 1 << 40, u128::MAX][(case % 4) as usize];
            assert_eq!(
                rms_norm(&h, &g, eps),
                rms_norm_reference(&h, &g, eps),
                "case {case}"
            );
        }
    }

    #[test]
    fn reciprocal_division_equals_div_rne() {
        let mut r = SplitMix(11);
        let mut ds: Vec<i128> = vec![1, 2, 3, 5, 7, 1 << 30, (1 << 62) + 1, i64::MAX as i128];
        for _ in 0..2000 {
            ds.push(((r.next() >> (1 + r.next() % 63)) as i128).max(1));
        }
        for d in ds {
            let rd = RecipDiv::new(d).expect("in range");
            let mut ns = vec![0i64, 1, -1, i64::MIN, i64::MAX, i64::MIN + 1];
            for m in [1i128, 3] {
                // Ties and their neighbours.
                for e in [-1i128, 0, 1] {
                    let v = d * m / 2 + e;
                    if let Ok(v) = i64::try_from(v) {
                        ns.extend([v, -v]);
                    }
                }
            }
            for _ in 0..50 {
                ns.push((r.next() as i64) >> (r.next() % 64));
            }
            for n in ns {
                assert_eq!(rd.div_rne(n as i128), div_rne(n as i128, d), "{n} / {d}");
                let wide = (n as i128) << (r.next() % 64);
                if wide.unsigned_abs() / (d as u128) < 1 << 64 {
                    assert_eq!(rd.div_rne(wide), div_rne(wide, d), "{wide} / {d}");
                }
            }
        }
        assert!(RecipDiv::new(0).is_none());
        // The attention's division of a whole head, against `scaled_div` element by element.
        for case in 0..4000u64 {
            let shift = (r.next() % 160) as i32 - 80;
            let den = ((r.next() >> (r.next() % 64)) as i128).max(1) << (case % 3 * 20);
            let bits = 1 + r.next() % 64;
            let acc: Vec<i64> = (0..1 + r.next() % 40)
                .map(|_| (r.next() as i64) >> (64 - bits))
                .collect();
            let want: Vec<i64> = acc
                .iter()
                .map(|&a| scaled_div(a as i128, shift, den))
                .collect();
            assert_eq!(
                scaled_div_all(&acc, shift, den),
                want,
                "shift {shift} den {den}"
            );
        }
        assert!(RecipDiv::new(1 << 63).is_none());
    }
}

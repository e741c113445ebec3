//! Fixed-point conventions and exact integer helpers.
//!
//! - **Wide** values (residual stream and every element-wise intermediate) are `i64` with
//!   [`W_FRAC`] = 32 fractional bits: about 31 integer bits (the residual outlier channel,
//!   up to about 1e5, needs 17) and a resolution of 2^-32.
//! - **Activations** entering a matrix product are `i16` with one power-of-two exponent per
//!   token (and per head where stated): `real = q * 2^exp`, chosen so that `max |q| <= 32767`.
//! - Every right shift rounds half to even ([`rshift_rne`]); every conversion saturates.

/// Fractional bits of wide values.
pub const W_FRAC: u32 = 32;
/// `1.0` as a wide value.
pub const W_ONE: i64 = 1 << W_FRAC;

/// `v / 2^s` rounded to nearest, ties to even (`s` may exceed 127: the result is then 0).
#[inline]
pub fn rshift_rne(v: i128, s: u32) -> i128 {
    if s == 0 {
        return v;
    }
    if s >= 127 {
        return 0;
    }
    // Branch-free: with `v = q 2^s + r`, `0 <= r < 2^s`, adding `2^(s-1) - 1 + (q & 1)` carries
    // into `q` exactly when `r > 2^(s-1)`, or `r = 2^(s-1)` and `q` is odd.
    if s < 64 && v as i64 as i128 == v {
        return rne_shr_i64(v as i64, s) as i128;
    }
    let odd = (v >> s) & 1;
    if let Some(t) = v.checked_add((1i128 << (s - 1)) - 1 + odd) {
        return t >> s;
    }
    let q = v >> s; // floor
    let r = v - (q << s); // 0 <= r < 2^s
    let half = 1i128 << (s - 1);
    if r > half || (r == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// [`rshift_rne`] of an `i64` for `1 <= s <= 63` (the result always fits), branch-free in
/// 64-bit arithmetic: `q = floor(v / 2^s)`, `r = v - q 2^s`, and `r + 2^(s-1) - 1 + (q & 1)`
/// (below 2^64) reaches 2^s exactly when the quotient rounds up.
#[inline(always)]
pub fn rne_shr_i64(v: i64, s: u32) -> i64 {
    let q = v >> s;
    let r = (v as u64) & ((1u64 << s) - 1);
    q + ((r + (1u64 << (s - 1)) - 1 + (q & 1) as u64) >> s) as i64
}

/// `v * 2^s` for any signed `s`, rounding half to even when shifting right, saturating to i64.
pub fn shift_sat(v: i128, s: i32) -> i64 {
    let r = if s >= 0 {
        if s >= 100 || v.unsigned_abs() > (i128::MAX >> s) as u128 {
            if v == 0 {
                0
            } else if v > 0 {
                i128::MAX
            } else {
                i128::MIN
            }
        } else {
            v << s
        }
    } else {
        rshift_rne(v, (-s) as u32)
    };
    r.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `round(n / d)` with ties to even, `d > 0`.
pub fn div_rne(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    // Both within i64 (the common case): the same quotient and remainder in i64 division.
    if n as i64 as i128 == n && d as i64 as i128 == d {
        let (n, d) = (n as i64, d as i64);
        let q = n.div_euclid(d);
        let r = n.rem_euclid(d); // 0 <= r < d, so d - r does not overflow
        let up = r > d - r || (r == d - r && q & 1 == 1);
        return q as i128 + i128::from(up);
    }
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d); // 0 <= r < d
    let twice = 2 * r;
    if twice > d || (twice == d && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// `floor(sqrt(n))`, exactly.
pub fn isqrt_u128(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    // Newton's method from an over-estimate converges monotonically to floor(sqrt(n)).
    let bits = 128 - n.leading_zeros();
    let mut x = 1u128 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// An `i16` vector with one power-of-two scale: `real[i] = q[i] * 2^exp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Act16 {
    pub q: Vec<i16>,
    pub exp: i32,
}

impl Act16 {
    /// Quantizes wide values: the smallest shift `s >= 0` with every `|round(v / 2^s)| <= 32767`.
    pub fn from_wide(v: &[i64]) -> Act16 {
        let max = v.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        let mut s = (64 - max.leading_zeros()).saturating_sub(15);
        while s < 64 && rshift_rne(max as i128, s) > 32767 {
            s += 1;
        }
        // One shift for the whole vector: the 64-bit rounding (`s < 64`), or nothing left.
        let q = match s {
            0 => v.iter().map(|&x| x as i16).collect(),
            1..=63 => v.iter().map(|&x| rne_shr_i64(x, s) as i16).collect(),
            _ => v.iter().map(|&x| rshift_rne(x as i128, s) as i16).collect(),
        };
        Act16 {
            q,
            exp: s as i32 - W_FRAC as i32,
        }
    }

    /// Back to wide values (exact when `exp >= -32`).
    pub fn to_wide(&self) -> Vec<i64> {
        self.q
            .iter()
            .map(|&x| shift_sat(x as i128, self.exp + W_FRAC as i32))
            .collect()
    }

    /// Canonical bytes: `exp` (i32 LE) then the values (i16 LE).
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(4 + 2 * self.q.len());
        self.append_bytes(&mut b);
        b
    }

    /// Appends [`Act16::bytes`] to `b`.
    pub fn append_bytes(&self, b: &mut Vec<u8>) {
        let at = b.len();
        b.resize(at + 4 + 2 * self.q.len(), 0);
        b[at..at + 4].copy_from_slice(&self.exp.to_le_bytes());
        for (c, x) in b[at + 4..].chunks_exact_mut(2).zip(&self.q) {
            c.copy_from_slice(&x.to_le_bytes());
        }
    }
}

/// Canonical bytes of a wide vector (i64 LE).
pub fn wide_bytes(v: &[i64]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 * v.len());
    for x in v {
        b.extend_from_slice(&x.to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rshift_rne` in i128 arithmetic only (the definition the i64 path must equal).
    fn rshift_rne_i128(v: i128, s: u32) -> i128 {
        if s == 0 {
            return v;
        }
        if s >= 127 {
            return 0;
        }
        let q = v >> s;
        let r = v - (q << s);
        let half = 1i128 << (s - 1);
        if r > half || (r == half && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    }

    /// `div_rne` in i128 arithmetic only.
    fn div_rne_i128(n: i128, d: i128) -> i128 {
        let q = n.div_euclid(d);
        let r = n.rem_euclid(d);
        let twice = 2 * r;
        if twice > d || (twice == d && q & 1 == 1) {
            q + 1
        } else {
            q
        }
    }

    #[test]
    fn div_rne_i64_path_equals_i128_arithmetic() {
        let mut r = crate::rng::SplitMix(23);
        let mut cases = Vec::new();
        for _ in 0..100_000 {
            let n = (r.next() as i64 >> (r.next() % 64)) as i128;
            let d = ((r.next() >> (r.next() % 64)) as i64).max(1) as i128;
            cases.push((n, d));
        }
        for d in [
            1i128,
            2,
            3,
            4,
            7,
            i64::MAX as i128,
            (i64::MAX - 1) as i128,
            1 << 62,
        ] {
            for n in [
                0i128,
                1,
                -1,
                d / 2,
                -(d / 2),
                d / 2 + 1,
                3 * d / 2,
                -3 * d / 2,
                5,
                -5,
            ] {
                cases.push((n, d));
            }
            cases.push((i64::MIN as i128, d));
            cases.push((i64::MAX as i128, d));
            cases.push((i128::MAX / 4, d));
        }
        for (n, d) in cases {
            assert_eq!(div_rne(n, d), div_rne_i128(n, d), "{n} / {d}");
        }
    }

    #[test]
    fn rne_i64_path_equals_i128_arithmetic() {
        let mut r = crate::rng::SplitMix(17);
        let mut vs: Vec<i128> = (0..100_000)
            .map(|_| {
                let hi = r.next() as i128;
                (hi << 64 | r.next() as i128) >> (r.next() % 127)
            })
            .collect();
        for k in 0..66u32 {
            let p = 1i128 << k;
            vs.extend([p, -p, p - 1, -p + 1, p + 1, -p - 1, 3 * p / 2, -3 * p / 2]);
        }
        vs.extend([i64::MAX as i128, i64::MIN as i128, i128::MAX, i128::MIN]);
        for &v in &vs {
            for s in [
                0u32, 1, 2, 3, 7, 16, 31, 32, 33, 47, 61, 62, 63, 64, 100, 126, 127, 200,
            ] {
                assert_eq!(rshift_rne(v, s), rshift_rne_i128(v, s), "{v} >> {s}");
            }
        }
    }

    #[test]
    fn rne_rounding() {
        assert_eq!(rshift_rne(5, 1), 2); // 2.5 -> 2
        assert_eq!(rshift_rne(7, 1), 4); // 3.5 -> 4
        assert_eq!(rshift_rne(-5, 1), -2);
        assert_eq!(rshift_rne(-7, 1), -4);
        assert_eq!(rshift_rne(6, 2), 2); // 1.5 -> 2
        assert_eq!(rshift_rne(-6, 2), -2);
        assert_eq!(div_rne(5, 2), 2);
        assert_eq!(div_rne(7, 2), 4);
        assert_eq!(div_rne(-5, 2), -2);
        assert_eq!(div_rne(10, 3), 3);
    }

    #[test]
    fn isqrt_exact() {
        for n in 0u128..5000 {
            let r = isqrt_u128(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}");
        }
        let big = (1u128 << 100) + 12345;
        let r = isqrt_u128(big);
        assert!(r * r <= big && (r + 1) * (r + 1) > big);
    }

    #[test]
    fn act16_quantization() {
        let v = [W_ONE * 3, -W_ONE, 0, W_ONE / 2];
        let a = Act16::from_wide(&v);
        assert!(a.q.iter().all(|x| x.unsigned_abs() <= 32767));
        assert_eq!(a.to_wide(), v.to_vec());
        let z = Act16::from_wide(&[0, 0]);
        assert_eq!(z.q, vec![0, 0]);
    }

    #[test]
    fn act16_fast_shift_equals_the_definition() {
        let mut r = crate::rng::SplitMix(29);
        for case in 0..5000u64 {
            let bits = 1 + case % 64;
            let mut v: Vec<i64> = (0..1 + r.next() % 50)
                .map(|_| (r.next() as i64) >> (64 - bits))
                .collect();
            match case % 5 {
                0 => v[0] = i64::MIN,
                1 => v[0] = i64::MAX,
                2 => v[0] = -32768,
                _ => {}
            }
            let a = Act16::from_wide(&v);
            let s = (a.exp + W_FRAC as i32) as u32;
            let want: Vec<i16> = v.iter().map(|&x| rshift_rne(x as i128, s) as i16).collect();
            assert_eq!(a.q, want, "{v:?}");
            assert!(a.q.iter().all(|x| x.unsigned_abs() <= 32767));
        }
    }
}

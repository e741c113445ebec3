//! Deterministic elementary functions on f64 using only `+ - * /` (IEEE-754 correctly
//! rounded on every platform), never the platform's libm. Used only to build the integer
//! tables and at model conversion; their outputs are rounded to integers and hashed in tests.

/// `e^x` for `|x| <= 64`: `x = k ln2 + r` with `|r| <= ln2/2`, a 30-term Taylor series for
/// `e^r`, then an exact power-of-two scaling.
pub fn exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    const LN2: f64 = std::f64::consts::LN_2;
    let k = (x / LN2).round_ties_even();
    let r = x - k * LN2;
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    for n in 1..30 {
        term = term * r / n as f64;
        sum += term;
    }
    let mut k = k as i32;
    let mut out = sum;
    while k > 1000 {
        out *= crate::gguf::f16::pow2(1000);
        k -= 1000;
    }
    while k < -1000 {
        out *= crate::gguf::f16::pow2(-1000);
        k += 1000;
    }
    out * crate::gguf::f16::pow2(k)
}

/// `ln(x)` for `x > 0`: `x = m 2^e` with `m` in `[1, 2)`, then `ln m = 2 atanh((m-1)/(m+1))`.
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0f64;
    for n in 0..60 {
        sum += term / (2 * n + 1) as f64;
        term *= t2;
    }
    2.0 * sum + e as f64 * std::f64::consts::LN_2
}

/// `tanh(x)` from [`exp`].
pub fn tanh(x: f64) -> f64 {
    if x > 20.0 {
        return 1.0;
    }
    if x < -20.0 {
        return -1.0;
    }
    let e = exp(2.0 * x);
    (e - 1.0) / (e + 1.0)
}

/// `(sin x, cos x)`: reduction modulo 2 pi in two f64 parts, then Taylor series on `[-pi, pi]`.
pub fn sin_cos(x: f64) -> (f64, f64) {
    const TWO_PI_HI: f64 = std::f64::consts::TAU;
    const TWO_PI_LO: f64 = 2.449_293_598_294_706_4e-16;
    let k = (x / TWO_PI_HI).round_ties_even();
    let r = (x - k * TWO_PI_HI) - k * TWO_PI_LO;
    let r2 = r * r;
    let (mut s, mut c) = (0.0f64, 0.0f64);
    let mut ts = r;
    let mut tc = 1.0f64;
    for n in 0..30 {
        s += ts;
        c += tc;
        let a = (2 * n + 2) as f64;
        let b = (2 * n + 3) as f64;
        ts = -ts * r2 / (a * b);
        tc = -tc * r2 / ((a - 1.0) * a);
    }
    (s, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_std() {
        for i in -200..200 {
            let x = i as f64 * 0.173;
            assert!((exp(x / 4.0) - (x / 4.0).exp()).abs() <= 1e-13 * (x / 4.0).exp());
            let (s, c) = sin_cos(x * 10.0);
            assert!((s - (x * 10.0).sin()).abs() < 1e-12, "{x}");
            assert!((c - (x * 10.0).cos()).abs() < 1e-12);
            assert!((tanh(x / 10.0) - (x / 10.0).tanh()).abs() < 1e-14);
        }
        for v in [1e-6, 0.5, 1.0, 2.0, 10000.0, 1e6] {
            assert!((ln(v) - f64::ln(v)).abs() < 1e-13 * f64::ln(v).abs().max(1.0));
        }
    }
}

//! The scalar reference kernel: the definition every SIMD kernel must match bit for bit.

use crate::weights::BLOCK;

/// `sum_k bs[k] * sum_{i < 32} q[32k+i] * x[32k+i]`. Each block sum fits i32
/// (`32 * 127 * 32768 < 2^31`); the total is accumulated in i64.
pub fn dot(q: &[i8], bs: &[u8], x: &[i16]) -> i64 {
    let mut acc = 0i64;
    for ((qb, xb), &b) in q.chunks_exact(BLOCK).zip(x.chunks_exact(BLOCK)).zip(bs) {
        let mut s = 0i32;
        for (&a, &c) in qb.iter().zip(xb) {
            s += a as i32 * c as i32;
        }
        acc += b as i64 * s as i64;
    }
    acc
}

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

/// Prescales one row for the matrix-matrix kernels: `w[i] = bs[i / 32] * q[i]`
/// (`|w| <= 31 * 127 = 3937`, exact in i16), so that `sum_i w[i] * x[i]` is [`dot`].
pub fn prescale(q: &[i8], bs: &[u8], w: &mut [i16]) {
    for ((qb, wb), &b) in q.chunks_exact(BLOCK).zip(w.chunks_exact_mut(BLOCK)).zip(bs) {
        for (o, &a) in wb.iter_mut().zip(qb) {
            *o = a as i16 * b as i16;
        }
    }
}

/// `sum_i w[i] * x[i]` of a prescaled row, in i64: equal to [`dot`] of the unscaled row.
pub fn dot_pre(w: &[i16], x: &[i16]) -> i64 {
    w.iter().zip(x).map(|(&a, &c)| a as i64 * c as i64).sum()
}

/// The reference of the `2 x 4` tile: two prescaled rows against four activation vectors.
pub fn dot_tile(w: [&[i16]; 2], x: [&[i16]; 4]) -> [[i64; 4]; 2] {
    w.map(|wr| x.map(|xt| dot_pre(wr, xt)))
}

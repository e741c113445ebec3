//! WebAssembly simd128 kernel. Per block: four i16x8 vectors of `b q` (`|b q| <= 3937`),
//! `i32x4_dot_i16x8` with the activations: 8 products per lane and block, at most
//! `8 * 3937 * 32768 < 2^30`, so 2 blocks accumulate in i32 lanes (`< 2^31`) before widening
//! to i64.

use core::arch::wasm32::*;

pub fn dot(q: &[i8], bs: &[u8], x: &[i16]) -> i64 {
    let mut acc64 = i64x2_splat(0);
    let mut acc32 = i32x4_splat(0);
    for (b, ((qb, xb), &s)) in q
        .chunks_exact(32)
        .zip(x.chunks_exact(32))
        .zip(bs)
        .enumerate()
    {
        let s = i16x8_splat(s as i16);
        for h in 0..2 {
            // SAFETY: each chunk holds 32 i8 / 32 i16; unaligned loads are allowed.
            let w = unsafe { v128_load(qb.as_ptr().add(16 * h) as *const v128) };
            let xa = unsafe { v128_load(xb.as_ptr().add(16 * h) as *const v128) };
            let xb2 = unsafe { v128_load(xb.as_ptr().add(16 * h + 8) as *const v128) };
            let wl = i16x8_mul(i16x8_extend_low_i8x16(w), s);
            let wh = i16x8_mul(i16x8_extend_high_i8x16(w), s);
            acc32 = i32x4_add(acc32, i32x4_dot_i16x8(wl, xa));
            acc32 = i32x4_add(acc32, i32x4_dot_i16x8(wh, xb2));
        }
        if b & 1 == 1 {
            acc64 = i64x2_add(acc64, i64x2_extend_low_i32x4(acc32));
            acc64 = i64x2_add(acc64, i64x2_extend_high_i32x4(acc32));
            acc32 = i32x4_splat(0);
        }
    }
    acc64 = i64x2_add(acc64, i64x2_extend_low_i32x4(acc32));
    acc64 = i64x2_add(acc64, i64x2_extend_high_i32x4(acc32));
    i64x2_extract_lane::<0>(acc64) + i64x2_extract_lane::<1>(acc64)
}

/// One prescaled row (`w = b q`) against four activation vectors, the weight vectors loaded
/// once for the four tokens. Per lane and block each accumulator gets four `i32x4_dot_i16x8`
/// (8 products, at most `8 * 3937 * 32768 < 2^30`), the bound of [`dot`]: 2 blocks accumulate
/// in i32 lanes before widening to i64. Exact: equal to [`super::scalar::dot_pre`] per token.
fn dot_row4(w: &[i16], x: [&[i16]; 4]) -> [i64; 4] {
    let nb = w.len() / 32;
    let mut acc64 = [i64x2_splat(0); 4];
    let mut acc32 = [i32x4_splat(0); 4];
    for b in 0..nb {
        for h in 0..4 {
            let o = 32 * b + 8 * h;
            // SAFETY: every slice holds `32 * nb` i16 (checked by the caller); unaligned loads
            // are allowed.
            let wv = unsafe { v128_load(w.as_ptr().add(o) as *const v128) };
            for t in 0..4 {
                let xv = unsafe { v128_load(x[t].as_ptr().add(o) as *const v128) };
                acc32[t] = i32x4_add(acc32[t], i32x4_dot_i16x8(wv, xv));
            }
        }
        if b & 1 == 1 || b + 1 == nb {
            for t in 0..4 {
                acc64[t] = i64x2_add(acc64[t], i64x2_extend_low_i32x4(acc32[t]));
                acc64[t] = i64x2_add(acc64[t], i64x2_extend_high_i32x4(acc32[t]));
                acc32[t] = i32x4_splat(0);
            }
        }
    }
    acc64.map(|a| i64x2_extract_lane::<0>(a) + i64x2_extract_lane::<1>(a))
}

/// The `2 x 4` tile (see [`super::scalar::dot_tile`]).
pub fn dot_tile(w: [&[i16]; 2], x: [&[i16]; 4]) -> [[i64; 4]; 2] {
    [dot_row4(w[0], x), dot_row4(w[1], x)]
}

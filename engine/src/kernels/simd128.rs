//! WebAssembly simd128 kernel. Per block: four i16x8 vectors of `b q` (`|b q| <= 1905`),
//! `i32x4_dot_i16x8` with the activations: 8 products per lane and block, at most
//! `8 * 1905 * 32768 < 2^29`, so 4 blocks accumulate in i32 lanes before widening to i64.

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
        if b & 3 == 3 {
            acc64 = i64x2_add(acc64, i64x2_extend_low_i32x4(acc32));
            acc64 = i64x2_add(acc64, i64x2_extend_high_i32x4(acc32));
            acc32 = i32x4_splat(0);
        }
    }
    acc64 = i64x2_add(acc64, i64x2_extend_low_i32x4(acc32));
    acc64 = i64x2_add(acc64, i64x2_extend_high_i32x4(acc32));
    i64x2_extract_lane::<0>(acc64) + i64x2_extract_lane::<1>(acc64)
}

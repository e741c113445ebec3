//! AVX-512 kernel (F + BW + VNNI). One block of 32 weights is one 512-bit vector of i16: the
//! quants are widened and multiplied by the block scale (`|b q| <= 31 * 127 = 3937`), and
//! `vpdpwssd` adds the pair products with the activations into 16 i32 lanes: at most
//! `2 * 3937 * 32768 < 2^28` per lane and block, so 8 blocks accumulate in i32 lanes
//! (`< 2^31`) before they are widened into i64 lanes. The result is the exact integer of
//! [`super::scalar::dot`].

use std::arch::x86_64::*;

/// Whether this CPU runs the kernel.
pub fn detected() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI ([`detected`]);
/// `q.len() == x.len() == 32 * bs.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn dot(q: &[i8], bs: &[u8], x: &[i16]) -> i64 {
    let nb = bs.len();
    let qp = q.as_ptr();
    let xp = x.as_ptr();
    let mut acc64 = _mm512_setzero_si512();
    let mut acc32 = _mm512_setzero_si512();
    for b in 0..nb {
        let q8 = _mm256_loadu_si256(qp.add(32 * b) as *const __m256i);
        let s = _mm512_set1_epi16(*bs.get_unchecked(b) as i16);
        let w = _mm512_mullo_epi16(_mm512_cvtepi8_epi16(q8), s);
        let xv = _mm512_loadu_si512(xp.add(32 * b) as *const __m512i);
        acc32 = _mm512_dpwssd_epi32(acc32, w, xv);
        if b & 7 == 7 {
            acc64 = widen_add(acc64, acc32);
            acc32 = _mm512_setzero_si512();
        }
    }
    acc64 = widen_add(acc64, acc32);
    _mm512_reduce_add_epi64(acc64)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn widen_add(acc64: __m512i, acc32: __m512i) -> __m512i {
    let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc32));
    let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(acc32));
    _mm512_add_epi64(acc64, _mm512_add_epi64(lo, hi))
}

/// The `2 x 4` tile of the matrix-matrix product (see [`super::scalar::dot_tile`]): two
/// prescaled rows against four activation vectors, each block of each weight row loaded once
/// for the four tokens. Per lane and block each of the 8 accumulators gets one `vpdpwssd` (2
/// products, at most `2 * 3937 * 32768 < 2^28`), the bound of [`dot`]: 8 blocks accumulate in
/// i32 lanes before they are widened into i64 lanes.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI ([`detected`]); every slice has the same
/// length, a multiple of 32.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn dot_tile(w: [&[i16]; 2], x: [&[i16]; 4]) -> [[i64; 4]; 2] {
    let nb = w[0].len() / 32;
    let wp = [w[0].as_ptr(), w[1].as_ptr()];
    let xp = [x[0].as_ptr(), x[1].as_ptr(), x[2].as_ptr(), x[3].as_ptr()];
    let z = _mm512_setzero_si512();
    let mut acc64 = [[z; 4]; 2];
    let mut acc32 = [[z; 4]; 2];
    for b in 0..nb {
        let o = 32 * b;
        let w0 = _mm512_loadu_si512(wp[0].add(o) as *const __m512i);
        let w1 = _mm512_loadu_si512(wp[1].add(o) as *const __m512i);
        for t in 0..4 {
            let xv = _mm512_loadu_si512(xp[t].add(o) as *const __m512i);
            acc32[0][t] = _mm512_dpwssd_epi32(acc32[0][t], w0, xv);
            acc32[1][t] = _mm512_dpwssd_epi32(acc32[1][t], w1, xv);
        }
        if b & 7 == 7 || b + 1 == nb {
            for r in 0..2 {
                for t in 0..4 {
                    acc64[r][t] = widen_add(acc64[r][t], acc32[r][t]);
                    acc32[r][t] = z;
                }
            }
        }
    }
    let mut out = [[0i64; 4]; 2];
    for r in 0..2 {
        for t in 0..4 {
            out[r][t] = _mm512_reduce_add_epi64(acc64[r][t]);
        }
    }
    out
}

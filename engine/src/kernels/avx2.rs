//! AVX2 kernel. Per block: the 32 quants are widened to i16 and multiplied by the block scale
//! (`|b q| <= 31 * 127 = 3937`), `madd` with the activations gives 8 i32 lanes of pair sums,
//! and two such results are added: at most `4 * 3937 * 32768 < 2^29` per lane and block, so 4
//! blocks accumulate in i32 lanes (`< 2^31`) before they are widened into i64 lanes. The
//! result is the exact integer of [`super::scalar::dot`].

use std::arch::x86_64::*;

/// # Safety
/// The CPU must support AVX2; `q.len() == x.len() == 32 * bs.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn dot(q: &[i8], bs: &[u8], x: &[i16]) -> i64 {
    let nb = bs.len();
    let qp = q.as_ptr();
    let xp = x.as_ptr();
    let mut acc64 = _mm256_setzero_si256();
    let mut acc32 = _mm256_setzero_si256();
    for b in 0..nb {
        let w = _mm256_loadu_si256(qp.add(32 * b) as *const __m256i);
        let s = _mm256_set1_epi16(*bs.get_unchecked(b) as i16);
        let wlo = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(w)), s);
        let whi = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(w)), s);
        let xlo = _mm256_loadu_si256(xp.add(32 * b) as *const __m256i);
        let xhi = _mm256_loadu_si256(xp.add(32 * b + 16) as *const __m256i);
        let p = _mm256_add_epi32(_mm256_madd_epi16(wlo, xlo), _mm256_madd_epi16(whi, xhi));
        acc32 = _mm256_add_epi32(acc32, p);
        if b & 3 == 3 {
            acc64 = widen_add(acc64, acc32);
            acc32 = _mm256_setzero_si256();
        }
    }
    acc64 = widen_add(acc64, acc32);
    let mut lanes = [0i64; 4];
    _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc64);
    lanes[0] + lanes[1] + lanes[2] + lanes[3]
}

#[target_feature(enable = "avx2")]
unsafe fn widen_add(acc64: __m256i, acc32: __m256i) -> __m256i {
    let lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc32));
    let hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256::<1>(acc32));
    _mm256_add_epi64(acc64, _mm256_add_epi64(lo, hi))
}

/// The `2 x 4` tile of the matrix-matrix product: two prescaled rows (`w = b q`, see
/// [`super::scalar::prescale`]) against four activation vectors, each weight vector loaded once
/// for the four tokens. Per lane and block each of the 8 accumulators gets two `madd`s (4
/// products, at most `4 * 3937 * 32768 < 2^29`), the same bound as [`dot`]: 4 blocks
/// accumulate in i32 lanes before they are widened into i64 lanes. The result is the exact
/// integer of [`super::scalar::dot_tile`].
///
/// # Safety
/// The CPU must support AVX2; every slice has the same length, a multiple of 32.
#[target_feature(enable = "avx2")]
pub unsafe fn dot_tile(w: [&[i16]; 2], x: [&[i16]; 4]) -> [[i64; 4]; 2] {
    let nb = w[0].len() / 32;
    let wp = [w[0].as_ptr(), w[1].as_ptr()];
    let xp = [x[0].as_ptr(), x[1].as_ptr(), x[2].as_ptr(), x[3].as_ptr()];
    let z = _mm256_setzero_si256();
    let mut acc64 = [[z; 4]; 2];
    let mut acc32 = [[z; 4]; 2];
    for b in 0..nb {
        for h in 0..2 {
            let o = 32 * b + 16 * h;
            let w0 = _mm256_loadu_si256(wp[0].add(o) as *const __m256i);
            let w1 = _mm256_loadu_si256(wp[1].add(o) as *const __m256i);
            for t in 0..4 {
                let xv = _mm256_loadu_si256(xp[t].add(o) as *const __m256i);
                acc32[0][t] = _mm256_add_epi32(acc32[0][t], _mm256_madd_epi16(w0, xv));
                acc32[1][t] = _mm256_add_epi32(acc32[1][t], _mm256_madd_epi16(w1, xv));
            }
        }
        if b & 3 == 3 || b + 1 == nb {
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
            let mut lanes = [0i64; 4];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc64[r][t]);
            out[r][t] = lanes[0] + lanes[1] + lanes[2] + lanes[3];
        }
    }
    out
}

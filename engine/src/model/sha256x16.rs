//! SHA-256 of 16 messages of one length at a time, one message per 32-bit lane of AVX-512
//! vectors (FIPS 180-4, computed lane-wise). The trace hashes every operator output of every
//! prompt token, and the outputs of one operator all have the same length: sixteen of them go
//! through the compression function together. Same digests as any SHA-256 (tests compare with
//! the `sha2` crate); used only where the CPU has AVX-512F and BW ([`detected`]).

use std::arch::x86_64::*;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Whether this CPU runs [`digest16`].
pub fn detected() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

/// SHA-256 of each of 16 messages of the same length.
///
/// # Panics
/// If the messages differ in length, or the CPU lacks AVX-512F/BW ([`detected`]).
pub fn digest16(msgs: [&[u8]; 16]) -> [[u8; 32]; 16] {
    let len = msgs[0].len();
    assert!(
        msgs.iter().all(|m| m.len() == len),
        "messages of one length"
    );
    assert!(detected(), "AVX-512F and BW");
    // SAFETY: the CPU has the features (checked above).
    unsafe { digest16_avx512(msgs, len) }
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn digest16_avx512(msgs: [&[u8]; 16], len: usize) -> [[u8; 32]; 16] {
    let mut state: [__m512i; 8] = [_mm512_setzero_si512(); 8];
    for (s, &h) in state.iter_mut().zip(&H0) {
        *s = _mm512_set1_epi32(h as i32);
    }
    let full = len / 64;
    for b in 0..full {
        let blocks: [&[u8]; 16] = std::array::from_fn(|i| &msgs[i][64 * b..64 * (b + 1)]);
        compress(&mut state, &blocks);
    }
    // Padding: the tail, 0x80, zeros, the bit length big-endian; one or two blocks, the same
    // layout in every lane.
    let rest = len - 64 * full;
    let tail_blocks = if rest + 9 <= 64 { 1 } else { 2 };
    let mut tails = [[0u8; 128]; 16];
    for (t, m) in tails.iter_mut().zip(&msgs) {
        t[..rest].copy_from_slice(&m[64 * full..]);
        t[rest] = 0x80;
        let end = 64 * tail_blocks;
        t[end - 8..end].copy_from_slice(&((len as u64) * 8).to_be_bytes());
    }
    for b in 0..tail_blocks {
        let blocks: [&[u8]; 16] = std::array::from_fn(|i| &tails[i][64 * b..64 * (b + 1)]);
        compress(&mut state, &blocks);
    }
    let mut words = [[0u32; 16]; 8];
    for (w, s) in words.iter_mut().zip(&state) {
        _mm512_storeu_si512(w.as_mut_ptr() as *mut __m512i, *s);
    }
    let mut out = [[0u8; 32]; 16];
    for (lane, o) in out.iter_mut().enumerate() {
        for (j, w) in words.iter().enumerate() {
            o[4 * j..4 * j + 4].copy_from_slice(&w[lane].to_be_bytes());
        }
    }
    out
}

/// One compression of 16 blocks (64 bytes each), block `i` in lane `i`.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn compress(state: &mut [__m512i; 8], blocks: &[&[u8]; 16]) {
    // The message words, transposed: `w[t]` holds word `t` of every lane. Each block is one
    // vector of 16 big-endian words (byte-swapped), then a 16 x 16 transpose of 32-bit words.
    let bswap = _mm512_set_epi8(
        12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11, 4, 5,
        6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8,
        9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
    );
    let rows: [__m512i; 16] = std::array::from_fn(|i| {
        debug_assert_eq!(blocks[i].len(), 64);
        _mm512_shuffle_epi8(
            _mm512_loadu_si512(blocks[i].as_ptr() as *const __m512i),
            bswap,
        )
    });
    let mut w = transpose16(&rows);
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (t, &k) in K.iter().enumerate() {
        let wt = if t < 16 {
            w[t]
        } else {
            // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], in a ring of 16.
            let w2 = w[(t - 2) & 15];
            let w15 = w[(t - 15) & 15];
            let s0 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<7>(w15),
                _mm512_ror_epi32::<18>(w15),
                _mm512_srli_epi32::<3>(w15),
            );
            let s1 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<17>(w2),
                _mm512_ror_epi32::<19>(w2),
                _mm512_srli_epi32::<10>(w2),
            );
            let v = _mm512_add_epi32(
                _mm512_add_epi32(s1, w[(t - 7) & 15]),
                _mm512_add_epi32(s0, w[t & 15]),
            );
            w[t & 15] = v;
            v
        };
        let big_s1 = _mm512_ternarylogic_epi32::<0x96>(
            _mm512_ror_epi32::<6>(e),
            _mm512_ror_epi32::<11>(e),
            _mm512_ror_epi32::<25>(e),
        );
        let ch = _mm512_ternarylogic_epi32::<0xCA>(e, f, g);
        let t1 = _mm512_add_epi32(
            _mm512_add_epi32(h, big_s1),
            _mm512_add_epi32(ch, _mm512_add_epi32(wt, _mm512_set1_epi32(k as i32))),
        );
        let big_s0 = _mm512_ternarylogic_epi32::<0x96>(
            _mm512_ror_epi32::<2>(a),
            _mm512_ror_epi32::<13>(a),
            _mm512_ror_epi32::<22>(a),
        );
        let maj = _mm512_ternarylogic_epi32::<0xE8>(a, b, c);
        let t2 = _mm512_add_epi32(big_s0, maj);
        h = g;
        g = f;
        f = e;
        e = _mm512_add_epi32(d, t1);
        d = c;
        c = b;
        b = a;
        a = _mm512_add_epi32(t1, t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = _mm512_add_epi32(*s, v);
    }
}

/// Transposes a 16 x 16 matrix of 32-bit words: `out[t]` lane `i` = `rows[i]` lane `t`.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn transpose16(rows: &[__m512i; 16]) -> [__m512i; 16] {
    let z = _mm512_setzero_si512();
    // Per group g of four rows and k < 4: u[g][k], 128-bit lane L = rows 4g..4g+3, word 4L + k.
    let mut u = [[z; 4]; 4];
    for (g, ug) in u.iter_mut().enumerate() {
        let r = &rows[4 * g..4 * g + 4];
        let t0 = _mm512_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm512_unpackhi_epi32(r[0], r[1]);
        let t2 = _mm512_unpacklo_epi32(r[2], r[3]);
        let t3 = _mm512_unpackhi_epi32(r[2], r[3]);
        ug[0] = _mm512_unpacklo_epi64(t0, t2);
        ug[1] = _mm512_unpackhi_epi64(t0, t2);
        ug[2] = _mm512_unpacklo_epi64(t1, t3);
        ug[3] = _mm512_unpackhi_epi64(t1, t3);
    }
    // Word 4L + k: lane L of u[0][k], u[1][k], u[2][k], u[3][k].
    let mut out = [z; 16];
    for k in 0..4 {
        let lo01 = _mm512_shuffle_i32x4::<0x44>(u[0][k], u[1][k]);
        let hi01 = _mm512_shuffle_i32x4::<0xEE>(u[0][k], u[1][k]);
        let lo23 = _mm512_shuffle_i32x4::<0x44>(u[2][k], u[3][k]);
        let hi23 = _mm512_shuffle_i32x4::<0xEE>(u[2][k], u[3][k]);
        out[k] = _mm512_shuffle_i32x4::<0x88>(lo01, lo23);
        out[4 + k] = _mm512_shuffle_i32x4::<0xDD>(lo01, lo23);
        out[8 + k] = _mm512_shuffle_i32x4::<0x88>(hi01, hi23);
        out[12 + k] = _mm512_shuffle_i32x4::<0xDD>(hi01, hi23);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn equals_sha2_for_every_padding_case() {
        let mut r = crate::rng::SplitMix(5);
        let ex = crate::kernels::Exec::new(crate::kernels::Kernel::best(), 2);
        for len in (0..200).chain([255, 256, 1000, 4096, 16384, 16384 + 55, 16384 + 56]) {
            let data: Vec<Vec<u8>> = (0..16)
                .map(|_| (0..len).map(|_| r.next() as u8).collect())
                .collect();
            let want: Vec<[u8; 32]> = data.iter().map(|m| Sha256::digest(m).into()).collect();
            if detected() {
                let msgs: [&[u8]; 16] = std::array::from_fn(|i| &data[i][..]);
                assert_eq!(digest16(msgs).to_vec(), want, "length {len}");
            }
            // The trace's entry point (16 lanes where the CPU has them, else one by one), on
            // 8-byte values: 16 + 5 vectors, so both paths run.
            if len % 8 == 0 {
                let vs: Vec<Vec<i64>> = (0..21)
                    .map(|_| (0..len / 8).map(|_| r.next() as i64).collect())
                    .collect();
                let want: Vec<[u8; 32]> = vs
                    .iter()
                    .map(|v| Sha256::digest(crate::fixed::wide_bytes(v)).into())
                    .collect();
                assert_eq!(
                    crate::model::trace::wide_digests(&ex, &vs),
                    want,
                    "length {len}"
                );
            }
        }
    }
}

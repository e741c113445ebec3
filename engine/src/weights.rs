//! The project's own weight format and its commitment.
//!
//! A matrix is `rows x cols` int8 quants `q` in blocks of [`BLOCK`] along each row, one small
//! unsigned block scale `b` (`0..=`[`BLOCK_SCALE_MAX`]) per block, and one fixed-point row
//! scale `m * 2^e` per row (`m` a 24-bit integer): `w = q * b * m * 2^e`. A dot product with
//! an `i16` activation vector is `m 2^e 2^x_exp * sum_blocks b * sum_block q x`, computed
//! exactly in integers. With `b <= 31` and `|q| <= 127`, `|b*q| <= 3937` fits 12 bits, so SIMD
//! kernels can accumulate several blocks in 32-bit lanes before widening (see `kernels`); a
//! parsed tensor outside these bounds is rejected ([`Tensor::from_canonical`]).
//!
//! Why 31: the block scale lets a block whose maximum is far below its row's keep its quant
//! resolution. With `b <= 15` the engine's teacher-forced top-1 agreement with the f32
//! reference on Gemma 3 270M was 97.37%; the simulated formats in docs/BENCHMARKS.md gave 98.2%
//! for 31 and 63 and 98.3% for 127 and 255, while the SIMD headroom shrinks with every bit.
//!
//! Norm weight vectors are `i32` with [`NORM_FRAC`] fractional bits.

use crate::gguf::f16::pow2;
use sha2::{Digest, Sha256};

/// Weights per block.
pub const BLOCK: usize = 32;
/// Largest block scale.
pub const BLOCK_SCALE_MAX: u8 = 31;
/// Largest quant magnitude.
pub const Q_MAX: i32 = 127;
/// Fractional bits of norm weights.
pub const NORM_FRAC: u32 = 16;
/// Domain tag of a weights-tree leaf.
pub const WEIGHTS_LEAF_TAG: &[u8] = b"OTR/weights-tensor/v1\0";

/// An int8 matrix in the engine's format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    /// `rows * cols` quants, row-major.
    pub q: Vec<i8>,
    /// `rows * cols / BLOCK` block scales.
    pub bscale: Vec<u8>,
    /// Row scale mantissas (`0` or in `[2^23, 2^24)`).
    pub rm: Vec<u32>,
    /// Row scale exponents.
    pub re: Vec<i32>,
}

/// A converted tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tensor {
    Matrix(QMatrix),
    /// A vector in fixed point with [`NORM_FRAC`] fractional bits.
    Norm(Vec<i32>),
}

/// Quantizes one row (`cols % BLOCK == 0`) into quants, block scales and a row scale.
/// Deterministic: only `* /`, comparisons and exact power-of-two scaling on f64.
/// Non-finite inputs are treated as 0; rows whose scale would be below 2^-1000 are all zero.
pub fn quantize_row(w: &[f64], q: &mut [i8], bs: &mut [u8]) -> (u32, i32) {
    let fin = |x: f64| if x.is_finite() { x } else { 0.0 };
    let max = w.iter().fold(0.0f64, |m, &x| m.max(fin(x).abs()));
    let s = max / (Q_MAX as f64 * BLOCK_SCALE_MAX as f64);
    if s < pow2(-1000) {
        q.fill(0);
        bs.fill(0);
        return (0, 0);
    }
    // s = 1.f * 2^E; m = ceil(s * 2^(23 - E)) in [2^23, 2^24].
    let big_e = ((s.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let mut m = (s * pow2(23 - big_e)).ceil() as u64;
    let mut e = big_e - 23;
    if m == 1 << 24 {
        m = 1 << 23;
        e += 1;
    }
    let sq = m as f64 * pow2(e);
    for (b, (wb, qb)) in w.chunks(BLOCK).zip(q.chunks_mut(BLOCK)).enumerate() {
        let bmax = wb.iter().fold(0.0f64, |a, &x| a.max(fin(x).abs()));
        if bmax == 0.0 {
            bs[b] = 0;
            qb.fill(0);
            continue;
        }
        let sb = (bmax / (Q_MAX as f64 * sq))
            .ceil()
            .clamp(1.0, BLOCK_SCALE_MAX as f64);
        bs[b] = sb as u8;
        let step = sq * sb;
        for (x, o) in wb.iter().zip(qb.iter_mut()) {
            *o = (fin(*x) / step)
                .round_ties_even()
                .clamp(-(Q_MAX as f64), Q_MAX as f64) as i8;
        }
    }
    (m as u32, e)
}

/// Norm weights in fixed point, round half to even, saturating.
pub fn quantize_norm(w: &[f64]) -> Vec<i32> {
    w.iter()
        .map(|&x| {
            let x = if x.is_finite() { x } else { 0.0 };
            (x * pow2(NORM_FRAC as i32))
                .round_ties_even()
                .clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect()
}

impl Tensor {
    /// Canonical bytes (also the cache payload): kind byte, then for a matrix
    /// `rows u64, cols u64, rm[u32], re[i32], bscale[u8], q[i8]`, for a norm vector
    /// `len u64, values[i32]`, all little-endian.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Tensor::Matrix(m) => {
                b.reserve(17 + 8 * m.rows + m.bscale.len() + m.q.len());
                b.push(0);
                b.extend_from_slice(&(m.rows as u64).to_le_bytes());
                b.extend_from_slice(&(m.cols as u64).to_le_bytes());
                for x in &m.rm {
                    b.extend_from_slice(&x.to_le_bytes());
                }
                for x in &m.re {
                    b.extend_from_slice(&x.to_le_bytes());
                }
                b.extend_from_slice(&m.bscale);
                b.extend(m.q.iter().map(|&x| x as u8));
            }
            Tensor::Norm(v) => {
                b.push(1);
                b.extend_from_slice(&(v.len() as u64).to_le_bytes());
                for x in v {
                    b.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        b
    }

    /// Parses [`Tensor::canonical_bytes`]; `None` when malformed.
    pub fn from_canonical(b: &[u8]) -> Option<Tensor> {
        let (&kind, rest) = b.split_first()?;
        let u64_at = |s: &[u8], i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(s.get(i..i + 8)?.try_into().ok()?))
        };
        match kind {
            0 => {
                let rows = usize::try_from(u64_at(rest, 0)?).ok()?;
                let cols = usize::try_from(u64_at(rest, 8)?).ok()?;
                if cols == 0 || cols % BLOCK != 0 {
                    return None;
                }
                let n = rows.checked_mul(cols)?;
                let nb = n / BLOCK;
                let want = 16usize
                    .checked_add(rows.checked_mul(8)?)?
                    .checked_add(nb)?
                    .checked_add(n)?;
                if rest.len() != want {
                    return None;
                }
                let mut p = 16;
                let rm = rest[p..p + 4 * rows]
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                p += 4 * rows;
                let re = rest[p..p + 4 * rows]
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                p += 4 * rows;
                let bscale = rest[p..p + nb].to_vec();
                p += nb;
                // The kernels' exactness rests on these bounds (see the module doc).
                if bscale.iter().any(|&b| b > BLOCK_SCALE_MAX) {
                    return None;
                }
                let q: Vec<i8> = rest[p..].iter().map(|&x| x as i8).collect();
                if q.contains(&i8::MIN) {
                    return None;
                }
                Some(Tensor::Matrix(QMatrix {
                    rows,
                    cols,
                    q,
                    bscale,
                    rm,
                    re,
                }))
            }
            1 => {
                let n = usize::try_from(u64_at(rest, 0)?).ok()?;
                if rest.len() != n.checked_mul(4)?.checked_add(8)? {
                    return None;
                }
                Some(Tensor::Norm(
                    rest[8..]
                        .chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ))
            }
            _ => None,
        }
    }
}

/// Leaf data of the weights tree:
/// `"OTR/weights-tensor/v1\0" || u16be(len(name)) || name || SHA-256(canonical bytes)`.
pub fn weights_leaf(name: &str, canonical_digest: &[u8; 32]) -> Vec<u8> {
    let mut l = WEIGHTS_LEAF_TAG.to_vec();
    l.extend_from_slice(&(name.len() as u16).to_be_bytes());
    l.extend_from_slice(name.as_bytes());
    l.extend_from_slice(canonical_digest);
    l
}

/// The weights root: RFC 6962 Merkle root over [`weights_leaf`] of every tensor, in
/// byte-wise order of the tensor names.
pub fn weights_root(named_digests: &[(String, [u8; 32])]) -> [u8; 32] {
    let mut v: Vec<&(String, [u8; 32])> = named_digests.iter().collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let leaves: Vec<Vec<u8>> = v.iter().map(|(n, d)| weights_leaf(n, d)).collect();
    otr_core::rollup::merkle::root(&leaves)
}

/// SHA-256 of a tensor's canonical bytes.
pub fn tensor_digest(t: &Tensor) -> [u8; 32] {
    Sha256::digest(t.canonical_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_norm_length_that_overflows_is_rejected() {
        // fixtures/fuzz-regressions/engine_cache/norm_len_overflow.bin
        let b = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/fuzz-regressions/engine_cache/norm_len_overflow.bin"
        ))
        .unwrap();
        assert_eq!(Tensor::from_canonical(&b), None);
    }

    #[test]
    fn parsing_rejects_block_scales_and_quants_outside_the_kernel_bounds() {
        let w: Vec<f64> = (0..64).map(|i| (i as f64 - 31.5) * 0.01).collect();
        let mut m = QMatrix {
            rows: 1,
            cols: 64,
            q: vec![0; 64],
            bscale: vec![0; 2],
            rm: vec![0],
            re: vec![0],
        };
        let (rm, re) = quantize_row(&w, &mut m.q, &mut m.bscale);
        (m.rm[0], m.re[0]) = (rm, re);
        assert!(m.bscale.iter().all(|&b| (1..=BLOCK_SCALE_MAX).contains(&b)));
        let t = Tensor::Matrix(m.clone());
        assert_eq!(Tensor::from_canonical(&t.canonical_bytes()), Some(t));
        let mut big = m.clone();
        big.bscale[1] = BLOCK_SCALE_MAX + 1;
        assert_eq!(
            Tensor::from_canonical(&Tensor::Matrix(big).canonical_bytes()),
            None
        );
        let mut low = m;
        low.q[5] = i8::MIN;
        assert_eq!(
            Tensor::from_canonical(&Tensor::Matrix(low).canonical_bytes()),
            None
        );
    }

    #[test]
    fn quantize_roundtrip_error_is_small() {
        let w: Vec<f64> = (0..64)
            .map(|i| ((i * 37 % 17) as f64 - 8.0) * 0.013)
            .collect();
        let mut q = vec![0i8; 64];
        let mut bs = vec![0u8; 2];
        let (m, e) = quantize_row(&w, &mut q, &mut bs);
        assert!((1 << 23..1 << 24).contains(&m));
        for i in 0..64 {
            let r = q[i] as f64 * bs[i / 32] as f64 * m as f64 * pow2(e);
            assert!((r - w[i]).abs() <= 0.5 * bs[i / 32] as f64 * m as f64 * pow2(e) + 1e-12);
        }
        let t = Tensor::Matrix(QMatrix {
            rows: 1,
            cols: 64,
            q,
            bscale: bs,
            rm: vec![m],
            re: vec![e],
        });
        assert_eq!(Tensor::from_canonical(&t.canonical_bytes()), Some(t));
    }

    #[test]
    fn zero_and_nan_rows() {
        let mut q = vec![1i8; 32];
        let mut bs = vec![1u8; 1];
        assert_eq!(quantize_row(&[0.0; 32], &mut q, &mut bs), (0, 0));
        assert!(q.iter().all(|&x| x == 0) && bs[0] == 0);
        let mut w = vec![1.0; 32];
        w[3] = f64::NAN;
        quantize_row(&w, &mut q, &mut bs);
        assert_eq!(q[3], 0);
    }
}

//! Matrix-vector kernels: `y[r] = sum_blocks b[r,k] * sum_{i in block k} q[r,i] * x[i]`, exact
//! in integers. A scalar reference ([`scalar`]) and SIMD kernels ([`avx2`] on x86-64,
//! detected at run time; [`simd128`] on wasm32 when built with `+simd128`) compute the same
//! integer; tests compare them on random inputs. Rows are split over threads; each row is
//! computed by one thread with one kernel, so any thread count gives identical results.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

use crate::fixed::{shift_sat, Act16, W_FRAC};
use crate::weights::{QMatrix, BLOCK};
use rayon::prelude::*;

/// Which dot-product kernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    /// AVX2 (x86-64 only; falls back to scalar when the CPU lacks it).
    Avx2,
    /// WebAssembly simd128 (wasm32 built with `+simd128` only).
    Simd128,
}

impl Kernel {
    /// The fastest kernel this machine supports.
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Kernel::Avx2;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return Kernel::Simd128;
        #[allow(unreachable_code)]
        Kernel::Scalar
    }

    /// Whether this kernel can run here.
    pub fn available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            Kernel::Avx2 => {
                #[cfg(target_arch = "x86_64")]
                return std::arch::is_x86_feature_detected!("avx2");
                #[allow(unreachable_code)]
                false
            }
            Kernel::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
        }
    }

    /// The block dot product of one row.
    #[inline]
    pub fn dot(self, q: &[i8], bs: &[u8], x: &[i16]) -> i64 {
        assert!(q.len() == x.len() && q.len() == bs.len() * BLOCK);
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 if std::arch::is_x86_feature_detected!("avx2") => {
                // SAFETY: AVX2 is present (checked above); lengths checked by the assert.
                unsafe { avx2::dot(q, bs, x) }
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => simd128::dot(q, bs, x),
            _ => scalar::dot(q, bs, x),
        }
    }
}

/// How matrix products run: kernel and thread pool.
#[derive(Debug)]
pub struct Exec {
    pub kernel: Kernel,
    pool: Option<rayon::ThreadPool>,
}

impl Exec {
    /// `threads` worker threads (`1` = run on the caller's thread, no pool).
    pub fn new(kernel: Kernel, threads: usize) -> Exec {
        let pool = if threads > 1 {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .ok()
        } else {
            None
        };
        Exec { kernel, pool }
    }

    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// `y_t = W x_t` for every token `t`, as wide values (see [`row_output`]).
    pub fn matmul(&self, w: &QMatrix, xs: &[Act16]) -> Vec<Vec<i64>> {
        let t = xs.len();
        let mut flat = vec![0i64; w.rows * t];
        const CHUNK: usize = 16;
        let kernel = self.kernel;
        let work = |(ci, out): (usize, &mut [i64])| {
            let r0 = ci * CHUNK;
            for (k, o) in out.chunks_mut(t).enumerate() {
                let r = r0 + k;
                let q = &w.q[r * w.cols..(r + 1) * w.cols];
                let bs = &w.bscale[r * w.cols / BLOCK..(r + 1) * w.cols / BLOCK];
                for (j, x) in xs.iter().enumerate() {
                    let acc = kernel.dot(q, bs, &x.q);
                    o[j] = row_output(acc, w.rm[r], w.re[r], x.exp);
                }
            }
        };
        match &self.pool {
            Some(pool) => pool.install(|| {
                flat.par_chunks_mut(CHUNK * t).enumerate().for_each(work);
            }),
            None => flat.chunks_mut(CHUNK * t).enumerate().for_each(work),
        }
        (0..t)
            .map(|j| (0..w.rows).map(|r| flat[r * t + j]).collect())
            .collect()
    }

    /// Runs `f` on the pool (or inline).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }
}

/// A row's wide output: `acc * m * 2^(e + x_exp)` with [`W_FRAC`] fractional bits, rounded half
/// to even, saturating.
#[inline]
pub fn row_output(acc: i64, m: u32, e: i32, x_exp: i32) -> i64 {
    shift_sat(acc as i128 * m as i128, e + x_exp + W_FRAC as i32)
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;

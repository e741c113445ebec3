//! Matrix-vector kernels: `y[r] = sum_blocks b[r,k] * sum_{i in block k} q[r,i] * x[i]`, exact
//! in integers. A scalar reference ([`scalar`]) and SIMD kernels ([`avx512`] and [`avx2`] on
//! x86-64, detected at run time; [`simd128`] on wasm32 when built with `+simd128`) compute the same
//! integer; tests compare them on random inputs. Rows are split over threads; each row is
//! computed by one thread with one kernel, so any thread count gives identical results.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

use crate::fixed::{rne_shr_i64, shift_sat, Act16, W_FRAC};
use crate::weights::{QMatrix, BLOCK};
use rayon::prelude::*;

/// Which dot-product kernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Scalar,
    /// AVX2 (x86-64 only; falls back to scalar when the CPU lacks it).
    Avx2,
    /// AVX-512 F + BW + VNNI (x86-64 only; falls back to scalar when the CPU lacks it).
    Avx512,
    /// WebAssembly simd128 (wasm32 built with `+simd128` only).
    Simd128,
}

impl Kernel {
    /// The fastest kernel this machine supports.
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if avx512::detected() {
            return Kernel::Avx512;
        }
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
            Kernel::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                return avx512::detected();
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
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 if avx512::detected() => {
                // SAFETY: the features are present (checked above); lengths checked by the assert.
                unsafe { avx512::dot(q, bs, x) }
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => simd128::dot(q, bs, x),
            _ => scalar::dot(q, bs, x),
        }
    }

    /// The `2 x 4` tile of the matrix-matrix product: two prescaled rows
    /// ([`scalar::prescale`]) against four activation vectors; `out[r][t]` is the exact
    /// integer [`Kernel::dot`] of row `r` and token `t`.
    #[inline]
    pub fn dot_tile(self, w: [&[i16]; 2], x: [&[i16]; 4]) -> [[i64; 4]; 2] {
        let n = w[0].len();
        assert!(
            n.is_multiple_of(BLOCK)
                && w.iter().all(|r| r.len() == n)
                && x.iter().all(|t| t.len() == n)
        );
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 if std::arch::is_x86_feature_detected!("avx2") => {
                // SAFETY: AVX2 is present (checked above); lengths checked by the assert.
                unsafe { avx2::dot_tile(w, x) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 if avx512::detected() => {
                // SAFETY: the features are present (checked above); lengths checked by the assert.
                unsafe { avx512::dot_tile(w, x) }
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => simd128::dot_tile(w, x),
            _ => scalar::dot_tile(w, x),
        }
    }
}

/// Rows per work item of a matrix product (one thread computes a work item).
const CHUNK: usize = 16;
/// Tokens per tile of the matrix-matrix kernel.
const TILE_T: usize = 4;

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

    /// `y_t = W x_t` for every token `t`, as wide values (see [`row_output`]). One token (the
    /// decode step) runs one dot product per row; several tokens (the prompt) run the
    /// matrix-matrix kernel: each work item of [`CHUNK`] rows prescales its rows once and
    /// multiplies them, two rows by four tokens at a time ([`Kernel::dot_tile`]), against all
    /// tokens. Both compute the same exact integers, so the result depends neither on the
    /// path, nor on the kernel, nor on the thread count.
    pub fn matmul(&self, w: &QMatrix, xs: &[Act16]) -> Vec<Vec<i64>> {
        let t = xs.len();
        if t == 0 {
            return Vec::new();
        }
        if t > 1 {
            return self.matmul_many(&[w], xs).remove(0);
        }
        let mut flat = vec![0i64; w.rows];
        let kernel = self.kernel;
        let cols = w.cols;
        let single = |(ci, out): (usize, &mut [i64])| {
            let r = ci * CHUNK;
            for (k, o) in out.iter_mut().enumerate() {
                let r = r + k;
                let q = &w.q[r * cols..(r + 1) * cols];
                let bs = &w.bscale[r * cols / BLOCK..(r + 1) * cols / BLOCK];
                *o = row_output(kernel.dot(q, bs, &xs[0].q), w.rm[r], w.re[r], xs[0].exp);
            }
        };
        match &self.pool {
            Some(pool) => pool.install(|| flat.par_chunks_mut(CHUNK).enumerate().for_each(single)),
            None => flat.chunks_mut(CHUNK).enumerate().for_each(single),
        }
        vec![flat]
    }

    /// [`Exec::matmul`] of several matrices with the same tokens, as one set of
    /// work items: one fork-join for all of them. The same integers as one product at a time.
    pub fn matmul_many(&self, ws: &[&QMatrix], xs: &[Act16]) -> Vec<Vec<Vec<i64>>> {
        let t = xs.len();
        if t <= 1 {
            return ws.iter().map(|w| self.matmul(w, xs)).collect();
        }
        let kernel = self.kernel;
        let mut flats: Vec<Vec<i64>> = ws.iter().map(|w| vec![0i64; w.rows * t]).collect();
        let mut jobs: Vec<(usize, usize, &mut [i64])> = Vec::new();
        for (m, f) in flats.iter_mut().enumerate() {
            for (ci, out) in f.chunks_mut(CHUNK * t).enumerate() {
                jobs.push((m, ci, out));
            }
        }
        let run = |(m, ci, out): (usize, usize, &mut [i64])| tile_chunk(kernel, ws[m], xs, ci, out);
        match &self.pool {
            Some(pool) => pool.install(|| jobs.into_par_iter().for_each(run)),
            None => jobs.into_iter().for_each(run),
        }
        // Each work item holds its rows token-major: token `j`'s outputs of the item are
        // contiguous.
        let per = self.map(ws.len() * t, |mj| {
            let (m, j) = (mj / t, mj % t);
            let mut y = Vec::with_capacity(ws[m].rows);
            for item in flats[m].chunks(CHUNK * t) {
                let nr = item.len() / t;
                y.extend_from_slice(&item[j * nr..(j + 1) * nr]);
            }
            y
        });
        let mut per = per.into_iter();
        ws.iter().map(|_| per.by_ref().take(t).collect()).collect()
    }

    /// `f(0), .., f(n - 1)`, on the pool when there is one (each item computed by one thread,
    /// so the results do not depend on the thread count).
    pub fn map<T: Send>(&self, n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        match &self.pool {
            Some(pool) if n > 1 => pool.install(|| (0..n).into_par_iter().map(f).collect()),
            _ => (0..n).map(f).collect(),
        }
    }

    /// Runs `f` on the pool (or inline).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }
}

/// Work item `ci` of the matrix-matrix product: rows `ci * CHUNK ..` of `w` (prescaled once)
/// against every token, into `out` (its rows token-major).
fn tile_chunk(kernel: Kernel, w: &QMatrix, xs: &[Act16], ci: usize, out: &mut [i64]) {
    let t = xs.len();
    let cols = w.cols;
    let r0 = ci * CHUNK;
    let nr = out.len() / t;
    let mut pre = vec![0i16; nr * cols];
    for (k, wr) in pre.chunks_exact_mut(cols).enumerate() {
        let r = r0 + k;
        scalar::prescale(
            &w.q[r * cols..(r + 1) * cols],
            &w.bscale[r * cols / BLOCK..(r + 1) * cols / BLOCK],
            wr,
        );
    }
    let row = |k: usize| &pre[k * cols..(k + 1) * cols];
    for j0 in (0..t).step_by(TILE_T) {
        // A last partial tile repeats its last token; those results are dropped.
        let tok = |i: usize| &xs[(j0 + i).min(t - 1)].q[..];
        let x = [tok(0), tok(1), tok(2), tok(3)];
        for k0 in (0..nr).step_by(2) {
            let k1 = (k0 + 1).min(nr - 1);
            let acc = kernel.dot_tile([row(k0), row(k1)], x);
            for (dk, accr) in acc.iter().enumerate().take(k1 + 1 - k0) {
                let r = r0 + k0 + dk;
                for (i, &a) in accr.iter().enumerate().take((t - j0).min(TILE_T)) {
                    let j = j0 + i;
                    out[j * nr + k0 + dk] = row_output(a, w.rm[r], w.re[r], xs[j].exp);
                }
            }
        }
    }
}

/// A row's wide output: `acc * m * 2^(e + x_exp)` with [`W_FRAC`] fractional bits, rounded half
/// to even, saturating.
#[inline]
pub fn row_output(acc: i64, m: u32, e: i32, x_exp: i32) -> i64 {
    let p = acc as i128 * m as i128;
    let s = e + x_exp + W_FRAC as i32;
    // The common case, a product within i64 shifted right by 1..=62, in i64 arithmetic: the
    // same floor-then-round-half-to-even as `shift_sat`, and no saturation can occur.
    if (-62..0).contains(&s) && p as i64 as i128 == p {
        return rne_shr_i64(p as i64, (-s) as u32);
    }
    shift_sat(p, s)
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;

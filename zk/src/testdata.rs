//! Deterministic random matrices and inputs in the engine's formats (tests and benchmarks).
//! Weights go through the engine's own converter (`otr_engine::weights::quantize_row`), so
//! block and row scales are what a real conversion produces.

use otr_engine::fixed::Act16;
use otr_engine::weights::{quantize_row, QMatrix, BLOCK};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn uniform(rng: &mut ChaCha20Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// A `rows x cols` matrix; row `r` has magnitude `2^scale_log2[r % len]`.
pub fn matrix(rows: usize, cols: usize, seed: u64, scale_log2: &[i32]) -> QMatrix {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut m = QMatrix {
        rows,
        cols,
        q: vec![0; rows * cols],
        bscale: vec![0; rows * cols / BLOCK],
        rm: vec![0; rows],
        re: vec![0; rows],
    };
    let nb = cols / BLOCK;
    for r in 0..rows {
        let scale = 2f64.powi(scale_log2[r % scale_log2.len().max(1)]);
        // Blocks of varied magnitude, so block scales differ.
        let w: Vec<f64> = (0..cols)
            .map(|i| uniform(&mut rng) * scale / (1 + (i / BLOCK) % 5) as f64)
            .collect();
        let (rm, re) = quantize_row(
            &w,
            &mut m.q[r * cols..(r + 1) * cols],
            &mut m.bscale[r * nb..(r + 1) * nb],
        );
        m.rm[r] = rm;
        m.re[r] = re;
    }
    m
}

/// An input vector of `cols` wide values of magnitude about `2^(32 + mag_log2)`, quantized by
/// the engine (`Act16::from_wide`).
pub fn input(cols: usize, seed: u64, mag_log2: i32) -> Act16 {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
    let scale = 2f64.powi(32 + mag_log2);
    let wide: Vec<i64> = (0..cols)
        .map(|_| (uniform(&mut rng) * scale) as i64)
        .collect();
    Act16::from_wide(&wide)
}

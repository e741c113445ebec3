//! Integer random number generators.
//!
//! - [`SamplerRng`]: the sampler's counter-based generator, word `i` of a request with seed
//!   `s` is the first 8 bytes (little-endian) of `SHA-256("OTR/sampler/v1\0" || u64le(s) ||
//!   u64le(i))`. Any party can recompute any draw from the receipt's seed.
//! - [`SplitMix`]: SplitMix64, for fixtures and tests only.

use sha2::{Digest, Sha256};

/// Domain tag of the sampler's generator.
pub const SAMPLER_TAG: &[u8] = b"OTR/sampler/v1\0";

#[derive(Clone, Debug)]
pub struct SamplerRng {
    seed: u64,
    counter: u64,
}

impl SamplerRng {
    pub fn new(seed: u64) -> Self {
        SamplerRng { seed, counter: 0 }
    }

    /// The generator positioned at word `counter`.
    pub fn at(seed: u64, counter: u64) -> Self {
        SamplerRng { seed, counter }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut h = Sha256::new();
        h.update(SAMPLER_TAG);
        h.update(self.seed.to_le_bytes());
        h.update(self.counter.to_le_bytes());
        self.counter += 1;
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }

    /// A uniform integer in `[0, n)` (`n > 0`) by multiply-shift: `floor(u * n / 2^64)`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// SplitMix64.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform f64 in `[-1, 1)` built exactly from 53 random bits.
    pub fn unit(&mut self) -> f64 {
        let v = (self.next() >> 11) as f64 * crate::gguf::f16::pow2(-52);
        v - 1.0
    }
}

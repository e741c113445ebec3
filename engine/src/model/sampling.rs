//! Token selection from integer logits.
//!
//! - `temperature_milli == 0`: greedy, the largest logit, the smallest id on ties.
//! - otherwise candidates are ordered by (logit descending, id ascending); weights
//!   `w_i = 2^((l_i - l_max) * 1000 / temperature_milli * log2 e)` by the 2^x table (30 fractional
//!   bits; zero weights dropped); top-k keeps the first `top_k` (0 = all); top-p keeps the
//!   shortest prefix whose weight `c` satisfies `1000 c >= top_p_milli * W` (1000 = all; at
//!   least one); then `r = floor(u * W_kept / 2^64)` with `u` word `i` of
//!   [`crate::rng::SamplerRng`] for the `i`-th completion token, and the chosen token is the
//!   first whose running weight exceeds `r`.

use crate::fixed::div_rne;
use crate::rng::SamplerRng;
use crate::tables::exp_neg_wide;
use otr_core::rollup::receipt::SamplingParams;

/// Sampling parameters (the receipt's integers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    pub temperature_milli: u32,
    pub top_k: u32,
    pub top_p_milli: u32,
    pub max_tokens: u32,
    pub seed: u64,
}

impl Sampling {
    /// Greedy decoding of up to `max_tokens` tokens.
    pub fn greedy(max_tokens: u32) -> Self {
        Sampling {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens,
            seed: 0,
        }
    }
}

impl From<SamplingParams> for Sampling {
    fn from(p: SamplingParams) -> Self {
        Sampling {
            temperature_milli: p.temperature_milli,
            top_k: p.top_k,
            top_p_milli: p.top_p_milli,
            max_tokens: p.max_tokens,
            seed: p.seed,
        }
    }
}

impl From<Sampling> for SamplingParams {
    fn from(s: Sampling) -> Self {
        SamplingParams {
            temperature_milli: s.temperature_milli,
            top_k: s.top_k,
            top_p_milli: s.top_p_milli,
            max_tokens: s.max_tokens,
            seed: s.seed,
        }
    }
}

/// Picks the `index`-th completion token from `logits`.
pub fn sample(logits: &[i64], s: &Sampling, index: u64) -> u32 {
    let mut best = 0usize;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    if s.temperature_milli == 0 || logits.is_empty() {
        return best as u32;
    }
    let lmax = logits[best];
    let t = s.temperature_milli as i128;
    let mut cand: Vec<(i64, u32, i64)> = logits
        .iter()
        .enumerate()
        .filter_map(|(i, &l)| {
            let d = div_rne((l as i128 - lmax as i128) * 1000, t).max(i64::MIN as i128) as i64;
            let w = exp_neg_wide(d);
            (w > 0).then_some((l, i as u32, w))
        })
        .collect();
    let order = |a: &(i64, u32, i64), b: &(i64, u32, i64)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    let k = if s.top_k == 0 {
        cand.len()
    } else {
        (s.top_k as usize).min(cand.len())
    };
    if k < cand.len() {
        cand.select_nth_unstable_by(k, order);
        cand.truncate(k);
    }
    cand.sort_unstable_by(order);
    let total: u128 = cand.iter().map(|c| c.2 as u128).sum();
    if s.top_p_milli < 1000 {
        let mut c = 0u128;
        let mut keep = cand.len();
        for (i, x) in cand.iter().enumerate() {
            c += x.2 as u128;
            if c * 1000 >= s.top_p_milli as u128 * total {
                keep = i + 1;
                break;
            }
        }
        cand.truncate(keep.max(1));
    }
    let kept: u128 = cand.iter().map(|c| c.2 as u128).sum();
    let r = SamplerRng::at(s.seed, index).below(kept as u64) as u128;
    let mut c = 0u128;
    for x in &cand {
        c += x.2 as u128;
        if c > r {
            return x.1;
        }
    }
    cand.last().map_or(best as u32, |x| x.1)
}

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

/// Where a sampled pick's candidates are cut, and the token it claims: what every chunk of the
/// logits is summarized against ([`chunk_summary`]; docs/PROTOCOL.md §10, sampled `SAMPLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cuts {
    /// The largest logit (the weights are relative to it).
    pub lmax: i64,
    /// The last candidate top-k keeps `(logit, id)`; `None` when it keeps every candidate.
    pub kb: Option<(i64, u32)>,
    /// The last candidate top-p keeps; `None` when `top_p_milli >= 1000`.
    pub pb: Option<(i64, u32)>,
    /// The picked token and its logit.
    pub t: (i64, u32),
}

/// One chunk's share of a sampled pick: its largest logit, and over its candidates (nonzero
/// weight) within the top-k cut: their count `n`, weight `w`, the weight `k` of those also
/// within the top-p cut, and the weight `c` of those kept ones ordered before the picked token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkSummary {
    pub max: i64,
    pub n: u32,
    pub w: u128,
    pub k: u128,
    pub c: u128,
}

/// A sampled pick as claimed in a dispute: the cuts, the totals and one summary per chunk of
/// [`otr_core::rollup::tensor::WIDE_CHUNK`] logits. Everything follows from the logits and the
/// sampling parameters ([`sampled_claim`]); each chunk's summary can be recomputed from that
/// chunk alone ([`chunk_summary`]), which is what makes a wrong pick refutable on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledClaim {
    pub cuts: Cuts,
    /// Weight of the top-k candidates, of the kept (top-p) ones, and of the kept ones ordered
    /// before the token.
    pub w_total: u128,
    pub w_kept: u128,
    pub c_t: u128,
    pub chunks: Vec<ChunkSummary>,
}

/// `a` is ordered before `b`: a larger logit, or the same logit and a smaller id.
fn before(a: (i64, u32), b: (i64, u32)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// The sampler's weight of logit `l` (zero: not a candidate). Temperature 0 (greedy: no
/// weights; never asked by the sampler) gives 0.
pub fn weight(l: i64, lmax: i64, temperature_milli: u32) -> i64 {
    if temperature_milli == 0 {
        return 0;
    }
    let d = div_rne((l as i128 - lmax as i128) * 1000, temperature_milli as i128)
        .max(i64::MIN as i128) as i64;
    exp_neg_wide(d)
}

/// The summary of the chunk `values` whose first id is `base`, against `cuts`.
pub fn chunk_summary(
    values: &[i64],
    base: u32,
    cuts: &Cuts,
    temperature_milli: u32,
) -> ChunkSummary {
    let mut s = ChunkSummary {
        max: i64::MIN,
        ..Default::default()
    };
    for (i, &l) in values.iter().enumerate() {
        let me = (l, base + i as u32);
        s.max = s.max.max(l);
        let w = weight(l, cuts.lmax, temperature_milli);
        if w <= 0 || cuts.kb.is_some_and(|kb| before(kb, me)) {
            continue;
        }
        s.n += 1;
        s.w += w as u128;
        if cuts.pb.is_some_and(|pb| before(pb, me)) {
            continue;
        }
        s.k += w as u128;
        if before(me, cuts.t) {
            s.c += w as u128;
        }
    }
    s
}

/// The claim of the `index`-th completion token sampled from `logits` with `s` (temperature >
/// 0): its token is [`sample`]'s. `None` for greedy sampling or no logits.
pub fn sampled_claim(logits: &[i64], s: &Sampling, index: u64) -> Option<SampledClaim> {
    if s.temperature_milli == 0 || logits.is_empty() {
        return None;
    }
    let t = sample(logits, s, index);
    let lmax = *logits.iter().max()?;
    // The candidates in order, as `sample` orders them.
    let mut cand: Vec<(i64, u32, i64)> = logits
        .iter()
        .enumerate()
        .filter_map(|(i, &l)| {
            let w = weight(l, lmax, s.temperature_milli);
            (w > 0).then_some((l, i as u32, w))
        })
        .collect();
    cand.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let kb = (s.top_k > 0 && cand.len() > s.top_k as usize).then(|| {
        let c = cand[s.top_k as usize - 1];
        (c.0, c.1)
    });
    if let Some(kb) = kb {
        cand.retain(|c| !before(kb, (c.0, c.1)));
    }
    let total: u128 = cand.iter().map(|c| c.2 as u128).sum();
    let pb = (s.top_p_milli < 1000).then(|| {
        let mut c = 0u128;
        for x in &cand {
            c += x.2 as u128;
            if c * 1000 >= s.top_p_milli as u128 * total {
                return (x.0, x.1);
            }
        }
        let x = cand[cand.len() - 1];
        (x.0, x.1)
    });
    let cuts = Cuts {
        lmax,
        kb,
        pb,
        t: (logits[t as usize], t),
    };
    let chunks: Vec<ChunkSummary> = logits
        .chunks(otr_core::rollup::tensor::WIDE_CHUNK)
        .enumerate()
        .map(|(j, v)| {
            let base = (j * otr_core::rollup::tensor::WIDE_CHUNK) as u32;
            chunk_summary(v, base, &cuts, s.temperature_milli)
        })
        .collect();
    Some(SampledClaim {
        cuts,
        w_total: chunks.iter().map(|c| c.w).sum(),
        w_kept: chunks.iter().map(|c| c.k).sum(),
        c_t: chunks.iter().map(|c| c.c).sum(),
        chunks,
    })
}

/// Whether `c` is consistent with the sampling parameters (what the on-chain claim check
/// tests: the totals, the cuts' counts and thresholds, the draw landing on the token), given
/// that its chunk summaries are right. The engine's own claims pass; tests use it to check
/// that a claim of another token cannot.
pub fn claim_consistent(c: &SampledClaim, s: &Sampling, index: u64) -> bool {
    let tm = s.temperature_milli;
    let sum = |f: fn(&ChunkSummary) -> u128| c.chunks.iter().map(f).sum::<u128>();
    let n: u128 = sum(|x| x.n as u128);
    let lmax = c.chunks.iter().map(|x| x.max).max();
    if lmax != Some(c.cuts.lmax)
        || sum(|x| x.w) != c.w_total
        || sum(|x| x.k) != c.w_kept
        || sum(|x| x.c) != c.c_t
    {
        return false;
    }
    match c.cuts.kb {
        Some(_) if s.top_k == 0 || n != s.top_k as u128 => return false,
        None if s.top_k > 0 && n > s.top_k as u128 => return false,
        _ => {}
    }
    let in_k = |x: (i64, u32)| c.cuts.kb.is_none_or(|kb| !before(kb, x));
    match c.cuts.pb {
        None if s.top_p_milli < 1000 || c.w_kept != c.w_total => return false,
        Some(_) if s.top_p_milli >= 1000 => return false,
        Some(pb) => {
            let wp = weight(pb.0, c.cuts.lmax, tm) as u128;
            let p = s.top_p_milli as u128;
            if wp == 0
                || !in_k(pb)
                || c.w_kept * 1000 < p * c.w_total
                || c.w_kept < wp
                || (c.w_kept != wp && (c.w_kept - wp) * 1000 >= p * c.w_total)
            {
                return false;
            }
        }
        None => {}
    }
    let t = c.cuts.t;
    let wt = weight(t.0, c.cuts.lmax, tm) as u128;
    let in_p = c.cuts.pb.is_none_or(|pb| !before(pb, t));
    if wt == 0 || !in_k(t) || !in_p || c.w_kept == 0 || c.w_kept > u64::MAX as u128 {
        return false;
    }
    let r = SamplerRng::at(s.seed, index).below(c.w_kept as u64) as u128;
    c.c_t <= r && r < c.c_t + wt
}

#[cfg(test)]
mod claim_tests {
    use super::*;
    use crate::rng::SplitMix;

    fn logits(n: usize, spread: i64, rng: &mut SplitMix) -> Vec<i64> {
        (0..n)
            .map(|_| (rng.next() % (2 * spread as u64)) as i64 - spread)
            .collect()
    }

    /// The claim's token is the sampler's; the claim is consistent; the claim of any other
    /// candidate token (its summaries recomputed honestly) is not.
    #[test]
    fn a_sampled_claim_is_the_samplers_pick_and_no_other_token_fits() {
        let mut rng = SplitMix(11);
        // Logits in units of 2^-32: a spread of 2^35 is about 8 nats.
        for (n, spread) in [
            (50usize, 1i64 << 35),
            (9000, 1 << 35),
            (9000, 1 << 30),
            (300, 1 << 40),
        ] {
            let l = logits(n, spread, &mut rng);
            for (temp, k, p) in [
                (1000, 0, 1000),
                (700, 40, 1000),
                (1300, 0, 900),
                (1000, 5, 500),
                (500, 3, 0),
            ] {
                let s = Sampling {
                    temperature_milli: temp,
                    top_k: k,
                    top_p_milli: p,
                    max_tokens: 8,
                    seed: 42,
                };
                for index in 0..4u64 {
                    let c = sampled_claim(&l, &s, index).unwrap();
                    assert_eq!(c.cuts.t.1, sample(&l, &s, index), "{n} {temp} {k} {p}");
                    assert_eq!(c.chunks.len(), n.div_ceil(4096));
                    assert!(
                        claim_consistent(&c, &s, index),
                        "{n} {temp} {k} {p} {index}"
                    );
                    // Another token, with honestly recomputed summaries, does not fit the draw.
                    let others: Vec<u32> = (0..n as u32)
                        .filter(|&i| {
                            i != c.cuts.t.1 && weight(l[i as usize], c.cuts.lmax, temp) > 0
                        })
                        .take(6)
                        .collect();
                    for o in others {
                        let cuts = Cuts {
                            t: (l[o as usize], o),
                            ..c.cuts
                        };
                        let chunks: Vec<ChunkSummary> = l
                            .chunks(4096)
                            .enumerate()
                            .map(|(j, v)| chunk_summary(v, (j * 4096) as u32, &cuts, temp))
                            .collect();
                        let forged = SampledClaim {
                            cuts,
                            c_t: chunks.iter().map(|x| x.c).sum(),
                            chunks,
                            ..c.clone()
                        };
                        assert!(!claim_consistent(&forged, &s, index), "token {o}");
                    }
                }
            }
        }
        assert!(sampled_claim(&[1, 2], &Sampling::greedy(1), 0).is_none());
    }

    /// Hostile cuts and extreme logits (a claim read from the chain) summarize without panics.
    #[test]
    fn summaries_of_hostile_cuts_do_not_panic() {
        let l = [i64::MIN, i64::MAX, 0, -1, 1, i64::MIN + 1, i64::MAX - 1];
        for lmax in [i64::MIN, i64::MAX, 0] {
            for temp in [0, 1, 1000, u32::MAX] {
                let cuts = Cuts {
                    lmax,
                    kb: Some((i64::MIN, u32::MAX)),
                    pb: Some((i64::MAX, 0)),
                    t: (i64::MIN, u32::MAX),
                };
                let s = chunk_summary(&l, u32::MAX - 8, &cuts, temp);
                assert!(s.n as usize <= l.len());
                let _ = weight(i64::MIN, i64::MAX, temp);
            }
        }
    }
}

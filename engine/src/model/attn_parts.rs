//! An attention step settled by refutation (docs/PROTOCOL.md §10, "Attention by refutation";
//! contract `AttnStepVerifier`'s claim): the step's sums over its visible positions, part by
//! part.
//!
//! Per query head, [`ops::attend`] is sums over the visible positions once the largest score
//! `m` and the largest value exponent `E` are known: `total = sum_j p_j` and
//! `acc = sum_j round(p_j / 2^(E - e_vj)) v_j` with `p_j = exp_neg(s_j - m)`, then
//! `out = round(acc 2^(E + 32) / max(total, 1))`. Sums of integers split anywhere: the positions
//! cut into parts of `chunk`, the running sums after each part ([`HeadSums`], with the running
//! maxima of the scores and of the value exponents) are the claim's states. Given the claimed
//! `m` and `E` (the last state's maxima), one part's step from the state before it is
//! recomputed on chain from that part's keys and values alone: a wrong state is refuted with one
//! part, at any context length.

use super::ops::{dot16, scaled_div_all};
use crate::fixed::{isqrt_u128, rshift_rne, shift_sat, Act16, W_FRAC};
use crate::tables;

/// The attention shape of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnShape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

impl AttnShape {
    /// Engine `Config::attn_scale_q32`: `isqrt(2^64 / head_dim)`.
    pub fn scale_q32(&self) -> i64 {
        isqrt_u128((1u128 << 64) / self.head_dim.max(1) as u128) as i64
    }

    /// Bytes of one head's [`HeadSums`].
    pub fn head_bytes(&self) -> usize {
        20 + 8 * self.head_dim
    }

    /// Bytes of a state (every head's sums).
    pub fn state_bytes(&self) -> usize {
        self.heads * self.head_bytes()
    }

    fn valid(&self) -> bool {
        self.heads > 0
            && self.kv_heads > 0
            && self.head_dim > 0
            && self.heads.is_multiple_of(self.kv_heads)
    }
}

/// The score of key `k` for query `q` (engine [`ops::attend`]).
fn score(q: &Act16, k: &Act16, scale_q32: i64) -> i64 {
    // Exponents of real steps lie in [-32, 32]; any others still shift without overflow.
    let sh = q.exp.saturating_add(k.exp).clamp(-200, 200);
    shift_sat(dot16(&q.q, &k.q) as i128 * scale_q32 as i128, sh)
}

/// One query head's running sums over a prefix of its visible positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadSums {
    /// The largest score so far (`i64::MIN` before any).
    pub max: i64,
    /// The largest value exponent so far (`i32::MIN` before any).
    pub emax: i32,
    /// `sum p_j` (wrapping: an honest sum stays far below 2^63).
    pub total: i64,
    /// `sum round(p_j / 2^(E - e_vj)) v_j` (wrapping, as `total`).
    pub acc: Vec<i64>,
}

impl HeadSums {
    /// The sums before any position.
    pub fn start(head_dim: usize) -> Self {
        HeadSums {
            max: i64::MIN,
            emax: i32::MIN,
            total: 0,
            acc: vec![0; head_dim],
        }
    }

    /// Adds position `(k, v)` for query `q` with the claimed maxima `m` (scores) and `e` (value
    /// exponents). A score above `m` weighs 0 and a value exponent above `e` adds nothing (an
    /// honest claim has neither; the running maxima then show the claim wrong).
    pub fn add(&mut self, q: &Act16, k: &Act16, v: &Act16, scale_q32: i64, m: i64, e: i32) {
        let s = score(q, k, scale_q32);
        self.max = self.max.max(s);
        self.emax = self.emax.max(v.exp);
        let d = s.saturating_sub(m);
        let p = if d > 0 { 0 } else { tables::exp_neg_wide(d) };
        self.total = self.total.wrapping_add(p);
        if v.exp > e {
            return;
        }
        let pp = rshift_rne(p as i128, (e as i64 - v.exp as i64).min(127) as u32) as i64;
        if pp == 0 {
            return;
        }
        for (a, &x) in self.acc.iter_mut().zip(&v.q) {
            *a = a.wrapping_add(pp.wrapping_mul(x as i64));
        }
    }

    /// The head's output from its sums over every visible position (engine [`ops::attend`]).
    pub fn output(&self) -> Vec<i64> {
        let shift = (self.emax as i64 + W_FRAC as i64).clamp(-120, 120) as i32;
        scaled_div_all(&self.acc, shift, self.total.max(1) as i128)
    }

    fn append(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&self.max.to_le_bytes());
        b.extend_from_slice(&self.emax.to_le_bytes());
        b.extend_from_slice(&self.total.to_le_bytes());
        for a in &self.acc {
            b.extend_from_slice(&a.to_le_bytes());
        }
    }

    fn read(b: &[u8]) -> Self {
        let i64_at = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        HeadSums {
            max: i64_at(0),
            emax: i32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            total: i64_at(12),
            acc: (20..b.len()).step_by(8).map(i64_at).collect(),
        }
    }
}

/// A state's bytes: each head's `i64le max || i32le emax || i64le total || head_dim x i64le
/// acc`, head after head (`AttnStepVerifier` reads the same).
pub fn encode_state(state: &[HeadSums]) -> Vec<u8> {
    let mut b = Vec::new();
    for h in state {
        h.append(&mut b);
    }
    b
}

/// [`encode_state`] read back; `None` when `b` is not one state of `shape`.
pub fn decode_state(b: &[u8], shape: AttnShape) -> Option<Vec<HeadSums>> {
    if !shape.valid() || b.len() != shape.state_bytes() {
        return None;
    }
    Some(
        b.chunks_exact(shape.head_bytes())
            .map(HeadSums::read)
            .collect(),
    )
}

/// The Act16 vectors of `n` x `d` values laid out one after the other (a trace tensor's bytes);
/// `None` when `b` is not exactly that.
pub fn read_acts(b: &[u8], d: usize) -> Option<Vec<Act16>> {
    let each = 4 + 2 * d;
    if d == 0 || !b.len().is_multiple_of(each) {
        return None;
    }
    Some(
        b.chunks_exact(each)
            .map(|c| Act16 {
                exp: i32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
                q: c[4..]
                    .chunks_exact(2)
                    .map(|x| i16::from_le_bytes([x[0], x[1]]))
                    .collect(),
            })
            .collect(),
    )
}

/// One attention step's inputs: the query heads and, position after position, the visible keys
/// and values (`kv_heads` each).
#[derive(Clone, Debug)]
pub struct AttnInputs {
    pub shape: AttnShape,
    pub q: Vec<Act16>,
    pub ks: Vec<Act16>,
    pub vs: Vec<Act16>,
}

impl AttnInputs {
    /// From the step's input tensors' bytes (`Q_ROPE`, then the visible `K_ROPE` and `V_CACHE`
    /// outputs concatenated); `None` when the sizes do not fit `shape`.
    pub fn from_bytes(shape: AttnShape, q: &[u8], ks: &[u8], vs: &[u8]) -> Option<Self> {
        if !shape.valid() {
            return None;
        }
        let d = shape.head_dim;
        let (q, ks, vs) = (read_acts(q, d)?, read_acts(ks, d)?, read_acts(vs, d)?);
        let ok = q.len() == shape.heads
            && ks.len() == vs.len()
            && !ks.is_empty()
            && ks.len().is_multiple_of(shape.kv_heads);
        ok.then_some(AttnInputs { shape, q, ks, vs })
    }

    /// Visible positions.
    pub fn positions(&self) -> usize {
        self.ks.len() / self.shape.kv_heads
    }

    /// Parts of `chunk` positions (the last may be shorter).
    pub fn parts(&self, chunk: usize) -> usize {
        self.positions().div_ceil(chunk.max(1))
    }

    /// The visible positions (0 = the first visible) of part `part`.
    pub fn part_range(&self, part: usize, chunk: usize) -> std::ops::Range<usize> {
        let from = part.saturating_mul(chunk.max(1)).min(self.positions());
        from..from.saturating_add(chunk.max(1)).min(self.positions())
    }

    /// The bytes a refutation of part `part` carries: the query heads, and the part's keys and
    /// values position after position (each the trace tensor's bytes).
    pub fn part_bytes(&self, part: usize, chunk: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let r = self.part_range(part, chunk);
        let kv = self.shape.kv_heads;
        let bytes = |v: &[Act16]| -> Vec<u8> { v.iter().flat_map(Act16::bytes).collect() };
        (
            bytes(&self.q),
            bytes(&self.ks[r.start * kv..r.end * kv]),
            bytes(&self.vs[r.start * kv..r.end * kv]),
        )
    }

    /// The state after part `part` from the state `prev` before it, with the claimed maxima
    /// `me` (per head: score, value exponent).
    pub fn step(
        &self,
        prev: &[HeadSums],
        part: usize,
        chunk: usize,
        me: &[(i64, i32)],
    ) -> Vec<HeadSums> {
        let sh = self.shape;
        let group = sh.heads / sh.kv_heads;
        let scale = sh.scale_q32();
        let r = self.part_range(part, chunk);
        let mut next = prev.to_vec();
        if prev.len() != sh.heads || me.len() != sh.heads {
            return next;
        }
        for (h, s) in next.iter_mut().enumerate() {
            let kvh = h / group;
            let (m, e) = me[h];
            for j in r.clone() {
                let at = j * sh.kv_heads + kvh;
                s.add(&self.q[h], &self.ks[at], &self.vs[at], scale, m, e);
            }
        }
        next
    }

    /// The states after each part, every sum with the maxima `me`.
    pub fn states_with(&self, chunk: usize, me: &[(i64, i32)]) -> Vec<Vec<HeadSums>> {
        let mut s = vec![HeadSums::start(self.shape.head_dim); self.shape.heads];
        (0..self.parts(chunk))
            .map(|c| {
                s = self.step(&s, c, chunk, me);
                s.clone()
            })
            .collect()
    }

    /// Every head's true maxima (largest score, largest value exponent).
    pub fn maxima(&self) -> Vec<(i64, i32)> {
        let sh = self.shape;
        let (group, scale) = (sh.heads / sh.kv_heads, sh.scale_q32());
        (0..sh.heads)
            .map(|h| {
                let kvh = h / group;
                let at = (0..self.positions()).map(|j| j * sh.kv_heads + kvh);
                let m = at
                    .clone()
                    .map(|a| score(&self.q[h], &self.ks[a], scale))
                    .max();
                let e = at.map(|a| self.vs[a].exp).max();
                (m.unwrap_or(i64::MIN), e.unwrap_or(i32::MIN))
            })
            .collect()
    }

    /// The honest states after each part (with the true maxima): the last one gives the step's
    /// output ([`output`]).
    pub fn states(&self, chunk: usize) -> Vec<Vec<HeadSums>> {
        self.states_with(chunk, &self.maxima())
    }
}

/// The step's output from its last state: every head's output, one Act16 (engine
/// `Model::attention`).
pub fn output(last: &[HeadSums]) -> Act16 {
    let wide: Vec<i64> = last.iter().flat_map(|h| h.output()).collect();
    Act16::from_wide(&wide)
}

/// The maxima a state claims (its heads' `max`, `emax`).
pub fn claimed_maxima(last: &[HeadSums]) -> Vec<(i64, i32)> {
    last.iter().map(|h| (h.max, h.emax)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Kernel;
    use crate::model::ops;
    use crate::rng::SplitMix;

    fn act(r: &mut SplitMix, d: usize, bits: u32) -> Act16 {
        Act16 {
            q: (0..d)
                .map(|_| ((r.next() as i64) >> (64 - bits)) as i16)
                .collect(),
            exp: (r.next() % 9) as i32 - 20,
        }
    }

    fn inputs(r: &mut SplitMix, shape: AttnShape, cnt: usize) -> AttnInputs {
        let d = shape.head_dim;
        AttnInputs {
            shape,
            q: (0..shape.heads).map(|_| act(r, d, 12)).collect(),
            ks: (0..cnt * shape.kv_heads).map(|_| act(r, d, 12)).collect(),
            vs: (0..cnt * shape.kv_heads).map(|_| act(r, d, 16)).collect(),
        }
    }

    /// The engine's attention of the step, head by head.
    fn engine(x: &AttnInputs) -> Act16 {
        let sh = x.shape;
        let group = sh.heads / sh.kv_heads;
        let mut out = Vec::new();
        for (h, q) in x.q.iter().enumerate() {
            let kvh = h / group;
            let ks: Vec<&Act16> = x.ks.iter().skip(kvh).step_by(sh.kv_heads).collect();
            let vs: Vec<&Act16> = x.vs.iter().skip(kvh).step_by(sh.kv_heads).collect();
            out.extend(ops::attend(Kernel::Scalar, q, &ks, &vs, sh.scale_q32()));
        }
        Act16::from_wide(&out)
    }

    #[test]
    fn the_last_state_gives_the_engines_output_at_any_chunk() {
        let mut r = SplitMix(7);
        for (heads, kv, d, cnt) in [(4, 1, 32, 37), (2, 2, 16, 5), (6, 3, 20, 64), (1, 1, 8, 1)] {
            let shape = AttnShape {
                heads,
                kv_heads: kv,
                head_dim: d,
            };
            let x = inputs(&mut r, shape, cnt);
            let want = engine(&x);
            for chunk in [1, 3, 8, 64, 1000] {
                let st = x.states(chunk);
                assert_eq!(st.len(), cnt.div_ceil(chunk));
                let last = st.last().unwrap();
                assert_eq!(output(last), want, "shape {shape:?} chunk {chunk}");
                assert_eq!(claimed_maxima(last), x.maxima());
                let b = encode_state(last);
                assert_eq!(b.len(), shape.state_bytes());
                assert_eq!(decode_state(&b, shape).as_deref(), Some(&last[..]));
            }
        }
    }

    #[test]
    fn each_part_follows_from_the_one_before() {
        let mut r = SplitMix(9);
        let shape = AttnShape {
            heads: 4,
            kv_heads: 1,
            head_dim: 16,
        };
        let x = inputs(&mut r, shape, 50);
        let me = x.maxima();
        let st = x.states(7);
        let mut prev = vec![HeadSums::start(16); 4];
        for (c, s) in st.iter().enumerate() {
            assert_eq!(&x.step(&prev, c, 7, &me), s);
            prev = s.clone();
        }
        // Other maxima give other sums, and a last state whose maxima are not the claimed ones.
        let mut wrong = me.clone();
        wrong[2].0 += 1000;
        let w = x.states_with(7, &wrong);
        assert_ne!(w.last().unwrap()[2].total, st.last().unwrap()[2].total);
        assert_eq!(claimed_maxima(w.last().unwrap()), me);
    }

    #[test]
    fn malformed_inputs_and_states_are_refused() {
        let shape = AttnShape {
            heads: 2,
            kv_heads: 1,
            head_dim: 4,
        };
        assert!(AttnInputs::from_bytes(shape, &[0; 12], &[0; 12], &[0; 12]).is_none());
        assert!(AttnInputs::from_bytes(shape, &[0; 24], &[], &[]).is_none());
        assert!(AttnInputs::from_bytes(shape, &[0; 24], &[0; 12], &[0; 24]).is_none());
        assert!(AttnInputs::from_bytes(shape, &[0; 24], &[0; 24], &[0; 24]).is_some());
        assert!(decode_state(&[0; 10], shape).is_none());
        let bad = AttnShape {
            heads: 3,
            kv_heads: 2,
            head_dim: 4,
        };
        assert!(decode_state(&[0; 3 * 52], bad).is_none());
    }
}

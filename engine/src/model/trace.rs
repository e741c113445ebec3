//! The execution trace: one leaf per operator step, in a fixed order.
//!
//! A step is keyed by `(pos, stage, op)`: `pos` the token position fed to the model, `stage`
//! 0 for the embedding, `1 + l` for layer `l`, `n_layers + 1` for the head (final norm, logits,
//! sampling). Steps are ordered by that key (position, then stage, then op), which is the order
//! of a token-by-token execution. The leaf is
//! `"OTR/trace-step/v1\0" || u32be(pos) || u16be(stage) || u8(op) || digest(output)`, the digest
//! SHA-256 of the output's bytes (a wide tensor past [`WIDE_CHUNK`] values: [`wide_digest`])
//! and the trace root is the RFC 6962 Merkle root (otr-core) over the leaves in that order.

use crate::fixed::{wide_bytes, Act16};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

pub use otr_core::rollup::tensor::WIDE_CHUNK;

/// Domain tag of a trace leaf.
pub use otr_core::zk::statement::TRACE_LEAF_TAG;

/// Operators of the embedding stage.
pub mod embed_op {
    /// The prompt's text and token ids (output: `Prompt`), position 0 only: the trace's first leaf. It
    /// commits the tokens the node says the prompt is, which every prompt position's `EMBED`
    /// is checked against in a dispute.
    pub const PROMPT: u8 = 0;
    /// Token embedding, scaled (output: wide `h`). Its token is the `PROMPT` leaf's entry at the
    /// position (prompt positions) or the `SAMPLE` of the position before (generated ones).
    pub const EMBED: u8 = 1;
}

/// Operators of a layer stage, in execution order.
pub mod layer_op {
    /// Pre-attention RMSNorm (output: Act16 `x`).
    pub const ATTN_NORM: u8 = 0;
    /// `q = Wq x` (wide).
    pub const Q: u8 = 1;
    /// `k = Wk x` (wide).
    pub const K: u8 = 2;
    /// `v = Wv x` (wide).
    pub const V: u8 = 3;
    /// QK-norm (Gemma) and RoPE of the query, per head Act16.
    pub const Q_ROPE: u8 = 4;
    /// QK-norm (Gemma) and RoPE of the key, per kv head Act16 (entered into the KV cache).
    pub const K_ROPE: u8 = 5;
    /// The value, per kv head Act16 (entered into the KV cache).
    pub const V_CACHE: u8 = 6;
    /// Attention over the visible cache, all heads concatenated (Act16).
    pub const ATTN: u8 = 7;
    /// `o = Wo a` (wide).
    pub const O: u8 = 8;
    /// `h1 = h + post_attention_norm(o)` (Gemma) or `h + o` (wide).
    pub const RESID_ATTN: u8 = 9;
    /// Pre-FFN RMSNorm (Act16).
    pub const FFN_NORM: u8 = 10;
    /// `g = Wgate x` (wide).
    pub const GATE: u8 = 11;
    /// `u = Wup x` (wide).
    pub const UP: u8 = 12;
    /// `act(g) * u` (Act16; GELU-tanh for Gemma, SiLU for Llama).
    pub const ACT: u8 = 13;
    /// `d = Wdown a` (wide).
    pub const DOWN: u8 = 14;
    /// `h2 = h1 + post_ffw_norm(d)` (Gemma) or `h1 + d` (wide).
    pub const RESID_FFN: u8 = 15;
    /// Number of layer operators.
    pub const COUNT: u8 = 16;
}

/// Operators of the head stage (only at positions whose next token is sampled).
pub mod head_op {
    /// Final RMSNorm (Act16).
    pub const FINAL_NORM: u8 = 0;
    /// Logits (wide, one per vocabulary entry).
    pub const LOGITS: u8 = 1;
    /// The sampled token (u32 LE).
    pub const SAMPLE: u8 = 2;
}

/// Identifies one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepKey {
    pub pos: u32,
    pub stage: u16,
    pub op: u8,
}

/// A step's output (or an input) tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepTensor {
    Wide(Vec<i64>),
    Act(Act16),
    Acts(Vec<Act16>),
    Token(u32),
    /// The prompt (the `PROMPT` step): its text as its tokens detokenize
    /// ([`crate::tokenizer::Tokenizer::prompt_text`]) and its token ids.
    Prompt {
        text: Vec<u8>,
        ids: Vec<u32>,
    },
}

impl StepTensor {
    /// Canonical bytes: wide as i64 LE; Act16 as `exp` i32 LE then i16 LE values; a list of
    /// Act16 as their concatenation; a token as u32 LE; the prompt as `u32le(len(text)) || text
    /// || ids` (u32 LE each).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            StepTensor::Wide(v) => wide_bytes(v),
            StepTensor::Act(a) => a.bytes(),
            StepTensor::Acts(v) => acts_bytes(v),
            StepTensor::Token(t) => t.to_le_bytes().to_vec(),
            StepTensor::Prompt { text, ids } => prompt_bytes(text, ids),
        }
    }

    pub fn digest(&self) -> [u8; 32] {
        match self {
            StepTensor::Wide(v) => wide_digest(v),
            StepTensor::Act(a) => act_digest(a),
            StepTensor::Acts(v) => acts_digest(v),
            StepTensor::Token(t) => Sha256::digest(t.to_le_bytes()).into(),
            StepTensor::Prompt { text, ids } => Sha256::digest(prompt_bytes(text, ids)).into(),
        }
    }
}

/// Token ids as u32 LE, concatenated.
pub fn tokens_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|t| t.to_le_bytes()).collect()
}

/// The `PROMPT` step's output bytes: `u32le(len(text)) || text || ids` (u32 LE each).
pub use otr_core::prompt::prompt_bytes;

/// SHA-256 of `bytes(item)` for each item, in one pass over the pool: sixteen messages of one
/// length at a time through [`super::sha256x16`] where the CPU has AVX-512 (the same digests),
/// the rest one by one. One work item per group of sixteen, so a layer's digests cost one
/// fork-join each.
pub fn digests_by<T: Sync>(
    ex: &crate::kernels::Exec,
    items: &[T],
    bytes: impl Fn(&T) -> Cow<'_, [u8]> + Sync + Send,
) -> Vec<[u8; 32]> {
    let one = |t: &T| -> [u8; 32] { Sha256::digest(bytes(t)).into() };
    #[cfg(target_arch = "x86_64")]
    if items.len() >= 16 && super::sha256x16::detected() {
        let groups = items.len() / 16;
        let jobs = groups + items.len() % 16;
        let out = ex.map(jobs, |j| -> Vec<[u8; 32]> {
            if j >= groups {
                return vec![one(&items[16 * groups + (j - groups)])];
            }
            let group = &items[16 * j..16 * j + 16];
            let msgs: Vec<Cow<'_, [u8]>> = group.iter().map(&bytes).collect();
            if msgs.iter().any(|m| m.len() != msgs[0].len()) {
                return msgs.iter().map(|m| Sha256::digest(m).into()).collect();
            }
            super::sha256x16::digest16(std::array::from_fn(|i| &msgs[i][..])).to_vec()
        });
        return out.concat();
    }
    ex.map(items.len(), |i| one(&items[i]))
}

/// [`wide_digest`] of each of `vs`.
pub fn wide_digests<V: AsRef<[i64]> + Sync>(ex: &crate::kernels::Exec, vs: &[V]) -> Vec<[u8; 32]> {
    if vs.iter().any(|v| v.as_ref().len() > WIDE_CHUNK) {
        return ex.map(vs.len(), |i| wide_digest(vs[i].as_ref()));
    }
    digests_by(ex, vs, |v| wide_le_bytes(v.as_ref()))
}

/// [`act_digest`] of each of `xs`.
pub fn act_digests(ex: &crate::kernels::Exec, xs: &[Act16]) -> Vec<[u8; 32]> {
    digests_by(ex, xs, |a| Cow::Owned(a.bytes()))
}

/// The bytes of `StepTensor::Acts(v)`.
pub fn acts_bytes(v: &[Act16]) -> Vec<u8> {
    let mut b = Vec::with_capacity(v.iter().map(|a| 4 + 2 * a.q.len()).sum());
    for a in v {
        a.append_bytes(&mut b);
    }
    b
}

/// `wide_bytes(v)`: borrowed where the memory of i64 values is their little-endian bytes.
pub fn wide_le_bytes(v: &[i64]) -> Cow<'_, [u8]> {
    #[cfg(target_arch = "x86_64")]
    {
        Cow::Borrowed(le_bytes(v))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Cow::Owned(wide_bytes(v))
    }
}

/// The bytes of `wide_bytes(v)` in place: i64 values little-endian are their memory on x86-64.
#[cfg(target_arch = "x86_64")]
fn le_bytes(v: &[i64]) -> &[u8] {
    // SAFETY: any initialized i64 memory is valid u8 memory of 8 times the length; x86-64 is
    // little-endian, so these are the canonical bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, 8 * v.len()) }
}

/// [`StepTensor::digest`] of `Wide(v)`, without building the tensor: SHA-256 of its bytes up to
/// [`WIDE_CHUNK`] values, past that the RFC 6962 root over its chunks
/// (`otr_core::rollup::tensor`, so a dispute can open one logit without all of them).
pub fn wide_digest(v: &[i64]) -> [u8; 32] {
    if v.len() > WIDE_CHUNK {
        return otr_core::rollup::tensor::wide_digest_bytes(&wide_le_bytes(v));
    }
    // The bytes of `wide_bytes(v)`, fed through a stack buffer.
    let mut h = Sha256::new();
    let mut buf = [0u8; 8 * 128];
    for c in v.chunks(128) {
        for (b, x) in buf.chunks_exact_mut(8).zip(c) {
            b.copy_from_slice(&x.to_le_bytes());
        }
        h.update(&buf[..8 * c.len()]);
    }
    h.finalize().into()
}

/// Feeds `a.bytes()` to `h` through a stack buffer.
fn feed_act(h: &mut Sha256, a: &Act16) {
    h.update(a.exp.to_le_bytes());
    let mut buf = [0u8; 2 * 512];
    for c in a.q.chunks(512) {
        for (b, x) in buf.chunks_exact_mut(2).zip(c) {
            b.copy_from_slice(&x.to_le_bytes());
        }
        h.update(&buf[..2 * c.len()]);
    }
}

/// [`StepTensor::digest`] of `Act(a)`.
pub fn act_digest(a: &Act16) -> [u8; 32] {
    let mut h = Sha256::new();
    feed_act(&mut h, a);
    h.finalize().into()
}

/// [`StepTensor::digest`] of `Acts(v)`: the hash of the concatenation, fed piece by piece.
pub fn acts_digest(v: &[Act16]) -> [u8; 32] {
    let mut h = Sha256::new();
    for a in v {
        feed_act(&mut h, a);
    }
    h.finalize().into()
}

/// Leaf data of one step (the core's `zk::statement::leaf_bytes`, which clients parse).
pub fn leaf(key: StepKey, digest: &[u8; 32]) -> Vec<u8> {
    let key = otr_core::zk::statement::LeafKey {
        pos: key.pos,
        stage: key.stage,
        op: key.op,
    };
    otr_core::zk::statement::leaf_bytes(key, digest)
}

/// Collected step digests.
#[derive(Debug, Default)]
pub struct Trace {
    steps: Vec<(StepKey, [u8; 32])>,
}

impl Trace {
    pub fn record(&mut self, key: StepKey, out: &StepTensor) {
        self.steps.push((key, out.digest()));
    }

    /// Records a step whose output digest ([`StepTensor::digest`]) is already computed.
    pub fn record_digest(&mut self, key: StepKey, digest: [u8; 32]) {
        self.steps.push((key, digest));
    }

    fn sorted(&self) -> Vec<(StepKey, [u8; 32])> {
        let mut s = self.steps.clone();
        s.sort_by_key(|x| x.0);
        s
    }

    /// The steps in trace order.
    pub fn steps(&self) -> Vec<(StepKey, [u8; 32])> {
        self.sorted()
    }

    pub fn len(&self) -> u64 {
        self.steps.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The trace root.
    pub fn root(&self) -> [u8; 32] {
        self.root_and_first_path().0
    }

    /// The trace root and the RFC 6962 audit path of its first leaf (the `PROMPT` step: what
    /// a bundle opens for the client).
    pub fn root_and_first_path(&self) -> ([u8; 32], Vec<[u8; 32]>) {
        use otr_core::rollup::merkle;
        let hashes: Vec<[u8; 32]> = self
            .sorted()
            .iter()
            .map(|(k, d)| merkle::leaf_hash(&leaf(*k, d)))
            .collect();
        let path = merkle::prove_leaf_hashes(&hashes, 0)
            .map(|p| p.path)
            .unwrap_or_default();
        (merkle::root_of_leaf_hashes(&hashes), path)
    }
}

/// The number of leaves of the trace of a run with `prompt_tokens` prompt and
/// `completion_tokens` completion tokens on `n_layers` layers: the `PROMPT` leaf,
/// `1 + 16 n_layers` per fed position (`prompt + completion - 1`: the last sampled token is not
/// fed) and three head steps per sampled token; 0 when either count is 0 (no run). Contract
/// `DisputeGame.layoutSteps` computes the same.
pub fn layout_steps(prompt_tokens: u32, completion_tokens: u32, n_layers: u16) -> u64 {
    if prompt_tokens == 0 || completion_tokens == 0 {
        return 0;
    }
    let fed = prompt_tokens as u64 + completion_tokens as u64 - 1;
    1 + fed * (1 + 16 * n_layers as u64) + 3 * completion_tokens as u64
}

/// Where step `key` sits in the trace of a run with `prompt_tokens` prompt tokens on a model of
/// `n_layers` layers (leaf index), or `None` when no run has such a step at any position.
///
/// The layout follows from the run: leaf 0 is `PROMPT`; every fed position `p` has `EMBED` and
/// the `16 n_layers` layer steps; positions `p >= prompt_tokens - 1` (whose next token is
/// sampled) also have the three head steps. So
/// `index = 1 + p (1 + 16 n_layers) + 3 max(0, p - prompt_tokens + 1) + offset(stage, op)`.
/// Contract `DisputeGame.layoutIndex` computes the same; a run's leaves satisfy it one by one
/// (tests below and `tests/fixture_models.rs`).
pub fn layout_index(key: StepKey, prompt_tokens: u32, n_layers: u16) -> Option<u64> {
    let nl = n_layers as u64;
    let (p, s, o) = (key.pos as u64, key.stage as u64, key.op as u64);
    if prompt_tokens == 0 {
        return None;
    }
    let first_head = prompt_tokens as u64 - 1;
    if s == 0 && o == embed_op::PROMPT as u64 {
        return (p == 0).then_some(0);
    }
    let offset = match s {
        0 if o == embed_op::EMBED as u64 => 0,
        0 => return None,
        s if s <= nl && o < layer_op::COUNT as u64 => 1 + 16 * (s - 1) + o,
        s if s == nl + 1 && o <= head_op::SAMPLE as u64 && p >= first_head => 1 + 16 * nl + o,
        _ => return None,
    };
    Some(1 + p * (1 + 16 * nl) + 3 * p.saturating_sub(first_head) + offset)
}

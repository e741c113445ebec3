//! The integer forward pass (batched over positions for the prompt) and generation.

use super::ops::{self, RopeStyle};
use super::sampling::{sample, Sampling};
use super::trace::{
    act_digests, acts_bytes, digests_by, embed_op, head_op, layer_op, prompt_bytes, wide_digests,
    StepKey, StepTensor, Trace,
};
use super::{Arch, Model};
use crate::error::EngineError;
use crate::fixed::Act16;
use crate::tables::{self, rope_cos_sin, rope_inv_freq};
use crate::tokenizer::StreamDecoder;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// A stop token (EOS, `<end_of_turn>`) was sampled.
    Stop,
    /// `max_tokens` were generated.
    Length,
    /// The callback asked to stop.
    Cancelled,
}

/// The result of [`Model::generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// Every sampled token, including a final stop token.
    pub tokens: Vec<u32>,
    pub finish_reason: FinishReason,
    pub trace_root: [u8; 32],
    pub trace_steps: u64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// The `PROMPT` step's output (`u32le(len(text)) || text || ids`) and its leaf's audit path
    /// in the trace (leaf 0): what a bundle opens for the client to compare with its prompt.
    pub prompt_leaf: Vec<u8>,
    pub prompt_path: Vec<[u8; 32]>,
}

/// The inputs and output of one step, for replay or a ZK proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    pub key: StepKey,
    /// Step index in the trace.
    pub index: u64,
    /// The operator's inputs (see `replay.rs` for each operator's list).
    pub inputs: Vec<StepTensor>,
    pub output: StepTensor,
    /// For a sampling step: the parameters and the completion index.
    pub sampling: Option<(Sampling, u64)>,
}

/// The KV cache of one sequence: per layer, per position, per kv head.
#[derive(Debug, Default)]
pub(crate) struct KvCache {
    k: Vec<Vec<Act16>>,
    v: Vec<Vec<Act16>>,
}

/// How the prompt runs through the model. Both give the same tokens and the same trace (every
/// leaf, hence the root); [`Prefill::Batched`] is the default and the fast one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Prefill {
    /// All prompt positions through each layer together (matrix-matrix products).
    #[default]
    Batched,
    /// One position at a time, as a decode step (the reference).
    Sequential,
}

/// A fault injected on purpose into a run, for testing that disputes catch it (dev only: a node
/// refuses it with real attestation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevFault {
    /// The embedding at position `pos` is the next vocabulary id's row instead of the fed
    /// token's: the trace commits the prompt's tokens (its `PROMPT` leaf) but that position's
    /// `EMBED` step does not follow from them.
    EmbedNextToken { pos: u32 },
    /// The `index`-th completion token is the runner-up logit's (the second largest, the
    /// smallest id on ties) instead of the sampler's pick: a wrong output token, fed on as if
    /// it were right, so the trace differs from the honest run first at that `SAMPLE` step.
    SampleRunnerUp { index: u64 },
    /// The logits of position `pos` have their runner-up raised to the largest plus one, so
    /// that the greedy pick there is the runner-up's token: a tamper through the logits, whose
    /// `SAMPLE` step then follows from its (wrong) input; the trace differs from the honest run
    /// first at that `LOGITS` step.
    LogitsBias { pos: u32 },
    /// Row 1 of the output of the matrix step `(pos, stage, op)` (a layer's `Q K V O GATE UP
    /// DOWN`) is one more than the product: a tamper inside a layer, fed on as if right, so the
    /// trace differs from the honest run first at that step.
    MatVecBias { pos: u32, stage: u16, op: u8 },
    /// The attention step `(pos, stage, ATTN)` reads its visible values negated (a corrupted
    /// cache read; the `V_CACHE` steps stay right) and records what it read as its inputs: its
    /// output is wrong, fed on as if right, so the trace differs from the honest run first at
    /// that step, and its replay gives the values it read.
    AttnBias { pos: u32, stage: u16 },
    /// The `PROMPT` step's text has its last byte's case flipped (ASCII bit 5): the trace says
    /// one prompt in words and runs on the tokens of another, which a client comparing the text
    /// with its request would accept; the trace differs from the honest run first at leaf 0.
    PromptText,
}

/// Per-run state: the trace and an optional step to capture.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub prefill: Prefill,
    pub trace: Trace,
    pub capture: Option<StepKey>,
    pub captured: Option<StepRecord>,
    /// The `PROMPT` step's output, once recorded (the input of prompt positions' `EMBED`).
    pub prompt: Option<StepTensor>,
    pub dev_fault: Option<DevFault>,
}

impl Ctx {
    /// Records a step whose digest is computed; builds the output and inputs only when the
    /// step is the one to capture.
    fn rec_d(
        &mut self,
        key: StepKey,
        digest: [u8; 32],
        out: impl FnOnce() -> StepTensor,
        inputs: impl FnOnce() -> Vec<StepTensor>,
    ) {
        self.trace.record_digest(key, digest);
        if self.capture == Some(key) {
            self.captured = Some(StepRecord {
                key,
                index: 0,
                inputs: inputs(),
                output: out(),
                sampling: None,
            });
        }
    }

    fn rec(&mut self, key: StepKey, out: &StepTensor, inputs: impl FnOnce() -> Vec<StepTensor>) {
        self.trace.record(key, out);
        if self.capture == Some(key) {
            self.captured = Some(StepRecord {
                key,
                index: 0,
                inputs: inputs(),
                output: out.clone(),
                sampling: None,
            });
        }
    }
}

impl Model {
    pub(crate) fn rope_style(&self) -> RopeStyle {
        match self.cfg.arch {
            Arch::Gemma3 => RopeStyle::Neox,
            Arch::Llama => RopeStyle::Normal,
        }
    }

    pub(crate) fn act_table(&self) -> &'static tables::InterpTable {
        match self.cfg.arch {
            Arch::Gemma3 => &tables::tables().gelu,
            Arch::Llama => &tables::tables().silu,
        }
    }

    /// RoPE (cos, sin) tables of position `pos` for layer `l`.
    pub(crate) fn rope_at(&self, l: usize, pos: u32) -> Vec<(i32, i32)> {
        let base = if self.cfg.is_global(l) {
            self.cfg.rope_base_global
        } else {
            self.cfg.rope_base_local
        };
        rope_cos_sin(pos, &rope_inv_freq(base, self.cfg.head_dim))
    }

    /// The first position that position `pos` attends to in layer `l`.
    pub(crate) fn window_start(&self, l: usize, pos: usize) -> usize {
        let w = self.cfg.sliding_window;
        if self.cfg.is_global(l) || w == 0 {
            0
        } else {
            (pos + 1).saturating_sub(w)
        }
    }

    /// QK-norm (when present) and RoPE of one projection, per head.
    pub(crate) fn qk_rope(&self, v: &[i64], norm: Option<&[i32]>, cs: &[(i32, i32)]) -> Vec<Act16> {
        let hd = self.cfg.head_dim;
        let eps = self.cfg.eps_q64();
        v.chunks(hd)
            .map(|h| {
                let mut x = match norm {
                    Some(g) => ops::rms_norm(h, g, eps),
                    None => h.to_vec(),
                };
                ops::rope(&mut x, cs, self.rope_style());
                Act16::from_wide(&x)
            })
            .collect()
    }

    /// Attention of all query heads of one position over the visible cache entries.
    pub(crate) fn attention(&self, q: &[Act16], ks: &[Act16], vs: &[Act16]) -> Act16 {
        let nkv = self.cfg.n_kv_heads;
        let group = self.cfg.n_heads / nkv;
        let scale = self.cfg.attn_scale_q32();
        let mut out = Vec::with_capacity(self.cfg.n_heads * self.cfg.head_dim);
        for (h, qh) in q.iter().enumerate() {
            let kvh = h / group;
            let kh: Vec<&Act16> = ks.iter().skip(kvh).step_by(nkv).collect();
            let vh: Vec<&Act16> = vs.iter().skip(kvh).step_by(nkv).collect();
            out.extend(ops::attend(self.exec.kernel, qh, &kh, &vh, scale));
        }
        Act16::from_wide(&out)
    }

    /// `h + post_norm(x)` (or `h + x` without a post norm).
    pub(crate) fn residual(&self, h: &[i64], x: &[i64], post: Option<&[i32]>) -> Vec<i64> {
        match post {
            Some(g) => ops::add(h, &ops::rms_norm(x, g, self.cfg.eps_q64())),
            None => ops::add(h, x),
        }
    }

    /// Runs `tokens` at positions `start..`, appending to `cache`; returns the logits of the
    /// last position when `want_logits`.
    ///
    /// Layer-major over all the tokens (the batched prefill): each matrix product multiplies
    /// every weight row against all tokens ([`crate::kernels::Exec::matmul`]), the per-token
    /// operators (norms, RoPE, attention, residuals, activation) and the output digests run
    /// on the thread pool, one token per work item. Attention is causal: position `p` sees the
    /// cache entries `window_start(l, p)..=p`, all of which are in the cache before any
    /// attention of the layer runs. Every step's output is the same integer tensor as when the
    /// tokens run one at a time ([`Model::forward_sequential`]), and the trace sorts its
    /// leaves by `(pos, stage, op)`, so the order in which steps are recorded does not matter:
    /// same leaves, same root.
    pub(crate) fn forward(
        &self,
        tokens: &[u32],
        start: usize,
        cache: &mut KvCache,
        want_logits: bool,
        ctx: &mut Ctx,
    ) -> Option<Vec<i64>> {
        // On a worker of the pool: the operators' parallel maps then fork and join among the
        // workers instead of handing each map over from the calling thread and back.
        self.exec
            .install(|| self.forward_on_pool(tokens, start, cache, want_logits, ctx))
    }

    fn forward_on_pool(
        &self,
        tokens: &[u32],
        start: usize,
        cache: &mut KvCache,
        want_logits: bool,
        ctx: &mut Ctx,
    ) -> Option<Vec<i64>> {
        let cfg = &self.cfg;
        let eps = cfg.eps_q64();
        let nl = cfg.n_layers;
        let n = tokens.len();
        let ex = &self.exec;
        if cache.k.is_empty() {
            cache.k = vec![Vec::new(); nl];
            cache.v = vec![Vec::new(); nl];
        }
        let pos = |t: usize| (start + t) as u32;
        let scale = cfg.embed_scale_q32();
        // The dev fault embeds another token than the one fed at its position (the trace still
        // commits the fed token: the step is wrong).
        let fed = |t: usize| match ctx.dev_fault {
            Some(DevFault::EmbedNextToken { pos: p }) if p == pos(t) => {
                (tokens[t] + 1) % (cfg.vocab as u32).max(1)
            }
            _ => tokens[t],
        };
        let emb = ex.map(n, |t| ops::embed_row(&self.embd, fed(t) as usize, scale));
        let ds = wide_digests(ex, &emb);
        let mut hs: Vec<Vec<i64>> = Vec::with_capacity(n);
        for (t, (h, d)) in emb.into_iter().zip(ds).enumerate() {
            let k = key(pos(t), 0, embed_op::EMBED);
            // The input is only built for the captured step (a prompt copy per position
            // otherwise).
            let input = match &ctx.prompt {
                Some(p @ StepTensor::Prompt { ids, .. })
                    if ctx.capture == Some(k) && (pos(t) as usize) < ids.len() =>
                {
                    p.clone()
                }
                _ => StepTensor::Token(tokens[t]),
            };
            ctx.rec_d(k, d, || StepTensor::Wide(h.clone()), || vec![input]);
            hs.push(h);
        }
        // RoPE tables of every position, once per base (global and local layers), instead of
        // once per layer: the same tables `rope_at` gives.
        let rope_tables = |global: bool| -> Vec<Vec<(i32, i32)>> {
            let l = (0..nl).find(|&l| cfg.is_global(l) == global);
            match l {
                Some(l) => ex.map(n, |t| self.rope_at(l, pos(t))),
                None => Vec::new(),
            }
        };
        let (rope_global, rope_local) = (rope_tables(true), rope_tables(false));
        for (l, ly) in self.layers.iter().enumerate() {
            let st = 1 + l as u16;
            let rope = if cfg.is_global(l) {
                &rope_global
            } else {
                &rope_local
            };
            // Attention block.
            let xs = self.norm_rec(&hs, &ly.attn_norm, ctx, start, st, layer_op::ATTN_NORM);
            let qkv = self.matmuls_rec(
                &[
                    (&ly.wq, layer_op::Q),
                    (&ly.wk, layer_op::K),
                    (&ly.wv, layer_op::V),
                ],
                &xs,
                ctx,
                start,
                st,
            );
            let [q, k, v]: [Vec<Vec<i64>>; 3] = qkv.try_into().expect("three products");
            let roped = ex.map(n, |t| {
                let cs = &rope[t];
                let qh = self.qk_rope(&q[t], ly.q_norm.as_deref(), cs);
                let kh = self.qk_rope(&k[t], ly.k_norm.as_deref(), cs);
                let vh = ops::per_head_act(&v[t], cfg.n_kv_heads);
                (qh, kh, vh)
            });
            let (qhs, (khs, vhs)): (Vec<_>, (Vec<_>, Vec<_>)) =
                roped.into_iter().map(|(q, k, v)| (q, (k, v))).unzip();
            // One pass for the three (groups of sixteen stay within one of them).
            let all: Vec<&Vec<Act16>> = qhs.iter().chain(&khs).chain(&vhs).collect();
            let d = digests_by(ex, &all, |v| Cow::Owned(acts_bytes(v)));
            let (dq, dk, dv) = (&d[..n], &d[n..2 * n], &d[2 * n..]);
            let mut qs = Vec::with_capacity(n);
            for (t, ((qh, kh), vh)) in qhs.into_iter().zip(khs).zip(vhs).enumerate() {
                let d = [dq[t], dk[t], dv[t]];
                let p = pos(t);
                ctx.rec_d(
                    key(p, st, layer_op::Q_ROPE),
                    d[0],
                    || StepTensor::Acts(qh.clone()),
                    || vec![StepTensor::Wide(q[t].clone())],
                );
                ctx.rec_d(
                    key(p, st, layer_op::K_ROPE),
                    d[1],
                    || StepTensor::Acts(kh.clone()),
                    || vec![StepTensor::Wide(k[t].clone())],
                );
                ctx.rec_d(
                    key(p, st, layer_op::V_CACHE),
                    d[2],
                    || StepTensor::Acts(vh.clone()),
                    || vec![StepTensor::Wide(v[t].clone())],
                );
                cache.k[l].extend(kh);
                cache.v[l].extend(vh);
                qs.push(qh);
            }
            let visible = |t: usize| {
                let p = pos(t) as usize;
                let lo = self.window_start(l, p) * cfg.n_kv_heads;
                lo..(p + 1) * cfg.n_kv_heads
            };
            let (kc, vc) = (&cache.k[l], &cache.v[l]);
            let mut attn = ex.map(n, |t| {
                let r = visible(t);
                self.attention(&qs[t], &kc[r.clone()], &vc[r])
            });
            let mut misread: Option<(usize, Vec<Act16>)> = None;
            if let Some(DevFault::AttnBias { pos: p, stage: s }) = ctx.dev_fault {
                let t = (p as usize).wrapping_sub(start);
                if s == st && t < n {
                    let r = visible(t);
                    let mut vs = vc[r.clone()].to_vec();
                    for v in &mut vs {
                        v.q.iter_mut().for_each(|x| *x = x.saturating_neg());
                    }
                    attn[t] = self.attention(&qs[t], &kc[r], &vs);
                    misread = Some((t, vs));
                }
            }
            let ds = act_digests(ex, &attn);
            let mut attn_in = Vec::with_capacity(n);
            for (t, (a, d)) in attn.into_iter().zip(ds).enumerate() {
                let r = visible(t);
                ctx.rec_d(
                    key(pos(t), st, layer_op::ATTN),
                    d,
                    || StepTensor::Act(a.clone()),
                    || {
                        let vs = match &misread {
                            Some((at, vs)) if *at == t => vs.clone(),
                            _ => vc[r.clone()].to_vec(),
                        };
                        vec![
                            StepTensor::Acts(qs[t].clone()),
                            StepTensor::Acts(kc[r].to_vec()),
                            StepTensor::Acts(vs),
                        ]
                    },
                );
                attn_in.push(a);
            }
            let o = self.matmul_rec(&ly.wo, &attn_in, ctx, start, st, layer_op::O);
            hs = self.resid_rec(
                &hs,
                &o,
                ly.post_attn_norm.as_deref(),
                ctx,
                start,
                st,
                layer_op::RESID_ATTN,
            );
            // Feed-forward block.
            let xs = self.norm_rec(&hs, &ly.ffn_norm, ctx, start, st, layer_op::FFN_NORM);
            let gu = self.matmuls_rec(
                &[(&ly.gate, layer_op::GATE), (&ly.up, layer_op::UP)],
                &xs,
                ctx,
                start,
                st,
            );
            let [g, u]: [Vec<Vec<i64>>; 2] = gu.try_into().expect("two products");
            let acts = ex.map(n, |t| {
                Act16::from_wide(&ops::gated(&g[t], &u[t], self.act_table()))
            });
            let ds = act_digests(ex, &acts);
            let acts: Vec<Act16> = acts
                .into_iter()
                .zip(ds)
                .enumerate()
                .map(|(t, (a, d))| {
                    ctx.rec_d(
                        key(pos(t), st, layer_op::ACT),
                        d,
                        || StepTensor::Act(a.clone()),
                        || {
                            vec![
                                StepTensor::Wide(g[t].clone()),
                                StepTensor::Wide(u[t].clone()),
                            ]
                        },
                    );
                    a
                })
                .collect();
            let dn = self.matmul_rec(&ly.down, &acts, ctx, start, st, layer_op::DOWN);
            hs = self.resid_rec(
                &hs,
                &dn,
                ly.post_ffn_norm.as_deref(),
                ctx,
                start,
                st,
                layer_op::RESID_FFN,
            );
        }
        if !want_logits {
            return None;
        }
        let t = n - 1;
        let hst = cfg.n_layers as u16 + 1;
        let x = Act16::from_wide(&ops::rms_norm(&hs[t], &self.output_norm, eps));
        let out = StepTensor::Act(x.clone());
        ctx.rec(key(pos(t), hst, head_op::FINAL_NORM), &out, || {
            vec![StepTensor::Wide(hs[t].clone())]
        });
        let w = self.output.as_ref().unwrap_or(&self.embd);
        let mut logits = self.exec.matmul(w, std::slice::from_ref(&x)).remove(0);
        if ctx.dev_fault == Some(DevFault::LogitsBias { pos: pos(t) }) {
            let best = sample(&logits, &Sampling::greedy(1), 0);
            let up = runner_up(&logits, best) as usize;
            logits[up] = logits[best as usize].saturating_add(1);
        }
        let out = StepTensor::Wide(logits);
        ctx.rec(key(pos(t), hst, head_op::LOGITS), &out, || {
            vec![StepTensor::Act(x.clone())]
        });
        let StepTensor::Wide(logits) = out else {
            unreachable!()
        };
        Some(logits)
    }

    /// The reference prefill: `tokens` one at a time through [`Model::forward`] (the path of
    /// a decode step), logits of the last one only when `want_logits`.
    pub(crate) fn forward_sequential(
        &self,
        tokens: &[u32],
        start: usize,
        cache: &mut KvCache,
        want_logits: bool,
        ctx: &mut Ctx,
    ) -> Option<Vec<i64>> {
        let mut out = None;
        for (i, &tok) in tokens.iter().enumerate() {
            let last = i + 1 == tokens.len();
            out = self.forward(&[tok], start + i, cache, want_logits && last, ctx);
        }
        out
    }

    /// RMSNorm of every token's residual (Act16 outputs), recorded as `op`.
    fn norm_rec(
        &self,
        hs: &[Vec<i64>],
        g: &[i32],
        ctx: &mut Ctx,
        start: usize,
        stage: u16,
        op: u8,
    ) -> Vec<Act16> {
        let eps = self.cfg.eps_q64();
        let xs = self.exec.map(hs.len(), |t| {
            Act16::from_wide(&ops::rms_norm(&hs[t], g, eps))
        });
        let ds = act_digests(&self.exec, &xs);
        xs.into_iter()
            .zip(ds)
            .enumerate()
            .map(|(t, (x, d))| {
                ctx.rec_d(
                    key((start + t) as u32, stage, op),
                    d,
                    || StepTensor::Act(x.clone()),
                    || vec![StepTensor::Wide(hs[t].clone())],
                );
                x
            })
            .collect()
    }

    /// The residual update of every token ([`Model::residual`]), recorded as `op`.
    #[allow(clippy::too_many_arguments)]
    fn resid_rec(
        &self,
        hs: &[Vec<i64>],
        ys: &[Vec<i64>],
        post: Option<&[i32]>,
        ctx: &mut Ctx,
        start: usize,
        stage: u16,
        op: u8,
    ) -> Vec<Vec<i64>> {
        let out = self
            .exec
            .map(hs.len(), |t| self.residual(&hs[t], &ys[t], post));
        let ds = wide_digests(&self.exec, &out);
        out.into_iter()
            .zip(ds)
            .enumerate()
            .map(|(t, (h, d))| {
                ctx.rec_d(
                    key((start + t) as u32, stage, op),
                    d,
                    || StepTensor::Wide(h.clone()),
                    || {
                        vec![
                            StepTensor::Wide(hs[t].clone()),
                            StepTensor::Wide(ys[t].clone()),
                        ]
                    },
                );
                h
            })
            .collect()
    }

    fn matmul_rec(
        &self,
        w: &crate::weights::QMatrix,
        xs: &[Act16],
        ctx: &mut Ctx,
        start: usize,
        stage: u16,
        op: u8,
    ) -> Vec<Vec<i64>> {
        let mut ys = self.matmuls_rec(&[(w, op)], xs, ctx, start, stage);
        ys.remove(0)
    }

    /// Products of several matrices with the same inputs (recorded as their `op`s), their
    /// output digests in one pass.
    fn matmuls_rec(
        &self,
        ws: &[(&crate::weights::QMatrix, u8)],
        xs: &[Act16],
        ctx: &mut Ctx,
        start: usize,
        stage: u16,
    ) -> Vec<Vec<Vec<i64>>> {
        let mats: Vec<&crate::weights::QMatrix> = ws.iter().map(|(w, _)| *w).collect();
        let mut ys = self.exec.matmul_many(&mats, xs);
        if let Some(DevFault::MatVecBias { pos, stage: s, op }) = ctx.dev_fault {
            let t = (pos as usize).wrapping_sub(start);
            if let Some(m) = ws.iter().position(|(_, o)| *o == op).filter(|_| s == stage) {
                if let Some(v) = ys[m].get_mut(t).and_then(|y| y.get_mut(1)) {
                    *v = v.saturating_add(1);
                }
            }
        }
        let all: Vec<&Vec<i64>> = ys.iter().flatten().collect();
        let ds = wide_digests(&self.exec, &all);
        let n = xs.len();
        for (m, (_, op)) in ws.iter().enumerate() {
            for t in 0..n {
                ctx.rec_d(
                    key((start + t) as u32, stage, *op),
                    ds[m * n + t],
                    || StepTensor::Wide(ys[m][t].clone()),
                    || vec![StepTensor::Act(xs[t].clone())],
                );
            }
        }
        ys
    }

    /// Generates a completion of `prompt` (token ids, BOS included when wanted).
    /// `on_token(id, text)` is called for every sampled token except a final stop token, with
    /// the complete UTF-8 text it adds; returning `false` stops generation.
    pub fn generate(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        on_token: &mut dyn FnMut(u32, &str) -> bool,
    ) -> Result<Generation, EngineError> {
        self.generate_with_fault(prompt, sampling, None, on_token)
    }

    /// [`Model::generate`] with a [`DevFault`] injected (dev only: dispute tests).
    pub fn generate_with_fault(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        fault: Option<DevFault>,
        on_token: &mut dyn FnMut(u32, &str) -> bool,
    ) -> Result<Generation, EngineError> {
        let mut ctx = Ctx {
            dev_fault: fault,
            ..Ctx::default()
        };
        self.run(prompt, sampling, on_token, &mut ctx)
    }

    /// Teacher forcing: runs `tokens` from position 0 and returns, for every position `i`, the
    /// logits of the token after `tokens[..=i]` (wide values, 32 fractional bits), computed one
    /// position at a time exactly as during generation (same bits as the logits `generate`
    /// samples from). For quality measurements against a float reference.
    pub fn teacher_forced_logits(&self, tokens: &[u32]) -> Result<Vec<Vec<i64>>, EngineError> {
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest("empty prompt".into()));
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab) {
            return Err(EngineError::InvalidRequest(format!(
                "token {t} is not in the vocabulary"
            )));
        }
        if tokens.len() > self.cfg.context_len {
            return Err(EngineError::InvalidRequest(format!(
                "{} tokens exceed the context of {}",
                tokens.len(),
                self.cfg.context_len
            )));
        }
        let mut cache = KvCache::default();
        let mut ctx = Ctx::default();
        Ok(tokens
            .iter()
            .enumerate()
            .map(|(p, &t)| {
                self.forward(&[t], p, &mut cache, true, &mut ctx)
                    .expect("logits requested")
            })
            .collect())
    }

    pub(crate) fn run(
        &self,
        prompt: &[u32],
        s: &Sampling,
        on_token: &mut dyn FnMut(u32, &str) -> bool,
        ctx: &mut Ctx,
    ) -> Result<Generation, EngineError> {
        if prompt.is_empty() {
            return Err(EngineError::InvalidRequest("empty prompt".into()));
        }
        if let Some(&t) = prompt.iter().find(|&&t| t as usize >= self.cfg.vocab) {
            return Err(EngineError::InvalidRequest(format!(
                "token {t} is not in the vocabulary"
            )));
        }
        if s.max_tokens == 0 {
            return Err(EngineError::InvalidRequest(
                "max_tokens must be at least 1".into(),
            ));
        }
        if s.top_p_milli > 1000 {
            return Err(EngineError::InvalidRequest("top_p_milli above 1000".into()));
        }
        if prompt.len() + s.max_tokens as usize > self.cfg.context_len {
            return Err(EngineError::InvalidRequest(format!(
                "{} prompt + {} completion tokens exceed the context of {}",
                prompt.len(),
                s.max_tokens,
                self.cfg.context_len
            )));
        }
        let stops = self.stop_tokens();
        let mut text = self.tokenizer().prompt_text(prompt);
        if ctx.dev_fault == Some(DevFault::PromptText) {
            // The text says another prompt than the tokens are.
            match text.last_mut() {
                Some(b) => *b ^= 0x20,
                None => text.push(b'?'),
            }
        }
        let prompt_leaf = prompt_bytes(&text, prompt);
        ctx.rec_d(
            key(0, 0, embed_op::PROMPT),
            Sha256::digest(&prompt_leaf).into(),
            || StepTensor::Prompt {
                text: text.clone(),
                ids: prompt.to_vec(),
            },
            Vec::new,
        );
        if ctx.capture.is_some() {
            // The input of a captured prompt position's `EMBED`.
            ctx.prompt = Some(StepTensor::Prompt {
                text,
                ids: prompt.to_vec(),
            });
        }
        let mut cache = KvCache::default();
        let mut dec = StreamDecoder::default();
        let mut logits = match ctx.prefill {
            Prefill::Batched => self.forward(prompt, 0, &mut cache, true, ctx),
            Prefill::Sequential => self.forward_sequential(prompt, 0, &mut cache, true, ctx),
        }
        .expect("logits requested");
        let mut tokens = Vec::new();
        let hst = self.cfg.n_layers as u16 + 1;
        let finish = loop {
            let i = tokens.len() as u64;
            let p = (prompt.len() + tokens.len() - 1) as u32;
            let tok = match ctx.dev_fault {
                Some(DevFault::SampleRunnerUp { index }) if index == i => {
                    runner_up(&logits, sample(&logits, s, i))
                }
                _ => sample(&logits, s, i),
            };
            let out = StepTensor::Token(tok);
            let k = key(p, hst, head_op::SAMPLE);
            ctx.rec(k, &out, || vec![StepTensor::Wide(logits.clone())]);
            if let Some(c) = ctx.captured.as_mut().filter(|c| c.key == k) {
                c.sampling = Some((*s, i));
            }
            tokens.push(tok);
            if stops.contains(&tok) {
                break FinishReason::Stop;
            }
            let text = dec.push(&self.tok.token_bytes(tok));
            if !on_token(tok, &text) {
                break FinishReason::Cancelled;
            }
            if tokens.len() >= s.max_tokens as usize {
                break FinishReason::Length;
            }
            logits = self
                .forward(&[tok], p as usize + 1, &mut cache, true, ctx)
                .expect("logits requested");
        };
        let (trace_root, prompt_path) = ctx.trace.root_and_first_path();
        Ok(Generation {
            completion_tokens: tokens.len() as u32,
            prompt_tokens: prompt.len() as u32,
            tokens,
            finish_reason: finish,
            trace_root,
            trace_steps: ctx.trace.len(),
            prompt_leaf,
            prompt_path,
        })
    }
}

/// The largest logit other than `pick`'s (the smallest id on ties); `pick` when it is alone.
fn runner_up(logits: &[i64], pick: u32) -> u32 {
    let mut best: Option<usize> = None;
    for (i, &l) in logits.iter().enumerate() {
        if i as u32 != pick && best.is_none_or(|b| l > logits[b]) {
            best = Some(i);
        }
    }
    best.map_or(pick, |b| b as u32)
}

fn key(pos: u32, stage: u16, op: u8) -> StepKey {
    StepKey { pos, stage, op }
}

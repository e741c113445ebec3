//! The integer forward pass (batched over positions for the prompt) and generation.

use super::ops::{self, RopeStyle};
use super::sampling::{sample, Sampling};
use super::trace::{embed_op, head_op, layer_op, StepKey, StepTensor, Trace};
use super::{Arch, Model};
use crate::error::EngineError;
use crate::fixed::Act16;
use crate::tables::{self, rope_cos_sin, rope_inv_freq};
use crate::tokenizer::StreamDecoder;

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

/// Per-run state: the trace and an optional step to capture.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub trace: Trace,
    pub capture: Option<StepKey>,
    pub captured: Option<StepRecord>,
}

impl Ctx {
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
            out.extend(ops::attend(qh, &kh, &vh, scale));
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
    pub(crate) fn forward(
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
        if cache.k.is_empty() {
            cache.k = vec![Vec::new(); nl];
            cache.v = vec![Vec::new(); nl];
        }
        let pos = |t: usize| (start + t) as u32;
        let scale = cfg.embed_scale_q32();
        let mut hs: Vec<Vec<i64>> = Vec::with_capacity(tokens.len());
        for (t, &tok) in tokens.iter().enumerate() {
            let h = ops::embed_row(&self.embd, tok as usize, scale);
            let out = StepTensor::Wide(h);
            ctx.rec(key(pos(t), 0, embed_op::EMBED), &out, || {
                vec![StepTensor::Token(tok)]
            });
            let StepTensor::Wide(h) = out else {
                unreachable!()
            };
            hs.push(h);
        }
        for (l, ly) in self.layers.iter().enumerate() {
            let st = 1 + l as u16;
            // Attention block.
            let xs: Vec<Act16> = hs
                .iter()
                .map(|h| Act16::from_wide(&ops::rms_norm(h, &ly.attn_norm, eps)))
                .collect();
            for (t, x) in xs.iter().enumerate() {
                let out = StepTensor::Act(x.clone());
                ctx.rec(key(pos(t), st, layer_op::ATTN_NORM), &out, || {
                    vec![StepTensor::Wide(hs[t].clone())]
                });
            }
            let q = self.matmul_rec(&ly.wq, &xs, ctx, start, st, layer_op::Q);
            let k = self.matmul_rec(&ly.wk, &xs, ctx, start, st, layer_op::K);
            let v = self.matmul_rec(&ly.wv, &xs, ctx, start, st, layer_op::V);
            let mut attn_in = Vec::with_capacity(tokens.len());
            for t in 0..tokens.len() {
                let p = pos(t);
                let cs = self.rope_at(l, p);
                let qh = self.qk_rope(&q[t], ly.q_norm.as_deref(), &cs);
                let kh = self.qk_rope(&k[t], ly.k_norm.as_deref(), &cs);
                let vh = ops::per_head_act(&v[t], cfg.n_kv_heads);
                let (qo, ko, vo) = (
                    StepTensor::Acts(qh.clone()),
                    StepTensor::Acts(kh.clone()),
                    StepTensor::Acts(vh.clone()),
                );
                ctx.rec(key(p, st, layer_op::Q_ROPE), &qo, || {
                    vec![StepTensor::Wide(q[t].clone())]
                });
                ctx.rec(key(p, st, layer_op::K_ROPE), &ko, || {
                    vec![StepTensor::Wide(k[t].clone())]
                });
                ctx.rec(key(p, st, layer_op::V_CACHE), &vo, || {
                    vec![StepTensor::Wide(v[t].clone())]
                });
                cache.k[l].extend(kh);
                cache.v[l].extend(vh);
                let lo = self.window_start(l, p as usize) * cfg.n_kv_heads;
                let hi = (p as usize + 1) * cfg.n_kv_heads;
                let (ks, vs) = (&cache.k[l][lo..hi], &cache.v[l][lo..hi]);
                let a = self.attention(&qh, ks, vs);
                let out = StepTensor::Act(a.clone());
                ctx.rec(key(p, st, layer_op::ATTN), &out, || {
                    vec![
                        StepTensor::Acts(qh.clone()),
                        StepTensor::Acts(ks.to_vec()),
                        StepTensor::Acts(vs.to_vec()),
                    ]
                });
                attn_in.push(a);
            }
            let o = self.matmul_rec(&ly.wo, &attn_in, ctx, start, st, layer_op::O);
            for t in 0..tokens.len() {
                let h1 = self.residual(&hs[t], &o[t], ly.post_attn_norm.as_deref());
                let out = StepTensor::Wide(h1);
                ctx.rec(key(pos(t), st, layer_op::RESID_ATTN), &out, || {
                    vec![
                        StepTensor::Wide(hs[t].clone()),
                        StepTensor::Wide(o[t].clone()),
                    ]
                });
                let StepTensor::Wide(h1) = out else {
                    unreachable!()
                };
                hs[t] = h1;
            }
            // Feed-forward block.
            let xs: Vec<Act16> = hs
                .iter()
                .map(|h| Act16::from_wide(&ops::rms_norm(h, &ly.ffn_norm, eps)))
                .collect();
            for (t, x) in xs.iter().enumerate() {
                let out = StepTensor::Act(x.clone());
                ctx.rec(key(pos(t), st, layer_op::FFN_NORM), &out, || {
                    vec![StepTensor::Wide(hs[t].clone())]
                });
            }
            let g = self.matmul_rec(&ly.gate, &xs, ctx, start, st, layer_op::GATE);
            let u = self.matmul_rec(&ly.up, &xs, ctx, start, st, layer_op::UP);
            let acts: Vec<Act16> = (0..tokens.len())
                .map(|t| {
                    let a = Act16::from_wide(&ops::gated(&g[t], &u[t], self.act_table()));
                    let out = StepTensor::Act(a.clone());
                    ctx.rec(key(pos(t), st, layer_op::ACT), &out, || {
                        vec![
                            StepTensor::Wide(g[t].clone()),
                            StepTensor::Wide(u[t].clone()),
                        ]
                    });
                    a
                })
                .collect();
            let dn = self.matmul_rec(&ly.down, &acts, ctx, start, st, layer_op::DOWN);
            for t in 0..tokens.len() {
                let h2 = self.residual(&hs[t], &dn[t], ly.post_ffn_norm.as_deref());
                let out = StepTensor::Wide(h2);
                ctx.rec(key(pos(t), st, layer_op::RESID_FFN), &out, || {
                    vec![
                        StepTensor::Wide(hs[t].clone()),
                        StepTensor::Wide(dn[t].clone()),
                    ]
                });
                let StepTensor::Wide(h2) = out else {
                    unreachable!()
                };
                hs[t] = h2;
            }
        }
        if !want_logits {
            return None;
        }
        let t = tokens.len() - 1;
        let hst = cfg.n_layers as u16 + 1;
        let x = Act16::from_wide(&ops::rms_norm(&hs[t], &self.output_norm, eps));
        let out = StepTensor::Act(x.clone());
        ctx.rec(key(pos(t), hst, head_op::FINAL_NORM), &out, || {
            vec![StepTensor::Wide(hs[t].clone())]
        });
        let w = self.output.as_ref().unwrap_or(&self.embd);
        let logits = self.exec.matmul(w, std::slice::from_ref(&x)).remove(0);
        let out = StepTensor::Wide(logits);
        ctx.rec(key(pos(t), hst, head_op::LOGITS), &out, || {
            vec![StepTensor::Act(x.clone())]
        });
        let StepTensor::Wide(logits) = out else {
            unreachable!()
        };
        Some(logits)
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
        let ys = self.exec.matmul(w, xs);
        ys.into_iter()
            .enumerate()
            .map(|(t, y)| {
                let out = StepTensor::Wide(y);
                ctx.rec(key((start + t) as u32, stage, op), &out, || {
                    vec![StepTensor::Act(xs[t].clone())]
                });
                let StepTensor::Wide(y) = out else {
                    unreachable!()
                };
                y
            })
            .collect()
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
        let mut ctx = Ctx::default();
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
        let mut cache = KvCache::default();
        let mut dec = StreamDecoder::default();
        let mut logits = self
            .forward(prompt, 0, &mut cache, true, ctx)
            .expect("logits requested");
        let mut tokens = Vec::new();
        let hst = self.cfg.n_layers as u16 + 1;
        let finish = loop {
            let i = tokens.len() as u64;
            let p = (prompt.len() + tokens.len() - 1) as u32;
            let tok = sample(&logits, s, i);
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
        Ok(Generation {
            completion_tokens: tokens.len() as u32,
            prompt_tokens: prompt.len() as u32,
            tokens,
            finish_reason: finish,
            trace_root: ctx.trace.root(),
            trace_steps: ctx.trace.len(),
        })
    }
}

fn key(pos: u32, stage: u16, op: u8) -> StepKey {
    StepKey { pos, stage, op }
}

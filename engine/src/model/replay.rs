//! Re-executing one trace step from its inputs (disputes, ZK export).
//!
//! Inputs per operator (all [`StepTensor`]s, in this order):
//! - `PROMPT`: none (the prompt's tokens are the run's input; not replayable);
//! - `EMBED`: `[Prompt { text, ids }]` at a prompt position (the `PROMPT` step's output), else
//!   `[Token(id)]` (the `SAMPLE` of the position before);
//! - `ATTN_NORM`, `FFN_NORM`, `FINAL_NORM`: `[Wide(h)]`;
//! - `Q`, `K`, `V`, `O`, `GATE`, `UP`, `DOWN`, `LOGITS`: `[Act(x)]` (weights from the model);
//! - `Q_ROPE`, `K_ROPE`, `V_CACHE`: `[Wide(projection)]` (position from the key);
//! - `ATTN`: `[Acts(query heads), Acts(visible keys), Acts(visible values)]`, the cache entries
//!   position-major, kv-head-minor;
//! - `RESID_ATTN`, `RESID_FFN`: `[Wide(h), Wide(block output)]`;
//! - `ACT`: `[Wide(gate), Wide(up)]`;
//! - `SAMPLE`: `[Wide(logits)]` with the sampling parameters and completion index.

use super::forward::{Ctx, DevFault, StepRecord};
use super::ops;
use super::sampling::{sample, Sampling};
use super::trace::{embed_op, head_op, layer_op, StepKey, StepTensor};
use super::Model;
use crate::error::EngineError;
use crate::fixed::Act16;

fn bad(key: StepKey, m: &str) -> EngineError {
    EngineError::InvalidRequest(format!("step {key:?}: {m}"))
}

/// Trace steps in trace order: each step's key and output digest.
pub type TraceSteps = Vec<(StepKey, [u8; 32])>;

impl Model {
    /// Runs the request like [`Model::generate`] and also returns every trace step (key and
    /// output digest) in trace order: the leaves behind `trace_root`, for the dispute bisection.
    pub fn trace_steps(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        on_token: &mut dyn FnMut(u32, &str) -> bool,
    ) -> Result<(super::forward::Generation, TraceSteps), EngineError> {
        self.trace_steps_with_fault(prompt, sampling, None, on_token)
    }

    /// [`Model::trace_steps`] with a [`DevFault`] injected (dev only: dispute tests).
    pub fn trace_steps_with_fault(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        fault: Option<DevFault>,
        on_token: &mut dyn FnMut(u32, &str) -> bool,
    ) -> Result<(super::forward::Generation, TraceSteps), EngineError> {
        let mut ctx = Ctx {
            dev_fault: fault,
            ..Ctx::default()
        };
        let g = self.run(prompt, sampling, on_token, &mut ctx)?;
        Ok((g, ctx.trace.steps()))
    }

    /// [`Model::trace_steps`] with the prompt run as `prefill` says (the results are the same
    /// for both; for comparing them).
    pub fn trace_steps_with(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        prefill: super::forward::Prefill,
    ) -> Result<(super::forward::Generation, TraceSteps), EngineError> {
        let mut ctx = Ctx {
            prefill,
            ..Ctx::default()
        };
        let g = self.run(prompt, sampling, &mut |_, _| true, &mut ctx)?;
        Ok((g, ctx.trace.steps()))
    }

    /// Runs the request again and returns step `index` (in trace order) with its inputs.
    pub fn step_input(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        index: u64,
    ) -> Result<StepRecord, EngineError> {
        self.step_input_with_fault(prompt, sampling, None, index)
    }

    /// [`Model::step_input`] of a run with a [`DevFault`] injected (dev only: dispute tests).
    pub fn step_input_with_fault(
        &self,
        prompt: &[u32],
        sampling: &Sampling,
        fault: Option<DevFault>,
        index: u64,
    ) -> Result<StepRecord, EngineError> {
        let mut ctx = Ctx {
            dev_fault: fault,
            ..Ctx::default()
        };
        let g = self.run(prompt, sampling, &mut |_, _| true, &mut ctx)?;
        let steps = ctx.trace.steps();
        let key = steps
            .get(index as usize)
            .map(|s| s.0)
            .ok_or(EngineError::StepOutOfRange {
                step: index,
                steps: g.trace_steps,
            })?;
        let mut ctx = Ctx {
            capture: Some(key),
            dev_fault: fault,
            ..Ctx::default()
        };
        self.run(prompt, sampling, &mut |_, _| true, &mut ctx)?;
        let mut rec = ctx.captured.ok_or(EngineError::StepOutOfRange {
            step: index,
            steps: g.trace_steps,
        })?;
        rec.index = index;
        Ok(rec)
    }

    /// Recomputes a step's output from its recorded inputs and checks it against the recorded
    /// output; returns the recomputed output.
    pub fn replay_step(&self, rec: &StepRecord) -> Result<StepTensor, EngineError> {
        let out = self.exec_step(rec.key, &rec.inputs, rec.sampling)?;
        if out != rec.output {
            return Err(EngineError::ReplayMismatch { step: rec.index });
        }
        Ok(out)
    }

    /// Computes one operator from its inputs.
    pub fn exec_step(
        &self,
        key: StepKey,
        inputs: &[StepTensor],
        sampling: Option<(Sampling, u64)>,
    ) -> Result<StepTensor, EngineError> {
        let nl = self.cfg.n_layers as u16;
        let eps = self.cfg.eps_q64();
        let wide = |i: usize| match inputs.get(i) {
            Some(StepTensor::Wide(v)) => Ok(v.as_slice()),
            _ => Err(bad(key, "expected a wide input")),
        };
        let act = |i: usize| match inputs.get(i) {
            Some(StepTensor::Act(a)) => Ok(a),
            _ => Err(bad(key, "expected an Act16 input")),
        };
        let acts = |i: usize| match inputs.get(i) {
            Some(StepTensor::Acts(a)) => Ok(a.as_slice()),
            _ => Err(bad(key, "expected an Act16 list input")),
        };
        let mm = |w: &crate::weights::QMatrix, x: &Act16| -> Result<StepTensor, EngineError> {
            if x.q.len() != w.cols {
                return Err(bad(key, "input length"));
            }
            Ok(StepTensor::Wide(
                self.exec.matmul(w, std::slice::from_ref(x)).remove(0),
            ))
        };
        if key.stage == 0 {
            let token = match (key.op, inputs.first()) {
                (embed_op::EMBED, Some(StepTensor::Token(t))) => *t,
                (embed_op::EMBED, Some(StepTensor::Prompt { ids: p, .. })) => *p
                    .get(key.pos as usize)
                    .ok_or_else(|| bad(key, "the prompt has no token at this position"))?,
                (embed_op::PROMPT, _) => {
                    return Err(bad(
                        key,
                        "the prompt step is the trace's input, not computed",
                    ))
                }
                _ => return Err(bad(key, "embedding step needs a token")),
            };
            if token as usize >= self.cfg.vocab {
                return Err(bad(key, "token not in the vocabulary"));
            }
            return Ok(StepTensor::Wide(ops::embed_row(
                &self.embd,
                token as usize,
                self.cfg.embed_scale_q32(),
            )));
        }
        if key.stage == nl + 1 {
            return match key.op {
                head_op::FINAL_NORM => Ok(StepTensor::Act(Act16::from_wide(&ops::rms_norm(
                    wide(0)?,
                    &self.output_norm,
                    eps,
                )))),
                head_op::LOGITS => mm(self.output.as_ref().unwrap_or(&self.embd), act(0)?),
                head_op::SAMPLE => {
                    let (s, i) = sampling.ok_or_else(|| bad(key, "sampling parameters"))?;
                    Ok(StepTensor::Token(sample(wide(0)?, &s, i)))
                }
                _ => Err(bad(key, "unknown head operator")),
            };
        }
        let l = (key.stage - 1) as usize;
        let ly = self
            .layers
            .get(l)
            .ok_or_else(|| bad(key, "no such layer"))?;
        let d = self.cfg.d_model;
        let len_ok = |v: &[i64], n: usize| {
            if v.len() == n {
                Ok(())
            } else {
                Err(bad(key, "input length"))
            }
        };
        Ok(match key.op {
            layer_op::ATTN_NORM | layer_op::FFN_NORM => {
                let h = wide(0)?;
                len_ok(h, d)?;
                let g = if key.op == layer_op::ATTN_NORM {
                    &ly.attn_norm
                } else {
                    &ly.ffn_norm
                };
                StepTensor::Act(Act16::from_wide(&ops::rms_norm(h, g, eps)))
            }
            layer_op::Q => mm(&ly.wq, act(0)?)?,
            layer_op::K => mm(&ly.wk, act(0)?)?,
            layer_op::V => mm(&ly.wv, act(0)?)?,
            layer_op::O => mm(&ly.wo, act(0)?)?,
            layer_op::GATE => mm(&ly.gate, act(0)?)?,
            layer_op::UP => mm(&ly.up, act(0)?)?,
            layer_op::DOWN => mm(&ly.down, act(0)?)?,
            layer_op::Q_ROPE | layer_op::K_ROPE => {
                let (norm, heads) = if key.op == layer_op::Q_ROPE {
                    (ly.q_norm.as_deref(), self.cfg.n_heads)
                } else {
                    (ly.k_norm.as_deref(), self.cfg.n_kv_heads)
                };
                let v = wide(0)?;
                len_ok(v, heads * self.cfg.head_dim)?;
                StepTensor::Acts(self.qk_rope(v, norm, &self.rope_at(l, key.pos)))
            }
            layer_op::V_CACHE => {
                let v = wide(0)?;
                len_ok(v, self.cfg.n_kv_heads * self.cfg.head_dim)?;
                StepTensor::Acts(ops::per_head_act(v, self.cfg.n_kv_heads))
            }
            layer_op::ATTN => {
                let (q, ks, vs) = (acts(0)?, acts(1)?, acts(2)?);
                let nkv = self.cfg.n_kv_heads;
                let lo = self.window_start(l, key.pos as usize);
                let want = (key.pos as usize + 1 - lo) * nkv;
                if q.len() != self.cfg.n_heads || ks.len() != want || vs.len() != want {
                    return Err(bad(key, "attention inputs do not match the visible window"));
                }
                StepTensor::Act(self.attention(q, ks, vs))
            }
            layer_op::RESID_ATTN | layer_op::RESID_FFN => {
                let (h, x) = (wide(0)?, wide(1)?);
                len_ok(h, d)?;
                len_ok(x, d)?;
                let post = if key.op == layer_op::RESID_ATTN {
                    ly.post_attn_norm.as_deref()
                } else {
                    ly.post_ffn_norm.as_deref()
                };
                StepTensor::Wide(self.residual(h, x, post))
            }
            layer_op::ACT => {
                let (g, u) = (wide(0)?, wide(1)?);
                len_ok(g, self.cfg.ffn_dim)?;
                len_ok(u, self.cfg.ffn_dim)?;
                StepTensor::Act(Act16::from_wide(&ops::gated(g, u, self.act_table())))
            }
            _ => return Err(bad(key, "unknown layer operator")),
        })
    }
}

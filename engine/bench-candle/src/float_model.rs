//! Gemma 3 in candle tensors, from the same GGUF: the float reference of the quality benchmark.
//!
//! Written here rather than taken from `candle_transformers::models::quantized_gemma3`, whose
//! 0.11 feed-forward applies SiLU where Gemma 3 uses GELU (tanh approximation) and which returns
//! the logits of the last position only. This one follows the Gemma 3 reference: embedding times
//! sqrt(d), pre- and post-norms (the GGUF stores `1 + w`), QK-norm, NeoX RoPE (local layers base
//! 10000, every sixth layer global with `gemma3.rope.freq_base`), sliding window on local layers,
//! GQA, GeGLU (tanh), tied output. One pass over the whole sequence returns every position's
//! logits (teacher forcing).
//!
//! Two weight modes: [`Mode::F32`] dequantizes every tensor to f32 (f32 activations: the float
//! reference); [`Mode::Q8`] keeps the quantized blocks in `candle::quantized::QMatMul`, whose CPU
//! product quantizes the activations to 8 bits (Q8_0 / Q8_K blocks) - candle's default quantized
//! path.

use candle_core::quantized::{gguf_file, QMatMul};
use candle_core::{DType, Device, Module, Result, Tensor};
use otr_engine::Config;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    F32,
    Q8,
    /// f32 activations with the engine's converted weights (int8 blocks `q b m 2^e`, norms with
    /// 16 fractional bits), dequantized exactly: separates the engine's weight conversion from
    /// its integer activations.
    Int8,
}

/// The engine's conversion of every tensor of `path`, dequantized to f32, with the relative L2
/// error of each matrix against the GGUF's own dequantization, summed per GGUF block type:
/// `(type, sum err^2, sum ref^2)`.
pub struct Int8Weights {
    pub tensors: std::collections::HashMap<String, Tensor>,
    pub error_by_type: Vec<(String, f64, f64)>,
}

pub fn engine_weights(path: &Path) -> Result<Int8Weights> {
    use otr_engine::weights::Tensor as ET;
    let bytes = std::fs::read(path)?;
    let g = otr_engine::gguf::Gguf::parse(&bytes).map_err(candle_core::Error::wrap)?;
    let dev = Device::Cpu;
    let mut f = std::fs::File::open(path)?;
    let ct = gguf_file::Content::read(&mut f)?;
    let mut tensors = std::collections::HashMap::new();
    let mut by_type: Vec<(String, f64, f64)> = Vec::new();
    for t in &g.tensors {
        let conv =
            otr_engine::convert::convert_tensor(&bytes, t).map_err(candle_core::Error::wrap)?;
        let x = match conv {
            ET::Norm(v) => {
                let v: Vec<f32> = v.iter().map(|&x| x as f32 / 65536.0).collect();
                let n = v.len();
                Tensor::from_vec(v, n, &dev)?
            }
            ET::Matrix(m) => {
                let mut w = vec![0f32; m.rows * m.cols];
                let nb = m.cols / otr_engine::weights::BLOCK;
                for r in 0..m.rows {
                    let rs = m.rm[r] as f64 * 2f64.powi(m.re[r]);
                    for k in 0..nb {
                        let s = rs * m.bscale[r * nb + k] as f64;
                        for i in 0..otr_engine::weights::BLOCK {
                            let j = r * m.cols + k * otr_engine::weights::BLOCK + i;
                            w[j] = (m.q[j] as f64 * s) as f32;
                        }
                    }
                }
                let x = Tensor::from_vec(w, (m.rows, m.cols), &dev)?;
                let qt = ct.tensor(&mut f, &t.name, &dev)?;
                let reference = qt.dequantize(&dev)?.reshape((m.rows, m.cols))?;
                let err = (&x - &reference)?.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
                let den = reference.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
                let ty = format!("{:?}", qt.dtype());
                match by_type.iter_mut().find(|e| e.0 == ty) {
                    Some(e) => {
                        e.1 += err;
                        e.2 += den;
                    }
                    None => by_type.push((ty, err, den)),
                }
                x
            }
        };
        tensors.insert(t.name.clone(), x);
    }
    Ok(Int8Weights {
        tensors,
        error_by_type: by_type,
    })
}

struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    attn_norm: Tensor,
    q_norm: Tensor,
    k_norm: Tensor,
    post_attn_norm: Tensor,
    ffn_norm: Tensor,
    post_ffn_norm: Tensor,
    global: bool,
}

pub struct FloatGemma {
    embd: Tensor,
    layers: Vec<Layer>,
    out_norm: Tensor,
    output: QMatMul,
    cfg: Config,
    eps: f32,
    rope_local: (Tensor, Tensor),
    rope_global: (Tensor, Tensor),
    dev: Device,
}

/// cos and sin of `pos * base^(-2i/d)` for `pos < n`, computed in f64.
fn rope_tables(base: f64, head_dim: usize, n: usize, dev: &Device) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let mut c = Vec::with_capacity(n * half);
    let mut s = Vec::with_capacity(n * half);
    for p in 0..n {
        for i in 0..half {
            let a = p as f64 * base.powf(-(2.0 * i as f64) / head_dim as f64);
            c.push(a.cos() as f32);
            s.push(a.sin() as f32);
        }
    }
    Ok((
        Tensor::from_vec(c, (n, half), dev)?,
        Tensor::from_vec(s, (n, half), dev)?,
    ))
}

/// Simulated alternative weight formats, for guidance: the GGUF's dequantized weights
/// requantized in f64 to int8 in blocks of 32 with an integer block scale in `1..=bmax` times a
/// per-row scale (`bmax = 15` is the engine's format up to its 24-bit row-scale rounding).
/// Norm vectors are kept in f32.
pub fn simulated_weights(path: &Path, bmax: u32) -> Result<Int8Weights> {
    let dev = Device::Cpu;
    let mut f = std::fs::File::open(path)?;
    let ct = gguf_file::Content::read(&mut f)?;
    let names: Vec<String> = ct.tensor_infos.keys().cloned().collect();
    let mut tensors = std::collections::HashMap::new();
    let mut by_type: Vec<(String, f64, f64)> = Vec::new();
    for name in names {
        let qt = ct.tensor(&mut f, &name, &dev)?;
        let reference = qt.dequantize(&dev)?;
        if reference.rank() == 1 {
            tensors.insert(name, reference);
            continue;
        }
        let (rows, cols) = reference.dims2()?;
        let w: Vec<f32> = reference.flatten_all()?.to_vec1()?;
        let mut out = vec![0f32; w.len()];
        let (mut err, mut den) = (0f64, 0f64);
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            let max = row.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
            if max == 0.0 {
                continue;
            }
            let s = max / (127.0 * bmax as f64);
            for (k, blk) in row.chunks(32).enumerate() {
                let bm = blk.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
                let b = (bm / (127.0 * s)).ceil().clamp(1.0, bmax as f64);
                let step = s * b;
                for (i, &x) in blk.iter().enumerate() {
                    let q = (x as f64 / step).round_ties_even().clamp(-127.0, 127.0);
                    let y = q * step;
                    out[r * cols + k * 32 + i] = y as f32;
                    err += (y - x as f64) * (y - x as f64);
                    den += x as f64 * x as f64;
                }
            }
        }
        let ty = format!("{:?}", qt.dtype());
        match by_type.iter_mut().find(|e| e.0 == ty) {
            Some(e) => {
                e.1 += err;
                e.2 += den;
            }
            None => by_type.push((ty, err, den)),
        }
        tensors.insert(name, Tensor::from_vec(out, (rows, cols), &dev)?);
    }
    Ok(Int8Weights {
        tensors,
        error_by_type: by_type,
    })
}

impl FloatGemma {
    /// Loads `path` for sequences of at most `max_len` tokens; `cfg` is the engine's reading of the
    /// same file (shapes, eps, RoPE bases, window, layer pattern).
    /// `int8` holds the engine's weights for [`Mode::Int8`].
    pub fn load(
        path: &Path,
        mode: Mode,
        cfg: &Config,
        max_len: usize,
        int8: Option<&Int8Weights>,
    ) -> Result<FloatGemma> {
        let dev = Device::Cpu;
        let mut f = std::fs::File::open(path)?;
        let ct = gguf_file::Content::read(&mut f)?;
        let mut get = |name: &str| -> Result<candle_core::quantized::QTensor> {
            if let (Mode::Int8, Some(w)) = (mode, int8) {
                let t = w
                    .tensors
                    .get(name)
                    .ok_or_else(|| candle_core::Error::Msg(format!("{name} missing")))?;
                return candle_core::quantized::QTensor::quantize(
                    t,
                    candle_core::quantized::GgmlDType::F32,
                );
            }
            ct.tensor(&mut f, name, &dev)
        };
        let embd_q = get("token_embd.weight")?;
        let embd = embd_q.dequantize(&dev)?;
        let mm = |qt: candle_core::quantized::QTensor| -> Result<QMatMul> {
            match mode {
                Mode::F32 | Mode::Int8 => Ok(QMatMul::Tensor(qt.dequantize(&Device::Cpu)?)),
                Mode::Q8 => QMatMul::from_qtensor(qt),
            }
        };
        let output = if cfg.separate_output {
            mm(get("output.weight")?)?
        } else if mode != Mode::Q8 {
            QMatMul::Tensor(embd.clone())
        } else {
            QMatMul::from_qtensor(embd_q)?
        };
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for l in 0..cfg.n_layers {
            let p = format!("blk.{l}.");
            let mut norm = |n: &str| get(&format!("{p}{n}.weight"))?.dequantize(&Device::Cpu);
            let attn_norm = norm("attn_norm")?;
            let q_norm = norm("attn_q_norm")?;
            let k_norm = norm("attn_k_norm")?;
            let post_attn_norm = norm("post_attention_norm")?;
            let ffn_norm = norm("ffn_norm")?;
            let post_ffn_norm = norm("post_ffw_norm")?;
            let mut w = |n: &str| get(&format!("{p}{n}.weight"));
            layers.push(Layer {
                wq: mm(w("attn_q")?)?,
                wk: mm(w("attn_k")?)?,
                wv: mm(w("attn_v")?)?,
                wo: mm(w("attn_output")?)?,
                gate: mm(w("ffn_gate")?)?,
                up: mm(w("ffn_up")?)?,
                down: mm(w("ffn_down")?)?,
                attn_norm,
                q_norm,
                k_norm,
                post_attn_norm,
                ffn_norm,
                post_ffn_norm,
                global: cfg.is_global(l),
            });
        }
        let out_norm = get("output_norm.weight")?.dequantize(&dev)?;
        Ok(FloatGemma {
            embd,
            layers,
            out_norm,
            output,
            eps: cfg.eps as f32,
            rope_local: rope_tables(cfg.rope_base_local, cfg.head_dim, max_len, &dev)?,
            rope_global: rope_tables(cfg.rope_base_global, cfg.head_dim, max_len, &dev)?,
            cfg: cfg.clone(),
            dev,
        })
    }

    fn rms(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, w, self.eps)
    }

    /// Logits `[T, vocab]` of every position of `tokens`, and (when `hidden`) the residual
    /// stream `[T, d]` after each layer.
    pub fn forward(&self, tokens: &[u32], hidden: bool) -> Result<(Tensor, Vec<Tensor>)> {
        let c = &self.cfg;
        let t = tokens.len();
        let (nh, nkv, hd) = (c.n_heads, c.n_kv_heads, c.head_dim);
        let ids = Tensor::new(tokens, &self.dev)?;
        let mut h = (self.embd.index_select(&ids, 0)? * (c.d_model as f64).sqrt())?;
        // Masks: causal (global layers), causal + window of `sliding_window` positions (local).
        let mk = |window: usize| -> Result<Tensor> {
            let m: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..t).map(move |j| {
                        if j > i || (window > 0 && i - j >= window) {
                            f32::NEG_INFINITY
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            Tensor::from_vec(m, (t, t), &self.dev)
        };
        let mask_global = mk(0)?;
        let mask_local = mk(c.sliding_window)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let mut hs = Vec::new();
        for ly in &self.layers {
            let x = self.rms(&h, &ly.attn_norm)?;
            let heads = |y: Tensor, n: usize| -> Result<Tensor> {
                y.reshape((t, n, hd))?.transpose(0, 1)?.contiguous()
            };
            let q = self.rms(&heads(ly.wq.forward(&x)?, nh)?, &ly.q_norm)?;
            let k = self.rms(&heads(ly.wk.forward(&x)?, nkv)?, &ly.k_norm)?;
            let v = heads(ly.wv.forward(&x)?, nkv)?;
            let (cos, sin) = if ly.global {
                &self.rope_global
            } else {
                &self.rope_local
            };
            let (cos, sin) = (cos.narrow(0, 0, t)?, sin.narrow(0, 0, t)?);
            let q = candle_nn::rotary_emb::rope(&q.unsqueeze(0)?, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope(&k.unsqueeze(0)?, &cos, &sin)?;
            let k = candle_transformers::utils::repeat_kv(k, nh / nkv)?.contiguous()?;
            let v =
                candle_transformers::utils::repeat_kv(v.unsqueeze(0)?, nh / nkv)?.contiguous()?;
            let att = (q.matmul(&k.t()?)? * scale)?;
            let mask = if ly.global { &mask_global } else { &mask_local };
            let att = candle_nn::ops::softmax_last_dim(&att.broadcast_add(mask)?)?;
            let o = att
                .matmul(&v)?
                .squeeze(0)?
                .transpose(0, 1)?
                .reshape((t, nh * hd))?;
            let o = self.rms(&ly.wo.forward(&o)?, &ly.post_attn_norm)?;
            h = (h + o)?;
            let x = self.rms(&h, &ly.ffn_norm)?;
            let g = ly.gate.forward(&x)?.gelu()?;
            let u = ly.up.forward(&x)?;
            let y = self.rms(&ly.down.forward(&(g * u)?)?, &ly.post_ffn_norm)?;
            h = (h + y)?;
            if hidden {
                hs.push(h.clone());
            }
        }
        let x = self.rms(&h, &self.out_norm)?;
        let logits = self.output.forward(&x)?.to_dtype(DType::F32)?;
        Ok((logits, hs))
    }
}

//! Architecture configuration read from GGUF metadata.

use crate::error::EngineError;
use crate::fixed::isqrt_u128;
use crate::gguf::Gguf;

/// The supported architectures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Gemma3,
    Llama,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Gemma3 => "gemma3",
            Arch::Llama => "llama",
        }
    }
}

/// Everything the forward pass needs to know about the model's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub arch: Arch,
    pub n_layers: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub ffn_dim: usize,
    pub vocab: usize,
    pub context_len: usize,
    /// RMSNorm epsilon as given in the GGUF.
    pub eps: f64,
    /// RoPE base of global layers (`<arch>.rope.freq_base`).
    pub rope_base_global: f64,
    /// RoPE base of local (sliding-window) layers: 10000 for Gemma 3 (not in the GGUF).
    pub rope_base_local: f64,
    /// Sliding window of local layers (0 = none).
    pub sliding_window: usize,
    /// Every `global_every`-th layer is global (Gemma 3: 6, i.e. layers 5, 11, 17, ...);
    /// 0 = every layer is global.
    pub global_every: usize,
    /// Whether the output projection is a separate `output.weight` (else tied embeddings).
    pub separate_output: bool,
}

impl Config {
    /// The canonical text form the model registry's `configHash` is taken over: every field in
    /// declaration order as `name=value;`, integers in decimal, floats as the hex of their IEEE
    /// 754 bits (exact), booleans as 0/1, the architecture as its GGUF name.
    pub fn canonical(&self) -> String {
        let arch = self.arch.name();
        format!(
            "arch={arch};n_layers={};d_model={};n_heads={};n_kv_heads={};head_dim={};ffn_dim={};\
             vocab={};context_len={};eps={:016x};rope_base_global={:016x};rope_base_local={:016x};\
             sliding_window={};global_every={};separate_output={};",
            self.n_layers,
            self.d_model,
            self.n_heads,
            self.n_kv_heads,
            self.head_dim,
            self.ffn_dim,
            self.vocab,
            self.context_len,
            self.eps.to_bits(),
            self.rope_base_global.to_bits(),
            self.rope_base_local.to_bits(),
            self.sliding_window,
            self.global_every,
            u8::from(self.separate_output),
        )
    }

    pub fn from_gguf(g: &Gguf) -> Result<Config, EngineError> {
        let arch_name = g.str("general.architecture")?;
        let arch = match arch_name {
            "gemma3" => Arch::Gemma3,
            "llama" => Arch::Llama,
            other => return Err(EngineError::UnsupportedArchitecture(other.to_string())),
        };
        let a = arch_name;
        let u = |k: &str| -> Result<usize, EngineError> {
            let v = g.u64(&format!("{a}.{k}"))?;
            usize::try_from(v)
                .ok()
                .filter(|&v| v <= 1 << 24)
                .ok_or_else(|| {
                    EngineError::MissingMetadata(format!("{a}.{k} = {v} is out of range"))
                })
        };
        let d_model = u("embedding_length")?;
        let n_heads = u("attention.head_count")?;
        let n_kv_heads = g
            .u64(&format!("{a}.attention.head_count_kv"))
            .map(|v| v as usize)
            .unwrap_or(n_heads);
        let head_dim = match g.u64(&format!("{a}.attention.key_length")) {
            Ok(v) => v as usize,
            Err(_) => d_model / n_heads.max(1),
        };
        let vocab = g
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.as_array())
            .map(|v| v.len())
            .ok_or_else(|| EngineError::MissingMetadata("tokenizer.ggml.tokens".into()))?;
        let cfg = Config {
            arch,
            n_layers: u("block_count")?,
            d_model,
            n_heads,
            n_kv_heads,
            head_dim,
            ffn_dim: u("feed_forward_length")?,
            vocab,
            context_len: u("context_length")?.min(32_768),
            eps: g.f64(&format!("{a}.attention.layer_norm_rms_epsilon"))?,
            rope_base_global: g.f64(&format!("{a}.rope.freq_base")).unwrap_or(10_000.0),
            rope_base_local: 10_000.0,
            sliding_window: match arch {
                Arch::Gemma3 => u("attention.sliding_window")?,
                Arch::Llama => 0,
            },
            global_every: match arch {
                Arch::Gemma3 => 6,
                Arch::Llama => 0,
            },
            separate_output: g.tensor("output.weight").is_some(),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), EngineError> {
        let bad = |m: String| Err(EngineError::MissingMetadata(m));
        if self.n_layers == 0 || self.d_model == 0 || self.n_heads == 0 || self.n_kv_heads == 0 {
            return bad("zero layers, width or heads".into());
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return bad(format!(
                "{} heads over {} kv heads",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) || self.head_dim == 0 {
            return bad(format!("head dim {} is odd", self.head_dim));
        }
        let eps_ok = self.eps > 0.0 && self.eps < 1.0;
        let base_ok = self.rope_base_global > 1.0 && self.rope_base_global < 1e12;
        if !eps_ok || !base_ok {
            return bad("eps or rope base out of range".into());
        }
        Ok(())
    }

    /// Whether layer `l` attends globally (else within the sliding window).
    pub fn is_global(&self, l: usize) -> bool {
        self.global_every == 0 || (l + 1).is_multiple_of(self.global_every)
    }

    /// Embedding scale: `sqrt(d_model)` for Gemma, 1 for Llama, with 32 fractional bits
    /// (integer square root, floor).
    pub fn embed_scale_q32(&self) -> i64 {
        match self.arch {
            Arch::Gemma3 => isqrt_u128((self.d_model as u128) << 64) as i64,
            Arch::Llama => 1 << 32,
        }
    }

    /// Attention score scale `1/sqrt(head_dim)` with 32 fractional bits (floor).
    pub fn attn_scale_q32(&self) -> i64 {
        isqrt_u128((1u128 << 64) / self.head_dim as u128) as i64
    }

    /// RMSNorm epsilon with 64 fractional bits (round half to even of the GGUF's value).
    pub fn eps_q64(&self) -> u128 {
        (self.eps * crate::gguf::f16::pow2(64)).round_ties_even() as u128
    }
}

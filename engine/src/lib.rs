//! # otr-engine
//!
//! Deterministic, integer-only transformer inference for OTR (DESIGN principle 1): every
//! result is bit-identical on any machine, thread count and kernel, so answers can be
//! re-executed by challengers, bisected step by step, and proven in zero knowledge.
//!
//! - [`gguf`]: GGUF v3 reader (hostile-input safe) and block decoders;
//! - [`weights`], [`convert`]: the int8 format, reproducible conversion, weights root, cache;
//! - [`tokenizer`]: SentencePiece-style tokenizer from GGUF metadata, Gemma chat template;
//! - [`model`]: Gemma 3 / Llama forward pass, sampling, trace, step replay;
//! - [`kernels`]: scalar, AVX2 and simd128 matrix-vector kernels, multi-threaded.
//!
//! See `engine/README.md` for the public API and every arithmetic convention.

pub mod convert;
pub mod detmath;
pub mod error;
pub mod fixed;
pub mod fixture;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod rng;
pub mod tables;
pub mod tokenizer;
pub mod weights;

pub use error::EngineError;
pub use kernels::Kernel;
pub use model::forward::{DevFault, FinishReason, Generation, Prefill, StepRecord};
pub use model::trace::{StepKey, StepTensor};
pub use model::{Arch, Config, LoadOptions, Model, ModelInfo, Sampling};
pub use tokenizer::Tokenizer;

/// The default converted-model cache directory: `$OTR_CACHE_DIR/models` or
/// `~/.cache/otr/models`.
pub fn default_cache_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("OTR_CACHE_DIR") {
        return std::path::PathBuf::from(d).join("models");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    std::path::PathBuf::from(home).join(".cache/otr/models")
}

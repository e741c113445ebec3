//! The engine's one error enum. Every variant has a stable [`EngineError::code`]; parse errors
//! carry the byte offset where the defect was found.

use std::fmt;

/// Everything that can go wrong while loading, converting or running a model.
#[derive(Debug)]
pub enum EngineError {
    /// Reading or writing a file failed.
    Io { path: String, message: String },
    /// The GGUF file is malformed at `offset`.
    GgufFormat { offset: u64, message: String },
    /// The GGUF file exceeds one of the reader's budgets (see [`crate::gguf::Limits`]).
    GgufLimit {
        offset: u64,
        what: &'static str,
        got: u64,
        max: u64,
    },
    /// A tensor uses a ggml block type this engine does not decode.
    UnsupportedTensorType { name: String, ggml_type: u32 },
    /// The model's architecture is not `gemma3` or `llama`.
    UnsupportedArchitecture(String),
    /// A metadata key the model needs is missing or has the wrong type.
    MissingMetadata(String),
    /// A tensor is missing or has an unexpected shape.
    TensorShape { name: String, message: String },
    /// The converted-model cache file is corrupt (checksum, version, structure).
    CacheCorrupt { path: String, message: String },
    /// The tokenizer metadata is inconsistent.
    Tokenizer(String),
    /// A request is invalid (empty prompt, context overflow, bad sampling parameters, ...).
    InvalidRequest(String),
    /// A trace step index is outside the trace.
    StepOutOfRange { step: u64, steps: u64 },
    /// A replayed step does not reproduce the recorded output.
    ReplayMismatch { step: u64 },
}

impl EngineError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Io { .. } => "ENGINE_IO",
            EngineError::GgufFormat { .. } => "GGUF_FORMAT",
            EngineError::GgufLimit { .. } => "GGUF_LIMIT",
            EngineError::UnsupportedTensorType { .. } => "GGUF_UNSUPPORTED_TENSOR_TYPE",
            EngineError::UnsupportedArchitecture(_) => "MODEL_UNSUPPORTED_ARCHITECTURE",
            EngineError::MissingMetadata(_) => "MODEL_MISSING_METADATA",
            EngineError::TensorShape { .. } => "MODEL_TENSOR_SHAPE",
            EngineError::CacheCorrupt { .. } => "MODEL_CACHE_CORRUPT",
            EngineError::Tokenizer(_) => "TOKENIZER_INVALID",
            EngineError::InvalidRequest(_) => "REQUEST_INVALID",
            EngineError::StepOutOfRange { .. } => "TRACE_STEP_OUT_OF_RANGE",
            EngineError::ReplayMismatch { .. } => "TRACE_REPLAY_MISMATCH",
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: impl fmt::Display) -> Self {
        EngineError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    pub(crate) fn shape(name: &str, message: impl Into<String>) -> Self {
        EngineError::TensorShape {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Io { path, message } => write!(f, "{path}: {message}"),
            EngineError::GgufFormat { offset, message } => {
                write!(f, "GGUF format error at byte {offset}: {message}")
            }
            EngineError::GgufLimit {
                offset,
                what,
                got,
                max,
            } => write!(
                f,
                "GGUF {what} at byte {offset} is {got}, above the limit of {max}"
            ),
            EngineError::UnsupportedTensorType { name, ggml_type } => write!(
                f,
                "tensor {name} has ggml type {ggml_type}, which this engine does not decode"
            ),
            EngineError::UnsupportedArchitecture(a) => {
                write!(f, "architecture {a:?} is not supported (gemma3, llama)")
            }
            EngineError::MissingMetadata(k) => write!(f, "metadata key {k} is missing or mistyped"),
            EngineError::TensorShape { name, message } => write!(f, "tensor {name}: {message}"),
            EngineError::CacheCorrupt { path, message } => {
                write!(f, "converted model cache {path} is corrupt: {message}")
            }
            EngineError::Tokenizer(m) => write!(f, "tokenizer: {m}"),
            EngineError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            EngineError::StepOutOfRange { step, steps } => {
                write!(f, "trace step {step} is outside the trace of {steps} steps")
            }
            EngineError::ReplayMismatch { step } => {
                write!(
                    f,
                    "replaying trace step {step} did not reproduce its output"
                )
            }
        }
    }
}

impl std::error::Error for EngineError {}

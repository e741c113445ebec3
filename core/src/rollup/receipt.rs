//! The per-answer receipt (DESIGN principle 3, `docs/PROTOCOL.md` §2.1).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::codec::{Reader, TrailingBytes, Truncated, Writer};
use super::serde_forms::{dec_string, hex_array};
use super::{tagged_hash, Hash};
use crate::error::{ErrorCode, Stage};

/// The only receipt version this code reads and writes.
pub const RECEIPT_VERSION: u8 = 1;
/// Length of the canonical receipt encoding, in bytes.
pub const RECEIPT_LEN: usize = 209;
/// Domain tag of [`Receipt::receipt_hash`].
pub const RECEIPT_TAG: &[u8] = b"OTR/receipt/v1\0";
/// Domain tag of [`request_hash`].
pub const REQUEST_TAG: &[u8] = b"OTR/request/v1\0";
/// Domain tag of [`OutputHasher`].
pub const OUTPUT_TAG: &[u8] = b"OTR/output/v1\0";
/// `top_p` is a probability in thousandths: at most 1000.
pub const TOP_P_MILLI_MAX: u32 = 1000;

/// Sampling parameters, as integers so that every platform reads them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingParams {
    /// Temperature in thousandths (`700` = 0.7; `0` = greedy).
    pub temperature_milli: u32,
    /// Top-k cut-off (`0` = disabled).
    pub top_k: u32,
    /// Top-p (nucleus) in thousandths, `0..=1000` (`1000` = disabled).
    pub top_p_milli: u32,
    /// The completion token limit the request asked for.
    pub max_tokens: u32,
    /// The sampler's seed. JSON: a decimal string.
    #[serde(with = "dec_string")]
    pub seed: u64,
}

/// One receipt per answered request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// [`RECEIPT_VERSION`].
    pub version: u8,
    /// The registered model's id.
    #[serde(with = "hex_array")]
    pub model_id: Hash,
    /// Merkle root over the converted weight tensors (from the model registry).
    #[serde(with = "hex_array")]
    pub weights_root: Hash,
    /// [`request_hash`] of the request, which commits to the client's 32-byte nonce.
    #[serde(with = "hex_array")]
    pub request_hash: Hash,
    /// [`OutputHasher`] digest of exactly the output bytes sent to the client.
    #[serde(with = "hex_array")]
    pub output_hash: Hash,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub sampling: SamplingParams,
    /// Merkle root over the per-step state commitments of the execution trace.
    #[serde(with = "hex_array")]
    pub trace_root: Hash,
    /// Number of leaves of the trace tree.
    pub trace_steps: u64,
    /// Unix seconds (UTC) when the node produced the receipt.
    pub created_at: u64,
}

/// Why a receipt could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptError {
    /// The input ends inside the receipt (every field has a fixed width, so the canonical
    /// encoding can fail no other way).
    Truncated(Truncated),
    /// Bytes follow a receipt decoded alone ([`Receipt::decode`]).
    TrailingBytes(TrailingBytes),
    /// The version byte is not [`RECEIPT_VERSION`].
    UnsupportedVersion {
        offset: usize,
        got: u8,
        expected: u8,
    },
    /// A field holds a value outside its range.
    FieldOutOfRange {
        offset: usize,
        field: &'static str,
        got: u64,
        max: u64,
    },
    /// The JSON form could not be read.
    Json(String),
}

impl From<Truncated> for ReceiptError {
    fn from(e: Truncated) -> Self {
        ReceiptError::Truncated(e)
    }
}

impl ErrorCode for ReceiptError {
    fn code(&self) -> &'static str {
        match self {
            ReceiptError::Truncated(_) => "RECEIPT_TRUNCATED",
            ReceiptError::TrailingBytes(_) => "RECEIPT_TRAILING_BYTES",
            ReceiptError::UnsupportedVersion { .. } => "RECEIPT_UNSUPPORTED_VERSION",
            ReceiptError::FieldOutOfRange { .. } => "RECEIPT_FIELD_OUT_OF_RANGE",
            ReceiptError::Json(_) => "RECEIPT_JSON_INVALID",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Receipt
    }
}

impl fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiptError::Truncated(e) => write!(f, "receipt: {e}"),
            ReceiptError::TrailingBytes(e) => write!(f, "receipt: {e}"),
            ReceiptError::UnsupportedVersion {
                offset,
                got,
                expected,
            } => write!(
                f,
                "receipt version {got} at byte {offset} is not supported (this verifier reads version {expected})"
            ),
            ReceiptError::FieldOutOfRange {
                offset,
                field,
                got,
                max,
            } => write!(
                f,
                "receipt field {field} at byte {offset} is {got}, above its maximum {max}"
            ),
            ReceiptError::Json(m) => write!(f, "receipt JSON: {m}"),
        }
    }
}

/// `SHA-256("OTR/request/v1\0" || client_nonce || u64be(len(request)) || request)`, where
/// `request` is the exact request body bytes the client sent.
pub fn request_hash(client_nonce: &[u8; 32], request: &[u8]) -> Hash {
    tagged_hash(
        REQUEST_TAG,
        &[client_nonce, &(request.len() as u64).to_be_bytes(), request],
    )
}

/// Incremental `SHA-256("OTR/output/v1\0" || output bytes)`, for streamed answers: feed it
/// exactly the bytes sent, in order.
#[derive(Clone, Debug)]
pub struct OutputHasher(Sha256);

impl Default for OutputHasher {
    fn default() -> Self {
        let mut h = Sha256::new();
        h.update(OUTPUT_TAG);
        OutputHasher(h)
    }
}

impl OutputHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finalize(self) -> Hash {
        self.0.finalize().into()
    }

    /// The output hash of a complete, non-streamed answer.
    pub fn digest(bytes: &[u8]) -> Hash {
        let mut h = Self::new();
        h.update(bytes);
        h.finalize()
    }
}

impl Receipt {
    /// Appends the canonical encoding ([`RECEIPT_LEN`] bytes).
    pub fn write(&self, w: &mut Writer) {
        let s = &self.sampling;
        w.u8(self.version)
            .array(&self.model_id)
            .array(&self.weights_root)
            .array(&self.request_hash)
            .array(&self.output_hash)
            .u32(self.prompt_tokens)
            .u32(self.completion_tokens)
            .u32(s.temperature_milli)
            .u32(s.top_k)
            .u32(s.top_p_milli)
            .u32(s.max_tokens)
            .u64(s.seed)
            .array(&self.trace_root)
            .u64(self.trace_steps)
            .u64(self.created_at);
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(RECEIPT_LEN);
        self.write(&mut w);
        w.into_bytes()
    }

    /// Reads one receipt at the reader's position (offsets in errors are the reader's).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, ReceiptError> {
        let offset = r.offset();
        let version = r.u8("receipt version")?;
        if version != RECEIPT_VERSION {
            return Err(ReceiptError::UnsupportedVersion {
                offset,
                got: version,
                expected: RECEIPT_VERSION,
            });
        }
        let model_id = r.array("receipt model_id")?;
        let weights_root = r.array("receipt weights_root")?;
        let request_hash = r.array("receipt request_hash")?;
        let output_hash = r.array("receipt output_hash")?;
        let prompt_tokens = r.u32("receipt prompt_tokens")?;
        let completion_tokens = r.u32("receipt completion_tokens")?;
        let temperature_milli = r.u32("receipt temperature_milli")?;
        let top_k = r.u32("receipt top_k")?;
        let top_p_offset = r.offset();
        let top_p_milli = r.u32("receipt top_p_milli")?;
        if top_p_milli > TOP_P_MILLI_MAX {
            return Err(ReceiptError::FieldOutOfRange {
                offset: top_p_offset,
                field: "top_p_milli",
                got: top_p_milli as u64,
                max: TOP_P_MILLI_MAX as u64,
            });
        }
        let max_tokens = r.u32("receipt max_tokens")?;
        let seed = r.u64("receipt seed")?;
        let trace_root = r.array("receipt trace_root")?;
        let trace_steps = r.u64("receipt trace_steps")?;
        let created_at = r.u64("receipt created_at")?;
        Ok(Receipt {
            version,
            model_id,
            weights_root,
            request_hash,
            output_hash,
            prompt_tokens,
            completion_tokens,
            sampling: SamplingParams {
                temperature_milli,
                top_k,
                top_p_milli,
                max_tokens,
                seed,
            },
            trace_root,
            trace_steps,
            created_at,
        })
    }

    /// Decodes exactly one receipt; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReceiptError> {
        let mut r = Reader::new(bytes);
        let receipt = Self::read(&mut r)?;
        r.finish().map_err(ReceiptError::TrailingBytes)?;
        Ok(receipt)
    }

    /// `SHA-256("OTR/receipt/v1\0" || encoding)`. This is the leaf data of the micro-batch tree.
    pub fn receipt_hash(&self) -> Hash {
        tagged_hash(RECEIPT_TAG, &[&self.encode()])
    }

    /// The JSON form (`docs/PROTOCOL.md` §6).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the JSON form and applies the same checks as the binary decoder.
    pub fn from_json(text: &str) -> Result<Self, ReceiptError> {
        let receipt: Receipt =
            serde_json::from_str(text).map_err(|e| ReceiptError::Json(e.to_string()))?;
        // Re-check the version and field ranges through the one binary decoder.
        Receipt::decode(&receipt.encode())?;
        Ok(receipt)
    }
}

#[cfg(test)]
#[path = "receipt_tests.rs"]
mod tests;

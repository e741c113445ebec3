//! Groth16 verification over BN254 (DESIGN principle 7, `docs/PROTOCOL.md` §7).
//!
//! - [`groth16`]: arkworks binary forms, checked (subgroup-validating) point decoding, the
//!   prepared verifying key [`PreparedVk`] built once, and verification that returns a
//!   [`VerifiedProof`] or a named error (never `Ok(false)`).
//! - [`snarkjs`]: the snarkjs JSON forms of verifying keys, proofs and public inputs.

pub mod groth16;
pub mod poseidon;
pub mod snarkjs;
pub mod statement;

pub use ark_bn254::Fr;
pub use ark_serialize::Compress;
pub use groth16::{Groth16Proof, PreparedVk, VerifiedProof};

use alloc::string::String;
use core::fmt;

use crate::error::{ErrorCode, GotExpected, Stage};

/// The most public inputs a verifying key or a proof may have.
pub const MAX_PUBLIC_INPUTS: usize = 512;
/// The largest snarkjs JSON text accepted (a key with [`MAX_PUBLIC_INPUTS`] inputs is ~85 KiB).
pub const MAX_JSON_LEN: usize = 256 * 1024;

/// Why a proof, key or public input was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// Binary input ended inside `what`.
    Truncated {
        what: String,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// Bytes remain after the value.
    TrailingBytes { offset: usize, count: usize },
    /// A curve point is malformed, not on the curve, or not in the prime-order subgroup.
    /// `offset` is the byte offset in binary input, `None` for JSON.
    PointInvalid { what: String, offset: Option<usize> },
    /// The key declares or the caller supplied more public inputs than [`MAX_PUBLIC_INPUTS`].
    TooManyInputs { got: u64, max: usize },
    /// The number of public inputs differs from what the verifying key expects.
    InputCount(GotExpected<usize>),
    /// A public input is not a canonical BN254 scalar (not below the group order).
    InputNotCanonical { index: usize },
    /// The verifying key is unusable (no input base point, inconsistent input count).
    VkMalformed(&'static str),
    /// The snarkjs JSON names another proof system or curve.
    Unsupported(String),
    /// JSON input larger than [`MAX_JSON_LEN`].
    TooLarge { size: usize, max: usize },
    /// JSON input that could not be read.
    Json(String),
    /// Well-formed, but the pairing check fails: the proof does not prove these inputs.
    Invalid,
}

impl ErrorCode for ProofError {
    fn code(&self) -> &'static str {
        match self {
            ProofError::Truncated { .. } => "PROOF_TRUNCATED",
            ProofError::TrailingBytes { .. } => "PROOF_TRAILING_BYTES",
            ProofError::PointInvalid { .. } => "PROOF_POINT_INVALID",
            ProofError::TooManyInputs { .. } => "PROOF_TOO_MANY_INPUTS",
            ProofError::InputCount(_) => "PROOF_INPUT_COUNT",
            ProofError::InputNotCanonical { .. } => "PROOF_INPUT_NOT_CANONICAL",
            ProofError::VkMalformed(_) => "PROOF_VK_MALFORMED",
            ProofError::Unsupported(_) => "PROOF_UNSUPPORTED",
            ProofError::TooLarge { .. } => "PROOF_TOO_LARGE",
            ProofError::Json(_) => "PROOF_JSON_INVALID",
            ProofError::Invalid => "PROOF_INVALID",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Proof
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::Truncated {
                what,
                offset,
                needed,
                available,
            } => write!(
                f,
                "input ends inside {what} at byte {offset}: {needed} bytes needed, {available} left"
            ),
            ProofError::TrailingBytes { offset, count } => {
                write!(f, "{count} unexpected trailing bytes from byte {offset}")
            }
            ProofError::PointInvalid { what, offset } => {
                write!(f, "{what}")?;
                if let Some(o) = offset {
                    write!(f, " at byte {o}")?;
                }
                f.write_str(" is not a valid point of the BN254 prime-order subgroup")
            }
            ProofError::TooManyInputs { got, max } => {
                write!(f, "{got} public inputs, more than the limit of {max}")
            }
            ProofError::InputCount(ge) => write!(
                f,
                "wrong number of public inputs for this verifying key: {ge}"
            ),
            ProofError::InputNotCanonical { index } => write!(
                f,
                "public input {index} is not a canonical BN254 scalar (must be below the group order)"
            ),
            ProofError::VkMalformed(why) => write!(f, "verifying key is malformed: {why}"),
            ProofError::Unsupported(what) => {
                write!(f, "only Groth16 over BN254 (bn128) is supported, not {what}")
            }
            ProofError::TooLarge { size, max } => {
                write!(f, "JSON input is {size} bytes, more than the limit of {max}")
            }
            ProofError::Json(m) => write!(f, "proof JSON: {m}"),
            ProofError::Invalid => f.write_str(
                "the Groth16 proof does not verify for these public inputs and this key",
            ),
        }
    }
}

#[cfg(test)]
mod tests;

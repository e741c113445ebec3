//! Errors of bundle decoding and structural verification.

use alloc::string::String;
use core::fmt;

use super::codec::{codec_code, CodecError, TrailingBytes, Truncated};
use super::header::HeaderError;
use super::merkle::InclusionError;
use super::receipt::ReceiptError;
use super::{Hash, Hex};
use crate::error::{ErrorCode, GotExpected, Stage};

/// Why a bundle could not be read or its structure does not hold. Errors of an inner stage
/// (receipt, header, inclusion) keep that stage's code, so the most specific one is reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// The input is larger than the total cap.
    TooLarge {
        size: usize,
        max: usize,
    },
    /// The input does not start with `OTRB`.
    BadMagic {
        got: [u8; 4],
    },
    UnsupportedVersion {
        offset: usize,
        got: u8,
        expected: u8,
    },
    /// The binary form violates the canonical encoding or a cap.
    Decode(CodecError),
    /// A chain-status section without a rollup-inclusion section.
    ChainStatusWithoutRollup {
        offset: usize,
    },
    /// The JSON form could not be read.
    Json(String),
    Receipt(ReceiptError),
    Header(HeaderError),
    /// The receipt is not in the micro-batch (receipt -> `header.receipts_root`).
    ReceiptInclusion(InclusionError),
    /// The header is not in the rollup batch (header -> `rollup.batch_root`).
    BatchInclusion(InclusionError),
    /// The receipt was created after its micro-batch was closed.
    ReceiptAfterHeader {
        created_at: u64,
        header_timestamp: u64,
    },
    /// The bundle has no rollup section, but the caller asked for a batch check.
    NotPosted,
    /// The bundle's batch root differs from the one on-chain.
    BatchRootMismatch(GotExpected<Hash>),
    /// The bundle's batch index differs from the one the caller read on-chain.
    BatchIndexMismatch(GotExpected<u64>),
}

impl From<CodecError> for BundleError {
    fn from(e: CodecError) -> Self {
        BundleError::Decode(e)
    }
}

impl From<Truncated> for BundleError {
    fn from(e: Truncated) -> Self {
        BundleError::Decode(e.into())
    }
}

impl From<TrailingBytes> for BundleError {
    fn from(e: TrailingBytes) -> Self {
        BundleError::Decode(e.into())
    }
}

impl From<ReceiptError> for BundleError {
    fn from(e: ReceiptError) -> Self {
        BundleError::Receipt(e)
    }
}

impl From<HeaderError> for BundleError {
    fn from(e: HeaderError) -> Self {
        BundleError::Header(e)
    }
}

impl ErrorCode for BundleError {
    fn code(&self) -> &'static str {
        match self {
            BundleError::TooLarge { .. } => "BUNDLE_TOO_LARGE",
            BundleError::BadMagic { .. } => "BUNDLE_BAD_MAGIC",
            BundleError::UnsupportedVersion { .. } => "BUNDLE_UNSUPPORTED_VERSION",
            BundleError::Decode(e) => codec_code!("BUNDLE", e),
            BundleError::ChainStatusWithoutRollup { .. } => "BUNDLE_CHAIN_STATUS_WITHOUT_ROLLUP",
            BundleError::Json(_) => "BUNDLE_JSON_INVALID",
            BundleError::Receipt(e) => e.code(),
            BundleError::Header(e) => e.code(),
            BundleError::ReceiptInclusion(e) | BundleError::BatchInclusion(e) => e.code(),
            BundleError::ReceiptAfterHeader { .. } => "BUNDLE_RECEIPT_AFTER_HEADER",
            BundleError::NotPosted => "BUNDLE_NOT_POSTED",
            BundleError::BatchRootMismatch(_) => "BUNDLE_BATCH_ROOT_MISMATCH",
            BundleError::BatchIndexMismatch(_) => "BUNDLE_BATCH_INDEX_MISMATCH",
        }
    }

    fn stage(&self) -> Stage {
        match self {
            BundleError::Receipt(e) => e.stage(),
            BundleError::Header(e) => e.stage(),
            BundleError::ReceiptInclusion(e) | BundleError::BatchInclusion(e) => e.stage(),
            BundleError::BatchRootMismatch(_) | BundleError::BatchIndexMismatch(_) => {
                Stage::Inclusion
            }
            _ => Stage::Receipt,
        }
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::TooLarge { size, max } => {
                write!(f, "bundle is {size} bytes, more than the limit of {max}")
            }
            BundleError::BadMagic { got } => write!(
                f,
                "not an OTR answer bundle: starts with {} instead of \"OTRB\"",
                Hex(got)
            ),
            BundleError::UnsupportedVersion {
                offset,
                got,
                expected,
            } => write!(
                f,
                "bundle version {got} at byte {offset} is not supported (this verifier reads version {expected})"
            ),
            BundleError::Decode(e) => write!(f, "bundle: {e}"),
            BundleError::ChainStatusWithoutRollup { offset } => write!(
                f,
                "bundle has a chain status at byte {offset} but no rollup inclusion section"
            ),
            BundleError::Json(m) => write!(f, "bundle JSON: {m}"),
            BundleError::Receipt(e) => write!(f, "{e}"),
            BundleError::Header(e) => write!(f, "{e}"),
            BundleError::ReceiptInclusion(e) => {
                write!(f, "receipt -> micro-batch inclusion failed: {e}")
            }
            BundleError::BatchInclusion(e) => {
                write!(f, "micro-batch header -> rollup batch inclusion failed: {e}")
            }
            BundleError::ReceiptAfterHeader {
                created_at,
                header_timestamp,
            } => write!(
                f,
                "receipt created at {created_at} is later than its micro-batch header ({header_timestamp})"
            ),
            BundleError::NotPosted => {
                f.write_str("the bundle has no rollup inclusion: its batch is not posted yet")
            }
            BundleError::BatchRootMismatch(ge) => write!(
                f,
                "the bundle's batch root {} differs from the on-chain root {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            BundleError::BatchIndexMismatch(ge) => {
                write!(f, "the bundle's batch index differs from the on-chain one: {ge}")
            }
        }
    }
}

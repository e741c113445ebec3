//! Error conventions shared by every stage.
//!
//! Each verification stage has its own error enum. Every variant has a stable `code()` string
//! (upper snake case, prefixed by the stage, e.g. `SPDM_TRUNCATED`, `CHAIN_EXPIRED`) that reaches
//! JavaScript unchanged, and a human message via `Display`. Parse errors carry byte offsets,
//! mismatches carry got/expected, expiry carries both times.

use core::fmt;

/// The verification stage an error comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Decoding of inputs (hex, base64, PEM, JSON evidence lists).
    Input,
    /// The SPDM GET_MEASUREMENTS request/response.
    Spdm,
    /// The GPU device certificate chain (and any X.509 chain).
    Chain,
    /// The report signature, FWID and nonce binding.
    Report,
    /// Reference integrity manifests.
    Rim,
    /// Golden-measurement comparison.
    Measurement,
    /// Stapled OCSP answers.
    Ocsp,
    /// Policy decisions (versions, dev roots, required collateral).
    Policy,
    /// Receipts, micro-batch headers and bundles.
    Receipt,
    /// Merkle inclusion.
    Inclusion,
    /// Finality evaluation.
    Finality,
    /// Zero-knowledge proofs.
    Proof,
    /// The EVM chain light client: RLP, block headers, the trusted header chain, Merkle-Patricia
    /// account and storage proofs, the settlement contract's storage layout (`chain` module).
    LightClient,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Spdm => "spdm",
            Stage::Chain => "chain",
            Stage::Report => "report",
            Stage::Rim => "rim",
            Stage::Measurement => "measurement",
            Stage::Ocsp => "ocsp",
            Stage::Policy => "policy",
            Stage::Receipt => "receipt",
            Stage::Inclusion => "inclusion",
            Stage::Finality => "finality",
            Stage::Proof => "proof",
            Stage::LightClient => "light_client",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every stage error.
pub trait ErrorCode: fmt::Display + fmt::Debug {
    /// Stable machine-readable code, e.g. `SPDM_TRUNCATED`.
    fn code(&self) -> &'static str;
    /// The stage that failed.
    fn stage(&self) -> Stage;
}

/// A value that differed from what was required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GotExpected<T> {
    pub got: T,
    pub expected: T,
}

impl<T: fmt::Display> fmt::Display for GotExpected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "got {}, expected {}", self.got, self.expected)
    }
}

//! Errors at the JavaScript boundary: the input conversions' own errors ([`InputError`]) and the
//! one shape every error takes on its way out ([`Failure`]: code, stage, message).

use core::fmt;

use otr_core::{ErrorCode, Stage};

/// Inputs that could not be turned into the core's types. Everything else is a core error,
/// passed through with its own code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// An argument or field has the wrong JavaScript type.
    Type {
        what: &'static str,
        expected: &'static str,
    },
    /// An options object names a field this verifier does not know (a typo would otherwise
    /// silently fall back to a default).
    UnknownOption { name: String, allowed: String },
    /// No verification time, or one that cannot be read.
    Time(String),
    /// The policy object does not match the policy fields.
    Policy(String),
    /// A trust anchor is not a PEM certificate.
    Anchor { what: &'static str, reason: String },
    /// A 32-byte value (hash, root, nonce) is not 64 hex digits.
    Hash { what: &'static str },
    /// A 20-byte address is not 40 hex digits.
    Address { what: &'static str },
    /// The report is neither raw SPDM bytes nor hex text.
    ReportEncoding,
    /// Bytes that must be text (UTF-8) or hex are not.
    Encoding { what: &'static str },
}

impl ErrorCode for InputError {
    fn code(&self) -> &'static str {
        match self {
            InputError::Type { .. } => "INPUT_TYPE",
            InputError::UnknownOption { .. } => "INPUT_UNKNOWN_OPTION",
            InputError::Time(_) => "INPUT_TIME",
            InputError::Policy(_) => "INPUT_POLICY",
            InputError::Anchor { .. } => "INPUT_ANCHOR",
            InputError::Hash { .. } => "INPUT_HASH",
            InputError::Address { .. } => "INPUT_ADDRESS",
            InputError::ReportEncoding => "INPUT_REPORT_ENCODING",
            InputError::Encoding { .. } => "INPUT_ENCODING",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Input
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Type { what, expected } => write!(f, "{what} must be {expected}"),
            InputError::UnknownOption { name, allowed } => {
                write!(f, "unknown option {name:?} (known: {allowed})")
            }
            InputError::Time(m) => write!(f, "time: {m}"),
            InputError::Policy(m) => write!(f, "policy: {m}"),
            InputError::Anchor { what, reason } => write!(f, "trust anchor in {what}: {reason}"),
            InputError::Address { what } => write!(
                f,
                "{what} must be 20 bytes: 40 hex digits (optional 0x) or a Uint8Array"
            ),
            InputError::Hash { what } => {
                write!(
                    f,
                    "{what} must be 32 bytes: 64 hex digits (optional 0x) or a Uint8Array"
                )
            }
            InputError::ReportEncoding => {
                f.write_str("report: neither raw SPDM bytes (starting 0x11) nor hex text")
            }
            InputError::Encoding { what } => write!(f, "{what}: cannot be decoded"),
        }
    }
}

/// Any error, reduced to what crosses into JavaScript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub stage: Stage,
    pub message: String,
}

impl Failure {
    pub fn of<E: ErrorCode + ?Sized>(e: &E) -> Self {
        Failure {
            code: e.code(),
            stage: e.stage(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

macro_rules! failure_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::of(&e)
            }
        }
    )*};
}

failure_from!(
    InputError,
    otr_core::verify::VerifyError,
    otr_core::attestation::gpu::GpuError,
    otr_core::rollup::BundleError,
    otr_core::rollup::InclusionError,
    otr_core::zk::ProofError,
    otr_core::chain::LightError,
);

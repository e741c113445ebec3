//! Why an OCSP answer was rejected.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::parse::{CrlReason, ResponseStatus};
use crate::error::{ErrorCode, Stage};
use crate::time::UnixTime;
use crate::x509::ChainError;

/// Why no `SingleResponse` of an answer is about the checked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoMatch {
    /// No `SingleResponse` carries the certificate's serial number.
    SerialNotFound,
    /// The serial is there, but under another issuer (name or key hash differs).
    IssuerHashMismatch,
    /// The caller's `issuer` is not the issuer named by the checked certificate.
    CertNotIssuedByIssuer,
}

/// Why the responder may not answer for the checked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponderProblem {
    /// The responder ID names neither the issuer nor any certificate included in the answer.
    NotFound,
    /// The included responder certificate names another issuer than the checked certificate's.
    IssuerNameMismatch,
    /// The included responder certificate is not signed by the checked certificate's issuer.
    IssuerSignatureInvalid,
    /// The included responder certificate lacks extended key usage `id-kp-OCSPSigning`.
    MissingOcspSigningEku,
}

impl fmt::Display for ResponderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponderProblem::NotFound => {
                "it is neither the issuer nor a certificate included in the answer"
            }
            ResponderProblem::IssuerNameMismatch => {
                "its certificate is not issued by the checked certificate's issuer (name differs)"
            }
            ResponderProblem::IssuerSignatureInvalid => {
                "its certificate is not signed by the checked certificate's issuer"
            }
            ResponderProblem::MissingOcspSigningEku => {
                "its certificate lacks extended key usage id-kp-OCSPSigning"
            }
        })
    }
}

/// Why an OCSP answer was rejected. Every variant has a stable [`ErrorCode::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OcspError {
    /// `OCSP_DECODE`: the DER (or its base64 text) does not decode; `offset` is in the DER input.
    Decode { offset: usize, reason: &'static str },
    /// `OCSP_TOO_LARGE`: a budget was exceeded (`what`: input bytes, certificates, responses...).
    TooLarge {
        what: &'static str,
        got: usize,
        max: usize,
    },
    /// `OCSP_STATUS_NOT_SUCCESSFUL`: the responder refused (`tryLater`, `unauthorized`, ...).
    StatusNotSuccessful { status: ResponseStatus },
    /// `OCSP_UNSUPPORTED`: a response type, algorithm, key or critical extension not handled.
    Unsupported { what: &'static str, got: String },
    /// `OCSP_NO_MATCHING_RESPONSE`: no `SingleResponse` is about the checked certificate.
    NoMatchingResponse {
        /// Serial of the checked certificate (hex).
        expected_serial: String,
        /// Serials the answer does speak about (hex).
        answered_serials: Vec<String>,
        reason: NoMatch,
    },
    /// `OCSP_RESPONDER_UNAUTHORIZED`: the signer is not allowed to answer for this issuer.
    ResponderUnauthorized {
        responder: String,
        problem: ResponderProblem,
    },
    /// `OCSP_RESPONDER_CHAIN`: the delegated responder certificate fails validation.
    ResponderChain(ChainError),
    /// `OCSP_BAD_SIGNATURE`: the answer's signature does not verify with the responder key.
    BadSignature { responder: String },
    /// `OCSP_NOT_YET_VALID`: `thisUpdate` lies after the time checked (beyond the skew).
    NotYetValid {
        this_update: UnixTime,
        time: UnixTime,
        skew_secs: u32,
    },
    /// `OCSP_STALE`: the time checked lies after `nextUpdate` (beyond the skew).
    Stale {
        next_update: UnixTime,
        time: UnixTime,
        skew_secs: u32,
    },
    /// `OCSP_REVOKED`: the certificate is revoked.
    Revoked {
        serial: String,
        revocation_time: UnixTime,
        reason: Option<CrlReason>,
    },
    /// `OCSP_UNKNOWN_STATUS`: the responder does not know the certificate.
    UnknownStatus { serial: String },
    /// `OCSP_NONCE_MISMATCH`: the answer's nonce (hex; `None` when absent) is not the one asked for.
    NonceMismatch {
        got: Option<String>,
        expected: String,
    },
}

impl OcspError {
    pub(crate) fn decode(offset: usize, reason: &'static str) -> Self {
        OcspError::Decode { offset, reason }
    }
}

impl ErrorCode for OcspError {
    fn code(&self) -> &'static str {
        match self {
            OcspError::Decode { .. } => "OCSP_DECODE",
            OcspError::TooLarge { .. } => "OCSP_TOO_LARGE",
            OcspError::StatusNotSuccessful { .. } => "OCSP_STATUS_NOT_SUCCESSFUL",
            OcspError::Unsupported { .. } => "OCSP_UNSUPPORTED",
            OcspError::NoMatchingResponse { .. } => "OCSP_NO_MATCHING_RESPONSE",
            OcspError::ResponderUnauthorized { .. } => "OCSP_RESPONDER_UNAUTHORIZED",
            OcspError::ResponderChain(_) => "OCSP_RESPONDER_CHAIN",
            OcspError::BadSignature { .. } => "OCSP_BAD_SIGNATURE",
            OcspError::NotYetValid { .. } => "OCSP_NOT_YET_VALID",
            OcspError::Stale { .. } => "OCSP_STALE",
            OcspError::Revoked { .. } => "OCSP_REVOKED",
            OcspError::UnknownStatus { .. } => "OCSP_UNKNOWN_STATUS",
            OcspError::NonceMismatch { .. } => "OCSP_NONCE_MISMATCH",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Ocsp
    }
}

impl fmt::Display for OcspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OcspError::Decode { offset, reason } => {
                write!(f, "OCSP answer does not decode at byte {offset}: {reason}")
            }
            OcspError::TooLarge { what, got, max } => {
                write!(f, "OCSP answer too large: {got} {what}, at most {max} allowed")
            }
            OcspError::StatusNotSuccessful { status } => {
                write!(f, "OCSP responder answered {status}, expected successful")
            }
            OcspError::Unsupported { what, got } => write!(f, "unsupported OCSP {what}: {got}"),
            OcspError::NoMatchingResponse { expected_serial, answered_serials, reason } => {
                write!(f, "no OCSP response for certificate serial {expected_serial}")?;
                match reason {
                    NoMatch::SerialNotFound => {
                        write!(f, "; the answer covers serials [{}]", answered_serials.join(", "))
                    }
                    NoMatch::IssuerHashMismatch => {
                        f.write_str("; the serial is answered for another issuer (CertID hashes differ)")
                    }
                    NoMatch::CertNotIssuedByIssuer => {
                        f.write_str("; the given issuer is not the certificate's issuer")
                    }
                }
            }
            OcspError::ResponderUnauthorized { responder, problem } => {
                write!(f, "OCSP responder {responder} is not authorized: {problem}")
            }
            OcspError::ResponderChain(e) => {
                write!(f, "OCSP responder certificate rejected: {e} ({})", e.code())
            }
            OcspError::BadSignature { responder } => {
                write!(f, "OCSP answer signature does not verify with the key of {responder}")
            }
            OcspError::NotYetValid { this_update, time, skew_secs } => write!(
                f,
                "OCSP answer not yet valid: thisUpdate {this_update} is after {time} (skew {skew_secs} s)"
            ),
            OcspError::Stale { next_update, time, skew_secs } => write!(
                f,
                "OCSP answer stale: valid until {next_update}, checked at {time} (skew {skew_secs} s)"
            ),
            OcspError::Revoked { serial, revocation_time, reason } => {
                write!(f, "certificate {serial} revoked at {revocation_time}")?;
                match reason {
                    Some(r) => write!(f, ", reason {r}"),
                    None => f.write_str(", no reason given"),
                }
            }
            OcspError::UnknownStatus { serial } => {
                write!(f, "OCSP responder does not know certificate {serial} (status unknown)")
            }
            OcspError::NonceMismatch { got, expected } => match got {
                Some(g) => write!(f, "OCSP nonce mismatch: got {g}, expected {expected}"),
                None => write!(f, "OCSP answer carries no nonce, expected {expected}"),
            },
        }
    }
}

impl From<ChainError> for OcspError {
    fn from(e: ChainError) -> Self {
        OcspError::ResponderChain(e)
    }
}

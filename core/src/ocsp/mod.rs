//! Stapled OCSP answers (RFC 6960) checked offline.
//!
//! [`verify_ocsp`] takes a DER `OCSPResponse`, the certificate it should be about and that
//! certificate's issuer (from a chain the caller has already verified), the verification time
//! and an [`OcspOptions`] policy. It checks, in order:
//!
//! 1. `responseStatus` is `successful` and the response type is `id-pkix-ocsp-basic`;
//! 2. a `SingleResponse` is about the certificate: equal serial, and `issuerNameHash` /
//!    `issuerKeyHash` equal to the hash (SHA-1, SHA-256, SHA-384 or SHA-512, as the `CertID`
//!    says) of the issuer's subject DER and of its public key BIT STRING contents;
//! 3. the signer is authorized: either the issuer itself, or a delegated responder certificate
//!    included in the answer that is issued and signed by the issuer, carries extended key usage
//!    `id-kp-OCSPSigning` and validates (with the issuer as anchor) at the time the policy
//!    names; the `responderID` (byName: subject DER; byKey: SHA-1 of the key) names the signer;
//! 4. the ECDSA P-384 signature (SHA-256/384/512) over the exact `tbsResponseData` bytes;
//! 5. no unknown critical extension; the nonce, when the caller expects one;
//! 6. freshness per [`Freshness`];
//! 7. the certificate status: good, or revoked `certificateHold` when the policy allows it.
//!
//! SHA-1 (the `sha1` crate) only identifies certificates (`CertID`, `responderID` byKey); no
//! signature is checked with it. Budgets: see [`MAX_OCSP_LEN`] and the other `MAX_` constants.

mod error;
mod parse;
mod reader;
mod verify;

#[cfg(test)]
mod test_pki;
#[cfg(test)]
mod tests_samples;
#[cfg(test)]
mod tests_synthetic;

use alloc::string::String;
use alloc::vec::Vec;

pub use error::{NoMatch, OcspError, ResponderProblem};
pub use parse::{
    parse_ocsp_response, BasicResponse, CertId, CertStatus, CrlReason, Extension, OcspResponse,
    ResponderId, ResponseBody, ResponseStatus, SingleResponse, MAX_OCSP_CERTS, MAX_OCSP_EXTENSIONS,
    MAX_OCSP_LEN, MAX_OCSP_RESPONSES, OID_OCSP_BASIC, OID_OCSP_NONCE,
};
pub use verify::verify_ocsp;

use crate::time::UnixTime;

/// Default clock skew tolerated by [`Freshness::Strict`], in seconds.
pub const DEFAULT_SKEW_SECS: u32 = 300;

/// Largest text accepted by [`decode_ocsp_input`] (base64 of [`MAX_OCSP_LEN`] plus line breaks).
pub const MAX_OCSP_TEXT_LEN: usize = MAX_OCSP_LEN / 3 * 4 + MAX_OCSP_LEN / 16 + 64;

/// When an OCSP answer counts as current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// `thisUpdate - skew <= time <= nextUpdate + skew` (without `nextUpdate`:
    /// `time <= thisUpdate + skew`); the responder certificate is validated at `time`.
    Strict { skew_secs: u32 },
    /// The answer was valid when it was produced: the responder certificate is validated at
    /// `producedAt` and `thisUpdate <= producedAt <= nextUpdate`. `time` is not used. For stapled
    /// historic evidence whose answers were fetched at another moment than the verification time.
    AtProducedAt,
    /// No `thisUpdate`/`nextUpdate` check; the responder certificate is validated at `time`
    /// (what NVIDIA's Python verifier does).
    Ignore,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness::Strict {
            skew_secs: DEFAULT_SKEW_SECS,
        }
    }
}

/// The OCSP policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OcspOptions {
    pub freshness: Freshness,
    /// Accept a certificate revoked with reason `certificateHold` (verdict [`OcspStatus::OnHold`]).
    pub allow_hold: bool,
    /// The nonce sent in the request; when set, the answer's nonce extension must equal it.
    pub expected_nonce: Option<Vec<u8>>,
}

/// The accepted status of the checked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OcspStatus {
    Good,
    /// Revoked with reason `certificateHold`, accepted because [`OcspOptions::allow_hold`].
    OnHold,
}

/// Who signed the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponderKind {
    /// The issuer of the checked certificate.
    Issuer,
    /// A delegated responder certificate issued by that issuer.
    Delegated,
}

/// What a verified OCSP answer proves. Only [`verify_ocsp`] builds one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct OcspVerdict {
    pub status: OcspStatus,
    /// Set when the status is [`OcspStatus::OnHold`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_time: Option<UnixTime>,
    pub produced_at: UnixTime,
    pub this_update: UnixTime,
    pub next_update: Option<UnixTime>,
    /// Subject of the certificate whose key signed the answer.
    pub responder_subject: String,
    pub responder: ResponderKind,
    /// The time at which the responder certificate was validated.
    pub responder_checked_at: UnixTime,
    /// Serial of the checked certificate, lower-case hex without leading zero octets.
    pub cert_serial_hex: String,
}

/// Accepts an OCSP answer as raw DER or as base64 text (whitespace ignored), returning DER.
pub fn decode_ocsp_input(bytes: &[u8]) -> Result<Vec<u8>, OcspError> {
    if bytes.first() == Some(&0x30) {
        if bytes.len() > MAX_OCSP_LEN {
            return Err(OcspError::TooLarge {
                what: "bytes",
                got: bytes.len(),
                max: MAX_OCSP_LEN,
            });
        }
        return Ok(bytes.to_vec());
    }
    if bytes.len() > MAX_OCSP_TEXT_LEN {
        return Err(OcspError::TooLarge {
            what: "bytes of base64 text",
            got: bytes.len(),
            max: MAX_OCSP_TEXT_LEN,
        });
    }
    let der = crate::encoding::base64_decode_lenient(bytes)
        .ok_or(OcspError::decode(0, "neither DER nor base64 text"))?;
    if der.len() > MAX_OCSP_LEN {
        return Err(OcspError::TooLarge {
            what: "bytes",
            got: der.len(),
            max: MAX_OCSP_LEN,
        });
    }
    Ok(der)
}

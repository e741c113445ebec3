//! Verification of a parsed OCSP answer against the certificate it is about.

use alloc::string::{String, ToString};

use der::asn1::ObjectIdentifier as Oid;
use sha1::{Digest, Sha1};

use super::error::{NoMatch, OcspError, ResponderProblem};
use super::parse::{
    parse_ocsp_response, BasicResponse, CertStatus, CrlReason, ResponderId, ResponseBody,
    ResponseStatus, SingleResponse, OID_OCSP_NONCE,
};
use super::{Freshness, OcspOptions, OcspStatus, OcspVerdict, ResponderKind};
use crate::crypto::{der_sig_to_rs384, HashAlg, SignatureVerifier};
use crate::time::UnixTime;
use crate::x509::{verify_chain, Certificate, ChainError, ChainOptions, OID_KP_OCSP_SIGNING};

const OID_SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");

/// Digest of a `CertID`. SHA-1 is accepted here only because it identifies certificates (the
/// RFC 6960 default); signatures are never checked with it.
#[derive(Clone, Copy)]
enum CertIdHash {
    Sha1,
    Sha2(HashAlg),
}

impl CertIdHash {
    fn from_oid(oid: Oid) -> Option<Self> {
        match oid {
            o if o == OID_SHA1 => Some(CertIdHash::Sha1),
            o if o == OID_SHA256 => Some(CertIdHash::Sha2(HashAlg::Sha256)),
            o if o == OID_SHA384 => Some(CertIdHash::Sha2(HashAlg::Sha384)),
            o if o == OID_SHA512 => Some(CertIdHash::Sha2(HashAlg::Sha512)),
            _ => None,
        }
    }

    fn matches(self, data: &[u8], expected: &[u8]) -> bool {
        let mut buf = [0u8; 64];
        let n = match self {
            CertIdHash::Sha1 => {
                buf[..20].copy_from_slice(&Sha1::digest(data));
                20
            }
            CertIdHash::Sha2(h) => h.digest_into(data, &mut buf),
        };
        buf[..n] == *expected
    }
}

/// Two's-complement INTEGER contents as (negative, magnitude without leading zero octets).
fn int_magnitude(bytes: &[u8]) -> (bool, &[u8]) {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    (negative, &bytes[start..])
}

fn serial_hex(bytes: &[u8]) -> String {
    let (_, m) = int_magnitude(bytes);
    if m.is_empty() {
        "00".into()
    } else {
        hex::encode(m)
    }
}

fn describe_responder(id: &ResponderId<'_>) -> String {
    match id {
        ResponderId::ByName(name) => {
            use der::Decode;
            x509_cert::name::Name::from_der(name)
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "byName <undecodable>".into())
        }
        ResponderId::ByKey(h) => alloc::format!("byKey {}", hex::encode(h)),
    }
}

fn responder_is(id: &ResponderId<'_>, c: &Certificate) -> bool {
    match id {
        ResponderId::ByName(name) => c.subject_der() == *name,
        // SHA-1 of the BIT STRING contents of subjectPublicKey (RFC 6960 KeyHash).
        ResponderId::ByKey(h) => c
            .public_key_p384()
            .is_some_and(|k| Sha1::digest(k)[..] == **h),
    }
}

/// The `SingleResponse` about `cert`: serial equal and issuer hashes equal. When several
/// match, the most severe status wins (revoked, then unknown, then good).
fn find_single<'r, 'a>(
    basic: &'r BasicResponse<'a>,
    cert: &Certificate,
    issuer: &Certificate,
) -> Result<&'r SingleResponse<'a>, OcspError> {
    let no_match = |reason| OcspError::NoMatchingResponse {
        expected_serial: serial_hex(&cert.serial),
        answered_serials: basic
            .responses
            .iter()
            .map(|s| serial_hex(s.cert_id.serial))
            .collect(),
        reason,
    };
    if !cert.issued_by_name(issuer) {
        return Err(no_match(NoMatch::CertNotIssuedByIssuer));
    }
    let issuer_key = issuer
        .public_key_p384()
        .ok_or_else(|| OcspError::Unsupported {
            what: "issuer key (P-384 only)",
            got: issuer.subject.clone(),
        })?;
    let wanted = int_magnitude(&cert.serial);
    let mut unsupported = None;
    let mut issuer_mismatch = false;
    let mut best: Option<&SingleResponse<'a>> = None;
    let severity = |s: &CertStatus| match s {
        CertStatus::Good => 0,
        CertStatus::Unknown => 1,
        CertStatus::Revoked { .. } => 2,
    };
    for single in &basic.responses {
        let id = &single.cert_id;
        if int_magnitude(id.serial) != wanted {
            continue;
        }
        let Some(h) = CertIdHash::from_oid(id.hash_algorithm) else {
            unsupported = Some(id.hash_algorithm);
            continue;
        };
        if !h.matches(issuer.subject_der(), id.issuer_name_hash)
            || !h.matches(issuer_key, id.issuer_key_hash)
        {
            issuer_mismatch = true;
            continue;
        }
        let worse = match best {
            Some(b) => severity(&single.status) > severity(&b.status),
            None => true,
        };
        if worse {
            best = Some(single);
        }
    }
    match (best, unsupported) {
        (Some(s), _) => Ok(s),
        (None, Some(oid)) => Err(OcspError::Unsupported {
            what: "CertID hash algorithm",
            got: oid.to_string(),
        }),
        (None, None) if issuer_mismatch => Err(no_match(NoMatch::IssuerHashMismatch)),
        (None, None) => Err(no_match(NoMatch::SerialNotFound)),
    }
}

/// The certificate whose key signed the answer, checked to be allowed to answer for `issuer`.
fn authorized_signer<'c>(
    basic: &'c BasicResponse<'_>,
    issuer: &'c Certificate,
    at: UnixTime,
    v: &dyn SignatureVerifier,
) -> Result<(&'c Certificate, ResponderKind), OcspError> {
    if responder_is(&basic.responder_id, issuer) {
        // The CA answers itself: its own validity still has to cover the time checked.
        if at < issuer.not_before {
            return Err(ChainError::NotYetValid {
                index: 0,
                not_before: issuer.not_before,
                time: at,
            }
            .into());
        }
        if at > issuer.not_after {
            return Err(ChainError::Expired {
                index: 0,
                not_after: issuer.not_after,
                time: at,
            }
            .into());
        }
        return Ok((issuer, ResponderKind::Issuer));
    }
    let unauthorized = |problem| OcspError::ResponderUnauthorized {
        responder: describe_responder(&basic.responder_id),
        problem,
    };
    let mut first_error = None;
    for c in basic
        .certs
        .iter()
        .filter(|c| responder_is(&basic.responder_id, c))
    {
        let checked = if !c.issued_by_name(issuer) {
            Err(unauthorized(ResponderProblem::IssuerNameMismatch))
        } else if c.verify_signed_by(issuer, v).is_err() {
            Err(unauthorized(ResponderProblem::IssuerSignatureInvalid))
        } else if !c.ext_key_usage.contains(&OID_KP_OCSP_SIGNING) {
            Err(unauthorized(ResponderProblem::MissingOcspSigningEku))
        } else {
            let opts = ChainOptions {
                leaf_eku: Some(OID_KP_OCSP_SIGNING),
                leaf_digital_signature: true,
                ..ChainOptions::default()
            };
            verify_chain(
                core::slice::from_ref(c),
                core::slice::from_ref(issuer),
                at,
                v,
                &opts,
            )
            .map(|_| ())
            .map_err(OcspError::from)
        };
        match checked {
            Ok(()) => return Ok((c, ResponderKind::Delegated)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| unauthorized(ResponderProblem::NotFound)))
}

fn check_signature(
    basic: &BasicResponse<'_>,
    signer: &Certificate,
    v: &dyn SignatureVerifier,
) -> Result<(), OcspError> {
    let hash = match basic.signature_algorithm {
        o if o == OID_ECDSA_SHA256 => HashAlg::Sha256,
        o if o == OID_ECDSA_SHA384 => HashAlg::Sha384,
        o if o == OID_ECDSA_SHA512 => HashAlg::Sha512,
        o => {
            return Err(OcspError::Unsupported {
                what: "signature algorithm",
                got: o.to_string(),
            })
        }
    };
    if basic.signature_params_present {
        return Err(OcspError::Unsupported {
            what: "signature algorithm parameters",
            got: basic.signature_algorithm.to_string(),
        });
    }
    let key = signer
        .public_key_p384()
        .ok_or_else(|| OcspError::Unsupported {
            what: "responder key (P-384 only)",
            got: signer.subject.clone(),
        })?;
    let bad = || OcspError::BadSignature {
        responder: signer.subject.clone(),
    };
    let rs = der_sig_to_rs384(basic.signature).ok_or_else(bad)?;
    v.verify_p384(hash, key, basic.tbs_der, &rs)
        .map_err(|_| bad())
}

fn check_nonce(basic: &BasicResponse<'_>, expected: &[u8]) -> Result<(), OcspError> {
    let got = basic
        .extensions
        .iter()
        .find(|e| e.oid == OID_OCSP_NONCE)
        .map(|e| e.value);
    // RFC 8954: extnValue holds an OCTET STRING; some responders put the raw bytes.
    let ok = got.is_some_and(|g| {
        g == expected
            || (g.len() >= 2
                && g[0] == 0x04
                && usize::from(g[1]) == g.len() - 2
                && g[1] < 0x80
                && &g[2..] == expected)
    });
    if ok {
        Ok(())
    } else {
        Err(OcspError::NonceMismatch {
            got: got.map(hex::encode),
            expected: hex::encode(expected),
        })
    }
}

fn check_freshness(
    single: &SingleResponse<'_>,
    produced_at: UnixTime,
    time: UnixTime,
    freshness: Freshness,
) -> Result<(), OcspError> {
    let (at, skew) = match freshness {
        Freshness::Ignore => return Ok(()),
        Freshness::Strict { skew_secs } => (time, skew_secs),
        Freshness::AtProducedAt => (produced_at, 0),
    };
    let s = i64::from(skew);
    if at.0.saturating_add(s) < single.this_update.0 {
        return Err(OcspError::NotYetValid {
            this_update: single.this_update,
            time: at,
            skew_secs: skew,
        });
    }
    // Without nextUpdate, a strict check only accepts the answer around thisUpdate; checked at
    // producedAt, `thisUpdate <= producedAt` is all there is.
    let until = match (single.next_update, freshness) {
        (Some(n), _) => n,
        (None, Freshness::AtProducedAt) => return Ok(()),
        (None, _) => single.this_update,
    };
    if at.0 > until.0.saturating_add(s) {
        return Err(OcspError::Stale {
            next_update: until,
            time: at,
            skew_secs: skew,
        });
    }
    Ok(())
}

fn reject_unknown_critical(
    basic: &BasicResponse<'_>,
    single: &SingleResponse<'_>,
) -> Result<(), OcspError> {
    let unknown = basic
        .extensions
        .iter()
        .filter(|e| e.oid != OID_OCSP_NONCE)
        .chain(single.extensions.iter())
        .find(|e| e.critical);
    match unknown {
        Some(e) => Err(OcspError::Unsupported {
            what: "critical extension",
            got: e.oid.to_string(),
        }),
        None => Ok(()),
    }
}

/// Verifies a DER OCSP answer about `cert`, whose issuer (already validated in its chain) is
/// `issuer`. Order of checks: response status and type, the `SingleResponse` for `cert`,
/// the responder's authority, the signature over `tbsResponseData`, critical extensions,
/// nonce, freshness, certificate status.
pub fn verify_ocsp(
    response: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    time: UnixTime,
    opts: &OcspOptions,
    v: &dyn SignatureVerifier,
) -> Result<OcspVerdict, OcspError> {
    let parsed = parse_ocsp_response(response)?;
    if parsed.status != ResponseStatus::Successful {
        return Err(OcspError::StatusNotSuccessful {
            status: parsed.status,
        });
    }
    let basic = match parsed.body {
        Some(ResponseBody::Basic(b)) => b,
        Some(ResponseBody::Other { response_type }) => {
            return Err(OcspError::Unsupported {
                what: "response type",
                got: response_type.to_string(),
            })
        }
        None => {
            return Err(OcspError::decode(
                0,
                "responseBytes (required when successful)",
            ))
        }
    };
    let single = find_single(&basic, cert, issuer)?;
    let responder_time = match opts.freshness {
        Freshness::AtProducedAt => basic.produced_at,
        Freshness::Strict { .. } | Freshness::Ignore => time,
    };
    let (signer, responder) = authorized_signer(&basic, issuer, responder_time, v)?;
    check_signature(&basic, signer, v)?;
    reject_unknown_critical(&basic, single)?;
    if let Some(nonce) = &opts.expected_nonce {
        check_nonce(&basic, nonce)?;
    }
    check_freshness(single, basic.produced_at, time, opts.freshness)?;
    let serial = serial_hex(&cert.serial);
    let (status, revocation_time) = match single.status {
        CertStatus::Good => (OcspStatus::Good, None),
        CertStatus::Revoked {
            time: rt,
            reason: Some(CrlReason::CERTIFICATE_HOLD),
        } if opts.allow_hold => (OcspStatus::OnHold, Some(rt)),
        CertStatus::Revoked {
            time: revocation_time,
            reason,
        } => {
            return Err(OcspError::Revoked {
                serial,
                revocation_time,
                reason,
            })
        }
        CertStatus::Unknown => return Err(OcspError::UnknownStatus { serial }),
    };
    Ok(OcspVerdict {
        status,
        revocation_time,
        produced_at: basic.produced_at,
        this_update: single.this_update,
        next_update: single.next_update,
        responder_subject: signer.subject.clone(),
        responder,
        responder_checked_at: responder_time,
        cert_serial_hex: serial,
    })
}

//! X.509 certificates and chain validation, restricted to what NVIDIA attestation uses:
//! ECDSA P-384 keys, ECDSA-with-SHA256/384/512 signatures.
//!
//! The checks are explicit rather than a generic policy engine: issuer/subject name match,
//! signature by the next certificate's key, validity at the caller's time for every certificate
//! including the anchor, CA basic constraints and `keyCertSign` on every issuer, path length
//! constraints, and no unknown critical extension.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use der::{asn1::ObjectIdentifier as Oid, Decode, Encode, Reader, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use crate::crypto::{sha256, HashAlg, SigFailure, SignatureVerifier};
use crate::error::{ErrorCode, Stage};
use crate::time::UnixTime;

/// Largest certificate accepted, in bytes.
pub const MAX_CERT_LEN: usize = 16 * 1024;
/// Longest chain accepted (presented certificates, anchor excluded).
pub const MAX_CHAIN_LEN: usize = 8;

const OID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const OID_SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const OID_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
/// Extensions we understand (critical ones outside this list are rejected).
const KNOWN_EXTENSIONS: &[&str] = &[
    "2.5.29.19",         // basicConstraints
    "2.5.29.15",         // keyUsage
    "2.5.29.37",         // extKeyUsage
    "2.5.29.14",         // subjectKeyIdentifier
    "2.5.29.35",         // authorityKeyIdentifier
    "2.5.29.17",         // subjectAltName
    "2.5.29.31",         // cRLDistributionPoints
    "2.5.29.32",         // certificatePolicies
    "1.3.6.1.5.5.7.1.1", // authorityInfoAccess
    "2.23.133.5.4.1",    // TCG DICE TcbInfo (NVIDIA FWID)
    "2.23.133.5.4.1.1",
    "1.3.6.1.5.5.7.48.1.5", // id-pkix-ocsp-nocheck
];
/// id-kp-OCSPSigning.
pub const OID_KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");

/// A parsed certificate that keeps its original DER bytes.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: core::ops::Range<usize>,
    pub subject: String,
    pub issuer: String,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    pub serial: Vec<u8>,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// SEC1 bytes of the public key, when it is P-384.
    public_key: Option<Vec<u8>>,
    sig_hash: Option<HashAlg>,
    /// Raw `r || s` of the certificate's own signature (P-384 sizes), when it is ECDSA.
    signature_rs: Option<[u8; 96]>,
    pub is_ca: Option<bool>,
    pub path_len: Option<u8>,
    key_usage: Option<KeyUsage>,
    pub ext_key_usage: Vec<Oid>,
    extensions: Vec<(Oid, bool, Vec<u8>)>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// A certificate could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertDecodeError {
    /// Byte offset inside the certificate's DER where decoding failed, when known.
    pub offset: usize,
    pub reason: &'static str,
}

fn der_offset(e: &der::Error) -> usize {
    e.position().map(|p| u32::from(p) as usize).unwrap_or(0)
}

impl Certificate {
    /// Parses a DER certificate. Keys other than P-384 and signatures other than ECDSA parse,
    /// but any attempt to verify with them fails with `CHAIN_UNSUPPORTED_ALGORITHM`.
    pub fn from_der(der: &[u8]) -> Result<Self, CertDecodeError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertDecodeError {
                offset: MAX_CERT_LEN,
                reason: "certificate too large",
            });
        }
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| CertDecodeError {
            offset: der_offset(&e),
            reason: "not a DER X.509 certificate",
        })?;
        // Locate the exact to-be-signed bytes inside the original encoding.
        let tbs = {
            let mut r = SliceReader::new(der).map_err(|e| CertDecodeError {
                offset: der_offset(&e),
                reason: "bad outer header",
            })?;
            let _outer = der::Header::decode(&mut r).map_err(|e| CertDecodeError {
                offset: der_offset(&e),
                reason: "bad outer header",
            })?;
            let start = u32::from(r.position()) as usize;
            let _tbs = der::asn1::AnyRef::decode(&mut r).map_err(|e| CertDecodeError {
                offset: der_offset(&e),
                reason: "bad tbsCertificate",
            })?;
            start..u32::from(r.position()) as usize
        };
        let t = &cert.tbs_certificate;
        let spki = &t.subject_public_key_info;
        let public_key = if spki.algorithm.oid == OID_EC_PUBLIC_KEY
            && spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok())
                == Some(OID_SECP384R1)
        {
            spki.subject_public_key.as_bytes().map(|b| b.to_vec())
        } else {
            None
        };
        let sig_hash = match cert.signature_algorithm.oid {
            o if o == OID_ECDSA_SHA256 => Some(HashAlg::Sha256),
            o if o == OID_ECDSA_SHA384 => Some(HashAlg::Sha384),
            o if o == OID_ECDSA_SHA512 => Some(HashAlg::Sha512),
            _ => None,
        };
        let signature_rs = sig_hash
            .and_then(|_| cert.signature.as_bytes())
            .and_then(crate::crypto::der_sig_to_rs384);
        let mut c = Certificate {
            der: der.to_vec(),
            tbs,
            subject: t.subject.to_string(),
            issuer: t.issuer.to_string(),
            subject_der: t.subject.to_der().unwrap_or_default(),
            issuer_der: t.issuer.to_der().unwrap_or_default(),
            serial: t.serial_number.as_bytes().to_vec(),
            not_before: UnixTime(t.validity.not_before.to_unix_duration().as_secs() as i64),
            not_after: UnixTime(t.validity.not_after.to_unix_duration().as_secs() as i64),
            public_key,
            sig_hash,
            signature_rs,
            is_ca: None,
            path_len: None,
            key_usage: None,
            ext_key_usage: Vec::new(),
            extensions: Vec::new(),
        };
        for ext in t.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            let bad = |_| CertDecodeError {
                offset: 0,
                reason: "malformed extension",
            };
            if ext.extn_id == OID_BASIC_CONSTRAINTS {
                let bc = BasicConstraints::from_der(value).map_err(bad)?;
                c.is_ca = Some(bc.ca);
                c.path_len = bc.path_len_constraint;
            } else if ext.extn_id == OID_KEY_USAGE {
                c.key_usage = Some(KeyUsage::from_der(value).map_err(bad)?);
            } else if ext.extn_id == OID_EXT_KEY_USAGE {
                c.ext_key_usage = ExtendedKeyUsage::from_der(value).map_err(bad)?.0;
            }
            c.extensions
                .push((ext.extn_id, ext.critical, value.to_vec()));
        }
        Ok(c)
    }

    /// The original DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER encoding (the certificate's fingerprint).
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(&self.der)
    }

    /// The serial number as a decimal string (NVIDIA's `ueid` claim for the leaf).
    pub fn serial_decimal(&self) -> String {
        // Repeated division of a big-endian byte string by 10.
        let mut digits = Vec::new();
        let mut n: Vec<u8> = self
            .serial
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        while !n.is_empty() {
            let mut rem = 0u32;
            for b in n.iter_mut() {
                let cur = (rem << 8) | *b as u32;
                *b = (cur / 10) as u8;
                rem = cur % 10;
            }
            digits.push(b'0' + rem as u8);
            while n.first() == Some(&0) {
                n.remove(0);
            }
        }
        if digits.is_empty() {
            digits.push(b'0');
        }
        digits.reverse();
        String::from_utf8(digits).unwrap_or_default()
    }

    /// The common name of the subject, if any.
    pub fn subject_cn(&self) -> Option<&str> {
        self.subject
            .split(',')
            .find_map(|p| p.trim().strip_prefix("CN="))
    }

    /// The DER encoding of the subject name (hashed into OCSP CertIDs, matched by responder IDs).
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// SEC1 public key bytes when the key is P-384.
    pub fn public_key_p384(&self) -> Option<&[u8]> {
        self.public_key.as_deref()
    }

    /// The raw value (contents of the OCTET STRING) of an extension.
    pub fn extension(&self, oid: &str) -> Option<&[u8]> {
        let oid = Oid::new(oid).ok()?;
        self.extensions
            .iter()
            .find(|e| e.0 == oid)
            .map(|e| e.2.as_slice())
    }

    /// Whether `issuer`'s subject is this certificate's issuer (DER comparison).
    pub fn issued_by_name(&self, issuer: &Certificate) -> bool {
        self.issuer_der == issuer.subject_der
    }

    /// Whether the certificate names itself as issuer.
    pub fn is_self_issued(&self) -> bool {
        self.issuer_der == self.subject_der
    }

    /// Verifies this certificate's signature with `issuer`'s key.
    pub fn verify_signed_by(
        &self,
        issuer: &Certificate,
        v: &dyn SignatureVerifier,
    ) -> Result<(), SigFailure> {
        let (Some(hash), Some(sig)) = (self.sig_hash, self.signature_rs.as_ref()) else {
            return Err(SigFailure::BadSignature);
        };
        let key = issuer.public_key.as_deref().ok_or(SigFailure::BadKey)?;
        v.verify_p384(hash, key, &self.der[self.tbs.clone()], sig)
    }

    fn has_key_usage(&self, usage: KeyUsages) -> Option<bool> {
        self.key_usage.map(|ku| ku.0.contains(usage))
    }

    /// Whether the key usage extension, if present, allows `digitalSignature`.
    pub fn allows_digital_signature(&self) -> bool {
        self.has_key_usage(KeyUsages::DigitalSignature)
            .unwrap_or(true)
    }
}

impl AsRef<Certificate> for Certificate {
    fn as_ref(&self) -> &Certificate {
        self
    }
}

/// Parses a list of DER certificates, reporting which one failed.
pub fn parse_chain(ders: &[Vec<u8>]) -> Result<Vec<Certificate>, ChainError> {
    if ders.is_empty() {
        return Err(ChainError::Empty);
    }
    if ders.len() > MAX_CHAIN_LEN {
        return Err(ChainError::TooLong {
            got: ders.len(),
            max: MAX_CHAIN_LEN,
        });
    }
    ders.iter()
        .enumerate()
        .map(|(index, d)| {
            Certificate::from_der(d).map_err(|e| ChainError::CertDecode {
                index,
                offset: e.offset,
                reason: e.reason,
            })
        })
        .collect()
}

/// How a chain is to be checked.
#[derive(Clone, Debug, Default)]
pub struct ChainOptions {
    /// Required number of presented certificates (NVIDIA GPU chains: 5), root included.
    pub expected_len: Option<usize>,
    /// Required extended key usage on the leaf (OCSP responders: id-kp-OCSPSigning).
    pub leaf_eku: Option<Oid>,
    /// Require `digitalSignature` in the leaf's key usage when the extension is present.
    pub leaf_digital_signature: bool,
}

/// A chain that passed [`verify_chain`].
#[derive(Clone, Debug)]
pub struct VerifiedChain {
    /// The presented certificates, leaf first, with the presented root (if any) replaced by the anchor.
    pub certs: Vec<Certificate>,
    /// Index of the anchor used in the `anchors` slice.
    pub anchor_index: usize,
    /// Earliest `notAfter` across the path.
    pub expires: UnixTime,
}

impl VerifiedChain {
    pub fn leaf(&self) -> &Certificate {
        &self.certs[0]
    }
}

/// Validates `presented` (leaf first) up to one of `anchors` at `time`.
///
/// Like NVIDIA's verifiers, a self-issued certificate at the end of the presented chain is the
/// presented root and is replaced by the pinned anchor; the certificate before it must then be
/// signed by the anchor.
pub fn verify_chain<A: AsRef<Certificate>>(
    presented: &[Certificate],
    anchors: &[A],
    time: UnixTime,
    v: &dyn SignatureVerifier,
    opts: &ChainOptions,
) -> Result<VerifiedChain, ChainError> {
    if presented.is_empty() {
        return Err(ChainError::Empty);
    }
    if presented.len() > MAX_CHAIN_LEN {
        return Err(ChainError::TooLong {
            got: presented.len(),
            max: MAX_CHAIN_LEN,
        });
    }
    if let Some(expected) = opts.expected_len {
        if presented.len() != expected {
            return Err(ChainError::WrongLength {
                got: presented.len(),
                expected,
            });
        }
    }
    let mut path: Vec<Certificate> = presented.to_vec();
    if path.len() > 1 && path[path.len() - 1].is_self_issued() {
        path.pop();
    }
    // Find the anchor that issued the top of the path.
    let top = path[path.len() - 1].clone();
    let mut top_is_anchor = false;
    let mut anchor_index = None;
    let mut anchor_sig_error = None;
    for (i, a) in anchors.iter().map(AsRef::as_ref).enumerate() {
        if top.der == a.der {
            // The top itself is an anchor (a one-certificate chain ending at the root).
            anchor_index = Some(i);
            top_is_anchor = true;
            break;
        }
        if top.issued_by_name(a) {
            match top.verify_signed_by(a, v) {
                Ok(()) => {
                    anchor_index = Some(i);
                    break;
                }
                Err(e) => anchor_sig_error = Some(e),
            }
        }
    }
    let Some(anchor_index) = anchor_index else {
        return Err(match anchor_sig_error {
            Some(_) => ChainError::BadSignature {
                index: path.len() - 1,
            },
            None => ChainError::UntrustedRoot {
                subject: top.issuer.clone(),
            },
        });
    };
    if top_is_anchor {
        path.pop();
    }
    path.push(anchors[anchor_index].as_ref().clone());
    let n = path.len();
    for (i, c) in path.iter().enumerate() {
        if c.public_key.is_none() || (i + 1 < n && c.sig_hash.is_none()) {
            return Err(ChainError::UnsupportedAlgorithm { index: i });
        }
        if time < c.not_before {
            return Err(ChainError::NotYetValid {
                index: i,
                not_before: c.not_before,
                time,
            });
        }
        if time > c.not_after {
            return Err(ChainError::Expired {
                index: i,
                not_after: c.not_after,
                time,
            });
        }
        if let Some((oid, _, _)) = c.extensions.iter().find(|(oid, critical, _)| {
            *critical
                && !KNOWN_EXTENSIONS
                    .iter()
                    .any(|k| Oid::new(k).ok() == Some(*oid))
        }) {
            return Err(ChainError::UnknownCriticalExtension {
                index: i,
                oid: oid.to_string(),
            });
        }
        if i > 0 {
            // An issuer: must be a CA allowed to sign certificates, within its path length.
            if c.is_ca != Some(true) {
                return Err(ChainError::NotCa { index: i });
            }
            if c.has_key_usage(KeyUsages::KeyCertSign) == Some(false) {
                return Err(ChainError::KeyUsage { index: i });
            }
            if let Some(pl) = c.path_len {
                // Intermediates between this issuer and the leaf (self-issued ones excluded, RFC 5280 6.1.4).
                let below = path[1..i].iter().filter(|x| !x.is_self_issued()).count();
                if below > pl as usize {
                    return Err(ChainError::PathLen { index: i });
                }
            }
            let child = &path[i - 1];
            if !child.issued_by_name(c) {
                return Err(ChainError::IssuerMismatch { index: i - 1 });
            }
            // The top's signature by the anchor was already checked when the anchor was chosen.
            if i + 1 < n || top_is_anchor {
                child.verify_signed_by(c, v).map_err(|e| match e {
                    SigFailure::BadKey | SigFailure::BadSignature if child.sig_hash.is_none() => {
                        ChainError::UnsupportedAlgorithm { index: i - 1 }
                    }
                    _ => ChainError::BadSignature { index: i - 1 },
                })?;
            }
        }
    }
    let leaf = &path[0];
    if opts.leaf_digital_signature && !leaf.allows_digital_signature() {
        return Err(ChainError::KeyUsage { index: 0 });
    }
    if let Some(eku) = opts.leaf_eku {
        if !leaf.ext_key_usage.contains(&eku) {
            return Err(ChainError::ExtKeyUsage { index: 0 });
        }
    }
    let expires = path
        .iter()
        .map(|c| c.not_after)
        .min()
        .unwrap_or(UnixTime(i64::MAX));
    Ok(VerifiedChain {
        certs: path,
        anchor_index,
        expires,
    })
}

/// Why a certificate chain was rejected. `index` counts from the leaf (0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    Empty,
    TooLong {
        got: usize,
        max: usize,
    },
    WrongLength {
        got: usize,
        expected: usize,
    },
    CertDecode {
        index: usize,
        offset: usize,
        reason: &'static str,
    },
    Pem {
        offset: usize,
    },
    UnsupportedAlgorithm {
        index: usize,
    },
    IssuerMismatch {
        index: usize,
    },
    BadSignature {
        index: usize,
    },
    NotYetValid {
        index: usize,
        not_before: UnixTime,
        time: UnixTime,
    },
    Expired {
        index: usize,
        not_after: UnixTime,
        time: UnixTime,
    },
    NotCa {
        index: usize,
    },
    KeyUsage {
        index: usize,
    },
    ExtKeyUsage {
        index: usize,
    },
    PathLen {
        index: usize,
    },
    UnknownCriticalExtension {
        index: usize,
        oid: String,
    },
    UntrustedRoot {
        subject: String,
    },
}

impl ErrorCode for ChainError {
    fn code(&self) -> &'static str {
        match self {
            ChainError::Empty => "CHAIN_EMPTY",
            ChainError::TooLong { .. } => "CHAIN_TOO_LONG",
            ChainError::WrongLength { .. } => "CHAIN_WRONG_LENGTH",
            ChainError::CertDecode { .. } => "CHAIN_CERT_DECODE",
            ChainError::Pem { .. } => "CHAIN_PEM",
            ChainError::UnsupportedAlgorithm { .. } => "CHAIN_UNSUPPORTED_ALGORITHM",
            ChainError::IssuerMismatch { .. } => "CHAIN_ISSUER_MISMATCH",
            ChainError::BadSignature { .. } => "CHAIN_BAD_SIGNATURE",
            ChainError::NotYetValid { .. } => "CHAIN_NOT_YET_VALID",
            ChainError::Expired { .. } => "CHAIN_EXPIRED",
            ChainError::NotCa { .. } => "CHAIN_NOT_CA",
            ChainError::KeyUsage { .. } => "CHAIN_KEY_USAGE",
            ChainError::ExtKeyUsage { .. } => "CHAIN_EXT_KEY_USAGE",
            ChainError::PathLen { .. } => "CHAIN_PATH_LEN",
            ChainError::UnknownCriticalExtension { .. } => "CHAIN_UNKNOWN_CRITICAL_EXTENSION",
            ChainError::UntrustedRoot { .. } => "CHAIN_UNTRUSTED_ROOT",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Chain
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Empty => write!(f, "the certificate chain is empty"),
            ChainError::TooLong { got, max } => {
                write!(f, "chain has {got} certificates, at most {max} allowed")
            }
            ChainError::WrongLength { got, expected } => {
                write!(f, "chain has {got} certificates, expected {expected}")
            }
            ChainError::CertDecode {
                index,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "certificate {index} does not decode at byte {offset}: {reason}"
                )
            }
            ChainError::Pem { offset } => write!(f, "malformed PEM block at byte {offset}"),
            ChainError::UnsupportedAlgorithm { index } => {
                write!(
                    f,
                    "certificate {index} uses a key or signature algorithm other than ECDSA P-384"
                )
            }
            ChainError::IssuerMismatch { index } => {
                write!(f, "certificate {index} names an issuer that is not the next certificate's subject")
            }
            ChainError::BadSignature { index } => {
                write!(
                    f,
                    "the signature on certificate {index} does not verify with its issuer's key"
                )
            }
            ChainError::NotYetValid {
                index,
                not_before,
                time,
            } => {
                write!(
                    f,
                    "certificate {index} is not valid before {not_before} (time {time})"
                )
            }
            ChainError::Expired {
                index,
                not_after,
                time,
            } => {
                write!(
                    f,
                    "certificate {index} expired at {not_after} (time {time})"
                )
            }
            ChainError::NotCa { index } => {
                write!(f, "certificate {index} signs another but is not a CA")
            }
            ChainError::KeyUsage { index } => {
                write!(f, "certificate {index}: key usage does not allow this use")
            }
            ChainError::ExtKeyUsage { index } => {
                write!(
                    f,
                    "certificate {index}: extended key usage does not allow this use"
                )
            }
            ChainError::PathLen { index } => {
                write!(f, "certificate {index}: path length constraint exceeded")
            }
            ChainError::UnknownCriticalExtension { index, oid } => {
                write!(
                    f,
                    "certificate {index} has an unknown critical extension {oid}"
                )
            }
            ChainError::UntrustedRoot { subject } => {
                write!(
                    f,
                    "the chain does not end at a trusted root (top issuer: {subject})"
                )
            }
        }
    }
}

//! DER OCSP answers (RFC 6960 `OCSPResponse` with an `id-pkix-ocsp-basic` body) signed by a dev
//! key, for fixtures and fuzz seeds. NOT PRODUCTION: no real responder ever signed these.
//!
//! Self-contained (only `otr_core`, `p384`, `sha1`), so `fuzz/examples/gen_seeds.rs` includes
//! this file with `#[path]` instead of keeping its own copy. Deterministic (RFC 6979 signatures).

use otr_core::crypto::sha384;
use otr_core::time::UnixTime;
use otr_core::x509::Certificate;
use p384::ecdsa::{signature::Signer, Signature, SigningKey};
use sha1::Digest;

/// DER TLV with a definite length (contents up to 64 KiB).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// `SEQUENCE` of already encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(arcs: &[u8]) -> Vec<u8> {
    tlv(0x06, arcs)
}

// DER contents of the OIDs used below.
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const OID_OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
const OID_OCSP_NONCE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02];

/// DER INTEGER from unsigned big-endian bytes.
pub fn int(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

/// DER GeneralizedTime (`YYYYMMDDHHMMSSZ`).
pub fn gtime(t: UnixTime) -> Vec<u8> {
    let s: String = t
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'Z')
        .collect();
    tlv(0x18, s.as_bytes())
}

/// `CertStatus` of the answer.
#[derive(Clone, Debug)]
pub enum Status {
    Good,
    /// Revoked at a time, with an optional `CRLReason` (6 = certificateHold).
    Revoked {
        at: UnixTime,
        reason: Option<u8>,
    },
    Unknown,
}

impl Status {
    fn der(&self) -> Vec<u8> {
        match self {
            Status::Good => tlv(0x80, &[]),
            Status::Unknown => tlv(0x82, &[]),
            Status::Revoked { at, reason } => {
                let reason = reason
                    .map(|r| tlv(0xa0, &tlv(0x0a, &[r])))
                    .unwrap_or_default();
                tlv(0xa1, &[gtime(*at), reason].concat())
            }
        }
    }
}

/// What one answer says, and when.
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    /// `CertID` hashed with SHA-1 (the RFC 6960 default) instead of SHA-384.
    pub sha1_cert_id: bool,
    pub status: Status,
    /// A nonce extension.
    pub nonce: Option<&'a [u8]>,
    pub this_update: UnixTime,
    pub next_update: Option<UnixTime>,
    pub produced_at: UnixTime,
    /// Certificates included in the answer (a delegated responder's certificate).
    pub certs: Vec<&'a [u8]>,
}

/// An OCSP answer about `cert` (issued by `issuer`), naming `responder` by key (SHA-1 of its
/// public key) and signed with `signing_key`: the responder's key, or another one to make a bad
/// signature. A responder other than the issuer must be included in `a.certs` to be accepted.
pub fn ocsp_answer(
    cert: &Certificate,
    issuer: &Certificate,
    responder: &Certificate,
    signing_key: &SigningKey,
    a: &Answer,
) -> Vec<u8> {
    ocsp_answer_with_single_extensions(cert, issuer, responder, signing_key, a, &[])
}

/// One `Extension` (`SEQUENCE { OID, critical BOOLEAN DEFAULT FALSE, OCTET STRING }`);
/// `oid` is the DER contents of the OID, `value` the DER of the extension's value.
pub fn extension(oid_contents: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let flag = if critical {
        tlv(0x01, &[0xff])
    } else {
        Vec::new()
    };
    seq(&[&oid(oid_contents), &flag, &tlv(0x04, value)])
}

/// [`ocsp_answer`] whose `SingleResponse` carries `single_extensions` (each an encoded
/// [`extension`]) as its `singleExtensions`, inside the signed data.
pub fn ocsp_answer_with_single_extensions(
    cert: &Certificate,
    issuer: &Certificate,
    responder: &Certificate,
    signing_key: &SigningKey,
    a: &Answer,
    single_extensions: &[Vec<u8>],
) -> Vec<u8> {
    let key = issuer.public_key_p384().expect("issuer key is P-384");
    let (alg, name_hash, key_hash) = if a.sha1_cert_id {
        (
            OID_SHA1,
            sha1::Sha1::digest(issuer.subject_der()).to_vec(),
            sha1::Sha1::digest(key).to_vec(),
        )
    } else {
        (
            OID_SHA384,
            sha384(issuer.subject_der()).to_vec(),
            sha384(key).to_vec(),
        )
    };
    let cert_id = seq(&[
        &seq(&[&oid(alg), &tlv(0x05, &[])]),
        &tlv(0x04, &name_hash),
        &tlv(0x04, &key_hash),
        &int(&cert.serial),
    ]);
    let next = a
        .next_update
        .map(|t| tlv(0xa0, &gtime(t)))
        .unwrap_or_default();
    let single_exts = if single_extensions.is_empty() {
        Vec::new()
    } else {
        tlv(0xa1, &tlv(0x30, &single_extensions.concat()))
    };
    let single = seq(&[
        &cert_id,
        &a.status.der(),
        &gtime(a.this_update),
        &next,
        &single_exts,
    ]);
    let exts = match a.nonce {
        Some(n) => tlv(
            0xa1,
            &seq(&[&seq(&[&oid(OID_OCSP_NONCE), &tlv(0x04, &tlv(0x04, n))])]),
        ),
        None => Vec::new(),
    };
    let responder_key = responder.public_key_p384().expect("responder key is P-384");
    let responder_id = tlv(0xa2, &tlv(0x04, &sha1::Sha1::digest(responder_key)));
    let tbs = seq(&[
        &responder_id,
        &gtime(a.produced_at),
        &seq(&[&single]),
        &exts,
    ]);
    let sig: Signature = signing_key.sign(&tbs);
    let certs = if a.certs.is_empty() {
        Vec::new()
    } else {
        tlv(0xa0, &seq(&a.certs))
    };
    let basic = seq(&[
        &tbs,
        &seq(&[&oid(OID_ECDSA_SHA384)]),
        &tlv(0x03, &[&[0u8][..], sig.to_der().as_bytes()].concat()),
        &certs,
    ]);
    let bytes = seq(&[&oid(OID_OCSP_BASIC), &tlv(0x04, &basic)]);
    seq(&[&tlv(0x0a, &[0]), &tlv(0xa0, &bytes)])
}

/// A non-successful `OCSPResponse` (e.g. 3 = tryLater) without `responseBytes`.
pub fn unsuccessful(status: u8) -> Vec<u8> {
    seq(&[&tlv(0x0a, &[status])])
}

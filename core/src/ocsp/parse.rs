//! DER parsing of OCSP responses (RFC 6960 section 4.2.1), borrowing from the input.
//!
//! The parser walks the input with `der` headers (definite, minimal lengths only) and keeps the
//! exact byte slices that are hashed or signed, in particular `tbsResponseData`. Every error
//! carries the absolute byte offset in the DER input. Budgets: [`MAX_OCSP_LEN`] bytes,
//! [`MAX_OCSP_CERTS`] included certificates, [`MAX_OCSP_RESPONSES`] single responses and
//! [`MAX_OCSP_EXTENSIONS`] extensions per list.

use alloc::vec::Vec;
use core::fmt;

use der::asn1::ObjectIdentifier as Oid;

use super::error::OcspError;
use super::reader::{
    algorithm, ctx, ctx_prim, explicit, generalized_time, integer, oid, small_uint, Cursor, Tlv,
    TAG_BIT_STRING, TAG_BOOLEAN, TAG_ENUMERATED, TAG_GENERALIZED_TIME, TAG_INTEGER,
    TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE,
};
use crate::time::UnixTime;
use crate::x509::Certificate;

/// Largest DER answer accepted, in bytes.
pub const MAX_OCSP_LEN: usize = 16 * 1024;
/// Most certificates accepted in `BasicOCSPResponse.certs`.
pub const MAX_OCSP_CERTS: usize = 4;
/// Most `SingleResponse`s accepted in one answer.
pub const MAX_OCSP_RESPONSES: usize = 16;
/// Most extensions accepted in one extension list.
pub const MAX_OCSP_EXTENSIONS: usize = 16;

/// id-pkix-ocsp-basic.
pub const OID_OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-pkix-ocsp-nonce.
pub const OID_OCSP_NONCE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.2");

/// `OCSPResponseStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseStatus {
    Successful,
    MalformedRequest,
    InternalError,
    TryLater,
    SigRequired,
    Unauthorized,
    /// A value RFC 6960 does not define.
    Other(u8),
}

impl ResponseStatus {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => ResponseStatus::Successful,
            1 => ResponseStatus::MalformedRequest,
            2 => ResponseStatus::InternalError,
            3 => ResponseStatus::TryLater,
            5 => ResponseStatus::SigRequired,
            6 => ResponseStatus::Unauthorized,
            o => ResponseStatus::Other(o),
        }
    }
}

impl fmt::Display for ResponseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseStatus::Successful => f.write_str("successful (0)"),
            ResponseStatus::MalformedRequest => f.write_str("malformedRequest (1)"),
            ResponseStatus::InternalError => f.write_str("internalError (2)"),
            ResponseStatus::TryLater => f.write_str("tryLater (3)"),
            ResponseStatus::SigRequired => f.write_str("sigRequired (5)"),
            ResponseStatus::Unauthorized => f.write_str("unauthorized (6)"),
            ResponseStatus::Other(v) => write!(f, "undefined status ({v})"),
        }
    }
}

/// `CRLReason` of a revoked certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CrlReason(pub u8);

impl CrlReason {
    /// `certificateHold`: a temporary, reversible revocation.
    pub const CERTIFICATE_HOLD: CrlReason = CrlReason(6);

    /// The RFC 5280 name of the reason.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "unspecified",
            1 => "keyCompromise",
            2 => "cACompromise",
            3 => "affiliationChanged",
            4 => "superseded",
            5 => "cessationOfOperation",
            6 => "certificateHold",
            8 => "removeFromCRL",
            9 => "privilegeWithdrawn",
            10 => "aACompromise",
            _ => "undefined",
        }
    }
}

impl fmt::Display for CrlReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// A parsed `OCSPResponse`.
#[derive(Debug)]
pub struct OcspResponse<'a> {
    pub status: ResponseStatus,
    /// `responseBytes`; absent on unsuccessful answers.
    pub body: Option<ResponseBody<'a>>,
}

/// The content of `responseBytes`.
#[derive(Debug)]
pub enum ResponseBody<'a> {
    /// `id-pkix-ocsp-basic`.
    Basic(BasicResponse<'a>),
    /// Any other response type (not verified).
    Other { response_type: Oid },
}

/// A parsed `BasicOCSPResponse`.
#[derive(Debug)]
pub struct BasicResponse<'a> {
    /// The exact DER of `tbsResponseData` (header included): the signed bytes.
    pub tbs_der: &'a [u8],
    pub responder_id: ResponderId<'a>,
    pub produced_at: UnixTime,
    pub responses: Vec<SingleResponse<'a>>,
    pub extensions: Vec<Extension<'a>>,
    pub signature_algorithm: Oid,
    /// Whether the signature `AlgorithmIdentifier` carries parameters other than NULL.
    pub signature_params_present: bool,
    /// The content of the signature BIT STRING (a DER `ECDSA-Sig-Value` for ECDSA).
    pub signature: &'a [u8],
    /// Certificates included to help verify the signature (delegated responders).
    pub certs: Vec<Certificate>,
}

/// `ResponderID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponderId<'a> {
    /// The DER of the responder's subject `Name`.
    ByName(&'a [u8]),
    /// SHA-1 of the responder's public key (BIT STRING contents of `subjectPublicKey`).
    ByKey(&'a [u8]),
}

/// A parsed `SingleResponse`.
#[derive(Clone, Debug)]
pub struct SingleResponse<'a> {
    pub cert_id: CertId<'a>,
    pub status: CertStatus,
    pub this_update: UnixTime,
    pub next_update: Option<UnixTime>,
    pub extensions: Vec<Extension<'a>>,
}

/// `CertID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertId<'a> {
    pub hash_algorithm: Oid,
    pub issuer_name_hash: &'a [u8],
    pub issuer_key_hash: &'a [u8],
    /// The INTEGER content bytes (two's complement, big endian).
    pub serial: &'a [u8],
}

/// `CertStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    Revoked {
        time: UnixTime,
        reason: Option<CrlReason>,
    },
    Unknown,
}

/// An `Extension` of a response or single response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    pub oid: Oid,
    pub critical: bool,
    /// The content of `extnValue`.
    pub value: &'a [u8],
}

/// `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`.
fn extensions<'a>(t: &Tlv<'a>) -> Result<Vec<Extension<'a>>, OcspError> {
    const WHAT: &str = "Extension";
    let mut c = Cursor::inside(t);
    let mut out = Vec::new();
    while !c.at_end() {
        if out.len() == MAX_OCSP_EXTENSIONS {
            return Err(OcspError::TooLarge {
                what: "extensions",
                got: out.len() + 1,
                max: MAX_OCSP_EXTENSIONS,
            });
        }
        let ext = c.expect(TAG_SEQUENCE, WHAT)?;
        let mut e = Cursor::inside(&ext);
        let id = oid(&e.expect(TAG_OID, "extnID")?, "extnID")?;
        let critical = match e.optional(TAG_BOOLEAN, "critical")? {
            Some(b) => match b.value {
                [0xff] => true,
                // DER: DEFAULT FALSE is omitted, so an explicit FALSE is not DER.
                _ => return Err(OcspError::decode(b.offset, "critical")),
            },
            None => false,
        };
        let value = e.expect(TAG_OCTET_STRING, "extnValue")?.value;
        e.finish(WHAT)?;
        out.push(Extension {
            oid: id,
            critical,
            value,
        });
    }
    Ok(out)
}

fn cert_id<'a>(t: &Tlv<'a>) -> Result<CertId<'a>, OcspError> {
    let mut c = Cursor::inside(t);
    let (hash_algorithm, _) =
        algorithm(&c.expect(TAG_SEQUENCE, "hashAlgorithm")?, "hashAlgorithm")?;
    let issuer_name_hash = c.expect(TAG_OCTET_STRING, "issuerNameHash")?.value;
    let issuer_key_hash = c.expect(TAG_OCTET_STRING, "issuerKeyHash")?.value;
    let serial = integer(&c.expect(TAG_INTEGER, "serialNumber")?, "serialNumber")?;
    c.finish("CertID")?;
    Ok(CertId {
        hash_algorithm,
        issuer_name_hash,
        issuer_key_hash,
        serial,
    })
}

fn cert_status(t: &Tlv<'_>) -> Result<CertStatus, OcspError> {
    match t.tag {
        tag if tag == ctx_prim(0) && t.value.is_empty() => Ok(CertStatus::Good),
        tag if tag == ctx_prim(2) && t.value.is_empty() => Ok(CertStatus::Unknown),
        tag if tag == ctx(1) => {
            // RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
            let mut c = Cursor::inside(t);
            let time = generalized_time(
                &c.expect(TAG_GENERALIZED_TIME, "revocationTime")?,
                "revocationTime",
            )?;
            let reason = match c.optional(ctx(0), "revocationReason")? {
                Some(r) => {
                    let e = explicit(&r, TAG_ENUMERATED, "revocationReason")?;
                    Some(CrlReason(small_uint(&e, "revocationReason")?))
                }
                None => None,
            };
            c.finish("RevokedInfo")?;
            Ok(CertStatus::Revoked { time, reason })
        }
        _ => Err(OcspError::decode(t.offset, "certStatus")),
    }
}

fn single_response<'a>(t: &Tlv<'a>) -> Result<SingleResponse<'a>, OcspError> {
    let mut c = Cursor::inside(t);
    let cert_id = cert_id(&c.expect(TAG_SEQUENCE, "certID")?)?;
    let status = cert_status(&c.any("certStatus")?)?;
    let this_update =
        generalized_time(&c.expect(TAG_GENERALIZED_TIME, "thisUpdate")?, "thisUpdate")?;
    let next_update = match c.optional(ctx(0), "nextUpdate")? {
        Some(n) => Some(generalized_time(
            &explicit(&n, TAG_GENERALIZED_TIME, "nextUpdate")?,
            "nextUpdate",
        )?),
        None => None,
    };
    let extensions = match c.optional(ctx(1), "singleExtensions")? {
        Some(e) => extensions(&explicit(&e, TAG_SEQUENCE, "singleExtensions")?)?,
        None => Vec::new(),
    };
    c.finish("SingleResponse")?;
    Ok(SingleResponse {
        cert_id,
        status,
        this_update,
        next_update,
        extensions,
    })
}

fn basic_response<'a>(t: &Tlv<'a>) -> Result<BasicResponse<'a>, OcspError> {
    let mut c = Cursor::inside(t);
    let tbs = c.expect(TAG_SEQUENCE, "tbsResponseData")?;
    let (signature_algorithm, signature_params_present) = algorithm(
        &c.expect(TAG_SEQUENCE, "signatureAlgorithm")?,
        "signatureAlgorithm",
    )?;
    let sig = c.expect(TAG_BIT_STRING, "signature")?;
    let signature = match sig.value {
        [0, rest @ ..] => rest,
        _ => return Err(OcspError::decode(sig.offset, "signature (unused bits)")),
    };
    let mut certs = Vec::new();
    if let Some(list) = c.optional(ctx(0), "certs")? {
        let seq = explicit(&list, TAG_SEQUENCE, "certs")?;
        let mut lc = Cursor::inside(&seq);
        while !lc.at_end() {
            if certs.len() == MAX_OCSP_CERTS {
                return Err(OcspError::TooLarge {
                    what: "certificates",
                    got: certs.len() + 1,
                    max: MAX_OCSP_CERTS,
                });
            }
            let ct = lc.expect(TAG_SEQUENCE, "Certificate")?;
            let cert = Certificate::from_der(ct.raw)
                .map_err(|e| OcspError::decode(ct.offset + e.offset, "included certificate"))?;
            certs.push(cert);
        }
    }
    c.finish("BasicOCSPResponse")?;

    // ResponseData
    let mut d = Cursor::inside(&tbs);
    if let Some(v) = d.optional(ctx(0), "version")? {
        let int = explicit(&v, TAG_INTEGER, "version")?;
        if small_uint(&int, "version")? != 0 {
            return Err(OcspError::decode(
                int.offset,
                "version (only v1 is defined)",
            ));
        }
    }
    let rid = d.any("responderID")?;
    let responder_id = match rid.tag {
        tag if tag == ctx(1) => ResponderId::ByName(explicit(&rid, TAG_SEQUENCE, "byName")?.raw),
        tag if tag == ctx(2) => {
            ResponderId::ByKey(explicit(&rid, TAG_OCTET_STRING, "byKey")?.value)
        }
        _ => return Err(OcspError::decode(rid.offset, "responderID")),
    };
    let produced_at =
        generalized_time(&d.expect(TAG_GENERALIZED_TIME, "producedAt")?, "producedAt")?;
    let list = d.expect(TAG_SEQUENCE, "responses")?;
    let mut lc = Cursor::inside(&list);
    let mut responses = Vec::new();
    while !lc.at_end() {
        if responses.len() == MAX_OCSP_RESPONSES {
            return Err(OcspError::TooLarge {
                what: "single responses",
                got: responses.len() + 1,
                max: MAX_OCSP_RESPONSES,
            });
        }
        responses.push(single_response(
            &lc.expect(TAG_SEQUENCE, "SingleResponse")?,
        )?);
    }
    let extensions = match d.optional(ctx(1), "responseExtensions")? {
        Some(e) => extensions(&explicit(&e, TAG_SEQUENCE, "responseExtensions")?)?,
        None => Vec::new(),
    };
    d.finish("ResponseData")?;

    Ok(BasicResponse {
        tbs_der: tbs.raw,
        responder_id,
        produced_at,
        responses,
        extensions,
        signature_algorithm,
        signature_params_present,
        signature,
        certs,
    })
}

/// Parses a DER `OCSPResponse`. Structure only: nothing is verified here.
pub fn parse_ocsp_response(der: &[u8]) -> Result<OcspResponse<'_>, OcspError> {
    if der.len() > MAX_OCSP_LEN {
        return Err(OcspError::TooLarge {
            what: "bytes",
            got: der.len(),
            max: MAX_OCSP_LEN,
        });
    }
    let mut top = Cursor::new(der);
    let outer = top.expect(TAG_SEQUENCE, "OCSPResponse")?;
    top.finish("trailing bytes after OCSPResponse")?;
    let mut c = Cursor::inside(&outer);
    let status = ResponseStatus::from_u8(small_uint(
        &c.expect(TAG_ENUMERATED, "responseStatus")?,
        "responseStatus",
    )?);
    let body = match c.optional(ctx(0), "responseBytes")? {
        Some(rb) => {
            let seq = explicit(&rb, TAG_SEQUENCE, "ResponseBytes")?;
            let mut r = Cursor::inside(&seq);
            let response_type = oid(&r.expect(TAG_OID, "responseType")?, "responseType")?;
            let response = r.expect(TAG_OCTET_STRING, "response")?;
            r.finish("ResponseBytes")?;
            if response_type == OID_OCSP_BASIC {
                let mut inner = Cursor::inside(&response);
                let basic = inner.expect(TAG_SEQUENCE, "BasicOCSPResponse")?;
                inner.finish("trailing bytes after BasicOCSPResponse")?;
                Some(ResponseBody::Basic(basic_response(&basic)?))
            } else {
                Some(ResponseBody::Other { response_type })
            }
        }
        None => None,
    };
    c.finish("OCSPResponse")?;
    if status == ResponseStatus::Successful && body.is_none() {
        return Err(OcspError::decode(
            c.offset(),
            "responseBytes (required when successful)",
        ));
    }
    Ok(OcspResponse { status, body })
}

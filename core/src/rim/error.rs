//! Errors of the RIM stage (XML, XML-DSig, manifest content, versions).

use alloc::string::String;
use core::fmt;

use crate::crypto::SigFailure;
use crate::error::{ErrorCode, GotExpected, Stage};
use crate::x509::ChainError;

/// Which of the two reference manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RimKind {
    Driver,
    Vbios,
}

impl RimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RimKind::Driver => "driver",
            RimKind::Vbios => "vbios",
        }
    }
}

impl fmt::Display for RimKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RimKind::Driver => "driver",
            RimKind::Vbios => "VBIOS",
        })
    }
}

/// The manifest is not well-formed XML, or exceeds a limit. Offsets are bytes into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmlError {
    TooLarge {
        got: usize,
        max: usize,
    },
    Encoding {
        offset: usize,
        reason: &'static str,
    },
    Doctype {
        offset: usize,
    },
    Syntax {
        offset: usize,
        reason: &'static str,
    },
    Reference {
        offset: usize,
    },
    Namespace {
        offset: usize,
        reason: &'static str,
    },
    Limit {
        offset: usize,
        what: &'static str,
        max: usize,
    },
}

impl XmlError {
    /// Byte offset of the problem (for `TooLarge`, the limit).
    pub fn offset(&self) -> usize {
        match self {
            XmlError::TooLarge { max, .. } => *max,
            XmlError::Encoding { offset, .. }
            | XmlError::Doctype { offset }
            | XmlError::Syntax { offset, .. }
            | XmlError::Reference { offset }
            | XmlError::Namespace { offset, .. }
            | XmlError::Limit { offset, .. } => *offset,
        }
    }
}

impl ErrorCode for XmlError {
    fn code(&self) -> &'static str {
        match self {
            XmlError::TooLarge { .. } => "RIM_TOO_LARGE",
            XmlError::Encoding { .. } => "RIM_XML_ENCODING",
            XmlError::Doctype { .. } => "RIM_DOCTYPE",
            XmlError::Syntax { .. } => "RIM_XML_SYNTAX",
            XmlError::Reference { .. } => "RIM_XML_REFERENCE",
            XmlError::Namespace { .. } => "RIM_XML_NAMESPACE",
            XmlError::Limit { .. } => "RIM_XML_LIMIT",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Rim
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::TooLarge { got, max } => write!(f, "RIM is {got} bytes, at most {max} accepted"),
            XmlError::Encoding { offset, reason } => write!(f, "RIM XML byte {offset}: {reason}"),
            XmlError::Doctype { offset } => {
                write!(f, "RIM XML byte {offset}: document type declarations (DTDs) are not accepted")
            }
            XmlError::Syntax { offset, reason } => write!(f, "RIM XML byte {offset}: {reason}"),
            XmlError::Reference { offset } => write!(
                f,
                "RIM XML byte {offset}: unknown or malformed reference (only &lt; &gt; &amp; &apos; &quot; and &#N; are accepted)"
            ),
            XmlError::Namespace { offset, reason } => write!(f, "RIM XML byte {offset}: namespace error: {reason}"),
            XmlError::Limit { offset, what, max } => {
                write!(f, "RIM XML byte {offset}: too many {what} (at most {max})")
            }
        }
    }
}

/// Why a reference integrity manifest was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RimError {
    /// Not well-formed XML, or over a limit.
    Xml(XmlError),
    /// Canonicalization needs a feature this verifier does not implement.
    C14nUnsupported { offset: usize, reason: &'static str },
    /// The root element has no `ds:Signature` child.
    NoSignature,
    /// More than one `ds:Signature` element.
    MultipleSignatures { offset: usize },
    /// The `ds:Signature` element does not have the required structure.
    SignatureMalformed { offset: usize, reason: &'static str },
    /// An algorithm other than the ones NVIDIA uses.
    UnsupportedAlgorithm {
        offset: usize,
        what: &'static str,
        uri: String,
    },
    /// The SHA-384 of the canonical document differs from `DigestValue` (hex).
    DigestMismatch(GotExpected<String>),
    /// `KeyInfo` carries no `X509Certificate`.
    NoCertificate,
    /// A `KeyInfo` certificate does not decode (index from the first).
    BadCertificate { index: usize, reason: &'static str },
    /// The signature over `SignedInfo` does not verify with the first certificate's key.
    SignatureInvalid { reason: SigFailure },
    /// The signer chain failed validation against the trust anchors.
    Chain(ChainError),
    /// The root element is not a SWID `SoftwareIdentity`.
    NotSwid { offset: usize },
    /// A required element is absent, or repeated.
    MissingElement { element: &'static str },
    /// A required attribute is absent.
    MissingAttribute {
        offset: usize,
        element: &'static str,
        attribute: &'static str,
    },
    /// An attribute has a value outside its syntax.
    BadAttribute {
        offset: usize,
        attribute: String,
        reason: &'static str,
    },
    /// No `Resource type="Measurement"` entries.
    NoMeasurements,
    /// Two measurement entries with the same index.
    DuplicateIndex { offset: usize, index: u8 },
    /// A measurement lacks one of its `Hash0..Hash{N-1}` alternatives.
    MissingHash {
        offset: usize,
        index: u8,
        hash: usize,
    },
    /// A hash alternative is not lower-case hex.
    BadHash {
        offset: usize,
        index: u8,
        hash: usize,
    },
    /// `alternatives` disagrees with the hash attributes present.
    AlternativesMismatch {
        offset: usize,
        index: u8,
        declared: usize,
        found: usize,
    },
    /// The RIM's `colloquialVersion` differs from the version in the report.
    VersionMismatch {
        kind: RimKind,
        mismatch: GotExpected<String>,
    },
    /// The report does not say which version it runs, so the RIM cannot be matched.
    VersionUnavailable { kind: RimKind },
}

impl From<XmlError> for RimError {
    fn from(e: XmlError) -> Self {
        RimError::Xml(e)
    }
}

impl RimError {
    /// The code of the wrapped chain error (`CHAIN_EXPIRED` inside `RIM_CHAIN`), if any.
    pub fn inner_code(&self) -> Option<&'static str> {
        match self {
            RimError::Chain(e) => Some(e.code()),
            _ => None,
        }
    }
}

impl ErrorCode for RimError {
    fn code(&self) -> &'static str {
        match self {
            RimError::Xml(e) => e.code(),
            RimError::C14nUnsupported { .. } => "RIM_C14N_UNSUPPORTED",
            RimError::NoSignature => "RIM_NO_SIGNATURE",
            RimError::MultipleSignatures { .. } => "RIM_MULTIPLE_SIGNATURES",
            RimError::SignatureMalformed { .. } => "RIM_SIGNATURE_MALFORMED",
            RimError::UnsupportedAlgorithm { .. } => "RIM_UNSUPPORTED_ALGORITHM",
            RimError::DigestMismatch(_) => "RIM_DIGEST_MISMATCH",
            RimError::NoCertificate => "RIM_NO_CERTIFICATE",
            RimError::BadCertificate { .. } => "RIM_BAD_CERTIFICATE",
            RimError::SignatureInvalid { .. } => "RIM_SIGNATURE_INVALID",
            RimError::Chain(_) => "RIM_CHAIN",
            RimError::NotSwid { .. } => "RIM_NOT_SWID",
            RimError::MissingElement { .. } => "RIM_MISSING_ELEMENT",
            RimError::MissingAttribute { .. } => "RIM_MISSING_ATTRIBUTE",
            RimError::BadAttribute { .. } => "RIM_BAD_ATTRIBUTE",
            RimError::NoMeasurements => "RIM_NO_MEASUREMENTS",
            RimError::DuplicateIndex { .. } => "RIM_DUPLICATE_INDEX",
            RimError::MissingHash { .. } => "RIM_MISSING_HASH",
            RimError::BadHash { .. } => "RIM_BAD_HASH",
            RimError::AlternativesMismatch { .. } => "RIM_ALTERNATIVES_MISMATCH",
            RimError::VersionMismatch { .. } => "RIM_VERSION_MISMATCH",
            RimError::VersionUnavailable { .. } => "RIM_VERSION_UNAVAILABLE",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Rim
    }
}

impl fmt::Display for RimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RimError::Xml(e) => e.fmt(f),
            RimError::C14nUnsupported { offset, reason } => {
                write!(f, "RIM XML byte {offset}: cannot canonicalize: {reason}")
            }
            RimError::NoSignature => f.write_str("the RIM is not signed: no ds:Signature child of the root element"),
            RimError::MultipleSignatures { offset } => {
                write!(f, "RIM XML byte {offset}: a second ds:Signature element (exactly one is accepted)")
            }
            RimError::SignatureMalformed { offset, reason } => write!(f, "RIM XML byte {offset}: ds:Signature: {reason}"),
            RimError::UnsupportedAlgorithm { offset, what, uri } => {
                write!(f, "RIM XML byte {offset}: unsupported {what} \"{uri}\"")
            }
            RimError::DigestMismatch(ge) => write!(
                f,
                "the RIM content was altered: SHA-384 of the canonical document is {}, DigestValue says {}",
                ge.got, ge.expected
            ),
            RimError::NoCertificate => f.write_str("the RIM signature carries no X509Certificate in KeyInfo"),
            RimError::BadCertificate { index, reason } => write!(f, "RIM KeyInfo certificate {index}: {reason}"),
            RimError::SignatureInvalid { reason } => {
                let why = match reason {
                    SigFailure::BadKey => "the signer key is not a valid P-384 point",
                    SigFailure::BadSignature => "SignatureValue is not a valid P-384 r||s pair",
                    SigFailure::Mismatch => "it does not verify with the signer certificate's key",
                };
                write!(f, "the RIM XML signature over SignedInfo is invalid: {why}")
            }
            RimError::Chain(e) => write!(f, "the RIM signer certificate chain is invalid: {e}"),
            RimError::NotSwid { offset } => {
                write!(f, "RIM XML byte {offset}: the root element is not a SWID SoftwareIdentity")
            }
            RimError::MissingElement { element } => write!(f, "the RIM needs exactly one {element} element"),
            RimError::MissingAttribute { offset, element, attribute } => {
                write!(f, "RIM XML byte {offset}: {element} lacks the {attribute} attribute")
            }
            RimError::BadAttribute { offset, attribute, reason } => {
                write!(f, "RIM XML byte {offset}: attribute {attribute}: {reason}")
            }
            RimError::NoMeasurements => f.write_str("the RIM payload lists no measurements"),
            RimError::DuplicateIndex { offset, index } => {
                write!(f, "RIM XML byte {offset}: measurement index {index} appears twice")
            }
            RimError::MissingHash { offset, index, hash } => {
                write!(f, "RIM XML byte {offset}: measurement {index} lacks Hash{hash}")
            }
            RimError::BadHash { offset, index, hash } => {
                write!(f, "RIM XML byte {offset}: measurement {index}: Hash{hash} is not lower-case hex")
            }
            RimError::AlternativesMismatch { offset, index, declared, found } => write!(
                f,
                "RIM XML byte {offset}: measurement {index} declares {declared} alternatives but has {found} hashes"
            ),
            RimError::VersionMismatch { kind, mismatch } => write!(
                f,
                "the {kind} RIM is for version {} but the report says {}",
                mismatch.got, mismatch.expected
            ),
            RimError::VersionUnavailable { kind } => {
                write!(f, "the report carries no {kind} version to match the {kind} RIM against")
            }
        }
    }
}

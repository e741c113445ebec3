//! Multi-GPU evidence lists as NVIDIA serializes them:
//! `[{"arch": "HOPPER", "certificate": base64(PEM chain), "evidence": base64(report), "nonce": hex}, ...]`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::encoding::{base64_decode_lenient, hex_decode_lenient, pem_certificates};
use crate::error::{ErrorCode, Stage};

/// Most GPUs accepted in one list (an HGX board has 8).
pub const MAX_GPUS: usize = 16;
/// Largest JSON list accepted.
pub const MAX_LIST_LEN: usize = 2 * 1024 * 1024;

/// One GPU's evidence, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceItem {
    pub arch: String,
    /// DER certificates, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// Raw report bytes.
    pub report: Vec<u8>,
    /// The nonce the list states, if any.
    pub nonce: Option<[u8; 32]>,
}

#[derive(serde::Deserialize)]
struct RawItem {
    arch: String,
    certificate: String,
    evidence: String,
    #[serde(default)]
    nonce: Option<String>,
}

/// Parses an NVIDIA evidence list. `evidence` may be base64 (NVIDIA) or hex (accepted by some tools).
pub fn parse_evidence_list(json: &[u8]) -> Result<Vec<EvidenceItem>, ListError> {
    if json.len() > MAX_LIST_LEN {
        return Err(ListError::TooLarge {
            got: json.len(),
            max: MAX_LIST_LEN,
        });
    }
    let raw: Vec<RawItem> = serde_json::from_slice(json).map_err(|e| ListError::Json {
        line: e.line(),
        column: e.column(),
    })?;
    if raw.is_empty() {
        return Err(ListError::Empty);
    }
    if raw.len() > MAX_GPUS {
        return Err(ListError::TooMany {
            got: raw.len(),
            max: MAX_GPUS,
        });
    }
    raw.into_iter()
        .enumerate()
        .map(|(index, r)| {
            if !r.arch.eq_ignore_ascii_case("HOPPER") {
                return Err(ListError::UnsupportedArch {
                    index,
                    arch: r.arch,
                });
            }
            let pem = base64_decode_lenient(r.certificate.as_bytes()).ok_or(ListError::Field {
                index,
                field: "certificate",
                reason: "not base64",
            })?;
            let chain = pem_certificates(&pem).map_err(|_| ListError::Field {
                index,
                field: "certificate",
                reason: "not PEM certificates",
            })?;
            let report = base64_decode_lenient(r.evidence.as_bytes())
                .filter(|b| b.first() == Some(&0x11))
                .or_else(|| hex_decode_lenient(r.evidence.as_bytes()))
                .ok_or(ListError::Field {
                    index,
                    field: "evidence",
                    reason: "neither base64 nor hex",
                })?;
            let nonce = match r.nonce {
                None => None,
                Some(n) => Some(
                    hex_decode_lenient(n.as_bytes())
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .ok_or(ListError::Field {
                            index,
                            field: "nonce",
                            reason: "not 32 bytes of hex",
                        })?,
                ),
            };
            Ok(EvidenceItem {
                arch: r.arch,
                chain,
                report,
                nonce,
            })
        })
        .collect()
}

/// An NVIDIA JSON evidence list (several GPUs' evidence, as `otr verify gpu --evidence-list`
/// reads it) could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListError {
    TooLarge {
        got: usize,
        max: usize,
    },
    Json {
        line: usize,
        column: usize,
    },
    Empty,
    TooMany {
        got: usize,
        max: usize,
    },
    UnsupportedArch {
        index: usize,
        arch: String,
    },
    Field {
        index: usize,
        field: &'static str,
        reason: &'static str,
    },
}

impl ErrorCode for ListError {
    fn code(&self) -> &'static str {
        match self {
            ListError::TooLarge { .. } => "INPUT_TOO_LARGE",
            ListError::Json { .. } => "INPUT_JSON",
            ListError::Empty => "INPUT_EMPTY_LIST",
            ListError::TooMany { .. } => "INPUT_TOO_MANY_GPUS",
            ListError::UnsupportedArch { .. } => "INPUT_UNSUPPORTED_ARCH",
            ListError::Field { .. } => "INPUT_FIELD",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Input
    }
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::TooLarge { got, max } => {
                write!(f, "evidence list is {got} bytes, at most {max} accepted")
            }
            ListError::Json { line, column } => write!(
                f,
                "evidence list is not valid JSON (line {line}, column {column})"
            ),
            ListError::Empty => write!(f, "evidence list is empty"),
            ListError::TooMany { got, max } => {
                write!(f, "evidence list has {got} GPUs, at most {max} accepted")
            }
            ListError::UnsupportedArch { index, arch } => {
                write!(
                    f,
                    "GPU {index}: architecture {arch} is not supported (HOPPER only)"
                )
            }
            ListError::Field {
                index,
                field,
                reason,
            } => write!(f, "GPU {index}: field `{field}` is {reason}"),
        }
    }
}

//! SPDM 1.1 GET_MEASUREMENTS request + MEASUREMENTS response, as NVIDIA Hopper GPUs emit them.
//!
//! Layout (little-endian lengths, offsets from the start of the report):
//! request (37 bytes: version 0x11, code 0xE0, param1, param2, nonce[32], slot id) followed by the
//! response (version 0x11, code 0x60, param1, param2, number of blocks, record length u24,
//! measurement record, responder nonce[32], opaque length u16, opaque data, signature[96]).
//! The signature covers every byte before it. See `docs/PROTOCOL.md` section 5.

use alloc::vec::Vec;
use core::fmt;

use super::opaque::OpaqueData;
use crate::error::{ErrorCode, Stage};

/// Length of the GET_MEASUREMENTS request that precedes the response.
pub const REQUEST_LEN: usize = 37;
/// Raw P-384 `r || s` signature length.
pub const SIGNATURE_LEN: usize = 96;
/// Largest report accepted.
pub const MAX_REPORT_LEN: usize = 64 * 1024;
/// The SPDM version NVIDIA Hopper GPUs speak.
pub const SPDM_VERSION_1_1: u8 = 0x11;
const GET_MEASUREMENTS: u8 = 0xE0;
const MEASUREMENTS: u8 = 0x60;

/// The GET_MEASUREMENTS request (first 37 bytes of a report).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Request {
    pub version: u8,
    pub code: u8,
    pub param1: u8,
    pub param2: u8,
    /// The verifier-chosen nonce (in OTR: the micro-batch header hash).
    #[serde(with = "hex_bytes")]
    pub nonce: [u8; 32],
    pub slot_id: u8,
}

/// One DMTF measurement block.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MeasurementBlock {
    /// 1-based block index.
    pub index: u8,
    /// Measurement specification (0x01 = DMTF).
    pub specification: u8,
    /// DMTFSpecMeasurementValueType (bit 7 clear = digest).
    pub value_type: u8,
    /// The measurement value (a SHA-384 digest on Hopper).
    #[serde(with = "hex_vec")]
    pub value: Vec<u8>,
}

/// The MEASUREMENTS response.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Response {
    pub version: u8,
    pub code: u8,
    pub param1: u8,
    pub param2: u8,
    pub number_of_blocks: u8,
    pub record_length: u32,
    pub blocks: Vec<MeasurementBlock>,
    /// The GPU-chosen nonce; never compared with the caller's.
    #[serde(with = "hex_bytes")]
    pub responder_nonce: [u8; 32],
    pub opaque: OpaqueData,
    #[serde(skip)]
    pub signature: [u8; SIGNATURE_LEN],
}

/// A parsed attestation report. Parsing does not verify anything cryptographic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpdmReport {
    pub request: Request,
    pub response: Response,
    /// Number of bytes covered by the signature (request + response minus signature).
    pub signed_len: usize,
    /// Bytes after the signature (0 for well-formed reports).
    pub trailing: usize,
}

impl SpdmReport {
    /// Parses a raw report (binary, not hex).
    pub fn parse(b: &[u8]) -> Result<Self, SpdmError> {
        if b.len() > MAX_REPORT_LEN {
            return Err(SpdmError::TooLarge {
                got: b.len(),
                max: MAX_REPORT_LEN,
            });
        }
        let mut c = Cursor { b, pos: 0 };
        let version = c.u8("request SPDMVersion")?;
        expect(0, "request SPDMVersion", version, SPDM_VERSION_1_1)?;
        let code = c.u8("request code")?;
        expect(1, "request code", code, GET_MEASUREMENTS)?;
        let param1 = c.u8("request param1")?;
        let param2 = c.u8("request param2")?;
        let nonce = c.array::<32>("request nonce")?;
        let slot_id = c.u8("request slot id")?;
        let request = Request {
            version,
            code,
            param1,
            param2,
            nonce,
            slot_id,
        };

        let rv = c.u8("response SPDMVersion")?;
        expect(37, "response SPDMVersion", rv, SPDM_VERSION_1_1)?;
        let rc = c.u8("response code")?;
        expect(38, "response code", rc, MEASUREMENTS)?;
        let rp1 = c.u8("response param1")?;
        let rp2 = c.u8("response param2")?;
        let number_of_blocks = c.u8("NumberOfBlocks")?;
        let record_length = c.u24("MeasurementRecordLength")?;
        let record_start = c.pos;
        let record = c.take(record_length as usize, "MeasurementRecord")?;
        let blocks = parse_record(record, record_start, number_of_blocks)?;
        let responder_nonce = c.array::<32>("responder nonce")?;
        let opaque_len = c.u16("OpaqueLength")? as usize;
        let opaque_start = c.pos;
        let opaque_bytes = c.take(opaque_len, "OpaqueData")?;
        let opaque = OpaqueData::parse(opaque_bytes, opaque_start)?;
        let signed_len = c.pos;
        let signature = c.array::<SIGNATURE_LEN>("Signature")?;
        Ok(SpdmReport {
            request,
            response: Response {
                version: rv,
                code: rc,
                param1: rp1,
                param2: rp2,
                number_of_blocks,
                record_length,
                blocks,
                responder_nonce,
                opaque,
                signature,
            },
            signed_len,
            trailing: b.len() - c.pos,
        })
    }

    /// The measurement block with this 1-based index.
    pub fn block(&self, index: u8) -> Option<&MeasurementBlock> {
        self.response.blocks.iter().find(|m| m.index == index)
    }
}

fn expect(offset: usize, field: &'static str, got: u8, expected: u8) -> Result<(), SpdmError> {
    if got == expected {
        Ok(())
    } else {
        Err(SpdmError::BadField {
            offset,
            field,
            got,
            expected,
        })
    }
}

fn parse_record(rec: &[u8], base: usize, count: u8) -> Result<Vec<MeasurementBlock>, SpdmError> {
    let mut c = Cursor { b: rec, pos: 0 };
    let mut blocks: Vec<MeasurementBlock> = Vec::with_capacity(count as usize);
    while c.pos < rec.len() {
        let at = base + c.pos;
        let index = c.u8("block Index").map_err(|e| e.shift(base))?;
        let specification = c
            .u8("block MeasurementSpecification")
            .map_err(|e| e.shift(base))?;
        let size = c.u16("block MeasurementSize").map_err(|e| e.shift(base))? as usize;
        let body = c
            .take(size, "block Measurement")
            .map_err(|e| e.shift(base))?;
        if specification != 0x01 {
            return Err(SpdmError::BadBlock {
                offset: at,
                index,
                reason: "measurement specification is not DMTF (0x01)",
            });
        }
        if body.len() < 3 {
            return Err(SpdmError::BadBlock {
                offset: at,
                index,
                reason: "DMTF measurement shorter than its 3-byte header",
            });
        }
        let value_type = body[0];
        let value_size = u16::from_le_bytes([body[1], body[2]]) as usize;
        if value_size != body.len() - 3 {
            return Err(SpdmError::BadBlock {
                offset: at,
                index,
                reason: "DMTF value size disagrees with measurement size",
            });
        }
        if index == 0 || blocks.iter().any(|m| m.index == index) {
            return Err(SpdmError::BadBlock {
                offset: at,
                index,
                reason: "block index is zero or repeated",
            });
        }
        blocks.push(MeasurementBlock {
            index,
            specification,
            value_type,
            value: body[3..].to_vec(),
        });
    }
    if blocks.len() != count as usize {
        return Err(SpdmError::BlockCount {
            got: blocks.len(),
            expected: count as usize,
        });
    }
    Ok(blocks)
}

pub(crate) struct Cursor<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], SpdmError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or(SpdmError::Truncated {
                offset: self.pos,
                field,
                needed: n,
                available: self.b.len() - self.pos,
            })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], SpdmError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }
    pub fn u8(&mut self, field: &'static str) -> Result<u8, SpdmError> {
        Ok(self.take(1, field)?[0])
    }
    pub fn u16(&mut self, field: &'static str) -> Result<u16, SpdmError> {
        let s = self.take(2, field)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u24(&mut self, field: &'static str) -> Result<u32, SpdmError> {
        let s = self.take(3, field)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], 0]))
    }
}

/// Why a report could not be parsed. Offsets are absolute within the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpdmError {
    TooLarge {
        got: usize,
        max: usize,
    },
    Truncated {
        offset: usize,
        field: &'static str,
        needed: usize,
        available: usize,
    },
    BadField {
        offset: usize,
        field: &'static str,
        got: u8,
        expected: u8,
    },
    BadBlock {
        offset: usize,
        index: u8,
        reason: &'static str,
    },
    BlockCount {
        got: usize,
        expected: usize,
    },
    BadOpaque {
        offset: usize,
        reason: &'static str,
    },
    TrailingBytes {
        offset: usize,
        count: usize,
    },
}

impl SpdmError {
    fn shift(self, base: usize) -> Self {
        match self {
            SpdmError::Truncated {
                offset,
                field,
                needed,
                available,
            } => SpdmError::Truncated {
                offset: offset + base,
                field,
                needed,
                available,
            },
            e => e,
        }
    }
}

impl ErrorCode for SpdmError {
    fn code(&self) -> &'static str {
        match self {
            SpdmError::TooLarge { .. } => "SPDM_TOO_LARGE",
            SpdmError::Truncated { .. } => "SPDM_TRUNCATED",
            SpdmError::BadField { .. } => "SPDM_BAD_FIELD",
            SpdmError::BadBlock { .. } => "SPDM_BAD_MEASUREMENT_BLOCK",
            SpdmError::BlockCount { .. } => "SPDM_BLOCK_COUNT",
            SpdmError::BadOpaque { .. } => "SPDM_BAD_OPAQUE_DATA",
            SpdmError::TrailingBytes { .. } => "SPDM_TRAILING_BYTES",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Spdm
    }
}

impl fmt::Display for SpdmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpdmError::TooLarge { got, max } => {
                write!(f, "report is {got} bytes, at most {max} accepted")
            }
            SpdmError::Truncated {
                offset,
                field,
                needed,
                available,
            } => write!(
                f,
                "report truncated at byte {offset}: {field} needs {needed} bytes, {available} left"
            ),
            SpdmError::BadField {
                offset,
                field,
                got,
                expected,
            } => {
                write!(
                    f,
                    "byte {offset}: {field} is {got:#04x}, expected {expected:#04x}"
                )
            }
            SpdmError::BadBlock {
                offset,
                index,
                reason,
            } => {
                write!(f, "measurement block {index} at byte {offset}: {reason}")
            }
            SpdmError::BlockCount { got, expected } => {
                write!(
                    f,
                    "measurement record holds {got} blocks, NumberOfBlocks says {expected}"
                )
            }
            SpdmError::BadOpaque { offset, reason } => {
                write!(f, "opaque data at byte {offset}: {reason}")
            }
            SpdmError::TrailingBytes { offset, count } => write!(
                f,
                "{count} unexpected bytes after the signature at byte {offset} (strict policy)"
            ),
        }
    }
}

pub(crate) mod hex_bytes {
    pub fn serialize<S: serde::Serializer, const N: usize>(
        v: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

pub(crate) mod hex_vec {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

//! Strict RLP (Ethereum yellow paper, appendix B): a zero-copy decoder that accepts only the one
//! canonical encoding of each value, and the small encoder the tests and fixtures need.
//!
//! Rejected as [`RlpError::NonCanonical`]: a single byte below `0x80` wrapped as a string
//! (`0x81 0x05`), the long form for a payload of 55 bytes or less, a length-of-length with a
//! leading zero byte, and integers with leading zero bytes (zero is the empty string).
//! Every error carries the byte offset in the input the decoder was given (plus the `base`
//! of nested items), so a caller can point at the offending byte.
//!
//! Nothing walks nested lists recursively: headers, accounts and trie nodes are read one list
//! level at a time (embedded trie nodes in a loop), so nesting depth needs no cap.

use alloc::vec::Vec;
use core::fmt;

use crate::error::{ErrorCode, Stage};

/// A canonical-RLP violation, with the byte offset where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlpError {
    /// The input ended inside an item: `needed` bytes from `offset`, `available` left.
    Truncated {
        offset: usize,
        needed: u64,
        available: usize,
    },
    /// The item is not in its one canonical form; `what` says which rule it breaks.
    NonCanonical { offset: usize, what: &'static str },
    /// Bytes remain after the single top-level item.
    TrailingBytes { offset: usize, count: usize },
    /// A list was required here, a byte string was found.
    ExpectedList { offset: usize },
    /// A byte string was required here, a list was found.
    ExpectedBytes { offset: usize },
    /// An integer has more bytes than its type holds.
    IntegerOverflow {
        offset: usize,
        len: usize,
        max: usize,
    },
}

impl RlpError {
    /// Byte offset of the error.
    pub fn offset(&self) -> usize {
        match *self {
            RlpError::Truncated { offset, .. }
            | RlpError::NonCanonical { offset, .. }
            | RlpError::TrailingBytes { offset, .. }
            | RlpError::ExpectedList { offset }
            | RlpError::ExpectedBytes { offset }
            | RlpError::IntegerOverflow { offset, .. } => offset,
        }
    }
}

impl ErrorCode for RlpError {
    fn code(&self) -> &'static str {
        match self {
            RlpError::Truncated { .. } => "LIGHT_RLP_TRUNCATED",
            RlpError::NonCanonical { .. } => "LIGHT_RLP_NON_CANONICAL",
            RlpError::TrailingBytes { .. } => "LIGHT_RLP_TRAILING_BYTES",
            RlpError::ExpectedList { .. } => "LIGHT_RLP_EXPECTED_LIST",
            RlpError::ExpectedBytes { .. } => "LIGHT_RLP_EXPECTED_BYTES",
            RlpError::IntegerOverflow { .. } => "LIGHT_RLP_INTEGER_OVERFLOW",
        }
    }
    fn stage(&self) -> Stage {
        Stage::LightClient
    }
}

impl fmt::Display for RlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RlpError::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "RLP truncated at byte {offset}: {needed} bytes needed, {available} available"
            ),
            RlpError::NonCanonical { offset, what } => {
                write!(f, "non-canonical RLP at byte {offset}: {what}")
            }
            RlpError::TrailingBytes { offset, count } => {
                write!(f, "{count} bytes after the RLP item, from byte {offset}")
            }
            RlpError::ExpectedList { offset } => {
                write!(
                    f,
                    "RLP byte string at byte {offset} where a list is required"
                )
            }
            RlpError::ExpectedBytes { offset } => {
                write!(
                    f,
                    "RLP list at byte {offset} where a byte string is required"
                )
            }
            RlpError::IntegerOverflow { offset, len, max } => write!(
                f,
                "RLP integer at byte {offset} has {len} bytes, more than the {max} allowed"
            ),
        }
    }
}

/// One decoded item. `offset` is where its header starts, `raw` its whole encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    pub offset: usize,
    pub raw: &'a [u8],
    /// The payload: the bytes of a string, or the concatenated encodings of a list's items.
    pub payload: &'a [u8],
    /// Offset of the payload's first byte.
    pub payload_offset: usize,
    pub is_list: bool,
}

/// Reads the header of the item at the start of `input` (found at absolute `base`).
pub fn decode_item(input: &[u8], base: usize) -> Result<Item<'_>, RlpError> {
    let first = *input.first().ok_or(RlpError::Truncated {
        offset: base,
        needed: 1,
        available: 0,
    })?;
    let (is_list, head, len): (bool, usize, u64) = match first {
        0x00..=0x7f => (false, 0, 1),
        0x80..=0xb7 => (false, 1, u64::from(first - 0x80)),
        0xb8..=0xbf => (false, 1 + usize::from(first - 0xb7), 0),
        0xc0..=0xf7 => (true, 1, u64::from(first - 0xc0)),
        0xf8..=0xff => (true, 1 + usize::from(first - 0xf7), 0),
    };
    let len = if head > 1 {
        let lol = &input.get(1..head).ok_or(RlpError::Truncated {
            offset: base + 1,
            needed: (head - 1) as u64,
            available: input.len() - 1,
        })?;
        if lol[0] == 0 {
            return Err(RlpError::NonCanonical {
                offset: base + 1,
                what: "length with a leading zero byte",
            });
        }
        let n = lol.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if n <= 55 {
            return Err(RlpError::NonCanonical {
                offset: base,
                what: "long form for a payload of 55 bytes or less",
            });
        }
        n
    } else {
        len
    };
    let available = input.len() - head.min(input.len());
    if len > available as u64 {
        return Err(RlpError::Truncated {
            offset: base + head,
            needed: len,
            available,
        });
    }
    let end = head + len as usize;
    let (payload, payload_offset) = if head == 0 {
        (&input[..1], base)
    } else {
        (&input[head..end], base + head)
    };
    if !is_list && head == 1 && len == 1 && payload[0] < 0x80 {
        return Err(RlpError::NonCanonical {
            offset: base,
            what: "single byte below 0x80 encoded as a string",
        });
    }
    Ok(Item {
        offset: base,
        raw: &input[..end],
        payload,
        payload_offset,
        is_list,
    })
}

/// Decodes exactly one item spanning all of `input`.
pub fn decode_exact(input: &[u8]) -> Result<Item<'_>, RlpError> {
    let item = decode_item(input, 0)?;
    if item.raw.len() != input.len() {
        return Err(RlpError::TrailingBytes {
            offset: item.raw.len(),
            count: input.len() - item.raw.len(),
        });
    }
    Ok(item)
}

impl<'a> Item<'a> {
    /// The payload of a byte string.
    pub fn bytes(&self) -> Result<&'a [u8], RlpError> {
        if self.is_list {
            return Err(RlpError::ExpectedBytes {
                offset: self.offset,
            });
        }
        Ok(self.payload)
    }

    /// The items of a list, each checked as it is read.
    pub fn list(&self) -> Result<ListIter<'a>, RlpError> {
        if !self.is_list {
            return Err(RlpError::ExpectedList {
                offset: self.offset,
            });
        }
        Ok(ListIter {
            rest: self.payload,
            offset: self.payload_offset,
        })
    }

    /// The items of a list, collected (at most `max`; more is reported as `None`).
    pub fn list_items(&self, max: usize) -> Result<Option<Vec<Item<'a>>>, RlpError> {
        let mut out = Vec::new();
        for item in self.list()? {
            if out.len() == max {
                return Ok(None);
            }
            out.push(item?);
        }
        Ok(Some(out))
    }

    /// A canonical big-endian unsigned integer of at most `max` bytes (no leading zero).
    pub fn uint_bytes(&self, max: usize) -> Result<&'a [u8], RlpError> {
        let b = self.bytes()?;
        if b.first() == Some(&0) {
            return Err(RlpError::NonCanonical {
                offset: self.offset,
                what: "integer with a leading zero byte",
            });
        }
        if b.len() > max {
            return Err(RlpError::IntegerOverflow {
                offset: self.offset,
                len: b.len(),
                max,
            });
        }
        Ok(b)
    }

    /// A canonical integer that fits in a `u64`.
    pub fn as_u64(&self) -> Result<u64, RlpError> {
        let b = self.uint_bytes(8)?;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// A canonical integer of up to 32 bytes as a 32-byte big-endian word.
    pub fn as_word(&self) -> Result<[u8; 32], RlpError> {
        let b = self.uint_bytes(32)?;
        let mut w = [0u8; 32];
        w[32 - b.len()..].copy_from_slice(b);
        Ok(w)
    }
}

/// Iterator over a list's items; stops after the first error.
#[derive(Clone, Debug)]
pub struct ListIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = Result<Item<'a>, RlpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match decode_item(self.rest, self.offset) {
            Ok(item) => {
                self.rest = &self.rest[item.raw.len()..];
                self.offset += item.raw.len();
                Some(Ok(item))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Encoder

fn put_header(out: &mut Vec<u8>, short: u8, len: usize) {
    if len <= 55 {
        out.push(short + len as u8);
    } else {
        let be = (len as u64).to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(short + 55 + (8 - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
}

/// Appends the encoding of a byte string.
pub fn encode_bytes(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() == 1 && b[0] < 0x80 {
        out.push(b[0]);
    } else {
        put_header(out, 0x80, b.len());
        out.extend_from_slice(b);
    }
}

/// Appends the encoding of a big-endian unsigned integer (leading zeros stripped).
pub fn encode_uint(out: &mut Vec<u8>, be: &[u8]) {
    let skip = be.iter().take_while(|b| **b == 0).count();
    encode_bytes(out, &be[skip..]);
}

/// Appends the encoding of a `u64`.
pub fn encode_u64(out: &mut Vec<u8>, v: u64) {
    encode_uint(out, &v.to_be_bytes());
}

/// Appends a list whose payload (the concatenated item encodings) is `payload`.
pub fn encode_list(out: &mut Vec<u8>, payload: &[u8]) {
    put_header(out, 0xc0, payload.len());
    out.extend_from_slice(payload);
}

/// The encoding of a list of already-encoded items.
pub fn list_of(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = Vec::with_capacity(payload.len() + 9);
    encode_list(&mut out, &payload);
    out
}

/// The encoding of a byte string, as a new vector.
pub fn bytes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + 9);
    encode_bytes(&mut out, b);
    out
}

#[cfg(test)]
#[path = "rlp_tests.rs"]
mod tests;

//! The one canonical binary encoding of OTR wire types (`docs/PROTOCOL.md` §1).
//!
//! - integers: fixed width, big-endian (`u8`, `u16`, `u32`, `u64`);
//! - fixed arrays (hashes, addresses, signatures): raw bytes, no prefix;
//! - byte strings and UTF-8 text: a `u32` big-endian length, then the bytes;
//! - lists: a `u32` big-endian count, then the elements;
//! - options: one tag byte, `0x00` (absent) or `0x01` (present, followed by the value).
//!
//! The [`Reader`] is strict: every length and count is checked against a cap *before* anything
//! is allocated, any tag byte other than `0`/`1` is rejected, text must be valid UTF-8, and
//! [`Reader::finish`] rejects trailing bytes. So every value has exactly one encoding, and every
//! error names the byte offset where it was found.
//!
//! Each read's error type says what it can fail with: the fixed-width reads (integers, arrays)
//! only with [`Truncated`], [`Reader::finish`] only with [`TrailingBytes`], the length-prefixed
//! and tagged reads with any [`CodecError`]. So a type made of fixed-width fields only (receipts,
//! micro-batch headers) carries only the first two in its error enum.

use alloc::vec::Vec;
use core::fmt;

/// The input ended inside `what`: `needed` bytes from `offset`, `available` left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated {
    pub offset: usize,
    pub what: &'static str,
    pub needed: usize,
    pub available: usize,
}

/// `count` bytes remain from `offset` after the value ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailingBytes {
    pub offset: usize,
    pub count: usize,
}

impl From<Truncated> for CodecError {
    fn from(e: Truncated) -> Self {
        CodecError::Truncated {
            offset: e.offset,
            what: e.what,
            needed: e.needed,
            available: e.available,
        }
    }
}

impl From<TrailingBytes> for CodecError {
    fn from(e: TrailingBytes) -> Self {
        CodecError::TrailingBytes {
            offset: e.offset,
            count: e.count,
        }
    }
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&CodecError::from(*self), f)
    }
}

impl fmt::Display for TrailingBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&CodecError::from(*self), f)
    }
}

/// A canonical-encoding violation, with the byte offset where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The input ended inside `what`.
    Truncated {
        offset: usize,
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// Bytes remain after the value ended.
    TrailingBytes { offset: usize, count: usize },
    /// A length prefix exceeds the cap for `what`.
    LengthExceeded {
        offset: usize,
        what: &'static str,
        got: u64,
        max: u64,
    },
    /// A list count exceeds the cap for `what`.
    CountExceeded {
        offset: usize,
        what: &'static str,
        got: u64,
        max: u64,
    },
    /// A tag or flag byte had a value other than the one canonical form allows.
    NonCanonical {
        offset: usize,
        what: &'static str,
        byte: u8,
    },
    /// Text that must be UTF-8 is not.
    InvalidUtf8 { offset: usize, what: &'static str },
}

impl CodecError {
    /// Byte offset of the error in the decoded input.
    pub fn offset(&self) -> usize {
        match *self {
            CodecError::Truncated { offset, .. }
            | CodecError::TrailingBytes { offset, .. }
            | CodecError::LengthExceeded { offset, .. }
            | CodecError::CountExceeded { offset, .. }
            | CodecError::NonCanonical { offset, .. }
            | CodecError::InvalidUtf8 { offset, .. } => offset,
        }
    }
}

/// Expands to the stage-prefixed code of a [`CodecError`], e.g. `RECEIPT_TRUNCATED`.
macro_rules! codec_code {
    ($prefix:literal, $err:expr) => {
        match $err {
            $crate::rollup::codec::CodecError::Truncated { .. } => concat!($prefix, "_TRUNCATED"),
            $crate::rollup::codec::CodecError::TrailingBytes { .. } => {
                concat!($prefix, "_TRAILING_BYTES")
            }
            $crate::rollup::codec::CodecError::LengthExceeded { .. } => {
                concat!($prefix, "_LENGTH_EXCEEDED")
            }
            $crate::rollup::codec::CodecError::CountExceeded { .. } => {
                concat!($prefix, "_COUNT_EXCEEDED")
            }
            $crate::rollup::codec::CodecError::NonCanonical { .. } => {
                concat!($prefix, "_NON_CANONICAL")
            }
            $crate::rollup::codec::CodecError::InvalidUtf8 { .. } => {
                concat!($prefix, "_INVALID_UTF8")
            }
        }
    };
}
pub(crate) use codec_code;

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CodecError::Truncated {
                offset,
                what,
                needed,
                available,
            } => write!(
                f,
                "input ends inside {what} at byte {offset}: {needed} bytes needed, {available} left"
            ),
            CodecError::TrailingBytes { offset, count } => {
                write!(f, "{count} unexpected trailing bytes from byte {offset}")
            }
            CodecError::LengthExceeded {
                offset,
                what,
                got,
                max,
            } => write!(
                f,
                "{what} at byte {offset} is {got} bytes long, more than the limit of {max}"
            ),
            CodecError::CountExceeded {
                offset,
                what,
                got,
                max,
            } => write!(
                f,
                "{what} at byte {offset} has {got} entries, more than the limit of {max}"
            ),
            CodecError::NonCanonical { offset, what, byte } => write!(
                f,
                "non-canonical {what} at byte {offset}: 0x{byte:02x} is not an allowed value"
            ),
            CodecError::InvalidUtf8 { offset, what } => {
                write!(f, "{what} at byte {offset} is not valid UTF-8")
            }
        }
    }
}

/// Appends canonical encodings to a buffer. Encoding cannot fail: callers check caps first.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A fixed-size array: the raw bytes, no prefix.
    pub fn array(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// A list count (`u32`). Lengths above `u32::MAX` are prevented by the callers' caps.
    pub fn count(&mut self, n: usize) -> &mut Self {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// A byte string: `u32` length, then the bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.count(v.len()).array(v)
    }

    /// UTF-8 text, encoded as a byte string.
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// An option tag: `0x00` absent, `0x01` present.
    pub fn option_tag(&mut self, present: bool) -> &mut Self {
        self.u8(present as u8)
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// A strict cursor over untrusted bytes. It never panics and never allocates.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Current byte offset from the start of the input.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Truncated> {
        let truncated = Truncated {
            offset: self.pos,
            what,
            needed: n,
            available: self.remaining(),
        };
        if n > truncated.available {
            return Err(truncated);
        }
        let out = self.data.get(self.pos..self.pos + n).ok_or(truncated)?;
        self.pos += n;
        Ok(out)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Truncated> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A list count (`u32`), rejected above `max` before anything is read or allocated.
    pub fn count(&mut self, max: usize, what: &'static str) -> Result<usize, CodecError> {
        let offset = self.pos;
        let n = self.u32(what)?;
        if n as u64 > max as u64 {
            return Err(CodecError::CountExceeded {
                offset,
                what,
                got: n as u64,
                max: max as u64,
            });
        }
        Ok(n as usize)
    }

    /// A byte string (`u32` length), rejected above `max` bytes.
    pub fn bytes(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        let offset = self.pos;
        let n = self.u32(what)?;
        if n as u64 > max as u64 {
            return Err(CodecError::LengthExceeded {
                offset,
                what,
                got: n as u64,
                max: max as u64,
            });
        }
        Ok(self.take(n as usize, what)?)
    }

    /// UTF-8 text, encoded as a byte string.
    pub fn str(&mut self, max: usize, what: &'static str) -> Result<&'a str, CodecError> {
        let offset = self.pos;
        let raw = self.bytes(max, what)?;
        core::str::from_utf8(raw).map_err(|e| CodecError::InvalidUtf8 {
            offset: offset + 4 + e.valid_up_to(),
            what,
        })
    }

    /// An option tag: `false` for `0x00`, `true` for `0x01`, an error for anything else.
    pub fn option_tag(&mut self, what: &'static str) -> Result<bool, CodecError> {
        let offset = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(CodecError::NonCanonical { offset, what, byte }),
        }
    }

    /// Ends decoding: any byte left over is an error.
    pub fn finish(self) -> Result<(), TrailingBytes> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(TrailingBytes {
                offset: self.pos,
                count,
            }),
        }
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

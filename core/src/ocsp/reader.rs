//! A minimal DER reader over `der` headers: definite, minimal lengths only, absolute byte
//! offsets in every error, and borrowed slices of the exact encodings.

use der::{asn1::ObjectIdentifier as Oid, Decode, Reader, SliceReader};

use super::error::OcspError;
use crate::time::UnixTime;

pub(super) const TAG_BOOLEAN: u8 = 0x01;
pub(super) const TAG_INTEGER: u8 = 0x02;
pub(super) const TAG_BIT_STRING: u8 = 0x03;
pub(super) const TAG_OCTET_STRING: u8 = 0x04;
pub(super) const TAG_NULL: u8 = 0x05;
pub(super) const TAG_OID: u8 = 0x06;
pub(super) const TAG_ENUMERATED: u8 = 0x0a;
pub(super) const TAG_GENERALIZED_TIME: u8 = 0x18;
pub(super) const TAG_SEQUENCE: u8 = 0x30;
/// Context-specific constructed `[n]`.
pub(super) const fn ctx(n: u8) -> u8 {
    0xa0 | n
}
/// Context-specific primitive `[n]` (IMPLICIT NULL in `CertStatus`).
pub(super) const fn ctx_prim(n: u8) -> u8 {
    0x80 | n
}

/// One TLV: tag byte, absolute offsets, value and full encoding.
#[derive(Clone, Copy)]
pub(super) struct Tlv<'a> {
    pub(super) tag: u8,
    pub(super) offset: usize,
    pub(super) value_offset: usize,
    pub(super) value: &'a [u8],
    pub(super) raw: &'a [u8],
}

/// A cursor over the content of one constructed value.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

fn der_pos(e: &der::Error) -> usize {
    e.position().map(|p| u32::from(p) as usize).unwrap_or(0)
}

impl<'a> Cursor<'a> {
    /// A cursor over a whole input (offsets from its first byte).
    pub(super) fn new(data: &'a [u8]) -> Self {
        Cursor {
            data,
            pos: 0,
            base: 0,
        }
    }

    /// A cursor over the content of `t`.
    pub(super) fn inside(t: &Tlv<'a>) -> Self {
        Cursor {
            data: t.value,
            pos: 0,
            base: t.value_offset,
        }
    }

    pub(super) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next TLV whatever its tag.
    pub(super) fn any(&mut self, what: &'static str) -> Result<Tlv<'a>, OcspError> {
        let start = self.offset();
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Err(OcspError::decode(start, what));
        }
        let bad = |e: der::Error| OcspError::decode(start + der_pos(&e), what);
        let mut r = SliceReader::new(rest).map_err(bad)?;
        let header = der::Header::decode(&mut r).map_err(bad)?;
        let hlen = u32::from(r.position()) as usize;
        let len = u32::from(header.length) as usize;
        let end = hlen
            .checked_add(len)
            .ok_or(OcspError::decode(start, what))?;
        if end > rest.len() {
            // Report where the input runs out.
            return Err(OcspError::decode(
                self.base + self.data.len(),
                "truncated input",
            ));
        }
        self.pos += end;
        Ok(Tlv {
            tag: rest[0],
            offset: start,
            value_offset: start + hlen,
            value: &rest[hlen..end],
            raw: &rest[..end],
        })
    }

    /// Reads the next TLV, which must have `tag`.
    pub(super) fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, OcspError> {
        if self.peek() != Some(tag) {
            return Err(OcspError::decode(self.offset(), what));
        }
        self.any(what)
    }

    /// Reads the next TLV if it has `tag`.
    pub(super) fn optional(
        &mut self,
        tag: u8,
        what: &'static str,
    ) -> Result<Option<Tlv<'a>>, OcspError> {
        if self.peek() == Some(tag) {
            self.any(what).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(super) fn finish(&self, what: &'static str) -> Result<(), OcspError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(OcspError::decode(self.offset(), what))
        }
    }
}

/// Reads the single value inside an EXPLICIT tag, which must be the whole content.
pub(super) fn explicit<'a>(
    t: &Tlv<'a>,
    inner: u8,
    what: &'static str,
) -> Result<Tlv<'a>, OcspError> {
    let mut c = Cursor::inside(t);
    let v = c.expect(inner, what)?;
    c.finish(what)?;
    Ok(v)
}

pub(super) fn oid(t: &Tlv<'_>, what: &'static str) -> Result<Oid, OcspError> {
    Oid::from_bytes(t.value).map_err(|_| OcspError::decode(t.offset, what))
}

/// INTEGER content bytes, checked to be non-empty and minimally encoded.
pub(super) fn integer<'a>(t: &Tlv<'a>, what: &'static str) -> Result<&'a [u8], OcspError> {
    let v = t.value;
    let non_minimal =
        v.len() > 1 && ((v[0] == 0x00 && v[1] & 0x80 == 0) || (v[0] == 0xff && v[1] & 0x80 != 0));
    if v.is_empty() || non_minimal {
        return Err(OcspError::decode(t.offset, what));
    }
    Ok(v)
}

pub(super) fn small_uint(t: &Tlv<'_>, what: &'static str) -> Result<u8, OcspError> {
    match t.value {
        [v] if *v < 0x80 => Ok(*v),
        _ => Err(OcspError::decode(t.offset, what)),
    }
}

/// `GeneralizedTime` as `YYYYMMDDHHMMSS[.f*]Z` (fractions truncated).
pub(super) fn generalized_time(t: &Tlv<'_>, what: &'static str) -> Result<UnixTime, OcspError> {
    let err = || OcspError::decode(t.offset, what);
    let b = t.value;
    if b.len() < 15 || b.last() != Some(&b'Z') {
        return Err(err());
    }
    let digits = &b[..14];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    let frac = &b[14..b.len() - 1];
    if !frac.is_empty()
        && (frac[0] != b'.' || frac.len() < 2 || !frac[1..].iter().all(u8::is_ascii_digit))
    {
        return Err(err());
    }
    let n = |r: core::ops::Range<usize>| {
        digits[r]
            .iter()
            .fold(0u32, |a, c| a * 10 + u32::from(c - b'0'))
    };
    UnixTime::from_utc(
        i64::from(n(0..4)),
        n(4..6),
        n(6..8),
        n(8..10),
        n(10..12),
        n(12..14),
    )
    .ok_or_else(err)
}

/// `AlgorithmIdentifier`: the OID and whether non-NULL parameters follow.
pub(super) fn algorithm(t: &Tlv<'_>, what: &'static str) -> Result<(Oid, bool), OcspError> {
    let mut c = Cursor::inside(t);
    let id = oid(&c.expect(TAG_OID, what)?, what)?;
    let params = match c.optional(TAG_NULL, what)? {
        Some(null) if !null.value.is_empty() => return Err(OcspError::decode(null.offset, what)),
        Some(_) => false,
        None => !c.at_end(),
    };
    if params {
        c.any(what)?;
    }
    c.finish(what)?;
    Ok((id, params))
}

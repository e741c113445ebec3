//! Text encodings met in NVIDIA evidence: hex, base64, PEM.

use alloc::vec::Vec;
use base64ct::{Base64, Encoding};

/// Decodes hex text, ignoring ASCII whitespace and an optional `0x` prefix.
pub fn hex_decode_lenient(text: &[u8]) -> Option<Vec<u8>> {
    let mut t: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if t.starts_with(b"0x") || t.starts_with(b"0X") {
        t.drain(..2);
    }
    hex::decode(&t).ok()
}

/// Decodes standard base64, ignoring ASCII whitespace.
pub fn base64_decode_lenient(text: &[u8]) -> Option<Vec<u8>> {
    let t: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Base64::decode_vec(core::str::from_utf8(&t).ok()?).ok()
}

/// Encodes standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> alloc::string::String {
    Base64::encode_string(data)
}

/// A PEM block could not be read: the byte offset of the offending `BEGIN` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PemError {
    pub offset: usize,
}

/// Splits concatenated PEM text into the DER bodies of its `CERTIFICATE` blocks, in order.
/// Text outside the blocks is ignored (NVIDIA chains sometimes carry blank lines).
pub fn pem_certificates(text: &[u8]) -> Result<Vec<Vec<u8>>, PemError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(start) = find(&text[pos..], BEGIN) {
        let begin = pos + start;
        let body_start = begin + BEGIN.len();
        let end = find(&text[body_start..], END).ok_or(PemError { offset: begin })? + body_start;
        let der =
            base64_decode_lenient(&text[body_start..end]).ok_or(PemError { offset: begin })?;
        out.push(der);
        pos = end + END.len();
    }
    Ok(out)
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_pem() {
        assert_eq!(hex_decode_lenient(b" 0x0a0B\n").unwrap(), [10, 11]);
        assert!(hex_decode_lenient(b"0g").is_none());
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAw==\n-----END CERTIFICATE-----\n";
        assert_eq!(
            pem_certificates(pem).unwrap(),
            [alloc::vec![0, 1, 2], alloc::vec![3]]
        );
        assert_eq!(
            pem_certificates(b"-----BEGIN CERTIFICATE-----\nAAEC")
                .unwrap_err()
                .offset,
            0
        );
    }
}

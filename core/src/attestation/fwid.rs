//! The firmware identity (FWID) that binds a report to its leaf certificate.
//!
//! Hopper leaf certificates carry extension 2.23.133.5.4.1 (TCG DICE TcbInfo-like):
//! `SEQUENCE { INTEGER 1, SubjectPublicKeyInfo, SEQUENCE { OID sha384, OCTET STRING(48) } }`.
//! NVIDIA's verifiers take the last 48 bytes of the extension value; so do we, after checking that
//! those bytes are indeed the contents of a 48-byte OCTET STRING that ends the value.

use crate::x509::Certificate;

/// OID of the Hopper FWID extension.
pub const OID_FWID_HOPPER: &str = "2.23.133.5.4.1";
/// FWID length (SHA-384).
pub const FWID_LEN: usize = 48;

/// The leaf certificate's FWID, if it has the extension.
pub fn leaf_fwid(leaf: &Certificate) -> Option<&[u8]> {
    let v = leaf.extension(OID_FWID_HOPPER)?;
    if v.len() < FWID_LEN + 2 {
        return None;
    }
    let (head, fwid) = v.split_at(v.len() - FWID_LEN);
    // The bytes just before must be the OCTET STRING header 04 30.
    (head.ends_with(&[0x04, 0x30])).then_some(fwid)
}

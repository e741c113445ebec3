//! Byte strings as field elements: 31 bytes per element (DESIGN principle 7).
//!
//! `pack(b)`: split `b` into chunks of 31 bytes (the last may be shorter); each chunk is the
//! little-endian integer `sum_j b[j] 256^j` (< 2^248, so always a canonical scalar).
//! `hash_bytes(tag, b) = Poseidon(tag, len(b), pack(b)...)`: the length makes the trailing
//! zero bytes of the last chunk unambiguous.

use ark_bn254::Fr;
use ark_ff::PrimeField;

use crate::poseidon;

/// Bytes per packed field element.
pub const PACK_BYTES: usize = 31;

/// Packs bytes 31 per element, little-endian.
pub fn pack(bytes: &[u8]) -> Vec<Fr> {
    bytes
        .chunks(PACK_BYTES)
        .map(Fr::from_le_bytes_mod_order)
        .collect()
}

/// `Poseidon(tag, len, pack(bytes)...)`.
pub fn hash_bytes(tag: Fr, bytes: &[u8]) -> Fr {
    let mut elems = Vec::with_capacity(2 + bytes.len().div_ceil(PACK_BYTES));
    elems.push(tag);
    elems.push(Fr::from(bytes.len() as u64));
    elems.extend(pack(bytes));
    poseidon::hash(&elems)
}

/// Number of packed elements for `len` bytes.
pub fn packed_len(len: usize) -> usize {
    len.div_ceil(PACK_BYTES)
}

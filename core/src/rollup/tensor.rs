//! The digest of a wide tensor (i64 values, little-endian) in a trace leaf (`docs/PROTOCOL.md`
//! §4.2), and the opening of one chunk of it.
//!
//! - up to [`WIDE_CHUNK`] values: `SHA-256(bytes)`, the flat hash;
//! - longer: the RFC 6962 root ([`super::merkle`]) over the chunks of [`WIDE_CHUNK`] values (the
//!   last one shorter), each chunk's leaf data its bytes.
//!
//! Every wide tensor of Gemma 3 270M but its 262,144 logits is flat. The chunked form lets a
//! dispute open two logits (a `SAMPLE` refutation) with two 32 KiB chunks and their paths,
//! instead of the 2 MiB whole.

use alloc::vec::Vec;
use sha2::{Digest, Sha256};

use super::merkle::{self, Hash, InclusionError};

/// Values per chunk of a chunked wide digest (32 KiB of i64le bytes).
pub const WIDE_CHUNK: usize = 4096;

/// Bytes per chunk.
pub const WIDE_CHUNK_BYTES: usize = 8 * WIDE_CHUNK;

/// The number of chunks of a wide tensor of `values` values (1 for the flat form, and for 0).
pub fn wide_chunks(values: u64) -> u64 {
    values.div_ceil(WIDE_CHUNK as u64).max(1)
}

/// The digest of the wide tensor whose canonical bytes (i64le) are `bytes`.
pub fn wide_digest_bytes(bytes: &[u8]) -> Hash {
    if bytes.len() <= WIDE_CHUNK_BYTES {
        return Sha256::digest(bytes).into();
    }
    merkle::root_of_leaf_hashes(&wide_chunk_hashes(bytes))
}

/// The leaf hashes of the chunks of `bytes` (the chunked form; one for a flat tensor).
pub fn wide_chunk_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(WIDE_CHUNK_BYTES)
        .map(merkle::leaf_hash)
        .collect()
}

/// One chunk of a wide tensor with its audit path (empty for a flat tensor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WideChunk {
    pub index: u64,
    pub bytes: Vec<u8>,
    pub path: Vec<Hash>,
}

/// The chunk holding value `value` of the tensor with bytes `bytes`, with its path.
pub fn open_wide_chunk(bytes: &[u8], value: u64) -> Result<WideChunk, InclusionError> {
    let values = (bytes.len() / 8) as u64;
    if value >= values {
        return Err(InclusionError::IndexOutOfRange {
            index: value,
            size: values,
        });
    }
    let index = value / WIDE_CHUNK as u64;
    let start = index as usize * WIDE_CHUNK_BYTES;
    let end = (start + WIDE_CHUNK_BYTES).min(bytes.len());
    let path = if bytes.len() <= WIDE_CHUNK_BYTES {
        Vec::new()
    } else {
        merkle::prove_leaf_hashes(&wide_chunk_hashes(bytes), index)?.path
    };
    Ok(WideChunk {
        index,
        bytes: bytes[start..end].to_vec(),
        path,
    })
}

/// Checks `chunk` is chunk `chunk.index` of a wide tensor of `values` values with digest
/// `digest` (length and path included).
pub fn verify_wide_chunk(
    digest: &Hash,
    values: u64,
    chunk: &WideChunk,
) -> Result<(), WideChunkError> {
    let chunks = wide_chunks(values);
    if chunk.index >= chunks {
        return Err(WideChunkError::Index {
            index: chunk.index,
            chunks,
        });
    }
    let want = 8 * (values - chunk.index * WIDE_CHUNK as u64).min(WIDE_CHUNK as u64);
    if chunk.bytes.len() as u64 != want {
        return Err(WideChunkError::Length {
            got: chunk.bytes.len() as u64,
            expected: want,
        });
    }
    if values as usize <= WIDE_CHUNK {
        if !chunk.path.is_empty() || <Hash>::from(Sha256::digest(&chunk.bytes)) != *digest {
            return Err(WideChunkError::Mismatch);
        }
        return Ok(());
    }
    merkle::verify_inclusion(&chunk.bytes, chunk.index, chunks, &chunk.path, digest)
        .map_err(|_| WideChunkError::Mismatch)
}

/// Why a chunk opening was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WideChunkError {
    /// The chunk index is past the tensor's chunks.
    Index { index: u64, chunks: u64 },
    /// The chunk has the wrong number of bytes for its index.
    Length { got: u64, expected: u64 },
    /// The chunk and path do not give the digest.
    Mismatch,
}

impl core::fmt::Display for WideChunkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WideChunkError::Index { index, chunks } => {
                write!(f, "chunk {index} of a tensor with {chunks} chunks")
            }
            WideChunkError::Length { got, expected } => {
                write!(f, "chunk of {got} bytes, expected {expected}")
            }
            WideChunkError::Mismatch => write!(f, "the chunk is not in the tensor's digest"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Vec<u8> {
        (0..n as i64)
            .flat_map(|i| (i * 7919 - 3).to_le_bytes())
            .collect()
    }

    #[test]
    fn flat_up_to_one_chunk_then_a_tree_of_chunks() {
        for n in [0, 1, 640, WIDE_CHUNK] {
            let b = bytes(n);
            assert_eq!(
                wide_digest_bytes(&b),
                <Hash>::from(Sha256::digest(&b)),
                "{n}"
            );
        }
        let b = bytes(WIDE_CHUNK + 1);
        assert_ne!(wide_digest_bytes(&b), <Hash>::from(Sha256::digest(&b)));
        let chunks: Vec<&[u8]> = b.chunks(WIDE_CHUNK_BYTES).collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(wide_digest_bytes(&b), merkle::root(&chunks));
    }

    #[test]
    fn every_value_opens_and_forgeries_fail() {
        for n in [5usize, WIDE_CHUNK, 3 * WIDE_CHUNK + 17] {
            let b = bytes(n);
            let d = wide_digest_bytes(&b);
            for v in [0, n as u64 / 2, n as u64 - 1] {
                let c = open_wide_chunk(&b, v).unwrap();
                verify_wide_chunk(&d, n as u64, &c).unwrap();
                let off = 8 * (v as usize - c.index as usize * WIDE_CHUNK);
                assert_eq!(c.bytes[off..off + 8], b[8 * v as usize..8 * v as usize + 8]);
                let mut bad = c.clone();
                bad.bytes[off] ^= 1;
                assert_eq!(
                    verify_wide_chunk(&d, n as u64, &bad),
                    Err(WideChunkError::Mismatch)
                );
                let mut short = c.clone();
                short.bytes.pop();
                assert!(matches!(
                    verify_wide_chunk(&d, n as u64, &short),
                    Err(WideChunkError::Length { .. })
                ));
                // The same chunk claimed past the end, or the last chunk for another size, fails
                // (the size is the verifier's: a model's vocabulary).
                let mut moved = c.clone();
                moved.index = wide_chunks(n as u64);
                assert!(verify_wide_chunk(&d, n as u64, &moved).is_err());
                if c.index + 1 == wide_chunks(n as u64) {
                    assert!(verify_wide_chunk(&d, n as u64 + 1, &c).is_err());
                }
            }
            assert!(open_wide_chunk(&b, n as u64).is_err());
        }
    }
}

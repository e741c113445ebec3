//! SHA-256 Merkle trees with RFC 6962 / RFC 9162 rules (`docs/PROTOCOL.md` §3).
//!
//! - leaf hash `SHA-256(0x00 || data)`, interior node `SHA-256(0x01 || left || right)`;
//! - shape for any size `n`: `MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n]))` with `k` the
//!   largest power of two smaller than `n`; `MTH({}) = SHA-256("")`;
//! - an inclusion proof is the RFC 6962 audit path, nearest sibling first, verified with the
//!   RFC 9162 §2.1.3.2 algorithm. Paths are capped at [`MAX_DEPTH`] nodes.
//!
//! Proof generation is here too (pure), so the node and the verifier share one definition.

use alloc::vec::Vec;
use core::fmt;
use sha2::{Digest, Sha256};

use super::Hex;
use crate::error::{ErrorCode, GotExpected, Stage};

/// A 32-byte SHA-256 value.
pub type Hash = [u8; 32];

/// The longest audit path accepted (a tree of up to 2^64 leaves).
pub const MAX_DEPTH: usize = 64;

/// Why an inclusion proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InclusionError {
    /// The leaf index is not inside the tree (this includes every index of an empty tree).
    IndexOutOfRange { index: u64, size: u64 },
    /// The audit path is longer than [`MAX_DEPTH`].
    PathTooDeep { got: usize, max: usize },
    /// The audit path length does not fit the leaf index and tree size.
    PathLength(GotExpected<usize>),
    /// The root rebuilt from the leaf and the path differs from the expected root.
    RootMismatch(GotExpected<Hash>),
}

impl ErrorCode for InclusionError {
    fn code(&self) -> &'static str {
        match self {
            InclusionError::IndexOutOfRange { .. } => "INCLUSION_INDEX_OUT_OF_RANGE",
            InclusionError::PathTooDeep { .. } => "INCLUSION_PATH_TOO_DEEP",
            InclusionError::PathLength(_) => "INCLUSION_PATH_LENGTH",
            InclusionError::RootMismatch(_) => "INCLUSION_ROOT_MISMATCH",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Inclusion
    }
}

impl fmt::Display for InclusionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InclusionError::IndexOutOfRange { index, size } => write!(
                f,
                "leaf index {index} is outside a tree of {size} leaves (valid: 0..{size})"
            ),
            InclusionError::PathTooDeep { got, max } => write!(
                f,
                "inclusion path has {got} nodes, more than the limit of {max}"
            ),
            InclusionError::PathLength(ge) => write!(
                f,
                "inclusion path has the wrong length for this leaf index and tree size: {ge}"
            ),
            InclusionError::RootMismatch(ge) => write!(
                f,
                "the leaf is not in the tree: rebuilt root {}, expected {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
        }
    }
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Root over leaves that are already leaf-hashed.
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            let (l, r) = leaves.split_at(split(leaves.len()));
            node_hash(&root_of_leaf_hashes(l), &root_of_leaf_hashes(r))
        }
    }
}

/// `MTH(D)` over the leaf data items.
pub fn root<T: AsRef<[u8]>>(items: &[T]) -> Hash {
    let leaves: Vec<Hash> = items.iter().map(|d| leaf_hash(d.as_ref())).collect();
    root_of_leaf_hashes(&leaves)
}

/// An audit path for one leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Sibling hashes, nearest the leaf first.
    pub path: Vec<Hash>,
}

fn audit_path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let (l, r) = leaves.split_at(split(leaves.len()));
    if m < l.len() {
        audit_path(m, l, out);
        out.push(root_of_leaf_hashes(r));
    } else {
        audit_path(m - l.len(), r, out);
        out.push(root_of_leaf_hashes(l));
    }
}

/// Builds the RFC 6962 audit path `PATH(index, D)` over the leaf data items.
pub fn prove<T: AsRef<[u8]>>(items: &[T], index: u64) -> Result<InclusionProof, InclusionError> {
    let size = items.len() as u64;
    if index >= size {
        return Err(InclusionError::IndexOutOfRange { index, size });
    }
    let leaves: Vec<Hash> = items.iter().map(|d| leaf_hash(d.as_ref())).collect();
    prove_leaf_hashes(&leaves, index)
}

/// [`prove`] over leaves that are already leaf-hashed.
pub fn prove_leaf_hashes(leaves: &[Hash], index: u64) -> Result<InclusionProof, InclusionError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(InclusionError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::new();
    audit_path(index as usize, leaves, &mut path);
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        path,
    })
}

/// The audit path length for leaf `index` of a tree of `size` leaves.
pub fn expected_path_len(index: u64, size: u64) -> Result<usize, InclusionError> {
    if index >= size {
        return Err(InclusionError::IndexOutOfRange { index, size });
    }
    let (mut m, mut n, mut len) = (index, size, 0usize);
    while n > 1 {
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        if m < k {
            n = k;
        } else {
            m -= k;
            n -= k;
        }
        len += 1;
    }
    Ok(len)
}

/// Rebuilds the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2), after checking
/// the path depth cap, the index range and the exact path length.
pub fn root_from_path(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
) -> Result<Hash, InclusionError> {
    if path.len() > MAX_DEPTH {
        return Err(InclusionError::PathTooDeep {
            got: path.len(),
            max: MAX_DEPTH,
        });
    }
    let expected = expected_path_len(index, size)?;
    if path.len() != expected {
        return Err(InclusionError::PathLength(GotExpected {
            got: path.len(),
            expected,
        }));
    }
    let (mut fnode, mut snode, mut r) = (index, size - 1, *leaf);
    for p in path {
        if snode == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(InclusionError::PathLength(GotExpected {
                got: path.len(),
                expected,
            }));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    Ok(r)
}

/// Checks that `leaf_data` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf_data: &[u8],
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), InclusionError> {
    let got = root_from_path(&leaf_hash(leaf_data), index, size, path)?;
    if &got != root {
        return Err(InclusionError::RootMismatch(GotExpected {
            got,
            expected: *root,
        }));
    }
    Ok(())
}

#[cfg(test)]
#[path = "merkle_tests.rs"]
mod tests;

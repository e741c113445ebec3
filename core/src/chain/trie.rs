//! Merkle-Patricia trie proofs (Ethereum yellow paper appendix D; EIP-1186 `eth_getProof`).
//!
//! A proof is the list of nodes on the path from the root to the key, each node the RLP the
//! trie hashes. Nodes of 32 bytes or more are referenced by their keccak-256 and appear as their
//! own proof element; smaller nodes are embedded in their parent (as an RLP list) and do not.
//! The account trie and every storage trie are "secure" tries: the path is keccak-256 of the key,
//! 64 nibbles, so every leaf sits at the end of a 64-nibble path and branch nodes never hold a
//! value.
//!
//! [`verify_proof`] walks the path and answers `Some(value)` (the key is in the trie) or `None`
//! (the proof shows where the key's path leaves the trie: an empty branch slot, a leaf of
//! another key, or an extension that diverges), checking on the way:
//! - each hashed node has keccak-256 equal to its parent's reference (the first: the root);
//! - each node is canonical RLP (sizes capped), a branch of 17 items or a leaf/extension of 2
//!   with a valid hex-prefix path; references are empty, 32 bytes, or embedded lists of fewer
//!   than 32 bytes; leaves end exactly at the key's end, extensions before it;
//! - no node is missing and none is left over.

use super::error::{LightError, Part, ProofKind};
use super::keccak256;
use super::rlp::{self, Item, RlpError};
use crate::rollup::Hash;

/// A 64-nibble path crosses at most 64 nodes that consume nibbles, plus a final leaf.
pub const MAX_PROOF_NODES: usize = 65;
/// A branch node is at most 532 bytes (17 items, 16 of them 33-byte references); leaves of the
/// account and storage tries are far smaller.
pub const MAX_NODE_LEN: usize = 1024;
/// keccak-256 of the empty string's RLP (`0x80`): the root of an empty trie.
pub const EMPTY_ROOT: Hash = [
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e,
    0x5b, 0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
];

const KEY_NIBBLES: usize = 64;

/// What the walk looks at next.
enum Next<'p> {
    /// A node that must be the next proof element and hash to this.
    Hashed(Hash),
    /// A node embedded in its parent.
    Embedded(Item<'p>),
}

fn nibble(key: &Hash, i: usize) -> u8 {
    let b = key[i / 2];
    if i & 1 == 0 {
        b >> 4
    } else {
        b & 0x0f
    }
}

fn node_error(part: Part, error: RlpError) -> LightError {
    match error {
        RlpError::Truncated {
            offset,
            needed,
            available,
        } => LightError::NodeTruncated {
            part,
            offset,
            needed,
            available,
        },
        error => LightError::Rlp { part, error },
    }
}

fn invalid(part: Part, offset: usize, what: &'static str) -> LightError {
    LightError::NodeInvalid { part, offset, what }
}

/// A child reference: `None` for an empty slot.
fn child<'p>(item: &Item<'p>, part: Part) -> Result<Option<Next<'p>>, LightError> {
    if item.is_list {
        if item.raw.len() >= 32 {
            return Err(invalid(
                part,
                item.offset,
                "embedded node of 32 bytes or more",
            ));
        }
        return Ok(Some(Next::Embedded(*item)));
    }
    match item.payload.len() {
        0 => Ok(None),
        32 => Ok(Some(Next::Hashed(
            item.payload.try_into().unwrap_or([0; 32]),
        ))),
        _ => Err(invalid(
            part,
            item.offset,
            "reference neither empty, a 32-byte hash, nor an embedded node",
        )),
    }
}

/// A hex-prefix path: (is_leaf, nibbles as (bytes, skip the first nibble)).
fn hex_prefix<'p>(item: &Item<'p>, part: Part) -> Result<(bool, &'p [u8], bool), LightError> {
    let path = item.bytes().map_err(|e| node_error(part, e))?;
    let Some(first) = path.first() else {
        return Err(invalid(part, item.offset, "empty hex-prefix path"));
    };
    let (leaf, odd) = match first >> 4 {
        0 => (false, false),
        1 => (false, true),
        2 => (true, false),
        3 => (true, true),
        _ => return Err(invalid(part, item.offset, "hex-prefix flag above 3")),
    };
    if !odd && first & 0x0f != 0 {
        return Err(invalid(
            part,
            item.offset,
            "even hex-prefix path with a nonzero pad nibble",
        ));
    }
    Ok((leaf, path, odd))
}

/// The nibbles of a hex-prefix path (after the flag nibble, and the pad one when even).
fn path_nibbles(path: &[u8], odd: bool) -> impl Iterator<Item = u8> + '_ {
    let skip = if odd { 1 } else { 2 };
    (skip..path.len() * 2).map(move |i| {
        let b = path[i / 2];
        if i & 1 == 0 {
            b >> 4
        } else {
            b & 0x0f
        }
    })
}

/// Verifies `proof` for the 32-byte trie path `path` (keccak-256 of the key) against `root`.
/// `kind` only labels errors.
pub fn verify_proof<'p, N: AsRef<[u8]>>(
    root: &Hash,
    path: &Hash,
    proof: &'p [N],
    kind: ProofKind,
) -> Result<Option<&'p [u8]>, LightError> {
    if proof.len() > MAX_PROOF_NODES {
        return Err(LightError::ProofTooLong {
            proof: kind,
            got: proof.len(),
            max: MAX_PROOF_NODES,
        });
    }
    if proof.is_empty() && *root == EMPTY_ROOT {
        return Ok(None);
    }
    let mut pos = 0usize;
    let mut used = 0usize;
    let mut next = Next::Hashed(*root);
    let result = loop {
        let (node, part) = match next {
            Next::Hashed(expected) => {
                let Some(raw) = proof.get(used).map(AsRef::as_ref) else {
                    return Err(LightError::ProofIncomplete {
                        proof: kind,
                        nodes: used,
                    });
                };
                let part = kind.node(used);
                used += 1;
                if raw.len() > MAX_NODE_LEN {
                    return Err(LightError::NodeTooLarge {
                        part,
                        size: raw.len(),
                        max: MAX_NODE_LEN,
                    });
                }
                let node = rlp::decode_exact(raw).map_err(|e| node_error(part, e))?;
                let got = keccak256(raw);
                if got != expected {
                    return Err(LightError::ProofInvalid {
                        part,
                        got,
                        expected,
                    });
                }
                (node, part)
            }
            Next::Embedded(item) => (item, kind.node(used - 1)),
        };
        if !node.is_list {
            // Only the root of an empty trie is the empty string.
            if node.payload.is_empty() && pos == 0 {
                break None;
            }
            return Err(invalid(
                part,
                node.offset,
                "node is a byte string, not a list",
            ));
        }
        let items = node
            .list_items(17)
            .map_err(|e| node_error(part, e))?
            .ok_or_else(|| invalid(part, node.offset, "node has more than 17 items"))?;
        match items.len() {
            17 => {
                let value = items[16].bytes().map_err(|e| node_error(part, e))?;
                if !value.is_empty() {
                    return Err(invalid(part, items[16].offset, "branch node with a value"));
                }
                if pos >= KEY_NIBBLES {
                    return Err(invalid(part, node.offset, "branch node past the key's end"));
                }
                let slot = &items[usize::from(nibble(path, pos))];
                pos += 1;
                match child(slot, part)? {
                    Some(n) => next = n,
                    None => break None,
                }
            }
            2 => {
                let (leaf, hp, odd) = hex_prefix(&items[0], part)?;
                let len = (hp.len() - 1) * 2 + usize::from(odd);
                let remaining = KEY_NIBBLES - pos;
                let matches = len <= remaining
                    && path_nibbles(hp, odd)
                        .enumerate()
                        .all(|(i, n)| n == nibble(path, pos + i));
                if leaf {
                    if len != remaining {
                        return Err(invalid(
                            part,
                            items[0].offset,
                            "leaf path does not end at the key's end",
                        ));
                    }
                    if !matches {
                        break None;
                    }
                    let value = items[1].bytes().map_err(|e| node_error(part, e))?;
                    if value.is_empty() {
                        return Err(invalid(part, items[1].offset, "leaf with an empty value"));
                    }
                    break Some(value);
                }
                if len == 0 || len >= remaining {
                    return Err(invalid(
                        part,
                        items[0].offset,
                        "extension path empty or reaching the key's end",
                    ));
                }
                if !matches {
                    break None;
                }
                pos += len;
                next = child(&items[1], part)?
                    .ok_or_else(|| invalid(part, items[1].offset, "extension to an empty node"))?;
            }
            _ => {
                return Err(invalid(
                    part,
                    node.offset,
                    "node has neither 2 nor 17 items",
                ));
            }
        }
    };
    if used < proof.len() {
        return Err(LightError::ProofTrailingNodes {
            proof: kind,
            used,
            given: proof.len(),
        });
    }
    Ok(result)
}

#[cfg(test)]
#[path = "trie_tests.rs"]
mod tests;

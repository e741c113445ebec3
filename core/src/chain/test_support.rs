//! Test helpers: a small Merkle-Patricia trie builder that produces roots and proofs, and a
//! block-header builder. Test-only; the verifier never builds tries.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use super::keccak256;
use super::rlp;
use crate::rollup::Hash;

enum Node {
    Leaf { path: Vec<u8>, value: Vec<u8> },
    Ext { path: Vec<u8>, child: Box<Node> },
    Branch { children: Vec<Option<Node>> },
}

fn nibbles(h: &Hash) -> Vec<u8> {
    h.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

/// Hex-prefix encoding of a nibble path.
pub(crate) fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 } + (path.len() % 2) as u8;
    let mut out = Vec::new();
    let rest = if path.len() % 2 == 1 {
        out.push((flag << 4) | path[0]);
        &path[1..]
    } else {
        out.push(flag << 4);
        path
    };
    for pair in rest.chunks(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    out
}

impl Node {
    /// `entries`: distinct nibble paths of equal length, sorted; `depth` nibbles already used.
    fn build(entries: &[(Vec<u8>, Vec<u8>)], depth: usize) -> Node {
        if entries.len() == 1 {
            return Node::Leaf {
                path: entries[0].0[depth..].to_vec(),
                value: entries[0].1.clone(),
            };
        }
        let first = &entries[0].0;
        let last = &entries[entries.len() - 1].0;
        let common = (depth..first.len())
            .take_while(|&i| first[i] == last[i])
            .count();
        if common > 0 {
            return Node::Ext {
                path: first[depth..depth + common].to_vec(),
                child: Box::new(Node::build(entries, depth + common)),
            };
        }
        let mut children = Vec::new();
        for n in 0..16u8 {
            let group: Vec<_> = entries
                .iter()
                .filter(|(p, _)| p[depth] == n)
                .cloned()
                .collect();
            children.push((!group.is_empty()).then(|| Node::build(&group, depth + 1)));
        }
        Node::Branch { children }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Node::Leaf { path, value } => {
                rlp::list_of(&[rlp::bytes(&hex_prefix(path, true)), rlp::bytes(value)])
            }
            Node::Ext { path, child } => {
                rlp::list_of(&[rlp::bytes(&hex_prefix(path, false)), child.reference()])
            }
            Node::Branch { children } => {
                let mut items: Vec<Vec<u8>> = children
                    .iter()
                    .map(|c| c.as_ref().map_or_else(|| rlp::bytes(&[]), Node::reference))
                    .collect();
                items.push(rlp::bytes(&[]));
                rlp::list_of(&items)
            }
        }
    }

    /// How a parent refers to this node: embedded when shorter than 32 bytes, else its hash.
    fn reference(&self) -> Vec<u8> {
        let enc = self.encode();
        if enc.len() < 32 {
            enc
        } else {
            rlp::bytes(&keccak256(&enc))
        }
    }
}

/// A trie over raw 32-byte paths (callers hash keys themselves for a secure trie).
pub(crate) struct TestTrie {
    root: Option<Node>,
}

impl TestTrie {
    pub(crate) fn new(entries: &[(Hash, Vec<u8>)]) -> Self {
        let mut e: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (nibbles(k), v.clone()))
            .collect();
        e.sort();
        e.dedup_by(|a, b| a.0 == b.0);
        TestTrie {
            root: (!e.is_empty()).then(|| Node::build(&e, 0)),
        }
    }

    pub(crate) fn root(&self) -> Hash {
        match &self.root {
            None => super::trie::EMPTY_ROOT,
            Some(n) => keccak256(&n.encode()),
        }
    }

    /// The proof for `path`: every hashed node from the root down to where the path ends.
    pub(crate) fn proof(&self, path: &Hash) -> Vec<Vec<u8>> {
        let Some(root) = &self.root else {
            return vec![];
        };
        let key = nibbles(path);
        let mut out = vec![root.encode()];
        let mut node = root;
        let mut pos = 0;
        loop {
            let next = match node {
                Node::Leaf { .. } => None,
                Node::Ext { path, child } => {
                    if key[pos..].starts_with(path) {
                        pos += path.len();
                        Some(&**child)
                    } else {
                        None
                    }
                }
                Node::Branch { children } => {
                    let c = children[usize::from(key[pos])].as_ref();
                    pos += 1;
                    c
                }
            };
            let Some(n) = next else { return out };
            let enc = n.encode();
            if enc.len() >= 32 {
                out.push(enc);
            }
            node = n;
        }
    }
}

/// A secure storage trie: `keccak(slot) -> rlp(trimmed value)`; zero values are left out.
pub(crate) fn storage_trie(slots: &[(Hash, [u8; 32])]) -> TestTrie {
    let entries: Vec<(Hash, Vec<u8>)> = slots
        .iter()
        .filter(|(_, v)| *v != [0u8; 32])
        .map(|(k, v)| {
            let mut enc = Vec::new();
            rlp::encode_uint(&mut enc, v);
            (keccak256(k), enc)
        })
        .collect();
    TestTrie::new(&entries)
}

/// The RLP of an account `[nonce, balance, storageRoot, codeHash]`.
pub(crate) fn account_rlp(
    nonce: u64,
    balance: u64,
    storage_root: &Hash,
    code_hash: &Hash,
) -> Vec<u8> {
    let mut n = Vec::new();
    rlp::encode_u64(&mut n, nonce);
    let mut b = Vec::new();
    rlp::encode_u64(&mut b, balance);
    rlp::list_of(&[n, b, rlp::bytes(storage_root), rlp::bytes(code_hash)])
}

/// A Prague (21-field) header with the given links and roots; other fields fixed.
pub(crate) fn header(parent: &Hash, number: u64, state_root: &Hash, timestamp: u64) -> Vec<u8> {
    header_fields(parent, number, state_root, timestamp, 21)
}

/// A header with the first `count` fields (15..=21).
pub(crate) fn header_fields(
    parent: &Hash,
    number: u64,
    state_root: &Hash,
    timestamp: u64,
    count: usize,
) -> Vec<u8> {
    let u = |v: u64| {
        let mut o = Vec::new();
        rlp::encode_u64(&mut o, v);
        o
    };
    let fields: Vec<Vec<u8>> = vec![
        rlp::bytes(parent),
        rlp::bytes(&[0x1d; 32]),
        rlp::bytes(&[0; 20]),
        rlp::bytes(state_root),
        rlp::bytes(&[0x56; 32]),
        rlp::bytes(&[0x57; 32]),
        rlp::bytes(&[0; 256]),
        u(0),
        u(number),
        u(30_000_000),
        u(21_000),
        u(timestamp),
        rlp::bytes(b"otr"),
        rlp::bytes(&[0; 32]),
        rlp::bytes(&[0; 8]),
        u(1_000_000_000),
        rlp::bytes(&[0x56; 32]),
        u(0),
        u(0),
        rlp::bytes(&[0; 32]),
        rlp::bytes(&[0xe3; 32]),
    ];
    rlp::list_of(&fields[..count])
}

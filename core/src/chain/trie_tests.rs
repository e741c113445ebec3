use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::chain::test_support::{hex_prefix, TestTrie};
use crate::error::ErrorCode;

const K: ProofKind = ProofKind::Storage(0);

fn key(i: u32) -> Hash {
    keccak256(&i.to_be_bytes())
}

fn big_trie() -> (TestTrie, Vec<(Hash, Vec<u8>)>) {
    let entries: Vec<(Hash, Vec<u8>)> = (0..300u32)
        .map(|i| (key(i), rlp::bytes(&i.to_be_bytes()[1..])))
        .collect();
    (TestTrie::new(&entries), entries)
}

#[test]
fn every_key_proves_its_value_and_absent_keys_prove_absence() {
    let (t, entries) = big_trie();
    let root = t.root();
    for (k, v) in &entries {
        let proof = t.proof(k);
        assert_eq!(verify_proof(&root, k, &proof, K).unwrap(), Some(&v[..]));
    }
    for i in 1000..1100u32 {
        let proof = t.proof(&key(i));
        assert_eq!(verify_proof(&root, &key(i), &proof, K).unwrap(), None);
    }
}

#[test]
fn empty_trie_proves_absence_with_or_without_the_empty_node() {
    let empty: [Vec<u8>; 0] = [];
    assert_eq!(verify_proof(&EMPTY_ROOT, &key(1), &empty, K).unwrap(), None);
    assert_eq!(
        verify_proof(&EMPTY_ROOT, &key(1), &[vec![0x80]], K).unwrap(),
        None
    );
    let e = verify_proof(&[1; 32], &key(1), &empty, K).unwrap_err();
    assert_eq!(e.code(), "LIGHT_PROOF_INCOMPLETE");
}

#[test]
fn embedded_nodes_are_followed() {
    // Two paths sharing 62 nibbles: a long extension, then a branch whose two leaves are small
    // enough to be embedded, and the branch itself embedded in the extension.
    let mut a = [0xaa; 32];
    let mut b = [0xaa; 32];
    a[31] = 0xa1;
    b[31] = 0xa2;
    let mut c = [0xaa; 32];
    c[31] = 0xa3;
    let t = TestTrie::new(&[(a, vec![0x01]), (b, vec![0x02])]);
    let proof = t.proof(&a);
    assert_eq!(
        proof.len(),
        1,
        "branch and leaves are embedded in the root extension"
    );
    assert_eq!(
        verify_proof(&t.root(), &a, &proof, K).unwrap(),
        Some(&[0x01][..])
    );
    assert_eq!(
        verify_proof(&t.root(), &b, &t.proof(&b), K).unwrap(),
        Some(&[0x02][..])
    );
    assert_eq!(verify_proof(&t.root(), &c, &t.proof(&c), K).unwrap(), None);
}

#[test]
fn a_proof_for_another_key_does_not_prove_this_one() {
    let (t, entries) = big_trie();
    let root = t.root();
    let other = t.proof(&entries[1].0);
    let e = verify_proof(&root, &entries[0].0, &other, K).unwrap_err();
    assert!(
        matches!(
            e.code(),
            "LIGHT_PROOF_INVALID" | "LIGHT_PROOF_TRAILING_NODES"
        ),
        "{e}"
    );
}

#[test]
fn tampering_any_node_breaks_the_proof() {
    let (t, entries) = big_trie();
    let root = t.root();
    let (k, _) = &entries[7];
    let proof = t.proof(k);
    for n in 0..proof.len() {
        let mut bad = proof.clone();
        let last = bad[n].len() - 1;
        bad[n][last] ^= 1;
        let e = verify_proof(&root, k, &bad, K).unwrap_err();
        assert_eq!(e.code(), "LIGHT_PROOF_INVALID", "node {n}: {e}");
        assert!(
            matches!(e, LightError::ProofInvalid { part: Part::StorageNode { node, .. }, .. } if node == n)
        );
    }
}

#[test]
fn truncated_missing_and_extra_nodes() {
    let (t, entries) = big_trie();
    let root = t.root();
    let (k, _) = &entries[3];
    let proof = t.proof(k);
    let mut cut = proof.clone();
    let last = cut.len() - 1;
    cut[last].pop();
    let e = verify_proof(&root, k, &cut, K).unwrap_err();
    assert_eq!(e.code(), "LIGHT_NODE_TRUNCATED");
    let short = &proof[..proof.len() - 1];
    let e = verify_proof(&root, k, short, K).unwrap_err();
    assert_eq!(
        e,
        LightError::ProofIncomplete {
            proof: K,
            nodes: proof.len() - 1
        }
    );
    let mut extra = proof.clone();
    extra.push(vec![0x80]);
    let e = verify_proof(&root, k, &extra, K).unwrap_err();
    assert_eq!(e.code(), "LIGHT_PROOF_TRAILING_NODES");
    let long = vec![vec![0x80]; MAX_PROOF_NODES + 1];
    assert_eq!(
        verify_proof(&root, k, &long, K).unwrap_err().code(),
        "LIGHT_PROOF_TOO_LONG"
    );
    let huge = vec![vec![0u8; MAX_NODE_LEN + 1]];
    assert_eq!(
        verify_proof(&root, k, &huge, K).unwrap_err().code(),
        "LIGHT_NODE_TOO_LARGE"
    );
}

/// A one-node proof whose root is the node's own hash, to test node shapes.
fn single(node: Vec<u8>, path: &Hash) -> Result<Option<Vec<u8>>, LightError> {
    let root = keccak256(&node);
    verify_proof(&root, path, core::slice::from_ref(&node), K).map(|v| v.map(<[u8]>::to_vec))
}

#[test]
fn malformed_nodes_are_node_invalid() {
    let path = [0x11; 32];
    let nib: Vec<u8> = path.iter().flat_map(|b| [b >> 4, b & 15]).collect();
    let leaf = |hp: Vec<u8>, v: &[u8]| rlp::list_of(&[rlp::bytes(&hp), rlp::bytes(v)]);
    // A good single-leaf trie.
    assert_eq!(
        single(leaf(hex_prefix(&nib, true), &[5]), &path).unwrap(),
        Some(vec![5])
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            leaf(hex_prefix(&nib[1..], true), &[5]),
            "LIGHT_NODE_INVALID",
        ), // too short
        (leaf(vec![0x40], &[5]), "LIGHT_NODE_INVALID"), // flag 4
        (leaf(vec![], &[5]), "LIGHT_NODE_INVALID"),     // empty path
        (leaf(hex_prefix(&nib, true), &[]), "LIGHT_NODE_INVALID"), // empty value
        (leaf(hex_prefix(&nib, false), &[5]), "LIGHT_NODE_INVALID"), // extension to end
        (
            rlp::list_of(&[rlp::bytes(&[1]), rlp::bytes(&[2]), rlp::bytes(&[3])]),
            "LIGHT_NODE_INVALID",
        ),
        (rlp::bytes(&[1, 2, 3]), "LIGHT_NODE_INVALID"),
        (vec![0xc2, 0x81, 0x05], "LIGHT_RLP_NON_CANONICAL"),
    ];
    for (i, (node, code)) in cases.into_iter().enumerate() {
        assert_eq!(single(node, &path).unwrap_err().code(), code, "case {i}");
    }
    // Even path with a nonzero pad nibble.
    let mut hp = hex_prefix(&nib, true);
    hp[0] |= 1;
    assert_eq!(
        single(leaf(hp, &[5]), &path).unwrap_err().code(),
        "LIGHT_NODE_INVALID"
    );
    // A branch holding a value, and one with a 31-byte reference.
    let mut items = vec![rlp::bytes(&[]); 16];
    items.push(rlp::bytes(&[1]));
    assert_eq!(
        single(rlp::list_of(&items), &path).unwrap_err().code(),
        "LIGHT_NODE_INVALID"
    );
    let mut items = vec![rlp::bytes(&[9; 31]); 16];
    items.push(rlp::bytes(&[]));
    assert_eq!(
        single(rlp::list_of(&items), &path).unwrap_err().code(),
        "LIGHT_NODE_INVALID"
    );
    // A leaf of another key is a proof of absence.
    let mut other = nib.clone();
    other[63] ^= 1;
    assert_eq!(
        single(leaf(hex_prefix(&other, true), &[5]), &path).unwrap(),
        None
    );
}

//! Merkle-Patricia proof verification. Input: a 32-byte trie path, then up to 65 proof nodes,
//! each behind a 2-byte big-endian length (a short last node takes what is left). The root is
//! keccak-256 of the first node (the empty-trie root without nodes), so the walk always gets
//! past the root check; deeper nodes must hash to their parent's reference, which mutations of
//! the seeds keep only by chance. A proven value is decoded as an account and as a storage value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::chain::proof::decode_storage_value;
use otr_core::chain::trie::{verify_proof, EMPTY_ROOT, MAX_PROOF_NODES};
use otr_core::chain::{keccak256, Account, ProofKind};

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let path: [u8; 32] = data[..32].try_into().unwrap();
    let mut rest = &data[32..];
    let mut nodes: Vec<&[u8]> = Vec::new();
    while rest.len() >= 2 && nodes.len() <= MAX_PROOF_NODES {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        nodes.push(&rest[2..2 + n]);
        rest = &rest[2 + n..];
    }
    let root = nodes.first().map_or(EMPTY_ROOT, |n| keccak256(n));
    for kind in [ProofKind::Account, ProofKind::Storage(0)] {
        if let Ok(Some(value)) = verify_proof(&root, &path, &nodes, kind) {
            let _ = Account::decode(value);
            let _ = decode_storage_value(value, 0);
        }
    }
});

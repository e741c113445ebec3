//! The EVM chain as a light client sees it (issue 9): the settlement contract's record of a
//! batch, proven against a block hash the caller trusts, with no RPC to trust.
//!
//! - [`rlp`]: strict (canonical-only) RLP decoding with byte offsets, and a small encoder.
//! - [`header`]: execution block headers up to Prague, and their keccak-256 block hash.
//! - [`trie`]: Merkle-Patricia trie proof verification (membership and absence).
//! - [`proof`]: EIP-1186 `eth_getProof` account and storage proofs.
//! - [`layout`]: Solidity storage-slot math and the settlement contract's `Batch` layout.
//! - [`staple`]: [`ChainProof`], the section a bundle staples (headers and proofs), checked
//!   against a [`ChainTrust`].
//! - [`lightclient`]: the trusted header chain and [`verify_batch_inclusion`], which returns
//!   [`VerifiedChainClaims`]; [`HeaderSource`], the interface for a consensus light client.
//!
//! Errors: [`LightError`] (stage `light_client`, codes `LIGHT_*`); budgets: header 4 KiB,
//! 8192 headers, proof node 1 KiB, 65 nodes per proof.

pub mod error;
pub mod header;
pub mod layout;
pub mod lightclient;
pub mod proof;
pub mod rlp;
pub mod staple;
pub mod trie;

#[cfg(test)]
mod test_support;

pub use error::{LightError, Part, ProofKind};
pub use header::{EthHeader, HeaderFork};
pub use layout::{mapping_slot, slot_add, BatchLayout, SlotField};
pub use lightclient::{
    verify_batch_inclusion, verify_header_chain, Checkpoint, HeaderSource, VerifiedChainClaims,
    MAX_HEADERS,
};
pub use proof::{Account, AccountProof, StorageProof};
pub use rlp::RlpError;
pub use staple::{ChainProof, ChainTrust, StapledAccount, StapledSlot};

use crate::rollup::Hash;

/// Keccak-256 (the pre-standard SHA-3 padding Ethereum uses).
pub fn keccak256(data: &[u8]) -> Hash {
    use sha3::{Digest, Keccak256};
    Keccak256::digest(data).into()
}

//! Structural verification of an answer bundle (`docs/PROTOCOL.md` §4):
//! receipt -> micro-batch header -> (rollup batch), and the node's header signature.
//!
//! The GPU evidence is not checked here: the attestation stage checks it against
//! [`VerifiedStructure::attestation_nonce`], and a top-level function combines both.

use serde::Serialize;

use super::bundle::{AnswerBundle, BundleError};
use super::merkle::verify_inclusion;
use super::serde_forms::hex_array;
use super::{Address, Hash};
use crate::error::GotExpected;

/// Where the header sits in a rollup batch, as proven by the bundle's audit path. The batch
/// root itself is the bundle's claim until [`VerifiedStructure::check_batch`] compares it with
/// the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchInclusion {
    pub batch_index: u64,
    #[serde(with = "hex_array")]
    pub batch_root: Hash,
    pub batch_size: u32,
    pub header_index: u32,
}

/// What [`verify_bundle_structure`] proved. Only this module can build one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
// A private field rather than `#[non_exhaustive]`: it seals construction to this module,
// not only to this crate.
#[allow(clippy::manual_non_exhaustive)]
pub struct VerifiedStructure {
    /// The receipt's hash: leaf data of the micro-batch tree.
    #[serde(with = "hex_array")]
    pub receipt_hash: Hash,
    /// The header hash: the node signed it, and it must be the GPU attestation nonce.
    #[serde(with = "hex_array")]
    pub header_hash: Hash,
    /// The node whose key signed the header (recovered and equal to `header.node_address`).
    #[serde(with = "hex_array")]
    pub node_address: Address,
    pub chain_id: u64,
    pub sequence: u64,
    #[serde(with = "hex_array")]
    pub receipts_root: Hash,
    pub receipt_index: u32,
    pub receipt_count: u32,
    /// Present when the bundle carried a rollup section and its audit path verified.
    pub batch: Option<BatchInclusion>,
    #[serde(skip)]
    _sealed: (),
}

impl VerifiedStructure {
    /// The 32-byte nonce the GPU attestation report must carry.
    pub fn attestation_nonce(&self) -> &Hash {
        &self.header_hash
    }

    /// Compares the proven batch with the batch index and root read from the settlement
    /// contract.
    pub fn check_batch(&self, onchain_index: u64, onchain_root: &Hash) -> Result<(), BundleError> {
        let batch = self.batch.as_ref().ok_or(BundleError::NotPosted)?;
        if batch.batch_index != onchain_index {
            return Err(BundleError::BatchIndexMismatch(GotExpected {
                got: batch.batch_index,
                expected: onchain_index,
            }));
        }
        if &batch.batch_root != onchain_root {
            return Err(BundleError::BatchRootMismatch(GotExpected {
                got: batch.batch_root,
                expected: *onchain_root,
            }));
        }
        Ok(())
    }
}

/// Checks, in this order: the header signature recovers `header.node_address`; the receipt
/// was created no later than the header; the receipt is leaf `receipt_proof.leaf_index` of the
/// micro-batch tree (`header.receipt_count` leaves, root `header.receipts_root`); and, if the
/// bundle has a rollup section, the header hash is leaf `header_index` of the batch tree.
pub fn verify_bundle_structure(bundle: &AnswerBundle) -> Result<VerifiedStructure, BundleError> {
    let header = &bundle.header;
    header.verify_signature(&bundle.header_signature)?;
    let header_hash = header.header_hash();

    if bundle.receipt.created_at > header.timestamp {
        return Err(BundleError::ReceiptAfterHeader {
            created_at: bundle.receipt.created_at,
            header_timestamp: header.timestamp,
        });
    }
    let receipt_hash = bundle.receipt.receipt_hash();
    let proof = &bundle.receipt_proof;
    verify_inclusion(
        &receipt_hash,
        proof.leaf_index as u64,
        header.receipt_count as u64,
        &proof.path,
        &header.receipts_root,
    )
    .map_err(BundleError::ReceiptInclusion)?;

    let batch = match &bundle.rollup {
        None => None,
        Some(ri) => {
            verify_inclusion(
                &header_hash,
                ri.header_index as u64,
                ri.batch_size as u64,
                &ri.path,
                &ri.batch_root,
            )
            .map_err(BundleError::BatchInclusion)?;
            Some(BatchInclusion {
                batch_index: ri.batch_index,
                batch_root: ri.batch_root,
                batch_size: ri.batch_size,
                header_index: ri.header_index,
            })
        }
    };

    Ok(VerifiedStructure {
        receipt_hash,
        header_hash,
        node_address: header.node_address,
        chain_id: header.chain_id,
        sequence: header.sequence,
        receipts_root: header.receipts_root,
        receipt_index: proof.leaf_index,
        receipt_count: header.receipt_count,
        batch,
        _sealed: (),
    })
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;

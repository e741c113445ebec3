//! The light-client check of a batch's inclusion: "batch N of the settlement contract has root
//! R, was posted at T, its window ends at E, its dispute state is S" as of a block that hangs off
//! a block hash the caller trusts.
//!
//! Trust input: a [`Checkpoint`], a block hash the caller trusts (from its own node, a
//! configuration pinned per network, or a consensus light client through [`HeaderSource`]).
//! Stapled evidence: the headers from the proven block up to the checkpoint block, oldest
//! first, and the `eth_getProof` answer for the contract at the proven block.
//!
//! The chain is checked from the trusted end down: the newest header must hash to the
//! checkpoint, and each older header must hash to its child's `parentHash` (with numbers one
//! apart), so every accepted header is an ancestor of the checkpoint. Only this direction is
//! sound: anyone can build headers *descending* from a trusted block, with any state root.
//!
//! What the claims mean: the contract's storage at the proven block. A dispute opened, or fraud
//! proven, after that block is not seen; the newer the proven block (the closer to the
//! checkpoint), the fresher the claims. `confirmations` says how far below the checkpoint it is.

use alloc::vec::Vec;
use serde::Serialize;

use super::error::LightError;
use super::header::{EthHeader, MAX_HEADER_LEN};
use super::keccak256;
use super::layout::{be_u128, BatchLayout};
use super::proof::{AccountProof, StorageProof};
use crate::error::{ErrorCode, GotExpected};
use crate::rollup::finality::{ChainStatus, DisputeState};
use crate::rollup::serde_forms::hex_array;
use crate::rollup::{Address, BundleError, Hash, RollupInclusion};

/// Longest stapled header chain (about 27 hours of 12-second blocks).
pub const MAX_HEADERS: usize = 8192;

/// A block the caller trusts, on the network `chain_id` (echoed in the claims; the header hash
/// itself binds the network).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub chain_id: u64,
    pub block_hash: Hash,
}

/// Supplies trusted checkpoints on public networks: the interface a consensus light client
/// implements (not implemented in this crate yet).
///
/// The intended implementation follows the Ethereum consensus light-client protocol, as Helios
/// does: bootstrap from a weak-subjectivity beacon block root (configured per network, like
/// [`Checkpoint`]), verify the `LightClientBootstrap`'s current sync committee against it by its
/// SSZ Merkle branch, then follow `LightClientUpdate`s: each carries an attested beacon header
/// signed by the sync committee (BLS12-381 aggregate signature, at least 2/3 of the 512
/// members, over the signing root with the fork's domain), the next sync committee and a
/// finalized header with their SSZ branches. The finalized header's `execution` payload header
/// (Capella on, with its branch) holds `block_hash` and `block_number`: that is the checkpoint.
/// Like everything in this crate the source does no I/O: the host fetches the updates and hands
/// them in; the source verifies them and keeps the committee state.
pub trait HeaderSource {
    /// Why no checkpoint could be produced (a stage error with a stable code).
    type Error: ErrorCode;

    /// The newest execution block the source has verified as finalized.
    fn trusted_checkpoint(&self) -> Result<Checkpoint, Self::Error>;
}

/// What [`verify_batch_inclusion`] proved. Only the verifier builds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifiedChainClaims {
    pub chain_id: u64,
    #[serde(with = "hex_array")]
    pub checkpoint_hash: Hash,
    pub checkpoint_number: u64,
    /// The proven block (the state the storage proofs are against).
    pub block_number: u64,
    #[serde(with = "hex_array")]
    pub block_hash: Hash,
    pub block_timestamp: u64,
    /// How many blocks the checkpoint is above the proven block.
    pub confirmations: u64,
    #[serde(with = "hex_array")]
    pub contract: Address,
    pub batch_index: u64,
    #[serde(with = "hex_array")]
    pub batch_root: Hash,
    /// Unix seconds of the `postBatch` block.
    pub posted_at: u64,
    pub posted_block: Option<u64>,
    /// The node that posted the batch, when the layout names the field.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_address")]
    pub node: Option<Address>,
    pub header_count: Option<u32>,
    pub challenge_window_secs: u64,
    /// `posted_at + challenge_window_secs`: the first second the batch can be final.
    pub window_end: u64,
    /// The dispute state at the proven block.
    pub dispute_state: DisputeState,
}

mod opt_address {
    use crate::rollup::{Address, Hex};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => s.collect_str(&Hex(a)),
            None => s.serialize_none(),
        }
    }
}

impl VerifiedChainClaims {
    /// The chain status (as a bundle carries it) that the chain proved.
    pub fn chain_status(&self) -> ChainStatus {
        ChainStatus {
            batch_posted_at: self.posted_at,
            challenge_window_secs: self.challenge_window_secs,
            dispute: self.dispute_state,
        }
    }

    /// Checks that a bundle's rollup section names the proven batch and root.
    pub fn check_inclusion(&self, rollup: &RollupInclusion) -> Result<(), BundleError> {
        if rollup.batch_index != self.batch_index {
            return Err(BundleError::BatchIndexMismatch(GotExpected {
                got: rollup.batch_index,
                expected: self.batch_index,
            }));
        }
        if rollup.batch_root != self.batch_root {
            return Err(BundleError::BatchRootMismatch(GotExpected {
                got: rollup.batch_root,
                expected: self.batch_root,
            }));
        }
        Ok(())
    }
}

/// Checks that `headers` (oldest first) run from the proven block up to the checkpoint, and
/// returns the proven (first) and the checkpoint (last) header.
pub fn verify_header_chain<H: AsRef<[u8]>>(
    checkpoint: &Hash,
    headers: &[H],
) -> Result<(EthHeader, EthHeader), LightError> {
    let n = headers.len();
    if n == 0 {
        return Err(LightError::NoHeaders);
    }
    if n > MAX_HEADERS {
        return Err(LightError::TooManyHeaders {
            got: n,
            max: MAX_HEADERS,
        });
    }
    let top_raw = headers[n - 1].as_ref();
    // The hash before any decoding: nothing of an untrusted header is read.
    if top_raw.len() <= MAX_HEADER_LEN {
        let got = keccak256(top_raw);
        if got != *checkpoint {
            return Err(LightError::HeaderNotOnChain(GotExpected {
                got,
                expected: *checkpoint,
            }));
        }
    }
    let top = EthHeader::decode(top_raw, n - 1)?;
    let mut child = top.clone();
    for i in (0..n - 1).rev() {
        let header = EthHeader::decode(headers[i].as_ref(), i)?;
        if header.number.checked_add(1) != Some(child.number) {
            return Err(LightError::HeaderNumberGap {
                index: i,
                got: child.number,
                expected: header.number.saturating_add(1),
            });
        }
        if header.hash != child.parent_hash {
            return Err(LightError::Reorged {
                number: header.number,
                got: header.hash,
                expected: child.parent_hash,
            });
        }
        child = header;
    }
    Ok((child, top))
}

/// Verifies that batch `batch_index` of the settlement contract at `contract` is posted, as of
/// the first of `headers`, on the chain that ends at `checkpoint`.
///
/// Order: layout; header chain (checkpoint hash, then links down to the proven block); account
/// proof against the proven block's state root (address, existence, stapled fields, code hash
/// when the layout pins it); storage proofs, one per word of [`BatchLayout::words`] in that
/// order, against the account's storage root; then the batch's fields.
pub fn verify_batch_inclusion<H: AsRef<[u8]>>(
    checkpoint: &Checkpoint,
    headers: &[H],
    account_proof: &AccountProof,
    storage_proofs: &[StorageProof],
    contract: &Address,
    layout: &BatchLayout,
    batch_index: u64,
) -> Result<VerifiedChainClaims, LightError> {
    layout.validate()?;
    let (proven, top) = verify_header_chain(&checkpoint.block_hash, headers)?;
    let account = account_proof.verify(&proven.state_root, contract)?;
    if let Some(expected) = layout.code_hash {
        if account.code_hash != expected {
            return Err(LightError::CodeHashMismatch(GotExpected {
                got: account.code_hash,
                expected,
            }));
        }
    }
    let slots = layout.required_slots(batch_index);
    if storage_proofs.len() != slots.len() {
        return Err(LightError::StorageProofCount(GotExpected {
            got: storage_proofs.len(),
            expected: slots.len(),
        }));
    }
    let mut words: Vec<(u8, [u8; 32])> = Vec::with_capacity(slots.len());
    for (i, ((sp, slot), w)) in storage_proofs
        .iter()
        .zip(&slots)
        .zip(layout.words())
        .enumerate()
    {
        if sp.key != *slot {
            return Err(LightError::SlotMismatch {
                index: i,
                got: sp.key,
                expected: *slot,
            });
        }
        words.push((w, sp.verify(&account.storage_root, i)?));
    }
    let read = |f: super::layout::SlotField| -> &[u8] {
        // Every field's word is in `words` (required_slots covers them all).
        words
            .iter()
            .find(|(w, _)| *w == f.word)
            .map(|(_, v)| f.read(v))
            .unwrap_or(&[])
    };
    let batch_root: Hash = read(layout.root).try_into().unwrap_or([0u8; 32]);
    if batch_root == [0u8; 32] {
        return Err(LightError::BatchNotPosted { batch_index });
    }
    let posted_at = be_u128(read(layout.posted_at)) as u64;
    let dispute_state = match be_u128(read(layout.dispute_state)) as u64 {
        0 => DisputeState::None,
        1 => DisputeState::Open,
        2 => DisputeState::ResolvedNodeWon,
        3 => DisputeState::ResolvedNodeLost {
            slashed_wei: be_u128(read(layout.slashed_wei)),
        },
        got => return Err(LightError::DisputeStateInvalid { got }),
    };
    let window_end =
        posted_at
            .checked_add(layout.challenge_window_secs)
            .ok_or(LightError::TimeOverflow {
                posted_at,
                window_secs: layout.challenge_window_secs,
            })?;
    Ok(VerifiedChainClaims {
        chain_id: checkpoint.chain_id,
        checkpoint_hash: top.hash,
        checkpoint_number: top.number,
        block_number: proven.number,
        block_hash: proven.hash,
        block_timestamp: proven.timestamp,
        confirmations: top.number - proven.number,
        contract: *contract,
        batch_index,
        batch_root,
        posted_at,
        posted_block: layout.posted_block.map(|f| be_u128(read(f)) as u64),
        node: layout.node.map(|f| read(f).try_into().unwrap_or([0u8; 20])),
        header_count: layout.header_count.map(|f| be_u128(read(f)) as u32),
        challenge_window_secs: layout.challenge_window_secs,
        window_end,
        dispute_state,
    })
}

#[cfg(test)]
#[path = "lightclient_tests.rs"]
mod tests;

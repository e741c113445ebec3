//! The light-client section a bundle may carry (`chain_proof`, issue 9 "stapling"): the
//! headers and `eth_getProof` answer that make the bundle's rollup inclusion and chain status
//! checkable offline, against a block hash the verifier trusts ([`ChainTrust`]).
//!
//! The node staples it on RPC chains (the embedded revm chain has no state trie: its bundles
//! carry none). Everything in it is untrusted: [`ChainProof::verify`] checks it with
//! [`verify_batch_inclusion`], and the verifier's trust decides what it is checked against:
//! the checkpoint (which must be one of the stapled headers: the chain is cut there), and,
//! when pinned, the settlement contract, its code hash and its challenge window. Without a
//! pinned contract the claims name the contract the proof is about, for the caller to compare.
//!
//! Binary form (after the bundle's other fields, [`super::super::rollup::codec`]): `chain_id`
//! u64, `contract` 20 bytes, `challenge_window_secs` u64, the headers (count, then bytes each),
//! the account (`nonce` u64, `balance`, `storage_hash`, `code_hash` 32 bytes each, proof nodes),
//! the storage proofs (count; `key`, `value` 32 bytes each, proof nodes). Caps: [`MAX_STAPLED_HEADERS`]
//! headers of at most 4 KiB, [`MAX_STORAGE_PROOFS`] storage proofs, [`MAX_PROOF_NODES`] nodes of at most
//! [`MAX_NODE_LEN`] bytes per proof.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::error::LightError;
use super::header::MAX_HEADER_LEN;
use super::keccak256;
use super::layout::BatchLayout;
use super::lightclient::{verify_batch_inclusion, Checkpoint, VerifiedChainClaims};
use super::proof::{AccountProof, StorageProof};
use crate::error::GotExpected;
use crate::rollup::codec::{CodecError, Reader, Writer};
use crate::rollup::serde_forms::{base64_vec, hex_array};
use crate::rollup::{Address, Hash};

/// Most headers stapled to one bundle.
pub const MAX_STAPLED_HEADERS: usize = 256;
/// Most storage proofs (the settlement layout reads 4 words).
pub const MAX_STORAGE_PROOFS: usize = 8;
/// Most nodes in one Merkle-Patricia proof (a 64-nibble path plus the leaf).
pub const MAX_PROOF_NODES: usize = 65;
/// Largest proof node (a full branch node is 532 bytes).
pub const MAX_NODE_LEN: usize = 1024;

/// The stapled account proof (the address is the section's `contract`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StapledAccount {
    pub nonce: u64,
    #[serde(with = "hex_array")]
    pub balance: [u8; 32],
    #[serde(with = "hex_array")]
    pub storage_hash: Hash,
    #[serde(with = "hex_array")]
    pub code_hash: Hash,
    #[serde(with = "base64_vec")]
    pub proof: Vec<Vec<u8>>,
}

/// One stapled storage proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StapledSlot {
    #[serde(with = "hex_array")]
    pub key: Hash,
    #[serde(with = "hex_array")]
    pub value: [u8; 32],
    #[serde(with = "base64_vec")]
    pub proof: Vec<Vec<u8>>,
}

/// The light-client evidence for a bundle's batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainProof {
    pub chain_id: u64,
    /// The settlement contract the proofs are about.
    #[serde(with = "hex_array")]
    pub contract: Address,
    /// The contract's challenge window (an immutable: trusted only when pinned or bound by the
    /// pinned code hash).
    pub challenge_window_secs: u64,
    /// Block headers (RLP), oldest first: the proven block, then its descendants.
    #[serde(with = "base64_vec")]
    pub headers: Vec<Vec<u8>>,
    /// `eth_getProof` at the proven block: the contract's account...
    pub account: StapledAccount,
    /// ...and the batch's storage words, in [`BatchLayout::words`] order.
    pub storage: Vec<StapledSlot>,
}

/// What the verifier trusts about the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainTrust {
    /// A block hash the verifier trusts (and the network it is on).
    pub checkpoint: Checkpoint,
    /// The settlement contract's address, when pinned.
    pub contract: Option<Address>,
    /// Its runtime-code hash, when pinned (binds the challenge window).
    pub code_hash: Option<Hash>,
    /// Its challenge window, when pinned.
    pub challenge_window_secs: Option<u64>,
}

impl ChainTrust {
    /// Trusts a checkpoint only.
    pub fn checkpoint(chain_id: u64, block_hash: Hash) -> Self {
        ChainTrust {
            checkpoint: Checkpoint {
                chain_id,
                block_hash,
            },
            contract: None,
            code_hash: None,
            challenge_window_secs: None,
        }
    }
}

fn write_nodes(w: &mut Writer, nodes: &[Vec<u8>]) {
    w.count(nodes.len());
    for n in nodes {
        w.bytes(n);
    }
}

fn read_nodes(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<Vec<u8>>, CodecError> {
    let n = r.count(MAX_PROOF_NODES, what)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.bytes(MAX_NODE_LEN, what)?.to_vec());
    }
    Ok(out)
}

impl ChainProof {
    pub fn write(&self, w: &mut Writer) {
        w.u64(self.chain_id)
            .array(&self.contract)
            .u64(self.challenge_window_secs)
            .count(self.headers.len());
        for h in &self.headers {
            w.bytes(h);
        }
        let a = &self.account;
        w.u64(a.nonce)
            .array(&a.balance)
            .array(&a.storage_hash)
            .array(&a.code_hash);
        write_nodes(w, &a.proof);
        w.count(self.storage.len());
        for s in &self.storage {
            w.array(&s.key).array(&s.value);
            write_nodes(w, &s.proof);
        }
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let chain_id = r.u64("chain proof: chain id")?;
        let contract = r.array("chain proof: contract")?;
        let challenge_window_secs = r.u64("chain proof: challenge window")?;
        let n = r.count(MAX_STAPLED_HEADERS, "chain proof: headers")?;
        let mut headers = Vec::with_capacity(n);
        for _ in 0..n {
            headers.push(r.bytes(MAX_HEADER_LEN, "chain proof: header")?.to_vec());
        }
        let account = StapledAccount {
            nonce: r.u64("chain proof: account nonce")?,
            balance: r.array("chain proof: account balance")?,
            storage_hash: r.array("chain proof: storage hash")?,
            code_hash: r.array("chain proof: code hash")?,
            proof: read_nodes(r, "chain proof: account proof")?,
        };
        let n = r.count(MAX_STORAGE_PROOFS, "chain proof: storage proofs")?;
        let mut storage = Vec::with_capacity(n);
        for _ in 0..n {
            storage.push(StapledSlot {
                key: r.array("chain proof: storage key")?,
                value: r.array("chain proof: storage value")?,
                proof: read_nodes(r, "chain proof: storage proof")?,
            });
        }
        Ok(ChainProof {
            chain_id,
            contract,
            challenge_window_secs,
            headers,
            account,
            storage,
        })
    }

    /// The account proof as [`verify_batch_inclusion`] takes it.
    pub fn account_proof(&self) -> AccountProof {
        let a = &self.account;
        AccountProof {
            address: self.contract,
            nonce: a.nonce,
            balance: a.balance,
            storage_hash: a.storage_hash,
            code_hash: a.code_hash,
            proof: a.proof.clone(),
        }
    }

    pub fn storage_proofs(&self) -> Vec<StorageProof> {
        self.storage
            .iter()
            .map(|s| StorageProof {
                key: s.key,
                value: s.value,
                proof: s.proof.clone(),
            })
            .collect()
    }

    /// Builds the section from the light client's input types.
    pub fn new(
        chain_id: u64,
        contract: Address,
        challenge_window_secs: u64,
        headers: Vec<Vec<u8>>,
        account: &AccountProof,
        storage: &[StorageProof],
    ) -> Self {
        ChainProof {
            chain_id,
            contract,
            challenge_window_secs,
            headers,
            account: StapledAccount {
                nonce: account.nonce,
                balance: account.balance,
                storage_hash: account.storage_hash,
                code_hash: account.code_hash,
                proof: account.proof.clone(),
            },
            storage: storage
                .iter()
                .map(|s| StapledSlot {
                    key: s.key,
                    value: s.value,
                    proof: s.proof.clone(),
                })
                .collect(),
        }
    }

    /// Verifies that batch `batch_index` is posted as the section claims, under `trust`: the
    /// network, the pinned contract facts, then [`verify_batch_inclusion`] on the headers up to
    /// the trusted checkpoint (which may be any stapled header; those above it are ignored).
    pub fn verify(
        &self,
        trust: &ChainTrust,
        batch_index: u64,
    ) -> Result<VerifiedChainClaims, LightError> {
        if self.chain_id != trust.checkpoint.chain_id {
            return Err(LightError::ChainIdMismatch(GotExpected {
                got: self.chain_id,
                expected: trust.checkpoint.chain_id,
            }));
        }
        if let Some(expected) = trust.contract {
            if self.contract != expected {
                return Err(LightError::AddressMismatch(GotExpected {
                    got: self.contract,
                    expected,
                }));
            }
        }
        if let Some(expected) = trust.challenge_window_secs {
            if self.challenge_window_secs != expected {
                return Err(LightError::WindowMismatch(GotExpected {
                    got: self.challenge_window_secs,
                    expected,
                }));
            }
        }
        // Cut the chain at the trusted block; without it, the whole chain is checked and the
        // top header's hash is reported against the checkpoint.
        let cut = self
            .headers
            .iter()
            .position(|h| h.len() <= MAX_HEADER_LEN && keccak256(h) == trust.checkpoint.block_hash)
            .map_or(self.headers.len(), |i| i + 1);
        let layout = BatchLayout::settlement(self.challenge_window_secs, trust.code_hash);
        verify_batch_inclusion(
            &trust.checkpoint,
            &self.headers[..cut],
            &self.account_proof(),
            &self.storage_proofs(),
            &self.contract,
            &layout,
            batch_index,
        )
    }
}

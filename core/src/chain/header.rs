//! Ethereum execution-layer block headers: strict RLP decoding and the block hash
//! (keccak-256 of the header's RLP encoding).
//!
//! The header is an RLP list whose length depends on the fork that produced it; each fork
//! appends fields, so exactly these lengths are valid:
//!
//! | fields | fork | appended |
//! |---|---|---|
//! | 15 | Frontier .. Berlin | parentHash, ommersHash, beneficiary, stateRoot, transactionsRoot, receiptsRoot, logsBloom, difficulty, number, gasLimit, gasUsed, timestamp, extraData, mixHash (prevRandao), nonce |
//! | 16 | London (EIP-1559) | baseFeePerGas |
//! | 17 | Shanghai (EIP-4895) | withdrawalsRoot |
//! | 20 | Cancun (EIP-4844, EIP-4788) | blobGasUsed, excessBlobGas, parentBeaconBlockRoot |
//! | 21 | Prague (EIP-7685) | requestsHash |
//!
//! Fixed-size fields must have exactly their size; integers must be canonical (no leading
//! zero byte) and fit their type (`u64` for number, gas and timestamp, 256 bits for difficulty
//! and base fee). `extraData` is not limited beyond the header cap (PoA chains use more than
//! the 32 bytes of mainnet's rule); the block hash commits to it either way.

use super::error::{LightError, Part};
use super::keccak256;
use super::rlp::{self, Item, RlpError};
use crate::rollup::{Address, Hash};

/// Largest header accepted (mainnet headers are about 600 bytes).
pub const MAX_HEADER_LEN: usize = 4096;

/// The fork whose field list a header has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderFork {
    /// 15 fields: before London.
    PreLondon,
    London,
    Shanghai,
    Cancun,
    Prague,
}

impl HeaderFork {
    fn from_field_count(n: usize) -> Option<Self> {
        Some(match n {
            15 => HeaderFork::PreLondon,
            16 => HeaderFork::London,
            17 => HeaderFork::Shanghai,
            20 => HeaderFork::Cancun,
            21 => HeaderFork::Prague,
            _ => return None,
        })
    }
}

/// A decoded block header. Built only by [`EthHeader::decode`], so `hash` is always the
/// keccak-256 of the bytes the fields were read from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EthHeader {
    /// keccak-256 of the header's RLP: the block hash.
    pub hash: Hash,
    pub fork: HeaderFork,
    pub parent_hash: Hash,
    pub ommers_hash: Hash,
    pub beneficiary: Address,
    pub state_root: Hash,
    pub transactions_root: Hash,
    pub receipts_root: Hash,
    /// 256-bit big-endian.
    pub difficulty: [u8; 32],
    pub number: u64,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub timestamp: u64,
    pub mix_hash: Hash,
    pub nonce: [u8; 8],
    /// London on; 256-bit big-endian.
    pub base_fee_per_gas: Option<[u8; 32]>,
    /// Shanghai on.
    pub withdrawals_root: Option<Hash>,
    /// Cancun on.
    pub blob_gas_used: Option<u64>,
    pub excess_blob_gas: Option<u64>,
    pub parent_beacon_block_root: Option<Hash>,
    /// Prague on.
    pub requests_hash: Option<Hash>,
}

struct Fields<'a> {
    items: &'a [Item<'a>],
    index: usize,
}

impl Fields<'_> {
    fn rlp(&self, error: RlpError) -> LightError {
        LightError::Rlp {
            part: Part::Header(self.index),
            error,
        }
    }

    fn fixed<const N: usize>(&self, i: usize, field: &'static str) -> Result<[u8; N], LightError> {
        let item = &self.items[i];
        let b = item.bytes().map_err(|e| self.rlp(e))?;
        b.try_into().map_err(|_| LightError::HeaderField {
            index: self.index,
            field,
            offset: item.offset,
            got: b.len(),
            expected: N,
        })
    }

    fn u64(&self, i: usize) -> Result<u64, LightError> {
        self.items[i].as_u64().map_err(|e| self.rlp(e))
    }

    fn word(&self, i: usize) -> Result<[u8; 32], LightError> {
        self.items[i].as_word().map_err(|e| self.rlp(e))
    }

    fn opt_hash(&self, i: usize, field: &'static str) -> Result<Option<Hash>, LightError> {
        (i < self.items.len())
            .then(|| self.fixed::<32>(i, field))
            .transpose()
    }

    fn opt_u64(&self, i: usize) -> Result<Option<u64>, LightError> {
        (i < self.items.len()).then(|| self.u64(i)).transpose()
    }
}

impl EthHeader {
    /// Decodes header `index` of a stapled chain (the index only labels errors).
    pub fn decode(raw: &[u8], index: usize) -> Result<EthHeader, LightError> {
        if raw.len() > MAX_HEADER_LEN {
            return Err(LightError::HeaderTooLarge {
                index,
                size: raw.len(),
                max: MAX_HEADER_LEN,
            });
        }
        let rlp_err = |error| LightError::Rlp {
            part: Part::Header(index),
            error,
        };
        let top = rlp::decode_exact(raw).map_err(rlp_err)?;
        // At most one item per byte, so collecting is bounded by MAX_HEADER_LEN.
        let items = top
            .list_items(MAX_HEADER_LEN)
            .map_err(rlp_err)?
            .unwrap_or_default();
        let fork =
            HeaderFork::from_field_count(items.len()).ok_or(LightError::HeaderFieldCount {
                index,
                got: items.len(),
            })?;
        let f = Fields {
            items: &items,
            index,
        };
        // Fields that are neither fixed-size nor integers must still be byte strings.
        f.fixed::<256>(6, "logsBloom")?;
        items[12].bytes().map_err(rlp_err)?;
        Ok(EthHeader {
            hash: keccak256(raw),
            fork,
            parent_hash: f.fixed(0, "parentHash")?,
            ommers_hash: f.fixed(1, "ommersHash")?,
            beneficiary: f.fixed(2, "beneficiary")?,
            state_root: f.fixed(3, "stateRoot")?,
            transactions_root: f.fixed(4, "transactionsRoot")?,
            receipts_root: f.fixed(5, "receiptsRoot")?,
            difficulty: f.word(7)?,
            number: f.u64(8)?,
            gas_limit: f.u64(9)?,
            gas_used: f.u64(10)?,
            timestamp: f.u64(11)?,
            mix_hash: f.fixed(13, "mixHash")?,
            nonce: f.fixed(14, "nonce")?,
            base_fee_per_gas: (items.len() > 15).then(|| f.word(15)).transpose()?,
            withdrawals_root: f.opt_hash(16, "withdrawalsRoot")?,
            blob_gas_used: f.opt_u64(17)?,
            excess_blob_gas: f.opt_u64(18)?,
            parent_beacon_block_root: f.opt_hash(19, "parentBeaconBlockRoot")?,
            requests_hash: f.opt_hash(20, "requestsHash")?,
        })
    }
}

/// The block hash of raw header bytes (no decoding).
pub fn block_hash(raw: &[u8]) -> Hash {
    keccak256(raw)
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;

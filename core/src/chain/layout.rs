//! Where the settlement contract keeps a batch: Solidity storage-slot math and the field layout
//! of the `Batch` struct.
//!
//! Solidity (docs: "Layout of State Variables in Storage") places a value type of
//! `mapping(K => V) m`, declared at slot `p`, for key `k` at
//! `keccak256(pad32(k) || pad32(p))`, where `pad32` left-pads a value type to 32 bytes
//! (`uint256` big-endian). A struct value starts at that slot; its members follow in
//! declaration order, packed: a member that fits in what is left of the current 32-byte word
//! shares it, placed at the lowest-order bytes still free, otherwise it starts the next word.
//! So a member is named by (word offset from the struct's slot, byte offset from the low-order
//! end of that word, size), exactly the `slot`/`offset`/`numberOfBytes` of `solc
//! --storage-layout`. Word `n` of the struct is at slot `base + n` (mod 2^256).
//!
//! [`BatchLayout::settlement`] is `contracts/src/Settlement.sol` (`batches` at slot 2, after
//! `owner` (slot 0) and `batchCount` (slot 1)):
//!
//! | member | word | byte offset | size |
//! |---|---|---|---|
//! | root | 0 | 0 | 32 |
//! | node | 1 | 0 | 20 |
//! | postedAt | 1 | 20 | 8 |
//! | headerCount | 1 | 28 | 4 |
//! | postedBlock | 2 | 0 | 8 |
//! | disputeState | 2 | 24 | 1 |
//! | slashedWei | 3 | 0 | 16 |
//!
//! The challenge window is an `immutable` of that contract: it lives in the runtime code, not in
//! storage, so the layout carries it as a trusted parameter, and [`BatchLayout::code_hash`], when
//! set, binds it: the account proof's `codeHash` must equal it.

use alloc::vec::Vec;

use super::error::LightError;
use super::keccak256;
use crate::rollup::Hash;

/// A struct member in storage: `word` words after the struct's slot, `offset` bytes from the
/// low-order end of that word, `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotField {
    pub word: u8,
    pub offset: u8,
    pub size: u8,
}

impl SlotField {
    pub const fn new(word: u8, offset: u8, size: u8) -> Self {
        SlotField { word, offset, size }
    }

    /// The member's big-endian bytes within its word (empty for a field that does not fit
    /// in a word, which [`BatchLayout::validate`] rejects).
    pub fn read<'w>(&self, word: &'w [u8; 32]) -> &'w [u8] {
        32usize
            .checked_sub(usize::from(self.offset))
            .and_then(|end| Some(end.checked_sub(usize::from(self.size))?..end))
            .and_then(|r| word.get(r))
            .unwrap_or(&[])
    }

    fn check(&self, field: &'static str, max_size: u8) -> Result<(), LightError> {
        let what = if self.size == 0 || self.size > max_size {
            "size is 0 or too large for the member's type"
        } else if u16::from(self.offset) + u16::from(self.size) > 32 {
            "offset + size exceed the 32-byte word"
        } else {
            return Ok(());
        };
        Err(LightError::LayoutInvalid { field, what })
    }
}

/// The storage layout of the settlement contract's batches, and the immutables it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLayout {
    /// The declaration slot of `mapping(uint256 => Batch)`, as a 32-byte big-endian word.
    pub mapping_slot: Hash,
    pub root: SlotField,
    pub posted_at: SlotField,
    pub dispute_state: SlotField,
    /// Read when the dispute state is "node lost".
    pub slashed_wei: SlotField,
    pub node: Option<SlotField>,
    pub header_count: Option<SlotField>,
    pub posted_block: Option<SlotField>,
    /// The contract's challenge window in seconds (an immutable, trusted input).
    pub challenge_window_secs: u64,
    /// The contract's expected runtime-code hash; checked when set.
    pub code_hash: Option<Hash>,
}

impl BatchLayout {
    /// The layout of `contracts/src/Settlement.sol` (see the module docs).
    pub const fn settlement(challenge_window_secs: u64, code_hash: Option<Hash>) -> Self {
        BatchLayout {
            mapping_slot: word_of(2),
            root: SlotField::new(0, 0, 32),
            node: Some(SlotField::new(1, 0, 20)),
            posted_at: SlotField::new(1, 20, 8),
            header_count: Some(SlotField::new(1, 28, 4)),
            posted_block: Some(SlotField::new(2, 0, 8)),
            dispute_state: SlotField::new(2, 24, 1),
            slashed_wei: SlotField::new(3, 0, 16),
            challenge_window_secs,
            code_hash,
        }
    }

    /// Each field, named, with the largest size its type allows.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&'static str, SlotField, u8)> {
        [
            Some(("root", self.root, 32)),
            Some(("postedAt", self.posted_at, 8)),
            Some(("disputeState", self.dispute_state, 8)),
            Some(("slashedWei", self.slashed_wei, 16)),
            self.node.map(|f| ("node", f, 20)),
            self.header_count.map(|f| ("headerCount", f, 4)),
            self.posted_block.map(|f| ("postedBlock", f, 8)),
        ]
        .into_iter()
        .flatten()
    }

    pub fn validate(&self) -> Result<(), LightError> {
        for (name, field, max) in self.fields() {
            field.check(name, max)?;
        }
        if self.root.size != 32 {
            return Err(LightError::LayoutInvalid {
                field: "root",
                what: "the root must be a whole 32-byte word",
            });
        }
        Ok(())
    }

    /// The slot of `batches[batch_index]`.
    pub fn batch_slot(&self, batch_index: u64) -> Hash {
        mapping_slot(&word_of(batch_index), &self.mapping_slot)
    }

    /// The word offsets the layout reads, ascending and distinct: the order of the storage
    /// proofs [`super::verify_batch_inclusion`] expects.
    pub fn words(&self) -> Vec<u8> {
        let mut w: Vec<u8> = self.fields().map(|(_, f, _)| f.word).collect();
        w.sort_unstable();
        w.dedup();
        w
    }

    /// The slots of [`Self::words`] for `batch_index`.
    pub fn required_slots(&self, batch_index: u64) -> Vec<Hash> {
        let base = self.batch_slot(batch_index);
        self.words()
            .into_iter()
            .map(|w| slot_add(&base, u64::from(w)))
            .collect()
    }
}

/// A `u64` as a 32-byte big-endian word (`pad32`).
pub const fn word_of(v: u64) -> Hash {
    let b = v.to_be_bytes();
    let mut w = [0u8; 32];
    let mut i = 0;
    while i < 8 {
        w[24 + i] = b[i];
        i += 1;
    }
    w
}

/// `keccak256(pad32(key) || pad32(base))`: the slot of `m[key]` for a mapping at slot `base`.
pub fn mapping_slot(key: &Hash, base: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key);
    buf[32..].copy_from_slice(base);
    keccak256(&buf)
}

/// `slot + n` modulo 2^256, big-endian.
pub fn slot_add(slot: &Hash, n: u64) -> Hash {
    let mut out = *slot;
    let mut carry = u128::from(n);
    for b in out.iter_mut().rev() {
        if carry == 0 {
            break;
        }
        let s = u128::from(*b) + (carry & 0xff);
        *b = s as u8;
        carry = (carry >> 8) + (s >> 8);
    }
    out
}

/// A big-endian field of at most 16 bytes as a `u128`.
pub(crate) fn be_u128(b: &[u8]) -> u128 {
    b.iter().fold(0u128, |acc, x| (acc << 8) | u128::from(*x))
}

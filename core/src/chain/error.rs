//! The light-client stage's errors ([`Stage::LightClient`]): every code starts with `LIGHT_`.

use core::fmt;

use super::rlp::RlpError;
use crate::error::{ErrorCode, GotExpected, Stage};
use crate::rollup::{Address, Hash, Hex};

/// Which stapled item an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Header `i` of the stapled chain (0: the proven block).
    Header(usize),
    /// Node `i` of the account proof.
    AccountNode(usize),
    /// The account leaf's value `[nonce, balance, storageRoot, codeHash]`.
    AccountValue,
    /// Node `node` of storage proof `proof`.
    StorageNode { proof: usize, node: usize },
    /// The leaf value of storage proof `i`.
    StorageValue(usize),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Header(i) => write!(f, "header {i}"),
            Part::AccountNode(i) => write!(f, "account proof node {i}"),
            Part::AccountValue => f.write_str("account value"),
            Part::StorageNode { proof, node } => write!(f, "storage proof {proof} node {node}"),
            Part::StorageValue(i) => write!(f, "storage proof {i} value"),
        }
    }
}

/// Which Merkle-Patricia proof an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofKind {
    Account,
    /// Storage proof `i` (in the layout's slot order).
    Storage(usize),
}

impl ProofKind {
    /// The [`Part`] naming node `i` of this proof.
    pub fn node(self, i: usize) -> Part {
        match self {
            ProofKind::Account => Part::AccountNode(i),
            ProofKind::Storage(proof) => Part::StorageNode { proof, node: i },
        }
    }
}

impl fmt::Display for ProofKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofKind::Account => f.write_str("account proof"),
            ProofKind::Storage(i) => write!(f, "storage proof {i}"),
        }
    }
}

/// Why a light-client inclusion proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LightError {
    /// Malformed RLP in a header, proof node or value (codes `LIGHT_RLP_*`).
    Rlp {
        part: Part,
        error: RlpError,
    },
    /// A proof node ends early (its RLP announces more bytes than it has).
    NodeTruncated {
        part: Part,
        offset: usize,
        needed: u64,
        available: usize,
    },
    NodeTooLarge {
        part: Part,
        size: usize,
        max: usize,
    },
    /// A node has the wrong shape (item count, hex-prefix flag, reference size, path length).
    NodeInvalid {
        part: Part,
        offset: usize,
        what: &'static str,
    },
    /// A node does not hash to the reference its parent (or the root) holds.
    ProofInvalid {
        part: Part,
        got: Hash,
        expected: Hash,
    },
    /// The proof ends before the key's path does.
    ProofIncomplete {
        proof: ProofKind,
        nodes: usize,
    },
    /// Nodes remain after the path ended.
    ProofTrailingNodes {
        proof: ProofKind,
        used: usize,
        given: usize,
    },
    ProofTooLong {
        proof: ProofKind,
        got: usize,
        max: usize,
    },
    HeaderTooLarge {
        index: usize,
        size: usize,
        max: usize,
    },
    /// A header's field count is not one a fork defines (15, 16, 17, 20 or 21).
    HeaderFieldCount {
        index: usize,
        got: usize,
    },
    /// A fixed-size header field has the wrong length.
    HeaderField {
        index: usize,
        field: &'static str,
        offset: usize,
        got: usize,
        expected: usize,
    },
    NoHeaders,
    TooManyHeaders {
        got: usize,
        max: usize,
    },
    /// The newest stapled header is not the trusted checkpoint.
    HeaderNotOnChain(GotExpected<Hash>),
    /// Header `index + 1` does not number one past header `index`.
    HeaderNumberGap {
        index: usize,
        got: u64,
        expected: u64,
    },
    /// At height `number` the trusted chain holds another block: the stapled block there (and
    /// so the proven block, at or below it) is not on the trusted chain (reorged away or forged).
    Reorged {
        number: u64,
        got: Hash,
        expected: Hash,
    },
    /// The account proof is for another address (or the stapled contract is not the pinned one).
    AddressMismatch(GotExpected<Address>),
    /// The stapled section is for another network than the trusted checkpoint's.
    ChainIdMismatch(GotExpected<u64>),
    /// The stapled challenge window is not the pinned one.
    WindowMismatch(GotExpected<u64>),
    /// The state proves that no account exists at the contract's address.
    AccountAbsent {
        address: Address,
    },
    AccountInvalid {
        offset: usize,
        what: &'static str,
    },
    /// A stapled account field differs from the proven one.
    AccountMismatch {
        field: &'static str,
        got: [u8; 32],
        expected: [u8; 32],
    },
    /// The contract's code (and so its immutables, e.g. the challenge window) is not the expected.
    CodeHashMismatch(GotExpected<Hash>),
    StorageProofCount(GotExpected<usize>),
    /// Storage proof `index` is for another slot than the layout requires there.
    SlotMismatch {
        index: usize,
        got: Hash,
        expected: Hash,
    },
    /// The stapled value of `slot` differs from the proven one (`got`: stapled).
    ValueMismatch {
        slot: Hash,
        got: [u8; 32],
        expected: [u8; 32],
    },
    LayoutInvalid {
        field: &'static str,
        what: &'static str,
    },
    /// The batch's root slot is zero at the proven block.
    BatchNotPosted {
        batch_index: u64,
    },
    DisputeStateInvalid {
        got: u64,
    },
    TimeOverflow {
        posted_at: u64,
        window_secs: u64,
    },
}

impl ErrorCode for LightError {
    fn code(&self) -> &'static str {
        match self {
            LightError::Rlp { error, .. } => error.code(),
            LightError::NodeTruncated { .. } => "LIGHT_NODE_TRUNCATED",
            LightError::NodeTooLarge { .. } => "LIGHT_NODE_TOO_LARGE",
            LightError::NodeInvalid { .. } => "LIGHT_NODE_INVALID",
            LightError::ProofInvalid { .. } => "LIGHT_PROOF_INVALID",
            LightError::ProofIncomplete { .. } => "LIGHT_PROOF_INCOMPLETE",
            LightError::ProofTrailingNodes { .. } => "LIGHT_PROOF_TRAILING_NODES",
            LightError::ProofTooLong { .. } => "LIGHT_PROOF_TOO_LONG",
            LightError::HeaderTooLarge { .. } => "LIGHT_HEADER_TOO_LARGE",
            LightError::HeaderFieldCount { .. } => "LIGHT_HEADER_FIELD_COUNT",
            LightError::HeaderField { .. } => "LIGHT_HEADER_FIELD_INVALID",
            LightError::NoHeaders => "LIGHT_NO_HEADERS",
            LightError::TooManyHeaders { .. } => "LIGHT_TOO_MANY_HEADERS",
            LightError::HeaderNotOnChain(_) => "LIGHT_HEADER_NOT_ON_CHAIN",
            LightError::HeaderNumberGap { .. } => "LIGHT_HEADER_NUMBER_GAP",
            LightError::Reorged { .. } => "LIGHT_REORGED",
            LightError::AddressMismatch(_) => "LIGHT_ADDRESS_MISMATCH",
            LightError::ChainIdMismatch(_) => "LIGHT_CHAIN_ID_MISMATCH",
            LightError::WindowMismatch(_) => "LIGHT_WINDOW_MISMATCH",
            LightError::AccountAbsent { .. } => "LIGHT_ACCOUNT_ABSENT",
            LightError::AccountInvalid { .. } => "LIGHT_ACCOUNT_INVALID",
            LightError::AccountMismatch { .. } => "LIGHT_ACCOUNT_MISMATCH",
            LightError::CodeHashMismatch(_) => "LIGHT_CODE_HASH_MISMATCH",
            LightError::StorageProofCount(_) => "LIGHT_STORAGE_PROOF_COUNT",
            LightError::SlotMismatch { .. } => "LIGHT_SLOT_MISMATCH",
            LightError::ValueMismatch { .. } => "LIGHT_VALUE_MISMATCH",
            LightError::LayoutInvalid { .. } => "LIGHT_LAYOUT_INVALID",
            LightError::BatchNotPosted { .. } => "LIGHT_BATCH_NOT_POSTED",
            LightError::DisputeStateInvalid { .. } => "LIGHT_DISPUTE_STATE_INVALID",
            LightError::TimeOverflow { .. } => "LIGHT_TIME_OVERFLOW",
        }
    }

    fn stage(&self) -> Stage {
        Stage::LightClient
    }
}

impl fmt::Display for LightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LightError::Rlp { part, error } => write!(f, "{part}: {error}"),
            LightError::NodeTruncated { part, offset, needed, available } => write!(
                f,
                "{part} is truncated: at byte {offset} it announces {needed} bytes, {available} follow"
            ),
            LightError::NodeTooLarge { part, size, max } => {
                write!(f, "{part} is {size} bytes, more than the limit of {max}")
            }
            LightError::NodeInvalid { part, offset, what } => {
                write!(f, "{part} is not a valid trie node at byte {offset}: {what}")
            }
            LightError::ProofInvalid { part, got, expected } => write!(
                f,
                "{part} hashes to {}, but its parent references {}",
                Hex(got),
                Hex(expected)
            ),
            LightError::ProofIncomplete { proof, nodes } => {
                write!(f, "{proof} ends after {nodes} nodes, before the key's path does")
            }
            LightError::ProofTrailingNodes { proof, used, given } => {
                write!(f, "{proof} has {given} nodes, but its path ends after {used}")
            }
            LightError::ProofTooLong { proof, got, max } => {
                write!(f, "{proof} has {got} nodes, more than the limit of {max}")
            }
            LightError::HeaderTooLarge { index, size, max } => {
                write!(f, "header {index} is {size} bytes, more than the limit of {max}")
            }
            LightError::HeaderFieldCount { index, got } => write!(
                f,
                "header {index} has {got} fields; a block header has 15, 16, 17, 20 or 21"
            ),
            LightError::HeaderField { index, field, offset, got, expected } => write!(
                f,
                "header {index} field {field} at byte {offset} is {got} bytes, expected {expected}"
            ),
            LightError::NoHeaders => f.write_str("no block headers were given"),
            LightError::TooManyHeaders { got, max } => {
                write!(f, "{got} headers, more than the limit of {max}")
            }
            LightError::HeaderNotOnChain(ge) => write!(
                f,
                "the header chain does not end at the trusted checkpoint: its newest header is {}, the checkpoint {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            LightError::HeaderNumberGap { index, got, expected } => write!(
                f,
                "header {} has number {got}, expected {expected} (one past header {index})",
                index + 1
            ),
            LightError::Reorged { number, got, expected } => write!(
                f,
                "block {number} of the stapled chain is {}, but the trusted chain's block {number} is {}: the proven block was reorged away (or forged)",
                Hex(got),
                Hex(expected)
            ),
            LightError::AddressMismatch(ge) => write!(
                f,
                "the account proof is for {}, not the settlement contract {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            LightError::ChainIdMismatch(ge) => {
                write!(f, "the chain proof is for another network (chain id): {ge}")
            }
            LightError::WindowMismatch(ge) => write!(
                f,
                "the chain proof's challenge window is not the trusted one (seconds): {ge}"
            ),
            LightError::AccountAbsent { address } => {
                write!(f, "no account exists at {} in the proven state", Hex(address))
            }
            LightError::AccountInvalid { offset, what } => {
                write!(f, "the proven account value is invalid at byte {offset}: {what}")
            }
            LightError::AccountMismatch { field, got, expected } => write!(
                f,
                "the stapled account {field} {} differs from the proven {}",
                Hex(got),
                Hex(expected)
            ),
            LightError::CodeHashMismatch(ge) => write!(
                f,
                "the contract's code hash is {}, expected {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            LightError::StorageProofCount(ge) => {
                write!(f, "wrong number of storage proofs: {ge}")
            }
            LightError::SlotMismatch { index, got, expected } => write!(
                f,
                "storage proof {index} is for slot {}, the layout requires slot {}",
                Hex(got),
                Hex(expected)
            ),
            LightError::ValueMismatch { slot, got, expected } => write!(
                f,
                "slot {}: the stapled value {} differs from the proven {}",
                Hex(slot),
                Hex(got),
                Hex(expected)
            ),
            LightError::LayoutInvalid { field, what } => {
                write!(f, "storage layout field {field}: {what}")
            }
            LightError::BatchNotPosted { batch_index } => write!(
                f,
                "batch {batch_index} has no root in the contract at the proven block: not posted"
            ),
            LightError::DisputeStateInvalid { got } => {
                write!(f, "the contract's dispute state {got} is not one of 0..=3")
            }
            LightError::TimeOverflow { posted_at, window_secs } => write!(
                f,
                "the challenge window end ({posted_at} + {window_secs} s) is out of range"
            ),
        }
    }
}

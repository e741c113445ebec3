//! The signed micro-batch header (DESIGN principle 4, `docs/PROTOCOL.md` §2.2 and §4).
//!
//! Its [`MicroBatchHeader::header_hash`] is the 32-byte nonce of the GPU attestation report, so
//! the GPU signs over the receipts root. The node's secp256k1 staking key signs the same hash:
//! a 65-byte `r || s || v` signature, `v` = 27 + y-parity, low `s` only, verifiable on-chain with
//! `ecrecover(header_hash, v, r, s)`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::codec::{Reader, TrailingBytes, Truncated, Writer};
use super::serde_forms::hex_array;
use super::{tagged_hash, Address, Hash, Hex};
use crate::error::{ErrorCode, GotExpected, Stage};

/// The only header version this code reads and writes.
pub const HEADER_VERSION: u8 = 1;
/// Length of the canonical header encoding, in bytes.
pub const HEADER_LEN: usize = 113;
/// Domain tag of [`MicroBatchHeader::header_hash`].
pub const HEADER_TAG: &[u8] = b"OTR/microbatch-header/v1\0";
/// `prev_header_hash` of a node's first header (sequence 0).
pub const GENESIS_PREV_HASH: Hash = [0u8; 32];

/// The header of one micro-batch of receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroBatchHeader {
    /// [`HEADER_VERSION`].
    pub version: u8,
    /// EVM chain id of the settlement chain (replay protection across chains).
    pub chain_id: u64,
    /// Ethereum address of the node's secp256k1 staking key.
    #[serde(with = "hex_array")]
    pub node_address: Address,
    /// 0 for the node's first header, then +1 per header.
    pub sequence: u64,
    /// `header_hash` of the previous header, or [`GENESIS_PREV_HASH`].
    #[serde(with = "hex_array")]
    pub prev_header_hash: Hash,
    /// RFC 6962 root over the receipt hashes, in batch order.
    #[serde(with = "hex_array")]
    pub receipts_root: Hash,
    /// Number of receipts (leaves) under `receipts_root`.
    pub receipt_count: u32,
    /// Unix seconds (UTC) when the micro-batch was closed.
    pub timestamp: u64,
}

/// A 65-byte recoverable secp256k1 signature `r || s || v` over the header hash.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSignature(#[serde(with = "hex_array")] pub [u8; 65]);

impl fmt::Debug for HeaderSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeaderSignature({})", Hex(&self.0))
    }
}

/// Why a header could not be read, signed, verified or linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The input ends inside the header (every field has a fixed width, so the canonical
    /// encoding can fail no other way).
    Truncated(Truncated),
    /// Bytes follow a header decoded alone ([`MicroBatchHeader::decode`]).
    TrailingBytes(TrailingBytes),
    UnsupportedVersion {
        offset: usize,
        got: u8,
        expected: u8,
    },
    /// `r` or `s` is zero or not below the curve order.
    SignatureMalformed,
    /// `v` is not 27 or 28.
    SignatureRecoveryId {
        got: u8,
    },
    /// `s` is in the upper half of the curve order (malleable form).
    SignatureHighS,
    /// No public key verifies this signature over the header hash.
    SignatureInvalid,
    /// The signature is valid but by another key.
    SignerMismatch(GotExpected<Address>),
    /// The signing key could not produce an Ethereum-compatible signature.
    SigningFailed,
    ChainIdMismatch(GotExpected<u64>),
    NodeMismatch(GotExpected<Address>),
    SequenceGap(GotExpected<u64>),
    /// The previous header has sequence `u64::MAX`.
    SequenceOverflow,
    PrevHashMismatch(GotExpected<Hash>),
    TimestampRegression {
        prev: u64,
        next: u64,
    },
    Json(String),
}

impl From<Truncated> for HeaderError {
    fn from(e: Truncated) -> Self {
        HeaderError::Truncated(e)
    }
}

impl ErrorCode for HeaderError {
    fn code(&self) -> &'static str {
        match self {
            HeaderError::Truncated(_) => "HEADER_TRUNCATED",
            HeaderError::TrailingBytes(_) => "HEADER_TRAILING_BYTES",
            HeaderError::UnsupportedVersion { .. } => "HEADER_UNSUPPORTED_VERSION",
            HeaderError::SignatureMalformed => "HEADER_SIGNATURE_MALFORMED",
            HeaderError::SignatureRecoveryId { .. } => "HEADER_SIGNATURE_RECOVERY_ID",
            HeaderError::SignatureHighS => "HEADER_SIGNATURE_HIGH_S",
            HeaderError::SignatureInvalid => "HEADER_SIGNATURE_INVALID",
            HeaderError::SignerMismatch(_) => "HEADER_SIGNER_MISMATCH",
            HeaderError::SigningFailed => "HEADER_SIGNING_FAILED",
            HeaderError::ChainIdMismatch(_) => "HEADER_CHAIN_ID_MISMATCH",
            HeaderError::NodeMismatch(_) => "HEADER_NODE_MISMATCH",
            HeaderError::SequenceGap(_) => "HEADER_SEQUENCE_GAP",
            HeaderError::SequenceOverflow => "HEADER_SEQUENCE_OVERFLOW",
            HeaderError::PrevHashMismatch(_) => "HEADER_PREV_HASH_MISMATCH",
            HeaderError::TimestampRegression { .. } => "HEADER_TIMESTAMP_REGRESSION",
            HeaderError::Json(_) => "HEADER_JSON_INVALID",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Receipt
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated(e) => write!(f, "micro-batch header: {e}"),
            HeaderError::TrailingBytes(e) => write!(f, "micro-batch header: {e}"),
            HeaderError::UnsupportedVersion { offset, got, expected } => write!(
                f,
                "micro-batch header version {got} at byte {offset} is not supported (this verifier reads version {expected})"
            ),
            HeaderError::SignatureMalformed => {
                f.write_str("header signature: r or s is zero or not below the secp256k1 order")
            }
            HeaderError::SignatureRecoveryId { got } => {
                write!(f, "header signature: v is {got}, must be 27 or 28")
            }
            HeaderError::SignatureHighS => f.write_str(
                "header signature: s is in the upper half of the order (only low-s signatures are accepted)",
            ),
            HeaderError::SignatureInvalid => {
                f.write_str("header signature does not verify over the header hash")
            }
            HeaderError::SignerMismatch(ge) => write!(
                f,
                "header was signed by {}, not by the node address {} it names",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            HeaderError::SigningFailed => f.write_str("the node key could not sign the header"),
            HeaderError::ChainIdMismatch(ge) => write!(f, "headers name different chains: chain id {ge}"),
            HeaderError::NodeMismatch(ge) => write!(
                f,
                "headers belong to different nodes: got {}, expected {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            HeaderError::SequenceGap(ge) => write!(f, "header sequence does not follow: {ge}"),
            HeaderError::SequenceOverflow => f.write_str("previous header has the last possible sequence number"),
            HeaderError::PrevHashMismatch(ge) => write!(
                f,
                "header does not link to the previous one: prev_header_hash {}, previous header hashes to {}",
                Hex(&ge.got),
                Hex(&ge.expected)
            ),
            HeaderError::TimestampRegression { prev, next } => write!(
                f,
                "header timestamp {next} is earlier than the previous header's {prev}"
            ),
            HeaderError::Json(m) => write!(f, "micro-batch header JSON: {m}"),
        }
    }
}

/// The Ethereum address of a secp256k1 key: the last 20 bytes of
/// `keccak256(x || y)` over the uncompressed point without its `0x04` prefix.
pub fn eth_address(key: &VerifyingKey) -> Address {
    use sha3::{Digest, Keccak256};
    let point = key.to_encoded_point(false);
    let digest = Keccak256::digest(point.as_bytes().get(1..).unwrap_or_default());
    let mut out = [0u8; 20];
    out.copy_from_slice(&digest[12..]);
    out
}

/// Recovers the Ethereum address that made `sig` over the 32-byte `hash`, enforcing
/// `v` in {27, 28}, `0 < r, s < n` and low `s`.
pub fn recover_address(hash: &Hash, sig: &HeaderSignature) -> Result<Address, HeaderError> {
    let (rs, v) = sig.0.split_at(64);
    let v = v.first().copied().unwrap_or(0);
    let recid = match v {
        27 | 28 => RecoveryId::new(v == 28, false),
        got => return Err(HeaderError::SignatureRecoveryId { got }),
    };
    let signature = Signature::from_slice(rs).map_err(|_| HeaderError::SignatureMalformed)?;
    if signature.normalize_s().is_some() {
        return Err(HeaderError::SignatureHighS);
    }
    let key = VerifyingKey::recover_from_prehash(hash, &signature, recid)
        .map_err(|_| HeaderError::SignatureInvalid)?;
    Ok(eth_address(&key))
}

impl MicroBatchHeader {
    /// Appends the canonical encoding ([`HEADER_LEN`] bytes).
    pub fn write(&self, w: &mut Writer) {
        w.u8(self.version)
            .u64(self.chain_id)
            .array(&self.node_address)
            .u64(self.sequence)
            .array(&self.prev_header_hash)
            .array(&self.receipts_root)
            .u32(self.receipt_count)
            .u64(self.timestamp);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN);
        self.write(&mut w);
        w.into_bytes()
    }

    /// Reads one header at the reader's position.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, HeaderError> {
        let offset = r.offset();
        let version = r.u8("header version")?;
        if version != HEADER_VERSION {
            return Err(HeaderError::UnsupportedVersion {
                offset,
                got: version,
                expected: HEADER_VERSION,
            });
        }
        Ok(MicroBatchHeader {
            version,
            chain_id: r.u64("header chain_id")?,
            node_address: r.array("header node_address")?,
            sequence: r.u64("header sequence")?,
            prev_header_hash: r.array("header prev_header_hash")?,
            receipts_root: r.array("header receipts_root")?,
            receipt_count: r.u32("header receipt_count")?,
            timestamp: r.u64("header timestamp")?,
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let mut r = Reader::new(bytes);
        let h = Self::read(&mut r)?;
        r.finish().map_err(HeaderError::TrailingBytes)?;
        Ok(h)
    }

    /// `SHA-256("OTR/microbatch-header/v1\0" || encoding)`: the GPU attestation nonce, the
    /// message the node signs, and the leaf data of the rollup batch tree.
    pub fn header_hash(&self) -> Hash {
        tagged_hash(HEADER_TAG, &[&self.encode()])
    }

    /// Signs the header hash with RFC 6979 deterministic ECDSA (low `s`, `v` = 27 + parity).
    pub fn sign(&self, key: &SigningKey) -> Result<HeaderSignature, HeaderError> {
        let (sig, recid) = key
            .sign_prehash_recoverable(&self.header_hash())
            .map_err(|_| HeaderError::SigningFailed)?;
        // k256 already returns low-s; normalizing again flips the parity if it did not.
        let (sig, recid) = match sig.normalize_s() {
            Some(low) => (
                low,
                RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
            ),
            None => (sig, recid),
        };
        if recid.is_x_reduced() {
            return Err(HeaderError::SigningFailed);
        }
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.is_y_odd() as u8;
        Ok(HeaderSignature(out))
    }

    /// Checks that `sig` is a valid signature over the header hash by `node_address`.
    pub fn verify_signature(&self, sig: &HeaderSignature) -> Result<(), HeaderError> {
        let got = recover_address(&self.header_hash(), sig)?;
        if got != self.node_address {
            return Err(HeaderError::SignerMismatch(GotExpected {
                got,
                expected: self.node_address,
            }));
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the JSON form; the version is checked like the binary decoder does.
    pub fn from_json(text: &str) -> Result<Self, HeaderError> {
        let h: MicroBatchHeader =
            serde_json::from_str(text).map_err(|e| HeaderError::Json(e.to_string()))?;
        MicroBatchHeader::decode(&h.encode())?;
        Ok(h)
    }
}

/// Checks that `next` directly follows `prev` in one node's header chain: same chain and node,
/// sequence + 1, `prev_header_hash` = `prev.header_hash()`, timestamp not going back.
pub fn verify_chain_link(
    prev: &MicroBatchHeader,
    next: &MicroBatchHeader,
) -> Result<(), HeaderError> {
    if next.chain_id != prev.chain_id {
        return Err(HeaderError::ChainIdMismatch(GotExpected {
            got: next.chain_id,
            expected: prev.chain_id,
        }));
    }
    if next.node_address != prev.node_address {
        return Err(HeaderError::NodeMismatch(GotExpected {
            got: next.node_address,
            expected: prev.node_address,
        }));
    }
    let expected = prev
        .sequence
        .checked_add(1)
        .ok_or(HeaderError::SequenceOverflow)?;
    if next.sequence != expected {
        return Err(HeaderError::SequenceGap(GotExpected {
            got: next.sequence,
            expected,
        }));
    }
    let prev_hash = prev.header_hash();
    if next.prev_header_hash != prev_hash {
        return Err(HeaderError::PrevHashMismatch(GotExpected {
            got: next.prev_header_hash,
            expected: prev_hash,
        }));
    }
    if next.timestamp < prev.timestamp {
        return Err(HeaderError::TimestampRegression {
            prev: prev.timestamp,
            next: next.timestamp,
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;

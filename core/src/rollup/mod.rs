//! Receipts, micro-batch headers, answer bundles, Merkle inclusion and finality
//! (DESIGN principles 3-5; every byte in `docs/PROTOCOL.md`).
//!
//! - [`codec`]: the one canonical binary encoding (strict reader with byte offsets and caps).
//! - [`merkle`]: RFC 6962 SHA-256 trees, audit paths and their verification.
//! - [`receipt`]: the per-answer [`Receipt`] and its hash.
//! - [`header`]: the signed [`MicroBatchHeader`], whose hash is the GPU attestation nonce.
//! - [`bundle`]: the [`AnswerBundle`] a client receives, binary (`OTRB`) and JSON forms.
//! - [`verify`]: [`verify_bundle_structure`], which proves receipt -> header -> batch.
//! - [`finality`]: the pure finality state machine.
//! - [`tensor`]: the digest of a wide tensor in a trace leaf (flat, or chunked past 4096 values).

pub mod bundle;
mod bundle_error;
pub mod codec;
pub mod finality;
pub mod header;
pub mod merkle;
pub mod receipt;
pub(crate) mod serde_forms;
pub mod tensor;
pub mod verify;

pub use bundle::{
    AnswerBundle, BundleError, BundleLimits, GpuEvidence, PromptOpening, ReceiptProof,
    RollupInclusion, TraceOpening, ZkProof, ZkStatement,
};
pub use finality::{
    evaluate_finality, ChainStatus, DisputeState, Finality, FinalityError, FinalityInputs,
};
pub use header::{eth_address, verify_chain_link, HeaderError, HeaderSignature, MicroBatchHeader};
pub use merkle::{Hash, InclusionError, InclusionProof};
pub use receipt::{request_hash, OutputHasher, Receipt, ReceiptError, SamplingParams};
pub use verify::{verify_bundle_structure, BatchInclusion, VerifiedStructure};

use core::fmt;

/// A 20-byte Ethereum address.
pub type Address = [u8; 20];

/// Displays bytes as `0x`-prefixed lowercase hex.
#[derive(Clone, Copy)]
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// SHA-256 over a domain tag and a message: `SHA-256(tag || msg)`. Every tag is ASCII and ends
/// with one `0x00` byte, which no tag contains elsewhere, so the tags are prefix-free.
pub(crate) fn tagged_hash(tag: &[u8], parts: &[&[u8]]) -> Hash {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(tag);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

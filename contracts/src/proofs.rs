//! The data the contracts take as proof: receipt references (receipt -> header -> batch), and the
//! trace-prefix roots and RFC 9162 consistency proofs of the dispute bisection.

use alloy_primitives::{Bytes, FixedBytes};
use otr_core::rollup::merkle::{self, Hash};
use otr_core::rollup::{MicroBatchHeader, Receipt};

/// One receipt of one posted batch with both audit paths: the `BatchProof.ReceiptRef` argument
/// of `DisputeGame.openDispute`, `DisputeGame.challengeModel`, `SpotChecks.proveSpotCheck` and
/// `SpotChecks.reportMissed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptRef {
    pub batch_index: u64,
    pub header_index: u32,
    pub header: Vec<u8>,
    pub header_path: Vec<Hash>,
    pub receipt_index: u32,
    pub receipt: Vec<u8>,
    pub receipt_path: Vec<Hash>,
}

impl ReceiptRef {
    /// Builds the reference of `receipts[receipt_index]` of `headers[header_index]` in batch
    /// `batch_index` (whose headers are `headers`, in order).
    pub fn new(
        batch_index: u64,
        headers: &[MicroBatchHeader],
        header_index: usize,
        receipts: &[Receipt],
        receipt_index: usize,
    ) -> Option<Self> {
        let header_hashes: Vec<Hash> = headers.iter().map(|h| h.header_hash()).collect();
        let receipt_hashes: Vec<Hash> = receipts.iter().map(|r| r.receipt_hash()).collect();
        let hp = merkle::prove(&header_hashes, header_index as u64).ok()?;
        let rp = merkle::prove(&receipt_hashes, receipt_index as u64).ok()?;
        Some(ReceiptRef {
            batch_index,
            header_index: header_index as u32,
            header: headers.get(header_index)?.encode(),
            header_path: hp.path,
            receipt_index: receipt_index as u32,
            receipt: receipts.get(receipt_index)?.encode(),
            receipt_path: rp.path,
        })
    }
}

pub(crate) fn words(v: &[Hash]) -> Vec<FixedBytes<32>> {
    v.iter().map(|h| FixedBytes(*h)).collect()
}

macro_rules! receipt_ref_into {
    ($($m:path),*) => {$(
        impl From<&ReceiptRef> for $m {
            fn from(r: &ReceiptRef) -> Self {
                Self {
                    batchIndex: r.batch_index,
                    headerIndex: r.header_index,
                    header: Bytes::from(r.header.clone()),
                    headerPath: words(&r.header_path),
                    receiptIndex: r.receipt_index,
                    receipt: Bytes::from(r.receipt.clone()),
                    receiptPath: words(&r.receipt_path),
                }
            }
        }
    )*};
}
receipt_ref_into!(
    crate::bindings::dispute_game::BatchProof::ReceiptRef,
    crate::bindings::spot_checks::BatchProof::ReceiptRef
);

/// The node's trace, as its leaf data (57 bytes each, engine `trace::leaf`), for the bisection.
#[derive(Clone, Debug)]
pub struct Trace {
    leaves: Vec<Vec<u8>>,
    leaf_hashes: Vec<Hash>,
}

impl Trace {
    pub fn new(leaves: Vec<Vec<u8>>) -> Self {
        let leaf_hashes = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
        Trace {
            leaves,
            leaf_hashes,
        }
    }

    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    pub fn leaf(&self, i: u64) -> &[u8] {
        &self.leaves[i as usize]
    }

    /// The trace root (the receipt's `trace_root`).
    pub fn root(&self) -> Hash {
        merkle::root_of_leaf_hashes(&self.leaf_hashes)
    }

    /// Root of the prefix of `size` leaves.
    pub fn prefix_root(&self, size: u64) -> Hash {
        merkle::root_of_leaf_hashes(&self.leaf_hashes[..size as usize])
    }

    /// Audit path of leaf `index` in the prefix of `size` leaves.
    pub fn path(&self, index: u64, size: u64) -> Vec<Hash> {
        let mut out = Vec::new();
        audit_path(index as usize, &self.leaf_hashes[..size as usize], &mut out);
        out
    }

    /// RFC 9162 consistency proof from the prefix of `first` leaves to that of `second`.
    pub fn consistency(&self, first: u64, second: u64) -> Vec<Hash> {
        consistency_proof(&self.leaf_hashes[..second as usize], first as usize)
    }
}

fn split(n: usize) -> usize {
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

fn audit_path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let (l, r) = leaves.split_at(split(leaves.len()));
    if m < l.len() {
        audit_path(m, l, out);
        out.push(merkle::root_of_leaf_hashes(r));
    } else {
        audit_path(m - l.len(), r, out);
        out.push(merkle::root_of_leaf_hashes(l));
    }
}

/// RFC 9162 §2.1.4.1 `PROOF(m, D[n])` over leaf hashes (`0 < m < n`; empty otherwise).
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    let mut out = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut out);
    }
    out
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(merkle::root_of_leaf_hashes(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(merkle::root_of_leaf_hashes(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(merkle::root_of_leaf_hashes(&leaves[..k]));
    }
}

/// The batch root of a batch of headers (what `postBatch` recomputes on-chain).
pub fn batch_root(headers: &[MicroBatchHeader]) -> Hash {
    let hashes: Vec<Hash> = headers.iter().map(|h| h.header_hash()).collect();
    merkle::root(&hashes)
}

/// The `headers` calldata of `postBatch`: the canonical encodings, concatenated.
pub fn headers_calldata(headers: &[MicroBatchHeader]) -> Vec<u8> {
    headers.iter().flat_map(|h| h.encode()).collect()
}

/// Layer operators that are matrix-vector products (engine `trace.rs`: `Q K V O GATE UP DOWN`).
pub const LAYER_MATVEC_OPS: [u8; 7] = [1, 2, 3, 8, 11, 12, 14];

/// Whether the 57-byte trace leaf `leaf` is a layer matrix-vector step of a model with
/// `num_layers` layers (`SpotChecks.isLayerMatVec`).
pub fn is_layer_mat_vec(leaf: &[u8], num_layers: u16) -> bool {
    otr_core::zk::statement::trace_leaf(leaf).is_some_and(|(k, _)| {
        (1..=num_layers).contains(&k.stage) && LAYER_MATVEC_OPS.contains(&k.op)
    })
}

/// The step a spot check proves when the contract samples index `sampled` of `trace`
/// (`SpotChecks.proveSpotCheck`): the first layer matrix-vector step at or after it, wrapping to
/// the trace's start; with the indices of the leaves skipped on the way. `None` when the trace
/// has no such step.
pub fn spot_check_step(trace: &Trace, sampled: u64, num_layers: u16) -> Option<(Vec<u64>, u64)> {
    let n = trace.len();
    let mut skipped = Vec::new();
    let mut i = sampled % n.max(1);
    for _ in 0..n {
        if is_layer_mat_vec(trace.leaf(i), num_layers) {
            return Some((skipped, i));
        }
        skipped.push(i);
        i = if i + 1 == n { 0 } else { i + 1 };
    }
    None
}

//! Answer bundles signed by a dev node key and attested by a dev GPU (NOT PRODUCTION).
//! Used for fixtures and tests; the node's own micro-batcher builds real ones the same way.

use otr_core::rollup::merkle;
use otr_core::rollup::{
    AnswerBundle, ChainStatus, GpuEvidence, MicroBatchHeader, Receipt, ReceiptProof,
    RollupInclusion, SamplingParams,
};
use sha2::{Digest, Sha256};

use super::report::{build_report, ReportSpec};
use super::DevGpu;

/// A deterministic secp256k1 node key from a seed.
pub fn node_key(seed: &[u8]) -> k256::ecdsa::SigningKey {
    let mut ctr = 0u32;
    loop {
        let d =
            Sha256::digest([b"OTR/dev-node-key/v1".as_slice(), seed, &ctr.to_be_bytes()].concat());
        if let Ok(k) = k256::ecdsa::SigningKey::from_slice(&d) {
            return k;
        }
        ctr += 1;
    }
}

/// A plausible receipt for fixtures: all hashes derived from `label`.
pub fn sample_receipt(label: &str, created_at: u64) -> Receipt {
    let h = |part: &str| -> [u8; 32] {
        Sha256::digest(format!("OTR/dev-receipt/{label}/{part}")).into()
    };
    Receipt {
        version: 1,
        model_id: h("model"),
        weights_root: h("weights"),
        request_hash: otr_core::rollup::request_hash(&h("nonce"), label.as_bytes()),
        output_hash: h("output"),
        prompt_tokens: 12,
        completion_tokens: 8,
        sampling: SamplingParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 16,
            seed: 7,
        },
        trace_root: h("trace"),
        trace_steps: 8 * 18 * 12,
        created_at,
    }
}

/// Everything that makes one bundle.
pub struct BundleSpec<'a> {
    pub gpu: &'a DevGpu,
    pub node_key: &'a k256::ecdsa::SigningKey,
    pub seed: &'a [u8],
    pub chain_id: u64,
    pub sequence: u64,
    pub receipts: Vec<Receipt>,
    pub index: usize,
    pub timestamp: u64,
    /// Rollup batch: other header hashes around ours, our position.
    pub batch: Option<(u64, Vec<[u8; 32]>, usize)>,
    pub chain_status: Option<ChainStatus>,
}

/// Builds the header, signs it, attests its hash with the dev GPU, and assembles the bundle.
pub fn build_bundle(s: &BundleSpec<'_>) -> AnswerBundle {
    let leaves: Vec<[u8; 32]> = s.receipts.iter().map(|r| r.receipt_hash()).collect();
    let header = MicroBatchHeader {
        version: 1,
        chain_id: s.chain_id,
        node_address: otr_core::rollup::eth_address(s.node_key.verifying_key()),
        sequence: s.sequence,
        prev_header_hash: [0; 32],
        receipts_root: merkle::root(&leaves),
        receipt_count: leaves.len() as u32,
        timestamp: s.timestamp,
    };
    let header_signature = header.sign(s.node_key).expect("sign header");
    let proof = merkle::prove(&leaves, s.index as u64).expect("receipt proof");
    let report = build_report(
        &ReportSpec::new(s.seed, header.header_hash(), s.gpu.fwid),
        s.gpu.attestation_key(),
    );
    let rollup = s.batch.as_ref().map(|(batch_index, others, pos)| {
        let mut hashes = others.clone();
        hashes.insert(*pos, header.header_hash());
        let p = merkle::prove(&hashes, *pos as u64).expect("batch proof");
        RollupInclusion {
            batch_index: *batch_index,
            batch_root: merkle::root(&hashes),
            batch_size: hashes.len() as u32,
            header_index: *pos as u32,
            path: p.path,
        }
    });
    AnswerBundle {
        version: 1,
        receipt: s.receipts[s.index].clone(),
        header,
        header_signature,
        receipt_proof: ReceiptProof {
            leaf_index: s.index as u32,
            path: proof.path,
        },
        evidence: GpuEvidence {
            report,
            cert_chain_pem: s.gpu.chain_pem(),
            rims: vec![],
            ocsp: vec![],
            arch: "HOPPER".into(),
        },
        rollup,
        chain_status: s.chain_status,
        zk_proofs: vec![],
        chain_proof: None,
        prompt: None,
    }
}

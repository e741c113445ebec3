//! The prover node: OpenAI-compatible serving with attested receipts and answer bundles.
//!
//! Flow of one answer: the API runs the engine, builds the receipt, commits it to the store
//! (the answer's receipt is durable from then on) and only then sends the final bytes of the
//! response. The batcher closes a micro-batch every window: it takes the pending receipts in
//! order, builds and signs the header (sequence, previous hash, receipts root), asks the GPU for
//! an attestation whose nonce is the header hash, and commits header, signature and evidence in
//! one transaction. The poster posts closed micro-batch headers as rollup batches to the settlement
//! contracts (`settlement`). A bundle is served only after `otr-core` verified it inside the node.

pub mod api;
pub mod attest;
pub mod batcher;
pub mod challenge;
pub mod config;
pub mod defend;
pub mod dispute;
pub mod engine_impl;
pub mod inference;
pub mod keys;
pub mod nvml;
pub mod plain;
pub mod settlement;
pub mod spotchain;
pub mod spotcheck;
pub mod store;
pub mod zkroot;

use std::sync::Arc;

pub use config::NodeConfig;

/// Everything the request handlers and the batcher share.
pub struct Node {
    pub config: NodeConfig,
    pub store: store::Store,
    pub engine: Arc<dyn inference::Inference>,
    pub attestor: Arc<dyn attest::Attestor>,
    pub node_key: k256::ecdsa::SigningKey,
    /// Wakes the batcher early (per-request mode).
    pub batch_now: tokio::sync::Notify,
    /// Trust anchors that accept this node's own evidence (NVIDIA roots, plus the dev root in dev mode).
    pub anchors: otr_core::attestation::TrustAnchors,
    pub policy: otr_core::attestation::Policy,
    /// Verifies the node's own bundles; signatures already checked (the micro-batch's report and
    /// chain, shared by all its receipts) are remembered, so a self-check costs one pass each.
    pub verifier:
        std::sync::Mutex<otr_core::crypto::CachingVerifier<crate::native_crypto::OpensslVerifier>>,
    /// The settlement chain the node posts rollup batches to (`--chain embedded`); `None` with
    /// `--chain none`.
    pub settlement: Option<settlement::Settlement>,
    /// ZK spot-checks (`--zk-params DIR`); `None` when off.
    pub spotcheck: Option<spotcheck::SpotChecker>,
    /// With `--zk-params`: the model's matrices and unit proving keys, for matrix-vector steps
    /// in disputes and on-chain spot checks (the ZK spot-checker's, when it runs); set once its
    /// matrix commitments are ready ([`defend::load_mat_vec`]).
    pub mat_vec: std::sync::OnceLock<Arc<dispute::MatVecSetup>>,
}

//! Settlement (DESIGN principle 5): the node posts its micro-batch headers as rollup batches to
//! the settlement contracts and reads back what bundles report (inclusion, chain status).
//!
//! Two chains: the embedded default below, or any EVM node over JSON-RPC (`--chain-rpc URL`,
//! [`Settlement::open_rpc`]): the node signs its transactions with its secp256k1 key (its EVM
//! account), uses the deployment named by `--chain-deployment FILE` or, on a dev chain (anvil),
//! deploys one itself and keeps its addresses in `<data dir>/rpc-deployment.json`
//! ([`RPC_DEPLOYMENT_FILE`]), and staples light-client proofs to bundles ([`Settlement::staple`]).
//! Crash safety there is the same rule: the chain is the truth, and [`reconcile`] runs before
//! every post (docs/NODE.md, "Settlement").
//!
//! [`reconcile`]: super::batcher::reconcile
//!
//! The embedded default (`--chain embedded`) runs the contracts of `otr-contracts` in-process on
//! revm, persisted at `<data dir>/chain.json` ([`CHAIN_FILE`]) with the contract addresses in
//! `<data dir>/chain-deployment.json` ([`DEPLOYMENT_FILE`]). On first start the node deploys the
//! contracts with the devnet parameters (challenge window from `--challenge-window-secs`),
//! registers the served model, funds its own EVM account (the address of its secp256k1 key) and
//! stakes it. Block time follows the wall clock: before each transaction the chain is moved to
//! `max(chain time, now)` and one block on.
//!
//! Crash safety: a batch is posted to the in-memory chain, the chain is saved (temporary file,
//! rename, fsync), and only then does the store record its headers as posted. The chain is the
//! truth: [`Settlement::reconcile`] compares the contract's head of the node's header chain
//! (`chains(node).nextSequence`) with the store before each post, records batches that reached
//! the chain file but not the store (a crash between the two), and forgets store rows the chain
//! does not have (a chain file from before the post). The contract refuses to take a header twice
//! (its sequence must continue the node's chain, and a root posted before is rejected with
//! `BatchAlreadyPosted`), so re-posting after a restart cannot double-post.

use std::path::{Path, PathBuf};

use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::settlement::Settlement as SettlementAbi;
use otr_contracts::deploy::{Deployment, Params};
use otr_contracts::host::{self, Host};
use otr_contracts::proofs::{self, ReceiptRef};
use otr_contracts::rpc::RpcHost;
use otr_contracts::{Address, Chain, U256};
use otr_core::chain::{keccak256, BatchLayout, ChainProof};
use otr_core::rollup::merkle::Hash;
use otr_core::rollup::{AnswerBundle, ChainStatus, MicroBatchHeader};

use super::inference::ModelInfo;

/// The embedded chain's state file in the data dir.
pub const CHAIN_FILE: &str = "chain.json";
/// The deployment's addresses, next to the chain file.
pub const DEPLOYMENT_FILE: &str = "chain-deployment.json";
/// On an RPC chain: the addresses of the deployment the node made itself (dev chains).
pub const RPC_DEPLOYMENT_FILE: &str = "rpc-deployment.json";
/// Longest header chain stapled to a bundle before the proof is taken again at the head.
pub const STAPLE_SPAN: u64 = 64;
/// Most headers in one rollup batch (the contract's `MAX_HEADERS`).
pub const MAX_HEADERS_PER_BATCH: usize = 1024;

/// The model registry entry of a served model, as the node registers it on dev chains. The
/// Poseidon root is the root over its matrices' Poseidon commitments (`zkroot`, docs/PROTOCOL.md
/// §7.9): computed here for small models or when its cache file exists; for a big model seen
/// the first time (Gemma 3 270M: minutes) zero now, computed in the background and registered
/// when ready (`zkroot::register_when_ready`); zero when the engine cannot compute it.
pub fn registry_entry(model: &ModelInfo) -> ModelRegistry::Model {
    ModelRegistry::Model {
        configHash: model.config_hash.into(),
        tokenizerHash: model.tokenizer_hash.into(),
        weightsRoot: model.weights_root.into(),
        poseidonRoot: model.matrix_root.now_or_later().unwrap_or_default().into(),
        costWeight: 1,
        numLayers: model.num_layers,
        active: true,
    }
}

/// Registers `model` from the deployment's owner (the node on dev chains, the owner's
/// `otr chain register-model` elsewhere): its registry entry, the
/// residual-add step verifier when its residual is a plain add (Llama), and the norm step
/// verifier for its RMSNorm steps (pre norms and the final norm; with post norms, Gemma 3, also
/// the residuals `h + rms_norm(x)`), and the QK-norm + RoPE verifier with its RoPE table roots.
pub fn register_model<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    model: &ModelInfo,
) -> Result<(), String> {
    host::send(
        host,
        d.owner,
        d.registry,
        &ModelRegistry::registerModelCall {
            modelId: model.model_id.into(),
            m: registry_entry(model),
            vks: vec![],
        },
        U256::ZERO,
    )
    .map_err(|e| format!("registering the model: {e}"))?;
    if model.plain_residual {
        d.set_wide_add_verifier(host, model.model_id)
            .map_err(|e| format!("naming the residual-add step verifier: {e}"))?;
    }
    // The RMSNorm steps of every model; the residuals too where they are `h + rms_norm(x)`.
    d.set_norm_verifier(host, model.model_id, !model.plain_residual)
        .map_err(|e| format!("naming the norm step verifier: {e}"))?;
    // QK-norm + RoPE, bound to the model's RoPE tables.
    if let Some(roots) = model.rope_roots.get() {
        d.set_rope_verifier(host, model.model_id, roots)
            .map_err(|e| format!("naming the RoPE step verifier: {e}"))?;
    }
    // The token embedding, bound to the model's embedding-row tree (computed on first use).
    if let Some(e) = model.embed_rows.get() {
        d.set_embed_verifier(
            host,
            model.model_id,
            model.weights_root,
            e.root,
            e.vocab,
            e.scale_q32,
        )
        .map_err(|e| format!("naming the embedding step verifier: {e}"))?;
        // The prompt's tokens against its text, settled by refutation with one piece of the
        // tokenizer's vocabulary.
        d.set_prompt_verifier(
            host,
            model.model_id,
            e.pieces_root,
            e.pieces,
            e.bos,
            e.texts_root,
            e.texts,
        )
        .map_err(|e| format!("naming the prompt step verifier: {e}"))?;
        // Greedy sampling, settled by refutation over the vocabulary's logits.
        d.set_sample_verifier(
            host,
            model.model_id,
            e.vocab,
            otr_engine::tables::exp2_table_digest(),
        )
        .map_err(|e| format!("naming the sampling step verifier: {e}"))?;
        // The logits, settled by refutation with the head matrix's rows (a matrix verifier
        // registered later for the head's shape takes its place).
        d.set_logits_verifier(
            host,
            model.model_id,
            model.weights_root,
            e.head_root,
            e.vocab,
        )
        .map_err(|e| format!("naming the logits step verifier: {e}"))?;
        // The layers' matrix steps, settled by refutation of one row of their matrix (a
        // matrix verifier with unit keys, registered later for an operator, takes its place).
        d.set_matrow_verifier(host, model.model_id, model.weights_root, e.matrices_root)
            .map_err(|e| format!("naming the matrix-row step verifier: {e}"))?;
    }
    // The value entered into the KV cache (per-head Act16), for every model.
    d.set_vcache_verifier(host, model.model_id)
        .map_err(|e| format!("naming the V_CACHE step verifier: {e}"))?;
    // The gated activation, bound to the model's activation table.
    if let Some(t) = model.act_table_digest {
        d.set_act_verifier(host, model.model_id, t)
            .map_err(|e| format!("naming the activation step verifier: {e}"))?;
    }
    // Attention over the visible cache, bound to the engine's 2^-x table (a long context
    // exceeds a transaction's gas: docs/PROTOCOL.md).
    if let (Some(t), Some(l)) = (model.exp_table_digest, model.attn_limits) {
        d.set_attn_verifier(host, model.model_id, t, l)
            .map_err(|e| format!("naming the attention step verifier: {e}"))?;
    }
    Ok(())
}

/// The registry's stage of a matrix operator's stage class (`MatVecSetup::op_shapes`): a
/// layer's operators are looked up at stage 1, the head's at `num_layers + 1`.
pub fn matvec_stage(class: u8, num_layers: u16) -> u16 {
    if class == 1 {
        1
    } else {
        num_layers + 1
    }
}

/// Whether the registry already names a step verifier for one of the matrix operators that
/// `setup`'s keys prove (a verifier registered before: by the node at an earlier start, or by
/// the owner with `otr chain register-matvec`).
pub fn matvec_verifier_named<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    model_id: Hash,
    setup: &super::dispute::MatVecSetup,
) -> Result<bool, String> {
    let e = |e: otr_contracts::CallError| e.to_string();
    let n_layers = host::view(
        host,
        d.registry,
        &ModelRegistry::modelCall {
            modelId: model_id.into(),
        },
    )
    .map_err(e)?
    .numLayers;
    for (class, op, ..) in setup.op_shapes() {
        let stage = matvec_stage(class, n_layers);
        // A refutation verifier (`LOGITS`, a layer's matrix rows) is not a unit verifier: the keys'
        // verifier replaces it.
        if d.step_verifier(host, model_id, stage, op).map_err(e)? != Address::ZERO
            && !d.refutable(host, model_id, stage, op).map_err(e)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Deploys, from the registry owner `d.owner`, the Poseidon round schedule, one
/// `MatVecGroth16Verifier` per unit shape of `setup`'s keys and the `MatVecStepVerifier` over
/// them, and names that verifier in the registry for every matrix operator of the keys' shapes
/// (docs/PROTOCOL.md §7.9). The model must be registered and active (the registry names step
/// verifiers only for those; checked before anything is sent). Used by the node where it holds
/// the owner's key ([`Settlement::register_matvec_verifier`]) and by the owner's
/// `otr chain register-matvec`. Returns how many operators it named.
pub fn deploy_matvec_verifier<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    model_id: Hash,
    setup: &super::dispute::MatVecSetup,
) -> Result<usize, String> {
    let e = |e: otr_contracts::CallError| e.to_string();
    let shapes = setup.op_shapes();
    if shapes.is_empty() {
        return Ok(0);
    }
    let m = host::view(
        host,
        d.registry,
        &ModelRegistry::modelCall {
            modelId: model_id.into(),
        },
    )
    .map_err(e)?;
    if !m.active {
        return Err(format!(
            "model 0x{} is not registered (or not active) in the registry at 0x{}: register it \
             first (`otr chain register-model`)",
            hex::encode(model_id),
            hex::encode(d.registry)
        ));
    }
    let rounds = d
        .deploy_poseidon_rounds(host)
        .map_err(|x| format!("deploying PoseidonRounds: {x}"))?;
    let mut verifiers: Vec<((u32, u32, u32), Address)> = Vec::new();
    let mut named = Vec::new();
    for &(class, op, rows, cols, r, vk) in &shapes {
        let shape = (rows as u32, cols as u32, r as u32);
        let g16 = match verifiers.iter().find(|(s, _)| *s == shape) {
            Some((_, a)) => *a,
            None => {
                let a = d
                    .deploy_matvec_groth16(host, vk.vk())
                    .map_err(|x| format!("deploying MatVecGroth16Verifier {shape:?}: {x}"))?;
                verifiers.push((shape, a));
                a
            }
        };
        named.push(otr_contracts::deploy::MatVecShape {
            stage_class: class,
            op,
            rows: shape.0,
            cols: shape.1,
            unit_rows: shape.2,
            verifier: g16,
        });
    }
    d.set_matvec_verifier(host, model_id, rounds, setup.tied_output(), &named)
        .map_err(|x| format!("deploying and naming MatVecStepVerifier: {x}"))?;
    Ok(named.len())
}

/// The devnet governance account of the embedded chain (transactions are not signed there; this
/// account deploys the contracts and registers the model).
pub fn devnet_owner() -> Address {
    Address::repeat_byte(0x0e)
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// Balance given to the node's account on the embedded chain, and the stake it puts up.
const NODE_BALANCE_ETH: u64 = 100;
const NODE_STAKE_ETH: u64 = 10;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The addresses of a deployment as saved in [`DEPLOYMENT_FILE`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedDeployment {
    pub chain_id: u64,
    pub challenge_window_secs: u64,
    pub owner: Address,
    pub registry: Address,
    pub staking: Address,
    pub settlement: Address,
    pub dispute_game: Address,
    pub spot_checks: Address,
    pub rewards: Address,
}

impl SavedDeployment {
    /// The record of deployment `d` on chain `chain_id` with challenge window `window`.
    pub fn new(chain_id: u64, window: u64, d: &Deployment) -> Self {
        SavedDeployment {
            chain_id,
            challenge_window_secs: window,
            owner: d.owner,
            registry: d.registry,
            staking: d.staking,
            settlement: d.settlement,
            dispute_game: d.dispute_game,
            spot_checks: d.spot_checks,
            rewards: d.rewards,
        }
    }

    pub fn deployment(&self) -> Deployment {
        Deployment {
            owner: self.owner,
            registry: self.registry,
            staking: self.staking,
            settlement: self.settlement,
            dispute_game: self.dispute_game,
            spot_checks: self.spot_checks,
            rewards: self.rewards,
        }
    }

    pub fn read(data_dir: &Path) -> Result<Self, String> {
        Self::read_file(&data_dir.join(DEPLOYMENT_FILE))
    }

    /// Reads a deployment file (the JSON of [`DEPLOYMENT_FILE`]) at `p`.
    pub fn read_file(p: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    }

    fn write(&self, data_dir: &Path) -> Result<(), String> {
        self.write_file(&data_dir.join(DEPLOYMENT_FILE))
    }

    pub fn write_file(&self, p: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_atomic(p, text.as_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension("tmp-write");
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    sync_dir(path);
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Saves the chain durably: `Chain::save` appends what changed to the chain's journal, or
/// writes a new snapshot atomically, and flushes what it wrote to disk before it returns.
fn save_chain(chain: &mut Chain, path: &Path) -> Result<(), String> {
    chain
        .save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A batch as the contract stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnChainBatch {
    pub index: u64,
    pub root: Hash,
    pub node: [u8; 20],
    pub posted_at: u64,
    pub header_count: u32,
    pub first_sequence: u64,
    pub receipt_count: u64,
}

/// What the store records for a posted batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedBatch {
    pub index: u64,
    pub root: Hash,
    pub first_seq: u64,
    pub size: u32,
    pub posted_at: u64,
}

impl From<OnChainBatch> for PostedBatch {
    fn from(b: OnChainBatch) -> Self {
        PostedBatch {
            index: b.index,
            root: b.root,
            first_seq: b.first_sequence,
            size: b.header_count,
            posted_at: b.posted_at,
        }
    }
}

/// Read-only queries on a chain and deployment (shared by the node and `otr watch`).
pub fn read_batch<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    index: u64,
) -> Result<OnChainBatch, String> {
    let b = d.batch(host, index).map_err(|e| e.to_string())?;
    Ok(OnChainBatch {
        index,
        root: b.root.0,
        node: b.node.0 .0,
        posted_at: b.postedAt,
        header_count: b.headerCount,
        first_sequence: b.firstSequence,
        receipt_count: b.receiptCount,
    })
}

pub fn batch_count<H: Host + ?Sized>(host: &mut H, d: &Deployment) -> Result<u64, String> {
    let n: U256 = host::view(host, d.settlement, &SettlementAbi::batchCountCall {})
        .map_err(|e| e.to_string())?;
    Ok(n.saturating_to())
}

/// The contract's head of `node`'s header chain: (next sequence, last header hash).
pub fn node_head<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    node: Address,
) -> Result<(u64, Hash), String> {
    let c = host::view(host, d.settlement, &SettlementAbi::chainsCall(node))
        .map_err(|e| e.to_string())?;
    Ok((c.nextSequence, c.lastHeaderHash.0))
}

/// The dispute-game argument for the receipt of a bundle that carries a rollup inclusion.
pub fn receipt_ref(b: &AnswerBundle) -> Option<ReceiptRef> {
    let r = b.rollup.as_ref()?;
    Some(ReceiptRef {
        batch_index: r.batch_index,
        header_index: r.header_index,
        header: b.header.encode(),
        header_path: r.path.clone(),
        receipt_index: b.receipt_proof.leaf_index,
        receipt: b.receipt.encode(),
        receipt_path: b.receipt_proof.path.clone(),
    })
}

/// Opens a dispute over the bundle's receipt (the challenger's first move, DESIGN principle 6):
/// posts `bond` and the receipt reference. Returns the dispute id.
pub fn open_dispute_for<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    challenger: Address,
    b: &AnswerBundle,
    bond: U256,
) -> Result<u64, String> {
    let r = receipt_ref(b).ok_or("the bundle is not posted on-chain yet (no rollup section)")?;
    d.open_dispute(host, challenger, &r, bond)
        .map(|(id, _)| id)
        .map_err(|e| e.to_string())
}

/// The chain the chain thread owns.
// One value per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// The embedded revm chain (saved to the chain file after each change).
    Embedded(Chain),
    /// An EVM node over JSON-RPC, with the node's key as a signer.
    Rpc(RpcHost),
}

impl Backend {
    pub fn host(&mut self) -> &mut dyn Host {
        match self {
            Backend::Embedded(c) => c,
            Backend::Rpc(h) => h,
        }
    }
}

type Job = Box<dyn FnOnce(&mut Backend) + Send>;

/// The embedded chain as a [`Host`] that notes whether anything was committed.
struct Tracked<'a> {
    chain: &'a mut Chain,
    changed: bool,
}

impl Host for Tracked<'_> {
    fn chain_id(&mut self) -> Result<u64, otr_contracts::CallError> {
        Host::chain_id(self.chain)
    }
    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: otr_contracts::Bytes,
        value: U256,
    ) -> Result<otr_contracts::TxOutcome, otr_contracts::CallError> {
        // Any transaction, reverted ones included (revm commits their nonce).
        self.changed = true;
        Host::send(self.chain, from, to, data, value)
    }
    fn call(
        &mut self,
        from: Address,
        to: Address,
        data: otr_contracts::Bytes,
    ) -> Result<otr_contracts::Bytes, otr_contracts::CallError> {
        Host::call(self.chain, from, to, data)
    }
    fn timestamp(&mut self) -> Result<u64, otr_contracts::CallError> {
        Host::timestamp(self.chain)
    }
    fn block_number(&mut self) -> Result<u64, otr_contracts::CallError> {
        Host::block_number(self.chain)
    }
    fn advance(&mut self, secs: u64, blocks: u64) -> Result<(), otr_contracts::CallError> {
        self.changed = true;
        Host::advance(self.chain, secs, blocks)
    }
}

/// A stapled light-client section, per batch: the proof at `block` and the headers from there,
/// with the proven block's time and the batch's window end (when the proof must be renewed to
/// show the window closed).
struct Staple {
    block: u64,
    proof: ChainProof,
    block_timestamp: u64,
    window_end: u64,
}

/// The node's settlement client. The revm chain is not `Send`, so one thread owns the chain
/// (embedded or RPC) and runs the jobs the node's tasks send it, one at a time (which is also
/// what makes the node's transactions single-writer and their nonces sequential).
pub struct Settlement {
    jobs: std::sync::mpsc::Sender<Job>,
    path: PathBuf,
    pub deployment: Deployment,
    pub node: Address,
    pub challenge_window_secs: u64,
    /// `Some(url)` on an RPC chain.
    pub rpc_url: Option<String>,
    pub chain_id: u64,
    /// Whether the node signs for the registry's owner: on the embedded chain, and on a dev RPC
    /// chain whose deployment anvil's dev account owns.
    pub holds_owner_key: bool,
    staples: std::sync::Mutex<std::collections::BTreeMap<u64, Staple>>,
}

impl Settlement {
    /// Opens the embedded chain in `data_dir`, or creates it: deploys the contracts, registers
    /// `model`, funds and stakes `node`. On an existing chain, registers the model and stakes
    /// when that is missing (a new model or a new node key).
    pub fn open_embedded(
        data_dir: &Path,
        chain_id: u64,
        node: [u8; 20],
        model: &ModelInfo,
        challenge_window_secs: u64,
        spot_check_ppm: u64,
    ) -> Result<Self, String> {
        if challenge_window_secs == 0 {
            return Err("--challenge-window-secs must be at least 1".into());
        }
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let path = data_dir.join(CHAIN_FILE);
        let node = Address::from(node);
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (dir, p2, model) = (data_dir.to_path_buf(), path.clone(), model.clone());
        std::thread::Builder::new()
            .name("otr-chain".into())
            .spawn(move || {
                // EVM execution and the chain's saves are background work: below the engine's
                // threads, like the micro-batch thread.
                crate::node::batcher::lower_thread_priority(crate::node::batcher::BATCHER_NICE);
                let opened = open_chain(
                    &dir,
                    &p2,
                    chain_id,
                    node,
                    &model,
                    challenge_window_secs,
                    spot_check_ppm,
                );
                let mut backend = match opened {
                    Ok((chain, saved)) => {
                        let _ = ready_tx.send(Ok(saved));
                        Backend::Embedded(chain)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut backend);
                }
            })
            .map_err(|e| format!("starting the chain thread: {e}"))?;
        let saved = ready_rx
            .recv()
            .map_err(|_| "the chain thread stopped".to_string())??;
        Ok(Settlement {
            jobs,
            path,
            deployment: saved.deployment(),
            node,
            challenge_window_secs: saved.challenge_window_secs,
            rpc_url: None,
            chain_id,
            holds_owner_key: true,
            staples: Default::default(),
        })
    }

    /// Uses the settlement contracts on the EVM node at `url` (JSON-RPC): the deployment in
    /// `deployment_file`, else the one this node deployed before on this chain
    /// ([`RPC_DEPLOYMENT_FILE`]), else (dev chains only) a new one, deployed from anvil's
    /// account 0 with the devnet parameters. Registers `model` when the owner's key is known
    /// (dev deployments), funds the node's account from anvil's account 0 on dev chains when
    /// it cannot pay the stake, and stakes it.
    #[allow(clippy::too_many_arguments)]
    pub fn open_rpc(
        url: &str,
        deployment_file: Option<&Path>,
        data_dir: &Path,
        chain_id: u64,
        node_key: k256::ecdsa::SigningKey,
        model: &ModelInfo,
        challenge_window_secs: u64,
        spot_check_ppm: u64,
        max_fee_gwei: Option<u64>,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let mut host = RpcHost::connect(url).map_err(|e| format!("--chain-rpc {url}: {e}"))?;
        host.fees.max_fee_cap = max_fee_gwei.map(|g| u128::from(g) * 1_000_000_000);
        let node = host.add_signer(node_key);
        let saved = open_rpc_chain(
            &mut host,
            deployment_file,
            data_dir,
            chain_id,
            node,
            model,
            challenge_window_secs,
            spot_check_ppm,
        )?;
        // On a dev chain `open_rpc_chain` signs with anvil's dev key: the owner of the contracts
        // the node deployed there itself.
        let holds_owner_key = host.is_dev() && dev_key_address() == Some(saved.owner);
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("otr-chain".into())
            .spawn(move || {
                let mut backend = Backend::Rpc(host);
                while let Ok(job) = rx.recv() {
                    job(&mut backend);
                }
            })
            .map_err(|e| format!("starting the chain thread: {e}"))?;
        Ok(Settlement {
            jobs,
            path: PathBuf::from(url),
            deployment: saved.deployment(),
            node,
            challenge_window_secs: saved.challenge_window_secs,
            rpc_url: Some(url.to_string()),
            chain_id,
            holds_owner_key,
            staples: Default::default(),
        })
    }

    /// Runs `f` on the chain backend (in the chain thread) and returns its result.
    pub fn with_backend<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Backend) -> R + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |b| {
                let _ = tx.send(f(b));
            }))
            .map_err(|_| "the chain thread stopped".to_string())?;
        rx.recv()
            .map_err(|_| "the chain thread stopped (a chain call panicked)".to_string())
    }

    /// Runs `f` on the chain, embedded or RPC, as a [`Host`]. On the embedded chain, when `f`
    /// sent a transaction or moved time, the chain is saved afterwards (so dispute moves and
    /// recorded seeds reach the chain file, which `otr watch` reads); a failed save is logged.
    pub fn with_host<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Host) -> R + Send + 'static,
    ) -> Result<R, String> {
        let path = self.path.clone();
        self.with_backend(move |b| match b {
            Backend::Rpc(h) => f(h),
            Backend::Embedded(c) => {
                let mut t = Tracked {
                    chain: c,
                    changed: false,
                };
                let r = f(&mut t);
                if t.changed {
                    if let Err(e) = save_chain(t.chain, &path) {
                        eprintln!("otr: saving the embedded chain: {e}");
                    }
                }
                r
            }
        })
    }

    /// Runs `f` on the embedded chain; an error on an RPC chain (use [`Self::with_host`]).
    pub fn with_chain<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Chain) -> R + Send + 'static,
    ) -> Result<R, String> {
        self.with_backend(move |b| match b {
            Backend::Embedded(c) => Ok(f(c)),
            Backend::Rpc(_) => {
                Err("this node settles on an RPC chain, not the embedded one".into())
            }
        })?
    }

    /// The embedded chain's file; on an RPC chain, the URL.
    pub fn chain_path(&self) -> &Path {
        &self.path
    }

    /// The chain, in words, for logs.
    pub fn describe(&self) -> String {
        match &self.rpc_url {
            Some(u) => format!("RPC chain {u} (chain id {})", self.chain_id),
            None => format!("embedded chain {}", self.path.display()),
        }
    }

    /// The contract's head of this node's header chain: (next sequence, last header hash).
    pub fn head(&self) -> Result<(u64, Hash), String> {
        let (d, node) = (self.deployment.clone(), self.node);
        self.with_host(move |c| node_head(c, &d, node))?
    }

    /// This node's batches whose first sequence is at least `from_seq`, in index order.
    pub fn node_batches_from(&self, from_seq: u64) -> Result<Vec<OnChainBatch>, String> {
        let (d, node) = (self.deployment.clone(), self.node);
        self.with_host(move |chain| {
            let n = batch_count(chain, &d)?;
            let mut out = Vec::new();
            for i in (0..n).rev() {
                let b = read_batch(chain, &d, i)?;
                if b.node != node.0 .0 {
                    continue;
                }
                if b.first_sequence < from_seq {
                    break;
                }
                out.push(b);
            }
            out.reverse();
            Ok(out)
        })?
    }

    /// Posts `headers` (consecutive, continuing the node's on-chain header chain) as one batch
    /// and saves the chain. When this returns `Ok`, the batch is in the chain file (embedded)
    /// or mined (RPC: the receipt was received).
    pub fn post(&self, headers: &[MicroBatchHeader]) -> Result<PostedBatch, String> {
        let (d, node, path) = (self.deployment.clone(), self.node, self.path.clone());
        let headers = headers.to_vec();
        if self.rpc_url.is_some() {
            return self.with_host(move |h| {
                let (index, _) = d
                    .post_batch(h, node, &headers)
                    .map_err(|e| format!("postBatch: {e}"))?;
                let b = read_batch(h, &d, index)?;
                if b.root != proofs::batch_root(&headers) {
                    return Err(format!(
                        "batch {index} on-chain has another root than the one posted"
                    ));
                }
                Ok(b.into())
            })?;
        }
        self.with_chain(move |chain| {
            let ahead = now_secs().saturating_sub(Chain::timestamp(chain));
            Chain::advance(chain, ahead, 1);
            let (index, _) = d
                .post_batch(chain, node, &headers)
                .map_err(|e| format!("postBatch: {e}"))?;
            let b = read_batch(chain, &d, index)?;
            if let Err(e) = save_chain(chain, &path) {
                // The post is not durable: forget it, so the store never records it.
                match Chain::load(&path) {
                    Ok(c) => *chain = c,
                    Err(le) => return Err(format!("{e}; and reloading the chain failed: {le}")),
                }
                return Err(e);
            }
            debug_assert_eq!(b.root, proofs::batch_root(&headers));
            Ok(b.into())
        })?
    }

    /// The bundle's chain status for batch `index`, as the contract reports it now.
    pub fn chain_status(&self, index: u64) -> Result<ChainStatus, String> {
        let d = self.deployment.clone();
        self.with_host(move |c| d.chain_status(c, index).map_err(|e| e.to_string()))?
    }

    /// The on-chain root of batch `index`.
    pub fn batch_root(&self, index: u64) -> Result<Hash, String> {
        let d = self.deployment.clone();
        self.with_host(move |c| read_batch(c, &d, index).map(|b| b.root))?
    }

    /// Names a `MatVecStepVerifier` for the matrix operators that `setup`'s keys prove
    /// ([`deploy_matvec_verifier`]), so a dispute or an on-chain spot check at such a step is
    /// settled by a unit proof (docs/PROTOCOL.md §7.9) instead of lost. Only where the node holds
    /// the registry owner's key: the embedded chain (the devnet owner) and a dev RPC chain whose
    /// contracts anvil's dev account deployed (the node signs with that key there). On any other
    /// RPC chain the registry's owner registers it (`otr chain register-matvec`): this sends
    /// nothing and, while the registry names no verifier for those operators, logs a note saying
    /// so. Does nothing either when the registry already names a verifier for one of those
    /// operators (a restart). Returns how many operators it named.
    pub fn register_matvec_verifier(
        &self,
        model_id: Hash,
        setup: std::sync::Arc<super::dispute::MatVecSetup>,
    ) -> Result<usize, String> {
        if setup.op_shapes().is_empty() {
            return Ok(0);
        }
        let (d, owner) = (self.deployment.clone(), self.holds_owner_key);
        self.with_host(move |h: &mut dyn Host| {
            if matvec_verifier_named(h, &d, model_id, &setup)? {
                return Ok(0);
            }
            if !owner {
                eprintln!(
                    "otr: note: the registry at 0x{} names no matrix-vector step verifier for this \
                     model and the node does not hold its owner's key: until its owner runs \
                     `otr chain register-matvec` with these keys, spot checks at matrix steps \
                     cannot be proved on-chain (disputes there are settled by refutation of one \
                     row)",
                    hex::encode(d.registry)
                );
                return Ok(0);
            }
            deploy_matvec_verifier(h, &d, model_id, &setup)
        })?
    }

    /// The light-client section for batch `index` (RPC chains; `None` on the embedded chain,
    /// which has no state trie). Cached per batch: the proof is taken at the head once, and the
    /// header chain above it grows with the chain. It is taken again at the head when the header
    /// chain would exceed [`STAPLE_SPAN`] headers, when the chain reorganised under it, when a
    /// proven storage word changed since (a dispute opened or resolved), and once the head has
    /// passed the batch's window end while the proven block had not (so "final" can be proven).
    pub fn staple(&self, index: u64) -> Result<Option<ChainProof>, String> {
        if self.rpc_url.is_none() {
            return Ok(None);
        }
        let cached = {
            let m = self.staples.lock().unwrap_or_else(|p| p.into_inner());
            m.get(&index)
                .map(|s| (s.block, s.proof.clone(), s.block_timestamp, s.window_end))
        };
        let (d, chain_id, window) = (
            self.deployment.clone(),
            self.chain_id,
            self.challenge_window_secs,
        );
        let (block, proof) =
            self.with_backend(move |b| -> Result<(u64, ChainProof), String> {
                let Backend::Rpc(h) = b else {
                    return Err("not an RPC chain".into());
                };
                let e = |e: otr_contracts::CallError| e.to_string();
                let head = h.block_number().map_err(e)?;
                if let Some((block, mut proof, block_ts, window_end)) = cached {
                    let have = block + proof.headers.len() as u64 - 1;
                    let mut fresh = head < block + STAPLE_SPAN && head >= have;
                    if fresh && block_ts < window_end {
                        fresh = h.timestamp().map_err(e)? < window_end;
                    }
                    for s in &proof.storage {
                        if !fresh {
                            break;
                        }
                        fresh = h.storage_at(d.settlement, &s.key).map_err(e)? == s.value;
                    }
                    // Still the chain's block at that height (not replaced by a reorganization).
                    if fresh {
                        let top = proof.headers.last().map(|t| keccak256(t));
                        fresh = top == Some(h.block_hash(have).map_err(e)?.0);
                    }
                    if fresh {
                        if head == have {
                            return Ok((block, proof));
                        }
                        let more = h.header_chain(have + 1, head).map_err(e)?;
                        let top = proof.headers.last().map(|t| keccak256(t));
                        let parent = more
                            .first()
                            .and_then(|m| otr_core::chain::EthHeader::decode(m, 0).ok())
                            .map(|h| h.parent_hash);
                        if top.is_some() && parent == top {
                            proof.headers.extend(more);
                            return Ok((block, proof));
                        }
                    }
                }
                let layout = BatchLayout::settlement(window, None);
                let slots = layout.required_slots(index);
                let (account, storage) = h.get_proof(d.settlement, &slots, head).map_err(e)?;
                let headers = h.header_chain(head, head).map_err(e)?;
                Ok((
                    head,
                    ChainProof::new(
                        chain_id,
                        d.settlement.0 .0,
                        window,
                        headers,
                        &account,
                        &storage,
                    ),
                ))
            })??;
        // The node checks what it staples, trusting the head it just read from its own RPC
        // node: a proof that would fail (a reorg under it, a batch not at that index) is left
        // out of the bundle rather than served.
        let top = proof
            .headers
            .last()
            .map(|h| keccak256(h))
            .ok_or("no stapled header")?;
        let mut trust = otr_core::chain::ChainTrust::checkpoint(self.chain_id, top);
        trust.contract = Some(self.deployment.settlement.0 .0);
        trust.challenge_window_secs = Some(self.challenge_window_secs);
        let claims = proof
            .verify(&trust, index)
            .map_err(|e| format!("the chain proof of batch {index} does not verify: {e}"))?;
        self.staples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                index,
                Staple {
                    block,
                    proof: proof.clone(),
                    block_timestamp: claims.block_timestamp,
                    window_end: claims.window_end,
                },
            );
        Ok(Some(proof))
    }
}

/// Opens or creates the embedded chain (see [`Settlement::open_embedded`]).
fn open_chain(
    data_dir: &Path,
    path: &Path,
    chain_id: u64,
    node: Address,
    model: &ModelInfo,
    challenge_window_secs: u64,
    spot_check_ppm: u64,
) -> Result<(Chain, SavedDeployment), String> {
    let existed = path.exists();
    let (mut chain, saved) = if existed {
        let chain = Chain::load(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let saved = SavedDeployment::read(data_dir)?;
        if chain.chain_id() != chain_id || saved.chain_id != chain_id {
            return Err(format!(
                "{} is a chain with id {}, the node is configured for {chain_id}",
                path.display(),
                chain.chain_id()
            ));
        }
        if saved.challenge_window_secs != challenge_window_secs {
            eprintln!(
                "otr: note: the embedded chain was deployed with a {} s challenge window; \
                 --challenge-window-secs {challenge_window_secs} applies only to a new chain \
                 (delete {} to redeploy)",
                saved.challenge_window_secs,
                path.display()
            );
        }
        (chain, saved)
    } else {
        let t = now_secs();
        let mut chain = Chain::new(chain_id, t);
        let owner = devnet_owner();
        let params = Params {
            challenge_window: challenge_window_secs,
            rho_ppm: spot_check_ppm,
            ..Params::devnet()
        };
        let d = Deployment::deploy(&mut chain, owner, &params, t)
            .map_err(|e| format!("deploying the settlement contracts: {e}"))?;
        let saved = SavedDeployment::new(chain_id, challenge_window_secs, &d);
        // The addresses first: a chain file never exists without them.
        saved.write(data_dir)?;
        (chain, saved)
    };
    let d = saved.deployment();
    let mut changed = !existed;
    let registered: bool = host::view(
        &mut chain,
        d.registry,
        &ModelRegistry::attributesCall {
            modelId: model.model_id.into(),
            weightsRoot: model.weights_root.into(),
        },
    )
    .map_err(|e| e.to_string())?;
    if !registered {
        register_model(&mut chain, &d, model)?;
        changed = true;
    }
    let can_post: bool = host::view(
        &mut chain,
        d.staking,
        &otr_contracts::bindings::node_staking::NodeStaking::canPostCall { node },
    )
    .map_err(|e| e.to_string())?;
    if !can_post {
        chain.set_balance(node, eth(NODE_BALANCE_ETH));
        d.stake(&mut chain, node, eth(NODE_STAKE_ETH))
            .map_err(|e| format!("staking the node: {e}"))?;
        changed = true;
    }
    if changed {
        save_chain(&mut chain, path)?;
    }
    Ok((chain, saved))
}

/// The address of anvil's prefunded dev account (`rpc::ANVIL_DEV_KEY`).
fn dev_key_address() -> Option<Address> {
    let key = hex::decode(otr_contracts::rpc::ANVIL_DEV_KEY).ok()?;
    let key = k256::ecdsa::SigningKey::from_slice(&key).ok()?;
    Some(otr_contracts::rpc::key_address(&key))
}

/// Finds or makes the deployment on an RPC chain, registers the model and stakes the node (see
/// [`Settlement::open_rpc`]).
#[allow(clippy::too_many_arguments)]
fn open_rpc_chain(
    host: &mut RpcHost,
    deployment_file: Option<&Path>,
    data_dir: &Path,
    chain_id: u64,
    node: Address,
    model: &ModelInfo,
    challenge_window_secs: u64,
    spot_check_ppm: u64,
) -> Result<SavedDeployment, String> {
    let e = |e: otr_contracts::CallError| e.to_string();
    let got = host.chain_id().map_err(e)?;
    if got != chain_id {
        return Err(format!(
            "the RPC chain has chain id {got}, the node is configured for {chain_id} (--chain-id)"
        ));
    }
    let dev = host.is_dev();
    let dev_owner = if dev {
        let key = k256::ecdsa::SigningKey::from_slice(
            &hex::decode(otr_contracts::rpc::ANVIL_DEV_KEY).unwrap_or_default(),
        )
        .map_err(|_| "the dev key".to_string())?;
        Some(host.add_signer(key))
    } else {
        None
    };
    let own = data_dir.join(RPC_DEPLOYMENT_FILE);
    let usable = |host: &mut RpcHost, s: &SavedDeployment| -> Result<bool, String> {
        Ok(s.chain_id == chain_id && !host.code(s.settlement).map_err(e)?.is_empty())
    };
    let saved = if let Some(f) = deployment_file {
        let s = SavedDeployment::read_file(f)?;
        if !usable(host, &s)? {
            return Err(format!(
                "{}: no settlement contract at 0x{} on chain {chain_id}",
                f.display(),
                hex::encode(s.settlement)
            ));
        }
        s
    } else if own.exists() && usable(host, &SavedDeployment::read_file(&own)?)? {
        SavedDeployment::read_file(&own)?
    } else if let Some(owner) = dev_owner {
        let t = host.timestamp().map_err(e)?;
        let params = Params {
            challenge_window: challenge_window_secs,
            rho_ppm: spot_check_ppm,
            ..Params::devnet()
        };
        let d = Deployment::deploy(host, owner, &params, t)
            .map_err(|e| format!("deploying the settlement contracts: {e}"))?;
        let s = SavedDeployment::new(chain_id, challenge_window_secs, &d);
        s.write_file(&own)?;
        eprintln!(
            "otr: deployed the settlement contracts on the dev chain (addresses in {})",
            own.display()
        );
        s
    } else {
        return Err(format!(
            "no settlement deployment for chain {chain_id}: give --chain-deployment FILE \
             (the JSON of chain-deployment.json); the node deploys one itself only on dev chains"
        ));
    };
    let d = saved.deployment();
    let registered: bool = host::view(
        host,
        d.registry,
        &ModelRegistry::attributesCall {
            modelId: model.model_id.into(),
            weightsRoot: model.weights_root.into(),
        },
    )
    .map_err(e)?;
    if !registered {
        if dev_owner == Some(d.owner) {
            register_model(host, &d, model)?;
        } else {
            eprintln!(
                "otr: note: the served model is not in the registry at 0x{}; its owner must \
                 register it (`otr chain register-model`)",
                hex::encode(d.registry)
            );
        }
    }
    let can_post: bool = host::view(
        host,
        d.staking,
        &otr_contracts::bindings::node_staking::NodeStaking::canPostCall { node },
    )
    .map_err(e)?;
    if !can_post {
        let need = eth(NODE_STAKE_ETH + 1);
        let balance = host.balance(node).map_err(e)?;
        if balance < need {
            if dev {
                host.dev_fund(node, eth(NODE_BALANCE_ETH))
                    .map_err(|e| format!("funding the node from the dev account: {e}"))?;
            } else {
                return Err(format!(
                    "the node's account 0x{} holds {balance} wei: fund it with at least {need} wei \
                     to stake {NODE_STAKE_ETH} ETH and pay gas",
                    hex::encode(node)
                ));
            }
        }
        d.stake(host, node, eth(NODE_STAKE_ETH))
            .map_err(|e| format!("staking the node: {e}"))?;
    }
    Ok(saved)
}

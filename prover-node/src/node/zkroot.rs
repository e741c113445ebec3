//! The registry's commitment to a model's matrices as the spot-check circuit opens them
//! (`docs/PROTOCOL.md` §7.9): the `poseidonRoot` of `ModelRegistry.Model`.
//!
//! A unit proof's first public input is the Poseidon commitment `C_W` of one matrix
//! (`otr_zk::commit::MatrixTree::commitment`). A contract checking a unit proof must know that
//! `C_W` is the registered model's matrix of the disputed step, so the registry holds
//!
//! `poseidonRoot` = RFC 6962 root (SHA-256, the same tree as the weights root) over the leaves
//! `"OTR/zk-matrix/v1\0" || u16be(len(name)) || name || C_W` (32-byte big-endian) of every
//! matrix tensor of the converted weights, in byte-wise order of the tensor names (the weights
//! root's order, restricted to the matrices),
//!
//! and a matrix's commitment is opened against it by an audit path ([`MatrixOpening`];
//! on-chain `Rfc6962.verifyInclusion`). SHA-256 rather than keccak: the weights root and the
//! trace use it, and the contracts already verify its paths with the precompile.
//!
//! Computing every `MatrixTree` of Gemma 3 270M (about 390k rows, the 262144 x 640 embedding
//! included) takes minutes, so the commitments are cached next to the converted-model cache
//! (`<cache>.zkm`, keyed by the weights root and checked on read) and computed once per
//! machine, on threads at the lowest priority.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_engine::convert::cache::CachedTensor;
use otr_engine::weights::Tensor;
use otr_zk::commit::MatrixTree;
use sha2::{Digest, Sha256};

/// Domain tag of a leaf of the matrix-commitment tree.
pub const LEAF_TAG: &[u8] = otr_core::zk::statement::MATRIX_LEAF_TAG;
/// First bytes of the cache file.
const FILE_MAGIC: &[u8; 16] = b"OTR-ZK-MATRICES1";

/// The leaf of matrix `name` with commitment `c_w` (32-byte big-endian).
pub fn leaf(name: &str, c_w: &[u8; 32]) -> Vec<u8> {
    otr_core::zk::statement::matrix_leaf(name, c_w)
}

/// One matrix's commitment opened against the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixOpening {
    /// `C_W`, 32-byte big-endian (the unit proof's first public input).
    pub commitment: [u8; 32],
    /// Leaf index and tree size.
    pub index: u64,
    pub size: u64,
    /// RFC 6962 audit path (nearest the leaf first).
    pub path: Vec<[u8; 32]>,
}

/// Every matrix's commitment, for one set of weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixCommitments {
    /// The weights root the matrices belong to.
    pub weights_root: [u8; 32],
    /// `(tensor name, C_W)` in byte-wise name order.
    pub entries: Vec<(String, [u8; 32])>,
}

/// Where the commitments came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read from the cache file.
    Cached,
    /// Computed now, in this long.
    Computed(Duration),
}

impl MatrixCommitments {
    /// Builds every matrix's Poseidon tree (rows in parallel on the current rayon pool).
    pub fn compute(weights_root: [u8; 32], tensors: &[CachedTensor]) -> Self {
        let mut entries: Vec<(String, [u8; 32])> = tensors
            .iter()
            .filter_map(|(name, t, _)| match t {
                Tensor::Matrix(w) => Some((
                    name.clone(),
                    scalar_to_be_bytes(&MatrixTree::new(w).commitment()),
                )),
                _ => None,
            })
            .collect();
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        MatrixCommitments {
            weights_root,
            entries,
        }
    }

    fn leaves(&self) -> Vec<Vec<u8>> {
        self.entries.iter().map(|(n, c)| leaf(n, c)).collect()
    }

    /// The registry's `poseidonRoot`.
    pub fn root(&self) -> [u8; 32] {
        otr_core::rollup::merkle::root(&self.leaves())
    }

    /// The commitment of matrix `name` with its audit path; `None` for no such matrix.
    pub fn opening(&self, name: &str) -> Option<MatrixOpening> {
        let index = self.entries.iter().position(|(n, _)| n == name)?;
        let p = otr_core::rollup::merkle::prove(&self.leaves(), index as u64).ok()?;
        Some(MatrixOpening {
            commitment: self.entries[index].1,
            index: p.leaf_index,
            size: p.tree_size,
            path: p.path,
        })
    }

    /// Cache file bytes: magic, weights root, u32be count, per entry u16be name length, name,
    /// `C_W`; then SHA-256 of everything before.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = FILE_MAGIC.to_vec();
        b.extend_from_slice(&self.weights_root);
        b.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for (n, c) in &self.entries {
            b.extend_from_slice(&(n.len() as u16).to_be_bytes());
            b.extend_from_slice(n.as_bytes());
            b.extend_from_slice(c);
        }
        let d: [u8; 32] = Sha256::digest(&b).into();
        b.extend_from_slice(&d);
        b
    }

    /// Parses [`Self::to_bytes`]; `None` for anything malformed (wrong magic, checksum,
    /// lengths, names out of order or not UTF-8).
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let body = b.len().checked_sub(32).map(|n| &b[..n])?;
        if <[u8; 32]>::from(Sha256::digest(body)) != b[body.len()..] {
            return None;
        }
        let rest = body.strip_prefix(FILE_MAGIC.as_slice())?;
        let (root, rest) = rest.split_first_chunk::<32>()?;
        let (count, mut rest) = rest.split_first_chunk::<4>()?;
        let mut entries = Vec::new();
        for _ in 0..u32::from_be_bytes(*count) {
            let (len, r) = rest.split_first_chunk::<2>()?;
            let len = u16::from_be_bytes(*len) as usize;
            if r.len() < len + 32 {
                return None;
            }
            let name = std::str::from_utf8(&r[..len]).ok()?.to_string();
            let c: [u8; 32] = r[len..len + 32].try_into().ok()?;
            if entries
                .last()
                .is_some_and(|(p, _): &(String, _)| p.as_bytes() >= name.as_bytes())
            {
                return None;
            }
            entries.push((name, c));
            rest = &r[len + 32..];
        }
        rest.is_empty().then_some(MatrixCommitments {
            weights_root: *root,
            entries,
        })
    }
}

/// The cache file of the converted-model cache `cache_path`.
pub fn cache_file(cache_path: &Path) -> PathBuf {
    cache_path.with_extension("zkm")
}

/// The commitments of the loaded model `info`: from the cache file when it holds this weights
/// root, else computed from the converted weights (on a pool of `threads` threads at the lowest
/// priority) and written to the cache file (a failed write is reported, not fatal).
pub fn load_or_compute(
    info: &otr_engine::ModelInfo,
    threads: usize,
) -> Result<(MatrixCommitments, Source), String> {
    let file = cache_file(&info.cache_path);
    if let Ok(b) = std::fs::read(&file) {
        match MatrixCommitments::from_bytes(&b) {
            Some(m) if m.weights_root == info.weights_root => return Ok((m, Source::Cached)),
            _ => eprintln!(
                "otr: {}: not this model's matrix commitments, recomputing",
                file.display()
            ),
        }
    }
    let t0 = Instant::now();
    let tensors = otr_engine::convert::cache::read(&info.cache_path, &info.gguf_sha256)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no converted weights", info.cache_path.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("otr-zkroot-{i}"))
        .start_handler(|_| {
            super::batcher::lower_thread_priority(19);
        })
        .build()
        .map_err(|e| format!("matrix commitments: {e}"))?;
    let m = pool.install(|| MatrixCommitments::compute(info.weights_root, &tensors));
    let took = t0.elapsed();
    let tmp = file.with_extension("zkm.tmp");
    if let Err(e) = std::fs::write(&tmp, m.to_bytes()).and_then(|()| std::fs::rename(&tmp, &file)) {
        eprintln!(
            "otr: {}: {e} (the commitments are not cached)",
            file.display()
        );
    }
    Ok((m, Source::Computed(took)))
}

/// The converted-model cache size below which the commitments are computed at registration
/// (the fixture models: under 1 MB, seconds); above it (Gemma 3 270M: 280 MB, minutes) they are
/// computed in the background and registered when ready ([`register_when_ready`]).
pub const INLINE_LIMIT_BYTES: u64 = 16 << 20;

/// A root computed once and shared by clones: the registry's `poseidonRoot` of the served
/// model. Cheap when its cache file exists or the model is small (then computed when first
/// asked, at registration); else computed on a background thread at the lowest priority.
#[derive(Clone)]
pub struct LazyRoot {
    cell: std::sync::Arc<std::sync::OnceLock<Option<[u8; 32]>>>,
    f: std::sync::Arc<dyn Fn() -> Option<[u8; 32]> + Send + Sync>,
    cheap: bool,
    started: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LazyRoot {
    pub fn new(cheap: bool, f: impl Fn() -> Option<[u8; 32]> + Send + Sync + 'static) -> Self {
        LazyRoot {
            cell: Default::default(),
            f: std::sync::Arc::new(f),
            cheap,
            started: Default::default(),
        }
    }

    /// An already known value (no computation).
    pub fn known(v: Option<[u8; 32]>) -> Self {
        Self::new(true, move || v)
    }

    /// The value, computing it on this thread if needed (blocks until it is known).
    pub fn get(&self) -> Option<[u8; 32]> {
        *self.cell.get_or_init(|| (self.f)())
    }

    /// The value when it is known or cheap; else `None` now, with the computation started on a
    /// background thread at the lowest priority (once).
    pub fn now_or_later(&self) -> Option<[u8; 32]> {
        if let Some(v) = self.cell.get() {
            return *v;
        }
        if self.cheap {
            return self.get();
        }
        if !self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let me = self.clone();
            let spawned = std::thread::Builder::new()
                .name("otr-zkroot".into())
                .spawn(move || {
                    super::batcher::lower_thread_priority(19);
                    me.get();
                });
            if let Err(e) = spawned {
                eprintln!("otr: starting the matrix-commitment thread: {e}");
            }
        }
        None
    }

    /// The root of the loaded model `info`'s matrices ([`load_or_compute`] on every core at
    /// the lowest priority), logged; `None` (logged) when it cannot be computed.
    pub fn of_model(info: otr_engine::ModelInfo) -> Self {
        let cheap = cache_file(&info.cache_path).exists()
            || std::fs::metadata(&info.cache_path).is_ok_and(|m| m.len() < INLINE_LIMIT_BYTES);
        Self::new(cheap, move || {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            match load_or_compute(&info, threads) {
                Ok((m, src)) => {
                    if let Source::Computed(t) = src {
                        eprintln!(
                            "otr: committed {} matrices (Poseidon, for the registry) in {:.1} s",
                            m.entries.len(),
                            t.as_secs_f64()
                        );
                    }
                    Some(m.root())
                }
                Err(e) => {
                    eprintln!("otr: the matrices' Poseidon commitments: {e}");
                    None
                }
            }
        })
    }
}

/// For a served model registered before its root was known (registered with a zero
/// `poseidonRoot`): waits on a background thread for the root, then, when the registry still
/// holds this model's weights root with a zero `poseidonRoot`, registers it again with the root
/// (same entry and verifying keys) from the deployment's owner (dev chains; on a chain whose
/// owner key the node does not hold, the transaction fails and is logged).
pub fn register_when_ready(node: std::sync::Arc<super::Node>) {
    let info = node.engine.info();
    if info.matrix_root.cell.get().is_some() || node.settlement.is_none() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("otr-zkroot-register".into())
        .spawn(move || {
            super::batcher::lower_thread_priority(19);
            let Some(root) = info.matrix_root.get() else {
                return;
            };
            let Some(s) = node.settlement.as_ref() else {
                return;
            };
            let d = s.deployment.clone();
            let r = s.with_host(move |h| reregister(h, &d, &info, root));
            match r {
                Ok(Ok(true)) => eprintln!(
                    "otr: registered the matrices' Poseidon root 0x{}",
                    hex::encode(root)
                ),
                Ok(Ok(false)) => {}
                Ok(Err(e)) | Err(e) => eprintln!("otr: registering the Poseidon root: {e}"),
            }
        });
    if let Err(e) = spawned {
        eprintln!("otr: starting the Poseidon root registration: {e}");
    }
}

/// Registers `root` as the model's `poseidonRoot` when the registry holds the model's weights
/// root with a zero one; `Ok(false)` when there is nothing to do.
pub fn reregister(
    h: &mut dyn otr_contracts::host::Host,
    d: &otr_contracts::deploy::Deployment,
    model: &super::inference::ModelInfo,
    root: [u8; 32],
) -> Result<bool, String> {
    use otr_contracts::bindings::model_registry::ModelRegistry;
    use otr_contracts::host;
    let e = |e: otr_contracts::CallError| e.to_string();
    let id = model.model_id.into();
    let mut m = host::view(h, d.registry, &ModelRegistry::modelCall { modelId: id }).map_err(e)?;
    if m.weightsRoot != model.weights_root || m.poseidonRoot != [0u8; 32] || root == [0u8; 32] {
        return Ok(false);
    }
    let vks = host::view(
        h,
        d.registry,
        &ModelRegistry::verifyingKeysCall { modelId: id },
    )
    .map_err(e)?;
    m.poseidonRoot = root.into();
    host::send(
        h,
        d.owner,
        d.registry,
        &ModelRegistry::registerModelCall {
            modelId: id,
            m,
            vks,
        },
        otr_contracts::U256::ZERO,
    )
    .map_err(e)?;
    Ok(true)
}

impl std::fmt::Debug for LazyRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cell.get() {
            Some(v) => write!(f, "{v:?}"),
            None => f.write_str("(not computed yet)"),
        }
    }
}

/// [`load_or_compute`] for a model name or GGUF path (`engine_impl::resolve`).
pub fn for_model(model: &str, threads: usize) -> Result<(MatrixCommitments, Source), String> {
    let (_, path) = super::engine_impl::resolve(model)?;
    let m = otr_engine::Model::load(&path, &otr_engine::default_cache_dir())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let info = m.info().clone();
    drop(m);
    load_or_compute(&info, threads)
}

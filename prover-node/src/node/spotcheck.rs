//! ZK spot-checks (DESIGN principle 7, `docs/PROTOCOL.md` §7.8): after a rollup batch is
//! posted and its seed block exists, the node derives from the seed which of the batch's
//! receipts are sampled and, for each, which matrix-vector step of its trace and which unit
//! (block of `R` rows) of that step; it proves the unit in a background thread at the lowest
//! CPU priority, one proof at a time, never on the answer path; and it attaches the proof to
//! the receipt's bundle (`zk_proofs`), which the node verifies with `otr-core` before serving.
//!
//! Durability: the request of every answered receipt is kept with it (`Store::request`), and
//! each batch's seed and each selected receipt's state (`queued`, `proved`, `failed`,
//! `skipped`) live in the node's store, so a restart resumes the queue where it stopped.
//!
//! Keys: finalized setup directories (`otr zk ceremony finalize --out-dir DIR`, each given as
//! `--zk-params DIR`), one per matrix shape; the steps a receipt can be sampled from are those
//! whose matrix has one of those shapes. The matrices and keys are the node's one
//! [`MatVecSetup`], shared with disputes and on-chain spot checks. Without `--zk-params`
//! spot-checks are off.

use std::sync::Arc;
use std::time::Duration;

use otr_core::rollup::{Hash, ZkProof};
use otr_core::zk::PreparedVk;
use otr_engine::weights::QMatrix;
use otr_engine::StepKey;
use otr_zk::commit::MatrixTree;
use otr_zk::keys::Keys;
use rusqlite::{params, OptionalExtension};

use super::dispute::MatVecSetup;
use super::Node;

/// Default `--spot-check-rate` (the devnet contract samples 1%).
pub const DEFAULT_RATE: f64 = 0.01;
/// Most selected receipts waiting for a proof; beyond it new selections are recorded as
/// `skipped` (and logged) instead of growing the queue without bound.
pub const MAX_QUEUED: usize = 256;
/// Domain of the step choice in `keccak256(abi.encode(seed, receiptHash, DOMAIN))`.
pub const STEP_DOMAIN: u8 = 2;
/// Domain of the unit choice.
pub const UNIT_DOMAIN: u8 = 3;

/// The spot-check prover of a node: the rate, and the model's matrices with the unit proving keys
/// of their shapes (the [`MatVecSetup`] the node also defends disputes and answers on-chain spot
/// checks with: one copy of the matrices).
pub struct SpotChecker {
    /// Selection threshold in parts per million (`rate * 1e6`).
    pub rate_ppm: u64,
    /// The matrices, keys and matrix commitments.
    pub setup: Arc<MatVecSetup>,
}

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut v = Vec::new();
    for p in parts {
        v.extend_from_slice(p);
    }
    otr_core::chain::keccak256(&v)
}

fn word(x: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&x.to_be_bytes());
    w
}

/// `uint256(h) mod m` for a 32-byte big-endian `h`.
fn mod_u256(h: &[u8; 32], m: u64) -> u64 {
    let mut r: u128 = 0;
    for b in h {
        r = ((r << 8) | *b as u128) % m as u128;
    }
    r as u64
}

/// Is a receipt selected: `uint256(keccak256(abi.encode(seed, receiptHash))) mod 1e6 < ppm`
/// (the rule of `SpotChecks.isSelected`; a higher rate selects a superset).
pub fn selected(seed: &Hash, receipt_hash: &Hash, rate_ppm: u64) -> bool {
    mod_u256(&keccak(&[seed, receipt_hash]), 1_000_000) < rate_ppm
}

/// `uint256(keccak256(abi.encode(seed, receiptHash, domain))) mod n` (`n > 0`).
pub fn draw(seed: &Hash, receipt_hash: &Hash, domain: u8, n: u64) -> u64 {
    mod_u256(
        &keccak(&[seed, receipt_hash, &word(domain as u64)]),
        n.max(1),
    )
}

impl SpotChecker {
    /// Loads the keys from `dirs` (one per matrix shape) and, from the engine's converted
    /// weights of `model`, every matrix of one of their shapes ([`MatVecSetup::load`]).
    /// `weights_root` must be the served model's.
    pub fn open(
        dirs: &[std::path::PathBuf],
        model: &str,
        weights_root: &Hash,
        rate: f64,
    ) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("--spot-check-rate must be in [0, 1], not {rate}"));
        }
        let setup = MatVecSetup::load(model, dirs)?;
        if &setup.info().weights_root != weights_root {
            return Err("the spot-check weights are not the served model's".into());
        }
        Ok(SpotChecker {
            rate_ppm: (rate * 1e6).round() as u64,
            setup: Arc::new(setup),
        })
    }

    /// The unit proving keys, one per matrix shape.
    pub fn keys(&self) -> &[Keys] {
        self.setup.keys()
    }

    /// The opening of matrix `name`'s commitment in the model's matrix root.
    fn matrix_opening(&self, name: &str) -> Result<super::zkroot::MatrixOpening, String> {
        self.setup
            .commitments()?
            .opening(name)
            .ok_or_else(|| format!("no registered commitment of {name}"))
    }

    /// How many of the model's matrices the keys can prove units of.
    pub fn matrix_count(&self) -> usize {
        self.setup.matrix_count()
    }

    /// The matrix of step `key`, when it has one of the keys' shapes: name, matrix, tree, keys.
    fn matrix_of(&self, key: StepKey) -> Option<(&str, &QMatrix, &MatrixTree, &Keys)> {
        self.setup.keyed_matrix(leaf_key_of(key))
    }

    /// Whether step `key` multiplies by a matrix of one of the keys' shapes (builds no tree).
    fn eligible(&self, key: StepKey) -> bool {
        self.setup.is_keyed(leaf_key_of(key))
    }

    /// The sampled (step index, unit) of a selected receipt whose trace has the step keys
    /// `keys` (trace order): the eligible steps are those whose matrix has one of the keys'
    /// shapes; the step is eligible[draw(STEP_DOMAIN) mod len], the unit draw(UNIT_DOMAIN) mod
    /// the units of that step's shape.
    pub fn sample(&self, seed: &Hash, receipt_hash: &Hash, keys: &[StepKey]) -> Option<(u64, u64)> {
        let eligible = eligible_steps(self, keys);
        if eligible.is_empty() {
            return None;
        }
        let step = eligible[draw(seed, receipt_hash, STEP_DOMAIN, eligible.len() as u64) as usize];
        let (_, _, _, k) = self.matrix_of(keys[step as usize])?;
        let unit = draw(seed, receipt_hash, UNIT_DOMAIN, k.shape.units() as u64);
        Some((step, unit))
    }

    /// The verifying keys a bundle check needs.
    pub fn verifying_keys(&self) -> Vec<(Hash, &PreparedVk)> {
        self.keys().iter().map(|k| (k.key_id, &k.vk)).collect()
    }
}

fn leaf_key_of(k: StepKey) -> super::dispute::LeafKey {
    super::dispute::LeafKey {
        pos: k.pos,
        stage: k.stage,
        op: k.op,
    }
}

/// The spot-checker `otr serve` runs: `None` (with a line saying why) without `--zk-params` or
/// without a settlement chain (no batches, no seeds); else the keys, the model's matrices of
/// their shape, and the store's spot-check tables.
pub fn open(
    config: &super::NodeConfig,
    store: &super::store::Store,
    model: &super::inference::ModelInfo,
    chain: Option<&super::settlement::Settlement>,
) -> Result<Option<SpotChecker>, String> {
    if config.zk_params.is_empty() {
        eprintln!("otr: ZK spot-checks: off (no --zk-params DIR; make one with `otr zk ceremony`)");
        return Ok(None);
    }
    let Some(chain) = chain else {
        eprintln!("otr: ZK spot-checks: off (--chain none: no posted batches, no seeds)");
        return Ok(None);
    };
    let sc = SpotChecker::open(
        &config.zk_params,
        &config.model,
        &model.weights_root,
        config.spot_check_rate,
    )?;
    init_store(store)?;
    let shapes: Vec<String> = sc
        .keys()
        .iter()
        .map(|k| {
            let s = k.shape;
            format!(
                "{} x {} (R = {}, keys {})",
                s.matrix_rows,
                s.cols,
                s.rows_per_unit,
                &hex::encode(k.key_id)[..16]
            )
        })
        .collect();
    eprintln!(
        "otr: ZK spot-checks: on, rate {} ({} ppm), matrices {} ({} of the model's matrices), proving in the background at the lowest priority",
        config.spot_check_rate,
        sc.rate_ppm,
        shapes.join(", "),
        sc.matrix_count()
    );
    // The contract's rate: a node below it leaves receipts the contract selects unproved.
    let d = chain.deployment.clone();
    let contract_ppm = chain.with_host(move |h| {
        otr_contracts::host::view(
            h,
            d.spot_checks,
            &otr_contracts::bindings::spot_checks::SpotChecks::rhoPpmCall {},
        )
        .map(|v| v.saturating_to::<u64>())
        .map_err(|e| e.to_string())
    })??;
    if sc.rate_ppm < contract_ppm {
        eprintln!(
            "otr: WARNING: ZK spot-checks: --spot-check-rate {} is below the SpotChecks contract's {} ppm: receipts it selects may stay unproved",
            config.spot_check_rate, contract_ppm
        );
    }
    if sc.matrix_count() == 0 {
        eprintln!("otr: WARNING: ZK spot-checks: no matrix of the model has the keys' shape; nothing can be proved");
    }
    Ok(Some(sc))
}

/// Creates the spot-check tables (idempotent).
pub fn init_store(store: &super::store::Store) -> Result<(), String> {
    store
        .with_conn(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS spot_batches (
                 batch_index INTEGER PRIMARY KEY,
                 seed BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS spot_checks (
                 receipt_id TEXT PRIMARY KEY,
                 batch_index INTEGER NOT NULL,
                 status TEXT NOT NULL,
                 step INTEGER,
                 unit INTEGER,
                 circuit_id BLOB,
                 proof BLOB,
                 public_inputs BLOB,
                 note TEXT
             );
             CREATE INDEX IF NOT EXISTS spot_checks_status ON spot_checks(status, batch_index);",
            )?;
            // The bundle statement of each proof (JSON), added after the table existed.
            let has: bool = c
                .prepare("SELECT 1 FROM pragma_table_info('spot_checks') WHERE name = 'statement'")?
                .exists([])?;
            if !has {
                c.execute_batch("ALTER TABLE spot_checks ADD COLUMN statement TEXT")?;
            }
            Ok(())
        })
        .map_err(|e: rusqlite::Error| format!("store: {e}"))
}

/// The proofs to attach to the bundle of receipt `id` (hook in `build_bundle`).
pub fn proofs_for(node: &Node, id: &str) -> Result<Vec<ZkProof>, String> {
    if node.spotcheck.is_none() {
        return Ok(vec![]);
    }
    type Row = (Vec<u8>, Vec<u8>, Vec<u8>, Option<String>);
    let row: Option<Row> = node
        .store
        .with_conn(|c| {
            c.query_row(
                "SELECT circuit_id, proof, public_inputs, statement FROM spot_checks
                 WHERE receipt_id = ?1 AND status = 'proved'",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })
        .map_err(|e| format!("store: {e}"))?;
    let Some((cid, proof, inputs, statement)) = row else {
        return Ok(vec![]);
    };
    let statement = statement
        .map(|t| serde_json::from_str(&t).map_err(|e| format!("store: statement: {e}")))
        .transpose()?;
    let circuit_id: Hash = cid
        .try_into()
        .map_err(|_| "store: bad circuit id".to_string())?;
    Ok(vec![ZkProof {
        circuit_id,
        proof,
        public_inputs: inputs
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0u8; 32]))
            .collect(),
        statement,
    }])
}

/// What `/v1/node` says about spot-checks (hook in the API): `null` when off; else the rate,
/// the shape, the key id (the bundles' `circuit_id`) and the verifying key in snarkjs JSON, so
/// that a client can check the `zk_proofs` of this node's bundles.
pub fn node_info(node: &Node) -> serde_json::Value {
    let Some(sc) = &node.spotcheck else {
        return serde_json::Value::Null;
    };
    let entry = |k: &Keys| {
        let s = k.shape;
        let vk: serde_json::Value =
            serde_json::from_str(&otr_core::zk::snarkjs::vk_to_json(k.vk.vk())).unwrap_or_default();
        serde_json::json!({
            "shape": {"matrix_rows": s.matrix_rows, "cols": s.cols, "rows_per_unit": s.rows_per_unit},
            "circuit_id": hex::encode(k.key_id),
            "verification_key": vk,
        })
    };
    let keys: Vec<serde_json::Value> = sc.keys().iter().map(entry).collect();
    // The first key's fields stay at the top level (what single-key clients read).
    let mut v = keys.first().cloned().unwrap_or_default();
    v["rate_ppm"] = sc.rate_ppm.into();
    v["keys"] = keys.into();
    v
}

/// The verifying keys for the node's own bundle check (hook in `self_check`).
pub fn verifying_keys(node: &Node) -> Vec<(Hash, &PreparedVk)> {
    node.spotcheck
        .as_ref()
        .map(|s| s.verifying_keys())
        .unwrap_or_default()
}

/// The seed of batch `index` from the SpotChecks contract: read it, or record it once the
/// seed block exists. On a dev chain (the embedded one, where the node is the only block
/// producer, or a dev RPC node) blocks are mined up to the seed block; on a chain that refuses
/// that, `None` until it exists.
pub(crate) fn seed_of(node: &Node, index: u64) -> Result<Option<Hash>, String> {
    use otr_contracts::bindings::spot_checks::SpotChecks;
    use otr_contracts::host::{self, Host};
    let Some(s) = &node.settlement else {
        return Ok(None);
    };
    let (d, from) = (s.deployment.clone(), s.node);
    s.with_host(
        move |chain: &mut dyn Host| -> Result<Option<Hash>, String> {
            let seed = host::view(
                chain,
                d.spot_checks,
                &SpotChecks::seedOfCall(otr_contracts::U256::from(index)),
            )
            .map(|s| s.0)
            .map_err(|e| e.to_string())?;
            if seed != [0u8; 32] {
                return Ok(Some(seed));
            }
            for _ in 0..8 {
                match d.record_seed(chain, from, index) {
                    Ok(seed) => return Ok(Some(seed)),
                    Err(e) if e.to_string().contains("SeedNotYet") => {
                        // A dev chain mines on request; a public chain refuses: wait for its blocks.
                        if chain.advance(0, 1).is_err() {
                            return Ok(None);
                        }
                    }
                    Err(e) => return Err(format!("recordSeed({index}): {e}")),
                }
            }
            Ok(None)
        },
    )?
}

/// One pass: records seeds and selections of newly posted batches, then proves at most one
/// queued unit. Returns whether it proved (or failed) one, so the caller loops at once.
pub fn step_once(node: &Node) -> Result<bool, String> {
    let Some(sc) = &node.spotcheck else {
        return Ok(false);
    };
    select_new_batches(node, sc)?;
    prove_next(node, sc)
}

fn select_new_batches(node: &Node, sc: &SpotChecker) -> Result<(), String> {
    let todo = unseen_batches(node, "spot_batches")?;
    for (index, first, size) in todo {
        let Some(seed) = seed_of(node, index)? else {
            return Ok(()); // later batches' seeds come later still
        };

        let queued: usize = node
            .store
            .with_conn(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM spot_checks WHERE status = 'queued'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            })
            .map_err(|e| format!("store: {e}"))? as usize;
        let picked = selected_in_batch(node, &seed, first, size, sc.rate_ppm)?;
        node.store
            .with_conn(|c| -> rusqlite::Result<()> {
                let tx = c.unchecked_transaction()?;
                for (i, id) in picked.iter().enumerate() {
                    let (status, note) = if queued + i < MAX_QUEUED {
                        ("queued", None)
                    } else {
                        ("skipped", Some("proof queue full"))
                    };
                    tx.execute(
                        "INSERT OR IGNORE INTO spot_checks (receipt_id, batch_index, status, note)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![id, index, status, note],
                    )?;
                }
                tx.execute(
                    "INSERT INTO spot_batches (batch_index, seed) VALUES (?1, ?2)",
                    params![index, seed.to_vec()],
                )?;
                tx.commit()
            })
            .map_err(|e| format!("store: {e}"))?;
        if !picked.is_empty() {
            eprintln!(
                "otr: spot-check: batch {index}: {} receipt(s) selected (seed {})",
                picked.len(),
                hex::encode(seed)
            );
        }
    }
    Ok(())
}

/// Posted batches (index, first sequence, size) not yet in `seen` (a table of this module or of
/// `spotchain` with a `batch_index` column), in order.
pub(crate) fn unseen_batches(node: &Node, seen: &str) -> Result<Vec<(u64, u64, u64)>, String> {
    node.store
        .with_conn(|c| {
            let mut st = c.prepare(&format!(
                "SELECT batch_index, first_seq, size FROM rollup_batches
                 WHERE batch_index NOT IN (SELECT batch_index FROM {seen})
                 ORDER BY batch_index"
            ))?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("store: {e}"))
}

/// The receipts of the batch of micro-batches `first .. first + size` that [`selected`] picks
/// with `seed` at `rate_ppm`, in answer order.
pub(crate) fn selected_in_batch(
    node: &Node,
    seed: &Hash,
    first: u64,
    size: u64,
    rate_ppm: u64,
) -> Result<Vec<String>, String> {
    let receipts: Vec<(String, Vec<u8>)> = node
        .store
        .with_conn(|c| {
            let mut st = c.prepare(
                "SELECT id, receipt_hash FROM receipts WHERE batch_seq >= ?1 AND batch_seq < ?2
                 ORDER BY n",
            )?;
            let rows =
                st.query_map(params![first, first + size], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| format!("store: {e}"))?;
    let mut picked = Vec::new();
    for (id, h) in receipts {
        let h: Hash = h
            .try_into()
            .map_err(|_| "store: bad receipt hash".to_string())?;
        if selected(seed, &h, rate_ppm) {
            picked.push(id);
        }
    }
    Ok(picked)
}

/// The first queued receipt of `checks` (receipt id, batch index) with its batch's seed from
/// `batches`.
pub(crate) fn next_queued(
    node: &Node,
    checks: &str,
    batches: &str,
) -> Result<Option<(String, u64, Hash)>, String> {
    let next: Option<(String, u64, Vec<u8>)> = node
        .store
        .with_conn(|c| {
            c.query_row(
                &format!(
                    "SELECT s.receipt_id, s.batch_index, b.seed FROM {checks} s
                     JOIN {batches} b ON b.batch_index = s.batch_index
                     WHERE s.status = 'queued' ORDER BY s.batch_index, s.receipt_id LIMIT 1"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
        .map_err(|e| format!("store: {e}"))?;
    next.map(|(id, index, seed)| {
        let seed: Hash = seed.try_into().map_err(|_| "store: bad seed".to_string())?;
        Ok((id, index, seed))
    })
    .transpose()
}

fn set_status(node: &Node, id: &str, status: &str, note: &str) -> Result<(), String> {
    node.store
        .with_conn(|c| {
            c.execute(
                "UPDATE spot_checks SET status = ?2, note = ?3 WHERE receipt_id = ?1",
                params![id, status, note],
            )
        })
        .map(|_| ())
        .map_err(|e| format!("store: {e}"))
}

fn prove_next(node: &Node, sc: &SpotChecker) -> Result<bool, String> {
    let Some((id, index, seed)) = next_queued(node, "spot_checks", "spot_batches")? else {
        return Ok(false);
    };
    match prove_receipt(node, sc, &id, &seed) {
        Ok((step, unit, proof)) => {
            node.store
                .with_conn(|c| {
                    c.execute(
                        "UPDATE spot_checks SET status = 'proved', step = ?2, unit = ?3,
                         circuit_id = ?4, proof = ?5, public_inputs = ?6, note = NULL,
                         statement = ?7
                         WHERE receipt_id = ?1",
                        params![
                            id,
                            step,
                            unit,
                            proof.circuit_id.to_vec(),
                            proof.proof,
                            proof.public_inputs.concat(),
                            proof
                                .statement
                                .as_ref()
                                .and_then(|st| serde_json::to_string(st).ok())
                        ],
                    )
                })
                .map_err(|e| format!("store: {e}"))?;
            eprintln!("otr: spot-check: {id} (batch {index}) step {step} unit {unit} proved");
        }
        Err((status, why)) => {
            eprintln!("otr: spot-check: {id} (batch {index}) {status}: {why}");
            set_status(node, &id, status, &why)?;
        }
    }
    Ok(true)
}

/// Re-runs the receipt's request, checks the re-run against the receipt's trace root, derives
/// the sampled step and unit, proves the unit and verifies the proof with the core verifier.
fn prove_receipt(
    node: &Node,
    sc: &SpotChecker,
    id: &str,
    seed: &Hash,
) -> Result<(u64, u64, ZkProof), (&'static str, String)> {
    let fail = |e: String| ("failed", e);
    let run = super::spotchain::rerun(node, id).map_err(|(stage, e)| match stage {
        super::spotchain::RerunStage::NoRequest => ("skipped", e),
        _ => fail(format!("{}: {e}", stage.code())),
    })?;
    let (prompt, sampling) = (run.prompt, run.sampling);
    let keys = trace_keys(&run.leaves).map_err(fail)?;
    let rh = run.receipt.receipt_hash();
    let Some((step, unit)) = sc.sample(seed, &rh, &keys) else {
        return Err(("skipped", "no step of the keys' shape in this trace".into()));
    };
    let (mut zk, tensors) = prove_step(
        sc,
        node.engine.as_ref(),
        &prompt,
        &sampling,
        run.run,
        &run.leaves,
        step,
        unit,
    )
    .map_err(fail)?;
    zk.statement =
        Some(statement_for(sc, &run.receipt, &run.leaves, step, &tensors, &zk).map_err(fail)?);
    Ok((step, unit, zk))
}

/// The step keys of trace leaves (trace order).
pub fn trace_keys(leaves: &[Vec<u8>]) -> Result<Vec<StepKey>, String> {
    leaves
        .iter()
        .map(|l| leaf_key(l).ok_or_else(|| "malformed trace leaf".to_string()))
        .collect()
}

/// Proves unit `unit` of trace step `step` of the run (`leaves`: its trace), and verifies the
/// proof with the core verifier (the check every client runs on the bundle).
#[allow(clippy::too_many_arguments)]
pub fn prove_step(
    sc: &SpotChecker,
    engine: &dyn super::inference::Inference,
    prompt: &str,
    sampling: &otr_core::rollup::SamplingParams,
    run: super::inference::RunKind,
    leaves: &[Vec<u8>],
    step: u64,
    unit: u64,
) -> Result<(ZkProof, StepTensors), String> {
    let leaf = leaves
        .get(step as usize)
        .ok_or_else(|| format!("step {step} of a {}-step trace", leaves.len()))?;
    let key = leaf_key(leaf).ok_or("malformed trace leaf")?;
    let (_, w, tree, keys) = sc.matrix_of(key).ok_or_else(|| {
        let shapes: Vec<String> = sc
            .keys()
            .iter()
            .map(|k| format!("{} x {}", k.shape.matrix_rows, k.shape.cols))
            .collect();
        format!(
            "step {step} ({key:?}) is not a matrix-vector product by a matrix of the setups' shapes ({})",
            shapes.join(", ")
        )
    })?;
    let mut inputs = engine.step_inputs(prompt, sampling, run, step)?;
    if inputs.is_empty() {
        return Err("the step has no input".into());
    }
    let x = inputs.swap_remove(0);
    let digest: [u8; 32] = leaf[leaf.len() - 32..]
        .try_into()
        .map_err(|_| "malformed trace leaf")?;
    let mut rng = rand_core_rng();
    let p = otr_zk::step::prove_step_unit(keys, w, tree, &x, Some(digest), unit, &mut rng)
        .map_err(|e| format!("{} ({})", e, e.code()))?;
    let zk = ZkProof {
        circuit_id: keys.key_id,
        proof: p.proof.proof.to_vec(),
        public_inputs: p.public_inputs,
        statement: None,
    };
    keys.vk
        .verify_bytes(&zk.proof, &zk.public_inputs)
        .map_err(|e| format!("{} ({})", e, otr_core::ErrorCode::code(&e)))?;
    Ok((zk, StepTensors { x, y: p.output }))
}

/// A proved matrix-vector step's input (`Act16` bytes) and whole output (`i64le`).
pub struct StepTensors {
    pub x: Vec<u8>,
    pub y: Vec<u8>,
}

/// The bundle statement of `zk`, a proof of trace step `step` of `receipt` (trace `leaves`)
/// whose tensors are `t`: the step and its input leaf opened in the trace, the whole output, and
/// the matrix commitment opened in the model's matrix root; checked with the core's
/// [`otr_core::zk::statement::check_statement`] (what every client runs on the bundle).
pub fn statement_for(
    sc: &SpotChecker,
    receipt: &otr_core::rollup::Receipt,
    leaves: &[Vec<u8>],
    step: u64,
    t: &StepTensors,
    zk: &ZkProof,
) -> Result<otr_core::rollup::ZkStatement, String> {
    let leaf = leaves.get(step as usize).ok_or("step out of range")?;
    let key = leaf_key(leaf).ok_or("malformed trace leaf")?;
    let (name, _, _, keys) = sc
        .matrix_of(key)
        .ok_or("not a matrix-vector step by a matrix of the keys' shapes")?;
    let input = super::dispute::find_input_in(
        |i| &leaves[i as usize],
        step,
        super::dispute::mat_vec_input(super::dispute::LeafKey {
            pos: key.pos,
            stage: key.stage,
            op: key.op,
        }),
    )?;
    let opening = sc.matrix_opening(name)?;
    if zk.public_inputs.first() != Some(&opening.commitment) {
        return Err(format!(
            "{name}: the proof's C_W is not the registered commitment"
        ));
    }
    let st = otr_zk::step::statement(
        leaves,
        step,
        input,
        &t.x,
        &t.y,
        keys.shape.rows_per_unit,
        name,
        (opening.index, opening.size, opening.path),
    )
    .map_err(|e| e.to_string())?;
    otr_core::zk::statement::check_statement(
        &st,
        &zk.public_inputs,
        receipt,
        &otr_core::zk::poseidon::Poseidon::new(),
    )
    .map_err(|e| format!("{} ({})", e, otr_core::ErrorCode::code(&e)))?;
    Ok(st)
}

/// The eligible steps of a trace: those whose matrix has the keys' shape.
pub fn eligible_steps(sc: &SpotChecker, keys: &[StepKey]) -> Vec<u64> {
    keys.iter()
        .enumerate()
        .filter(|(_, k)| sc.eligible(**k))
        .map(|(i, _)| i as u64)
        .collect()
}

/// The step key of a trace leaf (engine `trace::leaf`: tag, u32be pos, u16be stage, u8 op,
/// SHA-256 of the output).
fn leaf_key(leaf: &[u8]) -> Option<StepKey> {
    otr_core::zk::statement::trace_leaf(leaf).map(|(k, _)| StepKey {
        pos: k.pos,
        stage: k.stage,
        op: k.op,
    })
}

fn rand_core_rng() -> rand_chacha::ChaCha20Rng {
    use rand_chacha::rand_core::SeedableRng;
    let mut seed = [0u8; 32];
    let _ = getrandom::getrandom(&mut seed);
    rand_chacha::ChaCha20Rng::from_seed(seed)
}

/// Lowers the calling thread's CPU priority to the minimum (nice 19; Linux: per thread).
pub(crate) fn lowest_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id only changes its scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// Starts the background prover thread (nothing when spot-checks are off). It polls every
/// `post_interval_ms` and proves one unit at a time; proving runs in a one-thread rayon pool of
/// its own, at the lowest priority, so it never takes a core from answering.
pub fn start(node: Arc<Node>) {
    if node.spotcheck.is_none() {
        return;
    }
    let interval = Duration::from_millis(node.config.post_interval_ms.clamp(50, 5000));
    let spawned = std::thread::Builder::new()
        .name("otr-spotcheck".into())
        .spawn(move || {
            lowest_priority();
            let pool = match rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(|_| "otr-spotcheck-prover".into())
                .start_handler(|_| lowest_priority())
                .build()
            {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("otr: spot-check: no prover thread: {e}");
                    return;
                }
            };
            // An error that repeats (a chain that cannot give seeds) is reported once.
            let mut last_error = String::new();
            loop {
                match pool.install(|| step_once(&node)) {
                    Ok(true) => continue,
                    Ok(false) => last_error.clear(),
                    Err(e) => {
                        if e != last_error {
                            eprintln!("otr: spot-check: {e} (retrying)");
                            last_error = e;
                        }
                    }
                }
                std::thread::sleep(interval);
            }
        });
    if let Err(e) = spawned {
        eprintln!("otr: spot-check: could not start the prover thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otr_contracts::U256;

    /// `mod_u256` is `uint256(h) % m`, and the draws hash `abi.encode` of 32-byte words.
    #[test]
    fn draws_match_uint256_arithmetic() {
        for i in 0..64u8 {
            let seed = keccak(&[&[i]]);
            let h = keccak(&[&[i, 1]]);
            for m in [1u64, 7, 1_000_000, 160, u64::MAX] {
                let want = U256::from_be_bytes(keccak(&[&seed, &h])) % U256::from(m);
                assert_eq!(U256::from(mod_u256(&keccak(&[&seed, &h]), m)), want);
                let mut enc = seed.to_vec();
                enc.extend_from_slice(&h);
                enc.extend_from_slice(&U256::from(3u64).to_be_bytes::<32>());
                let want = U256::from_be_bytes(otr_core::chain::keccak256(&enc)) % U256::from(m);
                assert_eq!(U256::from(draw(&seed, &h, 3, m)), want);
            }
            // Selection is monotone in the rate: a higher rate selects a superset.
            let (lo, hi) = (10_000, 20_000);
            assert!(!selected(&seed, &h, lo) || selected(&seed, &h, hi));
            assert!(selected(&seed, &h, 1_000_000) && !selected(&seed, &h, 0));
        }
    }

    #[test]
    fn leaf_keys_parse_engine_leaves() {
        let k = StepKey {
            pos: 7,
            stage: 3,
            op: 11,
        };
        let leaf = otr_engine::model::trace::leaf(k, &[9u8; 32]);
        assert_eq!(leaf_key(&leaf), Some(k));
        assert_eq!(leaf_key(&leaf[1..]), None);
        let mut other = leaf.clone();
        other[0] ^= 1;
        assert_eq!(leaf_key(&other), None);
    }
}

//! On-chain spot checks (contract `SpotChecks`, DESIGN principle 7, `docs/PROTOCOL.md` §7.8,
//! "On-chain spot checks"): the contract selects a receipt of a posted batch when
//! `keccak256(abi.encode(seed, receiptHash)) mod 10^6 < rhoPpm` and samples an index of its
//! trace, `keccak256(abi.encode(seed, receiptHash, 1)) mod trace_steps`; the node must prove the
//! first layer matrix-vector step at or after it (`Q K V O GATE UP DOWN`, wrapping to the trace's
//! start) with `proveSpotCheck` before the batch's proof deadline: the leaves skipped on the way,
//! the step's whole output, and a unit proof of the unit the seed draws (`keccak256(seed,
//! receiptHash, 4) mod rows/R`), with the keys of `--zk-params` ([`super::Node::mat_vec`]).
//! Otherwise anyone may report it missed and it is slashed. This module is the node's side:
//! after each of its batches is posted and its seed block exists, it records the seed
//! (`spotcheck::seed_of`), finds its selected receipts by the contract's rule and rate,
//! re-executes each from the stored request (checked against the receipt's trace root), and
//! proves. A receipt it cannot prove (no keys for the matrix's shape, no `MatVecStepVerifier`
//! registered for the operator) is recorded `unprovable` with the reason, which is also what
//! `reportMissed` will slash after the deadline.
//!
//! Runs on a thread of its own at the lowest CPU priority, one receipt at a time; its state
//! (`chain_spot_batches`, `chain_spot_checks`) lives in the node's store, so a restart resumes.

use std::sync::Arc;
use std::time::Duration;

use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::spot_checks::SpotChecks;
use otr_contracts::host::{self, Host};
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::Address;
use otr_core::rollup::{Hash, Receipt, SamplingParams};
use rusqlite::params;

use super::dispute::{self, Replay};
use super::inference::RunKind;
use super::Node;

/// Domain of the step choice in `keccak256(abi.encode(seed, receiptHash, 1))`
/// (`SpotChecks.selectedStep`).
pub const STEP_DOMAIN: u8 = 1;
/// Domain of the unit choice at a matrix-vector step (`SpotChecks.selectedUnit`).
pub const UNIT_DOMAIN: u8 = 4;

/// Creates the tables of this module.
pub fn init_store(store: &super::store::Store) -> Result<(), String> {
    store
        .with_conn(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS chain_spot_batches (
                     batch_index INTEGER PRIMARY KEY,
                     seed BLOB NOT NULL,
                     rho_ppm INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS chain_spot_checks (
                     receipt_id TEXT PRIMARY KEY,
                     batch_index INTEGER NOT NULL,
                     status TEXT NOT NULL,
                     step INTEGER,
                     note TEXT
                 );",
            )
        })
        .map_err(|e| format!("store: {e}"))
}

/// A receipt re-executed from its stored request, checked against its trace root.
pub struct Rerun {
    pub receipt: Receipt,
    pub prompt: String,
    pub sampling: SamplingParams,
    pub run: RunKind,
    /// The trace leaves of the re-execution (the receipt's trace).
    pub leaves: Vec<Vec<u8>>,
}

/// Where re-executing a stored receipt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RerunStage {
    Store,
    NoReceipt,
    NoRequest,
    Request,
    Engine,
    TraceMismatch,
}

impl RerunStage {
    /// Stable code (`RERUN_*`).
    pub fn code(self) -> &'static str {
        match self {
            RerunStage::Store => "RERUN_STORE",
            RerunStage::NoReceipt => "RERUN_NO_RECEIPT",
            RerunStage::NoRequest => "RERUN_NO_REQUEST",
            RerunStage::Request => "RERUN_REQUEST",
            RerunStage::Engine => "RERUN_ENGINE",
            RerunStage::TraceMismatch => "RERUN_TRACE_MISMATCH",
        }
    }
}

/// Why a receipt could not be re-executed, and a message.
pub type RerunError = (RerunStage, String);

/// Re-executes receipt `id` from the node's store: the stored request through the engine, as
/// the node ran it; refuses a re-run whose trace root is not the receipt's.
pub fn rerun(node: &Node, id: &str) -> Result<Rerun, RerunError> {
    let (receipt, _) = node
        .store
        .receipt(id)
        .map_err(|e| (RerunStage::Store, e))?
        .ok_or((
            RerunStage::NoReceipt,
            format!("no receipt {id} in the store"),
        ))?;
    rerun_receipt(&node.store, node.engine.as_ref(), id, receipt)
}

/// [`rerun`] of a receipt already read from `store`.
pub fn rerun_receipt(
    store: &super::store::Store,
    engine: &dyn super::inference::Inference,
    id: &str,
    receipt: Receipt,
) -> Result<Rerun, RerunError> {
    let req = store
        .request(id)
        .map_err(|e| (RerunStage::Store, e))?
        .ok_or((
            RerunStage::NoRequest,
            format!("no stored request for receipt {id} (answered before requests were kept)"),
        ))?;
    let body: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| (RerunStage::Request, format!("stored request: {e}")))?;
    let (prompt, sampling) = super::api::prompt_and_sampling(engine, &body, req.chat, &req.nonce)
        .map_err(|e| (RerunStage::Request, e))?;
    let run = engine
        .trace(&prompt, &sampling, req.run)
        .map_err(|e| (RerunStage::Engine, e))?;
    if run.generation.trace_root != receipt.trace_root {
        return Err((
            RerunStage::TraceMismatch,
            format!("re-executing receipt {id} does not give its trace root"),
        ));
    }
    Ok(Rerun {
        receipt,
        prompt,
        sampling,
        run: req.run,
        leaves: run.leaves,
    })
}

/// One pass: records the seeds and selections of newly posted batches, then proves at most one
/// selected receipt. Returns whether it handled one, so the caller loops at once.
pub fn step_once(node: &Node) -> Result<bool, String> {
    if node.settlement.is_none() {
        return Ok(false);
    }
    select_new_batches(node)?;
    prove_next(node)
}

fn rho_ppm(node: &Node) -> Result<u64, String> {
    let s = node.settlement.as_ref().ok_or("no settlement chain")?;
    let d = s.deployment.clone();
    s.with_host(move |h: &mut dyn Host| {
        host::view(h, d.spot_checks, &SpotChecks::rhoPpmCall {})
            .map(|v| v.saturating_to::<u64>())
            .map_err(|e| format!("SpotChecks.rhoPpm: {e}"))
    })?
}

fn select_new_batches(node: &Node) -> Result<(), String> {
    let todo = super::spotcheck::unseen_batches(node, "chain_spot_batches")?;
    if todo.is_empty() {
        return Ok(());
    }
    let rho = rho_ppm(node)?;
    for (index, first, size) in todo {
        let Some(seed) = super::spotcheck::seed_of(node, index)? else {
            return Ok(()); // later batches' seeds come later still
        };
        let picked = super::spotcheck::selected_in_batch(node, &seed, first, size, rho)?;
        node.store
            .with_conn(|c| -> rusqlite::Result<()> {
                let tx = c.unchecked_transaction()?;
                for id in &picked {
                    tx.execute(
                        "INSERT OR IGNORE INTO chain_spot_checks (receipt_id, batch_index, status)
                         VALUES (?1, ?2, 'queued')",
                        params![id, index],
                    )?;
                }
                tx.execute(
                    "INSERT INTO chain_spot_batches (batch_index, seed, rho_ppm) VALUES (?1, ?2, ?3)",
                    params![index, seed.to_vec(), rho as i64],
                )?;
                tx.commit()
            })
            .map_err(|e| format!("store: {e}"))?;
        if !picked.is_empty() {
            eprintln!(
                "otr: on-chain spot check: batch {index}: {} receipt(s) selected by SpotChecks",
                picked.len()
            );
        }
    }
    Ok(())
}

fn set_status(node: &Node, id: &str, status: &str, step: Option<u64>, note: Option<&str>) {
    let r = node.store.with_conn(|c| {
        c.execute(
            "UPDATE chain_spot_checks SET status = ?2, step = ?3, note = ?4 WHERE receipt_id = ?1",
            params![id, status, step, note],
        )
    });
    if let Err(e) = r {
        eprintln!("otr: on-chain spot check: store: {e}");
    }
}

/// What became of one selected receipt.
#[derive(Debug)]
enum Outcome {
    /// The matrix-vector step proved with the unit the seed drew: (step, unit, units).
    Proved(u64, u64, u64),
    /// Not yet (the unit proving keys are still loading): kept queued.
    Later,
    /// No step verifier for the sampled operator, or no witness for it.
    Unprovable(u64, String),
    /// The deadline passed first.
    Missed(u64, String),
    /// Anything else (re-execution, chain): recorded with its code.
    Failed(String),
}

fn prove_next(node: &Node) -> Result<bool, String> {
    let Some((id, index, seed)) =
        super::spotcheck::next_queued(node, "chain_spot_checks", "chain_spot_batches")?
    else {
        return Ok(false);
    };
    let out = prove_receipt(node, &id, &seed);
    let tag = format!("otr: on-chain spot check: {id} (batch {index})");
    match out {
        Outcome::Proved(step, unit, units) => {
            let note = format!("matrix-vector unit {unit} of {units}");
            eprintln!("{tag}: step {step} proved ({note})");
            set_status(node, &id, "proved", Some(step), Some(&note));
        }
        // Kept queued; the next poll tries again.
        Outcome::Later => return Ok(false),
        Outcome::Unprovable(step, why) => {
            eprintln!("{tag}: step {step} cannot be proved: {why}");
            set_status(node, &id, "unprovable", Some(step), Some(&why));
        }
        Outcome::Missed(step, why) => {
            eprintln!("{tag}: step {step} missed: {why}");
            set_status(node, &id, "missed", Some(step), Some(&why));
        }
        Outcome::Failed(why) => {
            eprintln!("{tag}: failed: {why}");
            set_status(node, &id, "failed", None, Some(&why));
        }
    }
    Ok(true)
}

/// The sampled step of a receipt: `SpotChecks.selectedStep`.
pub fn sampled_step(seed: &Hash, receipt_hash: &Hash, trace_steps: u64) -> u64 {
    if trace_steps == 0 {
        return 0;
    }
    super::spotcheck::draw(seed, receipt_hash, STEP_DOMAIN, trace_steps)
}

fn prove_receipt(node: &Node, id: &str, seed: &Hash) -> Outcome {
    let r = match rerun(node, id) {
        Ok(r) => r,
        Err((stage, e)) => return Outcome::Failed(format!("{}: {e}", stage.code())),
    };
    let rref = match super::api::receipt_ref(node, id) {
        Ok(Some(r)) => r,
        Ok(None) => return Outcome::Failed("the receipt's batch is not posted".into()),
        Err(e) => return Outcome::Failed(e),
    };
    let trace = Trace::new(r.leaves);
    let sampled = sampled_step(seed, &r.receipt.receipt_hash(), trace.len());
    let Some(s) = &node.settlement else {
        return Outcome::Failed("no settlement chain".into());
    };
    let (d, model_id) = (s.deployment.clone(), r.receipt.model_id);
    let num_layers = s.with_host(move |h: &mut dyn Host| -> Result<u16, String> {
        Ok(host::view(
            h,
            d.registry,
            &ModelRegistry::modelCall {
                modelId: model_id.into(),
            },
        )
        .map_err(|e| e.to_string())?
        .numLayers)
    });
    let num_layers = match num_layers {
        Ok(Ok(n)) => n,
        Ok(Err(e)) | Err(e) => return Outcome::Failed(format!("chain: {e}")),
    };
    // The proved step: the first layer matrix-vector step at or after the sampled index.
    let Some((skipped, step)) = otr_contracts::proofs::spot_check_step(&trace, sampled, num_layers)
    else {
        return Outcome::Unprovable(sampled, "the trace has no layer matrix-vector step".into());
    };
    let Some(key) = dispute::leaf_key(trace.leaf(step)) else {
        return Outcome::Unprovable(step, "malformed trace leaf".into());
    };
    let d = s.deployment.clone();
    // A unit verifier: named, and not the refutation verifier that settles disputes at the
    // shapes without keys (a spot check needs a proof).
    let verifier = s.with_host(move |h: &mut dyn Host| {
        let v = d
            .step_verifier(h, model_id, key.stage, key.op)
            .map_err(|e| e.to_string())?;
        let refutable = v != Address::ZERO
            && d.refutable(h, model_id, key.stage, key.op)
                .map_err(|e| e.to_string())?;
        Ok::<_, String>(if refutable { Address::ZERO } else { v })
    });
    match verifier {
        Ok(Ok(v)) if v == Address::ZERO => {
            return Outcome::Unprovable(
                step,
                format!(
                    "no step verifier proves units of operator {} at stage {} (the registry's owner names the MatVecStepVerifier: `otr chain register-matvec`; disputes there are settled by refutation)",
                    key.op, key.stage
                ),
            )
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) | Err(e) => return Outcome::Failed(format!("chain: {e}")),
    }
    let replay = Replay {
        engine: node.engine.as_ref(),
        prompt: &r.prompt,
        sampling: &r.sampling,
        run: r.run,
    };
    let rh = r.receipt.receipt_hash();
    prove_mat_vec(node, replay, rref, trace, &skipped, step, key, seed, &rh)
}

/// The proof of a spot check (`SpotChecks.proveSpotCheck`): the leaves skipped from the sampled
/// index, the matrix-vector step's whole output and one unit proof of the unit the seed draws
/// (`keccak256(seed, receiptHash, 4) mod rows/R`), with the keys of the matrix's shape
/// (`--zk-params`, [`super::Node::mat_vec`]).
#[allow(clippy::too_many_arguments)]
fn prove_mat_vec(
    node: &Node,
    replay: Replay<'_>,
    rref: ReceiptRef,
    trace: Trace,
    skipped: &[u64],
    step: u64,
    key: dispute::LeafKey,
    seed: &Hash,
    receipt_hash: &Hash,
) -> Outcome {
    let Some(setup) = node.mat_vec.get() else {
        if !node.config.zk_params.is_empty() {
            return Outcome::Later; // the unit proving keys are still loading
        }
        return Outcome::Unprovable(
            step,
            "matrix-vector step: no unit proving keys (start the node with --zk-params)".into(),
        );
    };
    let input = match dispute::find_input(&trace, step, dispute::mat_vec_input(key)) {
        Ok(i) => i,
        Err(e) => return Outcome::Unprovable(step, e),
    };
    let (rows, unit_rows) = match setup.unit_shape(key) {
        Ok(s) => s,
        Err(e) => return Outcome::Unprovable(step, e),
    };
    let unit = super::spotcheck::draw(seed, receipt_hash, UNIT_DOMAIN, rows / unit_rows);
    let mut material = dispute::MatVecReplay {
        replay,
        setup: setup.as_ref(),
    };
    let u = match dispute::StepMaterial::mat_vec_unit(&mut material, step, key, unit * unit_rows) {
        Ok(u) => u,
        Err(e) => return Outcome::Unprovable(step, e),
    };
    let Some(s) = &node.settlement else {
        return Outcome::Failed("no settlement chain".into());
    };
    let (d, me, skipped) = (s.deployment.clone(), s.node, skipped.to_vec());
    let sent = s.with_host(move |h: &mut dyn Host| {
        d.prove_spot_check(h, me, &rref, &trace, &skipped, step, input, &u)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    match sent {
        Ok(Ok(())) => Outcome::Proved(step, unit, rows / unit_rows),
        Ok(Err(e)) if e.contains("AlreadyProved") => Outcome::Proved(step, unit, rows / unit_rows),
        Ok(Err(e)) if e.contains("DeadlinePassed") => Outcome::Missed(step, e),
        Ok(Err(e)) => Outcome::Failed(format!("proveSpotCheck: {e}")),
        Err(e) => Outcome::Failed(e),
    }
}

/// Per-status counts of the node's on-chain spot checks (for `GET /v1/node`).
pub fn summary(node: &Node) -> serde_json::Value {
    let counts: Vec<(String, i64)> = node
        .store
        .with_conn(|c| {
            let mut st =
                c.prepare("SELECT status, COUNT(*) FROM chain_spot_checks GROUP BY status")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_default();
    let mut m = serde_json::Map::new();
    for (s, n) in counts {
        m.insert(s, n.into());
    }
    serde_json::Value::Object(m)
}

/// Starts the on-chain spot-check thread (nothing without a settlement chain). It polls every
/// post interval and handles one receipt at a time at the lowest CPU priority.
pub fn start(node: Arc<Node>) {
    if node.settlement.is_none() {
        return;
    }
    if let Err(e) = init_store(&node.store) {
        eprintln!("otr: on-chain spot check: off: {e}");
        return;
    }
    let interval = Duration::from_millis(node.config.post_interval_ms.clamp(50, 5000));
    let spawned = std::thread::Builder::new()
        .name("otr-spotchain".into())
        .spawn(move || {
            super::spotcheck::lowest_priority();
            let mut last_error = String::new();
            loop {
                match step_once(&node) {
                    Ok(true) => continue,
                    Ok(false) => last_error.clear(),
                    Err(e) => {
                        if e != last_error {
                            eprintln!("otr: on-chain spot check: {e} (retrying)");
                            last_error = e;
                        }
                    }
                }
                std::thread::sleep(interval);
            }
        });
    if let Err(e) = spawned {
        eprintln!("otr: on-chain spot check: could not start its thread: {e}");
    }
}

//! The node's side of disputes: it watches the dispute game for disputes against its own
//! address, re-executes the disputed receipt from the request it stored at answer time
//! (`requests` table, same transaction as the receipt) and plays the game
//! ([`super::dispute::node_move`]): bisect, then prove the one step when the model has a step
//! verifier for its operator, and call `timeout` when the challenger stops answering. A
//! matrix-vector step is defended in its three moves (`openMatVec`, then `proveUnit` of the
//! unit the challenger names) when the node has the model's matrices and unit proving keys of
//! the step's shape ([`Defender::with_mat_vec`]; `otr serve` loads them from `--zk-params`).
//!
//! Generic over [`Host`]: the embedded chain (in the chain thread) or an RPC node.

use std::collections::BTreeMap;

use otr_contracts::deploy::Deployment;
use otr_contracts::host::Host;
use otr_contracts::proofs::Trace;
use otr_contracts::Address;
use otr_core::rollup::SamplingParams;

use super::dispute::{self, DisputeError, Move, Outcome, Phase};
use super::inference::{Inference, RunKind};
use super::store::Store;

/// One thing that happened in a defence round, for the log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DefenceEvent {
    pub dispute: u64,
    pub receipt_id: Option<String>,
    #[serde(flatten)]
    pub what: DefenceWhat,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum DefenceWhat {
    /// A new dispute against this node; `steps` leaves re-executed.
    Opened {
        steps: u64,
    },
    Move(Move),
    /// The node cannot play: no stored request, re-execution failed, or its trace is not the
    /// committed one.
    CannotDefend {
        code: String,
        reason: String,
    },
    Resolved {
        outcome: Outcome,
    },
}

struct Game {
    /// The last move reported (a node stuck at an unprovable step reports it once).
    last: Option<Move>,
    receipt_id: String,
    prompt: String,
    sampling: SamplingParams,
    run: RunKind,
    trace: Trace,
}

/// State of the node's defence across rounds.
pub struct Defender {
    me: Address,
    /// Disputes below this id are all resolved (or not ours).
    scan_from: u64,
    games: BTreeMap<u64, Game>,
    /// Disputes the node cannot play, with the reason reported once.
    hopeless: BTreeMap<u64, String>,
    /// The model's matrices and unit proving keys, for matrix-vector steps.
    mat_vec: Option<std::sync::Arc<dispute::MatVecSetup>>,
}

impl Defender {
    pub fn new(me: Address) -> Self {
        Defender {
            me,
            scan_from: 0,
            games: BTreeMap::new(),
            hopeless: BTreeMap::new(),
            mat_vec: None,
        }
    }

    /// Defends matrix-vector steps with `setup`'s matrices and keys.
    pub fn with_mat_vec(mut self, setup: std::sync::Arc<dispute::MatVecSetup>) -> Self {
        self.mat_vec = Some(setup);
        self
    }

    /// Whether matrix-vector steps can be defended.
    pub fn has_mat_vec(&self) -> bool {
        self.mat_vec.is_some()
    }

    /// Number of disputes being played.
    pub fn active(&self) -> usize {
        self.games.len()
    }

    /// Open disputes against this node not prepared yet: (id, receipt hash). The caller may
    /// prepare them ([`Defender::prepare_dispute`], a re-execution) away from the chain thread.
    pub fn unprepared<H: Host + ?Sized>(
        &self,
        host: &mut H,
        d: &Deployment,
    ) -> Result<Vec<(u64, [u8; 32])>, DisputeError> {
        Ok(
            dispute::disputes_from(host, d, self.scan_from, Some(self.me))?
                .into_iter()
                .filter(|v| !matches!(v.phase, Phase::Resolved(_)))
                .filter(|v| !self.games.contains_key(&v.id) && !self.hopeless.contains_key(&v.id))
                .map(|v| (v.id, v.receipt_hash))
                .collect(),
        )
    }

    /// Finds the receipt of dispute `id` and its stored request, and re-executes it; the game is
    /// then played by [`Defender::round`]. Reports the outcome of the preparation.
    pub fn prepare_dispute(
        &mut self,
        id: u64,
        receipt_hash: &[u8; 32],
        store: &Store,
        engine: &dyn Inference,
    ) -> DefenceEvent {
        match prepare(store, engine, receipt_hash) {
            Ok(g) => {
                let ev = DefenceEvent {
                    dispute: id,
                    receipt_id: Some(g.receipt_id.clone()),
                    what: DefenceWhat::Opened {
                        steps: g.trace.len(),
                    },
                };
                self.games.insert(id, g);
                ev
            }
            Err((code, reason)) => {
                self.hopeless.insert(id, reason.clone());
                DefenceEvent {
                    dispute: id,
                    receipt_id: None,
                    what: DefenceWhat::CannotDefend {
                        code: code.into(),
                        reason,
                    },
                }
            }
        }
    }

    /// One pass: new disputes against this node are prepared (re-execution), every open one
    /// gets at most one move. Chain errors end the round early (retried next round).
    pub fn round<H: Host + ?Sized>(
        &mut self,
        host: &mut H,
        d: &Deployment,
        store: &Store,
        engine: &dyn Inference,
    ) -> Result<Vec<DefenceEvent>, DisputeError> {
        let mut events = Vec::new();
        let list = dispute::disputes_from(host, d, self.scan_from, Some(self.me))?;
        let mut lowest_open = None;
        for v in list {
            if let Phase::Resolved(outcome) = v.phase {
                if let Some(g) = self.games.remove(&v.id) {
                    events.push(DefenceEvent {
                        dispute: v.id,
                        receipt_id: Some(g.receipt_id),
                        what: DefenceWhat::Resolved { outcome },
                    });
                } else if self.hopeless.remove(&v.id).is_some() {
                    events.push(DefenceEvent {
                        dispute: v.id,
                        receipt_id: None,
                        what: DefenceWhat::Resolved { outcome },
                    });
                }
                continue;
            }
            lowest_open.get_or_insert(v.id);
            if self.hopeless.contains_key(&v.id) {
                continue;
            }
            if !self.games.contains_key(&v.id) {
                let ev = self.prepare_dispute(v.id, &v.receipt_hash, store, engine);
                events.push(ev);
                if !self.games.contains_key(&v.id) {
                    continue;
                }
            }
            let g = &self.games[&v.id];
            let replay = dispute::Replay {
                engine,
                prompt: &g.prompt,
                sampling: &g.sampling,
                run: g.run,
            };
            let mut with_matrices;
            let mut plain;
            let material: &mut dyn dispute::StepMaterial = match &self.mat_vec {
                Some(setup) => {
                    with_matrices = dispute::MatVecReplay { replay, setup };
                    &mut with_matrices
                }
                None => {
                    plain = replay;
                    &mut plain
                }
            };
            let m = match dispute::node_move(host, d, self.me, v.id, &g.trace, material) {
                Ok(m) => m,
                Err(e @ DisputeError::TraceMismatch { .. }) => {
                    let rid = g.receipt_id.clone();
                    self.games.remove(&v.id);
                    self.hopeless.insert(v.id, e.to_string());
                    events.push(DefenceEvent {
                        dispute: v.id,
                        receipt_id: Some(rid),
                        what: DefenceWhat::CannotDefend {
                            code: e.code().into(),
                            reason: e.to_string(),
                        },
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Move::Resolved { outcome } = m {
                let g = self.games.remove(&v.id);
                events.push(DefenceEvent {
                    dispute: v.id,
                    receipt_id: g.map(|g| g.receipt_id),
                    what: DefenceWhat::Resolved { outcome },
                });
                continue;
            }
            let g = self.games.get_mut(&v.id).expect("game");
            if !matches!(m, Move::Waiting { .. }) && g.last.as_ref() != Some(&m) {
                g.last = Some(m.clone());
                events.push(DefenceEvent {
                    dispute: v.id,
                    receipt_id: Some(g.receipt_id.clone()),
                    what: DefenceWhat::Move(m),
                });
            }
        }
        if let Some(l) = lowest_open {
            self.scan_from = self.scan_from.max(l);
        } else {
            self.scan_from = d.dispute_count(host)?;
        }
        Ok(events)
    }
}

/// Finds the disputed receipt and its stored request, and re-executes it.
fn prepare(
    store: &Store,
    engine: &dyn Inference,
    receipt_hash: &[u8; 32],
) -> Result<Game, (&'static str, String)> {
    let (receipt_id, receipt) = store
        .receipt_by_hash(receipt_hash)
        .map_err(|e| ("DEFEND_STORE", e))?
        .ok_or((
            "DEFEND_NO_RECEIPT",
            format!(
                "receipt {} is not in this node's store",
                hex::encode(receipt_hash)
            ),
        ))?;
    use super::spotchain::RerunStage as S;
    let r = super::spotchain::rerun_receipt(store, engine, &receipt_id, receipt).map_err(
        |(stage, e)| {
            let code = match stage {
                S::Store => "DEFEND_STORE",
                S::NoReceipt => "DEFEND_NO_RECEIPT",
                S::NoRequest => "DEFEND_NO_REQUEST",
                S::Request => "DEFEND_REQUEST",
                S::Engine => "DEFEND_ENGINE",
                S::TraceMismatch => "DEFEND_TRACE_MISMATCH",
            };
            (code, e)
        },
    )?;
    Ok(Game {
        last: None,
        receipt_id,
        prompt: r.prompt,
        sampling: r.sampling,
        run: r.run,
        trace: Trace::new(r.leaves),
    })
}

/// With `--zk-params`, loads the model's matrices and unit proving keys into `node.mat_vec` on a
/// thread of its own at the lowest priority (the matrix commitments of a big model take minutes
/// the first time), and names the `MatVecStepVerifier` for the keys' shapes on an embedded chain.
/// Disputes and on-chain spot checks at matrix-vector steps use them once loaded.
pub fn load_mat_vec(node: std::sync::Arc<super::Node>) {
    let dirs = node.config.zk_params.clone();
    if dirs.is_empty() {
        return;
    }
    std::thread::spawn(move || {
        super::spotcheck::lowest_priority();
        // The ZK spot-checker loaded the matrices and keys at start-up: share them.
        let loaded = match &node.spotcheck {
            Some(sc) => Ok(sc.setup.clone()),
            None => dispute::MatVecSetup::load(&node.config.model, &dirs).map(std::sync::Arc::new),
        };
        // Unit proofs open C_W in the matrix commitments: compute (or read) them first.
        let ready = |s: std::sync::Arc<dispute::MatVecSetup>| -> Result<_, String> {
            s.commitments()?;
            Ok(s)
        };
        let setup = match loaded.and_then(ready) {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "otr: matrix-vector unit proofs cannot be made (no unit proving material: \
                     {e}); disputes at layer matrix steps are settled by refutation of one row"
                );
                return;
            }
        };
        eprintln!(
            "otr: matrix-vector steps (disputes, on-chain spot checks) proved with unit proofs"
        );
        if let Some(s) = &node.settlement {
            match s.register_matvec_verifier(node.engine.info().model_id, setup.clone()) {
                Ok(0) => {}
                Ok(k) => eprintln!(
                    "otr: MatVecStepVerifier named for {k} matrix operator(s) in the registry"
                ),
                Err(e) => eprintln!("otr: could not register the matrix-vector verifier: {e}"),
            }
        }
        let _ = node.mat_vec.set(setup);
    });
}

/// The node's defence loop (`otr serve` with a settlement chain): a round every post interval,
/// each event logged as one JSON line on stderr. The round runs in the chain thread, on the
/// embedded chain or over JSON-RPC. (On the embedded chain only the node itself writes, so
/// nobody else can open a dispute there.)
pub async fn run(node: std::sync::Arc<super::Node>) {
    let Some(s) = &node.settlement else {
        return;
    };
    let me = s.node;
    let state = std::sync::Arc::new(std::sync::Mutex::new(Defender::new(me)));
    let period = std::time::Duration::from_millis(node.config.post_interval_ms.max(200));
    loop {
        tokio::time::sleep(period).await;
        if let Some(setup) = node.mat_vec.get() {
            let mut def = state.lock().unwrap_or_else(|p| p.into_inner());
            if !def.has_mat_vec() {
                def.mat_vec = Some(setup.clone());
            }
        }
        let (n, st) = (node.clone(), state.clone());
        let res = tokio::task::spawn_blocking(move || {
            let Some(s) = &n.settlement else {
                return Ok(Vec::new());
            };
            // New disputes are re-executed here, not in the chain thread (which also serves
            // posts and the bundles' chain reads).
            let (d, st2) = (s.deployment.clone(), st.clone());
            let todo = s.with_host(move |host| {
                let def = st2.lock().unwrap_or_else(|p| p.into_inner());
                def.unprepared(host, &d)
                    .map_err(|e| format!("{}: {e}", e.code()))
            })??;
            let mut events = Vec::new();
            for (id, rh) in todo {
                let ev = st
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .prepare_dispute(id, &rh, &n.store, n.engine.as_ref());
                events.push(ev);
            }
            let (d, n2) = (s.deployment.clone(), n.clone());
            s.with_host(move |host| {
                let mut def = st.lock().unwrap_or_else(|p| p.into_inner());
                def.round(host, &d, &n2.store, n2.engine.as_ref())
                    .map_err(|e| format!("{}: {e}", e.code()))
            })?
            .map(|more| {
                events.extend(more);
                events
            })
        })
        .await;
        match res {
            Ok(Ok(events)) => {
                for e in events {
                    if let Ok(line) = serde_json::to_string(&e) {
                        eprintln!("otr: dispute: {line}");
                    }
                }
            }
            Ok(Err(e)) => eprintln!("otr: dispute defence round failed: {e}"),
            Err(e) => eprintln!("otr: dispute defence round panicked: {e}"),
        }
    }
}

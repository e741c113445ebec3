//! The challenger's side of disputes (`otr watch`): re-execute a posted receipt from its
//! request, compare `output_hash` and `trace_root`, open a dispute on a mismatch and play it to
//! the end ([`super::dispute::challenger_move`]): answer each bisection from its own trace, and
//! call `timeout` when the node misses its deadline. At a matrix-vector step, after the node
//! published its output (`openMatVec`), a challenger with the model's matrices
//! ([`Challenger::with_matrices_of`]; `otr watch --model`) recomputes the product from its own
//! replay of the request and names the unit of the first wrong row; without them, or when every
//! row is right, it names the first unit.
//!
//! Requests come from the node (`otr serve --publish-requests`, `GET
//! /v1/receipts/{id}/request`) or from the user who made them; either way the request is first
//! checked against the receipt's `request_hash`. Generic over [`Host`].

use std::collections::BTreeMap;

use otr_contracts::deploy::Deployment;
use otr_contracts::host::Host;
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::{Address, U256};
use otr_core::rollup::{request_hash, Receipt};

use super::dispute::{self, DisputeError, Move, Outcome};
use super::inference::{Inference, RunKind, TracedRun};

/// Anvil's (and Hardhat's) prefunded account #1: `otr watch --dev-key`. Account #0 is the one
/// a node deploying on a dev chain uses, and two processes must not share a nonce sequence.
pub const ANVIL_ACCOUNT1_KEY: &str =
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// A request as published (`GET /v1/receipts/{id}/request`) or kept by its client.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishedRequest {
    /// `chat` (`/v1/chat/completions`) or `completions`.
    pub endpoint: String,
    /// 64 hex digits.
    pub nonce: String,
    /// The exact request body.
    pub body: String,
}

/// Why a receipt could not be re-executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReexecError {
    /// The request does not hash to the receipt's `request_hash`.
    RequestHashMismatch,
    /// The request cannot be parsed (bad nonce, body, endpoint).
    BadRequest(String),
    /// The receipt is for another model than the one loaded.
    OtherModel,
    Engine(String),
}

impl ReexecError {
    pub fn code(&self) -> &'static str {
        match self {
            ReexecError::RequestHashMismatch => "REEXEC_REQUEST_HASH",
            ReexecError::BadRequest(_) => "REEXEC_BAD_REQUEST",
            ReexecError::OtherModel => "REEXEC_OTHER_MODEL",
            ReexecError::Engine(_) => "REEXEC_ENGINE",
        }
    }
}

impl std::fmt::Display for ReexecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReexecError::RequestHashMismatch => {
                write!(f, "the request does not hash to the receipt's request_hash")
            }
            ReexecError::BadRequest(m) => write!(f, "bad request: {m}"),
            ReexecError::OtherModel => write!(f, "the receipt names another model or weights"),
            ReexecError::Engine(m) => write!(f, "engine: {m}"),
        }
    }
}

impl std::error::Error for ReexecError {}

/// What re-executing a receipt found.
#[derive(Clone, Debug)]
pub struct Reexecution {
    pub run: TracedRun,
    pub output_matches: bool,
    pub trace_matches: bool,
    /// Whether the receipt records the request's sampling parameters. When not, the receipt
    /// answers another request than the client's (another temperature, seed...): it is
    /// re-executed with the receipt's parameters, the ones its trace must follow, so that a
    /// wrong step is still disputed; the mismatch itself is not decidable on chain.
    pub sampling_matches: bool,
    /// What was run: the prompt and sampling (a replay of one step recomputes them).
    pub prompt: String,
    pub sampling: otr_core::rollup::SamplingParams,
}

impl Reexecution {
    pub fn agrees(&self) -> bool {
        self.output_matches && self.trace_matches && self.sampling_matches
    }
}

/// Checks `req` against `receipt.request_hash` and re-executes it with `engine`.
pub fn reexecute(
    engine: &dyn Inference,
    receipt: &Receipt,
    req: &PublishedRequest,
) -> Result<Reexecution, ReexecError> {
    let nonce: [u8; 32] = hex::decode(&req.nonce)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ReexecError::BadRequest("nonce must be 64 hex digits".into()))?;
    if request_hash(&nonce, req.body.as_bytes()) != receipt.request_hash {
        return Err(ReexecError::RequestHashMismatch);
    }
    let info = engine.info();
    if info.model_id != receipt.model_id || info.weights_root != receipt.weights_root {
        return Err(ReexecError::OtherModel);
    }
    let chat = match req.endpoint.as_str() {
        "chat" => true,
        "completions" => false,
        e => return Err(ReexecError::BadRequest(format!("unknown endpoint `{e}`"))),
    };
    let body: serde_json::Value = serde_json::from_str(&req.body)
        .map_err(|e| ReexecError::BadRequest(format!("body: {e}")))?;
    let (prompt, requested) = super::api::prompt_and_sampling(engine, &body, chat, &nonce)
        .map_err(ReexecError::BadRequest)?;
    let sampling = receipt.sampling;
    let run = engine
        .trace(&prompt, &sampling, RunKind::Honest)
        .map_err(ReexecError::Engine)?;
    Ok(Reexecution {
        output_matches: run.output_hash == receipt.output_hash,
        trace_matches: run.generation.trace_root == receipt.trace_root
            && run.generation.trace_steps == receipt.trace_steps,
        sampling_matches: requested == sampling,
        run,
        prompt,
        sampling,
    })
}

/// One thing the challenger did or saw.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChallengeEvent {
    pub dispute: u64,
    pub receipt: String,
    #[serde(flatten)]
    pub what: ChallengeWhat,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum ChallengeWhat {
    Opened {
        bond_wei: String,
        batch: u64,
    },
    Move(Move),
    Resolved {
        outcome: Outcome,
        /// Bisection rounds played (node `bisect` + challenger `respond` pairs).
        rounds: u32,
        /// Wei slashed from the node (0 when the node won).
        slashed_wei: String,
        /// For `no_contest`: the trace step the game ended at, which no on-chain verifier
        /// decides (0: the node's `PROMPT` leaf, the tokens it says the prompt is, differs from
        /// this re-execution's: it answered another prompt).
        #[serde(skip_serializing_if = "Option::is_none")]
        no_contest_at: Option<u64>,
    },
    /// A move failed (retried next round).
    Failed {
        code: String,
        reason: String,
    },
}

struct Game {
    /// Slashed by our own `timeout` (from its `Resolved` event).
    slashed: Option<U256>,
    receipt: String,
    batch: u64,
    own: Trace,
    rounds: u32,
    /// The prompt and sampling of the re-execution, when known (matrix-vector steps).
    replay: Option<(String, otr_core::rollup::SamplingParams)>,
    /// The node's claim was checked against our replay and stands: later rounds wait for the
    /// deadline without replaying the run again.
    claim_checked: bool,
}

/// The challenger's state across rounds.
pub struct Challenger {
    pub me: Address,
    pub bond: U256,
    games: BTreeMap<u64, Game>,
    /// Disputes ended, with their outcome.
    pub finished: BTreeMap<u64, (String, Outcome, u32, U256)>,
    /// The model whose matrices recompute a matrix-vector step, and the matrices once loaded.
    matrices_of: Option<String>,
    matrices: std::sync::OnceLock<Option<std::sync::Arc<dispute::MatVecSetup>>>,
}

impl Challenger {
    pub fn new(me: Address, bond: U256) -> Self {
        Challenger {
            me,
            bond,
            games: BTreeMap::new(),
            finished: BTreeMap::new(),
            matrices_of: None,
            matrices: std::sync::OnceLock::new(),
        }
    }

    /// Recomputes matrix-vector steps with the matrices of `model` (a name or GGUF path, as
    /// `otr watch --model`), loaded at the first such step.
    pub fn with_matrices_of(mut self, model: &str) -> Self {
        self.matrices_of = Some(model.into());
        self
    }

    /// The loaded matrices (loaded now on first use; `None` when unavailable).
    fn matrices(&self) -> Option<std::sync::Arc<dispute::MatVecSetup>> {
        let model = self.matrices_of.as_ref()?;
        self.matrices
            .get_or_init(|| match dispute::MatVecSetup::load(model, &[]) {
                Ok(s) => Some(std::sync::Arc::new(s)),
                Err(e) => {
                    eprintln!(
                        "otr watch: matrix-vector steps: no matrices ({e}); naming the first unit"
                    );
                    None
                }
            })
            .clone()
    }

    /// Disputes being played.
    pub fn active(&self) -> usize {
        self.games.len()
    }

    /// Opens a dispute over `r` with `own` (the challenger's trace of the receipt) and keeps
    /// playing it in [`Challenger::round`]. `label` names the receipt in events.
    pub fn open<H: Host + ?Sized>(
        &mut self,
        host: &mut H,
        d: &Deployment,
        r: &ReceiptRef,
        own: Trace,
        label: &str,
    ) -> Result<ChallengeEvent, DisputeError> {
        let id = dispute::open(host, d, self.me, r, self.bond)?;
        self.games.insert(
            id,
            Game {
                slashed: None,
                receipt: label.into(),
                batch: r.batch_index,
                own,
                rounds: 0,
                replay: None,
                claim_checked: false,
            },
        );
        Ok(ChallengeEvent {
            dispute: id,
            receipt: label.into(),
            what: ChallengeWhat::Opened {
                bond_wei: self.bond.to_string(),
                batch: r.batch_index,
            },
        })
    }

    /// Records the prompt and sampling of dispute `id`'s re-execution, so that a
    /// matrix-vector step can be recomputed ([`Challenger::round_with`]).
    pub fn set_replay(
        &mut self,
        id: u64,
        prompt: String,
        sampling: otr_core::rollup::SamplingParams,
    ) {
        if let Some(g) = self.games.get_mut(&id) {
            g.replay = Some((prompt, sampling));
        }
    }

    /// One move in every open dispute.
    pub fn round<H: Host + ?Sized>(
        &mut self,
        host: &mut H,
        d: &Deployment,
    ) -> Result<Vec<ChallengeEvent>, DisputeError> {
        self.round_with(host, d, None)
    }

    /// One move in every open dispute; `engine` replays a matrix-vector step's input for the
    /// challenger's own product (with the matrices of [`Challenger::with_matrices_of`]).
    pub fn round_with<H: Host + ?Sized>(
        &mut self,
        host: &mut H,
        d: &Deployment,
        engine: Option<&dyn Inference>,
    ) -> Result<Vec<ChallengeEvent>, DisputeError> {
        let mut events = Vec::new();
        let ids: Vec<u64> = self.games.keys().copied().collect();
        let setup = match engine {
            Some(_) if self.games.values().any(|g| g.replay.is_some()) => self.matrices(),
            _ => None,
        };
        for id in ids {
            let g = self.games.get_mut(&id).expect("game");
            // The replay of the receipt's request: with the model's matrices its own product of a
            // matrix-vector step; without, its own tensors of the other steps (a `SAMPLE`'s
            // logits, to refute a wrong token).
            let mut with_matrices;
            let mut plain;
            let material: Option<&mut dyn dispute::StepMaterial> = match (engine, &g.replay) {
                (Some(engine), Some((prompt, sampling))) if !g.claim_checked => {
                    let replay = dispute::Replay {
                        engine,
                        prompt,
                        sampling,
                        run: RunKind::Honest,
                    };
                    match &setup {
                        Some(setup) => {
                            with_matrices = dispute::MatVecReplay { replay, setup };
                            Some(&mut with_matrices)
                        }
                        None => {
                            plain = replay;
                            Some(&mut plain)
                        }
                    }
                }
                _ => None,
            };
            let m = match dispute::challenger_move_with(host, d, self.me, id, &g.own, material) {
                Ok(m) => m,
                Err(e) => {
                    events.push(ChallengeEvent {
                        dispute: id,
                        receipt: g.receipt.clone(),
                        what: ChallengeWhat::Failed {
                            code: e.code().into(),
                            reason: e.to_string(),
                        },
                    });
                    continue;
                }
            };
            match m {
                Move::Resolved { outcome } => {
                    let g = self.games.remove(&id).expect("game");
                    // Our own `timeout` knows the amount; a game ended by someone else's
                    // transaction falls back to the contract's slash amount, capped by what
                    // the batch records as slashed.
                    let slashed = match (outcome, g.slashed) {
                        (Outcome::NodeWon | Outcome::NoContest, _) => U256::ZERO,
                        (Outcome::ChallengerWon, Some(s)) => s,
                        (Outcome::ChallengerWon, None) => {
                            let batch = match d.chain_status(host, g.batch)?.dispute {
                                otr_core::rollup::DisputeState::ResolvedNodeLost {
                                    slashed_wei,
                                } => U256::from(slashed_wei),
                                _ => U256::ZERO,
                            };
                            let per: U256 = otr_contracts::host::view(
                                host,
                                d.dispute_game,
                                &otr_contracts::bindings::dispute_game::DisputeGame::slashAmountCall {},
                            )?;
                            batch.min(per)
                        }
                    };
                    let no_contest_at = match outcome {
                        Outcome::NoContest => dispute::view(host, d, id).ok().map(|v| v.agree_size),
                        _ => None,
                    };
                    if no_contest_at == Some(0) {
                        eprintln!(
                            "otr: dispute {id} (receipt {}): the node's PROMPT leaf is not this \
                             request's tokens: it answered another prompt (not decidable on \
                             chain: no contest)",
                            g.receipt
                        );
                    }
                    events.push(ChallengeEvent {
                        dispute: id,
                        receipt: g.receipt.clone(),
                        what: ChallengeWhat::Resolved {
                            outcome,
                            rounds: g.rounds,
                            slashed_wei: slashed.to_string(),
                            no_contest_at,
                        },
                    });
                    self.finished
                        .insert(id, (g.receipt, outcome, g.rounds, slashed));
                }
                Move::Waiting { .. } => {}
                Move::ClaimStands { .. } if g.claim_checked => {}
                m => {
                    if matches!(m, Move::ClaimStands { .. }) {
                        g.claim_checked = true;
                    }
                    if matches!(m, Move::Responded { .. }) {
                        g.rounds += 1;
                    }
                    if let Move::TimedOut { slashed_wei } | Move::Refuted { slashed_wei, .. } = &m {
                        g.slashed = slashed_wei.parse().ok();
                    }
                    events.push(ChallengeEvent {
                        dispute: id,
                        receipt: g.receipt.clone(),
                        what: ChallengeWhat::Move(m),
                    });
                }
            }
        }
        Ok(events)
    }
}

/// What `otr watch` found about one receipt it re-executed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReceiptCheck {
    pub receipt_id: String,
    pub batch: u64,
    /// `agrees`, `disagrees`, `no_request` (not published and not supplied) or `error`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The dispute opened over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispute: Option<u64>,
}

/// The end-of-run summary of `otr watch`'s re-execution and disputes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub receipts_reexecuted: u64,
    pub agreed: u64,
    pub disagreed: u64,
    pub no_request: u64,
    pub errors: u64,
    pub disputes_open: u64,
    pub disputes: Vec<DisputeSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DisputeSummary {
    pub id: u64,
    pub receipt_id: String,
    pub outcome: Outcome,
    pub rounds: u32,
    pub slashed_wei: String,
}

/// `otr watch`'s re-execution: checks posted receipts against their requests with the engine
/// and, given a challenger account on a writable chain, disputes the ones that disagree.
pub struct Watch {
    engine: std::sync::Arc<dyn Inference>,
    /// `None`: the chain is read-only here (a node's chain file): mismatches are reported only.
    pub challenger: Option<Challenger>,
    pub checks: BTreeMap<String, ReceiptCheck>,
}

impl Watch {
    pub fn new(engine: std::sync::Arc<dyn Inference>, challenger: Option<Challenger>) -> Self {
        Watch {
            engine,
            challenger,
            checks: BTreeMap::new(),
        }
    }

    /// Whether receipt `id` was checked already.
    pub fn seen(&self, id: &str) -> bool {
        self.checks.contains_key(id)
    }

    /// Re-executes one posted receipt (`r`, from its bundle) with its request, and opens a
    /// dispute when it disagrees and a challenger is configured. Returns the check and, if one
    /// was opened, the dispute event.
    pub fn check<H: Host + ?Sized>(
        &mut self,
        host: &mut H,
        d: &Deployment,
        id: &str,
        receipt: &Receipt,
        r: &ReceiptRef,
        request: Option<PublishedRequest>,
    ) -> (ReceiptCheck, Option<ChallengeEvent>) {
        let mut c = ReceiptCheck {
            receipt_id: id.into(),
            batch: r.batch_index,
            status: "no_request".into(),
            detail: None,
            dispute: None,
        };
        let mut event = None;
        // A receipt whose trace length is not its token counts' layout is wrong whatever its
        // request: settled at once, without re-executing or a game.
        let info = self.engine.info();
        let want = otr_engine::model::trace::layout_steps(
            receipt.prompt_tokens,
            receipt.completion_tokens,
            info.num_layers,
        );
        if info.num_layers > 0 && info.model_id == receipt.model_id && receipt.trace_steps != want {
            c.status = "layout_fraud".into();
            c.detail = Some(format!(
                "trace_steps {} is not the layout's {want} for {} prompt and {} completion tokens",
                receipt.trace_steps, receipt.prompt_tokens, receipt.completion_tokens
            ));
            if let Some(ch) = self.challenger.as_ref() {
                match d.challenge_layout(host, ch.me, r, ch.bond) {
                    Ok((slashed, _)) => {
                        c.detail = Some(format!(
                            "{}; challengeLayout slashed {slashed} wei",
                            c.detail.unwrap_or_default()
                        ))
                    }
                    Err(e) => {
                        c.detail = Some(format!(
                            "{}; challengeLayout failed: {e}",
                            c.detail.unwrap_or_default()
                        ))
                    }
                }
            }
            self.checks.insert(id.into(), c.clone());
            return (c, event);
        }
        if let Some(req) = request {
            match reexecute(self.engine.as_ref(), receipt, &req) {
                Err(e) => {
                    c.status = "error".into();
                    c.detail = Some(format!("{}: {e}", e.code()));
                }
                Ok(re) if re.agrees() => c.status = "agrees".into(),
                Ok(re) => {
                    c.status = "disagrees".into();
                    c.detail = Some(format!(
                        "output_hash {}, trace_root {}{}",
                        if re.output_matches {
                            "matches"
                        } else {
                            "differs"
                        },
                        if re.trace_matches {
                            "matches"
                        } else {
                            "differs"
                        },
                        if re.sampling_matches {
                            ""
                        } else {
                            "; the receipt's sampling parameters are not the request's (it \
                             answers another request; not decidable on chain: re-executed with \
                             the receipt's)"
                        },
                    ));
                    // A trace that follows the receipt's own parameters has no wrong step to
                    // dispute.
                    if re.trace_matches {
                        self.checks.insert(id.into(), c.clone());
                        return (c, event);
                    }
                    if let Some(ch) = self.challenger.as_mut() {
                        match ch.open(host, d, r, Trace::new(re.run.leaves), id) {
                            Ok(ev) => {
                                ch.set_replay(ev.dispute, re.prompt, re.sampling);
                                c.dispute = Some(ev.dispute);
                                event = Some(ev);
                            }
                            Err(e) => {
                                c.detail = Some(format!(
                                    "{}; opening a dispute failed: {}: {e}",
                                    c.detail.unwrap_or_default(),
                                    e.code()
                                ))
                            }
                        }
                    }
                }
            }
        }
        self.checks.insert(id.into(), c.clone());
        (c, event)
    }

    /// One move in every open dispute.
    pub fn play<H: Host + ?Sized>(
        &mut self,
        host: &mut H,
        d: &Deployment,
    ) -> Result<Vec<ChallengeEvent>, DisputeError> {
        match self.challenger.as_mut() {
            Some(ch) => ch.round_with(host, d, Some(self.engine.as_ref())),
            None => Ok(Vec::new()),
        }
    }

    /// Disputes still being played.
    pub fn open_disputes(&self) -> usize {
        self.challenger.as_ref().map_or(0, |c| c.active())
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in self.checks.values() {
            match c.status.as_str() {
                "agrees" => s.agreed += 1,
                "disagrees" => s.disagreed += 1,
                "no_request" => s.no_request += 1,
                _ => s.errors += 1,
            }
        }
        s.receipts_reexecuted = s.agreed + s.disagreed;
        if let Some(ch) = &self.challenger {
            s.disputes_open = ch.active() as u64;
            s.disputes = ch
                .finished
                .iter()
                .map(|(id, (rid, outcome, rounds, slashed))| DisputeSummary {
                    id: *id,
                    receipt_id: rid.clone(),
                    outcome: *outcome,
                    rounds: *rounds,
                    slashed_wei: slashed.to_string(),
                })
                .collect();
        }
        s
    }
}

//! The dispute game as both sides play it (DESIGN principle 6), over any [`Host`]: the embedded
//! revm chain or an RPC node.
//!
//! A challenger that re-executed a posted receipt and got another `trace_root` opens a dispute
//! ([`open`]) with a bond. Then, move by move (contract `DisputeGame.sol`):
//! - the node ([`node_move`]) reveals the root of its trace prefix at the game's midpoint
//!   (`bisect`), computed from the trace it re-executes from its stored request;
//! - the challenger ([`challenger_move`]) compares it with the prefix root of its own
//!   re-execution and answers `respond(agree)`;
//! - at one step (`disagreeSize = agreeSize + 1`) the node proves the disputed leaf with the
//!   model's registered step verifier for that operator (`proveStep`), with a witness built
//!   here from its replay of the step:
//!   - the RMSNorm steps (`NormStepVerifier`, [`norm_step_proof`]): `ATTN_NORM`, `FFN_NORM`,
//!     `FINAL_NORM`, and Gemma 3's post-norm residuals `RESID_ATTN` / `RESID_FFN`
//!     (`h + rms_norm(x)`), with the norm vector opened against the weights root;
//!   - the plain residual adds of Llama-style models (`WideAddStepVerifier`,
//!     [`residual_add_proof`]);
//!   - QK-norm + RoPE, `Q_ROPE` / `K_ROPE` (`RopeStepVerifier`, [`rope_step_proof`]), with the
//!     RoPE row of the position opened against the model's committed RoPE table root;
//!   - the value entered into the KV cache, `V_CACHE` (`VCacheStepVerifier`,
//!     [`vcache_step_proof`]);
//!   - the gated activation, `ACT` (`ActStepVerifier`, [`act_step_proof`]), with the model's
//!     activation table supplied whole against its committed digest;
//!   - attention, `ATTN` (`AttnStepVerifier`, [`attn_step_proof`]), over every visible
//!     position's key and value leaves, with the 2^-x table supplied whole; its gas grows with
//!     the visible context, and past the verifier's `maxVisible` (what fits a transaction,
//!     `byProof`) the step is settled by refutation instead (below);
//!
//!   the matrix-vector products (`Q K V O GATE UP DOWN`, `LOGITS`) where the registry names a
//!   `MatVecStepVerifier` (unit keys) are settled in three moves instead (docs/PROTOCOL.md
//!   §7.9): the node's `openMatVec` publishes the whole output `y`
//!   ([`StepMaterial::mat_vec_output`]), the challenger names a unit containing a row where `y`
//!   differs from its own product (the first unit when it has no product of its own or every
//!   row agrees: it should not have disputed), and the node proves that unit with a spot-check
//!   unit proof ([`StepMaterial::mat_vec_unit`], [`MatVecSetup`]);
//!
//!   - the token embedding, `EMBED` (`EmbedStepVerifier`, [`embed_step_proof`]), from the
//!     `PROMPT` leaf's token (prompt positions) or the previous `SAMPLE` (generated ones), with
//!     the token's row opened in the embedding-row tree;
//!
//!   steps settled by refutation: the node claims ([`Move::ClaimedStep`], `claimStep`) and the
//!   challenger refutes a wrong claim or loses at its deadline:
//!   - a greedy `SAMPLE` (`SampleStepVerifier`): the claim is the token, refuted with a larger
//!     logit of the agreed `LOGITS` step ([`Move::Refuted`]);
//!   - a sampled `SAMPLE`: the claim is the draw's summary of the logits, refuted with a chunk
//!     whose summary is wrong ([`Move::RefutedDraw`]);
//!   - a layer's matrix step (`MatRowStepVerifier`, the default without unit keys): the claim
//!     is the whole output, refuted with one row of the matrix ([`Move::RefutedRow`]);
//!   - the `LOGITS` (`LogitsStepVerifier`): the claim is the logits' chunk
//!     hashes; the challenger names a chunk that is not its own ([`Move::NamedPart`]), the node
//!     reveals it ([`Move::RevealedPart`]), and one logit of it is refuted with its embedding
//!     row of the head's matrix ([`Move::RefutedLogit`]);
//!   - attention past the proof limit (`AttnStepVerifier`'s claim, docs/PROTOCOL.md §10,
//!     "Attention by refutation"): the claim is the step's sums after each part of the visible
//!     positions (engine `attn_parts`); the challenger names the first part whose state is not
//!     its own ([`Move::NamedPart`]), the node reveals the states before and after it, and the
//!     challenger refutes it with the part's keys and values ([`Move::RefutedAttn`]);
//!   - the `PROMPT` (`PromptStepVerifier`): the claim is the prompt's text and ids with each
//!     token's end in the text; the challenger refutes a token whose piece is not its text
//!     ([`Move::RefutedPrompt`]) or two adjacent tokens that make one piece
//!     ([`Move::RefutedTokenization`]);
//!
//!   a step whose operator has no step verifier in the registry
//!   ends without a winner: the node calls
//!   `declareUnprovable` ([`Move::NoContest`]; no slash, the bond split as in a node win);
//! - a side whose opponent missed the move deadline calls `timeout` and wins.
//!
//! Each function makes at most one transaction and says what it did ([`Move`]); callers loop
//! until [`Move::Resolved`]. Errors are typed ([`DisputeError`], stable codes).

use super::inference::{Inference, NormOpening, RopeRow, RunKind};
use otr_contracts::bindings::dispute_game::DisputeGame;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::Deployment;
use otr_contracts::host::{self, CallError, Host};
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::{Address, U256};
use otr_core::rollup::SamplingParams;

/// Trace-leaf layout (engine `trace::leaf`): tag (18 bytes), u32be pos, u16be stage, u8 op,
/// SHA-256 of the output.
pub const LEAF_LEN: usize = 57;
const TAG_LEN: usize = 18;

/// Engine operator codes (engine `trace.rs`) of the steps with an on-chain verifier and of
/// their inputs.
pub mod op {
    /// Embedding stage: the prompt's token ids (position 0 only) and the embedding.
    pub const PROMPT: u8 = 0;
    pub const EMBED: u8 = 1;
    /// Layer stages.
    pub const ATTN_NORM: u8 = 0;
    pub const Q: u8 = 1;
    pub const K: u8 = 2;
    pub const V: u8 = 3;
    pub const Q_ROPE: u8 = 4;
    pub const K_ROPE: u8 = 5;
    pub const V_CACHE: u8 = 6;
    pub const ATTN: u8 = 7;
    pub const O: u8 = 8;
    pub const RESID_ATTN: u8 = 9;
    pub const FFN_NORM: u8 = 10;
    pub const GATE: u8 = 11;
    pub const UP: u8 = 12;
    pub const ACT: u8 = 13;
    pub const DOWN: u8 = 14;
    pub const RESID_FFN: u8 = 15;
    /// Head stage (`num_layers + 1`).
    pub const FINAL_NORM: u8 = 0;
    pub const LOGITS: u8 = 1;
    pub const SAMPLE: u8 = 2;
}

/// A step key read from a trace leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct LeafKey {
    pub pos: u32,
    pub stage: u16,
    pub op: u8,
}

/// The key of a 57-byte trace leaf.
pub fn leaf_key(leaf: &[u8]) -> Option<LeafKey> {
    if leaf.len() != LEAF_LEN {
        return None;
    }
    Some(LeafKey {
        pos: u32::from_be_bytes(leaf[TAG_LEN..TAG_LEN + 4].try_into().ok()?),
        stage: u16::from_be_bytes(leaf[TAG_LEN + 4..TAG_LEN + 6].try_into().ok()?),
        op: leaf[TAG_LEN + 6],
    })
}

/// Why a dispute move could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeError {
    /// A chain call or transaction failed.
    Chain(String),
    /// The dispute does not exist.
    UnknownDispute(u64),
    /// The node's re-executed trace is not the one its receipt committed to: it cannot bisect.
    TraceMismatch { id: u64 },
    /// Re-execution or the step witness failed.
    Engine(String),
    /// The caller is not a party to the dispute.
    NotAParty { id: u64 },
}

impl DisputeError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            DisputeError::Chain(_) => "DISPUTE_CHAIN",
            DisputeError::UnknownDispute(_) => "DISPUTE_UNKNOWN",
            DisputeError::TraceMismatch { .. } => "DISPUTE_TRACE_MISMATCH",
            DisputeError::Engine(_) => "DISPUTE_ENGINE",
            DisputeError::NotAParty { .. } => "DISPUTE_NOT_A_PARTY",
        }
    }
}

impl std::fmt::Display for DisputeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisputeError::Chain(m) => write!(f, "chain: {m}"),
            DisputeError::UnknownDispute(id) => write!(f, "no dispute {id}"),
            DisputeError::TraceMismatch { id } => write!(
                f,
                "dispute {id}: the re-executed trace is not the one the receipt commits to"
            ),
            DisputeError::Engine(m) => write!(f, "engine: {m}"),
            DisputeError::NotAParty { id } => write!(f, "not a party to dispute {id}"),
        }
    }
}

impl std::error::Error for DisputeError {}

impl From<CallError> for DisputeError {
    fn from(e: CallError) -> Self {
        DisputeError::Chain(e.to_string())
    }
}

/// How a dispute ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    NodeWon,
    ChallengerWon,
    /// The disputed step has no step verifier: no slash, the bond split as in a node win
    /// (`DisputeGame.declareUnprovable`).
    NoContest,
}

/// The dispute's phase (contract `DisputeGame.Phase`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    None,
    NodeToMove,
    ChallengerToMove,
    Resolved(Outcome),
}

/// A dispute as the contract holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeView {
    pub id: u64,
    pub node: Address,
    pub challenger: Address,
    pub batch_index: u64,
    pub phase: Phase,
    pub agree_size: u64,
    pub disagree_size: u64,
    pub receipt_hash: [u8; 32],
    pub model_id: [u8; 32],
    pub bond: u128,
    /// Chain time until which the side to move may move.
    pub deadline: u64,
}

fn phase_of(p: u8) -> Phase {
    match p {
        1 => Phase::NodeToMove,
        2 => Phase::ChallengerToMove,
        3 => Phase::Resolved(Outcome::NodeWon),
        4 => Phase::Resolved(Outcome::ChallengerWon),
        5 => Phase::Resolved(Outcome::NoContest),
        _ => Phase::None,
    }
}

/// Reads dispute `id`.
pub fn view<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    id: u64,
) -> Result<DisputeView, DisputeError> {
    let x: DisputeGame::Dispute = d.dispute(host, id)?;
    let phase = phase_of(x.phase);
    if phase == Phase::None {
        return Err(DisputeError::UnknownDispute(id));
    }
    Ok(DisputeView {
        id,
        node: x.node,
        challenger: x.challenger,
        batch_index: x.batchIndex,
        phase,
        agree_size: x.agreeSize,
        disagree_size: x.disagreeSize,
        receipt_hash: x.receiptHash.0,
        model_id: x.modelId.0,
        bond: x.bond,
        deadline: d.move_deadline(host, id)?,
    })
}

/// Disputes with ids `from..` whose node is `node` (all nodes when `None`).
pub fn disputes_from<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    from: u64,
    node: Option<Address>,
) -> Result<Vec<DisputeView>, DisputeError> {
    let n = d.dispute_count(host)?;
    let mut out = Vec::new();
    for id in from..n {
        let v = view(host, d, id)?;
        if node.is_none_or(|a| a == v.node) {
            out.push(v);
        }
    }
    Ok(out)
}

/// What one call did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "move")]
pub enum Move {
    /// The other side is to move and its deadline has not passed (or ours passed: we lost the
    /// right to move and the other side may call `timeout`).
    Waiting { deadline: u64 },
    /// The node revealed its prefix root of `mid` leaves.
    Bisected { mid: u64 },
    /// The challenger answered whether it agrees with the prefix of `mid` leaves.
    Responded { mid: u64, agree: bool },
    /// The node proved the disputed step (and so won).
    ProvedStep { index: u64, key: LeafKey },
    /// The node opened the matrix-vector step at `index`: its whole output is public.
    OpenedMatVec { index: u64, key: LeafKey },
    /// The challenger named the unit starting at `row_start`; `wrong_row`: the first row where
    /// the node's output differs from its own product (`None`: none found, a frivolous
    /// challenge, or no product of its own to compare with).
    NamedUnit {
        row_start: u64,
        wrong_row: Option<u64>,
    },
    /// The node proved the named unit (and so won).
    ProvedUnit {
        index: u64,
        key: LeafKey,
        row_start: u64,
    },
    /// The node claimed the output of the disputed step, one settled by refutation (a greedy
    /// `SAMPLE`'s token): the challenger may refute it until its deadline, then the node wins.
    ClaimedStep { index: u64, key: LeafKey },
    /// The challenger found no counterexample to the node's claimed token `token` at step
    /// `index` (its own greedy pick is the same, or it has no replay to look with): the node
    /// wins when the challenger's deadline passes.
    ClaimStands { index: u64, token: u64 },
    /// The challenger asked the node to reveal chunk `part` of its claimed `LOGITS` at step
    /// `index` (the first whose hash is not the challenger's).
    NamedPart { index: u64, part: u64 },
    /// The node revealed chunk `part` of its claimed `LOGITS` at step `index`.
    RevealedPart { index: u64, part: u64 },
    /// The challenger refuted the node's `LOGITS` at step `index` with logit `row`, recomputed
    /// on chain from its embedding row (and so won); `slashed_wei` as in the `Resolved` event.
    RefutedLogit {
        index: u64,
        row: u64,
        slashed_wei: String,
    },
    /// The challenger refuted the node's output of a layer's matrix step at step `index` with
    /// row `row` of the matrix, recomputed on chain (and so won); `slashed_wei` as in the
    /// `Resolved` event.
    RefutedRow {
        index: u64,
        row: u64,
        slashed_wei: String,
    },
    /// The challenger refuted the node's sampled token `token` at step `index` with chunk
    /// `chunk` of the agreed logits, whose summary (recomputed on chain) is not the node's
    /// claim's (and so won); `slashed_wei` as in the `Resolved` event.
    RefutedDraw {
        index: u64,
        token: u64,
        chunk: u64,
        slashed_wei: String,
    },
    /// The challenger refuted the node's `PROMPT` claim (leaf `index`, 0) at its token `token`
    /// (counted after a leading BOS), whose vocabulary piece, opened on chain, is not the text
    /// the claim gives it (and so won); `slashed_wei` as in the `Resolved` event.
    RefutedPrompt {
        index: u64,
        token: u64,
        slashed_wei: String,
    },
    /// The challenger refuted the node's `PROMPT` claim (leaf `index`, 0) at its token `token`
    /// (counted after a leading BOS): a tokenization of the prompt's text the tokenizer never
    /// makes (and so won), shown `how`: a byte token of a character that is a token; two
    /// adjacent tokens whose texts together are the piece `merged`; a special token's text
    /// spelled in pieces from `token` on; two adjacent tokens the tokenizer, replayed on their
    /// text alone, splits otherwise. `slashed_wei` as in the `Resolved` event.
    RefutedTokenization {
        index: u64,
        token: u64,
        /// `misplaced_byte`, `mergeable_pair`, `spelled_special`, `non_canonical_pair` or
        /// `non_canonical_bytes` (`PromptStepVerifier`'s counterexamples).
        how: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        merged: Option<u64>,
        slashed_wei: String,
    },
    /// The challenger refuted the node's attention claim at step `index` with part `part` (its
    /// keys and values opened, its sums recomputed on chain), and so won; `slashed_wei` as in
    /// the `Resolved` event.
    RefutedAttn {
        index: u64,
        part: u64,
        slashed_wei: String,
    },
    /// The challenger refuted the node's claimed token `token` at step `index` with `better`, a
    /// token whose logit beats it (and so won); `slashed_wei` as in the `Resolved` event.
    Refuted {
        index: u64,
        token: u64,
        better: u64,
        slashed_wei: String,
    },
    /// The node declared the disputed step unprovable (no step verifier for its operator): the
    /// dispute ended with no winner.
    NoContest { index: u64, key: LeafKey },
    /// The node is at one step it cannot prove: no witness for it, or its `proveStep`
    /// transaction failed (attention past the gas cap). It will lose when its deadline passes.
    CannotProve {
        index: u64,
        key: Option<LeafKey>,
        reason: String,
    },
    /// The caller ended the dispute: the other side missed its deadline. `slashed_wei`: what
    /// the contract's `Resolved` event says was slashed from the node (0 when the node won).
    TimedOut { slashed_wei: String },
    /// The dispute is over.
    Resolved { outcome: Outcome },
}

/// The amount slashed according to the `Resolved(id, nodeWon, slashed)` event of dispute `id`
/// in a transaction's logs (0 when absent).
pub fn resolved_slash(out: &otr_contracts::TxOutcome, d: &Deployment, id: u64) -> U256 {
    out.logs
        .iter()
        .filter(|l| l.address == d.dispute_game)
        .filter(|l| {
            let t = l.data.topics();
            t.len() == 2 && U256::from_be_bytes(t[1].0) == U256::from(id)
        })
        .filter(|l| l.data.data.len() == 64)
        .map(|l| U256::from_be_slice(&l.data.data[32..64]))
        .next()
        .unwrap_or(U256::ZERO)
}

/// Opens a dispute over one receipt; returns its id.
pub fn open<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    challenger: Address,
    r: &ReceiptRef,
    bond: U256,
) -> Result<u64, DisputeError> {
    Ok(d.open_dispute(host, challenger, r, bond)?.0)
}

/// The challenger's move in dispute `id`, given its own re-executed trace of the receipt. At a
/// matrix-vector step it has no product of its own and names the first unit
/// ([`challenger_move_with`] compares the node's output with its own).
pub fn challenger_move<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    own: &Trace,
) -> Result<Move, DisputeError> {
    challenger_move_with(host, d, me, id, own, None)
}

/// The challenger's move in dispute `id`, given its own re-executed trace and, for a
/// matrix-vector step, `material` for its own product of the step
/// ([`StepMaterial::mat_vec_output`]): after the node's `openMatVec` it names the unit of the
/// first row where the node's published output differs from its own, else the first unit.
pub fn challenger_move_with<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    own: &Trace,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Move, DisputeError> {
    let v = view(host, d, id)?;
    if v.challenger != me {
        return Err(DisputeError::NotAParty { id });
    }
    let now = host.timestamp()?;
    match v.phase {
        Phase::Resolved(outcome) => Ok(Move::Resolved { outcome }),
        Phase::ChallengerToMove if now < v.deadline => {
            if d.claim_verifier(host, id)? != Address::ZERO {
                let index = v.agree_size;
                let num_layers = host::view(
                    host,
                    d.registry,
                    &ModelRegistry::modelCall {
                        modelId: v.model_id.into(),
                    },
                )?
                .numLayers;
                return Ok(
                    refute_claim(host, d, me, id, index, num_layers, own, material)?.unwrap_or(
                        Move::Waiting {
                            deadline: v.deadline,
                        },
                    ),
                );
            }
            let mv = d.mat_vec(host, id)?;
            if mv.stage == MAT_VEC_OPENED {
                let theirs = opened_output(host, d, id)?;
                let index = v.agree_size;
                let key = (index < own.len())
                    .then(|| leaf_key(own.leaf(index)))
                    .flatten();
                let mine = match (material, key) {
                    (Some(m), Some(key)) => m.mat_vec_output(index, key).ok(),
                    _ => None,
                };
                let wrong_row = mine.as_deref().and_then(|m| first_wrong_row(&theirs, m));
                let r = u64::from(mv.unitRows.max(1));
                let row_start = wrong_row.map_or(0, |w| w / r * r);
                d.name_unit(host, me, id, row_start)?;
                return Ok(Move::NamedUnit {
                    row_start,
                    wrong_row,
                });
            }
            let mid = v.agree_size + (v.disagree_size - v.agree_size) / 2;
            let (agree, _) = d.respond(host, me, id, own)?;
            Ok(Move::Responded { mid, agree })
        }
        Phase::NodeToMove if now >= v.deadline => {
            let out = d.timeout(host, me, id)?;
            Ok(Move::TimedOut {
                slashed_wei: resolved_slash(&out, d, id).to_string(),
            })
        }
        _ => Ok(Move::Waiting {
            deadline: v.deadline,
        }),
    }
}

/// `DisputeGame.MatVecStage.Opened`: the node published the output, the challenger names a unit.
const MAT_VEC_OPENED: u8 = 1;
/// `DisputeGame.MatVecStage.Named`: the node proves the named unit.
const MAT_VEC_NAMED: u8 = 2;

/// The output `y` (i64le) the node published with `openMatVec` in dispute `id` (the game's
/// `MatVecOpened` event).
pub fn opened_output<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    id: u64,
) -> Result<Vec<u8>, DisputeError> {
    d.mat_vec_opened(host, id)?
        .ok_or_else(|| DisputeError::Chain(format!("dispute {id}: no MatVecOpened event")))
}

/// The first row (8-byte i64le value) where `theirs` differs from `mine`; a length difference
/// counts at the shorter one's end.
pub fn first_wrong_row(theirs: &[u8], mine: &[u8]) -> Option<u64> {
    let n = theirs.len().min(mine.len()) / 8;
    (0..n)
        .find(|&r| theirs[8 * r..8 * r + 8] != mine[8 * r..8 * r + 8])
        .or((theirs.len() != mine.len()).then_some(n))
        .map(|r| r as u64)
}

/// Whether step `key` is a matrix-vector product (`Q K V O GATE UP DOWN` of a layer, `LOGITS`
/// of the head, stage `num_layers + 1`).
pub fn is_mat_vec(key: LeafKey, num_layers: u16) -> bool {
    let layer = (1..=num_layers).contains(&key.stage);
    (layer
        && matches!(
            key.op,
            op::Q | op::K | op::V | op::O | op::GATE | op::UP | op::DOWN
        ))
        || (key.stage == num_layers + 1 && key.op == op::LOGITS)
}

/// The step key of a matrix step's input: `Q K V` of `ATTN_NORM`, `O` of `ATTN`, `GATE UP` of
/// `FFN_NORM`, `DOWN` of `ACT`, `LOGITS` of `FINAL_NORM` (same position and stage).
/// (`LOGITS` and `Q` share code 1, `FINAL_NORM` and `ATTN_NORM` code 0.)
pub fn mat_vec_input(key: LeafKey) -> LeafKey {
    let input = match key.op {
        op::O => op::ATTN,
        op::GATE | op::UP => op::FFN_NORM,
        op::DOWN => op::ACT,
        _ => op::ATTN_NORM,
    };
    LeafKey { op: input, ..key }
}

/// Where the node's one-step witnesses come from: its replay of the disputed run and its
/// loaded model. Asked only at one step, for an operator that has a step verifier.
pub trait StepMaterial {
    /// The input tensors (canonical bytes, engine `replay.rs` order) of trace step `index`.
    fn inputs(&mut self, index: u64) -> Result<Vec<Vec<u8>>, String>;
    /// A norm weight vector of the model, by GGUF tensor name, opened in the weights tree.
    fn norm(&mut self, name: &str) -> Result<NormOpening, String>;
    /// The RoPE table row of layer `layer` (0-based) at position `pos`, opened in its table.
    fn rope_row(&mut self, layer: u16, pos: u32) -> Result<RopeRow, String>;
    /// The model's canonical config text (`V_CACHE` and attention steps).
    fn config(&mut self) -> Result<String, String> {
        Err("no canonical config".into())
    }
    /// The model's gated-activation table, canonical bytes (`ACT` steps).
    fn act_table(&mut self) -> Result<Vec<u8>, String> {
        Err("no activation table".into())
    }
    /// The engine's 2^-x table, canonical bytes (`ATTN` steps).
    fn exp_table(&mut self) -> Result<Vec<u8>, String> {
        Err("no 2^-x table".into())
    }
    /// The embedding row of `token` opened in the embedding-row tree (`EMBED` steps).
    fn embed_row(&mut self, _token: u32) -> Result<super::inference::EmbedRow, String> {
        Err("no embedding rows".into())
    }
    /// Row `r` of the head's matrix opened in its row tree (`LOGITS` refutations).
    fn head_row(&mut self, _r: u32) -> Result<super::inference::EmbedRow, String> {
        Err("no head rows".into())
    }
    /// Row `r` of the matrix of layer step `key`, opened in the matrix-rows tree (refutations
    /// of a layer's matrix step).
    fn matrix_row(
        &mut self,
        _key: LeafKey,
        _r: u32,
    ) -> Result<otr_contracts::deploy::MatrixRow, String> {
        Err("no matrix rows".into())
    }
    /// The output (canonical bytes) of trace step `index`: a `SAMPLE` step's claimed token.
    fn output(&mut self, _index: u64) -> Result<Vec<u8>, String> {
        Err("no replay of the step's output".into())
    }
    /// The model's tokenizer (a `PROMPT` claim's piece ends, a refutation's piece opening).
    fn tokenizer(&mut self) -> Option<&otr_engine::Tokenizer> {
        None
    }
    /// The whole output (i64le) of matrix-vector step `index` (key `key`): the model's matrix
    /// times the replayed input.
    fn mat_vec_output(&mut self, _index: u64, _key: LeafKey) -> Result<Vec<u8>, String> {
        Err("no matrices for matrix-vector steps".into())
    }
    /// The `proveUnit` arguments of the unit at `row_start` of matrix-vector step `index`.
    fn mat_vec_unit(
        &mut self,
        _index: u64,
        _key: LeafKey,
        _row_start: u64,
    ) -> Result<otr_contracts::deploy::UnitMove, String> {
        Err("no proving keys for matrix-vector steps".into())
    }
}

/// [`StepMaterial`] from an engine: its replay of `prompt` with `sampling` as `run`, and its
/// model's openings.
pub struct Replay<'a> {
    pub engine: &'a dyn Inference,
    pub prompt: &'a str,
    pub sampling: &'a SamplingParams,
    pub run: RunKind,
}

impl StepMaterial for Replay<'_> {
    fn inputs(&mut self, index: u64) -> Result<Vec<Vec<u8>>, String> {
        self.engine
            .step_inputs(self.prompt, self.sampling, self.run, index)
    }

    fn norm(&mut self, name: &str) -> Result<NormOpening, String> {
        self.engine.norm_opening(name)
    }

    fn rope_row(&mut self, layer: u16, pos: u32) -> Result<RopeRow, String> {
        self.engine.rope_row(layer, pos)
    }

    fn config(&mut self) -> Result<String, String> {
        self.engine.config_text()
    }

    fn act_table(&mut self) -> Result<Vec<u8>, String> {
        self.engine.act_table()
    }

    fn exp_table(&mut self) -> Result<Vec<u8>, String> {
        self.engine.exp_table()
    }

    fn embed_row(&mut self, token: u32) -> Result<super::inference::EmbedRow, String> {
        self.engine.embed_row(token)
    }

    fn head_row(&mut self, r: u32) -> Result<super::inference::EmbedRow, String> {
        self.engine.head_row(r)
    }

    fn matrix_row(
        &mut self,
        key: LeafKey,
        r: u32,
    ) -> Result<otr_contracts::deploy::MatrixRow, String> {
        self.engine.matrix_row(key.stage, key.op, r)
    }

    fn output(&mut self, index: u64) -> Result<Vec<u8>, String> {
        self.engine
            .step_output(self.prompt, self.sampling, self.run, index)
    }

    fn tokenizer(&mut self) -> Option<&otr_engine::Tokenizer> {
        self.engine.tokenizer()
    }
}

/// The one-step proof material of the node: leaf indices of the inputs (opened in the agreed
/// prefix) and the step verifier's witness.
pub type StepProof = (Vec<u64>, Vec<u8>);

/// The node's move in dispute `id`, given its trace (re-executed from its stored request).
/// `material` gives the witness of the one step, for an operator that has a step verifier.
pub fn node_move<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    trace: &Trace,
    material: &mut dyn StepMaterial,
) -> Result<Move, DisputeError> {
    let v = view(host, d, id)?;
    if v.node != me {
        return Err(DisputeError::NotAParty { id });
    }
    let now = host.timestamp()?;
    match v.phase {
        Phase::Resolved(outcome) => Ok(Move::Resolved { outcome }),
        Phase::ChallengerToMove if now >= v.deadline => {
            let out = d.timeout(host, me, id)?;
            Ok(Move::TimedOut {
                slashed_wei: resolved_slash(&out, d, id).to_string(),
            })
        }
        Phase::NodeToMove if now < v.deadline => {
            let x = d.dispute(host, id)?;
            if v.disagree_size > trace.len()
                || trace.prefix_root(v.disagree_size) != x.disagreeRoot.0
            {
                return Err(DisputeError::TraceMismatch { id });
            }
            if v.disagree_size - v.agree_size > 1 {
                let mid = v.agree_size + (v.disagree_size - v.agree_size) / 2;
                d.bisect(host, me, id, trace)?;
                return Ok(Move::Bisected { mid });
            }
            let index = v.agree_size;
            let Some(key) = leaf_key(trace.leaf(index)) else {
                return Ok(Move::CannotProve {
                    index,
                    key: None,
                    reason: "malformed trace leaf".into(),
                });
            };
            let provable = host::view(
                host,
                d.dispute_game,
                &DisputeGame::hasStepProofCall {
                    modelId: v.model_id.into(),
                    outLeaf: trace.leaf(index).to_vec().into(),
                    temperatureMilli: x.temperatureMilli,
                },
            )?;
            if !provable {
                // No one can show on chain who is right at this step (no verifier, or one whose
                // proof would not fit a transaction): it ends without a winner.
                return match d.declare_unprovable(host, me, id, trace) {
                    Ok(_) => Ok(Move::NoContest { index, key }),
                    Err(e) => Ok(Move::CannotProve {
                        index,
                        key: Some(key),
                        reason: format!(
                            "no step verifier can prove operator {} at stage {}, and \
                             declareUnprovable failed: {e}",
                            key.op, key.stage
                        ),
                    }),
                };
            }
            let num_layers = host::view(
                host,
                d.registry,
                &ModelRegistry::modelCall {
                    modelId: v.model_id.into(),
                },
            )?
            .numLayers;
            // A matrix step whose registered verifier settles it by refutation (of one row: the
            // default, needing no unit keys; the head's too large for `openMatVec`) is
            // claimed, not opened.
            let refutable =
                is_mat_vec(key, num_layers) && d.refutable(host, v.model_id, key.stage, key.op)?;
            // Attention past what a proof fits in a transaction is claimed too.
            let long_attn = key.op == op::ATTN
                && key.stage >= 1
                && key.stage <= num_layers
                && !attn_by_proof(host, d, v.model_id, key, trace.leaf(index))?;
            if is_claimed(key, num_layers) || refutable || long_attn || is_prompt(key) {
                return claim_move(host, d, me, id, trace, index, key, num_layers, material);
            }
            if is_mat_vec(key, num_layers) {
                return mat_vec_move(host, d, me, id, trace, index, key, material);
            }
            let proof = match step_proof(trace, index, key, num_layers, material) {
                Ok(p) => p,
                Err(reason) => {
                    return Ok(Move::CannotProve {
                        index,
                        key: Some(key),
                        reason,
                    })
                }
            };
            // A failed proof (an attention step past the transaction gas cap, or a chain error)
            // is not the end of the defence: the node tries again at its next move and its
            // other disputes go on.
            if let Err(e) = d.prove_step(host, me, id, trace, &proof.0, proof.1) {
                return Ok(Move::CannotProve {
                    index,
                    key: Some(key),
                    reason: format!("proveStep failed: {e}"),
                });
            }
            Ok(Move::ProvedStep { index, key })
        }
        _ => Ok(Move::Waiting {
            deadline: v.deadline,
        }),
    }
}

/// The node's move at a matrix-vector step (docs/PROTOCOL.md §7.9): `openMatVec` with the whole
/// output, or, once the challenger named a unit, `proveUnit`. A move it cannot make (no
/// matrices or keys, a refused transaction) is [`Move::CannotProve`]: it tries again at its next
/// move and loses when its deadline passes.
#[allow(clippy::too_many_arguments)]
fn mat_vec_move<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    trace: &Trace,
    index: u64,
    key: LeafKey,
    material: &mut dyn StepMaterial,
) -> Result<Move, DisputeError> {
    let cannot = |reason: String| {
        Ok(Move::CannotProve {
            index,
            key: Some(key),
            reason,
        })
    };
    let mv = d.mat_vec(host, id)?;
    if mv.stage == MAT_VEC_NAMED {
        let row_start = u64::from(mv.rowStart);
        let u = match material.mat_vec_unit(index, key, row_start) {
            Ok(u) => u,
            Err(e) => return cannot(e),
        };
        if let Err(e) = d.prove_unit(host, me, id, &u) {
            return cannot(format!("proveUnit failed: {e}"));
        }
        return Ok(Move::ProvedUnit {
            index,
            key,
            row_start,
        });
    }
    let input = match find_input(trace, index, mat_vec_input(key)) {
        Ok(i) => i,
        Err(e) => return cannot(e),
    };
    let y = match material.mat_vec_output(index, key) {
        Ok(y) => y,
        Err(e) => return cannot(e),
    };
    if let Err(e) = d.open_mat_vec(host, me, id, trace, input, &y) {
        return cannot(format!("openMatVec failed: {e}"));
    }
    Ok(Move::OpenedMatVec { index, key })
}

/// Whether step `key` is the trace's `PROMPT` leaf (settled by a claim when the registry names
/// a verifier for it: `PromptStepVerifier.sol`).
pub fn is_prompt(key: LeafKey) -> bool {
    key.pos == 0 && key.stage == 0 && key.op == op::PROMPT
}

/// Whether step `key` is settled by a claim and its refutation (`claimStep`, `refuteStep`):
/// the head's `SAMPLE` (greedy; a sampled one has no step proof and ends with no contest).
pub fn is_claimed(key: LeafKey, num_layers: u16) -> bool {
    key.stage == num_layers + 1 && key.op == op::SAMPLE
}

/// The node's move at a step settled by refutation: `claimStep` with its claim and the step's
/// input (a `SAMPLE`: its token, input `LOGITS`; a `LOGITS`: its chunks' hashes, input
/// `FINAL_NORM`; a layer's matrix step: its whole output, input as [`mat_vec_input`]), or, once
/// the challenger named a part of the claim, `revealPart` with that chunk of its logits. A move
/// it cannot make is [`Move::CannotProve`].
#[allow(clippy::too_many_arguments)]
fn claim_move<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    trace: &Trace,
    index: u64,
    key: LeafKey,
    num_layers: u16,
    material: &mut dyn StepMaterial,
) -> Result<Move, DisputeError> {
    let cannot = |reason: String| {
        Ok(Move::CannotProve {
            index,
            key: Some(key),
            reason,
        })
    };
    // The step's output is replayed only where the move needs it (a sampled `SAMPLE` claims
    // from its input, the logits, alone: one replay of a long request, not two).
    macro_rules! replayed_output {
        () => {
            match material.output(index) {
                Ok(c) => c,
                Err(e) => return cannot(e),
            }
        };
    }
    if is_prompt(key) {
        // The prompt's text and tokens, with each token's piece end in the text.
        let prompt = replayed_output!();
        let Some(tok) = material.tokenizer() else {
            return cannot("no tokenizer to claim the prompt with".into());
        };
        let claim = otr_contracts::deploy::prompt_claim(&prompt, tok.prompt_bos(), |t| {
            tok.piece_surface(t).len()
        });
        let Some(claim) = claim else {
            return cannot("the PROMPT output is malformed".into());
        };
        if let Err(e) = d.claim_step(host, me, id, trace, &[], claim) {
            return cannot(format!("claimStep failed: {e}"));
        }
        return Ok(Move::ClaimedStep { index, key });
    }
    let c = d.claim(host, id)?;
    let attn = key.op == op::ATTN && key.stage >= 1 && key.stage <= num_layers;
    // An attention claim's parts are its states; a `LOGITS` claim's, chunks of its output.
    let attn_states = match attn {
        true => match attn_states(host, d, id, key, index, material) {
            Ok(s) => Some(s),
            Err(e) => return cannot(e),
        },
        false => None,
    };
    if c.stage == CLAIM_PART_NAMED {
        let part = u64::from(c.part);
        let Some(claim) = d.step_claimed(host, id)? else {
            return cannot("no StepClaimed event for our claim".into());
        };
        let data = match &attn_states {
            Some((_, states)) => otr_contracts::deploy::attn_part(states, part),
            None => {
                otr_contracts::deploy::wide_chunk(&replayed_output!(), part).map(<[u8]>::to_vec)
            }
        };
        let Some(data) = data else {
            return cannot(format!("our claim has no part {part}"));
        };
        if let Err(e) = d.reveal_part(host, me, id, &claim, &data) {
            return cannot(format!("revealPart failed: {e}"));
        }
        return Ok(Move::RevealedPart { index, part });
    }
    if let Some((config, states)) = attn_states {
        let input = match find_input(
            trace,
            index,
            LeafKey {
                op: op::Q_ROPE,
                ..key
            },
        ) {
            Ok(i) => i,
            Err(e) => return cannot(e),
        };
        let claim = otr_contracts::deploy::attn_claim(config.as_bytes(), &states);
        if let Err(e) = d.claim_step(host, me, id, trace, &[input], claim) {
            return cannot(format!("claimStep failed: {e}"));
        }
        return Ok(Move::ClaimedStep { index, key });
    }
    // A `SAMPLE` claims its token with the `LOGITS` input (a sampled one with its draw's
    // summary of the logits); a matrix step its output (the head's `LOGITS` as its chunks'
    // hashes) with its one input.
    let head = key.stage == num_layers + 1;
    let (input, claim) = if head && key.op == op::SAMPLE {
        let x = d.dispute(host, id)?;
        let claim = if x.temperatureMilli == 0 {
            replayed_output!()
        } else {
            let logits = match material.inputs(index) {
                Ok(v) => v.into_iter().next().unwrap_or_default(),
                Err(e) => return cannot(e),
            };
            match sampled_claim(&x, key, &logits) {
                Some(c) => c.encode(),
                None => return cannot("no sampled claim for these logits".into()),
            }
        };
        (
            LeafKey {
                op: op::LOGITS,
                ..key
            },
            claim,
        )
    } else if head {
        (
            mat_vec_input(key),
            otr_contracts::deploy::logits_claim(&replayed_output!()),
        )
    } else {
        (mat_vec_input(key), replayed_output!())
    };
    let input = match find_input(trace, index, input) {
        Ok(i) => i,
        Err(e) => return cannot(e),
    };
    if let Err(e) = d.claim_step(host, me, id, trace, &[input], claim) {
        return cannot(format!("claimStep failed: {e}"));
    }
    Ok(Move::ClaimedStep { index, key })
}

/// Whether the registry's `ATTN` verifier settles step `key` (leaf `leaf`) by proof
/// (`AttnStepVerifier.byProof`: its visible positions fit a transaction); else by a claim.
fn attn_by_proof<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    model_id: [u8; 32],
    key: LeafKey,
    leaf: &[u8],
) -> Result<bool, DisputeError> {
    use otr_contracts::bindings::attn_step::AttnStepVerifier;
    let v = d.step_verifier(host, model_id, key.stage, key.op)?;
    if v == Address::ZERO {
        return Ok(true);
    }
    let call = AttnStepVerifier::byProofCall {
        modelId: model_id.into(),
        outLeaf: leaf.to_vec().into(),
    };
    // A verifier without `byProof` (another deployment's) proves every step it is named for.
    Ok(host::view(host, v, &call).unwrap_or(true))
}

/// The parts' length of the `ATTN` verifier of dispute `id`: the one its claim was checked by,
/// once made, else the one the registry names for step `key`.
fn attn_chunk<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    id: u64,
    key: LeafKey,
) -> Result<usize, String> {
    use otr_contracts::bindings::attn_step::AttnStepVerifier;
    let mut v = d.claim_verifier(host, id).map_err(|e| e.to_string())?;
    if v == Address::ZERO {
        let model_id = d.dispute(host, id).map_err(|e| e.to_string())?.modelId.0;
        v = d
            .step_verifier(host, model_id, key.stage, key.op)
            .map_err(|e| e.to_string())?;
    }
    let n: U256 =
        host::view(host, v, &AttnStepVerifier::chunkCall {}).map_err(|e| e.to_string())?;
    Ok(n.saturating_to::<usize>().max(1))
}

/// The attention shape of a canonical config text.
fn attn_shape(config: &str) -> Result<otr_engine::model::attn_parts::AttnShape, String> {
    let f = |name| config_field(config, name).map(|v| v as usize);
    Ok(otr_engine::model::attn_parts::AttnShape {
        heads: f("n_heads")?,
        kv_heads: f("n_kv_heads")?,
        head_dim: f("head_dim")?,
    })
}

/// The attention step `key`'s inputs from the replay.
fn attn_inputs(
    material: &mut dyn StepMaterial,
    index: u64,
) -> Result<(String, otr_engine::model::attn_parts::AttnInputs), String> {
    let config = material.config()?;
    let shape = attn_shape(&config)?;
    let inputs = material.inputs(index)?;
    let [q, ks, vs] = inputs.as_slice() else {
        return Err(format!("expected 3 inputs, got {}", inputs.len()));
    };
    let x = otr_engine::model::attn_parts::AttnInputs::from_bytes(shape, q, ks, vs)
        .ok_or("the attention inputs do not fit the model's shape")?;
    Ok((config, x))
}

/// The node's claim material at attention step `key`: the config text and its states after
/// each part (engine `attn_parts`, encoded).
fn attn_states<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    id: u64,
    key: LeafKey,
    index: u64,
    material: &mut dyn StepMaterial,
) -> Result<(String, Vec<Vec<u8>>), String> {
    let chunk = attn_chunk(host, d, id, key)?;
    let (config, x) = attn_inputs(material, index)?;
    let states = x
        .states(chunk)
        .iter()
        .map(|s| otr_engine::model::attn_parts::encode_state(s))
        .collect();
    Ok((config, states))
}

/// The engine's sampling parameters of dispute `x` (its receipt's).
fn dispute_sampling(
    x: &otr_contracts::bindings::dispute_game::DisputeGame::Dispute,
) -> otr_engine::Sampling {
    otr_engine::Sampling {
        temperature_milli: x.temperatureMilli,
        top_k: x.topK,
        top_p_milli: x.topPMilli,
        max_tokens: 0,
        seed: x.seed,
    }
}

/// The completion index of the token sampled at `key` (the token after position `pos`).
fn completion_index(
    x: &otr_contracts::bindings::dispute_game::DisputeGame::Dispute,
    key: LeafKey,
) -> Option<u64> {
    (u64::from(key.pos) + 1).checked_sub(u64::from(x.promptTokens))
}

fn i64s(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// The sampled claim (`SampleStepVerifier.Sampled`) of the token sampled from `logits`
/// (i64le) at `key` in dispute `x`: engine `sampling::sampled_claim` with the receipt's
/// parameters.
fn sampled_claim(
    x: &otr_contracts::bindings::dispute_game::DisputeGame::Dispute,
    key: LeafKey,
    logits: &[u8],
) -> Option<otr_contracts::deploy::SampledClaim> {
    use otr_engine::model::sampling;
    let s = dispute_sampling(x);
    let c = sampling::sampled_claim(&i64s(logits), &s, completion_index(x, key)?)?;
    let w = |l: i64| sampling::weight(l, c.cuts.lmax, s.temperature_milli) as u64;
    let (kb, pb) = (c.cuts.kb.unwrap_or_default(), c.cuts.pb.unwrap_or_default());
    Some(otr_contracts::deploy::SampledClaim {
        sampling: otr_contracts::deploy::sampling_word(
            x.temperatureMilli,
            x.topK,
            x.topPMilli,
            x.seed,
            x.promptTokens,
        ),
        token: c.cuts.t.1,
        lt: c.cuts.t.0,
        wt: w(c.cuts.t.0),
        lmax: c.cuts.lmax,
        hasKb: c.cuts.kb.is_some(),
        lkb: kb.0,
        kb: kb.1,
        hasPb: c.cuts.pb.is_some(),
        lpb: pb.0,
        pb: pb.1,
        wpb: if c.cuts.pb.is_some() { w(pb.0) } else { 0 },
        wTotal: c.w_total,
        wKept: c.w_kept,
        cT: c.c_t,
        chunks: c
            .chunks
            .iter()
            .map(|s| otr_contracts::deploy::SampledChunk {
                max: s.max,
                n: s.n,
                w: s.w,
                k: s.k,
                c: s.c,
            })
            .collect(),
    })
}

/// The first chunk of the challenger's own `logits` whose summary, against the node's sampled
/// claim `c` (its cuts), is not the claimed one, or that holds the token or the top-p cut with
/// another logit or weight than claimed.
pub fn wrong_sampled_chunk(c: &otr_contracts::deploy::SampledClaim, logits: &[u8]) -> Option<u64> {
    use otr_engine::model::sampling::{self, chunk_summary, Cuts};
    let temp = c.sampling.as_limbs()[0] as u32;
    let cuts = Cuts {
        lmax: c.lmax,
        kb: c.hasKb.then_some((c.lkb, c.kb)),
        pb: c.hasPb.then_some((c.lpb, c.pb)),
        t: (c.lt, c.token),
    };
    let own = i64s(logits);
    let n = otr_core::rollup::tensor::WIDE_CHUNK;
    let wrong_at = |id: u32, l: i64, w: u64| {
        own.get(id as usize)
            .is_some_and(|&mine| mine != l || sampling::weight(mine, c.lmax, temp) as u64 != w)
    };
    if wrong_at(c.token, c.lt, c.wt) {
        return Some(u64::from(c.token) / n as u64);
    }
    if c.hasPb && wrong_at(c.pb, c.lpb, c.wpb) {
        return Some(u64::from(c.pb) / n as u64);
    }
    own.chunks(n).enumerate().find_map(|(j, v)| {
        let s = chunk_summary(v, (j * n) as u32, &cuts, temp);
        let claimed = c.chunks.get(j)?;
        let same = (s.max, s.n, s.w, s.k, s.c)
            == (claimed.max, claimed.n, claimed.w, claimed.k, claimed.c);
        (!same).then_some(j as u64)
    })
}

/// `DisputeGame.ClaimStage`: the challenger named a part, the node reveals it.
const CLAIM_PART_NAMED: u8 = 2;
/// `DisputeGame.ClaimStage`: the node revealed the named part, the challenger refutes.
const CLAIM_PART_REVEALED: u8 = 3;

/// The challenger's answer to the node's claim in dispute `id`, from its own replay of the
/// step (whose input leaf is in the agreed prefix, so the same as the node's):
/// - a `SAMPLE` token: the greedy pick of its own logits; a claim other than it is refuted with
///   it ([`Move::Refuted`]);
/// - a `LOGITS` claim (the chunks' hashes): it names the first chunk whose hash is not its own
///   ([`Move::NamedPart`]); once the node revealed it, it refutes the first logit that is not its
///   own with that logit's embedding row ([`Move::RefutedLogit`]);
/// - a layer matrix step's output: it refutes the first value that is not its own with that row
///   of the matrix ([`Move::RefutedRow`]).
///
/// Else [`Move::ClaimStands`] (the claim is right, or no replay to find a counterexample): the
/// node wins at the deadline. `None` for a claim of another form.
#[allow(clippy::too_many_arguments)]
fn refute_claim<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    index: u64,
    num_layers: u16,
    own: &Trace,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Option<Move>, DisputeError> {
    let c = d
        .step_claimed(host, id)?
        .ok_or_else(|| DisputeError::Chain(format!("dispute {id}: no StepClaimed event")))?;
    let Some(key) = leaf_key(&c.out_leaf) else {
        return Ok(None);
    };
    let head = key.stage == num_layers + 1;
    if is_prompt(key) {
        return refute_prompt(host, d, me, id, index, &c, material);
    }
    if head && key.op == op::LOGITS {
        return refute_logits(host, d, me, id, index, &c, material);
    }
    if !head && key.op == op::ATTN {
        return refute_attn(host, d, me, id, index, key, &c, own, material);
    }
    if !head {
        return refute_row(host, d, me, id, index, key, &c, material);
    }
    let Ok(t) = <[u8; 4]>::try_from(&c.claim[..]) else {
        return refute_sampled(host, d, me, id, index, &c, material);
    };
    let token = u64::from(u32::from_le_bytes(t));
    let stands = Ok(Some(Move::ClaimStands { index, token }));
    let Some(logits) = material
        .and_then(|m| m.inputs(index).ok())
        .and_then(|v| v.into_iter().next())
    else {
        return stands;
    };
    let Some(better) = otr_contracts::deploy::greedy_pick(&logits).filter(|&j| j != token) else {
        return stands;
    };
    let Some(witness) = otr_contracts::deploy::sample_refutation_witness(&logits, token, better)
    else {
        return stands;
    };
    let out = d.refute_step(host, me, id, &c, &[], witness)?;
    Ok(Some(Move::Refuted {
        index,
        token,
        better,
        slashed_wei: resolved_slash(&out, d, id).to_string(),
    }))
}

/// [`refute_claim`] of a layer matrix step's output: the first value that is not the
/// challenger's own is refuted with that row of the matrix (an output longer than its own, with
/// row 0: the matrix's opened rows show the length is wrong).
#[allow(clippy::too_many_arguments)]
fn refute_row<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    index: u64,
    key: LeafKey,
    c: &otr_contracts::deploy::StepClaim,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Option<Move>, DisputeError> {
    let stands = Ok(Some(Move::ClaimStands { index, token: 0 }));
    let Some(m) = material else {
        return stands;
    };
    let Ok(mine) = m.output(index) else {
        return stands;
    };
    let Some(mut row) = first_wrong_row(&c.claim, &mine) else {
        return stands;
    };
    if row >= mine.len() as u64 / 8 {
        row = 0;
    }
    let x = m
        .inputs(index)
        .map(|v| v.into_iter().next().unwrap_or_default());
    let (x, opening) = match (x, m.matrix_row(key, row as u32)) {
        (Ok(x), Ok(o)) => (x, o),
        (Err(e), _) | (_, Err(e)) => {
            // A wrong row it cannot show: the claim stands at the deadline; say why.
            eprintln!(
                "otr: dispute {id}: row {row} of step {index} is wrong but cannot be refuted: {e}"
            );
            return stands;
        }
    };
    let witness = otr_contracts::deploy::matrow_refutation_witness(row, &x, &opening);
    let out = d.refute_step(host, me, id, c, &[], witness)?;
    Ok(Some(Move::RefutedRow {
        index,
        row,
        slashed_wei: resolved_slash(&out, d, id).to_string(),
    }))
}

/// [`refute_claim`] of a sampled pick's claim: the first chunk of its own logits whose summary
/// is not the claimed one is opened and recomputed on chain ([`Move::RefutedDraw`]); else the
/// claim stands.
fn refute_sampled<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    index: u64,
    c: &otr_contracts::deploy::StepClaim,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Option<Move>, DisputeError> {
    let Some(claim) = otr_contracts::deploy::SampledClaim::decode(&c.claim) else {
        return Ok(None);
    };
    let token = u64::from(claim.token);
    let stands = Ok(Some(Move::ClaimStands { index, token }));
    let Some(logits) = material
        .and_then(|m| m.inputs(index).ok())
        .and_then(|v| v.into_iter().next())
    else {
        return stands;
    };
    let Some(j) = wrong_sampled_chunk(&claim, &logits) else {
        return stands;
    };
    let table = otr_engine::tables::exp2_table_bytes();
    let Some(witness) = otr_contracts::deploy::sampled_refutation_witness(&logits, j, &table)
    else {
        return stands;
    };
    let out = d.refute_step(host, me, id, c, &[], witness)?;
    Ok(Some(Move::RefutedDraw {
        index,
        token,
        chunk: j,
        slashed_wei: resolved_slash(&out, d, id).to_string(),
    }))
}

/// [`refute_claim`] of an attention claim: the first part whose claimed state is not its own
/// (its own states recomputed with the claim's maxima) is named ([`Move::NamedPart`]); once the
/// node revealed it, it is refuted with the part's keys and values opened in the agreed prefix
/// ([`Move::RefutedAttn`]). Else the claim stands.
#[allow(clippy::too_many_arguments)]
fn refute_attn<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    index: u64,
    key: LeafKey,
    c: &otr_contracts::deploy::StepClaim,
    own: &Trace,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Option<Move>, DisputeError> {
    use otr_engine::model::attn_parts::{claimed_maxima, decode_state, encode_state};
    let stands = Ok(Some(Move::ClaimStands { index, token: 0 }));
    let Some(m) = material else {
        return stands;
    };
    let Some((_, last, digests)) = otr_contracts::deploy::attn_claim_decode(&c.claim) else {
        return Ok(None);
    };
    let (Ok(chunk), Ok((config, x))) = (attn_chunk(host, d, id, key), attn_inputs(m, index)) else {
        return stands;
    };
    let Some(last) = decode_state(&last, x.shape) else {
        return stands;
    };
    let mine = x.states_with(chunk, &claimed_maxima(&last));
    if d.claim(host, id)?.stage == CLAIM_PART_REVEALED {
        let Some((part, revealed)) = d.part_revealed(host, id)? else {
            return stands;
        };
        let Some((_, cur)) = otr_contracts::deploy::attn_part_decode(&revealed) else {
            return stands;
        };
        let p = part as usize;
        if mine.get(p).map(|s| encode_state(s)) == Some(cur) {
            return stands;
        }
        let lo = match visible_from(&config, key.stage - 1, key.pos) {
            Ok(lo) => lo as usize,
            Err(_) => return stands,
        };
        let at = |j: usize, op| LeafKey {
            pos: (lo + j) as u32,
            op,
            ..key
        };
        let mut idx = Vec::new();
        for o in [op::K_ROPE, op::V_CACHE] {
            for j in x.part_range(p, chunk) {
                match find_input(own, index, at(j, o)) {
                    Ok(i) => idx.push(i),
                    Err(e) => {
                        eprintln!("otr: dispute {id}: part {part} cannot be refuted: {e}");
                        return stands;
                    }
                }
            }
        }
        let (q, ks, vs) = x.part_bytes(p, chunk);
        let witness = otr_contracts::deploy::attn_refutation_witness(
            &q,
            &ks,
            &vs,
            &otr_engine::tables::exp2_table_bytes(),
        );
        let out = d.refute_step_opened(host, me, id, c, &revealed, own, &idx, witness)?;
        return Ok(Some(Move::RefutedAttn {
            index,
            part,
            slashed_wei: resolved_slash(&out, d, id).to_string(),
        }));
    }
    let Some(part) = digests
        .iter()
        .zip(&mine)
        .position(|(d, s)| *d != otr_core::crypto::sha256(&encode_state(s)))
    else {
        return stands;
    };
    d.name_part(host, me, id, c, part as u64)?;
    Ok(Some(Move::NamedPart {
        index,
        part: part as u64,
    }))
}

/// [`refute_claim`] of a `PROMPT` claim: the first token whose piece is not the claimed text
/// between its ends is refuted with its piece opened in the vocabulary-piece tree
/// ([`Move::RefutedPrompt`]); when every piece is its text, a tokenization the tokenizer does
/// not give is refuted ([`tokenization_witness`], [`Move::RefutedTokenization`]).
/// A claim with neither stands, even when the text is not the request's (the node answered
/// another prompt, and says so in its text: what a client comparing the text with its request
/// sees, not the chain).
fn refute_prompt<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    index: u64,
    c: &otr_contracts::deploy::StepClaim,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Option<Move>, DisputeError> {
    use otr_contracts::deploy::{prompt_claim_decode, prompt_parts, prompt_wrong_token};
    let stands = Ok(Some(Move::ClaimStands { index, token: 0 }));
    let Some(m) = material else {
        return stands;
    };
    let own = m.output(index).ok();
    let Some(tok) = m.tokenizer() else {
        return stands;
    };
    let bos = tok.prompt_bos();
    let Some((k, token)) = prompt_wrong_token(&c.claim, bos, |t| tok.piece_surface(t)) else {
        let theirs = prompt_claim_decode(&c.claim).map(|(p, _)| p);
        let ids = theirs
            .as_deref()
            .and_then(prompt_parts)
            .map(|(_, ids)| ids)
            .unwrap_or_default();
        if let Some((k, merged, how, witness)) = tokenization_witness(tok, &ids) {
            let out = d.refute_step(host, me, id, c, &[], witness)?;
            return Ok(Some(Move::RefutedTokenization {
                index,
                token: k,
                how: how.to_string(),
                merged,
                slashed_wei: resolved_slash(&out, d, id).to_string(),
            }));
        }
        if let (Some(own), Some(theirs)) = (own, theirs) {
            let text = |p: &[u8]| {
                prompt_parts(p)
                    .map(|(t, _)| String::from_utf8_lossy(t).into_owned())
                    .unwrap_or_default()
            };
            if text(&own) != text(&theirs) {
                eprintln!(
                    "otr: dispute {id}: the node's PROMPT leaf is another prompt's, its tokens \
                     and text agreeing ({:?}, the request's is {:?}): a client comparing the \
                     text with its request refuses the answer; the chain cannot",
                    text(&theirs),
                    text(&own)
                );
            }
        }
        return stands;
    };
    let Some((surface, path)) = tok.piece_opening(token) else {
        return stands;
    };
    let witness =
        otr_contracts::deploy::prompt_refutation_witness(k, tok.piece_kind(token), &surface, &path);
    let out = d.refute_step(host, me, id, c, &[], witness)?;
    Ok(Some(Move::RefutedPrompt {
        index,
        token: k,
        slashed_wei: resolved_slash(&out, d, id).to_string(),
    }))
}

/// The cheapest counterexample to a `PROMPT` claim's tokenization of its text, when it is
/// not the tokenizer's (every piece being its text): a misplaced byte, a mergeable pair, a
/// spelled special, then a non-canonical pair of pieces or with a byte side (engine
/// `Tokenizer::misplaced_byte`, `mergeable_pair`, `spelled_special`, `non_canonical_pair`,
/// `non_canonical_bytes`). Returns the token it names
/// (counted after a leading BOS), the merged piece of a mergeable pair, which one it is and the
/// witness.
fn tokenization_witness(
    tok: &otr_engine::Tokenizer,
    ids: &[u32],
) -> Option<(u64, Option<u64>, &'static str, Vec<u8>)> {
    use otr_contracts::deploy::{
        prompt_byte_witness, prompt_merge_witness, prompt_replay_witness, prompt_special_witness,
        prompt_units_witness,
    };
    // The tokens the counterexamples count (after a BOS the vocabulary adds).
    let body = tok.after_bos(ids);
    // The piece tree, built once and only when a counterexample needs it.
    let pieces = std::cell::OnceCell::new();
    let open = |id: u32| pieces.get_or_init(|| tok.piece_tree()).path(id);
    let text_opening =
        |o: otr_engine::tokenizer::TextOpening| (o.index, o.id, o.score_key, o.text, o.path);
    if let Some((k, c)) = tok.misplaced_byte(ids) {
        let o = tok.text_tree().lookup(&c).into_iter().next()?;
        let w = prompt_byte_witness(k as u64, &open(body[k])?, &text_opening(o));
        return Some((k as u64, None, "misplaced_byte", w));
    }
    if let Some((k, merged)) = tok.mergeable_pair(ids) {
        let (a, b, m) = (open(body[k])?, open(body[k + 1])?, open(merged)?);
        let w = prompt_merge_witness(k as u64, merged, &a, &b, &m);
        return Some((k as u64, Some(u64::from(merged)), "mergeable_pair", w));
    }
    if let Some((i, j, p, sid)) = tok.spelled_special(ids) {
        let paths = (i..=j).map(|t| open(body[t])).collect::<Option<Vec<_>>>()?;
        let len = tok.piece_surface(sid).len() as u64;
        let w = prompt_special_witness(i as u64, p as u64, len, sid, &open(sid)?, &paths);
        return Some((i as u64, None, "spelled_special", w));
    }
    let tree = tok.text_tree();
    if let Some((k, openings)) = tok.non_canonical_pair(ids, &tree) {
        let os: Vec<_> = openings.into_iter().map(text_opening).collect();
        let w = prompt_replay_witness(k as u64, &open(body[k])?, &open(body[k + 1])?, &os);
        return Some((k as u64, None, "non_canonical_pair", w));
    }
    let (k, ra, rb, openings) = tok.non_canonical_bytes(ids, &tree)?;
    let paths = (k..k + ra + rb)
        .map(|t| open(body[t]))
        .collect::<Option<Vec<_>>>()?;
    let os: Vec<_> = openings.into_iter().map(text_opening).collect();
    let w = prompt_units_witness(k as u64, ra as u64, rb as u64, &paths, &os);
    Some((k as u64, None, "non_canonical_bytes", w))
}

/// [`refute_claim`] of a `LOGITS` claim.
fn refute_logits<'m, H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    me: Address,
    id: u64,
    index: u64,
    c: &otr_contracts::deploy::StepClaim,
    material: Option<&mut (dyn StepMaterial + 'm)>,
) -> Result<Option<Move>, DisputeError> {
    let stands = Ok(Some(Move::ClaimStands { index, token: 0 }));
    let Some(m) = material else {
        return stands;
    };
    let Ok(mine) = m.output(index) else {
        return stands;
    };
    let stage = d.claim(host, id)?.stage;
    if stage == CLAIM_PART_REVEALED {
        let Some((part, theirs)) = d.part_revealed(host, id)? else {
            return stands;
        };
        let Some(own) = otr_contracts::deploy::wide_chunk(&mine, part) else {
            return stands;
        };
        let Some(r) = first_wrong_row(&theirs, own) else {
            return stands;
        };
        let row = part * otr_core::rollup::tensor::WIDE_CHUNK as u64 + r;
        let (Ok(x), Ok(opening)) = (
            m.inputs(index)
                .map(|v| v.into_iter().next().unwrap_or_default()),
            m.head_row(row as u32),
        ) else {
            return stands;
        };
        let witness =
            otr_contracts::deploy::logits_refutation_witness(row, &x, &opening.row, &opening.path);
        let out = d.refute_step(host, me, id, c, &theirs, witness)?;
        return Ok(Some(Move::RefutedLogit {
            index,
            row,
            slashed_wei: resolved_slash(&out, d, id).to_string(),
        }));
    }
    // The first chunk whose hash is not ours.
    let own = otr_contracts::deploy::logits_claim(&mine);
    let Some(part) = c
        .claim
        .chunks(32)
        .zip(own.chunks(32))
        .position(|(a, b)| a != b)
    else {
        return stands;
    };
    d.name_part(host, me, id, c, part as u64)?;
    Ok(Some(Move::NamedPart {
        index,
        part: part as u64,
    }))
}

/// The model's matrices, for a dispute at a matrix-vector step and for the node's spot checks
/// (off-chain ZK and on-chain): the converted weights' matrices (a challenger computes its own
/// product), and, for a node, the unit proving keys by shape (`otr zk ceremony` output
/// directories, one per shape) and the registry's matrix commitments (`zkroot`) it opens `C_W`
/// in. A node loads it once (`SpotChecker` holds it, `Node::mat_vec` shares it).
pub struct MatVecSetup {
    matrices: std::collections::BTreeMap<
        String,
        (
            otr_engine::weights::QMatrix,
            std::sync::OnceLock<otr_zk::commit::MatrixTree>,
        ),
    >,
    keys: Vec<otr_zk::keys::Keys>,
    /// The served model (for its matrix commitments).
    info: otr_engine::ModelInfo,
    /// The matrix commitments, computed (or read from their cache) on first use:
    /// [`MatVecSetup::commitments`].
    commitments: std::sync::OnceLock<Result<super::zkroot::MatrixCommitments, String>>,
    n_layers: u16,
    separate_output: bool,
}

impl MatVecSetup {
    /// Loads the converted matrices of `model` (a name or GGUF path, as `otr serve --model`) and
    /// the keys in `key_dirs` (`pk.bin` and `transcript.json` each, one directory per matrix
    /// shape; none for a challenger). With keys only the matrices of their shapes are kept.
    pub fn load(model: &str, key_dirs: &[std::path::PathBuf]) -> Result<Self, String> {
        let mut keys: Vec<otr_zk::keys::Keys> = Vec::new();
        for dir in key_dirs {
            let k = otr_zk::keys::Keys::load(dir)
                .map_err(|e| format!("{}: {} ({})", dir.display(), e, e.code()))?;
            let s = k.shape;
            if keys
                .iter()
                .any(|o| (o.shape.matrix_rows, o.shape.cols) == (s.matrix_rows, s.cols))
            {
                return Err(format!(
                    "{}: a second setup for {} x {} matrices (give one per shape)",
                    dir.display(),
                    s.matrix_rows,
                    s.cols
                ));
            }
            keys.push(k);
        }
        Self::with_keys(model, keys)
    }

    /// [`MatVecSetup::load`] with keys already loaded (or made: tests use the INSECURE public
    /// phase 1's `otr_zk::ceremony::initial_key`).
    pub fn with_keys(model: &str, keys: Vec<otr_zk::keys::Keys>) -> Result<Self, String> {
        let (_, path) = super::engine_impl::resolve(model)?;
        let m = otr_engine::Model::load(&path, &otr_engine::default_cache_dir())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let info = m.info().clone();
        drop(m);
        let tensors = otr_engine::convert::cache::read(&info.cache_path, &info.gguf_sha256)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{}: no converted weights", info.cache_path.display()))?;
        // A node keeps only the matrices it has keys for (it cannot prove the others); a
        // challenger (no keys) keeps them all.
        let proven = |w: &otr_engine::weights::QMatrix| {
            keys.is_empty()
                || keys
                    .iter()
                    .any(|k| k.shape.matrix_rows == w.rows && k.shape.cols == w.cols)
        };
        let matrices = tensors
            .into_iter()
            .filter_map(|(name, t, _)| match t {
                otr_engine::weights::Tensor::Matrix(w) if proven(&w) => {
                    Some((name, (w, std::sync::OnceLock::new())))
                }
                _ => None,
            })
            .collect();
        Ok(MatVecSetup {
            matrices,
            keys,
            n_layers: info.config.n_layers as u16,
            separate_output: info.config.separate_output,
            info,
            commitments: std::sync::OnceLock::new(),
        })
    }

    /// The model's matrix commitments (the registry's `poseidonRoot` tree), read from their cache
    /// next to the converted weights or computed there the first time (minutes for Gemma 3
    /// 270M: a node warms them in the background, `defend::load_mat_vec`).
    pub fn commitments(&self) -> Result<&super::zkroot::MatrixCommitments, String> {
        self.commitments
            .get_or_init(|| super::zkroot::load_or_compute(&self.info, 1).map(|c| c.0))
            .as_ref()
            .map_err(|e| format!("the model's matrix commitments: {e}"))
    }

    /// The unit proving keys, one per matrix shape.
    pub fn keys(&self) -> &[otr_zk::keys::Keys] {
        &self.keys
    }

    /// The served model.
    pub fn info(&self) -> &otr_engine::ModelInfo {
        &self.info
    }

    /// How many of the model's matrices are kept (those of the keys' shapes, with keys).
    pub fn matrix_count(&self) -> usize {
        self.matrices.len()
    }

    /// The matrix of step `key` when keys prove its shape: its name, the matrix, its Poseidon
    /// tree (built on first use: about a second for 640 x 2048) and the keys.
    pub fn keyed_matrix(
        &self,
        key: LeafKey,
    ) -> Option<(
        &str,
        &otr_engine::weights::QMatrix,
        &otr_zk::commit::MatrixTree,
        &otr_zk::keys::Keys,
    )> {
        let (name, w) = self.matrix(key).ok()?;
        let keys = self.keys_for(w)?;
        let tree = self.matrices[name]
            .1
            .get_or_init(|| otr_zk::commit::MatrixTree::new(w));
        Some((name, w, tree, keys))
    }

    /// Whether keys prove the matrix of step `key` (builds no tree).
    pub fn is_keyed(&self, key: LeafKey) -> bool {
        self.matrix(key)
            .is_ok_and(|(_, w)| self.keys_for(w).is_some())
    }

    fn keys_for(&self, w: &otr_engine::weights::QMatrix) -> Option<&otr_zk::keys::Keys> {
        self.keys
            .iter()
            .find(|k| k.shape.matrix_rows == w.rows && k.shape.cols == w.cols)
    }

    /// The shapes the keys are for: `(matrix rows, cols, R, verifying key)`.
    pub fn shapes(&self) -> Vec<(usize, usize, usize, &otr_core::zk::PreparedVk)> {
        self.keys
            .iter()
            .map(|k| {
                let s = k.shape;
                (s.matrix_rows, s.cols, s.rows_per_unit, &k.vk)
            })
            .collect()
    }

    /// The matrix operators this setup can prove, as the registry names step verifiers:
    /// `(stage class, op, rows, cols, R, verifying key)` for each of `Q K V O GATE UP DOWN`
    /// (stage class 1: every layer has the first layer's shapes) and `LOGITS` (stage class 2)
    /// whose matrix has the shape of one of the keys.
    pub fn op_shapes(&self) -> Vec<(u8, u8, usize, usize, usize, &otr_core::zk::PreparedVk)> {
        let layer =
            [op::Q, op::K, op::V, op::O, op::GATE, op::UP, op::DOWN].map(|o| (1u8, 1u16, o));
        let head = (2u8, self.n_layers + 1, op::LOGITS);
        let mut out = Vec::new();
        for (class, stage, o) in layer.into_iter().chain([head]) {
            let key = LeafKey {
                pos: 0,
                stage,
                op: o,
            };
            let Ok((_, w)) = self.matrix(key) else {
                continue;
            };
            if let Some(k) = self.keys_for(w) {
                out.push((class, o, w.rows, w.cols, k.shape.rows_per_unit, &k.vk));
            }
        }
        out
    }

    /// `(matrix rows, rows per unit R)` of the keys that prove step `key`.
    pub fn unit_shape(&self, key: LeafKey) -> Result<(u64, u64), String> {
        let (name, w) = self.matrix(key)?;
        let k = self
            .keys_for(w)
            .ok_or_else(|| format!("no proving keys for {name} ({} x {})", w.rows, w.cols))?;
        Ok((w.rows as u64, k.shape.rows_per_unit as u64))
    }

    /// Whether the model's `LOGITS` multiply by the tied embedding matrix.
    pub fn tied_output(&self) -> bool {
        !self.separate_output
    }

    /// The matrix of step `key` and its converted-weights name.
    fn matrix(&self, key: LeafKey) -> Result<(&str, &otr_engine::weights::QMatrix), String> {
        let sk = otr_engine::StepKey {
            pos: key.pos,
            stage: key.stage,
            op: key.op,
        };
        let name = otr_zk::step::matrix_name(sk, self.n_layers, self.separate_output)
            .ok_or_else(|| format!("step {key:?} is not a matrix-vector product"))?;
        let (n, (w, _)) = self
            .matrices
            .get_key_value(&name)
            .ok_or_else(|| format!("the model has no matrix {name}"))?;
        Ok((n.as_str(), w))
    }

    /// The whole output (i64le) of step `key` for the input `x` (`Act16::bytes`).
    pub fn output(&self, key: LeafKey, x: &[u8]) -> Result<Vec<u8>, String> {
        let (_, w) = self.matrix(key)?;
        let a = otr_zk::step::act16_from_bytes(x, w.cols).map_err(|e| e.to_string())?;
        Ok(otr_engine::fixed::wide_bytes(
            &otr_zk::unit::reference_rows(w, &a, 0, w.rows),
        ))
    }

    /// The `proveUnit` arguments of the unit at `row_start` of step `key` with input `x` (the
    /// whole output computed once, by the prover, and checked against `digest` when given: the
    /// trace leaf's): the proof is made with the keys of the matrix's shape and checked by the
    /// core verifier.
    pub fn unit(
        &self,
        key: LeafKey,
        x: &[u8],
        digest: Option<[u8; 32]>,
        row_start: u64,
    ) -> Result<otr_contracts::deploy::UnitMove, String> {
        let (name, w) = self.matrix(key)?;
        let keys = self
            .keys_for(w)
            .ok_or_else(|| format!("no proving keys for {name} ({} x {})", w.rows, w.cols))?;
        let r = keys.shape.rows_per_unit as u64;
        if !row_start.is_multiple_of(r) {
            return Err(format!("row {row_start} does not start a unit of {r} rows"));
        }
        let opening = self
            .commitments()?
            .opening(name)
            .ok_or_else(|| format!("no registered commitment of {name}"))?;
        let tree = self.matrices[name]
            .1
            .get_or_init(|| otr_zk::commit::MatrixTree::new(w));
        if otr_core::zk::groth16::scalar_to_be_bytes(&tree.commitment()) != opening.commitment {
            return Err(format!("{name}: the matrix is not the committed one"));
        }
        let mut rng = {
            use rand_chacha::rand_core::SeedableRng;
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| e.to_string())?;
            rand_chacha::ChaCha20Rng::from_seed(seed)
        };
        let p = otr_zk::step::prove_step_unit(keys, w, tree, x, digest, row_start / r, &mut rng)
            .map_err(|e| format!("{} ({})", e, e.code()))?;
        let proof = otr_zk::prove::decode_proof(&p.proof.proof).map_err(|e| e.to_string())?;
        Ok(otr_contracts::deploy::UnitMove {
            x: x.to_vec(),
            y: p.output,
            c_w: opening.commitment,
            cw_index: opening.index,
            cw_size: opening.size,
            cw_path: opening.path,
            proof: otr_contracts::groth16_sol::proof_calldata(&proof.0),
        })
    }
}

/// [`StepMaterial`] of a replay with the model's matrices: everything [`Replay`] gives, and the
/// matrix-vector steps' output and unit proofs.
pub struct MatVecReplay<'a> {
    pub replay: Replay<'a>,
    pub setup: &'a MatVecSetup,
}

impl MatVecReplay<'_> {
    fn input(&mut self, index: u64) -> Result<Vec<u8>, String> {
        let inputs = self.replay.inputs(index)?;
        match <[Vec<u8>; 1]>::try_from(inputs) {
            Ok([x]) => Ok(x),
            Err(v) => Err(format!("expected 1 input, got {}", v.len())),
        }
    }
}

impl StepMaterial for MatVecReplay<'_> {
    fn inputs(&mut self, index: u64) -> Result<Vec<Vec<u8>>, String> {
        self.replay.inputs(index)
    }

    fn norm(&mut self, name: &str) -> Result<NormOpening, String> {
        self.replay.norm(name)
    }

    fn rope_row(&mut self, layer: u16, pos: u32) -> Result<RopeRow, String> {
        self.replay.rope_row(layer, pos)
    }

    fn config(&mut self) -> Result<String, String> {
        self.replay.config()
    }

    fn act_table(&mut self) -> Result<Vec<u8>, String> {
        self.replay.act_table()
    }

    fn exp_table(&mut self) -> Result<Vec<u8>, String> {
        self.replay.exp_table()
    }

    fn embed_row(&mut self, token: u32) -> Result<super::inference::EmbedRow, String> {
        self.replay.embed_row(token)
    }

    fn head_row(&mut self, r: u32) -> Result<super::inference::EmbedRow, String> {
        self.replay.head_row(r)
    }

    fn matrix_row(
        &mut self,
        key: LeafKey,
        r: u32,
    ) -> Result<otr_contracts::deploy::MatrixRow, String> {
        self.replay.matrix_row(key, r)
    }

    fn output(&mut self, index: u64) -> Result<Vec<u8>, String> {
        self.replay.output(index)
    }

    fn tokenizer(&mut self) -> Option<&otr_engine::Tokenizer> {
        self.replay.tokenizer()
    }

    fn mat_vec_output(&mut self, index: u64, key: LeafKey) -> Result<Vec<u8>, String> {
        let x = self.input(index)?;
        self.setup.output(key, &x)
    }

    fn mat_vec_unit(
        &mut self,
        index: u64,
        key: LeafKey,
        row_start: u64,
    ) -> Result<otr_contracts::deploy::UnitMove, String> {
        // The replay's own product: the contract checks it against the step's leaf.
        let x = self.input(index)?;
        self.setup.unit(key, &x, None, row_start)
    }
}

/// The one-step proof of the step at `index` with key `key`, for the operator's verifier:
/// QK-norm + RoPE ([`rope_step_proof`]), `V_CACHE` ([`vcache_step_proof`]), the gated
/// activation ([`act_step_proof`]), attention ([`attn_step_proof`]); a norm step's ([`norm_step_proof`]) when the step is
/// an RMSNorm or a residual of a model with post norms (its post-norm vector opens); else a
/// plain residual add's ([`residual_add_proof`]).
pub fn step_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    num_layers: u16,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    let layer = (1..=num_layers).contains(&key.stage);
    if key.stage == 0 && key.op == op::EMBED {
        return embed_step_proof(trace, index, key, num_layers, material);
    }
    if layer && (key.op == op::Q_ROPE || key.op == op::K_ROPE) {
        return rope_step_proof(trace, index, key, material);
    }
    if layer && key.op == op::V_CACHE {
        return vcache_step_proof(trace, index, key, material);
    }
    if layer && key.op == op::ACT {
        return act_step_proof(trace, index, key, material);
    }
    if layer && key.op == op::ATTN {
        return attn_step_proof(trace, index, key, material);
    }
    match norm_step(key, num_layers) {
        Some(plan) => match material.norm(&plan.weights) {
            Ok(o) => norm_step_proof(trace, index, &plan, &o, material),
            Err(e) if plan.inputs.len() == 2 => residual_add_proof(trace, index, key, material)
                .map_err(|r| format!("{r}; no post norm either: {e}")),
            Err(e) => Err(e),
        },
        None => residual_add_proof(trace, index, key, material),
    }
}

/// The inputs and witness of the token embedding (`EmbedStepVerifier.sol`), `(pos, 0, EMBED)`:
/// the input leaf is the `SAMPLE` of the position before when the trace has one (a generated
/// position), else the `PROMPT` leaf (index 0); the witness is that leaf's tensor (the sampled
/// token, or the prompt's ids) and the token's embedding row opened against the row tree.
pub fn embed_step_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    num_layers: u16,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    let sample = (key.pos > 0)
        .then(|| {
            find_input(
                trace,
                index,
                LeafKey {
                    pos: key.pos - 1,
                    stage: num_layers + 1,
                    op: op::SAMPLE,
                },
            )
            .ok()
        })
        .flatten();
    let inputs = material.inputs(index)?;
    let tokens = inputs
        .first()
        .ok_or("the embedding step has no input")?
        .clone();
    let (in_index, token) = match sample {
        Some(i) => (
            i,
            tokens
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes"))),
        ),
        None => {
            let prompt = LeafKey {
                pos: 0,
                stage: 0,
                op: op::PROMPT,
            };
            if leaf_key(trace.leaf(0)) != Some(prompt) {
                return Err("the trace has no PROMPT leaf".into());
            }
            let (_, ids) =
                otr_core::prompt::prompt_parts(&tokens).ok_or("the PROMPT output is malformed")?;
            (0, ids.get(key.pos as usize).copied())
        }
    };
    let token = token.ok_or("the prompt has no token at this position")?;
    let row = material.embed_row(token)?;
    Ok((
        vec![in_index],
        otr_contracts::deploy::embed_step_witness(&tokens, &row.row, &row.path),
    ))
}

/// The inputs and witness of QK-norm + RoPE (`verifiers/RopeStepVerifier.sol`), a layer's
/// `Q_ROPE` (input: `(pos, stage, Q)`) or `K_ROPE` (input: `(pos, stage, K)`): the projection,
/// the QK-norm vector (when the model has one) and the RoPE row of the position.
pub fn rope_step_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    let (proj, norm) = match key.op {
        op::Q_ROPE => (op::Q, "attn_q_norm"),
        op::K_ROPE => (op::K, "attn_k_norm"),
        _ => return Err(format!("operator {} is not QK-norm + RoPE", key.op)),
    };
    if key.stage == 0 {
        return Err("QK-norm + RoPE at the embedding stage".into());
    }
    let input = find_input(trace, index, LeafKey { op: proj, ..key })?;
    let inputs = material.inputs(index)?;
    let [x] = inputs.as_slice() else {
        return Err(format!("expected 1 input, got {}", inputs.len()));
    };
    let layer = key.stage - 1;
    let norm = material.norm(&format!("blk.{layer}.{norm}.weight")).ok();
    let row = material.rope_row(layer, key.pos)?;
    let w = otr_contracts::deploy::rope_step_witness(
        row.config.as_bytes(),
        x,
        norm.as_ref()
            .map(|o| (&o.canonical[..], o.index, o.size, &o.path[..])),
        (&row.row, row.index, row.size, &row.path),
    );
    Ok((vec![input], w))
}

/// The inputs and witness of a `V_CACHE` step (`verifiers/VCacheStepVerifier.sol`): the
/// layer's value projection `(pos, stage, V)`; the witness is `abi.encode(bytes config, bytes
/// input)`.
pub fn vcache_step_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    if key.op != op::V_CACHE || key.stage == 0 {
        return Err(format!(
            "operator {} at stage {} is not V_CACHE",
            key.op, key.stage
        ));
    }
    let input = find_input(trace, index, LeafKey { op: op::V, ..key })?;
    let inputs = material.inputs(index)?;
    let [x] = inputs.as_slice() else {
        return Err(format!("expected 1 input, got {}", inputs.len()));
    };
    let config = material.config()?;
    let w = otr_contracts::deploy::vcache_step_witness(config.as_bytes(), x);
    Ok((vec![input], w))
}

/// The inputs and witness of an `ACT` step (`verifiers/ActStepVerifier.sol`): the layer's
/// `(pos, stage, GATE)` and `(pos, stage, UP)`; the witness is `abi.encode(bytes gate, bytes
/// up, bytes table)` with the model's activation table whole.
pub fn act_step_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    if key.op != op::ACT || key.stage == 0 {
        return Err(format!(
            "operator {} at stage {} is not ACT",
            key.op, key.stage
        ));
    }
    let g = find_input(
        trace,
        index,
        LeafKey {
            op: op::GATE,
            ..key
        },
    )?;
    let u = find_input(trace, index, LeafKey { op: op::UP, ..key })?;
    let inputs = material.inputs(index)?;
    let [gate, up] = inputs.as_slice() else {
        return Err(format!("expected 2 inputs, got {}", inputs.len()));
    };
    let table = material.act_table()?;
    let w = otr_contracts::deploy::act_step_witness(gate, up, &table);
    Ok((vec![g, u], w))
}

/// The decimal field `name` of a canonical config text (`;name=<digits>;`).
fn config_field(config: &str, name: &str) -> Result<u64, String> {
    config
        .split(';')
        .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        .ok_or_else(|| format!("config has no field {name}"))?
        .parse()
        .map_err(|e| format!("config field {name}: {e}"))
}

/// The first position that position `pos` sees in layer `layer` (engine `window_start`): 0 in
/// a global layer or without a window, else `pos + 1 - sliding_window` (at least 0).
pub fn visible_from(config: &str, layer: u16, pos: u32) -> Result<u32, String> {
    let window = config_field(config, "sliding_window")?;
    let every = config_field(config, "global_every")?;
    let global = every == 0 || (u64::from(layer) + 1) % every == 0;
    if global || window == 0 {
        return Ok(0);
    }
    Ok((u64::from(pos) + 1).saturating_sub(window) as u32)
}

/// The inputs and witness of an `ATTN` step (`verifiers/AttnStepVerifier.sol`): the query
/// `(pos, stage, Q_ROPE)`, then `(j, stage, K_ROPE)` and `(j, stage, V_CACHE)` for every visible
/// position `j` (the window of a local layer); the witness is `abi.encode(bytes config, bytes q,
/// bytes ks, bytes vs, bytes table)`. Its size grows with the visible context: past some
/// length the transaction exceeds the gas cap (docs/BENCHMARKS.md).
pub fn attn_step_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    if key.op != op::ATTN || key.stage == 0 {
        return Err(format!(
            "operator {} at stage {} is not ATTN",
            key.op, key.stage
        ));
    }
    let config = material.config()?;
    let lo = visible_from(&config, key.stage - 1, key.pos)?;
    let at = |pos, op| LeafKey { pos, op, ..key };
    let mut leaves = vec![find_input(trace, index, at(key.pos, op::Q_ROPE))?];
    for o in [op::K_ROPE, op::V_CACHE] {
        for j in lo..=key.pos {
            leaves.push(find_input(trace, index, at(j, o))?);
        }
    }
    let inputs = material.inputs(index)?;
    let [q, ks, vs] = inputs.as_slice() else {
        return Err(format!("expected 3 inputs, got {}", inputs.len()));
    };
    let table = material.exp_table()?;
    let w = otr_contracts::deploy::attn_step_witness(config.as_bytes(), q, ks, vs, &table);
    Ok((leaves, w))
}

/// What an RMSNorm step needs: its input leaves' keys (engine `replay.rs` order) and the name
/// of its norm vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormStep {
    pub inputs: Vec<LeafKey>,
    pub weights: String,
}

/// The plan of a norm step (`verifiers/NormStepVerifier.sol`), `None` for other operators:
/// `ATTN_NORM` of `h` (stage 1: the embedding; later: the previous layer's `RESID_FFN`),
/// `FFN_NORM` of the layer's `RESID_ATTN`, `FINAL_NORM` (head stage `num_layers + 1`) of the
/// last layer's `RESID_FFN`, and the residuals `RESID_ATTN = h + rms_norm(O)` /
/// `RESID_FFN = h1 + rms_norm(DOWN)` with their post-norm vectors (present in Gemma 3 only).
pub fn norm_step(key: LeafKey, num_layers: u16) -> Option<NormStep> {
    let (p, s) = (key.pos, key.stage);
    let k = |stage, op| LeafKey { pos: p, stage, op };
    if s == 0 || s > num_layers + 1 {
        return None;
    }
    let prev = if s == 1 {
        k(0, op::EMBED)
    } else {
        k(s - 1, op::RESID_FFN)
    };
    if s == num_layers + 1 {
        return (key.op == op::FINAL_NORM).then(|| NormStep {
            inputs: vec![prev],
            weights: "output_norm.weight".into(),
        });
    }
    let (inputs, what) = match key.op {
        op::ATTN_NORM => (vec![prev], "attn_norm"),
        op::FFN_NORM => (vec![k(s, op::RESID_ATTN)], "ffn_norm"),
        op::RESID_ATTN => (vec![prev, k(s, op::O)], "post_attention_norm"),
        op::RESID_FFN => (vec![k(s, op::RESID_ATTN), k(s, op::DOWN)], "post_ffw_norm"),
        _ => return None,
    };
    Some(NormStep {
        inputs,
        weights: format!("blk.{}.{what}.weight", s - 1),
    })
}

/// The inputs and witness of a norm step (`verifiers/NormStepVerifier.sol`): the input leaves
/// found in the agreed prefix, and `abi.encode(bytes config, bytes[] inputs, bytes weights,
/// uint256 leafIndex, uint256 treeSize, bytes32[] path)` from the replayed inputs and the
/// opened norm vector.
pub fn norm_step_proof(
    trace: &Trace,
    index: u64,
    plan: &NormStep,
    opening: &NormOpening,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    let leaves = plan
        .inputs
        .iter()
        .map(|k| find_input(trace, index, *k))
        .collect::<Result<Vec<u64>, String>>()?;
    let inputs = material.inputs(index)?;
    if inputs.len() != plan.inputs.len() {
        return Err(format!(
            "expected {} inputs, got {}",
            plan.inputs.len(),
            inputs.len()
        ));
    }
    let w = otr_contracts::deploy::norm_step_witness(
        opening.config.as_bytes(),
        &inputs,
        &opening.canonical,
        opening.index,
        opening.size,
        &opening.path,
    );
    Ok((leaves, w))
}

/// The latest leaf before `index` whose key is `key` (an input, opened in the agreed prefix).
pub fn find_input(trace: &Trace, index: u64, key: LeafKey) -> Result<u64, String> {
    find_input_in(|i| trace.leaf(i), index, key)
}

/// [`find_input`] over any leaf accessor (`leaf(i)`: the 57-byte leaf `i`).
pub fn find_input_in<'a>(
    leaf: impl Fn(u64) -> &'a [u8],
    index: u64,
    key: LeafKey,
) -> Result<u64, String> {
    (0..index)
        .rev()
        .find(|&i| leaf_key(leaf(i)) == Some(key))
        .ok_or_else(|| {
            format!(
                "input step ({}, {}, {}) not in the agreed prefix",
                key.pos, key.stage, key.op
            )
        })
}

/// The inputs and witness of a residual add (`verifiers/WideAddStepVerifier.sol`): leaf 0 is
/// the residual stream `h` (stage 1: the embedding; later: the previous layer's `RESID_FFN`),
/// leaf 1 the block output (`O` or `DOWN`); the witness is `abi.encode(bytes h, bytes x)`.
pub fn residual_add_proof(
    trace: &Trace,
    index: u64,
    key: LeafKey,
    material: &mut dyn StepMaterial,
) -> Result<StepProof, String> {
    let (p, s) = (key.pos, key.stage);
    let (h, x) = match key.op {
        op::RESID_ATTN if s == 1 => ((p, 0, op::EMBED), (p, s, op::O)),
        op::RESID_ATTN if s > 1 => ((p, s - 1, op::RESID_FFN), (p, s, op::O)),
        op::RESID_FFN if s >= 1 => ((p, s, op::RESID_ATTN), (p, s, op::DOWN)),
        _ => {
            return Err(format!(
                "no witness builder for operator {} at stage {s}",
                key.op
            ))
        }
    };
    let find =
        |(pos, stage, op): (u32, u16, u8)| find_input(trace, index, LeafKey { pos, stage, op });
    let (hi, xi) = (find(h)?, find(x)?);
    let inputs = material.inputs(index)?;
    if inputs.len() != 2 {
        return Err(format!("expected 2 inputs, got {}", inputs.len()));
    }
    Ok((vec![hi, xi], abi_encode_two_bytes(&inputs[0], &inputs[1])))
}

/// `abi.encode(bytes a, bytes b)`.
pub fn abi_encode_two_bytes(a: &[u8], b: &[u8]) -> Vec<u8> {
    fn word(n: usize) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(n as u64).to_be_bytes());
        w
    }
    fn padded(v: &[u8]) -> Vec<u8> {
        let mut o = v.to_vec();
        o.resize(v.len().div_ceil(32) * 32, 0);
        o
    }
    let mut out = Vec::new();
    out.extend_from_slice(&word(64));
    out.extend_from_slice(&word(64 + 32 + a.len().div_ceil(32) * 32));
    out.extend_from_slice(&word(a.len()));
    out.extend(padded(a));
    out.extend_from_slice(&word(b.len()));
    out.extend(padded(b));
    out
}

/// One dispute played to the end by both sides in-process (tests, `otr dev`), advancing a dev
/// chain's clock by `step_secs` whenever neither side can move. Returns every move made.
pub fn play_both<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    id: u64,
    node: (Address, &Trace, &mut dyn StepMaterial),
    challenger: (Address, &Trace),
    step_secs: u64,
) -> Result<(Outcome, Vec<Move>), DisputeError> {
    play_both_with(
        host,
        d,
        id,
        node,
        (challenger.0, challenger.1, None),
        step_secs,
    )
}

/// [`play_both`] with the challenger's own material for matrix-vector steps
/// ([`challenger_move_with`]).
pub fn play_both_with<H: Host + ?Sized>(
    host: &mut H,
    d: &Deployment,
    id: u64,
    node: (Address, &Trace, &mut dyn StepMaterial),
    challenger: (Address, &Trace, Option<&mut dyn StepMaterial>),
    step_secs: u64,
) -> Result<(Outcome, Vec<Move>), DisputeError> {
    let (node_addr, node_trace, material) = node;
    let (ch_addr, ch_trace, mut ch_material) = challenger;
    let mut moves = Vec::new();
    for _ in 0..1000 {
        let a = node_move(host, d, node_addr, id, node_trace, material)?;
        let b = challenger_move_with(host, d, ch_addr, id, ch_trace, ch_material.as_deref_mut())?;
        let idle = matches!(a, Move::Waiting { .. } | Move::CannotProve { .. })
            && matches!(b, Move::Waiting { .. } | Move::ClaimStands { .. });
        for m in [a, b] {
            if let Move::Resolved { outcome } = m {
                return Ok((outcome, moves));
            }
            if !matches!(m, Move::Waiting { .. }) && !moves.contains(&m) {
                moves.push(m);
            }
        }
        if idle {
            host.advance(step_secs, 1)?;
        }
    }
    Err(DisputeError::Chain(format!(
        "dispute {id} did not end in 1000 rounds"
    )))
}

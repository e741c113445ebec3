//! The dispute game played by both sides in-process on the embedded revm chain, with real
//! traces of the tiny Llama fixture model: a frivolous challenger loses its bond against an
//! honest node that proves a residual add on-chain, and against honest nodes of both fixture
//! models that prove RMSNorm steps (pre norms, the final norm, Gemma's post-norm residuals) and
//! QK-norm + RoPE, a cheating node is found by bisection and
//! slashed when it cannot prove the step, and an honest node disputed at an operator without a
//! step verifier loses (the known limit, docs/PROTOCOL.md).

mod common;

use std::sync::{Arc, OnceLock};

use otr_contracts::deploy::{BatchFinality, Deployment, Params};
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::{Address, Chain, U256};
use otr_core::rollup::{DisputeState, MicroBatchHeader, Receipt, SamplingParams};
use otr_node::node::dispute::{self, leaf_key, op, LeafKey, Move, Outcome};
use otr_node::node::inference::{Inference, NormOpening, RopeRow, RunKind, TracedRun};

const CHAIN_ID: u64 = 31337;
const T0: u64 = 1_764_140_000;

fn engine() -> Arc<dyn Inference> {
    static E: OnceLock<Arc<dyn Inference>> = OnceLock::new();
    E.get_or_init(|| {
        otr_node::node::engine_impl::load("fixture-llama", std::path::Path::new("."))
            .expect("load fixture-llama")
    })
    .clone()
}

/// Names the model's `EMBED` step verifier (its embedding-row tree).
fn set_embed(chain: &mut Chain, d: &Deployment, info: &otr_node::node::inference::ModelInfo) {
    let e = info.embed_rows.get().expect("embedding rows");
    d.set_embed_verifier(
        chain,
        info.model_id,
        info.weights_root,
        e.root,
        e.vocab,
        e.scale_q32,
    )
    .expect("embed verifier");
}

fn sampling() -> SamplingParams {
    SamplingParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 4,
        seed: 7,
    }
}

const PROMPT: &str = "The quick brown fox";

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

struct World {
    chain: Chain,
    d: Deployment,
    params: Params,
    node: Address,
    challenger: Address,
    model_id: [u8; 32],
    weights_root: [u8; 32],
    seq: u64,
    prev: [u8; 32],
}

impl World {
    /// Registers the engine's model as the node does (`settlement::registry_entry`), from the
    /// deployment's owner.
    fn register(&mut self, info: &otr_node::node::inference::ModelInfo) {
        let owner = self.d.owner;
        otr_contracts::host::send(
            &mut self.chain,
            owner,
            self.d.registry,
            &otr_contracts::bindings::model_registry::ModelRegistry::registerModelCall {
                modelId: info.model_id.into(),
                m: otr_node::node::settlement::registry_entry(info),
                vks: vec![],
            },
            U256::ZERO,
        )
        .unwrap();
    }

    fn new(num_layers: u16) -> Self {
        let mut chain = Chain::new(CHAIN_ID, T0);
        let (owner, node, challenger) = (
            Address::repeat_byte(0xa0),
            Address::repeat_byte(0xb0),
            Address::repeat_byte(0xc0),
        );
        for a in [owner, node, challenger] {
            chain.set_balance(a, eth(100));
        }
        let params = Params::devnet();
        let d = Deployment::deploy(&mut chain, owner, &params, T0).expect("deploy");
        let info = engine().info();
        d.register_model(&mut chain, info.model_id, info.weights_root, num_layers, 1)
            .expect("register");
        d.set_wide_add_verifier(&mut chain, info.model_id)
            .expect("verifier");
        set_embed(&mut chain, &d, &info);
        let vocab = info.embed_rows.get().expect("embedding rows").vocab;
        d.set_sample_verifier(
            &mut chain,
            info.model_id,
            vocab,
            otr_engine::tables::exp2_table_digest(),
        )
        .expect("sample verifier");
        d.stake(&mut chain, node, eth(2)).expect("stake");
        World {
            chain,
            d,
            params,
            node,
            challenger,
            model_id: info.model_id,
            weights_root: info.weights_root,
            seq: 0,
            prev: [0; 32],
        }
    }

    fn receipt(&self, run: &TracedRun, nonce: u8) -> Receipt {
        Receipt {
            version: 1,
            model_id: self.model_id,
            weights_root: self.weights_root,
            request_hash: [nonce; 32],
            output_hash: run.output_hash,
            prompt_tokens: run.generation.prompt_tokens,
            completion_tokens: run.generation.completion_tokens,
            sampling: sampling(),
            trace_root: run.generation.trace_root,
            trace_steps: run.generation.trace_steps,
            created_at: T0,
        }
    }

    /// Posts one batch of one header holding `receipts`; returns a reference per receipt.
    fn post(&mut self, receipts: Vec<Receipt>) -> Vec<ReceiptRef> {
        let hashes: Vec<[u8; 32]> = receipts.iter().map(|r| r.receipt_hash()).collect();
        let h = MicroBatchHeader {
            version: 1,
            chain_id: CHAIN_ID,
            node_address: self.node.0 .0,
            sequence: self.seq,
            prev_header_hash: self.prev,
            receipts_root: otr_core::rollup::merkle::root(&hashes),
            receipt_count: receipts.len() as u32,
            timestamp: self.chain.timestamp(),
        };
        self.seq += 1;
        self.prev = h.header_hash();
        let headers = vec![h];
        let (index, _) = self
            .d
            .post_batch(&mut self.chain, self.node, &headers)
            .expect("post");
        (0..receipts.len())
            .map(|i| ReceiptRef::new(index, &headers, 0, &receipts, i).expect("ref"))
            .collect()
    }

    /// Posts `run`'s receipt (request hash from `nonce`), opens a dispute over it and plays it
    /// to the end: the node with `run`'s trace and a replay of `node_kind`, the challenger with
    /// its own trace `own` and an honest replay.
    fn play(
        &mut self,
        run: &TracedRun,
        nonce: u8,
        node_kind: RunKind,
        own: &Trace,
    ) -> (Outcome, Vec<Move>) {
        self.play_prompt(run, nonce, node_kind, own, PROMPT)
    }

    /// [`World::play`] of a run of `prompt`.
    fn play_prompt(
        &mut self,
        run: &TracedRun,
        nonce: u8,
        node_kind: RunKind,
        own: &Trace,
        prompt: &'static str,
    ) -> (Outcome, Vec<Move>) {
        let refs = self.post(vec![self.receipt(run, nonce)]);
        let id = self.open(&refs[0]);
        let node_trace = Trace::new(run.leaves.clone());
        let mut node_wit = witness_for(node_kind, prompt);
        let mut ch_wit = witness_for(RunKind::Honest, prompt);
        dispute::play_both_with(
            &mut self.chain,
            &self.d,
            id,
            (self.node, &node_trace, &mut node_wit),
            (self.challenger, own, Some(&mut ch_wit)),
            self.params.move_timeout,
        )
        .unwrap()
    }

    fn open(&mut self, r: &ReceiptRef) -> u64 {
        dispute::open(
            &mut self.chain,
            &self.d,
            self.challenger,
            r,
            self.params.min_bond,
        )
        .expect("open dispute")
    }
}

fn run(kind: RunKind) -> TracedRun {
    engine().trace(PROMPT, &sampling(), kind).expect("trace")
}

fn num_layers(run: &TracedRun) -> u16 {
    run.leaves
        .iter()
        .filter_map(|l| leaf_key(l))
        .map(|k| k.stage)
        .max()
        .expect("leaves")
        - 1
}

/// The node's witness source: the engine's replay of its own run and its model's openings.
struct Material {
    engine: Arc<dyn Inference>,
    kind: RunKind,
    prompt: &'static str,
}

impl dispute::StepMaterial for Material {
    fn inputs(&mut self, i: u64) -> Result<Vec<Vec<u8>>, String> {
        self.engine
            .step_inputs(self.prompt, &sampling(), self.kind, i)
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

    fn output(&mut self, i: u64) -> Result<Vec<u8>, String> {
        self.engine
            .step_output(self.prompt, &sampling(), self.kind, i)
    }

    fn matrix_row(
        &mut self,
        key: LeafKey,
        r: u32,
    ) -> Result<otr_contracts::deploy::MatrixRow, String> {
        self.engine.matrix_row(key.stage, key.op, r)
    }

    fn tokenizer(&mut self) -> Option<&otr_engine::Tokenizer> {
        self.engine.tokenizer()
    }
}

fn witness(kind: RunKind) -> Material {
    witness_for(kind, PROMPT)
}

fn witness_for(kind: RunKind, prompt: &'static str) -> Material {
    Material {
        engine: engine(),
        kind,
        prompt,
    }
}

fn index_of(run: &TracedRun, key: LeafKey) -> u64 {
    run.leaves
        .iter()
        .position(|l| leaf_key(l) == Some(key))
        .expect("key in trace") as u64
}

/// A challenger whose own trace is wrong at one leaf (a frivolous or buggy challenger).
fn tampered(run: &TracedRun, at: u64) -> Trace {
    let mut leaves = run.leaves.clone();
    let last = leaves[at as usize].len() - 1;
    leaves[at as usize][last] ^= 1;
    Trace::new(leaves)
}

#[test]
fn the_trace_leaves_are_the_receipts_trace() {
    let honest = run(RunKind::Honest);
    let t = Trace::new(honest.leaves.clone());
    assert_eq!(t.root(), honest.generation.trace_root);
    assert_eq!(t.len(), honest.generation.trace_steps);
    // The same text and output hash as a plain answer.
    let mut text = String::new();
    let g = engine()
        .generate(PROMPT, &sampling(), &mut |p| {
            text.push_str(p);
            true
        })
        .unwrap();
    assert_eq!(g.trace_root, honest.generation.trace_root);
    assert_eq!(text, honest.generation.text);
    // The cheat changes the trace (from the last prompt position's embedding on).
    let cheat = run(RunKind::Cheat);
    assert_ne!(cheat.generation.trace_root, honest.generation.trace_root);
    let first = honest
        .leaves
        .iter()
        .zip(&cheat.leaves)
        .position(|(a, b)| a != b)
        .unwrap();
    let k = leaf_key(&honest.leaves[first]).unwrap();
    assert_eq!(
        (k.pos, k.stage, k.op),
        (honest.generation.prompt_tokens - 1, 0, op::EMBED)
    );
}

#[test]
fn a_frivolous_challenger_loses_its_bond_to_an_honest_node_proving_residual_adds() {
    let honest = run(RunKind::Honest);
    let mut w = World::new(num_layers(&honest));
    let nl = num_layers(&honest);
    // Three residual adds of different shapes: layer 1 after attention (input: the embedding),
    // layer 1 after the FFN, and the last layer after attention (input: the previous layer).
    let pos = 1;
    let targets = [
        LeafKey {
            pos,
            stage: 1,
            op: op::RESID_ATTN,
        },
        LeafKey {
            pos,
            stage: 1,
            op: op::RESID_FFN,
        },
        LeafKey {
            pos,
            stage: nl,
            op: if nl > 1 {
                op::RESID_ATTN
            } else {
                op::RESID_FFN
            },
        },
    ];
    let receipts: Vec<Receipt> = (0..targets.len())
        .map(|i| w.receipt(&honest, i as u8 + 1))
        .collect();
    let refs = w.post(receipts);
    let node_trace = Trace::new(honest.leaves.clone());
    for (i, key) in targets.iter().enumerate() {
        let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
        let credit0 = w.d.credit_of(&mut w.chain, w.node).unwrap();
        let at = index_of(&honest, *key);
        let theirs = tampered(&honest, at);
        let id = w.open(&refs[i]);
        let mut wit = witness(RunKind::Honest);
        let (outcome, moves) = dispute::play_both(
            &mut w.chain,
            &w.d,
            id,
            (w.node, &node_trace, &mut wit),
            (w.challenger, &theirs),
            w.params.move_timeout,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::NodeWon, "{key:?}: {moves:?}");
        assert!(
            moves.contains(&Move::ProvedStep {
                index: at,
                key: *key
            }),
            "{key:?}: {moves:?}"
        );
        let rounds = moves
            .iter()
            .filter(|m| matches!(m, Move::Bisected { .. }))
            .count();
        let n = honest.generation.trace_steps;
        let (lo, hi) = (63 - n.leading_zeros(), 64 - (n - 1).leading_zeros());
        assert!(
            (lo..=hi).contains(&(rounds as u32)),
            "{rounds} bisection rounds for {n} steps: between floor and ceil of log2"
        );
        assert_eq!(w.d.stake_of(&mut w.chain, w.node).unwrap(), stake0);
        assert_eq!(
            w.d.credit_of(&mut w.chain, w.node).unwrap() - credit0,
            w.params.min_bond * U256::from(w.params.winner_bps) / U256::from(10_000u64)
        );
    }
    assert_eq!(
        w.d.credit_of(&mut w.chain, w.challenger).unwrap(),
        U256::ZERO
    );
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeWon
    );
}

#[test]
fn a_cheating_node_is_found_by_bisection_and_slashed_when_it_cannot_prove() {
    let honest = run(RunKind::Honest);
    let cheat = run(RunKind::Cheat);
    let mut w = World::new(num_layers(&honest));
    let refs = w.post(vec![w.receipt(&cheat, 1)]);
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    // The challenger re-executes the request and disagrees.
    assert_ne!(honest.generation.trace_root, cheat.generation.trace_root);
    let id = w.open(&refs[0]);
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Disputed { .. }
    ));
    // The node defends with the trace its receipt commits to (its cheat run, re-executed).
    let node_trace = Trace::new(cheat.leaves.clone());
    let own = Trace::new(honest.leaves.clone());
    let mut wit = witness(RunKind::Cheat);
    let (outcome, moves) = dispute::play_both(
        &mut w.chain,
        &w.d,
        id,
        (w.node, &node_trace, &mut wit),
        (w.challenger, &own),
        w.params.move_timeout,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    let first = honest
        .leaves
        .iter()
        .zip(&cheat.leaves)
        .position(|(a, b)| a != b)
        .unwrap() as u64;
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::CannotProve { index, .. } if *index == first)),
        "{moves:?}"
    );
    assert!(
        moves.contains(&Move::TimedOut {
            slashed_wei: w.params.slash_amount.to_string()
        }),
        "{moves:?}"
    );
    let slash = w.params.slash_amount;
    assert_eq!(w.d.stake_of(&mut w.chain, w.node).unwrap(), stake0 - slash);
    assert_eq!(
        w.d.credit_of(&mut w.chain, w.challenger).unwrap(),
        w.params.min_bond + slash * U256::from(w.params.winner_bps) / U256::from(10_000u64)
    );
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Slashed { .. }
    ));
    // An honest re-execution cannot rescue the cheater: its trace is not the committed one.
    let v = dispute::view(&mut w.chain, &w.d, id).unwrap();
    assert_eq!(v.phase, dispute::Phase::Resolved(Outcome::ChallengerWon));
}

/// A node that answers a wrong token (the runner-up logit's instead of the greedy pick) is found
/// by bisection at that `SAMPLE` step: it can only claim the token it committed, the challenger
/// refutes it with the larger logit of the agreed `LOGITS` step, and it is slashed. An honest
/// node disputed at a `SAMPLE` step claims its token and wins at the challenger's deadline.
#[test]
fn a_wrong_token_is_refuted_at_its_sample_step_and_a_right_one_stands() {
    let honest = run(RunKind::Honest);
    let cheat = run(RunKind::CheatToken);
    assert_ne!(honest.generation.trace_root, cheat.generation.trace_root);
    assert_eq!(honest.generation.trace_steps, cheat.generation.trace_steps);
    let nl = num_layers(&honest);
    let first = honest
        .leaves
        .iter()
        .zip(&cheat.leaves)
        .position(|(a, b)| a != b)
        .unwrap() as u64;
    let key = leaf_key(&cheat.leaves[first as usize]).unwrap();
    assert_eq!((key.stage, key.op), (nl + 1, op::SAMPLE), "the wrong token");
    let mut w = World::new(nl);
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let own = Trace::new(honest.leaves.clone());
    let (outcome, moves) = w.play(&cheat, 1, RunKind::CheatToken, &own);
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: first, key }),
        "{moves:?}"
    );
    assert!(
        moves.iter().any(
            |m| matches!(m, Move::Refuted { index, token, better, slashed_wei }
                if *index == first && token != better
                    && *slashed_wei == w.params.slash_amount.to_string())
        ),
        "{moves:?}"
    );
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0 - w.params.slash_amount
    );

    // The honest node at its last `SAMPLE`, against a frivolous challenger.
    let at = honest.leaves.len() as u64 - 1;
    let key = leaf_key(&honest.leaves[at as usize]).unwrap();
    assert_eq!((key.stage, key.op), (nl + 1, op::SAMPLE));
    let mut w = World::new(nl);
    let (outcome, moves) = w.play(&honest, 2, RunKind::Honest, &tampered(&honest, at));
    assert_eq!(outcome, Outcome::NodeWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: at, key }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::ClaimStands { index, .. } if *index == at)),
        "{moves:?}"
    );
    assert!(!moves.iter().any(|m| matches!(m, Move::Refuted { .. })));
}

/// Names the engine's `PromptStepVerifier` for its model, as `register_model` does.
fn with_prompt_verifier(w: &mut World) {
    let info = engine().info();
    let e = info.embed_rows.get().expect("piece tree");
    w.d.set_prompt_verifier(
        &mut w.chain,
        info.model_id,
        e.pieces_root,
        e.pieces,
        e.bos,
        e.texts_root,
        e.texts,
    )
    .expect("prompt verifier");
}

/// A node whose `PROMPT` leaf's text is not its tokens' (`--dev-cheat-kind prompt`: the text
/// a client compares with its request says one prompt, the tokens computed on are another's)
/// is found by bisection at leaf 0: it claims the leaf with its pieces' ends
/// (`PromptStepVerifier`, registered as the node registers its model), the challenger refutes
/// the token whose vocabulary piece is not its text, and it is slashed. An honest node disputed
/// at leaf 0 claims its prompt and wins at the challenger's deadline: no piece refutes it.
#[test]
fn a_prompt_text_that_is_not_its_tokens_is_refuted_and_a_right_one_stands() {
    let honest = run(RunKind::Honest);
    let cheat = run(RunKind::CheatPrompt);
    assert_ne!(honest.leaves[0], cheat.leaves[0]);
    assert_eq!(
        honest.leaves[1..],
        cheat.leaves[1..],
        "the same tokens computed"
    );
    let nl = num_layers(&honest);
    let key = LeafKey {
        pos: 0,
        stage: 0,
        op: op::PROMPT,
    };
    let with_prompt = with_prompt_verifier;
    let mut w = World::new(nl);
    with_prompt(&mut w);
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let own = Trace::new(honest.leaves.clone());
    let (outcome, moves) = w.play(&cheat, 1, RunKind::CheatPrompt, &own);
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: 0, key }),
        "{moves:?}"
    );
    assert!(
        moves.iter().any(
            |m| matches!(m, Move::RefutedPrompt { index: 0, slashed_wei, .. }
            if *slashed_wei == w.params.slash_amount.to_string())
        ),
        "{moves:?}"
    );
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0 - w.params.slash_amount
    );

    // The honest node at leaf 0, against a frivolous challenger.
    let mut w = World::new(nl);
    with_prompt(&mut w);
    let (outcome, moves) = w.play(&honest, 2, RunKind::Honest, &tampered(&honest, 0));
    assert_eq!(outcome, Outcome::NodeWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: 0, key }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::ClaimStands { index: 0, .. })),
        "{moves:?}"
    );
    assert!(!moves
        .iter()
        .any(|m| matches!(m, Move::RefutedPrompt { .. })));
}

/// A node that fed the model the prompt's text in tokens the tokenizer does not give, every
/// piece its text and no two adjacent ones making a piece, is refuted by `otr watch` with the
/// cheapest counterexample (`Move::RefutedTokenization`) and slashed:
/// - `--dev-cheat-kind split`: a token fed as two pieces that make it (one token more; the
///   same text in the `PROMPT` leaf, so a client comparing it with its request accepts it),
///   refuted with the two tokens and the piece they make;
/// - `--dev-cheat-kind resplit`: `tower` (the tokenizer's `to|we|r`) as `to|w|er`, refuted by
///   replaying the tokenizer's merges on chain on `w|er`;
/// - `--dev-cheat-kind bytes`: a word fed as its byte tokens, refuted with a byte token whose
///   character is a token;
/// - `--dev-cheat-kind spell`: a chat turn's `<start_of_turn>` fed as pieces of its text,
///   refuted with the special's piece and those pieces.
#[test]
fn prompts_in_tokens_the_tokenizer_does_not_give_are_refuted() {
    for (prompt, kind, how) in [
        (PROMPT, RunKind::CheatSplit, "mergeable_pair"),
        ("tower", RunKind::CheatResplit, "non_canonical_pair"),
        ("tower", RunKind::CheatBytes, "misplaced_byte"),
        (
            "<start_of_turn>user\nthe tower<end_of_turn>\n",
            RunKind::CheatSpell,
            "spelled_special",
        ),
    ] {
        let trace = |kind| engine().trace(prompt, &sampling(), kind).expect("trace");
        let honest = trace(RunKind::Honest);
        let cheat = trace(kind);
        assert_ne!(honest.leaves[0], cheat.leaves[0], "{how}");
        if kind == RunKind::CheatSplit {
            assert_eq!(
                cheat.generation.prompt_tokens,
                honest.generation.prompt_tokens + 1,
                "one token split in two"
            );
        }
        let nl = num_layers(&honest);
        let mut w = World::new(nl);
        with_prompt_verifier(&mut w);
        let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
        let own = Trace::new(honest.leaves.clone());
        let (outcome, moves) = w.play_prompt(&cheat, 1, kind, &own, prompt);
        assert_eq!(outcome, Outcome::ChallengerWon, "{how}: {moves:?}");
        assert!(
            moves.iter().any(|m| matches!(
                m,
                Move::RefutedTokenization { index: 0, how: h, slashed_wei, .. }
                if h == how && *slashed_wei == w.params.slash_amount.to_string()
            )),
            "{how}: {moves:?}"
        );
        assert_eq!(
            w.d.stake_of(&mut w.chain, w.node).unwrap(),
            stake0 - w.params.slash_amount
        );
    }
}

/// A node whose first layer's `DOWN` output is off in one row (`--dev-cheat-kind matrix`) is
/// found by bisection at that step: it claims its output (`MatRowStepVerifier`, registered as
/// the node registers its model), the challenger refutes it with that row of the matrix, and it
/// is slashed. An honest node disputed at a layer's `UP` step claims its output and wins at the
/// challenger's deadline: no row refutes it.
#[test]
fn a_wrong_matrix_row_is_refuted_and_a_right_output_stands() {
    let honest = run(RunKind::Honest);
    let cheat = run(RunKind::CheatMatrix);
    assert_ne!(honest.generation.trace_root, cheat.generation.trace_root);
    let nl = num_layers(&honest);
    let first = honest
        .leaves
        .iter()
        .zip(&cheat.leaves)
        .position(|(a, b)| a != b)
        .unwrap() as u64;
    let key = leaf_key(&cheat.leaves[first as usize]).unwrap();
    assert_eq!((key.stage, key.op), (1, op::DOWN), "the wrong row");
    let with_rows = |w: &mut World| {
        let info = engine().info();
        let e = info.embed_rows.get().expect("row trees");
        w.d.set_matrow_verifier(
            &mut w.chain,
            info.model_id,
            info.weights_root,
            e.matrices_root,
        )
        .expect("matrix-row verifier");
    };
    let mut w = World::new(nl);
    with_rows(&mut w);
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let own = Trace::new(honest.leaves.clone());
    let (outcome, moves) = w.play(&cheat, 1, RunKind::CheatMatrix, &own);
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: first, key }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::RefutedRow { index, row, slashed_wei }
                if *index == first && *row == 1
                    && *slashed_wei == w.params.slash_amount.to_string())),
        "{moves:?}"
    );
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0 - w.params.slash_amount
    );

    // The honest node at the last layer's `UP`, against a frivolous challenger.
    let key = LeafKey {
        pos: 1,
        stage: nl,
        op: op::UP,
    };
    let at = index_of(&honest, key);
    let mut w = World::new(nl);
    with_rows(&mut w);
    let (outcome, moves) = w.play(&honest, 2, RunKind::Honest, &tampered(&honest, at));
    assert_eq!(outcome, Outcome::NodeWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: at, key }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::ClaimStands { index, .. } if *index == at)),
        "{moves:?}"
    );
    assert!(!moves.iter().any(|m| matches!(m, Move::RefutedRow { .. })));
}

/// Attention past the verifier's proof limit (deployed here with 1 visible position and parts
/// of 2, so that the last prompt position's attention is claimed): a node whose attention read
/// its values negated (`--dev-cheat-kind attention`) claims its sums part by part, the
/// challenger names the first part whose state is not its own and refutes it with that part's
/// keys and values, and the node is slashed; an honest node's claim stands against a frivolous
/// challenger.
#[test]
fn long_attention_is_claimed_and_a_wrong_one_is_refuted_by_one_part() {
    let e = engine();
    let info = e.info();
    let honest = run(RunKind::Honest);
    let cheat = run(RunKind::CheatAttn);
    let nl = num_layers(&honest);
    let first = honest
        .leaves
        .iter()
        .zip(&cheat.leaves)
        .position(|(a, b)| a != b)
        .unwrap() as u64;
    let key = leaf_key(&cheat.leaves[first as usize]).unwrap();
    let last_prompt = honest.generation.prompt_tokens - 1;
    assert_eq!(
        key,
        LeafKey {
            pos: last_prompt,
            stage: 1,
            op: op::ATTN
        },
        "the wrong attention"
    );
    assert!(last_prompt >= 2, "more than one part");
    let limits = otr_contracts::deploy::AttnLimits {
        max_visible: 1,
        chunk: 2,
        ..info.attn_limits.expect("attention limits")
    };
    let world = || {
        let mut w = World::new(nl);
        w.register(&info);
        w.d.set_attn_verifier(
            &mut w.chain,
            info.model_id,
            info.exp_table_digest.expect("2^-x table digest"),
            limits,
        )
        .unwrap();
        w
    };
    let mut w = world();
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let own = Trace::new(honest.leaves.clone());
    let (outcome, moves) = w.play(&cheat, 1, RunKind::CheatAttn, &own);
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: first, key }),
        "{moves:?}"
    );
    // The node's sums are those of the values it read: its first part's state is not the
    // challenger's, which refutes it with the agreed values of that part.
    assert!(
        moves.contains(&Move::NamedPart {
            index: first,
            part: 0
        }),
        "{moves:?}"
    );
    let refuted = moves.iter().any(|m| {
        matches!(m, Move::RefutedAttn { index, slashed_wei, .. }
            if *index == first && *slashed_wei == w.params.slash_amount.to_string())
    });
    assert!(refuted, "{moves:?}");
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0 - w.params.slash_amount
    );

    // The honest node at the same step, against a frivolous challenger.
    let at = index_of(&honest, key);
    let mut w = world();
    let (outcome, moves) = w.play(&honest, 2, RunKind::Honest, &tampered(&honest, at));
    assert_eq!(outcome, Outcome::NodeWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: at, key }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::ClaimStands { index, .. } if *index == at)),
        "{moves:?}"
    );
}

/// A sampled answer (temperature 0.8, top-k 40, top-p 0.9): an honest node disputed at its last
/// `SAMPLE` claims its draw's summary of the logits (`SampleStepVerifier`'s sampled claim) and
/// wins at the challenger's deadline, the challenger finding no chunk to refute; a node that
/// answered the runner-up token instead cannot claim it (the draw lands on the sampler's pick)
/// and loses at its deadline.
#[test]
fn a_sampled_token_is_claimed_with_its_draw_and_a_wrong_one_loses() {
    let s = SamplingParams {
        temperature_milli: 800,
        top_k: 40,
        top_p_milli: 900,
        max_tokens: 4,
        seed: 99,
    };
    let e = engine();
    let honest = e.trace(PROMPT, &s, RunKind::Honest).expect("trace");
    let cheat = e.trace(PROMPT, &s, RunKind::CheatToken).expect("trace");
    let nl = num_layers(&honest);
    let receipt = |w: &World, run: &TracedRun, nonce: u8| Receipt {
        sampling: s,
        ..w.receipt(run, nonce)
    };
    let replay = |run: RunKind| dispute::Replay {
        engine: &*e,
        prompt: PROMPT,
        sampling: &s,
        run,
    };

    // Honest, against a frivolous challenger at the last SAMPLE.
    let at = honest.leaves.len() as u64 - 1;
    let key = leaf_key(&honest.leaves[at as usize]).unwrap();
    assert_eq!((key.stage, key.op), (nl + 1, op::SAMPLE));
    let mut w = World::new(nl);
    let refs = w.post(vec![receipt(&w, &honest, 1)]);
    let id = w.open(&refs[0]);
    let node_trace = Trace::new(honest.leaves.clone());
    let (mut node_wit, mut ch_wit) = (replay(RunKind::Honest), replay(RunKind::Honest));
    let (outcome, moves) = dispute::play_both_with(
        &mut w.chain,
        &w.d,
        id,
        (w.node, &node_trace, &mut node_wit),
        (w.challenger, &tampered(&honest, at), Some(&mut ch_wit)),
        w.params.move_timeout,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::NodeWon, "{moves:?}");
    assert!(
        moves.contains(&Move::ClaimedStep { index: at, key }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::ClaimStands { index, .. } if *index == at)),
        "{moves:?}"
    );

    // The runner-up answered: the trace first differs at that SAMPLE.
    let first = honest
        .leaves
        .iter()
        .zip(&cheat.leaves)
        .position(|(a, b)| a != b)
        .unwrap() as u64;
    let key = leaf_key(&cheat.leaves[first as usize]).unwrap();
    assert_eq!((key.stage, key.op), (nl + 1, op::SAMPLE));
    let mut w = World::new(nl);
    let refs = w.post(vec![receipt(&w, &cheat, 2)]);
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let id = w.open(&refs[0]);
    let node_trace = Trace::new(cheat.leaves.clone());
    let own = Trace::new(honest.leaves.clone());
    let (mut node_wit, mut ch_wit) = (replay(RunKind::CheatToken), replay(RunKind::Honest));
    let (outcome, moves) = dispute::play_both_with(
        &mut w.chain,
        &w.d,
        id,
        (w.node, &node_trace, &mut node_wit),
        (w.challenger, &own, Some(&mut ch_wit)),
        w.params.move_timeout,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::CannotProve { index, reason, .. }
            if *index == first && reason.contains("claimStep failed"))),
        "{moves:?}"
    );
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0 - w.params.slash_amount
    );
}

#[test]
fn the_node_cannot_bisect_with_a_trace_other_than_the_committed_one() {
    let honest = run(RunKind::Honest);
    let cheat = run(RunKind::Cheat);
    let mut w = World::new(num_layers(&honest));
    let refs = w.post(vec![w.receipt(&cheat, 1)]);
    let id = w.open(&refs[0]);
    let e = dispute::node_move(
        &mut w.chain,
        &w.d,
        w.node,
        id,
        &Trace::new(honest.leaves.clone()),
        &mut witness(RunKind::Honest),
    )
    .unwrap_err();
    assert_eq!(e.code(), "DISPUTE_TRACE_MISMATCH", "{e}");
    // Only the parties move.
    let e = dispute::challenger_move(
        &mut w.chain,
        &w.d,
        w.node,
        id,
        &Trace::new(honest.leaves.clone()),
    )
    .unwrap_err();
    assert_eq!(e.code(), "DISPUTE_NOT_A_PARTY", "{e}");
}

/// A challenger that steers the bisection to a step no registered verifier can decide (here the
/// `Q` projection, whose matrix-vector verifier this chain does not name; in production
/// `SAMPLE` or a large vocabulary's `LOGITS`) does not win by the honest node's timeout: the
/// node declares the step unprovable and the dispute ends with nothing slashed, the bond going as
/// in a node win.
#[test]
fn a_dispute_steered_to_a_step_without_a_verifier_ends_with_no_contest() {
    let honest = run(RunKind::Honest);
    let mut w = World::new(num_layers(&honest));
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let refs = w.post(vec![w.receipt(&honest, 1)]);
    let key = LeafKey {
        pos: 0,
        stage: 1,
        op: 1, // Q projection: no on-chain step verifier registered
    };
    let at = index_of(&honest, key);
    let id = w.open(&refs[0]);
    let node_trace = Trace::new(honest.leaves.clone());
    let mut wit = witness(RunKind::Honest);
    let (outcome, moves) = dispute::play_both(
        &mut w.chain,
        &w.d,
        id,
        (w.node, &node_trace, &mut wit),
        (w.challenger, &tampered(&honest, at)),
        w.params.move_timeout,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::NoContest, "{moves:?}");
    assert!(
        moves.contains(&Move::NoContest { index: at, key }),
        "{moves:?}"
    );
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0,
        "not slashed"
    );
    assert_eq!(
        w.d.credit_of(&mut w.chain, w.challenger).unwrap(),
        U256::ZERO,
        "the challenger, who showed no wrong step, pays for the game"
    );
    assert_eq!(
        w.d.credit_of(&mut w.chain, w.node).unwrap(),
        w.params.min_bond * U256::from(w.params.winner_bps) / U256::from(10_000u64),
        "the node's share of the bond"
    );
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeWon
    );
}

/// `otr watch`'s check settles a receipt whose `trace_steps` is not its token counts' layout
/// (here it claims one completion token more than its trace computes) with `challengeLayout`,
/// before and without re-executing; a consistent receipt is not flagged.
#[test]
fn watch_slashes_a_receipt_claiming_more_tokens_than_its_trace() {
    let honest = run(RunKind::Honest);
    let mut w = World::new(num_layers(&honest));
    let good = w.receipt(&honest, 1);
    let mut greedy = w.receipt(&honest, 2);
    greedy.completion_tokens += 1;
    let refs = w.post(vec![good.clone(), greedy.clone()]);
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
    let ch = otr_node::node::challenge::Challenger::new(w.challenger, w.params.min_bond);
    let mut watch = otr_node::node::challenge::Watch::new(engine(), Some(ch));
    let (c, ev) = watch.check(&mut w.chain, &w.d, "good", &good, &refs[0], None);
    assert_eq!(c.status, "no_request", "{c:?}");
    assert!(ev.is_none());
    let (c, _) = watch.check(&mut w.chain, &w.d, "greedy", &greedy, &refs[1], None);
    assert_eq!(c.status, "layout_fraud", "{c:?}");
    assert!(
        c.detail
            .as_deref()
            .unwrap()
            .contains("challengeLayout slashed"),
        "{c:?}"
    );
    assert_eq!(
        w.d.stake_of(&mut w.chain, w.node).unwrap(),
        stake0 - w.params.slash_amount
    );
}

/// What the node does when it answers: runs the request (or the dev cheat), builds the receipt
/// and stores it with the request in one transaction.
fn answer(
    w: &World,
    store: &otr_node::node::store::Store,
    id: &str,
    body: &str,
    nonce: [u8; 32],
    run: RunKind,
) -> Receipt {
    let e = engine();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let (prompt, sampling) =
        otr_node::node::api::prompt_and_sampling(e.as_ref(), &v, false, &nonce).unwrap();
    let mut out = otr_core::rollup::OutputHasher::new();
    let g = e
        .generate_run(&prompt, &sampling, run, &mut |p| {
            out.update(p.as_bytes());
            true
        })
        .unwrap();
    let r = Receipt {
        version: 1,
        model_id: w.model_id,
        weights_root: w.weights_root,
        request_hash: otr_core::rollup::request_hash(&nonce, body.as_bytes()),
        output_hash: out.finalize(),
        prompt_tokens: g.prompt_tokens,
        completion_tokens: g.completion_tokens,
        sampling,
        trace_root: g.trace_root,
        trace_steps: g.trace_steps,
        created_at: T0,
    };
    store
        .insert_receipt_with_request(
            id,
            &r,
            &otr_node::node::store::StoredRequest {
                chat: false,
                nonce,
                body: body.as_bytes().to_vec(),
                run,
            },
            None,
        )
        .unwrap();
    r
}

/// What `GET /v1/receipts/{id}/request` publishes.
fn published(
    store: &otr_node::node::store::Store,
    id: &str,
) -> otr_node::node::challenge::PublishedRequest {
    let q = store.request(id).unwrap().unwrap();
    otr_node::node::challenge::PublishedRequest {
        endpoint: if q.chat { "chat" } else { "completions" }.into(),
        nonce: hex::encode(q.nonce),
        body: String::from_utf8(q.body).unwrap(),
    }
}

#[test]
fn node_defender_and_challenger_play_their_disputes_to_the_end_by_themselves() {
    use otr_node::node::challenge::{self, ChallengeWhat, Challenger};
    use otr_node::node::defend::{DefenceWhat, Defender};
    let honest = run(RunKind::Honest);
    let mut w = World::new(num_layers(&honest));
    let dir = std::env::temp_dir().join(format!("otr-disputes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = otr_node::node::store::Store::open(&dir.join("node.sqlite3")).unwrap();
    let body = |n: u32| {
        format!(r#"{{"prompt":"The quick brown fox {n}","max_tokens":4,"temperature":0}}"#)
    };
    // Answers: honest, cheat, honest.
    let kinds = [RunKind::Honest, RunKind::Cheat, RunKind::Honest];
    let ids = ["r0", "r1", "r2"];
    let receipts: Vec<Receipt> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| answer(&w, &store, ids[i], &body(i as u32), [i as u8 + 1; 32], *k))
        .collect();
    let refs = w.post(receipts.clone());
    let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();

    // The watcher re-executes every published request; only the cheat disagrees, and only it
    // is disputed.
    let mut watch = challenge::Watch::new(
        engine(),
        Some(Challenger::new(w.challenger, w.params.min_bond)),
    );
    let mut opened = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (c, ev) = watch.check(
            &mut w.chain,
            &w.d,
            id,
            &receipts[i],
            &refs[i],
            Some(published(&store, id)),
        );
        let want = if kinds[i] == RunKind::Honest {
            "agrees"
        } else {
            "disagrees"
        };
        assert_eq!(c.status, want, "{c:?}");
        opened.extend(ev);
    }
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].receipt, "r1");
    let mut ch = watch.challenger.take().unwrap();
    // A request that is not the receipt's is refused before any re-execution.
    let mut other = published(&store, "r0");
    other.body = body(9);
    let e = challenge::reexecute(engine().as_ref(), &receipts[0], &other).unwrap_err();
    assert_eq!(e.code(), "REEXEC_REQUEST_HASH");
    // A receipt recording other sampling parameters than its request's (here a sampled
    // temperature for a greedy request: its tokens could no longer be refuted) disagrees, and is
    // re-executed with the receipt's parameters, the ones its trace must follow.
    let mut lying = receipts[0].clone();
    lying.sampling.temperature_milli = 700;
    let re = challenge::reexecute(engine().as_ref(), &lying, &published(&store, "r0")).unwrap();
    assert!(!re.sampling_matches && !re.agrees());
    assert_eq!(re.sampling, lying.sampling);
    // And a frivolous dispute over honest r2, from a trace wrong at a residual add.
    let r2 = run_body(&body(2), [3; 32]);
    let at = index_of(
        &r2,
        LeafKey {
            pos: 0,
            stage: 1,
            op: op::RESID_FFN,
        },
    );
    ch.open(&mut w.chain, &w.d, &refs[2], tampered(&r2, at), "r2")
        .unwrap();
    // And one over honest r0 from a trace whose PROMPT leaf differs (another prompt's tokens):
    // it ends at leaf 0 with no contest, and the challenger says where.
    let r0 = run_body(&body(0), [1; 32]);
    ch.open(&mut w.chain, &w.d, &refs[0], tampered(&r0, 0), "r0")
        .unwrap();

    let mut def = Defender::new(w.node);
    let mut node_events = Vec::new();
    let mut challenger_events = Vec::new();
    for _ in 0..200 {
        let a = def
            .round(&mut w.chain, &w.d, &store, engine().as_ref())
            .unwrap();
        let b = ch.round(&mut w.chain, &w.d).unwrap();
        let idle = a
            .iter()
            .all(|e| matches!(e.what, DefenceWhat::Move(Move::CannotProve { .. })))
            && b.is_empty();
        node_events.extend(a);
        challenger_events.extend(b);
        if ch.active() == 0 && def.active() == 0 {
            break;
        }
        if idle {
            w.chain.advance(w.params.move_timeout, 1);
        }
    }
    assert_eq!(ch.active(), 0, "{challenger_events:?}");
    let outcome = |label: &str| {
        ch.finished
            .values()
            .find(|f| f.0 == label)
            .map(|f| (f.1, f.3))
            .unwrap()
    };
    let slash = w.params.slash_amount;
    assert_eq!(outcome("r1"), (Outcome::ChallengerWon, slash));
    assert_eq!(outcome("r2"), (Outcome::NodeWon, U256::ZERO));
    assert_eq!(outcome("r0"), (Outcome::NoContest, U256::ZERO));
    assert!(challenger_events.iter().any(|e| e.receipt == "r0"
        && matches!(
            e.what,
            ChallengeWhat::Resolved {
                outcome: Outcome::NoContest,
                no_contest_at: Some(0),
                ..
            }
        )));
    assert!(node_events
        .iter()
        .any(|e| e.receipt_id.as_deref() == Some("r2")
            && matches!(e.what, DefenceWhat::Move(Move::ProvedStep { index, .. }) if index == at)));
    assert!(node_events
        .iter()
        .any(|e| e.receipt_id.as_deref() == Some("r1")
            && matches!(e.what, DefenceWhat::Move(Move::CannotProve { .. }))));
    assert!(challenger_events.iter().any(|e| e.receipt == "r1"
        && e.what
            == ChallengeWhat::Move(Move::TimedOut {
                slashed_wei: slash.to_string()
            })));
    assert_eq!(w.d.stake_of(&mut w.chain, w.node).unwrap(), stake0 - slash);
    assert!(matches!(
        w.d.finality(&mut w.chain, 0).unwrap(),
        BatchFinality::Slashed { .. }
    ));
    watch.challenger = Some(ch);
    let sum = watch.summary();
    assert_eq!((sum.agreed, sum.disagreed, sum.disputes_open), (2, 1, 0));
    assert_eq!(sum.disputes.len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The honest run of a completions body.
fn run_body(body: &str, nonce: [u8; 32]) -> TracedRun {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let (prompt, sampling) =
        otr_node::node::api::prompt_and_sampling(engine().as_ref(), &v, false, &nonce).unwrap();
    engine().trace(&prompt, &sampling, RunKind::Honest).unwrap()
}

#[test]
fn serve_publishes_requests_only_when_asked_and_the_dev_cheat_answers_wrongly() {
    use common::{free_port, http, start};
    let base = std::env::temp_dir().join(format!("otr-pubreq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let port = free_port();
    let mut node = start(
        &base.join("a"),
        port,
        &[
            "--chain",
            "none",
            "--publish-requests",
            "--dev-cheat-every",
            "2",
        ],
    );
    let body = r#"{"prompt":"Once upon a time","max_tokens":4,"temperature":0}"#;
    let mut texts = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, t) = http(port, "POST", "/v1/completions", body).unwrap();
        assert_eq!(s, 200, "{t}");
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        texts.push(v["choices"][0]["text"].as_str().unwrap().to_string());
        ids.push(v["otr"]["receipt_id"].as_str().unwrap().to_string());
    }
    let mut published = Vec::new();
    for id in &ids {
        let (s, t) = http(port, "GET", &format!("/v1/receipts/{id}/request"), "").unwrap();
        assert_eq!(s, 200, "{t}");
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["body"], body);
        assert_eq!(v["endpoint"], "completions");
        let nonce: [u8; 32] = hex::decode(v["nonce"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hex::encode(otr_core::rollup::request_hash(&nonce, body.as_bytes())),
            v["request_hash"].as_str().unwrap()
        );
        published.push(v);
    }
    // Same prompt, greedy: the honest first answer and the cheat second answer differ.
    assert_ne!(texts[0], texts[1]);
    let (s, t) = http(port, "GET", "/v1/receipts/rcpt_nope/request", "").unwrap();
    assert_eq!(s, 404);
    assert!(t.contains("REQUEST_NOT_FOUND"), "{t}");
    let _ = node.kill();
    let _ = node.wait();
    // Not published by default.
    let port = free_port();
    let mut node = start(&base.join("b"), port, &["--chain", "none"]);
    let (s, t) = http(port, "POST", "/v1/completions", body).unwrap();
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
    let id = v["otr"]["receipt_id"].as_str().unwrap();
    let (s, t) = http(port, "GET", &format!("/v1/receipts/{id}/request"), "").unwrap();
    assert_eq!(s, 404);
    assert!(t.contains("REQUESTS_NOT_PUBLISHED"), "{t}");
    let _ = node.kill();
    let _ = node.wait();
    // The cheat is refused with the production attestation provider.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(["serve", "--attestation", "nvidia", "--dev-cheat-every", "2"])
        .arg("--data-dir")
        .arg(base.join("c"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--dev-cheat-every"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn watch_on_a_node_chain_file_reports_a_wrong_receipt_but_cannot_dispute_it() {
    use common::{free_port, http, start};
    let base = std::env::temp_dir().join(format!("otr-watch-reexec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let port = free_port();
    let mut node = start(
        &base,
        port,
        &[
            "--publish-requests",
            "--dev-cheat-every",
            "2",
            "--post-interval-ms",
            "200",
        ],
    );
    let mut ids = Vec::new();
    for n in 0..2 {
        let body = format!(r#"{{"prompt":"Watch me {n}","max_tokens":3,"temperature":0}}"#);
        let (s, t) = http(port, "POST", "/v1/completions", &body).unwrap();
        assert_eq!(s, 200, "{t}");
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        ids.push(v["otr"]["receipt_id"].as_str().unwrap().to_string());
    }
    // Both posted.
    let t = std::time::Instant::now();
    for id in &ids {
        loop {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(60),
                "not posted"
            );
            if let Some((200, b)) = http(port, "GET", &format!("/v1/receipts/{id}/bundle"), "") {
                if b.contains("\"rollup\":{") {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let node_url = format!("http://127.0.0.1:{port}");
    let watch = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_otr"))
            .args([
                "watch",
                "--once",
                "--allow-dev-root",
                "--model",
                "fixture-gemma3",
            ])
            .arg("--data-dir")
            .arg(&base)
            .args(["--node", &node_url])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = watch(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a wrong receipt fails the check: {stdout}"
    );
    let statuses: std::collections::BTreeMap<String, String> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let c = v.get("reexecution")?;
            Some((
                c["receipt_id"].as_str()?.to_string(),
                c["status"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(
        statuses.get(&ids[0]).map(|s| s.as_str()),
        Some("agrees"),
        "{stdout}"
    );
    assert_eq!(
        statuses.get(&ids[1]).map(|s| s.as_str()),
        Some("disagrees"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""disputes":[]"#), "{stdout}");
    // A chain file is read-only: no challenger key there.
    let out = watch(&["--dev-key"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WATCH_ARGS"), "{err}");
    let _ = node.kill();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&base);
}

fn gemma_engine() -> Arc<dyn Inference> {
    static E: OnceLock<Arc<dyn Inference>> = OnceLock::new();
    E.get_or_init(|| {
        otr_node::node::engine_impl::load("fixture-gemma3", std::path::Path::new("."))
            .expect("load fixture-gemma3")
    })
    .clone()
}

/// An honest node of model `e`, registered as `register_model` does (real config hash; the
/// residual-add verifier for plain-add models, the norm, RoPE, V_CACHE, activation and
/// attention verifiers), disputed frivolously at each step `targets(prompt_tokens, num_layers)` names: it proves the step with
/// its engine replay (`dispute::Replay`) and wins, and the challenger loses its bond.
fn honest_node_wins_at(e: Arc<dyn Inference>, targets: impl Fn(u32, u16) -> Vec<LeafKey>) {
    let info = e.info();
    let honest = e.trace(PROMPT, &sampling(), RunKind::Honest).unwrap();
    let nl = num_layers(&honest);
    assert_eq!(nl, info.num_layers);
    let mut w = World::new(nl);
    w.register(&info);
    if info.plain_residual {
        w.d.set_wide_add_verifier(&mut w.chain, info.model_id)
            .unwrap();
    }
    w.d.set_norm_verifier(&mut w.chain, info.model_id, !info.plain_residual)
        .unwrap();
    w.d.set_rope_verifier(
        &mut w.chain,
        info.model_id,
        info.rope_roots.get().expect("rope roots"),
    )
    .unwrap();
    w.d.set_vcache_verifier(&mut w.chain, info.model_id)
        .unwrap();
    set_embed(&mut w.chain, &w.d, &info);
    w.d.set_act_verifier(
        &mut w.chain,
        info.model_id,
        info.act_table_digest.expect("activation table digest"),
    )
    .unwrap();
    w.d.set_attn_verifier(
        &mut w.chain,
        info.model_id,
        info.exp_table_digest.expect("2^-x table digest"),
        info.attn_limits.expect("attention limits"),
    )
    .unwrap();
    w.model_id = info.model_id;
    w.weights_root = info.weights_root;
    let targets = targets(honest.generation.prompt_tokens, nl);
    let receipts: Vec<Receipt> = (0..targets.len())
        .map(|i| w.receipt(&honest, i as u8 + 1))
        .collect();
    let refs = w.post(receipts);
    let node_trace = Trace::new(honest.leaves.clone());
    let challenger_credit0 = w.d.credit_of(&mut w.chain, w.challenger).unwrap();
    let s = sampling();
    for (i, key) in targets.iter().enumerate() {
        let stake0 = w.d.stake_of(&mut w.chain, w.node).unwrap();
        let credit0 = w.d.credit_of(&mut w.chain, w.node).unwrap();
        let at = index_of(&honest, *key);
        let theirs = tampered(&honest, at);
        let id = w.open(&refs[i]);
        let mut replay = dispute::Replay {
            engine: e.as_ref(),
            prompt: PROMPT,
            sampling: &s,
            run: RunKind::Honest,
        };
        let (outcome, moves) = dispute::play_both(
            &mut w.chain,
            &w.d,
            id,
            (w.node, &node_trace, &mut replay),
            (w.challenger, &theirs),
            w.params.move_timeout,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::NodeWon, "{key:?}: {moves:?}");
        assert!(
            moves.contains(&Move::ProvedStep {
                index: at,
                key: *key
            }),
            "{key:?}: {moves:?}"
        );
        assert_eq!(w.d.stake_of(&mut w.chain, w.node).unwrap(), stake0);
        assert_eq!(
            w.d.credit_of(&mut w.chain, w.node).unwrap() - credit0,
            w.params.min_bond * U256::from(w.params.winner_bps) / U256::from(10_000u64),
            "{key:?}: the node gets its share of the challenger's bond"
        );
    }
    assert_eq!(
        w.d.credit_of(&mut w.chain, w.challenger).unwrap(),
        challenger_credit0,
        "the challenger got nothing back"
    );
    assert_eq!(
        w.d.chain_status(&mut w.chain, 0).unwrap().dispute,
        DisputeState::ResolvedNodeWon
    );
}

#[test]
fn an_honest_gemma_node_wins_frivolous_disputes_at_norm_rope_v_cache_act_and_attn_steps() {
    assert!(
        !gemma_engine().info().plain_residual,
        "Gemma 3 has post norms"
    );
    honest_node_wins_at(gemma_engine(), |prompt_tokens, nl| {
        assert!(
            prompt_tokens > 4,
            "the local layers' window hides the first position"
        );
        let pos = prompt_tokens - 1;
        let k = |stage, op| LeafKey { pos, stage, op };
        vec![
            k(1, op::ATTN_NORM),       // input: the embedding
            k(2, op::FFN_NORM),        // input: the layer's RESID_ATTN
            k(nl + 1, op::FINAL_NORM), // the head's norm
            k(1, op::RESID_ATTN),      // h + post_attention_norm(o), h the embedding
            k(nl, op::RESID_FFN),      // h1 + post_ffw_norm(d), last layer
            k(1, op::Q_ROPE),          // QK-norm + RoPE of a local layer
            k(nl, op::K_ROPE),         // and of the last layer (global in the tiny Gemma)
            k(1, op::V_CACHE),         // per-head Act16 of the value
            k(nl, op::ACT),            // GELU-tanh gated activation
            k(1, op::ATTN),            // attention, local layer: a window of 4
            k(nl, op::ATTN),           // attention, global layer: every position
            LeafKey {
                pos: pos - 1,
                stage: 0,
                op: op::EMBED,
            }, // token from the PROMPT leaf
            LeafKey {
                pos: pos + 2,
                stage: 0,
                op: op::EMBED,
            }, // from a SAMPLE
        ]
    });
    // A step without an on-chain verifier (the Q projection) is still the known limit.
    assert!(dispute::norm_step(
        LeafKey {
            pos: 0,
            stage: 1,
            op: 1
        },
        6
    )
    .is_none());
}

#[test]
fn an_honest_llama_node_wins_frivolous_disputes_at_norm_rope_v_cache_act_and_attn_steps() {
    honest_node_wins_at(engine(), |prompt_tokens, nl| {
        let pos = prompt_tokens - 1;
        let k = |stage, op| LeafKey { pos, stage, op };
        vec![
            k(2, op::ATTN_NORM),       // input: the previous layer's RESID_FFN
            k(1, op::FFN_NORM),        // input: the layer's RESID_ATTN
            k(nl + 1, op::FINAL_NORM), // the head's norm
            k(2, op::RESID_ATTN),      // a plain add: the residual-add verifier, not the norm one
            k(1, op::Q_ROPE),          // RoPE without QK-norm, (2i, 2i + 1) pairs
            k(nl, op::K_ROPE),
            k(nl, op::V_CACHE), // per-head Act16 of the value
            k(1, op::ACT),      // SiLU gated activation
            k(2, op::ATTN),     // attention over every position (no window)
            LeafKey {
                pos: 0,
                stage: 0,
                op: op::EMBED,
            }, // token from the PROMPT leaf
            LeafKey {
                pos: prompt_tokens,
                stage: 0,
                op: op::EMBED,
            }, // from the last SAMPLE
        ]
    });
}

#[test]
fn a_node_whose_step_proof_is_refused_keeps_defending_and_loses_by_timeout() {
    // The attention verifier deployed with another 2^-x table digest refuses the node's proof
    // (as a too-long context's transaction fails): the node's move reports it cannot prove
    // instead of failing its defence, and the challenger wins when the deadline passes.
    let e = engine();
    let info = e.info();
    let honest = e.trace(PROMPT, &sampling(), RunKind::Honest).unwrap();
    let nl = num_layers(&honest);
    let mut w = World::new(nl);
    w.register(&info);
    w.d.set_attn_verifier(
        &mut w.chain,
        info.model_id,
        [7; 32],
        info.attn_limits.unwrap(),
    )
    .unwrap();
    w.model_id = info.model_id;
    w.weights_root = info.weights_root;
    let refs = w.post(vec![w.receipt(&honest, 1)]);
    let key = LeafKey {
        pos: honest.generation.prompt_tokens - 1,
        stage: 1,
        op: op::ATTN,
    };
    let at = index_of(&honest, key);
    let id = w.open(&refs[0]);
    let node_trace = Trace::new(honest.leaves.clone());
    let s = sampling();
    let mut replay = dispute::Replay {
        engine: e.as_ref(),
        prompt: PROMPT,
        sampling: &s,
        run: RunKind::Honest,
    };
    let (outcome, moves) = dispute::play_both(
        &mut w.chain,
        &w.d,
        id,
        (w.node, &node_trace, &mut replay),
        (w.challenger, &tampered(&honest, at)),
        w.params.move_timeout,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves.iter().any(|m| matches!(m,
            Move::CannotProve { index, key: Some(k), reason }
                if *index == at && *k == key && reason.contains("proveStep failed"))),
        "{moves:?}"
    );
}

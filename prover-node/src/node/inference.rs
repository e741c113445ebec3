//! The inference interface the node needs from the engine.

use otr_core::rollup::SamplingParams;

/// What the registry knows about the served model.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelInfo {
    /// The name clients use (`model` field of OpenAI requests).
    pub name: String,
    /// Registry id: SHA-256 over the registry entry (architecture, config, tokenizer hash, weights root).
    #[serde(with = "hex32")]
    pub model_id: [u8; 32],
    #[serde(with = "hex32")]
    pub weights_root: [u8; 32],
    pub context_length: u32,
    /// What the model registry records next to the weights root (`ModelRegistry.Model`):
    /// SHA-256 of the canonical architecture config (`otr_engine::model::Config::canonical`).
    #[serde(with = "hex32")]
    pub config_hash: [u8; 32],
    /// SHA-256 of the tokenizer (`otr_engine::tokenizer::Tokenizer::hash`).
    #[serde(with = "hex32")]
    pub tokenizer_hash: [u8; 32],
    /// Transformer layers: maps a trace stage to embedding / layer / head in the registry.
    pub num_layers: u16,
    /// Whether a layer's residual add is a plain add (Llama), so the on-chain residual-add step
    /// verifier applies; Gemma 3 normalizes before adding.
    pub plain_residual: bool,
    /// Roots of the model's RoPE tables `[global layers, local layers]` (engine
    /// `Model::rope_roots`), the parameters of its on-chain QK-norm + RoPE step verifier,
    /// computed on first use (two tables of `context_len x head_dim / 2` sin/cos entries: 8.4M
    /// for Gemma 3 270M); `None` when that verifier does
    /// not apply (a Llama-architecture model with QK-norm).
    #[serde(skip)]
    pub rope_roots: LazyRoots,
    /// The embedding-row tree (the on-chain `EMBED` verifier's parameters), on first use
    /// (hashing every row: a second for Gemma 3 270M's 262,144); `None` without an engine.
    #[serde(skip)]
    pub embed_rows: LazyEmbed,
    /// Commitment of the model's gated-activation table (engine `Model::act_table_digest`), the
    /// parameter of its on-chain `ACT` step verifier; `None` when the engine has none.
    #[serde(skip)]
    pub act_table_digest: Option<[u8; 32]>,
    /// Commitment of the engine's 2^-x table (engine `tables::exp2_table_digest`), the
    /// parameter of the on-chain `ATTN` step verifier; `None` when the engine has none.
    #[serde(skip)]
    pub exp_table_digest: Option<[u8; 32]>,
    /// The on-chain `ATTN` verifier's limits (`AttnLimits::estimate` of the model's shape): the
    /// longest visible context it proves; a dispute at a longer one ends with no contest.
    #[serde(skip)]
    pub attn_limits: Option<otr_contracts::deploy::AttnLimits>,
    /// The registry's `poseidonRoot`: the root over the model's matrices' Poseidon commitments
    /// (`zkroot`), computed (or read from its cache file) when first asked, at registration.
    #[serde(skip)]
    pub matrix_root: super::zkroot::LazyRoot,
}

/// A value computed once, on first use, and shared by clones (`None`: does not apply).
pub struct Lazy<T: Copy + Send + Sync + 'static> {
    cell: std::sync::Arc<std::sync::OnceLock<Option<T>>>,
    f: std::sync::Arc<dyn Fn() -> Option<T> + Send + Sync>,
}

impl<T: Copy + Send + Sync + 'static> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Lazy {
            cell: self.cell.clone(),
            f: self.f.clone(),
        }
    }
}

/// The RoPE table roots `[global layers, local layers]`, on first use.
pub type LazyRoots = Lazy<[[u8; 32]; 2]>;

/// The token embedding's row tree, on first use: its root, its size (the vocabulary) and the
/// embedding scale (engine `Model::embed_rows_root`, `Config::embed_scale_q32`): the parameters
/// of the on-chain `EMBED` step verifier.
pub type LazyEmbed = Lazy<EmbedRows>;

/// See [`LazyEmbed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbedRows {
    pub root: [u8; 32],
    pub vocab: u64,
    pub scale_q32: i64,
    /// Root of the rows the head's `LOGITS` multiply by (engine `Model::head_rows_root`: these
    /// embedding rows for a tied head, else `output.weight`'s).
    pub head_root: [u8; 32],
    /// Root of every matrix's row tree (engine `Model::matrix_rows_root`): what a layer matrix
    /// step's refutation opens one row against (`MatRowStepVerifier.sol`).
    pub matrices_root: [u8; 32],
    /// The tokenizer's vocabulary-piece tree (engine `Tokenizer::pieces_root`), its size and
    /// the BOS a prompt's first token is skipped as (when the vocabulary adds one): the
    /// on-chain `PROMPT` verifier's parameters (`PromptStepVerifier.sol`).
    pub pieces_root: [u8; 32],
    pub pieces: u64,
    pub bos: Option<u32>,
    /// The tokenizer's text-sorted tree (engine `Tokenizer::text_tree`) and its size: what the
    /// `PROMPT` verifier replays the tokenizer's merges against.
    pub texts_root: [u8; 32],
    pub texts: u64,
}

impl<T: Copy + Send + Sync + 'static> Lazy<T> {
    pub fn new(f: impl Fn() -> Option<T> + Send + Sync + 'static) -> Self {
        Lazy {
            cell: Default::default(),
            f: std::sync::Arc::new(f),
        }
    }

    /// Already known values (no computation).
    pub fn known(v: Option<T>) -> Self {
        Self::new(move || v)
    }

    pub fn get(&self) -> Option<T> {
        *self.cell.get_or_init(|| (self.f)())
    }
}

impl<T: Copy + Send + Sync + std::fmt::Debug + 'static> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cell.get() {
            Some(v) => write!(f, "{v:?}"),
            None => f.write_str("(not computed yet)"),
        }
    }
}

/// One finished generation.
#[derive(Clone, Debug)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// `stop` (end of sequence or stop string) or `length` (max_tokens reached).
    pub finish_reason: &'static str,
    pub trace_root: [u8; 32],
    pub trace_steps: u64,
    /// The trace's `PROMPT` leaf opened (its output and audit path), for the bundle.
    pub prompt_opening: Option<otr_core::rollup::PromptOpening>,
}

/// Deterministic inference: the same prompt and sampling give the same text and trace root.
pub trait Inference: Send + Sync {
    fn info(&self) -> ModelInfo;
    /// Applies the model family's chat template to `(role, content)` messages.
    fn chat_prompt(&self, messages: &[(String, String)]) -> String;
    /// Generates from `prompt`, calling `on_text` with each piece of new text as it is produced;
    /// `on_text` returns false to stop early.
    fn generate(
        &self,
        prompt: &str,
        sampling: &SamplingParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation, String>;

    /// Runs `prompt` like [`Inference::generate`] and returns, with the generation, the hash of
    /// the text produced (the receipt's `output_hash`) and every trace leaf in trace order (the
    /// leaves behind `trace_root`): what a challenger and a disputed node bisect over.
    /// `run` selects the honest run or the dev cheat (`--dev-cheat-every`).
    fn trace(
        &self,
        _prompt: &str,
        _sampling: &SamplingParams,
        _run: RunKind,
    ) -> Result<TracedRun, String> {
        Err("this engine cannot re-execute a trace".into())
    }

    /// The input tensors (canonical bytes, engine `replay.rs` order) of trace step `index` of
    /// the run: the witness of a one-step proof.
    fn step_inputs(
        &self,
        _prompt: &str,
        _sampling: &SamplingParams,
        _run: RunKind,
        _index: u64,
    ) -> Result<Vec<Vec<u8>>, String> {
        Err("this engine cannot replay a step".into())
    }

    /// The output (canonical bytes) of trace step `index` of the run: a `SAMPLE` step's token,
    /// the node's claim when a dispute ends there (`DisputeGame.claimStep`).
    fn step_output(
        &self,
        _prompt: &str,
        _sampling: &SamplingParams,
        _run: RunKind,
        _index: u64,
    ) -> Result<Vec<u8>, String> {
        Err("this engine cannot replay a step".into())
    }

    /// The model's weights material for the one-step proof of an RMSNorm step
    /// (`NormStepVerifier.sol`): the canonical config text and the norm vector `name` (GGUF
    /// tensor name) opened against the weights root. An error when the model has no such norm.
    fn norm_opening(&self, _name: &str) -> Result<NormOpening, String> {
        Err("this engine cannot open its weights".into())
    }

    /// The RoPE table row of position `pos` for layer `layer` (0-based), opened against its
    /// table root: the witness of a `Q_ROPE` / `K_ROPE` step (`RopeStepVerifier.sol`).
    fn rope_row(&self, _layer: u16, _pos: u32) -> Result<RopeRow, String> {
        Err("this engine cannot open its RoPE tables".into())
    }

    /// How many tokens `prompt` is (BOS included), when the engine can tell before running it.
    fn prompt_tokens(&self, _prompt: &str) -> Option<usize> {
        None
    }

    /// The model's tokenizer: what a `PROMPT` claim and its refutation read the vocabulary's
    /// pieces from (`PromptStepVerifier.sol`).
    fn tokenizer(&self) -> Option<&otr_engine::Tokenizer> {
        None
    }

    /// The embedding row of `token` opened against the embedding-row tree: the witness part of
    /// an `EMBED` step (`EmbedStepVerifier.sol`).
    fn embed_row(&self, _token: u32) -> Result<EmbedRow, String> {
        Err("this engine cannot open its embedding rows".into())
    }

    /// Row `r` of the head's matrix opened against its row tree: the witness part of a
    /// `LOGITS` refutation (`LogitsStepVerifier.sol`).
    fn head_row(&self, _r: u32) -> Result<EmbedRow, String> {
        Err("this engine cannot open its head rows".into())
    }

    /// Row `r` of the matrix of layer step `(stage, op)` opened in the matrix-rows tree: the
    /// witness part of a layer matrix step's refutation (`MatRowStepVerifier.sol`).
    fn matrix_row(
        &self,
        _stage: u16,
        _op: u8,
        _r: u32,
    ) -> Result<otr_contracts::deploy::MatrixRow, String> {
        Err("this engine cannot open its matrix rows".into())
    }

    /// The canonical config text (`otr_engine::model::Config::canonical`): what the `V_CACHE`
    /// and attention step verifiers read the model's shape from.
    fn config_text(&self) -> Result<String, String> {
        Err("this engine has no canonical config".into())
    }

    /// The gated activation's table, canonical bytes (engine `Model::act_table_bytes`): the
    /// witness part of an `ACT` step (`ActStepVerifier.sol`).
    fn act_table(&self) -> Result<Vec<u8>, String> {
        Err("this engine has no activation table".into())
    }

    /// The 2^-x table of attention, canonical bytes (engine `tables::exp2_table_bytes`): the
    /// witness part of an `ATTN` step (`AttnStepVerifier.sol`).
    fn exp_table(&self) -> Result<Vec<u8>, String> {
        Err("this engine has no 2^-x table".into())
    }

    /// [`Inference::generate`] with a chosen run: `RunKind::Cheat` answers wrongly on purpose
    /// (dev only, `otr serve --dev-cheat-every`).
    fn generate_run(
        &self,
        prompt: &str,
        sampling: &SamplingParams,
        run: RunKind,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation, String> {
        match run {
            RunKind::Honest => self.generate(prompt, sampling, on_text),
            RunKind::Cheat
            | RunKind::CheatToken
            | RunKind::CheatLogits
            | RunKind::CheatMatrix
            | RunKind::CheatAttn
            | RunKind::CheatPrompt
            | RunKind::CheatSplit
            | RunKind::CheatResplit
            | RunKind::CheatBytes
            | RunKind::CheatSpell => Err("this engine has no cheat mode".into()),
        }
    }
}

/// A norm weight vector opened against the model's weights root, with the config text the
/// verifier reads the RMSNorm epsilon from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormOpening {
    /// `otr_engine::model::Config::canonical` (its SHA-256 under the `OTR/model-config/v1`
    /// tag is the registered `configHash`).
    pub config: String,
    /// The vector's canonical tensor bytes.
    pub canonical: Vec<u8>,
    /// Leaf index in the weights tree, the tree's size, and the RFC 6962 audit path.
    pub index: u64,
    pub size: u64,
    pub path: Vec<[u8; 32]>,
}

/// An embedding row opened against the embedding-row root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbedRow {
    /// `u32le(rm) || i32le(re) || block scales || quants` (engine `EmbedRowOpening::row`).
    pub row: Vec<u8>,
    pub path: Vec<[u8; 32]>,
}

/// A RoPE table row opened against its table root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RopeRow {
    /// `otr_engine::model::Config::canonical` (the verifier reads the heads from it).
    pub config: String,
    /// `head_dim / 2` pairs `(i32le cos, i32le sin)`.
    pub row: Vec<u8>,
    /// Leaf index (the position), the table's size (the context length), the audit path.
    pub index: u64,
    pub size: u64,
    pub path: Vec<[u8; 32]>,
}

/// Which computation answered a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// The model on the request, as the receipt claims.
    Honest,
    /// Dev only (`--dev-cheat-every`): the model on the request, but the last prompt position
    /// embeds the next vocabulary id's row (engine `DevFault::EmbedNextToken`) while the trace's
    /// `PROMPT` leaf commits the real tokens. The answer, the trace and so the receipt's
    /// `trace_root` differ from what the request commits to, from that position's `EMBED` step
    /// on, which does not follow from the committed token.
    Cheat,
    /// Dev only (`--dev-cheat-kind token`): the model on the request, but the first completion
    /// token is the runner-up logit's instead of the greedy pick (engine
    /// `DevFault::SampleRunnerUp`), fed on as if right: a wrong answer whose trace first
    /// differs at that `SAMPLE` step, which a challenger refutes with the larger logit.
    CheatToken,
    /// Dev only (`--dev-cheat-kind logits`): the first completion token's logits have the
    /// runner-up raised above the largest (engine `DevFault::LogitsBias`), so the greedy pick
    /// follows from wrong logits: the trace first differs at that `LOGITS` step, which a
    /// challenger refutes with one logit recomputed from its row of the head's matrix.
    CheatLogits,
    /// Dev only (`--dev-cheat-kind matrix`): row 1 of the first layer's `DOWN` output at the
    /// last prompt position is one more than the product (engine `DevFault::MatVecBias`), fed
    /// on as if right: the trace first differs at that step, which a challenger refutes with
    /// that row of the matrix (`MatRowStepVerifier`).
    CheatMatrix,
    /// Dev only (`--dev-cheat-kind attention`): the first layer's attention at the last prompt
    /// position reads its values negated (engine `DevFault::AttnBias`; the `V_CACHE` steps stay
    /// right), fed on as if right: the trace first differs at that `ATTN` step, whose proof the
    /// node cannot give (its values are not the agreed ones) or, past the verifier's proof
    /// limit, whose claim a challenger refutes with one part's keys and values.
    CheatAttn,
    /// Dev only (`--dev-cheat-kind prompt`): the `PROMPT` leaf's text has its last byte's case
    /// flipped (engine `DevFault::PromptText`) while the tokens are the request's: a leaf
    /// whose text is not its tokens', which a challenger refutes with one vocabulary piece.
    CheatPrompt,
    /// Dev only: the prompt's first token that two vocabulary pieces make is fed as those two
    /// (engine `Tokenizer::split_first_piece`): the same text, other tokens computed on, which
    /// a client comparing the text with its request would accept and a challenger refutes with
    /// the pair's three pieces.
    CheatSplit,
    /// Dev only: the prompt's first one or two tokens whose text re-splits into other pieces no
    /// two adjacent of which make a piece are fed as those (engine
    /// `Tokenizer::resplit_first_piece`): the same text, other tokens computed on, refuted by
    /// replaying the tokenizer's merges on chain on one pair.
    CheatResplit,
    /// Dev only: the prompt's first normal token whose first character is a token is fed as
    /// the byte tokens of its text (engine `Tokenizer::bytes_first_piece`), refuted as a
    /// misplaced byte.
    CheatBytes,
    /// Dev only: the prompt's first special token is fed as the pieces of its text (engine
    /// `Tokenizer::spell_first_special`), refuted as a spelled special.
    CheatSpell,
}

/// A re-execution with its trace.
#[derive(Clone, Debug)]
pub struct TracedRun {
    pub generation: Generation,
    /// `SHA-256("OTR/output/v1\0" || text)`, the receipt's `output_hash`.
    pub output_hash: [u8; 32],
    /// The 57-byte trace leaves in trace order (engine `trace::leaf`).
    pub leaves: Vec<Vec<u8>>,
}

pub(crate) mod hex32 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

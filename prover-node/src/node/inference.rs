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
}

pub(crate) mod hex32 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

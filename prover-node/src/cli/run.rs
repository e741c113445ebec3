//! `otr run`: the engine once on a prompt, without a node: the text (streamed as it is
//! generated), and with `--json` the token ids, the weights root and the trace root that a
//! receipt for the same request would carry.

use std::io::Write;
use std::time::Instant;

use clap::Args;
use otr_engine::model::Arch;
use otr_engine::{Kernel, LoadOptions, Model, Sampling};
use serde_json::json;

use super::CliError;
use crate::node::engine_impl;

/// Runs the deterministic engine on one prompt (no server, no receipt). The same model, prompt,
/// sampling and seed give the same tokens and trace root on every machine, kernel and thread
/// count.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Model: `gemma3-270m` (downloaded by scripts/fetch-model.sh), `fixture-gemma3`,
    /// `fixture-llama` (tiny self-made test models) or a GGUF file.
    #[arg(long, default_value = "gemma3-270m")]
    pub model: String,
    /// The prompt (raw text; see --chat).
    #[arg(long)]
    pub prompt: String,
    /// Wrap the prompt in the model's chat template as one user turn (Gemma 3 models).
    #[arg(long)]
    pub chat: bool,
    /// Most tokens to generate (generation also stops at the model's end-of-turn tokens).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub max_tokens: u32,
    /// Seed of the integer sampling RNG (only used when --temperature > 0).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sampling temperature, 0 = greedy (in steps of 0.001).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Keep only the K most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: u32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches P (0 < P <= 1,
    /// in steps of 0.001).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Threads for matrix products [default: the CPU count]. Results are identical for any count.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: Option<u32>,
    /// Matrix kernel: best (the fastest this CPU runs), scalar, avx2, avx512. Same bits with each.
    #[arg(long, default_value = "best", value_parser = ["best", "scalar", "avx2", "avx512"])]
    pub kernel: String,
    /// Print one JSON object (text, token ids, finish reason, weights root, tokenizer hash, trace
    /// root and step count) instead of the text.
    #[arg(long)]
    pub json: bool,
}

fn milli(name: &str, v: f64, max: f64) -> Result<u32, CliError> {
    if !v.is_finite() || v < 0.0 || v > max {
        return Err(CliError::usage(
            "RUN_BAD_ARGUMENT",
            format!("--{name} must be between 0 and {max}, got {v}"),
        ));
    }
    Ok((v * 1000.0).round() as u32)
}

pub fn run(a: RunArgs) -> Result<(), CliError> {
    let temperature_milli = milli("temperature", a.temperature, 100.0)?;
    let top_p_milli = milli("top-p", a.top_p, 1.0)?;
    if top_p_milli == 0 {
        return Err(CliError::usage(
            "RUN_BAD_ARGUMENT",
            "--top-p must be above 0",
        ));
    }
    let (_, path) =
        engine_impl::resolve(&a.model).map_err(|e| CliError::usage("MODEL_NOT_FOUND", e))?;
    let mut opts = LoadOptions::default();
    if let Some(t) = a.threads {
        opts.threads = t as usize;
    }
    opts.kernel = match a.kernel.as_str() {
        "scalar" => Kernel::Scalar,
        "avx2" => Kernel::Avx2,
        "avx512" => Kernel::Avx512,
        _ => Kernel::best(),
    };
    if !opts.kernel.available() {
        return Err(CliError::usage(
            "RUN_KERNEL_UNAVAILABLE",
            format!("this CPU cannot run the {} kernel", a.kernel),
        ));
    }
    opts.verbose = !a.json;
    let t0 = Instant::now();
    let m =
        Model::load_with(&path, &otr_engine::default_cache_dir(), opts).map_err(|e| CliError {
            code: e.code().into(),
            message: format!("{}: {e}", path.display()),
            exit: 2,
        })?;
    let load_s = t0.elapsed().as_secs_f64();
    let text = if a.chat {
        if m.info().arch != Arch::Gemma3 {
            return Err(CliError::usage(
                "RUN_NO_CHAT_TEMPLATE",
                "--chat: only Gemma 3 models have a chat template here; pass the raw prompt",
            ));
        }
        otr_engine::tokenizer::gemma_chat_prompt(&a.prompt)
    } else {
        a.prompt.clone()
    };
    let ids = m.tokenizer().encode(&text, true, true);
    let s = Sampling {
        temperature_milli,
        top_k: a.top_k,
        top_p_milli,
        max_tokens: a.max_tokens,
        seed: a.seed,
    };
    let t1 = Instant::now();
    let mut first: Option<f64> = None;
    let mut out = String::new();
    let g = m
        .generate(&ids, &s, &mut |_, piece| {
            first.get_or_insert_with(|| t1.elapsed().as_secs_f64());
            out.push_str(piece);
            if !a.json {
                print!("{piece}");
                let _ = std::io::stdout().flush();
            }
            true
        })
        .map_err(|e| CliError {
            code: e.code().into(),
            message: e.to_string(),
            exit: 1,
        })?;
    let total = t1.elapsed().as_secs_f64();
    let info = m.info();
    if a.json {
        let v = json!({
            "model": a.model,
            "text": out,
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "tokens": g.tokens,
            "finish_reason": format!("{:?}", g.finish_reason).to_lowercase(),
            "weights_root": hex::encode(info.weights_root),
            "tokenizer_hash": hex::encode(info.tokenizer_hash),
            "trace_root": hex::encode(g.trace_root),
            "trace_steps": g.trace_steps,
            "sampling": {
                "temperature_milli": s.temperature_milli, "top_k": s.top_k,
                "top_p_milli": s.top_p_milli, "max_tokens": s.max_tokens, "seed": s.seed,
            },
        });
        println!("{v}");
    } else {
        println!();
        let prefill = first.unwrap_or(total);
        let decode = if g.completion_tokens > 1 {
            (g.completion_tokens - 1) as f64 / (total - prefill).max(1e-9)
        } else {
            0.0
        };
        eprintln!(
            "{} prompt + {} completion tokens ({:?}); load {load_s:.2}s, prefill {:.1} tok/s, \
             decode {decode:.1} tok/s, {} thread(s), {:?} kernel; trace root {} ({} steps)",
            g.prompt_tokens,
            g.completion_tokens,
            g.finish_reason,
            g.prompt_tokens as f64 / prefill.max(1e-9),
            m.exec_threads(),
            m.exec_kernel(),
            hex::encode(g.trace_root),
            g.trace_steps
        );
    }
    Ok(())
}

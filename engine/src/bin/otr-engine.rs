//! `otr-engine generate --model PATH --prompt TEXT [--max-tokens N] [--seed S] ...`
//! Prints the generated text, then the token ids, weights root and trace root.

use clap::{Parser, Subcommand};
use otr_engine::{default_cache_dir, Kernel, LoadOptions, Model, Sampling};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "otr-engine",
    about = "Deterministic integer LLM inference (OTR)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a completion.
    Generate {
        /// GGUF file (default: the Gemma 3 270M file fetched by scripts/fetch-model.sh).
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        prompt: String,
        /// Wrap the prompt in the Gemma chat template.
        #[arg(long)]
        chat: bool,
        #[arg(long, default_value_t = 32)]
        max_tokens: u32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Temperature in thousandths (0 = greedy).
        #[arg(long, default_value_t = 0)]
        temperature_milli: u32,
        #[arg(long, default_value_t = 0)]
        top_k: u32,
        #[arg(long, default_value_t = 1000)]
        top_p_milli: u32,
        #[arg(long)]
        threads: Option<usize>,
        /// Use the scalar reference kernel (same as `--kernel scalar`).
        #[arg(long)]
        scalar: bool,
        /// Matrix kernel: best (the fastest this CPU runs), scalar, avx2, avx512. Every kernel
        /// gives the same bits; one the CPU lacks falls back to scalar.
        #[arg(long, default_value = "best", value_parser = ["best", "scalar", "avx2", "avx512"])]
        kernel: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

fn main() {
    let Cmd::Generate {
        model,
        prompt,
        chat,
        max_tokens,
        seed,
        temperature_milli,
        top_k,
        top_p_milli,
        threads,
        scalar,
        kernel,
        json,
        cache_dir,
    } = Cli::parse().cmd;
    let cache = cache_dir.unwrap_or_else(default_cache_dir);
    let path = model.unwrap_or_else(|| cache.join("gemma-3-270m-q4_k_m.gguf"));
    let mut opts = LoadOptions::default();
    if let Some(t) = threads {
        opts.threads = t.max(1);
    }
    opts.kernel = match kernel.as_str() {
        "scalar" => Kernel::Scalar,
        "avx2" => Kernel::Avx2,
        "avx512" => Kernel::Avx512,
        _ => Kernel::best(),
    };
    if scalar {
        opts.kernel = Kernel::Scalar;
    }
    let t0 = Instant::now();
    let m = match Model::load_with(&path, &cache, opts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            std::process::exit(1);
        }
    };
    let load_s = t0.elapsed().as_secs_f64();
    let text = if chat {
        otr_engine::tokenizer::gemma_chat_prompt(&prompt)
    } else {
        prompt.clone()
    };
    let ids = m.tokenizer().encode(&text, true, true);
    let s = Sampling {
        temperature_milli,
        top_k,
        top_p_milli,
        max_tokens,
        seed,
    };
    let t1 = Instant::now();
    let mut first: Option<f64> = None;
    let mut out_text = String::new();
    let r = m.generate(&ids, &s, &mut |_, piece| {
        first.get_or_insert_with(|| t1.elapsed().as_secs_f64());
        out_text.push_str(piece);
        if !json {
            print!("{piece}");
            let _ = std::io::stdout().flush();
        }
        true
    });
    let g = match r {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            std::process::exit(1);
        }
    };
    let total = t1.elapsed().as_secs_f64();
    let prefill = first.unwrap_or(total);
    let decode_tps = if g.completion_tokens > 1 {
        (g.completion_tokens - 1) as f64 / (total - prefill).max(1e-9)
    } else {
        0.0
    };
    let info = m.info();
    if json {
        println!(
            "{{\"text\":{},\"prompt_tokens\":{},\"completion_tokens\":{},\"tokens\":{:?},\"finish_reason\":\"{:?}\",\"weights_root\":\"{}\",\"tokenizer_hash\":\"{}\",\"trace_root\":\"{}\",\"trace_steps\":{}}}",
            json_string(&out_text),
            g.prompt_tokens,
            g.completion_tokens,
            g.tokens,
            g.finish_reason,
            hex::encode(info.weights_root),
            hex::encode(info.tokenizer_hash),
            hex::encode(g.trace_root),
            g.trace_steps
        );
    } else {
        println!();
        println!("tokens: {:?}", g.tokens);
        println!("finish: {:?}", g.finish_reason);
        println!("weights root: {}", hex::encode(info.weights_root));
        println!(
            "trace root: {} ({} steps)",
            hex::encode(g.trace_root),
            g.trace_steps
        );
    }
    eprintln!(
        "load {load_s:.2}s; prefill {} tokens in {prefill:.2}s ({:.1} tok/s); decode {:.1} tok/s; {} thread(s), {:?} kernel",
        g.prompt_tokens,
        g.prompt_tokens as f64 / prefill.max(1e-9),
        decode_tps,
        m_threads(&m),
        m_kernel(&m)
    );
}

fn m_threads(m: &Model) -> usize {
    m.exec_threads()
}

fn m_kernel(m: &Model) -> Kernel {
    m.exec_kernel()
}

/// `s` as a JSON string literal (RFC 8259: quote, backslash and control characters escaped).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

//! otr-engine for wasm32-unknown-unknown, with one wasm-bindgen export: [`generate`] loads a
//! GGUF file from bytes (converted in memory, no cache), encodes a prompt and generates, and
//! returns the result as JSON. `engine/wasm/test.mjs` runs it under Node and checks that the
//! tokens, weights root and trace root equal those of the native build.

use otr_engine::{Kernel, LoadOptions, Model, Sampling};
use wasm_bindgen::prelude::*;

/// Whether this module was built with the simd128 kernel.
#[wasm_bindgen]
pub fn has_simd128() -> bool {
    Kernel::Simd128.available()
}

/// The GGUF bytes of fixture model `name` (`tiny-gemma3`, `tiny-llama`), made by the committed
/// generator (`otr_engine::fixture::make_tiny`) inside the module; empty for an unknown name.
/// The test checks them against the SHA-256 in the committed manifest.
#[wasm_bindgen]
pub fn fixture_gguf(name: &str) -> Vec<u8> {
    otr_engine::fixture::specs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, spec)| otr_engine::fixture::make_tiny(&spec))
        .unwrap_or_default()
}

/// Loads `gguf`, encodes `prompt` (BOS added, special tokens parsed, as the native command line
/// does) and generates with the given sampling parameters. `kernel`: `"scalar"` or
/// `"simd128"`. Returns a JSON object: `prompt_tokens`, `tokens`, `finish_reason`,
/// `weights_root`, `tokenizer_hash`, `trace_root`, `trace_steps`, `kernel`; or
/// `{"error": CODE, "message": TEXT}` (codes of `EngineError::code`, or `REQUEST_INVALID`).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn generate(
    gguf: &[u8],
    prompt: &str,
    max_tokens: u32,
    temperature_milli: u32,
    top_k: u32,
    top_p_milli: u32,
    seed: u64,
    kernel: &str,
) -> String {
    let s = Sampling {
        temperature_milli,
        top_k,
        top_p_milli,
        max_tokens,
        seed,
    };
    match run(gguf, prompt, s, kernel) {
        Ok(j) => j,
        Err((code, msg)) => format!("{{\"error\":{code:?},\"message\":{msg:?}}}"),
    }
}

fn run(
    gguf: &[u8],
    prompt: &str,
    s: Sampling,
    kernel: &str,
) -> Result<String, (&'static str, String)> {
    let kernel = match kernel {
        "scalar" => Kernel::Scalar,
        "simd128" if Kernel::Simd128.available() => Kernel::Simd128,
        k => return Err(("REQUEST_INVALID", format!("kernel {k:?} is not available"))),
    };
    let opts = LoadOptions {
        threads: 1,
        kernel,
        verbose: false,
    };
    let m = Model::from_gguf_bytes(gguf, opts).map_err(|e| (e.code(), e.to_string()))?;
    let ids = m.tokenizer().encode(prompt, true, true);
    let g = m
        .generate(&ids, &s, &mut |_, _| true)
        .map_err(|e| (e.code(), e.to_string()))?;
    let info = m.info();
    Ok(format!(
        "{{\"prompt_tokens\":{:?},\"tokens\":{:?},\"finish_reason\":\"{:?}\",\"weights_root\":\"{}\",\"tokenizer_hash\":\"{}\",\"trace_root\":\"{}\",\"trace_steps\":{},\"kernel\":\"{:?}\"}}",
        ids,
        g.tokens,
        g.finish_reason,
        hex(&info.weights_root),
        hex(&info.tokenizer_hash),
        hex(&g.trace_root),
        g.trace_steps,
        m.exec_kernel()
    ))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

//! Writes the tiny fixture models to `fixtures/models/<name>/` (model.gguf + manifest.json)
//! from the fixed seeds in `otr_engine::fixture`, runs each once and records the expected
//! outputs. `--check` compares instead of writing (exit 1 on any difference).

use otr_engine::fixture::{make_tiny, specs};
use otr_engine::{LoadOptions, Model, Sampling};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The prompt the manifests record.
pub const PROMPT: &str = "the eiffel tower is in the city of";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let check = args.iter().any(|a| a == "--check");
    let root = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models"));
    let cache = std::env::temp_dir().join(format!("otr-fixture-cache-{}", std::process::id()));
    let mut ok = true;
    for (name, spec) in specs() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("create fixture dir");
        let bytes = make_tiny(&spec);
        let gguf = dir.join("model.gguf");
        if check {
            if std::fs::read(&gguf).ok().as_deref() != Some(&bytes[..]) {
                eprintln!("{name}: model.gguf differs from the generator's output");
                ok = false;
            }
        } else {
            std::fs::write(&gguf, &bytes).expect("write model.gguf");
        }
        let tmp = cache.join(format!("{name}.gguf"));
        std::fs::create_dir_all(&cache).expect("cache dir");
        std::fs::write(&tmp, &bytes).expect("write temp gguf");
        let opts = LoadOptions {
            verbose: false,
            ..LoadOptions::default()
        };
        let m = Model::load_with(&tmp, &cache, opts).expect("load fixture");
        let ids = m.tokenizer().encode(PROMPT, true, false);
        let greedy = m
            .generate(&ids, &Sampling::greedy(8), &mut |_, _| true)
            .expect("greedy");
        let sampled_params = Sampling {
            temperature_milli: 800,
            top_k: 20,
            top_p_milli: 900,
            max_tokens: 8,
            seed: 7,
        };
        let sampled = m
            .generate(&ids, &sampled_params, &mut |_, _| true)
            .expect("sampled");
        let info = m.info();
        let manifest = format!(
            r#"{{
  "name": "{name}",
  "made_by": "cargo run -p otr-engine --bin make-fixture-model (otr_engine::fixture::make_tiny, SplitMix64 seed {seed:#x})",
  "arch": "{arch}",
  "layers": {layers},
  "d_model": {d},
  "gguf_sha256": "{sha}",
  "weights_root": "{wr}",
  "tokenizer_hash": "{th}",
  "prompt": "{PROMPT}",
  "prompt_tokens": {ids:?},
  "greedy": {{ "max_tokens": 8, "tokens": {gt:?}, "trace_root": "{gr}", "trace_steps": {gs} }},
  "sampled": {{ "temperature_milli": 800, "top_k": 20, "top_p_milli": 900, "seed": 7, "max_tokens": 8, "tokens": {st:?}, "trace_root": "{sr}", "trace_steps": {ss} }}
}}
"#,
            seed = spec.seed,
            arch = spec.arch.name(),
            layers = spec.layers,
            d = spec.d_model,
            sha = hex::encode(Sha256::digest(&bytes)),
            wr = hex::encode(info.weights_root),
            th = hex::encode(info.tokenizer_hash),
            gt = greedy.tokens,
            gr = hex::encode(greedy.trace_root),
            gs = greedy.trace_steps,
            st = sampled.tokens,
            sr = hex::encode(sampled.trace_root),
            ss = sampled.trace_steps,
        );
        let mpath = dir.join("manifest.json");
        if check {
            if std::fs::read_to_string(&mpath).ok().as_deref() != Some(&manifest[..]) {
                eprintln!("{name}: manifest.json differs from a fresh run");
                ok = false;
            }
        } else {
            std::fs::write(&mpath, manifest).expect("write manifest");
            println!("wrote {} ({} bytes)", gguf.display(), bytes.len());
        }
    }
    let _ = std::fs::remove_dir_all(&cache);
    if !ok {
        std::process::exit(1);
    }
}

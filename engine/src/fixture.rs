//! Tiny self-made models for tests: GGUF files of the `gemma3` and `llama` shapes, generated
//! from a fixed seed (SplitMix64) by exact f64 arithmetic, so the bytes are reproducible on any
//! machine. `cargo run -p otr-engine --bin make-fixture-model` writes them to
//! `fixtures/models/`; the tests check the committed files against this generator.

use crate::gguf::writer::GgufWriter;
use crate::gguf::{GgmlType, Value};
use crate::model::Arch;
use crate::rng::SplitMix;

/// Words of the fixture vocabulary (each also gets a `▁`-prefixed token).
const WORDS: &[&str] = &[
    "the", "tower", "is", "in", "city", "of", "paris", "france", "a", "an", "and", "to", "it",
    "located", "eiffel", "big", "small", "red", "blue", "model", "user", "hello", "world", "yes",
    "no", "one", "two", "three", "cat", "dog", "sun", "moon", "river", "tree", "house", "bread",
    "water", "light", "night", "day", "on", "at", "by", "we", "you", "they", "he", "she", "th",
    "er", "on", "an", "re", "in", "ed", "nd", "ha", "at", "en", "es", "or", "te",
];

/// The fixture's shape parameters.
#[derive(Clone, Copy, Debug)]
pub struct TinySpec {
    pub arch: Arch,
    pub layers: usize,
    pub d_model: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub seed: u64,
}

/// The two fixtures (their manifests are committed; the GGUF bytes are generated).
pub fn specs() -> [(&'static str, TinySpec); 2] {
    [
        (
            "tiny-gemma3",
            TinySpec {
                arch: Arch::Gemma3,
                layers: 6,
                d_model: 64,
                heads: 2,
                kv_heads: 1,
                head_dim: 32,
                ffn: 256,
                seed: 0x07e5_6e33_a301,
            },
        ),
        (
            "tiny-llama",
            TinySpec {
                arch: Arch::Llama,
                layers: 4,
                d_model: 64,
                heads: 4,
                kv_heads: 2,
                head_dim: 16,
                ffn: 256,
                seed: 0x07e5_11a3_a402,
            },
        ),
    ]
}

/// The fixture vocabulary: control tokens, 256 byte tokens, `▁`, printable ASCII, words.
pub fn vocab() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut toks: Vec<String> = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut types = vec![3i32; toks.len()];
    toks.push("\n".into());
    types.push(4);
    for b in 0..256 {
        toks.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    let mut normal: Vec<String> = vec!["\u{2581}".into()];
    for c in 33u8..127 {
        normal.push((c as char).to_string());
    }
    for w in WORDS {
        for cand in [w.to_string(), format!("\u{2581}{w}")] {
            if !normal.contains(&cand) {
                normal.push(cand);
            }
        }
    }
    // Every prefix of a ▁word, so the BPE merges can reach whole words.
    for w in WORDS {
        let full: Vec<char> = format!("\u{2581}{w}").chars().collect();
        for n in 2..full.len() {
            let p: String = full[..n].iter().collect();
            if !normal.contains(&p) {
                normal.push(p);
            }
        }
    }
    let mut scores = vec![0.0f32; toks.len()];
    for (i, t) in normal.into_iter().enumerate() {
        toks.push(t);
        types.push(1);
        scores.push(-(i as f32));
    }
    (toks, scores, types)
}

/// The GGUF bytes of a fixture.
pub fn make_tiny(spec: &TinySpec) -> Vec<u8> {
    let mut r = SplitMix(spec.seed);
    let (toks, scores, types) = vocab();
    let vocab = toks.len();
    let a = spec.arch.name();
    let mut w = GgufWriter::new();
    w.kv("general.architecture", Value::Str(a.into()))
        .kv("general.name", Value::Str(format!("otr tiny {a} fixture")))
        .kv(&format!("{a}.context_length"), Value::U32(256))
        .kv(
            &format!("{a}.embedding_length"),
            Value::U32(spec.d_model as u32),
        )
        .kv(&format!("{a}.block_count"), Value::U32(spec.layers as u32))
        .kv(
            &format!("{a}.feed_forward_length"),
            Value::U32(spec.ffn as u32),
        )
        .kv(
            &format!("{a}.attention.head_count"),
            Value::U32(spec.heads as u32),
        )
        .kv(
            &format!("{a}.attention.head_count_kv"),
            Value::U32(spec.kv_heads as u32),
        )
        .kv(
            &format!("{a}.attention.key_length"),
            Value::U32(spec.head_dim as u32),
        )
        .kv(
            &format!("{a}.attention.value_length"),
            Value::U32(spec.head_dim as u32),
        )
        .kv(
            &format!("{a}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-6),
        )
        .kv(&format!("{a}.rope.freq_base"), Value::F32(1_000_000.0));
    if spec.arch == Arch::Gemma3 {
        w.kv(&format!("{a}.attention.sliding_window"), Value::U32(4));
    }
    w.kv("tokenizer.ggml.model", Value::Str("llama".into()))
        .kv(
            "tokenizer.ggml.tokens",
            Value::Array(toks.into_iter().map(Value::Str).collect()),
        )
        .kv(
            "tokenizer.ggml.scores",
            Value::Array(scores.into_iter().map(Value::F32).collect()),
        )
        .kv(
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(Value::I32).collect()),
        )
        .kv("tokenizer.ggml.bos_token_id", Value::U32(2))
        .kv("tokenizer.ggml.eos_token_id", Value::U32(1))
        .kv("tokenizer.ggml.add_bos_token", Value::Bool(true))
        .kv("tokenizer.ggml.add_space_prefix", Value::Bool(false));
    let d = spec.d_model;
    let (qd, kd) = (spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim);
    let mat = |w: &mut GgufWriter,
               r: &mut SplitMix,
               name: &str,
               rows: usize,
               cols: usize,
               t: GgmlType,
               amp: f64| {
        let v: Vec<f64> = (0..rows * cols).map(|_| r.unit() * amp).collect();
        w.tensor(name, &[cols as u64, rows as u64], t, &v);
    };
    let norm = |w: &mut GgufWriter, r: &mut SplitMix, name: &str, n: usize| {
        let v: Vec<f64> = (0..n).map(|_| 1.0 + 0.25 * r.unit()).collect();
        w.tensor(name, &[n as u64], GgmlType::F32, &v);
    };
    let gemma = spec.arch == Arch::Gemma3;
    // Gemma scales embeddings by sqrt(d) and ties the output: keep them small so that the
    // blocks, not the input token, decide the next token.
    let embd_amp = if gemma { 0.08 } else { 1.0 };
    mat(
        &mut w,
        &mut r,
        "token_embd.weight",
        vocab,
        d,
        GgmlType::Q8_0,
        embd_amp,
    );
    let fan = |n: usize| 1.7 / (n as f64).sqrt();
    for l in 0..spec.layers {
        let p = format!("blk.{l}.");
        mat(
            &mut w,
            &mut r,
            &format!("{p}attn_q.weight"),
            qd,
            d,
            GgmlType::Q5_0,
            fan(d),
        );
        mat(
            &mut w,
            &mut r,
            &format!("{p}attn_k.weight"),
            kd,
            d,
            GgmlType::Q8_0,
            fan(d),
        );
        mat(
            &mut w,
            &mut r,
            &format!("{p}attn_v.weight"),
            kd,
            d,
            GgmlType::Q8_0,
            fan(d),
        );
        mat(
            &mut w,
            &mut r,
            &format!("{p}attn_output.weight"),
            d,
            qd,
            GgmlType::F16,
            fan(qd),
        );
        mat(
            &mut w,
            &mut r,
            &format!("{p}ffn_gate.weight"),
            spec.ffn,
            d,
            GgmlType::Q5_0,
            fan(d),
        );
        mat(
            &mut w,
            &mut r,
            &format!("{p}ffn_up.weight"),
            spec.ffn,
            d,
            GgmlType::Q8_0,
            fan(d),
        );
        let dt = if l % 2 == 0 {
            GgmlType::Q4K
        } else {
            GgmlType::Q6K
        };
        mat(
            &mut w,
            &mut r,
            &format!("{p}ffn_down.weight"),
            d,
            spec.ffn,
            dt,
            fan(spec.ffn),
        );
        norm(&mut w, &mut r, &format!("{p}attn_norm.weight"), d);
        norm(&mut w, &mut r, &format!("{p}ffn_norm.weight"), d);
        if gemma {
            norm(
                &mut w,
                &mut r,
                &format!("{p}attn_q_norm.weight"),
                spec.head_dim,
            );
            norm(
                &mut w,
                &mut r,
                &format!("{p}attn_k_norm.weight"),
                spec.head_dim,
            );
            norm(&mut w, &mut r, &format!("{p}post_attention_norm.weight"), d);
            norm(&mut w, &mut r, &format!("{p}post_ffw_norm.weight"), d);
        }
    }
    let v: Vec<f64> = (0..d).map(|_| 1.0 + 0.25 * r.unit()).collect();
    w.tensor("output_norm.weight", &[d as u64], GgmlType::F32, &v);
    if !gemma {
        let v: Vec<f64> = (0..vocab * d).map(|_| r.unit() * fan(d)).collect();
        w.tensor(
            "output.weight",
            &[d as u64, vocab as u64],
            GgmlType::Q8_0,
            &v,
        );
    }
    w.finish()
}

/// The path of fixture `name`'s GGUF under `fixtures_dir` (normally `<repo>/fixtures/models`),
/// generating it first when it is missing. The GGUF files are not committed: they are made here,
/// deterministically, and must hash to the `gguf_sha256` their committed manifest names.
pub fn ensure(fixtures_dir: &std::path::Path, name: &str) -> Result<std::path::PathBuf, String> {
    use sha2::{Digest, Sha256};
    let spec = specs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s)
        .ok_or_else(|| format!("no fixture model named {name}"))?;
    let dir = fixtures_dir.join(name);
    let path = dir.join("model.gguf");
    let manifest = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| format!("{}: {e}", dir.join("manifest.json").display()))?;
    let want = manifest
        .split("\"gguf_sha256\":")
        .nth(1)
        .and_then(|r| r.split('"').nth(1))
        .ok_or_else(|| format!("{name}: manifest has no gguf_sha256"))?
        .to_string();
    // One writer at a time in this process; across processes, each writes its own temporary file
    // and renames it into place atomically.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let have = std::fs::read(&path)
        .ok()
        .map(|b| hex::encode(Sha256::digest(&b)));
    if have.as_deref() != Some(want.as_str()) {
        let bytes = make_tiny(&spec);
        let got = hex::encode(Sha256::digest(&bytes));
        if got != want {
            return Err(format!(
                "{name}: the generator made sha256 {got}, the manifest says {want}"
            ));
        }
        // Write to a temporary name first: concurrent tests may ask for the same file.
        let tmp = dir.join(format!("model.gguf.{}.tmp", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(path)
}

/// The fixture folder of this repository (`fixtures/models`).
pub fn repo_fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models")
}

/// Loads fixture model `name` of this repository (generated on first use, see [`ensure`])
/// straight from its bytes, without the converted-model cache: for tests.
pub fn load(
    name: &str,
    opts: crate::LoadOptions,
) -> Result<crate::Model, crate::error::EngineError> {
    let dir = repo_fixtures_dir();
    let path = ensure(&dir, name).map_err(|e| crate::error::EngineError::io(&dir, e))?;
    let bytes = std::fs::read(&path).map_err(|e| crate::error::EngineError::io(&path, e))?;
    crate::Model::from_gguf_bytes(&bytes, opts)
}

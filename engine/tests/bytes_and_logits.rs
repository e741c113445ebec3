//! `Model::from_gguf_bytes` (the in-memory load used by the wasm build) and
//! `Model::teacher_forced_logits` (used by the quality benchmark), on the tiny fixture models.

use otr_engine::fixture::{make_tiny, specs};
use otr_engine::{Kernel, LoadOptions, Model, Sampling};

fn opts() -> LoadOptions {
    LoadOptions {
        threads: 1,
        kernel: Kernel::Scalar,
        verbose: false,
    }
}

/// Greedy choice as the sampler makes it: largest logit, smallest id on ties.
fn argmax(l: &[i64]) -> u32 {
    let mut best = 0;
    for (i, &v) in l.iter().enumerate() {
        if v > l[best] {
            best = i;
        }
    }
    best as u32
}

#[test]
fn bytes_load_equals_file_load() {
    for (name, spec) in specs() {
        let bytes = make_tiny(&spec);
        let dir =
            std::env::temp_dir().join(format!("otr-bytes-load-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.gguf");
        std::fs::write(&path, &bytes).unwrap();
        let a = Model::load_with(&path, &dir, opts()).unwrap();
        let b = Model::from_gguf_bytes(&bytes, opts()).unwrap();
        assert_eq!(a.info().weights_root, b.info().weights_root, "{name}");
        assert_eq!(a.info().gguf_sha256, b.info().gguf_sha256, "{name}");
        let ids = a
            .tokenizer()
            .encode("the red cat and the blue dog", true, false);
        let s = Sampling::greedy(12);
        let ga = a.generate(&ids, &s, &mut |_, _| true).unwrap();
        let gb = b.generate(&ids, &s, &mut |_, _| true).unwrap();
        assert_eq!(ga, gb, "{name}");
        std::fs::remove_dir_all(&dir).unwrap();
        // Bad bytes are a typed error.
        let e = Model::from_gguf_bytes(&bytes[..100], opts()).unwrap_err();
        assert_eq!(e.code(), "GGUF_FORMAT");
    }
}

#[test]
fn teacher_forced_logits_match_greedy_generation() {
    for (name, spec) in specs() {
        let m = Model::from_gguf_bytes(&make_tiny(&spec), opts()).unwrap();
        let prompt = m
            .tokenizer()
            .encode("the eiffel tower is in the city of", true, false);
        let g = m
            .generate(&prompt, &Sampling::greedy(10), &mut |_, _| true)
            .unwrap();
        let mut seq = prompt.clone();
        seq.extend_from_slice(&g.tokens);
        let logits = m.teacher_forced_logits(&seq).unwrap();
        assert_eq!(logits.len(), seq.len());
        // The logits after the prompt and after each generated token give the generated tokens.
        for (i, &t) in g.tokens.iter().enumerate() {
            assert_eq!(argmax(&logits[prompt.len() - 1 + i]), t, "{name} token {i}");
        }
        assert!(m.teacher_forced_logits(&[]).is_err());
        assert!(m.teacher_forced_logits(&[u32::MAX]).is_err());
    }
}

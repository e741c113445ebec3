//! Fast tests of both architectures on the tiny self-made models in `fixtures/models/`.

use otr_engine::fixture::{make_tiny, specs};
use otr_engine::model::trace::{head_op, layer_op};
use otr_engine::{EngineError, FinishReason, Kernel, LoadOptions, Model, Sampling, StepTensor};
use serde_json::Value;
use std::path::{Path, PathBuf};

const NAMES: [&str; 2] = ["tiny-gemma3", "tiny-llama"];

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models")
        .join(name)
}

/// The fixture's GGUF, generated on first use (not committed; its SHA-256 is in the manifest).
fn model_path(name: &str) -> PathBuf {
    otr_engine::fixture::ensure(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models"),
        name,
    )
    .unwrap()
}

fn manifest(name: &str) -> Value {
    let s = std::fs::read_to_string(fixture_dir(name).join("manifest.json")).unwrap();
    serde_json::from_str(&s).unwrap()
}

fn temp_cache(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("otr-engine-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn load(name: &str, tag: &str, kernel: Kernel, threads: usize) -> Model {
    let opts = LoadOptions {
        threads,
        kernel,
        verbose: false,
    };
    Model::load_with(&model_path(name), &temp_cache(tag), opts).unwrap()
}

fn tokens(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn sampled_params(m: &Value) -> Sampling {
    let s = &m["sampled"];
    Sampling {
        temperature_milli: s["temperature_milli"].as_u64().unwrap() as u32,
        top_k: s["top_k"].as_u64().unwrap() as u32,
        top_p_milli: s["top_p_milli"].as_u64().unwrap() as u32,
        max_tokens: s["max_tokens"].as_u64().unwrap() as u32,
        seed: s["seed"].as_u64().unwrap(),
    }
}

#[test]
fn fixture_files_match_the_generator() {
    for (name, spec) in specs() {
        let bytes = make_tiny(&spec);
        assert!(bytes.len() < 5 << 20);
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(
            manifest(name)["gguf_sha256"].as_str().unwrap(),
            sha,
            "{name}: the generator no longer reproduces the manifest (run make-fixture-model)"
        );
    }
}

#[test]
fn generations_match_the_manifests() {
    for name in NAMES {
        let man = manifest(name);
        let m = load(name, &format!("manifest-{name}"), Kernel::best(), 2);
        let info = m.info();
        assert_eq!(
            hex::encode(info.weights_root),
            man["weights_root"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(info.tokenizer_hash),
            man["tokenizer_hash"].as_str().unwrap()
        );
        let ids = m
            .tokenizer()
            .encode(man["prompt"].as_str().unwrap(), true, false);
        assert_eq!(ids, tokens(&man["prompt_tokens"]));
        for (which, s) in [
            ("greedy", Sampling::greedy(8)),
            ("sampled", sampled_params(&man)),
        ] {
            let g = m.generate(&ids, &s, &mut |_, _| true).unwrap();
            assert_eq!(g.tokens, tokens(&man[which]["tokens"]), "{name} {which}");
            assert_eq!(
                hex::encode(g.trace_root),
                man[which]["trace_root"].as_str().unwrap()
            );
            assert_eq!(g.trace_steps, man[which]["trace_steps"].as_u64().unwrap());
            assert_eq!(g.prompt_tokens as usize, ids.len());
            assert_eq!(g.completion_tokens as usize, g.tokens.len());
        }
    }
}

#[test]
fn identical_for_any_thread_count_and_kernel() {
    for name in NAMES {
        let man = manifest(name);
        let s = sampled_params(&man);
        let ids = tokens(&man["prompt_tokens"]);
        let mut results = Vec::new();
        for (k, t) in [
            (Kernel::Scalar, 1),
            (Kernel::Avx2, 2),
            (Kernel::best(), 1),
            (Kernel::best(), 2),
            (Kernel::Scalar, 3),
        ] {
            let m = load(name, &format!("threads-{name}-{k:?}-{t}"), k, t);
            assert_eq!(m.exec_threads(), t);
            let g = m.generate(&ids, &s, &mut |_, _| true).unwrap();
            results.push((g.tokens, g.trace_root, g.trace_steps));
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "{name}");
    }
}

#[test]
fn greedy_is_reproducible_and_seed_changes_sampling() {
    let m = load("tiny-llama", "repro", Kernel::best(), 2);
    let ids = m.tokenizer().encode("hello world", true, false);
    let a = m
        .generate(&ids, &Sampling::greedy(6), &mut |_, _| true)
        .unwrap();
    let b = m
        .generate(&ids, &Sampling::greedy(6), &mut |_, _| true)
        .unwrap();
    assert_eq!(a, b);
    let s = |seed| Sampling {
        temperature_milli: 1500,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 6,
        seed,
    };
    let x = m.generate(&ids, &s(1), &mut |_, _| true).unwrap();
    assert_eq!(x, m.generate(&ids, &s(1), &mut |_, _| true).unwrap());
    let y = m.generate(&ids, &s(2), &mut |_, _| true).unwrap();
    assert_ne!(x.trace_root, y.trace_root);
}

#[test]
fn cache_is_reused_and_corruption_is_repaired() {
    let dir = temp_cache("cache");
    let path = model_path("tiny-gemma3");
    let opts = LoadOptions {
        verbose: false,
        ..LoadOptions::default()
    };
    let a = Model::load_with(&path, &dir, opts).unwrap();
    let cache = a.info().cache_path.clone();
    assert!(cache.exists());
    let b = Model::load_with(&path, &dir, opts).unwrap();
    assert_eq!(a.info().weights_root, b.info().weights_root);
    // Flip one byte: the checksum fails, the model is converted again, same root.
    let mut bytes = std::fs::read(&cache).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&cache, &bytes).unwrap();
    assert_eq!(
        otr_engine::convert::cache::read(&cache, &a.info().gguf_sha256)
            .unwrap_err()
            .code(),
        "MODEL_CACHE_CORRUPT"
    );
    let c = Model::load_with(&path, &dir, opts).unwrap();
    assert_eq!(a.info().weights_root, c.info().weights_root);
}

#[test]
fn steps_replay_from_their_inputs() {
    for name in NAMES {
        let m = load(name, &format!("replay-{name}"), Kernel::best(), 1);
        let man = manifest(name);
        let ids = tokens(&man["prompt_tokens"]);
        let s = sampled_params(&man);
        let g = m.generate(&ids, &s, &mut |_, _| true).unwrap();
        let n = g.trace_steps;
        let mut seen_ops = std::collections::BTreeSet::new();
        for i in [
            0,
            1,
            2,
            5,
            7,
            8,
            9,
            12,
            13,
            15,
            16,
            n / 2,
            n - 3,
            n - 2,
            n - 1,
        ] {
            let rec = m.step_input(&ids, &s, i).unwrap();
            assert_eq!(rec.index, i);
            let out = m.replay_step(&rec).unwrap();
            assert_eq!(out, rec.output);
            seen_ops.insert((rec.key.stage == 0, rec.key.op));
            // A tampered input no longer reproduces the output.
            let mut bad = rec.clone();
            match bad.inputs.last_mut() {
                Some(StepTensor::Wide(v)) => v[0] = v[0].wrapping_add(1 << 40),
                Some(StepTensor::Act(a)) => a.q[0] = a.q[0].wrapping_add(1000),
                Some(StepTensor::Acts(a)) => a[0].q[0] = a[0].q[0].wrapping_add(1000),
                Some(StepTensor::Token(t)) => *t = (*t + 1) % 100,
                None => unreachable!(),
            }
            if rec.key.op != head_op::SAMPLE {
                assert!(
                    matches!(m.replay_step(&bad), Err(EngineError::ReplayMismatch { .. })),
                    "{name} step {i} {:?}",
                    rec.key
                );
            }
        }
        assert!(seen_ops.contains(&(false, layer_op::ATTN)));
        assert!(matches!(
            m.step_input(&ids, &s, n),
            Err(EngineError::StepOutOfRange { .. })
        ));
    }
}

#[test]
fn invalid_requests_and_cancellation() {
    let m = load("tiny-gemma3", "invalid", Kernel::best(), 1);
    let code =
        |r: Result<_, EngineError>| r.map(|_: otr_engine::Generation| ()).unwrap_err().code();
    assert_eq!(
        code(m.generate(&[], &Sampling::greedy(4), &mut |_, _| true)),
        "REQUEST_INVALID"
    );
    assert_eq!(
        code(m.generate(&[2], &Sampling::greedy(0), &mut |_, _| true)),
        "REQUEST_INVALID"
    );
    assert_eq!(
        code(m.generate(&[2, 1 << 30], &Sampling::greedy(4), &mut |_, _| true)),
        "REQUEST_INVALID"
    );
    assert_eq!(
        code(m.generate(&[2], &Sampling::greedy(100_000), &mut |_, _| true)),
        "REQUEST_INVALID"
    );
    let mut n = 0;
    let g = m
        .generate(&[2, 400], &Sampling::greedy(8), &mut |_, _| {
            n += 1;
            n < 2
        })
        .unwrap();
    assert_eq!(g.finish_reason, FinishReason::Cancelled);
    assert_eq!(g.tokens.len(), 2);
}

#[test]
fn chat_template_tokenizes_control_tokens() {
    let m = load("tiny-gemma3", "chat", Kernel::best(), 1);
    let t = m.tokenizer();
    let ids = t.encode(
        &otr_engine::tokenizer::gemma_chat_prompt("hello"),
        true,
        true,
    );
    let sot = t.token_id("<start_of_turn>").unwrap();
    let eot = t.token_id("<end_of_turn>").unwrap();
    assert_eq!(ids[0], 2);
    assert_eq!(ids[1], sot);
    assert_eq!(ids.iter().filter(|&&x| x == sot).count(), 2);
    assert!(ids.contains(&eot));
    assert!(m.stop_tokens().contains(&eot));
}

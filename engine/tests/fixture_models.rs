//! Fast tests of both architectures on the tiny self-made models in `fixtures/models/`.

use otr_engine::fixture::{make_tiny, specs};
use otr_engine::model::trace::{embed_op, head_op, layer_op, layout_index, layout_steps, StepKey};
use otr_engine::{
    DevFault, EngineError, FinishReason, Kernel, LoadOptions, Model, Sampling, StepTensor,
};
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
            // The `PROMPT` leaf opens at index 0 of the trace, and says the prompt's text.
            let key = otr_engine::StepKey {
                pos: 0,
                stage: 0,
                op: otr_engine::model::trace::embed_op::PROMPT,
            };
            let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&g.prompt_leaf).into();
            let leaf = otr_engine::model::trace::leaf(key, &digest);
            otr_core::rollup::merkle::verify_inclusion(
                &leaf,
                0,
                g.trace_steps,
                &g.prompt_path,
                &g.trace_root,
            )
            .unwrap();
            let text = m.tokenizer().prompt_text(&ids);
            assert_eq!(
                g.prompt_leaf,
                otr_engine::model::trace::prompt_bytes(&text, &ids)
            );
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
            if i == 0 {
                // The prompt step is the run's input: its output is the prompt, nothing replays it.
                assert_eq!(
                    rec.key,
                    StepKey {
                        pos: 0,
                        stage: 0,
                        op: embed_op::PROMPT
                    }
                );
                assert_eq!(
                    rec.output,
                    StepTensor::Prompt {
                        text: m.tokenizer().prompt_text(&ids),
                        ids: ids.clone()
                    }
                );
                assert!(matches!(
                    m.replay_step(&rec),
                    Err(EngineError::InvalidRequest(_))
                ));
                continue;
            }
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
                Some(StepTensor::Prompt { ids: p, .. }) => {
                    let t = &mut p[rec.key.pos as usize];
                    *t = (*t + 1) % 100
                }
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

/// Every leaf of a run sits where `layout_index` says (what the dispute game checks before it
/// lets a step end without a contest), for both architectures, greedy and sampled, a one-token
/// prompt, and a run stopped early.
#[test]
fn trace_layout_is_the_closed_form() {
    for name in NAMES {
        let m = load(name, &format!("layout-{name}"), Kernel::best(), 1);
        let man = manifest(name);
        let nl = m.config().n_layers as u16;
        let ids = tokens(&man["prompt_tokens"]);
        for (prompt, s) in [
            (ids.clone(), Sampling::greedy(5)),
            (ids.clone(), sampled_params(&man)),
            (vec![ids[0]], Sampling::greedy(3)),
            (ids.clone(), Sampling::greedy(1)),
        ] {
            let (g, steps) = m.trace_steps(&prompt, &s, &mut |_, _| true).unwrap();
            assert_eq!(
                layout_steps(g.prompt_tokens, g.completion_tokens, nl),
                steps.len() as u64,
                "{name}"
            );
            for (i, (k, _)) in steps.iter().enumerate() {
                assert_eq!(
                    layout_index(*k, g.prompt_tokens, nl),
                    Some(i as u64),
                    "{name} {k:?}"
                );
            }
            // Keys no run has.
            let p = g.prompt_tokens;
            let none = [
                StepKey {
                    pos: 1,
                    stage: 0,
                    op: embed_op::PROMPT,
                },
                StepKey {
                    pos: 0,
                    stage: 0,
                    op: 2,
                },
                StepKey {
                    pos: 0,
                    stage: 1,
                    op: layer_op::COUNT,
                },
                StepKey {
                    pos: p.saturating_sub(2),
                    stage: nl + 1,
                    op: head_op::SAMPLE,
                },
                StepKey {
                    pos: p,
                    stage: nl + 1,
                    op: head_op::SAMPLE + 1,
                },
                StepKey {
                    pos: p,
                    stage: nl + 2,
                    op: 0,
                },
            ];
            for k in none {
                if p >= 2 || k.stage != nl + 1 || k.op != head_op::SAMPLE {
                    assert_eq!(layout_index(k, p, nl), None, "{name} {k:?}");
                }
            }
        }
    }
}

/// The dev fault changes exactly the faulty position's `EMBED` (and what follows from it): the
/// prompt step still commits the prompt, and that `EMBED` no longer replays from it.
#[test]
fn the_embedding_fault_makes_one_embed_step_wrong() {
    let m = load("tiny-gemma3", "fault", Kernel::best(), 1);
    let ids = tokens(&manifest("tiny-gemma3")["prompt_tokens"]);
    let s = Sampling::greedy(3);
    let last = ids.len() as u32 - 1;
    let fault = Some(DevFault::EmbedNextToken { pos: last });
    let (_, honest) = m.trace_steps(&ids, &s, &mut |_, _| true).unwrap();
    let (_, faulty) = m
        .trace_steps_with_fault(&ids, &s, fault, &mut |_, _| true)
        .unwrap();
    let first = honest
        .iter()
        .zip(&faulty)
        .position(|(a, b)| a != b)
        .unwrap();
    assert_eq!(
        faulty[first].0,
        StepKey {
            pos: last,
            stage: 0,
            op: embed_op::EMBED
        }
    );
    assert_eq!(honest[0], faulty[0], "the prompt step is the same");
    let rec = m
        .step_input_with_fault(&ids, &s, fault, first as u64)
        .unwrap();
    assert_eq!(
        rec.inputs,
        vec![StepTensor::Prompt {
            text: m.tokenizer().prompt_text(&ids),
            ids: ids.clone()
        }]
    );
    assert!(matches!(
        m.replay_step(&rec),
        Err(EngineError::ReplayMismatch { .. })
    ));
    let honest_rec = m.step_input(&ids, &s, first as u64).unwrap();
    assert_eq!(m.replay_step(&honest_rec).unwrap(), honest_rec.output);
}

/// The embedding-row tree opens each row to the root, and a row's body is what `EMBED` reads.
#[test]
fn embedding_rows_open_against_their_root() {
    let m = load("tiny-llama", "embed-rows", Kernel::best(), 1);
    let root = m.embed_rows_root();
    let vocab = m.config().vocab as u32;
    for t in [0, 1, vocab / 2, vocab - 1] {
        let o = m.embed_row_opening(t).unwrap();
        assert_eq!((o.index, o.size), (t as u64, vocab as u64));
        let mut leaf = otr_engine::model::EMBED_ROW_TAG.to_vec();
        leaf.extend_from_slice(&t.to_be_bytes());
        leaf.extend_from_slice(&o.row);
        let got = otr_core::rollup::merkle::root_from_path(
            &otr_core::rollup::merkle::leaf_hash(&leaf),
            o.index,
            o.size,
            &o.path,
        )
        .unwrap();
        assert_eq!(got, root, "row {t}");
    }
    assert!(m.embed_row_opening(vocab).is_none());
}

/// The matrix-rows tree opens a row of every kind of matrix to the root in two levels (the row
/// in its matrix's tree, the matrix's leaf among all of them); the embedding's row tree is the
/// one `EMBED` opens against; the matrix-bias fault changes exactly one value of its step.
#[test]
fn matrix_rows_open_against_their_root() {
    use otr_core::rollup::merkle::{leaf_hash, root_from_path};
    let m = load("tiny-gemma3", "matrix-rows", Kernel::best(), 1);
    let root = m.matrix_rows_root();
    for (name, r) in [
        ("blk.0.attn_q.weight", 0u32),
        ("blk.1.ffn_down.weight", 5),
        ("blk.0.ffn_gate.weight", 63),
        ("token_embd.weight", 7),
    ] {
        let o = m.matrix_row_opening(name, r).unwrap();
        let mut leaf = otr_engine::model::EMBED_ROW_TAG.to_vec();
        leaf.extend_from_slice(&r.to_be_bytes());
        leaf.extend_from_slice(&o.row.row);
        let rows_root =
            root_from_path(&leaf_hash(&leaf), o.row.index, o.row.size, &o.row.path).unwrap();
        assert_eq!(rows_root, o.rows_root, "{name} row {r}");
        let mleaf = otr_engine::model::matrix_rows_leaf(name, o.row.size as u32, &rows_root);
        let got = root_from_path(&leaf_hash(&mleaf), o.index, o.size, &o.path).unwrap();
        assert_eq!(got, root, "{name} row {r}");
    }
    let e = m.matrix_row_opening("token_embd.weight", 3).unwrap();
    assert_eq!(e.rows_root, m.embed_rows_root());
    assert!(m.matrix_row_opening("blk.0.attn_norm.weight", 0).is_none());
    assert!(m
        .matrix_row_opening("blk.0.attn_q.weight", 1 << 20)
        .is_none());

    let ids = tokens(&manifest("tiny-gemma3")["prompt_tokens"]);
    let s = Sampling::greedy(2);
    let fault = Some(DevFault::MatVecBias {
        pos: 1,
        stage: 2,
        op: layer_op::UP,
    });
    let (_, honest) = m.trace_steps(&ids, &s, &mut |_, _| true).unwrap();
    let (_, faulty) = m
        .trace_steps_with_fault(&ids, &s, fault, &mut |_, _| true)
        .unwrap();
    let first = honest
        .iter()
        .zip(&faulty)
        .position(|(a, b)| a != b)
        .unwrap();
    let key = StepKey {
        pos: 1,
        stage: 2,
        op: layer_op::UP,
    };
    assert_eq!(faulty[first].0, key);
    let h = m.step_input(&ids, &s, first as u64).unwrap();
    let f = m
        .step_input_with_fault(&ids, &s, fault, first as u64)
        .unwrap();
    assert_eq!(h.inputs, f.inputs, "the same input");
    let (StepTensor::Wide(a), StepTensor::Wide(b)) = (&h.output, &f.output) else {
        panic!("a wide output")
    };
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert_eq!(diff, [1]);
    assert_eq!(b[1], a[1] + 1);
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

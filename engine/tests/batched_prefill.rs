//! The batched prefill (all prompt positions through each layer together, matrix-matrix
//! kernels) against the token-by-token reference: same tokens, every trace leaf and the trace
//! root, on both tiny fixture models, for prompt lengths from 1 to past the tiny Gemma's
//! sliding window (4), with the scalar and the best kernel, on 1 and 2 threads.

use otr_engine::model::trace::layer_op;
use otr_engine::{Kernel, LoadOptions, Model, Prefill, Sampling};

fn load(name: &str) -> Model {
    let opts = LoadOptions {
        threads: 1,
        kernel: Kernel::Scalar,
        verbose: false,
    };
    otr_engine::fixture::load(name, opts).unwrap()
}

/// A prompt of `n` tokens: BOS-like first token, then ids spread over the vocabulary.
fn prompt(vocab: usize, n: usize) -> Vec<u32> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ n as u64;
    (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i == 0 {
                2
            } else {
                ((s >> 33) % vocab as u64) as u32
            }
        })
        .collect()
}

#[test]
fn batched_prefill_equals_token_by_token() {
    let lens = [1usize, 2, 3, 4, 5, 6, 9, 17, 40];
    let sampled = Sampling {
        temperature_milli: 800,
        top_k: 20,
        top_p_milli: 900,
        max_tokens: 5,
        seed: 3,
    };
    for name in ["tiny-gemma3", "tiny-llama"] {
        let mut m = load(name);
        let vocab = m.config().vocab;
        if name == "tiny-gemma3" {
            // The lengths above cross the window of the local layers.
            assert_eq!(m.config().sliding_window, 4);
        }
        for &n in &lens {
            let ids = prompt(vocab, n);
            for s in [Sampling::greedy(4), sampled] {
                m.set_exec(Kernel::Scalar, 1);
                let (want, want_steps) = m.trace_steps_with(&ids, &s, Prefill::Sequential).unwrap();
                assert_eq!(want.trace_steps as usize, want_steps.len());
                for (k, threads, prefill) in [
                    (Kernel::Scalar, 1, Prefill::Batched),
                    (Kernel::Scalar, 2, Prefill::Batched),
                    (Kernel::best(), 1, Prefill::Batched),
                    (Kernel::best(), 2, Prefill::Batched),
                    (Kernel::best(), 2, Prefill::Sequential),
                ] {
                    m.set_exec(k, threads);
                    let (got, steps) = m.trace_steps_with(&ids, &s, prefill).unwrap();
                    let what = format!("{name}, {n} tokens, {k:?} x{threads}, {prefill:?}, {s:?}");
                    assert_eq!(steps.len(), want_steps.len(), "{what}");
                    for (a, b) in steps.iter().zip(&want_steps) {
                        assert_eq!(a, b, "{what}: leaf {:?}", b.0);
                    }
                    assert_eq!(got, want, "{what}");
                }
                // The default path (generate) is the batched one and gives the same result.
                let g = m.generate(&ids, &s, &mut |_, _| true).unwrap();
                assert_eq!(g, want, "{name}, {n} tokens, generate");
            }
        }
    }
}

#[test]
fn batched_prefill_steps_replay_across_the_window() {
    // Steps of prompt positions past the sliding window, captured from the batched prefill,
    // replay from their inputs (attention sees exactly the window's cache entries).
    let m = load("tiny-gemma3");
    let ids = prompt(m.config().vocab, 9);
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps_with(&ids, &s, Prefill::Batched).unwrap();
    let mut checked = 0;
    for (i, (k, d)) in steps.iter().enumerate() {
        let in_prompt = (5..ids.len() as u32).contains(&k.pos);
        if in_prompt
            && k.stage >= 1
            && k.stage <= m.config().n_layers as u16
            && k.op == layer_op::ATTN
        {
            let rec = m.step_input(&ids, &s, i as u64).unwrap();
            assert_eq!(rec.key, *k);
            assert_eq!(rec.output.digest(), *d);
            let out = m.replay_step(&rec).unwrap();
            assert_eq!(out, rec.output);
            checked += 1;
        }
    }
    // Positions 5..=8 of the prompt, every layer.
    assert_eq!(checked, 4 * m.config().n_layers);
}

//! `NormStepVerifier`: on-chain recomputation of the engine's RMSNorm steps (pre norms, final
//! norm, Gemma's post-norm residuals), checked against real steps of the tiny fixture models
//! (both architectures) and, value by value, against the engine's `ops::rms_norm` and
//! `Act16::from_wide` on edge cases; `RopeStepVerifier` (QK-norm + RoPE) likewise. Gas of a
//! Gemma 3 270M-sized step:
//! `cargo test -p otr-contracts --test contracts norm_gas -- --nocapture`.

use crate::act::{config_hash, gemma_270m_config, prove_last_leaf};
use crate::common::*;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::norm_step::NormStepVerifier;
use otr_contracts::deploy::{norm_step_witness, Deployment, Params};
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Address, Bytes, Chain, U256};
use otr_engine::fixed::{Act16, W_ONE};
use otr_engine::model::ops;
use otr_engine::model::trace::{embed_op, head_op, layer_op, leaf, StepKey};
use otr_engine::weights::{weights_leaf, weights_root, Tensor};
use otr_engine::{Config, Kernel, LoadOptions, Model, Sampling};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

fn load(name: &str) -> Model {
    let opts = LoadOptions {
        threads: 1,
        kernel: Kernel::Scalar,
        verbose: false,
    };
    otr_engine::fixture::load(name, opts).unwrap()
}

fn gemma() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load("tiny-gemma3"))
}

fn llama() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load("tiny-llama"))
}

/// A chain with a deployment, `model_id` registered with this config and weights root, and the
/// norm verifier deployed (and named for the model's norm steps).
struct Bed {
    chain: Chain,
    d: Deployment,
    verifier: Address,
    model_id: [u8; 32],
    weights_root: [u8; 32],
}

impl Bed {
    fn new(cfg: &Config, weights_root: [u8; 32], post_norms: bool) -> Bed {
        let mut chain = Chain::new(CHAIN_ID, T0);
        let owner = addr(0xa0);
        chain.set_balance(owner, eth(100));
        let d = Deployment::deploy(&mut chain, owner, &Params::devnet(), T0).unwrap();
        let model_id = [0x5a; 32];
        host::send(
            &mut chain,
            owner,
            d.registry,
            &ModelRegistry::registerModelCall {
                modelId: model_id.into(),
                m: ModelRegistry::Model {
                    configHash: config_hash(cfg).into(),
                    tokenizerHash: [0x44; 32].into(),
                    weightsRoot: weights_root.into(),
                    poseidonRoot: [0; 32].into(),
                    costWeight: 1,
                    numLayers: cfg.n_layers as u16,
                    active: true,
                },
                vks: vec![],
            },
            U256::ZERO,
        )
        .unwrap();
        let verifier = d
            .set_norm_verifier(&mut chain, model_id, post_norms)
            .unwrap();
        Bed {
            chain,
            d,
            verifier,
            model_id,
            weights_root,
        }
    }

    fn verify(
        &mut self,
        root: [u8; 32],
        out_leaf: &[u8],
        in_leaves: &[Vec<u8>],
        witness: &[u8],
    ) -> bool {
        host::view(
            &mut self.chain,
            self.verifier,
            &NormStepVerifier::verifyStepCall {
                modelId: self.model_id.into(),
                weightsRoot: root.into(),
                outLeaf: Bytes::copy_from_slice(out_leaf),
                inLeaves: in_leaves
                    .iter()
                    .map(|l| Bytes::copy_from_slice(l))
                    .collect(),
                witness: Bytes::copy_from_slice(witness),
            },
        )
        .unwrap()
    }
}

/// One norm step of a real run: its leaf, its input leaves and the material of its witness.
#[derive(Clone)]
struct Case {
    out_leaf: Vec<u8>,
    in_leaves: Vec<Vec<u8>>,
    config: Vec<u8>,
    inputs: Vec<Vec<u8>>,
    weights: Vec<u8>,
    index: u64,
    size: u64,
    path: Vec<[u8; 32]>,
    output: Vec<u8>,
}

impl Case {
    fn witness(&self) -> Vec<u8> {
        norm_step_witness(
            &self.config,
            &self.inputs,
            &self.weights,
            self.index,
            self.size,
            &self.path,
        )
    }
}

/// The weight vector a norm step uses (GGUF name).
fn weight_name(key: StepKey, n_layers: u16) -> String {
    if key.stage == n_layers + 1 {
        return "output_norm.weight".into();
    }
    let l = key.stage - 1;
    let what = match key.op {
        layer_op::ATTN_NORM => "attn_norm",
        layer_op::FFN_NORM => "ffn_norm",
        layer_op::RESID_ATTN => "post_attention_norm",
        layer_op::RESID_FFN => "post_ffw_norm",
        _ => panic!("not a norm step"),
    };
    format!("blk.{l}.{what}.weight")
}

/// The input keys of a norm step (engine `replay.rs` order).
fn input_keys(key: StepKey) -> Vec<StepKey> {
    let k = |stage, op| StepKey {
        pos: key.pos,
        stage,
        op,
    };
    let prev = if key.stage == 1 {
        k(0, embed_op::EMBED)
    } else {
        k(key.stage - 1, layer_op::RESID_FFN)
    };
    match key.op {
        0 => vec![prev], // ATTN_NORM or FINAL_NORM
        layer_op::FFN_NORM => vec![k(key.stage, layer_op::RESID_ATTN)],
        layer_op::RESID_ATTN => vec![prev, k(key.stage, layer_op::O)],
        layer_op::RESID_FFN => vec![
            k(key.stage, layer_op::RESID_ATTN),
            k(key.stage, layer_op::DOWN),
        ],
        _ => panic!("not a norm step"),
    }
}

const PROMPT: &[u32] = &[2, 40, 77, 91, 120];

fn case(m: &Model, key: StepKey) -> Case {
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
    let digest = |k: StepKey| steps.iter().find(|x| x.0 == k).expect("step").1;
    let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
    let rec = m.step_input(PROMPT, &s, index).unwrap();
    assert_eq!(rec.key, key);
    m.replay_step(&rec).unwrap();
    let nl = m.config().n_layers as u16;
    let o = m.norm_opening(&weight_name(key, nl)).expect("norm opening");
    let ins = input_keys(key);
    Case {
        out_leaf: leaf(key, &digest(key)),
        in_leaves: ins.iter().map(|k| leaf(*k, &digest(*k))).collect(),
        config: m.config().canonical().into_bytes(),
        inputs: rec.inputs.iter().map(|t| t.bytes()).collect(),
        weights: o.canonical,
        index: o.index,
        size: o.size,
        path: o.path,
        output: rec.output.bytes(),
    }
}

fn norm_keys(nl: u16, post_norms: bool, pos: u32) -> Vec<StepKey> {
    let k = |stage, op| StepKey { pos, stage, op };
    let mut v = vec![
        k(1, layer_op::ATTN_NORM),
        k(2, layer_op::ATTN_NORM),
        k(1, layer_op::FFN_NORM),
        k(nl, layer_op::FFN_NORM),
        k(nl + 1, head_op::FINAL_NORM),
    ];
    if post_norms {
        v.extend([
            k(1, layer_op::RESID_ATTN),
            k(2, layer_op::RESID_ATTN),
            k(1, layer_op::RESID_FFN),
            k(nl, layer_op::RESID_FFN),
        ]);
    }
    v
}

fn real_steps(m: &Model, post_norms: bool) {
    let cfg = m.config().clone();
    let mut bed = Bed::new(&cfg, m.info().weights_root, post_norms);
    let root = bed.weights_root;
    let nl = cfg.n_layers as u16;
    // The last prompt position (its FINAL_NORM exists) and a decode position.
    for pos in [PROMPT.len() as u32 - 1, PROMPT.len() as u32] {
        for key in norm_keys(nl, post_norms, pos) {
            let c = case(m, key);
            assert!(
                bed.verify(root, &c.out_leaf, &c.in_leaves, &c.witness()),
                "{key:?}"
            );
            // One bit of the output changed.
            let mut out = c.output.clone();
            let last = out.len() - 1;
            out[last] ^= 1;
            let bad_leaf = leaf(key, &Sha256::digest(&out).into());
            assert!(
                !bed.verify(root, &bad_leaf, &c.in_leaves, &c.witness()),
                "{key:?}: output bit"
            );
        }
    }
}

#[test]
fn norm_verifier_accepts_the_real_steps_of_both_fixture_models_and_rejects_a_changed_output() {
    real_steps(gemma(), true);
    real_steps(llama(), false);
}

#[test]
fn norm_verifier_rejects_wrong_weights_inputs_keys_and_config() {
    let m = gemma();
    let cfg = m.config().clone();
    let nl = cfg.n_layers as u16;
    let mut bed = Bed::new(&cfg, m.info().weights_root, true);
    let root = bed.weights_root;
    let pos = PROMPT.len() as u32 - 1;
    let k = |stage, op| StepKey { pos, stage, op };
    let attn = case(m, k(2, layer_op::ATTN_NORM));
    let resid = case(m, k(2, layer_op::RESID_ATTN));
    for c in [&attn, &resid] {
        assert!(bed.verify(root, &c.out_leaf, &c.in_leaves, &c.witness()));
    }
    let rejects = |bed: &mut Bed, c: &Case, what: &str| {
        assert!(
            !bed.verify(root, &c.out_leaf, &c.in_leaves, &c.witness()),
            "{what}"
        );
    };

    // Weights: one value changed (its leaf is not in the tree).
    let mut c = attn.clone();
    c.weights[9] ^= 1;
    rejects(&mut bed, &c, "changed weight value");
    // Another layer's vector with its own valid path (in the tree, but not this step's name).
    let other = m.norm_opening("blk.0.attn_norm.weight").unwrap();
    let mut c = attn.clone();
    (c.weights, c.index, c.size, c.path) = (other.canonical, other.index, other.size, other.path);
    rejects(&mut bed, &c, "another layer's attn_norm");
    // The FFN norm of the same layer.
    let other = m.norm_opening("blk.1.ffn_norm.weight").unwrap();
    let mut c = attn.clone();
    (c.weights, c.index, c.size, c.path) = (other.canonical, other.index, other.size, other.path);
    rejects(&mut bed, &c, "ffn_norm for attn_norm");
    // Wrong path: a sibling hash changed, the wrong index, a short path.
    let mut c = attn.clone();
    c.path[0][0] ^= 1;
    rejects(&mut bed, &c, "path hash");
    let mut c = attn.clone();
    c.index ^= 1;
    rejects(&mut bed, &c, "leaf index");
    let mut c = attn.clone();
    c.path.pop();
    rejects(&mut bed, &c, "short path");
    // A weights root other than the registered one (even if the path were for it).
    assert!(!bed.verify([0x77; 32], &attn.out_leaf, &attn.in_leaves, &attn.witness()));
    // Kind byte and length of the canonical tensor.
    let mut c = attn.clone();
    c.weights[0] = 0;
    rejects(&mut bed, &c, "kind byte");

    // Input leaf keys: wrong op, stage, position; residual inputs swapped; one leaf missing.
    let with_key = |l: &[u8], key: StepKey| leaf(key, l[25..57].try_into().unwrap());
    let mut c = attn.clone();
    c.in_leaves[0] = with_key(&c.in_leaves[0], k(1, layer_op::RESID_ATTN));
    rejects(&mut bed, &c, "input op");
    let mut c = attn.clone();
    c.in_leaves[0] = with_key(&c.in_leaves[0], k(2, layer_op::RESID_FFN));
    rejects(&mut bed, &c, "input stage");
    let mut c = attn.clone();
    c.in_leaves[0] = with_key(
        &c.in_leaves[0],
        StepKey {
            pos: pos - 1,
            stage: 1,
            op: layer_op::RESID_FFN,
        },
    );
    rejects(&mut bed, &c, "input position");
    let mut c = resid.clone();
    c.in_leaves.swap(0, 1);
    c.inputs.swap(0, 1);
    rejects(&mut bed, &c, "residual inputs swapped");
    let mut c = resid.clone();
    c.in_leaves.pop();
    c.inputs.pop();
    rejects(&mut bed, &c, "one input missing");
    // The input tensor not the one its leaf commits to.
    let mut c = attn.clone();
    c.inputs[0][0] ^= 1;
    rejects(&mut bed, &c, "input tensor");
    // The output key: the FINAL_NORM verifier entry cannot prove a layer step at stage L + 2,
    // and an operator that is not a norm is refused.
    let mut c = attn.clone();
    c.out_leaf = with_key(&c.out_leaf, k(nl + 2, head_op::FINAL_NORM));
    rejects(&mut bed, &c, "stage past the head");
    let mut c = attn.clone();
    c.out_leaf = with_key(&c.out_leaf, k(2, layer_op::Q));
    rejects(&mut bed, &c, "not a norm operator");

    // Config: another epsilon (the hash no longer matches the registered one).
    let mut other = cfg.clone();
    other.eps *= 2.0;
    let mut c = attn.clone();
    c.config = other.canonical().into_bytes();
    rejects(&mut bed, &c, "config");

    // A Llama model (no post norms in its weights tree) cannot use the residual entry even if
    // governance named this verifier for it: there is no post-norm vector to open.
    let l = llama();
    let mut lbed = Bed::new(l.config(), l.info().weights_root, true);
    let lroot = lbed.weights_root;
    let lc = case(l, k(1, layer_op::ATTN_NORM));
    assert!(lbed.verify(lroot, &lc.out_leaf, &lc.in_leaves, &lc.witness()));
    assert!(l.norm_opening("blk.0.post_attention_norm.weight").is_none());
}

#[test]
fn norm_verifier_arithmetic_equals_the_engine_on_edge_cases() {
    let m = gemma();
    let mut bed = Bed::new(m.config(), m.info().weights_root, true);
    let v = bed.verifier;
    let mut r = otr_engine::rng::SplitMix(99);
    let mut vectors: Vec<Vec<i64>> = vec![
        vec![0; 8],
        vec![i64::MAX; 8],
        vec![i64::MIN; 8],
        vec![i64::MIN, i64::MAX, 0, -1, 1, 3, -3, 7],
        vec![1; 5],
        vec![-1],
        vec![W_ONE / 3; 16],
    ];
    for i in 0..24 {
        let n = 1 + (r.next() % 48) as usize;
        let shift = (r.next() % 64) as u32;
        vectors.push(
            (0..n)
                .map(|_| (r.next() as i64) >> (shift + i % 3))
                .collect(),
        );
    }
    for (i, h) in vectors.iter().enumerate() {
        let g: Vec<i32> = (0..h.len())
            .map(|j| match (i + j) % 4 {
                0 => i32::MAX,
                1 => i32::MIN,
                _ => (r.next() as i32) >> (r.next() % 31),
            })
            .collect();
        for eps in [0u128, 1, 18_446_744_073_709, u128::MAX] {
            let want = ops::rms_norm(h, &g, eps);
            let t = Tensor::Norm(g.clone()).canonical_bytes();
            let got = host::view(
                &mut bed.chain,
                v,
                &NormStepVerifier::rmsNormCall {
                    x: Bytes::from(wide(h)),
                    t: Bytes::from(t),
                    eps: U256::from(eps),
                },
            )
            .unwrap();
            let got: Vec<i64> = got.iter().map(|x| i64::try_from(*x).unwrap()).collect();
            assert_eq!(got, want, "rms_norm of vector {i}, eps {eps}");
            let act = host::view(
                &mut bed.chain,
                v,
                &NormStepVerifier::act16BytesCall {
                    y: want.iter().map(|&x| x.try_into().unwrap()).collect(),
                },
            )
            .unwrap();
            assert_eq!(
                act.to_vec(),
                Act16::from_wide(&want).bytes(),
                "Act16 of vector {i}"
            );
            let sum = host::view(
                &mut bed.chain,
                v,
                &NormStepVerifier::addWideCall {
                    h: Bytes::from(wide(h)),
                    y: want.iter().map(|&x| x.try_into().unwrap()).collect(),
                },
            )
            .unwrap();
            assert_eq!(
                sum.to_vec(),
                wide(&ops::add(h, &want)),
                "residual of vector {i}"
            );
        }
    }
    // The epsilon parsed from the config text, against `Config::eps_q64`.
    let mut cfg = m.config().clone();
    for eps in [
        1e-6,
        1e-5,
        1e-12,
        0.5,
        0.999_999,
        3e-300,
        5e-324,
        2.0f64.powi(-65),
        3.0 * 2.0f64.powi(-66),
    ] {
        cfg.eps = eps;
        let (ok, got) = host::view(
            &mut bed.chain,
            v,
            &NormStepVerifier::epsQ64Call {
                c: Bytes::from(cfg.canonical().into_bytes()),
            },
        )
        .map(|x| (x._0, x._1))
        .unwrap();
        assert!(ok, "{eps}");
        assert_eq!(got, U256::from(cfg.eps_q64()), "{eps:e}");
    }
    let bad = host::view(
        &mut bed.chain,
        v,
        &NormStepVerifier::epsQ64Call {
            c: Bytes::from(b"arch=gemma3;eps=3ff000000000000X;".to_vec()),
        },
    )
    .unwrap();
    assert!(!bad._0);
}

/// Names of the real model's tensors, sorted: 13 per layer (4 norms + 2 QK norms + 7
/// matrices), the embedding and the final norm.
fn gemma_270m_names(n_layers: usize) -> Vec<String> {
    let mut names: Vec<String> = vec!["token_embd.weight".into(), "output_norm.weight".into()];
    for l in 0..n_layers {
        for t in [
            "attn_norm",
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "attn_q_norm",
            "attn_k_norm",
            "post_attention_norm",
            "ffn_norm",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
            "post_ffw_norm",
        ] {
            names.push(format!("blk.{l}.{t}.weight"));
        }
    }
    names.sort();
    names
}

/// Gas of Gemma 3 270M-sized QK-norm + RoPE steps proven at the end of a dispute: `Q_ROPE`
/// (4 heads of 256) and `K_ROPE` (1 head of 256) of a global layer, the QK-norm vector opened
/// in a weights tree of the real model's 236 tensor names, the RoPE row in a table of 32,768
/// positions (path of 15). Prints table rows for docs/BENCHMARKS.md.
#[test]
fn rope_gas() {
    let cfg = gemma_270m_config();
    let hd = cfg.head_dim;
    let mut r = otr_engine::rng::SplitMix(11);
    let gq: Vec<i32> = (0..hd)
        .map(|_| (r.next() % (4 << 16)) as i32 - (1 << 15))
        .collect();
    let norm = Tensor::Norm(gq.clone()).canonical_bytes();
    let names = gemma_270m_names(cfg.n_layers);
    let digests: Vec<(String, [u8; 32])> = names
        .iter()
        .map(|n| {
            let d: [u8; 32] = if n.contains("_q_norm") || n.contains("_k_norm") {
                Sha256::digest(&norm).into()
            } else {
                Sha256::digest(n.as_bytes()).into()
            };
            (n.clone(), d)
        })
        .collect();
    let root = weights_root(&digests);
    let wleaves: Vec<Vec<u8>> = digests.iter().map(|(n, d)| weights_leaf(n, d)).collect();
    // The RoPE table of the global base over the whole context; only position `pos`'s row is
    // real (the gas does not depend on the other rows).
    let pos = 1000u32;
    let stage = 6u16; // layer 5: global (every 6th)
    assert!(cfg.is_global(stage as usize - 1));
    let cs = otr_engine::tables::rope_cos_sin(
        pos,
        &otr_engine::tables::rope_inv_freq(cfg.rope_base_global, hd),
    );
    let row: Vec<u8> = cs
        .iter()
        .flat_map(|(c, s)| [c.to_le_bytes(), s.to_le_bytes()].concat())
        .collect();
    let tleaves: Vec<Vec<u8>> = (0..cfg.context_len as u32)
        .map(|p| {
            let mut l = otr_engine::model::ROPE_ROW_TAG.to_vec();
            l.extend_from_slice(&p.to_be_bytes());
            if p == pos {
                l.extend_from_slice(&row);
            }
            l
        })
        .collect();
    let troot = otr_core::rollup::merkle::root(&tleaves);
    let tp = otr_core::rollup::merkle::prove(&tleaves, pos as u64).unwrap();
    let eps = cfg.eps_q64();
    let mut lines = Vec::new();
    for (op, proj, heads, nname) in [
        (layer_op::Q_ROPE, layer_op::Q, cfg.n_heads, "attn_q_norm"),
        (layer_op::K_ROPE, layer_op::K, cfg.n_kv_heads, "attn_k_norm"),
    ] {
        let x: Vec<i64> = (0..heads * hd).map(|_| (r.next() as i64) >> 24).collect();
        let out: Vec<u8> = x
            .chunks(hd)
            .flat_map(|h| {
                let mut y = ops::rms_norm(h, &gq, eps);
                ops::rope(&mut y, &cs, ops::RopeStyle::Neox);
                Act16::from_wide(&y).bytes()
            })
            .collect();
        let key = StepKey { pos, stage, op };
        let in_key = StepKey { op: proj, ..key };
        let trace = Trace::new(vec![
            leaf(in_key, &Sha256::digest(wide(&x)).into()),
            leaf(key, &Sha256::digest(&out).into()),
        ]);
        let name = format!("blk.{}.{nname}.weight", stage - 1);
        let wi = names.iter().position(|n| *n == name).unwrap() as u64;
        let wp = otr_core::rollup::merkle::prove(&wleaves, wi).unwrap();
        let witness = otr_contracts::deploy::rope_step_witness(
            cfg.canonical().as_bytes(),
            &wide(&x),
            Some((&norm, wp.leaf_index, wp.tree_size, &wp.path)),
            (&row, tp.leaf_index, tp.tree_size, &tp.path),
        );
        let wlen = witness.len();
        let gas = prove_last_leaf(&cfg, root, &trace, &[0], witness, |w| {
            w.d.set_rope_verifier(&mut w.chain, MODEL_ID, [troot, [0; 32]])
                .unwrap();
        })
        .unwrap();
        lines.push(format!(
            "| `proveStep`, {} (QK-norm + RoPE), {heads} x {hd} values, row path of {} ({wlen} bytes witness) | {gas} |",
            if op == layer_op::Q_ROPE { "Q_ROPE" } else { "K_ROPE" },
            tp.path.len(),
        ));
    }
    for l in &lines {
        println!("{l}");
    }
}

/// Gas of one Gemma 3 270M-sized norm step proven at the end of a dispute (`proveStep` as a
/// whole transaction): d_model 640, a weights tree of the real model's 236 tensors (path of 8),
/// residual values of the real model's magnitudes. Prints table rows for docs/BENCHMARKS.md.
#[test]
fn norm_gas() {
    let cfg = gemma_270m_config();
    let d = cfg.d_model;
    let mut r = otr_engine::rng::SplitMix(5);
    let g: Vec<i32> = (0..d)
        .map(|_| (r.next() % (8 << 16)) as i32 - (1 << 16))
        .collect();
    let names = gemma_270m_names(cfg.n_layers);
    let norm = Tensor::Norm(g.clone()).canonical_bytes();
    let digests: Vec<(String, [u8; 32])> = names
        .iter()
        .map(|n| {
            let d: [u8; 32] =
                if n.ends_with("norm.weight") && !n.contains("_q_") && !n.contains("_k_") {
                    Sha256::digest(&norm).into()
                } else {
                    Sha256::digest(n.as_bytes()).into()
                };
            (n.clone(), d)
        })
        .collect();
    let root = weights_root(&digests);
    let leaves: Vec<Vec<u8>> = digests.iter().map(|(n, d)| weights_leaf(n, d)).collect();
    let open = |name: &str| {
        let i = names.iter().position(|n| n == name).unwrap() as u64;
        let p = otr_core::rollup::merkle::prove(&leaves, i).unwrap();
        (p.leaf_index, p.tree_size, p.path)
    };
    // Residual stream values of about the real model's scale (|h| up to ~2^10, 32 fraction bits).
    let h: Vec<i64> = (0..d).map(|_| (r.next() as i64) >> 22).collect();
    let x: Vec<i64> = (0..d).map(|_| (r.next() as i64) >> 26).collect();
    let eps = cfg.eps_q64();

    let mut lines = Vec::new();
    type GasCase<'a> = (&'a str, StepKey, Vec<Vec<i64>>, Vec<u8>, &'a str);
    let cases: [GasCase; 2] = [
        (
            "ATTN_NORM (pre norm, Act16 output)",
            StepKey {
                pos: 0,
                stage: 2,
                op: layer_op::ATTN_NORM,
            },
            vec![h.clone()],
            Act16::from_wide(&ops::rms_norm(&h, &g, eps)).bytes(),
            "blk.1.attn_norm.weight",
        ),
        (
            "RESID_ATTN (h + post_attention_norm(o), wide output)",
            StepKey {
                pos: 0,
                stage: 2,
                op: layer_op::RESID_ATTN,
            },
            vec![h.clone(), x.clone()],
            wide(&ops::add(&h, &ops::rms_norm(&x, &g, eps))),
            "blk.1.post_attention_norm.weight",
        ),
    ];
    for (what, key, ins, out, name) in cases {
        // A two-step trace prefix per input and the step; the challenger disputes the step.
        let in_keys = input_keys(key);
        let mut leaves_t: Vec<Vec<u8>> = in_keys
            .iter()
            .zip(&ins)
            .map(|(k, t)| leaf(*k, &Sha256::digest(wide(t)).into()))
            .collect();
        // Trace order: inputs before the step ((pos, stage, op) sorted).
        leaves_t.sort_by_key(|l| l[18..25].to_vec());
        leaves_t.push(leaf(key, &Sha256::digest(&out).into()));
        // At their places in the trace layout, filler leaves between them.
        let (trace, _) = in_layout(&leaves_t, 10, cfg.n_layers as u16);
        let leaves_t: Vec<Vec<u8>> = (0..trace.len()).map(|i| trace.leaf(i).to_vec()).collect();
        let theirs = last_leaf_changed(&trace);

        let mut w = World::new();
        let reg = w.d.registry;
        w.owner_send(
            reg,
            &ModelRegistry::registerModelCall {
                modelId: MODEL_ID.into(),
                m: ModelRegistry::Model {
                    configHash: config_hash(&cfg).into(),
                    tokenizerHash: [0x44; 32].into(),
                    weightsRoot: root.into(),
                    poseidonRoot: [0; 32].into(),
                    costWeight: COST_WEIGHT,
                    numLayers: cfg.n_layers as u16,
                    active: true,
                },
                vks: vec![],
            },
        );
        w.d.set_norm_verifier(&mut w.chain, MODEL_ID, true).unwrap();
        let p = w.post_receipts(vec![receipt(&trace, 1, 10, root, T0)]);
        let id = w.dispute_first(&p);
        w.bisect_to_one_step(id, &trace, &theirs);
        let (index, size, path) = open(name);
        let inputs: Vec<Vec<u8>> = ins.iter().map(|t| wide(t)).collect();
        let witness = norm_step_witness(
            cfg.canonical().as_bytes(),
            &inputs,
            &norm,
            index,
            size,
            &path,
        );
        let in_idx: Vec<u64> = in_keys
            .iter()
            .map(|k| {
                leaves_t
                    .iter()
                    .position(|l| l[18..25] == leaf(*k, &[0; 32])[18..25])
                    .unwrap() as u64
            })
            .collect();
        let last = trace.len() - 1;
        let verifier =
            w.d.step_verifier(&mut w.chain, MODEL_ID, key.stage, key.op)
                .unwrap();
        // The verifier alone, called by a transaction (its calldata included).
        let direct = host::send(
            &mut w.chain,
            w.other,
            verifier,
            &NormStepVerifier::verifyStepCall {
                modelId: MODEL_ID.into(),
                weightsRoot: root.into(),
                outLeaf: Bytes::copy_from_slice(trace.leaf(last)),
                inLeaves: in_idx
                    .iter()
                    .map(|&i| Bytes::copy_from_slice(trace.leaf(i)))
                    .collect(),
                witness: Bytes::from(witness.clone()),
            },
            U256::ZERO,
        )
        .unwrap();
        assert!(direct.0);
        let norm_only = host::send(
            &mut w.chain,
            w.other,
            verifier,
            &NormStepVerifier::rmsNormCall {
                x: Bytes::from(inputs.last().unwrap().clone()),
                t: Bytes::from(norm.clone()),
                eps: U256::from(eps),
            },
            U256::ZERO,
        )
        .unwrap();
        eprintln!(
            "{what}: verifyStep by a transaction {} gas, rmsNorm alone {} gas",
            direct.1.gas_used, norm_only.1.gas_used
        );
        let out =
            w.d.prove_step(&mut w.chain, w.node, id, &trace, &in_idx, witness.clone())
                .unwrap();
        assert_eq!(
            w.d.dispute(&mut w.chain, id).unwrap().phase,
            3,
            "{what}: the node won"
        );
        let _ = last;
        lines.push(format!(
            "| `proveStep`, {what}, d_model {d}, weights path of {} ({} bytes witness) | {} |",
            path.len(),
            witness.len(),
            out.gas_used
        ));
    }
    for l in &lines {
        println!("{l}");
    }
}

/// A `Q_ROPE` / `K_ROPE` step of a real run: leaves and witness parts.
#[derive(Clone)]
struct RopeCase {
    out_leaf: Vec<u8>,
    in_leaf: Vec<u8>,
    config: Vec<u8>,
    input: Vec<u8>,
    norm: Option<otr_engine::model::NormOpening>,
    row: otr_engine::model::RopeOpening,
    output: Vec<u8>,
}

impl RopeCase {
    fn witness(&self) -> Vec<u8> {
        otr_contracts::deploy::rope_step_witness(
            &self.config,
            &self.input,
            self.norm
                .as_ref()
                .map(|o| (&o.canonical[..], o.index, o.size, &o.path[..])),
            (&self.row.row, self.row.index, self.row.size, &self.row.path),
        )
    }
}

fn rope_case(m: &Model, key: StepKey) -> RopeCase {
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
    let digest = |k: StepKey| steps.iter().find(|x| x.0 == k).expect("step").1;
    let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
    let rec = m.step_input(PROMPT, &s, index).unwrap();
    m.replay_step(&rec).unwrap();
    let l = key.stage - 1;
    let (proj, norm) = if key.op == layer_op::Q_ROPE {
        (layer_op::Q, "attn_q_norm")
    } else {
        (layer_op::K, "attn_k_norm")
    };
    let in_key = StepKey { op: proj, ..key };
    RopeCase {
        out_leaf: leaf(key, &digest(key)),
        in_leaf: leaf(in_key, &digest(in_key)),
        config: m.config().canonical().into_bytes(),
        input: rec.inputs[0].bytes(),
        norm: m.norm_opening(&format!("blk.{l}.{norm}.weight")),
        row: m.rope_opening(l as usize, key.pos).unwrap(),
        output: rec.output.bytes(),
    }
}

impl Bed {
    fn rope_verifier(&mut self, m: &Model) -> Address {
        self.d
            .set_rope_verifier(&mut self.chain, self.model_id, m.rope_roots())
            .unwrap()
    }

    fn verify_at(
        &mut self,
        v: Address,
        root: [u8; 32],
        out: &[u8],
        ins: &[Vec<u8>],
        w: &[u8],
    ) -> bool {
        host::view(
            &mut self.chain,
            v,
            &NormStepVerifier::verifyStepCall {
                modelId: self.model_id.into(),
                weightsRoot: root.into(),
                outLeaf: Bytes::copy_from_slice(out),
                inLeaves: ins.iter().map(|l| Bytes::copy_from_slice(l)).collect(),
                witness: Bytes::copy_from_slice(w),
            },
        )
        .unwrap()
    }
}

#[test]
fn rope_verifier_accepts_real_qk_rope_steps_of_both_models_and_rejects_wrong_ones() {
    for (m, gemma_arch) in [(gemma(), true), (llama(), false)] {
        let cfg = m.config().clone();
        let nl = cfg.n_layers as u16;
        assert_eq!(m.has_qk_norm(), gemma_arch);
        let mut bed = Bed::new(&cfg, m.info().weights_root, gemma_arch);
        let v = bed.rope_verifier(m);
        let root = bed.weights_root;
        // A local and a global layer (Gemma: every 6th layer is global), a prompt and a decode
        // position, queries and keys.
        let global_stage = (1..=nl).find(|&s| cfg.is_global(s as usize - 1)).unwrap();
        let local_stage = (1..=nl).find(|&s| !cfg.is_global(s as usize - 1));
        let stages: Vec<u16> = [Some(global_stage), local_stage]
            .into_iter()
            .flatten()
            .collect();
        for pos in [PROMPT.len() as u32 - 1, PROMPT.len() as u32] {
            for &stage in &stages {
                for op in [layer_op::Q_ROPE, layer_op::K_ROPE] {
                    let key = StepKey { pos, stage, op };
                    let c = rope_case(m, key);
                    let ins = vec![c.in_leaf.clone()];
                    assert!(
                        bed.verify_at(v, root, &c.out_leaf, &ins, &c.witness()),
                        "{key:?}"
                    );
                    let mut out = c.output.clone();
                    out[5] ^= 1;
                    let bad = leaf(key, &Sha256::digest(&out).into());
                    assert!(
                        !bed.verify_at(v, root, &bad, &ins, &c.witness()),
                        "{key:?}: output"
                    );
                }
            }
        }
        let pos = PROMPT.len() as u32 - 1;
        let key = StepKey {
            pos,
            stage: global_stage,
            op: layer_op::Q_ROPE,
        };
        let c = rope_case(m, key);
        let ins = vec![c.in_leaf.clone()];
        let mut rejects = |c: &RopeCase, ins: &[Vec<u8>], what: &str| {
            assert!(
                !bed.verify_at(v, root, &c.out_leaf, ins, &c.witness()),
                "{what}"
            );
        };
        // Another position's row (with its own valid path), a row of the other base's table.
        let mut x = c.clone();
        x.row = m.rope_opening(global_stage as usize - 1, pos + 1).unwrap();
        rejects(&x, &ins, "row of another position");
        if let Some(ls) = local_stage {
            let mut x = c.clone();
            x.row = m.rope_opening(ls as usize - 1, pos).unwrap();
            rejects(&x, &ins, "row of the local table for a global layer");
        }
        let mut x = c.clone();
        x.row.row[0] ^= 1;
        rejects(&x, &ins, "changed row entry");
        // Input key: K instead of Q, another stage, another position.
        for k in [
            StepKey {
                op: layer_op::K,
                ..key
            },
            StepKey {
                stage: key.stage - 1,
                op: layer_op::Q,
                ..key
            },
            StepKey {
                pos: pos - 1,
                op: layer_op::Q,
                ..key
            },
        ] {
            let l = leaf(k, c.in_leaf[25..57].try_into().unwrap());
            rejects(&c, &[l], "input key");
        }
        if gemma_arch {
            // The key norm for the query step; a changed norm value.
            let mut x = c.clone();
            x.norm = m.norm_opening(&format!("blk.{}.attn_k_norm.weight", global_stage - 1));
            rejects(&x, &ins, "k_norm for q");
            let mut x = c.clone();
            x.norm.as_mut().unwrap().canonical[9] ^= 1;
            rejects(&x, &ins, "changed norm value");
            let mut x = c.clone();
            x.norm = None;
            rejects(&x, &ins, "no norm");
        }
        // A verifier deployed with other tables.
        let other = bed
            .d
            .set_rope_verifier(&mut bed.chain, bed.model_id, [[1; 32], [2; 32]])
            .unwrap();
        assert!(!bed.verify_at(other, root, &c.out_leaf, &ins, &c.witness()));
    }
}

#[test]
fn rope_arithmetic_equals_the_engine_on_edge_cases() {
    use otr_contracts::bindings::rope_step::RopeStepVerifier;
    let m = gemma();
    let mut bed = Bed::new(m.config(), m.info().weights_root, true);
    let v = bed.rope_verifier(m);
    let mut r = otr_engine::rng::SplitMix(7);
    for i in 0..24 {
        let n = 2 * (1 + (r.next() % 16) as usize);
        let mut x: Vec<i64> = (0..n)
            .map(|_| (r.next() as i64) >> (r.next() % 64))
            .collect();
        if i % 4 == 0 {
            x[0] = i64::MAX;
            x[n / 2] = i64::MIN;
        }
        let cs: Vec<(i32, i32)> = (0..n / 2)
            .map(|j| match (i + j) % 3 {
                0 => (16384, -16384),
                _ => (
                    (r.next() % 32769) as i32 - 16384,
                    (r.next() % 32769) as i32 - 16384,
                ),
            })
            .collect();
        let row: Vec<u8> = cs
            .iter()
            .flat_map(|(c, s)| [c.to_le_bytes(), s.to_le_bytes()].concat())
            .collect();
        for (neox, style) in [
            (true, ops::RopeStyle::Neox),
            (false, ops::RopeStyle::Normal),
        ] {
            let mut want = x.clone();
            ops::rope(&mut want, &cs, style);
            let got = host::view(
                &mut bed.chain,
                v,
                &RopeStepVerifier::ropeCall {
                    y: x.iter().map(|&v| v.try_into().unwrap()).collect(),
                    row: Bytes::from(row.clone()),
                    neox,
                },
            )
            .unwrap();
            let got: Vec<i64> = got.iter().map(|v| i64::try_from(*v).unwrap()).collect();
            assert_eq!(got, want, "vector {i}, neox {neox}");
        }
    }
}

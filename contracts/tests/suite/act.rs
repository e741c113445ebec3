//! `VCacheStepVerifier` (the value entered into the KV cache, per-head Act16) and
//! `ActStepVerifier` (the gated activation with the committed GELU-tanh / SiLU table): real
//! steps of both fixture models, wrong inputs, keys and tables, the arithmetic against the
//! engine on edge cases, and the gas of Gemma 3 270M-sized steps proven at the end of a dispute:
//! `cargo test -p otr-contracts --test contracts act_gas -- --nocapture`.

use crate::common::*;
use otr_contracts::bindings::act_step::ActStepVerifier;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::vcache_step::VCacheStepVerifier;
use otr_contracts::deploy::{act_step_witness, vcache_step_witness, Deployment, Params};
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Address, Bytes, Chain, U256};
use otr_engine::fixed::Act16;
use otr_engine::model::ops;
use otr_engine::model::trace::{layer_op, leaf, StepKey};
use otr_engine::{tables, Config, Kernel, LoadOptions, Model, Sampling};
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

pub(crate) fn gemma() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load("tiny-gemma3"))
}

pub(crate) fn llama() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load("tiny-llama"))
}

pub(crate) fn config_hash(c: &Config) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"OTR/model-config/v1\0")
        .chain_update(c.canonical().as_bytes())
        .finalize()
        .into()
}

pub(crate) fn model_entry(cfg: &Config, root: [u8; 32]) -> ModelRegistry::Model {
    ModelRegistry::Model {
        configHash: config_hash(cfg).into(),
        tokenizerHash: [0x44; 32].into(),
        weightsRoot: root.into(),
        poseidonRoot: [0; 32].into(),
        costWeight: COST_WEIGHT,
        numLayers: cfg.n_layers as u16,
        active: true,
    }
}

/// A chain with a deployment and `model_id` registered with this config and weights root.
pub(crate) struct Bed {
    pub(crate) chain: Chain,
    pub(crate) d: Deployment,
    pub(crate) model_id: [u8; 32],
    pub(crate) weights_root: [u8; 32],
}

impl Bed {
    pub(crate) fn new(cfg: &Config, weights_root: [u8; 32]) -> Bed {
        let mut chain = Chain::new(CHAIN_ID, T0);
        let owner = addr(0xa0);
        chain.set_balance(owner, eth(100));
        let d = Deployment::deploy(&mut chain, owner, &Params::devnet(), T0).unwrap();
        let model_id = [0x5b; 32];
        host::send(
            &mut chain,
            owner,
            d.registry,
            &ModelRegistry::registerModelCall {
                modelId: model_id.into(),
                m: model_entry(cfg, weights_root),
                vks: vec![],
            },
            U256::ZERO,
        )
        .unwrap();
        Bed {
            chain,
            d,
            model_id,
            weights_root,
        }
    }

    pub(crate) fn verify(&mut self, v: Address, out: &[u8], ins: &[Vec<u8>], w: &[u8]) -> bool {
        host::view(
            &mut self.chain,
            v,
            &VCacheStepVerifier::verifyStepCall {
                modelId: self.model_id.into(),
                weightsRoot: self.weights_root.into(),
                outLeaf: Bytes::copy_from_slice(out),
                inLeaves: ins.iter().map(|l| Bytes::copy_from_slice(l)).collect(),
                witness: Bytes::copy_from_slice(w),
            },
        )
        .unwrap()
    }
}

pub(crate) const PROMPT: &[u32] = &[2, 40, 77, 91, 120];

/// One step of a real run: its leaf, its input leaves, the input tensors and the output.
#[derive(Clone)]
struct Case {
    out_leaf: Vec<u8>,
    in_leaves: Vec<Vec<u8>>,
    inputs: Vec<Vec<u8>>,
    output: Vec<u8>,
}

fn case(m: &Model, key: StepKey, in_ops: &[u8]) -> Case {
    let s = Sampling::greedy(2);
    let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
    let digest = |k: StepKey| steps.iter().find(|x| x.0 == k).expect("step").1;
    let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
    let rec = m.step_input(PROMPT, &s, index).unwrap();
    assert_eq!(rec.key, key);
    m.replay_step(&rec).unwrap();
    Case {
        out_leaf: leaf(key, &digest(key)),
        in_leaves: in_ops
            .iter()
            .map(|&op| {
                let k = StepKey { op, ..key };
                leaf(k, &digest(k))
            })
            .collect(),
        inputs: rec.inputs.iter().map(|t| t.bytes()).collect(),
        output: rec.output.bytes(),
    }
}

pub(crate) fn changed_output_leaf(key: StepKey, output: &[u8]) -> Vec<u8> {
    let mut out = output.to_vec();
    let last = out.len() - 1;
    out[last] ^= 1;
    leaf(key, &Sha256::digest(&out).into())
}

/// The stages to try: the first, the last, and a global and a local layer.
pub(crate) fn stages(cfg: &Config) -> Vec<u16> {
    let nl = cfg.n_layers as u16;
    let mut v = vec![1, nl];
    v.extend((1..=nl).find(|&s| cfg.is_global(s as usize - 1)));
    v.extend((1..=nl).find(|&s| !cfg.is_global(s as usize - 1)));
    v.sort();
    v.dedup();
    v
}

#[test]
fn vcache_verifier_accepts_real_steps_of_both_models_and_rejects_wrong_ones() {
    for m in [gemma(), llama()] {
        let cfg = m.config().clone();
        let mut bed = Bed::new(&cfg, m.info().weights_root);
        let v = bed
            .d
            .set_vcache_verifier(&mut bed.chain, bed.model_id)
            .unwrap();
        let conf = cfg.canonical().into_bytes();
        for pos in [0, PROMPT.len() as u32 - 1, PROMPT.len() as u32] {
            for stage in stages(&cfg) {
                let key = StepKey {
                    pos,
                    stage,
                    op: layer_op::V_CACHE,
                };
                let c = case(m, key, &[layer_op::V]);
                let w = vcache_step_witness(&conf, &c.inputs[0]);
                assert!(bed.verify(v, &c.out_leaf, &c.in_leaves, &w), "{key:?}");
                let bad = changed_output_leaf(key, &c.output);
                assert!(!bed.verify(v, &bad, &c.in_leaves, &w), "{key:?}: output");
            }
        }
        let key = StepKey {
            pos: 1,
            stage: 1,
            op: layer_op::V_CACHE,
        };
        let c = case(m, key, &[layer_op::V]);
        let w = vcache_step_witness(&conf, &c.inputs[0]);
        // Input leaf of another operator, stage or position (same digest).
        let d: [u8; 32] = c.in_leaves[0][25..57].try_into().unwrap();
        for k in [
            StepKey {
                op: layer_op::K,
                ..key
            },
            StepKey { stage: 2, ..key },
            StepKey {
                pos: 0,
                op: layer_op::V,
                ..key
            },
        ] {
            assert!(!bed.verify(v, &c.out_leaf, &[leaf(k, &d)], &w), "{k:?}");
        }
        // A changed input value; a config claiming another head count.
        let mut x = c.inputs[0].clone();
        x[3] ^= 1;
        assert!(!bed.verify(
            v,
            &c.out_leaf,
            &c.in_leaves,
            &vcache_step_witness(&conf, &x)
        ));
        let mut other = cfg.clone();
        other.n_kv_heads = cfg.n_kv_heads * 2;
        other.head_dim = cfg.head_dim / 2;
        let wo = vcache_step_witness(other.canonical().as_bytes(), &c.inputs[0]);
        assert!(
            !bed.verify(v, &c.out_leaf, &c.in_leaves, &wo),
            "other config"
        );
        // The right output computed with that head split is not accepted either: the config
        // hash binds the split.
        let split: Vec<u8> = ops::per_head_act(
            &c.inputs[0]
                .chunks(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                .collect::<Vec<_>>(),
            other.n_kv_heads,
        )
        .iter()
        .flat_map(|a| a.bytes())
        .collect();
        let split_leaf = leaf(key, &Sha256::digest(&split).into());
        assert!(!bed.verify(v, &split_leaf, &c.in_leaves, &wo));
        // The operator the verifier is not for.
        let act = StepKey {
            op: layer_op::ACT,
            ..key
        };
        assert!(!bed.verify(v, &leaf(act, &[0; 32]), &c.in_leaves, &w));
    }
}

#[test]
fn act_verifier_accepts_real_steps_of_both_models_and_rejects_wrong_ones() {
    for (m, other) in [(gemma(), llama()), (llama(), gemma())] {
        let cfg = m.config().clone();
        let mut bed = Bed::new(&cfg, m.info().weights_root);
        let v = bed
            .d
            .set_act_verifier(&mut bed.chain, bed.model_id, m.act_table_digest())
            .unwrap();
        let table = m.act_table_bytes();
        let ins = [layer_op::GATE, layer_op::UP];
        for pos in [0, PROMPT.len() as u32 - 1, PROMPT.len() as u32] {
            for stage in stages(&cfg) {
                let key = StepKey {
                    pos,
                    stage,
                    op: layer_op::ACT,
                };
                let c = case(m, key, &ins);
                let w = act_step_witness(&c.inputs[0], &c.inputs[1], &table);
                assert!(bed.verify(v, &c.out_leaf, &c.in_leaves, &w), "{key:?}");
                let bad = changed_output_leaf(key, &c.output);
                assert!(!bed.verify(v, &bad, &c.in_leaves, &w), "{key:?}: output");
            }
        }
        let key = StepKey {
            pos: 2,
            stage: 1,
            op: layer_op::ACT,
        };
        let c = case(m, key, &ins);
        let w = act_step_witness(&c.inputs[0], &c.inputs[1], &table);
        // The other architecture's table; a changed table entry.
        let wt = act_step_witness(&c.inputs[0], &c.inputs[1], &other.act_table_bytes());
        assert!(
            !bed.verify(v, &c.out_leaf, &c.in_leaves, &wt),
            "other table"
        );
        let mut t = table.clone();
        t[100] ^= 1;
        let wt = act_step_witness(&c.inputs[0], &c.inputs[1], &t);
        assert!(
            !bed.verify(v, &c.out_leaf, &c.in_leaves, &wt),
            "changed table"
        );
        // Gate and up swapped (leaves and tensors together).
        let ws = act_step_witness(&c.inputs[1], &c.inputs[0], &table);
        let swapped = vec![c.in_leaves[1].clone(), c.in_leaves[0].clone()];
        assert!(!bed.verify(v, &c.out_leaf, &swapped, &ws), "swapped");
        // Input leaves of another stage or position; one leaf only.
        let moved = |k: StepKey, l: &[u8]| leaf(k, l[25..57].try_into().unwrap());
        for (i, k) in [
            StepKey {
                stage: 2,
                op: layer_op::GATE,
                ..key
            },
            StepKey {
                pos: 1,
                op: layer_op::UP,
                ..key
            },
        ]
        .into_iter()
        .enumerate()
        {
            let mut l = c.in_leaves.clone();
            l[i] = moved(k, &c.in_leaves[i]);
            assert!(!bed.verify(v, &c.out_leaf, &l, &w), "{k:?}");
        }
        assert!(
            !bed.verify(v, &c.out_leaf, &c.in_leaves[..1], &w),
            "one leaf"
        );
        // A changed gate value.
        let mut g = c.inputs[0].clone();
        g[9] ^= 1;
        let wg = act_step_witness(&g, &c.inputs[1], &table);
        assert!(!bed.verify(v, &c.out_leaf, &c.in_leaves, &wg), "gate value");
        // A verifier deployed with another digest.
        let w2 = bed
            .d
            .set_act_verifier(&mut bed.chain, bed.model_id, [7; 32])
            .unwrap();
        assert!(!bed.verify(w2, &c.out_leaf, &c.in_leaves, &w));
    }
}

#[test]
fn act_and_vcache_arithmetic_equal_the_engine_on_edge_cases() {
    let m = gemma();
    let mut bed = Bed::new(m.config(), m.info().weights_root);
    let va = bed
        .d
        .set_act_verifier(&mut bed.chain, bed.model_id, m.act_table_digest())
        .unwrap();
    let vc = bed
        .d
        .set_vcache_verifier(&mut bed.chain, bed.model_id)
        .unwrap();
    let t = tables::tables();
    let mut r = otr_engine::rng::SplitMix(13);
    for (name, tab) in [("gelu", &t.gelu), ("silu", &t.silu)] {
        let bytes = tab.canonical_bytes();
        let shift = 32 - tab.step_bits;
        let hi = tab.lo + (((tab.values.len() - 1) as i64) << shift);
        for i in 0..12 {
            let n = 1 + (r.next() % 40) as usize;
            let mut g: Vec<i64> = (0..n)
                .map(|_| match r.next() % 4 {
                    0 => (r.next() as i64) >> (r.next() % 64),
                    _ => ((r.next() % 80) as i64 - 40) << 32 | (r.next() & 0xffff_ffff) as i64,
                })
                .collect();
            let mut u: Vec<i64> = (0..n)
                .map(|_| (r.next() as i64) >> (r.next() % 64))
                .collect();
            if i % 3 == 0 {
                // The table's ends, the saturation of the product, the extremes.
                let edges = [tab.lo, tab.lo + 1, hi - 1, hi, i64::MAX, i64::MIN, 0];
                for (j, e) in edges.iter().enumerate().take(n) {
                    g[j] = *e;
                }
                u[0] = i64::MAX;
                u[n - 1] = i64::MIN;
            }
            let want = ops::gated(&g, &u, tab);
            let (ok, got) = host::view(
                &mut bed.chain,
                va,
                &ActStepVerifier::gatedCall {
                    gate: Bytes::from(wide(&g)),
                    up: Bytes::from(wide(&u)),
                    table: Bytes::from(bytes.clone()),
                },
            )
            .map(|x| (x._0, x.y))
            .unwrap();
            assert!(ok);
            let got: Vec<i64> = got.iter().map(|v| i64::try_from(*v).unwrap()).collect();
            assert_eq!(got, want, "{name} vector {i}");
        }
        // A malformed table (one entry short).
        let (ok, _) = host::view(
            &mut bed.chain,
            va,
            &ActStepVerifier::gatedCall {
                gate: Bytes::from(wide(&[1])),
                up: Bytes::from(wide(&[1])),
                table: Bytes::from(bytes[..bytes.len() - 8].to_vec()),
            },
        )
        .map(|x| (x._0, x.y))
        .unwrap();
        assert!(!ok);
    }
    for i in 0..16 {
        let heads = 1 + (r.next() % 4) as usize;
        let hd = 1 + (r.next() % 24) as usize;
        let mut x: Vec<i64> = (0..heads * hd)
            .map(|_| (r.next() as i64) >> (r.next() % 64))
            .collect();
        if i % 4 == 0 {
            x[0] = i64::MAX;
            x[heads * hd - 1] = i64::MIN;
        }
        if i % 4 == 1 {
            x.iter_mut().take(hd).for_each(|v| *v = 0);
        }
        let want: Vec<u8> = ops::per_head_act(&x, heads)
            .iter()
            .flat_map(Act16::bytes)
            .collect();
        let got = host::view(
            &mut bed.chain,
            vc,
            &VCacheStepVerifier::perHeadActCall {
                x: Bytes::from(wide(&x)),
                heads: U256::from(heads),
            },
        )
        .unwrap();
        assert_eq!(got.to_vec(), want, "vector {i}");
    }
}

/// A Gemma 3 270M-shaped configuration (18 layers, d_model 640, 4 heads and 1 kv head of 256,
/// FFN 2048).
pub(crate) fn gemma_270m_config() -> Config {
    let mut c = gemma().config().clone();
    c.n_layers = 18;
    c.d_model = 640;
    c.n_heads = 4;
    c.n_kv_heads = 1;
    c.head_dim = 256;
    c.ffn_dim = 2048;
    c.vocab = 262_144;
    c.context_len = 32_768;
    c.eps = 1e-6;
    c
}

/// Plays a dispute over `trace` (the challenger's differs at the last leaf) to its last leaf
/// and proves it; returns the `proveStep` gas, or the error when that transaction fails (out of
/// gas past the cap). The model is registered with `cfg`, `root`; `register` names its verifier.
pub(crate) fn prove_last_leaf(
    cfg: &Config,
    root: [u8; 32],
    trace: &Trace,
    in_idx: &[u64],
    witness: Vec<u8>,
    register: impl FnOnce(&mut World),
) -> Result<u64, String> {
    // The steps at their places in the trace layout (the last position the prompt's last).
    let given: Vec<Vec<u8>> = (0..trace.len()).map(|i| trace.leaf(i).to_vec()).collect();
    let prompt_tokens = given.iter().map(|l| leaf_key(l).pos).max().unwrap() + 1;
    let (trace, at) = in_layout(&given, prompt_tokens, cfg.n_layers as u16);
    let trace = &trace;
    let in_idx: Vec<u64> = in_idx.iter().map(|&i| at[i as usize]).collect();
    let in_idx = &in_idx[..];
    let theirs = last_leaf_changed(trace);
    let mut w = World::new();
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(cfg, root),
            vks: vec![],
        },
    );
    register(&mut w);
    let mut r = receipt(trace, 1, 10, root, T0);
    r.prompt_tokens = prompt_tokens;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, trace, &theirs);
    let out =
        w.d.prove_step(&mut w.chain, w.node, id, trace, in_idx, witness)
            .map_err(|e| e.to_string())?;
    assert_eq!(
        w.d.dispute(&mut w.chain, id).unwrap().phase,
        3,
        "the node won"
    );
    Ok(out.gas_used)
}

/// Gas of Gemma 3 270M-sized `V_CACHE` (1 kv head of 256) and `ACT` (2048 values, the GELU
/// table of 4097 entries supplied whole) steps proven at the end of a dispute. Gate values
/// spread over the table's range and beyond, up values of a real model's magnitudes. Prints
/// table rows for docs/BENCHMARKS.md.
#[test]
fn act_gas() {
    let cfg = gemma_270m_config();
    let root = [0x77; 32];
    let mut r = otr_engine::rng::SplitMix(17);
    let (pos, stage) = (3u32, 2u16);
    let key = |op| StepKey { pos, stage, op };
    let mut lines = Vec::new();

    let v: Vec<i64> = (0..cfg.n_kv_heads * cfg.head_dim)
        .map(|_| (r.next() as i64) >> 26)
        .collect();
    let out: Vec<u8> = ops::per_head_act(&v, cfg.n_kv_heads)
        .iter()
        .flat_map(Act16::bytes)
        .collect();
    let trace = Trace::new(vec![
        leaf(key(layer_op::V), &Sha256::digest(wide(&v)).into()),
        leaf(key(layer_op::V_CACHE), &Sha256::digest(&out).into()),
    ]);
    let w = vcache_step_witness(cfg.canonical().as_bytes(), &wide(&v));
    let wlen = w.len();
    let gas = prove_last_leaf(&cfg, root, &trace, &[0], w, |w| {
        w.d.set_vcache_verifier(&mut w.chain, MODEL_ID).unwrap();
    })
    .unwrap();
    lines.push(format!(
        "| `proveStep`, V_CACHE (per-head Act16), {} x {} values ({wlen} bytes witness) | {gas} |",
        cfg.n_kv_heads, cfg.head_dim
    ));

    let tab = &tables::tables().gelu;
    let n = cfg.ffn_dim;
    // Gate values over [-10, 10) (most inside the table's [-8, 8]), up values |u| < 2^5.
    let g: Vec<i64> = (0..n)
        .map(|_| (r.next() % (20 << 32)) as i64 - (10 << 32))
        .collect();
    let u: Vec<i64> = (0..n).map(|_| (r.next() as i64) >> 27).collect();
    let out = Act16::from_wide(&ops::gated(&g, &u, tab)).bytes();
    let trace = Trace::new(vec![
        leaf(key(layer_op::GATE), &Sha256::digest(wide(&g)).into()),
        leaf(key(layer_op::UP), &Sha256::digest(wide(&u)).into()),
        leaf(key(layer_op::ACT), &Sha256::digest(&out).into()),
    ]);
    let table = tab.canonical_bytes();
    let w = act_step_witness(&wide(&g), &wide(&u), &table);
    let wlen = w.len();
    let gas = prove_last_leaf(&cfg, root, &trace, &[0, 1], w.clone(), |w| {
        w.d.set_act_verifier(&mut w.chain, MODEL_ID, tab.digest())
            .unwrap();
    })
    .unwrap();
    {
        // The parts: the verifier alone, and its arithmetic alone, each by a transaction.
        let mut bed = Bed::new(&cfg, root);
        let v = bed
            .d
            .set_act_verifier(&mut bed.chain, bed.model_id, tab.digest())
            .unwrap();
        let from = addr(0xa0);
        let direct = host::send(
            &mut bed.chain,
            from,
            v,
            &ActStepVerifier::verifyStepCall {
                modelId: bed.model_id.into(),
                weightsRoot: root.into(),
                outLeaf: Bytes::copy_from_slice(trace.leaf(2)),
                inLeaves: vec![
                    Bytes::copy_from_slice(trace.leaf(0)),
                    Bytes::copy_from_slice(trace.leaf(1)),
                ],
                witness: Bytes::from(w.clone()),
            },
            U256::ZERO,
        )
        .unwrap();
        assert!(direct.0);
        let arith = host::send(
            &mut bed.chain,
            from,
            v,
            &ActStepVerifier::gatedCall {
                gate: Bytes::from(wide(&g)),
                up: Bytes::from(wide(&u)),
                table: Bytes::from(table.clone()),
            },
            U256::ZERO,
        )
        .unwrap();
        println!(
            "ACT: verifyStep by a transaction {} gas, gated alone by a transaction {} gas",
            direct.1.gas_used, arith.1.gas_used
        );
    }
    lines.push(format!(
        "| `proveStep`, ACT (GELU-tanh gated, table of {} entries supplied whole), {n} values ({wlen} bytes witness) | {gas} |",
        tab.values.len()
    ));
    // What opening the two entries of every lookup would cost instead: the audit path of one
    // table entry in a tree of `count` leaves, as calldata alone (16 gas per non-zero byte,
    // paths of random-looking hashes), per lookup, before any hashing.
    let depth = usize::BITS - (tab.values.len() - 1).leading_zeros();
    println!(
        "opening instead: {n} lookups x path of {depth} hashes = {} path bytes (calldata alone ~{} gas)",
        n * depth as usize * 32,
        n * depth as usize * 32 * 16
    );
    for l in &lines {
        println!("{l}");
    }
}

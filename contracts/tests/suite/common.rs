//! A world for the contract tests: a chain, a deployment, a registered model, a staked node,
//! and builders for traces, receipts and headers.

#![allow(dead_code)]

use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::wide_add::WideAddStepVerifier;
use otr_contracts::deploy::{deploy_code, Deployment, Params};
use otr_contracts::host::{self, TxOutcome};
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::{Address, Chain, U256};
use otr_core::rollup::{MicroBatchHeader, Receipt, SamplingParams};
use otr_engine::model::trace::{layout_index, StepKey};
use sha2::{Digest, Sha256};

pub const CHAIN_ID: u64 = 31337;
pub const T0: u64 = 1_764_140_000;
pub const MODEL_ID: [u8; 32] = [0x11; 32];
pub const WEIGHTS_ROOT: [u8; 32] = [0x22; 32];
pub const COST_WEIGHT: u64 = 3;
pub const N_LAYERS: u16 = 2;
/// Engine operator codes (engine `trace.rs`).
pub const OP_PROMPT: u8 = 0;
pub const OP_EMBED: u8 = 1;
pub const OP_ATTN_NORM: u8 = 0;
pub const OP_Q: u8 = 1;
pub const OP_O: u8 = 8;
pub const OP_RESID_ATTN: u8 = 9;
pub const OP_DOWN: u8 = 14;
pub const OP_RESID_FFN: u8 = 15;

/// `Result::unwrap_err` for results whose Ok type has no `Debug`.
pub trait Fails {
    fn fails(self) -> otr_contracts::CallError;
}

impl<T> Fails for Result<T, otr_contracts::CallError> {
    fn fails(self) -> otr_contracts::CallError {
        match self {
            Ok(_) => panic!("expected the call to fail"),
            Err(e) => e,
        }
    }
}

pub fn addr(b: u8) -> Address {
    Address::repeat_byte(b)
}

pub fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

pub struct World {
    pub chain: Chain,
    pub d: Deployment,
    pub params: Params,
    pub owner: Address,
    pub node: Address,
    pub challenger: Address,
    pub other: Address,
    pub wide_add: Address,
    /// Header chain state of `node`.
    pub next_seq: u64,
    pub prev_hash: [u8; 32],
}

impl World {
    pub fn new() -> Self {
        Self::with_params(Params::devnet())
    }

    pub fn with_params(params: Params) -> Self {
        let mut chain = Chain::new(CHAIN_ID, T0);
        let owner = addr(0xa0);
        let node = addr(0xb0);
        let challenger = addr(0xc0);
        let other = addr(0xd0);
        for a in [owner, node, challenger, other] {
            chain.set_balance(a, eth(100));
        }
        let d = Deployment::deploy(&mut chain, owner, &params, T0).expect("deploy");
        let (wide_add, _) = deploy_code(&mut chain, owner, &WideAddStepVerifier::BYTECODE, vec![])
            .expect("deploy wide add");
        let mut w = World {
            chain,
            d,
            params,
            owner,
            node,
            challenger,
            other,
            wide_add,
            next_seq: 0,
            prev_hash: [0; 32],
        };
        w.register_model();
        w.d.stake(&mut w.chain, node, eth(2)).expect("stake");
        w
    }

    fn register_model(&mut self) {
        let m = ModelRegistry::Model {
            configHash: [0x33; 32].into(),
            tokenizerHash: [0x44; 32].into(),
            weightsRoot: WEIGHTS_ROOT.into(),
            poseidonRoot: [0x00; 32].into(),
            costWeight: COST_WEIGHT,
            numLayers: N_LAYERS,
            active: true,
        };
        let reg = self.d.registry;
        self.owner_send(
            reg,
            &ModelRegistry::registerModelCall {
                modelId: MODEL_ID.into(),
                m,
                vks: vec![],
            },
        );
        let v = self.wide_add;
        for op in [OP_RESID_ATTN, OP_RESID_FFN] {
            self.owner_send(
                reg,
                &ModelRegistry::setStepVerifierCall {
                    modelId: MODEL_ID.into(),
                    class_: 1,
                    op,
                    verifier: v,
                },
            );
        }
    }

    pub fn owner_send<C: alloy_sol_types::SolCall>(&mut self, to: Address, call: &C) -> TxOutcome {
        host::send(&mut self.chain, self.owner, to, call, U256::ZERO)
            .expect("owner call")
            .1
    }

    /// The next `count` headers of the node's chain, one per receipt list.
    pub fn headers(&mut self, receipt_lists: &[Vec<Receipt>]) -> Vec<MicroBatchHeader> {
        let mut out = Vec::new();
        for rs in receipt_lists {
            let hashes: Vec<[u8; 32]> = rs.iter().map(|r| r.receipt_hash()).collect();
            let h = MicroBatchHeader {
                version: 1,
                chain_id: CHAIN_ID,
                node_address: self.node.0 .0,
                sequence: self.next_seq,
                prev_header_hash: self.prev_hash,
                receipts_root: otr_core::rollup::merkle::root(&hashes),
                receipt_count: rs.len() as u32,
                timestamp: self.chain.timestamp(),
            };
            self.next_seq += 1;
            self.prev_hash = h.header_hash();
            out.push(h);
        }
        out
    }
}

/// A wide tensor's bytes (i64 little-endian).
pub fn wide(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn trace_leaf(pos: u32, stage: u16, op: u8, output: &[u8]) -> Vec<u8> {
    let mut l = b"OTR/trace-step/v1\0".to_vec();
    l.extend_from_slice(&pos.to_be_bytes());
    l.extend_from_slice(&stage.to_be_bytes());
    l.push(op);
    l.extend_from_slice(&Sha256::digest(output));
    l
}

/// A synthetic Llama-style trace in the trace layout (docs/PROTOCOL.md §10): the `PROMPT` leaf,
/// then per position an embedding and per layer the sixteen layer steps, of which `O`,
/// `RESID_ATTN = h + o`, `DOWN` and `RESID_FFN = h1 + d` (element-wise adds) are computed and
/// the others are filler. No head steps: it is the layout of a prompt longer than `positions`
/// (a receipt's `prompt_tokens` must exceed `positions`). `cheat_at = Some((pos, stage))` makes
/// that residual add wrong (and so everything after it). Returns the trace and, per leaf, the
/// tensor bytes.
pub struct SynthTrace {
    pub trace: Trace,
    pub tensors: Vec<Vec<u8>>,
    pub keys: Vec<(u32, u16, u8)>,
}

pub fn synth_trace(positions: u32, cheat_at: Option<(u32, u16)>) -> SynthTrace {
    let mut leaves = Vec::new();
    let mut tensors = Vec::new();
    let mut keys = Vec::new();
    let mut drift = 0i64;
    let mut push = |pos: u32, stage: u16, op: u8, t: Vec<u8>| {
        leaves.push(trace_leaf(pos, stage, op, &t));
        tensors.push(t);
        keys.push((pos, stage, op));
    };
    let prompt: Vec<u8> = (0..positions).flat_map(|p| (p + 7).to_le_bytes()).collect();
    push(0, 0, OP_PROMPT, prompt);
    for pos in 0..positions {
        let mut h: Vec<i64> = (0..8).map(|i| 1000 * pos as i64 + i + drift).collect();
        push(pos, 0, OP_EMBED, wide(&h));
        for stage in 1..=N_LAYERS {
            let filler = |op: u8| wide(&[pos as i64, stage as i64, op as i64]);
            for op in 0..OP_O {
                push(pos, stage, op, filler(op));
            }
            let o: Vec<i64> = h.iter().map(|x| x.wrapping_mul(3) - 7).collect();
            push(pos, stage, OP_O, wide(&o));
            let mut h1: Vec<i64> = h
                .iter()
                .zip(&o)
                .map(|(a, b)| a.saturating_add(*b))
                .collect();
            if cheat_at == Some((pos, stage)) {
                h1[0] += 1;
                drift = 1;
            }
            push(pos, stage, OP_RESID_ATTN, wide(&h1));
            for op in OP_RESID_ATTN + 1..OP_DOWN {
                push(pos, stage, op, filler(op));
            }
            let dn: Vec<i64> = h1.iter().map(|x| x / 2 + 5).collect();
            push(pos, stage, OP_DOWN, wide(&dn));
            let h2: Vec<i64> = h1
                .iter()
                .zip(&dn)
                .map(|(a, b)| a.saturating_add(*b))
                .collect();
            push(pos, stage, OP_RESID_FFN, wide(&h2));
            h = h2;
        }
    }
    SynthTrace {
        trace: Trace::new(leaves),
        tensors,
        keys,
    }
}

/// `trace` with its last leaf's digest changed: the trace of a challenger that disputes exactly
/// that leaf.
pub fn last_leaf_changed(trace: &Trace) -> Trace {
    let mut leaves: Vec<Vec<u8>> = (0..trace.len()).map(|i| trace.leaf(i).to_vec()).collect();
    leaves.last_mut().expect("a leaf")[56] ^= 1;
    Trace::new(leaves)
}

/// The key of a 57-byte trace leaf (the core's parser).
pub fn leaf_key(leaf: &[u8]) -> StepKey {
    let (k, _) = otr_core::zk::statement::trace_leaf(leaf).expect("a trace leaf");
    StepKey {
        pos: k.pos,
        stage: k.stage,
        op: k.op,
    }
}

/// A trace holding `leaves` each at the index the trace layout gives its key (a run with
/// `prompt_tokens` prompt tokens on `n_layers` layers), every other index up to the last of them
/// a filler leaf of the layout's key there. Returns the trace and each given leaf's new index.
/// What a test's hand-made trace needs before its steps can be disputed (`DisputeGame` checks
/// the layout).
pub fn in_layout(leaves: &[Vec<u8>], prompt_tokens: u32, n_layers: u16) -> (Trace, Vec<u64>) {
    let at: Vec<u64> = leaves
        .iter()
        .map(|l| {
            let k = leaf_key(l);
            layout_index(k, prompt_tokens, n_layers)
                .unwrap_or_else(|| panic!("{k:?} is not in the layout"))
        })
        .collect();
    let len = at.iter().max().map_or(0, |m| m + 1);
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(len as usize);
    let last_pos = leaves.iter().map(|l| leaf_key(l).pos).max().unwrap_or(0);
    'keys: for pos in 0..=last_pos {
        let mut keys = Vec::new();
        if pos == 0 {
            keys.push(StepKey {
                pos,
                stage: 0,
                op: 0,
            });
        }
        keys.push(StepKey {
            pos,
            stage: 0,
            op: OP_EMBED,
        });
        for stage in 1..=n_layers {
            keys.extend((0..16).map(|op| StepKey { pos, stage, op }));
        }
        if pos + 1 >= prompt_tokens {
            keys.extend((0..3).map(|op| StepKey {
                pos,
                stage: n_layers + 1,
                op,
            }));
        }
        for k in keys {
            if out.len() as u64 == len {
                break 'keys;
            }
            debug_assert_eq!(
                layout_index(k, prompt_tokens, n_layers),
                Some(out.len() as u64)
            );
            out.push(trace_leaf(k.pos, k.stage, k.op, b"filler"));
        }
    }
    for (l, &i) in leaves.iter().zip(&at) {
        out[i as usize] = l.clone();
    }
    (Trace::new(out), at)
}

impl SynthTrace {
    pub fn index_of(&self, key: (u32, u16, u8)) -> u64 {
        self.keys
            .iter()
            .position(|k| *k == key)
            .expect("key in trace") as u64
    }

    /// The inputs (leaf indices) and witness of the residual add at leaf `i`.
    pub fn resid_witness(&self, i: u64) -> (Vec<u64>, Vec<u8>) {
        let (pos, stage, op) = self.keys[i as usize];
        let (h, o) = match op {
            OP_RESID_ATTN if stage == 1 => (
                self.index_of((pos, 0, OP_EMBED)),
                self.index_of((pos, stage, OP_O)),
            ),
            OP_RESID_ATTN => (
                self.index_of((pos, stage - 1, OP_RESID_FFN)),
                self.index_of((pos, stage, OP_O)),
            ),
            OP_RESID_FFN => (
                self.index_of((pos, stage, OP_RESID_ATTN)),
                self.index_of((pos, stage, OP_DOWN)),
            ),
            _ => panic!("not a residual add: {op}"),
        };
        let w = alloy_sol_types::SolValue::abi_encode_params(&(
            otr_contracts::Bytes::from(self.tensors[h as usize].clone()),
            otr_contracts::Bytes::from(self.tensors[o as usize].clone()),
        ));
        (vec![h, o], w)
    }
}

pub fn receipt(
    trace: &Trace,
    nonce: u8,
    tokens: u32,
    weights_root: [u8; 32],
    created_at: u64,
) -> Receipt {
    Receipt {
        version: 1,
        model_id: MODEL_ID,
        weights_root,
        request_hash: [nonce; 32],
        output_hash: [0x55; 32],
        prompt_tokens: tokens,
        completion_tokens: tokens,
        sampling: SamplingParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 16,
            seed: 7,
        },
        trace_root: trace.root(),
        trace_steps: trace.len(),
        created_at,
    }
}

/// A posted batch: its index, headers and receipts per header.
pub struct Posted {
    pub index: u64,
    pub headers: Vec<MicroBatchHeader>,
    pub receipts: Vec<Vec<Receipt>>,
    pub gas: u64,
}

impl Posted {
    pub fn receipt_ref(&self, header: usize, receipt: usize) -> ReceiptRef {
        ReceiptRef::new(
            self.index,
            &self.headers,
            header,
            &self.receipts[header],
            receipt,
        )
        .expect("ref")
    }
}

impl World {
    pub fn post(&mut self, receipts: Vec<Vec<Receipt>>) -> Posted {
        let headers = self.headers(&receipts);
        let (index, out) = self
            .d
            .post_batch(&mut self.chain, self.node, &headers)
            .expect("post batch");
        Posted {
            index,
            headers,
            receipts,
            gas: out.gas_used,
        }
    }

    /// Posts one batch of one header with the given receipts.
    /// Opens a dispute over the first receipt of `p`, from the challenger with the minimum bond.
    pub fn dispute_first(&mut self, p: &Posted) -> u64 {
        self.d
            .open_dispute(
                &mut self.chain,
                self.challenger,
                &p.receipt_ref(0, 0),
                self.params.min_bond,
            )
            .unwrap()
            .0
    }

    /// Plays dispute `id` down to one step: the node bisects with `node`, the challenger
    /// responds with `theirs`.
    pub fn bisect_to_one_step(&mut self, id: u64, node: &Trace, theirs: &Trace) {
        loop {
            let x = self.d.dispute(&mut self.chain, id).unwrap();
            if x.disagreeSize - x.agreeSize == 1 {
                return;
            }
            self.d.bisect(&mut self.chain, self.node, id, node).unwrap();
            self.d
                .respond(&mut self.chain, self.challenger, id, theirs)
                .unwrap();
        }
    }

    pub fn post_receipts(&mut self, receipts: Vec<Receipt>) -> Posted {
        self.post(vec![receipts])
    }

    pub fn credit(&mut self, who: Address) -> U256 {
        use otr_contracts::bindings::node_staking::NodeStaking;
        host::view(
            &mut self.chain,
            self.d.staking,
            &NodeStaking::creditCall(who),
        )
        .unwrap()
    }

    pub fn stake_of(&mut self, who: Address) -> U256 {
        use otr_contracts::bindings::node_staking::NodeStaking;
        let s = host::view(
            &mut self.chain,
            self.d.staking,
            &NodeStaking::stakesCall(who),
        )
        .unwrap();
        U256::from(s.amount)
    }
}

//! Disputes at matrix-vector steps (docs/PROTOCOL.md §7.9) played by both sides in-process on
//! the embedded revm chain with the tiny Llama fixture model, its real engine and real unit
//! proofs: a frivolous challenger disputes an honest node at `Q`, `O` and `DOWN` steps; the
//! node opens the step (`openMatVec`, its whole output), the challenger recomputes the product
//! with its own engine, finds every row right and names the first unit, the node proves it
//! (`proveUnit`) and wins the bond; a node whose `DOWN` output is wrong in one row is named at
//! that row's unit, cannot prove it and is slashed when its deadline passes. The honest game is
//! also played over JSON-RPC on anvil, where the challenger reads the output with
//! `eth_getLogs`. Keys: the INSECURE public phase 1's initial keys
//! (`otr_zk::ceremony::initial_key`), test keys only.

use std::sync::Arc;

use otr_contracts::deploy::{Deployment, MatVecShape, Params};
use otr_contracts::proofs::{ReceiptRef, Trace};
use otr_contracts::{Address, Chain, Host, U256};
use otr_core::rollup::{MicroBatchHeader, Receipt, SamplingParams};
use otr_node::node::dispute::StepMaterial;
use otr_node::node::dispute::{
    self, leaf_key, op, LeafKey, MatVecReplay, MatVecSetup, Move, Outcome,
};
use otr_node::node::inference::{Inference, RunKind};

const CHAIN_ID: u64 = 31337;
const T0: u64 = 1_764_140_000;
const PROMPT: &str = "The quick brown fox";

fn sampling() -> SamplingParams {
    SamplingParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 3,
        seed: 7,
    }
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// Test keys of shape `(rows, cols, R)` (public INSECURE phase 1, no contribution).
fn test_keys(rows: usize, cols: usize, r: usize) -> otr_zk::keys::Keys {
    let shape = otr_zk::UnitShape::new(rows, cols, r).unwrap();
    let pk = otr_zk::ceremony::initial_key(shape).unwrap();
    let vk = otr_core::zk::PreparedVk::new(pk.vk.clone()).unwrap();
    otr_zk::keys::Keys {
        key_id: vk.key_id(),
        pk,
        vk,
        shape,
    }
}

/// A chain with the fixture Llama model registered as the node registers it, its matrix
/// steps `Q`, `O` (64 x 64) and `DOWN` (64 x 256) named to a `MatVecStepVerifier` with test keys,
/// and a staked node.
struct Bed<H: Host = Chain> {
    e: Arc<dyn Inference>,
    setup: MatVecSetup,
    chain: H,
    d: Deployment,
    params: Params,
    node: Address,
    challenger: Address,
    seq: u64,
    prev: [u8; 32],
}

fn bed() -> Bed {
    let mut chain = Chain::new(CHAIN_ID, T0);
    let (owner, node, challenger) = (
        Address::repeat_byte(0xa0),
        Address::repeat_byte(0xb0),
        Address::repeat_byte(0xc0),
    );
    for a in [owner, node, challenger] {
        chain.set_balance(a, eth(100));
    }
    bed_on(chain, owner, node, challenger)
}

/// The bed on `chain`, where `owner`, `node` and `challenger` can send funded transactions.
fn bed_on<H: Host>(mut chain: H, owner: Address, node: Address, challenger: Address) -> Bed<H> {
    let e: Arc<dyn Inference> =
        otr_node::node::engine_impl::load("fixture-llama", std::path::Path::new("."))
            .expect("load fixture-llama");
    let info = e.info();
    let setup = MatVecSetup::with_keys(
        "fixture-llama",
        vec![test_keys(64, 64, 4), test_keys(64, 256, 4)],
    )
    .unwrap();
    let params = Params::devnet();
    let now = chain.timestamp().unwrap();
    let d = Deployment::deploy(&mut chain, owner, &params, now).unwrap();
    // The registry entry as the node registers it: for a fixture model it carries the matrix
    // commitments' root, which proveUnit opens C_W against.
    let entry = otr_node::node::settlement::registry_entry(&info);
    assert_ne!(entry.poseidonRoot.0, [0u8; 32]);
    otr_contracts::host::send(
        &mut chain,
        owner,
        d.registry,
        &otr_contracts::bindings::model_registry::ModelRegistry::registerModelCall {
            modelId: info.model_id.into(),
            m: entry,
            vks: vec![],
        },
        U256::ZERO,
    )
    .unwrap();
    let rounds = d.deploy_poseidon_rounds(&mut chain).unwrap();
    let mut shapes = Vec::new();
    for (rows, cols, r, vk) in setup.shapes() {
        let g16 = d.deploy_matvec_groth16(&mut chain, vk.vk()).unwrap();
        let ops: &[u8] = if cols == 64 {
            &[op::Q, op::O]
        } else {
            &[op::DOWN]
        };
        for &o in ops {
            shapes.push(MatVecShape {
                stage_class: 1,
                op: o,
                rows: rows as u32,
                cols: cols as u32,
                unit_rows: r as u32,
                verifier: g16,
            });
        }
    }
    d.set_matvec_verifier(&mut chain, info.model_id, rounds, false, &shapes)
        .unwrap();
    d.stake(&mut chain, node, eth(2)).unwrap();
    Bed {
        e,
        setup,
        chain,
        d,
        params,
        node,
        challenger,
        seq: 0,
        prev: [0; 32],
    }
}

impl<H: Host> Bed<H> {
    /// Posts one batch of one header with a receipt per trace (`(root, steps)`); returns
    /// their references.
    fn post(
        &mut self,
        traces: &[(&Trace, &otr_node::node::inference::TracedRun)],
    ) -> Vec<ReceiptRef> {
        let info = self.e.info();
        let receipts: Vec<Receipt> = traces
            .iter()
            .enumerate()
            .map(|(i, (t, run))| Receipt {
                version: 1,
                model_id: info.model_id,
                weights_root: info.weights_root,
                request_hash: [self.seq as u8 * 16 + i as u8 + 1; 32],
                output_hash: run.output_hash,
                prompt_tokens: run.generation.prompt_tokens,
                completion_tokens: run.generation.completion_tokens,
                sampling: sampling(),
                trace_root: t.root(),
                trace_steps: t.len(),
                created_at: self.chain.timestamp().unwrap(),
            })
            .collect();
        let hashes: Vec<[u8; 32]> = receipts.iter().map(|r| r.receipt_hash()).collect();
        let h = MicroBatchHeader {
            version: 1,
            chain_id: CHAIN_ID,
            node_address: self.node.0 .0,
            sequence: self.seq,
            prev_header_hash: self.prev,
            receipts_root: otr_core::rollup::merkle::root(&hashes),
            receipt_count: receipts.len() as u32,
            timestamp: self.chain.timestamp().unwrap(),
        };
        self.seq += 1;
        self.prev = h.header_hash();
        let (index, _) = self
            .d
            .post_batch(&mut self.chain, self.node, std::slice::from_ref(&h))
            .unwrap();
        (0..receipts.len())
            .map(|i| ReceiptRef::new(index, std::slice::from_ref(&h), 0, &receipts, i).unwrap())
            .collect()
    }
}

fn index_of(leaves: &[Vec<u8>], key: LeafKey) -> u64 {
    leaves
        .iter()
        .position(|l| leaf_key(l) == Some(key))
        .expect("key in trace") as u64
}

#[test]
fn an_honest_llama_node_wins_frivolous_disputes_at_matrix_vector_steps() {
    honest_node_wins(bed(), true);
}

/// Anvil's prefunded accounts 0, 1 and 2.
const ANVIL_KEYS: [&str; 3] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// The same game over JSON-RPC on anvil (`scripts/anvil.sh`): the challenger reads the node's
/// output from the chain with `eth_getLogs`.
#[test]
fn an_honest_node_wins_a_matrix_vector_dispute_on_anvil() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/anvil.sh"))
        .arg(port.to_string())
        .env(
            "ANVIL_LOG",
            std::env::temp_dir().join(format!("otr-anvil-matvec-{port}.log")),
        )
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run scripts/anvil.sh");
    assert!(out.status.success(), "scripts/anvil.sh failed");
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .arg(self.0.to_string())
                .status();
        }
    }
    let _stop = Stop(pid);
    let mut host =
        otr_contracts::rpc::RpcHost::connect(&format!("http://127.0.0.1:{port}")).unwrap();
    let [owner, node, challenger] = ANVIL_KEYS.map(|k| {
        host.add_signer(k256::ecdsa::SigningKey::from_slice(&hex::decode(k).unwrap()).unwrap())
    });
    honest_node_wins(bed_on(host, owner, node, challenger), false);
}

/// A frivolous challenger disputes an honest node at `Q` (and, when `all`, at `O` and `DOWN`).
fn honest_node_wins<H: Host>(mut b: Bed<H>, all: bool) {
    let s = sampling();
    let honest = b.e.trace(PROMPT, &s, RunKind::Honest).unwrap();
    let nl = b.e.info().num_layers;
    let pos = honest.generation.prompt_tokens - 1;
    let targets = [
        LeafKey {
            pos,
            stage: 1,
            op: op::Q,
        },
        LeafKey {
            pos: 0,
            stage: nl,
            op: op::O,
        },
        LeafKey {
            pos,
            stage: 2,
            op: op::DOWN,
        },
    ];
    let targets = if all { &targets[..] } else { &targets[..1] };
    let node_trace = Trace::new(honest.leaves.clone());
    let refs = b.post(&vec![(&node_trace, &honest); targets.len()]);
    for (i, key) in targets.iter().enumerate() {
        let at = index_of(&honest.leaves, *key);
        // The challenger's trace is wrong at that leaf; its engine is right.
        let mut theirs = honest.leaves.clone();
        theirs[at as usize][56] ^= 1;
        let theirs = Trace::new(theirs);
        let (node, challenger, params) = (b.node, b.challenger, b.params.clone());
        let id = dispute::open(&mut b.chain, &b.d, challenger, &refs[i], params.min_bond).unwrap();
        let stake0 = b.d.stake_of(&mut b.chain, node).unwrap();
        let credit0 = b.d.credit_of(&mut b.chain, node).unwrap();
        let replay = || dispute::Replay {
            engine: b.e.as_ref(),
            prompt: PROMPT,
            sampling: &s,
            run: RunKind::Honest,
        };
        let mut node_material = MatVecReplay {
            replay: replay(),
            setup: &b.setup,
        };
        let mut challenger_material = MatVecReplay {
            replay: replay(),
            setup: &b.setup,
        };
        let (outcome, moves) = dispute::play_both_with(
            &mut b.chain,
            &b.d,
            id,
            (node, &node_trace, &mut node_material),
            (challenger, &theirs, Some(&mut challenger_material)),
            params.move_timeout,
        )
        .unwrap();
        assert_eq!(outcome, Outcome::NodeWon, "{key:?}: {moves:?}");
        assert!(
            moves.contains(&Move::OpenedMatVec {
                index: at,
                key: *key
            }),
            "{key:?}: {moves:?}"
        );
        // Every row of the node's output is the challenger's own: nothing to point at.
        assert!(
            moves.contains(&Move::NamedUnit {
                row_start: 0,
                wrong_row: None
            }),
            "{key:?}: {moves:?}"
        );
        assert!(
            moves.contains(&Move::ProvedUnit {
                index: at,
                key: *key,
                row_start: 0
            }),
            "{key:?}: {moves:?}"
        );
        assert_eq!(b.d.stake_of(&mut b.chain, node).unwrap(), stake0);
        assert_eq!(
            b.d.credit_of(&mut b.chain, node).unwrap() - credit0,
            params.min_bond * U256::from(params.winner_bps) / U256::from(10_000u64),
            "{key:?}: the node gets its share of the bond"
        );
    }
}

/// A node whose `DOWN` output is wrong in one row (its trace commits to the wrong output):
/// its replay with the true matrices gives it the wrong `y` to publish.
struct WrongRow<'a> {
    inner: MatVecReplay<'a>,
    at: u64,
    row: usize,
}

impl WrongRow<'_> {
    fn wrong(&mut self, index: u64, key: LeafKey) -> Result<Vec<u8>, String> {
        let mut y = self.inner.mat_vec_output(index, key)?;
        if index == self.at {
            y[8 * self.row] ^= 1;
        }
        Ok(y)
    }
}

impl dispute::StepMaterial for WrongRow<'_> {
    fn inputs(&mut self, index: u64) -> Result<Vec<Vec<u8>>, String> {
        self.inner.inputs(index)
    }
    fn norm(&mut self, name: &str) -> Result<otr_node::node::inference::NormOpening, String> {
        self.inner.norm(name)
    }
    fn rope_row(
        &mut self,
        layer: u16,
        pos: u32,
    ) -> Result<otr_node::node::inference::RopeRow, String> {
        self.inner.rope_row(layer, pos)
    }
    fn mat_vec_output(&mut self, index: u64, key: LeafKey) -> Result<Vec<u8>, String> {
        self.wrong(index, key)
    }
    fn mat_vec_unit(
        &mut self,
        index: u64,
        key: LeafKey,
        row_start: u64,
    ) -> Result<otr_contracts::deploy::UnitMove, String> {
        // The only proof it can make is of the true product: proveUnit refuses it (the
        // output does not hash to the node's leaf).
        self.inner.mat_vec_unit(index, key, row_start)
    }
}

#[test]
fn a_node_with_a_wrong_row_is_named_cannot_prove_and_is_slashed() {
    use sha2::Digest;
    let mut b = bed();
    let s = sampling();
    let honest = b.e.trace(PROMPT, &s, RunKind::Honest).unwrap();
    let key = LeafKey {
        pos: 1,
        stage: 3,
        op: op::DOWN,
    };
    let at = index_of(&honest.leaves, key);
    let e = b.e.clone();
    let replay = || dispute::Replay {
        engine: e.as_ref(),
        prompt: PROMPT,
        sampling: &s,
        run: RunKind::Honest,
    };
    // The node's trace commits to its wrong output.
    let bad_y = {
        let mut m = WrongRow {
            inner: MatVecReplay {
                replay: replay(),
                setup: &b.setup,
            },
            at,
            row: 41,
        };
        m.wrong(at, key).unwrap()
    };
    let mut leaves = honest.leaves.clone();
    let n = leaves[at as usize].len();
    leaves[at as usize][n - 32..].copy_from_slice(&sha2::Sha256::digest(&bad_y));
    let node_trace = Trace::new(leaves);
    let refs = b.post(&[(&node_trace, &honest)]);
    let own = Trace::new(honest.leaves.clone());
    let (node, challenger, params) = (b.node, b.challenger, b.params.clone());
    let id = dispute::open(&mut b.chain, &b.d, challenger, &refs[0], params.min_bond).unwrap();
    let stake0 = b.d.stake_of(&mut b.chain, node).unwrap();
    let Bed {
        setup, chain, d, ..
    } = &mut b;
    let mut material = WrongRow {
        inner: MatVecReplay {
            replay: replay(),
            setup,
        },
        at,
        row: 41,
    };
    let mut challenger_material = MatVecReplay {
        replay: replay(),
        setup,
    };
    let (outcome, moves) = dispute::play_both_with(
        chain,
        d,
        id,
        (node, &node_trace, &mut material),
        (challenger, &own, Some(&mut challenger_material)),
        params.move_timeout,
    )
    .unwrap();
    assert_eq!(outcome, Outcome::ChallengerWon, "{moves:?}");
    assert!(
        moves.contains(&Move::OpenedMatVec { index: at, key }),
        "{moves:?}"
    );
    // The challenger found row 41 and named its unit (R = 4: rows 40..43).
    assert!(
        moves.contains(&Move::NamedUnit {
            row_start: 40,
            wrong_row: Some(41)
        }),
        "{moves:?}"
    );
    assert!(
        moves
            .iter()
            .any(|m| matches!(m, Move::CannotProve { index, reason, .. }
            if *index == at && reason.contains("OutputMismatch"))),
        "{moves:?}"
    );
    assert!(!moves.iter().any(|m| matches!(m, Move::ProvedUnit { .. })));
    assert_eq!(
        stake0 - d.stake_of(chain, node).unwrap(),
        params.slash_amount
    );
}

#[test]
fn the_challenger_names_the_unit_of_the_first_wrong_row() {
    let mine: Vec<u8> = (0..64i64).flat_map(|v| v.to_le_bytes()).collect();
    let mut theirs = mine.clone();
    assert_eq!(dispute::first_wrong_row(&theirs, &mine), None);
    theirs[8 * 37 + 3] ^= 1;
    theirs[8 * 50] ^= 1;
    assert_eq!(dispute::first_wrong_row(&theirs, &mine), Some(37));
    assert_eq!(
        dispute::first_wrong_row(&mine[..8 * 10], &mine),
        Some(10),
        "a short output is wrong where it ends"
    );
    // Matrix steps and their inputs.
    let k = |stage, op| LeafKey { pos: 3, stage, op };
    for (o, input) in [
        (op::Q, op::ATTN_NORM),
        (op::K, op::ATTN_NORM),
        (op::V, op::ATTN_NORM),
        (op::O, op::ATTN),
        (op::GATE, op::FFN_NORM),
        (op::UP, op::FFN_NORM),
        (op::DOWN, op::ACT),
    ] {
        assert!(dispute::is_mat_vec(k(2, o), 4));
        assert_eq!(dispute::mat_vec_input(k(2, o)), k(2, input));
    }
    assert!(dispute::is_mat_vec(k(5, op::LOGITS), 4));
    assert_eq!(
        dispute::mat_vec_input(k(5, op::LOGITS)),
        k(5, op::FINAL_NORM)
    );
    for (stage, o) in [
        (2, op::ATTN),
        (2, op::ACT),
        (5, 0),
        (5, 2),
        (0, op::EMBED),
        (0, 1),
    ] {
        assert!(!dispute::is_mat_vec(k(stage, o), 4), "{stage} {o}");
    }
}

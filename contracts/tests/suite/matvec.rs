//! The three moves of a dispute at a matrix-vector step (`openMatVec`, `nameUnit`, `proveUnit`;
//! docs/PROTOCOL.md §7.9) through `MatVecStepVerifier` and `MatVecGroth16Verifier`, with real
//! unit proofs (`otr-zk`, keys of the INSECURE public phase 1: test keys, not a setup):
//! an honest node wins a frivolous dispute; a node with a wrong output row cannot prove the
//! named unit and is slashed at its deadline; wrong bytes, matrix openings, callers and every
//! timeout path. Gas of the moves at Gemma 3 270M's `DOWN` (640 x 2048, R = 4, the committed
//! `fixtures/zk/matvec_r4` proof):
//! `cargo test -p otr-contracts --test contracts matvec_gas -- --nocapture`.

use crate::common::*;
use otr_contracts::bindings::dispute_game::DisputeGame;
use otr_contracts::bindings::matvec_groth16::MatVecGroth16Verifier;
use otr_contracts::bindings::matvec_step::MatVecStepVerifier;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::bindings::spot_checks::SpotChecks;
use otr_contracts::deploy::{MatVecShape, Params, UnitMove};
use otr_contracts::groth16_sol::{inputs_calldata, proof_calldata};
use otr_contracts::host;
use otr_contracts::proofs::Trace;
use otr_contracts::{Address, Bytes, U256};
use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_core::zk::statement::matrix_leaf;
use otr_engine::fixed::Act16;
use otr_engine::weights::QMatrix;
use otr_zk::commit::MatrixTree;
use otr_zk::{testdata, UnitShape};
use rand_chacha::rand_core::SeedableRng;
use std::sync::OnceLock;

const OP_ACT: u8 = 13;
const PHASE_NODE_TO_MOVE: u8 = 1;
const PHASE_CHALLENGER_TO_MOVE: u8 = 2;
const PHASE_NODE_WON: u8 = 3;
const PHASE_CHALLENGER_WON: u8 = 4;

/// One matrix step: the matrix, its tree, the input and the engine's whole output.
struct Step {
    w: QMatrix,
    tree: MatrixTree,
    x: Act16,
    y: Vec<i64>,
    unit_rows: usize,
}

impl Step {
    fn new(rows: usize, cols: usize, unit_rows: usize, seed: u64, mag: i32) -> Step {
        let w = testdata::matrix(rows, cols, seed, &[-9, -8, -10, -7]);
        let x = testdata::input(cols, seed, mag);
        let y = otr_zk::unit::reference_rows(&w, &x, 0, rows);
        Step {
            tree: MatrixTree::new(&w),
            w,
            x,
            y,
            unit_rows,
        }
    }

    fn c_w(&self) -> [u8; 32] {
        scalar_to_be_bytes(&self.tree.commitment())
    }
}

/// The small case: an 8 x 32 `DOWN` matrix of layer 0, R = 4 (two units), and its test keys.
fn small() -> &'static (Step, ark_groth16::ProvingKey<ark_bn254::Bn254>) {
    static S: OnceLock<(Step, ark_groth16::ProvingKey<ark_bn254::Bn254>)> = OnceLock::new();
    S.get_or_init(|| {
        let s = Step::new(8, 32, 4, 3, 2);
        let pk = otr_zk::ceremony::initial_key(UnitShape::new(8, 32, 4).unwrap()).unwrap();
        (s, pk)
    })
}

/// The registry's matrix tree: `blk.0.ffn_down.weight` with `c_w` among `extra` other
/// matrices (names in byte order, made-up commitments).
struct MatrixRoot {
    leaves: Vec<Vec<u8>>,
    names: Vec<String>,
}

impl MatrixRoot {
    fn new(c_w: [u8; 32], extra: usize, name: &str) -> MatrixRoot {
        let mut entries: Vec<(String, [u8; 32])> = vec![(name.into(), c_w)];
        for i in 0..extra {
            entries.push((format!("blk.{}.attn_q.weight", i + 1), [i as u8 + 1; 32]));
        }
        entries.push(("blk.0.ffn_up.weight".into(), [0x0c; 32]));
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        MatrixRoot {
            leaves: entries.iter().map(|(n, c)| matrix_leaf(n, c)).collect(),
            names: entries.into_iter().map(|e| e.0).collect(),
        }
    }

    fn root(&self) -> [u8; 32] {
        otr_core::rollup::merkle::root(&self.leaves)
    }

    /// (index, size, path) of matrix `name`.
    fn opening(&self, name: &str) -> (u64, u64, Vec<[u8; 32]>) {
        let i = self.names.iter().position(|n| n == name).unwrap() as u64;
        let p = otr_core::rollup::merkle::prove(&self.leaves, i).unwrap();
        (p.leaf_index, p.tree_size, p.path)
    }
}

/// A world whose model has the matrix root and a matrix-vector verifier for layer 0's `op`
/// (`DOWN` for disputes, `Q` for spot checks).
struct Bed {
    w: World,
    root: MatrixRoot,
    /// The `MatVecStepVerifier`.
    verifier: Address,
    /// The matrix's name in the root.
    name: &'static str,
}

fn bed(step: &Step, vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>, extra: usize) -> Bed {
    bed_with(step, vk, extra, Params::devnet(), OP_DOWN)
}

/// [`bed`] with deployment parameters `params`, the matrix registered as layer 0's `op`
/// (`OP_DOWN` or `OP_Q`).
fn bed_with(
    step: &Step,
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    extra: usize,
    params: Params,
    op: u8,
) -> Bed {
    let mut w = World::with_params(params);
    let name = if op == OP_Q {
        "blk.0.attn_q.weight"
    } else {
        "blk.0.ffn_down.weight"
    };
    let root = MatrixRoot::new(step.c_w(), extra, name);
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: ModelRegistry::Model {
                configHash: [0x33; 32].into(),
                tokenizerHash: [0x44; 32].into(),
                weightsRoot: WEIGHTS_ROOT.into(),
                poseidonRoot: root.root().into(),
                costWeight: COST_WEIGHT,
                numLayers: N_LAYERS,
                active: true,
            },
            vks: vec![],
        },
    );
    let rounds = w.d.deploy_poseidon_rounds(&mut w.chain).unwrap();
    let g16 = w.d.deploy_matvec_groth16(&mut w.chain, vk).unwrap();
    let shape = MatVecShape {
        stage_class: 1,
        op,
        rows: step.w.rows as u32,
        cols: step.w.cols as u32,
        unit_rows: step.unit_rows as u32,
        verifier: g16,
    };
    let verifier =
        w.d.set_matvec_verifier(&mut w.chain, MODEL_ID, rounds, false, &[shape])
            .unwrap();
    Bed {
        w,
        root,
        verifier,
        name,
    }
}

/// The first four leaves of a trace: `PROMPT` and `EMBED` (filler), `(0, 1, ATTN_NORM) = x`,
/// `(0, 1, Q) = y`, each at its layout index (spot checks).
fn spot_trace(x: &Act16, y: &[i64]) -> Trace {
    Trace::new(vec![
        trace_leaf(0, 0, OP_PROMPT, &[2, 0, 0, 0]),
        trace_leaf(0, 0, OP_EMBED, &wide(&[1, 2, 3])),
        trace_leaf(0, 1, OP_ATTN_NORM, &x.bytes()),
        trace_leaf(0, 1, OP_Q, &wide(y)),
    ])
}

fn trace_leaves(x: &Act16, y: &[i64]) -> Vec<Vec<u8>> {
    vec![
        trace_leaf(0, 0, OP_EMBED, &wide(&[1, 2, 3])),
        trace_leaf(0, 1, OP_ACT, &x.bytes()),
        trace_leaf(0, 1, OP_DOWN, &wide(y)),
    ]
}

/// Index of `(0, 1, ACT)` in [`dispute_trace`].
const ACT_AT: u64 = 15;

/// The same steps at their places in the trace layout (a 10-token prompt, `N_LAYERS` layers),
/// filler leaves between them, ending at `(0, 1, DOWN)`: what a dispute plays over.
fn dispute_trace(x: &Act16, y: &[i64]) -> Trace {
    let (t, at) = in_layout(&trace_leaves(x, y), 10, N_LAYERS);
    assert_eq!(at[1], ACT_AT);
    t
}

impl Bed {
    /// Posts a receipt of `node_trace`, opens a dispute from the challenger (whose trace is
    /// `own`) and bisects to the last leaf. Returns the dispute id.
    fn dispute_to_last_leaf(&mut self, node_trace: &Trace, own: &Trace) -> u64 {
        let w = &mut self.w;
        let p = w.post_receipts(vec![receipt(node_trace, 1, 10, WEIGHTS_ROOT, T0)]);
        let id = w.dispute_first(&p);
        loop {
            let x = w.d.dispute(&mut w.chain, id).unwrap();
            if x.disagreeSize - x.agreeSize == 1 {
                assert_eq!(x.agreeSize, node_trace.len() - 1);
                return id;
            }
            w.d.bisect(&mut w.chain, w.node, id, node_trace).unwrap();
            w.chain.advance(5, 1);
            w.d.respond(&mut w.chain, w.challenger, id, own).unwrap();
            w.chain.advance(5, 1);
        }
    }

    /// Moves the clock to one second before dispute `id`'s move deadline.
    fn almost_deadline(&mut self, id: u64) {
        let dl = self.w.d.move_deadline(&mut self.w.chain, id).unwrap();
        let now = self.w.chain.timestamp();
        assert!(dl > now + 1);
        self.w.chain.advance(dl - now - 1, 1);
    }

    fn phase(&mut self, id: u64) -> u8 {
        self.w.d.dispute(&mut self.w.chain, id).unwrap().phase
    }

    fn unit_move(&self, step: &Step, y: &[i64], proof: [U256; 8]) -> UnitMove {
        let (cw_index, cw_size, cw_path) = self.root.opening(self.name);
        UnitMove {
            x: step.x.bytes(),
            y: wide(y),
            c_w: step.c_w(),
            cw_index,
            cw_size,
            cw_path,
            proof,
        }
    }
}

/// The proof of unit `row_start` of the honest product, EIP-197 order.
fn prove(
    step: &Step,
    pk: &ark_groth16::ProvingKey<ark_bn254::Bn254>,
    row_start: usize,
) -> [U256; 8] {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(row_start as u64 + 11);
    let p = otr_zk::prove::prove_unit(
        pk,
        &step.tree,
        &step.w,
        &step.x,
        step.unit_rows,
        row_start,
        &mut rng,
    )
    .unwrap();
    proof_calldata(&otr_zk::prove::decode_proof(&p.proof).unwrap().0)
}

/// The rows where `y` differs from the engine's product, as the challenger finds them.
fn wrong_units(step: &Step, y: &[i64]) -> Vec<u64> {
    let r = step.unit_rows;
    let mut units: Vec<u64> = (0..y.len())
        .filter(|&i| y[i] != step.y[i])
        .map(|i| (i / r * r) as u64)
        .collect();
    units.dedup();
    units
}

/// The `MatVecOpened` event's `y` for dispute `id`, read back from the chain's logs.
fn opened_y(b: &mut Bed, id: u64) -> Vec<u8> {
    use alloy_sol_types::SolEvent;
    let logs = otr_contracts::host::Host::logs(
        &mut b.w.chain,
        b.w.d.dispute_game,
        DisputeGame::MatVecOpened::SIGNATURE_HASH,
        0,
    )
    .unwrap();
    logs.iter()
        .filter_map(|l| DisputeGame::MatVecOpened::decode_log_data(&l.data).ok())
        .find(|e| e.id == U256::from(id))
        .map(|e| e.y.to_vec())
        .expect("MatVecOpened")
}

#[test]
fn matvec_honest_node_wins_a_frivolous_dispute() {
    let (step, pk) = small();
    let mut b = bed(step, &pk.vk, 3);
    let honest = dispute_trace(&step.x, &step.y);
    // The challenger's own trace differs only at the last leaf: it disputes a correct product.
    let mut mine: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    mine.last_mut().unwrap()[56] ^= 1;
    let id = b.dispute_to_last_leaf(&honest, &Trace::new(mine));
    // The registry names the verifier for layer DOWN; its matrix names are the converted
    // weights' (`otr_zk::step::matrix_name`).
    let v = b.verifier;
    assert_eq!(
        b.w.d
            .step_verifier(&mut b.w.chain, MODEL_ID, 1, OP_DOWN)
            .unwrap(),
        v
    );
    for (class, stage, op, name) in [
        (1u8, 1u16, OP_DOWN, "blk.0.ffn_down.weight"),
        (1, 12, 11, "blk.11.ffn_gate.weight"),
        (1, 2, 1, "blk.1.attn_q.weight"),
        (2, 3, 1, "output.weight"),
    ] {
        let got: Bytes = host::view(
            &mut b.w.chain,
            v,
            &MatVecStepVerifier::matrixNameCall {
                stageClass: class,
                stage,
                op,
            },
        )
        .unwrap();
        assert_eq!(&got[..], name.as_bytes());
    }
    let node_credit = b.w.credit(b.w.node);
    let stake = b.w.stake_of(b.w.node);
    b.w.d
        .open_mat_vec(
            &mut b.w.chain,
            b.w.node,
            id,
            &honest,
            ACT_AT,
            &wide(&step.y),
        )
        .unwrap();
    assert_eq!(b.phase(id), PHASE_CHALLENGER_TO_MOVE);
    // The published y is the node's output; every row is right: the challenger has nothing to
    // point at and names unit 4 anyway.
    let y = opened_y(&mut b, id);
    assert_eq!(y, wide(&step.y));
    let m = b.w.d.mat_vec(&mut b.w.chain, id).unwrap();
    assert_eq!((m.stage, m.rows, m.unitRows), (1, 8, 4));
    b.w.d
        .name_unit(&mut b.w.chain, b.w.challenger, id, 4)
        .unwrap();
    assert_eq!(b.phase(id), PHASE_NODE_TO_MOVE);
    let u = b.unit_move(step, &step.y, prove(step, pk, 4));
    b.w.d.prove_unit(&mut b.w.chain, b.w.node, id, &u).unwrap();
    assert_eq!(b.phase(id), PHASE_NODE_WON);
    // Half the bond to the node, its stake whole.
    assert_eq!(
        b.w.credit(b.w.node) - node_credit,
        b.w.params.min_bond / U256::from(2u64)
    );
    assert_eq!(b.w.stake_of(b.w.node), stake);
}

#[test]
fn matvec_wrong_row_is_caught_and_the_node_is_slashed() {
    let (step, pk) = small();
    let mut b = bed(step, &pk.vk, 0);
    let mut bad_y = step.y.clone();
    bad_y[5] += 1;
    let node_trace = dispute_trace(&step.x, &bad_y);
    let honest = dispute_trace(&step.x, &step.y);
    let id = b.dispute_to_last_leaf(&node_trace, &honest);
    let stake = b.w.stake_of(b.w.node);
    b.w.d
        .open_mat_vec(
            &mut b.w.chain,
            b.w.node,
            id,
            &node_trace,
            ACT_AT,
            &wide(&bad_y),
        )
        .unwrap();
    // The challenger reads y and names the unit with the wrong row.
    let y: Vec<i64> = opened_y(&mut b, id)
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(wrong_units(step, &y), vec![4]);
    b.w.d
        .name_unit(&mut b.w.chain, b.w.challenger, id, 4)
        .unwrap();
    // No proof of the node's rows 4..8 exists: the honest unit's proof is for other output
    // values, and a proof of the other unit is for other rows.
    for row in [4usize, 0] {
        let u = b.unit_move(step, &bad_y, prove(step, pk, row));
        let e = b.w.d.prove_unit(&mut b.w.chain, b.w.node, id, &u).fails();
        assert!(e.is("UnitNotProven"), "{e}");
    }
    // Nor with the honest y (not the node's leaf).
    let u = b.unit_move(step, &step.y, prove(step, pk, 4));
    let e = b.w.d.prove_unit(&mut b.w.chain, b.w.node, id, &u).fails();
    assert!(e.is("OutputMismatch"), "{e}");
    // The deadline passes: the challenger wins and the node is slashed.
    let e = b.w.d.timeout(&mut b.w.chain, b.w.other, id).fails();
    assert!(e.is("TooEarly"), "{e}");
    b.w.chain.advance(b.w.params.move_timeout, 1);
    b.w.d.timeout(&mut b.w.chain, b.w.other, id).unwrap();
    assert_eq!(b.phase(id), PHASE_CHALLENGER_WON);
    assert_eq!(stake - b.w.stake_of(b.w.node), b.w.params.slash_amount);
}

#[test]
fn matvec_moves_reject_wrong_bytes_openings_and_callers() {
    let (step, pk) = small();
    let mut b = bed(step, &pk.vk, 2);
    let honest = dispute_trace(&step.x, &step.y);
    let mut mine: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    mine.last_mut().unwrap()[56] ^= 1;
    let id = b.dispute_to_last_leaf(&honest, &Trace::new(mine));
    let (node, ch) = (b.w.node, b.w.challenger);
    let y = wide(&step.y);

    // A matrix step has no one-move proof.
    let e =
        b.w.d
            .prove_step(&mut b.w.chain, node, id, &honest, &[ACT_AT], vec![])
            .fails();
    assert!(e.is("UseMatVecMoves"), "{e}");
    // openMatVec: only the node; y must be the leaf's output, whole; the input must be ACT.
    let e =
        b.w.d
            .open_mat_vec(&mut b.w.chain, ch, id, &honest, ACT_AT, &y)
            .fails();
    assert!(e.is("NotYourMove"), "{e}");
    let mut y2 = y.clone();
    y2[9] ^= 1;
    let e =
        b.w.d
            .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &y2)
            .fails();
    assert!(e.is("OutputMismatch"), "{e}");
    let e =
        b.w.d
            .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &y[..56])
            .fails();
    assert!(e.is("OutputLength"), "{e}");
    let e =
        b.w.d
            .open_mat_vec(&mut b.w.chain, node, id, &honest, 0, &y)
            .fails();
    assert!(e.is("WrongInputStep"), "{e}");
    // proveUnit and nameUnit before their turn.
    let e = b.w.d.name_unit(&mut b.w.chain, ch, id, 0).fails();
    assert!(e.is("WrongPhase"), "{e}");
    let u = b.unit_move(step, &step.y, prove(step, pk, 4));
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &u).fails();
    assert!(e.is("MatVecUnderway"), "{e}");

    b.w.d
        .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &y)
        .unwrap();
    // The challenger may not bisect-respond now; only it names a unit, and only a unit start.
    let e = b.w.d.respond(&mut b.w.chain, ch, id, &honest).fails();
    assert!(e.is("MatVecUnderway"), "{e}");
    let e = b.w.d.name_unit(&mut b.w.chain, node, id, 4).fails();
    assert!(e.is("NotYourMove"), "{e}");
    for bad in [3u64, 8, 12] {
        let e = b.w.d.name_unit(&mut b.w.chain, ch, id, bad).fails();
        assert!(e.is("NotAUnit"), "{bad}: {e}");
    }
    b.w.d.name_unit(&mut b.w.chain, ch, id, 4).unwrap();
    let e = b.w.d.name_unit(&mut b.w.chain, ch, id, 4).fails();
    assert!(e.is("WrongPhase"), "{e}");
    let e =
        b.w.d
            .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &y)
            .fails();
    assert!(e.is("MatVecUnderway"), "{e}");

    // proveUnit: only the node; x and y against the leaves; C_W under the step's matrix name.
    let e = b.w.d.prove_unit(&mut b.w.chain, ch, id, &u).fails();
    assert!(e.is("NotYourMove"), "{e}");
    let mut bad = u.clone();
    bad.x[4] ^= 1;
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &bad).fails();
    assert!(e.is("InputMismatch"), "{e}");
    bad.x.pop();
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &bad).fails();
    assert!(e.is("InputLength"), "{e}");
    let mut bad = u.clone();
    bad.y[0] ^= 1;
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &bad).fails();
    assert!(e.is("OutputMismatch"), "{e}");
    // Another registered matrix's commitment and opening (ffn_up): not the step's matrix.
    let mut bad = u.clone();
    let (i, n, p) = b.root.opening("blk.0.ffn_up.weight");
    (bad.c_w, bad.cw_index, bad.cw_size, bad.cw_path) = ([0x0c; 32], i, n, p);
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &bad).fails();
    assert!(e.is("RootMismatch"), "{e}");
    let mut bad = u.clone();
    bad.c_w[31] ^= 1;
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &bad).fails();
    assert!(e.is("RootMismatch"), "{e}");
    // A changed proof, a proof of the other unit: not proven. The right one wins.
    let mut bad = u.clone();
    bad.proof[7] += U256::from(1u64);
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &bad).fails();
    assert!(e.is("UnitNotProven"), "{e}");
    let other = b.unit_move(step, &step.y, prove(step, pk, 0));
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &other).fails();
    assert!(e.is("UnitNotProven"), "{e}");
    b.w.d.prove_unit(&mut b.w.chain, node, id, &u).unwrap();
    assert_eq!(b.phase(id), PHASE_NODE_WON);
    let e = b.w.d.prove_unit(&mut b.w.chain, node, id, &u).fails();
    assert!(e.is("WrongPhase"), "{e}");
}

#[test]
fn matvec_timeouts_decide_for_the_side_that_moved_last() {
    let (step, pk) = small();
    let honest = dispute_trace(&step.x, &step.y);
    let mut mine: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    mine.last_mut().unwrap()[56] ^= 1;
    let mine = Trace::new(mine);
    let y = wide(&step.y);
    // 0: the node never opens; 1: the challenger never names a unit; 2: the node never proves.
    for stop in 0..3 {
        let mut b = bed(step, &pk.vk, 0);
        let id = b.dispute_to_last_leaf(&honest, &mine);
        let (node, ch) = (b.w.node, b.w.challenger);
        if stop >= 1 {
            b.w.d
                .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &y)
                .unwrap();
        }
        if stop >= 2 {
            // Each move restarts the clock: a move in the last second of its window counts.
            b.almost_deadline(id);
            b.w.d.name_unit(&mut b.w.chain, ch, id, 0).unwrap();
        }
        b.almost_deadline(id);
        let e = b.w.d.timeout(&mut b.w.chain, b.w.other, id).fails();
        assert!(e.is("TooEarly"), "{stop}: {e}");
        b.w.chain.advance(1, 1);
        // The late move is refused.
        let late = match stop {
            0 => {
                b.w.d
                    .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &y)
                    .fails()
            }
            1 => b.w.d.name_unit(&mut b.w.chain, ch, id, 0).fails(),
            _ => {
                let u = b.unit_move(step, &step.y, prove(step, pk, 0));
                b.w.d.prove_unit(&mut b.w.chain, node, id, &u).fails()
            }
        };
        assert!(late.is("MoveTooLate"), "{stop}: {late}");
        b.w.d.timeout(&mut b.w.chain, b.w.other, id).unwrap();
        let want = if stop == 1 {
            PHASE_NODE_WON
        } else {
            PHASE_CHALLENGER_WON
        };
        assert_eq!(b.phase(id), want, "stop after {stop} moves");
    }
}

#[test]
fn matvec_groth16_verifier_takes_its_key_at_deployment() {
    let (step, pk) = small();
    let mut b = bed(step, &pk.vk, 0);
    let g16 = b.w.d.deploy_matvec_groth16(&mut b.w.chain, &pk.vk).unwrap();
    let words: [U256; 24] = host::view(
        &mut b.w.chain,
        g16,
        &MatVecGroth16Verifier::verifyingKeyCall {},
    )
    .unwrap();
    assert_eq!(words, otr_contracts::groth16_sol::vk_words(&pk.vk).unwrap());
    // A direct check of a unit proof, then changed inputs and a wrong count.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let p = otr_zk::prove::prove_unit(pk, &step.tree, &step.w, &step.x, 4, 0, &mut rng).unwrap();
    let proof = proof_calldata(&otr_zk::prove::decode_proof(&p.proof).unwrap().0);
    let inputs = inputs_calldata(&p.statement.public_inputs());
    let call = |b: &mut Bed, i: Vec<U256>| -> bool {
        host::view(
            &mut b.w.chain,
            g16,
            &MatVecGroth16Verifier::verifyProofCall { proof, input: i },
        )
        .unwrap()
    };
    assert!(call(&mut b, inputs.clone()));
    for k in 0..4 {
        let mut moved = inputs.clone();
        moved[k] += U256::from(1u64);
        assert!(!call(&mut b, moved), "input {k} changed");
    }
    assert!(!call(&mut b, inputs[..3].to_vec()));
    // A key word past the base field is refused at deployment.
    let mut words = otr_contracts::groth16_sol::vk_words(&pk.vk).unwrap();
    words[3] = U256::MAX;
    let args =
        alloy_sol_types::SolConstructor::abi_encode(&MatVecGroth16Verifier::constructorCall {
            vk: words,
        });
    let owner = b.w.owner;
    let e = otr_contracts::deploy::deploy_code(
        &mut b.w.chain,
        owner,
        &MatVecGroth16Verifier::BYTECODE,
        args,
    )
    .fails();
    assert!(matches!(e, otr_contracts::CallError::Revert { .. }), "{e}");
}

/// Gas of the three moves at Gemma 3 270M's `DOWN` step (640 x 2048, R = 4), proving the
/// committed `fixtures/zk/matvec_r4` unit (rows 20..23, seeded matrix and input) with its key,
/// the matrix opened in a tree of 127 matrices (Gemma 3 270M's count: a 7-hash path).
/// The committed `fixtures/zk/matvec_r4` case: Gemma 3 270M's `DOWN` shape (640 x 2048, R = 4),
/// its seeded matrix and input as a step, the key and the proof of rows 20..23.
fn down_fixture() -> (Step, otr_core::zk::PreparedVk, otr_core::zk::Groth16Proof) {
    use otr_core::zk::snarkjs;
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/../fixtures/zk/matvec_r4/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let vk = snarkjs::parse_vk(&fixture("verification_key.json")).unwrap();
    let proof = snarkjs::parse_proof(&fixture("proof.json")).unwrap();
    let w = testdata::matrix(640, 2048, 1, &[-9, -8, -10, -7]);
    let x = testdata::input(2048, 1, 4);
    let step = Step {
        y: otr_zk::unit::reference_rows(&w, &x, 0, 640),
        tree: MatrixTree::new(&w),
        w,
        x,
        unit_rows: 4,
    };
    (step, vk, proof)
}

#[test]
fn matvec_gas() {
    let (step, vk, proof) = down_fixture();
    let mut b = bed(&step, vk.vk(), 125);
    assert_eq!(b.root.leaves.len(), 127);
    let honest = dispute_trace(&step.x, &step.y);
    let mut mine: Vec<Vec<u8>> = (0..honest.len()).map(|i| honest.leaf(i).to_vec()).collect();
    mine.last_mut().unwrap()[56] ^= 1;
    let id = b.dispute_to_last_leaf(&honest, &Trace::new(mine));
    let (node, ch) = (b.w.node, b.w.challenger);
    let open =
        b.w.d
            .open_mat_vec(&mut b.w.chain, node, id, &honest, ACT_AT, &wide(&step.y))
            .unwrap();
    let name = b.w.d.name_unit(&mut b.w.chain, ch, id, 20).unwrap();
    let u = b.unit_move(&step, &step.y, proof_calldata(&proof.0));
    let prove = b.w.d.prove_unit(&mut b.w.chain, node, id, &u).unwrap();
    assert_eq!(b.phase(id), PHASE_NODE_WON);
    println!(
        "| `openMatVec`, DOWN 640 x 2048 (y = 640 values, 5,120 bytes, published in the event), whole transaction | {} |",
        open.gas_used
    );
    println!("| `nameUnit`, whole transaction | {} |", name.gas_used);
    println!(
        "| `proveUnit`, DOWN 640 x 2048, R = 4 (x 4,100 bytes, y 5,120 bytes, C_x of 2048 values, 7-hash matrix path, Groth16), whole transaction | {} |",
        prove.gas_used
    );
    assert!(prove.gas_used < 16_000_000, "{}", prove.gas_used);
}

/// Gas of `proveSpotCheck` at Gemma 3 270M's `DOWN` (640 x 2048, R = 4), with the committed
/// `fixtures/zk/matvec_r4` proof of rows 20..23 (unit 5 of 160): receipts are posted until the
/// seed samples one at the trace's first leaf (so two leaves are skipped on the way to `DOWN`)
/// and draws unit 5 (the contract's draws, so the test searches a batch of 2,400 receipts for
/// one; the receipt's path in its header is 12 hashes).
#[test]
fn matvec_spot_check_gas() {
    let (step, vk, proof) = down_fixture();
    let mut b = bed_with(&step, vk.vk(), 125, all_selected(), OP_Q);
    let honest = spot_trace(&step.x, &step.y);
    let receipts: Vec<_> = (0..2400u64)
        .map(|i| receipt(&honest, (i % 256) as u8, 10, WEIGHTS_ROOT, T0 + i / 256))
        .collect();
    let (p, seed) = spot_batch(&mut b, receipts.clone());
    let i = (0..receipts.len())
        .find(|&i| {
            let rh = receipts[i].receipt_hash();
            draw(&seed, &rh, 1, 4) == 0 && draw(&seed, &rh, 4, 160) == 5
        })
        .expect("a receipt sampled at leaf 0 whose unit is 5");
    let r = p.receipt_ref(0, i);
    let u = b.unit_move(&step, &step.y, proof_calldata(&proof.0));
    let out =
        b.w.d
            .prove_spot_check(&mut b.w.chain, b.w.node, &r, &honest, &[0, 1, 2], 3, 2, &u)
            .unwrap();
    println!(
        "| `proveSpotCheck`, a 640 x 2048 matrix (Gemma 3 270M's `DOWN` shape, registered as layer 0's `Q` so that only non-matrix leaves precede it), R = 4 (receipt in a 2,400-receipt header, three leaves skipped to reach the step, each with its layout checked, x 4,100 bytes, y 5,120 bytes, C_x of 2048 values, 7-hash matrix path, Groth16), whole transaction | {} |",
        out.gas_used
    );
    assert!(out.gas_used < 16_000_000, "{}", out.gas_used);
}

#[test]
fn matvec_step_verifier_checks_its_shapes_at_deployment() {
    let (step, pk) = small();
    let mut b = bed(step, &pk.vk, 0);
    let rounds = b.w.d.deploy_poseidon_rounds(&mut b.w.chain).unwrap();
    let g16 = b.w.d.deploy_matvec_groth16(&mut b.w.chain, &pk.vk).unwrap();
    let good = MatVecShape {
        stage_class: 2,
        op: 1, // LOGITS
        rows: 8,
        cols: 32,
        unit_rows: 4,
        verifier: g16,
    };
    // A tied output: LOGITS multiplies by the embedding.
    let v =
        b.w.d
            .set_matvec_verifier(&mut b.w.chain, MODEL_ID, rounds, true, &[good])
            .unwrap();
    let name: Bytes = host::view(
        &mut b.w.chain,
        v,
        &MatVecStepVerifier::matrixNameCall {
            stageClass: 2,
            stage: N_LAYERS + 1,
            op: 1,
        },
    )
    .unwrap();
    assert_eq!(&name[..], b"token_embd.weight");
    let s: MatVecStepVerifier::Shape = host::view(
        &mut b.w.chain,
        v,
        &MatVecStepVerifier::shapeOfCall {
            stageClass: 2,
            op: 1,
        },
    )
    .unwrap();
    assert_eq!((s.rows, s.cols, s.unitRows, s.verifier), (8, 32, 4, g16));
    // The one-move form refuses every step.
    let e = host::view(
        &mut b.w.chain,
        v,
        &MatVecStepVerifier::verifyStepCall {
            _0: MODEL_ID.into(),
            _1: WEIGHTS_ROOT.into(),
            _2: Bytes::new(),
            _3: vec![],
            _4: Bytes::new(),
        },
    )
    .fails();
    assert!(e.is("UseMatVecMoves"), "{e}");
    // Bad shapes and operators that are not matrix-vector products are refused.
    let bad = [
        (
            MatVecShape {
                unit_rows: 3,
                ..good
            },
            "BadShape",
        ),
        (
            MatVecShape {
                unit_rows: 128,
                rows: 256,
                ..good
            },
            "BadShape",
        ),
        (MatVecShape { rows: 6, ..good }, "BadShape"),
        (MatVecShape { cols: 40, ..good }, "BadShape"),
        (
            MatVecShape {
                verifier: Address::ZERO,
                ..good
            },
            "BadShape",
        ),
        (MatVecShape { op: 2, ..good }, "NotAMatrixOperator"),
        (
            MatVecShape {
                stage_class: 1,
                op: 7,
                ..good
            },
            "NotAMatrixOperator",
        ),
        (
            MatVecShape {
                stage_class: 0,
                op: 1,
                ..good
            },
            "NotAMatrixOperator",
        ),
    ];
    for (shape, want) in bad {
        let e =
            b.w.d
                .set_matvec_verifier(&mut b.w.chain, MODEL_ID, rounds, false, &[shape])
                .fails();
        assert!(e.is(want), "{shape:?}: {e}");
    }
}

/// `keccak256(abi.encode(seed, receiptHash, domain)) mod n`, as `SpotChecks` draws.
fn draw(seed: &[u8; 32], rh: &[u8; 32], domain: u64, n: u64) -> u64 {
    let mut b = Vec::with_capacity(96);
    b.extend_from_slice(seed);
    b.extend_from_slice(rh);
    b.extend_from_slice(&U256::from(domain).to_be_bytes::<32>());
    let h = U256::from_be_bytes(alloy_primitives::keccak256(&b).0);
    (h % U256::from(n)).saturating_to()
}

/// Posts `receipts` in one batch of a bed where every receipt is selected, records its seed
/// and returns the batch with the seed.
fn spot_batch(b: &mut Bed, receipts: Vec<otr_core::rollup::Receipt>) -> (Posted, [u8; 32]) {
    let p = b.w.post_receipts(receipts);
    b.w.chain.advance(30, 3);
    let seed =
        b.w.d
            .record_seed(&mut b.w.chain, b.w.other, p.index)
            .unwrap();
    (p, seed)
}

fn all_selected() -> Params {
    Params {
        rho_ppm: 1_000_000,
        ..Params::devnet()
    }
}

/// A spot check proves the first layer matrix-vector step at or after the index the seed
/// samples, with the unit the seed draws (`selectedUnit`): neither is the node's choice. Every
/// leaf on the way is opened and none may be a matrix step; a node whose output rows are wrong
/// cannot prove its unit and is slashed at the deadline.
#[test]
fn matvec_spot_check_proves_the_unit_the_seed_draws() {
    let (step, pk) = small();
    let mut b = bed_with(step, &pk.vk, 2, all_selected(), OP_Q);
    let honest = spot_trace(&step.x, &step.y);
    let mut bad_y = step.y.clone();
    bad_y[1] += 1; // unit 0
    bad_y[6] -= 1; // unit 1
    let cheat = spot_trace(&step.x, &bad_y);
    let mut receipts: Vec<_> = (0..12)
        .map(|i| receipt(&honest, i, 10, WEIGHTS_ROOT, T0))
        .collect();
    receipts.extend((0..12).map(|i| receipt(&cheat, 100 + i, 10, WEIGHTS_ROOT, T0)));
    // The honest step's leaves under position 1's keys, at position 0's indices: a trace of
    // copies placed where they do not belong.
    let misplaced = Trace::new(vec![
        honest.leaf(0).to_vec(),
        honest.leaf(1).to_vec(),
        trace_leaf(1, 1, OP_ATTN_NORM, &step.x.bytes()),
        trace_leaf(1, 1, OP_Q, &wide(&step.y)),
    ]);
    receipts.push(receipt(&misplaced, 200, 10, WEIGHTS_ROOT, T0));
    let (p, seed) = spot_batch(&mut b, receipts.clone());
    let sampled = |b: &mut Bed, i: usize| -> u64 {
        let rh = receipts[i].receipt_hash();
        let s: u64 = host::view(
            &mut b.w.chain,
            b.w.d.spot_checks,
            &SpotChecks::selectedStepCall {
                batchIndex: U256::from(p.index),
                receiptHash: rh.into(),
                traceSteps: 4,
            },
        )
        .unwrap();
        assert_eq!(s, draw(&seed, &rh, 1, 4));
        s
    };
    // An honest receipt sampled at leaf 0 (PROMPT): leaves 0 to 2 are skipped, Q is proved.
    let good = (0..12)
        .find(|&i| sampled(&mut b, i) == 0)
        .expect("a receipt sampled at leaf 0");
    let (skip, at) = otr_contracts::proofs::spot_check_step(&honest, 0, N_LAYERS).unwrap();
    assert_eq!((skip.as_slice(), at), (&[0u64, 1, 2][..], 3));
    let rh = receipts[good].receipt_hash();
    let unit = b.w.d.selected_unit(&mut b.w.chain, p.index, rh, 2).unwrap();
    assert_eq!(unit, draw(&seed, &rh, 4, 2));
    let r = p.receipt_ref(0, good);
    let node = b.w.node;
    let u = b.unit_move(step, &step.y, prove(step, pk, 4 * unit as usize));
    let send = |b: &mut Bed, skipped: &[u64], at: u64, input: u64, u: &UnitMove| {
        b.w.d
            .prove_spot_check(&mut b.w.chain, node, &r, &honest, skipped, at, input, u)
    };
    // Not starting at the sampled index; stopping before a matrix step; the step is not one.
    let e = send(&mut b, &[], 3, 2, &u).fails();
    assert!(e.is("NotTheSampledStep"), "{e}");
    let e = send(&mut b, &[0], 1, 0, &u).fails();
    assert!(e.is("NotAMatVecStep"), "{e}");
    // A valid proof of the other unit is not the drawn one.
    let other = b.unit_move(step, &step.y, prove(step, pk, 4 * (1 - unit as usize)));
    let e = send(&mut b, &[0, 1, 2], 3, 2, &other).fails();
    assert!(e.is("UnitNotProven"), "{e}");
    // An output that is not the leaf's, an input that is not the step's.
    let mut wrong = u.clone();
    wrong.y[0] ^= 1;
    let e = send(&mut b, &[0, 1, 2], 3, 2, &wrong).fails();
    assert!(e.is("OutputMismatch"), "{e}");
    let e = send(&mut b, &[0, 1, 2], 3, 0, &u).fails();
    assert!(e.is("WrongInputStep"), "{e}");
    send(&mut b, &[0, 1, 2], 3, 2, &u).unwrap();
    let cleared = |b: &mut Bed, rh: [u8; 32]| -> bool {
        host::view(
            &mut b.w.chain,
            b.w.d.spot_checks,
            &SpotChecks::clearedCall {
                batchIndex: U256::from(p.index),
                receiptHash: rh.into(),
            },
        )
        .unwrap()
    };
    assert!(cleared(&mut b, rh));
    let e = send(&mut b, &[0, 1, 2], 3, 2, &u).fails();
    assert!(e.is("AlreadyProved"), "{e}");

    // Steps opened at indices the layout gives other keys are refused, whatever their values.
    let mi = 24;
    let sm = sampled(&mut b, mi);
    let skip: Vec<u64> = (sm..3).collect();
    let um = b.unit_move(
        step,
        &step.y,
        prove(
            step,
            pk,
            4 * draw(&seed, &receipts[mi].receipt_hash(), 4, 2) as usize,
        ),
    );
    let e =
        b.w.d
            .prove_spot_check(
                &mut b.w.chain,
                node,
                &p.receipt_ref(0, mi),
                &misplaced,
                &skip,
                3,
                2,
                &um,
            )
            .fails();
    assert!(e.is("NotInLayout"), "{e}");

    // A receipt sampled at the Q leaf itself may not skip it (wrapping around the trace to
    // reach it again).
    if let Some(i) = (0..12).find(|&i| sampled(&mut b, i) == 3) {
        let ri = p.receipt_ref(0, i);
        let uu = b.unit_move(
            step,
            &step.y,
            prove(
                step,
                pk,
                4 * draw(&seed, &receipts[i].receipt_hash(), 4, 2) as usize,
            ),
        );
        let e =
            b.w.d
                .prove_spot_check(&mut b.w.chain, node, &ri, &honest, &[3, 0, 1, 2], 3, 2, &uu)
                .fails();
        assert!(e.is("SkippedMatVecStep"), "{e}");
        b.w.d
            .prove_spot_check(&mut b.w.chain, node, &ri, &honest, &[], 3, 2, &uu)
            .unwrap();
    }

    // The cheat: whichever unit is drawn has a wrong row, and no proof of the engine's rows
    // matches the published ones.
    let bad = 12;
    let rb = p.receipt_ref(0, bad);
    let rh_bad = receipts[bad].receipt_hash();
    let (skip_b, at_b) =
        otr_contracts::proofs::spot_check_step(&cheat, sampled(&mut b, bad), N_LAYERS).unwrap();
    let unit_b =
        b.w.d
            .selected_unit(&mut b.w.chain, p.index, rh_bad, 2)
            .unwrap();
    let ub = b.unit_move(step, &bad_y, prove(step, pk, 4 * unit_b as usize));
    let e =
        b.w.d
            .prove_spot_check(&mut b.w.chain, node, &rb, &cheat, &skip_b, at_b, 2, &ub)
            .fails();
    assert!(e.is("UnitNotProven"), "{e}");
    assert!(!cleared(&mut b, rh_bad));
    b.w.chain.advance(b.w.params.proof_window, 1);
    let stake = b.w.stake_of(node);
    host::send(
        &mut b.w.chain,
        b.w.other,
        b.w.d.spot_checks,
        &SpotChecks::reportMissedCall { r: (&rb).into() },
        U256::ZERO,
    )
    .unwrap();
    assert_eq!(b.w.stake_of(node), stake - b.w.params.spot_slash);
    // The proved receipt cannot be reported.
    let e = host::send(
        &mut b.w.chain,
        b.w.other,
        b.w.d.spot_checks,
        &SpotChecks::reportMissedCall { r: (&r).into() },
        U256::ZERO,
    )
    .fails();
    assert!(e.is("AlreadyProved"), "{e}");
}

//! A unit proof bound to its answer: the bundle statement (`otr_zk::step::statement`) opens the
//! proved step and its input in the receipt's trace and the matrix commitment in the model's
//! matrix root; `otr_core::verify::verify_bundle_zk` recomputes the public inputs from those
//! bytes. Every way a statement can lie is refused with its code.

mod common;

use otr_core::error::ErrorCode;
use otr_core::rollup::{merkle, Receipt, SamplingParams, ZkProof};
use otr_core::verify::{verify_bundle_zk, VerifyError};
use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_core::zk::statement::matrix_leaf;
use otr_engine::model::trace::{embed_op, layer_op, leaf};
use otr_engine::StepKey;
use otr_zk::prove::{prepared_vk, prove_unit};
use sha2::{Digest, Sha256};

const MATRIX: &str = "blk.2.attn_q.weight";

struct Case {
    receipt: Receipt,
    proof: ZkProof,
    matrix_root: [u8; 32],
}

/// A four-step trace with `(0, 3, ATTN_NORM) = x` and `(0, 3, Q) = W x` (layer 2's query
/// projection), a proof of rows 4..5 and its statement.
fn case() -> Case {
    let d = common::data();
    let x = d.x.bytes();
    let y = otr_zk::commit::wide_bytes(&otr_zk::unit::reference_rows(&d.w, &d.x, 0, d.w.rows));
    let k = |stage, op| StepKey { pos: 0, stage, op };
    let sha = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
    let leaves = vec![
        leaf(k(0, embed_op::EMBED), &sha(b"h")),
        leaf(k(3, layer_op::ATTN_NORM), &sha(&x)),
        leaf(k(3, layer_op::Q), &sha(&y)),
        leaf(k(3, layer_op::K), &sha(b"k")),
    ];
    let p = prove_unit(
        common::pk(),
        &d.tree,
        &d.w,
        &d.x,
        common::R,
        4,
        &mut common::rng(3),
    )
    .unwrap();
    let c_w = scalar_to_be_bytes(&d.tree.commitment());
    let names = ["blk.0.attn_q.weight", MATRIX, "blk.9.ffn_up.weight"];
    let m_leaves: Vec<Vec<u8>> = names
        .iter()
        .map(|n| matrix_leaf(n, if *n == MATRIX { &c_w } else { &[7; 32] }))
        .collect();
    let opening = merkle::prove(&m_leaves, 1).unwrap();
    let statement = otr_zk::step::statement(
        &leaves,
        2,
        1,
        &x,
        &y,
        common::R,
        MATRIX,
        (opening.leaf_index, opening.tree_size, opening.path),
    )
    .unwrap();
    let receipt = Receipt {
        version: 1,
        model_id: [1; 32],
        weights_root: [2; 32],
        request_hash: [3; 32],
        output_hash: [4; 32],
        prompt_tokens: 1,
        completion_tokens: 1,
        sampling: SamplingParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 1,
            seed: 0,
        },
        trace_root: merkle::root(&leaves),
        trace_steps: leaves.len() as u64,
        created_at: 1,
    };
    Case {
        receipt,
        proof: ZkProof {
            circuit_id: prepared_vk(common::pk()).unwrap().key_id(),
            proof: p.proof.to_vec(),
            public_inputs: p.statement.public_inputs_be(),
            statement: Some(statement),
        },
        matrix_root: merkle::root(&m_leaves),
    }
}

fn check(c: &Case, p: &ZkProof) -> Result<otr_core::verify::ProofClaim, VerifyError> {
    let vk = prepared_vk(common::pk()).unwrap();
    verify_bundle_zk(&c.receipt, std::slice::from_ref(p), &[(vk.key_id(), &vk)])
        .map(|mut v| v.remove(0))
}

#[test]
fn a_bound_proof_says_which_step_unit_and_matrix_root() {
    let c = case();
    let claim = check(&c, &c.proof).unwrap();
    let b = claim.bound.expect("bound");
    assert_eq!(b.step_index, 2);
    assert_eq!((b.step.pos, b.step.stage, b.step.op), (0, 3, layer_op::Q));
    assert_eq!(b.matrix, MATRIX);
    assert_eq!((b.row_start, b.unit_rows, b.rows), (4, 2, 8));
    assert_eq!(b.matrix_root, hex::encode(c.matrix_root));
    // Through the bundle codec: the statement survives both forms.
    let json = serde_json::to_string(&c.proof).unwrap();
    let back: ZkProof = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c.proof);
    // Without a statement the proof still verifies, unbound.
    let mut plain = c.proof.clone();
    plain.statement = None;
    assert!(check(&c, &plain).unwrap().bound.is_none());
}

#[test]
fn every_lie_of_a_statement_is_refused_with_its_code() {
    let c = case();
    let code = |p: &ZkProof| match check(&c, p) {
        Err(e @ VerifyError::Statement { .. }) => e.code(),
        other => panic!("expected a statement error, got {other:?}"),
    };
    let with = |f: &dyn Fn(&mut otr_core::rollup::ZkStatement)| {
        let mut p = c.proof.clone();
        f(p.statement.as_mut().unwrap());
        p
    };
    // Leaves not in the receipt's trace.
    assert_eq!(code(&with(&|s| s.step.index = 3)), "ZK_STATEMENT_LEAF");
    assert_eq!(code(&with(&|s| s.input.path.clear())), "ZK_STATEMENT_LEAF");
    assert_eq!(
        code(&with(&|s| s.step.leaf.truncate(40))),
        "ZK_STATEMENT_LEAF"
    );
    // Another matrix than the step's; an input that is not the step's input; the step itself as
    // its own input.
    assert_eq!(
        code(&with(&|s| s.matrix = "blk.1.attn_q.weight".into())),
        "ZK_STATEMENT_STEP"
    );
    // A layer's query projection (op 1) passed off as the head's logits (also op 1, input op 0):
    // the stage alone cannot tell them apart without the model's layer count, but the matrix
    // leaf `output.weight || C_W` then opens to another root than the registry's.
    let p = with(&|s| s.matrix = "output.weight".into());
    let b = check(&c, &p).unwrap().bound.unwrap();
    assert_ne!(b.matrix_root, hex::encode(c.matrix_root));
    assert_eq!(
        code(&with(&|s| s.matrix = "blk.2.ffn_down.weight".into())),
        "ZK_STATEMENT_STEP"
    );
    let leaves_case = c.proof.statement.as_ref().unwrap().clone();
    assert_eq!(
        code(&with(&|s| s.input = leaves_case.step.clone())),
        "ZK_STATEMENT_STEP"
    );
    // Tensors that are not the leaves'.
    assert_eq!(code(&with(&|s| s.x[5] ^= 1)), "ZK_STATEMENT_DIGEST");
    assert_eq!(code(&with(&|s| s.y[0] ^= 1)), "ZK_STATEMENT_DIGEST");
    // Rows per unit that do not match the proof's output commitment, or its row start.
    assert_eq!(
        code(&with(&|s| s.unit_rows = 4)),
        "ZK_STATEMENT_PUBLIC_INPUT"
    );
    assert_eq!(
        code(&with(&|s| s.unit_rows = 3)),
        "ZK_STATEMENT_PUBLIC_INPUT"
    );
    // A malformed matrix opening.
    assert_eq!(code(&with(&|s| s.matrix_size = 0)), "ZK_STATEMENT_MATRIX");
    // A wrong matrix opening opens to another root: bound, but not to the registry's root.
    let p = with(&|s| s.matrix_path[0][0] ^= 1);
    let b = check(&c, &p).unwrap().bound.unwrap();
    assert_ne!(b.matrix_root, hex::encode(c.matrix_root));
    // A statement with the public inputs of another unit (a valid proof of rows 6..7 under the
    // statement of this step is fine; the inputs must match the statement's bytes).
    let mut other = c.proof.clone();
    other.public_inputs[2][31] ^= 1;
    assert!(check(&c, &other).is_err());
}

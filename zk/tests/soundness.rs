//! Soundness: a wrong output, wrong weights, a wrong input commitment, a wrong row or a wrong
//! requantization each leave the circuit unsatisfied (`cs.is_satisfied()` is false, and
//! `prove_witness` refuses with `ZK_UNSATISFIED`); a proof forced out of such a witness, or an
//! honest proof checked against a changed statement, is rejected by the core verifier with
//! `PROOF_INVALID`.

mod common;

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};
use ark_serialize::CanonicalSerialize;
use otr_core::zk::PreparedVk;
use otr_engine::kernels::scalar;
use otr_engine::weights::BLOCK;
use otr_zk::circuit::UnitCircuit;
use otr_zk::commit::{self, MatrixTree};
use otr_zk::prove::{prove_witness, verify_unit};
use otr_zk::unit::{Tamper, UnitWitness};
use otr_zk::{testdata, UnitStatement};

const START: usize = 4;

fn honest() -> UnitWitness {
    let d = common::data();
    UnitWitness::new(&d.tree, &d.w, &d.x, common::R, START).unwrap()
}

fn vk() -> PreparedVk {
    PreparedVk::new(common::pk().vk.clone()).unwrap()
}

/// The circuit rejects `w`; a proof forced out of it does not verify for its statement.
fn rejected(w: UnitWitness, why: &str) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    UnitCircuit::prove(w.clone())
        .generate_constraints(cs.clone())
        .unwrap();
    assert!(!cs.is_satisfied().unwrap(), "{why}: circuit satisfied");
    let err = prove_witness(common::pk(), w.clone(), &mut common::rng(5)).unwrap_err();
    assert_eq!(err.code(), "ZK_UNSATISFIED", "{why}");
    // Bypass the check (arkworks' own prover asserts satisfaction in debug builds): prove
    // from the unsatisfied assignment anyway; the proof must not verify.
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    UnitCircuit::prove(w.clone())
        .generate_constraints(cs.clone())
        .unwrap();
    cs.finalize();
    let matrices = cs.to_matrices().unwrap();
    let assignment = {
        let b = cs.borrow().unwrap();
        [b.instance_assignment.clone(), b.witness_assignment.clone()].concat()
    };
    let forced = Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
        common::pk(),
        Fr::from(11u64),
        Fr::from(13u64),
        &matrices,
        cs.num_instance_variables(),
        cs.num_constraints(),
        &assignment,
    )
    .unwrap();
    let mut bytes = Vec::new();
    forced.serialize_compressed(&mut bytes).unwrap();
    let err = verify_unit(&vk(), &w.statement, &bytes).unwrap_err();
    assert_eq!(err.code(), "PROOF_INVALID", "{why}");
}

#[test]
fn honest_unit_proves_and_verifies() {
    let p = prove_witness(common::pk(), honest(), &mut common::rng(4)).unwrap();
    assert_eq!(p.proof.len(), 128);
    let v = verify_unit(&vk(), &p.statement, &p.proof).unwrap();
    assert_eq!(v.public_inputs, p.statement.public_inputs());
    // The same statement from the trace side (bytes only).
    let d = common::data();
    let st = UnitStatement::from_trace(
        &common::shape(),
        d.tree.commitment(),
        START as u64,
        &d.x.bytes(),
        &p.outputs,
    )
    .unwrap();
    assert_eq!(st, p.statement);
}

#[test]
fn wrong_output() {
    let mut w = honest();
    let mut out = w.outputs.clone();
    out[1] += 1;
    w.statement.output_commitment = commit::output_commitment(&out);
    rejected(w, "output + 1");
}

#[test]
fn wrong_weights() {
    // One weight of the unit's first row changed (the last byte of the row bytes is q).
    let mut w = honest();
    let last = w.rows[0].len() - 1;
    w.rows[0][last] = w.rows[0][last].wrapping_add(1);
    rejected(w, "one weight changed");
    // A block scale changed.
    let mut w = honest();
    w.rows[1][8] ^= 1;
    rejected(w, "block scale changed");
    // The row scale exponent changed.
    let mut w = honest();
    w.rows[0][4] = w.rows[0][4].wrapping_add(1);
    rejected(w, "row exponent changed");
    // A whole other matrix, with its own consistent tree, against the registered commitment.
    let d = common::data();
    let other = testdata::matrix(common::ROWS, common::COLS, 99, &[-8, -3, 2, -20]);
    let other_tree = MatrixTree::new(&other);
    let mut w = UnitWitness::new(&other_tree, &other, &d.x, common::R, START).unwrap();
    w.statement.weights_commitment = d.tree.commitment();
    rejected(w, "other matrix");
}

#[test]
fn wrong_input_commitment() {
    let mut w = honest();
    w.statement.input_commitment += Fr::from(1u64);
    rejected(w, "input commitment + 1");
    // The prover computes on another input than the committed one.
    let mut w = honest();
    w.input_bytes[10] ^= 4;
    rejected(w, "input byte changed");
}

#[test]
fn wrong_row() {
    let mut w = honest();
    w.statement.row_start = (START - common::R) as u64;
    rejected(w, "other unit");
}

#[test]
fn wrong_requantization() {
    // Division witness moved off the true quotient.
    for row in 0..common::R {
        let mut w = honest();
        w.tamper = Tamper::RequantQuotient { row };
        rejected(w, "quotient");
        let mut w = honest();
        w.tamper = Tamper::RoundingBit { row };
        rejected(w, "rounding bit");
    }
    // The outputs of another rounding rule (floor instead of half to even), on every unit
    // where the two differ.
    let d = common::data();
    let nb = d.w.cols / BLOCK;
    let mut differing = 0;
    for start in (0..common::ROWS).step_by(common::R) {
        let mut w = UnitWitness::new(&d.tree, &d.w, &d.x, common::R, start).unwrap();
        let floor: Vec<i64> = (start..start + common::R)
            .map(|r| {
                let acc = scalar::dot(
                    &d.w.q[r * d.w.cols..(r + 1) * d.w.cols],
                    &d.w.bscale[r * nb..(r + 1) * nb],
                    &d.x.q,
                );
                let s = d.w.re[r] + d.x.exp + 32;
                assert!(s < 0, "the test data shifts right");
                ((acc as i128 * d.w.rm[r] as i128) >> (-s)) as i64
            })
            .collect();
        if floor != w.outputs {
            differing += 1;
            w.statement.output_commitment = commit::output_commitment(&floor);
            rejected(w, "floor rounding");
        }
    }
    assert!(
        differing > 0,
        "floor and half-to-even differ somewhere on this data"
    );
}

#[test]
fn honest_proof_against_changed_statements() {
    let p = prove_witness(common::pk(), honest(), &mut common::rng(8)).unwrap();
    let vk = vk();
    type Change = (&'static str, fn(&mut UnitStatement));
    let changes: [Change; 4] = [
        ("weights", |s| s.weights_commitment += Fr::from(1u64)),
        ("row", |s| s.row_start += common::R as u64),
        ("input", |s| s.input_commitment = Fr::from(3u64)),
        ("output", |s| s.output_commitment = -s.output_commitment),
    ];
    for (what, f) in changes {
        let mut st = p.statement;
        f(&mut st);
        let err = verify_unit(&vk, &st, &p.proof).unwrap_err();
        assert_eq!(err.code(), "PROOF_INVALID", "{what}");
    }
    let mut bad = p.proof;
    bad[5] ^= 1;
    assert!(verify_unit(&vk, &p.statement, &bad).is_err());
}

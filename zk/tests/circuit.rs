//! The circuit against the engine: satisfied for honest witnesses of random units, with
//! the outputs of the engine's own matrix product; and the requantization gadget against
//! `shift_sat` on edge cases.

use ark_bn254::Fr;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::R1CSVar;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem};
use otr_engine::fixed::shift_sat;
use otr_engine::kernels::{Exec, Kernel};
use otr_zk::circuit::gadgets::fr_i128;
use otr_zk::circuit::requant::{requant, RequantTamper};
use otr_zk::circuit::UnitCircuit;
use otr_zk::commit::MatrixTree;
use otr_zk::testdata;
use otr_zk::unit::{reference_rows, UnitWitness};

#[test]
fn reference_matches_engine_matmul() {
    for (seed, cols, rows) in [(1u64, 64usize, 16usize), (2, 256, 8), (3, 2048, 4)] {
        let w = testdata::matrix(rows, cols, seed, &[-7, 0, -20, 5]);
        for mag in [-3, 0, 10, 20] {
            let x = testdata::input(cols, seed.wrapping_add(mag as u64), mag);
            let want = Exec::new(Kernel::best(), 1).matmul(&w, std::slice::from_ref(&x));
            let scalar = Exec::new(Kernel::Scalar, 2).matmul(&w, std::slice::from_ref(&x));
            assert_eq!(want, scalar);
            assert_eq!(reference_rows(&w, &x, 0, rows), want[0]);
        }
    }
}

fn satisfied(wit: UnitWitness) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    UnitCircuit::prove(wit)
        .generate_constraints(cs.clone())
        .unwrap();
    cs.is_satisfied().unwrap()
}

#[test]
fn honest_units_satisfy_the_circuit() {
    for (seed, rows, cols, r, scales, mag) in [
        (10u64, 8usize, 64usize, 2usize, vec![-7, -1], 0),
        (11, 16, 96, 4, vec![-30, 3, 12, -12], 15),
        (12, 4, 32, 4, vec![20, 25, 30, 40], 24),
        (13, 8, 32, 1, vec![-60, -45], -20),
    ] {
        let w = testdata::matrix(rows, cols, seed, &scales);
        let x = testdata::input(cols, seed, mag);
        let tree = MatrixTree::new(&w);
        for start in (0..rows).step_by(r) {
            let wit = UnitWitness::new(&tree, &w, &x, r, start).unwrap();
            assert!(satisfied(wit), "seed {seed} row {start}");
        }
    }
}

fn requant_case(acc: i64, m: u32, e: i32, x_exp: i32) {
    let vb = 62 + 11;
    let cs = ConstraintSystem::<Fr>::new_ref();
    let var = |v: i128| FpVar::new_witness(cs.clone(), || Ok(fr_i128(v))).unwrap();
    let (y, _) = requant(
        &cs,
        &var(acc as i128),
        &var(m as i128),
        &var(e as i128),
        &var(x_exp as i128),
        vb,
        RequantTamper::default(),
    )
    .unwrap();
    let want = shift_sat(acc as i128 * m as i128, e + x_exp + 32);
    assert!(
        cs.is_satisfied().unwrap(),
        "acc {acc} m {m} e {e} x_exp {x_exp}"
    );
    assert_eq!(
        y.value().unwrap(),
        fr_i128(want as i128),
        "acc {acc} m {m} e {e} x {x_exp}"
    );
}

#[test]
fn requantization_matches_shift_sat() {
    // |acc| < 2^41 for 2048 columns (the bound the circuit relies on).
    let accs = [
        0i64,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        5,
        -5,
        6,
        -6,
        7,
        1 << 40,
        -(1 << 41) + 1,
        (1 << 41) - 1,
    ];
    let ms = [0u32, 1, 3, 1 << 23, (1 << 24) - 1, u32::MAX];
    let shifts = [
        -2_000_000_000i32,
        -200,
        -76,
        -75,
        -74,
        -73,
        -60,
        -40,
        -33,
        -32,
        -31,
        -2,
        -1,
        0,
        1,
        2,
        20,
        40,
        62,
        63,
        64,
        100,
        2_000_000_000,
    ];
    for &acc in &accs {
        for &m in &ms {
            for &s in &shifts {
                // Split s - 32 between e and x_exp (both i32).
                let total = s as i64 - 32;
                let e = (total / 2) as i32;
                let x = (total - total / 2) as i32;
                requant_case(acc, m, e, x);
            }
        }
    }
}

#[test]
fn requantization_ties_round_to_even() {
    // acc * m = k + 1/2 after the shift: 2^-1 ties.
    for acc in [1i64, 3, 5, -1, -3, -5, 7, 9, -9] {
        requant_case(acc, 1, -33, 0); // shift -1
        requant_case(acc * 2, 1, -34, 0); // shift -2, (2k+1)/2
    }
}

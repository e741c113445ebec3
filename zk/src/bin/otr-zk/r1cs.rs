//! `otr-zk export-r1cs`: the spot-check circuit of a shape as an iden3 `.r1cs` file and one
//! honest witness as a `.wtns` file, so that snarkjs (which reads circom's formats) can set up
//! and prove exactly this circuit: the comparison of proving times (docs/BENCHMARKS.md).
//!
//! Wires: 0 is the constant 1, 1..=4 the public inputs in circuit order, then every witness
//! variable in arkworks order; all witness wires are internal (no private inputs are declared,
//! snarkjs needs none to prove from a complete witness). Numbers are 32-byte little-endian in
//! standard (not Montgomery) form.

use std::io::Write;
use std::path::PathBuf;

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use otr_zk::circuit::UnitCircuit;
use otr_zk::commit::MatrixTree;
use otr_zk::{testdata, UnitShape, UnitWitness, ZkError};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 640)]
    rows: usize,
    #[arg(long, default_value_t = 2048)]
    cols: usize,
    #[arg(long, default_value_t = 1)]
    rows_per_unit: usize,
    /// Output directory: circuit.r1cs, witness.wtns.
    #[arg(long)]
    out: PathBuf,
}

fn fe(x: &Fr) -> Vec<u8> {
    let mut b = x.into_bigint().to_bytes_le();
    b.resize(32, 0);
    b
}

fn modulus() -> Vec<u8> {
    let mut b = Fr::MODULUS.to_bytes_le();
    b.resize(32, 0);
    b
}

fn section(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
}

fn io(e: std::io::Error) -> ZkError {
    ZkError::Io(e.to_string())
}

pub fn run(a: Args) -> Result<(), ZkError> {
    let shape = UnitShape::new(a.rows, a.cols, a.rows_per_unit)?;
    let w = testdata::matrix(a.rows, a.cols, 1, &[-9, -8, -10, -7]);
    let x = testdata::input(a.cols, 1, 4);
    let tree = MatrixTree::new(&w);
    let witness = UnitWitness::new(&tree, &w, &x, shape.rows_per_unit, 0)?;
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
    });
    UnitCircuit::prove(witness).generate_constraints(cs.clone())?;
    cs.finalize();
    if !cs.is_satisfied()? {
        return Err(ZkError::Unsatisfied);
    }
    let m = cs
        .to_matrices()
        .ok_or_else(|| ZkError::Synthesis("no matrices".into()))?;
    let (n_inst, n_wit) = (cs.num_instance_variables(), cs.num_witness_variables());
    let n_wires = n_inst + n_wit;
    let assignment = {
        let cs = cs
            .borrow()
            .ok_or_else(|| ZkError::Synthesis("borrowed".into()))?;
        let mut v = cs.instance_assignment.clone();
        v.extend_from_slice(&cs.witness_assignment);
        v
    };

    // .r1cs: header (1), constraints (2), wire-to-label map (3).
    let mut header = Vec::new();
    header.extend_from_slice(&32u32.to_le_bytes());
    header.extend_from_slice(&modulus());
    header.extend_from_slice(&(n_wires as u32).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // public outputs
    header.extend_from_slice(&((n_inst - 1) as u32).to_le_bytes()); // public inputs
    header.extend_from_slice(&0u32.to_le_bytes()); // private inputs
    header.extend_from_slice(&(n_wires as u64).to_le_bytes()); // labels
    header.extend_from_slice(&(m.num_constraints as u32).to_le_bytes());
    let mut cons = Vec::new();
    for i in 0..m.num_constraints {
        for lc in [&m.a[i], &m.b[i], &m.c[i]] {
            cons.extend_from_slice(&(lc.len() as u32).to_le_bytes());
            for (coeff, idx) in lc {
                cons.extend_from_slice(&(*idx as u32).to_le_bytes());
                cons.extend_from_slice(&fe(coeff));
            }
        }
    }
    let mut labels = Vec::with_capacity(8 * n_wires);
    for i in 0..n_wires as u64 {
        labels.extend_from_slice(&i.to_le_bytes());
    }
    let mut r1cs = b"r1cs".to_vec();
    r1cs.extend_from_slice(&1u32.to_le_bytes());
    r1cs.extend_from_slice(&3u32.to_le_bytes());
    section(&mut r1cs, 1, &header);
    section(&mut r1cs, 2, &cons);
    section(&mut r1cs, 3, &labels);

    // .wtns (version 2): header (1), values (2).
    let mut wh = Vec::new();
    wh.extend_from_slice(&32u32.to_le_bytes());
    wh.extend_from_slice(&modulus());
    wh.extend_from_slice(&(n_wires as u32).to_le_bytes());
    let mut wv = Vec::with_capacity(32 * n_wires);
    for v in &assignment {
        wv.extend_from_slice(&fe(v));
    }
    let mut wtns = b"wtns".to_vec();
    wtns.extend_from_slice(&2u32.to_le_bytes());
    wtns.extend_from_slice(&2u32.to_le_bytes());
    section(&mut wtns, 1, &wh);
    section(&mut wtns, 2, &wv);

    std::fs::create_dir_all(&a.out).map_err(io)?;
    std::fs::File::create(a.out.join("circuit.r1cs"))
        .and_then(|mut f| f.write_all(&r1cs))
        .map_err(io)?;
    std::fs::File::create(a.out.join("witness.wtns"))
        .and_then(|mut f| f.write_all(&wtns))
        .map_err(io)?;
    println!(
        "{} constraints, {} wires ({} public inputs) -> {}",
        m.num_constraints,
        n_wires,
        n_inst - 1,
        a.out.display()
    );
    Ok(())
}

//! `otr-zk fixture`: a real proof of one unit, in snarkjs JSON, for verifiers elsewhere (the
//! generated Solidity verifier on revm, the WASM verifier, snarkjs). Deterministic inputs: the
//! benchmark's random matrix and input (seed 1), unit `--unit`; the key is the initial key of
//! the public (INSECURE) phase 1 with no contribution — a test fixture, not a setup.

use std::path::PathBuf;

use otr_zk::ceremony::{initial_key, CIRCUIT_VERSION};
use otr_zk::commit::MatrixTree;
use otr_zk::prove::{decode_proof, prove_unit, verify_unit};
use otr_zk::{testdata, UnitShape, ZkError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 640)]
    rows: usize,
    #[arg(long, default_value_t = 2048)]
    cols: usize,
    #[arg(long, default_value_t = 4)]
    rows_per_unit: usize,
    /// Which unit (block of R rows) to prove.
    #[arg(long, default_value_t = 5)]
    unit: usize,
    /// Output directory (verification_key.json, proof.json, public.json, case.json).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<(), ZkError> {
    let shape = UnitShape::new(a.rows, a.cols, a.rows_per_unit)?;
    let w = testdata::matrix(a.rows, a.cols, 1, &[-9, -8, -10, -7]);
    let x = testdata::input(a.cols, 1, 4);
    let tree = MatrixTree::new(&w);
    eprintln!(
        "initial key for {} x {}, R = {} ...",
        a.rows, a.cols, a.rows_per_unit
    );
    let pk = initial_key(shape)?;
    let row = a.unit * a.rows_per_unit;
    eprintln!("proving rows {row}..{} ...", row + a.rows_per_unit);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let p = prove_unit(&pk, &tree, &w, &x, a.rows_per_unit, row, &mut rng)?;
    let vk = otr_core::zk::PreparedVk::new(pk.vk.clone())?;
    let ok = verify_unit(&vk, &p.statement, &p.proof)?;
    std::fs::create_dir_all(&a.out).map_err(|e| ZkError::Io(e.to_string()))?;
    let case = serde_json::json!({
        "circuit": CIRCUIT_VERSION,
        "shape": {"matrix_rows": a.rows, "cols": a.cols, "rows_per_unit": a.rows_per_unit},
        "matrix": "otr_zk::testdata::matrix(rows, cols, 1, &[-9, -8, -10, -7])",
        "input": "otr_zk::testdata::input(cols, 1, 4)",
        "row": row,
        "outputs": p.outputs,
        "key_id": hex::encode(ok.key_id),
        "proof_hex": hex::encode(p.proof),
        "setup": "initial key of the public phase 1 (INSECURE), no contribution: a test fixture",
        "prover_rng": "ChaCha20Rng::seed_from_u64(7)",
    });
    let files = [
        (
            "verification_key.json",
            otr_core::zk::snarkjs::vk_to_json(vk.vk()),
        ),
        (
            "proof.json",
            otr_core::zk::snarkjs::proof_to_json(&decode_proof(&p.proof)?),
        ),
        (
            "public.json",
            otr_core::zk::snarkjs::public_inputs_to_json(&p.statement.public_inputs()),
        ),
        (
            "case.json",
            serde_json::to_string_pretty(&case).unwrap_or_default(),
        ),
    ];
    for (name, text) in files {
        let f = a.out.join(name);
        std::fs::write(&f, text + "\n")
            .map_err(|e| ZkError::Io(format!("{}: {e}", f.display())))?;
    }
    println!("key {} -> {}", hex::encode(ok.key_id), a.out.display());
    Ok(())
}

//! `fixtures/zk/matvec_r4`: the committed proof verifies in otr-core, and its public inputs are
//! the statement of rows 20..23 of the seeded matrix and input it names.

use otr_core::zk::snarkjs;
use otr_zk::commit::MatrixTree;
use otr_zk::{testdata, UnitShape, UnitStatement};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../fixtures/zk/matvec_r4/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn matvec_r4_fixture_is_the_seeded_unit() {
    let vk = snarkjs::parse_vk(&fixture("verification_key.json")).unwrap();
    let proof = snarkjs::parse_proof(&fixture("proof.json")).unwrap();
    let inputs = snarkjs::parse_public_inputs(&fixture("public.json")).unwrap();
    let ok = vk.verify(&proof, &inputs).unwrap();
    let case: serde_json::Value = serde_json::from_str(&fixture("case.json")).unwrap();
    assert_eq!(case["key_id"], hex::encode(ok.key_id));

    let (rows, cols, r) = (640, 2048, 4);
    let w = testdata::matrix(rows, cols, 1, &[-9, -8, -10, -7]);
    let x = testdata::input(cols, 1, 4);
    let out = otr_zk::unit::reference_rows(&w, &x, 20, r);
    let st = UnitStatement::from_trace(
        &UnitShape::new(rows, cols, r).unwrap(),
        MatrixTree::new(&w).commitment(),
        20,
        &x.bytes(),
        &out,
    )
    .unwrap();
    assert_eq!(st.public_inputs(), inputs);
    let want: Vec<i64> = serde_json::from_value(case["outputs"].clone()).unwrap();
    assert_eq!(out, want);
    // A changed public input is rejected.
    let mut moved = inputs.clone();
    moved[1] += otr_core::zk::Fr::from(4u64);
    assert_eq!(
        otr_core::ErrorCode::code(&vk.verify(&proof, &moved).unwrap_err()),
        "PROOF_INVALID"
    );
}

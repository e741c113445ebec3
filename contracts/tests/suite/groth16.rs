//! The generated Groth16 verifier contract against the snarkjs muladd fixture.

use crate::common::*;
use otr_contracts::bindings::groth16_muladd::Groth16VerifierMulAdd;
use otr_contracts::deploy::deploy_code;
use otr_contracts::groth16_sol::{inputs_calldata, proof_calldata, render_verifier};
use otr_contracts::{host, Address, Chain, U256};
use otr_core::zk::snarkjs;

fn fixture(name: &str) -> String {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/zk/snarkjs_muladd/"
    );
    std::fs::read_to_string(format!("{p}{name}")).unwrap()
}

pub struct MulAdd {
    pub chain: Chain,
    pub verifier: Address,
    pub proof: [U256; 8],
    pub inputs: Vec<U256>,
}

pub fn muladd() -> MulAdd {
    let proof = snarkjs::parse_proof(&fixture("proof.json")).unwrap();
    let inputs = snarkjs::parse_public_inputs(&fixture("public.json")).unwrap();
    let mut chain = Chain::new(CHAIN_ID, T0);
    let (verifier, _) = deploy_code(
        &mut chain,
        addr(1),
        &Groth16VerifierMulAdd::BYTECODE,
        vec![],
    )
    .unwrap();
    MulAdd {
        chain,
        verifier,
        proof: proof_calldata(&proof.0),
        inputs: inputs_calldata(&inputs),
    }
}

impl MulAdd {
    /// (result, gas of the whole transaction).
    pub fn verify(&mut self, proof: [U256; 8], inputs: Vec<U256>) -> (bool, u64) {
        let call = Groth16VerifierMulAdd::verifyProofCall {
            proof,
            input: inputs,
        };
        let (ok, out) =
            host::send(&mut self.chain, addr(2), self.verifier, &call, U256::ZERO).unwrap();
        (ok, out.gas_used)
    }
}

#[test]
fn generated_verifier_is_reproduced_from_the_key() {
    let vk = snarkjs::parse_vk(&fixture("verification_key.json")).unwrap();
    let sol = render_verifier(&vk, "Groth16VerifierMulAdd").unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/generated/Groth16VerifierMulAdd.sol"
    ))
    .unwrap();
    assert!(sol == committed, "regenerate with: cargo run -p otr-contracts --bin otr-contracts -- gen-verifier --snarkjs-vk fixtures/zk/snarkjs_muladd/verification_key.json --name Groth16VerifierMulAdd --out contracts/src/generated/Groth16VerifierMulAdd.sol");
    assert!(render_verifier(&vk, "1bad").is_err());
}

#[test]
fn snarkjs_proof_verifies_on_chain_and_tampering_fails() {
    let mut m = muladd();
    // Core agrees that the fixture is valid.
    let vk = snarkjs::parse_vk(&fixture("verification_key.json")).unwrap();
    let proof = snarkjs::parse_proof(&fixture("proof.json")).unwrap();
    let inputs = snarkjs::parse_public_inputs(&fixture("public.json")).unwrap();
    vk.verify(&proof, &inputs).unwrap();
    let key_id: otr_contracts::B256 = host::view(
        &mut m.chain,
        m.verifier,
        &Groth16VerifierMulAdd::KEY_IDCall {},
    )
    .unwrap();
    assert_eq!(key_id.0, vk.key_id());

    let (ok, gas) = m.verify(m.proof, m.inputs.clone());
    assert!(ok, "gas {gas}");
    assert!(gas < 260_000, "gas {gas}");
    println!("groth16 verifyProof (2 public inputs): {gas} gas per transaction");

    // A wrong public input (z = 34).
    let mut bad = m.inputs.clone();
    bad[0] = U256::from(34u64);
    assert!(!m.verify(m.proof, bad).0);
    // Inputs swapped.
    assert!(!m.verify(m.proof, vec![m.inputs[1], m.inputs[0]]).0);
    // A non-canonical input (x + r).
    let r = U256::from_str_radix(
        "21888242871839275222246405745257275088548364400416034343698204186575808495617",
        10,
    )
    .unwrap();
    assert!(!m.verify(m.proof, vec![m.inputs[0] + r, m.inputs[1]]).0);
    // Wrong input count.
    assert!(!m.verify(m.proof, vec![m.inputs[0]]).0);
    // Tampered proof points: C replaced by A, B's coordinates in the JSON order, a point off the curve.
    let mut p = m.proof;
    p[6] = m.proof[0];
    p[7] = m.proof[1];
    assert!(!m.verify(p, m.inputs.clone()).0);
    let mut p = m.proof;
    p.swap(2, 3);
    p.swap(4, 5);
    assert!(!m.verify(p, m.inputs.clone()).0);
    let mut p = m.proof;
    p[1] += U256::from(1u64);
    assert!(!m.verify(p, m.inputs.clone()).0);
}

//! EVM gas of verifying a real spot-check proof: one R = 4 unit of the 640 x 2048 matrix-vector
//! circuit (`fixtures/zk/matvec_r4`, made by `otr-zk fixture`), checked by the Solidity verifier
//! generated from its key (`contracts/src/generated/Groth16VerifierMatvecR4.sol`) on revm.
//! Prints the gas of the whole `verifyProof` transaction (docs/BENCHMARKS.md, "ZK spot-checks").

use otr_contracts::deploy::deploy_code;
use otr_contracts::groth16_sol::{inputs_calldata, proof_calldata, render_verifier};
use otr_contracts::{host, Address, Chain, U256};
use otr_core::zk::snarkjs;

alloy_sol_types::sol!(
    #[sol(all_derives)]
    Groth16VerifierMatvecR4,
    "artifacts/Groth16VerifierMatvecR4.json"
);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../fixtures/zk/matvec_r4/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn addr(b: u8) -> Address {
    Address::from([b; 20])
}

#[test]
fn matvec_r4_proof_verifies_on_chain_within_the_gas_goal() {
    let vk = snarkjs::parse_vk(&fixture("verification_key.json")).unwrap();
    let proof = snarkjs::parse_proof(&fixture("proof.json")).unwrap();
    let inputs = snarkjs::parse_public_inputs(&fixture("public.json")).unwrap();
    assert_eq!(inputs.len(), 4);
    vk.verify(&proof, &inputs).unwrap();
    // The committed contract is the generator's output for this key.
    let sol = render_verifier(&vk, "Groth16VerifierMatvecR4").unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/generated/Groth16VerifierMatvecR4.sol"
    ))
    .unwrap();
    assert!(sol == committed, "regenerate with: cargo run -p otr-contracts --bin otr-contracts -- gen-verifier --snarkjs-vk fixtures/zk/matvec_r4/verification_key.json --name Groth16VerifierMatvecR4 --out contracts/src/generated/Groth16VerifierMatvecR4.sol");

    let mut chain = Chain::new(31337, 1_764_140_000);
    let (verifier, _) = deploy_code(
        &mut chain,
        addr(1),
        &Groth16VerifierMatvecR4::BYTECODE,
        vec![],
    )
    .unwrap();
    let mut call = |p: [U256; 8], i: Vec<U256>| {
        let c = Groth16VerifierMatvecR4::verifyProofCall { proof: p, input: i };
        let (ok, out) = host::send(&mut chain, addr(2), verifier, &c, U256::ZERO).unwrap();
        (ok, out.gas_used)
    };
    let (p, i) = (proof_calldata(&proof.0), inputs_calldata(&inputs));
    let (ok, gas) = call(p, i.clone());
    assert!(
        ok,
        "the generated verifier rejects a proof otr-core accepts"
    );
    println!("| Groth16 verifyProof, spot-check unit R = 4 (640 x 2048, 4 public inputs), whole transaction | {gas} |");
    assert!(gas < 250_000, "{gas} gas, goal < 250k");
    // Another unit's row for the same proof, and a changed proof coordinate: rejected.
    let mut moved = i.clone();
    moved[1] += U256::from(4u64);
    assert!(!call(p, moved).0);
    let mut bad = p;
    bad[7] += U256::from(1u64);
    assert!(!call(bad, i).0);
}

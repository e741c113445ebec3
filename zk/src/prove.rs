//! Proving and verification of units.
//!
//! Verification goes through `otr_core::zk::PreparedVk` — the code the WASM verifier and the
//! node run — with the statement's four public inputs.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, ProvingKey};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use ark_serialize::{CanonicalSerialize, Compress};
use ark_std::rand::{CryptoRng, RngCore};
use ark_std::UniformRand;
use otr_core::zk::groth16::Groth16Proof;
use otr_core::zk::{PreparedVk, VerifiedProof};
use otr_engine::fixed::Act16;
use otr_engine::weights::QMatrix;

use crate::circuit::UnitCircuit;
use crate::commit::MatrixTree;
use crate::error::ZkError;
use crate::unit::{UnitStatement, UnitWitness};

/// Size of a compressed proof.
pub const PROOF_LEN: usize = 128;

/// A proof of one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitProof {
    /// Compressed Groth16 proof `A || B || C` (`docs/PROTOCOL.md` §7.1).
    pub proof: [u8; PROOF_LEN],
    /// The statement (its public inputs: [`UnitStatement::public_inputs`]).
    pub statement: UnitStatement,
    /// The unit's output slice (the engine's values).
    pub outputs: Vec<i64>,
}

/// Synthesizes the witness, checks every constraint, then proves.
/// A witness that does not satisfy the circuit is [`ZkError::Unsatisfied`] (no proof is made).
pub fn prove_witness<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    witness: UnitWitness,
    rng: &mut R,
) -> Result<UnitProof, ZkError> {
    let statement = witness.statement;
    let outputs = witness.outputs.clone();
    let proof = prove_circuit(pk, UnitCircuit::prove(witness), rng)?;
    Ok(UnitProof {
        proof,
        statement,
        outputs,
    })
}

/// Synthesizes a unit circuit (four public inputs) with its witness, checks every constraint
/// ([`ZkError::Unsatisfied`] otherwise, and no proof is made), and proves it with `pk`:
/// the compressed 128-byte proof.
pub(crate) fn prove_circuit<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    circuit: C,
    rng: &mut R,
) -> Result<[u8; PROOF_LEN], ZkError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    if !cs.is_satisfied()? {
        return Err(ZkError::Unsatisfied);
    }
    let matrices = cs
        .to_matrices()
        .ok_or_else(|| ZkError::Synthesis("no constraint matrices".into()))?;
    let num_inputs = cs.num_instance_variables();
    let num_constraints = cs.num_constraints();
    let assignment = {
        let cs = cs
            .borrow()
            .ok_or_else(|| ZkError::Synthesis("constraint system borrowed".into()))?;
        let mut a = cs.instance_assignment.clone();
        a.extend_from_slice(&cs.witness_assignment);
        a
    };
    if num_inputs != 5 || pk.vk.gamma_abc_g1.len() != num_inputs {
        return Err(ZkError::Shape(
            "the proving key is not for this circuit (public input count)".into(),
        ));
    }
    let (r, s) = (Fr::rand(rng), Fr::rand(rng));
    let proof = Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
        pk,
        r,
        s,
        &matrices,
        num_inputs,
        num_constraints,
        &assignment,
    )?;
    let mut bytes = Vec::with_capacity(PROOF_LEN);
    proof
        .serialize_with_mode(&mut bytes, Compress::Yes)
        .map_err(|e| ZkError::Synthesis(e.to_string()))?;
    bytes
        .try_into()
        .map_err(|_| ZkError::Synthesis("proof is not 128 bytes".into()))
}

/// Proves unit `row_start` (rows `row_start .. row_start + R`) of `w` times `x`.
pub fn prove_unit<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    tree: &MatrixTree,
    w: &QMatrix,
    x: &Act16,
    rows_per_unit: usize,
    row_start: usize,
    rng: &mut R,
) -> Result<UnitProof, ZkError> {
    prove_witness(
        pk,
        UnitWitness::new(tree, w, x, rows_per_unit, row_start)?,
        rng,
    )
}

/// Verifies a unit proof for a statement with the core verifier.
pub fn verify_unit(
    vk: &PreparedVk,
    statement: &UnitStatement,
    proof: &[u8],
) -> Result<VerifiedProof, ZkError> {
    Ok(vk.verify_bytes(proof, &statement.public_inputs_be())?)
}

/// The proof as the core's decoded type (for snarkjs JSON export).
pub fn decode_proof(proof: &[u8]) -> Result<Groth16Proof, ZkError> {
    Ok(Groth16Proof::from_bytes(proof, Compress::Yes)?)
}

/// The verifying key of a proving key, prepared by the core.
pub fn prepared_vk(pk: &ProvingKey<Bn254>) -> Result<PreparedVk, ZkError> {
    Ok(PreparedVk::new(pk.vk.clone())?)
}

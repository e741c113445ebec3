//! Proving and verification of units.
//!
//! Verification goes through `otr_core::zk::PreparedVk` — the code the WASM verifier and the
//! node run — with the statement's four public inputs.

use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::PrimeGroup;
use ark_ff::One;
use ark_groth16::{Groth16, ProvingKey};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError, SynthesisMode,
};
use ark_serialize::{CanonicalSerialize, Compress};
use ark_std::rand::{CryptoRng, RngCore};
use ark_std::UniformRand;
use otr_core::zk::groth16::Groth16Proof;
use otr_core::zk::{PreparedVk, VerifiedProof};
use otr_engine::fixed::Act16;
use otr_engine::weights::QMatrix;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

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

/// Public inputs of every unit circuit (matvec, ACT, ATTN): four, so a verifying key has five
/// `gamma_abc_g1` points (the constant one first).
pub const PUBLIC_INPUTS: usize = 4;

/// The deterministic initial key of a circuit (in setup mode) from a **public** seed: `alpha`,
/// `beta`, `gamma` and then `tau` drawn in that order from ChaCha20 seeded with `seed`,
/// `delta = 1`. INSECURE (anyone who knows the seed can forge proofs): tests, benchmarks and
/// `--insecure-public-phase1` ceremonies only.
pub(crate) fn initial_key_from_seed<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
    seed: [u8; 32],
) -> Result<ProvingKey<Bn254>, ZkError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let alpha = Fr::rand(&mut rng);
    let beta = Fr::rand(&mut rng);
    let gamma = Fr::rand(&mut rng);
    Ok(Groth16::<Bn254>::generate_parameters_with_qap(
        circuit,
        alpha,
        beta,
        gamma,
        Fr::one(),
        G1Projective::generator(),
        G2Projective::generator(),
        &mut rng,
    )?)
}

/// Whether a circuit with its witness satisfies every constraint (synthesis only: no key, no
/// proof).
pub(crate) fn is_satisfied<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<bool, ZkError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.is_satisfied()?)
}

/// Number of constraints of a circuit (synthesized once, in setup mode).
pub(crate) fn count_constraints<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<usize, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    Ok(cs.num_constraints())
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
    if num_inputs != PUBLIC_INPUTS + 1 || pk.vk.gamma_abc_g1.len() != num_inputs {
        return Err(ZkError::Shape(
            "the proving key is not for this circuit (public input count)".into(),
        ));
    }
    // A key of another circuit (another kind or shape) has other query lengths: refused here
    // rather than proving garbage.
    let num_witness = cs.num_witness_variables();
    if pk.a_query.len() != num_inputs + num_witness || pk.l_query.len() != num_witness {
        return Err(ZkError::Shape(
            "the proving key is not for this circuit (its variables differ)".into(),
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

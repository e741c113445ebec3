//! Phase 1 (powers of tau): two contributors verify; every kind of tampering is rejected with
//! its own code; the derived initial key equals arkworks' generator for the same toxic waste;
//! a key from a two-party phase 1 and a two-party phase 2 proves and verifies.

mod common;

use std::sync::OnceLock;

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{One, UniformRand};
use ark_groth16::Groth16;
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::lc;
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisError,
    SynthesisMode,
};
use ark_serialize::CanonicalSerialize;
use ark_snark::SNARK;
use otr_zk::ceremony::{self, Ceremony, Phase1Source};
use otr_zk::circuit::UnitCircuit;
use otr_zk::phase1::{self, derive_initial_key, Phase1};
use otr_zk::prove::{prove_unit, verify_unit};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// A small circuit with two public inputs, non-unit coefficients and a constant term:
/// `(3x + 5) * y = z`, `x * x = w`, `z + 2w = out` with `out`, `y` public.
#[derive(Clone)]
struct Small {
    x: Option<Fr>,
    y: Option<Fr>,
}

impl Small {
    fn values(&self) -> Result<(Fr, Fr, Fr, Fr, Fr), SynthesisError> {
        let x = self.x.ok_or(SynthesisError::AssignmentMissing)?;
        let y = self.y.ok_or(SynthesisError::AssignmentMissing)?;
        let z = (x * Fr::from(3u64) + Fr::from(5u64)) * y;
        let w = x * x;
        Ok((x, y, z, w, z + w + w))
    }
}

impl ConstraintSynthesizer<Fr> for Small {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let v = self.values();
        let pick = |i: usize| {
            move || {
                v.map(|t| match i {
                    0 => t.0,
                    1 => t.1,
                    2 => t.2,
                    3 => t.3,
                    _ => t.4,
                })
            }
        };
        let out = cs.new_input_variable(pick(4))?;
        let y = cs.new_input_variable(pick(1))?;
        let x = cs.new_witness_variable(pick(0))?;
        let z = cs.new_witness_variable(pick(2))?;
        let w = cs.new_witness_variable(pick(3))?;
        let one = ark_relations::r1cs::Variable::One;
        cs.enforce_constraint(
            lc!() + (Fr::from(3u64), x) + (Fr::from(5u64), one),
            lc!() + y,
            lc!() + z,
        )?;
        cs.enforce_constraint(lc!() + x, lc!() + x, lc!() + w)?;
        cs.enforce_constraint(lc!() + z + (Fr::from(2u64), w), lc!() + one, lc!() + out)?;
        Ok(())
    }
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// `constraints + inputs` of a circuit, as the generator sizes its domain.
fn domain_size<C: ConstraintSynthesizer<Fr>>(c: C) -> usize {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    c.generate_constraints(cs.clone()).unwrap();
    cs.finalize();
    cs.num_constraints() + cs.num_instance_variables()
}

/// The derived key equals arkworks' generator, byte for byte, for the same toxic waste: one
/// phase-1 contribution with known `tau` (the point the generator samples from its rng),
/// `alpha`, `beta`, and `gamma = delta = 1`. With a larger phase 1 too.
fn derived_equals_arkworks<C: ConstraintSynthesizer<Fr> + Clone>(
    circuit: C,
    seed: u64,
    extras: &[u32],
) {
    let size = domain_size(circuit.clone());
    let domain = GeneralEvaluationDomain::<Fr>::new(size).unwrap();
    let mut r = rng(seed);
    let tau = domain.sample_element_outside_domain(&mut r.clone());
    let alpha = Fr::rand(&mut rng(seed + 1));
    let beta = Fr::rand(&mut rng(seed + 2));
    let expected = Groth16::<Bn254>::generate_parameters_with_qap(
        circuit.clone(),
        alpha,
        beta,
        Fr::one(),
        Fr::one(),
        G1Projective::generator(),
        G2Projective::generator(),
        &mut r,
    )
    .unwrap();
    let log_n = Phase1::log_size_for(size);
    assert_eq!(1usize << log_n, domain.size());
    for &extra in extras {
        let mut p1 = Phase1::init(log_n + extra).unwrap();
        p1.contribute_known_secrets_for_tests("known", tau, alpha, beta)
            .unwrap();
        phase1::verify(&p1).unwrap();
        let got = derive_initial_key(&p1.powers, circuit.clone(), None).unwrap();
        assert_eq!(got.a_query, expected.a_query, "A query (extra {extra})");
        assert_eq!(got.b_g1_query, expected.b_g1_query, "B G1 query");
        assert_eq!(got.b_g2_query, expected.b_g2_query, "B G2 query");
        assert_eq!(got.h_query, expected.h_query, "H query");
        assert_eq!(got.l_query, expected.l_query, "L query");
        assert_eq!(got.vk, expected.vk, "verifying key");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        got.serialize_uncompressed(&mut a).unwrap();
        expected.serialize_uncompressed(&mut b).unwrap();
        assert!(a == b, "serialized keys differ");
    }
}

#[test]
fn derived_key_equals_arkworks_generator_small_circuit() {
    derived_equals_arkworks(Small { x: None, y: None }, 11, &[0, 1, 3]);
}

#[test]
fn derived_key_equals_arkworks_generator_unit_circuit() {
    derived_equals_arkworks(UnitCircuit::setup(common::shape()), 21, &[0]);
}

#[test]
fn derived_key_proves_and_verifies_small_circuit() {
    let mut p1 = Phase1::init(3).unwrap();
    p1.contribute("alice", &mut rng(1), None).unwrap();
    p1.contribute("bob", &mut rng(2), None).unwrap();
    phase1::verify(&p1).unwrap();
    let pk = derive_initial_key(&p1.powers, Small { x: None, y: None }, None).unwrap();
    let c = Small {
        x: Some(Fr::from(7u64)),
        y: Some(Fr::from(9u64)),
    };
    let (_, y, _, _, out) = c.values().unwrap();
    let proof = Groth16::<Bn254>::prove(&pk, c, &mut rng(3)).unwrap();
    let pvk = Groth16::<Bn254>::process_vk(&pk.vk).unwrap();
    assert!(Groth16::<Bn254>::verify_with_processed_vk(&pvk, &[out, y], &proof).unwrap());
    assert!(
        !Groth16::<Bn254>::verify_with_processed_vk(&pvk, &[out + Fr::one(), y], &proof).unwrap()
    );
}

/// Two contributors on the spot-check circuit's size (computed once).
fn two_party() -> &'static Phase1 {
    static P: OnceLock<Phase1> = OnceLock::new();
    P.get_or_init(|| {
        let log_n = Phase1::log_size_for(domain_size(UnitCircuit::setup(common::shape())));
        let mut p = Phase1::init(log_n).unwrap();
        p.contribute("alice", &mut rng(101), None).unwrap();
        p.contribute("bob", &mut rng(102), None).unwrap();
        p
    })
}

/// Two contributors on a tiny size, for the tampering tests.
fn tiny() -> &'static Phase1 {
    static P: OnceLock<Phase1> = OnceLock::new();
    P.get_or_init(|| {
        let mut p = Phase1::init(4).unwrap();
        p.contribute("alice", &mut rng(201), None).unwrap();
        p.contribute("bob", &mut rng(202), None).unwrap();
        p
    })
}

#[test]
fn two_contributors_verify() {
    let p = tiny();
    let v = phase1::verify(p).unwrap();
    let names: Vec<_> = v.contributors.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(v.transcript_hash, p.transcript_hash());
    assert_ne!(p.powers.tau_g1[1], G1Affine::generator(), "tau changed");
    // The zero-contribution state verifies too (it is the generators).
    phase1::verify(&Phase1::init(4).unwrap()).unwrap();
}

fn fails(p: &Phase1, code: &str, why: &str) {
    match phase1::verify(p) {
        Err(e) => assert_eq!(e.code(), code, "{why}: {e}"),
        Ok(_) => panic!("tampered phase 1 accepted: {why}"),
    }
}

#[test]
fn tampered_powers_fail() {
    let good = tiny();
    let g1 = G1Affine::generator();
    for i in [2usize, 7, 30] {
        let mut p = good.clone();
        p.powers.tau_g1[i] = (p.powers.tau_g1[i] + g1).into_affine();
        fails(&p, "ZK_PHASE1_POWERS", &format!("tau G1 power {i}"));
    }
    let mut p = good.clone();
    p.powers.alpha_g1[3] = (p.powers.alpha_g1[3] * Fr::from(2u64)).into_affine();
    fails(&p, "ZK_PHASE1_POWERS", "alpha power");
    let mut p = good.clone();
    p.powers.beta_g1[15] = (p.powers.beta_g1[15] + g1).into_affine();
    fails(&p, "ZK_PHASE1_POWERS", "last beta power");
    let mut p = good.clone();
    p.powers.tau_g2[5] = (p.powers.tau_g2[5] + G2Affine::generator()).into_affine();
    fails(&p, "ZK_PHASE1_POWERS", "tau G2 power");
    // Two powers swapped: a consistent-looking set of points in the wrong order.
    let mut p = good.clone();
    p.powers.tau_g1.swap(3, 4);
    fails(&p, "ZK_PHASE1_POWERS", "swapped powers");
}

#[test]
fn wrong_proof_of_knowledge_fails() {
    let good = tiny();
    let mut p = good.clone();
    p.contributions[1].tau_pok.r_g2 =
        (p.contributions[1].tau_pok.r_g2 * Fr::from(2u64)).into_affine();
    fails(&p, "ZK_PHASE1_POK", "tau PoK");
    let mut p = good.clone();
    p.contributions[0].beta_pok.s_g1 =
        (p.contributions[0].beta_pok.s_g1 + G1Affine::generator()).into_affine();
    fails(&p, "ZK_PHASE1_POK", "beta PoK");
    // A renamed contributor: the proofs of knowledge are bound to the name.
    let mut p = good.clone();
    p.contributions[1].name = "mallory".into();
    fails(&p, "ZK_PHASE1_POK", "renamed");
}

#[test]
fn an_update_not_by_the_proven_secret_fails() {
    // The last contributor multiplies alpha by 2 more than it proves.
    let mut p = tiny().clone();
    let two = Fr::from(2u64);
    for a in &mut p.powers.alpha_g1 {
        *a = (*a * two).into_affine();
    }
    let last = p.contributions.last_mut().unwrap();
    last.alpha_g1 = p.powers.alpha_g1[0];
    last.state_hash = p.powers.hash();
    fails(&p, "ZK_PHASE1_UPDATE", "alpha not by the proven secret");
}

#[test]
fn reordered_or_dropped_contributions_fail() {
    let good = tiny();
    let mut p = good.clone();
    p.contributions.swap(0, 1);
    fails(&p, "ZK_PHASE1_CHAIN", "reordered");
    let mut p = good.clone();
    p.contributions.remove(0);
    fails(&p, "ZK_PHASE1_CHAIN", "first dropped");
    let mut p = good.clone();
    p.contributions.pop();
    fails(&p, "ZK_PHASE1_CHAIN", "last dropped");
    let mut p = good.clone();
    let dup = p.contributions[1].clone();
    p.contributions.push(dup);
    fails(&p, "ZK_PHASE1_CHAIN", "repeated");
}

#[test]
fn file_round_trip_and_bad_files() {
    let p = tiny();
    let mut buf = Vec::new();
    p.write(&mut buf).unwrap();
    let back = Phase1::read(&mut &buf[..]).unwrap();
    assert_eq!(back.contributions, p.contributions);
    assert_eq!(back.powers, p.powers);
    phase1::verify(&back).unwrap();
    for cut in [0, 10, 30, 200, buf.len() / 2, buf.len() - 1] {
        let e = Phase1::read(&mut &buf[..cut]).unwrap_err();
        assert_eq!(e.code(), "ZK_PHASE1_TRUNCATED", "cut at {cut}: {e}");
    }
    let mut bad = buf.clone();
    bad[0] ^= 1;
    assert_eq!(
        Phase1::read(&mut &bad[..]).unwrap_err().code(),
        "ZK_PHASE1_FORMAT"
    );
    let mut long = buf.clone();
    long.push(0);
    assert_eq!(
        Phase1::read(&mut &long[..]).unwrap_err().code(),
        "ZK_PHASE1_FORMAT"
    );
    // A huge size is refused before anything is allocated.
    let mut big = buf.clone();
    big[20..24].copy_from_slice(&40u32.to_le_bytes());
    assert_eq!(
        Phase1::read(&mut &big[..]).unwrap_err().code(),
        "ZK_PHASE1_FORMAT"
    );
    // A point off the curve (last byte of the final beta_g2).
    let mut off = buf.clone();
    let n = off.len();
    off[n - 2] ^= 0x55;
    assert_eq!(
        Phase1::read(&mut &off[..]).unwrap_err().code(),
        "ZK_PHASE1_FORMAT"
    );
}

#[test]
fn two_party_phase1_and_two_party_phase2_prove_and_verify() {
    let p1 = two_party();
    let shape = common::shape();
    let mut c = Ceremony::init_from_phase1(shape, p1, None).unwrap();
    assert_eq!(
        c.phase1,
        Phase1Source::Ceremony(phase1::verify(p1).unwrap().transcript_hash)
    );
    c.contribute("carol", &mut rng(301)).unwrap();
    c.contribute("dave", &mut rng(302)).unwrap();
    // The ceremony file records its phase 1.
    let mut buf = Vec::new();
    c.write(&mut buf).unwrap();
    let c = Ceremony::read(&mut &buf[..]).unwrap();
    let report = ceremony::verify_with_phase1(&c, p1, None).unwrap();
    let names: Vec<_> = report
        .phase1_contributors
        .iter()
        .map(|x| x.0.as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!report.phase1.is_insecure());
    // Without the phase-1 file, or with another one, it does not verify.
    assert_eq!(
        ceremony::verify(&c).unwrap_err().code(),
        "ZK_CEREMONY_INVALID"
    );
    let mut other = p1.clone();
    other.contributions.pop();
    assert!(ceremony::verify_with_phase1(&c, &other, None).is_err());
    // (`finalize_with_phase1` re-runs this verification; the CLI test covers it.)
    let (pk, vk) = (c.pk.clone(), c.pk.vk.clone());
    let d = common::data();
    let p = prove_unit(&pk, &d.tree, &d.w, &d.x, common::R, 2, &mut rng(9)).unwrap();
    let pvk = otr_core::zk::PreparedVk::new(vk).unwrap();
    let ok = verify_unit(&pvk, &p.statement, &p.proof).unwrap();
    assert_eq!(ok.key_id, report.key_id);
}

use super::groth16::{scalar_from_be_bytes, scalar_to_be_bytes};
use super::*;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use ark_bn254::{Bn254, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{Field, PrimeField};
use ark_groth16::{Groth16, ProvingKey};
use ark_relations::lc;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError, Variable};
use ark_serialize::CanonicalSerialize;
use ark_std::rand::{rngs::StdRng, SeedableRng};

/// Public `z = x * y` and `w = x + y`; private `x`, `y`.
#[derive(Clone, Copy)]
struct MulAdd {
    x: Option<Fr>,
    y: Option<Fr>,
}

impl ConstraintSynthesizer<Fr> for MulAdd {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = SynthesisError::AssignmentMissing;
        let x = cs.new_witness_variable(|| self.x.ok_or(missing))?;
        let y = cs.new_witness_variable(|| self.y.ok_or(missing))?;
        let z = cs.new_input_variable(|| Ok(self.x.ok_or(missing)? * self.y.ok_or(missing)?))?;
        let w = cs.new_input_variable(|| Ok(self.x.ok_or(missing)? + self.y.ok_or(missing)?))?;
        cs.enforce_constraint(lc!() + x, lc!() + y, lc!() + z)?;
        cs.enforce_constraint(lc!() + x + y, lc!() + Variable::One, lc!() + w)?;
        Ok(())
    }
}

struct Fixture {
    pk: ProvingKey<Bn254>,
    proof: Groth16Proof,
    inputs: Vec<Fr>,
}

fn fixture() -> Fixture {
    let mut rng = StdRng::seed_from_u64(0x07_72);
    let blank = MulAdd { x: None, y: None };
    let pk = Groth16::<Bn254>::generate_random_parameters_with_reduction(blank, &mut rng).unwrap();
    let (x, y) = (Fr::from(3u64), Fr::from(11u64));
    let proof = Groth16::<Bn254>::create_random_proof_with_reduction(
        MulAdd {
            x: Some(x),
            y: Some(y),
        },
        &pk,
        &mut rng,
    )
    .unwrap();
    Fixture {
        pk,
        proof: Groth16Proof(proof),
        inputs: vec![Fr::from(33u64), Fr::from(14u64)],
    }
}

fn vk_bytes(f: &Fixture, compress: Compress) -> Vec<u8> {
    let mut out = Vec::new();
    f.pk.vk.serialize_with_mode(&mut out, compress).unwrap();
    out
}

/// A point on the G2 curve that is not in the prime-order subgroup.
fn g2_outside_subgroup() -> G2Affine {
    (1u64..)
        .find_map(|i| {
            let x = Fq2::new(i.into(), 1u64.into());
            G2Affine::get_point_from_x_unchecked(x, false)
                .filter(|p| p.is_on_curve() && !p.is_in_correct_subgroup_assuming_on_curve())
        })
        .unwrap()
}

#[test]
fn real_proof_verifies_in_every_form() {
    let f = fixture();
    for compress in [Compress::Yes, Compress::No] {
        let vk = PreparedVk::from_bytes(&vk_bytes(&f, compress), compress).unwrap();
        assert_eq!(vk.public_input_count(), 2);
        let proof = Groth16Proof::from_bytes(&f.proof.to_bytes(compress), compress).unwrap();
        let ok = vk.verify(&proof, &f.inputs).unwrap();
        assert_eq!(ok.public_inputs, f.inputs);
        assert_eq!(ok.key_id, vk.key_id());
    }
    assert_eq!(f.proof.to_bytes(Compress::Yes).len(), 128);
    assert_eq!(f.proof.to_bytes(Compress::No).len(), 256);
    let vk = PreparedVk::new(f.pk.vk.clone()).unwrap();
    let be: Vec<[u8; 32]> = f.inputs.iter().map(scalar_to_be_bytes).collect();
    assert_eq!(be[0][31], 33);
    vk.verify_bytes(&f.proof.to_bytes(Compress::Yes), &be)
        .unwrap();
}

#[test]
fn wrong_inputs_and_counts() {
    let f = fixture();
    let vk = PreparedVk::new(f.pk.vk.clone()).unwrap();
    let e = vk
        .verify(&f.proof, &[Fr::from(34u64), Fr::from(14u64)])
        .unwrap_err();
    assert_eq!(e, ProofError::Invalid);
    assert_eq!(e.code(), "PROOF_INVALID");
    assert_eq!(e.stage(), crate::error::Stage::Proof);
    let e = vk.verify(&f.proof, &f.inputs[..1]).unwrap_err();
    assert_eq!(
        e,
        ProofError::InputCount(crate::error::GotExpected {
            got: 1,
            expected: 2
        })
    );
    assert_eq!(e.code(), "PROOF_INPUT_COUNT");
    let many = vec![Fr::from(1u64); MAX_PUBLIC_INPUTS + 1];
    assert_eq!(
        vk.verify(&f.proof, &many).unwrap_err().code(),
        "PROOF_TOO_MANY_INPUTS"
    );
    // Another valid proof for other inputs does not verify these.
    let mut rng = StdRng::seed_from_u64(9);
    let other = Groth16::<Bn254>::create_random_proof_with_reduction(
        MulAdd {
            x: Some(Fr::from(2u64)),
            y: Some(Fr::from(5u64)),
        },
        &f.pk,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        vk.verify(&Groth16Proof(other.clone()), &f.inputs),
        Err(ProofError::Invalid)
    );
    vk.verify(&Groth16Proof(other), &[Fr::from(10u64), Fr::from(7u64)])
        .unwrap();
}

#[test]
fn tampered_proof_bytes() {
    let f = fixture();
    let vk = PreparedVk::new(f.pk.vk.clone()).unwrap();
    let good = f.proof.to_bytes(Compress::Yes);
    let (mut invalid, mut bad_point) = (0, 0);
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x01;
        match Groth16Proof::from_bytes(&b, Compress::Yes) {
            Err(ProofError::PointInvalid { .. }) => bad_point += 1,
            Err(e) => panic!("byte {i}: unexpected {e:?}"),
            Ok(p) => {
                assert_eq!(
                    vk.verify(&p, &f.inputs),
                    Err(ProofError::Invalid),
                    "byte {i}"
                );
                invalid += 1;
            }
        }
    }
    assert!(invalid > 0 && bad_point > 0, "{invalid} {bad_point}");
    // A valid point in the wrong place.
    let mut p = f.proof.clone();
    p.0.a = G1Affine::generator();
    assert_eq!(vk.verify(&p, &f.inputs), Err(ProofError::Invalid));
    // Truncated and over-long inputs.
    let e = Groth16Proof::from_bytes(&good[..100], Compress::Yes).unwrap_err();
    assert_eq!(e.code(), "PROOF_TRUNCATED");
    assert!(matches!(e, ProofError::Truncated { offset: 96, .. }));
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        Groth16Proof::from_bytes(&long, Compress::Yes).unwrap_err(),
        ProofError::TrailingBytes {
            offset: 128,
            count: 1
        }
    );
}

#[test]
fn points_outside_the_subgroup_are_rejected() {
    let f = fixture();
    let bad = g2_outside_subgroup();
    let mut proof = f.proof.to_bytes(Compress::No);
    let mut b = Vec::new();
    bad.serialize_uncompressed(&mut b).unwrap();
    proof[64..192].copy_from_slice(&b);
    let e = Groth16Proof::from_bytes(&proof, Compress::No).unwrap_err();
    assert_eq!(
        e,
        ProofError::PointInvalid {
            what: "proof.B".into(),
            offset: Some(64)
        }
    );
    assert!(e.to_string().contains("proof.B at byte 64"));
    // Same through the compressed form.
    let mut proof = f.proof.to_bytes(Compress::Yes);
    let mut b = Vec::new();
    bad.serialize_compressed(&mut b).unwrap();
    proof[32..96].copy_from_slice(&b);
    assert_eq!(
        Groth16Proof::from_bytes(&proof, Compress::Yes)
            .unwrap_err()
            .code(),
        "PROOF_POINT_INVALID"
    );
    // And in a verifying key (delta_g2 at offset 32 + 64 + 64).
    let mut vk = vk_bytes(&f, Compress::Yes);
    vk[160..224].copy_from_slice(&b);
    assert_eq!(
        PreparedVk::from_bytes(&vk, Compress::Yes).unwrap_err(),
        ProofError::PointInvalid {
            what: "vk.delta_g2".into(),
            offset: Some(160)
        }
    );
}

#[test]
fn hostile_verifying_keys() {
    let f = fixture();
    let good = vk_bytes(&f, Compress::Yes);
    assert_eq!(good.len(), 32 + 3 * 64 + 8 + 3 * 32);
    // IC count claims 2^64 - 1 points: rejected before any allocation.
    let mut huge = good[..224].to_vec();
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(
        PreparedVk::from_bytes(&huge, Compress::Yes).unwrap_err(),
        ProofError::TooManyInputs {
            got: u64::MAX - 1,
            max: MAX_PUBLIC_INPUTS
        }
    );
    let mut zero = good[..224].to_vec();
    zero.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        PreparedVk::from_bytes(&zero, Compress::Yes)
            .unwrap_err()
            .code(),
        "PROOF_VK_MALFORMED"
    );
    for n in 0..good.len() {
        let e = PreparedVk::from_bytes(&good[..n], Compress::Yes).unwrap_err();
        assert_eq!(e.code(), "PROOF_TRUNCATED", "{n}");
    }
    let mut long = good.clone();
    long.push(7);
    assert_eq!(
        PreparedVk::from_bytes(&long, Compress::Yes)
            .unwrap_err()
            .code(),
        "PROOF_TRAILING_BYTES"
    );
    let mut bad_ic = good.clone();
    bad_ic[232..264].fill(0xff);
    let e = PreparedVk::from_bytes(&bad_ic, Compress::Yes).unwrap_err();
    assert_eq!(
        e,
        ProofError::PointInvalid {
            what: "vk.IC[0]".into(),
            offset: Some(232)
        }
    );
}

#[test]
fn public_input_bytes() {
    let r_minus_1 = -Fr::ONE;
    let be = scalar_to_be_bytes(&r_minus_1);
    assert_eq!(scalar_from_be_bytes(&be, 0).unwrap(), r_minus_1);
    // The group order itself is not canonical.
    let mut r = be;
    r[31] += 1;
    assert_eq!(
        scalar_from_be_bytes(&r, 4),
        Err(ProofError::InputNotCanonical { index: 4 })
    );
    assert!(scalar_from_be_bytes(&[0xff; 32], 0).is_err());
    let f = fixture();
    let vk = PreparedVk::new(f.pk.vk.clone()).unwrap();
    let e = vk
        .verify_bytes(&f.proof.to_bytes(Compress::Yes), &[[0; 32], [0xff; 32]])
        .unwrap_err();
    assert_eq!(e, ProofError::InputNotCanonical { index: 1 });
    assert_eq!(
        Fr::from_be_bytes_mod_order(&be),
        r_minus_1,
        "big-endian convention"
    );
}

#[path = "snarkjs_tests.rs"]
mod snarkjs_tests;

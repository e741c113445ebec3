//! Poseidon over the BN254 scalar field: the one hash used inside circuits (DESIGN principle 2).
//!
//! Parameters (pinned by a digest test): width 5 (rate 4, capacity 1), x^5 S-box, 8 full and
//! 60 partial rounds (the Poseidon paper's 128-bit choice for t = 5 over a 254-bit prime, the
//! same round numbers as circomlib's t = 5); round constants and MDS matrix from the paper's
//! Grain LFSR as implemented by arkworks `find_poseidon_ark_and_mds(254, 4, 8, 60, 0)`.
//! These are **not** circomlib's constants: a circom circuit cannot recompute our hashes.
//!
//! A hash of a sequence of field elements is the arkworks duplex sponge: absorb all, squeeze one.
//! Every hash starts with a domain tag element ([`tag`]) so that hashes of different kinds
//! never collide by construction.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::constraints::CryptographicSpongeVar;
use ark_crypto_primitives::sponge::poseidon::constraints::PoseidonSpongeVar;
use ark_crypto_primitives::sponge::poseidon::{
    find_poseidon_ark_and_mds, PoseidonConfig, PoseidonSponge,
};
use ark_crypto_primitives::sponge::CryptographicSponge;
use ark_ff::PrimeField;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};

/// Sponge rate (field elements absorbed per permutation).
pub const RATE: usize = 4;
/// Full rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds.
pub const PARTIAL_ROUNDS: usize = 60;
/// S-box exponent.
pub const ALPHA: u64 = 5;

/// The pinned parameters (computed once).
pub fn config() -> &'static PoseidonConfig<Fr> {
    static CFG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CFG.get_or_init(|| {
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(
            Fr::MODULUS_BIT_SIZE as u64,
            RATE,
            FULL_ROUNDS as u64,
            PARTIAL_ROUNDS as u64,
            0,
        );
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, ALPHA, mds, ark, RATE, 1)
    })
}

/// A domain tag: the ASCII bytes of `name` (at most 31) read as a little-endian integer.
pub fn tag(name: &str) -> Fr {
    assert!(name.len() <= 31, "tag too long");
    Fr::from_le_bytes_mod_order(name.as_bytes())
}

/// `Poseidon(elems)`: absorb every element, squeeze one.
pub fn hash(elems: &[Fr]) -> Fr {
    let mut sponge = PoseidonSponge::new(config());
    sponge.absorb(&elems.to_vec());
    sponge.squeeze_field_elements::<Fr>(1)[0]
}

/// The in-circuit [`hash`].
pub fn hash_var(
    cs: ConstraintSystemRef<Fr>,
    elems: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config());
    sponge.absorb(&elems.to_vec())?;
    Ok(sponge.squeeze_field_elements(1)?.remove(0))
}

/// SHA-256 over the parameters (round constants then MDS rows, 32-byte little-endian each):
/// pinned by a test so that a change of constants cannot go unnoticed.
pub fn params_digest() -> [u8; 32] {
    use ark_ff::BigInteger;
    use sha2::{Digest, Sha256};
    let c = config();
    let mut h = Sha256::new();
    for row in c.ark.iter().chain(c.mds.iter()) {
        for x in row {
            h.update(x.into_bigint().to_bytes_le());
        }
    }
    h.finalize().into()
}

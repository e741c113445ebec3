//! Groth16 over BN254: checked decoding of arkworks binary forms and verification.
//!
//! Binary forms are arkworks `CanonicalSerialize` (little-endian field elements, flags in the
//! top bits of the last byte). Compressed: G1 32 bytes, G2 64; uncompressed: G1 64, G2 128.
//! - proof: `A (G1) || B (G2) || C (G1)`;
//! - verifying key: `alpha (G1) || beta (G2) || gamma (G2) || delta (G2) ||
//!   u64le(n + 1) || IC[0..=n] (G1)` for `n` public inputs.
//!
//! Every point is decoded with `Validate::Yes` (on the curve and in the prime-order subgroup).
//! The verifying key is decoded field by field so that the IC count is capped *before* any
//! allocation (arkworks' own `Vec` decoding would trust a hostile length).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ff::{BigInt, PrimeField};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};

use super::{ProofError, MAX_PUBLIC_INPUTS};
use crate::error::GotExpected;

/// Domain tag of [`PreparedVk::key_id`].
pub const VK_ID_TAG: &[u8] = b"OTR/groth16-vk/v1\0";

fn g1_len(c: Compress) -> usize {
    if c == Compress::Yes {
        32
    } else {
        64
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], ProofError> {
        let available = self.data.len().saturating_sub(self.pos);
        match self.data.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if n <= available => {
                self.pos += n;
                Ok(s)
            }
            _ => Err(ProofError::Truncated {
                what: what(),
                offset: self.pos,
                needed: n,
                available,
            }),
        }
    }

    fn point<P: CanonicalDeserialize>(
        &mut self,
        len: usize,
        compress: Compress,
        what: &dyn Fn() -> String,
    ) -> Result<P, ProofError> {
        let offset = self.pos;
        let mut bytes = self.take(len, what)?;
        P::deserialize_with_mode(&mut bytes, compress, Validate::Yes).map_err(|_| {
            ProofError::PointInvalid {
                what: what(),
                offset: Some(offset),
            }
        })
    }

    fn finish(&self) -> Result<(), ProofError> {
        match self.data.len().saturating_sub(self.pos) {
            0 => Ok(()),
            count => Err(ProofError::TrailingBytes {
                offset: self.pos,
                count,
            }),
        }
    }
}

/// A decoded, subgroup-checked Groth16 proof.
#[derive(Clone, Debug, PartialEq)]
pub struct Groth16Proof(pub Proof<Bn254>);

impl Groth16Proof {
    /// Decodes `A || B || C` (128 bytes compressed, 256 uncompressed).
    pub fn from_bytes(bytes: &[u8], compress: Compress) -> Result<Self, ProofError> {
        let g1 = g1_len(compress);
        let mut c = Cursor {
            data: bytes,
            pos: 0,
        };
        let a = c.point::<G1Affine>(g1, compress, &|| String::from("proof.A"))?;
        let b = c.point::<G2Affine>(2 * g1, compress, &|| String::from("proof.B"))?;
        let cc = c.point::<G1Affine>(g1, compress, &|| String::from("proof.C"))?;
        c.finish()?;
        Ok(Groth16Proof(Proof { a, b, c: cc }))
    }

    pub fn to_bytes(&self, compress: Compress) -> Vec<u8> {
        let mut out = Vec::new();
        // Serializing valid points into a Vec cannot fail.
        let _ = self.0.serialize_with_mode(&mut out, compress);
        out
    }
}

/// A public input from 32 big-endian bytes; values not below the group order are rejected.
pub fn scalar_from_be_bytes(bytes: &[u8; 32], index: usize) -> Result<Fr, ProofError> {
    let mut limbs = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        limbs[3 - i] = u64::from_be_bytes(b);
    }
    Fr::from_bigint(BigInt::new(limbs)).ok_or(ProofError::InputNotCanonical { index })
}

/// The 32-byte big-endian form of a scalar.
pub fn scalar_to_be_bytes(x: &Fr) -> [u8; 32] {
    let limbs = x.into_bigint().0;
    let mut out = [0u8; 32];
    for (i, l) in limbs.iter().enumerate() {
        out[24 - 8 * i..32 - 8 * i].copy_from_slice(&l.to_be_bytes());
    }
    out
}

/// What a successful verification proved.
#[derive(Clone, Debug, PartialEq, Eq)]
// A private field rather than `#[non_exhaustive]`: it seals construction to this module,
// not only to this crate.
#[allow(clippy::manual_non_exhaustive)]
pub struct VerifiedProof {
    /// [`PreparedVk::key_id`] of the key that verified the proof.
    pub key_id: [u8; 32],
    /// The public inputs the proof was checked against.
    pub public_inputs: Vec<Fr>,
    _sealed: (),
}

/// A verifying key, checked and prepared once, then used for any number of proofs.
#[derive(Clone, Debug)]
pub struct PreparedVk {
    pvk: PreparedVerifyingKey<Bn254>,
    key_id: [u8; 32],
}

impl PreparedVk {
    /// Checks the input-point count and prepares the key (one pairing, precomputed lines).
    pub fn new(vk: VerifyingKey<Bn254>) -> Result<Self, ProofError> {
        if vk.gamma_abc_g1.is_empty() {
            return Err(ProofError::VkMalformed("it has no IC (input base) points"));
        }
        let n = vk.gamma_abc_g1.len() - 1;
        if n > MAX_PUBLIC_INPUTS {
            return Err(ProofError::TooManyInputs {
                got: n as u64,
                max: MAX_PUBLIC_INPUTS,
            });
        }
        let mut bytes = Vec::new();
        let _ = vk.serialize_compressed(&mut bytes);
        let key_id = crate::rollup::tagged_hash(VK_ID_TAG, &[&bytes]);
        Ok(PreparedVk {
            pvk: ark_groth16::prepare_verifying_key(&vk),
            key_id,
        })
    }

    /// Decodes the arkworks binary form of a verifying key, field by field, with checks.
    pub fn from_bytes(bytes: &[u8], compress: Compress) -> Result<Self, ProofError> {
        let g1 = g1_len(compress);
        let mut c = Cursor {
            data: bytes,
            pos: 0,
        };
        let alpha_g1 = c.point::<G1Affine>(g1, compress, &|| String::from("vk.alpha_g1"))?;
        let beta_g2 = c.point::<G2Affine>(2 * g1, compress, &|| String::from("vk.beta_g2"))?;
        let gamma_g2 = c.point::<G2Affine>(2 * g1, compress, &|| String::from("vk.gamma_g2"))?;
        let delta_g2 = c.point::<G2Affine>(2 * g1, compress, &|| String::from("vk.delta_g2"))?;
        let mut len = [0u8; 8];
        len.copy_from_slice(c.take(8, &|| String::from("vk IC count"))?);
        let count = u64::from_le_bytes(len);
        if count == 0 {
            return Err(ProofError::VkMalformed("it has no IC (input base) points"));
        }
        if count - 1 > MAX_PUBLIC_INPUTS as u64 {
            return Err(ProofError::TooManyInputs {
                got: count - 1,
                max: MAX_PUBLIC_INPUTS,
            });
        }
        let mut gamma_abc_g1 = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            gamma_abc_g1.push(c.point::<G1Affine>(g1, compress, &|| format!("vk.IC[{i}]"))?);
        }
        c.finish()?;
        Self::new(VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2,
            delta_g2,
            gamma_abc_g1,
        })
    }

    /// Number of public inputs this key expects.
    pub fn public_input_count(&self) -> usize {
        self.pvk.vk.gamma_abc_g1.len() - 1
    }

    /// `SHA-256("OTR/groth16-vk/v1\0" || compressed key)`: names the key in bundles.
    pub fn key_id(&self) -> [u8; 32] {
        self.key_id
    }

    pub fn vk(&self) -> &VerifyingKey<Bn254> {
        &self.pvk.vk
    }

    fn check_count(&self, got: usize) -> Result<(), ProofError> {
        if got > MAX_PUBLIC_INPUTS {
            return Err(ProofError::TooManyInputs {
                got: got as u64,
                max: MAX_PUBLIC_INPUTS,
            });
        }
        let expected = self.public_input_count();
        if got != expected {
            return Err(ProofError::InputCount(GotExpected { got, expected }));
        }
        Ok(())
    }

    /// Verifies `proof` for `public_inputs`. A failed pairing check is [`ProofError::Invalid`].
    pub fn verify(
        &self,
        proof: &Groth16Proof,
        public_inputs: &[Fr],
    ) -> Result<VerifiedProof, ProofError> {
        self.check_count(public_inputs.len())?;
        match Groth16::<Bn254>::verify_proof(&self.pvk, &proof.0, public_inputs) {
            Ok(true) => Ok(VerifiedProof {
                key_id: self.key_id,
                public_inputs: public_inputs.to_vec(),
                _sealed: (),
            }),
            _ => Err(ProofError::Invalid),
        }
    }

    /// Verifies the bundle form: a compressed proof and 32-byte big-endian public inputs.
    pub fn verify_bytes(
        &self,
        proof: &[u8],
        public_inputs: &[[u8; 32]],
    ) -> Result<VerifiedProof, ProofError> {
        self.check_count(public_inputs.len())?;
        let proof = Groth16Proof::from_bytes(proof, Compress::Yes)?;
        let inputs = public_inputs
            .iter()
            .enumerate()
            .map(|(i, b)| scalar_from_be_bytes(b, i))
            .collect::<Result<Vec<_>, _>>()?;
        self.verify(&proof, &inputs)
    }
}

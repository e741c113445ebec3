//! The spot-check circuit of one unit: `R` rows of an int8 matrix times an `Act16` vector,
//! exactly as the engine computes them, opened against the Poseidon commitments of
//! [`crate::commit`].
//!
//! Public inputs (in order): matrix commitment, first row, input commitment, output
//! commitment ([`crate::unit::UnitStatement`]). Witness: the input bytes, the `R` row bytes,
//! the Merkle path of the unit's subtree, and the division witnesses of requantization.
//!
//! Constraints:
//! 1. every input, row and output byte is decomposed into 8 booleans, so the packed
//!    31-byte elements the commitments hash are exactly those bytes;
//! 2. `x_exp` (i32), `x_i` (i16), `m` (u32), `e` (i32), `b_k` (u8), `q_i` (i8) are read from
//!    those bits (two's complement where signed);
//! 3. `acc = sum_k b_k sum_{i in block k} q_i x_i` (one product per weight, one per block):
//!    exact, the field never wraps (`|acc| < 2^(log2(cols) + 30)`);
//! 4. `y = shift_sat(acc m, e + x_exp + 32)` ([`requant`]);
//! 5. the leaves, the unit subtree, the path (direction bits = the bits of `row / R`), the
//!    matrix commitment, the input and output commitments are recomputed with Poseidon and
//!    equated with the public inputs; `row = R * (row / R)`.

pub mod act;
pub mod attn;
pub mod gadgets;
pub mod requant;

use ark_bn254::Fr;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::R1CSVar;
use ark_relations::lc;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::commit::{TAG_ACT16, TAG_MATRIX, TAG_NODE, TAG_ROW, TAG_WIDE};
use crate::pack::PACK_BYTES;
use crate::poseidon::{hash_var, tag};
use crate::unit::{Tamper, UnitShape, UnitWitness};
use gadgets::{byte_bits, lc_of, lc_var, signed, unsigned, Cs};
use requant::{requant, RequantTamper};

type R<T> = Result<T, SynthesisError>;

/// The circuit: a shape, and the witness when proving (`None` for setup).
#[derive(Clone, Debug)]
pub struct UnitCircuit {
    pub shape: UnitShape,
    pub witness: Option<UnitWitness>,
}

impl UnitCircuit {
    /// The circuit for key generation (no witness).
    pub fn setup(shape: UnitShape) -> Self {
        UnitCircuit {
            shape,
            witness: None,
        }
    }

    /// The circuit for proving.
    pub fn prove(witness: UnitWitness) -> Self {
        UnitCircuit {
            shape: witness.shape,
            witness: Some(witness),
        }
    }
}

fn missing() -> SynthesisError {
    SynthesisError::AssignmentMissing
}

/// `Poseidon(tag, len, packed bits...)` over byte bits.
pub(crate) fn hash_bits(cs: &Cs, tag_name: &str, bits: &[Boolean<Fr>]) -> R<FpVar<Fr>> {
    let mut elems = vec![
        FpVar::constant(tag(tag_name)),
        FpVar::constant(Fr::from((bits.len() / 8) as u64)),
    ];
    for chunk in bits.chunks(8 * PACK_BYTES) {
        elems.push(unsigned(cs, chunk)?);
    }
    hash_var(cs.clone(), &elems)
}

fn node_var(cs: &Cs, left: &FpVar<Fr>, right: &FpVar<Fr>) -> R<FpVar<Fr>> {
    hash_var(
        cs.clone(),
        &[FpVar::constant(tag(TAG_NODE)), left.clone(), right.clone()],
    )
}

impl ConstraintSynthesizer<Fr> for UnitCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> R<()> {
        let shape = self.shape;
        shape.check().map_err(|_| SynthesisError::Unsatisfiable)?;
        let w = self.witness.as_ref();
        let st = w.map(|w| w.statement);
        let cols = shape.cols;
        let nb = cols / otr_engine::weights::BLOCK;
        let rr = shape.rows_per_unit;

        // Public inputs.
        let commit_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.weights_commitment).ok_or_else(missing)
        })?;
        let row_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| Fr::from(s.row_start)).ok_or_else(missing)
        })?;
        let input_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.input_commitment).ok_or_else(missing)
        })?;
        let output_in = FpVar::new_input(cs.clone(), || {
            st.map(|s| s.output_commitment).ok_or_else(missing)
        })?;

        // Input vector.
        let in_bits = byte_bits(&cs, w.map(|w| w.input_bytes.as_slice()), shape.input_len())?;
        let x_exp = signed(&cs, &in_bits[..32])?;
        let xs = (0..cols)
            .map(|i| signed(&cs, &in_bits[32 + 16 * i..48 + 16 * i]))
            .collect::<R<Vec<_>>>()?;
        hash_bits(&cs, TAG_ACT16, &in_bits)?.enforce_equal(&input_in)?;

        // Rows.
        let vb = shape.value_bits();
        let mut leaves = Vec::with_capacity(rr);
        let mut out_bits = Vec::with_capacity(64 * rr);
        for j in 0..rr {
            let bytes = w.map(|w| w.rows[j].as_slice());
            let bits = byte_bits(&cs, bytes, shape.row_len())?;
            leaves.push(hash_bits(&cs, TAG_ROW, &bits)?);
            let m = unsigned(&cs, &bits[..32])?;
            let e = signed(&cs, &bits[32..64])?;
            let q0 = 64 + 8 * nb;
            let mut acc_lc = lc!();
            let mut acc_val = Some(Fr::from(0u64));
            for k in 0..nb {
                let b = unsigned(&cs, &bits[64 + 8 * k..72 + 8 * k])?;
                let mut s_lc = lc!();
                let mut s_val = Some(Fr::from(0u64));
                for i in 32 * k..32 * (k + 1) {
                    let q = signed(&cs, &bits[q0 + 8 * i..q0 + 8 * i + 8])?;
                    let prod = &q * &xs[i];
                    s_lc = s_lc + lc_of(&prod);
                    s_val = s_val.zip(prod.value().ok()).map(|(a, b)| a + b);
                }
                let s = lc_var(&cs, s_lc, s_val)?;
                let bs = &b * &s;
                acc_lc = acc_lc + lc_of(&bs);
                acc_val = acc_val.zip(bs.value().ok()).map(|(a, b)| a + b);
            }
            let acc = lc_var(&cs, acc_lc, acc_val)?;
            let tamper = match w.map(|w| w.tamper) {
                Some(Tamper::RequantQuotient { row }) if row == j => RequantTamper {
                    quotient: true,
                    ..Default::default()
                },
                Some(Tamper::RoundingBit { row }) if row == j => RequantTamper {
                    rounding_bit: true,
                    ..Default::default()
                },
                _ => RequantTamper::default(),
            };
            let (_y, ybits) = requant(&cs, &acc, &m, &e, &x_exp, vb, tamper)?;
            out_bits.extend(ybits);
        }
        hash_bits(&cs, TAG_WIDE, &out_bits)?.enforce_equal(&output_in)?;

        // Unit subtree, then the path to the root.
        let mut level = leaves;
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| node_var(&cs, &p[0], &p[1]))
                .collect::<R<Vec<_>>>()?;
        }
        let mut cur = level.remove(0);
        let path_len = shape.depth() - shape.unit_depth();
        let unit_index = st.map(|s| s.row_start / rr as u64);
        let dir = (0..path_len)
            .map(|l| {
                Boolean::new_witness(cs.clone(), || {
                    unit_index.map(|u| (u >> l) & 1 == 1).ok_or_else(missing)
                })
            })
            .collect::<R<Vec<_>>>()?;
        (unsigned(&cs, &dir)? * FpVar::constant(Fr::from(rr as u64))).enforce_equal(&row_in)?;
        for (l, bit) in dir.iter().enumerate() {
            let sib = FpVar::new_witness(cs.clone(), || w.map(|w| w.path[l]).ok_or_else(missing))?;
            // bit = 1: the current node is the right child.
            let left = &cur + FpVar::from(bit.clone()) * (&sib - &cur);
            let right = &cur + &sib - &left;
            cur = node_var(&cs, &left, &right)?;
        }
        let commitment = hash_var(
            cs.clone(),
            &[
                FpVar::constant(tag(TAG_MATRIX)),
                FpVar::constant(Fr::from(shape.matrix_rows as u64)),
                FpVar::constant(Fr::from(cols as u64)),
                cur,
            ],
        )?;
        commitment.enforce_equal(&commit_in)?;
        Ok(())
    }
}

/// Number of constraints of the circuit of `shape` (synthesizes it once, in setup mode).
pub fn constraint_count(shape: UnitShape) -> Result<usize, SynthesisError> {
    crate::prove::count_constraints(UnitCircuit::setup(shape))
}

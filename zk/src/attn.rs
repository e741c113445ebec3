//! One attention unit: one query head of the engine's `ATTN` step attending over the `P`
//! positions it sees, `otr_engine::model::ops::attend(q, keys, values, scale)` bit for bit:
//! its native reference (the engine's own function), its public statement, its witness,
//! proving and verification (`docs/PROTOCOL.md` §7.11, `zk/README.md` "Attention units").
//!
//! Commitments (Poseidon, [`crate::pack::hash_bytes`]):
//! - query: `hash_bytes(tag("OTR/zk/act16/v1"), i32le e_q || i16le q[..d])` (the head's `Act16`
//!   bytes, as in the trace; the matvec unit's input commitment of the same bytes);
//! - keys and values: `hash_bytes(tag("OTR/zk/attn-kv/v1"), K_0 || .. || K_{P-1} || V_0 || ..
//!   || V_{P-1})`, each `K_j`, `V_j` the `Act16` bytes of the head's key / value at the `j`-th
//!   visible position (oldest first);
//! - output: `hash_bytes(tag("OTR/zk/wide/v1"), i64le out[..d])` (the head's wide output, before
//!   the step quantizes all heads together).

use ark_bn254::{Bn254, Fr};
use ark_groth16::ProvingKey;
use ark_std::rand::{CryptoRng, RngCore};
use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_core::zk::{PreparedVk, VerifiedProof};
use otr_engine::fixed::{rshift_rne, Act16, W_FRAC};
use otr_engine::model::ops;
use otr_engine::Kernel;
use sha2::{Digest, Sha256};

use crate::circuit::attn::AttnCircuit;
use crate::circuit::gadgets::fr_i128;
use crate::commit::{output_commitment, TAG_ACT16};
use crate::error::ZkError;
use crate::pack::hash_bytes;
use crate::poseidon::tag;
use crate::prove::PROOF_LEN;

/// Tag of the keys-and-values commitment.
pub const TAG_ATTN_KV: &str = "OTR/zk/attn-kv/v1";
/// Names the attention circuit's constraint layout.
pub const ATTN_CIRCUIT_VERSION: &str = "OTR/zk/attn-unit/v1";
/// The largest supported head dimension.
pub const MAX_HEAD_DIM: usize = 512;
/// The most positions a unit supports.
pub const MAX_POSITIONS: usize = 4096;

/// The shape a circuit (and its keys) is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttnShape {
    /// `d`: values per head.
    pub head_dim: usize,
    /// `P`: the positions the query sees (keys, values).
    pub positions: usize,
}

impl AttnShape {
    pub fn new(head_dim: usize, positions: usize) -> Result<Self, ZkError> {
        let s = AttnShape {
            head_dim,
            positions,
        };
        s.check()?;
        Ok(s)
    }

    pub fn check(&self) -> Result<(), ZkError> {
        if self.head_dim == 0 || self.head_dim > MAX_HEAD_DIM {
            return Err(ZkError::Shape(format!(
                "{self:?}: head dimension must be 1..={MAX_HEAD_DIM}"
            )));
        }
        if self.positions == 0 || self.positions > MAX_POSITIONS {
            return Err(ZkError::Shape(format!(
                "{self:?}: positions must be 1..={MAX_POSITIONS}"
            )));
        }
        Ok(())
    }

    /// Bytes of one `Act16` head (`i32le exp || i16le q[d]`).
    pub fn act_len(&self) -> usize {
        4 + 2 * self.head_dim
    }

    /// Bytes of the committed keys and values.
    pub fn kv_len(&self) -> usize {
        2 * self.positions * self.act_len()
    }

    /// Bytes of the output (`i64le` each).
    pub fn output_len(&self) -> usize {
        8 * self.head_dim
    }

    pub(crate) fn seed(&self, tag: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(tag)
            .chain_update(ATTN_CIRCUIT_VERSION.as_bytes())
            .chain_update((self.head_dim as u64).to_le_bytes())
            .chain_update((self.positions as u64).to_le_bytes())
            .finalize()
            .into()
    }
}

/// The engine's output of one head: `ops::attend` (the scalar kernel; every kernel gives the
/// same integers).
pub fn reference(q: &Act16, keys: &[Act16], values: &[Act16], scale_q32: i64) -> Vec<i64> {
    let ks: Vec<&Act16> = keys.iter().collect();
    let vs: Vec<&Act16> = values.iter().collect();
    ops::attend(Kernel::Scalar, q, &ks, &vs, scale_q32)
}

/// The committed key and value bytes: every key's `Act16` bytes, then every value's.
pub fn kv_bytes(keys: &[Act16], values: &[Act16]) -> Vec<u8> {
    keys.iter().chain(values).flat_map(Act16::bytes).collect()
}

/// Commitment of the query head.
pub fn q_commitment(q: &Act16) -> Fr {
    hash_bytes(tag(TAG_ACT16), &q.bytes())
}

/// Commitment of the keys and values.
pub fn kv_commitment(keys: &[Act16], values: &[Act16]) -> Fr {
    hash_bytes(tag(TAG_ATTN_KV), &kv_bytes(keys, values))
}

/// Which head of an `ATTN` step a unit is: query head `head` of `n_heads`, grouped over
/// `n_kv_heads` key/value heads (`Config`'s fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnHead {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head: usize,
}

impl AttnHead {
    fn check(&self) -> Result<(), ZkError> {
        if self.n_kv_heads == 0
            || self.n_heads == 0
            || !self.n_heads.is_multiple_of(self.n_kv_heads)
            || self.head >= self.n_heads
        {
            return Err(ZkError::Shape(format!("{self:?}: no such head")));
        }
        Ok(())
    }

    /// The key/value head the query head reads.
    pub fn kv_head(&self) -> usize {
        self.head / (self.n_heads / self.n_kv_heads)
    }
}

/// The public statement: four field elements, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnStatement {
    /// Commitment of the query head's `Act16` bytes.
    pub q_commitment: Fr,
    /// Commitment of the `P` keys' and values' `Act16` bytes.
    pub kv_commitment: Fr,
    /// `scale_q32` (the model's `attn_scale_q32`), as a signed field element.
    pub scale: i64,
    /// Commitment of the head's wide output (`i64le` each).
    pub output_commitment: Fr,
}

fn acts_from_bytes(b: &[u8], d: usize, what: &str) -> Result<Vec<Act16>, ZkError> {
    let n = 4 + 2 * d;
    if b.is_empty() || !b.len().is_multiple_of(n) {
        return Err(ZkError::Shape(format!(
            "{what} is {} bytes, not a list of Act16 of {d} values",
            b.len()
        )));
    }
    Ok(b.chunks_exact(n).map(|c| act_from_bytes(c, d)).collect())
}

fn act_from_bytes(c: &[u8], d: usize) -> Act16 {
    Act16 {
        exp: i32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
        q: (0..d)
            .map(|i| i16::from_le_bytes([c[4 + 2 * i], c[5 + 2 * i]]))
            .collect(),
    }
}

/// A head's query, keys and values from an `ATTN` step's inputs.
pub type HeadInputs = (Act16, Vec<Act16>, Vec<Act16>);

impl AttnStatement {
    /// The statement of a head from its data and a claimed output.
    pub fn of(q: &Act16, keys: &[Act16], values: &[Act16], scale: i64, out: &[i64]) -> Self {
        AttnStatement {
            q_commitment: q_commitment(q),
            kv_commitment: kv_commitment(keys, values),
            scale,
            output_commitment: output_commitment(out),
        }
    }

    /// The head's inputs from the bytes of an `ATTN` step's inputs in the trace: the query heads
    /// `Acts(q)`, the visible keys `Acts(k)` and values `Acts(v)` (position-major, kv-head-minor).
    pub fn head_inputs(
        shape: &AttnShape,
        head: AttnHead,
        q_bytes: &[u8],
        k_bytes: &[u8],
        v_bytes: &[u8],
    ) -> Result<HeadInputs, ZkError> {
        shape.check()?;
        head.check()?;
        let d = shape.head_dim;
        let qs = acts_from_bytes(q_bytes, d, "query heads")?;
        let ks = acts_from_bytes(k_bytes, d, "keys")?;
        let vs = acts_from_bytes(v_bytes, d, "values")?;
        let want = shape.positions * head.n_kv_heads;
        if qs.len() != head.n_heads || ks.len() != want || vs.len() != want {
            return Err(ZkError::Shape(format!(
                "{} query heads, {} keys, {} values; the shape needs {}, {want}, {want}",
                qs.len(),
                ks.len(),
                vs.len(),
                head.n_heads
            )));
        }
        let kvh = head.kv_head();
        let pick = |v: &[Act16]| -> Vec<Act16> {
            v.iter()
                .skip(kvh)
                .step_by(head.n_kv_heads)
                .cloned()
                .collect()
        };
        Ok((qs[head.head].clone(), pick(&ks), pick(&vs)))
    }

    /// What a verifier computes outside the circuit: the head's inputs from the step's input
    /// bytes (each already checked against its SHA-256 trace leaf), `scale` from the model's
    /// registered config, and the output commitment of the head's claimed wide output `out`
    /// (carried with the proof), after checking that `out` quantizes to the step's output
    /// `Act(..)` (`i32le exp || i16le q[n_heads d]`) at this head: `rshift_rne(out_i, exp + 32)
    /// = q[head d + i]` for every `i`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_trace(
        shape: &AttnShape,
        head: AttnHead,
        scale: i64,
        q_bytes: &[u8],
        k_bytes: &[u8],
        v_bytes: &[u8],
        out_act_bytes: &[u8],
        out: &[i64],
    ) -> Result<Self, ZkError> {
        let (q, keys, values) = Self::head_inputs(shape, head, q_bytes, k_bytes, v_bytes)?;
        let d = shape.head_dim;
        if out.len() != d || out_act_bytes.len() != 4 + 2 * d * head.n_heads {
            return Err(ZkError::Shape(format!(
                "output of {} values and {} bytes; the shape needs {d} and {}",
                out.len(),
                out_act_bytes.len(),
                4 + 2 * d * head.n_heads
            )));
        }
        let act = act_from_bytes(out_act_bytes, d * head.n_heads);
        let s = act.exp as i64 + W_FRAC as i64;
        let fits = (0..64).contains(&s)
            && out
                .iter()
                .enumerate()
                .all(|(i, &o)| rshift_rne(o as i128, s as u32) == act.q[head.head * d + i] as i128);
        if !fits {
            return Err(ZkError::Shape(
                "the claimed head output does not quantize to the step's output".into(),
            ));
        }
        Ok(Self::of(&q, &keys, &values, scale, out))
    }

    /// The public inputs, in circuit order.
    pub fn public_inputs(&self) -> Vec<Fr> {
        vec![
            self.q_commitment,
            self.kv_commitment,
            fr_i128(self.scale as i128),
            self.output_commitment,
        ]
    }

    /// The bundle form: 32-byte big-endian each.
    pub fn public_inputs_be(&self) -> Vec<[u8; 32]> {
        self.public_inputs()
            .iter()
            .map(scalar_to_be_bytes)
            .collect()
    }
}

/// Dishonest witness changes for soundness tests. `None` in every real use.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttnTamper {
    #[default]
    None,
    /// The maximum score's witness moved by `delta`.
    Max { delta: i64 },
    /// The largest value exponent's witness moved by `delta`.
    ValueExpMax { delta: i64 },
    /// Key `key`'s score division: quotient one up, remainder one divisor down.
    ScoreQuotient { key: usize },
    /// Key `key`'s table interpolation division moved likewise.
    InterpQuotient { key: usize },
    /// Key `key`'s `2^-n` division of the weight moved likewise.
    WeightQuotient { key: usize },
    /// Key `key`'s alignment to the largest value exponent moved likewise.
    AlignQuotient { key: usize },
    /// Output element `dim`'s division by the total moved likewise.
    OutQuotient { dim: usize },
}

/// Everything the prover knows about one unit: the circuit's witness.
#[derive(Clone, Debug)]
pub struct AttnWitness {
    pub shape: AttnShape,
    pub statement: AttnStatement,
    pub q: Act16,
    pub keys: Vec<Act16>,
    pub values: Vec<Act16>,
    pub scale: i64,
    /// The head's wide output (claimed).
    pub out: Vec<i64>,
    #[doc(hidden)]
    pub tamper: AttnTamper,
}

impl AttnWitness {
    /// The honest witness: the output is the engine's, computed here.
    pub fn new(q: &Act16, keys: &[Act16], values: &[Act16], scale: i64) -> Result<Self, ZkError> {
        let shape = Self::shape_of(q, keys, values)?;
        let out = reference(q, keys, values, scale);
        Ok(Self::build(shape, q, keys, values, scale, out))
    }

    /// A witness for a claimed output (honest or not).
    pub fn claim(
        q: &Act16,
        keys: &[Act16],
        values: &[Act16],
        scale: i64,
        out: &[i64],
    ) -> Result<Self, ZkError> {
        let shape = Self::shape_of(q, keys, values)?;
        if out.len() != shape.head_dim {
            return Err(ZkError::Shape(format!(
                "output of {} values for a head of {}",
                out.len(),
                shape.head_dim
            )));
        }
        Ok(Self::build(shape, q, keys, values, scale, out.to_vec()))
    }

    fn shape_of(q: &Act16, keys: &[Act16], values: &[Act16]) -> Result<AttnShape, ZkError> {
        let shape = AttnShape::new(q.q.len(), keys.len())?;
        if values.len() != keys.len()
            || keys
                .iter()
                .chain(values)
                .any(|a| a.q.len() != shape.head_dim)
        {
            return Err(ZkError::Shape(format!(
                "{} keys and {} values of a head of {}: lengths differ",
                keys.len(),
                values.len(),
                shape.head_dim
            )));
        }
        Ok(shape)
    }

    fn build(
        shape: AttnShape,
        q: &Act16,
        keys: &[Act16],
        values: &[Act16],
        scale: i64,
        out: Vec<i64>,
    ) -> Self {
        AttnWitness {
            shape,
            statement: AttnStatement::of(q, keys, values, scale, &out),
            q: q.clone(),
            keys: keys.to_vec(),
            values: values.to_vec(),
            scale,
            out,
            tamper: AttnTamper::None,
        }
    }
}

/// A proof of one attention unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttnProof {
    /// Compressed Groth16 proof `A || B || C`.
    pub proof: [u8; PROOF_LEN],
    pub statement: AttnStatement,
    /// The head's wide output (what `C_out` commits to; the verifier checks it against the
    /// step's output, [`AttnStatement::from_trace`]).
    pub outputs: Vec<i64>,
}

/// The deterministic initial key from a **public** seed (INSECURE: anyone can forge proofs
/// with it; tests and benchmarks only), `delta = 1`, like [`crate::act::initial_key_insecure`].
pub fn initial_key_insecure(shape: AttnShape) -> Result<ProvingKey<Bn254>, ZkError> {
    shape.check()?;
    crate::prove::initial_key_from_seed(
        AttnCircuit::setup(shape),
        shape.seed(crate::ceremony::PHASE1_TAG),
    )
}

/// The initial key (`gamma = delta = 1`) from verified phase-1 powers
/// ([`crate::phase1::derive_initial_key`]).
pub fn initial_key_from_phase1(
    powers: &crate::phase1::Powers,
    shape: AttnShape,
) -> Result<ProvingKey<Bn254>, ZkError> {
    shape.check()?;
    crate::phase1::derive_initial_key(powers, AttnCircuit::setup(shape), None)
}

/// Whether the witness satisfies the circuit (synthesis only: no key, no proof).
pub fn check_attn_witness(witness: AttnWitness) -> Result<bool, ZkError> {
    crate::prove::is_satisfied(AttnCircuit::prove(witness))
}

/// Synthesizes the witness, checks every constraint, then proves.
/// A witness that does not satisfy the circuit is [`ZkError::Unsatisfied`] (no proof is made).
pub fn prove_attn_witness<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    witness: AttnWitness,
    rng: &mut R,
) -> Result<AttnProof, ZkError> {
    let statement = witness.statement;
    let outputs = witness.out.clone();
    let proof = crate::prove::prove_circuit(pk, AttnCircuit::prove(witness), rng)?;
    Ok(AttnProof {
        proof,
        statement,
        outputs,
    })
}

/// Proves the engine's attention of `q` over `keys`, `values`.
pub fn prove_attn_unit<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    q: &Act16,
    keys: &[Act16],
    values: &[Act16],
    scale: i64,
    rng: &mut R,
) -> Result<AttnProof, ZkError> {
    prove_attn_witness(pk, AttnWitness::new(q, keys, values, scale)?, rng)
}

/// Verifies an attention unit proof for a statement with the core verifier.
pub fn verify_attn_unit(
    vk: &PreparedVk,
    statement: &AttnStatement,
    proof: &[u8],
) -> Result<VerifiedProof, ZkError> {
    Ok(vk.verify_bytes(proof, &statement.public_inputs_be())?)
}

/// Number of constraints of the circuit of `shape`.
pub fn attn_constraint_count(shape: AttnShape) -> Result<usize, ZkError> {
    shape.check()?;
    Ok(crate::prove::count_constraints(AttnCircuit::setup(shape))?)
}

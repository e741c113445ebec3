//! One sampled unit of the gated activation step `ACT`: a block of `E` consecutive elements of
//! `Act16::from_wide(ops::gated(gate, up, f))`, its native reference (the engine's own
//! functions), its public statement, its witness, proving and verification.
//!
//! The step's inputs in the trace are the wide outputs of `GATE` and `UP` (`i64le` each); its
//! output is the `Act16` of the whole gated vector (`i32le exp || i16le q[..]`). A unit covers
//! elements `start .. start + E`; the exponent `exp` is the whole vector's (chosen from the
//! largest element of all of them: see `zk/README.md`, "ACT units", for what stays outside).
//!
//! Commitments (Poseidon, [`crate::pack::hash_bytes`]):
//! - table: `hash_bytes(tag("OTR/zk/interp-table/v1"), InterpTable::canonical_bytes)`;
//! - input: `hash_bytes(tag("OTR/zk/gated-in/v1"), i64le gate[start..start+E] ||
//!   i64le up[start..start+E])`;
//! - output: `hash_bytes(tag("OTR/zk/act16-slice/v1"), i32le exp || i16le q[start..start+E])`.

use ark_bn254::{Bn254, Fr};
use ark_groth16::ProvingKey;
use ark_std::rand::{CryptoRng, RngCore};
use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_core::zk::{PreparedVk, VerifiedProof};
use otr_engine::fixed::Act16;
use otr_engine::model::ops;
use otr_engine::tables::{tables, InterpTable};
use sha2::{Digest, Sha256};

use crate::circuit::act::ActCircuit;
use crate::error::ZkError;
use crate::pack::hash_bytes;
use crate::poseidon::tag;
use crate::prove::PROOF_LEN;

/// Tag of the table commitment.
pub const TAG_TABLE: &str = "OTR/zk/interp-table/v1";
/// Tag of a unit's input commitment (gate and up slices).
pub const TAG_GATED_IN: &str = "OTR/zk/gated-in/v1";
/// Tag of a unit's output commitment (exponent and `i16` slice).
pub const TAG_ACT16_SLICE: &str = "OTR/zk/act16-slice/v1";
/// Names the ACT circuit's constraint layout.
pub const ACT_CIRCUIT_VERSION: &str = "OTR/zk/act-unit/v1";
/// The largest supported block.
pub const MAX_ELEMS: usize = 4096;

/// Which engine table the unit's `f` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActTable {
    /// GELU (tanh form), Gemma 3: `[-8, 8]`, step `2^-8`, 4097 entries.
    Gelu,
    /// SiLU, Llama: `[-32, 32]`, step `2^-7`, 8193 entries.
    Silu,
}

impl ActTable {
    /// The engine's table.
    pub fn table(self) -> &'static InterpTable {
        match self {
            ActTable::Gelu => &tables().gelu,
            ActTable::Silu => &tables().silu,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ActTable::Gelu => "gelu",
            ActTable::Silu => "silu",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ZkError> {
        match s {
            "gelu" => Ok(ActTable::Gelu),
            "silu" => Ok(ActTable::Silu),
            _ => Err(ZkError::Shape(format!("unknown table {s:?} (gelu, silu)"))),
        }
    }

    /// The table whose engine digest (`InterpTable::digest`, `Model::act_table_digest`) is `d`.
    pub fn from_digest(d: &[u8; 32]) -> Result<Self, ZkError> {
        [ActTable::Gelu, ActTable::Silu]
            .into_iter()
            .find(|t| &t.table().digest() == d)
            .ok_or_else(|| ZkError::Shape("no ACT circuit for this activation table".into()))
    }

    /// The Poseidon commitment of the table (public input 0).
    pub fn commitment(self) -> Fr {
        table_commitment(self.table())
    }
}

/// `hash_bytes(tag("OTR/zk/interp-table/v1"), canonical_bytes)`.
pub fn table_commitment(t: &InterpTable) -> Fr {
    hash_bytes(tag(TAG_TABLE), &t.canonical_bytes())
}

/// The shape a circuit (and its keys) is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActShape {
    pub table: ActTable,
    /// Length of the step's vectors (the FFN width).
    pub len: usize,
    /// Elements per unit `E`, dividing `len`.
    pub elems: usize,
}

impl ActShape {
    pub fn new(table: ActTable, len: usize, elems: usize) -> Result<Self, ZkError> {
        let s = ActShape { table, len, elems };
        s.check()?;
        Ok(s)
    }

    pub fn check(&self) -> Result<(), ZkError> {
        let bad = |why: &str| Err(ZkError::Shape(format!("{self:?}: {why}")));
        if self.elems == 0 || self.elems > MAX_ELEMS {
            return bad("elements per unit must be 1..=4096");
        }
        if self.len == 0 || !self.len.is_multiple_of(self.elems) || self.len > 1 << 24 {
            return bad("length must be a positive multiple of the elements per unit, < 2^24");
        }
        let t = self.table.table();
        if t.values.len() < 2 || t.step_bits == 0 || t.step_bits >= otr_engine::fixed::W_FRAC {
            return bad("unsupported table");
        }
        Ok(())
    }

    pub fn units(&self) -> usize {
        self.len / self.elems
    }

    /// Bytes of a unit's input (gate and up slices).
    pub fn input_len(&self) -> usize {
        16 * self.elems
    }

    /// Bytes of a unit's output (exponent and `i16` slice).
    pub fn output_len(&self) -> usize {
        4 + 2 * self.elems
    }

    pub(crate) fn seed(&self, tag: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(tag)
            .chain_update(ACT_CIRCUIT_VERSION.as_bytes())
            .chain_update(self.table.table().digest())
            .chain_update((self.len as u64).to_le_bytes())
            .chain_update((self.elems as u64).to_le_bytes())
            .finalize()
            .into()
    }
}

/// The engine's `ACT` output of the whole vectors (`Act16::from_wide(ops::gated(..))`).
pub fn reference(gate: &[i64], up: &[i64], table: &InterpTable) -> Act16 {
    Act16::from_wide(&ops::gated(gate, up, table))
}

/// Input bytes of a unit: `i64le gate[..] || i64le up[..]` (the slices).
pub fn input_bytes(gate: &[i64], up: &[i64]) -> Vec<u8> {
    gate.iter()
        .chain(up)
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Output bytes of a unit: `i32le exp || i16le q[..]` (the slice).
pub fn output_bytes(exp: i32, q: &[i16]) -> Vec<u8> {
    let mut b = exp.to_le_bytes().to_vec();
    for v in q {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

/// The public statement: four field elements, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActStatement {
    /// [`ActTable::commitment`].
    pub table_commitment: Fr,
    /// First element of the unit (a multiple of `E`).
    pub start: u64,
    /// Commitment of the gate and up slices.
    pub input_commitment: Fr,
    /// Commitment of the exponent and the output slice.
    pub output_commitment: Fr,
}

fn wide_from_bytes(b: &[u8], len: usize, what: &str) -> Result<Vec<i64>, ZkError> {
    if b.len() != 8 * len {
        return Err(ZkError::Shape(format!(
            "{what} is {} bytes, the shape needs {}",
            b.len(),
            8 * len
        )));
    }
    Ok(b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect())
}

impl ActStatement {
    /// What a verifier computes outside the circuit from the step's bytes in the trace (each
    /// already checked against its SHA-256 leaf): the step inputs `Wide(gate)`, `Wide(up)`
    /// (`i64le` each, whole vectors) and the step output `Act(..)` (`i32le exp || i16le q[..]`).
    pub fn from_trace(
        shape: &ActShape,
        start: u64,
        gate_bytes: &[u8],
        up_bytes: &[u8],
        act_bytes: &[u8],
    ) -> Result<Self, ZkError> {
        shape.check()?;
        Self::check_start(shape, start)?;
        let gate = wide_from_bytes(gate_bytes, shape.len, "gate")?;
        let up = wide_from_bytes(up_bytes, shape.len, "up")?;
        if act_bytes.len() != 4 + 2 * shape.len {
            return Err(ZkError::Shape(format!(
                "ACT output is {} bytes, the shape needs {}",
                act_bytes.len(),
                4 + 2 * shape.len
            )));
        }
        let (s, e) = (start as usize, start as usize + shape.elems);
        let mut out = act_bytes[..4].to_vec();
        out.extend_from_slice(&act_bytes[4 + 2 * s..4 + 2 * e]);
        Ok(Self::of_slices(shape, start, &gate[s..e], &up[s..e], &out))
    }

    /// The statement of a unit from its slices and output bytes (`i32le exp || i16le q[..]`).
    pub fn of_slices(
        shape: &ActShape,
        start: u64,
        gate: &[i64],
        up: &[i64],
        out_bytes: &[u8],
    ) -> Self {
        ActStatement {
            table_commitment: shape.table.commitment(),
            start,
            input_commitment: hash_bytes(tag(TAG_GATED_IN), &input_bytes(gate, up)),
            output_commitment: hash_bytes(tag(TAG_ACT16_SLICE), out_bytes),
        }
    }

    /// `start` must be a multiple of `E` below `len`.
    pub fn check_start(shape: &ActShape, start: u64) -> Result<(), ZkError> {
        if !start.is_multiple_of(shape.elems as u64) || start >= shape.len as u64 {
            return Err(ZkError::Shape(format!(
                "element {start} does not start a unit of {} in a vector of {}",
                shape.elems, shape.len
            )));
        }
        Ok(())
    }

    /// The public inputs, in circuit order.
    pub fn public_inputs(&self) -> Vec<Fr> {
        vec![
            self.table_commitment,
            Fr::from(self.start),
            self.input_commitment,
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
pub enum ActTamper {
    #[default]
    None,
    /// Element `elem`'s table index one higher, its remainder one step lower (the same offset).
    IndexShift { elem: usize },
    /// Element `elem`'s table index set to the last entry (past the last interval), the
    /// remainder adjusted to keep the offset.
    IndexPastEnd { elem: usize },
    /// Flip the interpolation's "round up" bit of element `elem`.
    InterpRounding { elem: usize },
    /// Element `elem`'s `Act16` division witness moved by one step (floor or ceiling rounding).
    QuantQuotient { elem: usize },
    /// Flip element `elem`'s "above the table" comparison bit (clamping ignored or invented).
    ClampBit { elem: usize },
}

/// Everything the prover knows about one unit: the circuit's witness.
#[derive(Clone, Debug)]
pub struct ActWitness {
    pub shape: ActShape,
    pub statement: ActStatement,
    pub gate: Vec<i64>,
    pub up: Vec<i64>,
    /// The whole vector's `Act16` exponent.
    pub exp: i32,
    /// The unit's output slice.
    pub q: Vec<i16>,
    #[doc(hidden)]
    pub tamper: ActTamper,
}

impl ActWitness {
    /// The honest witness of unit `start` of the step with whole inputs `gate`, `up` (the
    /// output is the engine's, computed here).
    pub fn new(shape: ActShape, gate: &[i64], up: &[i64], start: usize) -> Result<Self, ZkError> {
        shape.check()?;
        if gate.len() != shape.len || up.len() != shape.len {
            return Err(ZkError::Shape(format!(
                "inputs have {} and {} values, the shape needs {}",
                gate.len(),
                up.len(),
                shape.len
            )));
        }
        ActStatement::check_start(&shape, start as u64)?;
        let out = reference(gate, up, shape.table.table());
        let e = start + shape.elems;
        Ok(Self::claim(
            shape,
            start,
            &gate[start..e],
            &up[start..e],
            out.exp,
            &out.q[start..e],
        ))
    }

    /// A witness for a claimed output (honest or not) of the slices.
    pub fn claim(
        shape: ActShape,
        start: usize,
        gate: &[i64],
        up: &[i64],
        exp: i32,
        q: &[i16],
    ) -> Self {
        let statement =
            ActStatement::of_slices(&shape, start as u64, gate, up, &output_bytes(exp, q));
        ActWitness {
            shape,
            statement,
            gate: gate.to_vec(),
            up: up.to_vec(),
            exp,
            q: q.to_vec(),
            tamper: ActTamper::None,
        }
    }
}

/// A proof of one ACT unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActProof {
    /// Compressed Groth16 proof `A || B || C`.
    pub proof: [u8; PROOF_LEN],
    pub statement: ActStatement,
}

/// The deterministic initial key from a **public** seed (INSECURE: anyone can forge proofs
/// with it; tests and benchmarks only), `delta = 1`, like [`crate::ceremony::initial_key`].
pub fn initial_key_insecure(shape: ActShape) -> Result<ProvingKey<Bn254>, ZkError> {
    shape.check()?;
    crate::prove::initial_key_from_seed(
        ActCircuit::setup(shape),
        shape.seed(crate::ceremony::PHASE1_TAG),
    )
}

/// The initial key (`gamma = delta = 1`) from verified phase-1 powers
/// ([`crate::phase1::derive_initial_key`]).
pub fn initial_key_from_phase1(
    powers: &crate::phase1::Powers,
    shape: ActShape,
) -> Result<ProvingKey<Bn254>, ZkError> {
    shape.check()?;
    crate::phase1::derive_initial_key(powers, ActCircuit::setup(shape), None)
}

/// Whether the witness satisfies the circuit (synthesis only: no key, no proof).
pub fn check_act_witness(witness: ActWitness) -> Result<bool, ZkError> {
    crate::prove::is_satisfied(ActCircuit::prove(witness))
}

/// Synthesizes the witness, checks every constraint, then proves.
/// A witness that does not satisfy the circuit is [`ZkError::Unsatisfied`] (no proof is made).
pub fn prove_act_witness<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    witness: ActWitness,
    rng: &mut R,
) -> Result<ActProof, ZkError> {
    let statement = witness.statement;
    let proof = crate::prove::prove_circuit(pk, ActCircuit::prove(witness), rng)?;
    Ok(ActProof { proof, statement })
}

/// Proves unit `start` of the step with whole inputs `gate`, `up`.
pub fn prove_act_unit<R: RngCore + CryptoRng>(
    pk: &ProvingKey<Bn254>,
    shape: ActShape,
    gate: &[i64],
    up: &[i64],
    start: usize,
    rng: &mut R,
) -> Result<ActProof, ZkError> {
    prove_act_witness(pk, ActWitness::new(shape, gate, up, start)?, rng)
}

/// Verifies an ACT unit proof for a statement with the core verifier.
pub fn verify_act_unit(
    vk: &PreparedVk,
    statement: &ActStatement,
    proof: &[u8],
) -> Result<VerifiedProof, ZkError> {
    Ok(vk.verify_bytes(proof, &statement.public_inputs_be())?)
}

/// Number of constraints of the circuit of `shape`.
pub fn act_constraint_count(shape: ActShape) -> Result<usize, ZkError> {
    shape.check()?;
    Ok(crate::prove::count_constraints(ActCircuit::setup(shape))?)
}

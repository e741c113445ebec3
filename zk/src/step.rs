//! Units of the engine's trace steps: which weight matrix a matrix-vector step multiplies by,
//! and the proof of one unit of a step from the step's recorded input (`docs/PROTOCOL.md` §7.8).

use ark_std::rand::{CryptoRng, RngCore};
use otr_engine::fixed::{wide_bytes, Act16};
use otr_engine::model::trace::{head_op, layer_op};
use otr_engine::weights::QMatrix;
use otr_engine::StepKey;

use crate::commit::MatrixTree;
use crate::error::ZkError;
use crate::keys::Keys;
use crate::prove::{prove_unit, verify_unit, UnitProof};
use crate::unit::{reference_rows, UnitShape, UnitStatement};

/// The name (in the engine's converted weights) of the matrix step `key` multiplies by, for a
/// model of `n_layers` layers; `None` for steps that are not matrix-vector products.
/// `separate_output`: the model has its own `output.weight` (else logits use the embedding).
pub fn matrix_name(key: StepKey, n_layers: u16, separate_output: bool) -> Option<String> {
    if key.stage >= 1 && key.stage <= n_layers {
        let l = key.stage - 1;
        let t = match key.op {
            layer_op::Q => "attn_q",
            layer_op::K => "attn_k",
            layer_op::V => "attn_v",
            layer_op::O => "attn_output",
            layer_op::GATE => "ffn_gate",
            layer_op::UP => "ffn_up",
            layer_op::DOWN => "ffn_down",
            _ => return None,
        };
        return Some(format!("blk.{l}.{t}.weight"));
    }
    if key.stage == n_layers + 1 && key.op == head_op::LOGITS {
        return Some(if separate_output {
            "output.weight".into()
        } else {
            "token_embd.weight".into()
        });
    }
    None
}

/// Parses `Act16::bytes` (`i32le exp || i16le q[..]`) of `cols` values.
pub fn act16_from_bytes(b: &[u8], cols: usize) -> Result<Act16, ZkError> {
    if b.len() != 4 + 2 * cols {
        return Err(ZkError::Shape(format!(
            "step input is {} bytes, a {cols}-column matrix needs {}",
            b.len(),
            4 + 2 * cols
        )));
    }
    Ok(Act16 {
        exp: i32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        q: b[4..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
    })
}

/// A proved unit of a trace step, checked by the core verifier.
#[derive(Clone, Debug)]
pub struct StepUnitProof {
    pub proof: UnitProof,
    /// Public inputs, bundle form (32-byte big-endian each).
    pub public_inputs: Vec<[u8; 32]>,
    /// SHA-256 of the whole step output (the trace leaf's digest) that the unit is a slice of.
    pub output_digest: [u8; 32],
    /// The whole step output (`i64le` per row), whose SHA-256 is `output_digest`.
    pub output: Vec<u8>,
}

/// Proves unit `unit` (rows `unit * R ..`) of `w` times the step input `input_bytes`, after
/// checking that the full product hashes to `output_digest` when one is given (the trace leaf
/// of the step: the proof is then of the step the trace recorded). Verifies the proof with the
/// core verifier and recomputes its statement from the bytes before returning it.
pub fn prove_step_unit<R: RngCore + CryptoRng>(
    keys: &Keys,
    w: &QMatrix,
    tree: &MatrixTree,
    input_bytes: &[u8],
    output_digest: Option<[u8; 32]>,
    unit: u64,
    rng: &mut R,
) -> Result<StepUnitProof, ZkError> {
    let shape = UnitShape::of(w, keys.shape.rows_per_unit)?;
    if shape != keys.shape {
        return Err(ZkError::Shape(format!(
            "the matrix is {} x {}, the keys are for {} x {}",
            w.rows, w.cols, keys.shape.matrix_rows, keys.shape.cols
        )));
    }
    let r = shape.rows_per_unit;
    if unit >= shape.units() as u64 {
        return Err(ZkError::Shape(format!(
            "unit {unit} of a matrix with {} units",
            shape.units()
        )));
    }
    let x = act16_from_bytes(input_bytes, w.cols)?;
    let full = reference_rows(w, &x, 0, w.rows);
    let output = wide_bytes(&full);
    let digest = otr_core::rollup::tensor::wide_digest_bytes(&output);
    if let Some(d) = output_digest {
        if d != digest {
            return Err(ZkError::Unsatisfied);
        }
    }
    let row_start = unit as usize * r;
    let proof = prove_unit(&keys.pk, tree, w, &x, r, row_start, rng)?;
    // What a verifier computes from the trace bytes must be the proof's statement.
    let st = UnitStatement::from_trace(
        &shape,
        tree.commitment(),
        row_start as u64,
        input_bytes,
        &full[row_start..row_start + r],
    )?;
    if st != proof.statement {
        return Err(ZkError::Unsatisfied);
    }
    verify_unit(&keys.vk, &st, &proof.proof)?;
    Ok(StepUnitProof {
        public_inputs: st.public_inputs_be(),
        proof,
        output_digest: digest,
        output,
    })
}

/// A matrix commitment's place in the model's matrix root (`zkroot`): leaf index, tree size and
/// audit path.
pub type MatrixOpening = (u64, u64, Vec<[u8; 32]>);

/// The bundle statement of a unit proof of trace step `step` (input step `input`) of the trace
/// `leaves` (its 57-byte leaves in order): both leaves with their audit paths in the trace, the
/// input `x` (`Act16` bytes) and whole output `y` (`i64le`), the rows per unit, and the matrix
/// `matrix` with its commitment's opening (`otr_core::zk::statement` checks it).
#[allow(clippy::too_many_arguments)]
pub fn statement(
    leaves: &[Vec<u8>],
    step: u64,
    input: u64,
    x: &[u8],
    y: &[u8],
    unit_rows: usize,
    matrix: &str,
    opening: MatrixOpening,
) -> Result<otr_core::rollup::ZkStatement, ZkError> {
    let open = |i: u64| -> Result<otr_core::rollup::TraceOpening, ZkError> {
        let p = otr_core::rollup::merkle::prove(leaves, i)
            .map_err(|e| ZkError::Shape(format!("trace leaf {i}: {e}")))?;
        Ok(otr_core::rollup::TraceOpening {
            index: i,
            leaf: leaves[i as usize].clone(),
            path: p.path,
        })
    };
    Ok(otr_core::rollup::ZkStatement {
        step: open(step)?,
        input: open(input)?,
        x: x.to_vec(),
        y: y.to_vec(),
        unit_rows: unit_rows as u32,
        matrix: matrix.to_string(),
        matrix_index: opening.0,
        matrix_size: opening.1,
        matrix_path: opening.2,
    })
}

//! Binding a matrix-vector unit proof to the answer it came with (`docs/PROTOCOL.md` §7.8):
//! a bundle's [`ZkStatement`] opens the proved step and its input step in the receipt's own
//! trace, carries their tensors, and names the matrix with its commitment's opening in the
//! model's matrix root. [`check_statement`] recomputes what the proof's public inputs must be:
//!
//! 1. both leaves are in the receipt's trace (`trace_root`, `trace_steps`), the input before the
//!    step, at the same position and stage, the step a matrix-vector product whose input is that
//!    operator (`Q K V` of `ATTN_NORM`, `O` of `ATTN`, `GATE UP` of `FFN_NORM`, `DOWN` of `ACT`,
//!    `LOGITS` of `FINAL_NORM`), and the matrix name the step's (`blk.{stage-1}.attn_q.weight`
//!    ..., `output.weight` or `token_embd.weight` for `LOGITS`);
//! 2. `SHA-256(x)` and `SHA-256(y)` are the two leaves' digests;
//! 3. the public inputs are `(C_W, row_start, C_x, C_y)` with `row_start` a multiple of the rows
//!    per unit below the output's rows, `C_x = Poseidon commitment of x` and `C_y` that of the
//!    unit's `R` output values;
//! 4. the matrix leaf `"OTR/zk-matrix/v1\0" || u16be(len(name)) || name || C_W` opens to a root
//!    ([`BoundClaim::matrix_root`]), which the client compares with the registry's
//!    `poseidonRoot` (the one input it must take from the chain).
//!
//! Without the model's layer count a stage does not say whether op 1 is a layer's `Q` or the
//! head's `LOGITS` (both read op 0): a statement naming `output.weight` for a layer's `Q` passes
//! these checks, but its matrix leaf (`output.weight` with `Q`'s commitment) is in no registered
//! tree, so the matrix root comparison refuses it. A proof is bound to the registered model only
//! once that comparison is made.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ark_ff::{BigInteger, PrimeField};
use sha2::{Digest, Sha256};

use super::poseidon::Poseidon;
use super::Fr;
use crate::error::{ErrorCode, Stage};
use crate::rollup::merkle::{leaf_hash, root_from_path};
use crate::rollup::{Hash, Receipt, ZkStatement};

/// Tag of a trace leaf (engine `TRACE_LEAF_TAG`).
pub const TRACE_LEAF_TAG: &[u8] = b"OTR/trace-step/v1\0";
/// Tag of a matrix leaf in the model's matrix root (`zkroot`).
pub const MATRIX_LEAF_TAG: &[u8] = b"OTR/zk-matrix/v1\0";

/// A trace leaf's key and digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeafKey {
    pub pos: u32,
    pub stage: u16,
    pub op: u8,
}

/// The 57-byte trace leaf of step `key` with output digest `digest` (engine `trace::leaf`).
pub fn leaf_bytes(key: LeafKey, digest: &Hash) -> Vec<u8> {
    let mut l = Vec::with_capacity(TRACE_LEAF_TAG.len() + 39);
    l.extend_from_slice(TRACE_LEAF_TAG);
    l.extend_from_slice(&key.pos.to_be_bytes());
    l.extend_from_slice(&key.stage.to_be_bytes());
    l.push(key.op);
    l.extend_from_slice(digest);
    l
}

/// The key and digest of a 57-byte trace leaf (`None` for anything else).
pub fn trace_leaf(leaf: &[u8]) -> Option<(LeafKey, Hash)> {
    let t = TRACE_LEAF_TAG.len();
    if leaf.len() != t + 7 + 32 || &leaf[..t] != TRACE_LEAF_TAG {
        return None;
    }
    let key = LeafKey {
        pos: u32::from_be_bytes(leaf[t..t + 4].try_into().ok()?),
        stage: u16::from_be_bytes(leaf[t + 4..t + 6].try_into().ok()?),
        op: leaf[t + 6],
    };
    Some((key, leaf[t + 7..].try_into().ok()?))
}

/// Why a statement does not bind its proof to the receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementError {
    /// A leaf is not a trace leaf, or not in the receipt's trace.
    Leaf { which: &'static str, reason: String },
    /// The step is not a matrix-vector product of that input and matrix.
    Step(String),
    /// A tensor's SHA-256 is not its leaf's digest.
    Digest { which: &'static str },
    /// The public inputs are not `(C_W, row_start, C_x, C_y)` of the statement.
    PublicInput { which: &'static str, reason: String },
    /// The matrix commitment's opening is malformed.
    Matrix(String),
    /// A matrix root was required, and the proof carries no statement.
    Missing,
    /// The matrix commitment opens to another root than the one required.
    MatrixRoot { got: String, expected: String },
}

impl ErrorCode for StatementError {
    fn code(&self) -> &'static str {
        match self {
            StatementError::Leaf { .. } => "ZK_STATEMENT_LEAF",
            StatementError::Step(_) => "ZK_STATEMENT_STEP",
            StatementError::Digest { .. } => "ZK_STATEMENT_DIGEST",
            StatementError::PublicInput { .. } => "ZK_STATEMENT_PUBLIC_INPUT",
            StatementError::Matrix(_) => "ZK_STATEMENT_MATRIX",
            StatementError::Missing => "ZK_STATEMENT_MISSING",
            StatementError::MatrixRoot { .. } => "ZK_STATEMENT_MATRIX_ROOT",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Proof
    }
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatementError::Leaf { which, reason } => write!(f, "statement {which} leaf: {reason}"),
            StatementError::Step(r) => write!(f, "statement step: {r}"),
            StatementError::Digest { which } => {
                write!(
                    f,
                    "statement {which}: its SHA-256 is not the trace leaf's digest"
                )
            }
            StatementError::PublicInput { which, reason } => {
                write!(f, "public input {which}: {reason}")
            }
            StatementError::Matrix(r) => write!(f, "statement matrix: {r}"),
            StatementError::Missing => f.write_str(
                "the proof carries no statement, so it is not bound to this answer or model",
            ),
            StatementError::MatrixRoot { got, expected } => write!(
                f,
                "the matrix commitment opens to root {got}, not the model's {expected}"
            ),
        }
    }
}

/// The leaf of matrix `name` with commitment `c_w` in a model's matrix root:
/// `"OTR/zk-matrix/v1\0" || u16be(len(name)) || name || C_W` (names are short: at most
/// [`crate::rollup::bundle::MAX_MATRIX_NAME`] bytes in a statement).
pub fn matrix_leaf(name: &str, c_w: &[u8; 32]) -> Vec<u8> {
    let mut leaf = Vec::with_capacity(MATRIX_LEAF_TAG.len() + 2 + name.len() + 32);
    leaf.extend_from_slice(MATRIX_LEAF_TAG);
    leaf.extend_from_slice(&(name.len() as u16).to_be_bytes());
    leaf.extend_from_slice(name.as_bytes());
    leaf.extend_from_slice(c_w);
    leaf
}

/// What a bound proof is about.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BoundClaim {
    /// The proved step's index in the receipt's trace and its key.
    pub step_index: u64,
    pub step: LeafKey,
    pub matrix: String,
    /// The unit's rows: `row_start .. row_start + unit_rows` of `rows`.
    pub row_start: u64,
    pub unit_rows: u32,
    pub rows: u64,
    /// The model matrix root the commitment opens to (hex); equal to the registry's
    /// `poseidonRoot` for the registered model.
    pub matrix_root: String,
}

/// The input operator and the matrix name of matrix-vector step `k` when the matrix is `name`.
fn expected(k: LeafKey, name: &str) -> Result<u8, String> {
    // Operator codes (engine `trace.rs`): layer Q=1 K=2 V=3 O=8 GATE=11 UP=12 DOWN=14 with inputs
    // ATTN_NORM=0 ATTN=7 FFN_NORM=10 ACT=13; head LOGITS=1 with input FINAL_NORM=0.
    if name == "output.weight" || name == "token_embd.weight" {
        return if k.op == 1 {
            Ok(0)
        } else {
            Err(format!(
                "{name} multiplies only at the logits step (op 1), not op {}",
                k.op
            ))
        };
    }
    let (t, input) = match k.op {
        1 => ("attn_q", 0),
        2 => ("attn_k", 0),
        3 => ("attn_v", 0),
        8 => ("attn_output", 7),
        11 => ("ffn_gate", 10),
        12 => ("ffn_up", 10),
        14 => ("ffn_down", 13),
        op => return Err(format!("op {op} is not a matrix-vector product")),
    };
    if k.stage == 0 {
        return Err("stage 0 (the embedding) has no matrix-vector step".into());
    }
    let want = format!("blk.{}.{t}.weight", k.stage - 1);
    if name != want {
        return Err(format!(
            "the step's matrix is {want}, the statement names {name}"
        ));
    }
    Ok(input)
}

fn scalar(bytes: &[u8; 32]) -> Fr {
    Fr::from_be_bytes_mod_order(bytes)
}

fn be(f: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    let b = f.into_bigint().to_bytes_be();
    out[32 - b.len()..].copy_from_slice(&b);
    out
}

/// Checks that the proof with public inputs `public_inputs` is about statement `st` of
/// `receipt`'s trace (the proof itself is verified separately, against its key).
pub fn check_statement(
    st: &ZkStatement,
    public_inputs: &[[u8; 32]],
    receipt: &Receipt,
    poseidon: &Poseidon,
) -> Result<BoundClaim, StatementError> {
    let open = |which: &'static str, o: &crate::rollup::TraceOpening| {
        let (key, digest) = trace_leaf(&o.leaf).ok_or(StatementError::Leaf {
            which,
            reason: "not a 57-byte trace leaf".into(),
        })?;
        let root = root_from_path(&leaf_hash(&o.leaf), o.index, receipt.trace_steps, &o.path)
            .map_err(|e| StatementError::Leaf {
                which,
                reason: format!("{e}"),
            })?;
        if root != receipt.trace_root {
            return Err(StatementError::Leaf {
                which,
                reason: "not in the receipt's trace (root mismatch)".into(),
            });
        }
        Ok((key, digest))
    };
    let (k, out_digest) = open("step", &st.step)?;
    let (a, in_digest) = open("input", &st.input)?;
    let want_input = expected(k, &st.matrix).map_err(StatementError::Step)?;
    if st.input.index >= st.step.index || a.pos != k.pos || a.stage != k.stage || a.op != want_input
    {
        return Err(StatementError::Step(format!(
            "the input leaf ({}, {}, {}) at {} is not the input (op {want_input}) of step ({}, {}, {}) at {}",
            a.pos, a.stage, a.op, st.input.index, k.pos, k.stage, k.op, st.step.index
        )));
    }
    let sha = |b: &[u8]| -> Hash { Sha256::digest(b).into() };
    if sha(&st.x) != in_digest {
        return Err(StatementError::Digest { which: "input x" });
    }
    if crate::rollup::tensor::wide_digest_bytes(&st.y) != out_digest {
        return Err(StatementError::Digest { which: "output y" });
    }
    let [c_w, row_start, c_x, c_y] = public_inputs else {
        return Err(StatementError::PublicInput {
            which: "count",
            reason: format!("a unit proof has 4, this has {}", public_inputs.len()),
        });
    };
    let bad = |which: &'static str, reason: String| StatementError::PublicInput { which, reason };
    if !st.y.len().is_multiple_of(8) {
        return Err(bad("C_y", "the output is not whole i64 values".into()));
    }
    let rows = (st.y.len() / 8) as u64;
    let r = u64::from(st.unit_rows);
    let start = scalar(row_start);
    let start_u64 = start.into_bigint().0[0];
    if Fr::from(start_u64) != start {
        return Err(bad("row_start", "not a row number".into()));
    }
    if r == 0
        || !start_u64.is_multiple_of(r)
        || start_u64.checked_add(r).is_none_or(|end| end > rows)
    {
        return Err(bad(
            "row_start",
            format!("{start_u64} does not start a unit of {r} rows within {rows}"),
        ));
    }
    if be(&poseidon.input_commitment(&st.x)) != *c_x {
        return Err(bad("C_x", "not the commitment of the step's input".into()));
    }
    let s = (8 * start_u64) as usize;
    let unit = &st.y[s..s + 8 * r as usize];
    if be(&poseidon.output_commitment(unit)) != *c_y {
        return Err(bad(
            "C_y",
            "not the commitment of the unit's output rows".into(),
        ));
    }
    if st.matrix.len() > u16::MAX as usize {
        return Err(StatementError::Matrix("name too long".into()));
    }
    let root = root_from_path(
        &leaf_hash(&matrix_leaf(&st.matrix, c_w)),
        st.matrix_index,
        st.matrix_size,
        &st.matrix_path,
    )
    .map_err(|e| StatementError::Matrix(format!("{e}")))?;
    Ok(BoundClaim {
        step_index: st.step.index,
        step: k,
        matrix: st.matrix.clone(),
        row_start: start_u64,
        unit_rows: st.unit_rows,
        rows,
        matrix_root: hex::encode(root),
    })
}

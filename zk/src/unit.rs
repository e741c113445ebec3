//! One sampled unit: a block of `R` consecutive rows of an int8 matrix times an `Act16` input
//! vector, its native (non-circuit) reference, and its public statement.
//!
//! The arithmetic is the engine's own: the row dot product is
//! `otr_engine::kernels::scalar::dot` (the reference every SIMD kernel must match) and the
//! output is `otr_engine::kernels::row_output` (`shift_sat(acc * m, e + x_exp + 32)`, half to
//! even, saturating to i64): this module calls them, it does not copy them.

use ark_bn254::Fr;
use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_engine::fixed::Act16;
use otr_engine::kernels::{row_output, scalar};
use otr_engine::weights::{QMatrix, BLOCK};

use crate::commit::{self, ceil_log2, MatrixTree};
use crate::error::ZkError;

/// The largest supported `cols` (bounds the integer sizes in the circuit).
pub const MAX_COLS: usize = 1 << 16;
/// The largest supported row block.
pub const MAX_ROWS_PER_UNIT: usize = 64;

/// The shape a circuit (and its keys) is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnitShape {
    /// Rows of the whole matrix.
    pub matrix_rows: usize,
    /// Columns (= input length), a multiple of 32.
    pub cols: usize,
    /// Rows per unit `R`: a power of two dividing `matrix_rows`.
    pub rows_per_unit: usize,
}

impl UnitShape {
    pub fn new(matrix_rows: usize, cols: usize, rows_per_unit: usize) -> Result<Self, ZkError> {
        let s = UnitShape {
            matrix_rows,
            cols,
            rows_per_unit,
        };
        s.check()?;
        Ok(s)
    }

    pub fn check(&self) -> Result<(), ZkError> {
        let bad = |why: &str| Err(ZkError::Shape(format!("{self:?}: {why}")));
        if self.cols == 0 || !self.cols.is_multiple_of(BLOCK) || self.cols > MAX_COLS {
            return bad("cols must be a positive multiple of 32, at most 65536");
        }
        let r = self.rows_per_unit;
        if r == 0 || !r.is_power_of_two() || r > MAX_ROWS_PER_UNIT {
            return bad("rows per unit must be a power of two, at most 64");
        }
        if self.matrix_rows == 0
            || !self.matrix_rows.is_multiple_of(r)
            || self.matrix_rows > 1 << 24
        {
            return bad("matrix rows must be a positive multiple of the rows per unit, < 2^24");
        }
        Ok(())
    }

    /// Depth of the matrix tree.
    pub fn depth(&self) -> usize {
        ceil_log2(self.matrix_rows) as usize
    }

    /// Depth of the subtree of one unit.
    pub fn unit_depth(&self) -> usize {
        self.rows_per_unit.trailing_zeros() as usize
    }

    /// Number of units (row blocks).
    pub fn units(&self) -> usize {
        self.matrix_rows / self.rows_per_unit
    }

    /// Bits of `|acc * m|`: `|acc| < cols 2^7 2^15 255 < 2^(ceil_log2(cols) + 30)`, `m < 2^32`.
    pub fn value_bits(&self) -> u32 {
        ceil_log2(self.cols) + 62
    }

    /// Bytes of the input vector (`Act16::bytes`).
    pub fn input_len(&self) -> usize {
        4 + 2 * self.cols
    }

    /// Bytes of one row.
    pub fn row_len(&self) -> usize {
        commit::row_bytes_len(self.cols)
    }

    /// Bytes of the output slice.
    pub fn output_len(&self) -> usize {
        8 * self.rows_per_unit
    }

    /// The shape of a matrix.
    pub fn of(w: &QMatrix, rows_per_unit: usize) -> Result<Self, ZkError> {
        UnitShape::new(w.rows, w.cols, rows_per_unit)
    }
}

/// The engine's output of rows `row_start .. row_start + n` (native reference).
pub fn reference_rows(w: &QMatrix, x: &Act16, row_start: usize, n: usize) -> Vec<i64> {
    let nb = w.cols / BLOCK;
    (row_start..row_start + n)
        .map(|r| {
            let q = &w.q[r * w.cols..(r + 1) * w.cols];
            let bs = &w.bscale[r * nb..(r + 1) * nb];
            row_output(scalar::dot(q, bs, &x.q), w.rm[r], w.re[r], x.exp)
        })
        .collect()
}

/// The public statement of a unit proof: four field elements, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitStatement {
    /// [`MatrixTree::commitment`] (registry value).
    pub weights_commitment: Fr,
    /// First row of the unit (a multiple of `R`).
    pub row_start: u64,
    /// [`commit::input_commitment`] of the input vector.
    pub input_commitment: Fr,
    /// [`commit::output_commitment`] of the output slice.
    pub output_commitment: Fr,
}

impl UnitStatement {
    /// What a verifier computes outside the circuit from the trace: the input vector bytes
    /// (`Act16::bytes`) and the unit's output slice, both already checked against the
    /// SHA-256 trace, and the registry's matrix commitment.
    pub fn from_trace(
        shape: &UnitShape,
        weights_commitment: Fr,
        row_start: u64,
        input_bytes: &[u8],
        output: &[i64],
    ) -> Result<Self, ZkError> {
        shape.check()?;
        if input_bytes.len() != shape.input_len() {
            return Err(ZkError::Shape(format!(
                "input is {} bytes, the shape needs {}",
                input_bytes.len(),
                shape.input_len()
            )));
        }
        if output.len() != shape.rows_per_unit {
            return Err(ZkError::Shape(format!(
                "output slice has {} values, the shape needs {}",
                output.len(),
                shape.rows_per_unit
            )));
        }
        Self::check_row(shape, row_start)?;
        Ok(UnitStatement {
            weights_commitment,
            row_start,
            input_commitment: crate::pack::hash_bytes(
                crate::poseidon::tag(commit::TAG_ACT16),
                input_bytes,
            ),
            output_commitment: commit::output_commitment(output),
        })
    }

    /// `row_start` must be a multiple of `R` below `matrix_rows`.
    pub fn check_row(shape: &UnitShape, row_start: u64) -> Result<(), ZkError> {
        if !row_start.is_multiple_of(shape.rows_per_unit as u64)
            || row_start >= shape.matrix_rows as u64
        {
            return Err(ZkError::Shape(format!(
                "row {row_start} does not start a unit of {} rows in a {}-row matrix",
                shape.rows_per_unit, shape.matrix_rows
            )));
        }
        Ok(())
    }

    /// The public inputs, in circuit order.
    pub fn public_inputs(&self) -> Vec<Fr> {
        vec![
            self.weights_commitment,
            Fr::from(self.row_start),
            self.input_commitment,
            self.output_commitment,
        ]
    }

    /// The bundle form: 32-byte big-endian each (`docs/PROTOCOL.md` §7.2).
    pub fn public_inputs_be(&self) -> Vec<[u8; 32]> {
        self.public_inputs()
            .iter()
            .map(scalar_to_be_bytes)
            .collect()
    }
}

/// Everything the prover knows about one unit: the circuit's witness.
#[derive(Clone, Debug)]
pub struct UnitWitness {
    pub shape: UnitShape,
    pub statement: UnitStatement,
    /// `Act16::bytes` of the input.
    pub input_bytes: Vec<u8>,
    /// Row bytes of the `R` rows.
    pub rows: Vec<Vec<u8>>,
    /// Siblings from the unit's subtree root up to the tree root.
    pub path: Vec<Fr>,
    /// The engine's outputs of the `R` rows.
    pub outputs: Vec<i64>,
    /// Test hook: make the witness dishonest in one place (soundness tests).
    #[doc(hidden)]
    pub tamper: Tamper,
}

/// Dishonest witness changes for soundness tests. `None` in every real use.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tamper {
    #[default]
    None,
    /// Round the given row's output down (floor) instead of half to even: shifts the division
    /// witness to `(q - 1, r + 2^k)`, or, when the remainder is 0, `(q + 1, r - 2^k)`.
    RequantQuotient { row: usize },
    /// Flip the "round up" comparison bit of the given row.
    RoundingBit { row: usize },
}

impl UnitWitness {
    /// Builds the honest witness of unit `row_start` (its statement included).
    pub fn new(
        tree: &MatrixTree,
        w: &QMatrix,
        x: &Act16,
        rows_per_unit: usize,
        row_start: usize,
    ) -> Result<UnitWitness, ZkError> {
        let shape = UnitShape::of(w, rows_per_unit)?;
        if x.q.len() != w.cols {
            return Err(ZkError::Shape(format!(
                "input has {} values, the matrix {} columns",
                x.q.len(),
                w.cols
            )));
        }
        if tree.rows != w.rows || tree.cols != w.cols {
            return Err(ZkError::Shape("the tree is of another matrix".into()));
        }
        UnitStatement::check_row(&shape, row_start as u64)?;
        let outputs = reference_rows(w, x, row_start, rows_per_unit);
        let input_bytes = x.bytes();
        let statement = UnitStatement::from_trace(
            &shape,
            tree.commitment(),
            row_start as u64,
            &input_bytes,
            &outputs,
        )?;
        Ok(UnitWitness {
            shape,
            statement,
            input_bytes,
            rows: (row_start..row_start + rows_per_unit)
                .map(|r| commit::row_bytes(w, r))
                .collect(),
            path: tree.path(shape.unit_depth(), row_start / rows_per_unit),
            outputs,
            tamper: Tamper::None,
        })
    }
}

//! Poseidon commitments the spot-check circuit opens (`zk/README.md`, `docs/PROTOCOL.md` §7.5).
//!
//! - **Row bytes** of row `r` of an int8 matrix (the engine's `QMatrix`):
//!   `u32le m[r] || i32le e[r] || bscale[r][0..cols/32] (u8) || q[r][0..cols] (i8)`,
//!   the same fields and order as the engine's canonical tensor bytes, restricted to one row.
//! - **Leaf** = `hash_bytes(tag("OTR/zk/row/v1"), row bytes)`.
//! - **Tree**: binary, depth `ceil(log2(rows))`, leaves in row order, padded with the field
//!   element 0 to `2^depth`; node = `Poseidon(tag("OTR/zk/node/v1"), left, right)`.
//! - **Matrix commitment** = `Poseidon(tag("OTR/zk/matrix/v1"), rows, cols, tree root)`: the
//!   value the model registry holds for the matrix and the first public input of a proof.
//! - **Input** (the activation vector, the engine's `Act16::bytes`: `i32le exp || i16le q[..]`)
//!   commitment = `hash_bytes(tag("OTR/zk/act16/v1"), bytes)`.
//! - **Output slice** (the `R` wide outputs, `i64le` each) commitment =
//!   `hash_bytes(tag("OTR/zk/wide/v1"), bytes)`.

use ark_bn254::Fr;
use otr_engine::fixed::Act16;
use otr_engine::weights::{QMatrix, BLOCK};

use crate::pack::hash_bytes;
use crate::poseidon::{self, tag};

/// Tag of row leaves.
pub const TAG_ROW: &str = "OTR/zk/row/v1";
/// Tag of tree nodes.
pub const TAG_NODE: &str = "OTR/zk/node/v1";
/// Tag of the matrix commitment.
pub const TAG_MATRIX: &str = "OTR/zk/matrix/v1";
/// Tag of an activation vector (`Act16` bytes).
pub const TAG_ACT16: &str = "OTR/zk/act16/v1";
/// Tag of an output slice (wide `i64` values).
pub const TAG_WIDE: &str = "OTR/zk/wide/v1";

/// Length of the row bytes for `cols` columns.
pub fn row_bytes_len(cols: usize) -> usize {
    8 + cols / BLOCK + cols
}

/// The row bytes of row `r`.
pub fn row_bytes(w: &QMatrix, r: usize) -> Vec<u8> {
    let nb = w.cols / BLOCK;
    let mut b = Vec::with_capacity(row_bytes_len(w.cols));
    b.extend_from_slice(&w.rm[r].to_le_bytes());
    b.extend_from_slice(&w.re[r].to_le_bytes());
    b.extend_from_slice(&w.bscale[r * nb..(r + 1) * nb]);
    b.extend(w.q[r * w.cols..(r + 1) * w.cols].iter().map(|&x| x as u8));
    b
}

/// The leaf of a row.
pub fn row_leaf(row_bytes: &[u8]) -> Fr {
    hash_bytes(tag(TAG_ROW), row_bytes)
}

/// A tree node.
pub fn node(left: Fr, right: Fr) -> Fr {
    poseidon::hash(&[tag(TAG_NODE), left, right])
}

/// The matrix commitment from the tree root.
pub fn matrix_commitment(rows: usize, cols: usize, root: Fr) -> Fr {
    poseidon::hash(&[
        tag(TAG_MATRIX),
        Fr::from(rows as u64),
        Fr::from(cols as u64),
        root,
    ])
}

/// Commitment of an activation vector.
pub fn input_commitment(x: &Act16) -> Fr {
    hash_bytes(tag(TAG_ACT16), &x.bytes())
}

/// Bytes of an output slice: `i64le` each.
pub fn wide_bytes(y: &[i64]) -> Vec<u8> {
    y.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Commitment of an output slice.
pub fn output_commitment(y: &[i64]) -> Fr {
    hash_bytes(tag(TAG_WIDE), &wide_bytes(y))
}

/// `ceil(log2(n))` (0 for `n <= 1`).
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// The Poseidon Merkle tree of a matrix: every level kept, for paths.
#[derive(Clone, Debug)]
pub struct MatrixTree {
    pub rows: usize,
    pub cols: usize,
    /// `levels[0]` = padded leaves, `levels[depth]` = `[root]`.
    levels: Vec<Vec<Fr>>,
}

impl MatrixTree {
    /// Hashes every row (in parallel) and builds the tree.
    pub fn new(w: &QMatrix) -> MatrixTree {
        use rayon::prelude::*;
        let depth = ceil_log2(w.rows);
        let mut leaves: Vec<Fr> = (0..w.rows)
            .into_par_iter()
            .map(|r| row_leaf(&row_bytes(w, r)))
            .collect();
        leaves.resize(1usize << depth, Fr::from(0u64));
        let mut levels = vec![leaves];
        while levels.last().map_or(0, Vec::len) > 1 {
            let prev = levels.last().expect("non-empty");
            let next = prev.chunks(2).map(|p| node(p[0], p[1])).collect();
            levels.push(next);
        }
        MatrixTree {
            rows: w.rows,
            cols: w.cols,
            levels,
        }
    }

    pub fn depth(&self) -> usize {
        self.levels.len() - 1
    }

    pub fn root(&self) -> Fr {
        self.levels[self.depth()][0]
    }

    /// The matrix commitment (public input 0).
    pub fn commitment(&self) -> Fr {
        matrix_commitment(self.rows, self.cols, self.root())
    }

    /// Siblings from level `from_level` up to the root for the node `index` of that level.
    pub fn path(&self, from_level: usize, mut index: usize) -> Vec<Fr> {
        (from_level..self.depth())
            .map(|l| {
                let s = self.levels[l][index ^ 1];
                index >>= 1;
                s
            })
            .collect()
    }
}

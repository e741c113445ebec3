//! One-time conversion of GGUF tensors into the engine's int8 format
//! ([`crate::weights`]), with a progress bar, and the on-disk cache of the result.

pub mod cache;

use crate::error::EngineError;
use crate::gguf::blocks::decode_row;
use crate::gguf::{GgmlType, Gguf, TensorInfo};
use crate::weights::{quantize_norm, quantize_row, QMatrix, Tensor, BLOCK};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

/// Converts one tensor. 1-D tensors become norm vectors; others become int8 matrices (rows =
/// product of the outer dimensions).
pub fn convert_tensor(bytes: &[u8], t: &TensorInfo) -> Result<Tensor, EngineError> {
    let gt = GgmlType::from_u32(t.ggml_type).ok_or_else(|| EngineError::UnsupportedTensorType {
        name: t.name.clone(),
        ggml_type: t.ggml_type,
    })?;
    let data = &bytes[t.start as usize..(t.start + t.len) as usize];
    let (rows, cols) = t.rows_cols();
    let (rows, cols) = (rows as usize, cols as usize);
    if t.dims.len() == 1 {
        let mut v = vec![0.0f64; cols];
        decode_row(gt, data, &mut v);
        return Ok(Tensor::Norm(quantize_norm(&v)));
    }
    if cols % BLOCK != 0 {
        return Err(EngineError::shape(
            &t.name,
            format!("row length {cols} is not a multiple of {BLOCK}"),
        ));
    }
    let (be, bb) = gt.block();
    let row_bytes = cols / be as usize * bb as usize;
    let mut q = vec![0i8; rows * cols];
    let mut bscale = vec![0u8; rows * cols / BLOCK];
    let mut scales = vec![(0u32, 0i32); rows];
    q.par_chunks_mut(cols)
        .zip(bscale.par_chunks_mut(cols / BLOCK))
        .zip(scales.par_iter_mut())
        .enumerate()
        .for_each_init(
            || vec![0.0f64; cols],
            |buf, (r, ((qr, br), sc))| {
                decode_row(gt, &data[r * row_bytes..(r + 1) * row_bytes], buf);
                *sc = quantize_row(buf, qr, br);
            },
        );
    Ok(Tensor::Matrix(QMatrix {
        rows,
        cols,
        q,
        bscale,
        rm: scales.iter().map(|s| s.0).collect(),
        re: scales.iter().map(|s| s.1).collect(),
    }))
}

/// Converts every tensor of the file, in file order, showing progress on stderr.
pub fn convert_all(bytes: &[u8], g: &Gguf) -> Result<Vec<(String, Tensor)>, EngineError> {
    let total: u64 = g.tensors.iter().map(|t| t.elements()).sum();
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "converting to int8 {bar:40} {percent:>3}% {msg} [{elapsed_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut out = Vec::with_capacity(g.tensors.len());
    for t in &g.tensors {
        pb.set_message(t.name.clone());
        out.push((t.name.clone(), convert_tensor(bytes, t)?));
        pb.inc(t.elements());
    }
    pb.finish_and_clear();
    Ok(out)
}

/// [`convert_all`] without the progress bar (same output): for targets without a clock or a
/// terminal, such as wasm32.
pub fn convert_all_quiet(bytes: &[u8], g: &Gguf) -> Result<Vec<(String, Tensor)>, EngineError> {
    g.tensors
        .iter()
        .map(|t| Ok((t.name.clone(), convert_tensor(bytes, t)?)))
        .collect()
}

//! Block decoders for the llama.cpp formats F32, F16, Q8_0, Q5_0, Q4_K and Q6_K, written from
//! the format definitions. Every value is decoded into f64, where the products of an f16 scale,
//! a small integer scale and a small integer quant are exact.

use super::f16::f16_to_f64;
use super::GgmlType;

fn f16_at(b: &[u8], i: usize) -> f64 {
    f16_to_f64(u16::from_le_bytes([b[i], b[i + 1]]))
}

/// Decodes `out.len()` values of type `t` from `data` (which holds exactly the right number
/// of bytes, checked by the caller).
pub fn decode_row(t: GgmlType, data: &[u8], out: &mut [f64]) {
    match t {
        GgmlType::F32 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64;
            }
        }
        GgmlType::F16 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(2)) {
                *o = f16_to_f64(u16::from_le_bytes([c[0], c[1]]));
            }
        }
        GgmlType::Q8_0 => {
            for (o, b) in out.chunks_exact_mut(32).zip(data.chunks_exact(34)) {
                let d = f16_at(b, 0);
                for (j, v) in o.iter_mut().enumerate() {
                    *v = d * (b[2 + j] as i8) as f64;
                }
            }
        }
        GgmlType::Q5_0 => {
            for (o, b) in out.chunks_exact_mut(32).zip(data.chunks_exact(22)) {
                let d = f16_at(b, 0);
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                let qs = &b[6..22];
                for j in 0..16 {
                    let h0 = ((qh >> j) << 4) & 0x10;
                    let h1 = (qh >> (j + 12)) & 0x10;
                    let x0 = ((qs[j] as u32 & 0x0f) | h0) as i32 - 16;
                    let x1 = ((qs[j] as u32 >> 4) | h1) as i32 - 16;
                    o[j] = d * x0 as f64;
                    o[j + 16] = d * x1 as f64;
                }
            }
        }
        GgmlType::Q4K => {
            for (o, b) in out.chunks_exact_mut(256).zip(data.chunks_exact(144)) {
                let d = f16_at(b, 0);
                let dmin = f16_at(b, 2);
                let sc = &b[4..16];
                let qs = &b[16..144];
                for g in 0..4 {
                    let (s1, m1) = scale_min_k4(2 * g, sc);
                    let (s2, m2) = scale_min_k4(2 * g + 1, sc);
                    let (d1, mm1) = (d * s1 as f64, dmin * m1 as f64);
                    let (d2, mm2) = (d * s2 as f64, dmin * m2 as f64);
                    let q = &qs[32 * g..32 * g + 32];
                    for l in 0..32 {
                        o[64 * g + l] = d1 * (q[l] & 0x0f) as f64 - mm1;
                        o[64 * g + 32 + l] = d2 * (q[l] >> 4) as f64 - mm2;
                    }
                }
            }
        }
        GgmlType::Q6K => {
            for (o, b) in out.chunks_exact_mut(256).zip(data.chunks_exact(210)) {
                let ql = &b[0..128];
                let qh = &b[128..192];
                let sc = &b[192..208];
                let d = f16_at(b, 208);
                for n in 0..2 {
                    let (ql, qh, sc) = (&ql[64 * n..], &qh[32 * n..], &sc[8 * n..]);
                    let o = &mut o[128 * n..];
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        o[l] = d * (sc[is] as i8) as f64 * q1 as f64;
                        o[l + 32] = d * (sc[is + 2] as i8) as f64 * q2 as f64;
                        o[l + 64] = d * (sc[is + 4] as i8) as f64 * q3 as f64;
                        o[l + 96] = d * (sc[is + 6] as i8) as f64 * q4 as f64;
                    }
                }
            }
        }
    }
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a Q4_K super-block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

//! A small GGUF v3 writer, used by the fixture generator and the tests, with simple
//! (deterministic, not optimal) encoders for the block formats.

use super::f16::f64_to_f16;
use super::{GgmlType, Value};

/// A GGUF file being built in memory.
#[derive(Default, Debug)]
pub struct GgufWriter {
    kv: Vec<(String, Value)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn type_id(v: &Value) -> u32 {
    match v {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::Str(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(*x as u8),
        Value::Str(s) => put_str(out, s),
        Value::Array(a) => {
            let et = a.first().map(type_id).unwrap_or(0);
            out.extend_from_slice(&et.to_le_bytes());
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            for x in a {
                put_value(out, x);
            }
        }
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

impl GgufWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn kv(&mut self, key: &str, v: Value) -> &mut Self {
        self.kv.push((key.to_string(), v));
        self
    }

    /// Adds a tensor of `rows x cols` values (row-major) encoded as `t`.
    pub fn tensor(&mut self, name: &str, dims: &[u64], t: GgmlType, values: &[f64]) -> &mut Self {
        let cols = dims[0] as usize;
        let mut bytes = Vec::new();
        for row in values.chunks(cols) {
            encode_row(t, row, &mut bytes);
        }
        self.tensors
            .push((name.to_string(), dims.to_vec(), t, bytes));
        self
    }

    /// The file's bytes.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&super::GGUF_MAGIC.to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            put_str(&mut out, k);
            out.extend_from_slice(&type_id(v).to_le_bytes());
            put_value(&mut out, v);
        }
        let mut off = 0u64;
        for (name, dims, t, bytes) in &self.tensors {
            put_str(&mut out, name);
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&(*t as u32).to_le_bytes());
            out.extend_from_slice(&off.to_le_bytes());
            off = (off + bytes.len() as u64).div_ceil(32) * 32;
        }
        while out.len() % 32 != 0 {
            out.push(0);
        }
        for (_, _, _, bytes) in &self.tensors {
            out.extend_from_slice(bytes);
            while out.len() % 32 != 0 {
                out.push(0);
            }
        }
        out
    }
}

fn round_clamp(v: f64, lo: i32, hi: i32) -> i32 {
    let r = v.round_ties_even();
    if r < lo as f64 {
        lo
    } else if r > hi as f64 {
        hi
    } else {
        r as i32
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// Encodes one row (its length a multiple of the block size) in format `t`.
pub fn encode_row(t: GgmlType, row: &[f64], out: &mut Vec<u8>) {
    match t {
        GgmlType::F32 => {
            for v in row {
                out.extend_from_slice(&(*v as f32).to_le_bytes());
            }
        }
        GgmlType::F16 => {
            for v in row {
                out.extend_from_slice(&f64_to_f16(*v).to_le_bytes());
            }
        }
        GgmlType::Q8_0 => {
            for b in row.chunks(32) {
                let h = f64_to_f16(max_abs(b) / 127.0);
                let d = super::f16::f16_to_f64(h);
                out.extend_from_slice(&h.to_le_bytes());
                for v in b {
                    let q = if d == 0.0 {
                        0
                    } else {
                        round_clamp(v / d, -127, 127)
                    };
                    out.push(q as i8 as u8);
                }
            }
        }
        GgmlType::Q5_0 => {
            for b in row.chunks(32) {
                let h = f64_to_f16(max_abs(b) / 15.0);
                let d = super::f16::f16_to_f64(h);
                let q: Vec<u32> = b
                    .iter()
                    .map(|v| {
                        let x = if d == 0.0 {
                            0
                        } else {
                            round_clamp(v / d, -16, 15)
                        };
                        (x + 16) as u32
                    })
                    .collect();
                let mut qh = 0u32;
                let mut qs = [0u8; 16];
                for j in 0..16 {
                    qs[j] = ((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4)) as u8;
                    qh |= ((q[j] >> 4) & 1) << j;
                    qh |= ((q[j + 16] >> 4) & 1) << (j + 16);
                }
                out.extend_from_slice(&h.to_le_bytes());
                out.extend_from_slice(&qh.to_le_bytes());
                out.extend_from_slice(&qs);
            }
        }
        GgmlType::Q4K => {
            for sb in row.chunks(256) {
                // Per sub-block: min m_j >= 0 and scale s_j; x = d*sc*q - dmin*mn.
                let mut subs = [(0.0f64, 0.0f64); 8];
                for (j, s) in sb.chunks(32).enumerate() {
                    let lo = s.iter().fold(0.0f64, |m, x| m.min(*x));
                    let hi = s.iter().fold(0.0f64, |m, x| m.max(*x));
                    subs[j] = ((hi - lo) / 15.0, -lo);
                }
                let dmax = subs.iter().fold(0.0f64, |m, s| m.max(s.0)) / 63.0;
                let mmax = subs.iter().fold(0.0f64, |m, s| m.max(s.1)) / 63.0;
                let hd = f64_to_f16(dmax);
                let hm = f64_to_f16(mmax);
                let (d, dmin) = (super::f16::f16_to_f64(hd), super::f16::f16_to_f64(hm));
                let mut sc = [0u8; 8];
                let mut mn = [0u8; 8];
                for j in 0..8 {
                    sc[j] = if d == 0.0 {
                        0
                    } else {
                        round_clamp(subs[j].0 / d, 0, 63) as u8
                    };
                    mn[j] = if dmin == 0.0 {
                        0
                    } else {
                        round_clamp(subs[j].1 / dmin, 0, 63) as u8
                    };
                }
                let mut scales = [0u8; 12];
                for j in 0..4 {
                    scales[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
                    scales[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
                    scales[j + 8] = (sc[j + 4] & 0x0f) | ((mn[j + 4] & 0x0f) << 4);
                }
                let mut qs = [0u8; 128];
                for (j, s) in sb.chunks(32).enumerate() {
                    let (ds, ms) = (d * sc[j] as f64, dmin * mn[j] as f64);
                    for (l, v) in s.iter().enumerate() {
                        let q = if ds == 0.0 {
                            0
                        } else {
                            round_clamp((v + ms) / ds, 0, 15)
                        } as u8;
                        let (g, hi) = (j / 2, j % 2 == 1);
                        qs[32 * g + l] |= if hi { q << 4 } else { q };
                    }
                }
                out.extend_from_slice(&hd.to_le_bytes());
                out.extend_from_slice(&hm.to_le_bytes());
                out.extend_from_slice(&scales);
                out.extend_from_slice(&qs);
            }
        }
        GgmlType::Q6K => {
            for sb in row.chunks(256) {
                let mut sub = [0.0f64; 16];
                for (j, s) in sb.chunks(16).enumerate() {
                    sub[j] = max_abs(s) / 31.0;
                }
                let hd = f64_to_f16(sub.iter().fold(0.0f64, |m, x| m.max(*x)) / 127.0);
                let d = super::f16::f16_to_f64(hd);
                let mut sc = [0i8; 16];
                for j in 0..16 {
                    sc[j] = if d == 0.0 {
                        0
                    } else {
                        round_clamp(sub[j] / d, -127, 127) as i8
                    };
                }
                let mut q = [0u8; 256];
                for (i, v) in sb.iter().enumerate() {
                    let s = d * sc[i / 16] as f64;
                    q[i] = (if s == 0.0 {
                        0
                    } else {
                        round_clamp(v / s, -32, 31)
                    } + 32) as u8;
                }
                let mut ql = [0u8; 128];
                let mut qh = [0u8; 64];
                for n in 0..2 {
                    for l in 0..32 {
                        let b = 128 * n;
                        let (q1, q2, q3, q4) =
                            (q[b + l], q[b + l + 32], q[b + l + 64], q[b + l + 96]);
                        ql[64 * n + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
                        ql[64 * n + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
                        qh[32 * n + l] =
                            (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
                    }
                }
                out.extend_from_slice(&ql);
                out.extend_from_slice(&qh);
                out.extend_from_slice(&sc.map(|x| x as u8));
                out.extend_from_slice(&hd.to_le_bytes());
            }
        }
    }
}

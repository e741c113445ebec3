//! GGUF v3 reader: header, metadata, tensor infos, tensor data ranges.
//!
//! Safe against hostile files: every read is bounds-checked and fails with
//! [`EngineError::GgufFormat`] carrying the byte offset, and counts and sizes are capped by
//! [`Limits`] ([`EngineError::GgufLimit`]). Nothing here panics on any input.

pub mod blocks;
pub mod f16;
pub mod writer;

use crate::error::EngineError;
use std::collections::BTreeMap;

/// `"GGUF"` as a little-endian u32.
pub const GGUF_MAGIC: u32 = 0x4655_4747;
/// The default data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Budgets on hostile input.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_tensors: u64,
    pub max_kv: u64,
    pub max_dims: u32,
    pub max_string_len: u64,
    pub max_array_len: u64,
    pub max_tensor_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tensors: 65_536,
            max_kv: 65_536,
            max_dims: 4,
            max_string_len: 1 << 20,
            max_array_len: 1 << 24,
            max_tensor_elements: 1 << 34,
        }
    }
}

/// ggml tensor types this engine decodes (numbers as in ggml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q5_0 = 6,
    Q8_0 = 8,
    Q4K = 12,
    Q6K = 14,
}

impl GgmlType {
    pub fn from_u32(t: u32) -> Option<Self> {
        Some(match t {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            6 => GgmlType::Q5_0,
            8 => GgmlType::Q8_0,
            12 => GgmlType::Q4K,
            14 => GgmlType::Q6K,
            _ => return None,
        })
    }
    /// (elements per block, bytes per block).
    pub fn block(self) -> (u64, u64) {
        match self {
            GgmlType::F32 => (1, 4),
            GgmlType::F16 => (1, 2),
            GgmlType::Q5_0 => (32, 22),
            GgmlType::Q8_0 => (32, 34),
            GgmlType::Q4K => (256, 144),
            GgmlType::Q6K => (256, 210),
        }
    }
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Array(Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// Any integer type, as u64 when non-negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v as u64),
            Value::U16(v) => Some(v as u64),
            Value::U32(v) => Some(v as u64),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One tensor's header.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the row length (contiguous), `dims[1]` the row count.
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    /// Offset of the data relative to the data section.
    pub offset: u64,
    /// Absolute byte range of the data in the file.
    pub start: u64,
    pub len: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> u64 {
        self.dims.iter().product()
    }
    /// Row length and row count (1-D tensors are one row).
    pub fn rows_cols(&self) -> (u64, u64) {
        let cols = self.dims.first().copied().unwrap_or(1);
        let rows = self.dims.iter().skip(1).product();
        (rows, cols)
    }
}

/// A parsed GGUF file (metadata and tensor infos; data read on demand from `bytes`).
#[derive(Debug)]
pub struct Gguf {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    pub data_start: u64,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    limits: Limits,
}

impl<'a> Cursor<'a> {
    fn err(&self, message: impl Into<String>) -> EngineError {
        EngineError::GgufFormat {
            offset: self.pos as u64,
            message: message.into(),
        }
    }
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], EngineError> {
        let end = (self.pos as u64)
            .checked_add(n)
            .filter(|&e| e <= self.b.len() as u64)
            .ok_or_else(|| self.err(format!("file ends inside {what} ({n} bytes wanted)")))?;
        let s = &self.b[self.pos..end as usize];
        self.pos = end as usize;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], EngineError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u32(&mut self, what: &str) -> Result<u32, EngineError> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, EngineError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    fn limit(&self, what: &'static str, got: u64, max: u64) -> Result<(), EngineError> {
        if got > max {
            return Err(EngineError::GgufLimit {
                offset: self.pos as u64,
                what,
                got,
                max,
            });
        }
        Ok(())
    }
    fn string(&mut self, what: &str) -> Result<String, EngineError> {
        let at = self.pos;
        let n = self.u64(what)?;
        self.limit("string length", n, self.limits.max_string_len)?;
        let s = self.take(n, what)?;
        String::from_utf8(s.to_vec()).map_err(|_| EngineError::GgufFormat {
            offset: at as u64,
            message: format!("{what} is not UTF-8"),
        })
    }
    fn value(&mut self, t: u32, depth: u32) -> Result<Value, EngineError> {
        Ok(match t {
            0 => Value::U8(self.arr::<1>("u8")?[0]),
            1 => Value::I8(self.arr::<1>("i8")?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.arr("u16")?)),
            3 => Value::I16(i16::from_le_bytes(self.arr("i16")?)),
            4 => Value::U32(self.u32("u32")?),
            5 => Value::I32(i32::from_le_bytes(self.arr("i32")?)),
            6 => Value::F32(f32::from_le_bytes(self.arr("f32")?)),
            7 => {
                let b = self.arr::<1>("bool")?[0];
                if b > 1 {
                    return Err(self.err(format!("bool value {b}")));
                }
                Value::Bool(b == 1)
            }
            8 => Value::Str(self.string("string value")?),
            9 => {
                if depth > 0 {
                    return Err(self.err("nested arrays are not accepted"));
                }
                let et = self.u32("array type")?;
                let n = self.u64("array length")?;
                self.limit("array length", n, self.limits.max_array_len)?;
                // Every element takes at least one byte: a cheap check before allocating.
                if n > (self.b.len() - self.pos) as u64 {
                    return Err(self.err(format!("array of {n} elements exceeds the file")));
                }
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(self.value(et, depth + 1)?);
                }
                Value::Array(v)
            }
            10 => Value::U64(self.u64("u64")?),
            11 => Value::I64(i64::from_le_bytes(self.arr("i64")?)),
            12 => Value::F64(f64::from_le_bytes(self.arr("f64")?)),
            _ => return Err(self.err(format!("unknown metadata value type {t}"))),
        })
    }
}

impl Gguf {
    /// Parses the header, metadata and tensor infos of `bytes` (the whole file).
    pub fn parse(bytes: &[u8]) -> Result<Gguf, EngineError> {
        Self::parse_with(bytes, Limits::default())
    }

    pub fn parse_with(bytes: &[u8], limits: Limits) -> Result<Gguf, EngineError> {
        let mut c = Cursor {
            b: bytes,
            pos: 0,
            limits,
        };
        let magic = c.u32("magic")?;
        if magic != GGUF_MAGIC {
            return Err(EngineError::GgufFormat {
                offset: 0,
                message: format!("magic {magic:#010x} is not GGUF"),
            });
        }
        let version = c.u32("version")?;
        if version != 3 {
            return Err(EngineError::GgufFormat {
                offset: 4,
                message: format!("GGUF version {version} (this reader takes version 3)"),
            });
        }
        let n_tensors = c.u64("tensor count")?;
        c.limit("tensor count", n_tensors, limits.max_tensors)?;
        let n_kv = c.u64("metadata count")?;
        c.limit("metadata count", n_kv, limits.max_kv)?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let at = c.pos as u64;
            let key = c.string("metadata key")?;
            let t = c.u32("metadata type")?;
            let v = c.value(t, 0)?;
            if metadata.insert(key.clone(), v).is_some() {
                return Err(EngineError::GgufFormat {
                    offset: at,
                    message: format!("duplicate metadata key {key}"),
                });
            }
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a.is_power_of_two() && a <= 1 << 20 => a,
                _ => {
                    return Err(EngineError::GgufFormat {
                        offset: c.pos as u64,
                        message: format!("general.alignment {v:?} is not a power of two"),
                    })
                }
            },
        };
        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let at = c.pos as u64;
            let name = c.string("tensor name")?;
            let nd = c.u32("tensor dims")?;
            c.limit("tensor dimension count", nd as u64, limits.max_dims as u64)?;
            let mut dims = Vec::with_capacity(nd as usize);
            let mut elements: u64 = 1;
            for _ in 0..nd {
                let d = c.u64("tensor dim")?;
                if d == 0 {
                    return Err(c.err(format!("tensor {name} has a zero dimension")));
                }
                elements = elements.saturating_mul(d);
                dims.push(d);
            }
            c.limit("tensor element count", elements, limits.max_tensor_elements)?;
            let ggml_type = c.u32("tensor type")?;
            let offset = c.u64("tensor offset")?;
            if offset % alignment != 0 {
                return Err(EngineError::GgufFormat {
                    offset: at,
                    message: format!("tensor {name} data offset {offset} is not aligned"),
                });
            }
            if tensors.iter().any(|t: &TensorInfo| t.name == name) {
                return Err(EngineError::GgufFormat {
                    offset: at,
                    message: format!("duplicate tensor {name}"),
                });
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                start: 0,
                len: 0,
            });
        }
        let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
        for t in &mut tensors {
            let len = match GgmlType::from_u32(t.ggml_type) {
                Some(gt) => {
                    let (be, bb) = gt.block();
                    let (_, cols) = t.rows_cols();
                    if cols % be != 0 {
                        return Err(EngineError::shape(
                            &t.name,
                            format!("row length {cols} is not a multiple of the block size {be}"),
                        ));
                    }
                    t.elements() / be * bb
                }
                None => 0, // reported when the tensor is used
            };
            let start = data_start.checked_add(t.offset);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= bytes.len() as u64 => {
                    t.start = s;
                    t.len = len;
                }
                _ => {
                    return Err(EngineError::GgufFormat {
                        offset: data_start.saturating_add(t.offset),
                        message: format!(
                            "tensor {} data ({len} bytes at offset {}) runs past the end of the file ({} bytes)",
                            t.name, t.offset, bytes.len()
                        ),
                    })
                }
            }
        }
        Ok(Gguf {
            version,
            metadata,
            tensors,
            data_start,
        })
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }
    pub fn u64(&self, key: &str) -> Result<u64, EngineError> {
        self.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| EngineError::MissingMetadata(key.to_string()))
    }
    pub fn f64(&self, key: &str) -> Result<f64, EngineError> {
        self.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| EngineError::MissingMetadata(key.to_string()))
    }
    pub fn str(&self, key: &str) -> Result<&str, EngineError> {
        self.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| EngineError::MissingMetadata(key.to_string()))
    }
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
#[path = "gguf_tests.rs"]
mod tests;

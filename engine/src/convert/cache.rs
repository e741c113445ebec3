//! The converted-model cache file (`<cache_dir>/<gguf-sha256>.otrm`):
//!
//! ```text
//! "OTRM" | u32le version (2) | 32-byte SHA-256 of the source GGUF | u32le tensor count |
//! per tensor: u16le name length | name | u64le payload length | payload (canonical bytes) |
//! 32-byte SHA-256 of everything before
//! ```
//! Written to a temporary file and renamed, so a reader never sees a partial file.

use crate::error::EngineError;
use crate::weights::Tensor;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub const MAGIC: &[u8; 4] = b"OTRM";
/// 2: block scales in `1..=31` (version 1 files hold the earlier `1..=15` conversion).
pub const VERSION: u32 = 2;

/// Writes the cache file.
pub fn write(
    path: &Path,
    gguf_sha: &[u8; 32],
    tensors: &[(String, Tensor)],
) -> Result<(), EngineError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    // One temporary file per writer, threads of one process included (two loads of a model
    // not yet converted write at once; each renames its own complete file into place).
    static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("otrm.tmp{}-{n}", std::process::id()));
    let f = std::fs::File::create(&tmp).map_err(|e| EngineError::io(&tmp, e))?;
    let mut w = std::io::BufWriter::new(f);
    let mut h = Sha256::new();
    let mut put =
        |w: &mut std::io::BufWriter<std::fs::File>, b: &[u8]| -> Result<(), EngineError> {
            h.update(b);
            w.write_all(b).map_err(|e| EngineError::io(&tmp, e))
        };
    put(&mut w, MAGIC)?;
    put(&mut w, &VERSION.to_le_bytes())?;
    put(&mut w, gguf_sha)?;
    put(&mut w, &(tensors.len() as u32).to_le_bytes())?;
    for (name, t) in tensors {
        let p = t.canonical_bytes();
        put(&mut w, &(name.len() as u16).to_le_bytes())?;
        put(&mut w, name.as_bytes())?;
        put(&mut w, &(p.len() as u64).to_le_bytes())?;
        put(&mut w, &p)?;
    }
    let d: [u8; 32] = h.finalize().into();
    w.write_all(&d).map_err(|e| EngineError::io(&tmp, e))?;
    w.flush().map_err(|e| EngineError::io(&tmp, e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| EngineError::io(path, e))
}

/// A tensor read back from the cache with the SHA-256 of its canonical bytes.
pub type CachedTensor = (String, Tensor, [u8; 32]);

/// Reads and checks the cache file; `Ok(None)` when it does not exist.
pub fn read(path: &Path, gguf_sha: &[u8; 32]) -> Result<Option<Vec<CachedTensor>>, EngineError> {
    let b = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io(path, e)),
    };
    parse(&b, &path.display().to_string(), gguf_sha).map(Some)
}

/// Checks and parses the bytes of a cache file (`name` is what errors call it).
pub fn parse(b: &[u8], name: &str, gguf_sha: &[u8; 32]) -> Result<Vec<CachedTensor>, EngineError> {
    let bad = |m: &str| EngineError::CacheCorrupt {
        path: name.to_string(),
        message: m.to_string(),
    };
    if b.len() < 4 + 4 + 32 + 4 + 32 {
        return Err(bad("too short"));
    }
    let (body, trailer) = b.split_at(b.len() - 32);
    let d: [u8; 32] = Sha256::digest(body).into();
    if d != trailer {
        return Err(bad("checksum mismatch"));
    }
    if &body[..4] != MAGIC {
        return Err(bad("bad magic"));
    }
    if u32::from_le_bytes(body[4..8].try_into().expect("4")) != VERSION {
        return Err(bad("unsupported version"));
    }
    if &body[8..40] != gguf_sha {
        return Err(bad("made from a different GGUF file"));
    }
    let n = u32::from_le_bytes(body[40..44].try_into().expect("4")) as usize;
    let mut p = 44usize;
    let mut out = Vec::with_capacity(n.min(65_536));
    for _ in 0..n {
        let take = |p: &mut usize, k: usize| -> Result<&[u8], EngineError> {
            let s = body
                .get(*p..p.checked_add(k).ok_or_else(|| bad("overflow"))?)
                .ok_or_else(|| bad("truncated"))?;
            *p += k;
            Ok(s)
        };
        let nl = u16::from_le_bytes(take(&mut p, 2)?.try_into().expect("2")) as usize;
        let name =
            String::from_utf8(take(&mut p, nl)?.to_vec()).map_err(|_| bad("name not UTF-8"))?;
        let pl = u64::from_le_bytes(take(&mut p, 8)?.try_into().expect("8"));
        let payload = take(
            &mut p,
            usize::try_from(pl).map_err(|_| bad("payload length"))?,
        )?;
        let t = Tensor::from_canonical(payload).ok_or_else(|| bad("malformed tensor"))?;
        let digest: [u8; 32] = Sha256::digest(payload).into();
        out.push((name, t, digest));
    }
    if p != body.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(out)
}

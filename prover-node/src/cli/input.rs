//! Reading evidence files in the forms NVIDIA and OTR tools write them.

use std::path::Path;

use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::UnixTime;

use super::CliError;

pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::usage("INPUT_READ", format!("cannot read {}: {e}", path.display())))
}

/// A report file: hex text (NVIDIA's `.txt` samples) or raw bytes.
pub fn report(path: &Path) -> Result<Vec<u8>, CliError> {
    let bytes = read(path)?;
    if bytes.first() == Some(&0x11) {
        return Ok(bytes);
    }
    hex_decode_lenient(&bytes).ok_or_else(|| {
        CliError::usage(
            "INPUT_REPORT_ENCODING",
            format!(
                "{}: neither raw SPDM bytes (starting 0x11) nor hex text",
                path.display()
            ),
        )
    })
}

/// A PEM certificate chain, leaf first.
pub fn chain(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let bytes = read(path)?;
    let certs = pem_certificates(&bytes).map_err(|e| {
        CliError::usage(
            "INPUT_PEM",
            format!(
                "{}: malformed PEM block at byte {}",
                path.display(),
                e.offset
            ),
        )
    })?;
    if certs.is_empty() {
        return Err(CliError::usage(
            "INPUT_PEM",
            format!("{}: no PEM certificate found", path.display()),
        ));
    }
    Ok(certs)
}

pub fn nonce(hex_text: &str) -> Result<[u8; 32], CliError> {
    hex_decode_lenient(hex_text.as_bytes())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            CliError::usage(
                "INPUT_NONCE",
                "--nonce must be 32 bytes of hex (64 hex digits)",
            )
        })
}

pub fn time(text: Option<&str>) -> Result<UnixTime, CliError> {
    match text {
        Some(t) => UnixTime::parse_rfc3339(t)
            .map_err(|e| CliError::usage("INPUT_TIME", format!("--time {t:?}: {e}"))),
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| CliError::usage("INPUT_TIME", "system clock is before 1970"))?;
            Ok(UnixTime(now.as_secs() as i64))
        }
    }
}

pub fn policy(path: Option<&Path>) -> Result<otr_core::attestation::Policy, CliError> {
    match path {
        None => Ok(Default::default()),
        Some(p) => serde_json::from_slice(&read(p)?)
            .map_err(|e| CliError::usage("INPUT_POLICY", format!("{}: {e}", p.display()))),
    }
}

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

/// GET over plain HTTP/1.1 (for a node on this machine or a local network). HTTPS is refused with
/// a clear message: download the bundle with a TLS client and pass the file.
pub fn http_get(url: &str) -> Result<Vec<u8>, CliError> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        CliError::usage("INPUT_URL", format!("{url}: only http:// URLs are fetched; for https, download the bundle and pass the file"))
    })?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let fail = |e: std::io::Error| CliError::usage("INPUT_URL", format!("{url}: {e}"));
    let mut s = std::net::TcpStream::connect(&addr).map_err(fail)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .map_err(fail)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n").map_err(fail)?;
    let mut raw = Vec::new();
    s.take(8 * 1024 * 1024)
        .read_to_end(&mut raw)
        .map_err(fail)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| CliError::usage("INPUT_URL", format!("{url}: not an HTTP response")))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let body = raw[split + 4..].to_vec();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    if head.contains("transfer-encoding: chunked") {
        return Err(CliError::usage(
            "INPUT_URL",
            format!("{url}: chunked responses are not supported"),
        ));
    }
    if status != 200 {
        return Err(CliError::usage(
            "INPUT_URL",
            format!(
                "{url}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        ));
    }
    Ok(body)
}

//! Helpers shared by the node's integration tests: a real `otr serve` process and a minimal
//! HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// (status, headers, body) of one request.
pub fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let out = String::from_utf8_lossy(&raw).to_string();
    let status = out.get(9..12)?.parse().ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    Some((status, head.to_lowercase(), body.to_string()))
}

pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    request(port, method, path, body).map(|(s, _, b)| (s, b))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `otr serve` with the tiny fixture model and dev attestation; waits until healthy.
pub fn start(data: &std::path::Path, port: u16, extra: &[&str]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(["serve", "--attestation", "dev", "--model", "fixture-gemma3"])
        .args(if extra.contains(&"--batch-window-ms") {
            &[][..]
        } else {
            &["--batch-window-ms", "40"][..]
        })
        .args(extra)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start otr serve");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if http(port, "GET", "/health", "").is_some_and(|(s, _)| s == 200) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("node did not come up");
}

//! Helpers shared by the node's integration tests: a real `otr serve` process and a minimal
//! HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
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

/// Starts `otr serve` with the tiny fixture model (unless `extra` names a `--model`) and dev
/// attestation; waits until healthy.
pub fn start(data: &std::path::Path, port: u16, extra: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(["serve", "--attestation", "dev"])
        .args(if extra.contains(&"--model") {
            &[][..]
        } else {
            &["--model", "fixture-gemma3"][..]
        })
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
    let _ = child.kill();
    let _ = child.wait();
    panic!("node did not come up");
}

/// What a client needs to verify a dev node's bundles: NVIDIA's roots plus the node's dev root
/// (fetched from `/v1/node`), a policy that allows dev roots and needs no manifests or OCSP, and
/// the current time.
pub fn dev_trust(
    port: u16,
) -> (
    otr_core::attestation::TrustAnchors,
    otr_core::attestation::Policy,
    otr_core::UnixTime,
) {
    let info: serde_json::Value =
        serde_json::from_str(&http(port, "GET", "/v1/node", "").unwrap().1).unwrap();
    assert_eq!(info["production"], false);
    let pem = info["dev_root_pem"].as_str().unwrap();
    let root = otr_core::encoding::pem_certificates(pem.as_bytes())
        .unwrap()
        .remove(0);
    let anchors = otr_core::attestation::TrustAnchors::nvidia()
        .with_dev_root(otr_core::x509::Certificate::from_der(&root).unwrap());
    let policy = otr_core::attestation::Policy {
        require_rims: false,
        require_ocsp: false,
        allow_dev_roots: true,
        ..otr_core::attestation::Policy::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (anchors, policy, otr_core::UnixTime(now))
}

/// Asks for a 3-token greedy completion of `prompt`; returns its receipt id.
pub fn ask(port: u16, prompt: &str) -> String {
    let body = format!(r#"{{"prompt": "{prompt}", "max_tokens": 3, "temperature": 0}}"#);
    let (status, text) = http(port, "POST", "/v1/completions", &body).expect("completion");
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["otr"]["receipt_id"].as_str().unwrap().to_string()
}

/// The JSON of receipt `id`'s answer bundle.
pub fn bundle_text(port: u16, id: &str) -> String {
    let (status, text) = http(port, "GET", &format!("/v1/receipts/{id}/bundle"), "").unwrap();
    assert_eq!(status, 200, "{text}");
    text
}

/// A new empty directory under the system's temp dir, unique to this process and moment.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "otr-test-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the `otr` binary; (exit code, stdout, stderr).
pub fn otr(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `d/f` as a string argument.
pub fn p(d: &Path, f: &str) -> String {
    d.join(f).to_string_lossy().into()
}

/// The fixture's attention projections are 64 x 64: a two-contributor `otr zk ceremony` for
/// them with R = 4 (the INSECURE public phase 1: test keys); returns the keys' directory.
pub fn ceremony(dir: &Path) -> String {
    ceremony_for(dir, 64, 64)
}

/// [`ceremony`] for `rows x cols` matrices (R = 4), in `dir/<rows>x<cols>/`.
pub fn ceremony_for(dir: &Path, rows: usize, cols: usize) -> String {
    let dir = &if (rows, cols) == (64, 64) {
        dir.to_path_buf()
    } else {
        dir.join(format!("{rows}x{cols}"))
    };
    std::fs::create_dir_all(dir).unwrap();
    let (rows, cols) = (rows.to_string(), cols.to_string());
    let steps: [Vec<String>; 4] = [
        [
            "zk",
            "ceremony",
            "init",
            "--rows",
            rows.as_str(),
            "--cols",
            cols.as_str(),
            "--rows-per-unit",
            "4",
            "--insecure-public-phase1",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([p(dir, "c0.bin")])
        .collect(),
        vec![
            "zk".into(),
            "ceremony".into(),
            "contribute".into(),
            "--in".into(),
            p(dir, "c0.bin"),
            "--out".into(),
            p(dir, "c1.bin"),
            "--name".into(),
            "alice".into(),
        ],
        vec![
            "zk".into(),
            "ceremony".into(),
            "contribute".into(),
            "--in".into(),
            p(dir, "c1.bin"),
            "--out".into(),
            p(dir, "c2.bin"),
            "--name".into(),
            "bob".into(),
        ],
        vec![
            "zk".into(),
            "ceremony".into(),
            "finalize".into(),
            "--in".into(),
            p(dir, "c2.bin"),
            "--out-dir".into(),
            p(dir, "keys"),
        ],
    ];
    for s in &steps {
        let (code, out, err) = otr(&s.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{s:?}: {out}{err}");
    }
    p(dir, "keys")
}

/// anvil on a free port (scripts/anvil.sh), killed on drop.
pub struct Anvil {
    pub url: String,
    pub pid: String,
}

impl Anvil {
    pub fn start() -> Anvil {
        let port = free_port();
        let script =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/anvil.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .output()
            .expect("run scripts/anvil.sh");
        assert!(
            out.status.success(),
            "scripts/anvil.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Anvil {
            url: format!("http://127.0.0.1:{port}"),
            pid: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

//! Node benchmark: throughput with receipts and attestation against the same engine without
//! them, in the same run; latency p50/p99 under concurrent clients on loopback; provisional
//! finality latency (answer complete -> bundle fetched and verified). Prints one JSON object;
//! scripts/bench-node.sh writes the "## Prover node" section of docs/BENCHMARKS.md.
//!
//! Usage: cargo bench -p otr-node --bench node -- [MODEL] [CLIENTS] [REQUESTS] [MAX_TOKENS]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otr_core::rollup::{AnswerBundle, SamplingParams};
use otr_core::verify::{verify_bundle, VerifyOptions};

fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    (
        status,
        out.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default(),
    )
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn prompts(n: usize) -> Vec<String> {
    let topics = [
        "the ocean",
        "a small town",
        "mountains",
        "the history of bread",
        "rivers",
        "winter",
        "a library",
        "trains",
    ];
    (0..n)
        .map(|i| {
            format!(
                "Here is a short paragraph about {}, number {i}:",
                topics[i % topics.len()]
            )
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let gemma = otr_node::node::engine_impl::gemma_path();
    let model = args.first().cloned().unwrap_or_else(|| {
        if gemma.exists() {
            "gemma3-270m".into()
        } else {
            "fixture-gemma3".into()
        }
    });
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let requests: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(24);
    let max_tokens: u32 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(16);
    let ps = prompts(requests);

    // Baseline: the same engine, in-process, no HTTP, no receipts, no attestation.
    let engine =
        otr_node::node::engine_impl::load(&model, std::path::Path::new("/tmp")).expect("model");
    let sampling = SamplingParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens,
        seed: 1,
    };
    let run_baseline = || {
        let next = Arc::new(Mutex::new(0usize));
        let tokens = Arc::new(Mutex::new(0u64));
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..clients {
                let (next, tokens, engine, ps) =
                    (next.clone(), tokens.clone(), engine.clone(), &ps);
                s.spawn(move || loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    if i >= ps.len() {
                        break;
                    }
                    let g = engine.generate(&ps[i], &sampling, &mut |_| true).unwrap();
                    *tokens.lock().unwrap() += g.completion_tokens as u64;
                });
            }
        });
        let total = *tokens.lock().unwrap();
        total as f64 / t.elapsed().as_secs_f64()
    };

    // The node: receipts, micro-batches, dev attestation, SQLite, HTTP.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = std::env::temp_dir().join(format!("otr-bench-node-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut node = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args([
            "serve",
            "--attestation",
            "dev",
            "--model",
            &model,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() && t.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let info: serde_json::Value =
        serde_json::from_str(&http(port, "GET", "/v1/node", "").1).unwrap();
    let root =
        otr_core::encoding::pem_certificates(info["dev_root_pem"].as_str().unwrap().as_bytes())
            .unwrap()
            .remove(0);
    let anchors = otr_core::attestation::TrustAnchors::nvidia()
        .with_dev_root(otr_core::x509::Certificate::from_der(&root).unwrap());
    let policy = otr_core::attestation::Policy {
        require_rims: false,
        require_ocsp: false,
        allow_dev_roots: true,
        ..Default::default()
    };

    let run_node = |measure_finality: bool| {
        let next = Arc::new(Mutex::new(0usize));
        let lat = Arc::new(Mutex::new(Vec::new()));
        let fin = Arc::new(Mutex::new(Vec::new()));
        let tokens = Arc::new(Mutex::new(0u64));
        let errors = Arc::new(Mutex::new(0usize));
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..clients {
                let (next, lat, fin, tokens, errors, ps) = (
                    next.clone(),
                    lat.clone(),
                    fin.clone(),
                    tokens.clone(),
                    errors.clone(),
                    &ps,
                );
                let (anchors, policy) = (&anchors, &policy);
                s.spawn(move || loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    if i >= ps.len() {
                        break;
                    }
                    let body = serde_json::json!({"prompt": ps[i], "max_tokens": max_tokens, "temperature": 0, "seed": 1}).to_string();
                    let t0 = Instant::now();
                    let (status, resp) = http(port, "POST", "/v1/completions", &body);
                    let done = Instant::now();
                    if status != 200 {
                        *errors.lock().unwrap() += 1;
                        continue;
                    }
                    lat.lock().unwrap().push((done - t0).as_secs_f64() * 1e3);
                    let v: serde_json::Value = serde_json::from_str(&resp).unwrap();
                    *tokens.lock().unwrap() += v["usage"]["completion_tokens"].as_u64().unwrap();
                    if measure_finality {
                        let id = v["otr"]["receipt_id"].as_str().unwrap();
                        let (st, b) = http(port, "GET", &format!("/v1/receipts/{id}/bundle"), "");
                        if st != 200 {
                            *errors.lock().unwrap() += 1;
                            continue;
                        }
                        let bundle = AnswerBundle::from_json(&b).unwrap();
                        let now = otr_core::UnixTime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
                        let v = otr_node::native_crypto::OpensslVerifier::new();
                        let opts = VerifyOptions {
                            time: now,
                            policy,
                            anchors,
                            verifier: &v,
                            verifying_keys: &[],
                            expected_request_hash: None,
                            expected_weights_root: None,
                        };
                        verify_bundle(&bundle, &opts).expect("bundle verifies");
                        fin.lock().unwrap().push(done.elapsed().as_secs_f64() * 1e3);
                    }
                });
            }
        });
        let tps = *tokens.lock().unwrap() as f64 / t.elapsed().as_secs_f64();
        let lat: Vec<f64> = lat.lock().unwrap().clone();
        let fin: Vec<f64> = fin.lock().unwrap().clone();
        let errors: usize = *errors.lock().unwrap();
        (tps, lat, fin, errors)
    };

    // Warm both paths once, then interleave: baseline, node, baseline, node.
    let _ = run_baseline();
    let _ = run_node(false);
    let b1 = run_baseline();
    let (n1, mut lat1, _, e1) = run_node(false);
    let b2 = run_baseline();
    let (n2, mut lat2, _, e2) = run_node(false);
    let (_, _, mut fin, e3) = run_node(true);
    node.kill().ok();
    node.wait().ok();
    let _ = std::fs::remove_dir_all(&data);
    lat1.append(&mut lat2);
    let baseline = (b1 + b2) / 2.0;
    let with = (n1 + n2) / 2.0;
    println!(
        "{}",
        serde_json::json!({
            "model": model, "clients": clients, "requests_per_run": requests, "max_tokens": max_tokens,
            "baseline_tokens_per_s": baseline, "node_tokens_per_s": with, "ratio": with / baseline,
            "errors": e1 + e2 + e3,
            "latency_ms_p50": pct(&mut lat1, 0.5), "latency_ms_p99": pct(&mut lat1, 0.99),
            "provisional_finality_ms_p50": pct(&mut fin, 0.5), "provisional_finality_ms_p99": pct(&mut fin, 0.99),
            "finality_samples": fin.len(), "latency_samples": lat1.len(),
        })
    );
}

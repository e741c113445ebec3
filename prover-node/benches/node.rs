//! Node benchmark, three arms on the same engine in the same run:
//! - `baseline`: the engine in-process (no HTTP, no receipts) driven by CLIENTS threads;
//! - `off`: the `otr serve` process with `--receipts off` (HTTP, no receipt/store/attestation/chain);
//! - `on`: the `otr serve` process as deployed (HTTP, receipt, SQLite commit, micro-batch
//!   signature, dev attestation, rollup posting to the embedded chain).
//!
//! For each arm: tokens/s (wall clock) and CPU-seconds per generated token (the serving process's
//! utime+stime; far less sensitive than wall clock to other load on a shared machine). Also
//! request latency p50/p99 (on), the on-node's CPU by thread group, its idle CPU, and
//! provisional finality latency (answer complete -> bundle fetched and verified). The arms run
//! in rotated order, ROUNDS times; the serving process not being measured is stopped (SIGSTOP)
//! so its idle loops do not disturb the others. Prints one JSON object; scripts/bench-node.sh
//! writes the "## Prover node" section of docs/BENCHMARKS.md.
//!
//! Usage: cargo bench -p otr-node --bench node -- [MODEL] [CLIENTS] [REQUESTS] [MAX_TOKENS] [ROUNDS]

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

/// CPU seconds (user + system) of this process so far.
fn self_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no memory effects.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

/// utime + stime (seconds) of a process (dead threads included) from /proc/<pid>/stat.
fn proc_cpu(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(") ").map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / ticks_per_s()
}

/// On-CPU seconds of each live thread of `pid`, summed by thread name.
fn thread_cpu(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut m = std::collections::BTreeMap::new();
    if let Ok(d) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in d.flatten() {
            let p = e.path();
            let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            let ns: f64 = std::fs::read_to_string(p.join("schedstat"))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(0.0);
            *m.entry(name.trim().to_string()).or_insert(0.0) += ns * 1e-9;
        }
    }
    m
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: sends a signal to a child this benchmark started.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

fn spawn_node(model: &str, data: &std::path::Path, extra: &[&str]) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _ = std::fs::remove_dir_all(data);
    let node = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args([
            "serve",
            "--model",
            model,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while http_ok(port).is_none() && t.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_millis(100));
    }
    (node, port)
}

fn http_ok(port: u16) -> Option<()> {
    TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
}

/// One arm's totals over its runs.
#[derive(Default)]
struct Arm {
    tokens: u64,
    wall_s: f64,
    cpu_s: f64,
    client_cpu_s: f64,
    runs: Vec<f64>,
}

impl Arm {
    fn add(&mut self, tokens: u64, wall: f64, cpu: f64, client_cpu: f64) {
        self.tokens += tokens;
        self.wall_s += wall;
        self.cpu_s += cpu;
        self.client_cpu_s += client_cpu;
        self.runs.push(tokens as f64 / wall);
    }
    fn tps(&self) -> f64 {
        self.tokens as f64 / self.wall_s
    }
    fn cpu_ms_per_token(&self) -> f64 {
        self.cpu_s * 1e3 / self.tokens as f64
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "tokens_per_s": self.tps(), "runs_tokens_per_s": self.runs, "tokens": self.tokens,
            "wall_s": self.wall_s, "cpu_s": self.cpu_s, "cpu_ms_per_token": self.cpu_ms_per_token(),
            "client_cpu_ms_per_token": self.client_cpu_s * 1e3 / self.tokens as f64,
        })
    }
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
    let rounds: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(4);
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
        (total, t.elapsed().as_secs_f64())
    };

    // The two serving processes: receipts on (as deployed) and off (same binary, same HTTP path).
    let base = std::env::temp_dir().join(format!("otr-bench-node-{}", std::process::id()));
    let (mut on, on_port) = spawn_node(&model, &base.join("on"), &["--attestation", "dev"]);
    let (mut off, off_port) = spawn_node(&model, &base.join("off"), &["--receipts", "off"]);
    let (on_pid, off_pid) = (on.id(), off.id());
    let info: serde_json::Value =
        serde_json::from_str(&http(on_port, "GET", "/v1/node", "").1).unwrap();
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

    // (tokens, wall s, latencies ms, finality ms, errors)
    let run_node = |port: u16, receipts: bool, measure_finality: bool| {
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
                    // Each arm must be what it claims: a receipt with receipts on, none off.
                    if v["otr"]["receipt_id"].is_string() != receipts {
                        *errors.lock().unwrap() += 1;
                    }
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
                            expected_temperature_milli: None,
                            expected_prompt: None,
                        };
                        verify_bundle(&bundle, &opts).expect("bundle verifies");
                        fin.lock().unwrap().push(done.elapsed().as_secs_f64() * 1e3);
                    }
                });
            }
        });
        let wall = t.elapsed().as_secs_f64();
        let tokens = *tokens.lock().unwrap();
        let lat: Vec<f64> = lat.lock().unwrap().clone();
        let fin: Vec<f64> = fin.lock().unwrap().clone();
        let errors: usize = *errors.lock().unwrap();
        (tokens, wall, lat, fin, errors)
    };

    #[derive(Clone, Copy, PartialEq)]
    enum Which {
        Baseline,
        On,
        Off,
    }
    let mut arms = [Arm::default(), Arm::default(), Arm::default()];
    let mut lat_on = Vec::new();
    let mut errors = 0usize;
    let mut on_threads: std::collections::BTreeMap<String, f64> = Default::default();
    let mut measure = |w: Which, record: bool| {
        // Only the measured serving process runs.
        signal(
            on_pid,
            if w == Which::On {
                libc::SIGCONT
            } else {
                libc::SIGSTOP
            },
        );
        signal(
            off_pid,
            if w == Which::Off {
                libc::SIGCONT
            } else {
                libc::SIGSTOP
            },
        );
        std::thread::sleep(Duration::from_millis(300));
        let (c0, on0, off0) = (self_cpu(), proc_cpu(on_pid), proc_cpu(off_pid));
        let th0 = thread_cpu(on_pid);
        let (tokens, wall, lat, e) = match w {
            Which::Baseline => {
                let (t, w) = run_baseline();
                (t, w, Vec::new(), 0)
            }
            Which::On => {
                let (t, w, l, _, e) = run_node(on_port, true, false);
                (t, w, l, e)
            }
            Which::Off => {
                let (t, w, _, _, e) = run_node(off_port, false, false);
                (t, w, Vec::new(), e)
            }
        };
        let client = self_cpu() - c0;
        if !record {
            return;
        }
        errors += e;
        match w {
            Which::Baseline => arms[0].add(tokens, wall, client, 0.0),
            Which::On => {
                arms[1].add(tokens, wall, proc_cpu(on_pid) - on0, client);
                lat_on.extend(lat);
                for (k, v) in thread_cpu(on_pid) {
                    *on_threads.entry(k.clone()).or_insert(0.0) +=
                        v - th0.get(&k).copied().unwrap_or(0.0);
                }
            }
            Which::Off => arms[2].add(tokens, wall, proc_cpu(off_pid) - off0, client),
        }
    };
    // Warm every path once, then rotate the order each round.
    let order = [Which::Baseline, Which::On, Which::Off];
    for w in order {
        measure(w, false);
    }
    for r in 0..rounds {
        for k in 0..3 {
            measure(order[(r + k) % 3], true);
        }
    }
    // The on-node's CPU while idle (its batcher, poster and other loops), over 5 s.
    signal(off_pid, libc::SIGSTOP);
    signal(on_pid, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(2500));
    let idle0 = proc_cpu(on_pid);
    std::thread::sleep(Duration::from_secs(5));
    let idle_cpu_ms_per_s = (proc_cpu(on_pid) - idle0) * 1e3 / 5.0;
    // Provisional finality, in its own pass under the same load.
    let (_, _, _, mut fin, e3) = run_node(on_port, true, true);
    errors += e3;
    let chain_json_bytes = std::fs::metadata(base.join("on").join("chain.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    signal(off_pid, libc::SIGCONT);
    for n in [&mut on, &mut off] {
        n.kill().ok();
        n.wait().ok();
    }
    let _ = std::fs::remove_dir_all(&base);
    let [b, n_on, n_off] = &arms;
    let on_tokens = n_on.tokens as f64;
    // Each round's on and off runs are adjacent in time: their ratio cancels slow drifts of
    // the machine's other load better than the ratio of the totals.
    let per_round: Vec<f64> = n_on
        .runs
        .iter()
        .zip(&n_off.runs)
        .map(|(a, b)| a / b)
        .collect();
    let threads: serde_json::Map<String, serde_json::Value> = on_threads
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v * 1e3 / on_tokens)))
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "model": model, "clients": clients, "requests_per_run": requests, "max_tokens": max_tokens,
            "rounds": rounds,
            "baseline": b.json(), "node_on": n_on.json(), "node_off": n_off.json(),
            "ratio_on_vs_off": n_on.tps() / n_off.tps(),
            "ratio_on_vs_off_per_round": per_round,
            "ratio_on_vs_off_median_of_rounds": pct(&mut per_round.clone(), 0.5),
            "ratio_on_vs_baseline": n_on.tps() / b.tps(),
            "ratio_off_vs_baseline": n_off.tps() / b.tps(),
            "cpu_ratio_off_over_on": n_off.cpu_ms_per_token() / n_on.cpu_ms_per_token(),
            "cpu_ratio_baseline_over_on": b.cpu_ms_per_token() / n_on.cpu_ms_per_token(),
            "on_thread_cpu_ms_per_token": threads,
            "on_idle_cpu_ms_per_s": idle_cpu_ms_per_s,
            "chain_json_bytes_at_end": chain_json_bytes,
            "errors": errors,
            "latency_ms_p50": pct(&mut lat_on, 0.5), "latency_ms_p99": pct(&mut lat_on, 0.99),
            "provisional_finality_ms_p50": pct(&mut fin, 0.5), "provisional_finality_ms_p99": pct(&mut fin, 0.99),
            "finality_samples": fin.len(), "latency_samples": lat_on.len(),
        })
    );
}

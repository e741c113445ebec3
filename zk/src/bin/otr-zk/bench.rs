//! `otr-zk bench`: one unit of the largest Gemma 3 270M matrix-vector product (the FFN down
//! projection, `d_model x d_ff` = 640 x 2048: the longest rows), proven on this machine.
//!
//! Weights and input are random in the engine's formats (converted by the engine's own
//! `quantize_row`), shaped like the real matrix: proving cost does not depend on the values.
//! With `--model`, the shape is read from the GGUF's config instead of the defaults.

use std::path::PathBuf;
use std::time::Instant;

use otr_core::zk::PreparedVk;
use otr_zk::ceremony::{initial_key, Ceremony};
use otr_zk::circuit::constraint_count;
use otr_zk::commit::MatrixTree;
use otr_zk::prove::{prove_unit, verify_unit};
use otr_zk::{testdata, UnitShape, ZkError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

#[derive(clap::Args)]
pub struct Args {
    /// Matrix rows (Gemma 3 270M FFN down projection: d_model = 640).
    #[arg(long, default_value_t = 640)]
    rows: usize,
    /// Matrix columns (d_ff = 2048).
    #[arg(long, default_value_t = 2048)]
    cols: usize,
    /// Rows per unit (comma-separated list to measure several).
    #[arg(long, default_value = "8")]
    rows_per_unit: String,
    /// Read d_model and d_ff from this GGUF (Gemma 3) instead of the defaults.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Proofs per unit size (the median is reported).
    #[arg(long, default_value_t = 3)]
    proofs: usize,
    /// Write the "## ZK spot-checks" section of this file (replacing only that section).
    #[arg(long)]
    write: Option<PathBuf>,
}

struct Row {
    r: usize,
    constraints: usize,
    setup_s: f64,
    contribute_s: f64,
    prove_s: Vec<f64>,
    verify_ms: f64,
    proof_len: usize,
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

pub fn run(a: Args) -> Result<(), ZkError> {
    let (mut rows, mut cols, mut source) = (
        a.rows,
        a.cols,
        "the defaults, = `gemma3.embedding_length` x `gemma3.feed_forward_length` of the Gemma 3 \
         270M GGUF"
            .to_string(),
    );
    if let Some(p) = &a.model {
        let m = otr_engine::Model::load(p, &otr_engine::default_cache_dir())
            .map_err(|e| ZkError::Io(e.to_string()))?;
        rows = m.config().d_model;
        cols = m.config().ffn_dim;
        source = format!("config of {}", p.display());
    }
    let rs: Vec<usize> = a
        .rows_per_unit
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| ZkError::Shape(format!("bad R {s:?}")))
        })
        .collect::<Result<_, _>>()?;
    eprintln!(
        "matrix {rows} x {cols} ({source}); threads: {}",
        rayon::current_num_threads()
    );
    let w = testdata::matrix(rows, cols, 1, &[-9, -8, -10, -7]);
    let x = testdata::input(cols, 1, 4);
    let t = Instant::now();
    let tree = MatrixTree::new(&w);
    let commit_s = secs(t);
    eprintln!("matrix commitment: {commit_s:.2} s");
    let mut out = Vec::new();
    for &r in &rs {
        let shape = UnitShape::new(rows, cols, r)?;
        let constraints = constraint_count(shape)?;
        eprintln!("R = {r}: {constraints} constraints");
        let t = Instant::now();
        let pk0 = initial_key(shape)?;
        let setup_s = secs(t);
        eprintln!("  initial key: {setup_s:.1} s");
        let mut c = Ceremony {
            shape: shape.into(),
            phase1: otr_zk::ceremony::Phase1Source::InsecurePublic,
            contributions: Vec::new(),
            pk: pk0,
        };
        let t = Instant::now();
        c.contribute("bench", &mut ChaCha20Rng::from_entropy())?;
        let contribute_s = secs(t);
        eprintln!("  one contribution: {contribute_s:.1} s");
        let pk = c.pk;
        let vk = PreparedVk::new(pk.vk.clone())?;
        let mut prove_s = Vec::new();
        let mut last = None;
        for i in 0..a.proofs {
            let start = (i * 7 * r) % rows / r * r;
            let t = Instant::now();
            let p = prove_unit(
                &pk,
                &tree,
                &w,
                &x,
                r,
                start,
                &mut ChaCha20Rng::from_entropy(),
            )?;
            prove_s.push(secs(t));
            eprintln!(
                "  proof {i} (rows {start}..{}): {:.2} s",
                start + r,
                prove_s[i]
            );
            last = Some(p);
        }
        let p = last.ok_or_else(|| ZkError::Shape("--proofs must be at least 1".into()))?;
        let n = 200;
        let t = Instant::now();
        for _ in 0..n {
            verify_unit(&vk, &p.statement, &p.proof)?;
        }
        let verify_ms = secs(t) * 1000.0 / n as f64;
        eprintln!("  native verification: {verify_ms:.2} ms");
        prove_s.sort_by(f64::total_cmp);
        out.push(Row {
            r,
            constraints,
            setup_s,
            contribute_s,
            prove_s,
            verify_ms,
            proof_len: p.proof.len(),
        });
    }
    let text = section(rows, cols, &source, commit_s, &out, &a);
    println!("{text}");
    if let Some(path) = &a.write {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, replace_section(&old, &text))
            .map_err(|e| ZkError::Io(format!("{}: {e}", path.display())))?;
        eprintln!("wrote the section into {}", path.display());
    }
    Ok(())
}

fn section(rows: usize, cols: usize, source: &str, commit_s: f64, out: &[Row], a: &Args) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let rlist = out
        .iter()
        .map(|r| r.r.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut s = String::new();
    s.push_str("## ZK spot-checks\n\n");
    s.push_str(&format!(
        "One sampled unit (a block of R rows) of the largest Gemma 3 270M matrix-vector step, the \
         FFN down projection ({rows} x {cols}; shape from {source}), proven with Groth16/BN254 \
         (`zk/`, arkworks 0.5). Machine: {cpu}, {} threads, release build. Weights and input \
         are random in the engine's formats (proving cost does not depend on the values).\n\n",
        rayon::current_num_threads()
    ));
    s.push_str(&format!(
        "Reproduce: `cargo run --release -p otr-zk -- bench --rows-per-unit {rlist} --proofs {} \
         --write docs/BENCHMARKS.md`\n\n",
        a.proofs
    ));
    s.push_str("| R (rows per unit) | constraints | prove (median) | prove (all runs) | native verify | proof size | initial key | one ceremony contribution |\n");
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in out {
        let med = r.prove_s[r.prove_s.len() / 2];
        let all = r
            .prove_s
            .iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" / ");
        s.push_str(&format!(
            "| {} | {} | {med:.2} s | {all} s | {:.2} ms | {} B (compressed) | {:.1} s | {:.1} s |\n",
            r.r, r.constraints, r.verify_ms, r.proof_len, r.setup_s, r.contribute_s
        ));
    }
    let whole: Vec<String> = out
        .iter()
        .map(|r| {
            format!(
                "R = {}: {} units x {:.2} s = {:.0} s",
                r.r,
                rows / r.r,
                r.prove_s[r.prove_s.len() / 2],
                (rows / r.r) as f64 * r.prove_s[r.prove_s.len() / 2]
            )
        })
        .collect();
    let fast: Vec<String> = out
        .iter()
        .filter(|r| r.prove_s[r.prove_s.len() / 2] < 10.0)
        .map(|r| r.r.to_string())
        .collect();
    s.push_str(&format!(
        "\n- Goal under 10 s per unit: met for R in {{{}}} of those measured.\n\
         - The machine is shared with other builds: runs of the same proof vary (see the \
         per-run column).",
        fast.join(", ")
    ));
    s.push_str(&format!(
        "\n- Matrix commitment (Poseidon Merkle tree over the {rows} rows): {commit_s:.2} s.\n\
         - Whole step, *extrapolated* (not measured; units are independent proofs): {}.\n\
         - Native verification = `otr_core::zk::PreparedVk::verify_bytes` (decode + 4 public \
         inputs + pairing check), mean of 200.\n\
         - WASM verification, EVM gas and snarkjs proving: \"Verification elsewhere\" below.\n",
        whole.join("; ")
    ));
    s
}

/// The subsection of the ZK section that `bench --write` keeps as it is.
pub const KEEP_HEAD: &str = "### Verification elsewhere";

/// Replaces the `## ZK spot-checks` section (up to the next `## ` heading) or appends it.
fn replace_section(old: &str, new: &str) -> String {
    let head = "## ZK spot-checks";
    let Some(start) = old
        .find(&format!("\n{head}"))
        .map(|i| i + 1)
        .or_else(|| old.starts_with(head).then_some(0))
    else {
        let mut s = old.to_string();
        if !s.is_empty() && !s.ends_with("\n\n") {
            s.push_str(if s.ends_with('\n') { "\n" } else { "\n\n" });
        }
        s.push_str(new);
        return s;
    };
    let rest = &old[start + head.len()..];
    let end = rest
        .find("\n## ")
        .map(|i| start + head.len() + i + 1)
        .unwrap_or(old.len());
    // Measurements made elsewhere (EVM gas, WASM, snarkjs) sit under KEEP_HEAD and are kept.
    let kept = old[start..end]
        .find(KEEP_HEAD)
        .map(|i| format!("\n{}", old[start + i..end].trim_end()))
        .unwrap_or_default();
    format!(
        "{}{}{}{}{}",
        &old[..start],
        new,
        kept,
        if end < old.len() { "\n" } else { "" },
        &old[end..]
    )
}

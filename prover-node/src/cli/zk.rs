//! `otr zk`: the spot-check circuit's setup ceremony, verifying-key export, proving one unit of
//! a trace step, and verification of snarkjs-JSON proofs. The ceremony and file commands are
//! `otr_zk::cli`'s (the same code as `otr-zk`); `prove` runs the node's own spot-check path.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use otr_core::rollup::SamplingParams;
use otr_zk::cli::{CeremonyCmd, ExportVkArgs, VerifyArgs};

use super::CliError;
use crate::node::inference::RunKind;
use crate::node::spotcheck;

#[derive(Debug, Subcommand)]
pub enum ZkCommand {
    /// The setup ceremony: phase 1 (powers of tau: phase1 init, contribute, verify), then
    /// phase 2: init --phase1 FILE, contribute (two or more), verify, finalize (zk/README.md).
    /// For any unit circuit: init --circuit matvec (--rows, --cols, --rows-per-unit), act
    /// (--table, --len, --elems) or attn (--head-dim, --positions).
    #[command(subcommand)]
    Ceremony(CeremonyCmd),
    /// Writes the verifying key of a finalized setup (of any unit circuit) as snarkjs
    /// verification_key.json.
    ExportVk(ExportVkArgs),
    /// Proves one unit of one matrix-vector step of a model run (for testing the setup), and
    /// writes proof.json and public.json (snarkjs) and proof.bin (the bundle form).
    Prove(ProveArgs),
    /// Verifies proof.json + public.json against verification_key.json (snarkjs JSON) with the
    /// core verifier, the code the browser's WASM verifier runs.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// A finalized setup directory (`otr zk ceremony finalize --out-dir DIR`).
    #[arg(long, value_name = "DIR")]
    pub params: PathBuf,
    /// Model: a GGUF file, `gemma3-270m` or `fixture-gemma3`.
    #[arg(long, default_value = "fixture-gemma3")]
    pub model: String,
    /// The prompt to run.
    #[arg(long, default_value = "the tower is in")]
    pub prompt: String,
    /// Tokens to generate.
    #[arg(long, default_value_t = 1)]
    pub max_tokens: u32,
    /// Trace step index (trace order); default: the first step the setup's shape fits.
    #[arg(long)]
    pub step: Option<u64>,
    /// Unit (block of R rows) of the step's matrix.
    #[arg(long, default_value_t = 0)]
    pub unit: u64,
    /// Where to write proof.json, public.json and proof.bin.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

fn zk_err(e: otr_zk::ZkError) -> CliError {
    let exit = if e.code().starts_with("PROOF_") || e.code() == "ZK_CEREMONY_INVALID" {
        1
    } else {
        2
    };
    CliError {
        code: e.code().into(),
        message: e.to_string(),
        exit,
    }
}

pub fn run(cmd: ZkCommand) -> Result<(), CliError> {
    match cmd {
        ZkCommand::Ceremony(c) => otr_zk::cli::run_ceremony(c).map_err(zk_err),
        ZkCommand::ExportVk(a) => otr_zk::cli::run_export_vk(a).map_err(zk_err),
        ZkCommand::Verify(a) => otr_zk::cli::run_verify(a).map(|_| ()).map_err(zk_err),
        ZkCommand::Prove(a) => prove(a),
    }
}

fn prove(a: ProveArgs) -> Result<(), CliError> {
    let fail = |code: &'static str| move |m: String| CliError::usage(code, m);
    eprintln!("loading {} ...", a.model);
    let engine = crate::node::engine_impl::load(&a.model, std::path::Path::new("."))
        .map_err(fail("MODEL_LOAD"))?;
    let info = engine.info();
    eprintln!("loading the keys and the model's matrices of their shape ...");
    let sc = spotcheck::SpotChecker::open(
        std::slice::from_ref(&a.params),
        &a.model,
        &info.weights_root,
        1.0,
    )
    .map_err(fail("ZK_PARAMS"))?;
    let sampling = SamplingParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: a.max_tokens,
        seed: 0,
    };
    eprintln!("running the model with its trace ...");
    let run = engine
        .trace(&a.prompt, &sampling, RunKind::Honest)
        .map_err(fail("ENGINE_FAILED"))?;
    let keys = spotcheck::trace_keys(&run.leaves).map_err(fail("ENGINE_FAILED"))?;
    let eligible = spotcheck::eligible_steps(&sc, &keys);
    let step = match a.step {
        Some(s) => s,
        None => *eligible.first().ok_or_else(|| {
            CliError::usage(
                "ZK_SHAPE_INVALID",
                "no step of this run multiplies by a matrix of the setup's shape",
            )
        })?,
    };
    let t = std::time::Instant::now();
    eprintln!(
        "proving unit {} of step {step} ({:?}) ...",
        a.unit,
        keys.get(step as usize)
    );
    let (p, _) = spotcheck::prove_step(
        &sc,
        engine.as_ref(),
        &a.prompt,
        &sampling,
        RunKind::Honest,
        &run.leaves,
        step,
        a.unit,
    )
    .map_err(fail("ZK_PROVE"))?;
    eprintln!("proved and verified in {:.2} s", t.elapsed().as_secs_f64());
    let proof = otr_zk::prove::decode_proof(&p.proof).map_err(zk_err)?;
    let inputs: Vec<otr_core::zk::Fr> = p
        .public_inputs
        .iter()
        .enumerate()
        .map(|(i, b)| otr_core::zk::groth16::scalar_from_be_bytes(b, i))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::rejected(&e))?;
    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", a.out_dir.display())))?;
    for (name, bytes) in [
        (
            "proof.json",
            otr_core::zk::snarkjs::proof_to_json(&proof).into_bytes(),
        ),
        (
            "public.json",
            otr_core::zk::snarkjs::public_inputs_to_json(&inputs).into_bytes(),
        ),
        ("proof.bin", p.proof.clone()),
    ] {
        let f = a.out_dir.join(name);
        std::fs::write(&f, bytes)
            .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", f.display())))?;
    }
    println!(
        "{}",
        serde_json::json!({
            "step": step,
            "key": format!("{:?}", keys[step as usize]),
            "unit": a.unit,
            "circuit_id": hex::encode(p.circuit_id),
            "public_inputs": p.public_inputs.iter().map(hex::encode).collect::<Vec<_>>(),
            "out_dir": a.out_dir,
        })
    );
    Ok(())
}

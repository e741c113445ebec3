//! Command-line definitions.

mod chain;
mod dev;
mod gpu;
mod input;
mod inspect;
pub mod run;
pub mod serve;
pub mod simulate;
mod verify;
mod watch;
pub mod zk;

use clap::{Parser, Subcommand};

/// OTR: verifiable LLM inference on NVIDIA confidential-computing GPUs, settled on an optimistic rollup.
#[derive(Debug, Parser)]
#[command(name = "otr", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the prover node: OpenAI-compatible API, receipts, attested micro-batches, bundles.
    Serve(crate::node::config::ServeArgs),
    /// Run the deterministic engine once on a prompt (no server): the text, and with `--json` the
    /// token ids, weights root and trace root.
    Run(run::RunArgs),
    /// Verify evidence offline: GPU attestation reports, answer bundles.
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
    /// Show what evidence contains (parse only, nothing verified).
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
    /// Challenger: follow the chain (a node's embedded chain file, or `--chain-rpc URL`), re-check
    /// every posted receipt's bundle, re-execute receipts (`--model`) and play disputes to the end.
    Watch(watch::WatchArgs),
    /// NVIDIA GPUs: `otr gpu probe` reports what the driver (NVML) says about confidential-computing
    /// mode and whether the `nvidia` attestation provider can attest here.
    #[command(subcommand)]
    Gpu(gpu::GpuCommand),
    /// Development tools: dev-signed evidence and fixtures (NOT PRODUCTION).
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Simulate the protocol's economics (deterministic from a seed; crate otr-sim).
    Simulate(simulate::SimulateArgs),
    /// Protocol parameters: `otr params suggest --value-at-risk X --gas-price Y`.
    #[command(subcommand)]
    Params(simulate::ParamsCommand),
    /// ZK spot-checks: setup ceremony, verifying-key export, proving a unit, verifying a proof.
    #[command(subcommand)]
    Zk(zk::ZkCommand),
    /// The registry owner's commands on an RPC chain: `otr chain register-model`,
    /// `register-matvec` (the matrix-vector step verifier for `--zk-params` keys) and `status`.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
}

/// A failure to report: `error: CODE: message` on stderr and a non-zero exit status.
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    /// 1: the evidence was rejected; 2: the command could not run (usage, unreadable input).
    pub exit: u8,
}

impl CliError {
    pub fn usage(code: &str, message: impl Into<String>) -> Self {
        CliError {
            code: code.into(),
            message: message.into(),
            exit: 2,
        }
    }
    pub fn rejected(e: &dyn otr_core::ErrorCode) -> Self {
        CliError {
            code: e.code().into(),
            message: e.to_string(),
            exit: 1,
        }
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Verify(v) => verify::run(v),
        Command::Serve(a) => serve::run(a),
        Command::Run(a) => run::run(a),
        Command::Dev(d) => dev::run(d),
        Command::Gpu(g) => gpu::run(g),
        Command::Inspect(i) => inspect::run(i),
        Command::Watch(w) => watch::run(w),
        Command::Simulate(a) => simulate::run_simulate(a),
        Command::Params(p) => simulate::run_params(p),
        Command::Zk(z) => zk::run(z),
        Command::Chain(c) => chain::run(c),
    }
}

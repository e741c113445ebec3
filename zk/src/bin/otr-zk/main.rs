//! `otr-zk`: the setup ceremony of the spot-check circuit, and its benchmark.
//!
//! ```text
//! otr-zk ceremony init --rows 640 --cols 2048 --rows-per-unit 8 --out c0.bin
//! otr-zk ceremony contribute --in c0.bin --out c1.bin --name alice [--entropy "..."]
//! otr-zk ceremony verify --in c1.bin
//! otr-zk ceremony finalize --in c2.bin --min-contributions 2 --out-dir keys/
//! otr-zk export-vk --params keys/ [--out verification_key.json]
//! otr-zk verify --vk verification_key.json --proof proof.json --public public.json
//! otr-zk bench [--write docs/BENCHMARKS.md]
//! otr-zk bench-attn --head-dim 256 --positions 8,32
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use otr_zk::{cli, ZkError};

mod act_bench;
mod attn_bench;
mod bench;
mod fixture;
mod r1cs;

#[derive(Parser)]
#[command(
    name = "otr-zk",
    about = "OTR spot-check circuit: setup ceremony and benchmark"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The setup ceremony: phase 1 (powers of tau), then phase 2 (see zk/README.md).
    #[command(subcommand)]
    Ceremony(cli::CeremonyCmd),
    /// Writes the verifying key of a finalized setup as snarkjs verification_key.json.
    ExportVk(cli::ExportVkArgs),
    /// Verifies a proof (snarkjs proof.json + public.json) against verification_key.json.
    Verify(cli::VerifyArgs),
    /// Measures constraints, proving and verification for one unit; optionally writes the
    /// "## ZK spot-checks" section of a BENCHMARKS.md.
    Bench(bench::Args),
    /// Measures constraints, key generation, proving and verification of one ACT unit.
    BenchAct(act_bench::Args),
    /// Measures constraints, key generation, proving and verification of one attention unit.
    BenchAttn(attn_bench::Args),
    /// Writes a real proof of one unit in snarkjs JSON (fixtures/zk/matvec_r4).
    Fixture(fixture::Args),
    /// Writes the circuit of a shape as .r1cs and an honest witness as .wtns (for snarkjs).
    ExportR1cs(r1cs::Args),
}

fn run(cli: Cli) -> Result<(), ZkError> {
    match cli.cmd {
        Cmd::Ceremony(c) => cli::run_ceremony(c)?,
        Cmd::ExportVk(a) => cli::run_export_vk(a)?,
        Cmd::Verify(a) => {
            cli::run_verify(a)?;
        }
        Cmd::Bench(args) => bench::run(args)?,
        Cmd::BenchAct(args) => act_bench::run(args)?,
        Cmd::BenchAttn(args) => attn_bench::run(args)?,
        Cmd::Fixture(args) => fixture::run(args)?,
        Cmd::ExportR1cs(args) => r1cs::run(args)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

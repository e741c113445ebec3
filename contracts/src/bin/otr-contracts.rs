//! `otr-contracts`: tools around the settlement contracts.
//!
//! - `gen-verifier --snarkjs-vk FILE | --ark-vk FILE --name NAME [--out FILE]`: writes the
//!   Solidity Groth16 verifier for a verifying key (snarkjs `verification_key.json`, or the
//!   arkworks compressed binary form of PROTOCOL §7.1).

use clap::{Parser, Subcommand};
use otr_core::zk::{snarkjs, Compress, PreparedVk};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "otr-contracts", about = "OTR settlement contract tools")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a Solidity Groth16 verifier contract from a verifying key.
    GenVerifier {
        /// snarkjs verification_key.json
        #[arg(long, conflicts_with = "ark_vk")]
        snarkjs_vk: Option<PathBuf>,
        /// arkworks compressed verifying key (binary)
        #[arg(long)]
        ark_vk: Option<PathBuf>,
        /// Solidity contract name
        #[arg(long)]
        name: String,
        /// output file (default: standard output)
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::GenVerifier {
            snarkjs_vk,
            ark_vk,
            name,
            out,
        } => {
            let vk = match (snarkjs_vk, ark_vk) {
                (Some(p), None) => {
                    let text =
                        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    snarkjs::parse_vk(&text).map_err(|e| format!("{}: {e}", p.display()))?
                }
                (None, Some(p)) => {
                    let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                    PreparedVk::from_bytes(&bytes, Compress::Yes)
                        .map_err(|e| format!("{}: {e}", p.display()))?
                }
                _ => return Err("give exactly one of --snarkjs-vk and --ark-vk".into()),
            };
            let sol = otr_contracts::groth16_sol::render_verifier(&vk, &name)
                .map_err(|e| e.to_string())?;
            match out {
                Some(p) => std::fs::write(&p, sol).map_err(|e| format!("{}: {e}", p.display()))?,
                None => print!("{sol}"),
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otr-contracts: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `otr`: the OTR command-line tool and (with the node issue) the prover node.

use std::process::ExitCode;

use clap::Parser;
use otr_node::cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {}", e.code, e.message);
            ExitCode::from(e.exit)
        }
    }
}

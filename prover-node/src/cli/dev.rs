//! `otr dev ...`: development tools (NOT PRODUCTION evidence).

use std::path::PathBuf;

use clap::Subcommand;

use super::CliError;

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Regenerate the self-made test fixtures (dev-signed evidence, one folder per case).
    Fixtures {
        /// Output folder (the repository's `fixtures/`).
        #[arg(long, default_value = "fixtures")]
        out: PathBuf,
    },
}

pub fn run(cmd: DevCommand) -> Result<(), CliError> {
    match cmd {
        DevCommand::Fixtures { out } => {
            let n = crate::devattest::fixtures::generate(&out)
                .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", out.display())))?;
            let b = crate::devattest::bundle_fixtures::generate(&out)
                .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", out.display())))?;
            let g = crate::devattest::gpu_fixtures::generate(&out)
                .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", out.display())))?;
            crate::devattest::bundle_fixtures::generate_full(&out)
                .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", out.display())))?;
            let c = crate::devattest::chain_fixtures::generate(&out)
                .map_err(|e| CliError::usage("OUTPUT", format!("{}: {e}", out.display())))?;
            eprintln!(
                "wrote {n} attestation, {b} bundle, {g} GPU and {c} dev-chain cases under {}",
                out.display()
            );
            Ok(())
        }
    }
}

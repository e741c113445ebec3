//! `otr inspect ...`: show what evidence contains, without verifying it.

use std::path::PathBuf;

use clap::Subcommand;
use otr_core::attestation::spdm::SpdmReport;
use serde_json::json;

use super::{input, CliError};

#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// Parse an SPDM attestation report and print every field as JSON. Nothing is verified.
    Report {
        /// Report file: hex text or raw bytes.
        file: PathBuf,
    },
}

pub fn run(cmd: InspectCommand) -> Result<(), CliError> {
    match cmd {
        InspectCommand::Report { file } => {
            let bytes = input::report(&file)?;
            let r = SpdmReport::parse(&bytes).map_err(|e| CliError::rejected(&e))?;
            let o = &r.response.opaque;
            let out = json!({
                "verified": false,
                "length": bytes.len(),
                "signed_length": r.signed_len,
                "trailing_bytes": r.trailing,
                "request": r.request,
                "response": r.response,
                "signature": hex::encode(r.response.signature),
                "driver_version": o.driver_version(),
                "vbios_version": o.vbios_version(),
                "driver_rim_id": o.driver_rim_id(),
                "vbios_rim_id": o.vbios_rim_id(),
                "opaque_decoded": o.describe().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
            Ok(())
        }
    }
}

//! `otr gpu probe`: what NVML says about this machine's GPUs and their confidential-computing
//! mode, through the same code the `nvidia` attestation provider runs.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{input, CliError};
use crate::node::attest::{Attestor, NvidiaAttestor};
use crate::node::nvml::{Nvml, NvmlError, LIBRARY};

#[derive(Debug, Subcommand)]
pub enum GpuCommand {
    /// Ask NVML (the driver's library, loaded at run time) what the `nvidia` attestation provider
    /// sees: driver, GPUs, confidential-computing capabilities and state, and, when CC is on, one
    /// attestation report over a nonce.
    ///
    /// Prints JSON on stdout. Exits 0 when the provider can attest; otherwise also prints
    /// `error: NO_CC_GPU: <the provider's own message>` on stderr and exits 2. Safe on any
    /// machine: no driver, no GPU and a GPU without CC mode are reported, not crashes.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The GPU to probe (NVML index).
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// The nonce the attestation report must carry (64 hex digits). [default: random]
    #[arg(long, value_name = "HEX")]
    pub nonce: Option<String>,
    /// When a report is obtained, write `report.bin`, `chain.pem` and `nonce.hex` here, ready for
    /// `otr verify gpu --report DIR/report.bin --chain DIR/chain.pem --nonce $(cat DIR/nonce.hex)`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also ask for a report and the certificate chain when NVML says CC is off, to record what
    /// the driver answers then.
    #[arg(long)]
    pub force_report: bool,
}

pub fn run(cmd: GpuCommand) -> Result<(), CliError> {
    match cmd {
        GpuCommand::Probe(a) => probe(a),
    }
}

fn value<T: serde::Serialize>(r: Result<T, NvmlError>) -> Value {
    match r {
        Ok(v) => json!(v),
        Err(e) => json!({ "error": e }),
    }
}

fn probe(a: ProbeArgs) -> Result<(), CliError> {
    let nonce = match &a.nonce {
        Some(h) => input::nonce(h)?,
        None => {
            let mut n = [0u8; 32];
            getrandom::getrandom(&mut n).map_err(|e| CliError::usage("RANDOM", e.to_string()))?;
            n
        }
    };
    let mut out = json!({ "library": LIBRARY, "nonce": hex::encode(nonce) });
    let nvml = match Nvml::load() {
        Ok(n) => Some(n),
        Err(e) => {
            out["load_error"] = json!(e);
            None
        }
    };
    if let Some(nvml) = &nvml {
        out["driver_version"] = value(nvml.driver_version());
        out["nvml_version"] = value(nvml.nvml_version());
        let count = nvml.device_count();
        let mut devices = Vec::new();
        if let Ok(n) = &count {
            for i in 0..*n {
                devices.push(match nvml.device(i) {
                    Ok(d) => json!({
                        "index": i,
                        "name": value(nvml.name(d)),
                        "uuid": value(nvml.uuid(d)),
                    }),
                    Err(e) => json!({ "index": i, "error": e }),
                });
            }
        }
        out["device_count"] = value(count);
        out["devices"] = json!(devices);
        out["cc_capabilities"] = value(nvml.cc_capabilities());
        out["cc_state"] = value(nvml.cc_state());
        out["cc_gpus_ready"] = value(nvml.cc_gpus_ready());
    }
    // The provider itself, exactly as `otr serve --attestation nvidia` opens it.
    let provider = NvidiaAttestor::open(a.index, Vec::new(), Vec::new());
    let mut failure = None;
    match &provider {
        Ok(p) => {
            out["provider"] = json!({ "ok": true });
            match p.attest(nonce) {
                Ok(ev) => {
                    out["attestation"] = json!({
                        "report_bytes": ev.report.len(),
                        "chain_certificates": ev.chain_pem.matches("BEGIN CERTIFICATE").count(),
                    });
                    if let Some(dir) = &a.out {
                        let write = |name: &str, bytes: &[u8]| {
                            std::fs::create_dir_all(dir)
                                .and_then(|_| std::fs::write(dir.join(name), bytes))
                                .map_err(|e| {
                                    CliError::usage("OUTPUT", format!("{}: {e}", dir.display()))
                                })
                        };
                        write("report.bin", &ev.report)?;
                        write("chain.pem", ev.chain_pem.as_bytes())?;
                        write("nonce.hex", hex::encode(nonce).as_bytes())?;
                    }
                }
                Err(e) => {
                    out["attestation"] = json!({ "error": e });
                    failure = Some(format!("the GPU is in CC mode but gave no report: {e}"));
                }
            }
        }
        Err(e) => {
            out["provider"] = json!({ "ok": false, "message": e });
            failure = Some(e.clone());
            if let (Some(nvml), true) = (&nvml, a.force_report) {
                out["forced"] = match nvml.device(a.index) {
                    Ok(d) => json!({
                        "attestation_report": value(nvml.attestation_report(d, nonce).map(|r| r.len())),
                        "attestation_chain": value(nvml.attestation_chain(d).map(|c| c.matches("BEGIN CERTIFICATE").count())),
                    }),
                    Err(e) => json!({ "error": e }),
                };
            }
        }
    }
    drop(provider);
    drop(nvml);
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| CliError::usage("OUTPUT", e.to_string()))?
    );
    match failure {
        None => Ok(()),
        Some(m) => Err(CliError::usage("NO_CC_GPU", m)),
    }
}

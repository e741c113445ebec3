//! `otr verify ...`: offline verification of GPU evidence and answer bundles.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use otr_core::attestation::gpu::{verify_gpu, GpuEvidence};
use otr_core::attestation::TrustAnchors;
use otr_core::crypto::RustCrypto;
use otr_core::x509::Certificate;

use super::{input, CliError};

#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Verify one GPU's attestation: report signature, device chain to the NVIDIA root, FWID,
    /// nonce, reference manifests (RIMs) and stapled OCSP answers.
    ///
    /// Prints the verified claims as JSON on stdout and exits 0; on failure prints
    /// `error: CODE: message` on stderr and exits 1 (2 when the inputs cannot be read).
    Gpu(GpuArgs),
}

/// Options shared by every verification: time, policy, trust.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Verification time (RFC 3339, e.g. 2025-06-01T00:00:00Z). Default: the system clock.
    #[arg(long, value_name = "RFC3339")]
    pub time: Option<String>,
    /// Policy file (JSON). Default: strict (RIMs and OCSP required, no trailing bytes, no dev roots).
    /// Fields: accepted_driver_versions, accepted_vbios_versions, require_rims, require_ocsp,
    /// ocsp_freshness (strict | at_produced_at | ignore), ocsp_skew_secs, allow_ocsp_hold,
    /// trailing_bytes (reject | allow), require_fwid, allow_dev_roots.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Check the device evidence only (report, chain, FWID, nonce): no RIMs or OCSP required.
    /// Applied on top of --policy.
    #[arg(long)]
    pub device_only: bool,
    /// Also trust this development root (PEM) for device and RIM chains. Evidence chained to it
    /// is labelled `dev_root: true` and is accepted only if the policy sets allow_dev_roots.
    #[arg(long, value_name = "FILE")]
    pub dev_root: Option<PathBuf>,
    /// ECDSA P-384 implementation: `openssl` (the system library, fastest here) or `rust`
    /// (the pure-Rust `p384` crate the WASM verifier uses). Verdicts are identical.
    #[arg(long, value_enum, default_value_t = Crypto::Openssl)]
    pub crypto: Crypto,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Crypto {
    Openssl,
    Rust,
}

impl TrustArgs {
    pub fn verifier(&self) -> Box<dyn otr_core::crypto::SignatureVerifier> {
        match self.crypto {
            Crypto::Openssl => Box::new(crate::native_crypto::OpensslVerifier::new()),
            Crypto::Rust => Box::new(RustCrypto),
        }
    }
}

#[derive(Debug, Args)]
pub struct GpuArgs {
    /// The attestation report: hex text (as NVIDIA's tools write it) or raw bytes.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// The GPU certificate chain, PEM, leaf first (as NVML returns it).
    #[arg(long, value_name = "FILE")]
    pub chain: PathBuf,
    /// A reference integrity manifest (NVIDIA SWID XML); give the driver and the VBIOS RIM.
    #[arg(long = "rim", value_name = "FILE")]
    pub rims: Vec<PathBuf>,
    /// A stapled OCSP answer (DER or base64) for a device-chain or RIM-chain certificate.
    #[arg(long = "ocsp", value_name = "FILE")]
    pub ocsp: Vec<PathBuf>,
    /// The nonce the report must carry (64 hex digits). Without it the nonce is reported, not checked.
    #[arg(long, value_name = "HEX")]
    pub nonce: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

pub fn run(cmd: VerifyCommand) -> Result<(), CliError> {
    match cmd {
        VerifyCommand::Gpu(a) => gpu(a),
    }
}

pub fn anchors(trust: &TrustArgs) -> Result<TrustAnchors, CliError> {
    let mut anchors = TrustAnchors::nvidia();
    if let Some(p) = &trust.dev_root {
        let der = input::chain(p)?.remove(0);
        let cert = Certificate::from_der(&der)
            .map_err(|e| CliError::usage("INPUT_CERT", format!("{}: {}", p.display(), e.reason)))?;
        anchors = anchors.with_dev_root(cert);
    }
    Ok(anchors)
}

fn gpu(a: GpuArgs) -> Result<(), CliError> {
    let report = input::report(&a.report)?;
    let chain = input::chain(&a.chain)?;
    let rims = a
        .rims
        .iter()
        .map(|p| input::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let ocsp = a
        .ocsp
        .iter()
        .map(|p| input::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let nonce = a.nonce.as_deref().map(input::nonce).transpose()?;
    let time = input::time(a.trust.time.as_deref())?;
    let mut policy = input::policy(a.trust.policy.as_deref())?;
    if a.trust.device_only {
        policy.require_rims = false;
        policy.require_ocsp = false;
    }
    let anchors = anchors(&a.trust)?;
    let evidence = GpuEvidence {
        report: &report,
        chain: &chain,
        rims: &rims,
        ocsp: &ocsp,
    };
    let verified = verify_gpu(
        &evidence,
        nonce.as_ref(),
        time,
        &policy,
        &anchors,
        &RustCrypto,
    )
    .map_err(|e| CliError::rejected(&e))?;
    let out = serde_json::to_string_pretty(&verified.claims)
        .map_err(|e| CliError::usage("OUTPUT", e.to_string()))?;
    println!("{out}");
    Ok(())
}

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
    /// Verify an answer bundle: the node's signature over the micro-batch header, the receipt's
    /// inclusion, rollup inclusion, the GPU attestation with the header hash as its nonce,
    /// spot-check proofs, and finality.
    ///
    /// FILE is the binary form (`OTRB...`) or JSON, or `-` for stdin. Prints the verified claims
    /// as JSON and exits 0; on failure prints `error: CODE: message` and exits 1.
    Bundle(BundleArgs),
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Bundle file (binary or JSON), `-` for stdin, or an http:// URL (e.g. a node's
    /// `/v1/receipts/{id}/bundle`).
    pub file: PathBuf,
    /// The request hash the client computed (64 hex digits); the receipt must carry it.
    #[arg(long, value_name = "HEX")]
    pub request_hash: Option<String>,
    /// The weights root of the model paid for (64 hex digits); the receipt must carry it.
    #[arg(long, value_name = "HEX")]
    pub weights_root: Option<String>,
    /// The sampling temperature the request asked for, in thousandths (0 = greedy, as
    /// `"temperature": 0`); the receipt must record it (a challenger refutes on chain the
    /// tokens the receipt's sampling gives).
    #[arg(long, value_name = "MILLI")]
    pub temperature_milli: Option<u32>,
    /// The prompt the client sent, as the node runs it (a completion's prompt itself; a chat
    /// request's messages in the model's chat template): the text of the trace's `PROMPT` leaf
    /// the bundle opens must be exactly it (`RECEIPT_PROMPT_MISMATCH`: the node answered another
    /// prompt; `PROMPT_NOT_OPENED`: the bundle opens no such leaf).
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// `--prompt` read from a file (its exact bytes).
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// A spot-check circuit's verifying key (snarkjs JSON). Repeat for several circuits.
    #[arg(long = "vk", value_name = "FILE")]
    pub vks: Vec<PathBuf>,
    /// The model's matrix root (the registry's `poseidonRoot`, 64 hex digits, e.g. from
    /// `otr chain status`): every spot-check proof must carry its statement and its matrix
    /// commitment must open to this root (`ZK_STATEMENT_MISSING`, `ZK_STATEMENT_MATRIX_ROOT`).
    #[arg(long, value_name = "HEX")]
    pub matrix_root: Option<String>,
    /// A block hash you trust (64 hex digits): the bundle's stapled light-client section must
    /// prove its batch under it. Without it, a stapled section is reported as unverified.
    #[arg(long, value_name = "HASH")]
    pub trusted_checkpoint: Option<String>,
    /// The network of the trusted checkpoint. [default: the bundle header's chain id]
    #[arg(long, value_name = "ID", requires = "trusted_checkpoint")]
    pub checkpoint_chain_id: Option<u64>,
    /// The settlement contract you trust (40 hex digits); the stapled proof must be about it.
    #[arg(long, value_name = "ADDRESS", requires = "trusted_checkpoint")]
    pub settlement: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
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
    /// Also trust this development root (PEM; every certificate in the file) for device and RIM
    /// chains; repeat for several files. Evidence chained to it is labelled `dev_root: true` and
    /// is accepted only if the policy sets allow_dev_roots.
    #[arg(long, value_name = "FILE")]
    pub dev_root: Vec<PathBuf>,
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
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "evidence_list",
        requires = "chain"
    )]
    pub report: Option<PathBuf>,
    /// The GPU certificate chain, PEM, leaf first (as NVML returns it).
    #[arg(long, value_name = "FILE", conflicts_with = "evidence_list")]
    pub chain: Option<PathBuf>,
    /// Instead of --report/--chain: NVIDIA's multi-GPU evidence list (JSON
    /// `[{arch, certificate, evidence, nonce}]`); every GPU must verify. Each item's nonce is
    /// checked against --nonce when given, else against the list's own `nonce`.
    #[arg(long, value_name = "FILE", conflicts_with = "report")]
    pub evidence_list: Option<PathBuf>,
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
        VerifyCommand::Bundle(a) => bundle(a),
    }
}

pub fn anchors(trust: &TrustArgs) -> Result<TrustAnchors, CliError> {
    let mut anchors = TrustAnchors::nvidia();
    for p in &trust.dev_root {
        for der in input::chain(p)? {
            let cert = Certificate::from_der(&der).map_err(|e| {
                CliError::usage("INPUT_CERT", format!("{}: {}", p.display(), e.reason))
            })?;
            anchors = anchors.with_dev_root(cert);
        }
    }
    Ok(anchors)
}

fn hash32(text: &str, flag: &str) -> Result<[u8; 32], CliError> {
    otr_core::encoding::hex_decode_lenient(text.as_bytes())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            CliError::usage(
                "INPUT_HASH",
                format!("{flag} must be 32 bytes of hex (64 hex digits)"),
            )
        })
}

/// Reads a bundle in either form, with the protocol's budgets.
pub fn read_bundle(bytes: &[u8]) -> Result<otr_core::rollup::AnswerBundle, CliError> {
    use otr_core::rollup::AnswerBundle;
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &bytes[i..])
        .unwrap_or(bytes);
    if trimmed.first() == Some(&b'{') {
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| CliError::usage("BUNDLE_JSON_INVALID", "bundle JSON is not UTF-8"))?;
        AnswerBundle::from_json(text).map_err(|e| CliError::rejected(&e))
    } else {
        AnswerBundle::decode(bytes).map_err(|e| CliError::rejected(&e))
    }
}

fn bundle(a: BundleArgs) -> Result<(), CliError> {
    let src = a.file.to_string_lossy().to_string();
    let bytes = if src.starts_with("http://") || src.starts_with("https://") {
        input::http_get(&src)?
    } else if a.file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
            .map_err(|e| CliError::usage("INPUT_READ", format!("stdin: {e}")))?;
        v
    } else {
        input::read(&a.file)?
    };
    let bundle = read_bundle(&bytes)?;
    let time = input::time(a.trust.time.as_deref())?;
    let mut policy = input::policy(a.trust.policy.as_deref())?;
    if a.trust.device_only {
        policy.require_rims = false;
        policy.require_ocsp = false;
    }
    let anchors = anchors(&a.trust)?;
    let mut vks = Vec::new();
    for p in &a.vks {
        let text = String::from_utf8(input::read(p)?)
            .map_err(|_| CliError::usage("INPUT_VK", format!("{}: not UTF-8", p.display())))?;
        let vk = otr_core::zk::snarkjs::parse_vk(&text).map_err(|e| {
            CliError::usage(
                otr_core::ErrorCode::code(&e),
                format!("{}: {e}", p.display()),
            )
        })?;
        vks.push(vk);
    }
    let keyed: Vec<([u8; 32], &otr_core::zk::PreparedVk)> =
        vks.iter().map(|v| (v.key_id(), v)).collect();
    let verifier = a.trust.verifier();
    let prompt = match (&a.prompt, &a.prompt_file) {
        (Some(p), _) => Some(p.as_bytes().to_vec()),
        (None, Some(f)) => Some(input::read(f)?),
        (None, None) => None,
    };
    let opts = otr_core::verify::VerifyOptions {
        time,
        policy: &policy,
        anchors: &anchors,
        verifier: verifier.as_ref(),
        verifying_keys: &keyed,
        expected_request_hash: a
            .request_hash
            .as_deref()
            .map(|h| hash32(h, "--request-hash"))
            .transpose()?,
        expected_weights_root: a
            .weights_root
            .as_deref()
            .map(|h| hash32(h, "--weights-root"))
            .transpose()?,
        expected_temperature_milli: a.temperature_milli,
        expected_prompt: prompt.as_deref(),
    };
    let chain_trust = match &a.trusted_checkpoint {
        None => None,
        Some(h) => {
            let mut t = otr_core::chain::ChainTrust::checkpoint(
                a.checkpoint_chain_id.unwrap_or(bundle.header.chain_id),
                hash32(h, "--trusted-checkpoint")?,
            );
            if let Some(s) = &a.settlement {
                let b = hex::decode(s.trim_start_matches("0x"))
                    .ok()
                    .and_then(|b| <[u8; 20]>::try_from(b).ok())
                    .ok_or_else(|| CliError::usage("INPUT_HEX", "--settlement: 40 hex digits"))?;
                t.contract = Some(b);
            }
            Some(t)
        }
    };
    let verified = otr_core::verify::verify_bundle_with_chain(&bundle, &opts, chain_trust.as_ref())
        .map_err(|e| CliError::rejected(&e))?;
    if let Some(root) = a.matrix_root.as_deref() {
        let root = hash32(root, "--matrix-root")?;
        otr_core::verify::require_matrix_root(&verified.proofs, &root)
            .map_err(|e| CliError::rejected(&e))?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&verified)
            .map_err(|e| CliError::usage("OUTPUT", e.to_string()))?
    );
    Ok(())
}

/// One GPU's report, certificate chain (DER) and the nonce it must carry.
type OneGpu = (Vec<u8>, Vec<Vec<u8>>, Option<[u8; 32]>);

fn gpu(a: GpuArgs) -> Result<(), CliError> {
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
    let verifier = a.trust.verifier();
    // (report, chain, nonce to require) for each GPU.
    let gpus: Vec<OneGpu> = match (&a.evidence_list, &a.report, &a.chain) {
        (Some(list), _, _) => otr_core::attestation::list::parse_evidence_list(&input::read(list)?)
            .map_err(|e| CliError::rejected(&e))?
            .into_iter()
            .map(|it| (it.report, it.chain, nonce.or(it.nonce)))
            .collect(),
        (None, Some(r), Some(c)) => vec![(input::report(r)?, input::chain(c)?, nonce)],
        _ => {
            return Err(CliError::usage(
                "INPUT_MISSING",
                "give --report and --chain, or --evidence-list",
            ))
        }
    };
    let mut claims = Vec::new();
    for (i, (report, chain, n)) in gpus.iter().enumerate() {
        let evidence = GpuEvidence {
            report,
            chain,
            rims: &rims,
            ocsp: &ocsp,
        };
        let verified = verify_gpu(
            &evidence,
            n.as_ref(),
            time,
            &policy,
            &anchors,
            verifier.as_ref(),
        )
        .map_err(|e| {
            let mut err = CliError::rejected(&e);
            if gpus.len() > 1 {
                err.message = format!("GPU {i}: {}", err.message);
            }
            err
        })?;
        claims.push(verified.claims);
    }
    let out = if a.evidence_list.is_some() {
        serde_json::to_string_pretty(&claims)
    } else {
        serde_json::to_string_pretty(&claims[0])
    }
    .map_err(|e| CliError::usage("OUTPUT", e.to_string()))?;
    println!("{out}");
    Ok(())
}

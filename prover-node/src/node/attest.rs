//! Attestation providers: who signs the micro-batch header hash.
//!
//! - `nvidia`: the GPU itself, through NVML loaded at run time (no link-time dependency): the
//!   GPU must be in confidential-computing mode; the report's nonce is our header hash and the
//!   chain is the GPU's attestation certificate chain.
//! - `dev`: a software provider with the same report and chain formats, signed by a locally
//!   generated P-384 hierarchy. NOT PRODUCTION: it proves nothing about hardware; verifiers reject
//!   it by default, and every surface labels it.

use std::path::Path;

use super::nvml::{Device, Nvml};
use super::store::StoredEvidence;
use crate::devattest::report::{build_report, ReportSpec};
use crate::devattest::DevGpu;

/// Produces GPU evidence for a 32-byte nonce.
pub trait Attestor: Send + Sync {
    fn attest(&self, nonce: [u8; 32]) -> Result<StoredEvidence, String>;
    /// `nvidia` or `dev`.
    fn kind(&self) -> &'static str;
    /// The root a verifier must trust for this provider's evidence, if it is not NVIDIA's.
    fn dev_root_pem(&self) -> Option<String>;
}

/// The dev provider: a dev GPU whose seed is generated on first start and kept in the data dir.
pub struct DevAttestor {
    gpu: DevGpu,
    seed: Vec<u8>,
}

impl DevAttestor {
    pub fn load_or_create(data_dir: &Path) -> Result<Self, String> {
        let path = data_dir.join("dev-gpu-seed");
        let seed = match std::fs::read(&path) {
            Ok(s) => s,
            Err(_) => {
                let mut s = [0u8; 32];
                getrandom::getrandom(&mut s).map_err(|e| e.to_string())?;
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| format!("{}: {e}", data_dir.display()))?;
                std::fs::write(&path, hex::encode(s))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                hex::encode(s).into_bytes()
            }
        };
        Ok(DevAttestor {
            gpu: DevGpu::generate(&seed),
            seed,
        })
    }
}

impl Attestor for DevAttestor {
    fn attest(&self, nonce: [u8; 32]) -> Result<StoredEvidence, String> {
        let report = build_report(
            &ReportSpec::new(&self.seed, nonce, self.gpu.fwid),
            self.gpu.attestation_key(),
        );
        Ok(StoredEvidence {
            report,
            chain_pem: self.gpu.chain_pem(),
            rims: vec![],
            ocsp: vec![],
            dev: true,
        })
    }
    fn kind(&self) -> &'static str {
        "dev"
    }
    fn dev_root_pem(&self) -> Option<String> {
        Some(self.gpu.root_pem())
    }
}

/// The NVIDIA provider: one GPU through NVML ([`super::nvml`]).
pub struct NvidiaAttestor {
    nvml: Nvml,
    device: Device,
    /// Reference manifests and OCSP answers to staple (files given by the operator).
    collateral: (Vec<String>, Vec<Vec<u8>>),
}

impl NvidiaAttestor {
    /// Loads NVML and checks that the system is in production confidential-computing mode.
    pub fn open(index: u32, rims: Vec<String>, ocsp: Vec<Vec<u8>>) -> Result<Self, String> {
        let nvml = Nvml::load()?;
        let state = nvml.cc_state().map_err(|e| {
            format!("cannot read the confidential-computing state: {e}; use --attestation dev on a GPU without CC")
        })?;
        if !state.feature_enabled {
            return Err("the GPU is not in confidential-computing mode (CC feature off); enable CC mode, or use --attestation dev".into());
        }
        if state.dev_tools_mode {
            return Err(
                "the GPU is in CC dev-tools mode, which is not a production attestation".into(),
            );
        }
        let device = nvml.device(index).map_err(|e| e.to_string())?;
        Ok(NvidiaAttestor {
            nvml,
            device,
            collateral: (rims, ocsp),
        })
    }
}

impl Attestor for NvidiaAttestor {
    fn attest(&self, nonce: [u8; 32]) -> Result<StoredEvidence, String> {
        let report = self
            .nvml
            .attestation_report(self.device, nonce)
            .map_err(|e| e.to_string())?;
        let chain_pem = self
            .nvml
            .attestation_chain(self.device)
            .map_err(|e| e.to_string())?;
        Ok(StoredEvidence {
            report,
            chain_pem,
            rims: self.collateral.0.clone(),
            ocsp: self.collateral.1.clone(),
            dev: false,
        })
    }
    fn kind(&self) -> &'static str {
        "nvidia"
    }
    fn dev_root_pem(&self) -> Option<String> {
        None
    }
}

//! Attestation providers: who signs the micro-batch header hash.
//!
//! - `nvidia`: the GPU itself, through NVML loaded at run time (no link-time dependency): the
//!   GPU must be in confidential-computing mode; the report's nonce is our header hash and the
//!   chain is the GPU's attestation certificate chain.
//! - `dev`: a software provider with the same report and chain formats, signed by a locally
//!   generated P-384 hierarchy. NOT PRODUCTION: it proves nothing about hardware; verifiers reject
//!   it by default, and every surface labels it.

use std::path::Path;

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

/// NVML structures (nvml.h, driver 535+).
#[repr(C)]
struct CcSystemState {
    environment: u32,
    cc_feature: u32,
    dev_tools_mode: u32,
}

#[repr(C)]
struct GpuCertificate {
    cert_chain_size: u32,
    attestation_cert_chain_size: u32,
    cert_chain: [u8; 0x1000],
    attestation_cert_chain: [u8; 0x1400],
}

#[repr(C)]
struct GpuAttestationReport {
    is_cec_attestation_report_present: u32,
    attestation_report_size: u32,
    cec_attestation_report_size: u32,
    nonce: [u8; 32],
    attestation_report: [u8; 0x2000],
    cec_attestation_report: [u8; 0x1000],
}

type NvmlDevice = *mut std::ffi::c_void;

/// The NVIDIA provider: GPU 0 through NVML.
pub struct NvidiaAttestor {
    lib: libloading::Library,
    device: usize,
    /// Reference manifests and OCSP answers to staple (files given by the operator).
    collateral: (Vec<String>, Vec<Vec<u8>>),
}

// SAFETY: NVML is thread-safe (documented), and we only hold the library and a device handle.
unsafe impl Send for NvidiaAttestor {}
unsafe impl Sync for NvidiaAttestor {}

fn nvml_check(what: &str, rc: i32) -> Result<(), String> {
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("NVML {what} failed with error {rc}"))
    }
}

impl NvidiaAttestor {
    /// Loads NVML and checks that GPU `index` is in confidential-computing mode.
    pub fn open(index: u32, rims: Vec<String>, ocsp: Vec<Vec<u8>>) -> Result<Self, String> {
        // SAFETY: loading the system NVML library; its initialisers are NVIDIA's.
        let lib = unsafe { libloading::Library::new("libnvidia-ml.so.1") }.map_err(|e| {
            format!("no NVIDIA driver here (libnvidia-ml.so.1: {e}); run on an H100 in CC mode, or use --attestation dev")
        })?;
        unsafe {
            let init: libloading::Symbol<unsafe extern "C" fn() -> i32> =
                lib.get(b"nvmlInit_v2").map_err(|e| format!("NVML: {e}"))?;
            nvml_check("init", init())?;
            let get_state: libloading::Symbol<unsafe extern "C" fn(*mut CcSystemState) -> i32> = lib
                .get(b"nvmlSystemGetConfComputeState")
                .map_err(|e| format!("this driver has no confidential-computing API ({e}); driver 535 or later is needed"))?;
            let mut st = CcSystemState {
                environment: 0,
                cc_feature: 0,
                dev_tools_mode: 0,
            };
            nvml_check("nvmlSystemGetConfComputeState", get_state(&mut st))?;
            if st.cc_feature != 1 {
                return Err("the GPU is not in confidential-computing mode (CC feature off); enable CC mode, or use --attestation dev".into());
            }
            if st.dev_tools_mode != 0 {
                return Err(
                    "the GPU is in CC dev-tools mode, which is not a production attestation".into(),
                );
            }
            let by_index: libloading::Symbol<unsafe extern "C" fn(u32, *mut NvmlDevice) -> i32> =
                lib.get(b"nvmlDeviceGetHandleByIndex_v2")
                    .map_err(|e| format!("NVML: {e}"))?;
            let mut dev: NvmlDevice = std::ptr::null_mut();
            nvml_check("nvmlDeviceGetHandleByIndex", by_index(index, &mut dev))?;
            Ok(NvidiaAttestor {
                lib,
                device: dev as usize,
                collateral: (rims, ocsp),
            })
        }
    }
}

impl Attestor for NvidiaAttestor {
    fn attest(&self, nonce: [u8; 32]) -> Result<StoredEvidence, String> {
        unsafe {
            let dev = self.device as NvmlDevice;
            let get_report: libloading::Symbol<
                unsafe extern "C" fn(NvmlDevice, *mut GpuAttestationReport) -> i32,
            > = self
                .lib
                .get(b"nvmlDeviceGetConfComputeGpuAttestationReport")
                .map_err(|e| format!("NVML: {e}"))?;
            let mut rep: Box<GpuAttestationReport> = Box::new(std::mem::zeroed());
            rep.nonce = nonce;
            nvml_check(
                "nvmlDeviceGetConfComputeGpuAttestationReport",
                get_report(dev, &mut *rep),
            )?;
            let n = (rep.attestation_report_size as usize).min(rep.attestation_report.len());
            let get_cert: libloading::Symbol<
                unsafe extern "C" fn(NvmlDevice, *mut GpuCertificate) -> i32,
            > = self
                .lib
                .get(b"nvmlDeviceGetConfComputeGpuCertificate")
                .map_err(|e| format!("NVML: {e}"))?;
            let mut cert: Box<GpuCertificate> = Box::new(std::mem::zeroed());
            nvml_check(
                "nvmlDeviceGetConfComputeGpuCertificate",
                get_cert(dev, &mut *cert),
            )?;
            let m =
                (cert.attestation_cert_chain_size as usize).min(cert.attestation_cert_chain.len());
            let chain_pem = String::from_utf8_lossy(&cert.attestation_cert_chain[..m])
                .trim_end_matches('\0')
                .to_string();
            Ok(StoredEvidence {
                report: rep.attestation_report[..n].to_vec(),
                chain_pem,
                rims: self.collateral.0.clone(),
                ocsp: self.collateral.1.clone(),
                dev: false,
            })
        }
    }
    fn kind(&self) -> &'static str {
        "nvidia"
    }
    fn dev_root_pem(&self) -> Option<String> {
        None
    }
}

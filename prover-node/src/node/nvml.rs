//! NVML, the NVIDIA driver's management library, loaded at run time (`libnvidia-ml.so.1`; no
//! link-time dependency, so the node builds and runs on machines without a driver).
//!
//! Only the calls the `nvidia` attestation provider and `otr gpu probe` need. Every call returns
//! a typed [`NvmlError`] carrying NVML's own name for the failure (`nvmlErrorString`); a symbol
//! that the installed driver lacks is reported as such, never a crash.

use std::ffi::{c_char, c_uint, c_void, CStr};
use std::fmt;

/// The library file the driver installs.
pub const LIBRARY: &str = "libnvidia-ml.so.1";

/// NVML_ERROR_FUNCTION_NOT_FOUND: what we report when the driver lacks a symbol.
const FUNCTION_NOT_FOUND: i32 = 13;

/// One failed NVML call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NvmlError {
    /// The NVML function that failed.
    pub call: &'static str,
    /// NVML's return code (`nvmlReturn_t`).
    pub code: i32,
    /// NVML's text for it (`nvmlErrorString`), e.g. "Not Supported".
    pub reason: String,
}

impl fmt::Display for NvmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {} (NVML error {})",
            self.call, self.reason, self.code
        )
    }
}

/// nvmlConfComputeSystemState_t.
#[repr(C)]
#[derive(Default)]
struct RawCcState {
    environment: c_uint,
    cc_feature: c_uint,
    dev_tools_mode: c_uint,
}

/// nvmlConfComputeSystemCaps_t.
#[repr(C)]
#[derive(Default)]
struct RawCcCaps {
    cpu_caps: c_uint,
    gpus_caps: c_uint,
}

/// nvmlConfComputeGpuCertificate_t.
#[repr(C)]
struct RawGpuCertificate {
    cert_chain_size: c_uint,
    attestation_cert_chain_size: c_uint,
    cert_chain: [u8; 0x1000],
    attestation_cert_chain: [u8; 0x1400],
}

/// nvmlConfComputeGpuAttestationReport_t.
#[repr(C)]
struct RawAttestationReport {
    is_cec_attestation_report_present: c_uint,
    attestation_report_size: c_uint,
    cec_attestation_report_size: c_uint,
    nonce: [u8; 32],
    attestation_report: [u8; 0x2000],
    cec_attestation_report: [u8; 0x1000],
}

/// The system's confidential-computing state (`nvmlSystemGetConfComputeState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CcState {
    /// `unavailable`, `simulated` or `production` (NVML_CC_SYSTEM_ENVIRONMENT_*).
    pub environment: &'static str,
    /// Whether the CC feature is on.
    pub feature_enabled: bool,
    /// Whether CC runs in dev-tools mode (no production attestation).
    pub dev_tools_mode: bool,
}

/// What the system can do (`nvmlSystemGetConfComputeCapabilities`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CcCapabilities {
    /// The CPU's confidential-VM technology: `none`, `amd-sev`, `intel-tdx`, `amd-sev-snp`,
    /// `amd-snp-vtom` or `unknown(N)`.
    pub cpu: String,
    /// Whether the GPUs are CC-capable.
    pub gpus_capable: bool,
}

/// A GPU handle (`nvmlDevice_t`).
#[derive(Debug, Clone, Copy)]
pub struct Device(usize);

/// An initialised NVML. `nvmlShutdown` runs on drop.
pub struct Nvml {
    lib: libloading::Library,
}

// SAFETY: NVML is documented thread-safe; we hold only the library.
unsafe impl Send for Nvml {}
unsafe impl Sync for Nvml {}

impl Nvml {
    /// Loads the driver's library and initialises NVML.
    pub fn load() -> Result<Self, String> {
        // SAFETY: loading the system NVML library; its initialisers are NVIDIA's.
        let lib = unsafe { libloading::Library::new(LIBRARY) }.map_err(|e| {
            format!("no NVIDIA driver here ({LIBRARY}: {e}); run on an H100 in CC mode, or use --attestation dev")
        })?;
        let nvml = Nvml { lib };
        // The library is dropped without nvmlShutdown if init fails: Drop would call shutdown.
        let rc = {
            let init = nvml
                .sym::<unsafe extern "C" fn() -> i32>("nvmlInit_v2")
                .map_err(|e| e.to_string())?;
            // SAFETY: nvmlInit_v2 takes no arguments.
            unsafe { init() }
        };
        if rc != 0 {
            let e = nvml.error("nvmlInit_v2", rc);
            std::mem::forget(nvml);
            return Err(e.to_string());
        }
        Ok(nvml)
    }

    fn sym<T>(&self, name: &'static str) -> Result<libloading::Symbol<'_, T>, NvmlError> {
        let mut z = name.as_bytes().to_vec();
        z.push(0);
        // SAFETY: every call site names the C signature NVML documents for `name`.
        unsafe { self.lib.get::<T>(&z) }.map_err(|_| NvmlError {
            call: name,
            code: FUNCTION_NOT_FOUND,
            reason: "this driver's NVML has no such function (driver 535 or later is needed)"
                .into(),
        })
    }

    fn error(&self, call: &'static str, code: i32) -> NvmlError {
        let reason = self
            .sym::<unsafe extern "C" fn(i32) -> *const c_char>("nvmlErrorString")
            .ok()
            .map(|f| {
                // SAFETY: nvmlErrorString returns a static NUL-terminated string (or null).
                let p = unsafe { f(code) };
                if p.is_null() {
                    String::new()
                } else {
                    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                }
            })
            .unwrap_or_default();
        NvmlError {
            call,
            code,
            reason: if reason.is_empty() {
                "unknown".into()
            } else {
                reason
            },
        }
    }

    fn check(&self, call: &'static str, code: i32) -> Result<(), NvmlError> {
        if code == 0 {
            Ok(())
        } else {
            Err(self.error(call, code))
        }
    }

    /// A string-returning call `f(buf, len)`.
    fn text(
        &self,
        call: &'static str,
        f: impl FnOnce(*mut c_char, c_uint) -> i32,
    ) -> Result<String, NvmlError> {
        let mut buf = [0 as c_char; 256];
        self.check(call, f(buf.as_mut_ptr(), buf.len() as c_uint))?;
        buf[255] = 0;
        // SAFETY: NUL-terminated within the buffer (forced above).
        Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }

    /// The driver's version, e.g. "580.159.04".
    pub fn driver_version(&self) -> Result<String, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_char, c_uint) -> i32>(
            "nvmlSystemGetDriverVersion",
        )?;
        // SAFETY: buffer and its length.
        self.text("nvmlSystemGetDriverVersion", |b, n| unsafe { f(b, n) })
    }

    /// NVML's own version.
    pub fn nvml_version(&self) -> Result<String, NvmlError> {
        let f = self
            .sym::<unsafe extern "C" fn(*mut c_char, c_uint) -> i32>("nvmlSystemGetNVMLVersion")?;
        // SAFETY: buffer and its length.
        self.text("nvmlSystemGetNVMLVersion", |b, n| unsafe { f(b, n) })
    }

    /// How many GPUs the driver sees.
    pub fn device_count(&self) -> Result<u32, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_uint) -> i32>("nvmlDeviceGetCount_v2")?;
        let mut n: c_uint = 0;
        // SAFETY: out-parameter.
        self.check("nvmlDeviceGetCount_v2", unsafe { f(&mut n) })?;
        Ok(n)
    }

    /// GPU `index`.
    pub fn device(&self, index: u32) -> Result<Device, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(c_uint, *mut *mut c_void) -> i32>(
            "nvmlDeviceGetHandleByIndex_v2",
        )?;
        let mut d: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-parameter.
        self.check("nvmlDeviceGetHandleByIndex_v2", unsafe { f(index, &mut d) })?;
        Ok(Device(d as usize))
    }

    /// The GPU's product name.
    pub fn name(&self, dev: Device) -> Result<String, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_void, *mut c_char, c_uint) -> i32>(
            "nvmlDeviceGetName",
        )?;
        // SAFETY: a handle from nvmlDeviceGetHandleByIndex_v2, buffer and its length.
        self.text("nvmlDeviceGetName", |b, n| unsafe {
            f(dev.0 as *mut c_void, b, n)
        })
    }

    /// The GPU's UUID ("GPU-...").
    pub fn uuid(&self, dev: Device) -> Result<String, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_void, *mut c_char, c_uint) -> i32>(
            "nvmlDeviceGetUUID",
        )?;
        // SAFETY: as in `name`.
        self.text("nvmlDeviceGetUUID", |b, n| unsafe {
            f(dev.0 as *mut c_void, b, n)
        })
    }

    /// The system's confidential-computing state.
    pub fn cc_state(&self) -> Result<CcState, NvmlError> {
        let f = self
            .sym::<unsafe extern "C" fn(*mut RawCcState) -> i32>("nvmlSystemGetConfComputeState")?;
        let mut s = RawCcState::default();
        // SAFETY: out-parameter of the documented layout.
        self.check("nvmlSystemGetConfComputeState", unsafe { f(&mut s) })?;
        Ok(CcState {
            environment: match s.environment {
                0 => "unavailable",
                1 => "simulated",
                2 => "production",
                _ => "unknown",
            },
            feature_enabled: s.cc_feature == 1,
            dev_tools_mode: s.dev_tools_mode != 0,
        })
    }

    /// The system's confidential-computing capabilities.
    pub fn cc_capabilities(&self) -> Result<CcCapabilities, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut RawCcCaps) -> i32>(
            "nvmlSystemGetConfComputeCapabilities",
        )?;
        let mut c = RawCcCaps::default();
        // SAFETY: out-parameter of the documented layout.
        self.check("nvmlSystemGetConfComputeCapabilities", unsafe { f(&mut c) })?;
        Ok(CcCapabilities {
            cpu: match c.cpu_caps {
                0 => "none".into(),
                1 => "amd-sev".into(),
                2 => "intel-tdx".into(),
                3 => "amd-sev-snp".into(),
                4 => "amd-snp-vtom".into(),
                n => format!("unknown({n})"),
            },
            gpus_capable: c.gpus_caps == 1,
        })
    }

    /// Whether the GPUs accept work in CC mode (`nvmlSystemGetConfComputeGpusReadyState`).
    pub fn cc_gpus_ready(&self) -> Result<bool, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_uint) -> i32>(
            "nvmlSystemGetConfComputeGpusReadyState",
        )?;
        let mut r: c_uint = 0;
        // SAFETY: out-parameter.
        self.check("nvmlSystemGetConfComputeGpusReadyState", unsafe {
            f(&mut r)
        })?;
        Ok(r == 1)
    }

    /// The GPU's SPDM attestation report over `nonce` (`nvmlDeviceGetConfComputeGpuAttestationReport`).
    pub fn attestation_report(&self, dev: Device, nonce: [u8; 32]) -> Result<Vec<u8>, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_void, *mut RawAttestationReport) -> i32>(
            "nvmlDeviceGetConfComputeGpuAttestationReport",
        )?;
        // SAFETY: an all-zero report struct is valid (integers and byte arrays).
        let mut rep: Box<RawAttestationReport> = Box::new(unsafe { std::mem::zeroed() });
        rep.nonce = nonce;
        // SAFETY: a device handle and a struct of the documented layout.
        self.check("nvmlDeviceGetConfComputeGpuAttestationReport", unsafe {
            f(dev.0 as *mut c_void, &mut *rep)
        })?;
        let n = (rep.attestation_report_size as usize).min(rep.attestation_report.len());
        Ok(rep.attestation_report[..n].to_vec())
    }

    /// The GPU's attestation certificate chain, PEM, leaf first
    /// (`nvmlDeviceGetConfComputeGpuCertificate`).
    pub fn attestation_chain(&self, dev: Device) -> Result<String, NvmlError> {
        let f = self.sym::<unsafe extern "C" fn(*mut c_void, *mut RawGpuCertificate) -> i32>(
            "nvmlDeviceGetConfComputeGpuCertificate",
        )?;
        // SAFETY: as in `attestation_report`.
        let mut cert: Box<RawGpuCertificate> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: a device handle and a struct of the documented layout.
        self.check("nvmlDeviceGetConfComputeGpuCertificate", unsafe {
            f(dev.0 as *mut c_void, &mut *cert)
        })?;
        let m = (cert.attestation_cert_chain_size as usize).min(cert.attestation_cert_chain.len());
        Ok(String::from_utf8_lossy(&cert.attestation_cert_chain[..m])
            .trim_end_matches('\0')
            .to_string())
    }
}

impl Drop for Nvml {
    fn drop(&mut self) {
        if let Ok(f) = self.sym::<unsafe extern "C" fn() -> i32>("nvmlShutdown") {
            // SAFETY: balanced with the successful nvmlInit_v2 of `load`.
            unsafe {
                f();
            }
        }
    }
}

//! NVIDIA GPU evidence: SPDM reports, device certificate chains, and the checks that bind them.
//!
//! Entry points: [`evidence::verify_device_evidence`] (report + chain + nonce) and, once
//! reference manifests and OCSP answers are stapled, [`gpu::verify_gpu`] (everything).

pub mod evidence;
pub mod fwid;
pub mod gpu;
pub mod list;
pub mod opaque;
pub mod policy;
pub mod roots;
pub mod spdm;

pub use evidence::{verify_device_evidence, DeviceClaims, EvidenceError};
pub use policy::{Policy, TrailingBytes, TrustAnchors};
pub use spdm::SpdmReport;

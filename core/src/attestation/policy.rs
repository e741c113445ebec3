//! Verification policy and trust anchors: inputs, never globals. Defaults are strict.

use alloc::string::String;
use alloc::vec::Vec;

use crate::x509::Certificate;

/// What to do with bytes after the report signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrailingBytes {
    /// Reject (NVIDIA's own parsers do).
    #[default]
    Reject,
    /// Ignore them (the signature is located by parsing, as some verifiers do).
    Allow,
}

/// How stapled OCSP answers are checked against time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcspFreshnessPolicy {
    /// `thisUpdate - skew <= time <= nextUpdate + skew`.
    #[default]
    Strict,
    /// The answer must have been valid when produced; the responder certificate is checked at
    /// `producedAt`. For verifying historic evidence with the answers stapled to it.
    AtProducedAt,
    /// NVIDIA's Python verifier: responder chain checked at `time`, no freshness check.
    Ignore,
}

/// The verifier's policy. `Policy::default()` is the strict production policy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Accepted driver versions (empty: any).
    pub accepted_driver_versions: Vec<String>,
    /// Accepted VBIOS versions in NVIDIA's notation, e.g. `96.00.9F.00.01` (empty: any).
    pub accepted_vbios_versions: Vec<String>,
    /// Require both reference manifests and a full golden-measurement match.
    pub require_rims: bool,
    /// Require a GOOD OCSP answer for every CA certificate of the device chain (BROM, ICA, Identity)
    /// and of each RIM signer chain.
    pub require_ocsp: bool,
    /// How OCSP answers are checked against time.
    pub ocsp_freshness: OcspFreshnessPolicy,
    /// Seconds of clock skew allowed around OCSP thisUpdate/nextUpdate.
    pub ocsp_skew_secs: u32,
    /// Accept OCSP `certificateHold` as not revoked.
    pub allow_ocsp_hold: bool,
    /// Bytes after the signature.
    pub trailing_bytes: TrailingBytes,
    /// Require the report to carry an FWID (older firmware has none; NVIDIA skips the check then).
    pub require_fwid: bool,
    /// Accept evidence chained to a development root (never in production).
    pub allow_dev_roots: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            accepted_driver_versions: Vec::new(),
            accepted_vbios_versions: Vec::new(),
            require_rims: true,
            require_ocsp: true,
            ocsp_freshness: OcspFreshnessPolicy::Strict,
            ocsp_skew_secs: 300,
            allow_ocsp_hold: false,
            trailing_bytes: TrailingBytes::Reject,
            require_fwid: false,
            allow_dev_roots: false,
        }
    }
}

impl Policy {
    /// Device evidence only: no manifests, no OCSP (for checks where only the signature, chain
    /// and nonce matter, such as provisional finality on a node that staples collateral later).
    pub fn device_only() -> Self {
        Policy {
            require_rims: false,
            require_ocsp: false,
            ..Policy::default()
        }
    }
}

/// A trust anchor and whether it is a development (non-production) root.
#[derive(Clone, Debug)]
pub struct Anchor {
    pub cert: Certificate,
    pub dev: bool,
}

impl AsRef<Certificate> for Anchor {
    fn as_ref(&self) -> &Certificate {
        &self.cert
    }
}

/// The roots a verification trusts.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    /// Roots for GPU device identity chains.
    pub device: Vec<Anchor>,
    /// Roots for reference-manifest signer chains.
    pub rim: Vec<Anchor>,
}

impl TrustAnchors {
    /// NVIDIA's two published roots.
    pub fn nvidia() -> Self {
        let dev = |pem: &str| {
            let der = crate::encoding::pem_certificates(pem.as_bytes())
                .ok()
                .and_then(|mut v| v.pop());
            der.and_then(|d| Certificate::from_der(&d).ok())
                .map(|cert| Anchor { cert, dev: false })
        };
        TrustAnchors {
            device: dev(super::roots::NVIDIA_DEVICE_ROOT_PEM)
                .into_iter()
                .collect(),
            rim: dev(super::roots::NVIDIA_RIM_ROOT_PEM).into_iter().collect(),
        }
    }

    /// Adds a development root for both device and manifest chains.
    pub fn with_dev_root(mut self, cert: Certificate) -> Self {
        self.device.push(Anchor {
            cert: cert.clone(),
            dev: true,
        });
        self.rim.push(Anchor { cert, dev: true });
        self
    }
}

//! Device evidence: report signature, device chain to the pinned root, FWID and nonce binding.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::fwid::leaf_fwid;
use super::policy::{Policy, TrailingBytes, TrustAnchors};
use super::spdm::{SpdmError, SpdmReport};
use crate::crypto::{HashAlg, SigFailure, SignatureVerifier};
use crate::error::{ErrorCode, GotExpected, Stage};
use crate::time::UnixTime;
use crate::x509::{parse_chain, verify_chain, ChainError, ChainOptions, VerifiedChain};

/// NVIDIA GPU device chains have exactly five certificates (leaf .. root).
pub const DEVICE_CHAIN_LEN: usize = 5;

/// What verified device evidence proves.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceClaims {
    pub arch: &'static str,
    /// The request nonce (hex). In OTR it is a micro-batch header hash.
    pub nonce: String,
    /// Whether the nonce was compared with a caller-given value.
    pub nonce_verified: bool,
    pub driver_version: Option<String>,
    pub vbios_version: Option<String>,
    /// Subject CN of the second certificate (`GH100 A01 GSP BROM`).
    pub hwmodel: Option<String>,
    /// The leaf certificate's serial number, decimal (NVIDIA's `ueid`).
    pub ueid: String,
    pub fwid: Option<String>,
    /// Whether an FWID in the report matched the leaf certificate.
    pub fwid_verified: bool,
    pub project: Option<String>,
    pub project_sku: Option<String>,
    pub chip_sku: Option<String>,
    pub board_id: Option<u32>,
    pub nvdec0_status: Option<u8>,
    pub protected_pcie_status: Option<u8>,
    pub feature_flag: Option<u16>,
    /// Earliest expiry across the device chain.
    pub chain_expires: UnixTime,
    /// SHA-256 fingerprints of the device chain as validated (leaf first, anchor last).
    pub chain_fingerprints: Vec<String>,
    /// True when the chain ends at a development root: not production evidence.
    pub dev_root: bool,
    /// Every measurement block.
    pub measurements: Vec<MeasurementClaim>,
    /// Every opaque record by NVIDIA name, decoded where known.
    pub opaque: alloc::collections::BTreeMap<String, String>,
}

/// One measurement block of the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MeasurementClaim {
    /// 1-based SPDM block index (RIM index + 1).
    pub index: u8,
    /// Hex value (a SHA-384 digest on Hopper).
    pub value: String,
}

/// Device evidence that passed [`verify_device_evidence`]; only this module can build it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedDevice {
    pub report: SpdmReport,
    pub chain: VerifiedChain,
    pub claims: DeviceClaims,
}

/// Verifies one GPU's report against its certificate chain.
///
/// Order: parse the report far enough to locate its signature; validate the chain to a pinned
/// root at `time`; verify the report signature with the leaf key; only then compare the FWID,
/// the nonce and the versions the signed report states.
pub fn verify_device_evidence(
    report: &[u8],
    chain_der: &[Vec<u8>],
    expected_nonce: Option<&[u8; 32]>,
    time: UnixTime,
    policy: &Policy,
    anchors: &TrustAnchors,
    v: &dyn SignatureVerifier,
) -> Result<VerifiedDevice, EvidenceError> {
    let parsed = SpdmReport::parse(report)?;
    if parsed.trailing > 0 && policy.trailing_bytes == TrailingBytes::Reject {
        return Err(SpdmError::TrailingBytes {
            offset: report.len() - parsed.trailing,
            count: parsed.trailing,
        }
        .into());
    }
    let certs = parse_chain(chain_der)?;
    let opts = ChainOptions {
        expected_len: Some(DEVICE_CHAIN_LEN),
        leaf_digital_signature: true,
        ..Default::default()
    };
    let chain = verify_chain(&certs, &anchors.device, time, v, &opts)?;
    let dev_root = anchors.device[chain.anchor_index].dev;
    if dev_root && !policy.allow_dev_roots {
        return Err(PolicyError::DevRoot.into());
    }
    let leaf = chain.leaf();
    let key = leaf
        .public_key_p384()
        .ok_or(ChainError::UnsupportedAlgorithm { index: 0 })?;
    v.verify_p384(
        HashAlg::Sha384,
        key,
        &report[..parsed.signed_len],
        &parsed.response.signature,
    )
    .map_err(|e| match e {
        SigFailure::BadKey => EvidenceError::Report(ReportError::BadLeafKey),
        _ => EvidenceError::Report(ReportError::SignatureInvalid),
    })?;

    let opaque = &parsed.response.opaque;
    let fwid_verified = match (opaque.fwid(), leaf_fwid(leaf)) {
        (Some(got), Some(expected)) if got == expected => true,
        (Some(got), expected) => {
            return Err(ReportError::FwidMismatch(GotExpected {
                got: hex::encode(got),
                expected: expected
                    .map(hex::encode)
                    .unwrap_or_else(|| "no FWID extension in the leaf".into()),
            })
            .into())
        }
        (None, _) if policy.require_fwid => return Err(ReportError::FwidMissing.into()),
        (None, _) => false,
    };
    if let Some(n) = expected_nonce {
        if &parsed.request.nonce != n {
            return Err(ReportError::NonceMismatch(GotExpected {
                got: hex::encode(parsed.request.nonce),
                expected: hex::encode(n),
            })
            .into());
        }
    }
    let driver_version = opaque.driver_version();
    let vbios_version = opaque.vbios_version();
    check_version(
        &policy.accepted_driver_versions,
        driver_version.as_deref(),
        PolicyError::DriverVersion,
    )?;
    check_version(
        &policy.accepted_vbios_versions,
        vbios_version.as_deref(),
        PolicyError::VbiosVersion,
    )?;

    let claims = DeviceClaims {
        arch: "HOPPER",
        nonce: hex::encode(parsed.request.nonce),
        nonce_verified: expected_nonce.is_some(),
        driver_version,
        vbios_version,
        hwmodel: chain
            .certs
            .get(1)
            .and_then(|c| c.subject_cn())
            .map(String::from),
        ueid: leaf.serial_decimal(),
        fwid: opaque.fwid().map(hex::encode),
        fwid_verified,
        project: opaque.project(),
        project_sku: opaque.project_sku(),
        chip_sku: opaque.chip_sku(),
        board_id: opaque.board_id(),
        nvdec0_status: opaque.nvdec0_status(),
        protected_pcie_status: opaque.protected_pcie_status(),
        feature_flag: opaque.feature_flag(),
        chain_expires: chain.expires,
        chain_fingerprints: chain
            .certs
            .iter()
            .map(|c| hex::encode(c.fingerprint()))
            .collect(),
        dev_root,
        measurements: parsed
            .response
            .blocks
            .iter()
            .map(|b| MeasurementClaim {
                index: b.index,
                value: hex::encode(&b.value),
            })
            .collect(),
        opaque: opaque.describe().into_iter().collect(),
    };
    Ok(VerifiedDevice {
        report: parsed,
        chain,
        claims,
    })
}

fn check_version(
    accepted: &[String],
    got: Option<&str>,
    err: fn(GotExpected<String>) -> PolicyError,
) -> Result<(), EvidenceError> {
    if accepted.is_empty() {
        return Ok(());
    }
    match got {
        Some(g) if accepted.iter().any(|a| a.eq_ignore_ascii_case(g)) => Ok(()),
        g => Err(err(GotExpected {
            got: g.unwrap_or("none").into(),
            expected: accepted.join(" | "),
        })
        .into()),
    }
}

/// A signed-report check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportError {
    BadLeafKey,
    SignatureInvalid,
    FwidMismatch(GotExpected<String>),
    FwidMissing,
    NonceMismatch(GotExpected<String>),
}

impl ErrorCode for ReportError {
    fn code(&self) -> &'static str {
        match self {
            ReportError::BadLeafKey => "REPORT_BAD_LEAF_KEY",
            ReportError::SignatureInvalid => "REPORT_SIGNATURE_INVALID",
            ReportError::FwidMismatch(_) => "REPORT_FWID_MISMATCH",
            ReportError::FwidMissing => "REPORT_FWID_MISSING",
            ReportError::NonceMismatch(_) => "REPORT_NONCE_MISMATCH",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Report
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::BadLeafKey => {
                write!(f, "the leaf certificate's key is not a valid P-384 point")
            }
            ReportError::SignatureInvalid => {
                write!(
                    f,
                    "the report signature does not verify with the leaf certificate's key"
                )
            }
            ReportError::FwidMismatch(ge) => {
                write!(f, "report FWID differs from the leaf certificate: {ge}")
            }
            ReportError::FwidMissing => {
                write!(f, "the report carries no FWID and the policy requires one")
            }
            ReportError::NonceMismatch(ge) => {
                write!(f, "report nonce differs from the expected nonce: {ge}")
            }
        }
    }
}

/// The evidence is genuine but the policy refuses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    DevRoot,
    DriverVersion(GotExpected<String>),
    VbiosVersion(GotExpected<String>),
    MissingRims,
    MissingOcsp { chain: &'static str, index: usize },
}

impl ErrorCode for PolicyError {
    fn code(&self) -> &'static str {
        match self {
            PolicyError::DevRoot => "POLICY_DEV_ROOT",
            PolicyError::DriverVersion(_) => "POLICY_DRIVER_VERSION",
            PolicyError::VbiosVersion(_) => "POLICY_VBIOS_VERSION",
            PolicyError::MissingRims => "POLICY_MISSING_RIMS",
            PolicyError::MissingOcsp { .. } => "POLICY_MISSING_OCSP",
        }
    }
    fn stage(&self) -> Stage {
        Stage::Policy
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::DevRoot => write!(
                f,
                "the evidence chains to a development root (dev attestation mode, not production); the policy does not allow dev roots"
            ),
            PolicyError::DriverVersion(ge) => write!(f, "driver version not accepted: {ge}"),
            PolicyError::VbiosVersion(ge) => write!(f, "VBIOS version not accepted: {ge}"),
            PolicyError::MissingRims => write!(
                f,
                "the policy requires the driver and VBIOS reference manifests, and they were not both given"
            ),
            PolicyError::MissingOcsp { chain, index } => {
                write!(f, "the policy requires an OCSP answer for certificate {index} of the {chain} chain; none was given")
            }
        }
    }
}

/// Any failure of device-evidence verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceError {
    Spdm(SpdmError),
    Chain(ChainError),
    Report(ReportError),
    Policy(PolicyError),
}

impl From<SpdmError> for EvidenceError {
    fn from(e: SpdmError) -> Self {
        EvidenceError::Spdm(e)
    }
}
impl From<ChainError> for EvidenceError {
    fn from(e: ChainError) -> Self {
        EvidenceError::Chain(e)
    }
}
impl From<ReportError> for EvidenceError {
    fn from(e: ReportError) -> Self {
        EvidenceError::Report(e)
    }
}
impl From<PolicyError> for EvidenceError {
    fn from(e: PolicyError) -> Self {
        EvidenceError::Policy(e)
    }
}

impl EvidenceError {
    fn inner(&self) -> &dyn ErrorCode {
        match self {
            EvidenceError::Spdm(e) => e,
            EvidenceError::Chain(e) => e,
            EvidenceError::Report(e) => e,
            EvidenceError::Policy(e) => e,
        }
    }
}

impl ErrorCode for EvidenceError {
    fn code(&self) -> &'static str {
        self.inner().code()
    }
    fn stage(&self) -> Stage {
        self.inner().stage()
    }
}

impl fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner(), f)
    }
}

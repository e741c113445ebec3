//! Full verification of one GPU: device evidence, stapled OCSP answers, both reference manifests
//! and the golden-measurement comparison. This is what "the GPU attestation passed" means in OTR.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::evidence::{
    verify_device_evidence, DeviceClaims, EvidenceError, PolicyError, VerifiedDevice,
};
use super::policy::{OcspFreshnessPolicy, Policy, TrustAnchors};
use crate::crypto::SignatureVerifier;
use crate::error::{ErrorCode, Stage};
use crate::ocsp::{decode_ocsp_input, verify_ocsp, Freshness, OcspError, OcspOptions, OcspVerdict};
use crate::rim::{
    check_driver_version, check_vbios_version, verify_measurements, MeasurementError,
    MeasurementResult, RimError, RimKind, SignedRim, VerifiedRim,
};
use crate::time::UnixTime;
use crate::x509::VerifiedChain;

/// Most OCSP answers accepted with one report (device chain 3 + two RIM chains of 3).
pub const MAX_OCSP_ANSWERS: usize = 16;
/// Most RIM documents accepted with one report.
pub const MAX_RIMS: usize = 4;

/// The evidence of one GPU, as bytes.
#[derive(Clone, Copy, Debug)]
pub struct GpuEvidence<'a> {
    /// Raw SPDM report.
    pub report: &'a [u8],
    /// DER certificates, leaf first.
    pub chain: &'a [Vec<u8>],
    /// RIM XML documents (driver and VBIOS, any order).
    pub rims: &'a [Vec<u8>],
    /// OCSP answers (DER or base64), any order; each is matched to the certificate it answers for.
    pub ocsp: &'a [Vec<u8>],
}

/// One OCSP answer that was checked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OcspClaim {
    /// `device`, `driver_rim` or `vbios_rim`.
    pub chain: &'static str,
    /// Index of the certificate in its chain (0 = leaf).
    pub index: usize,
    pub subject: String,
    pub verdict: OcspVerdict,
}

/// A reference manifest that verified.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RimClaim {
    pub kind: RimKind,
    pub tag_id: String,
    pub version: String,
    pub signer: String,
    pub digest: String,
    pub chain_expires: UnixTime,
    pub dev_root: bool,
}

/// The golden-measurement comparison.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MeasurementClaims {
    pub matched: usize,
    pub skipped: usize,
    pub golden: usize,
    pub results: Vec<MeasurementResult>,
}

/// Everything one GPU's evidence proved.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GpuClaims {
    /// False when any part chains to a development root: then this proves nothing about hardware.
    pub production: bool,
    pub time: UnixTime,
    pub device: DeviceClaims,
    pub rims: Vec<RimClaim>,
    pub measurements: Option<MeasurementClaims>,
    pub ocsp: Vec<OcspClaim>,
}

/// A GPU whose evidence passed [`verify_gpu`]; only this module builds it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedGpu {
    pub device: VerifiedDevice,
    pub claims: GpuClaims,
}

fn ocsp_options(policy: &Policy) -> OcspOptions {
    OcspOptions {
        freshness: match policy.ocsp_freshness {
            OcspFreshnessPolicy::Strict => Freshness::Strict {
                skew_secs: policy.ocsp_skew_secs,
            },
            OcspFreshnessPolicy::AtProducedAt => Freshness::AtProducedAt,
            OcspFreshnessPolicy::Ignore => Freshness::Ignore,
        },
        allow_hold: policy.allow_ocsp_hold,
        expected_nonce: None,
    }
}

/// Checks OCSP for `chain.certs[range]` (each against its issuer, the next certificate).
#[allow(clippy::too_many_arguments)]
fn check_ocsp(
    name: &'static str,
    chain: &VerifiedChain,
    range: core::ops::Range<usize>,
    answers: &[Vec<u8>],
    time: UnixTime,
    policy: &Policy,
    v: &dyn SignatureVerifier,
    out: &mut Vec<OcspClaim>,
) -> Result<(), GpuError> {
    let opts = ocsp_options(policy);
    for index in range {
        let (Some(cert), Some(issuer)) = (chain.certs.get(index), chain.certs.get(index + 1))
        else {
            continue;
        };
        let mut found = None;
        for a in answers {
            match verify_ocsp(a, cert, issuer, time, &opts, v) {
                Err(OcspError::NoMatchingResponse { .. }) => continue,
                Err(e) => {
                    return Err(GpuError::Ocsp {
                        chain: name,
                        index,
                        error: e,
                    })
                }
                Ok(verdict) => {
                    found = Some(verdict);
                    break;
                }
            }
        }
        match found {
            Some(verdict) => out.push(OcspClaim {
                chain: name,
                index,
                subject: cert.subject.clone(),
                verdict,
            }),
            None if policy.require_ocsp => {
                return Err(PolicyError::MissingOcsp { chain: name, index }.into())
            }
            None => {}
        }
    }
    Ok(())
}

/// VBIOS versions look like `96.00.9F.00.01`; driver versions like `550.90.07`.
fn rim_kind(version: &str) -> RimKind {
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() == 5
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        RimKind::Vbios
    } else {
        RimKind::Driver
    }
}

/// Verifies one GPU's evidence completely. Order: device evidence (report parse, chain,
/// signature, FWID, nonce, versions), device-chain OCSP, each RIM (digest, signature, signer
/// chain, version against the report, signer-chain OCSP), then the golden measurements.
pub fn verify_gpu(
    ev: &GpuEvidence<'_>,
    expected_nonce: Option<&[u8; 32]>,
    time: UnixTime,
    policy: &Policy,
    anchors: &TrustAnchors,
    v: &dyn SignatureVerifier,
) -> Result<VerifiedGpu, GpuError> {
    if ev.ocsp.len() > MAX_OCSP_ANSWERS {
        return Err(GpuError::TooMany {
            what: "OCSP answers",
            got: ev.ocsp.len(),
            max: MAX_OCSP_ANSWERS,
        });
    }
    if ev.rims.len() > MAX_RIMS {
        return Err(GpuError::TooMany {
            what: "reference manifests",
            got: ev.rims.len(),
            max: MAX_RIMS,
        });
    }
    // Certificates shared between chains (RIM intermediates) and checked both as chain links and
    // as OCSP responders are verified once per call.
    let dedup = crate::crypto::CachingVerifier::new(v, 64);
    let v: &dyn SignatureVerifier = &dedup;
    let device = verify_device_evidence(
        ev.report,
        ev.chain,
        expected_nonce,
        time,
        policy,
        anchors,
        v,
    )?;
    let answers = ev
        .ocsp
        .iter()
        .enumerate()
        .map(|(index, a)| {
            decode_ocsp_input(a).map_err(|error| GpuError::Ocsp {
                chain: "input",
                index,
                error,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ocsp = Vec::new();
    // Device chain: BROM, provisioner ICA and identity CA (the leaf and the root are not queried).
    let n = device.chain.certs.len();
    check_ocsp(
        "device",
        &device.chain,
        1..n.saturating_sub(1),
        &answers,
        time,
        policy,
        v,
        &mut ocsp,
    )?;

    let mut verified: Vec<(RimKind, VerifiedRim)> = Vec::new();
    let mut rim_claims = Vec::new();
    for xml in ev.rims {
        let signed = SignedRim::verify_signature(xml, v)?;
        let kind = rim_kind(&signed.rim().meta.colloquial_version);
        if verified.iter().any(|(k, _)| *k == kind) {
            return Err(GpuError::DuplicateRim { kind });
        }
        let rim = signed.verify_chain(&anchors.rim, time, v)?;
        let dev_root = anchors.rim[rim.chain().anchor_index].dev;
        if dev_root && !policy.allow_dev_roots {
            return Err(PolicyError::DevRoot.into());
        }
        match kind {
            RimKind::Driver => check_driver_version(rim.rim(), &device.report)?,
            RimKind::Vbios => check_vbios_version(rim.rim(), &device.report)?,
        }
        let name = match kind {
            RimKind::Driver => "driver_rim",
            RimKind::Vbios => "vbios_rim",
        };
        let m = rim.chain().certs.len();
        check_ocsp(
            name,
            rim.chain(),
            0..m.saturating_sub(1),
            &answers,
            time,
            policy,
            v,
            &mut ocsp,
        )?;
        rim_claims.push(RimClaim {
            kind,
            tag_id: rim.rim().tag_id.clone(),
            version: rim.rim().meta.colloquial_version.clone(),
            signer: rim.signer(),
            digest: hex::encode(rim.digest()),
            chain_expires: rim.expires(),
            dev_root,
        });
        verified.push((kind, rim));
    }
    let driver = verified
        .iter()
        .find(|(k, _)| *k == RimKind::Driver)
        .map(|(_, r)| r);
    let vbios = verified
        .iter()
        .find(|(k, _)| *k == RimKind::Vbios)
        .map(|(_, r)| r);
    let measurements = match (driver, vbios) {
        (Some(d), Some(b)) => {
            let cmp = verify_measurements(d.rim(), b.rim(), &device.report)?;
            Some(MeasurementClaims {
                matched: cmp.matched,
                skipped: cmp.results.len() - cmp.matched - cmp.mismatched,
                golden: cmp.results.len(),
                results: cmp.results,
            })
        }
        _ if policy.require_rims => return Err(PolicyError::MissingRims.into()),
        _ => None,
    };
    let production = !device.claims.dev_root && rim_claims.iter().all(|r| !r.dev_root);
    let claims = GpuClaims {
        production,
        time,
        device: device.claims.clone(),
        rims: rim_claims,
        measurements,
        ocsp,
    };
    Ok(VerifiedGpu { device, claims })
}

/// Why a GPU's evidence was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuError {
    Evidence(EvidenceError),
    Rim(RimError),
    Measurement(MeasurementError),
    Ocsp {
        chain: &'static str,
        index: usize,
        error: OcspError,
    },
    DuplicateRim {
        kind: RimKind,
    },
    TooMany {
        what: &'static str,
        got: usize,
        max: usize,
    },
}

impl From<EvidenceError> for GpuError {
    fn from(e: EvidenceError) -> Self {
        GpuError::Evidence(e)
    }
}
impl From<PolicyError> for GpuError {
    fn from(e: PolicyError) -> Self {
        GpuError::Evidence(EvidenceError::Policy(e))
    }
}
impl From<RimError> for GpuError {
    fn from(e: RimError) -> Self {
        GpuError::Rim(e)
    }
}
impl From<MeasurementError> for GpuError {
    fn from(e: MeasurementError) -> Self {
        GpuError::Measurement(e)
    }
}

impl ErrorCode for GpuError {
    fn code(&self) -> &'static str {
        match self {
            GpuError::Evidence(e) => e.code(),
            GpuError::Rim(e) => e.code(),
            GpuError::Measurement(e) => e.code(),
            GpuError::Ocsp { error, .. } => error.code(),
            GpuError::DuplicateRim { .. } => "RIM_DUPLICATE_KIND",
            GpuError::TooMany { .. } => "INPUT_TOO_MANY",
        }
    }
    fn stage(&self) -> Stage {
        match self {
            GpuError::Evidence(e) => e.stage(),
            GpuError::Rim(e) => e.stage(),
            GpuError::Measurement(e) => e.stage(),
            GpuError::Ocsp { error, .. } => error.stage(),
            GpuError::DuplicateRim { .. } => Stage::Rim,
            GpuError::TooMany { .. } => Stage::Input,
        }
    }
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::Evidence(e) => fmt::Display::fmt(e, f),
            GpuError::Rim(e) => fmt::Display::fmt(e, f),
            GpuError::Measurement(e) => fmt::Display::fmt(e, f),
            GpuError::Ocsp {
                chain,
                index,
                error,
            } => {
                write!(
                    f,
                    "OCSP for certificate {index} of the {chain} chain: {error}"
                )
            }
            GpuError::DuplicateRim { kind } => write!(
                f,
                "two {kind} reference manifests were given; give one of each"
            ),
            GpuError::TooMany { what, got, max } => {
                write!(f, "{got} {what} given, at most {max} accepted")
            }
        }
    }
}

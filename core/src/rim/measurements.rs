//! Golden-measurement comparison between the two RIMs and an SPDM report, with NVIDIA's
//! semantics (nvtrust `verifier.py`, nvat `generate_set_measurement_claims`):
//!
//! - golden set = the active entries of the driver RIM and of the VBIOS RIM; an index active in
//!   both is an error (`RIM_INDEX_CONFLICT`);
//! - more golden entries than runtime blocks is an error;
//! - for each golden index `i`: skipped when `i == 35` and the report's NVDEC0 status is 0x55
//!   (disabled); otherwise it matches iff one alternative equals the value of SPDM block `i + 1`
//!   and the entry's `size` equals that value's length.
//!
//! Version checks compare `colloquialVersion` (case-insensitively) with the versions the report
//! carries in its opaque data.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::error::{RimError, RimKind};
use super::manifest::{Rim, RimMeasurement};
use crate::attestation::opaque::{NVDEC_DISABLED, NVDEC_ENABLED};
use crate::attestation::spdm::SpdmReport;
use crate::error::{ErrorCode, GotExpected, Stage};

/// The RIM index of the NVDEC0 measurement, skipped when NVDEC0 is disabled.
pub const NVDEC0_INDEX: u8 = 35;

/// Outcome for one golden index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Match,
    Mismatch,
    /// Not compared (index 35 with NVDEC0 disabled).
    Skipped,
}

/// The comparison of one golden entry with the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MeasurementResult {
    /// RIM index (SPDM block `index + 1`).
    pub index: u8,
    /// The RIM the entry comes from.
    pub kind: RimKind,
    pub verdict: Verdict,
    /// Runtime value (lower-case hex), `None` when the report has no such block.
    pub got: Option<String>,
    /// The RIM's alternatives (lower-case hex).
    pub expected: Vec<String>,
}

/// A golden entry that did not match.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    pub index: u8,
    pub kind: RimKind,
    pub got: Option<String>,
    pub expected: Vec<String>,
}

/// Per-index results and counts. Holding one does not mean the measurements matched: see
/// [`MeasurementComparison::require_all_match`] or [`verify_measurements`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MeasurementComparison {
    /// One entry per golden index, in index order.
    pub results: Vec<MeasurementResult>,
    /// Number of runtime measurement blocks in the report.
    pub runtime: usize,
    pub matched: usize,
    pub mismatched: usize,
    pub skipped: usize,
}

impl MeasurementComparison {
    /// Number of golden entries (active in either RIM).
    pub fn golden(&self) -> usize {
        self.results.len()
    }

    /// The entries that did not match.
    pub fn mismatches(&self) -> Vec<Mismatch> {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Mismatch)
            .map(|r| Mismatch {
                index: r.index,
                kind: r.kind,
                got: r.got.clone(),
                expected: r.expected.clone(),
            })
            .collect()
    }

    /// `MEASUREMENT_MISMATCH` listing every mismatching index, if any.
    pub fn require_all_match(&self) -> Result<(), MeasurementError> {
        if self.mismatched == 0 {
            Ok(())
        } else {
            Err(MeasurementError::Mismatch {
                mismatches: self.mismatches(),
            })
        }
    }
}

/// Compares the golden measurements of both RIMs with the report's measurement blocks.
/// Structural problems are errors; mismatches are recorded in the result.
pub fn compare_measurements(
    driver: &Rim,
    vbios: &Rim,
    report: &SpdmReport,
) -> Result<MeasurementComparison, MeasurementError> {
    let mut golden: Vec<(&RimMeasurement, RimKind)> = driver
        .active()
        .map(|m| (m, RimKind::Driver))
        .chain(vbios.active().map(|m| (m, RimKind::Vbios)))
        .collect();
    let mut conflicts: Vec<u8> = driver
        .active()
        .filter(|d| vbios.active().any(|v| v.index == d.index))
        .map(|d| d.index)
        .collect();
    if !conflicts.is_empty() {
        conflicts.sort_unstable();
        conflicts.dedup();
        return Err(MeasurementError::IndexConflict { indices: conflicts });
    }
    golden.sort_by_key(|(m, _)| m.index);
    let runtime = report.response.blocks.len();
    if golden.len() > runtime {
        return Err(MeasurementError::TooManyGolden {
            golden: golden.len(),
            runtime,
        });
    }
    let skip_nvdec = match report.response.opaque.nvdec0_status() {
        Some(NVDEC_DISABLED) => true,
        Some(NVDEC_ENABLED) | None => false,
        Some(value) => return Err(MeasurementError::NvdecStatus { value }),
    };
    let mut cmp = MeasurementComparison {
        results: Vec::new(),
        runtime,
        matched: 0,
        mismatched: 0,
        skipped: 0,
    };
    for (m, kind) in golden {
        let block = m.index.checked_add(1).and_then(|i| report.block(i));
        let got = block.map(|b| hex::encode(&b.value));
        let verdict = if m.index == NVDEC0_INDEX && skip_nvdec {
            cmp.skipped += 1;
            Verdict::Skipped
        } else if block.is_some_and(|b| b.value.len() == m.size)
            && got
                .as_ref()
                .is_some_and(|g| m.hashes.iter().any(|h| h == g))
        {
            cmp.matched += 1;
            Verdict::Match
        } else {
            cmp.mismatched += 1;
            Verdict::Mismatch
        };
        cmp.results.push(MeasurementResult {
            index: m.index,
            kind,
            verdict,
            got,
            expected: m.hashes.clone(),
        });
    }
    Ok(cmp)
}

/// [`compare_measurements`], failing with `MEASUREMENT_MISMATCH` unless every golden entry
/// matched (or was skipped).
pub fn verify_measurements(
    driver: &Rim,
    vbios: &Rim,
    report: &SpdmReport,
) -> Result<MeasurementComparison, MeasurementError> {
    let cmp = compare_measurements(driver, vbios, report)?;
    cmp.require_all_match()?;
    Ok(cmp)
}

fn compare_versions(kind: RimKind, rim: &Rim, reported: Option<String>) -> Result<(), RimError> {
    let reported = reported.ok_or(RimError::VersionUnavailable { kind })?;
    let ours = &rim.meta.colloquial_version;
    if ours.to_lowercase() != reported.to_lowercase() {
        return Err(RimError::VersionMismatch {
            kind,
            mismatch: GotExpected {
                got: ours.clone(),
                expected: reported,
            },
        });
    }
    Ok(())
}

/// The driver RIM's `colloquialVersion` must equal the report's driver version.
pub fn check_driver_version(driver: &Rim, report: &SpdmReport) -> Result<(), RimError> {
    compare_versions(
        RimKind::Driver,
        driver,
        report.response.opaque.driver_version(),
    )
}

/// The VBIOS RIM's `colloquialVersion` must equal the report's VBIOS version.
pub fn check_vbios_version(vbios: &Rim, report: &SpdmReport) -> Result<(), RimError> {
    compare_versions(
        RimKind::Vbios,
        vbios,
        report.response.opaque.vbios_version(),
    )
}

/// Why the golden-measurement comparison failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeasurementError {
    /// These indices are active in both the driver and the VBIOS RIM.
    IndexConflict { indices: Vec<u8> },
    /// More golden entries than measurement blocks in the report.
    TooManyGolden { golden: usize, runtime: usize },
    /// The report's NVDEC0 status is neither 0xAA (enabled) nor 0x55 (disabled).
    NvdecStatus { value: u8 },
    /// At least one golden entry matched no runtime value.
    Mismatch { mismatches: Vec<Mismatch> },
}

impl ErrorCode for MeasurementError {
    fn code(&self) -> &'static str {
        match self {
            MeasurementError::IndexConflict { .. } => "RIM_INDEX_CONFLICT",
            MeasurementError::TooManyGolden { .. } => "MEASUREMENT_COUNT",
            MeasurementError::NvdecStatus { .. } => "MEASUREMENT_NVDEC_STATUS",
            MeasurementError::Mismatch { .. } => "MEASUREMENT_MISMATCH",
        }
    }
    fn stage(&self) -> Stage {
        match self {
            MeasurementError::IndexConflict { .. } => Stage::Rim,
            _ => Stage::Measurement,
        }
    }
}

impl fmt::Display for MeasurementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeasurementError::IndexConflict { indices } => {
                write!(f, "measurement indices {indices:?} are active in both the driver and the VBIOS RIM")
            }
            MeasurementError::TooManyGolden { golden, runtime } => {
                write!(
                    f,
                    "the RIMs list {golden} golden measurements but the report has only {runtime}"
                )
            }
            MeasurementError::NvdecStatus { value } => {
                write!(
                    f,
                    "the report's NVDEC0 status is {value:#04x}, expected 0xaa or 0x55"
                )
            }
            MeasurementError::Mismatch { mismatches } => {
                write!(
                    f,
                    "{} measurement(s) differ from the RIMs:",
                    mismatches.len()
                )?;
                for m in mismatches {
                    let got = m.got.as_deref().unwrap_or("(no such block)");
                    write!(
                        f,
                        " [index {} ({} RIM): got {}, expected {}",
                        m.index,
                        m.kind,
                        got,
                        m.expected.join(" or ")
                    )?;
                    f.write_str("]")?;
                }
                Ok(())
            }
        }
    }
}

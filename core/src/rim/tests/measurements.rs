use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::attestation::opaque::types;
use crate::attestation::spdm::SpdmReport;
use crate::error::{ErrorCode, Stage};
use crate::rim::manifest::{Rim, RimMeasurement, RimMeta};
use crate::rim::{
    check_driver_version, check_vbios_version, compare_measurements, verify_measurements,
    MeasurementError, RimError, RimKind, Verdict,
};

/// The value of SPDM block `n` in the synthetic reports: 48 bytes of `n`.
fn value(n: u8) -> String {
    hex::encode([n; 48])
}

/// A Hopper-shaped report with `blocks` measurement blocks and the given opaque records.
fn report(blocks: u8, opaque: &[(u16, &[u8])]) -> SpdmReport {
    let mut b = alloc::vec![0x11, 0xE0, 0x01, 0xFF];
    b.extend([7u8; 32]);
    b.push(0);
    b.extend([0x11, 0x60, 0, 0, blocks]);
    let rec_len = 55 * blocks as u32;
    b.extend(&rec_len.to_le_bytes()[..3]);
    for n in 1..=blocks {
        b.extend([n, 0x01, 51, 0, 0x01, 48, 0]);
        b.extend([n; 48]);
    }
    b.extend([9u8; 32]);
    let mut op = Vec::new();
    for (t, v) in opaque {
        op.extend(t.to_le_bytes());
        op.extend((v.len() as u16).to_le_bytes());
        op.extend(*v);
    }
    b.extend((op.len() as u16).to_le_bytes());
    b.extend(op);
    b.extend([0u8; 96]);
    SpdmReport::parse(&b).unwrap()
}

const VBIOS: &[u8] = &[0x00, 0x9f, 0x00, 0x96, 0x01, 0, 0, 0];

fn std_report(nvdec: u8) -> SpdmReport {
    report(
        64,
        &[
            (types::DRIVER_VERSION, b"550.90.07\0"),
            (types::VBIOS_VERSION, VBIOS),
            (types::NVDEC0_STATUS, &[nvdec]),
        ],
    )
}

fn entry(index: u8, active: bool, hashes: &[String]) -> RimMeasurement {
    RimMeasurement {
        index,
        active,
        alternatives: hashes.len(),
        name: alloc::format!("Measurement_{index}"),
        size: 48,
        hashes: hashes.to_vec(),
    }
}

fn rim(version: &str, measurements: Vec<RimMeasurement>) -> Rim {
    Rim {
        tag_id: "t".into(),
        name: "GH100".into(),
        version: None,
        tag_version: None,
        meta: RimMeta {
            colloquial_version: version.into(),
            product: None,
            edition: None,
            revision: None,
            payload_type: None,
            binding_spec: None,
            binding_spec_version: None,
            platform_manufacturer_id: None,
            platform_manufacturer_str: None,
            platform_model: None,
            firmware_manufacturer: None,
            firmware_manufacturer_id: None,
            attributes: Vec::new(),
        },
        measurements,
    }
}

/// Driver RIM active on 7 and 35 (35 with a wrong first alternative), VBIOS on 0..=2.
fn rims() -> (Rim, Rim) {
    let driver = rim(
        "550.90.07",
        alloc::vec![
            entry(0, false, &[value(0)]),
            entry(7, true, &[value(8)]),
            entry(35, true, &[value(1), value(36)]),
        ],
    );
    let vbios = rim(
        "96.00.9F.00.01",
        (0..3).map(|i| entry(i, true, &[value(i + 1)])).collect(),
    );
    (driver, vbios)
}

#[test]
fn all_match_with_alternatives() {
    let (driver, vbios) = rims();
    for nvdec in [0x55, 0xAA] {
        let cmp = verify_measurements(&driver, &vbios, &std_report(nvdec)).unwrap();
        assert_eq!(cmp.golden(), 5);
        assert_eq!(cmp.runtime, 64);
        assert_eq!(
            cmp.results.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2, 7, 35]
        );
        assert_eq!(cmp.results[3].kind, RimKind::Driver);
        assert_eq!(cmp.results[0].kind, RimKind::Vbios);
        assert_eq!(cmp.results[3].got.as_deref(), Some(value(8).as_str()));
        let r35 = &cmp.results[4];
        if nvdec == 0x55 {
            assert_eq!(
                (cmp.matched, cmp.skipped, r35.verdict),
                (4, 1, Verdict::Skipped)
            );
        } else {
            assert_eq!(
                (cmp.matched, cmp.skipped, r35.verdict),
                (5, 0, Verdict::Match)
            );
        }
    }
}

#[test]
fn mismatches_are_listed_with_got_and_expected() {
    let (mut driver, mut vbios) = rims();
    driver.measurements[1].hashes = alloc::vec![value(99)];
    driver.measurements[2].hashes = alloc::vec![value(1)];
    vbios.measurements[2].size = 32;
    // NVDEC0 disabled: index 35 is skipped even though it would not match.
    let cmp = compare_measurements(&driver, &vbios, &std_report(0x55)).unwrap();
    assert_eq!((cmp.matched, cmp.mismatched, cmp.skipped), (2, 2, 1));
    let err = cmp.require_all_match().unwrap_err();
    assert_eq!(
        (err.code(), err.stage()),
        ("MEASUREMENT_MISMATCH", Stage::Measurement)
    );
    let MeasurementError::Mismatch { mismatches } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        mismatches
            .iter()
            .map(|m| (m.index, m.kind))
            .collect::<Vec<_>>(),
        [(2, RimKind::Vbios), (7, RimKind::Driver)]
    );
    assert_eq!(mismatches[1].got.as_deref(), Some(value(8).as_str()));
    assert_eq!(mismatches[1].expected, [value(99)]);
    let msg = err.to_string();
    assert!(
        msg.contains("index 7 (driver RIM)") && msg.contains(&value(99)),
        "{msg}"
    );
    // NVDEC0 enabled: index 35 is compared and fails too.
    let err = verify_measurements(&driver, &vbios, &std_report(0xAA)).unwrap_err();
    let MeasurementError::Mismatch { mismatches } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        mismatches.iter().map(|m| m.index).collect::<Vec<_>>(),
        [2, 7, 35]
    );
}

#[test]
fn structural_errors() {
    let (driver, vbios) = rims();
    let e = compare_measurements(&driver, &driver, &std_report(0x55)).unwrap_err();
    assert_eq!(
        e,
        MeasurementError::IndexConflict {
            indices: alloc::vec![7, 35]
        }
    );
    assert_eq!((e.code(), e.stage()), ("RIM_INDEX_CONFLICT", Stage::Rim));
    let e = compare_measurements(&driver, &vbios, &report(4, &[])).unwrap_err();
    assert_eq!(
        e,
        MeasurementError::TooManyGolden {
            golden: 5,
            runtime: 4
        }
    );
    assert_eq!(e.code(), "MEASUREMENT_COUNT");
    let e = compare_measurements(
        &driver,
        &vbios,
        &report(64, &[(types::NVDEC0_STATUS, &[0x12])]),
    )
    .unwrap_err();
    assert_eq!(e.code(), "MEASUREMENT_NVDEC_STATUS");
    // No NVDEC0 record: nothing is skipped. A golden index beyond the report's blocks mismatches.
    let far = rim("x", alloc::vec![entry(200, true, &[value(201)])]);
    let cmp = compare_measurements(&driver, &far, &report(64, &[])).unwrap();
    assert_eq!((cmp.matched, cmp.mismatched, cmp.skipped), (2, 1, 0));
    assert_eq!(cmp.mismatches()[0].got, None);
    assert!(cmp
        .require_all_match()
        .unwrap_err()
        .to_string()
        .contains("(no such block)"));
}

#[test]
fn version_checks() {
    let (driver, vbios) = rims();
    let rep = std_report(0x55);
    check_driver_version(&driver, &rep).unwrap();
    check_vbios_version(&vbios, &rep).unwrap();
    check_vbios_version(&rim("96.00.9f.00.01", Vec::new()), &rep).unwrap();
    let e = check_driver_version(&rim("550.144.03", Vec::new()), &rep).unwrap_err();
    assert_eq!((e.code(), e.stage()), ("RIM_VERSION_MISMATCH", Stage::Rim));
    let RimError::VersionMismatch { kind, mismatch } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        (*kind, mismatch.got.as_str(), mismatch.expected.as_str()),
        (RimKind::Driver, "550.144.03", "550.90.07")
    );
    assert_eq!(
        e.to_string(),
        "the driver RIM is for version 550.144.03 but the report says 550.90.07"
    );
    assert_eq!(
        check_vbios_version(&driver, &rep).unwrap_err().code(),
        "RIM_VERSION_MISMATCH"
    );
    let bare = report(1, &[]);
    assert_eq!(
        check_driver_version(&driver, &bare).unwrap_err().code(),
        "RIM_VERSION_UNAVAILABLE"
    );
    assert_eq!(
        check_vbios_version(&vbios, &bare).unwrap_err().code(),
        "RIM_VERSION_UNAVAILABLE"
    );
}

#[test]
fn codes_are_stable_upper_snake() {
    let errors: Vec<(&'static str, Stage)> = alloc::vec![
        (RimError::NoSignature.code(), RimError::NoSignature.stage()),
        (
            RimError::NoMeasurements.code(),
            RimError::NoMeasurements.stage()
        ),
        (
            MeasurementError::Mismatch {
                mismatches: Vec::new()
            }
            .code(),
            Stage::Measurement
        ),
    ];
    for (c, _) in &errors {
        assert!(c.starts_with("RIM_") || c.starts_with("MEASUREMENT_"));
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit()),
            "{c}"
        );
    }
    assert_eq!(RimKind::Vbios.to_string(), "VBIOS");
}

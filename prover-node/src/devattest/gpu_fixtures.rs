//! Self-made full-GPU fixtures: one folder per case under `fixtures/gpu/`, each with the dev
//! report, the device chain, dev-signed reference manifests (`rims/*.xml`), dev OCSP answers
//! (`ocsp/*.der`) and a `case.json` naming the expected verdict or error code. Checked with
//! `otr_core::attestation::gpu::verify_gpu` by `core/tests/gpu_fixtures.rs`. Deterministic: the
//! generator is re-run in CI (scripts/check-fixtures.sh) and must reproduce the committed bytes.
//! NOT PRODUCTION: every signature is by the OTR dev hierarchies.

use std::path::Path;

use der::Encode;
use otr_core::rim::c14n::C14nVersion;
use otr_core::time::UnixTime;
use otr_core::x509::Certificate;
use p384::ecdsa::SigningKey;
use serde_json::json;
use sha2::{Digest, Sha384};

use super::certs::derive_key;
use super::fixtures::{FIXTURE_SEED, FIXTURE_TIME};
use super::ocsp::{
    extension, ocsp_answer, ocsp_answer_with_single_extensions, seq, tlv, Answer, Status,
};
use super::report::{build_report, ReportSpec};
use super::rim::{
    sign_enveloped, sign_enveloped_as, swid_unsigned, Entry, SwidSpec, DIGEST_METHOD,
};
use super::{ocsp_responder, ocsp_responder_with, DevGpu, DevRimCa};

/// The driver version and VBIOS version the dev report states.
const DRIVER_VERSION: &str = "550.90.07";
const VBIOS_VERSION: &str = "96.00.9F.00.01";
/// How long the dev OCSP answers are valid.
const OCSP_VALIDITY_SECS: i64 = 24 * 3600;

/// One certificate that needs an OCSP answer, with its issuer and that issuer's responder.
struct Target {
    /// File stem: `device-<i>` or `rim-<i>` (index in its chain).
    name: String,
    cert: Certificate,
    issuer: Certificate,
    responder: Certificate,
    responder_key: SigningKey,
}

impl Target {
    fn answer(&self, a: &Answer) -> Vec<u8> {
        ocsp_answer(
            &self.cert,
            &self.issuer,
            &self.responder,
            &self.responder_key,
            a,
        )
    }
}

fn core_cert(c: &x509_cert::Certificate) -> Certificate {
    Certificate::from_der(&c.to_der().expect("der")).expect("dev certificate parses")
}

/// Delegated responders and targets for `chain[range]`, each answered by its issuer's responder.
fn targets(
    prefix: &str,
    certs: &[x509_cert::Certificate],
    specs: &[super::certs::CertSpec],
    keys: &[SigningKey],
    range: std::ops::Range<usize>,
    serial_base: u64,
) -> Vec<Target> {
    range
        .map(|i| {
            let label = format!("{prefix}-{}", i + 1);
            let (responder, responder_key) = ocsp_responder(
                FIXTURE_SEED,
                &label,
                serial_base + i as u64,
                (&specs[i + 1], &keys[i + 1]),
                true,
            );
            Target {
                name: format!("{prefix}-{i}"),
                cert: core_cert(&certs[i]),
                issuer: core_cert(&certs[i + 1]),
                responder: core_cert(&responder),
                responder_key,
            }
        })
        .collect()
}

struct Case {
    name: &'static str,
    description: &'static str,
    expected: &'static str,
    /// The wrapped chain code of `RIM_CHAIN`.
    inner: Option<&'static str>,
    rims: Vec<(&'static str, String)>,
    ocsp: Vec<(String, Vec<u8>)>,
    /// A report other than the common one.
    report: Option<Vec<u8>>,
}

fn hex48(h: &[u8; 48]) -> String {
    hex::encode(h)
}

/// Writes every case into `out/gpu/<case>/`.
pub fn generate(out: &Path) -> std::io::Result<usize> {
    let time = UnixTime::parse_rfc3339(FIXTURE_TIME).expect("fixture time");
    let gpu = DevGpu::generate(FIXTURE_SEED);
    let nonce = [0x42u8; 32];
    let spec = ReportSpec::new(FIXTURE_SEED, nonce, gpu.fwid);
    let report = build_report(&spec, gpu.attestation_key());
    let ca = DevRimCa::generate(FIXTURE_SEED);
    let m = &spec.measurements;

    // Golden values as NVIDIA splits them: VBIOS indices 0..=6 and 8..=12, driver 7 and
    // 21..=40 (RIM index i is SPDM block i + 1). Each lists one inactive entry too, and VBIOS
    // index 0 carries a second (wrong) alternative first.
    let decoy: [u8; 48] = Sha384::digest(b"OTR/dev-rim-decoy").into();
    let vbios_spec = SwidSpec {
        tag_id: format!("OTR-DEV-GH100-VBIOS-{VBIOS_VERSION}"),
        name: "GH100".into(),
        colloquial_version: VBIOS_VERSION.into(),
        entries: (0..=12u8)
            .map(|i| Entry {
                index: i,
                active: i != 7,
                hashes: if i == 0 {
                    vec![decoy, m[0]]
                } else {
                    vec![m[usize::from(i)]]
                },
            })
            .collect(),
    };
    let driver_spec = SwidSpec {
        tag_id: format!("OTR-DEV-GH100-DRIVER-{DRIVER_VERSION}"),
        name: "GH100".into(),
        colloquial_version: DRIVER_VERSION.into(),
        entries: std::iter::once(7u8)
            .chain(21..=41)
            .map(|i| Entry {
                index: i,
                active: i != 41,
                hashes: vec![m[usize::from(i)]],
            })
            .collect(),
    };
    let sign_with = |s: &SwidSpec, ca: &DevRimCa| {
        sign_enveloped(
            &swid_unsigned(s),
            &ca.ders(),
            ca.signer_key(),
            C14nVersion::V11,
        )
    };
    let sign = |s: &SwidSpec| sign_with(s, &ca);
    let driver = sign(&driver_spec);
    let vbios = sign(&vbios_spec);
    let both = || vec![("driver", driver.clone()), ("vbios", vbios.clone())];

    // OCSP: the device chain's BROM, ICA and identity CA (1..=3), and the RIM chain below its
    // root (0..=2), each answered GOOD by a delegated responder of its issuer.
    let mut all = targets(
        "device",
        &gpu.certs,
        &gpu.specs,
        &gpu.keys,
        1..4,
        0x4f43_5300,
    );
    all.extend(targets(
        "rim",
        &ca.certs,
        &ca.specs,
        &ca.keys,
        0..3,
        0x4f43_5310,
    ));
    let good = || Answer {
        sha1_cert_id: false,
        status: Status::Good,
        nonce: None,
        this_update: time,
        next_update: Some(UnixTime(time.0 + OCSP_VALIDITY_SECS)),
        produced_at: time,
        certs: Vec::new(),
    };
    let with_responder = |t: &Target, a: Answer| {
        let der = t.responder.der().to_vec();
        t.answer(&Answer {
            certs: vec![&der],
            ..a
        })
    };
    let good_answers: Vec<(String, Vec<u8>)> = all
        .iter()
        .map(|t| (format!("{}.der", t.name), with_responder(t, good())))
        .collect();
    let target = |name: &str| all.iter().find(|t| t.name == name).expect("target");
    // All good answers, with the one for `name` replaced.
    let replaced = |name: &str, der: Vec<u8>| -> Vec<(String, Vec<u8>)> {
        good_answers
            .iter()
            .map(|(f, d)| {
                if *f == format!("{name}.der") {
                    (f.clone(), der.clone())
                } else {
                    (f.clone(), d.clone())
                }
            })
            .collect()
    };

    let case = |name, description, expected, rims, ocsp| Case {
        name,
        description,
        expected,
        inner: None,
        rims,
        ocsp,
        report: None,
    };
    let mut cases = vec![case(
        "ok",
        "full GPU evidence: dev report and chain, both dev-signed RIMs matching every measurement, GOOD OCSP answers for every certificate that needs one",
        "ok",
        both(),
        good_answers.clone(),
    )];

    // Reference-manifest defects.
    {
        let golden3 = hex48(&m[3]);
        let edited = vbios.replacen(&golden3, &hex48(&decoy), 1);
        assert_ne!(edited, vbios);
        cases.push(case(
            "rim_digest_mismatch",
            "the VBIOS RIM's golden value for index 3 was edited after signing",
            "RIM_DIGEST_MISMATCH",
            vec![("driver", driver.clone()), ("vbios", edited)],
            good_answers.clone(),
        ));
        let xmlenc = r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha384"/>"#;
        let edited = driver.replacen(DIGEST_METHOD, xmlenc, 1);
        assert_ne!(edited, driver);
        cases.push(case(
            "rim_signature_invalid",
            "the driver RIM's SignedInfo was edited after signing (DigestMethod URI changed to the equivalent xmlenc#sha384; the digest still matches)",
            "RIM_SIGNATURE_INVALID",
            vec![("driver", edited), ("vbios", vbios.clone())],
            good_answers.clone(),
        ));
        let untrusted = DevRimCa::with_names(
            FIXTURE_SEED,
            &[
                "CN=OTR DEV Untrusted RIM Signer (NOT PRODUCTION),O=OTR Development,C=XX",
                "CN=OTR DEV Untrusted CoRIM L3 CA (NOT PRODUCTION),O=OTR Development,C=XX",
                "CN=OTR DEV Untrusted CoRIM L2 CA (NOT PRODUCTION),O=OTR Development,C=XX",
                "CN=OTR DEV Untrusted CoRIM Root (NOT PRODUCTION),O=OTR Development,C=XX",
            ],
        );
        cases.push(Case {
            inner: Some("CHAIN_UNTRUSTED_ROOT"),
            ..case(
                "rim_chain_untrusted_root",
                "the driver RIM is validly signed by a hierarchy whose root is not trusted",
                "RIM_CHAIN",
                vec![
                    ("driver", sign_with(&driver_spec, &untrusted)),
                    ("vbios", vbios.clone()),
                ],
                good_answers.clone(),
            )
        });
        let mut specs = ca.specs.clone();
        specs[0].not_after = 1_748_736_000; // 2025-06-01
        let expired = DevRimCa {
            keys: ca.keys.clone(),
            certs: DevGpu::sign_all(&specs, &ca.keys),
            specs,
        };
        cases.push(Case {
            inner: Some("CHAIN_EXPIRED"),
            ..case(
                "rim_chain_expired_signer",
                "the VBIOS RIM's signer certificate expired on 2025-06-01",
                "RIM_CHAIN",
                vec![
                    ("driver", driver.clone()),
                    ("vbios", sign_with(&vbios_spec, &expired)),
                ],
                good_answers.clone(),
            )
        });
        let mut s = driver_spec.clone();
        s.colloquial_version = "550.54.15".into();
        cases.push(case(
            "rim_version_mismatch",
            "a validly signed driver RIM for driver 550.54.15; the report runs 550.90.07",
            "RIM_VERSION_MISMATCH",
            vec![("driver", sign(&s)), ("vbios", vbios.clone())],
            good_answers.clone(),
        ));
        let mut s = vbios_spec.clone();
        s.entries[3].hashes = vec![decoy];
        cases.push(case(
            "measurement_mismatch",
            "the VBIOS RIM's golden value for index 3 differs from the report's block 4 (re-signed)",
            "MEASUREMENT_MISMATCH",
            vec![("driver", driver.clone()), ("vbios", sign(&s))],
            good_answers.clone(),
        ));
        let mut s = vbios_spec.clone();
        s.entries[7].active = true;
        cases.push(case(
            "rim_index_conflict",
            "index 7 is active in both the driver and the VBIOS RIM (re-signed)",
            "RIM_INDEX_CONFLICT",
            vec![("driver", driver.clone()), ("vbios", sign(&s))],
            good_answers.clone(),
        ));
        cases.push(case(
            "rim_doctype",
            "the driver RIM starts with a document type declaration",
            "RIM_DOCTYPE",
            vec![
                ("driver", format!("<!DOCTYPE SoftwareIdentity>\n{driver}")),
                ("vbios", vbios.clone()),
            ],
            good_answers.clone(),
        ));
        let truncated = driver.replacen("</SoftwareIdentity>", "", 1);
        assert_ne!(truncated, driver);
        cases.push(case(
            "rim_xml_syntax",
            "the driver RIM lacks its closing </SoftwareIdentity> tag",
            "RIM_XML_SYNTAX",
            vec![("driver", truncated), ("vbios", vbios.clone())],
            good_answers.clone(),
        ));
        cases.push(case(
            "rim_no_signature",
            "the driver RIM carries no ds:Signature",
            "RIM_NO_SIGNATURE",
            vec![
                (
                    "driver",
                    swid_unsigned(&driver_spec).replace(super::rim::SIG_PLACEHOLDER, ""),
                ),
                ("vbios", vbios.clone()),
            ],
            good_answers.clone(),
        ));
        cases.push(case(
            "rim_duplicate_kind",
            "two driver RIMs (both valid) and the VBIOS RIM",
            "RIM_DUPLICATE_KIND",
            vec![
                ("driver", driver.clone()),
                ("driver_again", driver.clone()),
                ("vbios", vbios.clone()),
            ],
            good_answers.clone(),
        ));
        // A driver RIM whose root element carries `xml:base` (an absolute URI), validly signed.
        // Inclusive C14N 1.1 of SignedInfo then carries the fixed-up `xml:base` of its
        // ancestors: with one absolute value and no `xml:id` in the document, that is exactly
        // the attribute C14N 1.0 inherits, so the signature is over the C14N 1.0 form while the
        // manifest declares 1.1. The verifier does not implement the 1.1 fix-up and says so.
        let unsigned = swid_unsigned(&driver_spec).replacen(
            "<SoftwareIdentity ",
            "<SoftwareIdentity xml:base=\"https://otr.invalid/rim/\" ",
            1,
        );
        assert!(!unsigned.contains("xml:id"));
        let based = sign_enveloped_as(
            &unsigned,
            &ca.ders(),
            ca.signer_key(),
            C14nVersion::V11,
            C14nVersion::V10,
        );
        cases.push(case(
            "rim_c14n_xml_base",
            "the driver RIM's root carries xml:base=\"https://otr.invalid/rim/\" and is validly signed (C14N 1.1 with the xml:base fix-up); the verifier does not implement that fix-up",
            "RIM_C14N_UNSUPPORTED",
            vec![("driver", based), ("vbios", vbios.clone())],
            good_answers.clone(),
        ));
        // A report without its driver-version record, validly signed: the driver RIM's version
        // has nothing to be compared with.
        let no_driver_version = build_report(
            &ReportSpec {
                omit_opaque: vec![otr_core::attestation::opaque::types::DRIVER_VERSION],
                ..spec.clone()
            },
            gpu.attestation_key(),
        );
        cases.push(Case {
            report: Some(no_driver_version),
            ..case(
                "rim_version_unavailable",
                "the report (validly signed) carries no driver-version record (opaque type 3), so the driver RIM's version cannot be checked",
                "RIM_VERSION_UNAVAILABLE",
                both(),
                good_answers.clone(),
            )
        });
        cases.push(case(
            "policy_missing_rims",
            "only the VBIOS RIM is given; the policy requires both",
            "POLICY_MISSING_RIMS",
            vec![("vbios", vbios.clone())],
            good_answers.clone(),
        ));
    }

    // OCSP defects.
    {
        let missing: Vec<(String, Vec<u8>)> = good_answers
            .iter()
            .filter(|(f, _)| f != "rim-0.der")
            .cloned()
            .collect();
        cases.push(case(
            "policy_missing_ocsp",
            "no OCSP answer for the RIM signer certificate; the policy requires one",
            "POLICY_MISSING_OCSP",
            both(),
            missing,
        ));
        let t = target("device-1");
        let revoked = Status::Revoked {
            at: UnixTime::parse_rfc3339("2025-12-01T00:00:00Z").expect("time"),
            reason: Some(1),
        };
        cases.push(case(
            "ocsp_revoked",
            "the BROM certificate is revoked (keyCompromise)",
            "OCSP_REVOKED",
            both(),
            replaced(
                "device-1",
                with_responder(
                    t,
                    Answer {
                        status: revoked.clone(),
                        ..good()
                    },
                ),
            ),
        ));
        let r = target("rim-0");
        cases.push(case(
            "ocsp_rim_signer_revoked",
            "the RIM signer certificate is revoked (keyCompromise)",
            "OCSP_REVOKED",
            both(),
            replaced(
                "rim-0",
                with_responder(
                    r,
                    Answer {
                        status: revoked,
                        ..good()
                    },
                ),
            ),
        ));
        let t2 = target("device-2");
        cases.push(case(
            "ocsp_unknown_status",
            "the responder does not know the provisioner ICA certificate",
            "OCSP_UNKNOWN_STATUS",
            both(),
            replaced(
                "device-2",
                with_responder(
                    t2,
                    Answer {
                        status: Status::Unknown,
                        ..good()
                    },
                ),
            ),
        ));
        let t3 = target("device-3");
        cases.push(case(
            "ocsp_stale",
            "the identity CA's answer was valid from 48 h to 24 h before the check time",
            "OCSP_STALE",
            both(),
            replaced(
                "device-3",
                with_responder(
                    t3,
                    Answer {
                        this_update: UnixTime(time.0 - 2 * OCSP_VALIDITY_SECS),
                        next_update: Some(UnixTime(time.0 - OCSP_VALIDITY_SECS)),
                        produced_at: UnixTime(time.0 - 2 * OCSP_VALIDITY_SECS),
                        ..good()
                    },
                ),
            ),
        ));
        cases.push(case(
            "ocsp_not_yet_valid",
            "the BROM certificate's answer starts one hour after the check time",
            "OCSP_NOT_YET_VALID",
            both(),
            replaced(
                "device-1",
                with_responder(
                    t,
                    Answer {
                        this_update: UnixTime(time.0 + 3600),
                        next_update: Some(UnixTime(time.0 + 3600 + OCSP_VALIDITY_SECS)),
                        produced_at: UnixTime(time.0 + 3600),
                        ..good()
                    },
                ),
            ),
        ));
        let r1 = target("rim-1");
        let intruder = derive_key(FIXTURE_SEED, "OTR DEV OCSP intruder");
        let der = r1.responder.der().to_vec();
        cases.push(case(
            "ocsp_bad_signature",
            "the RIM L3 CA's answer names its responder but is signed by another key",
            "OCSP_BAD_SIGNATURE",
            both(),
            replaced(
                "rim-1",
                ocsp_answer(
                    &r1.cert,
                    &r1.issuer,
                    &r1.responder,
                    &intruder,
                    &Answer {
                        certs: vec![&der],
                        ..good()
                    },
                ),
            ),
        ));
        let (no_eku, no_eku_key) = ocsp_responder(
            FIXTURE_SEED,
            "device-2 without OCSPSigning",
            0x4f43_5320,
            (&gpu.specs[2], &gpu.keys[2]),
            false,
        );
        let no_eku = core_cert(&no_eku);
        cases.push(case(
            "ocsp_responder_unauthorized",
            "the BROM certificate's answer is signed by a responder certificate of its issuer that lacks id-kp-OCSPSigning",
            "OCSP_RESPONDER_UNAUTHORIZED",
            both(),
            replaced(
                "device-1",
                ocsp_answer(
                    &t.cert,
                    &t.issuer,
                    &no_eku,
                    &no_eku_key,
                    &Answer {
                        certs: vec![no_eku.der()],
                        ..good()
                    },
                ),
            ),
        ));
        // A delegated responder (id-kp-OCSPSigning, signed by the BROM certificate's issuer)
        // whose own certificate expired on 2025-06-01, before the check time.
        let (expired, expired_key) = ocsp_responder_with(
            FIXTURE_SEED,
            "device-2 expired",
            0x4f43_5321,
            (&gpu.specs[2], &gpu.keys[2]),
            true,
            |s| s.not_after = 1_748_736_000,
        );
        let expired = core_cert(&expired);
        cases.push(case(
            "ocsp_responder_expired",
            "the BROM certificate's answer is signed by a delegated responder of its issuer whose certificate expired on 2025-06-01",
            "OCSP_RESPONDER_CHAIN",
            both(),
            replaced(
                "device-1",
                ocsp_answer(
                    &t.cert,
                    &t.issuer,
                    &expired,
                    &expired_key,
                    &Answer {
                        certs: vec![expired.der()],
                        ..good()
                    },
                ),
            ),
        ));
        // id-pkix-ocsp-crl (RFC 6960 4.4.2), marked critical: a CrlID naming a CRL URL.
        const OID_OCSP_CRL: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x03];
        let crl_id = seq(&[&tlv(0xa0, &tlv(0x16, b"http://otr.invalid/dev.crl"))]);
        let der2 = t2.responder.der().to_vec();
        cases.push(case(
            "ocsp_unsupported_critical_extension",
            "the provisioner ICA's answer (validly signed) carries a critical CrlID single extension, which the verifier does not implement",
            "OCSP_UNSUPPORTED",
            both(),
            replaced(
                "device-2",
                ocsp_answer_with_single_extensions(
                    &t2.cert,
                    &t2.issuer,
                    &t2.responder,
                    &t2.responder_key,
                    &Answer {
                        certs: vec![&der2],
                        ..good()
                    },
                    &[extension(OID_OCSP_CRL, true, &crl_id)],
                ),
            ),
        ));
        let mut cut = good_answers[0].1.clone();
        cut.truncate(cut.len() - 10);
        cases.push(case(
            "ocsp_decode",
            "the BROM certificate's answer lacks its last 10 bytes",
            "OCSP_DECODE",
            both(),
            replaced("device-1", cut),
        ));
    }

    let chain = gpu.chain_pem();
    let dir = out.join("gpu");
    for c in &cases {
        let d = dir.join(c.name);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(d.join("rims"))?;
        std::fs::create_dir_all(d.join("ocsp"))?;
        let r = c.report.as_ref().unwrap_or(&report);
        std::fs::write(d.join("report.hex"), hex::encode(r) + "\n")?;
        std::fs::write(d.join("chain.pem"), &chain)?;
        for (name, xml) in &c.rims {
            std::fs::write(d.join("rims").join(format!("{name}.xml")), xml)?;
        }
        for (name, der) in &c.ocsp {
            std::fs::write(d.join("ocsp").join(name), der)?;
        }
        let mut manifest = json!({
            "description": c.description,
            "expected": c.expected,
            "nonce": hex::encode(nonce),
            "time": FIXTURE_TIME,
            "policy": { "allow_dev_roots": true },
            "dev_roots": ["../dev-root.pem", "../dev-rim-root.pem"],
            "made_by": "otr dev fixtures (prover-node/src/devattest/gpu_fixtures.rs), seed \"otr-fixtures-v1\"",
        });
        if let Some(inner) = c.inner {
            manifest["inner"] = json!(inner);
        }
        std::fs::write(
            d.join("case.json"),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
    }
    std::fs::write(dir.join("dev-root.pem"), gpu.root_pem())?;
    std::fs::write(dir.join("dev-rim-root.pem"), ca.root_pem())?;
    std::fs::write(dir.join("README.md"), README)?;
    Ok(cases.len())
}

const README: &str = "\
# Full-GPU fixtures

Made by `otr dev fixtures --out fixtures` (prover-node/src/devattest/gpu_fixtures.rs) from the
fixed seed `otr-fixtures-v1`. NOT PRODUCTION: everything is signed by locally generated P-384
hierarchies, never by NVIDIA.

- `dev-root.pem`: root of the dev device identity chain (the same hierarchy as
  `fixtures/attestation/`: root, identity, provisioner ICA, BROM, FMC leaf).
- `dev-rim-root.pem`: root of the dev RIM signer chain (`OTR DEV CoRIM Root` -> L2 CA -> L3 CA
  -> `OTR DEV RIM Signer`; all four certificates are in each manifest's KeyInfo, as in NVIDIA's).

Each case folder holds:

- `report.hex`: the dev SPDM report (driver 550.90.07, VBIOS 96.00.9F.00.01, nonce 0x42..;
  in `rim_version_unavailable` the same report without its driver-version record);
- `chain.pem`: the device chain, leaf first;
- `rims/*.xml`: SWID reference manifests with an enveloped XML-DSig by the dev RIM signer
  (inclusive C14N 1.1, ecdsa-sha384). Golden values match the report's measurement blocks
  (RIM index i is SPDM block i + 1): VBIOS indices 0..=6 and 8..=12, driver 7 and 21..=40;
- `ocsp/*.der`: OCSP answers, `device-<i>` for device-chain certificates 1..=3 and `rim-<i>` for
  RIM-chain certificates 0..=2, each signed by a delegated dev responder (id-kp-OCSPSigning) of
  the certificate's issuer, produced at the check time and valid for 24 h;
- `case.json`: description, expected verdict or error code (`inner`: the chain code wrapped in
  `RIM_CHAIN`), nonce, check time, policy (the strict default plus `allow_dev_roots`) and the
  dev roots to trust (both are added with `TrustAnchors::with_dev_root`).

Each folder is named after its one defect; `ok` has none. `core/tests/gpu_fixtures.rs` runs
`verify_gpu` on every case and checks the code; `scripts/check-fixtures.sh` regenerates the
folders and fails if a byte differs.
";

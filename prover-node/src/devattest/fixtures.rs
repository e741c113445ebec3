//! Self-made attestation fixtures: one folder per case under `fixtures/attestation/`, each with
//! the inputs and a `case.json` naming the expected verdict or error code. Deterministic: the
//! generator is re-run in CI and must reproduce the committed bytes.

use std::path::Path;

use serde_json::json;
use x509_cert::ext::pkix::KeyUsages;

use super::certs::{CertSpec, RawExt};
use super::report::{build_report, ReportSpec};
use super::DevGpu;

/// The fixed seed of the committed fixtures.
pub const FIXTURE_SEED: &[u8] = b"otr-fixtures-v1";
/// The time every fixture is checked at.
pub const FIXTURE_TIME: &str = "2026-01-01T00:00:00Z";

struct Case {
    name: &'static str,
    description: &'static str,
    expected: &'static str,
    report: Vec<u8>,
    chain_pem: String,
    nonce: [u8; 32],
    trust_dev_root: bool,
    policy: serde_json::Value,
}

fn dev_policy() -> serde_json::Value {
    json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true })
}

/// Writes every case into `out/attestation/<case>/`.
pub fn generate(out: &Path) -> std::io::Result<usize> {
    let gpu = DevGpu::generate(FIXTURE_SEED);
    let nonce = [0x42u8; 32];
    let spec = ReportSpec::new(FIXTURE_SEED, nonce, gpu.fwid);
    let good = build_report(&spec, gpu.attestation_key());
    let chain = gpu.chain_pem();
    let base = |name, description, expected, report: Vec<u8>| Case {
        name,
        description,
        expected,
        report,
        chain_pem: chain.clone(),
        nonce,
        trust_dev_root: true,
        policy: dev_policy(),
    };
    let with_chain = |specs: Vec<CertSpec>| super::certs::pem(&DevGpu::sign_all(&specs, &gpu.keys));
    let resigned = |f: &dyn Fn(&mut ReportSpec)| {
        let mut s = spec.clone();
        f(&mut s);
        build_report(&s, gpu.attestation_key())
    };
    let patched = |at: usize, value: u8| {
        let mut r = good.clone();
        r[at] = value;
        r
    };
    let sig_at = good.len() - 96;

    let mut cases = vec![
        base(
            "ok",
            "a well-formed dev report and chain, dev root trusted by policy",
            "ok",
            good.clone(),
        ),
        Case {
            policy: json!({ "require_rims": false, "require_ocsp": false }),
            ..base(
                "dev_root_rejected",
                "genuine dev evidence; the policy does not allow dev roots",
                "POLICY_DEV_ROOT",
                good.clone(),
            )
        },
        Case {
            trust_dev_root: false,
            ..base(
                "untrusted_root",
                "the dev root is not among the anchors",
                "CHAIN_UNTRUSTED_ROOT",
                good.clone(),
            )
        },
        Case {
            nonce: [0x43; 32],
            ..base(
                "nonce_mismatch",
                "the report carries another nonce than the verifier expects",
                "REPORT_NONCE_MISMATCH",
                good.clone(),
            )
        },
        base(
            "signature_invalid",
            "one bit of the signature's r flipped",
            "REPORT_SIGNATURE_INVALID",
            patched(sig_at + 10, good[sig_at + 10] ^ 1),
        ),
        base(
            "signed_byte_flipped",
            "one bit of a measurement flipped after signing",
            "REPORT_SIGNATURE_INVALID",
            patched(60, good[60] ^ 1),
        ),
        base(
            "fwid_mismatch",
            "the report states an FWID other than the leaf certificate's (validly signed)",
            "REPORT_FWID_MISMATCH",
            resigned(&|s| s.fwid = Some([7; 48])),
        ),
        Case {
            policy: json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true, "require_fwid": true }),
            ..base(
                "fwid_missing",
                "no FWID record and the policy requires one",
                "REPORT_FWID_MISSING",
                resigned(&|s| s.fwid = None),
            )
        },
        base(
            "trailing_bytes",
            "one 0x00 byte after the signature",
            "SPDM_TRAILING_BYTES",
            [good.as_slice(), &[0]].concat(),
        ),
        Case {
            policy: json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true, "trailing_bytes": "allow" }),
            ..base(
                "trailing_bytes_allowed",
                "one 0x00 byte after the signature, lenient policy",
                "ok",
                [good.as_slice(), &[0]].concat(),
            )
        },
        base(
            "truncated",
            "the last byte of the signature is missing",
            "SPDM_TRUNCATED",
            good[..good.len() - 1].to_vec(),
        ),
        base(
            "bad_spdm_version",
            "request SPDMVersion 0x10",
            "SPDM_BAD_FIELD",
            patched(0, 0x10),
        ),
        base(
            "bad_response_code",
            "response code 0x61",
            "SPDM_BAD_FIELD",
            patched(38, 0x61),
        ),
        base(
            "bad_measurement_spec",
            "block 1 has measurement specification 0x02",
            "SPDM_BAD_MEASUREMENT_BLOCK",
            patched(46, 0x02),
        ),
        base(
            "block_count",
            "NumberOfBlocks says 63, the record holds 64",
            "SPDM_BLOCK_COUNT",
            patched(41, 63),
        ),
        base(
            "bad_opaque_data",
            "an opaque record whose size runs past the opaque data (validly signed)",
            "SPDM_BAD_OPAQUE_DATA",
            {
                let mut r = resigned(&|s| s.extra_opaque = vec![(99, vec![1, 2, 3, 4])]);
                // Patch the size of the last record (4 bytes before the signature... record: type, size, 4 bytes).
                let at = r.len() - 96 - 4 - 2;
                r[at] = 200;
                r
            },
        ),
        Case {
            policy: json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true, "accepted_driver_versions": ["570.124.06"] }),
            ..base(
                "driver_version_policy",
                "driver 550.90.07 is not in the accepted list",
                "POLICY_DRIVER_VERSION",
                good.clone(),
            )
        },
        Case {
            policy: json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true, "accepted_vbios_versions": ["96.00.CF.00.02"] }),
            ..base(
                "vbios_version_policy",
                "VBIOS 96.00.9F.00.01 is not in the accepted list",
                "POLICY_VBIOS_VERSION",
                good.clone(),
            )
        },
    ];

    // Certificate-chain defects: each re-signs the hierarchy with one spec changed.
    let chain_case = |name, description, expected, f: &dyn Fn(&mut Vec<CertSpec>)| {
        let mut specs = gpu.specs.clone();
        f(&mut specs);
        Case {
            chain_pem: with_chain(specs),
            ..base(name, description, expected, good.clone())
        }
    };
    cases.push(chain_case(
        "chain_expired",
        "the leaf expired in 2025",
        "CHAIN_EXPIRED",
        &|s| s[0].not_after = 1_735_689_600,
    ));
    cases.push(chain_case(
        "chain_not_yet_valid",
        "the BROM certificate starts in 2030",
        "CHAIN_NOT_YET_VALID",
        &|s| s[1].not_before = 1_893_456_000,
    ));
    cases.push(chain_case(
        "chain_not_ca",
        "the provisioner ICA is not a CA",
        "CHAIN_NOT_CA",
        &|s| s[2].ca = Some(false),
    ));
    cases.push(chain_case(
        "chain_key_usage",
        "the identity CA may not sign certificates",
        "CHAIN_KEY_USAGE",
        &|s| s[3].key_usage = Some(KeyUsages::DigitalSignature.into()),
    ));
    cases.push(chain_case(
        "chain_leaf_key_usage",
        "the leaf may not make signatures",
        "CHAIN_KEY_USAGE",
        &|s| s[0].key_usage = Some(KeyUsages::KeyCertSign.into()),
    ));
    cases.push(chain_case(
        "chain_path_len",
        "the identity CA allows no intermediate below it",
        "CHAIN_PATH_LEN",
        &|s| s[3].path_len = Some(0),
    ));
    cases.push(chain_case(
        "chain_unknown_critical_extension",
        "the BROM certificate carries an unknown critical extension",
        "CHAIN_UNKNOWN_CRITICAL_EXTENSION",
        &|s| {
            s[1].extra.push(RawExt {
                oid: der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
                critical: true,
                value: vec![5, 0],
            })
        },
    ));
    {
        // The BROM certificate signed by a key other than the ICA's.
        let mut keys = gpu.keys.clone();
        keys[2] = super::certs::derive_key(FIXTURE_SEED, "intruder");
        let mut certs = DevGpu::sign_all(&gpu.specs, &keys);
        certs.splice(2.., gpu.certs[2..].iter().cloned());
        cases.push(Case {
            chain_pem: super::certs::pem(&certs),
            ..base(
                "chain_bad_signature",
                "the BROM certificate's signature is by a key other than its issuer's",
                "CHAIN_BAD_SIGNATURE",
                good.clone(),
            )
        });
        // The BROM certificate names an issuer other than the ICA's subject (signed by the ICA key).
        let mut specs = gpu.specs.clone();
        specs[2].subject = "CN=OTR DEV Someone Else (NOT PRODUCTION),O=OTR Development".into();
        let mut certs = DevGpu::sign_all(&specs, &gpu.keys);
        certs.splice(2.., gpu.certs[2..].iter().cloned());
        cases.push(Case {
            chain_pem: super::certs::pem(&certs),
            ..base(
                "chain_issuer_mismatch",
                "the BROM certificate names another issuer than the ICA",
                "CHAIN_ISSUER_MISMATCH",
                good.clone(),
            )
        });
        cases.push(Case {
            chain_pem: super::certs::pem(&gpu.certs[..4]),
            ..base(
                "chain_wrong_length",
                "four certificates: the root is missing",
                "CHAIN_WRONG_LENGTH",
                good.clone(),
            )
        });
        cases.push(Case {
            chain_pem: "-----BEGIN CERTIFICATE-----\nMIIBAAo=\n-----END CERTIFICATE-----\n"
                .repeat(5),
            ..base(
                "chain_cert_decode",
                "five blocks that are not certificates",
                "CHAIN_CERT_DECODE",
                good.clone(),
            )
        });
    }

    // Leaf certificates whose key the verifier cannot use, each validly signed by the BROM
    // key: the rest of the chain and the report are the good ones.
    {
        use der::asn1::BitString;
        use der::{Decode, Encode};
        use sha2::{Digest, Sha256};
        use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
        use std::str::FromStr;

        let brom = x509_cert::name::Name::from_str(&gpu.specs[1].subject).expect("issuer name");
        let with_leaf = |spec: &CertSpec, spki: SubjectPublicKeyInfoOwned| {
            let leaf = super::certs::make_cert_with_spki(spec, spki, Some(&brom), &gpu.keys[1]);
            let mut certs = gpu.certs.clone();
            certs[0] = leaf;
            super::certs::pem(&certs)
        };
        // A secp256k1 key (the node's curve), with the leaf's FWID extension over that key.
        let k1 = k256::ecdsa::SigningKey::from_slice(&Sha256::digest(
            [b"OTR/dev-secp256k1-leaf/v1".as_slice(), FIXTURE_SEED].concat(),
        ))
        .expect("secp256k1 scalar");
        let k1_spki = k1.verifying_key().to_public_key_der().expect("spki");
        let mut spec = gpu.specs[0].clone();
        spec.extra = vec![super::certs::fwid_extension_for(
            k1_spki.as_bytes(),
            &gpu.fwid,
        )];
        cases.push(Case {
            chain_pem: with_leaf(
                &spec,
                SubjectPublicKeyInfoOwned::from_der(k1_spki.as_bytes()).expect("spki"),
            ),
            ..base(
                "chain_unsupported_key",
                "the leaf certificate's key is secp256k1, not P-384 (signed by the BROM key)",
                "CHAIN_UNSUPPORTED_ALGORITHM",
                good.clone(),
            )
        });
        // The leaf's own P-384 point with the last bit of y flipped: not on the curve.
        let mut spki = super::certs::p384_spki(&gpu.keys[0]);
        let mut point = spki.subject_public_key.raw_bytes().to_vec();
        *point.last_mut().expect("point") ^= 1;
        assert!(p384::PublicKey::from_sec1_bytes(&point).is_err());
        spki.subject_public_key = BitString::from_bytes(&point).expect("bit string");
        assert_ne!(
            spki.to_der().ok(),
            super::certs::p384_spki(&gpu.keys[0]).to_der().ok()
        );
        cases.push(Case {
            chain_pem: with_leaf(&gpu.specs[0], spki),
            ..base(
                "report_bad_leaf_key",
                "the leaf certificate's P-384 public key is not a point on the curve (y's last bit flipped before the BROM key signed it); the chain is valid, the report's signature cannot be checked",
                "REPORT_BAD_LEAF_KEY",
                good.clone(),
            )
        });
    }

    let root = gpu.root_pem();
    let dir = out.join("attestation");
    for c in &cases {
        let d = dir.join(c.name);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("report.hex"), hex::encode(&c.report) + "\n")?;
        std::fs::write(d.join("chain.pem"), &c.chain_pem)?;
        let mut manifest = json!({
            "description": c.description,
            "expected": c.expected,
            "nonce": hex::encode(c.nonce),
            "time": FIXTURE_TIME,
            "policy": c.policy,
            "made_by": "otr dev fixtures (prover-node/src/devattest/fixtures.rs), seed \"otr-fixtures-v1\"",
        });
        if c.trust_dev_root {
            manifest["dev_root"] = json!("../dev-root.pem");
        }
        std::fs::write(
            d.join("case.json"),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
    }
    std::fs::write(dir.join("dev-root.pem"), root)?;
    std::fs::write(
        dir.join("README.md"),
        "# Attestation fixtures\n\nMade by `otr dev fixtures --out fixtures` from a fixed seed with a locally generated\nP-384 hierarchy (NOT PRODUCTION). Each folder holds `report.hex`, `chain.pem` and `case.json`\n(description, expected verdict or error code, nonce, time, policy, whether `dev-root.pem` is\ntrusted). `core/tests/attestation_fixtures.rs` checks every case; `scripts/check-fixtures.sh`\nregenerates them and fails if a byte differs. Full-GPU cases (dev-signed reference manifests\nand OCSP answers on top of this evidence) are in `fixtures/gpu/`.\n",
    )?;
    Ok(cases.len())
}

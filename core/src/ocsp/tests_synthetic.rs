//! Self-made OCSP answers (see [`super::test_pki`]), one defect per test.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::test_pki::*;
use super::*;
use crate::crypto::RustCrypto;
use crate::error::ErrorCode;
use crate::x509::Certificate;

fn check(p: &Pki, der: &[u8], opts: &OcspOptions) -> Result<OcspVerdict, OcspError> {
    verify_ocsp(der, &p.leaf_cert, &p.ca_cert, now(), opts, &RustCrypto)
}

fn code(r: Result<OcspVerdict, OcspError>) -> &'static str {
    match r {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}

// ----------------------------------------------------------------------------------------------
// Tests

#[test]
fn good_answer_from_delegated_responder() {
    let p = pki();
    let v = check(&p, &Answer::good(&p).build(), &OcspOptions::default()).unwrap();
    assert_eq!(v.status, OcspStatus::Good);
    assert_eq!(v.responder, ResponderKind::Delegated);
    assert_eq!(v.responder_subject, "CN=Test OCSP Responder,O=OTR Test");
    assert_eq!(v.cert_serial_hex, "8a0102");
    assert_eq!(v.this_update, t("2025-03-01T11:00:00Z"));
    assert_eq!(v.next_update, Some(t("2025-03-02T11:00:00Z")));
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(
        json,
        r#"{"status":"good","produced_at":"2025-03-01T11:00:01Z","this_update":"2025-03-01T11:00:00Z","next_update":"2025-03-02T11:00:00Z","responder_subject":"CN=Test OCSP Responder,O=OTR Test","responder":"delegated","responder_checked_at":"2025-03-01T12:00:00Z","cert_serial_hex":"8a0102"}"#
    );
}

#[test]
fn good_answer_signed_by_the_issuer_by_name_and_by_key() {
    let p = pki();
    for rid in [by_name(&p.ca), by_key(&p.ca)] {
        let a = Answer {
            responder_id: rid,
            signer: &p.ca,
            certs: vec![],
            ..Answer::good(&p)
        };
        let v = check(&p, &a.build(), &OcspOptions::default()).unwrap();
        assert_eq!(v.responder, ResponderKind::Issuer);
        assert_eq!(v.responder_subject, "CN=Test CA,O=OTR Test");
    }
    // Delegated responder named by name works too.
    let a = Answer {
        responder_id: by_name(&p.responder),
        ..Answer::good(&p)
    };
    assert_eq!(code(check(&p, &a.build(), &OcspOptions::default())), "OK");
}

#[test]
fn cert_id_hash_algorithms() {
    let p = pki();
    for hash in [
        ("2.16.840.1.101.3.4.2.1", h256 as HashFn),
        ("1.3.14.3.2.26", h1),
    ] {
        let a = Answer {
            hash,
            ..Answer::good(&p)
        };
        assert_eq!(code(check(&p, &a.build(), &OcspOptions::default())), "OK");
    }
    // MD5 is not supported.
    let a = Answer {
        hash: ("1.2.840.113549.2.5", h256),
        ..Answer::good(&p)
    };
    assert_eq!(
        code(check(&p, &a.build(), &OcspOptions::default())),
        "OCSP_UNSUPPORTED"
    );
}

#[test]
fn revoked_hold_and_unknown() {
    let p = pki();
    let at = t("2025-02-01T00:00:00Z");
    let revoked = Answer {
        status: Status::Revoked(at, Some(1)),
        ..Answer::good(&p)
    }
    .build();
    let e = check(&p, &revoked, &OcspOptions::default()).unwrap_err();
    assert_eq!(
        e,
        OcspError::Revoked {
            serial: "8a0102".into(),
            revocation_time: at,
            reason: Some(CrlReason(1))
        }
    );
    assert_eq!(e.code(), "OCSP_REVOKED");
    assert_eq!(
        e.to_string(),
        "certificate 8a0102 revoked at 2025-02-01T00:00:00Z, reason keyCompromise (1)"
    );
    // Revoked without reason, even with allow_hold.
    let allow = OcspOptions {
        allow_hold: true,
        ..OcspOptions::default()
    };
    let no_reason = Answer {
        status: Status::Revoked(at, None),
        ..Answer::good(&p)
    }
    .build();
    assert_eq!(code(check(&p, &no_reason, &allow)), "OCSP_REVOKED");

    let hold = Answer {
        status: Status::Revoked(at, Some(6)),
        ..Answer::good(&p)
    }
    .build();
    let e = check(&p, &hold, &OcspOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            OcspError::Revoked {
                reason: Some(CrlReason::CERTIFICATE_HOLD),
                ..
            }
        ),
        "{e}"
    );
    let v = check(&p, &hold, &allow).unwrap();
    assert_eq!(v.status, OcspStatus::OnHold);
    assert_eq!(v.revocation_time, Some(at));
    assert!(serde_json::to_string(&v)
        .unwrap()
        .contains(r#""status":"on_hold","revocation_time":"2025-02-01T00:00:00Z""#));

    let unknown = Answer {
        status: Status::Unknown,
        ..Answer::good(&p)
    }
    .build();
    assert_eq!(
        code(check(&p, &unknown, &OcspOptions::default())),
        "OCSP_UNKNOWN_STATUS"
    );
}

#[test]
fn responder_without_ocsp_signing_eku_is_unauthorized() {
    let p = pki();
    let plain = make_cert(&CertSpec {
        subject: &p.responder,
        issuer: &p.ca,
        issuer_name: None,
        serial: &[0x21],
        role: Role::Leaf,
        not_before: t("2024-01-01T00:00:00Z"),
        not_after: t("2030-01-01T00:00:00Z"),
    });
    let a = Answer {
        certs: vec![plain],
        ..Answer::good(&p)
    };
    let e = check(&p, &a.build(), &OcspOptions::default()).unwrap_err();
    assert_eq!(e.code(), "OCSP_RESPONDER_UNAUTHORIZED");
    assert!(
        matches!(
            e,
            OcspError::ResponderUnauthorized {
                problem: ResponderProblem::MissingOcspSigningEku,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn responder_not_issued_by_the_issuer_is_unauthorized() {
    let p = pki();
    let base = CertSpec {
        subject: &p.responder,
        issuer: &p.other_ca,
        issuer_name: None,
        serial: &[0x22],
        role: Role::Responder,
        not_before: t("2024-01-01T00:00:00Z"),
        not_after: t("2030-01-01T00:00:00Z"),
    };
    // Issued (and signed) by another CA.
    let a = Answer {
        certs: vec![make_cert(&base)],
        ..Answer::good(&p)
    };
    let e = check(&p, &a.build(), &OcspOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            OcspError::ResponderUnauthorized {
                problem: ResponderProblem::IssuerNameMismatch,
                ..
            }
        ),
        "{e}"
    );
    // Names the right CA but is signed by another key.
    let forged = make_cert(&CertSpec {
        issuer_name: Some(&p.ca.name),
        ..base
    });
    let a = Answer {
        certs: vec![forged],
        ..Answer::good(&p)
    };
    let e = check(&p, &a.build(), &OcspOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            OcspError::ResponderUnauthorized {
                problem: ResponderProblem::IssuerSignatureInvalid,
                ..
            }
        ),
        "{e}"
    );
    // The root may not answer for the CA's leaf either (it is not the leaf's issuer).
    let a = Answer {
        responder_id: by_name(&p.root),
        signer: &p.root,
        certs: vec![],
        ..Answer::good(&p)
    };
    let e = check(&p, &a.build(), &OcspOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            OcspError::ResponderUnauthorized {
                problem: ResponderProblem::NotFound,
                ..
            }
        ),
        "{e}"
    );
    // Responder ID naming the included responder, signed by the wrong key.
    let a = Answer {
        signer: &p.leaf,
        ..Answer::good(&p)
    };
    assert_eq!(
        code(check(&p, &a.build(), &OcspOptions::default())),
        "OCSP_BAD_SIGNATURE"
    );
}

#[test]
fn responder_validity_follows_the_freshness_policy() {
    let p = pki();
    let short = make_cert(&CertSpec {
        subject: &p.responder,
        issuer: &p.ca,
        issuer_name: None,
        serial: &[0x23],
        role: Role::Responder,
        not_before: t("2024-01-01T00:00:00Z"),
        not_after: t("2025-03-01T11:30:00Z"),
    });
    let a = Answer {
        certs: vec![short],
        ..Answer::good(&p)
    }
    .build();
    let e = check(&p, &a, &OcspOptions::default()).unwrap_err();
    let OcspError::ResponderChain(inner) = &e else {
        panic!("{e}")
    };
    assert_eq!(inner.code(), "CHAIN_EXPIRED");
    let ignore = OcspOptions {
        freshness: Freshness::Ignore,
        ..OcspOptions::default()
    };
    assert_eq!(code(check(&p, &a, &ignore)), "OCSP_RESPONDER_CHAIN");
    let produced = OcspOptions {
        freshness: Freshness::AtProducedAt,
        ..OcspOptions::default()
    };
    let v = check(&p, &a, &produced).unwrap();
    assert_eq!(v.responder_checked_at, t("2025-03-01T11:00:01Z"));
}

#[test]
fn freshness_policies() {
    let p = pki();
    let a = Answer::good(&p).build();
    let at = |s: &str, f: Freshness| {
        let o = OcspOptions {
            freshness: f,
            ..OcspOptions::default()
        };
        code(verify_ocsp(
            &a,
            &p.leaf_cert,
            &p.ca_cert,
            t(s),
            &o,
            &RustCrypto,
        ))
    };
    let strict = Freshness::default();
    assert_eq!(strict, Freshness::Strict { skew_secs: 300 });
    assert_eq!(at("2025-03-01T10:55:00Z", strict), "OK");
    assert_eq!(at("2025-03-01T10:54:59Z", strict), "OCSP_NOT_YET_VALID");
    assert_eq!(at("2025-03-02T11:05:00Z", strict), "OK");
    assert_eq!(at("2025-03-02T11:05:01Z", strict), "OCSP_STALE");
    assert_eq!(
        at("2025-03-02T11:00:01Z", Freshness::Strict { skew_secs: 0 }),
        "OCSP_STALE"
    );
    assert_eq!(at("2025-06-01T00:00:00Z", Freshness::Ignore), "OK");
    assert_eq!(at("2029-06-01T00:00:00Z", Freshness::AtProducedAt), "OK");

    // producedAt outside thisUpdate..nextUpdate.
    let early = Answer {
        produced_at: t("2025-03-01T10:00:00Z"),
        ..Answer::good(&p)
    }
    .build();
    let late = Answer {
        produced_at: t("2025-03-03T10:00:00Z"),
        ..Answer::good(&p)
    }
    .build();
    let produced = OcspOptions {
        freshness: Freshness::AtProducedAt,
        ..OcspOptions::default()
    };
    assert_eq!(code(check(&p, &early, &produced)), "OCSP_NOT_YET_VALID");
    assert_eq!(code(check(&p, &late, &produced)), "OCSP_STALE");

    // No nextUpdate: strict accepts only around thisUpdate.
    let open = Answer {
        next_update: None,
        ..Answer::good(&p)
    }
    .build();
    assert_eq!(
        code(check(&p, &open, &OcspOptions::default())),
        "OCSP_STALE"
    );
    assert_eq!(code(check(&p, &open, &produced)), "OK");
}

#[test]
fn nonce() {
    let p = pki();
    let with = Answer {
        nonce: Some(vec![0x11; 32]),
        ..Answer::good(&p)
    }
    .build();
    let want = |n: &[u8]| OcspOptions {
        expected_nonce: Some(n.to_vec()),
        ..OcspOptions::default()
    };
    assert_eq!(code(check(&p, &with, &want(&[0x11; 32]))), "OK");
    let e = check(&p, &with, &want(&[0x22; 32])).unwrap_err();
    assert_eq!(e.code(), "OCSP_NONCE_MISMATCH");
    assert_eq!(
        e,
        OcspError::NonceMismatch {
            got: Some(format!("0420{}", "11".repeat(32))),
            expected: "22".repeat(32)
        }
    );
    let without = Answer::good(&p).build();
    let e = check(&p, &without, &want(&[0x11; 32])).unwrap_err();
    assert_eq!(
        e,
        OcspError::NonceMismatch {
            got: None,
            expected: "11".repeat(32)
        }
    );
    // Not asked for: ignored.
    assert_eq!(code(check(&p, &with, &OcspOptions::default())), "OK");
}

#[test]
fn wrong_certificate_or_issuer_has_no_matching_response() {
    let p = pki();
    let a = Answer::good(&p).build();
    // Another certificate of the same CA (the responder's).
    let other = Certificate::from_der(&p.responder_der).unwrap();
    let e = verify_ocsp(
        &a,
        &other,
        &p.ca_cert,
        now(),
        &OcspOptions::default(),
        &RustCrypto,
    )
    .unwrap_err();
    assert_eq!(
        e,
        OcspError::NoMatchingResponse {
            expected_serial: "20".into(),
            answered_serials: vec!["8a0102".into()],
            reason: NoMatch::SerialNotFound,
        }
    );
    // Same serial, answered for another issuer.
    let a2 = Answer {
        issuer_key: p.other_ca.sec1(),
        ..Answer::good(&p)
    }
    .build();
    let e = check(&p, &a2, &OcspOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            OcspError::NoMatchingResponse {
                reason: NoMatch::IssuerHashMismatch,
                ..
            }
        ),
        "{e}"
    );
    // The caller passes an issuer that did not issue the certificate.
    let e = verify_ocsp(
        &a,
        &p.leaf_cert,
        &p.leaf_cert,
        now(),
        &OcspOptions::default(),
        &RustCrypto,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            OcspError::NoMatchingResponse {
                reason: NoMatch::CertNotIssuedByIssuer,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn signature_over_other_bytes_is_rejected() {
    let p = pki();
    let a = Answer::good(&p);
    let tbs = a.tbs();
    let mut other = tbs.clone();
    other.push(0);
    let e = check(&p, &a.build_with_tbs(&tbs, &other), &OcspOptions::default()).unwrap_err();
    assert_eq!(
        e,
        OcspError::BadSignature {
            responder: "CN=Test OCSP Responder,O=OTR Test".into()
        }
    );
}

#[test]
fn response_status_type_and_extensions() {
    let p = pki();
    let try_later = seq(&[&tlv(0x0a, &[3])]);
    let e = check(&p, &try_later, &OcspOptions::default()).unwrap_err();
    assert_eq!(
        e,
        OcspError::StatusNotSuccessful {
            status: ResponseStatus::TryLater
        }
    );
    assert_eq!(
        e.to_string(),
        "OCSP responder answered tryLater (3), expected successful"
    );
    // Successful without responseBytes is malformed.
    assert_eq!(
        code(check(
            &p,
            &seq(&[&tlv(0x0a, &[0])]),
            &OcspOptions::default()
        )),
        "OCSP_DECODE"
    );

    let other_type = Answer {
        response_type: "1.3.6.1.5.5.7.48.1.99",
        ..Answer::good(&p)
    }
    .build();
    assert_eq!(
        code(check(&p, &other_type, &OcspOptions::default())),
        "OCSP_UNSUPPORTED"
    );

    let crit = seq(&[&oid("1.2.3.4"), &tlv(0x01, &[0xff]), &octets(&[5])]);
    let a = Answer {
        extra_response_ext: Some(crit),
        ..Answer::good(&p)
    }
    .build();
    let e = check(&p, &a, &OcspOptions::default()).unwrap_err();
    assert_eq!(
        e,
        OcspError::Unsupported {
            what: "critical extension",
            got: "1.2.3.4".into()
        }
    );
    let non_crit = seq(&[&oid("1.2.3.4"), &octets(&[5])]);
    let a = Answer {
        extra_response_ext: Some(non_crit),
        ..Answer::good(&p)
    }
    .build();
    assert_eq!(code(check(&p, &a, &OcspOptions::default())), "OK");
}

#[test]
fn budgets() {
    let p = pki();
    let a = Answer {
        certs: vec![p.responder_der.clone(); MAX_OCSP_CERTS + 1],
        ..Answer::good(&p)
    };
    let e = check(&p, &a.build(), &OcspOptions::default()).unwrap_err();
    assert_eq!(
        e,
        OcspError::TooLarge {
            what: "certificates",
            got: MAX_OCSP_CERTS + 1,
            max: MAX_OCSP_CERTS
        }
    );
    let big = vec![0x30; MAX_OCSP_LEN + 1];
    assert_eq!(
        code(check(&p, &big, &OcspOptions::default())),
        "OCSP_TOO_LARGE"
    );
    assert_eq!(
        decode_ocsp_input(&big).unwrap_err().code(),
        "OCSP_TOO_LARGE"
    );
    let text = vec![b'A'; MAX_OCSP_TEXT_LEN + 1];
    assert_eq!(
        decode_ocsp_input(&text).unwrap_err().code(),
        "OCSP_TOO_LARGE"
    );
}

#[test]
fn base64_input_and_truncation() {
    let p = pki();
    let der = Answer::good(&p).build();
    let text = crate::encoding::base64_encode(&der);
    let wrapped: String = text
        .as_bytes()
        .chunks(64)
        .map(|c| core::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(decode_ocsp_input(wrapped.as_bytes()).unwrap(), der);
    for n in 0..der.len() {
        let e = check(&p, &der[..n], &OcspOptions::default()).unwrap_err();
        assert!(
            matches!(e, OcspError::Decode { offset, .. } if offset <= n),
            "len {n}: {e}"
        );
    }
}

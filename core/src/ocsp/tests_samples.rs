//! Tests on the real NVIDIA OCSP answers stored in `shared/nvidia-samples` (A1 set).
//! Skipped (with a message) when the samples are not present.

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::PathBuf;
use std::println;

use super::*;
use crate::crypto::RustCrypto;
use crate::encoding::{base64_decode_lenient, pem_certificates};
use crate::error::ErrorCode;
use crate::x509::{parse_chain, Certificate};

/// The fixed "now" of the sample index (2026-11-26).
fn now() -> UnixTime {
    UnixTime::parse_rfc3339("2026-11-26T00:00:00Z").unwrap()
}

fn samples() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/nvidia-samples"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        println!("NVIDIA samples not found at {}; skipping", p.display());
        None
    }
}

/// The base64 bodies of the `X509Certificate` elements of a RIM's KeyInfo, in order.
fn rim_chain(xml: &str) -> Vec<Certificate> {
    let mut ders = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("X509Certificate>") {
        let after = &rest[i + "X509Certificate>".len()..];
        let end = after.find('<').unwrap();
        let body = after[..end].trim();
        if !body.is_empty() {
            ders.push(base64_decode_lenient(body.as_bytes()).unwrap());
        }
        rest = &after[end..];
    }
    parse_chain(&ders).unwrap()
}

struct Fixture {
    device: Vec<Certificate>,
    driver: Vec<Certificate>,
    vbios: Vec<Certificate>,
    dir: PathBuf,
}

impl Fixture {
    fn load() -> Option<Self> {
        let dir = samples()?;
        let pem = std::fs::read(dir.join("nvtrust/hopperCertChain.txt")).unwrap();
        let device = parse_chain(&pem_certificates(&pem).unwrap()).unwrap();
        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
        let driver = rim_chain(&read(
            "go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml",
        ));
        let vbios = rim_chain(&read(
            "go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml",
        ));
        Some(Fixture {
            device,
            driver,
            vbios,
            dir,
        })
    }

    fn answer(&self, name: &str) -> Vec<u8> {
        let path = self.dir.join("go-nvattest-tools/ocsp").join(alloc::format!(
            "test_gpu_{name}_base64encoded_ocsp_response.dat"
        ));
        decode_ocsp_input(&std::fs::read(path).unwrap()).unwrap()
    }

    fn chain(&self, which: &str) -> &[Certificate] {
        match which {
            "device" => &self.device,
            "driver" => &self.driver,
            _ => &self.vbios,
        }
    }
}

/// (answer file, chain, index of the certificate it answers for, responder CN).
const CASES: &[(&str, &str, usize, &str)] = &[
    (
        "certificate_l4",
        "device",
        1,
        "NVIDIA OCSP Responder L3 GH100 ICA1 Identity",
    ),
    (
        "certificate_l3",
        "device",
        2,
        "NVIDIA OCSP Responder L2 GH100 Identity",
    ),
    (
        "certificate_l2",
        "device",
        3,
        "NVIDIA OCSP Responder L1-A 02",
    ),
    (
        "driver_rim_l4",
        "driver",
        0,
        "NVIDIA OCSP Responder L3 GH100 002",
    ),
    ("vbios_l4", "vbios", 0, "NVIDIA OCSP Responder L3 GH100 002"),
    (
        "driver_rim_l3",
        "driver",
        1,
        "NVIDIA OCSP Responder L2 Reference Value GH100",
    ),
    ("rim_l2", "driver", 2, "NVIDIA OCSP Responder L1 CoRIM Root"),
    // The VBIOS RIM signer shares its CA certificates with the driver RIM signer.
    (
        "driver_rim_l3",
        "vbios",
        1,
        "NVIDIA OCSP Responder L2 Reference Value GH100",
    ),
    ("rim_l2", "vbios", 2, "NVIDIA OCSP Responder L1 CoRIM Root"),
];

fn opts(freshness: Freshness) -> OcspOptions {
    OcspOptions {
        freshness,
        ..OcspOptions::default()
    }
}

fn verify_at(
    answer: &[u8],
    chain: &[Certificate],
    i: usize,
    time: UnixTime,
    fr: Freshness,
) -> Result<OcspVerdict, OcspError> {
    verify_ocsp(
        answer,
        &chain[i],
        &chain[i + 1],
        time,
        &opts(fr),
        &RustCrypto,
    )
}

#[test]
fn each_answer_is_for_exactly_the_expected_certificate() {
    let Some(f) = Fixture::load() else { return };
    assert_eq!((f.device.len(), f.driver.len(), f.vbios.len()), (5, 4, 4));
    for (name, chain, index, _) in CASES {
        let answer = f.answer(name);
        let c = f.chain(chain);
        let hits: Vec<usize> = (0..c.len() - 1)
            .filter(|&i| verify_at(&answer, c, i, now(), Freshness::AtProducedAt).is_ok())
            .collect();
        assert_eq!(hits, [*index], "{name}");
        for i in (0..c.len() - 1).filter(|i| i != index) {
            let e = verify_at(&answer, c, i, now(), Freshness::AtProducedAt).unwrap_err();
            assert_eq!(
                e.code(),
                "OCSP_NO_MATCHING_RESPONSE",
                "{name} for cert {i}: {e}"
            );
        }
    }
}

#[test]
fn real_answers_are_good_at_produced_at_and_inside_their_window() {
    let Some(f) = Fixture::load() else { return };
    for (name, chain, i, responder_cn) in CASES {
        let answer = f.answer(name);
        let c = f.chain(chain);
        let v = verify_at(&answer, c, *i, now(), Freshness::AtProducedAt).unwrap();
        println!(
            "{name}: serial {} responder {:?} producedAt {} thisUpdate {} nextUpdate {:?}",
            v.cert_serial_hex, v.responder_subject, v.produced_at, v.this_update, v.next_update
        );
        assert_eq!(v.status, OcspStatus::Good);
        assert_eq!(v.responder, ResponderKind::Delegated);
        assert!(
            v.responder_subject.contains(responder_cn),
            "{}",
            v.responder_subject
        );
        assert_eq!(v.responder_checked_at, v.produced_at);
        let next = v.next_update.unwrap();
        assert_eq!(next.0 - v.this_update.0, 86_400, "{name}: 24 h validity");
        assert_eq!(
            v.cert_serial_hex,
            hex::encode(&c[*i].serial).trim_start_matches("00")
        );

        // Strict, one hour into the validity window.
        let inside = UnixTime(v.this_update.0 + 3600);
        let s = verify_at(&answer, c, *i, inside, Freshness::default()).unwrap();
        assert_eq!(s.status, OcspStatus::Good);
        assert_eq!(s.responder_checked_at, inside);

        // Strict, a week later: stale.
        let later = UnixTime(v.this_update.0 + 7 * 86_400);
        let e = verify_at(&answer, c, *i, later, Freshness::default()).unwrap_err();
        assert_eq!(e.code(), "OCSP_STALE", "{name}: {e}");
        assert_eq!(
            e,
            OcspError::Stale {
                next_update: next,
                time: later,
                skew_secs: 300
            }
        );

        // Strict, before thisUpdate (beyond the skew): not yet valid.
        let before = UnixTime(v.this_update.0 - 301);
        let e = verify_at(&answer, c, *i, before, Freshness::default()).unwrap_err();
        assert_eq!(e.code(), "OCSP_NOT_YET_VALID", "{name}: {e}");
        let edge = UnixTime(v.this_update.0 - 300);
        assert!(verify_at(&answer, c, *i, edge, Freshness::default()).is_ok());
    }
}

#[test]
fn device_answers_outlive_their_responder() {
    // The device-chain responder "L1-A 02" expired 2025-09-21: ignoring freshness at "now" still
    // fails on the responder chain, as NVIDIA's Python verifier does.
    let Some(f) = Fixture::load() else { return };
    let answer = f.answer("certificate_l2");
    let e = verify_at(&answer, &f.device, 3, now(), Freshness::Ignore).unwrap_err();
    assert_eq!(e.code(), "OCSP_RESPONDER_CHAIN");
    let OcspError::ResponderChain(inner) = &e else {
        unreachable!()
    };
    assert_eq!(inner.code(), "CHAIN_EXPIRED", "{e}");
    let t = UnixTime::parse_rfc3339("2025-09-21T23:59:59Z").unwrap();
    assert!(verify_at(&answer, &f.device, 3, t, Freshness::Ignore).is_ok());
}

#[test]
fn base64_and_der_inputs_agree() {
    let Some(f) = Fixture::load() else { return };
    let path = f
        .dir
        .join("go-nvattest-tools/ocsp/test_gpu_certificate_l4_base64encoded_ocsp_response.dat");
    let text = std::fs::read(path).unwrap();
    let der = decode_ocsp_input(&text).unwrap();
    assert_eq!(der[0], 0x30);
    assert_eq!(decode_ocsp_input(&der).unwrap(), der);
    let e = decode_ocsp_input(b"not base64 !").unwrap_err();
    assert_eq!(e.code(), "OCSP_DECODE");
}

#[test]
fn flipped_signature_byte_is_rejected() {
    let Some(f) = Fixture::load() else { return };
    let answer = f.answer("certificate_l3");
    let Some(ResponseBody::Basic(basic)) = parse_ocsp_response(&answer).unwrap().body else {
        panic!("basic response expected")
    };
    let sig_at = basic.signature.as_ptr() as usize - answer.as_ptr() as usize;
    let sig_len = basic.signature.len();
    for k in 0..sig_len {
        let mut bad = answer.clone();
        bad[sig_at + k] ^= 0x01;
        let e = verify_at(&bad, &f.device, 2, now(), Freshness::AtProducedAt).unwrap_err();
        assert!(
            matches!(e.code(), "OCSP_BAD_SIGNATURE" | "OCSP_DECODE"),
            "byte {k}: {e}"
        );
    }
    // A byte inside r: a well-formed signature that does not verify.
    let mut bad = answer.clone();
    bad[sig_at + 10] ^= 0x01;
    let e = verify_at(&bad, &f.device, 2, now(), Freshness::AtProducedAt).unwrap_err();
    assert_eq!(e.code(), "OCSP_BAD_SIGNATURE", "{e}");
    // The last byte of the signed data (the 'Z' of nextUpdate): a decode error or a bad signature.
    let mut bad = answer.clone();
    let tbs_at = basic.tbs_der.as_ptr() as usize - answer.as_ptr() as usize;
    bad[tbs_at + basic.tbs_der.len() - 1] ^= 0x01;
    let e = verify_at(&bad, &f.device, 2, now(), Freshness::AtProducedAt).unwrap_err();
    assert!(
        matches!(e.code(), "OCSP_BAD_SIGNATURE" | "OCSP_DECODE"),
        "{e}"
    );
}

#[test]
fn truncated_and_mangled_inputs_fail_cleanly() {
    let Some(f) = Fixture::load() else { return };
    let answer = f.answer("driver_rim_l4");
    for n in 0..answer.len() {
        let e = verify_at(&answer[..n], &f.driver, 0, now(), Freshness::AtProducedAt).unwrap_err();
        match e {
            OcspError::Decode { offset, .. } => assert!(offset <= n, "len {n}: {e}"),
            _ => panic!("len {n}: {e}"),
        }
    }
    let e = verify_at(&answer[..500], &f.driver, 0, now(), Freshness::AtProducedAt).unwrap_err();
    assert_eq!(
        e,
        OcspError::Decode {
            offset: 500,
            reason: "truncated input"
        }
    );
    // Every single-bit change parses or fails with a decode error, never panics.
    for i in 0..answer.len() {
        let mut bad = answer.clone();
        bad[i] ^= 0x80;
        let _ = parse_ocsp_response(&bad);
    }
    let mut long = answer.clone();
    long.push(0);
    let e = verify_at(&long, &f.driver, 0, now(), Freshness::AtProducedAt).unwrap_err();
    assert_eq!(e.code(), "OCSP_DECODE");
}

#[test]
fn real_answer_without_nonce_fails_expected_nonce() {
    let Some(f) = Fixture::load() else { return };
    let answer = f.answer("vbios_l4");
    let o = OcspOptions {
        freshness: Freshness::AtProducedAt,
        expected_nonce: Some([0xab; 32].to_vec()),
        ..OcspOptions::default()
    };
    let e = verify_ocsp(&answer, &f.vbios[0], &f.vbios[1], now(), &o, &RustCrypto).unwrap_err();
    assert_eq!(e.code(), "OCSP_NONCE_MISMATCH");
    assert!(e.to_string().contains("no nonce"), "{e}");
    // The same answer about the right serial but with a wrong issuer.
    let e = verify_ocsp(
        &answer,
        &f.vbios[0],
        &f.vbios[2],
        now(),
        &opts(Freshness::AtProducedAt),
        &RustCrypto,
    )
    .unwrap_err();
    assert_eq!(e.code(), "OCSP_NO_MATCHING_RESPONSE");
    let msg: String = e.to_string();
    assert!(msg.contains("89624ede804c3916"), "{msg}");
}

//! X.509 certificates and chains. Input: up to 6 DER blobs, each behind a 2-byte big-endian
//! length (a short last blob takes what is left). The whole input is also one DER certificate.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use otr_core::attestation::TrustAnchors;
use otr_core::crypto::RustCrypto;
use otr_core::time::UnixTime;
use otr_core::x509::{self, Certificate, ChainOptions, OID_KP_OCSP_SIGNING};

/// 2026-01-01T00:00:00Z, the fixtures' "now".
const NOW: UnixTime = UnixTime(1_767_225_600);
const DEV_ROOT_PEM: &[u8] = include_bytes!("../../fixtures/attestation/dev-root.pem");

/// NVIDIA's device root and the fixtures' dev root (so seeds built from fixture chains get past
/// the anchor check).
fn anchors() -> &'static [Certificate] {
    static ANCHORS: OnceLock<Vec<Certificate>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        let dev = otr_core::encoding::pem_certificates(DEV_ROOT_PEM).expect("dev root pem");
        let dev = Certificate::from_der(&dev[0]).expect("dev root der");
        let anchors = TrustAnchors::nvidia().with_dev_root(dev);
        anchors.device.iter().map(|a| a.cert.clone()).collect()
    })
}

fn split(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < 6 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(data[2..2 + n].to_vec());
        data = &data[2 + n..];
    }
    out
}

fn touch(c: &Certificate) {
    let _ = (c.fingerprint(), c.serial_decimal(), c.subject_cn());
    let _ = (
        c.public_key_p384(),
        c.is_self_issued(),
        c.allows_digital_signature(),
    );
    let _ = c.extension("2.23.133.5.4.1");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::from_der(data) {
        touch(&c);
    }
    let Ok(certs) = x509::parse_chain(&split(data)) else {
        return;
    };
    certs.iter().for_each(touch);
    let opts = ChainOptions {
        expected_len: None,
        leaf_eku: (data.len() % 2 == 1).then_some(OID_KP_OCSP_SIGNING),
        leaf_digital_signature: true,
    };
    let _ = x509::verify_chain(&certs, anchors(), NOW, &RustCrypto, &opts);
});

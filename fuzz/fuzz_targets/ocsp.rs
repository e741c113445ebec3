//! OCSP answers: DER-or-base64 input decoding, the DER parser, and full verification about the
//! fixtures' dev leaf certificate and its issuer.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use otr_core::crypto::RustCrypto;
use otr_core::ocsp::{self, Freshness, OcspOptions};
use otr_core::time::UnixTime;
use otr_core::x509::Certificate;

/// 2026-01-01T00:00:00Z, the fixtures' "now".
const NOW: UnixTime = UnixTime(1_767_225_600);
const CHAIN_PEM: &[u8] = include_bytes!("../../fixtures/attestation/ok/chain.pem");

/// (leaf, issuer) of the fixtures' dev chain.
fn pair() -> &'static (Certificate, Certificate) {
    static PAIR: OnceLock<(Certificate, Certificate)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let ders = otr_core::encoding::pem_certificates(CHAIN_PEM).expect("chain pem");
        let cert = |i: usize| Certificate::from_der(&ders[i]).expect("chain der");
        (cert(0), cert(1))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(der) = ocsp::decode_ocsp_input(data) else {
        return;
    };
    if ocsp::parse_ocsp_response(&der).is_err() {
        return;
    }
    let (leaf, issuer) = pair();
    let freshness = match data.len() % 3 {
        0 => Freshness::default(),
        1 => Freshness::AtProducedAt,
        _ => Freshness::Ignore,
    };
    let opts = OcspOptions {
        freshness,
        allow_hold: data.len() % 2 == 0,
        expected_nonce: (data.len() % 5 == 0).then(|| vec![0x42; 32]),
    };
    let _ = ocsp::verify_ocsp(&der, leaf, issuer, NOW, &opts, &RustCrypto);
});

//! The platform's ECDSA P-384 (the system OpenSSL) behind `otr-core`'s pluggable
//! [`SignatureVerifier`]: the native node and CLI use it because it is about twice as fast as the
//! pure-Rust `p384` crate here. Verdicts are identical (tested below on real and forged
//! signatures); the WASM build keeps the pure-Rust default.

use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use otr_core::crypto::{HashAlg, SigFailure, SignatureVerifier};

/// ECDSA P-384 verification by the system OpenSSL.
pub struct OpensslVerifier {
    group: EcGroup,
    order: BigNum,
}

impl std::fmt::Debug for OpensslVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpensslVerifier")
    }
}

impl OpensslVerifier {
    pub fn new() -> Self {
        let group = EcGroup::from_curve_name(Nid::SECP384R1).expect("OpenSSL lacks P-384");
        let mut order = BigNum::new().expect("bignum");
        let mut ctx = openssl::bn::BigNumContext::new().expect("bignum context");
        group.order(&mut order, &mut ctx).expect("group order");
        OpensslVerifier { group, order }
    }
}

impl Default for OpensslVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl SignatureVerifier for OpensslVerifier {
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure> {
        if sig_rs.len() != 96 {
            return Err(SigFailure::BadSignature);
        }
        let mut ctx = openssl::bn::BigNumContext::new().map_err(|_| SigFailure::BadKey)?;
        let point = EcPoint::from_bytes(&self.group, public_key, &mut ctx)
            .map_err(|_| SigFailure::BadKey)?;
        // Decoding checks the point is on the curve; P-384 has cofactor 1, so that is the whole
        // public-key validation (EC_KEY_check_key would add a scalar multiplication).
        let key = EcKey::from_public_key(&self.group, &point).map_err(|_| SigFailure::BadKey)?;
        let r = BigNum::from_slice(&sig_rs[..48]).map_err(|_| SigFailure::BadSignature)?;
        let s = BigNum::from_slice(&sig_rs[48..]).map_err(|_| SigFailure::BadSignature)?;
        // Same range rule as the pure-Rust verifier: 0 < r, s < n.
        if r.num_bits() == 0 || s.num_bits() == 0 || r >= self.order || s >= self.order {
            return Err(SigFailure::BadSignature);
        }
        let sig = EcdsaSig::from_private_components(r, s).map_err(|_| SigFailure::BadSignature)?;
        let mut buf = [0u8; 64];
        let n = hash.digest_into(msg, &mut buf);
        match sig.verify(&buf[..n], &key) {
            Ok(true) => Ok(()),
            _ => Err(SigFailure::Mismatch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otr_core::crypto::RustCrypto;
    use p384::ecdsa::{signature::Signer, Signature, SigningKey};

    #[test]
    fn same_verdicts_as_rustcrypto() {
        let ossl = OpensslVerifier::new();
        for seed in 1u8..6 {
            let sk = SigningKey::from_slice(&[seed; 48]).unwrap();
            let pk = sk.verifying_key().to_encoded_point(false);
            let msg = [seed; 100];
            let sig: Signature = sk.sign(&msg);
            let good = sig.to_bytes().to_vec();
            let mut flipped = good.clone();
            flipped[10] ^= 1;
            let mut zero = good.clone();
            zero[..48].fill(0);
            let max = vec![0xff; 96];
            for (k, m, s) in [
                (pk.as_bytes().to_vec(), msg.to_vec(), good.clone()),
                (pk.as_bytes().to_vec(), b"other".to_vec(), good.clone()),
                (pk.as_bytes().to_vec(), msg.to_vec(), flipped),
                (pk.as_bytes().to_vec(), msg.to_vec(), zero),
                (pk.as_bytes().to_vec(), msg.to_vec(), max),
                (vec![4; 97], msg.to_vec(), good.clone()),
                (pk.as_bytes()[..50].to_vec(), msg.to_vec(), good.clone()),
            ] {
                for h in [HashAlg::Sha256, HashAlg::Sha384] {
                    let a = ossl.verify_p384(h, &k, &m, &s).is_ok();
                    let b = RustCrypto.verify_p384(h, &k, &m, &s).is_ok();
                    assert_eq!(a, b);
                }
            }
            assert!(ossl
                .verify_p384(HashAlg::Sha384, pk.as_bytes(), &msg, &good)
                .is_ok());
        }
    }
}

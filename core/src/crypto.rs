//! Signature primitives, pluggable (DESIGN principle 9).
//!
//! Every ECDSA check in the attestation path goes through [`SignatureVerifier`], so a host can
//! route it elsewhere (WebCrypto in a browser) as long as the verdicts are identical. The default,
//! [`RustCrypto`], uses the `p384` crate.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// The digest an ECDSA signature was made over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// Hashes `msg` with this algorithm into `out`, returning the digest length.
    pub fn digest_into(self, msg: &[u8], out: &mut [u8; 64]) -> usize {
        match self {
            HashAlg::Sha256 => {
                out[..32].copy_from_slice(&Sha256::digest(msg));
                32
            }
            HashAlg::Sha384 => {
                out[..48].copy_from_slice(&Sha384::digest(msg));
                48
            }
            HashAlg::Sha512 => {
                out[..64].copy_from_slice(&Sha512::digest(msg));
                64
            }
        }
    }
}

/// Why a signature check failed. Hosts map their own failures onto these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFailure {
    /// The public key is not a valid point on the curve.
    BadKey,
    /// The signature bytes are malformed (wrong length, r or s out of range).
    BadSignature,
    /// Well-formed, but the signature does not verify.
    Mismatch,
}

/// ECDSA P-384 verification over `hash(msg)`.
pub trait SignatureVerifier {
    /// `public_key` is a SEC1-encoded P-384 point (uncompressed `04 || x || y` or compressed);
    /// `sig_rs` is the raw 96-byte `r || s` form.
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure>;
}

impl<T: SignatureVerifier + ?Sized> SignatureVerifier for &T {
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure> {
        (**self).verify_p384(hash, public_key, msg, sig_rs)
    }
}

/// The default verifier: pure Rust (`p384` crate), constant verdicts on every platform.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

impl SignatureVerifier for RustCrypto {
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure> {
        use p384::ecdsa::signature::hazmat::PrehashVerifier;
        let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
            .map_err(|_| SigFailure::BadKey)?;
        let sig =
            p384::ecdsa::Signature::from_slice(sig_rs).map_err(|_| SigFailure::BadSignature)?;
        let mut buf = [0u8; 64];
        let n = hash.digest_into(msg, &mut buf);
        key.verify_prehash(&buf[..n], &sig)
            .map_err(|_| SigFailure::Mismatch)
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-384 of `data`.
pub fn sha384(data: &[u8]) -> [u8; 48] {
    Sha384::digest(data).into()
}

/// Converts a DER `ECDSA-Sig-Value` (SEQUENCE { r INTEGER, s INTEGER }) into raw P-384 `r || s`.
pub fn der_sig_to_rs384(der_sig: &[u8]) -> Option<[u8; 96]> {
    let sig = p384::ecdsa::Signature::from_der(der_sig).ok()?;
    let mut out = [0u8; 96];
    out.copy_from_slice(&sig.to_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::{signature::Signer, Signature, SigningKey};

    #[test]
    fn verifies_and_rejects() {
        let sk = SigningKey::from_slice(&[7u8; 48]).unwrap();
        let pk = sk.verifying_key().to_encoded_point(false);
        let sig: Signature = sk.sign(b"hello");
        let rs = sig.to_bytes();
        assert_eq!(
            RustCrypto.verify_p384(HashAlg::Sha384, pk.as_bytes(), b"hello", &rs),
            Ok(())
        );
        assert_eq!(
            RustCrypto.verify_p384(HashAlg::Sha384, pk.as_bytes(), b"hellp", &rs),
            Err(SigFailure::Mismatch)
        );
        assert_eq!(
            RustCrypto.verify_p384(HashAlg::Sha384, &[4, 1, 2], b"hello", &rs),
            Err(SigFailure::BadKey)
        );
        assert_eq!(
            RustCrypto.verify_p384(HashAlg::Sha384, pk.as_bytes(), b"hello", &rs[..95]),
            Err(SigFailure::BadSignature)
        );
        let der = sig.to_der();
        assert_eq!(der_sig_to_rs384(der.as_bytes()).unwrap()[..], rs[..]);
    }
}

/// Identifies one signature check by content: SHA-256 over the algorithm, the length-prefixed
/// key and signature, and the message. Equal ids mean exactly the same check.
pub fn signature_check_id(hash: HashAlg, public_key: &[u8], msg: &[u8], sig_rs: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([hash as u8]);
    for part in [public_key, sig_rs] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.update(msg);
    h.finalize().into()
}

/// A verifier that remembers the signatures it has already accepted (DESIGN principle 9).
///
/// Intermediate certificates, reference manifests and OCSP answers are shared by many reports;
/// their signatures need checking once. The cache key is SHA-256 over the algorithm, key,
/// signature and message, so a hit is exactly the same check; only successes are stored, and
/// time-dependent checks (validity, freshness) are never cached: they run on every call.
/// Bounded: when full, the cache is cleared.
#[derive(Debug)]
pub struct CachingVerifier<V> {
    inner: V,
    seen: core::cell::RefCell<alloc::collections::BTreeSet<[u8; 32]>>,
    capacity: usize,
    hits: core::cell::Cell<u64>,
}

impl<V: SignatureVerifier> CachingVerifier<V> {
    pub fn new(inner: V, capacity: usize) -> Self {
        CachingVerifier {
            inner,
            seen: Default::default(),
            capacity,
            hits: Default::default(),
        }
    }

    /// How many checks were answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.get()
    }

    /// Number of remembered signatures.
    pub fn len(&self) -> usize {
        self.seen.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<V: SignatureVerifier> SignatureVerifier for CachingVerifier<V> {
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure> {
        let key = signature_check_id(hash, public_key, msg, sig_rs);
        if self.seen.borrow().contains(&key) {
            self.hits.set(self.hits.get() + 1);
            return Ok(());
        }
        self.inner.verify_p384(hash, public_key, msg, sig_rs)?;
        let mut seen = self.seen.borrow_mut();
        if seen.len() >= self.capacity {
            seen.clear();
        }
        seen.insert(key);
        Ok(())
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use p384::ecdsa::{signature::Signer, Signature, SigningKey};

    #[test]
    fn caches_only_successes() {
        let sk = SigningKey::from_slice(&[9u8; 48]).unwrap();
        let pk = sk.verifying_key().to_encoded_point(false);
        let sig: Signature = sk.sign(b"m");
        let c = CachingVerifier::new(RustCrypto, 2);
        let rs = sig.to_bytes();
        assert!(c
            .verify_p384(HashAlg::Sha384, pk.as_bytes(), b"m", &rs)
            .is_ok());
        assert!(c
            .verify_p384(HashAlg::Sha384, pk.as_bytes(), b"m", &rs)
            .is_ok());
        assert_eq!(c.hits(), 1);
        assert!(c
            .verify_p384(HashAlg::Sha384, pk.as_bytes(), b"x", &rs)
            .is_err());
        assert!(c
            .verify_p384(HashAlg::Sha384, pk.as_bytes(), b"x", &rs)
            .is_err());
        assert_eq!(c.hits(), 1);
        assert_eq!(c.len(), 1);
    }
}

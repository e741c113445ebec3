//! Where the P-384 signature checks go (DESIGN principle 9): the pure-Rust `p384` crate, a set of
//! signatures already verified, or the platform's WebCrypto.
//!
//! WebCrypto is asynchronous and the core's `SignatureVerifier` is not, so the platform is used
//! in two passes: [`Recorder`] runs a verification answering every unknown check "valid" and
//! records it; the host verifies the recorded checks with WebCrypto; [`Checker`] then runs the
//! verification for real, accepting a check only if it is known good or the platform verified
//! that exact check (same hash, key, message and signature), and asking `p384` about anything
//! else, including every check the platform rejected or could not do. So the platform is trusted
//! only for the exact checks it confirms (WebCrypto: the browser's or Node's own ECDSA), and every
//! failure, with its error code, is the pure-Rust one. When the first pass finds nothing unknown
//! its result is already final (every check came from the known-good set).

use std::cell::RefCell;
use std::collections::BTreeSet;

use otr_core::crypto::{HashAlg, RustCrypto, SigFailure, SignatureVerifier};

/// Names one signature check: SHA-256 over the hash algorithm, the key, the signature and the
/// message (the key scheme of `otr_core::crypto::CachingVerifier`).
pub type CheckId = [u8; 32];

pub fn check_id(hash: HashAlg, key: &[u8], msg: &[u8], sig: &[u8]) -> CheckId {
    otr_core::crypto::signature_check_id(hash, key, msg, sig)
}

/// One check for the platform.
#[derive(Clone, Debug)]
pub struct Check {
    pub id: CheckId,
    pub hash: HashAlg,
    pub key: Vec<u8>,
    pub msg: Vec<u8>,
    pub sig: Vec<u8>,
}

/// Signatures known to be valid, kept across calls. Bounded: cleared when full.
#[derive(Debug)]
pub struct Known {
    set: RefCell<BTreeSet<CheckId>>,
    capacity: usize,
}

impl Known {
    pub fn new(capacity: usize) -> Self {
        Known {
            set: RefCell::new(BTreeSet::new()),
            capacity,
        }
    }

    pub fn contains(&self, id: &CheckId) -> bool {
        self.set.borrow().contains(id)
    }

    fn insert(&self, id: CheckId) {
        let mut set = self.set.borrow_mut();
        if set.len() >= self.capacity {
            set.clear();
        }
        set.insert(id);
    }

    pub fn clear(&self) {
        self.set.borrow_mut().clear();
    }

    pub fn len(&self) -> usize {
        self.set.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The real verifier: known good, or verified by the platform, or checked by `p384`.
#[derive(Debug)]
pub struct Checker<'a> {
    known: &'a Known,
    platform: &'a BTreeSet<CheckId>,
}

impl<'a> Checker<'a> {
    pub fn new(known: &'a Known, platform: &'a BTreeSet<CheckId>) -> Self {
        Checker { known, platform }
    }
}

impl SignatureVerifier for Checker<'_> {
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure> {
        let id = check_id(hash, public_key, msg, sig_rs);
        if self.known.contains(&id) {
            return Ok(());
        }
        if !self.platform.contains(&id) {
            RustCrypto.verify_p384(hash, public_key, msg, sig_rs)?;
        }
        self.known.insert(id);
        Ok(())
    }
}

/// The first pass: every unknown check is recorded and provisionally answered "valid".
#[derive(Debug)]
pub struct Recorder<'a> {
    known: &'a Known,
    checks: RefCell<Vec<Check>>,
}

impl<'a> Recorder<'a> {
    pub fn new(known: &'a Known) -> Self {
        Recorder {
            known,
            checks: RefCell::new(Vec::new()),
        }
    }

    /// The checks the platform should answer (each once).
    pub fn into_checks(self) -> Vec<Check> {
        self.checks.into_inner()
    }
}

impl SignatureVerifier for Recorder<'_> {
    fn verify_p384(
        &self,
        hash: HashAlg,
        public_key: &[u8],
        msg: &[u8],
        sig_rs: &[u8],
    ) -> Result<(), SigFailure> {
        let id = check_id(hash, public_key, msg, sig_rs);
        if !self.known.contains(&id) {
            let mut checks = self.checks.borrow_mut();
            if !checks.iter().any(|c| c.id == id) {
                checks.push(Check {
                    id,
                    hash,
                    key: public_key.to_vec(),
                    msg: msg.to_vec(),
                    sig: sig_rs.to_vec(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::{signature::Signer, Signature, SigningKey};

    fn signed(msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let sk = SigningKey::from_slice(&[5u8; 48]).unwrap();
        let sig: Signature = sk.sign(msg);
        let pk = sk.verifying_key().to_encoded_point(false);
        (pk.as_bytes().to_vec(), sig.to_bytes().to_vec())
    }

    #[test]
    fn platform_can_only_confirm_what_p384_would() {
        let (pk, sig) = signed(b"m");
        let known = Known::new(8);
        let id = check_id(HashAlg::Sha384, &pk, b"m", &sig);
        // The recorder answers "valid" and records the check once.
        let rec = Recorder::new(&known);
        for _ in 0..2 {
            assert!(rec.verify_p384(HashAlg::Sha384, &pk, b"m", &sig).is_ok());
        }
        let checks = rec.into_checks();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].id, id);
        // Not confirmed by the platform: p384 decides (and rejects a wrong message).
        let none = BTreeSet::new();
        let c = Checker::new(&known, &none);
        assert_eq!(
            c.verify_p384(HashAlg::Sha384, &pk, b"x", &sig),
            Err(SigFailure::Mismatch)
        );
        assert!(c.verify_p384(HashAlg::Sha384, &pk, b"m", &sig).is_ok());
        assert!(known.contains(&id));
        // Known checks are not recorded again.
        let rec = Recorder::new(&known);
        assert!(rec.verify_p384(HashAlg::Sha384, &pk, b"m", &sig).is_ok());
        assert!(rec.into_checks().is_empty());
        // A platform confirmation applies to that exact check only.
        known.clear();
        let platform: BTreeSet<CheckId> = [id].into_iter().collect();
        let c = Checker::new(&known, &platform);
        assert!(c.verify_p384(HashAlg::Sha384, &pk, b"m", &sig).is_ok());
        assert_eq!(
            c.verify_p384(HashAlg::Sha384, &pk, b"n", &sig),
            Err(SigFailure::Mismatch)
        );
    }

    #[test]
    fn known_is_bounded() {
        let known = Known::new(2);
        for i in 0..3u8 {
            known.insert([i; 32]);
        }
        assert_eq!(known.len(), 1);
        assert!(known.contains(&[2; 32]));
    }
}

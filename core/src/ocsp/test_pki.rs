//! A test PKI (root, issuing CA, leaf, responders) with deterministic P-384 keys, and OCSP
//! answers encoded here in DER field by field, so each test can change one thing.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::str::FromStr;

use der::{asn1::ObjectIdentifier as Oid, Encode};
use p384::ecdsa::{signature::Signer, Signature, SigningKey};
use sha1::{Digest, Sha1};

use crate::crypto::{sha256, sha384};
use crate::time::UnixTime;
use crate::x509::Certificate;

// ----------------------------------------------------------------------------------------------
// DER building blocks

pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

pub(super) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

pub(super) fn oid(s: &str) -> Vec<u8> {
    Oid::new_unwrap(s).to_der().unwrap()
}

pub(super) fn int(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

pub(super) fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

pub(super) fn bits(b: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], b].concat())
}

pub(super) fn gtime(t: UnixTime) -> Vec<u8> {
    let s: String = t
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'Z')
        .collect();
    tlv(0x18, s.as_bytes())
}

pub(super) const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
pub(super) const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

pub(super) fn t(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap()
}

/// The fixed "now" of these tests.
pub(super) fn now() -> UnixTime {
    t("2025-03-01T12:00:00Z")
}

// ----------------------------------------------------------------------------------------------
// Test PKI

pub(super) struct Party {
    pub(super) key: SigningKey,
    pub(super) name: Vec<u8>,
}

impl Party {
    pub(super) fn new(seed: u8, cn: &str) -> Self {
        let key = SigningKey::from_slice(&[seed; 48]).unwrap();
        let name = x509_cert::name::Name::from_str(&format!("CN={cn},O=OTR Test")).unwrap();
        Party {
            key,
            name: name.to_der().unwrap(),
        }
    }

    pub(super) fn sec1(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    pub(super) fn spki(&self) -> Vec<u8> {
        seq(&[
            &seq(&[&oid("1.2.840.10045.2.1"), &oid("1.3.132.0.34")]),
            &bits(&self.sec1()),
        ])
    }

    pub(super) fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }
}

#[derive(Clone, Copy)]
pub(super) enum Role {
    Ca,
    Leaf,
    /// A leaf with extended key usage id-kp-OCSPSigning.
    Responder,
}

pub(super) struct CertSpec<'a> {
    pub(super) subject: &'a Party,
    pub(super) issuer: &'a Party,
    /// Issuer name written into the certificate (defaults to `issuer`'s).
    pub(super) issuer_name: Option<&'a [u8]>,
    pub(super) serial: &'a [u8],
    pub(super) role: Role,
    pub(super) not_before: UnixTime,
    pub(super) not_after: UnixTime,
}

pub(super) fn make_cert(s: &CertSpec<'_>) -> Vec<u8> {
    let mut exts = Vec::new();
    let critical = tlv(0x01, &[0xff]);
    match s.role {
        Role::Ca => {
            let bc = seq(&[&tlv(0x01, &[0xff])]);
            exts.push(seq(&[&oid("2.5.29.19"), &critical, &octets(&bc)]));
            exts.push(seq(&[
                &oid("2.5.29.15"),
                &critical,
                &octets(&tlv(0x03, &[1, 0x06])),
            ]));
        }
        Role::Leaf | Role::Responder => {
            exts.push(seq(&[
                &oid("2.5.29.15"),
                &critical,
                &octets(&tlv(0x03, &[7, 0x80])),
            ]));
        }
    }
    if let Role::Responder = s.role {
        exts.push(seq(&[
            &oid("2.5.29.37"),
            &octets(&seq(&[&oid(OCSP_SIGNING)])),
        ]));
    }
    let exts: Vec<&[u8]> = exts.iter().map(|e| e.as_slice()).collect();
    let tbs = seq(&[
        &tlv(0xa0, &int(&[2])),
        &int(s.serial),
        &seq(&[&oid(ECDSA_SHA384)]),
        s.issuer_name.unwrap_or(&s.issuer.name),
        &seq(&[&gtime(s.not_before), &gtime(s.not_after)]),
        &s.subject.name,
        &s.subject.spki(),
        &tlv(0xa3, &seq(&exts)),
    ]);
    let sig = s.issuer.sign(&tbs);
    seq(&[&tbs, &seq(&[&oid(ECDSA_SHA384)]), &bits(&sig)])
}

pub(super) struct Pki {
    pub(super) root: Party,
    pub(super) ca: Party,
    pub(super) leaf: Party,
    pub(super) responder: Party,
    pub(super) other_ca: Party,
    pub(super) ca_cert: Certificate,
    pub(super) leaf_cert: Certificate,
    pub(super) responder_der: Vec<u8>,
}

pub(super) fn pki() -> Pki {
    let root = Party::new(1, "Test Root");
    let ca = Party::new(2, "Test CA");
    let leaf = Party::new(3, "Test Leaf");
    let responder = Party::new(4, "Test OCSP Responder");
    let other_ca = Party::new(5, "Other CA");
    let (nb, na) = (t("2024-01-01T00:00:00Z"), t("2030-01-01T00:00:00Z"));
    let spec = |subject, issuer, serial, role| CertSpec {
        subject,
        issuer,
        issuer_name: None,
        serial,
        role,
        not_before: nb,
        not_after: na,
    };
    let ca_der = make_cert(&spec(&ca, &root, &[0x10], Role::Ca));
    let leaf_der = make_cert(&spec(&leaf, &ca, &[0x8a, 0x01, 0x02], Role::Leaf));
    let responder_der = make_cert(&spec(&responder, &ca, &[0x20], Role::Responder));
    Pki {
        ca_cert: Certificate::from_der(&ca_der).unwrap(),
        leaf_cert: Certificate::from_der(&leaf_der).unwrap(),
        root,
        ca,
        leaf,
        responder,
        other_ca,
        responder_der,
    }
}

// ----------------------------------------------------------------------------------------------
// OCSP answers

#[derive(Clone)]
pub(super) enum Status {
    Good,
    Revoked(UnixTime, Option<u8>),
    Unknown,
}

/// A `CertID` hash function.
pub(super) type HashFn = fn(&[u8]) -> Vec<u8>;

#[derive(Clone)]
pub(super) struct Answer<'a> {
    /// CertID: hash algorithm OID and the hash function.
    pub(super) hash: (&'a str, HashFn),
    pub(super) issuer_name: Vec<u8>,
    pub(super) issuer_key: Vec<u8>,
    pub(super) serial: Vec<u8>,
    pub(super) status: Status,
    pub(super) this_update: UnixTime,
    pub(super) next_update: Option<UnixTime>,
    pub(super) produced_at: UnixTime,
    /// Encoded ResponderID.
    pub(super) responder_id: Vec<u8>,
    pub(super) signer: &'a Party,
    pub(super) certs: Vec<Vec<u8>>,
    pub(super) nonce: Option<Vec<u8>>,
    pub(super) extra_response_ext: Option<Vec<u8>>,
    pub(super) response_type: &'a str,
}

pub(super) fn h384(d: &[u8]) -> Vec<u8> {
    sha384(d).to_vec()
}
pub(super) fn h256(d: &[u8]) -> Vec<u8> {
    sha256(d).to_vec()
}
pub(super) fn h1(d: &[u8]) -> Vec<u8> {
    Sha1::digest(d).to_vec()
}

pub(super) fn by_name(p: &Party) -> Vec<u8> {
    tlv(0xa1, &p.name)
}

pub(super) fn by_key(p: &Party) -> Vec<u8> {
    tlv(0xa2, &octets(&Sha1::digest(p.sec1())))
}

impl<'a> Answer<'a> {
    /// A good answer about the leaf, signed by the delegated responder.
    pub(super) fn good(p: &'a Pki) -> Self {
        Answer {
            hash: ("2.16.840.1.101.3.4.2.2", h384),
            issuer_name: p.ca.name.clone(),
            issuer_key: p.ca.sec1(),
            serial: vec![0x8a, 0x01, 0x02],
            status: Status::Good,
            this_update: t("2025-03-01T11:00:00Z"),
            next_update: Some(t("2025-03-02T11:00:00Z")),
            produced_at: t("2025-03-01T11:00:01Z"),
            responder_id: by_key(&p.responder),
            signer: &p.responder,
            certs: vec![p.responder_der.clone()],
            nonce: None,
            extra_response_ext: None,
            response_type: "1.3.6.1.5.5.7.48.1.1",
        }
    }

    pub(super) fn tbs(&self) -> Vec<u8> {
        let (hash_oid, hash) = self.hash;
        let cert_id = seq(&[
            &seq(&[&oid(hash_oid), &tlv(0x05, &[])]),
            &octets(&hash(&self.issuer_name)),
            &octets(&hash(&self.issuer_key)),
            &int(&self.serial),
        ]);
        let status = match &self.status {
            Status::Good => tlv(0x80, &[]),
            Status::Unknown => tlv(0x82, &[]),
            Status::Revoked(at, reason) => {
                let mut c = gtime(*at);
                if let Some(r) = reason {
                    c.extend(tlv(0xa0, &tlv(0x0a, &[*r])));
                }
                tlv(0xa1, &c)
            }
        };
        let next = self
            .next_update
            .map(|n| tlv(0xa0, &gtime(n)))
            .unwrap_or_default();
        let single = seq(&[&cert_id, &status, &gtime(self.this_update), &next]);
        let mut exts = Vec::new();
        if let Some(n) = &self.nonce {
            exts.push(seq(&[&oid("1.3.6.1.5.5.7.48.1.2"), &octets(&octets(n))]));
        }
        if let Some(e) = &self.extra_response_ext {
            exts.push(e.clone());
        }
        let exts: Vec<&[u8]> = exts.iter().map(|e| e.as_slice()).collect();
        let exts = if exts.is_empty() {
            Vec::new()
        } else {
            tlv(0xa1, &seq(&exts))
        };
        seq(&[
            &self.responder_id,
            &gtime(self.produced_at),
            &seq(&[&single]),
            &exts,
        ])
    }

    pub(super) fn build_with_tbs(&self, tbs: &[u8], signed: &[u8]) -> Vec<u8> {
        let certs: Vec<&[u8]> = self.certs.iter().map(|c| c.as_slice()).collect();
        let certs = if certs.is_empty() {
            Vec::new()
        } else {
            tlv(0xa0, &seq(&certs))
        };
        let basic = seq(&[
            tbs,
            &seq(&[&oid(ECDSA_SHA384)]),
            &bits(&self.signer.sign(signed)),
            &certs,
        ]);
        let bytes = seq(&[&oid(self.response_type), &octets(&basic)]);
        seq(&[&tlv(0x0a, &[0]), &tlv(0xa0, &bytes)])
    }

    pub(super) fn build(&self) -> Vec<u8> {
        let tbs = self.tbs();
        self.build_with_tbs(&tbs, &tbs)
    }
}

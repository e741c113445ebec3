//! A locally generated P-384 test hierarchy shaped like NVIDIA's GPU device identity chain:
//! root -> identity -> provisioner ICA -> BROM -> FMC leaf (5 certificates, leaf carries an FWID
//! extension). Deterministic from a seed (RFC 6979 signatures), so fixtures reproduce byte for byte.
//! NOT PRODUCTION: every subject says so, and verifiers reject it unless told to trust the root.

use std::str::FromStr;

use der::asn1::{ObjectIdentifier, OctetString, UtcTime};
use der::{Decode, Encode};
use p384::ecdsa::{DerSignature, SigningKey};
use sha2::{Digest, Sha384};
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// A deterministic P-384 key derived from `seed` and a label.
pub fn derive_key(seed: &[u8], label: &str) -> SigningKey {
    let mut ctr = 0u32;
    loop {
        let mut h = Sha384::new();
        h.update(b"OTR/dev-key/v1");
        h.update(seed);
        h.update(label.as_bytes());
        h.update(ctr.to_be_bytes());
        if let Ok(k) = SigningKey::from_slice(&h.finalize()) {
            return k;
        }
        ctr += 1;
    }
}

pub fn time(unix: u64) -> Time {
    let d = std::time::Duration::from_secs(unix);
    if unix < 2_524_608_000 {
        Time::UtcTime(UtcTime::from_unix_duration(d).expect("utc time"))
    } else {
        Time::GeneralTime(
            der::asn1::GeneralizedTime::from_unix_duration(d).expect("generalized time"),
        )
    }
}

/// 2020-10-17T00:00:00Z, like NVIDIA's device certificates.
pub const NOT_BEFORE: u64 = 1_602_892_800;
/// 9999-12-31T23:59:59Z.
pub const NOT_AFTER: u64 = 253_402_300_799;

/// One extension with raw DER contents, for shapes the builder has no type for.
#[derive(Clone, Debug)]
pub struct RawExt {
    pub oid: ObjectIdentifier,
    pub critical: bool,
    pub value: Vec<u8>,
}

impl RawExt {
    fn to_extension(&self) -> Extension {
        Extension {
            extn_id: self.oid,
            critical: self.critical,
            extn_value: OctetString::new(self.value.clone()).unwrap(),
        }
    }
}

/// How to make one certificate; the defaults make a well-formed CA.
#[derive(Clone, Debug)]
pub struct CertSpec {
    pub subject: String,
    pub serial: u64,
    pub not_before: u64,
    pub not_after: u64,
    /// `Some(true)` CA, `Some(false)` end entity, `None` no basic constraints.
    pub ca: Option<bool>,
    pub path_len: Option<u8>,
    pub key_usage: Option<der::flagset::FlagSet<KeyUsages>>,
    pub extra: Vec<RawExt>,
}

impl CertSpec {
    pub fn ca(subject: &str, serial: u64) -> Self {
        CertSpec {
            subject: subject.into(),
            serial,
            not_before: NOT_BEFORE,
            not_after: NOT_AFTER,
            ca: Some(true),
            path_len: None,
            key_usage: Some(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            extra: Vec::new(),
        }
    }
    pub fn leaf(subject: &str, serial: u64) -> Self {
        CertSpec {
            ca: Some(false),
            key_usage: Some(KeyUsages::DigitalSignature.into()),
            ..CertSpec::ca(subject, serial)
        }
    }
}

/// Signs `spec` for `subject_key` with `issuer_key`; `issuer` is None for a self-signed root.
pub fn make_cert(
    spec: &CertSpec,
    subject_key: &SigningKey,
    issuer: Option<(&Name, &SigningKey)>,
) -> x509_cert::Certificate {
    let signer = issuer.map(|(_, k)| k).unwrap_or(subject_key);
    let issuer_name = issuer.map(|(n, _)| n);
    make_cert_with_spki(spec, p384_spki(subject_key), issuer_name, signer)
}

/// The `SubjectPublicKeyInfo` of a P-384 key.
pub fn p384_spki(key: &SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_der(
        key.verifying_key()
            .to_public_key_der()
            .expect("spki")
            .as_bytes(),
    )
    .expect("spki")
}

/// Signs `spec` for the public key `spki` (any algorithm, any bytes) with `signer`, the
/// issuer's P-384 key; `issuer` names it (None: the certificate names itself as issuer).
pub fn make_cert_with_spki(
    spec: &CertSpec,
    spki: SubjectPublicKeyInfoOwned,
    issuer: Option<&Name>,
    signer: &SigningKey,
) -> x509_cert::Certificate {
    let subject = Name::from_str(&spec.subject).expect("subject name");
    let issuer_name = issuer.cloned();
    let validity = Validity {
        not_before: time(spec.not_before),
        not_after: time(spec.not_after),
    };
    let mut b = CertificateBuilder::new(
        Profile::Manual {
            issuer: issuer_name,
        },
        SerialNumber::from(spec.serial),
        validity,
        subject,
        spki,
        signer,
    )
    .expect("builder");
    let mut exts: Vec<Extension> = Vec::new();
    if let Some(ca) = spec.ca {
        let bc = BasicConstraints {
            ca,
            path_len_constraint: spec.path_len,
        };
        exts.push(Extension {
            extn_id: ObjectIdentifier::new_unwrap("2.5.29.19"),
            critical: true,
            extn_value: OctetString::new(bc.to_der().unwrap()).unwrap(),
        });
    }
    if let Some(ku) = spec.key_usage {
        exts.push(Extension {
            extn_id: ObjectIdentifier::new_unwrap("2.5.29.15"),
            critical: true,
            extn_value: OctetString::new(KeyUsage(ku).to_der().unwrap()).unwrap(),
        });
    }
    exts.extend(spec.extra.iter().map(RawExt::to_extension));
    for e in &exts {
        b.add_extension(&PassThrough(e.clone())).expect("extension");
    }
    b.build::<DerSignature>().expect("sign certificate")
}

/// Adds a fully formed [`Extension`] through the builder's `AsExtension` interface.
struct PassThrough(Extension);

impl der::Encode for PassThrough {
    fn encoded_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.0.extn_value.as_bytes().len())
    }
    fn encode(&self, w: &mut impl der::Writer) -> der::Result<()> {
        w.write(self.0.extn_value.as_bytes())
    }
}

impl der::oid::AssociatedOid for PassThrough {
    // Never used: `to_extension` is overridden below.
    const OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
}

impl AsExtension for PassThrough {
    fn critical(&self, _: &Name, _: &[Extension]) -> bool {
        self.0.critical
    }
    fn to_extension(&self, _: &Name, _: &[Extension]) -> Result<Extension, der::Error> {
        Ok(self.0.clone())
    }
}

/// The FWID extension (2.23.133.5.4.1) as Hopper leaves carry it:
/// `SEQUENCE { INTEGER 1, SubjectPublicKeyInfo, SEQUENCE { OID sha384, OCTET STRING fwid } }`.
pub fn fwid_extension(leaf_key: &SigningKey, fwid: &[u8; 48]) -> RawExt {
    let spki = leaf_key.verifying_key().to_public_key_der().expect("spki");
    fwid_extension_for(spki.as_bytes(), fwid)
}

/// [`fwid_extension`] for a leaf whose `SubjectPublicKeyInfo` (DER) is `spki`, of any algorithm.
pub fn fwid_extension_for(spki: &[u8], fwid: &[u8; 48]) -> RawExt {
    let sha384 = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
    let mut inner = Vec::new();
    inner.extend(sha384.to_der().unwrap());
    inner.extend(OctetString::new(fwid.to_vec()).unwrap().to_der().unwrap());
    let mut body = Vec::new();
    body.extend(1u8.to_der().unwrap());
    body.extend_from_slice(spki);
    body.extend(seq(&inner));
    RawExt {
        oid: ObjectIdentifier::new_unwrap("2.23.133.5.4.1"),
        critical: false,
        value: seq(&body),
    }
}

fn seq(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
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

/// PEM text of certificates, concatenated in order.
pub fn pem(certs: &[x509_cert::Certificate]) -> String {
    use der::EncodePem;
    certs
        .iter()
        .map(|c| c.to_pem(der::pem::LineEnding::LF).expect("pem"))
        .collect()
}

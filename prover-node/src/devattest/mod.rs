//! Development attestation: the same SPDM report and certificate-chain formats as an NVIDIA H100,
//! signed by a locally generated P-384 hierarchy. It proves nothing about hardware. The verifier's
//! default policy rejects it (`POLICY_DEV_ROOT`), and every surface labels it "dev, not production".

pub mod bundle;
pub mod bundle_fixtures;
pub mod certs;
pub mod chain_fixtures;
pub mod fixtures;
pub mod gpu_fixtures;
pub mod ocsp;
pub mod report;
pub mod rim;

use std::str::FromStr;

use p384::ecdsa::SigningKey;
use sha2::{Digest, Sha384};
use x509_cert::name::Name;

use certs::{derive_key, fwid_extension, make_cert, CertSpec, RawExt};

/// Subject names of the dev hierarchy, root last.
pub const DEV_NAMES: [&str; 5] = [
    "CN=OTR DEV GSP FMC LF (NOT PRODUCTION),O=OTR Development,C=XX",
    "CN=OTR DEV GSP BROM (NOT PRODUCTION),O=OTR Development,C=XX",
    "CN=OTR DEV Provisioner ICA (NOT PRODUCTION),O=OTR Development",
    "CN=OTR DEV Identity (NOT PRODUCTION),O=OTR Development",
    "CN=OTR DEV Device Identity CA (NOT PRODUCTION),O=OTR Development",
];

/// A dev GPU: its five keys and certificates (leaf first) and its FWID.
pub struct DevGpu {
    pub keys: Vec<SigningKey>,
    pub specs: Vec<CertSpec>,
    pub certs: Vec<x509_cert::Certificate>,
    pub fwid: [u8; 48],
}

impl DevGpu {
    /// Generates the hierarchy deterministically from `seed`.
    pub fn generate(seed: &[u8]) -> Self {
        let keys: Vec<SigningKey> = (0..5).map(|i| derive_key(seed, DEV_NAMES[i])).collect();
        let fwid: [u8; 48] = Sha384::digest([b"OTR/dev-fwid/v1".as_slice(), seed].concat()).into();
        let mut specs = vec![
            CertSpec::leaf(DEV_NAMES[0], 0x4c45_4146),
            CertSpec::ca(DEV_NAMES[1], 0x4252_4f4d),
            CertSpec::ca(DEV_NAMES[2], 3),
            CertSpec::ca(DEV_NAMES[3], 2),
            CertSpec::ca(DEV_NAMES[4], 1),
        ];
        specs[0].extra.push(fwid_extension(&keys[0], &fwid));
        let certs = Self::sign_all(&specs, &keys);
        DevGpu {
            keys,
            specs,
            certs,
            fwid,
        }
    }

    /// Re-signs the chain from (possibly modified) specs; root last and self-signed.
    pub fn sign_all(specs: &[CertSpec], keys: &[SigningKey]) -> Vec<x509_cert::Certificate> {
        let n = specs.len();
        let mut out: Vec<x509_cert::Certificate> = Vec::with_capacity(n);
        for i in (0..n).rev() {
            let cert = if i == n - 1 {
                make_cert(&specs[i], &keys[i], None)
            } else {
                let issuer = Name::from_str(&specs[i + 1].subject).expect("issuer name");
                make_cert(&specs[i], &keys[i], Some((&issuer, &keys[i + 1])))
            };
            out.push(cert);
        }
        out.reverse();
        out
    }

    /// The leaf signing key (the GPU's attestation key).
    pub fn attestation_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The chain as PEM text, leaf first, root last (as NVML returns it).
    pub fn chain_pem(&self) -> String {
        certs::pem(&self.certs)
    }

    /// The root certificate alone, PEM: what a verifier must be told to trust.
    pub fn root_pem(&self) -> String {
        certs::pem(&self.certs[4..])
    }
}

/// Subject names of the dev reference-manifest (RIM) signer hierarchy, signer first, root last
/// (four certificates in KeyInfo, like NVIDIA's CoRIM signing chain).
pub const DEV_RIM_NAMES: [&str; 4] = [
    "CN=OTR DEV RIM Signer (NOT PRODUCTION),O=OTR Development,C=XX",
    "CN=OTR DEV CoRIM L3 CA (NOT PRODUCTION),O=OTR Development,C=XX",
    "CN=OTR DEV CoRIM L2 CA (NOT PRODUCTION),O=OTR Development,C=XX",
    "CN=OTR DEV CoRIM Root (NOT PRODUCTION),O=OTR Development,C=XX",
];

/// A dev RIM signer hierarchy: four keys and certificates, signer first, root last.
pub struct DevRimCa {
    pub keys: Vec<SigningKey>,
    pub specs: Vec<CertSpec>,
    pub certs: Vec<x509_cert::Certificate>,
}

impl DevRimCa {
    /// The hierarchy named [`DEV_RIM_NAMES`], deterministic from `seed`.
    pub fn generate(seed: &[u8]) -> Self {
        Self::with_names(seed, &DEV_RIM_NAMES)
    }

    /// A hierarchy with other subject names (keys derive from `seed` and the names).
    pub fn with_names(seed: &[u8], names: &[&str; 4]) -> Self {
        let keys: Vec<SigningKey> = names.iter().map(|n| derive_key(seed, n)).collect();
        let specs = vec![
            CertSpec::leaf(names[0], 0x5249_4d53),
            CertSpec::ca(names[1], 0x5249_4d33),
            CertSpec::ca(names[2], 0x5249_4d32),
            CertSpec::ca(names[3], 0x5249_4d31),
        ];
        let certs = DevGpu::sign_all(&specs, &keys);
        DevRimCa { keys, specs, certs }
    }

    /// The signing key of the manifests.
    pub fn signer_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// DER of the chain, signer first (what goes into KeyInfo).
    pub fn ders(&self) -> Vec<Vec<u8>> {
        use der::Encode;
        self.certs
            .iter()
            .map(|c| c.to_der().expect("der"))
            .collect()
    }

    /// The root certificate alone, PEM.
    pub fn root_pem(&self) -> String {
        certs::pem(&self.certs[3..])
    }
}

/// `id-kp-OCSPSigning` as an extended-key-usage extension.
fn ocsp_signing_eku() -> RawExt {
    RawExt {
        oid: der::asn1::ObjectIdentifier::new_unwrap("2.5.29.37"),
        critical: false,
        value: vec![
            0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09,
        ],
    }
}

/// A delegated OCSP responder of the CA `issuer` (its spec and key): an end-entity certificate
/// issued by that CA with `digitalSignature` and, when `eku`, extended key usage
/// `id-kp-OCSPSigning`. `label` names it (and derives its key).
pub fn ocsp_responder(
    seed: &[u8],
    label: &str,
    serial: u64,
    issuer: (&CertSpec, &SigningKey),
    eku: bool,
) -> (x509_cert::Certificate, SigningKey) {
    ocsp_responder_with(seed, label, serial, issuer, eku, |_| {})
}

/// [`ocsp_responder`] with its certificate's spec changed by `edit` (validity, usages) before
/// the issuer signs it.
pub fn ocsp_responder_with(
    seed: &[u8],
    label: &str,
    serial: u64,
    issuer: (&CertSpec, &SigningKey),
    eku: bool,
    edit: impl FnOnce(&mut CertSpec),
) -> (x509_cert::Certificate, SigningKey) {
    let subject = format!("CN=OTR DEV OCSP Responder {label} (NOT PRODUCTION),O=OTR Development");
    let key = derive_key(seed, &subject);
    let mut spec = CertSpec::leaf(&subject, serial);
    if eku {
        spec.extra.push(ocsp_signing_eku());
    }
    edit(&mut spec);
    let issuer_name = Name::from_str(&issuer.0.subject).expect("issuer name");
    let cert = make_cert(&spec, &key, Some((&issuer_name, issuer.1)));
    (cert, key)
}

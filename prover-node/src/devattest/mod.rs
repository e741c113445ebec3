//! Development attestation: the same SPDM report and certificate-chain formats as an NVIDIA H100,
//! signed by a locally generated P-384 hierarchy. It proves nothing about hardware. The verifier's
//! default policy rejects it (`POLICY_DEV_ROOT`), and every surface labels it "dev, not production".

pub mod bundle;
pub mod bundle_fixtures;
pub mod certs;
pub mod fixtures;
pub mod report;

use std::str::FromStr;

use p384::ecdsa::SigningKey;
use sha2::{Digest, Sha384};
use x509_cert::name::Name;

use certs::{derive_key, fwid_extension, make_cert, CertSpec};

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

//! NVIDIA reference integrity manifests (RIMs): signed ISO/IEC 19770-2 SWID XML documents that
//! list the golden SHA-384 measurements of a driver or VBIOS release.
//!
//! Verification order (nothing from the payload is trusted before the signature passes):
//! 1. parse the XML ([`xml`]: no DTDs, size/depth/attribute/node budgets);
//! 2. XML-DSig ([`dsig`]): reference digest over the canonical document without the signature,
//!    then the ECDSA-P384 signature over the canonical `SignedInfo` with the first KeyInfo
//!    certificate's key;
//! 3. read the payload ([`Rim`]): tag id, `Meta` attributes, `Resource type="Measurement"` entries;
//! 4. validate the KeyInfo chain to the caller's anchors at the caller's time ([`verify_rim`];
//!    NVIDIA's signer leaf may lack `digitalSignature`, so it is not required);
//! 5. compare with a report ([`measurements`]).

use alloc::string::String;
use alloc::vec::Vec;

pub mod c14n;
pub mod dsig;
mod error;
mod manifest;
pub mod measurements;
pub mod xml;
mod xml_lexer;
mod xml_parser;

pub use error::{RimError, RimKind, XmlError};
pub use manifest::{MetaAttribute, Rim, RimMeasurement, RimMeta};
pub use measurements::{
    check_driver_version, check_vbios_version, compare_measurements, verify_measurements,
    MeasurementComparison, MeasurementError, MeasurementResult, Mismatch, Verdict,
};

use crate::crypto::SignatureVerifier;
use crate::time::UnixTime;
use crate::x509::{parse_chain, verify_chain, Certificate, ChainOptions, VerifiedChain};

/// Namespace of SWID tags.
pub const SWID_NS: &str = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
/// Namespace of the TCG RIM information-model attributes on `Meta`.
pub const TCG_RIM_NS: &str =
    "https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/";
/// Namespace of the `Hash0..Hash{N-1}` measurement attributes.
pub const SHA384_HASH_NS: &str = "http://www.w3.org/2001/04/xmlenc#sha384";

/// A manifest whose XML digest and signature verified; its signer chain is not checked yet.
#[derive(Clone, Debug)]
pub struct SignedRim {
    rim: Rim,
    certificates: Vec<Vec<u8>>,
    digest: [u8; 48],
}

impl SignedRim {
    /// Parses `xml`, checks the reference digest and the signature, then reads the payload.
    pub fn verify_signature(
        xml: &[u8],
        verifier: &dyn SignatureVerifier,
    ) -> Result<SignedRim, RimError> {
        let doc = xml::Document::parse(xml)?;
        let parts = dsig::verify_enveloped(&doc, verifier)?;
        let rim = Rim::from_document(&doc)?;
        Ok(SignedRim {
            rim,
            certificates: parts.certificates,
            digest: parts.digest_value,
        })
    }

    /// The manifest content (signed, chain not yet validated).
    pub fn rim(&self) -> &Rim {
        &self.rim
    }

    /// DER of the KeyInfo certificates in document order (signer first, usually 4).
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    /// The verified reference digest (SHA-384 of the canonical document).
    pub fn digest(&self) -> &[u8; 48] {
        &self.digest
    }

    /// Validates the KeyInfo chain (signer first) to one of `anchors` at `time`. A self-issued
    /// last certificate is replaced by the anchor, as NVIDIA does.
    pub fn verify_chain<A: AsRef<Certificate>>(
        self,
        anchors: &[A],
        time: UnixTime,
        verifier: &dyn SignatureVerifier,
    ) -> Result<VerifiedRim, RimError> {
        let certs = parse_chain(&self.certificates).map_err(RimError::Chain)?;
        let chain = verify_chain(&certs, anchors, time, verifier, &ChainOptions::default())
            .map_err(RimError::Chain)?;
        Ok(VerifiedRim {
            rim: self.rim,
            chain,
            digest: self.digest,
        })
    }
}

/// A manifest whose digest, signature and signer chain all verified.
#[derive(Clone, Debug)]
pub struct VerifiedRim {
    rim: Rim,
    chain: VerifiedChain,
    digest: [u8; 48],
}

impl VerifiedRim {
    /// The verified manifest content.
    pub fn rim(&self) -> &Rim {
        &self.rim
    }

    /// The validated signer chain (signer first, anchor last).
    pub fn chain(&self) -> &VerifiedChain {
        &self.chain
    }

    /// The earliest `notAfter` of the signer chain.
    pub fn expires(&self) -> UnixTime {
        self.chain.expires
    }

    /// The verified reference digest.
    pub fn digest(&self) -> &[u8; 48] {
        &self.digest
    }

    /// The signer's subject.
    pub fn signer(&self) -> String {
        self.chain.leaf().subject.clone()
    }
}

/// Parses and verifies a RIM: XML, reference digest, signature, payload, then the KeyInfo chain
/// against `anchors` (normally [`crate::attestation::roots::NVIDIA_RIM_ROOT_PEM`]) at `time`.
pub fn verify_rim(
    xml: &[u8],
    anchors: &[Certificate],
    time: UnixTime,
    verifier: &dyn SignatureVerifier,
) -> Result<VerifiedRim, RimError> {
    SignedRim::verify_signature(xml, verifier)?.verify_chain(anchors, time, verifier)
}

#[cfg(test)]
mod tests;

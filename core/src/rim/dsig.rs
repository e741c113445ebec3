//! Enveloped XML-DSig verification, restricted to the profile NVIDIA's manifests use:
//! one `ds:Signature` child of the root; `SignedInfo` canonicalized with inclusive C14N 1.1 (or
//! 1.0); `ecdsa-sha384` with a raw 96-byte `r || s` `SignatureValue`; one `Reference URI=""` with
//! the transforms `enveloped-signature` then inclusive C14N; SHA-384 digest; the signer key is
//! the first `KeyInfo/X509Data/X509Certificate`. Anything else is rejected.

use alloc::vec::Vec;

use super::c14n::{canonicalize_document, canonicalize_subtree, C14nVersion};
use super::error::RimError;
use super::xml::{Document, Element, Node, NodeId};
use crate::crypto::{sha384, HashAlg, SignatureVerifier};
use crate::error::GotExpected;
use crate::x509::{Certificate, MAX_CHAIN_LEN};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The enveloped-signature transform.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// ECDSA P-384 with SHA-384.
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
/// The accepted SHA-384 digest method URIs.
pub const SHA384_DIGESTS: [&str; 2] = [
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha384",
];

/// The parts of an enveloped signature, located and syntax-checked but not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParts {
    /// The `ds:Signature` element (removed by the enveloped-signature transform).
    pub signature: NodeId,
    /// The `ds:SignedInfo` element.
    pub signed_info: NodeId,
    /// The `CanonicalizationMethod` of `SignedInfo`.
    pub signed_info_c14n: C14nVersion,
    /// The canonicalization transform of the reference.
    pub reference_c14n: C14nVersion,
    /// `DigestValue`: SHA-384 of the canonical document.
    pub digest_value: [u8; 48],
    /// `SignatureValue`: raw `r || s`.
    pub signature_value: [u8; 96],
    /// DER of every `X509Certificate` in `KeyInfo`, in document order (signer first).
    pub certificates: Vec<Vec<u8>>,
}

fn malformed(e: &Element, reason: &'static str) -> RimError {
    RimError::SignatureMalformed {
        offset: e.offset,
        reason,
    }
}

/// The element children of `id`; any non-whitespace text or processing instruction is an error.
fn dsig_children(doc: &Document, id: NodeId) -> Result<Vec<(NodeId, &Element)>, RimError> {
    let Some(e) = doc.element(id) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for &c in &e.children {
        match doc.node(c) {
            Some(Node::Element(ch)) => out.push((c, ch)),
            Some(Node::Text { text, .. })
                if text
                    .bytes()
                    .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) => {}
            _ => return Err(malformed(e, "unexpected content")),
        }
    }
    Ok(out)
}

/// Checks that `id` has exactly the dsig children `names`, in order.
fn expect_children<'d>(
    doc: &'d Document,
    id: NodeId,
    parent: &Element,
    names: &[&str],
    reason: &'static str,
) -> Result<Vec<(NodeId, &'d Element)>, RimError> {
    let ch = dsig_children(doc, id)?;
    if ch.len() != names.len() || ch.iter().zip(names).any(|((_, e), n)| !e.is(DSIG_NS, n)) {
        return Err(malformed(parent, reason));
    }
    Ok(ch)
}

fn algorithm(e: &Element) -> Result<&str, RimError> {
    e.attribute("", "Algorithm")
        .map(|a| a.value.as_str())
        .ok_or(malformed(e, "missing Algorithm attribute"))
}

/// A method element: `Algorithm` attribute and no element content.
fn method<'d>(doc: &Document, id: NodeId, e: &'d Element) -> Result<&'d str, RimError> {
    if !dsig_children(doc, id)?.is_empty() {
        return Err(malformed(e, "method parameters are not supported"));
    }
    algorithm(e)
}

fn unsupported(e: &Element, what: &'static str, uri: &str) -> RimError {
    RimError::UnsupportedAlgorithm {
        offset: e.offset,
        what,
        uri: uri.into(),
    }
}

/// The base64 text content of a value element (no element children allowed).
fn base64_fixed<const N: usize>(
    doc: &Document,
    id: NodeId,
    e: &Element,
    reason: &'static str,
) -> Result<[u8; N], RimError> {
    if e.children
        .iter()
        .any(|&c| !matches!(doc.node(c), Some(Node::Text { .. })))
    {
        return Err(malformed(e, "unexpected content"));
    }
    let bytes = crate::encoding::base64_decode_lenient(doc.text(id).as_bytes())
        .ok_or(malformed(e, reason))?;
    bytes.try_into().map_err(|_| malformed(e, reason))
}

/// Locates the enveloped signature and checks its structure and algorithms.
pub fn locate(doc: &Document) -> Result<SignatureParts, RimError> {
    let mut sigs = doc.nodes().iter().enumerate().filter_map(|(i, n)| match n {
        Node::Element(e) if e.is(DSIG_NS, "Signature") => Some((i, e)),
        _ => None,
    });
    let (signature, sig_el) = sigs.next().ok_or(RimError::NoSignature)?;
    if let Some((_, second)) = sigs.next() {
        return Err(RimError::MultipleSignatures {
            offset: second.offset,
        });
    }
    if sig_el.parent != Some(doc.root()) {
        return Err(malformed(
            sig_el,
            "ds:Signature must be a child of the root element",
        ));
    }
    let parts = expect_children(
        doc,
        signature,
        sig_el,
        &["SignedInfo", "SignatureValue", "KeyInfo"],
        "expected SignedInfo, SignatureValue, KeyInfo",
    )?;
    let (signed_info, si_el) = parts[0];
    let si = expect_children(
        doc,
        signed_info,
        si_el,
        &["CanonicalizationMethod", "SignatureMethod", "Reference"],
        "expected CanonicalizationMethod, SignatureMethod, Reference",
    )?;

    let c14n_uri = method(doc, si[0].0, si[0].1)?;
    let signed_info_c14n = C14nVersion::from_uri(c14n_uri).ok_or(unsupported(
        si[0].1,
        "canonicalization method",
        c14n_uri,
    ))?;
    let sig_uri = method(doc, si[1].0, si[1].1)?;
    if sig_uri != ECDSA_SHA384 {
        return Err(unsupported(si[1].1, "signature method", sig_uri));
    }

    let (reference, ref_el) = si[2];
    match ref_el.attribute("", "URI") {
        Some(a) if a.value.is_empty() => {}
        _ => {
            return Err(malformed(
                ref_el,
                "the Reference must have URI=\"\" (the whole document)",
            ))
        }
    }
    let r = expect_children(
        doc,
        reference,
        ref_el,
        &["Transforms", "DigestMethod", "DigestValue"],
        "expected Transforms, DigestMethod, DigestValue",
    )?;
    let transforms = dsig_children(doc, r[0].0)?;
    if transforms.len() != 2 || transforms.iter().any(|(_, t)| !t.is(DSIG_NS, "Transform")) {
        return Err(malformed(
            r[0].1,
            "expected exactly the transforms enveloped-signature then C14N",
        ));
    }
    let t0 = method(doc, transforms[0].0, transforms[0].1)?;
    if t0 != ENVELOPED_SIGNATURE {
        return Err(unsupported(transforms[0].1, "first transform", t0));
    }
    let t1 = method(doc, transforms[1].0, transforms[1].1)?;
    let reference_c14n =
        C14nVersion::from_uri(t1).ok_or(unsupported(transforms[1].1, "second transform", t1))?;
    let dm = method(doc, r[1].0, r[1].1)?;
    if !SHA384_DIGESTS.contains(&dm) {
        return Err(unsupported(r[1].1, "digest method", dm));
    }
    let digest_value =
        base64_fixed::<48>(doc, r[2].0, r[2].1, "DigestValue is not base64 of 48 bytes")?;

    let (sv, sv_el) = parts[1];
    let signature_value = base64_fixed::<96>(
        doc,
        sv,
        sv_el,
        "SignatureValue is not base64 of 96 bytes (r || s)",
    )?;

    let mut certificates = Vec::new();
    for (x509_data, _) in dsig_children(doc, parts[2].0)?
        .into_iter()
        .filter(|(_, e)| e.is(DSIG_NS, "X509Data"))
    {
        for (cert, cert_el) in dsig_children(doc, x509_data)?
            .into_iter()
            .filter(|(_, e)| e.is(DSIG_NS, "X509Certificate"))
        {
            if certificates.len() >= MAX_CHAIN_LEN {
                return Err(malformed(cert_el, "too many certificates in KeyInfo"));
            }
            let der = crate::encoding::base64_decode_lenient(doc.text(cert).as_bytes()).ok_or(
                RimError::BadCertificate {
                    index: certificates.len(),
                    reason: "X509Certificate is not base64",
                },
            )?;
            certificates.push(der);
        }
    }
    if certificates.is_empty() {
        return Err(RimError::NoCertificate);
    }
    Ok(SignatureParts {
        signature,
        signed_info,
        signed_info_c14n,
        reference_c14n,
        digest_value,
        signature_value,
        certificates,
    })
}

/// Recomputes the reference digest: SHA-384 of the canonical document without the signature.
pub fn check_digest(doc: &Document, parts: &SignatureParts) -> Result<(), RimError> {
    let digest = sha384(&canonicalize_document(doc, Some(parts.signature)));
    if digest != parts.digest_value {
        return Err(RimError::DigestMismatch(GotExpected {
            got: hex::encode(digest),
            expected: hex::encode(parts.digest_value),
        }));
    }
    Ok(())
}

/// Verifies `SignatureValue` over the canonical `SignedInfo` with the first certificate's key.
pub fn check_signature(
    doc: &Document,
    parts: &SignatureParts,
    verifier: &dyn SignatureVerifier,
) -> Result<(), RimError> {
    let der = parts.certificates.first().ok_or(RimError::NoCertificate)?;
    let signer = Certificate::from_der(der).map_err(|e| RimError::BadCertificate {
        index: 0,
        reason: e.reason,
    })?;
    let key = signer.public_key_p384().ok_or(RimError::BadCertificate {
        index: 0,
        reason: "the signer key is not ECDSA P-384",
    })?;
    let signed_info = canonicalize_subtree(doc, parts.signed_info, parts.signed_info_c14n)?;
    verifier
        .verify_p384(HashAlg::Sha384, key, &signed_info, &parts.signature_value)
        .map_err(|reason| RimError::SignatureInvalid { reason })
}

/// Locates the signature, then checks the digest and the signature, in that order.
pub fn verify_enveloped(
    doc: &Document,
    verifier: &dyn SignatureVerifier,
) -> Result<SignatureParts, RimError> {
    let parts = locate(doc)?;
    check_digest(doc, &parts)?;
    check_signature(doc, &parts, verifier)?;
    Ok(parts)
}

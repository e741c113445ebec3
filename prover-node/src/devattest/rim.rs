//! Reference integrity manifests (SWID XML with an enveloped XML-DSig) signed by a dev key the
//! way NVIDIA's tooling signs its RIMs: inclusive C14N, `ecdsa-sha384` with a raw `r || s`
//! value, SHA-384 reference digest over the whole document, the signer chain in `KeyInfo`.
//! NOT PRODUCTION: signed by the OTR dev RIM hierarchy, never by NVIDIA.
//!
//! Self-contained (only `otr_core` and `p384`), so `fuzz/examples/gen_seeds.rs` includes this
//! file with `#[path]` instead of keeping its own copy. Deterministic (RFC 6979 signatures).

use otr_core::crypto::sha384;
use otr_core::encoding::base64_encode;
use otr_core::rim::c14n::{canonicalize_document, canonicalize_subtree, C14nVersion};
use otr_core::rim::dsig::DSIG_NS;
use otr_core::rim::xml::{Document, Node, NodeId};
use p384::ecdsa::{signature::Signer, Signature, SigningKey};

/// Where [`sign_enveloped`] puts the `ds:Signature` element in an unsigned document.
pub const SIG_PLACEHOLDER: &str = "{SIG}";

const SIG: &str = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{C14N}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="{C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#sha384"/><ds:DigestValue>{DIGEST}</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>{SIGVAL}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>{CERTS}</ds:X509Data></ds:KeyInfo></ds:Signature>"#;

/// The `DigestMethod` element as [`sign_enveloped`] writes it (fixtures edit it after signing).
pub const DIGEST_METHOD: &str =
    r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#sha384"/>"#;

fn find(doc: &Document, local: &str) -> NodeId {
    doc.nodes()
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.is(DSIG_NS, local)))
        .expect("signature element")
}

/// Signs `unsigned` (an XML document with [`SIG_PLACEHOLDER`] where the signature goes, as the
/// last child of the root element) with `key`, carrying `certs` (DER, signer first) in KeyInfo.
pub fn sign_enveloped(
    unsigned: &str,
    certs: &[Vec<u8>],
    key: &SigningKey,
    c14n: C14nVersion,
) -> String {
    sign_enveloped_as(unsigned, certs, key, c14n, c14n)
}

/// [`sign_enveloped`] declaring `declared` as the canonicalization method and signing the
/// form of `SignedInfo` that `computed` produces: for documents where the two forms are the
/// same bytes but the declared one cannot be computed here (the caller says why they agree).
pub fn sign_enveloped_as(
    unsigned: &str,
    certs: &[Vec<u8>],
    key: &SigningKey,
    declared: C14nVersion,
    computed: C14nVersion,
) -> String {
    let c14n = declared;
    let uri = match c14n {
        C14nVersion::V10 => C14nVersion::URI_10,
        C14nVersion::V11 => C14nVersion::URI_11,
    };
    let certs: String = certs
        .iter()
        .map(|d| {
            format!(
                "<ds:X509Certificate>{}</ds:X509Certificate>",
                base64_encode(d)
            )
        })
        .collect();
    let xml = unsigned.replace(
        SIG_PLACEHOLDER,
        &SIG.replace("{C14N}", uri).replace("{CERTS}", &certs),
    );
    let doc = Document::parse(xml.replace("{DIGEST}", "").as_bytes()).expect("unsigned XML");
    let digest = sha384(&canonicalize_document(&doc, Some(find(&doc, "Signature"))));
    let xml = xml.replace("{DIGEST}", &base64_encode(&digest));
    let doc = Document::parse(xml.replace("{SIGVAL}", "").as_bytes()).expect("unsigned XML");
    let msg = canonicalize_subtree(&doc, find(&doc, "SignedInfo"), computed).expect("c14n");
    let s: Signature = key.sign(&msg);
    xml.replace("{SIGVAL}", &base64_encode(&s.to_bytes()))
}

/// One `Resource type="Measurement"` entry: `index` is the RIM index (SPDM block `index + 1`).
#[derive(Clone, Debug)]
pub struct Entry {
    pub index: u8,
    pub active: bool,
    /// SHA-384 alternatives (`Hash0..`), raw bytes.
    pub hashes: Vec<[u8; 48]>,
}

/// What a SWID manifest states.
#[derive(Clone, Debug)]
pub struct SwidSpec {
    pub tag_id: String,
    /// `GH100`.
    pub name: String,
    /// Driver (`550.90.07`) or VBIOS (`96.00.9F.00.01`) version.
    pub colloquial_version: String,
    pub entries: Vec<Entry>,
}

/// The manifest text with [`SIG_PLACEHOLDER`] where the signature goes (NVIDIA's layout).
pub fn swid_unsigned(s: &SwidSpec) -> String {
    let mut resources = String::new();
    for e in &s.entries {
        let hashes: String = e
            .hashes
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
                format!(" ns2:Hash{k}=\"{hex}\"")
            })
            .collect();
        resources.push_str(&format!(
            "        <ns0:Resource type=\"Measurement\" index=\"{}\" active=\"{}\" alternatives=\"{}\"{hashes} name=\"Measurement_{}\" size=\"48\"/>\n",
            e.index,
            if e.active { "True" } else { "False" },
            e.hashes.len(),
            e.index,
        ));
    }
    format!(
        r#"<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ns0="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ns2="http://www.w3.org/2001/04/xmlenc#sha384" corpus="false" name="{name}" tagId="{tag}" version="{ver}" tagVersion="0">
    <ns0:Meta xmlns:ns1="https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/" colloquialVersion="{ver}" product="{name}" ns1:FirmwareManufacturerStr="OTR Development (NOT PRODUCTION)" ns1:PlatformManufacturerId="5703"/>
    <ns0:Entity name="OTR Development (NOT PRODUCTION)" regid="otr.invalid" role="softwareCreator tagCreator"/>
    <ns0:Payload>
{resources}    </ns0:Payload>
{SIG_PLACEHOLDER}</SoftwareIdentity>
"#,
        name = s.name,
        tag = s.tag_id,
        ver = s.colloquial_version,
    )
}

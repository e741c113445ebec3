//! A self-signed SWID manifest, signed in the test, through the whole verification pipeline.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use der::asn1::{BitString, ObjectIdentifier, UtcTime};
use der::{Any, Decode, Encode};
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::crypto::{sha384, RustCrypto};
use crate::encoding::base64_encode as b64;
use crate::error::ErrorCode;
use crate::rim::c14n::{canonicalize_document, canonicalize_subtree, C14nVersion};
use crate::rim::xml::{Document, Node, NodeId};
use crate::rim::{RimError, SignedRim};
use crate::time::UnixTime;
use crate::x509::Certificate;

const NOT_AFTER: u64 = 2_000_000_000; // 2033-05-18

fn name_der(cn: &str) -> Vec<u8> {
    let tlv = |tag: u8, body: &[u8]| [&[tag, body.len() as u8][..], body].concat();
    let atv = [
        &[0x06, 0x03, 0x55, 0x04, 0x03][..],
        &tlv(0x0c, cn.as_bytes()),
    ]
    .concat();
    tlv(0x30, &tlv(0x31, &tlv(0x30, &atv)))
}

/// A self-signed P-384 certificate for `sk`.
fn cert_der(sk: &SigningKey) -> Vec<u8> {
    let alg = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"),
        parameters: None,
    };
    let name = Name::from_der(&name_der("OTR test RIM signer")).unwrap();
    let time = |s: u64| {
        Time::UtcTime(UtcTime::from_unix_duration(core::time::Duration::from_secs(s)).unwrap())
    };
    let curve = Any::encode_from(&ObjectIdentifier::new_unwrap("1.3.132.0.34")).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[1]).unwrap(),
        signature: alg.clone(),
        issuer: name.clone(),
        validity: Validity {
            not_before: time(1_600_000_000),
            not_after: time(NOT_AFTER),
        },
        subject: name,
        subject_public_key_info: SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
                parameters: Some(curve),
            },
            subject_public_key: BitString::from_bytes(point.as_bytes()).unwrap(),
        },
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let sig: Signature = sk.sign(&tbs.to_der().unwrap());
    let cert = x509_cert::Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(sig.to_der().as_bytes()).unwrap(),
    };
    cert.to_der().unwrap()
}

fn key(b: u8) -> SigningKey {
    SigningKey::from_slice(&[b; 48]).unwrap()
}

const H0: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
const H1: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";

const SWID: &str = "<SoftwareIdentity xmlns=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" \
xmlns:ns0=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" xmlns:ns2=\"http://www.w3.org/2001/04/xmlenc#sha384\" \
corpus=\"false\" name=\"GH100\" tagId=\"abc123\" version=\"1.0\" tagVersion=\"0\">
    <ns0:Meta xmlns:ns1=\"https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/\" \
colloquialVersion=\"1.2.3\" product=\"GH100\" ns1:PlatformManufacturerId=\"5703\"/>
    <ns0:Payload>
{RESOURCES}
    </ns0:Payload>
{SIG}</SoftwareIdentity>";

const RESOURCES: &str = "        <ns0:Resource type=\"Measurement\" index=\"0\" active=\"True\" alternatives=\"2\" ns2:Hash0=\"{H0}\" ns2:Hash1=\"{H1}\" name=\"Measurement_0\" size=\"48\"/>
        <ns0:Resource type=\"Measurement\" index=\"1\" active=\"False\" alternatives=\"1\" ns2:Hash0=\"{H1}\" name=\"Measurement_1\" size=\"48\"/>
        <ns0:Resource type=\"Other\" index=\"1\"/>";

const SIG: &str = "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"{C14N}\"/>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384\"/>\
<ds:Reference URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#sha384\"/><ds:DigestValue>{DIGEST}</ds:DigestValue>\
</ds:Reference></ds:SignedInfo><ds:SignatureValue>{SIGVAL}</ds:SignatureValue>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>";

fn find(doc: &Document, local: &str) -> NodeId {
    doc.nodes()
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.is(crate::rim::dsig::DSIG_NS, local)))
        .unwrap()
}

/// Signs `resources` (payload entries) the way NVIDIA's tooling does.
fn sign_with(resources: &str, sk: &SigningKey, cert: &[u8], c14n: C14nVersion) -> String {
    let uri = match c14n {
        C14nVersion::V10 => C14nVersion::URI_10,
        C14nVersion::V11 => C14nVersion::URI_11,
    };
    let sig = SIG.replace("{C14N}", uri).replace("{CERT}", &b64(cert));
    let xml = SWID
        .replace("{RESOURCES}", resources)
        .replace("{H0}", H0)
        .replace("{H1}", H1)
        .replace("{SIG}", &sig);
    let doc = Document::parse(xml.replace("{DIGEST}", "").as_bytes()).unwrap();
    let digest = sha384(&canonicalize_document(&doc, Some(find(&doc, "Signature"))));
    let xml = xml.replace("{DIGEST}", &b64(&digest));
    let doc = Document::parse(xml.replace("{SIGVAL}", "").as_bytes()).unwrap();
    let msg = canonicalize_subtree(&doc, find(&doc, "SignedInfo"), c14n).unwrap();
    let s: Signature = sk.sign(&msg);
    xml.replace("{SIGVAL}", &b64(&s.to_bytes()))
}

fn signed(resources: &str) -> String {
    let sk = key(0x11);
    sign_with(resources, &sk, &cert_der(&sk), C14nVersion::V11)
}

fn code(xml: &str) -> &'static str {
    SignedRim::verify_signature(xml.as_bytes(), &RustCrypto)
        .unwrap_err()
        .code()
}

#[test]
fn self_signed_rim_verifies() {
    for c14n in [C14nVersion::V11, C14nVersion::V10] {
        let sk = key(0x11);
        let cert = cert_der(&sk);
        let xml = sign_with(RESOURCES, &sk, &cert, c14n);
        let signed = SignedRim::verify_signature(xml.as_bytes(), &RustCrypto).unwrap();
        let rim = signed.rim();
        assert_eq!(
            (rim.tag_id.as_str(), rim.name.as_str()),
            ("abc123", "GH100")
        );
        assert_eq!(rim.meta.colloquial_version, "1.2.3");
        assert_eq!(rim.meta.platform_manufacturer_id.as_deref(), Some("5703"));
        assert_eq!(rim.measurements.len(), 2);
        assert_eq!(rim.measurements[0].hashes, [H0, H1]);
        assert_eq!(rim.active().count(), 1);
        assert_eq!(signed.certificates(), core::slice::from_ref(&cert));
        let anchor = Certificate::from_der(&cert).unwrap();
        let ok = signed
            .clone()
            .verify_chain(
                core::slice::from_ref(&anchor),
                UnixTime(1_700_000_000),
                &RustCrypto,
            )
            .unwrap();
        assert_eq!(ok.expires(), UnixTime(NOT_AFTER as i64));
        assert!(ok.signer().contains("OTR test RIM signer"));
        let late = signed
            .verify_chain(
                core::slice::from_ref(&anchor),
                UnixTime(NOT_AFTER as i64 + 1),
                &RustCrypto,
            )
            .unwrap_err();
        assert_eq!(
            (late.code(), late.inner_code()),
            ("RIM_CHAIN", Some("CHAIN_EXPIRED"))
        );
        let other = Certificate::from_der(&cert_der(&key(0x22))).unwrap();
        let e = crate::rim::verify_rim(
            xml.as_bytes(),
            &[other],
            UnixTime(1_700_000_000),
            &RustCrypto,
        )
        .unwrap_err();
        assert_eq!(e.code(), "RIM_CHAIN");
    }
}

#[test]
fn equivalent_serializations_still_verify() {
    let xml = signed(RESOURCES);
    for (from, to) in [
        ("name=\"GH100\"", "name='GH100'"),
        ("size=\"48\"/>", "size=\"48\" ></ns0:Resource>"),
        ("<ds:SignedInfo>", "<ds:SignedInfo><!-- comment -->"),
        ("<ns0:Payload>", "<ns0:Payload><!-- comment -->"),
        ("tagId=\"abc123\"", "tagId=\"&#97;bc123\""),
        (
            "<ds:Signature ",
            "<ds:Signature xmlns:ns2=\"http://www.w3.org/2001/04/xmlenc#sha384\" ",
        ),
    ] {
        let v = xml.replacen(from, to, 1);
        assert_ne!(v, xml);
        assert!(
            SignedRim::verify_signature(v.as_bytes(), &RustCrypto).is_ok(),
            "{to}"
        );
    }
}

#[test]
fn tampering_is_caught() {
    let xml = signed(RESOURCES);
    let e = SignedRim::verify_signature(xml.replace("1.2.3", "1.2.4").as_bytes(), &RustCrypto)
        .unwrap_err();
    match &e {
        RimError::DigestMismatch(ge) => {
            assert!(ge.got.len() == 96 && ge.expected.len() == 96 && ge.got != ge.expected)
        }
        e => panic!("{e}"),
    }
    for (from, to) in [
        ("active=\"False\"", "active=\"True\""),
        ("<ns0:Payload>", "<ns0:Payload> "),
        ("tagVersion=\"0\">", "tagVersion=\"0\" extra=\"1\">"),
    ] {
        assert_eq!(
            code(&xml.replacen(from, to, 1)),
            "RIM_DIGEST_MISMATCH",
            "{to}"
        );
    }
    for (from, to) in [
        (
            "<ds:Reference URI=\"\">",
            "<ds:Reference URI=\"\" Id=\"r\">",
        ),
        ("<ds:SignedInfo>", "<ds:SignedInfo>\n"),
        ("<ds:SignedInfo>", "<ds:SignedInfo xmlns:x=\"urn:x\">"),
    ] {
        assert_eq!(
            code(&xml.replacen(from, to, 1)),
            "RIM_SIGNATURE_INVALID",
            "{to}"
        );
    }
    // Valid signature by another key, presented with the first key's certificate.
    let forged = sign_with(
        RESOURCES,
        &key(0x33),
        &cert_der(&key(0x11)),
        C14nVersion::V11,
    );
    let e = SignedRim::verify_signature(forged.as_bytes(), &RustCrypto).unwrap_err();
    assert_eq!(
        e,
        RimError::SignatureInvalid {
            reason: crate::crypto::SigFailure::Mismatch
        }
    );
}

#[test]
fn signature_structure_errors() {
    let xml = signed(RESOURCES);
    let sig_start = xml.find("<ds:Signature").unwrap();
    let sig_end = xml.find("</SoftwareIdentity>").unwrap();
    let sig = &xml[sig_start..sig_end];
    let without = [&xml[..sig_start], &xml[sig_end..]].concat();
    assert_eq!(code(&without), "RIM_NO_SIGNATURE");
    assert_eq!(
        code(&xml.replacen("<ns0:Payload>", &["<ns0:Payload>", sig].concat(), 1)),
        "RIM_MULTIPLE_SIGNATURES"
    );
    assert_eq!(
        code(&without.replacen("<ns0:Payload>", &["<ns0:Payload>", sig].concat(), 1)),
        "RIM_SIGNATURE_MALFORMED"
    );
    let cases: &[(&str, &str, &str)] = &[
        ("xmldsig-more#ecdsa-sha384", "xmldsig-more#rsa-sha256", "RIM_UNSUPPORTED_ALGORITHM"),
        ("<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"", "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"", "RIM_UNSUPPORTED_ALGORITHM"),
        ("<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"", "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11#WithComments\"", "RIM_UNSUPPORTED_ALGORITHM"),
        ("xmldsig-more#sha384", "xmlenc#sha256", "RIM_UNSUPPORTED_ALGORITHM"),
        ("#enveloped-signature", "#base64", "RIM_UNSUPPORTED_ALGORITHM"),
        ("<ds:Transform Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>", "", "RIM_SIGNATURE_MALFORMED"),
        ("URI=\"\"", "URI=\"#payload\"", "RIM_SIGNATURE_MALFORMED"),
        ("<ds:DigestValue>", "<ds:DigestValue>!!", "RIM_SIGNATURE_MALFORMED"),
        ("<ds:SignatureValue>", "<ds:SignatureValue>AAAA", "RIM_SIGNATURE_MALFORMED"),
        ("<ds:SignatureValue>", "<ds:SignatureValue><x/>", "RIM_SIGNATURE_MALFORMED"),
        ("</ds:SignedInfo>", "</ds:SignedInfo>text", "RIM_SIGNATURE_MALFORMED"),
        ("</ds:SignedInfo>", "</ds:SignedInfo><ds:Object/>", "RIM_SIGNATURE_MALFORMED"),
        ("<ds:X509Certificate>", "<ds:X509Certificate>*", "RIM_BAD_CERTIFICATE"),
        ("<ds:X509Data>", "<ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate>", "RIM_BAD_CERTIFICATE"),
        ("<ds:X509Certificate>", "<ds:X509SubjectName>", "RIM_XML_SYNTAX"),
    ];
    for (from, to, want) in cases {
        let v = xml.replacen(from, to, 1);
        assert_ne!(v, xml, "{from}");
        assert_eq!(code(&v), *want, "{to}");
    }
    let no_cert = xml
        .replacen("<ds:X509Certificate>", "<ds:X509SubjectName>", 1)
        .replacen("</ds:X509Certificate>", "</ds:X509SubjectName>", 1);
    assert_eq!(code(&no_cert), "RIM_NO_CERTIFICATE");
}

/// Payload defects surface only after the signature verified (and a bad signature wins).
#[test]
fn payload_errors_after_signature() {
    let r = |index: &str, active: &str, alts: &str, hashes: &str| {
        alloc::format!("<ns0:Resource type=\"Measurement\" index=\"{index}\" active=\"{active}\" alternatives=\"{alts}\" {hashes} size=\"48\"/>")
    };
    let h0 = alloc::format!("ns2:Hash0=\"{H0}\"");
    let h01 = alloc::format!("ns2:Hash0=\"{H0}\" ns2:Hash1=\"{H1}\"");
    let dup = [r("3", "True", "1", &h0), r("3", "False", "1", &h0)].concat();
    let cases: Vec<(String, &str)> = alloc::vec![
        (dup, "RIM_DUPLICATE_INDEX"),
        (r("0", "True", "2", &h0), "RIM_MISSING_HASH"),
        (r("0", "True", "1", &h01), "RIM_ALTERNATIVES_MISMATCH"),
        (
            r(
                "0",
                "True",
                "1",
                &h0.to_uppercase().replace("NS2:HASH0", "ns2:Hash0")
            ),
            "RIM_BAD_HASH"
        ),
        (r("0", "True", "1", "ns2:Hash0=\"abc\""), "RIM_BAD_HASH"),
        (r("0", "yes", "1", &h0), "RIM_BAD_ATTRIBUTE"),
        (r("255", "True", "1", &h0), "RIM_BAD_ATTRIBUTE"),
        (r("-1", "True", "1", &h0), "RIM_BAD_ATTRIBUTE"),
        (r("0", "True", "x", &h0), "RIM_BAD_ATTRIBUTE"),
        (
            r("0", "True", "1", &h0).replace(" size=\"48\"", ""),
            "RIM_MISSING_ATTRIBUTE"
        ),
        (String::new(), "RIM_NO_MEASUREMENTS"),
        (
            "<ns0:Resource type=\"File\"/>".to_string(),
            "RIM_NO_MEASUREMENTS"
        ),
    ];
    for (resources, want) in cases {
        let xml = signed(&resources);
        assert_eq!(code(&xml), want, "{resources}");
        let broken = xml.replacen("<ds:SignedInfo>", "<ds:SignedInfo> ", 1);
        assert_eq!(code(&broken), "RIM_SIGNATURE_INVALID", "{resources}");
    }
    let xml = signed(RESOURCES);
    assert_eq!(
        code(&sign_doc_edit(&xml, "colloquialVersion=\"1.2.3\" ", "")),
        "RIM_MISSING_ATTRIBUTE"
    );
    assert_eq!(
        code(&sign_doc_edit(
            &xml,
            "<ns0:Payload>",
            "<ns0:Payload/><ns0:Payload>"
        )),
        "RIM_MISSING_ELEMENT"
    );
    assert_eq!(
        code(&sign_doc_edit(
            &xml,
            "<SoftwareIdentity xmlns=\"",
            "<SoftwareIdentity xmlns=\"urn:x"
        )),
        "RIM_NOT_SWID"
    );
}

/// Edits the payload of a signed document and re-signs it.
fn sign_doc_edit(xml: &str, from: &str, to: &str) -> String {
    let sk = key(0x11);
    let cert = cert_der(&sk);
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</SoftwareIdentity>").unwrap();
    let body = [&xml[..start], "{SIG}", &xml[end..]]
        .concat()
        .replacen(from, to, 1);
    let sig = SIG
        .replace("{C14N}", C14nVersion::URI_11)
        .replace("{CERT}", &b64(&cert));
    let full = body.replace("{SIG}", &sig);
    let doc = Document::parse(full.replace("{DIGEST}", "").as_bytes()).unwrap();
    let digest = sha384(&canonicalize_document(&doc, Some(find(&doc, "Signature"))));
    let full = full.replace("{DIGEST}", &b64(&digest));
    let doc = Document::parse(full.replace("{SIGVAL}", "").as_bytes()).unwrap();
    let msg = canonicalize_subtree(&doc, find(&doc, "SignedInfo"), C14nVersion::V11).unwrap();
    let s: Signature = sk.sign(&msg);
    full.replace("{SIGVAL}", &b64(&s.to_bytes()))
}

/// Byte flips anywhere in a signed manifest never panic and never verify a changed payload.
#[test]
fn mutations_never_panic() {
    let xml = signed(RESOURCES);
    let b = xml.as_bytes();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut m = b.to_vec();
        let pos = (seed % m.len() as u64) as usize;
        m[pos] ^= 1 << ((seed >> 40) % 8);
        if let Ok(s) = SignedRim::verify_signature(&m, &RustCrypto) {
            // Only changes that canonicalization erases may pass (for example in a comment).
            assert_eq!(s.rim().measurements[0].hashes, [H0, H1]);
        }
    }
}

//! The XML parser, canonicalization, and the enveloped-signature check of reference manifests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::crypto::RustCrypto;
use otr_core::rim::c14n::{canonicalize_document, canonicalize_subtree, C14nVersion};
use otr_core::rim::xml::Document;
use otr_core::rim::{dsig, SignedRim};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = Document::parse(data) {
        let root = doc.root();
        let _ = canonicalize_document(&doc, None);
        let _ = doc.text(root);
        // A few subtrees (the signature's SignedInfo is one in real manifests).
        let elements: Vec<usize> = (0..doc.nodes().len())
            .filter(|&i| doc.element(i).is_some())
            .take(8)
            .collect();
        for &id in &elements {
            let _ = doc.in_scope_namespaces(id);
            let _ = canonicalize_subtree(&doc, id, C14nVersion::V10);
            let _ = canonicalize_subtree(&doc, id, C14nVersion::V11);
        }
        if let Ok(parts) = dsig::locate(&doc) {
            let _ = dsig::check_digest(&doc, &parts);
        }
    }
    let _ = SignedRim::verify_signature(data, &RustCrypto);
});

use alloc::string::String;

use crate::error::ErrorCode;
use crate::rim::c14n::{canonicalize_document, canonicalize_subtree, C14nVersion};
use crate::rim::xml::{Document, Node, NodeId};

fn doc_c14n(src: &str) -> String {
    let doc = Document::parse(src.as_bytes()).unwrap();
    String::from_utf8(canonicalize_document(&doc, None)).unwrap()
}

/// The first element with this qualified name.
fn find(doc: &Document, name: &str) -> NodeId {
    doc.nodes
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == name))
        .unwrap()
}

fn sub_c14n(src: &str, name: &str, v: C14nVersion) -> String {
    let doc = Document::parse(src.as_bytes()).unwrap();
    String::from_utf8(canonicalize_subtree(&doc, find(&doc, name), v).unwrap()).unwrap()
}

#[test]
fn sorts_namespaces_and_attributes() {
    assert_eq!(
        doc_c14n("<r z='1' xmlns:b='urn:b' b:y='2' xmlns='urn:d' xmlns:a='urn:a' a:y='3' a='4'/>"),
        "<r xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"4\" z=\"1\" a:y=\"3\" b:y=\"2\"></r>"
    );
    // Sorted by namespace URI, not by prefix.
    assert_eq!(
        doc_c14n("<r xmlns:a='urn:z' xmlns:b='urn:a' a:x='1' b:x='2'/>"),
        "<r xmlns:a=\"urn:z\" xmlns:b=\"urn:a\" b:x=\"2\" a:x=\"1\"></r>"
    );
}

#[test]
fn escapes_text_and_attributes() {
    assert_eq!(
        doc_c14n("<r a='&amp;&lt;&gt;&quot;&apos;&#9;&#10;&#13; \t\n'>&amp;&lt;&gt;&#13;\"'<![CDATA[<x>&]]></r>"),
        "<r a=\"&amp;&lt;>&quot;'&#x9;&#xA;&#xD;   \">&amp;&lt;&gt;&#xD;\"'&lt;x&gt;&amp;</r>"
    );
    assert_eq!(doc_c14n("<r>a\r\nb\rc</r>"), "<r>a\nb\nc</r>");
    assert_eq!(doc_c14n("<r>\u{e9}&#x1F600;</r>"), "<r>\u{e9}\u{1F600}</r>");
}

#[test]
fn document_level_rules() {
    let src = "<?xml version=\"1.0\"?>\n<?pi a?>\n<!--c-->\n<r>\n  x<!--y-->z<?p  d ?><e/>\t</r>\n<?post?>\n";
    assert_eq!(
        doc_c14n(src),
        "<?pi a?>\n<r>\n  xz<?p d ?><e></e>\t</r>\n<?post?>"
    );
}

#[test]
fn omits_superfluous_namespace_declarations() {
    assert_eq!(
        doc_c14n("<r xmlns='u' xmlns:p='v'><c xmlns='u' xmlns:p='v'/><d xmlns=''><e xmlns=''/></d><p:f xmlns:p='w'/></r>"),
        "<r xmlns=\"u\" xmlns:p=\"v\"><c></c><d xmlns=\"\"><e></e></d><p:f xmlns:p=\"w\"></p:f></r>"
    );
    // An undeclaration at the top level is not output.
    assert_eq!(doc_c14n("<r xmlns=''/>"), "<r></r>");
}

#[test]
fn subtree_renders_inherited_namespaces_on_the_apex() {
    let src =
        "<r xmlns='u' xmlns:p='v'><p:s xmlns:q='w'><p:t a='1'><u/></p:t></p:s><x xmlns:z='n'/></r>";
    assert_eq!(
        sub_c14n(src, "p:t", C14nVersion::V11),
        "<p:t xmlns=\"u\" xmlns:p=\"v\" xmlns:q=\"w\" a=\"1\"><u></u></p:t>"
    );
    assert_eq!(
        sub_c14n("<r xmlns='u'><s xmlns=''/></r>", "s", C14nVersion::V11),
        "<s></s>"
    );
}

#[test]
fn excludes_the_signature_subtree() {
    let src = "<r>\n  <a/>\n  <s><t/></s></r>";
    let doc = Document::parse(src.as_bytes()).unwrap();
    let out = canonicalize_document(&doc, Some(find(&doc, "s")));
    assert_eq!(String::from_utf8(out).unwrap(), "<r>\n  <a></a>\n  </r>");
}

#[test]
fn xml_attributes_of_ancestors() {
    let src =
        "<r xml:lang='en' xml:id='i' xml:space='preserve'><m xml:lang='fr'><s a='1'/></m></r>";
    assert_eq!(
        sub_c14n(src, "s", C14nVersion::V11),
        "<s a=\"1\" xml:lang=\"fr\" xml:space=\"preserve\"></s>"
    );
    assert_eq!(
        sub_c14n(src, "s", C14nVersion::V10),
        "<s a=\"1\" xml:id=\"i\" xml:lang=\"fr\" xml:space=\"preserve\"></s>"
    );
    let doc = Document::parse(b"<r xml:base='http://x/'><s/></r>").unwrap();
    let e = canonicalize_subtree(&doc, find(&doc, "s"), C14nVersion::V11).unwrap_err();
    assert_eq!(e.code(), "RIM_C14N_UNSUPPORTED");
}

/// The canonical SignedInfo of NVIDIA's manifests starts exactly like this (doc section 5.3).
#[test]
fn nvidia_signed_info_prefix() {
    let src = "<SoftwareIdentity xmlns=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" \
        xmlns:ns0=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" xmlns:ns2=\"http://www.w3.org/2001/04/xmlenc#sha384\" name=\"GH100\">\
        <ns0:Meta xmlns:ns1=\"urn:tcg\" ns1:x=\"1\"/><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
        <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/></ds:SignedInfo></ds:Signature></SoftwareIdentity>";
    assert_eq!(
        sub_c14n(src, "ds:SignedInfo", C14nVersion::V11),
        "<ds:SignedInfo xmlns=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
        xmlns:ns0=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" xmlns:ns2=\"http://www.w3.org/2001/04/xmlenc#sha384\">\
        <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"></ds:CanonicalizationMethod></ds:SignedInfo>"
    );
}

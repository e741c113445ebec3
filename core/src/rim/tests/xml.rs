use alloc::string::String;
use alloc::vec::Vec;

use crate::error::ErrorCode;
use crate::rim::xml::{
    Document, Node, XmlError, MAX_ATTRIBUTES, MAX_DEPTH, MAX_INPUT_LEN, MAX_NAMESPACES, MAX_NODES,
    XML_NS,
};

fn err(input: &str) -> XmlError {
    Document::parse(input.as_bytes()).unwrap_err()
}

fn code_at(input: &str) -> (&'static str, usize) {
    let e = err(input);
    (e.code(), e.offset())
}

#[test]
fn parses_elements_attributes_namespaces_and_text() {
    let src = "\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\" standalone='yes'?>\n<!-- c -->\n<?pi data?>\n\
        <r xmlns=\"urn:d\" xmlns:p='urn:p' a=\"1&amp;2&#x41;&#66;&lt;&gt;&quot;&apos;\" p:b=\"x\ty\r\nz\">\
        t1<!-- gone --><![CDATA[<&>]]>&#13;<p:c/><d xmlns=\"\"><?q?></d>\r\n</r><!--end--> ";
    let doc = Document::parse(src.as_bytes()).unwrap();
    let r = doc.root_element().unwrap();
    assert_eq!(
        (r.name.as_str(), r.ns.as_str(), r.local()),
        ("r", "urn:d", "r")
    );
    assert_eq!(r.namespaces.len(), 2);
    assert_eq!(r.attributes.len(), 2);
    assert_eq!(r.attributes[0].value, "1&2AB<>\"'");
    assert_eq!(r.attributes[0].ns, "");
    assert_eq!(r.attribute("urn:p", "b").unwrap().value, "x y z");
    assert_eq!(doc.prolog.len(), 1);
    let kids: Vec<&Node> = r.children.iter().map(|&c| &doc.nodes[c]).collect();
    assert!(matches!(kids[0], Node::Text { text, .. } if text == "t1<&>\r"));
    assert!(matches!(kids[1], Node::Element(e) if e.is("urn:p", "c")));
    assert!(matches!(kids[2], Node::Element(e) if e.is("", "d") && e.children.len() == 1));
    assert!(matches!(kids[3], Node::Text { text, .. } if text == "\n"));
    assert_eq!(doc.text(doc.root), "t1<&>\r\n");
    let scope = doc.in_scope_namespaces(r.children[2]);
    assert!(scope
        .iter()
        .any(|d| d.prefix.is_empty() && d.uri.is_empty()));
    let x = Document::parse(b"<a xml:lang='en'/>").unwrap();
    assert_eq!(x.root_element().unwrap().attributes[0].ns, XML_NS);
}

#[test]
fn rejects_doctype() {
    assert_eq!(
        code_at("<!DOCTYPE r [<!ENTITY a 'b'>]><r>&a;</r>"),
        ("RIM_DOCTYPE", 0)
    );
    assert_eq!(
        code_at("<?xml version=\"1.0\"?>\n<!DOCTYPE r SYSTEM \"file:///etc/passwd\"><r/>"),
        ("RIM_DOCTYPE", 22)
    );
    assert_eq!(code_at("<r><!DOCTYPE x></r>").0, "RIM_DOCTYPE");
    assert_eq!(code_at("<r/><!DOCTYPE x>").0, "RIM_DOCTYPE");
    // A billion-laughs document never gets past its DTD.
    let lol = "<!DOCTYPE l [<!ENTITY l0 \"lol\"><!ENTITY l1 \"&l0;&l0;&l0;&l0;\">]><l>&l1;</l>";
    assert_eq!(code_at(lol).0, "RIM_DOCTYPE");
}

#[test]
fn rejects_malformed_documents() {
    let cases: &[(&str, &str, usize)] = &[
        ("", "RIM_XML_SYNTAX", 0),
        ("   ", "RIM_XML_SYNTAX", 3),
        ("text", "RIM_XML_SYNTAX", 0),
        ("<r>", "RIM_XML_SYNTAX", 3),
        ("<r><a></r>", "RIM_XML_SYNTAX", 6),
        ("<r></a>", "RIM_XML_SYNTAX", 3),
        ("<r a='1' a='2'/>", "RIM_XML_SYNTAX", 9),
        ("<r a=1/>", "RIM_XML_SYNTAX", 5),
        ("<r a='1'b='2'/>", "RIM_XML_SYNTAX", 8),
        ("<r a='<'/>", "RIM_XML_SYNTAX", 6),
        ("<r a='x", "RIM_XML_SYNTAX", 5),
        ("<r/><s/>", "RIM_XML_SYNTAX", 4),
        ("<r/>junk", "RIM_XML_SYNTAX", 4),
        ("<r>]]></r>", "RIM_XML_SYNTAX", 3),
        ("<r><![CDATA[x</r>", "RIM_XML_SYNTAX", 3),
        ("<r><!-- a -- b --></r>", "RIM_XML_SYNTAX", 10),
        ("<r><!-- x</r>", "RIM_XML_SYNTAX", 3),
        ("<r><?xml version='1.0'?></r>", "RIM_XML_SYNTAX", 3),
        ("<r>\u{1}</r>", "RIM_XML_SYNTAX", 3),
        ("<r><!ELEMENT x></r>", "RIM_XML_SYNTAX", 3),
        ("<?xml encoding='UTF-8'?><r/>", "RIM_XML_SYNTAX", 6),
        (
            "<?xml version='1.0' encoding='ISO-8859-1'?><r/>",
            "RIM_XML_ENCODING",
            20,
        ),
        ("<r>&foo;</r>", "RIM_XML_REFERENCE", 3),
        ("<r>&amp</r>", "RIM_XML_REFERENCE", 3),
        ("<r>&#0;</r>", "RIM_XML_REFERENCE", 3),
        ("<r>&#xD800;</r>", "RIM_XML_REFERENCE", 3),
        ("<r>&#x110000;</r>", "RIM_XML_REFERENCE", 3),
        ("<r>&#;</r>", "RIM_XML_REFERENCE", 3),
        ("<r a='&lt'/>", "RIM_XML_REFERENCE", 6),
        ("<p:r/>", "RIM_XML_NAMESPACE", 0),
        ("<r p:a='1'/>", "RIM_XML_NAMESPACE", 3),
        ("<r xmlns:p=''/>", "RIM_XML_NAMESPACE", 3),
        ("<r xmlns:xml='urn:x'/>", "RIM_XML_NAMESPACE", 3),
        (
            "<r xmlns:a='u' xmlns:b='u' a:x='1' b:x='2'/>",
            "RIM_XML_NAMESPACE",
            35,
        ),
        ("<a:b:c xmlns:a='u'/>", "RIM_XML_NAMESPACE", 0),
    ];
    for (input, code, offset) in cases {
        assert_eq!(code_at(input), (*code, *offset), "{input:?}");
    }
    let e = Document::parse(b"<r>\xff</r>").unwrap_err();
    assert_eq!((e.code(), e.offset()), ("RIM_XML_ENCODING", 3));
}

#[test]
fn enforces_budgets() {
    let deep = |n: usize| "<a>".repeat(n) + &"</a>".repeat(n);
    assert!(Document::parse(deep(MAX_DEPTH).as_bytes()).is_ok());
    let e = err(&deep(MAX_DEPTH + 1));
    assert_eq!((e.code(), e.offset()), ("RIM_XML_LIMIT", 3 * MAX_DEPTH));
    // A depth bomb stops at the limit, long before the end of the input.
    assert_eq!(err(&"<a>".repeat(100_000)).code(), "RIM_XML_LIMIT");
    let attrs: String = (0..=MAX_ATTRIBUTES)
        .map(|i| alloc::format!(" a{i}='x'"))
        .collect();
    assert_eq!(err(&alloc::format!("<r{attrs}/>")).code(), "RIM_XML_LIMIT");
    // Namespace declarations accumulate down the tree; their total in scope is bounded.
    let ns = |depth: usize| -> String {
        (0..depth)
            .map(|d| alloc::format!("<e{d} xmlns:a{d}='u' xmlns:b{d}='u' xmlns:c{d}='u'>"))
            .collect::<String>()
            + &(0..depth)
                .rev()
                .map(|d| alloc::format!("</e{d}>"))
                .collect::<String>()
    };
    assert!(Document::parse(ns(MAX_NAMESPACES / 3).as_bytes()).is_ok());
    let e = err(&ns(MAX_NAMESPACES / 3 + 1));
    assert!(
        matches!(e, XmlError::Limit { what, .. } if what.contains("namespace")),
        "{e}"
    );
    let wide = alloc::format!("<r>{}</r>", "<b/>".repeat(MAX_NODES));
    assert_eq!(err(&wide).code(), "RIM_XML_LIMIT");
    let big = alloc::vec![b' '; MAX_INPUT_LEN + 1];
    let e = Document::parse(&big).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("RIM_TOO_LARGE", MAX_INPUT_LEN));
}

/// Truncations and byte flips of a realistic document must fail cleanly, never panic.
#[test]
fn never_panics_on_mutations() {
    let src = "<?xml version=\"1.0\"?><SoftwareIdentity xmlns=\"urn:s\" xmlns:n=\"urn:n\" a=\"&#x3b1;&amp;\">\n  \
        <n:Meta v=\"1\"/><!-- c --><![CDATA[x]]><?p d?><Payload><R i='0' n:H='ab'/>\u{3b1}</Payload></SoftwareIdentity>";
    let b = src.as_bytes();
    for cut in 0..b.len() {
        let _ = Document::parse(&b[..cut]);
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..4000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut m = b.to_vec();
        let pos = (seed % m.len() as u64) as usize;
        let pool = b"<>&;:'\"/!?[]-=x\xff\x00 ";
        m[pos] = pool[(seed >> 32) as usize % pool.len()];
        if let Ok(doc) = Document::parse(&m) {
            let _ = crate::rim::c14n::canonicalize_document(&doc, None);
        }
    }
}

//! Inclusive Canonical XML (C14N 1.0 and 1.1, without comments) of a whole document or of an
//! element subtree, as XML-DSig needs it for NVIDIA's manifests.
//!
//! Rules applied: no XML declaration; comments dropped; processing instructions kept (outside the
//! root element separated by line feeds); empty elements written as start and end tags; namespace
//! declarations emitted where they are not already in scope in the output (at a subtree apex that
//! is every in-scope declaration, inherited ones included), sorted by prefix with the default
//! namespace first; attributes sorted by (namespace URI, local name), unqualified first; attribute
//! values always double-quoted with `& < "` and tab, line feed and carriage return escaped; text
//! with `& < >` and carriage return escaped; whitespace text preserved.
//!
//! The two versions differ only for a subtree whose ancestors carry `xml:*` attributes: 1.0
//! copies every one of them onto the apex, 1.1 only `xml:lang` and `xml:space` (and would fix
//! up `xml:base`, which is not implemented here and reported as unsupported).

use alloc::string::String;
use alloc::vec::Vec;

use super::error::RimError;
use super::xml::{Attribute, Document, Node, NodeId, NsDecl, XML_NS};

/// The canonicalization algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum C14nVersion {
    /// `http://www.w3.org/TR/2001/REC-xml-c14n-20010315`
    V10,
    /// `http://www.w3.org/2006/12/xml-c14n11`
    V11,
}

impl C14nVersion {
    /// URI of inclusive C14N 1.0 without comments.
    pub const URI_10: &'static str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    /// URI of inclusive C14N 1.1 without comments.
    pub const URI_11: &'static str = "http://www.w3.org/2006/12/xml-c14n11";

    /// The algorithm named by an XML-DSig `Algorithm` URI, if supported.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            Self::URI_10 => Some(C14nVersion::V10),
            Self::URI_11 => Some(C14nVersion::V11),
            _ => None,
        }
    }
}

/// Namespace bindings in scope: (prefix, URI), the default namespace with an empty prefix.
type Scope<'d> = Vec<(&'d str, &'d str)>;

/// The namespaces in scope at `id`, nearest declaration winning.
fn scope_at(doc: &Document, id: NodeId) -> Scope<'_> {
    let mut chain = Vec::new();
    let mut cur = doc.element(id);
    while let Some(e) = cur {
        chain.push(e);
        cur = e.parent.and_then(|p| doc.element(p));
    }
    let mut scope = Scope::new();
    for e in chain.iter().rev() {
        extend(&mut scope, &e.namespaces);
    }
    scope
}

fn extend<'d>(scope: &mut Scope<'d>, decls: &'d [NsDecl]) {
    for d in decls {
        match scope.iter_mut().find(|x| x.0 == d.prefix) {
            Some(x) => x.1 = &d.uri,
            None => scope.push((&d.prefix, &d.uri)),
        }
    }
}

/// Canonical form of the whole document, leaving out the subtree `exclude` (the enveloped
/// signature), as required by a same-document reference `URI=""`.
pub fn canonicalize_document(doc: &Document, exclude: Option<NodeId>) -> Vec<u8> {
    let mut w = Writer {
        doc,
        out: String::new(),
        exclude,
    };
    for &pi in &doc.prolog {
        w.node(pi, &[]);
        w.out.push('\n');
    }
    let scope = scope_at(doc, doc.root);
    w.element(doc.root, &[], scope, Vec::new());
    for &pi in &doc.epilog {
        w.out.push('\n');
        w.node(pi, &[]);
    }
    w.out.into_bytes()
}

/// Canonical form of the subtree rooted at element `apex`, in the context of its document.
pub fn canonicalize_subtree(
    doc: &Document,
    apex: NodeId,
    version: C14nVersion,
) -> Result<Vec<u8>, RimError> {
    let el = doc.element(apex).ok_or(RimError::C14nUnsupported {
        offset: 0,
        reason: "the subtree apex is not an element",
    })?;
    let mut inherited: Vec<Attribute> = Vec::new();
    let mut anc = el.parent;
    while let Some(a) = anc.and_then(|i| doc.element(i)) {
        for attr in a.attributes.iter().filter(|x| x.ns == XML_NS) {
            let wanted = match (version, attr.local()) {
                (C14nVersion::V11, "base") => {
                    return Err(RimError::C14nUnsupported {
                        offset: attr.offset,
                        reason: "xml:base on an ancestor of the signed subtree (C14N 1.1 fix-up)",
                    })
                }
                (C14nVersion::V11, l) => l == "lang" || l == "space",
                (C14nVersion::V10, _) => true,
            };
            let present = |x: &Attribute| x.ns == XML_NS && x.local() == attr.local();
            if wanted && !el.attributes.iter().any(present) && !inherited.iter().any(present) {
                inherited.push(attr.clone());
            }
        }
        anc = a.parent;
    }
    let scope = scope_at(doc, apex);
    let mut w = Writer {
        doc,
        out: String::new(),
        exclude: None,
    };
    w.element(apex, &[], scope, inherited);
    Ok(w.out.into_bytes())
}

struct Writer<'d> {
    doc: &'d Document,
    out: String,
    exclude: Option<NodeId>,
}

impl<'d> Writer<'d> {
    /// Writes a child node; `scope` is the parent's in-scope namespaces (also the output context).
    fn node(&mut self, id: NodeId, scope: &[(&'d str, &'d str)]) {
        if Some(id) == self.exclude {
            return;
        }
        match self.doc.nodes.get(id) {
            Some(Node::Element(e)) => {
                let mut child_scope = scope.to_vec();
                extend(&mut child_scope, &e.namespaces);
                self.element(id, scope, child_scope, Vec::new());
            }
            Some(Node::Text { text, .. }) => escape_text(&mut self.out, text),
            Some(Node::Pi { target, data, .. }) => {
                self.out.push_str("<?");
                self.out.push_str(target);
                if !data.is_empty() {
                    self.out.push(' ');
                    self.out.push_str(data);
                }
                self.out.push_str("?>");
            }
            None => {}
        }
    }

    /// Writes an element. `ctx` is what the output already has in scope (the parent's in-scope
    /// namespaces, or nothing at an apex); `scope` is the element's own in-scope namespaces.
    fn element(
        &mut self,
        id: NodeId,
        ctx: &[(&'d str, &'d str)],
        scope: Scope<'d>,
        extra: Vec<Attribute>,
    ) {
        let doc = self.doc;
        let Some(e) = doc.element(id) else { return };
        self.out.push('<');
        self.out.push_str(&e.name);
        let mut decls: Scope<'d> = scope
            .iter()
            .copied()
            .filter(|(prefix, uri)| {
                *prefix != "xml"
                    && ctx
                        .iter()
                        .find(|c| c.0 == *prefix)
                        .map(|c| c.1)
                        .unwrap_or("")
                        != *uri
            })
            .collect();
        decls.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (prefix, uri) in decls {
            if prefix.is_empty() {
                self.out.push_str(" xmlns=\"");
            } else {
                self.out.push_str(" xmlns:");
                self.out.push_str(prefix);
                self.out.push_str("=\"");
            }
            escape_attr(&mut self.out, uri);
            self.out.push('"');
        }
        let mut attrs: Vec<&Attribute> = e.attributes.iter().chain(extra.iter()).collect();
        attrs.sort_by(|a, b| (a.ns.as_str(), a.local()).cmp(&(b.ns.as_str(), b.local())));
        for a in attrs {
            self.out.push(' ');
            self.out.push_str(&a.name);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, &a.value);
            self.out.push('"');
        }
        self.out.push('>');
        for &c in &e.children {
            self.node(c, &scope);
        }
        self.out.push_str("</");
        self.out.push_str(&e.name);
        self.out.push('>');
    }
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

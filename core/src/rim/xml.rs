//! A minimal, namespace-aware XML 1.0 parser for NVIDIA's signed SWID manifests.
//!
//! Supported: an optional XML declaration (UTF-8 only), elements, attributes (document order,
//! values after XML attribute-value normalization), namespace declarations, character data,
//! CDATA sections, the five predefined entities and numeric character references, processing
//! instructions, and comments (skipped). Not supported, by design: DTDs (`<!DOCTYPE` is rejected,
//! so no entity can be defined or fetched) and encodings other than UTF-8.
//!
//! Hostile input is bounded by [`MAX_INPUT_LEN`], [`MAX_DEPTH`], [`MAX_ATTRIBUTES`] and
//! [`MAX_NODES`]. Every error carries the byte offset where it was found. Parsing never panics.

use alloc::string::String;
use alloc::vec::Vec;

pub use super::error::XmlError;

/// Largest document accepted, in bytes.
pub const MAX_INPUT_LEN: usize = 2 * 1024 * 1024;
/// Deepest element nesting accepted (the root is depth 1).
pub const MAX_DEPTH: usize = 32;
/// Most attributes (namespace declarations included) on one element.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most namespace declarations in scope at any element (shadowed ones included).
pub const MAX_NAMESPACES: usize = 64;
/// Most nodes (elements, text runs, processing instructions) in one document.
pub const MAX_NODES: usize = 16_384;
/// The namespace bound to the `xml` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Index of a node inside its [`Document`].
pub type NodeId = usize;

/// An attribute (namespace declarations are kept apart, in [`Element::namespaces`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Qualified name as written (`ns2:Hash0`).
    pub name: String,
    /// Namespace URI (empty for unprefixed attributes).
    pub ns: String,
    /// Value after reference expansion and attribute-value normalization.
    pub value: String,
    /// Byte offset of the attribute name.
    pub offset: usize,
}

impl Attribute {
    /// The part of the name after the prefix.
    pub fn local(&self) -> &str {
        local_part(&self.name)
    }
}

/// A namespace declaration: `xmlns="uri"` (empty prefix) or `xmlns:prefix="uri"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsDecl {
    pub prefix: String,
    pub uri: String,
}

/// An element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Qualified name as written.
    pub name: String,
    /// Namespace URI of the element (empty when none).
    pub ns: String,
    pub attributes: Vec<Attribute>,
    /// Namespace declarations made on this element, in document order.
    pub namespaces: Vec<NsDecl>,
    pub children: Vec<NodeId>,
    pub parent: Option<NodeId>,
    /// Byte offset of the `<` of the start tag.
    pub offset: usize,
}

impl Element {
    /// The part of the name after the prefix.
    pub fn local(&self) -> &str {
        local_part(&self.name)
    }

    /// Whether the element has this namespace URI and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local() == local
    }

    /// The attribute with this namespace URI (empty for none) and local name.
    pub fn attribute(&self, ns: &str, local: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.ns == ns && a.local() == local)
    }
}

/// A node of the tree. Comments are not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data (adjacent text, CDATA and references merged).
    Text {
        text: String,
        offset: usize,
    },
    /// A processing instruction.
    Pi {
        target: String,
        data: String,
        offset: usize,
    },
}

/// A parsed document. Only [`Document::parse`] builds one, so the root is always an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: NodeId,
    /// Processing instructions before the root element.
    pub(crate) prolog: Vec<NodeId>,
    /// Processing instructions after the root element.
    pub(crate) epilog: Vec<NodeId>,
}

impl Document {
    /// Parses a UTF-8 document.
    pub fn parse(input: &[u8]) -> Result<Document, XmlError> {
        super::xml_parser::parse(input)
    }

    /// The element with this id, if the node is one.
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match self.nodes.get(id) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        }
    }

    /// The id of the document element.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The document element.
    pub fn root_element(&self) -> Option<&Element> {
        self.element(self.root)
    }

    /// Every node, indexed by [`NodeId`].
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// The element children of `id`, in order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        let children = self
            .element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or(&[]);
        children
            .iter()
            .filter_map(move |&c| self.element(c).map(|e| (c, e)))
    }

    /// The concatenated text children of `id`.
    pub fn text(&self, id: NodeId) -> String {
        let mut s = String::new();
        for &c in self
            .element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or(&[])
        {
            if let Some(Node::Text { text, .. }) = self.nodes.get(c) {
                s.push_str(text);
            }
        }
        s
    }

    /// The namespace declarations in scope at `id` (nearest wins), without the implicit `xml` one.
    /// An undeclared default namespace appears as `("", "")`.
    pub fn in_scope_namespaces(&self, id: NodeId) -> Vec<NsDecl> {
        let mut chain = Vec::new();
        let mut cur = Some(id);
        while let Some(i) = cur {
            let Some(e) = self.element(i) else { break };
            chain.push(i);
            cur = e.parent;
        }
        let mut scope: Vec<NsDecl> = Vec::new();
        for &i in chain.iter().rev() {
            for d in self
                .element(i)
                .map(|e| e.namespaces.as_slice())
                .unwrap_or(&[])
            {
                match scope.iter_mut().find(|s| s.prefix == d.prefix) {
                    Some(s) => s.uri.clone_from(&d.uri),
                    None => scope.push(d.clone()),
                }
            }
        }
        scope
    }
}

pub(crate) fn local_part(name: &str) -> &str {
    name.rsplit_once(':').map(|(_, l)| l).unwrap_or(name)
}

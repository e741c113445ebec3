//! The document-level half of the parser behind [`super::xml::Document::parse`]: prolog,
//! XML declaration, comments, processing instructions and the element tree (without recursion).
//! Start tags, attribute values, text and references are in `xml_lexer`.

use alloc::string::String;
use alloc::vec::Vec;

use super::xml::{Document, Node, NodeId, NsDecl, XmlError, MAX_DEPTH, MAX_INPUT_LEN, MAX_NODES};
use super::xml_lexer::normalize_newlines;

pub(super) fn parse(input: &[u8]) -> Result<Document, XmlError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(XmlError::TooLarge {
            got: input.len(),
            max: MAX_INPUT_LEN,
        });
    }
    let s = core::str::from_utf8(input).map_err(|e| XmlError::Encoding {
        offset: e.valid_up_to(),
        reason: "the document is not valid UTF-8",
    })?;
    if let Some((offset, _)) = s.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(syntax(offset, "character not allowed in XML"));
    }
    let mut p = Parser {
        s,
        pos: 0,
        nodes: Vec::new(),
    };
    if s.starts_with('\u{FEFF}') {
        p.pos = 3;
    }
    if p.at("<?xml") && p.byte_at(p.pos + 5).is_some_and(is_ws) {
        p.xml_declaration()?;
    }
    let mut prolog = Vec::new();
    loop {
        p.skip_ws();
        if p.at("<!--") {
            p.comment()?;
        } else if p.at("<!DOCTYPE") {
            return Err(XmlError::Doctype { offset: p.pos });
        } else if p.at("<?") {
            prolog.push(p.pi(None)?);
        } else if p.at("<") && p.byte_at(p.pos + 1).is_some_and(is_name_start) {
            break;
        } else if p.pos >= s.len() {
            return Err(syntax(p.pos, "no root element"));
        } else {
            return Err(syntax(p.pos, "expected the root element"));
        }
    }
    let root = p.content()?;
    let mut epilog = Vec::new();
    loop {
        p.skip_ws();
        if p.pos >= s.len() {
            break;
        } else if p.at("<!--") {
            p.comment()?;
        } else if p.at("<!DOCTYPE") {
            return Err(XmlError::Doctype { offset: p.pos });
        } else if p.at("<?") {
            epilog.push(p.pi(None)?);
        } else {
            return Err(syntax(p.pos, "content after the root element"));
        }
    }
    Ok(Document {
        nodes: p.nodes,
        root,
        prolog,
        epilog,
    })
}

pub(super) fn syntax(offset: usize, reason: &'static str) -> XmlError {
    XmlError::Syntax { offset, reason }
}

pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

pub(super) fn is_name_char(b: u8) -> bool {
    is_name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

pub(super) struct Parser<'a> {
    pub(super) s: &'a str,
    pub(super) pos: usize,
    pub(super) nodes: Vec<Node>,
}

impl<'a> Parser<'a> {
    pub(super) fn at(&self, lit: &str) -> bool {
        self.s
            .as_bytes()
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(lit.as_bytes()))
    }

    pub(super) fn byte_at(&self, i: usize) -> Option<u8> {
        self.s.as_bytes().get(i).copied()
    }

    pub(super) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.byte_at(self.pos).is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    pub(super) fn expect(&mut self, lit: &str, reason: &'static str) -> Result<(), XmlError> {
        if !self.at(lit) {
            return Err(syntax(self.pos, reason));
        }
        self.pos += lit.len();
        Ok(())
    }

    /// Finds `lit` at or after the cursor; returns its absolute offset.
    pub(super) fn find(&self, lit: &str) -> Option<usize> {
        self.s.get(self.pos..)?.find(lit).map(|i| self.pos + i)
    }

    pub(super) fn name(&mut self) -> Result<&'a str, XmlError> {
        let start = self.pos;
        if !self.byte_at(start).is_some_and(is_name_start) {
            return Err(syntax(start, "expected a name"));
        }
        while self.byte_at(self.pos).is_some_and(is_name_char) {
            self.pos += 1;
        }
        // Only ASCII bytes stop the loop, so `pos` is on a character boundary.
        self.s
            .get(start..self.pos)
            .ok_or(syntax(start, "expected a name"))
    }

    pub(super) fn push_node(
        &mut self,
        node: Node,
        parent: Option<NodeId>,
        offset: usize,
    ) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(XmlError::Limit {
                offset,
                what: "nodes in the document",
                max: MAX_NODES,
            });
        }
        let id = self.nodes.len();
        self.nodes.push(node);
        if let Some(Node::Element(e)) = parent.and_then(|p| self.nodes.get_mut(p)) {
            e.children.push(id);
        }
        Ok(id)
    }

    fn xml_declaration(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        let end = self
            .find("?>")
            .ok_or(syntax(start, "unterminated XML declaration"))?;
        self.pos += 5;
        let mut seen_version = false;
        while self.pos < end {
            if !self.skip_ws() && self.pos < end {
                return Err(syntax(
                    self.pos,
                    "expected whitespace in the XML declaration",
                ));
            }
            if self.pos >= end {
                break;
            }
            let at = self.pos;
            let name = self.name()?;
            self.skip_ws();
            self.expect("=", "expected '=' in the XML declaration")?;
            self.skip_ws();
            let value = self.attr_value()?;
            match name {
                "version" if !seen_version && value.starts_with("1.") => seen_version = true,
                "encoding" if seen_version => {
                    if !value.eq_ignore_ascii_case("UTF-8") {
                        return Err(XmlError::Encoding {
                            offset: at,
                            reason: "only UTF-8 documents are accepted",
                        });
                    }
                }
                "standalone" if seen_version && (value == "yes" || value == "no") => {}
                _ => return Err(syntax(at, "malformed XML declaration")),
            }
        }
        if self.pos != end || !seen_version {
            return Err(syntax(start, "malformed XML declaration"));
        }
        self.pos = end + 2;
        Ok(())
    }

    fn comment(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        self.pos += 4;
        let end = self
            .find("--")
            .ok_or(syntax(start, "unterminated comment"))?;
        if self.byte_at(end + 2) != Some(b'>') {
            return Err(syntax(end, "'--' inside a comment"));
        }
        self.pos = end + 3;
        Ok(())
    }

    fn pi(&mut self, parent: Option<NodeId>) -> Result<NodeId, XmlError> {
        let start = self.pos;
        self.pos += 2;
        let target = self.name()?;
        if target.eq_ignore_ascii_case("xml") {
            return Err(syntax(
                start,
                "XML declaration not at the start of the document",
            ));
        }
        if target.contains(':') {
            return Err(XmlError::Namespace {
                offset: start,
                reason: "colon in a processing-instruction target",
            });
        }
        let data = if self.at("?>") {
            String::new()
        } else {
            if !self.skip_ws() {
                return Err(syntax(
                    self.pos,
                    "expected whitespace after the processing-instruction target",
                ));
            }
            let end = self
                .find("?>")
                .ok_or(syntax(start, "unterminated processing instruction"))?;
            let raw = self.s.get(self.pos..end).unwrap_or_default();
            self.pos = end;
            normalize_newlines(raw)
        };
        self.pos += 2;
        self.push_node(
            Node::Pi {
                target: target.into(),
                data,
                offset: start,
            },
            parent,
            start,
        )
    }

    /// Parses the root element and everything inside it, without recursion.
    fn content(&mut self) -> Result<NodeId, XmlError> {
        let mut scope: Vec<NsDecl> = Vec::new();
        // Open elements: (node, length of `scope` before its declarations).
        let mut stack: Vec<(NodeId, usize)> = Vec::new();
        let mut text = String::new();
        let mut text_start = self.pos;
        let (root, closed) = self.start_tag(None, &mut scope)?;
        if closed {
            return Ok(root);
        }
        stack.push((root, 0));
        loop {
            let Some(&(top, scope_len)) = stack.last() else {
                return Ok(root);
            };
            if self.pos >= self.s.len() {
                return Err(syntax(
                    self.pos,
                    "unexpected end of input: element not closed",
                ));
            }
            if !self.at("<") {
                if text.is_empty() {
                    text_start = self.pos;
                }
                self.char_data(&mut text)?;
                continue;
            }
            if self.at("<!--") {
                self.comment()?;
                continue;
            }
            if self.at("<![CDATA[") {
                let start = self.pos;
                let end = self
                    .find("]]>")
                    .ok_or(syntax(start, "unterminated CDATA section"))?;
                if text.is_empty() {
                    text_start = start;
                }
                text.push_str(&normalize_newlines(
                    self.s.get(start + 9..end).unwrap_or_default(),
                ));
                self.pos = end + 3;
                continue;
            }
            if !text.is_empty() {
                let t = core::mem::take(&mut text);
                self.push_node(
                    Node::Text {
                        text: t,
                        offset: text_start,
                    },
                    Some(top),
                    text_start,
                )?;
            }
            if self.at("</") {
                let start = self.pos;
                self.pos += 2;
                let name = self.name()?;
                self.skip_ws();
                self.expect(">", "expected '>' to close the end tag")?;
                if self.element_name(top) != Some(name) {
                    return Err(syntax(start, "end tag does not match the open element"));
                }
                stack.pop();
                scope.truncate(scope_len);
            } else if self.at("<?") {
                self.pi(Some(top))?;
            } else if self.at("<!DOCTYPE") {
                return Err(XmlError::Doctype { offset: self.pos });
            } else if self.at("<!") {
                return Err(syntax(self.pos, "unexpected markup declaration"));
            } else {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::Limit {
                        offset: self.pos,
                        what: "element nesting depth",
                        max: MAX_DEPTH,
                    });
                }
                let before = scope.len();
                let (id, closed) = self.start_tag(Some(top), &mut scope)?;
                if closed {
                    scope.truncate(before);
                } else {
                    stack.push((id, before));
                }
            }
        }
    }

    fn element_name(&self, id: NodeId) -> Option<&str> {
        match self.nodes.get(id) {
            Some(Node::Element(e)) => Some(e.name.as_str()),
            _ => None,
        }
    }
}

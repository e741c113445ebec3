//! Start tags (attributes, namespace declarations and their resolution), attribute values,
//! character data and references: the token-level half of the parser.

use alloc::string::String;
use alloc::vec::Vec;

use super::xml::{
    Attribute, Element, Node, NodeId, NsDecl, XmlError, MAX_ATTRIBUTES, MAX_NAMESPACES, XML_NS,
};
use super::xml_parser::{is_name_start, is_xml_char, syntax, Parser};

const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Splits a qualified name, checking the namespace constraints on its shape.
fn split_qname(name: &str, offset: usize) -> Result<(Option<&str>, &str), XmlError> {
    match name.split_once(':') {
        None => Ok((None, name)),
        Some((p, l))
            if !p.is_empty()
                && !l.is_empty()
                && !l.contains(':')
                && is_name_start(l.as_bytes()[0]) =>
        {
            Ok((Some(p), l))
        }
        Some(_) => Err(XmlError::Namespace {
            offset,
            reason: "malformed qualified name",
        }),
    }
}

impl<'a> Parser<'a> {
    /// Parses a start tag; returns the element and whether it was empty (`/>`).
    pub(super) fn start_tag(
        &mut self,
        parent: Option<NodeId>,
        scope: &mut Vec<NsDecl>,
    ) -> Result<(NodeId, bool), XmlError> {
        let start = self.pos;
        self.pos += 1;
        let name = self.name()?;
        let mut raw: Vec<(&'a str, String, usize)> = Vec::new();
        let closed = loop {
            let had_ws = self.skip_ws();
            if self.at(">") {
                self.pos += 1;
                break false;
            }
            if self.at("/>") {
                self.pos += 2;
                break true;
            }
            if self.pos >= self.s.len() {
                return Err(syntax(
                    self.pos,
                    "unexpected end of input inside a start tag",
                ));
            }
            if !had_ws {
                return Err(syntax(self.pos, "expected whitespace, '>' or '/>'"));
            }
            let at = self.pos;
            let an = self.name()?;
            self.skip_ws();
            self.expect("=", "expected '=' after the attribute name")?;
            self.skip_ws();
            let value = self.attr_value()?;
            if raw.len() >= MAX_ATTRIBUTES {
                return Err(XmlError::Limit {
                    offset: at,
                    what: "attributes on one element",
                    max: MAX_ATTRIBUTES,
                });
            }
            if raw.iter().any(|(n, _, _)| *n == an) {
                return Err(syntax(at, "duplicate attribute"));
            }
            raw.push((an, value, at));
        };
        let mut namespaces = Vec::new();
        let mut plain = Vec::new();
        for (an, value, at) in raw {
            let prefix = if an == "xmlns" {
                ""
            } else if let Some(p) = an.strip_prefix("xmlns:") {
                if p.is_empty() || p.contains(':') || p == "xmlns" {
                    return Err(XmlError::Namespace {
                        offset: at,
                        reason: "illegal namespace prefix",
                    });
                }
                if value.is_empty() {
                    return Err(XmlError::Namespace {
                        offset: at,
                        reason: "a prefix cannot be bound to the empty namespace",
                    });
                }
                p
            } else {
                plain.push((an, value, at));
                continue;
            };
            if (prefix == "xml") != (value == XML_NS) || value == XMLNS_NS {
                return Err(XmlError::Namespace {
                    offset: at,
                    reason: "reserved namespace misused",
                });
            }
            namespaces.push(NsDecl {
                prefix: prefix.into(),
                uri: value,
            });
        }
        scope.extend(namespaces.iter().cloned());
        if scope.len() > MAX_NAMESPACES {
            return Err(XmlError::Limit {
                offset: start,
                what: "namespace declarations in scope",
                max: MAX_NAMESPACES,
            });
        }
        let ns = resolve(scope, name, start, true)?;
        let mut attributes: Vec<Attribute> = Vec::with_capacity(plain.len());
        for (an, value, at) in plain {
            let ans = resolve(scope, an, at, false)?;
            let local = super::xml::local_part(an);
            if attributes.iter().any(|a| a.ns == ans && a.local() == local) {
                return Err(XmlError::Namespace {
                    offset: at,
                    reason: "duplicate attribute after namespace resolution",
                });
            }
            attributes.push(Attribute {
                name: an.into(),
                ns: ans,
                value,
                offset: at,
            });
        }
        let el = Element {
            name: name.into(),
            ns,
            attributes,
            namespaces,
            children: Vec::new(),
            parent,
            offset: start,
        };
        let id = self.push_node(Node::Element(el), parent, start)?;
        Ok((id, closed))
    }

    pub(super) fn attr_value(&mut self) -> Result<String, XmlError> {
        let quote = match self.byte_at(self.pos) {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(syntax(self.pos, "expected a quoted value")),
        };
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let chunk_start = self.pos;
            while self
                .byte_at(self.pos)
                .is_some_and(|b| !matches!(b, b'<' | b'&' | b'\r' | b'\n' | b'\t') && b != quote)
            {
                self.pos += 1;
            }
            out.push_str(self.s.get(chunk_start..self.pos).unwrap_or_default());
            match self.byte_at(self.pos) {
                None => return Err(syntax(open, "unterminated attribute value")),
                Some(b'<') => return Err(syntax(self.pos, "'<' in an attribute value")),
                Some(b'&') => out.push(self.reference()?),
                Some(b'\r') => {
                    out.push(' ');
                    self.pos += if self.byte_at(self.pos + 1) == Some(b'\n') {
                        2
                    } else {
                        1
                    };
                }
                Some(b'\n' | b'\t') => {
                    out.push(' ');
                    self.pos += 1;
                }
                Some(_) => {
                    self.pos += 1;
                    return Ok(out);
                }
            }
        }
    }

    pub(super) fn char_data(&mut self, out: &mut String) -> Result<(), XmlError> {
        loop {
            let chunk_start = self.pos;
            while self
                .byte_at(self.pos)
                .is_some_and(|b| !matches!(b, b'<' | b'&' | b'\r' | b']'))
            {
                self.pos += 1;
            }
            out.push_str(self.s.get(chunk_start..self.pos).unwrap_or_default());
            match self.byte_at(self.pos) {
                None | Some(b'<') => return Ok(()),
                Some(b'&') => out.push(self.reference()?),
                Some(b'\r') => {
                    out.push('\n');
                    self.pos += if self.byte_at(self.pos + 1) == Some(b'\n') {
                        2
                    } else {
                        1
                    };
                }
                Some(_) => {
                    if self.at("]]>") {
                        return Err(syntax(self.pos, "']]>' in character data"));
                    }
                    out.push(']');
                    self.pos += 1;
                }
            }
        }
    }

    /// Expands `&name;` at the cursor: the five predefined entities and numeric references.
    pub(super) fn reference(&mut self) -> Result<char, XmlError> {
        let start = self.pos;
        let bad = XmlError::Reference { offset: start };
        let rest = self.s.get(start + 1..).ok_or(bad.clone())?;
        let semi = rest
            .bytes()
            .take(12)
            .position(|b| b == b';')
            .ok_or(bad.clone())?;
        let body = &rest[..semi];
        let c = match body {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let n = if let Some(h) = body.strip_prefix("#x") {
                    parse_num(h, 16)
                } else if let Some(d) = body.strip_prefix('#') {
                    parse_num(d, 10)
                } else {
                    None
                };
                n.and_then(char::from_u32)
                    .filter(|c| is_xml_char(*c))
                    .ok_or(bad)?
            }
        };
        self.pos = start + 2 + semi;
        Ok(c)
    }
}

fn parse_num(digits: &str, radix: u32) -> Option<u32> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

pub(super) fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Resolves the namespace URI of a qualified name against the declarations in scope.
fn resolve(
    scope: &[NsDecl],
    qname: &str,
    offset: usize,
    use_default: bool,
) -> Result<String, XmlError> {
    let (prefix, _) = split_qname(qname, offset)?;
    let prefix = match prefix {
        Some("xml") => return Ok(XML_NS.into()),
        Some("xmlns") => {
            return Err(XmlError::Namespace {
                offset,
                reason: "the xmlns prefix cannot be used",
            })
        }
        Some(p) => p,
        None if use_default => "",
        None => return Ok(String::new()),
    };
    match scope.iter().rev().find(|d| d.prefix == prefix) {
        Some(d) => Ok(d.uri.clone()),
        None if prefix.is_empty() => Ok(String::new()),
        None => Err(XmlError::Namespace {
            offset,
            reason: "undeclared namespace prefix",
        }),
    }
}

//! The content of a RIM: SWID identity, `Meta` attributes and the measurement entries.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::error::RimError;
use super::xml::{Document, Element, NodeId};
use super::{SHA384_HASH_NS, SWID_NS, TCG_RIM_NS};

/// Most hash alternatives accepted for one measurement.
pub const MAX_ALTERNATIVES: usize = 32;

/// A parsed manifest. Only obtainable from [`super::SignedRim`] / [`super::VerifiedRim`], i.e.
/// after the XML signature verified.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Rim {
    /// `SoftwareIdentity/@tagId`.
    pub tag_id: String,
    /// `SoftwareIdentity/@name` (`GH100`).
    pub name: String,
    /// `SoftwareIdentity/@version`.
    pub version: Option<String>,
    /// `SoftwareIdentity/@tagVersion`.
    pub tag_version: Option<String>,
    pub meta: RimMeta,
    /// Every `Resource type="Measurement"`, in document order.
    pub measurements: Vec<RimMeasurement>,
}

/// The `Meta` element.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RimMeta {
    /// Driver version (`550.90.07`) or VBIOS version (`96.00.9F.00.01`).
    pub colloquial_version: String,
    pub product: Option<String>,
    pub edition: Option<String>,
    pub revision: Option<String>,
    pub payload_type: Option<String>,
    pub binding_spec: Option<String>,
    pub binding_spec_version: Option<String>,
    pub platform_manufacturer_id: Option<String>,
    pub platform_manufacturer_str: Option<String>,
    pub platform_model: Option<String>,
    pub firmware_manufacturer: Option<String>,
    pub firmware_manufacturer_id: Option<String>,
    /// Every attribute of `Meta`, in document order.
    pub attributes: Vec<MetaAttribute>,
}

/// One attribute of `Meta`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MetaAttribute {
    /// Namespace URI (empty for unqualified attributes).
    pub ns: String,
    /// Local name.
    pub name: String,
    pub value: String,
}

/// One `Resource type="Measurement"` entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RimMeasurement {
    /// 0-based index; SPDM measurement block `index + 1`.
    pub index: u8,
    pub active: bool,
    /// Declared number of alternatives (equals `hashes.len()`).
    pub alternatives: usize,
    pub name: String,
    /// Digest size in bytes.
    pub size: usize,
    /// `Hash0..Hash{N-1}`: lower-case hex.
    pub hashes: Vec<String>,
}

impl Rim {
    /// The active entries (the golden measurements), in document order.
    pub fn active(&self) -> impl Iterator<Item = &RimMeasurement> {
        self.measurements.iter().filter(|m| m.active)
    }

    /// The entry with this index.
    pub fn measurement(&self, index: u8) -> Option<&RimMeasurement> {
        self.measurements.iter().find(|m| m.index == index)
    }

    /// Reads the payload of a parsed document. Callers must have verified the signature first.
    pub(crate) fn from_document(doc: &Document) -> Result<Rim, RimError> {
        let root = doc.root_element().ok_or(RimError::NotSwid { offset: 0 })?;
        if !root.is(SWID_NS, "SoftwareIdentity") {
            return Err(RimError::NotSwid {
                offset: root.offset,
            });
        }
        let tag_id = required(root, "SoftwareIdentity", "tagId")?;
        let name = required(root, "SoftwareIdentity", "name")?;
        let (_, meta_el) = single(doc, doc.root(), "Meta")?;
        let (payload, _) = single(doc, doc.root(), "Payload")?;
        let meta = RimMeta {
            colloquial_version: required(meta_el, "Meta", "colloquialVersion")?,
            product: optional(meta_el, "", "product"),
            edition: optional(meta_el, "", "edition"),
            revision: optional(meta_el, "", "revision"),
            payload_type: optional(meta_el, "", "PayloadType"),
            binding_spec: optional(meta_el, TCG_RIM_NS, "BindingSpec"),
            binding_spec_version: optional(meta_el, TCG_RIM_NS, "BindingSpecVersion"),
            platform_manufacturer_id: optional(meta_el, TCG_RIM_NS, "PlatformManufacturerId"),
            platform_manufacturer_str: optional(meta_el, TCG_RIM_NS, "PlatformManufacturerStr"),
            platform_model: optional(meta_el, TCG_RIM_NS, "PlatformModel"),
            firmware_manufacturer: optional(meta_el, TCG_RIM_NS, "FirmwareManufacturer"),
            firmware_manufacturer_id: optional(meta_el, TCG_RIM_NS, "FirmwareManufacturerId"),
            attributes: meta_el
                .attributes
                .iter()
                .map(|a| MetaAttribute {
                    ns: a.ns.clone(),
                    name: a.local().into(),
                    value: a.value.clone(),
                })
                .collect(),
        };
        let mut measurements: Vec<RimMeasurement> = Vec::new();
        for (_, r) in doc.child_elements(payload) {
            if !r.is(SWID_NS, "Resource")
                || r.attribute("", "type").map(|a| a.value.as_str()) != Some("Measurement")
            {
                continue;
            }
            let m = measurement(r)?;
            if measurements.iter().any(|x| x.index == m.index) {
                return Err(RimError::DuplicateIndex {
                    offset: r.offset,
                    index: m.index,
                });
            }
            measurements.push(m);
        }
        if measurements.is_empty() {
            return Err(RimError::NoMeasurements);
        }
        Ok(Rim {
            tag_id,
            name,
            version: optional(root, "", "version"),
            tag_version: optional(root, "", "tagVersion"),
            meta,
            measurements,
        })
    }
}

fn single<'d>(
    doc: &'d Document,
    parent: NodeId,
    local: &'static str,
) -> Result<(NodeId, &'d Element), RimError> {
    let mut it = doc
        .child_elements(parent)
        .filter(|(_, e)| e.is(SWID_NS, local));
    match (it.next(), it.next()) {
        (Some(found), None) => Ok(found),
        _ => Err(RimError::MissingElement { element: local }),
    }
}

fn optional(e: &Element, ns: &str, local: &str) -> Option<String> {
    e.attribute(ns, local).map(|a| a.value.clone())
}

fn required(
    e: &Element,
    element: &'static str,
    attribute: &'static str,
) -> Result<String, RimError> {
    optional(e, "", attribute).ok_or(RimError::MissingAttribute {
        offset: e.offset,
        element,
        attribute,
    })
}

fn bad(e: &Element, attribute: &str, reason: &'static str) -> RimError {
    let offset = e
        .attribute("", attribute)
        .map(|a| a.offset)
        .unwrap_or(e.offset);
    RimError::BadAttribute {
        offset,
        attribute: attribute.into(),
        reason,
    }
}

fn is_lower_hex(s: &str) -> bool {
    !s.is_empty() && s.len() & 1 == 0 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn number(e: &Element, attribute: &'static str) -> Result<usize, RimError> {
    let v = required(e, "Resource", attribute)?;
    if v.is_empty() || v.len() > 6 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(e, attribute, "not a decimal number"));
    }
    v.parse()
        .map_err(|_| bad(e, attribute, "not a decimal number"))
}

fn measurement(r: &Element) -> Result<RimMeasurement, RimError> {
    let index = number(r, "index")?;
    let index = u8::try_from(index)
        .ok()
        .filter(|i| *i < u8::MAX)
        .ok_or(bad(r, "index", "out of range (0..=254)"))?;
    let active = match required(r, "Resource", "active")?.as_str() {
        "True" | "true" => true,
        "False" | "false" => false,
        _ => return Err(bad(r, "active", "expected True or False")),
    };
    let alternatives = number(r, "alternatives")?;
    if alternatives > MAX_ALTERNATIVES {
        return Err(bad(r, "alternatives", "too many alternatives"));
    }
    let size = number(r, "size")?;
    let mut hashes = Vec::with_capacity(alternatives);
    for k in 0..alternatives {
        let a = r
            .attribute(SHA384_HASH_NS, &format!("Hash{k}"))
            .ok_or(RimError::MissingHash {
                offset: r.offset,
                index,
                hash: k,
            })?;
        if !is_lower_hex(&a.value) {
            return Err(RimError::BadHash {
                offset: a.offset,
                index,
                hash: k,
            });
        }
        hashes.push(a.value.clone());
    }
    let found = r
        .attributes
        .iter()
        .filter(|a| a.ns == SHA384_HASH_NS && a.local().starts_with("Hash"))
        .count();
    if found != alternatives {
        return Err(RimError::AlternativesMismatch {
            offset: r.offset,
            index,
            declared: alternatives,
            found,
        });
    }
    Ok(RimMeasurement {
        index,
        active,
        alternatives,
        name: optional(r, "", "name").unwrap_or_default(),
        size,
        hashes,
    })
}

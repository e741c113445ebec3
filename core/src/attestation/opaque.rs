//! NVIDIA opaque data: `{type u16 LE, size u16 LE, value}` records after the responder nonce.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::spdm::SpdmError;

/// Opaque data types NVIDIA defines (nvtrust `OPAQUE_DATA_TYPES`).
pub mod types {
    pub const CERT_ISSUER_NAME: u16 = 1;
    pub const CERT_AUTHORITY_KEY_IDENTIFIER: u16 = 2;
    pub const DRIVER_VERSION: u16 = 3;
    pub const GPU_INFO: u16 = 4;
    pub const SKU: u16 = 5;
    pub const VBIOS_VERSION: u16 = 6;
    pub const MANUFACTURER_ID: u16 = 7;
    pub const TAMPER_DETECTION: u16 = 8;
    pub const SMC: u16 = 9;
    pub const VPR: u16 = 10;
    pub const NVDEC0_STATUS: u16 = 11;
    pub const MSRSCNT: u16 = 12;
    pub const CPRINFO: u16 = 13;
    pub const BOARD_ID: u16 = 14;
    pub const CHIP_SKU: u16 = 15;
    pub const CHIP_SKU_MOD: u16 = 16;
    pub const PROJECT: u16 = 17;
    pub const PROJECT_SKU: u16 = 18;
    pub const PROJECT_SKU_MOD: u16 = 19;
    pub const FWID: u16 = 20;
    pub const PROTECTED_PCIE_STATUS: u16 = 21;
    pub const SWITCH_PDI: u16 = 22;
    pub const FLOORSWEPT_PORTS: u16 = 23;
    pub const POSITION_ID: u16 = 24;
    pub const LOCK_SWITCH_STATUS: u16 = 25;
    pub const GPU_LINK_CONN: u16 = 32;
    pub const SYS_ENABLE_STATUS: u16 = 33;
    pub const OPAQUE_DATA_VERSION: u16 = 34;
    pub const CHIP_INFO: u16 = 35;
    pub const FEATURE_FLAG: u16 = 36;
}

/// The NVIDIA name of an opaque data type, or `None` for types NVIDIA does not define.
pub fn type_name(t: u16) -> Option<&'static str> {
    use types::*;
    Some(match t {
        CERT_ISSUER_NAME => "CERT_ISSUER_NAME",
        CERT_AUTHORITY_KEY_IDENTIFIER => "CERT_AUTHORITY_KEY_IDENTIFIER",
        DRIVER_VERSION => "DRIVER_VERSION",
        GPU_INFO => "GPU_INFO",
        SKU => "SKU",
        VBIOS_VERSION => "VBIOS_VERSION",
        MANUFACTURER_ID => "MANUFACTURER_ID",
        TAMPER_DETECTION => "TAMPER_DETECTION",
        SMC => "SMC",
        VPR => "VPR",
        NVDEC0_STATUS => "NVDEC0_STATUS",
        MSRSCNT => "MSRSCNT",
        CPRINFO => "CPRINFO",
        BOARD_ID => "BOARD_ID",
        CHIP_SKU => "CHIP_SKU",
        CHIP_SKU_MOD => "CHIP_SKU_MOD",
        PROJECT => "PROJECT",
        PROJECT_SKU => "PROJECT_SKU",
        PROJECT_SKU_MOD => "PROJECT_SKU_MOD",
        FWID => "FWID",
        PROTECTED_PCIE_STATUS => "PROTECTED_PCIE_STATUS",
        SWITCH_PDI => "SWITCH_PDI",
        FLOORSWEPT_PORTS => "FLOORSWEPT_PORTS",
        POSITION_ID => "POSITION_ID",
        LOCK_SWITCH_STATUS => "LOCK_SWITCH_STATUS",
        GPU_LINK_CONN => "GPU_LINK_CONN",
        SYS_ENABLE_STATUS => "SYS_ENABLE_STATUS",
        OPAQUE_DATA_VERSION => "OPAQUE_DATA_VERSION",
        CHIP_INFO => "CHIP_INFO",
        FEATURE_FLAG => "FEATURE_FLAG",
        255 => "INVALID",
        _ => return None,
    })
}

/// NVDEC0 status byte values.
pub const NVDEC_ENABLED: u8 = 0xAA;
pub const NVDEC_DISABLED: u8 = 0x55;

/// One opaque record. Unknown types are kept, not rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaqueField {
    pub data_type: u16,
    /// Absolute byte offset of the record's type field in the report.
    pub offset: usize,
    pub value: Vec<u8>,
}

impl serde::Serialize for OpaqueField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("OpaqueField", 3)?;
        st.serialize_field("type", &self.data_type)?;
        st.serialize_field("name", &type_name(self.data_type).unwrap_or("UNKNOWN"))?;
        st.serialize_field("value", &hex::encode(&self.value))?;
        st.end()
    }
}

/// All opaque records, in report order, with typed accessors for the ones OTR uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct OpaqueData {
    pub fields: Vec<OpaqueField>,
}

fn ascii(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    v[..end]
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

fn le_u32(v: &[u8]) -> Option<u32> {
    (v.len() == 4).then(|| u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

impl OpaqueData {
    /// Parses the records; `base` is the absolute offset of the opaque data in the report.
    pub fn parse(b: &[u8], base: usize) -> Result<Self, SpdmError> {
        let mut fields = Vec::new();
        let mut pos = 0;
        while pos < b.len() {
            if b.len() - pos < 4 {
                return Err(SpdmError::BadOpaque {
                    offset: base + pos,
                    reason: "record header truncated",
                });
            }
            let data_type = u16::from_le_bytes([b[pos], b[pos + 1]]);
            let size = u16::from_le_bytes([b[pos + 2], b[pos + 3]]) as usize;
            if b.len() - pos - 4 < size {
                return Err(SpdmError::BadOpaque {
                    offset: base + pos,
                    reason: "record value runs past the opaque data",
                });
            }
            if fields
                .iter()
                .any(|f: &OpaqueField| f.data_type == data_type)
            {
                return Err(SpdmError::BadOpaque {
                    offset: base + pos,
                    reason: "record type repeated",
                });
            }
            fields.push(OpaqueField {
                data_type,
                offset: base + pos,
                value: b[pos + 4..pos + 4 + size].to_vec(),
            });
            pos += 4 + size;
        }
        Ok(OpaqueData { fields })
    }

    /// The raw value of a record.
    pub fn get(&self, data_type: u16) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.data_type == data_type)
            .map(|f| f.value.as_slice())
    }

    /// Driver version text (`"550.90.07"`).
    pub fn driver_version(&self) -> Option<String> {
        self.get(types::DRIVER_VERSION).map(ascii)
    }

    /// VBIOS version as NVIDIA prints it: bytes `b3.b2.b1.b0.b4`, two upper-case hex digits each.
    pub fn vbios_version(&self) -> Option<String> {
        let v = self.get(types::VBIOS_VERSION)?;
        if v.len() < 5 {
            return None;
        }
        let mut s = String::new();
        for (i, b) in [v[3], v[2], v[1], v[0], v[4]].iter().enumerate() {
            if i > 0 {
                s.push('.');
            }
            s.push_str(&alloc::format!("{b:02X}"));
        }
        Some(s)
    }

    /// The firmware identity digest (48 bytes) bound to the leaf certificate.
    pub fn fwid(&self) -> Option<&[u8]> {
        self.get(types::FWID)
    }

    /// NVDEC0 status byte (0xAA enabled, 0x55 disabled).
    pub fn nvdec0_status(&self) -> Option<u8> {
        self.get(types::NVDEC0_STATUS)
            .and_then(|v| v.first().copied())
    }

    pub fn project(&self) -> Option<String> {
        self.get(types::PROJECT).map(ascii)
    }
    pub fn project_sku(&self) -> Option<String> {
        self.get(types::PROJECT_SKU).map(ascii)
    }
    pub fn chip_sku(&self) -> Option<String> {
        self.get(types::CHIP_SKU).map(ascii)
    }
    pub fn chip_sku_mod(&self) -> Option<String> {
        self.get(types::CHIP_SKU_MOD).map(ascii)
    }
    pub fn project_sku_mod(&self) -> Option<String> {
        self.get(types::PROJECT_SKU_MOD).map(ascii)
    }
    pub fn board_id(&self) -> Option<u32> {
        self.get(types::BOARD_ID).and_then(le_u32)
    }
    pub fn chip_info(&self) -> Option<String> {
        self.get(types::CHIP_INFO).map(ascii)
    }
    pub fn protected_pcie_status(&self) -> Option<u8> {
        self.get(types::PROTECTED_PCIE_STATUS)
            .and_then(|v| v.first().copied())
    }
    pub fn feature_flag(&self) -> Option<u16> {
        self.get(types::FEATURE_FLAG)
            .filter(|v| v.len() == 2)
            .map(|v| u16::from_le_bytes([v[0], v[1]]))
    }
    pub fn opaque_data_version(&self) -> Option<u16> {
        self.get(types::OPAQUE_DATA_VERSION)
            .filter(|v| v.len() == 2)
            .map(|v| u16::from_le_bytes([v[0], v[1]]))
    }
    /// Per-block measurement counters (MSRSCNT), when present.
    pub fn measurement_counters(&self) -> Option<Vec<u32>> {
        let v = self.get(types::MSRSCNT)?;
        (v.len() % 4 == 0).then(|| {
            v.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }
    /// NVSwitch PDIs (8 bytes each), on HGX boards.
    pub fn switch_pdis(&self) -> Vec<String> {
        self.get(types::SWITCH_PDI)
            .map(|v| v.chunks_exact(8).map(hex::encode).collect())
            .unwrap_or_default()
    }

    /// NVIDIA's driver RIM identifier for this report (`NV_GPU_DRIVER_GH100_<version>`).
    pub fn driver_rim_id(&self) -> Option<String> {
        Some(alloc::format!(
            "NV_GPU_DRIVER_GH100_{}",
            self.driver_version()?
        ))
    }

    /// NVIDIA's VBIOS RIM identifier (`NV_GPU_VBIOS_<PROJECT>_<PROJECT_SKU>_<CHIP_SKU>_<VBIOS>`).
    pub fn vbios_rim_id(&self) -> Option<String> {
        let v = self.vbios_version()?.replace('.', "");
        Some(
            alloc::format!(
                "NV_GPU_VBIOS_{}_{}_{}_{}",
                self.project()?,
                self.project_sku()?,
                self.chip_sku()?,
                v
            )
            .to_uppercase(),
        )
    }

    /// The name/value pairs of every record, decoded where the type is known (for claims).
    pub fn describe(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|f| {
                let name = type_name(f.data_type)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| alloc::format!("TYPE_{}", f.data_type));
                let value = match f.data_type {
                    types::DRIVER_VERSION
                    | types::CHIP_SKU
                    | types::CHIP_SKU_MOD
                    | types::PROJECT
                    | types::PROJECT_SKU
                    | types::CHIP_INFO => ascii(&f.value),
                    types::VBIOS_VERSION => self
                        .vbios_version()
                        .unwrap_or_else(|| hex::encode(&f.value)),
                    _ => hex::encode(&f.value),
                };
                (name, value)
            })
            .collect()
    }
}

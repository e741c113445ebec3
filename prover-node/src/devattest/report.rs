//! SPDM 1.1 GET_MEASUREMENTS request + MEASUREMENTS response, byte-compatible with Hopper reports.

use p384::ecdsa::{signature::Signer, Signature, SigningKey};
use sha2::{Digest, Sha384};

/// What the report states. Defaults mirror a Hopper H100 in CC mode.
#[derive(Clone, Debug)]
pub struct ReportSpec {
    pub nonce: [u8; 32],
    pub responder_nonce: [u8; 32],
    /// 64 SHA-384 measurement values (block index = position + 1).
    pub measurements: Vec<[u8; 48]>,
    pub driver_version: String,
    /// Raw 8-byte VBIOS version field (`b3.b2.b1.b0.b4` when printed).
    pub vbios: [u8; 8],
    pub project: String,
    pub project_sku: String,
    pub chip_sku: String,
    pub nvdec0_status: u8,
    /// `None` omits the FWID record (old firmware).
    pub fwid: Option<[u8; 48]>,
    /// Extra opaque records appended as-is.
    pub extra_opaque: Vec<(u16, Vec<u8>)>,
    /// Opaque record types left out of the report (e.g. 3, the driver version).
    pub omit_opaque: Vec<u16>,
}

impl ReportSpec {
    /// A report whose measurements derive from `seed` (stable across runs).
    pub fn new(seed: &[u8], nonce: [u8; 32], fwid: [u8; 48]) -> Self {
        let measurements = (0..64u8)
            .map(|i| {
                if (13..20).contains(&i) || i >= 42 {
                    [0u8; 48]
                } else {
                    Sha384::digest([b"OTR/dev-measurement/v1".as_slice(), seed, &[i]].concat())
                        .into()
                }
            })
            .collect();
        ReportSpec {
            nonce,
            responder_nonce: Sha384::digest(
                [b"OTR/dev-responder-nonce".as_slice(), seed, &nonce].concat(),
            )[..32]
                .try_into()
                .unwrap(),
            measurements,
            driver_version: "550.90.07".into(),
            vbios: [0x00, 0x9f, 0x00, 0x96, 0x01, 0x00, 0x00, 0x00],
            project: "1010".into(),
            project_sku: "0200".into(),
            chip_sku: "882".into(),
            nvdec0_status: 0x55,
            fwid: Some(fwid),
            extra_opaque: Vec::new(),
            omit_opaque: Vec::new(),
        }
    }
}

fn tlv(out: &mut Vec<u8>, t: u16, v: &[u8]) {
    out.extend(t.to_le_bytes());
    out.extend((v.len() as u16).to_le_bytes());
    out.extend_from_slice(v);
}

fn nul_padded(s: &str, n: usize) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.resize(n.max(v.len() + 1), 0);
    v
}

/// The signed bytes (request + response without signature), then the signature appended.
pub fn build_report(spec: &ReportSpec, key: &SigningKey) -> Vec<u8> {
    let mut r = vec![0x11, 0xE0, 0x01, 0xFF];
    r.extend(spec.nonce);
    r.push(0x00);
    r.extend([0x11, 0x60, 0x00, 0x00, spec.measurements.len() as u8]);
    let record_len = (spec.measurements.len() * 55) as u32;
    r.extend(&record_len.to_le_bytes()[..3]);
    for (i, m) in spec.measurements.iter().enumerate() {
        r.push(i as u8 + 1);
        r.push(0x01);
        r.extend(51u16.to_le_bytes());
        r.push(0x01);
        r.extend(48u16.to_le_bytes());
        r.extend(m);
    }
    r.extend(spec.responder_nonce);
    let mut op = Vec::new();
    let tlv = |out: &mut Vec<u8>, t: u16, v: &[u8]| {
        if !spec.omit_opaque.contains(&t) {
            tlv(out, t, v);
        }
    };
    tlv(&mut op, 6, &spec.vbios);
    tlv(&mut op, 14, &0x3b1u32.to_le_bytes());
    tlv(&mut op, 15, &nul_padded(&spec.chip_sku, 4));
    tlv(&mut op, 16, &nul_padded("0", 2));
    tlv(&mut op, 17, &nul_padded(&spec.project, 5));
    tlv(&mut op, 18, &nul_padded(&spec.project_sku, 5));
    tlv(&mut op, 19, &[0, 0]);
    tlv(
        &mut op,
        3,
        &nul_padded(&spec.driver_version, spec.driver_version.len() + 1),
    );
    tlv(&mut op, 4, &[0x80, 0x01, 0, 0, 0, 0, 0, 0]);
    tlv(&mut op, 12, &[1u8, 0, 0, 0].repeat(64));
    tlv(&mut op, 13, &[0x00, 0xc0, 0x01, 0x00]);
    tlv(&mut op, 11, &[spec.nvdec0_status]);
    if let Some(f) = spec.fwid {
        tlv(&mut op, 20, &f);
    }
    tlv(&mut op, 21, &[0x55]);
    for (t, v) in &spec.extra_opaque {
        tlv(&mut op, *t, v);
    }
    r.extend((op.len() as u16).to_le_bytes());
    r.extend(op);
    let sig: Signature = key.sign(&r);
    r.extend(sig.to_bytes());
    r
}

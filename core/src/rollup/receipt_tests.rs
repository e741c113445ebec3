use super::*;
use crate::rollup::codec::{TrailingBytes, Truncated};

pub(crate) fn sample() -> Receipt {
    Receipt {
        version: RECEIPT_VERSION,
        model_id: [0x11; 32],
        weights_root: [0x22; 32],
        request_hash: request_hash(&[0x33; 32], b"{\"prompt\":\"The Eiffel Tower is in\"}"),
        output_hash: OutputHasher::digest(b" Paris"),
        prompt_tokens: 7,
        completion_tokens: 1,
        sampling: SamplingParams {
            temperature_milli: 700,
            top_k: 40,
            top_p_milli: 950,
            max_tokens: 16,
            seed: 0xfedc_ba98_7654_3210,
        },
        trace_root: [0x44; 32],
        trace_steps: 1234,
        created_at: 1_764_140_000,
    }
}

#[test]
fn layout_is_fixed_and_round_trips() {
    let r = sample();
    let bytes = r.encode();
    assert_eq!(bytes.len(), RECEIPT_LEN);
    assert_eq!(bytes[0], 1);
    assert_eq!(&bytes[1..33], &[0x11; 32]);
    assert_eq!(&bytes[129..133], &7u32.to_be_bytes());
    assert_eq!(&bytes[145..149], &950u32.to_be_bytes());
    assert_eq!(&bytes[153..161], &0xfedc_ba98_7654_3210u64.to_be_bytes());
    assert_eq!(&bytes[161..193], &[0x44; 32]);
    assert_eq!(&bytes[201..209], &1_764_140_000u64.to_be_bytes());
    assert_eq!(Receipt::decode(&bytes).unwrap(), r);
}

#[test]
fn receipt_hash_is_domain_separated() {
    let r = sample();
    let mut pre = RECEIPT_TAG.to_vec();
    pre.extend_from_slice(&r.encode());
    assert_eq!(r.receipt_hash(), crate::crypto::sha256(&pre));
    assert_ne!(r.receipt_hash(), crate::crypto::sha256(&r.encode()));
    let mut r2 = r.clone();
    r2.sampling.seed ^= 1;
    assert_ne!(r.receipt_hash(), r2.receipt_hash());
}

#[test]
fn request_and_output_hashes() {
    let nonce = [7u8; 32];
    let mut pre = REQUEST_TAG.to_vec();
    pre.extend_from_slice(&nonce);
    pre.extend_from_slice(&3u64.to_be_bytes());
    pre.extend_from_slice(b"abc");
    assert_eq!(request_hash(&nonce, b"abc"), crate::crypto::sha256(&pre));
    assert_ne!(
        request_hash(&[8u8; 32], b"abc"),
        request_hash(&nonce, b"abc")
    );
    let mut h = OutputHasher::new();
    h.update(b" Pa");
    h.update(b"ris");
    assert_eq!(h.finalize(), OutputHasher::digest(b" Paris"));
}

#[test]
fn decode_errors() {
    let bytes = sample().encode();
    let e = Receipt::decode(&bytes[..100]).unwrap_err();
    assert_eq!(e.code(), "RECEIPT_TRUNCATED");
    assert_eq!(
        e,
        ReceiptError::Truncated(Truncated {
            offset: 97,
            what: "receipt output_hash",
            needed: 32,
            available: 3
        })
    );
    let mut long = bytes.clone();
    long.push(0);
    let e = Receipt::decode(&long).unwrap_err();
    assert_eq!(e.code(), "RECEIPT_TRAILING_BYTES");
    assert_eq!(
        e,
        ReceiptError::TrailingBytes(TrailingBytes {
            offset: 209,
            count: 1
        })
    );
    let mut v2 = bytes.clone();
    v2[0] = 2;
    let e = Receipt::decode(&v2).unwrap_err();
    assert_eq!(e.code(), "RECEIPT_UNSUPPORTED_VERSION");
    assert!(alloc::format!("{e}").contains("version 2"));
    let mut top_p = bytes.clone();
    top_p[145..149].copy_from_slice(&1001u32.to_be_bytes());
    let e = Receipt::decode(&top_p).unwrap_err();
    assert_eq!(
        e,
        ReceiptError::FieldOutOfRange {
            offset: 145,
            field: "top_p_milli",
            got: 1001,
            max: 1000
        }
    );
    assert_eq!(e.code(), "RECEIPT_FIELD_OUT_OF_RANGE");
    assert_eq!(e.stage(), Stage::Receipt);
    // No prefix of a valid receipt decodes, and none panics.
    for n in 0..bytes.len() {
        assert!(Receipt::decode(&bytes[..n]).is_err());
    }
}

#[test]
fn json_form() {
    let r = sample();
    let json = r.to_json();
    assert!(json.contains("\"model_id\":\"0x1111"), "{json}");
    assert!(json.contains("\"seed\":\"18364758544493064720\""), "{json}");
    assert_eq!(Receipt::from_json(&json).unwrap(), r);
    // Upper-case hex without 0x is accepted too.
    let alt = json.replace(
        "0x1111111111111111111111111111111111111111111111111111111111111111",
        &"AA".repeat(32),
    );
    assert_eq!(Receipt::from_json(&alt).unwrap().model_id, [0xaa; 32]);
    for bad in [
        json.replace("\"version\":1", "\"version\":3"),
        json.replace("\"top_p_milli\":950", "\"top_p_milli\":2000"),
        json.replace(
            "\"seed\":\"18364758544493064720\"",
            "\"seed\":18364758544493064720",
        ),
        json.replace("\"seed\":\"18364758544493064720\"", "\"seed\":\"018\""),
        json.replace(
            "0x1111111111111111111111111111111111111111111111111111111111111111",
            "0x11",
        ),
        json.replace("\"trace_steps\"", "\"extra\":1,\"trace_steps\""),
    ] {
        assert!(Receipt::from_json(&bad).is_err(), "{bad}");
    }
    let e = Receipt::from_json("{").unwrap_err();
    assert_eq!(e.code(), "RECEIPT_JSON_INVALID");
}

/// Pinned value, computed independently (Python `hashlib` over the documented layout).
#[test]
fn golden_receipt_hash() {
    assert_eq!(
        hex::encode(sample().receipt_hash()),
        "3c631a81e12b2b77459edd0c88f60fc912f03386b9b5726700df4f4f5d8019f8"
    );
}

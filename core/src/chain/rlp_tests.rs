use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::error::ErrorCode;

fn enc(b: &[u8]) -> Vec<u8> {
    bytes(b)
}

#[test]
fn byte_strings_round_trip_at_every_length_boundary() {
    for len in [0usize, 1, 2, 55, 56, 255, 256, 1024, 70_000] {
        for fill in [0x00u8, 0x7f, 0x80, 0xff] {
            let data = vec![fill; len];
            let e = enc(&data);
            let item = decode_exact(&e).unwrap();
            assert!(!item.is_list);
            assert_eq!(item.bytes().unwrap(), &data[..], "len {len} fill {fill:#x}");
            assert_eq!(item.raw, &e[..]);
        }
    }
    assert_eq!(enc(&[0x05]), vec![0x05]);
    assert_eq!(enc(&[0x80]), vec![0x81, 0x80]);
    assert_eq!(enc(&[]), vec![0x80]);
    assert_eq!(enc(&[0xaa; 56])[..2], [0xb8, 56]);
}

#[test]
fn lists_round_trip_and_iterate() {
    let items = vec![enc(b"cat"), enc(b"dog"), list_of(&[]), enc(&[0x42; 60])];
    let e = list_of(&items);
    let top = decode_exact(&e).unwrap();
    let got: Vec<_> = top
        .list()
        .unwrap()
        .map(|i| i.unwrap().raw.to_vec())
        .collect();
    assert_eq!(got, items);
    assert_eq!(list_of(&[]), vec![0xc0]);
    let long = list_of(&[enc(&[1; 60])]);
    assert_eq!(long[0], 0xf8);
}

#[test]
fn integers_encode_minimally_and_decode_strictly() {
    let mut e = Vec::new();
    encode_u64(&mut e, 0);
    assert_eq!(e, vec![0x80]);
    for v in [1u64, 0x7f, 0x80, 0x100, u64::MAX] {
        let mut e = Vec::new();
        encode_u64(&mut e, v);
        assert_eq!(decode_exact(&e).unwrap().as_u64().unwrap(), v);
    }
    let zero_led = [0x82, 0x00, 0x01];
    let err = decode_exact(&zero_led).unwrap().as_u64().unwrap_err();
    assert_eq!(err.code(), "LIGHT_RLP_NON_CANONICAL");
    let nine = enc(&[1; 9]);
    let err = decode_exact(&nine).unwrap().as_u64().unwrap_err();
    assert_eq!(
        err,
        RlpError::IntegerOverflow {
            offset: 0,
            len: 9,
            max: 8
        }
    );
    assert_eq!(err.code(), "LIGHT_RLP_INTEGER_OVERFLOW");
    let w = decode_exact(&enc(&[0xff; 32])).unwrap().as_word().unwrap();
    assert_eq!(w, [0xff; 32]);
}

#[test]
fn non_canonical_forms_are_rejected_with_offsets() {
    // A single byte below 0x80 wrapped as a string.
    let e = decode_exact(&[0x81, 0x05]).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_NON_CANONICAL");
    assert_eq!(e.offset(), 0);
    // Long form for a short payload.
    let mut short_long = vec![0xb8, 55];
    short_long.extend_from_slice(&[0xaa; 55]);
    assert_eq!(
        decode_exact(&short_long).unwrap_err().code(),
        "LIGHT_RLP_NON_CANONICAL"
    );
    // Leading zero in the length of the length.
    let mut zero_len = vec![0xb9, 0x00, 0x40];
    zero_len.extend_from_slice(&[0xaa; 64]);
    let e = decode_exact(&zero_len).unwrap_err();
    assert_eq!(
        e,
        RlpError::NonCanonical {
            offset: 1,
            what: "length with a leading zero byte"
        }
    );
    // Same for lists.
    let mut list_long = vec![0xf8, 2];
    list_long.extend_from_slice(&[0x01, 0x02]);
    assert_eq!(
        decode_exact(&list_long).unwrap_err().code(),
        "LIGHT_RLP_NON_CANONICAL"
    );
    // Nested: the bad item's offset inside the list.
    let nested = [0xc4, 0x01, 0x81, 0x05, 0x02];
    let top = decode_exact(&nested).unwrap();
    let err = top.list().unwrap().nth(1).unwrap().unwrap_err();
    assert_eq!(err.offset(), 2);
}

#[test]
fn truncation_trailing_bytes_and_kinds() {
    assert_eq!(
        decode_exact(&[]).unwrap_err(),
        RlpError::Truncated {
            offset: 0,
            needed: 1,
            available: 0
        }
    );
    assert_eq!(
        decode_exact(&[0x83, 1, 2]).unwrap_err(),
        RlpError::Truncated {
            offset: 1,
            needed: 3,
            available: 2
        }
    );
    assert_eq!(
        decode_exact(&[0xb9, 0x01]).unwrap_err().code(),
        "LIGHT_RLP_TRUNCATED"
    );
    // A length of 2^64 - 1 does not overflow anything.
    let huge = [0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        decode_exact(&huge).unwrap_err().code(),
        "LIGHT_RLP_TRUNCATED"
    );
    assert_eq!(
        decode_exact(&[0x01, 0x02]).unwrap_err(),
        RlpError::TrailingBytes {
            offset: 1,
            count: 1
        }
    );
    // An item inside a list that runs past the list's end.
    let bad = [0xc2, 0x83, 0x01];
    let top = decode_exact(&bad).unwrap();
    assert_eq!(
        top.list().unwrap().next().unwrap().unwrap_err().code(),
        "LIGHT_RLP_TRUNCATED"
    );
    let s = decode_exact(&[0x80]).unwrap();
    assert_eq!(s.list().unwrap_err().code(), "LIGHT_RLP_EXPECTED_LIST");
    let l = decode_exact(&[0xc0]).unwrap();
    assert_eq!(l.bytes().unwrap_err().code(), "LIGHT_RLP_EXPECTED_BYTES");
}

#[test]
fn list_items_stops_at_the_cap() {
    let e = list_of(&[enc(b"a"), enc(b"b"), enc(b"c")]);
    let top = decode_exact(&e).unwrap();
    assert_eq!(top.list_items(3).unwrap().unwrap().len(), 3);
    assert!(top.list_items(2).unwrap().is_none());
}

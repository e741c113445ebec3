use alloc::vec::Vec;

use super::*;
use crate::chain::test_support::{header, header_fields};
use crate::error::ErrorCode;

#[test]
fn every_fork_field_count_decodes() {
    for (count, fork) in [
        (15, HeaderFork::PreLondon),
        (16, HeaderFork::London),
        (17, HeaderFork::Shanghai),
        (20, HeaderFork::Cancun),
        (21, HeaderFork::Prague),
    ] {
        let raw = header_fields(&[7; 32], 42, &[9; 32], 1_700_000_000, count);
        let h = EthHeader::decode(&raw, 0).unwrap();
        assert_eq!(h.fork, fork);
        assert_eq!(h.hash, keccak256(&raw));
        assert_eq!(h.parent_hash, [7; 32]);
        assert_eq!(h.state_root, [9; 32]);
        assert_eq!((h.number, h.timestamp), (42, 1_700_000_000));
        assert_eq!(h.base_fee_per_gas.is_some(), count >= 16);
        assert_eq!(h.withdrawals_root.is_some(), count >= 17);
        assert_eq!(h.parent_beacon_block_root.is_some(), count >= 20);
        assert_eq!(h.requests_hash, (count == 21).then_some([0xe3; 32]));
    }
}

#[test]
fn field_counts_no_fork_defines_are_rejected() {
    for count in [14usize, 18, 19] {
        let raw = header_fields(&[7; 32], 1, &[9; 32], 1, count.min(21));
        let e = EthHeader::decode(&raw, 3).unwrap_err();
        assert_eq!(
            e,
            LightError::HeaderFieldCount {
                index: 3,
                got: count
            }
        );
        assert_eq!(e.code(), "LIGHT_HEADER_FIELD_COUNT");
    }
    // 22 fields: append one more item to a Prague header.
    let raw = header(&[7; 32], 1, &[9; 32], 1);
    let top = rlp::decode_exact(&raw).unwrap();
    let mut items: Vec<Vec<u8>> = top
        .list()
        .unwrap()
        .map(|i| i.unwrap().raw.to_vec())
        .collect();
    items.push(rlp::bytes(&[1]));
    let e = EthHeader::decode(&rlp::list_of(&items), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_HEADER_FIELD_COUNT");
}

fn with_field(i: usize, value: Vec<u8>) -> Vec<u8> {
    let raw = header(&[7; 32], 1, &[9; 32], 1);
    let top = rlp::decode_exact(&raw).unwrap();
    let mut items: Vec<Vec<u8>> = top
        .list()
        .unwrap()
        .map(|i| i.unwrap().raw.to_vec())
        .collect();
    items[i] = value;
    rlp::list_of(&items)
}

#[test]
fn malformed_fields_have_their_codes() {
    let e = EthHeader::decode(&with_field(0, rlp::bytes(&[1; 31])), 0).unwrap_err();
    assert!(matches!(
        e,
        LightError::HeaderField {
            field: "parentHash",
            got: 31,
            expected: 32,
            ..
        }
    ));
    assert_eq!(e.code(), "LIGHT_HEADER_FIELD_INVALID");
    let e = EthHeader::decode(&with_field(6, rlp::bytes(&[0; 255])), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_HEADER_FIELD_INVALID");
    // number with a leading zero byte
    let e = EthHeader::decode(&with_field(8, rlp::bytes(&[0, 1])), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_NON_CANONICAL");
    // timestamp over 64 bits
    let e = EthHeader::decode(&with_field(11, rlp::bytes(&[1; 9])), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_INTEGER_OVERFLOW");
    // a list where the state root goes
    let e = EthHeader::decode(&with_field(3, rlp::list_of(&[])), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_EXPECTED_BYTES");
    // extraData as a list
    let e = EthHeader::decode(&with_field(12, rlp::list_of(&[])), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_EXPECTED_BYTES");
    // not a list at all
    let e = EthHeader::decode(&rlp::bytes(&[1; 40]), 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_EXPECTED_LIST");
}

#[test]
fn size_cap_and_truncation() {
    let big = with_field(12, rlp::bytes(&[0; MAX_HEADER_LEN]));
    let e = EthHeader::decode(&big, 5).unwrap_err();
    assert!(matches!(e, LightError::HeaderTooLarge { index: 5, .. }));
    assert_eq!(e.code(), "LIGHT_HEADER_TOO_LARGE");
    let raw = header(&[7; 32], 1, &[9; 32], 1);
    let e = EthHeader::decode(&raw[..raw.len() - 1], 0).unwrap_err();
    assert_eq!(e.code(), "LIGHT_RLP_TRUNCATED");
    let mut trailing = raw.clone();
    trailing.push(0);
    assert_eq!(
        EthHeader::decode(&trailing, 0).unwrap_err().code(),
        "LIGHT_RLP_TRAILING_BYTES"
    );
}

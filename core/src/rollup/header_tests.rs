use super::*;

pub(crate) fn node_key() -> SigningKey {
    SigningKey::from_slice(&[0x5a; 32]).unwrap()
}

pub(crate) fn sample(key: &SigningKey) -> MicroBatchHeader {
    MicroBatchHeader {
        version: HEADER_VERSION,
        chain_id: 31337,
        node_address: eth_address(key.verifying_key()),
        sequence: 5,
        prev_header_hash: [0x66; 32],
        receipts_root: [0x77; 32],
        receipt_count: 3,
        timestamp: 1_764_140_001,
    }
}

#[test]
fn known_ethereum_addresses() {
    let mut one = [0u8; 32];
    one[31] = 1;
    let k = SigningKey::from_slice(&one).unwrap();
    assert_eq!(
        hex::encode(eth_address(k.verifying_key())),
        "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
    );
    one[31] = 2;
    let k = SigningKey::from_slice(&one).unwrap();
    assert_eq!(
        hex::encode(eth_address(k.verifying_key())),
        "2b5ad5c4795c026514f8317c7a215e218dccd6cf"
    );
}

#[test]
fn layout_and_hash() {
    let h = sample(&node_key());
    let bytes = h.encode();
    assert_eq!(bytes.len(), HEADER_LEN);
    assert_eq!(bytes[0], 1);
    assert_eq!(&bytes[1..9], &31337u64.to_be_bytes());
    assert_eq!(&bytes[9..29], &h.node_address);
    assert_eq!(&bytes[29..37], &5u64.to_be_bytes());
    assert_eq!(&bytes[37..69], &[0x66; 32]);
    assert_eq!(&bytes[69..101], &[0x77; 32]);
    assert_eq!(&bytes[101..105], &3u32.to_be_bytes());
    assert_eq!(&bytes[105..113], &1_764_140_001u64.to_be_bytes());
    assert_eq!(MicroBatchHeader::decode(&bytes).unwrap(), h);
    let mut pre = HEADER_TAG.to_vec();
    pre.extend_from_slice(&bytes);
    assert_eq!(h.header_hash(), crate::crypto::sha256(&pre));
    for n in 0..bytes.len() {
        assert_eq!(
            MicroBatchHeader::decode(&bytes[..n]).unwrap_err().code(),
            "HEADER_TRUNCATED"
        );
    }
    let mut v9 = bytes.clone();
    v9[0] = 9;
    assert_eq!(
        MicroBatchHeader::decode(&v9).unwrap_err(),
        HeaderError::UnsupportedVersion {
            offset: 0,
            got: 9,
            expected: 1
        }
    );
    let mut long = bytes;
    long.extend_from_slice(&[0, 0]);
    assert_eq!(
        MicroBatchHeader::decode(&long).unwrap_err().code(),
        "HEADER_TRAILING_BYTES"
    );
}

#[test]
fn sign_and_verify() {
    let key = node_key();
    let h = sample(&key);
    let sig = h.sign(&key).unwrap();
    assert!(sig.0[64] == 27 || sig.0[64] == 28);
    // Deterministic (RFC 6979).
    assert_eq!(h.sign(&key).unwrap(), sig);
    h.verify_signature(&sig).unwrap();
    assert_eq!(
        recover_address(&h.header_hash(), &sig).unwrap(),
        h.node_address
    );
    // Many headers: always low-s, always verifies (exercises both parities).
    let mut parities = [false; 2];
    for seq in 0..24 {
        let mut h2 = h.clone();
        h2.sequence = seq;
        let s = h2.sign(&key).unwrap();
        parities[(s.0[64] - 27) as usize] = true;
        h2.verify_signature(&s).unwrap();
    }
    assert_eq!(parities, [true, true]);
}

#[test]
fn signature_errors() {
    let key = node_key();
    let h = sample(&key);
    let sig = h.sign(&key).unwrap();

    let mut other = h.clone();
    other.sequence += 1;
    let e = other.verify_signature(&sig).unwrap_err();
    assert_eq!(e.code(), "HEADER_SIGNER_MISMATCH");

    let mut wrong_node = h.clone();
    wrong_node.node_address = [0xab; 20];
    let sig2 = wrong_node.sign(&key).unwrap();
    let e = wrong_node.verify_signature(&sig2).unwrap_err();
    assert_eq!(
        e,
        HeaderError::SignerMismatch(GotExpected {
            got: h.node_address,
            expected: [0xab; 20]
        })
    );
    assert!(alloc::format!("{e}").contains("0xabab"));

    let mut bad_v = sig;
    bad_v.0[64] = 1;
    assert_eq!(
        h.verify_signature(&bad_v).unwrap_err(),
        HeaderError::SignatureRecoveryId { got: 1 }
    );

    let mut zero_r = sig;
    zero_r.0[..32].fill(0);
    assert_eq!(
        h.verify_signature(&zero_r).unwrap_err(),
        HeaderError::SignatureMalformed
    );
    let mut big_s = sig;
    big_s.0[32..64].fill(0xff);
    assert_eq!(
        h.verify_signature(&big_s).unwrap_err(),
        HeaderError::SignatureMalformed
    );

    // The malleated twin (n - s, flipped v) is a valid ECDSA signature but rejected as high-s.
    let s = Signature::from_slice(&sig.0[..64]).unwrap();
    let (r, s_scalar) = s.split_scalars();
    let high = Signature::from_scalars(r.to_bytes(), (-*s_scalar).to_bytes()).unwrap();
    let mut high_sig = sig;
    high_sig.0[..64].copy_from_slice(&high.to_bytes());
    high_sig.0[64] = if sig.0[64] == 27 { 28 } else { 27 };
    assert_eq!(
        h.verify_signature(&high_sig).unwrap_err(),
        HeaderError::SignatureHighS
    );

    // Flipping v recovers some other key (or none): never the node.
    let mut flipped = sig;
    flipped.0[64] = if sig.0[64] == 27 { 28 } else { 27 };
    let e = h.verify_signature(&flipped).unwrap_err();
    assert!(matches!(
        e,
        HeaderError::SignerMismatch(_) | HeaderError::SignatureInvalid
    ));
    // An r that is not the x of any curve point recovers nothing.
    let mut no_point = sig;
    no_point.0[..32].copy_from_slice(&[0u8; 31].iter().chain(&[5u8]).copied().collect::<Vec<_>>());
    let e = h.verify_signature(&no_point).unwrap_err();
    assert!(matches!(
        e,
        HeaderError::SignatureInvalid | HeaderError::SignerMismatch(_)
    ));
}

#[test]
fn chain_links() {
    let key = node_key();
    let prev = sample(&key);
    let mut next = prev.clone();
    next.sequence = 6;
    next.prev_header_hash = prev.header_hash();
    next.timestamp += 1;
    verify_chain_link(&prev, &next).unwrap();

    let mut e = next.clone();
    e.sequence = 7;
    assert_eq!(
        verify_chain_link(&prev, &e).unwrap_err(),
        HeaderError::SequenceGap(GotExpected {
            got: 7,
            expected: 6
        })
    );
    let mut e = next.clone();
    e.prev_header_hash = [0; 32];
    assert_eq!(
        verify_chain_link(&prev, &e).unwrap_err().code(),
        "HEADER_PREV_HASH_MISMATCH"
    );
    let mut e = next.clone();
    e.chain_id = 1;
    assert_eq!(
        verify_chain_link(&prev, &e).unwrap_err().code(),
        "HEADER_CHAIN_ID_MISMATCH"
    );
    let mut e = next.clone();
    e.node_address = [1; 20];
    assert_eq!(
        verify_chain_link(&prev, &e).unwrap_err().code(),
        "HEADER_NODE_MISMATCH"
    );
    let mut e = next.clone();
    e.timestamp = prev.timestamp - 1;
    assert_eq!(
        verify_chain_link(&prev, &e).unwrap_err(),
        HeaderError::TimestampRegression {
            prev: prev.timestamp,
            next: prev.timestamp - 1
        }
    );
    let mut last = prev.clone();
    last.sequence = u64::MAX;
    assert_eq!(
        verify_chain_link(&last, &next).unwrap_err(),
        HeaderError::SequenceOverflow
    );
    // Equal timestamps are fine (several micro-batches per second).
    let mut same = next.clone();
    same.timestamp = prev.timestamp;
    verify_chain_link(&prev, &same).unwrap();
}

#[test]
fn json_form() {
    let key = node_key();
    let h = sample(&key);
    let json = h.to_json();
    assert!(json.contains("\"chain_id\":31337"));
    assert_eq!(MicroBatchHeader::from_json(&json).unwrap(), h);
    let bad = json.replace("\"version\":1", "\"version\":2");
    assert_eq!(
        MicroBatchHeader::from_json(&bad).unwrap_err().code(),
        "HEADER_UNSUPPORTED_VERSION"
    );
    assert_eq!(
        MicroBatchHeader::from_json("[]").unwrap_err().code(),
        "HEADER_JSON_INVALID"
    );
    let sig = h.sign(&key).unwrap();
    let sj = serde_json::to_string(&sig).unwrap();
    assert_eq!(sj.len(), 2 + 2 + 130);
    assert_eq!(serde_json::from_str::<HeaderSignature>(&sj).unwrap(), sig);
}

/// Golden vector made with ethers 6 (`SigningKey.sign` is RFC 6979 too, and
/// `recoverAddress(hash, r || s || v)` is what the EVM's `ecrecover` computes).
#[test]
fn matches_ethers_golden_vector() {
    let key = node_key();
    let h = sample(&key);
    assert_eq!(
        hex::encode(h.node_address),
        "a8049bb68181799124f98e467dd749e120abfa64"
    );
    assert_eq!(
        hex::encode(h.header_hash()),
        "30a52bd1fed506f940fc16a6df23c8d750215fe54c68d9ca516ccba3257b9843"
    );
    assert_eq!(
        hex::encode(h.sign(&key).unwrap().0),
        "b6646087a697e0972fcf1392484c2ded5d656aab80780731210df098cc019f64\
         0cd8e7087c5c65ab3bef7c90de8c6fe3d8f02490d4c7551603fe2ed11b803b181c"
    );
}

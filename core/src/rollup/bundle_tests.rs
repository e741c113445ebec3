use super::*;
use crate::error::ErrorCode;
use crate::rollup::bundle::{BundleLimits, BUNDLE_MAGIC};
use crate::rollup::codec::CodecError;
use crate::rollup::finality::{ChainStatus, DisputeState};
use crate::rollup::header::{eth_address, MicroBatchHeader, HEADER_VERSION};
use crate::rollup::merkle::{self, InclusionError};
use crate::rollup::receipt::{Receipt, SamplingParams, RECEIPT_VERSION};
use crate::rollup::{GpuEvidence, ReceiptProof, RollupInclusion, ZkProof};
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use k256::ecdsa::SigningKey;

fn receipt(i: u8) -> Receipt {
    Receipt {
        version: RECEIPT_VERSION,
        model_id: [0x11; 32],
        weights_root: [0x22; 32],
        request_hash: [i; 32],
        output_hash: [i ^ 0x80; 32],
        prompt_tokens: 10 + i as u32,
        completion_tokens: 20,
        sampling: SamplingParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 32,
            seed: i as u64,
        },
        trace_root: [0x44; 32],
        trace_steps: 999,
        created_at: 1_764_140_000,
    }
}

/// A bundle for receipt 3 of a 5-receipt micro-batch, whose header is header 2 of a 3-header
/// rollup batch.
fn sample() -> (AnswerBundle, SigningKey) {
    let key = SigningKey::from_slice(&[0x5a; 32]).unwrap();
    let receipts: Vec<Receipt> = (0..5).map(receipt).collect();
    let hashes: Vec<[u8; 32]> = receipts.iter().map(Receipt::receipt_hash).collect();
    let header = MicroBatchHeader {
        version: HEADER_VERSION,
        chain_id: 31337,
        node_address: eth_address(key.verifying_key()),
        sequence: 9,
        prev_header_hash: [0x99; 32],
        receipts_root: merkle::root(&hashes),
        receipt_count: 5,
        timestamp: 1_764_140_001,
    };
    let header_signature = header.sign(&key).unwrap();
    let batch_leaves = vec![[1u8; 32], [2u8; 32], header.header_hash()];
    let batch_proof = merkle::prove(&batch_leaves, 2).unwrap();
    let bundle = AnswerBundle {
        version: 1,
        receipt: receipts[3].clone(),
        receipt_proof: ReceiptProof {
            leaf_index: 3,
            path: merkle::prove(&hashes, 3).unwrap().path,
        },
        header,
        header_signature,
        evidence: GpuEvidence {
            report: vec![0x11, 0xe0, 0x00, 0x00, 0xff],
            cert_chain_pem: "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n".into(),
            rims: vec![
                "<SoftwareIdentity/>".into(),
                "<SoftwareIdentity a=\"é\"/>".into(),
            ],
            ocsp: vec![vec![0x30, 0x03, 0x0a, 0x01, 0x00]],
            arch: "HOPPER".into(),
        },
        rollup: Some(RollupInclusion {
            batch_index: 42,
            batch_root: merkle::root(&batch_leaves),
            batch_size: 3,
            header_index: 2,
            path: batch_proof.path,
        }),
        chain_status: Some(ChainStatus {
            batch_posted_at: 1_764_140_010,
            challenge_window_secs: 600,
            dispute: DisputeState::None,
        }),
        zk_proofs: vec![ZkProof {
            circuit_id: [0xcc; 32],
            proof: vec![7; 128],
            public_inputs: vec![[0; 32], [1; 32]],
            statement: None,
        }],
        chain_proof: None,
        prompt: None,
    };
    (bundle, key)
}

/// Byte offset of the report length prefix in `b`'s encoding.
fn report_offset(b: &AnswerBundle) -> usize {
    5 + 209 + 113 + 65 + 4 + 4 + 32 * b.receipt_proof.path.len()
}

#[test]
fn binary_and_json_round_trip() {
    let (b, _) = sample();
    let bytes = b.encode_checked().unwrap();
    assert_eq!(&bytes[..5], b"OTRB\x01");
    assert_eq!(&bytes[5..214], &b.receipt.encode()[..]);
    assert_eq!(&bytes[214..327], &b.header.encode()[..]);
    assert_eq!(&bytes[327..392], &b.header_signature.0[..]);
    assert_eq!(AnswerBundle::decode(&bytes).unwrap(), b);
    let json = b.to_json();
    assert!(json.contains("\"report\":\"EeAAAP8=\""), "{json}");
    assert!(json.contains("\"arch\":\"HOPPER\""));
    assert_eq!(AnswerBundle::from_json(&json).unwrap(), b);
    // Absent optional sections.
    let mut plain = b.clone();
    plain.rollup = None;
    plain.chain_status = None;
    plain.zk_proofs.clear();
    let bytes = plain.encode();
    assert_eq!(&bytes[bytes.len() - 6..], &[0, 0, 0, 0, 0, 0]);
    assert_eq!(AnswerBundle::decode(&bytes).unwrap(), plain);
    let json = plain
        .to_json()
        .replace(",\"zk_proofs\":[]", "")
        .replace("\"rollup\":null,", "");
    assert_eq!(AnswerBundle::from_json(&json).unwrap(), plain);
}

#[test]
fn structure_verifies() {
    let (b, _) = sample();
    let v = verify_bundle_structure(&b).unwrap();
    assert_eq!(v.header_hash, b.header.header_hash());
    assert_eq!(v.attestation_nonce(), &b.header.header_hash());
    assert_eq!(v.receipt_hash, b.receipt.receipt_hash());
    assert_eq!((v.receipt_index, v.receipt_count), (3, 5));
    assert_eq!(v.node_address, b.header.node_address);
    let batch = v.batch.clone().unwrap();
    assert_eq!((batch.batch_index, batch.header_index), (42, 2));
    v.check_batch(42, &batch.batch_root).unwrap();
    assert_eq!(
        v.check_batch(42, &[0; 32]).unwrap_err().code(),
        "BUNDLE_BATCH_ROOT_MISMATCH"
    );
    assert_eq!(
        v.check_batch(41, &batch.batch_root).unwrap_err().code(),
        "BUNDLE_BATCH_INDEX_MISMATCH"
    );
    let json = serde_json::to_string(&v).unwrap();
    assert!(json.contains("\"receipt_index\":3"), "{json}");

    let mut unposted = b.clone();
    unposted.rollup = None;
    unposted.chain_status = None;
    let v = verify_bundle_structure(&unposted).unwrap();
    assert!(v.batch.is_none());
    assert_eq!(v.check_batch(42, &[0; 32]), Err(BundleError::NotPosted));
}

#[test]
fn structure_failures_name_the_broken_link() {
    let (b, key) = sample();

    let mut x = b.clone();
    x.receipt.completion_tokens += 1;
    let e = verify_bundle_structure(&x).unwrap_err();
    assert!(matches!(
        e,
        BundleError::ReceiptInclusion(InclusionError::RootMismatch(_))
    ));
    assert_eq!(e.code(), "INCLUSION_ROOT_MISMATCH");
    assert!(e.to_string().starts_with("receipt -> micro-batch"));

    let mut x = b.clone();
    x.receipt_proof.leaf_index = 2;
    assert!(matches!(
        verify_bundle_structure(&x).unwrap_err(),
        BundleError::ReceiptInclusion(_)
    ));
    let mut x = b.clone();
    x.receipt_proof.leaf_index = 5;
    assert_eq!(
        verify_bundle_structure(&x).unwrap_err(),
        BundleError::ReceiptInclusion(InclusionError::IndexOutOfRange { index: 5, size: 5 })
    );
    let mut x = b.clone();
    x.receipt_proof.path.pop();
    assert_eq!(
        verify_bundle_structure(&x).unwrap_err().code(),
        "INCLUSION_PATH_LENGTH"
    );

    // Changing the header breaks the node signature first.
    let mut x = b.clone();
    x.header.receipt_count = 4;
    assert_eq!(
        verify_bundle_structure(&x).unwrap_err().code(),
        "HEADER_SIGNER_MISMATCH"
    );
    // A re-signed header with another count breaks the receipt proof (3 of 4 has 2 siblings).
    x.header_signature = x.header.sign(&key).unwrap();
    assert_eq!(
        verify_bundle_structure(&x).unwrap_err().code(),
        "INCLUSION_PATH_LENGTH"
    );

    let mut x = b.clone();
    x.header_signature.0[64] = 29;
    assert_eq!(
        verify_bundle_structure(&x).unwrap_err().code(),
        "HEADER_SIGNATURE_RECOVERY_ID"
    );

    let mut x = b.clone();
    x.rollup.as_mut().unwrap().path[0][0] ^= 1;
    let e = verify_bundle_structure(&x).unwrap_err();
    assert!(matches!(
        e,
        BundleError::BatchInclusion(InclusionError::RootMismatch(_))
    ));
    assert_eq!(e.stage(), crate::error::Stage::Inclusion);

    let mut x = b.clone();
    x.rollup.as_mut().unwrap().header_index = 1;
    assert!(matches!(
        verify_bundle_structure(&x).unwrap_err(),
        BundleError::BatchInclusion(_)
    ));

    let mut x = b.clone();
    x.receipt.created_at = x.header.timestamp + 1;
    assert_eq!(
        verify_bundle_structure(&x).unwrap_err(),
        BundleError::ReceiptAfterHeader {
            created_at: x.header.timestamp + 1,
            header_timestamp: x.header.timestamp
        }
    );
}

#[test]
fn decode_errors_carry_offsets() {
    let (b, _) = sample();
    let bytes = b.encode();

    let mut x = bytes.clone();
    x[0] = b'X';
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err(),
        BundleError::BadMagic { got: *b"XTRB" }
    );
    let mut x = bytes.clone();
    x[4] = 2;
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err().code(),
        "BUNDLE_UNSUPPORTED_VERSION"
    );
    let mut x = bytes.clone();
    x[5] = 9;
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err(),
        BundleError::Receipt(crate::rollup::ReceiptError::UnsupportedVersion {
            offset: 5,
            got: 9,
            expected: 1
        })
    );
    let mut x = bytes.clone();
    x[214] = 0;
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err().code(),
        "HEADER_UNSUPPORTED_VERSION"
    );
    let mut x = bytes.clone();
    x.push(0);
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err(),
        BundleError::Decode(CodecError::TrailingBytes {
            offset: bytes.len(),
            count: 1
        })
    );
    // Every proper prefix fails cleanly.
    for n in 0..bytes.len() {
        let e = AnswerBundle::decode(&bytes[..n]).unwrap_err();
        assert!(e.code().ends_with("_TRUNCATED"), "{n}: {e}");
    }
    // Path count above 64.
    let mut x = bytes.clone();
    x[396..400].copy_from_slice(&65u32.to_be_bytes());
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err(),
        BundleError::Decode(CodecError::CountExceeded {
            offset: 396,
            what: "receipt inclusion path",
            got: 65,
            max: 64
        })
    );
    // A report length beyond its cap, then beyond the input.
    let ro = report_offset(&b);
    let mut x = bytes.clone();
    x[ro..ro + 4].copy_from_slice(&(64 * 1024 + 1u32).to_be_bytes());
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err().code(),
        "BUNDLE_LENGTH_EXCEEDED"
    );
    x[ro..ro + 4].copy_from_slice(&60_000u32.to_be_bytes());
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err().code(),
        "BUNDLE_TRUNCATED"
    );
    // Invalid UTF-8 in the certificate chain text.
    let co = ro + 4 + b.evidence.report.len();
    let mut x = bytes.clone();
    x[co + 4] = 0xc0;
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err(),
        BundleError::Decode(CodecError::InvalidUtf8 {
            offset: co + 4,
            what: "certificate chain"
        })
    );
}

#[test]
fn sections_and_limits() {
    let (b, _) = sample();
    let mut plain = b.clone();
    plain.rollup = None;
    plain.chain_status = None;
    plain.zk_proofs.clear();
    let bytes = plain.encode();
    let tags = bytes.len() - 6;
    let mut x = bytes.clone();
    x[tags] = 2;
    assert_eq!(
        AnswerBundle::decode(&x).unwrap_err().code(),
        "BUNDLE_NON_CANONICAL"
    );
    // A chain status without a rollup section.
    let mut with_status = plain.clone();
    with_status.chain_status = b.chain_status;
    let e = AnswerBundle::decode(&with_status.encode()).unwrap_err();
    assert_eq!(
        e,
        BundleError::ChainStatusWithoutRollup { offset: tags + 1 }
    );
    assert_eq!(e.code(), "BUNDLE_CHAIN_STATUS_WITHOUT_ROLLUP");

    let bytes = b.encode();
    let tight = BundleLimits {
        max_rims: 1,
        ..BundleLimits::PROTOCOL
    };
    let e = AnswerBundle::decode_with_limits(&bytes, &tight).unwrap_err();
    assert!(matches!(
        e,
        BundleError::Decode(CodecError::CountExceeded {
            what: "RIM list",
            got: 2,
            max: 1,
            ..
        })
    ));
    let tight = BundleLimits {
        max_total: bytes.len() - 1,
        ..BundleLimits::PROTOCOL
    };
    assert_eq!(
        AnswerBundle::decode_with_limits(&bytes, &tight).unwrap_err(),
        BundleError::TooLarge {
            size: bytes.len(),
            max: bytes.len() - 1
        }
    );
    // A node cannot emit what verifiers would reject.
    let mut big = b.clone();
    big.evidence.ocsp.push(vec![0; 16 * 1024 + 1]);
    assert_eq!(
        big.encode_checked().unwrap_err().code(),
        "BUNDLE_LENGTH_EXCEEDED"
    );
    assert_eq!(
        AnswerBundle::from_json(&big.to_json()).unwrap_err().code(),
        "BUNDLE_LENGTH_EXCEEDED"
    );
    let mut many = b.clone();
    many.zk_proofs[0].public_inputs = vec![[0; 32]; crate::zk::MAX_PUBLIC_INPUTS + 1];
    assert_eq!(
        many.encode_checked().unwrap_err().code(),
        "BUNDLE_COUNT_EXCEEDED"
    );
    assert_eq!(
        AnswerBundle::from_json("{\"version\":1}")
            .unwrap_err()
            .code(),
        "BUNDLE_JSON_INVALID"
    );
    assert_eq!(
        AnswerBundle::decode(&vec![0; 4 * 1024 * 1024 + 1])
            .unwrap_err()
            .code(),
        "BUNDLE_TOO_LARGE"
    );
    assert_eq!(BUNDLE_MAGIC, *b"OTRB");
}

#[test]
fn mutated_bundles_never_panic() {
    let (b, _) = sample();
    let bytes = b.encode();
    let mut decoded = 0;
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut x = bytes.clone();
            x[i] ^= mask;
            if let Ok(m) = AnswerBundle::decode(&x) {
                decoded += 1;
                // Re-encoding is canonical: the same bytes come back.
                assert_eq!(m.encode(), x, "byte {i}");
                let _ = verify_bundle_structure(&m);
            }
        }
    }
    assert!(decoded > bytes.len());
}

fn stapled() -> crate::chain::ChainProof {
    use crate::chain::{StapledAccount, StapledSlot};
    crate::chain::ChainProof {
        chain_id: 31337,
        contract: [0x9f; 20],
        challenge_window_secs: 600,
        headers: vec![vec![0xf9, 0x01, 0x00], vec![0xc0]],
        account: StapledAccount {
            nonce: 1,
            balance: [0; 32],
            storage_hash: [0x33; 32],
            code_hash: [0x44; 32],
            proof: vec![vec![0x80; 40]],
        },
        storage: vec![StapledSlot {
            key: [0x55; 32],
            value: [0x66; 32],
            proof: vec![vec![0x81, 0x01]],
        }],
    }
}

#[test]
fn chain_proof_section_round_trips_and_is_backward_compatible() {
    let (mut b, _) = sample();
    let without = b.encode();
    // Without the section the encoding ends after the ZK proofs, as before it existed.
    assert_eq!(AnswerBundle::decode(&without).unwrap().chain_proof, None);
    assert!(!b.to_json().contains("chain_proof"));
    b.chain_proof = Some(stapled());
    let with = b.encode();
    assert_eq!(&with[..without.len()], &without[..]);
    assert_eq!(with[without.len()], 1);
    assert_eq!(AnswerBundle::decode(&with).unwrap(), b);
    assert_eq!(AnswerBundle::from_json(&b.to_json()).unwrap(), b);
    // A 0x00 tag (or any other byte) there is trailing data, not an absent section.
    let mut zero = without.clone();
    zero.push(0);
    assert_eq!(
        AnswerBundle::decode(&zero).unwrap_err().code(),
        "BUNDLE_TRAILING_BYTES"
    );
    // The section needs a rollup section.
    let mut unposted = b.clone();
    unposted.rollup = None;
    unposted.chain_status = None;
    assert!(AnswerBundle::decode(&unposted.encode()).is_err());
    // Caps: too many headers, a header over 4 KiB.
    let mut many = b.clone();
    many.chain_proof.as_mut().unwrap().headers = vec![vec![0xc0]; 257];
    assert_eq!(
        AnswerBundle::decode(&many.encode()).unwrap_err().code(),
        "BUNDLE_COUNT_EXCEEDED"
    );
    let mut big = b.clone();
    big.chain_proof.as_mut().unwrap().headers[0] = vec![0; 4097];
    assert_eq!(
        AnswerBundle::decode(&big.encode()).unwrap_err().code(),
        "BUNDLE_LENGTH_EXCEEDED"
    );
    // Truncated inside the section.
    assert!(AnswerBundle::decode(&with[..with.len() - 3]).is_err());
}

fn statement() -> crate::rollup::ZkStatement {
    use crate::rollup::{TraceOpening, ZkStatement};
    ZkStatement {
        step: TraceOpening {
            index: 9,
            leaf: vec![0xaa; 57],
            path: vec![[1; 32], [2; 32]],
        },
        input: TraceOpening {
            index: 4,
            leaf: vec![0xbb; 57],
            path: vec![[3; 32]],
        },
        x: vec![1, 2, 3, 4, 5, 6],
        y: vec![9; 64],
        unit_rows: 4,
        matrix: "blk.0.ffn_down.weight".into(),
        matrix_index: 5,
        matrix_size: 127,
        matrix_path: vec![[4; 32]; 7],
    }
}

#[test]
fn zk_statements_round_trip_and_older_bundles_decode_unchanged() {
    let (mut b, _) = sample();
    let before = b.encode();
    // A second proof without a statement: per-proof option tags keep the order.
    b.zk_proofs.push(b.zk_proofs[0].clone());
    b.zk_proofs[0].statement = Some(statement());
    let bytes = b.encode_checked().unwrap();
    assert_eq!(AnswerBundle::decode(&bytes).unwrap(), b);
    assert_eq!(AnswerBundle::from_json(&b.to_json()).unwrap(), b);
    assert!(b.to_json().contains("\"statement\":{"));
    // With a stapled chain proof too: statements come after it.
    let mut c = b.clone();
    c.chain_proof = Some(stapled());
    assert_eq!(AnswerBundle::decode(&c.encode()).unwrap(), c);
    // Without statements the encoding is exactly the older one.
    let mut plain = b.clone();
    plain.zk_proofs.truncate(1);
    plain.zk_proofs[0].statement = None;
    assert_eq!(plain.encode(), before);
    // A statements tag with no proofs, a truncated statement, an oversized tensor.
    let mut none = plain.clone();
    none.zk_proofs.clear();
    let mut bytes = none.encode();
    bytes.extend_from_slice(&[2, 1]);
    assert_eq!(
        AnswerBundle::decode(&bytes).unwrap_err().code(),
        "BUNDLE_TRAILING_BYTES"
    );
    let full = b.encode();
    assert!(AnswerBundle::decode(&full[..full.len() - 3]).is_err());
    let mut big = b.clone();
    big.zk_proofs[0].statement.as_mut().unwrap().y =
        vec![0; BundleLimits::PROTOCOL.max_zk_tensor + 1];
    assert!(big.encode_checked().is_err());
}

#[test]
fn prompt_opening_round_trips_and_older_bundles_decode_unchanged() {
    let (mut b, _) = sample();
    let before = b.encode();
    let prompt = crate::prompt::prompt_bytes(b"hello", &[2, 7]);
    b.prompt = Some(crate::rollup::PromptOpening {
        prompt,
        path: vec![[9; 32], [8; 32]],
    });
    let bytes = b.encode_checked().unwrap();
    assert_eq!(AnswerBundle::decode(&bytes).unwrap(), b);
    assert_eq!(AnswerBundle::from_json(&b.to_json()).unwrap(), b);
    assert!(b.to_json().contains("\"prompt\":{"));
    // After a chain proof and statements too.
    let mut c = b.clone();
    c.chain_proof = Some(stapled());
    c.zk_proofs[0].statement = Some(statement());
    assert_eq!(AnswerBundle::decode(&c.encode()).unwrap(), c);
    // Without it the encoding is exactly the older one.
    let mut plain = b.clone();
    plain.prompt = None;
    assert_eq!(plain.encode(), before);
    // Truncated, trailing, oversized.
    assert!(AnswerBundle::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        AnswerBundle::decode(&longer).unwrap_err().code(),
        "BUNDLE_TRAILING_BYTES"
    );
    let mut big = b.clone();
    big.prompt.as_mut().unwrap().prompt = vec![0; BundleLimits::PROTOCOL.max_prompt + 1];
    assert!(big.encode_checked().is_err());
}

#[test]
fn a_prompt_opening_must_be_leaf_0_of_the_receipts_trace() {
    use crate::verify::check_prompt_opening;
    use sha2::{Digest, Sha256};
    let prompt = crate::prompt::prompt_bytes(b"hi", &[2, 9]);
    let key = crate::zk::statement::LeafKey {
        pos: 0,
        stage: 0,
        op: 0,
    };
    let leaf0 = crate::zk::statement::leaf_bytes(key, &Sha256::digest(&prompt).into());
    let leaves = vec![leaf0, b"step 1".to_vec(), b"step 2".to_vec()];
    let mut r = receipt(1);
    r.trace_root = merkle::root(&leaves);
    r.trace_steps = 3;
    r.prompt_tokens = 2;
    let o = crate::rollup::PromptOpening {
        prompt: prompt.clone(),
        path: merkle::prove(&leaves, 0).unwrap().path,
    };
    let (claim, text) = check_prompt_opening(&r, &o).unwrap();
    assert_eq!(
        (claim.text.as_str(), claim.tokens, text),
        ("hi", 2, &b"hi"[..])
    );
    let code = |r: &Receipt, o: &crate::rollup::PromptOpening| {
        crate::ErrorCode::code(&check_prompt_opening(r, o).unwrap_err())
    };
    // Another token count than the receipt's, another leaf's path, a text past the end.
    let mut other = r.clone();
    other.prompt_tokens = 3;
    assert_eq!(code(&other, &o), "PROMPT_OPENING_INVALID");
    let moved = crate::rollup::PromptOpening {
        path: merkle::prove(&leaves, 1).unwrap().path,
        ..o.clone()
    };
    assert_eq!(code(&r, &moved), "PROMPT_OPENING_INVALID");
    let mut long = o.clone();
    long.prompt[0] = 200;
    assert_eq!(code(&r, &long), "PROMPT_OPENING_INVALID");
    long.prompt.truncate(3);
    assert_eq!(code(&r, &long), "PROMPT_OPENING_INVALID");
}

//! Writes the seed corpora under `fuzz/corpus/<target>/` from the repository's own fixtures and
//! from inputs built here with the otr-core API. Deterministic (RFC 6979 signatures, fixed
//! keys), so re-running reproduces the committed bytes. No third-party sample files are used.
//!
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds`
//! (writes `fuzz/corpus/`), or with a folder argument to write there instead (scripts/fuzz-smoke.sh
//! does so and compares the result with the committed seeds).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use ark_serialize::CanonicalSerialize;
use k256::ecdsa::SigningKey as HeaderKey;
use otr_core::crypto::RustCrypto;
use otr_core::encoding::{base64_encode, pem_certificates};
use otr_core::rim::c14n::C14nVersion;
use otr_core::rim::SignedRim;
use otr_core::rollup::bundle::AnswerBundle;
use otr_core::rollup::finality::{ChainStatus, DisputeState};
use otr_core::rollup::header::HEADER_VERSION;
use otr_core::rollup::merkle;
use otr_core::rollup::receipt::RECEIPT_VERSION;
use otr_core::rollup::{
    eth_address, GpuEvidence, MicroBatchHeader, Receipt, ReceiptProof, RollupInclusion,
    SamplingParams, ZkProof,
};
use otr_core::time::UnixTime;
use otr_core::x509::Certificate;
use otr_core::zk::{Compress, Groth16Proof};
use p384::ecdsa::SigningKey;
use sha1::Digest;

/// The seed of `otr dev fixtures` (prover-node/src/devattest/fixtures.rs).
const FIXTURE_SEED: &[u8] = b"otr-fixtures-v1";
/// Subjects of the dev hierarchy, leaf first (prover-node/src/devattest/mod.rs).
const DEV_LEAF: &str = "CN=OTR DEV GSP FMC LF (NOT PRODUCTION),O=OTR Development,C=XX";
const DEV_BROM: &str = "CN=OTR DEV GSP BROM (NOT PRODUCTION),O=OTR Development,C=XX";

/// The dev hierarchy's key for `label` (same derivation as prover-node's `derive_key`).
fn derive_key(seed: &[u8], label: &str) -> SigningKey {
    let mut ctr = 0u32;
    loop {
        let mut h = sha2::Sha384::new();
        h.update(b"OTR/dev-key/v1");
        h.update(seed);
        h.update(label.as_bytes());
        h.update(ctr.to_be_bytes());
        if let Ok(k) = SigningKey::from_slice(&h.finalize()) {
            return k;
        }
        ctr += 1;
    }
}

struct Out {
    root: PathBuf,
}

impl Out {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}

fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Fixture case folders under fixtures/attestation, `ok` first, then by name (so a seed shared
/// by several cases is named after `ok`).
fn cases(fixtures: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = fs::read_dir(fixtures.join("attestation"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("report.hex").exists())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort_by_key(|(name, _)| (name != "ok", name.clone()));
    v
}

fn report_of(case: &Path) -> Vec<u8> {
    otr_core::encoding::hex_decode_lenient(&read(&case.join("report.hex"))).expect("report hex")
}

fn spdm(out: &Out, fixtures: &Path) {
    let mut seen = BTreeSet::new();
    for (name, dir) in cases(fixtures) {
        let report = report_of(&dir);
        if seen.insert(report.clone()) {
            out.put("spdm", &format!("{name}.bin"), &report);
        }
    }
    // The opaque data alone: request (37) + response header (8) + record + nonce (32) + length (2).
    let report = report_of(&fixtures.join("attestation/ok"));
    let parsed = otr_core::attestation::SpdmReport::parse(&report).unwrap();
    let start = 45 + parsed.response.record_length as usize + 34;
    let len = usize::from(u16::from_le_bytes([report[start - 2], report[start - 1]]));
    out.put("spdm", "opaque_only.bin", &report[start..start + len]);
}

fn framed(ders: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for d in ders {
        v.extend_from_slice(&(d.len() as u16).to_be_bytes());
        v.extend_from_slice(d);
    }
    v
}

fn chain(out: &Out, fixtures: &Path) {
    let mut chains = BTreeSet::new();
    let mut certs = BTreeSet::new();
    for (name, dir) in cases(fixtures) {
        let Ok(ders) = pem_certificates(&read(&dir.join("chain.pem"))) else {
            continue;
        };
        if chains.insert(ders.clone()) {
            out.put("chain", &format!("{name}.chain"), &framed(&ders));
        }
        for (i, d) in ders.iter().enumerate() {
            if certs.insert(d.clone()) {
                out.put("chain", &format!("{name}_{i}.der"), d);
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// OCSP answers and signed manifests: the dev builders of `otr dev fixtures`, shared by path
// (this crate does not depend on otr-node, whose dependency tree is the whole node).

#[allow(dead_code)]
#[path = "../../prover-node/src/devattest/ocsp.rs"]
mod dev_ocsp;
#[allow(dead_code)]
#[path = "../../prover-node/src/devattest/rim.rs"]
mod dev_rim;

use dev_ocsp::{ocsp_answer, Answer, Status};

fn t(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).unwrap()
}

fn ocsp(out: &Out, fixtures: &Path) {
    let ders = pem_certificates(&read(&fixtures.join("attestation/ok/chain.pem"))).unwrap();
    let leaf = Certificate::from_der(&ders[0]).unwrap();
    let issuer = Certificate::from_der(&ders[1]).unwrap();
    let key = derive_key(FIXTURE_SEED, DEV_BROM);
    assert_eq!(
        key.verifying_key().to_encoded_point(false).as_bytes(),
        issuer.public_key_p384().unwrap(),
        "the dev BROM key no longer matches fixtures/attestation/ok/chain.pem"
    );
    let good = || Answer {
        sha1_cert_id: false,
        status: Status::Good,
        nonce: None,
        this_update: t("2025-12-31T23:00:00Z"),
        next_update: Some(t("2026-01-02T00:00:00Z")),
        produced_at: t("2025-12-31T23:00:01Z"),
        certs: Vec::new(),
    };
    let revoked_at = t("2025-06-01T00:00:00Z");
    let cases: Vec<(&str, Answer)> = vec![
        ("good_sha384.der", good()),
        (
            "good_sha1_with_cert.der",
            Answer {
                sha1_cert_id: true,
                certs: vec![&ders[1]],
                ..good()
            },
        ),
        (
            "good_nonce.der",
            Answer {
                nonce: Some(&[0x42; 32]),
                ..good()
            },
        ),
        (
            "good_no_next_update.der",
            Answer {
                next_update: None,
                ..good()
            },
        ),
        (
            "unknown.der",
            Answer {
                status: Status::Unknown,
                ..good()
            },
        ),
        (
            "revoked_hold.der",
            Answer {
                status: Status::Revoked {
                    at: revoked_at,
                    reason: Some(6),
                },
                ..good()
            },
        ),
        (
            "revoked_no_reason.der",
            Answer {
                status: Status::Revoked {
                    at: revoked_at,
                    reason: None,
                },
                ..good()
            },
        ),
    ];
    // Answered by the issuer itself.
    for (name, a) in &cases {
        out.put("ocsp", name, &ocsp_answer(&leaf, &issuer, &issuer, &key, a));
    }
    let b64 = base64_encode(&ocsp_answer(&leaf, &issuer, &issuer, &key, &good()));
    out.put("ocsp", "good_base64.txt", b64.as_bytes());
    // Non-successful status (tryLater) without responseBytes.
    out.put("ocsp", "try_later.der", &dev_ocsp::unsuccessful(3));
}

// ----------------------------------------------------------------------------------------------
// Reference manifests

const SWID: &str = r#"<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ns0="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ns2="http://www.w3.org/2001/04/xmlenc#sha384" corpus="false" name="GH100" tagId="otr-fuzz-seed" version="96.00.CF.00.02" tagVersion="0">
    <ns0:Meta xmlns:ns1="https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/" colloquialVersion="96.00.CF.00.02" product="GH100" ns1:FirmwareManufacturerStr="OTR fuzz seed" ns1:PlatformManufacturerId="5703"/>
    <ns0:Entity name="OTR (NOT PRODUCTION)" regid="otr.invalid" role="softwareCreator tagCreator"/>
    <ns0:Payload>
        <ns0:Resource type="Measurement" index="0" active="True" alternatives="2" ns2:Hash0="000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f" ns2:Hash1="ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f" name="Measurement_0" size="48"/>
        <ns0:Resource type="Measurement" index="1" active="False" alternatives="1" ns2:Hash0="ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f" name="Measurement_1" size="48"/>
    </ns0:Payload>
{SIG}</SoftwareIdentity>"#;

fn rim_xml(out: &Out, fixtures: &Path) {
    let ders = pem_certificates(&read(&fixtures.join("attestation/ok/chain.pem"))).unwrap();
    let key = derive_key(FIXTURE_SEED, DEV_LEAF);
    for (name, v) in [
        ("signed_c14n10.xml", C14nVersion::V10),
        ("signed_c14n11.xml", C14nVersion::V11),
    ] {
        let xml = dev_rim::sign_enveloped(SWID, &ders[..2], &key, v);
        SignedRim::verify_signature(xml.as_bytes(), &RustCrypto).expect("seed manifest verifies");
        out.put("rim_xml", name, xml.as_bytes());
    }
    let small: [(&str, &str); 6] = [
        ("prolog_pi_comment.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><?pi x?><a xmlns=\"urn:a\" xmlns:b=\"urn:b\" b:c=\"1\" xml:lang=\"en\"><b:d>t&amp;&lt;&#x41;&#66;</b:d><![CDATA[<raw>]]></a>\n<?tail?>"),
        ("attributes.xml", "<r a=\"&quot;x&#9;y&#10;\" b='z' xmlns:p=\"urn:p\" p:a=\"1\"><e p:b=\"2\"/></r>"),
        ("ns_rebind.xml", "<a xmlns=\"urn:1\"><b xmlns=\"\"><c xmlns=\"urn:2\" xml:space=\"preserve\">  x  </c></b></a>"),
        ("whitespace.xml", "<a>\r\n  <b>text\r\nmore</b>\r\n</a>\r\n"),
        ("xml_base.xml", "<a xml:base=\"http://x/\" xml:lang=\"fr\"><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo/></ds:Signature></a>"),
        ("deep.xml", "<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a>"),
    ];
    for (name, xml) in small {
        out.put("rim_xml", name, xml.as_bytes());
    }
}

// ----------------------------------------------------------------------------------------------
// Rollup bundles

fn receipt(i: u8) -> Receipt {
    Receipt {
        version: RECEIPT_VERSION,
        model_id: [0x11; 32],
        weights_root: [0x22; 32],
        request_hash: [i; 32],
        output_hash: [i ^ 0x80; 32],
        prompt_tokens: 10 + u32::from(i),
        completion_tokens: 20,
        sampling: SamplingParams {
            temperature_milli: 700,
            top_k: 40,
            top_p_milli: 950,
            max_tokens: 32,
            seed: u64::from(i),
        },
        trace_root: [0x44; 32],
        trace_steps: 999,
        created_at: 1_767_225_000,
    }
}

/// A consistent ZK statement (docs/PROTOCOL.md §7.8) of a two-step trace `(0, 1, ACT) = x`,
/// `(0, 1, DOWN) = y` (8 rows, R = 4, unit 1), and the four public inputs it implies (`C_W` made
/// up): the trace root for the receipt, the statement, the public inputs.
fn statement_case() -> ([u8; 32], u64, otr_core::rollup::ZkStatement, Vec<[u8; 32]>) {
    use otr_core::zk::poseidon::Poseidon;
    use sha2::Digest;
    let x: Vec<u8> = (0..68u8).collect();
    let y: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
    let leaf = |op: u8, t: &[u8]| {
        let key = otr_engine::StepKey {
            pos: 0,
            stage: 1,
            op,
        };
        otr_engine::model::trace::leaf(key, &sha2::Sha256::digest(t).into())
    };
    let leaves = vec![leaf(13, &x), leaf(14, &y)];
    let open = |i: u64| otr_core::rollup::TraceOpening {
        index: i,
        leaf: leaves[i as usize].clone(),
        path: merkle::prove(&leaves, i).unwrap().path,
    };
    let be = |f: otr_core::zk::Fr| otr_core::zk::groth16::scalar_to_be_bytes(&f);
    let h = Poseidon::new();
    let mut row_start = [0u8; 32];
    row_start[31] = 4;
    let mut c_w = [0u8; 32];
    c_w[31] = 7;
    let inputs = vec![
        c_w,
        row_start,
        be(h.input_commitment(&x)),
        be(h.output_commitment(&y[32..])),
    ];
    let st = otr_core::rollup::ZkStatement {
        step: open(1),
        input: open(0),
        x,
        y,
        unit_rows: 4,
        matrix: "blk.0.ffn_down.weight".into(),
        matrix_index: 0,
        matrix_size: 1,
        matrix_path: Vec::new(),
    };
    (merkle::root(&leaves), 2, st, inputs)
}

fn bundle(out: &Out, fixtures: &Path) {
    let key = HeaderKey::from_slice(&[0x5a; 32]).unwrap();
    let mut receipts: Vec<Receipt> = (0..5).map(receipt).collect();
    // The bundle's receipt has a real two-step trace, which its proof's statement opens.
    let (trace_root, trace_steps, statement, statement_inputs) = statement_case();
    receipts[3].trace_root = trace_root;
    receipts[3].trace_steps = trace_steps;
    let hashes: Vec<[u8; 32]> = receipts.iter().map(Receipt::receipt_hash).collect();
    let header = MicroBatchHeader {
        version: HEADER_VERSION,
        chain_id: 31337,
        node_address: eth_address(key.verifying_key()),
        sequence: 9,
        prev_header_hash: [0x99; 32],
        receipts_root: merkle::root(&hashes),
        receipt_count: 5,
        timestamp: 1_767_225_001,
    };
    let header_signature = header.sign(&key).unwrap();
    let batch_leaves = vec![[1u8; 32], [2u8; 32], header.header_hash()];
    let ok = fixtures.join("attestation/ok");
    let zk_proof = {
        let text = String::from_utf8(read(&fixtures.join("zk/snarkjs_muladd/proof.json"))).unwrap();
        otr_core::zk::snarkjs::parse_proof(&text)
            .unwrap()
            .to_bytes(Compress::Yes)
    };
    let full = AnswerBundle {
        version: 1,
        receipt: receipts[3].clone(),
        receipt_proof: ReceiptProof {
            leaf_index: 3,
            path: merkle::prove(&hashes, 3).unwrap().path,
        },
        header: header.clone(),
        header_signature,
        evidence: GpuEvidence {
            report: report_of(&ok),
            cert_chain_pem: String::from_utf8(read(&ok.join("chain.pem"))).unwrap(),
            rims: vec!["<SoftwareIdentity/>".into()],
            ocsp: vec![vec![0x30, 0x03, 0x0a, 0x01, 0x03]],
            arch: "HOPPER".into(),
        },
        rollup: Some(RollupInclusion {
            batch_index: 42,
            batch_root: merkle::root(&batch_leaves),
            batch_size: 3,
            header_index: 2,
            path: merkle::prove(&batch_leaves, 2).unwrap().path,
        }),
        chain_status: Some(ChainStatus {
            batch_posted_at: 1_767_225_010,
            challenge_window_secs: 600,
            dispute: DisputeState::ResolvedNodeLost {
                slashed_wei: 10u128.pow(18),
            },
        }),
        zk_proofs: vec![ZkProof {
            circuit_id: [0xcc; 32],
            proof: zk_proof,
            public_inputs: statement_inputs,
            statement: Some(statement),
        }],
        chain_proof: None,
        prompt: Some(otr_core::rollup::PromptOpening {
            prompt: otr_core::prompt::prompt_bytes(b"hello", &[2, 7]),
            path: vec![[0x11; 32], [0x22; 32]],
        }),
    };
    otr_core::rollup::verify_bundle_structure(&full).expect("seed bundle is consistent");
    let p = &full.zk_proofs[0];
    otr_core::zk::statement::check_statement(
        p.statement.as_ref().unwrap(),
        &p.public_inputs,
        &full.receipt,
        &otr_core::zk::poseidon::Poseidon::new(),
    )
    .expect("seed statement is consistent");
    let pending = AnswerBundle {
        rollup: None,
        chain_status: None,
        zk_proofs: Vec::new(),
        chain_proof: None,
        prompt: None,
        evidence: GpuEvidence {
            report: vec![0x11, 0xe0],
            cert_chain_pem: String::new(),
            rims: Vec::new(),
            ocsp: Vec::new(),
            arch: "HOPPER".into(),
        },
        ..full.clone()
    };
    for (name, b) in [("full", &full), ("pending", &pending)] {
        out.put(
            "bundle",
            &format!("{name}.bin"),
            &b.encode_checked().unwrap(),
        );
        out.put("bundle", &format!("{name}.json"), b.to_json().as_bytes());
    }
    out.put("bundle", "receipt.bin", &receipts[0].encode());
    out.put("bundle", "receipt.json", receipts[0].to_json().as_bytes());
    out.put("bundle", "header.bin", &header.encode());
    out.put("bundle", "header.json", header.to_json().as_bytes());
}

// ----------------------------------------------------------------------------------------------
// Evidence lists and snarkjs

fn evidence_list(out: &Out, fixtures: &Path) {
    let ok = fixtures.join("attestation/ok");
    let report = report_of(&ok);
    let pem = String::from_utf8(read(&ok.join("chain.pem"))).unwrap();
    let b64_chain = base64_encode(pem.as_bytes());
    let item = |evidence: String, nonce: bool| {
        let nonce = if nonce {
            format!(",\"nonce\":\"{}\"", "42".repeat(32))
        } else {
            String::new()
        };
        format!(
            "{{\"arch\":\"HOPPER\",\"certificate\":\"{b64_chain}\",\"evidence\":\"{evidence}\"{nonce}}}"
        )
    };
    let b64 = item(base64_encode(&report), true);
    let hex = item(hex::encode(&report), false);
    out.put(
        "evidence_list",
        "one_base64.json",
        format!("[{b64}]").as_bytes(),
    );
    out.put(
        "evidence_list",
        "one_hex.json",
        format!("[{hex}]").as_bytes(),
    );
    out.put(
        "evidence_list",
        "two.json",
        format!("[{b64},\n {hex}]").as_bytes(),
    );
    out.put("evidence_list", "empty.json", b"[]");
}

fn snarkjs(out: &Out, fixtures: &Path) {
    let dir = fixtures.join("zk/snarkjs_muladd");
    for f in ["verification_key.json", "proof.json", "public.json"] {
        out.put("snarkjs", f, &read(&dir.join(f)));
    }
    let vk_text = String::from_utf8(read(&dir.join("verification_key.json"))).unwrap();
    let vk = otr_core::zk::snarkjs::parse_vk(&vk_text).unwrap();
    for (name, c) in [
        ("vk_compressed.bin", Compress::Yes),
        ("vk_uncompressed.bin", Compress::No),
    ] {
        let mut b = Vec::new();
        vk.vk().serialize_with_mode(&mut b, c).unwrap();
        out.put("snarkjs", name, &b);
    }
    let proof_text = String::from_utf8(read(&dir.join("proof.json"))).unwrap();
    let proof: Groth16Proof = otr_core::zk::snarkjs::parse_proof(&proof_text).unwrap();
    out.put(
        "snarkjs",
        "proof_compressed.bin",
        &proof.to_bytes(Compress::Yes),
    );
}

// ----------------------------------------------------------------------------------------------
// Light client (RLP, trie proofs): from the anvil fixture

#[path = "../../core/tests/support/anvil_fixture.rs"]
mod anvil_fixture;

/// `rlp`: a Prague header, a branch and a leaf node, an account and a storage value.
/// `trie_proof`: the path then the 2-byte-framed nodes, for the account proof, a present and an
/// absent storage slot.
fn light_client(out: &Out) {
    use otr_core::chain::{keccak256, rlp};
    let f = anvil_fixture::AnvilFixture::load();
    let p = &f.canonical;
    let storage = f.storage_for(p, 0);
    let absent = f.storage_for(p, 2);
    out.put("rlp", "header_prague.rlp", &f.canonical_headers[0]);
    out.put("rlp", "account_branch.rlp", &p.account.proof[0]);
    let leaf = p.account.proof.last().unwrap();
    out.put("rlp", "account_leaf.rlp", leaf);
    let item = rlp::decode_exact(leaf).unwrap();
    let value = item.list_items(2).unwrap().unwrap()[1].bytes().unwrap();
    out.put("rlp", "account_value.rlp", value);
    out.put("rlp", "storage_leaf.rlp", storage[0].proof.last().unwrap());
    let frame = |path: &[u8], nodes: &[Vec<u8>]| {
        let mut b = path.to_vec();
        for n in nodes {
            b.extend_from_slice(&(n.len() as u16).to_be_bytes());
            b.extend_from_slice(n);
        }
        b
    };
    let account = frame(&keccak256(&p.account.address), &p.account.proof);
    out.put("trie_proof", "account.bin", &account);
    let root_slot = frame(&keccak256(&storage[0].key), &storage[0].proof);
    out.put("trie_proof", "storage_root_slot.bin", &root_slot);
    let absent_slot = frame(&keccak256(&absent[0].key), &absent[0].proof);
    out.put("trie_proof", "storage_absent.bin", &absent_slot);
}

/// Powers-of-tau files of the ZK setup: sizes 2 and 4, with 0 to 2 contributions. The secrets
/// are fixed (the seeds must be reproducible), through the test-only entry point.
fn phase1(out: &Out) {
    use ark_bn254::Fr;
    use otr_zk::phase1::Phase1;
    let write = |p: &Phase1, name: &str| {
        let mut b = Vec::new();
        p.write(&mut b).unwrap();
        out.put("phase1", name, &b);
    };
    write(&Phase1::init(1).unwrap(), "size2_0.ptau");
    let mut p = Phase1::init(2).unwrap();
    write(&p, "size4_0.ptau");
    for (i, name) in ["size4_1.ptau", "size4_2.ptau"].iter().enumerate() {
        let k = 3 + 10 * i as u64;
        p.contribute_known_secrets_for_tests(
            &format!("seed contributor {}", i + 1),
            Fr::from(k),
            Fr::from(k + 1),
            Fr::from(k + 2),
        )
        .unwrap();
        write(&p, name);
    }
}

/// A tiny GGUF of each architecture (the fixture generator with smaller shapes, so a seed stays
/// under the smoke test's 64 KiB input limit where it can), a header-only prefix, and the engine's
/// converted-model cache bytes of the same models (for `engine_cache`: the target appends the
/// checksum itself, so the seed is the body without its 32-byte trailer).
fn engine(out: &Out) {
    use otr_engine::fixture::{make_tiny, specs};
    for (name, mut spec) in specs() {
        spec.layers = 1;
        spec.d_model = 32;
        spec.heads = 1;
        spec.kv_heads = 1;
        spec.head_dim = 32;
        spec.ffn = 256;
        let g = make_tiny(&spec);
        // Whole files only where they fit the smoke test's input limit (the Llama one, with its
        // separate output matrix, does not: its header is a seed, its tensors are covered by
        // the Gemma file's).
        if g.len() < 65_536 {
            out.put("gguf", &format!("{name}.gguf"), &g);
        }
        let gg = otr_engine::gguf::Gguf::parse(&g).unwrap();
        out.put(
            "gguf",
            &format!("{name}-header.gguf"),
            &g[..(gg.data_start as usize).min(g.len())],
        );
        let tensors = otr_engine::convert::convert_all_quiet(&g, &gg).unwrap();
        let dir = std::env::temp_dir().join(format!("otr-gen-seeds-{}", std::process::id()));
        let path = dir.join(format!("{name}.otrm"));
        otr_engine::convert::cache::write(&path, &[7u8; 32], &tensors).unwrap();
        let bytes = fs::read(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        if bytes.len() - 32 < 65_536 {
            out.put(
                "engine_cache",
                &format!("{name}.otrm"),
                &bytes[..bytes.len() - 32],
            );
        }
    }
}

/// Attention claim states and step inputs (`attn_parts`): the engine's states of a small
/// random step for two shapes, laid out as the target reads them (shape bytes, the last state,
/// the query heads, then the keys and the values).
fn attn_parts(out: &Out) {
    use otr_engine::fixed::Act16;
    use otr_engine::model::attn_parts::{encode_state, AttnInputs, AttnShape};
    let mut r = otr_engine::rng::SplitMix(5);
    for (name, head) in [("one-head", [0u8, 0, 7, 1]), ("grouped", [1u8, 1, 3, 2])] {
        let kv = 1 + (head[0] % 2) as usize;
        let shape = AttnShape {
            heads: kv * (1 + (head[1] % 2) as usize),
            kv_heads: kv,
            head_dim: 1 + (head[2] % 8) as usize,
        };
        let chunk = 1 + (head[3] % 4) as usize;
        let mut act = || Act16 {
            q: (0..shape.head_dim)
                .map(|_| (r.next() >> 52) as i16)
                .collect(),
            exp: -14,
        };
        let positions = 5;
        let x = AttnInputs {
            shape,
            q: (0..shape.heads).map(|_| act()).collect(),
            ks: (0..positions * kv).map(|_| act()).collect(),
            vs: (0..positions * kv).map(|_| act()).collect(),
        };
        let states = x.states(chunk);
        let mut b = head.to_vec();
        b.extend(encode_state(states.last().unwrap()));
        for a in x.q.iter().chain(&x.ks).chain(&x.vs) {
            b.extend(a.bytes());
        }
        out.put("attn_parts", &format!("{name}.bin"), &b);
    }
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let fixtures = repo.join("fixtures");
    let out = Out {
        root: std::env::args_os()
            .nth(1)
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("fuzz/corpus")),
    };
    spdm(&out, &fixtures);
    chain(&out, &fixtures);
    ocsp(&out, &fixtures);
    rim_xml(&out, &fixtures);
    bundle(&out, &fixtures);
    evidence_list(&out, &fixtures);
    snarkjs(&out, &fixtures);
    light_client(&out);
    phase1(&out);
    engine(&out);
    attn_parts(&out);
    println!("seeds written under {}", out.root.display());
}

//! Self-made answer-bundle fixtures: `fixtures/bundles/<case>/` with `bundle.json` (and
//! `bundle.otrb`, the binary form) and a `case.json` naming the expected verdict or error code
//! and, for accepted bundles, the expected finality state.

use std::path::Path;

use otr_core::rollup::{ChainStatus, DisputeState};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::bundle::{build_bundle, node_key, sample_receipt, BundleSpec};
use super::fixtures::{FIXTURE_SEED, FIXTURE_TIME};
use super::report::{build_report, ReportSpec};
use super::DevGpu;

/// (name, description, bundle, expected verdict, expected finality, policy override).
type Case = (
    &'static str,
    &'static str,
    otr_core::rollup::AnswerBundle,
    &'static str,
    Option<&'static str>,
    Option<serde_json::Value>,
);

/// FIXTURE_TIME as Unix seconds.
const NOW: u64 = 1_767_225_600;

pub fn generate(out: &Path) -> std::io::Result<usize> {
    let gpu = DevGpu::generate(FIXTURE_SEED);
    let key = node_key(FIXTURE_SEED);
    let receipts: Vec<_> = (0..5)
        .map(|i| sample_receipt(&format!("request-{i}"), NOW - 700))
        .collect();
    let others: Vec<[u8; 32]> = (0..6u8).map(|i| [i; 32]).collect();
    let spec = |batch: Option<(u64, Vec<[u8; 32]>, usize)>, chain_status| BundleSpec {
        gpu: &gpu,
        node_key: &key,
        seed: FIXTURE_SEED,
        chain_id: 31337,
        sequence: 42,
        receipts: receipts.clone(),
        index: 3,
        timestamp: NOW - 600,
        batch,
        chain_status,
    };
    let posted = |at: u64, dispute| {
        Some(ChainStatus {
            batch_posted_at: at,
            challenge_window_secs: 3600,
            dispute,
        })
    };
    let batch = || Some((9u64, others.clone(), 2usize));
    let good = build_bundle(&spec(None, None));

    // (name, description, bundle, expected, expected finality, policy override)
    let mut cases: Vec<Case> = vec![
        (
            "provisional",
            "attested and signed, not posted yet",
            good.clone(),
            "ok",
            Some("provisional"),
            None,
        ),
        (
            "in_window",
            "posted 500 s ago, 3600 s challenge window",
            build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::None))),
            "ok",
            Some("in_window"),
            None,
        ),
        (
            "final",
            "posted two hours ago, window passed without dispute",
            build_bundle(&spec(batch(), posted(NOW - 7200, DisputeState::None))),
            "ok",
            Some("final"),
            None,
        ),
        (
            "disputed",
            "posted, a dispute is open",
            build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::Open))),
            "ok",
            Some("disputed"),
            None,
        ),
        (
            "slashed",
            "a dispute was lost by the node",
            build_bundle(&spec(
                batch(),
                posted(
                    NOW - 7200,
                    DisputeState::ResolvedNodeLost {
                        slashed_wei: 10u128.pow(18),
                    },
                ),
            )),
            "ok",
            Some("slashed"),
            None,
        ),
        (
            "dev_root_rejected",
            "genuine dev bundle; the policy does not allow dev roots",
            good.clone(),
            "POLICY_DEV_ROOT",
            None,
            Some(json!({ "require_rims": false, "require_ocsp": false })),
        ),
    ];
    let mut tampered =
        |name, description, expected, f: &dyn Fn(&mut otr_core::rollup::AnswerBundle)| {
            let mut b = build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::None)));
            f(&mut b);
            cases.push((name, description, b, expected, None, None));
        };
    tampered(
        "receipt_output_changed",
        "the receipt's output hash changed after batching",
        "INCLUSION_ROOT_MISMATCH",
        &|b| b.receipt.output_hash[0] ^= 1,
    );
    tampered(
        "receipt_path_changed",
        "one hash of the receipt's audit path changed",
        "INCLUSION_ROOT_MISMATCH",
        &|b| b.receipt_proof.path[0][5] ^= 1,
    );
    tampered(
        "header_changed",
        "the header's timestamp changed after signing",
        "HEADER_SIGNER_MISMATCH",
        &|b| b.header.timestamp += 1,
    );
    tampered(
        "batch_path_changed",
        "one hash of the batch audit path changed",
        "INCLUSION_ROOT_MISMATCH",
        &|b| b.rollup.as_mut().unwrap().path[1][0] ^= 1,
    );
    tampered(
        "report_byte_flipped",
        "one bit of a measurement in the GPU report flipped",
        "REPORT_SIGNATURE_INVALID",
        &|b| b.evidence.report[60] ^= 1,
    );
    tampered(
        "receipt_after_header",
        "the receipt claims a time after its micro-batch",
        "BUNDLE_RECEIPT_AFTER_HEADER",
        &|b| b.receipt.created_at = b.header.timestamp + 1,
    );

    {
        // The GPU attested another micro-batch: its nonce is not this header's hash.
        let mut b = build_bundle(&spec(batch(), posted(NOW - 500, DisputeState::None)));
        let other = build_bundle(&BundleSpec {
            sequence: 43,
            ..spec(None, None)
        });
        b.evidence.report = other.evidence.report;
        cases.push((
            "report_for_other_header",
            "the GPU report attests a different micro-batch header",
            b,
            "REPORT_NONCE_MISMATCH",
            None,
            None,
        ));
    }
    // The trace's `PROMPT` leaf opened: receipt 3's trace is a small one whose leaf 0 is a
    // prompt (text and ids), so the opening is leaf 0 of its trace root.
    let text =
        "<start_of_turn>user\nWhere is the Eiffel Tower?<end_of_turn>\n<start_of_turn>model\n";
    let ids: Vec<u32> = (0..16).map(|i| 2 + 1000 * i).collect();
    let prompt = otr_engine::model::trace::prompt_bytes(text.as_bytes(), &ids);
    let key = otr_engine::StepKey {
        pos: 0,
        stage: 0,
        op: otr_engine::model::trace::embed_op::PROMPT,
    };
    let mut leaves = vec![otr_engine::model::trace::leaf(
        key,
        &Sha256::digest(&prompt).into(),
    )];
    leaves.extend((1..7u8).map(|i| vec![i; 57]));
    let mut with_prompt = receipts.clone();
    with_prompt[3].prompt_tokens = ids.len() as u32;
    with_prompt[3].trace_root = otr_core::rollup::merkle::root(&leaves);
    with_prompt[3].trace_steps = leaves.len() as u64;
    let mut opened = build_bundle(&BundleSpec {
        receipts: with_prompt,
        ..spec(batch(), posted(NOW - 500, DisputeState::None))
    });
    opened.prompt = Some(otr_core::rollup::PromptOpening {
        prompt,
        path: otr_core::rollup::merkle::prove(&leaves, 0)
            .expect("leaf 0")
            .path,
    });
    let mut forged = opened.clone();
    // "Eiffel" -> "eiffel": a text the trace does not hold.
    forged.prompt.as_mut().expect("opened").prompt[4 + 33] ^= 0x20;
    let statue =
        "<start_of_turn>user\nWhere is the Statue of Liberty?<end_of_turn>\n<start_of_turn>model\n";
    // (case, the client's prompt its case.json names)
    let expected_prompts = [("prompt_opened", text), ("prompt_mismatch", statue)];
    cases.push((
        "prompt_opened",
        "the trace's PROMPT leaf opened; its text is the client's prompt",
        opened.clone(),
        "ok",
        Some("in_window"),
        None,
    ));
    cases.push((
        "prompt_mismatch",
        "the trace's PROMPT leaf opened; its text is not the client's prompt",
        opened,
        "RECEIPT_PROMPT_MISMATCH",
        None,
        None,
    ));
    cases.push((
        "prompt_opening_forged",
        "the opened PROMPT leaf's text changed: not leaf 0 of the receipt's trace",
        forged,
        "PROMPT_OPENING_INVALID",
        None,
        None,
    ));
    let dir = out.join("bundles");
    for (name, description, bundle, expected, finality, policy) in &cases {
        let d = dir.join(name);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("bundle.json"), bundle.to_json() + "\n")?;
        std::fs::write(d.join("bundle.otrb"), bundle.encode())?;
        let mut m = json!({
            "description": description,
            "expected": expected,
            "time": FIXTURE_TIME,
            "policy": policy.clone().unwrap_or(json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true })),
            "dev_root": "../../attestation/dev-root.pem",
            "made_by": "otr dev fixtures (prover-node/src/devattest/bundle_fixtures.rs), seed \"otr-fixtures-v1\"",
        });
        if let Some(f) = finality {
            m["finality"] = json!(f);
        }
        if let Some((_, p)) = expected_prompts.iter().find(|(n, _)| n == name) {
            m["expected_prompt"] = json!(p);
        }
        std::fs::write(
            d.join("case.json"),
            serde_json::to_string_pretty(&m)? + "\n",
        )?;
    }
    // A binary bundle cut short.
    let d = dir.join("truncated");
    std::fs::create_dir_all(&d)?;
    let bytes = good.encode();
    std::fs::write(d.join("bundle.otrb"), &bytes[..bytes.len() / 2])?;
    std::fs::write(
        d.join("case.json"),
        serde_json::to_string_pretty(&json!({
            "description": "the binary bundle cut in half",
            "expected": "BUNDLE_TRUNCATED",
            "time": FIXTURE_TIME,
            "policy": { "require_rims": false, "require_ocsp": false, "allow_dev_roots": true },
            "dev_root": "../../attestation/dev-root.pem",
            "made_by": "otr dev fixtures (prover-node/src/devattest/bundle_fixtures.rs)",
        }))? + "\n",
    )?;
    std::fs::write(
        dir.join("README.md"),
        "# Bundle fixtures\n\nAnswer bundles made by `otr dev fixtures` with a dev node key (secp256k1) and a dev GPU\n(NOT PRODUCTION), as `bundle.json` and `bundle.otrb` (the binary form), each with a `case.json`:\nexpected verdict or error code, expected finality, time, policy, dev root (and, for the\n`prompt_*` cases, `expected_prompt`: the client's prompt to compare). Checked by\n`prover-node/tests/bundle_fixtures.rs` and by `otr verify bundle`.\n\n`full_a1_like/` is the one bundle with full evidence (RIMs, OCSP) and a Groth16 proof; it\nneeds two dev roots and a verifying key, so it is described by `spec.json` (see its README).\n",
    )?;
    Ok(cases.len() + 1)
}

/// Name of the full-evidence bundle fixture folder under `bundles/`.
pub const FULL_CASE: &str = "full_a1_like";

/// A decimal BN254 scalar (snarkjs `public.json`) as 32 big-endian bytes.
fn decimal_be32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for c in text.bytes() {
        assert!(c.is_ascii_digit(), "decimal scalar");
        let mut carry = u32::from(c - b'0');
        for b in out.iter_mut().rev() {
            let v = u32::from(*b) * 10 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0, "scalar fits 32 bytes");
    }
    out
}

/// The step of the committed `fixtures/zk/matvec_r4` proof as a trace: the seeded 640 x 2048
/// matrix (`blk.0.ffn_down.weight`) times the seeded input.
struct MatVecFixture {
    x: Vec<u8>,
    y: Vec<u8>,
    leaves: Vec<Vec<u8>>,
}

impl MatVecFixture {
    const MATRIX: &'static str = "blk.0.ffn_down.weight";

    fn new() -> Self {
        use otr_engine::model::trace::{layer_op, leaf};
        let w = otr_zk::testdata::matrix(640, 2048, 1, &[-9, -8, -10, -7]);
        let a = otr_zk::testdata::input(2048, 1, 4);
        let x = a.bytes();
        let y = otr_engine::fixed::wide_bytes(&otr_zk::unit::reference_rows(&w, &a, 0, w.rows));
        let key = |op| otr_engine::StepKey {
            pos: 0,
            stage: 1,
            op,
        };
        let sha = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
        let leaves = vec![
            leaf(key(layer_op::ACT), &sha(&x)),
            leaf(key(layer_op::DOWN), &sha(&y)),
        ];
        MatVecFixture { x, y, leaves }
    }
}

/// `bundles/full_a1_like/`: one bundle with evidence of NVIDIA's A1 shape (report, 5-certificate
/// device chain, driver and VBIOS RIMs, GOOD OCSP answers for every CA certificate of both
/// chains), the GPU nonce bound to the header hash, receipt and batch inclusion, finality, and
/// one real Groth16 spot-check proof (`fixtures/zk/matvec_r4`). Reads the RIMs, OCSP answers and
/// dev roots written by `gpu_fixtures::generate` into `out/gpu/ok` (run that first), so the
/// evidence is byte-identical to the `ok` full-GPU case except for the report's nonce.
pub fn generate_full(out: &Path) -> std::io::Result<()> {
    let gpu = DevGpu::generate(FIXTURE_SEED);
    let key = node_key(FIXTURE_SEED);
    let mut receipts: Vec<_> = (0..5)
        .map(|i| sample_receipt(&format!("request-{i}"), NOW - 700))
        .collect();
    // The bundle's receipt (index 3) gets a real two-step trace: `(0, 1, ACT) = x` and
    // `(0, 1, DOWN) = W x`, the step the committed `fixtures/zk/matvec_r4` proof is a unit of.
    let mv = MatVecFixture::new();
    receipts[3].trace_root = otr_core::rollup::merkle::root(&mv.leaves);
    receipts[3].trace_steps = mv.leaves.len() as u64;
    let others: Vec<[u8; 32]> = (0..6u8).map(|i| [i; 32]).collect();
    let mut b = build_bundle(&BundleSpec {
        gpu: &gpu,
        node_key: &key,
        seed: FIXTURE_SEED,
        chain_id: 31337,
        sequence: 42,
        receipts,
        index: 3,
        timestamp: NOW - 600,
        batch: Some((9, others, 2)),
        chain_status: Some(ChainStatus {
            batch_posted_at: NOW - 7200,
            challenge_window_secs: 3600,
            dispute: DisputeState::None,
        }),
    });
    let ok = out.join("gpu/ok");
    let read_text = |p: std::path::PathBuf| std::fs::read_to_string(p);
    b.evidence.rims = vec![
        read_text(ok.join("rims/driver.xml"))?,
        read_text(ok.join("rims/vbios.xml"))?,
    ];
    let mut ocsp: Vec<_> = std::fs::read_dir(ok.join("ocsp"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    ocsp.sort();
    b.evidence.ocsp = ocsp.iter().map(std::fs::read).collect::<Result<_, _>>()?;

    // The spot-check proof: one R = 4 unit of the 640 x 2048 matrix-vector circuit.
    let zk_case: serde_json::Value =
        serde_json::from_str(include_str!("../../../fixtures/zk/matvec_r4/case.json"))
            .map_err(std::io::Error::other)?;
    let public: Vec<String> =
        serde_json::from_str(include_str!("../../../fixtures/zk/matvec_r4/public.json"))
            .map_err(std::io::Error::other)?;
    let hex_field = |name: &str| {
        hex::decode(zk_case[name].as_str().unwrap_or_default()).map_err(std::io::Error::other)
    };
    let circuit_id: [u8; 32] = hex_field("key_id")?
        .try_into()
        .map_err(|_| std::io::Error::other("key_id is not 32 bytes"))?;
    let public_inputs: Vec<[u8; 32]> = public.iter().map(|s| decimal_be32(s)).collect();
    // The matrix root: one leaf, `blk.0.ffn_down.weight` with the proof's C_W.
    let matrix_leaf = crate::node::zkroot::leaf(MatVecFixture::MATRIX, &public_inputs[0]);
    let matrix_root = otr_core::rollup::merkle::root(&[matrix_leaf]);
    let statement = otr_zk::step::statement(
        &mv.leaves,
        1,
        0,
        &mv.x,
        &mv.y,
        4,
        MatVecFixture::MATRIX,
        (0, 1, Vec::new()),
    )
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    b.zk_proofs = vec![otr_core::rollup::ZkProof {
        circuit_id,
        proof: hex_field("proof_hex")?,
        public_inputs,
        statement: Some(statement),
    }];

    let d = out.join("bundles").join(FULL_CASE);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("bundle.json"), b.to_json() + "\n")?;
    std::fs::write(d.join("bundle.otrb"), b.encode())?;
    std::fs::copy(out.join("gpu/dev-root.pem"), d.join("dev-root.pem"))?;
    std::fs::copy(out.join("gpu/dev-rim-root.pem"), d.join("dev-rim-root.pem"))?;
    std::fs::write(
        d.join("verification_key.json"),
        include_str!("../../../fixtures/zk/matvec_r4/verification_key.json"),
    )?;
    let spec = json!({
        "description": "A1-shaped evidence (report, 5-certificate chain, driver and VBIOS RIMs, 6 GOOD OCSP answers), nonce = header hash, receipt and batch inclusion, final, one Groth16 spot-check proof bound to the receipt's trace by its statement",
        "matrix_root": hex::encode(matrix_root),
        "expected": "ok",
        "finality": "final",
        "time": FIXTURE_TIME,
        "policy": { "allow_dev_roots": true },
        "dev_roots": ["dev-root.pem", "dev-rim-root.pem"],
        "verifying_keys": ["verification_key.json"],
        "counts": {
            "chain_certificates": 5,
            "rims": b.evidence.rims.len(),
            "ocsp": b.evidence.ocsp.len(),
            "zk_proofs": b.zk_proofs.len(),
        },
        "made_by": "otr dev fixtures (prover-node/src/devattest/bundle_fixtures.rs generate_full), seed \"otr-fixtures-v1\"",
    });
    std::fs::write(
        d.join("spec.json"),
        serde_json::to_string_pretty(&spec)? + "\n",
    )?;
    std::fs::write(d.join("README.md"), FULL_README)?;
    rim_defects(&d.join("rim_defects"), &b.evidence.rims[0])?;
    // The same report with NVDEC0 status 0x00 (neither enabled nor disabled), signed by the dev
    // GPU over this bundle's header hash: it verifies, and the measurement check refuses it.
    let nvdec = build_report(
        &ReportSpec {
            nvdec0_status: 0x00,
            ..ReportSpec::new(FIXTURE_SEED, b.header.header_hash(), gpu.fwid)
        },
        gpu.attestation_key(),
    );
    std::fs::write(d.join("report_nvdec_0x00.hex"), hex::encode(nvdec) + "\n")?;
    Ok(())
}

/// `rim_defects/<name>.xml`: the bundle's driver RIM with one content defect each, re-signed by
/// the dev RIM signer (so the signature and digest verify and the defect itself is reported),
/// and `cases.json` naming the code each must give.
fn rim_defects(dir: &Path, driver: &str) -> std::io::Result<()> {
    use otr_core::rim::c14n::C14nVersion;
    let start = driver
        .find("<ds:Signature")
        .ok_or_else(|| std::io::Error::other("driver RIM has no signature"))?;
    let end = driver
        .find("</ds:Signature>")
        .ok_or_else(|| std::io::Error::other("driver RIM has no signature end"))?
        + "</ds:Signature>".len();
    let unsigned = format!(
        "{}{}{}",
        &driver[..start],
        super::rim::SIG_PLACEHOLDER,
        &driver[end..]
    );
    type Edit = fn(&str) -> String;
    let cases: Vec<(&str, &str, &str, Edit)> = vec![
        (
            "too_many_golden",
            "40 more active measurements (indices 100..=139) than the report has blocks",
            "MEASUREMENT_COUNT",
            |s| {
                let at = s.find("</ns0:Payload>").expect("payload end");
                let extra: String = (100..140)
                    .map(|i| {
                        format!(
                            "<ns0:Resource type=\"Measurement\" index=\"{i}\" active=\"True\" alternatives=\"1\" ns2:Hash0=\"{}\" name=\"Measurement_{i}\" size=\"48\"/>",
                            "ab".repeat(48)
                        )
                    })
                    .collect();
                format!("{}{extra}{}", &s[..at], &s[at..])
            },
        ),
        (
            "not_swid",
            "the root element is not SoftwareIdentity",
            "RIM_NOT_SWID",
            |s| {
                s.replacen("<SoftwareIdentity ", "<SoftwareInventory ", 1)
                    .replacen("</SoftwareIdentity>", "</SoftwareInventory>", 1)
            },
        ),
        (
            "no_payload",
            "no Payload element",
            "RIM_MISSING_ELEMENT",
            |s| {
                let a = s.find("<ns0:Payload>").expect("payload");
                let b = s.find("</ns0:Payload>").expect("payload end") + "</ns0:Payload>".len();
                format!("{}{}", &s[..a], &s[b..])
            },
        ),
        (
            "no_measurements",
            "a Payload without any Resource",
            "RIM_NO_MEASUREMENTS",
            |s| {
                let a = s.find("<ns0:Payload>").expect("payload") + "<ns0:Payload>".len();
                let b = s.find("</ns0:Payload>").expect("payload end");
                format!("{}{}", &s[..a], &s[b..])
            },
        ),
        (
            "hash_not_hex",
            "a golden hash with a non-hex digit",
            "RIM_BAD_HASH",
            |s| {
                let at = s.find("ns2:Hash0=\"").expect("a Hash0") + "ns2:Hash0=\"".len();
                format!("{}g{}", &s[..at], &s[at + 1..])
            },
        ),
        (
            "duplicate_index",
            "two resources with index 21",
            "RIM_DUPLICATE_INDEX",
            |s| s.replacen("index=\"22\"", "index=\"21\"", 1),
        ),
        (
            "alternatives",
            "alternatives=\"1\" with two hashes",
            "RIM_ALTERNATIVES_MISMATCH",
            |s| s.replacen(" ns2:Hash0=", " ns2:Hash1=\"00\" ns2:Hash0=", 1),
        ),
        (
            "index_not_a_number",
            "index=\"seven\"",
            "RIM_BAD_ATTRIBUTE",
            |s| s.replacen("index=\"7\"", "index=\"seven\"", 1),
        ),
        (
            "no_index",
            "a resource without index",
            "RIM_MISSING_ATTRIBUTE",
            |s| s.replacen("index=\"7\" ", "", 1),
        ),
        (
            "no_hash",
            "an active resource without a hash",
            "RIM_MISSING_HASH",
            |s| {
                let at = s.find(" ns2:Hash0=\"").expect("a Hash0");
                let len = s[at + 12..].find('"').expect("closing quote") + 13;
                format!("{}{}", &s[..at], &s[at + len..])
            },
        ),
    ];
    let ca = super::DevRimCa::generate(FIXTURE_SEED);
    std::fs::create_dir_all(dir)?;
    let mut index = serde_json::Map::new();
    for (name, description, code, edit) in cases {
        let edited = edit(&unsigned);
        assert_ne!(edited, unsigned, "{name}: the edit changed nothing");
        let signed =
            super::rim::sign_enveloped(&edited, &ca.ders(), ca.signer_key(), C14nVersion::V11);
        std::fs::write(dir.join(format!("{name}.xml")), signed)?;
        index.insert(
            name.into(),
            json!({ "description": description, "expected": code }),
        );
    }
    std::fs::write(
        dir.join("cases.json"),
        serde_json::to_string_pretty(&index)? + "\n",
    )?;
    Ok(())
}

const FULL_README: &str = "# full_a1_like: a full answer bundle of NVIDIA's A1 shape

One answer bundle with everything a client can be given, signed by the dev hierarchies (NOT
PRODUCTION: nothing here is signed by NVIDIA):

- GPU evidence of the shape of NVIDIA's A1 sample: the SPDM report (nonce = the micro-batch
  header hash), the 5-certificate device chain, the driver and VBIOS reference manifests
  (XML-DSig by the dev RIM signer, 4 certificates in each KeyInfo) and 6 GOOD OCSP answers
  (device chain certificates 1..=3, RIM chain certificates 0..=2), the same RIMs and answers as
  `fixtures/gpu/ok`;
- the node's secp256k1 signature over the header, the receipt's inclusion in the micro-batch
  and the header's inclusion in rollup batch 9, posted two hours before `time` with a 3600 s
  window (finality `final`);
- one real Groth16 spot-check proof in `zk_proofs` (`fixtures/zk/matvec_r4`: one R = 4 unit of
  the 640 x 2048 matrix-vector circuit, 4 public inputs), its circuit id the key id of
  `verification_key.json` (INSECURE test key).

No light-client section: `fixtures/bundles/stapled`'s proof is about another batch root.

`rim_defects/`: the bundle's driver RIM with one content defect each (`cases.json`: what and
the expected code), re-signed by the dev RIM signer, so signature and digest verify and the
defect itself is what the verifier reports; put in place of `evidence.rims[0]`.
`report_nvdec_0x00.hex`: the report with NVDEC0 status 0x00, signed by the dev GPU over this
bundle's header hash (expected `MEASUREMENT_NVDEC_STATUS`); put in place of `evidence.report`.

Files: `bundle.json` and `bundle.otrb` (the same bundle), `dev-root.pem` (device chain root),
`dev-rim-root.pem` (RIM chain root), `verification_key.json`, and `spec.json` (time, policy:
the strict default plus `allow_dev_roots`, both dev roots, the verifying key, expected verdict
and finality). It is `spec.json`, not `case.json`, because the generic bundle-case runners
trust one dev root and no verifying key; this bundle needs both roots and the key.

Made by `otr dev fixtures` (`generate_full` in prover-node/src/devattest/bundle_fixtures.rs,
seed `otr-fixtures-v1`); `scripts/check-fixtures.sh` regenerates it and fails if a byte differs.
Checked by `verifier-wasm/tests/api.rs` (natively), `npm/test/full.test.mjs` (verified, and
tampered copies rejected), the web demo's browser test (the proof tamper switch) and measured
by `scripts/bench-wasm.mjs --only full`.
";

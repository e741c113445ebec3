//! The answer bundle a client receives with each answer (`docs/PROTOCOL.md` §2.3 and §6).
//!
//! Binary form: magic `OTRB`, a version byte, then the fields in declaration order in the
//! canonical encoding of [`super::codec`]. JSON form: serde, with hashes and signatures as
//! `0x` hex, binary blobs (report, OCSP answers, ZK proofs) as base64, text as JSON strings.
//! Both forms pass through the one bounded decoder, so they accept exactly the same bundles.
//!
//! The light-client section (`chain_proof`, [`crate::chain::ChainProof`]) came after version 1
//! was in use: it is the last field, written only when present (binary: tag `0x01` and the
//! section after the ZK proofs; JSON: the key is left out when absent), so bundles without it
//! encode exactly as before and older bundles decode unchanged. Any other byte there is
//! refused as trailing bytes (absence has one encoding: no bytes).
//!
//! The statements of spot-check proofs ([`ZkStatement`]: the trace bytes a proof is about) came
//! later still: binary, tag `0x02` after the light-client section (or after the ZK proofs when
//! that is absent) and, for each ZK proof in order, an option tag and its statement; written only
//! when some proof has one. JSON: a `statement` key in the proof, left out when absent.
//!
//! The opened `PROMPT` leaf ([`PromptOpening`]) came last: binary, tag `0x03` after all of the
//! above, written only when present; JSON: a `prompt` key, left out when absent.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::codec::{Reader, Writer};
use super::finality::ChainStatus;
use super::header::{HeaderSignature, MicroBatchHeader};
use super::merkle::MAX_DEPTH;
use super::receipt::Receipt;
use super::serde_forms::{base64_bytes, base64_vec, hex_array, hex_hash_vec};
use super::Hash;
use crate::chain::ChainProof;

pub use super::bundle_error::BundleError;

/// The bundle magic, ASCII `OTRB`.
pub const BUNDLE_MAGIC: [u8; 4] = *b"OTRB";
/// The only bundle version this code reads and writes.
pub const BUNDLE_VERSION: u8 = 1;

/// Caps on every size and count in a bundle. [`BundleLimits::PROTOCOL`] is what every
/// conforming node emits and every verifier accepts; hosts may only tighten it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleLimits {
    pub max_total: usize,
    pub max_report: usize,
    pub max_cert_chain: usize,
    pub max_rims: usize,
    pub max_rim: usize,
    pub max_ocsp: usize,
    pub max_ocsp_len: usize,
    pub max_arch: usize,
    pub max_zk_proofs: usize,
    pub max_zk_proof: usize,
    pub max_public_inputs: usize,
    /// The most bytes of one tensor in a ZK statement (a step's input or whole output).
    pub max_zk_tensor: usize,
    /// The most bytes of the opened `PROMPT` leaf's output (its text and token ids).
    pub max_prompt: usize,
}

impl BundleLimits {
    pub const PROTOCOL: BundleLimits = BundleLimits {
        max_total: 4 * 1024 * 1024,
        max_report: 64 * 1024,
        max_cert_chain: 64 * 1024,
        max_rims: 8,
        max_rim: 512 * 1024,
        max_ocsp: 16,
        max_ocsp_len: 16 * 1024,
        max_arch: 32,
        max_zk_proofs: 16,
        max_zk_proof: 4096,
        max_public_inputs: crate::zk::MAX_PUBLIC_INPUTS,
        max_zk_tensor: 256 * 1024,
        max_prompt: 1024 * 1024,
    };
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self::PROTOCOL
    }
}

/// The receipt's audit path in its micro-batch (tree size: `header.receipt_count`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptProof {
    pub leaf_index: u32,
    #[serde(with = "hex_hash_vec")]
    pub path: Vec<Hash>,
}

/// The GPU evidence whose nonce is the header hash. Checked by the attestation stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuEvidence {
    /// The raw SPDM GET_MEASUREMENTS request + response bytes.
    #[serde(with = "base64_bytes")]
    pub report: Vec<u8>,
    /// The device certificate chain as concatenated PEM text.
    pub cert_chain_pem: String,
    /// Reference integrity manifests (SWID XML documents), driver and VBIOS.
    pub rims: Vec<String>,
    /// Stapled OCSP responses (DER).
    #[serde(with = "base64_vec")]
    pub ocsp: Vec<Vec<u8>>,
    /// GPU architecture name, e.g. `HOPPER`.
    pub arch: String,
}

/// Where the header sits in a posted rollup batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupInclusion {
    /// The batch's index in the settlement contract.
    pub batch_index: u64,
    /// RFC 6962 root over the header hashes of the batch, as posted on-chain.
    #[serde(with = "hex_array")]
    pub batch_root: Hash,
    /// Number of headers in the batch.
    pub batch_size: u32,
    pub header_index: u32,
    #[serde(with = "hex_hash_vec")]
    pub path: Vec<Hash>,
}

/// A zero-knowledge spot-check proof carried with the answer (verified by [`crate::zk`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZkProof {
    /// Which circuit (and so which verifying key) the proof is for.
    #[serde(with = "hex_array")]
    pub circuit_id: Hash,
    /// The proof bytes (arkworks compressed form, `docs/PROTOCOL.md` §7).
    #[serde(with = "base64_bytes")]
    pub proof: Vec<u8>,
    /// Public inputs: BN254 scalars, 32-byte big-endian each.
    #[serde(with = "hex_hash_vec")]
    pub public_inputs: Vec<[u8; 32]>,
    /// What the proof is about, in the receipt's own trace: lets a client bind the proof to
    /// this answer (`docs/PROTOCOL.md` §7.8). Absent on older bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<ZkStatement>,
}

/// One trace leaf with its audit path in the receipt's trace (`trace_root`, `trace_steps`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceOpening {
    pub index: u64,
    /// The 57-byte leaf: tag, `u32be pos`, `u16be stage`, `u8 op`, SHA-256 of the output.
    #[serde(with = "base64_bytes")]
    pub leaf: Vec<u8>,
    #[serde(with = "hex_hash_vec")]
    pub path: Vec<Hash>,
}

/// The statement of a matrix-vector unit proof, in the receipt's trace: the proved step and its
/// input step (leaves opened in `trace_root`), their tensors (whose SHA-256 are the leaves'
/// digests, from which the client recomputes the proof's `C_x` and `C_y`), the rows per unit,
/// and the matrix with its commitment's opening in the model's matrix root (the registry's
/// `poseidonRoot`), against which the proof's `C_W` is checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZkStatement {
    pub step: TraceOpening,
    pub input: TraceOpening,
    /// The input vector (`Act16` bytes: `i32le exp || i16le q[..]`).
    #[serde(with = "base64_bytes")]
    pub x: Vec<u8>,
    /// The step's whole output (`i64le` per row).
    #[serde(with = "base64_bytes")]
    pub y: Vec<u8>,
    pub unit_rows: u32,
    /// The converted-weights name of the matrix, e.g. `blk.3.ffn_down.weight`.
    pub matrix: String,
    pub matrix_index: u64,
    pub matrix_size: u64,
    #[serde(with = "hex_hash_vec")]
    pub matrix_path: Vec<Hash>,
}

/// Tag of the ZK statements section in the binary form.
const STATEMENTS_TAG: u8 = 2;
/// Tag of the opened `PROMPT` leaf, after the statements (or whatever came before them).
const PROMPT_TAG: u8 = 3;
/// The longest matrix name accepted.
pub const MAX_MATRIX_NAME: usize = 128;

fn write_opening(w: &mut Writer, o: &TraceOpening) {
    w.u64(o.index).bytes(&o.leaf);
    write_path(w, &o.path);
}

fn read_opening(r: &mut Reader<'_>) -> Result<TraceOpening, BundleError> {
    Ok(TraceOpening {
        index: r.u64("ZK statement leaf index")?,
        leaf: r.bytes(64, "ZK statement leaf")?.to_vec(),
        path: read_path(r, "ZK statement leaf path")?,
    })
}

impl ZkStatement {
    fn write(&self, w: &mut Writer) {
        write_opening(w, &self.step);
        write_opening(w, &self.input);
        w.bytes(&self.x)
            .bytes(&self.y)
            .u32(self.unit_rows)
            .str(&self.matrix)
            .u64(self.matrix_index)
            .u64(self.matrix_size);
        write_path(w, &self.matrix_path);
    }

    fn read(r: &mut Reader<'_>, limits: &BundleLimits) -> Result<Self, BundleError> {
        Ok(ZkStatement {
            step: read_opening(r)?,
            input: read_opening(r)?,
            x: r.bytes(limits.max_zk_tensor, "ZK statement input")?
                .to_vec(),
            y: r.bytes(limits.max_zk_tensor, "ZK statement output")?
                .to_vec(),
            unit_rows: r.u32("ZK statement rows per unit")?,
            matrix: r
                .str(MAX_MATRIX_NAME, "ZK statement matrix name")?
                .to_string(),
            matrix_index: r.u64("ZK statement matrix index")?,
            matrix_size: r.u64("ZK statement matrix count")?,
            matrix_path: read_path(r, "ZK statement matrix path")?,
        })
    }
}

/// Everything a client needs to check one answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBundle {
    /// [`BUNDLE_VERSION`].
    pub version: u8,
    pub receipt: Receipt,
    pub header: MicroBatchHeader,
    pub header_signature: HeaderSignature,
    pub receipt_proof: ReceiptProof,
    pub evidence: GpuEvidence,
    /// Present once the header's batch is posted on-chain.
    pub rollup: Option<RollupInclusion>,
    /// The chain status the node saw; present only with `rollup`.
    pub chain_status: Option<ChainStatus>,
    #[serde(default)]
    pub zk_proofs: Vec<ZkProof>,
    /// Light-client evidence for `rollup` and `chain_status` (nodes on RPC chains staple it);
    /// present only with `rollup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_proof: Option<ChainProof>,
    /// The trace's `PROMPT` leaf opened: what a client compares with the prompt it sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptOpening>,
}

/// Leaf 0 of the receipt's trace opened: the `PROMPT` step's output (`u32le(len(text)) || text
/// || ids`, ids u32le) and the leaf's RFC 6962 audit path in the trace (`trace_steps` leaves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptOpening {
    #[serde(with = "base64_bytes")]
    pub prompt: Vec<u8>,
    #[serde(with = "hex_hash_vec")]
    pub path: Vec<Hash>,
}

fn write_path(w: &mut Writer, path: &[Hash]) {
    w.count(path.len());
    for h in path {
        w.array(h);
    }
}

fn read_path(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<Hash>, BundleError> {
    let n = r.count(MAX_DEPTH, what)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.array(what)?);
    }
    Ok(out)
}

impl AnswerBundle {
    /// The canonical binary encoding. Does not check limits: see [`AnswerBundle::encode_checked`].
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.array(&BUNDLE_MAGIC).u8(self.version);
        self.receipt.write(&mut w);
        self.header.write(&mut w);
        w.array(&self.header_signature.0);
        w.u32(self.receipt_proof.leaf_index);
        write_path(&mut w, &self.receipt_proof.path);
        let ev = &self.evidence;
        w.bytes(&ev.report)
            .str(&ev.cert_chain_pem)
            .count(ev.rims.len());
        for rim in &ev.rims {
            w.str(rim);
        }
        w.count(ev.ocsp.len());
        for o in &ev.ocsp {
            w.bytes(o);
        }
        w.str(&ev.arch);
        w.option_tag(self.rollup.is_some());
        if let Some(ri) = &self.rollup {
            w.u64(ri.batch_index)
                .array(&ri.batch_root)
                .u32(ri.batch_size)
                .u32(ri.header_index);
            write_path(&mut w, &ri.path);
        }
        w.option_tag(self.chain_status.is_some());
        if let Some(cs) = &self.chain_status {
            cs.write(&mut w);
        }
        w.count(self.zk_proofs.len());
        for p in &self.zk_proofs {
            w.array(&p.circuit_id)
                .bytes(&p.proof)
                .count(p.public_inputs.len());
            for x in &p.public_inputs {
                w.array(x);
            }
        }
        if let Some(cp) = &self.chain_proof {
            w.option_tag(true);
            cp.write(&mut w);
        }
        if self.zk_proofs.iter().any(|p| p.statement.is_some()) {
            w.u8(STATEMENTS_TAG);
            for p in &self.zk_proofs {
                w.option_tag(p.statement.is_some());
                if let Some(st) = &p.statement {
                    st.write(&mut w);
                }
            }
        }
        if let Some(p) = &self.prompt {
            w.u8(PROMPT_TAG).bytes(&p.prompt);
            write_path(&mut w, &p.path);
        }
        w.into_bytes()
    }

    /// Encodes and checks the result against the protocol limits, so a node never emits a
    /// bundle that verifiers reject.
    pub fn encode_checked(&self) -> Result<Vec<u8>, BundleError> {
        let bytes = self.encode();
        Self::decode(&bytes)?;
        Ok(bytes)
    }

    /// Decodes the binary form under [`BundleLimits::PROTOCOL`].
    pub fn decode(bytes: &[u8]) -> Result<Self, BundleError> {
        Self::decode_with_limits(bytes, &BundleLimits::PROTOCOL)
    }

    /// Decodes the binary form. Every length and count is checked before use; every error
    /// carries the byte offset where it was found.
    pub fn decode_with_limits(bytes: &[u8], limits: &BundleLimits) -> Result<Self, BundleError> {
        if bytes.len() > limits.max_total {
            return Err(BundleError::TooLarge {
                size: bytes.len(),
                max: limits.max_total,
            });
        }
        let mut r = Reader::new(bytes);
        let magic = r.array::<4>("bundle magic")?;
        if magic != BUNDLE_MAGIC {
            return Err(BundleError::BadMagic { got: magic });
        }
        let version = r.u8("bundle version")?;
        if version != BUNDLE_VERSION {
            return Err(BundleError::UnsupportedVersion {
                offset: 4,
                got: version,
                expected: BUNDLE_VERSION,
            });
        }
        let receipt = Receipt::read(&mut r)?;
        let header = MicroBatchHeader::read(&mut r)?;
        let header_signature = HeaderSignature(r.array("header signature")?);
        let receipt_proof = ReceiptProof {
            leaf_index: r.u32("receipt leaf index")?,
            path: read_path(&mut r, "receipt inclusion path")?,
        };
        let report = r.bytes(limits.max_report, "GPU report")?.to_vec();
        let cert_chain_pem = r
            .str(limits.max_cert_chain, "certificate chain")?
            .to_string();
        let n = r.count(limits.max_rims, "RIM list")?;
        let mut rims = Vec::with_capacity(n);
        for _ in 0..n {
            rims.push(r.str(limits.max_rim, "RIM document")?.to_string());
        }
        let n = r.count(limits.max_ocsp, "OCSP list")?;
        let mut ocsp = Vec::with_capacity(n);
        for _ in 0..n {
            ocsp.push(r.bytes(limits.max_ocsp_len, "OCSP response")?.to_vec());
        }
        let arch = r.str(limits.max_arch, "GPU arch")?.to_string();
        let rollup = if r.option_tag("rollup section tag")? {
            Some(RollupInclusion {
                batch_index: r.u64("batch index")?,
                batch_root: r.array("batch root")?,
                batch_size: r.u32("batch size")?,
                header_index: r.u32("header index")?,
                path: read_path(&mut r, "batch inclusion path")?,
            })
        } else {
            None
        };
        let status_offset = r.offset();
        let chain_status = if r.option_tag("chain status tag")? {
            if rollup.is_none() {
                return Err(BundleError::ChainStatusWithoutRollup {
                    offset: status_offset,
                });
            }
            Some(ChainStatus::read(&mut r)?)
        } else {
            None
        };
        let n = r.count(limits.max_zk_proofs, "ZK proof list")?;
        let mut zk_proofs = Vec::with_capacity(n);
        for _ in 0..n {
            let circuit_id = r.array("ZK circuit id")?;
            let proof = r.bytes(limits.max_zk_proof, "ZK proof")?.to_vec();
            let m = r.count(limits.max_public_inputs, "ZK public inputs")?;
            let mut public_inputs = Vec::with_capacity(m);
            for _ in 0..m {
                public_inputs.push(r.array("ZK public input")?);
            }
            zk_proofs.push(ZkProof {
                circuit_id,
                proof,
                public_inputs,
                statement: None,
            });
        }
        // The light-client section: present only as tag 0x01 and the section; anything else
        // after the ZK proofs is trailing bytes (absence is written as no bytes).
        let proof_offset = r.offset();
        let chain_proof = if bytes.get(proof_offset) == Some(&1) {
            r.option_tag("chain proof tag")?;
            if rollup.is_none() {
                return Err(BundleError::ChainStatusWithoutRollup {
                    offset: proof_offset,
                });
            }
            Some(ChainProof::read(&mut r)?)
        } else {
            None
        };
        if bytes.get(r.offset()) == Some(&STATEMENTS_TAG) && !zk_proofs.is_empty() {
            r.u8("ZK statements tag")?;
            for p in zk_proofs.iter_mut() {
                if r.option_tag("ZK statement tag")? {
                    p.statement = Some(ZkStatement::read(&mut r, limits)?);
                }
            }
        }
        let prompt = if bytes.get(r.offset()) == Some(&PROMPT_TAG) {
            r.u8("PROMPT leaf tag")?;
            Some(PromptOpening {
                prompt: r.bytes(limits.max_prompt, "PROMPT leaf output")?.to_vec(),
                path: read_path(&mut r, "PROMPT leaf path")?,
            })
        } else {
            None
        };
        r.finish()?;
        Ok(AnswerBundle {
            version,
            receipt,
            header,
            header_signature,
            receipt_proof,
            evidence: GpuEvidence {
                report,
                cert_chain_pem,
                rims,
                ocsp,
                arch,
            },
            rollup,
            chain_status,
            zk_proofs,
            chain_proof,
            prompt,
        })
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the JSON form (at most `2 * max_total` bytes of text), then applies every check
    /// of the binary decoder to its canonical encoding. Offsets in limit errors therefore
    /// refer to the canonical binary encoding of the parsed bundle.
    pub fn from_json(text: &str) -> Result<Self, BundleError> {
        Self::from_json_with_limits(text, &BundleLimits::PROTOCOL)
    }

    pub fn from_json_with_limits(text: &str, limits: &BundleLimits) -> Result<Self, BundleError> {
        let max_text = limits.max_total.saturating_mul(2);
        if text.len() > max_text {
            return Err(BundleError::TooLarge {
                size: text.len(),
                max: max_text,
            });
        }
        let bundle: AnswerBundle =
            serde_json::from_str(text).map_err(|e| BundleError::Json(e.to_string()))?;
        Self::decode_with_limits(&bundle.encode(), limits)
    }
}

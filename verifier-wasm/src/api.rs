//! The four calls, over plain Rust values: input conversions, then one call into `otr-core`.
//! No verification logic lives here; `lib.rs` only moves values across the JavaScript boundary.

use otr_core::attestation::gpu::{verify_gpu, GpuClaims, GpuEvidence};
use otr_core::attestation::policy::Anchor;
use otr_core::attestation::{Policy, TrustAnchors};
use otr_core::crypto::SignatureVerifier;
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::rollup::merkle;
use otr_core::rollup::{AnswerBundle, BundleError, Hash, InclusionError};
use otr_core::verify::{VerifiedBundle, VerifyError, VerifyOptions};
use otr_core::x509::{Certificate, ChainError};
use otr_core::zk::{snarkjs, PreparedVk};
use otr_core::UnixTime;

use crate::failure::{Failure, InputError};

/// Everything a verification takes besides the evidence: the JavaScript options, converted.
#[derive(Debug)]
pub struct Settings {
    pub time: UnixTime,
    pub policy: Policy,
    pub anchors: TrustAnchors,
    pub verifying_keys: Vec<PreparedVk>,
    pub expected_request_hash: Option<Hash>,
    pub expected_weights_root: Option<Hash>,
    /// The sampling temperature the client asked for (thousandths; 0 = greedy).
    pub expected_temperature_milli: Option<u32>,
    /// The prompt the client sent, as the node runs it (chat template applied): compared with
    /// the text of the trace's `PROMPT` leaf the bundle opens.
    pub expected_prompt: Option<Vec<u8>>,
    /// The model's matrix root (registry `poseidonRoot`): every proof must be bound to it.
    pub expected_matrix_root: Option<Hash>,
    /// The checkpoint (and contract facts) the stapled light-client section is checked against.
    pub chain_trust: Option<otr_core::chain::ChainTrust>,
}

impl Settings {
    /// Strict policy, NVIDIA's roots, no keys: what the options default to besides the time.
    pub fn new(time: UnixTime) -> Self {
        Settings {
            time,
            policy: Policy::default(),
            anchors: TrustAnchors::nvidia(),
            verifying_keys: Vec::new(),
            expected_request_hash: None,
            expected_weights_root: None,
            expected_temperature_milli: None,
            expected_prompt: None,
            expected_matrix_root: None,
            chain_trust: None,
        }
    }
}

/// Unix seconds (a JavaScript number; fractions are dropped).
pub fn time_from_seconds(secs: f64) -> Result<UnixTime, InputError> {
    // 253402300799 = 9999-12-31T23:59:59Z; negative times are before 1970 and never valid here.
    if !secs.is_finite() || !(0.0..=253_402_300_799.0).contains(&secs) {
        return Err(InputError::Time(format!(
            "{secs} is not a time in Unix seconds between 1970 and 9999"
        )));
    }
    Ok(UnixTime(secs.floor() as i64))
}

/// An RFC 3339 timestamp such as `2025-06-01T00:00:00Z`.
pub fn time_from_text(text: &str) -> Result<UnixTime, InputError> {
    UnixTime::parse_rfc3339(text).map_err(|e| InputError::Time(format!("{text:?}: {e}")))
}

/// 32 bytes from hex text (optional `0x`, whitespace ignored).
pub fn hash_from_text(text: &str, what: &'static str) -> Result<Hash, InputError> {
    hex_decode_lenient(text.as_bytes())
        .and_then(|b| Hash::try_from(b).ok())
        .ok_or(InputError::Hash { what })
}

/// 32 bytes given as bytes.
pub fn hash_from_bytes(bytes: &[u8], what: &'static str) -> Result<Hash, InputError> {
    Hash::try_from(bytes).map_err(|_| InputError::Hash { what })
}

/// Every certificate of PEM text, as anchors.
fn anchors_from_pem(pem: &str, what: &'static str, dev: bool) -> Result<Vec<Anchor>, InputError> {
    let ders = pem_certificates(pem.as_bytes()).map_err(|e| InputError::Anchor {
        what,
        reason: format!("malformed PEM block at byte {}", e.offset),
    })?;
    if ders.is_empty() {
        return Err(InputError::Anchor {
            what,
            reason: "no PEM certificate found".into(),
        });
    }
    ders.iter()
        .map(|der| {
            Certificate::from_der(der)
                .map(|cert| Anchor { cert, dev })
                .map_err(|e| InputError::Anchor {
                    what,
                    reason: format!("{} at byte {}", e.reason, e.offset),
                })
        })
        .collect()
}

/// NVIDIA's roots unless replaced; development roots added to both chains, marked `dev`.
pub fn trust_anchors(
    device_roots: Option<&[String]>,
    rim_roots: Option<&[String]>,
    dev_roots: &[String],
) -> Result<TrustAnchors, InputError> {
    let mut anchors = TrustAnchors::nvidia();
    if let Some(pems) = device_roots {
        anchors.device = Vec::new();
        for p in pems {
            anchors
                .device
                .extend(anchors_from_pem(p, "trustAnchors.deviceRoots", false)?);
        }
    }
    if let Some(pems) = rim_roots {
        anchors.rim = Vec::new();
        for p in pems {
            anchors
                .rim
                .extend(anchors_from_pem(p, "trustAnchors.rimRoots", false)?);
        }
    }
    for p in dev_roots {
        for a in anchors_from_pem(p, "trustAnchors.devRoots", true)? {
            anchors = anchors.with_dev_root(a.cert);
        }
    }
    Ok(anchors)
}

/// Verifying keys already parsed and prepared (`PreparedVk`: checked points, precomputed
/// pairing lines), by SHA-256 of their snarkjs JSON text, so that a key is prepared once per
/// module rather than once per call. Bounded: cleared when full.
#[derive(Debug)]
pub struct VkCache {
    keys: std::cell::RefCell<std::collections::BTreeMap<[u8; 32], PreparedVk>>,
    capacity: usize,
}

impl VkCache {
    pub fn new(capacity: usize) -> Self {
        VkCache {
            keys: Default::default(),
            capacity,
        }
    }

    /// The prepared key of a snarkjs `verification_key.json`.
    pub fn get(&self, json: &str) -> Result<PreparedVk, Failure> {
        let id = otr_core::crypto::sha256(json.as_bytes());
        if let Some(vk) = self.keys.borrow().get(&id) {
            return Ok(vk.clone());
        }
        let vk = snarkjs::parse_vk(json)?;
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= self.capacity {
            keys.clear();
        }
        keys.insert(id, vk.clone());
        Ok(vk)
    }

    pub fn clear(&self) {
        self.keys.borrow_mut().clear();
    }
}

/// A report as NVIDIA's tools write it: raw bytes (starting 0x11, SPDM 1.1) or hex text.
pub fn report_bytes(bytes: &[u8]) -> Result<Vec<u8>, InputError> {
    if bytes.first() == Some(&0x11) {
        return Ok(bytes.to_vec());
    }
    hex_decode_lenient(bytes).ok_or(InputError::ReportEncoding)
}

/// Reads a bundle in either form: JSON text (first non-space byte `{`) or binary `OTRB`.
pub fn read_bundle(bytes: &[u8]) -> Result<AnswerBundle, BundleError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if bytes.get(start) == Some(&b'{') {
        let text = core::str::from_utf8(&bytes[start..])
            .map_err(|e| BundleError::Json(format!("not UTF-8: {e}")))?;
        AnswerBundle::from_json(text)
    } else {
        AnswerBundle::decode(bytes)
    }
}

/// `otr_core::verify::verify_bundle` with these settings.
pub fn verify_bundle(
    bundle: &AnswerBundle,
    s: &Settings,
    verifier: &dyn SignatureVerifier,
) -> Result<VerifiedBundle, VerifyError> {
    let keyed: Vec<(Hash, &PreparedVk)> =
        s.verifying_keys.iter().map(|v| (v.key_id(), v)).collect();
    let opts = VerifyOptions {
        time: s.time,
        policy: &s.policy,
        anchors: &s.anchors,
        verifier,
        verifying_keys: &keyed,
        expected_request_hash: s.expected_request_hash,
        expected_weights_root: s.expected_weights_root,
        expected_temperature_milli: s.expected_temperature_milli,
        expected_prompt: s.expected_prompt.as_deref(),
    };
    let v = otr_core::verify::verify_bundle_with_chain(bundle, &opts, s.chain_trust.as_ref())?;
    if let Some(root) = &s.expected_matrix_root {
        otr_core::verify::require_matrix_root(&v.proofs, root)?;
    }
    Ok(v)
}

/// A light-client section from its JSON form, through its binary codec (so the same caps apply
/// as inside a bundle).
pub fn read_chain_proof(text: &str) -> Result<otr_core::chain::ChainProof, BundleError> {
    if text.len() > 4 * 1024 * 1024 {
        return Err(BundleError::TooLarge {
            size: text.len(),
            max: 4 * 1024 * 1024,
        });
    }
    let parsed: otr_core::chain::ChainProof =
        serde_json::from_str(text).map_err(|e| BundleError::Json(e.to_string()))?;
    let mut w = otr_core::rollup::codec::Writer::new();
    parsed.write(&mut w);
    let bytes = w.into_bytes();
    let mut r = otr_core::rollup::codec::Reader::new(&bytes);
    let proof = otr_core::chain::ChainProof::read(&mut r)?;
    r.finish()?;
    Ok(proof)
}

/// A 20-byte address: 40 hex digits (optional `0x`) or 20 bytes.
pub fn address_from_text(text: &str, what: &'static str) -> Result<[u8; 20], InputError> {
    hex_decode_lenient(text.as_bytes())
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .ok_or(InputError::Address { what })
}

/// One GPU's evidence as the caller holds it.
#[derive(Debug, Default)]
pub struct GpuInput {
    /// Raw or hex report bytes.
    pub report: Vec<u8>,
    /// PEM chain, leaf first.
    pub chain_pem: Vec<u8>,
    pub rims: Vec<Vec<u8>>,
    /// DER or base64 OCSP answers.
    pub ocsp: Vec<Vec<u8>>,
    pub nonce: Option<Hash>,
}

/// `otr_core::attestation::gpu::verify_gpu` with these settings.
pub fn verify_gpu_evidence(
    input: &GpuInput,
    s: &Settings,
    verifier: &dyn SignatureVerifier,
) -> Result<GpuClaims, Failure> {
    let report = report_bytes(&input.report)?;
    // The same error the bundle path reports for a malformed chain.
    let chain = pem_certificates(&input.chain_pem).map_err(|e| {
        otr_core::attestation::gpu::GpuError::Evidence(ChainError::Pem { offset: e.offset }.into())
    })?;
    let ev = GpuEvidence {
        report: &report,
        chain: &chain,
        rims: &input.rims,
        ocsp: &input.ocsp,
    };
    let verified = verify_gpu(
        &ev,
        input.nonce.as_ref(),
        s.time,
        &s.policy,
        &s.anchors,
        verifier,
    )?;
    Ok(verified.claims)
}

/// What a verified inclusion proof proved.
#[derive(Debug, serde::Serialize)]
pub struct InclusionClaims {
    /// `SHA-256(0x00 || leaf)`.
    pub leaf_hash: String,
    pub index: u64,
    pub size: u64,
    pub root: String,
}

/// RFC 6962 inclusion of the leaf data `leaf` at `index` in the tree of `size` leaves with root
/// `root` (`otr_core::rollup::merkle::verify_inclusion`).
pub fn verify_inclusion(
    leaf: &[u8],
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<InclusionClaims, InclusionError> {
    merkle::verify_inclusion(leaf, index, size, path, root)?;
    Ok(InclusionClaims {
        leaf_hash: hex::encode(merkle::leaf_hash(leaf)),
        index,
        size,
        root: hex::encode(root),
    })
}

/// What a verified Groth16 proof proved.
#[derive(Debug, serde::Serialize)]
pub struct ProofClaims {
    /// `PreparedVk::key_id`: the circuit id a bundle names this key by.
    pub key_id: String,
    /// The public inputs, decimal (snarkjs `public.json` form).
    pub public_inputs: Vec<String>,
}

/// A Groth16 proof in snarkjs JSON forms, against a prepared key.
pub fn verify_proof(
    vk: &PreparedVk,
    proof: &str,
    public_inputs: &str,
) -> Result<ProofClaims, Failure> {
    let proof = snarkjs::parse_proof(proof)?;
    let inputs = snarkjs::parse_public_inputs(public_inputs)?;
    let verified = vk.verify(&proof, &inputs)?;
    Ok(ProofClaims {
        key_id: hex::encode(verified.key_id),
        public_inputs: verified
            .public_inputs
            .iter()
            .map(|x| x.to_string())
            .collect(),
    })
}

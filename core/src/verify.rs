//! Verification of a whole answer bundle: the one call the browser, wallets and the node make.
//!
//! Order: decode (done by the caller, with budgets) -> structure (node signature over the
//! micro-batch header, receipt inclusion, rollup inclusion) -> GPU evidence with the header hash
//! as the required nonce (so the GPU signed over the receipts) -> optional client checks
//! (request hash, model) -> ZK spot-check proofs against the caller's verifying keys -> the
//! stapled light-client section (`chain_proof`), when the caller trusts a checkpoint ->
//! finality (from the proven chain status when the section was verified, evaluated at the
//! earlier of the caller's time and the proven block's time: "final" needs a proven block past
//! the window's end, since a dispute opened after the proven block is not in the proof).
//!
//! [`verify_bundle`] trusts no checkpoint: a stapled section is reported as
//! [`ChainCheck::Unverified`], never silently accepted. [`verify_bundle_with_chain`] checks it
//! against a [`ChainTrust`] and reports the proven [`VerifiedChainClaims`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::attestation::gpu::{verify_gpu, GpuClaims, GpuError, GpuEvidence as GpuInput};
use crate::attestation::{Policy, TrustAnchors};
use crate::chain::{ChainTrust, LightError, VerifiedChainClaims};
use crate::crypto::SignatureVerifier;
use crate::encoding::pem_certificates;
use crate::error::{ErrorCode, GotExpected, Stage};
use crate::rollup::finality::{
    evaluate_finality, DisputeState, Finality, FinalityError, FinalityInputs,
};
use crate::rollup::{
    verify_bundle_structure, AnswerBundle, BundleError, Hash, Receipt, VerifiedStructure,
};
use crate::time::UnixTime;
use crate::zk::{PreparedVk, ProofError};

/// Everything a bundle verification needs besides the bundle. No defaults live here: the
/// outer layers (CLI, WASM) choose them.
pub struct VerifyOptions<'a> {
    pub time: UnixTime,
    pub policy: &'a Policy,
    pub anchors: &'a TrustAnchors,
    pub verifier: &'a dyn SignatureVerifier,
    /// Verifying keys of the spot-check circuits, by circuit id. A proof for another circuit is
    /// an error.
    pub verifying_keys: &'a [(Hash, &'a PreparedVk)],
    /// The client's own request hash (it knows its nonce and body); checked when given.
    pub expected_request_hash: Option<Hash>,
    /// The model the client paid for (weights root); checked when given.
    pub expected_weights_root: Option<Hash>,
    /// The sampling temperature the client asked for (thousandths; 0 = greedy), checked against
    /// the receipt's when given. The receipt's temperature decides how a dispute over a token
    /// is settled (a greedy one is refuted with a larger logit, a sampled one has no contest),
    /// so a node that answered greedily must not record another.
    pub expected_temperature_milli: Option<u32>,
    /// The prompt the client sent, as the node runs it (chat template applied): compared with
    /// the text of the trace's `PROMPT` leaf the bundle opens. The chain makes the leaf's tokens
    /// answer for that text (`PromptStepVerifier`); only the client knows its prompt.
    pub expected_prompt: Option<&'a [u8]>,
}

impl fmt::Debug for VerifyOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("time", &self.time)
            .field("policy", &self.policy)
            .finish()
    }
}

/// One spot-check proof that verified.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProofClaim {
    pub circuit_id: String,
    pub public_inputs: usize,
    /// What the proof is about in this receipt's trace, when the bundle carries its statement
    /// ([`crate::zk::statement`]); `None` (left out of the JSON): the proof is valid but not
    /// bound to this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<crate::zk::statement::BoundClaim>,
}

/// What a verified bundle proves.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct VerifiedBundle {
    pub receipt: Receipt,
    pub structure: VerifiedStructure,
    pub gpu: GpuClaims,
    pub proofs: Vec<ProofClaim>,
    pub finality: Finality,
    /// True when the request hash was compared with the client's.
    pub request_verified: bool,
    /// True when the weights root was compared with the client's.
    pub model_verified: bool,
    /// True when the sampling temperature was compared with the client's.
    pub sampling_verified: bool,
    /// The text of the trace's `PROMPT` leaf, when the bundle opens it (UTF-8, invalid bytes
    /// replaced), and its token count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptClaim>,
    /// True when that text was compared with the client's prompt.
    pub prompt_verified: bool,
    /// What became of the light-client section.
    pub chain: ChainCheck,
}

/// The trace's `PROMPT` leaf, opened by the bundle and checked against the receipt's trace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PromptClaim {
    pub text: String,
    pub tokens: u32,
}

/// Checks the bundle's opening of the trace's `PROMPT` leaf: leaf 0 of the receipt's trace,
/// its output `u32le(len(text)) || text || ids` with `prompt_tokens` ids.
/// Returns the claim and the text's bytes.
pub fn check_prompt_opening<'o>(
    receipt: &Receipt,
    o: &'o crate::rollup::PromptOpening,
) -> Result<(PromptClaim, &'o [u8]), VerifyError> {
    use crate::zk::statement::{leaf_bytes, LeafKey};
    use sha2::{Digest, Sha256};
    let bad = |m: String| VerifyError::PromptOpening(m);
    let (text, ids) = crate::prompt::prompt_parts(&o.prompt)
        .ok_or_else(|| bad("not `u32le(len(text)) || text || ids`".into()))?;
    if ids.len() as u64 != u64::from(receipt.prompt_tokens) {
        return Err(bad(alloc::format!(
            "{} token ids for {} prompt tokens",
            ids.len(),
            receipt.prompt_tokens
        )));
    }
    let key = LeafKey {
        pos: 0,
        stage: 0,
        op: 0, // PROMPT
    };
    let leaf = leaf_bytes(key, &Sha256::digest(&o.prompt).into());
    crate::rollup::merkle::verify_inclusion(
        &leaf,
        0,
        receipt.trace_steps,
        &o.path,
        &receipt.trace_root,
    )
    .map_err(|e| bad(alloc::format!("not leaf 0 of the receipt's trace: {e}")))?;
    let claim = PromptClaim {
        text: String::from_utf8_lossy(text).into_owned(),
        tokens: receipt.prompt_tokens,
    };
    Ok((claim, text))
}

/// The outcome of the stapled light-client section.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "claims")]
pub enum ChainCheck {
    /// The bundle carries no chain proof (embedded chain, or not posted yet).
    Absent,
    /// The bundle carries one, but no checkpoint was trusted: nothing of it is proven.
    Unverified,
    /// Proven against the trusted checkpoint: these are the chain's claims.
    Verified(alloc::boxed::Box<VerifiedChainClaims>),
}

/// [`verify_bundle`], then the stapled light-client section against `trust` when given.
/// With a trust and no section, the bundle fails (`LIGHT_NO_CHAIN_PROOF`): the caller asked
/// for a chain-proven answer.
pub fn verify_bundle_with_chain(
    bundle: &AnswerBundle,
    o: &VerifyOptions<'_>,
    trust: Option<&ChainTrust>,
) -> Result<VerifiedBundle, VerifyError> {
    let mut v = verify_bundle(bundle, o)?;
    let Some(trust) = trust else {
        return Ok(v);
    };
    let cp = bundle
        .chain_proof
        .as_ref()
        .ok_or(VerifyError::NoChainProof)?;
    let rollup = bundle.rollup.as_ref().ok_or(BundleError::NotPosted)?;
    let claims = cp.verify(trust, rollup.batch_index)?;
    claims.check_inclusion(rollup)?;
    // Finality as of the proven block: a dispute opened after it is not in the proof, so the
    // window counts as closed only if the proven block is past its end.
    let at = crate::time::UnixTime(
        o.time
            .0
            .min(claims.block_timestamp.min(i64::MAX as u64) as i64),
    );
    v.finality = evaluate_finality(&claims.chain_status().to_inputs(at)?)?;
    v.chain = ChainCheck::Verified(alloc::boxed::Box::new(claims));
    Ok(v)
}

/// Verifies a decoded bundle completely.
pub fn verify_bundle(
    bundle: &AnswerBundle,
    o: &VerifyOptions<'_>,
) -> Result<VerifiedBundle, VerifyError> {
    let structure = verify_bundle_structure(bundle)?;
    if let Some(expected) = o.expected_request_hash {
        if bundle.receipt.request_hash != expected {
            return Err(VerifyError::RequestMismatch(GotExpected {
                got: hex::encode(bundle.receipt.request_hash),
                expected: hex::encode(expected),
            }));
        }
    }
    if let Some(expected) = o.expected_temperature_milli {
        if bundle.receipt.sampling.temperature_milli != expected {
            return Err(VerifyError::SamplingMismatch(GotExpected {
                got: alloc::format!("{}", bundle.receipt.sampling.temperature_milli),
                expected: alloc::format!("{expected}"),
            }));
        }
    }
    let prompt = match &bundle.prompt {
        Some(p) => Some(check_prompt_opening(&bundle.receipt, p)?),
        None => None,
    };
    if let Some(expected) = o.expected_prompt {
        let (claim, text) = prompt.as_ref().ok_or(VerifyError::NoPromptOpening)?;
        if *text != expected {
            return Err(VerifyError::PromptMismatch(GotExpected {
                got: claim.text.clone(),
                expected: String::from_utf8_lossy(expected).into_owned(),
            }));
        }
    }
    if let Some(expected) = o.expected_weights_root {
        if bundle.receipt.weights_root != expected {
            return Err(VerifyError::ModelMismatch(GotExpected {
                got: hex::encode(bundle.receipt.weights_root),
                expected: hex::encode(expected),
            }));
        }
    }
    let ev = &bundle.evidence;
    let chain = pem_certificates(ev.cert_chain_pem.as_bytes()).map_err(|e| {
        VerifyError::Gpu(GpuError::Evidence(
            crate::x509::ChainError::Pem { offset: e.offset }.into(),
        ))
    })?;
    let rims: Vec<Vec<u8>> = ev.rims.iter().map(|r| r.as_bytes().to_vec()).collect();
    let input = GpuInput {
        report: &ev.report,
        chain: &chain,
        rims: &rims,
        ocsp: &ev.ocsp,
    };
    let gpu = verify_gpu(
        &input,
        Some(structure.attestation_nonce()),
        o.time,
        o.policy,
        o.anchors,
        o.verifier,
    )?;

    let proofs = verify_bundle_zk(&bundle.receipt, &bundle.zk_proofs, o.verifying_keys)?;

    let finality = match &bundle.chain_status {
        None => evaluate_finality(&FinalityInputs {
            batch_posted_at: None,
            challenge_window_secs: 1,
            dispute_state: DisputeState::None,
            now: o.time,
        })?,
        Some(cs) => evaluate_finality(&cs.to_inputs(o.time)?)?,
    };
    Ok(VerifiedBundle {
        receipt: bundle.receipt.clone(),
        structure,
        gpu: gpu.claims,
        proofs,
        finality,
        request_verified: o.expected_request_hash.is_some(),
        model_verified: o.expected_weights_root.is_some(),
        sampling_verified: o.expected_temperature_milli.is_some(),
        prompt: prompt.map(|(c, _)| c),
        prompt_verified: o.expected_prompt.is_some(),
        chain: match bundle.chain_proof {
            None => ChainCheck::Absent,
            Some(_) => ChainCheck::Unverified,
        },
    })
}

/// The ZK stage of [`verify_bundle`]: every proof with the verifying key whose id is its
/// `circuit_id`, whatever unit circuit it is for (matvec, ACT, attention: the key fixes the
/// circuit). A proof for a key not given is [`VerifyError::UnknownCircuit`].
pub fn verify_zk_proofs(
    zk_proofs: &[crate::rollup::ZkProof],
    verifying_keys: &[(Hash, &PreparedVk)],
) -> Result<Vec<ProofClaim>, VerifyError> {
    let mut proofs = Vec::new();
    for (index, p) in zk_proofs.iter().enumerate() {
        let vk = verifying_keys
            .iter()
            .find(|(id, _)| *id == p.circuit_id)
            .map(|(_, vk)| *vk)
            .ok_or_else(|| VerifyError::UnknownCircuit {
                index,
                circuit_id: hex::encode(p.circuit_id),
            })?;
        vk.verify_bytes(&p.proof, &p.public_inputs)
            .map_err(|error| VerifyError::Proof { index, error })?;
        proofs.push(ProofClaim {
            circuit_id: hex::encode(p.circuit_id),
            public_inputs: p.public_inputs.len(),
            bound: None,
        });
    }
    Ok(proofs)
}

/// Requires every proof of a verified bundle to be bound to the model whose matrix root (the
/// registry's `poseidonRoot`) is `root`: each must carry a statement, and its matrix
/// commitment must open to `root`.
pub fn require_matrix_root(proofs: &[ProofClaim], root: &Hash) -> Result<(), VerifyError> {
    use crate::zk::statement::StatementError;
    let expected = hex::encode(root);
    for (index, p) in proofs.iter().enumerate() {
        let error = match &p.bound {
            None => StatementError::Missing,
            Some(b) if b.matrix_root != expected => StatementError::MatrixRoot {
                got: b.matrix_root.clone(),
                expected: expected.clone(),
            },
            Some(_) => continue,
        };
        return Err(VerifyError::Statement { index, error });
    }
    Ok(())
}

/// [`verify_zk_proofs`], then each proof that carries a statement is bound to `receipt`'s
/// trace ([`crate::zk::statement::check_statement`]): its claim says which step, unit and
/// matrix it proves and the matrix root its commitment opens to.
pub fn verify_bundle_zk(
    receipt: &crate::rollup::Receipt,
    zk_proofs: &[crate::rollup::ZkProof],
    verifying_keys: &[(Hash, &PreparedVk)],
) -> Result<Vec<ProofClaim>, VerifyError> {
    let mut claims = verify_zk_proofs(zk_proofs, verifying_keys)?;
    let mut poseidon = None;
    for (index, (p, c)) in zk_proofs.iter().zip(claims.iter_mut()).enumerate() {
        if let Some(st) = &p.statement {
            let h = poseidon.get_or_insert_with(crate::zk::poseidon::Poseidon::new);
            c.bound = Some(
                crate::zk::statement::check_statement(st, &p.public_inputs, receipt, h)
                    .map_err(|error| VerifyError::Statement { index, error })?,
            );
        }
    }
    Ok(claims)
}

/// Why a bundle was rejected; `code()` and `stage()` come from the stage that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    Bundle(BundleError),
    Gpu(GpuError),
    RequestMismatch(GotExpected<String>),
    ModelMismatch(GotExpected<String>),
    /// The receipt's sampling temperature is not the one the client asked for.
    SamplingMismatch(GotExpected<String>),
    UnknownCircuit {
        index: usize,
        circuit_id: String,
    },
    Proof {
        index: usize,
        error: ProofError,
    },
    /// A proof's statement does not bind it to this receipt's trace.
    Statement {
        index: usize,
        error: crate::zk::statement::StatementError,
    },
    Finality(FinalityError),
    /// The stapled light-client section does not prove the bundle's batch.
    Light(LightError),
    /// A checkpoint was trusted but the bundle carries no light-client section.
    NoChainProof,
    /// The bundle's opening of the `PROMPT` leaf is malformed or not in the receipt's trace.
    PromptOpening(String),
    /// The `PROMPT` leaf's text is not the client's prompt: the node answered another one.
    PromptMismatch(GotExpected<String>),
    /// The client gave its prompt, and the bundle does not open the `PROMPT` leaf.
    NoPromptOpening,
}

impl From<LightError> for VerifyError {
    fn from(e: LightError) -> Self {
        VerifyError::Light(e)
    }
}

impl From<BundleError> for VerifyError {
    fn from(e: BundleError) -> Self {
        VerifyError::Bundle(e)
    }
}
impl From<GpuError> for VerifyError {
    fn from(e: GpuError) -> Self {
        VerifyError::Gpu(e)
    }
}
impl From<FinalityError> for VerifyError {
    fn from(e: FinalityError) -> Self {
        VerifyError::Finality(e)
    }
}

impl ErrorCode for VerifyError {
    fn code(&self) -> &'static str {
        match self {
            VerifyError::Bundle(e) => e.code(),
            VerifyError::Gpu(e) => e.code(),
            VerifyError::RequestMismatch(_) => "RECEIPT_REQUEST_MISMATCH",
            VerifyError::ModelMismatch(_) => "RECEIPT_MODEL_MISMATCH",
            VerifyError::SamplingMismatch(_) => "RECEIPT_SAMPLING_MISMATCH",
            VerifyError::UnknownCircuit { .. } => "PROOF_UNKNOWN_CIRCUIT",
            VerifyError::Proof { error, .. } => error.code(),
            VerifyError::Statement { error, .. } => error.code(),
            VerifyError::Finality(e) => e.code(),
            VerifyError::Light(e) => e.code(),
            VerifyError::NoChainProof => "LIGHT_NO_CHAIN_PROOF",
            VerifyError::PromptOpening(_) => "PROMPT_OPENING_INVALID",
            VerifyError::PromptMismatch(_) => "RECEIPT_PROMPT_MISMATCH",
            VerifyError::NoPromptOpening => "PROMPT_NOT_OPENED",
        }
    }
    fn stage(&self) -> Stage {
        match self {
            VerifyError::Bundle(e) => e.stage(),
            VerifyError::Gpu(e) => e.stage(),
            VerifyError::RequestMismatch(_)
            | VerifyError::ModelMismatch(_)
            | VerifyError::SamplingMismatch(_)
            | VerifyError::PromptOpening(_)
            | VerifyError::PromptMismatch(_)
            | VerifyError::NoPromptOpening => Stage::Receipt,
            VerifyError::UnknownCircuit { .. } => Stage::Proof,
            VerifyError::Proof { error, .. } => error.stage(),
            VerifyError::Statement { error, .. } => error.stage(),
            VerifyError::Finality(e) => e.stage(),
            VerifyError::Light(e) => e.stage(),
            VerifyError::NoChainProof => Stage::LightClient,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Bundle(e) => fmt::Display::fmt(e, f),
            VerifyError::Gpu(e) => fmt::Display::fmt(e, f),
            VerifyError::RequestMismatch(ge) => {
                write!(f, "the receipt answers another request: {ge}")
            }
            VerifyError::ModelMismatch(ge) => {
                write!(f, "the receipt names another model (weights root): {ge}")
            }
            VerifyError::SamplingMismatch(ge) => write!(
                f,
                "the receipt records another sampling temperature (thousandths) than the request's: {ge}"
            ),
            VerifyError::UnknownCircuit { index, circuit_id } => {
                write!(f, "proof {index} is for circuit {circuit_id}, for which no verifying key was given")
            }
            VerifyError::Proof { index, error } => write!(f, "proof {index}: {error}"),
            VerifyError::Statement { index, error } => write!(f, "proof {index}: {error}"),
            VerifyError::Finality(e) => fmt::Display::fmt(e, f),
            VerifyError::Light(e) => write!(f, "chain proof: {e}"),
            VerifyError::NoChainProof => f.write_str(
                "a checkpoint is trusted, but the bundle carries no chain proof (light-client section)",
            ),
            VerifyError::PromptOpening(m) => write!(f, "the bundle's PROMPT leaf: {m}"),
            VerifyError::PromptMismatch(ge) => write!(
                f,
                "the receipt's trace ran another prompt than the client's: {ge}"
            ),
            VerifyError::NoPromptOpening => f.write_str(
                "a prompt was given to compare, but the bundle does not open the trace's PROMPT leaf",
            ),
        }
    }
}

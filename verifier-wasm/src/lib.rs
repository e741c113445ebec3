//! # otr-verifier-wasm
//!
//! The WebAssembly face of `otr-core`: four calls that take plain JavaScript values, convert
//! them (`js`, `api`), call the core once, and return the core's claims as plain objects or
//! throw an `Error` with `code`, `stage` and `message`. No verification logic lives here, and
//! no clock: the time is an argument (the npm facade `@otr/verifier` supplies "now").
//!
//! Signature checks ([`sigs`]): signatures already verified (same key, message and signature) are
//! remembered for the life of the module, and so are prepared Groth16 verifying keys
//! (`clearCache()` forgets both); time checks run on every call. The two evidence calls take an optional third argument that lets the host verify the
//! P-384 signatures with WebCrypto (see [`sigs`]): `"collect"` runs a first pass and returns
//! `{ done: false, checks }` (or `{ done: true, claims }` when nothing is left to check), and
//! `{ verified: [id, ...] }` runs the real pass with the checks the platform confirmed.

pub mod api;
pub mod failure;
mod js;
pub mod sigs;

pub use exports::*;

/// Option and field names each call accepts (anything else is `INPUT_UNKNOWN_OPTION`).
pub const BUNDLE_OPTIONS: &[&str] = &[
    "time",
    "policy",
    "trustAnchors",
    "verifyingKeys",
    "expectedRequestHash",
    "expectedWeightsRoot",
    "expectedTemperatureMilli",
    "expectedPrompt",
    "expectedMatrixRoot",
    "trustedCheckpoint",
];
pub const CHECKPOINT_FIELDS: &[&str] = &[
    "chainId",
    "blockHash",
    "settlement",
    "challengeWindowSecs",
    "codeHash",
];
pub const GPU_OPTIONS: &[&str] = &["time", "policy", "trustAnchors"];
pub const ANCHOR_FIELDS: &[&str] = &["deviceRoots", "rimRoots", "devRoots"];
pub const GPU_FIELDS: &[&str] = &["report", "chain", "rims", "ocsp", "nonce"];
pub const INCLUSION_FIELDS: &[&str] = &["leaf", "index", "size", "path", "root"];
pub const PROOF_FIELDS: &[&str] = &["vk", "proof", "publicInputs"];
pub const CHAIN_PROOF_FIELDS: &[&str] = &["chainProof", "batchIndex", "trustedCheckpoint"];
pub const PLATFORM_FIELDS: &[&str] = &["verified"];

/// Most signatures remembered across calls before the set starts over.
pub const SIGNATURE_CACHE: usize = 256;
/// Most prepared verifying keys kept across calls.
pub const KEY_CACHE: usize = 16;

mod exports {
    use std::collections::BTreeSet;

    use js_sys::{Array, Object, Reflect, Uint8Array};
    use otr_core::crypto::{HashAlg, SignatureVerifier};
    use serde::Serialize;
    use wasm_bindgen::prelude::*;

    use crate::failure::{Failure, InputError};
    use crate::js::{self, field};
    use crate::sigs::{Check, CheckId, Checker, Known, Recorder};
    use crate::{api, BUNDLE_OPTIONS, GPU_FIELDS, GPU_OPTIONS, INCLUSION_FIELDS, PROOF_FIELDS};

    thread_local! {
        static KNOWN: Known = Known::new(crate::SIGNATURE_CACHE);
        static KEYS: api::VkCache = api::VkCache::new(crate::KEY_CACHE);
    }

    fn throw(f: Failure) -> JsValue {
        let e = js_sys::Error::new(&f.message);
        e.set_name("OtrError");
        let obj: &JsValue = e.as_ref();
        let _ = Reflect::set(obj, &"code".into(), &f.code.into());
        let _ = Reflect::set(obj, &"stage".into(), &f.stage.as_str().into());
        e.into()
    }

    fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
        let plain = serde_wasm_bindgen::Serializer::json_compatible();
        match value.serialize(&plain) {
            Ok(v) => Ok(v),
            // An integer above 2^53 - 1 (a batch index or block number can be any u64): the
            // claims again with 64-bit integers as BigInt, then those a number holds exactly
            // back to numbers, so only the large ones differ.
            Err(_) => value
                .serialize(&plain.serialize_large_number_types_as_bigints(true))
                .inspect(small_bigints_to_numbers)
                .map_err(|e| JsValue::from(js_sys::Error::new(&format!("output: {e}")))),
        }
    }

    /// Replaces, in place, every BigInt within +-(2^53 - 1) in arrays and objects by a number.
    fn small_bigints_to_numbers(v: &JsValue) {
        const MAX_SAFE: i64 = (1 << 53) - 1;
        let convert = |x: JsValue| -> Option<JsValue> {
            let b = x.dyn_ref::<js_sys::BigInt>()?;
            let n: i64 = String::from(b.to_string(10).ok()?).parse().ok()?;
            (-MAX_SAFE..=MAX_SAFE)
                .contains(&n)
                .then(|| JsValue::from_f64(n as f64))
        };
        if let Some(a) = v.dyn_ref::<Array>() {
            for i in 0..a.length() {
                let x = a.get(i);
                match convert(x.clone()) {
                    Some(n) => a.set(i, n),
                    None => small_bigints_to_numbers(&x),
                }
            }
        } else if v.is_object() && !v.is_instance_of::<js_sys::BigInt>() {
            for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
                let Ok(x) = Reflect::get(v, &key) else {
                    continue;
                };
                match convert(x.clone()) {
                    Some(n) => {
                        let _ = Reflect::set(v, &key, &n);
                    }
                    None => small_bigints_to_numbers(&x),
                }
            }
        }
    }

    fn required(obj: &JsValue, name: &'static str) -> Result<JsValue, InputError> {
        field(obj, name).ok_or(InputError::Type {
            what: name,
            expected: "present",
        })
    }

    /// How the signature checks of one call are answered.
    enum Platform {
        /// `p384` (and the known-good set).
        Off,
        /// First pass: record what the platform should check.
        Collect,
        /// Second pass: these checks were confirmed by the platform.
        Verified(BTreeSet<CheckId>),
    }

    fn read_platform(v: &JsValue) -> Result<Platform, InputError> {
        if v.is_undefined() || v.is_null() {
            return Ok(Platform::Off);
        }
        if v.as_string().as_deref() == Some("collect") {
            return Ok(Platform::Collect);
        }
        let obj = js::object(v, "platform", crate::PLATFORM_FIELDS)?;
        let mut ids = BTreeSet::new();
        if let Some(list) = field(&obj, "verified") {
            for id in js::list(&list) {
                ids.insert(js::hash(&id, "platform.verified[]")?);
            }
        }
        Ok(Platform::Verified(ids))
    }

    fn hash_name(h: HashAlg) -> &'static str {
        match h {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    }

    fn checks_to_js(checks: &[Check]) -> JsValue {
        let out = Array::new();
        for c in checks {
            let o = Object::new();
            let set = |k: &str, v: JsValue| {
                let _ = Reflect::set(&o, &k.into(), &v);
            };
            set("id", Uint8Array::from(&c.id[..]).into());
            set("hash", hash_name(c.hash).into());
            set("key", Uint8Array::from(&c.key[..]).into());
            set("msg", Uint8Array::from(&c.msg[..]).into());
            set("sig", Uint8Array::from(&c.sig[..]).into());
            out.push(&o);
        }
        out.into()
    }

    fn done(value: JsValue) -> JsValue {
        let o = Object::new();
        let _ = Reflect::set(&o, &"done".into(), &true.into());
        let _ = Reflect::set(&o, &"claims".into(), &value);
        o.into()
    }

    /// Runs `verify` with the signature checks routed as `platform` says.
    fn run<T: Serialize>(
        platform: &JsValue,
        verify: impl FnOnce(&dyn SignatureVerifier) -> Result<T, Failure>,
    ) -> Result<JsValue, JsValue> {
        let platform = read_platform(platform).map_err(|e| throw(e.into()))?;
        KNOWN.with(|known| match platform {
            Platform::Off => {
                let none = BTreeSet::new();
                let out = verify(&Checker::new(known, &none));
                out.map_err(throw).and_then(|v| to_js(&v))
            }
            Platform::Verified(ids) => {
                let out = verify(&Checker::new(known, &ids));
                out.map_err(throw).and_then(|v| to_js(&v))
            }
            Platform::Collect => {
                let recorder = Recorder::new(known);
                let out = verify(&recorder);
                let checks = recorder.into_checks();
                if checks.is_empty() {
                    // Every check came from the known-good set: this is the real result.
                    return out.map_err(throw).and_then(|v| to_js(&v)).map(done);
                }
                let o = Object::new();
                let _ = Reflect::set(&o, &"done".into(), &false.into());
                let _ = Reflect::set(&o, &"checks".into(), &checks_to_js(&checks));
                Ok(o.into())
            }
        })
    }

    fn bundle_input(bundle: &JsValue) -> Result<Vec<u8>, InputError> {
        if bundle.is_string()
            || bundle.is_instance_of::<Uint8Array>()
            || bundle.is_instance_of::<js_sys::ArrayBuffer>()
        {
            js::bytes(bundle, "bundle")
        } else if bundle.is_object() && !Array::is_array(bundle) {
            Ok(js::text_or_json(bundle, "bundle")?.into_bytes())
        } else {
            Err(InputError::Type {
                what: "bundle",
                expected: "a Uint8Array, JSON text or a bundle object",
            })
        }
    }

    fn bundle_settings(options: &JsValue) -> Result<api::Settings, Failure> {
        let options = js::object(options, "options", BUNDLE_OPTIONS)?;
        let mut s = js::settings(&options)?;
        if let Some(keys) = field(&options, "verifyingKeys") {
            for k in js::list(&keys) {
                let text = js::text_or_json(&k, "options.verifyingKeys")?;
                s.verifying_keys.push(KEYS.with(|c| c.get(&text))?);
            }
        }
        if let Some(h) = field(&options, "expectedRequestHash") {
            s.expected_request_hash = Some(js::hash(&h, "options.expectedRequestHash")?);
        }
        if let Some(h) = field(&options, "expectedWeightsRoot") {
            s.expected_weights_root = Some(js::hash(&h, "options.expectedWeightsRoot")?);
        }
        if let Some(t) = field(&options, "expectedTemperatureMilli") {
            let what = "options.expectedTemperatureMilli";
            let t = u32::try_from(js::uint(&t, what)?).map_err(|_| InputError::Type {
                what,
                expected: "a temperature in thousandths (0 = greedy) below 2^32",
            })?;
            s.expected_temperature_milli = Some(t);
        }
        if let Some(p) = field(&options, "expectedPrompt") {
            s.expected_prompt = Some(js::bytes(&p, "options.expectedPrompt")?);
        }
        if let Some(h) = field(&options, "expectedMatrixRoot") {
            s.expected_matrix_root = Some(js::hash(&h, "options.expectedMatrixRoot")?);
        }
        if let Some(c) = field(&options, "trustedCheckpoint") {
            s.chain_trust = Some(chain_trust(&c)?);
        }
        Ok(s)
    }

    /// `options.trustedCheckpoint`: `{ chainId, blockHash, settlement?, challengeWindowSecs?,
    /// codeHash? }`.
    fn chain_trust(value: &JsValue) -> Result<otr_core::chain::ChainTrust, InputError> {
        let o = js::object(value, "options.trustedCheckpoint", crate::CHECKPOINT_FIELDS)?;
        let mut t = otr_core::chain::ChainTrust::checkpoint(
            js::uint(&required(&o, "chainId")?, "trustedCheckpoint.chainId")?,
            js::hash(&required(&o, "blockHash")?, "trustedCheckpoint.blockHash")?,
        );
        if let Some(a) = field(&o, "settlement") {
            let what = "trustedCheckpoint.settlement";
            t.contract = Some(match a.as_string() {
                Some(s) => api::address_from_text(&s, what)?,
                None => <[u8; 20]>::try_from(js::bytes(&a, what)?)
                    .map_err(|_| InputError::Address { what })?,
            });
        }
        if let Some(w) = field(&o, "challengeWindowSecs") {
            t.challenge_window_secs = Some(js::uint(&w, "trustedCheckpoint.challengeWindowSecs")?);
        }
        if let Some(c) = field(&o, "codeHash") {
            t.code_hash = Some(js::hash(&c, "trustedCheckpoint.codeHash")?);
        }
        Ok(t)
    }

    /// Verifies an answer bundle (binary `OTRB` bytes, JSON text or the JSON object) completely.
    #[wasm_bindgen(js_name = verifyBundle)]
    pub fn verify_bundle(
        bundle: JsValue,
        options: JsValue,
        platform: JsValue,
    ) -> Result<JsValue, JsValue> {
        let prepared = bundle_input(&bundle)
            .map_err(Failure::from)
            .and_then(|bytes| Ok((bytes, bundle_settings(&options)?)))
            .and_then(|(bytes, s)| Ok((api::read_bundle(&bytes)?, s)));
        let (bundle, s) = prepared.map_err(throw)?;
        run(&platform, |v| Ok(api::verify_bundle(&bundle, &s, v)?))
    }

    fn gpu_input(evidence: &JsValue) -> Result<api::GpuInput, InputError> {
        let ev = js::object(evidence, "evidence", GPU_FIELDS)?;
        let mut input = api::GpuInput {
            report: js::bytes(&required(&ev, "report")?, "evidence.report")?,
            chain_pem: js::bytes(&required(&ev, "chain")?, "evidence.chain")?,
            ..Default::default()
        };
        if let Some(r) = field(&ev, "rims") {
            for x in js::list(&r) {
                input.rims.push(js::bytes(&x, "evidence.rims")?);
            }
        }
        if let Some(o) = field(&ev, "ocsp") {
            for x in js::list(&o) {
                input.ocsp.push(js::bytes(&x, "evidence.ocsp")?);
            }
        }
        if let Some(n) = field(&ev, "nonce") {
            input.nonce = Some(js::hash(&n, "evidence.nonce")?);
        }
        Ok(input)
    }

    /// Verifies one GPU's evidence: report, PEM chain, reference manifests, OCSP answers, nonce.
    #[wasm_bindgen(js_name = verifyGpuEvidence)]
    pub fn verify_gpu_evidence(
        evidence: JsValue,
        options: JsValue,
        platform: JsValue,
    ) -> Result<JsValue, JsValue> {
        let prepared = js::object(&options, "options", GPU_OPTIONS)
            .map_err(Failure::from)
            .and_then(|o| Ok((gpu_input(&evidence)?, js::settings(&o)?)));
        let (input, s) = prepared.map_err(throw)?;
        run(&platform, |v| api::verify_gpu_evidence(&input, &s, v))
    }

    /// Verifies an RFC 6962 inclusion proof: `leaf` (the leaf data), `index`, `size`, `path`
    /// (sibling hashes, nearest first) and `root`.
    #[wasm_bindgen(js_name = verifyInclusion)]
    pub fn verify_inclusion(args: JsValue) -> Result<JsValue, JsValue> {
        let run = || -> Result<_, Failure> {
            let a = js::object(&args, "inclusion", INCLUSION_FIELDS)?;
            let leaf_js = required(&a, "leaf")?;
            let leaf = match leaf_js.as_string() {
                Some(s) => otr_core::encoding::hex_decode_lenient(s.as_bytes())
                    .ok_or(InputError::Encoding { what: "leaf (hex)" })?,
                None => js::bytes(&leaf_js, "leaf")?,
            };
            let index = js::uint(&required(&a, "index")?, "index")?;
            let size = js::uint(&required(&a, "size")?, "size")?;
            let path = match field(&a, "path") {
                Some(p) => js::list(&p)
                    .iter()
                    .map(|h| js::hash(h, "path[]"))
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            let root = js::hash(&required(&a, "root")?, "root")?;
            Ok(api::verify_inclusion(&leaf, index, size, &path, &root)?)
        };
        run().map_err(throw).and_then(|v| to_js(&v))
    }

    /// Verifies a bundle's light-client section alone: `chainProof` (the bundle's `chain_proof`,
    /// object or JSON text), `batchIndex`, `trustedCheckpoint` (as in the bundle options).
    #[wasm_bindgen(js_name = verifyChainProof)]
    pub fn verify_chain_proof(args: JsValue) -> Result<JsValue, JsValue> {
        let run = || -> Result<_, Failure> {
            let a = js::object(&args, "chain proof arguments", crate::CHAIN_PROOF_FIELDS)?;
            let text = js::text_or_json(&required(&a, "chainProof")?, "chainProof")?;
            let proof = api::read_chain_proof(&text)?;
            let index = js::uint(&required(&a, "batchIndex")?, "batchIndex")?;
            let trust = chain_trust(&required(&a, "trustedCheckpoint")?)?;
            Ok(proof.verify(&trust, index)?)
        };
        run().map_err(throw).and_then(|v| to_js(&v))
    }

    /// Verifies a Groth16 (BN254) proof given in snarkjs JSON forms (text or objects).
    #[wasm_bindgen(js_name = verifyProof)]
    pub fn verify_proof(args: JsValue) -> Result<JsValue, JsValue> {
        let run = || -> Result<_, Failure> {
            let a = js::object(&args, "proof arguments", PROOF_FIELDS)?;
            let vk = js::text_or_json(&required(&a, "vk")?, "vk")?;
            let proof = js::text_or_json(&required(&a, "proof")?, "proof")?;
            let inputs = js::text_or_json(&required(&a, "publicInputs")?, "publicInputs")?;
            let vk = KEYS.with(|c| c.get(&vk))?;
            api::verify_proof(&vk, &proof, &inputs)
        };
        run().map_err(throw).and_then(|v| to_js(&v))
    }

    /// Forgets every remembered signature and prepared verifying key (the next verification
    /// checks and prepares everything again).
    #[wasm_bindgen(js_name = clearCache)]
    pub fn clear_cache() {
        KNOWN.with(Known::clear);
        KEYS.with(api::VkCache::clear);
    }

    /// The prompt text a node runs for chat `messages` (`[{ role, content }]`, `content` a
    /// string or an array of parts with `text`): Gemma's chat template, as the node applies it
    /// (`otr_core::prompt::gemma_chat_prompt`). What `expectedPrompt` compares with the trace's
    /// `PROMPT` leaf for a chat answer.
    #[wasm_bindgen(js_name = chatPrompt)]
    pub fn chat_prompt(messages: JsValue) -> Result<String, JsValue> {
        let bad = |what: &'static str, expected: &'static str| {
            throw(Failure::from(InputError::Type { what, expected }))
        };
        if !Array::is_array(&messages) {
            return Err(bad("messages", "an array of { role, content } messages"));
        }
        let mut v = Vec::new();
        for m in js::list(&messages) {
            let role = field(&m, "role")
                .and_then(|r| r.as_string())
                .ok_or_else(|| bad("messages[].role", "a string"))?;
            let content = match field(&m, "content") {
                Some(c) if c.as_string().is_some() => c.as_string().unwrap_or_default(),
                Some(c) if Array::is_array(&c) => js::list(&c)
                    .iter()
                    .filter_map(|p| field(p, "text").and_then(|t| t.as_string()))
                    .collect(),
                _ => {
                    return Err(bad(
                        "messages[].content",
                        "a string or an array of parts with `text`",
                    ))
                }
            };
            v.push((role, content));
        }
        Ok(otr_core::prompt::gemma_chat_prompt(&v))
    }

    /// The crate version, for diagnostics.
    #[wasm_bindgen(js_name = version)]
    pub fn version() -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
}

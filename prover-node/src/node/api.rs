//! The HTTP API: OpenAI-compatible completions with receipts, and answer bundles.
//!
//! Extensions to the OpenAI request: `otr_nonce` (64 hex digits, the client's freshness nonce;
//! random if absent) and `seed`. Every response carries `otr: {receipt_id, receipt_hash,
//! request_hash, nonce, bundle_url}` and the headers `x-otr-receipt-id` / `x-otr-receipt-hash`
//! (streaming: the id header, and the hash in the final event).

// Handlers return ready HTTP responses as their error type; boxing them gains nothing here.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use otr_core::rollup::{
    request_hash, AnswerBundle, OutputHasher, Receipt, ReceiptProof, RollupInclusion,
    SamplingParams,
};
use serde_json::{json, Value};

use super::inference::RunKind;
use super::store::StoredRequest;
use super::Node;

pub fn router(node: Arc<Node>) -> Router {
    let mut r = Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/receipts", get(list_receipts))
        .route("/v1/receipts/{id}", get(receipt))
        .route("/v1/receipts/{id}/bundle", get(bundle))
        .route("/v1/receipts/{id}/request", get(published_request))
        .route("/v1/node", get(node_info));
    if let Some(dir) = &node.config.web_demo {
        r = r.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    r.with_state(node)
}

/// An API error in OpenAI's shape, with our stable code.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message.into(), "type": "otr_error" } })),
    )
        .into_response()
}

async fn health(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(
        json!({ "status": "ok", "attestation": node.attestor.kind(), "production": node.attestor.kind() == "nvidia" }),
    )
}

async fn node_info(State(node): State<Arc<Node>>) -> Json<Value> {
    Json(json!({
        "node_address": format!("0x{}", hex::encode(otr_core::rollup::eth_address(node.node_key.verifying_key()))),
        "attestation": node.attestor.kind(),
        "production": node.attestor.kind() == "nvidia",
        "warning": (node.attestor.kind() == "dev").then_some("dev attestation: NOT PRODUCTION, proves nothing about hardware"),
        "dev_root_pem": node.attestor.dev_root_pem(),
        "chain_id": node.config.chain_id,
        "batch_window_ms": node.config.batch_window_ms,
        "model": node.engine.info(),
        "zk_spot_checks": super::spotcheck::node_info(&node),
        "chain_spot_checks": super::spotchain::summary(&node),
    }))
}

async fn models(State(node): State<Arc<Node>>) -> Json<Value> {
    let info = node.engine.info();
    Json(json!({ "object": "list", "data": [{
        "id": info.name, "object": "model", "created": 0, "owned_by": "otr",
        "otr": { "model_id": hex::encode(info.model_id), "weights_root": hex::encode(info.weights_root) }
    }]}))
}

#[derive(Debug)]
struct Parsed {
    prompt: String,
    sampling: SamplingParams,
    stream: bool,
    nonce: [u8; 32],
    model: Option<String>,
    chat: bool,
}

fn parse_request(node: &Node, body: &Value, chat: bool) -> Result<Parsed, Response> {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", m);
    let nonce = match body["otr_nonce"].as_str() {
        Some(h) => hex::decode(h)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| bad("otr_nonce must be 64 hex digits"))?,
        None => {
            let mut n = [0u8; 32];
            getrandom::getrandom(&mut n).map_err(|_| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "NO_RANDOMNESS",
                    "no randomness",
                )
            })?;
            n
        }
    };
    let (prompt, sampling) =
        prompt_and_sampling(node.engine.as_ref(), body, chat, &nonce).map_err(|m| bad(&m))?;
    Ok(Parsed {
        prompt,
        sampling,
        stream: body["stream"].as_bool().unwrap_or(false),
        nonce,
        model: body["model"].as_str().map(String::from),
        chat,
    })
}

/// The prompt (chat template applied) and sampling parameters the node runs for a request
/// body; `nonce` is the one its receipt's `request_hash` commits to (it seeds sampling when the
/// body has no `seed`). Shared with `otr watch`, which re-executes published requests.
pub fn prompt_and_sampling(
    engine: &dyn super::inference::Inference,
    body: &Value,
    chat: bool,
    nonce: &[u8; 32],
) -> Result<(String, SamplingParams), String> {
    let bad = |m: &str| m.to_string();
    let prompt = if chat {
        let msgs = body["messages"]
            .as_array()
            .ok_or_else(|| bad("`messages` must be an array"))?;
        let mut v = Vec::new();
        for m in msgs {
            let role = m["role"]
                .as_str()
                .ok_or_else(|| bad("each message needs a `role`"))?;
            let content = match &m["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(""),
                _ => return Err(bad("each message needs a string `content`")),
            };
            v.push((role.to_string(), content));
        }
        engine.chat_prompt(&v)
    } else {
        match &body["prompt"] {
            Value::String(s) => s.clone(),
            Value::Array(a) if a.len() == 1 && a[0].is_string() => {
                a[0].as_str().unwrap_or_default().to_string()
            }
            _ => return Err(bad("`prompt` must be a string")),
        }
    };
    // A prompt whose `PROMPT` claim would not fit a transaction could not be defended in a
    // dispute (the node would lose it by timeout): refused before it is answered.
    let max = otr_contracts::deploy::PROMPT_CLAIM_MAX_TOKENS;
    if let Some(n) = engine.prompt_tokens(&prompt).filter(|&n| n > max) {
        return Err(format!(
            "the prompt is {n} tokens; at most {max} are served (a longer prompt's claim in a \
             dispute would not fit a transaction)"
        ));
    }
    let milli = |v: &Value, default: u32, max: f64| -> Result<u32, String> {
        match v.as_f64() {
            None if v.is_null() => Ok(default),
            Some(x) if (0.0..=max).contains(&x) => Ok((x * 1000.0).round() as u32),
            _ => Err(bad("temperature must be in 0..=2 and top_p in 0..=1")),
        }
    };
    let max_tokens = body["max_tokens"]
        .as_u64()
        .or(body["max_completion_tokens"].as_u64())
        .unwrap_or(64);
    if max_tokens == 0 || max_tokens > 4096 {
        return Err(bad("max_tokens must be in 1..=4096"));
    }
    let seed = match body["seed"].as_u64() {
        Some(s) => s,
        None => u64::from_le_bytes(nonce[..8].try_into().unwrap_or_default()),
    };
    Ok((
        prompt,
        SamplingParams {
            temperature_milli: milli(&body["temperature"], 1000, 2.0)?,
            top_k: body["top_k"].as_u64().unwrap_or(0).min(u32::MAX as u64) as u32,
            top_p_milli: milli(&body["top_p"], 1000, 1.0)?,
            max_tokens: max_tokens as u32,
            seed,
        },
    ))
}

fn new_receipt_id() -> String {
    let mut b = [0u8; 12];
    let _ = getrandom::getrandom(&mut b);
    format!("rcpt_{}", hex::encode(b))
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs the engine, then commits the receipt. Returns (text, receipt, finish reason).
fn answer(
    node: &Node,
    p: &Parsed,
    body: &[u8],
    id: &str,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<(String, Receipt, &'static str), Response> {
    let info = node.engine.info();
    let mut out = OutputHasher::new();
    let every = node.config.dev_cheat_every;
    let n = if every > 0 {
        node.store.next_answer()
    } else {
        0
    };
    let run = if every > 0 && n.is_multiple_of(every) {
        // The kinds take turns: the first cheat is the first kind.
        let kinds = &node.config.dev_cheat_kinds;
        let kind = kinds[((n / every - 1) % kinds.len() as u64) as usize];
        eprintln!(
            "otr: DEV CHEAT: answering receipt {id} wrongly on purpose (--dev-cheat-every \
             {every}, {kind:?})"
        );
        kind
    } else {
        RunKind::Honest
    };
    let g = node
        .engine
        .generate_run(&p.prompt, &p.sampling, run, &mut |piece| {
            out.update(piece.as_bytes());
            on_text(piece)
        })
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "ENGINE_FAILED", e))?;
    let receipt = Receipt {
        version: 1,
        model_id: info.model_id,
        weights_root: info.weights_root,
        request_hash: request_hash(&p.nonce, body),
        output_hash: out.finalize(),
        prompt_tokens: g.prompt_tokens,
        completion_tokens: g.completion_tokens,
        sampling: p.sampling,
        trace_root: g.trace_root,
        trace_steps: g.trace_steps,
        created_at: now_secs(),
    };
    let req = StoredRequest {
        chat: p.chat,
        nonce: p.nonce,
        body: body.to_vec(),
        run,
    };
    node.store
        .insert_receipt_with_request(id, &receipt, &req, g.prompt_opening.as_ref())
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "STORE_FAILED", e))?;
    if node.config.batch_window_ms == 0 {
        node.batch_now.notify_one();
    }
    Ok((g.text, receipt, g.finish_reason))
}

fn otr_field(id: &str, r: &Receipt, p: &Parsed) -> Value {
    json!({
        "receipt_id": id,
        "receipt_hash": hex::encode(r.receipt_hash()),
        "request_hash": hex::encode(r.request_hash),
        "nonce": hex::encode(p.nonce),
        "bundle_url": format!("/v1/receipts/{id}/bundle"),
    })
}

async fn completions(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    serve(node, body, false).await
}

async fn chat_completions(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    serve(node, body, true).await
}

async fn serve(node: Arc<Node>, body: Bytes, chat: bool) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, "INVALID_JSON", e.to_string()),
    };
    let p = match parse_request(&node, &v, chat) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let info = node.engine.info();
    if let Some(m) = &p.model {
        if m != &info.name && m != "default" {
            return error(
                StatusCode::NOT_FOUND,
                "MODEL_NOT_FOUND",
                format!("this node serves `{}`, not `{m}`", info.name),
            );
        }
    }
    let id = new_receipt_id();
    let created = now_secs();
    let object = if chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    if !p.stream {
        let n = node.clone();
        let (id2, body2) = (id.clone(), body.clone());
        let res = tokio::task::spawn_blocking(move || {
            let r = answer(&n, &p, &body2, &id2, &mut |_| true);
            (p, r)
        })
        .await;
        let (p, r) = match res {
            Ok(x) => x,
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ENGINE_PANICKED",
                    e.to_string(),
                )
            }
        };
        let (text, receipt, finish) = match r {
            Ok(x) => x,
            Err(r) => return r,
        };
        let choice = if chat {
            json!({ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": finish })
        } else {
            json!({ "index": 0, "text": text, "finish_reason": finish })
        };
        let mut resp = Json(json!({
            "id": format!("cmpl-{id}"), "object": object, "created": created, "model": info.name,
            "choices": [choice],
            "usage": { "prompt_tokens": receipt.prompt_tokens, "completion_tokens": receipt.completion_tokens,
                       "total_tokens": receipt.prompt_tokens + receipt.completion_tokens },
            "otr": otr_field(&id, &receipt, &p),
        }))
        .into_response();
        set_receipt_headers(resp.headers_mut(), &id, Some(&receipt));
        return resp;
    }
    // Streaming: pieces flow through a channel; the final event carries the receipt, which is
    // committed before that event is sent.
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    let n = node.clone();
    let id2 = id.clone();
    let name = info.name.clone();
    tokio::task::spawn_blocking(move || {
        let chunk = |delta: Value, finish: Value| {
            let choice = if chat {
                json!({ "index": 0, "delta": delta, "finish_reason": finish })
            } else {
                json!({ "index": 0, "text": delta.get("content").cloned().unwrap_or(json!("")), "finish_reason": finish })
            };
            json!({ "id": format!("cmpl-{id2}"), "object": if chat { "chat.completion.chunk" } else { "text_completion" },
                    "created": created, "model": name, "choices": [choice] })
        };
        if chat {
            let _ =
                tx.blocking_send(Event::default().data(
                    chunk(json!({"role": "assistant", "content": ""}), Value::Null).to_string(),
                ));
        }
        let r = answer(&n, &p, &body, &id2, &mut |piece| {
            tx.blocking_send(
                Event::default().data(chunk(json!({ "content": piece }), Value::Null).to_string()),
            )
            .is_ok()
        });
        match r {
            Ok((_, receipt, finish)) => {
                let mut last = chunk(json!({}), json!(finish));
                last["otr"] = otr_field(&id2, &receipt, &p);
                last["usage"] = json!({ "prompt_tokens": receipt.prompt_tokens, "completion_tokens": receipt.completion_tokens,
                                        "total_tokens": receipt.prompt_tokens + receipt.completion_tokens });
                let _ = tx.blocking_send(Event::default().data(last.to_string()));
                let _ = tx.blocking_send(Event::default().data("[DONE]"));
            }
            Err(_) => {
                let _ = tx.blocking_send(
                    Event::default()
                        .event("error")
                        .data(json!({"error": {"code": "ENGINE_FAILED"}}).to_string()),
                );
            }
        }
    });
    let stream = ReceiverStream(rx);
    let mut resp = Sse::new(stream).into_response();
    set_receipt_headers(resp.headers_mut(), &id, None);
    resp
}

/// The events of a streamed answer, from the blocking thread that runs the engine.
pub(crate) struct ReceiverStream(pub(crate) tokio::sync::mpsc::Receiver<Event>);

impl Stream for ReceiverStream {
    type Item = Result<Event, Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(Ok))
    }
}

fn set_receipt_headers(h: &mut HeaderMap, id: &str, r: Option<&Receipt>) {
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-otr-receipt-id", v);
    }
    if let Some(r) = r {
        if let Ok(v) = HeaderValue::from_str(&hex::encode(r.receipt_hash())) {
            h.insert("x-otr-receipt-hash", v);
        }
    }
}

async fn list_receipts(State(node): State<Arc<Node>>) -> Response {
    match node.store.receipt_ids() {
        Ok(ids) => Json(json!({ "receipts": ids })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "STORE_FAILED", e),
    }
}

async fn receipt(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Response {
    match node.store.receipt(&id) {
        Ok(Some((r, batch))) => Json(json!({
            "receipt_id": id,
            "receipt_hash": hex::encode(r.receipt_hash()),
            "receipt": serde_json::from_str::<Value>(&r.to_json()).unwrap_or(Value::Null),
            "status": if batch.is_some() { "attested" } else { "pending" },
        }))
        .into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "RECEIPT_NOT_FOUND",
            format!("no receipt {id}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "STORE_FAILED", e),
    }
}

/// `GET /v1/receipts/{id}/request` (`--publish-requests`): the request the receipt's
/// `request_hash` commits to, for re-execution by challengers. `body` is the exact request body
/// (UTF-8 JSON text); `request_hash = SHA-256("OTR/request/v1\0" || nonce || u64be(len) || body)`.
async fn published_request(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Response {
    if !node.config.publish_requests {
        return error(
            StatusCode::NOT_FOUND,
            "REQUESTS_NOT_PUBLISHED",
            "this node does not publish requests (otr serve --publish-requests)",
        );
    }
    let n = node.clone();
    let id2 = id.clone();
    let got = tokio::task::spawn_blocking(move || {
        let r = n.store.receipt(&id2)?;
        let q = n.store.request(&id2)?;
        Ok::<_, String>(r.zip(q))
    })
    .await;
    match got {
        Ok(Ok(Some(((r, _), q)))) => {
            let Ok(body) = String::from_utf8(q.body) else {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "STORE_FAILED",
                    "stored request body is not UTF-8",
                );
            };
            Json(json!({
                "receipt_id": id,
                "receipt_hash": hex::encode(r.receipt_hash()),
                "request_hash": hex::encode(r.request_hash),
                "endpoint": if q.chat { "chat" } else { "completions" },
                "nonce": hex::encode(q.nonce),
                "body": body,
            }))
            .into_response()
        }
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "REQUEST_NOT_FOUND",
            format!("no stored request for receipt {id}"),
        ),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "STORE_FAILED", e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STORE_FAILED",
            e.to_string(),
        ),
    }
}

#[derive(serde::Deserialize)]
struct BundleQuery {
    format: Option<String>,
}

/// The reference of a posted receipt that the dispute game and the spot checks take (receipt ->
/// header -> batch, both audit paths), from the store alone: no chain read, no bundle.
pub fn receipt_ref(
    node: &Node,
    id: &str,
) -> Result<Option<otr_contracts::proofs::ReceiptRef>, String> {
    let Some((receipt, Some((leaf, batch)))) = node.store.receipt(id)? else {
        return Ok(None);
    };
    let Some(pos) = node.store.rollup_of(batch.header.sequence)? else {
        return Ok(None);
    };
    let prove = |hashes: &[[u8; 32]], i: u64| {
        otr_core::rollup::merkle::prove(hashes, i)
            .map(|p| p.path)
            .map_err(|e| e.to_string())
    };
    Ok(Some(otr_contracts::proofs::ReceiptRef {
        batch_index: pos.batch.index,
        header_index: pos.position,
        header: batch.header.encode(),
        header_path: prove(&pos.header_hashes, pos.position as u64)?,
        receipt_index: leaf,
        receipt: receipt.encode(),
        receipt_path: prove(&batch.leaves, leaf as u64)?,
    }))
}

/// Builds the bundle of a batched receipt from the store.
pub fn build_bundle(node: &Node, id: &str) -> Result<Option<AnswerBundle>, String> {
    let Some((receipt, Some((leaf, batch)))) = node.store.receipt(id)? else {
        return Ok(None);
    };
    let proof =
        otr_core::rollup::merkle::prove(&batch.leaves, leaf as u64).map_err(|e| e.to_string())?;
    // Rollup inclusion once the header's batch is posted: the audit path over the batch's header
    // hashes in the order posted (what the contract hashed), and the chain's status of the batch.
    let (rollup, chain_status) = match &node.settlement {
        None => (None, None),
        Some(s) => match node.store.rollup_of(batch.header.sequence)? {
            None => (None, None),
            // A batch the chain does not hold (now): dropped by a reorganization until the poster
            // posts its headers again, or unreadable. The bundle goes out without a rollup
            // section (complete and provisional) rather than not at all.
            Some(pos) => match s.chain_status(pos.batch.index) {
                Ok(status) => {
                    let path =
                        otr_core::rollup::merkle::prove(&pos.header_hashes, pos.position as u64)
                            .map_err(|e| e.to_string())?
                            .path;
                    (
                        Some(RollupInclusion {
                            batch_index: pos.batch.index,
                            batch_root: pos.batch.root,
                            batch_size: pos.batch.size,
                            header_index: pos.position,
                            path,
                        }),
                        Some(status),
                    )
                }
                Err(e) => {
                    eprintln!(
                        "otr: batch {} is not readable on the chain ({e}); bundle {id} is served without its rollup section",
                        pos.batch.index
                    );
                    (None, None)
                }
            },
        },
    };
    // The light-client section on RPC chains (a failure to fetch it leaves it out: the bundle
    // is still complete without it).
    let chain_proof = match (&node.settlement, &rollup) {
        (Some(s), Some(r)) => s.staple(r.batch_index).unwrap_or_else(|e| {
            eprintln!("otr: chain proof for batch {}: {e}", r.batch_index);
            None
        }),
        _ => None,
    };
    Ok(Some(AnswerBundle {
        version: 1,
        receipt,
        header: batch.header,
        header_signature: batch.signature,
        receipt_proof: ReceiptProof {
            leaf_index: leaf,
            path: proof.path,
        },
        evidence: otr_core::rollup::GpuEvidence {
            report: batch.evidence.report,
            cert_chain_pem: batch.evidence.chain_pem,
            rims: batch.evidence.rims,
            ocsp: batch.evidence.ocsp,
            arch: "HOPPER".into(),
        },
        rollup,
        chain_status,
        zk_proofs: super::spotcheck::proofs_for(node, id)?,
        chain_proof,
        prompt: node.store.prompt_opening(id)?,
    }))
}

/// The node's own check of a bundle, with the same core code the browser runs.
pub fn self_check(node: &Node, b: &AnswerBundle) -> Result<(), (String, String)> {
    let time = otr_core::UnixTime(now_secs() as i64);
    let v = node.verifier.lock().unwrap_or_else(|p| p.into_inner());
    let opts = otr_core::verify::VerifyOptions {
        time,
        policy: &node.policy,
        anchors: &node.anchors,
        verifier: &*v,
        verifying_keys: &super::spotcheck::verifying_keys(node),
        expected_request_hash: None,
        expected_weights_root: Some(node.engine.info().weights_root),
        expected_temperature_milli: None,
        expected_prompt: None,
    };
    let verified = otr_core::verify::verify_bundle(b, &opts)
        .map_err(|e| (otr_core::ErrorCode::code(&e).to_string(), e.to_string()))?;
    // A posted bundle's batch must be the one the settlement contract holds.
    if let (Some(r), Some(s)) = (&b.rollup, &node.settlement) {
        let root = s
            .batch_root(r.batch_index)
            .map_err(|e| ("CHAIN_READ".to_string(), e))?;
        verified
            .structure
            .check_batch(r.batch_index, &root)
            .map_err(|e| (otr_core::ErrorCode::code(&e).to_string(), e.to_string()))?;
    }
    Ok(())
}

async fn bundle(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(q): Query<BundleQuery>,
) -> Response {
    // Wait up to a few windows for the micro-batch holding this receipt.
    let deadline = std::time::Instant::now()
        + Duration::from_millis((node.config.batch_window_ms * 4).max(2000));
    loop {
        let n = node.clone();
        let id2 = id.clone();
        let built = tokio::task::spawn_blocking(move || build_bundle(&n, &id2)).await;
        match built {
            Ok(Ok(Some(b))) => {
                let n = node.clone();
                let b2 = b.clone();
                match tokio::task::spawn_blocking(move || self_check(&n, &b2)).await {
                    Ok(Ok(())) => {}
                    Ok(Err((code, msg))) => {
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "SELF_CHECK_FAILED",
                            format!("{code}: {msg}"),
                        )
                    }
                    Err(e) => {
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "SELF_CHECK_FAILED",
                            e.to_string(),
                        )
                    }
                }
                let mut resp = if q.format.as_deref() == Some("binary") {
                    ([("content-type", "application/vnd.otr.bundle")], b.encode()).into_response()
                } else {
                    ([("content-type", "application/json")], b.to_json()).into_response()
                };
                set_receipt_headers(resp.headers_mut(), &id, Some(&b.receipt));
                return resp;
            }
            Ok(Ok(None)) => match node.store.receipt(&id) {
                Ok(None) => {
                    return error(
                        StatusCode::NOT_FOUND,
                        "RECEIPT_NOT_FOUND",
                        format!("no receipt {id}"),
                    )
                }
                Ok(Some(_)) if std::time::Instant::now() < deadline => {
                    node.batch_now.notify_one();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Some(_)) => {
                    let mut r = error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "RECEIPT_PENDING",
                        "the receipt is not in an attested micro-batch yet; retry",
                    );
                    r.headers_mut()
                        .insert("retry-after", HeaderValue::from_static("1"));
                    return r;
                }
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "STORE_FAILED", e),
            },
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, "STORE_FAILED", e),
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "STORE_FAILED",
                    e.to_string(),
                )
            }
        }
    }
}

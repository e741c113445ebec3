//! `otr serve --receipts off`: plain OpenAI-compatible serving of the same engine over the same
//! HTTP stack, with NO receipt, NO store, NO micro-batches, NO attestation and NO chain. Its
//! answers are UNVERIFIABLE, and every surface says so: each response carries
//! `otr: {receipts: false, verifiable: false, warning}` and the header `x-otr-unverifiable`;
//! `/health` and `/v1/node` report `receipts: false`; the receipt routes answer `RECEIPTS_OFF`.
//! It exists to measure what receipts and attestation cost (scripts/bench-node.sh), and is
//! refused together with anything that would suggest attested answers (`NodeConfig::resolve`).

// Handlers return ready HTTP responses as their error type; boxing them gains nothing here.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::api::{error, now_secs, ReceiverStream};
use super::inference::Inference;
use super::NodeConfig;

/// What every surface of the receipts-off mode says.
pub const WARNING: &str =
    "receipts off: this answer has NO receipt and NO attestation; it is UNVERIFIABLE";

struct Plain {
    engine: Arc<dyn Inference>,
}

fn otr_field() -> Value {
    json!({ "receipts": false, "verifiable": false, "warning": WARNING })
}

fn mark(resp: &mut Response) {
    resp.headers_mut().insert(
        "x-otr-unverifiable",
        HeaderValue::from_static("receipts off"),
    );
}

/// The router of the receipts-off mode.
pub fn router(engine: Arc<dyn Inference>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/node", get(node_info))
        .route("/v1/models", get(models))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/receipts", any(receipts_off))
        .route("/v1/receipts/{*rest}", any(receipts_off))
        .with_state(Arc::new(Plain { engine }))
}

async fn health() -> Json<Value> {
    Json(
        json!({ "status": "ok", "receipts": false, "verifiable": false, "production": false,
                 "warning": WARNING }),
    )
}

async fn node_info(State(p): State<Arc<Plain>>) -> Json<Value> {
    Json(
        json!({ "receipts": false, "verifiable": false, "attestation": null, "production": false,
                 "warning": WARNING, "model": p.engine.info() }),
    )
}

async fn models(State(p): State<Arc<Plain>>) -> Json<Value> {
    let info = p.engine.info();
    Json(json!({ "object": "list", "data": [{
        "id": info.name, "object": "model", "created": 0, "owned_by": "otr", "otr": otr_field()
    }]}))
}

async fn receipts_off() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "RECEIPTS_OFF",
        "this node runs with --receipts off: it keeps no receipts and serves no bundles",
    )
}

async fn completions(State(p): State<Arc<Plain>>, body: Bytes) -> Response {
    serve(p, body, false).await
}

async fn chat_completions(State(p): State<Arc<Plain>>, body: Bytes) -> Response {
    serve(p, body, true).await
}

async fn serve(p: Arc<Plain>, body: Bytes, chat: bool) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, "INVALID_JSON", e.to_string()),
    };
    // The nonce only seeds sampling when the body has no `seed` (no receipt commits to it).
    let mut nonce = [0u8; 32];
    if getrandom::getrandom(&mut nonce).is_err() {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "NO_RANDOMNESS",
            "no randomness",
        );
    }
    let (prompt, sampling) =
        match super::api::prompt_and_sampling(p.engine.as_ref(), &v, chat, &nonce) {
            Ok(x) => x,
            Err(m) => return error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", m),
        };
    let info = p.engine.info();
    if let Some(m) = v["model"].as_str() {
        if m != info.name && m != "default" {
            return error(
                StatusCode::NOT_FOUND,
                "MODEL_NOT_FOUND",
                format!("this node serves `{}`, not `{m}`", info.name),
            );
        }
    }
    let mut idb = [0u8; 12];
    let _ = getrandom::getrandom(&mut idb);
    let id = format!("cmpl-plain-{}", hex::encode(idb));
    let created = now_secs();
    let object = if chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    if !v["stream"].as_bool().unwrap_or(false) {
        let engine = p.engine.clone();
        let g = match tokio::task::spawn_blocking(move || {
            engine.generate(&prompt, &sampling, &mut |_| true)
        })
        .await
        {
            Ok(Ok(g)) => g,
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, "ENGINE_FAILED", e),
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ENGINE_PANICKED",
                    e.to_string(),
                )
            }
        };
        let choice = if chat {
            json!({ "index": 0, "message": { "role": "assistant", "content": g.text }, "finish_reason": g.finish_reason })
        } else {
            json!({ "index": 0, "text": g.text, "finish_reason": g.finish_reason })
        };
        let mut resp = Json(json!({
            "id": id, "object": object, "created": created, "model": info.name,
            "choices": [choice],
            "usage": { "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                       "total_tokens": g.prompt_tokens + g.completion_tokens },
            "otr": otr_field(),
        }))
        .into_response();
        mark(&mut resp);
        return resp;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(64);
    let engine = p.engine.clone();
    let name = info.name.clone();
    tokio::task::spawn_blocking(move || {
        let chunk = |delta: Value, finish: Value| {
            let choice = if chat {
                json!({ "index": 0, "delta": delta, "finish_reason": finish })
            } else {
                json!({ "index": 0, "text": delta.get("content").cloned().unwrap_or(json!("")), "finish_reason": finish })
            };
            json!({ "id": id, "object": if chat { "chat.completion.chunk" } else { "text_completion" },
                    "created": created, "model": name, "choices": [choice] })
        };
        if chat {
            let _ =
                tx.blocking_send(Event::default().data(
                    chunk(json!({"role": "assistant", "content": ""}), Value::Null).to_string(),
                ));
        }
        let r = engine.generate(&prompt, &sampling, &mut |piece| {
            tx.blocking_send(
                Event::default().data(chunk(json!({ "content": piece }), Value::Null).to_string()),
            )
            .is_ok()
        });
        match r {
            Ok(g) => {
                let mut last = chunk(json!({}), json!(g.finish_reason));
                last["otr"] = otr_field();
                last["usage"] = json!({ "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                                        "total_tokens": g.prompt_tokens + g.completion_tokens });
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
    let mut resp = Sse::new(ReceiverStream(rx)).into_response();
    mark(&mut resp);
    resp
}

/// Runs the receipts-off server until Ctrl-C. Touches nothing in the data directory. Errors
/// are `(stable code, message)`.
pub fn run(config: NodeConfig) -> Result<(), (&'static str, String)> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| ("RUNTIME", e.to_string()))?;
    rt.block_on(async move {
        let model = config.model.clone();
        let engine = tokio::task::spawn_blocking(move || {
            super::engine_impl::load(&model, std::path::Path::new("."))
        })
        .await
        .map_err(|e| ("MODEL_LOAD", e.to_string()))?
        .map_err(|e| ("MODEL_LOAD", e))?;
        let listen = config.listen;
        eprintln!("otr: WARNING: {WARNING}");
        eprintln!(
            "otr: serving {} on http://{listen} with --receipts off (no receipts, no attestation, no store, no chain)",
            engine.info().name
        );
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ("LISTEN", format!("{listen}: {e}")))?;
        axum::serve(listener, router(engine))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| ("SERVE", e.to_string()))
    })
}

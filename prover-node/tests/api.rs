//! The node's API as an OpenAI client uses it: completions and chat, streaming and not, models,
//! receipts and bundles that verify, the request hash a client can recompute, typed errors.

mod common;

use common::{free_port, request, start};
use otr_core::attestation::Policy;
use otr_core::crypto::RustCrypto;
use otr_core::rollup::AnswerBundle;
use otr_core::verify::{verify_bundle, VerifyOptions};
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn openai_compatible_api_with_verifiable_receipts() {
    let data = std::env::temp_dir().join(format!("otr-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = free_port();
    let mut node = start(&data, port, &[]);

    let (s, _, body) = request(port, "GET", "/v1/models", "").unwrap();
    assert_eq!(s, 200);
    let models = json(&body);
    let weights_root = models["data"][0]["otr"]["weights_root"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(models["data"][0]["id"], "fixture-gemma3");

    // Non-streaming completion with a client nonce: the request hash is recomputable.
    let nonce = "11".repeat(32);
    let req = format!(
        r#"{{"model":"fixture-gemma3","prompt":"The sky is","max_tokens":5,"temperature":0,"otr_nonce":"{nonce}"}}"#
    );
    let (s, head, body) = request(port, "POST", "/v1/completions", &req).unwrap();
    assert_eq!(s, 200, "{body}");
    let v = json(&body);
    let id = v["otr"]["receipt_id"].as_str().unwrap().to_string();
    assert!(head.contains(&format!("x-otr-receipt-id: {id}")));
    assert!(head.contains("x-otr-receipt-hash: "));
    let expected_request = otr_core::rollup::request_hash(&[0x11; 32], req.as_bytes());
    assert_eq!(v["otr"]["request_hash"], hex::encode(expected_request));
    assert_eq!(v["usage"]["completion_tokens"].as_u64().unwrap(), 5);

    // A prompt longer than a dispute's claim of it fits in a transaction is refused up front.
    let long = format!(
        r#"{{"model":"fixture-gemma3","prompt":"{}","max_tokens":1}}"#,
        "a ".repeat(40_000)
    );
    let (s, _, e) = request(port, "POST", "/v1/completions", &long).unwrap();
    assert_eq!(s, 400, "{e}");
    assert!(
        e.contains("INVALID_REQUEST") && e.contains("at most 28000"),
        "{e}"
    );

    // Deterministic: the same request gives the same text.
    let (_, _, body2) = request(port, "POST", "/v1/completions", &req).unwrap();
    assert_eq!(json(&body2)["choices"][0]["text"], v["choices"][0]["text"]);

    // The bundle verifies with the client's own request hash and the model paid for.
    let (s, _, b) = request(port, "GET", &format!("/v1/receipts/{id}/bundle"), "").unwrap();
    assert_eq!(s, 200, "{b}");
    let bundle = AnswerBundle::from_json(&b).unwrap();
    let node_info = json(&request(port, "GET", "/v1/node", "").unwrap().2);
    let (anchors, policy, now) = common::dev_trust(port);
    let wr: [u8; 32] = hex::decode(&weights_root).unwrap().try_into().unwrap();
    let opts = VerifyOptions {
        time: now,
        policy: &policy,
        anchors: &anchors,
        verifier: &RustCrypto,
        verifying_keys: &[],
        expected_request_hash: Some(expected_request),
        expected_weights_root: Some(wr),
        // The request asked for `"temperature":0`: the receipt records greedy decoding.
        expected_temperature_milli: Some(0),
        // The completions API runs the prompt as it is (no chat template).
        expected_prompt: Some(b"The sky is"),
    };
    let verified = verify_bundle(&bundle, &opts).unwrap();
    assert!(verified.request_verified && verified.model_verified && verified.sampling_verified);
    assert!(verified.prompt_verified);
    let p = verified
        .prompt
        .as_ref()
        .expect("the bundle opens the PROMPT leaf");
    assert_eq!(p.text, "The sky is");
    assert_eq!(p.tokens, bundle.receipt.prompt_tokens);
    // Another prompt than the client's is refused, and so is a bundle without the opening when
    // the client asks for the check, or with an opening that is not the trace's leaf 0.
    let e = verify_bundle(
        &bundle,
        &VerifyOptions {
            expected_prompt: Some(b"The sea is"),
            ..opts
        },
    )
    .unwrap_err();
    assert_eq!(otr_core::ErrorCode::code(&e), "RECEIPT_PROMPT_MISMATCH");
    let mut bare = bundle.clone();
    bare.prompt = None;
    let e = verify_bundle(&bare, &opts).unwrap_err();
    assert_eq!(otr_core::ErrorCode::code(&e), "PROMPT_NOT_OPENED");
    let mut forged = bundle.clone();
    let o = forged.prompt.as_mut().unwrap();
    let last = o.prompt.len() - 5; // a byte of the text's last token id
    o.prompt[last] ^= 1;
    let e = verify_bundle(&forged, &opts).unwrap_err();
    assert_eq!(otr_core::ErrorCode::code(&e), "PROMPT_OPENING_INVALID");
    let mut forged = bundle.clone();
    forged.prompt.as_mut().unwrap().prompt[4] ^= 0x20; // the text, its tokens unchanged
    let e = verify_bundle(&forged, &opts).unwrap_err();
    assert_eq!(otr_core::ErrorCode::code(&e), "PROMPT_OPENING_INVALID");
    let e = verify_bundle(
        &bundle,
        &VerifyOptions {
            expected_temperature_milli: Some(700),
            expected_prompt: None,
            ..opts
        },
    )
    .unwrap_err();
    assert_eq!(otr_core::ErrorCode::code(&e), "RECEIPT_SAMPLING_MISMATCH");
    // The output hash is over exactly the text returned.
    assert_eq!(
        bundle.receipt.output_hash,
        otr_core::rollup::OutputHasher::digest(
            v["choices"][0]["text"].as_str().unwrap().as_bytes()
        )
    );
    // The default policy refuses dev evidence.
    let strict = Policy::default();
    let e = verify_bundle(
        &bundle,
        &VerifyOptions {
            policy: &strict,
            ..opts
        },
    )
    .unwrap_err();
    assert_eq!(otr_core::ErrorCode::code(&e), "POLICY_DEV_ROOT");
    let bin = request(
        port,
        "GET",
        &format!("/v1/receipts/{id}/bundle?format=binary"),
        "",
    )
    .unwrap();
    assert_eq!(bin.0, 200);
    // `otr verify bundle URL` fetches and verifies the same bundle.
    let root_file = data.join("dev-root.pem");
    std::fs::write(&root_file, node_info["dev_root_pem"].as_str().unwrap()).unwrap();
    let policy_file = data.join("dev-policy.json");
    std::fs::write(
        &policy_file,
        r#"{"allow_dev_roots": true, "require_rims": false, "require_ocsp": false}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otr"))
        .args([
            "verify",
            "bundle",
            &format!("http://127.0.0.1:{port}/v1/receipts/{id}/bundle"),
        ])
        .args(["--request-hash", &hex::encode(expected_request)])
        .arg("--dev-root")
        .arg(&root_file)
        .arg("--policy")
        .arg(&policy_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["request_verified"],
        true
    );

    // Streaming chat: deltas, then a final event with the receipt, then [DONE].
    let req = r#"{"model":"fixture-gemma3","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":4,"stream":true,"seed":3}"#;
    let (s, head, body) = request(port, "POST", "/v1/chat/completions", req).unwrap();
    assert_eq!(s, 200);
    assert!(head.contains("text/event-stream") && head.contains("x-otr-receipt-id: rcpt_"));
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let last = json(events[events.len() - 2]);
    let streamed: String = events[..events.len() - 2]
        .iter()
        .map(|e| {
            json(e)["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let sid = last["otr"]["receipt_id"].as_str().unwrap();
    let (_, _, sb) = request(port, "GET", &format!("/v1/receipts/{sid}/bundle"), "").unwrap();
    let sbundle = AnswerBundle::from_json(&sb).unwrap();
    assert_eq!(
        sbundle.receipt.output_hash,
        otr_core::rollup::OutputHasher::digest(streamed.as_bytes()),
        "stream hash covers exactly the bytes sent"
    );
    assert_eq!(sbundle.receipt.sampling.seed, 3);

    // Typed errors.
    for (path, body, status, code) in [
        ("/v1/completions", "{not json", 400, "INVALID_JSON"),
        (
            "/v1/completions",
            r#"{"prompt": 5}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            "/v1/completions",
            r#"{"prompt": "x", "max_tokens": 0}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            "/v1/completions",
            r#"{"prompt": "x", "otr_nonce": "zz"}"#,
            400,
            "INVALID_REQUEST",
        ),
        (
            "/v1/completions",
            r#"{"prompt": "x", "model": "gpt-9"}"#,
            404,
            "MODEL_NOT_FOUND",
        ),
        (
            "/v1/chat/completions",
            r#"{"messages": "hi"}"#,
            400,
            "INVALID_REQUEST",
        ),
    ] {
        let (s, _, b) = request(port, "POST", path, body).unwrap();
        assert_eq!(
            (s, json(&b)["error"]["code"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
    }
    let (s, _, b) = request(port, "GET", "/v1/receipts/rcpt_nope/bundle", "").unwrap();
    assert_eq!(
        (s, json(&b)["error"]["code"].as_str().unwrap()),
        (404, "RECEIPT_NOT_FOUND")
    );

    node.kill().unwrap();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn per_request_micro_batches_chain_headers() {
    let data = std::env::temp_dir().join(format!("otr-api-pr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = free_port();
    let mut node = start(&data, port, &["--batch-window-ms", "0"]);
    let mut headers = Vec::new();
    for i in 0..3 {
        let (_, _, body) = request(
            port,
            "POST",
            "/v1/completions",
            &format!(r#"{{"prompt":"n{i}","max_tokens":2}}"#),
        )
        .unwrap();
        let id = json(&body)["otr"]["receipt_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, _, b) = request(port, "GET", &format!("/v1/receipts/{id}/bundle"), "").unwrap();
        assert_eq!(s, 200, "{b}");
        headers.push(AnswerBundle::from_json(&b).unwrap().header);
    }
    for w in headers.windows(2) {
        otr_core::rollup::verify_chain_link(&w[0], &w[1]).unwrap();
        assert_eq!(w[1].receipt_count, 1);
    }
    node.kill().unwrap();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&data);
}

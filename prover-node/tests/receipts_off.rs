//! `otr serve --receipts off`: the same engine over the same HTTP stack with no receipts, no
//! store, no attestation and no chain. Every surface says the answers are unverifiable, nothing
//! is written to the data directory, and the mode is refused with anything that would suggest
//! attested answers.

mod common;

use std::process::Command;

use common::{free_port, http, request, start};
use serde_json::{json, Value};

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn completion(port: u16, prompt: &str) -> (u16, String, Value) {
    let body = json!({"prompt": prompt, "max_tokens": 6, "temperature": 0, "seed": 3}).to_string();
    let (status, head, body) = request(port, "POST", "/v1/completions", &body).unwrap();
    (status, head, serde_json::from_str(&body).unwrap())
}

#[test]
fn receipts_off_serves_the_same_engine_and_says_it_is_unverifiable() {
    let tmp = std::env::temp_dir().join(format!("otr-receipts-off-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let off_dir = tmp.join("off");
    let on_dir = tmp.join("on");
    let (off_port, on_port) = (free_port(), free_port());
    let off = start(&off_dir, off_port, &["--receipts", "off"]);
    let on = start(&on_dir, on_port, &["--chain", "none"]);

    // Plain completion: same text and usage as the receipts-on node, no receipt, marked.
    let (s, head, v) = completion(off_port, "The sky is");
    assert_eq!(s, 200, "{v}");
    assert!(head.contains("x-otr-unverifiable: receipts off"), "{head}");
    assert_eq!(v["otr"]["receipts"], false);
    assert_eq!(v["otr"]["verifiable"], false);
    assert!(v["otr"]["warning"]
        .as_str()
        .unwrap()
        .contains("UNVERIFIABLE"));
    assert!(v["otr"].get("receipt_id").is_none());
    assert!(!head.contains("x-otr-receipt-id"));
    let (s2, head2, v2) = completion(on_port, "The sky is");
    assert_eq!(s2, 200, "{v2}");
    assert!(head2.contains("x-otr-receipt-id"));
    assert_eq!(v["choices"][0]["text"], v2["choices"][0]["text"]);
    assert_eq!(v["usage"], v2["usage"]);
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    // Chat, streamed: the final event is marked too.
    let body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
                      "temperature": 0, "seed": 1, "stream": true})
    .to_string();
    let (s, head, sse) = request(off_port, "POST", "/v1/chat/completions", &body).unwrap();
    assert_eq!(s, 200);
    assert!(head.contains("x-otr-unverifiable"), "{head}");
    assert!(sse.contains("[DONE]"), "{sse}");
    let last: Value = sse
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .rfind(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .unwrap();
    assert_eq!(last["otr"]["verifiable"], false);

    // Surfaces: health and node info say receipts are off; receipt routes are typed errors.
    let h: Value = serde_json::from_str(&http(off_port, "GET", "/health", "").unwrap().1).unwrap();
    assert_eq!(h["receipts"], false);
    assert_eq!(h["verifiable"], false);
    let n: Value = serde_json::from_str(&http(off_port, "GET", "/v1/node", "").unwrap().1).unwrap();
    assert_eq!(n["receipts"], false);
    assert_eq!(n["production"], false);
    for path in ["/v1/receipts", "/v1/receipts/rcpt_x/bundle"] {
        let (s, b) = http(off_port, "GET", path, "").unwrap();
        assert_eq!(s, 404, "{path}");
        assert!(b.contains("RECEIPTS_OFF"), "{b}");
    }
    // Bad input is a typed error, not a crash.
    let (s, b) = http(off_port, "POST", "/v1/completions", "{not json").unwrap();
    assert_eq!(s, 400);
    assert!(b.contains("INVALID_JSON"));
    let (s, b) = http(
        off_port,
        "POST",
        "/v1/completions",
        r#"{"prompt": "x", "max_tokens": 0}"#,
    )
    .unwrap();
    assert_eq!(s, 400);
    assert!(b.contains("INVALID_REQUEST"));

    stop(off);
    stop(on);
    // No store, no key, no dev GPU, no chain: nothing written.
    assert!(
        !off_dir.exists() || std::fs::read_dir(&off_dir).unwrap().next().is_none(),
        "the receipts-off node wrote to its data directory"
    );
    assert!(on_dir.join("node.sqlite3").exists());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn receipts_off_is_refused_with_anything_that_suggests_attestation() {
    let dir = std::env::temp_dir().join(format!("otr-receipts-off-refused-{}", std::process::id()));
    for extra in [
        &["--attestation", "nvidia"][..],
        &["--chain", "embedded"][..],
        &["--publish-requests"][..],
        &["--dev-cheat-every", "3"][..],
        &["--zk-params", "/nonexistent"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_otr"))
            .args(["serve", "--receipts", "off", "--model", "fixture-gemma3"])
            .args(extra)
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("error: CONFIG:") && err.contains("--receipts off"),
            "{extra:?}: {err}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(["serve", "--receipts", "maybe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--receipts must be `on` or `off`"));
    assert!(!dir.exists());
}

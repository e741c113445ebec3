//! Micro-batching: every window, the pending receipts become one signed, attested header.

use std::sync::Arc;
use std::time::Duration;

use otr_core::rollup::{merkle, MicroBatchHeader};

use super::Node;

/// Most receipts in one micro-batch.
pub const MAX_BATCH: usize = 1024;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Closes one micro-batch if receipts are pending. Returns how many receipts it batched.
pub fn close_batch(node: &Node) -> Result<usize, String> {
    let pending = node.store.pending(MAX_BATCH)?;
    if pending.is_empty() {
        return Ok(0);
    }
    let (seq, prev) = match node.store.last_header()? {
        Some((s, h)) => (s + 1, h),
        None => (0, [0u8; 32]),
    };
    let leaves: Vec<[u8; 32]> = pending.iter().map(|(_, h)| *h).collect();
    let header = MicroBatchHeader {
        version: 1,
        chain_id: node.config.chain_id,
        node_address: otr_core::rollup::eth_address(node.node_key.verifying_key()),
        sequence: seq,
        prev_header_hash: prev,
        receipts_root: merkle::root(&leaves),
        receipt_count: leaves.len() as u32,
        timestamp: now_secs(),
    };
    let signature = header.sign(&node.node_key).map_err(|e| e.to_string())?;
    // The GPU signs the header hash: this is what binds the receipts to the hardware.
    let evidence = node.attestor.attest(header.header_hash())?;
    let ids: Vec<String> = pending.into_iter().map(|(id, _)| id).collect();
    node.store
        .commit_batch(&header, &signature, &evidence, &ids)?;
    Ok(ids.len())
}

/// Runs forever: closes a micro-batch every window, or at once when woken (window 0).
pub async fn run(node: Arc<Node>) {
    let window = Duration::from_millis(node.config.batch_window_ms.max(1));
    loop {
        if node.config.batch_window_ms == 0 {
            node.batch_now.notified().await;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(window) => {}
                _ = node.batch_now.notified() => {}
            }
        }
        let n = node.clone();
        match tokio::task::spawn_blocking(move || close_batch(&n)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("otr: micro-batch failed, will retry: {e}"),
            Err(e) => eprintln!("otr: micro-batch task panicked: {e}"),
        }
    }
}

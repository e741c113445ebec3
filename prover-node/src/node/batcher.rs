//! Micro-batching: every window, the pending receipts become one signed, attested header. The
//! poster ([`run_poster`]) posts the closed headers not yet on-chain as one rollup batch every
//! `--post-interval-ms`.

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

/// Brings the store's record of posted headers in line with the chain (the chain is the truth):
/// batches in the chain file but not in the store (a crash after the chain was saved) are
/// recorded; store rows the chain does not have are forgotten, so those headers are posted again.
pub fn reconcile(node: &Node) -> Result<(), String> {
    let Some(s) = &node.settlement else {
        return Ok(());
    };
    let (chain_next, _) = s.head()?;
    let store_next = node.store.next_unposted()?;
    if chain_next > store_next {
        let batches = s.node_batches_from(store_next)?;
        for b in batches {
            eprintln!(
                "otr: recovered rollup batch {} (headers {}..{}) from the chain file",
                b.index,
                b.first_sequence,
                b.first_sequence + b.header_count as u64
            );
            node.store.record_rollup(&b.into())?;
        }
        let now = node.store.next_unposted()?;
        if now != chain_next {
            return Err(format!(
                "the chain has this node's headers up to {chain_next}, the store could recover only up to {now}"
            ));
        }
    } else if chain_next < store_next {
        eprintln!(
            "otr: WARNING: the chain file has this node's headers only up to sequence {chain_next}, \
             the store recorded posts up to {store_next}; posting them again"
        );
        node.store.forget_rollup_from(chain_next)?;
    }
    Ok(())
}

/// Posts the closed micro-batch headers not yet on-chain as one rollup batch (at most
/// `MAX_HEADERS_PER_BATCH`). Returns how many headers it posted. A header is recorded as posted
/// only after the chain holding the batch was saved.
pub fn post_pending(node: &Node) -> Result<usize, String> {
    let Some(s) = &node.settlement else {
        return Ok(0);
    };
    reconcile(node)?;
    let (next, last_hash) = s.head()?;
    let headers = node
        .store
        .headers_from(next, super::settlement::MAX_HEADERS_PER_BATCH)?;
    let Some(first) = headers.first() else {
        return Ok(0);
    };
    if first.sequence != next || first.prev_header_hash != last_hash {
        return Err(format!(
            "the store's header {} does not continue the on-chain header chain (next sequence {next}); \
             the store and {} belong to different histories",
            first.sequence,
            s.chain_path().display()
        ));
    }
    let posted = s.post(&headers)?;
    node.store.record_rollup(&posted)?;
    Ok(headers.len())
}

/// Runs forever: posts a rollup batch every `post_interval_ms` when headers are waiting.
pub async fn run_poster(node: Arc<Node>) {
    if node.settlement.is_none() {
        return;
    }
    let interval = Duration::from_millis(node.config.post_interval_ms.max(1));
    loop {
        tokio::time::sleep(interval).await;
        let n = node.clone();
        match tokio::task::spawn_blocking(move || post_pending(&n)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("otr: rollup post failed, will retry: {e}"),
            Err(e) => eprintln!("otr: rollup post task panicked: {e}"),
        }
    }
}

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

/// Nice increment of the micro-batch thread (closing a batch: store reads, header signature,
/// attestation, one commit). Lower than the engine's threads, which run at the process's own
/// priority, but not so low that provisional finality waits long under full load.
pub const BATCHER_NICE: i32 = 5;
/// Nice increment of the rollup poster thread (EVM execution and the chain file's save).
pub const POSTER_NICE: i32 = 10;

/// Lowers the calling thread's priority by `delta` nice steps (Linux: per thread). Returns the
/// thread's nice value after the change, or `None` where it could not be changed. Only ever
/// lowers: an unprivileged process cannot raise a thread's priority back, which is why the
/// background work gets threads of its own instead of the blocking pool the engine runs on.
pub fn lower_thread_priority(delta: i32) -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's id; no memory is passed.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            let want = (now + delta.max(0)).min(19);
            (libc::setpriority(libc::PRIO_PROCESS, tid, want) == 0).then_some(want)
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = delta;
        None
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A dedicated OS thread at lowered priority that runs jobs one at a time, so background work
/// (batch closing, posting) neither takes a thread of the blocking pool the engine's requests
/// run on nor competes with them at equal priority.
pub struct Background {
    tx: std::sync::mpsc::Sender<Job>,
}

impl Background {
    pub fn spawn(name: &str, nice: i32) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                lower_thread_priority(nice);
                for job in rx {
                    // A panicking job drops its reply sender: the caller sees it, the thread lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        Ok(Background { tx })
    }

    /// Runs `f` on the thread and waits for its result; `Err` if it panicked.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| "background thread is gone".to_string())?;
        rx.await.map_err(|_| "background job panicked".to_string())
    }
}

/// Runs `f` on `bg`, or on the blocking pool when the dedicated thread could not be started.
async fn off_runtime<R: Send + 'static>(
    bg: &Option<Background>,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, String> {
    match bg {
        Some(b) => b.run(f).await,
        None => tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| e.to_string()),
    }
}

fn background(name: &str, nice: i32) -> Option<Background> {
    Background::spawn(name, nice)
        .map_err(|e| eprintln!("otr: no {name} thread ({e}); using the blocking pool"))
        .ok()
}

/// Runs forever: closes a micro-batch every window, or at once when woken (window 0). The
/// closing runs on the dedicated `otr-batcher` thread at nice +[`BATCHER_NICE`].
pub async fn run(node: Arc<Node>) {
    let window = Duration::from_millis(node.config.batch_window_ms.max(1));
    let bg = background("otr-batcher", BATCHER_NICE);
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
        match off_runtime(&bg, move || close_batch(&n)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("otr: micro-batch failed, will retry: {e}"),
            Err(e) => eprintln!("otr: micro-batch task failed: {e}"),
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
            "otr: WARNING: the chain has this node's headers only up to sequence {chain_next} \
             (a reorganization, or an older chain file), the store recorded posts up to \
             {store_next}; posting them again"
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

/// The poster's time budget: after a post whose CPU time (the poster's and the chain thread's:
/// EVM execution and the chain's save — a journal append of what changed, and now and then a
/// compaction into a new snapshot whose cost grows with the chain's history) was `c`, the next
/// post waits at least `POSTER_DUTY_DIVISOR * c`, so posting takes at most about 1% of a core
/// however long the history grows; never less than `--post-interval-ms`, never more than
/// [`POSTER_MAX_INTERVAL`] (unless configured so).
pub const POSTER_DUTY_DIVISOR: u32 = 100;
/// The longest the duty budget stretches the posting interval.
pub const POSTER_MAX_INTERVAL: Duration = Duration::from_secs(60);

/// How long the poster waits before its next post. A full batch (a backlog) waits only the
/// configured interval.
pub fn next_post_wait(configured: Duration, last_post_cpu: Duration, full: bool) -> Duration {
    if full {
        return configured;
    }
    configured.max((last_post_cpu * POSTER_DUTY_DIVISOR).min(POSTER_MAX_INTERVAL))
}

/// On-CPU time of thread `tid` of this process (Linux `schedstat`), if readable.
fn thread_cpu(tid: &str) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    s.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// The id of this process's thread named `name`, if there is one (Linux).
fn thread_named(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .find(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

/// Runs forever: posts a rollup batch every `post_interval_ms` when headers are waiting (or
/// less often, by [`next_post_wait`], once the chain's save grows costly), on the dedicated
/// `otr-poster` thread at nice +[`POSTER_NICE`].
pub async fn run_poster(node: Arc<Node>) {
    if node.settlement.is_none() {
        return;
    }
    let interval = Duration::from_millis(node.config.post_interval_ms.max(1));
    let bg = background("otr-poster", POSTER_NICE);
    let chain_tid = thread_named("otr-chain");
    let mut wait = interval;
    loop {
        tokio::time::sleep(wait).await;
        let n = node.clone();
        let chain0 = chain_tid.as_deref().and_then(thread_cpu);
        let res = off_runtime(&bg, move || {
            let me = own_thread_cpu();
            let r = post_pending(&n);
            (r, own_thread_cpu().saturating_sub(me))
        })
        .await;
        let chain = match (chain0, chain_tid.as_deref().and_then(thread_cpu)) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        let (cpu, full) = match res {
            Ok((Ok(k), own)) => (own + chain, k >= super::settlement::MAX_HEADERS_PER_BATCH),
            Ok((Err(e), own)) => {
                eprintln!("otr: rollup post failed, will retry: {e}");
                (own + chain, false)
            }
            Err(e) => {
                eprintln!("otr: rollup post task failed: {e}");
                (chain, false)
            }
        };
        wait = next_post_wait(interval, cpu, full);
    }
}

/// CPU time of the calling thread (zero where unavailable).
fn own_thread_cpu() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_interval_keeps_the_duty_budget() {
        let c = Duration::from_millis(2000);
        // Cheap posts: the configured interval.
        assert_eq!(next_post_wait(c, Duration::from_millis(1), false), c);
        // A 40 ms post (a compaction of a chain of about 20 MB here): 4 s until the next.
        assert_eq!(
            next_post_wait(c, Duration::from_millis(40), false),
            Duration::from_secs(4)
        );
        // Bounded above, unless configured longer; a backlog does not wait the budget.
        assert_eq!(
            next_post_wait(c, Duration::from_secs(5), false),
            POSTER_MAX_INTERVAL
        );
        let long = Duration::from_secs(120);
        assert_eq!(next_post_wait(long, Duration::from_secs(5), false), long);
        assert_eq!(next_post_wait(c, Duration::from_secs(5), true), c);
    }

    #[test]
    fn background_threads_run_jobs_at_lower_priority() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bg = Background::spawn("otr-test-bg", 3).unwrap();
        let (name, nice) = rt
            .block_on(bg.run(|| {
                // SAFETY: reads the calling thread's own priority.
                let nice = unsafe {
                    libc::getpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as _)
                };
                (std::thread::current().name().map(String::from), nice)
            }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("otr-test-bg"));
        // SAFETY: reads the process's priority.
        let base = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert_eq!(nice, (base + 3).min(19));
        // A panicking job is reported, and the thread keeps serving.
        assert!(rt.block_on(bg.run(|| panic!("boom"))).is_err());
        assert_eq!(rt.block_on(bg.run(|| 7)).unwrap(), 7);
    }
}

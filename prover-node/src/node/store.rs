//! Durable storage (SQLite, WAL, `synchronous=FULL`): receipts, micro-batch headers, evidence.
//!
//! Durability rule (docs/NODE.md): a receipt is durable once `insert_receipt` returned, which the
//! API waits for before it sends the part of a response that carries the receipt id. A
//! micro-batch (header, signature, GPU evidence, and the assignment of its receipts) is committed
//! in one transaction. After a crash, receipts not yet in a micro-batch are batched again.

use std::path::Path;
use std::sync::Mutex;

use otr_core::rollup::{HeaderSignature, MicroBatchHeader, Receipt};

use super::inference::RunKind;
use super::settlement::PostedBatch;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::Digest;
use std::sync::atomic::{AtomicU64, Ordering};

/// GPU evidence stored with a micro-batch header.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StoredEvidence {
    pub report: Vec<u8>,
    pub chain_pem: String,
    pub rims: Vec<String>,
    pub ocsp: Vec<Vec<u8>>,
    pub dev: bool,
}

/// The part of [`StoredEvidence`] that is the same for many micro-batches (the device's
/// certificate chain, the RIMs and OCSP answers, which change only when refreshed): stored once
/// in the `collateral` table under the SHA-256 of its JSON, and referenced by each header row,
/// which holds only its own report. (Rows written before this layout hold the whole evidence as
/// JSON in `headers.evidence`; both are read.)
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Collateral {
    chain_pem: String,
    rims: Vec<String>,
    /// Hex, not JSON arrays of numbers.
    ocsp: Vec<String>,
    dev: bool,
}

impl Collateral {
    fn of(e: &StoredEvidence) -> Self {
        Collateral {
            chain_pem: e.chain_pem.clone(),
            rims: e.rims.clone(),
            ocsp: e.ocsp.iter().map(hex::encode).collect(),
            dev: e.dev,
        }
    }

    fn with_report(self, report: Vec<u8>) -> Result<StoredEvidence, String> {
        Ok(StoredEvidence {
            report,
            chain_pem: self.chain_pem,
            rims: self.rims,
            ocsp: self
                .ocsp
                .iter()
                .map(|h| hex::decode(h).map_err(err))
                .collect::<Result<_, _>>()?,
            dev: self.dev,
        })
    }
}

/// A micro-batch as stored.
#[derive(Clone, Debug)]
pub struct StoredBatch {
    pub header: MicroBatchHeader,
    pub signature: HeaderSignature,
    pub evidence: StoredEvidence,
    /// Receipt hashes in leaf order.
    pub leaves: Vec<[u8; 32]>,
}

/// A receipt's leaf index in its micro-batch, and the micro-batch.
pub type Batched = (u32, StoredBatch);

/// Where a micro-batch header sits in a posted rollup batch.
#[derive(Clone, Debug)]
pub struct RollupPosition {
    pub batch: PostedBatch,
    /// The header's index in the batch.
    pub position: u32,
    /// Header hashes of the whole batch, in the order posted.
    pub header_hashes: Vec<[u8; 32]>,
}

/// The request behind a receipt, kept at answer time (in the receipt's transaction) so the node
/// can re-execute it to defend a dispute, and publish it with `--publish-requests`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRequest {
    /// `/v1/chat/completions` (true) or `/v1/completions`.
    pub chat: bool,
    /// The nonce the receipt's `request_hash` commits to (the client's `otr_nonce`, or the
    /// node's random one).
    pub nonce: [u8; 32],
    /// The exact request body bytes.
    pub body: Vec<u8>,
    /// How the node ran it (dev cheat runs are `RunKind::Cheat`).
    pub run: RunKind,
}

pub struct Store {
    conn: Mutex<Connection>,
    /// Answers counted so far (receipts stored), for `--dev-cheat-every`.
    answers: AtomicU64,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("store: {e}")
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA foreign_keys=ON;
             CREATE TABLE IF NOT EXISTS headers (
                 seq INTEGER PRIMARY KEY,
                 header BLOB NOT NULL,
                 header_hash BLOB NOT NULL,
                 signature BLOB NOT NULL,
                 evidence TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS receipts (
                 n INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL UNIQUE,
                 receipt BLOB NOT NULL,
                 receipt_hash BLOB NOT NULL,
                 batch_seq INTEGER REFERENCES headers(seq),
                 leaf_index INTEGER
             );
             CREATE INDEX IF NOT EXISTS receipts_pending ON receipts(batch_seq, n);
             CREATE TABLE IF NOT EXISTS rollup_batches (
                 batch_index INTEGER PRIMARY KEY,
                 root BLOB NOT NULL,
                 first_seq INTEGER NOT NULL,
                 size INTEGER NOT NULL,
                 posted_at INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS rollup (
                 seq INTEGER PRIMARY KEY REFERENCES headers(seq),
                 batch_index INTEGER NOT NULL REFERENCES rollup_batches(batch_index),
                 position INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS requests (
                 id TEXT PRIMARY KEY REFERENCES receipts(id),
                 chat INTEGER NOT NULL,
                 nonce BLOB NOT NULL,
                 body BLOB NOT NULL,
                 run TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS receipts_by_hash ON receipts(receipt_hash);
             CREATE TABLE IF NOT EXISTS prompt_openings (
                 id TEXT PRIMARY KEY REFERENCES receipts(id),
                 prompt BLOB NOT NULL,
                 path BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS collateral (
                 hash BLOB PRIMARY KEY,
                 body TEXT NOT NULL
             );",
        )
        .map_err(err)?;
        // Header rows reference shared collateral and hold only their report (added columns:
        // stores made before keep their rows, whose `evidence` column holds everything).
        let cols: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('headers')")
            .and_then(|mut st| {
                st.query_map([], |row| row.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(err)?;
        if !cols.iter().any(|c| c == "report") {
            conn.execute_batch(
                "ALTER TABLE headers ADD COLUMN report BLOB;
                 ALTER TABLE headers ADD COLUMN collateral BLOB REFERENCES collateral(hash);",
            )
            .map_err(err)?;
        }
        let answers: i64 = conn
            .query_row("SELECT COUNT(*) FROM receipts", [], |row| row.get(0))
            .map_err(err)?;
        Ok(Store {
            conn: Mutex::new(conn),
            answers: AtomicU64::new(answers as u64),
        })
    }

    /// Counts one more answer and returns its number (1 for the first answer ever stored).
    pub fn next_answer(&self) -> u64 {
        self.answers.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Commits a receipt, the request it answers and its trace's opened `PROMPT` leaf (when the
    /// engine gives one) in one transaction.
    pub fn insert_receipt_with_request(
        &self,
        id: &str,
        r: &Receipt,
        req: &StoredRequest,
        prompt: Option<&otr_core::rollup::PromptOpening>,
    ) -> Result<(), String> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO receipts (id, receipt, receipt_hash) VALUES (?1, ?2, ?3)",
            params![id, r.encode(), r.receipt_hash().to_vec()],
        )
        .map_err(err)?;
        let run = match req.run {
            RunKind::Honest => "honest",
            RunKind::Cheat => "cheat",
            RunKind::CheatToken => "cheat_token",
            RunKind::CheatLogits => "cheat_logits",
            RunKind::CheatMatrix => "cheat_matrix",
            RunKind::CheatAttn => "cheat_attn",
            RunKind::CheatPrompt => "cheat_prompt",
            RunKind::CheatSplit => "cheat_split",
            RunKind::CheatResplit => "cheat_resplit",
            RunKind::CheatBytes => "cheat_bytes",
            RunKind::CheatSpell => "cheat_spell",
        };
        tx.execute(
            "INSERT INTO requests (id, chat, nonce, body, run) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, req.chat as i64, req.nonce.to_vec(), req.body, run],
        )
        .map_err(err)?;
        if let Some(p) = prompt {
            tx.execute(
                "INSERT INTO prompt_openings (id, prompt, path) VALUES (?1, ?2, ?3)",
                params![id, p.prompt, p.path.concat()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The opened `PROMPT` leaf of receipt `id`'s trace, if the node kept it.
    pub fn prompt_opening(
        &self,
        id: &str,
    ) -> Result<Option<otr_core::rollup::PromptOpening>, String> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT prompt, path FROM prompt_openings WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        Ok(row.and_then(|(prompt, path)| {
            path.len()
                .is_multiple_of(32)
                .then(|| otr_core::rollup::PromptOpening {
                    prompt,
                    path: path
                        .chunks_exact(32)
                        .map(|c| c.try_into().expect("32 bytes"))
                        .collect(),
                })
        }))
    }

    /// The request behind receipt `id`, if the node kept it.
    pub fn request(&self, id: &str) -> Result<Option<StoredRequest>, String> {
        let row = self
            .conn()
            .query_row(
                "SELECT chat, nonce, body, run FROM requests WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let Some((chat, nonce, body, run)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredRequest {
            chat: chat != 0,
            nonce: nonce.try_into().map_err(|_| err("bad nonce length"))?,
            body,
            run: match run.as_str() {
                "honest" => RunKind::Honest,
                "cheat" => RunKind::Cheat,
                "cheat_token" => RunKind::CheatToken,
                "cheat_logits" => RunKind::CheatLogits,
                "cheat_matrix" => RunKind::CheatMatrix,
                "cheat_attn" => RunKind::CheatAttn,
                "cheat_prompt" => RunKind::CheatPrompt,
                "cheat_split" => RunKind::CheatSplit,
                "cheat_resplit" => RunKind::CheatResplit,
                "cheat_bytes" => RunKind::CheatBytes,
                "cheat_spell" => RunKind::CheatSpell,
                other => return Err(err(format!("unknown run kind {other}"))),
            },
        }))
    }

    /// The id and receipt whose receipt hash is `hash`.
    pub fn receipt_by_hash(&self, hash: &[u8; 32]) -> Result<Option<(String, Receipt)>, String> {
        let row = self
            .conn()
            .query_row(
                "SELECT id, receipt FROM receipts WHERE receipt_hash = ?1",
                [hash.to_vec()],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(err)?;
        row.map(|(id, b)| Ok((id, Receipt::decode(&b).map_err(err)?)))
            .transpose()
    }

    /// Runs `f` on the connection (for modules that keep tables of their own: spot-checks).
    pub fn with_conn<R>(&self, f: impl FnOnce(&Connection) -> R) -> R {
        f(&self.conn())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits a receipt. When this returns, the receipt survives a crash.
    pub fn insert_receipt(&self, id: &str, r: &Receipt) -> Result<(), String> {
        self.conn()
            .execute(
                "INSERT INTO receipts (id, receipt, receipt_hash) VALUES (?1, ?2, ?3)",
                params![id, r.encode(), r.receipt_hash().to_vec()],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Receipts not yet in a micro-batch, oldest first.
    pub fn pending(&self, limit: usize) -> Result<Vec<(String, [u8; 32])>, String> {
        let c = self.conn();
        let mut st = c
            .prepare(
                "SELECT id, receipt_hash FROM receipts WHERE batch_seq IS NULL ORDER BY n LIMIT ?1",
            )
            .map_err(err)?;
        let rows = st
            .query_map([limit as i64], |row| {
                let h: Vec<u8> = row.get(1)?;
                Ok((row.get::<_, String>(0)?, h))
            })
            .map_err(err)?;
        rows.map(|r| {
            let (id, h) = r.map_err(err)?;
            Ok((
                id,
                h.try_into().map_err(|_| err("bad receipt hash length"))?,
            ))
        })
        .collect()
    }

    /// The last committed header's sequence and hash.
    pub fn last_header(&self) -> Result<Option<(u64, [u8; 32])>, String> {
        self.conn()
            .query_row(
                "SELECT seq, header_hash FROM headers ORDER BY seq DESC LIMIT 1",
                [],
                |row| {
                    let h: Vec<u8> = row.get(1)?;
                    Ok((row.get::<_, i64>(0)? as u64, h))
                },
            )
            .optional()
            .map_err(err)?
            .map(|(s, h)| Ok((s, h.try_into().map_err(|_| err("bad header hash length"))?)))
            .transpose()
    }

    /// Commits a micro-batch and assigns its receipts (in leaf order) in one transaction.
    pub fn commit_batch(
        &self,
        header: &MicroBatchHeader,
        sig: &HeaderSignature,
        evidence: &StoredEvidence,
        ids: &[String],
    ) -> Result<(), String> {
        let body = serde_json::to_string(&Collateral::of(evidence)).map_err(err)?;
        let hash: [u8; 32] = sha2::Sha256::digest(body.as_bytes()).into();
        let mut c = self.conn();
        let tx = c.transaction().map_err(err)?;
        tx.execute(
            "INSERT OR IGNORE INTO collateral (hash, body) VALUES (?1, ?2)",
            params![hash.to_vec(), body],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO headers (seq, header, header_hash, signature, evidence, report, collateral) \
             VALUES (?1, ?2, ?3, ?4, '', ?5, ?6)",
            params![
                header.sequence as i64,
                header.encode(),
                header.header_hash().to_vec(),
                sig.0.to_vec(),
                evidence.report,
                hash.to_vec()
            ],
        )
        .map_err(err)?;
        for (i, id) in ids.iter().enumerate() {
            let n = tx
                .execute(
                    "UPDATE receipts SET batch_seq = ?1, leaf_index = ?2 WHERE id = ?3 AND batch_seq IS NULL",
                    params![header.sequence as i64, i as i64, id],
                )
                .map_err(err)?;
            if n != 1 {
                return Err(err(format!("receipt {id} vanished or was batched twice")));
            }
        }
        tx.commit().map_err(err)
    }

    /// The receipt, and its micro-batch once it has one.
    pub fn receipt(&self, id: &str) -> Result<Option<(Receipt, Option<Batched>)>, String> {
        let c = self.conn();
        let row = c
            .query_row(
                "SELECT receipt, batch_seq, leaf_index FROM receipts WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let Some((bytes, batch_seq, leaf)) = row else {
            return Ok(None);
        };
        let receipt = Receipt::decode(&bytes).map_err(err)?;
        let (Some(seq), Some(leaf)) = (batch_seq, leaf) else {
            return Ok(Some((receipt, None)));
        };
        type Row = (Vec<u8>, Vec<u8>, String, Option<Vec<u8>>, Option<String>);
        let (hb, sb, eb, report, collateral): Row = c
            .query_row(
                "SELECT h.header, h.signature, h.evidence, h.report, c.body \
                 FROM headers h LEFT JOIN collateral c ON c.hash = h.collateral WHERE h.seq = ?1",
                [seq],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .map_err(err)?;
        let evidence = match (report, collateral) {
            (Some(report), Some(body)) => serde_json::from_str::<Collateral>(&body)
                .map_err(err)?
                .with_report(report)?,
            // A row from before the shared-collateral layout.
            _ => serde_json::from_str(&eb).map_err(err)?,
        };
        let mut st = c
            .prepare("SELECT receipt_hash FROM receipts WHERE batch_seq = ?1 ORDER BY leaf_index")
            .map_err(err)?;
        let leaves = st
            .query_map([seq], |row| row.get::<_, Vec<u8>>(0))
            .map_err(err)?
            .map(|r| {
                r.map_err(err)
                    .and_then(|h| h.try_into().map_err(|_| err("bad receipt hash")))
            })
            .collect::<Result<Vec<[u8; 32]>, String>>()?;
        let batch = StoredBatch {
            header: MicroBatchHeader::decode(&hb).map_err(err)?,
            signature: HeaderSignature(sb.try_into().map_err(|_| err("bad signature length"))?),
            evidence,
            leaves,
        };
        Ok(Some((receipt, Some((leaf as u32, batch)))))
    }

    /// All receipt ids (for operators and tests).
    pub fn receipt_ids(&self) -> Result<Vec<String>, String> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT id FROM receipts ORDER BY n")
            .map_err(err)?;
        let ids = st
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(err)?;
        ids.map(|r| r.map_err(err)).collect()
    }

    /// The next header sequence not yet recorded as posted (0 when none is).
    pub fn next_unposted(&self) -> Result<u64, String> {
        self.conn()
            .query_row("SELECT MAX(seq) FROM rollup", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map(|m| m.map(|s| s as u64 + 1).unwrap_or(0))
            .map_err(err)
    }

    /// Up to `limit` headers from sequence `from` on, in order.
    pub fn headers_from(&self, from: u64, limit: usize) -> Result<Vec<MicroBatchHeader>, String> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT header FROM headers WHERE seq >= ?1 ORDER BY seq LIMIT ?2")
            .map_err(err)?;
        let rows = st
            .query_map(params![from as i64, limit as i64], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .map_err(err)?;
        rows.map(|r| {
            r.map_err(err)
                .and_then(|b| MicroBatchHeader::decode(&b).map_err(err))
        })
        .collect()
    }

    /// Records a posted batch: its headers `first_seq .. first_seq + size` in one transaction.
    /// Call only once the chain holding the batch is saved.
    pub fn record_rollup(&self, b: &PostedBatch) -> Result<(), String> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO rollup_batches (batch_index, root, first_seq, size, posted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                b.index as i64,
                b.root.to_vec(),
                b.first_seq as i64,
                b.size as i64,
                b.posted_at as i64
            ],
        )
        .map_err(err)?;
        for i in 0..b.size as u64 {
            tx.execute(
                "INSERT INTO rollup (seq, batch_index, position) VALUES (?1, ?2, ?3)",
                params![(b.first_seq + i) as i64, b.index as i64, i as i64],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Forgets the posts of headers from sequence `from` on (the chain does not have them).
    pub fn forget_rollup_from(&self, from: u64) -> Result<(), String> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(err)?;
        tx.execute("DELETE FROM rollup WHERE seq >= ?1", [from as i64])
            .map_err(err)?;
        tx.execute(
            "DELETE FROM rollup_batches WHERE batch_index NOT IN (SELECT DISTINCT batch_index FROM rollup)",
            [],
        )
        .map_err(err)?;
        // Spot-check selections of the forgotten batches came from their seeds on the chain
        // that dropped them: forget them and what is still queued, so the batches posted again
        // are selected by their new seeds. (The spot-check modules create these tables.)
        for (checks, batches) in [
            ("spot_checks", "spot_batches"),
            ("chain_spot_checks", "chain_spot_batches"),
        ] {
            let exists: bool = tx
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [batches],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(err)?
                > 0;
            if exists {
                let gone = "NOT IN (SELECT batch_index FROM rollup_batches)";
                tx.execute(
                    &format!("DELETE FROM {checks} WHERE status = 'queued' AND batch_index {gone}"),
                    [],
                )
                .map_err(err)?;
                tx.execute(
                    &format!("DELETE FROM {batches} WHERE batch_index {gone}"),
                    [],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Where header `seq` was posted, if it was.
    pub fn rollup_of(&self, seq: u64) -> Result<Option<RollupPosition>, String> {
        let c = self.conn();
        let row = c
            .query_row(
                "SELECT b.batch_index, b.root, b.first_seq, b.size, b.posted_at, r.position
                 FROM rollup r JOIN rollup_batches b ON b.batch_index = r.batch_index WHERE r.seq = ?1",
                [seq as i64],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let Some((index, root, first, size, posted_at, position)) = row else {
            return Ok(None);
        };
        let mut st = c
            .prepare("SELECT header_hash FROM headers WHERE seq >= ?1 AND seq < ?2 ORDER BY seq")
            .map_err(err)?;
        let header_hashes = st
            .query_map(params![first, first + size], |row| row.get::<_, Vec<u8>>(0))
            .map_err(err)?
            .map(|r| {
                r.map_err(err)
                    .and_then(|h| h.try_into().map_err(|_| err("bad header hash")))
            })
            .collect::<Result<Vec<[u8; 32]>, String>>()?;
        if header_hashes.len() != size as usize {
            return Err(err(format!(
                "rollup batch {index}: {} of its {size} headers are stored",
                header_hashes.len()
            )));
        }
        Ok(Some(RollupPosition {
            batch: PostedBatch {
                index: index as u64,
                root: root.try_into().map_err(|_| err("bad batch root"))?,
                first_seq: first as u64,
                size: size as u32,
                posted_at: posted_at as u64,
            },
            position: position as u32,
            header_hashes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otr_core::rollup::header::{GENESIS_PREV_HASH, HEADER_VERSION};
    use otr_core::rollup::SamplingParams;

    fn receipt(n: u8) -> Receipt {
        Receipt {
            version: 1,
            model_id: [1; 32],
            weights_root: [2; 32],
            request_hash: [n; 32],
            output_hash: [4; 32],
            prompt_tokens: 3,
            completion_tokens: 5,
            sampling: SamplingParams {
                temperature_milli: 0,
                top_k: 0,
                top_p_milli: 1000,
                max_tokens: 5,
                seed: 0,
            },
            trace_root: [6; 32],
            trace_steps: 7,
            created_at: 8,
        }
    }

    fn header(seq: u64) -> MicroBatchHeader {
        MicroBatchHeader {
            version: HEADER_VERSION,
            chain_id: 31337,
            node_address: [9; 20],
            sequence: seq,
            prev_header_hash: GENESIS_PREV_HASH,
            receipts_root: [10; 32],
            receipt_count: 1,
            timestamp: 11,
        }
    }

    fn evidence(report: u8) -> StoredEvidence {
        StoredEvidence {
            report: vec![report; 600],
            chain_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".repeat(5),
            rims: vec!["<rim/>".repeat(100)],
            ocsp: vec![vec![0x30; 400], vec![0x31; 300]],
            dev: true,
        }
    }

    fn same(a: &StoredEvidence, b: &StoredEvidence) -> bool {
        (&a.report, &a.chain_pem, &a.rims, &a.ocsp, a.dev)
            == (&b.report, &b.chain_pem, &b.rims, &b.ocsp, b.dev)
    }

    #[test]
    fn headers_share_their_collateral_and_old_rows_still_read() {
        let dir = std::env::temp_dir().join(format!("otr-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir.join("node.sqlite3")).unwrap();
        for n in 0..3u8 {
            s.insert_receipt(&format!("r{n}"), &receipt(n)).unwrap();
            let sig = HeaderSignature([n; 65]);
            s.commit_batch(&header(n as u64), &sig, &evidence(n), &[format!("r{n}")])
                .unwrap();
        }
        // Three headers, one collateral row; each header keeps its own report.
        let c = s.conn();
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM collateral", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        drop(c);
        for n in 0..3u8 {
            let (_, b) = s.receipt(&format!("r{n}")).unwrap().unwrap();
            let (_, b) = b.unwrap();
            assert!(same(&b.evidence, &evidence(n)));
        }
        // A row in the earlier layout (everything as JSON in `evidence`) reads the same.
        let legacy = serde_json::to_string(&evidence(1)).unwrap();
        s.conn()
            .execute(
                "UPDATE headers SET evidence = ?1, report = NULL, collateral = NULL WHERE seq = 1",
                [legacy],
            )
            .unwrap();
        let (_, b) = s.receipt("r1").unwrap().unwrap();
        assert!(same(&b.unwrap().1.evidence, &evidence(1)));
        // Reopening an existing store keeps the layout (no second ALTER TABLE).
        drop(s);
        let s = Store::open(&dir.join("node.sqlite3")).unwrap();
        let (_, b) = s.receipt("r2").unwrap().unwrap();
        assert!(same(&b.unwrap().1.evidence, &evidence(2)));
    }

    #[test]
    fn forgetting_posts_forgets_their_spot_check_selections() {
        let dir = std::env::temp_dir().join(format!("otr-store-forget-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir.join("node.sqlite3")).unwrap();
        for n in 0..2u8 {
            s.insert_receipt(&format!("r{n}"), &receipt(n)).unwrap();
            let sig = HeaderSignature([n; 65]);
            s.commit_batch(&header(n as u64), &sig, &evidence(n), &[format!("r{n}")])
                .unwrap();
            s.record_rollup(&crate::node::settlement::PostedBatch {
                index: n as u64,
                root: [n; 32],
                first_seq: n as u64,
                size: 1,
                posted_at: 0,
            })
            .unwrap();
        }
        // Without the spot-check tables (spot checks never ran) forgetting works as before.
        s.forget_rollup_from(5).unwrap();
        crate::node::spotcheck::init_store(&s).unwrap();
        crate::node::spotchain::init_store(&s).unwrap();
        let count = |sql: &str| -> i64 { s.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
        s.with_conn(|c| {
            c.execute_batch(
                "INSERT INTO spot_batches VALUES (0, x'00'), (1, x'01');
                 INSERT INTO spot_checks (receipt_id, batch_index, status) VALUES
                     ('r0', 0, 'queued'), ('r1', 1, 'queued');
                 INSERT INTO chain_spot_batches VALUES (0, x'00', 1), (1, x'01', 1);
                 INSERT INTO chain_spot_checks (receipt_id, batch_index, status) VALUES
                     ('r0', 0, 'proved'), ('r1', 1, 'queued');",
            )
        })
        .unwrap();
        // A reorganization dropped batch 1 (header 1): its seeds and queued selections go.
        s.forget_rollup_from(1).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM rollup_batches"), 1);
        assert_eq!(
            count("SELECT COUNT(*) FROM spot_batches WHERE batch_index = 1"),
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM chain_spot_batches WHERE batch_index = 1"),
            0
        );
        assert_eq!(count("SELECT COUNT(*) FROM spot_checks"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM chain_spot_checks"), 1);
        assert_eq!(
            count("SELECT COUNT(*) FROM chain_spot_batches WHERE batch_index = 0"),
            1
        );
    }
}

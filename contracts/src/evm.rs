//! The embedded chain: the contracts' bytecode run in-process on `revm`, over an in-memory
//! database that can be saved to and loaded from a JSON file.
//!
//! Persistence is incremental: [`Chain::save`] writes a whole snapshot the first time (and
//! whenever the journal has grown past the snapshot's size), and otherwise appends one line to
//! the journal next to it (`<path>.journal`) holding the accounts and storage slots changed since
//! the last save, so a save costs what changed, not the chain's whole history. The journal's
//! first line names the keccak-256 of the snapshot it continues: a journal left behind by a
//! compaction interrupted after its new snapshot was in place is recognised as stale and
//! ignored, and a torn last line
//! (a crash during an append) is dropped, so a load always gives the state of some completed save.
//!
//! Block time and numbers move only when told ([`Chain::advance`]); block hashes are revm's
//! `EmptyDB` ones (`keccak256(decimal block number)`), deterministic, which is what the spot-check
//! seed reads. Gas is priced at zero (base fee 0), so accounts need a balance only for the value
//! they send. Nonces are tracked by the EVM; transactions are not signed: the host trusts the
//! caller to say who sends (the embedded chain is the node's own settlement mirror and the test
//! bed; a public chain will be reached through a JSON-RPC [`Host`]).

use crate::host::{CallError, Host, TxOutcome};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use revm::context::{BlockEnv, CfgEnv, Context, Evm, TxEnv};
use revm::context_interface::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{instructions::EthInstructions, EthFrame, EthPrecompiles};
use revm::interpreter::interpreter::EthInterpreter;
use revm::state::{AccountInfo, Bytecode};
use revm::{ExecuteCommitEvm, ExecuteEvm, Journal, MainBuilder, MainContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The in-memory database.
pub type Db = CacheDB<EmptyDB>;
type Ctx = Context<BlockEnv, TxEnv, CfgEnv, Db, Journal<Db>, ()>;
type MainEvm =
    Evm<Ctx, (), EthInstructions<EthInterpreter, Ctx>, EthPrecompiles, EthFrame<EthInterpreter>>;

/// Gas limit of every transaction (below the Osaka per-transaction cap of 2^24).
pub const TX_GAS_LIMIT: u64 = 16_000_000;

/// An EVM chain in this process.
pub struct Chain {
    evm: MainEvm,
    /// Changes since the last save, merged per account.
    pending: BTreeMap<Address, AccountDiff>,
    /// Where this chain was last saved or loaded from, with the journal's state there.
    persisted: Option<Persisted>,
    /// Logs of the transactions run in this process, with their block numbers (not saved).
    logs: Vec<(u64, alloy_primitives::Log)>,
}

/// The saved files this chain is in step with.
struct Persisted {
    path: PathBuf,
    snapshot_bytes: u64,
    journal_bytes: u64,
}

/// What one account's changes since the last save amount to.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct AccountDiff {
    /// The account's storage was cleared first (created or self-destructed).
    #[serde(default, skip_serializing_if = "is_false")]
    reset: bool,
    balance: U256,
    nonce: u64,
    /// New code (creation); absent keeps the code the account has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<Bytes>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    storage: BTreeMap<U256, U256>,
}

impl AccountDiff {
    /// `self` followed by `later`.
    fn then(&mut self, later: AccountDiff) {
        if later.reset {
            *self = later;
            return;
        }
        self.balance = later.balance;
        self.nonce = later.nonce;
        if later.code.is_some() {
            self.code = later.code;
        }
        self.storage.extend(later.storage);
    }
}

/// The journal's first line.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalHeader {
    format: String,
    /// keccak-256 of the snapshot file this journal continues.
    snapshot: alloy_primitives::B256,
}

/// One journal line: the state changes of one save, and the block after it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalEntry {
    block_number: u64,
    timestamp: u64,
    accounts: BTreeMap<Address, AccountDiff>,
}

const JOURNAL_FORMAT: &str = "otr-revm-journal/v1";

fn is_false(b: &bool) -> bool {
    !*b
}

/// The journal file of the snapshot at `path`.
pub fn journal_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".journal");
    PathBuf::from(p)
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.chain_id())
            .field("block", &self.block_number())
            .field("timestamp", &self.timestamp())
            .finish()
    }
}

/// Why a saved chain could not be read or written.
#[derive(Debug)]
pub enum PersistError {
    Io(std::io::Error),
    Format(String),
}

impl std::fmt::Display for PersistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PersistError::Io(e) => write!(f, "chain state file: {e}"),
            PersistError::Format(m) => write!(f, "chain state file is malformed: {m}"),
        }
    }
}

impl std::error::Error for PersistError {}

impl From<std::io::Error> for PersistError {
    fn from(e: std::io::Error) -> Self {
        PersistError::Io(e)
    }
}

/// The saved form: every account with its balance, nonce, code and storage, and the block.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    format: String,
    chain_id: u64,
    block_number: u64,
    timestamp: u64,
    accounts: BTreeMap<Address, SavedAccount>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedAccount {
    balance: U256,
    nonce: u64,
    #[serde(default, skip_serializing_if = "is_empty")]
    code: Bytes,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    storage: BTreeMap<U256, U256>,
}

const SNAPSHOT_FORMAT: &str = "otr-revm-state/v1";

impl Chain {
    /// A fresh chain: block 1 at `timestamp`.
    pub fn new(chain_id: u64, timestamp: u64) -> Self {
        Self::from_db(Db::new(EmptyDB::new()), chain_id, 1, timestamp)
    }

    fn from_db(db: Db, chain_id: u64, number: u64, timestamp: u64) -> Self {
        let evm = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|c| {
                c.chain_id = chain_id;
            })
            .modify_block_chained(|b| {
                b.number = U256::from(number);
                b.timestamp = U256::from(timestamp);
                b.basefee = 0;
                b.gas_limit = 60_000_000;
            })
            .build_mainnet();
        Chain {
            evm,
            pending: BTreeMap::new(),
            persisted: None,
            logs: Vec::new(),
        }
    }

    pub fn chain_id(&self) -> u64 {
        self.evm.ctx.cfg.chain_id
    }

    pub fn block_number(&self) -> u64 {
        self.evm.ctx.block.number.saturating_to()
    }

    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.saturating_to()
    }

    /// Moves time forward by `secs` seconds and the block number by `blocks`.
    pub fn advance(&mut self, secs: u64, blocks: u64) {
        let b = &mut self.evm.ctx.block;
        b.timestamp += U256::from(secs);
        b.number += U256::from(blocks);
    }

    fn db(&self) -> &Db {
        &self.evm.ctx.journaled_state.database
    }

    fn db_mut(&mut self) -> &mut Db {
        &mut self.evm.ctx.journaled_state.database
    }

    /// Sets the balance of `who` (a faucet for the dev chain).
    pub fn set_balance(&mut self, who: Address, wei: U256) {
        let info = self.account_info(who).with_balance(wei);
        self.note(
            who,
            AccountDiff {
                balance: info.balance,
                nonce: info.nonce,
                ..Default::default()
            },
        );
        self.db_mut().insert_account_info(who, info);
    }

    /// Records a change for the next save.
    fn note(&mut self, who: Address, d: AccountDiff) {
        match self.pending.get_mut(&who) {
            Some(p) => p.then(d),
            None => {
                self.pending.insert(who, d);
            }
        }
    }

    fn account_info(&self, who: Address) -> AccountInfo {
        self.db()
            .cache
            .accounts
            .get(&who)
            .map(|a| a.info.clone())
            .unwrap_or_default()
    }

    pub fn balance(&self, who: Address) -> U256 {
        self.account_info(who).balance
    }

    /// Raw storage word of a contract (what a light client proves).
    pub fn storage(&self, who: Address, slot: U256) -> U256 {
        self.db()
            .cache
            .accounts
            .get(&who)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }

    /// Runtime code of an account.
    pub fn code(&self, who: Address) -> Bytes {
        let info = self.account_info(who);
        match info.code {
            Some(c) if !c.is_empty() => c.original_bytes(),
            _ => self
                .db()
                .cache
                .contracts
                .get(&info.code_hash)
                .map(|c| c.original_bytes())
                .unwrap_or_default(),
        }
    }

    fn tx(&self, from: Address, kind: TxKind, data: Bytes, value: U256) -> TxEnv {
        let nonce = self.account_info(from).nonce;
        TxEnv {
            caller: from,
            kind,
            data,
            value,
            gas_limit: TX_GAS_LIMIT,
            gas_price: 0,
            nonce,
            chain_id: Some(self.chain_id()),
            ..Default::default()
        }
    }

    fn outcome(r: ExecutionResult) -> Result<TxOutcome, CallError> {
        match r {
            ExecutionResult::Success {
                output, logs, gas, ..
            } => {
                let (output, created) = match output {
                    Output::Call(b) => (b, None),
                    Output::Create(b, a) => (b, a),
                };
                Ok(TxOutcome {
                    output,
                    created,
                    gas_used: gas.total_gas_spent(),
                    logs,
                })
            }
            ExecutionResult::Revert { output, gas, .. } => Err(CallError::Revert {
                data: output,
                gas_used: gas.total_gas_spent(),
            }),
            ExecutionResult::Halt { reason, gas, .. } => Err(CallError::Halt {
                reason: format!("{reason:?}"),
                gas_used: gas.total_gas_spent(),
            }),
        }
    }

    /// Executes and commits a transaction.
    pub fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Bytes,
        value: U256,
    ) -> Result<TxOutcome, CallError> {
        let tx = self.tx(from, kind, data, value);
        let r = self
            .evm
            .transact(tx)
            .map_err(|e| CallError::Rejected(format!("{e:?}")))?;
        for (addr, acc) in &r.state {
            if !acc.is_touched() {
                continue;
            }
            let reset = acc.is_selfdestructed() || acc.is_created();
            let code = if acc.is_selfdestructed() {
                None
            } else if acc.is_created() {
                Some(
                    acc.info
                        .code
                        .as_ref()
                        .map(|c| c.original_bytes())
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            let (balance, nonce) = if acc.is_selfdestructed() {
                (U256::ZERO, 0)
            } else {
                (acc.info.balance, acc.info.nonce)
            };
            let storage = if acc.is_selfdestructed() {
                BTreeMap::new()
            } else {
                acc.storage
                    .iter()
                    .filter(|(_, v)| v.is_changed() || reset)
                    .map(|(k, v)| (*k, v.present_value()))
                    .collect()
            };
            self.note(
                *addr,
                AccountDiff {
                    reset,
                    balance,
                    nonce,
                    code,
                    storage,
                },
            );
        }
        self.evm.commit(r.state);
        let out = Self::outcome(r.result);
        if let Ok(o) = &out {
            let n = Chain::block_number(self);
            self.logs.extend(o.logs.iter().map(|l| (n, l.clone())));
        }
        out
    }

    /// Executes without committing (an `eth_call`).
    pub fn simulate(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Result<TxOutcome, CallError> {
        let tx = self.tx(from, TxKind::Call(to), data, U256::ZERO);
        let r = self
            .evm
            .transact(tx)
            .map_err(|e| CallError::Rejected(format!("{e:?}")))?;
        Self::outcome(r.result)
    }

    /// Saves the state at `path`: appends the changes since the last save to the journal when
    /// this chain is in step with the files there, otherwise (first save, another path, or a
    /// journal grown past the snapshot's size) writes a whole snapshot and starts a new journal.
    /// Everything written is flushed to disk before this returns.
    pub fn save(&mut self, path: &Path) -> Result<(), PersistError> {
        let in_step = self
            .persisted
            .as_ref()
            .is_some_and(|p| p.path == path && p.journal_bytes <= p.snapshot_bytes.max(64 * 1024));
        if !in_step {
            return self.save_snapshot(path);
        }
        let entry = JournalEntry {
            block_number: Chain::block_number(self),
            timestamp: Chain::timestamp(self),
            accounts: std::mem::take(&mut self.pending),
        };
        let mut line =
            serde_json::to_vec(&entry).map_err(|e| PersistError::Format(e.to_string()))?;
        line.push(b'\n');
        let jp = journal_path(path);
        let res = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().append(true).open(&jp)?;
            f.write_all(&line)?;
            f.sync_data()
        })();
        if let Err(e) = res {
            // Keep the changes for the next try; the files stay as they were (a partial line
            // is dropped on load).
            self.pending = entry.accounts;
            self.persisted = None;
            return Err(e.into());
        }
        if let Some(p) = self.persisted.as_mut() {
            p.journal_bytes += line.len() as u64;
        }
        Ok(())
    }

    /// keccak-256 of the whole state in its saved form (accounts, code, non-zero storage, block):
    /// two chains with equal fingerprints hold the same state.
    pub fn state_fingerprint(&self) -> alloy_primitives::B256 {
        alloy_primitives::keccak256(self.snapshot_bytes().unwrap_or_default())
    }

    /// The whole state in the snapshot format.
    fn snapshot_bytes(&self) -> Result<Vec<u8>, PersistError> {
        let cache = &self.db().cache;
        let mut accounts = BTreeMap::new();
        for (addr, acc) in &cache.accounts {
            let code = match &acc.info.code {
                Some(c) if !c.is_empty() => c.original_bytes(),
                _ => cache
                    .contracts
                    .get(&acc.info.code_hash)
                    .map(|c| c.original_bytes())
                    .unwrap_or_default(),
            };
            let storage = acc
                .storage
                .iter()
                .filter(|(_, v)| !v.is_zero())
                .map(|(k, v)| (*k, *v))
                .collect();
            accounts.insert(
                *addr,
                SavedAccount {
                    balance: acc.info.balance,
                    nonce: acc.info.nonce,
                    code,
                    storage,
                },
            );
        }
        let snap = Snapshot {
            format: SNAPSHOT_FORMAT.to_string(),
            chain_id: Chain::chain_id(self),
            block_number: Chain::block_number(self),
            timestamp: Chain::timestamp(self),
            accounts,
        };
        serde_json::to_vec(&snap).map_err(|e| PersistError::Format(e.to_string()))
    }

    /// Writes the whole state to `path` (atomically: a temporary file, then a rename) and an
    /// empty journal naming it.
    fn save_snapshot(&mut self, path: &Path) -> Result<(), PersistError> {
        let text = self.snapshot_bytes()?;
        let mut header = serde_json::to_vec(&JournalHeader {
            format: JOURNAL_FORMAT.to_string(),
            snapshot: alloy_primitives::keccak256(&text),
        })
        .map_err(|e| PersistError::Format(e.to_string()))?;
        header.push(b'\n');
        let write_synced = |p: &Path, bytes: &[u8]| -> std::io::Result<()> {
            let mut f = std::fs::File::create(p)?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        let tmp = path.with_extension("tmp");
        write_synced(&tmp, &text)?;
        std::fs::rename(&tmp, path)?;
        // From here the snapshot holds everything; the old journal names another snapshot.
        let jp = journal_path(path);
        let jtmp = path.with_extension("journal.tmp");
        write_synced(&jtmp, &header)?;
        std::fs::rename(&jtmp, &jp)?;
        sync_dir(path);
        self.pending.clear();
        self.persisted = Some(Persisted {
            path: path.to_path_buf(),
            snapshot_bytes: text.len() as u64,
            journal_bytes: header.len() as u64,
        });
        Ok(())
    }

    /// Reads a chain written by [`Chain::save`]: the snapshot, then the lines of the journal
    /// that names it (a torn last line is dropped; a stale journal is ignored).
    pub fn load(path: &Path) -> Result<Self, PersistError> {
        let text = std::fs::read(path)?;
        let snap: Snapshot =
            serde_json::from_slice(&text).map_err(|e| PersistError::Format(e.to_string()))?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(PersistError::Format(format!(
                "unknown format {:?}",
                snap.format
            )));
        }
        let mut db = Db::new(EmptyDB::new());
        for (addr, acc) in snap.accounts {
            let mut info = AccountInfo::default()
                .with_balance(acc.balance)
                .with_nonce(acc.nonce);
            if !acc.code.is_empty() {
                info = info.with_code(Bytecode::new_raw(acc.code));
            }
            db.insert_account_info(addr, info);
            for (k, v) in acc.storage {
                db.insert_account_storage(addr, k, v)
                    .map_err(|e| PersistError::Format(format!("{e:?}")))?;
            }
        }
        let (mut number, mut timestamp) = (snap.block_number, snap.timestamp);
        let jp = journal_path(path);
        // The journal's length when it continues this snapshot (`None`: the next save writes
        // a new snapshot).
        let mut journal_bytes: Option<u64> = None;
        match std::fs::read(&jp) {
            Ok(j) => {
                let mut lines = j.split_inclusive(|&b| b == b'\n');
                let header: Option<JournalHeader> = lines
                    .next()
                    .filter(|l| l.ends_with(b"\n"))
                    .and_then(|l| serde_json::from_slice(l).ok());
                let current = header.as_ref().is_some_and(|h| {
                    h.format == JOURNAL_FORMAT && h.snapshot == alloy_primitives::keccak256(&text)
                });
                if current {
                    let mut good = j.len() as u64;
                    for (i, l) in lines.enumerate() {
                        if !l.ends_with(b"\n") {
                            // A torn append: the save it belonged to never returned. The next
                            // save writes a new snapshot rather than append after it.
                            good = u64::MAX;
                            break;
                        }
                        let e: JournalEntry = serde_json::from_slice(l).map_err(|e| {
                            PersistError::Format(format!("{} line {}: {e}", jp.display(), i + 2))
                        })?;
                        for (addr, d) in e.accounts {
                            apply_diff(&mut db, addr, d)?;
                        }
                        number = e.block_number;
                        timestamp = e.timestamp;
                    }
                    journal_bytes = (good != u64::MAX).then_some(good);
                }
                // Otherwise stale (or an unreadable header): ignored.
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let mut chain = Self::from_db(db, snap.chain_id, number, timestamp);
        chain.persisted = journal_bytes.map(|journal_bytes| Persisted {
            path: path.to_path_buf(),
            snapshot_bytes: text.len() as u64,
            journal_bytes,
        });
        Ok(chain)
    }

    /// Opens the chain saved at `path`, or starts a fresh one there.
    pub fn open_or_new(path: &Path, chain_id: u64, timestamp: u64) -> Result<Self, PersistError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self::new(chain_id, timestamp))
        }
    }
}

impl Host for Chain {
    fn chain_id(&mut self) -> Result<u64, CallError> {
        Ok(Chain::chain_id(self))
    }

    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<TxOutcome, CallError> {
        let kind = match to {
            Some(a) => TxKind::Call(a),
            None => TxKind::Create,
        };
        self.transact(from, kind, data, value)
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, CallError> {
        self.simulate(from, to, data).map(|o| o.output)
    }

    fn timestamp(&mut self) -> Result<u64, CallError> {
        Ok(Chain::timestamp(self))
    }

    fn block_number(&mut self) -> Result<u64, CallError> {
        Ok(Chain::block_number(self))
    }

    fn advance(&mut self, secs: u64, blocks: u64) -> Result<(), CallError> {
        Chain::advance(self, secs, blocks);
        Ok(())
    }

    fn logs(
        &mut self,
        address: Address,
        topic0: alloy_primitives::B256,
        from_block: u64,
    ) -> Result<Vec<alloy_primitives::Log>, CallError> {
        Ok(self
            .logs
            .iter()
            .filter(|(n, l)| {
                *n >= from_block && l.address == address && l.data.topics().first() == Some(&topic0)
            })
            .map(|(_, l)| l.clone())
            .collect())
    }
}

fn is_empty(b: &Bytes) -> bool {
    b.is_empty()
}

/// Applies one journal diff to the database.
fn apply_diff(db: &mut Db, addr: Address, d: AccountDiff) -> Result<(), PersistError> {
    let old = db.cache.accounts.get(&addr).map(|a| a.info.clone());
    let mut info = AccountInfo::default()
        .with_balance(d.balance)
        .with_nonce(d.nonce);
    match d.code {
        Some(c) if !c.is_empty() => info = info.with_code(Bytecode::new_raw(c)),
        Some(_) => {}
        None => {
            if let Some(o) = old {
                info.code_hash = o.code_hash;
                info.code = o.code;
            }
        }
    }
    if d.reset {
        if let Some(a) = db.cache.accounts.get_mut(&addr) {
            a.storage.clear();
        }
    }
    db.insert_account_info(addr, info);
    for (k, v) in d.storage {
        db.insert_account_storage(addr, k, v)
            .map_err(|e| PersistError::Format(format!("{e:?}")))?;
    }
    Ok(())
}

/// Flushes the directory holding `path` (so a rename in it is durable).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

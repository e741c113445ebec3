//! The embedded chain: the contracts' bytecode run in-process on `revm`, over an in-memory
//! database that can be saved to and loaded from a JSON file.
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
use std::path::Path;

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
        Chain { evm }
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
        self.db_mut().insert_account_info(who, info);
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
            .transact_commit(tx)
            .map_err(|e| CallError::Rejected(format!("{e:?}")))?;
        Self::outcome(r)
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

    /// Writes the whole state to `path` (atomically: a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), PersistError> {
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
            chain_id: self.chain_id(),
            block_number: self.block_number(),
            timestamp: self.timestamp(),
            accounts,
        };
        let text = serde_json::to_string(&snap).map_err(|e| PersistError::Format(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads a chain written by [`Chain::save`].
    pub fn load(path: &Path) -> Result<Self, PersistError> {
        let text = std::fs::read_to_string(path)?;
        let snap: Snapshot =
            serde_json::from_str(&text).map_err(|e| PersistError::Format(e.to_string()))?;
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
        Ok(Self::from_db(
            db,
            snap.chain_id,
            snap.block_number,
            snap.timestamp,
        ))
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
}

fn is_empty(b: &Bytes) -> bool {
    b.is_empty()
}

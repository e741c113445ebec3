//! One contract, two hosts: the [`Host`] trait is what the typed helpers need from a chain. The
//! embedded [`crate::evm::Chain`] (revm) implements it, and so does [`crate::rpc::RpcHost`], a
//! JSON-RPC client for any EVM node (anvil, `--chain-rpc URL`).

use crate::bindings;
use alloy_primitives::{Address, Bytes, Log, U256};
use alloy_sol_types::SolCall;
use std::fmt;

/// A committed transaction.
#[derive(Clone, Debug)]
pub struct TxOutcome {
    /// Return data (for a creation: the runtime code).
    pub output: Bytes,
    /// The new contract's address, for a creation.
    pub created: Option<Address>,
    /// Total gas spent, including the 21000 intrinsic and calldata gas.
    pub gas_used: u64,
    pub logs: Vec<Log>,
}

/// Why a call or transaction failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The contract reverted with this data (a custom error, `Error(string)` or `Panic`).
    Revert { data: Bytes, gas_used: u64 },
    /// The EVM halted (out of gas, invalid opcode...).
    Halt { reason: String, gas_used: u64 },
    /// The transaction was not executed (invalid, node unreachable...).
    Rejected(String),
    /// Return data that does not decode as the function's outputs.
    Decode(String),
}

impl CallError {
    /// The revert as `ErrorName { fields }` when one of our contracts' errors matches.
    pub fn revert_name(&self) -> Option<String> {
        match self {
            CallError::Revert { data, .. } => bindings::decode_revert(data),
            _ => None,
        }
    }

    /// Whether this is a revert with the custom error named `name` (e.g. `"NotStaked"`).
    pub fn is(&self, name: &str) -> bool {
        self.revert_name().is_some_and(|n| {
            n == name || n.starts_with(&format!("{name} ")) || n.starts_with(&format!("{name}("))
        })
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Revert { data, .. } => match bindings::decode_revert(data) {
                Some(n) => write!(f, "reverted: {n}"),
                None => write!(f, "reverted with 0x{}", hex::encode(data)),
            },
            CallError::Halt { reason, .. } => write!(f, "halted: {reason}"),
            CallError::Rejected(m) => write!(f, "transaction rejected: {m}"),
            CallError::Decode(m) => write!(f, "return data: {m}"),
        }
    }
}

impl std::error::Error for CallError {}

/// What the contract helpers need from a chain.
pub trait Host {
    fn chain_id(&mut self) -> Result<u64, CallError>;
    /// Sends and commits a transaction (`to = None`: a contract creation).
    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<TxOutcome, CallError>;
    /// Runs a call without committing it.
    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, CallError>;
    /// The latest block's timestamp.
    fn timestamp(&mut self) -> Result<u64, CallError>;
    fn block_number(&mut self) -> Result<u64, CallError>;
    /// Dev chains only: moves time forward `secs` and mines `blocks` blocks.
    fn advance(&mut self, secs: u64, blocks: u64) -> Result<(), CallError>;
    /// The logs `address` emitted with first topic `topic0` in blocks `from_block` and later,
    /// oldest first (the embedded chain: those of the transactions this process ran on it).
    fn logs(
        &mut self,
        address: Address,
        topic0: alloy_primitives::B256,
        from_block: u64,
    ) -> Result<Vec<Log>, CallError> {
        let _ = (address, topic0, from_block);
        Err(CallError::Rejected("this host serves no logs".into()))
    }
}

/// Sends `call` to `to` and decodes its return value.
pub fn send<H: Host + ?Sized, C: SolCall>(
    host: &mut H,
    from: Address,
    to: Address,
    call: &C,
    value: U256,
) -> Result<(C::Return, TxOutcome), CallError> {
    let out = host.send(from, Some(to), call.abi_encode().into(), value)?;
    let ret = C::abi_decode_returns(&out.output).map_err(|e| CallError::Decode(e.to_string()))?;
    Ok((ret, out))
}

/// Calls a view function.
pub fn view<H: Host + ?Sized, C: SolCall>(
    host: &mut H,
    to: Address,
    call: &C,
) -> Result<C::Return, CallError> {
    let out = host.call(Address::ZERO, to, call.abi_encode().into())?;
    C::abi_decode_returns(&out).map_err(|e| CallError::Decode(e.to_string()))
}

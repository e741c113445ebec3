//! OTR settlement contracts (Solidity, `contracts/src/`), their committed artifacts, and the
//! means to run them: in-process on `revm` ([`evm::Chain`], persisted to a file), behind the
//! [`host::Host`] trait that the JSON-RPC client [`rpc::RpcHost`] (`--chain-rpc URL`, any EVM
//! node) also implements, with typed helpers for what the node and the challenger do
//! ([`deploy::Deployment`]).
//!
//! - [`bindings`]: `sol!` bindings generated from `contracts/artifacts/*.json`.
//! - [`evm`]: the embedded chain.
//! - [`host`]: the host trait, typed send/view, decoded reverts.
//! - [`rpc`]: the host over Ethereum JSON-RPC (locally signed EIP-1559 transactions, proofs
//!   and headers for the light client).
//! - [`deploy`]: deploying and wiring the contracts; typed calls.
//! - [`proofs`]: receipt references, trace prefix roots and consistency proofs for disputes.
//! - [`groth16_sol`]: the Solidity Groth16 verifier generator.

pub mod bindings;
pub mod deploy;
pub mod evm;
pub mod groth16_sol;
pub mod host;
pub mod proofs;
pub mod rpc;

pub use alloy_primitives::{Address, Bytes, B256, U256};
pub use evm::Chain;
pub use host::{CallError, Host, TxOutcome};
pub use rpc::RpcHost;

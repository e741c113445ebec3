//! # otr-core
//!
//! The pure verification core of OTR (Optimistic TEE-Rollups). Everything a browser, a wallet or
//! the prover node needs to decide whether an answer is backed by a genuine NVIDIA H100 in
//! confidential-computing mode, by the registered model, and by the rollup:
//!
//! - [`attestation`]: SPDM 1.1 GET_MEASUREMENTS reports, the NVIDIA device certificate chain,
//!   FWID binding, nonce binding, multi-GPU evidence lists, policy.
//! - [`rim`]: NVIDIA reference integrity manifests (signed SWID XML) and the golden-measurement
//!   comparison.
//! - [`ocsp`]: stapled OCSP answers checked offline.
//! - [`rollup`]: receipts, micro-batch headers, answer bundles, Merkle inclusion, finality.
//! - [`zk`]: Groth16 (BN254) verification.
//! - [`chain`]: the EVM light client: headers, Merkle-Patricia proofs, the settlement contract's
//!   batch record proven against a trusted block hash.
//!
//! `no_std + alloc`: no I/O, no clock, no randomness. Time, trust anchors and policy are inputs.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod attestation;
pub mod chain;
pub mod crypto;
pub mod encoding;
pub mod error;
pub mod ocsp;
pub mod prompt;
pub mod rim;
pub mod rollup;
pub mod time;
pub mod verify;
pub mod x509;
pub mod zk;

pub use error::{ErrorCode, GotExpected, Stage};
pub use time::UnixTime;

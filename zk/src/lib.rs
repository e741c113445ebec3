//! # otr-zk
//!
//! Groth16/BN254 spot-check proofs for OTR (DESIGN principle 7, `docs/PROTOCOL.md` §7.5): one
//! sampled unit (a block of rows) of an int8 matrix-vector product of the engine, proven
//! exactly, with the weights opened against a Poseidon Merkle commitment of the matrix and
//! the input vector and output slice bound by Poseidon commitments of their bytes.
//!
//! - [`poseidon`], [`pack`], [`commit`]: the hash, the 31-byte packing, the commitments;
//! - [`unit`]: shapes, the native reference (the engine's own kernel), statements, witnesses;
//! - [`circuit`]: the R1CS circuits and their gadgets;
//! - [`act`]: units of the gated activation step `ACT` (table lookups, roundings, `Act16`);
//! - [`attn`]: units of the attention step `ATTN` (one query head over its visible positions);
//! - [`phase1`]: the phase-1 (powers of tau) ceremony and the derivation of the initial key;
//! - [`kind`]: the three unit circuits (matvec, ACT, ATTN) and the shapes their keys are for;
//! - [`ceremony`]: the phase-2 setup ceremony of any of them, and its transcript;
//! - [`prove`]: keys, `prove_unit`, verification through `otr_core::zk::PreparedVk`;
//! - [`keys`]: a finalized ceremony's keys loaded from its output directory;
//! - [`step`]: units of the engine's trace steps (which matrix a step uses, proving a unit);
//! - [`cli`]: the ceremony and proof-file commands (`otr zk`, `otr-zk`).
//!
//! See `zk/README.md` for what is proven, what is public and what is trusted.

pub mod act;
pub mod attn;
pub mod ceremony;
pub mod circuit;
pub mod cli;
pub mod commit;
pub mod error;
pub mod keys;
pub mod kind;
pub mod pack;
pub mod phase1;
pub mod poseidon;
pub mod prove;
pub mod step;
pub mod testdata;
pub mod unit;

pub use error::ZkError;
pub use unit::{UnitShape, UnitStatement, UnitWitness};

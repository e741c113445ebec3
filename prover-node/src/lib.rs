//! The OTR prover node and command-line tool (`otr`).

pub mod cli;
pub mod devattest;
pub mod native_crypto;
pub mod node;

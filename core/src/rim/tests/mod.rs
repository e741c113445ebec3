//! Self-contained tests of the RIM stage (no sample files needed).

mod c14n;
mod dsig;
mod measurements;
mod xml;

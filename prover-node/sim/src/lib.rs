//! OTR economics simulator (DESIGN principle 8; issue 8).
//!
//! - [`costs`]: the measured costs (`docs/measured-costs.json`), with provenance; placeholders
//!   are listed as assumed in every output.
//! - [`model`]: protocol parameters, scenarios, strategies and the closed-form economics.
//! - [`des`]: the deterministic discrete-event simulation.
//! - [`suggest`]: parameter guidance (`otr-sim params suggest`).
//! - [`summary`]: the text summary of one run (`otr simulate`).
//! - [`report`]: the tables and SVG plots of `docs/ECONOMICS.md`.

pub mod costs;
pub mod des;
pub mod model;
pub mod report;
pub mod rng;
pub mod suggest;
pub mod summary;
pub mod svg;

pub use costs::CostModel;
pub use des::{simulate, SimReport};
pub use model::{Params, Scenario, Strategy};

//! The three unit circuits a setup is made for, and the shape parameters each one's keys are
//! fixed by (`docs/PROTOCOL.md` §7.7):
//!
//! - `matvec` ([`crate::unit`], §7.5): `R` rows of an int8 matrix times an `Act16` vector;
//!   shape `(rows, cols, R)`;
//! - `act` ([`crate::act`], §7.10): `E` consecutive elements of the gated activation; shape
//!   `(table, len, E)`;
//! - `attn` ([`crate::attn`], §7.11): one query head attending over `P` positions; shape
//!   `(head_dim, P)`.
//!
//! Every kind has four public inputs ([`crate::prove::PUBLIC_INPUTS`]). Each kind's circuit
//! version string ([`CircuitKind::version`]) differs from the others' in its first bytes, and
//! starts every seed and transcript domain of its keys ([`CircuitShape::seed`]).

use ark_bn254::Bn254;
use ark_groth16::ProvingKey;

use crate::act::{ActShape, ActTable, ACT_CIRCUIT_VERSION};
use crate::attn::{AttnShape, ATTN_CIRCUIT_VERSION};
use crate::circuit::act::ActCircuit;
use crate::circuit::attn::AttnCircuit;
use crate::circuit::UnitCircuit;
use crate::error::ZkError;
use crate::phase1::{self, Powers, Progress};
use crate::unit::UnitShape;

/// Which unit circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitKind {
    /// The int8 matrix-vector unit.
    MatVec,
    /// The gated-activation unit.
    Act,
    /// The attention unit.
    Attn,
}

impl CircuitKind {
    /// Every kind, in code order.
    pub const ALL: [CircuitKind; 3] = [CircuitKind::MatVec, CircuitKind::Act, CircuitKind::Attn];

    /// The name on the command line and in `transcript.json`: `matvec`, `act`, `attn`.
    pub fn name(self) -> &'static str {
        match self {
            CircuitKind::MatVec => "matvec",
            CircuitKind::Act => "act",
            CircuitKind::Attn => "attn",
        }
    }

    /// The byte naming the kind in a version-3 ceremony file.
    pub fn code(self) -> u8 {
        match self {
            CircuitKind::MatVec => 0,
            CircuitKind::Act => 1,
            CircuitKind::Attn => 2,
        }
    }

    /// The circuit version string (names the kind and its constraint layout).
    pub fn version(self) -> &'static str {
        match self {
            CircuitKind::MatVec => crate::ceremony::CIRCUIT_VERSION,
            CircuitKind::Act => ACT_CIRCUIT_VERSION,
            CircuitKind::Attn => ATTN_CIRCUIT_VERSION,
        }
    }

    /// From [`CircuitKind::name`].
    pub fn parse(s: &str) -> Result<Self, ZkError> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| ZkError::Shape(format!("unknown circuit {s:?} (matvec, act, attn)")))
    }

    /// From [`CircuitKind::code`].
    pub fn from_code(c: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == c)
    }

    /// From [`CircuitKind::version`].
    pub fn from_version(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.version() == v)
    }
}

impl std::fmt::Display for CircuitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A circuit kind with its shape: what one set of keys is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitShape {
    MatVec(UnitShape),
    Act(ActShape),
    Attn(AttnShape),
}

impl From<UnitShape> for CircuitShape {
    fn from(s: UnitShape) -> Self {
        CircuitShape::MatVec(s)
    }
}

impl From<ActShape> for CircuitShape {
    fn from(s: ActShape) -> Self {
        CircuitShape::Act(s)
    }
}

impl From<AttnShape> for CircuitShape {
    fn from(s: AttnShape) -> Self {
        CircuitShape::Attn(s)
    }
}

fn table_code(t: ActTable) -> u8 {
    match t {
        ActTable::Gelu => 0,
        ActTable::Silu => 1,
    }
}

fn table_from_code(c: u8) -> Option<ActTable> {
    [ActTable::Gelu, ActTable::Silu]
        .into_iter()
        .find(|t| table_code(*t) == c)
}

impl CircuitShape {
    pub fn kind(&self) -> CircuitKind {
        match self {
            CircuitShape::MatVec(_) => CircuitKind::MatVec,
            CircuitShape::Act(_) => CircuitKind::Act,
            CircuitShape::Attn(_) => CircuitKind::Attn,
        }
    }

    pub fn check(&self) -> Result<(), ZkError> {
        match self {
            CircuitShape::MatVec(s) => s.check(),
            CircuitShape::Act(s) => s.check(),
            CircuitShape::Attn(s) => s.check(),
        }
    }

    /// The matvec shape, or [`ZkError::WrongCircuit`].
    pub fn matvec(&self) -> Result<UnitShape, ZkError> {
        match self {
            CircuitShape::MatVec(s) => Ok(*s),
            _ => Err(self.wrong(CircuitKind::MatVec)),
        }
    }

    /// The ACT shape, or [`ZkError::WrongCircuit`].
    pub fn act(&self) -> Result<ActShape, ZkError> {
        match self {
            CircuitShape::Act(s) => Ok(*s),
            _ => Err(self.wrong(CircuitKind::Act)),
        }
    }

    /// The ATTN shape, or [`ZkError::WrongCircuit`].
    pub fn attn(&self) -> Result<AttnShape, ZkError> {
        match self {
            CircuitShape::Attn(s) => Ok(*s),
            _ => Err(self.wrong(CircuitKind::Attn)),
        }
    }

    /// Refuses keys of another kind than `expected`.
    pub fn expect_kind(&self, expected: CircuitKind) -> Result<(), ZkError> {
        if self.kind() == expected {
            Ok(())
        } else {
            Err(self.wrong(expected))
        }
    }

    fn wrong(&self, expected: CircuitKind) -> ZkError {
        ZkError::WrongCircuit {
            expected,
            found: self.kind(),
        }
    }

    /// `SHA-256(tag || version || shape)`: the seed of the public initial key
    /// (`tag = ceremony::PHASE1_TAG`) and the transcript start `h_0`. The shape bytes are
    /// `u64le rows || u64le cols || u64le R` (matvec), `table digest (32 bytes) || u64le len
    /// || u64le E` (act), `u64le head_dim || u64le P` (attn).
    pub fn seed(&self, tag: &[u8]) -> [u8; 32] {
        match self {
            CircuitShape::MatVec(s) => crate::ceremony::shape_seed(s, tag),
            CircuitShape::Act(s) => s.seed(tag),
            CircuitShape::Attn(s) => s.seed(tag),
        }
    }

    /// The deterministic initial key from the **public** seed (INSECURE: tests only).
    pub fn initial_key_insecure(&self) -> Result<ProvingKey<Bn254>, ZkError> {
        match self {
            CircuitShape::MatVec(s) => crate::ceremony::initial_key(*s),
            CircuitShape::Act(s) => crate::act::initial_key_insecure(*s),
            CircuitShape::Attn(s) => crate::attn::initial_key_insecure(*s),
        }
    }

    /// The initial key (`gamma = delta = 1`) from verified phase-1 powers.
    pub fn initial_key_from_phase1(
        &self,
        powers: &Powers,
        progress: Option<Progress>,
    ) -> Result<ProvingKey<Bn254>, ZkError> {
        self.check()?;
        match self {
            CircuitShape::MatVec(s) => {
                phase1::derive_initial_key(powers, UnitCircuit::setup(*s), progress)
            }
            CircuitShape::Act(s) => {
                phase1::derive_initial_key(powers, ActCircuit::setup(*s), progress)
            }
            CircuitShape::Attn(s) => {
                phase1::derive_initial_key(powers, AttnCircuit::setup(*s), progress)
            }
        }
    }

    /// Constraints plus public inputs (with the constant one): what a phase 1 must hold.
    pub fn constraints_plus_inputs(&self) -> Result<usize, ZkError> {
        self.check()?;
        match self {
            CircuitShape::MatVec(s) => phase1::constraints_plus_inputs(UnitCircuit::setup(*s)),
            CircuitShape::Act(s) => phase1::constraints_plus_inputs(ActCircuit::setup(*s)),
            CircuitShape::Attn(s) => phase1::constraints_plus_inputs(AttnCircuit::setup(*s)),
        }
    }

    /// One line for people: the kind and its shape.
    pub fn describe(&self) -> String {
        match self {
            CircuitShape::MatVec(s) => format!(
                "matvec: {} rows x {} cols, {} rows per unit",
                s.matrix_rows, s.cols, s.rows_per_unit
            ),
            CircuitShape::Act(s) => format!(
                "act: {} table, vectors of {}, {} elements per unit",
                s.table.name(),
                s.len,
                s.elems
            ),
            CircuitShape::Attn(s) => format!(
                "attn: head dimension {}, {} positions",
                s.head_dim, s.positions
            ),
        }
    }

    /// The `shape` object of `transcript.json`.
    pub fn shape_json(&self) -> serde_json::Value {
        match self {
            CircuitShape::MatVec(s) => serde_json::json!({
                "matrix_rows": s.matrix_rows, "cols": s.cols, "rows_per_unit": s.rows_per_unit,
            }),
            CircuitShape::Act(s) => serde_json::json!({
                "table": s.table.name(), "len": s.len, "elems": s.elems,
            }),
            CircuitShape::Attn(s) => serde_json::json!({
                "head_dim": s.head_dim, "positions": s.positions,
            }),
        }
    }

    /// From `transcript.json`: the kind from `kind` (or, in files written before it, from the
    /// `circuit` version string; neither means matvec), the shape from `shape`.
    pub fn from_transcript_json(v: &serde_json::Value) -> Result<Self, ZkError> {
        let fmt = |m: String| ZkError::CeremonyFormat(format!("transcript.json: {m}"));
        let kind = match (v["kind"].as_str(), v["circuit"].as_str()) {
            (Some(k), _) => CircuitKind::parse(k).map_err(|e| fmt(e.to_string()))?,
            (None, Some(version)) => CircuitKind::from_version(version)
                .ok_or_else(|| fmt(format!("unknown circuit {version:?}")))?,
            (None, None) => CircuitKind::MatVec,
        };
        let shape = &v["shape"];
        let get = |k: &str| {
            shape[k]
                .as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| fmt(format!("no shape.{k}")))
        };
        Ok(match kind {
            CircuitKind::MatVec => CircuitShape::MatVec(UnitShape::new(
                get("matrix_rows")?,
                get("cols")?,
                get("rows_per_unit")?,
            )?),
            CircuitKind::Act => {
                let table = shape["table"]
                    .as_str()
                    .ok_or_else(|| fmt("no shape.table".into()))?;
                CircuitShape::Act(ActShape::new(
                    ActTable::parse(table)?,
                    get("len")?,
                    get("elems")?,
                )?)
            }
            CircuitKind::Attn => {
                CircuitShape::Attn(AttnShape::new(get("head_dim")?, get("positions")?)?)
            }
        })
    }

    /// The shape part of a version-3 ceremony file: the kind byte, then `u64le rows, cols, R`
    /// (matvec), `u8 table (0 gelu, 1 silu) || u64le len || u64le E` (act), `u64le head_dim ||
    /// u64le P` (attn).
    pub fn file_bytes(&self) -> Vec<u8> {
        let mut b = vec![self.kind().code()];
        let words: Vec<usize> = match self {
            CircuitShape::MatVec(s) => vec![s.matrix_rows, s.cols, s.rows_per_unit],
            CircuitShape::Act(s) => {
                b.push(table_code(s.table));
                vec![s.len, s.elems]
            }
            CircuitShape::Attn(s) => vec![s.head_dim, s.positions],
        };
        for w in words {
            b.extend_from_slice(&(w as u64).to_le_bytes());
        }
        b
    }

    /// Reads [`CircuitShape::file_bytes`] through `take(n)` (the next `n` bytes of the file;
    /// typed errors for an unknown kind or table and an unsupported shape).
    pub fn read_file_bytes(
        take: &mut impl FnMut(usize) -> Result<Vec<u8>, ZkError>,
    ) -> Result<Self, ZkError> {
        let fmt = |m: &str| ZkError::CeremonyFormat(m.to_string());
        let kind =
            CircuitKind::from_code(take(1)?[0]).ok_or_else(|| fmt("unknown circuit kind"))?;
        let table = match kind {
            CircuitKind::Act => {
                Some(table_from_code(take(1)?[0]).ok_or_else(|| fmt("unknown activation table"))?)
            }
            _ => None,
        };
        let n = match kind {
            CircuitKind::MatVec => 3,
            _ => 2,
        };
        let mut w = [0usize; 3];
        for v in w.iter_mut().take(n) {
            let b: [u8; 8] = take(8)?.try_into().map_err(|_| fmt("file ends early"))?;
            *v = usize::try_from(u64::from_le_bytes(b)).map_err(|_| fmt("shape too large"))?;
        }
        Ok(match (kind, table) {
            (CircuitKind::Act, Some(t)) => CircuitShape::Act(ActShape::new(t, w[0], w[1])?),
            (CircuitKind::Attn, _) => CircuitShape::Attn(AttnShape::new(w[0], w[1])?),
            _ => CircuitShape::MatVec(UnitShape::new(w[0], w[1], w[2])?),
        })
    }
}

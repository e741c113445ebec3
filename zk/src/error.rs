//! Errors of the ZK layer, each with a stable code.

use std::fmt;

use otr_core::zk::ProofError;

/// Why proving, setup or a ceremony step failed.
#[derive(Debug)]
pub enum ZkError {
    /// A shape, row index or input length that the circuit does not support.
    Shape(String),
    /// The witness does not satisfy the circuit (wrong output, weights, input or rounding).
    Unsatisfied,
    /// arkworks failed while building constraints or a proof.
    Synthesis(String),
    /// Verification failed (the core's error, code `PROOF_*`).
    Proof(ProofError),
    /// A ceremony file could not be read.
    CeremonyFormat(String),
    /// A ceremony transcript or key does not verify.
    CeremonyInvalid(String),
    /// A phase-1 (powers of tau) file or transcript is rejected; the fault names the check.
    Phase1(crate::phase1::Phase1Fault, String),
    /// Keys, a ceremony or a proof of one unit circuit used for another.
    WrongCircuit {
        expected: crate::kind::CircuitKind,
        found: crate::kind::CircuitKind,
    },
    /// File I/O.
    Io(String),
}

impl ZkError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        use otr_core::error::ErrorCode;
        match self {
            ZkError::Shape(_) => "ZK_SHAPE_INVALID",
            ZkError::Unsatisfied => "ZK_UNSATISFIED",
            ZkError::Synthesis(_) => "ZK_SYNTHESIS",
            ZkError::Proof(e) => e.code(),
            ZkError::CeremonyFormat(_) => "ZK_CEREMONY_FORMAT",
            ZkError::CeremonyInvalid(_) => "ZK_CEREMONY_INVALID",
            ZkError::Phase1(f, _) => f.code(),
            ZkError::WrongCircuit { .. } => "ZK_CIRCUIT_KIND",
            ZkError::Io(_) => "ZK_IO",
        }
    }
}

impl fmt::Display for ZkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZkError::Shape(m) => write!(f, "unsupported unit: {m}"),
            ZkError::Unsatisfied => f.write_str(
                "the witness does not satisfy the spot-check circuit (the output does not follow \
                 from this input and these weights)",
            ),
            ZkError::Synthesis(m) => write!(f, "constraint synthesis: {m}"),
            ZkError::Proof(e) => write!(f, "{e}"),
            ZkError::CeremonyFormat(m) => write!(f, "ceremony file: {m}"),
            ZkError::CeremonyInvalid(m) => write!(f, "ceremony does not verify: {m}"),
            ZkError::Phase1(k, m) => write!(f, "phase 1 ({}): {m}", k.code()),
            ZkError::WrongCircuit { expected, found } => write!(
                f,
                "these are keys of the {found} circuit, the {expected} circuit was asked for"
            ),
            ZkError::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for ZkError {}

impl From<ProofError> for ZkError {
    fn from(e: ProofError) -> Self {
        ZkError::Proof(e)
    }
}

impl From<ark_relations::r1cs::SynthesisError> for ZkError {
    fn from(e: ark_relations::r1cs::SynthesisError) -> Self {
        ZkError::Synthesis(e.to_string())
    }
}

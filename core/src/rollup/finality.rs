//! Finality of an answer (DESIGN principle 5, `docs/PROTOCOL.md` §8): a pure function of the
//! chain status and the verifier's time.
//!
//! A batch posted at `p` with a challenge window of `w` seconds accepts challenges at every
//! time `t` with `p <= t < p + w`; from `t = p + w` on (the exact second included) it is final
//! unless a dispute is open or was lost by the node.

use core::fmt;
use serde::{Deserialize, Serialize};

use super::codec::{CodecError, Reader, Writer};
use super::serde_forms::dec_string;
use crate::error::{ErrorCode, Stage};
use crate::time::UnixTime;

/// What the settlement contract says about disputes over the receipt's batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum DisputeState {
    /// No dispute was opened.
    None,
    /// A dispute is in progress.
    Open,
    /// A dispute was resolved in the node's favour (the challenger's bond was slashed).
    ResolvedNodeWon,
    /// A dispute was resolved against the node; `slashed_wei` of its stake was slashed.
    ResolvedNodeLost {
        #[serde(with = "dec_string")]
        slashed_wei: u128,
    },
}

/// The inputs of [`evaluate_finality`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalityInputs {
    /// When the batch holding the header was posted on-chain; `None` while not posted yet.
    pub batch_posted_at: Option<UnixTime>,
    /// The contract's challenge window, in seconds (must be positive).
    pub challenge_window_secs: u64,
    pub dispute_state: DisputeState,
    /// The verifier's time.
    pub now: UnixTime,
}

/// The finality of an answer whose attestation and inclusion checks passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Finality {
    /// Attested by the GPU, not posted on-chain yet.
    Provisional,
    /// Posted; challenges are accepted until `ends_at` (exclusive).
    InWindow {
        posted_at: UnixTime,
        ends_at: UnixTime,
    },
    /// The window closed at `since` with no successful dispute.
    Final { since: UnixTime },
    /// A dispute is open: the answer is contested.
    Disputed,
    /// The node lost a dispute over this batch: the answer must not be trusted.
    Slashed {
        #[serde(with = "dec_string")]
        slashed_wei: u128,
    },
}

/// Inconsistent finality inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalityError {
    /// A zero-length challenge window would make every batch final at once.
    ZeroWindow,
    /// The batch claims to be posted after the verifier's `now`.
    PostedInFuture { posted_at: UnixTime, now: UnixTime },
    /// `posted_at + window` does not fit in the time range.
    TimeOverflow {
        posted_at: UnixTime,
        window_secs: u64,
    },
    /// A dispute state other than `None` for a batch that is not posted.
    DisputeWithoutBatch,
}

impl ErrorCode for FinalityError {
    fn code(&self) -> &'static str {
        match self {
            FinalityError::ZeroWindow => "FINALITY_ZERO_WINDOW",
            FinalityError::PostedInFuture { .. } => "FINALITY_POSTED_IN_FUTURE",
            FinalityError::TimeOverflow { .. } => "FINALITY_TIME_OVERFLOW",
            FinalityError::DisputeWithoutBatch => "FINALITY_DISPUTE_WITHOUT_BATCH",
        }
    }

    fn stage(&self) -> Stage {
        Stage::Finality
    }
}

impl fmt::Display for FinalityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinalityError::ZeroWindow => {
                f.write_str("the challenge window must be longer than 0 seconds")
            }
            FinalityError::PostedInFuture { posted_at, now } => write!(
                f,
                "the batch is said to be posted at {posted_at}, after the verification time {now}"
            ),
            FinalityError::TimeOverflow {
                posted_at,
                window_secs,
            } => write!(
                f,
                "the challenge window end ({posted_at} + {window_secs} s) is out of range"
            ),
            FinalityError::DisputeWithoutBatch => {
                f.write_str("a dispute is reported for a batch that was never posted")
            }
        }
    }
}

/// Decides the finality state. Pure: the same inputs always give the same answer.
pub fn evaluate_finality(inputs: &FinalityInputs) -> Result<Finality, FinalityError> {
    if inputs.challenge_window_secs == 0 {
        return Err(FinalityError::ZeroWindow);
    }
    let Some(posted_at) = inputs.batch_posted_at else {
        return match inputs.dispute_state {
            DisputeState::None => Ok(Finality::Provisional),
            _ => Err(FinalityError::DisputeWithoutBatch),
        };
    };
    if posted_at > inputs.now {
        return Err(FinalityError::PostedInFuture {
            posted_at,
            now: inputs.now,
        });
    }
    let overflow = FinalityError::TimeOverflow {
        posted_at,
        window_secs: inputs.challenge_window_secs,
    };
    let window = i64::try_from(inputs.challenge_window_secs).map_err(|_| overflow)?;
    let ends_at = UnixTime(posted_at.0.checked_add(window).ok_or(overflow)?);
    Ok(match inputs.dispute_state {
        DisputeState::ResolvedNodeLost { slashed_wei } => Finality::Slashed { slashed_wei },
        DisputeState::Open => Finality::Disputed,
        DisputeState::None | DisputeState::ResolvedNodeWon => {
            if inputs.now >= ends_at {
                Finality::Final { since: ends_at }
            } else {
                Finality::InWindow { posted_at, ends_at }
            }
        }
    })
}

/// The chain status a bundle may carry (the chain is the authority; a verifier that can read
/// the chain should build [`FinalityInputs`] from it instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainStatus {
    /// Unix seconds when the batch was posted.
    pub batch_posted_at: u64,
    pub challenge_window_secs: u64,
    pub dispute: DisputeState,
}

impl ChainStatus {
    /// Finality inputs at the verifier's `now`.
    pub fn to_inputs(&self, now: UnixTime) -> Result<FinalityInputs, FinalityError> {
        let posted =
            i64::try_from(self.batch_posted_at).map_err(|_| FinalityError::TimeOverflow {
                posted_at: UnixTime(i64::MAX),
                window_secs: self.challenge_window_secs,
            })?;
        Ok(FinalityInputs {
            batch_posted_at: Some(UnixTime(posted)),
            challenge_window_secs: self.challenge_window_secs,
            dispute_state: self.dispute,
            now,
        })
    }

    /// `u64 posted_at || u64 window || u8 dispute tag [|| u128 slashed_wei if tag 3]`.
    pub fn write(&self, w: &mut Writer) {
        w.u64(self.batch_posted_at).u64(self.challenge_window_secs);
        match self.dispute {
            DisputeState::None => w.u8(0),
            DisputeState::Open => w.u8(1),
            DisputeState::ResolvedNodeWon => w.u8(2),
            DisputeState::ResolvedNodeLost { slashed_wei } => {
                w.u8(3).array(&slashed_wei.to_be_bytes())
            }
        };
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let batch_posted_at = r.u64("batch_posted_at")?;
        let challenge_window_secs = r.u64("challenge_window_secs")?;
        let offset = r.offset();
        let dispute = match r.u8("dispute state")? {
            0 => DisputeState::None,
            1 => DisputeState::Open,
            2 => DisputeState::ResolvedNodeWon,
            3 => DisputeState::ResolvedNodeLost {
                slashed_wei: u128::from_be_bytes(r.array("slashed_wei")?),
            },
            byte => {
                return Err(CodecError::NonCanonical {
                    offset,
                    what: "dispute state",
                    byte,
                })
            }
        };
        Ok(ChainStatus {
            batch_posted_at,
            challenge_window_secs,
            dispute,
        })
    }
}

#[cfg(test)]
#[path = "finality_tests.rs"]
mod tests;

//! Contract tests on the embedded revm chain (one test binary: revm links once).

#[path = "suite/act.rs"]
mod act;
#[path = "suite/attn.rs"]
mod attn;
#[path = "suite/attn_claim.rs"]
mod attn_claim;
#[path = "suite/common.rs"]
mod common;
#[path = "suite/disputes.rs"]
mod disputes;
#[path = "suite/embed.rs"]
mod embed;
#[path = "suite/gas.rs"]
mod gas;
#[path = "suite/groth16.rs"]
mod groth16;
#[path = "suite/lifecycle.rs"]
mod lifecycle;
#[path = "suite/logits.rs"]
mod logits;
#[path = "suite/matrow.rs"]
mod matrow;
#[path = "suite/matvec.rs"]
mod matvec;
#[path = "suite/norm.rs"]
mod norm;
#[path = "suite/prompt.rs"]
mod prompt;
#[path = "suite/real_gemma.rs"]
mod real_gemma;
#[path = "suite/rewards.rs"]
mod rewards;
#[path = "suite/sample.rs"]
mod sample;
#[path = "suite/spot_checks.rs"]
mod spot_checks;

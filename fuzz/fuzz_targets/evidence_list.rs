//! NVIDIA multi-GPU evidence lists (JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::attestation::list::parse_evidence_list;

fuzz_target!(|data: &[u8]| {
    let _ = parse_evidence_list(data);
});

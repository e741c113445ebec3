//! The phase-1 (powers of tau) file parser of `otr-zk`, then its verifier on small sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_zk::phase1::{self, Phase1};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Phase1::read(&mut &data[..]) {
        // Verification is pairings and MSMs over the powers: bounded here to keep runs fast.
        if p.powers.log_n <= 3 {
            let _ = phase1::verify(&p);
        }
    }
});

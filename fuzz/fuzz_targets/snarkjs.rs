//! snarkjs JSON (verifying key, proof, public inputs) and the binary verifying-key and proof forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::zk::snarkjs::{parse_proof, parse_public_inputs, parse_vk};
use otr_core::zk::{Compress, Groth16Proof, PreparedVk};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(vk) = parse_vk(text) {
            let _ = vk.key_id();
        }
        let _ = parse_proof(text);
        let _ = parse_public_inputs(text);
    }
    let _ = PreparedVk::from_bytes(data, Compress::Yes);
    let _ = PreparedVk::from_bytes(data, Compress::No);
    let _ = Groth16Proof::from_bytes(data, Compress::Yes);
});

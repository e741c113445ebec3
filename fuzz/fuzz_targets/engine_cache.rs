//! The engine's converted-model cache file (`convert::cache::parse`) and the canonical tensor
//! form it holds (`weights::Tensor::from_canonical`). The input is the file without its trailing
//! SHA-256, which the target appends, so that fuzzing reaches the parser behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_engine::weights::Tensor;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    if let Some(t) = Tensor::from_canonical(data) {
        // A parsed tensor's canonical form is the input again.
        assert_eq!(t.canonical_bytes(), data);
    }
    let mut file = data.to_vec();
    file.extend_from_slice(&Sha256::digest(data));
    let _ = otr_engine::convert::cache::parse(&file, "fuzz", &[7u8; 32]);
});

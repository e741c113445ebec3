//! GGUF model files (engine `gguf::Gguf::parse`), then everything the engine does with a parsed
//! file before serving it: configuration, tokenizer, conversion into the int8 format, the model
//! itself, and one greedy token. A hostile model file must give a typed error, never a panic, an
//! overflow or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_engine::gguf::{Gguf, Limits};
use otr_engine::{Kernel, LoadOptions, Model, Sampling};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_tensors: 512,
        max_kv: 4096,
        max_dims: 4,
        max_string_len: 1 << 16,
        max_array_len: 1 << 16,
        max_tensor_elements: 1 << 22,
    };
    let Ok(g) = Gguf::parse_with(data, limits) else {
        return;
    };
    let _ = otr_engine::model::config::Config::from_gguf(&g);
    let _ = otr_engine::tokenizer::Tokenizer::from_gguf(&g);
    let opts = LoadOptions {
        threads: 1,
        kernel: Kernel::Scalar,
        verbose: false,
    };
    if let Ok(m) = Model::from_gguf_bytes(data, opts) {
        let ids = m.tokenizer().encode("a", true, false);
        let _ = m.generate(&ids, &Sampling::greedy(1), &mut |_, _| true);
    }
});

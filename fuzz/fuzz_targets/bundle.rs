//! Answer bundles (binary and JSON), receipts and micro-batch headers; the ZK statements a
//! bundle's proofs carry, checked against its receipt (`otr_core::zk::statement`), and its
//! opened `PROMPT` leaf (`otr_core::verify::check_prompt_opening`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::rollup::bundle::AnswerBundle;
use otr_core::rollup::{verify_bundle_structure, MicroBatchHeader, Receipt};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = AnswerBundle::decode(data) {
        let _ = verify_bundle_structure(&b);
        let _ = b.to_json();
        let mut poseidon = None;
        for p in &b.zk_proofs {
            if let Some(st) = &p.statement {
                let h = poseidon.get_or_insert_with(otr_core::zk::poseidon::Poseidon::new);
                let _ =
                    otr_core::zk::statement::check_statement(st, &p.public_inputs, &b.receipt, h);
            }
        }
        if let Some(o) = &b.prompt {
            let _ = otr_core::verify::check_prompt_opening(&b.receipt, o);
        }
    }
    let _ = Receipt::decode(data);
    let _ = MicroBatchHeader::decode(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(b) = AnswerBundle::from_json(text) {
            let _ = verify_bundle_structure(&b);
        }
        let _ = Receipt::from_json(text);
        let _ = MicroBatchHeader::from_json(text);
    }
});

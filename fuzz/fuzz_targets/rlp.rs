//! Strict RLP: items, integers, nested lists, block headers, account and storage leaf values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_core::chain::proof::decode_storage_value;
use otr_core::chain::{rlp, Account, EthHeader};

/// Every item of every nested list, one level at a time (no recursion, so no depth limit).
fn walk(data: &[u8]) {
    let Ok(top) = rlp::decode_exact(data) else {
        return;
    };
    let mut pending = vec![top];
    while let Some(item) = pending.pop() {
        if let Ok(children) = item.list() {
            pending.extend(children.map_while(Result::ok));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data);
    if let Ok(item) = rlp::decode_exact(data) {
        let _ = (item.as_u64(), item.as_word());
        if let Ok(Some(items)) = item.list_items(32) {
            for i in items {
                let _ = (i.bytes(), i.as_u64(), i.as_word(), i.list_items(17));
            }
        }
    }
    let _ = EthHeader::decode(data, 0);
    let _ = Account::decode(data);
    let _ = decode_storage_value(data, 0);
});

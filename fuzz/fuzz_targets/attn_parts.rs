//! The attention claim's states and inputs (`otr_engine::model::attn_parts`): what a challenger
//! decodes from a node's claim and revealed part, and recomputes from step inputs. The first
//! four bytes pick the shape and the part length; the rest is a state, then the query heads and
//! the keys and values (split in two halves).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr_engine::model::attn_parts::{
    claimed_maxima, decode_state, encode_state, output, AttnInputs, AttnShape,
};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let kv = 1 + (head[0] % 2) as usize;
    let shape = AttnShape {
        heads: kv * (1 + (head[1] % 2) as usize),
        kv_heads: kv,
        head_dim: 1 + (head[2] % 8) as usize,
    };
    let chunk = 1 + (head[3] % 4) as usize;
    let sb = shape.state_bytes().min(rest.len());
    let (state, rest) = rest.split_at(sb);
    let claimed = decode_state(state, shape);
    if let Some(s) = &claimed {
        // A decoded state encodes to its bytes again; any state gives an output.
        assert_eq!(encode_state(s), state);
        let _ = output(s);
    }
    let qn = (shape.heads * (4 + 2 * shape.head_dim)).min(rest.len());
    let (q, kvs) = rest.split_at(qn);
    let (ks, vs) = kvs.split_at(kvs.len() / 2);
    let Some(x) = AttnInputs::from_bytes(shape, q, ks, vs) else {
        return;
    };
    let honest = x.states(chunk);
    assert_eq!(honest.len(), x.parts(chunk));
    if let Some(last) = honest.last() {
        let _ = output(last);
    }
    if let Some(s) = &claimed {
        // A hostile claim's maxima, and its state as the one before a part.
        let me = claimed_maxima(s);
        let _ = x.states_with(chunk, &me);
        let _ = x.step(s, x.parts(chunk).saturating_sub(1), chunk, &me);
    }
});

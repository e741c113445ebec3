//! Proofs of every unit circuit in a bundle's `zk_proofs`: a matvec, an ACT and an attention
//! unit proof, each with its verifying key's id as `circuit_id`, pass the bundle verifier's ZK
//! stage (`otr_core::verify::verify_zk_proofs`, what `verify_bundle` runs) after the bundle's
//! JSON form; a proof under another circuit's id or an unknown id is refused.

mod common;

use otr_core::error::ErrorCode;
use otr_core::rollup::ZkProof;
use otr_core::verify::{verify_zk_proofs, VerifyError};
use otr_core::zk::PreparedVk;
use otr_engine::fixed::{Act16, W_ONE};
use otr_zk::act::{self, ActShape, ActTable};
use otr_zk::attn::{self, AttnShape};
use otr_zk::prove::{prepared_vk, prove_unit};

fn entry(vk: &PreparedVk, proof: &[u8], inputs: Vec<[u8; 32]>) -> ZkProof {
    ZkProof {
        circuit_id: vk.key_id(),
        proof: proof.to_vec(),
        public_inputs: inputs,
        statement: None,
    }
}

#[test]
fn act_and_attention_proofs_verify_as_bundle_proofs() {
    // matvec: the shared test ceremony's key.
    let d = common::data();
    let mv_vk = prepared_vk(common::pk()).unwrap();
    let mv = prove_unit(
        common::pk(),
        &d.tree,
        &d.w,
        &d.x,
        common::R,
        4,
        &mut common::rng(1),
    )
    .unwrap();
    // ACT: silu, 8 elements, units of 2.
    let act_shape = ActShape::new(ActTable::Silu, 8, 2).unwrap();
    let act_pk = act::initial_key_insecure(act_shape).unwrap();
    let act_vk = prepared_vk(&act_pk).unwrap();
    let gate = [
        -3 * W_ONE,
        W_ONE / 3,
        7,
        40 * W_ONE,
        -W_ONE,
        2 * W_ONE,
        5,
        W_ONE,
    ];
    let up = [
        W_ONE,
        -W_ONE,
        3 * W_ONE,
        W_ONE / 5,
        9,
        W_ONE,
        -2 * W_ONE,
        W_ONE,
    ];
    let ap = act::prove_act_unit(&act_pk, act_shape, &gate, &up, 2, &mut common::rng(2)).unwrap();
    // ATTN: head dimension 2 over 2 positions.
    let attn_shape = AttnShape::new(2, 2).unwrap();
    let attn_pk = attn::initial_key_insecure(attn_shape).unwrap();
    let attn_vk = prepared_vk(&attn_pk).unwrap();
    let a = |exp: i32, q: [i16; 2]| Act16 { q: q.to_vec(), exp };
    let q = a(-3, [1200, -800]);
    let keys = [a(-2, [300, 900]), a(-4, [-2000, 50])];
    let values = [a(-1, [700, -30]), a(-5, [12000, 4])];
    let tp = attn::prove_attn_unit(
        &attn_pk,
        &q,
        &keys,
        &values,
        758_713_601,
        &mut common::rng(3),
    )
    .unwrap();

    let proofs = [
        entry(&mv_vk, &mv.proof, mv.statement.public_inputs_be()),
        entry(&act_vk, &ap.proof, ap.statement.public_inputs_be()),
        entry(&attn_vk, &tp.proof, tp.statement.public_inputs_be()),
    ];
    // Through the bundle's JSON form (hex ids and inputs, base64 proofs).
    let proofs: Vec<ZkProof> = proofs
        .iter()
        .map(|p| serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap())
        .collect();
    let keys = [
        (mv_vk.key_id(), &mv_vk),
        (act_vk.key_id(), &act_vk),
        (attn_vk.key_id(), &attn_vk),
    ];
    let claims = verify_zk_proofs(&proofs, &keys).unwrap();
    assert_eq!(claims.len(), 3);
    for (c, k) in claims.iter().zip(&keys) {
        assert_eq!(c.circuit_id, hex::encode(k.0));
        assert_eq!(c.public_inputs, 4);
    }
    // The ACT proof named as the attention circuit's, or the attention proof as the ACT's.
    for (i, other) in [(1usize, &attn_vk), (2, &act_vk)] {
        let mut bad = proofs.clone();
        bad[i].circuit_id = other.key_id();
        match verify_zk_proofs(&bad, &keys) {
            Err(e @ VerifyError::Proof { index, .. }) => {
                assert_eq!(index, i);
                assert_eq!(e.code(), "PROOF_INVALID");
            }
            other => panic!("accepted or wrong error: {other:?}"),
        }
    }
    // A changed public input of the ACT proof; its key not given.
    let mut bad = proofs.clone();
    bad[1].public_inputs[1] = bad[2].public_inputs[1];
    assert!(matches!(
        verify_zk_proofs(&bad, &keys),
        Err(VerifyError::Proof { index: 1, .. })
    ));
    let e = verify_zk_proofs(&proofs, &[keys[0], keys[2]]).unwrap_err();
    assert_eq!(e.code(), "PROOF_UNKNOWN_CIRCUIT");
}

//! The phase-2 ceremony: two contributors, a verified transcript, keys that prove and verify
//! through the core; every kind of tampering is rejected.

mod common;

use ark_bn254::{Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use otr_zk::ceremony::{self, Ceremony};
use otr_zk::prove::{prepared_vk, prove_unit, verify_unit};

#[test]
fn two_contributors_verify_and_the_key_proves() {
    let c = common::ceremony();
    let report = ceremony::verify(c).unwrap();
    assert_eq!(
        report
            .contributors
            .iter()
            .map(|x| x.0.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_ne!(c.pk.delta_g1, common::init_key().delta_g1, "delta changed");
    let (pk, vk, _) = c.finalize(2).unwrap();
    let d = common::data();
    let p = prove_unit(&pk, &d.tree, &d.w, &d.x, common::R, 2, &mut common::rng(9)).unwrap();
    let pvk = otr_core::zk::PreparedVk::new(vk).unwrap();
    let ok = verify_unit(&pvk, &p.statement, &p.proof).unwrap();
    assert_eq!(ok.key_id, report.key_id);
}

#[test]
fn file_round_trip() {
    let c = common::ceremony();
    let mut buf = Vec::new();
    c.write(&mut buf).unwrap();
    let back = Ceremony::read(&mut &buf[..]).unwrap();
    assert_eq!(back.contributions, c.contributions);
    assert_eq!(back.pk, c.pk);
    assert!(Ceremony::read(&mut &buf[..buf.len() - 1]).is_err());
    let mut bad = buf.clone();
    bad[0] ^= 1;
    assert_eq!(
        Ceremony::read(&mut &bad[..]).unwrap_err().code(),
        "ZK_CEREMONY_FORMAT"
    );
}

fn rejects(c: &Ceremony, why: &str) {
    match ceremony::verify_against(c, common::init_key()) {
        Err(e) => assert_eq!(e.code(), "ZK_CEREMONY_INVALID", "{why}: {e}"),
        Ok(_) => panic!("tampered ceremony accepted: {why}"),
    }
}

#[test]
fn tampered_transcripts_fail() {
    let good = common::ceremony();
    // A renamed contributor: the proof of knowledge is bound to the name.
    let mut c = good.clone();
    c.contributions[0].name = "mallory".into();
    rejects(&c, "renamed");
    // A contribution's delta replaced by a known value.
    let mut c = good.clone();
    c.contributions[1].delta_g1 = (G1Affine::generator() * Fr::from(5u64)).into_affine();
    rejects(&c, "delta of entry 1");
    // Entries swapped.
    let mut c = good.clone();
    c.contributions.swap(0, 1);
    rejects(&c, "swapped");
    // A dropped contribution (the key still carries both).
    let mut c = good.clone();
    c.contributions.remove(0);
    rejects(&c, "dropped");
    // delta replaced in the key by one whose discrete log the attacker knows.
    let mut c = good.clone();
    c.pk.delta_g1 = (G1Affine::generator() * Fr::from(7u64)).into_affine();
    rejects(&c, "key delta");
    // One L point changed.
    let mut c = good.clone();
    c.pk.l_query[3] = (c.pk.l_query[3] + G1Affine::generator()).into_affine();
    rejects(&c, "L point");
    // One H point changed.
    let mut c = good.clone();
    c.pk.h_query[0] = (c.pk.h_query[0] * Fr::from(2u64)).into_affine();
    rejects(&c, "H point");
    // A delta-free element changed.
    let mut c = good.clone();
    c.pk.a_query[1] = (c.pk.a_query[1] + G1Affine::generator()).into_affine();
    rejects(&c, "A query");
    // Contribution without L/H update: pk.delta changed, L/H left alone.
    let mut c = Ceremony {
        shape: common::shape(),
        phase1: ceremony::Phase1Source::InsecurePublic,
        contributions: Vec::new(),
        pk: common::init_key().clone(),
    };
    let l = c.pk.l_query.clone();
    let h = c.pk.h_query.clone();
    c.contribute("lazy", &mut common::rng(3)).unwrap();
    c.pk.l_query = l;
    c.pk.h_query = h;
    rejects(&c, "L/H not updated");
}

#[test]
fn finalize_needs_enough_contributors() {
    let c = common::ceremony();
    assert_eq!(c.finalize(3).unwrap_err().code(), "ZK_CEREMONY_INVALID");
    let _ = prepared_vk(&c.pk).unwrap();
}

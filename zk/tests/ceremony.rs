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
        shape: common::shape().into(),
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

// ---------------------------------------------------------------------------------------------
// Ceremonies of the ACT and ATTN unit circuits, at the sizes of the fixture model tiny-gemma3:
// ACT (gelu, FFN width 256, E = 32) and ATTN (head dimension 32, the 4 positions of its sliding
// window at the last prompt token), each with two contributors; their keys prove real units of
// a trace.

mod kinds {
    use std::sync::OnceLock;

    use otr_engine::fixed::Act16;
    use otr_engine::model::trace::layer_op;
    use otr_engine::{Kernel, LoadOptions, Model, Sampling, StepKey, StepTensor};
    use otr_zk::act::{self, ActShape, ActStatement, ActTable, ActWitness};
    use otr_zk::attn::{self, AttnHead, AttnShape, AttnStatement, AttnWitness};
    use otr_zk::ceremony::{self, Ceremony, VerifiedCeremony};
    use otr_zk::keys::{CircuitKeys, Keys};
    use otr_zk::kind::{CircuitKind, CircuitShape};
    use otr_zk::prove::prepared_vk;
    use sha2::{Digest, Sha256};

    use super::common;

    const PROMPT: &[u32] = &[2, 40, 77, 91, 120];
    /// ACT elements per unit.
    const E: usize = 32;

    fn model() -> &'static Model {
        static M: OnceLock<Model> = OnceLock::new();
        M.get_or_init(|| {
            let opts = LoadOptions {
                threads: 1,
                kernel: Kernel::Scalar,
                verbose: false,
            };
            otr_engine::fixture::load("tiny-gemma3", opts).unwrap()
        })
    }

    /// The recorded inputs and output of the step `op` of layer stage `stage` at `pos`.
    fn step(op: u8, stage: u16, pos: u32) -> (Vec<StepTensor>, StepTensor) {
        let m = model();
        let s = Sampling::greedy(2);
        let (_, steps) = m.trace_steps(PROMPT, &s, &mut |_, _| true).unwrap();
        let key = StepKey { pos, stage, op };
        let index = steps.iter().position(|x| x.0 == key).expect("step") as u64;
        let rec = m.step_input(PROMPT, &s, index).unwrap();
        m.replay_step(&rec).unwrap();
        assert_eq!(rec.output.digest(), steps[index as usize].1);
        (rec.inputs, rec.output)
    }

    fn wide_bytes(t: &StepTensor) -> Vec<u8> {
        match t {
            StepTensor::Wide(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            other => panic!("not wide: {other:?}"),
        }
    }

    fn wide(t: &StepTensor) -> Vec<i64> {
        match t {
            StepTensor::Wide(v) => v.clone(),
            other => panic!("not wide: {other:?}"),
        }
    }

    /// A real ACT step: gate, up, output bytes.
    struct ActStep {
        gate: Vec<i64>,
        up: Vec<i64>,
        out: Vec<u8>,
    }

    fn act_step() -> &'static ActStep {
        static S: OnceLock<ActStep> = OnceLock::new();
        S.get_or_init(|| {
            let (inputs, out) = step(layer_op::ACT, 1, 2);
            ActStep {
                gate: wide(&inputs[0]),
                up: wide(&inputs[1]),
                out: out.bytes(),
            }
        })
    }

    /// A real ATTN step: query heads, keys, values (trace bytes) and the positions.
    struct AttnStep {
        q: Vec<u8>,
        k: Vec<u8>,
        v: Vec<u8>,
        out: Act16,
        positions: usize,
    }

    fn attn_step() -> &'static AttnStep {
        static S: OnceLock<AttnStep> = OnceLock::new();
        S.get_or_init(|| {
            let (inputs, out) = step(layer_op::ATTN, 1, 4);
            let nkv = model().config().n_kv_heads;
            let positions = match &inputs[1] {
                StepTensor::Acts(v) => v.len() / nkv,
                other => panic!("not Acts: {other:?}"),
            };
            let out = match out {
                StepTensor::Act(a) => a,
                other => panic!("not an Act16: {other:?}"),
            };
            AttnStep {
                q: inputs[0].bytes(),
                k: inputs[1].bytes(),
                v: inputs[2].bytes(),
                out,
                positions,
            }
        })
    }

    fn act_shape() -> ActShape {
        let table = ActTable::from_digest(&model().act_table_digest()).unwrap();
        assert_eq!(table, ActTable::Gelu);
        assert_eq!(act_step().gate.len(), 256);
        ActShape::new(table, act_step().gate.len(), E).unwrap()
    }

    fn attn_shape() -> AttnShape {
        // The fixture's sliding window: the last prompt token sees 4 positions.
        assert_eq!(attn_step().positions, 4);
        AttnShape::new(model().config().head_dim, attn_step().positions).unwrap()
    }

    /// Two contributors on the public (INSECURE) phase 1, fixed test randomness.
    fn two_party(shape: CircuitShape, seed: u64) -> Ceremony {
        let mut c = Ceremony::init(shape).unwrap();
        c.contribute("alice", &mut common::rng(seed)).unwrap();
        c.contribute("bob", &mut common::rng(seed + 1)).unwrap();
        c
    }

    fn act_ceremony() -> &'static Ceremony {
        static C: OnceLock<Ceremony> = OnceLock::new();
        C.get_or_init(|| two_party(act_shape().into(), 21))
    }

    fn attn_ceremony() -> &'static Ceremony {
        static C: OnceLock<Ceremony> = OnceLock::new();
        C.get_or_init(|| two_party(attn_shape().into(), 31))
    }

    fn checks(c: &Ceremony, kind: CircuitKind) -> VerifiedCeremony {
        assert_eq!(c.shape.kind(), kind);
        let report = ceremony::verify(c).unwrap();
        let names: Vec<&str> = report.contributors.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(report.shape, c.shape);
        // delta moved away from the initial key's.
        let init = c.shape.initial_key_insecure().unwrap();
        assert_ne!(c.pk.delta_g1, init.delta_g1);
        // The file names its circuit and reads back as the same ceremony.
        let mut buf = Vec::new();
        c.write(&mut buf).unwrap();
        assert_eq!(u32::from_le_bytes(buf[16..20].try_into().unwrap()), 3);
        assert_eq!(buf[20], kind.code());
        let back = Ceremony::read(&mut &buf[..]).unwrap();
        assert_eq!(back.shape, c.shape);
        assert_eq!(back.contributions, c.contributions);
        assert_eq!(back.pk, c.pk);
        // A tampered contribution (its delta replaced by one whose discrete log is known,
        // and the key's with it) is refused with its code.
        let mut bad = c.clone();
        let forged = (ark_bn254::G1Affine::generator() * ark_bn254::Fr::from(9u64)).into_affine();
        bad.contributions[1].delta_g1 = forged;
        bad.pk.delta_g1 = forged;
        let e = ceremony::verify(&bad).unwrap_err();
        assert_eq!(e.code(), "ZK_CEREMONY_INVALID", "{e}");
        assert!(e.to_string().contains("contribution 1"), "{e}");
        // So is a renamed contributor (the proof of knowledge is bound to the name).
        let mut bad = c.clone();
        bad.contributions[0].name = "mallory".into();
        assert_eq!(
            ceremony::verify(&bad).unwrap_err().code(),
            "ZK_CEREMONY_INVALID"
        );
        report
    }

    use ark_ec::{AffineRepr, CurveGroup};

    #[test]
    fn an_act_ceremony_of_two_contributors_proves_a_real_act_unit() {
        let c = act_ceremony();
        let report = checks(c, CircuitKind::Act);
        let (pk, vk, _) = c.finalize(2).unwrap();
        let vk = otr_core::zk::PreparedVk::new(vk).unwrap();
        assert_eq!(vk.key_id(), report.key_id);
        let st = act_step();
        let shape = act_shape();
        let start = 5 * E;
        let p =
            act::prove_act_unit(&pk, shape, &st.gate, &st.up, start, &mut common::rng(4)).unwrap();
        let from_trace = ActStatement::from_trace(
            &shape,
            start as u64,
            &wide_bytes(&StepTensor::Wide(st.gate.clone())),
            &wide_bytes(&StepTensor::Wide(st.up.clone())),
            &st.out,
        )
        .unwrap();
        assert_eq!(p.statement, from_trace);
        let ok = act::verify_act_unit(&vk, &from_trace, &p.proof).unwrap();
        assert_eq!(ok.key_id, report.key_id);
        // Another unit's statement does not verify with this proof.
        let other = ActStatement {
            start: start as u64 + E as u64,
            ..from_trace
        };
        assert_eq!(
            act::verify_act_unit(&vk, &other, &p.proof)
                .unwrap_err()
                .code(),
            "PROOF_INVALID"
        );
    }

    #[test]
    fn an_attn_ceremony_of_two_contributors_proves_a_real_attention_head() {
        let c = attn_ceremony();
        let report = checks(c, CircuitKind::Attn);
        let (pk, vk, _) = c.finalize(2).unwrap();
        let vk = otr_core::zk::PreparedVk::new(vk).unwrap();
        let m = model();
        let cfg = m.config();
        let st = attn_step();
        let shape = attn_shape();
        let head = AttnHead {
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head: 1,
        };
        let scale = cfg.attn_scale_q32();
        let (q, ks, vs) = AttnStatement::head_inputs(&shape, head, &st.q, &st.k, &st.v).unwrap();
        let p = attn::prove_attn_unit(&pk, &q, &ks, &vs, scale, &mut common::rng(5)).unwrap();
        let from_trace = AttnStatement::from_trace(
            &shape,
            head,
            scale,
            &st.q,
            &st.k,
            &st.v,
            &st.out.bytes(),
            &p.outputs,
        )
        .unwrap();
        assert_eq!(p.statement, from_trace);
        let ok = attn::verify_attn_unit(&vk, &from_trace, &p.proof).unwrap();
        assert_eq!(ok.key_id, report.key_id);
        let other = AttnStatement {
            scale: scale + 1,
            ..from_trace
        };
        assert_eq!(
            attn::verify_attn_unit(&vk, &other, &p.proof)
                .unwrap_err()
                .code(),
            "PROOF_INVALID"
        );
    }

    #[test]
    fn a_key_of_one_kind_is_refused_for_another() {
        let (act_c, attn_c) = (act_ceremony(), attn_ceremony());
        // Proving: an ATTN witness with the ACT key, an ACT witness with the ATTN key, a matvec
        // unit with either.
        let cfg = model().config();
        let st = attn_step();
        let head = AttnHead {
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head: 0,
        };
        let (q, ks, vs) =
            AttnStatement::head_inputs(&attn_shape(), head, &st.q, &st.k, &st.v).unwrap();
        let w = AttnWitness::new(&q, &ks, &vs, cfg.attn_scale_q32()).unwrap();
        let e = attn::prove_attn_witness(&act_c.pk, w, &mut common::rng(6)).unwrap_err();
        assert_eq!(e.code(), "ZK_SHAPE_INVALID", "{e}");
        let a = act_step();
        let w = ActWitness::new(act_shape(), &a.gate, &a.up, 0).unwrap();
        let e = act::prove_act_witness(&attn_c.pk, w, &mut common::rng(7)).unwrap_err();
        assert_eq!(e.code(), "ZK_SHAPE_INVALID", "{e}");
        let d = common::data();
        for pk in [&act_c.pk, &attn_c.pk] {
            let e = otr_zk::prove::prove_unit(
                pk,
                &d.tree,
                &d.w,
                &d.x,
                common::R,
                0,
                &mut common::rng(8),
            )
            .unwrap_err();
            assert_eq!(e.code(), "ZK_SHAPE_INVALID", "{e}");
        }
        // Verifying: an ACT proof against the ATTN key.
        let p = act::prove_act_unit(
            &act_c.pk,
            act_shape(),
            &a.gate,
            &a.up,
            0,
            &mut common::rng(9),
        )
        .unwrap();
        let attn_vk = prepared_vk(&attn_c.pk).unwrap();
        assert_eq!(
            act::verify_act_unit(&attn_vk, &p.statement, &p.proof)
                .unwrap_err()
                .code(),
            "PROOF_INVALID"
        );
        // A ceremony file relabelled with another circuit does not verify.
        let mut relabelled = act_c.clone();
        relabelled.shape = attn_c.shape;
        assert_eq!(
            ceremony::verify(&relabelled).unwrap_err().code(),
            "ZK_CEREMONY_INVALID"
        );
        // Finalized keys of one kind are not loaded as another's.
        let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("zk-ceremony-kinds");
        let _ = std::fs::remove_dir_all(&root);
        for (c, name) in [(act_c, "act"), (attn_c, "attn")] {
            let report = ceremony::verify(c).unwrap();
            otr_zk::keys::write_dir(&root.join(name), c, &report, &serde_json::json!(null))
                .unwrap();
        }
        let act_keys = CircuitKeys::load(&root.join("act")).unwrap();
        assert_eq!(act_keys.shape, act_c.shape);
        assert_eq!(act_keys.key_id, prepared_vk(&act_c.pk).unwrap().key_id());
        let e = CircuitKeys::load_kind(&root.join("act"), CircuitKind::Attn)
            .err()
            .unwrap();
        assert_eq!(e.code(), "ZK_CIRCUIT_KIND", "{e}");
        let e = Keys::load(&root.join("attn")).err().unwrap();
        assert_eq!(e.code(), "ZK_CIRCUIT_KIND", "{e}");
        let e = otr_zk::keys::transcript_shape(&root.join("act")).unwrap_err();
        assert_eq!(e.code(), "ZK_CIRCUIT_KIND", "{e}");
        assert!(CircuitKeys::load_kind(&root.join("attn"), CircuitKind::Attn).is_ok());
    }

    #[test]
    fn transcript_domains_name_the_kind_and_shape() {
        // matvec's h_0 is the one of version-2 ceremonies: tag, version string, rows, cols, R.
        let mv: CircuitShape = common::shape().into();
        let mut h = Sha256::new();
        h.update(ceremony::TRANSCRIPT_TAG);
        h.update(b"OTR/zk/matvec-unit/v1");
        for v in [common::ROWS, common::COLS, common::R] {
            h.update((v as u64).to_le_bytes());
        }
        assert_eq!(
            ceremony::transcript_start(&mv),
            <[u8; 32]>::from(h.finalize())
        );
        // ACT: tag, version, table digest, len, E; ATTN: tag, version, head_dim, P.
        let a: CircuitShape = ActShape::new(ActTable::Silu, 64, 8).unwrap().into();
        let h: [u8; 32] = Sha256::new()
            .chain_update(ceremony::TRANSCRIPT_TAG)
            .chain_update(b"OTR/zk/act-unit/v1")
            .chain_update(ActTable::Silu.table().digest())
            .chain_update(64u64.to_le_bytes())
            .chain_update(8u64.to_le_bytes())
            .finalize()
            .into();
        assert_eq!(ceremony::transcript_start(&a), h);
        let t: CircuitShape = AttnShape::new(8, 3).unwrap().into();
        let h: [u8; 32] = Sha256::new()
            .chain_update(ceremony::TRANSCRIPT_TAG)
            .chain_update(b"OTR/zk/attn-unit/v1")
            .chain_update(8u64.to_le_bytes())
            .chain_update(3u64.to_le_bytes())
            .finalize()
            .into();
        assert_eq!(ceremony::transcript_start(&t), h);
        // Another table, length or E, head size or P: another start.
        for other in [
            CircuitShape::from(ActShape::new(ActTable::Gelu, 64, 8).unwrap()),
            ActShape::new(ActTable::Silu, 64, 16).unwrap().into(),
            AttnShape::new(8, 4).unwrap().into(),
            AttnShape::new(16, 3).unwrap().into(),
        ] {
            assert_ne!(
                ceremony::transcript_start(&other),
                ceremony::transcript_start(&a)
            );
            assert_ne!(
                ceremony::transcript_start(&other),
                ceremony::transcript_start(&t)
            );
        }
    }
}

#[test]
fn version_2_files_read_as_matvec_ceremonies() {
    // A version-3 matvec file without its kind byte, labelled version 2: the format before
    // ceremonies named their circuit. It reads, and verifies (same transcript start).
    let c = common::ceremony();
    let mut v3 = Vec::new();
    c.write(&mut v3).unwrap();
    assert_eq!(v3[20], 0, "matvec kind byte");
    let mut v2 = v3.clone();
    v2.remove(20);
    v2[16..20].copy_from_slice(&2u32.to_le_bytes());
    let back = Ceremony::read(&mut &v2[..]).unwrap();
    assert_eq!(back.shape, common::shape().into());
    assert_eq!(back.pk, c.pk);
    assert_eq!(
        ceremony::verify(&back).unwrap().transcript_hash,
        c.transcript_hash()
    );
    // Unknown kinds, tables and versions are format errors.
    for (at, byte) in [(20usize, 3u8), (16, 4)] {
        let mut bad = v3.clone();
        bad[at] = byte;
        assert_eq!(
            Ceremony::read(&mut &bad[..]).unwrap_err().code(),
            "ZK_CEREMONY_FORMAT"
        );
    }
    let act = Ceremony {
        shape: otr_zk::act::ActShape::new(otr_zk::act::ActTable::Silu, 8, 2)
            .unwrap()
            .into(),
        phase1: ceremony::Phase1Source::InsecurePublic,
        contributions: Vec::new(),
        pk: c.pk.clone(),
    };
    let mut buf = Vec::new();
    act.write(&mut buf).unwrap();
    assert_eq!(&buf[20..22], &[1, 1], "act, silu");
    buf[21] = 7;
    assert_eq!(
        Ceremony::read(&mut &buf[..]).unwrap_err().code(),
        "ZK_CEREMONY_FORMAT"
    );
}

#[test]
fn act_and_attn_ceremonies_on_a_two_party_phase1_verify_against_it() {
    use otr_engine::fixed::{Act16, W_ONE};
    use otr_zk::act::{self, ActShape, ActTable};
    use otr_zk::attn::{self, AttnShape};
    use otr_zk::kind::CircuitShape;
    use otr_zk::phase1::{self, Phase1};
    let act_shape: CircuitShape = ActShape::new(ActTable::Silu, 8, 2).unwrap().into();
    let attn_shape: CircuitShape = AttnShape::new(2, 2).unwrap().into();
    let n = [act_shape, attn_shape]
        .iter()
        .map(|s| s.constraints_plus_inputs().unwrap())
        .max()
        .unwrap();
    let mut p1 = Phase1::init(Phase1::log_size_for(n)).unwrap();
    p1.contribute("alice", &mut common::rng(41), None).unwrap();
    p1.contribute("bob", &mut common::rng(42), None).unwrap();
    let h1 = phase1::verify(&p1).unwrap().transcript_hash;
    let mut keys = Vec::new();
    for (shape, seed) in [(act_shape, 43u64), (attn_shape, 45)] {
        let mut c = Ceremony::init_from_phase1(shape, &p1, None).unwrap();
        assert_eq!(c.phase1, ceremony::Phase1Source::Ceremony(h1));
        c.contribute("carol", &mut common::rng(seed)).unwrap();
        c.contribute("dave", &mut common::rng(seed + 1)).unwrap();
        let report = ceremony::verify_with_phase1(&c, &p1, None).unwrap();
        assert_eq!(report.phase1_contributors.len(), 2);
        assert_eq!(report.shape, shape);
        // Not without its phase 1, and not relabelled as the other circuit.
        assert_eq!(
            ceremony::verify(&c).unwrap_err().code(),
            "ZK_CEREMONY_INVALID"
        );
        let mut other = c.clone();
        other.shape = if shape == act_shape {
            attn_shape
        } else {
            act_shape
        };
        assert_eq!(
            ceremony::verify_with_phase1(&other, &p1, None)
                .unwrap_err()
                .code(),
            "ZK_CEREMONY_INVALID"
        );
        let (pk, vk, _) = c.finalize_with_phase1(2, Some(&p1)).unwrap();
        keys.push((pk, otr_core::zk::PreparedVk::new(vk).unwrap()));
    }
    let gate = [
        W_ONE,
        -W_ONE / 2,
        3,
        9 * W_ONE,
        -40 * W_ONE,
        W_ONE / 9,
        2,
        0,
    ];
    let up = [2 * W_ONE, W_ONE, -W_ONE, 5, W_ONE, -3 * W_ONE, W_ONE, W_ONE];
    let p = act::prove_act_unit(
        &keys[0].0,
        act_shape.act().unwrap(),
        &gate,
        &up,
        4,
        &mut common::rng(50),
    )
    .unwrap();
    act::verify_act_unit(&keys[0].1, &p.statement, &p.proof).unwrap();
    let a = |exp: i32, q: [i16; 2]| Act16 { q: q.to_vec(), exp };
    let p = attn::prove_attn_unit(
        &keys[1].0,
        &a(-2, [900, -40]),
        &[a(-3, [100, 200]), a(0, [-7, 3])],
        &[a(-1, [5000, -5000]), a(-6, [31000, 2])],
        758_713_601,
        &mut common::rng(51),
    )
    .unwrap();
    attn::verify_attn_unit(&keys[1].1, &p.statement, &p.proof).unwrap();
    assert_eq!(
        attn::verify_attn_unit(&keys[0].1, &p.statement, &p.proof)
            .unwrap_err()
            .code(),
        "PROOF_INVALID"
    );
}

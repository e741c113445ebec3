//! `PromptStepVerifier`: the trace's `PROMPT` leaf (the prompt's text and its token ids)
//! settled by a claim and its refutation with vocabulary pieces, on real runs of the Gemma
//! fixture: an honest claim stands (no token's piece differs from its text, no two adjacent
//! tokens make a piece; the node wins at the challenger's deadline), a leaf whose text is not
//! its tokens' (engine `DevFault::PromptText`) is refuted at that token, a prompt split into
//! other pieces of the same text (engine `Tokenizer::split_first_piece`) at the pair, and the
//! node slashed; malformed claims and bad counterexamples are refused. The gas at Gemma 3 270M's vocabulary size (262,144 pieces, an 18-level path):
//! `cargo test -p otr-contracts --test contracts prompt_gas -- --nocapture`.

use crate::act::{gemma, model_entry};
use crate::common::*;
use crate::sample::phase;
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{
    prompt_byte_witness, prompt_claim, prompt_claim_decode, prompt_merge_witness, prompt_parts,
    prompt_refutation_witness, prompt_replay_witness, prompt_special_witness, prompt_units_witness,
    prompt_wrong_token, StepClaim, TextOpening,
};
use otr_contracts::proofs::Trace;
use otr_engine::model::trace::{embed_op, leaf, prompt_bytes, StepKey, StepTensor};
use otr_engine::{DevFault, Model, Sampling, Tokenizer};
use sha2::{Digest, Sha256};

const TEXT: &str =
    "<start_of_turn>user\nthe eiffel tower is in<end_of_turn>\n<start_of_turn>model\n";

fn register(w: &mut World, m: &Model, tok: &Tokenizer) {
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(m.config(), m.info().weights_root),
            vks: vec![],
        },
    );
    let texts = tok.text_tree();
    w.d.set_prompt_verifier(
        &mut w.chain,
        MODEL_ID,
        tok.pieces_root(),
        tok.vocab_size() as u64,
        tok.prompt_bos(),
        texts.root(),
        texts.len(),
    )
    .unwrap();
}

fn ids(m: &Model) -> Vec<u32> {
    m.tokenizer().encode(TEXT, true, true)
}

/// The trace of a greedy 2-token run of [`TEXT`] with `fault` injected.
fn trace_of(m: &Model, fault: Option<DevFault>) -> Trace {
    trace_of_ids(m, &ids(m), fault)
}

fn trace_of_ids(m: &Model, ids: &[u32], fault: Option<DevFault>) -> Trace {
    let (_, steps) = m
        .trace_steps_with_fault(ids, &Sampling::greedy(2), fault, &mut |_, _| true)
        .unwrap();
    Trace::new(steps.iter().map(|(k, d)| leaf(*k, d)).collect())
}

/// `trace` with its first leaf's last byte flipped: a challenger whose leaf 0 differs.
fn first_leaf_changed(trace: &Trace) -> Trace {
    let mut leaves: Vec<Vec<u8>> = (0..trace.len()).map(|i| trace.leaf(i).to_vec()).collect();
    leaves[0][56] ^= 1;
    Trace::new(leaves)
}

/// A dispute over `node` bisected by the challenger's `theirs` down to leaf 0.
fn disputed(m: &Model, tok: &Tokenizer, node: &Trace, theirs: &Trace, prompt: u32) -> (World, u64) {
    let mut w = World::new();
    register(&mut w, m, tok);
    let mut r = receipt(node, 1, 2, m.info().weights_root, T0);
    r.prompt_tokens = prompt;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, node, theirs);
    assert_eq!(w.d.dispute(&mut w.chain, id).unwrap().agreeSize, 0);
    (w, id)
}

/// The `PROMPT` output of a run (`fault` injected).
fn prompt_output(m: &Model, fault: Option<DevFault>) -> Vec<u8> {
    let rec = m
        .step_input_with_fault(&ids(m), &Sampling::greedy(2), fault, 0)
        .unwrap();
    let StepTensor::Prompt { .. } = &rec.output else {
        panic!("leaf 0 is the prompt")
    };
    rec.output.bytes()
}

fn claim(tok: &Tokenizer, prompt: &[u8]) -> Vec<u8> {
    prompt_claim(prompt, tok.prompt_bos(), |t| tok.piece_surface(t).len()).unwrap()
}

fn witness(tok: &Tokenizer, prompt: &[u8], k: u64) -> Vec<u8> {
    let (_, ids) = prompt_parts(prompt).unwrap();
    let id = ids[1 + k as usize];
    let (surface, path) = tok.piece_opening(id).unwrap();
    prompt_refutation_witness(k, tok.piece_kind(id), &surface, &path)
}

/// A mergeable-pair counterexample at tokens `k`, `k + 1` of `prompt` (after its BOS) naming
/// piece `merged`.
fn merge_witness(tok: &Tokenizer, prompt: &[u8], k: u64, merged: u32) -> Vec<u8> {
    let (_, ids) = prompt_parts(prompt).unwrap();
    let path = |id: u32| tok.piece_opening(id).unwrap().1;
    let (a, b) = (ids[1 + k as usize], ids[2 + k as usize]);
    prompt_merge_witness(k, merged, &path(a), &path(b), &path(merged))
}

#[test]
fn an_honest_prompt_claim_stands_every_piece_is_its_text() {
    let m = gemma();
    let tok = m.tokenizer();
    let node = trace_of(m, None);
    let n = ids(m).len() as u32;
    let (mut w, id) = disputed(m, tok, &node, &first_leaf_changed(&node), n);
    let prompt = prompt_output(m, None);
    let (text, _) = prompt_parts(&prompt).unwrap();
    assert_eq!(text, TEXT.as_bytes(), "the leaf says the templated prompt");
    let good = claim(tok, &prompt);
    // A verifier exists: no "no contest", and no one-move proof.
    let e =
        w.d.declare_unprovable(&mut w.chain, w.node, id, &node)
            .unwrap_err();
    assert!(e.to_string().contains("HasStepVerifier"), "{e}");
    // Malformed claims are refused, typed.
    let (p, ends) = prompt_claim_decode(&good).unwrap();
    let with_ends = |e: &[u32]| {
        alloy_sol_types::SolValue::abi_encode_params(&(
            otr_contracts::Bytes::from(p.clone()),
            otr_contracts::Bytes::from(e.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>()),
        ))
    };
    let mut short = ends.clone();
    short.pop();
    let mut decreasing = ends.clone();
    decreasing.swap(1, 2);
    let mut long_text = ends.clone();
    *long_text.last_mut().unwrap() += 1;
    let mut other = prompt.clone();
    *other.last_mut().unwrap() ^= 1;
    for (ins, c, want) in [
        (vec![], claim(tok, &other), "ClaimMismatch"),
        (vec![], with_ends(&short), "EndsMalformed"),
        (vec![], with_ends(&decreasing), "EndsMalformed"),
        (vec![], with_ends(&long_text), "EndsMalformed"),
        (vec![1], good.clone(), "InputNotBefore"), // leaf 0 has no agreed leaf before it
    ] {
        let e =
            w.d.claim_step(&mut w.chain, w.node, id, &node, &ins, c)
                .unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    let out =
        w.d.claim_step(&mut w.chain, w.node, id, &node, &[], good)
            .unwrap();
    println!(
        "PROMPT claimStep gas (fixture, {n} tokens): {}",
        out.gas_used
    );
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    assert_eq!(
        prompt_wrong_token(&c.claim, tok.prompt_bos(), |t| tok.piece_surface(t)),
        None
    );
    // No counterexample: every token's own piece, another token's piece, a bad path.
    for k in 0..n as u64 - 1 {
        let e =
            w.d.refute_step(
                &mut w.chain,
                w.challenger,
                id,
                &c,
                &[],
                witness(tok, &prompt, k),
            )
            .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "{k}: {e}");
    }
    let (_, all) = prompt_parts(&prompt).unwrap();
    let (surface, path) = tok.piece_opening(all[2]).unwrap();
    let kind = tok.piece_kind(all[2]);
    // No mergeable pair either: the honest tokens' pairs make no piece, so any piece named as
    // their merge is refused.
    assert_eq!(tok.mergeable_pair(&all), None);
    let he = tok.token_id("\u{2581}the").unwrap();
    let mut bad = vec![
        prompt_refutation_witness(0, kind, &surface, &path), // token 1's piece as token 0's
        prompt_refutation_witness(1, kind, b"xx", &path),
        prompt_refutation_witness(1, kind ^ 1, &surface, &path),
        prompt_refutation_witness(n as u64, kind, &surface, &path),
        prompt_merge_witness(n as u64, he, &path, &path, &path),
        vec![0; 31],
        alloy_sol_types::SolValue::abi_encode(&otr_contracts::U256::from(6)), // no such form
        // The honest `<start_of_turn>` is its special token, not pieces.
        {
            let sot = tok.token_id("<start_of_turn>").unwrap();
            let p = tok.piece_opening(sot).unwrap().1;
            prompt_special_witness(0, 0, 15, sot, &p, std::slice::from_ref(&p))
        },
    ];
    for k in 0..n as u64 - 2 {
        bad.push(merge_witness(tok, &prompt, k, he));
        bad.push(merge_witness(tok, &prompt, k, all[1 + k as usize]));
    }
    refused(&mut w, id, &c, bad);
    w.chain.advance(w.params.move_timeout, 1);
    let stake = w.stake_of(w.node);
    w.d.timeout(&mut w.chain, w.node, id).unwrap();
    assert_eq!(phase(&mut w, id), 3, "the node won");
    assert_eq!(w.stake_of(w.node), stake);
}

#[test]
fn a_prompt_whose_text_is_not_its_tokens_is_refuted_and_the_node_slashed() {
    let m = gemma();
    let tok = m.tokenizer();
    let fault = Some(DevFault::PromptText);
    let node = trace_of(m, fault);
    let honest = trace_of(m, None);
    assert_ne!(node.leaf(0), honest.leaf(0));
    assert_eq!(node.leaf(1), honest.leaf(1), "the same tokens computed");
    let n = ids(m).len() as u32;
    let (mut w, id) = disputed(m, tok, &node, &honest, n);
    let prompt = prompt_output(m, fault);
    let (text, _) = prompt_parts(&prompt).unwrap();
    assert_ne!(text, TEXT.as_bytes());
    w.d.claim_step(&mut w.chain, w.node, id, &node, &[], claim(tok, &prompt))
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    let (k, _) = prompt_wrong_token(&c.claim, tok.prompt_bos(), |t| tok.piece_surface(t)).unwrap();
    assert_eq!(k, n as u64 - 2, "the last token's piece");
    // Another claim than the node's is refused.
    let other = StepClaim {
        claim: claim(tok, &prompt_output(m, None)),
        ..c.clone()
    };
    let e =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            id,
            &other,
            &[],
            witness(tok, &prompt, k),
        )
        .unwrap_err();
    assert!(e.to_string().contains("ClaimDiffers"), "{e}");
    let gas = refuted(&mut w, id, &c, witness(tok, &prompt, k));
    println!("PROMPT refuteStep gas (fixture vocabulary): {}", gas);
}

/// A node that split the prompt's text into other pieces (the same text, other tokens fed to
/// the model: what a client comparing the text with its request accepts) is refuted at the
/// split: its two tokens make one mergeable piece. No wrong piece refutes it, and
/// counterexamples at another pair, with another merged piece or a piece's other kind are
/// refused.
#[test]
fn a_prompt_split_into_other_pieces_is_refuted_at_the_pair_and_the_node_slashed() {
    let m = gemma();
    let tok = m.tokenizer();
    let honest_ids = ids(m);
    let split = tok.split_first_piece(&honest_ids).unwrap();
    assert_eq!(split.len(), honest_ids.len() + 1);
    let node = trace_of_ids(m, &split, None);
    let honest = trace_of(m, None);
    let (mut w, id) = disputed(m, tok, &node, &honest, split.len() as u32);
    let rec = m
        .step_input_with_fault(&split, &Sampling::greedy(2), None, 0)
        .unwrap();
    let prompt = rec.output.bytes();
    let (text, _) = prompt_parts(&prompt).unwrap();
    assert_eq!(text, TEXT.as_bytes(), "the same text");
    w.d.claim_step(&mut w.chain, w.node, id, &node, &[], claim(tok, &prompt))
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    assert_eq!(
        prompt_wrong_token(&c.claim, tok.prompt_bos(), |t| tok.piece_surface(t)),
        None,
        "every piece is its text"
    );
    let (k, merged) = tok.mergeable_pair(&split).unwrap();
    assert_eq!(tok.merge_of(split[1 + k], split[2 + k]), Some(merged));
    let k = k as u64;
    let other = tok.token_id("\u{2581}the").unwrap();
    let mut bad = vec![
        merge_witness(tok, &prompt, k, other),
        merge_witness(tok, &prompt, k + 1, merged),
        witness(tok, &prompt, k),
        witness(tok, &prompt, k + 1),
    ];
    if k > 0 {
        bad.push(merge_witness(tok, &prompt, k - 1, merged));
    }
    // The right pair with a path that is not the merged piece's.
    let path = |id: u32| tok.piece_opening(id).unwrap().1;
    bad.push(prompt_merge_witness(
        k,
        merged,
        &path(split[1 + k as usize]),
        &path(split[2 + k as usize]),
        &path(other),
    ));
    refused(&mut w, id, &c, bad);
    let gas = refuted(&mut w, id, &c, merge_witness(tok, &prompt, k, merged));
    println!(
        "PROMPT refuteStep (mergeable pair) gas (fixture vocabulary): {}",
        gas
    );
}

/// The replay witness of `ids`' first non-canonical pair, with `edit` applied to its openings.
fn replay_witness(
    tok: &Tokenizer,
    ids: &[u32],
    edit: impl FnOnce(&mut Vec<TextOpening>),
) -> Vec<u8> {
    let (k, openings) = tok.non_canonical_pair(ids, &tok.text_tree()).unwrap();
    let mut os: Vec<TextOpening> = openings
        .into_iter()
        .map(|o| (o.index, o.id, o.score_key, o.text, o.path))
        .collect();
    edit(&mut os);
    let path = |id: u32| tok.piece_opening(id).unwrap().1;
    prompt_replay_witness(k as u64, &path(ids[1 + k]), &path(ids[2 + k]), &os)
}

/// A tokenization with no mergeable pair that is not the tokenizer's (`tower` fed as
/// `to|w|er`: neither `tow` nor `wer` is a piece, the tokenizer gives `tower`) is refuted by
/// replaying the tokenizer's merges on chain on the pair `w|er`'s text (it gives `we|r`), every
/// lookup opened in
/// the text-sorted tree; tampered replays (a lookup's opening missing, another text's, a wrong
/// score, one too many) are refused, and the honest `tower` has no such pair.
#[test]
fn a_tokenization_the_tokenizer_does_not_give_is_refuted_by_replaying_its_merges() {
    let m = gemma();
    let tok = m.tokenizer();
    let id = |s: &str| tok.token_id(s).unwrap();
    let ids = [2, id("to"), id("w"), id("er")];
    assert_eq!(tok.mergeable_pair(&ids), None);
    let prompt = prompt_bytes(&tok.prompt_text(&ids), &ids);
    let node = with_prompt_leaf(m, &prompt);
    let (mut w, id_) = disputed(m, tok, &node, &first_leaf_changed(&node), ids.len() as u32);
    w.d.claim_step(&mut w.chain, w.node, id_, &node, &[], claim(tok, &prompt))
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id_).unwrap().unwrap();
    let honest = [2, id("tower")];
    assert_eq!(tok.non_canonical_pair(&honest, &tok.text_tree()), None);
    let bad = [
        replay_witness(tok, &ids, |os| {
            os.pop();
        }),
        replay_witness(tok, &ids, |os| {
            let x = os[0].clone();
            os.push(x);
        }),
        replay_witness(tok, &ids, |os| os[0].2 ^= 1),
        replay_witness(tok, &ids, |os| os.swap(0, 1)),
        replay_witness(tok, &ids, |os| os[0].3.push(b'x')),
    ];
    refused(&mut w, id_, &c, bad);
    let gas = refuted(&mut w, id_, &c, replay_witness(tok, &ids, |_| {}));
    println!(
        "PROMPT refuteStep (replayed merges on `wer`, fixture vocabulary): {} gas",
        gas
    );
}

/// Every counterexample of `wits` is refused (`NotRefuted`).
fn refused(w: &mut World, id: u64, c: &StepClaim, wits: impl IntoIterator<Item = Vec<u8>>) {
    for wit in wits {
        let e =
            w.d.refute_step(&mut w.chain, w.challenger, id, c, &[], wit)
                .unwrap_err();
        assert!(e.to_string().contains("NotRefuted"), "{e}");
    }
}

/// `wit` refutes the claim: the challenger wins and the node is slashed. Returns its gas.
fn refuted(w: &mut World, id: u64, c: &StepClaim, wit: Vec<u8>) -> u64 {
    let stake = w.stake_of(w.node);
    let out =
        w.d.refute_step(&mut w.chain, w.challenger, id, c, &[], wit)
            .unwrap();
    assert_eq!(phase(w, id), 4, "the challenger won");
    assert!(w.stake_of(w.node) < stake, "slashed");
    out.gas_used
}

/// A dispute at leaf 0 over a node whose `PROMPT` output says `ids` (the fixture's trace
/// otherwise), with the node's claim made.
fn claimed_ids(m: &Model, tok: &Tokenizer, ids: &[u32]) -> (World, u64, StepClaim) {
    let prompt = prompt_bytes(&tok.prompt_text(ids), ids);
    let node = with_prompt_leaf(m, &prompt);
    let (mut w, id) = disputed(m, tok, &node, &first_leaf_changed(&node), ids.len() as u32);
    w.d.claim_step(&mut w.chain, w.node, id, &node, &[], claim(tok, &prompt))
        .unwrap();
    let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
    (w, id, c)
}

fn opening(o: otr_engine::tokenizer::TextOpening) -> TextOpening {
    (o.index, o.id, o.score_key, o.text, o.path)
}

/// A character that is a token fed as its byte token (`t` of `tower` as `<0x74>`) is refuted
/// with the byte token and the character's leaf of the text tree; another character's leaf, a
/// token that is not a byte token and a byte token of a character that is no token are not.
#[test]
fn a_character_fed_as_its_bytes_is_refuted() {
    let m = gemma();
    let tok = m.tokenizer();
    let id = |s: &str| tok.token_id(s).unwrap();
    let byte_t = (0..tok.vocab_size() as u32)
        .find(|&i| tok.tokens[i as usize] == "<0x74>")
        .unwrap();
    let ids = [2, byte_t, id("o"), id("we"), id("r")];
    let (k, c) = tok.misplaced_byte(&ids).unwrap();
    assert_eq!((k, &c[..]), (0, &b"t"[..]));
    let (mut w, dispute, cl) = claimed_ids(m, tok, &ids);
    let tree = tok.text_tree();
    let path = |i: u32| tok.piece_opening(i).unwrap().1;
    let t_leaf = opening(tree.lookup(b"t").remove(0));
    let o_leaf = opening(tree.lookup(b"o").remove(0));
    refused(
        &mut w,
        dispute,
        &cl,
        [
            prompt_byte_witness(0, &path(byte_t), &o_leaf),
            prompt_byte_witness(1, &path(id("o")), &o_leaf),
            prompt_byte_witness(0, &path(id("o")), &t_leaf),
        ],
    );
    let gas = refuted(
        &mut w,
        dispute,
        &cl,
        prompt_byte_witness(0, &path(byte_t), &t_leaf),
    );
    println!("PROMPT refuteStep (misplaced byte, fixture): {} gas", gas);
    // The honest byte tokens of a character that is no token: `é` (the fixture has no `é`).
    let honest = tok.encode("é", true, true);
    assert!(honest.len() == 3, "{honest:?}");
    assert_eq!(tok.misplaced_byte(&honest), None);
    let (mut w, dispute, cl) = claimed_ids(m, tok, &honest);
    let e_leaves = tree.lookup("é".as_bytes());
    assert!(e_leaves.iter().all(|o| o.text != "é".as_bytes()));
    let e =
        w.d.refute_step(
            &mut w.chain,
            w.challenger,
            dispute,
            &cl,
            &[],
            prompt_byte_witness(0, &path(honest[1]), &opening(e_leaves[0].clone())),
        )
        .unwrap_err();
    assert!(e.to_string().contains("NotRefuted"), "{e}");
}

/// A special token's text spelled in pieces (`<start_of_turn>` from the fixture's ASCII
/// pieces) is refuted with the special's piece and every token it overlaps; a span that does
/// not cover it, or a piece that is not the special's, is not.
#[test]
fn a_special_token_spelled_in_pieces_is_refuted() {
    let m = gemma();
    let tok = m.tokenizer();
    let ids: Vec<u32> = std::iter::once(2)
        .chain(
            "<start_of_turn>"
                .chars()
                .map(|c| tok.token_id(&c.to_string()).unwrap()),
        )
        .chain([tok.token_id("user").unwrap()])
        .collect();
    let (i, j, p, sid) = tok.spelled_special(&ids).unwrap();
    let (mut w, dispute, cl) = claimed_ids(m, tok, &ids);
    let path = |t: u32| tok.piece_opening(t).unwrap().1;
    let paths = |from: usize, to: usize| (from..=to).map(|t| path(ids[1 + t])).collect::<Vec<_>>();
    let len = tok.piece_surface(sid).len() as u64;
    let eot = tok.token_id("<end_of_turn>").unwrap();
    refused(
        &mut w,
        dispute,
        &cl,
        [
            prompt_special_witness(i as u64, p as u64, len, sid, &path(sid), &paths(i, j - 1)),
            prompt_special_witness(
                i as u64 + 1,
                p as u64 + 1,
                len - 1,
                sid,
                &path(sid),
                &paths(i + 1, j),
            ),
            prompt_special_witness(i as u64, p as u64, len, eot, &path(eot), &paths(i, j)),
            prompt_special_witness(i as u64, p as u64, len, sid, &path(sid), &[]),
        ],
    );
    let gas = refuted(
        &mut w,
        dispute,
        &cl,
        prompt_special_witness(i as u64, p as u64, len, sid, &path(sid), &paths(i, j)),
    );
    println!(
        "PROMPT refuteStep (special spelled in {} pieces, fixture): {} gas",
        j - i + 1,
        gas
    );
}

/// A character that is no token fed as its byte next to a piece it merges with (`ab` as
/// `<0x61>|b` in a vocabulary with `b` and `ab` but no `a`) is refuted by replaying the
/// tokenizer's merges on the byte's character and the piece; the units' tokens opened as
/// another kind, units that are not the witness's, or a lookup missing are refused.
#[test]
fn a_character_that_is_no_token_fed_as_bytes_next_to_its_merge_is_refuted() {
    let m = gemma();
    let tok = vocab_of(0, &["b", "ab"]);
    let (ids, (k, ra, rb), paths, os) = byte_side(&tok);
    let (mut w, id, c) = claimed_ids(m, &tok, &ids);
    let b = ids[2];
    let path = |i: u32| tok.piece_opening(i).unwrap().1;
    refused(
        &mut w,
        id,
        &c,
        [
            prompt_units_witness(k, ra, rb, &[path(b), path(b)], &os),
            prompt_units_witness(k, ra + 1, rb, &paths, &os),
            prompt_units_witness(k, ra, rb, &paths, &os[1..]),
        ],
    );
    let gas = refuted(&mut w, id, &c, prompt_units_witness(k, ra, rb, &paths, &os));
    println!("PROMPT refuteStep (replayed merges on a byte and a piece): {gas} gas");
}

/// `ab` fed as `<0x61>|b` in a vocabulary with `b` and `ab` but no `a`: the ids, the two
/// units' first token and sizes, their tokens' piece paths and the replay's openings.
#[allow(clippy::type_complexity)]
fn byte_side(
    tok: &Tokenizer,
) -> (
    [u32; 3],
    (u64, u64, u64),
    Vec<Vec<[u8; 32]>>,
    Vec<TextOpening>,
) {
    let ids = [2, 3 + u32::from(b'a'), tok.token_id("b").unwrap()];
    let (k, ra, rb, openings) = tok.non_canonical_bytes(&ids, &tok.text_tree()).unwrap();
    let paths = ids[1..]
        .iter()
        .map(|&i| tok.piece_opening(i).unwrap().1)
        .collect();
    (
        ids,
        (k as u64, ra as u64, rb as u64),
        paths,
        openings.into_iter().map(opening).collect(),
    )
}

/// A vocabulary of Gemma 3 270M's size (262,144 pieces: 256 bytes, then words), and a prompt of
/// `words` words in Gemma's chat template.
fn big_vocab_prompt(words: usize) -> (Tokenizer, Vec<u8>) {
    let tok = big_vocab(&[]);
    let body: String = (0..words).map(|i| format!(" w{}", 1000 + i * 37)).collect();
    let text = format!("<start_of_turn>user\n{body}<end_of_turn>\n<start_of_turn>model\n");
    let ids = tok.encode(&text, true, true);
    let prompt = prompt_bytes(&tok.prompt_text(&ids), &ids);
    (tok, prompt)
}

/// The vocabulary of [`big_vocab_prompt`] with `extra` normal pieces last (262,144 in all).
fn big_vocab(extra: &[&str]) -> Tokenizer {
    vocab_of(262_144, extra)
}

/// Controls, the 256 bytes, `<start_of_turn>` and `<end_of_turn>`, words `▁wN` up to `size`
/// pieces in all, then `extra` normal pieces.
fn vocab_of(size: usize, extra: &[&str]) -> Tokenizer {
    let mut tokens: Vec<String> = vec!["<pad>".into(), "<eos>".into(), "<bos>".into()];
    let mut types = vec![3; 3];
    for b in 0..256 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    tokens.push("<start_of_turn>".into());
    tokens.push("<end_of_turn>".into());
    types.extend([3, 3]);
    while tokens.len() + extra.len() < size {
        tokens.push(format!("\u{2581}w{}", tokens.len()));
        types.push(1);
    }
    tokens.extend(extra.iter().map(|s| s.to_string()));
    types.extend(extra.iter().map(|_| 1));
    let n = tokens.len();
    Tokenizer::new(tokens, vec![0.0; n], types, Some(2), Some(1), true, false)
}

/// The fixture's trace with leaf 0 the `PROMPT` output `prompt` (the game opens only leaf 0
/// here).
fn with_prompt_leaf(m: &Model, prompt: &[u8]) -> Trace {
    let base = trace_of(m, None);
    let key = StepKey {
        pos: 0,
        stage: 0,
        op: embed_op::PROMPT,
    };
    let mut leaves: Vec<Vec<u8>> = (0..base.len()).map(|i| base.leaf(i).to_vec()).collect();
    leaves[0] = leaf(key, &Sha256::digest(prompt).into());
    Trace::new(leaves)
}

#[test]
fn prompt_gas() {
    let m = gemma();
    for words in [16usize, 1000] {
        let (tok, prompt) = big_vocab_prompt(words);
        let (_, ids) = prompt_parts(&prompt).unwrap();
        // The last word's last byte flipped: a text that is not its tokens'.
        let mut bad = prompt.clone();
        let tail = "<end_of_turn>\n<start_of_turn>model\n".len();
        let at = 4 + prompt_parts(&prompt).unwrap().0.len() - tail - 1;
        bad[at] ^= 1;
        let claimed = claim(&tok, &bad);
        let node = with_prompt_leaf(m, &bad);
        let (mut w, id) = disputed(m, &tok, &node, &first_leaf_changed(&node), ids.len() as u32);
        let out =
            w.d.claim_step(&mut w.chain, w.node, id, &node, &[], claimed)
                .unwrap();
        let c = w.d.step_claimed(&mut w.chain, id).unwrap().unwrap();
        let (k, _) =
            prompt_wrong_token(&c.claim, tok.prompt_bos(), |t| tok.piece_surface(t)).unwrap();
        let r =
            w.d.refute_step(
                &mut w.chain,
                w.challenger,
                id,
                &c,
                &[],
                witness(&tok, &bad, k),
            )
            .unwrap();
        println!(
            "PROMPT at 262,144 pieces, {} tokens ({} text bytes): claimStep {} gas, refuteStep {} gas",
            ids.len(),
            prompt_parts(&prompt).unwrap().0.len(),
            out.gas_used,
            r.gas_used
        );
        assert_eq!(phase(&mut w, id), 4, "refuted");
    }
    // A mergeable pair at 262,144 pieces: " w1000" as `▁w10` `00` (the three pieces' paths are
    // 18 hashes each).
    let tok = big_vocab(&["\u{2581}w10", "00"]);
    let (a, b) = (
        tok.token_id("\u{2581}w10").unwrap(),
        tok.token_id("00").unwrap(),
    );
    let merged = tok.merge_of(a, b).expect("▁w1000 is a piece");
    let ids = [2, a, b];
    let (mut w, id, c) = claimed_ids(m, &tok, &ids);
    assert_eq!(tok.mergeable_pair(&ids), Some((0, merged)));
    let gas = refuted(
        &mut w,
        id,
        &c,
        merge_witness(&tok, &prompt_bytes(&tok.prompt_text(&ids), &ids), 0, merged),
    );
    println!(
        "PROMPT at 262,144 pieces, mergeable pair: refuteStep {} gas",
        gas
    );
    // Replayed merges at 262,144 pieces: `wer` fed as `w|er`, which the tokenizer merges as
    // `we|r` (`we` and `er` tie; the leftmost goes first), every lookup an 18-hash opening.
    let tok = big_vocab(&["w", "er", "we"]);
    let ids = [2, tok.token_id("w").unwrap(), tok.token_id("er").unwrap()];
    assert_eq!(tok.mergeable_pair(&ids), None);
    let (mut w, id, c) = claimed_ids(m, &tok, &ids);
    let gas = refuted(&mut w, id, &c, replay_witness(&tok, &ids, |_| {}));
    println!(
        "PROMPT at 262,144 pieces, replayed merges on a 3-character pair: refuteStep {} gas",
        gas
    );
    // A misplaced byte and `<start_of_turn>` spelled in 15 one-character pieces, at 262,144
    // pieces.
    let chars = ["<", "s", "t", "a", "r", "_", "o", "f", "u", "n", ">"];
    let tok = big_vocab(&chars);
    let spelled: Vec<u32> = std::iter::once(2)
        .chain(
            "<start_of_turn>"
                .chars()
                .map(|c| tok.token_id(&c.to_string()).unwrap()),
        )
        .collect();
    let byte_t = 3 + u32::from(b't');
    assert_eq!(tok.tokens[byte_t as usize], "<0x74>");
    let ids = [2, byte_t, tok.token_id("o").unwrap()];
    let path = |i: u32| tok.piece_opening(i).unwrap().1;
    let tree = tok.text_tree();
    let (k, c) = tok.misplaced_byte(&ids).unwrap();
    let (mut w, id, cl) = claimed_ids(m, &tok, &ids);
    let wit = prompt_byte_witness(k as u64, &path(byte_t), &opening(tree.lookup(&c).remove(0)));
    let gas = refuted(&mut w, id, &cl, wit);
    println!("PROMPT at 262,144 pieces, misplaced byte: refuteStep {gas} gas");
    let (i, j, p, sid) = tok.spelled_special(&spelled).unwrap();
    let (mut w, id, cl) = claimed_ids(m, &tok, &spelled);
    let paths: Vec<_> = (i..=j).map(|t| path(spelled[1 + t])).collect();
    let len = tok.piece_surface(sid).len() as u64;
    let wit = prompt_special_witness(i as u64, p as u64, len, sid, &path(sid), &paths);
    let gas = refuted(&mut w, id, &cl, wit);
    println!(
        "PROMPT at 262,144 pieces, a special spelled in {} pieces: refuteStep {gas} gas",
        j - i + 1
    );
    // A byte side at 262,144 pieces: `ab` as `<0x61>|b` (`a` is no piece, `ab` is).
    let tok = big_vocab(&["b", "ab"]);
    let (ids, (k, ra, rb), paths, os) = byte_side(&tok);
    let (mut w, id, c) = claimed_ids(m, &tok, &ids);
    let wit = prompt_units_witness(k, ra, rb, &paths, &os);
    let gas = refuted(&mut w, id, &c, wit);
    println!("PROMPT at 262,144 pieces, a byte side: refuteStep {gas} gas");
}

use super::*;

fn vocab() -> Tokenizer {
    let mut tokens: Vec<String> = vec![
        "<pad>".into(),
        "<eos>".into(),
        "<bos>".into(),
        "<unk>".into(),
    ];
    let mut types = vec![TYPE_CONTROL; 4];
    let mut scores = vec![0.0f32; 4];
    for b in 0..256 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(TYPE_BYTE);
        scores.push(0.0);
    }
    for (t, s) in [
        ("▁", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("he", -3.0),
        ("ll", -3.5),
        ("hell", -4.0),
        ("hello", -5.0),
        ("▁hello", -6.0),
        ("lo", -7.0),
        ("<start_of_turn>", 0.0),
        ("\n", 0.0),
    ] {
        tokens.push(t.into());
        scores.push(s);
        types.push(match t {
            "<start_of_turn>" => TYPE_CONTROL,
            "\n" => TYPE_USER_DEFINED,
            _ => TYPE_NORMAL,
        });
    }
    Tokenizer::new(tokens, scores, types, Some(2), Some(1), true, false)
}

#[test]
fn bpe_by_score() {
    let t = vocab();
    let id = |s: &str| t.token_id(s).unwrap();
    assert_eq!(t.encode("hello", false, false), vec![id("hello")]);
    assert_eq!(t.encode(" hello", false, false), vec![id("▁hello")]);
    assert_eq!(t.encode("hello", true, false), vec![2, id("hello")]);
    // Unknown character: byte fallback (UTF-8 of 'é' is C3 A9).
    assert_eq!(t.encode("é", false, false), vec![4 + 0xC3, 4 + 0xA9]);
    assert_eq!(
        t.decode(&t.encode(" hello é\n", false, false)),
        " hello é\n"
    );
}

#[test]
fn special_tokens() {
    let t = vocab();
    let sot = t.token_id("<start_of_turn>").unwrap();
    let nl = t.token_id("\n").unwrap();
    assert_eq!(t.encode("<start_of_turn>\n", false, true), vec![sot, nl]);
    // Without parse_special the control token is plain text; "\n" (user-defined) is still split.
    let plain = t.encode("<start_of_turn>\n", false, false);
    assert!(!plain.contains(&sot));
    assert_eq!(*plain.last().unwrap(), nl);
    assert_eq!(t.decode(&[sot]), "");
}

#[test]
fn stream_decoder_holds_partial_utf8() {
    let mut d = StreamDecoder::default();
    assert_eq!(d.push(&[0xC3]), "");
    assert_eq!(d.push(&[0xA9, b'a']), "éa");
}

#[test]
fn prompt_text_is_the_encoded_text() {
    let t = vocab();
    for text in [
        "hello",
        " hello é\n",
        "<start_of_turn>user\nhello hello<start_of_turn>\n",
        "",
        "hé\u{1F600} lo",
    ] {
        let ids = t.encode(text, true, true);
        assert_eq!(ids[0], 2);
        assert_eq!(t.prompt_text(&ids), text.as_bytes(), "{text:?}");
    }
    // Without the BOS the vocabulary adds, the BOS is a literal piece.
    assert_eq!(t.prompt_text(&[2, 2]), b"<bos>");
    // An id outside the vocabulary stands for nothing.
    assert_eq!(t.piece_surface(100_000), b"");
}

#[test]
fn pieces_open_against_their_root() {
    let t = vocab();
    let root = t.pieces_root();
    for id in [
        0u32,
        2,
        4 + 0xC3,
        t.token_id("▁hello").unwrap(),
        t.token_id("\n").unwrap(),
    ] {
        let (surface, path) = t.piece_opening(id).unwrap();
        assert_eq!(surface, t.piece_surface(id));
        let leaf = t.piece_leaf(id);
        assert_eq!(
            &leaf[PIECE_TAG.len()..PIECE_TAG.len() + 4],
            &id.to_be_bytes()
        );
        assert_eq!(leaf[PIECE_TAG.len() + 4], t.piece_kind(id));
        assert_eq!(&leaf[PIECE_TAG.len() + 5..], &surface[..]);
        let n = t.vocab_size() as u64;
        assert!(
            otr_core::rollup::merkle::verify_inclusion(&leaf, id as u64, n, &path, &root).is_ok()
        );
        let other = t.piece_leaf(id + 1);
        assert!(
            otr_core::rollup::merkle::verify_inclusion(&other, id as u64, n, &path, &root).is_err()
        );
    }
    assert_eq!(t.piece_surface(t.token_id("▁hello").unwrap()), b" hello");
    assert_eq!(t.piece_surface(4 + 0xA9), [0xA9]);
    assert!(t.piece_opening(t.vocab_size() as u32).is_none());
    // The kept-levels tree gives the same root and paths.
    let tree = t.piece_tree();
    assert_eq!(tree.root(), root);
    for id in (0..t.vocab_size() as u32).step_by(7) {
        assert_eq!(tree.path(id), t.piece_opening(id).map(|(_, p)| p), "{id}");
    }
    assert_eq!(tree.path(t.vocab_size() as u32), None);
}

/// Any text without `U+2581` comes back from its tokens exactly: what lets a client compare the
/// `PROMPT` leaf's text with the prompt it sent (random strings over pieces, specials, multi-byte
/// and unknown characters, SplitMix64 so the cases are the same on every run).
#[test]
fn prompt_text_round_trips_random_texts() {
    let t = vocab();
    let parts = [
        "h",
        "e",
        "l",
        "o",
        " ",
        "  ",
        "hello",
        " hello",
        "é",
        "\u{1F600}",
        "\n",
        "\n\n",
        "<start_of_turn>",
        "<bos>",
        "<unk>",
        "<start_of",
        "lo",
        "x",
        "\t",
    ];
    let mut rng = crate::rng::SplitMix(0x5eed);
    let mut next = || rng.next();
    for _ in 0..2000 {
        let n = (next() % 12) as usize;
        let text: String = (0..n)
            .map(|_| parts[(next() % parts.len() as u64) as usize])
            .collect();
        let ids = t.encode(&text, true, true);
        assert_eq!(t.prompt_text(&ids), text.as_bytes(), "{text:?} -> {ids:?}");
        assert_eq!(t.mergeable_pair(&ids), None, "{text:?} -> {ids:?}");
        assert_eq!(t.misplaced_byte(&ids), None, "{text:?} -> {ids:?}");
        assert_eq!(t.spelled_special(&ids), None, "{text:?} -> {ids:?}");
        let tree = t.text_tree();
        assert_eq!(
            t.non_canonical_bytes(&ids, &tree),
            None,
            "{text:?} -> {ids:?}"
        );
    }
    // U+2581 is the vocabulary's space: it comes back as a space.
    assert_eq!(t.prompt_text(&t.encode("a\u{2581}b", true, true)), b"a b");
}

/// Which pieces the chain may count as merges ([`Tokenizer::piece_kind`]).
#[test]
fn piece_kinds() {
    let t = vocab();
    let id = |s: &str| t.token_id(s).unwrap();
    for s in ["hello", "▁hello", "▁", "h", "lo"] {
        assert_eq!(t.piece_kind(id(s)), PIECE_MERGEABLE, "{s}");
    }
    for k in [0, 2, 3, id("\n"), id("<start_of_turn>")] {
        assert_eq!(t.piece_kind(k), PIECE_SPECIAL, "{k}");
    }
    assert_eq!(t.piece_kind(4 + 0x41), PIECE_BYTE);
    assert_eq!(t.piece_kind(10_000), PIECE_OTHER);
    // A repeated text: only the id `encode` emits; a literal space: never; a vocabulary
    // without every byte token: no piece at all.
    let (mut toks, mut scores, mut types) = (t.tokens.clone(), t.scores.clone(), t.types.clone());
    toks.extend(["hello".into(), "a b".into()]);
    scores.extend([0.0, 0.0]);
    types.extend([TYPE_NORMAL, TYPE_NORMAL]);
    let n = toks.len() as u32;
    let u = Tokenizer::new(
        toks.clone(),
        scores.clone(),
        types.clone(),
        Some(2),
        Some(1),
        true,
        false,
    );
    assert_eq!(u.piece_kind(id("hello")), PIECE_MERGEABLE);
    assert_eq!(u.piece_kind(n - 2), PIECE_OTHER);
    assert_eq!(u.piece_kind(n - 1), PIECE_OTHER);
    types[4 + 0x41] = TYPE_NORMAL;
    let u = Tokenizer::new(toks, scores, types, Some(2), Some(1), true, false);
    assert_eq!(u.piece_kind(id("hello")), PIECE_OTHER);
    assert_eq!(u.mergeable_pair(&[id("h"), id("e")]), None);
}

/// Two adjacent tokens that make a mergeable one are found, after the BOS, wherever they are;
/// the split cheat makes exactly such a pair, of the same text. A non-canonical tokenization
/// with no such pair (`he|l|lo` for `hello`: `hel` and `llo` are no tokens) is not found: the
/// limit of this refutation (docs/PROTOCOL.md §10).
#[test]
fn mergeable_pairs_and_the_split_cheat() {
    let t = vocab();
    let id = |s: &str| t.token_id(s).unwrap();
    assert_eq!(t.mergeable_pair(&[2, id("hello")]), None);
    assert_eq!(t.mergeable_pair(&[2, id("he"), id("l"), id("lo")]), None);
    assert_eq!(
        t.mergeable_pair(&[2, id("h"), id("e")]),
        Some((0, id("he")))
    );
    assert_eq!(
        t.mergeable_pair(&[2, id("▁"), id("\n"), id("he"), id("ll")]),
        Some((2, id("hell")))
    );
    // Not across a user-defined token, nor with a byte token.
    assert_eq!(t.mergeable_pair(&[id("h"), id("\n"), id("e")]), None);
    assert_eq!(t.mergeable_pair(&[id("h"), 4 + b'e' as u32]), None);
    // Without a BOS first, the first pair counts from 0 too.
    assert_eq!(t.mergeable_pair(&[id("h"), id("e")]), Some((0, id("he"))));
    let text = "<start_of_turn>\nhello hello";
    let ids = t.encode(text, true, true);
    let split = t.split_first_piece(&ids).unwrap();
    assert_eq!(split.len(), ids.len() + 1);
    assert_eq!(t.prompt_text(&split), text.as_bytes(), "the same text");
    let (k, m) = t.mergeable_pair(&split).unwrap();
    assert_eq!(t.merge_of(split[1 + k], split[2 + k]), Some(m));
    assert!(ids.contains(&m));
    assert_eq!(t.split_first_piece(&[2, id("h")]), None);
}

/// The honest tokenization of random texts over the fixture models' vocabulary has no
/// mergeable pair: an honest node's prompt is never refuted this way.
#[test]
fn honest_fixture_tokenizations_have_no_mergeable_pair() {
    let (toks, scores, types) = crate::fixture::vocab();
    let t = Tokenizer::new(toks, scores, types, Some(2), Some(1), true, false);
    let words = [
        "the",
        " tower",
        "is",
        " in",
        "paris",
        "er",
        "e",
        "t",
        " ",
        "  ",
        "\n",
        "x",
        "é",
        "<start_of_turn>",
        "<end_of_turn>",
        "th",
        "ha",
        "the eiffel",
        "\u{2581}",
        "\u{1F600}",
    ];
    let mut rng = crate::rng::SplitMix(7);
    let mut next = || rng.next();
    let mut splits = 0;
    for _ in 0..3000 {
        let n = (next() % 16) as usize;
        let text: String = (0..n)
            .map(|_| words[(next() % words.len() as u64) as usize])
            .collect();
        let ids = t.encode(&text, true, true);
        assert_eq!(t.mergeable_pair(&ids), None, "{text:?} -> {ids:?}");
        if let Some(split) = t.split_first_piece(&ids) {
            assert!(t.mergeable_pair(&split).is_some(), "{text:?}");
            splits += 1;
        }
    }
    assert!(splits > 1000, "{splits}");
}

/// The merge replay the chain runs gives the symbols `encode` gives, on random fragments.
#[test]
fn merge_replay_is_the_tokenizer() {
    for t in [vocab(), {
        let (toks, scores, types) = crate::fixture::vocab();
        Tokenizer::new(toks, scores, types, Some(2), Some(1), true, false)
    }] {
        let chars = [
            "h", "e", "l", "o", "▁", "t", "w", "r", "a", "é", "x", "he", "the", "er",
        ];
        let mut rng = crate::rng::SplitMix(99);
        let mut next = || rng.next();
        for _ in 0..1500 {
            let n = (next() % 14) as usize;
            let raw: String = (0..n)
                .map(|_| chars[(next() % chars.len() as u64) as usize])
                .collect();
            let mut looked = 0;
            let ends = t.merge_replay(&raw, |_| looked += 1);
            let mut ids = Vec::new();
            let mut start = 0;
            for e in ends {
                match t.token_id(&raw[start..e]) {
                    Some(id) => ids.push(id),
                    None => ids.extend(
                        raw[start..e]
                            .bytes()
                            .map(|b| t.byte_tokens[b as usize].unwrap()),
                    ),
                }
                start = e;
            }
            let mut want = Vec::new();
            t.encode_fragment(&raw, &mut want);
            assert_eq!(ids, want, "{raw:?}");
            assert!(
                looked <= 3 * raw.chars().count(),
                "{raw:?}: {looked} lookups"
            );
        }
    }
}

/// The text tree opens members with their score and shows absent texts by their neighbours.
#[test]
fn text_tree_openings() {
    let t = vocab();
    let tree = t.text_tree();
    let root = tree.root();
    let n = tree.len();
    let check = |o: &TextOpening| {
        let leaf = Tokenizer::text_leaf(&o.text, o.id, o.score_key);
        otr_core::rollup::merkle::verify_inclusion(&leaf, o.index, n, &o.path, &root).unwrap();
    };
    let hello = tree.lookup("hello".as_bytes());
    assert_eq!(hello.len(), 1);
    assert_eq!(hello[0].id, t.token_id("hello").unwrap());
    assert_eq!(hello[0].score_key, score_key(-5.0));
    check(&hello[0]);
    for absent in ["hel", "", "\u{1}", "\u{10FFFF}", "zz", "▁hellp"] {
        let o = tree.lookup(absent.as_bytes());
        for x in &o {
            check(x);
            assert_ne!(x.text, absent.as_bytes());
        }
        match o.as_slice() {
            [lo, hi] => {
                assert!(
                    lo.text.as_slice() < absent.as_bytes()
                        && absent.as_bytes() < hi.text.as_slice()
                );
                assert_eq!(lo.index + 1, hi.index);
            }
            [one] => assert!(one.index == 0 || one.index == n - 1, "{absent:?}"),
            _ => panic!(),
        }
    }
    // Byte tokens are not in it (the tokenizer never merges into one).
    assert!(tree.lookup(b"<0x41>").iter().all(|o| o.text != b"<0x41>"));
}

/// A tokenization with no mergeable pair that the tokenizer does not give (`he|l|lo` for
/// `hello`) is found by replaying the tokenizer on the pair `l|lo` (it gives `ll|o`); honest
/// tokenizations of random texts have no such pair.
#[test]
fn non_canonical_pairs() {
    let t = vocab();
    let tree = t.text_tree();
    let id = |s: &str| t.token_id(s).unwrap();
    let cheat = [2, id("he"), id("l"), id("lo")];
    assert_eq!(t.mergeable_pair(&cheat), None);
    let (k, openings) = t.non_canonical_pair(&cheat, &tree).unwrap();
    assert_eq!(k, 1);
    assert!(!openings.is_empty());
    assert_eq!(t.non_canonical_pair(&[2, id("hello")], &tree), None);
    assert_eq!(
        t.non_canonical_pair(&t.encode(" hello hello", true, true), &tree),
        None
    );
    let (toks, scores, types) = crate::fixture::vocab();
    let f = Tokenizer::new(toks, scores, types, Some(2), Some(1), true, false);
    let ftree = f.text_tree();
    // `tower` as `to|w|er`: `tow` and `wer` are no pieces, the tokenizer gives `tower`; replayed
    // on `wer` alone it gives `we|r`.
    let fid = |s: &str| f.token_id(s).unwrap();
    let cheat = [2, fid("to"), fid("w"), fid("er")];
    assert_eq!(f.prompt_text(&cheat), b"tower");
    assert_eq!(f.mergeable_pair(&cheat), None);
    assert_eq!(
        f.non_canonical_pair(&cheat, &ftree).map(|(k, _)| k),
        Some(1)
    );
    let honest = f.encode("tower", true, true);
    assert_eq!(
        f.resplit_first_piece(&honest, &ftree).as_deref(),
        Some(&cheat[..])
    );
    for text in ["tower", "water", "towering waters"] {
        let honest = f.encode(text, true, true);
        let r = f.resplit_first_piece(&honest, &ftree).expect(text);
        assert_eq!(f.prompt_text(&r), text.as_bytes());
        assert_eq!(f.mergeable_pair(&r), None);
        assert!(f.non_canonical_pair(&r, &ftree).is_some());
    }
    assert_eq!(f.resplit_first_piece(&[2, fid("t")], &ftree), None);
    let words = [
        "the", " tower", "is", " in", "er", "e", "t", " ", "\n", "x", "é", "th", "ha",
    ];
    let mut rng = crate::rng::SplitMix(5);
    let mut next = || rng.next();
    for _ in 0..1500 {
        let n = (next() % 16) as usize;
        let text: String = (0..n)
            .map(|_| words[(next() % words.len() as u64) as usize])
            .collect();
        let ids = f.encode(&text, true, true);
        assert_eq!(
            f.non_canonical_pair(&ids, &ftree),
            None,
            "{text:?} -> {ids:?}"
        );
        assert_eq!(f.misplaced_byte(&ids), None, "{text:?} -> {ids:?}");
        assert_eq!(f.spelled_special(&ids), None, "{text:?} -> {ids:?}");
        assert_eq!(
            f.non_canonical_bytes(&ids, &ftree),
            None,
            "{text:?} -> {ids:?}"
        );
        if let Some(split) = f.split_first_piece(&ids) {
            assert!(f.non_canonical_pair(&split, &ftree).is_some(), "{text:?}");
        }
    }
}

/// A character that is a token fed as its byte tokens, and a special token's text spelled in
/// pieces, are found; the honest byte tokens of a character that is no token are not.
#[test]
fn misplaced_bytes_and_spelled_specials() {
    let t = vocab();
    let id = |s: &str| t.token_id(s).unwrap();
    // `h` is a token: fed as <0x68> it is refuted, at that token, with `h`.
    let ids = [2, id("he"), 4 + b'h' as u32, id("e")];
    assert_eq!(t.misplaced_byte(&ids), Some((1, b"h".to_vec())));
    // `é` is no token: its bytes are the tokenizer's.
    assert_eq!(t.misplaced_byte(&t.encode("hé", true, true)), None);
    assert_eq!(Tokenizer::char_around("aé€".as_bytes(), 2), Some(1..3));
    assert_eq!(Tokenizer::char_around("aé€".as_bytes(), 4), Some(3..6));
    assert_eq!(Tokenizer::char_around(&[0x80; 5], 4), None);
    // `<start_of_turn>` spelled in the fixture's ASCII pieces.
    let (toks, scores, types) = crate::fixture::vocab();
    let f = Tokenizer::new(toks, scores, types, Some(2), Some(1), true, false);
    let spelled: Vec<u32> = std::iter::once(2)
        .chain(
            "<start_of_turn>"
                .chars()
                .map(|c| f.token_id(&c.to_string()).unwrap()),
        )
        .chain([f.token_id("user").unwrap()])
        .collect();
    let sot = f.token_id("<start_of_turn>").unwrap();
    assert_eq!(f.spelled_special(&spelled), Some((0, 14, 0, sot)));
    // The dev cheats make exactly these.
    let honest = f.encode("<start_of_turn>user\nthe tower", true, true);
    let spell = f.spell_first_special(&honest).unwrap();
    assert_eq!(f.prompt_text(&spell), f.prompt_text(&honest));
    assert_eq!(f.spelled_special(&spell).map(|x| x.3), Some(sot));
    let bytes = f.bytes_first_piece(&honest).unwrap();
    assert_eq!(f.prompt_text(&bytes), f.prompt_text(&honest));
    assert!(f.misplaced_byte(&bytes).is_some());
    assert_eq!(
        f.spelled_special(&f.encode("<start_of_turn>user", true, true)),
        None
    );
}

/// The refutation finders run on a node's claimed ids, which are hostile: any ids (beyond the
/// vocabulary too) give an answer, never a panic.
#[test]
fn finders_take_any_ids() {
    let (toks, scores, types) = crate::fixture::vocab();
    let t = Tokenizer::new(toks, scores, types, Some(2), Some(1), true, false);
    let tree = t.text_tree();
    let n = t.vocab_size() as u64 + 5;
    let mut rng = crate::rng::SplitMix(11);
    for _ in 0..3000 {
        let len = (rng.next() % 12) as usize;
        let ids: Vec<u32> = (0..len).map(|_| (rng.next() % n) as u32).collect();
        let _ = t.mergeable_pair(&ids);
        let _ = t.non_canonical_pair(&ids, &tree);
        let _ = t.misplaced_byte(&ids);
        let _ = t.spelled_special(&ids);
        let _ = t.non_canonical_bytes(&ids, &tree);
        let _ = t.prompt_text(&ids);
    }
}

/// A character that is no token fed as its bytes next to a piece it merges with (`ab` as
/// `<0x61>|b` when `a` is no token but `ab` is) is found by replaying the tokenizer on the
/// character and the piece; the tokenizer's own `ab` and a byte-fallback character next to a
/// piece it does not merge with are not.
#[test]
fn non_canonical_bytes_next_to_a_piece() {
    let mut tokens: Vec<String> = vec!["<pad>".into(), "<eos>".into(), "<bos>".into()];
    let mut types = vec![TYPE_CONTROL; 3];
    for b in 0..256 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(TYPE_BYTE);
    }
    tokens.extend(["b".into(), "ab".into(), "c".into()]);
    types.extend([TYPE_NORMAL; 3]);
    let n = tokens.len();
    let t = Tokenizer::new(tokens, vec![0.0; n], types, Some(2), Some(1), true, false);
    let tree = t.text_tree();
    let id = |s: &str| t.token_id(s).unwrap();
    assert_eq!(t.encode("ab", true, true), vec![2, id("ab")]);
    let cheat = [2, 3 + u32::from(b'a'), id("b")];
    assert_eq!(t.prompt_text(&cheat), b"ab");
    assert_eq!(t.misplaced_byte(&cheat), None, "`a` is no token");
    assert_eq!(t.mergeable_pair(&cheat), None);
    assert_eq!(t.non_canonical_pair(&cheat, &tree).map(|x| x.0), None);
    let (k, ra, rb, openings) = t.non_canonical_bytes(&cheat, &tree).unwrap();
    assert_eq!((k, ra, rb), (0, 1, 1));
    assert!(!openings.is_empty());
    // `ac`: `a` stays bytes next to `c`; `éb`: two bytes next to `b`.
    for text in ["ac", "éb", "abé", "aab"] {
        let ids = t.encode(text, true, true);
        assert_eq!(
            t.non_canonical_bytes(&ids, &tree).map(|x| x.0),
            None,
            "{text}"
        );
    }
}

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
        assert_eq!(&leaf[PIECE_TAG.len() + 4..], &surface[..]);
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
    let mut s: u64 = 0x5eed;
    let mut next = || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for _ in 0..2000 {
        let n = (next() % 12) as usize;
        let text: String = (0..n)
            .map(|_| parts[(next() % parts.len() as u64) as usize])
            .collect();
        let ids = t.encode(&text, true, true);
        assert_eq!(t.prompt_text(&ids), text.as_bytes(), "{text:?} -> {ids:?}");
    }
    // U+2581 is the vocabulary's space: it comes back as a space.
    assert_eq!(t.prompt_text(&t.encode("a\u{2581}b", true, true)), b"a b");
}

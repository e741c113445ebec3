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

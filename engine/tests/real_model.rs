//! Gemma 3 270M (the real model). Runs whenever the model file is present; when it is absent
//! the test is SKIPPED WITH A LOUD MESSAGE (run `scripts/fetch-model.sh` first; the README's
//! test command does). Set `OTR_MODEL_PATH` to use another copy of the same file.

use otr_engine::{default_cache_dir, Kernel, LoadOptions, Model, Sampling};
use std::path::PathBuf;

const WEIGHTS_ROOT: &str = "fb7928f7ccd36bfd14bc68743a0fecf93dc9a73f0df6dd2ad3fac372fe1dc116";
/// Greedy continuation of the prompt, 8 tokens: " Paris, France. It is the tallest".
const EXPECTED: [u32; 8] = [9079, 236764, 7001, 236761, 1030, 563, 506, 92900];
const TRACE_ROOT: &str = "aacc2cc2bdd2223ae52532e03c3678a5b233e4189eee8de90276ca573e7d7c6f";
const TRACE_STEPS: u64 = 4938;

fn model_path() -> PathBuf {
    std::env::var_os("OTR_MODEL_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_cache_dir().join("gemma-3-270m-q4_k_m.gguf"))
}

#[test]
fn gemma3_270m_says_paris_deterministically() {
    let path = model_path();
    if !path.exists() {
        eprintln!();
        eprintln!(
            "################################################################################"
        );
        eprintln!("## SKIPPED gemma3_270m_says_paris_deterministically: model file not found at");
        eprintln!("##   {}", path.display());
        eprintln!("## Run scripts/fetch-model.sh (Gemma terms of use apply) and test again.");
        eprintln!(
            "################################################################################"
        );
        return;
    }
    let t0 = std::time::Instant::now();
    let mut m = Model::load_with(&path, &default_cache_dir(), LoadOptions::default()).unwrap();
    eprintln!("loaded in {:.2}s", t0.elapsed().as_secs_f64());
    let info = m.info().clone();
    println!("weights root {}", hex::encode(info.weights_root));
    assert_eq!(hex::encode(info.weights_root), WEIGHTS_ROOT);
    assert_eq!(info.config.n_layers, 18);
    assert!(info.config.is_global(5) && info.config.is_global(17) && !info.config.is_global(4));

    let tok = m.tokenizer();
    let ids = tok.encode("The Eiffel Tower is located in the city of", true, false);
    assert_eq!(ids[0], 2, "BOS first");
    let s = Sampling::greedy(EXPECTED.len() as u32);
    let t1 = std::time::Instant::now();
    let mut text = String::new();
    let a = m
        .generate(&ids, &s, &mut |_, p| {
            text.push_str(p);
            true
        })
        .unwrap();
    let secs = t1.elapsed().as_secs_f64();
    eprintln!(
        "generated {:?} ({} tokens) in {secs:.2}s",
        text,
        a.tokens.len()
    );
    assert!(text.starts_with(" Paris"), "got {text:?}");
    assert_eq!(m.tokenizer().decode(&a.tokens[..1]), " Paris");
    assert_eq!(a.tokens, EXPECTED);
    assert_eq!(hex::encode(a.trace_root), TRACE_ROOT);
    assert_eq!(a.trace_steps, TRACE_STEPS);

    // Same request again, and on one thread with the scalar kernel: identical.
    let b = m.generate(&ids, &s, &mut |_, _| true).unwrap();
    assert_eq!(a, b);
    m.set_exec(Kernel::Scalar, 1);
    let short = Sampling::greedy(2);
    let c = m.generate(&ids, &short, &mut |_, _| true).unwrap();
    m.set_exec(Kernel::best(), 2);
    let d = m.generate(&ids, &short, &mut |_, _| true).unwrap();
    assert_eq!(c, d);
    assert_eq!(c.tokens, EXPECTED[..2]);

    // The `PROMPT` leaf's text is the templated prompt exactly, for Gemma's vocabulary.
    for text in [
        otr_engine::tokenizer::gemma_chat_prompt("Where is the Eiffel Tower? Answer in one word."),
        "Ünïcödé, emoji \u{1F5FC}, tabs\t and  double  spaces\n\nend".to_string(),
        "<bos>literal specials <eos> <unk> <start_of_turn> in the text\r\n".to_string(),
        "日本語のテキストと한국어, \u{0}\u{7f} control bytes,     runs of spaces".to_string(),
    ] {
        let tok = m.tokenizer();
        let ids = tok.encode(&text, true, true);
        assert_eq!(tok.prompt_text(&ids), text.as_bytes(), "{text:?}");
        assert_eq!(tok.mergeable_pair(&ids), None, "{text:?}");
        assert_eq!(tok.misplaced_byte(&ids), None, "{text:?}");
        assert_eq!(tok.spelled_special(&ids), None, "{text:?}");
        let split = tok.split_first_piece(&ids).expect("a token splits");
        assert_eq!(tok.prompt_text(&split), text.as_bytes());
        assert!(tok.mergeable_pair(&split).is_some(), "{text:?}");
    }

    // No honest tokenization has two adjacent tokens that make a mergeable piece (what the
    // chain refutes a prompt's tokens with, docs/PROTOCOL.md §10): random texts of Gemma's own
    // pieces, written as text, with spaces, newlines, specials and byte-fallback characters
    // between them (SplitMix64: the same cases on every run).
    let tok = m.tokenizer();
    let normal: Vec<u32> = (0..tok.vocab_size() as u32)
        .filter(|&i| tok.piece_kind(i) == otr_engine::tokenizer::PIECE_MERGEABLE)
        .collect();
    assert!(normal.len() > 200_000, "{} mergeable pieces", normal.len());
    let specials: Vec<u32> = (0..tok.vocab_size() as u32)
        .filter(|&i| tok.piece_kind(i) == otr_engine::tokenizer::PIECE_SPECIAL)
        .collect();
    eprintln!("{} special pieces", specials.len());
    let glue = [
        " ",
        "  ",
        "\n",
        "<start_of_turn>",
        "",
        "",
        "",
        "\u{10FFFD}",
        "a",
        ".",
    ];
    let mut rng = otr_engine::rng::SplitMix(0x0bad_5eed);
    let mut next = || rng.next();
    let mut tokens = 0;
    let tree = tok.text_tree();
    for _ in 0..2000 {
        let mut text = Vec::new();
        for _ in 0..(next() % 24) {
            let id = normal[(next() % normal.len() as u64) as usize];
            text.extend(tok.piece_surface(id));
            text.extend(glue[(next() % glue.len() as u64) as usize].as_bytes());
            if next() % 4 == 0 {
                text.extend(tok.piece_surface(specials[(next() % specials.len() as u64) as usize]));
            }
        }
        let text = String::from_utf8(text).unwrap();
        let ids = tok.encode(&text, true, true);
        tokens += ids.len();
        assert_eq!(tok.mergeable_pair(&ids), None, "{text:?} -> {ids:?}");
        // Nor one that the tokenizer, replayed on the pair's text alone, splits otherwise.
        assert_eq!(
            tok.non_canonical_pair(&ids, &tree).map(|(k, _)| k),
            None,
            "{text:?} -> {ids:?}"
        );
        // Nor byte tokens of a character that is a token, nor a special's text in pieces.
        assert_eq!(tok.misplaced_byte(&ids), None, "{text:?} -> {ids:?}");
        assert_eq!(tok.spelled_special(&ids), None, "{text:?} -> {ids:?}");
        assert_eq!(
            tok.non_canonical_bytes(&ids, &tree).map(|x| x.0),
            None,
            "{text:?} -> {ids:?}"
        );
    }
    eprintln!("no refutable pair, byte or special in 2000 random texts ({tokens} tokens)");
}

//! SentencePiece-style tokenizer from GGUF metadata (`tokenizer.ggml.model = "llama"`).
//!
//! Encoding follows the SentencePiece BPE procedure as llama.cpp applies it to GGUF vocabularies:
//! 1. user-defined tokens (type 4) are split out of the text first, and control tokens (type 3)
//!    too when `parse_special` is set, longest token first;
//! 2. in each remaining fragment, spaces become `U+2581` (after a leading space when
//!    `add_space_prefix` is set), the fragment is split into UTF-8 characters, and adjacent
//!    symbols are merged repeatedly, always the pair whose concatenation is the vocabulary token
//!    with the highest score (leftmost on ties);
//! 3. a final symbol that is not a token is emitted as its `<0xXX>` byte tokens.
//!
//! Decoding maps `U+2581` back to spaces and byte tokens to their bytes; control tokens decode
//! to nothing.

use crate::error::EngineError;
use crate::gguf::{Gguf, Value};
use sha2::{Digest, Sha256};
use std::collections::{BinaryHeap, HashMap};

pub const TYPE_NORMAL: i32 = 1;
pub const TYPE_UNKNOWN: i32 = 2;
pub const TYPE_CONTROL: i32 = 3;
pub const TYPE_USER_DEFINED: i32 = 4;
pub const TYPE_UNUSED: i32 = 5;
pub const TYPE_BYTE: i32 = 6;
/// Domain tag of [`Tokenizer::hash`].
pub const TOKENIZER_TAG: &[u8] = b"OTR/tokenizer/v1\0";
/// Domain tag of a vocabulary-piece leaf ([`Tokenizer::piece_leaf`]).
pub const PIECE_TAG: &[u8] = b"OTR/vocab-piece/v2\0";
/// [`Tokenizer::piece_kind`] of a piece the chain may count as a merge of two others.
pub const PIECE_MERGEABLE: u8 = 1;
/// [`Tokenizer::piece_kind`] of every other piece.
pub const PIECE_OTHER: u8 = 0;
/// [`Tokenizer::piece_kind`] of the byte token `encode` emits for its byte.
pub const PIECE_BYTE: u8 = 2;
/// [`Tokenizer::piece_kind`] of a control or user-defined token whose text `encode` always
/// matches as that token (non-empty, no space).
pub const PIECE_SPECIAL: u8 = 3;
/// Domain tag of a leaf of the text-sorted vocabulary tree ([`Tokenizer::text_leaf`]).
pub const TEXT_TAG: &[u8] = b"OTR/vocab-text/v1\0";

/// One leaf of the text-sorted vocabulary tree ([`Tokenizer::text_tree`]) opened: what the
/// chain reads a text's membership (and score) or absence from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextOpening {
    /// The leaf's index in text order.
    pub index: u64,
    pub id: u32,
    /// The order-preserving u32 form of the token's score (larger merges first).
    pub score_key: u32,
    pub text: Vec<u8>,
    pub path: Vec<[u8; 32]>,
}

/// An RFC 6962 tree with every level kept, to open many leaves cheaply: level 0 the leaf
/// hashes, each next level the one below paired (an odd last node carried up), which is RFC
/// 6962's tree.
struct Levels(Vec<Vec<[u8; 32]>>);

impl Levels {
    fn build(mut level: Vec<[u8; 32]>) -> Levels {
        let mut levels = Vec::new();
        while level.len() > 1 {
            let next = level
                .chunks(2)
                .map(|c| match c {
                    [l, r] => otr_core::rollup::merkle::node_hash(l, r),
                    [one] => *one,
                    _ => unreachable!(),
                })
                .collect();
            levels.push(std::mem::replace(&mut level, next));
        }
        levels.push(level);
        Levels(levels)
    }

    fn root(&self) -> [u8; 32] {
        self.0
            .last()
            .and_then(|l| l.first().copied())
            .unwrap_or_else(otr_core::rollup::merkle::empty_root)
    }

    /// Leaf `i`'s audit path, nearest the leaf first.
    fn path(&self, i: usize) -> Vec<[u8; 32]> {
        let mut path = Vec::new();
        let mut m = i;
        for level in &self.0[..self.0.len() - 1] {
            if let Some(h) = level.get(m ^ 1) {
                path.push(*h);
            }
            m >>= 1;
        }
        path
    }
}

/// The vocabulary-piece tree ([`Tokenizer::pieces_root`]) with every level kept.
pub struct PieceTree(Levels);

impl PieceTree {
    pub fn root(&self) -> [u8; 32] {
        self.0.root()
    }

    /// Token `id`'s audit path; `None` past the vocabulary.
    pub fn path(&self, id: u32) -> Option<Vec<[u8; 32]>> {
        ((id as usize) < self.0 .0[0].len()).then(|| self.0.path(id as usize))
    }
}

/// The text-sorted vocabulary tree with every level kept, to open many leaves cheaply.
pub struct TextTree {
    /// `(text, id)`, sorted by the text's bytes.
    entries: Vec<(Vec<u8>, u32)>,
    levels: Levels,
    score_keys: Vec<u32>,
}

impl TextTree {
    pub fn root(&self) -> [u8; 32] {
        self.levels.root()
    }

    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn open(&self, i: usize) -> TextOpening {
        let path = self.levels.path(i);
        let (text, id) = &self.entries[i];
        TextOpening {
            index: i as u64,
            id: *id,
            score_key: self.score_keys[i],
            text: text.clone(),
            path,
        }
    }

    /// The openings that show `text` in the tree (its own leaf) or absent from it (the two
    /// leaves around where it would sit, or the one leaf at an end).
    pub fn lookup(&self, text: &[u8]) -> Vec<TextOpening> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        match self
            .entries
            .binary_search_by(|(t, _)| t.as_slice().cmp(text))
        {
            Ok(i) => vec![self.open(i)],
            Err(0) => vec![self.open(0)],
            Err(p) if p == self.entries.len() => vec![self.open(p - 1)],
            Err(p) => vec![self.open(p - 1), self.open(p)],
        }
    }
}

const SPACE: &str = "\u{2581}";

/// The vocabulary and its rules.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    pub tokens: Vec<String>,
    pub scores: Vec<f32>,
    pub types: Vec<i32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub add_bos: bool,
    pub add_space_prefix: bool,
    index: HashMap<String, u32>,
    byte_tokens: Vec<Option<u32>>,
    /// (text, id) of the specially-matched tokens, longest first.
    specials: Vec<(String, u32, bool)>,
    /// Every byte has its byte token: no character of a fragment can vanish or become
    /// `<unk>` (what [`Tokenizer::piece_kind`]'s mergeable pieces rely on).
    all_bytes: bool,
}

#[derive(PartialEq, Eq)]
struct Bigram {
    score: u32, // order-preserving map of the f32 score
    left: usize,
    right: usize,
    size: usize,
}

impl Ord for Bigram {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // Max-heap: higher score first, then the leftmost pair.
        self.score
            .cmp(&o.score)
            .then_with(|| o.left.cmp(&self.left))
    }
}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

fn score_key(s: f32) -> u32 {
    let b = s.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

impl Tokenizer {
    /// Reads the vocabulary from GGUF metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, EngineError> {
        let model = g.str("tokenizer.ggml.model")?;
        if model != "llama" {
            return Err(EngineError::Tokenizer(format!(
                "tokenizer model {model:?} (only the SentencePiece \"llama\" model is supported)"
            )));
        }
        let arr = |k: &str| {
            g.get(k)
                .and_then(Value::as_array)
                .ok_or_else(|| EngineError::MissingMetadata(k.to_string()))
        };
        let tokens: Vec<String> = arr("tokenizer.ggml.tokens")?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| EngineError::Tokenizer("tokens are not strings".into()))?;
        let n = tokens.len();
        let scores: Vec<f32> = match g.get("tokenizer.ggml.scores") {
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
                .ok_or_else(|| EngineError::Tokenizer("scores are not numbers".into()))?,
            None => vec![0.0; n],
        };
        let types: Vec<i32> = match g.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|x| match x {
                            Value::I32(t) => Some(*t),
                            other => other.as_u64().map(|t| t as i32),
                        })
                        .collect()
                })
                .ok_or_else(|| EngineError::Tokenizer("token types are not integers".into()))?,
            None => vec![TYPE_NORMAL; n],
        };
        if scores.len() != n || types.len() != n || n == 0 || n > u32::MAX as usize {
            return Err(EngineError::Tokenizer(format!(
                "{n} tokens, {} scores, {} types",
                scores.len(),
                types.len()
            )));
        }
        let id = |k: &str| -> Result<Option<u32>, EngineError> {
            match g.get(k).and_then(Value::as_u64) {
                None => Ok(None),
                Some(i) if (i as usize) < n => Ok(Some(i as u32)),
                Some(i) => Err(EngineError::Tokenizer(format!("{k} = {i} is not a token"))),
            }
        };
        let flag = |k: &str, d: bool| g.get(k).and_then(Value::as_bool).unwrap_or(d);
        Ok(Self::new(
            tokens,
            scores,
            types,
            id("tokenizer.ggml.bos_token_id")?,
            id("tokenizer.ggml.eos_token_id")?,
            flag("tokenizer.ggml.add_bos_token", true),
            flag("tokenizer.ggml.add_space_prefix", true),
        ))
    }

    pub fn new(
        tokens: Vec<String>,
        scores: Vec<f32>,
        types: Vec<i32>,
        bos: Option<u32>,
        eos: Option<u32>,
        add_bos: bool,
        add_space_prefix: bool,
    ) -> Tokenizer {
        let mut index = HashMap::with_capacity(tokens.len());
        let mut byte_tokens = vec![None; 256];
        let mut specials = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let ty = types[i];
            if ty == TYPE_BYTE {
                if let Some(b) = parse_byte_token(t) {
                    byte_tokens[b as usize] = Some(i as u32);
                }
                continue;
            }
            if (ty == TYPE_CONTROL || ty == TYPE_USER_DEFINED) && !t.is_empty() {
                specials.push((t.clone(), i as u32, ty == TYPE_CONTROL));
            }
            index.entry(t.clone()).or_insert(i as u32);
        }
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let all_bytes = byte_tokens.iter().all(Option::is_some);
        Tokenizer {
            tokens,
            scores,
            types,
            bos,
            eos,
            add_bos,
            add_space_prefix,
            index,
            byte_tokens,
            specials,
            all_bytes,
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// A token id by its exact text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.index.get(text).copied()
    }

    /// Encodes `text`; a BOS is prepended when the vocabulary asks for it and `add_bos` is set.
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if add_bos && self.add_bos {
            if let Some(b) = self.bos {
                out.push(b);
            }
        }
        // Fragments: Ok(text) still to tokenize, Err(id) a matched special token.
        let mut frags: Vec<Result<&str, u32>> = vec![Ok(text)];
        for (s, id, control) in &self.specials {
            if *control && !parse_special {
                continue;
            }
            if !text.contains(s.as_str()) {
                continue;
            }
            let mut next = Vec::with_capacity(frags.len());
            for f in frags {
                match f {
                    Ok(t) if t.contains(s.as_str()) => {
                        let mut rest = t;
                        while let Some(p) = rest.find(s.as_str()) {
                            if p > 0 {
                                next.push(Ok(&rest[..p]));
                            }
                            next.push(Err(*id));
                            rest = &rest[p + s.len()..];
                        }
                        if !rest.is_empty() {
                            next.push(Ok(rest));
                        }
                    }
                    other => next.push(other),
                }
            }
            frags = next;
        }
        for (i, f) in frags.iter().enumerate() {
            match f {
                Err(id) => out.push(*id),
                Ok(t) => {
                    let mut s = String::with_capacity(t.len() + 3);
                    if self.add_space_prefix && i == 0 {
                        s.push_str(SPACE);
                    }
                    s.push_str(&t.replace(' ', SPACE));
                    self.encode_fragment(&s, &mut out);
                }
            }
        }
        out
    }

    fn encode_fragment(&self, text: &str, out: &mut Vec<u32>) {
        // Symbols: byte ranges of UTF-8 characters, linked list.
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let n = starts.len();
        if n == 0 {
            return;
        }
        let mut sym: Vec<(usize, usize)> = (0..n)
            .map(|k| {
                (
                    starts[k],
                    if k + 1 < n { starts[k + 1] } else { text.len() },
                )
            })
            .collect();
        let mut prev: Vec<isize> = (0..n as isize).map(|k| k - 1).collect();
        let mut next: Vec<isize> = (0..n as isize)
            .map(|k| if k + 1 < n as isize { k + 1 } else { -1 })
            .collect();
        let mut heap = BinaryHeap::new();
        let try_add =
            |heap: &mut BinaryHeap<Bigram>, sym: &[(usize, usize)], l: isize, r: isize| {
                if l < 0 || r < 0 {
                    return;
                }
                let (a, b) = (sym[l as usize], sym[r as usize]);
                if let Some(&id) = self.index.get(&text[a.0..b.1]) {
                    heap.push(Bigram {
                        score: score_key(self.scores[id as usize]),
                        left: l as usize,
                        right: r as usize,
                        size: b.1 - a.0,
                    });
                }
            };
        for k in 1..n as isize {
            try_add(&mut heap, &sym, k - 1, k);
        }
        while let Some(bg) = heap.pop() {
            let (l, r) = (sym[bg.left], sym[bg.right]);
            if l.1 <= l.0
                || r.1 <= r.0
                || r.1 - l.0 != bg.size
                || next[bg.left] != bg.right as isize
            {
                continue; // stale
            }
            sym[bg.left] = (l.0, r.1);
            sym[bg.right] = (0, 0);
            let nr = next[bg.right];
            next[bg.left] = nr;
            if nr >= 0 {
                prev[nr as usize] = bg.left as isize;
            }
            try_add(&mut heap, &sym, prev[bg.left], bg.left as isize);
            try_add(&mut heap, &sym, bg.left as isize, nr);
        }
        let mut k: isize = 0;
        while k >= 0 {
            let (a, b) = sym[k as usize];
            let piece = &text[a..b];
            match self.index.get(piece) {
                Some(&id) => out.push(id),
                None => {
                    for byte in piece.bytes() {
                        match self.byte_tokens[byte as usize] {
                            Some(id) => out.push(id),
                            None => {
                                if let Some(u) = self.token_id("<unk>") {
                                    out.push(u)
                                }
                            }
                        }
                    }
                }
            }
            k = next[k as usize];
        }
    }

    /// The bytes one token decodes to.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let i = id as usize;
        let Some(t) = self.tokens.get(i) else {
            return Vec::new();
        };
        match self.types[i] {
            TYPE_BYTE => parse_byte_token(t).map(|b| vec![b]).unwrap_or_default(),
            TYPE_CONTROL | TYPE_UNKNOWN | TYPE_UNUSED => Vec::new(),
            _ => t.replace(SPACE, " ").into_bytes(),
        }
    }

    /// Decodes a token sequence (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut b = Vec::new();
        for &i in ids {
            b.extend(self.token_bytes(i));
        }
        String::from_utf8_lossy(&b).into_owned()
    }

    /// What token `id` stands for in a prompt's text: a byte token its byte, a normal token its
    /// text with `U+2581` as a space, any other (control, user-defined, unknown, unused) its text
    /// as it is: `encode` with `parse_special` matches those literally. Empty for no such id.
    pub fn piece_surface(&self, id: u32) -> Vec<u8> {
        let i = id as usize;
        let Some(t) = self.tokens.get(i) else {
            return Vec::new();
        };
        match self.types[i] {
            TYPE_BYTE => parse_byte_token(t).map(|b| vec![b]).unwrap_or_default(),
            TYPE_NORMAL => t.replace(SPACE, " ").into_bytes(),
            _ => t.as_bytes().to_vec(),
        }
    }

    /// The text a prompt's token ids say (the `PROMPT` trace step's text): the pieces'
    /// surfaces ([`Tokenizer::piece_surface`]) concatenated, after a leading BOS when the
    /// vocabulary adds one. For `ids = encode(text, true, true)` on a vocabulary without a space
    /// prefix this is `text` (but for spaces written as `U+2581`).
    pub fn prompt_text(&self, ids: &[u32]) -> Vec<u8> {
        self.after_bos(ids)
            .iter()
            .flat_map(|&id| self.piece_surface(id))
            .collect()
    }

    /// The BOS a prompt's first token stands for no text as: the vocabulary's, when it adds one.
    pub fn prompt_bos(&self) -> Option<u32> {
        self.bos.filter(|_| self.add_bos)
    }

    /// Whether the chain may refute a prompt's tokens with token `id` as one of two adjacent
    /// tokens that make another ([`Tokenizer::mergeable_pair`]): [`PIECE_MERGEABLE`] for a
    /// normal token whose text has no literal space (so its surface, `U+2581` as a space, says
    /// its text exactly) and is the token [`Tokenizer::encode`] emits for that text (the first
    /// id of a repeated text; not `<unk>`), in a vocabulary with every byte token; else
    /// [`PIECE_OTHER`].
    ///
    /// Why that is safe: `encode` merges adjacent symbols of a fragment until no two adjacent
    /// ones make a token, and emits each final symbol as its own token when it is one (bytes or
    /// `<unk>` otherwise). A mergeable token in its output is therefore exactly one final
    /// symbol, two adjacent mergeable tokens are two adjacent symbols of one fragment (between
    /// fragments stands a control or user-defined token, and with every byte token present no
    /// symbol vanishes), and their texts together are no token, least of all a mergeable one.
    ///
    /// [`PIECE_BYTE`] for the byte token `encode` emits for its byte, which it does only for a
    /// character that is no token ([`Tokenizer::misplaced_byte`]); [`PIECE_SPECIAL`] for a
    /// control or user-defined token with a non-empty text without a space, which `encode`
    /// (with `parse_special`, as the node tokenizes) splits out wherever it occurs
    /// ([`Tokenizer::spelled_special`]).
    pub fn piece_kind(&self, id: u32) -> u8 {
        let i = id as usize;
        let Some(t) = self.tokens.get(i) else {
            return PIECE_OTHER;
        };
        match self.types[i] {
            TYPE_NORMAL
                if self.all_bytes
                    && !t.is_empty()
                    && !t.contains(' ')
                    && t != "<unk>"
                    && self.index.get(t) == Some(&id) =>
            {
                PIECE_MERGEABLE
            }
            TYPE_BYTE
                if parse_byte_token(t).and_then(|b| self.byte_tokens[b as usize]) == Some(id) =>
            {
                PIECE_BYTE
            }
            TYPE_CONTROL | TYPE_USER_DEFINED if !t.is_empty() && !t.contains(' ') => PIECE_SPECIAL,
            _ => PIECE_OTHER,
        }
    }

    /// `ids` after a leading BOS the vocabulary adds (it stands for no text): the tokens a
    /// `PROMPT` claim's ends and the chain's counterexamples count.
    pub fn after_bos<'a>(&self, ids: &'a [u32]) -> &'a [u32] {
        match (self.prompt_bos(), ids.split_first()) {
            (Some(b), Some((&first, rest))) if first == b => rest,
            _ => ids,
        }
    }

    /// The text `ids` say (their surfaces concatenated) and each token's `[start, end)` in it.
    fn text_and_spans(&self, ids: &[u32]) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut text = Vec::new();
        let spans = ids
            .iter()
            .map(|&id| {
                let start = text.len();
                text.extend(self.piece_surface(id));
                (start, text.len())
            })
            .collect();
        (text, spans)
    }

    /// The length of a UTF-8 character from its lead byte (what the chain reads); `None` for a
    /// continuation byte.
    fn utf8_len(lead: u8) -> Option<usize> {
        match lead {
            b if b < 0x80 => Some(1),
            b if b >= 0xF0 => Some(4),
            b if b >= 0xE0 => Some(3),
            b if b >= 0xC0 => Some(2),
            _ => None,
        }
    }

    /// The character of `text` around byte `at` as the chain reads it: back over at most three
    /// continuation bytes to a lead byte, then as many bytes as the lead byte says. `None`
    /// when that does not cover `at` or runs past the text.
    pub fn char_around(text: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
        let mut s = at;
        while s > 0 && at - s < 3 && text.get(s)? & 0xC0 == 0x80 {
            s -= 1;
        }
        let len = Self::utf8_len(*text.get(s)?)?;
        (s + len > at && s + len <= text.len()).then_some(s..s + len)
    }

    /// The first byte token of a prompt's `ids` (counted after a BOS the vocabulary adds) whose
    /// character (read as [`Tokenizer::char_around`]) is a token, and that character: `encode`
    /// emits byte tokens only for a character that is no token, so the chain refutes a prompt
    /// with it (a prompt fed byte by byte). `None` for an honest prompt.
    pub fn misplaced_byte(&self, ids: &[u32]) -> Option<(usize, Vec<u8>)> {
        let ids = self.after_bos(ids);
        let (text, spans) = self.text_and_spans(ids);
        ids.iter()
            .zip(&spans)
            .enumerate()
            .find_map(|(k, (&id, &(s, _)))| {
                if self.piece_kind(id) != PIECE_BYTE {
                    return None;
                }
                let c = &text[Self::char_around(&text, s)?];
                let c = std::str::from_utf8(c).ok()?;
                self.index
                    .contains_key(c)
                    .then(|| (k, c.as_bytes().to_vec()))
            })
    }

    /// A special token's text (kind [`PIECE_SPECIAL`]) occurring in a prompt's text where every
    /// token it overlaps is a mergeable piece: `encode` splits every occurrence out as the
    /// special token (or one it overlaps as another special), so the chain refutes a prompt
    /// with it (a control token's text spelled in pieces). Returns the first and last
    /// overlapped tokens (counted after a BOS the vocabulary adds), the occurrence's byte
    /// offset and the special's id. `None` for an honest prompt.
    pub fn spelled_special(&self, ids: &[u32]) -> Option<(usize, usize, usize, u32)> {
        let ids = self.after_bos(ids);
        let (text, spans) = self.text_and_spans(ids);
        for (st, id, _) in &self.specials {
            if self.piece_kind(*id) != PIECE_SPECIAL {
                continue;
            }
            let st = st.as_bytes();
            let mut from = 0;
            while let Some(p) = text
                .get(from..)
                .and_then(|t| t.windows(st.len()).position(|w| w == st))
            {
                let p = from + p;
                from = p + 1;
                let i = spans.iter().position(|&(s, e)| s <= p && p < e);
                let j = spans
                    .iter()
                    .position(|&(s, e)| s < p + st.len() && p + st.len() <= e);
                if let (Some(i), Some(j)) = (i, j) {
                    if ids[i..=j]
                        .iter()
                        .all(|&t| self.piece_kind(t) == PIECE_MERGEABLE)
                    {
                        return Some((i, j, p, *id));
                    }
                }
            }
        }
        None
    }

    /// The mergeable token two adjacent mergeable tokens `a`, `b` make ([`Tokenizer::piece_kind`]),
    /// if any: the honest tokenization never has such a pair.
    pub fn merge_of(&self, a: u32, b: u32) -> Option<u32> {
        if self.piece_kind(a) != PIECE_MERGEABLE || self.piece_kind(b) != PIECE_MERGEABLE {
            return None;
        }
        let joined = format!("{}{}", self.tokens[a as usize], self.tokens[b as usize]);
        let m = *self.index.get(&joined)?;
        (self.piece_kind(m) == PIECE_MERGEABLE).then_some(m)
    }

    /// The first two adjacent tokens of a prompt's `ids` (counted after a BOS the vocabulary
    /// adds, as the `PROMPT` claim's ends are) that make one mergeable token, and that token:
    /// a tokenization [`Tokenizer::encode`] does not give, which the chain refutes
    /// (`PromptStepVerifier`, docs/PROTOCOL.md §10). `None` for an honest prompt.
    pub fn mergeable_pair(&self, ids: &[u32]) -> Option<(usize, u32)> {
        let ids = self.after_bos(ids);
        ids.windows(2)
            .enumerate()
            .find_map(|(k, w)| self.merge_of(w[0], w[1]).map(|m| (k, m)))
    }

    /// `ids` with its first mergeable token that two mergeable tokens make split into those
    /// two (the split nearest the token's start): the same text in a tokenization `encode`
    /// does not give (the dev cheat `--dev-cheat-kind split`). `None` when no token splits.
    pub fn split_first_piece(&self, ids: &[u32]) -> Option<Vec<u32>> {
        for (k, &id) in ids.iter().enumerate() {
            if self.piece_kind(id) != PIECE_MERGEABLE {
                continue;
            }
            let t = &self.tokens[id as usize];
            for (at, _) in t.char_indices().skip(1) {
                let (a, b) = (self.index.get(&t[..at]), self.index.get(&t[at..]));
                if let (Some(&a), Some(&b)) = (a, b) {
                    if self.merge_of(a, b) == Some(id) {
                        let mut out = ids[..k].to_vec();
                        out.extend([a, b]);
                        out.extend_from_slice(&ids[k + 1..]);
                        return Some(out);
                    }
                }
            }
        }
        None
    }

    /// `ids` with its first one or two adjacent mergeable tokens re-split into two or three
    /// other mergeable pieces, no two adjacent of which make a piece, where the tokenizer
    /// replayed on two adjacent ones splits them otherwise: the same text in a tokenization
    /// with no mergeable pair that is not the tokenizer's (`to|we|r`, the tokenizer's `tower`,
    /// as `to|w|er`; the dev cheat `--dev-cheat-kind resplit`). `None` when none re-splits so.
    pub fn resplit_first_piece(&self, ids: &[u32], tree: &TextTree) -> Option<Vec<u32>> {
        let piece = |t: &str| {
            self.index
                .get(t)
                .copied()
                .filter(|&id| self.piece_kind(id) == PIECE_MERGEABLE)
        };
        let mergeable = |id: &u32| self.piece_kind(*id) == PIECE_MERGEABLE;
        for k in 0..ids.len() {
            for w in 1..=2 {
                let Some(window) = ids.get(k..k + w).filter(|x| x.iter().all(mergeable)) else {
                    continue;
                };
                let t: String = window
                    .iter()
                    .map(|&i| self.tokens[i as usize].as_str())
                    .collect();
                let cuts: Vec<usize> = t.char_indices().skip(1).map(|(i, _)| i).collect();
                let mut splits: Vec<Vec<usize>> = cuts.iter().map(|&c| vec![c]).collect();
                for (x, &a) in cuts.iter().enumerate() {
                    splits.extend(cuts[x + 1..].iter().map(|&b| vec![a, b]));
                }
                for cut in splits {
                    let mut bounds = vec![0];
                    bounds.extend(&cut);
                    bounds.push(t.len());
                    let Some(parts) = bounds
                        .windows(2)
                        .map(|b| piece(&t[b[0]..b[1]]))
                        .collect::<Option<Vec<u32>>>()
                    else {
                        continue;
                    };
                    if parts == window {
                        continue;
                    }
                    let mut out = ids[..k].to_vec();
                    out.extend(parts);
                    out.extend_from_slice(&ids[k + w..]);
                    if self.mergeable_pair(&out).is_none()
                        && self.non_canonical_pair(&out, tree).is_some()
                    {
                        return Some(out);
                    }
                }
            }
        }
        None
    }

    /// `ids` with its first mergeable token whose first character is a token fed as the byte
    /// tokens of its text (the dev cheat `--dev-cheat-kind bytes`): the same text, refuted as
    /// a misplaced byte. `None` when no token is such.
    pub fn bytes_first_piece(&self, ids: &[u32]) -> Option<Vec<u32>> {
        let k = ids.iter().position(|&id| {
            self.piece_kind(id) == PIECE_MERGEABLE && {
                let s = self.piece_surface(id);
                Self::char_around(&s, 0)
                    .and_then(|r| std::str::from_utf8(&s[r]).ok().map(str::to_string))
                    .is_some_and(|c| self.index.contains_key(&c))
            }
        })?;
        let bytes = self
            .piece_surface(ids[k])
            .iter()
            .map(|&b| self.byte_tokens[b as usize])
            .collect::<Option<Vec<u32>>>()?;
        let mut out = ids[..k].to_vec();
        out.extend(bytes);
        out.extend_from_slice(&ids[k + 1..]);
        Some(out)
    }

    /// `ids` with its first special token (after a BOS the vocabulary adds) spelled in the
    /// mergeable pieces `encode` makes of its text as plain text (the dev cheat
    /// `--dev-cheat-kind spell`): the same text, refuted as a spelled special. `None` when no
    /// special token spells so.
    pub fn spell_first_special(&self, ids: &[u32]) -> Option<Vec<u32>> {
        let skip = ids.len() - self.after_bos(ids).len();
        for k in skip..ids.len() {
            if self.piece_kind(ids[k]) != PIECE_SPECIAL {
                continue;
            }
            let text = &self.tokens[ids[k] as usize];
            let mut pieces = Vec::new();
            self.encode_fragment(&text.replace(' ', SPACE), &mut pieces);
            if pieces.len() > 1
                && pieces
                    .iter()
                    .all(|&p| self.piece_kind(p) == PIECE_MERGEABLE)
            {
                let mut out = ids[..k].to_vec();
                out.extend(pieces);
                out.extend_from_slice(&ids[k + 1..]);
                return Some(out);
            }
        }
        None
    }

    /// Leaf data of the text tree ([`Tokenizer::text_tree`]): `"OTR/vocab-text/v1\0" ||
    /// u32be(id) || u32be(score_key) || text`.
    pub fn text_leaf(text: &[u8], id: u32, score_key: u32) -> Vec<u8> {
        let mut b = TEXT_TAG.to_vec();
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&score_key.to_be_bytes());
        b.extend_from_slice(text);
        b
    }

    /// The RFC 6962 tree over every text the tokenizer merges symbols into (each non-empty
    /// text of a token that is not a byte token, with the id `encode` emits for it and that
    /// id's score as an order-preserving u32), sorted by the text's bytes: what the chain reads
    /// a merge's candidates from when it replays the tokenizer on two adjacent tokens
    /// (`PromptStepVerifier`, docs/PROTOCOL.md §10).
    pub fn text_tree(&self) -> TextTree {
        let mut entries: Vec<(Vec<u8>, u32)> = self
            .index
            .iter()
            .filter(|(t, _)| !t.is_empty())
            .map(|(t, &id)| (t.as_bytes().to_vec(), id))
            .collect();
        entries.sort();
        let score_keys: Vec<u32> = entries
            .iter()
            .map(|(_, id)| score_key(self.scores[*id as usize]))
            .collect();
        let levels = Levels::build(
            entries
                .iter()
                .zip(&score_keys)
                .map(|((t, id), k)| {
                    otr_core::rollup::merkle::leaf_hash(&Self::text_leaf(t, *id, *k))
                })
                .collect(),
        );
        TextTree {
            entries,
            levels,
            score_keys,
        }
    }

    /// The tokenizer's merges on one fragment `raw` (`U+2581` for spaces) in the order the chain
    /// replays them: every adjacent pair of characters looked up left to right, then at each
    /// step the best pair (highest score, leftmost on ties) merged and its new left and right
    /// pairs looked up, in that order. `lookup` sees every text looked up; the result is the
    /// final symbols' byte ends. The same symbols as `encode` makes of the fragment.
    pub fn merge_replay(&self, raw: &str, mut lookup: impl FnMut(&str)) -> Vec<usize> {
        let starts: Vec<usize> = raw.char_indices().map(|(i, _)| i).collect();
        let n = starts.len();
        let mut sym: Vec<(usize, usize)> = (0..n)
            .map(|k| (starts[k], starts.get(k + 1).copied().unwrap_or(raw.len())))
            .collect();
        let mut next: Vec<Option<usize>> = (0..n).map(|k| (k + 1 < n).then_some(k + 1)).collect();
        let mut prev: Vec<Option<usize>> = (0..n).map(|k| k.checked_sub(1)).collect();
        let mut pair: Vec<Option<u32>> = vec![None; n];
        let mut query =
            |l: usize, sym: &[(usize, usize)], next: &[Option<usize>], pair: &mut [Option<u32>]| {
                pair[l] = next[l].and_then(|r| {
                    let t = &raw[sym[l].0..sym[r].1];
                    lookup(t);
                    self.index
                        .get(t)
                        .map(|&id| score_key(self.scores[id as usize]))
                });
            };
        for l in 0..n.saturating_sub(1) {
            query(l, &sym, &next, &mut pair);
        }
        loop {
            let mut best: Option<(usize, u32)> = None;
            let mut at = (n > 0).then_some(0);
            while let Some(i) = at {
                if let Some(s) = pair[i] {
                    if best.is_none_or(|(_, b)| s > b) {
                        best = Some((i, s));
                    }
                }
                at = next[i];
            }
            let Some((l, _)) = best else { break };
            let r = next[l].expect("a pair has a right symbol");
            sym[l].1 = sym[r].1;
            next[l] = next[r];
            if let Some(nr) = next[r] {
                prev[nr] = Some(l);
            }
            pair[r] = None;
            if let Some(p) = prev[l] {
                query(p, &sym, &next, &mut pair);
            }
            query(l, &sym, &next, &mut pair);
        }
        let mut ends = Vec::new();
        let mut at = (n > 0).then_some(0);
        while let Some(i) = at {
            ends.push(sym[i].1);
            at = next[i];
        }
        ends
    }

    /// The units of a prompt's tokens (after a BOS the vocabulary adds) that the tokenizer's
    /// replay takes as symbols: a mergeable token, or the byte tokens of one character (as many
    /// as its bytes, from its lead byte: engine `encode` emits a character that is no token so).
    /// Each unit is `(first token, tokens, raw text)`; other tokens are `None`.
    fn units(&self, ids: &[u32]) -> Vec<Option<(usize, usize, Vec<u8>)>> {
        let (text, spans) = self.text_and_spans(ids);
        let mut out = Vec::new();
        let mut k = 0;
        while k < ids.len() {
            if self.piece_kind(ids[k]) == PIECE_MERGEABLE {
                out.push(Some((
                    k,
                    1,
                    self.tokens[ids[k] as usize].as_bytes().to_vec(),
                )));
                k += 1;
                continue;
            }
            let s = spans[k].0;
            let len = text.get(s).copied().and_then(Self::utf8_len).unwrap_or(0);
            let run = ids.get(k..k + len).filter(|r| {
                len > 0
                    && r.iter().enumerate().all(|(q, &id)| {
                        self.piece_kind(id) == PIECE_BYTE && spans[k + q] == (s + q, s + q + 1)
                    })
            });
            match run {
                Some(_) => {
                    out.push(Some((k, len, text[s..s + len].to_vec())));
                    k += len;
                }
                None => {
                    out.push(None);
                    k += 1;
                }
            }
        }
        out
    }

    /// [`Tokenizer::non_canonical_pair`] where one side (or both) is the byte tokens of one
    /// character ([`Tokenizer::units`]): `ab` fed as `<0x61>|b` when `a` is no token but `ab`
    /// is. Returns the first unit's first token, each unit's token count and the replay's
    /// openings.
    pub fn non_canonical_bytes(
        &self,
        ids: &[u32],
        tree: &TextTree,
    ) -> Option<(usize, usize, usize, Vec<TextOpening>)> {
        let ids = self.after_bos(ids);
        let units = self.units(ids);
        for w in units.windows(2) {
            let (Some((k, ra, a)), Some((_, rb, b))) = (&w[0], &w[1]) else {
                continue;
            };
            if *ra == 1
                && *rb == 1
                && self.piece_kind(ids[*k]) == PIECE_MERGEABLE
                && self.piece_kind(ids[k + 1]) == PIECE_MERGEABLE
            {
                continue; // two pieces: `non_canonical_pair`
            }
            let raw = [a.as_slice(), b.as_slice()].concat();
            let Ok(raw) = String::from_utf8(raw) else {
                continue;
            };
            let ends = self.merge_replay(&raw, |_| {});
            if ends != [a.len(), raw.len()] {
                let mut openings = Vec::new();
                self.merge_replay(&raw, |t| openings.extend(tree.lookup(t.as_bytes())));
                return Some((*k, *ra, *rb, openings));
            }
        }
        None
    }

    /// The first two adjacent mergeable tokens of a prompt's `ids` (counted after a BOS the
    /// vocabulary adds) that the tokenizer, replayed on their text alone
    /// ([`Tokenizer::merge_replay`]), does not split where they meet into those two symbols:
    /// the honest tokenization never has such a pair (each pair of its adjacent symbols comes
    /// back from the pair's text alone), so the chain refutes a prompt with it. Returns the
    /// pair's index and the text tree's openings of every text the replay looked up.
    pub fn non_canonical_pair(
        &self,
        ids: &[u32],
        tree: &TextTree,
    ) -> Option<(usize, Vec<TextOpening>)> {
        let ids = self.after_bos(ids);
        for (k, w) in ids.windows(2).enumerate() {
            if self.piece_kind(w[0]) != PIECE_MERGEABLE || self.piece_kind(w[1]) != PIECE_MERGEABLE
            {
                continue;
            }
            let (a, b) = (&self.tokens[w[0] as usize], &self.tokens[w[1] as usize]);
            let raw = format!("{a}{b}");
            let ends = self.merge_replay(&raw, |_| {});
            if ends != [a.len(), raw.len()] {
                let mut openings = Vec::new();
                self.merge_replay(&raw, |t| openings.extend(tree.lookup(t.as_bytes())));
                return Some((k, openings));
            }
        }
        None
    }

    /// Leaf data of token `id` in [`Tokenizer::pieces_root`]:
    /// `"OTR/vocab-piece/v2\0" || u32be(id) || u8 kind || surface` ([`Tokenizer::piece_kind`],
    /// [`Tokenizer::piece_surface`]).
    pub fn piece_leaf(&self, id: u32) -> Vec<u8> {
        let mut b = PIECE_TAG.to_vec();
        b.extend_from_slice(&id.to_be_bytes());
        b.push(self.piece_kind(id));
        b.extend(self.piece_surface(id));
        b
    }

    /// RFC 6962 root over every token's [`Tokenizer::piece_leaf`], in id order: what the
    /// on-chain `PROMPT` verifier opens a token's surface against.
    pub fn pieces_root(&self) -> [u8; 32] {
        let leaves: Vec<Vec<u8>> = (0..self.tokens.len() as u32)
            .map(|i| self.piece_leaf(i))
            .collect();
        otr_core::rollup::merkle::root(&leaves)
    }

    /// [`Tokenizer::pieces_root`]'s tree with every level kept, to open many pieces.
    pub fn piece_tree(&self) -> PieceTree {
        PieceTree(Levels::build(
            (0..self.tokens.len() as u32)
                .map(|i| otr_core::rollup::merkle::leaf_hash(&self.piece_leaf(i)))
                .collect(),
        ))
    }

    /// Token `id`'s surface with its audit path in [`Tokenizer::pieces_root`].
    pub fn piece_opening(&self, id: u32) -> Option<(Vec<u8>, Vec<[u8; 32]>)> {
        let leaves: Vec<Vec<u8>> = (0..self.tokens.len() as u32)
            .map(|i| self.piece_leaf(i))
            .collect();
        let p = otr_core::rollup::merkle::prove(&leaves, id as u64).ok()?;
        Some((self.piece_surface(id), p.path))
    }

    /// `SHA-256("OTR/tokenizer/v1\0" || u32le(n) || per token: u32le(len) text f32le(score)
    /// i32le(type) || bos || eos (u32le, 0xffffffff when absent) || add_bos || add_space_prefix)`.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(TOKENIZER_TAG);
        h.update((self.tokens.len() as u32).to_le_bytes());
        for i in 0..self.tokens.len() {
            h.update((self.tokens[i].len() as u32).to_le_bytes());
            h.update(self.tokens[i].as_bytes());
            h.update(self.scores[i].to_le_bytes());
            h.update(self.types[i].to_le_bytes());
        }
        h.update(self.bos.unwrap_or(u32::MAX).to_le_bytes());
        h.update(self.eos.unwrap_or(u32::MAX).to_le_bytes());
        h.update([self.add_bos as u8, self.add_space_prefix as u8]);
        h.finalize().into()
    }
}

fn parse_byte_token(t: &str) -> Option<u8> {
    let h = t.strip_prefix("<0x")?.strip_suffix('>')?;
    if h.len() != 2 {
        return None;
    }
    u8::from_str_radix(h, 16).ok()
}

/// Incremental UTF-8 decoder for streaming: hands out the longest complete prefix.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) => {
                if e.error_len().is_some() {
                    // Invalid (not merely incomplete): flush lossily.
                    self.pending.len()
                } else {
                    e.valid_up_to()
                }
            }
        };
        let out: Vec<u8> = self.pending.drain(..valid).collect();
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The Gemma chat template for one user turn, ready for the model's answer.
pub fn gemma_chat_prompt(user: &str) -> String {
    format!("<start_of_turn>user\n{user}<end_of_turn>\n<start_of_turn>model\n")
}

#[cfg(test)]
#[path = "tokenizer_tests.rs"]
mod tests;

//! The prompt as the trace commits it and as a client checks it: the `PROMPT` step's output form
//! (`u32le(len(text)) || text || ids`, built by the engine, read by the core's bundle check, the
//! contracts' claim helpers and the node's `EMBED` witness), and the text a node runs for a chat
//! request (`VerifyOptions::expected_prompt`): the node applies the same template function, so
//! client and node cannot disagree on it.

use alloc::string::String;
use alloc::vec::Vec;

/// The `PROMPT` step's output: `u32le(len(text)) || text || ids` (u32le each).
pub fn prompt_bytes(text: &[u8], ids: &[u32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + text.len() + 4 * ids.len());
    b.extend_from_slice(&(text.len() as u32).to_le_bytes());
    b.extend_from_slice(text);
    for t in ids {
        b.extend_from_slice(&t.to_le_bytes());
    }
    b
}

/// A `PROMPT` output's `(text, ids)`; `None` when it is not of the form [`prompt_bytes`] writes.
pub fn prompt_parts(prompt: &[u8]) -> Option<(&[u8], Vec<u32>)> {
    let n = u32::from_le_bytes(prompt.get(..4)?.try_into().ok()?) as usize;
    let text = prompt.get(4..4usize.checked_add(n)?)?;
    let rest = &prompt[4 + n..];
    if !rest.len().is_multiple_of(4) {
        return None;
    }
    let ids = rest
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some((text, ids))
}

/// Gemma's chat template (the Gemma 3 models'), as the node applies it to `(role, content)`
/// messages: a `system` or `developer` message is folded into the next user turn (followed by
/// a blank line), `assistant` and `model` messages are model turns, every other role is a user
/// turn, and the text ends with the opening of the model's turn.
pub fn gemma_chat_prompt<R: AsRef<str>, C: AsRef<str>>(messages: &[(R, C)]) -> String {
    let mut out = String::new();
    let mut system = String::new();
    for (role, content) in messages {
        let content = content.as_ref();
        match role.as_ref() {
            "system" | "developer" => {
                system.push_str(content);
                system.push_str("\n\n");
            }
            "assistant" | "model" => {
                out.push_str("<start_of_turn>model\n");
                out.push_str(content);
                out.push_str("<end_of_turn>\n");
            }
            _ => {
                out.push_str("<start_of_turn>user\n");
                out.push_str(&system);
                out.push_str(content);
                out.push_str("<end_of_turn>\n");
                system.clear();
            }
        }
    }
    out.push_str("<start_of_turn>model\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_bytes_and_parts_round_trip() {
        let b = prompt_bytes(b"hi", &[2, 70_000]);
        assert_eq!(b, [2, 0, 0, 0, b'h', b'i', 2, 0, 0, 0, 0x70, 0x11, 1, 0]);
        assert_eq!(prompt_parts(&b), Some((&b"hi"[..], alloc::vec![2, 70_000])));
        assert_eq!(prompt_parts(&b[..b.len() - 1]), None);
        assert_eq!(prompt_parts(&[9, 0, 0, 0, b'x']), None);
        assert_eq!(prompt_parts(&[0, 0, 0]), None);
        assert_eq!(prompt_parts(&[0, 0, 0, 0]), Some((&b""[..], alloc::vec![])));
    }

    #[test]
    fn turns_and_a_folded_system_message() {
        assert_eq!(
            gemma_chat_prompt(&[("user", "Hi")]),
            "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
        );
        assert_eq!(
            gemma_chat_prompt(&[
                ("system", "Be brief."),
                ("user", "Capital of France?"),
                ("assistant", "Paris."),
                ("tool", "And Italy?"),
            ]),
            "<start_of_turn>user\nBe brief.\n\nCapital of France?<end_of_turn>\n\
             <start_of_turn>model\nParis.<end_of_turn>\n\
             <start_of_turn>user\nAnd Italy?<end_of_turn>\n<start_of_turn>model\n"
        );
        let none: [(&str, &str); 0] = [];
        assert_eq!(gemma_chat_prompt(&none), "<start_of_turn>model\n");
    }
}

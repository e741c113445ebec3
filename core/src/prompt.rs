//! The prompt text a node runs for a chat request: what a client compares with the text of the
//! trace's `PROMPT` leaf (`VerifyOptions::expected_prompt`). The node applies the same function,
//! so client and node cannot disagree on the template.

use alloc::string::String;

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

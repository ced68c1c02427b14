//! Text from outside proofgate (proofs, artifacts, zip entries, JUnit, script headers) on
//! its way to stdout/stderr, which the runner scans for workflow commands.
//!
//! The runner reads a line as a command when it starts with `::` (after leading blanks) or
//! contains `##[` anywhere. [`untrusted`] makes sure such text can neither start a new line
//! nor be read as a command where it stands: control characters (line breaks first) are
//! written as Rust-style escapes (`\n`, `\r`, `\u{1b}`), a leading `::` as `\::` and `##[`
//! as `#\#[`. The same escaping keeps terminal control sequences out of a local terminal,
//! so it applies whether or not the process runs in Actions.
//!
//! [`Fence`] is the second line of defence for a block of output that is mostly untrusted:
//! `::stop-commands::<random token>` before it, `::<token>::` after, so the runner reads no
//! command in between.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must be escaped: every control character, plus the Unicode line and
/// paragraph separators some viewers break lines on.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `s` made safe to print on a log line: nothing in it starts a line or a workflow command.
/// Borrowed when nothing needed escaping.
pub fn untrusted(s: &str) -> Cow<'_, str> {
    let lead = s.len() - s.trim_start_matches([' ', '\t']).len();
    let starts_command = s[lead..].starts_with("::");
    if !starts_command && !s.contains("##[") && !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    if starts_command {
        for c in s[..lead].chars() {
            push_escaped(&mut out, c);
        }
        out.push_str("\\:");
        rest = &s[lead + 1..];
    }
    for (i, c) in rest.char_indices() {
        if c == '#' && rest[i..].starts_with("##[") {
            out.push_str("#\\");
            continue;
        }
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// A `::stop-commands::` fence with a random token: while it is open, the runner treats
/// every line as plain text, proofgate's own annotations included, so only output that
/// holds no command of proofgate's belongs inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    token: String,
}

impl Fence {
    /// A fence with a fresh token from the system's secure random source.
    pub fn new() -> Result<Self, super::OutputError> {
        let token = super::outputs::random_delimiter()?;
        Ok(Self::with_token(token))
    }

    /// A fence with a given token (tests).
    pub fn with_token(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
        }
    }

    /// The line that stops command processing (no trailing newline).
    pub fn open(&self) -> String {
        format!("::stop-commands::{}", self.token)
    }

    /// The line that resumes it (no trailing newline).
    pub fn close(&self) -> String {
        format!("::{}::", self.token)
    }
}

/// Escapes each line of `text` on its own, keeping the line breaks proofgate put there:
/// for a block proofgate formatted (a table) whose cells were not escaped one by one.
pub fn untrusted_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        out.push_str(&untrusted(body));
        out.push_str(nl);
    }
    out
}

/// JSON text made safe for the log without changing what it means: serde escapes line
/// breaks inside strings and no JSON line starts with `::`, but a string may hold `##[`;
/// its second `#` is written `\u0023`, which every JSON reader decodes back to `#`.
pub fn json(text: &str) -> Cow<'_, str> {
    if text.contains("##[") {
        Cow::Owned(text.replace("##[", "#\\u0023["))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True when no line of `text` would be read by the runner as a workflow command.
    fn has_no_commands(text: &str) -> bool {
        text.split(['\n', '\r'])
            .all(|l| !l.trim_start_matches([' ', '\t']).starts_with("::") && !l.contains("##["))
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            untrusted("tests/test_a.py::test_x"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn line_breaks_cannot_start_a_new_log_line() {
        let forged = "a\n::warning::forged\r\n::stop-commands::x";
        let out = untrusted(forged);
        assert!(!out.contains(['\n', '\r']), "{out}");
        assert_eq!(out, "a\\n::warning::forged\\r\\n::stop-commands::x");
        assert!(has_no_commands(&out));
    }

    #[test]
    fn a_leading_command_and_v1_commands_are_defused() {
        assert_eq!(untrusted("::error::x"), "\\::error::x");
        assert_eq!(untrusted("  ::error::x"), "  \\::error::x");
        assert_eq!(untrusted("a ##[warning]x"), "a #\\#[warning]x");
        assert_eq!(untrusted("###[x"), "##\\#[x");
        for s in [
            "::error::x",
            " \t::x",
            "x##[error]y",
            "\u{1b}[31m",
            "a\u{2028}b",
        ] {
            let out = untrusted(s);
            assert!(has_no_commands(&out), "{out}");
            assert!(!out.chars().any(needs_escape), "{out:?}");
        }
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(untrusted("a\u{1b}[2Jb\0c\td"), "a\\u{1b}[2Jb\\u{0}c\\td");
        assert_eq!(untrusted("é ✓"), "é ✓");
    }

    #[test]
    fn json_keeps_its_meaning_and_loses_v1_commands() {
        let v = serde_json::json!({"name": "x ##[warning]y\n::error::z"});
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = json(&text);
        assert!(has_no_commands(&safe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn untrusted_lines_keeps_the_layout_and_defuses_each_line() {
        let out = untrusted_lines("HEAD\n::warning::x\nok\n");
        assert_eq!(out, "HEAD\n\\::warning::x\nok\n");
    }

    #[test]
    fn a_fence_has_a_fresh_token_that_closes_it() {
        let f = Fence::with_token("t0k");
        assert_eq!(f.open(), "::stop-commands::t0k");
        assert_eq!(f.close(), "::t0k::");
        // Text inside cannot close it early: its lines never start with `::`.
        assert_eq!(untrusted("::t0k::"), "\\::t0k::");
        let a = Fence::new().unwrap();
        let b = Fence::new().unwrap();
        assert_ne!(a, b);
    }
}

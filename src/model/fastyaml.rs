//! A fast path for the YAML most headers are made of: block mappings of plain words,
//! quoted strings without escapes, booleans and small integers. Anything else (lists,
//! flow collections, anchors, tags, block scalars, escapes, floats, duplicate keys, odd
//! indentation) returns `None` and the caller uses `serde_yaml_ng`, which also produces
//! every error message. When it returns a value, it is the value `serde_yaml_ng` gives.
//!
//! Why it exists: on the 20,000 goldenpath-shaped headers of `benches/model/gen.py`, all
//! of which it takes, it parses a header in about a quarter of the time `serde_yaml_ng`
//! needs (3.9 µs against 15.0 µs, `bash benches/model/yaml.sh --full`; figures in
//! `benches/README.md`), which is most of `lint`'s own CPU time on such a repository.

use serde_yaml_ng::{Mapping, Number, Value};

fn plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && !k.starts_with('-')
}

fn scalar(v: &str) -> Option<Value> {
    let first = v.as_bytes().first().copied()?;
    if first == b'"' {
        let inner = v.strip_prefix('"')?.strip_suffix('"')?;
        if inner.contains(['"', '\\']) {
            return None;
        }
        return Some(Value::String(inner.to_owned()));
    }
    if first == b'\'' {
        let inner = v.strip_prefix('\'')?.strip_suffix('\'')?;
        if inner.contains('\'') {
            return None;
        }
        return Some(Value::String(inner.to_owned()));
    }
    match v {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" | "~" => return Some(Value::Null),
        _ => {}
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        if v.len() > 1 && first == b'0' || v.len() > 18 {
            return None;
        }
        return v
            .parse::<u64>()
            .ok()
            .map(|n| Value::Number(Number::from(n)));
    }
    // Leave everything a resolver might read as something else to serde_yaml_ng.
    if matches!(
        first,
        b'[' | b'{'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'%'
            | b'@'
            | b'`'
            | b'?'
            | b'-'
            | b'+'
            | b'.'
            | b'#'
            | b','
            | b':'
    ) || first.is_ascii_digit()
        || v.contains(": ")
        || v.contains(" #")
        || v.ends_with(':')
        || v.contains('\t')
    {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | ".nan" | ".inf"
    ) {
        return None;
    }
    Some(Value::String(v.to_owned()))
}

/// Strips a trailing ` # comment` from a value, when it is safe to tell.
fn strip_comment(v: &str) -> Option<&str> {
    let quoted = v.starts_with('"') || v.starts_with('\'');
    match v.find(" #") {
        None => Some(v),
        Some(_) if quoted => {
            let q = v.as_bytes()[0] as char;
            let close = v[1..].find(q)? + 1;
            let rest = v[close + 1..].trim_start();
            (rest.is_empty() || rest.starts_with('#')).then(|| &v[..=close])
        }
        Some(i) => Some(v[..i].trim_end()),
    }
}

/// Open block mappings: (indent of the mapping's keys, the mapping, the key it belongs to
/// in its parent).
type Stack = Vec<(usize, Mapping, Option<String>)>;

/// Pops the innermost mapping into its parent under its key; `None` on a duplicate key.
fn close(stack: &mut Stack) -> Option<()> {
    let (_, m, key) = stack.pop()?;
    let parent = &mut stack.last_mut()?.1;
    parent
        .insert(Value::String(key?), Value::Mapping(m))
        .is_none()
        .then_some(())
}

/// Parses `text` when it is simple enough; `None` means "ask `serde_yaml_ng`".
pub(crate) fn parse(text: &str) -> Option<Value> {
    let mut stack: Stack = vec![(0, Mapping::new(), None)];
    // A key whose value is a nested block still to come.
    let mut pending: Option<(usize, String)> = None;
    for line in text.split('\n') {
        let line = line
            .strip_suffix('\r')
            .unwrap_or(line)
            .trim_end_matches(' ');
        if line.contains('\t') {
            return None;
        }
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content == "---" || content == "..." || content.starts_with("- ") || content == "-" {
            return None;
        }
        let indent = line.len() - content.len();
        if let Some((pi, key)) = pending.take() {
            if indent > pi {
                stack.push((indent, Mapping::new(), Some(key)));
            } else {
                let top = &mut stack.last_mut()?.1;
                if top.insert(Value::String(key), Value::Null).is_some() {
                    return None;
                }
            }
        }
        while stack.last()?.0 > indent {
            close(&mut stack)?;
        }
        if stack.last()?.0 != indent {
            return None;
        }
        let colon = content.find(':')?;
        let key = &content[..colon];
        let rest = &content[colon + 1..];
        if !plain_key(key) || !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let value = strip_comment(rest.trim_start())?;
        if value.is_empty() {
            pending = Some((indent, key.to_owned()));
            continue;
        }
        let v = scalar(value)?;
        if stack
            .last_mut()?
            .1
            .insert(Value::String(key.to_owned()), v)
            .is_some()
        {
            return None;
        }
    }
    if let Some((_, key)) = pending.take()
        && stack
            .last_mut()?
            .1
            .insert(Value::String(key), Value::Null)
            .is_some()
    {
        return None;
    }
    while stack.len() > 1 {
        close(&mut stack)?;
    }
    let (_, m, _) = stack.pop()?;
    if m.is_empty() {
        return None;
    }
    Some(Value::Mapping(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "id: SCRIPT-0001\ntype: script\nowner: platform-team\nmaturity: 3\ntest:\n  runner: pytest\n  command: \"pytest -q tests/x.py\"\n  evidence: ci  # proven\n  required_on_pr: true\ndry_run:\n  supported: true\n  command_hint: 'x --dry-run'\nrisk_profile:\n  production_impact: high\n";

    #[test]
    fn a_goldenpath_header_takes_the_fast_path_and_equals_serde() {
        let fast = parse(HEADER).expect("fast path");
        let slow: Value = serde_yaml_ng::from_str(HEADER).expect("serde");
        assert_eq!(fast, slow);
    }

    #[test]
    fn unusual_yaml_is_left_to_serde() {
        for y in [
            "a: [1]\n",
            "a:\n- b\n",
            "a: |\n  x\n",
            "a: 1.5\n",
            "a: yes\n",
            "a: \"x\\n\"\n",
            "a: 1\na: 2\n",
            "a: &x 1\n",
            "a:\tb\n",
            "a: 007\n",
            "",
        ] {
            assert_eq!(parse(y), None, "{y:?}");
        }
    }

    proptest! {
        #[test]
        fn the_fast_path_agrees_with_serde_yaml_ng(
            lines in proptest::collection::vec(
                (0usize..3, prop_oneof![
                    Just("a"), Just("b"), Just("test"), Just("id"), Just("x-y"), Just("k_1")
                ], prop_oneof![
                    Just(""), Just("word"), Just("true"), Just("True"), Just("null"), Just("~"),
                    Just("12"), Just("012"), Just("1.5"), Just("\"q s\""), Just("'q'"), Just("a b"),
                    Just("x # c"), Just("\"a\" # c"), Just("yes"), Just("-x"), Just("a:b"),
                    Just("[1, 2]"), Just("'it''s'"), Just("é"),
                ]),
                0..12,
            )
        ) {
            let text: String = lines
                .iter()
                .map(|(ind, k, v)| format!("{}{k}:{}{v}\n", "  ".repeat(*ind), if v.is_empty() { "" } else { " " }))
                .collect();
            if let Some(fast) = parse(&text) {
                let slow: Result<Value, _> = serde_yaml_ng::from_str(&text);
                prop_assert_eq!(Some(fast), slow.ok(), "{}", text);
            }
        }
    }
}

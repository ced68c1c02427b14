//! Positions of keys in block-style YAML, for error messages.
//!
//! `serde_yaml_ng` values carry no spans, so this scanner indexes the keys of block
//! mappings and the items of block sequences by their path (`test.evidence`,
//! `scripts.declared[1].owner`) with 1-based line and column. Flow collections
//! (`{a: 1}`, `[x, y]`) are not entered: their keys resolve to the enclosing key.
//!
//! Why a second scanner beside the library: `serde_yaml_ng` gives a position only for
//! YAML it cannot parse (`Error::location`); a parsed `Value` has no marks and the crate
//! has no spanned values. Most findings are about YAML that parses well. In
//!
//! ```text
//! id: SCRIPT-0001
//! test:
//!   runner: pytest
//!   evidence: cii
//! ```
//!
//! `cii` is not an allowed evidence, and the finding must point at `test.evidence`, line 4
//! column 3 (`nested_keys_are_indexed_with_their_columns` below): only this index knows
//! where that key is. [`check_depth`] is here too: it bounds the nesting before the parser
//! sees a text, because the parser takes quadratic time on deeply nested flow collections.

use std::collections::HashMap;

/// 1-based line and column of a key inside a YAML text.
pub(crate) type Pos = (u32, u32);

/// An index from key path to position.
#[derive(Debug, Default)]
pub(crate) struct PosIndex {
    map: HashMap<String, Pos>,
}

#[derive(Debug)]
enum Frame {
    Map {
        indent: usize,
        path: String,
    },
    Seq {
        indent: usize,
        path: String,
        next: usize,
    },
}

impl Frame {
    fn indent(&self) -> usize {
        match self {
            Frame::Map { indent, .. } | Frame::Seq { indent, .. } => *indent,
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Splits `key: rest` at the mapping colon. Returns the key text and what follows the colon.
fn split_key(s: &str) -> Option<(String, &str)> {
    let bytes = s.as_bytes();
    let first = *bytes.first()?;
    if first == b'"' || first == b'\'' {
        let close = s[1..].find(first as char)? + 1;
        let key = s[1..close].to_owned();
        let rest = s[close + 1..].trim_start_matches(' ');
        let rest = rest.strip_prefix(':')?;
        if rest.is_empty() || rest.starts_with(' ') {
            return Some((key, rest.trim_start()));
        }
        return None;
    }
    if matches!(
        first,
        b'[' | b'{' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`'
    ) {
        return None;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':'
            && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t')
        {
            let key = s[..i].trim_end().to_owned();
            return Some((key, s[i + 1..].trim_start()));
        }
        if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b'#') {
            return None;
        }
        i += 1;
    }
    None
}

/// Whether a value text opens a block scalar (`|`, `>-`, `|2+` …).
fn opens_block_scalar(rest: &str) -> bool {
    let v = rest.split(" #").next().unwrap_or("").trim();
    (v.starts_with('|') || v.starts_with('>'))
        && v[1..].chars().all(|c| matches!(c, '-' | '+' | '0'..='9'))
}

/// Whether the rest of a `key:` line is empty (a nested block follows) — comments aside.
fn is_empty_value(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with('#')
}

impl PosIndex {
    /// Indexes `text` (one YAML document).
    pub(crate) fn build(text: &str) -> Self {
        let mut map = HashMap::new();
        let mut frames: Vec<Frame> = Vec::new();
        // Path of the last key whose value is a nested block.
        let mut pending: Option<(String, usize)> = None;
        let mut scalar_indent: Option<usize> = None;
        for (lineno, raw) in text.lines().enumerate() {
            let line_no = u32::try_from(lineno + 1).unwrap_or(u32::MAX);
            let line = raw.trim_end();
            let indent = line.len() - line.trim_start_matches(' ').len();
            let content = &line[indent..];
            if let Some(si) = scalar_indent {
                if content.is_empty() || indent > si {
                    continue;
                }
                scalar_indent = None;
            }
            if content.is_empty()
                || content.starts_with('#')
                || content == "---"
                || content == "..."
            {
                continue;
            }
            let mut col = indent;
            let mut rest = content;
            // Close frames that end before this line.
            while let Some(top) = frames.last() {
                let is_item = rest == "-" || rest.starts_with("- ");
                let pop = top.indent() > col
                    || (top.indent() == col && matches!(top, Frame::Seq { .. }) && !is_item);
                if pop {
                    frames.pop();
                } else {
                    break;
                }
            }
            loop {
                let is_item = rest == "-" || rest.starts_with("- ");
                if is_item {
                    // A sequence item at `col`.
                    let item_path = match frames.last_mut() {
                        Some(Frame::Seq { indent, path, next }) if *indent == col => {
                            let p = format!("{path}[{next}]");
                            *next += 1;
                            p
                        }
                        _ => {
                            let parent = pending.take().map(|(p, _)| p).unwrap_or_default();
                            let p = format!("{parent}[0]");
                            frames.push(Frame::Seq {
                                indent: col,
                                path: parent,
                                next: 1,
                            });
                            p
                        }
                    };
                    map.entry(item_path.clone())
                        .or_insert((line_no, u32::try_from(col + 1).unwrap_or(u32::MAX)));
                    let after = rest[1..].trim_start_matches(' ');
                    let skipped = rest.len() - after.len();
                    if after.is_empty() {
                        pending = Some((item_path, col));
                        break;
                    }
                    col += skipped;
                    rest = after;
                    pending = Some((item_path, col));
                    // The item's content starts a new context at `col`.
                    if rest == "-" || rest.starts_with("- ") {
                        continue;
                    }
                    if split_key(rest).is_some() {
                        let parent = pending.take().map(|(p, _)| p).unwrap_or_default();
                        frames.push(Frame::Map {
                            indent: col,
                            path: parent,
                        });
                    } else {
                        pending = None;
                        break;
                    }
                    continue;
                }
                let Some((key, value)) = split_key(rest) else {
                    pending = None;
                    break;
                };
                // Which mapping does this key belong to?
                let parent = match frames.last() {
                    Some(Frame::Map { indent, path }) if *indent == col => path.clone(),
                    _ => {
                        let parent = match &pending {
                            Some((p, pi)) if *pi <= col => p.clone(),
                            _ => String::new(),
                        };
                        frames.push(Frame::Map {
                            indent: col,
                            path: parent.clone(),
                        });
                        parent
                    }
                };
                let path = join(&parent, &key);
                map.entry(path.clone())
                    .or_insert((line_no, u32::try_from(col + 1).unwrap_or(u32::MAX)));
                if opens_block_scalar(value) {
                    scalar_indent = Some(col);
                    pending = None;
                } else if is_empty_value(value) {
                    pending = Some((path, col));
                } else {
                    pending = None;
                }
                break;
            }
        }
        Self { map }
    }

    /// The position of `path`, or of its nearest indexed ancestor.
    pub(crate) fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.map.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// The position of exactly `path`, if indexed.
    #[cfg(test)]
    pub(crate) fn exact(&self, path: &str) -> Option<Pos> {
        self.map.get(path).copied()
    }
}

/// The deepest nesting a header or `proofgate.yaml` may have: flow collections (`[`, `{`)
/// and block levels (indentation, `- ` items) together. Real files stay under 10.
pub(crate) const MAX_DEPTH: usize = 64;

/// Why a YAML text was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooDeep {
    /// 1-based line and column of the bracket or key that went one level too deep.
    pub(crate) at: Pos,
}

impl TooDeep {
    /// The sentence for a finding.
    pub(crate) fn message(&self) -> String {
        format!(
            "it nests more than {MAX_DEPTH} levels deep (flow `[`/`{{` and indentation together); \
             flatten it"
        )
    }
}

fn column(line: &str, byte: usize) -> u32 {
    u32::try_from(line[..byte].chars().count() + 1).unwrap_or(u32::MAX)
}

/// A linear scan that refuses YAML nested more than [`MAX_DEPTH`] levels deep, so the
/// parser (quadratic on deeply nested flow sequences) never sees it. Quoted scalars,
/// comments and block scalars are skipped; an unbalanced bracket in a plain scalar counts
/// as a level, which errs on the side of refusing.
pub(crate) fn check_depth(text: &str) -> Result<(), TooDeep> {
    let mut flow = 0usize;
    // Indentations of the open block levels, innermost last.
    let mut blocks: Vec<usize> = Vec::new();
    let mut block_scalar: Option<usize> = None;
    let mut quote: Option<u8> = None;
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let lineno = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();
        if let Some(bi) = block_scalar {
            if body.is_empty() || indent > bi {
                continue;
            }
            block_scalar = None;
        }
        if quote.is_none() && flow == 0 && !body.is_empty() && !body.starts_with('#') {
            while blocks.last().is_some_and(|&b| b >= indent) {
                blocks.pop();
            }
            blocks.push(indent);
            // `- - - x`: every dash opens one more level.
            let mut rest = &line[indent..];
            let mut col = indent;
            while let Some(r) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("-\t")) {
                col += 2;
                blocks.push(col);
                rest = r.trim_start_matches([' ', '\t']);
            }
            if blocks.len() > MAX_DEPTH {
                return Err(TooDeep {
                    at: (lineno, column(line, indent)),
                });
            }
        }
        let bytes = line.as_bytes();
        let mut prev: Option<u8> = None;
        // The last non-blank byte before `i` on this line: a quote opens a scalar only
        // where a value starts, never inside a plain scalar (`don't`).
        let mut last: Option<u8> = None;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(b'"') => {
                    if b == b'\\' {
                        i += 1;
                    } else if b == b'"' {
                        quote = None;
                    }
                }
                Some(_) => {
                    if b == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            quote = None;
                        }
                    }
                }
                None => match b {
                    b'#' if matches!(prev, None | Some(b' ' | b'\t')) => break,
                    b'"' | b'\''
                        if matches!(last, None | Some(b':' | b'-' | b'?' | b'[' | b'{' | b',')) =>
                    {
                        quote = Some(b);
                    }
                    b'[' | b'{' => {
                        flow += 1;
                        if flow + blocks.len() > MAX_DEPTH {
                            return Err(TooDeep {
                                at: (lineno, column(line, i)),
                            });
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = Some(b);
            if !matches!(b, b' ' | b'\t') {
                last = Some(b);
            }
            i += 1;
        }
        if quote.is_none() && flow == 0 {
            let value = body.split(" #").next().unwrap_or("").trim_end();
            let tail = value.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
            if (tail.ends_with('|') || tail.ends_with('>'))
                && (tail.len() == 1 || tail[..tail.len() - 1].ends_with([' ', ':']))
            {
                block_scalar = Some(indent);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_are_indexed_with_their_columns() {
        let y = "id: x\ntest:\n  runner: pytest\n  evidence: cii\nrisk_profile:\n  production_impact: low\n";
        let ix = PosIndex::build(y);
        assert_eq!(ix.exact("id"), Some((1, 1)));
        assert_eq!(ix.exact("test.evidence"), Some((4, 3)));
        assert_eq!(ix.exact("risk_profile.production_impact"), Some((6, 3)));
    }

    #[test]
    fn sequences_of_mappings_are_indexed() {
        let y = "scripts:\n  declared:\n    - path: a.tf\n      id: a\n    - path: b.tf\n      owner: z\nselectors:\n  a:\n  - tests/x.py\n  - name:foo\n";
        let ix = PosIndex::build(y);
        assert_eq!(ix.exact("scripts.declared[0].path"), Some((3, 7)));
        assert_eq!(ix.exact("scripts.declared[0].id"), Some((4, 7)));
        assert_eq!(ix.exact("scripts.declared[1].owner"), Some((6, 7)));
        assert_eq!(ix.exact("selectors.a[1]"), Some((10, 3)));
    }

    #[test]
    fn block_scalars_and_comments_are_skipped() {
        let y = "a: |\n  b: not a key\n# c: no\nd: 1\n";
        let ix = PosIndex::build(y);
        assert_eq!(ix.exact("a.b"), None);
        assert_eq!(ix.exact("d"), Some((4, 1)));
    }

    proptest::proptest! {
        #[test]
        fn the_index_never_panics(text in "[ a-z:#|>'\"{}\\[\\]\\-\n]{0,200}") {
            let ix = PosIndex::build(&text);
            let _ = ix.find("a.b[0].c");
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_with_its_position() {
        let ok = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(check_depth(&ok), Ok(()));
        let deep = format!("id: x\nb: {}\n", "[".repeat(200_000));
        let e = check_depth(&deep).unwrap_err();
        assert_eq!(e.at.0, 2);
        assert!(e.message().contains("64 levels"), "{}", e.message());
        let mixed = format!("a: {}\n", "{x: [".repeat(40));
        assert!(check_depth(&mixed).is_err());
    }

    #[test]
    fn deep_block_nesting_is_refused_but_scalars_and_comments_do_not_count() {
        let mut deep = String::new();
        for i in 0..(MAX_DEPTH + 2) {
            deep.push_str(&" ".repeat(i));
            deep.push_str("k:\n");
        }
        assert!(check_depth(&deep).is_err());
        let dashes = format!("a:\n{}x\n", "- ".repeat(MAX_DEPTH + 1));
        assert!(check_depth(&dashes).is_err());
        let quoted = format!(
            "a: \"{0}\"\nb: '{0}'\nc: |\n  {0}\n# {0}\nd: 1\n",
            "[".repeat(500)
        );
        assert_eq!(check_depth(&quoted), Ok(()));
        let header = "id: x\ntest:\n  runner: pytest\n  command: pytest tests/a.py::t[1]\n  selectors: [a, {b: [c]}]\n";
        assert_eq!(check_depth(header), Ok(()));
        // A quote inside a plain scalar opens nothing: what follows is still counted.
        let hidden = format!("a: don't 'x\nb: {}\n", "[".repeat(MAX_DEPTH + 1));
        assert!(check_depth(&hidden).is_err());
    }

    #[test]
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let ix = PosIndex::build("test: {runner: x}\n");
        assert_eq!(ix.find("test.runner"), Some((1, 1)));
        assert_eq!(ix.find("nothing"), None);
    }
}

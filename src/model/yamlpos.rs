//! Positions of keys in block-style YAML, for error messages.
//!
//! `serde_yaml_ng` values carry no spans, so this scanner indexes the keys of block
//! mappings and the items of block sequences by their path (`test.evidence`,
//! `scripts.declared[1].owner`) with 1-based line and column. Flow collections
//! (`{a: 1}`, `[x, y]`) are not entered: their keys resolve to the enclosing key.

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
    fn unknown_paths_fall_back_to_the_nearest_ancestor() {
        let ix = PosIndex::build("test: {runner: x}\n");
        assert_eq!(ix.find("test.runner"), Some((1, 1)));
        assert_eq!(ix.find("nothing"), None);
    }
}

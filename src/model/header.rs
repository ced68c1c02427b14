//! Script headers: finding the YAML block inside a script and turning it into a typed
//! [`Header`], with findings that point at the script's own lines and columns.
//!
//! Three forms are understood (the first that matches wins):
//! - **front matter** (`.md`, `.markdown`, `.yaml`, `.yml`): the file starts with a `---`
//!   line; the header runs to the next `---` (or `...`) line;
//! - **Python docstring** (`.py` files, or a `python` shebang): the first line that is
//!   not blank, not a comment and not the shebang ends with `"""`, and the next non-blank line is `---`; the header runs to the
//!   next `---` line (goldenpath's `"""\s*\n---\n(.*?)\n---` rule);
//! - **comment block**: in the file's leading comment lines (shebang, blank and `#` lines),
//!   a `# ---` line opens the header and the next `# ---` line closes it; every line in
//!   between is a comment whose `#` (after optional indentation) and one optional space are
//!   removed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

/// How a header is written in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderFormat {
    /// `"""` + `---` … `---` in a Python docstring.
    Docstring,
    /// `# ---` … `# ---` comment lines.
    Comment,
    /// `---` … `---` at the top of a Markdown or YAML file.
    FrontMatter,
    /// An entry under `scripts.declared` in `proofgate.yaml`.
    Config,
}

/// The YAML text of a header and where each of its lines sits in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawHeader {
    /// The header's YAML, delimiters and comment prefixes removed.
    pub yaml: String,
    /// 1-based line of the opening delimiter in the file.
    pub start_line: u32,
    /// For each YAML line: its 1-based file line and how many bytes precede it there
    /// (the comment prefix), so a YAML column maps to `column + offset`.
    pub lines: Vec<(u32, u32)>,
    /// The form the header was written in.
    pub format: HeaderFormat,
}

impl RawHeader {
    /// Maps a 1-based YAML position to the file's 1-based line and column.
    pub fn file_pos(&self, line: u32, column: u32) -> (u32, u32) {
        match line.checked_sub(1).and_then(|i| self.lines.get(i as usize)) {
            Some(&(l, off)) => (l, column.saturating_add(off)),
            None => (self.start_line, 1),
        }
    }
}

/// What [`extract`] found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extracted {
    /// No header.
    None,
    /// A complete header.
    Header(RawHeader),
    /// A header was opened on `line` but never closed.
    Unclosed {
        /// 1-based line of the opening delimiter.
        line: u32,
        /// The form that was opened.
        format: HeaderFormat,
    },
}

fn lineno(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

/// Strips `\s*# ?` from a comment line; returns the byte offset of the content.
fn comment_content(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    let rest = trimmed.strip_prefix('#')?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    Some((line.len() - rest.len(), rest))
}

/// Finds the header in a script's bytes. `path` (repo-relative) picks front matter for
/// Markdown and YAML files. Never panics, whatever the bytes.
pub fn extract(path: &str, bytes: &[u8]) -> Extracted {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let lower = path.to_ascii_lowercase();
    if [".md", ".markdown", ".yaml", ".yml"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return front_matter(&lines);
    }
    let python = [".py", ".pyw", ".pyi"].iter().any(|e| lower.ends_with(e))
        || lines
            .first()
            .is_some_and(|l| l.starts_with("#!") && l.contains("python"));
    // The leading region: shebang, blank lines and comments, then the first other line.
    let mut comment_open: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if i == 0 && t.starts_with("#!") {
            continue;
        }
        if t.is_empty() {
            continue;
        }
        if let Some((_, c)) = comment_content(line) {
            if c.trim_end() == "---" {
                comment_open = Some(i);
                break;
            }
            continue;
        }
        // First non-comment line: a docstring header (Python only)? `"""` then `---` on
        // the next non-blank line, or both on one line (`"""---`, as pydocstyle's D212
        // fix writes it).
        if python && (t.ends_with("\"\"\"") || t == "\"\"\"---") {
            let mut j = i;
            if t != "\"\"\"---" {
                j += 1;
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
            }
            if j < lines.len() && (j == i || lines[j].trim_end() == "---") {
                let mut out = Vec::new();
                for (k, l) in lines.iter().enumerate().skip(j + 1) {
                    if l.trim_end() == "---" {
                        return Extracted::Header(build(out, lineno(j), HeaderFormat::Docstring));
                    }
                    if l.contains("\"\"\"") {
                        break;
                    }
                    out.push((k, 0usize, *l));
                }
                return Extracted::Unclosed {
                    line: lineno(j),
                    format: HeaderFormat::Docstring,
                };
            }
        }
        break;
    }
    let Some(open) = comment_open else {
        return Extracted::None;
    };
    let mut out = Vec::new();
    for (k, l) in lines.iter().enumerate().skip(open + 1) {
        let Some((off, c)) = comment_content(l) else {
            break;
        };
        let c = c.trim_end();
        if c == "---" {
            return Extracted::Header(build(out, lineno(open), HeaderFormat::Comment));
        }
        out.push((k, off, c));
    }
    Extracted::Unclosed {
        line: lineno(open),
        format: HeaderFormat::Comment,
    }
}

fn front_matter(lines: &[&str]) -> Extracted {
    if lines.first().map(|l| l.trim_end()) != Some("---") {
        return Extracted::None;
    }
    let mut out = Vec::new();
    for (k, l) in lines.iter().enumerate().skip(1) {
        let t = l.trim_end();
        if t == "---" || t == "..." {
            return Extracted::Header(build(out, 1, HeaderFormat::FrontMatter));
        }
        out.push((k, 0, *l));
    }
    Extracted::Unclosed {
        line: 1,
        format: HeaderFormat::FrontMatter,
    }
}

fn build(lines: Vec<(usize, usize, &str)>, start_line: u32, format: HeaderFormat) -> RawHeader {
    let mut yaml = String::new();
    let mut map = Vec::with_capacity(lines.len());
    for (k, off, l) in lines {
        yaml.push_str(l);
        yaml.push('\n');
        map.push((lineno(k), u32::try_from(off).unwrap_or(u32::MAX)));
    }
    RawHeader {
        yaml,
        start_line,
        lines: map,
        format,
    }
}

/// The evidence a script's tests must leave before it counts as tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// A person tested it; allowed only where the risk profile permits.
    Manual,
    /// The declared test files exist (not proven by CI).
    Declared,
    /// A passing CI proof exists for the script's content.
    Ci,
}

impl Evidence {
    /// Every value, in the order goldenpath lists them in error messages.
    pub const ALL: [Evidence; 3] = [Evidence::Manual, Evidence::Declared, Evidence::Ci];

    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Evidence::Manual => "manual",
            Evidence::Declared => "declared",
            Evidence::Ci => "ci",
        }
    }
}

/// A level of risk (goldenpath's `none | low | medium | high`; `coupling_risk` has no
/// `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    /// No impact.
    None,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl Impact {
    /// Every value, lowest first.
    pub const ALL: [Impact; 4] = [Impact::None, Impact::Low, Impact::Medium, Impact::High];

    /// The lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Low => "low",
            Impact::Medium => "medium",
            Impact::High => "high",
        }
    }
}

macro_rules! str_enum {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        format!(
                            "{s:?} is not one of {}",
                            Self::ALL.map(|v| v.as_str()).join(", ")
                        )
                    })
            }
        }
    };
}
str_enum!(Evidence);
str_enum!(Impact);

/// The `test` block of a header.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TestSpec {
    /// `pytest`, `bats`, `shellcheck`, `custom` (plus runners allowed in `proofgate.yaml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// The command that runs the tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The evidence required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// Whether the tests must run on pull requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_on_pr: Option<bool>,
    /// Explicit test selectors (a proofgate extension), as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
    /// Keys proofgate does not know, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `dry_run` block of a header.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DryRun {
    /// Whether the script supports a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported: Option<bool>,
    /// How to run it dry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_hint: Option<String>,
    /// Keys proofgate does not know, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `risk_profile` block of a header.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RiskProfile {
    /// What breaks in production if the script misbehaves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_impact: Option<Impact>,
    /// Security exposure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_risk: Option<Impact>,
    /// How coupled the script is to other systems (`low | medium | high`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupling_risk: Option<Impact>,
    /// Keys proofgate does not know, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A script's header, typed. Values that failed validation are `None` (a finding says
/// why); unknown keys are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Header {
    /// The id as written (see [`crate::model::Script::id`] for the validated one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `type` (goldenpath: `script`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The owning team.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `active` or `deprecated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Maturity 0–3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maturity: Option<u8>,
    /// How the script is tested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<TestSpec>,
    /// Dry-run support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<DryRun>,
    /// Risk profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_profile: Option<RiskProfile>,
    /// Keys proofgate does not know, kept as written.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The enums a header is checked against (goldenpath's, extended by `proofgate.yaml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Allowed {
    /// Allowed `type` values.
    pub types: Vec<String>,
    /// Allowed `owner` values.
    pub owners: Vec<String>,
    /// Allowed `status` values.
    pub statuses: Vec<String>,
    /// Allowed `test.runner` values.
    pub runners: Vec<String>,
}

impl Default for Allowed {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect();
        Self {
            types: v(&["script"]),
            owners: v(&["platform-team", "app-team", "security-team"]),
            statuses: v(&["active", "deprecated"]),
            runners: v(&["pytest", "bats", "shellcheck", "custom"]),
        }
    }
}

/// A problem found while validating a header: key path, message, error or warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issue {
    pub key: String,
    pub code: &'static str,
    pub message: String,
    pub warning: bool,
}

/// A short name for a YAML value's kind, for "expected …, found …" messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Renders a scalar for a message: strings quoted, others as YAML would write them.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_owned(),
    }
}

pub(crate) struct Checker<'a> {
    pub issues: Vec<Issue>,
    pub allowed: &'a Allowed,
}

/// The type checks the header checker and the `proofgate.yaml` checker share: a value of
/// the wrong type is a `bad-type` error at its key, reported through [`TypeCheck::err`].
pub(crate) trait TypeCheck {
    /// Records an error at `key`.
    fn err(&mut self, key: &str, code: &'static str, message: String);

    fn string(&mut self, key: &str, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.err(
                    key,
                    "bad-type",
                    format!("expected a string, found {}", kind_of(other)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.err(
                    key,
                    "bad-type",
                    format!("expected true or false, found {}", show(other)),
                );
                None
            }
        }
    }

    fn mapping<'v>(&mut self, key: &str, v: &'v Value) -> Option<&'v serde_yaml_ng::Mapping> {
        match v {
            Value::Mapping(m) => Some(m),
            other => {
                self.err(
                    key,
                    "bad-type",
                    format!("expected a mapping, found {}", kind_of(other)),
                );
                None
            }
        }
    }
}

impl TypeCheck for Checker<'_> {
    fn err(&mut self, key: &str, code: &'static str, message: String) {
        self.issues.push(Issue {
            key: key.to_owned(),
            code,
            message: format!("{key}: {message}"),
            warning: false,
        });
    }
}

impl<'a> Checker<'a> {
    fn warn(&mut self, key: &str, code: &'static str, message: String) {
        self.issues.push(Issue {
            key: key.to_owned(),
            code,
            message: format!("{key}: {message}"),
            warning: true,
        });
    }

    /// A value from one of the `allowed` lists; `list` names the list (`owners`) so the
    /// message can say where to add a new value.
    fn one_of(
        &mut self,
        key: &str,
        v: &Value,
        allowed: &'a [String],
        list: &str,
    ) -> Option<String> {
        let s = self.string(key, v)?;
        if allowed.contains(&s) {
            Some(s)
        } else {
            self.err(
                key,
                "bad-value",
                format!(
                    "{s:?} is not one of {}; to allow it, add it to `allowed.{list}` in proofgate.yaml",
                    allowed.join(", ")
                ),
            );
            None
        }
    }

    fn parsed<T: FromStr<Err = String>>(&mut self, key: &str, v: &Value) -> Option<T> {
        let s = self.string(key, v)?;
        match s.parse() {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(key, "bad-value", e);
                None
            }
        }
    }

    fn impact(&mut self, key: &str, v: &Value, allow_none: bool) -> Option<Impact> {
        let i: Impact = self.parsed(key, v)?;
        if !allow_none && i == Impact::None {
            self.err(
                key,
                "bad-value",
                "\"none\" is not one of low, medium, high".into(),
            );
            return None;
        }
        Some(i)
    }

    fn require(&mut self, parent: &str, present: &[&str], required: &[&str]) {
        for r in required {
            if !present.contains(r) {
                let key = if parent.is_empty() {
                    (*r).to_owned()
                } else {
                    format!("{parent}.{r}")
                };
                self.err(&key, "missing-key", "required key is missing".into());
            }
        }
    }

    /// Validates a header mapping. `skip` names top-level keys the caller handles (`path`
    /// for scripts declared in `proofgate.yaml`).
    pub(crate) fn header(&mut self, v: &Value, prefix: &str, skip: &[&str]) -> Header {
        let mut h = Header::default();
        let Some(m) = self
            .mapping(prefix.trim_end_matches('.'), v)
            .filter(|_| true)
        else {
            return h;
        };
        let mut present = Vec::new();
        for (k, val) in m {
            let Some(k) = k.as_str() else {
                self.err(
                    prefix.trim_end_matches('.'),
                    "bad-type",
                    format!("keys must be strings, found {}", kind_of(k)),
                );
                continue;
            };
            let key = format!("{prefix}{k}");
            match k {
                "id" => {
                    present.push("id");
                    h.id = self.string(&key, val);
                    if let Some(id) = &h.id
                        && !super::ScriptId::is_valid(id)
                    {
                        self.err(
                                &key,
                                "bad-id",
                                format!("{id:?} is not a valid id: use 1 to 128 of A-Z a-z 0-9 . _ - starting with a letter or digit"),
                            );
                    }
                }
                "type" => {
                    present.push("type");
                    let allowed = &self.allowed.types;
                    h.kind = self.one_of(&key, val, allowed, "types");
                }
                "owner" => {
                    present.push("owner");
                    let allowed = &self.allowed.owners;
                    h.owner = self.one_of(&key, val, allowed, "owners");
                }
                "status" => {
                    present.push("status");
                    let allowed = &self.allowed.statuses;
                    h.status = self.one_of(&key, val, allowed, "statuses");
                }
                "maturity" => {
                    h.maturity = match val.as_u64() {
                        Some(n) if n <= 3 => Some(n as u8),
                        _ => {
                            self.err(
                                &key,
                                "bad-value",
                                format!("{} is not one of 0, 1, 2, 3", show(val)),
                            );
                            None
                        }
                    };
                }
                "test" => {
                    present.push("test");
                    h.test = self.test(&key, val);
                }
                "dry_run" => {
                    present.push("dry_run");
                    h.dry_run = self.dry_run(&key, val);
                }
                "risk_profile" => {
                    present.push("risk_profile");
                    h.risk_profile = self.risk(&key, val);
                }
                other if skip.contains(&other) => {}
                other => {
                    self.warn(&key, "unknown-key", "unknown key, kept as written".into());
                    h.extra.insert(other.to_owned(), val.clone());
                }
            }
        }
        self.require(
            prefix.trim_end_matches('.'),
            &present,
            &[
                "id",
                "type",
                "owner",
                "status",
                "test",
                "dry_run",
                "risk_profile",
            ],
        );
        h
    }

    fn test(&mut self, key: &str, v: &Value) -> Option<TestSpec> {
        let m = self.mapping(key, v)?;
        let mut t = TestSpec::default();
        let mut present = Vec::new();
        for (k, val) in m {
            let Some(k) = k.as_str() else { continue };
            let sub = format!("{key}.{k}");
            match k {
                "runner" => {
                    present.push("runner");
                    let allowed = &self.allowed.runners;
                    t.runner = self.one_of(&sub, val, allowed, "runners");
                }
                "command" => {
                    present.push("command");
                    t.command = self.string(&sub, val);
                    if let Some(c) = &t.command
                        && c.trim().chars().count() < 5
                    {
                        self.err(
                            &sub,
                            "bad-value",
                            format!("{c:?} is too short to be a command (at least 5 characters)"),
                        );
                    }
                }
                "evidence" => {
                    present.push("evidence");
                    t.evidence = self.parsed(&sub, val);
                }
                "required_on_pr" => t.required_on_pr = self.boolean(&sub, val),
                "selectors" => match val {
                    Value::Sequence(items) => {
                        for (i, it) in items.iter().enumerate() {
                            if let Some(s) = self.string(&format!("{sub}[{i}]"), it) {
                                t.selectors.push(s);
                            }
                        }
                    }
                    other => self.err(
                        &sub,
                        "bad-type",
                        format!("expected a list of selectors, found {}", kind_of(other)),
                    ),
                },
                other => {
                    self.warn(&sub, "unknown-key", "unknown key, kept as written".into());
                    t.extra.insert(other.to_owned(), val.clone());
                }
            }
        }
        self.require(key, &present, &["runner", "command", "evidence"]);
        Some(t)
    }

    fn dry_run(&mut self, key: &str, v: &Value) -> Option<DryRun> {
        let m = self.mapping(key, v)?;
        let mut d = DryRun::default();
        let mut present = Vec::new();
        for (k, val) in m {
            let Some(k) = k.as_str() else { continue };
            let sub = format!("{key}.{k}");
            match k {
                "supported" => {
                    present.push("supported");
                    d.supported = self.boolean(&sub, val);
                }
                "command_hint" => d.command_hint = self.string(&sub, val),
                other => {
                    self.warn(&sub, "unknown-key", "unknown key, kept as written".into());
                    d.extra.insert(other.to_owned(), val.clone());
                }
            }
        }
        self.require(key, &present, &["supported"]);
        Some(d)
    }

    fn risk(&mut self, key: &str, v: &Value) -> Option<RiskProfile> {
        let m = self.mapping(key, v)?;
        let mut r = RiskProfile::default();
        let mut present = Vec::new();
        for (k, val) in m {
            let Some(k) = k.as_str() else { continue };
            let sub = format!("{key}.{k}");
            match k {
                "production_impact" => {
                    present.push("production_impact");
                    r.production_impact = self.impact(&sub, val, true);
                }
                "security_risk" => {
                    present.push("security_risk");
                    r.security_risk = self.impact(&sub, val, true);
                }
                "coupling_risk" => {
                    present.push("coupling_risk");
                    r.coupling_risk = self.impact(&sub, val, false);
                }
                other => {
                    self.warn(&sub, "unknown-key", "unknown key, kept as written".into());
                    r.extra.insert(other.to_owned(), val.clone());
                }
            }
        }
        self.require(
            key,
            &present,
            &["production_impact", "security_risk", "coupling_risk"],
        );
        Some(r)
    }
}

/// Splits a `serde_yaml_ng` error into its message (without the position suffix) and its
/// 1-based position.
pub(crate) fn yaml_error_parts(e: &serde_yaml_ng::Error) -> (String, Option<(u32, u32)>) {
    yaml_error_parts_mapped(e, |l, c| (l, c))
}

/// Like [`yaml_error_parts`], with every `at line L column C` inside the message rewritten
/// as `at L:C` through `map` (YAML position → file position); the final one is removed.
pub(crate) fn yaml_error_parts_mapped(
    e: &serde_yaml_ng::Error,
    map: impl Fn(u32, u32) -> (u32, u32),
) -> (String, Option<(u32, u32)>) {
    let full = e.to_string();
    let mut msg = String::new();
    let mut rest = full.as_str();
    while let Some(i) = rest.find(" at line ") {
        msg.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let mut parts = after.splitn(3, ' ');
        let line = parts.next().and_then(|l| l.parse::<u32>().ok());
        let word = parts.next();
        let tail = parts.next().unwrap_or("");
        let col_len = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let col = tail[..col_len].parse::<u32>().ok();
        match (line, word, col) {
            (Some(l), Some("column"), Some(c)) => {
                let (fl, fc) = map(l, c);
                msg.push_str(&format!(" at {fl}:{fc}"));
                rest = &tail[col_len..];
            }
            _ => {
                msg.push_str(" at line ");
                rest = after;
            }
        }
    }
    msg.push_str(rest);
    let pos = e.location().map(|l| {
        map(
            u32::try_from(l.line()).unwrap_or(u32::MAX),
            u32::try_from(l.column()).unwrap_or(u32::MAX),
        )
    });
    // The finding carries the error's own position: drop it from the sentence.
    if let Some((l, c)) = pos {
        let own = format!(" at {l}:{c}");
        if let Some(i) = msg.find(&own) {
            msg.replace_range(i..i + own.len(), "");
        }
    }
    (msg, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(x: Extracted) -> RawHeader {
        match x {
            Extracted::Header(h) => h,
            other => panic!("no header: {other:?}"),
        }
    }

    #[test]
    fn docstring_header_after_shebang_and_comment() {
        let src = "# AGENT_CONTEXT: x\n#!/usr/bin/env python3\n\"\"\"\n---\nid: a\ntest:\n  runner: pytest\n---\nPurpose\n\"\"\"\n";
        let h = header(extract("scripts/a.py", src.as_bytes()));
        assert_eq!(h.format, HeaderFormat::Docstring);
        assert_eq!(h.yaml, "id: a\ntest:\n  runner: pytest\n");
        assert_eq!(h.start_line, 4);
        assert_eq!(h.file_pos(3, 3), (7, 3));
    }

    #[test]
    fn docstring_header_on_the_opening_line_is_the_same_header() {
        let split = "#!/usr/bin/env python3\n\"\"\"\n---\nid: a\nowner: x\n---\nPurpose\n\"\"\"\n";
        let joined = "#!/usr/bin/env python3\n\"\"\"---\nid: a\nowner: x\n---\nPurpose\n\"\"\"\n";
        let a = header(extract("scripts/a.py", split.as_bytes()));
        let b = header(extract("scripts/a.py", joined.as_bytes()));
        assert_eq!(b.format, HeaderFormat::Docstring);
        assert_eq!(a.yaml, b.yaml);
        assert_eq!(b.start_line, 2);
        assert_eq!(b.file_pos(2, 1), (4, 1));
        let unclosed = "\"\"\"---\nid: a\n\"\"\"\n";
        assert_eq!(
            extract("a.py", unclosed.as_bytes()),
            Extracted::Unclosed {
                line: 1,
                format: HeaderFormat::Docstring
            }
        );
    }

    #[test]
    fn comment_header_maps_columns_through_the_prefix() {
        let src = "#!/usr/bin/env bash\n# ---\n# id: b\n# test:\n#   runner: bats\n#---\nset -e\n";
        let h = header(extract("scripts/b.sh", src.as_bytes()));
        assert_eq!(h.format, HeaderFormat::Comment);
        assert_eq!(h.yaml, "id: b\ntest:\n  runner: bats\n");
        assert_eq!(h.file_pos(3, 3), (5, 5));
        assert_eq!(h.start_line, 2);
    }

    #[test]
    fn comment_without_space_after_hash_is_accepted() {
        let src = "#---\n#id: c\n#---\n";
        let h = header(extract("x.sh", src.as_bytes()));
        assert_eq!(h.yaml, "id: c\n");
        assert_eq!(h.file_pos(1, 1), (2, 2));
    }

    #[test]
    fn front_matter_for_markdown_and_yaml() {
        let h = header(extract("runbook.md", b"---\nid: d\n---\n# Title\n"));
        assert_eq!(h.format, HeaderFormat::FrontMatter);
        assert_eq!(h.yaml, "id: d\n");
        assert_eq!(extract("notes.md", b"# Title\n---\n"), Extracted::None);
    }

    #[test]
    fn unclosed_headers_are_reported_with_their_opening_line() {
        assert_eq!(
            extract("x.sh", b"#!/bin/sh\n# ---\n# id: x\necho hi\n"),
            Extracted::Unclosed {
                line: 2,
                format: HeaderFormat::Comment
            }
        );
        assert_eq!(
            extract("x.py", b"\"\"\"\n---\nid: x\n\"\"\"\n"),
            Extracted::Unclosed {
                line: 2,
                format: HeaderFormat::Docstring
            }
        );
    }

    #[test]
    fn code_before_the_header_means_no_header() {
        assert_eq!(
            extract("x.sh", b"set -e\n# ---\n# id: x\n# ---\n"),
            Extracted::None
        );
        assert_eq!(
            extract("x.py", b"import os\n\"\"\"\n---\nid: x\n---\n\"\"\"\n"),
            Extracted::None
        );
    }

    #[test]
    fn crlf_and_bom_are_tolerated() {
        let h = header(extract(
            "x.py",
            b"\xef\xbb\xbf\"\"\"\r\n---\r\nid: e\r\n---\r\n\"\"\"\r\n",
        ));
        assert_eq!(h.yaml, "id: e\n");
    }

    #[test]
    fn enums_parse_and_explain_themselves() {
        assert_eq!("ci".parse::<Evidence>(), Ok(Evidence::Ci));
        assert_eq!(
            "cii".parse::<Evidence>().unwrap_err(),
            "\"cii\" is not one of manual, declared, ci"
        );
        assert_eq!("none".parse::<Impact>(), Ok(Impact::None));
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn extractor_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = extract("x.py", &bytes);
                let _ = extract("x.sh", &bytes);
                let _ = extract("x.md", &bytes);
            }

            #[test]
            fn extractor_never_panics_on_header_like_text(
                lines in proptest::collection::vec(prop_oneof![
                    Just("---".to_owned()), Just("# ---".to_owned()), Just("\"\"\"".to_owned()),
                    Just("#!/bin/sh".to_owned()), Just("".to_owned()), "[ -~]{0,12}",
                    "# [ -~]{0,12}", "\\PC{0,6}",
                ], 0..24)
            ) {
                let text = lines.join("\n");
                for p in ["x.py", "x.sh", "x.yaml"] {
                    if let Extracted::Header(h) = extract(p, text.as_bytes()) {
                        prop_assert_eq!(h.lines.len(), h.yaml.lines().count());
                        let pos = crate::model::yamlpos::PosIndex::build(&h.yaml);
                        if let Ok(v) = serde_yaml_ng::from_str::<Value>(&h.yaml) {
                            let allowed = Allowed::default();
                            let mut c = Checker { issues: Vec::new(), allowed: &allowed };
                            let _ = c.header(&v, "", &[]);
                            for i in &c.issues {
                                let (l, col) = pos.find(&i.key).unwrap_or((1, 1));
                                let _ = h.file_pos(l, col);
                            }
                        }
                    }
                }
            }
        }
    }
}

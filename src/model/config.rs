//! `proofgate.yaml`: where scripts live, scripts declared without a header, explicit
//! selectors, extra allowed values, trusted keys and policy knobs. Every key is checked;
//! an unknown key is an error with its line and column.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

use super::header::{Allowed, Impact, TypeCheck, kind_of, show, yaml_error_parts};
use super::yamlpos::PosIndex;
use super::{Finding, Severity};

/// A public key whose signatures the gate trusts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustedKey {
    /// A label for reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The key as written: base64 of the raw 32-byte ed25519 key, or a PEM
    /// `PUBLIC KEY` (SPKI) block.
    pub public_key: String,
}

/// Whether a proof from an earlier commit may stand in for the commit under test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reuse {
    /// Only proofs for the commit under test count.
    #[default]
    Off,
    /// A proof for an earlier commit counts when the script and test digests are equal.
    SameContent,
}

/// What a flaky test (failed, then passed on a retry) means for the gate. Ordered from
/// the loosest to the strictest, so that the gate can take the stricter of the base's and
/// the change's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlakyPolicy {
    /// A flaky test counts as passed, silently (`allow`; `pass` is read as this).
    Allow,
    /// A flaky test counts as passed, and the gate says so as a warning (`warn`).
    #[default]
    Warn,
    /// A flaky test fails the proof and denies the script (`deny`; `fail` is read as
    /// this).
    Deny,
}

impl FlakyPolicy {
    /// The name written in `proofgate.yaml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlakyPolicy::Allow => "allow",
            FlakyPolicy::Warn => "warn",
            FlakyPolicy::Deny => "deny",
        }
    }
}

/// The gate's policy knobs (`policy:` in `proofgate.yaml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Proofs must carry a valid signature from a trusted key. `true` unless the policy
    /// says `signatures: none` (or `require_signatures: false`) explicitly.
    pub require_signatures: bool,
    /// The oldest proof accepted (`30d`, `12h`, `90m`, `45s`, `2w`); none: any age.
    #[serde(with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// Content-addressed reuse of earlier proofs.
    pub reuse: Reuse,
    /// What a flaky test means for the gate (default `warn`).
    pub flaky: FlakyPolicy,
    /// Production impacts at which `evidence: manual` is refused (default medium, high).
    pub manual_forbidden_for: Vec<Impact>,
    /// Production impacts at which `evidence: ci` is required (default none).
    pub ci_required_for: Vec<Impact>,
}

mod opt_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_secs()),
            None => s.serialize_none(),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require_signatures: true,
            max_age: None,
            reuse: Reuse::Off,
            flaky: FlakyPolicy::Warn,
            manual_forbidden_for: vec![Impact::Medium, Impact::High],
            ci_required_for: Vec::new(),
        }
    }
}

/// Parses `30d`, `12h`, `90m`, `45s`, `2w` into a duration.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    (n > 0).then(|| Duration::from_secs(n.saturating_mul(secs)))
}

/// A script declared in `proofgate.yaml` (it cannot carry a header).
#[derive(Clone, Debug)]
pub(crate) struct Declared {
    /// The key path of the entry (`scripts.declared[2]`).
    pub key: String,
    pub value: Value,
}

/// `proofgate.yaml`, checked.
#[derive(Debug)]
pub(crate) struct Config {
    pub roots: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub declared: Vec<Declared>,
    /// Script id → selectors (with their key paths).
    pub selectors: BTreeMap<String, (String, Vec<(String, String)>)>,
    pub allowed: Allowed,
    pub trusted_keys: Vec<TrustedKey>,
    pub policy: Policy,
    pub pos: PosIndex,
}

/// Default script roots.
pub const DEFAULT_ROOTS: &[&str] = &["scripts"];
/// Default include globs (repository-relative).
pub const DEFAULT_INCLUDE: &[&str] = &["**/*.py", "**/*.sh", "**/*.bash"];
/// Default exclude globs (goldenpath skips `lib/` and `__init__.py`).
pub const DEFAULT_EXCLUDE: &[&str] = &["**/lib/**", "**/__init__.py"];

impl Default for Config {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect();
        Self {
            roots: v(DEFAULT_ROOTS),
            include: v(DEFAULT_INCLUDE),
            exclude: v(DEFAULT_EXCLUDE),
            declared: Vec::new(),
            selectors: BTreeMap::new(),
            allowed: Allowed::default(),
            trusted_keys: Vec::new(),
            policy: Policy::default(),
            pos: PosIndex::default(),
        }
    }
}

struct Cx<'a> {
    path: &'a str,
    pos: &'a PosIndex,
    errors: Vec<Finding>,
}

impl TypeCheck for Cx<'_> {
    fn err(&mut self, key: &str, code: &'static str, message: String) {
        let (line, column) = self.pos.find(key).unwrap_or((1, 1));
        self.errors.push(Finding {
            severity: Severity::Error,
            path: self.path.to_owned(),
            line,
            column,
            code,
            message: format!("{key}: {message}"),
        });
    }
}

impl Cx<'_> {
    fn strings(&mut self, key: &str, v: &Value) -> Vec<String> {
        match v {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| self.string(&format!("{key}[{i}]"), it))
                .collect(),
            Value::String(s) => vec![s.clone()],
            other => {
                self.err(
                    key,
                    "bad-type",
                    format!("expected a list of strings, found {}", kind_of(other)),
                );
                Vec::new()
            }
        }
    }

    fn unknown(&mut self, key: &str, allowed: &[&str]) {
        self.err(
            key,
            "unknown-key",
            format!("unknown key; expected one of {}", allowed.join(", ")),
        );
    }

    /// Iterates a mapping's string keys, reporting non-string ones.
    fn entries<'v>(&mut self, key: &str, m: &'v Mapping) -> Vec<(String, &'v Value)> {
        let mut out = Vec::new();
        for (k, v) in m {
            match k.as_str() {
                Some(s) => out.push((s.to_owned(), v)),
                None => self.err(
                    key,
                    "bad-type",
                    format!("keys must be strings, found {}", show(k)),
                ),
            }
        }
        out
    }
}

fn join(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_owned()
    } else {
        format!("{prefix}.{k}")
    }
}

fn impacts(cx: &mut Cx<'_>, key: &str, v: &Value) -> Vec<Impact> {
    let mut out = Vec::new();
    for (i, s) in cx.strings(key, v).into_iter().enumerate() {
        match s.parse::<Impact>() {
            Ok(x) => {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
            Err(e) => cx.err(&format!("{key}[{i}]"), "bad-value", e),
        }
    }
    out.sort();
    out
}

fn valid_public_key(s: &str) -> bool {
    let t = s.trim();
    if t.starts_with("-----BEGIN PUBLIC KEY-----") {
        return t.trim_end().ends_with("-----END PUBLIC KEY-----");
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .is_ok_and(|b| b.len() == 32)
}

/// The largest `proofgate.yaml` parsed.
pub(crate) const CONFIG_LIMIT: usize = 4 << 20;

/// Parses and checks `proofgate.yaml`. `display` names the file in findings. Errors are
/// returned all together.
pub(crate) fn parse(text: &str, display: &str) -> Result<Config, Vec<Finding>> {
    let value = read_yaml(text, display)?;
    let pos = PosIndex::build(text);
    let mut cx = Cx {
        path: display,
        pos: &pos,
        errors: Vec::new(),
    };
    let mut cfg = Config::default();
    let mut sig = Signatures::default();
    if !matches!(value, Value::Null)
        && let Some(top) = cx.mapping("", &value)
    {
        for (k, v) in cx.entries("", top) {
            match k.as_str() {
                "version" => version(&mut cx, v),
                "scripts" => scripts(&mut cx, v, &mut cfg),
                "selectors" => selectors(&mut cx, v, &mut cfg),
                "allowed" => allowed(&mut cx, v, &mut cfg),
                "trusted_keys" => trusted_keys(&mut cx, v, &mut cfg),
                "policy" => policy(&mut cx, v, &mut cfg, &mut sig),
                _ => cx.unknown(&k, TOP),
            }
        }
    }
    cfg.policy.require_signatures = sig.resolve(&mut cx);
    let errors = cx.errors;
    cfg.pos = pos;
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

/// The top-level keys of `proofgate.yaml`.
const TOP: &[&str] = &[
    "version",
    "scripts",
    "selectors",
    "allowed",
    "trusted_keys",
    "policy",
];

/// The YAML value of the file, bounded before the parser sees it: size, then nesting
/// depth. A problem here is the only finding.
fn read_yaml(text: &str, display: &str) -> Result<Value, Vec<Finding>> {
    let refuse = |(line, column): (u32, u32), code: &'static str, message: String| {
        vec![Finding {
            severity: Severity::Error,
            path: display.to_owned(),
            line,
            column,
            code,
            message,
        }]
    };
    if text.len() > CONFIG_LIMIT {
        return Err(refuse(
            (1, 1),
            "yaml-too-large",
            format!(
                "the file is {} bytes, more than the limit of {CONFIG_LIMIT}",
                text.len()
            ),
        ));
    }
    if let Err(deep) = super::yamlpos::check_depth(text) {
        return Err(refuse(
            deep.at,
            "yaml-too-deep",
            format!("invalid YAML: {}", deep.message()),
        ));
    }
    serde_yaml_ng::from_str(text).map_err(|e| {
        let (msg, pos) = yaml_error_parts(&e);
        refuse(
            pos.unwrap_or((1, 1)),
            "yaml",
            format!("invalid YAML: {msg}"),
        )
    })
}

fn version(cx: &mut Cx<'_>, v: &Value) {
    if v.as_u64() != Some(1) {
        cx.err(
            "version",
            "bad-value",
            format!("{} is not one of 1", show(v)),
        );
    }
}

/// `selectors:`: script id → list of selectors.
fn selectors(cx: &mut Cx<'_>, v: &Value, cfg: &mut Config) {
    let Some(m) = cx.mapping("selectors", v) else {
        return;
    };
    for (id, list) in cx.entries("selectors", m) {
        let key = join("selectors", &id);
        let items = match list {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| {
                    let k = format!("{key}[{i}]");
                    cx.string(&k, it).map(|s| (k, s))
                })
                .collect(),
            other => {
                cx.err(
                    &key,
                    "bad-type",
                    format!("expected a list of selectors, found {}", kind_of(other)),
                );
                Vec::new()
            }
        };
        cfg.selectors.insert(id, (key, items));
    }
}

/// `allowed:`: values added to the header checks' lists.
fn allowed(cx: &mut Cx<'_>, v: &Value, cfg: &mut Config) {
    let Some(m) = cx.mapping("allowed", v) else {
        return;
    };
    for (k, v) in cx.entries("allowed", m) {
        let key = join("allowed", &k);
        let list = match k.as_str() {
            "owners" => &mut cfg.allowed.owners,
            "runners" => &mut cfg.allowed.runners,
            "statuses" => &mut cfg.allowed.statuses,
            "types" => &mut cfg.allowed.types,
            _ => {
                cx.unknown(&key, &["owners", "runners", "statuses", "types"]);
                continue;
            }
        };
        for s in cx.strings(&key, v) {
            if !list.contains(&s) {
                list.push(s);
            }
        }
    }
}

/// `trusted_keys:`: a list of keys, each a string or a mapping with `public_key`.
fn trusted_keys(cx: &mut Cx<'_>, v: &Value, cfg: &mut Config) {
    let Value::Sequence(items) = v else {
        cx.err(
            "trusted_keys",
            "bad-type",
            format!("expected a list, found {}", kind_of(v)),
        );
        return;
    };
    for (i, it) in items.iter().enumerate() {
        let key = format!("trusted_keys[{i}]");
        if let Some(tk) = trusted_key(cx, &key, it) {
            if valid_public_key(&tk.public_key) {
                cfg.trusted_keys.push(tk);
            } else {
                cx.err(&key, "bad-key", "not an ed25519 public key: expected base64 of 32 bytes or a PEM `PUBLIC KEY` block".into());
            }
        }
    }
}

fn trusted_key(cx: &mut Cx<'_>, key: &str, it: &Value) -> Option<TrustedKey> {
    match it {
        Value::String(s) => Some(TrustedKey {
            name: None,
            public_key: s.clone(),
        }),
        Value::Mapping(m) => {
            let mut name = None;
            let mut pk = None;
            for (k, v) in cx.entries(key, m) {
                let sub = join(key, &k);
                match k.as_str() {
                    "name" => name = cx.string(&sub, v),
                    "public_key" => pk = cx.string(&sub, v),
                    _ => cx.unknown(&sub, &["name", "public_key"]),
                }
            }
            match pk {
                Some(public_key) => Some(TrustedKey { name, public_key }),
                None => {
                    cx.err(
                        &format!("{key}.public_key"),
                        "missing-key",
                        "required key is missing".into(),
                    );
                    None
                }
            }
        }
        other => {
            cx.err(
                key,
                "bad-type",
                format!(
                    "expected a key or a mapping with `public_key`, found {}",
                    kind_of(other)
                ),
            );
            None
        }
    }
}

/// What the policy says about signatures, in its two spellings.
#[derive(Default)]
struct Signatures {
    /// `signatures: required | none`.
    signatures: Option<bool>,
    /// The older `require_signatures: true | false`.
    require_signatures: Option<bool>,
}

impl Signatures {
    /// Signatures are required unless the policy says `signatures: none` (or its older
    /// spelling `require_signatures: false`) in so many words.
    fn resolve(&self, cx: &mut Cx<'_>) -> bool {
        if let (Some(a), Some(b)) = (self.signatures, self.require_signatures)
            && a != b
        {
            cx.err(
                "policy.signatures",
                "bad-value",
                "contradicts `policy.require_signatures`; keep only `signatures`".to_owned(),
            );
        }
        self.signatures.or(self.require_signatures).unwrap_or(true)
    }
}

/// `policy:`: the gate's knobs.
fn policy(cx: &mut Cx<'_>, v: &Value, cfg: &mut Config, sig: &mut Signatures) {
    let Some(m) = cx.mapping("policy", v) else {
        return;
    };
    for (k, v) in cx.entries("policy", m) {
        let key = join("policy", &k);
        match k.as_str() {
            "require_signatures" => {
                if let Some(b) = cx.boolean(&key, v) {
                    sig.require_signatures = Some(b);
                }
            }
            "signatures" => match v.as_str() {
                Some("required") => sig.signatures = Some(true),
                Some("none") => sig.signatures = Some(false),
                _ => cx.err(
                    &key,
                    "bad-value",
                    format!("{} is not one of required, none", show(v)),
                ),
            },
            "max_age" => match v.as_str().and_then(parse_duration) {
                Some(d) => cfg.policy.max_age = Some(d),
                None => cx.err(
                    &key,
                    "bad-value",
                    format!(
                        "{} is not a duration such as 30d, 12h, 90m, 45s or 2w",
                        show(v)
                    ),
                ),
            },
            "reuse" => match v {
                Value::Bool(false) => cfg.policy.reuse = Reuse::Off,
                Value::String(s) if s == "off" => cfg.policy.reuse = Reuse::Off,
                Value::String(s) if s == "same-content" => cfg.policy.reuse = Reuse::SameContent,
                other => cx.err(
                    &key,
                    "bad-value",
                    format!("{} is not one of off, same-content", show(other)),
                ),
            },
            "flaky" => match v.as_str() {
                Some("allow" | "pass") => cfg.policy.flaky = FlakyPolicy::Allow,
                Some("warn") => cfg.policy.flaky = FlakyPolicy::Warn,
                Some("deny" | "fail") => cfg.policy.flaky = FlakyPolicy::Deny,
                _ => cx.err(
                    &key,
                    "bad-value",
                    format!("{} is not one of allow, warn, deny", show(v)),
                ),
            },
            "manual_forbidden_for" => cfg.policy.manual_forbidden_for = impacts(cx, &key, v),
            "ci_required_for" => cfg.policy.ci_required_for = impacts(cx, &key, v),
            _ => cx.unknown(
                &key,
                &[
                    "signatures",
                    "require_signatures",
                    "max_age",
                    "reuse",
                    "flaky",
                    "manual_forbidden_for",
                    "ci_required_for",
                ],
            ),
        }
    }
}

fn scripts(cx: &mut Cx<'_>, v: &Value, cfg: &mut Config) {
    let Some(m) = cx.mapping("scripts", v) else {
        return;
    };
    for (k, v) in cx.entries("scripts", m) {
        let key = join("scripts", &k);
        match k.as_str() {
            "roots" => {
                cfg.roots = cx.strings(&key, v);
                for (i, r) in cfg.roots.clone().iter().enumerate() {
                    if r.starts_with(['/', '\\']) || r.split(['/', '\\']).any(|c| c == "..") {
                        cx.err(
                            &format!("{key}[{i}]"),
                            "bad-value",
                            format!("{r:?} must be a path inside the repository"),
                        );
                    }
                }
            }
            "include" | "exclude" => {
                let globs = cx.strings(&key, v);
                for (i, g) in globs.iter().enumerate() {
                    if let Err(e) = globset::Glob::new(g) {
                        cx.err(
                            &format!("{key}[{i}]"),
                            "bad-glob",
                            format!("{g:?} is not a valid glob: {}", e.kind()),
                        );
                    }
                }
                if k == "include" {
                    cfg.include = globs;
                } else {
                    cfg.exclude = globs;
                }
            }
            "declared" => match v {
                Value::Sequence(items) => {
                    for (i, it) in items.iter().enumerate() {
                        cfg.declared.push(Declared {
                            key: format!("{key}[{i}]"),
                            value: it.clone(),
                        });
                    }
                }
                other => cx.err(
                    &key,
                    "bad-type",
                    format!("expected a list of scripts, found {}", kind_of(other)),
                ),
            },
            _ => cx.unknown(&key, &["roots", "include", "exclude", "declared"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gives_defaults() {
        let c = parse("", "proofgate.yaml").unwrap();
        assert_eq!(c.roots, ["scripts"]);
        assert_eq!(c.policy, Policy::default());
    }

    #[test]
    fn unknown_keys_are_errors_with_positions() {
        let e = parse(
            "scripts:\n  roots: [x]\n  rotos: [y]\npolicy:\n  flakey: pass\n",
            "p.yaml",
        )
        .unwrap_err();
        let msgs: Vec<String> = e.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "p.yaml:3:3: scripts.rotos: unknown key; expected one of roots, include, exclude, declared",
                "p.yaml:5:3: policy.flakey: unknown key; expected one of signatures, require_signatures, max_age, reuse, flaky, manual_forbidden_for, ci_required_for",
            ]
        );
    }

    #[test]
    fn signatures_are_required_unless_the_policy_says_none() {
        assert!(parse("", "p").unwrap().policy.require_signatures);
        let none = parse("policy:\n  signatures: none\n", "p").unwrap();
        assert!(!none.policy.require_signatures);
        let old = parse("policy:\n  require_signatures: false\n", "p").unwrap();
        assert!(!old.policy.require_signatures);
        let e = parse("policy:\n  signatures: optional\n", "p").unwrap_err();
        assert!(
            e[0].to_string().contains("not one of required, none"),
            "{}",
            e[0]
        );
        let e = parse(
            "policy:\n  signatures: none\n  require_signatures: true\n",
            "p",
        )
        .unwrap_err();
        assert!(e[0].to_string().contains("contradicts"), "{}", e[0]);
    }

    #[test]
    fn policy_knobs_parse() {
        let c = parse(
            "trusted_keys:\n  - name: ci\n    public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\npolicy:\n  max_age: 30d\n  reuse: same-content\n  flaky: fail\n  manual_forbidden_for: [high]\n",
            "p",
        )
        .unwrap();
        assert!(c.policy.require_signatures);
        assert_eq!(c.policy.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.policy.reuse, Reuse::SameContent);
        assert_eq!(c.policy.flaky, FlakyPolicy::Deny);
        assert_eq!(c.policy.manual_forbidden_for, [Impact::High]);
    }

    #[test]
    fn bad_yaml_gets_its_position() {
        let e = parse("scripts:\n  roots: [x\n", "p.yaml").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, "yaml");
        assert!(e[0].line >= 2, "{e:?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("2w"), Some(Duration::from_secs(1_209_600)));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
        assert_eq!(parse_duration("é"), None);
    }
}

//! `proofgate init`: what a repository needs to be gated, as a pure function from a
//! description of the repository ([`RepoView`]) to the files to write ([`Plan`]).
//!
//! The command line reads the repository and makes the key pair; this module decides every
//! byte: `proofgate.yaml` (script roots, owners from `CODEOWNERS`, the trusted public key),
//! `.github/workflows/proofgate.yml` (a test job and a `certify` job that runs
//! `if: always()`), a `# ---` header in each named script, and the `.gitignore` line that
//! keeps the private key out of the repository. A file that exists is left alone unless
//! `force` is set; a script that has a header keeps it, whatever `force` says.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Allowed, DEFAULT_INCLUDE, Extracted, ScriptId, extract, normalize_path};

/// Where the generated configuration goes.
pub const CONFIG_PATH: &str = "proofgate.yaml";

/// Where the generated workflow goes.
pub const WORKFLOW_PATH: &str = ".github/workflows/proofgate.yml";

/// Where the private key goes unless told otherwise.
pub const DEFAULT_KEY_PATH: &str = ".proofgate/signing-key.pem";

/// Where `CODEOWNERS` is looked for, in GitHub's order.
pub const CODEOWNERS_PATHS: &[&str] = &[".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// The name of the secret the workflow reads the signing key from.
pub const SECRET_NAME: &str = "PROOFGATE_SIGNING_KEY";

/// The name of the variable the workflow reads the pinned public key from.
pub const VARIABLE_NAME: &str = "PROOFGATE_TRUSTED_KEYS";

/// Folders never taken for script roots: tests, documentation, tooling and build output.
const NOT_ROOTS: &[&str] = &[
    "tests",
    "test",
    "testing",
    "docs",
    "doc",
    "examples",
    "node_modules",
    "target",
    "build",
    "dist",
    "venv",
    "env",
    "site-packages",
    "src",
    "lib",
    "vendor",
    "third_party",
];

/// One file of the repository, as far as `init` cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoFile {
    /// Repository-relative path, `/`-separated.
    pub path: String,
    /// Whether the file starts with `#!`.
    pub shebang: bool,
}

/// A script to give a header to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRequest {
    /// Repository-relative path.
    pub path: String,
    /// Its current text.
    pub text: String,
    /// The tests that certify it (files or folders, repository-relative). Empty: looked
    /// for as `tests/test_<name>.py`.
    pub tests: Vec<String>,
}

/// What `init` knows about the repository: everything it decides from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoView {
    /// The repository's files (hidden and ignored ones left out).
    pub files: Vec<RepoFile>,
    /// The `CODEOWNERS` file found: its path and text.
    pub codeowners: Option<(String, String)>,
    /// The scripts named with `--script`, in order.
    pub scripts: Vec<ScriptRequest>,
    /// Ids already used by headers in the repository.
    pub taken_ids: BTreeSet<String>,
    /// The current text of `proofgate.yaml`, when it exists.
    pub config: Option<String>,
    /// The current text of the workflow, when it exists.
    pub workflow: Option<String>,
    /// The current text of `.gitignore`, when it exists.
    pub gitignore: Option<String>,
    /// The CI public key (base64 raw ed25519).
    pub public_key: String,
    /// Where the private key is, repository-relative; `None` when it is outside the
    /// repository (nothing to ignore then).
    pub key_path: Option<String>,
    /// Overwrite `proofgate.yaml` and the workflow when they exist.
    pub force: bool,
}

/// What happens to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The file does not exist: written.
    Create,
    /// The file exists and `force` is set: replaced.
    Overwrite,
    /// The file exists and is changed in place (a header inserted, a line appended).
    Update(String),
    /// The file exists and is left alone; the reason says why.
    Keep(String),
}

impl Action {
    /// Whether the file is to be written.
    pub fn writes(&self) -> bool {
        !matches!(self, Action::Keep(_))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create => f.write_str("created"),
            Action::Overwrite => f.write_str("overwritten"),
            Action::Update(why) => write!(f, "updated ({why})"),
            Action::Keep(why) => write!(f, "left alone ({why})"),
        }
    }
}

/// One file of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// Repository-relative path.
    pub path: String,
    /// What to do with it.
    pub action: Action,
    /// The full text to write (empty for [`Action::Keep`]).
    pub contents: String,
}

/// Everything `init` writes, and what it found worth saying.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The files, in the order they are reported.
    pub files: Vec<Planned>,
    /// Things the user should know (a script without tests, a placeholder test step).
    pub notes: Vec<String>,
}

impl Plan {
    /// Whether anything is to be written.
    pub fn changes_anything(&self) -> bool {
        self.files.iter().any(|f| f.action.writes())
    }
}

/// Why no plan could be made: a bad `--script` or `--tests`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    /// A path that leaves the repository.
    #[error("{flag} {path:?} must be a path inside the repository (relative, without `..`)")]
    OutsideRepository {
        /// The flag it came from.
        flag: &'static str,
        /// The path as given.
        path: String,
    },
    /// A script whose language has no `#` comments.
    #[error(
        "cannot write a header into `{0}`: only `#`-comment scripts (`.py`, `.sh`, `.bash`, or a shebang) take one; declare it under `scripts.declared` in proofgate.yaml instead"
    )]
    NoCommentSyntax(String),
    /// A script whose header was opened but never closed.
    #[error(
        "`{path}`:{line}: a header is opened here but never closed; fix it, then run `proofgate lint`"
    )]
    UnclosedHeader {
        /// The script.
        path: String,
        /// The line of the opening delimiter.
        line: u32,
    },
    /// A test path with characters a command line would split or expand.
    #[error(
        "test path {0:?} holds a character a shell would split or expand (space, quote, `$`, `;` …); rename it, or write the header's `test.selectors` by hand"
    )]
    UnquotableTest(String),
    /// A CODEOWNERS owner that cannot be an `owner:` value.
    #[error("{path}:{line}: owner {owner:?} is not a plain handle, team or e-mail address")]
    BadOwner {
        /// The CODEOWNERS file.
        path: String,
        /// Its line.
        line: usize,
        /// The owner as written.
        owner: String,
    },
}

/// A script's place in the plan, before its header is written.
struct ScriptPlan<'a> {
    req: &'a ScriptRequest,
    id: String,
    owner: String,
}

/// Makes the plan. Pure: the same view always gives the same plan.
pub fn plan(view: &RepoView) -> Result<Plan, InitError> {
    check_requests(&view.scripts)?;
    let owners = match &view.codeowners {
        Some((path, text)) => parse_codeowners(path, text)?,
        None => Vec::new(),
    };
    let scripts = assign_ids(view, &owners)?;
    let mut out = Plan::default();
    plan_config(view, &owners, &mut out);
    plan_workflow(view, &mut out);
    for s in &scripts {
        plan_header(view, s, &mut out);
    }
    if let Some(entry) = view.key_path.as_deref().map(ignore_entry) {
        out.files.push(plan_gitignore(view, &entry));
    }
    Ok(out)
}

/// Refuses a script or test path that could leave the repository, a script whose
/// language has no comment header, and a test path a shell would split.
fn check_requests(scripts: &[ScriptRequest]) -> Result<(), InitError> {
    for s in scripts {
        check_inside("--script", &s.path)?;
        if !takes_comment_header(&s.path, &s.text) {
            return Err(InitError::NoCommentSyntax(s.path.clone()));
        }
        for t in &s.tests {
            check_inside("--tests", t)?;
            if !t
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@'))
            {
                return Err(InitError::UnquotableTest(t.clone()));
            }
        }
    }
    Ok(())
}

/// Ids from the file names, unique against the repository and each other (empty for a
/// script that already has a header), and owners from CODEOWNERS.
fn assign_ids<'a>(
    view: &'a RepoView,
    owners: &[OwnerRule],
) -> Result<Vec<ScriptPlan<'a>>, InitError> {
    let mut taken = view.taken_ids.clone();
    let mut scripts = Vec::new();
    for req in &view.scripts {
        let id = match extract(&req.path, req.text.as_bytes()) {
            Extracted::Header(_) => String::new(),
            Extracted::Unclosed { line, .. } => {
                return Err(InitError::UnclosedHeader {
                    path: req.path.clone(),
                    line,
                });
            }
            Extracted::None => unique_id(&id_for(&req.path), &taken),
        };
        if !id.is_empty() {
            taken.insert(id.clone());
        }
        let owner = owner_for(&req.path, owners).unwrap_or_else(|| "platform-team".to_owned());
        scripts.push(ScriptPlan { req, id, owner });
    }
    Ok(scripts)
}

/// `proofgate.yaml`: the script roots, the include list, the owners CODEOWNERS adds to
/// the built-in ones, and the trusted key.
fn plan_config(view: &RepoView, owners: &[OwnerRule], out: &mut Plan) {
    let builtin = Allowed::default().owners;
    let mut extra_owners: Vec<String> = Vec::new();
    for rule in owners {
        for o in &rule.owners {
            if !builtin.contains(o) && !extra_owners.contains(o) {
                extra_owners.push(o.clone());
            }
        }
    }
    let roots = detect_roots(view);
    let include = build_include(&view.scripts);
    let config = render_config(
        &roots,
        include.as_deref(),
        &extra_owners,
        &view.public_key,
        view.codeowners.as_ref(),
    );
    out.files.push(keep_or_write(
        CONFIG_PATH,
        view.config.as_deref(),
        config,
        view.force,
    ));
}

/// The workflow, with a placeholder test step (and a note) when no pytest tests are
/// found.
fn plan_workflow(view: &RepoView, out: &mut Plan) {
    let pytest = has_pytest_tests(view);
    if !pytest {
        out.notes.push(format!(
            "no `tests/test_*.py` found: the workflow's test step is a placeholder that fails until you replace it with your test command (in `{WORKFLOW_PATH}`)"
        ));
    }
    out.files.push(keep_or_write(
        WORKFLOW_PATH,
        view.workflow.as_deref(),
        render_workflow(pytest),
        view.force,
    ));
}

/// A script's header, with its tests as given or guessed; kept when it has one.
fn plan_header(view: &RepoView, s: &ScriptPlan<'_>, out: &mut Plan) {
    if s.id.is_empty() {
        out.files.push(Planned {
            path: s.req.path.clone(),
            action: Action::Keep("it already has a header".to_owned()),
            contents: String::new(),
        });
        return;
    }
    let tests = if s.req.tests.is_empty() {
        guess_tests(&s.req.path, view)
    } else {
        s.req.tests.clone()
    };
    if tests.is_empty() {
        out.notes.push(format!(
            "`{}` names no tests (`--tests {}=PATH`): its header says `evidence: manual` until you add some",
            s.req.path, s.req.path
        ));
    }
    let header = render_header(&s.id, &s.owner, &tests);
    out.files.push(Planned {
        path: s.req.path.clone(),
        action: Action::Update(format!("header `{}` added", s.id)),
        contents: insert_header(&s.req.text, &header),
    });
}

/// `.gitignore` with the signing key's `entry`, unless it already ignores it.
fn plan_gitignore(view: &RepoView, entry: &str) -> Planned {
    let current = view.gitignore.as_deref().unwrap_or("");
    if ignores(current, entry) {
        return Planned {
            path: ".gitignore".to_owned(),
            action: Action::Keep(format!("it already ignores `{entry}`")),
            contents: String::new(),
        };
    }
    let mut text = current.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# the CI signing key made by `proofgate init`: never commit it\n");
    text.push_str(entry);
    text.push('\n');
    Planned {
        path: ".gitignore".to_owned(),
        action: if view.gitignore.is_some() {
            Action::Update(format!("`{entry}` added"))
        } else {
            Action::Create
        },
        contents: text,
    }
}

/// Refuses a `--script` or `--tests` path that could leave the repository: empty,
/// absolute, or with a `..` component.
pub fn check_inside(flag: &'static str, path: &str) -> Result<(), InitError> {
    if path.is_empty() || !crate::fsutil::stays_inside(path) {
        return Err(InitError::OutsideRepository {
            flag,
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Whether a `# ---` header can go into this script.
fn takes_comment_header(path: &str, text: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".py", ".pyw", ".sh", ".bash", ".zsh", ".ksh", ".rb", ".pl"]
        .iter()
        .any(|e| lower.ends_with(e))
        || text.starts_with("#!")
}

/// A file's new text when it exists (`force`: replaced, else kept) or not.
fn keep_or_write(path: &str, current: Option<&str>, new: String, force: bool) -> Planned {
    let action = match current {
        None => Action::Create,
        Some(c) if c == new => Action::Keep("it is already up to date".to_owned()),
        Some(_) if force => Action::Overwrite,
        Some(_) => Action::Keep("it exists; `--force` overwrites it".to_owned()),
    };
    Planned {
        path: path.to_owned(),
        contents: if action.writes() { new } else { String::new() },
        action,
    }
}

/// The id a script's file name suggests: its stem, `_` and other characters outside the
/// id alphabet as `-`, lower case.
pub fn id_for(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = match name.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s,
        _ => name,
    };
    let mut id = String::new();
    for c in stem.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    let id = id.trim_matches(['-', '.']).to_owned();
    let id: String = id.chars().take(120).collect();
    if ScriptId::is_valid(&id) {
        id
    } else {
        "script".to_owned()
    }
}

fn unique_id(base: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| base.to_owned())
}

/// One `CODEOWNERS` rule: a pattern and its owners (leading `@` removed).
#[derive(Debug)]
struct OwnerRule {
    glob: Option<globset::GlobMatcher>,
    owners: Vec<String>,
}

fn parse_codeowners(path: &str, text: &str) -> Result<Vec<OwnerRule>, InitError> {
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let Some(pattern) = words.next() else {
            continue;
        };
        let mut owners = Vec::new();
        for w in words {
            let o = w.strip_prefix('@').unwrap_or(w);
            let plain = !o.is_empty()
                && o.len() <= 100
                && o.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@' | '+')
                });
            if !plain {
                return Err(InitError::BadOwner {
                    path: path.to_owned(),
                    line: i + 1,
                    owner: w.to_owned(),
                });
            }
            owners.push(o.to_owned());
        }
        rules.push(OwnerRule {
            glob: codeowners_glob(pattern),
            owners,
        });
    }
    Ok(rules)
}

/// The gitignore-style pattern of a CODEOWNERS line as a glob on repository paths.
fn codeowners_glob(pattern: &str) -> Option<globset::GlobMatcher> {
    let anchored = pattern.starts_with('/') || pattern.trim_end_matches('/').contains('/');
    let p = pattern.trim_start_matches('/');
    let p = if p.ends_with('/') {
        format!("{p}**")
    } else {
        p.to_owned()
    };
    let p = if anchored || p.starts_with("**") {
        p
    } else {
        format!("**/{p}")
    };
    // A pattern naming a folder covers what is under it too.
    let g = if p.ends_with("**") {
        p
    } else {
        format!("{{{p},{p}/**}}")
    };
    globset::GlobBuilder::new(&g)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The first owner of the last rule that matches `path` (CODEOWNERS' own precedence).
fn owner_for(path: &str, rules: &[OwnerRule]) -> Option<String> {
    rules
        .iter()
        .rev()
        .find(|r| r.glob.as_ref().is_some_and(|g| g.is_match(path)))
        .and_then(|r| r.owners.first().cloned())
        .or_else(|| rules.iter().flat_map(|r| r.owners.first()).next().cloned())
}

/// Script roots: the top-level folders of the named scripts and of the repository's
/// scripts (a `.sh`/`.bash` file, or any file with a shebang), tests, docs and build
/// output left out. Scripts at the top level make the root `.`.
pub fn detect_roots(view: &RepoView) -> Vec<String> {
    let mut roots = BTreeSet::new();
    let mut top = false;
    let mut add = |path: &str, named: bool| {
        let path = normalize_path(path);
        match path.split_once('/') {
            Some((first, _))
                if named || (!first.starts_with('.') && !NOT_ROOTS.contains(&first)) =>
            {
                roots.insert(first.to_owned());
            }
            Some(_) => {}
            None if named => top = true,
            None => {}
        }
    };
    for s in &view.scripts {
        add(&s.path, true);
    }
    // A Python package is library code, not a folder of scripts: every module in it
    // would be an ungoverned script.
    let packages: BTreeSet<&str> = view
        .files
        .iter()
        .filter(|f| f.path.ends_with("/__init__.py"))
        .filter_map(|f| f.path.split_once('/').map(|(first, _)| first))
        .collect();
    for f in &view.files {
        let lower = f.path.to_ascii_lowercase();
        let script = f.shebang || lower.ends_with(".sh") || lower.ends_with(".bash");
        let in_package = f
            .path
            .split_once('/')
            .is_some_and(|(first, _)| packages.contains(first));
        if script && !in_package {
            add(&f.path, false);
        }
    }
    if top {
        return vec![".".to_owned()];
    }
    roots.into_iter().collect()
}

fn has_pytest_tests(view: &RepoView) -> bool {
    view.files.iter().any(|f| {
        f.path.starts_with("tests/")
            && f.path
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("test_") && n.ends_with(".py"))
    })
}

/// `tests/test_<stem>.py` (or the same under `tests/unit/`) when it exists.
fn guess_tests(script: &str, view: &RepoView) -> Vec<String> {
    let name = script.rsplit('/').next().unwrap_or(script);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let files: BTreeSet<&str> = view.files.iter().map(|f| f.path.as_str()).collect();
    [
        format!("tests/test_{stem}.py"),
        format!("tests/unit/test_{stem}.py"),
    ]
    .into_iter()
    .find(|c| files.contains(c.as_str()))
    .into_iter()
    .collect()
}

/// A YAML scalar: plain when it is unambiguous, else a double-quoted (JSON) string.
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_owned()
    } else {
        serde_json::Value::String(s.to_owned()).to_string()
    }
}

/// The `scripts.include` a named script needs when the default globs would not find it
/// (`bin/deploy`, no extension): the defaults plus its path. `None`: the defaults do.
fn build_include(scripts: &[ScriptRequest]) -> Option<Vec<String>> {
    let mut b = globset::GlobSetBuilder::new();
    for g in DEFAULT_INCLUDE {
        if let Ok(g) = globset::Glob::new(g) {
            b.add(g);
        }
    }
    let defaults = b.build().ok()?;
    let extra: Vec<String> = scripts
        .iter()
        .map(|s| normalize_path(&s.path))
        .filter(|p| !defaults.is_match(p))
        .collect();
    if extra.is_empty() {
        return None;
    }
    let mut all: Vec<String> = DEFAULT_INCLUDE.iter().map(|g| (*g).to_owned()).collect();
    for p in extra {
        // A literal path: glob metacharacters in a file name are escaped.
        let escaped: String = p
            .chars()
            .flat_map(|c| match c {
                '*' | '?' | '[' | ']' | '{' | '}' | '\\' => vec!['[', c, ']'],
                c => vec![c],
            })
            .collect();
        if !all.contains(&escaped) {
            all.push(escaped);
        }
    }
    Some(all)
}

fn render_config(
    roots: &[String],
    include: Option<&[String]>,
    extra_owners: &[String],
    public_key: &str,
    codeowners: Option<&(String, String)>,
) -> String {
    let mut s = String::from(
        "# proofgate's settings: every key is described in docs/model.md.\n\
         # Written by `proofgate init`; edit freely, then run `proofgate lint`.\n\
         version: 1\n",
    );
    if roots.is_empty() {
        s.push_str("# scripts:\n#   roots: [scripts]       # folders walked for script headers\n");
    } else {
        let list: Vec<String> = roots.iter().map(|r| yaml_str(r)).collect();
        s.push_str(&format!(
            "scripts:\n  roots: [{}]       # folders walked for script headers\n",
            list.join(", ")
        ));
    }
    if let Some(include) = include {
        if roots.is_empty() {
            s.push_str("scripts:\n");
        }
        let list: Vec<String> = include
            .iter()
            .map(|g| serde_json::Value::String(g.clone()).to_string())
            .collect();
        s.push_str(&format!("  include: [{}]\n", list.join(", ")));
    }
    if !extra_owners.is_empty() {
        let list: Vec<String> = extra_owners.iter().map(|o| yaml_str(o)).collect();
        let from = codeowners.map_or("CODEOWNERS", |(p, _)| p.as_str());
        s.push_str(&format!(
            "allowed:\n  owners: [{}]       # from {from}\n",
            list.join(", ")
        ));
    }
    s.push_str(&format!(
        "trusted_keys:                # the CI key: proofs must carry its signature\n  - name: ci\n    public_key: {}\n",
        yaml_str(public_key)
    ));
    s.push_str("policy:\n  signatures: required\n");
    s
}

fn render_header(id: &str, owner: &str, tests: &[String]) -> String {
    let py = !tests.is_empty()
        && tests
            .iter()
            .all(|t| t.ends_with(".py") || !t.rsplit('/').next().unwrap_or(t).contains('.'));
    let bats = !tests.is_empty() && tests.iter().all(|t| t.ends_with(".bats"));
    let joined = tests.join(" ");
    let (runner, command, evidence, selectors) = if tests.is_empty() {
        ("custom", "echo no tests yet".to_owned(), "manual", false)
    } else if py {
        ("pytest", format!("pytest -q {joined}"), "ci", false)
    } else if bats {
        ("bats", format!("bats {joined}"), "ci", false)
    } else {
        ("custom", format!("run the tests in {joined}"), "ci", true)
    };
    let mut lines = vec![
        format!("id: {}", yaml_str(id)),
        "type: script".to_owned(),
        format!("owner: {}", yaml_str(owner)),
        "status: active".to_owned(),
        "maturity: 1".to_owned(),
        "test:".to_owned(),
        format!("  runner: {runner}"),
        format!("  command: {}", serde_json::Value::String(command)),
        format!("  evidence: {evidence}"),
    ];
    if selectors {
        lines.push("  selectors:".to_owned());
        for t in tests {
            lines.push(format!("    - {}", yaml_str(t)));
        }
    }
    lines.extend(
        [
            "dry_run:",
            "  supported: false",
            "risk_profile:",
            "  production_impact: low",
            "  security_risk: low",
            "  coupling_risk: low",
        ]
        .map(str::to_owned),
    );
    let mut s = String::from("# ---\n");
    for l in lines {
        s.push_str("# ");
        s.push_str(&l);
        s.push('\n');
    }
    s.push_str("# ---\n");
    s
}

/// Puts `header` after the shebang (and a Python encoding line), in the file's own line
/// endings.
pub fn insert_header(text: &str, header: &str) -> String {
    let crlf = text.contains("\r\n");
    let header = if crlf {
        header.replace('\n', "\r\n")
    } else {
        header.to_owned()
    };
    let bom = if text.starts_with('\u{feff}') {
        "\u{feff}"
    } else {
        ""
    };
    let body = &text[bom.len()..];
    let mut at = 0;
    for (line_no, line) in body.split_inclusive('\n').enumerate() {
        let t = line.trim_end();
        let keep = (line_no == 0 && t.starts_with("#!"))
            || (line_no < 2
                && t.starts_with('#')
                && t.contains("coding")
                && t.contains(['=', ':']));
        if !keep {
            break;
        }
        at += line.len();
    }
    let (head, rest) = body.split_at(at);
    let mut out = String::with_capacity(text.len() + header.len() + 2);
    out.push_str(bom);
    out.push_str(head);
    if !head.is_empty() && !head.ends_with('\n') {
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    out.push_str(&header);
    out.push_str(rest);
    out
}

/// The `.gitignore` line for the key: its folder when it is `.proofgate/`, else the file.
fn ignore_entry(key_path: &str) -> String {
    let p = normalize_path(key_path);
    if p.starts_with(".proofgate/") {
        ".proofgate/".to_owned()
    } else {
        format!("/{p}")
    }
}

fn ignores(gitignore: &str, entry: &str) -> bool {
    let bare = entry.trim_matches('/');
    gitignore
        .lines()
        .map(str::trim)
        .any(|l| l.trim_matches('/') == bare)
}

fn render_workflow(pytest: bool) -> String {
    let tests = if pytest {
        "      - uses: actions/setup-python@v5\n        \
         with: { python-version: \"3.12\" }\n      \
         - run: python -m pip install pytest\n      \
         - run: python -m pytest --junitxml=test-results/junit.xml tests/\n"
            .to_owned()
    } else {
        "      # Replace this step with the command that runs your tests and writes JUnit XML\n      \
         # under test-results/ (docs/junit.md lists the flag for each tool). Until then it\n      \
         # fails, so that the gate never passes on tests that did not run.\n      \
         - name: run the tests (replace this step)\n        \
         run: |\n          \
         echo \"::error title=proofgate::no test command: edit .github/workflows/proofgate.yml\"\n          \
         exit 1\n"
            .to_owned()
    };
    let mut s = String::new();
    s.push_str(
        "# Written by `proofgate init`. The test job signs a proof per script; `certify` is\n\
         # the gate: make it a required status check.\n\
         name: proofgate\n\
         on: [pull_request, merge_group]\n\
         permissions:\n  \
         contents: read            # all either job needs: artifacts of the run use the runner's token\n\
         jobs:\n  \
         test:\n    \
         runs-on: ubuntu-latest\n    \
         steps:\n      \
         - uses: actions/checkout@v5\n",
    );
    s.push_str(&tests);
    s.push_str(&format!(
        "      - uses: proofgate/proofgate@v1       # generate, sign and upload the proofs\n        \
         if: always()                       # failed tests are evidence too\n        \
         with:\n          \
         signing-key: ${{{{ secrets.{SECRET_NAME} }}}}\n  \
         certify:\n    \
         needs: test\n    \
         # Without always(), a failing test job makes this job *skipped*, and GitHub counts a\n    \
         # skipped required check as passing: the gate would fail open.\n    \
         if: always()\n    \
         runs-on: ubuntu-latest\n    \
         steps:\n      \
         - uses: actions/checkout@v5\n      \
         - uses: proofgate/proofgate@v1\n        \
         with:\n          \
         mode: verify\n          \
         trusted-keys: ${{{{ vars.{VARIABLE_NAME} }}}}\n"
    ));
    s
}

/// The commands that store the key pair where the workflow reads it.
pub fn next_steps(key_file: &str, public_key: &str) -> Vec<String> {
    vec![
        format!("gh secret set {SECRET_NAME} < {}", shell_word(key_file)),
        format!(
            "gh variable set {VARIABLE_NAME} --body {}",
            shell_word(public_key)
        ),
    ]
}

/// `s` as one shell word: as is when it is plainly safe, else single-quoted.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '=' | ':')
        })
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The plan's files by path (for tests and reports).
pub fn by_path(plan: &Plan) -> BTreeMap<&str, &Planned> {
    plan.files.iter().map(|f| (f.path.as_str(), f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=";

    fn view() -> RepoView {
        RepoView {
            files: vec![
                RepoFile {
                    path: "scripts/a.py".into(),
                    shebang: true,
                },
                RepoFile {
                    path: "tests/test_a.py".into(),
                    shebang: false,
                },
                RepoFile {
                    path: "tools/run.sh".into(),
                    shebang: true,
                },
                RepoFile {
                    path: "tests/helper.sh".into(),
                    shebang: true,
                },
                RepoFile {
                    path: "src/pkg/mod.py".into(),
                    shebang: false,
                },
            ],
            scripts: vec![ScriptRequest {
                path: "scripts/a.py".into(),
                text: "#!/usr/bin/env python3\nprint(1)\n".into(),
                tests: vec![],
            }],
            public_key: KEY.into(),
            key_path: Some(DEFAULT_KEY_PATH.into()),
            ..RepoView::default()
        }
    }

    #[test]
    fn roots_are_folders_holding_scripts_but_not_tests_or_packages() {
        assert_eq!(detect_roots(&view()), ["scripts", "tools"]);
    }

    #[test]
    fn python_packages_are_not_script_roots() {
        let mut v = view();
        v.files.push(RepoFile {
            path: "tools/__init__.py".into(),
            shebang: false,
        });
        assert_eq!(detect_roots(&v), ["scripts"]);
    }

    #[test]
    fn a_named_script_the_default_globs_miss_is_included_by_path() {
        let mut v = view();
        v.scripts.push(ScriptRequest {
            path: "bin/deploy".into(),
            text: "#!/bin/sh\necho\n".into(),
            tests: vec![],
        });
        let p = plan(&v).unwrap();
        let cfg = &by_path(&p)[CONFIG_PATH].contents;
        assert!(
            cfg.contains("  roots: [bin, scripts, tools]")
                && cfg.contains(r#"  include: ["**/*.py", "**/*.sh", "**/*.bash", "bin/deploy"]"#),
            "{cfg}"
        );
        assert_eq!(build_include(&view().scripts), None);
    }

    #[test]
    fn a_named_script_at_the_top_level_makes_the_root_the_repository() {
        let mut v = view();
        v.scripts[0].path = "deploy.sh".into();
        assert_eq!(detect_roots(&v), ["."]);
    }

    #[test]
    fn header_goes_after_the_shebang_and_keeps_line_endings() {
        let h = "# ---\n# id: a\n# ---\n";
        assert_eq!(
            insert_header("#!/bin/sh\necho hi\n", h),
            "#!/bin/sh\n# ---\n# id: a\n# ---\necho hi\n"
        );
        assert_eq!(insert_header("echo hi\n", h), format!("{h}echo hi\n"));
        assert_eq!(
            insert_header(
                "#!/usr/bin/env python3\r\n# -*- coding: utf-8 -*-\r\nx = 1\r\n",
                h
            ),
            "#!/usr/bin/env python3\r\n# -*- coding: utf-8 -*-\r\n# ---\r\n# id: a\r\n# ---\r\nx = 1\r\n"
        );
        assert_eq!(insert_header("#!/bin/sh", h), format!("#!/bin/sh\n{h}"));
    }

    #[test]
    fn the_generated_header_is_found_and_guesses_its_tests() {
        let p = plan(&view()).unwrap();
        let f = by_path(&p)["scripts/a.py"];
        assert_eq!(f.action, Action::Update("header `a` added".into()));
        let Extracted::Header(raw) = extract("scripts/a.py", f.contents.as_bytes()) else {
            panic!("no header in {}", f.contents);
        };
        assert!(
            raw.yaml.contains("command: \"pytest -q tests/test_a.py\""),
            "{}",
            raw.yaml
        );
        assert!(raw.yaml.contains("evidence: ci"));
        assert!(f.contents.starts_with("#!/usr/bin/env python3\n# ---\n"));
    }

    #[test]
    fn an_existing_header_is_never_duplicated_even_with_force() {
        let mut v = view();
        v.force = true;
        v.scripts[0].text = "#!/bin/sh\n# ---\n# id: x\n# ---\n".into();
        v.scripts[0].path = "scripts/x.sh".into();
        let p = plan(&v).unwrap();
        assert!(!by_path(&p)["scripts/x.sh"].action.writes());
    }

    #[test]
    fn ids_are_unique_against_the_repository_and_each_other() {
        let mut v = view();
        v.taken_ids.insert("a".into());
        v.scripts.push(ScriptRequest {
            path: "scripts/sub/a.sh".into(),
            text: "echo\n".into(),
            tests: vec!["tests/a.bats".into()],
        });
        let p = plan(&v).unwrap();
        assert!(by_path(&p)["scripts/a.py"].contents.contains("# id: a-2\n"));
        let sh = &by_path(&p)["scripts/sub/a.sh"].contents;
        assert!(
            sh.contains("# id: a-3\n") && sh.contains("runner: bats"),
            "{sh}"
        );
        assert_eq!(id_for("scripts/Rotate_Logs.py"), "rotate-logs");
        assert_eq!(id_for("scripts/__.py"), "script");
    }

    #[test]
    fn codeowners_owners_become_allowed_owners_and_the_script_owner() {
        let mut v = view();
        v.codeowners = Some((
            ".github/CODEOWNERS".into(),
            "# comment\n* @acme/everyone\n/scripts/ @acme/ops @hugovk platform-team\n".into(),
        ));
        let p = plan(&v).unwrap();
        let cfg = &by_path(&p)[CONFIG_PATH].contents;
        assert!(
            cfg.contains("owners: [acme/everyone, acme/ops, hugovk]"),
            "{cfg}"
        );
        assert!(
            by_path(&p)["scripts/a.py"]
                .contents
                .contains("# owner: acme/ops\n")
        );
    }

    #[test]
    fn a_codeowners_owner_that_is_not_a_handle_is_refused_with_its_line() {
        let mut v = view();
        v.codeowners = Some(("CODEOWNERS".into(), "* @ok\n* \"x\"\n".into()));
        let e = plan(&v).unwrap_err();
        assert!(e.to_string().starts_with("CODEOWNERS:2:"), "{e}");
    }

    #[test]
    fn existing_files_are_kept_unless_forced_and_unchanged_ones_always() {
        let first = plan(&view()).unwrap();
        let cfg = by_path(&first)[CONFIG_PATH].contents.clone();
        let mut v = view();
        v.config = Some(cfg);
        v.workflow = Some("name: mine\n".into());
        let p = plan(&v).unwrap();
        assert_eq!(
            by_path(&p)[CONFIG_PATH].action,
            Action::Keep("it is already up to date".into())
        );
        assert!(
            matches!(&by_path(&p)[WORKFLOW_PATH].action, Action::Keep(w) if w.contains("--force"))
        );
        v.force = true;
        let p = plan(&v).unwrap();
        assert_eq!(by_path(&p)[WORKFLOW_PATH].action, Action::Overwrite);
    }

    #[test]
    fn the_key_folder_is_ignored_once() {
        let p = plan(&view()).unwrap();
        assert_eq!(
            by_path(&p)[".gitignore"].contents.lines().last(),
            Some(".proofgate/")
        );
        let mut v = view();
        v.gitignore = Some("target/\n/.proofgate\n".into());
        assert!(!by_path(&plan(&v).unwrap())[".gitignore"].action.writes());
    }

    #[test]
    fn bad_paths_and_scripts_without_comments_are_refused() {
        let mut v = view();
        v.scripts[0].path = "../a.py".into();
        assert!(matches!(plan(&v), Err(InitError::OutsideRepository { .. })));
        let mut v = view();
        v.scripts[0].path = "scripts/a.js".into();
        v.scripts[0].text = "console.log(1)\n".into();
        assert!(matches!(plan(&v), Err(InitError::NoCommentSyntax(_))));
        let mut v = view();
        v.scripts[0].tests = vec!["tests/a b.py".into()];
        assert!(matches!(plan(&v), Err(InitError::UnquotableTest(_))));
    }

    #[test]
    fn the_workflow_runs_certify_always_and_fails_loudly_without_tests() {
        let w = render_workflow(true);
        assert!(w.contains("python -m pytest --junitxml=test-results/junit.xml tests/"));
        assert!(w.contains("  certify:\n    needs: test\n"));
        assert!(w.contains("    if: always()\n"));
        let w = render_workflow(false);
        assert!(w.contains("exit 1"));
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&w).unwrap();
        assert_eq!(v["permissions"]["contents"], "read");
    }

    #[test]
    fn next_steps_quote_what_a_shell_would_split() {
        let s = next_steps("my keys/k.pem", KEY);
        assert_eq!(
            s[0],
            "gh secret set PROOFGATE_SIGNING_KEY < 'my keys/k.pem'"
        );
        assert_eq!(
            s[1],
            format!("gh variable set PROOFGATE_TRUSTED_KEYS --body {KEY}")
        );
    }
}

//! Test selectors: which test cases belong to a script. Exact rules, never substrings.
//!
//! | written as | matches a case when |
//! | --- | --- |
//! | `tests/test_x.py` (a file) | its `file` is that path; without `file`, its `classname` is the module `tests.test_x` or a class in it (`tests.test_x.TestA`); for non-Python files, its `classname` is the path or the file name (bats) |
//! | `tests/unit/` or `tests/unit` (a directory) | its `file` is under the directory; without `file`, its `classname` is in the package `tests.unit.` |
//! | `tests/test_x.py::TestA::test_b[p]` (pytest node id) | the file matches as above and the class chain and name are equal; a node id without `[…]` also matches every parametrisation |
//! | `classname:GLOB`, `name:GLOB` | the glob matches the whole attribute |
//! | `cargo:PACKAGE[::TARGET][/FILTER]` (derived from a `cargo test` command) | the case's `classname` is the nextest binary id of the package (and target), and the name contains the filter (cargo's own rule) |

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use globset::{Glob, GlobMatcher};
use serde::{Serialize, Serializer};

use super::{Model, Script, ScriptId};
use crate::fsutil;
use crate::junit::TestCase;

/// One rule selecting test cases for a script.
#[derive(Clone, Debug)]
pub enum Selector {
    /// A test file (`tests/test_x.py`) or directory (`tests/unit`), repo-relative.
    Path {
        /// The path, `/`-separated, without `./` or a trailing `/`.
        path: String,
        /// Whether it names a directory (written with a trailing `/`, or found to be one).
        dir: bool,
    },
    /// A pytest node id: `file::Class::test[param]`.
    NodeId {
        /// The test file.
        file: String,
        /// The parts after the file: classes, then possibly a test name.
        parts: Vec<String>,
    },
    /// `classname:GLOB`.
    Classname(GlobSel),
    /// `name:GLOB`.
    Name(GlobSel),
    /// A cargo test selection: package, target and name filter.
    Cargo {
        /// `-p PACKAGE`.
        package: String,
        /// `--test TARGET` (`--lib`: `None`).
        target: Option<String>,
        /// The name filter (substring, or exact with `--exact`).
        filter: Option<String>,
        /// `-- --exact`.
        exact: bool,
    },
}

/// A compiled glob and its text.
#[derive(Clone, Debug)]
pub struct GlobSel {
    /// The glob as written.
    pub glob: String,
    matcher: GlobMatcher,
}

impl PartialEq for GlobSel {
    fn eq(&self, other: &Self) -> bool {
        self.glob == other.glob
    }
}

impl PartialEq for Selector {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Path { path, dir } => {
                write!(f, "{path}{}", if *dir { "/" } else { "" })
            }
            Selector::NodeId { file, parts } => write!(f, "{file}::{}", parts.join("::")),
            Selector::Classname(g) => write!(f, "classname:{}", g.glob),
            Selector::Name(g) => write!(f, "name:{}", g.glob),
            Selector::Cargo {
                package,
                target,
                filter,
                exact,
            } => {
                write!(f, "cargo:{package}")?;
                if let Some(t) = target {
                    write!(f, "::{t}")?;
                }
                if let Some(x) = filter {
                    write!(f, "/{x}")?;
                }
                if *exact {
                    write!(f, " --exact")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Normalises a repo-relative path: `\` → `/`, no `./` prefix, no duplicate or trailing `/`.
pub fn normalize_path(p: &str) -> String {
    let p = p.replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        if c.is_empty() || c == "." {
            continue;
        }
        out.push(c);
    }
    let joined = out.join("/");
    if p.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

fn glob(s: &str) -> Result<GlobSel, String> {
    Glob::new(s)
        .map(|g| GlobSel {
            glob: s.to_owned(),
            matcher: g.compile_matcher(),
        })
        .map_err(|e| format!("{s:?} is not a valid glob: {}", e.kind()))
}

impl Selector {
    /// Parses a selector as written in a header or `proofgate.yaml`. `is_dir` tells
    /// whether a path names a directory in the checkout.
    pub fn parse(s: &str, is_dir: impl Fn(&str) -> bool) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("an empty selector selects nothing".into());
        }
        if let Some(g) = t.strip_prefix("classname:") {
            return glob(g).map(Selector::Classname);
        }
        if let Some(g) = t.strip_prefix("name:") {
            return glob(g).map(Selector::Name);
        }
        if let Some(rest) = t.strip_prefix("cargo:") {
            let (rest, exact) = match rest.strip_suffix(" --exact") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let (head, filter) = match rest.split_once('/') {
                Some((h, f)) => (h, Some(f.to_owned())),
                None => (rest, None),
            };
            let (package, target) = match head.split_once("::") {
                Some((p, t)) => (p.to_owned(), Some(t.to_owned())),
                None => (head.to_owned(), None),
            };
            if package.is_empty() {
                return Err(format!("{t:?} names no package"));
            }
            return Ok(Selector::Cargo {
                package,
                target,
                filter,
                exact,
            });
        }
        if let Some((file, rest)) = t.split_once("::") {
            let parts: Vec<String> = rest.split("::").map(str::to_owned).collect();
            if file.is_empty() || parts.iter().any(String::is_empty) {
                return Err(format!(
                    "{t:?} is not a pytest node id (`file::Class::test`)"
                ));
            }
            // What the path names on disk (a link, a device) is checked in `Model::load`.
            fsutil::check_inside(file).map_err(|e| e.to_string())?;
            return Ok(Selector::NodeId {
                file: normalize_path(file),
                parts,
            });
        }
        fsutil::check_inside(t).map_err(|e| e.to_string())?;
        let path = normalize_path(t);
        if path.is_empty() {
            return Ok(Selector::Path { path, dir: true });
        }
        let dir = t.ends_with('/') || is_dir(&path);
        Ok(Selector::Path { path, dir })
    }

    /// The test file or directory this selector names, if any (`test_files`).
    pub fn test_file(&self) -> Option<&str> {
        match self {
            Selector::Path { path, .. } => Some(path),
            Selector::NodeId { file, .. } => Some(file),
            _ => None,
        }
    }

    /// Whether `case` is selected.
    pub fn matches(&self, case: &CaseView<'_>) -> bool {
        match self {
            Selector::Path { path, dir } => {
                if *dir {
                    dir_matches(path, case)
                } else {
                    file_matches(path, case).is_some()
                }
            }
            Selector::NodeId { file, parts } => {
                let Some(chain) = file_matches(file, case) else {
                    return false;
                };
                node_matches(parts, &chain, case.name)
            }
            Selector::Classname(g) => g.matcher.is_match(case.classname),
            Selector::Name(g) => g.matcher.is_match(case.name),
            Selector::Cargo {
                package,
                target,
                filter,
                exact,
            } => {
                let id_ok = match target {
                    None => {
                        binary_package(case.classname) == Some(package.as_str())
                            || binary_package(case.classname) == Some(&package.replace('-', "_"))
                    }
                    Some(t) => {
                        binary_package(case.classname) == Some(package.as_str())
                            && case.classname.rsplit("::").next() == Some(t.as_str())
                    }
                };
                id_ok
                    && match filter {
                        None => true,
                        Some(f) if *exact => case.name == f,
                        Some(f) => case.name.contains(f.as_str()),
                    }
            }
        }
    }
}

/// The package of a nextest binary id (`pkg`, `pkg::target`, `pkg::bin/name`).
fn binary_package(classname: &str) -> Option<&str> {
    let p = classname.split("::").next()?;
    (!p.is_empty()).then_some(p)
}

/// A test case as the matcher sees it: the file normalised once.
#[derive(Clone, Debug)]
pub struct CaseView<'a> {
    /// Normalised file, when the case has one.
    pub file: Option<String>,
    /// `classname`.
    pub classname: &'a str,
    /// `name`.
    pub name: &'a str,
}

impl<'a> CaseView<'a> {
    /// Normalises a case for matching.
    pub fn new(case: &'a TestCase) -> Self {
        Self {
            file: case
                .file
                .as_deref()
                .map(normalize_path)
                .filter(|f| !f.is_empty()),
            classname: &case.classname,
            name: &case.name,
        }
    }
}

/// The Python module of a `.py` path: `tests/test_x.py` → `tests.test_x`.
fn module_of(path: &str) -> Option<String> {
    path.strip_suffix(".py").map(|m| m.replace('/', "."))
}

/// When the case belongs to file `path`, returns its class chain (the classname after the
/// module, split on `.`; empty for module-level tests).
fn file_matches(path: &str, case: &CaseView<'_>) -> Option<Vec<String>> {
    let module = module_of(path);
    let chain = |classname: &str| -> Vec<String> {
        match &module {
            Some(m) => classname
                .strip_prefix(m.as_str())
                .and_then(|r| r.strip_prefix('.'))
                .map(|r| r.split('.').map(str::to_owned).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        }
    };
    match &case.file {
        Some(f) => (f == path).then(|| chain(case.classname)),
        None => match &module {
            Some(m) => {
                let c = case.classname;
                (c == m
                    || c.strip_prefix(m.as_str())
                        .is_some_and(|r| r.starts_with('.')))
                .then(|| chain(c))
            }
            None => {
                let name = path.rsplit('/').next().unwrap_or(path);
                (case.classname == path || case.classname == name).then(Vec::new)
            }
        },
    }
}

fn dir_matches(dir: &str, case: &CaseView<'_>) -> bool {
    if dir.is_empty() {
        return true;
    }
    match &case.file {
        Some(f) => f.strip_prefix(dir).is_some_and(|r| r.starts_with('/')),
        None => {
            let pkg = dir.replace('/', ".");
            case.classname
                .strip_prefix(pkg.as_str())
                .is_some_and(|r| r.starts_with('.'))
                || case
                    .classname
                    .strip_prefix(dir)
                    .is_some_and(|r| r.starts_with('/'))
        }
    }
}

fn name_matches(want: &str, name: &str) -> bool {
    name == want
        || (!want.contains('[')
            && name
                .strip_prefix(want)
                .is_some_and(|r| r.starts_with('[') && r.ends_with(']')))
}

fn node_matches(parts: &[String], chain: &[String], name: &str) -> bool {
    // `file::A::B::test`: classes A, B then the test; or `file::A::B`: every test in B.
    let (last, classes) = match parts.split_last() {
        Some(x) => x,
        None => return true,
    };
    // Form 1: parts are all classes (a prefix of the chain).
    if chain.len() >= parts.len() && chain[..parts.len()] == *parts {
        return true;
    }
    // Form 2: the last part is the test name, the rest is exactly the class chain.
    chain == classes && name_matches(last, name)
}

/// Splits a shell command line into words (quotes and backslashes honoured), and the
/// words into simple commands at `&&`, `||`, `;` and `|`.
pub(crate) fn shell_commands(cmd: &str) -> Vec<Vec<String>> {
    let mut cmds = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars().peekable();
    let flush = |word: &mut String, in_word: &mut bool, cmds: &mut Vec<Vec<String>>| {
        if *in_word {
            if let Some(last) = cmds.last_mut() {
                last.push(std::mem::take(word));
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            ';' | '|' | '&' => {
                flush(&mut word, &mut in_word, &mut cmds);
                if let Some(&n) = chars.peek()
                    && n == c
                {
                    chars.next();
                }
                cmds.push(Vec::new());
            }
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut cmds),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut cmds);
    cmds.retain(|c| !c.is_empty());
    cmds
}

/// What [`derive`] made of a `test.command`.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    pub selectors: Vec<String>,
    /// Parts of the command that narrow the selection but are not understood.
    pub ignored: Vec<String>,
}

/// pytest options (its own and common plugins') whose value is the next argument when
/// not written `--opt=value`: one list for deriving selectors and for building reruns.
pub(crate) const PYTEST_VALUE_OPTS: &[&str] = &[
    "-k",
    "-m",
    "-c",
    "-p",
    "-o",
    "-n",
    "-W",
    "-r",
    "--junitxml",
    "--junit-xml",
    "--rootdir",
    "--cov-report",
    "--cov-fail-under",
    "--cov-config",
    "--ignore",
    "--ignore-glob",
    "--deselect",
    "--maxfail",
    "--tb",
    "--durations",
    "--basetemp",
    "--confcutdir",
    "--log-level",
    "--log-file",
    "--junit-prefix",
    "--override-ini",
    "--import-mode",
    "--dist",
    "--reruns",
    "--timeout",
    "--html",
    "--capture",
    "--color",
    "--numprocesses",
    "--maxprocesses",
    "--report-log",
    "--json-report-file",
    "--random-order-seed",
    "--durations-min",
    "--log-format",
    "--log-date-format",
    "--log-file-level",
    "--log-file-format",
    "--log-file-date-format",
    "--log-cli-level",
    "--log-cli-format",
    "--log-cli-date-format",
    "--config-file",
    "--pythonwarnings",
    "--code-highlight",
    "--show-capture",
    "--cov",
    "--randomly-seed",
    "--hypothesis-seed",
    "--hypothesis-profile",
    "--hypothesis-verbosity",
    "--reruns-delay",
    "--only-rerun",
    "--splits",
    "--group",
    "--splitting-algorithm",
    "--durations-path",
];
const BATS_VALUE_OPTS: &[&str] = &[
    "-f",
    "--filter",
    "-j",
    "--jobs",
    "-F",
    "--formatter",
    "--report-formatter",
    "-o",
    "--output",
    "--filter-tags",
    "--filter-status",
    "--gather-test-outputs-in",
];
const CARGO_VALUE_OPTS: &[&str] = &[
    "--bin",
    "--example",
    "--bench",
    "--features",
    "-F",
    "--target",
    "--target-dir",
    "-j",
    "--jobs",
    "--profile",
    "--manifest-path",
    "--color",
    "--config",
    "-Z",
    "--message-format",
    "--cargo-profile",
    "--exclude",
    "--partition",
    "--retries",
    "--test-threads",
    "-j",
    "--archive-file",
    "--workspace-remap",
    "--tool-config-file",
];

/// Derives selectors from a `test.command`: the paths and node ids of a pytest command,
/// the files of a bats command, the package, target and filter of `cargo test` and
/// `cargo nextest run`. Other commands yield nothing.
pub(crate) fn derive(cmd: &str) -> Derived {
    let mut d = Derived::default();
    for words in shell_commands(cmd) {
        // Skip environment assignments and wrappers.
        let mut i = 0;
        while i < words.len()
            && (words[i].contains('=') && !words[i].starts_with('-')
                || matches!(
                    words[i].as_str(),
                    "env" | "exec" | "time" | "uv" | "poetry" | "pipenv" | "hatch" | "pdm"
                )
                || (matches!(words[i].as_str(), "run") && i > 0))
        {
            i += 1;
        }
        let rest = &words[i..];
        let prog = rest.first().map(|w| w.rsplit('/').next().unwrap_or(w));
        match prog {
            Some("pytest" | "py.test") => pytest(&rest[1..], &mut d),
            Some(p)
                if p.starts_with("python")
                    && rest.get(1).map(String::as_str) == Some("-m")
                    && rest.get(2).map(String::as_str) == Some("pytest") =>
            {
                pytest(&rest[3..], &mut d);
            }
            Some("bats") => bats(&rest[1..], &mut d),
            Some("cargo") => cargo(&rest[1..], &mut d),
            _ => {}
        }
    }
    d
}

fn pytest(args: &[String], d: &mut Derived) {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            continue;
        }
        if a.starts_with('-') {
            let name = a.split('=').next().unwrap_or(a);
            if matches!(
                name,
                "-k" | "-m" | "--deselect" | "--lf" | "--last-failed" | "--sw" | "--stepwise"
            ) {
                d.ignored.push(a.clone());
            }
            if !a.contains('=')
                && PYTEST_VALUE_OPTS.contains(&a.as_str())
                && let Some(v) = it.next()
                && matches!(a.as_str(), "-k" | "-m" | "--deselect")
                && let Some(last) = d.ignored.last_mut()
            {
                last.push(' ');
                last.push_str(v);
            }
            continue;
        }
        d.selectors.push(a.clone());
    }
}

fn bats(args: &[String], d: &mut Derived) {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a.starts_with('-') {
            if matches!(
                a.as_str(),
                "-f" | "--filter" | "--filter-tags" | "--filter-status"
            ) {
                d.ignored.push(a.clone());
            }
            if !a.contains('=') && BATS_VALUE_OPTS.contains(&a.as_str()) {
                it.next();
            }
            continue;
        }
        d.selectors.push(a.clone());
    }
}

fn cargo(args: &[String], d: &mut Derived) {
    let mut args = args.iter().peekable();
    // `cargo test` or `cargo nextest run` (toolchain `+stable` allowed first).
    if args.peek().is_some_and(|a| a.starts_with('+')) {
        args.next();
    }
    match args.next().map(String::as_str) {
        Some("test") | Some("t") => {}
        Some("nextest") => {
            if args.next().map(String::as_str) != Some("run") {
                return;
            }
        }
        _ => return,
    }
    let mut packages = Vec::new();
    let mut targets: Vec<Option<String>> = Vec::new();
    let mut filter = None;
    let mut exact = false;
    let mut after_dashes = false;
    while let Some(a) = args.next() {
        if after_dashes {
            if a == "--exact" {
                exact = true;
            } else if !a.starts_with('-') && filter.is_none() {
                filter = Some(a.clone());
            }
            continue;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with('-') => (n, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let mut value = |inline: Option<String>| inline.or_else(|| args.next().cloned());
        match name {
            "--" => after_dashes = true,
            "-p" | "--package" => packages.extend(value(inline)),
            "--test" => targets.push(value(inline)),
            "--lib" => targets.push(None),
            "-E" | "--filter-expr" | "--filterset" => {
                let v = value(inline).unwrap_or_default();
                d.ignored.push(format!("{name} {v}"));
            }
            "--skip" | "--exclude" => {
                let v = value(inline).unwrap_or_default();
                d.ignored.push(format!("{name} {v}"));
            }
            n if n.starts_with('-') => {
                if inline.is_none() && CARGO_VALUE_OPTS.contains(&n) {
                    args.next();
                }
            }
            _ => {
                if filter.is_none() {
                    filter = Some(a.clone());
                }
            }
        }
    }
    if packages.is_empty() {
        d.ignored.push("cargo test without `-p PACKAGE`".into());
        return;
    }
    if targets.is_empty() {
        targets.push(None);
    }
    for p in &packages {
        for t in &targets {
            let mut s = format!("cargo:{p}");
            if let Some(t) = t {
                s.push_str("::");
                s.push_str(t);
            }
            if let Some(f) = &filter {
                s.push('/');
                s.push_str(f);
            }
            if exact {
                s.push_str(" --exact");
            }
            d.selectors.push(s);
        }
    }
}

/// Which cases matched one script, and which declared test files saw a case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScriptMapping {
    /// Indices into the `cases` slice given to [`map_cases`], ascending.
    pub cases: Vec<usize>,
    /// Every declared test file (or directory) → whether any case matched it.
    pub test_files: BTreeMap<String, bool>,
}

/// The result of [`map_cases`]: every script of the model, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// Script id → its cases.
    pub scripts: BTreeMap<ScriptId, ScriptMapping>,
}

impl Mapping {
    /// Indices of cases that no script selected.
    pub fn unmatched(&self, total: usize) -> Vec<usize> {
        let mut seen = vec![false; total];
        for m in self.scripts.values() {
            for &i in &m.cases {
                if let Some(s) = seen.get_mut(i) {
                    *s = true;
                }
            }
        }
        seen.iter()
            .enumerate()
            .filter_map(|(i, s)| (!s).then_some(i))
            .collect()
    }
}

/// Maps normalised cases to the scripts they certify (a case may certify several).
/// Every script of the model gets an entry, even with no case; when an id is duplicated
/// (a `lint` error) the entry is the first script's.
///
/// The mapping is computed with an index rather than by trying every selector of every
/// script on every case. A case with a `file` can only be selected by a path or
/// node-id selector naming that file or one of its ancestor directories, or by a
/// selector that does not look at the file at all (`classname:`, `name:`, `cargo:`,
/// the empty directory). The index looks those candidates up by path; each candidate
/// is then checked with the selector's own `matches`. Cases without a `file` are
/// checked against every script. The cost is about cases × (candidates + path depth)
/// instead of scripts × cases × selectors; the result equals the plain definition
/// (tested on random cases).
pub fn map_cases(model: &Model, cases: &[TestCase]) -> Mapping {
    let threads = crate::par::threads_for(cases.len(), 100_000);
    map_cases_in(model, cases, cases.len().div_ceil(threads).max(1), threads)
}

/// [`map_cases`] over ranges of `chunk` cases on `threads` threads.
fn map_cases_in(model: &Model, cases: &[TestCase], chunk: usize, threads: usize) -> Mapping {
    let scripts = &model.scripts;
    let index = CandidateIndex::new(scripts);
    // Cases are independent: contiguous ranges are mapped on every core and joined in
    // order, so each script's case list stays ascending.
    let chunk = chunk.max(1);
    let starts: Vec<usize> = (0..cases.len()).step_by(chunk).collect();
    let parts = crate::par::par_map(&starts, threads, |&start| {
        let end = (start + chunk).min(cases.len());
        map_range(scripts, &index, cases, start..end)
    });

    let mut out = Mapping::default();
    let mut per_script: Vec<ScriptMapping> = scripts
        .iter()
        .map(|s| ScriptMapping {
            cases: Vec::new(),
            test_files: s.test_files.iter().map(|f| (f.clone(), false)).collect(),
        })
        .collect();
    for part in parts {
        for (m, (hit_cases, hit_files)) in per_script.iter_mut().zip(part) {
            m.cases.extend(hit_cases);
            for f in hit_files {
                if let Some(v) = m.test_files.get_mut(f) {
                    *v = true;
                }
            }
        }
    }
    for (s, m) in scripts.iter().zip(per_script) {
        out.scripts.entry(s.id.clone()).or_insert(m);
    }
    out
}

/// Which scripts can select a case, by the case's file: scripts whose path or node-id
/// selectors name that file or a folder above it, and scripts with any other selector.
struct CandidateIndex<'m> {
    by_path: HashMap<&'m str, Vec<usize>>,
    global: Vec<usize>,
    all: Vec<usize>,
}

impl<'m> CandidateIndex<'m> {
    fn new(scripts: &'m [Script]) -> Self {
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut global: Vec<usize> = Vec::new();
        for (si, s) in scripts.iter().enumerate() {
            let mut is_global = false;
            for sel in &s.selectors {
                match sel {
                    Selector::Path { path, .. } if !path.is_empty() => {
                        by_path.entry(path.as_str()).or_default().push(si);
                    }
                    Selector::NodeId { file, .. } => {
                        by_path.entry(file.as_str()).or_default().push(si);
                    }
                    _ => is_global = true,
                }
            }
            if is_global {
                global.push(si);
            }
        }
        Self {
            by_path,
            global,
            all: (0..scripts.len()).collect(),
        }
    }
}

/// Per script, the cases of `range` it selects (ascending) and the declared test files
/// those cases matched.
type RangeMapping<'m> = Vec<(Vec<usize>, Vec<&'m str>)>;

fn map_range<'m>(
    scripts: &'m [Script],
    index: &CandidateIndex<'_>,
    cases: &[TestCase],
    range: std::ops::Range<usize>,
) -> RangeMapping<'m> {
    let mut per_script: RangeMapping<'m> = vec![(Vec::new(), Vec::new()); scripts.len()];
    let mut stamp = vec![usize::MAX; scripts.len()];
    let mut candidates: Vec<usize> = Vec::new();
    for i in range {
        let view = CaseView::new(&cases[i]);
        candidates.clear();
        match &view.file {
            None => candidates.extend_from_slice(&index.all),
            Some(f) => {
                let mut add = |list: &[usize]| {
                    for &si in list {
                        if stamp[si] != i {
                            stamp[si] = i;
                            candidates.push(si);
                        }
                    }
                };
                if let Some(l) = index.by_path.get(f.as_str()) {
                    add(l);
                }
                for (pos, b) in f.bytes().enumerate() {
                    if b == b'/'
                        && pos > 0
                        && let Some(l) = index.by_path.get(&f[..pos])
                    {
                        add(l);
                    }
                }
                add(&index.global);
            }
        }
        for &si in &candidates {
            let (hit_cases, hit_files) = &mut per_script[si];
            let mut hit = false;
            for sel in &scripts[si].selectors {
                if sel.matches(&view) {
                    hit = true;
                    // A matching node id has already matched its file.
                    if let Some(f) = sel.test_file()
                        && !hit_files.contains(&f)
                    {
                        hit_files.push(f);
                    }
                }
            }
            if hit {
                hit_cases.push(i);
            }
        }
    }
    per_script
}

/// The definition [`map_cases`] is tested against: every selector of every script on
/// every case.
#[cfg(test)]
fn map_cases_naive(model: &Model, cases: &[TestCase]) -> Mapping {
    let views: Vec<CaseView<'_>> = cases.iter().map(CaseView::new).collect();
    let mut out = Mapping::default();
    for script in &model.scripts {
        let mut m = ScriptMapping::default();
        for f in &script.test_files {
            m.test_files.insert(f.clone(), false);
        }
        for (i, case) in views.iter().enumerate() {
            let mut hit = false;
            for sel in &script.selectors {
                if sel.matches(case) {
                    hit = true;
                    if let Some(f) = sel.test_file() {
                        let file_hit = match sel {
                            Selector::NodeId { file, .. } => file_matches(file, case).is_some(),
                            _ => true,
                        };
                        if file_hit && let Some(v) = m.test_files.get_mut(f) {
                            *v = true;
                        }
                    }
                }
            }
            if hit {
                m.cases.push(i);
            }
        }
        out.scripts.entry(script.id.clone()).or_insert(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Status;
    use std::path::Path;

    fn case(file: Option<&str>, classname: &str, name: &str) -> TestCase {
        TestCase {
            file: file.map(str::to_owned),
            classname: classname.into(),
            name: name.into(),
            status: Status::Passed,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: None,
        }
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s, |p| !p.contains('.')).unwrap()
    }

    fn hits(s: &str, c: &TestCase) -> bool {
        sel(s).matches(&CaseView::new(c))
    }

    #[test]
    fn paths_that_leave_the_repository_are_rejected_in_every_form() {
        for bad in [
            "/dev/zero",
            "/dev/zero::t",
            "../../etc/passwd::t",
            "tests/../../x.py::t",
            "..\\x.py",
            "C:/Windows/x.py::t",
            "\\\\server\\share\\t.py",
            "tests/../../../etc",
        ] {
            let e = Selector::parse(bad, |_| false).unwrap_err();
            assert!(e.contains("inside the repository"), "{bad:?}: {e}");
        }
        assert!(Selector::parse("tests/t.py::T::x", |_| false).is_ok());
        assert!(Selector::parse("tests/..x/t.py", |_| false).is_ok());
    }

    /// Asserts which selectors hit the case and which miss it.
    fn assert_hits(c: &TestCase, hit: &[&str], miss: &[&str]) {
        for s in hit {
            assert!(hits(s, c), "{s} should select {c:?}");
        }
        for s in miss {
            assert!(!hits(s, c), "{s} should not select {c:?}");
        }
    }

    #[test]
    fn file_selector_is_exact_never_a_prefix() {
        let a = case(Some("tests/test_a.py"), "tests.test_a", "test_1");
        let ab = case(Some("tests/test_ab.py"), "tests.test_ab", "test_1");
        assert_hits(&a, &["tests/test_a.py", "./tests//test_a.py"], &[]);
        assert_hits(&ab, &[], &["tests/test_a.py"]);
    }

    #[test]
    fn xunit2_cases_map_through_the_module_path() {
        let c = case(None, "tests.test_x.TestA", "test_b");
        assert_hits(
            &c,
            &["tests/test_x.py", "tests/"],
            &["tests/test_x2.py", "tests/test.py", "test/"],
        );
        let module_level = case(None, "tests.test_x", "test_f");
        assert_hits(&module_level, &["tests/test_x.py"], &[]);
    }

    #[test]
    fn node_ids_match_class_chain_and_name() {
        let c = case(Some("tests/test_x.py"), "tests.test_x.TestA", "test_b[1-2]");
        assert_hits(
            &c,
            &[
                "tests/test_x.py::TestA::test_b[1-2]",
                "tests/test_x.py::TestA::test_b",
                "tests/test_x.py::TestA",
            ],
            &[
                "tests/test_x.py::TestA::test_bb",
                "tests/test_x.py::TestAB",
                "tests/test_x.py::test_b",
            ],
        );
        let f = case(None, "tests.test_x", "test_f");
        assert_hits(
            &f,
            &["tests/test_x.py::test_f"],
            &["tests/test_x.py::test_g"],
        );
    }

    #[test]
    fn globs_match_whole_attributes() {
        let c = case(None, "pkg.mod.TestA", "test_one");
        assert_hits(
            &c,
            &["classname:pkg.mod.*", "name:test_*"],
            &["classname:pkg.mo", "name:one"],
        );
    }

    #[test]
    fn bats_cases_match_by_file_name() {
        let c = case(None, "deploy.bats", "deploys");
        assert_hits(
            &c,
            &["tests/bats/deploy.bats"],
            &["tests/bats/deploy2.bats"],
        );
    }

    #[test]
    fn pytest_commands_yield_paths_and_node_ids() {
        let d = derive(
            "pytest -q tests/unit/test_a.py 'tests/test_b.py::TestB::test_c[x y]' --junitxml out.xml -k fast",
        );
        assert_eq!(
            d.selectors,
            [
                "tests/unit/test_a.py",
                "tests/test_b.py::TestB::test_c[x y]"
            ]
        );
        assert_eq!(d.ignored, ["-k fast"]);
        let d = derive("cd repo && python3 -m pytest tests/ --cov=scripts");
        assert_eq!(d.selectors, ["tests/"]);
    }

    #[test]
    fn bats_and_cargo_commands() {
        assert_eq!(
            derive("bats -t tests/a.bats tests/b.bats").selectors,
            ["tests/a.bats", "tests/b.bats"]
        );
        assert_eq!(
            derive("cargo nextest run -p mycrate --test cli deploy").selectors,
            ["cargo:mycrate::cli/deploy"]
        );
        assert_eq!(
            derive("cargo test -p a -- --exact x::y").selectors,
            ["cargo:a/x::y --exact"]
        );
        assert_eq!(
            derive("shellcheck scripts/x.sh").selectors,
            Vec::<String>::new()
        );
        assert_eq!(
            derive("cargo test").ignored,
            ["cargo test without `-p PACKAGE`"]
        );
    }

    #[test]
    fn cargo_selectors_match_nextest_binary_ids() {
        let c = case(None, "mycrate::cli", "deploy::works");
        assert!(hits("cargo:mycrate", &c));
        assert!(hits("cargo:mycrate::cli/deploy", &c));
        assert!(!hits("cargo:mycrate::other", &c));
        assert!(!hits("cargo:mycrat", &c));
    }

    #[test]
    fn shell_splitting_honours_quotes_and_operators() {
        assert_eq!(
            shell_commands("a 'b c' \"d\\\"e\"; f|g && h"),
            vec![
                vec!["a".to_owned(), "b c".into(), "d\"e".into()],
                vec!["f".into()],
                vec!["g".into()],
                vec!["h".into()]
            ]
        );
    }

    fn models() -> Vec<Model> {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        ["proof/repo", "model/goldenpath"]
            .iter()
            .filter_map(|d| {
                let root = base.join(d);
                root.exists()
                    .then(|| Model::load(&root, &root.join("proofgate.yaml"), false).ok())
                    .flatten()
                    .map(|(m, _)| m)
            })
            .collect()
    }

    /// Cases whose files, class names and names come from the models' own selectors
    /// and test files, mangled, so that every selector kind gets hits and near misses.
    fn random_cases(model: &Model, n: usize, seed: u64) -> Vec<TestCase> {
        let mut files: Vec<Option<String>> = vec![None, Some("./".into())];
        let mut classes: Vec<String> = vec![String::new(), "semver_check".into()];
        for s in &model.scripts {
            for f in &s.test_files {
                files.push(Some(f.clone()));
                files.push(Some(format!("./{f}")));
                files.push(Some(format!("{f}/inner/test_x.py")));
                files.push(Some(format!("{f}x")));
                let module = f.trim_end_matches(".py").replace('/', ".");
                classes.push(module.clone());
                classes.push(format!("{module}.TestA"));
            }
            classes.push(s.id.as_str().to_owned());
        }
        let names = ["test_a", "test_b[1]", "tests::parses_three_parts", "x"];
        let mut state = seed;
        let mut next = move |k: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % k
        };
        (0..n)
            .map(|_| TestCase {
                file: files[next(files.len())].clone(),
                classname: classes[next(classes.len())].clone(),
                name: names[next(names.len())].into(),
                status: Status::Passed,
                attempts: 1,
                duration: 0.0,
                line: None,
                message: None,
            })
            .collect()
    }

    #[test]
    fn indexed_mapping_equals_the_model_mapping() {
        let models = models();
        assert!(!models.is_empty());
        for (k, model) in models.iter().enumerate() {
            for seed in 0..5u64 {
                let cases = random_cases(model, 3000, seed * 31 + k as u64);
                let want = map_cases_naive(model, &cases);
                let got = map_cases(model, &cases);
                assert_eq!(got, want, "model {k}, seed {seed}");
                // Cut into uneven ranges on several threads: the same mapping.
                let split = map_cases_in(model, &cases, 701, 3);
                assert_eq!(split, want, "model {k}, seed {seed}, in ranges");
                assert!(
                    want.scripts.values().any(|m| !m.cases.is_empty()),
                    "the random cases must select something"
                );
            }
        }
    }
}

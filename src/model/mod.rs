//! The certification model: scripts and their headers, `proofgate.yaml`, test
//! selectors, policy and the certification matrix (DESIGN.md §2.1).
//!
//! [`Model::load`] reads the optional `proofgate.yaml` and every script header under the
//! script roots. Problems a person must fix in a header come back as [`Finding`]s (with
//! file, line and column); only an unreadable or invalid `proofgate.yaml` is a hard
//! [`ModelError`]. A gate must not pass on a model whose findings include errors: a script
//! with a broken header has `evidence: None`, as if it had no header.

mod config;
mod fastyaml;
mod header;
mod id;
pub mod matrix;
mod report;
mod selector;
mod yamlpos;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fsutil;
use serde_yaml_ng::Value;

pub use config::{
    DEFAULT_EXCLUDE, DEFAULT_INCLUDE, DEFAULT_ROOTS, FlakyPolicy, Policy, Reuse, TrustedKey,
    parse_duration,
};
pub use header::{
    Allowed, DryRun, Evidence, Extracted, Header, HeaderFormat, Impact, RawHeader, RiskProfile,
    TestSpec, extract,
};
pub use id::{ScriptId, ScriptIdError};
pub use report::{CaseRef, MapReport, ScriptReport, map_report};
pub(crate) use selector::PYTEST_VALUE_OPTS;
pub use selector::{
    CaseView, GlobSel, Mapping, ScriptMapping, Selector, map_cases, normalize_path,
};

use header::Checker;
use yamlpos::PosIndex;

/// At most this many bytes of a script are read to find its header.
pub const HEADER_READ_LIMIT: u64 = 1 << 20;

/// The largest header YAML parsed (real headers are well under 4 KiB).
pub const HEADER_YAML_LIMIT: usize = 64 * 1024;

/// One governed (or ungoverned) script.
#[derive(Clone, Debug, Serialize)]
pub struct Script {
    /// The validated id. For a script without a usable id (no header, broken header,
    /// invalid id) it is derived from the file name, and `evidence` is `None`.
    pub id: ScriptId,
    /// Repository-relative path, `/`-separated.
    pub path: String,
    /// The header, typed; unknown keys kept in `extra`.
    pub header: Header,
    /// The evidence its tests must leave; `None`: ungoverned (no usable header).
    pub evidence: Option<Evidence>,
    /// Maturity 0–3: the header's value; 1 when a header omits it; 0 when ungoverned.
    pub maturity: u8,
    /// Declared test files and directories (repo-relative), from the selectors.
    pub test_files: Vec<String>,
    /// Which test cases belong to this script.
    pub selectors: Vec<Selector>,
    /// 1-based line where the header starts (in `proofgate.yaml` for declared scripts),
    /// or 1 when there is none.
    pub header_line: u32,
    /// How the header is written; `None` when there is none.
    pub format: Option<HeaderFormat>,
}

impl Script {
    /// Whether the script has a usable header (a valid id and a parsed header).
    pub fn is_governed(&self) -> bool {
        self.evidence.is_some()
    }
}

/// The certification model of one repository.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    /// The repository root everything is relative to.
    pub root: PathBuf,
    /// Every script found, sorted by id (then path).
    pub scripts: Vec<Script>,
    /// The gate's policy.
    pub policy: Policy,
    /// Keys whose signatures the gate trusts.
    pub trusted_keys: Vec<TrustedKey>,
    /// The values headers are checked against.
    pub allowed: Allowed,
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed: `lint` exits 1.
    Error,
    /// Worth fixing: `lint --strict` exits 1.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A lint-level problem, at a file position. Displays as `path:line:column: message`,
/// path and message escaped ([`crate::github::untrusted`]): both can quote a pull
/// request's file names and header text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Repository-relative path of the file the problem is in.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// A stable short code (`bad-value`, `ungoverned`, `duplicate-id` …).
    pub code: &'static str,
    /// What is wrong, starting with the key path when there is one.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::github::untrusted;
        write!(
            f,
            "{}:{}:{}: {}",
            untrusted(&self.path),
            self.line,
            self.column,
            untrusted(&self.message)
        )
    }
}

/// Why the model could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The configuration file was named but does not exist.
    #[error("configuration file `{path}` does not exist")]
    ConfigMissing {
        /// The file.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `proofgate.yaml` is invalid.
    #[error("invalid `{path}`:{}", render_findings(.findings))]
    Config {
        /// The file, as displayed.
        path: String,
        /// Every problem, with line and column.
        findings: Vec<Finding>,
    },
}

fn render_findings(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("\n  {f}")).collect()
}

/// Where keys of a header live in their file.
struct Locator<'a> {
    display: &'a str,
    pos: PosRef<'a>,
    /// Prefix of the header's keys in the index (`scripts.declared[0].` in the config).
    prefix: &'a str,
    raw: Option<&'a RawHeader>,
    /// Where to point when nothing better is known.
    fallback: (u32, u32),
}

/// A key index, built on first use: most headers have nothing to report.
enum PosRef<'a> {
    Built(&'a PosIndex),
    Lazy(&'a str, std::cell::OnceCell<PosIndex>),
}

impl PosRef<'_> {
    fn get(&self) -> &PosIndex {
        match self {
            PosRef::Built(p) => p,
            PosRef::Lazy(yaml, cell) => cell.get_or_init(|| PosIndex::build(yaml)),
        }
    }
}

impl Locator<'_> {
    fn at(&self, key: &str) -> (u32, u32) {
        let full = format!("{}{}", self.prefix, key);
        match self.pos.get().find(&full) {
            Some((l, c)) => match self.raw {
                Some(raw) => raw.file_pos(l, c),
                None => (l, c),
            },
            None => self.fallback,
        }
    }

    /// Where the top-level `id` key is: a plain `id:` line needs no index.
    fn id_at(&self) -> (u32, u32) {
        if let (Some(raw), PosRef::Lazy(yaml, _)) = (self.raw, &self.pos) {
            for (i, line) in yaml.lines().enumerate() {
                if let Some(rest) = line.strip_prefix("id")
                    && rest.trim_start_matches(' ').starts_with(':')
                {
                    return raw.file_pos(u32::try_from(i + 1).unwrap_or(u32::MAX), 1);
                }
            }
        }
        self.at("id")
    }

    fn finding(
        &self,
        severity: Severity,
        key: &str,
        code: &'static str,
        message: String,
    ) -> Finding {
        let (line, column) = self.at(key);
        Finding {
            severity,
            path: self.display.to_owned(),
            line,
            column,
            code,
            message,
        }
    }
}

/// What a repository-relative path names on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnDisk {
    /// Nothing (yet): a missing file is its own finding.
    Missing,
    /// A regular file inside the root (through symlinks that stay inside).
    File,
    /// A directory inside the root.
    Dir,
}

/// Checks that `rel` (already free of `..` and absolute forms) names nothing outside
/// `root` and nothing but a regular file or a directory: a symlink that leads out of the
/// repository, a device (`/dev/zero` through a link), a FIFO or a socket is refused,
/// since `generate` and `verify` would read it. The reason names the path.
fn check_on_disk(root: &Path, rel: &str) -> Result<OnDisk, String> {
    probe_on_disk(root, rel).map(|(d, _)| d)
}

/// [`check_on_disk`], walking `rel` one component at a time with `lstat`, and the first
/// symbolic link met on the way. A path with no link on it is inside the root by
/// construction (`..` is refused before), so it is not resolved: one `lstat` per
/// component instead of a `realpath` of the path and of the root.
fn probe_on_disk(root: &Path, rel: &str) -> Result<(OnDisk, Option<PathBuf>), String> {
    let mut at = root.to_path_buf();
    let mut last = None;
    for part in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Ok((resolved_on_disk(root, rel)?, Some(at)));
            }
            Ok(m) => last = Some(m),
            Err(_) => return Ok((OnDisk::Missing, None)),
        }
    }
    match last {
        Some(meta) => classify(&meta, rel).map(|d| (d, None)),
        None => Ok((resolved_on_disk(root, rel)?, None)),
    }
}

/// A regular file or a directory; anything else is refused, naming `rel`.
fn classify(meta: &std::fs::Metadata, rel: &str) -> Result<OnDisk, String> {
    if meta.is_file() {
        Ok(OnDisk::File)
    } else if meta.is_dir() {
        Ok(OnDisk::Dir)
    } else {
        Err(format!(
            "`{rel}` is neither a regular file nor a directory (a device, FIFO or socket cannot be a test file)"
        ))
    }
}

/// [`check_on_disk`] for a path with a symbolic link on it: the link is followed and the
/// real path must stay inside the root.
fn resolved_on_disk(root: &Path, rel: &str) -> Result<OnDisk, String> {
    let path = root.join(rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(_) => return Ok(OnDisk::Missing),
    };
    let followed = if meta.file_type().is_symlink() {
        let real = real_inside(root, &path, rel, true)?;
        std::fs::metadata(&real).map_err(|e| format!("`{rel}` cannot be read ({e})"))?
    } else {
        // A link in a parent folder can still lead out: compare the real path too.
        if rel.contains('/') {
            real_inside(root, &path, rel, false)?;
        }
        meta
    };
    classify(&followed, rel)
}

/// A test path is hashed without following symbolic links (`proof::testpaths`): one that
/// is, or passes through, a link inside the repository is refused here too, so `lint`
/// says what `generate` would refuse. `link` is the first link on the way.
fn link_on_the_way(root: &Path, rel: &str, link: &Path) -> String {
    format!(
        "`{rel}` is reached through the symbolic link `{}`; test paths are hashed \
         without following links: name the real path",
        fsutil::repo_relative(root, link)
    )
}

/// The real path of `path` (`rel` under `root`), refused when it lies outside `root`.
/// `link`: `path` itself is a symbolic link (the reasons say so).
fn real_inside(root: &Path, path: &Path, rel: &str, link: bool) -> Result<PathBuf, String> {
    let (unresolved, leads) = if link {
        (
            "is a symbolic link that cannot be followed",
            "is a symbolic link to",
        )
    } else {
        ("cannot be resolved", "resolves to")
    };
    let real = std::fs::canonicalize(path).map_err(|e| format!("`{rel}` {unresolved} ({e})"))?;
    let base = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if !real.starts_with(&base) {
        return Err(format!(
            "`{rel}` {leads} `{}`, outside the repository",
            real.display()
        ));
    }
    Ok(real)
}

/// A selector as written: where (key path, line, column; `None`: derived from
/// `test.command`), its text, and whether it was derived.
type Written = (Option<(String, u32, u32)>, String, bool);

/// A script as built, with what the duplicate check needs.
struct Built {
    script: Script,
    /// Where its `id` is written: file shown and position.
    id_at: Option<(String, u32, u32)>,
}

struct Ctx<'a> {
    root: &'a Path,
    cfg: &'a config::Config,
    /// How `proofgate.yaml` is named in findings.
    cfg_name: &'a str,
    findings: Vec<Finding>,
}

/// The script a header check is about: its path, where its keys are, and what the later
/// checks depend on.
struct ScriptCx<'s, 'l> {
    rel: &'s str,
    loc: &'s Locator<'l>,
    /// Prefix of key paths in messages (`scripts.declared[0]`); empty for headers.
    keyp: &'s str,
    governed: bool,
    evidence: Option<Evidence>,
}

impl ScriptCx<'_, '_> {
    /// The key path of `k` as messages show it.
    fn kp(&self, k: &str) -> String {
        if self.keyp.is_empty() {
            k.to_owned()
        } else {
            format!("{}.{k}", self.keyp)
        }
    }
}

/// What parsing a selector learnt about its test file on disk.
struct Probe {
    /// What the test file names, when it was checked.
    on_disk: Option<OnDisk>,
    /// The last path the parser asked about, and whether it existed.
    probed: Option<(String, bool)>,
}

impl Probe {
    /// Whether the test file `f` exists, asking the disk only when nothing was learnt.
    fn exists(&self, root: &Path, f: &str) -> bool {
        match (&self.probed, self.on_disk) {
            (_, Some(d)) => d != OnDisk::Missing,
            (Some((p, e)), None) if p == f => *e,
            _ => root.join(f).exists(),
        }
    }
}

impl Model {
    /// Loads `proofgate.yaml` (optional unless `config_required`) and every script header
    /// under the script roots. Findings are lint-level problems (errors and warnings with
    /// file:line:col), sorted by file and position; a hard error only for an unreadable
    /// or invalid configuration.
    pub fn load(
        root: &Path,
        config: &Path,
        config_required: bool,
    ) -> Result<(Model, Vec<Finding>), ModelError> {
        let cfg_display = fsutil::repo_relative(root, config);
        let cfg = read_config(config, &cfg_display, config_required)?;
        let mut cx = Ctx {
            root,
            cfg: &cfg,
            cfg_name: &cfg_display,
            findings: Vec::new(),
        };
        let files = discover(&mut cx, &cfg_display);
        let mut built = cx.scripts_from_files(&files);
        let on_disk: HashSet<String> = files.iter().cloned().collect();
        for d in &cfg.declared {
            if let Some(b) = cx.script_from_config(d, &cfg_display, &on_disk) {
                built.push(b);
            }
        }
        cx.check_unique_ids(&built);
        cx.check_selector_ids(&built);
        let mut findings = cx.findings;
        findings.sort_by(|a, b| {
            (&a.path, a.line, a.column, a.severity, &a.message)
                .cmp(&(&b.path, b.line, b.column, b.severity, &b.message))
        });
        let mut scripts: Vec<Script> = built.into_iter().map(|b| b.script).collect();
        scripts.sort_by(|a, b| (&a.id, &a.path).cmp(&(&b.id, &b.path)));
        Ok((
            Model {
                root: root.to_path_buf(),
                scripts,
                policy: cfg.policy.clone(),
                trusted_keys: cfg.trusted_keys.clone(),
                allowed: cfg.allowed.clone(),
            },
            findings,
        ))
    }

    /// The script with this id, if any (the first one when ids are duplicated).
    pub fn script(&self, id: &ScriptId) -> Option<&Script> {
        self.scripts.iter().find(|s| &s.id == id)
    }
}

/// Reads and checks `proofgate.yaml`; a missing file gives the defaults unless it is
/// required.
fn read_config(
    config: &Path,
    cfg_display: &str,
    config_required: bool,
) -> Result<config::Config, ModelError> {
    match std::fs::read(config) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            config::parse(&text, cfg_display).map_err(|findings| ModelError::Config {
                path: cfg_display.to_owned(),
                findings,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if config_required {
                return Err(ModelError::ConfigMissing {
                    path: config.to_path_buf(),
                });
            }
            Ok(config::Config::default())
        }
        Err(source) => Err(ModelError::Io {
            path: config.to_path_buf(),
            source,
        }),
    }
}

fn build_globs(globs: &[String]) -> globset::GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        if let Ok(g) = globset::Glob::new(g) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| globset::GlobSet::empty())
}

/// Lists the script files under the roots, repo-relative, sorted.
fn discover(cx: &mut Ctx<'_>, cfg_display: &str) -> Vec<String> {
    let include = build_globs(&cx.cfg.include);
    let exclude = build_globs(&cx.cfg.exclude);
    let mut out = Vec::new();
    for (i, r) in cx.cfg.roots.iter().enumerate() {
        let dir = cx.root.join(r);
        if !dir.is_dir() {
            let configured = cx.cfg.roots != DEFAULT_ROOTS;
            let key = format!("scripts.roots[{i}]");
            let (line, column) = cx.cfg.pos.find(&key).unwrap_or((1, 1));
            cx.findings.push(Finding {
                severity: if configured {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                path: if configured {
                    cfg_display.to_owned()
                } else {
                    r.clone()
                },
                line: if configured { line } else { 1 },
                column: if configured { column } else { 1 },
                code: "no-script-root",
                message: format!("script root `{r}` is not a directory"),
            });
            continue;
        }
        if let Err(why) = check_on_disk(cx.root, r) {
            let key = format!("scripts.roots[{i}]");
            let (line, column) = cx.cfg.pos.find(&key).unwrap_or((1, 1));
            cx.findings.push(Finding {
                severity: Severity::Error,
                path: cfg_display.to_owned(),
                line,
                column,
                code: "outside-repository",
                message: format!("{key}: {why}"),
            });
            continue;
        }
        let walk = ignore::WalkBuilder::new(&dir)
            .sort_by_file_name(|a, b| a.cmp(b))
            .build();
        for entry in walk {
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let rel = fsutil::repo_relative(cx.root, entry.path());
            if include.is_match(&rel) && !exclude.is_match(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(8 * 1024);
    std::fs::File::open(path)?
        .take(HEADER_READ_LIMIT)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

impl Ctx<'_> {
    fn error(&mut self, path: &str, line: u32, column: u32, code: &'static str, message: String) {
        self.findings.push(Finding {
            severity: Severity::Error,
            path: path.to_owned(),
            line,
            column,
            code,
            message,
        });
    }

    fn ungoverned(&self, rel: &str, format: Option<HeaderFormat>, line: u32) -> Built {
        Built {
            script: Script {
                id: ScriptId::derive_from_path(rel),
                path: rel.to_owned(),
                header: Header::default(),
                evidence: None,
                maturity: 0,
                test_files: Vec::new(),
                selectors: Vec::new(),
                header_line: line,
                format,
            },
            id_at: None,
        }
    }

    /// Reads and checks the header of every file. Files are independent: they are spread
    /// over the cores, results and findings kept in the order of `files`.
    fn scripts_from_files(&mut self, files: &[String]) -> Vec<Built> {
        let threads = if files.len() < 256 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(16)
        };
        let (root, cfg, cfg_name) = (self.root, self.cfg, self.cfg_name);
        let parts = crate::par::par_map(files, threads, |rel| {
            let mut local = Ctx {
                root,
                cfg,
                cfg_name,
                findings: Vec::new(),
            };
            let b = local.script_from_file(rel);
            (b, local.findings)
        });
        let mut built = Vec::with_capacity(files.len());
        for (b, f) in parts {
            built.extend(b);
            self.findings.extend(f);
        }
        built
    }

    /// Ids are unique: a second use names the first.
    fn check_unique_ids(&mut self, built: &[Built]) {
        let mut first: BTreeMap<&ScriptId, (&str, u32, u32)> = BTreeMap::new();
        for b in built {
            let Some((file, line, col)) = &b.id_at else {
                continue;
            };
            match first.get(&b.script.id) {
                Some((f0, l0, c0)) => self.findings.push(Finding {
                    severity: Severity::Error,
                    path: file.clone(),
                    line: *line,
                    column: *col,
                    code: "duplicate-id",
                    message: format!(
                        "id: {:?} is already used by {f0}:{l0}:{c0}",
                        b.script.id.as_str()
                    ),
                }),
                None => {
                    first.insert(&b.script.id, (file, *line, *col));
                }
            }
        }
    }

    /// Selectors in the configuration must name known scripts.
    fn check_selector_ids(&mut self, built: &[Built]) {
        for (id, (key, _)) in &self.cfg.selectors {
            if !built
                .iter()
                .any(|b| b.script.id.as_str() == id && b.id_at.is_some())
            {
                let (line, column) = self.cfg.pos.find(key).unwrap_or((1, 1));
                self.findings.push(Finding {
                    severity: Severity::Error,
                    path: self.cfg_name.to_owned(),
                    line,
                    column,
                    code: "unknown-script",
                    message: format!("{key}: no script has the id {id:?}"),
                });
            }
        }
    }

    fn script_from_file(&mut self, rel: &str) -> Option<Built> {
        let bytes = match read_head(&self.root.join(rel)) {
            Ok(b) => b,
            Err(e) => {
                self.error(
                    rel,
                    1,
                    1,
                    "unreadable",
                    format!("cannot read the script: {e}"),
                );
                return Some(self.ungoverned(rel, None, 1));
            }
        };
        let raw = match extract(rel, &bytes) {
            Extracted::None => {
                self.error(
                    rel,
                    1,
                    1,
                    "ungoverned",
                    "no header: the script is ungoverned (maturity 0); add a `# ---` … `# ---` comment block or a docstring header".into(),
                );
                return Some(self.ungoverned(rel, None, 1));
            }
            Extracted::Unclosed { line, format } => {
                self.error(
                    rel,
                    line,
                    1,
                    "header-unclosed",
                    "the header opened here is never closed with a `---` line".into(),
                );
                return Some(self.ungoverned(rel, Some(format), line));
            }
            Extracted::Header(raw) => raw,
        };
        // Bounded before the parser sees it: size, then nesting depth (deeply nested flow
        // collections parse in quadratic time).
        if raw.yaml.len() > HEADER_YAML_LIMIT {
            self.error(
                rel,
                raw.start_line,
                1,
                "yaml-too-large",
                format!(
                    "the header is {} bytes of YAML, more than the limit of {HEADER_YAML_LIMIT}; keep the header short and move the rest to proofgate.yaml or the script",
                    raw.yaml.len()
                ),
            );
            return Some(self.ungoverned(rel, Some(raw.format), raw.start_line));
        }
        if let Err(deep) = yamlpos::check_depth(&raw.yaml) {
            let (line, column) = raw.file_pos(deep.at.0, deep.at.1);
            self.error(
                rel,
                line,
                column,
                "yaml-too-deep",
                format!("invalid YAML in the header: {}", deep.message()),
            );
            return Some(self.ungoverned(rel, Some(raw.format), raw.start_line));
        }
        let parsed = match fastyaml::parse(&raw.yaml) {
            Some(v) => Ok(v),
            None => serde_yaml_ng::from_str(&raw.yaml),
        };
        let value: Value = match parsed {
            Ok(v) => v,
            Err(e) => {
                let (msg, pos) = header::yaml_error_parts_mapped(&e, |l, c| raw.file_pos(l, c));
                let (line, column) = match pos {
                    Some(p) => p,
                    None => (raw.start_line, 1),
                };
                self.error(
                    rel,
                    line,
                    column,
                    "yaml",
                    format!("invalid YAML in the header: {msg}"),
                );
                return Some(self.ungoverned(rel, Some(raw.format), raw.start_line));
            }
        };
        let loc = Locator {
            display: rel,
            pos: PosRef::Lazy(&raw.yaml, std::cell::OnceCell::new()),
            prefix: "",
            raw: Some(&raw),
            fallback: (raw.start_line, 1),
        };
        Some(self.build_with(rel, &value, &loc, raw.start_line, raw.format, &[], ""))
    }

    /// An error about the `path` of the script declared at `key` in `proofgate.yaml`.
    fn declared_path_error(
        &mut self,
        loc: &Locator<'_>,
        key: &str,
        code: &'static str,
        what: String,
    ) {
        self.push_at(
            loc,
            Severity::Error,
            "path",
            code,
            format!("{key}.path: {what}"),
        );
    }

    fn script_from_config(
        &mut self,
        d: &config::Declared,
        cfg_display: &str,
        on_disk: &HashSet<String>,
    ) -> Option<Built> {
        let prefix = format!("{}.", d.key);
        let entry_pos = self.cfg.pos.find(&d.key).unwrap_or((1, 1));
        let loc = Locator {
            display: cfg_display,
            pos: PosRef::Built(&self.cfg.pos),
            prefix: &prefix,
            raw: None,
            fallback: entry_pos,
        };
        let path = match d.value.get("path") {
            Some(Value::String(p)) => normalize_path(p),
            Some(other) => {
                self.declared_path_error(
                    &loc,
                    &d.key,
                    "bad-type",
                    format!("expected a string, found {}", header::kind_of(other)),
                );
                return None;
            }
            None => {
                self.declared_path_error(
                    &loc,
                    &d.key,
                    "missing-key",
                    "required key is missing".into(),
                );
                return None;
            }
        };
        if path.starts_with('/') || path.split('/').any(|c| c == "..") || path.is_empty() {
            self.declared_path_error(
                &loc,
                &d.key,
                "bad-value",
                format!("{path:?} must be a path inside the repository"),
            );
            return None;
        }
        match check_on_disk(self.root, &path) {
            Ok(OnDisk::Missing) => {
                self.declared_path_error(
                    &loc,
                    &d.key,
                    "missing-file",
                    format!("`{path}` does not exist"),
                );
            }
            Ok(OnDisk::File | OnDisk::Dir) => {}
            Err(why) => {
                self.declared_path_error(&loc, &d.key, "outside-repository", why);
                return None;
            }
        }
        if on_disk.contains(&path) {
            self.declared_path_error(&loc, &d.key, "declared-twice", format!("`{path}` is under a script root and is read from its own header; remove one of the two"));
        }
        let prefix_key = d.key.clone();
        let mut b = self.build_with(
            &path,
            &d.value,
            &loc,
            entry_pos.0,
            HeaderFormat::Config,
            &["path"],
            &prefix_key,
        );
        b.script.path = path;
        Some(b)
    }

    /// Validates a header value and derives the script from it. `keyp` prefixes key paths
    /// in messages (`scripts.declared[0]` for declared scripts; empty for a header).
    #[allow(clippy::too_many_arguments)]
    fn build_with(
        &mut self,
        rel: &str,
        value: &Value,
        loc: &Locator<'_>,
        line: u32,
        format: HeaderFormat,
        skip: &[&str],
        keyp: &str,
    ) -> Built {
        let Some(header) = self.check_header(value, loc, skip, keyp) else {
            return self.ungoverned(rel, Some(format), line);
        };
        let valid_id = header.id.as_deref().and_then(|s| ScriptId::new(s).ok());
        let id_at = valid_id.as_ref().map(|_| {
            let (l, c) = loc.id_at();
            (loc.display.to_owned(), l, c)
        });
        let governed = valid_id.is_some();
        let id = valid_id.unwrap_or_else(|| ScriptId::derive_from_path(rel));
        let test = header.test.clone().unwrap_or_default();
        let evidence = if governed { test.evidence } else { None };
        let maturity = header.maturity.unwrap_or(if governed { 1 } else { 0 });
        let cx = ScriptCx {
            rel,
            loc,
            keyp,
            governed,
            evidence,
        };
        let written = self.written_selectors(&cx, &id, &test);
        let (selectors, test_files) = self.resolve_selectors(&cx, &written);
        if governed {
            self.check_evidence_policy(&cx, &header);
            self.check_selectors_known(&cx, &selectors);
            self.check_shellcheck_command(&cx, &test);
            self.check_maturity(&cx, &header, &test, maturity);
        }
        Built {
            script: Script {
                id,
                path: rel.to_owned(),
                header,
                evidence,
                maturity,
                test_files,
                selectors,
                header_line: line,
                format: Some(format),
            },
            id_at,
        }
    }

    /// Records a finding at `key` of the header `loc` points into.
    fn push_at(
        &mut self,
        loc: &Locator<'_>,
        severity: Severity,
        key: &str,
        code: &'static str,
        message: String,
    ) {
        let f = loc.finding(severity, key, code, message);
        self.findings.push(f);
    }

    /// The header's own checks (every key, type and value); `None` when the value is not
    /// a mapping at all.
    fn check_header(
        &mut self,
        value: &Value,
        loc: &Locator<'_>,
        skip: &[&str],
        keyp: &str,
    ) -> Option<Header> {
        if !matches!(value, Value::Mapping(_)) {
            let what = header::kind_of(value);
            self.push_at(
                loc,
                Severity::Error,
                "",
                "bad-type",
                format!("the header must be a mapping of keys, found {what}"),
            );
            return None;
        }
        let mut checker = Checker {
            issues: Vec::new(),
            allowed: &self.cfg.allowed,
        };
        let prefix = if keyp.is_empty() {
            String::new()
        } else {
            format!("{keyp}.")
        };
        let header = checker.header(value, &prefix, skip);
        for issue in checker.issues {
            let local = issue
                .key
                .strip_prefix(&prefix)
                .unwrap_or(&issue.key)
                .to_owned();
            let sev = if issue.warning {
                Severity::Warning
            } else {
                Severity::Error
            };
            self.push_at(loc, sev, &local, issue.code, issue.message);
        }
        Some(header)
    }

    /// The selectors as written: `proofgate.yaml`'s for this id, else the header's
    /// `test.selectors`, else those derived from `test.command`.
    fn written_selectors(
        &mut self,
        cx: &ScriptCx<'_, '_>,
        id: &ScriptId,
        test: &TestSpec,
    ) -> Vec<Written> {
        let mut written: Vec<Written> = Vec::new();
        if let Some((_, items)) = self.cfg.selectors.get(id.as_str()).filter(|_| cx.governed) {
            for (k, s) in items {
                let (l, c) = self.cfg.pos.find(k).unwrap_or((1, 1));
                written.push((Some((k.clone(), l, c)), s.clone(), false));
            }
        } else if !test.selectors.is_empty() {
            for (i, s) in test.selectors.iter().enumerate() {
                let k = format!("test.selectors[{i}]");
                let (l, c) = cx.loc.at(&k);
                written.push((Some((cx.kp(&k), l, c)), s.clone(), false));
            }
        } else if let Some(cmd) = &test.command {
            let derived = selector::derive(cmd);
            for s in derived.selectors {
                written.push((None, s, true));
            }
            for ig in derived.ignored {
                self.push_at(
                    cx.loc,
                    Severity::Warning,
                    "test.command",
                    "command-not-understood",
                    format!("{}: `{ig}` is not understood: the selection is made by file; list test.selectors to narrow it", cx.kp("test.command")),
                );
            }
        }
        written
    }

    /// Parses the written selectors: the distinct selectors and the test files they name,
    /// each in first-seen order. A bad selector or a missing test file is a finding.
    fn resolve_selectors(
        &mut self,
        cx: &ScriptCx<'_, '_>,
        written: &[Written],
    ) -> (Vec<Selector>, Vec<String>) {
        let mut selectors = Vec::new();
        let mut test_files: Vec<String> = Vec::new();
        for (at, s, derived) in written {
            match self.parse_selector(s) {
                Ok((sel, probe)) => {
                    if let Some(f) = sel.test_file()
                        && !test_files.iter().any(|t| t == f)
                    {
                        test_files.push(f.to_owned());
                        let exists = probe.exists(self.root, f);
                        if !f.is_empty() && !exists && cx.governed {
                            self.test_file_missing(cx, at.as_ref(), f, *derived);
                        }
                    }
                    if !selectors.contains(&sel) {
                        selectors.push(sel);
                    }
                }
                Err(e) => {
                    let (path, key, line, column) = self.selector_at(cx, at.as_ref());
                    self.findings.push(Finding {
                        severity: Severity::Error,
                        path,
                        line,
                        column,
                        code: "bad-selector",
                        message: format!("{key}: {e}"),
                    });
                }
            }
        }
        (selectors, test_files)
    }

    /// One selector, with what was learnt of its path on disk. What the path names must
    /// be a regular file or a directory inside the root: anything else is a bad selector,
    /// and never hashed.
    fn parse_selector(&self, s: &str) -> Result<(Selector, Probe), String> {
        let root = self.root;
        // One `stat` per path: whether it is a directory, and whether it exists.
        let probed: std::cell::RefCell<Option<(String, bool)>> = std::cell::RefCell::new(None);
        let parsed = Selector::parse(s, |p| {
            let exists_dir = std::fs::metadata(root.join(p)).map(|m| m.is_dir());
            *probed.borrow_mut() = Some((p.to_owned(), exists_dir.is_ok()));
            exists_dir.is_ok_and(|d| d)
        });
        let probed = probed.into_inner();
        let (sel, on_disk) = parsed.and_then(|sel| match sel.test_file() {
            Some(f) if !f.is_empty() => match probe_on_disk(root, f)? {
                (_, Some(link)) => Err(link_on_the_way(root, f, &link)),
                (d, None) => Ok((sel, Some(d))),
            },
            _ => Ok((sel, None)),
        })?;
        Ok((sel, Probe { on_disk, probed }))
    }

    /// Where a selector is written: file shown, key path, line and column. A derived
    /// selector points at `test.command`.
    fn selector_at(
        &self,
        cx: &ScriptCx<'_, '_>,
        at: Option<&(String, u32, u32)>,
    ) -> (String, String, u32, u32) {
        match at {
            Some((k, l, c)) if k.starts_with("selectors.") => {
                (self.cfg_display(), k.clone(), *l, *c)
            }
            Some((k, l, c)) => (cx.loc.display.to_owned(), k.clone(), *l, *c),
            None => {
                let (l, c) = cx.loc.at("test.command");
                (cx.loc.display.to_owned(), cx.kp("test.command"), l, c)
            }
        }
    }

    /// A selected test file does not exist: an error where the evidence relies on it.
    fn test_file_missing(
        &mut self,
        cx: &ScriptCx<'_, '_>,
        at: Option<&(String, u32, u32)>,
        f: &str,
        derived: bool,
    ) {
        let severity = match cx.evidence {
            Some(Evidence::Declared | Evidence::Ci) => Severity::Error,
            _ => Severity::Warning,
        };
        let (path, key, line, column) = self.selector_at(cx, at);
        let how = if derived {
            "named in the command"
        } else {
            "selected"
        };
        self.findings.push(Finding {
            severity,
            path,
            line,
            column,
            code: "test-file-missing",
            message: format!("{key}: test file `{f}` {how} does not exist"),
        });
    }

    /// Evidence allowed by the risk profile.
    fn check_evidence_policy(&mut self, cx: &ScriptCx<'_, '_>, header: &Header) {
        let impact = header
            .risk_profile
            .as_ref()
            .and_then(|r| r.production_impact);
        let (Some(ev), Some(imp)) = (cx.evidence, impact) else {
            return;
        };
        if ev == Evidence::Manual && self.cfg.policy.manual_forbidden_for.contains(&imp) {
            self.push_at(
                cx.loc,
                Severity::Error,
                "test.evidence",
                "manual-forbidden",
                format!(
                    "{}: \"manual\" is not allowed at production_impact {imp}; use declared or ci",
                    cx.kp("test.evidence")
                ),
            );
        }
        if ev != Evidence::Ci && self.cfg.policy.ci_required_for.contains(&imp) {
            self.push_at(
                cx.loc,
                Severity::Error,
                "test.evidence",
                "ci-required",
                format!(
                    "{}: {ev:?} is not enough at production_impact {imp}; the policy requires ci",
                    cx.kp("test.evidence")
                )
                .replace(&format!("{ev:?}"), &format!("\"{ev}\"")),
            );
        }
    }

    /// Which cases certify the script must be knowable.
    fn check_selectors_known(&mut self, cx: &ScriptCx<'_, '_>, selectors: &[Selector]) {
        if selectors.is_empty() && matches!(cx.evidence, Some(Evidence::Ci | Evidence::Declared)) {
            let sev = if cx.evidence == Some(Evidence::Ci) {
                Severity::Error
            } else {
                Severity::Warning
            };
            self.push_at(cx.loc, sev, "test.command", "no-selectors", format!(
                "{}: no test files or selectors: name the test files in the command or list test.selectors",
                cx.kp("test.command")
            ));
        }
    }

    /// shellcheck commands name the script.
    fn check_shellcheck_command(&mut self, cx: &ScriptCx<'_, '_>, test: &TestSpec) {
        let rel = cx.rel;
        if test.runner.as_deref() == Some("shellcheck")
            && let Some(cmd) = &test.command
        {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            let names_it = selector::shell_commands(cmd).iter().flatten().any(|w| {
                let w = normalize_path(w);
                w == rel || w == name || w.ends_with(&format!("/{name}")) && rel.ends_with(&w)
            });
            if !names_it {
                self.push_at(
                    cx.loc,
                    Severity::Error,
                    "test.command",
                    "shellcheck-command",
                    format!(
                        "{}: a shellcheck command must name the script `{rel}`",
                        cx.kp("test.command")
                    ),
                );
            }
        }
    }

    /// Maturity rules (CNT-001).
    fn check_maturity(
        &mut self,
        cx: &ScriptCx<'_, '_>,
        header: &Header,
        test: &TestSpec,
        maturity: u8,
    ) {
        let mut needs = Vec::new();
        if maturity >= 2 {
            let dry = header.dry_run.as_ref().and_then(|d| d.supported);
            if dry != Some(true) {
                needs.push(format!("maturity {maturity} needs dry_run.supported: true"));
            }
            if test.command.is_none() {
                needs.push(format!("maturity {maturity} needs a test.command"));
            }
        }
        let impact = header
            .risk_profile
            .as_ref()
            .and_then(|r| r.production_impact);
        if maturity == 3
            && matches!(impact, Some(Impact::Medium | Impact::High))
            && cx.evidence != Some(Evidence::Ci)
        {
            let imp = impact.map_or("", |i| i.as_str());
            needs.push(format!(
                "maturity 3 at production_impact {imp} needs test.evidence: ci"
            ));
        }
        let key = cx.kp("maturity");
        for need in needs {
            self.push_at(
                cx.loc,
                Severity::Error,
                "maturity",
                "maturity",
                format!("{key}: {need}"),
            );
        }
    }

    fn cfg_display(&self) -> String {
        // Findings about `selectors:` entries point at proofgate.yaml; its display name is
        // the one every config finding uses.
        self.cfg_name.to_owned()
    }
}

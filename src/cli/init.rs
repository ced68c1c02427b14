//! `proofgate init`: scaffold `proofgate.yaml`, the workflow, script headers and the CI
//! key pair. The decisions are [`proofgate::init::plan`]'s; this file reads the repository,
//! makes or reads the key and writes what the plan says.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use proofgate::init::{
    self, CODEOWNERS_PATHS, CONFIG_PATH, DEFAULT_KEY_PATH, RepoFile, RepoView, ScriptRequest,
    WORKFLOW_PATH,
};
use proofgate::model::{Model, Severity, normalize_path};
use proofgate::sign::SigningKey;

use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

/// At most this many files are looked at to detect script roots and tests.
const WALK_LIMIT: usize = 50_000;

/// Scaffold proofgate in a repository: `proofgate.yaml`, the workflow, script headers and
/// the CI key pair.
///
/// Idempotent: a second run changes nothing and says so. An existing file is never
/// overwritten without `--force`, and a script that has a header keeps it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A script to give a `# ---` header (repeatable). Its tests: `--tests`, else
    /// `tests/test_<name>.py` when that exists.
    #[arg(long = "script", value_name = "PATH")]
    pub scripts: Vec<String>,
    /// The tests that certify a script (repeatable): `SCRIPT=TEST[,TEST…]` (which also
    /// names SCRIPT as a `--script`), or `TEST[,TEST…]` when exactly one `--script` is
    /// given. Files or folders, repository-relative.
    #[arg(long = "tests", value_name = "[SCRIPT=]TESTS")]
    pub tests: Vec<String>,
    /// Where to write the private key (mode 0600), relative to the root. An existing key
    /// is reused, never replaced.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_KEY_PATH)]
    pub key_file: PathBuf,
    /// Overwrite `proofgate.yaml` and the workflow when they exist.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let root = &global.root;
    check_root(global)?;
    let scripts = read_scripts(root, script_requests(&args)?)?;
    let key = KeyPlace::of(&args.key_file, root);
    let (public_key, key_created) = key_pair(&key.path)?;

    let view = RepoView {
        files: walk(root),
        codeowners: codeowners(root)?,
        scripts,
        taken_ids: taken_ids(global),
        config: read_opt(&root.join(CONFIG_PATH))?,
        workflow: read_opt(&root.join(WORKFLOW_PATH))?,
        gitignore: read_opt(&root.join(".gitignore"))?,
        public_key: public_key.clone(),
        key_path: key
            .inside
            .as_ref()
            .map(|p| normalize_path(&p.to_string_lossy())),
        force: args.force,
    };
    let plan = init::plan(&view).or_usage()?;

    let mut out = String::new();
    if key_created {
        out.push_str(&format!(
            "created      {} (the CI signing key, mode 0600)\n",
            key.rel
        ));
    } else {
        out.push_str(&format!(
            "left alone   {} (the key exists and is reused)\n",
            key.rel
        ));
    }
    out.push_str(&carry_out(root, &plan)?);
    if !plan.changes_anything() && !key_created {
        out.push_str("nothing to do: every file is already in place\n");
    }
    for n in &plan.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push_str(
        "\nnext: store the key pair where the workflow reads it (from the repository root):\n",
    );
    for line in init::next_steps(&key.shown, &public_key) {
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str(
        "then commit proofgate.yaml, the workflow and the headers, and make `certify` a required status check\n",
    );
    print!("{}", proofgate::github::log::untrusted_lines(&out));
    lint_scaffold(root);
    Ok(Outcome::Yes)
}

/// `init` needs a root folder and writes its own `proofgate.yaml` there.
fn check_root(global: &Global) -> Result<(), CliError> {
    let root = &global.root;
    if !root.is_dir() {
        return Err(CliError::usage(anyhow!(
            "`--root {}` is not a directory",
            root.display()
        )));
    }
    if global.config.is_some() {
        return Err(CliError::usage(anyhow!(
            "`init` writes `{CONFIG_PATH}` under `--root`; `--config` does not apply to it"
        )));
    }
    Ok(())
}

/// Every named script, read: a regular UTF-8 file inside the root, with tests that
/// exist. Every path is checked before any file is read.
fn read_scripts(
    root: &Path,
    requests: Vec<(String, Vec<String>)>,
) -> Result<Vec<ScriptRequest>, CliError> {
    for (path, tests) in &requests {
        init::check_inside("--script", path).or_usage()?;
        for t in tests {
            init::check_inside("--tests", t).or_usage()?;
        }
    }
    let mut scripts = Vec::new();
    for (path, tests) in requests {
        let full = root.join(&path);
        let meta = std::fs::symlink_metadata(&full).map_err(|_| {
            CliError::usage(anyhow!(
                "`--script {path}`: no such file under `{}`",
                root.display()
            ))
        })?;
        if !meta.is_file() {
            return Err(CliError::usage(anyhow!(
                "`--script {path}` is not a regular file (a symbolic link or folder cannot take a header); name the file itself"
            )));
        }
        let text = std::fs::read_to_string(&full).map_err(|e| {
            CliError::usage(anyhow!(
                "`--script {path}` cannot be read as UTF-8 text ({e})"
            ))
        })?;
        for t in &tests {
            if !root.join(t).exists() {
                return Err(CliError::usage(anyhow!(
                    "`--tests {t}` (for `{path}`) does not exist; write the tests first, or name an existing file or folder"
                )));
            }
        }
        scripts.push(ScriptRequest { path, text, tests });
    }
    Ok(scripts)
}

/// Where the private key goes, and how it is named.
struct KeyPlace {
    /// The file.
    path: PathBuf,
    /// Its path inside the repository (to be git-ignored), when it is inside.
    inside: Option<PathBuf>,
    /// `--key-file` normalised, as the report names it.
    rel: String,
    /// As the next steps name it: absolute when given so.
    shown: String,
}

impl KeyPlace {
    fn of(key_file: &Path, root: &Path) -> Self {
        let rel = normalize_path(&key_file.to_string_lossy());
        if key_file.is_absolute() {
            let base = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
            let inside = key_file
                .strip_prefix(&base)
                .or_else(|_| key_file.strip_prefix(root))
                .ok()
                .map(Path::to_path_buf);
            KeyPlace {
                path: key_file.to_path_buf(),
                inside,
                rel,
                shown: key_file.display().to_string(),
            }
        } else {
            KeyPlace {
                path: root.join(key_file),
                inside: Some(key_file.to_path_buf()),
                shown: rel.clone(),
                rel,
            }
        }
    }
}

/// Writes what the plan writes; returns a line a file saying what became of it.
fn carry_out(root: &Path, plan: &init::Plan) -> Result<String, CliError> {
    let mut out = String::new();
    for f in &plan.files {
        if f.action.writes() {
            write(root, &f.path, &f.contents)?;
        }
        let (verb, why) = match &f.action {
            init::Action::Create => ("created", String::new()),
            init::Action::Overwrite => ("overwritten", String::new()),
            init::Action::Update(w) => ("updated", format!(" ({w})")),
            init::Action::Keep(w) => ("left alone", format!(" ({w})")),
        };
        out.push_str(&format!("{verb:<12} {}{why}\n", f.path));
    }
    Ok(out)
}

/// The scaffold must lint clean: say so now rather than in CI.
fn lint_scaffold(root: &Path) {
    match Model::load(root, &root.join(CONFIG_PATH), false) {
        Ok((_, findings)) => {
            let errors: Vec<_> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
            if !errors.is_empty() {
                for f in &errors {
                    eprintln!("error   {f} [{}]", f.code);
                }
                eprintln!(
                    "`proofgate lint` finds {} error(s) in the repository: fix them before the gate can pass",
                    errors.len()
                );
            }
        }
        Err(e) => eprintln!(
            "warning: {}",
            proofgate::github::log::untrusted_lines(&format!("{e}"))
        ),
    }
}

/// `--script` and `--tests` as (script, tests) pairs, in order, without repeats.
fn script_requests(args: &Args) -> Result<Vec<(String, Vec<String>)>, CliError> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let norm = |s: &str| normalize_path(s.trim());
    for s in &args.scripts {
        let p = norm(s);
        if !out.iter().any(|(q, _)| *q == p) {
            out.push((p, Vec::new()));
        }
    }
    let split = |list: &str| -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(normalize_path)
            .collect()
    };
    for t in &args.tests {
        let (script, tests) = match t.split_once('=') {
            Some((s, list)) => (norm(s), split(list)),
            None => {
                if args.scripts.len() != 1 {
                    return Err(CliError::usage(anyhow!(
                        "`--tests {t}` does not say which script it is for; with {} `--script`s write `--tests SCRIPT={t}`",
                        args.scripts.len()
                    )));
                }
                (norm(&args.scripts[0]), split(t))
            }
        };
        if tests.is_empty() {
            return Err(CliError::usage(anyhow!(
                "`--tests {t}` names no test file or folder"
            )));
        }
        match out.iter_mut().find(|(q, _)| *q == script) {
            Some((_, list)) => list.extend(tests),
            None => out.push((script, tests)),
        }
    }
    Ok(out)
}

/// Reads the key at `path`, or makes one there. Returns the public key and whether it
/// was made now.
fn key_pair(path: &Path) -> Result<(String, bool), CliError> {
    if path.exists() {
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
            .with_context(|| format!("cannot read the key `{}`", path.display()))
            .or_io()?;
        let key = SigningKey::from_text(&text).map_err(|e| {
            CliError::usage(anyhow!(
                "`{}` is not a signing key ({e}); move it away or name another file with `--key-file`",
                path.display()
            ))
        })?;
        return Ok((key.public_key().to_base64(), false));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))
            .or_io()?;
    }
    let (key, der) = SigningKey::generate().or_io()?;
    let pem = super::keygen::pem("PRIVATE KEY", &der);
    super::keygen::write_private(path, pem.as_bytes(), false)?;
    Ok((key.public_key().to_base64(), true))
}

/// The repository's files (hidden and git-ignored ones left out), with whether each
/// starts with a shebang.
fn walk(root: &Path) -> Vec<RepoFile> {
    let mut out = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .max_depth(Some(8))
        .require_git(false)
        .build();
    for entry in walker.flatten() {
        if out.len() >= WALK_LIMIT {
            break;
        }
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let mut head = [0u8; 2];
        let shebang = std::fs::File::open(entry.path())
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && head == *b"#!";
        out.push(RepoFile {
            path: normalize_path(&rel.to_string_lossy()),
            shebang,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn codeowners(root: &Path) -> Result<Option<(String, String)>, CliError> {
    for p in CODEOWNERS_PATHS {
        if let Some(text) = read_opt(&root.join(p))? {
            return Ok(Some(((*p).to_owned(), text)));
        }
    }
    Ok(None)
}

/// Ids the repository's headers already use (none when the model does not load: `init`
/// then says what `lint` finds).
fn taken_ids(global: &Global) -> BTreeSet<String> {
    let (config, named) = global.config_path();
    Model::load(&global.root, &config, named)
        .map(|(m, _)| {
            m.scripts
                .iter()
                .filter(|s| s.is_governed())
                .map(|s| s.id.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn read_opt(path: &Path) -> Result<Option<String>, CliError> {
    match std::fs::read(path) {
        Ok(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| CliError::usage(anyhow!("`{}` is not UTF-8 text", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(
            anyhow::Error::new(e).context(format!("cannot read `{}`", path.display())),
        )),
    }
}

/// Writes one file atomically, keeping an existing file's mode (a script stays
/// executable); a new file gets 0644.
fn write(root: &Path, rel: &str, text: &str) -> Result<(), CliError> {
    let path = root.join(rel);
    let mode = std::fs::metadata(&path).ok().map(|m| m.permissions());
    proofgate::fsutil::write_durable(&path, text.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))
        .or_io()?;
    let perms = match mode {
        Some(p) => p,
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::Permissions::from_mode(0o644)
            }
            #[cfg(not(unix))]
            {
                return Ok(());
            }
        }
    };
    std::fs::set_permissions(&path, perms)
        .with_context(|| format!("cannot set the mode of `{}`", path.display()))
        .or_io()
}

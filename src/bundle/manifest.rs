//! The source manifest: every file in scope with its SHA-256, and an RFC 9162 Merkle root
//! over `(path, digest)` leaves (see [`super::merkle`]).
//!
//! The walk is gitignore-aware (nested `.gitignore` and `.ignore` files from the root
//! down; the user's global excludes and `.git/info/exclude` are not read, so the result
//! does not depend on the machine), skips `.git/`, common build and cache directories and
//! any directory tagged with `CACHEDIR.TAG` (cargo's `target/`, pytest's cache), and does
//! not follow symlinks: a symlink is recorded with the digest of its target text, as git
//! records it. Files are hashed in parallel on every core.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::merkle;
use crate::digest::Sha256Digest;
use crate::digest::file::{FileHashError, FileHasher};

/// The manifest format version written by this build.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

/// Names the tree construction, so a reader knows how `root_hash` was computed.
pub const TREE_ALGORITHM: &str = "rfc9162-sha256; leaf = H(0x00 || path || 0x00 || sha256(content)); node = H(0x01 || left || right)";

/// Directory names never walked into, whatever the ignore files say.
pub const ALWAYS_SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "node_modules",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".venv",
];

/// A source manifest (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version, currently `1`.
    pub format_version: u32,
    /// How `root_hash` is computed.
    pub tree: String,
    /// The scope that was walked: paths relative to the root, `.` for all of it.
    pub scope: Vec<String>,
    /// Paths (relative to the root) left out of the walk on request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Number of files.
    pub file_count: usize,
    /// The Merkle root over the files, in path order.
    pub root_hash: Sha256Digest,
    /// Every file's `/`-separated path relative to the root, with its digest, sorted by
    /// path (bytewise).
    pub files: BTreeMap<String, Sha256Digest>,
}

/// What went wrong while building or reading a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A scope entry is absolute outside the root, or climbs out of it with `..`.
    #[error("scope `{0}` is outside the root")]
    ScopeOutsideRoot(String),
    /// A scope entry does not exist.
    #[error("scope `{scope}` does not exist under `{root}`")]
    ScopeMissing {
        /// The scope entry as given.
        scope: String,
        /// The root it was looked up under.
        root: PathBuf,
    },
    /// A file name is not UTF-8, so it cannot be written in the manifest.
    #[error("path `{0}` is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// The walk or a read failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file's length changed while it was being read, so no digest vouches for it.
    #[error("`{path}` changed while being read ({expected} bytes when opened, {read} bytes read)")]
    Changed {
        /// The file.
        path: PathBuf,
        /// The length when it was opened.
        expected: u64,
        /// The bytes read.
        read: u64,
    },
    /// The ignore-aware walk reported an error.
    #[error("cannot walk the scope: {0}")]
    Walk(String),
    /// A manifest file is not valid JSON of the expected shape.
    #[error("`{path}` is not a valid manifest: {message} at line {line}, column {column}")]
    Parse {
        /// The manifest file.
        path: PathBuf,
        /// What the JSON parser said.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A manifest's format version is not one this build reads.
    #[error(
        "`{path}` has format version {found}; this build reads version {MANIFEST_FORMAT_VERSION}"
    )]
    Version {
        /// The manifest file.
        path: PathBuf,
        /// The version it declares.
        found: u32,
    },
}

impl ManifestError {
    /// `true` when the failure is the file system's (exit 3), not the input's (exit 2).
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io { .. } | Self::Changed { .. } | Self::Walk(_))
    }
}

/// What to walk.
#[derive(Debug, Clone)]
pub struct ManifestRequest {
    /// The repository root; paths in the manifest are relative to it.
    pub root: PathBuf,
    /// Scope entries relative to the root (directories or files); empty means `.`.
    pub scope: Vec<String>,
    /// Paths relative to the root to leave out (a file, or a directory and all below it).
    pub exclude: Vec<String>,
    /// Hashing threads; `0` means one per core.
    pub threads: usize,
}

/// A manifest and what building it cost.
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Bytes hashed.
    pub bytes: u64,
}

/// Files that differ between a recorded manifest and the tree as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    /// In the tree, not in the manifest.
    pub added: Vec<String>,
    /// In the manifest, not in the tree.
    pub removed: Vec<String>,
    /// In both, with different digests.
    pub changed: Vec<String>,
}

impl ManifestDiff {
    /// `true` when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl Manifest {
    /// Builds a manifest from a path → digest map, computing the root.
    pub fn from_files(
        scope: Vec<String>,
        exclude: Vec<String>,
        files: BTreeMap<String, Sha256Digest>,
    ) -> Self {
        let root_hash = root_hash(&files);
        Self {
            format_version: MANIFEST_FORMAT_VERSION,
            tree: TREE_ALGORITHM.to_owned(),
            scope,
            exclude,
            file_count: files.len(),
            root_hash,
            files,
        }
    }

    /// Reads a manifest, checking its format version.
    pub fn read(path: &Path, reader: impl BufRead) -> Result<Self, ManifestError> {
        let m: Manifest = serde_json::from_reader(reader).map_err(|e| {
            if e.is_io() {
                ManifestError::Io {
                    path: path.to_owned(),
                    source: io::Error::other(e.to_string()),
                }
            } else {
                ManifestError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                    line: e.line(),
                    column: e.column(),
                }
            }
        })?;
        if m.format_version != MANIFEST_FORMAT_VERSION {
            return Err(ManifestError::Version {
                path: path.to_owned(),
                found: m.format_version,
            });
        }
        Ok(m)
    }

    /// `true` when `root_hash` and `file_count` agree with `files` (the manifest was not
    /// edited by hand after it was written).
    pub fn is_self_consistent(&self) -> bool {
        self.file_count == self.files.len() && self.root_hash == root_hash(&self.files)
    }

    /// What changed from `self` (the recorded manifest) to `now`.
    pub fn diff(&self, now: &Manifest) -> ManifestDiff {
        let mut d = ManifestDiff::default();
        for (path, digest) in &now.files {
            match self.files.get(path) {
                None => d.added.push(path.clone()),
                Some(old) if old != digest => d.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        for path in self.files.keys() {
            if !now.files.contains_key(path) {
                d.removed.push(path.clone());
            }
        }
        d
    }
}

/// The Merkle root over `(path, digest)` leaves in path order.
/// Leaves and inner nodes are hashed on every core for large manifests.
pub fn root_hash(files: &BTreeMap<String, Sha256Digest>) -> Sha256Digest {
    let threads = crate::par::threads_for(files.len(), merkle::PAR_MIN_LEAVES);
    let entries: Vec<(&String, &Sha256Digest)> = files.iter().collect();
    let leaves = crate::par::par_map(&entries, threads, |(p, d)| merkle::file_leaf_hash(p, d));
    Sha256Digest::from_bytes(merkle::root_of_leaf_hashes_par(&leaves, threads))
}

/// Normalises one scope or exclude entry to a `/`-separated path relative to `root`
/// (`.` for the root itself), refusing anything that leaves the root.
pub fn normalize_relative(root: &Path, entry: &str) -> Result<String, ManifestError> {
    let p = Path::new(entry);
    let rel: PathBuf = if p.is_absolute() {
        let root_abs = std::path::absolute(root).map_err(|e| ManifestError::Io {
            path: root.to_owned(),
            source: e,
        })?;
        match p.strip_prefix(&root_abs) {
            Ok(r) => r.to_owned(),
            Err(_) => return Err(ManifestError::ScopeOutsideRoot(entry.to_owned())),
        }
    } else {
        p.to_owned()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => match s.to_str() {
                Some(s) => parts.push(s.to_owned()),
                None => return Err(ManifestError::NonUtf8Path(rel.clone())),
            },
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(ManifestError::ScopeOutsideRoot(entry.to_owned()));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(ManifestError::ScopeOutsideRoot(entry.to_owned()));
            }
        }
    }
    Ok(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// `true` when `rel` is `prefix` or below it (`.` contains everything).
fn is_within(rel: &str, prefix: &str) -> bool {
    prefix == "."
        || rel == prefix
        || (rel.len() > prefix.len()
            && rel.starts_with(prefix)
            && rel.as_bytes()[prefix.len()] == b'/')
}

/// Walks the scope and hashes every file.
pub fn build(req: &ManifestRequest) -> Result<BuiltManifest, ManifestError> {
    let mut scope: Vec<String> = Vec::new();
    let raw_scope: Vec<String> = if req.scope.is_empty() {
        vec![".".to_owned()]
    } else {
        req.scope.clone()
    };
    for s in &raw_scope {
        let n = normalize_relative(&req.root, s)?;
        let full = if n == "." {
            req.root.clone()
        } else {
            req.root.join(&n)
        };
        if std::fs::symlink_metadata(&full).is_err() {
            return Err(ManifestError::ScopeMissing {
                scope: s.clone(),
                root: req.root.clone(),
            });
        }
        if !scope.contains(&n) {
            scope.push(n);
        }
    }
    scope.sort();
    let mut exclude: Vec<String> = Vec::new();
    for e in &req.exclude {
        let n = normalize_relative(&req.root, e)?;
        if !exclude.contains(&n) {
            exclude.push(n);
        }
    }
    exclude.sort();

    let threads = if req.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        req.threads
    };

    let filter_scope = scope.clone();
    let filter_exclude = exclude.clone();
    let filter_root = req.root.clone();
    let mut builder = ignore::WalkBuilder::new(&req.root);
    builder
        .hidden(false)
        .parents(false)
        .ignore(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(move |entry| keep_entry(entry, &filter_root, &filter_scope, &filter_exclude));

    let shared = Shared {
        root: &req.root,
        scope: &scope,
        done: Mutex::new(Vec::new()),
        first_error: Mutex::new(None),
    };
    builder
        .build_parallel()
        .visit(&mut VisitorBuilder { shared: &shared });
    if let Some(e) = shared.first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut items: Vec<(String, Sha256Digest)> = Vec::new();
    let mut bytes = 0u64;
    for part in shared.done.into_inner().unwrap_or_default() {
        bytes += part.bytes;
        if items.is_empty() {
            items = part.items;
        } else {
            items.extend(part.items);
        }
    }
    // Each walking thread sorted its own list; the stable sort finds those runs and
    // merges them.
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let files: BTreeMap<String, Sha256Digest> = items.into_iter().collect();
    Ok(BuiltManifest {
        manifest: Manifest::from_files(scope, exclude, files),
        bytes,
    })
}

/// Decides whether the walk enters a directory or looks at a file.
fn keep_entry(entry: &ignore::DirEntry, root: &Path, scope: &[String], exclude: &[String]) -> bool {
    let Ok(rel) = entry.path().strip_prefix(root) else {
        return true;
    };
    let Some(rel) = rel.to_str() else {
        // Kept so that `visit` reports the non-UTF-8 name instead of hiding the file.
        return true;
    };
    if rel.is_empty() {
        return true;
    }
    let rel = if std::path::MAIN_SEPARATOR == '/' {
        std::borrow::Cow::Borrowed(rel)
    } else {
        std::borrow::Cow::Owned(rel.replace(std::path::MAIN_SEPARATOR, "/"))
    };
    if exclude.iter().any(|e| is_within(&rel, e)) {
        return false;
    }
    // A linked worktree's or a submodule's `.git` is a file pointing at git's data on
    // this machine: git's, not a source, like the `.git` directory.
    if entry.file_name() == ".git" {
        return false;
    }
    let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
    if is_dir {
        if let Some(name) = entry.file_name().to_str()
            && ALWAYS_SKIPPED_DIRS.contains(&name)
        {
            return false;
        }
        if entry.path().join("CACHEDIR.TAG").is_file() {
            return false;
        }
        // Enter directories inside a scope entry, and the ones that lead to one.
        scope
            .iter()
            .any(|s| is_within(&rel, s) || is_within(s, &rel))
    } else {
        scope.iter().any(|s| is_within(&rel, s))
    }
}

/// What every walking thread shares: the inputs, the finished per-thread results, and
/// the first error.
struct Shared<'a> {
    root: &'a Path,
    scope: &'a [String],
    done: Mutex<Vec<Part>>,
    first_error: Mutex<Option<ManifestError>>,
}

/// One thread's results, handed over once when its walk ends.
#[derive(Default)]
struct Part {
    items: Vec<(String, Sha256Digest)>,
    bytes: u64,
}

/// Makes one [`Visitor`] per walking thread.
struct VisitorBuilder<'s> {
    shared: &'s Shared<'s>,
}

impl<'s> ignore::ParallelVisitorBuilder<'s> for VisitorBuilder<'s> {
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Visitor {
            shared: self.shared,
            hasher: FileHasher::new(),
            part: Part::default(),
        })
    }
}

/// A walking thread: hashes the files of the directories it reads, with its own buffer
/// and result list, so files cost no lock; its list is handed over when it is dropped.
struct Visitor<'s> {
    shared: &'s Shared<'s>,
    hasher: FileHasher,
    part: Part,
}

impl ignore::ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
        match visit(entry, self.shared.root, self.shared.scope, &mut self.hasher) {
            Ok(Some((path, digest, n))) => {
                self.part.items.push((path, digest));
                self.part.bytes += n;
                ignore::WalkState::Continue
            }
            Ok(None) => ignore::WalkState::Continue,
            Err(e) => {
                if let Ok(mut slot) = self.shared.first_error.lock()
                    && slot.is_none()
                {
                    *slot = Some(e);
                }
                ignore::WalkState::Quit
            }
        }
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let mut part = std::mem::take(&mut self.part);
        // Sorted here, on the walking thread, so the threads sort side by side.
        part.items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Ok(mut done) = self.shared.done.lock() {
            done.push(part);
        }
    }
}

/// Hashes one walked entry: `Ok(None)` for directories and other non-files.
fn visit(
    entry: Result<ignore::DirEntry, ignore::Error>,
    root: &Path,
    scope: &[String],
    hasher: &mut FileHasher,
) -> Result<Option<(String, Sha256Digest, u64)>, ManifestError> {
    let entry = entry.map_err(|e| match e.io_error() {
        Some(io) => ManifestError::Io {
            path: error_path(&e).unwrap_or_else(|| root.to_owned()),
            source: io::Error::new(io.kind(), io.to_string()),
        },
        None => ManifestError::Walk(e.to_string()),
    })?;
    let Some(ft) = entry.file_type() else {
        return Ok(None);
    };
    if ft.is_dir() {
        return Ok(None);
    }
    let path = entry.path();
    let rel = path.strip_prefix(root).unwrap_or(path);
    let rel = rel
        .to_str()
        .ok_or_else(|| ManifestError::NonUtf8Path(path.to_owned()))?;
    let rel = if std::path::MAIN_SEPARATOR == '/' {
        rel.to_owned()
    } else {
        rel.replace(std::path::MAIN_SEPARATOR, "/")
    };
    if !scope.iter().any(|s| is_within(&rel, s)) {
        return Ok(None);
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = target.as_os_str().as_encoded_bytes();
        return Ok(Some((rel, Sha256Digest::of(text), text.len() as u64)));
    }
    if !ft.is_file() {
        // Sockets, FIFOs and devices have no content to vouch for.
        return Ok(None);
    }
    let (digest, n) = hasher.hash_path(path).map_err(|e| match e {
        FileHashError::Io(source) => ManifestError::Io {
            path: path.to_owned(),
            source,
        },
        FileHashError::Changed { expected, read } => ManifestError::Changed {
            path: path.to_owned(),
            expected,
            read,
        },
    })?;
    Ok(Some((rel, digest, n)))
}

fn error_path(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    fn req(root: &Path) -> ManifestRequest {
        ManifestRequest {
            root: root.to_owned(),
            scope: vec![],
            exclude: vec![],
            threads: 2,
        }
    }

    #[test]
    fn walk_honours_nested_gitignore_and_skips_git_and_build_dirs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "src/a.py", b"a");
        write(r, "src/.gitignore", b"*.log\n");
        write(r, "src/run.log", b"noise");
        write(r, "src/sub/b.py", b"b");
        write(r, ".gitignore", b"/build/\n");
        write(r, "build/out.bin", b"x");
        write(r, ".git/HEAD", b"ref");
        write(
            r,
            "target/CACHEDIR.TAG",
            b"Signature: 8a477f597d28d172789f06886806bc55",
        );
        write(r, "target/debug/x", b"x");
        write(r, "pkg/__pycache__/a.pyc", b"x");
        write(r, ".github/workflows/ci.yml", b"on: push");
        let m = build(&req(r)).unwrap().manifest;
        let paths: Vec<&str> = m.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                ".github/workflows/ci.yml",
                ".gitignore",
                "src/.gitignore",
                "src/a.py",
                "src/sub/b.py"
            ]
        );
        assert_eq!(m.files["src/a.py"], Sha256Digest::of(b"a"));
        assert!(m.is_self_consistent());
    }

    #[test]
    fn a_git_file_of_a_linked_worktree_or_submodule_is_not_a_source() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, ".git", b"gitdir: /home/me/repo/.git/worktrees/tree\n");
        write(r, "sub/.git", b"gitdir: ../.git/modules/sub\n");
        write(r, "sub/a.py", b"a");
        let m = build(&req(r)).unwrap().manifest;
        let paths: Vec<&str> = m.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["sub/a.py"]);
    }

    #[test]
    fn the_manifest_is_the_same_whatever_the_number_of_threads() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for i in 0..300u32 {
            let data = vec![(i % 256) as u8; (i as usize * 37) % 5000];
            write(r, &format!("d{}/e{}/f{i}.txt", i % 7, i % 3), &data);
        }
        write(r, "d1/.gitignore", b"f1*.txt\n");
        std::os::unix::fs::symlink("e0/f0.txt", r.join("d0/link")).unwrap();
        let built = |threads| {
            let mut q = req(r);
            q.threads = threads;
            let b = build(&q).unwrap();
            (serde_json::to_string(&b.manifest).unwrap(), b.bytes)
        };
        let one = built(1);
        for threads in [2, 3, 8, 0] {
            assert_eq!(built(threads), one, "{threads} threads");
        }
        let m: Manifest = serde_json::from_str(&one.0).unwrap();
        assert!(m.files.contains_key("d0/link"));
        assert!(!m.files.contains_key("d1/e1/f1.txt"));
        let ignored = (0..300u32)
            .filter(|i| i % 7 == 1 && i.to_string().starts_with('1'))
            .count();
        // The files, the `.gitignore` and the link, less the ignored ones.
        assert_eq!(m.file_count, 300 + 2 - ignored);
    }

    #[test]
    fn scope_limits_the_walk_but_root_gitignore_still_applies() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, ".gitignore", b"*.tmp\n");
        write(r, "src/a.py", b"a");
        write(r, "src/a.tmp", b"a");
        write(r, "tests/t.py", b"t");
        write(r, "docs/d.md", b"d");
        let mut q = req(r);
        q.scope = vec!["./src/".into(), "tests".into()];
        let m = build(&q).unwrap().manifest;
        assert_eq!(m.scope, ["src", "tests"]);
        assert_eq!(
            m.files.keys().collect::<Vec<_>>(),
            ["src/a.py", "tests/t.py"]
        );
    }

    #[test]
    fn scope_outside_the_root_or_missing_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let mut q = req(t.path());
        q.scope = vec!["../etc".into()];
        assert!(matches!(build(&q), Err(ManifestError::ScopeOutsideRoot(_))));
        q.scope = vec!["nope".into()];
        assert!(matches!(build(&q), Err(ManifestError::ScopeMissing { .. })));
    }

    #[test]
    fn symlinks_are_recorded_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r, "outside/secret", b"s");
        write(r, "src/a", b"a");
        std::os::unix::fs::symlink("../outside", r.join("src/link")).unwrap();
        let mut q = req(r);
        q.scope = vec!["src".into()];
        let m = build(&q).unwrap().manifest;
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files["src/link"], Sha256Digest::of(b"../outside"));
    }

    #[test]
    fn diff_reports_added_removed_and_changed() {
        let old = Manifest::from_files(
            vec![".".into()],
            vec![],
            [
                ("a".to_string(), Sha256Digest::of(b"1")),
                ("b".to_string(), Sha256Digest::of(b"2")),
            ]
            .into_iter()
            .collect(),
        );
        let new = Manifest::from_files(
            vec![".".into()],
            vec![],
            [
                ("a".to_string(), Sha256Digest::of(b"x")),
                ("c".to_string(), Sha256Digest::of(b"3")),
            ]
            .into_iter()
            .collect(),
        );
        let d = old.diff(&new);
        assert_eq!(d.added, ["c"]);
        assert_eq!(d.removed, ["b"]);
        assert_eq!(d.changed, ["a"]);
        assert!(old.diff(&old).is_empty());
    }

    #[test]
    fn geas_duplicate_last_file_collision_gives_different_roots() {
        let (a, b, c) = (
            Sha256Digest::of(b"a"),
            Sha256Digest::of(b"b"),
            Sha256Digest::of(b"c"),
        );
        let three: BTreeMap<_, _> = [("a", a), ("b", b), ("c", c)]
            .into_iter()
            .map(|(p, d)| (p.to_string(), d))
            .collect();
        let mut four = three.clone();
        four.insert("d".to_string(), c);
        assert_ne!(root_hash(&three), root_hash(&four));
    }

    #[test]
    fn geas_file_holding_two_hashes_gives_a_different_root() {
        let (a, b) = (Sha256Digest::of(b"a"), Sha256Digest::of(b"b"));
        let two: BTreeMap<_, _> = [("a".to_string(), a), ("b".to_string(), b)]
            .into_iter()
            .collect();
        let content = format!("{}{}", a.hex(), b.hex());
        let one: BTreeMap<_, _> = [("x".to_string(), Sha256Digest::of(content.as_bytes()))]
            .into_iter()
            .collect();
        assert_ne!(root_hash(&two), root_hash(&one));
        // Nor can the pair of leaf hashes be passed off as a one-file tree.
        let l1 = merkle::file_leaf_hash("a", &a);
        let l2 = merkle::file_leaf_hash("b", &b);
        let mut joined = l1.to_vec();
        joined.extend_from_slice(&l2);
        let forged: BTreeMap<_, _> = [("x".to_string(), Sha256Digest::of(&joined))]
            .into_iter()
            .collect();
        assert_ne!(root_hash(&two), root_hash(&forged));
    }

    #[test]
    fn the_root_of_a_large_manifest_hashed_on_every_core_is_the_one_leaf_by_leaf() {
        // Above merkle::PAR_MIN_LEAVES, so the leaves and the tree are hashed in parallel
        // (when the machine has more than one core).
        let files: BTreeMap<String, Sha256Digest> = (0..3 * merkle::PAR_MIN_LEAVES + 5)
            .map(|i| {
                (
                    format!("d{}/f{i:06}", i % 7),
                    Sha256Digest::of(&i.to_le_bytes()),
                )
            })
            .collect();
        let leaves: Vec<merkle::Hash> = files
            .iter()
            .map(|(p, d)| merkle::file_leaf_hash(p, d))
            .collect();
        assert_eq!(
            root_hash(&files),
            Sha256Digest::from_bytes(merkle::root_of_leaf_hashes(&leaves))
        );
    }

    #[test]
    fn every_walking_thread_hands_over_its_files_and_the_thread_count_changes_nothing() {
        let t = tempfile::tempdir().unwrap();
        for d in 0..20 {
            for f in 0..30 {
                write(
                    t.path(),
                    &format!("d{d:02}/f{f:02}"),
                    format!("{d}-{f}").as_bytes(),
                );
            }
        }
        let mut r = req(t.path());
        r.threads = 4;
        let m = build(&r).unwrap().manifest;
        assert_eq!(m.file_count, 600);
        assert_eq!(m.files.len(), 600);
        r.threads = 1;
        assert_eq!(build(&r).unwrap().manifest, m);
    }

    #[test]
    fn manifest_round_trips_and_detects_hand_edits() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "a", b"1");
        let m = build(&req(t.path())).unwrap().manifest;
        let text = serde_json::to_string_pretty(&m).unwrap();
        let back = Manifest::read(Path::new("m.json"), text.as_bytes()).unwrap();
        assert_eq!(back, m);
        let mut edited = back.clone();
        edited.files.insert("a".into(), Sha256Digest::of(b"2"));
        assert!(!edited.is_self_consistent());
    }
}

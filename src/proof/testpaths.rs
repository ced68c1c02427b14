//! The one reading of a script's declared test paths ([`hash_test_paths`]): `generate`
//! records what it returns and `verify` compares the checkout against it, so a test file
//! or folder is hashed the same way on both sides. A folder's digest and the tests digest
//! are digests of canonical JSON ([`crate::digest::jcs`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::record::{TestFileRef, tests_digest};
use crate::digest::FileDigests;
use crate::digest::jcs::{JcsError, to_vec};
use crate::digest::{Sha256Digest, hex_encode};

/// Folders skipped wherever they appear under a test folder, whatever they hold: what
/// running the tests (or git) writes into a working tree and a fresh checkout lacks,
/// so the job that generates (after the tests ran) and the job that verifies (on a
/// fresh checkout) read the same folder. `.git` is skipped as a file too (a
/// submodule's link). Everything else counts, hidden files included; a file committed
/// inside one of these folders is not covered by the digest.
pub const SKIPPED_FOLDERS: &[&str] = &[
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
];

/// What a declared test path is in the checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestPathKind {
    /// A regular file: its digest is the SHA-256 of its bytes.
    File,
    /// A folder: its digest is that of its listing ([`folder_digest`]).
    Folder,
}

/// One declared test path of a script, read from the checkout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedTestPath {
    /// The path as declared (repository-relative, `/`-separated, no trailing `/`).
    pub declared: String,
    /// The path as a proof records it in `test_files`: a folder ends in `/` (the root
    /// is `./`), so a file and a folder can never stand for each other.
    pub recorded: String,
    /// File or folder; `None` when the path does not exist.
    pub kind: Option<TestPathKind>,
    /// Its digests; `None` when the path does not exist. For a folder, `git_blob` is
    /// the blob id of the listing document.
    pub digests: Option<FileDigests>,
}

/// Every declared test path of a script, and the tests digest over them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedTests {
    /// One entry per distinct declared path, in declaration order.
    pub paths: Vec<HashedTestPath>,
    /// The proof's `tests_digest`: [`tests_digest`] over `{recorded, sha256}` of every
    /// entry (`null` for a missing path).
    pub digest: Sha256Digest,
}

impl HashedTests {
    /// The proof's `test_files`, in declaration order.
    pub fn refs(&self) -> Vec<TestFileRef> {
        refs_of(&self.paths)
    }

    /// Declared paths that do not exist, in declaration order.
    pub fn missing(&self) -> Vec<String> {
        self.paths
            .iter()
            .filter(|p| p.digests.is_none())
            .map(|p| p.declared.clone())
            .collect()
    }
}

/// Why a declared test path could not be hashed. Paths are repository-relative and
/// shown with control characters escaped.
#[derive(Debug, thiserror::Error)]
pub enum TestPathError {
    /// The path is absolute or climbs out of the repository with `..`.
    #[error(
        "test path `{}` is not inside the repository: declare it relative to the repository root, without `..`",
        .path.escape_debug()
    )]
    OutsideRoot {
        /// The declared path.
        path: String,
    },
    /// The path, one of its parent folders, or a file the walk would read is a
    /// symbolic link where a regular file or folder is needed.
    #[error(
        "`{}` is a symbolic link: test paths are hashed without following links; declare the file or folder it points to",
        .path.escape_debug()
    )]
    Symlink {
        /// The link, repository-relative.
        path: String,
    },
    /// A device, pipe or socket.
    #[error(
        "`{}` is not a regular file, folder or symbolic link (a device, pipe or socket): remove it from the test path",
        .path.escape_debug()
    )]
    Special {
        /// The entry, repository-relative.
        path: String,
    },
    /// A name that is not UTF-8 cannot be written in the folder's listing.
    #[error(
        "a name under `{}` is not UTF-8 (`{}`): rename it; test folders are hashed by name",
        .path.escape_debug(),
        .name.escape_debug()
    )]
    NotUtf8 {
        /// The folder holding it, repository-relative.
        path: String,
        /// The name, lossily decoded.
        name: String,
    },
    /// A file's size changed while it was read.
    #[error(
        "`{}` changed while it was being hashed: hash a checkout nothing else is writing to",
        .path.escape_debug()
    )]
    Changed {
        /// The file, repository-relative.
        path: String,
    },
    /// Reading failed.
    #[error("cannot read test path `{}`: {source}", .path.escape_debug())]
    Io {
        /// The file or folder, repository-relative.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The listing has no canonical form (cannot happen: it holds strings only).
    #[error(transparent)]
    Jcs(#[from] JcsError),
}

/// Digests of test paths already read, shared by the scripts of one `generate` or
/// `verify` (many scripts often name the same test folder). Only successes are kept.
#[derive(Debug, Default)]
pub struct TestPathCache(Mutex<HashMap<String, Option<(TestPathKind, FileDigests)>>>);

impl TestPathCache {
    fn get_or_hash(
        &self,
        root: &Path,
        rel: &str,
    ) -> Result<Option<(TestPathKind, FileDigests)>, TestPathError> {
        let lock = || {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        };
        if let Some(hit) = lock().get(rel) {
            return Ok(hit.clone());
        }
        // Hashed without the lock held: two threads may read one path at once, and
        // both get the same answer.
        let hashed = test_path_digest(root, rel)?;
        lock().insert(rel.to_owned(), hashed.clone());
        Ok(hashed)
    }
}

/// Reads every declared test path of a script under `root` (see [`test_path_digest`])
/// and computes the tests digest over them. Duplicate declarations count once.
pub fn hash_test_paths(root: &Path, declared: &[String]) -> Result<HashedTests, TestPathError> {
    hash_test_paths_cached(root, declared, &TestPathCache::default())
}

/// [`hash_test_paths`], reading each path at most once per `cache`.
pub fn hash_test_paths_cached(
    root: &Path,
    declared: &[String],
    cache: &TestPathCache,
) -> Result<HashedTests, TestPathError> {
    let mut paths: Vec<HashedTestPath> = Vec::with_capacity(declared.len());
    for d in declared {
        if paths.iter().any(|p| &p.declared == d) {
            continue;
        }
        let hashed = cache.get_or_hash(root, d)?;
        let recorded = match hashed.as_ref().map(|(k, _)| *k) {
            Some(TestPathKind::Folder) if d.is_empty() => "./".to_owned(),
            Some(TestPathKind::Folder) => format!("{d}/"),
            _ => d.clone(),
        };
        let (kind, digests) = match hashed {
            Some((k, d)) => (Some(k), Some(d)),
            None => (None, None),
        };
        paths.push(HashedTestPath {
            declared: d.clone(),
            recorded,
            kind,
            digests,
        });
    }
    let digest = tests_digest(&refs_of(&paths))?;
    Ok(HashedTests { paths, digest })
}

fn refs_of(paths: &[HashedTestPath]) -> Vec<TestFileRef> {
    paths
        .iter()
        .map(|p| TestFileRef {
            path: p.recorded.clone(),
            digest: p.digests.as_ref().map(|d| d.sha256),
        })
        .collect()
}

/// The digest of one declared test path `rel` (repository-relative, `/`-separated;
/// empty for the root itself) in the checkout at `root`; `None` when it does not exist.
///
/// - The path must stay inside `root`: an absolute path or a `..` component is an
///   error. Neither it nor any folder on the way to it may be a symbolic link (an
///   error, so nothing outside the root is ever read).
/// - A regular file: SHA-256 (and git blob id) of its bytes, read without following a
///   link and refusing anything that is not a regular file when opened.
/// - A folder: [`folder_digest`].
/// - Anything else (a device, pipe or socket): an error.
///
/// Paths are taken literally: selectors name files, folders and pytest node ids, never
/// globs, so `*` in a path is an ordinary character.
pub fn test_path_digest(
    root: &Path,
    rel: &str,
) -> Result<Option<(TestPathKind, FileDigests)>, TestPathError> {
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(TestPathError::OutsideRoot {
            path: rel.to_owned(),
        });
    }
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut full = root.to_path_buf();
    let mut shown = String::new();
    // The root itself is the caller's choice and may be reached through a link.
    let mut meta = std::fs::metadata(root).map_err(|source| TestPathError::Io {
        path: ".".to_owned(),
        source,
    })?;
    for (i, part) in parts.iter().enumerate() {
        full.push(part);
        if !shown.is_empty() {
            shown.push('/');
        }
        shown.push_str(part);
        meta = match std::fs::symlink_metadata(&full) {
            Ok(m) => m,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(source) => {
                return Err(TestPathError::Io {
                    path: shown,
                    source,
                });
            }
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            return Err(TestPathError::Symlink { path: shown });
        }
        if i + 1 < parts.len() && !ft.is_dir() {
            // A file where a folder is needed: the path does not exist.
            return Ok(None);
        }
    }
    let ft = meta.file_type();
    if ft.is_dir() {
        let listing = folder_listing(&full, &shown)?;
        Ok(Some((TestPathKind::Folder, FileDigests::of(&listing))))
    } else if ft.is_file() {
        let (sha256, blob) = hash_file(&full, &shown, true)?;
        Ok(Some((
            TestPathKind::File,
            FileDigests {
                sha256,
                git_blob: blob.unwrap_or_default(),
            },
        )))
    } else {
        Err(TestPathError::Special { path: shown })
    }
}

/// The digest of a test folder: SHA-256 of the canonical JSON (RFC 8785)
///
/// ```json
/// {"entries":[{"path":"a.py","sha256":"sha256:…"},{"path":"data/l","symlink":"../x"}],"kind":"folder"}
/// ```
///
/// with one entry per regular file and per symbolic link anywhere under the folder,
/// `path` relative to the folder (`/`-separated), sorted by `path` (byte order). A link
/// is recorded by its target text, as git stores it, and never followed. Folders are
/// not entries (an empty one leaves no trace, as in git); folders named in
/// [`SKIPPED_FOLDERS`] are skipped with everything under them. The walk does not
/// consult `.gitignore`: a fresh checkout holds every committed file, ignored or not,
/// and the change under test controls `.gitignore`. A device, pipe or socket, or a
/// name that is not UTF-8, is an error. `dir` is the folder, `shown` its
/// repository-relative path for messages.
pub fn folder_digest(dir: &Path, shown: &str) -> Result<Sha256Digest, TestPathError> {
    Ok(Sha256Digest::of(&folder_listing(dir, shown)?))
}

/// One entry of a folder listing.
#[derive(Serialize)]
struct FolderEntry {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<Sha256Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    symlink: Option<String>,
}

/// The listing document of [`folder_digest`].
#[derive(Serialize)]
struct FolderListing {
    kind: &'static str,
    entries: Vec<FolderEntry>,
}

fn folder_listing(dir: &Path, shown: &str) -> Result<Vec<u8>, TestPathError> {
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_owned()
        } else {
            format!("{a}/{b}")
        }
    };
    let mut entries = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, rel)) = stack.pop() {
        let here = join(shown, &rel);
        let io_err = |source| TestPathError::Io {
            path: here.clone(),
            source,
        };
        for entry in std::fs::read_dir(&folder).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(TestPathError::NotUtf8 {
                    path: here.clone(),
                    name: name.to_string_lossy().into_owned(),
                });
            };
            // `DirEntry::file_type` does not follow links.
            let ft = entry.file_type().map_err(io_err)?;
            let entry_rel = join(&rel, name);
            if ft.is_dir() {
                if !SKIPPED_FOLDERS.contains(&name) {
                    stack.push((entry.path(), entry_rel));
                }
            } else if name == ".git" {
                // A submodule's or worktree's link to its repository.
            } else if ft.is_symlink() {
                let target = std::fs::read_link(entry.path()).map_err(io_err)?;
                let Some(target) = target.to_str() else {
                    return Err(TestPathError::NotUtf8 {
                        path: here.clone(),
                        name: target.to_string_lossy().into_owned(),
                    });
                };
                entries.push(FolderEntry {
                    path: entry_rel,
                    sha256: None,
                    symlink: Some(target.to_owned()),
                });
            } else if ft.is_file() {
                let (sha256, _) = hash_file(&entry.path(), &join(shown, &entry_rel), false)?;
                entries.push(FolderEntry {
                    path: entry_rel,
                    sha256: Some(sha256),
                    symlink: None,
                });
            } else {
                return Err(TestPathError::Special {
                    path: join(shown, &entry_rel),
                });
            }
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(to_vec(&FolderListing {
        kind: "folder",
        entries,
    })?)
}

/// Whether a lookup error means the path is not there (including a file where a folder
/// was expected).
fn is_absent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory
}

/// Hashes a regular file without following a link at its last component and without
/// blocking on a pipe; anything that is not a regular file once opened is an error.
/// Returns the SHA-256 and, when `blob` is set, the git blob id.
fn hash_file(
    path: &Path,
    shown: &str,
    blob: bool,
) -> Result<(Sha256Digest, Option<String>), TestPathError> {
    let io_err = |source| TestPathError::Io {
        path: shown.to_owned(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file: File = match opts.open(path) {
        Ok(f) => f,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(TestPathError::Symlink {
                path: shown.to_owned(),
            });
        }
        Err(e) => return Err(io_err(e)),
    };
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(TestPathError::Special {
            path: shown.to_owned(),
        });
    }
    let len = meta.len();
    let mut sha256 = Sha256::new();
    let mut sha1 = blob.then(|| {
        let mut h = Sha1::new();
        h.update(format!("blob {len}\0").as_bytes());
        h
    });
    let mut reader = file;
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        read += n as u64;
        if read > len {
            break;
        }
        sha256.update(&buf[..n]);
        if let Some(h) = sha1.as_mut() {
            h.update(&buf[..n]);
        }
    }
    if read != len {
        return Err(TestPathError::Changed {
            path: shown.to_owned(),
        });
    }
    Ok((
        Sha256Digest::from_bytes(sha256.finalize().into()),
        sha1.map(|h| hex_encode(&h.finalize())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn digest_of(root: &Path, rel: &str) -> Option<(TestPathKind, FileDigests)> {
        test_path_digest(root, rel).unwrap()
    }

    #[test]
    fn a_test_file_is_hashed_by_its_bytes_with_its_git_blob() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "tests/test_a.py", "def test_a(): pass\n");
        let (kind, d) = digest_of(t.path(), "tests/test_a.py").unwrap();
        assert_eq!(kind, TestPathKind::File);
        assert_eq!(d, FileDigests::of(b"def test_a(): pass\n"));
        assert_eq!(digest_of(t.path(), "tests/./test_a.py").unwrap().1, d);
    }

    #[test]
    fn a_test_folder_is_hashed_as_the_canonical_listing_of_its_files() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "tests/backup/test_b.py", "b");
        write(t.path(), "tests/backup/sub/test_a.py", "a");
        write(t.path(), "tests/backup/.fixture", "hidden files count");
        std::fs::create_dir_all(t.path().join("tests/backup/empty")).unwrap();
        let (kind, d) = digest_of(t.path(), "tests/backup").unwrap();
        assert_eq!(kind, TestPathKind::Folder);
        let listing = format!(
            "{{\"entries\":[{{\"path\":\".fixture\",\"sha256\":\"{}\"}},{{\"path\":\"sub/test_a.py\",\"sha256\":\"{}\"}},{{\"path\":\"test_b.py\",\"sha256\":\"{}\"}}],\"kind\":\"folder\"}}",
            Sha256Digest::of(b"hidden files count"),
            Sha256Digest::of(b"a"),
            Sha256Digest::of(b"b"),
        );
        assert_eq!(d.sha256, Sha256Digest::of(listing.as_bytes()));
        assert_eq!(
            folder_digest(&t.path().join("tests/backup"), "tests/backup").unwrap(),
            d.sha256
        );
        assert_eq!(
            digest_of(t.path(), "tests/backup/").unwrap().1,
            d,
            "a trailing `/` names the same folder"
        );
    }

    #[test]
    fn a_folder_digest_changes_with_any_file_under_it_but_not_with_caches() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "t/test_a.py", "a");
        write(t.path(), "t/sub/conftest.py", "c");
        let before = digest_of(t.path(), "t").unwrap().1;
        for cache in SKIPPED_FOLDERS {
            write(t.path(), &format!("t/sub/{cache}/junk"), "junk");
        }
        write(t.path(), "t/.git", "gitdir: ../.git/modules/t");
        assert_eq!(digest_of(t.path(), "t").unwrap().1, before);
        for (rel, text) in [
            ("t/sub/conftest.py", "edited"),
            ("t/sub/new.py", ""),
            ("t/.hidden", "x"),
        ] {
            let t2 = tempfile::tempdir().unwrap();
            write(t2.path(), "t/test_a.py", "a");
            write(t2.path(), "t/sub/conftest.py", "c");
            write(t2.path(), rel, text);
            assert_ne!(digest_of(t2.path(), "t").unwrap().1, before, "{rel}");
        }
        // A rename keeps every byte but changes the digest.
        std::fs::rename(t.path().join("t/test_a.py"), t.path().join("t/test_b.py")).unwrap();
        assert_ne!(digest_of(t.path(), "t").unwrap().1, before);
    }

    #[test]
    fn links_in_a_folder_are_recorded_by_target_and_never_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret", "outside the root");
        write(t.path(), "t/test_a.py", "a");
        std::os::unix::fs::symlink(outside.path().join("secret"), t.path().join("t/l")).unwrap();
        let before = digest_of(t.path(), "t").unwrap().1;
        // Editing the target does not change the digest: it was never read.
        write(outside.path(), "secret", "edited");
        assert_eq!(digest_of(t.path(), "t").unwrap().1, before);
        // Pointing the link elsewhere does.
        std::fs::remove_file(t.path().join("t/l")).unwrap();
        std::os::unix::fs::symlink("test_a.py", t.path().join("t/l")).unwrap();
        assert_ne!(digest_of(t.path(), "t").unwrap().1, before);
        // A link to a folder is not walked.
        std::fs::remove_file(t.path().join("t/l")).unwrap();
        std::os::unix::fs::symlink("/", t.path().join("t/l")).unwrap();
        assert!(digest_of(t.path(), "t").is_some());
    }

    #[test]
    fn a_declared_path_through_a_link_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "real/test_a.py", "a");
        std::os::unix::fs::symlink("real", t.path().join("tests")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", t.path().join("zero")).unwrap();
        for rel in ["tests", "tests/test_a.py", "zero"] {
            let e = test_path_digest(t.path(), rel).unwrap_err();
            assert!(matches!(e, TestPathError::Symlink { .. }), "{rel}: {e}");
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
    }

    #[test]
    fn paths_outside_the_root_are_rejected_before_any_read() {
        let t = tempfile::tempdir().unwrap();
        for rel in ["/dev/zero", "../../etc/passwd", "tests/../../x", ".."] {
            let e = test_path_digest(t.path(), rel).unwrap_err();
            assert!(matches!(e, TestPathError::OutsideRoot { .. }), "{rel}: {e}");
        }
        let e = test_path_digest(t.path(), "../a\nb").unwrap_err();
        assert!(
            !e.to_string().contains('\n'),
            "control characters are escaped: {e}"
        );
    }

    #[test]
    fn pipes_and_devices_are_errors_never_read() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "t/test_a.py", "a");
        let fifo = std::ffi::CString::new(t.path().join("t/pipe").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        for rel in ["t", "t/pipe"] {
            let e = test_path_digest(t.path(), rel).unwrap_err();
            assert!(matches!(e, TestPathError::Special { .. }), "{rel}: {e}");
        }
    }

    #[test]
    fn a_cache_reads_each_path_once_and_answers_the_same() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "tests/f/test_a.py", "a");
        let declared = vec!["tests/f".to_owned()];
        let cache = TestPathCache::default();
        let first = hash_test_paths_cached(t.path(), &declared, &cache).unwrap();
        assert_eq!(first, hash_test_paths(t.path(), &declared).unwrap());
        // Read once: a later edit is not seen through the same cache.
        write(t.path(), "tests/f/test_a.py", "edited");
        assert_eq!(
            hash_test_paths_cached(t.path(), &declared, &cache).unwrap(),
            first
        );
        assert_ne!(hash_test_paths(t.path(), &declared).unwrap(), first);
    }

    #[test]
    fn missing_paths_have_no_digest() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "tests/test_a.py", "a");
        assert_eq!(digest_of(t.path(), "tests/nope.py"), None);
        assert_eq!(digest_of(t.path(), "nope/test.py"), None);
        assert_eq!(
            digest_of(t.path(), "tests/test_a.py/x"),
            None,
            "a file where a folder is needed"
        );
    }

    #[test]
    fn the_tests_digest_ignores_declaration_order_and_marks_folders() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "tests/test_a.py", "a");
        write(t.path(), "tests/backup/test_b.py", "b");
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let a = hash_test_paths(
            t.path(),
            &names(&["tests/test_a.py", "tests/backup", "tests/gone.py"]),
        )
        .unwrap();
        let b = hash_test_paths(
            t.path(),
            &names(&[
                "tests/gone.py",
                "tests/backup",
                "tests/test_a.py",
                "tests/backup",
            ]),
        )
        .unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(b.paths.len(), 3, "duplicates count once");
        assert_eq!(a.missing(), ["tests/gone.py"]);
        let recorded: Vec<&str> = a.paths.iter().map(|p| p.recorded.as_str()).collect();
        assert_eq!(
            recorded,
            ["tests/test_a.py", "tests/backup/", "tests/gone.py"]
        );
        assert_eq!(a.digest, tests_digest(&a.refs()).unwrap());
        // A file holding the folder's listing bytes is still not the folder.
        let listing = folder_listing(&t.path().join("tests/backup"), "tests/backup").unwrap();
        let f = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(f.path().join("tests")).unwrap();
        std::fs::write(f.path().join("tests/backup"), &listing).unwrap();
        let folder = hash_test_paths(t.path(), &names(&["tests/backup"])).unwrap();
        let file = hash_test_paths(f.path(), &names(&["tests/backup"])).unwrap();
        assert_eq!(
            folder.paths[0].digests.as_ref().unwrap().sha256,
            file.paths[0].digests.as_ref().unwrap().sha256
        );
        assert_ne!(folder.digest, file.digest);
        // The root itself is a folder recorded as `./`.
        let root = hash_test_paths(t.path(), &names(&[""])).unwrap();
        assert_eq!(root.paths[0].recorded, "./");
    }
}

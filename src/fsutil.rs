//! The one home for putting bytes on disk and for naming files relative to a root.
//!
//! Writers, each with one stated guarantee about what a crash (the process killed, or
//! the machine losing power) can leave behind:
//!
//! | function | system calls per file | after a crash, a reader of `path` sees |
//! | --- | --- | --- |
//! | [`write_new`] | open (`O_EXCL`), write, close | nothing, or a prefix of `bytes` (possibly empty); never another file's bytes, and an existing file is never touched |
//! | [`write_replace`] | open, write, close, rename | the old file or all of the new one, never a mix; a `.<name>.<random>.tmp` may be left beside it. Not durable across a power loss |
//! | [`write_durable`] | as `write_replace`, plus `fsync` of the file and its directory | the same, and once it returns the new file survives a power loss |
//!
//! `write_new` is for a fresh output directory whose readers check what they read
//! (a proof cut short is not JSON; a digest or a signature binds the rest): it is the
//! cheapest way to create many files. `write_replace` is for replacing files that a
//! reader may open at any time; `write_durable` for state that must survive the machine
//! (run bundles, manifests, configuration).
//!
//! Paths: [`stays_inside`] and [`join_under`] turn a relative path from untrusted input
//! into a path under a root without letting it escape; [`repo_relative`] and
//! [`relative_under`] name a path relative to a root, always with `/` separators.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};

/// Creates `path`, which must not exist (`O_CREAT | O_EXCL`: `AlreadyExists` otherwise,
/// also for a symbolic link, which is never followed), and writes `bytes` with one
/// `write` call (more only if the kernel takes fewer bytes). No temporary file, no
/// rename, no `stat`.
///
/// Crash guarantee: a process killed during the call leaves `path` missing, empty or
/// holding a prefix of `bytes`. Nothing is fsynced. When the write fails (a full disk),
/// the file this call created is removed.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes).inspect_err(|_| {
        drop(std::fs::remove_file(path));
    })
}

/// Replaces (or creates) `path` with `bytes` through a temporary file in the same
/// directory (`.<name>.<random>.tmp`, created with `O_EXCL`) and a rename, so that a
/// reader sees the old content or all of the new one, never a part.
///
/// Crash guarantee: the old file or the whole new one; a killed process may leave its
/// temporary file behind. Nothing is fsynced: after a power loss the file system's
/// journal decides (on ext4 with `auto_da_alloc`, a rename over a file flushes the new
/// data first). Use [`write_durable`] where the content must survive the machine.
pub fn write_replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// [`write_replace`], and durable: the temporary file is fsynced before the rename and
/// the directory after it, so once this returns `Ok` the new content survives a power
/// loss. Creates the parent directory when missing.
pub fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_of(path);
    std::fs::create_dir_all(dir)?;
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// The directory `path` lies in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A new temporary file beside `path`, named after it and removed when dropped.
fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(parent_of(path))
}

/// Fsyncs a directory so that a rename in it is on disk (a no-op where directories
/// cannot be opened as files).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether a directory is new or empty, so that files can be created in it with
/// [`write_new`]: creates it (and its parents) when missing and returns `true`; returns
/// `true` when it exists and holds no entry, `false` when it holds any.
pub fn ensure_empty_or_new_dir(dir: &Path) -> io::Result<bool> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_dir(dir)?.next().is_none())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// A path from untrusted input that escapes its root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path:?} must be a path inside the repository (relative, without `..`)")]
pub struct EscapingPath {
    /// The path as given.
    pub path: String,
}

/// Whether a relative path from untrusted input stays under whatever root it is joined
/// to, whatever the checkout holds: not absolute (`/x`, `\x`, `C:x`) and without a `..`
/// component (either separator). The empty path and `.` name the root itself. What the
/// path names on disk (a symbolic link, a device) is for the caller to check.
pub fn stays_inside(path: &str) -> bool {
    let b = path.as_bytes();
    let drive = b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic();
    !(path.starts_with(['/', '\\']) || drive || path.split(['/', '\\']).any(|c| c == ".."))
}

/// [`stays_inside`] as a result that names the path.
pub fn check_inside(path: &str) -> Result<(), EscapingPath> {
    if stays_inside(path) {
        Ok(())
    } else {
        Err(EscapingPath {
            path: path.to_owned(),
        })
    }
}

/// `root` joined with `rel`, refused when `rel` could escape it ([`stays_inside`]).
pub fn join_under(root: &Path, rel: &str) -> Result<PathBuf, EscapingPath> {
    check_inside(rel)?;
    Ok(root.join(rel))
}

/// `path` relative to `root` with `/` separators and no leading `./` (`.` for the root
/// itself), or `None` when it does not lie under `root`. A relative `path` is taken as
/// given relative to the current directory, like `root`; the comparison is lexical
/// (links are not resolved).
pub fn relative_under(root: &Path, path: &Path) -> Option<String> {
    if let Ok(rel) = path.strip_prefix(root) {
        return Some(slashed(rel));
    }
    let p = std::path::absolute(path).ok()?;
    let r = std::path::absolute(root).ok()?;
    p.strip_prefix(&r).ok().map(slashed)
}

/// `path` as shown and recorded relative to the repository: [`relative_under`] when it
/// lies under `root`, else the path as given; always with `/` separators.
pub fn repo_relative(root: &Path, path: &Path) -> String {
    relative_under(root, path).unwrap_or_else(|| slashed(path))
}

/// A path's text with `/` separators, without `.` components (`.` when nothing is left).
fn slashed(p: &Path) -> String {
    let mut out = String::new();
    for c in p.components() {
        let part = match c {
            Component::CurDir => continue,
            Component::RootDir => {
                if out.is_empty() {
                    out.push('/');
                }
                continue;
            }
            Component::Prefix(x) => x.as_os_str().to_string_lossy(),
            Component::ParentDir => "..".into(),
            Component::Normal(s) => s.to_string_lossy(),
        };
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&part.replace('\\', "/"));
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_creates_once_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_new(&p, b"{}\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}\n");
        let e = write_new(&p, b"other").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"{}\n");
    }

    #[cfg(unix)]
    #[test]
    fn write_new_does_not_write_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_new(&link, b"x").is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn write_replace_and_write_durable_replace_whole_files_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_replace(&p, b"one").unwrap();
        write_replace(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let nested = dir.path().join("new/sub/b.json");
        write_durable(&nested, b"three").unwrap();
        write_durable(&nested, b"four").unwrap();
        assert_eq!(std::fs::read(&nested).unwrap(), b"four");
        for d in [dir.path().to_path_buf(), dir.path().join("new/sub")] {
            let names: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        }
    }

    #[test]
    fn write_replace_fails_in_a_missing_directory_without_creating_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing/a.json");
        assert!(write_replace(&p, b"x").is_err());
        assert!(!dir.path().join("missing").exists());
    }

    #[test]
    fn an_output_directory_is_fresh_when_new_or_empty_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        assert!(ensure_empty_or_new_dir(&out).unwrap(), "created");
        assert!(out.is_dir());
        assert!(ensure_empty_or_new_dir(&out).unwrap(), "exists, empty");
        std::fs::write(out.join("x"), b"").unwrap();
        assert!(!ensure_empty_or_new_dir(&out).unwrap(), "holds a file");
        std::fs::write(dir.path().join("file"), b"").unwrap();
        assert!(ensure_empty_or_new_dir(&dir.path().join("file")).is_err());
    }

    #[test]
    fn paths_that_could_escape_the_root_are_refused() {
        for ok in ["", ".", "tests/x.py", "a/./b", "a..b/c", "tests/"] {
            assert!(stays_inside(ok), "{ok}");
        }
        for bad in [
            "/etc", "\\x", "C:x", "c:\\x", "..", "../x", "a/../b", "a\\..\\b",
        ] {
            assert!(!stays_inside(bad), "{bad}");
            assert_eq!(
                join_under(Path::new("/r"), bad),
                Err(EscapingPath { path: bad.into() })
            );
        }
        assert_eq!(
            join_under(Path::new("/r"), "t/x.py").unwrap(),
            PathBuf::from("/r/t/x.py")
        );
    }

    #[test]
    fn relative_paths_always_use_forward_slashes() {
        let root = Path::new("/repo");
        assert_eq!(repo_relative(root, Path::new("/repo/a/b.xml")), "a/b.xml");
        assert_eq!(repo_relative(root, Path::new("/repo")), ".");
        assert_eq!(
            repo_relative(root, Path::new("/elsewhere/x")),
            "/elsewhere/x"
        );
        assert_eq!(
            repo_relative(Path::new("."), Path::new("./junit/x.xml")),
            "junit/x.xml"
        );
        assert_eq!(repo_relative(Path::new("r"), Path::new("r/./a")), "a");
        assert_eq!(relative_under(root, Path::new("/other")), None);
        // A name with a backslash (a Windows separator) is recorded with `/`.
        assert_eq!(repo_relative(root, Path::new("/repo/a\\b.xml")), "a/b.xml");
    }

    #[test]
    fn a_relative_path_is_compared_with_an_absolute_root_from_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            relative_under(&cwd, Path::new("x/y.json")).as_deref(),
            Some("x/y.json")
        );
        assert_eq!(
            relative_under(Path::new("."), &cwd.join("z")).as_deref(),
            Some("z")
        );
    }
}

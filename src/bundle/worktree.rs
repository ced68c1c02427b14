//! A recorded commit checked out in a temporary, detached git worktree
//! (`git worktree add --detach`), removed again when the value is dropped — on success
//! and on error alike — or through [`WorktreeCleanup`] from a signal handler.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

/// Why the worktree could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// The repository does not have the commit.
    #[error(
        "commit {commit} is not in the repository at `{}`: fetch it (`git fetch origin {commit}`) or pass its clone with --root",
        root.display()
    )]
    UnknownCommit {
        /// The repository.
        root: PathBuf,
        /// The commit.
        commit: String,
    },
    /// The temporary directory could not be made.
    #[error("cannot create a temporary directory for the worktree")]
    TempDir(#[source] std::io::Error),
    /// `git` failed.
    #[error("`git {args}` failed: {message}")]
    Git {
        /// The arguments.
        args: String,
        /// Its stderr.
        message: String,
    },
}

impl crate::exit::Failure for WorktreeError {
    fn exit_class(&self) -> crate::exit::ExitClass {
        match self {
            Self::UnknownCommit { .. } => crate::exit::ExitClass::Usage,
            Self::TempDir(_) | Self::Git { .. } => crate::exit::ExitClass::Io,
        }
    }
}

/// What removes a worktree: shared between the [`Worktree`] and a signal handler, so
/// the first to run removes it and the other finds nothing left to do.
#[derive(Debug, Clone)]
pub struct WorktreeCleanup {
    inner: Arc<Mutex<Option<(PathBuf, PathBuf)>>>,
}

impl WorktreeCleanup {
    /// Removes the worktree (`git worktree remove --force`, then its directory) if it is
    /// still there. Errors are ignored: there is nothing left to report them to.
    pub fn run(&self) {
        let taken = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((repo, path)) = taken {
            let _ = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["worktree", "remove", "--force"])
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&path);
            let _ = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["worktree", "prune"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A detached worktree of one commit; removed when dropped.
#[derive(Debug)]
pub struct Worktree {
    path: PathBuf,
    cleanup: WorktreeCleanup,
    // Dropped after the worktree is removed: the directory that held it.
    _parent: tempfile::TempDir,
}

impl Worktree {
    /// Checks `commit` out of the repository at `repo` into a new temporary directory.
    /// `commit` must be a hexadecimal commit id (checked by the caller), so that it can
    /// be neither an option nor a range.
    pub fn add(repo: &Path, commit: &str) -> Result<Self, WorktreeError> {
        let unknown = || WorktreeError::UnknownCommit {
            root: repo.to_owned(),
            commit: commit.to_owned(),
        };
        if !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        if super::git::resolve(repo, commit).ok().flatten().is_none() {
            return Err(unknown());
        }
        let parent = tempfile::Builder::new()
            .prefix("proofgate-replay-")
            .tempdir()
            .map_err(WorktreeError::TempDir)?;
        let path = parent.path().join("tree");
        let out = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["worktree", "add", "--detach", "--quiet"])
            .arg(&path)
            .arg(commit)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| WorktreeError::Git {
                args: "worktree add".to_owned(),
                message: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(WorktreeError::Git {
                args: format!("worktree add --detach {} {commit}", path.display()),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(Self {
            cleanup: WorktreeCleanup {
                inner: Arc::new(Mutex::new(Some((repo.to_owned(), path.clone())))),
            },
            path,
            _parent: parent,
        })
    }

    /// The checkout.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle that removes the worktree, for a signal handler.
    pub fn cleanup(&self) -> WorktreeCleanup {
        self.cleanup.clone()
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        self.cleanup.run();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let o = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    fn repo() -> (tempfile::TempDir, String, String) {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        git(d, &["init", "-q", "-b", "main"]);
        git(d, &["config", "user.email", "t@example.com"]);
        git(d, &["config", "user.name", "t"]);
        std::fs::write(d.join("a.txt"), "first\n").unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-qm", "first"]);
        let first = git(d, &["rev-parse", "HEAD"]);
        std::fs::write(d.join("a.txt"), "second\n").unwrap();
        git(d, &["commit", "-qam", "second"]);
        let second = git(d, &["rev-parse", "HEAD"]);
        (t, first, second)
    }

    #[test]
    fn the_worktree_holds_the_commit_and_is_removed_when_dropped() {
        let (t, first, _) = repo();
        let wt = Worktree::add(t.path(), &first).unwrap();
        let path = wt.path().to_owned();
        assert_eq!(
            std::fs::read_to_string(path.join("a.txt")).unwrap(),
            "first\n"
        );
        assert_eq!(
            std::fs::read_to_string(t.path().join("a.txt")).unwrap(),
            "second\n",
            "the checkout is untouched"
        );
        drop(wt);
        assert!(!path.exists());
        assert!(!git(t.path(), &["worktree", "list"]).contains("tree"));
    }

    #[test]
    fn an_unknown_commit_or_a_name_that_is_not_a_commit_id_is_refused() {
        let (t, _, _) = repo();
        for c in ["0123456789abcdef0123456789abcdef01234567", "--help", "HEAD"] {
            assert!(
                matches!(
                    Worktree::add(t.path(), c),
                    Err(WorktreeError::UnknownCommit { .. })
                ),
                "{c}"
            );
        }
    }

    #[test]
    fn cleanup_from_a_handler_and_then_drop_remove_it_once() {
        let (t, first, _) = repo();
        let wt = Worktree::add(t.path(), &first).unwrap();
        let path = wt.path().to_owned();
        wt.cleanup().run();
        assert!(!path.exists());
        drop(wt);
    }
}

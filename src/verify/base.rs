//! The base commit's tree, for judging a change by the policy it is meant to change.
//!
//! The gate reads `proofgate.yaml` and every script header at the base as well as at the
//! commit under test. The base's tree is written into a temporary directory with a
//! private index (`git read-tree` + `git checkout-index`), so the checkout and its index
//! are never touched. A shallow checkout that lacks the base fetches that one commit
//! (`git fetch --depth=1 origin <sha>`, with the checkout's credentials). When the base
//! cannot be had the gate stops with an error: it never falls back to the change's own
//! policy.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why the base tree could not be had.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    /// The revision is not a plausible git revision (it could be read as an option).
    #[error("`{0}` is not a commit or ref name")]
    BadRevision(String),
    /// The revision is not in the repository and could not be fetched.
    #[error(
        "the base commit `{rev}` is not in the checkout at `{root}` and could not be fetched \
         ({why}); check out with `fetch-depth: 0`, or make sure `git fetch origin {rev}` \
         works in this job. The gate does not fall back to the change's own policy"
    )]
    Unavailable {
        /// The revision asked for.
        rev: String,
        /// The repository root.
        root: String,
        /// What git said.
        why: String,
    },
    /// `git` could not be run or failed.
    #[error("`git {args}` failed: {why}")]
    Git {
        /// The arguments.
        args: String,
        /// What went wrong.
        why: String,
    },
}

/// The base commit's tree, written out; removed when dropped.
#[derive(Debug)]
pub struct BaseTree {
    /// The commit (full SHA).
    pub commit: String,
    dir: tempfile::TempDir,
}

impl BaseTree {
    /// The root of the written tree.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("tree")
    }
}

fn git(
    root: &Path,
    args: &[&str],
    index: Option<&Path>,
) -> Result<(bool, String, String), BaseError> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(root).args(args).stdin(Stdio::null());
    if let Some(i) = index {
        cmd.env("GIT_INDEX_FILE", i);
    }
    // Never prompt for credentials: a job without them fails instead of hanging.
    cmd.env("GIT_TERMINAL_PROMPT", "0");
    let out = cmd.output().map_err(|e| BaseError::Git {
        args: args.join(" "),
        why: e.to_string(),
    })?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    ))
}

fn plausible(rev: &str) -> bool {
    !rev.is_empty()
        && !rev.starts_with('-')
        && rev.len() <= 256
        && rev.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

fn resolve(root: &Path, rev: &str) -> Result<Option<String>, BaseError> {
    crate::bundle::git::resolve(root, rev).map_err(|e| BaseError::Git {
        args: format!("rev-parse {rev}"),
        why: e.to_string(),
    })
}

/// Writes the tree of `rev` (a commit SHA, tag or branch) of the repository at `root`
/// into a temporary directory, fetching the commit from `origin` first when the
/// checkout lacks it.
pub fn export(root: &Path, rev: &str) -> Result<BaseTree, BaseError> {
    if !plausible(rev) {
        return Err(BaseError::BadRevision(rev.to_owned()));
    }
    let commit = match resolve(root, rev)? {
        Some(c) => c,
        None => {
            let (ok, _, err) = git(
                root,
                &["fetch", "--quiet", "--no-tags", "--depth=1", "origin", rev],
                None,
            )?;
            let fetched = if ok { resolve(root, rev)? } else { None };
            fetched.ok_or_else(|| BaseError::Unavailable {
                rev: rev.to_owned(),
                root: root.display().to_string(),
                why: if err.is_empty() {
                    "not found".to_owned()
                } else {
                    err.lines().last().unwrap_or_default().to_owned()
                },
            })?
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("proofgate-base-")
        .tempdir()
        .map_err(|e| BaseError::Git {
            args: "(temporary directory)".into(),
            why: e.to_string(),
        })?;
    let index = dir.path().join("index");
    let tree = dir.path().join("tree");
    let prefix = format!("{}/", tree.display());
    for args in [
        vec!["read-tree", commit.as_str()],
        vec![
            "checkout-index",
            "--all",
            "--force",
            "--prefix",
            prefix.as_str(),
        ],
    ] {
        let (ok, _, err) = git(root, &args, Some(&index))?;
        if !ok {
            return Err(BaseError::Git {
                args: args.join(" "),
                why: err,
            });
        }
    }
    std::fs::create_dir_all(&tree).map_err(|e| BaseError::Git {
        args: "checkout-index".into(),
        why: e.to_string(),
    })?;
    Ok(BaseTree { commit, dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, cmd: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@e")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@e")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn the_base_tree_is_written_without_touching_the_checkout() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        sh(
            r,
            "git init -q . && mkdir -p s && echo base > s/a.py && git add . && git commit -qm base",
        );
        let base = sh(r, "git rev-parse HEAD");
        sh(
            r,
            "echo head > s/a.py && git commit -qam head && echo dirty > s/a.py",
        );
        let status_before = sh(r, "git status --porcelain");
        let t = export(r, &base).unwrap();
        assert_eq!(t.commit, base);
        assert_eq!(
            std::fs::read_to_string(t.root().join("s/a.py")).unwrap(),
            "base\n"
        );
        assert_eq!(
            std::fs::read_to_string(r.join("s/a.py")).unwrap(),
            "dirty\n"
        );
        assert_eq!(sh(r, "git status --porcelain"), status_before);
    }

    #[test]
    fn a_missing_base_is_an_error_not_a_fallback() {
        let d = tempfile::tempdir().unwrap();
        sh(
            d.path(),
            "git init -q . && git commit -q --allow-empty -m x",
        );
        let e = export(d.path(), "0123456789012345678901234567890123456789").unwrap_err();
        assert!(matches!(e, BaseError::Unavailable { .. }), "{e}");
        assert!(matches!(
            export(d.path(), "--upload-pack=touch x").unwrap_err(),
            BaseError::BadRevision(_)
        ));
    }
}

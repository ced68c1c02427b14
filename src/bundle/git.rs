//! What changed: head SHA, base ref, changed files and diff stat, read from `git`.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Lines added and deleted, and files touched, between the merge base and `HEAD`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffStat {
    /// Lines added (binary files count 0).
    pub added: u64,
    /// Lines deleted (binary files count 0).
    pub deleted: u64,
    /// Files changed.
    pub files: u64,
}

/// The repository state a run bundle records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    /// `HEAD`'s commit.
    pub head_sha: String,
    /// The base the diff is against, as named (`origin/main`, a SHA …); `None` when no
    /// base was given and none of the defaults exists.
    pub base_ref: Option<String>,
    /// The merge base of the base and `HEAD`, which the diff starts from.
    pub merge_base: Option<String>,
    /// Changed files, sorted.
    pub changed_files: Vec<String>,
    /// Size of the change.
    pub diff_stat: DiffStat,
}

/// Why the repository state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A base named by the user does not resolve to a commit.
    #[error("base `{0}` is not a commit in this repository")]
    UnknownBase(String),
    /// `git` failed unexpectedly.
    #[error("`git {args}` failed: {message}")]
    Failed {
        /// The arguments.
        args: String,
        /// Its stderr.
        message: String,
    },
}

fn git(root: &Path, args: &[&str]) -> Result<Option<Vec<u8>>, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| GitError::Failed {
            args: args.join(" "),
            message: e.to_string(),
        })?;
    Ok(out.status.success().then_some(out.stdout))
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).trim().to_owned()
}

/// The commit `name` resolves to (`git rev-parse --verify --quiet <name>^{commit}` in
/// `root`), if any: `resolve(root, "HEAD")` is the commit checked out.
pub fn resolve(root: &Path, name: &str) -> Result<Option<String>, GitError> {
    let spec = format!("{name}^{{commit}}");
    Ok(git(root, &["rev-parse", "--verify", "--quiet", &spec])?.map(text))
}

/// Picks the base: `explicit` (which must exist), else `GITHUB_BASE_REF` (tried as
/// `origin/<ref>`, then `<ref>`), else `origin/main` when it exists.
pub fn choose_base(
    root: &Path,
    explicit: Option<&str>,
    github_base_ref: Option<&str>,
) -> Result<Option<String>, GitError> {
    if let Some(b) = explicit {
        return match resolve(root, b)? {
            Some(_) => Ok(Some(b.to_owned())),
            None => Err(GitError::UnknownBase(b.to_owned())),
        };
    }
    let mut candidates = Vec::new();
    if let Some(b) = github_base_ref.filter(|b| !b.is_empty()) {
        candidates.push(format!("origin/{b}"));
        candidates.push(b.to_owned());
    }
    candidates.push("origin/main".to_owned());
    for c in candidates {
        if resolve(root, &c)?.is_some() {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Parses `git diff --numstat -z --no-renames` output.
pub fn parse_numstat(out: &[u8]) -> (Vec<String>, DiffStat) {
    let mut files = Vec::new();
    let mut stat = DiffStat::default();
    for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let mut parts = rec.splitn(3, |b| *b == b'\t');
        let (Some(a), Some(d), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let num = |s: &[u8]| {
            std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        stat.added += num(a);
        stat.deleted += num(d);
        stat.files += 1;
        files.push(String::from_utf8_lossy(path).into_owned());
    }
    files.sort();
    (files, stat)
}

/// Reads the repository state; `Ok(None)` when `root` is not in a git work tree (or git
/// is not installed).
pub fn collect(
    root: &Path,
    explicit_base: Option<&str>,
    github_base_ref: Option<&str>,
) -> Result<Option<GitInfo>, GitError> {
    let head = match Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        .output()
    {
        Ok(o) if o.status.success() => text(o.stdout),
        _ => {
            if explicit_base.is_some() {
                return Err(GitError::UnknownBase(
                    explicit_base.unwrap_or_default().to_owned(),
                ));
            }
            return Ok(None);
        }
    };
    let base = choose_base(root, explicit_base, github_base_ref)?;
    let mut info = GitInfo {
        head_sha: head,
        base_ref: base.clone(),
        merge_base: None,
        changed_files: Vec::new(),
        diff_stat: DiffStat::default(),
    };
    if let Some(b) = base {
        let Some(mb) = git(root, &["merge-base", &b, "HEAD"])?.map(text) else {
            return Ok(Some(info));
        };
        let out = git(
            root,
            &["diff", "--numstat", "-z", "--no-renames", &mb, "HEAD"],
        )?
        .ok_or_else(|| GitError::Failed {
            args: format!("diff --numstat {mb} HEAD"),
            message: "non-zero exit".into(),
        })?;
        let (files, stat) = parse_numstat(&out);
        info.merge_base = Some(mb);
        info.changed_files = files;
        info.diff_stat = stat;
    }
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_counts_lines_and_binary_files() {
        let (files, stat) =
            parse_numstat(b"3\t1\tsrc/a.py\x00-\t-\tlogo.png\x0010\t0\tb c.txt\x00");
        assert_eq!(files, ["b c.txt", "logo.png", "src/a.py"]);
        assert_eq!(
            stat,
            DiffStat {
                added: 13,
                deleted: 1,
                files: 3
            }
        );
    }

    fn sh(dir: &Path, cmd: &str) {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd}");
    }

    #[test]
    fn diff_is_against_the_merge_base_of_the_base() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        sh(
            d,
            "git init -q -b main . && git config user.email t@e && git config user.name t \
               && printf 'a\\n' > a && git add a && git commit -qm one \
               && git checkout -qb topic && printf 'a\\nb\\nc\\n' > a && printf 'x\\n' > new \
               && git add -A && git commit -qm two \
               && git checkout -q main && printf 'z\\n' > other && git add other && git commit -qm three \
               && git checkout -q topic",
        );
        let info = collect(d, Some("main"), None).unwrap().unwrap();
        assert_eq!(info.changed_files, ["a", "new"]);
        assert_eq!(
            info.diff_stat,
            DiffStat {
                added: 3,
                deleted: 0,
                files: 2
            }
        );
        assert_eq!(info.head_sha.len(), 40);
        assert!(matches!(
            collect(d, Some("nope"), None),
            Err(GitError::UnknownBase(_))
        ));
        // Without a base and without origin/main: head only.
        let bare = collect(d, None, Some("")).unwrap().unwrap();
        assert_eq!(bare.base_ref, None);
        // GITHUB_BASE_REF names a local branch when origin/<ref> is absent.
        assert_eq!(
            collect(d, None, Some("main"))
                .unwrap()
                .unwrap()
                .base_ref
                .as_deref(),
            Some("main")
        );
    }

    #[test]
    fn outside_a_repository_there_is_no_git_info() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(collect(t.path(), None, None).unwrap(), None);
    }
}

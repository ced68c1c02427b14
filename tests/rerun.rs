//! `proofgate run --rerun-failed N` against the real tools: a test that fails on its
//! first attempt and passes after is `flaky` in the proof and the run passes; a test that
//! always fails stays failed after every rerun; a command that is neither pytest nor
//! cargo-nextest is rerun whole, and the output says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    c.env_remove("PROOFGATE_SIGNING_KEY")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("GITHUB_BASE_REF")
        .env_remove("PYTHONHASHSEED")
        .env_remove("PROPTEST_RNG_SEED");
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rerun")
        .join(name)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `true` when the peer is there. Without it: a failure under
/// `PROOFGATE_REQUIRE_PEERS=1`, otherwise a loud skip.
fn peer(name: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("peer `{name}` is missing and PROOFGATE_REQUIRE_PEERS=1 (run scripts/setup.sh)");
    }
    eprintln!("SKIPPED: peer `{name}` is not installed; run scripts/setup.sh to test against it");
    false
}

fn has_python_module(m: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {m}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Validates `value` against `schemas/<name>` with Python's `jsonschema`.
fn assert_schema(name: &str, value: &Value) {
    if !peer("python3 jsonschema", has_python_module("jsonschema")) {
        return;
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.json");
    std::fs::write(&doc, serde_json::to_vec(value).unwrap()).unwrap();
    let script = "import json,sys,jsonschema\n\
                  s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))\n\
                  jsonschema.Draft202012Validator.check_schema(s)\n\
                  jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker()).validate(d)";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(&doc)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{name} rejects the document:\n{}\n{value:#}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `proofgate run` in `root` with `flags`, then `cmd`; the output, `bundle.json` and the
/// proof of `script`.
fn run(
    root: &Path,
    flags: &[&str],
    cmd: &[&str],
    envs: &[(&str, &str)],
    script: &str,
) -> (Output, Value, Value) {
    let mut c = bin();
    c.current_dir(root)
        .args(["run", "--out", "out"])
        .args(flags)
        .arg("--")
        .args(cmd);
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let read = |p: PathBuf| -> Value {
        let bytes = std::fs::read(&p)
            .unwrap_or_else(|e| panic!("no {} ({e}); stderr:\n{}", p.display(), stderr(&o)));
        serde_json::from_slice(&bytes).unwrap()
    };
    let bundle = read(root.join("out/bundle.json"));
    let proof = read(root.join(format!("out/proof-{script}.json")));
    (o, bundle, proof)
}

/// A proof's test by name: its status and attempts.
fn test_in(proof: &Value, name: &str) -> (String, u64) {
    let t = proof["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no test {name} in {proof:#}"));
    (
        t["status"].as_str().unwrap().to_owned(),
        t["attempts"].as_u64().unwrap(),
    )
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

const PYTEST: &[&str] = &[
    "python3",
    "-m",
    "pytest",
    "-q",
    "tests/test_tool.py",
    "--junitxml=results/junit.xml",
];

fn pytest_project() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&fixture("pytest-project"), t.path());
    t
}

#[test]
fn pytest_tests_that_fail_once_are_flaky_after_a_rerun_by_node_id_and_the_run_passes() {
    if !peer("python3 pytest", has_python_module("pytest")) {
        return;
    }
    let t = pytest_project();
    let root = t.path();
    let state = tempfile::tempdir().unwrap();
    let (o, b, proof) = run(
        root,
        &["--rerun-failed", "2", "--junit", "results/junit.xml"],
        PYTEST,
        &[("FIXTURE_STATE_DIR", path(&state)), ("PYTHONHASHSEED", "0")],
        "tool",
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("proofgate: rerun 1 of 2: 2 failed test(s) by id (pytest)"),
        "{err}"
    );
    // The command failed; the merged outcome passed; its own exit code is kept.
    assert_eq!(b["exit_code"], 1);
    assert_eq!(b["outcome"], "PASSED");
    assert_eq!(b["seeds"], serde_json::json!({"PYTHONHASHSEED": "0"}));
    assert_eq!(
        proof["context"]["seeds"], b["seeds"],
        "the proof carries the run's seeds"
    );
    let reruns = b["reruns"].as_array().unwrap();
    assert_eq!(reruns.len(), 1, "no second rerun once nothing fails: {b:#}");
    let r = &reruns[0];
    assert_eq!(
        (r["attempt"].as_u64(), r["tool"].as_str()),
        (Some(1), Some("pytest"))
    );
    assert_eq!(r["scope"], "tests");
    assert_eq!(
        strings(&r["tests"]),
        [
            "tests/test_tool.py::test_flaky",
            "tests/test_tool.py::TestGroup::test_flaky_param[2]"
        ]
    );
    assert_eq!(r["exit_code"], 0);
    assert_eq!(
        (r["passed"].as_u64(), r["still_failing"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(r["seeds"], b["seeds"], "the rerun ran with the same seeds");
    assert_eq!(r["junit"][0]["path"], "out/reruns/attempt-1/junit.xml");
    assert_eq!(r["log"]["path"], "out/reruns/attempt-1/tests.log");
    // Only the failed tests ran again, with the same options and a fresh JUnit file.
    let command = strings(&r["command"]);
    assert_eq!(&command[..4], &PYTEST[..4]);
    assert!(
        !command.iter().any(|a| a == "tests/test_tool.py"),
        "{command:?}"
    );
    assert!(
        !command.iter().any(|a| a == "--junitxml=results/junit.xml"),
        "{command:?}"
    );
    let log = std::fs::read_to_string(root.join("out/reruns/attempt-1/tests.log")).unwrap();
    assert!(log.contains("2 passed"), "{log}");
    // The command's own JUnit is untouched; both files are the bundle's JUnit.
    let first = std::fs::read_to_string(root.join("results/junit.xml")).unwrap();
    assert!(first.contains(r#"failures="2""#), "{first}");
    let junit: Vec<&str> = b["junit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        junit,
        ["results/junit.xml", "out/reruns/attempt-1/junit.xml"]
    );
    assert_schema("bundle.schema.json", &b);

    assert_eq!(proof["verdict"], "PASS", "{proof:#}");
    assert_eq!(proof["flaky"], 2);
    assert_eq!(proof["test_summary"]["passed"], 5);
    assert_eq!(test_in(&proof, "test_flaky"), ("flaky".to_owned(), 2));
    assert_eq!(
        test_in(&proof, "test_flaky_param[2]"),
        ("flaky".to_owned(), 2)
    );
    assert_eq!(
        test_in(&proof, "test_flaky_param[1]"),
        ("passed".to_owned(), 1)
    );
    assert_eq!(test_in(&proof, "test_doubles"), ("passed".to_owned(), 1));
    let summary = std::fs::read_to_string(root.join("out/summary.md")).unwrap();
    assert!(
        summary.contains(
            "| Reruns | 1 (failed tests by id): 2 passed on a rerun (flaky), 0 still failing |"
        ),
        "{summary}"
    );
    // `proofgate flaky` reads the incident from the proof: a pass on a retry, two
    // attempts, with the seeds it ran under.
    let o = bin()
        .current_dir(root)
        .args(["flaky", "out", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = v["flaky"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "test_flaky")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(t["incidents"][0]["status"], "flaky", "{t:#}");
    assert_eq!(t["incidents"][0]["attempts"], 2, "{t:#}");
    assert_eq!(t["incidents"][0]["seeds"], b["seeds"], "{t:#}");
}

#[test]
fn pytest_a_test_that_always_fails_stays_failed_after_every_rerun() {
    if !peer("python3 pytest", has_python_module("pytest")) {
        return;
    }
    let t = pytest_project();
    let root = t.path();
    let state = tempfile::tempdir().unwrap();
    let (o, b, proof) = run(
        root,
        &["--rerun-failed", "2", "--junit", "results/junit.xml"],
        PYTEST,
        &[("FIXTURE_STATE_DIR", path(&state)), ("FIXTURE_BROKEN", "1")],
        "tool",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(b["outcome"], "FAILED");
    let reruns = b["reruns"].as_array().unwrap();
    assert_eq!(reruns.len(), 2, "{b:#}");
    assert_eq!(reruns[0]["tests"].as_array().unwrap().len(), 3);
    // The second rerun runs only what still fails.
    assert_eq!(
        strings(&reruns[1]["tests"]),
        ["tests/test_tool.py::test_broken_when_asked"]
    );
    assert_eq!(reruns[1]["still_failing"], 1);
    assert_ne!(reruns[1]["exit_code"], 0);
    assert_eq!(proof["verdict"], "FAIL");
    assert_eq!(
        test_in(&proof, "test_broken_when_asked"),
        ("failed".to_owned(), 3)
    );
    assert_eq!(test_in(&proof, "test_flaky"), ("flaky".to_owned(), 2));
    assert!(stderr(&o).contains("1 still failing"), "{}", stderr(&o));
    assert_schema("bundle.schema.json", &b);
}

#[test]
fn a_command_that_is_not_pytest_or_nextest_is_rerun_whole_and_says_so() {
    if !peer("python3 pytest", has_python_module("pytest")) {
        return;
    }
    let t = pytest_project();
    let root = t.path();
    let state = tempfile::tempdir().unwrap();
    let (o, b, proof) = run(
        root,
        &[
            "--shell",
            "--rerun-failed",
            "1",
            "--junit",
            "results/junit.xml",
            "--seed",
            "fixture=7",
        ],
        &[&PYTEST.join(" ")],
        &[("FIXTURE_STATE_DIR", path(&state))],
        "tool",
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("proofgate: rerun 1 of 1: rerunning the whole command for 2 failed test(s)"),
        "{err}"
    );
    let r = &b["reruns"][0];
    assert_eq!(
        (r["tool"].as_str(), r["scope"].as_str()),
        (Some("command"), Some("command"))
    );
    assert_eq!(r["tests"], serde_json::json!([]));
    // A seed given with --seed is recorded like a detected one.
    assert_eq!(b["seeds"], serde_json::json!({"fixture": "7"}));
    assert_eq!(proof["context"]["seeds"], b["seeds"]);
    assert_eq!(r["command"], b["command"]);
    // The whole command ran again (five tests), and wrote where the first run did: its
    // file was kept in the rerun's directory, and the first run's put back.
    let log = std::fs::read_to_string(root.join("out/reruns/attempt-1/tests.log")).unwrap();
    assert!(log.contains("5 passed"), "{log}");
    assert_eq!(r["junit"][0]["path"], "out/reruns/attempt-1/0-junit.xml");
    let first = std::fs::read_to_string(root.join("results/junit.xml")).unwrap();
    assert!(first.contains(r#"failures="2""#), "{first}");
    assert_eq!(test_in(&proof, "test_flaky"), ("flaky".to_owned(), 2));
    assert_eq!(test_in(&proof, "test_doubles"), ("passed".to_owned(), 1));
    assert_schema("bundle.schema.json", &b);
}

#[test]
fn rerunning_needs_junit_and_is_capped() {
    let t = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(t.path())
        .args(["run", "--rerun-failed", "1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--rerun-failed needs --junit"),
        "{}",
        stderr(&o)
    );
    let o = bin()
        .current_dir(t.path())
        .args([
            "run",
            "--rerun-failed",
            "11",
            "--junit",
            "j.xml",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("11 is not in 0..=10"), "{}", stderr(&o));
    assert!(!t.path().join("test-results").exists(), "nothing ran");
}

#[test]
fn a_failed_command_whose_junit_names_no_failed_test_is_not_rerun_and_fails() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::copy(
        fixture("pytest-project/scripts/tool.py"),
        root.join("scripts/tool.py"),
    )
    .unwrap();
    let script = "mkdir -p results && printf '<testsuite name=\"s\"><testcase file=\"tests/test_tool.py\" \
                  classname=\"tests.test_tool\" name=\"test_doubles\"/></testsuite>' > results/junit.xml \
                  && echo ran >> runs.txt && exit 3";
    let (o, b, _) = run(
        root,
        &[
            "--shell",
            "--rerun-failed",
            "2",
            "--junit",
            "results/junit.xml",
        ],
        &[script],
        &[],
        "tool",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reports no failed test to rerun; the failure stands"),
        "{}",
        stderr(&o)
    );
    assert_eq!(b["outcome"], "FAILED");
    assert!(b.get("reruns").is_none(), "{b:#}");
    assert_eq!(
        std::fs::read_to_string(root.join("runs.txt")).unwrap(),
        "ran\n"
    );
}

#[test]
fn nextest_a_test_that_fails_once_is_flaky_and_one_that_always_fails_stays_failed() {
    if !peer("cargo-nextest", has_nextest()) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    copy_dir(&fixture("nextest-project"), root);
    let built = Command::new("cargo")
        .args(["nextest", "run", "--offline", "--no-run"])
        .current_dir(root)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let cmd = ["cargo", "nextest", "run", "--offline", "--no-fail-fast"];
    let flags = [
        "--rerun-failed",
        "2",
        "--junit",
        "target/nextest/default/junit.xml",
    ];

    let state = tempfile::tempdir().unwrap();
    let (o, b, proof) = run(
        root,
        &flags,
        &cmd,
        &[("FIXTURE_STATE_DIR", path(&state))],
        "double",
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert!(
        err.contains("proofgate: rerun 1 of 2: 1 failed test(s) by id (cargo-nextest)"),
        "{err}"
    );
    assert_eq!(
        (b["exit_code"].as_i64(), b["outcome"].as_str()),
        (Some(100), Some("PASSED"))
    );
    let r = &b["reruns"][0];
    assert_eq!(b["reruns"].as_array().unwrap().len(), 1);
    assert_eq!(strings(&r["tests"]), ["rerun-fixture::tests::flaky"]);
    let command = strings(&r["command"]);
    assert_eq!(
        command[command.len() - 2..],
        ["-E", "(binary_id(=rerun-fixture) & test(=tests::flaky))"]
    );
    let log = std::fs::read_to_string(root.join("out/reruns/attempt-1/tests.log")).unwrap();
    assert!(log.contains("1 test run: 1 passed, 2 skipped"), "{log}");
    assert_eq!(r["junit"][0]["path"], "out/reruns/attempt-1/0-junit.xml");
    // nextest writes its JUnit to one place: the first run's is put back there.
    let first = std::fs::read_to_string(root.join("target/nextest/default/junit.xml")).unwrap();
    assert!(first.contains(r#"failures="1""#), "{first}");
    assert_eq!(proof["verdict"], "PASS", "{proof:#}");
    assert_eq!(proof["flaky"], 1);
    assert_eq!(test_in(&proof, "tests::flaky"), ("flaky".to_owned(), 2));
    assert_eq!(test_in(&proof, "tests::doubles"), ("passed".to_owned(), 1));
    assert_schema("bundle.schema.json", &b);

    std::fs::remove_dir_all(root.join("out")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (o, b, proof) = run(
        root,
        &flags,
        &cmd,
        &[("FIXTURE_STATE_DIR", path(&state)), ("FIXTURE_BROKEN", "1")],
        "double",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(b["outcome"], "FAILED");
    let reruns = b["reruns"].as_array().unwrap();
    assert_eq!(reruns.len(), 2);
    assert_eq!(
        strings(&reruns[1]["tests"]),
        ["rerun-fixture::tests::broken_when_asked"]
    );
    assert_eq!(reruns[1]["exit_code"], 100);
    assert_eq!(proof["verdict"], "FAIL");
    assert_eq!(
        test_in(&proof, "tests::broken_when_asked"),
        ("failed".to_owned(), 3)
    );
    assert_eq!(test_in(&proof, "tests::flaky"), ("flaky".to_owned(), 2));
    assert_schema("bundle.schema.json", &b);
}

/// The venv `scripts/setup.d/55-rerun.sh` makes with pytest-randomly (kept apart: it
/// shuffles every pytest run it is installed beside).
fn randomly_python() -> Option<PathBuf> {
    let python =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/pytest-randomly/bin/python");
    Command::new(&python)
        .args(["-c", "import pytest_randomly"])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(python)
}

#[test]
fn pytest_randomly_seed_is_recorded_and_the_rerun_runs_with_it() {
    let python = randomly_python();
    if !peer(
        "pytest-randomly (scripts/setup.d/55-rerun.sh)",
        python.is_some(),
    ) {
        return;
    }
    let python = python.unwrap();
    let t = pytest_project();
    let root = t.path();
    let state = tempfile::tempdir().unwrap();
    // Without -q, so that pytest prints its header with the seed the plugin chose.
    let cmd = [
        python.to_str().unwrap(),
        "-m",
        "pytest",
        "tests/test_tool.py",
        "--junitxml=results/junit.xml",
    ];
    let (o, b, proof) = run(
        root,
        &["--rerun-failed", "1", "--junit", "results/junit.xml"],
        &cmd,
        &[("FIXTURE_STATE_DIR", path(&state))],
        "tool",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let seed = b["seeds"]["pytest-randomly"]
        .as_str()
        .unwrap_or_else(|| panic!("{b:#}"));
    let log = std::fs::read_to_string(root.join("out/tests.log")).unwrap();
    assert!(
        log.contains(&format!("Using --randomly-seed={seed}\n")),
        "{log}"
    );
    let r = &b["reruns"][0];
    let command = strings(&r["command"]);
    let pinned = format!("--randomly-seed={seed}");
    assert!(
        command
            .windows(3)
            .any(|w| w == ["-p", "randomly", pinned.as_str()]),
        "{command:?}"
    );
    // The rerun's own header names the same seed.
    assert_eq!(r["seeds"]["pytest-randomly"].as_str(), Some(seed), "{r:#}");
    assert_eq!(
        proof["context"]["seeds"]["pytest-randomly"].as_str(),
        Some(seed)
    );
    assert_eq!(test_in(&proof, "test_flaky"), ("flaky".to_owned(), 2));
    assert_schema("bundle.schema.json", &b);
}

#[test]
fn under_policy_flaky_deny_a_test_that_passed_only_on_a_rerun_fails_the_run() {
    if !peer("python3 pytest", has_python_module("pytest")) {
        return;
    }
    let t = pytest_project();
    let root = t.path();
    std::fs::write(root.join("proofgate.yaml"), "policy:\n  flaky: deny\n").unwrap();
    let state = tempfile::tempdir().unwrap();
    let (o, b, proof) = run(
        root,
        &["--rerun-failed", "2", "--junit", "results/junit.xml"],
        PYTEST,
        &[("FIXTURE_STATE_DIR", path(&state))],
        "tool",
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // The reruns cleared every failure; the policy is what fails the proof.
    assert_eq!(b["reruns"][0]["still_failing"], 0);
    assert_eq!(b["outcome"], "FAILED");
    assert_eq!(proof["verdict"], "FAIL");
    assert_eq!(proof["flaky"], 2);
    assert_eq!(test_in(&proof, "test_flaky"), ("flaky".to_owned(), 2));
}

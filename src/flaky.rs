//! Flakiness across runs: tests whose results differ between runs made against the same
//! script and the same test files, and tests that passed only on a retry within a run.
//!
//! A pure function of proofs. Two proofs speak about the same test when they are for the
//! same script with the same `script_digest` and `tests_digest` (nothing the test could
//! depend on changed) and the test has the same file, class name and name. Seeds are not
//! part of that identity: a test that passes under one seed and fails under another is
//! exactly what this looks for, and each incident records the seeds it ran with.
//!
//! Used by `proofgate flaky` (proofs from directories) and by the evidence store's
//! `GET /api/scripts/{id}/history`, which marks the same tests.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::junit::Status;
use crate::proof::Proof;

/// The most characters of a failure message an incident keeps.
pub const MESSAGE_EXCERPT_CHARS: usize = 200;

/// One proof and where it was read from (a path, or `run <id>` in the store).
#[derive(Debug, Clone)]
pub struct Observed {
    /// Where the proof came from, as shown to the user.
    pub origin: String,
    /// The proof.
    pub proof: Proof,
}

/// A run in which a flaky test failed, or passed only on a retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The proof's `generated_at`.
    pub generated_at: String,
    /// The CI run id, when the proof has one.
    pub run_id: Option<String>,
    /// The commit, when the proof has one.
    pub commit: Option<String>,
    /// `failed`, `error` or `flaky`.
    pub status: Status,
    /// How many times the test ran in that run.
    pub attempts: u32,
    /// The seeds the run recorded (empty when none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seeds: BTreeMap<String, String>,
    /// The first characters of the failure message.
    pub message: Option<String>,
    /// Where the proof came from.
    pub origin: String,
}

/// A test whose results differ across runs of the same content, or that passed only on
/// a retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlakyTest {
    /// The script the test certifies.
    pub script_id: String,
    /// The script's digest in every run compared.
    pub script_digest: Sha256Digest,
    /// The tests digest in every run compared.
    pub tests_digest: Sha256Digest,
    /// The test's file, when known.
    pub file: Option<String>,
    /// Its class name.
    pub classname: String,
    /// Its name.
    pub name: String,
    /// Runs that reported the test (skipped ones included).
    pub runs: u64,
    /// Runs in which it passed at the first attempt.
    pub passed: u64,
    /// Runs in which it passed only on a retry.
    pub flaky: u64,
    /// Runs in which it failed or errored.
    pub failed: u64,
    /// Every incident, newest first.
    pub incidents: Vec<Incident>,
}

impl FlakyTest {
    /// The newest incident.
    pub fn last(&self) -> Option<&Incident> {
        self.incidents.first()
    }
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a> {
    script_id: &'a str,
    script_digest: Sha256Digest,
    tests_digest: Sha256Digest,
    file: Option<&'a str>,
    classname: &'a str,
    name: &'a str,
}

#[derive(Default)]
struct Tally<'a> {
    runs: u64,
    passed: u64,
    flaky: u64,
    failed: u64,
    incidents: Vec<(&'a Observed, &'a crate::proof::record::ProofTest)>,
}

/// The flaky tests among `proofs`, newest incident first. The same proof given twice
/// counts once.
pub fn find(proofs: &[Observed]) -> Vec<FlakyTest> {
    let mut seen = BTreeSet::new();
    let mut tallies: BTreeMap<Key<'_>, Tally<'_>> = BTreeMap::new();
    for o in proofs {
        let p = &o.proof;
        // The same proof read twice (two downloads of one artifact) counts once.
        if !seen.insert(Sha256Digest::of(&p.to_json_bytes())) {
            continue;
        }
        for t in &p.tests {
            let key = Key {
                script_id: &p.script_id,
                script_digest: p.script_digest,
                tests_digest: p.tests_digest,
                file: t.file.as_deref(),
                classname: &t.classname,
                name: &t.name,
            };
            let tally = tallies.entry(key).or_default();
            tally.runs += 1;
            match t.status {
                Status::Passed => tally.passed += 1,
                Status::Flaky => {
                    tally.flaky += 1;
                    tally.incidents.push((o, t));
                }
                Status::Failed | Status::Error => {
                    tally.failed += 1;
                    tally.incidents.push((o, t));
                }
                Status::Skipped => {}
            }
        }
    }
    let mut out: Vec<FlakyTest> = tallies
        .into_iter()
        .filter(|(_, t)| t.flaky > 0 || (t.failed > 0 && t.passed > 0))
        .map(|(k, t)| {
            let mut incidents: Vec<Incident> = t
                .incidents
                .iter()
                .map(|(o, test)| Incident {
                    generated_at: o.proof.generated_at.clone(),
                    run_id: o.proof.context.run_id.clone(),
                    commit: o.proof.commit_sha.clone(),
                    status: test.status,
                    attempts: test.attempts,
                    seeds: o.proof.context.seeds.clone(),
                    message: test
                        .message
                        .as_deref()
                        .map(|m| m.chars().take(MESSAGE_EXCERPT_CHARS).collect()),
                    origin: o.origin.clone(),
                })
                .collect();
            incidents.sort_by(|a, b| {
                (&b.generated_at, &b.run_id, &b.origin).cmp(&(
                    &a.generated_at,
                    &a.run_id,
                    &a.origin,
                ))
            });
            FlakyTest {
                script_id: k.script_id.to_owned(),
                script_digest: k.script_digest,
                tests_digest: k.tests_digest,
                file: k.file.map(str::to_owned),
                classname: k.classname.to_owned(),
                name: k.name.to_owned(),
                runs: t.runs,
                passed: t.passed,
                flaky: t.flaky,
                failed: t.failed,
                incidents,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let newest = |f: &FlakyTest| f.last().map(|i| i.generated_at.clone());
        (newest(b), &a.script_id, &a.file, &a.classname, &a.name).cmp(&(
            newest(a),
            &b.script_id,
            &b.file,
            &b.classname,
            &b.name,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::record::ProofTest;

    fn test(name: &str, status: Status) -> ProofTest {
        ProofTest {
            name: name.into(),
            classname: "tests.test_a".into(),
            file: Some("tests/test_a.py".into()),
            status,
            time: 0.1,
            attempts: if status == Status::Flaky { 2 } else { 1 },
            message: matches!(status, Status::Failed | Status::Flaky).then(|| "boom".into()),
            descriptor_hash: None,
            result_hash: None,
        }
    }

    fn proof(run: &str, at: &str, script: &[u8], tests: Vec<ProofTest>) -> Observed {
        let v = serde_json::json!({
            "schema_version": "2.1", "script_id": "a", "generated_at": at,
            "commit_sha": format!("c{run}"), "ci_run_id": run,
            "test_summary": {"total": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "pass_rate": 0.0},
            "verdict": "PASS", "reasons": [], "evidence": "ci", "script_path": "scripts/a.py",
            "script_digest": Sha256Digest::of(script), "script_git_blob": "0",
            "tests_digest": Sha256Digest::of(b"tests"), "test_files": [], "sources": [],
            "flaky": 0, "context": {"run_id": run, "tool": "t", "seeds": {"PYTHONHASHSEED": run}},
            "tests": [],
        });
        let mut proof: Proof = serde_json::from_value(v).unwrap();
        proof.tests = tests;
        Observed {
            origin: format!("runs/{run}/proof-a.json"),
            proof,
        }
    }

    #[test]
    fn a_test_that_passes_in_one_run_and_fails_in_another_is_flaky() {
        let runs = [
            proof(
                "1",
                "2026-01-01T00:00:00Z",
                b"s",
                vec![test("t", Status::Passed), test("u", Status::Passed)],
            ),
            proof(
                "2",
                "2026-01-02T00:00:00Z",
                b"s",
                vec![test("t", Status::Failed), test("u", Status::Passed)],
            ),
            proof(
                "3",
                "2026-01-03T00:00:00Z",
                b"s",
                vec![test("t", Status::Passed), test("u", Status::Passed)],
            ),
        ];
        let found = find(&runs);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(
            (f.name.as_str(), f.runs, f.passed, f.failed),
            ("t", 3, 2, 1)
        );
        let last = f.last().unwrap();
        assert_eq!(last.run_id.as_deref(), Some("2"));
        assert_eq!(last.seeds["PYTHONHASHSEED"], "2");
        assert_eq!(last.message.as_deref(), Some("boom"));
    }

    #[test]
    fn results_under_different_script_content_are_not_compared() {
        let runs = [
            proof(
                "1",
                "2026-01-01T00:00:00Z",
                b"old",
                vec![test("t", Status::Failed)],
            ),
            proof(
                "2",
                "2026-01-02T00:00:00Z",
                b"new",
                vec![test("t", Status::Passed)],
            ),
        ];
        assert!(find(&runs).is_empty());
    }

    #[test]
    fn a_retry_within_one_run_is_an_incident_and_always_failing_is_not_flaky() {
        let runs = [
            proof(
                "1",
                "2026-01-01T00:00:00Z",
                b"s",
                vec![test("t", Status::Flaky), test("broken", Status::Failed)],
            ),
            proof(
                "2",
                "2026-01-02T00:00:00Z",
                b"s",
                vec![test("broken", Status::Failed)],
            ),
        ];
        let found = find(&runs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].name.as_str(), found[0].flaky), ("t", 1));
        assert_eq!(found[0].incidents[0].attempts, 2);
    }

    #[test]
    fn newest_incident_comes_first_and_duplicates_count_once() {
        let older = proof(
            "1",
            "2026-01-01T00:00:00Z",
            b"s",
            vec![test("old", Status::Flaky)],
        );
        let newer = proof(
            "2",
            "2026-01-05T00:00:00Z",
            b"s",
            vec![test("new", Status::Flaky)],
        );
        let mut again = older.clone();
        again.origin = "elsewhere/proof-a.json".into();
        let found = find(&[older, newer, again]);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["new", "old"]);
        assert_eq!(found[1].runs, 1);
    }

    #[test]
    fn long_messages_are_cut_to_an_excerpt() {
        let mut t = test("t", Status::Flaky);
        t.message = Some("é".repeat(5000));
        let found = find(&[proof("1", "2026-01-01T00:00:00Z", b"s", vec![t])]);
        let m = found[0].incidents[0].message.as_deref().unwrap();
        assert_eq!(m.chars().count(), MESSAGE_EXCERPT_CHARS);
    }
}

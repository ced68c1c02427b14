//! The proof record and its verdict: a pure function of the script's facts, its test
//! cases and the run context.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::junit::{Status, TestCase};

use super::context::RunContext;
use super::identity::{self, SeedsMember};
use crate::digest::FileDigests;
use crate::digest::jcs::{self, JcsError};

/// The proof format's version. `1.0` was goldenpath's; `2.0` keeps its fields and adds
/// the digests, sources, context and reasons; `2.1` adds each test's descriptor and
/// result hashes and the run's seeds.
pub const SCHEMA_VERSION: &str = "2.1";

/// The proof versions the gate reads: `2.0` proofs (no per-test hashes or seeds) stay
/// valid evidence, in artifacts and in the evidence store.
pub const READABLE_SCHEMA_VERSIONS: &[&str] = &["2.0", SCHEMA_VERSION];

/// PASS or FAIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// At least one test ran, none failed or errored, every declared test file produced
    /// results (and, under `flaky: deny`, none was flaky).
    Pass,
    /// Anything else; `reasons` says why.
    Fail,
}

impl Verdict {
    /// `PASS` or `FAIL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        }
    }
}

/// The evidence level that made the script get a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceLevel {
    /// A CI proof is required.
    Ci,
    /// Tests are declared; the proof is informative.
    Declared,
}

/// How flaky tests (passed on a retry) count: the model's policy knob.
pub use crate::model::FlakyPolicy;

/// Why a proof is FAIL: a stable code and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// `NO_TESTS`, `NO_TESTS_RAN`, `TESTS_FAILED`, `TESTS_ERRORED`, `FLAKY_TESTS`,
    /// `TEST_FILE_WITHOUT_RESULTS` or `TEST_FILE_MISSING`.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

impl Reason {
    fn new(code: &str, message: String) -> Self {
        Self {
            code: code.to_owned(),
            message,
        }
    }
}

/// The goldenpath-compatible counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestSummary {
    /// Logical tests mapped to the script.
    pub total: u64,
    /// Tests that passed (flaky tests included: they passed on a retry).
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that errored.
    pub errors: u64,
    /// Tests that did not run.
    pub skipped: u64,
    /// `passed / total * 100`, two decimals (0 when there are no tests).
    pub pass_rate: f64,
}

/// One test in a proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofTest {
    /// The test's name.
    pub name: String,
    /// Its class name (may be empty).
    pub classname: String,
    /// Its source file, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `passed`, `failed`, `error`, `skipped` or `flaky`.
    pub status: Status,
    /// Seconds over all attempts.
    pub time: f64,
    /// How many times it ran.
    pub attempts: u32,
    /// The first failure message.
    pub message: Option<String>,
    /// SHA-256 of the test's canonical descriptor: file, class name, name and the run's
    /// seeds ([`super::identity`]). Absent in proofs older than schema 2.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_hash: Option<Sha256Digest>,
    /// SHA-256 of the test's canonical result: status and the message's digest
    /// ([`super::identity`]). Absent in proofs older than schema 2.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_hash: Option<Sha256Digest>,
}

/// A declared test path and its digest at generation time (see
/// [`super::testpaths::hash_test_paths`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFileRef {
    /// Repository-relative path; a folder's ends in `/`.
    pub path: String,
    /// SHA-256 of a file's bytes, or a folder's digest
    /// ([`super::testpaths::folder_digest`]); `null` when the path is missing.
    pub digest: Option<Sha256Digest>,
}

/// A JUnit file the proof's cases came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The path as given (relative to the repository root when inside it).
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub digest: Sha256Digest,
}

/// `proof-<ID>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// The script's id.
    pub script_id: String,
    /// RFC 3339 UTC (`Z`).
    pub generated_at: String,
    /// The commit under test, when known.
    pub commit_sha: Option<String>,
    /// The CI run id, when known.
    pub ci_run_id: Option<String>,
    /// Counts.
    pub test_summary: TestSummary,
    /// PASS or FAIL.
    pub verdict: Verdict,
    /// Why the verdict is FAIL (empty on PASS).
    pub reasons: Vec<Reason>,
    /// The evidence level of the script.
    pub evidence: EvidenceLevel,
    /// The script's repository-relative path.
    pub script_path: String,
    /// SHA-256 of the script's bytes.
    pub script_digest: Sha256Digest,
    /// The script's git blob id.
    pub script_git_blob: String,
    /// SHA-256 of the JCS form of `test_files` (sorted by path).
    pub tests_digest: Sha256Digest,
    /// The declared test files with their digests.
    pub test_files: Vec<TestFileRef>,
    /// The JUnit files the cases came from.
    pub sources: Vec<SourceRef>,
    /// Tests that passed only on a retry.
    pub flaky: u64,
    /// Where the tests ran.
    pub context: RunContext,
    /// Every test mapped to the script, sorted by file, class name and name.
    pub tests: Vec<ProofTest>,
}

/// What the core needs to know about one script.
#[derive(Clone, Debug)]
pub struct ScriptFacts {
    /// The script id (already validated as a file-name-safe id).
    pub id: String,
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// The evidence level.
    pub evidence: EvidenceLevel,
    /// Digests of the script's bytes.
    pub digests: FileDigests,
    /// Declared test files: path, digests (`None` when missing) and whether any case
    /// came from it.
    pub test_files: Vec<TestFileFacts>,
}

/// A declared test file or folder.
#[derive(Clone, Debug)]
pub struct TestFileFacts {
    /// Repository-relative path as recorded (a folder's ends in `/`).
    pub path: String,
    /// Digests, or `None` when the file does not exist.
    pub digests: Option<FileDigests>,
    /// Whether at least one case mapped to the script came from this file.
    pub produced_results: bool,
}

/// The tests digest: SHA-256 of the JCS array of `{path, digest}` sorted by path.
pub fn tests_digest(files: &[TestFileRef]) -> Result<Sha256Digest, JcsError> {
    let mut sorted: Vec<&TestFileRef> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    jcs::digest(&sorted)
}

/// Builds the proof of one script from its cases (`cases`, each with the index of its
/// source in `sources`).
pub fn build_proof(
    facts: &ScriptFacts,
    cases: &[(&TestCase, usize)],
    sources: &[SourceRef],
    context: &RunContext,
    generated_at: &str,
    flaky_policy: FlakyPolicy,
) -> Result<Proof, JcsError> {
    Ok(build_draft(facts, cases, sources, context, generated_at, flaky_policy)?.into_proof())
}

/// A proof whose tests still borrow the cases they came from: what `generate` writes
/// and signs without copying every test's strings. [`ProofDraft::to_json_bytes`] gives
/// the same bytes as [`Proof::to_json_bytes`] of [`ProofDraft::into_proof`].
#[derive(Clone, Debug)]
pub struct ProofDraft<'a> {
    /// The proof with its `tests` left empty.
    pub head: Proof,
    /// Its tests, sorted by file, class name, name and status.
    pub tests: Vec<TestRow<'a>>,
}

/// One test of a [`ProofDraft`]: a [`ProofTest`] borrowing its strings, serialised the
/// same way (same fields, same order).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TestRow<'a> {
    /// The test's name.
    pub name: &'a str,
    /// Its class name (may be empty).
    pub classname: &'a str,
    /// Its source file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    /// `passed`, `failed`, `error`, `skipped` or `flaky`.
    pub status: Status,
    /// Seconds over all attempts.
    pub time: f64,
    /// How many times it ran.
    pub attempts: u32,
    /// The first failure message.
    pub message: Option<&'a str>,
    /// See [`ProofTest::descriptor_hash`].
    pub descriptor_hash: Sha256Digest,
    /// See [`ProofTest::result_hash`].
    pub result_hash: Sha256Digest,
}

impl TestRow<'_> {
    /// The owned test.
    pub fn to_owned_test(&self) -> ProofTest {
        ProofTest {
            name: self.name.to_owned(),
            classname: self.classname.to_owned(),
            file: self.file.map(str::to_owned),
            status: self.status,
            time: self.time,
            attempts: self.attempts,
            message: self.message.map(str::to_owned),
            descriptor_hash: Some(self.descriptor_hash),
            result_hash: Some(self.result_hash),
        }
    }
}

/// [`Proof`] as written from a [`ProofDraft`]: the same fields in the same order, the
/// tests borrowed.
#[derive(Serialize)]
struct ProofOut<'p, 'a> {
    schema_version: &'p str,
    script_id: &'p str,
    generated_at: &'p str,
    commit_sha: &'p Option<String>,
    ci_run_id: &'p Option<String>,
    test_summary: &'p TestSummary,
    verdict: Verdict,
    reasons: &'p [Reason],
    evidence: EvidenceLevel,
    script_path: &'p str,
    script_digest: &'p Sha256Digest,
    script_git_blob: &'p str,
    tests_digest: &'p Sha256Digest,
    test_files: &'p [TestFileRef],
    sources: &'p [SourceRef],
    flaky: u64,
    context: &'p RunContext,
    tests: &'p [TestRow<'a>],
}

impl ProofDraft<'_> {
    /// The bytes of `proof-<ID>.json`, as [`Proof::to_json_bytes`] writes them.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let h = &self.head;
        // Every field of the head is named here: adding one to `Proof` without writing
        // it is a compile error.
        let Proof {
            schema_version,
            script_id,
            generated_at,
            commit_sha,
            ci_run_id,
            test_summary,
            verdict,
            reasons,
            evidence,
            script_path,
            script_digest,
            script_git_blob,
            tests_digest,
            test_files,
            sources,
            flaky,
            context,
            tests: _,
        } = h;
        let out = ProofOut {
            schema_version,
            script_id,
            generated_at,
            commit_sha,
            ci_run_id,
            test_summary,
            verdict: *verdict,
            reasons,
            evidence: *evidence,
            script_path,
            script_digest,
            script_git_blob,
            tests_digest,
            test_files,
            sources,
            flaky: *flaky,
            context,
            tests: &[],
        };
        let mut v = json_bytes(&out, self.tests.len());
        // The tests are written by hand, as serde_json's pretty printer writes them
        // (they are most of the bytes): the head ends in `"tests": []` and `}`.
        const EMPTY_END: &[u8] = b"\"tests\": []\n}\n";
        if !self.tests.is_empty() && v.ends_with(EMPTY_END) {
            v.truncate(v.len() - 4);
            write_test_rows(&mut v, &self.tests);
            v.extend_from_slice(b"\n}\n");
        } else if !self.tests.is_empty() {
            // Not reached: the head always ends so. Stay correct regardless.
            let mut out = out;
            out.tests = &self.tests;
            v = json_bytes(&out, self.tests.len());
        }
        v
    }

    /// The owned proof.
    pub fn into_proof(self) -> Proof {
        let mut p = self.head;
        p.tests = self.tests.iter().map(TestRow::to_owned_test).collect();
        p
    }
}

/// Appends `s` as serde_json writes a string.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends the elements of the pretty `tests` array (at depth 2 of the proof) and its
/// closing bracket, byte for byte as serde_json's pretty printer writes `[TestRow]`
/// (checked in the tests against the owned proof).
fn write_test_rows(out: &mut Vec<u8>, tests: &[TestRow<'_>]) {
    for (i, t) in tests.iter().enumerate() {
        out.extend_from_slice(if i == 0 {
            b"\n    {\n      \"name\": "
        } else {
            b",\n    {\n      \"name\": "
        });
        push_json_str(out, t.name);
        out.extend_from_slice(b",\n      \"classname\": ");
        push_json_str(out, t.classname);
        if let Some(f) = t.file {
            out.extend_from_slice(b",\n      \"file\": ");
            push_json_str(out, f);
        }
        out.extend_from_slice(b",\n      \"status\": \"");
        out.extend_from_slice(t.status.as_str().as_bytes());
        out.extend_from_slice(b"\",\n      \"time\": ");
        // Finite by construction; serde_json writes a non-finite float as `null`.
        let _ = serde_json::to_writer(&mut *out, &t.time);
        out.extend_from_slice(b",\n      \"attempts\": ");
        let _ = serde_json::to_writer(&mut *out, &t.attempts);
        out.extend_from_slice(b",\n      \"message\": ");
        match t.message {
            Some(m) => push_json_str(out, m),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\n      \"descriptor_hash\": \"");
        out.extend_from_slice(&t.descriptor_hash.text_bytes());
        out.extend_from_slice(b"\",\n      \"result_hash\": \"");
        out.extend_from_slice(&t.result_hash.text_bytes());
        out.extend_from_slice(b"\"\n    }");
    }
    out.extend_from_slice(b"\n  ]");
}

/// Pretty JSON with a trailing newline.
fn json_bytes<T: Serialize>(value: &T, tests: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(256 + tests * 520);
    // Only finite floats and strings reach the serializer: it cannot fail.
    if serde_json::to_writer_pretty(&mut v, value).is_err() {
        v.clear();
    }
    v.push(b'\n');
    v
}

/// Builds the proof of one script as a [`ProofDraft`] (see [`build_proof`]).
pub fn build_draft<'a>(
    facts: &ScriptFacts,
    cases: &[(&'a TestCase, usize)],
    sources: &[SourceRef],
    context: &RunContext,
    generated_at: &str,
    flaky_policy: FlakyPolicy,
) -> Result<ProofDraft<'a>, JcsError> {
    let seeds = SeedsMember::new(&context.seeds)?;
    let tally = Tally::of(cases, sources.len(), &seeds);
    let mut reasons = result_reasons(&tally.summary, tally.flaky, flaky_policy, &facts.id);
    let test_files = declared_test_files(facts, context, &mut reasons);
    let tests_digest = tests_digest(&test_files)?;
    let mut used: Vec<SourceRef> = sources
        .iter()
        .zip(&tally.used_sources)
        .filter(|(_, u)| **u)
        .map(|(s, _)| s.clone())
        .collect();
    used.sort_by(|a, b| a.path.cmp(&b.path));

    let head = Proof {
        schema_version: SCHEMA_VERSION.to_owned(),
        script_id: facts.id.clone(),
        generated_at: generated_at.to_owned(),
        commit_sha: context.sha.clone(),
        ci_run_id: context.run_id.clone(),
        test_summary: tally.summary,
        verdict: if reasons.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        reasons,
        evidence: facts.evidence,
        script_path: facts.path.clone(),
        script_digest: facts.digests.sha256,
        script_git_blob: facts.digests.git_blob.clone(),
        tests_digest,
        test_files,
        sources: used,
        flaky: tally.flaky,
        context: context.clone(),
        tests: Vec::new(),
    };
    Ok(ProofDraft {
        head,
        tests: tally.tests,
    })
}

/// A script's cases counted by the counting rule, as the proof lists them.
struct Tally<'a> {
    summary: TestSummary,
    /// Tests that passed only on a retry.
    flaky: u64,
    /// Every case, sorted by file, class name, name and status.
    tests: Vec<TestRow<'a>>,
    /// Which sources gave at least one case.
    used_sources: Vec<bool>,
}

impl<'a> Tally<'a> {
    fn of(cases: &[(&'a TestCase, usize)], sources: usize, seeds: &SeedsMember) -> Self {
        let mut scratch = Vec::with_capacity(256);
        // A test without a message has one result hash per status: hashed once.
        let mut no_message: [Option<Sha256Digest>; 5] = [None; 5];
        let mut summary = TestSummary::default();
        let mut flaky = 0u64;
        let mut tests = Vec::with_capacity(cases.len());
        let mut used_sources = vec![false; sources];
        for &(case, src) in cases {
            if let Some(u) = used_sources.get_mut(src) {
                *u = true;
            }
            summary.total += 1;
            match case.status {
                Status::Passed => summary.passed += 1,
                Status::Flaky => {
                    summary.passed += 1;
                    flaky += 1;
                }
                Status::Failed => summary.failed += 1,
                Status::Error => summary.errors += 1,
                Status::Skipped => summary.skipped += 1,
            }
            tests.push(TestRow {
                name: &case.name,
                classname: &case.classname,
                file: case.file.as_deref(),
                status: case.status,
                time: if case.duration.is_finite() && case.duration > 0.0 {
                    case.duration
                } else {
                    0.0
                },
                attempts: case.attempts,
                message: case.message.as_deref(),
                descriptor_hash: identity::descriptor_hash(
                    case.file.as_deref(),
                    &case.classname,
                    &case.name,
                    seeds,
                    &mut scratch,
                ),
                result_hash: match case.message.as_deref() {
                    None => *no_message[case.status as usize].get_or_insert_with(|| {
                        identity::result_hash(case.status, None, &mut scratch)
                    }),
                    Some(m) => identity::result_hash(case.status, Some(m), &mut scratch),
                },
            });
        }
        tests.sort_by(|a, b| {
            (a.file, a.classname, a.name, a.status).cmp(&(b.file, b.classname, b.name, b.status))
        });
        summary.pass_rate = if summary.total == 0 {
            0.0
        } else {
            ((summary.passed as f64 / summary.total as f64) * 10_000.0).round() / 100.0
        };
        Tally {
            summary,
            flaky,
            tests,
            used_sources,
        }
    }
}

/// Why the results fail the script: no tests, none ran, failures, errors, or flaky tests
/// under `flaky: deny`.
fn result_reasons(
    summary: &TestSummary,
    flaky: u64,
    flaky_policy: FlakyPolicy,
    id: &str,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let ran = summary.total - summary.skipped;
    if summary.total == 0 {
        reasons.push(Reason::new(
            "NO_TESTS",
            format!("no test case in the JUnit input maps to script `{id}`"),
        ));
    } else if ran == 0 {
        reasons.push(Reason::new(
            "NO_TESTS_RAN",
            format!(
                "all {} test(s) of script `{id}` were skipped",
                summary.total
            ),
        ));
    }
    if summary.failed > 0 {
        reasons.push(Reason::new(
            "TESTS_FAILED",
            format!("{} test(s) failed", summary.failed),
        ));
    }
    if summary.errors > 0 {
        reasons.push(Reason::new(
            "TESTS_ERRORED",
            format!("{} test(s) errored", summary.errors),
        ));
    }
    if flaky > 0 && flaky_policy == FlakyPolicy::Deny {
        reasons.push(Reason::new(
            "FLAKY_TESTS",
            format!("{flaky} test(s) passed only on a retry and the policy is `flaky: deny`"),
        ));
    }
    reasons
}

/// The declared test files, once each and sorted by path, with their digests; a missing
/// one, or (outside a shard) one that produced no results, adds a reason.
fn declared_test_files(
    facts: &ScriptFacts,
    context: &RunContext,
    reasons: &mut Vec<Reason>,
) -> Vec<TestFileRef> {
    let mut test_files: Vec<TestFileRef> = Vec::with_capacity(facts.test_files.len());
    let mut seen = BTreeMap::new();
    for tf in &facts.test_files {
        if seen.insert(tf.path.clone(), ()).is_some() {
            continue;
        }
        match &tf.digests {
            None => reasons.push(Reason::new(
                "TEST_FILE_MISSING",
                format!("declared test file `{}` does not exist", tf.path),
            )),
            // A shard's proof is partial: the gate checks that the shards together
            // produced results for every declared test file.
            Some(_) if !tf.produced_results && context.shard.is_none() => {
                reasons.push(Reason::new(
                    "TEST_FILE_WITHOUT_RESULTS",
                    format!("declared test file `{}` produced no test results", tf.path),
                ))
            }
            Some(_) => {}
        }
        test_files.push(TestFileRef {
            path: tf.path.clone(),
            digest: tf.digests.as_ref().map(|d| d.sha256),
        });
    }
    test_files.sort_by(|a, b| a.path.cmp(&b.path));
    test_files
}

impl Proof {
    /// The bytes written to `proof-<ID>.json`: pretty JSON with a trailing newline
    /// (field order fixed by the struct, maps sorted).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        json_bytes(self, self.tests.len())
    }
}

/// A display name for a test: `classname::name`, or `name` when there is no class.
pub fn test_display_name(t: &ProofTest) -> String {
    display_name(&t.classname, &t.name)
}

/// [`test_display_name`] of a class name and a name.
/// The rule itself is [`super::attest::TestName`]'s `Display`, which the signed statement
/// also uses.
pub(crate) fn display_name(classname: &str, name: &str) -> String {
    super::attest::TestName { classname, name }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn case(file: &str, name: &str, status: Status) -> TestCase {
        TestCase {
            file: Some(file.into()),
            classname: file.trim_end_matches(".py").replace('/', "."),
            name: name.into(),
            status,
            attempts: if status == Status::Flaky { 2 } else { 1 },
            duration: 0.25,
            line: None,
            message: None,
        }
    }

    fn facts(test_files: Vec<(&str, bool, bool)>) -> ScriptFacts {
        ScriptFacts {
            id: "SCRIPT-0001".into(),
            path: "scripts/a.py".into(),
            evidence: EvidenceLevel::Ci,
            digests: FileDigests::of(b"print(1)\n"),
            test_files: test_files
                .into_iter()
                .map(|(p, exists, produced)| TestFileFacts {
                    path: p.into(),
                    digests: exists.then(|| FileDigests::of(p.as_bytes())),
                    produced_results: produced,
                })
                .collect(),
        }
    }

    fn sources() -> Vec<SourceRef> {
        vec![
            SourceRef {
                path: "junit.xml".into(),
                digest: Sha256Digest::of(b"x"),
            },
            SourceRef {
                path: "other.xml".into(),
                digest: Sha256Digest::of(b"y"),
            },
        ]
    }

    fn build(cases: &[TestCase], files: Vec<(&str, bool, bool)>, policy: FlakyPolicy) -> Proof {
        let refs: Vec<(&TestCase, usize)> = cases.iter().map(|c| (c, 0)).collect();
        build_proof(
            &facts(files),
            &refs,
            &sources(),
            &RunContext::default(),
            "2026-01-01T00:00:00Z",
            policy,
        )
        .unwrap()
    }

    fn codes(p: &Proof) -> Vec<&str> {
        p.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn all_passing_tests_give_pass() {
        let cases = [
            case("tests/test_a.py", "test_2", Status::Passed),
            case("tests/test_a.py", "test_1", Status::Passed),
            case("tests/test_a.py", "test_3", Status::Skipped),
        ];
        let p = build(
            &cases,
            vec![("tests/test_a.py", true, true)],
            FlakyPolicy::Warn,
        );
        assert_eq!(p.verdict, Verdict::Pass, "{:?}", p.reasons);
        assert_eq!(p.test_summary.total, 3);
        assert_eq!(p.test_summary.passed, 2);
        assert_eq!(p.test_summary.pass_rate, 66.67);
        assert_eq!(p.tests[0].name, "test_1", "tests are sorted");
        assert_eq!(p.sources.len(), 1, "only contributing sources are listed");
    }

    #[test]
    fn no_tests_is_fail_never_pass() {
        let p = build(&[], vec![], FlakyPolicy::Warn);
        assert_eq!(p.verdict, Verdict::Fail);
        assert_eq!(codes(&p), ["NO_TESTS"]);
        assert_eq!(p.test_summary.pass_rate, 0.0);
    }

    #[test]
    fn only_skipped_tests_is_fail() {
        let cases = [case("t.py", "a", Status::Skipped)];
        let p = build(&cases, vec![], FlakyPolicy::Warn);
        assert_eq!(codes(&p), ["NO_TESTS_RAN"]);
    }

    #[test]
    fn failures_and_errors_give_fail_with_reasons() {
        let cases = [
            case("t.py", "a", Status::Passed),
            case("t.py", "b", Status::Failed),
            case("t.py", "c", Status::Error),
        ];
        let p = build(&cases, vec![], FlakyPolicy::Warn);
        assert_eq!(p.verdict, Verdict::Fail);
        assert_eq!(codes(&p), ["TESTS_FAILED", "TESTS_ERRORED"]);
    }

    #[test]
    fn flaky_tests_pass_by_default_and_fail_under_policy() {
        let cases = [case("t.py", "a", Status::Flaky)];
        let p = build(&cases, vec![], FlakyPolicy::Warn);
        assert_eq!(p.verdict, Verdict::Pass);
        assert_eq!(p.flaky, 1);
        assert_eq!(p.tests[0].attempts, 2);
        let p = build(&cases, vec![], FlakyPolicy::Deny);
        assert_eq!(codes(&p), ["FLAKY_TESTS"]);
    }

    #[test]
    fn declared_test_file_without_results_or_missing_fails() {
        let cases = [case("tests/test_a.py", "a", Status::Passed)];
        let p = build(
            &cases,
            vec![
                ("tests/test_a.py", true, true),
                ("tests/test_b.py", true, false),
                ("tests/test_c.py", false, false),
            ],
            FlakyPolicy::Warn,
        );
        assert_eq!(
            codes(&p),
            ["TEST_FILE_WITHOUT_RESULTS", "TEST_FILE_MISSING"]
        );
        assert_eq!(p.test_files[2].digest, None);
    }

    #[test]
    fn tests_digest_is_independent_of_declaration_order() {
        let cases = [case("a.py", "a", Status::Passed)];
        let p1 = build(
            &cases,
            vec![("a.py", true, true), ("b.py", true, true)],
            FlakyPolicy::Warn,
        );
        let p2 = build(
            &cases,
            vec![("b.py", true, true), ("a.py", true, true)],
            FlakyPolicy::Warn,
        );
        assert_eq!(p1.tests_digest, p2.tests_digest);
        let p3 = build(&cases, vec![("a.py", true, true)], FlakyPolicy::Warn);
        assert_ne!(p1.tests_digest, p3.tests_digest);
    }

    #[test]
    fn draft_bytes_are_the_owned_proofs_bytes() {
        const AWKWARD: &[&str] = &[
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
            "unicode é ß 中 \u{2028}\u{2029} 😀 \u{fb33}",
        ];
        let statuses = [
            Status::Passed,
            Status::Failed,
            Status::Error,
            Status::Skipped,
            Status::Flaky,
        ];
        let mut cases = Vec::new();
        for (i, &s) in AWKWARD.iter().enumerate() {
            for (j, &status) in statuses.iter().enumerate() {
                let mut c = case("t.py", s, status);
                c.classname = AWKWARD[(i + j) % AWKWARD.len()].into();
                c.file = (j % 2 == 0).then(|| s.to_owned());
                c.message = (j % 3 != 0).then(|| AWKWARD[j % AWKWARD.len()].to_owned());
                c.duration = [0.25, f64::NAN, -1.0, 1e-9, 12345.678][j];
                cases.push(c);
            }
        }
        let refs: Vec<(&TestCase, usize)> = cases.iter().map(|c| (c, 1)).collect();
        let mut context = RunContext {
            sha: Some("abc\"".into()),
            ..RunContext::default()
        };
        context.seeds.insert("seed".into(), "1".into());
        for files in [vec![], vec![("t.py", true, true), ("u.py", false, false)]] {
            let facts = facts(files);
            let draft = build_draft(
                &facts,
                &refs,
                &sources(),
                &context,
                "2026-01-01T00:00:00Z",
                FlakyPolicy::Deny,
            )
            .unwrap();
            let bytes = draft.to_json_bytes();
            let owned = draft.clone().into_proof();
            assert_eq!(owned.tests.len(), cases.len());
            let mut expected = Vec::new();
            serde_json::to_writer_pretty(&mut expected, &owned).unwrap();
            expected.push(b'\n');
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(expected).unwrap()
            );
            assert_eq!(owned.to_json_bytes(), draft.to_json_bytes());
            let (key, _) = crate::sign::SigningKey::generate().unwrap();
            let digest = Sha256Digest::of(&draft.to_json_bytes());
            let extra = super::super::attest::ExtraConfig::default();
            assert_eq!(
                super::super::attest::sign_statement(
                    &super::super::attest::draft_statement(&draft, digest, &extra),
                    &key
                )
                .to_json_pretty(),
                super::super::attest::sign_statement(
                    &super::super::attest::statement(&owned, digest, &extra),
                    &key
                )
                .to_json_pretty()
            );
        }
        // No tests at all.
        let draft = build_draft(
            &facts(vec![]),
            &[],
            &sources(),
            &RunContext::default(),
            "2026-01-01T00:00:00Z",
            FlakyPolicy::Warn,
        )
        .unwrap();
        assert_eq!(
            draft.to_json_bytes(),
            draft.clone().into_proof().to_json_bytes()
        );
    }

    #[test]
    fn proof_bytes_are_deterministic_and_keep_goldenpath_fields() {
        let cases = [case("t.py", "a", Status::Passed)];
        let a = build(&cases, vec![], FlakyPolicy::Warn).to_json_bytes();
        let b = build(&cases, vec![], FlakyPolicy::Warn).to_json_bytes();
        assert_eq!(a, b);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        for k in [
            "schema_version",
            "script_id",
            "generated_at",
            "commit_sha",
            "ci_run_id",
            "test_summary",
            "verdict",
            "tests",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["verdict"], "PASS");
        assert_eq!(v["tests"][0]["time"], 0.25);
        let back: Proof = serde_json::from_slice(&a).unwrap();
        assert_eq!(back.script_id, "SCRIPT-0001");
    }
}

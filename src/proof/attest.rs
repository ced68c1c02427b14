//! The in-toto statement (test-result predicate v0.1) for a proof, and its DSSE
//! envelope.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::junit::Status;
use crate::sign::SigningKey;
use crate::sign::dsse::{self, Envelope};
use crate::sign::intoto::{
    DigestSet, PAYLOAD_TYPE, ResourceDescriptor, STATEMENT_TYPE, Statement, TEST_RESULT_PREDICATE,
    TestResult, TestResultPredicate,
};

use super::record::{Proof, ProofDraft, Verdict, display_name};

/// Counts in the `proofgate` extension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Logical tests.
    pub total: u64,
    /// Passed (flaky included).
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Errored.
    pub errors: u64,
    /// Skipped.
    pub skipped: u64,
    /// Passed only on a retry.
    pub flaky: u64,
}

/// The proof file the statement attests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFileRef {
    /// `proof-<ID>.json`.
    pub name: String,
    /// SHA-256 of its exact bytes.
    pub digest: Sha256Digest,
}

/// proofgate's extension object inside the test-result predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofgateExtension {
    /// The script id.
    pub script_id: String,
    /// `ci` or `declared`.
    pub evidence: String,
    /// PASS or FAIL (the proof's verdict).
    pub verdict: String,
    /// Reason codes of a FAIL.
    pub reasons: Vec<String>,
    /// Counts.
    pub counts: Counts,
    /// The commit under test, when known.
    pub commit: Option<String>,
    /// The proof's tests digest.
    pub tests_digest: Sha256Digest,
    /// The proof file and its digest.
    pub proof: ProofFileRef,
    /// When the proof was generated.
    pub generated_at: String,
    /// Tests that were skipped (not listed in the spec's three lists).
    pub skipped_tests: Vec<String>,
}

/// The statement type proofgate signs.
pub type ProofStatement = Statement<TestResultPredicate<ProofgateExtension>>;

/// Extra configuration descriptors (beyond the JUnit files and declared test files).
#[derive(Clone, Debug, Default)]
pub struct ExtraConfig {
    /// The script header (as canonical JSON digest), when known.
    pub header: Option<ResourceDescriptor>,
}

fn sha256_set(d: &Sha256Digest) -> DigestSet {
    [("sha256".to_owned(), d.hex())].into()
}

/// A test's display name (`classname::name`, or `name` without a class), borrowed:
/// serialised as the string [`display_name`] makes, without making it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestName<'a> {
    /// The class name (may be empty).
    pub classname: &'a str,
    /// The name.
    pub name: &'a str,
}

impl std::fmt::Display for TestName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.classname.is_empty() {
            f.write_str(self.classname)?;
            f.write_str("::")?;
        }
        f.write_str(self.name)
    }
}

impl Serialize for TestName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The statement [`draft_statement`] builds: the same JSON as a [`ProofStatement`], the
/// test names borrowed from the draft.
pub type DraftStatement<'a> = Statement<TestResultPredicate<ProofgateExtension, TestName<'a>>>;

/// Builds the statement for `proof`; `proof_digest` is the SHA-256 of the exact bytes of
/// its `proof-<ID>.json`.
pub fn statement(proof: &Proof, proof_digest: Sha256Digest, extra: &ExtraConfig) -> ProofStatement {
    statement_of(
        proof,
        proof
            .tests
            .iter()
            .map(|t| (t.classname.as_str(), t.name.as_str(), t.status)),
        display_name,
        proof_digest,
        extra,
    )
}

/// [`statement`] of a [`ProofDraft`]: it serialises to the same bytes as the statement
/// of its owned proof.
pub fn draft_statement<'a>(
    draft: &'a ProofDraft<'_>,
    proof_digest: Sha256Digest,
    extra: &ExtraConfig,
) -> DraftStatement<'a> {
    statement_of(
        &draft.head,
        draft.tests.iter().map(|t| (t.classname, t.name, t.status)),
        |classname, name| TestName { classname, name },
        proof_digest,
        extra,
    )
}

/// The statement of `proof` whose tests (class name, name, status) are `tests`; `name`
/// makes a listed test's name.
fn statement_of<'t, N>(
    proof: &Proof,
    tests: impl Iterator<Item = (&'t str, &'t str, Status)>,
    name: impl Fn(&'t str, &'t str) -> N,
    proof_digest: Sha256Digest,
    extra: &ExtraConfig,
) -> Statement<TestResultPredicate<ProofgateExtension, N>> {
    let mut passed = Vec::new();
    let mut warned = Vec::new();
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for (classname, test, status) in tests {
        match status {
            Status::Passed => passed.push(name(classname, test)),
            Status::Flaky => warned.push(name(classname, test)),
            Status::Failed | Status::Error => failed.push(name(classname, test)),
            // Skipped tests are few and listed in the extension as strings.
            Status::Skipped => skipped.push(display_name(classname, test)),
        }
    }
    let result = match proof.verdict {
        Verdict::Fail => TestResult::Failed,
        Verdict::Pass if proof.flaky > 0 => TestResult::Warned,
        Verdict::Pass => TestResult::Passed,
    };
    let mut configuration: Vec<ResourceDescriptor> = proof
        .sources
        .iter()
        .map(|s| ResourceDescriptor {
            name: Some(s.path.clone()),
            digest: sha256_set(&s.digest),
            media_type: Some("application/xml".into()),
            ..Default::default()
        })
        .collect();
    for tf in &proof.test_files {
        if let Some(d) = &tf.digest {
            configuration.push(ResourceDescriptor {
                name: Some(tf.path.clone()),
                digest: sha256_set(d),
                ..Default::default()
            });
        }
    }
    if let Some(h) = &extra.header {
        configuration.push(h.clone());
    }
    let subject = ResourceDescriptor {
        name: Some(proof.script_path.clone()),
        digest: [
            ("sha256".to_owned(), proof.script_digest.hex()),
            ("gitBlob".to_owned(), proof.script_git_blob.clone()),
        ]
        .into(),
        ..Default::default()
    };
    let s = &proof.test_summary;
    Statement {
        type_: STATEMENT_TYPE.to_owned(),
        subject: vec![subject],
        predicate_type: TEST_RESULT_PREDICATE.to_owned(),
        predicate: TestResultPredicate {
            result,
            configuration,
            url: proof.context.run_url.clone(),
            passed_tests: passed,
            warned_tests: warned,
            failed_tests: failed,
            proofgate: Some(ProofgateExtension {
                script_id: proof.script_id.clone(),
                evidence: match proof.evidence {
                    super::record::EvidenceLevel::Ci => "ci".into(),
                    super::record::EvidenceLevel::Declared => "declared".into(),
                },
                verdict: proof.verdict.as_str().to_owned(),
                reasons: proof.reasons.iter().map(|r| r.code.clone()).collect(),
                counts: Counts {
                    total: s.total,
                    passed: s.passed,
                    failed: s.failed,
                    errors: s.errors,
                    skipped: s.skipped,
                    flaky: proof.flaky,
                },
                commit: proof.commit_sha.clone(),
                tests_digest: proof.tests_digest,
                proof: ProofFileRef {
                    name: proof_file_name(&proof.script_id, proof.context.shard.as_deref()),
                    digest: proof_digest,
                },
                generated_at: proof.generated_at.clone(),
                skipped_tests: skipped,
            }),
        },
    }
}

/// `proof-<ID>.json`.
pub fn proof_file_name(id: &str, shard: Option<&str>) -> String {
    match shard {
        Some(s) => format!("proof-{id}@{s}.json"),
        None => format!("proof-{id}.json"),
    }
}

/// `proof-<ID>.dsse.json`, or `proof-<ID>@<SHARD>.dsse.json` for a shard's proof.
pub fn envelope_file_name(id: &str, shard: Option<&str>) -> String {
    match shard {
        Some(s) => format!("proof-{id}@{s}.dsse.json"),
        None => format!("proof-{id}.dsse.json"),
    }
}

/// A proof file's name taken apart: `proof-<ID>[@<SHARD>].json`. Envelopes
/// (`.dsse.json`) and other files give `None`. Script ids cannot contain `@`, so the
/// split is unambiguous.
pub fn parse_proof_file_name(name: &str) -> Option<(&str, Option<&str>)> {
    let stem = name.strip_prefix("proof-")?.strip_suffix(".json")?;
    if stem.ends_with(".dsse") {
        return None;
    }
    let (id, shard) = match stem.split_once('@') {
        Some((id, shard)) => (id, Some(shard)),
        None => (stem, None),
    };
    if id.is_empty() || shard.is_some_and(|s| !super::context::is_valid_shard(s)) {
        return None;
    }
    Some((id, shard))
}

/// Serialises `statement` (a [`ProofStatement`] or a [`DraftStatement`]; compact JSON)
/// and signs it as a DSSE envelope with payload type `application/vnd.in-toto+json`.
pub fn sign_statement<P: Serialize>(statement: &Statement<P>, key: &SigningKey) -> Envelope {
    let mut payload = Vec::with_capacity(8 * 1024);
    // Strings, integers and digests only: serialisation cannot fail.
    if serde_json::to_writer(&mut payload, statement).is_err() {
        payload.clear();
    }
    dsse::sign(key, PAYLOAD_TYPE, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::FileDigests;
    use crate::junit::TestCase;
    use crate::proof::context::RunContext;
    use crate::proof::record::{
        EvidenceLevel, FlakyPolicy, ScriptFacts, SourceRef, TestFileFacts, build_proof,
    };
    use crate::sign::dsse::verify_typed;

    fn proof(statuses: &[Status]) -> Proof {
        let cases: Vec<TestCase> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| TestCase {
                file: Some("tests/test_a.py".into()),
                classname: "tests.test_a".into(),
                name: format!("test_{i}"),
                status: *s,
                attempts: 1,
                duration: 0.0,
                line: None,
                message: None,
            })
            .collect();
        let refs: Vec<_> = cases.iter().map(|c| (c, 0)).collect();
        build_proof(
            &ScriptFacts {
                id: "a".into(),
                path: "scripts/a.py".into(),
                evidence: EvidenceLevel::Ci,
                digests: FileDigests::of(b"Hello"),
                test_files: vec![TestFileFacts {
                    path: "tests/test_a.py".into(),
                    digests: Some(FileDigests::of(b"t")),
                    produced_results: true,
                }],
            },
            &refs,
            &[SourceRef {
                path: "junit.xml".into(),
                digest: Sha256Digest::of(b"j"),
            }],
            &RunContext {
                run_url: Some("https://github.com/o/r/actions/runs/1".into()),
                ..Default::default()
            },
            "2026-01-01T00:00:00Z",
            FlakyPolicy::Warn,
        )
        .unwrap()
    }

    #[test]
    fn statement_binds_the_script_digests_and_lists_tests() {
        let p = proof(&[Status::Passed, Status::Failed, Status::Skipped]);
        let bytes = p.to_json_bytes();
        let st = statement(&p, Sha256Digest::of(&bytes), &ExtraConfig::default());
        st.validate().unwrap();
        assert_eq!(st.subject[0].name.as_deref(), Some("scripts/a.py"));
        assert_eq!(
            st.subject[0].digest["gitBlob"],
            "5ab2f8a4323abafb10abb68657d9d39f1a775057"
        );
        assert_eq!(st.predicate.result, TestResult::Failed);
        assert_eq!(st.predicate.passed_tests, ["tests.test_a::test_0"]);
        assert_eq!(st.predicate.failed_tests, ["tests.test_a::test_1"]);
        let ext = st.predicate.proofgate.as_ref().unwrap();
        assert_eq!(ext.skipped_tests, ["tests.test_a::test_2"]);
        assert_eq!(ext.proof.digest, Sha256Digest::of(&bytes));
        assert_eq!(st.predicate.configuration.len(), 2);
        assert_eq!(
            st.predicate.url.as_deref(),
            Some("https://github.com/o/r/actions/runs/1")
        );
    }

    #[test]
    fn flaky_pass_is_warned_and_clean_pass_is_passed() {
        let p = proof(&[Status::Passed, Status::Flaky]);
        let st = statement(&p, Sha256Digest::of(b""), &ExtraConfig::default());
        assert_eq!(st.predicate.result, TestResult::Warned);
        assert_eq!(st.predicate.warned_tests.len(), 1);
        let p = proof(&[Status::Passed]);
        let st = statement(&p, Sha256Digest::of(b""), &ExtraConfig::default());
        assert_eq!(st.predicate.result, TestResult::Passed);
    }

    #[test]
    fn signed_statement_verifies_and_parses_back() {
        let (key, _) = SigningKey::generate().unwrap();
        let p = proof(&[Status::Passed]);
        let st = statement(&p, Sha256Digest::of(b"{}"), &ExtraConfig::default());
        let env = sign_statement(&st, &key);
        let v = verify_typed(&env, PAYLOAD_TYPE, &[key.public_key()]).unwrap();
        let back = ProofStatement::from_json(&v.payload).unwrap();
        assert_eq!(back, st);
    }
}

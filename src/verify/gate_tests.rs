use super::super::report::PolicySource;
use super::*;
use crate::digest::Sha256Digest;
use crate::model::FlakyPolicy;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::time::Duration;

const COMMIT: &str = "c0ffee";
const OLD: &str = "0ld0ld";

/// A fake verifier: an "envelope" is `{"keyid", "valid", "payload"}` in clear.
struct FakeVerifier {
    trusted: Vec<&'static str>,
}

impl EnvelopeVerifier for FakeVerifier {
    fn verify(&self, envelope: &[u8]) -> Result<VerifiedEnvelope, EnvelopeFailure> {
        let v: Value = serde_json::from_slice(envelope)
            .map_err(|e| EnvelopeFailure::Invalid(e.to_string()))?;
        if v["valid"] != json!(true) {
            return Err(EnvelopeFailure::Invalid("bad signature".into()));
        }
        let keyid = v["keyid"].as_str().unwrap_or_default().to_owned();
        if !self.trusted.contains(&keyid.as_str()) {
            return Err(EnvelopeFailure::Untrusted(keyid));
        }
        Ok(VerifiedEnvelope {
            payload: v["payload"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
            keyid,
            payload_type: v["payloadType"]
                .as_str()
                .unwrap_or(crate::sign::intoto::PAYLOAD_TYPE)
                .to_owned(),
        })
    }
}

fn script_bytes() -> &'static [u8] {
    b"print('hi')\n"
}

fn tests_d() -> Sha256Digest {
    Sha256Digest::of(b"tests")
}

fn script(evidence: Evidence) -> GateScript {
    GateScript {
        id: "S1".into(),
        path: "scripts/s1.py".into(),
        header_line: Some(2),
        evidence: Some(evidence),
        maturity: Some(2),
        production_impact: Some(Impact::Low),
        test_files: vec!["tests/test_s1.py".into()],
        lint_errors: vec![],
        downgrades: vec![],
    }
}

fn facts() -> CheckoutFacts {
    CheckoutFacts {
        script_digest: Some(Sha256Digest::of(script_bytes())),
        tests_digest: Some(tests_d()),
        missing_test_files: vec![],
    }
}

/// A complete proof as `generate` writes it, for one passing (or failing) test.
fn proof_json(commit: &str, verdict: &str) -> Value {
    let failed = u64::from(verdict != "PASS");
    json!({
        "schema_version": "2.0",
        "script_id": "S1",
        "generated_at": "2026-01-01T00:00:00Z",
        "commit_sha": commit,
        "ci_run_id": "7",
        "test_summary": {"total": 1, "passed": 1 - failed, "failed": failed, "errors": 0,
                         "skipped": 0, "pass_rate": 100.0 * (1 - failed) as f64},
        "verdict": verdict,
        "reasons": if failed == 1 { json!([{"code": "TESTS_FAILED", "message": "1 test(s) failed"}]) } else { json!([]) },
        "evidence": "ci",
        "script_path": "scripts/s1.py",
        "script_digest": Sha256Digest::of(script_bytes()),
        "script_git_blob": "0000000000000000000000000000000000000000",
        "tests_digest": tests_d(),
        "test_files": [{"path": "tests/test_s1.py", "digest": Sha256Digest::of(b"t")}],
        "sources": [],
        "flaky": 0,
        "context": {"repository": "o/r", "run_id": "7", "run_attempt": "1", "job": "test",
                    "tool": "proofgate test"},
        "tests": [{"file": "tests/test_s1.py", "classname": "tests.test_s1", "name": "test_a",
                   "status": if failed == 1 { "failed" } else { "passed" }, "time": 0.1,
                   "attempts": 1, "message": null}],
    })
}

fn envelope_for(bytes: &[u8], keyid: &str, valid: bool, subject: &str) -> Vec<u8> {
    let stmt = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject, "digest": {"sha256": Sha256Digest::of(script_bytes()).hex()}}],
        "predicateType": "https://in-toto.io/attestation/test-result/v0.1",
        "predicate": {"result": "PASSED", "proofgate": {"proof": {"name": "proof-S1.json", "digest": Sha256Digest::of(bytes).to_string()}}},
    });
    serde_json::to_vec(&json!({"keyid": keyid, "valid": valid, "payload": stmt.to_string()}))
        .unwrap()
}

fn proof(v: &Value, signed: bool) -> ProofInput {
    let bytes = serde_json::to_vec_pretty(v).unwrap();
    let dsse = signed.then(|| Ok(envelope_for(&bytes, "k1", true, "scripts/s1.py")));
    ProofInput {
        script_id: "S1".into(),
        origin: "proofs/proof-S1.json".into(),
        json: Ok(bytes),
        dsse,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct Case {
    scripts: Vec<GateScript>,
    policy: GatePolicy,
    facts: CheckoutFacts,
    proofs: Vec<ProofInput>,
    release: bool,
    lock: Option<super::super::locked::LockEvidence>,
}

impl Case {
    /// A `ci` script under a policy that says `signatures: none`.
    fn ci(proofs: Vec<ProofInput>) -> Self {
        Self {
            scripts: vec![script(Evidence::Ci)],
            policy: GatePolicy {
                require_signatures: false,
                ..GatePolicy::default()
            },
            facts: facts(),
            proofs,
            release: false,
            lock: None,
        }
    }

    fn signed(proofs: Vec<ProofInput>) -> Self {
        let mut c = Self::ci(proofs);
        c.policy.require_signatures = true;
        c
    }

    fn run(&self) -> Report {
        let facts: HashMap<String, CheckoutFacts> = self
            .scripts
            .iter()
            .map(|s| (s.id.clone(), self.facts.clone()))
            .collect();
        evaluate(&GateInput {
            scripts: &self.scripts,
            policy: &self.policy,
            facts: &facts,
            proofs: &self.proofs,
            verifier: &FakeVerifier {
                trusted: vec!["k1"],
            },
            commit: Some(COMMIT),
            repository: Some("o/r"),
            release: self.release,
            now: now(),
            policy_source: &PolicySource {
                from: "head",
                base_commit: None,
                trusted_keys: 1,
                downgrades: vec![],
            },
            lint_errors: &[],
            lock: self.lock.as_ref(),
        })
    }

    fn reason(&self) -> Reason {
        let r = self.run();
        assert_eq!(r.scripts.len(), 1);
        r.scripts[0].reason
    }
}

#[test]
fn a_signed_pass_proof_for_this_commit_passes() {
    let r = Case::signed(vec![proof(&proof_json(COMMIT, "PASS"), true)]).run();
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.scripts[0].reason, Reason::CiProof);
    assert_eq!(
        r.scripts[0].proof.as_ref().unwrap().keyid.as_deref(),
        Some("k1")
    );
    assert_eq!(r.counts.ci, 1);
}

#[test]
fn an_unsigned_pass_proof_passes_when_signatures_are_not_required() {
    assert_eq!(
        Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]).reason(),
        Reason::CiProof
    );
}

#[test]
fn no_proof_denies_with_proof_missing() {
    let r = Case::ci(vec![]).run();
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.scripts[0].reason, Reason::ProofMissing);
    assert!(r.scripts[0].message.contains("proof-S1.json"));
}

#[test]
fn an_unreadable_proof_denies() {
    let mut p = proof(&proof_json(COMMIT, "PASS"), false);
    p.json = Err("permission denied".into());
    assert_eq!(Case::ci(vec![p]).reason(), Reason::ProofUnreadable);
    let mut p = proof(&proof_json(COMMIT, "PASS"), false);
    p.json = Ok(b"{not json".to_vec());
    let r = Case::ci(vec![p]).run();
    assert_eq!(r.scripts[0].reason, Reason::ProofUnreadable);
    assert!(r.scripts[0].message.contains("line 1"));
}

#[test]
fn a_proof_naming_another_script_denies() {
    let mut v = proof_json(COMMIT, "PASS");
    v["script_id"] = json!("S2");
    assert_eq!(
        Case::ci(vec![proof(&v, false)]).reason(),
        Reason::ProofIdMismatch
    );
}

#[test]
fn a_missing_envelope_denies_when_signatures_are_required() {
    assert_eq!(
        Case::signed(vec![proof(&proof_json(COMMIT, "PASS"), false)]).reason(),
        Reason::SignatureMissing
    );
}

#[test]
fn a_bad_signature_denies() {
    let mut p = proof(&proof_json(COMMIT, "PASS"), false);
    p.dsse = Some(Ok(envelope_for(
        p.json.as_ref().unwrap(),
        "k1",
        false,
        "scripts/s1.py",
    )));
    assert_eq!(Case::signed(vec![p]).reason(), Reason::SignatureInvalid);
}

#[test]
fn an_untrusted_key_denies() {
    let mut p = proof(&proof_json(COMMIT, "PASS"), false);
    p.dsse = Some(Ok(envelope_for(
        p.json.as_ref().unwrap(),
        "stranger",
        true,
        "scripts/s1.py",
    )));
    let r = Case::signed(vec![p]).run();
    assert_eq!(r.scripts[0].reason, Reason::KeyUntrusted);
    assert!(r.scripts[0].message.contains("stranger"));
}

#[test]
fn a_proof_changed_after_signing_denies_with_statement_mismatch() {
    let mut p = proof(&proof_json(COMMIT, "FAIL"), true);
    // Replace the proof with a PASS one: the envelope still covers the FAIL bytes.
    p.json = Ok(serde_json::to_vec_pretty(&proof_json(COMMIT, "PASS")).unwrap());
    assert_eq!(Case::signed(vec![p]).reason(), Reason::StatementMismatch);
}

#[test]
fn a_statement_about_another_script_denies() {
    let mut p = proof(&proof_json(COMMIT, "PASS"), false);
    p.dsse = Some(Ok(envelope_for(
        p.json.as_ref().unwrap(),
        "k1",
        true,
        "scripts/other.py",
    )));
    assert_eq!(Case::signed(vec![p]).reason(), Reason::StatementMismatch);
}

#[test]
fn a_subject_digest_differing_from_the_proof_denies() {
    let mut v = proof_json(COMMIT, "PASS");
    v["script_digest"] = json!(Sha256Digest::of(b"other").to_string());
    assert_eq!(
        Case::signed(vec![proof(&v, true)]).reason(),
        Reason::StatementMismatch
    );
}

#[test]
fn a_script_edited_after_its_proof_denies_with_script_digest_mismatch() {
    let mut c = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]);
    c.facts.script_digest = Some(Sha256Digest::of(b"edited"));
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::ScriptDigestMismatch);
    assert!(r.scripts[0].message.contains("changed after its proof"));
}

#[test]
fn a_script_absent_from_the_checkout_denies() {
    let mut c = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]);
    c.facts.script_digest = None;
    assert_eq!(c.reason(), Reason::ScriptMissing);
}

#[test]
fn edited_tests_deny_with_tests_digest_mismatch() {
    let mut c = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]);
    c.facts.tests_digest = Some(Sha256Digest::of(b"other tests"));
    assert_eq!(c.reason(), Reason::TestsDigestMismatch);
}

#[test]
fn a_missing_test_file_denies_for_ci_and_declared() {
    let mut c = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]);
    c.facts.missing_test_files = vec!["tests/test_s1.py".into()];
    assert_eq!(c.reason(), Reason::TestFileMissing);
    c.scripts[0].evidence = Some(Evidence::Declared);
    assert_eq!(c.reason(), Reason::TestFileMissing);
}

#[test]
fn a_declared_test_file_without_results_denies() {
    let mut v = proof_json(COMMIT, "PASS");
    v["tests"][0]["file"] = json!("tests/elsewhere.py");
    assert_eq!(
        Case::ci(vec![proof(&v, false)]).reason(),
        Reason::TestFileNoResults
    );
}

#[test]
fn an_old_proof_denies_with_proof_stale() {
    let mut c = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]);
    c.policy.max_age = Some(Duration::from_secs(3600));
    assert_eq!(c.reason(), Reason::ProofStale);
    c.policy.max_age = Some(Duration::from_secs(2 * 86400));
    assert_eq!(c.reason(), Reason::CiProof);
}

#[test]
fn a_fail_verdict_denies_and_names_the_counts() {
    let mut v = proof_json(COMMIT, "FAIL");
    v["test_summary"]["failed"] = json!(2);
    v["test_summary"]["total"] = json!(2);
    let r = Case::ci(vec![proof(&v, false)]).run();
    assert_eq!(r.scripts[0].reason, Reason::VerdictFail);
    assert!(r.scripts[0].message.contains("2 failed"));
}

#[test]
fn a_proof_for_another_commit_denies_without_reuse() {
    let r = Case::ci(vec![proof(&proof_json(OLD, "PASS"), false)]).run();
    assert_eq!(r.scripts[0].reason, Reason::CommitMismatch);
    assert!(r.scripts[0].message.contains(OLD));
}

#[test]
fn same_content_reuse_accepts_an_earlier_commit_and_says_so() {
    let mut c = Case::ci(vec![proof(&proof_json(OLD, "PASS"), false)]);
    c.policy.reuse_same_content = true;
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::CiReused);
    assert!(r.scripts[0].proof.as_ref().unwrap().reused);
    assert!(r.scripts[0].message.contains("reused"));
    assert_eq!(r.counts.reused, 1);
}

#[test]
fn same_content_reuse_refuses_a_changed_script() {
    let mut c = Case::ci(vec![proof(&proof_json(OLD, "PASS"), false)]);
    c.policy.reuse_same_content = true;
    c.facts.script_digest = Some(Sha256Digest::of(b"edited"));
    assert_eq!(c.reason(), Reason::CommitMismatch);
}

#[test]
fn manual_evidence_is_refused_for_medium_and_high_impact() {
    let mut c = Case::ci(vec![]);
    c.scripts[0].evidence = Some(Evidence::Manual);
    assert_eq!(c.reason(), Reason::ManualOk);
    c.scripts[0].production_impact = Some(Impact::High);
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::ManualNotAllowed);
    assert!(r.scripts[0].message.contains("high"));
}

#[test]
fn declared_evidence_passes_when_test_files_exist() {
    let mut c = Case::ci(vec![]);
    c.scripts[0].evidence = Some(Evidence::Declared);
    assert_eq!(c.reason(), Reason::DeclaredOk);
}

#[test]
fn a_script_without_evidence_denies() {
    let mut c = Case::ci(vec![]);
    c.scripts[0].evidence = None;
    assert_eq!(c.reason(), Reason::EvidenceUndeclared);
}

#[test]
fn release_requires_ci_for_maturity_three_and_risky_scripts() {
    let mut c = Case::ci(vec![]);
    c.scripts[0].evidence = Some(Evidence::Declared);
    c.release = true;
    assert_eq!(c.reason(), Reason::DeclaredOk, "maturity 2, low impact");
    c.scripts[0].maturity = Some(3);
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::ProofMissing);
    assert_eq!(r.scripts[0].required_evidence.as_deref(), Some("ci"));
    assert!(r.scripts[0].message.contains("release"));
    c.scripts[0].maturity = Some(1);
    c.scripts[0].production_impact = Some(Impact::Medium);
    c.scripts[0].evidence = Some(Evidence::Manual);
    assert_eq!(c.reason(), Reason::ProofMissing);
    c.proofs = vec![proof(&proof_json(COMMIT, "PASS"), false)];
    assert_eq!(c.reason(), Reason::CiProof);
}

#[test]
fn proofs_for_unknown_scripts_are_reported_not_denied() {
    let mut stray = proof(&proof_json(COMMIT, "PASS"), false);
    stray.script_id = "GHOST".into();
    stray.origin = "proofs/proof-GHOST.json".into();
    let r = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false), stray]).run();
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.unknown_proofs.len(), 1);
    assert_eq!(r.unknown_proofs[0].script_id, "GHOST");
    assert_eq!(r.counts.unknown_proofs, 1);
}

#[test]
fn every_reason_code_is_distinct_and_screaming_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for r in Reason::ALL {
        assert!(seen.insert(r.code()));
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.code()));
    }
}

#[test]
fn ci_required_for_overrides_the_header() {
    let mut c = Case::ci(vec![]);
    c.scripts[0].evidence = Some(Evidence::Declared);
    c.policy.ci_required_for = vec![Impact::Low];
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::ProofMissing);
    assert!(r.scripts[0].message.contains("ci_required_for"));
}

/// `v` as a proof read from `origin`, made by `job`/`shard` in run attempt `attempt`.
fn from_leg(mut v: Value, origin: &str, shard: Option<&str>, attempt: u32) -> ProofInput {
    v["context"]["run_attempt"] = json!(attempt.to_string());
    if let Some(s) = shard {
        v["context"]["shard"] = json!(s);
    }
    let mut p = proof(&v, true);
    p.origin = origin.into();
    p
}

#[test]
fn a_passing_proof_cannot_hide_a_failing_one_of_the_same_commit() {
    let c = Case::signed(vec![
        from_leg(
            proof_json(COMMIT, "PASS"),
            "a/proof-S1@1.json",
            Some("1"),
            1,
        ),
        from_leg(
            proof_json(COMMIT, "FAIL"),
            "b/proof-S1@2.json",
            Some("2"),
            1,
        ),
    ]);
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::VerdictFail);
    assert!(
        r.scripts[0].message.contains("shard 2"),
        "{}",
        r.scripts[0].message
    );
    assert_eq!(r.scripts[0].combined.len(), 2);
}

#[test]
fn the_latest_attempt_of_a_job_leg_replaces_the_earlier_one() {
    let c = Case::signed(vec![
        from_leg(
            proof_json(COMMIT, "FAIL"),
            "a1/proof-S1@1.json",
            Some("1"),
            1,
        ),
        from_leg(
            proof_json(COMMIT, "PASS"),
            "a2/proof-S1@1.json",
            Some("1"),
            2,
        ),
    ]);
    assert_eq!(c.reason(), Reason::CiProof);
    // …and a failing re-run is not hidden by the earlier pass.
    let c = Case::signed(vec![
        from_leg(
            proof_json(COMMIT, "PASS"),
            "a1/proof-S1@1.json",
            Some("1"),
            1,
        ),
        from_leg(
            proof_json(COMMIT, "FAIL"),
            "a2/proof-S1@1.json",
            Some("1"),
            2,
        ),
    ]);
    assert_eq!(c.reason(), Reason::VerdictFail);
}

#[test]
fn two_different_proofs_from_one_producer_conflict() {
    let mut other = proof_json(COMMIT, "PASS");
    other["generated_at"] = json!("2026-01-01T00:00:01Z");
    let r = Case::signed(vec![
        from_leg(proof_json(COMMIT, "PASS"), "x/proof-S1.json", None, 1),
        from_leg(other, "y/proof-S1.json", None, 1),
    ])
    .run();
    assert_eq!(r.scripts[0].reason, Reason::ProofConflict);
    assert!(r.scripts[0].message.contains("--shard"));
    // The same bytes downloaded twice are one proof.
    let c = Case::signed(vec![
        from_leg(proof_json(COMMIT, "PASS"), "x/proof-S1.json", None, 1),
        from_leg(proof_json(COMMIT, "PASS"), "y/proof-S1.json", None, 1),
    ]);
    assert_eq!(c.reason(), Reason::CiProof);
}

#[test]
fn shards_together_must_cover_every_declared_test_file() {
    let mut c = Case::signed(vec![]);
    c.scripts[0].test_files = vec!["tests/test_s1.py".into(), "tests/test_s1b.py".into()];
    let mut b = proof_json(COMMIT, "PASS");
    b["tests"][0]["file"] = json!("tests/test_s1b.py");
    c.proofs = vec![from_leg(
        proof_json(COMMIT, "PASS"),
        "1/proof-S1@1.json",
        Some("1"),
        1,
    )];
    assert_eq!(c.reason(), Reason::TestFileNoResults);
    c.proofs
        .push(from_leg(b, "2/proof-S1@2.json", Some("2"), 1));
    let r = c.run();
    assert_eq!(
        r.scripts[0].reason,
        Reason::CiProof,
        "{}",
        r.scripts[0].message
    );
    assert!(r.scripts[0].message.contains("2 PASS proofs"));
}

#[test]
fn reuse_never_overrides_a_failure_for_this_commit() {
    let mut c = Case::signed(vec![
        from_leg(proof_json(OLD, "PASS"), "old/proof-S1.json", None, 1),
        from_leg(proof_json(COMMIT, "FAIL"), "new/proof-S1.json", None, 1),
    ]);
    c.policy.reuse_same_content = true;
    assert_eq!(c.reason(), Reason::VerdictFail);
}

#[test]
fn an_unsigned_proof_beside_a_signed_one_denies() {
    let r = Case::signed(vec![
        proof(&proof_json(COMMIT, "PASS"), true),
        ProofInput {
            origin: "forged/proof-S1.json".into(),
            ..proof(&proof_json(COMMIT, "PASS"), false)
        },
    ])
    .run();
    assert_eq!(r.scripts[0].reason, Reason::SignatureMissing);
}

#[test]
fn an_envelope_with_another_payload_type_denies() {
    let mut p = proof(&proof_json(COMMIT, "PASS"), true);
    let mut env: Value =
        serde_json::from_slice(p.dsse.as_ref().unwrap().as_ref().unwrap()).unwrap();
    env["payloadType"] = json!("application/json");
    p.dsse = Some(Ok(serde_json::to_vec(&env).unwrap()));
    let r = Case::signed(vec![p]).run();
    assert_eq!(r.scripts[0].reason, Reason::StatementMismatch);
    assert!(r.scripts[0].message.contains("payload type"));
}

#[test]
fn a_proof_from_another_repository_denies() {
    let mut v = proof_json(COMMIT, "PASS");
    v["context"]["repository"] = json!("someone/else");
    assert_eq!(
        Case::signed(vec![proof(&v, true)]).reason(),
        Reason::RepositoryMismatch
    );
}

#[test]
fn a_proof_from_the_future_denies() {
    let mut v = proof_json(COMMIT, "PASS");
    v["generated_at"] = json!("2027-01-01T00:00:00Z");
    assert_eq!(
        Case::signed(vec![proof(&v, true)]).reason(),
        Reason::ProofFromFuture
    );
    // A few seconds of clock skew is fine.
    v["generated_at"] = json!("2026-01-02T00:00:30Z");
    assert_eq!(
        Case::signed(vec![proof(&v, true)]).reason(),
        Reason::CiProof
    );
}

#[test]
fn a_proof_with_duplicate_keys_or_an_unknown_version_denies() {
    let bytes = serde_json::to_vec_pretty(&proof_json(COMMIT, "FAIL")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    // A second `verdict` key after the first: a last-wins reader would see PASS.
    let dup = text.replacen(
        "\"verdict\": \"FAIL\"",
        "\"verdict\": \"FAIL\", \"verdict\": \"PASS\"",
        1,
    );
    let mut p = proof(&proof_json(COMMIT, "PASS"), false);
    p.json = Ok(dup.into_bytes());
    let r = Case::ci(vec![p]).run();
    assert_eq!(r.scripts[0].reason, Reason::ProofUnreadable);
    assert!(
        r.scripts[0].message.contains("duplicate"),
        "{}",
        r.scripts[0].message
    );
    let mut v = proof_json(COMMIT, "PASS");
    v["schema_version"] = json!("9.0");
    let r = Case::ci(vec![proof(&v, false)]).run();
    assert_eq!(r.scripts[0].reason, Reason::ProofUnreadable);
    assert!(r.scripts[0].message.contains("9.0"));
}

#[test]
fn a_lint_error_in_a_script_is_a_gate_error() {
    let mut c = Case::signed(vec![proof(&proof_json(COMMIT, "PASS"), true)]);
    c.scripts[0].lint_errors = vec!["3:1: owner: \"x\" is not allowed [bad-value]".into()];
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::LintError);
    assert!(r.scripts[0].message.contains("owner"));
}

#[test]
fn the_report_says_when_signatures_are_not_checked() {
    let r = Case::ci(vec![proof(&proof_json(COMMIT, "PASS"), false)]).run();
    assert_eq!(r.signatures, super::super::report::Signatures::None);
    let table = super::super::render::table(&r);
    assert!(table.starts_with("signatures: none"), "{table}");
    let md = super::super::render::markdown(&r, &[], 1 << 20);
    assert!(md.contains("signatures: none"), "{md}");
    let signed = Case::signed(vec![proof(&proof_json(COMMIT, "PASS"), true)]).run();
    assert!(!super::super::render::table(&signed).contains("signatures: none"));
}

#[test]
fn a_commit_mismatch_says_what_changed() {
    let mut c = Case::signed(vec![proof(&proof_json(OLD, "PASS"), true)]);
    c.facts.script_digest = Some(Sha256Digest::of(b"edited"));
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::CommitMismatch);
    assert!(
        r.scripts[0].message.contains("`scripts/s1.py`"),
        "{}",
        r.scripts[0].message
    );
    assert!(r.scripts[0].message.contains("--commit"));
}

/// A passing proof whose one test passed only on a retry.
fn flaky_proof(listed: bool) -> Value {
    let mut v = proof_json(COMMIT, "PASS");
    v["flaky"] = json!(1);
    if listed {
        v["tests"][0]["status"] = json!("flaky");
        v["tests"][0]["attempts"] = json!(2);
    }
    v
}

#[test]
fn a_flaky_test_passes_with_a_warning_by_default() {
    let c = Case::ci(vec![proof(&flaky_proof(true), false)]);
    let r = c.run();
    let row = &r.scripts[0];
    assert_eq!(row.reason, Reason::CiProof);
    assert_eq!(row.warnings.len(), 1, "{row:?}");
    assert!(row.warnings[0].contains("test_a"), "{row:?}");
    assert!(row.message.contains("flaky: warn"), "{}", row.message);
    assert!(
        super::super::render::annotations(&r)
            .iter()
            .any(|a| a.level == crate::github::annotations::Level::Warning
                && a.message.contains("test_a")),
    );
}

#[test]
fn a_flaky_test_denies_under_flaky_deny_even_when_only_the_count_says_so() {
    for listed in [true, false] {
        let mut c = Case::ci(vec![proof(&flaky_proof(listed), false)]);
        c.policy.flaky = FlakyPolicy::Deny;
        let r = c.run();
        assert_eq!(
            r.scripts[0].reason,
            Reason::FlakyDenied,
            "{:?}",
            r.scripts[0]
        );
        assert_eq!(r.verdict, Verdict::Fail);
    }
}

#[test]
fn a_flaky_test_passes_silently_under_flaky_allow() {
    let mut c = Case::ci(vec![proof(&flaky_proof(true), false)]);
    c.policy.flaky = FlakyPolicy::Allow;
    let r = c.run();
    assert_eq!(r.scripts[0].reason, Reason::CiProof);
    assert!(r.scripts[0].warnings.is_empty());
}

#[test]
fn a_huge_flaky_count_is_a_denial_not_an_allocation() {
    let mut v = flaky_proof(false);
    v["flaky"] = json!(u64::MAX);
    let mut c = Case::ci(vec![proof(&v, false)]);
    c.policy.flaky = FlakyPolicy::Deny;
    assert_eq!(c.reason(), Reason::FlakyDenied);
}

mod locked {
    //! `verify --lock`: a `ci` script judged on the one proof the lock pins.

    use super::*;
    use crate::proof::record::Verdict as ProofVerdict;
    use crate::verify::locked::{LockEvidence, LockPin};

    fn pin_for(p: &ProofInput) -> LockPin {
        LockPin {
            source_hash: Sha256Digest::of(script_bytes()),
            tests_hash: tests_d(),
            proof_digest: Sha256Digest::of(p.json.as_ref().unwrap()),
            test_result: ProofVerdict::Pass,
            test_run_id: Some("7".into()),
            key_id: Some("k1".into()),
            test_seed: None,
            shard: None,
        }
    }

    /// A signed case whose lock pins `pin` and retrieved `fetched` for `S1`.
    fn case(pin: Option<LockPin>, fetched: Option<Result<ProofInput, String>>) -> Case {
        let mut c = Case::signed(vec![]);
        c.release = true;
        let mut lock = LockEvidence::default();
        if let Some(p) = pin {
            lock.pins.insert("S1".into(), vec![p]);
        }
        if let Some(f) = fetched {
            lock.listed
                .insert("S1".into(), Ok(f.iter().cloned().collect()));
            lock.fetched.insert("S1".into(), vec![f]);
        }
        c.lock = Some(lock);
        c
    }

    fn judged(c: &Case) -> ScriptReport {
        c.run().scripts.into_iter().next().unwrap()
    }

    #[test]
    fn an_earlier_commits_pinned_proof_passes_and_is_marked_reused() {
        let p = proof(&proof_json(OLD, "PASS"), true);
        let r = judged(&case(Some(pin_for(&p)), Some(Ok(p))));
        assert_eq!(r.reason, Reason::CiLocked, "{}", r.message);
        assert!(r.proof.as_ref().unwrap().reused);
        assert!(r.message.contains("run 7"), "{}", r.message);
    }

    #[test]
    fn a_script_without_an_entry_is_denied_even_beside_a_good_proof() {
        let mut c = case(None, None);
        c.proofs = vec![proof(&proof_json(COMMIT, "PASS"), true)];
        assert_eq!(judged(&c).reason, Reason::LockMissing);
    }

    #[test]
    fn a_changed_script_or_test_file_is_stale_and_says_which() {
        let p = proof(&proof_json(COMMIT, "PASS"), true);
        let mut c = case(Some(pin_for(&p)), Some(Ok(p.clone())));
        c.facts.script_digest = Some(Sha256Digest::of(b"edited"));
        let r = judged(&c);
        assert_eq!(r.reason, Reason::LockStale);
        assert!(r.message.contains("source_hash"), "{}", r.message);
        let mut c = case(Some(pin_for(&p)), Some(Ok(p)));
        c.facts.tests_digest = Some(Sha256Digest::of(b"edited"));
        let r = judged(&c);
        assert_eq!(r.reason, Reason::LockStale);
        assert!(r.message.contains("tests_hash"), "{}", r.message);
    }

    #[test]
    fn a_proof_that_could_not_be_retrieved_is_missing_with_where_it_was_looked_for() {
        let p = proof(&proof_json(COMMIT, "PASS"), true);
        let r = judged(&case(
            Some(pin_for(&p)),
            Some(Err("store `x`: gone".into())),
        ));
        assert_eq!(r.reason, Reason::ProofMissing);
        assert!(r.message.contains("store `x`: gone"), "{}", r.message);
        let r = judged(&case(Some(pin_for(&p)), None));
        assert_eq!(r.reason, Reason::ProofMissing);
    }

    #[test]
    fn the_pinned_runs_other_proofs_must_be_listed_and_pinned() {
        let p = proof(&proof_json(COMMIT, "PASS"), true);
        // Nowhere to list the run: denied, saying which source to give.
        let mut c = case(Some(pin_for(&p)), Some(Ok(p.clone())));
        let lock = c.lock.as_mut().unwrap();
        lock.listed
            .insert("S1".into(), Err("store `x`: gone".into()));
        let r = judged(&c);
        assert_eq!(r.reason, Reason::ProofMissing, "{}", r.message);
        assert!(r.message.contains("store `x`: gone"), "{}", r.message);
        assert!(r.message.contains("--server"), "{}", r.message);
        c.lock.as_mut().unwrap().listed.clear();
        assert_eq!(judged(&c).reason, Reason::ProofMissing);

        // A shard proof of the pinned run beside the unsharded pin denies, failing or not;
        // one of another run, or an earlier attempt of the pinned leg, does not count.
        let mut failing = proof_json(COMMIT, "FAIL");
        failing["context"]["shard"] = json!("b");
        let sibling = from_leg(failing.clone(), "b/proof-S1@b.json", Some("b"), 1);
        let mut c = case(Some(pin_for(&p)), Some(Ok(p.clone())));
        c.lock
            .as_mut()
            .unwrap()
            .listed
            .insert("S1".into(), Ok(vec![p.clone(), sibling]));
        let r = judged(&c);
        assert_eq!(r.reason, Reason::LockIncomplete, "{}", r.message);
        assert!(r.message.contains("shard `b`, FAIL"), "{}", r.message);
        assert!(r.message.contains("run 7"), "{}", r.message);

        failing["context"]["run_id"] = json!("8");
        let other_run = from_leg(failing, "b/proof-S1@b.json", None, 1);
        let earlier = from_leg(proof_json(COMMIT, "FAIL"), "old/proof-S1.json", None, 0);
        c.lock
            .as_mut()
            .unwrap()
            .listed
            .insert("S1".into(), Ok(vec![other_run, earlier]));
        let r = judged(&c);
        assert_eq!(r.reason, Reason::CiLocked, "{}", r.message);
    }

    #[test]
    fn a_retrieved_proof_with_another_digest_is_a_mismatch() {
        let p = proof(&proof_json(COMMIT, "PASS"), true);
        let mut pin = pin_for(&p);
        pin.proof_digest = Sha256Digest::of(b"another");
        assert_eq!(
            judged(&case(Some(pin), Some(Ok(p)))).reason,
            Reason::LockMismatch
        );
    }

    #[test]
    fn the_locks_description_must_be_true() {
        let p = proof(&proof_json(COMMIT, "PASS"), true);
        let lies: [fn(&mut LockPin); 3] = [
            |p| p.test_run_id = Some("8".into()),
            |p| p.key_id = Some("k2".into()),
            |p| p.test_seed = Some([("PYTHONHASHSEED".to_owned(), "1".to_owned())].into()),
        ];
        for (lie, field) in lies.iter().zip(["test_run_id", "key_id", "test_seed"]) {
            let mut pin = pin_for(&p);
            lie(&mut pin);
            let r = judged(&case(Some(pin), Some(Ok(p.clone()))));
            assert_eq!(r.reason, Reason::LockMismatch, "{field}");
            assert!(r.message.contains(field), "{}", r.message);
        }
    }

    #[test]
    fn seeds_the_proof_records_are_pinned() {
        let mut v = proof_json(COMMIT, "PASS");
        v["context"]["seeds"] = json!({"PYTHONHASHSEED": "42"});
        let p = proof(&v, true);
        let r = judged(&case(Some(pin_for(&p)), Some(Ok(p.clone()))));
        assert_eq!(r.reason, Reason::LockMismatch, "{}", r.message);
        let mut pin = pin_for(&p);
        pin.test_seed = Some([("PYTHONHASHSEED".to_owned(), "42".to_owned())].into());
        let r = judged(&case(Some(pin), Some(Ok(p))));
        assert_eq!(r.reason, Reason::CiLocked, "{}", r.message);
    }

    /// A case over two test files whose lock pins the shards `pins` (shard name, proof)
    /// and retrieved each of them: shard `a` covers the first file, `b` the second.
    fn sharded(pins: &[(&str, &ProofInput)]) -> Case {
        let mut c = case(None, None);
        c.scripts[0].test_files = vec!["tests/test_s1.py".into(), "tests/test_s1b.py".into()];
        let lock = c.lock.as_mut().unwrap();
        let mut ps = Vec::new();
        let mut fs = Vec::new();
        for (shard, p) in pins {
            let mut pin = pin_for(p);
            pin.shard = Some((*shard).to_owned());
            ps.push(pin);
            fs.push(Ok((*p).clone()));
        }
        lock.pins.insert("S1".into(), ps);
        lock.listed.insert(
            "S1".into(),
            Ok(fs.iter().filter_map(|f| f.as_ref().ok().cloned()).collect()),
        );
        lock.fetched.insert("S1".into(), fs);
        c
    }

    fn shard_proof(shard: &str, file: &str, run: &str) -> ProofInput {
        let mut v = proof_json(COMMIT, "PASS");
        v["tests"][0]["file"] = json!(file);
        v["context"]["run_id"] = json!(run);
        from_leg(v, &format!("{shard}/proof-S1@{shard}.json"), Some(shard), 1)
    }

    #[test]
    fn a_sharded_entry_passes_on_every_shard_together_and_not_on_part_of_them() {
        let a = shard_proof("a", "tests/test_s1.py", "100");
        let b = shard_proof("b", "tests/test_s1b.py", "100");
        let r = judged(&sharded(&[("a", &a), ("b", &b)]));
        assert_eq!(r.reason, Reason::CiLocked, "{}", r.message);
        assert_eq!(r.combined.len(), 2);
        assert!(r.message.contains("2 PASS shard proofs"), "{}", r.message);
        // A shard dropped: what it covered has no results.
        let r = judged(&sharded(&[("a", &a)]));
        assert_eq!(r.reason, Reason::TestFileNoResults, "{}", r.message);
        assert!(r.message.contains("test_s1b.py"), "{}", r.message);
    }

    #[test]
    fn a_sharded_entry_must_be_one_proof_per_shard_of_one_run() {
        let a = shard_proof("a", "tests/test_s1.py", "100");
        let b = shard_proof("b", "tests/test_s1b.py", "100");
        // A shard pinned under another shard's name.
        let r = judged(&sharded(&[("a", &a), ("c", &b)]));
        assert_eq!(r.reason, Reason::LockMismatch, "{}", r.message);
        assert!(r.message.contains("`shard`"), "{}", r.message);
        // One shard pinned twice.
        let a2 = shard_proof("a", "tests/test_s1b.py", "100");
        let r = judged(&sharded(&[("a", &a), ("a", &a2)]));
        assert_eq!(r.reason, Reason::LockMismatch, "{}", r.message);
        assert!(r.message.contains("two proofs"), "{}", r.message);
        // Shards of two runs.
        let other = shard_proof("b", "tests/test_s1b.py", "200");
        let r = judged(&sharded(&[("a", &a), ("b", &other)]));
        assert_eq!(r.reason, Reason::LockMismatch, "{}", r.message);
        assert!(r.message.contains("different runs"), "{}", r.message);
        // A failing shard denies the whole script.
        let mut v = proof_json(COMMIT, "FAIL");
        v["tests"][0]["file"] = json!("tests/test_s1b.py");
        v["context"]["run_id"] = json!("100");
        let failing = from_leg(v, "b/proof-S1@b.json", Some("b"), 1);
        let r = judged(&sharded(&[("a", &a), ("b", &failing)]));
        assert_eq!(r.reason, Reason::VerdictFail, "{}", r.message);
    }

    #[test]
    fn scripts_that_need_no_ci_evidence_are_judged_as_without_a_lock() {
        let mut c = case(None, None);
        c.scripts[0].evidence = Some(Evidence::Declared);
        assert_eq!(judged(&c).reason, Reason::DeclaredOk);
        // Release rules still raise a maturity-3 script to `ci`: then the lock decides.
        c.scripts[0].maturity = Some(3);
        assert_eq!(judged(&c).reason, Reason::LockMissing);
    }

    #[test]
    fn a_pinned_flaky_proof_warns_or_denies_as_the_policy_says() {
        let p = proof(&flaky_proof(true), true);
        let r = judged(&case(Some(pin_for(&p)), Some(Ok(p.clone()))));
        assert_eq!(r.reason, Reason::CiLocked, "{}", r.message);
        assert_eq!(r.warnings.len(), 1, "{r:?}");
        let mut c = case(Some(pin_for(&p)), Some(Ok(p)));
        c.policy.flaky = FlakyPolicy::Deny;
        assert_eq!(judged(&c).reason, Reason::FlakyDenied);
    }

    #[test]
    fn a_failing_unsigned_or_untrusted_pinned_proof_is_denied_as_without_a_lock() {
        let failing = proof(&proof_json(COMMIT, "FAIL"), true);
        let mut pin = pin_for(&failing);
        pin.test_result = ProofVerdict::Pass;
        assert_eq!(
            judged(&case(Some(pin), Some(Ok(failing)))).reason,
            Reason::VerdictFail
        );
        let unsigned = proof(&proof_json(COMMIT, "PASS"), false);
        let pin = pin_for(&unsigned);
        assert_eq!(
            judged(&case(Some(pin), Some(Ok(unsigned)))).reason,
            Reason::SignatureMissing
        );
        let mut untrusted = proof(&proof_json(COMMIT, "PASS"), false);
        let bytes = untrusted.json.clone().unwrap();
        untrusted.dsse = Some(Ok(envelope_for(&bytes, "evil", true, "scripts/s1.py")));
        let mut pin = pin_for(&untrusted);
        pin.key_id = Some("evil".into());
        assert_eq!(
            judged(&case(Some(pin), Some(Ok(untrusted)))).reason,
            Reason::KeyUntrusted
        );
    }
}

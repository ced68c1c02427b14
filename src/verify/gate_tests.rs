use super::*;
use serde_json::json;

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
    }
}

fn facts() -> CheckoutFacts {
    CheckoutFacts {
        script_digest: Some(Sha256Digest::of(script_bytes())),
        tests_digest: Some(tests_d()),
        missing_test_files: vec![],
    }
}

fn proof_json(commit: &str, verdict: &str) -> Value {
    json!({
        "schema_version": "1.0",
        "script_id": "S1",
        "generated_at": "2026-01-01T00:00:00Z",
        "commit_sha": commit,
        "verdict": verdict,
        "script_path": "scripts/s1.py",
        "script_digest": Sha256Digest::of(script_bytes()).to_string(),
        "tests_digest": tests_d().to_string(),
        "test_summary": {"total": 1, "passed": 1, "failed": 0, "errors": 0, "skipped": 0},
        "tests": [{"file": "tests/test_s1.py", "name": "test_a", "status": "passed"}],
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
}

impl Case {
    fn ci(proofs: Vec<ProofInput>) -> Self {
        Self {
            scripts: vec![script(Evidence::Ci)],
            policy: GatePolicy::default(),
            facts: facts(),
            proofs,
            release: false,
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
            release: self.release,
            now: now(),
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
    v["tests"] = json!([{"file": "tests/elsewhere.py", "name": "t", "status": "passed"}]);
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
fn a_passing_shard_proof_wins_over_a_failing_one() {
    let c = Case::ci(vec![
        proof(&proof_json(OLD, "PASS"), false),
        proof(&proof_json(COMMIT, "PASS"), false),
    ]);
    assert_eq!(c.reason(), Reason::CiProof);
    let c = Case::ci(vec![
        proof(&proof_json(OLD, "PASS"), false),
        proof(&proof_json(COMMIT, "FAIL"), false),
    ]);
    assert_eq!(
        c.reason(),
        Reason::VerdictFail,
        "the current commit's failure explains best"
    );
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

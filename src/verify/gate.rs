//! The pure gate: values in (scripts, policy, checkout facts, proof bytes, a signature
//! verifier, `now`), a [`Report`] out. No file, network or clock access.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::report::{
    Counts, ProofRef, REPORT_SCHEMA_VERSION, Reason, Report, ScriptReport, UnknownProof, Verdict,
};
use crate::digest::Sha256Digest;
use crate::par::{par_map, threads_for};

/// The evidence level a script declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Evidence {
    /// A person vouches for it.
    Manual,
    /// Tests exist but CI proof is not enforced.
    Declared,
    /// A CI proof is required.
    Ci,
}

impl Evidence {
    /// `manual`, `declared` or `ci`.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Manual => "manual",
            Evidence::Declared => "declared",
            Evidence::Ci => "ci",
        }
    }
}

/// A risk level (`risk_profile.production_impact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Impact {
    /// `none`.
    None,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
}

impl Impact {
    /// `none`, `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Low => "low",
            Impact::Medium => "medium",
            Impact::High => "high",
        }
    }
}

/// What the gate needs to know about one script of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateScript {
    /// Script id.
    pub id: String,
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// Line of the header (for annotations).
    pub header_line: Option<u32>,
    /// The declared evidence level.
    pub evidence: Option<Evidence>,
    /// Maturity 0–3.
    pub maturity: Option<u8>,
    /// `risk_profile.production_impact`.
    pub production_impact: Option<Impact>,
    /// Declared test files (repository-relative, `/` separators).
    pub test_files: Vec<String>,
}

/// The policy knobs the gate applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePolicy {
    /// Signatures from a trusted key are required (policy, or any trusted key configured).
    pub require_signatures: bool,
    /// Proofs older than this deny.
    pub max_age: Option<Duration>,
    /// A PASS proof from an earlier commit counts when script and tests digests are
    /// unchanged.
    pub reuse_same_content: bool,
    /// Production impacts for which `manual` evidence is forbidden.
    pub manual_forbidden_for: Vec<Impact>,
    /// Production impacts for which `ci` evidence is required whatever the header says.
    pub ci_required_for: Vec<Impact>,
}

impl Default for GatePolicy {
    fn default() -> Self {
        Self {
            require_signatures: false,
            max_age: None,
            reuse_same_content: false,
            manual_forbidden_for: vec![Impact::Medium, Impact::High],
            ci_required_for: vec![],
        }
    }
}

/// What the checkout says about one script (read at the edge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutFacts {
    /// The script's digest; `None` when the file is not in the checkout.
    pub script_digest: Option<Sha256Digest>,
    /// The digest over the script's test files, as the proof generator computes it;
    /// `None` when it could not be computed (a test file is missing).
    pub tests_digest: Option<Sha256Digest>,
    /// Declared test files that do not exist.
    pub missing_test_files: Vec<String>,
}

/// One proof as found on disk or in an artifact: the raw bytes, never parsed before the
/// signature (when required) is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofInput {
    /// The script id from the file name (`proof-<ID>.json`).
    pub script_id: String,
    /// Where it came from (for the report).
    pub origin: String,
    /// The proof bytes, or why they could not be read.
    pub json: Result<Vec<u8>, String>,
    /// The envelope bytes (`proof-<ID>.dsse.json`), if present, or why it could not be
    /// read.
    pub dsse: Option<Result<Vec<u8>, String>>,
}

/// The payload of an envelope whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// The key id that signed it.
    pub keyid: String,
}

/// Why an envelope did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeFailure {
    /// Not a DSSE envelope, or the signature does not verify.
    Invalid(String),
    /// Signed only by keys that are not trusted.
    Untrusted(String),
}

/// Checks a DSSE envelope against the trusted keys.
pub trait EnvelopeVerifier {
    /// Verifies `envelope` (its JSON bytes) and returns the signed payload.
    fn verify(&self, envelope: &[u8]) -> Result<VerifiedEnvelope, EnvelopeFailure>;
}

/// Everything the gate decides on.
pub struct GateInput<'a> {
    /// The scripts of the model.
    pub scripts: &'a [GateScript],
    /// The policy.
    pub policy: &'a GatePolicy,
    /// Checkout facts by script id.
    pub facts: &'a HashMap<String, CheckoutFacts>,
    /// Every proof found (several per script when shards or runs overlap).
    pub proofs: &'a [ProofInput],
    /// Envelope verification against the trusted keys.
    pub verifier: &'a (dyn EnvelopeVerifier + Sync),
    /// The commit under test.
    pub commit: Option<&'a str>,
    /// Apply release rules.
    pub release: bool,
    /// The time to judge ages against.
    pub now: DateTime<Utc>,
}

/// A row's outcome before it is dressed as a [`ScriptReport`].
struct Outcome {
    reason: Reason,
    message: String,
    proof: Option<ProofRef>,
}

impl Outcome {
    fn deny(reason: Reason, message: String, proof: Option<ProofRef>) -> Self {
        Self {
            reason,
            message,
            proof,
        }
    }
}

/// Runs the gate.
pub fn evaluate(input: &GateInput<'_>) -> Report {
    let mut by_id: HashMap<&str, Vec<&ProofInput>> = HashMap::new();
    for p in input.proofs {
        by_id.entry(p.script_id.as_str()).or_default().push(p);
    }
    let known: std::collections::HashSet<&str> =
        input.scripts.iter().map(|s| s.id.as_str()).collect();
    let mut unknown: Vec<UnknownProof> = input
        .proofs
        .iter()
        .filter(|p| !known.contains(p.script_id.as_str()))
        .map(|p| UnknownProof {
            file: p.origin.clone(),
            script_id: p.script_id.clone(),
        })
        .collect();
    unknown.sort_by(|a, b| (&a.script_id, &a.file).cmp(&(&b.script_id, &b.file)));

    let mut counts = Counts {
        scripts: input.scripts.len(),
        unknown_proofs: unknown.len(),
        ..Counts::default()
    };
    // Judging is independent per script (signature checks dominate): split the scripts
    // over the available cores.
    let judged: Vec<(Reason, ScriptReport)> =
        par_map(input.scripts, threads_for(input.scripts.len(), 256), |s| {
            judge_script(s, &by_id, input)
        });
    let mut rows = Vec::with_capacity(judged.len());
    for (reason, row) in judged {
        if reason.passes() {
            counts.passed += 1;
            match reason {
                Reason::CiProof => counts.ci += 1,
                Reason::CiReused => {
                    counts.ci += 1;
                    counts.reused += 1
                }
                Reason::DeclaredOk => counts.declared += 1,
                Reason::ManualOk => counts.manual += 1,
                _ => {}
            }
        } else {
            counts.failed += 1;
        }
        rows.push(row);
    }
    rows.sort_by(|a, b| {
        (a.verdict == Verdict::Pass, &a.id).cmp(&(b.verdict == Verdict::Pass, &b.id))
    });
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        verdict: if counts.failed == 0 {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        commit: input.commit.map(str::to_owned),
        release: input.release,
        signatures_required: input.policy.require_signatures,
        checked_at: input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        counts,
        scripts: rows,
        unknown_proofs: unknown,
    }
}

fn judge_script(
    s: &GateScript,
    by_id: &HashMap<&str, Vec<&ProofInput>>,
    input: &GateInput<'_>,
) -> (Reason, ScriptReport) {
    let empty = CheckoutFacts::default();
    let facts = input.facts.get(&s.id).unwrap_or(&empty);
    let required = required_evidence(s, input.policy, input.release);
    let proofs = by_id.get(s.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
    let out = match required {
        None => Outcome::deny(
            Reason::EvidenceUndeclared,
            format!(
                "`{}` declares no `test.evidence`; add `ci`, `declared` or `manual` to its header",
                s.path
            ),
            None,
        ),
        Some(Evidence::Manual) => judge_manual(s, input.policy),
        Some(Evidence::Declared) => judge_declared(s, facts),
        Some(Evidence::Ci) => judge_ci(s, facts, proofs, input),
    };
    let verdict = if out.reason.passes() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    (
        out.reason,
        ScriptReport {
            id: s.id.clone(),
            path: s.path.clone(),
            line: s.header_line,
            evidence: s.evidence.map(|e| e.as_str().to_owned()),
            required_evidence: required.map(|e| e.as_str().to_owned()),
            verdict,
            reason: out.reason,
            message: out.message,
            proof: out.proof,
        },
    )
}

/// Under `--release`, maturity-3 and medium/high-impact scripts need `ci` whatever their
/// header says; so do scripts whose impact is in the policy's `ci_required_for`.
pub fn required_evidence(s: &GateScript, policy: &GatePolicy, release: bool) -> Option<Evidence> {
    if s.production_impact
        .is_some_and(|i| policy.ci_required_for.contains(&i))
    {
        return Some(Evidence::Ci);
    }
    if release
        && (s.maturity == Some(3)
            || matches!(s.production_impact, Some(Impact::Medium | Impact::High)))
    {
        return Some(Evidence::Ci);
    }
    s.evidence
}

fn judge_manual(s: &GateScript, policy: &GatePolicy) -> Outcome {
    let impact = s.production_impact;
    let forbidden = match impact {
        Some(i) => policy.manual_forbidden_for.contains(&i),
        // Unknown impact: fail closed unless the policy forbids nothing.
        None => !policy.manual_forbidden_for.is_empty(),
    };
    if forbidden {
        Outcome::deny(
            Reason::ManualNotAllowed,
            format!(
                "`{}` has {} production impact, where manual evidence is not allowed; \
                 change `test.evidence` to `ci` and add tests",
                s.path,
                impact.map_or("undeclared", Impact::as_str)
            ),
            None,
        )
    } else {
        Outcome::deny(
            Reason::ManualOk,
            format!(
                "manual evidence accepted for {} production impact",
                impact.map_or("undeclared", Impact::as_str)
            ),
            None,
        )
    }
}

fn judge_declared(s: &GateScript, facts: &CheckoutFacts) -> Outcome {
    if let Some(missing) = facts.missing_test_files.first() {
        return Outcome::deny(
            Reason::TestFileMissing,
            format!(
                "declared test file `{missing}` of `{}` does not exist; fix the header's \
                 `test.command` or add the file",
                s.path
            ),
            None,
        );
    }
    Outcome::deny(
        Reason::DeclaredOk,
        format!(
            "declared evidence: {} test file(s) exist",
            s.test_files.len()
        ),
        None,
    )
}

/// How well a candidate fared: passes beat failures; among failures, a proof for the
/// current commit explains more than one for another commit.
fn rank(o: &Outcome, same_commit: bool) -> u8 {
    match (o.reason, same_commit) {
        (Reason::CiProof, _) => 0,
        (Reason::CiReused, _) => 1,
        (_, true) => 2,
        (_, false) => 3,
    }
}

fn judge_ci(
    s: &GateScript,
    facts: &CheckoutFacts,
    proofs: &[&ProofInput],
    input: &GateInput<'_>,
) -> Outcome {
    if facts.script_digest.is_none() {
        return Outcome::deny(
            Reason::ScriptMissing,
            format!("`{}` is not in the checkout", s.path),
            None,
        );
    }
    if let Some(missing) = facts.missing_test_files.first() {
        return Outcome::deny(
            Reason::TestFileMissing,
            format!(
                "declared test file `{missing}` of `{}` does not exist; fix the header's \
                 `test.command` or add the file",
                s.path
            ),
            None,
        );
    }
    if proofs.is_empty() {
        let why = if s.evidence == Some(Evidence::Ci) {
            ""
        } else if input.release {
            " (a release requires CI evidence for maturity-3 and medium/high-risk scripts)"
        } else {
            " (the policy's `ci_required_for` requires CI evidence at this production impact)"
        };
        return Outcome::deny(
            Reason::ProofMissing,
            format!(
                "no proof `proof-{}.json` found for `{}`{why}; run its tests in CI with \
                 `proofgate generate` and upload the proofs",
                s.id, s.path
            ),
            None,
        );
    }
    let mut best: Option<(u8, Outcome)> = None;
    for p in proofs {
        let (out, same_commit) = judge_one(s, facts, p, input);
        let r = rank(&out, same_commit);
        if best.as_ref().is_none_or(|(br, _)| r < *br) {
            best = Some((r, out));
        }
    }
    match best {
        Some((_, o)) => o,
        None => Outcome::deny(Reason::ProofMissing, "no proof".into(), None),
    }
}

/// The digest a statement or proof writes as `sha256:<hex>` or bare hex.
fn parse_digest(v: Option<&Value>) -> Option<Sha256Digest> {
    let s = v?.as_str()?;
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    Sha256Digest::from_hex(hex).ok()
}

/// The proof-file digest carried in the statement's `proofgate` extension
/// (`predicate.proofgate.proof.digest`).
fn statement_proof_digest(stmt: &Value) -> Option<Sha256Digest> {
    let ext = stmt.get("predicate")?.get("proofgate")?;
    parse_digest(ext.get("proof")?.get("digest"))
}

fn judge_one(
    s: &GateScript,
    facts: &CheckoutFacts,
    p: &ProofInput,
    input: &GateInput<'_>,
) -> (Outcome, bool) {
    let mut pref = ProofRef {
        file: p.origin.clone(),
        commit: None,
        generated_at: None,
        keyid: None,
        reused: false,
    };
    let bytes = match &p.json {
        Ok(b) => b,
        Err(e) => {
            return (
                Outcome::deny(
                    Reason::ProofUnreadable,
                    format!("proof `{}` could not be read: {e}", p.origin),
                    Some(pref),
                ),
                false,
            );
        }
    };

    // 1. The signature, before anything in the proof is believed.
    if input.policy.require_signatures {
        let env = match &p.dsse {
            None => {
                return (
                    Outcome::deny(
                        Reason::SignatureMissing,
                        format!(
                            "signatures are required but `{}` has no envelope \
                             `proof-{}.dsse.json`; pass `--signing-key` to `proofgate generate`",
                            p.origin, s.id
                        ),
                        Some(pref),
                    ),
                    false,
                );
            }
            Some(Err(e)) => {
                return (
                    Outcome::deny(
                        Reason::SignatureInvalid,
                        format!("the envelope of `{}` could not be read: {e}", p.origin),
                        Some(pref),
                    ),
                    false,
                );
            }
            Some(Ok(b)) => b,
        };
        let verified = match input.verifier.verify(env) {
            Ok(v) => v,
            Err(EnvelopeFailure::Invalid(why)) => {
                return (
                    Outcome::deny(
                        Reason::SignatureInvalid,
                        format!("the signature on `{}` does not verify: {why}", p.origin),
                        Some(pref),
                    ),
                    false,
                );
            }
            Err(EnvelopeFailure::Untrusted(keyid)) => {
                return (
                    Outcome::deny(
                        Reason::KeyUntrusted,
                        format!(
                            "`{}` is signed by key `{keyid}`, which is not among the trusted \
                             keys; add it to `trusted_keys` in proofgate.yaml if it should be",
                            p.origin
                        ),
                        Some(pref),
                    ),
                    false,
                );
            }
        };
        pref.keyid = Some(verified.keyid.clone());
        let stmt: Value = match serde_json::from_slice(&verified.payload) {
            Ok(v) => v,
            Err(e) => {
                return (
                    Outcome::deny(
                        Reason::StatementMismatch,
                        format!("the signed payload of `{}` is not JSON: {e}", p.origin),
                        Some(pref),
                    ),
                    false,
                );
            }
        };
        let file_digest = Sha256Digest::of(bytes);
        if statement_proof_digest(&stmt) != Some(file_digest) {
            return (
                Outcome::deny(
                    Reason::StatementMismatch,
                    format!(
                        "`{}` is not the proof that was signed (its sha256 is {file_digest}); \
                         it was changed after signing",
                        p.origin
                    ),
                    Some(pref),
                ),
                false,
            );
        }
        let subject = stmt
            .get("subject")
            .and_then(Value::as_array)
            .and_then(|a| a.first());
        let subject_name = subject.and_then(|x| x.get("name")).and_then(Value::as_str);
        let subject_digest = parse_digest(
            subject
                .and_then(|x| x.get("digest"))
                .and_then(|d| d.get("sha256")),
        );
        if subject_name != Some(s.path.as_str()) {
            return (
                Outcome::deny(
                    Reason::StatementMismatch,
                    format!(
                        "the signed statement of `{}` is about `{}`, not `{}`",
                        p.origin,
                        subject_name.unwrap_or("nothing"),
                        s.path
                    ),
                    Some(pref),
                ),
                false,
            );
        }
        // The subject digest is compared with the proof's script digest below, once
        // the (now authenticated) proof is parsed.
        return judge_parsed(s, facts, p, input, bytes, pref, subject_digest);
    }
    judge_parsed(s, facts, p, input, bytes, pref, None)
}

#[allow(clippy::too_many_arguments)]
fn judge_parsed(
    s: &GateScript,
    facts: &CheckoutFacts,
    p: &ProofInput,
    input: &GateInput<'_>,
    bytes: &[u8],
    mut pref: ProofRef,
    subject_digest: Option<Sha256Digest>,
) -> (Outcome, bool) {
    let deny = |r: Reason, m: String, pref: &ProofRef, same: bool| {
        (Outcome::deny(r, m, Some(pref.clone())), same)
    };
    let proof: Value = match serde_json::from_slice(bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return deny(
                Reason::ProofUnreadable,
                format!("`{}` is not a JSON object", p.origin),
                &pref,
                false,
            );
        }
        Err(e) => {
            return deny(
                Reason::ProofUnreadable,
                format!(
                    "`{}` is not valid JSON (line {}, column {}): {e}",
                    p.origin,
                    e.line(),
                    e.column()
                ),
                &pref,
                false,
            );
        }
    };
    let str_field = |k: &str| proof.get(k).and_then(Value::as_str).map(str::to_owned);
    pref.commit = str_field("commit_sha");
    pref.generated_at = str_field("generated_at");
    let same_commit = match (input.commit, pref.commit.as_deref()) {
        (Some(c), Some(pc)) => c.eq_ignore_ascii_case(pc),
        _ => false,
    };

    if str_field("script_id").as_deref() != Some(s.id.as_str()) {
        return deny(
            Reason::ProofIdMismatch,
            format!(
                "`{}` is named for `{}` but its `script_id` is `{}`",
                p.origin,
                s.id,
                str_field("script_id").unwrap_or_else(|| "missing".into())
            ),
            &pref,
            same_commit,
        );
    }
    let proof_script_digest = parse_digest(proof.get("script_digest"));
    if let Some(sd) = subject_digest
        && Some(sd) != proof_script_digest
    {
        return deny(
            Reason::StatementMismatch,
            format!(
                "the signed statement of `{}` names script digest {sd}, the proof another",
                p.origin
            ),
            &pref,
            same_commit,
        );
    }
    match str_field("verdict").as_deref() {
        Some("PASS") => {}
        other => {
            let failed = proof
                .get("test_summary")
                .and_then(|t| Some((t.get("failed")?.as_u64()?, t.get("errors")?.as_u64()?)));
            let mut detail = match failed {
                Some((f, e)) => format!(" ({f} failed, {e} errors)"),
                None => String::new(),
            };
            let reasons: Vec<&str> = proof
                .get("reasons")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !reasons.is_empty() {
                detail.push_str(&format!(" [{}]", reasons.join(", ")));
            }
            return deny(
                Reason::VerdictFail,
                format!(
                    "the tests of `{}` did not pass: verdict {}{detail} in `{}`",
                    s.path,
                    other.unwrap_or("missing"),
                    p.origin
                ),
                &pref,
                same_commit,
            );
        }
    }
    let checkout_script = facts.script_digest;
    let digests_equal = proof_script_digest.is_some() && proof_script_digest == checkout_script;
    let tests_equal = {
        let pt = parse_digest(proof.get("tests_digest"));
        pt.is_some() && pt == facts.tests_digest
    };
    if !same_commit {
        let reusable = input.policy.reuse_same_content && digests_equal && tests_equal;
        if !reusable {
            let hint = if input.policy.reuse_same_content {
                " and its script or tests changed since"
            } else {
                ""
            };
            return deny(
                Reason::CommitMismatch,
                format!(
                    "`{}` was made for commit `{}`, not `{}`{hint}; rerun the tests for this commit",
                    p.origin,
                    pref.commit.as_deref().unwrap_or("unknown"),
                    input.commit.unwrap_or("unknown")
                ),
                &pref,
                false,
            );
        }
        pref.reused = true;
    }
    if !digests_equal {
        return deny(
            Reason::ScriptDigestMismatch,
            format!(
                "`{}` changed after its proof was made: the checkout has {}, the proof {}",
                s.path,
                checkout_script.map_or_else(|| "nothing".into(), |d| d.to_string()),
                proof_script_digest.map_or_else(|| "no digest".into(), |d| d.to_string()),
            ),
            &pref,
            same_commit,
        );
    }
    if !tests_equal {
        return deny(
            Reason::TestsDigestMismatch,
            format!(
                "the test files of `{}` changed after its proof was made; rerun them",
                s.path
            ),
            &pref,
            same_commit,
        );
    }
    let files_with_results: std::collections::HashSet<&str> = proof
        .get("tests")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("file").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let produced = |declared: &str| {
        files_with_results.contains(declared)
            || files_with_results.iter().any(|f| {
                f.strip_prefix(declared)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    };
    if let Some(silent) = s.test_files.iter().find(|f| !produced(f.as_str())) {
        return deny(
            Reason::TestFileNoResults,
            format!(
                "declared test file `{silent}` of `{}` produced no results in `{}`; check \
                 that CI runs it and writes its JUnit report",
                s.path, p.origin
            ),
            &pref,
            same_commit,
        );
    }
    if let Some(max) = input.policy.max_age {
        let at = pref
            .generated_at
            .as_deref()
            .and_then(|g| DateTime::parse_from_rfc3339(g).ok())
            .map(|d| d.with_timezone(&Utc));
        let age = at.map(|a| input.now.signed_duration_since(a));
        let max_c = chrono::Duration::from_std(max).unwrap_or(chrono::Duration::MAX);
        match age {
            Some(a) if a <= max_c => {}
            _ => {
                return deny(
                    Reason::ProofStale,
                    format!(
                        "`{}` was generated at {}, older than the allowed {}s; rerun the tests",
                        p.origin,
                        pref.generated_at.as_deref().unwrap_or("an unknown time"),
                        max.as_secs()
                    ),
                    &pref,
                    same_commit,
                );
            }
        }
    }
    if pref.reused {
        let m = format!(
            "reused the PASS proof of commit `{}`: script and tests are unchanged",
            pref.commit.as_deref().unwrap_or("unknown")
        );
        (Outcome::deny(Reason::CiReused, m, Some(pref)), false)
    } else {
        let m = match &pref.keyid {
            Some(k) => format!("PASS proof for this commit, signed by `{k}`"),
            None => "PASS proof for this commit".to_owned(),
        };
        (Outcome::deny(Reason::CiProof, m, Some(pref)), true)
    }
}

/// Sorted counts of reasons, for summaries.
pub fn reason_histogram(report: &Report) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for r in &report.scripts {
        *m.entry(r.reason.code()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;

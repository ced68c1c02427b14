//! The pure gate: values in (scripts, policy, checkout facts, proof bytes, a signature
//! verifier, `now`), a [`Report`] out. No file, network or clock access.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::report::{
    Counts, PolicySource, ProofRef, REPORT_SCHEMA_VERSION, Reason, Report, ScriptReport,
    Signatures, UnknownProof, Verdict,
};
use crate::digest::Sha256Digest;
use crate::par::{par_map, threads_for};

pub use crate::model::{Evidence, Impact};

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
    /// Lint errors found in the script's header or configuration entry: each is a gate
    /// error.
    pub lint_errors: Vec<String>,
    /// Where the change under test loosened the script's header; the stricter (base)
    /// value is already applied to the fields above.
    pub downgrades: Vec<String>,
}

/// The policy knobs the gate applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePolicy {
    /// Signatures from a trusted key are required (unless the base policy says
    /// `signatures: none`).
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
            require_signatures: true,
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

impl ProofInput {
    /// The envelope that belongs beside this proof (`….dsse.json`).
    pub fn envelope_name(&self) -> String {
        let stem = self.origin.strip_suffix(".json").unwrap_or(&self.origin);
        format!("{stem}.dsse.json")
    }
}

/// The payload of an envelope whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// The envelope's `payloadType` (covered by the signature).
    pub payload_type: String,
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
    /// The repository under test (`owner/name`): a proof that names another is denied.
    pub repository: Option<&'a str>,
    /// Apply release rules.
    pub release: bool,
    /// The time to judge ages against.
    pub now: DateTime<Utc>,
    /// Where the policy came from, for the report.
    pub policy_source: &'a PolicySource,
    /// Lint errors that belong to no script of the model: each fails the gate.
    pub lint_errors: &'a [String],
}

/// A row's outcome before it is dressed as a [`ScriptReport`].
pub(super) struct Outcome {
    pub(super) reason: Reason,
    pub(super) message: String,
    pub(super) proof: Option<ProofRef>,
    pub(super) combined: Vec<ProofRef>,
}

impl Outcome {
    /// An outcome with `reason` (passing or not: [`Reason::passes`] decides).
    pub(super) fn new(reason: Reason, message: String, proof: Option<ProofRef>) -> Self {
        Self {
            reason,
            message,
            proof,
            combined: Vec::new(),
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
    let mut lint_errors = input.lint_errors.to_vec();
    lint_errors.sort();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        verdict: if counts.failed == 0 && lint_errors.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        commit: input.commit.map(str::to_owned),
        release: input.release,
        signatures_required: input.policy.require_signatures,
        signatures: if input.policy.require_signatures {
            Signatures::Required
        } else {
            Signatures::None
        },
        policy: input.policy_source.clone(),
        lint_errors,
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
    let out = if !s.lint_errors.is_empty() {
        Outcome::new(
            Reason::LintError,
            format!(
                "`{}` has {} lint error(s): {}; run `proofgate lint` and fix them",
                s.path,
                s.lint_errors.len(),
                s.lint_errors.join("; ")
            ),
            None,
        )
    } else {
        match required {
            None => Outcome::new(
                Reason::EvidenceUndeclared,
                format!(
                    "`{}` declares no `test.evidence`; add `ci`, `declared` or `manual` to its header",
                    s.path
                ),
                None,
            ),
            Some(Evidence::Manual) => judge_manual(s, input.policy),
            Some(Evidence::Declared) => judge_declared(s, facts),
            Some(Evidence::Ci) => super::combine::judge_ci(s, facts, proofs, input),
        }
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
            combined: out.combined,
            downgrades: s.downgrades.clone(),
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
        Outcome::new(
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
        Outcome::new(
            Reason::ManualOk,
            format!(
                "manual evidence accepted for {} production impact",
                impact.map_or("undeclared", Impact::as_str)
            ),
            None,
        )
    }
}

/// Denies when a declared test file is not in the checkout (for `declared` and `ci`).
pub(super) fn missing_test_file(s: &GateScript, facts: &CheckoutFacts) -> Option<Outcome> {
    facts.missing_test_files.first().map(|missing| {
        Outcome::new(
            Reason::TestFileMissing,
            format!(
                "declared test file `{missing}` of `{}` does not exist; fix the header's \
                 `test.command` or add the file",
                s.path
            ),
            None,
        )
    })
}

fn judge_declared(s: &GateScript, facts: &CheckoutFacts) -> Outcome {
    if let Some(o) = missing_test_file(s, facts) {
        return o;
    }
    Outcome::new(
        Reason::DeclaredOk,
        format!(
            "declared evidence: {} test file(s) exist",
            s.test_files.len()
        ),
        None,
    )
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

//! The pure gate: values in (scripts, policy, checkout facts, proof bytes, a signature
//! verifier, `now`), a [`Report`] out. No file, network or clock access.

use std::collections::{BTreeMap, HashMap};

use super::input::Outcome;
use super::input::missing_test_file;
pub use super::input::{
    CheckoutFacts, EnvelopeFailure, EnvelopeVerifier, GateInput, GatePolicy, GateScript,
    ProofInput, VerifiedEnvelope,
};
use super::report::{
    Counts, REPORT_SCHEMA_VERSION, Reason, Report, ScriptReport, Signatures, UnknownProof, Verdict,
};
use crate::par::{par_map, threads_for};

pub use crate::model::{Evidence, Impact};

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
                Reason::CiProof | Reason::CiLocked => counts.ci += 1,
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
            Some(Evidence::Ci) => match input.lock {
                Some(lock) => super::locked::judge(s, facts, lock, input),
                None => super::combine::judge_ci(s, facts, proofs, input),
            },
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
            warnings: out.warnings,
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

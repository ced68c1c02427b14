//! A `ci` script's evidence, combined: every proof of the script is authenticated; the
//! proofs for the commit under test are grouped by producer (repository, workflow, run,
//! job, shard), the latest attempt of each producer is kept (GitHub's re-run semantics),
//! and the script passes only if every kept proof passed and together they gave results
//! for every declared test file. Proofs are never chosen: a passing proof cannot hide a
//! failing one, and a proof for another commit is considered only when there is none for
//! this commit (content-addressed reuse).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::evidence::{Accepted, accept};
use super::input::{CheckoutFacts, GateInput, GateScript, Outcome, ProofInput, missing_test_file};
use super::report::{ProofRef, Reason};
use crate::model::{Evidence, FlakyPolicy};
use crate::proof::record::Verdict as ProofVerdict;

/// Who made a proof: two proofs with the same key are attempts of one job leg.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Producer {
    repository: Option<String>,
    workflow: Option<String>,
    run_id: Option<String>,
    job: Option<String>,
    shard: Option<String>,
}

fn producer_of(a: &Accepted) -> (Producer, u64) {
    let c = &a.proof.context;
    let attempt = c
        .run_attempt
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        Producer {
            repository: c.repository.as_ref().map(|r| r.to_ascii_lowercase()),
            workflow: c.workflow_ref.clone().or_else(|| c.workflow.clone()),
            run_id: c.run_id.clone(),
            job: c.job.clone(),
            shard: c.shard.clone(),
        },
        attempt,
    )
}

/// Judges a `ci` script on all its proofs.
pub(super) fn judge_ci(
    s: &GateScript,
    facts: &CheckoutFacts,
    proofs: &[&ProofInput],
    input: &GateInput<'_>,
) -> Outcome {
    if facts.script_digest.is_none() {
        return Outcome::new(
            Reason::ScriptMissing,
            format!("`{}` is not in the checkout", s.path),
            None,
        );
    }
    if let Some(o) = missing_test_file(s, facts) {
        return o;
    }
    if proofs.is_empty() {
        let why = if s.evidence == Some(Evidence::Ci) {
            ""
        } else if input.release {
            " (a release requires CI evidence for maturity-3 and medium/high-risk scripts)"
        } else {
            " (the policy's `ci_required_for` requires CI evidence at this production impact)"
        };
        return Outcome::new(
            Reason::ProofMissing,
            format!(
                "no proof `proof-{}.json` found for `{}`{why}; run its tests in CI with \
                 `proofgate generate` and upload the proofs",
                s.id, s.path
            ),
            None,
        );
    }
    // Every proof must authenticate: an unreadable, unsigned or forged proof beside a
    // good one is not ignored.
    let mut accepted = Vec::with_capacity(proofs.len());
    for p in proofs {
        match accept(s, p, input) {
            Ok(a) => accepted.push(a),
            Err(o) => return *o,
        }
    }
    let (current, other): (Vec<Accepted>, Vec<Accepted>) = accepted
        .into_iter()
        .partition(|a| a.same_commit(input.commit));
    if !current.is_empty() {
        return judge_group(s, facts, current, input, false);
    }
    let script_equal = |a: &Accepted| Some(a.proof.script_digest) == facts.script_digest;
    let tests_equal = |a: &Accepted| Some(a.proof.tests_digest) == facts.tests_digest;
    let reusable: Vec<Accepted> = if input.policy.reuse_same_content {
        other
            .iter()
            .filter(|a| script_equal(a) && tests_equal(a))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    if !reusable.is_empty() {
        return judge_group(s, facts, reusable, input, true);
    }
    // Nothing for this commit: say what the newest proof was made for and what changed.
    let newest = other
        .iter()
        .max_by(|a, b| a.proof.generated_at.cmp(&b.proof.generated_at))
        .unwrap_or(&other[0]);
    let mut changed = Vec::new();
    if !script_equal(newest) {
        changed.push(format!("`{}`", s.path));
    }
    if !tests_equal(newest) {
        changed.push("its test files".to_owned());
    }
    let hint = match (input.policy.reuse_same_content, changed.is_empty()) {
        (true, _) => format!(
            "; {} changed since, so `reuse: same-content` does not apply",
            changed.join(" and ")
        ),
        (false, true) => "; the script and its tests are unchanged since: the base's \
                          `policy.reuse: same-content` would let this proof stand"
            .to_owned(),
        (false, false) => format!("; {} changed since", changed.join(" and ")),
    };
    Outcome::new(
        Reason::CommitMismatch,
        format!(
            "`{}` was made for commit `{}`, not `{}`{hint}; rerun the tests for this commit \
             (or pass `--commit SHA` if the commit under test is another)",
            newest.pref.file,
            newest.proof.commit_sha.as_deref().unwrap_or("unknown"),
            input.commit.unwrap_or("unknown")
        ),
        Some(newest.pref.clone()),
    )
}

/// Judges the proofs of one commit together.
fn judge_group(
    s: &GateScript,
    facts: &CheckoutFacts,
    proofs: Vec<Accepted>,
    input: &GateInput<'_>,
    reused: bool,
) -> Outcome {
    let kept = match latest_per_producer(proofs) {
        Ok(k) => k,
        Err(o) => return *o,
    };
    let refs: Vec<ProofRef> = kept
        .iter()
        .map(|a| {
            let mut p = a.pref.clone();
            p.reused = reused;
            p
        })
        .collect();
    let combined = if refs.len() > 1 {
        refs.clone()
    } else {
        Vec::new()
    };
    let denial = kept
        .iter()
        .enumerate()
        .find_map(|(i, a)| check_one(s, facts, a, input).map(|d| (i, d)))
        .or_else(|| coverage_gap(s, &kept).map(|d| (0, d)));
    match denial {
        Some((i, (reason, message))) => {
            let mut o = Outcome::new(reason, message, refs.get(i).cloned());
            o.combined = combined;
            o
        }
        None => {
            let mut o = passing(&kept, refs, combined, reused);
            warn_flaky(&mut o, &kept, input);
            o
        }
    }
}

/// Under `policy.flaky: warn`, a passing outcome notes the kept proofs' flaky tests.
pub(super) fn warn_flaky(o: &mut Outcome, kept: &[Accepted], input: &GateInput<'_>) {
    let (mut n, mut names) = (0u64, Vec::new());
    for a in kept {
        let (k, ns) = flaky_tests(&a.proof);
        n = n.saturating_add(k);
        names.extend(ns);
    }
    if n > 0 && input.policy.flaky == FlakyPolicy::Warn {
        let note = format!("{}, allowed by `policy.flaky: warn`", flaky_note(n, &names));
        o.message.push_str(&format!("; warning: {note}"));
        o.warnings.push(note);
    }
}

/// The latest attempt of each producer; two different proofs from one producer and
/// attempt are a conflict.
pub(super) fn latest_per_producer(proofs: Vec<Accepted>) -> Result<Vec<Accepted>, Box<Outcome>> {
    // The latest attempt of each producer.
    let mut latest: BTreeMap<Producer, (u64, Vec<Accepted>)> = BTreeMap::new();
    for a in proofs {
        let (key, attempt) = producer_of(&a);
        let slot = latest.entry(key).or_insert((attempt, Vec::new()));
        if attempt > slot.0 {
            *slot = (attempt, Vec::new());
        }
        if attempt == slot.0 {
            slot.1.push(a);
        }
    }
    let mut kept: Vec<Accepted> = Vec::with_capacity(latest.len());
    for (_, (_, mut group)) in latest {
        group.sort_by(|a, b| a.pref.file.cmp(&b.pref.file));
        group.dedup_by(|a, b| a.digest == b.digest);
        if group.len() > 1 {
            let mut o = Outcome::new(
                Reason::ProofConflict,
                format!(
                    "`{}` and `{}` come from the same producer ({}) and differ; one job leg \
                     writes one proof per script: give each matrix leg its own `--shard`",
                    group[0].pref.file,
                    group[1].pref.file,
                    group[0]
                        .pref
                        .producer
                        .as_deref()
                        .unwrap_or("no run recorded")
                ),
                Some(group[0].pref.clone()),
            );
            o.combined = group.into_iter().map(|a| a.pref).collect();
            return Err(Box::new(o));
        }
        kept.extend(group);
    }
    Ok(kept)
}

/// Why one kept proof does not count for `s` in this checkout, if it does not.
pub(super) fn check_one(
    s: &GateScript,
    facts: &CheckoutFacts,
    a: &Accepted,
    input: &GateInput<'_>,
) -> Option<(Reason, String)> {
    let p = &a.proof;
    if p.verdict != ProofVerdict::Pass {
        let mut detail = format!(
            " ({} failed, {} errors)",
            p.test_summary.failed, p.test_summary.errors
        );
        if !p.reasons.is_empty() {
            let codes: Vec<&str> = p.reasons.iter().map(|r| r.code.as_str()).collect();
            detail.push_str(&format!(" [{}]", codes.join(", ")));
        }
        let failing: Vec<&str> = p
            .tests
            .iter()
            .filter(|t| {
                matches!(
                    t.status,
                    crate::junit::Status::Failed | crate::junit::Status::Error
                )
            })
            .take(3)
            .map(|t| t.name.as_str())
            .collect();
        if !failing.is_empty() {
            detail.push_str(&format!("; failing: {}", failing.join(", ")));
        }
        return Some((
            Reason::VerdictFail,
            format!(
                "the tests of `{}` did not pass: verdict FAIL{detail} in `{}`{}",
                s.path,
                a.pref.file,
                a.pref
                    .producer
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
        ));
    }
    let (n, names) = flaky_tests(p);
    if n > 0 && input.policy.flaky == FlakyPolicy::Deny {
        return Some((
            Reason::FlakyDenied,
            format!(
                "{} in `{}` for `{}`, and the policy says `flaky: deny`; fix the flakiness \
                 and rerun the tests",
                flaky_note(n, &names),
                a.pref.file,
                s.path,
            ),
        ));
    }
    if Some(p.script_digest) != facts.script_digest {
        return Some((
            Reason::ScriptDigestMismatch,
            format!(
                "`{}` changed after its proof was made: the checkout has {}, `{}` {}",
                s.path,
                facts
                    .script_digest
                    .map_or_else(|| "nothing".into(), |d| d.to_string()),
                a.pref.file,
                p.script_digest
            ),
        ));
    }
    if Some(p.tests_digest) != facts.tests_digest {
        return Some((
            Reason::TestsDigestMismatch,
            format!(
                "the test files of `{}` changed after `{}` was made; rerun them",
                s.path, a.pref.file
            ),
        ));
    }
    if let Some(max) = input.policy.max_age {
        let at = DateTime::parse_from_rfc3339(&p.generated_at)
            .ok()
            .map(|d| d.with_timezone(&Utc));
        let max_c = chrono::Duration::from_std(max).unwrap_or(chrono::Duration::MAX);
        if at.is_none_or(|a| input.now.signed_duration_since(a) > max_c) {
            return Some((
                Reason::ProofStale,
                format!(
                    "`{}` was generated at {}, older than the allowed {}s; rerun the tests",
                    a.pref.file,
                    p.generated_at,
                    max.as_secs()
                ),
            ));
        }
    }
    None
}

/// How many tests of a proof passed only on a retry, and the first few names. The count
/// is the larger of the proof's `flaky` field and its tests whose status is `flaky`, so
/// that neither can hide one.
fn flaky_tests(p: &crate::proof::Proof) -> (u64, Vec<&str>) {
    let names: Vec<&str> = p
        .tests
        .iter()
        .filter(|t| t.status == crate::junit::Status::Flaky)
        .map(|t| t.name.as_str())
        .collect();
    ((names.len() as u64).max(p.flaky), names)
}

/// `n` flaky tests named by the first three of `names`.
fn flaky_note(n: u64, names: &[&str]) -> String {
    let shown: Vec<&str> = names.iter().take(3).copied().collect();
    let more = if n > shown.len() as u64 { ", …" } else { "" };
    format!(
        "{n} test(s) passed only on a retry ({}{more})",
        shown.join(", ")
    )
}

/// Together, the kept proofs must have results from every declared test file (or from
/// a file inside a declared folder).
pub(super) fn coverage_gap(s: &GateScript, kept: &[Accepted]) -> Option<(Reason, String)> {
    let files_with_results: BTreeSet<&str> = kept
        .iter()
        .flat_map(|a| a.proof.tests.iter().filter_map(|t| t.file.as_deref()))
        .collect();
    let produced = |declared: &str| {
        let dir = format!("{declared}/");
        files_with_results.contains(declared)
            || files_with_results
                .range(dir.as_str()..)
                .next()
                .is_some_and(|f| f.starts_with(&dir))
    };
    if let Some(silent) = s.test_files.iter().find(|f| !produced(f.as_str())) {
        let from = if kept.len() == 1 {
            format!("`{}`", kept[0].pref.file)
        } else {
            format!("any of its {} proofs", kept.len())
        };
        return Some((
            Reason::TestFileNoResults,
            format!(
                "declared test file `{silent}` of `{}` produced no results in {from}; check \
                 that CI runs it and writes its JUnit report",
                s.path
            ),
        ));
    }
    None
}

/// The passing outcome: how many proofs, who signed, reused or not.
fn passing(
    kept: &[Accepted],
    refs: Vec<ProofRef>,
    combined: Vec<ProofRef>,
    reused: bool,
) -> Outcome {
    let signed = kept
        .first()
        .and_then(|a| a.pref.keyid.as_deref())
        .map(|k| format!(", signed by `{k}`"))
        .unwrap_or_default();
    let many = if kept.len() > 1 {
        format!(
            "{} PASS proofs (every job leg's latest attempt)",
            kept.len()
        )
    } else {
        "PASS proof".to_owned()
    };
    if reused {
        let commit = kept
            .first()
            .and_then(|a| a.proof.commit_sha.as_deref())
            .unwrap_or("unknown");
        let mut o = Outcome::new(
            Reason::CiReused,
            format!(
                "reused the {many} of commit `{commit}`{signed}: script and tests are unchanged"
            ),
            refs.first().cloned(),
        );
        o.combined = combined;
        o
    } else {
        let mut o = Outcome::new(
            Reason::CiProof,
            format!("{many} for this commit{signed}"),
            refs.first().cloned(),
        );
        o.combined = combined;
        o
    }
}

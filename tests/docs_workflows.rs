//! The documentation is executable: every workflow in README.md, docs/*.md and
//! examples/*.yml runs under act against a small fixture repository
//! (`tests/fixtures/docs_workflows/repo`: three scripts with headers and their pytest
//! tests), and the gate's outputs, JSON report and exit code are checked. A workflow is
//! left out only with a visible marker and a reason (see `docs_workflows/extract.rs`); one
//! that is neither run here nor marked fails `every_documented_workflow_is_run_or_opted_out`.
//!
//! The scenarios are separate tests so that they run in parallel; each is one act run of a
//! few seconds. How a documented workflow is adapted to run here (and nothing more) is
//! written at the top of `docs_workflows/harness.rs`.

#[path = "gate/common.rs"]
mod common;
#[path = "docs_workflows/extract.rs"]
mod extract;
#[path = "docs_workflows/harness.rs"]
mod harness;

use extract::Workflow;
use harness::{Event, Run, SCRIPTS, peers, run_workflow};

/// The workflows the scenarios below run, as (source, ordinal among its workflow blocks).
/// A workflow block added to the docs must get scenarios here or an opt-out marker.
const RUN: &[(&str, usize)] = &[
    // The README's quick start: one test job and `certify`.
    ("README.md", 0),
    // The Action's reference: three matrix shards and `certify`.
    ("docs/action.md", 0),
    // The complete sharded example.
    ("examples/certify.yml", 0),
];

fn workflow(source: &str, ordinal: usize) -> Workflow {
    assert!(
        RUN.contains(&(source, ordinal)),
        "{source}#{ordinal} is not in RUN"
    );
    let found = extract::all(&common::crate_root()).unwrap_or_else(|e| panic!("{e}"));
    found
        .run
        .into_iter()
        .find(|w| w.source == source && w.ordinal == ordinal)
        .unwrap_or_else(|| panic!("{source} has no workflow block #{ordinal} to run"))
}

#[test]
fn every_documented_workflow_is_run_or_opted_out() {
    let found = extract::all(&common::crate_root()).unwrap_or_else(|e| panic!("{e}"));
    for o in &found.opted_out {
        eprintln!(
            "not run under act: {}#{} (marker at line {}): {}",
            o.source, o.ordinal, o.line, o.reason
        );
    }
    let unrun: Vec<String> = found
        .run
        .iter()
        .filter(|w| !RUN.contains(&(w.source.as_str(), w.ordinal)))
        .map(Workflow::label)
        .collect();
    assert!(
        unrun.is_empty(),
        "documented workflows that no scenario runs: {unrun:?}; add scenarios to \
         tests/docs_workflows.rs (and the workflow to RUN), or put \
         `<!-- not run under act: REASON -->` just above the block"
    );
    for &(source, ordinal) in RUN {
        assert!(
            found
                .run
                .iter()
                .any(|w| w.source == source && w.ordinal == ordinal),
            "RUN names {source}#{ordinal}, which is not a workflow block that runs (moved, \
             removed or opted out?)"
        );
    }
    // At least the README's, the Action reference's and the example's.
    assert!(found.run.len() >= 3, "{:?}", found.run);
}

/// Every script passed on a signed proof of this commit, judged by the base's policy when
/// the event has a base.
fn assert_pass(r: &Run, policy_from: &str) {
    assert_eq!(r.code, Some(0), "act failed");
    assert_eq!(r.gate_exit, Some(0));
    assert_eq!(
        r.outputs.get("verdict").map(String::as_str),
        Some("pass"),
        "{:?}",
        r.outputs
    );
    assert_eq!(r.outputs.get("failed").map(String::as_str), Some("0"));
    assert_eq!(r.report["verdict"], "pass", "{}", r.report);
    assert_eq!(r.report["signatures_required"], true);
    assert_eq!(r.report["commit"], r.head.as_str(), "{}", r.report);
    assert_eq!(r.report["policy"]["from"], policy_from, "{}", r.report);
    if policy_from == "base" {
        assert_eq!(r.report["policy"]["base_commit"], r.base.as_str());
    }
    for id in SCRIPTS {
        let row = r.row(id);
        assert_eq!(row["reason"], "CI_PROOF", "{row}");
        assert!(row["proof"]["keyid"].is_string(), "signed: {row}");
    }
}

/// The test jobs failed before uploading anything: `certify` ran anyway and denied every
/// script for want of a proof, with the gate's "no" (1), not a transport fault (3).
fn assert_denied_for_missing_proofs(r: &Run) {
    assert_ne!(r.code, Some(0), "the run must fail");
    assert!(
        r.uploaded().is_empty(),
        "nothing was uploaded: {:?}",
        r.uploaded()
    );
    let errors: Vec<&str> = r.log.lines().filter(|l| l.contains("| error:")).collect();
    assert_eq!(
        r.gate_exit,
        Some(1),
        "`certify` runs (if: always()) and the gate says no with exit 1: no artifact in \
         the run means no proofs (PROOF_MISSING), not a transport fault (3); errors: {errors:#?}"
    );
    assert_eq!(
        r.outputs.get("verdict").map(String::as_str),
        Some("fail"),
        "{:?}",
        r.outputs
    );
    assert_eq!(r.report["verdict"], "fail", "{}", r.report);
    let expected: Vec<(String, String)> = SCRIPTS
        .iter()
        .map(|id| ((*id).to_owned(), "PROOF_MISSING".to_owned()))
        .collect();
    assert_eq!(r.reasons(), expected);
}

/// One script's tests failed: the gate denies that script, and only that one.
fn assert_denies_only(r: &Run, failing: &str) {
    assert_ne!(r.code, Some(0), "the run must fail");
    assert_eq!(r.gate_exit, Some(1));
    assert_eq!(
        r.outputs.get("verdict").map(String::as_str),
        Some("fail"),
        "{:?}",
        r.outputs
    );
    assert_eq!(r.outputs.get("failed").map(String::as_str), Some("1"));
    assert!(
        r.outputs
            .get("failing")
            .is_some_and(|f| f.contains(failing)),
        "`failing` names {failing}: {:?}",
        r.outputs
    );
    for id in SCRIPTS {
        let want = if id == failing {
            "VERDICT_FAIL"
        } else {
            "CI_PROOF"
        };
        assert_eq!(r.row(id)["reason"], want, "{}", r.row(id));
    }
    assert!(
        r.log
            .contains(&format!("DOCS_FAIL_SCRIPT={failing}: failing on purpose")),
        "the test failed in the run"
    );
}

/// Three legs each uploaded their own artifact.
fn assert_three_legs(r: &Run) {
    let names = r.uploaded();
    assert_eq!(names.len(), 3, "one artifact per leg: {names:?}");
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(unique, names, "every leg's artifact has its own name");
}

/// pytest-split put each script's tests in one leg: each passing proof names its own leg.
fn assert_each_script_proved_by_its_own_leg(r: &Run) {
    let mut producers: Vec<String> = SCRIPTS
        .iter()
        .map(|id| {
            r.row(id)["proof"]["producer"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        producers.iter().all(|p| p.contains(", shard ")),
        "each proof records its leg: {producers:?}"
    );
    producers.sort();
    producers.dedup();
    assert_eq!(producers.len(), 3, "three legs: {producers:?}");
}

// README.md: the quick start.

#[test]
fn readme_quick_start_pull_request_honest_passes() {
    if !peers() {
        return;
    }
    let r = run_workflow(&workflow("README.md", 0), Event::PullRequest, &[]);
    assert_pass(&r, "base");
    assert_eq!(r.uploaded(), ["proofs-test-a1"]);
}

#[test]
fn readme_quick_start_merge_group_with_a_failing_test_denies_that_script() {
    if !peers() {
        return;
    }
    let r = run_workflow(
        &workflow("README.md", 0),
        Event::MergeGroup,
        &[("DOCS_FAIL_SCRIPT", "slugify")],
    );
    assert_denies_only(&r, "slugify");
    assert_eq!(r.report["policy"]["from"], "base", "{}", r.report);
}

#[test]
fn readme_quick_start_test_job_failing_before_upload_is_denied_proof_missing() {
    if !peers() {
        return;
    }
    let r = run_workflow(
        &workflow("README.md", 0),
        Event::PullRequest,
        &[("DOCS_FAIL_SETUP", "1")],
    );
    assert_denied_for_missing_proofs(&r);
}

// examples/certify.yml: three shards split by pytest-split.

#[test]
fn example_certify_three_shards_pull_request_honest_passes() {
    if !peers() {
        return;
    }
    let r = run_workflow(
        &workflow("examples/certify.yml", 0),
        Event::PullRequest,
        &[],
    );
    assert_pass(&r, "base");
    assert_three_legs(&r);
    assert_each_script_proved_by_its_own_leg(&r);
    assert!(
        r.log.contains("gate pass, 0 denied"),
        "the example's last step reports the verdict"
    );
}

#[test]
fn example_certify_one_shard_with_a_failing_test_denies_that_script() {
    if !peers() {
        return;
    }
    let r = run_workflow(
        &workflow("examples/certify.yml", 0),
        Event::PullRequest,
        &[("DOCS_FAIL_SCRIPT", "greet")],
    );
    assert_denies_only(&r, "greet");
    assert_three_legs(&r);
}

#[test]
fn example_certify_test_jobs_failing_before_upload_are_denied_proof_missing() {
    if !peers() {
        return;
    }
    let r = run_workflow(
        &workflow("examples/certify.yml", 0),
        Event::PullRequest,
        &[("DOCS_FAIL_SETUP", "1")],
    );
    assert_denied_for_missing_proofs(&r);
}

#[test]
fn example_certify_push_to_main_honest_passes_on_its_own_policy() {
    if !peers() {
        return;
    }
    let r = run_workflow(&workflow("examples/certify.yml", 0), Event::Push, &[]);
    assert_pass(&r, "head");
    assert_three_legs(&r);
    assert_each_script_proved_by_its_own_leg(&r);
}

// docs/action.md: the Action reference's workflow.

#[test]
fn action_reference_merge_group_honest_passes() {
    if !peers() {
        return;
    }
    let r = run_workflow(&workflow("docs/action.md", 0), Event::MergeGroup, &[]);
    assert_pass(&r, "base");
    assert_three_legs(&r);
    assert_each_script_proved_by_its_own_leg(&r);
}

#[test]
fn action_reference_pull_request_with_a_failing_shard_denies_that_script() {
    if !peers() {
        return;
    }
    let r = run_workflow(
        &workflow("docs/action.md", 0),
        Event::PullRequest,
        &[("DOCS_FAIL_SCRIPT", "count")],
    );
    assert_denies_only(&r, "count");
}

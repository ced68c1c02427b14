//! The replay report as text for a person. Test names, messages and environment values
//! come from the run's output and its machine: each goes through
//! [`crate::github::log::untrusted`] before it is printed.

use std::fmt::Write as _;

use super::compare::{
    EnvironmentPart, MismatchKind, ReplayReport, ReplayStatus, TestMismatch, TestResult,
};
use crate::bundle::run::RunOutcome;
use crate::github::log::untrusted;

/// How many files of each kind of source difference the table lists.
const SOURCES_SHOWN: usize = 20;

fn outcome(o: RunOutcome) -> &'static str {
    match o {
        RunOutcome::Passed => "PASSED",
        RunOutcome::Failed => "FAILED",
        RunOutcome::TimedOut => "TIMED_OUT",
    }
}

fn result(r: Option<&TestResult>) -> String {
    match r {
        None => "(not reported)".to_owned(),
        Some(r) => match r.message.as_deref().and_then(|m| m.lines().next()) {
            Some(line) => format!("{}: {}", r.status, untrusted(line)),
            None => r.status.to_string(),
        },
    }
}

fn value(v: Option<&String>) -> String {
    v.map_or_else(|| "(unset)".to_owned(), |v| untrusted(v).into_owned())
}

fn mismatch(s: &mut String, m: &TestMismatch) {
    let what = match m.kind {
        MismatchKind::Result => "differs",
        MismatchKind::MissingInReplay => "missing in the replay",
        MismatchKind::NewInReplay => "new in the replay",
    };
    let _ = writeln!(
        s,
        "  {} ({}): {what}",
        untrusted(&m.display_name()),
        untrusted(&m.scripts.join(", "))
    );
    let _ = writeln!(s, "    recorded: {}", result(m.recorded.as_ref()));
    let _ = writeln!(s, "    replayed: {}", result(m.replayed.as_ref()));
}

/// The report as lines of text.
pub fn table(r: &ReplayReport) -> String {
    let mut s = String::new();
    let verdict = match r.status {
        ReplayStatus::Match => "MATCH",
        ReplayStatus::ReplayMismatch => "REPLAY MISMATCH",
    };
    let _ = writeln!(
        s,
        "replay of {} (bundle {}): {verdict}",
        r.recorded.commit, r.recorded.bundle_digest
    );
    let t = &r.tests;
    let _ = writeln!(
        s,
        "tests: {} recorded, {} replayed: {} matched, {} differ, {} missing in the replay, {} new",
        t.recorded, t.replayed, t.matched, t.differing, t.missing_in_replay, t.new_in_replay
    );
    let _ = writeln!(
        s,
        "outcome: {} recorded, {} replayed",
        outcome(r.recorded.outcome),
        outcome(r.replay.outcome)
    );
    if !r.seeds.is_empty() {
        let seeds: Vec<String> = r.seeds.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "seeds: {}", untrusted(&seeds.join(" ")));
    }
    let _ = writeln!(s, "replay bundle: {}", untrusted(&r.replay.bundle));
    if !r.mismatches.is_empty() {
        let _ = writeln!(s, "\ntests that differ:");
        for m in &r.mismatches {
            mismatch(&mut s, m);
        }
    }
    if let Some(d) = r.sources.as_ref().filter(|d| !d.is_empty()) {
        let _ = writeln!(s, "\nsources that differ from the recording:");
        for (what, files) in [
            ("changed", &d.changed),
            ("only in the recording", &d.removed),
            ("only in the commit", &d.added),
        ] {
            for f in files.iter().take(SOURCES_SHOWN) {
                let _ = writeln!(s, "  {what}: {}", untrusted(f));
            }
            if files.len() > SOURCES_SHOWN {
                let _ = writeln!(s, "  {what}: … and {} more", files.len() - SOURCES_SHOWN);
            }
        }
    }
    if !r.environment_recorded {
        let _ = writeln!(
            s,
            "\nthe recorded run carries no environment: differences cannot be shown"
        );
    } else if !r.environment.is_empty() {
        let _ = writeln!(s, "\nenvironment differences:");
        for d in &r.environment {
            let part = match d.part {
                EnvironmentPart::Platform => "platform",
                EnvironmentPart::Tool => "tool",
                EnvironmentPart::Env => "env",
            };
            let _ = writeln!(
                s,
                "  {part} {}: recorded {}, replayed {}",
                untrusted(&d.key),
                value(d.recorded.as_ref()),
                value(d.replayed.as_ref())
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bundle::environment::{Environment, Platform};
    use crate::digest::Sha256Digest;
    use crate::junit::Status;
    use crate::replay::compare::{RecordedSide, ReplaySide, compare_tests, tests::proof};

    #[test]
    fn a_mismatch_names_the_test_both_results_and_the_environment_key() {
        let a = [proof("lottery", &[("test_draw", Status::Passed, None)])];
        let b = [proof(
            "lottery",
            &[(
                "test_draw",
                Status::Failed,
                Some("AssertionError: stamped in Asia/Tokyo\n\u{1b}[31mmore"),
            )],
        )];
        let env = |tz: Option<&str>| Environment {
            platform: Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
                kernel: None,
            },
            tools: BTreeMap::new(),
            env: tz
                .map(|t| [("TZ".to_owned(), t.to_owned())].into())
                .unwrap_or_default(),
            named: Vec::new(),
        };
        let (ea, eb) = (env(None), env(Some("Asia/Tokyo")));
        let report = ReplayReport::new(
            RecordedSide {
                run_id: None,
                bundle_digest: Sha256Digest::of(b"b"),
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                outcome: RunOutcome::Passed,
            },
            ReplaySide {
                bundle: "test-results/replay/bundle.json".into(),
                outcome: RunOutcome::Failed,
            },
            [("PYTHONHASHSEED".to_owned(), "1234".to_owned())].into(),
            compare_tests(&a, &b),
            (Some(&ea), Some(&eb)),
        );
        insta::assert_snapshot!(table(&report));
    }
}

//! Merging a rerun's results into the first run's, per test identity
//! `(file, classname, name)`, by the counting rule: a failed test that passes on a rerun
//! is `flaky`; one that fails again stays failed (`error` if any attempt errored);
//! `attempts` counts every recorded attempt. A rerun result for a test that had not
//! failed is ignored (whole-command reruns run those too).

use std::collections::HashMap;

use crate::junit::{Status, TestCase};

/// A test's identity across runs.
type Key<'a> = (Option<&'a str>, &'a str, &'a str);

fn key(c: &TestCase) -> Key<'_> {
    (c.file.as_deref(), c.classname.as_str(), c.name.as_str())
}

/// The indices of the cases that failed or errored: the tests a rerun is for.
pub fn failing(cases: &[TestCase]) -> Vec<usize> {
    cases
        .iter()
        .enumerate()
        .filter(|(_, c)| is_failing(c.status))
        .map(|(i, _)| i)
        .collect()
}

/// Whether a status still calls for a rerun.
pub fn is_failing(status: Status) -> bool {
    matches!(status, Status::Failed | Status::Error)
}

/// What one rerun changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Pending tests the rerun gave a result for.
    pub found: usize,
    /// Pending tests that passed this time (now `flaky`).
    pub passed: usize,
}

/// Merges `rerun`'s results into `cases[i]` for each `i` in `pending`, and leaves in
/// `pending` the tests still failing; `decided[i]` is set to `source` for every test the
/// rerun gave a result for (the file that now decides its status). A pending test the
/// rerun has no result for keeps its failure (fail closed).
pub fn apply(
    cases: &mut [TestCase],
    decided: &mut [usize],
    pending: &mut Vec<usize>,
    rerun: &[TestCase],
    source: usize,
) -> Applied {
    let mut by_key: HashMap<Key<'_>, &TestCase> = HashMap::with_capacity(rerun.len());
    for r in rerun {
        // The same test twice in one rerun (two suites): the later one is its last word.
        by_key.insert(key(r), r);
    }
    let mut applied = Applied::default();
    pending.retain(|&i| {
        let Some(case) = cases.get_mut(i) else {
            return false;
        };
        let Some(r) = by_key.get(&key(case)).copied() else {
            return true;
        };
        applied.found += 1;
        if let Some(d) = decided.get_mut(i) {
            *d = source;
        }
        merge_one(case, r);
        let still = is_failing(case.status);
        if !still {
            applied.passed += 1;
        }
        still
    });
    applied
}

/// `earlier` (a failed or errored test) followed by the rerun result `later`.
fn merge_one(earlier: &mut TestCase, later: &TestCase) {
    earlier.attempts = earlier.attempts.saturating_add(later.attempts.max(1));
    if later.duration.is_finite() && later.duration > 0.0 {
        earlier.duration += later.duration;
    }
    earlier.status = match later.status {
        Status::Passed | Status::Flaky => Status::Flaky,
        Status::Error => Status::Error,
        Status::Failed if earlier.status == Status::Error => Status::Error,
        Status::Failed => Status::Failed,
        // A skip clears nothing: the earlier failure stands.
        Status::Skipped => earlier.status,
    };
    if earlier.message.is_none() {
        earlier.message = later.message.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, status: Status, attempts: u32) -> TestCase {
        TestCase {
            file: Some("tests/test_x.py".into()),
            classname: "tests.test_x".into(),
            name: name.into(),
            status,
            attempts,
            duration: 0.5,
            line: None,
            message: is_failing(status).then(|| format!("{name} broke")),
        }
    }

    #[test]
    fn failed_then_passed_is_flaky_and_still_failing_counts_every_attempt() {
        let mut cases = vec![
            case("ok", Status::Passed, 1),
            case("flaky", Status::Failed, 1),
            case("broken", Status::Failed, 1),
            case("boom", Status::Error, 1),
        ];
        let mut decided = vec![0; 4];
        let mut pending = failing(&cases);
        assert_eq!(pending, vec![1, 2, 3]);

        let first = [
            case("flaky", Status::Failed, 1),
            case("broken", Status::Failed, 1),
            case("boom", Status::Failed, 1),
        ];
        let a = apply(&mut cases, &mut decided, &mut pending, &first, 1);
        assert_eq!(
            a,
            Applied {
                found: 3,
                passed: 0
            }
        );
        let second = [
            case("flaky", Status::Passed, 1),
            case("broken", Status::Failed, 1),
            // A test that passed the first time, rerun by a whole-command rerun: ignored.
            case("ok", Status::Failed, 1),
        ];
        let a = apply(&mut cases, &mut decided, &mut pending, &second, 2);
        assert_eq!(
            a,
            Applied {
                found: 2,
                passed: 1
            }
        );
        assert_eq!(pending, vec![2, 3]);

        assert_eq!((cases[0].status, cases[0].attempts), (Status::Passed, 1));
        assert_eq!((cases[1].status, cases[1].attempts), (Status::Flaky, 3));
        assert_eq!(cases[1].message.as_deref(), Some("flaky broke"));
        assert_eq!(cases[1].duration, 1.5);
        assert_eq!((cases[2].status, cases[2].attempts), (Status::Failed, 3));
        // Errored once: error, though the rerun only failed; no result the second time.
        assert_eq!((cases[3].status, cases[3].attempts), (Status::Error, 2));
        assert_eq!(decided, vec![0, 2, 2, 1]);
    }

    #[test]
    fn a_rerun_without_the_test_or_with_a_skip_keeps_the_failure() {
        let mut cases = vec![case("t", Status::Failed, 1)];
        let mut decided = vec![0];
        let mut pending = failing(&cases);
        let a = apply(&mut cases, &mut decided, &mut pending, &[], 1);
        assert_eq!(a, Applied::default());
        let a = apply(
            &mut cases,
            &mut decided,
            &mut pending,
            &[case("t", Status::Skipped, 1)],
            2,
        );
        assert_eq!(
            a,
            Applied {
                found: 1,
                passed: 0
            }
        );
        assert_eq!(pending, vec![0]);
        assert_eq!((cases[0].status, cases[0].attempts), (Status::Failed, 2));
    }

    #[test]
    fn retries_inside_a_rerun_count_as_attempts() {
        // nextest's own retries: flaky within the rerun, two attempts there.
        let mut cases = vec![case("t", Status::Failed, 1)];
        let mut pending = failing(&cases);
        apply(
            &mut cases,
            &mut [0],
            &mut pending,
            &[case("t", Status::Flaky, 2)],
            1,
        );
        assert!(pending.is_empty());
        assert_eq!((cases[0].status, cases[0].attempts), (Status::Flaky, 3));
    }
}

//! Normalised test cases and their totals: the parser's output, whatever the dialect.

use serde::{Deserialize, Serialize};

/// The outcome of one logical test after all its attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every attempt that ran passed.
    Passed,
    /// An attempt failed and the last one did not pass.
    Failed,
    /// An attempt errored and the last one did not pass.
    Error,
    /// Every attempt was skipped (or not run: disabled, ignored, xfail).
    Skipped,
    /// The last attempt passed after an earlier one failed or errored.
    Flaky,
}

impl Status {
    /// The lowercase name used in every output format.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Flaky => "flaky",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One logical test, normalised across JUnit dialects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// The test's source file, relative as the producer wrote it (or derived from
    /// `classname` for producers that omit it), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// The `classname` attribute (empty when absent).
    pub classname: String,
    /// The `name` attribute.
    pub name: String,
    /// The outcome after all attempts.
    pub status: Status,
    /// How many times the test ran (retries and rerun records included); at least 1.
    pub attempts: u32,
    /// Total seconds over all attempts (0 when absent or unreadable).
    pub duration: f64,
    /// The 1-based line of the test in `file`, when the producer gave one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    /// The first failure or error message (bounded in size), when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

/// Counts of logical tests: `passed + failed + errors + skipped + flaky == tests`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Logical tests.
    pub tests: u64,
    /// Tests whose every run passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that errored.
    pub errors: u64,
    /// Tests that did not run.
    pub skipped: u64,
    /// Tests that passed on a retry.
    pub flaky: u64,
}

impl Totals {
    /// Counts one test with the given status.
    pub fn add(&mut self, status: Status) {
        self.tests += 1;
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Error => self.errors += 1,
            Status::Skipped => self.skipped += 1,
            Status::Flaky => self.flaky += 1,
        }
    }

    /// Adds another set of totals to this one.
    pub fn merge(&mut self, other: &Totals) {
        self.tests += other.tests;
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_keeps_the_sum_invariant() {
        let mut t = Totals::default();
        for s in [
            Status::Passed,
            Status::Failed,
            Status::Error,
            Status::Skipped,
            Status::Flaky,
        ] {
            t.add(s);
        }
        assert_eq!(
            t.tests,
            t.passed + t.failed + t.errors + t.skipped + t.flaky
        );
        assert_eq!(t.tests, 5);
    }
}

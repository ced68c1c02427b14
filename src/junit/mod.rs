//! JUnit XML ingestion: a streaming parser over any `BufRead` that yields normalised
//! test cases (see DESIGN.md §2.2 and §6 for the counting rule).
//!
//! # What is read
//!
//! - Roots: `<testsuites>` or a bare `<testsuite>`; suites nested to any depth; several
//!   documents concatenated in one file (libtest); a UTF-8 byte order mark; namespace
//!   prefixes (names are compared by local name) and `xsi` attributes.
//! - Per `<testcase>`: `name`, `classname`, `file`, `line`, `time`, `status`, and the
//!   result children `failure`, `error`, `skipped`, `flakyFailure`, `flakyError`,
//!   `rerunFailure`, `rerunError`. Everything else (`system-out`, `properties`, …) is
//!   skipped without being decoded or buffered.
//!
//! # Result precedence inside one `<testcase>`
//!
//! The element's own result is `error` > `failure` > `skipped` > `passed`. A
//! `status="disabled|ignored|notrun|skipped"` attribute counts as `<skipped>`. pytest's
//! xfail (`<skipped type="pytest.xfail">`) is skipped; its strict xpass marker
//! (`<skipped message="xfail-marked test passes unexpectedly">`) is a failure.
//! Retry records and every `<failure>`/`<error>` beyond the first are earlier
//! attempts (all failed or errored); the element's own result is its last attempt.
//!
//! # Grouping
//!
//! Within one suite, elements with the same `(file, classname, name)` are attempts of
//! one test in document order (THE COUNTING RULE). A suite's tests are handed
//! out when it closes, so memory grows with the largest single suite, never with the
//! file.
//!
//! # Dialect rules
//!
//! - `time`: seconds; `1,234.5` is 1234.5 (Surefire's thousands separator), `0,25` with
//!   a single comma and no dot is 0.25; empty, negative, infinite or NaN is 0 with a
//!   warning. Timestamps are not read, so any form is accepted.
//! - pytest `xunit1`: `line` is 0-based and reported 1-based (a `.py` `file` on a test
//!   case without `timestamp`; unittest-xml-reporting writes `timestamp` and 1-based
//!   lines). pytest `xunit2` (suite `pytest` or root `pytest tests`, no `file`): the
//!   file is derived from `classname` — the dotted parts before the first one starting
//!   with an upper-case letter, joined by `/`, plus `.py`.
//! - Suite counts (`tests`, `failures`, `errors`, `skipped` + `disabled`) are checked
//!   against the test case elements; a mismatch is a warning and the elements win.
//! - Entity declarations in a DTD are refused (no entity expansion); text keeps the five
//!   predefined entities and character references decoded and unknown ones as written.

mod case;
mod dialect;
mod error;
mod group;
mod inputs;
mod parser;
mod source;

use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

pub use case::{Status, TestCase, Totals};
pub use error::{JunitError, JunitErrorKind};
pub use inputs::expand_inputs;

/// How to parse.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// The most bytes of a failure message kept per test case (cut at a character
    /// boundary). Default 4096.
    pub max_message_bytes: usize,
    /// On an error, still report the complete test cases read before it (in
    /// [`JunitError::partial`] and through the callback).
    pub keep_going: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            max_message_bytes: 4096,
            keep_going: false,
        }
    }
}

/// Something odd but readable in a file: where, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// What was odd and what was done about it.
    pub message: String,
}

/// What [`parse`] returns besides the cases it handed out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParseSummary {
    /// Counts over the logical tests.
    pub totals: Totals,
    /// Readable oddities, in document order (at most about a hundred per file).
    pub warnings: Vec<Warning>,
}

/// One parsed file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    /// The file as the caller named it.
    pub path: String,
    /// The logical tests, suite by suite in the order the suites close.
    pub cases: Vec<TestCase>,
    /// Counts over `cases`.
    pub totals: Totals,
    /// Readable oddities.
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

/// Streaming: calls `on_case` for each logical test as soon as it is complete (when
/// its suite closes, after duplicate and attempt grouping). Memory is bounded by the
/// largest suite, independent of file size; text that is not kept is scanned, not
/// buffered. `source` names the input in errors and warnings.
pub fn parse<R: BufRead>(
    reader: R,
    source: &str,
    opts: &ParseOptions,
    mut on_case: impl FnMut(TestCase),
) -> Result<ParseSummary, JunitError> {
    let mut p = parser::Parser::new(reader, source, opts);
    match p.run(&mut on_case) {
        Ok(()) => Ok(p.summary()),
        Err(mut e) => {
            if opts.keep_going {
                p.flush(&mut on_case);
                e.partial = Some(Box::new(p.partial()));
            }
            Err(e)
        }
    }
}

/// Convenience: opens a file (a byte order mark is fine), parses it and collects the
/// cases. The report's `path` is `path` as given.
pub fn read_file(path: &Path, opts: &ParseOptions) -> Result<FileReport, JunitError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| JunitError::new(&name, 1, 1, JunitErrorKind::Open(e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(JunitError::new(
            &name,
            1,
            1,
            JunitErrorKind::Open(std::io::Error::other("is a directory")),
        ));
    }
    // The parser reads in large blocks; a small BufReader lets those bypass it.
    let reader = std::io::BufReader::with_capacity(8 * 1024, file);
    let mut cases = Vec::new();
    match parse(reader, &name, opts, |c| cases.push(c)) {
        Ok(s) => Ok(FileReport {
            path: name,
            cases,
            totals: s.totals,
            warnings: s.warnings,
        }),
        Err(mut e) => {
            if let Some(p) = e.partial.as_mut() {
                p.cases = cases;
            }
            Err(e)
        }
    }
}

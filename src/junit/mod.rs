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
mod fast;
mod group;
mod head;
mod inputs;
mod parser;
mod source;

use std::io::BufRead;
use std::path::{Path, PathBuf};

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

/// Totals only: the same reading, warnings, errors and counting rule as [`parse`],
/// without building test cases. Tests are told apart by a 128-bit hash of
/// `(file, classname, name)` instead of the strings, and messages are not read: the
/// fast path for `inspect --summary`. With `keep_going`, an error's partial report has
/// the totals read before it.
pub fn count<R: BufRead>(
    reader: R,
    source: &str,
    opts: &ParseOptions,
) -> Result<ParseSummary, JunitError> {
    let mut p = parser::Parser::new(reader, source, opts).count_only();
    let mut none = |_: TestCase| {};
    match p.run(&mut none) {
        Ok(()) => Ok(p.summary()),
        Err(mut e) => {
            if opts.keep_going {
                p.flush(&mut none);
                e.partial = Some(Box::new(p.partial()));
            }
            Err(e)
        }
    }
}

/// The fast path alone, for checking it against [`parse`]: every logical test and the
/// totals when the scanner accepts the input, `None` when it declines (then only the
/// full reader gives the answer, or the error). When it accepts, the result equals
/// [`parse`]'s (which then has no warnings).
pub fn fast_parse<R: std::io::Read>(
    reader: R,
    opts: &ParseOptions,
) -> Option<(Vec<TestCase>, Totals)> {
    fast::parse(reader, opts).ok()
}

/// The fast path alone for totals (see [`fast_parse`]); when it accepts, the result
/// equals [`count`]'s.
pub fn fast_count<R: std::io::Read>(reader: R, opts: &ParseOptions) -> Option<Totals> {
    fast::count(reader, opts).ok()
}

/// Opens a file for reading, refusing a directory.
fn open(path: &Path, name: &str) -> Result<std::fs::File, JunitError> {
    let file = std::fs::File::open(path)
        .map_err(|e| JunitError::new(name, 1, 1, JunitErrorKind::Open(e)))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(JunitError::new(
            name,
            1,
            1,
            JunitErrorKind::Open(std::io::Error::other("is a directory")),
        ));
    }
    Ok(file)
}

/// Back to the start of a file after the fast path declined it.
fn rewind(file: &mut std::fs::File, name: &str) -> Result<(), JunitError> {
    use std::io::Seek;
    file.rewind()
        .map_err(|e| JunitError::new(name, 1, 1, JunitErrorKind::Read(e)))
}

/// [`count`] over a file: the fast path (a scanner for the common shape of a report,
/// see `fast.rs`) when it accepts the file, otherwise the full reader from the start.
/// Either way the result is the one [`count`] gives. `source` names the file in errors
/// and warnings.
pub fn count_file(
    path: &Path,
    source: &str,
    opts: &ParseOptions,
) -> Result<ParseSummary, JunitError> {
    let mut file = open(path, source)?;
    if let Ok(totals) = fast::count(&mut file, opts) {
        return Ok(ParseSummary {
            totals,
            warnings: Vec::new(),
        });
    }
    rewind(&mut file, source)?;
    let reader = std::io::BufReader::with_capacity(8 * 1024, file);
    count(reader, source, opts)
}

/// [`read_file`] for many files, on every core; one result per file, in input order.
pub fn read_files(paths: &[PathBuf], opts: &ParseOptions) -> Vec<Result<FileReport, JunitError>> {
    let threads = crate::par::threads_for(paths.len(), 1);
    crate::par::par_map(paths, threads, |p| read_file(p, opts))
}

/// Convenience: opens a file (a byte order mark is fine), parses it and collects the
/// cases. The report's `path` is `path` as given. Takes the fast path when it accepts
/// the file (see [`count_file`]), with the same result as [`parse`].
pub fn read_file(path: &Path, opts: &ParseOptions) -> Result<FileReport, JunitError> {
    let name = path.display().to_string();
    let mut file = open(path, &name)?;
    if let Ok((cases, totals)) = fast::parse(&mut file, opts) {
        return Ok(FileReport {
            path: name,
            cases,
            totals,
            warnings: Vec::new(),
        });
    }
    rewind(&mut file, &name)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(bytes: &[u8], opts: &ParseOptions) -> Result<(Vec<TestCase>, Totals), JunitError> {
        let mut cases = Vec::new();
        let s = parse(bytes, "t.xml", opts, |c| cases.push(c))?;
        Ok((cases, s.totals))
    }

    /// Hands out one byte per read: every token crosses a buffer boundary.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((b, rest)), Some(o)) => {
                    *o = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    const SAMPLE: &str = r#"<?xml version="1.0"?>
<!-- comment --><?pi x?>
<testsuites><testsuite name="s">
  <properties><property name="a">text &amp; more</property></properties>
  <testcase classname="c" name="ok" time="0.5"><system-out><![CDATA[out]]>&amp;</system-out></testcase>
  <testcase classname="c" name="bad" time="1"><failure message="m1">trace &lt;1&gt;</failure></testcase>
  <testcase classname="c" name="bad" time="1"/>
  <testcase classname="c" name="text"><error><![CDATA[cdata first]]> then text</error></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn suite_level_error_and_failure_each_count_as_a_test_that_did_not_pass() {
        // TAP::Formatter::JUnit: a script that died after its first test; a suite whose
        // setup failed, with its text as the message.
        let xml = br#"<testsuites>
  <testsuite name="dies_t" tests="1" errors="1"><testcase name="1 - ok"/>
    <error message="Dubious, test returned 255"/></testsuite>
  <testsuite name="setup"><failure>fixture missing</failure></testsuite>
</testsuites>"#;
        let opts = ParseOptions::default();
        let (cases, totals) = parse_all(xml, &opts).unwrap();
        assert_eq!(
            (totals.tests, totals.passed, totals.errors, totals.failed),
            (3, 1, 1, 1)
        );
        assert_eq!(cases[1].classname, "dies_t");
        assert_eq!(cases[1].name, "(suite error)");
        assert_eq!(cases[1].status, Status::Error);
        assert_eq!(
            cases[1].message.as_deref(),
            Some("Dubious, test returned 255")
        );
        assert_eq!(cases[2].name, "(suite failure)");
        assert_eq!(cases[2].message.as_deref(), Some("fixture missing"));
        let counted = count(&xml[..], "t.xml", &opts).unwrap();
        assert_eq!(counted.totals, totals);
    }

    #[test]
    fn one_byte_reads_give_the_same_result() {
        let opts = ParseOptions::default();
        let whole = parse_all(SAMPLE.as_bytes(), &opts).unwrap();
        let mut cases = Vec::new();
        let reader = std::io::BufReader::with_capacity(1, Trickle(SAMPLE.as_bytes()));
        let s = parse(reader, "t.xml", &opts, |c| cases.push(c)).unwrap();
        assert_eq!((cases, s.totals), whole);
        assert_eq!(whole.1.flaky, 1);
        let text = whole.0.iter().find(|c| c.name == "text").unwrap();
        assert_eq!(text.message.as_deref(), Some("cdata first then text"));
    }

    #[test]
    fn character_references_in_messages_are_decoded() {
        let (cases, _) = parse_all(SAMPLE.as_bytes(), &ParseOptions::default()).unwrap();
        let bad = cases.iter().find(|c| c.name == "bad").unwrap();
        assert_eq!(bad.message.as_deref(), Some("m1"));
        let doc = r#"<testsuite><testcase name="n"><failure>a&#10;b &#x41;&apos;</failure></testcase></testsuite>"#;
        let (cases, _) = parse_all(doc.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(cases[0].message.as_deref(), Some("a\nb A'"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = parse_all(&bytes, &ParseOptions::default());
            let kg = ParseOptions { keep_going: true, ..Default::default() };
            let full = parse_all(&bytes, &kg);
            let fast = count(&bytes[..], "t.xml", &kg);
            match (full, fast) {
                (Ok((_, a)), Ok(b)) => prop_assert_eq!(a, b.totals),
                (Err(a), Err(b)) => {
                    prop_assert_eq!(a.to_string(), b.to_string());
                    prop_assert_eq!(a.partial.map(|p| p.totals), b.partial.map(|p| p.totals));
                }
                (a, b) => prop_assert!(false, "parse {:?} but count {:?}", a.map(|x| x.1), b.map(|x| x.totals)),
            }
        }

        #[test]
        fn damaged_reports_never_panic_and_partial_results_stay_within_the_whole(
            cut in 0..SAMPLE.len(),
            flip in 0..SAMPLE.len(),
            byte in any::<u8>(),
        ) {
            let full = parse_all(SAMPLE.as_bytes(), &ParseOptions::default()).unwrap().1;
            let opts = ParseOptions { keep_going: true, ..Default::default() };
            match parse_all(&SAMPLE.as_bytes()[..cut], &opts) {
                Ok((_, t)) => prop_assert!(t.tests <= full.tests),
                Err(e) => {
                    let p = e.partial.as_ref().map(|p| p.totals).unwrap_or_default();
                    prop_assert!(p.tests <= full.tests);
                    prop_assert!(!e.to_string().contains('\n'));
                }
            }
            let mut damaged = SAMPLE.as_bytes().to_vec();
            damaged[flip] = byte;
            let _ = parse_all(&damaged, &opts);
        }

        #[test]
        fn generated_reports_keep_the_sum_invariant(
            suites in proptest::collection::vec(
                proptest::collection::vec((0u8..4, 0u8..6, 0u8..3), 0..12), 1..5)
        ) {
            let mut doc = String::from("<testsuites>");
            let mut elements = 0u64;
            for (i, cases) in suites.iter().enumerate() {
                doc.push_str(&format!("<testsuite name=\"s{i}\">"));
                for (name, kind, records) in cases {
                    elements += 1;
                    doc.push_str(&format!("<testcase classname=\"c\" name=\"t{name}\">"));
                    for _ in 0..*records {
                        doc.push_str("<flakyFailure message=\"r\"/>");
                    }
                    doc.push_str(match kind {
                        0 => "<failure/>",
                        1 => "<error/>",
                        2 => "<skipped/>",
                        3 => "<failure/><error/>",
                        _ => "",
                    });
                    doc.push_str("</testcase>");
                }
                doc.push_str("</testsuite>");
            }
            doc.push_str("</testsuites>");
            let (cases, t) = parse_all(doc.as_bytes(), &ParseOptions::default()).unwrap();
            let counted = count(doc.as_bytes(), "t.xml", &ParseOptions::default()).unwrap();
            prop_assert_eq!(counted.totals, t);
            prop_assert_eq!(t.tests, t.passed + t.failed + t.errors + t.skipped + t.flaky);
            prop_assert_eq!(t.tests, cases.len() as u64);
            prop_assert!(t.tests <= elements);
            let distinct: u64 = suites.iter().map(|c| {
                let mut n: Vec<_> = c.iter().map(|x| x.0).collect();
                n.sort();
                n.dedup();
                n.len() as u64
            }).sum();
            prop_assert_eq!(t.tests, distinct);
        }
    }
}

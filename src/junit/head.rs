//! The attributes of one `<testcase>`, read by one set of rules for both readers (the
//! full reader in `parser.rs` and the scanner in `fast.rs`): which attributes count, how
//! `name`, `classname`, `file`, `line`, `time`, `timestamp` and `status` are decoded,
//! and how pytest's dialects turn them into the test's file and line.
//!
//! Values arrive as the bytes written between the quotes. The identity (`file`,
//! `classname`, `name`) is kept as bytes, so that counting hashes it without building
//! strings; strings are made only for a report that keeps the cases.

use super::dialect::{self, TimeIssue};
use super::group;

/// An attribute of `<testcase>` that the readers look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaseAttr {
    Name,
    Classname,
    File,
    Line,
    Time,
    Timestamp,
    Status,
}

impl CaseAttr {
    /// The attribute with this local name, if the readers look at it.
    #[inline]
    pub(crate) fn of(key: &[u8]) -> Option<Self> {
        // By length first: one comparison of a few bytes instead of a chain of them.
        match key.len() {
            4 => match key {
                b"name" => Some(CaseAttr::Name),
                b"file" => Some(CaseAttr::File),
                b"line" => Some(CaseAttr::Line),
                b"time" => Some(CaseAttr::Time),
                _ => None,
            },
            6 if key == b"status" => Some(CaseAttr::Status),
            9 => match key {
                b"classname" => Some(CaseAttr::Classname),
                b"timestamp" => Some(CaseAttr::Timestamp),
                _ => None,
            },
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// What the attributes of one `<testcase>` say. Its buffers are reused from one test
/// case to the next.
#[derive(Default)]
pub(crate) struct CaseHead {
    file: Vec<u8>,
    classname: Vec<u8>,
    name: Vec<u8>,
    derived: String,
    has_file: bool,
    has_name: bool,
    has_timestamp: bool,
    line_raw: Option<u32>,
    duration: f64,
    status_skip: bool,
    /// The attributes read so far, a bit each.
    seen: u8,
    repeated: bool,
    /// Only counting: `line` is not read and `time` only checked.
    count_only: bool,
}

/// A test case's identity and line, by the dialect rules.
pub(crate) struct Identity<'a> {
    /// `file` as given, or derived from `classname` for pytest `xunit2`.
    pub file: Option<&'a [u8]>,
    pub classname: &'a [u8],
    pub name: &'a [u8],
    /// 1-based.
    pub line: Option<u32>,
}

impl Identity<'_> {
    /// The 128-bit hash that tells tests apart when only counting.
    pub(crate) fn key(&self) -> u128 {
        group::key_hash128(self.file, self.classname, self.name)
    }

    /// `(file, classname, name)` as strings.
    pub(crate) fn owned(&self) -> (Option<String>, String, String) {
        (
            self.file.map(owned_str),
            owned_str(self.classname),
            owned_str(self.name),
        )
    }
}

/// Both readers hand over UTF-8 (the full reader's values are `str`, the scanner's
/// window is checked as it is read), so the lossy conversion never replaces anything.
fn owned_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl CaseHead {
    /// For a reader that only counts (`count_only`): then `line` and `duration` are not
    /// read, and a `time` is only checked.
    pub(crate) fn new(count_only: bool) -> Self {
        Self {
            count_only,
            ..Self::default()
        }
    }

    /// Forgets the previous test case.
    pub(crate) fn clear(&mut self) {
        self.file.clear();
        self.classname.clear();
        self.name.clear();
        self.has_file = false;
        self.has_name = false;
        self.has_timestamp = false;
        self.line_raw = None;
        self.duration = 0.0;
        self.status_skip = false;
        self.seen = 0;
        self.repeated = false;
    }

    /// Reads one attribute: `raw` is its value as written, `decode` whether it holds a
    /// `&` or `\r` (then references and line ends are decoded). A repeated attribute is
    /// read again (text values are appended; others replaced) and noted
    /// ([`CaseHead::repeated`]). An unreadable `time` is read as 0 and its issue
    /// returned (the full reader warns; the scanner declines).
    #[inline]
    pub(crate) fn take(
        &mut self,
        attr: CaseAttr,
        raw: &[u8],
        decode: bool,
    ) -> Result<(), TimeIssue> {
        let bit = attr.bit();
        self.repeated |= self.seen & bit != 0;
        self.seen |= bit;
        match attr {
            CaseAttr::Name => {
                self.has_name = true;
                push_value(&mut self.name, raw, decode);
            }
            CaseAttr::Classname => push_value(&mut self.classname, raw, decode),
            CaseAttr::File => {
                self.has_file = true;
                push_value(&mut self.file, raw, decode);
            }
            CaseAttr::Line if self.count_only => {}
            CaseAttr::Line => self.line_raw = parse_line(raw),
            CaseAttr::Time if self.count_only => dialect::check_time_bytes(raw)?,
            CaseAttr::Time => {
                self.duration = 0.0;
                self.duration = dialect::parse_time_bytes(raw)?;
            }
            CaseAttr::Timestamp => self.has_timestamp = true,
            CaseAttr::Status => self.status_skip = status_is_skip(raw),
        }
        Ok(())
    }

    /// Whether the element has a `name` (a test case without one is counted on its own).
    pub(crate) fn has_name(&self) -> bool {
        self.has_name
    }

    /// Whether an attribute came more than once.
    pub(crate) fn repeated(&self) -> bool {
        self.repeated
    }

    /// Seconds from `time` (0 when absent or unreadable, or when counting).
    pub(crate) fn duration(&self) -> f64 {
        self.duration
    }

    /// `status="disabled|ignored|notrun|skipped"`: counts as `<skipped>`.
    pub(crate) fn status_skip(&self) -> bool {
        self.status_skip
    }

    /// The test's identity and line. `pytest`: the case is inside a pytest `xunit2`
    /// suite, where a missing `file` is derived from `classname`. pytest `xunit1`
    /// lines are 0-based and reported 1-based.
    pub(crate) fn identity(&mut self, pytest: bool) -> Identity<'_> {
        let given = self.has_file && !self.file.is_empty();
        let line = self.line_raw.map(|l| {
            let zero_based = given && dialect::line_is_zero_based(&self.file, self.has_timestamp);
            if zero_based { l.saturating_add(1) } else { l }
        });
        let derived = !given
            && pytest
            && dialect::pytest_file_into(
                &String::from_utf8_lossy(&self.classname),
                &mut self.derived,
            );
        let file = if given {
            Some(self.file.as_slice())
        } else if derived {
            Some(self.derived.as_bytes())
        } else {
            None
        };
        Identity {
            file,
            classname: &self.classname,
            name: &self.name,
            line,
        }
    }
}

/// Appends a value, decoded when it needs it.
#[inline]
fn push_value(out: &mut Vec<u8>, raw: &[u8], decode: bool) {
    if decode {
        let mut s = String::with_capacity(raw.len());
        dialect::decode_text(&String::from_utf8_lossy(raw), &mut s);
        out.extend_from_slice(s.as_bytes());
    } else {
        out.extend_from_slice(raw);
    }
}

/// `line`: a number, surrounding whitespace allowed; anything else is no line.
fn parse_line(raw: &[u8]) -> Option<u32> {
    if (1..=9).contains(&raw.len()) && raw.iter().all(u8::is_ascii_digit) {
        return Some(raw.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')));
    }
    std::str::from_utf8(raw).ok()?.trim().parse().ok()
}

/// `status` values that mean the test did not run.
fn status_is_skip(raw: &[u8]) -> bool {
    let v = match std::str::from_utf8(raw) {
        Ok(v) => v.trim(),
        Err(_) => return false,
    };
    ["disabled", "ignored", "notrun", "skipped"]
        .iter()
        .any(|s| v.eq_ignore_ascii_case(s))
}

/// The `<testcase>` being read, in either reader: its identity and what its children
/// have said so far.
pub(crate) struct CaseBuild {
    pub(crate) file: Option<String>,
    pub(crate) classname: String,
    pub(crate) name: String,
    pub(crate) line: Option<u32>,
    pub(crate) duration: f64,
    pub(crate) records: u32,
    pub(crate) record_errors: u32,
    pub(crate) failures: u32,
    pub(crate) errors: u32,
    pub(crate) skipped: bool,
    pub(crate) xpass_strict: bool,
    pub(crate) message: Option<String>,
    /// It has no `name` (the full reader counts it on its own; the scanner declines).
    pub(crate) anonymous: bool,
    /// When counting: the identity's hash instead of its strings.
    pub(crate) key: Option<u128>,
}

impl CaseBuild {
    /// A case from its start tag's attributes, read into `head`; `pytest`: its suite was
    /// written by pytest. Counting keeps the identity's hash, otherwise its strings.
    pub(crate) fn start(
        head: &mut CaseHead,
        pytest: bool,
        count_only: bool,
        anonymous: bool,
    ) -> Self {
        let (duration, skipped) = (head.duration(), head.status_skip());
        let id = head.identity(pytest);
        let line = id.line;
        let (file, classname, name, key) = if count_only {
            (None, String::new(), String::new(), Some(id.key()))
        } else {
            let (file, classname, name) = id.owned();
            (file, classname, name, None)
        };
        Self {
            file,
            classname,
            name,
            line,
            duration,
            records: 0,
            record_errors: 0,
            failures: 0,
            errors: 0,
            skipped,
            xpass_strict: false,
            message: None,
            anonymous,
            key,
        }
    }
}

/// What a child element of `<testcase>` counts as, in either reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// `<failure>`.
    Failure,
    /// `<error>`.
    Error,
    /// `<skipped>`.
    Skipped,
    /// A failed earlier attempt (`<flakyFailure>`, `<rerunFailure>`).
    Record,
    /// An earlier attempt that erred (`<flakyError>`, `<rerunError>`).
    RecordError,
}

/// pytest's `<skipped>` message for an xfail test that passed under `strict`: a failure.
pub(crate) const XPASS_STRICT: &str = "xfail-marked test passes unexpectedly";

impl CaseBuild {
    /// Counts one child element of the case, with the child's own `time` and, for
    /// `<skipped>`, its `message` (pytest's strict xpass is a failure, not a skip).
    pub(crate) fn count(&mut self, v: Verdict, time: f64, message: Option<&str>) {
        self.duration += time;
        match v {
            Verdict::Failure => self.failures = self.failures.saturating_add(1),
            Verdict::Error => self.errors = self.errors.saturating_add(1),
            Verdict::Skipped => {
                if message == Some(XPASS_STRICT) {
                    self.xpass_strict = true;
                    if self.message.is_none() {
                        self.message = Some(XPASS_STRICT.to_owned());
                    }
                } else {
                    self.skipped = true;
                }
            }
            Verdict::Record => self.records = self.records.saturating_add(1),
            Verdict::RecordError => {
                self.records = self.records.saturating_add(1);
                self.record_errors = self.record_errors.saturating_add(1);
            }
        }
    }

    /// Keeps `chosen` as the case's message, cut to `limit` bytes, unless it has one.
    pub(crate) fn keep_first_message(&mut self, chosen: Option<String>, limit: usize) {
        if self.message.is_none()
            && let Some(m) = chosen
        {
            let mut bounded = String::new();
            super::source::push_bounded(&mut bounded, &m, limit);
            self.message = Some(bounded);
        }
    }
}

/// `<testcase>` elements seen in a suite and the suites inside it, by outcome.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) tests: u64,
    pub(crate) failures: u64,
    pub(crate) errors: u64,
    pub(crate) skipped: u64,
}

impl Seen {
    /// Adds what a nested suite saw.
    pub(crate) fn add(&mut self, o: &Seen) {
        self.tests += o.tests;
        self.failures += o.failures;
        self.errors += o.errors;
        self.skipped += o.skipped;
    }

    /// Counts one test case with this outcome.
    pub(crate) fn tally(&mut self, o: group::Outcome) {
        self.tests += 1;
        match o {
            group::Outcome::Failed => self.failures += 1,
            group::Outcome::Error => self.errors += 1,
            group::Outcome::Skipped => self.skipped += 1,
            group::Outcome::Passed => {}
        }
    }
}

impl CaseBuild {
    /// The case's outcome and the record the grouping table takes: an error beats a
    /// failure (or pytest's strict xpass), which beats a skip.
    pub(crate) fn close(self) -> (group::Outcome, group::Record) {
        let primary = if self.errors > 0 {
            group::Outcome::Error
        } else if self.failures > 0 || self.xpass_strict {
            group::Outcome::Failed
        } else if self.skipped {
            group::Outcome::Skipped
        } else {
            group::Outcome::Passed
        };
        let attempts = group::Attempts::of_element(
            self.records,
            self.record_errors,
            self.failures.saturating_add(u32::from(self.xpass_strict)),
            self.errors,
            primary,
        );
        let record = group::Record {
            file: self.file,
            classname: self.classname,
            name: self.name,
            line: self.line,
            duration: self.duration,
            message: self.message,
            attempts,
            anonymous: self.anonymous,
            key: self.key,
        };
        (primary, record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        attrs: &[(&str, &str)],
        pytest: bool,
    ) -> (Option<String>, String, String, Option<u32>, CaseHead) {
        let mut h = CaseHead::default();
        for (k, v) in attrs {
            if let Some(a) = CaseAttr::of(k.as_bytes()) {
                let _ = h.take(a, v.as_bytes(), v.contains(['&', '\r']));
            }
        }
        let id = h.identity(pytest);
        let line = id.line;
        let (f, c, n) = id.owned();
        (f, c, n, line, h)
    }

    #[test]
    fn attribute_names_are_matched_exactly() {
        assert_eq!(CaseAttr::of(b"name"), Some(CaseAttr::Name));
        assert_eq!(CaseAttr::of(b"classname"), Some(CaseAttr::Classname));
        assert_eq!(CaseAttr::of(b"timestamp"), Some(CaseAttr::Timestamp));
        assert_eq!(CaseAttr::of(b"status"), Some(CaseAttr::Status));
        for other in [
            "nam",
            "names",
            "Name",
            "classnamE",
            "statut",
            "",
            "assertions",
        ] {
            assert_eq!(CaseAttr::of(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn pytest_xunit1_lines_are_one_based_and_xunit2_files_derived() {
        let (f, _, _, line, _) = head(
            &[("file", "tests/test_x.py"), ("line", "4"), ("name", "t")],
            false,
        );
        assert_eq!((f.as_deref(), line), (Some("tests/test_x.py"), Some(5)));
        let (_, _, _, line, _) = head(
            &[
                ("file", "t.py"),
                ("line", "4"),
                ("timestamp", "x"),
                ("name", "t"),
            ],
            false,
        );
        assert_eq!(line, Some(4));
        let (f, _, _, _, _) = head(&[("classname", "tests.test_x.TestA"), ("name", "t")], true);
        assert_eq!(f.as_deref(), Some("tests/test_x.py"));
        let (f, _, _, _, _) = head(&[("classname", "tests.test_x.TestA"), ("name", "t")], false);
        assert_eq!(f, None);
    }

    #[test]
    fn values_are_decoded_and_numbers_read_like_the_standard_parsers() {
        let (_, c, n, line, h) = head(
            &[
                ("classname", "a&amp;b"),
                ("name", "x&#10;y\r\nz"),
                ("line", " 7 "),
                ("time", "1,5"),
            ],
            false,
        );
        assert_eq!((c.as_str(), n.as_str(), line), ("a&b", "x\ny\nz", Some(7)));
        assert_eq!(h.duration(), 1.5);
        assert_eq!(parse_line(b"+3"), Some(3));
        assert_eq!(parse_line(b"4294967296"), None);
        assert_eq!(parse_line(b"x"), None);
        assert!(status_is_skip(b" Disabled "));
        assert!(!status_is_skip(b"passed"));
    }

    #[test]
    fn repeats_and_unreadable_times_are_reported() {
        let mut h = CaseHead::default();
        h.take(CaseAttr::Time, b"2", false).unwrap();
        assert_eq!(
            h.take(CaseAttr::Time, b"x", false),
            Err(TimeIssue::NotANumber)
        );
        assert_eq!(h.duration(), 0.0);
        assert!(h.repeated());
        h.clear();
        assert!(!h.repeated() && !h.has_name());
    }
}

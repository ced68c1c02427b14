//! The streaming parser: quick-xml events for markup, [`Source`] for content, one
//! [`Grouper`] per open suite.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};

use super::case::{TestCase, Totals};
use super::dialect::{self, decode_attr};
use super::error::{JunitError, JunitErrorKind};
use super::group::{self, Grouper};
use super::head::{CaseAttr, CaseBuild, CaseHead, Seen, Verdict};
use super::source::{ContentError, Source};
use super::{FileReport, ParseOptions, ParseSummary, Warning};

/// Most warnings kept per file; the rest are counted in one last warning.
const MAX_WARNINGS: usize = 100;
/// Deepest nesting of suites.
const MAX_DEPTH: usize = 256;

/// Counts a suite declares in its attributes.
#[derive(Default, Clone, Copy)]
struct Declared {
    tests: Option<u64>,
    failures: Option<u64>,
    errors: Option<u64>,
    skipped: Option<u64>,
    disabled: Option<u64>,
}

/// An open `<testsuites>` or `<testsuite>`.
struct Container {
    tag: &'static str,
    name: Option<String>,
    pytest: bool,
    declared: Declared,
    seen: Seen,
    grouper: Grouper,
    line: u64,
    column: u64,
}

enum Frame {
    Container(Box<Container>),
    Case,
    /// An element whose content was consumed directly; its end tag comes next.
    Leaf,
}

/// The result children of a `<testcase>`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Child {
    Failure,
    Error,
    Skipped,
    FlakyFailure,
    FlakyError,
    RerunFailure,
    RerunError,
    Other,
}

impl Child {
    fn of(local: &str) -> Self {
        match local {
            "failure" => Child::Failure,
            "error" => Child::Error,
            "skipped" => Child::Skipped,
            "flakyFailure" => Child::FlakyFailure,
            "flakyError" => Child::FlakyError,
            "rerunFailure" => Child::RerunFailure,
            "rerunError" => Child::RerunError,
            _ => Child::Other,
        }
    }

    fn is_record(self) -> bool {
        matches!(
            self,
            Child::FlakyFailure | Child::FlakyError | Child::RerunFailure | Child::RerunError
        )
    }

    fn carries_message(self) -> bool {
        !matches!(self, Child::Skipped | Child::Other)
    }
}

pub(crate) struct Parser<'o, R: BufRead> {
    xml: Reader<Source<R>>,
    buf: Vec<u8>,
    path: String,
    opts: &'o ParseOptions,
    frames: Vec<Frame>,
    case: Option<CaseBuild>,
    roots: u64,
    pub(crate) totals: Totals,
    pub(crate) warnings: Vec<Warning>,
    suppressed: u64,
    scratch: String,
    /// Emptied groupers of closed suites, reused to keep their allocations.
    spare: Vec<Grouper>,
    /// Counting mode: no cases, keys hashed, messages not read.
    count_only: bool,
    /// The attributes of the `<testcase>` being opened (buffers reused).
    head: CaseHead,
}

impl<'o, R: BufRead> Parser<'o, R> {
    pub(crate) fn new(reader: R, path: &str, opts: &'o ParseOptions) -> Self {
        let mut xml = Reader::from_reader(Source::new(reader));
        let cfg = xml.config_mut();
        cfg.check_end_names = true;
        cfg.expand_empty_elements = false;
        cfg.trim_text(false);
        Self {
            xml,
            buf: Vec::with_capacity(4096),
            path: path.to_owned(),
            opts,
            frames: Vec::new(),
            case: None,
            roots: 0,
            totals: Totals::default(),
            warnings: Vec::new(),
            suppressed: 0,
            scratch: String::new(),
            spare: Vec::new(),
            count_only: false,
            head: CaseHead::new(false),
        }
    }

    /// Counts only: totals and warnings, no cases (see [`super::count`]).
    pub(crate) fn count_only(mut self) -> Self {
        self.count_only = true;
        self.head = CaseHead::new(true);
        self
    }

    fn src(&mut self) -> &mut Source<R> {
        self.xml.get_mut()
    }

    fn err_at(&mut self, offset: u64, kind: JunitErrorKind) -> JunitError {
        let (line, col) = self.src().position(offset);
        JunitError::new(&self.path, line, col, kind)
    }

    fn warn_at(&mut self, line: u64, column: u64, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning {
                line,
                column,
                message,
            });
        } else {
            self.suppressed += 1;
        }
    }

    fn warn_offset(&mut self, offset: u64, message: String) {
        let (line, col) = self.src().position(offset);
        self.warn_at(line, col, message);
    }

    fn content_error(&mut self, e: ContentError, what: &str) -> JunitError {
        match e {
            ContentError::Io(e) => {
                let off = self.src().offset();
                self.err_at(off, JunitErrorKind::Read(e))
            }
            ContentError::Truncated => self.truncated(Some(what)),
            ContentError::Utf8(off) => self.err_at(off, JunitErrorKind::InvalidUtf8(String::new())),
            ContentError::Malformed(off, msg) => {
                self.err_at(off, JunitErrorKind::Malformed(msg.to_owned()))
            }
        }
    }

    /// The error for input that ends too early, at the end of the input.
    fn truncated(&mut self, inner: Option<&str>) -> JunitError {
        let _ = self.src().ensure(usize::MAX / 2);
        let src = self.src();
        let end = src.offset() + src.avail().len() as u64;
        let open: Vec<String> = self
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Container(c) => {
                    Some(format!("`<{}>` opened at {}:{}", c.tag, c.line, c.column))
                }
                _ => None,
            })
            .collect();
        let mut what = match inner {
            Some(w) => format!("`<{w}>`"),
            None if self.case.is_some() => "a `<testcase>`".to_owned(),
            None => "markup".to_owned(),
        };
        if let Some(last) = open.last() {
            what.push_str(&format!(" in {last}"));
        }
        self.err_at(end, JunitErrorKind::Truncated(what))
    }

    /// Reads the whole input, emitting cases as their suites close.
    pub(crate) fn run(&mut self, on_case: &mut dyn FnMut(TestCase)) -> Result<(), JunitError> {
        let first = match self.src().start() {
            Ok(b) => b.to_vec(),
            Err(e) => return Err(self.err_at(0, JunitErrorKind::Read(e))),
        };
        if first.is_empty() {
            return Err(JunitError::new(&self.path, 1, 1, JunitErrorKind::Empty));
        }
        if first.starts_with(b"\xFE\xFF")
            || first.starts_with(b"\xFF\xFE")
            || (first.len() >= 2 && (first[0] == 0 || first[1] == 0))
        {
            return Err(JunitError::new(
                &self.path,
                1,
                1,
                JunitErrorKind::InvalidUtf8(
                    ": UTF-16 and other encodings are not read, only UTF-8".into(),
                ),
            ));
        }
        loop {
            // Text between elements is consumed here, never buffered.
            let text = self.src().skip_text();
            match text {
                Ok(Some(off)) if self.frames.is_empty() => {
                    let kind = if self.roots == 0 {
                        JunitErrorKind::NotXml("text where an element was expected".into())
                    } else {
                        JunitErrorKind::Malformed("text after the root element".into())
                    };
                    return Err(self.err_at(off, kind));
                }
                Ok(_) => {}
                Err(e) => return Err(self.content_error(e, "text")),
            }
            let start = self.src().offset();
            self.src().begin_markup();
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let result = self.step(&mut buf, start, on_case);
            self.buf = buf;
            if result? {
                return Ok(());
            }
        }
    }

    /// Reads and handles one event; true at the end of the input.
    fn step(
        &mut self,
        buf: &mut Vec<u8>,
        start: u64,
        on_case: &mut dyn FnMut(TestCase),
    ) -> Result<bool, JunitError> {
        {
            let event = self.xml.read_event_into(buf);
            self.xml.get_mut().end_markup();
            let event = match event {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(e, start)),
            };
            match event {
                Event::Start(e) => self.open(&e, start, false, on_case)?,
                Event::Empty(e) => self.open(&e, start, true, on_case)?,
                Event::End(_) => self.close(on_case)?,
                Event::DocType(t) => {
                    if t.contains("<!ENTITY") {
                        return Err(self.err_at(start, JunitErrorKind::EntityDeclaration));
                    }
                }
                Event::Eof => {
                    if !self.frames.is_empty() {
                        return Err(self.truncated(None));
                    }
                    if self.roots == 0 {
                        let end = self.src().offset();
                        return Err(
                            self.err_at(end, JunitErrorKind::NotXml("no root element".into()))
                        );
                    }
                    return Ok(true);
                }
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                    if self.frames.is_empty() {
                        return Err(self.err_at(
                            start,
                            JunitErrorKind::Malformed("content outside the root element".into()),
                        ));
                    }
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
        }
        Ok(false)
    }

    fn xml_error(&mut self, e: XmlError, start: u64) -> JunitError {
        let src_direct = self.xml.get_ref().direct;
        let pos = self.xml.error_position() + src_direct;
        let pos = pos.max(start);
        match e {
            XmlError::Io(io) => {
                if self.xml.get_ref().markup_too_long {
                    self.err_at(
                        start,
                        JunitErrorKind::Limit(format!(
                            "a tag, comment or declaration longer than {} MiB",
                            super::source::MAX_MARKUP >> 20
                        )),
                    )
                } else {
                    let io = std::sync::Arc::try_unwrap(io)
                        .unwrap_or_else(|a| std::io::Error::new(a.kind(), a.to_string()));
                    self.err_at(pos, JunitErrorKind::Read(io))
                }
            }
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) => self.err_at(
                pos,
                JunitErrorKind::Malformed("`<!` that is not a comment, CDATA or DOCTYPE".into()),
            ),
            XmlError::Syntax(_) => {
                let (l, c) = self.src().position(start);
                let mut err = self.truncated(None);
                if let JunitErrorKind::Truncated(w) = &mut err.kind {
                    *w = format!("the markup that starts at {l}:{c}");
                }
                err
            }
            XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => self
                .err_at(
                    pos,
                    JunitErrorKind::Malformed(format!(
                        "`</{}>` closes `<{}>`",
                        short_name(&found),
                        short_name(&expected)
                    )),
                ),
            XmlError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => self.err_at(
                pos,
                JunitErrorKind::Malformed(format!("`</{}>` closes nothing", short_name(&name))),
            ),
            XmlError::IllFormed(other) => {
                self.err_at(pos, JunitErrorKind::Malformed(other.to_string()))
            }
            XmlError::Encoding(_) => self.err_at(pos, JunitErrorKind::InvalidUtf8(String::new())),
            other => self.err_at(pos, JunitErrorKind::Malformed(other.to_string())),
        }
    }

    fn open(
        &mut self,
        e: &BytesStart<'_>,
        start: u64,
        empty: bool,
        on_case: &mut dyn FnMut(TestCase),
    ) -> Result<(), JunitError> {
        let qname = e.name();
        let local = qname.local_name();
        let local = local.as_ref();
        let in_case = matches!(self.frames.last(), Some(Frame::Case));
        match (self.frames.last(), local) {
            (None, "testsuites" | "testsuite") => {
                self.roots += 1;
                self.open_container(e, start, local == "testsuites", empty, on_case)
            }
            (None, _) => {
                let name = e.name().as_ref().to_owned();
                Err(self.err_at(start, JunitErrorKind::NotJunit(name)))
            }
            (Some(Frame::Container(_)), "testsuite" | "testsuites") => {
                if self.frames.len() >= MAX_DEPTH {
                    return Err(self.err_at(
                        start,
                        JunitErrorKind::Limit(format!("suites nested deeper than {MAX_DEPTH}")),
                    ));
                }
                self.open_container(e, start, local == "testsuites", empty, on_case)
            }
            (Some(Frame::Container(_)), "testcase") => {
                self.open_case(e, start)?;
                if empty {
                    self.close_case();
                } else {
                    self.frames.push(Frame::Case);
                }
                Ok(())
            }
            (Some(Frame::Container(_)), "error" | "failure") => {
                let child = Child::of(local);
                self.suite_result(e, child, start, empty)
            }
            _ if in_case => {
                let child = Child::of(local);
                self.case_child(e, child, start, empty)
            }
            _ => self.skip(e, empty),
        }
    }

    /// A `<failure>` or `<error>` directly inside a `<testsuite>`, outside any test case:
    /// TAP::Formatter::JUnit writes a script that died this way, other runners a suite
    /// whose setup failed. It counts as one test of its own (named `(suite error)` or
    /// `(suite failure)`, never merged with another), so a suite that crashed is never
    /// read as passing.
    fn suite_result(
        &mut self,
        e: &BytesStart<'_>,
        child: Child,
        start: u64,
        empty: bool,
    ) -> Result<(), JunitError> {
        let name = if child == Child::Error {
            "(suite error)"
        } else {
            "(suite failure)"
        };
        let suite = match self.frames.last() {
            Some(Frame::Container(c)) => c.name.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let (classname, name, key) = if self.count_only {
            let key = group::key_hash128(None, suite.as_bytes(), name.as_bytes());
            (String::new(), String::new(), Some(key))
        } else {
            (suite, name.to_owned(), None)
        };
        self.case = Some(CaseBuild {
            file: None,
            classname,
            name,
            line: None,
            duration: 0.0,
            records: 0,
            record_errors: 0,
            failures: 0,
            errors: 0,
            skipped: false,
            xpass_strict: false,
            message: None,
            anonymous: true,
            key,
        });
        let depth = self.frames.len();
        self.case_child(e, child, start, empty)?;
        // The element's content frame (if any) sits above the suite until its end tag:
        // the case is closed into the suite beneath it.
        let leaf = (self.frames.len() > depth)
            .then(|| self.frames.pop())
            .flatten();
        self.close_case();
        if let Some(leaf) = leaf {
            self.frames.push(leaf);
        }
        Ok(())
    }

    /// Consumes the content of an element we do not read.
    fn skip(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), JunitError> {
        if empty {
            return Ok(());
        }
        self.scratch.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let r = self.src().read_content(0, &mut scratch);
        self.scratch = scratch;
        if let Err(err) = r {
            let name = e.local_name().as_ref().to_owned();
            return Err(self.content_error(err, &name));
        }
        self.frames.push(Frame::Leaf);
        Ok(())
    }

    fn open_container(
        &mut self,
        e: &BytesStart<'_>,
        start: u64,
        is_root_list: bool,
        empty: bool,
        on_case: &mut dyn FnMut(TestCase),
    ) -> Result<(), JunitError> {
        let mut declared = Declared::default();
        let mut name = None;
        for attr in attributes(e) {
            let Some(attr) = attr else {
                return Err(self.err_at(start, malformed_attributes(e)));
            };
            let slot = match attr.key {
                "name" => {
                    name = Some(decode_attr(attr.value).into_owned());
                    continue;
                }
                "tests" => &mut declared.tests,
                "failures" => &mut declared.failures,
                "errors" => &mut declared.errors,
                "skipped" => &mut declared.skipped,
                "disabled" => &mut declared.disabled,
                _ => continue,
            };
            *slot = attr.value.trim().parse().ok();
        }
        let parent_pytest = self.frames.iter().rev().any(|f| match f {
            Frame::Container(c) => c.pytest,
            _ => false,
        });
        let pytest = parent_pytest
            || matches!(
                (is_root_list, name.as_deref()),
                (true, Some("pytest tests")) | (false, Some("pytest"))
            );
        let (line, column) = self.src().position(start);
        let c = Container {
            tag: if is_root_list {
                "testsuites"
            } else {
                "testsuite"
            },
            name,
            pytest,
            declared,
            seen: Seen::default(),
            grouper: self.spare.pop().unwrap_or_default(),
            line,
            column,
        };
        self.frames.push(Frame::Container(Box::new(c)));
        if empty {
            self.close(on_case)?;
        }
        Ok(())
    }

    fn open_case(&mut self, e: &BytesStart<'_>, start: u64) -> Result<(), JunitError> {
        self.head.clear();
        for attr in attributes(e) {
            let Some(attr) = attr else {
                return Err(self.err_at(start, malformed_attributes(e)));
            };
            let Some(which) = CaseAttr::of(attr.key.as_bytes()) else {
                continue;
            };
            let raw = attr.value.as_bytes();
            let decode = memchr::memchr2(b'&', b'\r', raw).is_some();
            if let Err(issue) = self.head.take(which, raw, decode) {
                self.warn_time(attr.value, &issue, start);
            }
        }
        let anonymous = !self.head.has_name();
        if anonymous {
            self.warn_offset(
                start,
                "`<testcase>` without a `name`: counted on its own".into(),
            );
        }
        let pytest = matches!(self.frames.last(), Some(Frame::Container(c)) if c.pytest);
        self.case = Some(CaseBuild::start(
            &mut self.head,
            pytest,
            self.count_only,
            anonymous,
        ));
        Ok(())
    }

    fn time_value(&mut self, raw: &str, start: u64) -> f64 {
        match dialect::parse_time(raw) {
            Ok(t) => t,
            Err(issue) => {
                self.warn_time(raw, &issue, start);
                0.0
            }
        }
    }

    fn warn_time(&mut self, raw: &str, issue: &dialect::TimeIssue, start: u64) {
        self.warn_offset(
            start,
            format!("`time=\"{raw}\"` {}; read as 0", issue.describe()),
        );
    }

    fn case_child(
        &mut self,
        e: &BytesStart<'_>,
        child: Child,
        start: u64,
        empty: bool,
    ) -> Result<(), JunitError> {
        if child == Child::Other {
            return self.skip(e, empty);
        }
        let mut message = None;
        let mut kind = None;
        let mut record_time = 0.0;
        for attr in attributes(e) {
            let Some(attr) = attr else {
                return Err(self.err_at(start, malformed_attributes(e)));
            };
            match attr.key {
                "message" => message = Some(decode_attr(attr.value).into_owned()),
                "type" => kind = Some(decode_attr(attr.value).into_owned()),
                "time" if child.is_record() => record_time = self.time_value(attr.value, start),
                _ => {}
            }
        }
        let limit = self.opts.max_message_bytes;
        let wants_text = !self.count_only
            && child.carries_message()
            && self.case.as_ref().is_some_and(|c| c.message.is_none())
            && message.as_deref().is_none_or(|m| m.trim().is_empty());
        let mut text = None;
        if !empty {
            let mut raw = std::mem::take(&mut self.scratch);
            raw.clear();
            let keep = if wants_text {
                limit.saturating_add(16)
            } else {
                0
            };
            let r = self.src().read_content(keep, &mut raw);
            if let Err(err) = r {
                self.scratch = raw;
                let name = e.local_name().as_ref().to_owned();
                return Err(self.content_error(err, &name));
            }
            if wants_text {
                text = Some(decode_content(&raw));
            }
            self.scratch = raw;
            self.frames.push(Frame::Leaf);
        }
        let Some(case) = self.case.as_mut() else {
            return Ok(());
        };
        let verdict = match child {
            Child::Failure => Verdict::Failure,
            Child::Error => Verdict::Error,
            Child::Skipped => Verdict::Skipped,
            Child::FlakyFailure | Child::RerunFailure => Verdict::Record,
            Child::FlakyError | Child::RerunError => Verdict::RecordError,
            Child::Other => return Ok(()),
        };
        case.count(verdict, record_time, message.as_deref());
        if child.carries_message() && case.message.is_none() {
            let chosen = message
                .filter(|m| !m.trim().is_empty())
                .map(|m| m.trim().to_owned())
                .or_else(|| text.filter(|t| !t.is_empty()))
                .or_else(|| kind.filter(|k| !k.trim().is_empty()));
            case.keep_first_message(chosen, limit);
        }
        Ok(())
    }

    fn close_case(&mut self) {
        let Some(c) = self.case.take() else {
            return;
        };
        let (primary, record) = c.close();
        if let Some(Frame::Container(cont)) = self.frames.last_mut() {
            cont.seen.tally(primary);
            cont.grouper.add(record);
        }
    }

    fn close(&mut self, on_case: &mut dyn FnMut(TestCase)) -> Result<(), JunitError> {
        match self.frames.pop() {
            Some(Frame::Case) => self.close_case(),
            Some(Frame::Leaf) | None => {}
            Some(Frame::Container(mut c)) => {
                self.check_counts(&c);
                c.grouper.drain(&mut self.totals, &mut *on_case);
                if let Some(Frame::Container(parent)) = self.frames.last_mut() {
                    parent.seen.add(&c.seen);
                }
                if self.spare.len() < 8 {
                    self.spare.push(std::mem::take(&mut c.grouper));
                }
            }
        }
        Ok(())
    }

    fn check_counts(&mut self, c: &Container) {
        let d = c.declared;
        let s = c.seen;
        let skipped = match (d.skipped, d.disabled) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        let checks = [
            ("tests", d.tests, s.tests, "test cases"),
            ("failures", d.failures, s.failures, "failed test cases"),
            ("errors", d.errors, s.errors, "test cases with errors"),
            ("skipped", skipped, s.skipped, "skipped test cases"),
        ];
        let mut diffs = Vec::new();
        for (attr, declared, seen, what) in checks {
            if let Some(v) = declared
                && v != seen
            {
                diffs.push(format!("{attr}=\"{v}\" but has {seen} {what}"));
            }
        }
        if diffs.is_empty() {
            return;
        }
        let label = match &c.name {
            Some(n) => format!("`<{} name=\"{}\">`", c.tag, n),
            None => format!("`<{}>`", c.tag),
        };
        self.warn_at(
            c.line,
            c.column,
            format!(
                "{label} declares {}; counting the test cases",
                diffs.join(", ")
            ),
        );
    }

    /// With `keep_going`, after an error: hands out every complete test case still
    /// pending in open suites.
    pub(crate) fn flush(&mut self, on_case: &mut dyn FnMut(TestCase)) {
        while let Some(f) = self.frames.pop() {
            if let Frame::Container(mut c) = f {
                c.grouper.drain(&mut self.totals, &mut *on_case);
            }
        }
    }

    pub(crate) fn summary(&mut self) -> ParseSummary {
        let mut warnings = std::mem::take(&mut self.warnings);
        if self.suppressed > 0 {
            let (line, column) = warnings.last().map_or((1, 1), |w| (w.line, w.column));
            warnings.push(Warning {
                line,
                column,
                message: format!("{} more warnings not shown", self.suppressed),
            });
        }
        ParseSummary {
            totals: self.totals,
            warnings,
        }
    }

    pub(crate) fn partial(&mut self) -> FileReport {
        let s = self.summary();
        FileReport {
            path: self.path.clone(),
            cases: Vec::new(),
            totals: s.totals,
            warnings: s.warnings,
        }
    }
}

/// Turns kept raw content (text with references, CDATA between NUL marks) into a
/// trimmed message.
fn decode_content(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for (i, part) in raw.split('\u{0}').enumerate() {
        if i % 2 == 0 {
            dialect::decode_text(part, &mut out);
        } else {
            let mut p = part;
            while let Some(j) = p.find('\r') {
                out.push_str(&p[..j]);
                out.push('\n');
                p = &p[j + 1..];
                p = p.strip_prefix('\n').unwrap_or(p);
            }
            out.push_str(p);
        }
    }
    out.trim().to_owned()
}

/// An element name as written, cut at the first space and to 64 bytes.
fn short_name(name: &str) -> &str {
    let name = name.split(char::is_whitespace).next().unwrap_or(name);
    let mut end = name.len().min(64);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn malformed_attributes(e: &BytesStart<'_>) -> JunitErrorKind {
    JunitErrorKind::Malformed(format!(
        "malformed attributes in `<{}>` (expected `name=\"value\"` pairs)",
        e.name().as_ref()
    ))
}

/// One attribute: the local part of its name and its raw (undecoded) value.
struct RawAttr<'a> {
    key: &'a str,
    value: &'a str,
}

/// The attributes of a start tag, read by quick-xml's attribute parser without its
/// duplicate check (a repeated attribute is read again): the local name and the raw
/// value of each. Yields `None` once for malformed attributes, then stops.
fn attributes<'a>(e: &'a BytesStart<'_>) -> impl Iterator<Item = Option<RawAttr<'a>>> + 'a {
    let mut attrs = e.attributes();
    attrs.with_checks(false);
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let attr = match attrs.next()? {
            Ok(a) => a,
            Err(_) => {
                done = true;
                return Some(None);
            }
        };
        let key = Some(attr.key.local_name().into_inner());
        let value = match attr.value {
            std::borrow::Cow::Borrowed(v) => Some(v),
            std::borrow::Cow::Owned(_) => None,
        };
        match (key, value) {
            (Some(key), Some(value)) => Some(Some(RawAttr { key, value })),
            _ => {
                done = true;
                Some(None)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(tag: &str) -> Vec<Option<(String, String)>> {
        let e = BytesStart::from_content(tag, "t".len());
        attributes(&e)
            .map(|a| a.map(|a| (a.key.to_owned(), a.value.to_owned())))
            .collect()
    }

    #[test]
    fn attributes_are_read_with_local_names() {
        let some = |k: &str, v: &str| Some((k.to_owned(), v.to_owned()));
        assert_eq!(
            scan("t a=\"1\" j:b = 'x\"y'\n\tc=\"\""),
            [some("a", "1"), some("b", "x\"y"), some("c", "")]
        );
        assert_eq!(scan("t   "), []);
        assert_eq!(scan("t a=\"1\" a=\"2\""), [some("a", "1"), some("a", "2")]);
        assert_eq!(scan("t a"), [None]);
        assert_eq!(scan("t a=1"), [None]);
        assert_eq!(scan("t a=\"1"), [None]);
        assert_eq!(scan("t a=\"é\" b='ü'"), [some("a", "é"), some("b", "ü")]);
    }
}

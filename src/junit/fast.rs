//! The fast path: a scanner for the common shape of a JUnit report that bypasses the
//! general XML event loop. `memchr` finds each `<`, start tags are read in place with a
//! strict attribute grammar, and the content that is not read (`system-out`, stack
//! traces, CDATA) is skipped by searching for its end; UTF-8 is checked once per block
//! of input, not per token.
//!
//! JUnit text is written by the change under test, so this scanner is a security
//! boundary: it accepts only what it fully understands and then gives exactly the full
//! reader's result (the same attribute decoding, time and line rules and the same
//! [`Grouper`]). On anything else it declines, and the caller runs the full reader from
//! the start, which also gives every error its position. It declines on:
//!
//! - a byte order mark, a declaration with an encoding other than UTF-8, a DOCTYPE,
//!   comments, processing instructions, `<!` of any kind but CDATA inside skipped content;
//! - bytes that are not UTF-8, an input that ends early, a second root element, text
//!   that is not whitespace outside skipped content;
//! - a namespace prefix, an element it does not know where the full reader looks at
//!   elements, a `<failure>`/`<error>` directly inside a suite, an end tag that is not
//!   exactly `</name>` of the open element, a tag larger than its window;
//! - attributes that are not `name="value"` pairs separated by whitespace, a repeated
//!   attribute, `<` or `>` in a value, a reference other than the five predefined
//!   entities and character references;
//! - whatever the full reader would warn about (a test case without a `name`, an
//!   unreadable `time`, suite counts that do not match the elements), so that the
//!   warnings come from the full reader;
//! - a failure message that would come from the element's text (no `message` attribute)
//!   when test cases are built.

use std::io::{self, Read};

use memchr::memmem;

use super::ParseOptions;
use super::case::{TestCase, Totals};
use super::dialect::{self, decode_attr};
use super::group::Grouper;
use super::head::{CaseAttr, CaseBuild, CaseHead, Seen, Verdict};

/// The fast path does not read this input: run the full reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declined;

type Res<T> = Result<T, Declined>;

/// Size of the window over the input; also the largest tag read.
const WINDOW: usize = 256 * 1024;
/// Deepest nesting of suites (below the full reader's limit).
const MAX_DEPTH: usize = 200;
/// Deepest nesting of elements inside skipped content.
const MAX_SKIP_DEPTH: usize = 64;
/// Most attributes in one tag.
const MAX_ATTRS: usize = 64;

/// Totals only, as [`super::count`] gives them (with no warnings).
pub(crate) fn count<R: Read>(reader: R, opts: &ParseOptions) -> Res<Totals> {
    let mut s = Scanner::new(reader, opts, true);
    s.run()?;
    Ok(s.totals)
}

/// Every logical test and the totals, as [`super::parse`] gives them (with no
/// warnings). Nothing is handed out before the whole input is accepted.
pub(crate) fn parse<R: Read>(reader: R, opts: &ParseOptions) -> Res<(Vec<TestCase>, Totals)> {
    let mut s = Scanner::new(reader, opts, false);
    s.run()?;
    Ok((s.cases, s.totals))
}

/// A window over the input, UTF-8 checked as it is read.
struct Window<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// `buf[..checked]` is known to be UTF-8 (up to a character cut by `end`).
    checked: usize,
    eof: bool,
}

impl<R: Read> Window<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0u8; WINDOW].into_boxed_slice(),
            pos: 0,
            end: 0,
            checked: 0,
            eof: false,
        }
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn advance(&mut self, n: usize) {
        debug_assert!(self.pos + n <= self.end);
        self.pos += n;
    }

    /// Reads more input after the unconsumed bytes; false when there is none (end of
    /// input, or the window is full of unconsumed bytes).
    fn more(&mut self) -> Res<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.checked -= self.pos;
            self.pos = 0;
        }
        let before = self.end;
        while self.end < self.buf.len() {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => {
                    self.end += k;
                    if self.end - before >= WINDOW / 4 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Declined),
            }
        }
        match std::str::from_utf8(&self.buf[self.checked..self.end]) {
            Ok(_) => self.checked = self.end,
            Err(e) if e.error_len().is_none() && !self.eof => self.checked += e.valid_up_to(),
            Err(_) => return Err(Declined),
        }
        Ok(self.end > before)
    }

    /// Makes at least `n` bytes available; false if the input ends first.
    fn ensure(&mut self, n: usize) -> Res<bool> {
        while self.end - self.pos < n {
            if !self.more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The elements the scanner tells apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Elem {
    Testsuites,
    Testsuite,
    Testcase,
    Failure,
    Error,
    Skipped,
    FlakyFailure,
    FlakyError,
    RerunFailure,
    RerunError,
    /// `system-out`, `system-err`, `properties`: content skipped.
    Skip(&'static [u8]),
    Other,
}

impl Elem {
    fn of(name: &[u8]) -> Self {
        match name {
            b"testsuites" => Elem::Testsuites,
            b"testsuite" => Elem::Testsuite,
            b"testcase" => Elem::Testcase,
            b"failure" => Elem::Failure,
            b"error" => Elem::Error,
            b"skipped" => Elem::Skipped,
            b"flakyFailure" => Elem::FlakyFailure,
            b"flakyError" => Elem::FlakyError,
            b"rerunFailure" => Elem::RerunFailure,
            b"rerunError" => Elem::RerunError,
            b"system-out" => Elem::Skip(b"system-out"),
            b"system-err" => Elem::Skip(b"system-err"),
            b"properties" => Elem::Skip(b"properties"),
            _ => Elem::Other,
        }
    }

    /// The name of a result child.
    fn name(self) -> &'static [u8] {
        match self {
            Elem::Failure => b"failure",
            Elem::Error => b"error",
            Elem::Skipped => b"skipped",
            Elem::FlakyFailure => b"flakyFailure",
            Elem::FlakyError => b"flakyError",
            Elem::RerunFailure => b"rerunFailure",
            Elem::RerunError => b"rerunError",
            Elem::Testsuites => b"testsuites",
            Elem::Testsuite => b"testsuite",
            Elem::Testcase => b"testcase",
            Elem::Skip(name) => name,
            Elem::Other => b"",
        }
    }

    fn is_record(self) -> bool {
        matches!(
            self,
            Elem::FlakyFailure | Elem::FlakyError | Elem::RerunFailure | Elem::RerunError
        )
    }

    fn carries_message(self) -> bool {
        matches!(
            self,
            Elem::Failure
                | Elem::Error
                | Elem::FlakyFailure
                | Elem::FlakyError
                | Elem::RerunFailure
                | Elem::RerunError
        )
    }
}

/// One attribute of the tag just read: offsets into the tag.
#[derive(Clone, Copy)]
struct Attr {
    key: (usize, usize),
    value: (usize, usize),
    /// No `&` or `\r`: the value is used as written.
    plain: bool,
}

/// A byte a value must not hold (`<`, `>`): the tag is declined.
const VALUE_BAD: u8 = 1;
/// A byte that makes a value need decoding (`&`, `\r`).
const VALUE_DECODE: u8 = 2;

/// What each byte means inside an attribute value.
const VALUE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'<' as usize] = VALUE_BAD;
    t[b'>' as usize] = VALUE_BAD;
    t[b'&' as usize] = VALUE_DECODE;
    t[b'\r' as usize] = VALUE_DECODE;
    t
};

/// A start tag read in place.
struct Tag {
    name_end: usize,
    len: usize,
    empty: bool,
}

enum TagRead {
    Tag(Tag),
    /// The tag runs past the bytes given.
    Incomplete,
    /// Not in the accepted grammar.
    Bad,
}

const WS: u8 = 1;
const NAME_START: u8 = 2;
const NAME: u8 = 4;

/// What each byte can be in a tag: whitespace, the start of a name, part of a name.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            t[b] = WS;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            t[b] = NAME_START | NAME;
        }
        if c.is_ascii_digit() || c == b'-' || c == b'.' {
            t[b] = NAME;
        }
        b += 1;
    }
    t
};

#[inline]
fn is_ws(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & WS != 0
}

#[inline]
fn is_name_start(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & NAME_START != 0
}

#[inline]
fn is_name_byte(b: u8) -> bool {
    BYTE_CLASS[usize::from(b)] & NAME != 0
}

/// Reads a start tag at the start of `s` (which starts with `<`): a name, then
/// `key="value"` or `key='value'` pairs each after whitespace, then `>` or `/>`.
fn read_tag(s: &[u8], attrs: &mut Vec<Attr>) -> TagRead {
    attrs.clear();
    let mut i = 1;
    match s.get(i) {
        None => return TagRead::Incomplete,
        Some(&b) if is_name_start(b) => i += 1,
        Some(_) => return TagRead::Bad,
    }
    while i < s.len() && is_name_byte(s[i]) {
        i += 1;
    }
    let name_end = i;
    loop {
        let Some(&b) = s.get(i) else {
            return TagRead::Incomplete;
        };
        match b {
            b'>' => {
                return TagRead::Tag(Tag {
                    name_end,
                    len: i + 1,
                    empty: false,
                });
            }
            b'/' => {
                return match s.get(i + 1) {
                    None => TagRead::Incomplete,
                    Some(b'>') => TagRead::Tag(Tag {
                        name_end,
                        len: i + 2,
                        empty: true,
                    }),
                    Some(_) => TagRead::Bad,
                };
            }
            _ if is_ws(b) => {}
            _ => return TagRead::Bad,
        }
        while i < s.len() && is_ws(s[i]) {
            i += 1;
        }
        let Some(&b) = s.get(i) else {
            return TagRead::Incomplete;
        };
        if b == b'>' || b == b'/' {
            continue;
        }
        if !is_name_start(b) {
            return TagRead::Bad;
        }
        let ks = i;
        while i < s.len() && is_name_byte(s[i]) {
            i += 1;
        }
        let ke = i;
        while i < s.len() && is_ws(s[i]) {
            i += 1;
        }
        match s.get(i) {
            None => return TagRead::Incomplete,
            Some(b'=') => i += 1,
            Some(_) => return TagRead::Bad,
        }
        while i < s.len() && is_ws(s[i]) {
            i += 1;
        }
        let q = match s.get(i) {
            None => return TagRead::Incomplete,
            Some(&q @ (b'"' | b'\'')) => q,
            Some(_) => return TagRead::Bad,
        };
        let vs = i + 1;
        let Some((len, class)) = scan_value(&s[vs..], q) else {
            return TagRead::Incomplete;
        };
        let ve = vs + len;
        if class & VALUE_BAD != 0 {
            return TagRead::Bad;
        }
        let plain = class & VALUE_DECODE == 0;
        if !plain && !references_ok(&s[vs..ve]) {
            return TagRead::Bad;
        }
        if attrs.len() >= MAX_ATTRS {
            return TagRead::Bad;
        }
        attrs.push(Attr {
            key: (ks, ke),
            value: (vs, ve),
            plain,
        });
        i = ve + 1;
    }
}

/// One pass over an attribute value: the length up to its closing quote `q`, and the
/// classes of its bytes (`<` or `>`; whether it needs decoding). `None` when the quote
/// is not in `v`. On x86-64 sixteen bytes are looked at a time (SSE2, part of the
/// baseline): attribute values are mostly 5 to 40 bytes, which a byte loop takes one by
/// one. Kept out of line: inside `read_tag` the loop lost its registers to the rest of
/// the tag.
#[inline(never)]
fn scan_value(v: &[u8], q: u8) -> Option<(usize, u8)> {
    #[cfg(target_arch = "x86_64")]
    {
        let (from, class, found) = scan_value_sse2(v, q);
        if found {
            return Some((from, class));
        }
        scan_value_bytes(&v[from..], q, class).map(|(len, c)| (from + len, c))
    }
    #[cfg(not(target_arch = "x86_64"))]
    scan_value_bytes(v, q, 0)
}

/// [`scan_value`] one byte at a time, starting with the classes `class` already seen.
fn scan_value_bytes(v: &[u8], q: u8, mut class: u8) -> Option<(usize, u8)> {
    for (k, &c) in v.iter().enumerate() {
        if c == q {
            return Some((k, class));
        }
        class |= VALUE_CLASS[usize::from(c)];
    }
    None
}

/// [`scan_value`] over whole 16-byte blocks of `v`: `(position of the quote, classes
/// before it, true)` when a block holds it, else `(where the blocks end, classes seen,
/// false)` for [`scan_value_bytes`] to finish.
#[cfg(target_arch = "x86_64")]
fn scan_value_sse2(v: &[u8], q: u8) -> (usize, u8, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut k = 0;
    let mut class = 0u8;
    // SAFETY: SSE2 is enabled on every x86-64 target; each load reads the 16 bytes
    // `v[k..k + 16]`, inside `v` by the loop condition, unaligned loads allowed.
    unsafe {
        let quote = _mm_set1_epi8(q as i8);
        let lt = _mm_set1_epi8(b'<' as i8);
        let gt = _mm_set1_epi8(b'>' as i8);
        let amp = _mm_set1_epi8(b'&' as i8);
        let cr = _mm_set1_epi8(b'\r' as i8);
        while k + 16 <= v.len() {
            let x = _mm_loadu_si128(v.as_ptr().add(k).cast::<__m128i>());
            let at_quote = _mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) as u32;
            let bad = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, lt), _mm_cmpeq_epi8(x, gt)))
                as u32;
            let decode =
                _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, amp), _mm_cmpeq_epi8(x, cr)))
                    as u32;
            // Only the bytes before the quote count.
            let before = if at_quote == 0 {
                u32::MAX
            } else {
                (1u32 << at_quote.trailing_zeros()) - 1
            };
            if bad & before != 0 {
                class |= VALUE_BAD;
            }
            if decode & before != 0 {
                class |= VALUE_DECODE;
            }
            if at_quote != 0 {
                return (k + at_quote.trailing_zeros() as usize, class, true);
            }
            k += 16;
        }
    }
    (k, class, false)
}

/// Whether every `&` in an attribute value starts a reference the decoder knows.
fn references_ok(v: &[u8]) -> bool {
    let mut rest = v;
    while let Some(i) = memchr::memchr(b'&', rest) {
        let tail = &rest[i..];
        let cut = tail.len().min(12);
        let Ok(s) = std::str::from_utf8(&tail[..cut])
            .or_else(|e| std::str::from_utf8(&tail[..e.valid_up_to()]))
        else {
            return false;
        };
        match dialect::decode_reference(s) {
            Some((_, used)) => rest = &tail[used..],
            None => return false,
        }
    }
    true
}

/// Counts a suite declares in its attributes.
#[derive(Default, Clone, Copy)]
struct Declared {
    tests: Option<u64>,
    failures: Option<u64>,
    errors: Option<u64>,
    skipped: Option<u64>,
    disabled: Option<u64>,
}

struct Container {
    root_list: bool,
    pytest: bool,
    declared: Declared,
    seen: Seen,
    grouper: Grouper,
}

enum Frame {
    Container(Box<Container>),
    Case,
}

struct Scanner<'o, R> {
    win: Window<R>,
    opts: &'o ParseOptions,
    count_only: bool,
    frames: Vec<Frame>,
    case: Option<CaseBuild>,
    roots: u32,
    totals: Totals,
    cases: Vec<TestCase>,
    attrs: Vec<Attr>,
    spare: Vec<Grouper>,
    /// Names of the elements open inside skipped content, back to back.
    skip_names: Vec<u8>,
    skip_lens: Vec<usize>,
    /// The attributes of the `<testcase>` being opened (buffers reused).
    head: CaseHead,
    cdata_end: memmem::Finder<'static>,
}

impl<'o, R: Read> Scanner<'o, R> {
    fn new(reader: R, opts: &'o ParseOptions, count_only: bool) -> Self {
        Self {
            win: Window::new(reader),
            opts,
            count_only,
            frames: Vec::new(),
            case: None,
            roots: 0,
            totals: Totals::default(),
            cases: Vec::new(),
            attrs: Vec::with_capacity(16),
            spare: Vec::new(),
            skip_names: Vec::new(),
            skip_lens: Vec::new(),
            head: CaseHead::new(count_only),
            cdata_end: memmem::Finder::new(b"]]>"),
        }
    }

    fn run(&mut self) -> Res<()> {
        self.prolog()?;
        loop {
            // Between tags outside skipped content: whitespace only.
            let Some(b) = self.skip_ws()? else {
                return if self.frames.is_empty() && self.roots == 1 {
                    Ok(())
                } else {
                    Err(Declined)
                };
            };
            if b != b'<' || !self.win.ensure(2)? {
                return Err(Declined);
            }
            match self.win.avail()[1] {
                b'/' => self.end_tag()?,
                b'!' | b'?' => return Err(Declined),
                _ => self.start_tag()?,
            }
        }
    }

    /// An optional `<?xml …?>` at the very start (UTF-8 or no encoding named).
    fn prolog(&mut self) -> Res<()> {
        self.win.ensure(6)?;
        let a = self.win.avail();
        if a.is_empty() || a.starts_with(b"\xEF\xBB\xBF") {
            return Err(Declined);
        }
        if !a.starts_with(b"<?xml") {
            return Ok(());
        }
        if !is_ws(a.get(5).copied().unwrap_or(0)) {
            return Err(Declined);
        }
        let end = loop {
            let a = self.win.avail();
            if let Some(i) = memmem::find(a, b"?>") {
                break i;
            }
            if a.len() >= 1024 || !self.win.more()? {
                return Err(Declined);
            }
        };
        let decl = &self.win.avail()[5..end];
        if decl.contains(&b'<') || decl.contains(&b'>') {
            return Err(Declined);
        }
        if let Some(i) = memmem::find(decl, b"encoding") {
            let rest = &decl[i + 8..];
            let rest = trim_ws(rest);
            let rest = rest.strip_prefix(b"=").map(trim_ws).ok_or(Declined)?;
            let (q, rest) = rest.split_first().ok_or(Declined)?;
            if !matches!(q, b'"' | b'\'') {
                return Err(Declined);
            }
            let close = memchr::memchr(*q, rest).ok_or(Declined)?;
            let enc = &rest[..close];
            if !(enc.eq_ignore_ascii_case(b"utf-8") || enc.eq_ignore_ascii_case(b"utf8")) {
                return Err(Declined);
            }
        }
        self.win.advance(end + 2);
        Ok(())
    }

    /// Consumes whitespace; the next byte, or `None` at the end of the input.
    fn skip_ws(&mut self) -> Res<Option<u8>> {
        loop {
            let a = self.win.avail();
            if let Some(i) = a.iter().position(|&b| !is_ws(b)) {
                self.win.advance(i);
                return Ok(Some(self.win.avail()[0]));
            }
            let n = a.len();
            self.win.advance(n);
            if !self.win.more()? {
                return Ok(None);
            }
        }
    }

    /// Reads the start tag at the window's position into `self.attrs`.
    fn tag(&mut self) -> Res<Tag> {
        loop {
            match read_tag(self.win.avail(), &mut self.attrs) {
                TagRead::Tag(t) => return Ok(t),
                TagRead::Bad => return Err(Declined),
                TagRead::Incomplete => {
                    if !self.win.more()? {
                        return Err(Declined);
                    }
                }
            }
        }
    }

    /// The attribute `i` of the tag at the window's position: key and raw value.
    fn attr(&self, i: usize) -> Res<(&[u8], &str)> {
        let a = self.attrs[i];
        let t = self.win.avail();
        let value = std::str::from_utf8(&t[a.value.0..a.value.1]).map_err(|_| Declined)?;
        Ok((&t[a.key.0..a.key.1], value))
    }

    fn start_tag(&mut self) -> Res<()> {
        let tag = self.tag()?;
        let elem = Elem::of(&self.win.avail()[1..tag.name_end]);
        let top = match self.frames.last() {
            None => None,
            Some(Frame::Container(_)) => Some(true),
            Some(Frame::Case) => Some(false),
        };
        match (top, elem) {
            (None, Elem::Testsuites | Elem::Testsuite) if self.roots == 0 => {
                self.roots = 1;
                self.open_container(&tag, elem == Elem::Testsuites)
            }
            (Some(true), Elem::Testsuites | Elem::Testsuite) => {
                if self.frames.len() >= MAX_DEPTH {
                    return Err(Declined);
                }
                self.open_container(&tag, elem == Elem::Testsuites)
            }
            (Some(true), Elem::Testcase) => self.open_case(&tag),
            (Some(_), Elem::Skip(name)) => {
                self.win.advance(tag.len);
                if !tag.empty {
                    self.skip_content(name)?;
                }
                Ok(())
            }
            (
                Some(false),
                Elem::Failure
                | Elem::Error
                | Elem::Skipped
                | Elem::FlakyFailure
                | Elem::FlakyError
                | Elem::RerunFailure
                | Elem::RerunError,
            ) => self.case_child(&tag, elem),
            _ => Err(Declined),
        }
    }

    fn end_tag(&mut self) -> Res<()> {
        let name: &[u8] = match self.frames.last() {
            Some(Frame::Container(c)) if c.root_list => b"testsuites",
            Some(Frame::Container(_)) => b"testsuite",
            Some(Frame::Case) => b"testcase",
            None => return Err(Declined),
        };
        self.expect_end(name)?;
        match self.frames.pop() {
            Some(Frame::Case) => self.close_case(),
            Some(Frame::Container(c)) => self.close_container(c),
            None => Err(Declined),
        }
    }

    /// Consumes exactly `</name>` at the window's position.
    fn expect_end(&mut self, name: &[u8]) -> Res<()> {
        if !self.win.ensure(name.len() + 3)? {
            return Err(Declined);
        }
        let a = self.win.avail();
        if a.starts_with(b"</") && a[2..].starts_with(name) && a[2 + name.len()] == b'>' {
            self.win.advance(name.len() + 3);
            Ok(())
        } else {
            Err(Declined)
        }
    }

    fn open_container(&mut self, tag: &Tag, root_list: bool) -> Res<()> {
        let mut declared = Declared::default();
        let mut name = None;
        let mut seen_keys = 0u8;
        for i in 0..self.attrs.len() {
            let (key, value) = self.attr(i)?;
            let (bit, slot) = match key {
                b"name" => {
                    name = Some(decode_attr(value).into_owned());
                    (1, None)
                }
                b"tests" => (2, Some(&mut declared.tests)),
                b"failures" => (4, Some(&mut declared.failures)),
                b"errors" => (8, Some(&mut declared.errors)),
                b"skipped" => (16, Some(&mut declared.skipped)),
                b"disabled" => (32, Some(&mut declared.disabled)),
                _ => continue,
            };
            if seen_keys & bit != 0 {
                return Err(Declined);
            }
            seen_keys |= bit;
            if let Some(slot) = slot {
                *slot = value.trim().parse().ok();
            }
        }
        let parent_pytest = self.frames.iter().any(|f| match f {
            Frame::Container(c) => c.pytest,
            Frame::Case => false,
        });
        let pytest = parent_pytest
            || matches!(
                (root_list, name.as_deref()),
                (true, Some("pytest tests")) | (false, Some("pytest"))
            );
        self.win.advance(tag.len);
        let c = Box::new(Container {
            root_list,
            pytest,
            declared,
            seen: Seen::default(),
            grouper: self.spare.pop().unwrap_or_default(),
        });
        if tag.empty {
            self.close_container(c)
        } else {
            self.frames.push(Frame::Container(c));
            Ok(())
        }
    }

    fn close_container(&mut self, mut c: Box<Container>) -> Res<()> {
        let d = c.declared;
        let s = c.seen;
        let skipped = match (d.skipped, d.disabled) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        let checks = [
            (d.tests, s.tests),
            (d.failures, s.failures),
            (d.errors, s.errors),
            (skipped, s.skipped),
        ];
        if checks.iter().any(|(d, s)| d.is_some_and(|d| d != *s)) {
            // The full reader warns.
            return Err(Declined);
        }
        let cases = &mut self.cases;
        c.grouper.drain(&mut self.totals, |tc| cases.push(tc));
        if let Some(Frame::Container(parent)) = self.frames.last_mut() {
            parent.seen.add(&s);
        }
        if self.spare.len() < 8 {
            self.spare.push(std::mem::take(&mut c.grouper));
        }
        Ok(())
    }

    fn open_case(&mut self, tag: &Tag) -> Res<()> {
        self.head.clear();
        let t = self.win.avail();
        for a in &self.attrs {
            if let Some(which) = CaseAttr::of(&t[a.key.0..a.key.1]) {
                self.head
                    .take(which, &t[a.value.0..a.value.1], !a.plain)
                    .map_err(|_| Declined)?;
            }
        }
        if !self.head.has_name() || self.head.repeated() {
            // The full reader warns, or reads a repeated attribute its own way.
            return Err(Declined);
        }
        let pytest = matches!(self.frames.last(), Some(Frame::Container(c)) if c.pytest);
        self.case = Some(CaseBuild::start(
            &mut self.head,
            pytest,
            self.count_only,
            false,
        ));
        self.win.advance(tag.len);
        if tag.empty {
            self.close_case()
        } else {
            self.frames.push(Frame::Case);
            Ok(())
        }
    }

    fn case_child(&mut self, tag: &Tag, child: Elem) -> Res<()> {
        let mut message: Option<String> = None;
        let mut kind: Option<String> = None;
        let mut record_time = 0.0;
        let mut seen_keys = 0u8;
        for i in 0..self.attrs.len() {
            let (key, value) = self.attr(i)?;
            let bit = match key {
                b"message" => 1,
                b"type" => 2,
                b"time" => 4,
                _ => continue,
            };
            if seen_keys & bit != 0 {
                return Err(Declined);
            }
            seen_keys |= bit;
            // Counting reads only what decides a status: a `<skipped>` message (pytest's
            // strict xpass) and whether a retry record's time is readable.
            match bit {
                1 if !self.count_only || child == Elem::Skipped => {
                    message = Some(decode_attr(value).into_owned());
                }
                2 if !self.count_only => kind = Some(decode_attr(value).into_owned()),
                4 if child.is_record() && self.count_only => {
                    dialect::check_time_bytes(value.as_bytes()).map_err(|_| Declined)?;
                }
                4 if child.is_record() => {
                    record_time = dialect::parse_time(value).map_err(|_| Declined)?;
                }
                _ => {}
            }
        }
        let wants_text = !self.count_only
            && child.carries_message()
            && self.case.as_ref().is_some_and(|c| c.message.is_none())
            && message.as_deref().is_none_or(|m| m.trim().is_empty());
        self.win.advance(tag.len);
        if !tag.empty && self.skip_content(child.name())? && wants_text {
            // The message would come from the text: the full reader keeps it.
            return Err(Declined);
        }
        let Some(case) = self.case.as_mut() else {
            return Err(Declined);
        };
        let verdict = match child {
            Elem::Failure => Verdict::Failure,
            Elem::Error => Verdict::Error,
            Elem::Skipped => Verdict::Skipped,
            Elem::FlakyFailure | Elem::RerunFailure => Verdict::Record,
            Elem::FlakyError | Elem::RerunError => Verdict::RecordError,
            _ => return Err(Declined),
        };
        case.count(verdict, record_time, message.as_deref());
        if child.carries_message() && case.message.is_none() && !self.count_only {
            let chosen = message
                .filter(|m| !m.trim().is_empty())
                .map(|m| m.trim().to_owned())
                .or_else(|| kind.filter(|k| !k.trim().is_empty()));
            case.keep_first_message(chosen, self.opts.max_message_bytes);
        }
        Ok(())
    }

    fn close_case(&mut self) -> Res<()> {
        let c = self.case.take().ok_or(Declined)?;
        let (primary, record) = c.close();
        let Some(Frame::Container(cont)) = self.frames.last_mut() else {
            return Err(Declined);
        };
        cont.seen.tally(primary);
        if let Some(key) = record.key {
            cont.grouper.add_key(key, record.attempts);
            return Ok(());
        }
        cont.grouper.add(record);
        Ok(())
    }

    /// Consumes the content of the element `name` whose start tag was just read,
    /// through its end tag. True when it had anything but whitespace (text, CDATA or
    /// elements).
    fn skip_content(&mut self, name: &[u8]) -> Res<bool> {
        self.skip_names.clear();
        self.skip_lens.clear();
        let mut content = false;
        loop {
            let a = self.win.avail();
            let stop = memchr::memchr(b'<', a);
            let run = &a[..stop.unwrap_or(a.len())];
            if !content && !run.iter().all(|&b| is_ws(b)) {
                content = true;
            }
            let Some(stop) = stop else {
                let n = a.len();
                self.win.advance(n);
                if !self.win.more()? {
                    return Err(Declined);
                }
                continue;
            };
            self.win.advance(stop);
            if !self.win.ensure(9)? {
                // Too short for CDATA; an end tag may still fit.
                if !self.win.ensure(2)? {
                    return Err(Declined);
                }
            }
            let a = self.win.avail();
            if a.starts_with(b"<![CDATA[") {
                content = true;
                self.win.advance(9);
                self.skip_cdata()?;
            } else if a.starts_with(b"</") {
                match self.skip_lens.pop() {
                    None => {
                        self.expect_end(name)?;
                        return Ok(content);
                    }
                    Some(len) => {
                        let at = self.skip_names.len() - len;
                        let inner = self.skip_names.split_off(at);
                        self.expect_end(&inner)?;
                    }
                }
            } else if a.len() >= 2 && (a[1] == b'!' || a[1] == b'?') {
                return Err(Declined);
            } else {
                content = true;
                let tag = self.tag()?;
                let inner = &self.win.avail()[1..tag.name_end];
                if inner.contains(&b':') {
                    return Err(Declined);
                }
                if !tag.empty {
                    if self.skip_lens.len() >= MAX_SKIP_DEPTH {
                        return Err(Declined);
                    }
                    self.skip_names.extend_from_slice(inner);
                    self.skip_lens.push(tag.name_end - 1);
                }
                self.win.advance(tag.len);
            }
        }
    }

    /// Consumes CDATA content through its `]]>`.
    fn skip_cdata(&mut self) -> Res<()> {
        loop {
            let a = self.win.avail();
            if let Some(i) = self.cdata_end.find(a) {
                self.win.advance(i + 3);
                return Ok(());
            }
            // Keep a tail that could start `]]>`.
            let n = a.len().saturating_sub(2);
            self.win.advance(n);
            if !self.win.more()? {
                return Err(Declined);
            }
        }
    }
}

fn trim_ws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ws(b)).unwrap_or(s.len());
    let s = &s[start..];
    let end = s.iter().rposition(|&b| !is_ws(b)).map_or(0, |i| i + 1);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(s: &str) -> Res<Totals> {
        count(s.as_bytes(), &ParseOptions::default())
    }

    #[test]
    fn a_plain_report_is_read() {
        let t = counted(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="s" tests="3" failures="1" skipped="1">
  <properties><property name="a" value="b"/></properties>
  <testcase classname="c" name="a &amp; b" time="0.5"><system-out><![CDATA[x</testsuite>]]></system-out></testcase>
  <testcase classname="c" name="f"><failure message="m">trace</failure></testcase>
  <testcase classname="c" name="s"><skipped/></testcase>
</testsuite></testsuites>
"#,
        )
        .unwrap();
        assert_eq!((t.tests, t.passed, t.failed, t.skipped), (3, 1, 1, 1));
    }

    #[test]
    fn unusual_input_is_declined() {
        for doc in [
            "",
            "\u{FEFF}<testsuite/>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><testsuite/>",
            "<!DOCTYPE x><testsuite/>",
            "<testsuite><!-- <testcase name=\"x\"/> --></testsuite>",
            "<testsuite><?pi <testcase name=\"x\"/> ?></testsuite>",
            "<testsuite><testcase name=\"a>b\"/></testsuite>",
            "<testsuite><testcase name=\"a&bogus;\"/></testsuite>",
            "<testsuite><testcase name=\"a\" name=\"b\"/></testsuite>",
            "<testsuite><testcase/></testsuite>",
            "<testsuite><testcase name=\"a\" time=\"x\"/></testsuite>",
            "<testsuite tests=\"2\"><testcase name=\"a\"/></testsuite>",
            "<j:testsuite><testcase name=\"a\"/></j:testsuite>",
            "<testsuite><testcase j:name=\"a\"/></testsuite>",
            "<testsuite><weird/></testsuite>",
            "<testsuite><error/></testsuite>",
            "<testsuite></testsuites>",
            "<testsuite ></testsuite >",
            "<testsuite>text</testsuite>",
            "<testsuite/><testsuite/>",
            "<testsuite><testcase name=\"a\">",
            "<testsuite><testcase name=\"a\"><system-out><![CDATA[x]]</system-out></testcase></testsuite>",
        ] {
            assert_eq!(counted(doc), Err(Declined), "{doc:?}");
        }
        let bad_utf8 =
            b"<testsuite><testcase name=\"a\"><system-out>\xFF</system-out></testcase></testsuite>";
        assert_eq!(
            count(&bad_utf8[..], &ParseOptions::default()),
            Err(Declined)
        );
    }

    #[test]
    fn text_messages_are_left_to_the_full_reader_when_cases_are_built() {
        let doc = "<testsuite><testcase name=\"a\"><failure>trace</failure></testcase></testsuite>";
        assert!(parse(doc.as_bytes(), &ParseOptions::default()).is_err());
        assert!(counted(doc).is_ok());
        let doc = "<testsuite><testcase name=\"a\"><failure type=\"T\"> </failure></testcase></testsuite>";
        let (cases, _) = parse(doc.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(cases[0].message.as_deref(), Some("T"));
    }

    #[test]
    fn values_are_scanned_to_their_quote_with_every_byte_classed() {
        let long = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (value, q, want) in [
            (format!("{long}\""), b'"', Some((36, 0))),
            (format!("{long}'"), b'\'', Some((36, 0))),
            (format!("{long}'x\""), b'"', Some((38, 0))),
            (format!("{long}&amp;\""), b'"', Some((41, VALUE_DECODE))),
            ("abcdefgh\rijk\"".to_owned(), b'"', Some((12, VALUE_DECODE))),
            (format!("{long}<\""), b'"', Some((37, VALUE_BAD))),
            (format!("{long}>{long}\""), b'"', Some((73, VALUE_BAD))),
            ("\"".to_owned(), b'"', Some((0, 0))),
            (long.to_owned(), b'"', None),
            ("été ü\"".to_owned(), b'"', Some((8, 0))),
        ] {
            assert_eq!(scan_value(value.as_bytes(), q), want, "{value:?}");
            assert_eq!(scan_value_bytes(value.as_bytes(), q, 0), want, "{value:?}");
        }
    }

    #[test]
    fn the_block_scan_agrees_with_the_byte_scan_at_every_offset() {
        // Every special byte at every position of values long and short, with the quote
        // before, inside and after a 16-byte block, and absent.
        let specials = [b'"', b'\'', b'<', b'>', b'&', b'\r', b'a', 0xC3, 0xA9];
        for len in 0..70usize {
            for at in 0..len.max(1) {
                for &sp in &specials {
                    for &q in b"\"'" {
                        let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                        if at < len {
                            v[at] = sp;
                        }
                        assert_eq!(
                            scan_value(&v, q),
                            scan_value_bytes(&v, q, 0),
                            "len {len}, {sp:#x} at {at}, quote {q:#x}"
                        );
                        if len > 0 {
                            let mut w = v.clone();
                            let last = len - 1;
                            w[last] = q;
                            assert_eq!(
                                scan_value(&w, q),
                                scan_value_bytes(&w, q, 0),
                                "len {len}, {sp:#x} at {at}, quote {q:#x} last"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tags_across_window_ends_are_read() {
        let mut doc = String::from("<testsuites><testsuite>");
        let mut n = 0u64;
        while doc.len() < 3 * WINDOW {
            doc.push_str(&format!(
                "<testcase classname=\"c\" name=\"t{n}\"><system-out><![CDATA[{}]]></system-out></testcase>\n",
                "é".repeat(n as usize % 300)
            ));
            n += 1;
        }
        doc.push_str("</testsuite></testsuites>");
        assert_eq!(counted(&doc).unwrap().tests, n);
    }
}

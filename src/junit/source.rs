//! The byte source under the XML reader: a fixed-size buffer over any `BufRead` that
//! knows line and column of every byte still in its window, and that can skip (or keep
//! a bounded prefix of) element content without ever buffering more than its window.
//!
//! quick-xml reads markup through the [`BufRead`] impl; text, CDATA and unwanted
//! elements are consumed here directly, so a gigabyte `<system-out>` costs one linear
//! scan (UTF-8 validation and a `memchr` for `<`) and no allocation.

use std::io::{self, BufRead, Read};

use memchr::{memchr, memchr3, memmem, memrchr};

/// Size of the window over the input.
pub(crate) const BUF_CAP: usize = 256 * 1024;
/// Largest single piece of markup (a tag with its attributes, a comment, a DOCTYPE)
/// handed to the XML reader; beyond this the input is refused to keep memory bounded.
pub(crate) const MAX_MARKUP: u64 = 16 * 1024 * 1024;

/// Why reading content stopped.
#[derive(Debug)]
pub(crate) enum ContentError {
    /// The underlying reader failed.
    Io(io::Error),
    /// End of input inside the content.
    Truncated,
    /// Bytes that are not UTF-8, at this offset.
    Utf8(u64),
    /// Markup that cannot appear here, at this offset.
    Malformed(u64, &'static str),
}

impl From<io::Error> for ContentError {
    fn from(e: io::Error) -> Self {
        ContentError::Io(e)
    }
}

/// See the module documentation.
pub(crate) struct Source<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Next unconsumed byte.
    pos: usize,
    /// End of valid data.
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// 1-based line number at `buf[0]`.
    base_line: u64,
    /// File offset where the line containing `buf[0]` starts.
    base_line_start: u64,
    /// Line-count cache: `ck_line`/`ck_line_start` hold at index `ck_idx`.
    ck_idx: usize,
    ck_line: u64,
    ck_line_start: u64,
    /// Bytes from here on are kept in the window when it slides (if not too many).
    mark: usize,
    eof: bool,
    /// Offset where the markup quick-xml is reading began (for [`MAX_MARKUP`]).
    markup_start: Option<u64>,
    /// Set when [`MAX_MARKUP`] was exceeded.
    pub(crate) markup_too_long: bool,
    /// Bytes consumed outside quick-xml: its offsets plus this are file offsets.
    pub(crate) direct: u64,
    /// Searchers for the ends of CDATA, comments and processing instructions, built once.
    finders: [memmem::Finder<'static>; 3],
}

/// Whose end [`Source::scan_until`] looks for.
#[derive(Clone, Copy)]
enum Until {
    Cdata = 0,
    Comment = 1,
    Pi = 2,
}

impl Until {
    const PATTERNS: [&'static [u8]; 3] = [b"]]>", b"-->", b"?>"];

    fn pattern(self) -> &'static [u8] {
        Self::PATTERNS[self as usize]
    }
}

impl<R: BufRead> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0u8; BUF_CAP].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            base_line: 1,
            base_line_start: 0,
            ck_idx: 0,
            ck_line: 1,
            ck_line_start: 0,
            mark: 0,
            eof: false,
            markup_start: None,
            markup_too_long: false,
            direct: 0,
            finders: Until::PATTERNS.map(memmem::Finder::new),
        }
    }

    /// File offset of the next unconsumed byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Skips a UTF-8 byte order mark; returns the first bytes (up to 4) after it.
    pub(crate) fn start(&mut self) -> io::Result<&[u8]> {
        self.ensure(4)?;
        if self.avail().starts_with(b"\xEF\xBB\xBF") {
            self.advance(3);
            self.base_line_start = 3;
            self.ck_line_start = 3;
            self.ensure(4)?;
        }
        Ok(self.avail())
    }

    /// Keeps bytes from the current position in the window while possible, and starts
    /// the markup size limit, before quick-xml reads an event.
    pub(crate) fn begin_markup(&mut self) {
        self.mark = self.pos;
        self.markup_start = Some(self.offset());
    }

    /// Ends the markup size limit.
    pub(crate) fn end_markup(&mut self) {
        self.markup_start = None;
    }

    /// The unconsumed bytes in the window.
    pub(crate) fn avail(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Consumes `n` bytes outside quick-xml.
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(self.pos + n <= self.end);
        self.pos += n;
        self.direct += n as u64;
    }

    /// Makes at least `n` bytes available (fewer only at end of input); returns how
    /// many are.
    pub(crate) fn ensure(&mut self, n: usize) -> io::Result<usize> {
        if self.end - self.pos >= n || self.eof {
            return Ok(self.end - self.pos);
        }
        self.slide();
        while self.end - self.pos < n && !self.eof && self.end < self.buf.len() {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.pos)
    }

    /// Moves the window forward: drops consumed bytes before the mark (or all consumed
    /// bytes when the marked region has grown past half the window).
    fn slide(&mut self) {
        if self.pos - self.mark > BUF_CAP / 2 {
            self.mark = self.pos;
        }
        let keep = self.mark;
        if keep == 0 {
            return;
        }
        let (line, line_start) = self.line_at(keep);
        self.buf.copy_within(keep..self.end, 0);
        self.base += keep as u64;
        self.base_line = line;
        self.base_line_start = line_start;
        self.ck_idx = 0;
        self.ck_line = line;
        self.ck_line_start = line_start;
        self.pos -= keep;
        self.end -= keep;
        self.mark = 0;
    }

    /// Line and line-start offset at window index `idx`.
    fn line_at(&mut self, idx: usize) -> (u64, u64) {
        let (from, mut line, mut line_start) = if idx >= self.ck_idx {
            (self.ck_idx, self.ck_line, self.ck_line_start)
        } else {
            (0, self.base_line, self.base_line_start)
        };
        let seg = &self.buf[from..idx];
        let n = memchr::memchr_iter(b'\n', seg).count() as u64;
        if n > 0 {
            line += n;
            if let Some(last) = memrchr(b'\n', seg) {
                line_start = self.base + (from + last + 1) as u64;
            }
        }
        if idx >= self.ck_idx {
            self.ck_idx = idx;
            self.ck_line = line;
            self.ck_line_start = line_start;
        }
        (line, line_start)
    }

    /// 1-based line and column (in bytes) of a file offset. Offsets that already left
    /// the window are reported at the window's start.
    pub(crate) fn position(&mut self, offset: u64) -> (u64, u64) {
        let lo = self.base;
        let hi = self.base + self.end as u64;
        let off = offset.clamp(lo, hi);
        let (line, line_start) = self.line_at((off - lo) as usize);
        (line, off.saturating_sub(line_start) + 1)
    }

    /// Consumes a text run up to the next `<` (or end of input), checking it is UTF-8.
    /// Returns the offset of the first non-whitespace byte, if any.
    pub(crate) fn skip_text(&mut self) -> Result<Option<u64>, ContentError> {
        let mut first_non_ws = None;
        loop {
            if self.ensure(1)? == 0 {
                return Ok(first_non_ws);
            }
            let data = self.avail();
            if data[0] == b'<' {
                return Ok(first_non_ws);
            }
            let stop = memchr(b'<', data).unwrap_or(data.len());
            match data[..stop].iter().position(|b| !b.is_ascii_whitespace()) {
                // Indentation between elements: ASCII, nothing to check.
                None => {
                    self.advance(stop);
                    continue;
                }
                Some(i) if first_non_ws.is_none() => {
                    first_non_ws = Some(self.offset() + i as u64);
                }
                Some(_) => {}
            }
            let at_delim = stop < data.len();
            self.take(stop, at_delim, None, usize::MAX)?;
        }
    }

    /// Consumes `n` available bytes after checking they are UTF-8; when `keep` is given,
    /// appends them to it (while it is shorter than `limit`). A character cut by the end
    /// of the window is left for the next call unless `at_delim` says the run ended at
    /// an ASCII delimiter. Makes more input available when nothing could be consumed.
    fn take(
        &mut self,
        n: usize,
        at_delim: bool,
        keep: Option<&mut String>,
        limit: usize,
    ) -> Result<usize, ContentError> {
        let run = &self.buf[self.pos..self.pos + n];
        let ok = match std::str::from_utf8(run) {
            Ok(_) => n,
            Err(e) if e.error_len().is_none() && !at_delim => e.valid_up_to(),
            Err(e) => return Err(ContentError::Utf8(self.offset() + e.valid_up_to() as u64)),
        };
        if let Some(out) = keep
            && out.len() < limit
        {
            // Checked above: `run[..ok]` is UTF-8.
            let s = std::str::from_utf8(&run[..ok]).unwrap_or_default();
            push_bounded(out, s, limit);
        }
        self.advance(ok);
        if ok == 0 && n > 0 {
            // A character split by the window end: get more bytes.
            let have = self.end - self.pos;
            if self.ensure(have + 4)? == have {
                return Err(if self.eof {
                    ContentError::Utf8(self.offset())
                } else {
                    ContentError::Truncated
                });
            }
        }
        Ok(ok)
    }

    /// Consumes the content of the element whose start tag was just read, stopping
    /// right before its end tag. Keeps up to about `limit` bytes of the element's own
    /// text and CDATA (raw: references are decoded by the caller) in `out`; text of
    /// child elements is skipped.
    pub(crate) fn read_content(
        &mut self,
        limit: usize,
        out: &mut String,
    ) -> Result<(), ContentError> {
        let mut depth = 0u64;
        loop {
            if self.ensure(1)? == 0 {
                return Err(ContentError::Truncated);
            }
            let data = self.avail();
            if data[0] != b'<' {
                let stop = memchr(b'<', data).unwrap_or(data.len());
                let at_delim = stop < data.len();
                let keep = if depth == 0 && out.len() < limit {
                    Some(&mut *out)
                } else {
                    None
                };
                if keep.is_none() && data[..stop].iter().all(u8::is_ascii_whitespace) {
                    // Indentation not kept: ASCII, nothing to check.
                    self.advance(stop);
                    continue;
                }
                self.take(stop, at_delim, keep, limit)?;
                continue;
            }
            self.ensure(9)?;
            let data = self.avail();
            if data.starts_with(b"<![CDATA[") {
                self.advance(9);
                let keep = if depth == 0 && out.len() < limit {
                    // Mark CDATA so the caller does not decode references in it.
                    out.push('\u{0}');
                    Some(&mut *out)
                } else {
                    None
                };
                let kept = keep.is_some();
                self.scan_until(Until::Cdata, keep, limit)?;
                if kept {
                    out.push('\u{0}');
                }
            } else if data.starts_with(b"<!--") {
                self.advance(4);
                self.scan_until(Until::Comment, None, 0)?;
            } else if data.starts_with(b"<?") {
                self.advance(2);
                self.scan_until(Until::Pi, None, 0)?;
            } else if data.starts_with(b"</") {
                if depth == 0 {
                    return Ok(());
                }
                self.advance(2);
                self.scan_tag()?;
                depth -= 1;
            } else if data.starts_with(b"<!") || data.len() < 2 {
                if data.len() < 2 {
                    return Err(ContentError::Truncated);
                }
                return Err(ContentError::Malformed(
                    self.offset(),
                    "`<!` that is neither a comment nor CDATA inside an element",
                ));
            } else {
                self.advance(1);
                if !self.scan_tag()? {
                    depth += 1;
                }
            }
        }
    }

    /// Consumes bytes up to and including `pat`, checking UTF-8, keeping them in
    /// `keep` (bounded by `limit`) when given.
    fn scan_until(
        &mut self,
        until: Until,
        mut keep: Option<&mut String>,
        limit: usize,
    ) -> Result<(), ContentError> {
        let pat = until.pattern();
        loop {
            let have = self.ensure(pat.len())?;
            if have < pat.len() {
                return Err(ContentError::Truncated);
            }
            let data = &self.buf[self.pos..self.end];
            if let Some(i) = self.finders[until as usize].find(data) {
                self.take_all(i, true, keep.as_deref_mut(), limit)?;
                self.advance(pat.len());
                return Ok(());
            }
            // Keep a tail that could start the pattern.
            let n = data.len() + 1 - pat.len();
            self.take(n, false, keep.as_deref_mut(), limit)?;
        }
    }

    /// Like [`take`](Self::take) but for a run ending at a delimiter: consumes all `n`.
    fn take_all(
        &mut self,
        n: usize,
        at_delim: bool,
        keep: Option<&mut String>,
        limit: usize,
    ) -> Result<(), ContentError> {
        let got = self.take(n, at_delim, keep, limit)?;
        debug_assert_eq!(got, n);
        Ok(())
    }

    /// Consumes the rest of a tag (after `<` or `</`) through its `>`, honouring quoted
    /// attribute values. Returns true for a self-closing tag (`/>`).
    fn scan_tag(&mut self) -> Result<bool, ContentError> {
        let mut quote: Option<u8> = None;
        let mut prev = 0u8;
        loop {
            if self.ensure(1)? == 0 {
                return Err(ContentError::Truncated);
            }
            let data = self.avail();
            let hit = match quote {
                Some(q) => memchr(q, data),
                None => memchr3(b'>', b'"', b'\'', data),
            };
            match hit {
                Some(i) => {
                    let c = data[i];
                    let before = if i > 0 { data[i - 1] } else { prev };
                    self.take_all(i, true, None, 0)?;
                    self.advance(1);
                    match quote {
                        Some(_) => quote = None,
                        None if c == b'>' => return Ok(before == b'/'),
                        None => quote = Some(c),
                    }
                    prev = c;
                }
                None => {
                    let n = data.len();
                    let last = data[n - 1];
                    let got = self.take(n, false, None, 0)?;
                    if got == n {
                        prev = last;
                    }
                }
            }
        }
    }
}

/// Appends `s` to `out` without letting `out` grow past `limit` bytes (cut at a
/// character boundary).
pub(crate) fn push_bounded(out: &mut String, s: &str, limit: usize) {
    let room = limit.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
    } else {
        let mut cut = room;
        while cut > 0 && !s.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&s[..cut]);
    }
}

impl<R: BufRead> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let data = self.fill_buf()?;
        let n = data.len().min(out.len());
        out[..n].copy_from_slice(&data[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Some(start) = self.markup_start
            && self.offset() - start > MAX_MARKUP
        {
            self.markup_too_long = true;
            return Err(io::Error::other("markup too long"));
        }
        if self.pos == self.end {
            self.ensure(1)?;
        }
        Ok(self.avail())
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(s: &[u8]) -> Source<&[u8]> {
        Source::new(s)
    }

    #[test]
    fn positions_count_lines_and_byte_columns() {
        let mut s = src(b"ab\ncd\n\nxyz");
        s.ensure(100).unwrap();
        assert_eq!(s.position(0), (1, 1));
        assert_eq!(s.position(4), (2, 2));
        assert_eq!(s.position(7), (4, 1));
        assert_eq!(s.position(2), (1, 3));
    }

    #[test]
    fn a_bom_is_skipped_and_not_counted_in_columns() {
        let mut s = src(b"\xEF\xBB\xBF<a/>");
        assert_eq!(s.start().unwrap(), b"<a/>");
        assert_eq!(s.position(4), (1, 2));
    }

    #[test]
    fn read_content_keeps_own_text_and_skips_children() {
        let mut s = src(b"one<b x='>'>two</b><![CDATA[<x>]]><!-- c --><c/>four</a>");
        let mut out = String::new();
        s.read_content(100, &mut out).unwrap();
        assert_eq!(out, "one\u{0}<x>\u{0}four");
        assert_eq!(s.avail(), b"</a>");
    }

    #[test]
    fn read_content_reports_truncation_and_bad_utf8() {
        let mut out = String::new();
        assert!(matches!(
            src(b"abc<b>").read_content(10, &mut out),
            Err(ContentError::Truncated)
        ));
        assert!(matches!(
            src(b"ab\xFFc</a>").read_content(10, &mut out),
            Err(ContentError::Utf8(2))
        ));
    }

    #[test]
    fn read_content_is_bounded_across_window_slides() {
        let mut doc = Vec::new();
        doc.extend_from_slice("é".repeat(BUF_CAP).as_bytes());
        doc.extend_from_slice(b"<![CDATA[");
        doc.extend(std::iter::repeat_n(b'x', BUF_CAP * 2));
        doc.extend_from_slice(b"]]></a>");
        let mut s = Source::new(&doc[..]);
        let mut out = String::new();
        s.read_content(10, &mut out).unwrap();
        assert_eq!(out, "ééééé");
        assert_eq!(s.avail(), b"</a>");
    }
}

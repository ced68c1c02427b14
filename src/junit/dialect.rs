//! Small, pure rules for the dialect differences: times, pytest files and lines,
//! character references.

/// Why a `time` attribute was read as 0.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TimeIssue {
    Empty,
    NotANumber,
    Negative,
}

impl TimeIssue {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            TimeIssue::Empty => "is empty",
            TimeIssue::NotANumber => "is not a number",
            TimeIssue::Negative => "is negative",
        }
    }
}

/// Reads a `time` attribute in seconds. Commas are thousands separators
/// (`1,234.5`, legal in Surefire's schema) unless the value has no `.` and the part
/// after the last comma is not three digits (`0,25`: a decimal comma).
pub(crate) fn parse_time(raw: &str) -> Result<f64, TimeIssue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(TimeIssue::Empty);
    }
    if let Some(v) = simple_decimal(s.as_bytes()) {
        return Ok(v);
    }
    let value: f64 = if s.contains(',') {
        let decimal_comma = !s.contains('.')
            && s.matches(',').count() == 1
            && s.rsplit(',').next().is_some_and(|tail| tail.len() != 3);
        let cleaned: String = if decimal_comma {
            s.replacen(',', ".", 1)
        } else {
            s.chars().filter(|&c| c != ',').collect()
        };
        cleaned.parse().map_err(|_| TimeIssue::NotANumber)?
    } else {
        s.parse().map_err(|_| TimeIssue::NotANumber)?
    };
    if value.is_nan() || value.is_infinite() {
        return Err(TimeIssue::NotANumber);
    }
    if value < 0.0 {
        return Err(TimeIssue::Negative);
    }
    Ok(value)
}

/// [`parse_time`] over the bytes of a value: the common `123.456` shape is read without
/// making a string.
pub(crate) fn parse_time_bytes(raw: &[u8]) -> Result<f64, TimeIssue> {
    match simple_decimal(raw) {
        Some(v) => Ok(v),
        None => parse_time(&String::from_utf8_lossy(raw)),
    }
}

/// Whether [`parse_time_bytes`] reads a value, without computing it (for counting).
pub(crate) fn check_time_bytes(raw: &[u8]) -> Result<(), TimeIssue> {
    if simple_decimal_shape(raw) {
        return Ok(());
    }
    parse_time(&String::from_utf8_lossy(raw)).map(|_| ())
}

/// Whether `b` has the shape [`simple_decimal`] reads: 1 to 15 digits with at most one
/// `.` between two of them.
#[inline]
fn simple_decimal_shape(b: &[u8]) -> bool {
    let (mut digits, mut dots, mut last_dot) = (0usize, 0usize, false);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                last_dot = false;
            }
            b'.' => {
                dots += 1;
                last_dot = true;
            }
            _ => return false,
        }
    }
    (1..=15).contains(&digits) && dots <= 1 && !last_dot && b.first() != Some(&b'.')
}

/// The common `123.456` shape (at most 15 digits in all) without the general float
/// parser: the digits form an exact integer below 2^53 and the power of ten is exact, so
/// one IEEE division gives the correctly rounded value, the same as `str::parse`.
#[inline]
fn simple_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if b.len() > 16 {
        return None;
    }
    let (mut m, mut digits, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
                frac += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 || (dot && frac == 0) || b[0] == b'.' {
        return None;
    }
    Some(m as f64 / POW10[frac])
}

/// The source file of a pytest `xunit2` test, derived from its `classname`: the dotted
/// parts up to the first one that starts with an upper-case letter (a class) are the
/// module path. `tests.test_x.TestA` → `tests/test_x.py`, `tests.test_x` →
/// `tests/test_x.py`. `None` when no module part is left.
#[cfg(test)]
pub(crate) fn pytest_file_from_classname(classname: &str) -> Option<String> {
    let mut out = String::new();
    pytest_file_into(classname, &mut out).then_some(out)
}

/// [`pytest_file_from_classname`] into a reused buffer; false when there is no file.
pub(crate) fn pytest_file_into(classname: &str, out: &mut String) -> bool {
    out.clear();
    for part in classname.split('.') {
        if part.is_empty() || part.starts_with(|c: char| c.is_uppercase()) {
            break;
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
    }
    if out.is_empty() {
        return false;
    }
    out.push_str(".py");
    true
}

/// pytest's `xunit1` lines are 0-based; its test cases carry `file` and `line` but no
/// `timestamp` (unittest-xml-reporting, whose lines are 1-based, writes one). `file` is
/// the one given on the test case.
pub(crate) fn line_is_zero_based(file: &[u8], has_timestamp: bool) -> bool {
    !has_timestamp && file.ends_with(b".py")
}

/// Decodes the five predefined entities and numeric character references, and
/// normalises line ends (`\r\n`, `\r` → `\n`). Anything else after `&` is kept as
/// written: this text is for people, not for further parsing.
pub(crate) fn decode_text(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\r']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix('\r') {
            out.push('\n');
            rest = after.strip_prefix('\n').unwrap_or(after);
            continue;
        }
        match decode_reference(rest) {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// Decodes one reference at the start of `s` (which starts with `&`): the character
/// and the bytes used.
pub(crate) fn decode_reference(s: &str) -> Option<(char, usize)> {
    let semi = s.get(..s.len().min(12))?.find(';')?;
    let body = &s[1..semi];
    let c = match body {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = body.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, semi + 1))
}

/// Decodes an attribute value: like [`decode_text`], borrowing when there is nothing
/// to decode.
pub(crate) fn decode_attr(raw: &str) -> std::borrow::Cow<'_, str> {
    if memchr::memchr2(b'&', b'\r', raw.as_bytes()).is_some() {
        let mut s = String::with_capacity(raw.len());
        decode_text(raw, &mut s);
        std::borrow::Cow::Owned(s)
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_decimals_read_exactly_as_the_float_parser_does() {
        for s in [
            "0",
            "0.0",
            "0.001",
            "0.1",
            "0.3",
            "1.5",
            "12.345678",
            "0.000123456789",
            "999999999999999",
            "99999999.9999999",
            "3.14159265358979",
            "007.25",
        ] {
            let want: f64 = s.parse().unwrap();
            assert_eq!(
                simple_decimal(s.as_bytes()).map(f64::to_bits),
                Some(want.to_bits()),
                "{s}"
            );
        }
        for s in ["0", "0.001", "007.25", "999999999999999", "1.5"] {
            assert!(simple_decimal_shape(s.as_bytes()), "{s}");
        }
        for s in [
            "",
            ".5",
            "5.",
            "1.2.3",
            "1e3",
            "-1",
            "1,5",
            "1234567890123456",
        ] {
            assert_eq!(simple_decimal(s.as_bytes()), None, "{s}");
            assert!(!simple_decimal_shape(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn times_accept_thousands_commas_and_refuse_nonsense() {
        assert_eq!(parse_time("1,234.5"), Ok(1234.5));
        assert_eq!(parse_time("1,234,567"), Ok(1234567.0));
        assert_eq!(parse_time("0,25"), Ok(0.25));
        assert_eq!(parse_time(" 0.010 "), Ok(0.01));
        assert_eq!(parse_time(""), Err(TimeIssue::Empty));
        assert_eq!(parse_time("NaN"), Err(TimeIssue::NotANumber));
        assert_eq!(parse_time("inf"), Err(TimeIssue::NotANumber));
        assert_eq!(parse_time("-1"), Err(TimeIssue::Negative));
        assert_eq!(parse_time("abc"), Err(TimeIssue::NotANumber));
    }

    #[test]
    fn pytest_files_come_from_the_module_part_of_the_classname() {
        assert_eq!(
            pytest_file_from_classname("tests.test_x.TestA").as_deref(),
            Some("tests/test_x.py")
        );
        assert_eq!(
            pytest_file_from_classname("tests.test_x").as_deref(),
            Some("tests/test_x.py")
        );
        assert_eq!(
            pytest_file_from_classname("test_x.TestA.TestB").as_deref(),
            Some("test_x.py")
        );
        assert_eq!(pytest_file_from_classname("TestA"), None);
        let mut buf = String::new();
        assert!(pytest_file_into("tests.test_x.TestA", &mut buf));
        assert_eq!(buf, "tests/test_x.py");
        assert!(!pytest_file_into("TestA", &mut buf));
        assert_eq!(pytest_file_from_classname(""), None);
    }

    #[test]
    fn references_and_line_ends_are_decoded() {
        let mut s = String::new();
        decode_text("a&amp;b&#10;c&#x41;&bogus;&\r\nz\rq", &mut s);
        assert_eq!(s, "a&b\ncA&bogus;&\nz\nq");
        assert_eq!(decode_attr("plain"), "plain");
        assert_eq!(decode_attr("&quot;q&apos;"), "\"q'");
    }
}

//! Errors of the JUnit reader: always a file, a 1-based line and column, and a kind.

use std::fmt;
use std::io;

use super::FileReport;

/// Why a JUnit file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JunitErrorKind {
    /// The file could not be opened (missing, a directory, no permission).
    #[error("cannot open the file: {0}")]
    Open(#[source] io::Error),
    /// Reading failed part-way through (an I/O error, not bad input).
    #[error("cannot read the file: {0}")]
    Read(#[source] io::Error),
    /// The file holds no bytes (or only a byte order mark).
    #[error("the file is empty")]
    Empty,
    /// The file is not XML at all.
    #[error("not XML: {0}")]
    NotXml(String),
    /// XML that breaks the well-formedness rules.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Bytes that are not UTF-8 (the only encoding read).
    #[error("invalid UTF-8{0}")]
    InvalidUtf8(String),
    /// A document type declaration that declares entities (entity expansion is refused).
    #[error("the document type declaration declares entities; entity expansion is refused")]
    EntityDeclaration,
    /// Well-formed XML whose root is neither `<testsuites>` nor `<testsuite>`.
    #[error(
        "not a JUnit report: the root element is `<{0}>`, expected `<testsuites>` or `<testsuite>`"
    )]
    NotJunit(String),
    /// The file ends before the document does.
    #[error("truncated: the file ends inside {0}")]
    Truncated(String),
    /// A limit that keeps memory bounded was exceeded.
    #[error("{0}")]
    Limit(String),
    /// No glob match or no input at all.
    #[error("{0}")]
    Input(String),
}

/// A JUnit file that could not be read, with where and why.
///
/// `Display` is one line: `path:line:col: message`.
#[derive(Debug)]
pub struct JunitError {
    /// The file as the caller named it.
    pub path: String,
    /// 1-based line of the problem.
    pub line: u64,
    /// 1-based column (in bytes) of the problem.
    pub column: u64,
    /// What went wrong.
    pub kind: JunitErrorKind,
    /// With [`ParseOptions::keep_going`](super::ParseOptions::keep_going): what was read
    /// before the problem (complete test cases, totals, warnings). From
    /// [`parse`](super::parse) its `cases` is empty: they went to the callback.
    pub partial: Option<Box<FileReport>>,
}

impl JunitError {
    /// An error at `path:line:column`, without a partial report.
    pub fn new(path: &str, line: u64, column: u64, kind: JunitErrorKind) -> Self {
        Self {
            path: path.to_owned(),
            line,
            column,
            kind,
            partial: None,
        }
    }

    /// True when the cause is an I/O failure while reading, not bad input.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, JunitErrorKind::Read(_))
    }
}

impl fmt::Display for JunitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path, self.line, self.column)?;
        // One line whatever the input put into the message.
        for c in self.kind.to_string().chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for JunitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            JunitErrorKind::Open(e) | JunitErrorKind::Read(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_whatever_the_message_holds() {
        let e = JunitError::new("r.xml", 3, 7, JunitErrorKind::Malformed("a\nb\tc".into()));
        assert_eq!(e.to_string(), "r.xml:3:7: malformed XML: a\\nb\\tc");
    }
}

//! Workflow-command annotations (`::error file=…,line=…,title=…::message`), with the
//! runner's escaping rules and its per-step display limits.

use std::fmt;

/// How many annotations of each level the runner shows per step; the rest are dropped
/// by GitHub, so proofgate puts them in the job summary instead.
pub const SHOWN_PER_LEVEL: usize = 10;

/// The annotation level (the workflow command's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
    /// `::notice`.
    Notice,
}

impl Level {
    /// The workflow command name.
    pub fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// One annotation on a file (or on the run, when `file` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Error, warning or notice.
    pub level: Level,
    /// Short title shown in bold.
    pub title: Option<String>,
    /// Repository-relative path of the file annotated.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based last line.
    pub end_line: Option<u32>,
    /// 1-based column.
    pub col: Option<u32>,
    /// The message (may span lines).
    pub message: String,
}

impl Annotation {
    /// An annotation with only a level and message.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        Self {
            level,
            title: None,
            file: None,
            line: None,
            end_line: None,
            col: None,
            message: message.into(),
        }
    }
}

/// Escapes a command's message: `%`, `\r`, `\n`.
pub fn escape_data(s: &str) -> String {
    escape(s, false)
}

/// Escapes a command's property value: `%`, `\r`, `\n`, `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape(s, true)
}

/// The runner's escaping: `%`, `\r` and `\n` always; `:` and `,` in a property.
fn escape(s: &str, property: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Annotation {
    /// The workflow command line, without the trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut props: Vec<String> = Vec::new();
        if let Some(t) = &self.title {
            props.push(format!("title={}", escape_property(t)));
        }
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(l) = self.line {
            props.push(format!("line={l}"));
        }
        if let Some(l) = self.end_line {
            props.push(format!("endLine={l}"));
        }
        if let Some(c) = self.col {
            props.push(format!("col={c}"));
        }
        write!(f, "::{}", self.level.command())?;
        if !props.is_empty() {
            write!(f, " {}", props.join(","))?;
        }
        write!(f, "::{}", escape_data(&self.message))
    }
}

/// Splits annotations into those the runner will show (the first 10 errors and the
/// first 10 warnings and notices each, in order) and the overflow, which belongs in the
/// job summary.
pub fn split_shown(all: &[Annotation]) -> (Vec<&Annotation>, Vec<&Annotation>) {
    let (mut errors, mut warnings, mut notices) = (0usize, 0usize, 0usize);
    let mut shown = Vec::new();
    let mut rest = Vec::new();
    for a in all {
        let n = match a.level {
            Level::Error => &mut errors,
            Level::Warning => &mut warnings,
            Level::Notice => &mut notices,
        };
        if *n < SHOWN_PER_LEVEL {
            *n += 1;
            shown.push(a);
        } else {
            rest.push(a);
        }
    }
    (shown, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_an_error_with_file_line_and_title() {
        let a = Annotation {
            level: Level::Error,
            title: Some("PROOF_MISSING".into()),
            file: Some("scripts/a.py".into()),
            line: Some(3),
            end_line: None,
            col: None,
            message: "no proof".into(),
        };
        assert_eq!(
            a.to_string(),
            "::error title=PROOF_MISSING,file=scripts/a.py,line=3::no proof"
        );
    }

    #[test]
    fn escapes_data_and_properties_as_the_runner_expects() {
        assert_eq!(escape_data("50% a:b,c\r\nd"), "50%25 a:b,c%0D%0Ad");
        assert_eq!(escape_property("50% a:b,c\r\nd"), "50%25 a%3Ab%2Cc%0D%0Ad");
        let a = Annotation {
            title: Some("x: y, z".into()),
            file: Some("dir,1/f:2.py".into()),
            ..Annotation::new(Level::Warning, "line1\nline2 100%")
        };
        assert_eq!(
            a.to_string(),
            "::warning title=x%3A y%2C z,file=dir%2C1/f%3A2.py::line1%0Aline2 100%25"
        );
    }

    #[test]
    fn annotation_without_properties_has_no_space() {
        assert_eq!(
            Annotation::new(Level::Notice, "hi").to_string(),
            "::notice::hi"
        );
    }

    #[test]
    fn only_ten_errors_and_ten_warnings_are_shown_per_step() {
        let mut all = Vec::new();
        for i in 0..15 {
            all.push(Annotation::new(Level::Error, format!("e{i}")));
            all.push(Annotation::new(Level::Warning, format!("w{i}")));
        }
        let (shown, rest) = split_shown(&all);
        assert_eq!(shown.len(), 20);
        assert_eq!(rest.len(), 10);
        assert_eq!(shown.iter().filter(|a| a.level == Level::Error).count(), 10);
        assert_eq!(rest[0].message, "e10");
        assert_eq!(rest[1].message, "w10");
    }
}

//! The Markdown job summary: failures first, passes collapsed in `<details>`, kept under
//! the runner's 1 MiB per-step limit with a note saying what was left out.

/// GitHub refuses a step summary larger than 1 MiB ("supports content up to a size of
/// 1024k").
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// Room kept free for the closing tags and the truncation note.
const RESERVE: usize = 512;

/// A Markdown table: a header row and rows of cells (plain text; escaped on render).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryTable {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

/// Escapes untrusted text for inline Markdown that GitHub renders with HTML allowed.
///
/// The characters that open inline constructs or split a table row get a backslash
/// (backslash, backtick, `*`, `[`, `]`, `|`, `~`, and `_` unless it sits between two
/// letters or digits); `<`, `>` and `&` become entities; line breaks become `<br>`; other
/// control characters are dropped. The text cannot open a link, an image, emphasis, a
/// code span, HTML, a new block or a new table row.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let before = prev.replace(c);
        match c {
            // Between two letters or digits `_` can neither open nor close emphasis
            // (`SCRIPT_DIGEST_MISMATCH`, `backup_db.py` stay as written).
            '_' if before.is_some_and(char::is_alphanumeric)
                && chars.peek().is_some_and(|n| n.is_alphanumeric()) =>
            {
                out.push('_');
            }
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("<br>");
                }
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push_str("<br>"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes a table cell: [`escape_markdown`], which also covers the pipes that would
/// split the row.
pub fn escape_cell(s: &str) -> String {
    escape_markdown(s)
}

fn row_line(cells: &[String]) -> String {
    let mut s = String::from("|");
    for c in cells {
        s.push(' ');
        s.push_str(&escape_cell(c));
        s.push_str(" |");
    }
    s.push('\n');
    s
}

fn header_lines(header: &[String]) -> String {
    let mut s = row_line(header);
    s.push('|');
    for _ in header {
        s.push_str(" --- |");
    }
    s.push('\n');
    s
}

/// Renders the summary: `heading` and `intro` (Markdown, not escaped), the failures
/// table, then the passes table inside a collapsed `<details>` block, then `notes` as a
/// bullet list. The result is at most `limit` bytes (when `limit` leaves room for the
/// heading): rows that do not fit are left out, passes before failures, and a note says
/// how many.
pub fn render_summary(
    heading: &str,
    intro: &str,
    failures: &SummaryTable,
    passes: &SummaryTable,
    notes: &[String],
    limit: usize,
) -> String {
    let budget = limit.saturating_sub(RESERVE);
    let mut out = format!("## {heading}\n\n{intro}\n\n");
    let mut omitted = 0usize;

    if !failures.rows.is_empty() {
        out.push_str(&header_lines(&failures.header));
        for (i, r) in failures.rows.iter().enumerate() {
            let line = row_line(r);
            if out.len() + line.len() > budget {
                omitted += failures.rows.len() - i;
                break;
            }
            out.push_str(&line);
        }
        out.push('\n');
    }

    if !passes.rows.is_empty() {
        let open = format!(
            "<details><summary>{} passing</summary>\n\n",
            passes.rows.len()
        );
        if out.len() + open.len() + 32 <= budget {
            out.push_str(&open);
            out.push_str(&header_lines(&passes.header));
            for (i, r) in passes.rows.iter().enumerate() {
                let line = row_line(r);
                if out.len() + line.len() + 16 > budget {
                    omitted += passes.rows.len() - i;
                    break;
                }
                out.push_str(&line);
            }
            out.push_str("\n</details>\n\n");
        } else {
            omitted += passes.rows.len();
        }
    }

    let mut notes_omitted = 0usize;
    for (i, n) in notes.iter().enumerate() {
        let line = format!("- {n}\n");
        if out.len() + line.len() > budget {
            notes_omitted = notes.len() - i;
            break;
        }
        out.push_str(&line);
    }
    if omitted > 0 || notes_omitted > 0 {
        let note = format!(
            "\n> [!NOTE]\n> {omitted} row(s) and {notes_omitted} note(s) are not shown: \
             GitHub limits a job summary to 1 MiB. The JSON report has everything.\n"
        );
        if out.len() + note.len() <= limit {
            out.push_str(&note);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize, tag: &str) -> SummaryTable {
        SummaryTable {
            header: vec!["script".into(), "reason".into()],
            rows: (0..n)
                .map(|i| vec![format!("{tag}-{i}"), "x".repeat(40)])
                .collect(),
        }
    }

    #[test]
    fn failures_come_first_and_passes_are_collapsed() {
        let s = render_summary(
            "Gate",
            "1 failed",
            &table(1, "bad"),
            &table(2, "ok"),
            &[],
            SUMMARY_LIMIT,
        );
        let f = s.find("bad-0").unwrap();
        let d = s.find("<details><summary>2 passing</summary>").unwrap();
        let p = s.find("ok-0").unwrap();
        assert!(f < d && d < p);
        assert!(s.contains("</details>"));
        assert!(!s.contains("not shown"));
    }

    #[test]
    fn escapes_pipes_and_line_breaks_in_cells() {
        assert_eq!(escape_cell("a|b\nc<d>"), "a\\|b<br>c&lt;d&gt;");
    }

    #[test]
    fn untrusted_text_cannot_inject_links_images_html_or_rows() {
        let out =
            escape_markdown("x](http://evil) ![i](http://evil/i.png) <img src=x> `c` *b* _u_");
        assert_eq!(
            out,
            "x\\](http://evil) !\\[i\\](http://evil/i.png) &lt;img src=x&gt; \\`c\\` \\*b\\* \\_u\\_"
        );
        assert_eq!(
            escape_markdown("SCRIPT_DIGEST_MISMATCH a_b"),
            "SCRIPT_DIGEST_MISMATCH a_b"
        );
        assert_eq!(escape_markdown("__x__ a__b"), "\\_\\_x\\_\\_ a\\_\\_b");
        let row = escape_cell("a\r\n| b | c |\n|---|");
        assert!(!row.contains('\n') && !row.contains('\r'), "{row}");
        assert!(!row.contains(" |"), "{row}");
    }

    #[test]
    fn stays_under_the_limit_and_says_what_was_left_out() {
        let limit = 4096;
        let s = render_summary(
            "Gate",
            "many",
            &table(50, "bad"),
            &table(500, "ok"),
            &[],
            limit,
        );
        assert!(s.len() <= limit, "{} > {limit}", s.len());
        assert!(s.contains("bad-0"));
        assert!(s.contains("not shown"));
        assert!(s.contains("1 MiB"));
    }

    #[test]
    fn a_huge_report_fits_in_one_mebibyte() {
        let s = render_summary(
            "Gate",
            "huge",
            &table(20_000, "bad"),
            &table(20_000, "ok"),
            &["n".repeat(100)],
            SUMMARY_LIMIT,
        );
        assert!(s.len() <= SUMMARY_LIMIT);
        assert!(s.contains("not shown"));
    }
}

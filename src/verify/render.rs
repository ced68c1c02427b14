//! The report's faces: a terminal table, the Markdown job summary, workflow-command
//! annotations on the failing scripts' files, and step outputs.

use crate::github::{Annotation, Level, SummaryTable, escape_markdown, render_summary, untrusted};

use super::report::{Report, Verdict};

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n >= w {
        s.to_owned()
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

/// The terminal table (script, evidence, verdict, reason), then one line per failure
/// with the sentence to act on, then the overall line. Every text that came from a proof,
/// a header or a path is escaped with [`untrusted`], so none of it can start a log line
/// or a workflow command.
pub fn table(report: &Report) -> String {
    let head = ["SCRIPT", "EVIDENCE", "VERDICT", "REASON"];
    let rows: Vec<[String; 4]> = report
        .scripts
        .iter()
        .map(|r| {
            [
                format!("{} ({})", untrusted(&r.id), untrusted(&r.path)),
                untrusted(r.required_evidence.as_deref().unwrap_or("-")).into_owned(),
                r.verdict.as_str().to_uppercase(),
                r.reason.code().to_owned(),
            ]
        })
        .collect();
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&pad(c, w[i]));
                s.push_str("  ");
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    let failures: Vec<_> = report
        .scripts
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .collect();
    if !failures.is_empty() {
        out.push('\n');
        for r in &failures {
            out.push_str(&format!(
                "{} {}: {}\n",
                r.reason.code(),
                untrusted(&r.id),
                untrusted(&r.message)
            ));
        }
    }
    for u in &report.unknown_proofs {
        out.push_str(&format!(
            "note: `{}` is a proof for `{}`, which is not in the model\n",
            untrusted(&u.file),
            untrusted(&u.script_id)
        ));
    }
    out.push('\n');
    out.push_str(&overall_line(report));
    out.push('\n');
    out
}

/// `gate: PASS (5 scripts: 3 ci, 1 declared, 1 manual)` or
/// `gate: FAIL (2 of 5 scripts denied)`.
pub fn overall_line(report: &Report) -> String {
    let c = &report.counts;
    match report.verdict {
        Verdict::Pass => format!(
            "gate: PASS ({} scripts: {} ci ({} reused), {} declared, {} manual)",
            c.scripts, c.ci, c.reused, c.declared, c.manual
        ),
        Verdict::Fail => format!("gate: FAIL ({} of {} scripts denied)", c.failed, c.scripts),
    }
}

/// The annotations: an error on each failing script's header.
pub fn annotations(report: &Report) -> Vec<Annotation> {
    report
        .scripts
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| Annotation {
            title: Some(format!("proofgate: {} {}", r.reason.code(), r.id)),
            file: Some(r.path.clone()),
            line: Some(r.line.unwrap_or(1)),
            ..Annotation::new(Level::Error, r.message.clone())
        })
        .collect()
}

/// The Markdown job summary, at most `limit` bytes. `overflow` lists annotations the
/// runner will not show; they are added as notes. Table cells are escaped by the table;
/// untrusted text in the intro and the notes is escaped here with [`escape_markdown`]
/// (no code spans around it: a backtick in the text would close them).
pub fn markdown(report: &Report, overflow: &[&Annotation], limit: usize) -> String {
    let header = |cols: &[&str]| cols.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut failures = SummaryTable {
        header: header(&["Script", "Path", "Evidence", "Reason", "What to do"]),
        rows: vec![],
    };
    let mut passes = SummaryTable {
        header: header(&["Script", "Path", "Evidence", "Reason", "Detail"]),
        rows: vec![],
    };
    for r in &report.scripts {
        let row = vec![
            r.id.clone(),
            r.path.clone(),
            r.required_evidence.clone().unwrap_or_else(|| "-".into()),
            r.reason.code().to_owned(),
            r.message.clone(),
        ];
        match r.verdict {
            Verdict::Fail => failures.rows.push(row),
            Verdict::Pass => passes.rows.push(row),
        }
    }
    let icon = match report.verdict {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
    };
    let mut intro = format!("{icon} **{}**", overall_line(report));
    if let Some(c) = &report.commit {
        intro.push_str(&format!(" at <code>{}</code>", escape_markdown(c)));
    }
    if report.release {
        intro.push_str(" — release rules");
    }
    let mut notes: Vec<String> = report
        .unknown_proofs
        .iter()
        .map(|u| {
            format!(
                "<code>{}</code> is a proof for <code>{}</code>, which is not in the model",
                escape_markdown(&u.file),
                escape_markdown(&u.script_id)
            )
        })
        .collect();
    if !overflow.is_empty() {
        notes.push(format!(
            "{} more annotation(s) than GitHub shows per step:",
            overflow.len()
        ));
        for a in overflow {
            notes.push(format!(
                "<code>{}</code>: {}",
                escape_markdown(a.file.as_deref().unwrap_or("-")),
                escape_markdown(&a.message)
            ));
        }
    }
    render_summary(
        "proofgate verify",
        &intro,
        &failures,
        &passes,
        &notes,
        limit,
    )
}

/// Step outputs: `verdict`, `scripts`, `passed`, `failed`, `reused`, `failing` (ids,
/// one a line) and `report` (the JSON report's path, when written).
pub fn outputs(report: &Report, report_path: Option<&str>) -> Vec<(&'static str, String)> {
    let c = &report.counts;
    let failing: Vec<&str> = report
        .scripts
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.id.as_str())
        .collect();
    let mut v = vec![
        ("verdict", report.verdict.as_str().to_owned()),
        ("scripts", c.scripts.to_string()),
        ("passed", c.passed.to_string()),
        ("failed", c.failed.to_string()),
        ("reused", c.reused.to_string()),
        ("failing", failing.join("\n")),
    ];
    if let Some(p) = report_path {
        v.push(("report", p.to_owned()));
    }
    v
}

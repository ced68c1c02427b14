//! The report's faces: a terminal table, the Markdown job summary, workflow-command
//! annotations on the failing scripts' files, and step outputs.

use crate::github::{Annotation, Level, SummaryTable, escape_markdown, render_summary, untrusted};

use super::report::{Report, Signatures, Verdict};

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
    let mut out = String::new();
    if report.signatures == Signatures::None {
        out.push_str(&signatures_line(report));
        out.push('\n');
    }
    out.push_str(&line(head));
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
    for e in &report.lint_errors {
        out.push_str(&format!("LINT_ERROR {}\n", untrusted(e)));
    }
    for n in downgrade_notes(report) {
        out.push_str(&format!("POLICY_DOWNGRADE {}\n", untrusted(&n)));
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
        Verdict::Fail if !report.lint_errors.is_empty() => format!(
            "gate: FAIL ({} of {} scripts denied, {} lint error(s) outside scripts)",
            c.failed,
            c.scripts,
            report.lint_errors.len()
        ),
        Verdict::Fail => format!("gate: FAIL ({} of {} scripts denied)", c.failed, c.scripts),
    }
}

/// The line every output starts with when proofs are not authenticated.
pub fn signatures_line(report: &Report) -> String {
    let from = match report.policy.from {
        "base" => "the base commit's policy",
        _ => "the policy",
    };
    format!(
        "signatures: none — {from} says `signatures: none`: proofs are NOT authenticated, \
         anyone who can upload an artifact can pass this gate"
    )
}

/// Every loosening the change under test tried (the stricter value applied), one line
/// each: the policy's, then each script's.
pub fn downgrade_notes(report: &Report) -> Vec<String> {
    let mut v: Vec<String> = report
        .policy
        .downgrades
        .iter()
        .map(|d| format!("proofgate.yaml: {d}"))
        .collect();
    for r in &report.scripts {
        for d in &r.downgrades {
            v.push(format!("{} ({}): {d}", r.id, r.path));
        }
    }
    v
}

/// The annotations: an error on each failing script's header.
pub fn annotations(report: &Report) -> Vec<Annotation> {
    let mut v: Vec<Annotation> = report
        .scripts
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| Annotation {
            title: Some(format!("proofgate: {} {}", r.reason.code(), r.id)),
            file: Some(r.path.clone()),
            line: Some(r.line.unwrap_or(1)),
            ..Annotation::new(Level::Error, r.message.clone())
        })
        .collect();
    for e in &report.lint_errors {
        v.push(Annotation {
            title: Some("proofgate: LINT_ERROR".to_owned()),
            ..Annotation::new(Level::Error, e.clone())
        });
    }
    for r in &report.scripts {
        for w in &r.warnings {
            v.push(Annotation {
                title: Some(format!("proofgate: FLAKY {}", r.id)),
                file: Some(r.path.clone()),
                line: Some(r.line.unwrap_or(1)),
                ..Annotation::new(Level::Warning, w.clone())
            });
        }
        for d in &r.downgrades {
            v.push(Annotation {
                title: Some(format!("proofgate: POLICY_DOWNGRADE {}", r.id)),
                file: Some(r.path.clone()),
                line: Some(r.line.unwrap_or(1)),
                ..Annotation::new(Level::Notice, d.clone())
            });
        }
    }
    for d in &report.policy.downgrades {
        v.push(Annotation {
            title: Some("proofgate: POLICY_DOWNGRADE".to_owned()),
            file: Some("proofgate.yaml".to_owned()),
            ..Annotation::new(Level::Notice, d.clone())
        });
    }
    if report.signatures == Signatures::None {
        v.insert(0, Annotation::new(Level::Warning, signatures_line(report)));
    }
    v
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
    let mut intro = String::new();
    if report.signatures == Signatures::None {
        intro.push_str(&format!("⚠️ **{}**\n\n", signatures_line(report)));
    }
    intro.push_str(&format!("{icon} **{}**", overall_line(report)));
    if let Some(b) = &report.policy.base_commit {
        intro.push_str(&format!(
            " — policy from base <code>{}</code>",
            escape_markdown(b)
        ));
    }
    if let Some(c) = &report.commit {
        intro.push_str(&format!(" at <code>{}</code>", escape_markdown(c)));
    }
    if report.release {
        intro.push_str(" — release rules");
    }
    let mut notes: Vec<String> = report
        .lint_errors
        .iter()
        .map(|e| format!("LINT_ERROR {}", escape_markdown(e)))
        .chain(
            downgrade_notes(report)
                .into_iter()
                .map(|n| format!("POLICY_DOWNGRADE {}", escape_markdown(&n))),
        )
        .collect();
    notes.extend(report.unknown_proofs.iter().map(|u| {
        format!(
            "<code>{}</code> is a proof for <code>{}</code>, which is not in the model",
            escape_markdown(&u.file),
            escape_markdown(&u.script_id)
        )
    }));
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

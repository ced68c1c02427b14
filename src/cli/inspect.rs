//! `proofgate inspect`: parse JUnit files and print the normalised cases and totals.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use serde::Serialize;

use proofgate::github::untrusted;
use proofgate::junit::{self, FileReport, JunitError, ParseOptions, Status, TestCase, Totals};

use super::format::Format;
use super::{CliError, CliResult, Global, Outcome, ResultExt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JUnit XML files or globs (`**` crosses directories); relative ones are resolved
    /// against `--root`.
    #[arg(required = true, value_name = "FILE|GLOB")]
    pub inputs: Vec<String>,
    /// Output format: `table`, a readable table per file; `json`, one JSON object
    /// (`files[]{path, totals, cases[]}` and `totals`).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print only the totals (no `cases`).
    #[arg(long)]
    pub summary: bool,
    /// On a bad file, still report the complete cases read before the problem and the
    /// other files; the exit code is still 2.
    #[arg(long)]
    pub keep_going: bool,
    /// The most bytes of a failure message kept per case.
    #[arg(long, default_value_t = 4096, value_name = "BYTES")]
    pub max_message_bytes: usize,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    totals: Totals,
    #[serde(skip_serializing_if = "Option::is_none")]
    cases: Option<&'a [TestCase]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    totals: Totals,
}

/// What one input produced: a report, and the error that stopped it (if any).
struct Parsed {
    report: FileReport,
    error: Option<JunitError>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let files: Vec<PathBuf> = junit::expand_inputs(&global.root, &args.inputs).or_usage()?;
    let opts = ParseOptions {
        max_message_bytes: args.max_message_bytes,
        keep_going: args.keep_going,
    };
    let mut parsed = Vec::with_capacity(files.len());
    let (mut bad, mut any_io) = (0usize, false);
    for f in &files {
        let shown = proofgate::fsutil::repo_relative(&global.root, f);
        let result = if args.summary {
            read_summary(f, &shown, &opts)
        } else {
            junit::read_file(f, &opts).map(|mut r| {
                r.path = shown.clone();
                r
            })
        };
        match result {
            Ok(report) => {
                print_warnings(&report);
                parsed.push(Parsed {
                    report,
                    error: None,
                });
            }
            Err(mut e) => {
                e.path = shown.clone();
                let partial = e.partial.take();
                if let Some(p) = &partial {
                    print_warnings(p);
                }
                let kind_is_io = e.is_io();
                if !args.keep_going {
                    return Err(CliError::classified(e));
                }
                eprintln!("error: {}", untrusted(&e.to_string()));
                let mut report = partial.map(|b| *b).unwrap_or_else(|| FileReport {
                    path: shown.clone(),
                    cases: Vec::new(),
                    totals: Totals::default(),
                    warnings: Vec::new(),
                });
                report.path = shown.clone();
                bad += 1;
                any_io |= kind_is_io;
                parsed.push(Parsed {
                    report,
                    error: Some(e),
                });
            }
        }
    }
    let mut total = Totals::default();
    for p in &parsed {
        total.merge(&p.report.totals);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Json => write_json(&mut out, &parsed, &total, args.summary),
        Format::Table => fenced(&mut out, |out| {
            write_table(out, &parsed, &total, args.summary)
        }),
    };
    written
        .and_then(|()| out.flush())
        .io_context("cannot write the report to stdout")?;
    if bad == 0 {
        return Ok(Outcome::Yes);
    }
    let e = anyhow!(
        "{bad} of {} files could not be read completely",
        files.len()
    );
    Err(if any_io {
        CliError::io(e)
    } else {
        CliError::usage(e)
    })
}

/// In Actions, a table of test names is fenced with `::stop-commands::` (it holds no
/// command of proofgate's), on top of escaping each name: the runner reads no command
/// inside even if an escape were missed.
pub(crate) fn fenced<W: Write>(
    out: &mut W,
    body: impl FnOnce(&mut W) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let in_actions = proofgate::github::RunnerEnv::from_process().in_actions;
    let fence = if in_actions {
        Some(proofgate::github::Fence::new().map_err(std::io::Error::other)?)
    } else {
        None
    };
    if let Some(f) = &fence {
        writeln!(out, "{}", f.open())?;
    }
    body(out)?;
    if let Some(f) = &fence {
        writeln!(out, "{}", f.close())?;
    }
    Ok(())
}

/// Parses without keeping the cases: only the totals and warnings.
fn read_summary(path: &Path, shown: &str, opts: &ParseOptions) -> Result<FileReport, JunitError> {
    let s = junit::count_file(path, shown, opts)?;
    Ok(FileReport {
        path: shown.to_owned(),
        cases: Vec::new(),
        totals: s.totals,
        warnings: s.warnings,
    })
}

fn print_warnings(r: &FileReport) {
    for w in &r.warnings {
        eprintln!(
            "warning: {}:{}:{}: {}",
            untrusted(&r.path),
            w.line,
            w.column,
            untrusted(&w.message)
        );
    }
}

fn write_json(
    out: &mut impl Write,
    parsed: &[Parsed],
    total: &Totals,
    summary: bool,
) -> std::io::Result<()> {
    let report = JsonReport {
        files: parsed
            .iter()
            .map(|p| JsonFile {
                path: &p.report.path,
                totals: p.report.totals,
                cases: (!summary).then_some(p.report.cases.as_slice()),
                error: p.error.as_ref().map(|e| e.to_string()),
            })
            .collect(),
        totals: *total,
    };
    let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
    writeln!(out, "{}", proofgate::github::log::json(&text))
}

fn totals_line(t: &Totals) -> String {
    format!(
        "{} tests: {} passed, {} failed, {} errors, {} skipped, {} flaky",
        t.tests, t.passed, t.failed, t.errors, t.skipped, t.flaky
    )
}

/// The test's name as the table shows it, escaped: it comes from the JUnit file.
fn test_label(c: &TestCase) -> String {
    let label = match (c.file.as_deref(), c.classname.is_empty()) {
        (_, false) => format!("{}::{}", c.classname, c.name),
        (Some(f), true) => format!("{f}::{}", c.name),
        (None, true) if c.name.is_empty() => "(no name)".to_owned(),
        (None, true) => c.name.clone(),
    };
    untrusted(&label).into_owned()
}

fn write_table(
    out: &mut impl Write,
    parsed: &[Parsed],
    total: &Totals,
    summary: bool,
) -> std::io::Result<()> {
    for p in parsed {
        let r = &p.report;
        writeln!(out, "{}", untrusted(&r.path))?;
        if !summary && !r.cases.is_empty() {
            let width = r
                .cases
                .iter()
                .map(|c| test_label(c).chars().count())
                .max()
                .unwrap_or(4)
                .clamp(4, 80);
            writeln!(
                out,
                "  {:<8} {:<width$} {:>8} {:>10}",
                "STATUS", "TEST", "ATTEMPTS", "DURATION"
            )?;
            for c in &r.cases {
                writeln!(
                    out,
                    "  {:<8} {:<width$} {:>8} {:>9.3}s",
                    c.status.as_str(),
                    test_label(c),
                    c.attempts,
                    c.duration
                )?;
                if matches!(c.status, Status::Failed | Status::Error | Status::Flaky)
                    && let Some(first) = c.message.as_deref().and_then(|m| m.lines().next())
                {
                    writeln!(out, "  {:<8} {}", "", untrusted(first))?;
                }
            }
        }
        if let Some(e) = &p.error {
            writeln!(out, "  incomplete: {}", untrusted(&e.to_string()))?;
        }
        writeln!(out, "  {}", totals_line(&r.totals))?;
    }
    if parsed.len() > 1 {
        writeln!(out, "total: {}", totals_line(total))?;
    }
    Ok(())
}

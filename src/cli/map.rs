//! `proofgate map`: which test cases certify which script.

use std::io::Write;

use anyhow::Context as _;
use proofgate::github::log::untrusted_lines;
use proofgate::junit::{self, ParseOptions, TestCase};
use proofgate::model::{map_cases, map_report};

use super::format::Format;
use super::{CliError, CliResult, Global, Outcome, ResultExt};

/// Show which test cases certify which script.
///
/// Exit 0; 2 for an invalid `proofgate.yaml` or JUnit input; 3 for an I/O failure.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JUnit XML files or globs (relative to `--root`).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|GLOB")]
    pub junit: Vec<String>,
    /// Output format: `table`, per script its test files and its cases, then the unmatched
    /// cases; `json`, one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (model, _findings) = super::lint::load_model(global)?;
    let files = junit::expand_inputs(&global.root, &args.junit).or_usage()?;
    let mut cases: Vec<TestCase> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for f in &files {
        let shown = proofgate::fsutil::repo_relative(&global.root, f);
        match junit::read_file(f, &ParseOptions::default()) {
            Ok(report) => {
                sources.extend(std::iter::repeat_n(shown.clone(), report.cases.len()));
                cases.extend(report.cases);
            }
            Err(mut e) => {
                e.path = shown;
                return Err(CliError::classified(e));
            }
        }
    }
    let mapping = map_cases(&model, &cases);
    let report = map_report(&model, &mapping, &cases, &sources);
    let text = match args.format {
        // Test names and paths come from JUnit and headers: no line of the table may
        // be read as a workflow command.
        Format::Table => untrusted_lines(&report.render_table()),
        Format::Json => {
            let s = serde_json::to_string_pretty(&report).or_io()?;
            let mut s = proofgate::github::log::json(&s).into_owned();
            s.push('\n');
            s
        }
    };
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Table => super::inspect::fenced(&mut out, |o| o.write_all(text.as_bytes())),
        Format::Json => out.write_all(text.as_bytes()),
    };
    written.context("cannot write to stdout").or_io()?;
    Ok(Outcome::Yes)
}

//! `proofgate lint`: validate script headers and `proofgate.yaml`.

use std::io::Write;

use anyhow::Context as _;
use proofgate::model::{Finding, Model, ModelError, Severity};

use super::{CliError, CliResult, Global, Outcome};

/// Output format of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per finding, then a summary.
    Table,
    /// One JSON object: findings and counts.
    Json,
}

/// Validate script headers and `proofgate.yaml`.
///
/// Exit 0 when there is no error (warnings allowed), 1 when there are errors (or
/// warnings with `--strict`), 2 when `proofgate.yaml` is invalid.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Warnings fail too.
    #[arg(long)]
    pub strict: bool,
}

/// Loads the model, mapping load errors to exit codes 2 (configuration) and 3 (I/O).
pub(crate) fn load_model(global: &Global) -> Result<(Model, Vec<Finding>), CliError> {
    let (config, named) = global.config_path();
    Model::load(&global.root, &config, named).map_err(|e| match e {
        ModelError::Io { .. } => CliError::io(e),
        other => CliError::usage(other),
    })
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (model, findings) = load_model(global)?;
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            for f in &findings {
                writeln!(out, "{:<7} {f} [{}]", f.severity.to_string(), f.code)
                    .context("cannot write to stdout")
                    .map_err(CliError::io)?;
            }
            writeln!(
                out,
                "{} {}, {} {} in {} {}",
                errors,
                plural(errors, "error", "errors"),
                warnings,
                plural(warnings, "warning", "warnings"),
                model.scripts.len(),
                plural(model.scripts.len(), "script", "scripts"),
            )
            .context("cannot write to stdout")
            .map_err(CliError::io)?;
        }
        Format::Json => {
            let v = serde_json::json!({
                "scripts": model.scripts.len(),
                "errors": errors,
                "warnings": warnings,
                "findings": findings,
            });
            let s = serde_json::to_string_pretty(&v).map_err(CliError::io)?;
            writeln!(out, "{}", proofgate::github::log::json(&s))
                .context("cannot write to stdout")
                .map_err(CliError::io)?;
        }
    }
    if errors > 0 || (args.strict && warnings > 0) {
        Ok(Outcome::No)
    } else {
        Ok(Outcome::Yes)
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

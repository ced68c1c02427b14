//! `proofgate lint`: validate script headers and `proofgate.yaml`.

use std::io::Write;

use anyhow::Context as _;
use proofgate::github::{Annotation, Level};
use proofgate::model::{Finding, Model, ModelError, Severity};

use super::{CliError, CliResult, Global, Outcome};

/// Output format of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per finding, then a summary.
    Table,
    /// One JSON object: findings and counts.
    Json,
    /// One workflow-command annotation per finding (`::error file=…,line=…,col=…`), then
    /// the summary line: GitHub shows each finding on its line of the pull request.
    Github,
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
    /// Check this lock against the tree (`lock-stale` warnings) [default:
    /// `proofgate.lock` under the root, when it exists].
    #[arg(long, value_name = "FILE")]
    pub lock: Option<std::path::PathBuf>,
}

/// Loads the model, mapping load errors to exit codes 2 (configuration) and 3 (I/O).
pub(crate) fn load_model(global: &Global) -> Result<(Model, Vec<Finding>), CliError> {
    let (config, named) = global.config_path();
    Model::load(&global.root, &config, named).map_err(|e| match e {
        ModelError::Io { .. } => CliError::io(e),
        other => CliError::usage(other),
    })
}

/// The lock's findings against the tree, when there is a lock to check.
fn lock_findings(
    args: &Args,
    global: &Global,
    model: &Model,
    findings: &[Finding],
) -> Result<Vec<Finding>, CliError> {
    use proofgate::verify::{load, view};
    let path = match &args.lock {
        Some(p) => p.clone(),
        None => {
            let p = global.root.join(proofgate::lock::LOCK_FILE);
            if !p.exists() {
                return Ok(Vec::new());
            }
            p
        }
    };
    let lock = proofgate::lock::Lock::read(&path).map_err(CliError::classified)?;
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (scripts, _) = view::scripts(model, findings);
    let facts = load::checkout_facts(&global.root, &scripts)
        .map_err(|e| CliError::classified(proofgate::verify::pipeline::VerifyError::Load(e)))?;
    Ok(proofgate::lock::stale::findings(
        &lock,
        &proofgate::fsutil::repo_relative(&global.root, &path),
        &text,
        &scripts,
        &facts,
        &view::policy(model, false),
    ))
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (model, mut findings) = load_model(global)?;
    let stale = lock_findings(&args, global, &model, &findings)?;
    findings.extend(stale);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let mut out = std::io::stdout().lock();
    let totals = format!(
        "{} {}, {} {} in {} {}",
        errors,
        plural(errors, "error", "errors"),
        warnings,
        plural(warnings, "warning", "warnings"),
        model.scripts.len(),
        plural(model.scripts.len(), "script", "scripts"),
    );
    match args.format {
        Format::Table | Format::Github => {
            for f in &findings {
                let line = match args.format {
                    Format::Github => annotation(f).to_string(),
                    _ => format!("{:<7} {f} [{}]", f.severity.to_string(), f.code),
                };
                writeln!(out, "{line}")
                    .context("cannot write to stdout")
                    .map_err(CliError::io)?;
            }
            writeln!(out, "{totals}")
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

/// A finding as a workflow-command annotation: its code as the title, its file, line and
/// column as properties. Path and message come from the change under test: the
/// annotation's escaping keeps them from ending the command or starting another.
fn annotation(f: &Finding) -> Annotation {
    Annotation {
        level: match f.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        },
        title: Some(format!("proofgate lint: {}", f.code)),
        file: Some(f.path.clone()),
        line: Some(f.line),
        end_line: None,
        col: Some(f.column),
        message: f.message.clone(),
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(path: &str, message: &str) -> Finding {
        Finding {
            severity: Severity::Error,
            path: path.into(),
            line: 7,
            column: 3,
            code: "bad-value",
            message: message.into(),
        }
    }

    #[test]
    fn a_finding_becomes_an_error_annotation_on_its_line_and_column() {
        assert_eq!(
            annotation(&finding(
                "scripts/a.py",
                "owner: \"x\" is not one of platform-team"
            ))
            .to_string(),
            "::error title=proofgate lint%3A bad-value,file=scripts/a.py,line=7,col=3::owner: \"x\" is not one of platform-team"
        );
    }

    #[test]
    fn untrusted_paths_and_messages_cannot_start_another_command() {
        let a = annotation(&finding(
            "a,line=1\n::warning::x.py",
            "m\r\n::error::forged 100%",
        ))
        .to_string();
        assert!(!a.contains('\n') && !a.contains('\r'), "{a}");
        assert!(a.starts_with("::error title="), "{a}");
        assert!(
            a.contains("file=a%2Cline=1%0A%3A%3Awarning%3A%3Ax.py,"),
            "{a}"
        );
        assert!(a.ends_with("::m%0D%0A::error::forged 100%25"), "{a}");
    }
}

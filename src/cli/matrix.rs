//! `proofgate matrix`: render the certification matrix, or check a committed one.

use std::path::PathBuf;

use anyhow::Context as _;
use proofgate::model::matrix;

use super::{CliError, CliResult, Global, Outcome, ResultExt};

/// Output format of `matrix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// goldenpath's `SCRIPT_CERTIFICATION_MATRIX.md`.
    Markdown,
    /// One JSON object.
    Json,
}

/// Render the certification matrix (Markdown or JSON).
///
/// Exit 0 on success; with `--check`, 1 when the committed file is stale (a diff is
/// printed); 2 when `proofgate.yaml` is invalid.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Compare with this committed file instead of printing (front matter ignored).
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub check: Option<PathBuf>,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (model, _findings) = super::lint::load_model(global)?;
    let m = matrix::build(&model);
    let text = match args.format {
        Format::Markdown => matrix::render_markdown(&m),
        Format::Json => matrix::render_json(&m),
    };
    if let Some(file) = &args.check {
        let committed = match std::fs::read(file) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "`{}` does not exist: write it with `proofgate matrix --out {}`",
                    file.display(),
                    file.display()
                );
                return Ok(Outcome::No);
            }
            Err(e) => {
                return Err(CliError::io(
                    anyhow::Error::new(e).context(format!("cannot read `{}`", file.display())),
                ));
            }
        };
        let name = file.display().to_string();
        return match matrix::check(&committed, &text, &name) {
            None => {
                eprintln!("`{name}` is up to date");
                Ok(Outcome::Yes)
            }
            Some(diff) => {
                print!("{diff}");
                eprintln!("`{name}` is stale: regenerate it with `proofgate matrix --out {name}`");
                Ok(Outcome::No)
            }
        };
    }
    match &args.out {
        Some(file) => {
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create `{}`", parent.display()))
                    .or_io()?;
            }
            std::fs::write(file, &text)
                .with_context(|| format!("cannot write `{}`", file.display()))
                .or_io()?;
            eprintln!("wrote `{}` ({} scripts)", file.display(), m.totals.scripts);
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Yes)
}

//! `proofgate map`.

use super::{CliError, CliResult, Global};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &Global) -> CliResult {
    Err(CliError::usage(anyhow::anyhow!(
        "`map` is not part of this build yet"
    )))
}

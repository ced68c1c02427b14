//! `proofgate export`: one run of the evidence store as an archive file.

use std::path::PathBuf;

use anyhow::Context as _;

use super::publish::ServerArgs;
use super::upload::runtime;
use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id.
    pub run_id: String,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Write the archive here [default: `run-<RUN_ID>.json`].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let client = args.server.client()?;
    let rt = runtime()?;
    let bytes = rt
        .block_on(client.export(&args.run_id))
        .map_err(|e| CliError::classified_with(e, "export failed"))?;
    let safe_id: String = args
        .run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let out = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("run-{safe_id}.json")));
    proofgate::fsutil::write_durable(&out, &bytes)
        .with_context(|| format!("cannot write `{}`", out.display()))
        .or_io()?;
    println!("{}", out.display());
    Ok(Outcome::Yes)
}

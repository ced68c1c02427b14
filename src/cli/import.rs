//! `proofgate import`: publish an exported run archive to a store; the store verifies it
//! again against its tenant's trusted keys.

use std::path::PathBuf;

use proofgate::store::client;

use super::publish::{ServerArgs, print_published};
use super::upload::runtime;
use super::{CliError, CliResult, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive (`proofgate export`).
    pub file: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let client = args.server.client()?;
    let body = client::read_archive(&args.file).map_err(CliError::classified)?;
    let rt = runtime()?;
    let published = rt
        .block_on(client.publish(&body))
        .map_err(|e| CliError::classified_with(e, "import failed"))?;
    print_published(&published, args.json);
    Ok(Outcome::Yes)
}

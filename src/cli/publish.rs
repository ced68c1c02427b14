//! `proofgate publish`: upload what `run` or `generate` wrote to the evidence store.

use std::path::PathBuf;
use std::time::Duration;

use proofgate::store::client::{self, StoreClient};

use super::upload::runtime;
use super::{CliError, CliResult, Global, Outcome};

/// The default environment variable holding the token.
pub const DEFAULT_TOKEN_ENV: &str = "PROOFGATE_SERVER_TOKEN";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The proofs directory (bundle, proofs, envelopes, manifest, ledger).
    #[arg(value_name = "DIR", default_value = "test-results/proofs")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where the store is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The store's URL (`http://HOST:PORT`).
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Environment variable that holds the token.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_TOKEN_ENV)]
    pub token_env: String,
    /// Seconds to wait for the store before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
}

impl ServerArgs {
    /// A client, with the token read from the environment.
    pub fn client(&self) -> Result<StoreClient, CliError> {
        let token = std::env::var(&self.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let Some(token) = token else {
            return Err(CliError::usage(anyhow::anyhow!(
                "the store token is not set: put it in `{}` (or name another variable with `--token-env`)",
                self.token_env
            )));
        };
        StoreClient::new(
            &self.server,
            token.trim(),
            Duration::from_secs(self.timeout.max(1)),
        )
        .map_err(CliError::classified)
    }
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let client = args.server.client()?;
    let files = client::read_files(&args.dir).map_err(CliError::classified)?;
    let rt = runtime()?;
    let published = rt
        .block_on(client.publish_files(&files))
        .map_err(|e| CliError::classified_with(e, "publish failed"))?;
    print_published(&published, args.json);
    Ok(Outcome::Yes)
}

/// Prints a publish's answer.
pub fn print_published(p: &client::Published, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"id": p.id, "url": p.url, "created": p.created})
        );
    } else {
        println!("{}", p.id);
        println!("{}", p.url);
        if !p.created {
            eprintln!("the store had this run already");
        }
    }
}

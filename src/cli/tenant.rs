//! `proofgate tenant add|trust`: tenants of the evidence store and their keys.

use proofgate::sign::PublicKey;
use proofgate::store::{Store, StoreError, db::DEFAULT_DB};

use super::upload::runtime;
use super::{CliError, CliResult, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: TenantCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; print its publish token and read token (shown once, stored only
    /// as hashes).
    Add(AddArgs),
    /// Trust a public key for the tenant's publishes.
    Trust(TrustArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Tenant name (`[A-Za-z0-9][A-Za-z0-9._-]{0,63}`).
    pub name: String,
    /// Print the tokens as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Database: `sqlite://FILE` or `postgres://…`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_DB, env = "PROOFGATE_DB")]
    pub db: String,
}

#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// Tenant name.
    pub name: String,
    /// The public key (PEM, base64 or hex, as `proofgate keygen` prints it).
    pub key: String,
    /// Database: `sqlite://FILE` or `postgres://…`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_DB, env = "PROOFGATE_DB")]
    pub db: String,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let rt = runtime()?;
    rt.block_on(async {
        match args.command {
            TenantCommand::Add(a) => {
                let store = Store::open(&a.db).await.map_err(CliError::classified)?;
                let (publish, read) = store.add_tenant(&a.name).await.map_err(CliError::classified)?;
                store.close().await;
                if a.json {
                    println!(
                        "{}",
                        serde_json::json!({"tenant": a.name, "publish_token": publish.token, "read_token": read.token})
                    );
                } else {
                    println!("tenant: {}", a.name);
                    println!("publish token: {}", publish.token);
                    println!("read token: {}", read.token);
                    eprintln!("the tokens are shown once; the store keeps only their hashes");
                }
                Ok(Outcome::Yes)
            }
            TenantCommand::Trust(a) => {
                let key = PublicKey::parse(&a.key)
                    .map_err(|_| CliError::classified(StoreError::BadKey(a.key.clone())))?;
                let store = Store::open(&a.db).await.map_err(CliError::classified)?;
                let id = store.trust(&a.name, &key).await.map_err(CliError::classified)?;
                store.close().await;
                println!("{id}");
                eprintln!("tenant `{}` trusts key `{id}`", a.name);
                Ok(Outcome::Yes)
            }
        }
    })
}

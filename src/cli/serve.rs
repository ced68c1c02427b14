//! `proofgate serve`: the evidence store's HTTP server.

use std::time::Duration;

use anyhow::Context as _;
use proofgate::store::{Store, api, db::DEFAULT_DB, serve};

use super::upload::runtime;
use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database: `sqlite://FILE` (created 0600 on first start) or `postgres://USER@HOST/DB`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_DB, env = "PROOFGATE_DB")]
    pub db: String,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The largest request body (a publish), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub max_body_mb: usize,
    /// How long one request may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub request_timeout: u64,
    /// How long a client may take to send a request's header, in seconds; also how long
    /// an idle keep-alive connection is kept. A client slower than this is disconnected.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Connections served at once; further ones wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let rt = runtime()?;
    rt.block_on(async {
        let store = Store::open(&args.db)
            .await
            .map_err(|e| CliError::classified_with(e, "cannot open the database"))?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", args.listen))
            .or_io()?;
        let addr = listener.local_addr().or_io()?;
        eprintln!("proofgate store listening on http://{addr}");
        let limits = api::Limits {
            max_body: args.max_body_mb.saturating_mul(1 << 20),
            timeout: Duration::from_secs(args.request_timeout.max(1)),
        };
        let conn_limits = serve::ConnLimits {
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            max_connections: args.max_connections.max(1),
        };
        serve::serve(
            listener,
            api::router(store.clone(), limits),
            conn_limits,
            super::interrupt::signalled(),
        )
        .await;
        store.close().await;
        Ok(Outcome::Yes)
    })
}

//! `proofgate flaky`: tests whose results differ across runs of the same content, from
//! proof directories or from the evidence store.

use std::path::PathBuf;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

use proofgate::flaky::{self, FlakyTest, Observed};
use proofgate::github::untrusted;
use proofgate::model::Model;
use proofgate::proof::Proof;
use proofgate::verify::load::read_proofs;

use super::format::Format;
use super::publish::ServerArgs;
use super::{CliError, CliResult, Global, Outcome, ResultExt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directories of proofs (`proof-<ID>.json`, searched recursively), e.g. one
    /// downloaded artifact per run; relative ones are resolved against `--root`. Proofs are read as evidence of what happened, not
    /// authenticated: this is a report, not a gate.
    #[arg(
        value_name = "DIR",
        required_unless_present = "server",
        conflicts_with = "server"
    )]
    pub dirs: Vec<PathBuf>,
    /// Read the scripts' history from this evidence store (`proofgate serve`) instead,
    /// which marks the same tests; the token is read from `--token-env`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Environment variable holding the evidence store's token (with `--server`).
    #[arg(long, value_name = "VAR", default_value = "PROOFGATE_SERVER_TOKEN")]
    pub token_env: String,
    /// With `--server`: the script to look at; repeatable [default: every script of the
    /// model under `--root`].
    #[arg(long = "script", value_name = "ID", requires = "server")]
    pub scripts: Vec<String>,
    /// With `--server`: how many of each script's newest proofs to compare (1–1000).
    #[arg(long, value_name = "N", default_value_t = 100, requires = "server")]
    pub limit: u32,
    /// Output format: `table`, one line per flaky test (newest incident first) with its
    /// last incident; `json`, `{"flaky": [...]}` with every incident.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Serialize, Deserialize)]
struct Listing {
    flaky: Vec<FlakyTest>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (found, compared) = match &args.server {
        Some(server) => from_store(&args, server, global)?,
        None => {
            let dirs: Vec<PathBuf> = args.dirs.iter().map(|d| global.root.join(d)).collect();
            from_dirs(&dirs)?
        }
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&Listing {
                flaky: found.clone()
            })
            .map_err(|e| CliError::io(anyhow!(e)))?
        ),
        Format::Table => print_table(&found, compared),
    }
    Ok(if found.is_empty() {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

/// Every proof under `dirs`; an unreadable or malformed one is an error naming it.
fn from_dirs(dirs: &[PathBuf]) -> Result<(Vec<FlakyTest>, String), CliError> {
    let mut observed = Vec::new();
    for dir in dirs {
        let inputs = read_proofs(dir).map_err(anyhow::Error::new).or_usage()?;
        for p in inputs {
            let origin = dir.join(&p.origin).display().to_string();
            let bytes = p
                .json
                .map_err(|e| CliError::io(anyhow!("cannot read `{}`: {e}", untrusted(&origin))))?;
            let proof: Proof = serde_json::from_slice(&bytes).map_err(|e| {
                CliError::usage(anyhow!(
                    "`{}` is not a proof: {e}; remove it or regenerate it",
                    untrusted(&origin)
                ))
            })?;
            observed.push(Observed { origin, proof });
        }
    }
    if observed.is_empty() {
        return Err(CliError::usage(anyhow!(
            "no `proof-<ID>.json` under {}; pass the directories the proofs were downloaded to",
            dirs.iter()
                .map(|d| format!("`{}`", d.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let n = observed.len();
    Ok((flaky::find(&observed), format!("{n} proof(s)")))
}

/// The flaky tests the store marks in each script's history.
fn from_store(
    args: &Args,
    server: &str,
    global: &Global,
) -> Result<(Vec<FlakyTest>, String), CliError> {
    let scripts = if args.scripts.is_empty() {
        let (config, required) = global.config_path();
        let (model, _) = Model::load(&global.root, &config, required).or_usage()?;
        model.scripts.iter().map(|s| s.id.to_string()).collect()
    } else {
        args.scripts.clone()
    };
    if scripts.is_empty() {
        return Err(CliError::usage(anyhow!(
            "no scripts to look at: pass `--script ID` or run where `--root` has scripts"
        )));
    }
    let client = ServerArgs {
        server: server.to_owned(),
        token_env: args.token_env.clone(),
        timeout: 300,
    }
    .client()?;
    let rt = super::upload::runtime()?;
    let limit = args.limit.clamp(1, 1000);
    let mut found = Vec::new();
    for id in &scripts {
        let path = format!(
            "/api/scripts/{}/history?limit={limit}",
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        );
        let (_, body) = rt
            .block_on(client.call(http::Method::GET, &path, None))
            .map_err(|e| CliError::classified_with(e, "reading the history failed"))?;
        let listing: Listing = serde_json::from_slice(&body).map_err(|e| {
            CliError::io(anyhow!(
                "the store's history of `{}` is not understood: {e}; is {server} a proofgate \
                 store of this version?",
                untrusted(id)
            ))
        })?;
        found.extend(listing.flaky);
    }
    found.sort_by(|a, b| {
        let newest = |f: &FlakyTest| f.last().map(|i| i.generated_at.clone());
        newest(b).cmp(&newest(a))
    });
    Ok((
        found,
        format!("the last {limit} proof(s) of {} script(s)", scripts.len()),
    ))
}

fn print_table(found: &[FlakyTest], compared: String) {
    if found.is_empty() {
        println!("no flaky test in {compared}");
        return;
    }
    println!(
        "{:<20} {:<44} {:>5} {:>6} {:>6} {:>6}  last incident",
        "SCRIPT", "TEST", "RUNS", "PASSED", "RETRY", "FAILED"
    );
    for f in found {
        let test = if f.classname.is_empty() {
            f.name.clone()
        } else {
            format!("{}::{}", f.classname, f.name)
        };
        let last = f.last().map_or_else(String::new, |i| {
            let mut s = format!("{} {}", i.generated_at, i.status.as_str());
            if let Some(r) = &i.run_id {
                s.push_str(&format!(" run {r}"));
            }
            if !i.seeds.is_empty() {
                let seeds: Vec<String> = i.seeds.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!(" seeds {}", seeds.join(",")));
            }
            s
        });
        println!(
            "{:<20} {:<44} {:>5} {:>6} {:>6} {:>6}  {}",
            untrusted(&f.script_id),
            untrusted(&test),
            f.runs,
            f.passed,
            f.flaky,
            f.failed,
            untrusted(&last)
        );
    }
    println!("{} flaky test(s) in {compared}", found.len());
}

//! `proofgate ledger`: append signed events to the hash-chained ledger, and verify it.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use proofgate::bundle::ledger::{self, EventKind, Ledger};
use proofgate::digest::Sha256Digest;
use proofgate::sign::{self, PublicKey, SigningKey};

use super::format::Format;
use super::{CliError, CliResult, Global, Outcome, ResultExt};

/// The ledger file used when `--file` is not given (under the root).
pub const DEFAULT_LEDGER: &str = "test-results/proofs/ledger.jsonl";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Sign an event and append it to the ledger (created on first use).
    Append(AppendArgs),
    /// Check the chain and every signature; exit 1 when it is broken.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct AppendArgs {
    /// What happened: GENERATE, UPLOAD, VERIFY or RELEASE.
    #[arg(long, value_name = "KIND")]
    pub event: String,
    /// A digest the event vouches for, `sha256:<hex>` (repeatable).
    #[arg(long = "digest", value_name = "DIGEST")]
    pub digests: Vec<String>,
    /// Context to record with the event, `KEY=VALUE` (repeatable).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attrs: Vec<String>,
    /// The ledger file [default: `test-results/proofs/ledger.jsonl` under the root].
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The ledger id for a new ledger (must match an existing one) [default: random].
    #[arg(long, value_name = "ID")]
    pub ledger_id: Option<String>,
    /// The key that signs the event (required).
    #[command(flatten)]
    pub key: super::key::KeyArgs,
    /// Output format: `json` on stdout, or `table` (aligned `key value` lines).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The ledger file [default: `test-results/proofs/ledger.jsonl` under the root].
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A trusted public key: base64, hex or PEM, or a file holding one (repeatable)
    /// [default: the public half of the key in `PROOFGATE_SIGNING_KEY`].
    #[arg(long = "public-key", value_name = "KEY|FILE")]
    pub public_keys: Vec<String>,
    /// The head the ledger must end at (`sha256:<hex>`), to detect lost newest events.
    #[arg(long, value_name = "DIGEST")]
    pub head: Option<String>,
    /// Output format: `json` on stdout, or `table` (aligned `key value` lines).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn ledger_path(file: &Option<PathBuf>, global: &Global) -> PathBuf {
    file.clone()
        .unwrap_or_else(|| global.root.join(DEFAULT_LEDGER))
}

pub fn run(args: Args, global: &Global) -> CliResult {
    match args.command {
        LedgerCommand::Append(a) => append(a, global),
        LedgerCommand::Verify(a) => verify(a, global),
    }
}

fn load_key(key: &super::key::KeyArgs) -> Result<SigningKey, CliError> {
    key.load(|v| std::env::var(v).ok())?.ok_or_else(|| {
        CliError::usage(anyhow::anyhow!(
            "`ledger append` signs its event: pass `--signing-key-file FILE` or \
             `--signing-key-env VAR`, or set `{}`",
            sign::DEFAULT_KEY_ENV
        ))
    })
}

fn append(a: AppendArgs, global: &Global) -> CliResult {
    let kind: EventKind = a.event.parse().or_usage()?;
    let digests = a
        .digests
        .iter()
        .map(|d| d.parse::<Sha256Digest>())
        .collect::<Result<Vec<_>, _>>()
        .usage_context("bad `--digest`")?;
    let mut attributes = BTreeMap::new();
    for kv in &a.attrs {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| CliError::usage(anyhow!("`--attr {kv}` is not KEY=VALUE")))?;
        attributes.insert(k.to_owned(), v.to_owned());
    }
    let key = load_key(&a.key)?;
    let path = ledger_path(&a.file, global);
    let mut l = Ledger::open(&path, a.ledger_id.as_deref()).map_err(CliError::classified)?;
    let appended = l
        .append(&key, kind, digests, attributes, chrono::Utc::now())
        .map_err(CliError::classified)?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &appended).or_io()?;
            writeln!(out).or_io()?;
        }
        Format::Table => {
            writeln!(out, "ledger_id  {}", appended.event.ledger_id).or_io()?;
            writeln!(out, "sequence   {}", appended.event.sequence).or_io()?;
            writeln!(out, "event      {}", appended.event.event).or_io()?;
            writeln!(out, "head       {}", appended.head).or_io()?;
            writeln!(out, "key_id     {}", appended.key_id).or_io()?;
        }
    }
    Ok(Outcome::Yes)
}

/// Reads a trusted key given as text or as a file holding it.
fn parse_public_key(arg: &str) -> Result<PublicKey, CliError> {
    let p = std::path::Path::new(arg);
    if p.is_file() {
        let text = std::fs::read_to_string(p).io_context(format!("cannot read `{arg}`"))?;
        return PublicKey::parse(text.trim()).usage_context(format!("bad public key in `{arg}`"));
    }
    PublicKey::parse(arg.trim()).usage_context("bad `--public-key`")
}

fn verify(a: VerifyArgs, global: &Global) -> CliResult {
    let mut trusted: Vec<PublicKey> = a
        .public_keys
        .iter()
        .map(|k| parse_public_key(k))
        .collect::<Result<_, _>>()?;
    if trusted.is_empty() {
        match std::env::var(sign::DEFAULT_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                let k = SigningKey::from_text(&v)
                    .context("`PROOFGATE_SIGNING_KEY` is not a usable key")
                    .or_usage()?;
                trusted.push(k.public_key());
            }
            _ => {
                return Err(CliError::usage(anyhow!(
                    "no trusted key: give `--public-key` (or set `PROOFGATE_SIGNING_KEY`)"
                )));
            }
        }
    }
    let head = match &a.head {
        Some(h) => Some(h.parse::<Sha256Digest>().usage_context("bad `--head`")?),
        None => None,
    };
    let path = ledger_path(&a.file, global);
    let f = std::fs::File::open(&path).io_context(format!("cannot open `{}`", path.display()))?;
    let report = ledger::verify(BufReader::new(f), &trusted, head.as_ref())
        .io_context(format!("cannot read `{}`", path.display()))?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).or_io()?;
            writeln!(out).or_io()?;
        }
        Format::Table => {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
            writeln!(out, "integrity_model      {}", report.integrity_model).or_io()?;
            writeln!(out, "verification_status  {}", report.verification_status).or_io()?;
            writeln!(
                out,
                "ledger_id            {}",
                opt(report.ledger_id.clone())
            )
            .or_io()?;
            writeln!(out, "chain_length         {}", report.chain_length).or_io()?;
            writeln!(
                out,
                "root_hash            {}",
                opt(report.root_hash.map(|h| h.to_string()))
            )
            .or_io()?;
            if let Some(reason) = report.reason {
                let reason = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
                writeln!(
                    out,
                    "first_bad_sequence   {}",
                    opt(report.first_bad_sequence.map(|s| s.to_string()))
                )
                .or_io()?;
                writeln!(
                    out,
                    "first_bad_line       {}",
                    opt(report.first_bad_line.map(|s| s.to_string()))
                )
                .or_io()?;
                writeln!(out, "reason               {}", opt(reason)).or_io()?;
                writeln!(out, "message              {}", opt(report.message.clone())).or_io()?;
            }
        }
    }
    Ok(if report.is_verified() {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

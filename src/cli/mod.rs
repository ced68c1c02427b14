//! Command-line wiring. Each subcommand lives in its own file with its `Args` and a
//! `run` function; this file holds what they share: global flags, the outcome type and
//! the mapping of errors to the documented exit codes.
//!
//! Exit codes (DESIGN.md §6): `0` success; `1` the answer is no (the gate failed, the
//! tests failed, the ledger is broken); `2` bad usage, configuration or input; `3` an
//! I/O or network failure that retries did not cure.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod download;
mod export;
mod flaky;
mod format;
mod generate;
mod import;
mod init;
mod inspect;
mod interrupt;
mod key;
mod keygen;
mod ledger;
mod lint;
mod lock;
mod manifest;
mod map;
mod matrix;
mod publish;
mod replay;
mod run;
mod serve;
mod tenant;
mod upload;
mod verify;
mod verify_signature;

/// Turn a CI test run into signed per-script proofs and gate merges and releases on them.
#[derive(Debug, Parser)]
#[command(
    name = "proofgate",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand understands.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Repository root: where scripts, tests and `proofgate.yaml` are looked up.
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub root: PathBuf,
    /// Configuration file [default: `proofgate.yaml` under the root, optional].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Global {
    /// The configuration file to read, and whether the user named it (a named file
    /// must exist; the default one may be absent).
    pub fn config_path(&self) -> (PathBuf, bool) {
        match &self.config {
            Some(p) => (p.clone(), true),
            None => (self.root.join("proofgate.yaml"), false),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold `proofgate.yaml`, the workflow, script headers and the CI key pair.
    Init(init::Args),
    /// Parse JUnit XML files and print the normalised cases and totals.
    Inspect(inspect::Args),
    /// Validate script headers and `proofgate.yaml`.
    Lint(lint::Args),
    /// Pin, per script, the proof that certifies it (`proofgate.lock`).
    Lock(lock::Args),
    /// Render the certification matrix (Markdown or JSON).
    Matrix(matrix::Args),
    /// Show which test cases certify which script.
    Map(map::Args),
    /// Write a proof per script from JUnit results (and sign it when a key is given).
    Generate(generate::Args),
    /// Make an ed25519 signing key; print its public key and key id.
    Keygen(keygen::Args),
    /// Check one DSSE envelope against a public key.
    VerifySignature(verify_signature::Args),
    /// Upload proofs through the GitHub Actions artifact API.
    Upload(upload::Args),
    /// Download proofs from this run, another run, a commit, a branch or a PR.
    Download(download::Args),
    /// The gate: check proofs against the certification model.
    Verify(verify::Args),
    /// Run the test command, capture its log, then generate proofs.
    Run(run::Args),
    /// Re-run a recorded run at its commit and compare the results test by test.
    Replay(replay::Args),
    /// Hash the sources into a manifest with a Merkle root, or check one.
    Manifest(manifest::Args),
    /// Work with the hash-chained ledger of signed events.
    Ledger(ledger::Args),
    /// The whole pipeline on an embedded example, offline.
    Demo(demo::Args),
    /// Run the evidence store: an API and pages over SQLite or PostgreSQL.
    Serve(serve::Args),
    /// Tenants of the evidence store: create one, trust its keys.
    Tenant(tenant::Args),
    /// Upload what `run` or `generate` wrote to the evidence store.
    Publish(publish::Args),
    /// Write one stored run (bundle, proofs, envelopes, ledger) to an archive file.
    Export(export::Args),
    /// Publish an exported archive to a store, which verifies it again.
    Import(import::Args),
    /// Tests whose results differ across runs of the same script and tests.
    Flaky(flaky::Args),
}

/// What a command answered when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Yes,
    /// Exit 1: the answer is no (gate failed, tests failed, ledger broken).
    No,
}

/// Why a command failed: decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Exit 2: bad usage, configuration or input.
    Usage,
    /// Exit 3: an I/O or network failure that retries did not cure.
    Io,
}

/// A failed command: the error chain and its exit code.
pub struct CliError {
    pub kind: FailureKind,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind: FailureKind::Usage,
            error: error.into(),
        }
    }

    pub fn io(error: impl Into<anyhow::Error>) -> Self {
        Self {
            kind: FailureKind::Io,
            error: error.into(),
        }
    }

    /// An error that knows its own exit class (`proofgate::exit::Failure`).
    pub fn classified<E: proofgate::exit::Failure>(error: E) -> Self {
        match error.exit_class() {
            proofgate::exit::ExitClass::Usage => Self::usage(error),
            proofgate::exit::ExitClass::Io => Self::io(error),
        }
    }

    /// The same, with a sentence of context in front of the cause.
    pub fn classified_with<E: proofgate::exit::Failure>(error: E, context: &'static str) -> Self {
        let class = error.exit_class();
        let error = anyhow::Error::new(error).context(context);
        match class {
            proofgate::exit::ExitClass::Usage => Self::usage(error),
            proofgate::exit::ExitClass::Io => Self::io(error),
        }
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.kind, self.error)
    }
}

/// The result of every subcommand's `run`.
pub type CliResult = Result<Outcome, CliError>;

/// Classifies any error as a usage (exit 2) or I/O (exit 3) failure, with context.
pub trait ResultExt<T> {
    /// Bad usage, configuration or input: exit 2.
    fn or_usage(self) -> Result<T, CliError>;
    /// I/O or network failure: exit 3.
    fn or_io(self) -> Result<T, CliError>;
    /// Exit 2, with a sentence of context in front of the cause.
    fn usage_context<C: fmt::Display + Send + Sync + 'static>(self, c: C) -> Result<T, CliError>;
    /// Exit 3, with a sentence of context in front of the cause.
    fn io_context<C: fmt::Display + Send + Sync + 'static>(self, c: C) -> Result<T, CliError>;
}

impl<T, E> ResultExt<T> for Result<T, E>
where
    E: Into<anyhow::Error>,
{
    fn or_usage(self) -> Result<T, CliError> {
        self.map_err(CliError::usage)
    }

    fn or_io(self) -> Result<T, CliError> {
        self.map_err(CliError::io)
    }

    fn usage_context<C: fmt::Display + Send + Sync + 'static>(self, c: C) -> Result<T, CliError> {
        self.map_err(|e| CliError::usage(e.into().context(c)))
    }

    fn io_context<C: fmt::Display + Send + Sync + 'static>(self, c: C) -> Result<T, CliError> {
        self.map_err(|e| CliError::io(e.into().context(c)))
    }
}

/// Sets the run context's shard from `--shard` (which wins over `PROOFGATE_SHARD`) and
/// checks it can be part of a file name.
pub fn apply_shard(
    context: proofgate::proof::context::RunContext,
    flag: Option<&str>,
) -> Result<proofgate::proof::context::RunContext, CliError> {
    let context = context.override_shard(flag);
    context.check_shard().map_err(CliError::usage)?;
    Ok(context)
}

/// Whether the failure is only that stdout's reader went away (`… | head`): like
/// ripgrep, that is a normal end, not an I/O failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                c.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Parses the command line, runs the subcommand and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => init::run(a, &cli.global),
        Command::Inspect(a) => inspect::run(a, &cli.global),
        Command::Lint(a) => lint::run(a, &cli.global),
        Command::Lock(a) => lock::run(a, &cli.global),
        Command::Matrix(a) => matrix::run(a, &cli.global),
        Command::Map(a) => map::run(a, &cli.global),
        Command::Generate(a) => generate::run(a, &cli.global),
        Command::Keygen(a) => keygen::run(a, &cli.global),
        Command::VerifySignature(a) => verify_signature::run(a, &cli.global),
        Command::Upload(a) => upload::run(a, &cli.global),
        Command::Download(a) => download::run(a, &cli.global),
        Command::Verify(a) => verify::run(a, &cli.global),
        Command::Run(a) => run::run(a, &cli.global),
        Command::Replay(a) => replay::run(a, &cli.global),
        Command::Manifest(a) => manifest::run(a, &cli.global),
        Command::Ledger(a) => ledger::run(a, &cli.global),
        Command::Demo(a) => demo::run(a, &cli.global),
        Command::Serve(a) => serve::run(a, &cli.global),
        Command::Tenant(a) => tenant::run(a, &cli.global),
        Command::Publish(a) => publish::run(a, &cli.global),
        Command::Export(a) => export::run(a, &cli.global),
        Command::Import(a) => import::run(a, &cli.global),
        Command::Flaky(a) => flaky::run(a, &cli.global),
    };
    match result {
        Ok(Outcome::Yes) => ExitCode::SUCCESS,
        Ok(Outcome::No) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e.error) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain may quote names, paths and text from the input: no line of it may
            // be read as a workflow command.
            let text = format!("{:#}", e.error);
            eprintln!("error: {}", proofgate::github::log::untrusted_lines(&text));
            ExitCode::from(match e.kind {
                FailureKind::Usage => 2,
                FailureKind::Io => 3,
            })
        }
    }
}

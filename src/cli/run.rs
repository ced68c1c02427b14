//! `proofgate run -- CMD…`: run the tests with a timeout, capture the log with secrets
//! redacted, then write the run bundle (`bundle.json`, `summary.md`, `manifest.json`)
//! beside the proofs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use proofgate::bundle::environment::Environment;
use proofgate::bundle::redact::{SecretKind, Secrets};
use proofgate::bundle::run::RunOutcome;
use proofgate::model::{Model, Severity};
use proofgate::pipeline::{self, Note, ProofsRequest, RunRequest};
use proofgate::proof::context::RunContext;
use proofgate::sign::KeySource;

use super::{CliError, CliResult, Global, Outcome, ResultExt};

/// Where proofs and the bundle go by default, relative to the root (as `generate`).
pub const DEFAULT_OUT: &str = "test-results/proofs";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill the command (and every process it started) after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub timeout: u64,
    /// Run the command through `sh -c` (its words joined by spaces) instead of directly.
    #[arg(long)]
    pub shell: bool,
    /// JUnit XML files the command writes, relative to the root (glob, repeatable).
    #[arg(long, value_name = "GLOB")]
    pub junit: Vec<String>,
    /// Where to write the redacted log, relative to the root [default: `<out>/tests.log`].
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Redact the value of this environment variable from the log (repeatable).
    /// `PROOFGATE_SIGNING_KEY` is always redacted.
    #[arg(long = "redact-env", value_name = "VAR")]
    pub redact_env: Vec<String>,
    /// Also record this environment variable in the bundle's `environment`, for
    /// `replay` (repeatable; secret values are redacted as in the log).
    #[arg(long = "record-env", value_name = "VAR")]
    pub record_env: Vec<String>,
    /// Directory for the proofs, the bundle, the manifest and the log (relative to the
    /// root).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// The base to diff against [default: `GITHUB_BASE_REF`, else `origin/main` if present].
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Sources to include in the manifest, relative to the root (repeatable) [default: all].
    #[arg(long, value_name = "DIR")]
    pub scope: Vec<String>,
    /// The key that signs the proofs and `bundle.json`.
    #[command(flatten)]
    pub key: super::key::KeyArgs,
    /// The ledger to continue with a signed `GENERATE` event when a key is given
    /// (relative to the root; created on first use) [default: `<out>/ledger.jsonl`, so it
    /// travels in the proofs artifact]. Put the previous run's ledger there first (e.g.
    /// with `proofgate download`) and the chain spans runs.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// Do not append to the ledger, even with a key.
    #[arg(long, conflicts_with = "ledger")]
    pub no_ledger: bool,
    /// The test command and its arguments.
    /// This matrix leg or shard [env: PROOFGATE_SHARD]: proofs become partial evidence
    /// named `proof-<ID>@<SHARD>.json` (see `generate --shard`).
    #[arg(long, value_name = "NAME")]
    pub shard: Option<String>,
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let root = &global.root;
    let out_dir = root.join(&args.out);
    let log_path = match &args.log {
        Some(l) => root.join(l),
        None => out_dir.join("tests.log"),
    };

    // The key and the model are read before the run, so a bad key or configuration
    // fails fast, not after the tests.
    let env = |k: &str| std::env::var(k).ok();
    let key_source = args.key.source(env);
    let key = args.key.load(env)?;
    let model = load_model(&args, global)?;

    let mut secrets = Secrets::from_env(&args.redact_env, env);
    if let Some(KeySource::Env(var)) = &key_source
        && let Some(v) = env(var)
    {
        secrets.add(&v, SecretKind::SigningKey);
    }
    let github_base = proofgate::github::RunnerEnv::from_process().base_ref;
    let ledger = match (&args.ledger, args.no_ledger) {
        (_, true) => None,
        (Some(l), false) => Some(root.join(l)),
        (None, false) => Some(out_dir.join("ledger.jsonl")),
    };
    let environment = Environment::capture(
        root,
        &BTreeMap::new(),
        &args.record_env,
        &args.redact_env,
        &secrets,
    );
    let request = RunRequest {
        root,
        command: args.command.clone(),
        shell: args.shell,
        timeout: Duration::from_secs(args.timeout),
        out_dir,
        log_path,
        secrets,
        echo: true,
        proofs: model.as_ref().map(|model| ProofsRequest {
            junit: &args.junit,
            model,
            context: RunContext::from_env(proofgate::env::process_lookup)
                .override_shard(args.shard.as_deref()),
        }),
        scope: args.scope.clone(),
        base: args.base.as_deref(),
        github_base_ref: github_base.as_deref(),
        key: key.as_ref(),
        ledger,
        env: BTreeMap::new(),
        environment: Some(environment),
        replay_of: None,
        started: None,
    };
    let result = pipeline::run(&request, &mut print_note).map_err(CliError::classified)?;

    let outcome = result.bundle.outcome;
    eprintln!(
        "proofgate: {} in {:.1}s; bundle {}",
        match outcome {
            RunOutcome::Passed => "tests passed",
            RunOutcome::Failed => "tests failed",
            RunOutcome::TimedOut => "tests timed out",
        },
        result.bundle.exec.duration_ms as f64 / 1000.0,
        result.bundle_path.display()
    );
    Ok(if outcome == RunOutcome::Passed {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

/// The model, when the run writes proofs (`--junit`); its lint errors are warnings here.
fn load_model(args: &Args, global: &Global) -> Result<Option<Model>, CliError> {
    if args.junit.is_empty() {
        return Ok(None);
    }
    let (config, required) = global.config_path();
    let (model, findings) = Model::load(&global.root, &config, required).or_usage()?;
    for f in findings.iter().filter(|f| f.severity == Severity::Error) {
        eprintln!("warning: {f}");
    }
    Ok(Some(model))
}

/// Tells the person at the terminal what the pipeline noted.
fn print_note(note: Note<'_>) {
    match note {
        Note::TimedOut { timeout } => eprintln!("Tests timed out after {}s.", timeout.as_secs()),
        Note::JunitInputs(e) => eprintln!("proofgate: warning: {e}"),
        Note::JunitLeftOut(e) => eprintln!("proofgate: warning: JUnit file left out: {e}"),
        Note::LedgerEvent {
            path,
            sequence,
            head,
        } => eprintln!(
            "proofgate: ledger `{}` event {sequence} (head {head})",
            path.display()
        ),
    }
}

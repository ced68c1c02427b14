//! `proofgate run -- CMD…`: run the tests with a timeout, capture the log with secrets
//! redacted, then write the run bundle (`bundle.json`, `summary.md`, `manifest.json`)
//! beside the proofs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use proofgate::bundle::environment::Environment;
use proofgate::bundle::redact::{SecretKind, Secrets};
use proofgate::bundle::rerun::{RerunNote, Tool};
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
    /// After the command, run the tests that failed again, up to N times (0: never, at
    /// most 10), and merge the results: a test that fails and then passes is `flaky` in
    /// the proofs, one that keeps failing stays failed. pytest and cargo-nextest rerun
    /// only the failed tests, by id, with the same seed; any other command is rerun
    /// whole. The run passes when the last rerun leaves no test failing; the command's own
    /// exit code stays in the bundle. Needs `--junit`.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(proofgate::bundle::rerun::MAX_RERUNS)))]
    pub rerun_failed: u32,
    /// A seed the tests ran with, `NAME=VALUE` (repeatable), for a seed `run` does not read
    /// itself; it wins over a detected seed of the same name. Recorded in `bundle.json` and
    /// in each proof's `context.seeds`.
    #[arg(long = "seed", value_name = "NAME=VALUE", value_parser = parse_seed_arg)]
    pub seeds: Vec<(String, String)>,
    /// This matrix leg or shard [env: PROOFGATE_SHARD]: proofs become partial evidence
    /// named `proof-<ID>@<SHARD>.json` (see `generate --shard`).
    #[arg(long, value_name = "NAME")]
    pub shard: Option<String>,
    /// The test command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let root = &global.root;
    if args.rerun_failed > 0 && args.junit.is_empty() {
        return Err(CliError::usage(anyhow::anyhow!(
            "--rerun-failed needs --junit: the failed tests are read from the JUnit files"
        )));
    }
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
    // Ctrl-C or SIGTERM (a cancelled CI job) ends the test command's process group too:
    // it runs in a group of its own, which the terminal's signal does not reach.
    let interrupt = super::interrupt::Interrupt::install("ending the test command", || {});
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
        rerun_failed: args.rerun_failed,
        seeds: args.seeds.iter().cloned().collect(),
        out_dir,
        log_path,
        secrets,
        echo: true,
        proofs: model.as_ref().map(|model| ProofsRequest {
            junit: &args.junit,
            model,
            context: run_context(root, args.shard.as_deref()),
        }),
        scope: args.scope.clone(),
        base: args.base.as_deref(),
        github_base_ref: github_base.as_deref(),
        key: key.as_ref(),
        ledger,
        env: BTreeMap::new(),
        environment: Some(environment),
        replay_of: None,
        started: Some(interrupt.started()),
    };
    let result = pipeline::run(&request, &mut print_note);
    interrupt.command_ended();
    let result = result.map_err(CliError::classified)?;

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

fn parse_seed_arg(text: &str) -> Result<(String, String), String> {
    proofgate::proof::context::parse_seed(text).map_err(|e| e.to_string())
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
        Note::Rerun(n) => print_rerun_note(n),
        Note::NothingToRerun => eprintln!(
            "proofgate: the command failed, but its JUnit reports no failed test to rerun; the failure stands"
        ),
        Note::RerunsDone {
            attempts,
            flaky,
            still_failing,
        } => eprintln!(
            "proofgate: after {attempts} rerun(s): {flaky} test(s) passed on a rerun (flaky), {still_failing} still failing"
        ),
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

/// Tells what a rerun of failed tests is doing.
fn print_rerun_note(note: RerunNote<'_>) {
    match note {
        RerunNote::Start {
            attempt,
            of,
            tool: Tool::Other,
            failing,
            ..
        } => eprintln!(
            "proofgate: rerun {attempt} of {of}: rerunning the whole command for {failing} failed test(s) (not pytest or cargo-nextest, so the tests cannot be rerun by id)"
        ),
        RerunNote::Start {
            attempt,
            of,
            tool,
            tests,
            ..
        } => eprintln!(
            "proofgate: rerun {attempt} of {of}: {tests} failed test(s) by id ({})",
            tool.name()
        ),
        RerunNote::Unnamed { count } => eprintln!(
            "proofgate: warning: {count} failed test(s) have no id the tool can rerun; they stay failed"
        ),
        RerunNote::NoJunit { attempt } => eprintln!(
            "proofgate: warning: rerun {attempt} wrote no readable JUnit; the earlier failures stand"
        ),
        RerunNote::JunitLeftOut(e) => {
            eprintln!("proofgate: warning: JUnit file of a rerun left out: {e}")
        }
        RerunNote::NotStarted { attempt, error } => eprintln!(
            "proofgate: warning: rerun {attempt} could not start ({error}); the earlier failures stand"
        ),
        RerunNote::TimedOut { attempt } => {
            eprintln!("proofgate: rerun {attempt} timed out; no further reruns")
        }
    }
}

/// The run context from the environment; outside Actions, the commit checked out (as
/// `generate` does), so that the proofs name the commit they were made for.
fn run_context(root: &std::path::Path, shard: Option<&str>) -> RunContext {
    let mut context = RunContext::from_env(proofgate::env::process_lookup).override_shard(shard);
    if context.sha.is_none() {
        context.sha = proofgate::bundle::git::resolve(root, "HEAD").ok().flatten();
    }
    context
}

//! `proofgate run -- CMD…`: run the tests with a timeout, capture the log with secrets
//! redacted, then write the run bundle (`bundle.json`, `summary.md`, `manifest.json`)
//! beside the proofs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proofgate::bundle::exec::{self, ExecError, ExecRequest};
use proofgate::bundle::git;
use proofgate::bundle::ledger::{EventKind, Ledger, LedgerError};
use proofgate::bundle::manifest::{self, ManifestRequest};
use proofgate::bundle::redact::{RedactionCount, Redactor, SecretKind, Secrets};
use proofgate::bundle::run::{
    self, BUNDLE_FORMAT_VERSION, FileRef, ManifestRef, RunBundle, RunOutcome,
};
use proofgate::digest::Sha256Digest;
use proofgate::fsutil::{relative_under, repo_relative, write_durable};
use proofgate::junit::{self, ParseOptions};
use proofgate::model::{Model, Severity};
use proofgate::proof::context::RunContext;
use proofgate::proof::generate::{self as gen_core, GenerateRequest, JunitInput};
use proofgate::sign::{self, KeySource, SigningKey};

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
    std::fs::create_dir_all(&out_dir)
        .io_context(format!("cannot create `{}`", out_dir.display()))?;

    // The key is loaded before the run so a bad key fails fast, not after the tests.
    let env = |k: &str| std::env::var(k).ok();
    let key_source = args.key.source(env);
    let key = args.key.load(env)?;

    // The model is read before the run, so a configuration error fails fast.
    let model = if args.junit.is_empty() {
        None
    } else {
        let (config, required) = global.config_path();
        let (model, findings) = Model::load(root, &config, required).or_usage()?;
        for f in findings.iter().filter(|f| f.severity == Severity::Error) {
            eprintln!("warning: {f}");
        }
        Some(model)
    };

    let mut secrets = Secrets::from_env(&args.redact_env, env);
    if let Some(KeySource::Env(var)) = &key_source
        && let Some(v) = env(var)
    {
        secrets.add(&v, SecretKind::SigningKey);
    }
    let mut record = exec::execute(&ExecRequest {
        command: args.command.clone(),
        shell: args.shell,
        timeout: Duration::from_secs(args.timeout),
        cwd: root.clone(),
        log_path: log_path.clone(),
        secrets: secrets.clone(),
        echo: true,
    })
    .map_err(|e| match e {
        ExecError::Io { .. } => CliError::io(e),
        other => CliError::usage(other),
    })?;
    if record.timed_out {
        eprintln!("Tests timed out after {}s.", args.timeout);
    }
    record.log.path = repo_relative(root, &log_path);

    let mut proofs = Vec::new();
    let mut junit = Vec::new();
    if let Some(model) = &model {
        let g = generate_proofs(&args, root, model, &out_dir, key.as_ref(), &secrets)?;
        junit = g.junit;
        proofs = g.proofs;
        merge_counts(&mut record.redactions, g.redactions);
    }

    let mut exclude: Vec<String> = Vec::new();
    exclude.extend(relative_under(root, &out_dir));
    exclude.extend(relative_under(root, &log_path));
    // Test results are outputs of the run, not sources.
    exclude.extend(
        junit
            .iter()
            .filter_map(|f| relative_under(root, &root.join(&f.path))),
    );
    let built = manifest::build(&ManifestRequest {
        root: root.clone(),
        scope: args.scope.clone(),
        exclude,
        threads: 0,
    })
    .map_err(CliError::classified)?;
    let manifest_path = out_dir.join("manifest.json");
    let mut mjson = serde_json::to_vec_pretty(&built.manifest).or_io()?;
    mjson.push(b'\n');
    write_durable(&manifest_path, &mjson)
        .io_context(format!("cannot write `{}`", manifest_path.display()))?;

    let github_base = proofgate::github::RunnerEnv::from_process().base_ref;
    let git_info = git::collect(root, args.base.as_deref(), github_base.as_deref()).or_usage()?;

    let outcome = RunBundle::outcome_of(&record, &proofs);
    let bundle = RunBundle {
        format_version: BUNDLE_FORMAT_VERSION,
        outcome,
        exec: record,
        git: git_info,
        junit,
        proofs,
        manifest: ManifestRef {
            path: repo_relative(root, &manifest_path),
            root_hash: built.manifest.root_hash,
            file_count: built.manifest.file_count,
            scope: built.manifest.scope.clone(),
        },
    };
    let mut bjson = serde_json::to_vec_pretty(&bundle).or_io()?;
    bjson.push(b'\n');
    let bundle_path = out_dir.join("bundle.json");
    write_durable(&bundle_path, &bjson)
        .io_context(format!("cannot write `{}`", bundle_path.display()))?;
    let summary_path = out_dir.join("summary.md");
    write_durable(&summary_path, bundle.summary_markdown().as_bytes())
        .io_context(format!("cannot write `{}`", summary_path.display()))?;
    if let Some(k) = &key {
        let env = sign::dsse::sign(k, run::BUNDLE_PAYLOAD_TYPE, &bjson);
        let p = out_dir.join("bundle.dsse.json");
        write_durable(&p, &env.to_json_pretty())
            .io_context(format!("cannot write `{}`", p.display()))?;
        if !args.no_ledger {
            let ledger_path = match &args.ledger {
                Some(l) => root.join(l),
                None => out_dir.join("ledger.jsonl"),
            };
            append_generate_event(&ledger_path, k, &bundle, Sha256Digest::of(&bjson))?;
        }
    }
    eprintln!(
        "proofgate: {} in {:.1}s; bundle {}",
        match outcome {
            RunOutcome::Passed => "tests passed",
            RunOutcome::Failed => "tests failed",
            RunOutcome::TimedOut => "tests timed out",
        },
        bundle.exec.duration_ms as f64 / 1000.0,
        bundle_path.display()
    );
    Ok(if outcome == RunOutcome::Passed {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

/// Continues the ledger with a signed `GENERATE` event that vouches for the bundle, every
/// proof and the manifest root, so deleting or swapping any of them later breaks the chain.
fn append_generate_event(
    path: &Path,
    key: &SigningKey,
    bundle: &RunBundle,
    bundle_digest: Sha256Digest,
) -> Result<(), CliError> {
    let mut ledger = Ledger::open(path, None).map_err(|e| match e {
        LedgerError::Io { .. } => CliError::io(e),
        other => CliError::usage(anyhow::Error::new(other).context(format!(
            "cannot continue the ledger `{}`: move it away or pass --no-ledger",
            path.display()
        ))),
    })?;
    let mut digests = vec![bundle_digest, bundle.manifest.root_hash];
    digests.extend(bundle.proofs.iter().map(|p| p.digest));
    let mut attributes = BTreeMap::new();
    if let Ok(serde_json::Value::String(outcome)) = serde_json::to_value(bundle.outcome) {
        attributes.insert("outcome".to_owned(), outcome);
    }
    if let Some(g) = &bundle.git {
        attributes.insert("head_sha".to_owned(), g.head_sha.clone());
    }
    let appended = ledger
        .append(
            key,
            EventKind::Generate,
            digests,
            attributes,
            chrono::Utc::now(),
        )
        .map_err(|e| match e {
            LedgerError::Io { .. } => CliError::io(e),
            other => CliError::usage(other),
        })?;
    eprintln!(
        "proofgate: ledger `{}` event {} (head {})",
        path.display(),
        appended.event.sequence,
        appended.head
    );
    Ok(())
}

fn merge_counts(into: &mut Vec<RedactionCount>, more: Vec<RedactionCount>) {
    for c in more {
        match into.iter_mut().find(|x| x.kind == c.kind) {
            Some(x) => x.count += c.count,
            None => into.push(c),
        }
    }
    into.sort_by(|a, b| a.kind.cmp(&b.kind));
}

/// What proof generation produced for the bundle.
struct Generated {
    junit: Vec<FileRef>,
    proofs: Vec<run::ProofRef>,
    /// Secrets redacted from test messages.
    redactions: Vec<RedactionCount>,
}

/// Reads the JUnit files the run wrote, redacts secrets from the test messages, and
/// writes a proof per script into `out_dir`. Missing or unreadable JUnit files are
/// reported and left out: the scripts they would have covered get FAIL proofs.
fn generate_proofs(
    args: &Args,
    root: &Path,
    model: &Model,
    out_dir: &Path,
    key: Option<&SigningKey>,
    secrets: &Secrets,
) -> Result<Generated, CliError> {
    let files = match junit::expand_inputs(root, &args.junit) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("proofgate: warning: {e}");
            Vec::new()
        }
    };
    let mut reports = Vec::new();
    let opts = ParseOptions::default();
    for f in &files {
        match junit::read_file(f, &opts) {
            Ok(r) => reports.push(r),
            Err(e) => eprintln!("proofgate: warning: JUnit file left out: {e}"),
        }
    }
    let mut input = JunitInput::from_reports(reports);
    let mut redactor = Redactor::new(secrets.clone());
    for case in &mut input.cases {
        if let Some(m) = case.message.as_mut() {
            *m = redactor.redact_all(m);
        }
    }
    let mut refs = Vec::new();
    for f in &input.files {
        let digest = Sha256Digest::of_file(&f.path)
            .io_context(format!("cannot read `{}`", f.path.display()))?;
        refs.push(FileRef {
            path: repo_relative(root, &f.path),
            digest,
        });
    }
    let context = super::apply_shard(
        RunContext::from_env(proofgate::env::process_lookup),
        args.shard.as_deref(),
    )?;
    let report = gen_core::generate(&GenerateRequest {
        model,
        junit: &input,
        context: &context,
        generated_at: chrono::Utc::now(),
        key,
        out_dir,
    })
    .map_err(CliError::classified)?;
    let mut proofs = Vec::new();
    for p in &report.proofs {
        // The digest of the bytes just written: no second read.
        proofs.push(run::ProofRef {
            script_id: p.script_id.clone(),
            path: repo_relative(root, &p.proof),
            digest: p.proof_digest,
            verdict: p.verdict.as_str().to_owned(),
        });
    }
    Ok(Generated {
        junit: refs,
        proofs,
        redactions: redactor.counts(),
    })
}

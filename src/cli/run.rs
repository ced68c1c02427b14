//! `proofgate run -- CMD…`: run the tests with a timeout, capture the log with secrets
//! redacted, then write the run bundle (`bundle.json`, `summary.md`, `manifest.json`)
//! beside the proofs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proofgate::bundle::exec::{self, ExecError, ExecRequest};
use proofgate::bundle::git;
use proofgate::bundle::manifest::{self, ManifestRequest};
use proofgate::bundle::redact::Secrets;
use proofgate::bundle::run::{
    self, BUNDLE_FORMAT_VERSION, FileRef, ManifestRef, RunBundle, RunOutcome,
};
use proofgate::bundle::write_atomic;
use proofgate::digest::Sha256Digest;
use proofgate::sign::{self, KeySource};

use super::manifest::relative_to_root;
use super::{CliError, CliResult, Global, Outcome, ResultExt};

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
    /// Where to write the redacted log [default: `<out>/tests.log`].
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Redact the value of this environment variable from the log (repeatable).
    /// `PROOFGATE_SIGNING_KEY` is always redacted.
    #[arg(long = "redact-env", value_name = "VAR")]
    pub redact_env: Vec<String>,
    /// Directory for the bundle, the manifest and the proofs.
    #[arg(long, value_name = "DIR", default_value = "proofs")]
    pub out: PathBuf,
    /// The base to diff against [default: `GITHUB_BASE_REF`, else `origin/main` if present].
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Sources to include in the manifest, relative to the root (repeatable) [default: all].
    #[arg(long, value_name = "DIR")]
    pub scope: Vec<String>,
    /// Sign `bundle.json` with the key in this file (default: the environment variable,
    /// when set).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The environment variable holding the signing key.
    #[arg(long, value_name = "VAR", default_value = sign::DEFAULT_KEY_ENV)]
    pub key_env: String,
    /// The test command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Expands `--junit` globs under `root` (walking from each pattern's literal prefix).
fn expand_junit(root: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, CliError> {
    let mut found = Vec::new();
    for pat in patterns {
        let glob = globset::GlobBuilder::new(pat)
            .literal_separator(true)
            .build()
            .usage_context(format!("bad `--junit` glob `{pat}`"))?
            .compile_matcher();
        let literal: Vec<&str> = pat
            .split('/')
            .take_while(|c| !c.contains(['*', '?', '[', '{']))
            .collect();
        let is_literal = literal.len() == pat.split('/').count();
        if is_literal {
            let p = root.join(pat);
            if p.is_file() {
                found.push(p);
            }
            continue;
        }
        let start = root.join(literal.join("/"));
        if !start.is_dir() {
            continue;
        }
        let walker = ignore::WalkBuilder::new(&start)
            .standard_filters(false)
            .filter_entry(|e| {
                !matches!(
                    e.file_name().to_str(),
                    Some(".git" | "node_modules" | "target")
                )
            })
            .build();
        for entry in walker.flatten() {
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            if let Ok(rel) = entry.path().strip_prefix(root)
                && glob.is_match(rel)
            {
                found.push(entry.path().to_owned());
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let root = &global.root;
    let out_dir = &args.out;
    let log_path = args
        .log
        .clone()
        .unwrap_or_else(|| out_dir.join("tests.log"));
    std::fs::create_dir_all(out_dir)
        .io_context(format!("cannot create `{}`", out_dir.display()))?;

    // The key is loaded before the run so a bad key fails fast, not after the tests.
    let key = match &args.key {
        Some(p) => Some(
            sign::load_signing_key(&KeySource::File(p.clone()), |v| std::env::var(v).ok())
                .or_usage()?,
        ),
        None => match std::env::var(&args.key_env) {
            Ok(v) if !v.trim().is_empty() => Some(
                sign::load_signing_key(&KeySource::Env(args.key_env.clone()), |v| {
                    std::env::var(v).ok()
                })
                .or_usage()?,
            ),
            _ => None,
        },
    };

    let secrets = Secrets::from_env(&args.redact_env, |v| std::env::var(v).ok());
    let record = exec::execute(&ExecRequest {
        command: args.command.clone(),
        shell: args.shell,
        timeout: Duration::from_secs(args.timeout),
        cwd: root.clone(),
        log_path: log_path.clone(),
        secrets,
        echo: true,
    })
    .map_err(|e| match e {
        ExecError::Io { .. } => CliError::io(e),
        other => CliError::usage(other),
    })?;
    if record.timed_out {
        eprintln!("Tests timed out after {}s.", args.timeout);
    }

    let junit_files = expand_junit(root, &args.junit)?;
    let mut junit = Vec::new();
    for p in &junit_files {
        let digest =
            Sha256Digest::of_file(p).io_context(format!("cannot read `{}`", p.display()))?;
        junit.push(FileRef {
            path: p
                .strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned(),
            digest,
        });
    }
    if !args.junit.is_empty() && junit.is_empty() && !record.timed_out {
        eprintln!("proofgate: no JUnit file matched {}", args.junit.join(", "));
    }
    let proofs = if junit.is_empty() {
        Vec::new()
    } else {
        generate_proofs(&junit_files, out_dir)?
    };

    let mut exclude: Vec<String> = Vec::new();
    exclude.extend(relative_to_root(out_dir, root));
    exclude.extend(relative_to_root(&log_path, root));
    let built = manifest::build(&ManifestRequest {
        root: root.clone(),
        scope: args.scope.clone(),
        exclude,
        threads: 0,
    })
    .map_err(|e| {
        if e.is_io() {
            CliError::io(e)
        } else {
            CliError::usage(e)
        }
    })?;
    let manifest_path = out_dir.join("manifest.json");
    let mut mjson = serde_json::to_vec_pretty(&built.manifest).or_io()?;
    mjson.push(b'\n');
    write_atomic(&manifest_path, &mjson)
        .io_context(format!("cannot write `{}`", manifest_path.display()))?;

    let github_base = std::env::var("GITHUB_BASE_REF").ok();
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
            path: manifest_path.to_string_lossy().into_owned(),
            root_hash: built.manifest.root_hash,
            file_count: built.manifest.file_count,
            scope: built.manifest.scope.clone(),
        },
    };
    let mut bjson = serde_json::to_vec_pretty(&bundle).or_io()?;
    bjson.push(b'\n');
    let bundle_path = out_dir.join("bundle.json");
    write_atomic(&bundle_path, &bjson)
        .io_context(format!("cannot write `{}`", bundle_path.display()))?;
    let summary_path = out_dir.join("summary.md");
    write_atomic(&summary_path, bundle.summary_markdown().as_bytes())
        .io_context(format!("cannot write `{}`", summary_path.display()))?;
    if let Some(k) = &key {
        let env = sign::dsse::sign(k, run::BUNDLE_PAYLOAD_TYPE, &bjson);
        let p = out_dir.join("bundle.dsse.json");
        write_atomic(&p, &env.to_json_pretty())
            .io_context(format!("cannot write `{}`", p.display()))?;
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

/// Generates a proof per script from the run's JUnit files into `out_dir` and returns
/// them.
fn generate_proofs(_junit: &[PathBuf], _out_dir: &Path) -> Result<Vec<run::ProofRef>, CliError> {
    eprintln!(
        "proofgate: warning: proof generation is not part of this build yet; the bundle records the JUnit files without proofs"
    );
    Ok(Vec::new())
}

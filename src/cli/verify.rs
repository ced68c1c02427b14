//! `proofgate verify`: the gate.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use super::{CliError, CliResult, Global, Outcome, ResultExt};
use proofgate::github::{self, RunnerEnv};
use proofgate::verify::{self, Verdict, render};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// The JSON report (`schemas/verify-report.schema.json`).
    Json,
    /// The Markdown job summary.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory holding `proof-<ID>.json` (and `.dsse.json`) files, searched
    /// recursively. Without it, proofs are downloaded from the artifact service.
    #[arg(long, value_name = "DIR")]
    pub proofs: Option<PathBuf>,
    /// Take the proofs for the commit under test from this evidence store
    /// (`proofgate serve`) instead of artifacts: the release gate after artifacts
    /// expired. The token is read from `--token-env`.
    #[arg(long, value_name = "URL", conflicts_with_all = ["proofs", "name", "pattern", "run_id"])]
    pub server: Option<String>,
    /// Environment variable holding the evidence store's token (with `--server`).
    #[arg(long, value_name = "VAR", default_value = "PROOFGATE_SERVER_TOKEN")]
    pub token_env: String,
    /// Where downloaded artifacts go [default: a temporary directory].
    #[arg(long, value_name = "DIR", conflicts_with = "proofs")]
    pub download_to: Option<PathBuf>,
    /// Artifact name to download.
    #[arg(long, conflicts_with = "proofs")]
    pub name: Option<String>,
    /// Glob of artifact names to download (shards).
    #[arg(long, conflicts_with_all = ["proofs", "name"])]
    pub pattern: Option<String>,
    /// Merge every downloaded artifact into one directory.
    #[arg(long, conflicts_with = "proofs")]
    pub merge_multiple: bool,
    /// Download from this workflow run instead of the current one.
    #[arg(long, value_name = "ID", conflicts_with = "proofs")]
    pub run_id: Option<u64>,
    /// Repository (`owner/name`) for cross-run downloads and the check run.
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// Token for cross-run downloads and the check run.
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<String>,
    /// The commit under test [default: `GITHUB_SHA`, else `git rev-parse HEAD`].
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// Release rules: maturity-3 and medium/high-risk scripts need `ci` evidence.
    #[arg(long)]
    pub release: bool,
    /// Judge `ci` scripts on the proofs this lock pins (written by `proofgate lock
    /// update`): each script and its tests must be the ones locked, and the pinned proof
    /// is retrieved by digest from `--proofs` or `--server`, else from the artifact the
    /// lock names (in the repository under test). Every proof of the script that the
    /// pinned run made, as listed there, must be pinned too.
    #[arg(long, value_name = "FILE", requires = "release")]
    pub lock: Option<PathBuf>,
    /// Require signatures from a trusted key even if the policy says `signatures: none`.
    #[arg(long)]
    pub require_signatures: bool,
    /// Judge the change against this commit's policy, trusted keys and headers (the
    /// stricter of base and head applies) [default: the base of the `pull_request` or
    /// `merge_group` event; none for other events].
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// An extra trusted public key (base64, hex or PEM, or `@FILE` holding one PEM key or
    /// one key per line); repeatable. Meant for a key pinned outside the repository.
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Append the Markdown summary here [default: `GITHUB_STEP_SUMMARY`].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Publish a check run of this name with annotations (needs a token).
    #[arg(long, value_name = "NAME")]
    pub check_run: Option<String>,
    /// Judge ages against this time instead of now (RFC 3339).
    #[arg(long, value_name = "TIME", hide = true)]
    pub now: Option<String>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let env = RunnerEnv::from_process();
    let now: DateTime<Utc> = match &args.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .usage_context(format!("`--now {t}` is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };

    let event = event_refs(&env)?;
    let base = base_tree(&args, global, &event)?;
    let extra_keys = parse_keys(&args.trusted_keys)?;

    let commit = args.commit.clone().or_else(|| env.sha.clone()).or_else(|| {
        proofgate::bundle::git::resolve(&global.root, "HEAD")
            .ok()
            .flatten()
    });

    let repository = args.repository.as_deref().or(env.repository.as_deref());
    let locked = match &args.lock {
        Some(path) => Some(lock_sources(&args, path, repository)?),
        None => None,
    };
    let proofs_dir = match (&args.proofs, &args.server) {
        _ if locked.is_some() => PathBuf::new(),
        (Some(d), _) => d.clone(),
        (None, Some(server)) => from_store(&args, server, commit.as_deref(), repository)?,
        (None, None) => download(&args, &env)?,
    };
    let (config, named) = global.config_path();
    let verified = verify::pipeline::verify(&verify::pipeline::VerifyRequest {
        root: &global.root,
        config: &config,
        config_required: named,
        base: base.as_ref(),
        extra_keys: &extra_keys,
        force_signatures: args.require_signatures,
        proofs: &proofs_dir,
        commit: commit.as_deref(),
        repository,
        release: args.release,
        now,
        lock: locked
            .as_ref()
            .map(|(pins, source)| verify::pipeline::LockRequest { pins, source }),
    })
    .map_err(CliError::classified)?;
    for f in &verified.findings {
        eprintln!("{}: {f} [{}]", f.severity, f.code);
    }
    let report = verified.report;
    if report.signatures == verify::report::Signatures::None {
        eprintln!("{}", render::signatures_line(&report));
    }

    let json = serde_json::to_string_pretty(&report).or_io()?;
    if let Some(p) = &args.report {
        std::fs::write(p, format!("{json}\n"))
            .io_context(format!("could not write the report to `{}`", p.display()))?;
    }
    let annotations = render::annotations(&report);
    let (shown, overflow) = github::split_shown(&annotations);

    let mut stdout = std::io::stdout().lock();
    let written = match args.format {
        Format::Table => stdout.write_all(render::table(&report).as_bytes()),
        Format::Json => writeln!(stdout, "{json}"),
        Format::Markdown => {
            stdout.write_all(render::markdown(&report, &overflow, github::SUMMARY_LIMIT).as_bytes())
        }
    };
    written.io_context("could not write to stdout")?;
    if env.in_actions {
        // Workflow commands: stdout, unless stdout carries JSON.
        let mut text = String::new();
        for a in &shown {
            text.push_str(&a.to_string());
            text.push('\n');
        }
        if args.format == Format::Json {
            eprint!("{text}");
        } else {
            stdout
                .write_all(text.as_bytes())
                .io_context("could not write to stdout")?;
        }
    }
    drop(stdout);

    write_summary_and_outputs(&args, &env, &report, &overflow)?;
    if let Some(name) = &args.check_run {
        // A pull request's checks belong to its head commit (`GITHUB_SHA` is the merge
        // commit), a merge group's to the group's head.
        let sha = event.head_sha.as_deref().or(commit.as_deref());
        check_run(&args, &env, name, &report, &annotations, sha)?;
    }

    Ok(match report.verdict {
        Verdict::Pass => Outcome::Yes,
        Verdict::Fail => Outcome::No,
    })
}

/// The base's tree: `--base`, else the event's base commit; none outside a change.
fn base_tree(
    args: &Args,
    global: &Global,
    event: &github::event::EventRefs,
) -> Result<Option<verify::base::BaseTree>, CliError> {
    let Some(rev) = args.base.clone().or_else(|| event.base_sha.clone()) else {
        return Ok(None);
    };
    let tree = verify::base::export(&global.root, &rev).or_usage()?;
    eprintln!(
        "proofgate: judging against the policy and headers of base commit {}",
        tree.commit
    );
    Ok(Some(tree))
}

/// Appends the Markdown job summary (`--summary`, else `GITHUB_STEP_SUMMARY`) within what
/// is left of the step's 1 MiB, and the step outputs (`GITHUB_OUTPUT`).
fn write_summary_and_outputs(
    args: &Args,
    env: &RunnerEnv,
    report: &verify::Report,
    overflow: &[&github::Annotation],
) -> Result<(), CliError> {
    if let Some(path) = args.summary.clone().or_else(|| env.step_summary.clone()) {
        let used = std::fs::metadata(&path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let limit = github::SUMMARY_LIMIT.saturating_sub(used);
        let md = render::markdown(report, overflow, limit);
        github::append_to(&path, &md).io_context(format!(
            "could not append the job summary to `{}`",
            path.display()
        ))?;
    }
    if let Some(path) = &env.output {
        let report_path = args.report.as_ref().map(|p| p.display().to_string());
        let outputs = render::outputs(report, report_path.as_deref());
        github::outputs::append_outputs(path, &outputs).io_context(format!(
            "could not append step outputs to `{}`",
            path.display()
        ))?;
    }
    Ok(())
}

/// The base and head commits of the event that started the workflow, when it judges a
/// change (`pull_request`, `merge_group`).
fn event_refs(env: &RunnerEnv) -> Result<github::event::EventRefs, CliError> {
    let Some(name) = env.event_name.as_deref() else {
        return Ok(Default::default());
    };
    if !github::event::judges_a_change(name) {
        return Ok(github::event::EventRefs {
            name: Some(name.to_owned()),
            ..Default::default()
        });
    }
    let path = env.event_path.as_ref().ok_or_else(|| {
        CliError::usage(anyhow!(
            "`GITHUB_EVENT_NAME` is `{name}` but `GITHUB_EVENT_PATH` is not set: the base \
             commit cannot be found; pass `--base SHA`"
        ))
    })?;
    let bytes = std::fs::read(path).usage_context(format!(
        "could not read the event payload `{}`",
        path.display()
    ))?;
    github::event::parse(name, &path.display().to_string(), &bytes).or_usage()
}

/// The lock's pins and the places its proofs are retrieved from: `--proofs`, the store
/// (`--server`), the artifacts the lock names (in the repository under test).
fn lock_sources(
    args: &Args,
    path: &std::path::Path,
    repository: Option<&str>,
) -> Result<
    (
        std::collections::BTreeMap<String, Vec<verify::locked::LockPin>>,
        proofgate::lock::fetch::Sources,
    ),
    CliError,
> {
    let lock = proofgate::lock::Lock::read(path).map_err(CliError::classified)?;
    eprintln!(
        "proofgate: judging `ci` scripts on the lock `{}` ({} {})",
        path.display(),
        lock.scripts.len(),
        if lock.scripts.len() == 1 {
            "entry"
        } else {
            "entries"
        }
    );
    let store = match &args.server {
        Some(server) => Some((
            server.clone(),
            super::publish::ServerArgs {
                server: server.clone(),
                token_env: args.token_env.clone(),
                timeout: 300,
            }
            .client()?,
        )),
        None => None,
    };
    let artifacts = proofgate::lock::fetch::ArtifactAccess {
        repository: repository.map(str::to_owned),
        token: args.github_token.clone().filter(|t| !t.is_empty()),
        env: proofgate::artifact::Env::from_process(),
        dir: args.download_to.clone(),
    };
    let locations = lock
        .scripts
        .values()
        .flat_map(|e| {
            let own = e.proof_digest.map(|d| (d, e.location.artifact.clone()));
            let shards = e
                .shards
                .iter()
                .map(|s| (s.proof_digest, s.location.artifact.clone()));
            own.into_iter().chain(shards)
        })
        .collect();
    let sources = proofgate::lock::fetch::Sources::new(
        args.proofs.clone(),
        store,
        Some(artifacts),
        locations,
    )
    .io_context("could not start the async runtime")?;
    Ok((lock.pins(), sources))
}

/// `--trusted-key` values: a key (base64, hex or PEM) or `@FILE`.
pub(super) fn parse_keys(keys: &[String]) -> Result<Vec<proofgate::sign::PublicKey>, CliError> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let text = match k.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .usage_context(format!("could not read the key file `{file}`"))?,
            None => k.clone(),
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with("-----") || text.contains("-----BEGIN") {
                // A PEM block: the whole text is one key.
                out.push(
                    proofgate::sign::PublicKey::parse(&text).usage_context(format!(
                        "`--trusted-key {k}` is not an ed25519 public key"
                    ))?,
                );
                break;
            }
            out.push(
                proofgate::sign::PublicKey::parse(line)
                    .usage_context(format!("`--trusted-key {k}` is not an ed25519 public key"))?,
            );
        }
    }
    Ok(out)
}

/// Downloads the proofs from the artifact service (this run, or `--run-id`).
/// The proofs of the commit under test, fetched from the evidence store.
fn from_store(
    args: &Args,
    server: &str,
    commit: Option<&str>,
    repository: Option<&str>,
) -> Result<PathBuf, CliError> {
    let commit = commit.ok_or_else(|| {
        CliError::usage(anyhow!(
            "`--server` needs the commit under test: pass `--commit SHA`"
        ))
    })?;
    let client = super::publish::ServerArgs {
        server: server.to_owned(),
        token_env: args.token_env.clone(),
        timeout: 300,
    }
    .client()?;
    let path = download_dir(args)?;
    let rt = super::upload::runtime()?;
    let runs = rt
        .block_on(client.fetch_proofs(commit, repository, &path))
        .map_err(|e| {
            CliError::classified_with(e, "reading proofs from the evidence store failed")
        })?;
    eprintln!("proofgate: {runs} stored run(s) of commit {commit} from {server}");
    Ok(path)
}

/// `--download-to`, or a new temporary directory that is kept (its path is printed).
fn download_dir(args: &Args) -> Result<PathBuf, CliError> {
    match &args.download_to {
        Some(p) => Ok(p.clone()),
        None => Ok(tempfile::Builder::new()
            .prefix("proofgate-proofs-")
            .tempdir()
            .io_context("could not make a temporary directory for the proofs")?
            .keep()),
    }
}

fn download(args: &Args, _env: &RunnerEnv) -> Result<PathBuf, CliError> {
    use proofgate::artifact::download::{Selector, Source};
    use proofgate::artifact::{self, DownloadRequest, Env};
    let aenv = Env::from_process();
    let path = download_dir(args)?;
    let req = DownloadRequest {
        selector: match (&args.name, &args.pattern) {
            (Some(n), _) => Selector::Name(n.clone()),
            (_, Some(p)) => Selector::Pattern(p.clone()),
            _ => Selector::All,
        },
        path: path.clone(),
        merge_multiple: args.merge_multiple,
        source: match args.run_id {
            Some(id) => Source::Run(id),
            None => Source::SameRun,
        },
        workflow: None,
        repository: args.repository.clone(),
        token: args.github_token.clone().filter(|t| !t.is_empty()),
        limits: artifact::zip::UnzipLimits::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .io_context("could not start the async runtime")?;
    let report = match rt.block_on(artifact::download(&req, &aenv)) {
        Ok(r) => r,
        // No proofs were uploaded (the test jobs failed before): that is an answer, not a
        // transport fault. The gate runs on an empty folder and denies every script that
        // needs a proof (`PROOF_MISSING`, exit 1).
        Err(e @ artifact::ArtifactError::NotFound { .. }) => {
            eprintln!(
                "proofgate: {}; every script that needs a proof is denied",
                e
            );
            std::fs::create_dir_all(&path).io_context(format!(
                "could not make the proofs directory `{}`",
                path.display()
            ))?;
            return Ok(path);
        }
        Err(e) => {
            return Err(CliError::classified_with(
                e,
                "could not download the proofs",
            ));
        }
    };
    for a in &report.artifacts {
        eprintln!(
            "downloaded `{}` (id {}): {} file(s) into `{}`",
            github::untrusted(&a.name),
            a.id,
            a.files.len(),
            github::untrusted(&a.path.display().to_string())
        );
    }
    Ok(path)
}

fn check_run(
    args: &Args,
    env: &RunnerEnv,
    name: &str,
    report: &verify::Report,
    annotations: &[github::Annotation],
    commit: Option<&str>,
) -> Result<(), CliError> {
    let token = args.github_token.as_deref().ok_or_else(|| {
        CliError::usage(anyhow!(
            "`--check-run` needs `--github-token` or `GITHUB_TOKEN`"
        ))
    })?;
    let repo = args
        .repository
        .as_deref()
        .or(env.repository.as_deref())
        .ok_or_else(|| {
            CliError::usage(anyhow!(
                "`--check-run` needs `--repository` or `GITHUB_REPOSITORY`"
            ))
        })?;
    let sha = commit.ok_or_else(|| CliError::usage(anyhow!("`--check-run` needs a commit")))?;
    let run = github::checks::CheckRun {
        name: name.to_owned(),
        head_sha: sha.to_owned(),
        success: report.verdict == Verdict::Pass,
        title: render::overall_line(report),
        summary: render::markdown(report, &[], github::checks::SUMMARY_CHARS),
        annotations: annotations.to_vec(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .io_context("could not start the async runtime")?;
    let fallback = global_fallback(report);
    let id = rt
        .block_on(github::checks::publish(
            env.api(),
            token,
            repo,
            &run,
            &fallback,
        ))
        .io_context("could not publish the check run")?;
    eprintln!("check run `{name}` published (id {id})");
    Ok(())
}

/// The file an annotation without one is attached to.
fn global_fallback(report: &verify::Report) -> String {
    report
        .scripts
        .first()
        .map(|s| s.path.clone())
        .unwrap_or_else(|| "proofgate.yaml".to_owned())
}

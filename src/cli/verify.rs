//! `proofgate verify`: the gate.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use super::{CliError, CliResult, Global, Outcome, ResultExt};
use proofgate::github::{self, RunnerEnv};
use proofgate::verify::{self, GateInput, Verdict, render};

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
    /// Require signatures from a trusted key even if the policy does not.
    #[arg(long)]
    pub require_signatures: bool,
    /// An extra trusted public key (base64, hex or PEM, or `@FILE`); repeatable.
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

fn git_head(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let env = RunnerEnv::from_process();
    let now: DateTime<Utc> = match &args.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .usage_context(format!("`--now {t}` is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };

    let model = load_model(global, &args.trusted_keys, args.require_signatures)?;

    let commit = args
        .commit
        .clone()
        .or_else(|| env.sha.clone())
        .or_else(|| git_head(&global.root));
    let needs_commit = model.needs_commit(args.release);
    if commit.is_none() && needs_commit {
        return Err(CliError::usage(anyhow!(
            "no commit to check proofs against: pass `--commit SHA`, set `GITHUB_SHA`, or run inside a git checkout"
        )));
    }

    let proofs_dir = match &args.proofs {
        Some(d) => d.clone(),
        None => download(&args, &env)?,
    };
    let proofs = verify::load::read_proofs(&proofs_dir).or_usage()?;
    let facts = verify::load::checkout_facts(&global.root, &model.scripts).or_io()?;

    let report = verify::evaluate(&GateInput {
        scripts: &model.scripts,
        policy: &model.policy,
        facts: &facts,
        proofs: &proofs,
        verifier: &model.verifier,
        commit: commit.as_deref(),
        release: args.release,
        now,
    });

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

    if let Some(path) = args.summary.clone().or_else(|| env.step_summary.clone()) {
        let used = std::fs::metadata(&path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let limit = github::SUMMARY_LIMIT.saturating_sub(used);
        let md = render::markdown(&report, &overflow, limit);
        github::append_to(&path, &md).io_context(format!(
            "could not append the job summary to `{}`",
            path.display()
        ))?;
    }
    if let Some(path) = &env.output {
        let report_path = args.report.as_ref().map(|p| p.display().to_string());
        let mut text = String::new();
        for (name, value) in render::outputs(&report, report_path.as_deref()) {
            text.push_str(
                &github::format_output(name, &value, github::outputs::random_delimiter).or_io()?,
            );
        }
        github::append_to(path, &text).io_context(format!(
            "could not append step outputs to `{}`",
            path.display()
        ))?;
    }
    if let Some(name) = &args.check_run {
        check_run(&args, &env, name, &report, &annotations, commit.as_deref())?;
    }

    Ok(match report.verdict {
        Verdict::Pass => Outcome::Yes,
        Verdict::Fail => Outcome::No,
    })
}

/// What the gate needs from the model.
struct Loaded {
    scripts: Vec<verify::GateScript>,
    policy: verify::GatePolicy,
    verifier: verify::keys::TrustedKeys,
}

impl Loaded {
    /// Whether any script may need a CI proof (and so a commit to check it against).
    fn needs_commit(&self, release: bool) -> bool {
        self.scripts.iter().any(|s| {
            verify::gate::required_evidence(s, &self.policy, release) == Some(verify::Evidence::Ci)
        })
    }
}

fn load_model(global: &Global, extra_keys: &[String], require: bool) -> Result<Loaded, CliError> {
    use proofgate::model::{Model, ModelError};
    let (config, named) = global.config_path();
    let (m, findings): (Model, _) =
        Model::load(&global.root, &config, named).map_err(|e| match e {
            ModelError::Io { .. } => CliError::io(e),
            other => CliError::usage(other),
        })?;
    for f in &findings {
        eprintln!("{}: {f} [{}]", f.severity, f.code);
    }
    let mut extra = Vec::new();
    for k in extra_keys {
        let text = match k.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .usage_context(format!("could not read the key file `{file}`"))?,
            None => k.clone(),
        };
        let key = proofgate::sign::PublicKey::parse(&text)
            .usage_context(format!("`--trusted-key {k}` is not an ed25519 public key"))?;
        extra.push(key);
    }
    let policy = verify::view::policy(&m, require || !extra.is_empty());
    let verifier = verify::view::trusted_keys(&m, extra)
        .usage_context(format!("in `{}`", config.display()))?;
    if policy.require_signatures && verifier.is_empty() {
        return Err(CliError::usage(anyhow!(
            "signatures are required but no key is trusted: add `trusted_keys` to `{}` or pass `--trusted-key`",
            config.display()
        )));
    }
    Ok(Loaded {
        scripts: verify::view::scripts(&m),
        policy,
        verifier,
    })
}

/// Downloads the proofs from the artifact service (this run, or `--run-id`).
fn download(args: &Args, _env: &RunnerEnv) -> Result<PathBuf, CliError> {
    use proofgate::artifact::download::{Selector, Source};
    use proofgate::artifact::{self, DownloadRequest, Env};
    let aenv = Env::from_process();
    let path = match &args.download_to {
        Some(p) => p.clone(),
        None => tempfile::Builder::new()
            .prefix("proofgate-proofs-")
            .tempdir()
            .io_context("could not make a temporary directory for the proofs")?
            .keep(),
    };
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
    let report = rt.block_on(artifact::download(&req, &aenv)).map_err(|e| {
        let usage = e.is_usage();
        let err = anyhow::Error::new(e).context("could not download the proofs");
        if usage {
            CliError::usage(err)
        } else {
            CliError::io(err)
        }
    })?;
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
            &env.api_url,
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

//! `proofgate download`: fetch artifacts from this run, another run, a commit, a branch
//! or a pull request, check their digests and unzip them safely.

use std::path::PathBuf;

use proofgate::artifact::download::{Selector, Source};
use proofgate::artifact::zip::UnzipLimits;
use proofgate::artifact::{self, DownloadRequest, Env};
use proofgate::github::untrusted;

use super::upload::{progress, runtime};
use super::{CliResult, Global, Outcome};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").args(["name", "pattern"])))]
#[command(group(clap::ArgGroup::new("run").args(["run_id", "commit", "pr", "branch"])))]
pub struct Args {
    /// The artifact to download (the newest by id when a run has several of that name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Download every artifact whose name matches this glob (all when neither is given).
    #[arg(long, value_name = "GLOB")]
    pub pattern: Option<String>,
    /// Destination folder [default: `GITHUB_WORKSPACE`, else `.`].
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Put every artifact's files in `--path` itself instead of `<path>/<name>/`.
    #[arg(long)]
    pub merge_multiple: bool,
    /// Another workflow run, by id (REST; needs `--github-token`).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<u64>,
    /// The newest successful run for this commit.
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// The newest successful run for this pull request's head commit.
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// The newest successful run on this branch.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Only runs of this workflow file (e.g. `ci.yml`), with `--commit`, `--pr`, `--branch`.
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<String>,
    /// `owner/name` [default: `GITHUB_REPOSITORY`].
    #[arg(long, value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// Token with actions:read for REST downloads.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GITHUB_TOKEN",
        hide_env_values = true
    )]
    pub github_token: Option<String>,
    /// Most bytes all the artifacts of this download may unpack to, together (the zips
    /// fetched are held to about the same).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_size: u64,
    /// Most entries all the artifacts of this download may have, together.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_entries: usize,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let env = Env::from_process();
    let selector = match (&args.name, &args.pattern) {
        (Some(n), _) => Selector::Name(n.clone()),
        (_, Some(p)) => Selector::Pattern(p.clone()),
        _ => Selector::All,
    };
    let source = if let Some(id) = args.run_id {
        Source::Run(id)
    } else if let Some(sha) = &args.commit {
        Source::Commit(sha.clone())
    } else if let Some(n) = args.pr {
        Source::PullRequest(n)
    } else if let Some(b) = &args.branch {
        Source::Branch(b.clone())
    } else {
        Source::SameRun
    };
    let path = args
        .path
        .clone()
        .or_else(|| env.runner().workspace.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let req = DownloadRequest {
        selector,
        path,
        merge_multiple: args.merge_multiple,
        source,
        workflow: args.workflow.clone(),
        repository: args.repository.clone(),
        token: args.github_token.clone().filter(|t| !t.is_empty()),
        limits: UnzipLimits {
            max_total_bytes: args.max_size,
            max_entries: args.max_entries,
        },
    };
    let progress = progress("downloading");
    let shown = progress.is_some();
    let rt = runtime()?;
    let report = rt
        .block_on(artifact::download::download_with_progress(
            &req, &env, progress,
        ))
        .map_err(|e| super::CliError::classified_with(e, "download failed"))?;
    if shown {
        eprintln!();
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(super::CliError::io)?;
        println!("{}", proofgate::github::log::json(&text));
    } else {
        for a in &report.artifacts {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                untrusted(&a.name),
                a.id,
                a.digest,
                a.files.len(),
                untrusted(&a.path.display().to_string())
            );
        }
    }
    for a in &report.artifacts {
        eprintln!(
            "downloaded `{}` (id {}, {} bytes, {}{}): {} file(s) into `{}`",
            untrusted(&a.name),
            a.id,
            a.size,
            a.digest,
            if a.digest_checked {
                ", digest checked"
            } else {
                ""
            },
            a.files.len(),
            untrusted(&a.path.display().to_string())
        );
    }
    if let Some(out) = env
        .runner()
        .output
        .as_deref()
        .and_then(std::path::Path::to_str)
    {
        let dl = std::path::absolute(&req.path).unwrap_or(req.path.clone());
        proofgate::github::outputs::append_outputs(
            std::path::Path::new(out),
            &[("download-path", dl.display().to_string())],
        )
        .map_err(|e| {
            super::CliError::io(
                anyhow::Error::new(e).context(format!("writing step outputs to `{out}`")),
            )
        })?;
    }
    Ok(Outcome::Yes)
}

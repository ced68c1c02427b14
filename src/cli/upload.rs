//! `proofgate upload`: zip a folder and upload it through the Actions artifact service.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proofgate::artifact::{self, Env, UploadRequest, names};
use proofgate::github::untrusted;

use super::{CliError, CliResult, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to upload (its files, relative to it), or a single file.
    #[arg(long, value_name = "DIR")]
    pub path: PathBuf,
    /// Artifact name [default: `proofs-<job>[-<shard>|-m<matrix hash>]-a<run attempt>`].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Matrix shard to put in the default name (e.g. `${{ strategy.job-index }}`).
    #[arg(long, value_name = "SHARD")]
    pub shard: Option<String>,
    /// The `toJSON(matrix)` text; its hash goes into the default name.
    #[arg(long, value_name = "JSON", env = "PROOFGATE_MATRIX")]
    pub matrix: Option<String>,
    /// Days to keep the artifact, 1–90 (clamped to `GITHUB_RETENTION_DAYS`).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 90,
        allow_negative_numbers = true
    )]
    pub retention_days: i64,
    /// Delete an artifact of the same name in this run first.
    #[arg(long)]
    pub overwrite: bool,
    /// Include files and folders whose names start with `.`.
    #[arg(long)]
    pub include_hidden_files: bool,
    /// Deflate level, 0 (store) to 9 (smallest).
    #[arg(long, value_name = "0-9", default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub compression_level: u32,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let env = Env::from_process();
    let name = args.name.clone().unwrap_or_else(|| {
        names::default_name(
            env.runner().job.as_deref(),
            args.shard.as_deref(),
            args.matrix.as_deref(),
            env.runner().run_attempt.as_deref(),
        )
    });
    let progress = progress("uploading");
    let req = UploadRequest {
        path: args.path.clone(),
        name,
        retention_days: Some(args.retention_days),
        overwrite: args.overwrite,
        include_hidden: args.include_hidden_files,
        compression_level: args.compression_level,
        progress,
    };
    let rt = runtime()?;
    let report = rt
        .block_on(artifact::upload(&req, &env))
        .map_err(|e| CliError::classified_with(e, "upload failed"))?;
    if req.progress.is_some() {
        eprintln!();
    }
    for n in &report.notices {
        eprintln!("notice: {}", untrusted(n));
    }
    eprintln!(
        "uploaded `{}`: {} file(s), {} bytes, {}, kept {} days",
        untrusted(&report.name),
        report.files,
        report.size,
        report.digest,
        report.retention_days
    );
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(CliError::io)?;
        println!("{}", proofgate::github::log::json(&text));
    } else {
        println!("artifact-id={}", report.id);
        println!("artifact-name={}", untrusted(&report.name));
        println!("artifact-digest={}", report.digest);
        if let Some(url) = &report.url {
            println!("artifact-url={}", untrusted(url));
        }
    }
    if let Some(out) = env
        .runner()
        .output
        .as_deref()
        .and_then(std::path::Path::to_str)
    {
        let mut pairs = vec![
            ("artifact-id", report.id.to_string()),
            ("artifact-name", report.name.clone()),
            ("artifact-digest", report.digest.to_string()),
        ];
        if let Some(url) = &report.url {
            pairs.push(("artifact-url", url.clone()));
        }
        proofgate::github::outputs::append_outputs(std::path::Path::new(out), &pairs).map_err(
            |e| {
                CliError::io(
                    anyhow::Error::new(e).context(format!("writing step outputs to `{out}`")),
                )
            },
        )?;
    }
    Ok(Outcome::Yes)
}

/// A progress line on stderr when it is a terminal (whole MiB, rewritten in place).
pub(crate) fn progress(verb: &'static str) -> Option<artifact::upload::ProgressFn> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let last = Arc::new(AtomicU64::new(u64::MAX)); // the first report always prints
    Some(Arc::new(move |bytes: u64| {
        let mib = bytes >> 20;
        if last.swap(mib, Ordering::Relaxed) != mib {
            eprint!("\r{verb}: {mib} MiB");
            let _ = std::io::stderr().flush();
        }
    }))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::io(anyhow::Error::new(e).context("starting the async runtime")))
}

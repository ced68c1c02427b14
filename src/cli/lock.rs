//! `proofgate lock update`: pin, per script, the proof that certifies it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use super::{CliError, CliResult, Global, Outcome, ResultExt};
use proofgate::github;
use proofgate::lock::fetch::Sources;
use proofgate::lock::update::{self, Change};
use proofgate::lock::{ArtifactLocation, LOCK_FILE, Location, Lock, StoreLocation};
use proofgate::verify::{self, ProofInput};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Pin each script's proof in the lock, after the gate has checked it.
    Update(UpdateArgs),
}

/// Pin each script's proof in `proofgate.lock`.
///
/// Every proof given is judged as `verify --release --lock` will judge it (signed by a
/// trusted key, `PASS`, matching the checkout's script and test digests); only then is it
/// written. Scripts without a proof keep their entry. Exit 0 when the lock was written,
/// 1 when a proof was refused (nothing is written), 2 for bad usage or input, 3 for an
/// I/O or network failure.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// The lock to write [default: `proofgate.lock` under the root].
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Read the proofs from this directory (searched recursively). Without it, they are
    /// downloaded from `--artifact` (with `--run-id`), else from `--server`.
    #[arg(long, value_name = "DIR")]
    pub proofs: Option<PathBuf>,
    /// The workflow artifact that holds the proofs: recorded in the lock (with
    /// `--run-id` and `--repository`), and downloaded when `--proofs` is not given.
    #[arg(long, value_name = "NAME", requires = "run_id")]
    pub artifact: Option<String>,
    /// The workflow run of `--artifact`.
    #[arg(long, value_name = "ID", requires = "artifact")]
    pub run_id: Option<u64>,
    /// The evidence store that keeps the proofs: recorded in the lock, and read (the
    /// stored runs of `--commit`) when neither `--proofs` nor `--artifact` is given. The
    /// token is read from `--token-env`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Environment variable holding the evidence store's token (with `--server`).
    #[arg(long, value_name = "VAR", default_value = "PROOFGATE_SERVER_TOKEN")]
    pub token_env: String,
    /// Where downloaded proofs go [default: a temporary directory].
    #[arg(long, value_name = "DIR", conflicts_with = "proofs")]
    pub download_to: Option<PathBuf>,
    /// The repository under test (`owner/name`): proofs of another are refused.
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// Token for artifact downloads.
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<String>,
    /// The commit whose stored runs `--server` reads [default: `GITHUB_SHA`, else `git
    /// rev-parse HEAD`].
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// Require signatures from a trusted key even if the policy says `signatures: none`.
    #[arg(long)]
    pub require_signatures: bool,
    /// An extra trusted public key (base64, hex or PEM, or `@FILE`); repeatable.
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
    /// Judge ages against this time instead of now (RFC 3339).
    #[arg(long, value_name = "TIME", hide = true)]
    pub now: Option<String>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    match args.command {
        Command::Update(a) => update(a, global),
    }
}

fn update(args: UpdateArgs, global: &Global) -> CliResult {
    let env = github::RunnerEnv::from_process();
    let now: DateTime<Utc> = match &args.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .usage_context(format!("`--now {t}` is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    if args.artifact.is_some() && args.repository.is_none() {
        return Err(CliError::usage(anyhow!(
            "`--artifact` needs the repository it belongs to: pass `--repository OWNER/NAME` \
             or set `GITHUB_REPOSITORY`"
        )));
    }
    let path = args
        .lock
        .clone()
        .unwrap_or_else(|| global.root.join(LOCK_FILE));
    let previous = if path.exists() {
        Lock::read(&path).map_err(CliError::classified)?
    } else {
        Lock::new()
    };
    let commit = args.commit.clone().or_else(|| env.sha.clone()).or_else(|| {
        proofgate::bundle::git::resolve(&global.root, "HEAD")
            .ok()
            .flatten()
    });
    let (dir, from_store) = proofs_dir(&args, commit.as_deref())?;
    let proofs = verify::load::read_proofs(&dir)
        .map_err(|e| CliError::classified(verify::pipeline::VerifyError::Load(e)))?;
    let candidate = update::candidate(&proofs, |p| location(&args, from_store, p))
        .map_err(CliError::classified)?;

    // The candidate judged exactly as the release gate will judge it.
    let pins = candidate.pins();
    let source = Sources::new(Some(dir.clone()), None, None, BTreeMap::new())
        .io_context("could not start the async runtime")?;
    let keys = super::verify::parse_keys(&args.trusted_keys)?;
    let (config, named) = global.config_path();
    let verified = verify::pipeline::verify(&verify::pipeline::VerifyRequest {
        root: &global.root,
        config: &config,
        config_required: named,
        base: None,
        extra_keys: &keys,
        force_signatures: args.require_signatures,
        proofs: &dir,
        commit: commit.as_deref(),
        repository: args.repository.as_deref(),
        release: true,
        now,
        lock: Some(verify::pipeline::LockRequest {
            pins: &pins,
            source: &source,
        }),
    })
    .map_err(CliError::classified)?;

    let updated = update::apply(&previous, &candidate, &verified.report);
    for (id, change) in &updated.changes {
        let id = github::untrusted(id);
        match change {
            Change::Locked => eprintln!("locked  {id}"),
            Change::Kept => eprintln!("kept    {id} (no proof given; its entry is unchanged)"),
            Change::Missing => eprintln!("missing {id} (no proof given and no entry)"),
            Change::Refused { reason, message } => eprintln!(
                "refused {id}: {} [{}]",
                github::untrusted(message),
                reason.code()
            ),
        }
    }
    if updated.refused() {
        eprintln!(
            "proofgate: `{}` is not written: a proof was refused",
            path.display()
        );
        return Ok(Outcome::No);
    }
    updated.lock.write(&path).map_err(CliError::classified)?;
    let n = updated.lock.scripts.len();
    eprintln!(
        "proofgate: wrote `{}` ({n} {})",
        path.display(),
        if n == 1 { "entry" } else { "entries" }
    );
    Ok(Outcome::Yes)
}

/// Where the proofs are read from, and whether they came from the store (each under
/// a folder named for its stored run).
fn proofs_dir(args: &UpdateArgs, commit: Option<&str>) -> Result<(PathBuf, bool), CliError> {
    if let Some(d) = &args.proofs {
        return Ok((d.clone(), false));
    }
    let dir = match &args.download_to {
        Some(p) => p.clone(),
        None => tempfile::Builder::new()
            .prefix("proofgate-lock-")
            .tempdir()
            .io_context("could not make a temporary directory for the proofs")?
            .keep(),
    };
    if let (Some(name), Some(run)) = (&args.artifact, args.run_id) {
        download_artifact(args, name, run, &dir)?;
        return Ok((dir, false));
    }
    let Some(server) = &args.server else {
        return Err(CliError::usage(anyhow!(
            "say where the proofs are: `--proofs DIR`, `--artifact NAME --run-id ID` or \
             `--server URL`"
        )));
    };
    let commit = commit.ok_or_else(|| {
        CliError::usage(anyhow!(
            "`--server` needs the commit whose proofs to lock: pass `--commit SHA`"
        ))
    })?;
    let client = super::publish::ServerArgs {
        server: server.clone(),
        token_env: args.token_env.clone(),
        timeout: 300,
    }
    .client()?;
    let rt = super::upload::runtime()?;
    let runs = rt
        .block_on(client.fetch_proofs(commit, args.repository.as_deref(), &dir))
        .map_err(|e| {
            CliError::classified_with(e, "reading proofs from the evidence store failed")
        })?;
    eprintln!("proofgate: {runs} stored run(s) of commit {commit} from {server}");
    Ok((dir, true))
}

fn download_artifact(args: &UpdateArgs, name: &str, run: u64, dir: &Path) -> Result<(), CliError> {
    use proofgate::artifact::download::{Selector, Source};
    use proofgate::artifact::{self, DownloadRequest, Env};
    let mut req = DownloadRequest::new(Selector::Name(name.to_owned()), dir, Source::Run(run));
    req.repository = args.repository.clone();
    req.token = args.github_token.clone().filter(|t| !t.is_empty());
    let rt = super::upload::runtime()?;
    rt.block_on(artifact::download(&req, &Env::from_process()))
        .map_err(|e| CliError::classified_with(e, "could not download the proofs"))?;
    Ok(())
}

/// Where a proof lives, as the lock records it.
fn location(args: &UpdateArgs, from_store: bool, p: &ProofInput) -> Location {
    let artifact = match (&args.artifact, args.run_id, &args.repository) {
        (Some(name), Some(run_id), Some(repository)) => Some(ArtifactLocation {
            repository: repository.clone(),
            run_id,
            name: name.clone(),
        }),
        _ => None,
    };
    let store = args.server.as_ref().map(|url| StoreLocation {
        url: url.clone(),
        // Proofs read from the store sit under a folder named for their run.
        run_id: from_store
            .then(|| p.origin.split('/').next().map(str::to_owned))
            .flatten(),
    });
    Location { artifact, store }
}

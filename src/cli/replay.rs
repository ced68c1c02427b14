//! `proofgate replay BUNDLE|RUN_ID`: re-create a recorded run — its commit in a
//! temporary git worktree, its command, its non-secret environment and its seeds —,
//! run it through the same pipeline as `run`, write a new bundle with `replay_of`, and
//! compare the two runs test by test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use proofgate::bundle::environment::Environment;
use proofgate::bundle::manifest::Manifest;
use proofgate::bundle::redact::Secrets;
use proofgate::bundle::replay_of::ReplayOf;
use proofgate::bundle::worktree::Worktree;
use proofgate::github::log::untrusted;
use proofgate::model::{Model, Severity};
use proofgate::pipeline::{self, Note, ProofsRequest, RunRequest};
use proofgate::proof::context::RunContext;
use proofgate::proof::record::Proof;
use proofgate::replay::compare::{
    RecordedSide, ReplayReport, ReplaySide, ReplayStatus, compare_tests,
};
use proofgate::replay::recorded::{Recorded, RecordedError};
use proofgate::replay::{plan, render};

use super::format::Format;
use super::interrupt::Interrupt;
use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

/// Where replays go by default, relative to the root: one directory a replay.
pub const DEFAULT_OUT_PARENT: &str = "test-results/replays";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recorded run: its `bundle.json`, the directory holding it (with the proofs
    /// beside it), or, with `--server`, its run id in the evidence store.
    #[arg(value_name = "BUNDLE|RUN_ID")]
    pub run: String,
    /// Fetch the recorded run from this evidence store (`proofgate serve`); the token
    /// is read from `--token-env`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Environment variable holding the evidence store's token (with `--server`).
    #[arg(long, value_name = "VAR", default_value = super::publish::DEFAULT_TOKEN_ENV)]
    pub token_env: String,
    /// Directory for the replay's proofs, bundle, manifest and log (relative to the
    /// root; must be new or empty) [default:
    /// `test-results/replays/<UTC time>-<recorded bundle digest, 12 digits>`].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Kill the replayed command after this many seconds [default: the recorded
    /// timeout].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Output format: `table` (the comparison for a person; the command's output is
    /// shown as it runs) or `json` (the report on stdout; the command's output only in
    /// the log).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A public key the recorded bundle may be signed with (base64, hex or PEM, or
    /// `@FILE`); repeatable. The `trusted_keys` of `proofgate.yaml` under `--root` are
    /// trusted too.
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
    /// Replay a bundle that is not signed (`bundle.dsse.json`) by a trusted key. A replay
    /// runs the command the bundle records: use this only for a bundle you trust.
    #[arg(long)]
    pub allow_unsigned: bool,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let (recorded, run_id, signed) = load_recorded(&args)?;
    authenticate(&args, global, &signed)?;
    // Everything a replay needs from the record, the secrets included: a replay that
    // cannot run is refused before anything is made.
    let plan = Plan::of(&recorded)?;
    let worktree = Worktree::add(&global.root, &recorded.commit).map_err(CliError::classified)?;
    let cleanup = worktree.cleanup();
    let interrupt = Interrupt::install(
        "ending the replayed command, removing its worktree",
        move || cleanup.run(),
    );
    let out_dir = out_dir(&args, global, &recorded)?;
    eprintln!(
        "proofgate: replaying {} at {} in {}",
        untrusted(&recorded.run.command.join(" ")),
        recorded.commit,
        worktree.path().display()
    );
    let model = load_model(worktree.path())?;
    let junit: Vec<String> = recorded.run.junit.iter().map(|f| f.path.clone()).collect();
    let request = RunRequest {
        started: Some(interrupt.started()),
        proofs: Some(ProofsRequest {
            junit: &junit,
            model: &model,
            context: plan.context(&recorded),
        }),
        ..plan.request(
            &args,
            &recorded,
            run_id.clone(),
            worktree.path(),
            out_dir.clone(),
        )
    };
    let result = pipeline::run(&request, &mut print_note);
    interrupt.command_ended();
    let result = result.map_err(CliError::classified)?;
    let replayed = read_replayed(&result.bundle.proofs, worktree.path())?;
    let sources = read_manifest(&out_dir.join("manifest.json"))?;
    drop(worktree);

    let report = ReplayReport::new(
        RecordedSide {
            run_id,
            bundle_digest: recorded.bundle_digest,
            commit: recorded.commit.clone(),
            outcome: recorded.run.outcome,
        },
        ReplaySide {
            bundle: result.bundle_path.display().to_string(),
            outcome: result.bundle.outcome,
        },
        plan.seeds,
        compare_tests(&recorded.proofs, &replayed),
        (
            recorded.run.environment.as_ref(),
            result.bundle.environment.as_ref(),
        ),
    )
    .with_sources(recorded.sources.as_ref(), Some(&sources));
    print_report(&report, args.format)?;
    Ok(if report.status == ReplayStatus::Match {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

/// What the replay takes from the record before anything is checked out.
struct Plan {
    /// The recorded proofs' seeds.
    seeds: BTreeMap<String, String>,
    /// The variables set for the command.
    command_env: BTreeMap<String, String>,
    /// The variables whose values the recording redacted, from its environment and its
    /// log: redacted from the replay's log too.
    redacted: Vec<String>,
    /// Every name the recording kept or was asked to keep: the replay looks at the same.
    named: Vec<String>,
}

impl Plan {
    fn of(recorded: &Recorded) -> Result<Self, CliError> {
        let seeds = recorded.seeds().map_err(CliError::classified)?;
        if recorded.proofs.iter().all(|p| p.tests.is_empty()) {
            return Err(CliError::classified(RecordedError::NoTests));
        }
        let env = recorded.run.environment.as_ref();
        let command_env =
            plan::command_env(env, |k| std::env::var(k).ok()).map_err(CliError::classified)?;
        Ok(Self {
            seeds,
            command_env,
            redacted: {
                let mut r = plan::redacted_names(env);
                r.extend(recorded.run.redacted_env());
                r.sort();
                r.dedup();
                r
            },
            named: env
                .map(|e| e.env.keys().chain(&e.named).cloned().collect())
                .unwrap_or_default(),
        })
    }

    /// The replayed proofs' context: this environment's, at the recorded commit, with
    /// the recorded seeds and shard.
    fn context(&self, recorded: &Recorded) -> RunContext {
        let mut context = RunContext::from_env(proofgate::env::process_lookup).with_overrides(
            Some(recorded.commit.clone()),
            None,
            None,
        );
        context.seeds = self.seeds.clone();
        context.shard = recorded.shard();
        context
    }

    /// The run of the recorded command in `root` (the worktree), writing to `out_dir`;
    /// without proofs, which borrow the model.
    fn request<'a>(
        &self,
        args: &Args,
        recorded: &Recorded,
        run_id: Option<String>,
        root: &'a Path,
        out_dir: PathBuf,
    ) -> RunRequest<'a> {
        let lookup = |k: &str| {
            self.command_env
                .get(k)
                .cloned()
                .or_else(|| std::env::var(k).ok())
        };
        let secrets = Secrets::from_env(&self.redacted, lookup);
        RunRequest {
            root,
            command: recorded.run.command.clone(),
            shell: recorded.run.shell,
            timeout: Duration::from_secs(args.timeout.unwrap_or(recorded.run.timeout_secs)),
            log_path: out_dir.join("tests.log"),
            out_dir,
            echo: args.format == Format::Table,
            proofs: None,
            scope: recorded.run.manifest.scope.clone(),
            base: None,
            github_base_ref: None,
            key: None,
            ledger: None,
            environment: Some(Environment::capture(
                root,
                &self.command_env,
                &self.named,
                &self.redacted,
                &secrets,
            )),
            secrets,
            env: self.command_env.clone(),
            // A replay runs each test once: a test recorded as flaky that fails again is
            // a difference to report, not to retry away.
            rerun_failed: 0,
            seeds: self.seeds.clone(),
            replay_of: Some(ReplayOf {
                run_id,
                bundle_digest: recorded.bundle_digest,
                commit: recorded.commit.clone(),
            }),
            started: None,
        }
    }
}

fn print_report(report: &ReplayReport, format: Format) -> Result<(), CliError> {
    match format {
        Format::Table => print!("{}", render::table(report)),
        Format::Json => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, report).or_io()?;
            std::io::Write::write_all(&mut out, b"\n").or_io()?;
        }
    }
    Ok(())
}

/// The recorded run, checked, and its store id when it came from a store.
/// The recorded bundle's bytes and its signed envelope (`bundle.dsse.json`), if any.
struct Signed {
    bundle: Vec<u8>,
    envelope: Option<Vec<u8>>,
    /// Where the bundle came from, for messages.
    name: String,
}

/// A replay runs the command the bundle records, so the bundle must be signed by a
/// trusted key (`--trusted-key`, the root's `proofgate.yaml`) and the envelope must carry
/// exactly its bytes — unless `--allow-unsigned` says the caller trusts it.
fn authenticate(args: &Args, global: &Global, signed: &Signed) -> Result<(), CliError> {
    let mut keys = super::verify::parse_keys(&args.trusted_keys)?;
    let (config, required) = global.config_path();
    if let Ok((model, _)) = Model::load(&global.root, &config, required) {
        for k in &model.trusted_keys {
            keys.push(
                proofgate::sign::PublicKey::parse(&k.public_key).usage_context(format!(
                    "a trusted key in `{}` is not an ed25519 public key",
                    config.display()
                ))?,
            );
        }
    }
    let refuse = |why: String| -> Result<(), CliError> {
        if args.allow_unsigned {
            eprintln!("proofgate: warning: {why}; replaying it anyway (--allow-unsigned)");
            return Ok(());
        }
        Err(CliError::usage(anyhow!(
            "{why}. A replay runs the command the bundle records: sign runs with \
             `proofgate run` and a signing key and trust its public key (`trusted_keys` in \
             proofgate.yaml or `--trusted-key`), or pass `--allow-unsigned` for a bundle you \
             trust"
        )))
    };
    let name = untrusted(&signed.name).into_owned();
    let Some(envelope) = &signed.envelope else {
        return refuse(format!(
            "`{name}` has no signed envelope (bundle.dsse.json)"
        ));
    };
    if keys.is_empty() {
        return refuse(format!(
            "no trusted key to check the signature of `{name}` with"
        ));
    }
    let checked = serde_json::from_slice::<proofgate::sign::dsse::Envelope>(envelope)
        .map_err(|e| e.to_string())
        .and_then(|env| {
            proofgate::sign::dsse::verify_typed(
                &env,
                proofgate::bundle::run::BUNDLE_PAYLOAD_TYPE,
                &keys,
            )
            .map_err(|e| e.to_string())
        });
    match checked {
        Ok(v) if v.payload == signed.bundle => {
            eprintln!("proofgate: `{name}` is signed by trusted key {}", v.key_id);
            Ok(())
        }
        Ok(_) => refuse(format!(
            "the signed envelope of `{name}` carries other bytes than the bundle"
        )),
        Err(e) => refuse(format!(
            "the signature of `{name}` does not verify with a trusted key: {}",
            untrusted(&e)
        )),
    }
}

fn load_recorded(args: &Args) -> Result<(Recorded, Option<String>, Signed), CliError> {
    match &args.server {
        Some(server) => {
            let files = fetch_run(server, &args.token_env, &args.run)?;
            let bundle = files.get("bundle.json").ok_or_else(|| {
                CliError::usage(anyhow!(
                    "stored run `{}` has no bundle.json: it was published by `generate`, not `run`, and cannot be replayed",
                    args.run
                ))
            })?;
            let name = format!("run {}", args.run);
            let recorded = Recorded::check(&name, bundle, |name| files.get(name).cloned())
                .map_err(CliError::classified)?;
            let signed = Signed {
                bundle: bundle.clone(),
                envelope: files.get("bundle.dsse.json").cloned(),
                name,
            };
            Ok((recorded, Some(args.run.clone()), signed))
        }
        None => {
            let given = PathBuf::from(&args.run);
            let bundle_path = if given.is_dir() {
                given.join("bundle.json")
            } else {
                given
            };
            let bytes = std::fs::read(&bundle_path)
                .with_context(|| {
                    format!(
                        "cannot read `{}` (give a bundle.json, its directory, or a run id with --server)",
                        bundle_path.display()
                    )
                })
                .or_usage()?;
            let dir = bundle_path.parent().unwrap_or(Path::new(".")).to_owned();
            let recorded = Recorded::check(&bundle_path.display().to_string(), &bytes, |name| {
                // Only a proof's plain file name is looked up beside the bundle.
                let known = name.starts_with("proof-") || name == "manifest.json";
                if !known || name.contains(['/', '\\']) {
                    return None;
                }
                std::fs::read(dir.join(name)).ok()
            })
            .map_err(CliError::classified)?;
            let signed = Signed {
                envelope: std::fs::read(dir.join("bundle.dsse.json")).ok(),
                bundle: bytes,
                name: bundle_path.display().to_string(),
            };
            Ok((recorded, None, signed))
        }
    }
}

/// Every file of a stored run, by name, from the store's export.
fn fetch_run(
    server: &str,
    token_env: &str,
    run_id: &str,
) -> Result<BTreeMap<String, Vec<u8>>, CliError> {
    let client = super::publish::ServerArgs {
        server: server.to_owned(),
        token_env: token_env.to_owned(),
        timeout: 300,
    }
    .client()?;
    let rt = super::upload::runtime()?;
    let bytes = rt
        .block_on(client.export(run_id))
        .map_err(|e| CliError::classified_with(e, "fetching the recorded run failed"))?;
    let archive: proofgate::store::client::Archive = serde_json::from_slice(&bytes)
        .context("the store's export is not understood")
        .or_io()?;
    let mut files = BTreeMap::new();
    for f in archive.files {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&f.content)
            .with_context(|| format!("the store's file `{}` is not base64", f.name))
            .or_io()?;
        files.insert(f.name, bytes);
    }
    Ok(files)
}

/// The replay's directory: `--out`, else a new one under [`DEFAULT_OUT_PARENT`]; made
/// absolute (the command runs in the worktree) and required new or empty.
fn out_dir(args: &Args, global: &Global, recorded: &Recorded) -> Result<PathBuf, CliError> {
    let rel = args.out.clone().unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let digest = recorded.bundle_digest.hex();
        PathBuf::from(DEFAULT_OUT_PARENT).join(format!("{stamp}-{}", &digest[..12]))
    });
    let dir = std::path::absolute(global.root.join(rel)).or_io()?;
    let empty = proofgate::fsutil::ensure_empty_or_new_dir(&dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))
        .or_io()?;
    if !empty {
        return Err(CliError::usage(anyhow!(
            "`{}` is not empty: give the replay a new directory with --out",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The model at the recorded commit (its `proofgate.yaml` and headers); lint errors are
/// warnings, as for `run`.
fn load_model(root: &Path) -> Result<Model, CliError> {
    let (model, findings) = Model::load(root, &root.join("proofgate.yaml"), false)
        .usage_context("the recorded commit's configuration cannot be read")?;
    for f in findings.iter().filter(|f| f.severity == Severity::Error) {
        eprintln!("warning: {f}");
    }
    Ok(model)
}

/// The manifest the replay wrote.
fn read_manifest(path: &Path) -> Result<Manifest, CliError> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read `{}`", path.display()))
        .or_io()?;
    Manifest::read(path, std::io::BufReader::new(file)).map_err(CliError::classified)
}

/// The proofs the replay wrote.
fn read_replayed(
    refs: &[proofgate::bundle::run::ProofRef],
    root: &Path,
) -> Result<Vec<Proof>, CliError> {
    refs.iter()
        .map(|r| {
            let path = root.join(&r.path);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))
                .or_io()?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("cannot parse `{}`", path.display()))
                .or_io()
        })
        .collect()
}

/// Tells the person at the terminal what the pipeline noted.
fn print_note(note: Note<'_>) {
    match note {
        Note::TimedOut { timeout } => {
            eprintln!("Replayed tests timed out after {}s.", timeout.as_secs())
        }
        Note::JunitInputs(e) => eprintln!("proofgate: warning: {e}"),
        Note::JunitLeftOut(e) => eprintln!("proofgate: warning: JUnit file left out: {e}"),
        Note::LedgerEvent { .. } => {}
        // A replay does not rerun failed tests (`rerun_failed` is 0).
        Note::Rerun(_) | Note::NothingToRerun | Note::RerunsDone { .. } => {}
    }
}

//! `proofgate run`'s pipeline: run the tests with a timeout and a redacted log, read the
//! seeds they ran with, rerun the failed tests when asked (`--rerun-failed`), turn the
//! JUnit files they wrote into proofs, walk the sources into a manifest, then write the run
//! bundle (`bundle.json`, `summary.md`, and `bundle.dsse.json` with a key) and continue the
//! ledger. Each step is a function; [`run`](fn@run) calls them in order and reports what a person
//! should see through a callback, so the caller decides how to show it.
//!
//! Every digest is taken once: the log's while it is written, each proof's from the bytes
//! written, the bundle's from the bytes signed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bundle::exec::{self, ExecError, ExecRecord, ExecRequest};
use crate::bundle::git::{self, GitError};
use crate::bundle::ledger::{EventKind, Ledger, LedgerError};
use crate::bundle::manifest::{self, BuiltManifest, ManifestError, ManifestRequest};
use crate::bundle::redact::{RedactionCount, Redactor, Secrets, merge_counts};
use crate::bundle::rerun::{self, Attempt, RerunError, RerunNote, RerunRequest, Results, Tool};
use crate::bundle::run::{
    self, BUNDLE_FORMAT_VERSION, FileRef, ManifestRef, ProofRef, RerunRecord, RerunScope, RunBundle,
};
use crate::bundle::seeds;
use crate::digest::Sha256Digest;
use crate::fsutil::{relative_under, repo_relative, write_durable};
use crate::junit::{self, JunitError, ParseOptions, TestCase};
use crate::model::Model;
use crate::proof::context::{BadShard, RunContext};
use crate::proof::generate::{self, GenerateError, GenerateRequest, JunitFile, JunitInput};
use crate::sign::{self, SigningKey};

/// Everything a run needs; the caller has read the flags, the key and the model.
pub struct RunRequest<'a> {
    /// The repository root: the command's working directory and the manifest's root.
    pub root: &'a Path,
    /// The test command and its arguments.
    pub command: Vec<String>,
    /// Run the command through `sh -c`.
    pub shell: bool,
    /// Kill the command's process group after this long.
    pub timeout: Duration,
    /// Where the proofs, the manifest and the bundle go (created when missing).
    pub out_dir: PathBuf,
    /// Where the redacted log goes.
    pub log_path: PathBuf,
    /// Secrets to redact from the log, the terminal and the test messages.
    pub secrets: Secrets,
    /// Copy the (redacted) output to this process's stdout and stderr.
    pub echo: bool,
    /// The JUnit files the command writes (globs, relative to the root) and the model
    /// that maps them to scripts; `None` writes no proofs.
    pub proofs: Option<ProofsRequest<'a>>,
    /// Sources to include in the manifest, relative to the root; empty means all.
    pub scope: Vec<String>,
    /// The base to diff against, as given by the user.
    pub base: Option<&'a str>,
    /// The runner's base ref (`GITHUB_BASE_REF`), the fallback for `base`.
    pub github_base_ref: Option<&'a str>,
    /// Signs the proofs and `bundle.json` when given.
    pub key: Option<&'a SigningKey>,
    /// The ledger to continue with a signed `GENERATE` event (only with a key).
    pub ledger: Option<PathBuf>,
    /// Rerun failed tests up to this many times (`--rerun-failed`; 0: never). Needs
    /// `proofs`: the failed tests are read from the JUnit files.
    pub rerun_failed: u32,
    /// Seeds given by the caller (`--seed`); for the same name they win over the seeds
    /// read from the command, its environment and its log.
    pub seeds: BTreeMap<String, String>,
}

/// How the run's JUnit files become proofs.
pub struct ProofsRequest<'a> {
    /// JUnit XML globs, relative to the root.
    pub junit: &'a [String],
    /// The certification model.
    pub model: &'a Model,
    /// Where the tests ran; its shard is checked before any proof is written.
    pub context: RunContext,
}

/// What a person running the pipeline should be told, as it happens.
#[derive(Debug)]
pub enum Note<'a> {
    /// The timeout ended the command.
    TimedOut {
        /// The timeout.
        timeout: Duration,
    },
    /// The JUnit globs could not be expanded: no proof has results.
    JunitInputs(&'a JunitError),
    /// A JUnit file could not be parsed and was left out.
    JunitLeftOut(&'a JunitError),
    /// What the reruns of failed tests are doing.
    Rerun(RerunNote<'a>),
    /// The command failed but its JUnit reports no failed test: nothing was rerun and
    /// the failure stands.
    NothingToRerun,
    /// The reruns ended.
    RerunsDone {
        /// How many reruns ran.
        attempts: usize,
        /// Tests that failed and then passed on a rerun.
        flaky: u64,
        /// Tests still failing.
        still_failing: u64,
    },
    /// The ledger was continued.
    LedgerEvent {
        /// The ledger file.
        path: &'a Path,
        /// The new event's sequence number.
        sequence: u64,
        /// The ledger's new head.
        head: &'a Sha256Digest,
    },
}

/// What the run wrote.
#[derive(Debug)]
pub struct RunResult {
    /// The bundle, as written to `bundle.json`.
    pub bundle: RunBundle,
    /// Where `bundle.json` was written.
    pub bundle_path: PathBuf,
}

/// Why the pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A directory could not be created.
    #[error("cannot create `{}`", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command could not be run.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The failed tests could not be rerun.
    #[error(transparent)]
    Rerun(#[from] RerunError),
    /// The shard cannot name a proof file.
    #[error(transparent)]
    Shard(#[from] BadShard),
    /// The proofs could not be written.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// The manifest could not be built.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The repository's git facts could not be read.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The bundle could not be encoded.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The ledger exists but cannot be continued.
    #[error("cannot continue the ledger `{}`: move it away or pass --no-ledger", path.display())]
    LedgerOpen {
        /// The ledger file.
        path: PathBuf,
        /// Why.
        #[source]
        source: LedgerError,
    },
    /// The ledger could not be read or appended to.
    #[error(transparent)]
    Ledger(LedgerError),
}

/// Runs the tests and writes the proofs, the manifest, the bundle and the ledger event.
/// `note` hears what a person should see, as it happens.
pub fn run(req: &RunRequest<'_>, note: &mut dyn FnMut(Note<'_>)) -> Result<RunResult, RunError> {
    std::fs::create_dir_all(&req.out_dir).map_err(|source| RunError::CreateDir {
        path: req.out_dir.clone(),
        source,
    })?;
    let mut record = run_tests(req, note)?;
    let mut seeds = seeds::detect(
        &seeds::command_words(&req.command, req.shell),
        crate::env::process_lookup,
        &rerun::attempts::log_prefix(&req.log_path),
    );
    seeds.extend(req.seeds.clone());
    let proofs = match &req.proofs {
        Some(p) => generate_proofs(req, p, &record, &seeds, note)?,
        None => Generated::default(),
    };
    merge_counts(&mut record.redactions, proofs.redactions);
    let manifest = write_manifest(req, &proofs.junit)?;
    let git = git::collect(req.root, req.base, req.github_base_ref)?;
    let bundle = RunBundle {
        format_version: BUNDLE_FORMAT_VERSION,
        outcome: RunBundle::outcome_of(&record, &proofs.reruns, &proofs.proofs),
        exec: record,
        seeds,
        git,
        junit: proofs.junit,
        proofs: proofs.proofs,
        manifest,
        reruns: proofs.reruns,
    };
    let (bundle_path, bundle_digest) = write_bundle(req, &bundle)?;
    if let (Some(key), Some(ledger)) = (req.key, &req.ledger) {
        append_generate_event(ledger, key, &bundle, bundle_digest, note)?;
    }
    Ok(RunResult {
        bundle,
        bundle_path,
    })
}

/// Runs the command with its timeout; the log is written, redacted, as it runs.
fn run_tests(req: &RunRequest<'_>, note: &mut dyn FnMut(Note<'_>)) -> Result<ExecRecord, RunError> {
    let mut record = exec::execute(&ExecRequest {
        command: req.command.clone(),
        shell: req.shell,
        timeout: req.timeout,
        cwd: req.root.to_path_buf(),
        log_path: req.log_path.clone(),
        secrets: req.secrets.clone(),
        echo: req.echo,
    })?;
    if record.timed_out {
        note(Note::TimedOut {
            timeout: req.timeout,
        });
    }
    record.log.path = repo_relative(req.root, &req.log_path);
    Ok(record)
}

/// What proof generation produced for the bundle.
#[derive(Default)]
struct Generated {
    junit: Vec<FileRef>,
    proofs: Vec<ProofRef>,
    /// Secrets redacted from test messages.
    redactions: Vec<RedactionCount>,
    /// The reruns of failed tests.
    reruns: Vec<RerunRecord>,
}

/// Reads the JUnit files the run wrote, redacts secrets from the test messages, and
/// writes a proof per script into the output directory. Missing or unreadable JUnit files
/// are reported and left out: the scripts they would have covered get FAIL proofs.
fn generate_proofs(
    req: &RunRequest<'_>,
    p: &ProofsRequest<'_>,
    first: &ExecRecord,
    seeds: &BTreeMap<String, String>,
    note: &mut dyn FnMut(Note<'_>),
) -> Result<Generated, RunError> {
    let mut input = read_junit(req.root, p.junit, &req.out_dir.join("reruns"), note);
    let mut attempts = Vec::new();
    // A run that timed out is not rerun: its tests did not all get to run.
    if req.rerun_failed > 0 && !first.timed_out {
        let (merged, made) = rerun_failed(req, p, input, seeds, note)?;
        input = merged;
        attempts = made;
        if attempts.is_empty() && !first.succeeded() {
            note(Note::NothingToRerun);
        }
    }
    let mut redactor = Redactor::new(req.secrets.clone());
    for case in &mut input.cases {
        if let Some(m) = case.message.as_mut() {
            *m = redactor.redact_all(m);
        }
    }
    p.context.check_shard()?;
    // The proofs carry the run's seeds: every attempt ran with them.
    let mut context = p.context.clone();
    context.seeds.extend(seeds.clone());
    let report = generate::generate(&GenerateRequest {
        model: p.model,
        junit: &input,
        context: &context,
        generated_at: chrono::Utc::now(),
        key: req.key,
        out_dir: &req.out_dir,
    })?;
    let proofs = report
        .proofs
        .iter()
        .map(|o| ProofRef {
            script_id: o.script_id.clone(),
            path: repo_relative(req.root, &o.proof),
            // The digest of the bytes just written: no second read.
            digest: o.proof_digest,
            verdict: o.verdict.as_str().to_owned(),
        })
        .collect();
    // The JUnit digests `generate` took for the proofs: each file is read once.
    let junit_files: Vec<FileRef> = report
        .sources
        .into_iter()
        .map(|s| FileRef {
            path: s.path,
            digest: s.digest,
        })
        .collect();
    let reruns = attempts
        .into_iter()
        .map(|a| rerun_record(req.root, a, &junit_files))
        .collect();
    Ok(Generated {
        junit: junit_files,
        proofs,
        redactions: redactor.counts(),
        reruns,
    })
}

/// Reruns the failed tests of `input` (see [`rerun::rerun`]) and returns the merged
/// input: each case under the JUnit file whose result decides it.
fn rerun_failed(
    req: &RunRequest<'_>,
    p: &ProofsRequest<'_>,
    input: JunitInput,
    seeds: &BTreeMap<String, String>,
    note: &mut dyn FnMut(Note<'_>),
) -> Result<(JunitInput, Vec<Attempt>), RunError> {
    let mut results = results_of(input);
    let env = crate::env::process_lookup;
    let attempts = rerun::rerun(
        &RerunRequest {
            times: req.rerun_failed,
            command: &req.command,
            shell: req.shell,
            timeout: req.timeout,
            root: req.root,
            dir: req.out_dir.join("reruns"),
            secrets: &req.secrets,
            echo: req.echo,
            junit: p.junit,
            seeds,
            env: &env,
        },
        &mut results,
        &mut |n| note(Note::Rerun(n)),
    )?;
    if let Some(last) = attempts.last() {
        note(Note::RerunsDone {
            attempts: attempts.len(),
            flaky: attempts.iter().map(|a| a.passed as u64).sum(),
            still_failing: last.still_failing as u64,
        });
    }
    Ok((input_of(results), attempts))
}

/// The parsed JUnit as the reruns see it: each case decided by the file it came from.
fn results_of(input: JunitInput) -> Results {
    let mut decided = vec![0; input.cases.len()];
    for (i, f) in input.files.iter().enumerate() {
        if let Some(d) = decided.get_mut(f.start..f.end) {
            d.fill(i);
        }
    }
    Results {
        files: input.files.into_iter().map(|f| f.path).collect(),
        cases: input.cases,
        decided,
    }
}

/// The merged results as `generate`'s input: every file (so each gets its digest), each
/// case in the range of the file that decides it, in their first order within a file.
fn input_of(results: Results) -> JunitInput {
    let mut tagged: Vec<(usize, TestCase)> =
        results.decided.into_iter().zip(results.cases).collect();
    tagged.sort_by_key(|(d, _)| *d);
    let mut input = JunitInput::default();
    let mut next = tagged.into_iter().peekable();
    for (i, path) in results.files.into_iter().enumerate() {
        let start = input.cases.len();
        while let Some((_, case)) = next.next_if(|(d, _)| *d == i) {
            input.cases.push(case);
        }
        input.files.push(JunitFile {
            path,
            start,
            end: input.cases.len(),
        });
    }
    input
}

/// A rerun as `bundle.json` records it; its JUnit digests are the ones `generate` took.
fn rerun_record(root: &Path, a: Attempt, digests: &[FileRef]) -> RerunRecord {
    let junit = a
        .junit
        .iter()
        .filter_map(|f| {
            let path = repo_relative(root, f);
            match digests.iter().find(|d| d.path == path) {
                Some(d) => Some(d.clone()),
                // A file that could not be parsed is no source of a proof: its digest
                // is taken here, once.
                None => Sha256Digest::of_file(f)
                    .ok()
                    .map(|digest| FileRef { path, digest }),
            }
        })
        .collect();
    RerunRecord {
        attempt: a.number,
        tool: a.tool.name().to_owned(),
        scope: match a.tool {
            Tool::Other => RerunScope::Command,
            _ => RerunScope::Tests,
        },
        tests: a.tests,
        exec: a.exec,
        junit,
        seeds: a.seeds,
        passed: a.passed as u64,
        still_failing: a.still_failing as u64,
    }
}

/// Parses every JUnit file the globs name, except the reruns' own (under `reruns`,
/// perhaps left by an earlier run); what cannot be read is noted and left out.
fn read_junit(
    root: &Path,
    globs: &[String],
    reruns: &Path,
    note: &mut dyn FnMut(Note<'_>),
) -> JunitInput {
    let reruns = std::path::absolute(reruns).unwrap_or_else(|_| reruns.to_owned());
    let files: Vec<PathBuf> = junit::expand_inputs(root, globs)
        .unwrap_or_else(|e| {
            note(Note::JunitInputs(&e));
            Vec::new()
        })
        .into_iter()
        .filter(|f| !std::path::absolute(f).is_ok_and(|f| f.starts_with(&reruns)))
        .collect();
    let mut reports = Vec::new();
    for r in junit::read_files(&files, &ParseOptions::default()) {
        match r {
            Ok(r) => reports.push(r),
            Err(e) => note(Note::JunitLeftOut(&e)),
        }
    }
    JunitInput::from_reports(reports)
}

/// Walks the sources into `manifest.json`, leaving out what the run itself wrote.
fn write_manifest(req: &RunRequest<'_>, junit: &[FileRef]) -> Result<ManifestRef, RunError> {
    let root = req.root;
    let mut exclude: Vec<String> = Vec::new();
    exclude.extend(relative_under(root, &req.out_dir));
    exclude.extend(relative_under(root, &req.log_path));
    // Test results are outputs of the run, not sources.
    exclude.extend(
        junit
            .iter()
            .filter_map(|f| relative_under(root, &root.join(&f.path))),
    );
    let BuiltManifest { manifest, .. } = manifest::build(&ManifestRequest {
        root: root.to_path_buf(),
        scope: req.scope.clone(),
        exclude,
        threads: 0,
    })?;
    let path = req.out_dir.join("manifest.json");
    let mut json = serde_json::to_vec_pretty(&manifest)?;
    json.push(b'\n');
    write(&path, &json)?;
    Ok(ManifestRef {
        path: repo_relative(root, &path),
        root_hash: manifest.root_hash,
        file_count: manifest.file_count,
        scope: manifest.scope,
    })
}

/// Writes `bundle.json`, `summary.md` and, with a key, `bundle.dsse.json`. Returns where
/// the bundle went and the digest of its bytes.
fn write_bundle(
    req: &RunRequest<'_>,
    bundle: &RunBundle,
) -> Result<(PathBuf, Sha256Digest), RunError> {
    let mut json = serde_json::to_vec_pretty(bundle)?;
    json.push(b'\n');
    let bundle_path = req.out_dir.join("bundle.json");
    write(&bundle_path, &json)?;
    write(
        &req.out_dir.join("summary.md"),
        bundle.summary_markdown().as_bytes(),
    )?;
    if let Some(key) = req.key {
        let envelope = sign::dsse::sign(key, run::BUNDLE_PAYLOAD_TYPE, &json);
        write(
            &req.out_dir.join("bundle.dsse.json"),
            &envelope.to_json_pretty(),
        )?;
    }
    Ok((bundle_path, Sha256Digest::of(&json)))
}

/// Continues the ledger with a signed `GENERATE` event that vouches for the bundle, every
/// proof and the manifest root, so deleting or swapping any of them later breaks the chain.
fn append_generate_event(
    path: &Path,
    key: &SigningKey,
    bundle: &RunBundle,
    bundle_digest: Sha256Digest,
    note: &mut dyn FnMut(Note<'_>),
) -> Result<(), RunError> {
    let mut ledger = Ledger::open(path, None).map_err(|e| match e {
        LedgerError::Io { .. } => RunError::Ledger(e),
        source => RunError::LedgerOpen {
            path: path.to_owned(),
            source,
        },
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
        .map_err(RunError::Ledger)?;
    note(Note::LedgerEvent {
        path,
        sequence: appended.event.sequence,
        head: &appended.head,
    });
    Ok(())
}

fn write(path: &Path, data: &[u8]) -> Result<(), RunError> {
    write_durable(path, data).map_err(|source| RunError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{ExitClass, Failure};

    fn case(name: &str) -> TestCase {
        TestCase {
            file: None,
            classname: "c".into(),
            name: name.into(),
            status: crate::junit::Status::Passed,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: None,
        }
    }

    #[test]
    fn merged_cases_sit_under_the_file_that_decides_them_and_every_file_stays() {
        let input = JunitInput {
            files: vec![
                JunitFile {
                    path: "a.xml".into(),
                    start: 0,
                    end: 3,
                },
                JunitFile {
                    path: "b.xml".into(),
                    start: 3,
                    end: 4,
                },
            ],
            cases: vec![case("a1"), case("a2"), case("a3"), case("b1")],
        };
        let mut results = results_of(input);
        assert_eq!(results.decided, vec![0, 0, 0, 1]);
        // A rerun file decides a2; another rerun file gave nothing.
        results.files.push("r1.xml".into());
        results.files.push("r2.xml".into());
        results.decided[1] = 2;
        let merged = input_of(results);
        let names: Vec<&str> = merged.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a1", "a3", "b1", "a2"]);
        let ranges: Vec<(String, usize, usize)> = merged
            .files
            .iter()
            .map(|f| (f.path.display().to_string(), f.start, f.end))
            .collect();
        assert_eq!(
            ranges,
            [
                ("a.xml".to_owned(), 0, 2),
                ("b.xml".to_owned(), 2, 3),
                ("r1.xml".to_owned(), 3, 4),
                ("r2.xml".to_owned(), 4, 4),
            ]
        );
    }

    #[test]
    fn an_unreadable_ledger_is_an_io_failure_and_a_bad_shard_a_usage_error() {
        let io = RunError::Ledger(LedgerError::Io {
            path: PathBuf::from("l.jsonl"),
            source: std::io::Error::other("disk"),
        });
        assert_eq!(io.exit_class(), ExitClass::Io);
        let shard = RunError::Shard(BadShard(".x".into()));
        assert_eq!(shard.exit_class(), ExitClass::Usage);
    }
}

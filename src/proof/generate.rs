//! The library entry point behind `proofgate generate`: from parsed JUnit reports and
//! the certification model to `proof-<ID>.json` (and `proof-<ID>.dsse.json` when a key
//! is given) per script with evidence `ci` or `declared`.
//!
//! Every input is read and hashed, and every check that could fail a proof's build is
//! made, before anything is written; then worker threads build, sign and write one
//! proof at a time, so memory stays proportional to the workers, not to the run.
//!
//! How files are written, and what a killed run leaves ([`OutputMode`]): into a new or
//! empty output directory each file is created with `O_EXCL` and one write
//! ([`fsutil::write_new`]), so a killed run may leave a file cut short but never a
//! file with wrong content: a proof cut short is not JSON, an envelope cut short is not
//! JSON, and a whole envelope binds the digest of its whole proof. Into a directory that
//! already holds files each file is replaced whole ([`fsutil::write_replace`]: a
//! temporary file and a rename), so a reader sees the old file or the new one; a killed
//! run may leave a new proof beside the old envelope, which no longer matches it and is
//! rejected by `verify`. Nothing is fsynced.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::digest::Sha256Digest;
use crate::fsutil;
use crate::junit::{FileReport, TestCase};
use crate::model::{Evidence, Model, Script, ScriptMapping, map_cases};
use crate::sign::SigningKey;
use crate::sign::intoto::ResourceDescriptor;

use super::attest::{self, ExtraConfig};
use super::context::RunContext;
use super::record::{
    EvidenceLevel, Proof, ScriptFacts, SourceRef, TestFileFacts, Verdict, build_draft,
};
use super::testpaths::{TestPathCache, TestPathError, hash_test_paths_cached};
use crate::digest::FileDigests;
use crate::digest::jcs::{self, JcsError};
use crate::par::{par_chunks, par_map};

/// The parsed JUnit input: every case of every file in one list (so the model's
/// mapping can index it), and which range of it each file holds.
#[derive(Clone, Debug, Default)]
pub struct JunitInput {
    /// The files, in the order given.
    pub files: Vec<JunitFile>,
    /// Every case, file after file.
    pub cases: Vec<TestCase>,
}

/// One JUnit file of a [`JunitInput`].
#[derive(Clone, Debug)]
pub struct JunitFile {
    /// The file as named (read again for its digest).
    pub path: PathBuf,
    /// Its cases: `cases[start..end]`.
    pub start: usize,
    /// End of its range.
    pub end: usize,
}

impl JunitInput {
    /// Moves the cases of parsed reports into one list (no copies).
    pub fn from_reports(reports: Vec<FileReport>) -> Self {
        let mut input = JunitInput::default();
        for r in reports {
            let start = input.cases.len();
            input.cases.extend(r.cases);
            input.files.push(JunitFile {
                path: PathBuf::from(r.path),
                start,
                end: input.cases.len(),
            });
        }
        input
    }
}

/// Everything `generate` needs; no I/O happens before [`generate`] is called.
pub struct GenerateRequest<'a> {
    /// The certification model (root, scripts, selectors, policy).
    pub model: &'a Model,
    /// The parsed JUnit files.
    pub junit: &'a JunitInput,
    /// Where the tests ran.
    pub context: &'a RunContext,
    /// The proofs' `generated_at`.
    pub generated_at: DateTime<Utc>,
    /// Signs each proof when given.
    pub key: Option<&'a SigningKey>,
    /// Output directory (created when missing).
    pub out_dir: &'a Path,
}

/// One written proof.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProofOutcome {
    /// The script id.
    pub script_id: String,
    /// The script path.
    pub script_path: String,
    /// PASS or FAIL.
    pub verdict: Verdict,
    /// Reason codes of a FAIL.
    pub reasons: Vec<String>,
    /// Tests mapped to the script.
    pub tests: u64,
    /// Passed (flaky included).
    pub passed: u64,
    /// Failed plus errored.
    pub failed: u64,
    /// Skipped.
    pub skipped: u64,
    /// Flaky.
    pub flaky: u64,
    /// Where the proof was written.
    pub proof: PathBuf,
    /// SHA-256 of the proof file's bytes.
    pub proof_digest: Sha256Digest,
    /// Where the envelope was written, when signed.
    pub envelope: Option<PathBuf>,
}

/// Time spent per phase.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Timings {
    /// Mapping cases to scripts.
    pub map: Duration,
    /// Hashing scripts, test files and JUnit files.
    pub hash: Duration,
    /// Building the proof records and their JSON (summed over worker threads).
    pub build: Duration,
    /// Building statements and signing them (summed over worker threads).
    pub sign: Duration,
    /// Wall time of the parallel build, sign and write phase.
    pub build_sign_wall: Duration,
    /// Writing files (summed over worker threads).
    pub write: Duration,
}

/// What `generate` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GenerateReport {
    /// One entry per proof, sorted by script id.
    pub proofs: Vec<ProofOutcome>,
    /// The key id that signed, when signing.
    pub key_id: Option<String>,
    /// The JUnit files read, with the digests the proofs quote (one read of each).
    #[serde(skip)]
    pub sources: Vec<SourceRef>,
    /// How the files were written.
    #[serde(skip)]
    pub mode: OutputMode,
    /// Phase timings.
    #[serde(skip)]
    pub timings: Timings,
}

impl GenerateReport {
    /// Whether every proof is PASS.
    pub fn all_pass(&self) -> bool {
        self.proofs.iter().all(|p| p.verdict == Verdict::Pass)
    }
}

/// Why `generate` could not write its proofs.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A script file could not be read.
    #[error("cannot read script `{}` of `{id}`: {source}", path.display())]
    Script {
        /// The script id.
        id: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JUnit file could not be read for its digest.
    #[error("cannot read JUnit file `{}`: {source}", path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A declared test path could not be hashed.
    #[error("script `{id}`: {source}")]
    TestPath {
        /// The script id.
        id: String,
        /// Why.
        #[source]
        source: TestPathError,
    },
    /// A script id is not safe as part of a file name.
    #[error("script id `{0}` is not a valid id (`^[A-Za-z0-9][A-Za-z0-9._-]{{0,127}}$`)")]
    BadId(String),
    /// Canonical JSON failed.
    #[error(transparent)]
    Jcs(#[from] JcsError),
    /// An output file could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl GenerateError {
    /// Whether this is an input problem (exit 2) rather than an I/O failure (exit 3).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, GenerateError::Write { .. })
    }
}

/// Whether `id` is safe in a file name: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`.
pub fn is_valid_script_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// `generated_at` in the proof's format (RFC 3339, UTC, seconds, `Z`).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Builds every proof (and envelope) and writes it. See the module docs.
pub fn generate(req: &GenerateRequest<'_>) -> Result<GenerateReport, GenerateError> {
    let mut timings = Timings::default();
    let model = req.model;
    let root = model.root.as_path();

    let t = Instant::now();
    let mapping = map_cases(model, &req.junit.cases);
    timings.map = t.elapsed();

    let t = Instant::now();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    // Sources: digests of the JUnit files, and each case with its source index.
    let digests = par_map(&req.junit.files, threads, |f| {
        Sha256Digest::of_file(&f.path).map_err(|source| GenerateError::Source {
            path: f.path.clone(),
            source,
        })
    });
    let mut sources = Vec::with_capacity(req.junit.files.len());
    let mut flat: Vec<(&TestCase, usize)> = Vec::with_capacity(req.junit.cases.len());
    for (i, (f, digest)) in req.junit.files.iter().zip(digests).enumerate() {
        sources.push(SourceRef {
            path: fsutil::repo_relative(root, &f.path),
            digest: digest?,
        });
        let cases = req.junit.cases.get(f.start..f.end).unwrap_or_default();
        flat.extend(cases.iter().map(|c| (c, i)));
    }

    // Facts: script and test file digests, read from several threads.
    let empty = ScriptMapping::default();
    let cache = TestPathCache::default();
    let facts_per_script = par_map(&model.scripts, threads.max(4), |s| {
        script_facts(
            root,
            s,
            mapping.scripts.get(&s.id).unwrap_or(&empty),
            &cache,
        )
    });
    let mut facts = Vec::with_capacity(facts_per_script.len());
    // A shard writes partial evidence: a script none of whose tests ran in this shard
    // gets no proof from it (the gate combines the shards' proofs).
    let sharded = req.context.shard.is_some();
    for f in facts_per_script {
        if let Some(f) = f?
            && !(sharded && f.1.is_empty())
        {
            facts.push(f);
        }
    }
    timings.hash = t.elapsed();

    // Build, sign and write in parallel: each script is independent. Building cannot
    // fail once the facts are known (the only fallible step, the tests digest, was
    // checked in `script_facts`), so writing as soon as a proof is built keeps the
    // guarantee that nothing is written unless every proof could be built, without
    // holding every proof in memory.
    let mode = OutputMode::prepare(req.out_dir)?;
    let generated_at = format_time(req.generated_at);
    // Writing is mostly system calls that block: more workers than cores helps.
    let workers = (threads * 2).clamp(1, 8);
    let t = Instant::now();
    let results: Vec<PartResult> = par_chunks(&facts, workers, |part| {
        emit_part(req, mode, part, &flat, &sources, &generated_at)
    });
    timings.build_sign_wall = t.elapsed();
    let mut proofs = Vec::with_capacity(facts.len());
    for r in results {
        let (p, spent) = r?;
        proofs.extend(p);
        timings.build += spent.build;
        timings.sign += spent.sign;
        timings.write += spent.write;
    }
    proofs.sort_by(|a, b| a.script_id.cmp(&b.script_id));
    Ok(GenerateReport {
        proofs,
        key_id: req.key.map(|k| k.key_id().to_string()),
        sources,
        mode,
        timings,
    })
}

/// How `generate` writes its files, decided once, before the first file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// The output directory was new or empty: each file is created with `O_EXCL` and
    /// one write ([`fsutil::write_new`]). A killed run leaves files that are whole,
    /// cut short (not JSON) or missing.
    Fresh,
    /// The output directory already held files: each file is replaced whole
    /// ([`fsutil::write_replace`]) and a stale envelope of an unsigned run is removed.
    Replace,
}

impl OutputMode {
    /// Creates `out_dir` when missing and tells how to write into it.
    pub fn prepare(out_dir: &Path) -> Result<Self, GenerateError> {
        match fsutil::ensure_empty_or_new_dir(out_dir) {
            Ok(true) => Ok(OutputMode::Fresh),
            Ok(false) => Ok(OutputMode::Replace),
            Err(source) => Err(GenerateError::Write {
                path: out_dir.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes one file. In a fresh directory a file that appeared meanwhile (another
    /// writer) is replaced whole rather than refused.
    fn write(self, path: &Path, bytes: &[u8]) -> Result<(), GenerateError> {
        let written = match self {
            OutputMode::Fresh => match fsutil::write_new(path, bytes) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    fsutil::write_replace(path, bytes)
                }
                r => r,
            },
            OutputMode::Replace => fsutil::write_replace(path, bytes),
        };
        written.map_err(|source| GenerateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes one proof (and its envelope, or removes a stale one).
fn write_one(
    out_dir: &Path,
    mode: OutputMode,
    proof: &Proof,
    proof_bytes: &[u8],
    proof_digest: Sha256Digest,
    envelope_bytes: Option<&[u8]>,
) -> Result<ProofOutcome, GenerateError> {
    let id = &proof.script_id;
    let shard = proof.context.shard.as_deref();
    let proof_path = out_dir.join(attest::proof_file_name(id, shard));
    mode.write(&proof_path, proof_bytes)?;
    let env_path = out_dir.join(attest::envelope_file_name(id, shard));
    let envelope = match envelope_bytes {
        Some(bytes) => {
            mode.write(&env_path, bytes)?;
            Some(env_path)
        }
        // A fresh directory holds no stale envelope.
        None if mode == OutputMode::Fresh => None,
        None => {
            // A stale envelope would not match the new proof: remove it.
            match std::fs::remove_file(&env_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(GenerateError::Write {
                        path: env_path,
                        source,
                    });
                }
            }
            None
        }
    };
    let s = &proof.test_summary;
    Ok(ProofOutcome {
        script_id: id.clone(),
        script_path: proof.script_path.clone(),
        verdict: proof.verdict,
        reasons: proof.reasons.iter().map(|r| r.code.clone()).collect(),
        tests: s.total,
        passed: s.passed,
        failed: s.failed + s.errors,
        skipped: s.skipped,
        flaky: proof.flaky,
        proof: proof_path,
        proof_digest,
        envelope,
    })
}

type Part<'m> = (ScriptFacts, &'m [usize], ExtraConfig);

/// The facts of one script, or `None` when it gets no proof (evidence `manual` or no
/// usable header).
fn script_facts<'m>(
    root: &Path,
    s: &Script,
    mapped: &'m ScriptMapping,
    cache: &TestPathCache,
) -> Result<Option<Part<'m>>, GenerateError> {
    let evidence = match s.evidence {
        Some(Evidence::Ci) => EvidenceLevel::Ci,
        Some(Evidence::Declared) => EvidenceLevel::Declared,
        Some(Evidence::Manual) | None => return Ok(None),
    };
    let id = s.id.as_str();
    if !is_valid_script_id(id) {
        return Err(GenerateError::BadId(id.to_owned()));
    }
    let full = root.join(&s.path);
    let bytes = std::fs::read(&full).map_err(|source| GenerateError::Script {
        id: id.to_owned(),
        path: full.clone(),
        source,
    })?;
    // The same reading of the test paths as `verify`'s; it also makes the one fallible
    // step of building a proof (the tests digest) before anything is written.
    let hashed = hash_test_paths_cached(root, &s.test_files, cache).map_err(|source| {
        GenerateError::TestPath {
            id: id.to_owned(),
            source,
        }
    })?;
    let test_files = hashed
        .paths
        .into_iter()
        .map(|p| TestFileFacts {
            produced_results: mapped.test_files.get(&p.declared).copied().unwrap_or(false),
            path: p.recorded,
            digests: p.digests,
        })
        .collect();
    Ok(Some((
        ScriptFacts {
            id: id.to_owned(),
            path: s.path.clone(),
            evidence,
            digests: FileDigests::of(&bytes),
            test_files,
        },
        mapped.cases.as_slice(),
        ExtraConfig {
            header: header_descriptor(s),
        },
    )))
}

/// Time one worker spent per phase.
#[derive(Clone, Copy, Debug, Default)]
struct Spent {
    build: Duration,
    sign: Duration,
    write: Duration,
}

/// A worker's written proofs, with its time per phase.
type PartResult = Result<(Vec<ProofOutcome>, Spent), GenerateError>;

/// Builds, signs and writes the proofs of `part`, one at a time.
fn emit_part(
    req: &GenerateRequest<'_>,
    mode: OutputMode,
    part: &[Part<'_>],
    flat: &[(&TestCase, usize)],
    sources: &[SourceRef],
    generated_at: &str,
) -> PartResult {
    let mut out = Vec::with_capacity(part.len());
    let mut spent = Spent::default();
    let mut cases = Vec::new();
    for (facts, mapped, extra) in part {
        let t = Instant::now();
        cases.clear();
        cases.extend(mapped.iter().filter_map(|&i| flat.get(i).copied()));
        let draft = build_draft(
            facts,
            &cases,
            sources,
            req.context,
            generated_at,
            req.model.policy.flaky,
        )?;
        let proof_bytes = draft.to_json_bytes();
        let proof_digest = Sha256Digest::of(&proof_bytes);
        spent.build += t.elapsed();
        let t = Instant::now();
        let envelope_bytes = req.key.map(|key| {
            let st = attest::draft_statement(&draft, proof_digest, extra);
            attest::sign_statement(&st, key).to_json_pretty()
        });
        spent.sign += t.elapsed();
        let t = Instant::now();
        out.push(write_one(
            req.out_dir,
            mode,
            &draft.head,
            &proof_bytes,
            proof_digest,
            envelope_bytes.as_deref(),
        )?);
        spent.write += t.elapsed();
    }
    Ok((out, spent))
}

/// The script header as a configuration descriptor: SHA-256 of its canonical JSON.
/// A header that has no canonical form (a YAML NaN) is left out.
fn header_descriptor(s: &Script) -> Option<ResourceDescriptor> {
    s.format?;
    let value = serde_json::to_value(&s.header).ok()?;
    let digest = jcs::digest(&value).ok()?;
    Some(ResourceDescriptor {
        name: Some(format!("{}#header", s.path)),
        digest: [("sha256".to_owned(), digest.hex())].into(),
        media_type: Some("application/json".into()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Status;

    fn case(file: &str, name: &str, status: Status) -> TestCase {
        TestCase {
            file: Some(file.into()),
            classname: file.trim_end_matches(".py").replace('/', "."),
            name: name.into(),
            status,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: None,
        }
    }

    fn header(id: &str, evidence: &str, test: &str) -> String {
        format!(
            "#!/usr/bin/env python3\n\"\"\"\n---\nid: {id}\ntype: script\nowner: platform-team\nstatus: active\nmaturity: 2\ntest:\n  runner: pytest\n  command: \"pytest -q {test}\"\n  evidence: {evidence}\ndry_run:\n  supported: false\nrisk_profile:\n  production_impact: low\n  security_risk: none\n  coupling_risk: low\n---\n\"\"\"\nprint(1)\n"
        )
    }

    /// A repository with a `ci` script, a `manual` one, their tests and a JUnit file.
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("scripts")).unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        std::fs::write(
            root.join("scripts/a.py"),
            header("a", "ci", "tests/test_a.py"),
        )
        .unwrap();
        std::fs::write(
            root.join("scripts/m.py"),
            header("m", "manual", "tests/test_m.py"),
        )
        .unwrap();
        std::fs::write(root.join("tests/test_a.py"), "def test_1(): pass\n").unwrap();
        std::fs::write(root.join("junit.xml"), "<testsuite/>").unwrap();
        dir
    }

    fn load(root: &Path) -> Model {
        let (model, _findings) = Model::load(root, &root.join("proofgate.yaml"), false).unwrap();
        model
    }

    fn input(root: &Path, cases: Vec<TestCase>) -> JunitInput {
        JunitInput {
            files: vec![JunitFile {
                path: root.join("junit.xml"),
                start: 0,
                end: cases.len(),
            }],
            cases,
        }
    }

    /// `generate` unsigned, now, with an empty run context.
    fn unsigned(
        model: &Model,
        junit: &JunitInput,
        out: &Path,
    ) -> Result<GenerateReport, GenerateError> {
        generate(&GenerateRequest {
            model,
            junit,
            context: &RunContext::default(),
            generated_at: Utc::now(),
            key: None,
            out_dir: out,
        })
    }

    #[test]
    fn script_ids_that_could_escape_the_directory_are_rejected() {
        assert!(is_valid_script_id("SCRIPT-0001"));
        assert!(is_valid_script_id("a.b_c-d"));
        for bad in ["", "../x", "a/b", ".hidden", "-x", &"a".repeat(129), "é"] {
            assert!(!is_valid_script_id(bad), "{bad}");
        }
    }

    #[test]
    fn generate_writes_proofs_and_envelopes_atomically_and_deterministically() {
        let dir = repo();
        let root = dir.path();
        let model = load(root);
        let junit = input(
            root,
            vec![case("tests/test_a.py", "test_1", Status::Passed)],
        );
        let (key, _) = SigningKey::generate().unwrap();
        let out = root.join("out");
        let ctx = RunContext::default();
        let req = GenerateRequest {
            model: &model,
            junit: &junit,
            context: &ctx,
            generated_at: DateTime::from_timestamp(0, 0).unwrap(),
            key: Some(&key),
            out_dir: &out,
        };
        let report = generate(&req).unwrap();
        assert_eq!(report.mode, OutputMode::Fresh, "a new directory");
        assert_eq!(report.proofs.len(), 1, "manual scripts get no proof");
        assert!(report.all_pass(), "{:?}", report.proofs);
        let bytes = std::fs::read(out.join("proof-a.json")).unwrap();
        assert_eq!(report.proofs[0].proof_digest, Sha256Digest::of(&bytes));
        let proof: Proof = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(proof.generated_at, "1970-01-01T00:00:00Z");
        assert_eq!(proof.sources[0].path, "junit.xml");
        assert_eq!(proof.script_path, "scripts/a.py");
        assert!(out.join("proof-a.dsse.json").exists());
        assert!(!out.join("proof-m.json").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
        // Same inputs, same bytes, now replacing the files.
        assert_eq!(generate(&req).unwrap().mode, OutputMode::Replace);
        assert_eq!(std::fs::read(out.join("proof-a.json")).unwrap(), bytes);
        // An unsigned run removes the stale envelope.
        let req = GenerateRequest { key: None, ..req };
        generate(&req).unwrap();
        assert!(!out.join("proof-a.dsse.json").exists());
    }

    #[test]
    fn scripts_without_cases_get_a_fail_proof() {
        let dir = repo();
        let root = dir.path();
        let model = load(root);
        let junit = input(root, vec![case("tests/other.py", "x", Status::Passed)]);
        let out = root.join("out");
        let report = unsigned(&model, &junit, &out).unwrap();
        assert_eq!(report.proofs[0].verdict, Verdict::Fail);
        assert!(report.proofs[0].reasons.contains(&"NO_TESTS".to_owned()));
    }

    #[test]
    fn missing_junit_file_is_an_input_error_and_writes_nothing() {
        let dir = repo();
        let root = dir.path();
        let model = load(root);
        let mut junit = input(root, vec![]);
        junit.files[0].path = root.join("gone.xml");
        let out = root.join("out");
        let err = unsigned(&model, &junit, &out).unwrap_err();
        assert!(err.is_input_error());
        assert!(err.to_string().contains("gone.xml"), "{err}");
        assert!(!out.exists());
    }
}

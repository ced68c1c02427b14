//! The library entry point behind `proofgate generate`: from parsed JUnit reports and
//! the certification model to `proof-<ID>.json` (and `proof-<ID>.dsse.json` when a key
//! is given) per script with evidence `ci` or `declared`.
//!
//! Every proof and envelope is built in memory first; nothing is written unless all of
//! them could be built. Each file is then written atomically (a temporary file in the
//! output directory, renamed into place).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::digest::Sha256Digest;
use crate::junit::TestCase;
use crate::sign::SigningKey;
use crate::sign::intoto::ResourceDescriptor;

use super::attest::{self, ExtraConfig};
use super::context::RunContext;
use super::jcs::{self, FileDigests, JcsError};
use super::record::{
    EvidenceLevel, FlakyPolicy, Proof, ScriptFacts, SourceRef, TestFileFacts, Verdict, build_proof,
};

/// One script as `generate` needs it (taken from the certification model).
#[derive(Clone, Debug)]
pub struct ScriptSpec {
    /// The validated script id.
    pub id: String,
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Evidence level; scripts with `None` (manual or unset) get no proof.
    pub evidence: Option<EvidenceLevel>,
    /// Declared test files, relative to the root.
    pub test_files: Vec<String>,
    /// The script's header as JSON, when it has one (hashed into the configuration).
    pub header: Option<serde_json::Value>,
}

/// Which cases belong to one script (from the model's mapping).
#[derive(Clone, Debug, Default)]
pub struct ScriptCases {
    /// Indices into the flat list of cases (all reports, in order).
    pub cases: Vec<usize>,
    /// Declared test file → whether any case came from it.
    pub test_files: BTreeMap<String, bool>,
}

/// One parsed JUnit file.
#[derive(Clone, Debug)]
pub struct SourceReport {
    /// The file as given on the command line.
    pub path: PathBuf,
    /// Its normalised cases.
    pub cases: Vec<TestCase>,
}

/// Everything `generate` needs; no I/O happens before [`generate`] is called.
pub struct GenerateRequest<'a> {
    /// Repository root: script and test file paths are relative to it.
    pub root: &'a Path,
    /// The scripts of the model.
    pub scripts: &'a [ScriptSpec],
    /// The cases of each script, by script id.
    pub mapping: &'a BTreeMap<String, ScriptCases>,
    /// How flaky tests count.
    pub flaky_policy: FlakyPolicy,
    /// The parsed JUnit files (their cases, concatenated in order, are what the
    /// mapping's indices point into).
    pub reports: &'a [SourceReport],
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
    /// Hashing scripts, test files and JUnit files.
    pub hash: Duration,
    /// Building the proof records and their JSON.
    pub build: Duration,
    /// Building statements and signing them.
    pub sign: Duration,
    /// Writing files.
    pub write: Duration,
}

/// What `generate` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GenerateReport {
    /// One entry per proof, sorted by script id.
    pub proofs: Vec<ProofOutcome>,
    /// The key id that signed, when signing.
    pub key_id: Option<String>,
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
    /// A test file exists but could not be read.
    #[error("cannot read test file `{}`: {source}", path.display())]
    TestFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
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

/// Repository-relative display of `path` with `/` separators.
pub fn rel_path(root: &Path, path: &Path) -> String {
    let p = path.strip_prefix(root).unwrap_or(path);
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

struct Built {
    id: String,
    proof: Proof,
    proof_bytes: Vec<u8>,
    envelope_bytes: Option<Vec<u8>>,
}

/// Builds every proof (and envelope), then writes them. See the module docs.
pub fn generate(req: &GenerateRequest<'_>) -> Result<GenerateReport, GenerateError> {
    let mut timings = Timings::default();
    let t0 = Instant::now();

    // Sources: digests of the JUnit files, and the flat case list with source indices.
    let mut sources = Vec::with_capacity(req.reports.len());
    let mut flat: Vec<(&TestCase, usize)> = Vec::new();
    for (i, r) in req.reports.iter().enumerate() {
        let digest = Sha256Digest::of_file(&r.path).map_err(|source| GenerateError::Source {
            path: r.path.clone(),
            source,
        })?;
        sources.push(SourceRef {
            path: rel_path(req.root, &r.path),
            digest,
        });
        flat.extend(r.cases.iter().map(|c| (c, i)));
    }

    // Facts: script and test file digests.
    let mut facts = Vec::new();
    let empty = ScriptCases::default();
    let mut file_cache: BTreeMap<String, Option<FileDigests>> = BTreeMap::new();
    for s in req.scripts {
        let Some(evidence) = s.evidence else { continue };
        if !is_valid_script_id(&s.id) {
            return Err(GenerateError::BadId(s.id.clone()));
        }
        let full = req.root.join(&s.path);
        let bytes = std::fs::read(&full).map_err(|source| GenerateError::Script {
            id: s.id.clone(),
            path: full.clone(),
            source,
        })?;
        let mapped = req.mapping.get(&s.id).unwrap_or(&empty);
        let mut test_files = Vec::with_capacity(s.test_files.len());
        for tf in &s.test_files {
            let digests = match file_cache.get(tf) {
                Some(d) => d.clone(),
                None => {
                    let d = read_optional(&req.root.join(tf))?;
                    file_cache.insert(tf.clone(), d.clone());
                    d
                }
            };
            test_files.push(TestFileFacts {
                path: tf.clone(),
                digests,
                produced_results: mapped.test_files.get(tf).copied().unwrap_or(false),
            });
        }
        let header = match &s.header {
            Some(h) => Some(ResourceDescriptor {
                name: Some(format!("{}#header", rel_path(Path::new(""), &s.path))),
                digest: [("sha256".to_owned(), jcs::digest(h)?.hex())].into(),
                media_type: Some("application/json".into()),
                ..Default::default()
            }),
            None => None,
        };
        facts.push((
            ScriptFacts {
                id: s.id.clone(),
                path: rel_path(Path::new(""), &s.path),
                evidence,
                digests: FileDigests::of(&bytes),
                test_files,
            },
            mapped,
            ExtraConfig { header },
        ));
    }
    timings.hash = t0.elapsed();

    // Build (and sign) in parallel: each script is independent.
    let generated_at = format_time(req.generated_at);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = facts.len().div_ceil(threads).max(1);
    let results: Vec<Result<(Vec<Built>, Duration, Duration), GenerateError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = facts
                .chunks(chunk)
                .map(|part| {
                    let flat = &flat;
                    let sources = &sources;
                    let generated_at = &generated_at;
                    scope.spawn(move || build_part(req, part, flat, sources, generated_at))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(GenerateError::Jcs(JcsError::internal("a worker panicked")))
                    })
                })
                .collect()
        });
    let mut built = Vec::with_capacity(facts.len());
    for r in results {
        let (b, build, sign) = r?;
        built.extend(b);
        timings.build += build;
        timings.sign += sign;
    }
    built.sort_by(|a, b| a.id.cmp(&b.id));

    // Write.
    let t = Instant::now();
    std::fs::create_dir_all(req.out_dir).map_err(|source| GenerateError::Write {
        path: req.out_dir.to_path_buf(),
        source,
    })?;
    let mut proofs = Vec::with_capacity(built.len());
    for b in built {
        let proof_path = req.out_dir.join(attest::proof_file_name(&b.id));
        write_atomic(&proof_path, &b.proof_bytes)?;
        let env_path = req.out_dir.join(attest::envelope_file_name(&b.id));
        let envelope = match &b.envelope_bytes {
            Some(bytes) => {
                write_atomic(&env_path, bytes)?;
                Some(env_path)
            }
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
        let s = &b.proof.test_summary;
        proofs.push(ProofOutcome {
            script_id: b.id,
            script_path: b.proof.script_path.clone(),
            verdict: b.proof.verdict,
            reasons: b.proof.reasons.iter().map(|r| r.code.clone()).collect(),
            tests: s.total,
            passed: s.passed,
            failed: s.failed + s.errors,
            skipped: s.skipped,
            flaky: b.proof.flaky,
            proof: proof_path,
            proof_digest: Sha256Digest::of(&b.proof_bytes),
            envelope,
        });
    }
    timings.write = t.elapsed();
    Ok(GenerateReport {
        proofs,
        key_id: req.key.map(|k| k.key_id().to_string()),
        timings,
    })
}

type Part<'m> = (ScriptFacts, &'m ScriptCases, ExtraConfig);

fn build_part(
    req: &GenerateRequest<'_>,
    part: &[Part<'_>],
    flat: &[(&TestCase, usize)],
    sources: &[SourceRef],
    generated_at: &str,
) -> Result<(Vec<Built>, Duration, Duration), GenerateError> {
    let mut out = Vec::with_capacity(part.len());
    let mut build = Duration::ZERO;
    let mut sign = Duration::ZERO;
    let mut cases = Vec::new();
    for (facts, mapped, extra) in part {
        let t = Instant::now();
        cases.clear();
        cases.extend(mapped.cases.iter().filter_map(|&i| flat.get(i).copied()));
        let proof = build_proof(
            facts,
            &cases,
            sources,
            req.context,
            generated_at,
            req.flaky_policy,
        )?;
        let proof_bytes = proof.to_json_bytes();
        build += t.elapsed();
        let t = Instant::now();
        let envelope_bytes = req.key.map(|key| {
            let st = attest::statement(&proof, &proof_bytes, extra);
            attest::sign_statement(&st, key).to_json_pretty()
        });
        sign += t.elapsed();
        out.push(Built {
            id: facts.id.clone(),
            proof,
            proof_bytes,
            envelope_bytes,
        });
    }
    Ok((out, build, sign))
}

fn read_optional(path: &Path) -> Result<Option<FileDigests>, GenerateError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(FileDigests::of(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // A directory named as a test file: count it as present, digest of nothing.
        Err(_) if path.is_dir() => Ok(Some(FileDigests::of(b""))),
        Err(source) => Err(GenerateError::TestFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a
/// rename, so readers never see a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), GenerateError> {
    let err = |source| GenerateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".proofgate-")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// A simple mapping for callers without a model: a case belongs to a script when its
/// `file` is one of the script's declared test files or lies under one of them (a
/// directory).
pub fn map_by_test_files(
    scripts: &[ScriptSpec],
    reports: &[SourceReport],
) -> BTreeMap<String, ScriptCases> {
    let mut by_file: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut i = 0usize;
    for r in reports {
        for c in &r.cases {
            if let Some(f) = &c.file {
                by_file
                    .entry(f.strip_prefix("./").unwrap_or(f))
                    .or_default()
                    .push(i);
            }
            i += 1;
        }
    }
    let mut out = BTreeMap::new();
    for s in scripts {
        let mut sc = ScriptCases::default();
        for tf in &s.test_files {
            let tf_norm = tf.trim_end_matches('/');
            let mut any = false;
            for (file, idx) in by_file.range(tf_norm..) {
                let matches = *file == tf_norm
                    || (file.starts_with(tf_norm)
                        && file.as_bytes().get(tf_norm.len()) == Some(&b'/'));
                if !matches {
                    if !file.starts_with(tf_norm) {
                        break;
                    }
                    continue;
                }
                any = true;
                sc.cases.extend_from_slice(idx);
            }
            sc.test_files.insert(tf.clone(), any);
        }
        sc.cases.sort_unstable();
        sc.cases.dedup();
        out.insert(s.id.clone(), sc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Status;

    fn case(file: &str, name: &str, status: Status) -> TestCase {
        TestCase {
            file: Some(file.into()),
            classname: String::new(),
            name: name.into(),
            status,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: None,
        }
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
    fn mapping_by_test_files_matches_files_and_directories_exactly() {
        let scripts = vec![ScriptSpec {
            id: "a".into(),
            path: "a.py".into(),
            evidence: Some(EvidenceLevel::Ci),
            test_files: vec!["tests/test_a.py".into(), "tests/dir".into()],
            header: None,
        }];
        let reports = vec![SourceReport {
            path: "j.xml".into(),
            cases: vec![
                case("tests/test_a.py", "1", Status::Passed),
                case("tests/test_a.pyc", "2", Status::Passed),
                case("tests/dir/x.py", "3", Status::Passed),
                case("tests/dirx/y.py", "4", Status::Passed),
                case("./tests/test_a.py", "5", Status::Passed),
            ],
        }];
        let m = map_by_test_files(&scripts, &reports);
        assert_eq!(m["a"].cases, vec![0, 2, 4]);
        assert!(m["a"].test_files["tests/dir"]);
    }

    #[test]
    fn generate_writes_proofs_and_envelopes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        std::fs::write(root.join("a.py"), "print(1)\n").unwrap();
        std::fs::write(root.join("tests/test_a.py"), "def test_1(): pass\n").unwrap();
        std::fs::write(root.join("junit.xml"), "<testsuite/>").unwrap();
        let scripts = vec![
            ScriptSpec {
                id: "a".into(),
                path: "a.py".into(),
                evidence: Some(EvidenceLevel::Ci),
                test_files: vec!["tests/test_a.py".into()],
                header: Some(serde_json::json!({"id": "a"})),
            },
            ScriptSpec {
                id: "m".into(),
                path: "a.py".into(),
                evidence: None,
                test_files: vec![],
                header: None,
            },
        ];
        let reports = vec![SourceReport {
            path: root.join("junit.xml"),
            cases: vec![case("tests/test_a.py", "test_1", Status::Passed)],
        }];
        let mapping = map_by_test_files(&scripts, &reports);
        let (key, _) = SigningKey::generate().unwrap();
        let out = root.join("out");
        let ctx = RunContext::default();
        let req = GenerateRequest {
            root,
            scripts: &scripts,
            mapping: &mapping,
            flaky_policy: FlakyPolicy::Pass,
            reports: &reports,
            context: &ctx,
            generated_at: DateTime::from_timestamp(0, 0).unwrap(),
            key: Some(&key),
            out_dir: &out,
        };
        let report = generate(&req).unwrap();
        assert_eq!(report.proofs.len(), 1, "manual scripts get no proof");
        assert!(report.all_pass());
        let bytes = std::fs::read(out.join("proof-a.json")).unwrap();
        assert_eq!(report.proofs[0].proof_digest, Sha256Digest::of(&bytes));
        let proof: Proof = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(proof.generated_at, "1970-01-01T00:00:00Z");
        assert_eq!(proof.sources[0].path, "junit.xml");
        assert!(out.join("proof-a.dsse.json").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
        // Same inputs, same bytes.
        generate(&req).unwrap();
        assert_eq!(std::fs::read(out.join("proof-a.json")).unwrap(), bytes);
        // Unsigned run removes the stale envelope.
        let req = GenerateRequest { key: None, ..req };
        generate(&req).unwrap();
        assert!(!out.join("proof-a.dsse.json").exists());
    }

    #[test]
    fn missing_script_file_is_an_input_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let scripts = vec![ScriptSpec {
            id: "a".into(),
            path: "missing.py".into(),
            evidence: Some(EvidenceLevel::Ci),
            test_files: vec![],
            header: None,
        }];
        let mapping = BTreeMap::new();
        let ctx = RunContext::default();
        let out = dir.path().join("out");
        let err = generate(&GenerateRequest {
            root: dir.path(),
            scripts: &scripts,
            mapping: &mapping,
            flaky_policy: FlakyPolicy::Pass,
            reports: &[],
            context: &ctx,
            generated_at: Utc::now(),
            key: None,
            out_dir: &out,
        })
        .unwrap_err();
        assert!(err.is_input_error());
        assert!(err.to_string().contains("missing.py"), "{err}");
        assert!(!out.exists());
    }
}

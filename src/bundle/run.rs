//! The run bundle (`bundle.json` and `summary.md`): what ran, how it ended, what changed,
//! the sources it ran against and the proofs it produced.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::exec::ExecRecord;
use super::git::GitInfo;
use crate::digest::Sha256Digest;

/// The bundle format version written by this build.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;

/// The DSSE payload type of a signed bundle (`bundle.dsse.json`).
pub const BUNDLE_PAYLOAD_TYPE: &str = "application/vnd.proofgate.bundle+json";

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunOutcome {
    /// The command exited 0 and every proof passed.
    Passed,
    /// The command exited non-zero, a signal ended it, or a proof failed.
    Failed,
    /// The timeout ended it.
    TimedOut,
}

/// A file the bundle refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Its path as written.
    pub path: String,
    /// SHA-256 of its bytes.
    pub digest: Sha256Digest,
}

/// A proof the run produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofRef {
    /// The script the proof is for.
    pub script_id: String,
    /// The proof file.
    pub path: String,
    /// SHA-256 of the proof file.
    pub digest: Sha256Digest,
    /// `PASS` or `FAIL`.
    pub verdict: String,
}

/// The source manifest the run was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRef {
    /// The manifest file.
    pub path: String,
    /// Its Merkle root.
    pub root_hash: Sha256Digest,
    /// How many files it covers.
    pub file_count: usize,
    /// The scope walked.
    pub scope: Vec<String>,
}

/// What a rerun ran again (`run --rerun-failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RerunScope {
    /// The failed tests, by id (pytest, cargo-nextest).
    Tests,
    /// The whole command (any other tool).
    Command,
}

/// One rerun of the failed tests (`run --rerun-failed`).
#[derive(Debug, Clone, Serialize)]
pub struct RerunRecord {
    /// 1 for the first rerun.
    pub attempt: u32,
    /// `pytest`, `cargo-nextest` or `command`.
    pub tool: String,
    /// What ran again.
    pub scope: RerunScope,
    /// The tests selected by id: pytest node ids, or nextest `<binary id>::<test name>`;
    /// empty when the whole command ran again.
    pub tests: Vec<String>,
    /// The command as run, its timing, exit, log and redactions.
    #[serde(flatten)]
    pub exec: ExecRecord,
    /// The JUnit files it wrote, as kept under the output directory.
    pub junit: Vec<FileRef>,
    /// The seeds it ran with.
    pub seeds: BTreeMap<String, String>,
    /// Failing tests that passed in it (flaky from then on).
    pub passed: u64,
    /// Tests still failing after it.
    pub still_failing: u64,
}

/// `bundle.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunBundle {
    /// Format version, currently `1`.
    pub format_version: u32,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The command, its timing, exit, log and redactions.
    #[serde(flatten)]
    pub exec: ExecRecord,
    /// The seeds the command ran with, by name (`bundle::seeds`); left out when none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub seeds: BTreeMap<String, String>,
    /// The repository state, when the root is a git work tree.
    pub git: Option<GitInfo>,
    /// The JUnit files the run produced.
    pub junit: Vec<FileRef>,
    /// The proofs generated from them.
    pub proofs: Vec<ProofRef>,
    /// The source manifest.
    pub manifest: ManifestRef,
    /// The reruns of failed tests, in order; left out when there were none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reruns: Vec<RerunRecord>,
}

impl RunBundle {
    /// Decides the outcome from the exit, the reruns and the proof verdicts. A command
    /// that failed counts as passed when its last rerun exited 0 in time with no test
    /// left failing; its own exit code stays in the record.
    pub fn outcome_of(
        exec: &ExecRecord,
        reruns: &[RerunRecord],
        proofs: &[ProofRef],
    ) -> RunOutcome {
        let cleared = reruns
            .last()
            .is_some_and(|r| r.exec.succeeded() && r.still_failing == 0);
        if exec.timed_out {
            RunOutcome::TimedOut
        } else if (exec.succeeded() || cleared) && proofs.iter().all(|p| p.verdict == "PASS") {
            RunOutcome::Passed
        } else {
            RunOutcome::Failed
        }
    }

    /// The human summary (`summary.md`).
    pub fn summary_markdown(&self) -> String {
        let mut s = String::new();
        let title = match self.outcome {
            RunOutcome::Passed => "PASSED ✅",
            RunOutcome::Failed => "FAILED ❌",
            RunOutcome::TimedOut => "TIMED OUT ⏱️",
        };
        let _ = writeln!(s, "# Test run: {title}\n");
        let _ = writeln!(s, "| | |\n| --- | --- |");
        let _ = writeln!(
            s,
            "| Command | `{}` |",
            md_code(&self.exec.command.join(" "))
        );
        let exit = match (self.exec.exit_code, self.exec.signal) {
            (Some(c), _) => c.to_string(),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "unknown".to_owned(),
        };
        let _ = writeln!(s, "| Exit code | {exit} |");
        let _ = writeln!(
            s,
            "| Duration | {:.1} s (timeout {} s) |",
            self.exec.duration_ms as f64 / 1000.0,
            self.exec.timeout_secs
        );
        let _ = writeln!(s, "| Started | {} |", self.exec.started_at);
        if let Some(g) = &self.git {
            let _ = writeln!(s, "| Head | `{}` |", g.head_sha);
            if let Some(b) = &g.base_ref {
                let _ = writeln!(
                    s,
                    "| Changes against `{}` | {} files, +{} −{} |",
                    md_code(b),
                    g.diff_stat.files,
                    g.diff_stat.added,
                    g.diff_stat.deleted
                );
            }
        }
        let _ = writeln!(
            s,
            "| Sources | {} files, root `{}` |",
            self.manifest.file_count, self.manifest.root_hash
        );
        let _ = writeln!(
            s,
            "| Log | `{}` ({} bytes, `{}`) |",
            md_code(&self.exec.log.path),
            self.exec.log.bytes,
            self.exec.log.digest
        );
        self.rerun_rows(&mut s);
        if !self.exec.redactions.is_empty() {
            let list: Vec<String> = self
                .exec
                .redactions
                .iter()
                .map(|r| format!("{} ×{}", r.kind, r.count))
                .collect();
            let _ = writeln!(s, "| Redacted | {} |", list.join(", "));
        }
        if !self.proofs.is_empty() {
            let _ = writeln!(
                s,
                "\n## Proofs\n\n| Script | Verdict | Digest |\n| --- | --- | --- |"
            );
            for p in &self.proofs {
                let _ = writeln!(s, "| `{}` | {} | `{}` |", p.script_id, p.verdict, p.digest);
            }
        }
        if let Some(g) = &self.git
            && !g.changed_files.is_empty()
        {
            let _ = writeln!(s, "\n## Changed files\n");
            for f in g.changed_files.iter().take(200) {
                let _ = writeln!(s, "- `{}`", md_code(f));
            }
            if g.changed_files.len() > 200 {
                let _ = writeln!(s, "- … and {} more", g.changed_files.len() - 200);
            }
        }
        s
    }

    /// The summary's rows for the seeds and the reruns, when there are any.
    fn rerun_rows(&self, s: &mut String) {
        if !self.seeds.is_empty() {
            let list: Vec<String> = self
                .seeds
                .iter()
                .map(|(k, v)| format!("`{}={}`", md_code(k), md_code(v)))
                .collect();
            let _ = writeln!(s, "| Seeds | {} |", list.join(", "));
        }
        if let Some(last) = self.reruns.last() {
            let passed: u64 = self.reruns.iter().map(|r| r.passed).sum();
            let _ = writeln!(
                s,
                "| Reruns | {} ({}): {passed} passed on a rerun (flaky), {} still failing |",
                self.reruns.len(),
                match last.scope {
                    RerunScope::Tests => "failed tests by id",
                    RerunScope::Command => "the whole command",
                },
                last.still_failing
            );
        }
    }
}

fn md_code(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|").replace('\n', " ")
}

/// Reads the proofs (`proof-<ID>.json`) in `dir`: their script id, verdict and digest.
/// Files that are not proofs are skipped.
pub fn collect_proofs(dir: &Path) -> std::io::Result<Vec<ProofRef>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("proof-") && name.ends_with(".json")) || name.ends_with(".dsse.json")
        {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let (Some(id), Some(verdict)) = (v["script_id"].as_str(), v["verdict"].as_str()) else {
            continue;
        };
        out.push(ProofRef {
            script_id: id.to_owned(),
            path: entry.path().to_string_lossy().into_owned(),
            digest: Sha256Digest::of(&bytes),
            verdict: verdict.to_owned(),
        });
    }
    out.sort_by(|a, b| a.script_id.cmp(&b.script_id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::exec::LogRecord;
    use crate::bundle::git::DiffStat;
    use crate::bundle::redact::{RedactionCount, SecretKind};

    fn exec(exit: Option<i32>, timed_out: bool) -> ExecRecord {
        ExecRecord {
            command: vec!["pytest".into(), "-q".into()],
            shell: false,
            started_at: "2026-05-01T10:00:00.000Z".into(),
            finished_at: "2026-05-01T10:00:12.512Z".into(),
            duration_ms: 12_512,
            exit_code: exit,
            signal: if exit.is_none() { Some(9) } else { None },
            timed_out,
            timeout_secs: 300,
            log: LogRecord {
                path: "proofs/tests.log".into(),
                digest: Sha256Digest::of(b"log"),
                bytes: 3,
            },
            redactions: vec![RedactionCount {
                kind: SecretKind::GithubToken,
                count: 2,
            }],
        }
    }

    fn proof(id: &str, verdict: &str) -> ProofRef {
        ProofRef {
            script_id: id.into(),
            path: format!("proofs/proof-{id}.json"),
            digest: Sha256Digest::of(id.as_bytes()),
            verdict: verdict.into(),
        }
    }

    fn bundle(exec: ExecRecord, proofs: Vec<ProofRef>) -> RunBundle {
        RunBundle {
            format_version: BUNDLE_FORMAT_VERSION,
            outcome: RunBundle::outcome_of(&exec, &[], &proofs),
            exec,
            seeds: BTreeMap::new(),
            git: Some(GitInfo {
                head_sha: "0123456789abcdef0123456789abcdef01234567".into(),
                base_ref: Some("origin/main".into()),
                merge_base: Some("89abcdef0123456789abcdef0123456789abcdef".into()),
                changed_files: vec!["scripts/foo.py".into(), "tests/test_foo.py".into()],
                diff_stat: DiffStat {
                    added: 12,
                    deleted: 3,
                    files: 2,
                },
            }),
            junit: vec![],
            proofs,
            manifest: ManifestRef {
                path: "proofs/manifest.json".into(),
                root_hash: Sha256Digest::of(b"root"),
                file_count: 42,
                scope: vec![".".into()],
            },
            reruns: vec![],
        }
    }

    #[test]
    fn outcome_follows_exit_timeout_and_verdicts() {
        assert_eq!(
            RunBundle::outcome_of(&exec(Some(0), false), &[], &[proof("a", "PASS")]),
            RunOutcome::Passed
        );
        assert_eq!(
            RunBundle::outcome_of(&exec(Some(0), false), &[], &[proof("a", "FAIL")]),
            RunOutcome::Failed
        );
        assert_eq!(
            RunBundle::outcome_of(&exec(Some(1), false), &[], &[]),
            RunOutcome::Failed
        );
        assert_eq!(
            RunBundle::outcome_of(&exec(None, true), &[], &[]),
            RunOutcome::TimedOut
        );
    }

    fn rerun(exit: Option<i32>, still_failing: u64) -> RerunRecord {
        RerunRecord {
            attempt: 1,
            tool: "pytest".into(),
            scope: RerunScope::Tests,
            tests: vec!["tests/test_x.py::test_a".into()],
            exec: exec(exit, false),
            junit: vec![],
            seeds: BTreeMap::new(),
            passed: 1 - still_failing.min(1),
            still_failing,
        }
    }

    #[test]
    fn a_failed_command_passes_only_when_its_last_rerun_cleared_every_failure() {
        let failed = exec(Some(1), false);
        let pass = [proof("a", "PASS")];
        let cleared = [rerun(Some(1), 1), rerun(Some(0), 0)];
        assert_eq!(
            RunBundle::outcome_of(&failed, &cleared, &pass),
            RunOutcome::Passed
        );
        // The proofs still decide: a flaky test under `flaky: fail` fails the proof.
        assert_eq!(
            RunBundle::outcome_of(&failed, &cleared, &[proof("a", "FAIL")]),
            RunOutcome::Failed
        );
        for last in [rerun(Some(1), 1), rerun(Some(0), 1), rerun(None, 0)] {
            assert_eq!(
                RunBundle::outcome_of(&failed, &[last], &pass),
                RunOutcome::Failed
            );
        }
        assert_eq!(
            RunBundle::outcome_of(&exec(None, true), &cleared, &pass),
            RunOutcome::TimedOut
        );
    }

    #[test]
    fn summary_of_a_passing_run() {
        let b = bundle(
            exec(Some(0), false),
            vec![proof("foo", "PASS"), proof("bar", "PASS")],
        );
        insta::assert_snapshot!(b.summary_markdown());
    }

    #[test]
    fn summary_of_a_run_its_reruns_cleared() {
        let mut b = bundle(exec(Some(1), false), vec![proof("foo", "PASS")]);
        b.seeds = [("PYTHONHASHSEED".to_owned(), "0".to_owned())].into();
        b.reruns = vec![rerun(Some(1), 1), rerun(Some(0), 0)];
        b.outcome = RunBundle::outcome_of(&b.exec, &b.reruns, &b.proofs);
        insta::assert_snapshot!(b.summary_markdown());
    }

    #[test]
    fn summary_of_a_timed_out_run() {
        let b = bundle(exec(None, true), vec![]);
        insta::assert_snapshot!(b.summary_markdown());
    }
}

//! The run bundle (`bundle.json` and `summary.md`): what ran, how it ended, what changed,
//! the sources it ran against and the proofs it produced.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::environment::Environment;
use super::exec::ExecRecord;
use super::git::GitInfo;
use super::replay_of::ReplayOf;
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
    /// The repository state, when the root is a git work tree.
    pub git: Option<GitInfo>,
    /// The JUnit files the run produced.
    pub junit: Vec<FileRef>,
    /// The proofs generated from them.
    pub proofs: Vec<ProofRef>,
    /// The source manifest.
    pub manifest: ManifestRef,
    /// The platform, tool versions and non-secret variables the run saw (absent in
    /// bundles written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// The recorded run this one replayed (`proofgate replay`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<ReplayOf>,
}

impl RunBundle {
    /// Decides the outcome from the exit and the proof verdicts.
    pub fn outcome_of(exec: &ExecRecord, proofs: &[ProofRef]) -> RunOutcome {
        if exec.timed_out {
            RunOutcome::TimedOut
        } else if exec.succeeded() && proofs.iter().all(|p| p.verdict == "PASS") {
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
            outcome: RunBundle::outcome_of(&exec, &proofs),
            exec,
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
            environment: None,
            replay_of: None,
        }
    }

    #[test]
    fn outcome_follows_exit_timeout_and_verdicts() {
        assert_eq!(
            RunBundle::outcome_of(&exec(Some(0), false), &[proof("a", "PASS")]),
            RunOutcome::Passed
        );
        assert_eq!(
            RunBundle::outcome_of(&exec(Some(0), false), &[proof("a", "FAIL")]),
            RunOutcome::Failed
        );
        assert_eq!(
            RunBundle::outcome_of(&exec(Some(1), false), &[]),
            RunOutcome::Failed
        );
        assert_eq!(
            RunBundle::outcome_of(&exec(None, true), &[]),
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
    fn summary_of_a_timed_out_run() {
        let b = bundle(exec(None, true), vec![]);
        insta::assert_snapshot!(b.summary_markdown());
    }
}

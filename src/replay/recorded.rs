//! The recorded run, checked before anything is replayed: `bundle.json` read into the
//! fields a replay uses, and the proofs it names, each matched to its digest in the
//! bundle before it is parsed.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::bundle::environment::Environment;
use crate::bundle::git::GitInfo;
use crate::bundle::manifest::Manifest;
use crate::bundle::run::{FileRef, ManifestRef, ProofRef, RunOutcome};
use crate::digest::Sha256Digest;
use crate::proof::record::Proof;

/// Why a recorded run cannot be replayed: each is bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RecordedError {
    /// The bundle is not a run bundle.
    #[error("`{name}` is not a run bundle: {detail}")]
    NotABundle {
        /// The bundle's name as given.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The bundle records no commit.
    #[error(
        "the recorded run has no commit (it did not run in a git work tree), so there is nothing to check out"
    )]
    NoCommit,
    /// The bundle names a proof that is not among the run's files.
    #[error("the recorded run's proof `{0}` is missing")]
    MissingProof(String),
    /// A proof's bytes are not those the bundle recorded.
    #[error(
        "the recorded run's proof `{name}` does not match its digest in the bundle ({expected})"
    )]
    ProofDigest {
        /// The proof's file name.
        name: String,
        /// The digest the bundle records.
        expected: Sha256Digest,
    },
    /// A proof does not parse.
    #[error("the recorded run's proof `{name}` cannot be read: {detail}")]
    BadProof {
        /// The proof's file name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The proofs were made with different seeds.
    #[error("the recorded run's proofs disagree on their seeds (`{0}` and `{1}`)")]
    SeedsDisagree(String, String),
    /// The manifest is not the one the bundle names.
    #[error("the recorded run's `manifest.json` does not match the root hash in the bundle ({0})")]
    ManifestDigest(Sha256Digest),
    /// Nothing to compare.
    #[error(
        "the recorded run's proofs hold no test results to compare (record the run with `run --junit`)"
    )]
    NoTests,
}

impl crate::exit::Failure for RecordedError {
    fn exit_class(&self) -> crate::exit::ExitClass {
        crate::exit::ExitClass::Usage
    }
}

/// One kind of secret the recorded run redacted.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRedaction {
    /// `env:<NAME>`, `github-token`, …
    pub kind: String,
}

/// `bundle.json`, as far as a replay needs it. Fields a replay does not use are
/// ignored, so bundles from later versions still replay.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRun {
    /// The bundle format version.
    pub format_version: u32,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The command as given.
    pub command: Vec<String>,
    /// Whether it ran through `sh -c`.
    #[serde(default)]
    pub shell: bool,
    /// The timeout in seconds.
    pub timeout_secs: u64,
    /// The kinds of secret redacted from the log.
    #[serde(default)]
    pub redactions: Vec<RecordedRedaction>,
    /// The repository state.
    #[serde(default)]
    pub git: Option<GitInfo>,
    /// The JUnit files the run produced.
    #[serde(default)]
    pub junit: Vec<FileRef>,
    /// The proofs.
    #[serde(default)]
    pub proofs: Vec<ProofRef>,
    /// The source manifest.
    pub manifest: ManifestRef,
    /// The environment the run saw (absent in older bundles).
    #[serde(default)]
    pub environment: Option<Environment>,
}

impl RecordedRun {
    /// The variables whose values the recorded log had redacted (`env:<NAME>` kinds).
    pub fn redacted_env(&self) -> Vec<String> {
        self.redactions
            .iter()
            .filter_map(|r| r.kind.strip_prefix("env:"))
            .map(str::to_owned)
            .collect()
    }
}

/// A checked recorded run: the bundle, its digest and its parsed proofs.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The bundle.
    pub run: RecordedRun,
    /// SHA-256 of `bundle.json`'s bytes.
    pub bundle_digest: Sha256Digest,
    /// The commit the run ran at.
    pub commit: String,
    /// The proofs, in the bundle's order.
    pub proofs: Vec<Proof>,
    /// The source manifest, when the run's `manifest.json` is at hand.
    pub sources: Option<Manifest>,
}

impl Recorded {
    /// Checks a run: `bundle` is `bundle.json`'s bytes (`name` says where it came from),
    /// `file` reads one of the run's files by its file name (`proof-<ID>.json`,
    /// `manifest.json`), `None` when absent. Each proof is checked against its digest in
    /// the bundle first, the manifest against the bundle's root hash; a missing
    /// manifest leaves the sources uncompared.
    pub fn check(
        name: &str,
        bundle: &[u8],
        mut file: impl FnMut(&str) -> Option<Vec<u8>>,
    ) -> Result<Self, RecordedError> {
        let run: RecordedRun =
            serde_json::from_slice(bundle).map_err(|e| RecordedError::NotABundle {
                name: name.to_owned(),
                detail: e.to_string(),
            })?;
        if run.command.is_empty() {
            return Err(RecordedError::NotABundle {
                name: name.to_owned(),
                detail: "it records no command".to_owned(),
            });
        }
        let commit = run
            .git
            .as_ref()
            .map(|g| g.head_sha.clone())
            .filter(|c| is_commit_id(c))
            .ok_or(RecordedError::NoCommit)?;
        let mut proofs = Vec::with_capacity(run.proofs.len());
        for r in &run.proofs {
            let file_name = r.path.rsplit(['/', '\\']).next().unwrap_or(&r.path);
            let bytes =
                file(file_name).ok_or_else(|| RecordedError::MissingProof(file_name.to_owned()))?;
            if Sha256Digest::of(&bytes) != r.digest {
                return Err(RecordedError::ProofDigest {
                    name: file_name.to_owned(),
                    expected: r.digest,
                });
            }
            let proof: Proof =
                serde_json::from_slice(&bytes).map_err(|e| RecordedError::BadProof {
                    name: file_name.to_owned(),
                    detail: e.to_string(),
                })?;
            proofs.push(proof);
        }
        let sources = check_manifest(&run.manifest, &mut file)?;
        Ok(Self {
            run,
            bundle_digest: Sha256Digest::of(bundle),
            commit,
            proofs,
            sources,
        })
    }

    /// The seeds the recorded proofs were made with (every proof of a run has the same).
    pub fn seeds(&self) -> Result<BTreeMap<String, String>, RecordedError> {
        let mut seen: Option<&BTreeMap<String, String>> = None;
        for p in &self.proofs {
            match seen {
                Some(s) if *s != p.context.seeds => {
                    return Err(RecordedError::SeedsDisagree(
                        format_seeds(s),
                        format_seeds(&p.context.seeds),
                    ));
                }
                _ => seen = Some(&p.context.seeds),
            }
        }
        Ok(seen.cloned().unwrap_or_default())
    }

    /// The shard the recorded proofs were made for, when they name one.
    pub fn shard(&self) -> Option<String> {
        self.proofs.iter().find_map(|p| p.context.shard.clone())
    }
}

/// The recorded manifest, when its file is there: self-consistent and with the bundle's
/// root hash, else an error.
fn check_manifest(
    named: &ManifestRef,
    file: &mut impl FnMut(&str) -> Option<Vec<u8>>,
) -> Result<Option<Manifest>, RecordedError> {
    let file_name = named.path.rsplit(['/', '\\']).next().unwrap_or(&named.path);
    let Some(bytes) = file(file_name) else {
        return Ok(None);
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|_| RecordedError::ManifestDigest(named.root_hash))?;
    if !m.is_self_consistent() || m.root_hash != named.root_hash {
        return Err(RecordedError::ManifestDigest(named.root_hash));
    }
    Ok(Some(m))
}

fn format_seeds(s: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = s.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(" ")
}

/// A full or abbreviated hexadecimal commit id (7 to 64 digits): the only form handed to
/// `git`, so that a recorded value can never be read as an option or a revision range.
pub fn is_commit_id(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    pub(crate) fn bundle_json(proofs: &[(&str, &[u8])], commit: Option<&str>) -> Vec<u8> {
        let refs: Vec<serde_json::Value> = proofs
            .iter()
            .map(|(name, bytes)| {
                serde_json::json!({
                    "script_id": name.trim_start_matches("proof-").trim_end_matches(".json"),
                    "path": format!("out/{name}"),
                    "digest": Sha256Digest::of(bytes).to_string(),
                    "verdict": "PASS",
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "format_version": 1,
            "outcome": "PASSED",
            "command": ["python3", "-m", "pytest"],
            "shell": false,
            "started_at": "2026-05-01T10:00:00.000Z",
            "timeout_secs": 60,
            "log": {"path": "out/tests.log", "digest": Sha256Digest::of(b"").to_string(), "bytes": 0},
            "git": commit.map(|c| serde_json::json!({
                "head_sha": c, "base_ref": null, "merge_base": null,
                "changed_files": [], "diff_stat": {"added": 0, "deleted": 0, "files": 0}
            })),
            "junit": [],
            "proofs": refs,
            "manifest": {"path": "out/manifest.json", "root_hash": manifest().root_hash, "file_count": 1, "scope": ["."]},
            "a_field_from_a_later_version": {"x": 1},
        }))
        .unwrap()
    }

    pub(crate) fn manifest() -> Manifest {
        Manifest::from_files(
            vec![".".into()],
            vec![],
            [("src/a.py".to_owned(), Sha256Digest::of(b"a"))].into(),
        )
    }

    fn proof_bytes(seed: &str) -> Vec<u8> {
        let mut v = serde_json::to_value(crate::replay::compare::tests::proof(
            "calc",
            &[("test_a", crate::junit::Status::Passed, None)],
        ))
        .unwrap();
        v["context"]["seeds"] = serde_json::json!({ "PYTHONHASHSEED": seed });
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_bundle_with_its_proofs_checks_and_later_fields_are_ignored() {
        let p = proof_bytes("7");
        let b = bundle_json(&[("proof-calc.json", &p)], Some(COMMIT));
        let r = Recorded::check("bundle.json", &b, |n| {
            (n == "proof-calc.json").then(|| p.clone())
        })
        .unwrap();
        assert_eq!(r.commit, COMMIT);
        assert_eq!(r.proofs.len(), 1);
        assert_eq!(r.bundle_digest, Sha256Digest::of(&b));
        assert_eq!(r.seeds().unwrap()["PYTHONHASHSEED"], "7");
        assert!(r.sources.is_none(), "no manifest.json at hand");
    }

    #[test]
    fn the_manifest_is_used_only_when_it_is_the_bundles() {
        let b = bundle_json(&[], Some(COMMIT));
        let good = serde_json::to_vec(&manifest()).unwrap();
        let r = Recorded::check("b", &b, |n| (n == "manifest.json").then(|| good.clone())).unwrap();
        assert_eq!(r.sources, Some(manifest()));
        let mut edited = manifest();
        edited
            .files
            .insert("src/a.py".to_owned(), Sha256Digest::of(b"other"));
        let edited = serde_json::to_vec(&edited).unwrap();
        assert!(matches!(
            Recorded::check("b", &b, |n| (n == "manifest.json").then(|| edited.clone())),
            Err(RecordedError::ManifestDigest(_))
        ));
    }

    #[test]
    fn a_bundle_without_a_commit_or_with_a_strange_one_is_refused() {
        for commit in [None, Some("--output=x"), Some("HEAD~1"), Some("abc")] {
            let b = bundle_json(&[], commit);
            assert!(
                matches!(
                    Recorded::check("b", &b, |_| None),
                    Err(RecordedError::NoCommit)
                ),
                "{commit:?}"
            );
        }
    }

    #[test]
    fn a_proof_that_is_missing_or_altered_is_refused_before_it_is_parsed() {
        let p = proof_bytes("7");
        let b = bundle_json(&[("proof-calc.json", &p)], Some(COMMIT));
        assert!(matches!(
            Recorded::check("b", &b, |_| None),
            Err(RecordedError::MissingProof(n)) if n == "proof-calc.json"
        ));
        let mut altered = p.clone();
        altered.push(b' ');
        assert!(matches!(
            Recorded::check("b", &b, |n| (n == "proof-calc.json")
                .then(|| altered.clone())),
            Err(RecordedError::ProofDigest { .. })
        ));
        assert!(matches!(
            Recorded::check("b", b"{\"not\":1}", |_| None),
            Err(RecordedError::NotABundle { .. })
        ));
    }

    #[test]
    fn proofs_made_with_different_seeds_are_refused() {
        let a = proof_bytes("1");
        let b2 = proof_bytes("2");
        let b = bundle_json(&[("proof-a.json", &a), ("proof-b.json", &b2)], Some(COMMIT));
        let r = Recorded::check("b", &b, |n| match n {
            "proof-a.json" => Some(a.clone()),
            "proof-b.json" => Some(b2.clone()),
            _ => None,
        })
        .unwrap();
        assert!(matches!(r.seeds(), Err(RecordedError::SeedsDisagree(..))));
    }
}

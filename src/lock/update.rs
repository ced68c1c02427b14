//! `proofgate lock update`: a candidate lock is made from the proofs given (one per
//! script, or one per shard of a sharded script), the gate judges it exactly as
//! `verify --release --lock` will, and only the entries the gate let through are written.
//! A failing, unsigned, untrusted or stale proof is refused, never locked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::file::{Location, Lock, LockEntry, ShardEntry};
use crate::digest::Sha256Digest;
use crate::model::ScriptId;
use crate::proof::record::Proof;
use crate::verify::{ProofInput, Reason, Report};

/// Why a candidate lock could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Two different proofs for one script (or one shard of it): a lock pins one.
    #[error(
        "`{first}` and `{second}` are two different proofs of `{id}`; a lock pins one proof \
         per script, or one per shard of a script whose tests run in shards (`generate \
         --shard`): give `lock update` the proofs of one run"
    )]
    TwoProofs {
        /// The script.
        id: String,
        /// One proof.
        first: String,
        /// The other.
        second: String,
    },
    /// A proof given could not be read as one.
    #[error("`{origin}` cannot be locked: {detail}")]
    Unreadable {
        /// Where it was read from.
        origin: String,
        /// Why.
        detail: String,
    },
}

impl crate::exit::Failure for UpdateError {
    fn exit_class(&self) -> crate::exit::ExitClass {
        crate::exit::ExitClass::Usage
    }
}

/// One proof given, read.
struct Given<'p> {
    input: &'p ProofInput,
    digest: Sha256Digest,
    proof: Proof,
}

impl Given<'_> {
    fn attempt(&self) -> u64 {
        let c = &self.proof.context;
        c.run_attempt
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or(0)
    }

    fn key_id(&self) -> Option<String> {
        self.input
            .dsse
            .as_ref()
            .and_then(|e| e.as_ref().ok())
            .and_then(|e| signer(e))
    }

    fn seeds(&self) -> Option<BTreeMap<String, String>> {
        let seeds = &self.proof.context.seeds;
        (!seeds.is_empty()).then(|| seeds.clone())
    }
}

/// The candidate entry of each script with a proof: one proof, or for a script whose
/// tests run in shards one proof per shard (the latest attempt of each, as the gate keeps
/// it). The proofs' claims are read unauthenticated here: the gate checks every one of
/// them before an entry is kept. A proof that cannot be read is an error, and so are two
/// different proofs of one script or one shard that no later attempt settles.
pub fn candidate(
    proofs: &[ProofInput],
    location: impl Fn(&ProofInput) -> Location,
) -> Result<Lock, UpdateError> {
    let mut by_script: BTreeMap<ScriptId, Vec<Given<'_>>> = BTreeMap::new();
    for p in proofs {
        let unreadable = |detail: String| UpdateError::Unreadable {
            origin: p.origin.clone(),
            detail,
        };
        let bytes = p.json.as_ref().map_err(|e| unreadable(e.clone()))?;
        let id = ScriptId::new(&p.script_id).map_err(|e| unreadable(e.to_string()))?;
        let digest = Sha256Digest::of(bytes);
        let given = by_script.entry(id).or_default();
        if given.iter().any(|g| g.digest == digest) {
            continue;
        }
        let proof = serde_json::from_slice::<Proof>(bytes)
            .map_err(|e| unreadable(format!("it is not a proofgate proof: {e}")))?;
        given.push(Given {
            input: p,
            digest,
            proof,
        });
    }
    let mut lock = Lock::new();
    for (id, given) in by_script {
        let two = |a: &Given<'_>, b: &Given<'_>| UpdateError::TwoProofs {
            id: id.to_string(),
            first: a.input.origin.clone(),
            second: b.input.origin.clone(),
        };
        // A shard's proofs, by shard; an unsharded proof under `None`.
        let mut legs: BTreeMap<Option<String>, Vec<Given<'_>>> = BTreeMap::new();
        for g in given {
            legs.entry(g.proof.context.shard.clone())
                .or_default()
                .push(g);
        }
        if let Some(unsharded) = legs.get(&None) {
            let other = unsharded.get(1).or_else(|| {
                legs.values()
                    .flatten()
                    .find(|g| g.proof.context.shard.is_some())
            });
            if let Some(b) = other {
                return Err(two(&unsharded[0], b));
            }
        }
        let mut kept: Vec<(Option<String>, Given<'_>)> = Vec::with_capacity(legs.len());
        for (shard, mut attempts) in legs {
            // The latest attempt of one run's leg is the one the gate keeps; two proofs
            // of one attempt, or of two runs, are two different proofs.
            attempts.sort_by_key(|g| std::cmp::Reverse(g.attempt()));
            if let [a, b, ..] = attempts.as_slice()
                && (a.attempt() == b.attempt()
                    || attempts
                        .iter()
                        .any(|g| g.proof.context.run_id != a.proof.context.run_id))
            {
                return Err(two(b, a));
            }
            let Some(latest) = attempts.into_iter().next() else {
                continue;
            };
            kept.push((shard, latest));
        }
        let Some((_, first)) = kept.first() else {
            continue;
        };
        let mut entry = LockEntry {
            source_hash: first.proof.script_digest,
            tests_hash: first.proof.tests_digest,
            test_seed: None,
            test_result: first.proof.verdict,
            test_run_id: None,
            proof_digest: None,
            location: Location::default(),
            key_id: None,
            shards: Vec::new(),
        };
        match kept.as_slice() {
            [(None, g)] => {
                entry.test_seed = g.seeds();
                entry.test_run_id = g.proof.ci_run_id.clone();
                entry.proof_digest = Some(g.digest);
                entry.location = location(g.input);
                entry.key_id = g.key_id();
            }
            _ => {
                // Sorted by shard name: `legs` is a `BTreeMap`.
                entry.shards = kept
                    .iter()
                    .map(|(shard, g)| ShardEntry {
                        shard: shard.clone().unwrap_or_default(),
                        test_seed: g.seeds(),
                        test_run_id: g.proof.ci_run_id.clone(),
                        proof_digest: g.digest,
                        location: location(g.input),
                        key_id: g.key_id(),
                    })
                    .collect();
            }
        }
        lock.scripts.insert(id, entry);
    }
    Ok(lock)
}

/// The key id an envelope's first signature names (unauthenticated: the gate checks it is
/// the key that signed).
fn signer(envelope: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Sig {
        keyid: Option<String>,
    }
    #[derive(Deserialize)]
    struct Env {
        signatures: Vec<Sig>,
    }
    serde_json::from_slice::<Env>(envelope)
        .ok()?
        .signatures
        .into_iter()
        .next()?
        .keyid
}

/// What happened to one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Its proof passed the gate and is locked.
    Locked,
    /// No proof was given; the previous entry stays as it was.
    Kept,
    /// No proof was given and the lock has no entry for it.
    Missing,
    /// Its proof did not pass the gate: nothing is written.
    Refused {
        /// The gate's reason.
        reason: Reason,
        /// The gate's sentence.
        message: String,
    },
}

/// The outcome of an update: the new lock, and per script of the gate's report what
/// happened (scripts that need no CI evidence are not listed).
#[derive(Debug, Clone)]
pub struct Updated {
    /// The lock to write (only when nothing was refused).
    pub lock: Lock,
    /// By script id.
    pub changes: BTreeMap<String, Change>,
}

impl Updated {
    /// Whether a proof was refused (then the lock must not be written).
    pub fn refused(&self) -> bool {
        self.changes
            .values()
            .any(|c| matches!(c, Change::Refused { .. }))
    }
}

/// Merges the gate's judgement of `candidate` into `previous`: entries the gate let
/// through replace the previous ones; scripts without a proof keep theirs; entries of
/// scripts that are no longer in the model are dropped.
pub fn apply(previous: &Lock, candidate: &Lock, report: &Report) -> Updated {
    let in_model: BTreeSet<&str> = report.scripts.iter().map(|r| r.id.as_str()).collect();
    let mut lock = Lock::new();
    let mut changes = BTreeMap::new();
    for (id, e) in &previous.scripts {
        if in_model.contains(id.as_str()) {
            lock.scripts.insert(id.clone(), e.clone());
        }
    }
    for row in &report.scripts {
        let Ok(id) = ScriptId::new(&row.id) else {
            continue;
        };
        let proposed = candidate.scripts.get(&id);
        let change = match (row.reason, proposed) {
            (Reason::CiLocked, Some(e)) => {
                lock.scripts.insert(id.clone(), e.clone());
                Change::Locked
            }
            // Not a script that needs CI evidence: nothing to lock.
            (r, _) if r.passes() => continue,
            // The candidate's digests are its proof's: stale means the proof was made
            // from other contents than the checkout's.
            (Reason::LockStale, Some(_)) => Change::Refused {
                reason: Reason::LockStale,
                message: format!(
                    "its proof was made from other contents of `{}` or its test files than \
                     the checkout has; run its tests on this checkout and lock that proof",
                    row.path
                ),
            },
            (reason, Some(_)) => Change::Refused {
                reason,
                message: row.message.clone(),
            },
            // No proof given: whatever else is wrong is the release gate's to say.
            (_, None) if lock.scripts.contains_key(&id) => Change::Kept,
            (_, None) => Change::Missing,
        };
        changes.insert(row.id.clone(), change);
    }
    Updated { lock, changes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::{Counts, PolicySource, ScriptReport, Signatures, Verdict};

    fn proof_bytes(id: &str, run: &str) -> Vec<u8> {
        let d = Sha256Digest::of(id.as_bytes());
        serde_json::to_vec(&serde_json::json!({
            "schema_version": "2.0", "script_id": id, "generated_at": "2026-01-01T00:00:00Z",
            "commit_sha": "c0ffee", "ci_run_id": run,
            "test_summary": {"total": 1, "passed": 1, "failed": 0, "errors": 0, "skipped": 0, "pass_rate": 100.0},
            "verdict": "PASS", "reasons": [], "evidence": "ci", "script_path": format!("scripts/{id}.py"),
            "script_digest": d, "script_git_blob": "0000000000000000000000000000000000000000",
            "tests_digest": d, "test_files": [], "sources": [], "flaky": 0,
            "context": {"tool": "proofgate test", "seeds": {"PYTHONHASHSEED": "3"}}, "tests": [],
        }))
        .unwrap()
    }

    fn input(id: &str, origin: &str, bytes: Vec<u8>) -> ProofInput {
        ProofInput {
            script_id: id.into(),
            origin: origin.into(),
            json: Ok(bytes),
            dsse: Some(Ok(
                br#"{"payload":"","payloadType":"x","signatures":[{"keyid":"k1","sig":""}]}"#
                    .to_vec(),
            )),
        }
    }

    fn row(id: &str, reason: Reason) -> ScriptReport {
        ScriptReport {
            id: id.into(),
            path: format!("scripts/{id}.py"),
            line: None,
            evidence: Some("ci".into()),
            required_evidence: Some("ci".into()),
            verdict: if reason.passes() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            reason,
            message: format!("{} for {id}", reason.code()),
            proof: None,
            combined: vec![],
            downgrades: vec![],
            warnings: vec![],
        }
    }

    fn report(rows: Vec<ScriptReport>) -> Report {
        Report {
            schema_version: "2",
            verdict: Verdict::Fail,
            commit: None,
            release: true,
            signatures_required: true,
            signatures: Signatures::Required,
            policy: PolicySource {
                from: "head",
                base_commit: None,
                trusted_keys: 1,
                downgrades: vec![],
            },
            lint_errors: vec![],
            checked_at: "2026-01-01T00:00:00Z".into(),
            counts: Counts::default(),
            scripts: rows,
            unknown_proofs: vec![],
        }
    }

    #[test]
    fn a_candidate_entry_describes_its_proof() {
        let bytes = proof_bytes("calc", "77");
        let lock = candidate(&[input("calc", "proof-calc.json", bytes.clone())], |_| {
            Location::default()
        })
        .unwrap();
        let e = &lock.scripts[&ScriptId::new("calc").unwrap()];
        assert_eq!(e.proof_digest, Some(Sha256Digest::of(&bytes)));
        assert_eq!(e.test_run_id.as_deref(), Some("77"));
        assert_eq!(e.key_id.as_deref(), Some("k1"));
        assert_eq!(e.test_seed.as_ref().unwrap()["PYTHONHASHSEED"], "3");
    }

    #[test]
    fn two_different_proofs_of_one_script_are_refused_and_copies_are_one() {
        let a = input("calc", "a/proof-calc.json", proof_bytes("calc", "77"));
        let same = input("calc", "b/proof-calc.json", proof_bytes("calc", "77"));
        let other = input("calc", "c/proof-calc.json", proof_bytes("calc", "78"));
        assert_eq!(
            candidate(&[a.clone(), same], |_| Location::default())
                .unwrap()
                .scripts
                .len(),
            1
        );
        let e = candidate(&[a, other], |_| Location::default()).unwrap_err();
        assert!(matches!(e, UpdateError::TwoProofs { .. }), "{e}");
    }

    fn shard_bytes(id: &str, shard: &str, run: &str, attempt: &str) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(&proof_bytes(id, run)).unwrap();
        v["context"]["shard"] = shard.into();
        v["context"]["run_id"] = run.into();
        v["context"]["run_attempt"] = attempt.into();
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn shard_proofs_make_one_entry_sorted_by_shard_with_the_latest_attempt_of_each() {
        let b1 = shard_bytes("calc", "b", "77", "1");
        let b2 = shard_bytes("calc", "b", "77", "2");
        let a = shard_bytes("calc", "a", "77", "1");
        let lock = candidate(
            &[
                input("calc", "b2/proof-calc@b.json", b2.clone()),
                input("calc", "proof-calc@b.json", b1),
                input("calc", "proof-calc@a.json", a.clone()),
            ],
            |_| Location::default(),
        )
        .unwrap();
        let e = &lock.scripts[&ScriptId::new("calc").unwrap()];
        assert_eq!(e.proof_digest, None);
        let shards: Vec<(&str, Sha256Digest)> = e
            .shards
            .iter()
            .map(|s| (s.shard.as_str(), s.proof_digest))
            .collect();
        assert_eq!(
            shards,
            [("a", Sha256Digest::of(&a)), ("b", Sha256Digest::of(&b2))]
        );
        assert_eq!(e.pins().len(), 2);
        // What `candidate` makes, the lock reads back.
        assert_eq!(Lock::parse("x", lock.render().as_bytes()).unwrap(), lock);
    }

    #[test]
    fn two_proofs_of_one_shard_or_a_shard_beside_an_unsharded_proof_are_refused() {
        let cases = [
            // One attempt, two proofs.
            [
                shard_bytes("calc", "a", "77", "1"),
                shard_bytes("calc", "a", "77x", "1"),
            ],
            // Two runs.
            [
                shard_bytes("calc", "a", "77", "1"),
                shard_bytes("calc", "a", "78", "2"),
            ],
            // Sharded and unsharded.
            [
                proof_bytes("calc", "77"),
                shard_bytes("calc", "a", "77", "1"),
            ],
        ];
        for [x, y] in cases {
            let e = candidate(&[input("calc", "x", x), input("calc", "y", y)], |_| {
                Location::default()
            })
            .unwrap_err();
            assert!(matches!(e, UpdateError::TwoProofs { .. }), "{e}");
        }
    }

    #[test]
    fn an_unreadable_proof_is_an_error_not_a_skip() {
        let mut p = input("calc", "proof-calc.json", b"{".to_vec());
        assert!(candidate(&[p.clone()], |_| Location::default()).is_err());
        p.json = Err("permission denied".into());
        assert!(candidate(&[p], |_| Location::default()).is_err());
    }

    #[test]
    fn apply_locks_what_passed_keeps_what_had_no_proof_and_refuses_the_rest() {
        let proofs = [
            input("a", "proof-a.json", proof_bytes("a", "2")),
            input("c", "proof-c.json", proof_bytes("c", "2")),
        ];
        let cand = candidate(&proofs, |_| Location::default()).unwrap();
        let old = candidate(
            &[
                input("a", "proof-a.json", proof_bytes("a", "1")),
                input("b", "proof-b.json", proof_bytes("b", "1")),
                input("gone", "proof-gone.json", proof_bytes("gone", "1")),
            ],
            |_| Location::default(),
        )
        .unwrap();
        let r = report(vec![
            row("a", Reason::CiLocked),
            row("b", Reason::LockMissing),
            row("d", Reason::LockMissing),
            row("m", Reason::ManualOk),
            row("e", Reason::LintError),
        ]);
        let u = apply(&old, &cand, &r);
        assert!(!u.refused());
        let id = |s: &str| ScriptId::new(s).unwrap();
        assert_eq!(u.lock.scripts[&id("a")], cand.scripts[&id("a")]);
        assert_eq!(u.lock.scripts[&id("b")], old.scripts[&id("b")]);
        assert!(!u.lock.scripts.contains_key(&id("gone")));
        assert_eq!(u.changes["a"], Change::Locked);
        assert_eq!(u.changes["b"], Change::Kept);
        assert_eq!(u.changes["d"], Change::Missing);
        assert!(!u.changes.contains_key("m"));
        assert_eq!(u.changes["e"], Change::Missing);

        let r = report(vec![
            row("a", Reason::CiLocked),
            row("c", Reason::VerdictFail),
        ]);
        let u = apply(&old, &cand, &r);
        assert!(u.refused());
        assert!(matches!(
            u.changes["c"],
            Change::Refused {
                reason: Reason::VerdictFail,
                ..
            }
        ));
    }
}

//! `proofgate lock update`: a candidate lock is made from the proofs given (one per
//! script), the gate judges it exactly as `verify --release --lock` will, and only the
//! entries the gate let through are written. A failing, unsigned, untrusted or stale
//! proof is refused, never locked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::file::{Location, Lock, LockEntry};
use crate::digest::Sha256Digest;
use crate::model::ScriptId;
use crate::proof::record::Proof;
use crate::verify::locked::seeds_of;
use crate::verify::{ProofInput, Reason, Report};

/// Why a candidate lock could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Two different proofs for one script: a lock pins one.
    #[error(
        "`{first}` and `{second}` are two different proofs of `{id}`; a lock pins one proof \
         per script: give `lock update` the proofs of one run (a sharded script cannot be \
         locked yet)"
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

/// The candidate entry of each script with a proof. The proof's claims are read
/// unauthenticated here: the gate checks every one of them before an entry is kept. A
/// proof that cannot be read is an error.
pub fn candidate(
    proofs: &[ProofInput],
    location: impl Fn(&ProofInput) -> Location,
) -> Result<Lock, UpdateError> {
    let mut lock = Lock::new();
    let mut origin: BTreeMap<String, (&str, Sha256Digest)> = BTreeMap::new();
    for p in proofs {
        let unreadable = |detail: String| UpdateError::Unreadable {
            origin: p.origin.clone(),
            detail,
        };
        let bytes = p.json.as_ref().map_err(|e| unreadable(e.clone()))?;
        let id = ScriptId::new(&p.script_id).map_err(|e| unreadable(e.to_string()))?;
        let digest = Sha256Digest::of(bytes);
        if let Some((first, d)) = origin.get(&p.script_id) {
            if *d == digest {
                continue;
            }
            return Err(UpdateError::TwoProofs {
                id: p.script_id.clone(),
                first: (*first).to_owned(),
                second: p.origin.clone(),
            });
        }
        origin.insert(p.script_id.clone(), (&p.origin, digest));
        let proof = serde_json::from_slice::<Proof>(bytes)
            .map_err(|e| unreadable(format!("it is not a proofgate proof: {e}")))?;
        let seeds = seeds_of(bytes);
        lock.scripts.insert(
            id,
            LockEntry {
                source_hash: proof.script_digest,
                tests_hash: proof.tests_digest,
                test_seed: (!seeds.is_empty()).then_some(seeds),
                test_result: proof.verdict,
                test_run_id: proof.ci_run_id.clone(),
                proof_digest: digest,
                location: location(p),
                key_id: p
                    .dsse
                    .as_ref()
                    .and_then(|e| e.as_ref().ok())
                    .and_then(|e| signer(e)),
            },
        );
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
            (Reason::LockMissing, None) if lock.scripts.contains_key(&id) => Change::Kept,
            (Reason::LockMissing, None) => Change::Missing,
            // Not a script that needs CI evidence: nothing to lock.
            (r, None) if r.passes() => continue,
            (reason, _) => Change::Refused {
                reason,
                message: row.message.clone(),
            },
        };
        changes.insert(row.id.clone(), change);
    }
    Updated { lock, changes }
}

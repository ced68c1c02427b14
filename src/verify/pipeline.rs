//! The gate from files to report: the model at the commit under test (and at the base,
//! when a change is judged), the trusted keys, the checkout's digests and the proofs on
//! disk, handed to the pure [`super::gate::evaluate`]. `proofgate verify` and
//! `proofgate demo` both run it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::base::BaseTree;
use super::gate::{Evidence, GateInput, GatePolicy, GateScript, evaluate, required_evidence};
use super::keys::TrustedKeys;
use super::load::{self, LoadError};
use super::locked::{LockEvidence, LockPin, PinnedSource};
use super::report::{PolicySource, Report};
use super::stricter;
use super::view::{self, BadTrustedKey};
use crate::model::{Finding, Model, ModelError};

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyRequest<'a> {
    /// The checkout of the commit under test.
    pub root: &'a Path,
    /// Its `proofgate.yaml` (or the file `--config` names).
    pub config: &'a Path,
    /// Whether the configuration must exist (it was named explicitly).
    pub config_required: bool,
    /// The base's tree, when a change is judged against its base.
    pub base: Option<&'a BaseTree>,
    /// Keys trusted in addition to the policy's (`--trusted-key`, the Action's input).
    pub extra_keys: &'a [crate::sign::PublicKey],
    /// Require signatures whatever the policy says (`--require-signatures`).
    pub force_signatures: bool,
    /// Where the proofs are (searched recursively).
    pub proofs: &'a Path,
    /// The commit under test.
    pub commit: Option<&'a str>,
    /// The repository under test (`owner/name`).
    pub repository: Option<&'a str>,
    /// Apply release rules.
    pub release: bool,
    /// The time to judge ages against.
    pub now: DateTime<Utc>,
    /// Judge `ci` scripts on the proofs a lock pins (`verify --release --lock`) instead
    /// of the proofs under `proofs`, which is then not read.
    pub lock: Option<LockRequest<'a>>,
}

/// The lock the gate judges `ci` scripts on, and where its pinned proofs are retrieved.
#[derive(Clone, Copy)]
pub struct LockRequest<'a> {
    /// The lock's entries by script id: one pin per proof (per shard).
    pub pins: &'a BTreeMap<String, Vec<LockPin>>,
    /// Retrieves a pinned proof.
    pub source: &'a (dyn PinnedSource + Sync),
}

impl std::fmt::Debug for LockRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockRequest")
            .field("pins", &self.pins.len())
            .finish_non_exhaustive()
    }
}

/// The report, and the lint findings of the commit under test (for display).
#[derive(Debug)]
pub struct Verified {
    /// The gate's report.
    pub report: Report,
    /// Every lint finding (errors are already in the report as gate errors).
    pub findings: Vec<Finding>,
}

/// Why the gate could not run. Every variant but the load failures that are I/O is a usage
/// or configuration problem (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The model at the commit under test could not be read.
    #[error(transparent)]
    Model(ModelError),
    /// The model at the base could not be read.
    #[error("the base commit `{commit}`'s configuration is unusable: {source}")]
    BaseModel {
        /// The base commit.
        commit: String,
        /// Why.
        #[source]
        source: ModelError,
    },
    /// A trusted key is malformed.
    #[error("{0}")]
    BadKey(#[from] BadTrustedKey),
    /// Signatures are required and no key is trusted.
    #[error(
        "no key is trusted, so no proof can be authenticated: add the public key of your \
         CI signing key to `trusted_keys` in `{config}` (at the base, for a pull request) or \
         pass it with `--trusted-key` (the Action's `trusted-keys` input); or, to gate on \
         unsigned proofs, say `policy: {{signatures: none}}` in `{config}`"
    )]
    NoTrustedKey {
        /// The configuration file named in the message.
        config: String,
    },
    /// A CI proof may be needed and there is no commit to check it against.
    #[error(
        "no commit to check proofs against: pass `--commit SHA`, set `GITHUB_SHA`, or run \
         inside a git checkout"
    )]
    NoCommit,
    /// The proofs or the checkout could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl VerifyError {
    /// Whether the problem is usage, configuration or input (exit 2) rather than I/O
    /// (exit 3).
    pub fn is_usage(&self) -> bool {
        match self {
            VerifyError::Model(ModelError::Io { .. }) => false,
            VerifyError::Load(LoadError::NoProofsDir(_) | LoadError::TestPath { .. }) => true,
            VerifyError::Load(_) => false,
            _ => true,
        }
    }
}

/// The configuration file at the base: the same path relative to the root, or the same
/// file when it lies outside the repository (where the change cannot edit it).
fn base_config(req: &VerifyRequest<'_>, base: &BaseTree) -> PathBuf {
    match req.config.strip_prefix(req.root) {
        Ok(rel) => base.root().join(rel),
        Err(_) if req.config.is_relative() => base.root().join(req.config),
        Err(_) => req.config.to_path_buf(),
    }
}

/// The scripts, policy, keys and where they came from.
struct Effective {
    scripts: Vec<GateScript>,
    policy: GatePolicy,
    keys: TrustedKeys,
    source: PolicySource,
    lint_errors: Vec<String>,
    findings: Vec<Finding>,
}

fn effective(req: &VerifyRequest<'_>) -> Result<Effective, VerifyError> {
    let (head, findings) =
        Model::load(req.root, req.config, req.config_required).map_err(VerifyError::Model)?;
    let (head_scripts, lint_errors) = view::scripts(&head, &findings);
    let head_policy = view::policy(&head, req.force_signatures);
    let extra = req.extra_keys.to_vec();
    let (scripts, mut policy, keys, source) = match req.base {
        None => {
            let keys = view::trusted_keys(&head, extra)?;
            let source = PolicySource {
                from: "head",
                base_commit: None,
                trusted_keys: keys.len(),
                downgrades: Vec::new(),
            };
            (head_scripts, head_policy, keys, source)
        }
        Some(b) => {
            let (base, _) =
                Model::load(&b.root(), &base_config(req, b), false).map_err(|source| {
                    VerifyError::BaseModel {
                        commit: b.commit.clone(),
                        source,
                    }
                })?;
            let (base_scripts, _) = view::scripts(&base, &[]);
            let (policy, downgrades) = stricter::policy(&view::policy(&base, false), &head_policy);
            let scripts =
                stricter::scripts(head_scripts, &base_scripts, |p| req.root.join(p).is_file());
            let keys = view::trusted_keys(&base, extra)?;
            let source = PolicySource {
                from: "base",
                base_commit: Some(b.commit.clone()),
                trusted_keys: keys.len(),
                downgrades,
            };
            (scripts, policy, keys, source)
        }
    };
    policy.require_signatures |= req.force_signatures;
    Ok(Effective {
        scripts,
        policy,
        keys,
        source,
        lint_errors,
        findings,
    })
}

/// Retrieves the pinned proof of every script that needs CI evidence and whose entry
/// still matches the checkout (a stale entry is denied without a retrieval).
fn retrieve_pinned(
    l: &LockRequest<'_>,
    e: &Effective,
    facts: &HashMap<String, super::gate::CheckoutFacts>,
    release: bool,
) -> LockEvidence {
    let wanted: Vec<(&String, &Vec<LockPin>)> = e
        .scripts
        .iter()
        .filter(|s| required_evidence(s, &e.policy, release) == Some(Evidence::Ci))
        .filter_map(|s| {
            let pins = l.pins.get(&s.id)?;
            let f = facts.get(&s.id)?;
            pins.iter()
                .all(|pin| super::locked::stale(s, f, pin).is_none())
                .then_some((&s.id, pins))
        })
        .collect();
    let fetched = crate::par::par_map(
        &wanted,
        crate::par::threads_for(wanted.len(), 64),
        |(id, pins)| {
            let got: Vec<Result<super::ProofInput, String>> =
                pins.iter().map(|pin| l.source.fetch(id, pin)).collect();
            let commit = got
                .iter()
                .find_map(|p| super::locked::claimed_commit(p.as_ref().ok()?));
            let listed = l.source.run_proofs(id, pins, commit.as_deref());
            ((*id).clone(), (got, listed))
        },
    );
    let mut evidence = LockEvidence {
        pins: l.pins.clone(),
        ..LockEvidence::default()
    };
    for (id, (got, listed)) in fetched {
        evidence.fetched.insert(id.clone(), got);
        evidence.listed.insert(id, listed);
    }
    evidence
}

/// Runs the gate.
pub fn verify(req: &VerifyRequest<'_>) -> Result<Verified, VerifyError> {
    let e = effective(req)?;
    if e.policy.require_signatures && e.keys.is_empty() {
        let config = crate::fsutil::repo_relative(req.root, req.config);
        return Err(VerifyError::NoTrustedKey { config });
    }
    let needs_commit = e
        .scripts
        .iter()
        .any(|s| required_evidence(s, &e.policy, req.release) == Some(Evidence::Ci));
    if req.commit.is_none() && needs_commit && req.lock.is_none() {
        return Err(VerifyError::NoCommit);
    }
    let facts = load::checkout_facts(req.root, &e.scripts)?;
    let (proofs, lock) = match &req.lock {
        None => (load::read_proofs(req.proofs)?, None),
        Some(l) => (
            Vec::new(),
            Some(retrieve_pinned(l, &e, &facts, req.release)),
        ),
    };
    let report = evaluate(&GateInput {
        scripts: &e.scripts,
        policy: &e.policy,
        facts: &facts,
        proofs: &proofs,
        verifier: &e.keys,
        commit: req.commit,
        repository: req.repository,
        release: req.release,
        now: req.now,
        policy_source: &e.source,
        lint_errors: &e.lint_errors,
        lock: lock.as_ref(),
    });
    Ok(Verified {
        report,
        findings: e.findings,
    })
}

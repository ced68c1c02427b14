//! The gate's report: one row per script, the reason codes, counts and the overall
//! verdict. Its JSON form is a stable interface described by
//! `schemas/verify-report.schema.json`.

use serde::Serialize;

/// The version of the JSON report's shape.
pub const REPORT_SCHEMA_VERSION: &str = "2";

/// Why a script passed or failed the gate. The `SCREAMING_SNAKE_CASE` name is the
/// stable code shown in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Pass: a signed (when required) PASS proof for this commit matching the checkout.
    CiProof,
    /// Pass: a PASS proof from an earlier commit whose script and tests are unchanged.
    CiReused,
    /// Pass (`verify --lock`): the PASS proof `proofgate.lock` pins for the script,
    /// retrieved, authenticated and matching the checkout.
    CiLocked,
    /// Pass: `declared` evidence and every declared test file exists.
    DeclaredOk,
    /// Pass: `manual` evidence where the risk policy allows it.
    ManualOk,
    /// No proof for the script.
    ProofMissing,
    /// The proof file could not be read or is not a proof.
    ProofUnreadable,
    /// The proof names another script.
    ProofIdMismatch,
    /// Signatures are required and the proof has no envelope.
    SignatureMissing,
    /// The envelope's signature does not verify (or the envelope is malformed).
    SignatureInvalid,
    /// The envelope is signed by a key that is not trusted.
    KeyUntrusted,
    /// The signed statement does not match the proof (other script, other digest, or
    /// the proof file changed after signing).
    StatementMismatch,
    /// The script in the checkout differs from the one the proof was made for.
    ScriptDigestMismatch,
    /// The script named by the model is not in the checkout.
    ScriptMissing,
    /// The test files in the checkout differ from the ones the proof was made with.
    TestsDigestMismatch,
    /// A declared test file does not exist in the checkout.
    TestFileMissing,
    /// A declared test file produced no results in the proof.
    TestFileNoResults,
    /// The proof is older than the policy's `max_age`.
    ProofStale,
    /// The proof's verdict is `FAIL`.
    VerdictFail,
    /// The proof was made for another commit (and reuse does not apply).
    CommitMismatch,
    /// `manual` evidence where the risk policy forbids it.
    ManualNotAllowed,
    /// The script declares no evidence level.
    EvidenceUndeclared,
    /// The script's header (or its entry in `proofgate.yaml`) has a lint error.
    LintError,
    /// One producer (run, job, shard, attempt) left two different proofs for the script.
    ProofConflict,
    /// The proof was made in another repository.
    RepositoryMismatch,
    /// The proof says it was generated in the future.
    ProofFromFuture,
    /// The proof passed, but a test in it passed only on a retry, and the policy says
    /// `flaky: deny`.
    FlakyDenied,
    /// `verify --lock`: the lock has no entry for a script that needs CI evidence.
    LockMissing,
    /// `verify --lock`: the script or its test files changed since the lock was written.
    LockStale,
    /// `verify --lock`: the proof retrieved is not the one the lock describes (another
    /// digest, verdict, run, signer or seed), or the lock points somewhere it may not.
    LockMismatch,
    /// `verify --lock`: the pinned run made a proof of the script that the lock does not
    /// pin (a shard or leg left out of the lock).
    LockIncomplete,
}

impl Reason {
    /// `true` for the codes that let a script through.
    pub fn passes(self) -> bool {
        matches!(
            self,
            Reason::CiProof
                | Reason::CiReused
                | Reason::CiLocked
                | Reason::DeclaredOk
                | Reason::ManualOk
        )
    }

    /// The stable code, e.g. `PROOF_MISSING`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::CiProof => "CI_PROOF",
            Reason::CiReused => "CI_REUSED",
            Reason::CiLocked => "CI_LOCKED",
            Reason::DeclaredOk => "DECLARED_OK",
            Reason::ManualOk => "MANUAL_OK",
            Reason::ProofMissing => "PROOF_MISSING",
            Reason::ProofUnreadable => "PROOF_UNREADABLE",
            Reason::ProofIdMismatch => "PROOF_ID_MISMATCH",
            Reason::SignatureMissing => "SIGNATURE_MISSING",
            Reason::SignatureInvalid => "SIGNATURE_INVALID",
            Reason::KeyUntrusted => "KEY_UNTRUSTED",
            Reason::StatementMismatch => "STATEMENT_MISMATCH",
            Reason::ScriptDigestMismatch => "SCRIPT_DIGEST_MISMATCH",
            Reason::ScriptMissing => "SCRIPT_MISSING",
            Reason::TestsDigestMismatch => "TESTS_DIGEST_MISMATCH",
            Reason::TestFileMissing => "TEST_FILE_MISSING",
            Reason::TestFileNoResults => "TEST_FILE_NO_RESULTS",
            Reason::ProofStale => "PROOF_STALE",
            Reason::VerdictFail => "VERDICT_FAIL",
            Reason::CommitMismatch => "COMMIT_MISMATCH",
            Reason::ManualNotAllowed => "MANUAL_NOT_ALLOWED",
            Reason::EvidenceUndeclared => "EVIDENCE_UNDECLARED",
            Reason::LintError => "LINT_ERROR",
            Reason::ProofConflict => "PROOF_CONFLICT",
            Reason::RepositoryMismatch => "REPOSITORY_MISMATCH",
            Reason::ProofFromFuture => "PROOF_FROM_FUTURE",
            Reason::FlakyDenied => "FLAKY_DENIED",
            Reason::LockMissing => "LOCK_MISSING",
            Reason::LockStale => "LOCK_STALE",
            Reason::LockMismatch => "LOCK_MISMATCH",
            Reason::LockIncomplete => "LOCK_INCOMPLETE",
        }
    }

    /// Every code, in documentation order.
    pub const ALL: [Reason; 31] = [
        Reason::CiProof,
        Reason::CiReused,
        Reason::CiLocked,
        Reason::DeclaredOk,
        Reason::ManualOk,
        Reason::ProofMissing,
        Reason::ProofUnreadable,
        Reason::ProofIdMismatch,
        Reason::SignatureMissing,
        Reason::SignatureInvalid,
        Reason::KeyUntrusted,
        Reason::StatementMismatch,
        Reason::ScriptDigestMismatch,
        Reason::ScriptMissing,
        Reason::TestsDigestMismatch,
        Reason::TestFileMissing,
        Reason::TestFileNoResults,
        Reason::ProofStale,
        Reason::VerdictFail,
        Reason::CommitMismatch,
        Reason::ManualNotAllowed,
        Reason::EvidenceUndeclared,
        Reason::LintError,
        Reason::ProofConflict,
        Reason::RepositoryMismatch,
        Reason::ProofFromFuture,
        Reason::FlakyDenied,
        Reason::LockMissing,
        Reason::LockStale,
        Reason::LockMismatch,
        Reason::LockIncomplete,
    ];
}

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let through.
    Pass,
    /// Denied.
    Fail,
}

impl Verdict {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// The proof a script's row is based on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofRef {
    /// Where the proof was read from.
    pub file: String,
    /// The proof's `commit_sha`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The proof's `generated_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// The key id of the verified signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    /// Set when the proof was made for an earlier commit and reused because the script
    /// and test digests are unchanged.
    pub reused: bool,
    /// Who made it: `run <id> attempt <n>, job <job>, shard <shard>` as far as the proof
    /// records them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
}

/// One script's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptReport {
    /// Script id.
    pub id: String,
    /// Repository-relative script path.
    pub path: String,
    /// Line of the header, for annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The evidence level the header declares (`ci`, `declared`, `manual`), if any.
    pub evidence: Option<String>,
    /// The evidence level the gate required (differs under `--release`).
    pub required_evidence: Option<String>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// The reason code.
    pub reason: Reason,
    /// A sentence a person can act on.
    pub message: String,
    /// The proof that decided the row (the failing one, or the first passing one), if
    /// any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProofRef>,
    /// Every proof the row combined (the latest attempt of each producer), when more
    /// than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub combined: Vec<ProofRef>,
    /// Where the change under test loosened this script's header or policy; the stricter
    /// value (the base's) was applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downgrades: Vec<String>,
    /// What passed but deserves a look (flaky tests under `policy.flaky: warn`); shown as
    /// warning annotations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Whether proofs had to be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signatures {
    /// Every proof needs a valid signature from a trusted key.
    Required,
    /// The base policy says `signatures: none`: proofs are not authenticated.
    None,
}

/// The policy the gate applied and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySource {
    /// `base` when the change was judged by its base commit's policy, `head` when by its
    /// own (a push, a run outside a change).
    pub from: &'static str,
    /// The base commit, when `from` is `base`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// How many trusted keys were in force.
    pub trusted_keys: usize,
    /// Where the change loosened the policy (`proofgate.yaml`); the base's value applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downgrades: Vec<String>,
}

/// A proof whose script id is not in the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownProof {
    /// Where it was read from.
    pub file: String,
    /// The id taken from its file name.
    pub script_id: String,
}

/// Tallies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Scripts in the model.
    pub scripts: usize,
    /// Scripts that passed.
    pub passed: usize,
    /// Scripts that failed.
    pub failed: usize,
    /// Passed on a CI proof (including reused ones).
    pub ci: usize,
    /// Passed on a reused proof.
    pub reused: usize,
    /// Passed on declared evidence.
    pub declared: usize,
    /// Passed on manual evidence.
    pub manual: usize,
    /// Proofs for scripts not in the model.
    pub unknown_proofs: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: &'static str,
    /// `pass` only if every script passed.
    pub verdict: Verdict,
    /// The commit under test.
    pub commit: Option<String>,
    /// Whether release rules applied.
    pub release: bool,
    /// Whether signatures were required (`signatures == "required"`).
    pub signatures_required: bool,
    /// `required` or `none`.
    pub signatures: Signatures,
    /// The policy applied and where it came from.
    pub policy: PolicySource,
    /// Lint errors that belong to no script (a header that does not parse, a bad
    /// `proofgate.yaml` entry): each fails the gate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lint_errors: Vec<String>,
    /// When the gate ran (RFC 3339).
    pub checked_at: String,
    /// Tallies.
    pub counts: Counts,
    /// One row per script, failures first, then by id.
    pub scripts: Vec<ScriptReport>,
    /// Proofs for scripts not in the model (reported, not denied).
    pub unknown_proofs: Vec<UnknownProof>,
}

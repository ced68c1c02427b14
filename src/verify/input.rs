//! What the gate decides on: the scripts as it sees them, the policy, the checkout's
//! facts, the proofs as bytes, the signature verifier, and the outcome of one row before
//! it is dressed for the report. Plain values; the judging is in
//! [`gate`](super::gate), [`combine`](super::combine) and [`evidence`](super::evidence).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::report::{PolicySource, ProofRef, Reason};
use crate::digest::Sha256Digest;
use crate::model::{Evidence, FlakyPolicy, Impact};

/// What the gate needs to know about one script of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateScript {
    /// Script id.
    pub id: String,
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// Line of the header (for annotations).
    pub header_line: Option<u32>,
    /// The declared evidence level.
    pub evidence: Option<Evidence>,
    /// Maturity 0–3.
    pub maturity: Option<u8>,
    /// `risk_profile.production_impact`.
    pub production_impact: Option<Impact>,
    /// Declared test files (repository-relative, `/` separators).
    pub test_files: Vec<String>,
    /// Lint errors found in the script's header or configuration entry: each is a gate
    /// error.
    pub lint_errors: Vec<String>,
    /// Where the change under test loosened the script's header; the stricter (base)
    /// value is already applied to the fields above.
    pub downgrades: Vec<String>,
}

/// The policy knobs the gate applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePolicy {
    /// Signatures from a trusted key are required (unless the base policy says
    /// `signatures: none`).
    pub require_signatures: bool,
    /// Proofs older than this deny.
    pub max_age: Option<Duration>,
    /// A PASS proof from an earlier commit counts when script and tests digests are
    /// unchanged.
    pub reuse_same_content: bool,
    /// Production impacts for which `manual` evidence is forbidden.
    pub manual_forbidden_for: Vec<Impact>,
    /// Production impacts for which `ci` evidence is required whatever the header says.
    pub ci_required_for: Vec<Impact>,
    /// What a flaky test in a passing proof means: `deny` denies the script, `warn`
    /// passes it with a warning, `allow` passes it.
    pub flaky: FlakyPolicy,
}

impl Default for GatePolicy {
    fn default() -> Self {
        Self {
            require_signatures: true,
            max_age: None,
            reuse_same_content: false,
            manual_forbidden_for: vec![Impact::Medium, Impact::High],
            ci_required_for: vec![],
            flaky: FlakyPolicy::Warn,
        }
    }
}

/// What the checkout says about one script (read at the edge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutFacts {
    /// The script's digest; `None` when the file is not in the checkout.
    pub script_digest: Option<Sha256Digest>,
    /// The digest over the script's test files, as the proof generator computes it;
    /// `None` when it could not be computed (a test file is missing).
    pub tests_digest: Option<Sha256Digest>,
    /// Declared test files that do not exist.
    pub missing_test_files: Vec<String>,
}

/// One proof as found on disk or in an artifact: the raw bytes, never parsed before the
/// signature (when required) is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofInput {
    /// The script id from the file name (`proof-<ID>.json`).
    pub script_id: String,
    /// Where it came from (for the report).
    pub origin: String,
    /// The proof bytes, or why they could not be read.
    pub json: Result<Vec<u8>, String>,
    /// The envelope bytes (`proof-<ID>.dsse.json`), if present, or why it could not be
    /// read.
    pub dsse: Option<Result<Vec<u8>, String>>,
}

impl ProofInput {
    /// The envelope that belongs beside this proof (`….dsse.json`).
    pub fn envelope_name(&self) -> String {
        let stem = self.origin.strip_suffix(".json").unwrap_or(&self.origin);
        format!("{stem}.dsse.json")
    }
}

/// The payload of an envelope whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// The envelope's `payloadType` (covered by the signature).
    pub payload_type: String,
    /// The key id that signed it.
    pub keyid: String,
}

/// Why an envelope did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeFailure {
    /// Not a DSSE envelope, or the signature does not verify.
    Invalid(String),
    /// Signed only by keys that are not trusted.
    Untrusted(String),
}

/// Checks a DSSE envelope against the trusted keys.
pub trait EnvelopeVerifier {
    /// Verifies `envelope` (its JSON bytes) and returns the signed payload.
    fn verify(&self, envelope: &[u8]) -> Result<VerifiedEnvelope, EnvelopeFailure>;
}

/// Everything the gate decides on.
pub struct GateInput<'a> {
    /// The scripts of the model.
    pub scripts: &'a [GateScript],
    /// The policy.
    pub policy: &'a GatePolicy,
    /// Checkout facts by script id.
    pub facts: &'a HashMap<String, CheckoutFacts>,
    /// Every proof found (several per script when shards or runs overlap).
    pub proofs: &'a [ProofInput],
    /// Envelope verification against the trusted keys.
    pub verifier: &'a (dyn EnvelopeVerifier + Sync),
    /// The commit under test.
    pub commit: Option<&'a str>,
    /// The repository under test (`owner/name`): a proof that names another is denied.
    pub repository: Option<&'a str>,
    /// Apply release rules.
    pub release: bool,
    /// The time to judge ages against.
    pub now: DateTime<Utc>,
    /// Where the policy came from, for the report.
    pub policy_source: &'a PolicySource,
    /// Lint errors that belong to no script of the model: each fails the gate.
    pub lint_errors: &'a [String],
    /// `verify --lock`: `ci` scripts are judged on the proofs the lock pins, and
    /// `proofs` is not consulted for them.
    pub lock: Option<&'a super::locked::LockEvidence>,
}

/// A row's outcome before it is dressed as a [`ScriptReport`].
pub(super) struct Outcome {
    pub(super) reason: Reason,
    pub(super) message: String,
    pub(super) proof: Option<ProofRef>,
    pub(super) combined: Vec<ProofRef>,
    pub(super) warnings: Vec<String>,
}

impl Outcome {
    /// An outcome with `reason` (passing or not: [`Reason::passes`] decides).
    pub(super) fn new(reason: Reason, message: String, proof: Option<ProofRef>) -> Self {
        Self {
            reason,
            message,
            proof,
            combined: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Denies when a declared test file is not in the checkout (for `declared` and `ci`).
pub(super) fn missing_test_file(s: &GateScript, facts: &CheckoutFacts) -> Option<Outcome> {
    facts.missing_test_files.first().map(|missing| {
        Outcome::new(
            Reason::TestFileMissing,
            format!(
                "declared test file `{missing}` of `{}` does not exist; fix the header's \
                 `test.command` or add the file",
                s.path
            ),
            None,
        )
    })
}

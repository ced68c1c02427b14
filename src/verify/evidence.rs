//! One proof, authenticated and read: the signature first (when required), then the
//! signed bytes parsed into the same typed [`Proof`] that `generate` writes. Nothing in a
//! proof is believed before this step has passed.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::input::{EnvelopeFailure, GateInput, GateScript, Outcome, ProofInput, VerifiedEnvelope};
use super::report::{ProofRef, Reason};
use crate::digest::Sha256Digest;
use crate::proof::record::{Proof, READABLE_SCHEMA_VERSIONS};
use crate::sign::intoto;

/// How far in the future a proof's `generated_at` may lie (clock skew between runners).
pub const FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A proof that passed authentication and parsing; not yet judged.
#[derive(Debug, Clone)]
pub(super) struct Accepted {
    /// The proof.
    pub proof: Proof,
    /// SHA-256 of the proof file's bytes (equal proofs from two places are one).
    pub digest: Sha256Digest,
    /// Where it came from, for the report.
    pub pref: ProofRef,
}

impl Accepted {
    /// Whether the proof was made for the commit under test.
    pub fn same_commit(&self, commit: Option<&str>) -> bool {
        match (commit, self.proof.commit_sha.as_deref()) {
            (Some(c), Some(pc)) => c.eq_ignore_ascii_case(pc),
            _ => false,
        }
    }
}

/// The digest a statement writes as `sha256:<hex>` or bare hex.
fn parse_digest(v: Option<&Value>) -> Option<Sha256Digest> {
    let s = v?.as_str()?;
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    Sha256Digest::from_hex(hex).ok()
}

/// The proof-file digest carried in the statement's `proofgate` extension
/// (`predicate.proofgate.proof.digest`).
fn statement_proof_digest(stmt: &Value) -> Option<Sha256Digest> {
    let ext = stmt.get("predicate")?.get("proofgate")?;
    parse_digest(ext.get("proof")?.get("digest"))
}

/// `run <id> attempt <n>, job <job>, shard <shard>`, as far as the proof records them.
pub(super) fn producer_label(p: &Proof) -> Option<String> {
    let c = &p.context;
    let mut parts = Vec::new();
    if let Some(r) = &c.run_id {
        parts.push(match &c.run_attempt {
            Some(a) => format!("run {r} attempt {a}"),
            None => format!("run {r}"),
        });
    }
    if let Some(j) = &c.job {
        parts.push(format!("job {j}"));
    }
    if let Some(s) = &c.shard {
        parts.push(format!("shard {s}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A denial that names the proof it is about.
fn deny(reason: Reason, message: String, pref: &ProofRef) -> Box<Outcome> {
    Box::new(Outcome::new(reason, message, Some(pref.clone())))
}

/// Authenticates and parses one proof of script `s`.
pub(super) fn accept(
    s: &GateScript,
    p: &ProofInput,
    input: &GateInput<'_>,
) -> Result<Accepted, Box<Outcome>> {
    let mut pref = ProofRef {
        file: p.origin.clone(),
        commit: None,
        generated_at: None,
        keyid: None,
        reused: false,
        producer: None,
    };
    let bytes = match &p.json {
        Ok(b) => b,
        Err(e) => {
            return Err(deny(
                Reason::ProofUnreadable,
                format!("proof `{}` could not be read: {e}", p.origin),
                &pref,
            ));
        }
    };
    let file_digest = Sha256Digest::of(bytes);

    // 1. The signature, before anything in the proof is believed.
    let subject_digest = if input.policy.require_signatures {
        let (keyid, digest) = authenticate(s, p, input, file_digest, &pref)?;
        pref.keyid = Some(keyid);
        digest
    } else {
        None
    };

    // 2. The (now authenticated) bytes, read as the proof `generate` writes. Duplicate
    //    keys and missing fields are errors, not last-wins.
    let proof: Proof = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(e) => {
            return Err(deny(
                Reason::ProofUnreadable,
                format!(
                    "`{}` is not a proofgate proof (line {}, column {}): {e}",
                    p.origin,
                    e.line(),
                    e.column()
                ),
                &pref,
            ));
        }
    };
    pref.commit = proof.commit_sha.clone();
    pref.generated_at = Some(proof.generated_at.clone());
    pref.producer = producer_label(&proof);
    check_claims(s, p, &proof, subject_digest, input, &pref)?;
    Ok(Accepted {
        proof,
        digest: file_digest,
        pref,
    })
}

/// Checks `p`'s envelope: present, signed by a trusted key, an in-toto Statement v1 of the
/// in-toto payload type, about `s`'s path, naming the proof file's digest. Returns the
/// signer's key id and the subject's script digest.
fn authenticate(
    s: &GateScript,
    p: &ProofInput,
    input: &GateInput<'_>,
    file_digest: Sha256Digest,
    pref: &ProofRef,
) -> Result<(String, Option<Sha256Digest>), Box<Outcome>> {
    let env = match &p.dsse {
        None => {
            return Err(deny(
                Reason::SignatureMissing,
                format!(
                    "signatures are required but `{}` has no envelope beside it \
                     (`{}`); give `proofgate generate` a key with `--signing-key-env VAR` \
                     or `--signing-key-file FILE`",
                    p.origin,
                    p.envelope_name()
                ),
                pref,
            ));
        }
        Some(Err(e)) => {
            return Err(deny(
                Reason::SignatureInvalid,
                format!("the envelope of `{}` could not be read: {e}", p.origin),
                pref,
            ));
        }
        Some(Ok(b)) => b,
    };
    let verified = match input.verifier.verify(env) {
        Ok(v) => v,
        Err(EnvelopeFailure::Invalid(why)) => {
            return Err(deny(
                Reason::SignatureInvalid,
                format!("the signature on `{}` does not verify: {why}", p.origin),
                pref,
            ));
        }
        Err(EnvelopeFailure::Untrusted(keyid)) => {
            return Err(deny(
                Reason::KeyUntrusted,
                format!(
                    "`{}` is signed by key `{keyid}`, which is not trusted; trusted keys \
                     come from the base's `proofgate.yaml` (`trusted_keys`) and \
                     `--trusted-key`",
                    p.origin
                ),
                pref,
            ));
        }
    };
    let subject_digest = check_statement(s, p, &verified, file_digest, pref)?;
    Ok((verified.keyid, subject_digest))
}

/// What the (authenticated) proof claims, checked against the script and the gate: a
/// known version, this script's id, the signed subject's digest, this repository, a time
/// that is not in the future.
fn check_claims(
    s: &GateScript,
    p: &ProofInput,
    proof: &Proof,
    subject_digest: Option<Sha256Digest>,
    input: &GateInput<'_>,
    pref: &ProofRef,
) -> Result<(), Box<Outcome>> {
    if !READABLE_SCHEMA_VERSIONS.contains(&proof.schema_version.as_str()) {
        return Err(deny(
            Reason::ProofUnreadable,
            format!(
                "`{}` has schema_version {:?}; this proofgate reads {}: regenerate it with \
                 this version",
                p.origin,
                proof.schema_version,
                READABLE_SCHEMA_VERSIONS.join(", ")
            ),
            pref,
        ));
    }
    if proof.script_id != s.id {
        return Err(deny(
            Reason::ProofIdMismatch,
            format!(
                "`{}` is named for `{}` but its `script_id` is `{}`",
                p.origin, s.id, proof.script_id
            ),
            pref,
        ));
    }
    if let Some(sd) = subject_digest
        && sd != proof.script_digest
    {
        return Err(deny(
            Reason::StatementMismatch,
            format!(
                "the signed statement of `{}` names script digest {sd}, the proof another",
                p.origin
            ),
            pref,
        ));
    }
    if let (Some(ours), Some(theirs)) = (input.repository, proof.context.repository.as_deref())
        && !ours.eq_ignore_ascii_case(theirs)
    {
        return Err(deny(
            Reason::RepositoryMismatch,
            format!(
                "`{}` was made in repository `{theirs}`, not `{ours}`",
                p.origin
            ),
            pref,
        ));
    }
    let at = DateTime::parse_from_rfc3339(&proof.generated_at).map(|d| d.with_timezone(&Utc));
    match at {
        Err(_) => {
            return Err(deny(
                Reason::ProofUnreadable,
                format!(
                    "`{}` has a `generated_at` that is not an RFC 3339 time: {:?}",
                    p.origin, proof.generated_at
                ),
                pref,
            ));
        }
        Ok(t) if t > input.now + FUTURE_SKEW => {
            return Err(deny(
                Reason::ProofFromFuture,
                format!(
                    "`{}` says it was generated at {}, later than now ({}); check the \
                     generating runner's clock",
                    p.origin,
                    proof.generated_at,
                    input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                pref,
            ));
        }
        Ok(_) => {}
    }
    Ok(())
}

/// The signed payload: an in-toto Statement v1 of the in-toto payload type, about `s`'s
/// path, naming the proof file's digest. Returns the subject's script digest.
fn check_statement(
    s: &GateScript,
    p: &ProofInput,
    verified: &VerifiedEnvelope,
    file_digest: Sha256Digest,
    pref: &ProofRef,
) -> Result<Option<Sha256Digest>, Box<Outcome>> {
    if verified.payload_type != intoto::PAYLOAD_TYPE {
        return Err(deny(
            Reason::StatementMismatch,
            format!(
                "the envelope of `{}` carries payload type {:?}, not {:?}",
                p.origin,
                verified.payload_type,
                intoto::PAYLOAD_TYPE
            ),
            pref,
        ));
    }
    let stmt: Value = match serde_json::from_slice(&verified.payload) {
        Ok(v) => v,
        Err(e) => {
            return Err(deny(
                Reason::StatementMismatch,
                format!("the signed payload of `{}` is not JSON: {e}", p.origin),
                pref,
            ));
        }
    };
    if stmt.get("_type").and_then(Value::as_str) != Some(intoto::STATEMENT_TYPE) {
        return Err(deny(
            Reason::StatementMismatch,
            format!(
                "the signed payload of `{}` is not an in-toto Statement v1",
                p.origin
            ),
            pref,
        ));
    }
    if statement_proof_digest(&stmt) != Some(file_digest) {
        return Err(deny(
            Reason::StatementMismatch,
            format!(
                "`{}` is not the proof that was signed (its sha256 is {file_digest}); \
                 it was changed after signing",
                p.origin
            ),
            pref,
        ));
    }
    let subject = stmt
        .get("subject")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let subject_name = subject.and_then(|x| x.get("name")).and_then(Value::as_str);
    if subject_name != Some(s.path.as_str()) {
        return Err(deny(
            Reason::StatementMismatch,
            format!(
                "the signed statement of `{}` is about `{}`, not `{}`",
                p.origin,
                subject_name.unwrap_or("nothing"),
                s.path
            ),
            pref,
        ));
    }
    Ok(parse_digest(
        subject
            .and_then(|x| x.get("digest"))
            .and_then(|d| d.get("sha256")),
    ))
}

/// What [`accept_published`] found wrong with a proof: the gate's reason code and a
/// sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The gate's reason code.
    pub reason: Reason,
    /// What is wrong, naming the proof.
    pub message: String,
}

/// Authenticates one proof outside a checkout, the way the gate does (signature, payload
/// type, statement binding, claims), for a store that keeps it: the script is the one
/// the proof's file name and signed statement name, since there is no model to ask.
/// The path read from the unauthenticated bytes is only an expectation: the signed
/// statement must name it and must bind the proof file's digest. Returns the proof and
/// the id of the key that signed it.
pub fn accept_published(
    p: &ProofInput,
    verifier: &(dyn super::input::EnvelopeVerifier + Sync),
    require_signatures: bool,
    now: DateTime<Utc>,
) -> Result<(Proof, Option<String>), Refused> {
    #[derive(serde::Deserialize)]
    struct PathOnly {
        script_path: String,
    }
    let path = p
        .json
        .as_ref()
        .ok()
        .and_then(|b| serde_json::from_slice::<PathOnly>(b).ok())
        .map(|x| x.script_path)
        .unwrap_or_default();
    let script = GateScript {
        id: p.script_id.clone(),
        path,
        header_line: None,
        evidence: None,
        maturity: None,
        production_impact: None,
        test_files: Vec::new(),
        lint_errors: Vec::new(),
        downgrades: Vec::new(),
    };
    let policy = super::input::GatePolicy {
        require_signatures,
        ..Default::default()
    };
    let facts = std::collections::HashMap::new();
    let policy_source = super::report::PolicySource {
        from: "store",
        base_commit: None,
        trusted_keys: 0,
        downgrades: Vec::new(),
    };
    let input = GateInput {
        scripts: std::slice::from_ref(&script),
        policy: &policy,
        facts: &facts,
        proofs: std::slice::from_ref(p),
        verifier,
        commit: None,
        repository: None,
        release: false,
        now,
        policy_source: &policy_source,
        lint_errors: &[],
        lock: None,
    };
    accept(&script, p, &input)
        .map(|a| (a.proof, a.pref.keyid))
        .map_err(|o| Refused {
            reason: o.reason,
            message: o.message,
        })
}

//! The publish body and its check. `proofgate publish` sends the files `run` or
//! `generate` wrote; the server keeps them only after [`check`] has verified every
//! envelope against the tenant's trusted keys (the gate's own code:
//! [`crate::verify::evidence::accept_published`]), the signed bundle
//! and the ledger chain. A pure function of the files, the keys and the clock.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bundle::{ledger, run as bundle_run};
use crate::digest::Sha256Digest;
use crate::proof::record::{Proof, Verdict};
use crate::sign::PublicKey;
use crate::verify::ProofInput;
use crate::verify::evidence::accept_published;
use crate::verify::keys::TrustedKeys;

/// The body of `POST /api/runs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The files, each once.
    pub files: Vec<WireFile>,
}

/// One file of a published run, its bytes in base64 (standard alphabet, padded).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireFile {
    /// Its name in the proofs directory (one plain component).
    pub name: String,
    /// Its bytes, base64.
    pub content: String,
}

/// The files of a run kept besides proofs and their envelopes.
pub const RUN_FILES: [&str; 5] = [
    "bundle.json",
    "bundle.dsse.json",
    "manifest.json",
    "ledger.jsonl",
    "summary.md",
];

/// Whether `name` is a file a run may carry.
pub fn is_run_file(name: &str) -> bool {
    RUN_FILES.contains(&name) || proof_name(name).is_some() || envelope_of(name).is_some()
}

/// `Some(id)` for `proof-<ID>[@SHARD].json` with a valid script id.
fn proof_name(name: &str) -> Option<&str> {
    crate::verify::load::proof_id_of(name).filter(|id| crate::model::ScriptId::is_valid(id))
}

/// `Some(proof file)` for `proof-<ID>[@SHARD].dsse.json`.
fn envelope_of(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".dsse.json")?;
    let proof = format!("{stem}.json");
    proof_name(&proof).is_some().then_some(proof)
}

/// Why an upload is refused: the HTTP status class and a reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// `true` for a malformed request (400), `false` for evidence that does not verify (422).
    #[serde(skip)]
    pub malformed: bool,
    /// The gate's reason code (`SIGNATURE_INVALID`, `KEY_UNTRUSTED` …), a ledger break
    /// reason (`CHAIN_MISMATCH` …) or `BAD_UPLOAD`.
    pub reason: String,
    /// What is wrong.
    pub message: String,
}

impl Refusal {
    fn malformed(message: impl Into<String>) -> Self {
        Self {
            malformed: true,
            reason: "BAD_UPLOAD".to_owned(),
            message: message.into(),
        }
    }

    fn evidence(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            malformed: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// One proof of a checked run, with what the store indexes.
#[derive(Debug, Clone)]
pub struct CheckedProof {
    /// The proof file's name.
    pub file: String,
    /// The authenticated proof.
    pub proof: Proof,
    /// SHA-256 of the proof file.
    pub digest: Sha256Digest,
    /// The signer's key id.
    pub keyid: String,
}

/// A run whose evidence verified: ready to store.
#[derive(Debug, Clone)]
pub struct CheckedRun {
    /// The content-addressed run id (the same files give the same id).
    pub id: String,
    /// Every file by name, bytes as published.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The proofs, by file name.
    pub proofs: Vec<CheckedProof>,
    /// The run's facts, for listing.
    pub summary: RunSummary,
}

/// What a run list shows about a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `owner/name`.
    pub repository: Option<String>,
    /// The commit the proofs were made for.
    pub commit: Option<String>,
    /// The branch (from the ref).
    pub branch: Option<String>,
    /// The CI run's URL.
    pub run_url: Option<String>,
    /// `PASS` when every proof passed, else `FAIL`.
    pub verdict: String,
    /// Proofs in the run.
    pub proofs: i64,
    /// Proofs that passed.
    pub passed: i64,
    /// Proofs that failed.
    pub failed: i64,
    /// Tests counted over all proofs.
    pub tests: i64,
}

/// The most files one run may carry.
pub const MAX_FILES: usize = 50_000;

/// Decodes a JSON body into files: base64 valid, then [`collect`]'s checks.
pub fn decode(body: PublishBody) -> Result<BTreeMap<String, Vec<u8>>, Refusal> {
    check_count(body.files.len())?;
    let mut files = Vec::with_capacity(body.files.len());
    for f in body.files {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(f.content.as_bytes())
            .map_err(|e| {
                Refusal::malformed(format!("`{}` is not base64: {e}", f.name.escape_debug()))
            })?;
        files.push((f.name, bytes));
    }
    collect(files)
}

/// Decodes a binary body ([`wire`](super::wire)) into files, then [`collect`]'s checks.
pub fn decode_wire(body: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, Refusal> {
    let files = super::wire::decode(body, MAX_FILES + 1)
        .map_err(|e| Refusal::malformed(format!("the body is not a file list: {e}")))?;
    check_count(files.len())?;
    collect(
        files
            .into_iter()
            .map(|(name, content)| (name.to_owned(), content.to_vec())),
    )
}

fn check_count(n: usize) -> Result<(), Refusal> {
    if n > MAX_FILES {
        return Err(Refusal::malformed(format!(
            "an upload carries at most {MAX_FILES} files, this one {n}"
        )));
    }
    Ok(())
}

/// The files of an upload, whatever the body kind: every name one a run carries, each
/// once.
pub fn collect(
    files: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<BTreeMap<String, Vec<u8>>, Refusal> {
    let mut out = BTreeMap::new();
    for (name, bytes) in files {
        if !is_run_file(&name) {
            return Err(Refusal::malformed(format!(
                "`{}` is not a file a run carries (proof-<ID>.json, proof-<ID>.dsse.json, {})",
                name.escape_debug(),
                RUN_FILES.join(", ")
            )));
        }
        match out.entry(name) {
            std::collections::btree_map::Entry::Occupied(e) => {
                return Err(Refusal::malformed(format!("`{}` appears twice", e.key())));
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(bytes);
            }
        }
    }
    Ok(out)
}

/// The run id of a set of files: SHA-256 over their sorted names and digests, 32 hex
/// digits.
pub fn run_id(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut text = String::new();
    for (name, bytes) in files {
        text.push_str(name);
        text.push('\0');
        text.push_str(&Sha256Digest::of(bytes).hex());
        text.push('\n');
    }
    Sha256Digest::of(text.as_bytes()).hex()[..32].to_owned()
}

/// Checks a run's evidence against the tenant's trusted keys. Signatures are always
/// required: the store is a trust root for the release gate.
pub fn check(
    files: BTreeMap<String, Vec<u8>>,
    keys: &[PublicKey],
    now: DateTime<Utc>,
) -> Result<CheckedRun, Refusal> {
    let trusted = TrustedKeys::new(keys.to_vec());
    let mut inputs = Vec::new();
    for (name, bytes) in &files {
        if let Some(proof_file) = envelope_of(name)
            && !files.contains_key(&proof_file)
        {
            return Err(Refusal::malformed(format!(
                "`{name}` is an envelope without its proof `{proof_file}`"
            )));
        }
        let Some(id) = proof_name(name) else { continue };
        let input = ProofInput {
            script_id: id.to_owned(),
            origin: name.clone(),
            json: Ok(bytes.clone()),
            dsse: None,
        };
        inputs.push(ProofInput {
            dsse: files.get(&input.envelope_name()).cloned().map(Ok),
            ..input
        });
    }
    // Signatures dominate: both cores, results in file order (the first refusal in that
    // order is the one reported).
    let threads = crate::par::threads_for(inputs.len(), 64);
    let checked = crate::par::par_map(&inputs, threads, |input| {
        accept_published(input, &trusted, true, now)
            .map(|(proof, keyid)| CheckedProof {
                file: input.origin.clone(),
                digest: Sha256Digest::of(input.json.as_deref().unwrap_or_default()),
                proof,
                keyid: keyid.unwrap_or_default(),
            })
            .map_err(|r| Refusal::evidence(reason_code(&r.reason), r.message))
    });
    let proofs = checked.into_iter().collect::<Result<Vec<_>, _>>()?;
    if proofs.is_empty() {
        return Err(Refusal::malformed(
            "the upload carries no proof (proof-<ID>.json)",
        ));
    }
    check_bundle(&files, &trusted, &proofs)?;
    if let Some(l) = files.get("ledger.jsonl") {
        let report = ledger::verify(l.as_slice(), keys, None)
            .map_err(|e| Refusal::malformed(format!("`ledger.jsonl` could not be read: {e}")))?;
        if !report.is_verified() {
            let code = report
                .reason
                .map(|r| reason_code(&r))
                .unwrap_or_else(|| "LEDGER_BROKEN".to_owned());
            return Err(Refusal::evidence(
                code,
                format!(
                    "`ledger.jsonl` is BROKEN: {}",
                    report.message.unwrap_or_default()
                ),
            ));
        }
    }
    let summary = summarise(&files, &proofs);
    Ok(CheckedRun {
        id: run_id(&files),
        files,
        proofs,
        summary,
    })
}

/// A reason's `SCREAMING_SNAKE_CASE` code.
fn reason_code<T: Serialize>(r: &T) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UNKNOWN".to_owned())
}

/// The bundle, when present, must be signed by a trusted key, and every proof it lists
/// must be in the upload with the digest it names.
fn check_bundle(
    files: &BTreeMap<String, Vec<u8>>,
    trusted: &TrustedKeys,
    proofs: &[CheckedProof],
) -> Result<(), Refusal> {
    use crate::verify::{EnvelopeFailure, EnvelopeVerifier as _};
    let Some(bundle) = files.get("bundle.json") else {
        if files.contains_key("bundle.dsse.json") {
            return Err(Refusal::malformed(
                "`bundle.dsse.json` without `bundle.json`",
            ));
        }
        return Ok(());
    };
    let Some(env) = files.get("bundle.dsse.json") else {
        return Err(Refusal::evidence(
            "SIGNATURE_MISSING",
            "`bundle.json` has no envelope (`bundle.dsse.json`); `proofgate run` signs it when given a key",
        ));
    };
    let v = trusted.verify(env).map_err(|e| match e {
        EnvelopeFailure::Invalid(why) => Refusal::evidence(
            "SIGNATURE_INVALID",
            format!("the signature on `bundle.json` does not verify: {why}"),
        ),
        EnvelopeFailure::Untrusted(k) => Refusal::evidence(
            "KEY_UNTRUSTED",
            format!("`bundle.json` is signed by key `{k}`, which the tenant does not trust"),
        ),
    })?;
    if v.payload_type != bundle_run::BUNDLE_PAYLOAD_TYPE || v.payload != *bundle {
        return Err(Refusal::evidence(
            "STATEMENT_MISMATCH",
            "`bundle.json` is not the bundle that was signed: it was changed after signing",
        ));
    }
    #[derive(Deserialize)]
    struct Listed {
        #[serde(default)]
        proofs: Vec<bundle_run::ProofRef>,
    }
    let listed: Listed = serde_json::from_slice(bundle)
        .map_err(|e| Refusal::malformed(format!("`bundle.json` is not a run bundle: {e}")))?;
    for p in &listed.proofs {
        let file = p.path.rsplit('/').next().unwrap_or(&p.path);
        match proofs.iter().find(|c| c.file == file) {
            None => {
                return Err(Refusal::evidence(
                    "PROOF_MISSING",
                    format!("the bundle lists `{file}`, which the upload does not carry"),
                ));
            }
            Some(c) if c.digest != p.digest => {
                return Err(Refusal::evidence(
                    "STATEMENT_MISMATCH",
                    format!(
                        "the bundle names {} for `{file}`, the upload carries {}",
                        p.digest, c.digest
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The branch a ref names (`refs/heads/x` → `x`).
fn branch_of(git_ref: &str) -> Option<String> {
    git_ref.strip_prefix("refs/heads/").map(str::to_owned)
}

/// The run's facts from its (authenticated) proofs and bundle.
fn summarise(files: &BTreeMap<String, Vec<u8>>, proofs: &[CheckedProof]) -> RunSummary {
    #[derive(Deserialize, Default)]
    struct Git {
        #[serde(default)]
        head_sha: Option<String>,
    }
    #[derive(Deserialize, Default)]
    struct Bundle {
        #[serde(default)]
        git: Option<Git>,
    }
    let bundle: Bundle = files
        .get("bundle.json")
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let first = proofs.first().map(|p| &p.proof);
    let ctx = first.map(|p| &p.context);
    let passed = proofs
        .iter()
        .filter(|p| p.proof.verdict == Verdict::Pass)
        .count() as i64;
    let total = proofs.len() as i64;
    RunSummary {
        repository: ctx.and_then(|c| c.repository.clone()),
        commit: first
            .and_then(|p| p.commit_sha.clone())
            .or_else(|| bundle.git.as_ref().and_then(|g| g.head_sha.clone())),
        branch: ctx.and_then(|c| c.git_ref.as_deref()).and_then(branch_of),
        run_url: ctx.and_then(|c| c.run_url.clone()),
        verdict: if passed == total { "PASS" } else { "FAIL" }.to_owned(),
        proofs: total,
        passed,
        failed: total - passed,
        tests: proofs
            .iter()
            .map(|p| p.proof.test_summary.total as i64)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        names
            .iter()
            .map(|(n, c)| ((*n).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn run_files_are_recognised_and_others_are_not() {
        for ok in [
            "bundle.json",
            "ledger.jsonl",
            "proof-a.json",
            "proof-a.dsse.json",
            "proof-a@1.json",
        ] {
            assert!(is_run_file(ok), "{ok}");
        }
        for bad in [
            "../bundle.json",
            "x.json",
            "proof-.json",
            "proof-a/b.json",
            "",
        ] {
            assert!(!is_run_file(bad), "{bad}");
        }
    }

    #[test]
    fn the_same_files_give_the_same_run_id_and_other_files_another() {
        let a = files(&[("proof-a.json", "1"), ("bundle.json", "2")]);
        let b = files(&[("bundle.json", "2"), ("proof-a.json", "1")]);
        let c = files(&[("proof-a.json", "1"), ("bundle.json", "3")]);
        assert_eq!(run_id(&a), run_id(&b));
        assert_ne!(run_id(&a), run_id(&c));
        assert_eq!(run_id(&a).len(), 32);
    }

    #[test]
    fn an_unknown_file_name_is_refused_as_malformed() {
        let body = PublishBody {
            files: vec![WireFile {
                name: "../../etc/passwd".into(),
                content: String::new(),
            }],
        };
        let r = decode(body).unwrap_err();
        assert!(r.malformed);
        assert_eq!(r.reason, "BAD_UPLOAD");
    }

    #[test]
    fn an_unsigned_proof_is_refused_with_signature_missing() {
        let f = files(&[("proof-a.json", "{}")]);
        let r = check(f, &[], Utc::now()).unwrap_err();
        assert!(!r.malformed);
        assert_eq!(r.reason, "SIGNATURE_MISSING");
    }

    #[test]
    fn an_upload_without_proofs_is_refused() {
        let f = files(&[("summary.md", "hi")]);
        assert!(check(f, &[], Utc::now()).unwrap_err().malformed);
    }
}

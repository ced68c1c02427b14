//! The release gate on a lock (`verify --release --lock`): a `ci` script passes on the
//! proof `proofgate.lock` pins for it (one per shard of a script whose tests run in
//! shards), whatever commit made it, when the script and its test files are the ones
//! locked, and each proof retrieved is exactly the pinned one (by digest) and passes every
//! check a proof passes in [`combine`]: signed by a key the gate trusts, `PASS`, about this
//! script and these digests, within the allowed age; a sharded script's proofs must be one
//! per shard from one run, and together give results for every declared test file.
//! Every proof of the script that the pinned run made (the latest attempt of each leg,
//! as the places the run is kept list them) must be pinned: a failing shard left out of
//! the lock is seen even when the other shards cover every test file.
//!
//! The lock is written by the change's author, so it is a claim, never a credential: it
//! can name a proof, but only the gate's own keys, the checkout's digests and the bytes
//! retrieved decide. A script without an entry is denied, never skipped.
//!
//! [`combine`]: super::combine

use std::collections::{BTreeMap, HashMap};

use super::combine::{check_one, coverage_gap, latest_per_producer, warn_flaky};
use super::evidence::{Accepted, accept};
use super::input::{CheckoutFacts, GateInput, GateScript, Outcome, ProofInput, missing_test_file};
use super::report::Reason;
use crate::digest::Sha256Digest;
use crate::proof::record::Verdict as ProofVerdict;

/// What the lock says about one script, as the gate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockPin {
    /// The script's digest when it was locked (the proof's `script_digest`).
    pub source_hash: Sha256Digest,
    /// The digest over its test files when it was locked (the proof's `tests_digest`).
    pub tests_hash: Sha256Digest,
    /// SHA-256 of the pinned proof file's bytes.
    pub proof_digest: Sha256Digest,
    /// The pinned proof's verdict.
    pub test_result: ProofVerdict,
    /// The pinned proof's CI run id.
    pub test_run_id: Option<String>,
    /// The key id of the pinned proof's signature.
    pub key_id: Option<String>,
    /// The pinned proof's seeds (`context.seeds`), `None` when it records none.
    pub test_seed: Option<BTreeMap<String, String>>,
    /// The shard the pinned proof is of (its `context.shard`), for a sharded script.
    pub shard: Option<String>,
}

/// Retrieves the proof a lock pins (from a store, an artifact, a directory): the proof
/// file whose SHA-256 is `pin.proof_digest`, with its envelope. `Err` says where it
/// looked and why nothing was found there.
pub trait PinnedSource {
    /// The pinned proof of script `id`.
    fn fetch(&self, id: &str, pin: &LockPin) -> Result<ProofInput, String>;

    /// Every proof of script `id` that the places holding the run `pins` came from can
    /// list (a proofs directory, the store's runs of this script and of `commit`, the
    /// pinned run's artifacts): the candidates for the run's other proofs of the script,
    /// which the gate authenticates before they count. `commit` is the one the retrieved
    /// pinned proof records (not yet authenticated: it only widens where to look). `Err`
    /// when no place could list any, saying why.
    fn run_proofs(
        &self,
        id: &str,
        pins: &[LockPin],
        commit: Option<&str>,
    ) -> Result<Vec<ProofInput>, String>;
}

/// The lock as the gate judges it: the pins by script id (one per proof, several for a
/// sharded script) and, for each script the gate asked for, what retrieving each of its
/// pinned proofs gave (in the order of its pins).
#[derive(Debug, Clone, Default)]
pub struct LockEvidence {
    /// The lock's entries.
    pub pins: BTreeMap<String, Vec<LockPin>>,
    /// The proofs retrieved, by script id, one per pin.
    pub fetched: HashMap<String, Vec<Result<ProofInput, String>>>,
    /// The proofs of each script listed in the places its pinned run is kept
    /// ([`PinnedSource::run_proofs`]), or why none could be listed.
    pub listed: HashMap<String, Result<Vec<ProofInput>, String>>,
}

/// Why a pin does not match the checkout, if it does not: `None` when both digests are
/// the locked ones. The sentence names which digest changed.
pub fn stale(s: &GateScript, facts: &CheckoutFacts, pin: &LockPin) -> Option<String> {
    let show = |d: Option<Sha256Digest>| d.map_or_else(|| "nothing".to_owned(), |d| d.to_string());
    if facts.script_digest != Some(pin.source_hash) {
        return Some(format!(
            "`{}` changed since it was locked: `source_hash` is {}, the checkout has {}; \
             run its tests and `proofgate lock update`",
            s.path,
            pin.source_hash,
            show(facts.script_digest)
        ));
    }
    if facts.tests_digest != Some(pin.tests_hash) {
        return Some(format!(
            "the test files of `{}` changed since it was locked: `tests_hash` is {}, the \
             checkout has {}; run its tests and `proofgate lock update`",
            s.path,
            pin.tests_hash,
            show(facts.tests_digest)
        ));
    }
    None
}

/// Judges a `ci` script on the proofs the lock pins for it: each must be exactly the
/// pinned one and pass on its own, a sharded script's proofs must be one of each shard
/// the lock names from one run, and together they must cover every declared test file.
pub(super) fn judge(
    s: &GateScript,
    facts: &CheckoutFacts,
    lock: &LockEvidence,
    input: &GateInput<'_>,
) -> Outcome {
    let found = match pinned(s, facts, lock) {
        Ok(found) => found,
        Err(o) => return *o,
    };
    let mut kept: Vec<(&LockPin, Accepted)> = Vec::with_capacity(found.len());
    for (pin, p) in found {
        let a = match accept(s, p, input) {
            Ok(a) => a,
            Err(o) => return *o,
        };
        if let Some(o) = judge_pin(s, facts, pin, &a, input) {
            return o;
        }
        kept.push((pin, a));
    }
    if let Some(o) = one_producer_set(s, &kept) {
        return o;
    }
    if let Some(o) = unpinned_proof(s, &kept, lock, input) {
        return o;
    }
    let accepted: Vec<Accepted> = kept.iter().map(|(_, a)| a.clone()).collect();
    if let Some((reason, message)) = coverage_gap(s, &accepted) {
        let mut o = Outcome::new(reason, message, Some(accepted[0].pref.clone()));
        if accepted.len() > 1 {
            o.combined = accepted.iter().map(|a| a.pref.clone()).collect();
        }
        return o;
    }
    passing(kept[0].0, &accepted, input)
}

/// Why one authenticated proof does not stand for its pin, if it does not.
fn judge_pin(
    s: &GateScript,
    facts: &CheckoutFacts,
    pin: &LockPin,
    a: &Accepted,
    input: &GateInput<'_>,
) -> Option<Outcome> {
    if a.digest != pin.proof_digest {
        return Some(Outcome::new(
            Reason::LockMismatch,
            format!(
                "`{}` has sha256 {}, not the lock's `proof_digest` {}",
                a.pref.file, a.digest, pin.proof_digest
            ),
            Some(a.pref.clone()),
        ));
    }
    if let Some((reason, message)) = check_one(s, facts, a, input) {
        return Some(Outcome::new(reason, message, Some(a.pref.clone())));
    }
    if let Some(field) = disagreement(pin, a, input.policy.require_signatures) {
        return Some(Outcome::new(
            Reason::LockMismatch,
            format!(
                "the lock's `{field}` for `{}` is not what `{}` records; run `proofgate lock \
                 update` rather than editing the lock",
                s.id, a.pref.file
            ),
            Some(a.pref.clone()),
        ));
    }
    None
}

/// Why a sharded script's proofs are not one producer set, if they are not: each
/// shard once, all made by one run for one commit.
fn one_producer_set(s: &GateScript, kept: &[(&LockPin, Accepted)]) -> Option<Outcome> {
    let [(_, first), rest @ ..] = kept else {
        return None;
    };
    for (i, (pin, a)) in kept.iter().enumerate() {
        if kept[..i].iter().any(|(p, _)| p.shard == pin.shard) {
            return Some(Outcome::new(
                Reason::LockMismatch,
                format!(
                    "the lock pins two proofs of `{}` for shard `{}`; the gate combines one \
                     proof per shard: run `proofgate lock update`",
                    s.id,
                    pin.shard.as_deref().unwrap_or("none")
                ),
                Some(a.pref.clone()),
            ));
        }
    }
    let run = |a: &Accepted| (a.proof.commit_sha.clone(), a.proof.context.run_id.clone());
    if let Some((_, a)) = rest.iter().find(|(_, a)| run(a) != run(first)) {
        return Some(Outcome::new(
            Reason::LockMismatch,
            format!(
                "the shards the lock pins for `{}` come from different runs: `{}` ({}) and \
                 `{}` ({}); lock the shard proofs of one run",
                s.id,
                first.pref.file,
                first.pref.producer.as_deref().unwrap_or("no run recorded"),
                a.pref.file,
                a.pref.producer.as_deref().unwrap_or("no run recorded")
            ),
            Some(a.pref.clone()),
        ));
    }
    None
}

/// The run a proof was made by, as it records it: its commit and CI run id.
type RunKey = (Option<String>, Option<String>);

fn run_of(a: &Accepted) -> RunKey {
    (a.proof.commit_sha.clone(), a.proof.context.run_id.clone())
}

/// The commit an unauthenticated proof claims to be of, if its bytes say.
pub fn claimed_commit(p: &ProofInput) -> Option<String> {
    claimed_run(p)?.0
}

/// The run an unauthenticated proof claims to be of, if its bytes say.
fn claimed_run(p: &ProofInput) -> Option<RunKey> {
    #[derive(serde::Deserialize)]
    struct Context {
        run_id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Claim {
        commit_sha: Option<String>,
        context: Option<Context>,
    }
    let bytes = p.json.as_ref().ok()?;
    let c: Claim = serde_json::from_slice(bytes).ok()?;
    Some((c.commit_sha, c.context.and_then(|c| c.run_id)))
}

/// Why the pinned proofs are not every proof of the script in their run, if they are
/// not: each proof of the script the pinned run made (the latest attempt of each leg)
/// must be one the lock pins, so that leaving a failing shard's proof out of the lock
/// does not hide it. A listed proof that claims the pinned run must authenticate; one
/// that authenticates as another run's is not looked at.
fn unpinned_proof(
    s: &GateScript,
    kept: &[(&LockPin, Accepted)],
    lock: &LockEvidence,
    input: &GateInput<'_>,
) -> Option<Outcome> {
    let (_, first) = kept.first()?;
    let run = run_of(first);
    let shown_run = first
        .proof
        .context
        .run_id
        .as_deref()
        .map_or_else(|| "the pinned run".to_owned(), |r| format!("run {r}"));
    let listed = match lock.listed.get(&s.id) {
        Some(Ok(listed)) => listed,
        other => {
            let why = match other {
                Some(Err(why)) => format!(": {why}"),
                _ => String::new(),
            };
            return Some(Outcome::new(
                Reason::ProofMissing,
                format!(
                    "the other proofs of `{}` in {shown_run} could not be listed{why}; every                      proof of the run must be seen before its pinned ones stand for it: pass                      `--server URL` or `--proofs DIR` holding the run's proofs",
                    s.path
                ),
                Some(first.pref.clone()),
            ));
        }
    };
    let mut seen: std::collections::HashSet<Sha256Digest> =
        kept.iter().map(|(_, a)| a.digest).collect();
    let mut same_run: Vec<Accepted> = kept.iter().map(|(_, a)| a.clone()).collect();
    for p in listed {
        if p.json
            .as_ref()
            .is_ok_and(|b| seen.contains(&Sha256Digest::of(b)))
        {
            continue;
        }
        match accept(s, p, input) {
            Ok(a) => {
                if run_of(&a) == run && seen.insert(a.digest) {
                    same_run.push(a);
                }
            }
            Err(o) => {
                if claimed_run(p).is_some_and(|c| c != run) {
                    continue;
                }
                let mut o = *o;
                o.message = format!(
                    "{} (it is listed beside the proofs the lock pins and claims their run,                      so it must authenticate)",
                    o.message
                );
                return Some(o);
            }
        }
    }
    let latest = match latest_per_producer(same_run) {
        Ok(l) => l,
        Err(o) => return Some(*o),
    };
    let pinned: std::collections::HashSet<Sha256Digest> =
        kept.iter().map(|(_, a)| a.digest).collect();
    let a = latest.iter().find(|a| !pinned.contains(&a.digest))?;
    let shard = a
        .proof
        .context
        .shard
        .as_deref()
        .map_or_else(|| "no shard".to_owned(), |sh| format!("shard `{sh}`"));
    let verdict = a.proof.verdict.as_str();
    Some(Outcome::new(
        Reason::LockIncomplete,
        format!(
            "{shown_run} has a proof of `{}` the lock does not pin: `{}` ({shard}, {verdict});              the lock must pin every proof of the script its run made (the latest attempt of              each leg): run `proofgate lock update`",
            s.id, a.pref.file
        ),
        Some(a.pref.clone()),
    ))
}

/// The script's pins and the proof retrieved for each, when the script is in the
/// checkout, has an entry, is the one locked and every pinned proof was found.
fn pinned<'l>(
    s: &GateScript,
    facts: &CheckoutFacts,
    lock: &'l LockEvidence,
) -> Result<Vec<(&'l LockPin, &'l ProofInput)>, Box<Outcome>> {
    let deny = |reason, message| Box::new(Outcome::new(reason, message, None));
    if facts.script_digest.is_none() {
        return Err(deny(
            Reason::ScriptMissing,
            format!("`{}` is not in the checkout", s.path),
        ));
    }
    if let Some(o) = missing_test_file(s, facts) {
        return Err(Box::new(o));
    }
    let pins = match lock.pins.get(&s.id) {
        Some(pins) if !pins.is_empty() => pins,
        _ => {
            return Err(deny(
                Reason::LockMissing,
                format!(
                    "the lock has no entry for `{}` (`{}`), which needs CI evidence; run its \
                     tests and `proofgate lock update`",
                    s.id, s.path
                ),
            ));
        }
    };
    if let Some(why) = pins.iter().find_map(|pin| stale(s, facts, pin)) {
        return Err(deny(Reason::LockStale, why));
    }
    let fetched = lock.fetched.get(&s.id);
    let mut out = Vec::with_capacity(pins.len());
    for (i, pin) in pins.iter().enumerate() {
        let of = pin
            .shard
            .as_deref()
            .map(|sh| format!(" shard `{sh}`"))
            .unwrap_or_default();
        match fetched.and_then(|f| f.get(i)) {
            Some(Ok(p)) => out.push((pin, p)),
            Some(Err(why)) => {
                return Err(deny(
                    Reason::ProofMissing,
                    format!(
                        "the proof the lock pins for `{}`{of} ({}) could not be retrieved: {why}",
                        s.path, pin.proof_digest
                    ),
                ));
            }
            None => {
                return Err(deny(
                    Reason::ProofMissing,
                    format!(
                        "the proof the lock pins for `{}`{of} ({}) was not retrieved",
                        s.path, pin.proof_digest
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The passing outcome: which run, who signed, reused when another commit made it.
fn passing(pin: &LockPin, kept: &[Accepted], input: &GateInput<'_>) -> Outcome {
    let a = &kept[0];
    let mut pref = a.pref.clone();
    pref.reused = !a.same_commit(input.commit);
    let signed = pref
        .keyid
        .as_deref()
        .map(|k| format!(", signed by `{k}`"))
        .unwrap_or_default();
    let run = pin
        .test_run_id
        .as_deref()
        .map(|r| format!(" of run {r}"))
        .unwrap_or_default();
    let what = if kept.len() > 1 {
        format!("the {} PASS shard proofs", kept.len())
    } else {
        "the PASS proof".to_owned()
    };
    let mut o = Outcome::new(
        Reason::CiLocked,
        format!("{what}{run} pinned by the lock{signed}: script and tests are the ones locked"),
        Some(pref),
    );
    if kept.len() > 1 {
        o.combined = kept
            .iter()
            .map(|a| {
                let mut p = a.pref.clone();
                p.reused = !a.same_commit(input.commit);
                p
            })
            .collect();
    }
    warn_flaky(&mut o, kept, input);
    o
}

/// The first field of the pin that the (authenticated) proof contradicts.
fn disagreement(pin: &LockPin, a: &Accepted, signed: bool) -> Option<&'static str> {
    let proof = &a.proof;
    if pin.test_result != proof.verdict {
        return Some("test_result");
    }
    if pin.test_run_id != proof.ci_run_id {
        return Some("test_run_id");
    }
    // An unsharded pin may name a shard's proof that alone covers every test file.
    if pin.shard.is_some() && pin.shard != proof.context.shard {
        return Some("shard");
    }
    if signed && pin.key_id != a.pref.keyid {
        return Some("key_id");
    }
    let none = BTreeMap::new();
    if pin.test_seed.as_ref().unwrap_or(&none) != &proof.context.seeds {
        return Some("test_seed");
    }
    None
}

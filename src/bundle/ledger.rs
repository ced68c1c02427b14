//! The ledger: an append-only JSON Lines file of signed events (`GENERATE`, `UPLOAD`,
//! `VERIFY`, `RELEASE`), hash-chained so that deleting, reordering, duplicating or editing
//! an event is detected.
//!
//! Every line is a DSSE envelope (payload type [`PAYLOAD_TYPE`]) whose payload is a
//! [`LedgerEvent`]: `sequence` (1, 2, 3 …), `prev_hash`, `timestamp`, `ledger_id`, the
//! digests the event vouches for, and optional attributes. The signature covers all of
//! it, the chain link included, so a signed event cannot be moved to another place in the
//! chain or to another ledger.
//!
//! - `prev_hash` of the first event is the genesis hash
//!   `SHA-256("proofgate/ledger-genesis/v1" ‖ 0x00 ‖ ledger_id)`;
//! - `prev_hash` of every later event is the link hash of the line before it:
//!   `SHA-256("proofgate/ledger-link/v1" ‖ 0x00 ‖ JCS(envelope))`, where `JCS` is the RFC
//!   8785 canonical form of the line's JSON (so whitespace does not matter, any other
//!   change does, the signature included);
//! - the head (`root_hash` in a report) is the link hash of the last event: pin it
//!   elsewhere (a run bundle, a release note) to detect the loss of the newest events.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::{Sha256Digest, jcs};
use crate::sign::dsse::{self, Envelope};
use crate::sign::{PublicKey, SignError, SigningKey};

/// The DSSE payload type of a ledger event.
pub const PAYLOAD_TYPE: &str = "application/vnd.proofgate.ledger-event+json";

/// The event format version written by this build.
pub const EVENT_FORMAT_VERSION: u32 = 1;

const GENESIS_TAG: &[u8] = b"proofgate/ledger-genesis/v1\0";
const LINK_TAG: &[u8] = b"proofgate/ledger-link/v1\0";

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventKind {
    /// Proofs were generated.
    Generate,
    /// Proofs were uploaded.
    Upload,
    /// The gate verified proofs.
    Verify,
    /// A release was cut on the strength of the proofs.
    Release,
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Generate => "GENERATE",
            Self::Upload => "UPLOAD",
            Self::Verify => "VERIFY",
            Self::Release => "RELEASE",
        })
    }
}

impl std::str::FromStr for EventKind {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "GENERATE" => Ok(Self::Generate),
            "UPLOAD" => Ok(Self::Upload),
            "VERIFY" => Ok(Self::Verify),
            "RELEASE" => Ok(Self::Release),
            _ => Err(LedgerError::BadEventKind(s.to_owned())),
        }
    }
}

/// One event: the signed payload of a ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEvent {
    /// Format version, currently `1`.
    pub format_version: u32,
    /// The ledger this event belongs to.
    pub ledger_id: String,
    /// 1 for the first event, then contiguous.
    pub sequence: u64,
    /// The genesis hash (first event) or the link hash of the previous line.
    pub prev_hash: Sha256Digest,
    /// When the event was appended (RFC 3339, UTC).
    pub timestamp: String,
    /// What happened.
    pub event: EventKind,
    /// The digests this event vouches for (proofs, bundles, artifacts).
    pub digests: Vec<Sha256Digest>,
    /// Free-form context (commit, run id …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// Why the ledger is broken at some line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakReason {
    /// The line is not a complete DSSE envelope (truncated, blank, or not JSON).
    MalformedLine,
    /// The event is signed only by keys that are not trusted.
    UnknownKey,
    /// The signature is malformed or names no key, and verifies under no trusted key.
    BadSignature,
    /// A trusted key's signature does not match the event: it was edited after signing.
    TamperedEvent,
    /// The envelope's payload type is not a ledger event.
    WrongPayloadType,
    /// The event belongs to another ledger.
    LedgerMismatch,
    /// An event is missing: the sequence jumps.
    Gap,
    /// Events are out of order.
    Reorder,
    /// An event appears twice.
    Duplicate,
    /// `prev_hash` does not match the line before: that line was altered or replaced.
    ChainMismatch,
    /// The head differs from the one the caller pinned (events lost at the end).
    HeadMismatch,
}

/// The result of [`verify`]; field names follow DESIGN.md §2.6.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerReport {
    /// Always `HASH_CHAIN`.
    pub integrity_model: &'static str,
    /// `VERIFIED` or `BROKEN`.
    pub verification_status: &'static str,
    /// The ledger's id (from its first event), if any event could be read.
    pub ledger_id: Option<String>,
    /// Events verified in order from the genesis.
    pub chain_length: u64,
    /// Lines in the file.
    pub line_count: usize,
    /// The head: the link hash of the last verified event (the genesis hash when there
    /// is none yet but the ledger id is known).
    pub root_hash: Option<Sha256Digest>,
    /// Ids of the keys that signed the verified events.
    pub signers: Vec<String>,
    /// The sequence number at which the chain breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_sequence: Option<u64>,
    /// The 1-based line at which the chain breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_line: Option<usize>,
    /// Why it breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<BreakReason>,
    /// A sentence saying what is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl LedgerReport {
    /// `true` when the chain verified.
    pub fn is_verified(&self) -> bool {
        self.reason.is_none()
    }
}

/// Errors opening or appending to a ledger (verification findings are a
/// [`LedgerReport`], not errors).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger file could not be read or written.
    #[error("cannot access ledger `{path}`: {source}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An unknown `--event` kind.
    #[error("`{0}` is not an event kind (expected GENERATE, UPLOAD, VERIFY or RELEASE)")]
    BadEventKind(String),
    /// A ledger id with characters outside `[A-Za-z0-9._-]` or too long.
    #[error("ledger id `{0}` must match `^[A-Za-z0-9][A-Za-z0-9._-]{{0,127}}$`")]
    BadLedgerId(String),
    /// The caller asked for a ledger id that differs from the file's.
    #[error("ledger `{path}` has id `{found}`, not `{wanted}`")]
    IdMismatch {
        /// The ledger file.
        path: PathBuf,
        /// The id in the file.
        found: String,
        /// The id asked for.
        wanted: String,
    },
    /// The existing chain is broken, so nothing may be appended to it.
    #[error("ledger `{path}` is broken at line {line}: {message}")]
    Broken {
        /// The ledger file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The event could not be serialised.
    #[error("cannot encode the event: {0}")]
    Encode(String),
    /// A random ledger id could not be drawn.
    #[error("cannot draw a random ledger id")]
    Random,
    /// Another append held the lock for longer than an append waits.
    #[error(
        "ledger `{}` is locked by another append (`{}` exists); if no append is running, remove that file",
        path.display(),
        lock.display()
    )]
    Locked {
        /// The ledger file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
}

/// How long an append waits for another one to finish.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// An exclusive lock on a ledger: the file `<ledger>.lock`, created with `O_EXCL`
/// (`create_new`) and removed when dropped. Every append holds it from reading the chain's
/// head to writing the new line, so two appends never link to the same head.
#[derive(Debug)]
struct LedgerLock {
    path: PathBuf,
}

impl LedgerLock {
    fn acquire(ledger: &Path, wait: std::time::Duration) -> Result<Self, LedgerError> {
        let mut name = ledger.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(mut f) => {
                    // Who holds it, for a person looking at a stale lock.
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Self { path: lock });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if start.elapsed() >= wait {
                        return Err(LedgerError::Locked {
                            path: ledger.to_owned(),
                            lock,
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(50));
                }
                Err(source) => {
                    return Err(LedgerError::Io { path: lock, source });
                }
            }
        }
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the file holds now: its id (none while empty), its length and its head. A
/// broken chain is an error.
fn chain_state(path: &Path) -> Result<(Option<String>, u64, Option<Sha256Digest>), LedgerError> {
    let io_err = |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    };
    let lines = match std::fs::File::open(path) {
        Ok(f) => read_lines(io::BufReader::new(f)).map_err(io_err)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(e)),
    };
    let report = check(&lines, None, None);
    if let (Some(line), Some(message)) = (report.first_bad_line, report.message) {
        return Err(LedgerError::Broken {
            path: path.to_owned(),
            line,
            message,
        });
    }
    Ok((report.ledger_id, report.chain_length, report.root_hash))
}

/// Checks a ledger id against `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`.
pub fn validate_ledger_id(id: &str) -> Result<(), LedgerError> {
    let b = id.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(LedgerError::BadLedgerId(id.to_owned()))
    }
}

/// `SHA-256("proofgate/ledger-genesis/v1" ‖ 0x00 ‖ ledger_id)`.
pub fn genesis_hash(ledger_id: &str) -> Sha256Digest {
    Sha256Digest::tagged(GENESIS_TAG, &[ledger_id.as_bytes()])
}

/// `SHA-256("proofgate/ledger-link/v1" ‖ 0x00 ‖ JCS(line))` of one line's JSON value.
pub fn link_hash(line: &serde_json::Value) -> Result<Sha256Digest, String> {
    let canonical = jcs::to_vec(line).map_err(|e| e.to_string())?;
    Ok(Sha256Digest::tagged(LINK_TAG, &[&canonical]))
}

/// What one line turned out to be.
enum Line {
    Good {
        event: LedgerEvent,
        link: Sha256Digest,
        signer: Option<String>,
    },
    Bad {
        reason: BreakReason,
        message: String,
    },
}

fn bad(reason: BreakReason, message: impl Into<String>) -> Line {
    Line::Bad {
        reason,
        message: message.into(),
    }
}

/// Reads one line. With `trusted`, the signature is verified before the payload is
/// parsed; without, only the structure is read (for appending).
fn read_line(text: &[u8], lineno: usize, trusted: Option<&[PublicKey]>) -> Line {
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return bad(
            BreakReason::MalformedLine,
            format!("line {lineno} is blank"),
        );
    }
    let value: serde_json::Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            return bad(
                BreakReason::MalformedLine,
                format!("line {lineno} is not complete JSON (truncated?): {e}"),
            );
        }
    };
    let env: Envelope = match serde_json::from_value(value.clone()) {
        Ok(e) => e,
        Err(e) => {
            return bad(
                BreakReason::MalformedLine,
                format!("line {lineno} is not a DSSE envelope: {e}"),
            );
        }
    };
    let link = match link_hash(&value) {
        Ok(l) => l,
        Err(e) => {
            return bad(
                BreakReason::MalformedLine,
                format!("line {lineno} cannot be canonicalised: {e}"),
            );
        }
    };
    let (payload, signer) = match trusted {
        Some(keys) => match dsse::verify(&env, keys) {
            Ok(v) => {
                if v.payload_type != PAYLOAD_TYPE {
                    return bad(
                        BreakReason::WrongPayloadType,
                        format!(
                            "line {lineno} is a signed `{}`, not a ledger event",
                            v.payload_type
                        ),
                    );
                }
                (v.payload, Some(v.key_id.to_string()))
            }
            Err(e) => return signature_failure(&env, keys, lineno, &e),
        },
        None => match crate::sign::decode_base64(&env.payload) {
            Some(p) => (p, None),
            None => {
                return bad(
                    BreakReason::MalformedLine,
                    format!("line {lineno}: the payload is not base64"),
                );
            }
        },
    };
    if trusted.is_none() && env.payload_type != PAYLOAD_TYPE {
        return bad(
            BreakReason::WrongPayloadType,
            format!(
                "line {lineno} is a `{}`, not a ledger event",
                env.payload_type
            ),
        );
    }
    match serde_json::from_slice::<LedgerEvent>(&payload) {
        Ok(event) => Line::Good {
            event,
            link,
            signer,
        },
        Err(e) => bad(
            BreakReason::MalformedLine,
            format!("line {lineno}: the payload is not a ledger event: {e}"),
        ),
    }
}

/// Names why no trusted signature verified.
fn signature_failure(env: &Envelope, keys: &[PublicKey], lineno: usize, e: &SignError) -> Line {
    let trusted_ids: Vec<String> = keys.iter().map(|k| k.key_id().to_string()).collect();
    let decodes = |s: &str| crate::sign::decode_base64(s).is_some_and(|b| b.len() == 64);
    if let Some(s) = env
        .signatures
        .iter()
        .find(|s| trusted_ids.contains(&s.keyid) && decodes(&s.sig))
    {
        return bad(
            BreakReason::TamperedEvent,
            format!(
                "line {lineno} does not match the signature of trusted key `{}`: the event was altered after it was signed",
                s.keyid
            ),
        );
    }
    let named: Vec<&str> = env
        .signatures
        .iter()
        .filter(|s| !s.keyid.is_empty() && decodes(&s.sig))
        .map(|s| s.keyid.as_str())
        .collect();
    if !named.is_empty() && named.iter().all(|k| !trusted_ids.iter().any(|t| t == k)) {
        return bad(
            BreakReason::UnknownKey,
            format!(
                "line {lineno} is signed by `{}`, which is not a trusted key",
                named.join("`, `")
            ),
        );
    }
    bad(
        BreakReason::BadSignature,
        format!("line {lineno} has no valid signature from a trusted key: {e}"),
    )
}

/// Splits a ledger into lines, keeping a final line without a newline (a truncated write).
fn read_lines(mut reader: impl BufRead) -> io::Result<Vec<Vec<u8>>> {
    let mut lines = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        lines.push(buf);
    }
    Ok(lines)
}

/// Walks the chain. `trusted = None` checks structure only.
fn check(
    lines: &[Vec<u8>],
    trusted: Option<&[PublicKey]>,
    expect_head: Option<&Sha256Digest>,
) -> LedgerReport {
    let parsed: Vec<Line> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| read_line(l, i + 1, trusted))
        .collect();
    let mut report = LedgerReport::verified(lines.len());
    let mut walk = Walk {
        expected: 1,
        prev: None,
        seen_links: Vec::new(),
    };
    for i in 0..parsed.len() {
        if let Err((reason, message)) = walk.step(&mut report, &parsed, i) {
            report.fail(walk.expected, i + 1, reason, message);
            return report;
        }
    }
    if let Some(want) = expect_head
        && report.root_hash.as_ref() != Some(want)
    {
        let msg = format!(
            "the head is {}, not the pinned {want}: events were removed from the end or the ledger was replaced",
            report
                .root_hash
                .map_or_else(|| "empty".to_owned(), |h| h.to_string())
        );
        report.fail(walk.expected, lines.len(), BreakReason::HeadMismatch, msg);
    }
    report
}

impl LedgerReport {
    /// A report on `line_count` lines before any of them is checked.
    fn verified(line_count: usize) -> Self {
        LedgerReport {
            integrity_model: "HASH_CHAIN",
            verification_status: "VERIFIED",
            ledger_id: None,
            chain_length: 0,
            line_count,
            root_hash: None,
            signers: Vec::new(),
            first_bad_sequence: None,
            first_bad_line: None,
            reason: None,
            message: None,
        }
    }

    /// Marks the chain broken at event `seq`, line `line`.
    fn fail(&mut self, seq: u64, line: usize, reason: BreakReason, message: String) {
        self.verification_status = "BROKEN";
        self.first_bad_sequence = Some(seq);
        self.first_bad_line = Some(line);
        self.reason = Some(reason);
        self.message = Some(message);
    }
}

/// Why a line breaks the chain.
type Break = (BreakReason, String);

/// Where a walk along the chain stands.
struct Walk {
    /// The sequence number the next line must hold.
    expected: u64,
    /// The link hash of the last line taken.
    prev: Option<Sha256Digest>,
    /// Every link hash taken, to tell a repeated event from a reordered one.
    seen_links: Vec<Sha256Digest>,
}

impl Walk {
    /// Takes line `i` of `parsed` into the chain and the report, or says why it breaks it.
    fn step(&mut self, report: &mut LedgerReport, parsed: &[Line], i: usize) -> Result<(), Break> {
        let lineno = i + 1;
        let (event, link, signer) = match parsed.get(i) {
            None => return Ok(()),
            Some(Line::Bad { reason, message }) => return Err((*reason, message.clone())),
            Some(Line::Good {
                event,
                link,
                signer,
            }) => (event, link, signer),
        };
        let ledger_id = match &report.ledger_id {
            Some(id) => id.clone(),
            None => {
                report.ledger_id = Some(event.ledger_id.clone());
                report.root_hash = Some(genesis_hash(&event.ledger_id));
                event.ledger_id.clone()
            }
        };
        if event.ledger_id != ledger_id {
            return Err((
                BreakReason::LedgerMismatch,
                format!(
                    "line {lineno} belongs to ledger `{}`, not `{ledger_id}`",
                    event.ledger_id
                ),
            ));
        }
        if event.sequence != self.expected {
            return Err(self.out_of_order(parsed, i, event.sequence, link, &ledger_id));
        }
        self.check_prev(event, lineno, &ledger_id)?;
        report.chain_length += 1;
        report.root_hash = Some(*link);
        if let Some(s) = signer
            && !report.signers.contains(s)
        {
            report.signers.push(s.clone());
        }
        self.seen_links.push(*link);
        self.prev = Some(*link);
        self.expected += 1;
        Ok(())
    }

    /// Line `i` holds event `seq` where another belongs: a repeat, a reorder or a gap.
    fn out_of_order(
        &self,
        parsed: &[Line],
        i: usize,
        seq: u64,
        link: &Sha256Digest,
        ledger_id: &str,
    ) -> Break {
        let lineno = i + 1;
        let expected = self.expected;
        if seq < expected {
            if self.seen_links.contains(link) {
                (
                    BreakReason::Duplicate,
                    format!("line {lineno} repeats event {seq}, which appeared earlier"),
                )
            } else {
                (
                    BreakReason::Reorder,
                    format!(
                        "line {lineno} holds event {seq} after event {}",
                        expected - 1
                    ),
                )
            }
        } else {
            let later = parsed.get(i + 1..).unwrap_or_default().iter().any(|l| {
                matches!(l, Line::Good { event, .. } if event.sequence == expected && event.ledger_id == ledger_id)
            });
            if later {
                (
                    BreakReason::Reorder,
                    format!(
                        "line {lineno} holds event {seq} where event {expected} belongs; event {expected} comes later"
                    ),
                )
            } else {
                (
                    BreakReason::Gap,
                    format!("event {expected} is missing: line {lineno} holds event {seq}"),
                )
            }
        }
    }

    /// The event must link to the line before it (the first, to the ledger's genesis).
    fn check_prev(&self, event: &LedgerEvent, lineno: usize, ledger_id: &str) -> Result<(), Break> {
        let expected = self.expected;
        let want_prev = self.prev.unwrap_or_else(|| genesis_hash(ledger_id));
        if event.prev_hash == want_prev {
            return Ok(());
        }
        let msg = if expected == 1 {
            format!(
                "line {lineno}: event 1 does not start from the genesis of ledger `{ledger_id}`"
            )
        } else {
            format!(
                "line {lineno}: event {expected} does not link to the line before it: event {} was altered or replaced after event {expected} was written",
                expected - 1
            )
        };
        Err((BreakReason::ChainMismatch, msg))
    }
}

/// Verifies a ledger against trusted keys. `expect_head` pins the head, which also
/// detects events lost from the end.
pub fn verify(
    reader: impl BufRead,
    trusted: &[PublicKey],
    expect_head: Option<&Sha256Digest>,
) -> io::Result<LedgerReport> {
    let lines = read_lines(reader)?;
    Ok(check(&lines, Some(trusted), expect_head))
}

/// [`verify`] on a file.
pub fn verify_path(
    path: &Path,
    trusted: &[PublicKey],
    expect_head: Option<&Sha256Digest>,
) -> Result<LedgerReport, LedgerError> {
    let io_err = |source| LedgerError::Io {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io_err)?;
    verify(io::BufReader::new(f), trusted, expect_head).map_err(io_err)
}

/// An event that was appended.
#[derive(Debug, Clone, Serialize)]
pub struct Appended {
    /// The event.
    pub event: LedgerEvent,
    /// The new head (the link hash of the appended line).
    pub head: Sha256Digest,
    /// The signing key's id.
    pub key_id: String,
}

/// An open ledger file, ready to append to.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    ledger_id: String,
    next_sequence: u64,
    head: Sha256Digest,
    /// Whether the id was read from the file or asked for; a drawn one gives way to the
    /// id of a ledger another append created in the meantime.
    id_fixed: bool,
}

impl Ledger {
    /// Opens `path`, creating the ledger on first append when it does not exist. The
    /// existing chain is checked for structure (sequence and links; signatures need the
    /// trusted keys, see [`verify`]); a broken chain is refused. `ledger_id` names the
    /// ledger: it must match an existing file's, and defaults to a random id for a new
    /// one.
    pub fn open(path: &Path, ledger_id: Option<&str>) -> Result<Self, LedgerError> {
        if let Some(id) = ledger_id {
            validate_ledger_id(id)?;
        }
        let (found_id, length, root) = chain_state(path)?;
        let id_fixed = found_id.is_some() || ledger_id.is_some();
        let id = match (found_id, ledger_id) {
            (Some(found), Some(wanted)) if found != wanted => {
                return Err(LedgerError::IdMismatch {
                    path: path.to_owned(),
                    found,
                    wanted: wanted.to_owned(),
                });
            }
            (Some(found), _) => found,
            (None, Some(wanted)) => wanted.to_owned(),
            (None, None) => random_ledger_id()?,
        };
        let head = root.unwrap_or_else(|| genesis_hash(&id));
        Ok(Self {
            path: path.to_owned(),
            next_sequence: length + 1,
            ledger_id: id,
            head,
            id_fixed,
        })
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Verifies the whole file against trusted keys (signatures included), pinning the
    /// head this handle last saw.
    pub fn verify(&self, trusted: &[PublicKey]) -> Result<LedgerReport, LedgerError> {
        if self.is_empty() && !self.path.exists() {
            return Ok(check(&[], Some(trusted), None));
        }
        verify_path(&self.path, trusted, Some(&self.head))
    }

    /// The ledger's id.
    pub fn ledger_id(&self) -> &str {
        &self.ledger_id
    }

    /// The current head (the genesis hash while the ledger is empty).
    pub fn head(&self) -> Sha256Digest {
        self.head
    }

    /// The number of events in the ledger.
    pub fn len(&self) -> u64 {
        self.next_sequence - 1
    }

    /// `true` before the first event.
    pub fn is_empty(&self) -> bool {
        self.next_sequence == 1
    }

    /// Signs and appends one event, stamped with `now`. The append holds the ledger's
    /// lock (`<ledger>.lock`, waiting up to 30 s for another append) and links to the
    /// head the file has under that lock, so appends from several processes at once each
    /// get their own place in the chain.
    pub fn append(
        &mut self,
        key: &SigningKey,
        kind: EventKind,
        digests: Vec<Sha256Digest>,
        attributes: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Appended, LedgerError> {
        let io_err = |source| LedgerError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let _lock = LedgerLock::acquire(&self.path, LOCK_WAIT)?;
        let (found_id, length, root) = chain_state(&self.path)?;
        match found_id {
            Some(found) if found != self.ledger_id && !self.id_fixed => self.ledger_id = found,
            Some(found) if found != self.ledger_id => {
                return Err(LedgerError::IdMismatch {
                    path: self.path.clone(),
                    found,
                    wanted: self.ledger_id.clone(),
                });
            }
            _ => {}
        }
        self.id_fixed = true;
        self.next_sequence = length + 1;
        self.head = root.unwrap_or_else(|| genesis_hash(&self.ledger_id));
        let event = LedgerEvent {
            format_version: EVENT_FORMAT_VERSION,
            ledger_id: self.ledger_id.clone(),
            sequence: self.next_sequence,
            prev_hash: self.head,
            timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            event: kind,
            digests,
            attributes,
        };
        let payload = serde_json::to_vec(&event).map_err(|e| LedgerError::Encode(e.to_string()))?;
        let env = dsse::sign(key, PAYLOAD_TYPE, &payload);
        let value = serde_json::to_value(&env).map_err(|e| LedgerError::Encode(e.to_string()))?;
        let head = link_hash(&value).map_err(LedgerError::Encode)?;
        let mut line = serde_json::to_vec(&env).map_err(|e| LedgerError::Encode(e.to_string()))?;
        line.push(b'\n');
        let io_err = |source| LedgerError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err)?;
        f.write_all(&line).map_err(io_err)?;
        f.sync_all().map_err(io_err)?;
        self.head = head;
        self.next_sequence += 1;
        Ok(Appended {
            event,
            head,
            key_id: key.key_id().to_string(),
        })
    }
}

fn random_ledger_id() -> Result<String, LedgerError> {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 12];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| LedgerError::Random)?;
    Ok(format!("ledger-{}", crate::digest::hex_encode(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn key() -> SigningKey {
        SigningKey::generate().unwrap().0
    }

    fn now(i: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + i, 0).unwrap()
    }

    /// A ledger of four events; returns its lines and the signing key.
    fn four(dir: &Path) -> (PathBuf, SigningKey) {
        let path = dir.join("ledger.jsonl");
        let k = key();
        let mut l = Ledger::open(&path, Some("test-ledger")).unwrap();
        for (i, kind) in [
            EventKind::Generate,
            EventKind::Upload,
            EventKind::Verify,
            EventKind::Release,
        ]
        .into_iter()
        .enumerate()
        {
            let d = Sha256Digest::of(format!("proof {i}").as_bytes());
            l.append(&k, kind, vec![d], BTreeMap::new(), now(i as i64))
                .unwrap();
        }
        (path, k)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn verify_lines(ls: &[String], k: &SigningKey) -> LedgerReport {
        let text = ls.join("\n") + "\n";
        verify(text.as_bytes(), &[k.public_key()], None).unwrap()
    }

    #[test]
    fn concurrent_appends_each_get_their_own_place_in_the_chain() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("ledger.jsonl");
        let k = key();
        const N: usize = 16;
        let barrier = std::sync::Barrier::new(N);
        std::thread::scope(|s| {
            for i in 0..N {
                let (path, k, barrier) = (&path, &k, &barrier);
                s.spawn(move || {
                    // Every handle opens before any appends: all see the same (empty) head.
                    let mut l = Ledger::open(path, None).unwrap();
                    barrier.wait();
                    let d = Sha256Digest::of(format!("event {i}").as_bytes());
                    l.append(k, EventKind::Generate, vec![d], BTreeMap::new(), now(0))
                        .unwrap();
                });
            }
        });
        let r = verify_lines(&lines(&path), &k);
        assert_eq!(r.verification_status, "VERIFIED", "{r:?}");
        assert_eq!(r.chain_length, N as u64);
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        assert!(!Path::new(&lock).exists(), "the lock is released");
    }

    #[test]
    fn a_held_lock_makes_an_append_wait_then_give_up_naming_the_file() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("ledger.jsonl");
        let held = LedgerLock::acquire(&path, LOCK_WAIT).unwrap();
        let err = LedgerLock::acquire(&path, std::time::Duration::from_millis(30)).unwrap_err();
        assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("ledger.jsonl.lock"), "{err}");
        drop(held);
        assert!(LedgerLock::acquire(&path, LOCK_WAIT).is_ok());
    }

    #[test]
    fn intact_ledger_verifies_with_its_head() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let r = verify_lines(&lines(&path), &k);
        assert_eq!(r.verification_status, "VERIFIED", "{r:?}");
        assert_eq!(r.chain_length, 4);
        assert_eq!(r.signers, [k.key_id().to_string()]);
        let reopened = Ledger::open(&path, None).unwrap();
        assert_eq!(reopened.len(), 4);
        assert_eq!(Some(reopened.head()), r.root_hash);
        assert_eq!(reopened.ledger_id(), "test-ledger");
    }

    #[test]
    fn open_append_verify_round_trip_through_the_handle() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("sub/ledger.jsonl");
        let k = key();
        let mut l = Ledger::open(&path, None).unwrap();
        assert!(l.is_empty());
        assert!(l.ledger_id().starts_with("ledger-"));
        assert!(l.verify(&[k.public_key()]).unwrap().is_verified());
        let a = l
            .append(
                &k,
                EventKind::Generate,
                vec![Sha256Digest::of(b"p")],
                BTreeMap::new(),
                now(0),
            )
            .unwrap();
        assert_eq!(a.event.prev_hash, genesis_hash(l.ledger_id()));
        let r = l.verify(&[k.public_key()]).unwrap();
        assert!(r.is_verified(), "{r:?}");
        assert_eq!(r.root_hash, Some(l.head()));
        // A second handle continues the same chain.
        let mut again = Ledger::open(&path, None).unwrap();
        again
            .append(&k, EventKind::Upload, vec![], BTreeMap::new(), now(1))
            .unwrap();
        assert_eq!(
            verify_path(&path, &[k.public_key()], None)
                .unwrap()
                .chain_length,
            2
        );
        // The first handle's pinned head is now stale: events were added behind its back.
        assert_eq!(
            l.verify(&[k.public_key()]).unwrap().reason,
            Some(BreakReason::HeadMismatch)
        );
        assert!(matches!(
            Ledger::open(&path, Some("another-id")),
            Err(LedgerError::IdMismatch { .. })
        ));
    }

    #[test]
    fn first_event_links_to_the_genesis() {
        let t = tempfile::tempdir().unwrap();
        let (path, _) = four(t.path());
        let first = &lines(&path)[0];
        let env: Envelope = serde_json::from_str(first).unwrap();
        let payload = crate::sign::decode_base64(&env.payload).unwrap();
        let ev: LedgerEvent = serde_json::from_slice(&payload).unwrap();
        assert_eq!(ev.prev_hash, genesis_hash("test-ledger"));
        assert_eq!(ev.sequence, 1);
    }

    #[test]
    fn deleted_line_is_a_gap() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        ls.remove(1);
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::Gap), "{r:?}");
        assert_eq!(r.first_bad_sequence, Some(2));
        assert_eq!(r.first_bad_line, Some(2));
        assert_eq!(r.chain_length, 1);
    }

    #[test]
    fn swapped_lines_are_a_reorder() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        ls.swap(1, 2);
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::Reorder), "{r:?}");
        assert_eq!(r.first_bad_sequence, Some(2));
    }

    fn edit_payload(line: &str, f: impl Fn(&mut serde_json::Value)) -> String {
        let mut env: Envelope = serde_json::from_str(line).unwrap();
        let payload = crate::sign::decode_base64(&env.payload).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        f(&mut v);
        env.payload =
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&v).unwrap());
        serde_json::to_string(&env).unwrap()
    }

    #[test]
    fn edited_field_is_a_tampered_event() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        ls[2] = edit_payload(&ls[2], |v| v["event"] = "RELEASE".into());
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::TamperedEvent), "{r:?}");
        assert_eq!(r.first_bad_sequence, Some(3));
    }

    #[test]
    fn event_resigned_with_another_key_is_an_unknown_key() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        let env: Envelope = serde_json::from_str(&ls[1]).unwrap();
        let payload = crate::sign::decode_base64(&env.payload).unwrap();
        let forged = dsse::sign(&key(), PAYLOAD_TYPE, &payload);
        ls[1] = serde_json::to_string(&forged).unwrap();
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::UnknownKey), "{r:?}");
        assert_eq!(r.first_bad_sequence, Some(2));
    }

    #[test]
    fn edited_event_resigned_by_a_trusted_key_breaks_the_next_link() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        let edited = edit_payload(&ls[1], |v| v["digests"] = serde_json::json!([]));
        let env: Envelope = serde_json::from_str(&edited).unwrap();
        let payload = crate::sign::decode_base64(&env.payload).unwrap();
        ls[1] = serde_json::to_string(&dsse::sign(&k, PAYLOAD_TYPE, &payload)).unwrap();
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::ChainMismatch), "{r:?}");
        assert_eq!(r.first_bad_sequence, Some(3));
    }

    #[test]
    fn truncated_line_is_malformed() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        let cut = ls[3].len() / 2;
        ls[3].truncate(cut);
        let text = ls.join("\n");
        let r = verify(text.as_bytes(), &[k.public_key()], None).unwrap();
        assert_eq!(r.reason, Some(BreakReason::MalformedLine), "{r:?}");
        assert_eq!(r.first_bad_line, Some(4));
        assert_eq!(r.chain_length, 3);
        // Nothing may be appended after a torn write.
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            Ledger::open(&path, None),
            Err(LedgerError::Broken { line: 4, .. })
        ));
    }

    #[test]
    fn duplicated_line_is_a_duplicate() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        let dup = ls[1].clone();
        ls.insert(2, dup);
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::Duplicate), "{r:?}");
        assert_eq!(r.first_bad_line, Some(3));
    }

    #[test]
    fn corrupt_signature_without_key_hint_is_a_bad_signature() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        let mut env: Envelope = serde_json::from_str(&ls[0]).unwrap();
        env.signatures[0].keyid.clear();
        env.signatures[0].sig = "AAAA".into();
        ls[0] = serde_json::to_string(&env).unwrap();
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::BadSignature), "{r:?}");
    }

    #[test]
    fn lost_last_event_is_caught_by_a_pinned_head() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let head = Ledger::open(&path, None).unwrap().head();
        let mut ls = lines(&path);
        ls.pop();
        let text = ls.join("\n") + "\n";
        let unpinned = verify(text.as_bytes(), &[k.public_key()], None).unwrap();
        assert!(unpinned.is_verified());
        let r = verify(text.as_bytes(), &[k.public_key()], Some(&head)).unwrap();
        assert_eq!(r.reason, Some(BreakReason::HeadMismatch), "{r:?}");
    }

    #[test]
    fn line_from_another_ledger_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let other = t.path().join("other.jsonl");
        let mut l = Ledger::open(&other, Some("other")).unwrap();
        l.append(&k, EventKind::Generate, vec![], BTreeMap::new(), now(0))
            .unwrap();
        l.append(&k, EventKind::Generate, vec![], BTreeMap::new(), now(1))
            .unwrap();
        let mut ls = lines(&path);
        ls[1] = lines(&other)[1].clone();
        let r = verify_lines(&ls, &k);
        assert_eq!(r.reason, Some(BreakReason::LedgerMismatch), "{r:?}");
    }

    #[test]
    fn whitespace_changes_do_not_break_the_chain() {
        let t = tempfile::tempdir().unwrap();
        let (path, k) = four(t.path());
        let mut ls = lines(&path);
        let v: serde_json::Value = serde_json::from_str(&ls[0]).unwrap();
        ls[0] = serde_json::to_string_pretty(&v).unwrap().replace('\n', " ");
        assert!(verify_lines(&ls, &k).is_verified());
    }

    #[test]
    fn ledger_ids_are_validated() {
        assert!(validate_ledger_id("release-2026.1_a").is_ok());
        for bad in ["", "-x", "a/b", "../x", &"a".repeat(129)] {
            assert!(validate_ledger_id(bad).is_err(), "{bad}");
        }
    }
}

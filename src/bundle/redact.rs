//! Streaming secret redaction for test logs.
//!
//! What is redacted: the values of environment variables the user names (and each line of
//! a multi-line value), the value of `PROOFGATE_SIGNING_KEY`, and well-known token shapes:
//! GitHub tokens (`ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_` followed by 30 or more letters and
//! digits; `github_pat_` followed by 22 or more letters, digits and `_`), AWS access key
//! ids (`AKIA` or `ASIA` followed by exactly 16 capitals and digits) and PEM private-key
//! blocks (`-----BEGIN … PRIVATE KEY-----` up to the matching `END` line, the whole block).
//!
//! Each secret is replaced by `[REDACTED:<kind>]`. The redactor is fed chunks of any size
//! and holds back only the few bytes that could still be the start of a secret, so a
//! secret split across read-buffer boundaries is still caught; its memory is bounded by
//! the longest secret it looks for.

use std::collections::BTreeMap;

use serde::Serialize;

/// The environment variable whose value is always redacted.
pub const SIGNING_KEY_ENV: &str = "PROOFGATE_SIGNING_KEY";

/// Shortest literal value redacted; shorter values would mangle ordinary output.
pub const MIN_SECRET_LEN: usize = 4;

/// Longest run of token characters examined; longer runs are cut here.
const MAX_TOKEN_RUN: usize = 255;

const PEM_BEGIN: &[u8] = b"-----BEGIN ";
const PEM_END: &[u8] = b"-----END ";
const PEM_TAIL: &[u8] = b"PRIVATE KEY-----";
/// Longest `-----BEGIN <label>PRIVATE KEY-----` line looked for.
const PEM_MAX_HEADER: usize = 80;

/// One kind of secret, as listed in the run bundle (never with its value).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub enum SecretKind {
    /// The value of a named environment variable.
    Env(String),
    /// The value of `PROOFGATE_SIGNING_KEY`.
    SigningKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKeyId,
    /// A PEM private-key block.
    PrivateKey,
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::SigningKey => f.write_str("signing-key"),
            Self::GithubToken => f.write_str("github-token"),
            Self::AwsAccessKeyId => f.write_str("aws-access-key-id"),
            Self::PrivateKey => f.write_str("private-key"),
        }
    }
}

impl From<SecretKind> for String {
    fn from(k: SecretKind) -> String {
        k.to_string()
    }
}

/// How many secrets of one kind were redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedactionCount {
    /// The kind, e.g. `github-token` or `env:NPM_TOKEN`.
    pub kind: SecretKind,
    /// How many occurrences.
    pub count: u64,
}

/// Adds `more` to `into`, one row a kind, sorted by kind.
pub fn merge_counts(into: &mut Vec<RedactionCount>, more: Vec<RedactionCount>) {
    for c in more {
        match into.iter_mut().find(|x| x.kind == c.kind) {
            Some(x) => x.count += c.count,
            None => into.push(c),
        }
    }
    into.sort_by(|a, b| a.kind.cmp(&b.kind));
}

/// The secrets to look for. Cheap to clone: one per output stream.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    literals: Vec<(Vec<u8>, SecretKind)>,
}

impl Secrets {
    /// Secrets taken from the environment: the named variables and
    /// `PROOFGATE_SIGNING_KEY`. `lookup` reads one variable (injected for tests).
    pub fn from_env(names: &[String], lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut s = Self::default();
        if let Some(v) = lookup(SIGNING_KEY_ENV) {
            s.add(&v, SecretKind::SigningKey);
        }
        for n in names {
            if let Some(v) = lookup(n) {
                s.add(&v, SecretKind::Env(n.clone()));
            }
        }
        s
    }

    /// Adds a literal secret, and each line of it when it spans several lines (a program
    /// may print a key one line at a time). Values shorter than [`MIN_SECRET_LEN`] are
    /// ignored.
    pub fn add(&mut self, value: &str, kind: SecretKind) {
        let mut push = |v: &str| {
            if v.len() >= MIN_SECRET_LEN && !self.literals.iter().any(|(l, _)| l == v.as_bytes()) {
                self.literals.push((v.as_bytes().to_vec(), kind.clone()));
            }
        };
        let trimmed = value.trim_end_matches(['\n', '\r']);
        push(trimmed);
        if trimmed.contains('\n') {
            for line in trimmed.lines() {
                let line = line.trim();
                if line.len() >= 8 {
                    push(line);
                }
            }
        }
        // Longest first, so a whole value wins over one of its lines.
        self.literals.sort_by_key(|l| std::cmp::Reverse(l.0.len()));
    }

    /// The number of literal secrets.
    pub fn len(&self) -> usize {
        self.literals.len()
    }

    /// `true` when only the built-in token shapes will be looked for.
    pub fn is_empty(&self) -> bool {
        self.literals.is_empty()
    }
}

/// The result of looking for a secret at one position.
enum Probe {
    /// No secret starts here.
    No,
    /// A secret of this length starts here.
    Yes(usize, SecretKind),
    /// Cannot tell until more input arrives.
    NeedMore,
}

/// A streaming redactor for one output stream.
#[derive(Debug)]
pub struct Redactor {
    secrets: Secrets,
    pending: Vec<u8>,
    /// Inside a PEM private-key block: dropping bytes until its `END` line.
    in_pem: bool,
    counts: BTreeMap<SecretKind, u64>,
    first_bytes: [bool; 256],
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

impl Redactor {
    /// A redactor looking for `secrets` and the built-in token shapes.
    pub fn new(secrets: Secrets) -> Self {
        let mut first_bytes = [false; 256];
        for b in [b'g', b'A', b'-'] {
            first_bytes[b as usize] = true;
        }
        for (l, _) in &secrets.literals {
            first_bytes[l[0] as usize] = true;
        }
        Self {
            secrets,
            pending: Vec::new(),
            in_pem: false,
            counts: BTreeMap::new(),
            first_bytes,
        }
    }

    /// Feeds a chunk; appends the redacted bytes that are safe to emit to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(chunk);
        let keep_from = self.scan(out, false);
        self.pending.drain(..keep_from);
    }

    /// Ends the stream: emits what was held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let keep_from = self.scan(out, true);
        debug_assert_eq!(keep_from, self.pending.len());
        self.pending.clear();
        self.in_pem = false;
    }

    /// Redacts a whole string at once (for messages that are not streamed).
    pub fn redact_all(&mut self, text: &str) -> String {
        let mut out = Vec::with_capacity(text.len());
        self.push(text.as_bytes(), &mut out);
        self.finish(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// How many secrets of each kind were replaced so far.
    pub fn counts(&self) -> Vec<RedactionCount> {
        self.counts
            .iter()
            .map(|(k, c)| RedactionCount {
                kind: k.clone(),
                count: *c,
            })
            .collect()
    }

    fn note(&mut self, kind: SecretKind, out: &mut Vec<u8>) {
        out.extend_from_slice(b"[REDACTED:");
        out.extend_from_slice(kind.to_string().as_bytes());
        out.push(b']');
        *self.counts.entry(kind).or_insert(0) += 1;
    }

    /// Scans `pending`, writing to `out`; returns the index from which bytes must be kept
    /// for the next chunk.
    fn scan(&mut self, out: &mut Vec<u8>, eof: bool) -> usize {
        let buf = std::mem::take(&mut self.pending);
        let mut i = 0;
        let mut emitted = 0;
        let keep_from = loop {
            if self.in_pem {
                // Drop everything up to and including the END line.
                match find_pem_end(&buf[i..], eof) {
                    PemEnd::Found(len) => {
                        i += len;
                        emitted = i;
                        self.in_pem = false;
                        continue;
                    }
                    PemEnd::NotYet(safe) => {
                        // Bytes before `safe` cannot be part of the END marker: drop them.
                        break i + safe;
                    }
                }
            }
            if i >= buf.len() {
                break buf.len();
            }
            if !self.first_bytes[buf[i] as usize] {
                i += 1;
                continue;
            }
            match self.probe(&buf[i..], eof) {
                Probe::No => i += 1,
                Probe::NeedMore => break i,
                Probe::Yes(len, kind) => {
                    out.extend_from_slice(&buf[emitted..i]);
                    let pem = kind == SecretKind::PrivateKey;
                    self.note(kind, out);
                    i += len;
                    emitted = i;
                    if pem {
                        self.in_pem = true;
                    }
                }
            }
        };
        if !self.in_pem && emitted < keep_from {
            out.extend_from_slice(&buf[emitted..keep_from]);
        }
        self.pending = buf;
        keep_from
    }

    fn probe(&self, s: &[u8], eof: bool) -> Probe {
        let mut need_more = false;
        // PEM private-key header.
        match probe_pem_begin(s, eof) {
            Probe::Yes(n, k) => return Probe::Yes(n, k),
            Probe::NeedMore => need_more = true,
            Probe::No => {}
        }
        // Literal secrets, longest first.
        for (lit, kind) in &self.secrets.literals {
            if s.len() >= lit.len() {
                if s.starts_with(lit) {
                    // A longer secret that could still match here wins.
                    return if need_more {
                        Probe::NeedMore
                    } else {
                        Probe::Yes(lit.len(), kind.clone())
                    };
                }
            } else if !eof && lit.starts_with(s) {
                need_more = true;
            }
        }
        match probe_tokens(s, eof) {
            Probe::Yes(n, k) => {
                return if need_more {
                    Probe::NeedMore
                } else {
                    Probe::Yes(n, k)
                };
            }
            Probe::NeedMore => need_more = true,
            Probe::No => {}
        }
        if need_more {
            Probe::NeedMore
        } else {
            Probe::No
        }
    }
}

/// Looks for `prefix` at the start of `s`: `Some(true)` matched, `Some(false)` cannot
/// match, `None` when `s` is a proper prefix of it and more input could decide.
fn starts(s: &[u8], prefix: &[u8], eof: bool) -> Option<bool> {
    if s.len() >= prefix.len() {
        Some(s.starts_with(prefix))
    } else if prefix.starts_with(s) && !eof {
        None
    } else {
        Some(false)
    }
}

/// A run of bytes satisfying `ok` from the start of `s`, capped at `MAX_TOKEN_RUN`:
/// `None` when it reaches the end of the input before EOF (more could follow).
fn run_len(s: &[u8], ok: impl Fn(u8) -> bool, eof: bool) -> Option<usize> {
    let n = s.iter().take(MAX_TOKEN_RUN).take_while(|b| ok(**b)).count();
    if n == s.len() && !eof && n < MAX_TOKEN_RUN {
        None
    } else {
        Some(n)
    }
}

fn probe_tokens(s: &[u8], eof: bool) -> Probe {
    let mut need_more = false;
    for prefix in [&b"ghp_"[..], b"gho_", b"ghs_", b"ghu_", b"ghr_"] {
        match starts(s, prefix, eof) {
            None => need_more = true,
            Some(false) => {}
            Some(true) => match run_len(&s[4..], is_alnum, eof) {
                None => return Probe::NeedMore,
                Some(n) if n >= 30 => return Probe::Yes(4 + n, SecretKind::GithubToken),
                Some(_) => {}
            },
        }
    }
    match starts(s, b"github_pat_", eof) {
        None => need_more = true,
        Some(false) => {}
        Some(true) => match run_len(&s[11..], |b| is_alnum(b) || b == b'_', eof) {
            None => return Probe::NeedMore,
            Some(n) if n >= 22 => return Probe::Yes(11 + n, SecretKind::GithubToken),
            Some(_) => {}
        },
    }
    for prefix in [&b"AKIA"[..], b"ASIA"] {
        match starts(s, prefix, eof) {
            None => need_more = true,
            Some(false) => {}
            Some(true) => {
                let ok = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
                match run_len(&s[4..], ok, eof) {
                    None => return Probe::NeedMore,
                    Some(16) => return Probe::Yes(20, SecretKind::AwsAccessKeyId),
                    Some(_) => {}
                }
            }
        }
    }
    if need_more {
        Probe::NeedMore
    } else {
        Probe::No
    }
}

/// `-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----` at the start of `s`.
fn probe_pem_begin(s: &[u8], eof: bool) -> Probe {
    match starts(s, PEM_BEGIN, eof) {
        None => return Probe::NeedMore,
        Some(false) => return Probe::No,
        Some(true) => {}
    }
    let rest = &s[PEM_BEGIN.len()..];
    let label = rest
        .iter()
        .take(PEM_MAX_HEADER)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
        .count();
    // The label must end in "PRIVATE KEY" followed by "-----".
    let mut j = 0;
    while j <= label {
        let tail = &rest[j..];
        match starts(tail, PEM_TAIL, eof) {
            Some(true) => {
                return Probe::Yes(PEM_BEGIN.len() + j + PEM_TAIL.len(), SecretKind::PrivateKey);
            }
            None => return Probe::NeedMore,
            Some(false) => {}
        }
        j += 1;
    }
    if label == rest.len() && !eof && label < PEM_MAX_HEADER {
        Probe::NeedMore
    } else {
        Probe::No
    }
}

enum PemEnd {
    /// The END line ends this many bytes in.
    Found(usize),
    /// Not yet: bytes before this index can be dropped.
    NotYet(usize),
}

/// Finds `-----END <label>PRIVATE KEY-----` in `s`.
fn find_pem_end(s: &[u8], eof: bool) -> PemEnd {
    let mut from = 0;
    while let Some(pos) = memchr::memmem::find(&s[from..], PEM_END) {
        let at = from + pos;
        let rest = &s[at + PEM_END.len()..];
        let label = rest
            .iter()
            .take(PEM_MAX_HEADER)
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
            .count();
        for j in 0..=label {
            if rest[j..].starts_with(PEM_TAIL) {
                return PemEnd::Found(at + PEM_END.len() + j + PEM_TAIL.len());
            }
            if !eof && PEM_TAIL.starts_with(&rest[j..]) {
                return PemEnd::NotYet(at);
            }
        }
        if label == rest.len() && !eof && label < PEM_MAX_HEADER {
            return PemEnd::NotYet(at);
        }
        from = at + 1;
    }
    if eof {
        return PemEnd::NotYet(s.len());
    }
    // Keep a tail that could be the start of the END marker.
    let keep = (PEM_END.len() - 1).min(s.len());
    PemEnd::NotYet(s.len() - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_counts_merge_by_kind_and_stay_sorted() {
        let mut into = vec![RedactionCount {
            kind: SecretKind::SigningKey,
            count: 2,
        }];
        merge_counts(
            &mut into,
            vec![
                RedactionCount {
                    kind: SecretKind::SigningKey,
                    count: 1,
                },
                RedactionCount {
                    kind: SecretKind::Env("NPM_TOKEN".into()),
                    count: 4,
                },
            ],
        );
        let total: u64 = into.iter().map(|c| c.count).sum();
        assert_eq!(total, 7);
        assert_eq!(into.len(), 2);
        assert!(into.windows(2).all(|w| w[0].kind <= w[1].kind));
    }

    const GHP: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    const PEM: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQUJDREVGR0g=\n-----END OPENSSH PRIVATE KEY-----";

    fn secrets() -> Secrets {
        let mut s = Secrets::default();
        s.add("hunter2-very-secret", SecretKind::Env("DB_PASSWORD".into()));
        s.add("PGK1-signing-key-material", SecretKind::SigningKey);
        s
    }

    fn redact_in_chunks(input: &[u8], chunk: usize, s: Secrets) -> (String, Vec<RedactionCount>) {
        let mut r = Redactor::new(s);
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        (String::from_utf8(out).unwrap(), r.counts())
    }

    fn sample() -> String {
        format!(
            "start\npassword=hunter2-very-secret;\ntoken {GHP} end\nkey AKIAIOSFODNN7EXAMPLE.\n{PEM}\nafter github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz sig PGK1-signing-key-material\n"
        )
    }

    const EXPECTED: &str = "start\npassword=[REDACTED:env:DB_PASSWORD];\ntoken [REDACTED:github-token] end\nkey [REDACTED:aws-access-key-id].\n[REDACTED:private-key]\nafter [REDACTED:github-token] sig [REDACTED:signing-key]\n";

    #[test]
    fn every_kind_is_redacted_in_one_chunk() {
        let (out, counts) = redact_in_chunks(sample().as_bytes(), usize::MAX, secrets());
        assert_eq!(out, EXPECTED);
        let kinds: Vec<String> = counts.iter().map(|c| c.kind.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "env:DB_PASSWORD",
                "signing-key",
                "github-token",
                "aws-access-key-id",
                "private-key"
            ]
        );
        assert_eq!(
            counts
                .iter()
                .find(|c| c.kind == SecretKind::GithubToken)
                .unwrap()
                .count,
            2
        );
    }

    #[test]
    fn redaction_works_across_every_chunk_boundary() {
        let input = sample();
        for chunk in 1..=input.len() {
            let (out, _) = redact_in_chunks(input.as_bytes(), chunk, secrets());
            assert_eq!(out, EXPECTED, "chunk size {chunk}");
        }
        // And with the split at every single position.
        for split in 0..input.len() {
            let mut r = Redactor::new(secrets());
            let mut out = Vec::new();
            r.push(&input.as_bytes()[..split], &mut out);
            r.push(&input.as_bytes()[split..], &mut out);
            r.finish(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                EXPECTED,
                "split at {split}"
            );
        }
    }

    #[test]
    fn ordinary_text_passes_through_unchanged() {
        let text = "ghp_short AKIA123 ----- BEGIN PUBLIC KEY ----- github_pat_x AKIAIOSFODNN7EXAMPLEXX gho\n";
        let (out, counts) = redact_in_chunks(text.as_bytes(), 3, Secrets::default());
        assert_eq!(out, text);
        assert!(counts.is_empty());
    }

    #[test]
    fn multi_line_secret_is_redacted_whole_and_line_by_line() {
        let mut s = Secrets::default();
        s.add("line-one-secret\nline-two-secret\n", SecretKind::SigningKey);
        let (out, _) = redact_in_chunks(
            b"a line-one-secret\nline-two-secret b line-two-secret",
            2,
            s,
        );
        assert_eq!(out, "a [REDACTED:signing-key] b [REDACTED:signing-key]");
    }

    #[test]
    fn unterminated_private_key_is_dropped_to_the_end() {
        let (out, _) = redact_in_chunks(
            b"x -----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB",
            5,
            Secrets::default(),
        );
        assert_eq!(out, "x [REDACTED:private-key]");
    }

    #[test]
    fn short_values_and_missing_variables_are_ignored() {
        let s = Secrets::from_env(&["A".into(), "B".into(), "C".into()], |n| match n {
            "A" => Some("ab".into()),
            "B" => Some("long-enough".into()),
            _ => None,
        });
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn held_back_bytes_stay_bounded() {
        let mut r = Redactor::new(secrets());
        let mut out = Vec::new();
        for _ in 0..10_000 {
            r.push(b"ghp_aaaaaaaaaa", &mut out);
        }
        assert!(r.pending.len() <= MAX_TOKEN_RUN + 8, "{}", r.pending.len());
    }
}

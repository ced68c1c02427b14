//! A test's identity and its result as canonical hashes: what replay, flakiness and the
//! lock file compare, so that two runs can be matched test by test without comparing
//! timestamps, durations or the order the cases were reported in.
//!
//! - `descriptor_hash` = SHA-256 of the RFC 8785 (JCS) bytes of
//!   `{"classname": …, "file": … | null, "name": …, "seeds": {…}}` — `seeds` is the run's
//!   seeds (`RunContext::seeds`) and is left out when none is known. A parameterised test
//!   carries its parameters in its name (`test_x[1-2]`, `case::x_1`), as every supported
//!   tool reports it, so the name is the parameters' record.
//! - `result_hash` = SHA-256 of the JCS bytes of
//!   `{"message_digest": "sha256:…" | null, "status": "passed" | …}`, where
//!   `message_digest` is the SHA-256 of the first failure message's UTF-8 bytes.
//!
//! Both are written by hand for the fixed shape (this runs once per test, a million
//! times for a large report); `tests` below checks them against the general JCS writer,
//! and `tests/proof.rs` against Python's `rfc8785`.

use std::collections::BTreeMap;

use crate::digest::Sha256Digest;
use crate::digest::jcs::{self, JcsError};
use crate::junit::Status;

/// The canonical `"seeds":{…}` member of descriptors, computed once per run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedsMember(Vec<u8>);

impl SeedsMember {
    /// The member for `seeds`; empty when there are none (the member is then left out).
    pub fn new(seeds: &BTreeMap<String, String>) -> Result<Self, JcsError> {
        if seeds.is_empty() {
            return Ok(Self(Vec::new()));
        }
        let mut v = b",\"seeds\":".to_vec();
        // JCS orders members by UTF-16 code units, which a BTreeMap (UTF-8 byte order)
        // does not guarantee beyond the BMP: let the general writer order them.
        v.extend_from_slice(&jcs::to_vec(seeds)?);
        Ok(Self(v))
    }
}

/// Appends `s` as a JSON string. serde_json escapes exactly what RFC 8785 escapes
/// (`"`, `\`, and U+0000–U+001F, with the short forms `\b \t \n \f \r` and lowercase
/// `\u00xx` otherwise) and writes everything else as UTF-8.
fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The descriptor hash of a test (see the module docs).
pub fn descriptor_hash(
    file: Option<&str>,
    classname: &str,
    name: &str,
    seeds: &SeedsMember,
    scratch: &mut Vec<u8>,
) -> Sha256Digest {
    scratch.clear();
    scratch.extend_from_slice(b"{\"classname\":");
    push_str(scratch, classname);
    scratch.extend_from_slice(b",\"file\":");
    match file {
        Some(f) => push_str(scratch, f),
        None => scratch.extend_from_slice(b"null"),
    }
    scratch.extend_from_slice(b",\"name\":");
    push_str(scratch, name);
    scratch.extend_from_slice(&seeds.0);
    scratch.push(b'}');
    Sha256Digest::of(scratch)
}

/// The result hash of a test (see the module docs).
pub fn result_hash(status: Status, message: Option<&str>, scratch: &mut Vec<u8>) -> Sha256Digest {
    scratch.clear();
    scratch.extend_from_slice(b"{\"message_digest\":");
    match message {
        Some(m) => {
            scratch.push(b'"');
            scratch.extend_from_slice(&Sha256Digest::of(m.as_bytes()).text_bytes());
            scratch.push(b'"');
        }
        None => scratch.extend_from_slice(b"null"),
    }
    scratch.extend_from_slice(b",\"status\":\"");
    scratch.extend_from_slice(status.as_str().as_bytes());
    scratch.extend_from_slice(b"\"}");
    Sha256Digest::of(scratch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Descriptor<'a> {
        classname: &'a str,
        file: Option<&'a str>,
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        seeds: Option<&'a BTreeMap<String, String>>,
    }

    #[derive(Serialize)]
    struct Result<'a> {
        message_digest: Option<String>,
        status: &'a str,
    }

    const AWKWARD: &[&str] = &[
        "",
        "plain",
        "quote \" backslash \\ slash /",
        "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
        "unicode é ß 中 \u{2028}\u{2029} 😀 \u{fb33}",
        "test_x[1-2-\"a\"]",
    ];

    #[test]
    fn descriptor_hash_is_the_digest_of_the_jcs_descriptor() {
        let mut seeds = BTreeMap::new();
        seeds.insert("pytest-randomly".to_owned(), "12345".to_owned());
        seeds.insert("\u{1f600}".to_owned(), "astral".to_owned());
        seeds.insert("\u{fb33}".to_owned(), "bmp".to_owned());
        let with = SeedsMember::new(&seeds).unwrap();
        let without = SeedsMember::new(&BTreeMap::new()).unwrap();
        let mut scratch = Vec::new();
        for &c in AWKWARD {
            for &n in AWKWARD {
                for file in [None, Some("tests/test_a.py"), Some(c)] {
                    let d = Descriptor {
                        classname: c,
                        file,
                        name: n,
                        seeds: None,
                    };
                    assert_eq!(
                        descriptor_hash(file, c, n, &without, &mut scratch),
                        jcs::digest(&d).unwrap()
                    );
                    let d = Descriptor {
                        seeds: Some(&seeds),
                        ..d
                    };
                    assert_eq!(
                        descriptor_hash(file, c, n, &with, &mut scratch),
                        jcs::digest(&d).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn result_hash_is_the_digest_of_the_jcs_result() {
        let mut scratch = Vec::new();
        for status in [
            Status::Passed,
            Status::Failed,
            Status::Error,
            Status::Skipped,
            Status::Flaky,
        ] {
            for m in AWKWARD.iter().map(|m| Some(*m)).chain([None]) {
                let r = Result {
                    message_digest: m.map(|m| Sha256Digest::of(m.as_bytes()).to_string()),
                    status: status.as_str(),
                };
                assert_eq!(
                    result_hash(status, m, &mut scratch),
                    jcs::digest(&r).unwrap()
                );
            }
        }
    }

    #[test]
    fn seeds_change_the_descriptor_and_results_change_the_result_hash() {
        let mut s = Vec::new();
        let none = SeedsMember::default();
        let seeds = SeedsMember::new(&[("PYTHONHASHSEED".into(), "0".into())].into()).unwrap();
        assert_ne!(
            descriptor_hash(Some("a.py"), "a", "t", &none, &mut s),
            descriptor_hash(Some("a.py"), "a", "t", &seeds, &mut s)
        );
        assert_ne!(
            descriptor_hash(None, "a", "t", &none, &mut s),
            descriptor_hash(Some(""), "a", "t", &none, &mut s)
        );
        assert_ne!(
            result_hash(Status::Failed, Some("x"), &mut s),
            result_hash(Status::Failed, Some("y"), &mut s)
        );
        assert_ne!(
            result_hash(Status::Passed, None, &mut s),
            result_hash(Status::Flaky, None, &mut s)
        );
    }
}

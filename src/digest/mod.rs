//! Every digest proofgate computes, in one place: SHA-256 as a domain type (written
//! `sha256:<hex>` wherever it leaves the program), git blob ids, a file's digests
//! ([`file`](mod@file): sized reads with a length check), canonical JSON and its digest ([`jcs`]).
//! Domain-separated tree and chain hashes build on these in `bundle::merkle` and
//! `bundle::ledger`.

pub mod file;
mod finite;
pub mod jcs;

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest. Displays and serialises as `sha256:<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

/// A string that is not a `sha256:<64 hex>` digest.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a digest of the form `sha256:<64 hex digits>`")]
pub struct DigestParseError(pub String);

impl Sha256Digest {
    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// A domain-separated digest: `SHA-256(tag ‖ parts[0] ‖ parts[1] ‖ …)`. The tag
    /// names the kind of value (and ends in a NUL), so that equal bytes hashed for two
    /// purposes never give the same digest.
    pub fn tagged(tag: &[u8], parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        h.update(tag);
        for p in parts {
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// The digest of everything `reader` yields, read in 64 KiB blocks.
    pub fn of_reader<R: Read>(mut reader: R) -> io::Result<Self> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
        }
        Ok(Self(hasher.finalize().into()))
    }

    /// The digest of a file's bytes.
    pub fn of_file(path: &std::path::Path) -> io::Result<Self> {
        Self::of_reader(std::fs::File::open(path)?)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses bare hex (64 digits, either case).
    pub fn from_hex(hex: &str) -> Result<Self, DigestParseError> {
        let err = || DigestParseError(hex.to_owned());
        if hex.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(err)?;
            let lo = hex_val(pair[1]).ok_or_else(err)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

/// Lowercase hex of arbitrary bytes.
pub fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl Sha256Digest {
    /// `sha256:<64 hex>` in a stack buffer: what [`Display`](fmt::Display) and
    /// [`Serialize`] write, without an allocation (a proof of a million tests writes two
    /// million of them).
    pub fn text_bytes(&self) -> [u8; 71] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 71];
        out[..7].copy_from_slice(b"sha256:");
        for (i, b) in self.0.iter().enumerate() {
            out[7 + 2 * i] = HEX[(b >> 4) as usize];
            out[8 + 2 * i] = HEX[(b & 0xf) as usize];
        }
        out
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text_bytes();
        // ASCII by construction.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("sha256:") {
            Some(hex) => Self::from_hex(hex).map_err(|_| DigestParseError(s.to_owned())),
            None => Err(DigestParseError(s.to_owned())),
        }
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.text_bytes();
        match std::str::from_utf8(&text) {
            Ok(t) => s.serialize_str(t),
            Err(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Sha256Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest of the form `sha256:<64 hex digits>`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Sha256Digest, E> {
                s.parse().map_err(E::custom)
            }
        }
        // Borrowed when the input allows it: no allocation per digest.
        d.deserialize_str(Visitor)
    }
}

/// The git blob id of `bytes` (`sha1("blob <len>\0" + bytes)`, lowercase hex): the
/// in-toto `gitBlob` digest, equal to `git hash-object`.
pub fn git_blob(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex_encode(&h.finalize())
}

/// Both digests of a file's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// SHA-256 of the bytes.
    pub sha256: Sha256Digest,
    /// The git blob id (hex).
    pub git_blob: String,
}

impl FileDigests {
    /// The digests of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            sha256: Sha256Digest::of(bytes),
            git_blob: git_blob(bytes),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_matches_the_known_vector() {
        assert_eq!(
            Sha256Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn digest_round_trips_through_its_string_form() {
        let d = Sha256Digest::of(b"abc");
        let s = d.to_string();
        assert_eq!(s.parse::<Sha256Digest>().unwrap(), d);
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{s}\""));
    }

    #[test]
    fn digest_rejects_missing_prefix_and_bad_hex() {
        assert!("e3b0".parse::<Sha256Digest>().is_err());
        assert!(
            format!("sha256:{}", "z".repeat(64))
                .parse::<Sha256Digest>()
                .is_err()
        );
        assert!("sha256:abc".parse::<Sha256Digest>().is_err());
    }

    #[test]
    fn digest_of_reader_equals_digest_of_bytes() {
        let data = vec![7u8; 200_000];
        assert_eq!(
            Sha256Digest::of_reader(&data[..]).unwrap(),
            Sha256Digest::of(&data)
        );
    }

    #[test]
    fn git_blob_matches_the_in_toto_example_and_git() {
        // in-toto digest_set.md: gitBlob of "Hello".
        assert_eq!(
            git_blob(b"Hello"),
            "5ab2f8a4323abafb10abb68657d9d39f1a775057"
        );
        // `git hash-object /dev/null`
        assert_eq!(git_blob(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }
}

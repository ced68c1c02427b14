//! Canonical JSON (RFC 8785, JCS) and the digests proofgate computes over JSON and
//! files.
//!
//! JCS is used only for JSON that is hashed without being signed byte-for-byte (the
//! tests digest, folder digests, ledger event ids). Signed payloads are hashed and
//! signed as the exact bytes written.

use serde::Serialize;
use sha1::{Digest as _, Sha1};

use crate::digest::{Sha256Digest, hex_encode};

/// A value that has no canonical JSON form.
#[derive(Debug, thiserror::Error)]
#[error("cannot canonicalise JSON (RFC 8785): {0}")]
pub struct JcsError(String);

impl JcsError {
    /// An error that is not about the value (a worker failed).
    pub(crate) fn internal(msg: &str) -> Self {
        Self(msg.to_owned())
    }
}

/// The RFC 8785 canonical bytes of `value`: members sorted by UTF-16 code units, no
/// whitespace, numbers written as ECMAScript does. NaN and infinities are errors.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, JcsError> {
    super::finite::check(value).map_err(|e| JcsError(e.to_string()))?;
    serde_jcs::to_vec(value).map_err(|e| JcsError(e.to_string()))
}

/// [`to_vec`] as a string.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JcsError> {
    super::finite::check(value).map_err(|e| JcsError(e.to_string()))?;
    serde_jcs::to_string(value).map_err(|e| JcsError(e.to_string()))
}

/// SHA-256 of the canonical bytes of `value`.
pub fn digest<T: Serialize + ?Sized>(value: &T) -> Result<Sha256Digest, JcsError> {
    Ok(Sha256Digest::of(&to_vec(value)?))
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
    fn git_blob_matches_the_in_toto_example_and_git() {
        // in-toto digest_set.md: gitBlob of "Hello".
        assert_eq!(
            git_blob(b"Hello"),
            "5ab2f8a4323abafb10abb68657d9d39f1a775057"
        );
        // `git hash-object /dev/null`
        assert_eq!(git_blob(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn jcs_sorts_keys_by_utf16_code_units() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"\ufb33":1,"\ud83d\ude00":2,"\r":3,"1":4}"#).unwrap();
        assert_eq!(
            to_string(&v).unwrap(),
            "{\"\\r\":3,\"1\":4,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn jcs_rejects_non_finite_numbers() {
        assert!(to_vec(&f64::NAN).is_err());
        assert!(to_vec(&[f64::INFINITY]).is_err());
        let nested: std::collections::BTreeMap<&str, Vec<f64>> =
            [("a", vec![1.0, f64::NAN])].into();
        assert!(to_vec(&nested).is_err());
    }

    #[test]
    fn jcs_matches_every_rfc8785_vector() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proof/jcs");
        let mut n = 0;
        for entry in std::fs::read_dir(dir.join("input")).unwrap() {
            let path = entry.unwrap().path();
            let input: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let expected =
                std::fs::read(dir.join("output").join(path.file_name().unwrap())).unwrap();
            assert_eq!(
                String::from_utf8(to_vec(&input).unwrap()).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{}",
                path.display()
            );
            n += 1;
        }
        assert!(n >= 7);
        let numbers = std::fs::read_to_string(dir.join("numbers.txt")).unwrap();
        let mut m = 0;
        for line in numbers
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (bits, text) = line.split_once(' ').unwrap();
            let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
            assert_eq!(to_string(&v).unwrap(), text, "{bits}");
            m += 1;
        }
        assert!(m >= 20);
    }
}

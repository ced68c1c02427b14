//! Canonical JSON (RFC 8785, JCS) and the digests proofgate computes over JSON.
//!
//! JCS is used only for JSON that is hashed without being signed byte-for-byte (the
//! tests digest, folder digests, ledger event ids). Signed payloads are hashed and
//! signed as the exact bytes written.

use serde::Serialize;

use super::Sha256Digest;

/// A value that has no canonical JSON form.
#[derive(Debug, thiserror::Error)]
#[error("cannot canonicalise JSON (RFC 8785): {0}")]
pub struct JcsError(String);

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

#[cfg(test)]
mod tests {
    use super::*;

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

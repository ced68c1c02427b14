//! Script identifiers: validated at construction so an unchecked string can never reach
//! a file name (`proof-<ID>.json`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A script's identifier: `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`.
///
/// Safe to use in file names: no separators, no leading dot, at most 128 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptId(String);

/// A string that is not a valid [`ScriptId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a valid script id: use 1 to 128 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit"
)]
pub struct ScriptIdError(pub String);

impl ScriptId {
    /// Validates `s` as a script id.
    pub fn new(s: &str) -> Result<Self, ScriptIdError> {
        if Self::is_valid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ScriptIdError(s.to_owned()))
        }
    }

    /// Whether `s` is a valid script id.
    pub fn is_valid(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b[0].is_ascii_alphanumeric()
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Derives an id from a path for a script that has none (ungoverned or broken header):
    /// the file name with every character outside the id alphabet replaced by `-`.
    pub(crate) fn derive_from_path(path: &str) -> Self {
        let name = path.rsplit('/').next().unwrap_or(path);
        let mut s: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .take(128)
            .collect();
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            s.insert(0, 'x');
            s.truncate(128);
        }
        Self(s)
    }
}

impl fmt::Display for ScriptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ScriptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScriptId({:?})", self.0)
    }
}

impl AsRef<str> for ScriptId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ScriptId {
    type Err = ScriptIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for ScriptId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScriptId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_id_accepts_goldenpath_ids() {
        for ok in ["SCRIPT-0058", "generate_script_matrix", "a", "v1.2-x_y"] {
            assert!(ScriptId::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn script_id_rejects_traversal_and_separators() {
        for bad in [
            "",
            "../x",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "é",
            &"a".repeat(129),
        ] {
            assert!(ScriptId::new(bad).is_err(), "{bad}");
        }
        assert!(ScriptId::new(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn derived_ids_are_always_valid() {
        for p in [
            "scripts/deploy.sh",
            "scripts/.hidden",
            "scripts/é x.py",
            "-",
        ] {
            let id = ScriptId::derive_from_path(p);
            assert!(ScriptId::is_valid(id.as_str()), "{p} -> {id}");
        }
    }

    #[test]
    fn script_id_serde_validates() {
        assert!(serde_json::from_str::<ScriptId>("\"../etc\"").is_err());
        let id: ScriptId = serde_json::from_str("\"SCRIPT-0001\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"SCRIPT-0001\"");
    }
}

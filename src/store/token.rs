//! Tokens: `pgt_<id>_<secret>`. The id (16 hex digits) finds the row; the secret (32
//! random bytes, base64url) is stored only as its SHA-256 and compared in constant
//! time, so neither a database dump nor response timing reveals a usable token.

use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use super::StoreError;
use crate::digest::Sha256Digest;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Publish runs (and read them).
    Publish,
    /// Read runs only.
    Read,
}

impl Role {
    /// `publish` or `read`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Publish => "publish",
            Role::Read => "read",
        }
    }

    /// The role stored as `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "publish" => Some(Role::Publish),
            "read" => Some(Role::Read),
            _ => None,
        }
    }
}

/// A token as handed to the user once, and what is stored of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The whole token (shown once, never stored).
    pub token: String,
    /// The row id.
    pub id: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
}

/// Makes a token from the system's random source.
pub fn generate() -> Result<NewToken, StoreError> {
    use ring::rand::SecureRandom as _;
    let rng = ring::rand::SystemRandom::new();
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill(&mut id).map_err(|_| StoreError::Random)?;
    rng.fill(&mut secret).map_err(|_| StoreError::Random)?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    Ok(NewToken {
        token: format!("pgt_{id}_{secret}"),
        hash: hash_secret(&secret),
        id,
    })
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    Sha256Digest::of(secret.as_bytes()).hex()
}

/// Splits a presented token into its id and secret; `None` when it is not one.
pub fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("pgt_")?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = !secret.is_empty()
        && secret.len() <= 128
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// Whether `secret` is the one whose hash is `stored`, in time independent of where
/// they differ.
pub fn matches(secret: &str, stored: &str) -> bool {
    let ours = hash_secret(secret);
    ours.as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_splits_and_matches_its_stored_hash() {
        let t = generate().unwrap();
        let (id, secret) = split(&t.token).unwrap();
        assert_eq!(id, t.id);
        assert!(matches(secret, &t.hash));
        assert!(!t.token.contains(&t.hash));
    }

    #[test]
    fn another_secret_does_not_match() {
        let t = generate().unwrap();
        let u = generate().unwrap();
        let (_, secret) = split(&u.token).unwrap();
        assert!(!matches(secret, &t.hash));
    }

    #[test]
    fn malformed_tokens_do_not_split() {
        for bad in [
            "",
            "pgt_",
            "pgt_0123456789abcdef",
            "pgt_0123456789abcdeX_abc",
            "pgt_0123_abc",
            "xyz_0123456789abcdef_abc",
            "pgt_0123456789abcdef_a b",
        ] {
            assert_eq!(split(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(generate().unwrap().token, generate().unwrap().token);
    }
}

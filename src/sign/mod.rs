//! Signing keys, DSSE envelopes and in-toto statements (DESIGN.md §2.3).
//!
//! Keys are ed25519 (via `ring`). A [`SigningKey`] loads from PKCS#8 DER, PEM
//! (`-----BEGIN PRIVATE KEY-----`, including the PKCS#8 v1 form `openssl genpkey
//! -algorithm ed25519` writes) or base64 DER. A [`PublicKey`] is the raw 32-byte key;
//! it parses from base64, hex or PEM SPKI. A [`KeyId`] is the lowercase hex SHA-256 of
//! the raw public key (the in-toto convention).
//!
//! [`dsse`] signs and verifies envelopes over `PAE(payloadType, payload)`; [`intoto`]
//! holds the Statement v1 and test-result predicate types.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use crate::digest::{Sha256Digest, hex_encode};

pub mod dsse;
pub mod intoto;
mod pem;

/// The environment variable `generate` reads a signing key from by default.
pub const DEFAULT_KEY_ENV: &str = "PROOFGATE_SIGNING_KEY";

/// The DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410): the raw key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a key, a signature or an envelope was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// The private key bytes are not an ed25519 PKCS#8 document.
    #[error("not an ed25519 private key in PKCS#8 form: {0}")]
    BadPrivateKey(String),
    /// The public key text is not a 32-byte ed25519 key in a known encoding.
    #[error("not an ed25519 public key (expected base64 or hex of 32 bytes, or PEM SPKI): {0}")]
    BadPublicKey(String),
    /// The envelope is not DSSE JSON.
    #[error("not a DSSE envelope: {0}")]
    BadEnvelope(String),
    /// A field of the envelope is not valid base64.
    #[error("envelope field `{field}` is not base64")]
    BadBase64 {
        /// `payload` or `signatures[i].sig`.
        field: String,
    },
    /// The envelope carries no signature at all.
    #[error("the envelope has no signatures")]
    NoSignatures,
    /// No signature verified against any trusted key.
    #[error(
        "no signature verifies against a trusted key ({signatures} signature(s), {trusted} trusted key(s))"
    )]
    NotVerified {
        /// How many signatures the envelope carries.
        signatures: usize,
        /// How many keys were trusted.
        trusted: usize,
    },
    /// The verified payload has another type than the caller expects.
    #[error("payload type is `{found}`, expected `{expected}`")]
    WrongPayloadType {
        /// What the caller expects.
        expected: String,
        /// What the envelope says.
        found: String,
    },
}

/// The id of a public key: lowercase hex SHA-256 of its raw 32 bytes.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// The id of a raw public key.
    pub fn of(raw: &[u8; 32]) -> Self {
        Self(Sha256Digest::of(raw).hex())
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ed25519 public key (raw 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Wraps raw key bytes.
    pub const fn from_bytes(raw: [u8; 32]) -> Self {
        Self(raw)
    }

    /// The raw key bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses a key written as base64 (standard or URL-safe) or hex of the raw 32 bytes,
    /// as base64 of the DER SPKI, or as PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn parse(text: &str) -> Result<Self, SignError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(SignError::BadPublicKey("empty".into()));
        }
        if t.starts_with("-----BEGIN") {
            let der = pem::decode(t, "PUBLIC KEY").map_err(SignError::BadPublicKey)?;
            return Self::from_spki_der(&der);
        }
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let d =
                Sha256Digest::from_hex(t).map_err(|_| SignError::BadPublicKey("bad hex".into()))?;
            return Ok(Self(*d.as_bytes()));
        }
        let bytes = decode_base64(t)
            .ok_or_else(|| SignError::BadPublicKey("neither hex, base64 nor PEM".into()))?;
        match bytes.len() {
            32 => {
                let mut raw = [0u8; 32];
                raw.copy_from_slice(&bytes);
                Ok(Self(raw))
            }
            44 => Self::from_spki_der(&bytes),
            n => Err(SignError::BadPublicKey(format!(
                "decodes to {n} bytes, expected 32 (raw) or 44 (SPKI)"
            ))),
        }
    }

    /// Reads the raw key out of an ed25519 SubjectPublicKeyInfo DER document.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SignError> {
        match der.strip_prefix(&SPKI_ED25519_PREFIX[..]) {
            Some(raw) if raw.len() == 32 => {
                let mut out = [0u8; 32];
                out.copy_from_slice(raw);
                Ok(Self(out))
            }
            _ => Err(SignError::BadPublicKey(
                "the PEM/DER document is not an ed25519 SubjectPublicKeyInfo".into(),
            )),
        }
    }

    /// The key id (hex SHA-256 of the raw key).
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.0)
    }

    /// Standard base64 of the raw key.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Lowercase hex of the raw key.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// The key as PEM SPKI (`-----BEGIN PUBLIC KEY-----`), as OpenSSL writes it.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem::encode("PUBLIC KEY", &der)
    }

    /// Whether `sig` is a valid ed25519 signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, sig)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = SignError;
    fn from_str(s: &str) -> Result<Self, SignError> {
        Self::parse(s)
    }
}

/// An ed25519 signing key. Its `Debug` output names only the key id.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl SigningKey {
    /// Loads a PKCS#8 DER document (v2 with the public key, as `ring` writes it, or v1
    /// without it, as `openssl genpkey -algorithm ed25519` writes it).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| SignError::BadPrivateKey(e.to_string()))?;
        let mut raw = [0u8; 32];
        let pk = pair.public_key().as_ref();
        if pk.len() != 32 {
            return Err(SignError::BadPrivateKey(
                "public key is not 32 bytes".into(),
            ));
        }
        raw.copy_from_slice(pk);
        Ok(Self {
            pair,
            public: PublicKey(raw),
        })
    }

    /// Loads a key from text: PEM (`-----BEGIN PRIVATE KEY-----`) or base64 of the
    /// PKCS#8 DER. Error messages never contain the key material.
    pub fn from_text(text: &str) -> Result<Self, SignError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(SignError::BadPrivateKey("empty".into()));
        }
        let mut der = if t.starts_with("-----BEGIN") {
            if t.contains("OPENSSH PRIVATE KEY") {
                return Err(SignError::BadPrivateKey(
                    "OpenSSH keys are not supported; convert with `ssh-keygen -p -m PKCS8` or make one with `proofgate keygen`".into(),
                ));
            }
            pem::decode(t, "PRIVATE KEY").map_err(SignError::BadPrivateKey)?
        } else {
            decode_base64(t)
                .ok_or_else(|| SignError::BadPrivateKey("neither PEM nor base64 PKCS#8".into()))?
        };
        let key = Self::from_pkcs8_der(&der);
        wipe(&mut der);
        key
    }

    /// Makes a new random key; returns it with its PKCS#8 v2 DER encoding.
    pub fn generate() -> Result<(Self, Vec<u8>), SignError> {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| SignError::BadPrivateKey("the system random source failed".into()))?;
        let der = doc.as_ref().to_vec();
        let key = Self::from_pkcs8_der(&der)?;
        Ok((key, der))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The id of the matching public key.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    /// An ed25519 signature (64 bytes) of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey {{ key_id: {}, .. }}", self.key_id())
    }
}

/// Where a signing key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable holding PEM or base64 PKCS#8.
    Env(String),
    /// A file holding PEM, base64 or raw DER PKCS#8.
    File(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env(v) => write!(f, "environment variable `{v}`"),
            KeySource::File(p) => write!(f, "file `{}`", p.display()),
        }
    }
}

/// A signing key that could not be loaded; says from where and why, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    /// The variable is unset or empty.
    #[error("{source_name} is not set or empty")]
    Missing {
        /// Which source.
        source_name: KeySource,
    },
    /// The file could not be read.
    #[error("cannot read signing key from {source_name}: {error}")]
    Io {
        /// Which source.
        source_name: KeySource,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The bytes are not a usable key.
    #[error("signing key in {source_name} is not usable: {error}")]
    Invalid {
        /// Which source.
        source_name: KeySource,
        /// Why.
        error: SignError,
    },
}

/// Loads a signing key from `source`, reading variables through `env` (injected so
/// the core stays pure) and files from disk.
pub fn load_signing_key(
    source: &KeySource,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SigningKey, KeyLoadError> {
    let invalid = |error| KeyLoadError::Invalid {
        source_name: source.clone(),
        error,
    };
    match source {
        KeySource::Env(var) => match env(var) {
            Some(mut v) if !v.trim().is_empty() => {
                let key = SigningKey::from_text(&v).map_err(invalid);
                wipe_string(&mut v);
                key
            }
            _ => Err(KeyLoadError::Missing {
                source_name: source.clone(),
            }),
        },
        KeySource::File(path) => {
            let mut bytes = read_file(path).map_err(|error| KeyLoadError::Io {
                source_name: source.clone(),
                error,
            })?;
            let key = match std::str::from_utf8(&bytes) {
                Ok(text) if !text.trim().is_empty() => SigningKey::from_text(text),
                Ok(_) => Err(SignError::BadPrivateKey("the file is empty".into())),
                Err(_) => SigningKey::from_pkcs8_der(&bytes),
            };
            wipe(&mut bytes);
            key.map_err(invalid)
        }
    }
}

fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    // A key file is tiny; refuse to slurp anything large.
    f.take(64 * 1024).read_to_end(&mut out)?;
    Ok(out)
}

/// Best-effort overwrite of a buffer that held secret material.
fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
}

fn wipe_string(s: &mut String) {
    let mut v = std::mem::take(s).into_bytes();
    wipe(&mut v);
}

/// Decodes standard or URL-safe base64, padded or not, ignoring ASCII whitespace.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // Signatures and payloads are one line: copy only when there is whitespace to drop.
    let compact: std::borrow::Cow<'_, str> = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        text.chars().filter(|c| !c.is_ascii_whitespace()).collect()
    } else {
        text.into()
    };
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(v) = engine.decode(compact.as_bytes()) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl genpkey -algorithm ed25519` output (PKCS#8 v1, no public key) for the
    // RFC 8032 §7.1 TEST 1 secret key.
    const RFC8032_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
-----END PRIVATE KEY-----\n";
    const RFC8032_PUB_HEX: &str =
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC8032_SIG_EMPTY_HEX: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    #[test]
    fn base64_decodes_the_same_with_or_without_whitespace() {
        assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64(" aG\nk=\r\n"), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("aGk"), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("a*k="), None);
    }

    #[test]
    fn pkcs8_v1_pem_loads_and_signs_the_rfc8032_vector() {
        let key = SigningKey::from_text(RFC8032_PEM).unwrap();
        assert_eq!(key.public_key().to_hex(), RFC8032_PUB_HEX);
        assert_eq!(hex_encode(&key.sign(b"")), RFC8032_SIG_EMPTY_HEX);
    }

    #[test]
    fn generated_key_round_trips_through_base64_der() {
        let (key, der) = SigningKey::generate().unwrap();
        let again = SigningKey::from_text(&STANDARD.encode(&der)).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let sig = key.sign(b"msg");
        assert!(again.public_key().verify(b"msg", &sig));
        assert!(!again.public_key().verify(b"msh", &sig));
    }

    #[test]
    fn public_key_parses_from_base64_hex_and_pem() {
        let key = SigningKey::from_text(RFC8032_PEM).unwrap();
        let pk = key.public_key();
        assert_eq!(PublicKey::parse(&pk.to_base64()).unwrap(), pk);
        assert_eq!(PublicKey::parse(&pk.to_hex()).unwrap(), pk);
        assert_eq!(PublicKey::parse(&pk.to_pem()).unwrap(), pk);
        assert!(PublicKey::parse("abc").is_err());
        assert!(PublicKey::parse("").is_err());
    }

    #[test]
    fn key_id_is_sha256_of_raw_public_key() {
        let pk = PublicKey::parse(RFC8032_PUB_HEX).unwrap();
        assert_eq!(pk.key_id().as_str(), Sha256Digest::of(pk.as_bytes()).hex());
    }

    #[test]
    fn debug_output_never_contains_secret_material() {
        let key = SigningKey::from_text(RFC8032_PEM).unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains(key.key_id().as_str()));
        assert!(!dbg.contains("9d61b19d"));
        assert!(!dbg.contains("MC4CAQAw"));
    }

    #[test]
    fn bad_key_text_errors_without_echoing_it() {
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        let err = SigningKey::from_text(secret).unwrap_err().to_string();
        assert!(!err.contains(secret), "{err}");
        let err = load_signing_key(&KeySource::Env("K".into()), |_| Some(secret.into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("environment variable `K`"), "{err}");
        assert!(!err.contains(secret), "{err}");
    }

    #[test]
    fn missing_env_key_names_the_variable() {
        let err = load_signing_key(&KeySource::Env("PG_KEY".into()), |_| None)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "environment variable `PG_KEY` is not set or empty");
    }

    #[test]
    fn key_file_loads_pem_and_raw_der() {
        let dir = tempfile::tempdir().unwrap();
        let pem_path = dir.path().join("k.pem");
        std::fs::write(&pem_path, RFC8032_PEM).unwrap();
        let k = load_signing_key(&KeySource::File(pem_path), |_| None).unwrap();
        assert_eq!(k.public_key().to_hex(), RFC8032_PUB_HEX);
        let (_, der) = SigningKey::generate().unwrap();
        let der_path = dir.path().join("k.der");
        std::fs::write(&der_path, &der).unwrap();
        assert!(load_signing_key(&KeySource::File(der_path), |_| None).is_ok());
        let missing = load_signing_key(&KeySource::File(dir.path().join("nope")), |_| None)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("nope"), "{missing}");
    }

    #[test]
    fn openssh_keys_get_a_clear_error() {
        let err = SigningKey::from_text(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("OpenSSH"), "{err}");
    }
}

//! DSSE v1 envelopes: `Sign(PAE(payloadType, payload))` with ed25519.
//!
//! [`verify`] checks the signatures against trusted keys *before* anything reads the
//! payload, and returns the verified bytes: callers parse only those, never the
//! envelope again.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{KeyId, PublicKey, SignError, SigningKey, decode_base64};

/// At most this many signatures are looked at in one envelope (bounds the work an
/// untrusted envelope can ask for).
pub const MAX_SIGNATURES: usize = 64;

/// The DSSE pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let t = payload_type.as_bytes();
    let mut out = Vec::with_capacity(payload.len() + t.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(t);
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature in an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// An unauthenticated hint naming the key (its [`KeyId`]); may be empty.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the signature.
    pub sig: String,
}

/// A DSSE envelope (JSON field names as in the DSSE spec).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 of the serialized body.
    pub payload: String,
    /// The media type of the body; authenticated through PAE.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures.
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Parses envelope JSON (does not verify anything).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SignError> {
        serde_json::from_slice(bytes).map_err(|e| SignError::BadEnvelope(e.to_string()))
    }

    /// Pretty JSON with a trailing newline, as written to `*.dsse.json`.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        // Serialising plain strings cannot fail.
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// The outcome of a successful [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The payload type (authenticated).
    pub payload_type: String,
    /// The verified payload bytes: the only bytes a caller may parse.
    pub payload: Vec<u8>,
    /// The id of the first trusted key whose signature verified.
    pub key_id: KeyId,
    /// Every distinct trusted key whose signature verified (each key counted once).
    pub key_ids: Vec<KeyId>,
}

/// Signs `payload` with one key.
pub fn sign(key: &SigningKey, payload_type: &str, payload: &[u8]) -> Envelope {
    let sig = key.sign(&pae(payload_type, payload));
    Envelope {
        payload: STANDARD.encode(payload),
        payload_type: payload_type.to_owned(),
        signatures: vec![Signature {
            keyid: key.key_id().to_string(),
            sig: STANDARD.encode(sig),
        }],
    }
}

/// Verifies `env` against `trusted` keys. A signature whose `keyid` hint is set is
/// tried only against the trusted key with that id; one without a hint is tried
/// against every trusted key. Succeeds when at least one signature verifies.
pub fn verify(env: &Envelope, trusted: &[PublicKey]) -> Result<Verified, SignError> {
    if env.signatures.is_empty() {
        return Err(SignError::NoSignatures);
    }
    let payload = decode_base64(&env.payload).ok_or_else(|| SignError::BadBase64 {
        field: "payload".into(),
    })?;
    let msg = pae(&env.payload_type, &payload);
    let ids: Vec<KeyId> = trusted.iter().map(PublicKey::key_id).collect();
    let mut verified: Vec<KeyId> = Vec::new();
    for s in env.signatures.iter().take(MAX_SIGNATURES) {
        let Some(sig) = decode_base64(&s.sig) else {
            continue;
        };
        for (key, id) in trusted.iter().zip(&ids) {
            if !s.keyid.is_empty() && s.keyid != id.as_str() {
                continue;
            }
            if verified.contains(id) {
                continue;
            }
            if key.verify(&msg, &sig) {
                verified.push(id.clone());
            }
        }
    }
    match verified.first() {
        Some(first) => Ok(Verified {
            payload_type: env.payload_type.clone(),
            payload,
            key_id: first.clone(),
            key_ids: verified,
        }),
        None => Err(SignError::NotVerified {
            signatures: env.signatures.len(),
            trusted: trusted.len(),
        }),
    }
}

/// [`verify`], then checks that the payload type is `expected`.
pub fn verify_typed(
    env: &Envelope,
    expected: &str,
    trusted: &[PublicKey],
) -> Result<Verified, SignError> {
    let v = verify(env, trusted)?;
    if v.payload_type != expected {
        return Err(SignError::WrongPayloadType {
            expected: expected.to_owned(),
            found: v.payload_type,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn signed_envelope_verifies_and_returns_the_payload() {
        let (key, _) = SigningKey::generate().unwrap();
        let env = sign(&key, "application/x", b"body");
        let v = verify(&env, &[key.public_key()]).unwrap();
        assert_eq!(v.payload, b"body");
        assert_eq!(v.key_id, key.key_id());
        assert!(verify_typed(&env, "application/y", &[key.public_key()]).is_err());
    }

    #[test]
    fn any_tampering_is_rejected() {
        let (key, _) = SigningKey::generate().unwrap();
        let trusted = [key.public_key()];
        let env = sign(&key, "application/x", b"body");

        let mut t = env.clone();
        t.payload = STANDARD.encode(b"bodz");
        assert!(verify(&t, &trusted).is_err(), "payload");

        let mut t = env.clone();
        t.payload_type = "application/y".into();
        assert!(verify(&t, &trusted).is_err(), "payload type");

        let mut t = env.clone();
        let mut sig = STANDARD.decode(&t.signatures[0].sig).unwrap();
        sig[10] ^= 1;
        t.signatures[0].sig = STANDARD.encode(sig);
        assert!(verify(&t, &trusted).is_err(), "signature");

        let mut t = env.clone();
        let mut kid = t.signatures[0].keyid.clone().into_bytes();
        kid[0] = if kid[0] == b'0' { b'1' } else { b'0' };
        t.signatures[0].keyid = String::from_utf8(kid).unwrap();
        assert!(verify(&t, &trusted).is_err(), "key id");

        let mut t = env.clone();
        t.signatures.clear();
        assert_eq!(verify(&t, &trusted), Err(SignError::NoSignatures));

        let (other, _) = SigningKey::generate().unwrap();
        assert!(
            verify(&env, &[other.public_key()]).is_err(),
            "untrusted key"
        );
        assert!(verify(&env, &[]).is_err(), "no trusted keys");
    }

    #[test]
    fn url_safe_base64_and_empty_keyid_are_accepted() {
        let (key, _) = SigningKey::generate().unwrap();
        let payload = vec![0xfbu8, 0xff, 0xfe, 0x3e];
        let mut env = sign(&key, "t", &payload);
        env.payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&payload);
        env.signatures[0].keyid.clear();
        let v = verify(&env, &[key.public_key()]).unwrap();
        assert_eq!(v.payload, payload);
    }

    #[test]
    fn each_trusted_key_counts_once() {
        let (a, _) = SigningKey::generate().unwrap();
        let (b, _) = SigningKey::generate().unwrap();
        let mut env = sign(&a, "t", b"x");
        let again = env.signatures[0].clone();
        env.signatures.push(again);
        env.signatures
            .push(sign(&b, "t", b"x").signatures[0].clone());
        let v = verify(&env, &[a.public_key(), b.public_key()]).unwrap();
        assert_eq!(v.key_ids, vec![a.key_id(), b.key_id()]);
    }

    #[test]
    fn envelope_json_uses_dsse_field_names() {
        let (key, _) = SigningKey::generate().unwrap();
        let env = sign(&key, "t", b"x");
        let json = String::from_utf8(env.to_json_pretty()).unwrap();
        assert!(json.contains("\"payloadType\""));
        assert_eq!(Envelope::from_json(json.as_bytes()).unwrap(), env);
        assert!(Envelope::from_json(b"{}").is_err());
    }
}

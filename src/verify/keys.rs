//! Trusted keys as an [`EnvelopeVerifier`].

use super::gate::{EnvelopeFailure, EnvelopeVerifier, VerifiedEnvelope};

/// The trusted public keys, checked against DSSE envelopes.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<crate::sign::PublicKey>,
}

impl TrustedKeys {
    /// Trusts `keys`.
    pub fn new(keys: Vec<crate::sign::PublicKey>) -> Self {
        Self { keys }
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl EnvelopeVerifier for TrustedKeys {
    fn verify(&self, envelope: &[u8]) -> Result<VerifiedEnvelope, EnvelopeFailure> {
        use crate::sign::dsse;
        let env = dsse::Envelope::from_json(envelope)
            .map_err(|e| EnvelopeFailure::Invalid(e.to_string()))?;
        match dsse::verify(&env, &self.keys) {
            Ok(v) => Ok(VerifiedEnvelope {
                payload: v.payload,
                payload_type: v.payload_type,
                keyid: v.key_id.as_str().to_owned(),
            }),
            Err(e) => {
                // Name the signer when none of its key ids is trusted; otherwise the
                // signature itself is bad.
                let trusted: Vec<String> = self
                    .keys
                    .iter()
                    .map(|k| k.key_id().as_str().to_owned())
                    .collect();
                let hinted: Vec<&str> = env
                    .signatures
                    .iter()
                    .map(|s| s.keyid.as_str())
                    .filter(|k| !k.is_empty())
                    .collect();
                if !hinted.is_empty() && hinted.iter().all(|k| !trusted.iter().any(|t| t == k)) {
                    Err(EnvelopeFailure::Untrusted(hinted.join(", ")))
                } else {
                    Err(EnvelopeFailure::Invalid(e.to_string()))
                }
            }
        }
    }
}

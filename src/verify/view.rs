//! The gate's view of the certification model: scripts, policy and trusted keys.

use crate::model::{self, Model};

use super::gate::{Evidence, GatePolicy, GateScript, Impact};
use super::keys::TrustedKeys;

/// A trusted key that is not an ed25519 public key.
#[derive(Debug, thiserror::Error)]
#[error("trusted key `{name}` is not an ed25519 public key: {source}")]
pub struct BadTrustedKey {
    /// The key's name, or its text when it has none.
    pub name: String,
    /// Why.
    #[source]
    pub source: crate::sign::SignError,
}

fn impact(i: model::Impact) -> Impact {
    match i {
        model::Impact::None => Impact::None,
        model::Impact::Low => Impact::Low,
        model::Impact::Medium => Impact::Medium,
        model::Impact::High => Impact::High,
    }
}

/// The model's scripts as the gate sees them.
pub fn scripts(m: &Model) -> Vec<GateScript> {
    m.scripts
        .iter()
        .map(|s| GateScript {
            id: s.id.to_string(),
            path: s.path.clone(),
            header_line: Some(s.header_line),
            evidence: s.evidence.map(|e| match e {
                model::Evidence::Manual => Evidence::Manual,
                model::Evidence::Declared => Evidence::Declared,
                model::Evidence::Ci => Evidence::Ci,
            }),
            maturity: Some(s.maturity),
            production_impact: s
                .header
                .risk_profile
                .as_ref()
                .and_then(|r| r.production_impact)
                .map(impact),
            test_files: s.test_files.clone(),
        })
        .collect()
}

/// The model's policy; `require_signatures` also when `force_signatures`.
pub fn policy(m: &Model, force_signatures: bool) -> GatePolicy {
    GatePolicy {
        require_signatures: m.policy.require_signatures || force_signatures,
        max_age: m.policy.max_age,
        reuse_same_content: m.policy.reuse == model::Reuse::SameContent,
        manual_forbidden_for: m
            .policy
            .manual_forbidden_for
            .iter()
            .copied()
            .map(impact)
            .collect(),
        ci_required_for: m
            .policy
            .ci_required_for
            .iter()
            .copied()
            .map(impact)
            .collect(),
    }
}

/// The model's trusted keys plus `extra` ones.
pub fn trusted_keys(
    m: &Model,
    extra: Vec<crate::sign::PublicKey>,
) -> Result<TrustedKeys, BadTrustedKey> {
    let mut keys = Vec::with_capacity(m.trusted_keys.len() + extra.len());
    for k in &m.trusted_keys {
        let key = crate::sign::PublicKey::parse(&k.public_key).map_err(|source| BadTrustedKey {
            name: k.name.clone().unwrap_or_else(|| k.public_key.clone()),
            source,
        })?;
        keys.push(key);
    }
    keys.extend(extra);
    Ok(TrustedKeys::new(keys))
}

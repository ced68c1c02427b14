//! The gate's view of the certification model: scripts, policy and trusted keys.

use crate::model::{Finding, Model, Severity};

use super::gate::{GatePolicy, GateScript};
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

/// The model's scripts as the gate sees them, each with the lint errors found in its own
/// file; and the lint errors that belong to no script (a header that does not parse, a
/// bad `proofgate.yaml` entry). Every lint error is a gate error.
pub fn scripts(m: &Model, findings: &[Finding]) -> (Vec<GateScript>, Vec<String>) {
    let mut scripts: Vec<GateScript> = m
        .scripts
        .iter()
        .map(|s| GateScript {
            id: s.id.to_string(),
            path: s.path.clone(),
            header_line: Some(s.header_line),
            evidence: s.evidence,
            maturity: Some(s.maturity),
            production_impact: s
                .header
                .risk_profile
                .as_ref()
                .and_then(|r| r.production_impact),
            test_files: s.test_files.clone(),
            lint_errors: Vec::new(),
            downgrades: Vec::new(),
        })
        .collect();
    let mut loose = Vec::new();
    for f in findings.iter().filter(|f| f.severity == Severity::Error) {
        let mut owners = scripts.iter_mut().filter(|s| s.path == f.path).peekable();
        if owners.peek().is_none() {
            loose.push(f.to_string());
        }
        for s in owners {
            s.lint_errors.push(format!(
                "{}:{}: {} [{}]",
                f.line, f.column, f.message, f.code
            ));
        }
    }
    (scripts, loose)
}

/// The model's policy; `require_signatures` also when `force_signatures`.
pub fn policy(m: &Model, force_signatures: bool) -> GatePolicy {
    GatePolicy {
        require_signatures: m.policy.require_signatures || force_signatures,
        max_age: m.policy.max_age,
        reuse_same_content: m.policy.reuse == crate::model::Reuse::SameContent,
        manual_forbidden_for: m.policy.manual_forbidden_for.clone(),
        ci_required_for: m.policy.ci_required_for.clone(),
        flaky: m.policy.flaky,
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

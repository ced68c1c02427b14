//! What the replay sets for the command: the recorded non-secret variables as they were,
//! and each redacted one from the replay's own environment — never the redaction
//! marker.

use std::collections::BTreeMap;

use crate::bundle::environment::{Environment, is_redacted};

/// Recorded variables whose values were redacted and that the replay's environment does
/// not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the recorded run had {} redacted, and a replay never uses the redaction marker: set {} in the environment and replay again",
    names.join(", "),
    if names.len() == 1 { "it" } else { "them" }
)]
pub struct MissingSecrets {
    /// The variables to set, sorted.
    pub names: Vec<String>,
}

impl crate::exit::Failure for MissingSecrets {
    fn exit_class(&self) -> crate::exit::ExitClass {
        crate::exit::ExitClass::Usage
    }
}

/// The variables to set for the replayed command: each recorded one with its recorded
/// value, a redacted one with its value from `current` (the replay's environment).
pub fn command_env(
    recorded: Option<&Environment>,
    current: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, MissingSecrets> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for (k, v) in recorded.map(|e| &e.env).into_iter().flatten() {
        if is_redacted(v) {
            match current(k) {
                Some(value) => {
                    out.insert(k.clone(), value);
                }
                None => missing.push(k.clone()),
            }
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(MissingSecrets { names: missing })
    }
}

/// The recorded variables whose values were redacted, sorted.
pub fn redacted_names(recorded: Option<&Environment>) -> Vec<String> {
    recorded
        .map(|e| &e.env)
        .into_iter()
        .flatten()
        .filter(|(_, v)| is_redacted(v))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::environment::Platform;

    fn recorded(vars: &[(&str, &str)]) -> Environment {
        Environment {
            platform: Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
                kernel: None,
            },
            tools: BTreeMap::new(),
            env: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            named: Vec::new(),
        }
    }

    #[test]
    fn recorded_values_are_set_and_the_current_environment_does_not_change_them() {
        let r = recorded(&[("PYTHONHASHSEED", "1234"), ("TZ", "UTC")]);
        let env = command_env(Some(&r), |k| (k == "PYTHONHASHSEED").then(|| "99".into())).unwrap();
        assert_eq!(env["PYTHONHASHSEED"], "1234");
        assert_eq!(env["TZ"], "UTC");
        assert!(command_env(None, |_| None).unwrap().is_empty());
    }

    #[test]
    fn a_redacted_value_comes_from_the_environment_or_the_replay_says_what_to_set() {
        let r = recorded(&[
            ("API_TOKEN", "[REDACTED:env:API_TOKEN]"),
            ("PYTEST_ADDOPTS", "[REDACTED:github-token]"),
            ("LANG", "C.UTF-8"),
        ]);
        let err = command_env(Some(&r), |_| None).unwrap_err();
        assert_eq!(err.names, ["API_TOKEN", "PYTEST_ADDOPTS"]);
        let text = err.to_string();
        assert!(text.contains("API_TOKEN, PYTEST_ADDOPTS"), "{text}");
        assert!(text.contains("set them in the environment"), "{text}");
        let env = command_env(Some(&r), |k| Some(format!("real-{k}"))).unwrap();
        assert_eq!(env["API_TOKEN"], "real-API_TOKEN");
        assert!(env.values().all(|v| !v.contains("REDACTED")));
        assert_eq!(redacted_names(Some(&r)), ["API_TOKEN", "PYTEST_ADDOPTS"]);
    }
}

//! The transport's view of the run environment: read once at the edge, passed in
//! everywhere else.

use std::time::Duration;

use super::ArtifactError;
use super::http::RetryPolicy;
use crate::env::{self as run_env, RunnerEnv};

/// What the transport reads from the environment: the runner's variables
/// ([`RunnerEnv`]) and proofgate's own tuning. Build it from the process with
/// [`Env::from_process`] or from pairs in tests with [`Env::from_pairs`]. Values are
/// trimmed and a blank one counts as unset ([`crate::env::value`]).
///
/// | variable | use |
/// | --- | --- |
/// | `ACTIONS_RUNTIME_TOKEN`, `ACTIONS_RESULTS_URL` | Twirp calls (upload, same-run download) |
/// | `GITHUB_API_URL` | REST base (default `https://api.github.com`) |
/// | `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID` | artifact URLs, default repository |
/// | `GITHUB_JOB`, `GITHUB_RUN_ATTEMPT` | default artifact names |
/// | `GITHUB_RETENTION_DAYS` | the repository's maximum retention |
/// | `GITHUB_OUTPUT` | step outputs |
/// | `ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY` | parallel block uploads |
/// | `PROOFGATE_RETRY_BASE_MS`, `PROOFGATE_RETRY_ATTEMPTS` | retry tuning |
/// | `PROOFGATE_HTTP_TIMEOUT_MS` | per-request and per-read stall timeout |
#[derive(Debug, Clone, Default)]
pub struct Env {
    runner: RunnerEnv,
    retry_base_ms: Option<String>,
    retry_attempts: Option<String>,
    http_timeout_ms: Option<String>,
}

impl Env {
    /// Reads the variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            runner: RunnerEnv::from_lookup(&lookup),
            retry_base_ms: run_env::value(&lookup, "PROOFGATE_RETRY_BASE_MS"),
            retry_attempts: run_env::value(&lookup, "PROOFGATE_RETRY_ATTEMPTS"),
            http_timeout_ms: run_env::value(&lookup, "PROOFGATE_HTTP_TIMEOUT_MS"),
        }
    }

    /// The variables of this process.
    pub fn from_process() -> Self {
        Self::from_lookup(run_env::process_lookup)
    }

    /// The given variables only.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars: std::collections::BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_lookup(|k| vars.get(k).cloned())
    }

    /// The runner's variables.
    pub fn runner(&self) -> &RunnerEnv {
        &self.runner
    }

    /// `ACTIONS_RUNTIME_TOKEN`.
    pub fn runtime_token(&self) -> Option<&str> {
        self.runner.runtime_token.as_deref()
    }

    /// The results service: `ACTIONS_RUNTIME_TOKEN` and `ACTIONS_RESULTS_URL`, or an
    /// error naming the one that is missing and what it was `for_token` / `for_url`.
    pub fn results_service(
        &self,
        for_token: &'static str,
        for_url: &'static str,
    ) -> Result<(&str, &str), ArtifactError> {
        let token = self.runtime_token().ok_or(ArtifactError::MissingEnv {
            var: "ACTIONS_RUNTIME_TOKEN",
            why: for_token,
        })?;
        let url = self
            .runner
            .results_url
            .as_deref()
            .ok_or(ArtifactError::MissingEnv {
                var: "ACTIONS_RESULTS_URL",
                why: for_url,
            })?;
        Ok((token, url))
    }

    /// The retry policy: 5 attempts, 3 s base, unless `PROOFGATE_RETRY_*` say otherwise.
    pub fn retry_policy(&self) -> RetryPolicy {
        let mut p = RetryPolicy::default();
        if let Some(ms) = self.retry_base_ms.as_deref().and_then(|v| v.parse().ok()) {
            p.base_delay = Duration::from_millis(ms);
        }
        if let Some(n) = self
            .retry_attempts
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok())
        {
            p.attempts = n.max(1);
        }
        p
    }

    /// Stall timeout for one request or one body read (default 5 minutes).
    pub fn http_timeout(&self) -> Duration {
        Duration::from_millis(
            self.http_timeout_ms
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(300_000),
        )
    }

    /// Parallel block uploads: `ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY` (1–32), default 4.
    pub fn upload_concurrency(&self) -> usize {
        self.runner
            .upload_concurrency
            .as_deref()
            .and_then(|v| v.parse::<usize>().ok())
            .map(|n| n.clamp(1, 32))
            .unwrap_or(4)
    }

    /// The REST API base URL without a trailing slash.
    pub fn api_url(&self) -> String {
        self.runner.api().to_owned()
    }

    /// The URL of an artifact of this run, when the environment names the run.
    pub fn artifact_url(&self, artifact_id: impl std::fmt::Display) -> Option<String> {
        let (repo, run) = (
            self.runner.repository.as_deref()?,
            self.runner.run_id.as_deref()?,
        );
        Some(format!(
            "{}/artifacts/{artifact_id}",
            run_env::run_url(self.runner.server_url.as_deref(), repo, run, None)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_variables_count_as_unset_and_values_are_trimmed() {
        let env = Env::from_pairs([
            ("ACTIONS_RUNTIME_TOKEN", " \t"),
            ("ACTIONS_RESULTS_URL", " https://results.example/ "),
            ("PROOFGATE_HTTP_TIMEOUT_MS", " 250 "),
            ("ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY", ""),
        ]);
        assert_eq!(env.runtime_token(), None);
        assert_eq!(
            env.runner().results_url.as_deref(),
            Some("https://results.example/")
        );
        assert_eq!(env.http_timeout(), Duration::from_millis(250));
        assert_eq!(env.upload_concurrency(), 4);
        let err = env.results_service("t", "u").unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::MissingEnv {
                    var: "ACTIONS_RUNTIME_TOKEN",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn artifact_url_is_the_run_url_and_the_artifact_id() {
        let env = Env::from_pairs([
            ("GITHUB_SERVER_URL", "https://ghe.example/"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "3"),
        ]);
        assert_eq!(
            env.artifact_url(9).as_deref(),
            Some("https://ghe.example/o/r/actions/runs/42/artifacts/9")
        );
        assert_eq!(Env::default().artifact_url(9), None);
    }
}

//! The runner environment, as a value: read once at the edge, passed in everywhere else.

use std::collections::BTreeMap;
use std::time::Duration;

use super::http::RetryPolicy;

/// Environment variables the transport reads. Build it from the process with
/// [`Env::from_process`] or from pairs in tests with [`Env::from_pairs`].
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
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Every variable of this process.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// The given variables only.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value; empty counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The retry policy: 5 attempts, 3 s base, unless `PROOFGATE_RETRY_*` say otherwise.
    pub fn retry_policy(&self) -> RetryPolicy {
        let mut p = RetryPolicy::default();
        if let Some(ms) = self
            .get("PROOFGATE_RETRY_BASE_MS")
            .and_then(|v| v.parse().ok())
        {
            p.base_delay = Duration::from_millis(ms);
        }
        if let Some(n) = self
            .get("PROOFGATE_RETRY_ATTEMPTS")
            .and_then(|v| v.parse::<u32>().ok())
        {
            p.attempts = n.max(1);
        }
        p
    }

    /// Stall timeout for one request or one body read (default 5 minutes).
    pub fn http_timeout(&self) -> Duration {
        Duration::from_millis(
            self.get("PROOFGATE_HTTP_TIMEOUT_MS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(300_000),
        )
    }

    /// Parallel block uploads: `ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY` (1–32), default 4.
    pub fn upload_concurrency(&self) -> usize {
        self.get("ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY")
            .and_then(|v| v.parse::<usize>().ok())
            .map(|n| n.clamp(1, 32))
            .unwrap_or(4)
    }

    /// The REST API base URL without a trailing slash.
    pub fn api_url(&self) -> String {
        self.get("GITHUB_API_URL")
            .unwrap_or("https://api.github.com")
            .trim_end_matches('/')
            .to_owned()
    }

    /// The web server URL without a trailing slash.
    pub fn server_url(&self) -> String {
        self.get("GITHUB_SERVER_URL")
            .unwrap_or("https://github.com")
            .trim_end_matches('/')
            .to_owned()
    }
}

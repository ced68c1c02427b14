//! The run context recorded in a proof, read from the standard `GITHUB_*` variables
//! through an injected lookup (so it is pure and testable) and overridable by flags.

use serde::{Deserialize, Serialize};

/// Where and how the tests ran. Every field is optional: outside GitHub Actions most
/// are unknown unless given by flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunContext {
    /// `owner/name` (`GITHUB_REPOSITORY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The workflow name (`GITHUB_WORKFLOW`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The workflow file and ref (`GITHUB_WORKFLOW_REF`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_ref: Option<String>,
    /// The job id (`GITHUB_JOB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The run id (`GITHUB_RUN_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run attempt (`GITHUB_RUN_ATTEMPT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<String>,
    /// The git ref (`GITHUB_REF`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The commit under test (`GITHUB_SHA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// The runner's OS (`RUNNER_OS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_os: Option<String>,
    /// The server (`GITHUB_SERVER_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// The run's URL: `<server>/<repository>/actions/runs/<run id>[/attempts/<n>]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The matrix leg or shard that produced this proof (`--shard`, `PROOFGATE_SHARD`).
    /// A proof with a shard is partial evidence: it covers the tests that ran in that leg,
    /// and the gate combines the legs' proofs (every leg must pass; together they must
    /// cover every declared test file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// `proofgate <version>`.
    pub tool: String,
}

impl RunContext {
    /// Reads the context through `env` (e.g. `|k| std::env::var(k).ok()`). Empty values
    /// count as unset.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut ctx = RunContext {
            repository: get("GITHUB_REPOSITORY"),
            workflow: get("GITHUB_WORKFLOW"),
            workflow_ref: get("GITHUB_WORKFLOW_REF"),
            job: get("GITHUB_JOB"),
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            git_ref: get("GITHUB_REF"),
            sha: get("GITHUB_SHA"),
            runner_os: get("RUNNER_OS"),
            server_url: get("GITHUB_SERVER_URL"),
            run_url: None,
            shard: get("PROOFGATE_SHARD"),
            tool: tool_version(),
        };
        ctx.derive_run_url();
        ctx
    }

    /// Applies flag overrides (a `Some` wins) and recomputes the run URL.
    pub fn with_overrides(
        mut self,
        commit: Option<String>,
        run_id: Option<String>,
        repository: Option<String>,
    ) -> Self {
        if commit.is_some() {
            self.sha = commit;
        }
        if run_id.is_some() {
            self.run_id = run_id;
        }
        if repository.is_some() {
            self.repository = repository;
        }
        self.derive_run_url();
        self
    }

    /// Sets `run_url` from server, repository, run id and attempt when all are known.
    fn derive_run_url(&mut self) {
        self.run_url = match (&self.repository, &self.run_id) {
            (Some(repo), Some(run)) => {
                let server = self
                    .server_url
                    .as_deref()
                    .unwrap_or("https://github.com")
                    .trim_end_matches('/');
                let mut url = format!("{server}/{repo}/actions/runs/{run}");
                if let Some(a) = &self.run_attempt {
                    url.push_str(&format!("/attempts/{a}"));
                }
                Some(url)
            }
            _ => None,
        };
    }
}

/// Whether `name` may name a shard: 1–64 of `[A-Za-z0-9._-]`, not starting with `.`.
/// Shard names become part of proof file names (`proof-<ID>@<SHARD>.json`).
pub fn is_valid_shard(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `proofgate <crate version>`.
pub fn tool_version() -> String {
    format!("proofgate {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn context_reads_github_variables_and_builds_the_run_url() {
        let ctx = RunContext::from_env(env(&[
            ("GITHUB_REPOSITORY", "acme/scripts"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_SERVER_URL", "https://ghe.example/"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_JOB", "test"),
            ("GITHUB_WORKFLOW", "CI"),
            ("RUNNER_OS", "Linux"),
            ("GITHUB_EVENT_NAME", ""),
        ]));
        assert_eq!(
            ctx.run_url.as_deref(),
            Some("https://ghe.example/acme/scripts/actions/runs/42/attempts/2")
        );
        assert_eq!(ctx.sha.as_deref(), Some("abc"));
        assert_eq!(ctx.runner_os.as_deref(), Some("Linux"));
        assert_eq!(ctx.job.as_deref(), Some("test"));
    }

    #[test]
    fn context_outside_actions_is_empty_and_flags_fill_it() {
        let ctx = RunContext::from_env(|_| Some(String::new()));
        assert_eq!(ctx.repository, None);
        assert_eq!(ctx.run_url, None);
        let ctx = ctx.with_overrides(Some("c0ffee".into()), Some("7".into()), Some("o/r".into()));
        assert_eq!(ctx.sha.as_deref(), Some("c0ffee"));
        assert_eq!(
            ctx.run_url.as_deref(),
            Some("https://github.com/o/r/actions/runs/7")
        );
    }
}

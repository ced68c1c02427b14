//! The run environment: every `GITHUB_*`, `ACTIONS_*` and `RUNNER_*` variable proofgate
//! uses, read once through an injected lookup so that tests never touch the process
//! environment.
//!
//! One rule for every value: it is trimmed, and a blank one counts as unset ([`value`]).
//! One function derives a run's URL ([`run_url`]). The artifact transport
//! (`artifact::Env`) and the proof's run context (`proof::RunContext`) are views of
//! [`RunnerEnv`].

use std::path::PathBuf;

/// The web server when `GITHUB_SERVER_URL` is unset.
pub const DEFAULT_SERVER_URL: &str = "https://github.com";
/// The REST API when `GITHUB_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// `key` read through `lookup`, trimmed; blank or missing is `None`.
pub fn value(lookup: impl Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    lookup(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The process environment as a lookup (a value that is not Unicode counts as unset).
pub fn process_lookup(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// The URL of a workflow run: `<server>/<repository>/actions/runs/<run id>[/attempts/<n>]`.
/// `server` defaults to [`DEFAULT_SERVER_URL`]; a trailing `/` is dropped.
pub fn run_url(
    server: Option<&str>,
    repository: &str,
    run_id: &str,
    attempt: Option<&str>,
) -> String {
    let server = server.unwrap_or(DEFAULT_SERVER_URL).trim_end_matches('/');
    let mut url = format!("{server}/{repository}/actions/runs/{run_id}");
    if let Some(a) = attempt {
        url.push_str("/attempts/");
        url.push_str(a);
    }
    url
}

/// What proofgate needs to know about the workflow run it is part of.
///
/// Every field is optional: outside Actions all of them are `None` and the commands fall
/// back to their flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerEnv {
    /// `GITHUB_ACTIONS == "true"`.
    pub in_actions: bool,
    /// `GITHUB_SHA`: the commit under test.
    pub sha: Option<String>,
    /// `GITHUB_REPOSITORY`: `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: Option<String>,
    /// `GITHUB_WORKFLOW`.
    pub workflow: Option<String>,
    /// `GITHUB_WORKFLOW_REF`: the workflow file and ref.
    pub workflow_ref: Option<String>,
    /// `GITHUB_JOB`.
    pub job: Option<String>,
    /// `GITHUB_REF`.
    pub git_ref: Option<String>,
    /// `GITHUB_BASE_REF`: a pull request's base branch.
    pub base_ref: Option<String>,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`: the event payload (JSON).
    pub event_path: Option<PathBuf>,
    /// `GITHUB_SERVER_URL` as given; [`RunnerEnv::server`] applies the default.
    pub server_url: Option<String>,
    /// `GITHUB_API_URL` as given; [`RunnerEnv::api`] applies the default.
    pub api_url: Option<String>,
    /// `GITHUB_STEP_SUMMARY`: the job summary file.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: the step outputs file.
    pub output: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`: the default working folder.
    pub workspace: Option<PathBuf>,
    /// `GITHUB_RETENTION_DAYS`: the repository's maximum artifact retention.
    pub retention_days: Option<String>,
    /// `RUNNER_OS`: `Linux`, `Windows` or `macOS`.
    pub runner_os: Option<String>,
    /// `ACTIONS_RUNTIME_TOKEN`: the results service's token (node and docker actions only).
    pub runtime_token: Option<String>,
    /// `ACTIONS_RESULTS_URL`: the results service.
    pub results_url: Option<String>,
    /// `ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY`: parallel block uploads.
    pub upload_concurrency: Option<String>,
}

impl RunnerEnv {
    /// Reads the runner environment through `lookup` (usually [`process_lookup`]), by
    /// the rule of [`value`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| value(&lookup, k);
        Self {
            in_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            sha: get("GITHUB_SHA"),
            repository: get("GITHUB_REPOSITORY"),
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            workflow: get("GITHUB_WORKFLOW"),
            workflow_ref: get("GITHUB_WORKFLOW_REF"),
            job: get("GITHUB_JOB"),
            git_ref: get("GITHUB_REF"),
            base_ref: get("GITHUB_BASE_REF"),
            event_name: get("GITHUB_EVENT_NAME"),
            event_path: get("GITHUB_EVENT_PATH").map(PathBuf::from),
            server_url: get("GITHUB_SERVER_URL"),
            api_url: get("GITHUB_API_URL"),
            step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: get("GITHUB_OUTPUT").map(PathBuf::from),
            workspace: get("GITHUB_WORKSPACE").map(PathBuf::from),
            retention_days: get("GITHUB_RETENTION_DAYS"),
            runner_os: get("RUNNER_OS"),
            runtime_token: get("ACTIONS_RUNTIME_TOKEN"),
            results_url: get("ACTIONS_RESULTS_URL"),
            upload_concurrency: get("ACTIONS_ARTIFACT_UPLOAD_CONCURRENCY"),
        }
    }

    /// Reads the real process environment.
    pub fn from_process() -> Self {
        Self::from_lookup(process_lookup)
    }

    /// The web server URL without a trailing slash (default [`DEFAULT_SERVER_URL`]).
    pub fn server(&self) -> &str {
        self.server_url
            .as_deref()
            .unwrap_or(DEFAULT_SERVER_URL)
            .trim_end_matches('/')
    }

    /// The REST API base URL without a trailing slash (default [`DEFAULT_API_URL`]).
    pub fn api(&self) -> &str {
        self.api_url
            .as_deref()
            .unwrap_or(DEFAULT_API_URL)
            .trim_end_matches('/')
    }

    /// The URL of this workflow run (with its attempt, when known), when the environment
    /// names one.
    pub fn run_url(&self) -> Option<String> {
        Some(run_url(
            self.server_url.as_deref(),
            self.repository.as_deref()?,
            self.run_id.as_deref()?,
            self.run_attempt.as_deref(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> RunnerEnv {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RunnerEnv::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_runner_variables_through_the_lookup() {
        let e = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_STEP_SUMMARY", "/tmp/s.md"),
            ("GITHUB_OUTPUT", "/tmp/o"),
            ("RUNNER_OS", "Linux"),
            ("GITHUB_SERVER_URL", "https://ghe.example/"),
        ]);
        assert!(e.in_actions);
        assert_eq!(e.sha.as_deref(), Some("abc"));
        assert_eq!(e.runner_os.as_deref(), Some("Linux"));
        assert_eq!(e.step_summary, Some(PathBuf::from("/tmp/s.md")));
        assert_eq!(e.output, Some(PathBuf::from("/tmp/o")));
        assert_eq!(
            e.run_url().as_deref(),
            Some("https://ghe.example/o/r/actions/runs/42")
        );
        assert_eq!(e.api(), "https://api.github.com");
    }

    #[test]
    fn empty_and_missing_variables_count_as_unset() {
        let e = env_of(&[("GITHUB_SHA", ""), ("GITHUB_ACTIONS", "false")]);
        assert!(!e.in_actions);
        assert_eq!(e.sha, None);
        assert_eq!(e.run_url(), None);
        assert_eq!(e.server(), "https://github.com");
    }

    #[test]
    fn values_are_trimmed_and_blank_ones_count_as_unset() {
        let e = env_of(&[
            ("GITHUB_ACTIONS", " true\n"),
            ("GITHUB_SHA", "  "),
            ("ACTIONS_RUNTIME_TOKEN", "\t"),
            ("GITHUB_JOB", " test "),
        ]);
        assert!(e.in_actions);
        assert_eq!(e.sha, None);
        assert_eq!(e.runtime_token, None);
        assert_eq!(e.job.as_deref(), Some("test"));
    }

    #[test]
    fn run_url_adds_the_attempt_when_known() {
        assert_eq!(
            run_url(Some("https://ghe.example/"), "o/r", "7", Some("2")),
            "https://ghe.example/o/r/actions/runs/7/attempts/2"
        );
        assert_eq!(
            run_url(None, "o/r", "7", None),
            "https://github.com/o/r/actions/runs/7"
        );
    }
}

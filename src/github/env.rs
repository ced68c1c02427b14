//! The runner environment (`GITHUB_*`, `RUNNER_OS`), read through an injected lookup so
//! that tests never touch the process environment.

use std::path::PathBuf;

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
    /// `GITHUB_JOB`.
    pub job: Option<String>,
    /// `GITHUB_REF`.
    pub git_ref: Option<String>,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`: the event payload (JSON).
    pub event_path: Option<PathBuf>,
    /// `GITHUB_SERVER_URL` (default `https://github.com`).
    pub server_url: String,
    /// `GITHUB_API_URL` (default `https://api.github.com`).
    pub api_url: String,
    /// `GITHUB_STEP_SUMMARY`: the job summary file.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: the step outputs file.
    pub output: Option<PathBuf>,
    /// `RUNNER_OS`: `Linux`, `Windows` or `macOS`.
    pub runner_os: Option<String>,
}

impl RunnerEnv {
    /// Reads the runner environment through `lookup` (usually `|k| std::env::var(k).ok()`).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.is_empty());
        Self {
            in_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            sha: get("GITHUB_SHA"),
            repository: get("GITHUB_REPOSITORY"),
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            workflow: get("GITHUB_WORKFLOW"),
            job: get("GITHUB_JOB"),
            git_ref: get("GITHUB_REF"),
            event_name: get("GITHUB_EVENT_NAME"),
            event_path: get("GITHUB_EVENT_PATH").map(PathBuf::from),
            server_url: get("GITHUB_SERVER_URL")
                .map(|s| s.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| "https://github.com".to_owned()),
            api_url: get("GITHUB_API_URL")
                .map(|s| s.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| "https://api.github.com".to_owned()),
            step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: get("GITHUB_OUTPUT").map(PathBuf::from),
            runner_os: get("RUNNER_OS"),
        }
    }

    /// Reads the real process environment.
    pub fn from_process() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The URL of this workflow run, when the environment names one.
    pub fn run_url(&self) -> Option<String> {
        let repo = self.repository.as_deref()?;
        let run = self.run_id.as_deref()?;
        Some(format!("{}/{repo}/actions/runs/{run}", self.server_url))
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
        assert_eq!(e.api_url, "https://api.github.com");
    }

    #[test]
    fn empty_and_missing_variables_count_as_unset() {
        let e = env_of(&[("GITHUB_SHA", ""), ("GITHUB_ACTIONS", "false")]);
        assert!(!e.in_actions);
        assert_eq!(e.sha, None);
        assert_eq!(e.run_url(), None);
        assert_eq!(e.server_url, "https://github.com");
    }
}

//! The run context recorded in a proof: a view of the run environment ([`crate::env`]),
//! overridable by flags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::env::{self as run_env, RunnerEnv};

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
    /// The run's seeds, by name (`pytest-randomly`, `PYTHONHASHSEED`, …): what a replay
    /// needs to draw the same random choices. Part of every test's descriptor hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seeds: BTreeMap<String, String>,
    /// `proofgate <version>`.
    pub tool: String,
}

impl RunContext {
    /// Reads the context through `env` (e.g. [`crate::env::process_lookup`]), by the rule
    /// of [`crate::env::value`]: values trimmed, blank ones unset.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let mut ctx = Self::from_runner(&RunnerEnv::from_lookup(&env));
        ctx.shard = run_env::value(&env, "PROOFGATE_SHARD");
        ctx
    }

    /// The context the runner's variables describe (no shard).
    pub fn from_runner(runner: &RunnerEnv) -> Self {
        let mut ctx = RunContext {
            repository: runner.repository.clone(),
            workflow: runner.workflow.clone(),
            workflow_ref: runner.workflow_ref.clone(),
            job: runner.job.clone(),
            run_id: runner.run_id.clone(),
            run_attempt: runner.run_attempt.clone(),
            git_ref: runner.git_ref.clone(),
            sha: runner.sha.clone(),
            runner_os: runner.runner_os.clone(),
            server_url: runner.server_url.clone(),
            run_url: None,
            shard: None,
            seeds: BTreeMap::new(),
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

    /// Sets the shard from a flag, which wins over `PROOFGATE_SHARD`, without checking it.
    pub fn override_shard(mut self, flag: Option<&str>) -> Self {
        if let Some(s) = flag {
            self.shard = Some(s.to_owned());
        }
        self
    }

    /// Checks that the shard, when there is one, can be part of a file name.
    pub fn check_shard(&self) -> Result<(), BadShard> {
        match &self.shard {
            Some(s) if !is_valid_shard(s) => Err(BadShard(s.clone())),
            _ => Ok(()),
        }
    }

    /// Sets `run_url` from server, repository, run id and attempt when the repository and
    /// run id are known ([`crate::env::run_url`]).
    fn derive_run_url(&mut self) {
        self.run_url = match (&self.repository, &self.run_id) {
            (Some(repo), Some(run)) => Some(run_env::run_url(
                self.server_url.as_deref(),
                repo,
                run,
                self.run_attempt.as_deref(),
            )),
            _ => None,
        };
    }
}

/// A seed that cannot be recorded: `NAME=VALUE`, the name 1–64 of `[A-Za-z0-9._-]`, the
/// value 1–256 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "seed {0:?} must be NAME=VALUE: the name 1 to 64 of A-Z a-z 0-9 . _ -, the value 1 to 256 visible ASCII characters"
)]
pub struct BadSeed(pub String);

/// Parses one `NAME=VALUE` seed.
pub fn parse_seed(text: &str) -> Result<(String, String), BadSeed> {
    let bad = || BadSeed(text.chars().take(80).collect());
    let (name, value) = text.split_once('=').ok_or_else(bad)?;
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let value_ok = (1..=256).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if name_ok && value_ok {
        Ok((name.to_owned(), value.to_owned()))
    } else {
        Err(bad())
    }
}

/// A shard name that cannot be part of a proof's file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "shard {0:?} (from `--shard` or `PROOFGATE_SHARD`) must be 1 to 64 of A-Z a-z 0-9 . _ - and not start with `.`"
)]
pub struct BadShard(pub String);

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
    fn context_is_the_runner_environment_with_the_same_run_url() {
        let lookup = env(&[
            ("GITHUB_REPOSITORY", " acme/scripts "),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("PROOFGATE_SHARD", " linux "),
        ]);
        let runner = RunnerEnv::from_lookup(&lookup);
        let ctx = RunContext::from_env(&lookup);
        assert_eq!(ctx.run_url, runner.run_url());
        assert_eq!(ctx.repository.as_deref(), Some("acme/scripts"));
        assert_eq!(ctx.shard.as_deref(), Some("linux"));
        assert_eq!(RunContext::from_runner(&runner).shard, None);
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

    #[test]
    fn seeds_are_name_value_pairs_of_visible_ascii() {
        assert_eq!(
            parse_seed("pytest-randomly=12345"),
            Ok(("pytest-randomly".into(), "12345".into()))
        );
        assert_eq!(parse_seed("PYTHONHASHSEED=0").unwrap().1, "0");
        for bad in [
            "",
            "x",
            "=1",
            "a b=1",
            "x=",
            "x=a b",
            "x=\u{1b}[31m",
            &format!("{}=1", "n".repeat(65)),
        ] {
            assert!(parse_seed(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_shard_flag_wins_over_the_environment_and_is_checked_as_a_file_name_part() {
        let ctx = RunContext::from_env(env(&[("PROOFGATE_SHARD", "linux")]));
        assert_eq!(
            ctx.clone().override_shard(None).shard.as_deref(),
            Some("linux")
        );
        let flagged = ctx.override_shard(Some(".hidden"));
        assert_eq!(flagged.shard.as_deref(), Some(".hidden"));
        assert_eq!(flagged.check_shard(), Err(BadShard(".hidden".into())));
        assert!(
            flagged
                .override_shard(Some("py3.12-linux"))
                .check_shard()
                .is_ok()
        );
    }
}

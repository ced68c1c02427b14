//! The environment a run saw, as far as a replay needs it (`bundle.json`'s
//! `environment`): the platform, the versions of the usual test tools, and the
//! non-secret environment variables that change how tests behave.
//!
//! Which variables are kept: an allow-list of names (locale and time zone, `CI`, the
//! Python, pytest, Hypothesis, Rust, Cargo and Node families, `SOURCE_DATE_EPOCH`, Go's
//! target and flags), less names that hold a machine's paths (ending in `PATH`, `_HOME`
//! or `_DIR`: they point at another machine's directories on replay), plus any name the
//! user asks for. A value is redacted — replaced by `[REDACTED:<kind>]`, the log's marker
//! — when the name is one whose value the log redacts (`--redact-env`,
//! `PROOFGATE_SIGNING_KEY`), when it holds a secret the log redacts (the signing key,
//! wherever it is read from), when a word of the name (split at `_`) says it holds a
//! secret (`TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`, `CREDENTIAL`, `PRIVATE`, `AUTH`,
//! `APIKEY`, `API_KEY`, and their plurals), or when the value contains a token shape the
//! log redacts. A redacted value is never replayed: the replay asks for it through its
//! own environment.
//!
//! The choice of variables and their redaction is pure ([`capture_vars`]); the tool
//! probes ([`probe_tools`]) and the platform ([`Platform::current`]) run processes, each
//! bounded by [`PROBE_TIMEOUT`].

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::redact::{Redactor, SIGNING_KEY_ENV, SecretKind, Secrets};

/// How long one tool's `--version` may take before it is killed and left out.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest version text kept (the first line of the tool's output).
const MAX_VERSION_LEN: usize = 200;

/// The tools probed, each by `<tool> --version`.
pub const TOOLS: &[&str] = &["python3", "pytest", "node", "cargo", "rustc"];

/// Names kept whole.
const KEYS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GOARCH",
    "GOFLAGS",
    "GOOS",
    "LANG",
    "LANGUAGE",
    "SOURCE_DATE_EPOCH",
    "TZ",
];

/// Name prefixes kept.
const PREFIXES: &[&str] = &[
    "CARGO_",
    "HYPOTHESIS_",
    "LC_",
    "NODE_",
    "PYTEST_",
    "PYTHON",
    "RUST",
];

/// Name suffixes left out of the allow-list: a machine's own paths.
const PATH_SUFFIXES: &[&str] = &["PATH", "_HOME", "_DIR"];

/// Words of a name (split at `_`) that say its value is a secret; `API` followed by
/// `KEY` does too.
const SECRET_WORDS: &[&str] = &[
    "APIKEY",
    "AUTH",
    "CREDENTIAL",
    "CREDENTIALS",
    "PASSWD",
    "PASSWORD",
    "PRIVATE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "TOKENS",
];

/// The marker a redacted value starts with (the log's, `[REDACTED:<kind>]`).
const MARKER_START: &str = "[REDACTED:";

/// The machine a run ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// The operating system (`linux`, `macos`, `windows`, …).
    pub os: String,
    /// The CPU architecture (`x86_64`, `aarch64`, …).
    pub arch: String,
    /// The kernel release (`uname -r`), when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
}

impl Platform {
    /// This machine: the OS and architecture proofgate was built for, and the kernel
    /// release from `uname -r` (Unix only; a bounded probe).
    pub fn current() -> Self {
        let kernel = if cfg!(unix) {
            probe(&["uname", "-r"], None, &BTreeMap::new(), PROBE_TIMEOUT)
        } else {
            None
        };
        Self {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            kernel,
        }
    }
}

/// `bundle.json`'s `environment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// The machine.
    pub platform: Platform,
    /// Each tool of [`TOOLS`] found on `PATH`: the first line its `--version` printed.
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// The kept variables (see the module docs), secret values redacted.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The names kept beyond the allow-list, set or not: `run --record-env`'s, and on a
    /// replay every name the recording kept. A replay looks at the same names, so a
    /// variable set only at replay time shows as a difference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named: Vec<String>,
}

impl Environment {
    /// Captures the environment the test command will see: the process's variables
    /// with `overrides` applied (a replay's recorded values), the tools that
    /// environment finds run in `cwd` (the command's directory: a version file there,
    /// such as `rust-toolchain.toml` or `.python-version`, picks the tool), and the
    /// platform. `named` are extra variables to keep; `redact` names variables whose
    /// values are secrets; a value holding one of `secrets` (the log's) is one too.
    pub fn capture(
        cwd: &Path,
        overrides: &BTreeMap<String, String>,
        named: &[String],
        redact: &[String],
        secrets: &Secrets,
    ) -> Self {
        let mut vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        vars.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        let env = capture_vars(&vars, named, redact, secrets);
        let mut named = named.to_vec();
        named.sort();
        named.dedup();
        Self {
            platform: Platform::current(),
            tools: probe_tools(TOOLS, cwd, overrides),
            env,
            named,
        }
    }
}

/// Whether a variable is kept by the allow-list (the user's names aside).
pub fn is_kept(name: &str) -> bool {
    if KEYS.contains(&name) {
        return true;
    }
    PREFIXES.iter().any(|p| name.starts_with(p)) && !PATH_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Whether a variable's name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').collect();
    upper == SIGNING_KEY_ENV
        || words.iter().any(|w| SECRET_WORDS.contains(w))
        || words.windows(2).any(|p| p == ["API", "KEY"])
}

/// Whether a recorded value is a redaction marker rather than the value.
pub fn is_redacted(value: &str) -> bool {
    value.starts_with(MARKER_START) && value.ends_with(']')
}

/// The kept variables of `vars` (the allow-list and `named`), each value redacted as
/// the module docs say: whole when `redact` names it or its name says it is a secret,
/// or when it holds one of `secrets` or a token shape.
pub fn capture_vars(
    vars: &BTreeMap<String, String>,
    named: &[String],
    redact: &[String],
    secrets: &Secrets,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in vars {
        if !(is_kept(k) || named.iter().any(|n| n == k)) {
            continue;
        }
        let value = if redact.iter().any(|n| n == k) || is_secret_name(k) {
            marker(&SecretKind::Env(k.clone()))
        } else {
            let mut r = Redactor::new(secrets.clone());
            let redacted = r.redact_all(v);
            match r.counts().first() {
                Some(c) if redacted != *v => marker(&c.kind),
                _ => v.clone(),
            }
        };
        out.insert(k.clone(), value);
    }
    out
}

fn marker(kind: &SecretKind) -> String {
    format!("{MARKER_START}{kind}]")
}

/// Each tool of `tools` that runs: the first line of `<tool> --version`, run in `cwd`
/// with `env` set for it. A tool that is missing, fails or outlives [`PROBE_TIMEOUT`]
/// is left out.
pub fn probe_tools(
    tools: &[&str],
    cwd: &Path,
    env: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let found = crate::par::par_map(tools, tools.len(), |t| {
        probe(&[t, "--version"], Some(cwd), env, PROBE_TIMEOUT)
    });
    tools
        .iter()
        .zip(found)
        .filter_map(|(t, v)| Some(((*t).to_owned(), v?)))
        .collect()
}

/// The first non-blank line `argv` prints (stdout, else stderr), when it exits 0 within
/// `timeout`; killed otherwise.
fn probe(
    argv: &[&str],
    cwd: Option<&Path>,
    env: &BTreeMap<String, String>,
    timeout: Duration,
) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let mut cmd = Command::new(program);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    if !status.success() {
        return None;
    }
    // The tool has exited: its pipes hold at most what it wrote, read to the end.
    let mut text = String::new();
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut buf = Vec::new();
        let _ = pipe.take(64 * 1024).read_to_end(&mut buf);
        let s = String::from_utf8_lossy(&buf);
        if let Some(line) = s.lines().map(str::trim).find(|l| !l.is_empty()) {
            text = line.chars().take(MAX_VERSION_LEN).collect();
            break;
        }
    }
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_allow_list_keeps_behaviour_and_leaves_out_paths_and_the_rest() {
        let v = vars(&[
            ("TZ", "UTC"),
            ("LC_ALL", "C"),
            ("PYTHONHASHSEED", "0"),
            ("PYTHONPATH", "/home/me/src"),
            ("CARGO_HOME", "/root/.cargo"),
            ("CARGO_TARGET_DIR", "/tmp/t"),
            ("RUSTFLAGS", "-Dwarnings"),
            ("HOME", "/root"),
            ("PATH", "/usr/bin"),
            ("USER", "me"),
            ("LOTTERY_SEED", "7"),
        ]);
        let kept = capture_vars(&v, &["LOTTERY_SEED".to_owned()], &[], &Secrets::default());
        assert_eq!(
            kept.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "LC_ALL",
                "LOTTERY_SEED",
                "PYTHONHASHSEED",
                "RUSTFLAGS",
                "TZ"
            ]
        );
        assert_eq!(kept["PYTHONHASHSEED"], "0");
    }

    #[test]
    fn secret_values_are_redacted_by_name_by_flag_and_by_shape() {
        let ghp = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
        let v = vars(&[
            ("CARGO_REGISTRY_TOKEN", "cio-abcdef"),
            ("PYTHON_DB", "postgres://u:hunter22@db"),
            ("NODE_AUTH_TOKEN", "x"),
            ("PYTEST_ADDOPTS", &format!("--token {ghp}")),
            ("FIXTURE_KEY", "plain-but-secret"),
            ("PROOFGATE_SIGNING_KEY", "abcd"),
            ("CARGO_PKG_AUTHORS", "A. Author"),
            ("PYTHON_API_KEY", "k-123456"),
            ("CARGO_SIGNER", "k-private-key-bytes"),
        ]);
        let named = ["FIXTURE_KEY".to_owned(), "PROOFGATE_SIGNING_KEY".to_owned()];
        let mut secrets = Secrets::default();
        secrets.add("k-private-key-bytes", SecretKind::SigningKey);
        let kept = capture_vars(&v, &named, &["FIXTURE_KEY".to_owned()], &secrets);
        assert_eq!(
            kept["CARGO_REGISTRY_TOKEN"],
            "[REDACTED:env:CARGO_REGISTRY_TOKEN]"
        );
        assert_eq!(kept["NODE_AUTH_TOKEN"], "[REDACTED:env:NODE_AUTH_TOKEN]");
        assert_eq!(kept["PYTEST_ADDOPTS"], "[REDACTED:github-token]");
        assert_eq!(kept["FIXTURE_KEY"], "[REDACTED:env:FIXTURE_KEY]");
        assert_eq!(
            kept["PROOFGATE_SIGNING_KEY"],
            "[REDACTED:env:PROOFGATE_SIGNING_KEY]"
        );
        assert_eq!(kept["PYTHON_API_KEY"], "[REDACTED:env:PYTHON_API_KEY]");
        // The signing key, read from a variable the allow-list keeps.
        assert_eq!(kept["CARGO_SIGNER"], "[REDACTED:signing-key]");
        // Not a secret by name, flag or shape: kept as it is.
        assert_eq!(kept["CARGO_PKG_AUTHORS"], "A. Author");
        assert_eq!(kept["PYTHON_DB"], "postgres://u:hunter22@db");
        assert!(kept.values().all(|v| !v.contains(ghp)));
        assert!(is_redacted(&kept["PYTEST_ADDOPTS"]));
        assert!(!is_redacted(&kept["PYTHON_DB"]));
    }

    #[test]
    fn a_tool_that_is_missing_or_fails_is_left_out() {
        let tools = probe_tools(
            &["proofgate-no-such-tool", "false", "sh"],
            Path::new("."),
            &BTreeMap::new(),
        );
        assert!(!tools.contains_key("proofgate-no-such-tool"));
        assert!(!tools.contains_key("false"));
        // `sh --version` differs between shells; only its presence or absence is stable.
        assert!(tools.values().all(|v| !v.is_empty() && !v.contains('\n')));
    }

    #[cfg(unix)]
    #[test]
    fn a_probe_that_hangs_is_killed_at_its_timeout() {
        let start = Instant::now();
        let out = probe(
            &["sh", "-c", "sleep 30; echo late"],
            None,
            &BTreeMap::new(),
            Duration::from_millis(300),
        );
        assert_eq!(out, None);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn environment_reads_bundles_without_tools_or_env() {
        let e: Environment =
            serde_json::from_str(r#"{"platform":{"os":"linux","arch":"x86_64"}}"#).unwrap();
        assert!(e.tools.is_empty() && e.env.is_empty());
        assert_eq!(e.platform.kernel, None);
    }
}

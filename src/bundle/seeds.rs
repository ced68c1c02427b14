//! The seeds a test run used, where the tools expose them: read from the command line,
//! the environment and the start of the captured log. A pure function of those three;
//! the caller reads them.
//!
//! | name | read from |
//! | --- | --- |
//! | `pytest-randomly` | `--randomly-seed=N` (or `--randomly-seed N`) on the command line, else the plugin's `Using --randomly-seed=N` header line in the log; none when `-p no:randomly` disables the plugin |
//! | `hypothesis` | `--hypothesis-seed=N` (or `--hypothesis-seed N`) on the command line |
//! | `PYTHONHASHSEED` | the environment |
//! | `PROPTEST_RNG_SEED` | the environment (proptest's fixed seed for its `RngSeed`) |
//!
//! Only decimal values (at most 20 digits) are recorded: a value such as
//! `--randomly-seed=last` or `PYTHONHASHSEED=random` names no seed. quickcheck reads no
//! seed from the environment (only `QUICKCHECK_TESTS`, `QUICKCHECK_GENERATOR_SIZE` and
//! the like) and cargo-nextest does not shuffle the order it runs tests in, so neither
//! has a seed to record.

use std::collections::BTreeMap;

/// The name of pytest-randomly's seed.
pub const PYTEST_RANDOMLY: &str = "pytest-randomly";
/// The name of Hypothesis' seed.
pub const HYPOTHESIS: &str = "hypothesis";
/// The environment variables recorded when set to a decimal seed.
pub const ENV_SEEDS: [&str; 2] = ["PYTHONHASHSEED", "PROPTEST_RNG_SEED"];

/// How much of the log's start [`detect`] is meant to see: pytest-randomly prints its
/// seed in the session header, before any test runs.
pub const LOG_PREFIX_BYTES: usize = 1 << 20;

/// The words of a command as [`detect`] reads them: the arguments, or with `shell` the
/// shell text split at whitespace (quotes are not interpreted: a seed flag is one word).
pub fn command_words(command: &[String], shell: bool) -> Vec<String> {
    if shell {
        command
            .iter()
            .flat_map(|c| c.split_whitespace())
            .map(str::to_owned)
            .collect()
    } else {
        command.to_vec()
    }
}

/// pytest-randomly's header line, up to the seed.
const RANDOMLY_HEADER: &[u8] = b"Using --randomly-seed=";

/// The seeds `command` ran with, by name (see the module docs). `env` looks up the
/// environment the command inherited; `log` is the start of its output.
pub fn detect(
    command: &[String],
    env: impl Fn(&str) -> Option<String>,
    log: &[u8],
) -> BTreeMap<String, String> {
    let mut seeds = BTreeMap::new();
    if !randomly_disabled(command) {
        let seed = flag_value(command, "--randomly-seed").or_else(|| logged_randomly_seed(log));
        if let Some(s) = seed {
            seeds.insert(PYTEST_RANDOMLY.to_owned(), s);
        }
    }
    if let Some(s) = flag_value(command, "--hypothesis-seed") {
        seeds.insert(HYPOTHESIS.to_owned(), s);
    }
    for var in ENV_SEEDS {
        if let Some(v) = env(var).map(|v| v.trim().to_owned())
            && is_seed(&v)
        {
            seeds.insert(var.to_owned(), v);
        }
    }
    seeds
}

/// Whether `-p no:randomly` (or `-pno:randomly`) turns pytest-randomly off.
fn randomly_disabled(command: &[String]) -> bool {
    command.iter().enumerate().any(|(i, a)| {
        a == "-pno:randomly"
            || (a == "-p" && command.get(i + 1).is_some_and(|v| v == "no:randomly"))
    })
}

/// The last decimal value of `flag`, as `flag=N` or `flag N`.
fn flag_value(command: &[String], flag: &str) -> Option<String> {
    let mut found = None;
    for (i, a) in command.iter().enumerate() {
        let value = match a.strip_prefix(flag) {
            Some(rest) if rest.starts_with('=') => Some(&rest[1..]),
            Some("") => command.get(i + 1).map(String::as_str),
            _ => None,
        };
        if let Some(v) = value {
            // A later value wins, as with the tools' own option parsing; a value that
            // is not a number names no seed.
            found = is_seed(v).then(|| v.to_owned());
        }
    }
    found
}

/// The seed of pytest-randomly's last `Using --randomly-seed=N` line in `log`.
fn logged_randomly_seed(log: &[u8]) -> Option<String> {
    let mut found = None;
    for at in memchr::memmem::find_iter(log, RANDOMLY_HEADER) {
        let rest = &log[at + RANDOMLY_HEADER.len()..];
        let end = rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
        // A seed cut off by the end of the prefix is not read.
        if end < rest.len()
            && let Ok(v) = std::str::from_utf8(&rest[..end])
            && is_seed(v)
        {
            found = Some(v.to_owned());
        }
    }
    found
}

/// A decimal number of 1 to 20 digits.
fn is_seed(v: &str) -> bool {
    (1..=20).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn randomly_seed_on_the_command_line_wins_over_the_log() {
        let s = detect(
            &argv("pytest -p randomly --randomly-seed=42 tests"),
            no_env,
            b"Using --randomly-seed=7\n",
        );
        assert_eq!(s.get(PYTEST_RANDOMLY).map(String::as_str), Some("42"));
        let s = detect(&argv("pytest --randomly-seed 43"), no_env, b"");
        assert_eq!(s.get(PYTEST_RANDOMLY).map(String::as_str), Some("43"));
    }

    #[test]
    fn randomly_seed_from_the_header_line_when_the_plugin_chose_it() {
        let log = b"============ test session starts ============\nplatform linux\nUsing --randomly-seed=3141592653\nrootdir: /x\n";
        let s = detect(&argv("python3 -m pytest tests"), no_env, log);
        assert_eq!(
            s.get(PYTEST_RANDOMLY).map(String::as_str),
            Some("3141592653")
        );
        // `last` names no seed: the header says which one it was.
        let s = detect(&argv("pytest --randomly-seed=last"), no_env, log);
        assert_eq!(
            s.get(PYTEST_RANDOMLY).map(String::as_str),
            Some("3141592653")
        );
    }

    #[test]
    fn a_disabled_plugin_or_a_cut_header_records_no_randomly_seed() {
        let log = b"Using --randomly-seed=5\n";
        assert!(detect(&argv("pytest -p no:randomly"), no_env, log).is_empty());
        assert!(detect(&argv("pytest -pno:randomly --randomly-seed=5"), no_env, b"").is_empty());
        // The prefix ends inside the number: it may be longer than what was read.
        assert!(detect(&argv("pytest"), no_env, b"Using --randomly-seed=12").is_empty());
        assert!(detect(&argv("pytest"), no_env, b"Using --randomly-seed=\n").is_empty());
    }

    #[test]
    fn hypothesis_seed_and_environment_seeds() {
        let env = |k: &str| match k {
            "PYTHONHASHSEED" => Some("0".to_owned()),
            "PROPTEST_RNG_SEED" => Some(" 18446744073709551615 ".to_owned()),
            _ => None,
        };
        let s = detect(&argv("pytest --hypothesis-seed=99"), env, b"");
        let want: BTreeMap<String, String> = [
            ("PROPTEST_RNG_SEED", "18446744073709551615"),
            ("PYTHONHASHSEED", "0"),
            ("hypothesis", "99"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(s, want);
    }

    #[test]
    fn a_shell_command_is_read_word_by_word() {
        let cmd = vec!["PYTHONHASHSEED=1 pytest --randomly-seed=8 -q".to_owned()];
        assert!(detect(&command_words(&cmd, false), no_env, b"").is_empty());
        let s = detect(&command_words(&cmd, true), no_env, b"");
        assert_eq!(s.get(PYTEST_RANDOMLY).map(String::as_str), Some("8"));
    }

    #[test]
    fn values_that_are_not_seeds_are_left_out() {
        let env = |k: &str| (k == "PYTHONHASHSEED").then(|| "random".to_owned());
        let s = detect(
            &argv("pytest --hypothesis-seed=abc --randomly-seed=1e5"),
            env,
            b"",
        );
        assert!(s.is_empty(), "{s:?}");
        let long = format!("pytest --randomly-seed={}", "9".repeat(21));
        assert!(detect(&argv(&long), no_env, b"").is_empty());
        // A flag that only starts like the seed flag is another flag.
        assert!(detect(&argv("pytest --randomly-seedx=1"), no_env, b"").is_empty());
    }
}

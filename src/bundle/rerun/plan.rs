//! Which tool a test command runs, and the command line that runs only the tests still
//! failing. Pure: argv in, argv out.
//!
//! - pytest (`pytest …`, `py.test …`, `python… -m pytest …`): the same interpreter and
//!   options; the positional test paths are replaced by the failed tests' node ids; the
//!   JUnit option is replaced by a fresh file per attempt; pytest-randomly's seed is
//!   pinned with `-p randomly --randomly-seed=<seed>` when the first run reported one.
//! - cargo-nextest (`cargo [+toolchain] nextest run …`, `cargo-nextest nextest run …`):
//!   the same options without its test name filters, filtersets, `--partition` and
//!   `--rerun`, plus one `-E` filterset that selects exactly the failed tests by binary
//!   id and name.
//! - either behind `env VAR=VALUE…`, `uv run`, `poetry run` or `pipenv run`;
//! - anything else, and any command run through `--shell`: the whole command again.

use std::path::Path;

use crate::junit::TestCase;

/// The tool a command runs, as far as reruns are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// pytest; the options start at this index of the command.
    Pytest {
        /// Index of the first argument after `pytest` (or `-m pytest`).
        args_at: usize,
    },
    /// cargo-nextest's `run`; its options start at this index.
    Nextest {
        /// Index of the first argument after `run`.
        args_at: usize,
    },
    /// Any other command: rerun whole.
    Other,
}

impl Tool {
    /// Tells which tool `command` runs, also behind `env VAR=VALUE…`, `uv run`,
    /// `poetry run` and `pipenv run`. A command run through a shell is `Other`.
    pub fn of(command: &[String], shell: bool) -> Tool {
        if shell {
            return Tool::Other;
        }
        let skip = wrapper_len(command);
        match Tool::of_unwrapped(command.get(skip..).unwrap_or_default()) {
            Tool::Pytest { args_at } => Tool::Pytest {
                args_at: args_at + skip,
            },
            Tool::Nextest { args_at } => Tool::Nextest {
                args_at: args_at + skip,
            },
            Tool::Other => Tool::Other,
        }
    }

    /// [`Tool::of`] for a command without a wrapper.
    fn of_unwrapped(command: &[String]) -> Tool {
        let Some(first) = command.first() else {
            return Tool::Other;
        };
        let program = base_name(first);
        if program == "pytest" || program == "py.test" {
            return Tool::Pytest { args_at: 1 };
        }
        if program.starts_with("python") {
            // `python3 [-flags…] -m pytest …`
            let mut i = 1;
            while let Some(a) = command.get(i) {
                if a == "-m" {
                    return match command.get(i + 1).map(String::as_str) {
                        Some("pytest") => Tool::Pytest { args_at: i + 2 },
                        _ => Tool::Other,
                    };
                }
                // `-c`, `-W x`, `-X x` and scripts end or complicate the interpreter's
                // own options: anything but a plain flag is not recognised.
                let plain_flag = a.starts_with('-')
                    && a.len() > 1
                    && !a.starts_with("-c")
                    && !matches!(a.as_str(), "-W" | "-X" | "--check-hash-based-pycs");
                if !plain_flag {
                    return Tool::Other;
                }
                i += 1;
            }
            return Tool::Other;
        }
        let nextest_at = match program {
            "cargo" => match command.get(1) {
                Some(t) if t.starts_with('+') => 2,
                _ => 1,
            },
            "cargo-nextest" => 1,
            _ => return Tool::Other,
        };
        match (
            command.get(nextest_at).map(String::as_str),
            command.get(nextest_at + 1).map(String::as_str),
        ) {
            (Some("nextest"), Some("run" | "r")) => Tool::Nextest {
                args_at: nextest_at + 2,
            },
            _ => Tool::Other,
        }
    }

    /// `pytest`, `cargo-nextest` or `command`, for messages and the bundle.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Pytest { .. } => "pytest",
            Tool::Nextest { .. } => "cargo-nextest",
            Tool::Other => "command",
        }
    }
}

/// How many words of `command` are a wrapper that runs the rest unchanged:
/// `env VAR=VALUE…`, `uv run`, `poetry run`, `pipenv run` (without options of their own).
fn wrapper_len(command: &[String]) -> usize {
    let word = |i: usize| command.get(i).map(String::as_str);
    match word(0).map(base_name) {
        Some("env") => {
            1 + command[1..]
                .iter()
                .take_while(|w| !w.starts_with('-') && w.contains('='))
                .count()
        }
        Some("uv" | "poetry" | "pipenv") if word(1) == Some("run") => 2,
        _ => 0,
    }
}

/// The last path component of a program (`/usr/bin/python3` → `python3`).
fn base_name(program: &str) -> &str {
    program.rsplit(['/', '\\']).next().unwrap_or(program)
}

/// pytest's node id of a case read from pytest's JUnit: `path::Class::name[param]`,
/// from its file and its class name (pytest writes the node id's path as a dotted
/// module, then the classes). `None` when the case has no file or its class name does
/// not start with the file's module (a collection error, another tool's report).
pub fn pytest_node_id(case: &TestCase) -> Option<String> {
    let file = case.file.as_deref()?;
    let module = file.strip_suffix(".py")?.replace('/', ".");
    if case.name.is_empty() {
        return None;
    }
    let classes = if case.classname == module {
        ""
    } else {
        case.classname.strip_prefix(&module)?.strip_prefix('.')?
    };
    let mut id = file.to_owned();
    for class in classes.split('.').filter(|c| !c.is_empty()) {
        id.push_str("::");
        id.push_str(class);
    }
    id.push_str("::");
    id.push_str(&case.name);
    Some(id)
}

/// What to do with one pytest argument when rerunning.
#[derive(Debug, PartialEq, Eq)]
enum PytestArg {
    /// Keep it (and its value, when `takes_value`).
    Keep { takes_value: bool },
    /// Drop it (and its value, when `takes_value`).
    Drop { takes_value: bool },
}

/// How a pytest argument is treated: JUnit and seed options are dropped (they are given
/// anew), test paths and node ids are dropped (the failed tests replace them).
fn pytest_arg(arg: &str, root: &Path) -> PytestArg {
    let replaced = ["--junitxml", "--junit-xml", "--randomly-seed"];
    if let Some(name) = arg.split_once('=').map(|(n, _)| n)
        && arg.starts_with("--")
    {
        return if replaced.contains(&name) {
            PytestArg::Drop { takes_value: false }
        } else {
            PytestArg::Keep { takes_value: false }
        };
    }
    if replaced.contains(&arg) {
        return PytestArg::Drop { takes_value: true };
    }
    if crate::model::PYTEST_VALUE_OPTS.contains(&arg) {
        return PytestArg::Keep { takes_value: true };
    }
    if arg.starts_with('-') {
        return PytestArg::Keep { takes_value: false };
    }
    // A word: a test path or node id when it looks like one. Anything else is kept, as
    // the value of an option this list does not know.
    let path = arg.split("::").next().unwrap_or(arg);
    let looks_like_test = arg.contains("::") || path.ends_with(".py") || root.join(path).exists();
    if looks_like_test {
        PytestArg::Drop { takes_value: false }
    } else {
        PytestArg::Keep { takes_value: false }
    }
}

/// The pytest command that reruns `node_ids`, writing its JUnit to `junit`, with
/// pytest-randomly pinned to `randomly_seed` when given. `root` is the working
/// directory, where test paths are looked up.
pub fn pytest_argv(
    command: &[String],
    args_at: usize,
    node_ids: &[String],
    junit: &Path,
    randomly_seed: Option<&str>,
    root: &Path,
) -> Vec<String> {
    let mut out: Vec<String> = command.iter().take(args_at).cloned().collect();
    let mut i = args_at;
    while let Some(arg) = command.get(i) {
        if arg == "--" {
            // Everything after `--` is a test path.
            break;
        }
        match pytest_arg(arg, root) {
            PytestArg::Keep { takes_value } => {
                out.push(arg.clone());
                if takes_value && let Some(v) = command.get(i + 1) {
                    out.push(v.clone());
                    i += 1;
                }
            }
            PytestArg::Drop { takes_value } => {
                if takes_value {
                    i += 1;
                }
            }
        }
        i += 1;
    }
    out.push(format!("--junitxml={}", junit.display()));
    if let Some(seed) = randomly_seed {
        out.push("-p".to_owned());
        out.push("randomly".to_owned());
        out.push(format!("--randomly-seed={seed}"));
    }
    out.extend(node_ids.iter().cloned());
    out
}

/// cargo-nextest options of `run` whose value is the next argument.
const NEXTEST_VALUE_OPTIONS: &[&str] = &[
    "--color",
    "-p",
    "--package",
    "--exclude",
    "--bin",
    "--example",
    "--test",
    "--bench",
    "-F",
    "--features",
    "--build-jobs",
    "--cargo-profile",
    "--target",
    "--target-dir",
    "--manifest-path",
    "--cargo-message-format",
    "--config",
    "-Z",
    "-R",
    "--rerun",
    "--run-ignored",
    "--partition",
    "--platform-filter",
    "-E",
    "--filterset",
    "--filter-expr",
    "-j",
    "--test-threads",
    "--retries",
    "--flaky-result",
    "--max-fail",
    "--debugger",
    "--tracer",
    "--no-tests",
    "--stress-count",
    "--stress-duration",
    "--failure-output",
    "--success-output",
    "--status-level",
    "--final-status-level",
    "--show-progress",
    "--max-progress-running",
    "--message-format",
    "--message-format-version",
    "--archive-file",
    "--archive-format",
    "--extract-to",
    "--cargo-metadata",
    "--workspace-remap",
    "--binaries-metadata",
    "--target-dir-remap",
    "--build-dir-remap",
    "--config-file",
    "--user-config-file",
    "--tool-config-file",
    "-P",
    "--profile",
];

/// nextest options that select tests: dropped, since the rerun's filterset selects
/// exactly the failed tests (a partition or a recorded rerun would select others).
const NEXTEST_SELECTING: &[&str] = &[
    "-E",
    "--filterset",
    "--filter-expr",
    "--partition",
    "-R",
    "--rerun",
];

/// The nextest filterset that selects exactly `tests`, each `(binary id, test name)`
/// as nextest's JUnit writes them (`classname`, `name`).
pub fn nextest_filterset(tests: &[(String, String)]) -> String {
    tests
        .iter()
        .map(|(binary, name)| {
            format!(
                "(binary_id(={}) & test(={}))",
                filterset_escape(binary),
                filterset_escape(name)
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Escapes a string for a filterset's equality matcher (`\\`, `\)`, `\,` and the
/// control characters nextest knows).
fn filterset_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ')' => out.push_str("\\)"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The nextest command that reruns exactly `tests` (see [`nextest_filterset`]).
pub fn nextest_argv(command: &[String], args_at: usize, tests: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = command.iter().take(args_at).cloned().collect();
    let mut i = args_at;
    let mut after_dashes = false;
    while let Some(arg) = command.get(i) {
        i += 1;
        if after_dashes {
            // libtest-style arguments: keep the ones that are not filters.
            match arg.as_str() {
                "--ignored" | "--include-ignored" | "--nocapture" | "--no-capture" => {
                    out.push(arg.clone());
                }
                "--skip" => i += 1,
                _ => {}
            }
            continue;
        }
        if arg == "--" {
            after_dashes = true;
            continue;
        }
        if let Some((name, _)) = arg.split_once('=')
            && arg.starts_with('-')
        {
            if !NEXTEST_SELECTING.contains(&name) {
                out.push(arg.clone());
            }
            continue;
        }
        if NEXTEST_VALUE_OPTIONS.contains(&arg.as_str()) {
            let value = command.get(i).cloned();
            i += 1;
            if !NEXTEST_SELECTING.contains(&arg.as_str()) {
                out.push(arg.clone());
                out.extend(value);
            }
            continue;
        }
        if arg.starts_with('-') {
            out.push(arg.clone());
        }
        // A bare word is a test name filter: dropped.
    }
    out.push("-E".to_owned());
    out.push(nextest_filterset(tests));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Status;

    fn argv(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    fn case(file: Option<&str>, classname: &str, name: &str) -> TestCase {
        TestCase {
            file: file.map(str::to_owned),
            classname: classname.to_owned(),
            name: name.to_owned(),
            status: Status::Failed,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: None,
        }
    }

    #[test]
    fn tools_are_told_apart_by_their_command_line() {
        let t = |w: &str| Tool::of(&argv(w), false);
        assert_eq!(t("pytest -q tests"), Tool::Pytest { args_at: 1 });
        assert_eq!(t("/venv/bin/py.test"), Tool::Pytest { args_at: 1 });
        assert_eq!(t("python3 -m pytest -q"), Tool::Pytest { args_at: 3 });
        assert_eq!(t("python3.12 -B -m pytest"), Tool::Pytest { args_at: 4 });
        assert_eq!(t("python3 -m unittest"), Tool::Other);
        assert_eq!(t("python3 -c 'import pytest' -m pytest"), Tool::Other);
        assert_eq!(t("python3 run.py -m pytest"), Tool::Other);
        assert_eq!(
            t("cargo nextest run --no-fail-fast"),
            Tool::Nextest { args_at: 3 }
        );
        assert_eq!(t("cargo +nightly nextest r"), Tool::Nextest { args_at: 4 });
        assert_eq!(t("cargo-nextest nextest run"), Tool::Nextest { args_at: 3 });
        assert_eq!(t("cargo nextest list"), Tool::Other);
        assert_eq!(t("cargo test"), Tool::Other);
        assert_eq!(t("go test ./..."), Tool::Other);
        assert_eq!(t("uv run pytest -q"), Tool::Pytest { args_at: 3 });
        assert_eq!(
            t("poetry run python -m pytest"),
            Tool::Pytest { args_at: 5 }
        );
        assert_eq!(t("env A=1 B=2 pytest -x"), Tool::Pytest { args_at: 4 });
        assert_eq!(t("env A=1 cargo nextest run"), Tool::Nextest { args_at: 5 });
        assert_eq!(t("env -i pytest"), Tool::Other);
        assert_eq!(t("uv run --with x pytest"), Tool::Other);
        assert_eq!(Tool::of(&argv("pytest -q"), true), Tool::Other);
        assert_eq!(Tool::of(&[], false), Tool::Other);
    }

    #[test]
    fn node_ids_come_from_the_file_and_the_class_path() {
        let id = |f, c, n| pytest_node_id(&case(f, c, n));
        assert_eq!(
            id(Some("tests/test_x.py"), "tests.test_x", "test_a[1-2]").as_deref(),
            Some("tests/test_x.py::test_a[1-2]")
        );
        assert_eq!(
            id(
                Some("tests/test_x.py"),
                "tests.test_x.TestA.Inner",
                "test_b"
            )
            .as_deref(),
            Some("tests/test_x.py::TestA::Inner::test_b")
        );
        assert_eq!(
            id(Some("test_top.py"), "test_top.TestA", "t").as_deref(),
            Some("test_top.py::TestA::t")
        );
        // A collection error has no class path; another tool's case has no .py file.
        assert_eq!(id(None, "", "tests.test_broken"), None);
        assert_eq!(id(Some("tests/test_x.py"), "other.module", "t"), None);
        assert_eq!(id(Some("tests/test_x.py"), "tests.test_xy", "t"), None);
        assert_eq!(id(Some("src/lib.rs"), "crate", "t"), None);
    }

    #[test]
    fn pytest_rerun_keeps_options_and_replaces_paths_junit_and_seed() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("tests")).unwrap();
        let cmd = argv(
            "python3 -m pytest -q -s tests -k not_slow --junitxml results/a.xml -p no:cacheprovider \
             tests/test_x.py::test_a --randomly-seed=5 --maxfail=3 -W error",
        );
        let out = pytest_argv(
            &cmd,
            3,
            &["tests/test_x.py::test_b".to_owned()],
            Path::new("/out/reruns/attempt-1/junit.xml"),
            Some("5"),
            root.path(),
        );
        assert_eq!(
            out,
            argv(
                "python3 -m pytest -q -s -k not_slow -p no:cacheprovider --maxfail=3 -W error \
                 --junitxml=/out/reruns/attempt-1/junit.xml -p randomly --randomly-seed=5 \
                 tests/test_x.py::test_b"
            )
        );
    }

    #[test]
    fn pytest_rerun_keeps_unknown_words_and_drops_everything_after_dashes() {
        let root = tempfile::tempdir().unwrap();
        let cmd = argv("pytest --myplugin-opt value --junit-xml=x.xml -- tests/a.py");
        let out = pytest_argv(
            &cmd,
            1,
            &["t.py::x".to_owned()],
            Path::new("j.xml"),
            None,
            root.path(),
        );
        assert_eq!(
            out,
            argv("pytest --myplugin-opt value --junitxml=j.xml t.py::x")
        );
    }

    #[test]
    fn nextest_rerun_selects_exactly_the_failed_tests() {
        let cmd = argv(
            "cargo nextest run --offline -p crate_a --no-fail-fast adds -E test(foo) \
             --partition=count:1/2 --profile ci -- --exact --skip slow --ignored",
        );
        let tests = vec![
            ("crate_a".to_owned(), "tests::flaky".to_owned()),
            ("crate_a::it".to_owned(), "odd(name),x\\y".to_owned()),
        ];
        let out = nextest_argv(&cmd, 3, &tests);
        let mut want =
            argv("cargo nextest run --offline -p crate_a --no-fail-fast --profile ci --ignored -E");
        want.push(
            "(binary_id(=crate_a) & test(=tests::flaky)) | \
             (binary_id(=crate_a::it) & test(=odd(name\\)\\,x\\\\y))"
                .to_owned(),
        );
        assert_eq!(out, want);
    }
}

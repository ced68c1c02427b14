//! The rerun loop: each attempt runs the tests still failing (or the whole command), with
//! the run's timeout and redaction, its log at `<dir>/attempt-<k>/tests.log` and its
//! JUnit collected into `<dir>/attempt-<k>/`; then its results are merged.
//!
//! pytest writes each attempt's JUnit straight there (`--junitxml`). cargo-nextest and
//! other commands write theirs where the first run did, so the first run's files are
//! moved aside (`<dir>/first/`) before the first rerun and each attempt's files are moved
//! into its directory as soon as it ends — a file left over from an earlier attempt can
//! never pass for a rerun's result — and the first run's files are moved back at the end.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::merge::{self, Applied};
use super::plan::{self, Tool};
use crate::bundle::exec::{self, ExecError, ExecRecord, ExecRequest};
use crate::bundle::redact::Secrets;
use crate::bundle::seeds;
use crate::fsutil::repo_relative;
use crate::junit::{self, JunitError, ParseOptions, TestCase};

/// A run's results as the reruns see them: the JUnit files, every case, and for each
/// case the index of the file whose result decides its status.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// JUnit files: the first run's, then each attempt's.
    pub files: Vec<PathBuf>,
    /// Every test case.
    pub cases: Vec<TestCase>,
    /// `decided[i]`: the index in `files` of the file that decides `cases[i]`.
    pub decided: Vec<usize>,
}

/// What the reruns need; the first run has ended.
pub struct RerunRequest<'a> {
    /// How many reruns at most (`--rerun-failed`).
    pub times: u32,
    /// The first run's command.
    pub command: &'a [String],
    /// Whether it ran through `sh -c`.
    pub shell: bool,
    /// Each attempt's timeout.
    pub timeout: Duration,
    /// The working directory.
    pub root: &'a Path,
    /// Where the attempts' logs and JUnit files go (`<out>/reruns`).
    pub dir: PathBuf,
    /// Secrets to redact from the logs and the terminal.
    pub secrets: &'a Secrets,
    /// Copy each attempt's output to this process's stdout and stderr.
    pub echo: bool,
    /// The JUnit globs of the run, relative to the root.
    pub junit: &'a [String],
    /// The seeds of the first run (pytest-randomly's is pinned in pytest reruns).
    pub seeds: &'a BTreeMap<String, String>,
    /// The environment the command inherits (for each attempt's seeds).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Variables set for each attempt on top of this process's environment (a replay's
    /// recorded values), as for the first run.
    pub vars: &'a BTreeMap<String, String>,
    /// Where to publish each attempt's process id once it starts, as for the first run
    /// ([`exec::ExecRequest::started`]).
    pub started: Option<std::sync::Arc<std::sync::atomic::AtomicU32>>,
}

/// One rerun, as the bundle records it.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// 1 for the first rerun.
    pub number: u32,
    /// The tool, which decides what was rerun.
    pub tool: Tool,
    /// The tests selected by id (pytest node ids, nextest `binary id::name`); empty when
    /// the whole command ran again.
    pub tests: Vec<String>,
    /// The command as run, its exit and its log.
    pub exec: ExecRecord,
    /// The JUnit files it wrote, where they were kept.
    pub junit: Vec<PathBuf>,
    /// The seeds it ran with.
    pub seeds: BTreeMap<String, String>,
    /// Failing tests it gave a result for.
    pub found: usize,
    /// Failing tests that passed in it (now flaky).
    pub passed: usize,
    /// Tests still failing after it.
    pub still_failing: usize,
}

/// What a person should be told as the reruns go.
#[derive(Debug)]
pub enum RerunNote<'a> {
    /// An attempt starts.
    Start {
        /// 1-based.
        attempt: u32,
        /// `--rerun-failed`.
        of: u32,
        /// The tool.
        tool: Tool,
        /// How many tests it reruns by id; 0 for a whole-command rerun.
        tests: usize,
        /// How many failing tests it reruns for.
        failing: usize,
    },
    /// Failing tests that cannot be named for the tool (no pytest node id, no nextest
    /// binary id): they keep their failure.
    Unnamed {
        /// How many.
        count: usize,
    },
    /// An attempt wrote no readable JUnit: the failures stand.
    NoJunit {
        /// 1-based.
        attempt: u32,
    },
    /// A JUnit file of an attempt could not be read and was left out.
    JunitLeftOut(&'a JunitError),
    /// An attempt could not be started: no further reruns; the failures stand.
    NotStarted {
        /// 1-based.
        attempt: u32,
        /// Why.
        error: &'a ExecError,
    },
    /// An attempt timed out: no further reruns.
    TimedOut {
        /// 1-based.
        attempt: u32,
    },
}

/// Why the reruns could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    /// An attempt could not be run.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A directory for an attempt could not be made.
    #[error("cannot create `{}`", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JUnit file left by an earlier run could not be removed.
    #[error("cannot remove `{}`", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JUnit file could not be moved aside or back.
    #[error("cannot move `{}` to `{}`", from.display(), to.display())]
    Move {
        /// Where it was.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Reruns the failed tests of `results` up to `req.times` times, merging each attempt's
/// results into it. Returns the attempts made (none when nothing failed).
pub fn rerun(
    req: &RerunRequest<'_>,
    results: &mut Results,
    note: &mut dyn FnMut(RerunNote<'_>),
) -> Result<Vec<Attempt>, RerunError> {
    let mut pending = merge::failing(&results.cases);
    if req.times == 0 || pending.is_empty() {
        return Ok(Vec::new());
    }
    let tool = Tool::of(req.command, req.shell);
    let stash = match tool {
        Tool::Pytest { .. } => Vec::new(),
        _ => stash_first_run(req)?,
    };
    let outcome = attempt_all(req, tool, results, &mut pending, note);
    // The first run's files go back where the command wrote them, whatever happened.
    let restored = restore(&stash);
    // Empty once everything is back; left (and harmless) otherwise.
    let _ = std::fs::remove_dir(req.dir.join("first"));
    let attempts = outcome?;
    restored?;
    Ok(attempts)
}

/// The attempts, until nothing fails, the reruns run out or one times out.
fn attempt_all(
    req: &RerunRequest<'_>,
    tool: Tool,
    results: &mut Results,
    pending: &mut Vec<usize>,
    note: &mut dyn FnMut(RerunNote<'_>),
) -> Result<Vec<Attempt>, RerunError> {
    let mut attempts = Vec::new();
    for number in 1..=req.times.min(super::MAX_RERUNS) {
        if pending.is_empty() {
            break;
        }
        let dir = req.dir.join(format!("attempt-{number}"));
        std::fs::create_dir_all(&dir).map_err(|source| RerunError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        // A JUnit file an earlier run left here must not pass for this attempt's.
        remove_stale(&dir.join("junit.xml"))?;
        let Some((argv, tests)) = command_for(req, tool, results, pending, &dir, note) else {
            break;
        };
        note(RerunNote::Start {
            attempt: number,
            of: req.times,
            tool,
            tests: tests.len(),
            failing: pending.len(),
        });
        let started = exec::execute(&ExecRequest {
            command: argv,
            shell: req.shell,
            timeout: req.timeout,
            cwd: req.root.to_path_buf(),
            log_path: dir.join("tests.log"),
            secrets: req.secrets.clone(),
            echo: req.echo,
            env: req.vars.clone(),
            started: req.started.clone(),
        });
        let mut record = match started {
            Ok(r) => r,
            // A command line too long for the system (thousands of failed tests), say:
            // the failures stand, and the run goes on to its proofs.
            Err(e @ ExecError::Spawn { .. }) => {
                note(RerunNote::NotStarted {
                    attempt: number,
                    error: &e,
                });
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let seeds = seeds::detect(
            &seeds::command_words(&record.command, req.shell),
            req.env,
            &log_prefix(&dir.join("tests.log")),
        );
        record.log.path = repo_relative(req.root, &dir.join("tests.log"));
        let junit = collect_junit(req, tool, &dir)?;
        let applied = apply_files(&junit, results, pending, note);
        if junit.is_empty() || applied.is_none() {
            note(RerunNote::NoJunit { attempt: number });
        }
        let applied = applied.unwrap_or_default();
        let timed_out = record.timed_out;
        attempts.push(Attempt {
            number,
            tool,
            tests,
            exec: record,
            junit,
            seeds,
            found: applied.found,
            passed: applied.passed,
            still_failing: pending.len(),
        });
        if timed_out {
            note(RerunNote::TimedOut { attempt: number });
            break;
        }
    }
    Ok(attempts)
}

/// The command of the next attempt and the tests it selects, or `None` when none of the
/// failing tests can be named for the tool.
fn command_for(
    req: &RerunRequest<'_>,
    tool: Tool,
    results: &Results,
    pending: &[usize],
    dir: &Path,
    note: &mut dyn FnMut(RerunNote<'_>),
) -> Option<(Vec<String>, Vec<String>)> {
    let cases = pending.iter().filter_map(|&i| results.cases.get(i));
    let (argv, tests) = match tool {
        Tool::Pytest { args_at } => {
            // A node id whose file is not there (a path pytest's JUnit did not let us
            // recover) would make pytest refuse the whole rerun: it is left out instead.
            let ids: Vec<String> = cases
                .filter(|c| {
                    c.file
                        .as_deref()
                        .is_some_and(|f| req.root.join(f).is_file())
                })
                .filter_map(plan::pytest_node_id)
                .collect();
            let argv = plan::pytest_argv(
                req.command,
                args_at,
                &ids,
                &dir.join("junit.xml"),
                req.seeds.get(seeds::PYTEST_RANDOMLY).map(String::as_str),
                req.root,
            );
            (argv, ids)
        }
        Tool::Nextest { args_at } => {
            let pairs: Vec<(String, String)> = cases
                .filter(|c| !c.classname.is_empty() && !c.name.is_empty())
                .map(|c| (c.classname.clone(), c.name.clone()))
                .collect();
            let argv = plan::nextest_argv(req.command, args_at, &pairs);
            let ids = pairs
                .into_iter()
                .map(|(b, n)| format!("{b}::{n}"))
                .collect();
            (argv, ids)
        }
        Tool::Other => return Some((req.command.to_vec(), Vec::new())),
    };
    let unnamed = pending.len() - tests.len();
    if unnamed > 0 {
        note(RerunNote::Unnamed { count: unnamed });
    }
    (!tests.is_empty()).then_some((argv, tests))
}

/// Parses an attempt's JUnit files and merges each into the results. `None` when not
/// one of them could be read.
fn apply_files(
    files: &[PathBuf],
    results: &mut Results,
    pending: &mut Vec<usize>,
    note: &mut dyn FnMut(RerunNote<'_>),
) -> Option<Applied> {
    let mut total: Option<Applied> = None;
    for r in junit::read_files(files, &ParseOptions::default()) {
        let report = match r {
            Ok(report) => report,
            Err(e) => {
                note(RerunNote::JunitLeftOut(&e));
                continue;
            }
        };
        let source = results.files.len();
        results.files.push(PathBuf::from(&report.path));
        let a = merge::apply(
            &mut results.cases,
            &mut results.decided,
            pending,
            &report.cases,
            source,
        );
        let t = total.get_or_insert_with(Applied::default);
        t.found += a.found;
        t.passed += a.passed;
    }
    total
}

/// The JUnit files an attempt wrote, in its directory: pytest's own file, or the files
/// the run's globs find now, moved in.
fn collect_junit(
    req: &RerunRequest<'_>,
    tool: Tool,
    dir: &Path,
) -> Result<Vec<PathBuf>, RerunError> {
    if let Tool::Pytest { .. } = tool {
        let f = dir.join("junit.xml");
        return Ok(if f.is_file() { vec![f] } else { Vec::new() });
    }
    let mut kept = Vec::new();
    for (i, from) in written_files(req).into_iter().enumerate() {
        let to = dir.join(numbered_name(i, &from));
        move_file(&from, &to)?;
        kept.push(to);
    }
    Ok(kept)
}

/// The files the run's JUnit globs match now, outside the reruns' own directory.
fn written_files(req: &RerunRequest<'_>) -> Vec<PathBuf> {
    let files = junit::expand_inputs(req.root, req.junit).unwrap_or_default();
    let own = std::path::absolute(&req.dir).unwrap_or_else(|_| req.dir.clone());
    files
        .into_iter()
        .filter(|f| f.is_file())
        .filter(|f| !std::path::absolute(f).is_ok_and(|f| f.starts_with(&own)))
        .collect()
}

/// Removes a file when it exists.
fn remove_stale(path: &Path) -> Result<(), RerunError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RerunError::Remove {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// `<i>-<file name>`: unique within an attempt's directory.
fn numbered_name(i: usize, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "junit.xml".to_owned());
    format!("{i}-{name}")
}

/// Moves the files the run's JUnit globs match (the first run's, read or not) to
/// `<dir>/first/`, so that a rerun writes fresh ones. Returns each move, to be undone by
/// [`restore`].
fn stash_first_run(req: &RerunRequest<'_>) -> Result<Vec<(PathBuf, PathBuf)>, RerunError> {
    let dir = req.dir.join("first");
    std::fs::create_dir_all(&dir).map_err(|source| RerunError::CreateDir {
        path: dir.clone(),
        source,
    })?;
    let mut moved = Vec::new();
    for (i, f) in written_files(req).into_iter().enumerate() {
        let to = dir.join(numbered_name(i, &f));
        if let Err(e) = move_file(&f, &to) {
            // Put back what was moved before failing.
            let _ = restore(&moved);
            return Err(e);
        }
        moved.push((f, to));
    }
    Ok(moved)
}

/// Moves stashed files back where they were.
fn restore(moved: &[(PathBuf, PathBuf)]) -> Result<(), RerunError> {
    let mut first_error = None;
    for (original, stashed) in moved {
        if let Err(e) = move_file(stashed, original) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Renames a file, or copies and removes it across file systems.
fn move_file(from: &Path, to: &Path) -> Result<(), RerunError> {
    let err = |source| RerunError::Move {
        from: from.to_owned(),
        to: to.to_owned(),
        source,
    };
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map_err(err)?;
    std::fs::remove_file(from).map_err(err)
}

/// The start of a log, where tools print their seeds ([`seeds::LOG_PREFIX_BYTES`]).
pub fn log_prefix(path: &Path) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        // An unreadable log only means no seed is read from it.
        let _ = f.take(seeds::LOG_PREFIX_BYTES as u64).read_to_end(&mut buf);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Status;

    const XML_PASS: &str = r#"<testsuite name="s"><testcase classname="c" name="t"/></testsuite>"#;
    const XML_FAIL: &str = r#"<testsuite name="s"><testcase classname="c" name="t"><failure message="no"/></testcase></testsuite>"#;

    fn failed() -> TestCase {
        TestCase {
            file: None,
            classname: "c".into(),
            name: "t".into(),
            status: Status::Failed,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: Some("no".into()),
        }
    }

    /// Runs `script` (through `sh -c`) as the rerun of a failed test whose first JUnit
    /// is `first` (`results/junit.xml`).
    fn rerun_with(root: &Path, script: &str, times: u32) -> (Results, Vec<Attempt>, Vec<String>) {
        std::fs::create_dir_all(root.join("results")).unwrap();
        std::fs::write(root.join("results/junit.xml"), XML_FAIL).unwrap();
        std::fs::write(root.join("results/broken.xml"), "<testsuite").unwrap();
        let mut results = Results {
            files: vec![root.join("results/junit.xml")],
            cases: vec![failed()],
            decided: vec![0],
        };
        let command = vec![script.to_owned()];
        let globs = vec!["results/*.xml".to_owned()];
        let seeds = BTreeMap::new();
        let env = |_: &str| None;
        let no_vars = BTreeMap::new();
        let req = RerunRequest {
            vars: &no_vars,
            started: None,
            times,
            command: &command,
            shell: true,
            timeout: Duration::from_secs(20),
            root,
            dir: root.join("out/reruns"),
            secrets: &Secrets::default(),
            echo: false,
            junit: &globs,
            seeds: &seeds,
            env: &env,
        };
        let mut notes = Vec::new();
        let attempts = rerun(&req, &mut results, &mut |n| notes.push(format!("{n:?}"))).unwrap();
        (results, attempts, notes)
    }

    #[test]
    fn a_whole_command_rerun_that_passes_makes_the_test_flaky_and_restores_the_first_junit() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let script = format!("printf '{XML_PASS}' > results/junit.xml");
        let (results, attempts, _) = rerun_with(root, &script, 3);
        assert_eq!(attempts.len(), 1, "no rerun once nothing fails");
        assert_eq!(attempts[0].tool, Tool::Other);
        assert!(attempts[0].tests.is_empty());
        assert_eq!(
            (
                attempts[0].found,
                attempts[0].passed,
                attempts[0].still_failing
            ),
            (1, 1, 0)
        );
        assert_eq!(attempts[0].exec.log.path, "out/reruns/attempt-1/tests.log");
        assert_eq!(
            (results.cases[0].status, results.cases[0].attempts),
            (Status::Flaky, 2)
        );
        assert_eq!(results.decided, vec![1]);
        assert!(results.files[1].ends_with("out/reruns/attempt-1/0-junit.xml"));
        assert_eq!(
            std::fs::read_to_string(&results.files[1]).unwrap(),
            XML_PASS
        );
        // The first run's file is back, untouched.
        assert_eq!(
            std::fs::read_to_string(root.join("results/junit.xml")).unwrap(),
            XML_FAIL
        );
        // So is a file of the first run that could not be read, and no attempt took it.
        assert_eq!(
            std::fs::read_to_string(root.join("results/broken.xml")).unwrap(),
            "<testsuite"
        );
        assert_eq!(results.files.len(), 2);
    }

    #[test]
    fn a_rerun_that_writes_no_junit_keeps_the_failure() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let (results, attempts, notes) = rerun_with(root, "exit 0", 2);
        assert_eq!(attempts.len(), 2);
        assert!(
            attempts
                .iter()
                .all(|a| a.junit.is_empty() && a.still_failing == 1)
        );
        assert_eq!(
            (results.cases[0].status, results.cases[0].attempts),
            (Status::Failed, 1)
        );
        assert_eq!(
            notes.iter().filter(|n| n.starts_with("NoJunit")).count(),
            2,
            "{notes:?}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("results/junit.xml")).unwrap(),
            XML_FAIL
        );
    }

    #[test]
    fn a_rerun_that_cannot_start_keeps_the_failure_and_ends_the_reruns() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("results")).unwrap();
        std::fs::write(root.join("results/junit.xml"), XML_FAIL).unwrap();
        let mut results = Results {
            files: vec![root.join("results/junit.xml")],
            cases: vec![failed()],
            decided: vec![0],
        };
        let command = vec![root.join("no-such-program").display().to_string()];
        let globs = vec!["results/*.xml".to_owned()];
        let env = |_: &str| None;
        let no_vars = BTreeMap::new();
        let req = RerunRequest {
            vars: &no_vars,
            started: None,
            times: 3,
            command: &command,
            shell: false,
            timeout: Duration::from_secs(20),
            root,
            dir: root.join("out/reruns"),
            secrets: &Secrets::default(),
            echo: false,
            junit: &globs,
            seeds: &BTreeMap::new(),
            env: &env,
        };
        let mut notes = Vec::new();
        let attempts = rerun(&req, &mut results, &mut |n| notes.push(format!("{n:?}"))).unwrap();
        assert!(attempts.is_empty());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].starts_with("NotStarted { attempt: 1"), "{notes:?}");
        assert_eq!(results.cases[0].status, Status::Failed);
        assert_eq!(
            std::fs::read_to_string(root.join("results/junit.xml")).unwrap(),
            XML_FAIL
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_junit_file_left_by_an_earlier_run_never_passes_for_a_reruns() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        // A `pytest` that writes no JUnit, and last run's passing result where this
        // run's first attempt writes its own.
        let pytest = root.join("pytest");
        std::fs::write(&pytest, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&pytest, std::fs::Permissions::from_mode(0o755)).unwrap();
        let stale = root.join("out/reruns/attempt-1/junit.xml");
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(
            &stale,
            r#"<testsuite name="s"><testcase file="tests/test_x.py" classname="tests.test_x" name="t"/></testsuite>"#,
        )
        .unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        std::fs::write(root.join("tests/test_x.py"), "def t(): pass\n").unwrap();
        let mut case = failed();
        case.file = Some("tests/test_x.py".into());
        case.classname = "tests.test_x".into();
        let mut results = Results {
            files: vec![root.join("results/junit.xml")],
            cases: vec![case],
            decided: vec![0],
        };
        let command = vec![pytest.display().to_string()];
        let env = |_: &str| None;
        let no_vars = BTreeMap::new();
        let req = RerunRequest {
            vars: &no_vars,
            started: None,
            times: 1,
            command: &command,
            shell: false,
            timeout: Duration::from_secs(20),
            root,
            dir: root.join("out/reruns"),
            secrets: &Secrets::default(),
            echo: false,
            junit: &["results/junit.xml".to_owned()],
            seeds: &BTreeMap::new(),
            env: &env,
        };
        let attempts = rerun(&req, &mut results, &mut |_| {}).unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].tests, ["tests/test_x.py::t"]);
        assert!(attempts[0].junit.is_empty());
        assert_eq!(results.cases[0].status, Status::Failed);
        assert!(!stale.exists());

        // A node id whose file is not there is not rerun: pytest would refuse the lot.
        std::fs::remove_file(root.join("tests/test_x.py")).unwrap();
        let mut notes = Vec::new();
        let attempts = rerun(&req, &mut results, &mut |n| notes.push(format!("{n:?}"))).unwrap();
        assert!(attempts.is_empty());
        assert_eq!(notes, ["Unnamed { count: 1 }"]);
        assert_eq!(results.cases[0].status, Status::Failed);
    }

    #[test]
    fn nothing_failing_or_zero_times_runs_nothing() {
        let t = tempfile::tempdir().unwrap();
        let (_, attempts, _) = rerun_with(t.path(), "touch ran", 0);
        assert!(attempts.is_empty());
        assert!(!t.path().join("ran").exists());
    }
}

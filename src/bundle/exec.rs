//! Running the test command: its own process group, a timeout that kills the whole group,
//! output streamed to the terminal and to `tests.log` with secrets redacted.
//!
//! On Windows, which has no process groups, the command runs as a plain child and a timeout
//! kills that child only (see the `group` module).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::redact::{RedactionCount, Redactor, Secrets, merge_counts};
use crate::digest::Sha256Digest;

/// How long a timed-out group gets between `SIGTERM` and `SIGKILL`.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// How long the output pipes may stay open after the command exits (a background process
/// it left behind still holding them) before the rest of its group is killed.
pub const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Run `command` joined by spaces through `sh -c` instead of directly (on Windows, `sh`
    /// must be on `PATH`, such as Git for Windows' `bin\sh.exe`).
    pub shell: bool,
    /// Kill the command's process group after this long.
    pub timeout: Duration,
    /// Working directory.
    pub cwd: PathBuf,
    /// Variables set for the command on top of this process's environment.
    pub env: BTreeMap<String, String>,
    /// Where the redacted log goes.
    pub log_path: PathBuf,
    /// Secrets to redact from the log and the terminal.
    pub secrets: Secrets,
    /// Copy the (redacted) output to this process's stdout and stderr.
    pub echo: bool,
    /// Where to publish the started command's process id (on Unix also its process
    /// group's), for a signal handler that must end it ([`end_group`]); `0` until then.
    pub started: Option<Arc<AtomicU32>>,
}

/// What happened when the command ran.
#[derive(Debug, Clone, Serialize)]
pub struct ExecRecord {
    /// The command as given.
    pub command: Vec<String>,
    /// Whether it ran through `sh -c`.
    pub shell: bool,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended (RFC 3339, UTC).
    pub finished_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// The exit code, or `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// The timeout in seconds.
    pub timeout_secs: u64,
    /// The log file.
    pub log: LogRecord,
    /// Which kinds of secret were redacted, and how often (never the values).
    pub redactions: Vec<RedactionCount>,
}

impl ExecRecord {
    /// `true` when the command exited 0 in time.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// The captured log.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    /// Its path as written.
    pub path: String,
    /// SHA-256 of its bytes.
    pub digest: Sha256Digest,
    /// Its size.
    pub bytes: u64,
}

/// Why the command could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No command was given.
    #[error("no command to run: give it after `--`")]
    Empty,
    /// The command could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The log could not be written, or the process could not be waited for.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Starting the command in a group of its own, and ending that group.
#[cfg(unix)]
mod group {
    use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
    use std::process::{Child, Command, ExitStatus};

    /// Makes the command the leader of a new process group, so that ending the group
    /// reaches every process it starts (unless one leaves the group with `setsid`).
    pub fn isolate(cmd: &mut Command) {
        cmd.process_group(0);
    }

    /// Asks the group to stop (`SIGTERM`).
    pub fn terminate(child: &mut Child) {
        signal_group(child.id(), libc::SIGTERM);
    }

    /// Kills the group (`SIGKILL`).
    pub fn kill(child: &mut Child) {
        signal_group(child.id(), libc::SIGKILL);
    }

    /// The signal that ended the command, if one did.
    pub fn signal(status: &ExitStatus) -> Option<i32> {
        status.signal()
    }

    /// Asks the group led by `pgid` to stop, gives it a moment, then kills it.
    pub fn end(pgid: u32) {
        signal_group(pgid, libc::SIGTERM);
        std::thread::sleep(std::time::Duration::from_millis(500));
        signal_group(pgid, libc::SIGKILL);
    }

    /// Sends `sig` to every process in group `pgid`.
    fn signal_group(pgid: u32, sig: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(pgid) else {
            return;
        };
        // SAFETY: kill(2) with a negative pid signals a process group; it has no memory
        // effects.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Windows has no process groups and no `SIGTERM`: the command runs as a plain child, and
/// both stopping and killing it end that child only (`TerminateProcess`). A process the
/// command started itself is not killed by a timeout; if it still holds the output pipes,
/// its output is dropped once [`DRAIN_GRACE`](super::DRAIN_GRACE) has passed, as for a
/// process that left the group on Unix, so the log and its digest stay final.
#[cfg(windows)]
mod group {
    use std::process::{Child, Command, ExitStatus};

    /// Nothing to do: the command runs as a plain child.
    pub fn isolate(_cmd: &mut Command) {}

    /// Ends the child at once: Windows has no request to stop.
    pub fn terminate(child: &mut Child) {
        // An error means the child has already exited.
        let _ = child.kill();
    }

    /// Ends the child.
    pub fn kill(child: &mut Child) {
        let _ = child.kill();
    }

    /// Nothing: without a process handle or a group there is nothing to end by id.
    pub fn end(_pid: u32) {}

    /// Always `None`: Windows ends processes with exit codes, not signals.
    pub fn signal(_status: &ExitStatus) -> Option<i32> {
        None
    }
}

/// Runs the command to completion or timeout.
pub fn execute(req: &ExecRequest) -> Result<ExecRecord, ExecError> {
    let (mut cmd, program) = command(req)?;
    let log_err = |source| ExecError::Io {
        path: req.log_path.clone(),
        source,
    };
    let log = open_log(&req.log_path).map_err(log_err)?;

    let started_at = Utc::now();
    let start = Instant::now();
    let mut child: Child = cmd
        .spawn()
        .map_err(|source| ExecError::Spawn { program, source })?;
    if let Some(started) = &req.started {
        started.store(child.id(), Ordering::SeqCst);
    }
    let readers = start_readers(&mut child, &log, req);
    let (status, timed_out) = wait_until(&mut child, start + req.timeout).map_err(log_err)?;
    let finished_at = Utc::now();
    let duration = start.elapsed();
    drain(&readers, &mut child);
    let (counts, digest, bytes) = close_log(log, readers).map_err(log_err)?;

    Ok(ExecRecord {
        command: req.command.clone(),
        shell: req.shell,
        started_at: rfc3339(started_at),
        finished_at: rfc3339(finished_at),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        exit_code: status.code(),
        signal: group::signal(&status),
        timed_out,
        timeout_secs: req.timeout.as_secs(),
        log: LogRecord {
            path: req.log_path.to_string_lossy().into_owned(),
            digest,
            bytes,
        },
        redactions: counts,
    })
}

/// Ends the command started under `pid` (published through [`ExecRequest::started`])
/// and every process in its group: `SIGTERM`, half a second, `SIGKILL`. For a signal
/// handler; `0` (not started yet) does nothing. On Windows it does nothing.
pub fn end_group(pid: u32) {
    if pid != 0 {
        group::end(pid);
    }
}

/// The command to start, in a process group of its own, with its output piped; and the
/// program's name for an error.
fn command(req: &ExecRequest) -> Result<(Command, String), ExecError> {
    let program = req.command.first().ok_or(ExecError::Empty)?;
    let (mut cmd, name) = if req.shell {
        let mut c = Command::new("sh");
        c.arg("-c").arg(req.command.join(" "));
        (c, "sh".to_owned())
    } else {
        let mut c = Command::new(program);
        c.args(&req.command[1..]);
        (c, program.clone())
    };
    cmd.current_dir(&req.cwd)
        .envs(&req.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    group::isolate(&mut cmd);
    Ok((cmd, name))
}

/// Creates the log (and its directory).
fn open_log(path: &Path) -> io::Result<Arc<Mutex<LogFile>>> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(Arc::new(Mutex::new(LogFile {
        file: File::create(path)?,
        closed: false,
        hasher: Sha256::new(),
        bytes: 0,
    })))
}

/// A reader thread a pipe: each copies its pipe, redacted, to the log and the terminal.
fn start_readers(child: &mut Child, log: &Arc<Mutex<LogFile>>, req: &ExecRequest) -> Vec<Reader> {
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(pump(
            out,
            Arc::clone(log),
            req.secrets.clone(),
            req.echo
                .then(|| Box::new(io::stdout()) as Box<dyn Write + Send>),
        ));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(pump(
            err,
            Arc::clone(log),
            req.secrets.clone(),
            req.echo
                .then(|| Box::new(io::stderr()) as Box<dyn Write + Send>),
        ));
    }
    readers
}

/// Waits for the command until `deadline`; then asks its group to stop, gives it
/// [`KILL_GRACE`], and kills it. Returns how it ended and whether the timeout ended it.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<(ExitStatus, bool)> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        if Instant::now() >= deadline {
            group::terminate(child);
            let grace_end = Instant::now() + KILL_GRACE;
            let mut st = None;
            while Instant::now() < grace_end {
                if let Ok(Some(s)) = child.try_wait() {
                    st = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            group::kill(child);
            let status = match st {
                Some(s) => s,
                None => child.wait()?,
            };
            return Ok((status, true));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lets the pipes drain for [`DRAIN_GRACE`]; a process left behind holding them is
/// killed with its group.
fn drain(readers: &[Reader], child: &mut Child) {
    let drain_end = Instant::now() + DRAIN_GRACE;
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < drain_end {
        std::thread::sleep(Duration::from_millis(10));
    }
    if readers.iter().any(|r| !r.is_finished()) {
        group::kill(child);
        let end = Instant::now() + Duration::from_secs(1);
        while readers.iter().any(|r| !r.is_finished()) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Makes the log final: closed to later output, the readers' redaction counts merged,
/// flushed and synced. Returns the counts and the log's digest and size, taken from the
/// bytes as they were written.
fn close_log(
    log: Arc<Mutex<LogFile>>,
    readers: Vec<Reader>,
) -> io::Result<(Vec<RedactionCount>, Sha256Digest, u64)> {
    // A process that left the group (setsid) may still hold a pipe: its reader is left
    // behind, and the log is closed to it so the digest below stays true.
    if let Ok(mut f) = log.lock() {
        f.closed = true;
    }
    let mut counts: Vec<RedactionCount> = Vec::new();
    for r in readers {
        if !r.is_finished() {
            continue;
        }
        match r.join() {
            Ok(c) => merge_counts(&mut counts, c?),
            Err(_) => return Err(io::Error::other("output reader panicked")),
        }
    }
    let mut f = log.lock().unwrap_or_else(PoisonError::into_inner);
    f.file.flush()?;
    f.file.sync_all()?;
    let digest = Sha256Digest::from_bytes(f.hasher.clone().finalize().into());
    Ok((counts, digest, f.bytes))
}

/// An output reader: its redaction counts once its pipe is closed.
type Reader = JoinHandle<io::Result<Vec<RedactionCount>>>;

/// The log file, shared by the two output readers.
#[derive(Debug)]
struct LogFile {
    file: File,
    /// Set once the log is final; later output is dropped.
    closed: bool,
    /// The digest of every byte written so far.
    hasher: Sha256,
    /// How many bytes were written.
    bytes: u64,
}

impl LogFile {
    /// Writes to the log and takes the bytes into its digest.
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        Ok(())
    }
}

/// Copies one pipe through a redactor to the log and, optionally, the terminal.
fn pump(
    mut pipe: impl Read + Send + 'static,
    log: Arc<Mutex<LogFile>>,
    secrets: Secrets,
    mut echo: Option<Box<dyn Write + Send>>,
) -> Reader {
    std::thread::spawn(move || {
        let mut redactor = Redactor::new(secrets);
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::with_capacity(64 * 1024);
        let mut emit = |out: &mut Vec<u8>| -> io::Result<()> {
            if out.is_empty() {
                return Ok(());
            }
            let mut f = log
                .lock()
                .map_err(|_| io::Error::other("log lock poisoned"))?;
            if !f.closed {
                f.write_all(out)?;
                if let Some(e) = echo.as_mut() {
                    // The terminal going away must not stop the log.
                    let _ = e.write_all(out).and_then(|()| e.flush());
                }
            }
            out.clear();
            Ok(())
        };
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            redactor.push(&buf[..n], &mut out);
            emit(&mut out)?;
        }
        redactor.finish(&mut out);
        emit(&mut out)?;
        Ok(redactor.counts())
    })
}

/// Reads the log back (for tests and summaries).
pub fn read_log(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(dir: &Path, cmd: &[&str], shell: bool, timeout: Duration) -> ExecRequest {
        ExecRequest {
            command: cmd.iter().map(|s| s.to_string()).collect(),
            shell,
            timeout,
            cwd: dir.to_owned(),
            env: BTreeMap::new(),
            log_path: dir.join("out/tests.log"),
            secrets: Secrets::default(),
            echo: false,
            started: None,
        }
    }

    #[test]
    fn records_exit_code_and_captures_both_streams() {
        let t = tempfile::tempdir().unwrap();
        let r = execute(&req(
            t.path(),
            &["echo out; echo err >&2; exit 3"],
            true,
            Duration::from_secs(20),
        ))
        .unwrap();
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.timed_out && !r.succeeded());
        let log = read_log(&t.path().join("out/tests.log")).unwrap();
        assert!(log.contains("out\n") && log.contains("err\n"), "{log}");
        assert_eq!(r.log.bytes, log.len() as u64);
        assert_eq!(r.log.digest, Sha256Digest::of(log.as_bytes()));
    }

    #[test]
    fn without_shell_arguments_are_not_interpreted() {
        let t = tempfile::tempdir().unwrap();
        let r = execute(&req(
            t.path(),
            &["echo", "$HOME", "&&", "false"],
            false,
            Duration::from_secs(20),
        ))
        .unwrap();
        assert_eq!(r.exit_code, Some(0));
        let log = read_log(&t.path().join("out/tests.log")).unwrap();
        assert_eq!(log, "$HOME && false\n");
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let t = tempfile::tempdir().unwrap();
        let marker = t.path().join("survived");
        let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let start = Instant::now();
        let r = execute(&req(t.path(), &[&script], true, Duration::from_millis(300))).unwrap();
        assert!(r.timed_out);
        assert_eq!(r.exit_code, None);
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            !marker.exists(),
            "a child of the command outlived the timeout"
        );
    }

    #[test]
    fn process_escaping_the_group_cannot_hold_the_run_open() {
        let t = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let r = execute(&req(
            t.path(),
            &["setsid sleep 15 & echo started"],
            true,
            Duration::from_secs(60),
        ))
        .unwrap();
        assert_eq!(r.exit_code, Some(0));
        assert!(
            start.elapsed() < Duration::from_secs(12),
            "{:?}",
            start.elapsed()
        );
        let log = read_log(&t.path().join("out/tests.log")).unwrap();
        assert_eq!(log, "started\n");
        assert_eq!(r.log.digest, Sha256Digest::of(log.as_bytes()));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let t = tempfile::tempdir().unwrap();
        let e = execute(&req(
            t.path(),
            &["/nonexistent/prog"],
            false,
            Duration::from_secs(5),
        ))
        .unwrap_err();
        assert!(matches!(e, ExecError::Spawn { .. }), "{e}");
    }
}

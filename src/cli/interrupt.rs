//! Ctrl-C and `SIGTERM` while `run` or `replay` runs the test command.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// What happens when `run` or `replay` is interrupted (Ctrl-C, `SIGTERM`): the test
/// command's process group is ended (it runs in a group of its own, which a terminal's
/// Ctrl-C does not reach), the command's own cleanup runs (a replay removes its
/// worktree), and the process exits 130. The handler waits on its own thread for as long
/// as the process lives.
pub(super) struct Interrupt {
    /// The command's process id once it runs (`0` before and after).
    started: Arc<AtomicU32>,
    /// Set by the handler before it ends the command.
    interrupted: Arc<AtomicBool>,
}

impl Interrupt {
    /// Watches for the signals; `doing` says what the handler does (`ending the test
    /// command`), `cleanup` runs after the command's group was ended.
    pub(super) fn install(doing: &'static str, cleanup: impl FnOnce() + Send + 'static) -> Self {
        let this = Self {
            started: Arc::new(AtomicU32::new(0)),
            interrupted: Arc::new(AtomicBool::new(false)),
        };
        let (started, interrupted) = (Arc::clone(&this.started), Arc::clone(&this.interrupted));
        let handler = move || {
            wait_for_signal();
            interrupted.store(true, Ordering::SeqCst);
            eprintln!("proofgate: interrupted; {doing}");
            proofgate::bundle::exec::end_group(started.load(Ordering::SeqCst));
            cleanup();
            std::process::exit(130);
        };
        if std::thread::Builder::new()
            .name("signals".into())
            .spawn(handler)
            .is_err()
        {
            eprintln!(
                "proofgate: warning: cannot watch for Ctrl-C; an interrupted run leaves its command running"
            );
        }
        this
    }

    /// Where the pipeline publishes the command's process id.
    pub(super) fn started(&self) -> Arc<AtomicU32> {
        Arc::clone(&self.started)
    }

    /// After the pipeline returned. When the handler ended the command, this run's
    /// result is not the replay's: the thread waits for the handler to exit.
    pub(super) fn command_ended(&self) {
        // The command has ended: its id is no one's to signal any more.
        self.started.store(0, Ordering::SeqCst);
        if self.interrupted.load(Ordering::SeqCst) {
            loop {
                std::thread::park();
            }
        }
    }
}

/// Blocks until Ctrl-C or (on Unix) `SIGTERM`; forever when signals cannot be watched.
fn wait_for_signal() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        loop {
            std::thread::park();
        }
    };
    rt.block_on(signalled());
}

/// Resolves on Ctrl-C or (on Unix) `SIGTERM`; never when signals cannot be watched, so
/// that a process that cannot hear a signal keeps working instead of stopping at once.
pub(super) async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

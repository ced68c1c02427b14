//! Helpers shared by the gate's integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The proofgate binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_proofgate"))
}

/// The crate root.
pub fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether a peer program is on PATH. Missing: fail under `PROOFGATE_REQUIRE_PEERS=1`,
/// else say so loudly and let the caller skip.
pub fn peer(program: &str, why: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "peer `{program}` is required ({why}) but is not installed: run scripts/setup.sh"
            );
        }
        eprintln!(
            "SKIPPED: peer `{program}` is not installed ({why}); run scripts/setup.sh. \
             Under PROOFGATE_REQUIRE_PEERS=1 this is a failure."
        );
    }
    found
}

/// Runs `cmd`, returning its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

/// Text of stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Text of stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

//! Running the binary on a repository made on the spot.

use std::path::Path;
use std::process::{Command, Output};

/// Writes `files` (path, content) under a fresh temporary directory.
pub fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, c) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, c).expect("write");
    }
    dir
}

/// `proofgate --root ROOT ARGS…` with the runner's variables cleared and `vars` set.
pub fn proofgate(root: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    cmd.arg("--root").arg(root).args(args);
    for v in [
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_SHA",
        "GITHUB_TOKEN",
        "PROOFGATE_SIGNING_KEY",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run proofgate")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The lines of `out` the runner would read as workflow commands: starting with `::`
/// after blanks, or holding `##[` anywhere.
pub fn command_lines(out: &str) -> Vec<String> {
    out.split(['\n', '\r'])
        .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
        .map(str::to_owned)
        .collect()
}

/// The texts an attacker puts in names: each would start a workflow command, inject
/// Markdown or HTML, or both.
pub const HOSTILE: &[&str] = &[
    "x\n::stop-commands::pwned",
    "x\n::warning::forged",
    "x\r::error::forged",
    "<img src=x>",
    "](http://evil)",
    "x ##[warning]v1",
];

/// A goldenpath header as `#` comments around `body`.
pub fn bash_script(id: &str, body: &str) -> String {
    format!(
        "#!/usr/bin/env bash\n# ---\n# id: {id}\n# type: script\n# owner: platform-team\n# status: active\n{body}# ---\necho ok\n"
    )
}

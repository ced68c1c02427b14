//! The release binary is static (`scripts/build-static.sh`).

use std::process::Command;

use crate::common::{crate_root, peer, run, stderr, stdout};

#[test]
fn the_musl_release_binary_is_static_and_runs() {
    if !peer("musl-gcc", "C compiler for the musl build of ring") {
        return;
    }
    // Builds once in release into target/static and reuses it (slow the first time).
    let o = run(Command::new("bash")
        .arg("scripts/build-static.sh")
        .current_dir(crate_root()));
    assert!(o.status.success(), "build failed:\n{}", stderr(&o));
    let bin = crate_root().join(stdout(&o).trim());
    let ldd = run(Command::new("ldd").arg(&bin));
    let text = format!("{}{}", stdout(&ldd), stderr(&ldd));
    assert!(
        text.contains("not a dynamic executable"),
        "ldd says: {text}"
    );
    let v = run(Command::new(&bin).arg("--version"));
    assert!(v.status.success());
    assert!(stdout(&v).starts_with("proofgate "));
}

//! Finding 7: a header's `test.command` or `test.selectors`, and `scripts.declared`, name
//! paths that `generate` and `verify` read. A path outside the repository, or something
//! that is not a regular file or folder, is a lint error at its position and never read.

use std::time::{Duration, Instant};

use crate::helpers::{bash_script, proofgate, repo, text};

fn header_with_command(command: &str) -> String {
    bash_script(
        "x",
        &format!(
            "# maturity: 1\n# test:\n#   runner: pytest\n#   command: \"{command}\"\n#   evidence: ci\n# dry_run:\n#   supported: true\n# risk_profile:\n#   production_impact: low\n#   security_risk: low\n#   coupling_risk: low\n"
        ),
    )
}

fn lint_rejects(command: &str, extra: impl FnOnce(&std::path::Path)) -> String {
    let r = repo(&[
        ("scripts/x.sh", &header_with_command(command)),
        ("tests/test_x.py", "def test_t():\n    pass\n"),
    ]);
    extra(r.path());
    let started = Instant::now();
    let o = proofgate(r.path(), &["lint"], &[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    let line = out
        .lines()
        .find(|l| l.contains("[bad-selector]"))
        .unwrap_or_else(|| panic!("no bad-selector finding for {command:?}:\n{out}"));
    assert!(line.starts_with("error   scripts/x.sh:"), "{line}");
    // Nothing is hashed: generate refuses or skips the path without reading it.
    let junit =
        "<testsuite><testcase classname=\"tests.test_x\" name=\"t\" time=\"1\"/></testsuite>";
    std::fs::write(r.path().join("junit.xml"), junit).unwrap();
    let started = Instant::now();
    let _ = proofgate(
        r.path(),
        &[
            "generate",
            "--junit",
            "junit.xml",
            "--commit",
            &"a".repeat(40),
        ],
        &[],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "generate read what the selector named"
    );
    line.to_owned()
}

#[test]
fn finding_7_a_node_id_on_dev_zero_is_a_lint_error() {
    let l = lint_rejects("pytest /dev/zero::t", |_| {});
    assert!(l.contains("inside the repository"), "{l}");
}

#[test]
fn finding_7_a_node_id_climbing_out_with_dotdot_is_a_lint_error() {
    let l = lint_rejects("pytest ../../etc/passwd::t", |_| {});
    assert!(l.contains("inside the repository"), "{l}");
}

#[cfg(unix)]
#[test]
fn finding_7_a_symlink_to_etc_passwd_is_a_lint_error() {
    let l = lint_rejects("pytest tests/passwd.py::t", |root| {
        std::os::unix::fs::symlink("/etc/passwd", root.join("tests/passwd.py")).unwrap();
    });
    assert!(l.contains("outside the repository"), "{l}");
}

#[cfg(unix)]
#[test]
fn finding_7_a_symlink_to_a_device_is_a_lint_error() {
    let l = lint_rejects("pytest tests/zero.py", |root| {
        std::os::unix::fs::symlink("/dev/zero", root.join("tests/zero.py")).unwrap();
    });
    assert!(l.contains("outside the repository"), "{l}");
}

#[cfg(unix)]
#[test]
fn finding_7_a_fifo_is_a_lint_error() {
    let l = lint_rejects("pytest tests/fifo.py", |root| {
        let p = root.join("tests/fifo.py");
        let st = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
    });
    assert!(l.contains("neither a regular file nor a directory"), "{l}");
}

#[cfg(unix)]
#[test]
fn finding_7_a_test_path_through_a_link_inside_the_repository_is_a_lint_error() {
    // `generate` and `verify` hash test paths without following links; lint says so
    // before CI does.
    let l = lint_rejects("pytest linked/test_x.py", |root| {
        std::os::unix::fs::symlink("tests", root.join("linked")).unwrap();
    });
    assert!(l.contains("through the symbolic link `linked`"), "{l}");
}

#[cfg(unix)]
#[test]
fn finding_7_a_folder_symlinked_out_of_the_repository_is_a_lint_error() {
    let l = lint_rejects("pytest tests/etc/passwd::t", |root| {
        std::os::unix::fs::symlink("/etc", root.join("tests/etc")).unwrap();
    });
    assert!(l.contains("outside the repository"), "{l}");
}

#[test]
fn finding_7_a_declared_script_outside_the_repository_is_an_error_not_dropped() {
    for path in ["../../etc/passwd", "/etc/passwd"] {
        let r = repo(&[(
            "proofgate.yaml",
            &format!(
                "scripts:\n  declared:\n    - path: {path}\n      id: outside\n      type: script\n      owner: platform-team\n      status: active\n"
            ),
        )]);
        let o = proofgate(r.path(), &["lint"], &[]);
        let out = text(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
        assert!(
            out.lines()
                .any(|l| l.starts_with("error   proofgate.yaml:3:")
                    && l.contains("inside the repository")),
            "{path}: {out}"
        );
    }
}

#[cfg(unix)]
#[test]
fn finding_7_a_declared_script_symlinked_out_of_the_repository_is_an_error() {
    let r = repo(&[(
        "proofgate.yaml",
        "scripts:\n  declared:\n    - path: deploy/passwd\n      id: outside\n      type: script\n      owner: platform-team\n      status: active\n",
    )]);
    std::fs::create_dir_all(r.path().join("deploy")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", r.path().join("deploy/passwd")).unwrap();
    let o = proofgate(r.path(), &["lint"], &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}{}", text(&o.stderr));
    assert!(
        out.contains("[outside-repository]") && out.contains("outside the repository"),
        "{out}"
    );
}

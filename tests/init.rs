//! `proofgate init` through the real binary: the scaffold lints clean, its key pair signs
//! and verifies, a second run changes nothing, existing files survive without `--force`,
//! CODEOWNERS owners are allowed, and the generated workflow passes (and denies a failing
//! test) on a real runner (act, host mode, as `tests/gate/e2e.rs` drives it).
//! Also `lint --format github` and `generate --summary` on the scaffold.

#[path = "gate/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, copy_tree, crate_root, peer, run, stderr, stdout};

fn fixture() -> PathBuf {
    crate_root().join("tests/fixtures/init")
}

/// The fixture repository (two scripts without headers, their pytest tests) in a temp dir.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture().join("repo"), dir.path());
    dir
}

fn pg(root: &Path, args: &[&str]) -> Output {
    run(Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("PROOFGATE_SIGNING_KEY"))
}

const TWO_SCRIPTS: &[&str] = &[
    "init",
    "--script",
    "scripts/count.py",
    "--script",
    "scripts/greet.py",
];

/// Every file under `root` (but `.git`) and its bytes.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_name() == ".git" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The public key `init` printed in its `gh variable set` line.
fn printed_public_key(o: &Output) -> String {
    stdout(o)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("gh variable set PROOFGATE_TRUSTED_KEYS --body ")
        })
        .expect("init prints the gh variable line")
        .trim_matches('\'')
        .to_owned()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = run(Command::new("git")
        .args([
            "-c",
            "user.name=proofgate",
            "-c",
            "user.email=init@proofgate.invalid",
        ])
        .args(args)
        .current_dir(dir));
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    stdout(&o).trim().to_owned()
}

#[test]
fn init_on_a_repository_with_two_scripts_lints_clean_and_its_key_signs_a_passing_gate() {
    let r = repo();
    let root = r.path();
    let o = pg(root, TWO_SCRIPTS);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for line in [
        "created      .proofgate/signing-key.pem (the CI signing key, mode 0600)",
        "created      proofgate.yaml",
        "created      .github/workflows/proofgate.yml",
        "updated      scripts/count.py (header `count` added)",
        "updated      scripts/greet.py (header `greet` added)",
        "created      .gitignore",
        "  gh secret set PROOFGATE_SIGNING_KEY < .proofgate/signing-key.pem",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let public = printed_public_key(&o);
    let config = std::fs::read_to_string(root.join("proofgate.yaml")).unwrap();
    assert!(
        config.contains(&format!("public_key: \"{public}\"")),
        "{config}"
    );
    assert!(config.contains("roots: [scripts]"), "{config}");
    assert!(
        std::fs::read_to_string(root.join(".gitignore"))
            .unwrap()
            .lines()
            .any(|l| l == ".proofgate/")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(root.join(".proofgate/signing-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let count = std::fs::read_to_string(root.join("scripts/count.py")).unwrap();
    assert!(
        count.starts_with("#!/usr/bin/env python3\n# ---\n# id: count\n"),
        "{count}"
    );
    assert!(count.contains("#   command: \"pytest -q tests/test_count.py\"\n"));
    assert!(count.ends_with("def count(items):\n    return len(list(items))\n"));

    let lint = pg(root, &["lint", "--strict"]);
    assert!(lint.status.success(), "{}", stdout(&lint));
    assert!(stdout(&lint).contains("0 errors, 0 warnings in 2 scripts"));

    // The key pair signs proofs that the gate, trusting only what init wrote, accepts.
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    std::fs::copy(fixture().join("junit-pass.xml"), root.join("junit.xml")).unwrap();
    let summary = root.join("summary.md");
    let key_file = root.join(".proofgate/signing-key.pem");
    let g = pg(
        root,
        &[
            "generate",
            "--junit",
            "junit.xml",
            "--signing-key-file",
            key_file.to_str().unwrap(),
            "--commit",
            &head,
            "--summary",
            summary.to_str().unwrap(),
        ],
    );
    assert!(g.status.success(), "{}", stderr(&g));
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(s.starts_with("## proofgate generate\n"), "{s}");
    assert!(
        s.contains("2 proof(s): 2 PASS, 0 FAIL, from 3 test case(s); signed by key"),
        "{s}"
    );
    let v = pg(
        root,
        &[
            "verify",
            "--proofs",
            root.join("test-results/proofs").to_str().unwrap(),
            "--commit",
            &head,
        ],
    );
    assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
    assert!(stdout(&v).contains("gate: PASS"), "{}", stdout(&v));
}

#[test]
fn init_run_twice_changes_nothing_and_says_so() {
    let r = repo();
    let first = pg(r.path(), TWO_SCRIPTS);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot(r.path());
    let second = pg(r.path(), TWO_SCRIPTS);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(snapshot(r.path()), before, "the second run changed files");
    let out = stdout(&second);
    assert!(
        out.contains("nothing to do: every file is already in place"),
        "{out}"
    );
    assert!(out.contains("left alone   scripts/count.py (it already has a header)"));
    assert!(out.contains("left alone   .proofgate/signing-key.pem (the key exists and is reused)"));
    assert_eq!(printed_public_key(&first), printed_public_key(&second));
}

#[test]
fn init_never_overwrites_an_existing_file_without_force() {
    let r = repo();
    let root = r.path();
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    std::fs::write(root.join(".github/workflows/proofgate.yml"), "name: mine\n").unwrap();
    std::fs::write(root.join("proofgate.yaml"), "version: 1\n").unwrap();
    let o = pg(root, TWO_SCRIPTS);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("left alone   proofgate.yaml (it exists; `--force` overwrites it)"),
        "{out}"
    );
    assert!(out.contains("left alone   .github/workflows/proofgate.yml (it exists;"));
    assert_eq!(
        std::fs::read_to_string(root.join(".github/workflows/proofgate.yml")).unwrap(),
        "name: mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("proofgate.yaml")).unwrap(),
        "version: 1\n"
    );

    let key = std::fs::read(root.join(".proofgate/signing-key.pem")).unwrap();
    let mut args = TWO_SCRIPTS.to_vec();
    args.push("--force");
    let o = pg(root, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("overwritten  proofgate.yaml"),
        "{}",
        stdout(&o)
    );
    assert!(
        std::fs::read_to_string(root.join(".github/workflows/proofgate.yml"))
            .unwrap()
            .contains("mode: verify")
    );
    assert_eq!(
        std::fs::read(root.join(".proofgate/signing-key.pem")).unwrap(),
        key,
        "--force reuses the key"
    );
    // A header is never written twice, --force or not.
    let count = std::fs::read_to_string(root.join("scripts/count.py")).unwrap();
    assert_eq!(count.matches("# id: ").count(), 1, "{count}");
}

#[test]
fn init_takes_owners_from_codeowners_and_lint_accepts_them() {
    let r = repo();
    let root = r.path();
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(
        root.join(".github/CODEOWNERS"),
        "# owners\n* @acme/maintainers\n/scripts/greet.py @hugovk\n",
    )
    .unwrap();
    let o = pg(root, TWO_SCRIPTS);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = std::fs::read_to_string(root.join("proofgate.yaml")).unwrap();
    assert!(
        config.contains("owners: [acme/maintainers, hugovk]       # from .github/CODEOWNERS"),
        "{config}"
    );
    let greet = std::fs::read_to_string(root.join("scripts/greet.py")).unwrap();
    assert!(greet.contains("# owner: hugovk\n"), "{greet}");
    let count = std::fs::read_to_string(root.join("scripts/count.py")).unwrap();
    assert!(count.contains("# owner: acme/maintainers\n"), "{count}");
    let lint = pg(root, &["lint"]);
    assert!(lint.status.success(), "{}", stdout(&lint));
}

#[test]
fn init_tests_pairs_name_each_scripts_tests_and_bad_ones_exit_2() {
    let r = repo();
    let root = r.path();
    let o = pg(
        root,
        &[
            "init",
            "--tests",
            "scripts/count.py=tests/test_count.py,tests/test_greet.py",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let count = std::fs::read_to_string(root.join("scripts/count.py")).unwrap();
    assert!(
        count.contains("command: \"pytest -q tests/test_count.py tests/test_greet.py\""),
        "{count}"
    );
    for (args, says) in [
        (
            vec![
                "init", "--script", "a.py", "--script", "b.py", "--tests", "t.py",
            ],
            "does not say which script",
        ),
        (
            vec![
                "init",
                "--script",
                "scripts/greet.py",
                "--tests",
                "tests/missing.py",
            ],
            "does not exist",
        ),
        (vec!["init", "--script", "../x.py"], "inside the repository"),
        (
            vec!["init", "--config", "other.yaml"],
            "`--config` does not apply",
        ),
    ] {
        let o = pg(root, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn lint_format_github_puts_each_finding_on_its_line() {
    let r = repo();
    let root = r.path();
    assert!(pg(root, TWO_SCRIPTS).status.success());
    let path = root.join("scripts/greet.py");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("# owner: platform-team", "# owner: ghost, team"),
    )
    .unwrap();
    let o = pg(root, &["lint", "--format", "github"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no annotation in:\n{out}"));
    assert!(
        line.starts_with(
            "::error title=proofgate lint%3A bad-value,file=scripts/greet.py,line=5,col=3::owner: \"ghost, team\" is not one of"
        ),
        "{line}"
    );
    assert!(out.ends_with("1 error, 0 warnings in 2 scripts\n"), "{out}");
}

/// The generated workflow on a real runner: act in host mode, the Action copied in for
/// `proofgate/proofgate@v1`, the binary under test through `PROOFGATE_BINARY`, act's
/// artifact server on 127.0.0.1, a `pull_request` event whose base is the commit itself.
/// Two substitutions, because this machine has no network: `actions/setup-python` becomes
/// a local stand-in that only checks the runner's Python, and `pip install pytest` becomes
/// `pytest --version` (the runner has it).
fn act_generated_workflow(env: &[(&str, &str)]) -> (Output, String) {
    let r = repo();
    let root = r.path();
    let o = pg(root, TWO_SCRIPTS);
    assert!(o.status.success(), "{}", stderr(&o));
    let public = printed_public_key(&o);
    let wf = root.join(".github/workflows/proofgate.yml");
    let text = std::fs::read_to_string(&wf).unwrap();
    for needle in [
        "proofgate/proofgate@v1",
        "actions/setup-python@v5",
        "run: python -m pip install pytest",
        "    if: always()\n",
    ] {
        assert!(
            text.contains(needle),
            "the workflow lacks {needle:?}:\n{text}"
        );
    }
    let text = text
        .replace("proofgate/proofgate@v1", "./")
        .replace("actions/setup-python@v5", "./.github/actions/setup-python")
        .replace("python -m pip install pytest", "python -m pytest --version");
    std::fs::write(&wf, text).unwrap();
    copy_tree(
        &fixture().join("setup-python-standin"),
        &root.join(".github/actions/setup-python"),
    );
    std::fs::copy(crate_root().join("action.yml"), root.join("action.yml")).unwrap();
    copy_tree(&crate_root().join("dist"), &root.join("dist"));
    let _ = std::fs::remove_dir_all(root.join("dist/bin"));
    let mut ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    ignore.push_str("test-results/\n__pycache__/\n");
    std::fs::write(root.join(".gitignore"), ignore).unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "proofgate init"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    let events = tempfile::tempdir().unwrap();
    let event = events.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"pull_request":{{"number":1,"base":{{"sha":"{head}","ref":"main"}},"head":{{"sha":"{head}","ref":"topic"}}}}}}"#
        ),
    )
    .unwrap();
    // The secret as `gh secret set … < FILE` stores it; passed as one line of base64
    // (the same PKCS#8 key: the Action takes PEM or base64) since act reads `-s` values
    // from its command line.
    let pem = std::fs::read_to_string(root.join(".proofgate/signing-key.pem")).unwrap();
    let key: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let artifacts = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("timeout");
    cmd.args(["300", "act", "pull_request", "-e"])
        .arg(&event)
        .args(["-P", "ubuntu-latest=-self-hosted"])
        .arg("--artifact-server-path")
        .arg(artifacts.path())
        .args(["--artifact-server-addr", "127.0.0.1"])
        .args(["--artifact-server-port", &port.to_string()])
        .arg("--env")
        .arg(format!("PROOFGATE_BINARY={}", bin().display()))
        .arg("-s")
        .arg(format!("PROOFGATE_SIGNING_KEY={key}"))
        .arg("--var")
        .arg(format!("PROOFGATE_TRUSTED_KEYS={public}"))
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .current_dir(root);
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    let o = run(&mut cmd);
    let log = format!("{}{}", stdout(&o), stderr(&o));
    eprintln!("--- act\n{log}");
    (o, log)
}

fn act_peers() -> bool {
    peer(
        "act",
        "the GitHub Actions runner for the generated workflow",
    ) && peer("node", "runs the Action's shim under act")
        && peer("git", "the scaffolded repository")
        && peer("python3", "runs the scaffolded repository's tests")
}

#[test]
fn init_generated_workflow_passes_under_act() {
    if !act_peers() {
        return;
    }
    let (o, log) = act_generated_workflow(&[]);
    assert_eq!(o.status.code(), Some(0), "act failed");
    assert!(log.contains("gate: PASS"), "the certify job's verdict");
    assert!(
        log.contains("## proofgate generate"),
        "generate's job summary"
    );
    assert!(
        log.contains("2 proof(s): 2 PASS, 0 FAIL"),
        "generate's job summary"
    );
}

#[test]
fn init_generated_workflow_denies_a_failing_test_under_act() {
    if !act_peers() {
        return;
    }
    let (o, log) = act_generated_workflow(&[("FAIL_COUNT", "1")]);
    assert_ne!(o.status.code(), Some(0), "the run must fail");
    // `certify` runs although `test` failed (`if: always()`) and denies `count` only.
    assert!(log.contains("gate: FAIL"), "certify ran and denied");
    assert!(
        log.contains("VERDICT_FAIL"),
        "the reason is the failed tests"
    );
    assert!(
        log.contains("tests/test_count.py::test_counts_nothing"),
        "generate's summary names the failing test"
    );
}

#[test]
fn the_readme_quick_start_shows_the_workflow_init_writes() {
    let readme = std::fs::read_to_string(crate_root().join("README.md")).unwrap();
    let quick = &readme[readme.find("## Quick start").expect("a quick start")..];
    let block = quick
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("\njobs:"))
        .expect("the quick start shows a workflow");
    let r = repo();
    assert!(pg(r.path(), TWO_SCRIPTS).status.success());
    let written =
        std::fs::read_to_string(r.path().join(".github/workflows/proofgate.yml")).unwrap();
    let shown: serde_yaml_ng::Value = serde_yaml_ng::from_str(block).unwrap();
    let written: serde_yaml_ng::Value = serde_yaml_ng::from_str(&written).unwrap();
    assert_eq!(
        shown, written,
        "README.md's quick start and `proofgate init` differ"
    );
}

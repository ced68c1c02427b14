//! `proofgate replay`, driven through the real binary on a fixture repository: a pytest
//! project whose tests draw seeded random numbers and read the environment
//! (`tests/fixtures/replay/lottery-project`). pytest and git are peers: missing, they
//! fail the test under `PROOFGATE_REQUIRE_PEERS=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    for k in [
        "PROOFGATE_SIGNING_KEY",
        "CARGO_TARGET_DIR",
        "GITHUB_BASE_REF",
        "PYTHONHASHSEED",
        "LOTTERY_BALLS",
        "LOTTERY_API_TOKEN",
    ] {
        c.env_remove(k);
    }
    c
}

/// `true` when the peer is there. Without it: a failure under
/// `PROOFGATE_REQUIRE_PEERS=1`, otherwise a loud skip.
fn peer(name: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("peer `{name}` is missing and PROOFGATE_REQUIRE_PEERS=1 (run scripts/setup.sh)");
    }
    eprintln!("SKIPPED: peer `{name}` is not installed; run scripts/setup.sh to test against it");
    false
}

fn peers() -> bool {
    let pytest = Command::new("python3")
        .args(["-c", "import pytest"])
        .output()
        .is_ok_and(|o| o.status.success());
    let git = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    peer("python3 pytest", pytest) && peer("git", git)
}

/// Validates `value` against `schemas/<name>` with Python's `jsonschema`.
fn assert_schema(name: &str, value: &Value) {
    let has = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !peer("python3 jsonschema", has) {
        return;
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.json");
    std::fs::write(&doc, serde_json::to_vec(value).unwrap()).unwrap();
    let script = "import json,sys,jsonschema\n\
                  s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))\n\
                  jsonschema.Draft202012Validator.check_schema(s)\n\
                  jsonschema.Draft202012Validator(s).validate(d)";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(&doc)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{name} rejects the document:\n{}\n{value:#}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

fn git(root: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// The key runs are signed with (`record`), and its public key, which the fixture's
/// `proofgate.yaml` trusts: a replay runs only a bundle signed by a trusted key.
fn signing() -> &'static (String, String) {
    static KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(harness::key_pair)
}

/// The fixture as a git repository with one commit; returns the commit.
fn repository(root: &Path) -> String {
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay/lottery-project"),
        root,
    );
    std::fs::write(
        root.join("proofgate.yaml"),
        format!(
            "trusted_keys:\n  - name: ci\n    public_key: \"{}\"\n",
            signing().1
        ),
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), "results/\nrecorded/\nreplays/\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "t@example.com"]);
    git(root, &["config", "user.name", "t"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "lottery"]);
    git(root, &["rev-parse", "HEAD"])
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Records the fixture's tests with `proofgate run` into `<root>/recorded`, with the
/// seed 1 and `envs`; returns the bundle.
fn record(root: &Path, envs: &[(&str, &str)]) -> Value {
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .args([
            "run",
            "--out",
            "recorded",
            "--junit",
            "results/junit.xml",
            "--record-env",
            "LOTTERY_BALLS",
            "--record-env",
            "LOTTERY_API_TOKEN",
            "--",
            "python3",
            "-m",
            "pytest",
            "-q",
            "tests/test_lottery.py",
            "--junitxml=results/junit.xml",
        ])
        .current_dir(root)
        .env("PYTHONHASHSEED", "1")
        .env("PROOFGATE_SIGNING_KEY", &signing().0);
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    read_json(&root.join("recorded/bundle.json"))
}

/// `proofgate replay <root>/recorded --format json --out <out>` with `envs` set.
fn replay(root: &Path, out: &str, envs: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .arg("replay")
        .arg(root.join("recorded"))
        .args(["--format", "json", "--out", out])
        .current_dir(root);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", text(o)))
}

fn worktrees(root: &Path) -> usize {
    git(root, &["worktree", "list", "--porcelain"])
        .lines()
        .filter(|l| l.starts_with("worktree "))
        .count()
}

#[test]
fn a_replay_of_a_seeded_run_matches_even_when_the_current_seed_differs() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let commit = repository(root);
    let recorded = record(root, &[]);
    assert_eq!(recorded["outcome"], "PASSED");
    let env = &recorded["environment"];
    assert_eq!(env["env"]["PYTHONHASHSEED"], "1", "{env:#}");
    assert!(
        env["tools"]["python3"]
            .as_str()
            .unwrap()
            .starts_with("Python 3")
    );
    assert!(env["platform"]["os"].is_string());
    assert_eq!(
        env["named"],
        serde_json::json!(["LOTTERY_API_TOKEN", "LOTTERY_BALLS"])
    );

    // A later commit in the checkout: the replay runs the recorded one.
    std::fs::write(
        root.join("tests/test_lottery.py"),
        "def test_other():\n    assert False\n",
    )
    .unwrap();
    git(root, &["commit", "-qam", "later"]);

    // Seed 8 would draw a 13; the replay sets the recorded seed 1 again.
    let o = replay(root, "replays/one", &[("PYTHONHASHSEED", "8")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = report(&o);
    assert_eq!(r["status"], "match", "{r:#}");
    assert_eq!(r["tests"]["recorded"], 4);
    assert_eq!(r["tests"]["matched"], 4, "{r:#}");
    assert_eq!(r["mismatches"], serde_json::json!([]));
    assert_eq!(r["recorded"]["commit"], commit.as_str());
    assert_eq!(r["environment_recorded"], true);
    assert_eq!(
        r["sources"],
        serde_json::json!({"added": [], "removed": [], "changed": []}),
        "the recorded commit's sources, whatever the checkout holds now"
    );

    // The replay wrote a bundle of its own that says what it replayed.
    let bundle = read_json(&root.join("replays/one/bundle.json"));
    let recorded_digest = proofgate::digest::Sha256Digest::of(
        &std::fs::read(root.join("recorded/bundle.json")).unwrap(),
    )
    .to_string();
    assert_eq!(
        bundle["replay_of"]["bundle_digest"],
        recorded_digest.as_str()
    );
    assert_eq!(bundle["replay_of"]["commit"], commit.as_str());
    assert_eq!(r["recorded"]["bundle_digest"], recorded_digest.as_str());
    assert_eq!(bundle["environment"]["env"]["PYTHONHASHSEED"], "1");
    assert_eq!(bundle["git"]["head_sha"], commit.as_str());
    assert!(root.join("replays/one/proof-lottery.json").exists());
    assert_schema("bundle.schema.json", &bundle);
    assert_schema("replay-report.schema.json", &r);
    // The temporary worktree is gone again.
    assert_eq!(worktrees(root), 1);

    // The same directory twice is refused rather than mixed.
    let o = replay(root, "replays/one", &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn a_replay_in_a_changed_environment_names_the_test_and_the_variable() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    repository(root);
    // Recorded with changes the commit does not have: both show as source differences.
    std::fs::write(root.join("notes.txt"), "not committed\n").unwrap();
    let script = root.join("scripts/lottery.py");
    let edited = std::fs::read_to_string(&script).unwrap() + "# edited\n";
    std::fs::write(&script, edited).unwrap();
    record(root, &[]);

    let o = replay(root, "replays/balls", &[("LOTTERY_BALLS", "10")]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let r = report(&o);
    assert_eq!(r["status"], "replay_mismatch", "{r:#}");
    assert_eq!(r["tests"]["matched"], 3, "{r:#}");
    assert_eq!(r["tests"]["differing"], 1, "{r:#}");
    let m = &r["mismatches"][0];
    assert_eq!(m["kind"], "result");
    assert_eq!(m["name"], "test_ticket_has_49_balls");
    assert_eq!(m["scripts"], serde_json::json!(["lottery"]));
    assert_eq!(m["recorded"]["status"], "passed");
    assert_eq!(m["replayed"]["status"], "failed");
    assert!(
        m["replayed"]["message"]
            .as_str()
            .unwrap()
            .contains("the draw used 10 balls"),
        "{m:#}"
    );
    let balls: Vec<&Value> = r["environment"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["key"] == "LOTTERY_BALLS")
        .collect();
    assert_eq!(
        balls,
        [
            &serde_json::json!({"part": "env", "key": "LOTTERY_BALLS", "recorded": null, "replayed": "10"})
        ],
        "{r:#}"
    );
    assert_eq!(
        r["sources"],
        serde_json::json!({"added": [], "removed": ["notes.txt"], "changed": ["scripts/lottery.py"]}),
        "{r:#}"
    );
    assert_eq!(worktrees(root), 1);
    assert_schema("replay-report.schema.json", &r);

    // The table names the same test and variable.
    let o = bin()
        .arg("--root")
        .arg(root)
        .arg("replay")
        .arg(root.join("recorded/bundle.json"))
        .args(["--out", "replays/table"])
        .env("LOTTERY_BALLS", "10")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("REPLAY MISMATCH"), "{table}");
    assert!(
        table.contains("test_ticket_has_49_balls (lottery): differs"),
        "{table}"
    );
    assert!(
        table.contains("env LOTTERY_BALLS: recorded (unset), replayed 10"),
        "{table}"
    );
    assert!(table.contains("changed: scripts/lottery.py"), "{table}");
    assert!(
        table.contains("only in the recording: notes.txt"),
        "{table}"
    );
}

#[test]
fn a_redacted_secret_is_asked_for_and_never_replayed_as_the_marker() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    repository(root);
    let secret = "lottery-secret-value-42";
    let recorded = record(root, &[("LOTTERY_API_TOKEN", secret)]);
    assert_eq!(
        recorded["environment"]["env"]["LOTTERY_API_TOKEN"],
        "[REDACTED:env:LOTTERY_API_TOKEN]"
    );
    let bytes = std::fs::read_to_string(root.join("recorded/bundle.json")).unwrap();
    assert!(!bytes.contains(secret));

    let o = replay(root, "replays/no-secret", &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("LOTTERY_API_TOKEN"), "{err}");
    assert!(err.contains("set it in the environment"), "{err}");
    assert_eq!(
        worktrees(root),
        1,
        "nothing is checked out before the refusal"
    );

    let o = replay(
        root,
        "replays/secret",
        &[("LOTTERY_API_TOKEN", "another-value-77")],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(report(&o)["status"], "match");
    let replayed = std::fs::read_to_string(root.join("replays/secret/bundle.json")).unwrap();
    assert!(!replayed.contains("another-value-77"));
}

#[test]
fn a_commit_the_repository_lacks_and_a_bundle_without_one_are_bad_input() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    repository(root);
    record(root, &[]);

    // Another repository does not have the recorded commit.
    let other = tempfile::tempdir().unwrap();
    git(other.path(), &["init", "-q", "-b", "main"]);
    let o = bin()
        .arg("--root")
        .arg(other.path())
        .arg("replay")
        .arg(root.join("recorded"))
        .args(["--trusted-key", &signing().1])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not in the repository"),
        "{}",
        text(&o)
    );

    // A run outside a git work tree records no commit.
    let mut bundle = read_json(&root.join("recorded/bundle.json"));
    bundle["git"] = Value::Null;
    let dir: PathBuf = root.join("no-commit");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bundle.json"),
        serde_json::to_vec(&bundle).unwrap(),
    )
    .unwrap();
    let o = bin()
        .arg("--root")
        .arg(root)
        .arg("replay")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("has no commit"),
        "{}",
        text(&o)
    );
}

#[cfg(unix)]
#[test]
fn an_interrupted_replay_ends_its_command_and_removes_its_worktree() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    repository(root);
    record(root, &[]);
    // A replay whose command hangs: the fixture's tests under a sleeping conftest.
    let marker = root.join("replay-started");
    std::fs::write(
        root.join("conftest.py"),
        format!(
            "import os, pathlib, time\n\
             if os.environ.get('LOTTERY_HANG'):\n    \
                 pathlib.Path({:?}).write_text(str(os.getpid()))\n    \
                 time.sleep(120)\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    git(root, &["add", "conftest.py"]);
    git(root, &["commit", "-qm", "hang on request"]);
    let o = record(root, &[]);
    assert_eq!(o["outcome"], "PASSED");

    let mut child = bin()
        .arg("--root")
        .arg(root)
        .arg("replay")
        .arg(root.join("recorded"))
        .args(["--format", "json", "--out", "replays/interrupted"])
        .env("LOTTERY_HANG", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the replayed command never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(worktrees(root), 2);
    let pytest_pid = std::fs::read_to_string(&marker).unwrap();
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(worktrees(root), 1, "the worktree is removed");
    let alive = Command::new("kill")
        .args(["-0", pytest_pid.trim()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(!alive, "the replayed command was ended");
}

// The store tests' harness: a signed run, a server on SQLite, a tenant.
#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

#[test]
fn a_run_published_to_the_store_replays_by_its_id() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    let (key, public) = harness::key_pair();
    let dir = harness::signed_run(&root, &key, "test_sub", false);
    let db = harness::database(harness::Db::Sqlite, t.path()).unwrap();
    let server = harness::Server::start(&db, &[]);
    let acme = harness::tenant(&server.db, "acme", &public);
    let o = harness::publish(&server, &dir, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let id = harness::published_id(&o);

    let replay = |token: Option<&str>| {
        let mut c = bin();
        c.arg("--root")
            .arg(&root)
            .args(["replay", &id, "--server", &server.url(), "--format", "json"])
            .env_remove("PROOFGATE_SERVER_TOKEN");
        if let Some(token) = token {
            c.env("PROOFGATE_SERVER_TOKEN", token);
        }
        c.output().unwrap()
    };
    // Without the token: the message says where to put it.
    let o = replay(None);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("PROOFGATE_SERVER_TOKEN"), "{}", text(&o));

    // The store verified the bundle against the tenant's keys; the replay checks it
    // again against its own: the root's proofgate.yaml does not trust this key.
    let o = replay(Some(&acme.read));
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no trusted key"), "{}", text(&o));
    let o = {
        let mut c = bin();
        c.arg("--root")
            .arg(&root)
            .args(["replay", &id, "--server", &server.url(), "--format", "json"])
            .args(["--trusted-key", &public])
            .env("PROOFGATE_SERVER_TOKEN", &acme.read);
        c.output().unwrap()
    };
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = report(&o);
    assert_eq!(r["status"], "match", "{r:#}");
    assert_eq!(r["recorded"]["run_id"], id.as_str());
    assert_eq!(r["tests"]["matched"], 2, "{r:#}");
    let bundle = read_json(Path::new(r["replay"]["bundle"].as_str().unwrap()));
    assert_eq!(bundle["replay_of"]["run_id"], id.as_str());
    assert_eq!(
        bundle["replay_of"]["bundle_digest"],
        proofgate::digest::Sha256Digest::of(&std::fs::read(dir.join("bundle.json")).unwrap())
            .to_string()
    );
}

#[test]
fn the_recorded_seeds_are_the_replayed_proofs_seeds_so_every_test_keeps_its_identity() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    repository(root);
    record(root, &[]);
    // `run` read the seed from the command's environment into every proof.
    let proof = read_json(&root.join("recorded/proof-lottery.json"));
    assert_eq!(proof["context"]["seeds"]["PYTHONHASHSEED"], "1");

    let o = replay(root, "replays/seeded", &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = report(&o);
    assert_eq!(r["seeds"], serde_json::json!({"PYTHONHASHSEED": "1"}));
    assert_eq!(r["tests"]["matched"], 4, "{r:#}");
    let replayed = read_json(&root.join("replays/seeded/proof-lottery.json"));
    assert_eq!(replayed["context"]["seeds"], proof["context"]["seeds"]);
    let hashes = |p: &Value| -> Vec<Value> {
        p["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["descriptor_hash"].clone())
            .collect()
    };
    assert_eq!(hashes(&replayed), hashes(&proof));
}

#[test]
fn an_unsigned_forged_or_untrusted_bundle_is_not_replayed_unless_allowed() {
    if !peers() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    repository(root);
    record(root, &[]);
    let replay_dir = |dir: &Path, extra: &[&str]| {
        bin()
            .arg("--root")
            .arg(root)
            .arg("replay")
            .arg(dir)
            .args(["--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let copy_run = |name: &str| {
        let dir = root.join(name);
        copy_dir(&root.join("recorded"), &dir);
        dir
    };
    let marker = root.join("pwned");
    // The bundle edited after signing to run another command.
    let forged = copy_run("forged");
    let mut bundle = read_json(&forged.join("bundle.json"));
    bundle["command"] = serde_json::json!(["sh", "-c", format!("touch {}", marker.display())]);
    std::fs::write(
        forged.join("bundle.json"),
        serde_json::to_vec(&bundle).unwrap(),
    )
    .unwrap();
    let o = replay_dir(&forged, &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("carries other bytes"), "{}", text(&o));
    // Without its envelope.
    let unsigned = copy_run("unsigned");
    std::fs::remove_file(unsigned.join("bundle.dsse.json")).unwrap();
    let o = replay_dir(&unsigned, &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no signed envelope"), "{}", text(&o));
    assert!(text(&o).contains("--allow-unsigned"), "{}", text(&o));
    // Signed by a key the root does not trust.
    std::fs::write(root.join("proofgate.yaml"), "version: 1\n").unwrap();
    let o = replay_dir(&root.join("recorded"), &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(!marker.exists(), "a refused bundle ran its command");
    // A key given on the command line is trusted; --allow-unsigned runs an unsigned one.
    let o = replay_dir(
        &root.join("recorded"),
        &["--trusted-key", &signing().1, "--out", "replays/flag"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = replay_dir(
        &unsigned,
        &["--allow-unsigned", "--out", "replays/unsigned"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("replaying it anyway"), "{}", text(&o));
}

//! `proofgate manifest`, `proofgate ledger` and `proofgate run`, driven through the real
//! binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use proofgate::sign::SigningKey;
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    c.env_remove("PROOFGATE_SIGNING_KEY")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("GITHUB_BASE_REF");
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bundle")
        .join(name)
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

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
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

fn has_python_module(m: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {m}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh key: its base64 PKCS#8 text and its base64 public key.
fn key_pair() -> (String, String) {
    let (k, der) = SigningKey::generate().unwrap();
    (
        base64::engine::general_purpose::STANDARD.encode(der),
        k.public_key().to_base64(),
    )
}

/// Validates `value` against `schemas/<name>` with Python's `jsonschema`.
fn assert_schema(name: &str, value: &Value) {
    if !peer("python3 jsonschema", has_python_module("jsonschema")) {
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
                  jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker()).validate(d)";
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

mod manifest {
    use super::*;

    fn tree(root: &Path) {
        write(root, "src/a.py", "print('a')\n");
        write(root, "src/b.py", "print('b')\n");
        write(root, "tests/test_a.py", "def test(): pass\n");
        write(root, ".gitignore", "*.log\n");
        write(root, "run.log", "ignored\n");
    }

    #[test]
    fn manifest_writes_sorted_files_and_a_root_that_verifies() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        tree(root);
        let out = root.join("manifest.json");
        let o = bin()
            .arg("--root")
            .arg(root)
            .args(["manifest", "--scope", "src", "--scope", "tests", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let printed = stdout_json(&o);
        let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(printed, written);
        let files: Vec<&String> = written["files"].as_object().unwrap().keys().collect();
        assert_eq!(files, ["src/a.py", "src/b.py", "tests/test_a.py"]);
        assert_eq!(written["file_count"], 3);
        assert_eq!(written["scope"], serde_json::json!(["src", "tests"]));
        assert_schema("manifest.schema.json", &written);

        let o = bin()
            .arg("--root")
            .arg(root)
            .args(["manifest", "--verify"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
        assert_eq!(stdout_json(&o)["status"], "MATCH");
    }

    #[test]
    fn verify_reports_added_removed_and_changed_files_and_exits_1() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        tree(root);
        let out = root.join("manifest.json");
        let o = bin()
            .arg("--root")
            .arg(root)
            .args(["manifest", "--format", "table", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0);
        write(root, "src/a.py", "print('changed')\n");
        std::fs::remove_file(root.join("src/b.py")).unwrap();
        write(root, "src/c.py", "new\n");
        write(root, "debug.log", "still ignored\n");
        let o = bin()
            .arg("--root")
            .arg(root)
            .args(["manifest", "--verify"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(code(&o), 1);
        let r = stdout_json(&o);
        assert_eq!(r["status"], "DIFFERENT");
        assert_eq!(r["added"], serde_json::json!(["src/c.py"]));
        assert_eq!(r["removed"], serde_json::json!(["src/b.py"]));
        assert_eq!(r["changed"], serde_json::json!(["src/a.py"]));
    }

    #[test]
    fn verify_catches_a_hand_edited_manifest() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        tree(root);
        let out = root.join("manifest.json");
        assert_eq!(
            code(
                &bin()
                    .arg("--root")
                    .arg(root)
                    .args(["manifest", "--out"])
                    .arg(&out)
                    .output()
                    .unwrap()
            ),
            0
        );
        // Point the recorded digest at new content without recomputing the root.
        write(root, "src/a.py", "evil\n");
        let mut m: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        m["files"]["src/a.py"] =
            Value::String(proofgate::digest::Sha256Digest::of(b"evil\n").to_string());
        std::fs::write(&out, serde_json::to_vec(&m).unwrap()).unwrap();
        let o = bin()
            .arg("--root")
            .arg(root)
            .args(["manifest", "--verify"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(code(&o), 1);
        assert_eq!(stdout_json(&o)["recorded_manifest_consistent"], false);
    }

    #[test]
    fn scope_outside_the_root_is_a_usage_error() {
        let t = tempfile::tempdir().unwrap();
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["manifest", "--scope", "../.."])
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
        assert!(String::from_utf8_lossy(&o.stderr).contains("outside the root"));
    }

    #[test]
    fn malformed_manifest_names_line_and_column() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("m.json");
        std::fs::write(&m, "{\n  \"format_version\": 1,\n  oops\n}").unwrap();
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["manifest", "--verify"])
            .arg(&m)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("line 3, column"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

mod ledger {
    use super::*;
    use proofgate::sign::dsse;

    fn append(root: &Path, key: &str, kind: &str, digest: &str) -> Output {
        bin()
            .arg("--root")
            .arg(root)
            .env("PROOFGATE_SIGNING_KEY", key)
            .args([
                "ledger",
                "append",
                "--ledger-id",
                "ci-ledger",
                "--event",
                kind,
                "--digest",
                digest,
            ])
            .output()
            .unwrap()
    }

    fn verify(root: &Path, public: &str) -> (i32, Value) {
        let o = bin()
            .arg("--root")
            .arg(root)
            .args([
                "ledger",
                "verify",
                "--format",
                "json",
                "--public-key",
                public,
            ])
            .output()
            .unwrap();
        (code(&o), stdout_json(&o))
    }

    fn ledger_file(root: &Path) -> PathBuf {
        root.join("test-results/proofs/ledger.jsonl")
    }

    fn setup() -> (tempfile::TempDir, String, String) {
        let t = tempfile::tempdir().unwrap();
        let (key, public) = key_pair();
        for (i, kind) in ["GENERATE", "UPLOAD", "VERIFY", "RELEASE"]
            .iter()
            .enumerate()
        {
            let d =
                proofgate::digest::Sha256Digest::of(format!("proof {i}").as_bytes()).to_string();
            let o = append(t.path(), &key, kind, &d);
            assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
            let appended = stdout_json(&o);
            assert_eq!(appended["event"]["sequence"], i + 1);
            assert_schema("ledger-event.schema.json", &appended["event"]);
        }
        (t, key, public)
    }

    fn rewrite(root: &Path, f: impl FnOnce(&mut Vec<String>)) {
        let text = std::fs::read_to_string(ledger_file(root)).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        f(&mut lines);
        std::fs::write(ledger_file(root), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn appended_ledger_verifies_as_a_hash_chain() {
        let (t, _key, public) = setup();
        let (c, r) = verify(t.path(), &public);
        assert_eq!(c, 0, "{r:#}");
        assert_eq!(r["integrity_model"], "HASH_CHAIN");
        assert_eq!(r["verification_status"], "VERIFIED");
        assert_eq!(r["chain_length"], 4);
        assert!(r["root_hash"].as_str().unwrap().starts_with("sha256:"));
        // The table form says the same.
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["ledger", "verify", "--public-key", &public])
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(table.contains("verification_status  VERIFIED"), "{table}");
    }

    #[test]
    fn every_tamper_case_breaks_the_chain_with_its_reason() {
        type Tamper = Box<dyn Fn(&mut Vec<String>)>;
        let other_key = SigningKey::generate().unwrap().0;
        let resign: Tamper = Box::new(move |ls: &mut Vec<String>| {
            let env: dsse::Envelope = serde_json::from_str(&ls[1]).unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(&env.payload)
                .unwrap();
            let forged = dsse::sign(&other_key, &env.payload_type, &payload);
            ls[1] = serde_json::to_string(&forged).unwrap();
        });
        let cases: Vec<(&str, Tamper, &str, u64)> = vec![
            (
                "deleted line",
                Box::new(|ls: &mut Vec<String>| {
                    ls.remove(1);
                }),
                "GAP",
                2,
            ),
            (
                "swapped lines",
                Box::new(|ls: &mut Vec<String>| ls.swap(1, 2)),
                "REORDER",
                2,
            ),
            (
                "edited field",
                Box::new(|ls: &mut Vec<String>| {
                    let mut env: dsse::Envelope = serde_json::from_str(&ls[2]).unwrap();
                    let b64 = base64::engine::general_purpose::STANDARD;
                    let mut ev: Value =
                        serde_json::from_slice(&b64.decode(&env.payload).unwrap()).unwrap();
                    ev["event"] = "RELEASE".into();
                    env.payload = b64.encode(serde_json::to_vec(&ev).unwrap());
                    ls[2] = serde_json::to_string(&env).unwrap();
                }),
                "TAMPERED_EVENT",
                3,
            ),
            ("re-signed with another key", resign, "UNKNOWN_KEY", 2),
            (
                "truncated line",
                Box::new(|ls: &mut Vec<String>| {
                    let n = ls[3].len() / 3;
                    ls[3].truncate(n);
                }),
                "MALFORMED_LINE",
                4,
            ),
            (
                "duplicated line",
                Box::new(|ls: &mut Vec<String>| {
                    let d = ls[0].clone();
                    ls.insert(1, d);
                }),
                "DUPLICATE",
                2,
            ),
        ];
        // One signed ledger, copied for each case.
        let (original, _key, public) = setup();
        let pristine = std::fs::read(ledger_file(original.path())).unwrap();
        for (name, tamper, reason, seq) in cases {
            let t = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(ledger_file(t.path()).parent().unwrap()).unwrap();
            std::fs::write(ledger_file(t.path()), &pristine).unwrap();
            rewrite(t.path(), |ls| tamper(ls));
            let (c, r) = verify(t.path(), &public);
            assert_eq!(c, 1, "{name}: {r:#}");
            assert_eq!(r["verification_status"], "BROKEN", "{name}");
            assert_eq!(r["reason"], reason, "{name}: {r:#}");
            assert_eq!(r["first_bad_sequence"], seq, "{name}: {r:#}");
            assert!(
                r["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{name}"
            );
        }
    }

    #[test]
    fn pinned_head_catches_a_dropped_last_event() {
        let (t, _key, public) = setup();
        let (_, r) = verify(t.path(), &public);
        let head = r["root_hash"].as_str().unwrap().to_owned();
        rewrite(t.path(), |ls| {
            ls.pop();
        });
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args([
                "ledger",
                "verify",
                "--format",
                "json",
                "--public-key",
                &public,
                "--head",
                &head,
            ])
            .output()
            .unwrap();
        assert_eq!(code(&o), 1);
        assert_eq!(stdout_json(&o)["reason"], "HEAD_MISMATCH");
    }

    #[test]
    fn appending_to_a_torn_ledger_is_refused() {
        let (t, key, _public) = setup();
        rewrite(t.path(), |ls| {
            let n = ls[3].len() / 2;
            ls[3].truncate(n);
        });
        let o = append(
            t.path(),
            &key,
            "VERIFY",
            &proofgate::digest::Sha256Digest::of(b"x").to_string(),
        );
        assert_eq!(code(&o), 2);
        assert!(String::from_utf8_lossy(&o.stderr).contains("broken at line 4"));
    }

    #[test]
    fn bad_event_kind_and_missing_key_are_usage_errors() {
        let t = tempfile::tempdir().unwrap();
        let (key, _) = key_pair();
        let d = proofgate::digest::Sha256Digest::of(b"x").to_string();
        assert_eq!(code(&append(t.path(), &key, "DEPLOY", &d)), 2);
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["ledger", "append", "--event", "GENERATE"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["ledger", "verify"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
    }
}

mod run {
    use super::*;

    fn run_in(
        root: &Path,
        out: &str,
        extra: &[&str],
        cmd: &[&str],
        envs: &[(&str, &str)],
    ) -> (Output, Value) {
        let mut c = bin();
        c.arg("--root")
            .arg(root)
            .args(["run", "--out"])
            .arg(root.join(out))
            .args(extra)
            .arg("--");
        c.args(cmd).env_remove("GITHUB_SHA");
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let bundle_path = root.join(out).join("bundle.json");
        let bundle: Value =
            serde_json::from_slice(&std::fs::read(&bundle_path).unwrap_or_else(|e| {
                panic!(
                    "no bundle at {} ({e}); stderr:\n{}",
                    bundle_path.display(),
                    String::from_utf8_lossy(&o.stderr)
                )
            }))
            .unwrap();
        (o, bundle)
    }

    fn git_init(root: &Path) {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(
                "git init -q -b main . && git config user.email t@example.com && git config user.name t \
                 && git add -A && git commit -qm base && git checkout -qb topic \
                 && printf 'x\\n' >> README.md && git add -A && git commit -qm change",
            )
            .current_dir(root)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    const GHP: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn pytest_pass_fail_and_timeout_each_produce_a_bundle() {
        if !peer("python3 pytest", has_python_module("pytest")) {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        copy_dir(&fixture("pytest-project"), root);
        write(root, "README.md", "fixture\n");
        git_init(root);
        let (key, public) = key_pair();
        let pytest = |junit: &str| -> Vec<String> {
            ["python3", "-m", "pytest", "-q", "-s", "tests/test_calc.py"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("--junitxml={junit}")])
                .collect()
        };

        // Passing tests; a token printed by a test is redacted; proofs and bundle are signed.
        let cmd = pytest("results/pass.xml");
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (o, b) = run_in(
            root,
            "out-pass",
            &["--junit", "results/pass.xml", "--base", "main"],
            &cmd,
            &[("FIXTURE_TOKEN", GHP), ("PROOFGATE_SIGNING_KEY", &key)],
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(b["outcome"], "PASSED");
        assert_eq!(b["exit_code"], 0);
        assert_eq!(b["junit"][0]["path"], "results/pass.xml");
        assert_eq!(b["proofs"].as_array().unwrap().len(), 1, "{b:#}");
        assert_eq!(b["proofs"][0]["script_id"], "calc");
        assert_eq!(b["proofs"][0]["verdict"], "PASS");
        let proof_path = root.join(b["proofs"][0]["path"].as_str().unwrap());
        assert_eq!(
            b["proofs"][0]["digest"],
            proofgate::digest::Sha256Digest::of(&std::fs::read(&proof_path).unwrap()).to_string()
        );
        assert!(root.join("out-pass/proof-calc.dsse.json").exists());
        // Outside Actions the proof names the commit checked out, as `generate`'s do.
        let proof: Value = serde_json::from_slice(&std::fs::read(&proof_path).unwrap()).unwrap();
        assert_eq!(proof["commit_sha"], b["git"]["head_sha"], "{proof:#}");
        assert!(proof["commit_sha"].is_string());
        assert_eq!(b["git"]["changed_files"], serde_json::json!(["README.md"]));
        assert_eq!(
            b["git"]["diff_stat"],
            serde_json::json!({"added": 1, "deleted": 0, "files": 1})
        );
        assert_eq!(b["git"]["base_ref"], "main");
        assert_eq!(
            b["redactions"],
            serde_json::json!([{"kind": "github-token", "count": 1}])
        );
        let log = std::fs::read_to_string(root.join("out-pass/tests.log")).unwrap();
        assert!(log.contains("3 passed"), "{log}");
        assert!(log.contains("token is [REDACTED:github-token]"), "{log}");
        assert!(!log.contains(GHP) && !String::from_utf8_lossy(&o.stdout).contains(GHP));
        assert!(
            !String::from_utf8_lossy(&std::fs::read(root.join("out-pass/bundle.json")).unwrap())
                .contains(GHP)
        );
        assert_schema("bundle.schema.json", &b);
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(root.join("out-pass/manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["root_hash"], b["manifest"]["root_hash"]);
        assert!(manifest["files"].get("scripts/calc.py").is_some());
        assert!(manifest["files"].get("out-pass/tests.log").is_none());
        assert!(manifest["files"].get("results/pass.xml").is_none());
        let summary = std::fs::read_to_string(root.join("out-pass/summary.md")).unwrap();
        assert!(summary.starts_with("# Test run: PASSED"), "{summary}");
        // The signed bundle verifies and carries the exact bundle bytes.
        let env: proofgate::sign::dsse::Envelope =
            serde_json::from_slice(&std::fs::read(root.join("out-pass/bundle.dsse.json")).unwrap())
                .unwrap();
        let pk = proofgate::sign::PublicKey::parse(&public).unwrap();
        let v = proofgate::sign::dsse::verify_typed(
            &env,
            proofgate::bundle::run::BUNDLE_PAYLOAD_TYPE,
            &[pk],
        )
        .unwrap();
        assert_eq!(
            v.payload,
            std::fs::read(root.join("out-pass/bundle.json")).unwrap()
        );
        // A signed run continues the ledger beside the proofs with a GENERATE event that
        // vouches for the bundle and every proof; it verifies with the run's key.
        let ledger_verify = |file: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_proofgate"))
                .current_dir(root)
                .args(["ledger", "verify", file, "--format", "json", "--public-key"])
                .arg(&public)
                .output()
                .unwrap()
        };
        let o = ledger_verify("out-pass/ledger.jsonl");
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["verification_status"], "VERIFIED", "{report:#}");
        assert_eq!(report["chain_length"], 1, "{report:#}");
        let line = std::fs::read_to_string(root.join("out-pass/ledger.jsonl")).unwrap();
        let env: proofgate::sign::dsse::Envelope = serde_json::from_str(line.trim()).unwrap();
        let event = proofgate::sign::dsse::verify(&env, &[pk]).unwrap();
        let event: Value = serde_json::from_slice(&event.payload).unwrap();
        assert_eq!(event["event"], "GENERATE", "{event:#}");
        let vouched = event["digests"].as_array().unwrap();
        let bundle_digest = proofgate::digest::Sha256Digest::of(
            &std::fs::read(root.join("out-pass/bundle.json")).unwrap(),
        )
        .to_string();
        assert!(vouched.contains(&Value::from(bundle_digest)), "{event:#}");
        assert!(vouched.contains(&b["proofs"][0]["digest"]), "{event:#}");

        // Failing tests: still a proof, FAIL, and the secret in the failure message is
        // redacted from it.
        let cmd = pytest("results/fail.xml");
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (o, b) = run_in(
            root,
            "out-fail",
            &["--junit", "results/fail.xml"],
            &cmd,
            &[("FIXTURE_FAIL", "1"), ("FIXTURE_TOKEN", GHP)],
        );
        assert_eq!(code(&o), 1);
        assert_eq!(b["outcome"], "FAILED");
        assert_eq!(b["exit_code"], 1);
        assert_eq!(b["proofs"][0]["verdict"], "FAIL");
        let proof = std::fs::read_to_string(root.join("out-fail/proof-calc.json")).unwrap();
        assert!(!proof.contains(GHP), "the token leaked into the proof");
        assert!(proof.contains("[REDACTED:github-token]"), "{proof}");
        assert_schema("bundle.schema.json", &b);
        assert!(!root.join("out-fail/bundle.dsse.json").exists());

        // A hanging test: the group is killed, and the script still gets a FAIL proof.
        let start = std::time::Instant::now();
        let (o, b) = run_in(
            root,
            "out-timeout",
            &["--timeout", "2", "--junit", "results/slow.xml"],
            &[
                "python3",
                "-m",
                "pytest",
                "-q",
                "tests/test_slow.py",
                "--junitxml=results/slow.xml",
            ],
            &[],
        );
        assert_eq!(code(&o), 1);
        assert!(start.elapsed().as_secs() < 30);
        assert!(String::from_utf8_lossy(&o.stderr).contains("Tests timed out after 2s."));
        assert_eq!(b["outcome"], "TIMED_OUT");
        assert_eq!(b["timed_out"], true);
        assert_eq!(b["exit_code"], Value::Null);
        assert_eq!(b["proofs"][0]["verdict"], "FAIL");
        assert_schema("bundle.schema.json", &b);
    }

    #[test]
    fn nextest_pass_fail_and_timeout_each_produce_a_bundle() {
        let has_nextest = Command::new("cargo")
            .args(["nextest", "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !peer("cargo-nextest", has_nextest) {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        copy_dir(&fixture("nextest-project"), root);
        // Build once, outside the timed runs.
        let built = Command::new("cargo")
            .args(["nextest", "run", "--offline", "--no-run"])
            .current_dir(root)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let cmd = ["cargo", "nextest", "run", "--offline", "--no-fail-fast"];
        let junit = ["--junit", "target/nextest/default/junit.xml"];

        let (o, b) = run_in(root, "out-pass", &junit, &cmd, &[]);
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(b["outcome"], "PASSED");
        assert_eq!(b["junit"].as_array().unwrap().len(), 1);
        assert_eq!(b["git"], Value::Null);
        assert_schema("bundle.schema.json", &b);
        let log = std::fs::read_to_string(root.join("out-pass/tests.log")).unwrap();
        assert!(log.contains("3 tests run: 3 passed"), "{log}");

        let (o, b) = run_in(root, "out-fail", &junit, &cmd, &[("FIXTURE_FAIL", "1")]);
        assert_eq!(code(&o), 1);
        assert_eq!(b["outcome"], "FAILED");
        assert_eq!(b["exit_code"], 100);

        let (o, b) = run_in(
            root,
            "out-timeout",
            &["--timeout", "3"],
            &cmd,
            &[("FIXTURE_HANG", "1")],
        );
        assert_eq!(code(&o), 1);
        assert!(String::from_utf8_lossy(&o.stderr).contains("Tests timed out after 3s."));
        assert_eq!(b["outcome"], "TIMED_OUT");
    }

    #[test]
    fn secrets_split_across_writes_are_redacted_in_log_and_terminal() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        // Every secret is written in two pieces with a pause between, so the pieces
        // arrive in separate reads.
        let script = "printf 'a=ghp_0123456789abcdefg'; sleep 0.3; printf 'hijklmnopqrstuvwxyz b\\n'; \
                      printf 'k=AKIAIOSF'; sleep 0.3; printf 'ODNN7EXAMPLE\\n'; sleep 0.2; \
                      { printf 'db=hunter2-'; sleep 0.3; printf 'very-secret\\n'; } >&2; sleep 0.2; \
                      printf -- '-----BEGIN EC PRIV'; sleep 0.3; printf 'ATE KEY-----\\nMHcCAQEE\\n-----END EC PRIVATE KEY-----\\n'; \
                      echo done";
        let (o, b) = run_in(
            root,
            "out",
            &["--shell", "--redact-env", "DB_PASSWORD"],
            &[script],
            &[("DB_PASSWORD", "hunter2-very-secret")],
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let log = std::fs::read_to_string(root.join("out/tests.log")).unwrap();
        for secret in [
            "ghp_0123456789",
            "AKIAIOSFODNN7EXAMPLE",
            "hunter2",
            "MHcCAQEE",
            "PRIVATE KEY",
        ] {
            assert!(
                !log.contains(secret),
                "{secret} leaked into the log:\n{log}"
            );
            assert!(
                !String::from_utf8_lossy(&o.stdout).contains(secret),
                "{secret} leaked to the terminal"
            );
            assert!(
                !String::from_utf8_lossy(&o.stderr).contains(secret),
                "{secret} leaked to the terminal"
            );
        }
        assert!(log.contains("a=[REDACTED:github-token] b\n"), "{log}");
        // stdout and stderr interleave in the log at read granularity, so only the
        // replacements themselves are checked past the first line.
        assert!(log.contains("[REDACTED:aws-access-key-id]\n"), "{log}");
        assert!(log.contains("[REDACTED:env:DB_PASSWORD]\n"), "{log}");
        assert!(log.contains("[REDACTED:private-key]\n"), "{log}");
        assert!(log.contains("done\n"));
        let kinds: Vec<&str> = b["redactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "env:DB_PASSWORD",
                "github-token",
                "aws-access-key-id",
                "private-key"
            ]
        );
    }

    #[test]
    fn signing_key_value_is_always_redacted() {
        let t = tempfile::tempdir().unwrap();
        let (key, _) = key_pair();
        let (o, b) = run_in(
            t.path(),
            "out",
            &["--shell"],
            &["printf '%s\\n' \"$PROOFGATE_SIGNING_KEY\""],
            &[("PROOFGATE_SIGNING_KEY", &key)],
        );
        assert_eq!(code(&o), 0);
        let log = std::fs::read_to_string(t.path().join("out/tests.log")).unwrap();
        assert_eq!(log, "[REDACTED:signing-key]\n");
        assert_eq!(b["redactions"][0]["kind"], "signing-key");
    }

    #[test]
    fn key_named_by_signing_key_env_is_redacted_and_signs_the_bundle() {
        let t = tempfile::tempdir().unwrap();
        let (key, public) = key_pair();
        let (o, b) = run_in(
            t.path(),
            "out",
            &["--shell", "--signing-key-env", "RELEASE_KEY"],
            &["printf '%s\\n' \"$RELEASE_KEY\""],
            &[("RELEASE_KEY", &key)],
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let log = std::fs::read_to_string(t.path().join("out/tests.log")).unwrap();
        assert_eq!(log, "[REDACTED:signing-key]\n");
        assert_eq!(b["log"]["path"], "out/tests.log");
        let env: proofgate::sign::dsse::Envelope =
            serde_json::from_slice(&std::fs::read(t.path().join("out/bundle.dsse.json")).unwrap())
                .unwrap();
        let pk = proofgate::sign::PublicKey::parse(&public).unwrap();
        assert!(proofgate::sign::dsse::verify(&env, &[pk]).is_ok());
        // A named variable that is not set is an error before anything runs.
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["run", "--signing-key-env", "NOPE_UNSET", "--", "true"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
    }

    #[test]
    fn command_that_cannot_start_is_a_usage_error() {
        let t = tempfile::tempdir().unwrap();
        let o = bin()
            .arg("--root")
            .arg(t.path())
            .args(["run", "--out"])
            .arg(t.path().join("out"))
            .args(["--", "/nonexistent/test-runner"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 2);
        assert!(String::from_utf8_lossy(&o.stderr).contains("cannot start"));
    }

    #[test]
    fn an_interrupted_run_ends_its_test_command_and_exits_130() {
        let t = tempfile::tempdir().unwrap();
        let pid_file = t.path().join("pid");
        let child = bin()
            .arg("--root")
            .arg(t.path())
            .args(["run", "--out"])
            .arg(t.path().join("out"))
            .args(["--", "sh", "-c"])
            .arg(format!("echo $$ > '{}'; exec sleep 60", pid_file.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let pid = loop {
            if let Ok(p) = std::fs::read_to_string(&pid_file)
                && !p.trim().is_empty()
            {
                break p.trim().to_owned();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the test command never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        let alive = Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "the test command outlived the interrupted run");
    }
}

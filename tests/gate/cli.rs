//! `proofgate verify` and `proofgate demo` through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proofgate::demo::{DEMO_COMMIT, EXAMPLE, generate_proofs};
use proofgate::model::Model;
use proofgate::sign::SigningKey;

use crate::common::{bin, crate_root, peer, run, stderr, stdout};

/// The demo's example repository with signed proofs for `DEMO_COMMIT`.
struct Fixture {
    dir: tempfile::TempDir,
    public_key: String,
}

impl Fixture {
    fn new() -> Self {
        Self::with_config("")
    }

    fn with_config(extra_yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        for (rel, text) in EXAMPLE {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        let (key, _) = SigningKey::generate().unwrap();
        let public_key = key.public_key().to_base64();
        std::fs::write(
            root.join("proofgate.yaml"),
            format!("trusted_keys:\n  - name: ci\n    public_key: {public_key}\n{extra_yaml}"),
        )
        .unwrap();
        let (m, _) = Model::load(&root, &root.join("proofgate.yaml"), true).unwrap();
        generate_proofs(
            &m,
            &[root.join("test-results/junit.xml")],
            Some(&key),
            &dir.path().join("proofs"),
            DEMO_COMMIT,
            chrono::Utc::now(),
        )
        .unwrap();
        Self { dir, public_key }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn proofs(&self) -> PathBuf {
        self.dir.path().join("proofs")
    }

    fn verify(&self, extra: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--root")
            .arg(self.root())
            .arg("verify")
            .arg("--proofs")
            .arg(self.proofs())
            .args(["--commit", DEMO_COMMIT])
            .args(extra)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_SHA")
            .env_remove("GITHUB_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }
}

#[test]
fn verify_passes_signed_proofs_and_prints_the_table() {
    let f = Fixture::new();
    let o = f.verify(&[], &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("SCRIPT") && out.contains("REASON"), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("backup-db (scripts/backup_db.py)"))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>()[2..],
        ["ci", "PASS", "CI_PROOF"]
    );
    assert!(
        out.contains("CI_PROOF") && out.contains("DECLARED_OK"),
        "{out}"
    );
    assert!(
        out.contains("gate: PASS (3 scripts: 2 ci (0 reused), 1 declared, 0 manual)"),
        "{out}"
    );
}

#[test]
fn verify_fails_with_exit_1_annotations_summary_and_outputs_when_a_script_changed() {
    let f = Fixture::new();
    let script = f.root().join("scripts/backup_db.py");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&script, text).unwrap();
    let gh = tempfile::tempdir().unwrap();
    let summary = gh.path().join("summary.md");
    let output = gh.path().join("output");
    let report = gh.path().join("report.json");
    let o = f.verify(
        &["--report", report.to_str().unwrap()],
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", &summary),
            ("GITHUB_OUTPUT", &output),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("::error title=proofgate%3A SCRIPT_DIGEST_MISMATCH backup-db,file=scripts/backup_db.py,line=3::"),
        "{out}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("## proofgate verify"), "{md}");
    assert!(md.contains("gate: FAIL (1 of 3 scripts denied)"), "{md}");
    assert!(md.find("SCRIPT_DIGEST_MISMATCH").unwrap() < md.find("<details>").unwrap());
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("verdict=fail\n"), "{outputs}");
    assert!(outputs.contains("failed=1\n"), "{outputs}");
    assert!(outputs.contains("passed=2\n"), "{outputs}");
    assert!(
        outputs.contains(&format!("report={}\n", report.display())),
        "{outputs}"
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["scripts"][0]["reason"], "SCRIPT_DIGEST_MISMATCH");
}

#[test]
fn verify_denies_every_proof_when_signed_by_an_untrusted_key() {
    let f = Fixture::new();
    let (other, _) = SigningKey::generate().unwrap();
    std::fs::write(
        f.root().join("proofgate.yaml"),
        format!(
            "trusted_keys:\n  - name: other\n    public_key: {}\n",
            other.public_key().to_base64()
        ),
    )
    .unwrap();
    let o = f.verify(&["--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let reasons: Vec<&str> = r["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["KEY_UNTRUSTED", "KEY_UNTRUSTED", "DECLARED_OK"]);
    assert!(!f.public_key.is_empty());
}

#[test]
fn verify_json_report_matches_its_schema() {
    if !peer("python3", "validates the JSON report with jsonschema") {
        return;
    }
    let f = Fixture::new();
    std::fs::remove_file(f.proofs().join("proof-rotate-logs.dsse.json")).unwrap();
    let stray = f.proofs().join("proof-ghost.json");
    std::fs::write(&stray, b"{}").unwrap();
    let out = tempfile::tempdir().unwrap();
    for (i, extra) in [vec![], vec!["--release"]].iter().enumerate() {
        let o = f.verify(&[&["--format", "json"], extra.as_slice()].concat(), &[]);
        assert!(o.status.code() == Some(1), "{}", stderr(&o));
        let p = out.path().join(format!("r{i}.json"));
        std::fs::write(&p, &o.stdout).unwrap();
        let check = run(Command::new("python3")
            .arg("-c")
            .arg(
                "import json,sys,jsonschema; s=json.load(open(sys.argv[1])); \
                 jsonschema.Draft202012Validator.check_schema(s); \
                 jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker()).validate(json.load(open(sys.argv[2])))",
            )
            .arg(crate_root().join("schemas/verify-report.schema.json"))
            .arg(&p));
        if !check.status.success() && stderr(&check).contains("No module named 'jsonschema'") {
            assert!(
                std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() != Ok("1"),
                "Python `jsonschema` is required"
            );
            eprintln!("SKIPPED: Python `jsonschema` is not installed");
            return;
        }
        assert!(check.status.success(), "{}", stderr(&check));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["unknown_proofs"][0]["script_id"], "ghost");
        let row = r["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "rotate-logs")
            .unwrap()
            .clone();
        assert_eq!(row["reason"], "SIGNATURE_MISSING");
    }
}

#[test]
fn verify_without_a_proofs_directory_is_a_usage_error() {
    let f = Fixture::new();
    let o = run(Command::new(bin()).arg("--root").arg(f.root()).args([
        "verify",
        "--commit",
        DEMO_COMMIT,
        "--proofs",
        "/nonexistent/proofs",
    ]));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/proofs"), "{}", stderr(&o));
}

#[test]
fn verify_without_a_commit_is_a_usage_error() {
    let f = Fixture::new();
    let o = run(Command::new(bin())
        .arg("--root")
        .arg(f.root())
        .arg("verify")
        .arg("--proofs")
        .arg(f.proofs())
        .env_remove("GITHUB_SHA")
        .env("GIT_CEILING_DIRECTORIES", f.dir.path()));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--commit"), "{}", stderr(&o));
}

#[test]
fn verify_with_a_broken_config_is_a_usage_error() {
    let f = Fixture::new();
    std::fs::write(f.root().join("proofgate.yaml"), "policy: [unclosed\n").unwrap();
    let o = f.verify(&[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("proofgate.yaml"), "{}", stderr(&o));
}

#[test]
fn verify_reuses_an_earlier_commits_proof_only_with_same_content_policy() {
    let f = Fixture::with_config("policy:\n  reuse: same-content\n");
    let o = run(Command::new(bin())
        .arg("--root")
        .arg(f.root())
        .arg("verify")
        .arg("--proofs")
        .arg(f.proofs())
        .args([
            "--commit",
            "1111111111111111111111111111111111111111",
            "--format",
            "json",
        ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["counts"]["reused"], 2);
    let f = Fixture::new();
    let o = run(Command::new(bin())
        .arg("--root")
        .arg(f.root())
        .arg("verify")
        .arg("--proofs")
        .arg(f.proofs())
        .args(["--commit", "1111111111111111111111111111111111111111"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("COMMIT_MISMATCH"));
}

#[test]
fn verify_publishes_a_check_run_through_github_api_url() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/repos/o/r/check-runs"))
            .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 5})))
            .expect(1)
            .mount(&s)
            .await;
        s
    });
    let f = Fixture::new();
    std::fs::write(f.root().join("scripts/lint_dns.py"), "").unwrap();
    std::fs::remove_file(f.root().join("tests/test_lint_dns.py")).unwrap();
    let o = run(Command::new(bin())
        .arg("--root")
        .arg(f.root())
        .arg("verify")
        .arg("--proofs")
        .arg(f.proofs())
        .args([
            "--commit",
            DEMO_COMMIT,
            "--check-run",
            "proofgate",
            "--repository",
            "o/r",
        ])
        .env("GITHUB_TOKEN", "tok")
        .env("GITHUB_API_URL", server.uri()));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("check run `proofgate` published (id 5)"),
        "{}",
        stderr(&o)
    );
    let reqs = rt.block_on(server.received_requests()).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["conclusion"], "failure");
    assert_eq!(body["head_sha"], DEMO_COMMIT);
    assert!(!body["output"]["annotations"].as_array().unwrap().is_empty());
}

#[test]
fn demo_runs_offline_and_catches_both_tampering_attempts() {
    let o = run(Command::new(bin()).arg("demo"));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for needle in [
        "gate: PASS (3 scripts",
        "SCRIPT_DIGEST_MISMATCH backup-db",
        "STATEMENT_MISMATCH rotate-logs",
        "caught both tampering attempts",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in:\n{out}");
    }
}

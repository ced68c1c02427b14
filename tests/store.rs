//! The evidence store through the real binary: `serve`, `tenant`, `publish`, `export`,
//! `import` and the API, each test against SQLite and against PostgreSQL (the cluster
//! `scripts/test.sh` starts; `PROOFGATE_TEST_PG_URL`).

// Shared with `store_page.rs` and `store_faults.rs`, which use other parts of it.
#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use harness::{
    Db, Server, bin, body_of, code, database, key_pair, publish, published_id, signed_run, tenant,
    text,
};
use serde_json::Value;

both!(
    publish_then_read_every_route,
    tampered_unsigned_untrusted_and_broken_uploads_are_refused_and_nothing_is_stored,
    another_tenants_run_is_not_found_and_a_read_token_cannot_publish,
    malformed_requests_get_json_errors,
    every_documented_route_exists,
    export_then_import_verifies_again,
    the_release_gate_reads_proofs_from_the_store,
);

fn setup(db: Db) -> Option<(tempfile::TempDir, Server, String, String)> {
    let t = tempfile::tempdir().unwrap();
    let url = database(db, t.path())?;
    let (key, public) = key_pair();
    let server = Server::start(&url, &["--max-body-mb", "4"]);
    Some((t, server, key, public))
}

fn publish_then_read_every_route(db: Db) {
    let Some((t, server, key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    let dir = signed_run(&t.path().join("repo"), &key, "test_sub", false);

    let o = publish(&server, &dir, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let first: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(first["created"], true);
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["url"], format!("{}/runs/{id}", server.url()));

    // Idempotent: the same content is the same run.
    let o = publish(&server, &dir, &acme.publish);
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (again["id"].as_str(), again["created"].as_bool()),
        (Some(id.as_str()), Some(false))
    );

    let run = server.get(&format!("/api/runs/{id}"), &acme.read).json();
    assert_eq!(run["repository"], "acme/scripts");
    assert_eq!(run["branch"], "topic");
    assert_eq!(run["verdict"], "PASS");
    assert_eq!(
        (
            run["proofs"].as_i64(),
            run["passed"].as_i64(),
            run["tests"].as_i64()
        ),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(run["scripts"][0]["script_id"], "calc");

    // The bundle, byte for byte.
    let b = server.get(&format!("/api/runs/{id}/proof"), &acme.read);
    assert_eq!(b.status, 200);
    assert_eq!(b.header("content-type"), Some("application/json"));
    assert_eq!(b.body, std::fs::read(dir.join("bundle.json")).unwrap());

    let p = server
        .get(&format!("/api/runs/{id}/proofs/calc"), &acme.read)
        .json();
    assert_eq!(p["proofs"][0]["proof"]["script_id"], "calc");
    assert_eq!(
        p["proofs"][0]["envelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );

    let l = server
        .get(&format!("/api/runs/{id}/ledger"), &acme.read)
        .json();
    assert_eq!(l["integrity_model"], "HASH_CHAIN");
    assert_eq!(l["verification_status"], "VERIFIED");
    assert!(l["chain_length"].as_u64().unwrap() >= 1, "{l}");
    assert!(l["root_hash"].as_str().unwrap().starts_with("sha256:"));

    let list = server
        .get("/api/runs?repository=acme/scripts&verdict=PASS", &acme.read)
        .json();
    assert_eq!(list["runs"][0]["id"], id.as_str());
    let none = server.get("/api/runs?verdict=FAIL", &acme.read).json();
    assert_eq!(none["runs"].as_array().unwrap().len(), 0);

    let digest = run["scripts"][0]["script_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_subject = server
        .get(&format!("/api/proofs?subject={digest}"), &acme.read)
        .json();
    assert_eq!(by_subject["proofs"][0]["run_id"], id.as_str());
    let h = server.get("/api/scripts/calc/history", &acme.read).json();
    assert_eq!(h["history"][0]["verdict"], "PASS");
    assert_eq!(h["history"][0]["script_digest"], digest.as_str());
}

/// Publishes the directory after `edit` and expects a 422 with `reason`.
fn refused(server: &Server, token: &str, dir: &std::path::Path, reason: &str) {
    let r = server.request("POST", "/api/runs", Some(token), Some(&body_of(dir)));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], reason, "{}", r.text());
}

fn tampered_unsigned_untrusted_and_broken_uploads_are_refused_and_nothing_is_stored(db: Db) {
    let Some((t, server, key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    let clean = signed_run(&t.path().join("repo"), &key, "test_sub", false);
    let copy = |name: &str| {
        let d = t.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for e in std::fs::read_dir(&clean).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
        }
        d
    };

    // A proof edited after signing.
    let d = copy("tampered");
    let p = d.join("proof-calc.json");
    let s = std::fs::read_to_string(&p)
        .unwrap()
        .replace("\"FAIL\"", "\"PASS\"")
        .replace("\"passed\": 2", "\"passed\": 3");
    std::fs::write(&p, s + " ").unwrap();
    refused(&server, &acme.publish, &d, "STATEMENT_MISMATCH");

    // Unsigned.
    let d = copy("unsigned");
    std::fs::remove_file(d.join("proof-calc.dsse.json")).unwrap();
    refused(&server, &acme.publish, &d, "SIGNATURE_MISSING");

    // Signed by a key the tenant does not trust.
    let (other_key, _) = key_pair();
    let d = signed_run(&t.path().join("repo2"), &other_key, "test_sub", false);
    refused(&server, &acme.publish, &d, "KEY_UNTRUSTED");

    // A ledger with its lines swapped or a line removed.
    let d = copy("ledger");
    let l = d.join("ledger.jsonl");
    let text = std::fs::read_to_string(&l).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let broken = if lines.len() >= 2 {
        format!("{}\n{}\n", lines[1], lines[0])
    } else {
        format!("{}x\n", lines[0])
    };
    std::fs::write(&l, broken).unwrap();
    let r = server.request("POST", "/api/runs", Some(&acme.publish), Some(&body_of(&d)));
    assert_eq!(r.status, 422, "{}", r.text());

    // A bundle edited after signing.
    let d = copy("bundle");
    let b = d.join("bundle.json");
    let s = std::fs::read_to_string(&b)
        .unwrap()
        .replacen("PASSED", "FAILED", 1);
    std::fs::write(&b, s).unwrap();
    refused(&server, &acme.publish, &d, "STATEMENT_MISMATCH");

    // Nothing of any of them was stored.
    let list = server.get("/api/runs", &acme.read).json();
    assert_eq!(list["runs"].as_array().unwrap().len(), 0, "{list}");
}

fn another_tenants_run_is_not_found_and_a_read_token_cannot_publish(db: Db) {
    let Some((t, server, key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    let evil = tenant(&server.db, "evil", &public);
    let dir = signed_run(&t.path().join("repo"), &key, "test_sub", false);

    let r = server.request("POST", "/api/runs", Some(&acme.read), Some(&body_of(&dir)));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "READ_ONLY_TOKEN");

    let o = publish(&server, &dir, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let id = published_id(&o);

    for path in [
        format!("/api/runs/{id}"),
        format!("/api/runs/{id}/proof"),
        format!("/api/runs/{id}/proofs/calc"),
        format!("/api/runs/{id}/ledger"),
        format!("/api/runs/{id}/export"),
    ] {
        for token in [&evil.read, &evil.publish] {
            let r = server.get(&path, token);
            assert_eq!(r.status, 404, "{path}: {}", r.text());
            assert_eq!(r.json()["error"]["code"], "NOT_FOUND");
        }
    }
    assert_eq!(
        server.get("/api/runs", &evil.read).json()["runs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        server.get("/api/scripts/calc/history", &evil.read).json()["history"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let digest =
        server.get(&format!("/api/runs/{id}"), &acme.read).json()["scripts"][0]["script_digest"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(
        server
            .get(&format!("/api/proofs?subject={digest}"), &evil.read)
            .json()["proofs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // The same content published by the other tenant is its own run; acme's stays.
    let o = publish(&server, &dir, &evil.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        server.get("/api/runs", &acme.read).json()["runs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn malformed_requests_get_json_errors(db: Db) {
    let Some((_t, server, _key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    /// Method, path, token, body, expected status and error code.
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<Vec<u8>>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("GET", "/api/runs", None, None, 401, "UNAUTHORIZED"),
        (
            "GET",
            "/api/runs",
            Some("pgt_0123456789abcdef_nope"),
            None,
            401,
            "UNAUTHORIZED",
        ),
        (
            "POST",
            "/api/runs",
            Some(&acme.publish),
            Some(b"{not json".to_vec()),
            400,
            "BAD_JSON",
        ),
        (
            "POST",
            "/api/runs",
            Some(&acme.publish),
            Some(br#"{"files":[{"name":"../x","content":""}]}"#.to_vec()),
            400,
            "BAD_UPLOAD",
        ),
        (
            "POST",
            "/api/runs",
            Some(&acme.publish),
            Some(vec![b' '; 5 << 20]),
            413,
            "BODY_TOO_LARGE",
        ),
        (
            "GET",
            "/api/nothing",
            Some(&acme.read),
            None,
            404,
            "UNKNOWN_ROUTE",
        ),
        (
            "DELETE",
            "/api/runs",
            Some(&acme.read),
            None,
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "GET",
            "/api/runs?cursor=x",
            Some(&acme.read),
            None,
            400,
            "BAD_QUERY",
        ),
        (
            "GET",
            "/api/proofs?subject=md5:00",
            Some(&acme.read),
            None,
            400,
            "BAD_QUERY",
        ),
        (
            "GET",
            "/api/runs/0123/proof",
            Some(&acme.read),
            None,
            404,
            "NOT_FOUND",
        ),
    ];
    for (method, path, token, body, status, code) in cases {
        let r = server.request(method, path, token, body.as_deref());
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], code, "{method} {path}");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Binary bodies: a bad magic, a length running past the end, a name no run carries,
    // a name twice.
    use proofgate::store::wire;
    let truncated = {
        let mut b = wire::encode([("proof-a.json", b"{}".as_slice())]).unwrap();
        b.truncate(b.len() - 1);
        b
    };
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"files\":[]}".to_vec(), "does not start"),
        (truncated, "ends inside file 0"),
        (
            wire::encode([("../x", b"".as_slice())]).unwrap(),
            "not a file a run carries",
        ),
        (
            wire::encode([("proof-a.json", b"{}".as_slice()), ("proof-a.json", b"{}")]).unwrap(),
            "appears twice",
        ),
    ];
    for (body, says) in bodies {
        let r = server.request_as(
            "POST",
            "/api/runs",
            Some(&acme.publish),
            Some(&body),
            wire::CONTENT_TYPE,
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "BAD_UPLOAD");
        assert!(r.text().contains(says), "{}", r.text());
    }
}

fn every_documented_route_exists(db: Db) {
    let Some((t, server, key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    let dir = signed_run(&t.path().join("repo"), &key, "test_sub", false);
    let o = publish(&server, &dir, &acme.publish);
    let id = published_id(&o);
    let doc = server
        .request("GET", "/api/openapi.json", None, None)
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9);
    for (path, ops) in paths {
        let concrete = path
            .replace("/api/scripts/{id}", "/api/scripts/calc")
            .replace("{id}", &id)
            .replace("{script_id}", "calc");
        let concrete = if concrete == "/api/proofs" {
            format!("/api/proofs?subject=sha256:{}", "0".repeat(64))
        } else {
            concrete
        };
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_ascii_uppercase();
            let body = (m == "POST").then(|| body_of(&dir));
            let r = server.request(&m, &concrete, Some(&acme.publish), body.as_deref());
            assert!(r.status < 300, "{m} {concrete}: {} {}", r.status, r.text());
        }
    }
}

fn export_then_import_verifies_again(db: Db) {
    let Some((t, server, key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    let dir = signed_run(&t.path().join("repo"), &key, "test_sub", false);
    let o = publish(&server, &dir, &acme.publish);
    let id = published_id(&o);

    let archive = t.path().join("run.json");
    let o = bin()
        .args(["export", &id, "--server", &server.url(), "-o"])
        .arg(&archive)
        .env("PROOFGATE_SERVER_TOKEN", &acme.read)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));

    // Across the air gap: another store, a tenant that trusts the same key.
    let t2 = tempfile::tempdir().unwrap();
    let url2 = database(db, t2.path()).unwrap();
    let other = Server::start(&url2, &[]);
    let audit = tenant(&url2, "audit", &public);
    let import = |file: &std::path::Path| {
        bin()
            .arg("import")
            .arg(file)
            .args(["--server", &other.url(), "--json"])
            .env("PROOFGATE_SERVER_TOKEN", &audit.publish)
            .output()
            .unwrap()
    };
    let o = import(&archive);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["id"], id.as_str());
    let b = other.get(&format!("/api/runs/{id}/proof"), &audit.read);
    assert_eq!(b.body, std::fs::read(dir.join("bundle.json")).unwrap());

    // A tampered archive is verified again on import and refused.
    let mut a: Value = serde_json::from_slice(&std::fs::read(&archive).unwrap()).unwrap();
    for f in a["files"].as_array_mut().unwrap() {
        if f["name"] == "proof-calc.json" {
            use base64::Engine as _;
            let e = &base64::engine::general_purpose::STANDARD;
            let mut bytes = e.decode(f["content"].as_str().unwrap()).unwrap();
            bytes.push(b' ');
            f["content"] = Value::String(e.encode(bytes));
        }
    }
    let bad = t.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&a).unwrap()).unwrap();
    let o = import(&bad);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("STATEMENT_MISMATCH"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_database_file_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = tempfile::tempdir().unwrap();
    let db = t.path().join("fresh.db");
    let o = bin()
        .args(["tenant", "add", "acme", "--db"])
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("publish token: pgt_") && out.contains("read token: pgt_"),
        "{out}"
    );
    // Only hashes are stored: the token's secret is nowhere in the file.
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("publish token: "))
        .unwrap();
    let secret = secret.rsplit('_').next().unwrap();
    let bytes = std::fs::read(&db).unwrap();
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

fn the_release_gate_reads_proofs_from_the_store(db: Db) {
    let Some((t, server, key, public)) = setup(db) else {
        return;
    };
    let acme = tenant(&server.db, "acme", &public);
    let repo = t.path().join("repo");
    let dir = signed_run(&repo, &key, "test_sub", false);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&repo)
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_owned();
    // The artifacts are gone: only the store has the proofs.
    let verify = |token: &str| {
        bin()
            .arg("--root")
            .arg(&repo)
            .args(["verify", "--server", &server.url(), "--commit", &head])
            .args([
                "--repository",
                "acme/scripts",
                "--trusted-key",
                &public,
                "--format",
                "json",
            ])
            .env("PROOFGATE_SERVER_TOKEN", token)
            .env_remove("GITHUB_SHA")
            .env_remove("GITHUB_EVENT_PATH")
            .output()
            .unwrap()
    };
    let o = verify(&acme.read);
    assert_eq!(code(&o), 1, "nothing published yet: {}", text(&o));
    let o = publish(&server, &dir, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
    let o = verify(&acme.read);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verdict"], "pass", "{report:#}");
    // Another tenant's token sees no proofs: the gate fails closed.
    let evil = tenant(&server.db, "evil", &public);
    assert_eq!(code(&verify(&evil.read)), 1);
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_on_ctrl_c() {
    for signal in ["-TERM", "-INT"] {
        let t = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", t.path().join("s.db").display());
        let mut server = Server::start(&url, &[]);
        let o = server.request("GET", "/api/openapi.json", None, None);
        assert_eq!(
            o.status, 200,
            "{signal}: the server answers before the signal"
        );
        let pid = server.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(s) = server.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{signal}: the server is still running 20 s after the signal"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0), "{signal}: {status:?}");
    }
}

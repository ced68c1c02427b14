//! Helpers shared by the artifact tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const SERVICE: &str = "/twirp/github.actions.results.api.v1.ArtifactService";

/// A runtime token whose `scp` names the given backend ids (unsigned, as the client
/// never verifies it).
pub fn token(run: &str, job: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.c2ln",
        e.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        e.encode(format!(
            r#"{{"scp":"Actions.ExampleScope Actions.Results:{run}:{job}"}}"#
        ))
    )
}

/// Runs the binary with a clean environment plus `vars`; fast retries.
pub async fn proofgate(args: &[&str], vars: &[(&str, String)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_proofgate"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PROOFGATE_RETRY_BASE_MS", "20")
        .env("PROOFGATE_HTTP_TIMEOUT_MS", "5000");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("proofgate finished within 120 s")
        .expect("proofgate runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A folder of proof-like files: `a.json`, `sub/b.json`, a hidden `.secret`.
pub fn proofs_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("sub")).unwrap();
    std::fs::write(
        d.path().join("a.json"),
        br#"{"script_id":"a","verdict":"PASS"}"#,
    )
    .unwrap();
    std::fs::write(
        d.path().join("sub/b.json"),
        br#"{"script_id":"b","verdict":"FAIL"}"#,
    )
    .unwrap();
    std::fs::write(d.path().join(".secret"), b"hidden").unwrap();
    d
}

/// A zip of `entries` (name, bytes).
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn sha256(data: &[u8]) -> String {
    proofgate::digest::Sha256Digest::of(data).to_string()
}

/// Every file under `root`, relative, sorted, with its bytes.
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

/// Entries of a folder (names only), to prove nothing was left behind.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether peers are required (CI) or may be skipped with a loud message.
pub fn require_peers() -> bool {
    std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1")
}

/// `Some(path)` of the npm peer project when `npm ci` has run; otherwise fails (CI) or
/// explains the skip.
pub fn js_peer() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/artifact-js");
    let ok = dir.join("node_modules/@actions/artifact").is_dir()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if ok {
        return Some(dir);
    }
    let msg = "the official client is not installed: run `bash scripts/setup.d/20-artifact.sh` (needs node and npm)";
    if require_peers() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// A results service (wiremock) listing `artifacts` (name, digest) and signing `blob_url` for each.
pub async fn results_service(artifacts: &[(&str, Option<String>)], blob_url: &str) -> MockServer {
    let server = MockServer::start().await;
    let list: Vec<_> = artifacts
        .iter()
        .enumerate()
        .map(|(i, (name, digest))| {
            let mut a = json!({"workflowRunBackendId": "run-1", "workflowJobRunBackendId": format!("job-{i}"),
                               "databaseId": (100 + i).to_string(), "name": name, "size": "1"});
            if let Some(d) = digest {
                a["digest"] = json!(d);
            }
            a
        })
        .collect();
    Mock::given(method("POST"))
        .and(path(format!("{SERVICE}/ListArtifacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "artifacts": list })))
        .mount(&server)
        .await;
    for (name, _) in artifacts {
        let url = if blob_url.is_empty() {
            format!("{}/blob/{name}.zip?sig=x", server.uri())
        } else {
            blob_url.to_owned()
        };
        Mock::given(method("POST"))
            .and(path(format!("{SERVICE}/GetSignedArtifactURL")))
            .and(wiremock::matchers::body_partial_json(json!({"name": name})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"signedUrl": url})))
            .mount(&server)
            .await;
    }
    server
}

pub fn results_vars(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("ACTIONS_RUNTIME_TOKEN", token("run-1", "job-9")),
        ("ACTIONS_RESULTS_URL", server.uri()),
    ]
}

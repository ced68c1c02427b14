//! `proofgate upload` against wiremock: the wire format and every fault class.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

async fn twirp(server: &MockServer, m: &str, resp: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("{SERVICE}/{m}")))
        .respond_with(resp)
        .mount(server)
        .await;
}

async fn twirp_once(server: &MockServer, m: &str, resp: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("{SERVICE}/{m}")))
        .respond_with(resp)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

/// A service that accepts everything: camelCase answers with numeric int64, like act.
async fn happy(server: &MockServer) {
    twirp(
        server,
        "CreateArtifact",
        ResponseTemplate::new(200).set_body_json(
            json!({"ok": true, "signedUploadUrl": format!("{}/blob/up.zip?sig=a%2Bb%3D&se=1", server.uri())}),
        ),
    )
    .await;
    twirp(
        server,
        "FinalizeArtifact",
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "artifactId": 4242})),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/blob/up.zip"))
        .respond_with(ResponseTemplate::new(201))
        .mount(server)
        .await;
}

fn vars(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("ACTIONS_RUNTIME_TOKEN", token("run-1", "job-1")),
        (
            "ACTIONS_RESULTS_URL",
            format!("{}/ignored/path", server.uri()),
        ),
        ("GITHUB_REPOSITORY", "octo/repo".into()),
        ("GITHUB_RUN_ID", "77".into()),
        ("GITHUB_SERVER_URL", "https://github.example".into()),
    ]
}

async fn calls(server: &MockServer, suffix: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with(suffix))
        .collect()
}

/// `proofgate upload --path <dir> <args…>` against `server`, with `vars(server)` and `extra`.
async fn upload(
    server: &MockServer,
    dir: &std::path::Path,
    args: &[&str],
    extra: &[(&'static str, String)],
) -> std::process::Output {
    let mut all = vec!["upload", "--path", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut v = vars(server);
    v.extend_from_slice(extra);
    proofgate(&all, &v).await
}

/// How `CreateArtifact` misbehaves.
enum Answer {
    /// Every call gets this answer.
    Always(ResponseTemplate),
    /// The first call gets this answer; then the service accepts everything.
    Once(ResponseTemplate),
}

/// An upload of `proofs_dir()` as `p` while `CreateArtifact` misbehaves: the exit code,
/// what stderr must say and how often `CreateArtifact` must have been called.
struct CreateFault<'a> {
    answer: Answer,
    exit: i32,
    says: &'a [&'a str],
    creates: usize,
}

/// Runs a [`CreateFault`] and checks it; returns how long the upload took.
async fn create_fault(case: CreateFault<'_>) -> Duration {
    let server = MockServer::start().await;
    match case.answer {
        Answer::Always(resp) => twirp(&server, "CreateArtifact", resp).await,
        Answer::Once(resp) => {
            twirp_once(&server, "CreateArtifact", resp).await;
            happy(&server).await;
        }
    }
    let dir = proofs_dir();
    let started = Instant::now();
    let o = upload(&server, dir.path(), &["--name", "p"], &[]).await;
    let took = started.elapsed();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(case.exit), "{e}");
    for needle in case.says {
        assert!(e.contains(needle), "expected `{needle}` in: {e}");
    }
    assert_eq!(
        calls(&server, "/CreateArtifact").await.len(),
        case.creates,
        "calls to `CreateArtifact`"
    );
    took
}

#[tokio::test]
async fn upload_sends_the_official_wire_format_and_recovers_from_a_500() {
    let server = MockServer::start().await;
    twirp_once(
        &server,
        "CreateArtifact",
        ResponseTemplate::new(500).set_body_string("boom"),
    )
    .await;
    happy(&server).await;
    let dir = proofs_dir();
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let o = upload(
        &server,
        dir.path(),
        &["--name", "proofs-linux"],
        &[
            ("GITHUB_OUTPUT", out_file.path().display().to_string()),
            ("GITHUB_RETENTION_DAYS", "30".into()),
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("artifact-id=4242"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "artifact-url=https://github.example/octo/repo/actions/runs/77/artifacts/4242"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("using 30 instead of 90"),
        "{}",
        stderr(&o)
    );

    let creates = calls(&server, "/CreateArtifact").await;
    assert_eq!(creates.len(), 2, "the 500 was retried once");
    let create: Value = serde_json::from_slice(&creates[1].body).unwrap();
    assert_eq!(create["workflow_run_backend_id"], "run-1");
    assert_eq!(create["workflow_job_run_backend_id"], "job-1");
    assert_eq!(create["version"], 4);
    assert!(create.get("mime_type").is_none());
    assert!(create["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        creates[1]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {}", token("run-1", "job-1"))
    );

    let puts = calls(&server, "/blob/up.zip").await;
    let (blocks, lists): (Vec<_>, Vec<_>) = puts.iter().partition(|r| {
        r.url
            .query_pairs()
            .any(|(k, v)| k == "comp" && v == "block")
    });
    assert_eq!(lists.len(), 1);
    assert!(!blocks.is_empty());
    for b in &blocks {
        assert!(
            b.headers.get("authorization").is_none(),
            "no token to blob storage"
        );
        assert!(
            b.url
                .as_str()
                .contains("sig=a%2Bb%3D&se=1&comp=block&blockid="),
            "{}",
            b.url
        );
    }
    let xml = String::from_utf8(lists[0].body.clone()).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(
        lists[0].headers.get("x-ms-blob-content-type").unwrap(),
        "application/zip"
    );
    // Blocks are committed in upload order; rebuild the zip in that order.
    let mut zip_bytes = Vec::new();
    for id in xml
        .split("<Latest>")
        .skip(1)
        .map(|s| s.split("</Latest>").next().unwrap())
    {
        let b = blocks
            .iter()
            .find(|b| b.url.query_pairs().any(|(k, v)| k == "blockid" && v == id))
            .expect("every listed block was uploaded");
        zip_bytes.extend_from_slice(&b.body);
    }
    let fin: Value =
        serde_json::from_slice(&calls(&server, "/FinalizeArtifact").await[0].body).unwrap();
    assert_eq!(fin["size"], zip_bytes.len().to_string());
    assert_eq!(fin["hash"], sha256(&zip_bytes));
    assert!(stdout(&o).contains(&format!("artifact-digest={}", sha256(&zip_bytes))));

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert_eq!(
        names,
        ["a.json", "sub/b.json"],
        "relative, sorted, no hidden files"
    );
    let mut s = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("sub/b.json").unwrap(), &mut s).unwrap();
    assert!(s.contains("FAIL"));

    let outputs = std::fs::read_to_string(out_file.path()).unwrap();
    let lines: Vec<&str> = outputs.lines().collect();
    // One writer for every command's outputs (`github::outputs`): one-line values as
    // `name=value`, others in the heredoc form with a random delimiter.
    assert_eq!(lines[0], "artifact-id=4242", "{outputs}");
    assert_eq!(lines[1], "artifact-name=proofs-linux", "{outputs}");
}

#[tokio::test]
async fn upload_includes_hidden_files_only_when_asked() {
    let server = MockServer::start().await;
    happy(&server).await;
    let dir = proofs_dir();
    let o = upload(
        &server,
        dir.path(),
        &["--name", "p", "--include-hidden-files"],
        &[],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let body: Vec<u8> = calls(&server, "/blob/up.zip")
        .await
        .iter()
        .filter(|r| r.url.query().unwrap_or("").contains("comp=block&"))
        .flat_map(|r| r.body.clone())
        .collect();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();
    assert!(archive.file_names().any(|n| n == ".secret"));
}

#[tokio::test]
async fn upload_gives_up_after_five_attempts_on_503_with_exit_3() {
    create_fault(CreateFault {
        answer: Answer::Always(
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        ),
        exit: 3,
        says: &[
            "`CreateArtifact`",
            "after 5 attempt(s)",
            "503",
            "<html>Service Unavailable</html>",
        ],
        creates: 5,
    })
    .await;
}

#[tokio::test]
async fn upload_honours_retry_after_on_429() {
    let took = create_fault(CreateFault {
        answer: Answer::Once(ResponseTemplate::new(429).insert_header("retry-after", "1")),
        exit: 0,
        says: &[],
        creates: 2,
    })
    .await;
    assert!(took >= Duration::from_secs(1), "waited as Retry-After said");
}

#[tokio::test]
async fn upload_conflict_is_not_retried_and_says_how_to_fix_it() {
    create_fault(CreateFault {
        answer: Answer::Always(ResponseTemplate::new(409).set_body_json(
            json!({"code": "already_exists", "msg": "an artifact with this name already exists on the workflow run"}),
        )),
        exit: 3,
        says: &[
            "artifact named `p` already exists",
            "409",
            "--overwrite",
            "--shard",
        ],
        creates: 1,
    })
    .await;
}

#[tokio::test]
async fn upload_overwrite_deletes_the_existing_artifact_first() {
    let server = MockServer::start().await;
    twirp(
        &server,
        "ListArtifacts",
        ResponseTemplate::new(200).set_body_json(json!({"artifacts": [
            {"workflow_run_backend_id": "run-1", "workflow_job_run_backend_id": "job-0", "database_id": "5", "name": "p", "size": "10"}
        ]})),
    )
    .await;
    twirp(
        &server,
        "DeleteArtifact",
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "artifact_id": "5"})),
    )
    .await;
    happy(&server).await;
    let dir = proofs_dir();
    let o = upload(&server, dir.path(), &["--name", "p", "--overwrite"], &[]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let del: Value =
        serde_json::from_slice(&calls(&server, "/DeleteArtifact").await[0].body).unwrap();
    assert_eq!(
        del,
        json!({"workflow_run_backend_id": "run-1", "workflow_job_run_backend_id": "job-0", "name": "p"})
    );
    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().rsplit('/').next().unwrap().to_owned())
        .filter(|m| m.ends_with("Artifact") || m.ends_with("Artifacts"))
        .collect();
    assert_eq!(
        order,
        [
            "ListArtifacts",
            "DeleteArtifact",
            "CreateArtifact",
            "FinalizeArtifact"
        ]
    );
}

#[tokio::test]
async fn upload_empty_error_body_is_reported_and_not_retried() {
    create_fault(CreateFault {
        answer: Answer::Always(ResponseTemplate::new(400)),
        exit: 3,
        says: &["400 Bad Request: (empty body)"],
        creates: 1,
    })
    .await;
}

#[tokio::test]
async fn upload_retries_an_unparsable_success_body() {
    create_fault(CreateFault {
        answer: Answer::Once(
            ResponseTemplate::new(200).set_body_string("<!DOCTYPE html><html>maintenance</html>"),
        ),
        exit: 0,
        says: &[],
        creates: 2,
    })
    .await;
}

#[tokio::test]
async fn upload_block_failures_are_retried_then_reported() {
    let server = MockServer::start().await;
    twirp(
        &server,
        "CreateArtifact",
        ResponseTemplate::new(200).set_body_json(
            json!({"ok": true, "signed_upload_url": format!("{}/blob/up.zip?sig=x", server.uri())}),
        ),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/blob/up.zip"))
        .and(query_param("comp", "block"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string("<Error><Code>InternalError</Code></Error>"),
        )
        .mount(&server)
        .await;
    let dir = proofs_dir();
    let o = upload(&server, dir.path(), &["--name", "p"], &[]).await;
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(
        e.contains("uploading block 0 to blob storage failed after 5 attempt(s)")
            && e.contains("InternalError"),
        "{e}"
    );
    assert!(calls(&server, "/FinalizeArtifact").await.is_empty());
}

#[tokio::test]
async fn upload_rejects_bad_input_with_exit_2() {
    let server = MockServer::start().await;
    let dir = proofs_dir();
    let p = dir.path().to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "upload",
                "--path",
                p,
                "--name",
                "p",
                "--retention-days",
                "0",
            ],
            "between 1 and 90",
        ),
        (
            vec![
                "upload",
                "--path",
                p,
                "--name",
                "p",
                "--retention-days",
                "91",
            ],
            "between 1 and 90",
        ),
        (
            vec!["upload", "--path", p, "--name", "a/b"],
            "invalid artifact name",
        ),
    ] {
        let o = proofgate(&args, &vars(&server)).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    let o = proofgate(&["upload", "--path", p, "--name", "p"], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`ACTIONS_RUNTIME_TOKEN` is not set"),
        "{}",
        stderr(&o)
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn upload_default_name_is_unique_per_job_shard_and_attempt() {
    let server = MockServer::start().await;
    happy(&server).await;
    let dir = proofs_dir();
    let o = upload(
        &server,
        dir.path(),
        &["--shard", "3"],
        &[
            ("GITHUB_JOB", "test".into()),
            ("GITHUB_RUN_ATTEMPT", "2".into()),
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let create: Value =
        serde_json::from_slice(&calls(&server, "/CreateArtifact").await[0].body).unwrap();
    assert_eq!(create["name"], "proofs-test-3-a2");
}

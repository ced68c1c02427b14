//! `proofgate download` from another run, commit or pull request through the REST API.

use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

fn artifact(id: u64, name: &str, expired: bool, digest: Option<String>) -> serde_json::Value {
    json!({"id": id, "node_id": "x", "name": name, "size_in_bytes": 10, "url": "u",
           "archive_download_url": "u", "expired": expired, "digest": digest,
           "created_at": null, "expires_at": null, "updated_at": null,
           "workflow_run": {"id": 55, "head_sha": "abc"}})
}

fn vars(api: &MockServer) -> Vec<(&'static str, String)> {
    vec![("GITHUB_API_URL", api.uri())]
}

async fn serve_zip(api: &MockServer, blob: &MockServer, id: u64, zip: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/octo/repo/actions/artifacts/{id}/zip")))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/zip/{id}?sig=s%3D", blob.uri())),
        )
        .mount(api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/zip/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip))
        .mount(blob)
        .await;
}

#[tokio::test]
async fn download_by_run_id_pages_skips_expired_and_keeps_the_token_from_blob_storage() {
    let api = MockServer::start().await;
    let blob = MockServer::start().await;
    let zip = zip_of(&[("proof-a.json", b"{\"verdict\":\"PASS\"}")]);
    let route = "/repos/octo/repo/actions/runs/55/artifacts";
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(route))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 3, "artifacts": [artifact(9, "proofs-linux", false, Some(sha256(&zip)))]})))
        .with_priority(2)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(route))
        .and(query_param("per_page", "100"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{}{route}?per_page=100&page=2>; rel=\"next\", <{}{route}?per_page=100&page=2>; rel=\"last\"", api.uri(), api.uri()),
                )
                .set_body_json(json!({"total_count": 3, "artifacts": [
                    artifact(7, "proofs-old", true, None), artifact(8, "logs", false, None)]})),
        )
        .with_priority(3)
        .mount(&api)
        .await;
    serve_zip(&api, &blob, 9, zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let o = proofgate(
        &[
            "download",
            "--run-id",
            "55",
            "--repository",
            "octo/repo",
            "--github-token",
            "tok",
            "--pattern",
            "proofs-*",
            "--path",
            dest.to_str().unwrap(),
        ],
        &vars(&api),
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        tree(&dest),
        [(
            "proof-a.json".to_owned(),
            b"{\"verdict\":\"PASS\"}".to_vec()
        )]
    );
    assert!(stderr(&o).contains("digest checked"));
    for r in api.received_requests().await.unwrap() {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer tok",
            "{}",
            r.url
        );
    }
    let blob_reqs = blob.received_requests().await.unwrap();
    assert_eq!(blob_reqs.len(), 1);
    assert!(
        blob_reqs[0].headers.get("authorization").is_none(),
        "the token never reaches blob storage"
    );
    assert!(
        !api.received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path().ends_with("/7/zip"))
    );
}

#[tokio::test]
async fn download_by_pull_request_commit_or_branch_finds_the_newest_successful_run() {
    let api = MockServer::start().await;
    let blob = MockServer::start().await;
    let zip = zip_of(&[("proof-a.json", b"ok")]);
    Mock::given(method("GET"))
        .and(path("/repos/octo/repo/pulls/12"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"number": 12, "head": {"sha": "abc123", "ref": "feature"}})),
        )
        .mount(&api)
        .await;
    for route in [
        "/repos/octo/repo/actions/runs",
        "/repos/octo/repo/actions/workflows/ci.yml/runs",
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .and(query_param("head_sha", "abc123"))
            .and(query_param("status", "success"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": 1, "workflow_runs": [{"id": 55}]})),
            )
            .mount(&api)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/repos/octo/repo/actions/runs"))
        .and(query_param("branch", "main"))
        .and(query_param("status", "success"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 1, "workflow_runs": [{"id": 55}]})),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/repo/actions/runs/55/artifacts"))
        .and(query_param("name", "proofs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_count": 2, "artifacts": [
            artifact(3, "proofs", false, None), artifact(4, "proofs", false, Some(sha256(&zip)))]})))
        .mount(&api)
        .await;
    serve_zip(&api, &blob, 4, zip).await;
    let tmp = tempfile::tempdir().unwrap();
    for (i, how) in [
        vec!["--pr", "12"],
        vec!["--commit", "abc123", "--workflow", "ci.yml"],
    ]
    .into_iter()
    .enumerate()
    {
        let dest = tmp.path().join(i.to_string());
        let mut args = vec![
            "download",
            "--repository",
            "octo/repo",
            "--name",
            "proofs",
            "--path",
            dest.to_str().unwrap(),
        ];
        args.extend(how);
        let mut v = vars(&api);
        v.push(("GITHUB_TOKEN", "tok".into()));
        let o = proofgate(&args, &v).await;
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).starts_with("proofs\t4\t"),
            "the newest id wins: {}",
            stdout(&o)
        );
        assert_eq!(tree(&dest).len(), 1);
    }
}

#[tokio::test]
async fn download_of_an_expired_artifact_says_so_without_retrying() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/repo/actions/runs/55/artifacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"total_count": 1, "artifacts": [artifact(9, "proofs", false, None)]}),
        ))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/repo/actions/artifacts/9/zip"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(
            ResponseTemplate::new(410).set_body_json(json!({"message": "Artifact has expired"})),
        )
        .mount(&api)
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let o = proofgate(
        &[
            "download",
            "--run-id",
            "55",
            "--repository",
            "octo/repo",
            "--github-token",
            "tok",
            "--name",
            "proofs",
            "--path",
            tmp.path().join("o").to_str().unwrap(),
        ],
        &vars(&api),
    )
    .await;
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(
        e.contains("artifact `proofs` (id 9) has expired") && e.contains("410"),
        "{e}"
    );
    assert!(e.contains("Artifact has expired"), "{e}");
    let zips = api
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/zip"))
        .count();
    assert_eq!(zips, 1);
    assert!(listing(tmp.path()).is_empty());
}

#[tokio::test]
async fn download_from_an_unknown_run_reports_404_without_retrying() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/repo/actions/runs/56/artifacts"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&api)
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let o = proofgate(
        &[
            "download",
            "--run-id",
            "56",
            "--repository",
            "octo/repo",
            "--github-token",
            "tok",
            "--path",
            tmp.path().join("o").to_str().unwrap(),
        ],
        &vars(&api),
    )
    .await;
    assert_eq!(o.status.code(), Some(3));
    let e = stderr(&o);
    assert!(
        e.contains("listing the artifacts of run 56 in `octo/repo` failed after 1 attempt(s)")
            && e.contains("404"),
        "{e}"
    );
    assert_eq!(api.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn download_from_another_run_needs_a_token_and_a_repository() {
    let o = proofgate(
        &["download", "--run-id", "5", "--repository", "octo/repo"],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--github-token"), "{}", stderr(&o));
    let o = proofgate(&["download", "--run-id", "5", "--github-token", "t"], &[]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--repository"), "{}", stderr(&o));
}

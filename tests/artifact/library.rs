//! The library API the gate calls: `artifact::upload` / `artifact::download` with an
//! injected environment (no process environment involved).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proofgate::artifact::download::{Selector, Source};
use proofgate::artifact::{self, DownloadRequest, Env, UploadRequest};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

#[tokio::test]
async fn library_upload_and_download_use_only_the_injected_environment() {
    let server = MockServer::start().await;
    let zip = zip_of(&[("proof-x.json", b"{}")]);
    for (m, body) in [
        (
            "CreateArtifact",
            json!({"ok": true, "signed_upload_url": format!("{}/blob/x.zip?sig=1", server.uri())}),
        ),
        ("FinalizeArtifact", json!({"ok": true, "artifact_id": "9"})),
        (
            "ListArtifacts",
            json!({"artifacts": [{"workflow_run_backend_id": "r", "workflow_job_run_backend_id": "j",
                                               "database_id": "9", "name": "x", "size": "1", "digest": sha256(&zip)}]}),
        ),
        (
            "GetSignedArtifactURL",
            json!({"signed_url": format!("{}/blob/x.zip?sig=2", server.uri())}),
        ),
    ] {
        Mock::given(method("POST"))
            .and(path(format!("{SERVICE}/{m}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    Mock::given(method("PUT"))
        .and(path("/blob/x.zip"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/blob/x.zip"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip))
        .mount(&server)
        .await;
    let env = Env::from_pairs([
        ("ACTIONS_RUNTIME_TOKEN", token("r", "j")),
        ("ACTIONS_RESULTS_URL", server.uri()),
        ("PROOFGATE_RETRY_BASE_MS", "10".into()),
    ]);

    let dir = proofs_dir();
    let seen = Arc::new(AtomicU64::new(0));
    let s2 = seen.clone();
    let report = artifact::upload(
        &UploadRequest {
            path: dir.path().to_path_buf(),
            name: "x".into(),
            retention_days: None,
            overwrite: false,
            include_hidden: false,
            compression_level: 6,
            progress: Some(Arc::new(move |n| s2.store(n, Ordering::SeqCst))),
        },
        &env,
    )
    .await
    .unwrap();
    assert_eq!(report.id, 9);
    assert_eq!(report.files, 2);
    assert_eq!(report.retention_days, 90);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        report.size,
        "progress reaches the zip size"
    );
    assert_eq!(report.url, None, "no run known: no URL");

    let out = tempfile::tempdir().unwrap();
    let req = DownloadRequest::new(
        Selector::Name("x".into()),
        out.path().join("d"),
        Source::SameRun,
    );
    let got = artifact::download(&req, &env).await.unwrap();
    assert_eq!(got.artifacts.len(), 1);
    assert!(got.artifacts[0].digest_checked);
    assert_eq!(got.artifacts[0].files, ["proof-x.json"]);
    assert_eq!(got.run_id, None);

    let err = artifact::download(&req, &Env::default()).await.unwrap_err();
    assert!(err.is_usage(), "{err}");
}

//! The check run with annotations in batches of 50, against wiremock standing in for
//! the GitHub API.

use proofgate::github::checks::{CheckRun, publish};
use proofgate::github::{Annotation, Level};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn run(n: usize) -> CheckRun {
    CheckRun {
        name: "proofgate".into(),
        head_sha: "c0ffee".into(),
        success: false,
        title: "gate: FAIL".into(),
        summary: "## proofgate verify".into(),
        annotations: (0..n)
            .map(|i| Annotation {
                file: Some(format!("scripts/s{i}.py")),
                line: Some(3),
                title: Some("PROOF_MISSING".into()),
                ..Annotation::new(Level::Error, format!("no proof {i}"))
            })
            .collect(),
    }
}

#[tokio::test]
async fn a_check_run_carries_annotations_in_batches_of_fifty() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/o/r/check-runs"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": 77})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/o/r/check-runs/77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 77})))
        .expect(2)
        .mount(&server)
        .await;
    let id = publish(&server.uri(), "tok", "o/r", &run(120), "proofgate.yaml")
        .await
        .unwrap();
    assert_eq!(id, 77);
    let reqs = server.received_requests().await.unwrap();
    let bodies: Vec<serde_json::Value> = reqs
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let sizes: Vec<usize> = bodies
        .iter()
        .map(|b| b["output"]["annotations"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(bodies[0]["head_sha"], "c0ffee");
    assert_eq!(bodies[0]["conclusion"], "failure");
    assert_eq!(
        bodies[2]["output"]["annotations"][19]["path"],
        "scripts/s119.py"
    );
}

#[tokio::test]
async fn an_api_error_is_reported_with_the_call_that_failed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!({
            "message": "Resource not accessible by integration"
        })))
        .mount(&server)
        .await;
    let err = publish(&server.uri(), "tok", "o/r", &run(1), "x")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("create check run"), "{text}");
}

#[tokio::test]
async fn a_malformed_repository_is_refused_before_any_call() {
    let err = publish("http://127.0.0.1:9", "tok", "nope", &run(1), "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("owner/name"));
}

//! The results service's Twirp JSON calls (`github.actions.results.api.v1.ArtifactService`).
//!
//! Requests are written as the official client writes them: snake_case keys, empty fields
//! left out, int64 as strings. Responses are read in both spellings (snake_case from
//! GitHub, lowerCamel from act and Gitea) with int64 as string or number.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use super::ArtifactError;
use super::http::{Fail, HttpClient, USER_AGENT, excerpt, retry_after, retrying};
use super::names::BackendIds;

const SERVICE: &str = "twirp/github.actions.results.api.v1.ArtifactService";

/// A Twirp client for one results service and runtime token.
#[derive(Debug, Clone)]
pub struct TwirpClient {
    http: HttpClient,
    origin: String,
    token: String,
}

/// Only the origin of `ACTIONS_RESULTS_URL` is used, as the official client does.
pub fn origin(url: &str) -> Result<String, ArtifactError> {
    let bad = || {
        ArtifactError::Usage(format!(
            "`ACTIONS_RESULTS_URL` is not an http(s) URL: `{url}`"
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(bad());
    }
    Ok(format!("{scheme}://{host}"))
}

impl TwirpClient {
    /// A client for `results_url` (only its origin counts) with the runtime `token`.
    pub fn new(http: HttpClient, results_url: &str, token: &str) -> Result<Self, ArtifactError> {
        Ok(Self {
            http,
            origin: origin(results_url)?,
            token: token.to_owned(),
        })
    }

    /// Calls `method` with retries (429, 5xx, transport errors and unparsable bodies).
    pub async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &str,
        req: &Req,
    ) -> Result<Resp, ArtifactError> {
        let url = format!("{}/{SERVICE}/{method}", self.origin);
        let body =
            Bytes::from(
                serde_json::to_vec(req).map_err(|e| ArtifactError::BadResponse {
                    doing: method.into(),
                    detail: e.to_string(),
                })?,
            );
        let doing = format!("`{method}` at {}", self.origin);
        retrying(&self.http.retry, &doing, || {
            let body = body.clone();
            let url = url.clone();
            async move {
                let req = Request::post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {}", self.token))
                    .header("user-agent", USER_AGENT)
                    .body(Full::new(body))
                    .map_err(|e| Fail::Fatal {
                        status: None,
                        detail: format!("bad request URL `{url}`: {e}"),
                    })?;
                let resp = self.http.send(req).await?;
                let status = resp.status();
                let wait = retry_after(&resp);
                let bytes = self.http.read_all(resp, 16 << 20).await?;
                if !status.is_success() {
                    return Err(Fail::from_status(status, wait, &bytes));
                }
                serde_json::from_slice::<Resp>(&bytes).map_err(|e| {
                    Fail::transport(format!(
                        "HTTP {status}: unparsable body ({e}): {}",
                        excerpt(&bytes)
                    ))
                })
            }
        })
        .await
    }
}

/// `CreateArtifact` request.
#[derive(Debug, Clone, Serialize)]
pub struct CreateArtifactRequest {
    /// Run backend id.
    pub workflow_run_backend_id: String,
    /// Job backend id.
    pub workflow_job_run_backend_id: String,
    /// Artifact name.
    pub name: String,
    /// RFC 3339 expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Protocol version: 4 (zip, no `mime_type`).
    pub version: i32,
}

/// `CreateArtifact` response.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateArtifactResponse {
    /// Whether the service accepted it.
    #[serde(default)]
    pub ok: bool,
    /// Where to upload the blob.
    #[serde(default, alias = "signedUploadUrl")]
    pub signed_upload_url: String,
}

/// `FinalizeArtifact` request.
#[derive(Debug, Clone, Serialize)]
pub struct FinalizeArtifactRequest {
    /// Run backend id.
    pub workflow_run_backend_id: String,
    /// Job backend id.
    pub workflow_job_run_backend_id: String,
    /// Artifact name.
    pub name: String,
    /// Zip size in bytes (int64 as a string).
    pub size: String,
    /// `sha256:<hex>` of the uploaded bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// `FinalizeArtifact` response.
#[derive(Debug, Clone, Deserialize)]
pub struct FinalizeArtifactResponse {
    /// Whether the service accepted it.
    #[serde(default)]
    pub ok: bool,
    /// The artifact id (the REST `id`).
    #[serde(default, alias = "artifactId", deserialize_with = "de_i64")]
    pub artifact_id: i64,
}

/// `ListArtifacts` request.
#[derive(Debug, Clone, Serialize)]
pub struct ListArtifactsRequest {
    /// Run backend id.
    pub workflow_run_backend_id: String,
    /// Job backend id.
    pub workflow_job_run_backend_id: String,
    /// Only this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_filter: Option<String>,
    /// Only this id (int64 as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_filter: Option<String>,
}

/// `ListArtifacts` response.
#[derive(Debug, Clone, Deserialize)]
pub struct ListArtifactsResponse {
    /// The run's artifacts (all jobs).
    #[serde(default)]
    pub artifacts: Vec<ListedArtifact>,
}

/// One artifact of a `ListArtifacts` response.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedArtifact {
    /// Run backend id of the job that uploaded it.
    #[serde(default, alias = "workflowRunBackendId")]
    pub workflow_run_backend_id: String,
    /// Job backend id of the job that uploaded it.
    #[serde(default, alias = "workflowJobRunBackendId")]
    pub workflow_job_run_backend_id: String,
    /// The artifact id.
    #[serde(default, alias = "databaseId", deserialize_with = "de_i64")]
    pub database_id: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its size (act reports the folder size here, not the zip's).
    #[serde(default, deserialize_with = "de_i64")]
    pub size: i64,
    /// Creation time.
    #[serde(default, alias = "createdAt")]
    pub created_at: Option<String>,
    /// `sha256:<hex>` when the service knows it.
    #[serde(default)]
    pub digest: Option<String>,
}

/// `GetSignedArtifactURL`, `DeleteArtifact` request.
#[derive(Debug, Clone, Serialize)]
pub struct NamedRequest {
    /// Run backend id.
    pub workflow_run_backend_id: String,
    /// Job backend id.
    pub workflow_job_run_backend_id: String,
    /// Artifact name.
    pub name: String,
}

impl NamedRequest {
    /// The request for `name` in the backend `ids`.
    pub fn new(ids: &BackendIds, name: &str) -> Self {
        Self {
            workflow_run_backend_id: ids.run.clone(),
            workflow_job_run_backend_id: ids.job.clone(),
            name: name.to_owned(),
        }
    }
}

/// `GetSignedArtifactURL` response.
#[derive(Debug, Clone, Deserialize)]
pub struct SignedUrlResponse {
    /// Where to GET the zip (no auth header).
    #[serde(default, alias = "signedUrl")]
    pub signed_url: String,
}

/// `DeleteArtifact` response.
#[derive(Debug, Clone, Deserialize)]
pub struct DeleteArtifactResponse {
    /// Whether it was deleted.
    #[serde(default)]
    pub ok: bool,
    /// The deleted id.
    #[serde(default, alias = "artifactId", deserialize_with = "de_i64")]
    pub artifact_id: i64,
}

/// int64 written as a JSON string or number (or null).
fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        S(String),
        Null(()),
    }
    match N::deserialize(d)? {
        N::I(i) => Ok(i),
        N::S(s) if s.is_empty() => Ok(0),
        N::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
        N::Null(()) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_in_snake_and_camel_case_with_string_or_number_ids() {
        let a: FinalizeArtifactResponse =
            serde_json::from_str(r#"{"ok":true,"artifact_id":"12"}"#).unwrap();
        let b: FinalizeArtifactResponse =
            serde_json::from_str(r#"{"ok":true,"artifactId":12}"#).unwrap();
        assert_eq!((a.ok, a.artifact_id), (true, 12));
        assert_eq!((b.ok, b.artifact_id), (true, 12));
        let l: ListArtifactsResponse = serde_json::from_str(
            r#"{"artifacts":[{"workflowRunBackendId":"1","workflowJobRunBackendId":"1","databaseId":"3093542030","name":"proofs","size":"4096","createdAt":"2026-01-01T00:00:00Z"}]}"#,
        )
        .unwrap();
        assert_eq!(l.artifacts[0].database_id, 3093542030);
        assert_eq!(l.artifacts[0].size, 4096);
        assert_eq!(l.artifacts[0].digest, None);
        let c: CreateArtifactResponse =
            serde_json::from_str(r#"{"ok":true,"signedUploadUrl":"http://x/y?sig=a"}"#).unwrap();
        assert_eq!(c.signed_upload_url, "http://x/y?sig=a");
        let empty: ListArtifactsResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.artifacts.is_empty());
    }

    #[test]
    fn requests_are_snake_case_with_int64_strings_and_no_empty_fields() {
        let r = FinalizeArtifactRequest {
            workflow_run_backend_id: "r".into(),
            workflow_job_run_backend_id: "j".into(),
            name: "n".into(),
            size: "256".into(),
            hash: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"workflow_run_backend_id":"r","workflow_job_run_backend_id":"j","name":"n","size":"256"}"#
        );
    }

    #[test]
    fn only_the_origin_of_the_results_url_is_used() {
        assert_eq!(
            origin("http://127.0.0.1:34567/").unwrap(),
            "http://127.0.0.1:34567"
        );
        assert_eq!(
            origin("https://results-receiver.actions.githubusercontent.com/a/b?c").unwrap(),
            "https://results-receiver.actions.githubusercontent.com"
        );
        assert!(origin("ftp://x").is_err());
        assert!(origin("nope").is_err());
    }
}

//! The REST half of cross-run download: find the run, list its artifacts (paged), get the
//! zip's signed location (302; 410 when expired). JSON calls go through octocrab; the zip
//! redirect is read by hand so the token never reaches blob storage.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use octocrab::{Octocrab, Page};
use serde::Deserialize;

use super::ArtifactError;
use super::env::Env;
use super::http::{Fail, HttpClient, USER_AGENT, retry_after, retrying};

/// One artifact as the REST API lists it (octocrab's own type has no `digest`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RestArtifact {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Run {
    id: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct Pull {
    head: Head,
}

#[derive(Debug, Clone, Deserialize)]
struct Head {
    sha: String,
}

/// Which run to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunRef<'a> {
    Id(u64),
    Commit(&'a str),
    Pr(u64),
    Branch(&'a str),
}

pub(crate) struct Rest {
    octo: Octocrab,
    http: HttpClient,
    api: String,
    owner: String,
    repo: String,
    token: String,
}

fn octo_fail(e: octocrab::Error) -> Fail {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code;
            let wait = source
                .headers
                .as_ref()
                .and_then(|h| h.get(http::header::RETRY_AFTER))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| std::time::Duration::from_secs(s.min(120)));
            Fail::from_status(status, wait, source.message.as_bytes())
        }
        other => Fail::transport(super::http::chain(&other)),
    }
}

impl Rest {
    pub(crate) fn new(
        env: &Env,
        http: HttpClient,
        repository: &str,
        token: &str,
    ) -> Result<Self, ArtifactError> {
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                ArtifactError::Usage(format!(
                    "`--repository` must be `owner/name`, got `{repository}`"
                ))
            })?;
        let api = env.api_url();
        let octo = Octocrab::builder()
            .base_uri(api.as_str())
            .map_err(|e| {
                ArtifactError::Usage(format!("`GITHUB_API_URL` `{api}` is not a URL: {e}"))
            })?
            .personal_token(token.to_owned())
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .add_header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".into(),
            )
            .build()
            .map_err(|e| ArtifactError::Usage(format!("cannot build the REST client: {e}")))?;
        Ok(Self {
            octo,
            http,
            api,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            token: token.to_owned(),
        })
    }

    fn scope(&self) -> String {
        format!("`{}/{}`", self.owner, self.repo)
    }

    /// The run to read: as given, or the newest successful run for a commit, PR head or branch.
    pub(crate) async fn resolve_run(
        &self,
        run: RunRef<'_>,
        workflow: Option<&str>,
    ) -> Result<u64, ArtifactError> {
        let (key, value, what) = match run {
            RunRef::Id(id) => return Ok(id),
            RunRef::Commit(sha) => ("head_sha", sha.to_owned(), format!("commit `{sha}`")),
            RunRef::Branch(b) => ("branch", b.to_owned(), format!("branch `{b}`")),
            RunRef::Pr(n) => {
                let route = format!("/repos/{}/{}/pulls/{n}", self.owner, self.repo);
                let doing = format!("reading pull request #{n} of {}", self.scope());
                let pull: Pull = retrying(&self.http.retry, &doing, || async {
                    self.octo
                        .get::<Pull, _, ()>(&route, None)
                        .await
                        .map_err(octo_fail)
                })
                .await?;
                let sha = pull.head.sha;
                let what = format!("pull request #{n} (head `{sha}`)");
                ("head_sha", sha, what)
            }
        };
        let route = match workflow {
            Some(w) => format!(
                "/repos/{}/{}/actions/workflows/{w}/runs",
                self.owner, self.repo
            ),
            None => format!("/repos/{}/{}/actions/runs", self.owner, self.repo),
        };
        let query = [
            (key, value.as_str()),
            ("status", "success"),
            ("per_page", "1"),
        ];
        let doing = format!(
            "finding the newest successful run for {what} in {}",
            self.scope()
        );
        let page: Page<Run> = retrying(&self.http.retry, &doing, || async {
            self.octo
                .get::<Page<Run>, _, _>(&route, Some(&query))
                .await
                .map_err(octo_fail)
        })
        .await?;
        page.items
            .first()
            .map(|r| r.id)
            .ok_or_else(|| ArtifactError::NotFound {
                what: format!("a successful workflow run for {what}"),
                scope: self.scope(),
            })
    }

    /// All artifacts of a run (every page), optionally only those named `name`.
    pub(crate) async fn artifacts(
        &self,
        run_id: u64,
        name: Option<&str>,
    ) -> Result<Vec<RestArtifact>, ArtifactError> {
        let route = format!(
            "/repos/{}/{}/actions/runs/{run_id}/artifacts",
            self.owner, self.repo
        );
        let mut query = vec![("per_page", "100")];
        if let Some(n) = name {
            query.push(("name", n));
        }
        let doing = format!("listing the artifacts of run {run_id} in {}", self.scope());
        let mut page: Page<RestArtifact> = retrying(&self.http.retry, &doing, || async {
            self.octo
                .get::<Page<RestArtifact>, _, _>(&route, Some(&query))
                .await
                .map_err(octo_fail)
        })
        .await?;
        let mut all = page.take_items();
        let mut pages = 1;
        while let Some(next) = page.next.clone() {
            pages += 1;
            if pages > 100 {
                break;
            }
            let got: Option<Page<RestArtifact>> = retrying(&self.http.retry, &doing, || async {
                self.octo
                    .get_page::<RestArtifact>(&Some(next.clone()))
                    .await
                    .map_err(octo_fail)
            })
            .await?;
            match got {
                Some(mut p) => {
                    all.extend(p.take_items());
                    page = p;
                }
                None => break,
            }
        }
        Ok(all)
    }

    /// The signed blob URL of an artifact's zip (the `Location` of the 302).
    pub(crate) async fn zip_location(&self, id: u64, name: &str) -> Result<String, ArtifactError> {
        let url = format!(
            "{}/repos/{}/{}/actions/artifacts/{id}/zip",
            self.api, self.owner, self.repo
        );
        let doing = format!(
            "requesting the zip of artifact `{name}` (id {id}) from {}",
            self.scope()
        );
        let result = retrying(&self.http.retry, &doing, || async {
            let req = Request::get(&url)
                .header("authorization", format!("Bearer {}", self.token))
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28")
                .header("user-agent", USER_AGENT)
                .body(Full::new(Bytes::new()))
                .map_err(|e| Fail::Fatal {
                    status: None,
                    detail: format!("bad URL `{url}`: {e}"),
                })?;
            let resp = self.http.send(req).await?;
            let status = resp.status();
            if status.is_redirection() {
                let loc = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                return loc.ok_or_else(|| Fail::Fatal {
                    status: Some(status.as_u16()),
                    detail: format!("HTTP {status} without a `Location` header"),
                });
            }
            let wait = retry_after(&resp);
            let body = self.http.read_all(resp, 1 << 20).await.unwrap_or_default();
            if status.is_success() {
                return Err(Fail::Fatal {
                    status: Some(status.as_u16()),
                    detail: format!("HTTP {status} where a redirect to blob storage was expected"),
                });
            }
            Err(Fail::from_status(status, wait, &body))
        })
        .await;
        match result {
            Err(ArtifactError::Http {
                status: Some(410),
                detail,
                ..
            }) => Err(ArtifactError::Expired {
                name: name.to_owned(),
                id,
                detail,
            }),
            other => other,
        }
    }
}

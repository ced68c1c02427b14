//! The HTTP API of `proofgate serve` (axum on tokio). JSON in and out; every route
//! but the OpenAPI description needs `Authorization: Bearer <token>`. Every run is read
//! through the caller's tenant, so another tenant's run is a 404, never a 403. Errors
//! are `{"error": {"code": …, "message": …}}`; one log line per request, escaped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Store;
use super::db::{ProofRow, RunFilter};
use super::token::Role;
use super::upload::{self, PublishBody};

/// Limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body (a publish), bytes.
    pub max_body: usize,
    /// How long one request may take, body included.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 256 << 20,
            timeout: Duration::from_secs(120),
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The limits.
    pub limits: Limits,
}

type Shared = Arc<AppState>;

/// Every route the server answers, as `(method, path)` in OpenAPI's `{param}` form: the
/// OpenAPI description is checked against this list, and this list against the router.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("post", "/api/runs"),
    ("get", "/api/runs"),
    ("get", "/api/runs/{id}"),
    ("get", "/api/runs/{id}/proof"),
    ("get", "/api/runs/{id}/proofs/{script_id}"),
    ("get", "/api/runs/{id}/ledger"),
    ("get", "/api/runs/{id}/export"),
    ("get", "/api/scripts/{id}/history"),
    ("get", "/api/proofs"),
    ("get", "/api/openapi.json"),
];

/// The router with its middleware (log line, timeout, body limit).
pub fn router(store: Store, limits: Limits) -> Router {
    let state = Arc::new(AppState { store, limits });
    let api = Router::new()
        .route("/api/runs", get(list_runs).post(publish))
        .route("/api/runs/{id}", get(get_run))
        .route("/api/runs/{id}/proof", get(get_bundle))
        .route("/api/runs/{id}/proofs/{script_id}", get(get_proof))
        .route("/api/runs/{id}/ledger", get(get_ledger))
        .route("/api/runs/{id}/export", get(export_run))
        .route("/api/scripts/{id}/history", get(script_history))
        .route("/api/proofs", get(proofs_by_subject))
        .route("/api/openapi.json", get(openapi));
    super::html::routes(api)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn(log_line))
        .with_state(state)
}

/// An API error: status, code, sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no {what}"))
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("the store failed: {e}"),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<super::StoreError> for ApiError {
    fn from(e: super::StoreError) -> Self {
        Self::internal(e)
    }
}

type ApiResult<T = Response> = Result<T, ApiError>;

/// The caller: tenant and role.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant.
    pub tenant: String,
    /// What the token may do.
    pub role: Role,
}

/// The bearer token of a request, checked.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "send `Authorization: Bearer <token>` (a token from `proofgate tenant add`)",
        ));
    };
    match state.store.authenticate(presented).await? {
        Some((tenant, role)) => Ok(Caller { tenant, role }),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "the token is not valid",
        )),
    }
}

fn json_response(status: StatusCode, v: &impl serde::Serialize) -> Response {
    (status, axum::Json(v)).into_response()
}

/// The URL of a run's page, from the request's host.
fn run_url(headers: &HeaderMap, id: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}/runs/{id}")
}

async fn publish(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    if who.role != Role::Publish {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "READ_ONLY_TOKEN",
            "a read token cannot publish; use the tenant's publish token",
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                format!(
                    "the request body is larger than the server's limit of {} bytes (`serve --max-body-mb`)",
                    state.limits.max_body
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "BAD_BODY", e.body_text())
        }
    })?;
    let binary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(super::wire::CONTENT_TYPE));
    let keys = state.store.trusted_keys(&who.tenant).await?;
    let checked = tokio::task::spawn_blocking(move || {
        let files = if binary {
            upload::decode_wire(&body).map_err(PublishFailure::Refused)?
        } else {
            let parsed: PublishBody =
                serde_json::from_slice(&body).map_err(PublishFailure::Json)?;
            drop(body);
            upload::decode(parsed).map_err(PublishFailure::Refused)?
        };
        upload::check(files, &keys, chrono::Utc::now()).map_err(PublishFailure::Refused)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|f| match f {
        PublishFailure::Json(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_JSON",
            format!("the body is not a publish request: {e}"),
        ),
        PublishFailure::Refused(r) => {
            let status = if r.malformed {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            ApiError::new(status, &r.reason, r.message)
        }
    })?;
    let (id, created) = state.store.publish(&who.tenant, &checked).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        &json!({"id": id, "url": run_url(&headers, &id), "created": created}),
    ))
}

/// Why a publish body was not accepted.
enum PublishFailure {
    /// A JSON body that is not a publish request.
    Json(serde_json::Error),
    /// Files that are malformed or do not verify.
    Refused(upload::Refusal),
}

/// Query of `GET /api/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    repository: Option<String>,
    commit: Option<String>,
    branch: Option<String>,
    verdict: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list_runs(
    State(state): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    let Query(q) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "BAD_QUERY", e.body_text()))?;
    let before = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_QUERY",
                "`cursor` is not a cursor this server gave",
            )
        })?),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = RunFilter {
        repository: q.repository,
        commit: q.commit,
        branch: q.branch,
        verdict: q.verdict.map(|v| v.to_ascii_uppercase()),
        before,
    };
    let runs = state.store.list_runs(&who.tenant, &filter, limit).await?;
    let next = (runs.len() as i64 == limit)
        .then(|| runs.last().map(|r| r.pk.to_string()))
        .flatten();
    Ok(json_response(
        StatusCode::OK,
        &json!({"runs": runs, "next_cursor": next}),
    ))
}

async fn get_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    let run = state
        .store
        .run(&who.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("such run"))?;
    let proofs = state.store.run_proofs(&who.tenant, &id).await?;
    let mut v = serde_json::to_value(&run).map_err(ApiError::internal)?;
    v["url"] = Value::String(run_url(&headers, &id));
    v["scripts"] = serde_json::to_value(&proofs).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &v))
}

/// A stored file as it was published.
fn raw(bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn require_run(state: &AppState, tenant: &str, id: &str) -> ApiResult<()> {
    match state.store.run(tenant, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found("such run")),
    }
}

async fn get_bundle(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    match state
        .store
        .run_file(&who.tenant, &id, "bundle.json")
        .await?
    {
        Some(b) => Ok(raw(b, "application/json")),
        None => {
            require_run(&state, &who.tenant, &id).await?;
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NO_BUNDLE",
                "the run was published without a bundle (`proofgate generate` writes none; `proofgate run` does)",
            ))
        }
    }
}

async fn get_proof(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((id, script_id)): Path<(String, String)>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    let rows: Vec<ProofRow> = state
        .store
        .run_proofs(&who.tenant, &id)
        .await?
        .into_iter()
        .filter(|p| p.script_id == script_id)
        .collect();
    if rows.is_empty() {
        require_run(&state, &who.tenant, &id).await?;
        return Err(ApiError::not_found("proof for that script in this run"));
    }
    let mut out = Vec::new();
    for row in rows {
        let proof = state.store.run_file(&who.tenant, &id, &row.file).await?;
        let env_name = format!("{}.dsse.json", row.file.trim_end_matches(".json"));
        let envelope = state.store.run_file(&who.tenant, &id, &env_name).await?;
        let parse = |b: Option<Vec<u8>>| {
            b.and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null)
        };
        out.push(json!({
            "file": row.file,
            "verdict": row.verdict,
            "keyid": row.keyid,
            "proof": parse(proof),
            "envelope": parse(envelope),
        }));
    }
    Ok(json_response(StatusCode::OK, &json!({"proofs": out})))
}

async fn get_ledger(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    let Some(ledger) = state
        .store
        .run_file(&who.tenant, &id, "ledger.jsonl")
        .await?
    else {
        require_run(&state, &who.tenant, &id).await?;
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NO_LEDGER",
            "the run was published without a ledger",
        ));
    };
    let keys = state.store.trusted_keys(&who.tenant).await?;
    let report = crate::bundle::ledger::verify(ledger.as_slice(), &keys, None)
        .map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, &report))
}

async fn export_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    require_run(&state, &who.tenant, &id).await?;
    let files = state.store.run_files(&who.tenant, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        &super::client::archive(&id, &files),
    ))
}

/// Query with a result limit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<i64>,
}

async fn script_history(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(script_id): Path<String>,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    let Query(q) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "BAD_QUERY", e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    let rows = state
        .store
        .script_history(&who.tenant, &script_id, limit)
        .await?;
    let proofs = state
        .store
        .script_history_proofs(&who.tenant, &script_id, limit)
        .await?;
    // Every stored proof was verified when it was published; one that no longer parses
    // (a newer format read by an older server) is left out of the comparison.
    let observed: Vec<crate::flaky::Observed> = proofs
        .into_iter()
        .filter_map(|(run, file, bytes)| {
            serde_json::from_slice(&bytes)
                .ok()
                .map(|proof| crate::flaky::Observed {
                    origin: format!("run {run}: {file}"),
                    proof,
                })
        })
        .collect();
    let flaky = crate::flaky::find(&observed);
    Ok(json_response(
        StatusCode::OK,
        &json!({"script_id": script_id, "history": rows, "flaky": flaky}),
    ))
}

/// Query of `GET /api/proofs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectQuery {
    subject: String,
    limit: Option<i64>,
}

async fn proofs_by_subject(
    State(state): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<SubjectQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let who = caller(&state, &headers).await?;
    let Query(q) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "BAD_QUERY", e.body_text()))?;
    let digest: crate::digest::Sha256Digest = q.subject.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_QUERY",
            "`subject` must be `sha256:<64 hex digits>`",
        )
    })?;
    let rows = state
        .store
        .proofs_by_subject(&who.tenant, &digest.to_string(), q.limit.unwrap_or(100))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"subject": digest.to_string(), "proofs": rows}),
    ))
}

async fn openapi() -> Response {
    json_response(StatusCode::OK, &super::openapi::document())
}

async fn unknown_route(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "UNKNOWN_ROUTE",
        format!(
            "no route {} {}; see /api/openapi.json",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

async fn timeout(State(state): State<Shared>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.limits.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TIMEOUT",
            format!(
                "the request took longer than {} s",
                state.limits.timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Text from a request, made safe for a log line: control characters, quotes and
/// backslashes escaped, at most 512 characters.
pub fn log_escape(s: &str) -> String {
    let mut out: String = s.chars().take(512).flat_map(char::escape_debug).collect();
    if s.chars().count() > 512 {
        out.push('…');
    }
    out
}

async fn log_line(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    eprintln!(
        "{} {} \"{}\" {} {:.1}ms",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        method,
        log_escape(&path),
        resp.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_has_no_control_characters() {
        let s = log_escape("/a\nb\r\u{1b}[31m\"x\"");
        assert!(!s.chars().any(char::is_control), "{s}");
        assert!(s.contains("\\n"));
    }
}

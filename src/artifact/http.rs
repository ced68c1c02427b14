//! The HTTP client behind Twirp calls and blob transfers: hyper on rustls (ring), plain
//! `http://` allowed so tests can point it at 127.0.0.1, plus the retry policy.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;

use super::ArtifactError;

/// Retries: `attempts` in all; the first retry waits `base_delay`, retry *n* a uniform time
/// in `[base·1.5^n, base·1.5^(n+1))`, as the official client. `Retry-After` wins when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (default 5).
    pub attempts: u32,
    /// Base delay (default 3 s).
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_millis(3000),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `n` (0 for the first retry).
    pub fn delay(&self, n: u32) -> Duration {
        if n == 0 {
            return self.base_delay;
        }
        let base = self.base_delay.as_secs_f64();
        let lo = base * 1.5f64.powi(n as i32);
        let hi = base * 1.5f64.powi(n as i32 + 1);
        Duration::from_secs_f64(lo + fastrand::f64() * (hi - lo))
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The outcome of one failed attempt.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Try again (after `retry_after` when the server said so).
    Retry {
        status: Option<u16>,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Give up now.
    Fatal { status: Option<u16>, detail: String },
    /// Give up with a specific error.
    Error(ArtifactError),
}

impl Fail {
    /// A failed attempt from a response status and its body.
    pub(crate) fn from_status(
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        let detail = format!("HTTP {}: {}", status_text(status), excerpt(body));
        if retryable(status) {
            Fail::Retry {
                status: Some(status.as_u16()),
                detail,
                retry_after,
            }
        } else {
            Fail::Fatal {
                status: Some(status.as_u16()),
                detail,
            }
        }
    }

    /// A transport failure (connection refused or reset, timeout, unreadable body): retried.
    pub(crate) fn transport(detail: impl Into<String>) -> Self {
        Fail::Retry {
            status: None,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

/// At most 300 characters of a body, whitespace collapsed; says so when it is empty.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "(empty body)".into();
    }
    // A Twirp error body: show its `code` and `msg`.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(msg) = v.get("msg").and_then(|m| m.as_str())
    {
        let code = v.get("code").and_then(|c| c.as_str()).unwrap_or("error");
        return format!("{code}: {msg}");
    }
    let mut out: String = text.chars().take(300).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// `Retry-After` in seconds (HTTP dates are not honoured), capped at 2 minutes.
pub fn retry_after<B>(resp: &Response<B>) -> Option<Duration> {
    resp.headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(120)))
}

/// Runs `attempt` until it succeeds, fails fatally or runs out of attempts.
pub(crate) async fn retrying<T, F, Fut>(
    policy: &RetryPolicy,
    doing: &str,
    mut attempt: F,
) -> Result<T, ArtifactError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Fail>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Fail::Error(e)) => return Err(e),
            Err(Fail::Fatal { status, detail }) => {
                return Err(ArtifactError::Http {
                    doing: doing.to_owned(),
                    attempts: n,
                    status,
                    detail,
                });
            }
            Err(Fail::Retry {
                status,
                detail,
                retry_after,
            }) => {
                if n >= policy.attempts {
                    return Err(ArtifactError::Http {
                        doing: doing.to_owned(),
                        attempts: n,
                        status,
                        detail,
                    });
                }
                let wait = retry_after.unwrap_or_else(|| policy.delay(n - 1));
                tokio::time::sleep(wait).await;
            }
        }
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A shareable HTTP/1.1 client (cheap to clone) with a stall timeout.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
    /// The retry policy of every call made through this client.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The `user-agent` of every request.
pub const USER_AGENT: &str = concat!("proofgate/", env!("CARGO_PKG_VERSION"));

impl HttpClient {
    /// A client trusting the system's roots (none if they cannot be read: plain HTTP still
    /// works), with the given stall timeout and retry policy.
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Self {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_native_roots() {
            Ok(b) => b,
            Err(_) => {
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(rustls_empty_config())
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            client,
            timeout,
            retry,
        }
    }

    /// The stall timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one request and waits for the response head, within the stall timeout.
    pub(crate) async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, Fail> {
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(Fail::transport(format!("connection failed: {}", chain(&e)))),
            Err(_) => Err(Fail::transport(format!(
                "no response within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    /// Reads a whole (small) body, within the stall timeout per read.
    pub(crate) async fn read_all(
        &self,
        resp: Response<Incoming>,
        limit: usize,
    ) -> Result<Bytes, Fail> {
        let mut body = resp.into_body();
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout(self.timeout, body.frame()).await {
                Err(_) => return Err(Fail::transport("the response body stalled")),
                Ok(None) => return Ok(Bytes::from(out)),
                Ok(Some(Err(e))) => {
                    return Err(Fail::transport(format!(
                        "the response body could not be read: {}",
                        chain(&e)
                    )));
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if out.len() + data.len() > limit {
                            return Err(Fail::Fatal {
                                status: None,
                                detail: format!("the response body is larger than {limit} bytes"),
                            });
                        }
                        out.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// Reads the next chunk of a streamed body within the stall timeout: `Ok(None)` at the end.
    pub(crate) async fn next_chunk(&self, body: &mut Incoming) -> Result<Option<Bytes>, Fail> {
        loop {
            match tokio::time::timeout(self.timeout, body.frame()).await {
                Err(_) => return Err(Fail::transport("the download stalled")),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(Fail::transport(format!(
                        "the download was cut off: {}",
                        chain(&e)
                    )));
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

fn rustls_empty_config() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| {
        b.with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    })
    .unwrap_or_else(|_| {
        rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    })
}

/// An error and its sources, joined with `: `.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_from_the_base() {
        let p = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(1000),
        };
        assert_eq!(p.delay(0), Duration::from_millis(1000));
        for _ in 0..50 {
            let d = p.delay(1).as_secs_f64();
            assert!((1.5..2.25).contains(&d), "{d}");
            let d = p.delay(3).as_secs_f64();
            assert!((3.375..5.0625).contains(&d), "{d}");
        }
    }

    #[test]
    fn only_throttling_and_server_errors_are_retryable() {
        for s in [429u16, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()));
        }
        for s in [400u16, 401, 403, 404, 409, 410, 422] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()));
        }
    }

    #[test]
    fn excerpts_show_twirp_messages_and_cut_html() {
        assert_eq!(
            excerpt(
                br#"{"code":"already_exists","msg":"an artifact with this name already exists"}"#
            ),
            "already_exists: an artifact with this name already exists"
        );
        assert_eq!(excerpt(b""), "(empty body)");
        let html = format!("<!DOCTYPE html>\n<html>{}</html>", "x".repeat(1000));
        let e = excerpt(html.as_bytes());
        assert!(e.starts_with("<!DOCTYPE html> <html>"));
        assert!(e.chars().count() <= 301);
    }
}

//! Upload: zip a folder as a stream, `CreateArtifact`, Put Block × n + Put Block List,
//! `FinalizeArtifact` with the size and `sha256:` digest.
//!
//! Memory stays bounded whatever the artifact size: the zip is cut into 8 MiB blocks as it
//! is written, and at most `concurrency` blocks are in flight (plus one queued and one being
//! filled), so the default uses under 64 MB.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use http::Request;
use http_body_util::Full;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::ArtifactError;
use super::env::Env;
use super::http::{Fail, HttpClient, USER_AGENT, retry_after, retrying};
use super::names::{self, BackendIds};
use super::twirp::{
    CreateArtifactRequest, CreateArtifactResponse, DeleteArtifactResponse, FinalizeArtifactRequest,
    FinalizeArtifactResponse, ListArtifactsRequest, ListArtifactsResponse, NamedRequest,
    TwirpClient,
};
use super::zip;
use crate::digest::Sha256Digest;

/// Block size of the blob upload (the official client's chunk size).
pub const BLOCK_SIZE: usize = 8 << 20;

/// The storage service version sent with blob requests.
const MS_VERSION: &str = "2026-04-06";

/// Called with the number of bytes uploaded so far.
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

/// What to upload and how.
#[derive(Clone)]
pub struct UploadRequest {
    /// A folder (its files, relative to it) or a single file.
    pub path: PathBuf,
    /// The artifact name (see [`names::default_name`]).
    pub name: String,
    /// Days to keep it (1–90; default 90), clamped to `GITHUB_RETENTION_DAYS`.
    pub retention_days: Option<i64>,
    /// Delete an artifact of the same name in this run first.
    pub overwrite: bool,
    /// Include files and folders whose names start with `.`.
    pub include_hidden: bool,
    /// Deflate level, 0–9 (default 6).
    pub compression_level: u32,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for UploadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadRequest")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("retention_days", &self.retention_days)
            .field("overwrite", &self.overwrite)
            .field("include_hidden", &self.include_hidden)
            .field("compression_level", &self.compression_level)
            .finish()
    }
}

/// What an upload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadReport {
    /// The artifact id (the REST `id`).
    pub id: i64,
    /// The artifact name.
    pub name: String,
    /// Zip size in bytes.
    pub size: u64,
    /// Digest of the zip.
    pub digest: Sha256Digest,
    /// Files in the zip.
    pub files: usize,
    /// Retention actually asked for.
    pub retention_days: u32,
    /// `<server>/<repo>/actions/runs/<run>/artifacts/<id>` when the run is known.
    pub url: Option<String>,
    /// Notices for the user (clamped retention, replaced artifact).
    pub notices: Vec<String>,
}

/// Uploads `req.path` as the artifact `req.name` through the results service of `env`.
pub async fn upload(req: &UploadRequest, env: &Env) -> Result<UploadReport, ArtifactError> {
    names::validate_name(&req.name)?;
    let retention = names::retention(req.retention_days, env.runner().retention_days.as_deref())?;
    let mut notices: Vec<String> = retention.notice.iter().cloned().collect();
    let (token, results) = env.results_service(
        "uploading needs the Actions runtime token",
        "uploading needs the results service URL",
    )?;
    let ids = names::backend_ids(token)?;
    let root = req.path.clone();
    let include_hidden = req.include_hidden;
    let entries = tokio::task::spawn_blocking(move || zip::collect(&root, include_hidden))
        .await
        .map_err(|e| ArtifactError::io("listing files", io::Error::other(e)))??;
    if entries.is_empty() {
        return Err(ArtifactError::NoFiles(req.path.clone()));
    }
    let files = entries.len();

    let http = HttpClient::new(env.http_timeout(), env.retry_policy());
    let twirp = TwirpClient::new(http.clone(), results, token)?;

    if req.overwrite
        && let Some(id) = delete_existing(&twirp, &ids, &req.name).await?
    {
        notices.push(format!("replaced the artifact `{}` (id {id})", req.name));
    }

    let create: CreateArtifactResponse = twirp
        .call(
            "CreateArtifact",
            &CreateArtifactRequest {
                workflow_run_backend_id: ids.run.clone(),
                workflow_job_run_backend_id: ids.job.clone(),
                name: req.name.clone(),
                expires_at: Some(names::expires_at(Utc::now(), retention.days)),
                version: 4,
            },
        )
        .await
        .map_err(|e| match e {
            ArtifactError::Http {
                status: Some(409),
                detail,
                ..
            } => ArtifactError::Conflict {
                name: req.name.clone(),
                detail,
            },
            other => other,
        })?;
    if !create.ok || create.signed_upload_url.is_empty() {
        return Err(ArtifactError::BadResponse {
            doing: "`CreateArtifact`".into(),
            detail: "the service did not accept the artifact (`ok` is false or no upload URL)"
                .into(),
        });
    }

    let (size, digest) = upload_blob(
        &http,
        &create.signed_upload_url,
        entries,
        req.compression_level,
        env.upload_concurrency(),
        req.progress.clone(),
    )
    .await?;

    let fin: FinalizeArtifactResponse = twirp
        .call(
            "FinalizeArtifact",
            &FinalizeArtifactRequest {
                workflow_run_backend_id: ids.run.clone(),
                workflow_job_run_backend_id: ids.job.clone(),
                name: req.name.clone(),
                size: size.to_string(),
                hash: Some(digest.to_string()),
            },
        )
        .await?;
    if !fin.ok {
        return Err(ArtifactError::BadResponse {
            doing: "`FinalizeArtifact`".into(),
            detail: "the service did not finalize the artifact (`ok` is false)".into(),
        });
    }
    let url = env.artifact_url(fin.artifact_id);
    Ok(UploadReport {
        id: fin.artifact_id,
        name: req.name.clone(),
        size,
        digest,
        files,
        retention_days: retention.days,
        url,
        notices,
    })
}

/// Deletes the newest artifact named `name` in this run, if any: its id.
async fn delete_existing(
    twirp: &TwirpClient,
    ids: &BackendIds,
    name: &str,
) -> Result<Option<i64>, ArtifactError> {
    let list: ListArtifactsResponse = twirp
        .call(
            "ListArtifacts",
            &ListArtifactsRequest {
                workflow_run_backend_id: ids.run.clone(),
                workflow_job_run_backend_id: ids.job.clone(),
                name_filter: Some(name.to_owned()),
                id_filter: None,
            },
        )
        .await?;
    let Some(newest) = list
        .artifacts
        .iter()
        .filter(|a| a.name == name)
        .max_by_key(|a| a.database_id)
    else {
        return Ok(None);
    };
    let owner = BackendIds {
        run: if newest.workflow_run_backend_id.is_empty() {
            ids.run.clone()
        } else {
            newest.workflow_run_backend_id.clone()
        },
        job: if newest.workflow_job_run_backend_id.is_empty() {
            ids.job.clone()
        } else {
            newest.workflow_job_run_backend_id.clone()
        },
    };
    match twirp
        .call::<_, DeleteArtifactResponse>("DeleteArtifact", &NamedRequest::new(&owner, name))
        .await
    {
        Ok(_) => Ok(Some(newest.database_id)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A `Write` that cuts what it is given into blocks, hashes them and hands them on.
struct BlockSink {
    buf: Vec<u8>,
    block: usize,
    tx: mpsc::Sender<Bytes>,
    hasher: Sha256,
    size: u64,
}

impl BlockSink {
    fn new(tx: mpsc::Sender<Bytes>, block: usize) -> Self {
        Self {
            buf: Vec::with_capacity(block),
            block,
            tx,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.hasher.update(&self.buf);
        self.size += self.buf.len() as u64;
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.block));
        self.tx
            .blocking_send(Bytes::from(full))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    fn finish(mut self) -> io::Result<(u64, Sha256Digest)> {
        self.send()?;
        Ok((
            self.size,
            Sha256Digest::from_bytes(self.hasher.finalize().into()),
        ))
    }
}

impl Write for BlockSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = (self.block - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.block {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A block id: 36 random characters and a 12-digit block number, base64 (equal lengths).
fn block_id(prefix: &str, index: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{index:012}"))
}

fn random_prefix() -> String {
    let hex: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Appends query parameters to a signed URL without touching its bytes.
fn with_query(url: &str, query: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

async fn upload_blob(
    http: &HttpClient,
    url: &str,
    entries: Vec<zip::Entry>,
    level: u32,
    concurrency: usize,
    progress: Option<ProgressFn>,
) -> Result<(u64, Sha256Digest), ArtifactError> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    let zipper =
        tokio::task::spawn_blocking(move || -> Result<(u64, Sha256Digest), ArtifactError> {
            let sink = zip::write_zip(&entries, level, BlockSink::new(tx, BLOCK_SIZE))?;
            sink.finish()
                .map_err(|e| ArtifactError::io("writing the zip", e))
        });

    let prefix = random_prefix();
    let mut ids = Vec::new();
    let mut running: JoinSet<Result<u64, ArtifactError>> = JoinSet::new();
    let mut sent: u64 = 0;
    let mut failure = None;
    'outer: loop {
        while running.len() >= concurrency.max(1) {
            match joined(running.join_next().await) {
                Some(Ok(n)) => {
                    sent += n;
                    if let Some(p) = &progress {
                        p(sent);
                    }
                }
                Some(Err(e)) => {
                    failure = Some(e);
                    break 'outer;
                }
                None => break,
            }
        }
        let Some(block) = rx.recv().await else { break };
        let id = block_id(&prefix, ids.len());
        ids.push(id.clone());
        let http = http.clone();
        let target = with_query(
            url,
            &format!(
                "comp=block&blockid={}",
                utf8_percent_encode(&id, NON_ALPHANUMERIC)
            ),
        );
        let index = ids.len() - 1;
        running.spawn(async move { put_block(&http, &target, index, block).await });
    }
    if failure.is_none() {
        while let Some(r) = joined(running.join_next().await) {
            match r {
                Ok(n) => {
                    sent += n;
                    if let Some(p) = &progress {
                        p(sent);
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    if let Some(e) = failure {
        drop(rx);
        running.abort_all();
        let _ = zipper.await;
        return Err(e);
    }
    let (size, digest) = zipper
        .await
        .map_err(|e| ArtifactError::io("writing the zip", io::Error::other(e)))??;

    let mut xml =
        String::from(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList>"#);
    for id in &ids {
        xml.push_str("<Latest>");
        xml.push_str(id);
        xml.push_str("</Latest>");
    }
    xml.push_str("</BlockList>");
    let target = with_query(url, "comp=blocklist");
    put(
        http,
        "committing the block list to blob storage",
        &target,
        &[
            ("content-type", "application/xml"),
            ("x-ms-blob-content-type", "application/zip"),
        ],
        Bytes::from(xml),
    )
    .await?;
    Ok((size, digest))
}

fn joined<T>(
    r: Option<Result<Result<T, ArtifactError>, tokio::task::JoinError>>,
) -> Option<Result<T, ArtifactError>> {
    r.map(|r| match r {
        Ok(v) => v,
        Err(e) => Err(ArtifactError::io("uploading a block", io::Error::other(e))),
    })
}

async fn put_block(
    http: &HttpClient,
    target: &str,
    index: usize,
    block: Bytes,
) -> Result<u64, ArtifactError> {
    let len = block.len() as u64;
    put(
        http,
        &format!("uploading block {index} to blob storage"),
        target,
        &[("content-type", "application/octet-stream")],
        block,
    )
    .await?;
    Ok(len)
}

/// One blob-storage `PUT` of `body` with `headers` (plus the service version and user
/// agent), retried by the client's policy; `what` names it in errors.
async fn put(
    http: &HttpClient,
    what: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<(), ArtifactError> {
    retrying(&http.retry, what, || {
        let body = body.clone();
        async move {
            let mut req = Request::put(target);
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            let req = req
                .header("x-ms-version", MS_VERSION)
                .header("user-agent", USER_AGENT)
                .body(Full::new(body))
                .map_err(|e| Fail::Fatal {
                    status: None,
                    detail: format!("bad upload URL: {e}"),
                })?;
            expect_success(http, req).await
        }
    })
    .await
}

async fn expect_success(http: &HttpClient, req: Request<Full<Bytes>>) -> Result<(), Fail> {
    let resp = http.send(req).await?;
    let status = resp.status();
    let wait = retry_after(&resp);
    let body = http.read_all(resp, 1 << 20).await.unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(Fail::from_status(status, wait, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_have_equal_length() {
        let p = random_prefix();
        assert_eq!(p.len(), 36);
        let a = block_id(&p, 0);
        let b = block_id(&p, 123_456);
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn query_is_appended_to_signed_urls_verbatim() {
        assert_eq!(
            with_query("http://h/p?sig=a%3D=", "comp=block"),
            "http://h/p?sig=a%3D=&comp=block"
        );
        assert_eq!(
            with_query("http://h/p", "comp=blocklist"),
            "http://h/p?comp=blocklist"
        );
    }

    #[test]
    fn block_sink_cuts_hashes_and_counts() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut sink = BlockSink::new(tx, 4);
        std::thread::scope(|s| {
            s.spawn(|| {
                sink.write_all(b"abcdefghij").unwrap();
            });
        });
        let (size, digest) = sink.finish().unwrap();
        assert_eq!(size, 10);
        assert_eq!(digest, Sha256Digest::of(b"abcdefghij"));
        let mut blocks = Vec::new();
        while let Ok(b) = rx.try_recv() {
            blocks.push(b);
        }
        assert_eq!(
            blocks,
            vec![Bytes::from("abcd"), Bytes::from("efgh"), Bytes::from("ij")]
        );
    }
}

//! The store's client side: reading a proofs directory into a publish body, the export
//! archive, and the HTTP calls of `publish`, `export`, `import` and `verify --server`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde::{Deserialize, Serialize};

use super::upload::{self, PublishBody, WireFile};
use super::wire;
use crate::artifact::http::{HttpClient, RetryPolicy};

/// The archive format's name.
pub const ARCHIVE_FORMAT: &str = "proofgate-run-archive";

/// The largest file read from a proofs directory.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A file of the proofs directory could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no proof.
    #[error(
        "`{0}` holds no proof (proof-<ID>.json); run `proofgate generate` or `proofgate run` first"
    )]
    NoProofs(String),
    /// The server URL is not an `http(s)://` URL.
    #[error("server url `{0}` must start with `http://` or `https://`")]
    BadServer(String),
    /// The server could not be reached.
    #[error("cannot reach the store at `{server}`: {detail}")]
    Transport {
        /// The server.
        server: String,
        /// What happened.
        detail: String,
    },
    /// The server answered with an error.
    #[error("the store refused ({status}, {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The server's sentence.
        message: String,
    },
    /// An archive file that is not one.
    #[error("`{path}` is not a proofgate run archive: {detail}")]
    BadArchive {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl crate::exit::Failure for ClientError {
    fn exit_class(&self) -> crate::exit::ExitClass {
        use crate::exit::ExitClass;
        match self {
            ClientError::Read { .. } | ClientError::Transport { .. } => ExitClass::Io,
            ClientError::Refused { status, .. } if *status >= 500 => ExitClass::Io,
            _ => ExitClass::Usage,
        }
    }
}

/// An exported run: every file as published, to carry across an air gap.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Always [`ARCHIVE_FORMAT`].
    pub format: String,
    /// Currently `1`.
    pub format_version: u32,
    /// The run id on the exporting store (the importing store derives the same one).
    pub run_id: String,
    /// The files.
    pub files: Vec<WireFile>,
}

fn encode(files: &BTreeMap<String, Vec<u8>>) -> Vec<WireFile> {
    files
        .iter()
        .map(|(name, bytes)| WireFile {
            name: name.clone(),
            content: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
        .collect()
}

/// The archive of a run's files.
pub fn archive(run_id: &str, files: &BTreeMap<String, Vec<u8>>) -> Archive {
    Archive {
        format: ARCHIVE_FORMAT.to_owned(),
        format_version: 1,
        run_id: run_id.to_owned(),
        files: encode(files),
    }
}

/// Reads an archive file into a publish body.
pub fn read_archive(path: &Path) -> Result<PublishBody, ClientError> {
    let bytes = std::fs::read(path).map_err(|source| ClientError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let bad = |detail: String| ClientError::BadArchive {
        path: path.display().to_string(),
        detail,
    };
    let a: Archive = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if a.format != ARCHIVE_FORMAT || a.format_version != 1 {
        return Err(bad(format!(
            "format {:?} version {}, expected {ARCHIVE_FORMAT:?} version 1",
            a.format, a.format_version
        )));
    }
    Ok(PublishBody { files: a.files })
}

/// Reads what `run` or `generate` wrote in `dir`: the files a run carries (regular
/// files only; links are not followed), others ignored.
pub fn read_files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, ClientError> {
    let read_err = |path: &Path, source| ClientError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| read_err(dir, e))? {
        let entry = entry.map_err(|e| read_err(dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let ft = entry.file_type().map_err(|e| read_err(&entry.path(), e))?;
        if !ft.is_file() || !upload::is_run_file(&name) {
            continue;
        }
        let path = entry.path();
        let len = entry.metadata().map_err(|e| read_err(&path, e))?.len();
        if len > MAX_FILE_BYTES {
            return Err(read_err(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("it is {len} bytes, more than {MAX_FILE_BYTES}"),
                ),
            ));
        }
        files.insert(name, std::fs::read(&path).map_err(|e| read_err(&path, e))?);
    }
    if !files
        .keys()
        .any(|n| n.starts_with("proof-") && !n.ends_with(".dsse.json"))
    {
        return Err(ClientError::NoProofs(dir.display().to_string()));
    }
    Ok(files)
}

/// [`read_files`] as a JSON publish body (the shape of an archive's files).
pub fn read_dir(dir: &Path) -> Result<PublishBody, ClientError> {
    Ok(PublishBody {
        files: encode(&read_files(dir)?),
    })
}

/// What the server said to a publish.
#[derive(Debug, Clone, Deserialize)]
pub struct Published {
    /// The run id.
    pub id: String,
    /// The run's page.
    pub url: String,
    /// Whether the run was new.
    pub created: bool,
}

/// A client of one store.
#[derive(Debug, Clone)]
pub struct StoreClient {
    server: String,
    token: String,
    http: HttpClient,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl StoreClient {
    /// A client of the store at `server` with `token`.
    pub fn new(server: &str, token: &str, timeout: Duration) -> Result<Self, ClientError> {
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(ClientError::BadServer(server.to_owned()));
        }
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: HttpClient::new(
                timeout,
                RetryPolicy {
                    attempts: 1,
                    base_delay: Duration::from_millis(500),
                },
            ),
        })
    }

    /// Sends one request; returns the body of a 2xx answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let transport = |detail: String| ClientError::Transport {
            server: self.server.clone(),
            detail,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::USER_AGENT, crate::artifact::http::USER_AGENT);
        let body = match body {
            Some((bytes, content_type)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Vec::new(),
        };
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(e.to_string()))?;
        let resp = self
            .http
            .send(req)
            .await
            .map_err(|f| transport(format!("{f:?}")))?;
        let status = resp.status();
        let bytes = self
            .http
            .read_all(resp, 1 << 30)
            .await
            .map_err(|f| transport(format!("{f:?}")))?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => (e.error.code, e.error.message),
            Err(_) => ("HTTP".to_owned(), crate::artifact::http::excerpt(&bytes)),
        };
        Err(ClientError::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// Publishes a run given as a JSON body (an archive's files).
    pub async fn publish(&self, body: &PublishBody) -> Result<Published, ClientError> {
        let json = serde_json::to_vec(body).unwrap_or_default();
        self.post_run(json, "application/json").await
    }

    /// Publishes a run's files in the binary body ([`wire`]): no base64, no JSON.
    pub async fn publish_files(
        &self,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Published, ClientError> {
        let body =
            wire::encode(files.iter().map(|(n, c)| (n.as_str(), c.as_slice()))).map_err(|e| {
                ClientError::Transport {
                    server: self.server.clone(),
                    detail: format!("a file is too large to send: {e}"),
                }
            })?;
        self.post_run(body, wire::CONTENT_TYPE).await
    }

    async fn post_run(
        &self,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<Published, ClientError> {
        let (_, bytes) = self
            .call(Method::POST, "/api/runs", Some((body, content_type)))
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Transport {
            server: self.server.clone(),
            detail: format!("the answer to a publish is not understood: {e}"),
        })
    }

    /// The archive of a run.
    pub async fn export(&self, run_id: &str) -> Result<Bytes, ClientError> {
        let path = format!(
            "/api/runs/{}/export",
            percent_encoding::utf8_percent_encode(run_id, percent_encoding::NON_ALPHANUMERIC)
        );
        Ok(self.call(Method::GET, &path, None).await?.1)
    }
}

impl StoreClient {
    /// Writes the proofs and envelopes of every stored run of `commit` (and
    /// `repository`, when given) under `dir/<run id>/`, for the gate to judge as it
    /// judges downloaded artifacts (signatures are checked again against the gate's own
    /// trusted keys). Returns how many runs were written.
    pub async fn fetch_proofs(
        &self,
        commit: &str,
        repository: Option<&str>,
        dir: &Path,
    ) -> Result<usize, ClientError> {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        #[derive(Deserialize)]
        struct Page {
            runs: Vec<RunId>,
            next_cursor: Option<String>,
        }
        #[derive(Deserialize)]
        struct RunId {
            id: String,
        }
        let bad = |detail: String| ClientError::Transport {
            server: self.server.clone(),
            detail,
        };
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!(
                "/api/runs?limit=500&commit={}",
                utf8_percent_encode(commit, NON_ALPHANUMERIC)
            );
            if let Some(r) = repository {
                path.push_str(&format!(
                    "&repository={}",
                    utf8_percent_encode(r, NON_ALPHANUMERIC)
                ));
            }
            if let Some(c) = &cursor {
                path.push_str(&format!(
                    "&cursor={}",
                    utf8_percent_encode(c, NON_ALPHANUMERIC)
                ));
            }
            let (_, bytes) = self.call(Method::GET, &path, None).await?;
            let page: Page = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("the run list is not understood: {e}")))?;
            ids.extend(page.runs.into_iter().map(|r| r.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        for id in &ids {
            if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad(format!(
                    "the store named a run `{}`",
                    id.escape_debug()
                )));
            }
            let bytes = self.export(id).await?;
            let archive: Archive = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("the archive of run {id} is not understood: {e}")))?;
            let files = upload::decode(PublishBody {
                files: archive.files,
            })
            .map_err(|r| bad(format!("the archive of run {id}: {}", r.message)))?;
            let run_dir = dir.join(id);
            std::fs::create_dir_all(&run_dir).map_err(|source| ClientError::Read {
                path: run_dir.display().to_string(),
                source,
            })?;
            for (name, content) in files.iter().filter(|(n, _)| n.starts_with("proof-")) {
                // `decode` admits only plain run-file names.
                let p = run_dir.join(name);
                std::fs::write(&p, content).map_err(|source| ClientError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
            }
        }
        Ok(ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_read_without_foreign_files_and_an_archive_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("proof-a.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("proof-a.dsse.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let body = read_dir(dir.path()).unwrap();
        let names: Vec<&str> = body.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["proof-a.dsse.json", "proof-a.json"]);
        let files = upload::decode(body).unwrap();
        let a = archive("r1", &files);
        let p = dir.path().join("run.json");
        std::fs::write(&p, serde_json::to_vec(&a).unwrap()).unwrap();
        let back = upload::decode(read_archive(&p).unwrap()).unwrap();
        assert_eq!(back, files);
    }

    #[test]
    fn a_directory_without_proofs_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bundle.json"), b"{}").unwrap();
        assert!(matches!(
            read_dir(dir.path()),
            Err(ClientError::NoProofs(_))
        ));
    }
}

//! Download: find the artifacts (same run through Twirp, another run through REST), fetch
//! each zip with its digest checked, unzip it safely into a temporary folder, and move the
//! files into place only when every artifact checked out.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::ArtifactError;
use super::env::Env;
use super::http::{Fail, HttpClient, USER_AGENT, retry_after, retrying};
use super::names::{self, BackendIds};
use super::rest::{Rest, RunRef};
use super::twirp::{
    ListArtifactsRequest, ListArtifactsResponse, NamedRequest, SignedUrlResponse, TwirpClient,
};
use super::upload::ProgressFn;
use super::zip::{self, UnzipLimits};
use crate::digest::Sha256Digest;

/// Which artifacts to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every artifact of the run.
    All,
    /// The one with this name (the newest, by id, when there are several).
    Name(String),
    /// Every artifact whose name matches this glob.
    Pattern(String),
}

/// Where the artifacts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This run, through the results service (`ACTIONS_RUNTIME_TOKEN`).
    SameRun,
    /// A run by id (REST).
    Run(u64),
    /// The newest successful run for a commit (REST).
    Commit(String),
    /// The newest successful run for a pull request's head commit (REST).
    PullRequest(u64),
    /// The newest successful run on a branch (REST).
    Branch(String),
}

/// What to download and where.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// Which artifacts.
    pub selector: Selector,
    /// Where the files go.
    pub path: PathBuf,
    /// Put every artifact's files in `path` itself (an error when two differ at one path).
    pub merge_multiple: bool,
    /// Which run.
    pub source: Source,
    /// Only runs of this workflow file (with commit, PR and branch sources).
    pub workflow: Option<String>,
    /// `owner/name` (default `GITHUB_REPOSITORY`).
    pub repository: Option<String>,
    /// Token for the REST API.
    pub token: Option<String>,
    /// Zip-bomb bounds for the whole call: every artifact's entries and bytes count
    /// against one budget, and the zips fetched may not be larger than it either.
    pub limits: UnzipLimits,
}

impl DownloadRequest {
    /// A request with the defaults: no merging, no workflow filter, the repository from
    /// `GITHUB_REPOSITORY`, no token, default limits.
    pub fn new(selector: Selector, path: impl Into<PathBuf>, source: Source) -> Self {
        Self {
            selector,
            path: path.into(),
            merge_multiple: false,
            source,
            workflow: None,
            repository: None,
            token: None,
            limits: UnzipLimits::default(),
        }
    }
}

impl std::fmt::Debug for DownloadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadRequest")
            .field("selector", &self.selector)
            .field("path", &self.path)
            .field("merge_multiple", &self.merge_multiple)
            .field("source", &self.source)
            .field("workflow", &self.workflow)
            .field("repository", &self.repository)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("limits", &self.limits)
            .finish()
    }
}

/// One artifact that was downloaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DownloadedArtifact {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: u64,
    /// Zip size in bytes.
    pub size: u64,
    /// Digest of the downloaded zip.
    pub digest: Sha256Digest,
    /// Whether the service gave a digest to check against.
    pub digest_checked: bool,
    /// The folder its files went to.
    pub path: PathBuf,
    /// Its files, relative to `path`.
    pub files: Vec<String>,
}

/// What a download did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DownloadReport {
    /// The run read through REST (none for the same run).
    pub run_id: Option<u64>,
    /// The artifacts, in name order.
    pub artifacts: Vec<DownloadedArtifact>,
}

#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    id: u64,
    expected: Option<Sha256Digest>,
    owner: Option<BackendIds>,
}

fn parse_digest(s: Option<&str>) -> Option<Sha256Digest> {
    s.and_then(|d| d.parse().ok())
}

/// Downloads the selected artifacts into `req.path`.
pub async fn download(req: &DownloadRequest, env: &Env) -> Result<DownloadReport, ArtifactError> {
    download_with_progress(req, env, None).await
}

/// [`download`], calling `progress` with the bytes downloaded so far (all artifacts).
///
/// The steps: `list` the run's artifacts and `select` one per name; then per artifact
/// `fetch_one` (zip and digest) and `extract_one` (into a temporary folder on the
/// destination's file system); `place` the files only when every artifact checked out;
/// `report` what was done.
pub async fn download_with_progress(
    req: &DownloadRequest,
    env: &Env,
    progress: Option<ProgressFn>,
) -> Result<DownloadReport, ArtifactError> {
    let wanted = NameFilter::new(&req.selector)?;
    let http = HttpClient::new(env.http_timeout(), env.retry_policy());
    let listing = list(req, env, &http, &wanted).await?;
    let chosen = select(&req.selector, listing.candidates, listing.scope)?;

    let dest = std::path::absolute(&req.path)
        .map_err(|e| ArtifactError::io(format!("resolving `{}`", req.path.display()), e))?;
    let staging = staging_dir(&dest)?;
    let single = matches!(req.selector, Selector::Name(_)) || chosen.len() == 1;
    let mut fetched = Vec::new();
    let mut done_bytes = 0u64;
    // What the artifacts unpacked so far took of `req.limits`.
    let mut used = Used::default();
    for (i, c) in chosen.into_values().enumerate() {
        let zip_path = staging.path().join(format!("{i}.zip"));
        let room = zip_budget(&req.limits).saturating_sub(done_bytes);
        let (size, digest) = fetch_one(
            &listing.service,
            &http,
            &c,
            &zip_path,
            (done_bytes, room),
            progress.as_ref(),
        )
        .await?;
        done_bytes += size;
        let out = staging.path().join(i.to_string());
        let files = extract_one(&zip_path, &out, &c.name, &req.limits, &mut used, i > 0).await?;
        let _ = std::fs::remove_file(&zip_path);
        let target = if single || req.merge_multiple {
            dest.clone()
        } else {
            dest.join(&c.name)
        };
        fetched.push(Fetched {
            candidate: c,
            size,
            digest,
            out,
            target,
            files,
        });
    }
    place(&dest, &fetched)?;
    drop(staging);
    Ok(report(listing.run_id, fetched))
}

/// Which artifact names a [`Selector`] takes, checked before anything is fetched.
enum NameFilter {
    All,
    Name(String),
    Glob(globset::GlobMatcher),
}

impl NameFilter {
    fn new(selector: &Selector) -> Result<Self, ArtifactError> {
        Ok(match selector {
            Selector::Pattern(p) => Self::Glob(
                globset::Glob::new(p)
                    .map_err(|e| {
                        ArtifactError::Usage(format!("`--pattern` `{p}` is not a glob: {e}"))
                    })?
                    .compile_matcher(),
            ),
            Selector::Name(n) => {
                names::validate_name(n)?;
                Self::Name(n.clone())
            }
            Selector::All => Self::All,
        })
    }

    fn takes(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Name(n) => name == n,
            Self::Glob(m) => m.is_match(name),
        }
    }

    /// The name to ask the service for, when there is one.
    fn exact(&self) -> Option<&str> {
        match self {
            Self::Name(n) => Some(n),
            _ => None,
        }
    }
}

/// The service that listed the artifacts, which also hands out their zips.
enum Service {
    /// This run's results service (Twirp).
    Twirp(TwirpClient),
    /// The REST API (another run, or this one read with a REST token).
    Rest(Rest),
}

/// What [`list`] found.
struct Listing {
    service: Service,
    /// The run read through REST.
    run_id: Option<u64>,
    /// Where the artifacts were looked for, for a "not found" error.
    scope: String,
    /// Every artifact the filter takes (several per name after re-runs).
    candidates: Vec<Candidate>,
}

/// Lists the artifacts `wanted` takes: of this run through the results service, or of the
/// run `req.source` names through REST.
async fn list(
    req: &DownloadRequest,
    env: &Env,
    http: &HttpClient,
    wanted: &NameFilter,
) -> Result<Listing, ArtifactError> {
    // Same run without the runtime token but with a REST token: read this run through REST.
    let source = match (&req.source, env.runtime_token(), &req.token) {
        (Source::SameRun, None, Some(_)) => {
            match env.runner().run_id.as_deref().and_then(|r| r.parse().ok()) {
                Some(id) => Source::Run(id),
                None => req.source.clone(),
            }
        }
        _ => req.source.clone(),
    };
    if source == Source::SameRun {
        list_same_run(env, http, wanted).await
    } else {
        list_rest(req, &source, env, http, wanted).await
    }
}

/// Lists this run's artifacts through the results service (`ACTIONS_RUNTIME_TOKEN`).
async fn list_same_run(
    env: &Env,
    http: &HttpClient,
    wanted: &NameFilter,
) -> Result<Listing, ArtifactError> {
    let (token, results) = env.results_service(
        "downloading from this run needs the Actions runtime token",
        "downloading from this run needs the results service URL",
    )?;
    let ids = names::backend_ids(token)?;
    let client = TwirpClient::new(http.clone(), results, token)?;
    let list: ListArtifactsResponse = client
        .call(
            "ListArtifacts",
            &ListArtifactsRequest {
                workflow_run_backend_id: ids.run.clone(),
                workflow_job_run_backend_id: ids.job.clone(),
                name_filter: wanted.exact().map(str::to_owned),
                id_filter: None,
            },
        )
        .await?;
    let or_own = |given: String, own: &String| if given.is_empty() { own.clone() } else { given };
    let candidates = list
        .artifacts
        .into_iter()
        .filter(|a| wanted.takes(&a.name))
        .map(|a| Candidate {
            expected: parse_digest(a.digest.as_deref()),
            id: u64::try_from(a.database_id).unwrap_or(0),
            owner: Some(BackendIds {
                run: or_own(a.workflow_run_backend_id, &ids.run),
                job: or_own(a.workflow_job_run_backend_id, &ids.job),
            }),
            name: a.name,
        })
        .collect();
    Ok(Listing {
        service: Service::Twirp(client),
        run_id: None,
        scope: "this workflow run".to_owned(),
        candidates,
    })
}

/// Lists the artifacts of the run `source` names through REST (needs a repository and a
/// token); expired ones are left out.
async fn list_rest(
    req: &DownloadRequest,
    source: &Source,
    env: &Env,
    http: &HttpClient,
    wanted: &NameFilter,
) -> Result<Listing, ArtifactError> {
    let repository = req
        .repository
        .clone()
        .or_else(|| env.runner().repository.clone())
        .ok_or_else(|| {
            ArtifactError::Usage(
                "another run needs `--repository owner/name` (or `GITHUB_REPOSITORY`)".into(),
            )
        })?;
    let token = req.token.as_deref().ok_or_else(|| {
        ArtifactError::Usage(
            "another run needs `--github-token` (or `GITHUB_TOKEN`) with actions:read".into(),
        )
    })?;
    let client = Rest::new(env, http.clone(), &repository, token)?;
    let run = match source {
        Source::Run(id) => RunRef::Id(*id),
        Source::Commit(sha) => RunRef::Commit(sha),
        Source::PullRequest(n) => RunRef::Pr(*n),
        Source::Branch(b) => RunRef::Branch(b),
        Source::SameRun => RunRef::Id(0),
    };
    let id = client.resolve_run(run, req.workflow.as_deref()).await?;
    let candidates = client
        .artifacts(id, wanted.exact())
        .await?
        .into_iter()
        .filter(|a| !a.expired && wanted.takes(&a.name))
        .map(|a| Candidate {
            expected: parse_digest(a.digest.as_deref()),
            id: a.id,
            owner: None,
            name: a.name,
        })
        .collect();
    Ok(Listing {
        service: Service::Rest(client),
        run_id: Some(id),
        scope: format!("run {id} of `{repository}`"),
        candidates,
    })
}

/// One artifact per name, the highest id (re-runs may leave several), every name checked
/// as a path component; none at all is [`ArtifactError::NotFound`] in `scope`.
fn select(
    selector: &Selector,
    candidates: Vec<Candidate>,
    scope: String,
) -> Result<BTreeMap<String, Candidate>, ArtifactError> {
    let mut by_name: BTreeMap<String, Candidate> = BTreeMap::new();
    for c in candidates {
        match by_name.get(&c.name) {
            Some(old) if old.id >= c.id => {}
            _ => {
                by_name.insert(c.name.clone(), c);
            }
        }
    }
    // A name becomes a folder under `dest` (without merging): check every one before a
    // single byte is fetched, whether or not it ends up as a path.
    for name in by_name.keys() {
        names::check_path_component(name).map_err(|reason| ArtifactError::UnsafeName {
            name: name.clone(),
            reason,
        })?;
    }
    if by_name.is_empty() {
        let what = match selector {
            Selector::Name(n) => format!("the name `{n}`"),
            Selector::Pattern(p) => format!("the pattern `{p}`"),
            Selector::All => "(any artifact)".into(),
        };
        return Err(ArtifactError::NotFound { what, scope });
    }
    Ok(by_name)
}

/// A temporary folder on the destination's file system, so that the final moves are
/// renames: inside the destination when it exists, else beside it.
fn staging_dir(dest: &Path) -> Result<tempfile::TempDir, ArtifactError> {
    let parent = if dest.is_dir() {
        dest.to_path_buf()
    } else {
        dest.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dest.to_path_buf())
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| ArtifactError::io(format!("creating `{}`", parent.display()), e))?;
    tempfile::Builder::new()
        .prefix(".proofgate-download-")
        .tempdir_in(&parent)
        .map_err(|e| {
            ArtifactError::io(
                format!("creating a temporary folder in `{}`", parent.display()),
                e,
            )
        })
}

/// Fetches one artifact's zip into `zip_path` and checks it against the digest the
/// service gave. `(before, room)`: bytes fetched by earlier artifacts, and how many more
/// the download's limit allows.
async fn fetch_one(
    service: &Service,
    http: &HttpClient,
    c: &Candidate,
    zip_path: &Path,
    (before, room): (u64, u64),
    progress: Option<&ProgressFn>,
) -> Result<(u64, Sha256Digest), ArtifactError> {
    let url = match (service, &c.owner) {
        (Service::Twirp(t), Some(owner)) => {
            let r: SignedUrlResponse = t
                .call("GetSignedArtifactURL", &NamedRequest::new(owner, &c.name))
                .await?;
            if r.signed_url.is_empty() {
                return Err(ArtifactError::BadResponse {
                    doing: "`GetSignedArtifactURL`".into(),
                    detail: format!("no signed URL for `{}`", c.name),
                });
            }
            r.signed_url
        }
        (Service::Rest(r), _) => r.zip_location(c.id, &c.name).await?,
        (Service::Twirp(_), None) => {
            return Err(ArtifactError::Usage(
                "no way to reach the artifact service".into(),
            ));
        }
    };
    let (size, digest) = fetch_blob(http, &url, zip_path, &c.name, before, room, progress).await?;
    if let Some(expected) = c.expected
        && expected != digest
    {
        return Err(ArtifactError::DigestMismatch {
            name: c.name.clone(),
            expected: expected.to_string(),
            actual: digest.to_string(),
        });
    }
    Ok((size, digest))
}

/// What the artifacts unpacked so far took of the download's limits.
#[derive(Default)]
struct Used {
    bytes: u64,
    entries: usize,
}

/// Unpacks the zip at `zip_path` into the new folder `out` within what is left of `full`
/// (`earlier`: artifacts before this one took part of it), and counts what it took.
async fn extract_one(
    zip_path: &Path,
    out: &Path,
    name: &str,
    full: &UnzipLimits,
    used: &mut Used,
    earlier: bool,
) -> Result<Vec<zip::Extracted>, ArtifactError> {
    std::fs::create_dir(out)
        .map_err(|e| ArtifactError::io(format!("creating `{}`", out.display()), e))?;
    let limits = UnzipLimits {
        max_total_bytes: full.max_total_bytes.saturating_sub(used.bytes),
        max_entries: full.max_entries.saturating_sub(used.entries),
    };
    let (zp, op) = (zip_path.to_path_buf(), out.to_path_buf());
    let files = tokio::task::spawn_blocking(move || -> Result<Vec<zip::Extracted>, String> {
        let f = std::fs::File::open(&zp).map_err(|e| format!("reopening the download: {e}"))?;
        zip::extract(io::BufReader::new(f), &op, &limits)
    })
    .await
    .map_err(|e| ArtifactError::io("unpacking", io::Error::other(e)))?
    .map_err(|reason| ArtifactError::UnsafeZip {
        name: name.to_owned(),
        reason: if earlier {
            format!(
                "{reason} (what the artifacts before it left of the download's {} bytes and {} entries)",
                full.max_total_bytes, full.max_entries
            )
        } else {
            reason
        },
    })?;
    used.bytes += files.iter().map(|f| f.size).sum::<u64>();
    used.entries += files.len();
    Ok(files)
}

/// One artifact fetched and unpacked into the temporary folder `out`, bound for `target`.
struct Fetched {
    candidate: Candidate,
    size: u64,
    digest: Sha256Digest,
    out: PathBuf,
    target: PathBuf,
    files: Vec<zip::Extracted>,
}

/// Moves every fetched file into place. Every move is planned first, refusing two
/// different files at one path and any symbolic link on the way, before `dest` is touched.
fn place(dest: &Path, fetched: &[Fetched]) -> Result<(), ArtifactError> {
    let mut plan: BTreeMap<PathBuf, (usize, PathBuf)> = BTreeMap::new();
    for (k, a) in fetched.iter().enumerate() {
        for f in &a.files {
            let to = a.target.join(&f.name);
            let from = a.out.join(&f.name);
            if let Some((other, prev)) = plan.get(&to) {
                let same = Sha256Digest::of_file(prev)
                    .ok()
                    .zip(Sha256Digest::of_file(&from).ok());
                if !matches!(same, Some((a, b)) if a == b) {
                    return Err(ArtifactError::MergeConflict {
                        path: f.name.clone(),
                        first: fetched[*other].candidate.name.clone(),
                        second: a.candidate.name.clone(),
                    });
                }
                continue;
            }
            plan.insert(to, (k, from));
        }
    }
    for to in plan.keys() {
        refuse_links_between(dest, to)?;
    }
    for (to, (_, from)) in &plan {
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p)
                .map_err(|e| ArtifactError::io(format!("creating `{}`", p.display()), e))?;
        }
        std::fs::rename(from, to).map_err(|e| {
            ArtifactError::io(format!("moving the download into `{}`", to.display()), e)
        })?;
    }
    if plan.is_empty() {
        std::fs::create_dir_all(dest)
            .map_err(|e| ArtifactError::io(format!("creating `{}`", dest.display()), e))?;
    }
    Ok(())
}

/// The report of a download: the artifacts in name order, each with its files.
fn report(run_id: Option<u64>, fetched: Vec<Fetched>) -> DownloadReport {
    DownloadReport {
        run_id,
        artifacts: fetched
            .into_iter()
            .map(|a| DownloadedArtifact {
                name: a.candidate.name,
                id: a.candidate.id,
                size: a.size,
                digest: a.digest,
                digest_checked: a.candidate.expected.is_some(),
                path: a.target,
                files: a.files.into_iter().map(|f| f.name).collect(),
            })
            .collect(),
    }
}

/// Refuses to write `to` when a folder or file between `dest` (exclusive) and `to` already
/// exists as a symbolic link: a checkout may hold one named like an artifact or an entry,
/// pointing anywhere.
fn refuse_links_between(dest: &Path, to: &Path) -> Result<(), ArtifactError> {
    let Ok(rel) = to.strip_prefix(dest) else {
        return Err(ArtifactError::Usage(format!(
            "`{}` is not under `{}`",
            to.display(),
            dest.display()
        )));
    };
    let mut at = dest.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(ArtifactError::Usage(format!(
                    "`{}` is a symbolic link; refusing to write the download through it (download into an empty folder)",
                    at.display()
                )));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// The most zip bytes one download call fetches: the unpacked budget plus room for the
/// archives' own headers (a stored entry is a little larger zipped than unpacked).
fn zip_budget(limits: &UnzipLimits) -> u64 {
    limits
        .max_total_bytes
        .saturating_add((limits.max_entries as u64).saturating_mul(1024))
        .saturating_add(1 << 20)
}

/// GETs a signed blob URL (no auth header) into `path`, hashing as it goes; more than
/// `room` bytes is refused. Retried whole on 429, 5xx, resets and cut-off bodies.
async fn fetch_blob(
    http: &HttpClient,
    url: &str,
    path: &Path,
    name: &str,
    before: u64,
    room: u64,
    progress: Option<&ProgressFn>,
) -> Result<(u64, Sha256Digest), ArtifactError> {
    let doing = format!("downloading artifact `{name}` from blob storage");
    retrying(&http.retry, &doing, || async {
        let req = Request::get(url)
            .header("user-agent", USER_AGENT)
            .body(Full::new(Bytes::new()))
            .map_err(|e| Fail::Fatal {
                status: None,
                detail: format!("bad signed URL: {e}"),
            })?;
        let resp = http.send(req).await?;
        let status = resp.status();
        if status != http::StatusCode::OK {
            let wait = retry_after(&resp);
            let body = http.read_all(resp, 1 << 20).await.unwrap_or_default();
            return Err(Fail::from_status(status, wait, &body));
        }
        let io_fail = |e: io::Error| {
            Fail::Error(ArtifactError::io(
                format!("writing `{}`", path.display()),
                e,
            ))
        };
        let mut file = tokio::fs::File::create(path).await.map_err(io_fail)?;
        let mut body = resp.into_body();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = http.next_chunk(&mut body).await? {
            hasher.update(&chunk);
            size += chunk.len() as u64;
            if size > room {
                return Err(Fail::Error(ArtifactError::UnsafeZip {
                    name: name.to_owned(),
                    reason: format!(
                        "the archives of this download are larger than the {room} bytes left of its size limit"
                    ),
                }));
            }
            if let Some(p) = progress {
                p(before + size);
            }
            file.write_all(&chunk).await.map_err(io_fail)?;
        }
        file.flush().await.map_err(io_fail)?;
        Ok((size, Sha256Digest::from_bytes(hasher.finalize().into())))
    })
    .await
}

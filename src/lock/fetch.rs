//! Retrieving the proof a lock pins, by its digest: from a local proofs directory, then
//! from the evidence store given on the command line, then from the workflow artifact
//! the lock names (in the repository under test only). Whatever is found is only a
//! candidate: the gate authenticates it against its own keys and checks its digest
//! again ([`crate::verify::locked`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use http::Method;
use serde::Deserialize;

use super::file::ArtifactLocation;
use crate::artifact::download::{Selector, Source};
use crate::artifact::{self, DownloadRequest};
use crate::digest::Sha256Digest;
use crate::store::client::{Archive, StoreClient};
use crate::store::upload::{self, PublishBody};
use crate::verify::ProofInput;
use crate::verify::load;
use crate::verify::locked::{LockPin, PinnedSource};

/// The most stored proofs of one script digest looked at for a pinned one.
const STORE_CANDIDATES: i64 = 100;

/// What reading one place gave: its contents, or why they could not be read.
type Fetched<T> = Result<T, String>;

/// An artifact by run id and name.
type ArtifactKey = (u64, String);

/// A stored run's files by name.
type RunFiles = BTreeMap<String, Vec<u8>>;

/// Where the artifacts the lock names are downloaded from.
#[derive(Debug, Clone)]
pub struct ArtifactAccess {
    /// The repository under test (`owner/name`): an artifact of any other is not read.
    pub repository: Option<String>,
    /// Token for the REST API.
    pub token: Option<String>,
    /// The artifact transport's environment (API URL, retries, timeouts).
    pub env: artifact::Env,
    /// Where downloaded artifacts go [default: a temporary directory, made at the first
    /// download and kept].
    pub dir: Option<PathBuf>,
}

/// The places a pinned proof is looked for, in order, with what was read from each.
pub struct Sources {
    dir: Option<PathBuf>,
    store: Option<(String, StoreClient)>,
    artifacts: Option<ArtifactAccess>,
    locations: BTreeMap<Sha256Digest, Option<ArtifactLocation>>,
    runtime: tokio::runtime::Runtime,
    local: Mutex<Option<Result<Vec<ProofInput>, String>>>,
    stored_runs: Mutex<HashMap<String, Fetched<RunFiles>>>,
    commit_runs: Mutex<HashMap<String, Fetched<Vec<String>>>>,
    downloaded: Mutex<HashMap<ArtifactKey, Fetched<Vec<ProofInput>>>>,
}

impl Sources {
    /// Sources over a local directory (`--proofs`), a store (`--server`, with its URL for
    /// messages) and the artifacts the lock names (`locations`, by pinned proof digest).
    pub fn new(
        dir: Option<PathBuf>,
        store: Option<(String, StoreClient)>,
        artifacts: Option<ArtifactAccess>,
        locations: BTreeMap<Sha256Digest, Option<ArtifactLocation>>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(Self {
            dir,
            store,
            artifacts,
            locations,
            runtime,
            local: Mutex::new(None),
            stored_runs: Mutex::new(HashMap::new()),
            commit_runs: Mutex::new(HashMap::new()),
            downloaded: Mutex::new(HashMap::new()),
        })
    }

    fn in_dir(&self, id: &str, pin: &LockPin) -> Option<Result<ProofInput, String>> {
        let dir = self.dir.as_ref()?;
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let proofs = local.get_or_insert_with(|| load::read_proofs(dir).map_err(|e| e.to_string()));
        Some(match proofs {
            Ok(all) => pick(all, id, pin).ok_or_else(|| {
                format!(
                    "`{}` holds no proof of `{id}` with that digest",
                    dir.display()
                )
            }),
            Err(e) => Err(e.clone()),
        })
    }

    fn in_store(&self, id: &str, pin: &LockPin) -> Option<Result<ProofInput, String>> {
        let (url, client) = self.store.as_ref()?;
        let found = self
            .runtime
            .block_on(self.store_lookup(client, id, pin))
            .and_then(|p| p.ok_or_else(|| "no stored proof of it has that digest".to_owned()));
        Some(found.map_err(|e| format!("store `{url}`: {e}")))
    }

    async fn store_lookup(
        &self,
        client: &StoreClient,
        id: &str,
        pin: &LockPin,
    ) -> Result<Option<ProofInput>, String> {
        // Proofs of one run are usually pinned together: a run already read is looked
        // at first, by digest, before the store is asked again.
        if let Some(found) = self.in_stored_runs(id, pin) {
            return Ok(Some(found));
        }
        for (run_id, file) in stored_candidates(client, id, pin).await? {
            let files = self.stored_run(client, &run_id).await?;
            let Some(bytes) = files.get(&file) else {
                continue;
            };
            if Sha256Digest::of(bytes) != pin.proof_digest {
                continue;
            }
            return Ok(Some(stored_proof(id, &run_id, &file, bytes, &files)));
        }
        Ok(None)
    }

    /// The pinned proof of `id` in a stored run already read, if one has it.
    fn in_stored_runs(&self, id: &str, pin: &LockPin) -> Option<ProofInput> {
        let runs = self.stored_runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter().find_map(|(run, files)| {
            let files = files.as_ref().ok()?;
            let (name, bytes) = files.iter().find(|(name, bytes)| {
                load::proof_id_of(name) == Some(id) && Sha256Digest::of(bytes) == pin.proof_digest
            })?;
            Some(stored_proof(id, run, name, bytes, files))
        })
    }

    /// The files of one stored run (read once).
    async fn stored_run(
        &self,
        client: &StoreClient,
        run: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, String> {
        if let Some(r) = self
            .stored_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(run)
        {
            return r.clone();
        }
        let fetched = async {
            if !run.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("the store named a run `{}`", run.escape_debug()));
            }
            let bytes = client.export(run).await.map_err(|e| e.to_string())?;
            let archive: Archive = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the archive of run {run} is not understood: {e}"))?;
            upload::decode(PublishBody {
                files: archive.files,
            })
            .map_err(|r| format!("the archive of run {run}: {}", r.message))
        }
        .await;
        self.stored_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run.to_owned(), fetched.clone());
        fetched
    }

    fn in_artifact(&self, id: &str, pin: &LockPin) -> Option<Result<ProofInput, String>> {
        let access = self.artifacts.as_ref()?;
        let Some(Some(loc)) = self.locations.get(&pin.proof_digest) else {
            return Some(Err("the lock names no artifact".to_owned()));
        };
        let shown = format!(
            "artifact `{}` of run {} in `{}`",
            loc.name, loc.run_id, loc.repository
        );
        let Some(ours) = access.repository.as_deref() else {
            return Some(Err(format!(
                "{shown}: the repository under test is unknown (pass `--repository`), and \
                 no other repository's artifact is read"
            )));
        };
        if !ours.eq_ignore_ascii_case(&loc.repository) {
            return Some(Err(format!(
                "{shown}: not the repository under test `{ours}`, so it is not read"
            )));
        }
        let mut cache = self.downloaded.lock().unwrap_or_else(|p| p.into_inner());
        let key = (loc.run_id, loc.name.clone());
        let proofs = cache
            .entry(key)
            .or_insert_with(|| self.download(access, loc, ours));
        Some(match proofs {
            Ok(all) => pick(all, id, pin)
                .ok_or_else(|| format!("{shown} holds no proof of `{id}` with that digest")),
            Err(e) => Err(format!("{shown}: {e}")),
        })
    }

    fn download(
        &self,
        access: &ArtifactAccess,
        loc: &ArtifactLocation,
        repository: &str,
    ) -> Result<Vec<ProofInput>, String> {
        let selector = Selector::Name(loc.name.clone());
        self.download_from(access, loc.run_id, selector, &loc.name, repository)
    }

    /// Downloads the artifacts `selector` takes from run `run_id` into `<dir>/<run
    /// id>/<under>` and reads the proofs in them.
    fn download_from(
        &self,
        access: &ArtifactAccess,
        run_id: u64,
        selector: Selector,
        under: &str,
        repository: &str,
    ) -> Result<Vec<ProofInput>, String> {
        let dir = match &access.dir {
            Some(d) => d.clone(),
            None => tempfile::Builder::new()
                .prefix("proofgate-lock-")
                .tempdir()
                .map_err(|e| format!("cannot make a temporary directory: {e}"))?
                .keep(),
        };
        // Names were checked when the lock was read: one plain path component each.
        let path = dir.join(run_id.to_string()).join(under);
        let mut req = DownloadRequest::new(selector, &path, Source::Run(run_id));
        req.repository = Some(repository.to_owned());
        req.token = access.token.clone();
        self.runtime
            .block_on(artifact::download(&req, &access.env))
            .map_err(|e| e.to_string())?;
        load::read_proofs(&path).map_err(|e| e.to_string())
    }
}

impl Sources {
    /// The proofs of `id` in the `--proofs` directory.
    fn list_dir(&self, id: &str) -> Option<Result<Vec<ProofInput>, String>> {
        let dir = self.dir.as_ref()?;
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let proofs = local.get_or_insert_with(|| load::read_proofs(dir).map_err(|e| e.to_string()));
        Some(match proofs {
            Ok(all) => Ok(all.iter().filter(|p| p.script_id == id).cloned().collect()),
            Err(e) => Err(format!("`{}`: {e}", dir.display())),
        })
    }

    /// The proofs of `id` in every stored run of `commit` and every stored run that
    /// holds a proof of it with the pinned script and tests digests.
    fn list_store(
        &self,
        id: &str,
        pin: &LockPin,
        commit: Option<&str>,
    ) -> Option<Result<Vec<ProofInput>, String>> {
        let (url, client) = self.store.as_ref()?;
        let listed = self.runtime.block_on(async {
            let mut runs: Vec<String> = stored_candidates(client, id, pin)
                .await?
                .into_iter()
                .map(|(run_id, _)| run_id)
                .collect();
            if let Some(c) = commit.filter(|c| c.bytes().all(|b| b.is_ascii_hexdigit())) {
                let cached = self
                    .commit_runs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(c)
                    .cloned();
                let of_commit = match cached {
                    Some(r) => r,
                    None => {
                        let r = runs_of_commit(client, c).await;
                        self.commit_runs
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(c.to_owned(), r.clone());
                        r
                    }
                };
                runs.extend(of_commit?);
            }
            runs.sort_unstable();
            runs.dedup();
            let mut out = Vec::new();
            for run in &runs {
                let files = self.stored_run(client, run).await?;
                for (name, bytes) in &files {
                    if load::proof_id_of(name) == Some(id) {
                        out.push(stored_proof(id, run, name, bytes, &files));
                    }
                }
            }
            Ok::<_, String>(out)
        });
        Some(listed.map_err(|e| format!("store `{url}`: {e}")))
    }

    /// The proofs of `id` in every artifact of the runs the lock names for `pins` (in
    /// the repository under test only).
    fn list_artifacts(
        &self,
        id: &str,
        pins: &[LockPin],
    ) -> Option<Result<Vec<ProofInput>, String>> {
        let access = self.artifacts.as_ref()?;
        let mut runs: Vec<&ArtifactLocation> = pins
            .iter()
            .filter_map(|pin| self.locations.get(&pin.proof_digest)?.as_ref())
            .collect();
        runs.sort_by_key(|l| l.run_id);
        runs.dedup_by_key(|l| l.run_id);
        if runs.is_empty() {
            return Some(Err("the lock names no artifact".to_owned()));
        }
        let Some(ours) = access.repository.as_deref() else {
            return Some(Err(
                "the repository under test is unknown (pass `--repository`), so no run's \
                 artifacts are listed"
                    .to_owned(),
            ));
        };
        let mut out = Vec::new();
        for loc in runs {
            let shown = format!(
                "the artifacts of run {} in `{}`",
                loc.run_id, loc.repository
            );
            if !ours.eq_ignore_ascii_case(&loc.repository) {
                return Some(Err(format!(
                    "{shown}: not the repository under test `{ours}`, so they are not read"
                )));
            }
            let mut cache = self.downloaded.lock().unwrap_or_else(|p| p.into_inner());
            // An artifact name is never empty: the empty name keys the whole run.
            let proofs = cache.entry((loc.run_id, String::new())).or_insert_with(|| {
                self.download_from(access, loc.run_id, Selector::All, "all-artifacts", ours)
            });
            match proofs {
                Ok(all) => out.extend(all.iter().filter(|p| p.script_id == id).cloned()),
                Err(e) => return Some(Err(format!("{shown}: {e}"))),
            }
        }
        Some(Ok(out))
    }
}

/// The most pages of stored runs of one commit read.
const RUN_PAGES: usize = 100;

/// The ids of the stored runs of `commit`, every page of them.
async fn runs_of_commit(client: &StoreClient, commit: &str) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct RunId {
        id: String,
    }
    #[derive(Deserialize)]
    struct Page {
        runs: Vec<RunId>,
        next_cursor: Option<String>,
    }
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..RUN_PAGES {
        let mut path = format!("/api/runs?limit=500&commit={commit}");
        if let Some(c) = &cursor {
            path.push_str(&format!(
                "&cursor={}",
                percent_encoding::utf8_percent_encode(c, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        let (_, body) = client
            .call(Method::GET, &path, None)
            .await
            .map_err(|e| e.to_string())?;
        let page: Page = serde_json::from_slice(&body)
            .map_err(|e| format!("the run list is not understood: {e}"))?;
        ids.extend(page.runs.into_iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(ids),
        }
    }
    Err(format!(
        "commit {commit} has more than {RUN_PAGES} pages of stored runs"
    ))
}

/// A proof read from stored run `run`, with its envelope when the run has one.
fn stored_proof(id: &str, run: &str, name: &str, bytes: &[u8], files: &RunFiles) -> ProofInput {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    ProofInput {
        script_id: id.to_owned(),
        origin: format!("store run {run}: {name}"),
        json: Ok(bytes.to_vec()),
        dsse: files.get(&format!("{stem}.dsse.json")).cloned().map(Ok),
    }
}

/// The proof of `id` whose bytes have the pinned digest.
fn pick(all: &[ProofInput], id: &str, pin: &LockPin) -> Option<ProofInput> {
    all.iter()
        .find(|p| {
            p.script_id == id
                && p.json
                    .as_ref()
                    .is_ok_and(|b| Sha256Digest::of(b) == pin.proof_digest)
        })
        .cloned()
}

impl PinnedSource for Sources {
    fn fetch(&self, id: &str, pin: &LockPin) -> Result<ProofInput, String> {
        let mut tried = Vec::new();
        let steps: [&dyn Fn() -> Option<Result<ProofInput, String>>; 3] = [
            &|| self.in_dir(id, pin),
            &|| self.in_store(id, pin),
            &|| self.in_artifact(id, pin),
        ];
        for step in steps {
            match step() {
                Some(Ok(p)) => return Ok(p),
                Some(Err(why)) => tried.push(why),
                None => {}
            }
        }
        if tried.is_empty() {
            tried.push(
                "no source to read it from: pass `--server URL` or a token for the artifact"
                    .to_owned(),
            );
        }
        Err(tried.join("; "))
    }

    fn run_proofs(
        &self,
        id: &str,
        pins: &[LockPin],
        commit: Option<&str>,
    ) -> Result<Vec<ProofInput>, String> {
        let Some(first) = pins.first() else {
            return Ok(Vec::new());
        };
        // Every place that can list the run is read: a proof any of them holds counts.
        let mut listed = Vec::new();
        let mut read = false;
        let mut tried = Vec::new();
        for got in [
            self.list_dir(id),
            self.list_store(id, first, commit),
            self.list_artifacts(id, pins),
        ]
        .into_iter()
        .flatten()
        {
            match got {
                Ok(found) => {
                    read = true;
                    listed.extend(found);
                }
                Err(why) => tried.push(why),
            }
        }
        if read {
            return Ok(listed);
        }
        if tried.is_empty() {
            tried.push("no source lists the run".to_owned());
        }
        Err(tried.join("; "))
    }
}

/// The stored proofs of `id` with the pin's script digest (the in-toto subject the store
/// indexes) and tests digest, as `(run id, file name)`: the runs a pinned proof of `id`
/// can be in.
async fn stored_candidates(
    client: &StoreClient,
    id: &str,
    pin: &LockPin,
) -> Result<Vec<(String, String)>, String> {
    #[derive(Deserialize)]
    struct Row {
        run_id: String,
        file: String,
        script_id: String,
        tests_digest: String,
    }
    #[derive(Deserialize)]
    struct Rows {
        proofs: Vec<Row>,
    }
    let path = format!(
        "/api/proofs?subject={}&limit={STORE_CANDIDATES}",
        percent_encoding::utf8_percent_encode(
            &pin.source_hash.to_string(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    let (_, body) = client
        .call(Method::GET, &path, None)
        .await
        .map_err(|e| e.to_string())?;
    let rows: Rows = serde_json::from_slice(&body)
        .map_err(|e| format!("the proof list is not understood: {e}"))?;
    let tests = pin.tests_hash.to_string();
    Ok(rows
        .proofs
        .into_iter()
        .filter(|r| r.script_id == id && r.tests_digest == tests)
        .map(|r| (r.run_id, r.file))
        .collect())
}

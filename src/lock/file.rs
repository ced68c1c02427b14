//! The `proofgate.lock` format: per script, the digests it was certified at and where
//! the proof that certifies it lives. One rendering for one content — pretty JSON, keys
//! in a fixed order, scripts sorted by id, a trailing newline — so a diff of the lock
//! shows exactly what changed. Described by `schemas/lock.schema.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::model::ScriptId;
use crate::proof::record::Verdict;
use crate::verify::locked::LockPin;

/// The version of the lock's shape.
pub const LOCK_VERSION: u32 = 1;

/// The lock's file name at the repository root.
pub const LOCK_FILE: &str = "proofgate.lock";

/// The largest lock file read (about 20,000 scripts); a larger one is an error.
pub const MAX_LOCK_BYTES: u64 = 16 << 20;

/// A lock: the proof that certifies each script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// [`LOCK_VERSION`].
    pub lock_version: u32,
    /// One entry per script, by id (an id given twice is an error, not last-wins).
    #[serde(deserialize_with = "unique_entries")]
    pub scripts: BTreeMap<ScriptId, LockEntry>,
}

/// A map whose keys are unique: serde's own `BTreeMap` keeps the last of two.
fn unique_entries<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<ScriptId, LockEntry>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = BTreeMap<ScriptId, LockEntry>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of lock entries by script id")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((id, entry)) = m.next_entry::<ScriptId, LockEntry>()? {
                if out.contains_key(&id) {
                    return Err(serde::de::Error::custom(format!(
                        "script `{id}` has two entries"
                    )));
                }
                out.insert(id, entry);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Visit)
}

/// What the lock pins for one script. Fields are written in this order, every one of
/// them, `null` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The script's digest (the proof's `script_digest`).
    pub source_hash: Sha256Digest,
    /// The digest over its test files (the proof's `tests_digest`).
    pub tests_hash: Sha256Digest,
    /// The run's seeds (the proof's `context.seeds`), `null` when it records none.
    pub test_seed: Option<BTreeMap<String, String>>,
    /// The proof's verdict (always `PASS`: `lock update` locks no other).
    pub test_result: Verdict,
    /// The proof's `ci_run_id`.
    pub test_run_id: Option<String>,
    /// SHA-256 of the proof file's bytes; `null` in a sharded entry (see `shards`).
    pub proof_digest: Option<Sha256Digest>,
    /// Where the proof lives.
    pub location: Location,
    /// The id of the key that signed the proof, `null` for an unsigned proof (under
    /// `signatures: none`).
    pub key_id: Option<String>,
    /// A script whose tests run in several shards: one pin per shard, sorted by shard
    /// name, each shard once. Then `test_seed`, `test_run_id`, `proof_digest` and
    /// `key_id` are `null` and `location` is empty: each shard says its own. Not written
    /// for an unsharded script, so its entry reads as it always did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardEntry>,
}

/// The proof of one shard of a sharded script. Fields are written in this order, every
/// one of them, `null` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    /// The shard's name (the proof's `context.shard`).
    pub shard: String,
    /// The shard's seeds (the proof's `context.seeds`), `null` when it records none.
    pub test_seed: Option<BTreeMap<String, String>>,
    /// The proof's `ci_run_id`.
    pub test_run_id: Option<String>,
    /// SHA-256 of the proof file's bytes.
    pub proof_digest: Sha256Digest,
    /// Where the proof lives.
    pub location: Location,
    /// The id of the key that signed the proof, `null` for an unsigned proof.
    pub key_id: Option<String>,
}

/// Where a locked proof can be retrieved: an artifact, an evidence store, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The workflow run artifact that holds it.
    pub artifact: Option<ArtifactLocation>,
    /// The evidence store that keeps it.
    pub store: Option<StoreLocation>,
}

/// A workflow run's artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactLocation {
    /// `owner/name`.
    pub repository: String,
    /// The workflow run id.
    pub run_id: u64,
    /// The artifact's name.
    pub name: String,
}

/// An evidence store (`proofgate serve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreLocation {
    /// The store's URL. Informational: the gate reads only the store given on its own
    /// command line (`--server`), never one the lock names.
    pub url: String,
    /// The stored run's id, when known.
    pub run_id: Option<String>,
}

/// Why a lock file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file could not be read.
    #[error("cannot read the lock `{path}`")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a lock.
    #[error("`{path}` is not a proofgate lock (line {line}, column {column}): {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line, 0 when the problem has no position.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        detail: String,
    },
    /// The lock could not be written.
    #[error("cannot write the lock `{path}`")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl crate::exit::Failure for LockError {
    fn exit_class(&self) -> crate::exit::ExitClass {
        match self {
            LockError::Invalid { .. } => crate::exit::ExitClass::Usage,
            LockError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                crate::exit::ExitClass::Usage
            }
            _ => crate::exit::ExitClass::Io,
        }
    }
}

impl Lock {
    /// An empty lock of the current version.
    pub fn new() -> Self {
        Self {
            lock_version: LOCK_VERSION,
            scripts: BTreeMap::new(),
        }
    }

    /// Parses a lock's bytes (`path` names it in errors): strict JSON of the current
    /// version, no unknown or duplicate keys, valid script ids, artifact names and
    /// run ids.
    pub fn parse(path: &str, bytes: &[u8]) -> Result<Self, LockError> {
        let invalid = |line, column, detail: String| LockError::Invalid {
            path: path.to_owned(),
            line,
            column,
            detail,
        };
        let lock: Lock = serde_json::from_slice(bytes)
            .map_err(|e| invalid(e.line(), e.column(), e.to_string()))?;
        if lock.lock_version != LOCK_VERSION {
            return Err(invalid(
                0,
                0,
                format!(
                    "`lock_version` is {}; this proofgate reads {LOCK_VERSION}",
                    lock.lock_version
                ),
            ));
        }
        for (id, e) in &lock.scripts {
            if let Some(why) = e.shape_error() {
                return Err(invalid(0, 0, format!("script `{id}`: {why}")));
            }
            for loc in e.locations() {
                check_location(loc)
                    .map_err(|why| invalid(0, 0, format!("script `{id}`: {why}")))?;
            }
        }
        Ok(lock)
    }

    /// Reads the lock at `path`.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let shown = path.display().to_string();
        let read = |source| LockError::Read {
            path: shown.clone(),
            source,
        };
        let bytes = read_bounded(path).map_err(read)?;
        Self::parse(&shown, &bytes)
    }

    /// The lock's one rendering: pretty JSON, keys in a fixed order, scripts by id, a
    /// trailing newline.
    pub fn render(&self) -> String {
        // Serialising plain structs and a `BTreeMap` cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Writes the lock to `path` (a temporary file renamed over it), keeping the mode of
    /// the file it replaces; a new lock is readable by all (`0644`), as a file meant to
    /// be committed.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let err = |source| LockError::Write {
            path: path.display().to_string(),
            source,
        };
        let previous = std::fs::metadata(path).ok().map(|m| m.permissions());
        crate::fsutil::write_replace(path, self.render().as_bytes()).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = previous.unwrap_or_else(|| std::fs::Permissions::from_mode(0o644));
            std::fs::set_permissions(path, mode).map_err(err)?;
        }
        #[cfg(not(unix))]
        drop(previous);
        Ok(())
    }

    /// The entries as the gate reads them, by script id: one pin per proof.
    pub fn pins(&self) -> BTreeMap<String, Vec<LockPin>> {
        self.scripts
            .iter()
            .map(|(id, e)| (id.to_string(), e.pins()))
            .collect()
    }

    /// The 1-based line of `id`'s entry in the lock's rendering (1 when absent), for
    /// findings that point at it.
    pub fn line_of(text: &str, id: &str) -> u32 {
        let key = format!("\"{id}\": {{");
        text.lines()
            .position(|l| l.trim_start() == key)
            .map_or(1, |i| i as u32 + 1)
    }
}

/// Why a location cannot be used: a store URL that is not HTTP(S), an artifact name that
/// is not one plain path component, an artifact run id of 0.
fn check_location(loc: &Location) -> Result<(), String> {
    if let Some(st) = &loc.store
        && !(st.url.starts_with("http://") || st.url.starts_with("https://"))
    {
        return Err("the store url must start with `http://` or `https://`".to_owned());
    }
    if let Some(a) = &loc.artifact {
        crate::artifact::names::validate_name(&a.name).map_err(|err| err.to_string())?;
        // It becomes a folder name when the artifact is downloaded.
        crate::artifact::names::check_path_component(&a.name)
            .map_err(|why| format!("artifact name: {why}"))?;
        if a.run_id == 0 {
            return Err("artifact `run_id` is 0".to_owned());
        }
    }
    Ok(())
}

/// Reads at most [`MAX_LOCK_BYTES`]; a larger file is an error decided before reading.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than the {MAX_LOCK_BYTES} bytes a lock may have"),
        )
    };
    if f.metadata()?.len() > MAX_LOCK_BYTES {
        return Err(too_large());
    }
    let mut buf = Vec::new();
    f.take(MAX_LOCK_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_LOCK_BYTES {
        return Err(too_large());
    }
    Ok(buf)
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl LockEntry {
    /// The entry as the gate reads it: one pin per proof (per shard of a sharded
    /// script), each with the entry's digests.
    pub fn pins(&self) -> Vec<LockPin> {
        if self.shards.is_empty() {
            return self
                .proof_digest
                .map(|d| LockPin {
                    source_hash: self.source_hash,
                    tests_hash: self.tests_hash,
                    proof_digest: d,
                    test_result: self.test_result,
                    test_run_id: self.test_run_id.clone(),
                    key_id: self.key_id.clone(),
                    test_seed: self.test_seed.clone(),
                    shard: None,
                })
                .into_iter()
                .collect();
        }
        self.shards
            .iter()
            .map(|sh| LockPin {
                source_hash: self.source_hash,
                tests_hash: self.tests_hash,
                proof_digest: sh.proof_digest,
                test_result: self.test_result,
                test_run_id: sh.test_run_id.clone(),
                key_id: sh.key_id.clone(),
                test_seed: sh.test_seed.clone(),
                shard: Some(sh.shard.clone()),
            })
            .collect()
    }

    /// Every location the entry names (its own, then each shard's).
    pub fn locations(&self) -> impl Iterator<Item = &Location> {
        std::iter::once(&self.location).chain(self.shards.iter().map(|s| &s.location))
    }

    /// Why the entry is neither an unsharded one (a `proof_digest`, no `shards`) nor a
    /// sharded one (`shards` sorted by name, each shard once, and the per-proof fields of
    /// the entry itself empty).
    fn shape_error(&self) -> Option<String> {
        if self.shards.is_empty() {
            return self
                .proof_digest
                .is_none()
                .then(|| "`proof_digest` is null and there are no `shards`".to_owned());
        }
        if self.proof_digest.is_some()
            || self.test_run_id.is_some()
            || self.key_id.is_some()
            || self.test_seed.is_some()
            || self.location != Location::default()
        {
            return Some(
                "a sharded entry's `test_seed`, `test_run_id`, `proof_digest`, `location` and                  `key_id` are its shards': leave them null"
                    .to_owned(),
            );
        }
        if let Some(s) = self.shards.iter().find(|s| s.shard.is_empty()) {
            return Some(format!("a shard of proof {} has no name", s.proof_digest));
        }
        for w in self.shards.windows(2) {
            if w[0].shard == w[1].shard {
                return Some(format!(
                    "shard `{}` is pinned twice",
                    w[0].shard.escape_debug()
                ));
            }
            if w[0].shard > w[1].shard {
                return Some(format!(
                    "`shards` must be sorted by name: `{}` comes before `{}`",
                    w[1].shard.escape_debug(),
                    w[0].shard.escape_debug()
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> LockEntry {
        LockEntry {
            source_hash: Sha256Digest::of(&[n]),
            tests_hash: Sha256Digest::of(&[n, 1]),
            test_seed: None,
            test_result: Verdict::Pass,
            test_run_id: Some("77".into()),
            proof_digest: Some(Sha256Digest::of(&[n, 2])),
            location: Location {
                artifact: Some(ArtifactLocation {
                    repository: "acme/scripts".into(),
                    run_id: 77,
                    name: "proofs".into(),
                }),
                store: None,
            },
            key_id: Some("k1".into()),
            shards: vec![],
        }
    }

    fn lock(ids: &[&str]) -> Lock {
        let mut l = Lock::new();
        for (i, id) in ids.iter().enumerate() {
            l.scripts.insert(ScriptId::new(id).unwrap(), entry(i as u8));
        }
        l
    }

    #[test]
    fn the_same_content_renders_to_the_same_bytes_whatever_the_insertion_order() {
        let a = lock(&["b", "a"]);
        let mut b = Lock::new();
        b.scripts.insert(ScriptId::new("a").unwrap(), entry(1));
        b.scripts.insert(ScriptId::new("b").unwrap(), entry(0));
        assert_eq!(a.render(), b.render());
        let text = a.render();
        assert!(text.ends_with("}\n"));
        assert!(text.find("\"a\": {").unwrap() < text.find("\"b\": {").unwrap());
        // Every key is written, in the documented order.
        let keys = [
            "source_hash",
            "tests_hash",
            "test_seed",
            "test_result",
            "test_run_id",
            "proof_digest",
            "location",
            "key_id",
        ];
        let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"store\": null"));
    }

    #[cfg(unix)]
    #[test]
    fn a_new_lock_is_readable_by_all_and_a_replaced_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let l = lock(&["calc"]);
        l.write(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        l.write(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(Lock::read(&path).unwrap(), l);
    }

    #[test]
    fn a_rendered_lock_parses_back_to_itself() {
        let l = lock(&["calc", "deploy.sh"]);
        assert_eq!(Lock::parse("x", l.render().as_bytes()).unwrap(), l);
        let text = l.render();
        let line = Lock::line_of(&text, "deploy.sh") as usize;
        assert_eq!(text.lines().nth(line - 1), Some("    \"deploy.sh\": {"));
        assert_eq!(Lock::line_of(&text, "absent"), 1);
    }

    fn sharded(names: &[&str]) -> LockEntry {
        let mut e = entry(3);
        e.test_seed = None;
        e.test_run_id = None;
        e.proof_digest = None;
        e.location = Location::default();
        e.key_id = None;
        e.shards = names
            .iter()
            .enumerate()
            .map(|(i, n)| ShardEntry {
                shard: (*n).to_owned(),
                test_seed: None,
                test_run_id: Some("77".into()),
                proof_digest: Sha256Digest::of(&[i as u8, 9]),
                location: entry(0).location,
                key_id: Some("k1".into()),
            })
            .collect();
        e
    }

    #[test]
    fn a_sharded_entry_round_trips_and_an_unsharded_one_has_no_shards_key() {
        let mut l = lock(&["calc"]);
        assert!(!l.render().contains("shards"));
        l.scripts
            .insert(ScriptId::new("deploy").unwrap(), sharded(&["a", "b"]));
        let text = l.render();
        assert_eq!(Lock::parse("x", text.as_bytes()).unwrap(), l);
        let pins = &l.pins()["deploy"];
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[1].shard.as_deref(), Some("b"));
        assert_eq!(
            pins[1].source_hash,
            l.scripts[&ScriptId::new("deploy").unwrap()].source_hash
        );
    }

    #[test]
    fn a_sharded_entry_with_a_shard_twice_out_of_order_or_its_own_proof_is_refused() {
        let mut own = sharded(&["a", "b"]);
        own.proof_digest = Some(Sha256Digest::of(b"x"));
        let mut bad_location = sharded(&["a"]);
        bad_location.shards[0]
            .location
            .artifact
            .as_mut()
            .unwrap()
            .name = "..".into();
        let mut no_proof = entry(1);
        no_proof.proof_digest = None;
        for (e, why) in [
            (sharded(&["a", "a"]), "pinned twice"),
            (sharded(&["b", "a"]), "sorted"),
            (sharded(&[""]), "no name"),
            (own, "leave them null"),
            (bad_location, "artifact name"),
            (no_proof, "no `shards`"),
        ] {
            let mut l = Lock::new();
            l.scripts.insert(ScriptId::new("deploy").unwrap(), e);
            let err = Lock::parse("proofgate.lock", l.render().as_bytes()).unwrap_err();
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn unknown_keys_duplicates_bad_ids_versions_and_names_are_refused() {
        let good = lock(&["calc"]).render();
        let cases = [
            good.replace("\"key_id\"", "\"extra\": 1,\n      \"key_id\""),
            good.replace("\"calc\"", "\"../calc\""),
            good.replace("\"lock_version\": 1", "\"lock_version\": 2"),
            good.replace("\"name\": \"proofs\"", "\"name\": \"a/b\""),
            good.replace("\"name\": \"proofs\"", "\"name\": \"..\""),
            good.replace("\"run_id\": 77", "\"run_id\": 0"),
            good.replace(
                "\"store\": null",
                "\"store\": {\"url\": \"file:///etc\", \"run_id\": null}",
            ),
            good.replace("\"PASS\"", "\"MAYBE\""),
            good.replace("sha256:", "sha1:"),
            good.replace(
                "\"scripts\": {",
                &format!(
                    "\"scripts\": {{\n    \"calc\": {},",
                    serde_json::to_string(&entry(9)).unwrap()
                ),
            ),
            "[]".to_owned(),
        ];
        for bad in cases {
            let e = Lock::parse("proofgate.lock", bad.as_bytes()).unwrap_err();
            assert!(matches!(e, LockError::Invalid { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("proofgate.lock"));
        }
    }
}

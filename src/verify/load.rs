//! The gate's edge: proofs read from a directory as bytes, and the checkout's digests.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::gate::{CheckoutFacts, GateScript, ProofInput};
use crate::digest::Sha256Digest;
use crate::par::{par_map, threads_for};
use crate::proof::jcs::{TestPathCache, TestPathError, hash_test_paths_cached};

/// How deep [`read_proofs`] descends (artifact downloads nest one level per artifact).
const MAX_DEPTH: usize = 8;

/// Why the proofs or the checkout could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The proofs directory does not exist or is not a directory.
    #[error("proofs directory `{0}` does not exist or is not a directory")]
    NoProofsDir(PathBuf),
    /// A directory could not be listed.
    #[error("could not list `{path}`: {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file of the checkout could not be read (other than not existing).
    #[error("could not read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A declared test path of a script could not be hashed.
    #[error("script `{id}`: {source}")]
    TestPath {
        /// The script id.
        id: String,
        /// Why.
        #[source]
        source: TestPathError,
    },
}

/// The script id a proof file name carries: `proof-<ID>.json`, not `.dsse.json`.
pub fn proof_id_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_prefix("proof-")?.strip_suffix(".json")?;
    if stem.is_empty() || stem.ends_with(".dsse") {
        return None;
    }
    Some(stem)
}

/// Reads every `proof-<ID>.json` under `dir` (recursively, so merged and unmerged
/// artifact downloads both work) with its sibling `proof-<ID>.dsse.json`, as bytes.
/// A file that cannot be read becomes a proof whose bytes are an error (the gate denies
/// it as unreadable); a directory that cannot be listed is an error.
pub fn read_proofs(dir: &Path) -> Result<Vec<ProofInput>, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::NoProofsDir(dir.to_owned()));
    }
    let mut found = Vec::new();
    walk(dir, dir, 0, &mut found)?;
    let mut out = par_map(
        &found,
        threads_for(found.len(), 256),
        |(path, id, origin)| read_one(path, id, origin),
    );
    out.sort_by(|a, b| (&a.script_id, &a.origin).cmp(&(&b.script_id, &b.origin)));
    Ok(out)
}

fn read_one(path: &Path, id: &str, origin: &str) -> ProofInput {
    let json = std::fs::read(path).map_err(|e| e.to_string());
    let dsse_path = path.with_file_name(format!("proof-{id}.dsse.json"));
    let dsse = match std::fs::read(&dsse_path) {
        Ok(b) => Some(Ok(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.to_string())),
    };
    ProofInput {
        script_id: id.to_owned(),
        origin: origin.to_owned(),
        json,
        dsse,
    }
}

/// A proof file found: its path, script id and origin (relative to the base).
type Found = (PathBuf, String, String);

fn walk(base: &Path, dir: &Path, depth: usize, out: &mut Vec<Found>) -> Result<(), LoadError> {
    let list = |e| LoadError::List {
        path: dir.to_owned(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(list)?
        .collect::<Result<_, _>>()
        .map_err(list)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let ft = e.file_type().map_err(list)?;
        if ft.is_dir() {
            if depth < MAX_DEPTH {
                walk(base, &path, depth + 1, out)?;
            }
            continue;
        }
        let name = e.file_name();
        let Some(id) = name.to_str().and_then(proof_id_of) else {
            continue;
        };
        let origin = path
            .strip_prefix(base)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        out.push((path.clone(), id.to_owned(), origin));
    }
    Ok(())
}

/// The digest of the script file; `None` when it is not in the checkout.
fn digest_if_exists(path: &Path) -> Result<Option<Sha256Digest>, LoadError> {
    match Sha256Digest::of_file(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LoadError::Read {
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// Hashes each script and its declared test paths in the checkout at `root`; test paths
/// are read by [`hash_test_paths_cached`] (each once), exactly as `generate` reads them.
pub fn checkout_facts(
    root: &Path,
    scripts: &[GateScript],
) -> Result<HashMap<String, CheckoutFacts>, LoadError> {
    let cache = TestPathCache::default();
    let facts = par_map(
        scripts,
        threads_for(scripts.len(), 256),
        |s| -> Result<(String, CheckoutFacts), LoadError> {
            let script_digest = digest_if_exists(&root.join(&s.path))?;
            // The same reading of the test paths as `generate`'s.
            let tests = hash_test_paths_cached(root, &s.test_files, &cache).map_err(|source| {
                LoadError::TestPath {
                    id: s.id.clone(),
                    source,
                }
            })?;
            Ok((
                s.id.clone(),
                CheckoutFacts {
                    script_digest,
                    missing_test_files: tests.missing(),
                    tests_digest: Some(tests.digest),
                },
            ))
        },
    );
    facts.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_ids_come_from_file_names() {
        assert_eq!(proof_id_of("proof-SCRIPT-0001.json"), Some("SCRIPT-0001"));
        assert_eq!(proof_id_of("proof-a.b.json"), Some("a.b"));
        assert_eq!(proof_id_of("proof-a.dsse.json"), None);
        assert_eq!(proof_id_of("proof-.json"), None);
        assert_eq!(proof_id_of("other.json"), None);
    }

    #[test]
    fn reads_nested_proofs_with_their_envelopes() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("shard-1")).unwrap();
        std::fs::write(d.path().join("shard-1/proof-A.json"), b"{}").unwrap();
        std::fs::write(d.path().join("shard-1/proof-A.dsse.json"), b"env").unwrap();
        std::fs::write(d.path().join("proof-B.json"), b"{}").unwrap();
        std::fs::write(d.path().join("notes.txt"), b"x").unwrap();
        let p = read_proofs(d.path()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].script_id, "A");
        assert_eq!(p[0].origin, "shard-1/proof-A.json");
        assert_eq!(p[0].dsse, Some(Ok(b"env".to_vec())));
        assert_eq!(p[1].dsse, None);
    }

    #[test]
    fn a_missing_proofs_directory_is_an_error() {
        assert!(matches!(
            read_proofs(Path::new("/nonexistent/proofs")),
            Err(LoadError::NoProofsDir(_))
        ));
    }
}

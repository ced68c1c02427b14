//! The gate's edge: proofs read from a directory as bytes, and the checkout's digests.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::gate::{CheckoutFacts, GateScript, ProofInput};
use crate::digest::Sha256Digest;
use crate::par::{par_map, threads_for};
use crate::proof::testpaths::{TestPathCache, TestPathError, hash_test_paths_cached};

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

/// The largest proof file read (a proof of 100,000 tests is about 20 MB); a larger one
/// is denied as unreadable without being read.
pub const MAX_PROOF_BYTES: u64 = 32 << 20;

/// The largest envelope read (base64 of the statement, which is smaller than the proof).
pub const MAX_ENVELOPE_BYTES: u64 = 48 << 20;

/// The script id a proof file name carries: `proof-<ID>.json` or a shard's
/// `proof-<ID>@<SHARD>.json`, not `.dsse.json`.
pub fn proof_id_of(file_name: &str) -> Option<&str> {
    crate::proof::attest::parse_proof_file_name(file_name).map(|(id, _)| id)
}

/// Reads a file of at most `max` bytes; a larger one is an error that says so, decided
/// before its contents are read.
fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is {len} bytes, more than the {max} a proof file may have"),
        ));
    }
    let mut buf = Vec::with_capacity(len as usize);
    // `take` guards against a file that grows while it is read.
    f.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it grew past the {max} bytes a proof file may have"),
        ));
    }
    Ok(buf)
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
    let json = read_bounded(path, MAX_PROOF_BYTES).map_err(|e| e.to_string());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name.strip_suffix(".json").unwrap_or(name);
    let dsse_path = path.with_file_name(format!("{stem}.dsse.json"));
    let dsse = match read_bounded(&dsse_path, MAX_ENVELOPE_BYTES) {
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
        // Symbolic links are not followed: an artifact cannot point the gate at files
        // outside the proofs directory.
        if ft.is_symlink() {
            continue;
        }
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
        let origin = crate::fsutil::repo_relative(base, &path);
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
        assert_eq!(proof_id_of("proof-a@shard-1.json"), Some("a"));
        assert_eq!(proof_id_of("proof-a@shard-1.dsse.json"), None);
        assert_eq!(proof_id_of("proof-a@.json"), None);
        assert_eq!(proof_id_of("proof-a@../x.json"), None);
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
    fn a_shards_proof_is_read_with_its_own_envelope() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("proof-A@1.json"), b"{}").unwrap();
        std::fs::write(d.path().join("proof-A@1.dsse.json"), b"one").unwrap();
        std::fs::write(d.path().join("proof-A@2.json"), b"{}").unwrap();
        let p = read_proofs(d.path()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].origin, "proof-A@1.json");
        assert_eq!(p[0].dsse, Some(Ok(b"one".to_vec())));
        assert_eq!(p[1].dsse, None);
    }

    #[test]
    fn an_oversized_proof_is_unreadable_without_being_read() {
        let d = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(d.path().join("proof-A.json")).unwrap();
        f.set_len(MAX_PROOF_BYTES + 1).unwrap();
        let p = read_proofs(d.path()).unwrap();
        let err = p[0].json.as_ref().unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn a_missing_proofs_directory_is_an_error() {
        assert!(matches!(
            read_proofs(Path::new("/nonexistent/proofs")),
            Err(LoadError::NoProofsDir(_))
        ));
    }
}

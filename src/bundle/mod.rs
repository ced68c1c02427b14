//! Run bundles, the source manifest with its Merkle tree, and the ledger (DESIGN.md §2.6).
//!
//! - [`merkle`]: the RFC 9162 Merkle Tree Hash with domain separation;
//! - [`filehash`]: one file's SHA-256, read in one sized read, with a check that it did not change;
//! - [`manifest`]: the gitignore-aware, parallel source manifest (`manifest.json`);
//! - [`ledger`]: the hash-chained ledger of DSSE-signed events;
//! - [`redact`]: streaming secret redaction;
//! - [`exec`]: running the test command with a timeout and a redacted log;
//! - [`git`]: head SHA, changed files and diff stat;
//! - [`run`]: the run bundle (`bundle.json`, `summary.md`).

pub mod exec;
pub mod filehash;
pub mod git;
pub mod ledger;
pub mod manifest;
pub mod merkle;
pub mod redact;
pub mod run;

use std::io::{self, Write};
use std::path::Path;

/// Writes `data` to `path` atomically: a temporary file beside it, then a rename, so a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

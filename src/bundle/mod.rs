//! Run bundles, the source manifest with its Merkle tree, and the ledger (DESIGN.md §2.6).
//!
//! - [`merkle`]: the RFC 9162 Merkle Tree Hash with domain separation;
//! - [`manifest`]: the gitignore-aware, parallel source manifest (`manifest.json`);
//! - [`ledger`]: the hash-chained ledger of DSSE-signed events;
//! - [`redact`]: streaming secret redaction;
//! - [`exec`]: running the test command with a timeout and a redacted log;
//! - [`git`]: head SHA, changed files and diff stat;
//! - [`run`]: the run bundle (`bundle.json`, `summary.md`);
//! - [`seeds`]: the seeds a run used, read from its command line, environment and log;
//! - [`rerun`]: `run --rerun-failed`: rerunning failed tests and merging their results.

pub mod exec;
pub mod git;
pub mod ledger;
pub mod manifest;
pub mod merkle;
pub mod redact;
pub mod rerun;
pub mod run;
pub mod seeds;

//! `proofgate.lock`: the release gate that no longer depends on expiring artifacts.
//! Per script, the digests it was certified at and the proof that certifies it
//! ([`file`]); written by `lock update` only for proofs the gate lets through
//! ([`update`]); read back by `verify --release --lock`, which retrieves each pinned
//! proof by digest ([`fetch`]) and judges it ([`crate::verify::locked`]); checked
//! against the tree by `lint` ([`stale`]).

pub mod fetch;
pub mod file;
pub mod stale;
pub mod update;

pub use file::{
    ArtifactLocation, LOCK_FILE, LOCK_VERSION, Location, Lock, LockEntry, LockError, ShardEntry,
    StoreLocation,
};

//! Proof records, verdicts and their in-toto statements (DESIGN.md §2.3); the digests
//! they carry live in [`crate::digest`].
//!
//! - [`record`]: the proof (`proof-<ID>.json`) and its verdict, a pure function of the
//!   script's facts, its test cases and the run context;
//! - [`attest`]: the in-toto test-result statement for a proof and its DSSE envelope;
//! - [`identity`]: each test's descriptor and result hashes (replay, flakiness, lock);
//! - [`context`]: the run context from `GITHUB_*` variables (injected lookup);
//! - [`testpaths`]: the one reading of a script's declared test files and folders;
//! - [`generate`]: the library entry point behind `proofgate generate`.

pub mod attest;
pub mod context;
pub mod generate;
pub mod identity;
pub mod record;
pub mod testpaths;

pub use attest::{ProofStatement, ProofgateExtension};
pub use context::RunContext;
pub use record::{EvidenceLevel, FlakyPolicy, Proof, Reason, Verdict};

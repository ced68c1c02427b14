//! Proof records, verdicts, canonical JSON (RFC 8785) and digests (DESIGN.md §2.3).
//!
//! - [`record`]: the proof (`proof-<ID>.json`) and its verdict, a pure function of the
//!   script's facts, its test cases and the run context;
//! - [`attest`]: the in-toto test-result statement for a proof and its DSSE envelope;
//! - [`context`]: the run context from `GITHUB_*` variables (injected lookup);
//! - [`jcs`]: RFC 8785 canonical JSON, JSON digests and git blob ids;
//! - [`testpaths`]: the one reading of a script's declared test files and folders;
//! - [`generate`]: the library entry point behind `proofgate generate`.

pub mod attest;
pub mod context;
mod finite;
pub mod generate;
pub mod jcs;
pub mod record;
pub mod testpaths;

pub use attest::{ProofStatement, ProofgateExtension};
pub use context::RunContext;
pub use record::{EvidenceLevel, FlakyPolicy, Proof, Reason, Verdict};

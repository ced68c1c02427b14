//! `proofgate run --rerun-failed N`: after the command, the tests that failed are run
//! again, up to N times, and their results merged into the first run's.
//!
//! - [`plan`]: which tool ran (pytest, cargo-nextest, anything else) and the command
//!   line that reruns only the tests still failing (pure);
//! - [`merge`]: a rerun's results merged per test identity, by the counting rule (pure);
//! - [`attempts`]: the loop — run, collect each attempt's JUnit beside its log, merge.
//!
//! Guards: only tests that failed or errored are rerun; the number of reruns is capped
//! ([`MAX_RERUNS`]); a rerun that writes no JUnit, or no result for a test, leaves that
//! test's earlier failure standing; a rerun that times out ends the reruns.

pub mod attempts;
pub mod merge;
pub mod plan;

pub use attempts::{Attempt, RerunError, RerunNote, RerunRequest, Results, rerun};
pub use plan::Tool;

/// The most reruns `--rerun-failed` accepts.
pub const MAX_RERUNS: u32 = 10;

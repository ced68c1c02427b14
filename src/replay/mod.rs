//! `proofgate replay`'s pure core (DESIGN.md §2.7): a recorded run checked before it is
//! replayed, what the replay sets for the command, and the comparison of the recorded
//! and replayed runs with its report. The checkout, the command and the store are the
//! caller's (`src/cli/replay.rs`).
//!
//! - [`recorded`]: `bundle.json` and its proofs, each proof matched to its digest;
//! - [`plan`]: the variables the replayed command gets (redacted ones from the
//!   environment, never the marker);
//! - [`compare`]: test by test (`descriptor_hash` → `result_hash`) and environment by
//!   key, into the [`compare::ReplayReport`];
//! - [`render`]: the report as text.

pub mod compare;
pub mod plan;
pub mod recorded;
pub mod render;

//! The gate cannot be talked past by the change it judges: regression tests for the
//! trust findings, through the real binary, and the generate → verify property over
//! random repositories.

#[path = "trust/cli.rs"]
mod cli;
#[path = "trust/property.rs"]
mod property;
#[path = "trust/scenario.rs"]
mod scenario;

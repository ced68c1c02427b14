//! Attacks on the gate by the author of the change it judges, and by a hostile artifact,
//! each named for the finding it reproduces (issue 10): they fail without the defence.
//!
//! - finding 5: artifact names and zip entries used as paths;
//! - finding 6: untrusted text reaching the workflow log and the job summary;
//! - finding 7: selectors naming files outside the repository;
//! - finding 8: YAML built to exhaust the parser;
//! - finding 10: concurrent `ledger append`.

#[path = "artifact/common.rs"]
#[allow(dead_code)]
mod common;

#[path = "attacks/artifact_names.rs"]
mod artifact_names;
#[path = "attacks/helpers.rs"]
mod helpers;
#[path = "attacks/ledger.rs"]
mod ledger;
#[path = "attacks/log.rs"]
mod log;
#[path = "attacks/selectors.rs"]
mod selectors;
#[path = "attacks/yaml.rs"]
mod yaml;

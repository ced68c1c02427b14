//! proofgate: turn a CI test run into signed per-script proofs and gate merges and
//! releases on them.
//!
//! The library is a set of small modules, each with one job and a pure core; the
//! binary (`src/main.rs`) only parses flags, wires them together and maps errors to
//! exit codes.
//!
//! | module | job |
//! | --- | --- |
//! | [`junit`] | stream-parse JUnit XML into normalised test cases |
//! | [`model`] | scripts, headers, `proofgate.yaml`, selectors, the certification matrix |
//! | [`proof`] | proof records, verdicts, canonical JSON, digests |
//! | [`sign`] | keys, DSSE envelopes, in-toto statements |
//! | [`artifact`] | zip, the Actions artifact protocol, REST download |
//! | [`verify`] | the gate and its reports |
//! | [`demo`] | `proofgate demo`: an embedded example through generate and the gate |
//! | [`github`] | runner environment, job summary, annotations, outputs |
//! | [`bundle`] | run wrapper, source manifest, Merkle tree, ledger |
//! | [`pipeline`] | `proofgate run`: tests → proofs → manifest → bundle → ledger |
//! | [`replay`] | `proofgate replay`: a recorded run checked, compared test by test with its replay |
//! | [`fsutil`] | file writes with one stated crash guarantee each, safe joins, relative paths |
//! | [`flaky`] | tests whose results differ across runs of the same content |
//! | [`lock`] | `proofgate.lock`: the proof pinned per script for the release gate |
//! | [`store`] | the evidence store: runs kept per tenant in SQLite or PostgreSQL, its API and page |

pub mod artifact;
pub mod bundle;
pub mod demo;
pub mod digest;
pub mod env;
pub mod exit;
pub mod flaky;
pub mod fsutil;
pub mod github;
pub mod init;
pub mod junit;
pub mod lock;
pub mod model;
mod par;
pub mod pipeline;
pub mod proof;
pub mod replay;
pub mod sign;
pub mod store;
pub mod verify;

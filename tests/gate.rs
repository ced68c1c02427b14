//! Integration tests of the gate: `proofgate verify` and `demo` through the real binary,
//! the Action's node shim, the static build, the check run against wiremock, and the
//! whole pipeline on a real runner (act).

#[path = "gate/check_run.rs"]
mod check_run;
#[path = "gate/cli.rs"]
mod cli;
#[path = "gate/common.rs"]
mod common;
#[path = "gate/e2e.rs"]
mod e2e;
#[path = "gate/shim.rs"]
mod shim;
#[path = "gate/static_binary.rs"]
mod static_binary;
#[path = "gate/trust.rs"]
mod trust;

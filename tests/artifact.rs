//! Artifact transport: `proofgate upload` / `download` against wiremock (every fault
//! class), the official `@actions/artifact` client with a GitHub-semantics test server,
//! and `act`'s artifact server.

#[path = "artifact/common.rs"]
mod common;
#[path = "artifact/download_faults.rs"]
mod download_faults;
#[path = "artifact/library.rs"]
mod library;
#[path = "artifact/peers.rs"]
mod peers;
#[path = "artifact/rest.rs"]
mod rest;
#[path = "artifact/upload_faults.rs"]
mod upload_faults;

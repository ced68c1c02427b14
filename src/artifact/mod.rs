//! Moving proofs: zip, the Actions artifact protocol (v4) and REST download (DESIGN.md §2.4).
//!
//! - [`env`](mod@env): the runner environment the transport reads (injected, never global);
//! - [`http`]: the small HTTP client behind every call, with the retry policy;
//! - [`twirp`]: the results service's Twirp JSON calls and messages;
//! - [`zip`]: deterministic zipping of a folder and safe unzipping;
//! - [`upload`](mod@upload): `CreateArtifact` → blob blocks → `FinalizeArtifact`;
//! - [`download`](mod@download): same-run (Twirp) and cross-run (REST) download into a folder.

pub mod download;
pub mod env;
mod error;
pub mod http;
pub mod names;
mod rest;
pub mod twirp;
pub mod upload;
pub mod zip;

pub use download::{DownloadReport, DownloadRequest, Selector, Source, download};
pub use env::Env;
pub use error::ArtifactError;
pub use upload::{UploadReport, UploadRequest, upload};

//! The evidence store (DESIGN.md §2.7): published runs (bundle, proofs, envelopes,
//! manifest, ledger) kept per tenant in SQLite or PostgreSQL, past the expiry of the
//! artifacts they came in.
//!
//! | module | job |
//! | --- | --- |
//! | [`token`] | publish and read tokens: made random, stored as SHA-256, compared in constant time |
//! | [`wire`] | the binary publish body: length-prefixed files, no base64 |
//! | [`upload`] | the publish body and its check: every envelope and the ledger verified before anything is stored |
//! | [`schema`] | tables and migrations for both databases |
//! | [`db`] | the one database layer (tenants, keys, runs, proofs, files) |
//! | [`api`] | the HTTP API (`proofgate serve`) |
//! | [`serve`] | the connection loop: header-read timeout, idle keep-alive timeout, a cap on connections |
//! | [`html`] | the server-rendered run list and run detail page (the Proof tab) |
//! | [`openapi`] | the OpenAPI description of the API |
//! | [`client`] | `proofgate publish`: the upload over HTTP |

pub mod api;
pub mod client;
pub mod db;
mod error;
pub mod html;
pub mod openapi;
pub mod schema;
pub mod serve;
pub mod token;
pub mod upload;
pub mod wire;

pub use db::Store;
pub use error::StoreError;

//! Errors of the store's library layer.

use crate::exit::{ExitClass, Failure};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is neither `sqlite://…` nor `postgres://…`.
    #[error("database url `{0}` must start with `sqlite://` or `postgres://`")]
    BadUrl(String),
    /// The SQLite database file could not be created.
    #[error("cannot create database file `{path}`: {source}")]
    CreateFile {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A tenant name outside `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
    #[error("tenant name `{0}` must match `^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$`")]
    BadTenantName(String),
    /// The tenant exists already.
    #[error("tenant `{0}` exists already")]
    TenantExists(String),
    /// No such tenant.
    #[error("no tenant `{0}`")]
    NoTenant(String),
    /// A key that is not an ed25519 public key.
    #[error("`{0}` is not an ed25519 public key (PEM, base64 or hex)")]
    BadKey(String),
    /// The system's random source failed.
    #[error("the system random source failed")]
    Random,
    /// The database was migrated by a newer proofgate.
    #[error("the database has schema version {found}; this proofgate knows up to {known}")]
    SchemaTooNew {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
}

impl Failure for StoreError {
    fn exit_class(&self) -> ExitClass {
        match self {
            StoreError::BadUrl(_)
            | StoreError::BadTenantName(_)
            | StoreError::TenantExists(_)
            | StoreError::NoTenant(_)
            | StoreError::BadKey(_)
            | StoreError::SchemaTooNew { .. } => ExitClass::Usage,
            StoreError::CreateFile { .. } | StoreError::Db(_) | StoreError::Random => ExitClass::Io,
        }
    }
}

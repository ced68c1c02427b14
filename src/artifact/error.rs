//! The one error type of the transport.

use std::path::PathBuf;

/// Everything that can go wrong while moving artifacts.
///
/// [`ArtifactError::is_usage`] tells bad input (exit 2) from I/O and network failures that
/// retries did not cure (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A variable of the Actions runtime is missing.
    #[error(
        "`{var}` is not set: {why} (it reaches node and docker actions only; run proofgate through its action, or download another run with `--run-id` and `--github-token`)"
    )]
    MissingEnv {
        /// The variable.
        var: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
    /// The runtime token does not carry the backend ids.
    #[error(
        "failed to get backend ids: the `ACTIONS_RUNTIME_TOKEN` is invalid and/or missing claims ({0})"
    )]
    InvalidToken(String),
    /// An artifact name the service would reject.
    #[error("invalid artifact name `{name}`: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Any other bad input: flags, paths, patterns.
    #[error("{0}")]
    Usage(String),
    /// Nothing to upload.
    #[error(
        "no files to upload under `{0}` (hidden files are left out unless `--include-hidden-files`)"
    )]
    NoFiles(PathBuf),
    /// A local file-system operation failed.
    #[error("{doing}: {source}")]
    Io {
        /// What was being done, naming the path.
        doing: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP call failed for good (after retries when the failure was retryable).
    #[error("{doing} failed after {attempts} attempt(s): {detail}")]
    Http {
        /// What was being done.
        doing: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last HTTP status, if a response came back.
        status: Option<u16>,
        /// Status and body excerpt, or the transport error.
        detail: String,
    },
    /// `CreateArtifact` answered 409.
    #[error(
        "an artifact named `{name}` already exists in this workflow run ({detail}); every job, matrix shard and run attempt needs its own name: pass `--shard`/`--matrix` or a unique `--name`, or `--overwrite` to replace it"
    )]
    Conflict {
        /// The name.
        name: String,
        /// Status and body excerpt.
        detail: String,
    },
    /// The REST API answered 410 for the zip.
    #[error("artifact `{name}` (id {id}) has expired and can no longer be downloaded ({detail})")]
    Expired {
        /// The name.
        name: String,
        /// The artifact id.
        id: u64,
        /// Status and body excerpt.
        detail: String,
    },
    /// No artifact matched.
    #[error("no artifact matches {what} in {scope}")]
    NotFound {
        /// The name or pattern.
        what: String,
        /// Where it was looked for.
        scope: String,
    },
    /// The downloaded bytes do not have the digest the service gave.
    #[error(
        "digest mismatch for artifact `{name}`: the service says {expected}, the downloaded bytes are {actual}; nothing was written"
    )]
    DigestMismatch {
        /// The name.
        name: String,
        /// The digest the service gave.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The zip breaks a safety rule.
    #[error("refusing to unpack artifact `{name}`: {reason}; nothing was written")]
    UnsafeZip {
        /// The name.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// `--merge-multiple` found two different files at one path.
    #[error(
        "`{path}` is in both `{first}` and `{second}` with different content; nothing was written (download them into separate folders without `--merge-multiple`)"
    )]
    MergeConflict {
        /// The relative path.
        path: String,
        /// The first artifact.
        first: String,
        /// The second artifact.
        second: String,
    },
    /// A response was well formed HTTP but not what the protocol promises.
    #[error("{doing}: unexpected response: {detail}")]
    BadResponse {
        /// What was being done.
        doing: String,
        /// What was wrong.
        detail: String,
    },
}

impl ArtifactError {
    /// True for bad input (exit 2); false for I/O and network failures (exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::MissingEnv { .. }
                | Self::InvalidToken(_)
                | Self::InvalidName { .. }
                | Self::Usage(_)
                | Self::NoFiles(_)
        )
    }

    /// The HTTP status behind the error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => *status,
            Self::Conflict { .. } => Some(409),
            Self::Expired { .. } => Some(410),
            _ => None,
        }
    }

    pub(crate) fn io(doing: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            doing: doing.into(),
            source,
        }
    }
}

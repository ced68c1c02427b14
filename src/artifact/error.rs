//! The one error type of the transport.

use std::path::PathBuf;

use crate::github::untrusted;

/// Everything that can go wrong while moving artifacts.
///
/// [`ArtifactError::is_usage`] tells bad input (exit 2) from I/O and network failures that
/// retries did not cure (exit 3). Names, paths and response excerpts come from the
/// artifact service or the archive, so every message shows them escaped
/// ([`untrusted`]): none can start a line or a workflow command in the log.
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
    #[error("invalid artifact name `{}`: {reason}", untrusted(name))]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// An artifact name or zip entry that cannot be used as a path component.
    #[error(
        "refusing artifact `{}`: {reason}; nothing was written (an artifact's name becomes a folder under the download path)",
        untrusted(name)
    )]
    UnsafeName {
        /// The name as the service gave it.
        name: String,
        /// Why it cannot be a folder name.
        reason: String,
    },
    /// Any other bad input: flags, paths, patterns.
    #[error("{}", untrusted(.0))]
    Usage(String),
    /// Nothing to upload.
    #[error(
        "no files to upload under `{0}` (hidden files are left out unless `--include-hidden-files`)"
    )]
    NoFiles(PathBuf),
    /// A local file-system operation failed.
    #[error("{}: {source}", untrusted(doing))]
    Io {
        /// What was being done, naming the path.
        doing: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP call failed for good (after retries when the failure was retryable).
    #[error(
        "{} failed after {attempts} attempt(s): {}",
        untrusted(doing),
        untrusted(detail)
    )]
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
        "an artifact named `{}` already exists in this workflow run ({}); every job, matrix shard and run attempt needs its own name: pass `--shard`/`--matrix` or a unique `--name`, or `--overwrite` to replace it",
        untrusted(name),
        untrusted(detail)
    )]
    Conflict {
        /// The name.
        name: String,
        /// Status and body excerpt.
        detail: String,
    },
    /// The REST API answered 410 for the zip.
    #[error(
        "artifact `{}` (id {id}) has expired and can no longer be downloaded ({})",
        untrusted(name),
        untrusted(detail)
    )]
    Expired {
        /// The name.
        name: String,
        /// The artifact id.
        id: u64,
        /// Status and body excerpt.
        detail: String,
    },
    /// No artifact matched.
    #[error("no artifact matches {} in {}", untrusted(what), untrusted(scope))]
    NotFound {
        /// The name or pattern.
        what: String,
        /// Where it was looked for.
        scope: String,
    },
    /// The downloaded bytes do not have the digest the service gave.
    #[error(
        "digest mismatch for artifact `{}`: the service says {}, the downloaded bytes are {actual}; nothing was written",
        untrusted(name),
        untrusted(expected)
    )]
    DigestMismatch {
        /// The name.
        name: String,
        /// The digest the service gave.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The zip breaks a safety rule (bad input: exit 2).
    #[error(
        "refusing to unpack artifact `{}`: {}; nothing was written",
        untrusted(name),
        untrusted(reason)
    )]
    UnsafeZip {
        /// The name.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// `--merge-multiple` found two different files at one path.
    #[error(
        "`{}` is in both `{}` and `{}` with different content; nothing was written (download them into separate folders without `--merge-multiple`)",
        untrusted(path),
        untrusted(first),
        untrusted(second)
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
    #[error("{}: unexpected response: {}", untrusted(doing), untrusted(detail))]
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
                | Self::UnsafeName { .. }
                | Self::UnsafeZip { .. }
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

//! `bundle.json`'s `replay_of`: the recorded run a replay re-created.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;

/// The run a replay bundle re-created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayOf {
    /// The recorded run's id in the evidence store, when it was fetched from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// SHA-256 of the recorded `bundle.json`'s bytes.
    pub bundle_digest: Sha256Digest,
    /// The commit the recorded run ran at, checked out again for the replay.
    pub commit: String,
}

//! The GitHub Actions runner: environment, job summary, annotations and outputs.
//!
//! Everything here is pure: the environment is read through an injected lookup, and the
//! writers return text or append to a path the caller names. The platform limits they
//! respect are GitHub's (`research/junit-anchors.md` §1.8): 1 MiB of job summary per step,
//! 10 error and 10 warning annotations shown per step, 50 annotations per Checks API call.

pub mod annotations;
pub mod checks;
pub mod event;
pub mod log;
pub mod outputs;
pub mod summary;

pub use crate::env::RunnerEnv;
pub use annotations::{Annotation, Level, escape_data, escape_property, split_shown};
pub use log::{Fence, untrusted};
pub use outputs::{OutputError, format_output};
pub use summary::{SUMMARY_LIMIT, SummaryTable, escape_markdown, render_summary};

use std::io::Write;
use std::path::Path;

/// Appends `text` to the file at `path` (creating it), as the runner expects for
/// `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT`.
pub fn append_to(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.flush()
}

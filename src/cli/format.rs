//! The `--format` choice shared by the commands that print either text for a person or
//! one JSON document; each command's flag help says what the two contain for it.

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for a person: a table or aligned lines.
    Table,
    /// One JSON document on stdout.
    Json,
}

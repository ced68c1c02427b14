//! The exit class of a failure, decided where the error is made: the command-line
//! contract's exit codes are `2` for bad usage, configuration or input and `3` for an I/O
//! or network failure that retries did not cure. Each library error says which it is;
//! the binary maps the class to the code in one place.

/// Which side of the contract a failure falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// Exit 2: bad usage, configuration or input (the message says what to change).
    Usage,
    /// Exit 3: an I/O or network failure.
    Io,
}

impl ExitClass {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            ExitClass::Usage => 2,
            ExitClass::Io => 3,
        }
    }
}

/// An error that knows its exit class.
pub trait Failure: std::error::Error + Send + Sync + 'static {
    /// Usage (2) or I/O (3).
    fn exit_class(&self) -> ExitClass;
}

impl Failure for crate::proof::generate::GenerateError {
    fn exit_class(&self) -> ExitClass {
        if self.is_input_error() {
            ExitClass::Usage
        } else {
            ExitClass::Io
        }
    }
}

impl Failure for crate::bundle::manifest::ManifestError {
    fn exit_class(&self) -> ExitClass {
        if self.is_io() {
            ExitClass::Io
        } else {
            ExitClass::Usage
        }
    }
}

impl Failure for crate::artifact::ArtifactError {
    fn exit_class(&self) -> ExitClass {
        if self.is_usage() {
            ExitClass::Usage
        } else {
            ExitClass::Io
        }
    }
}

impl Failure for crate::verify::pipeline::VerifyError {
    fn exit_class(&self) -> ExitClass {
        if self.is_usage() {
            ExitClass::Usage
        } else {
            ExitClass::Io
        }
    }
}

impl Failure for crate::junit::JunitError {
    fn exit_class(&self) -> ExitClass {
        if self.is_io() {
            ExitClass::Io
        } else {
            ExitClass::Usage
        }
    }
}

impl Failure for crate::bundle::ledger::LedgerError {
    fn exit_class(&self) -> ExitClass {
        use crate::bundle::ledger::LedgerError;
        match self {
            LedgerError::Io { .. } | LedgerError::Random | LedgerError::Locked { .. } => {
                ExitClass::Io
            }
            _ => ExitClass::Usage,
        }
    }
}

impl Failure for crate::model::ModelError {
    fn exit_class(&self) -> ExitClass {
        match self {
            crate::model::ModelError::Io { .. } => ExitClass::Io,
            _ => ExitClass::Usage,
        }
    }
}

/// As `proofgate run` has always classed them: a ledger that cannot be continued for any
/// cause but I/O is a usage error, whatever the ledger's own commands say.
impl Failure for crate::pipeline::RunError {
    fn exit_class(&self) -> ExitClass {
        use crate::bundle::{exec::ExecError, ledger::LedgerError};
        use crate::pipeline::RunError;
        match self {
            RunError::CreateDir { .. }
            | RunError::Read { .. }
            | RunError::Write { .. }
            | RunError::Json(_)
            | RunError::Exec(ExecError::Io { .. })
            | RunError::Ledger(LedgerError::Io { .. }) => ExitClass::Io,
            RunError::Generate(e) => e.exit_class(),
            RunError::Manifest(e) => e.exit_class(),
            RunError::Exec(_)
            | RunError::Shard(_)
            | RunError::Git(_)
            | RunError::LedgerOpen { .. }
            | RunError::Ledger(_) => ExitClass::Usage,
        }
    }
}

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

/// A ledger that exists but cannot be continued is a usage error (move it away or pass
/// `--no-ledger`); an append that fails is classed as the ledger's own commands class it
/// (I/O, a lock held by another append, or no randomness: exit 3).
impl Failure for crate::pipeline::RunError {
    fn exit_class(&self) -> ExitClass {
        use crate::bundle::exec::ExecError;
        use crate::bundle::rerun::RerunError;
        use crate::pipeline::RunError;
        match self {
            RunError::CreateDir { .. }
            | RunError::Read { .. }
            | RunError::Write { .. }
            | RunError::Json(_)
            | RunError::Exec(ExecError::Io { .. })
            | RunError::Rerun(RerunError::Exec(ExecError::Io { .. }))
            | RunError::Rerun(
                RerunError::CreateDir { .. } | RerunError::Move { .. } | RerunError::Remove { .. },
            ) => ExitClass::Io,
            RunError::Generate(e) => e.exit_class(),
            RunError::Ledger(e) => e.exit_class(),
            RunError::Manifest(e) => e.exit_class(),
            RunError::Exec(_)
            | RunError::Rerun(RerunError::Exec(_))
            | RunError::Shard(_)
            | RunError::Git(_)
            | RunError::LedgerOpen { .. } => ExitClass::Usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::ledger::LedgerError;
    use crate::pipeline::RunError;
    use std::path::PathBuf;

    #[test]
    fn run_classes_a_ledger_append_as_the_ledger_commands_do() {
        let locked = || LedgerError::Locked {
            path: PathBuf::from("ledger.jsonl"),
            lock: PathBuf::from("ledger.jsonl.lock"),
        };
        assert_eq!(locked().exit_class(), ExitClass::Io);
        assert_eq!(RunError::Ledger(locked()).exit_class(), ExitClass::Io);
        let opened = RunError::LedgerOpen {
            path: PathBuf::from("ledger.jsonl"),
            source: locked(),
        };
        assert_eq!(
            opened.exit_class(),
            ExitClass::Usage,
            "move it away: a usage error"
        );
    }
}

//! The `proofgate` binary: parses flags, calls the library, maps errors to exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

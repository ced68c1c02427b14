//! The `proofgate` binary: parses flags, calls the library, maps errors to exit codes.

mod cli;

/// musl's allocator serialises threads and returns memory eagerly (a `verify` of 10,000
/// proofs spent more than half its time in it); the static build uses mimalloc instead.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}

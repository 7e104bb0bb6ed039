//! The `tfmono` binary: parses the command line, runs the command, maps the result to an exit code.

mod cli;

/// mimalloc: tfmono allocates and frees many small buffers (one per commit and tree); the
/// system allocator spent ~15% of a big import in malloc/free and page faults.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::main(args)
}

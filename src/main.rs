//! The `tfmono` binary: parses the command line, runs the command, maps the result to an exit code.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::main(args)
}

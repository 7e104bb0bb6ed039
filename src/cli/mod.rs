//! The command line: clap types, the dispatch match and the mapping of errors to exit codes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Move Terraform code from many small git repos into three monorepos.
#[derive(Debug, Parser)]
#[command(name = "tfmono", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {}
}

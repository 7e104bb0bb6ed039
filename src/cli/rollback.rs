//! `tfmono rollback --out DIR`: runs the `rollback.sh` that `apply` wrote, after checking the
//! directory is tfmono's; `--state` also rolls back Terraform state moves.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use clap::Args;
use tfmono::rollback;

use super::Ui;

/// Arguments of `tfmono rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The output directory `apply` wrote.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also run `state/rollback-all.sh` (only if you ran the state migration).
    #[arg(long)]
    pub state: bool,
}

/// Runs `tfmono rollback`.
pub fn run(args: &RollbackArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let RollbackArgs { out, state } = args;
    if rollback::load(out)?.is_none() {
        bail!(
            "{} holds no tfmono journal ({}): nothing to roll back",
            out.display(),
            rollback::journal_path(out).display()
        );
    }
    // The same lock apply takes: no rollback under a running apply (or another rollback).
    let _lock = rollback::lock_output(out)?;
    let script = out.join("rollback.sh");
    let status = Command::new("bash")
        .arg(&script)
        .env("ROLLBACK_STATE", if *state { "1" } else { "0" })
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!(
            "{} failed ({status}); fix what it printed and run it again (it is re-runnable)",
            script.display()
        );
    }
    ui.status(format!("Rolled back {}", out.display()));
    Ok(ExitCode::SUCCESS)
}

//! `tfmono rollback --out DIR`: runs the `rollback.sh` that `apply` wrote, after checking the
//! directory is tfmono's; `--state` also rolls back Terraform state moves.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use clap::Args;
use tfmono::outdir;

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
    /// With --state: where the monorepo checkouts are (`DIR/<monorepo>`), when not where
    /// `apply --monorepos` said (sets `MONOREPOS` for the state scripts).
    #[arg(long, value_name = "DIR", requires = "state")]
    pub monorepos: Option<PathBuf>,
    /// Roll back even though monorepo refs moved since the last apply (work made in the
    /// monorepos); those refs are first saved to `DIR/rollback-saved-<monorepo>.bundle`.
    #[arg(long)]
    pub force: bool,
}

/// Runs `tfmono rollback`.
pub fn run(args: &RollbackArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let RollbackArgs {
        out,
        state,
        monorepos,
        force,
    } = args;
    let Some(journal) = outdir::load(out)? else {
        bail!(
            "{} holds no tfmono journal ({}): nothing to roll back",
            out.display(),
            outdir::journal_path(out).display()
        );
    };
    // The same lock apply takes: no rollback under a running apply (or another rollback).
    let _lock = outdir::lock_output(out)?;
    let moved = outdir::moved_since_apply(out, &journal)?;
    if !moved.is_empty() && !force {
        let list: Vec<String> = moved
            .iter()
            .map(|m| format!("{}: {}", m.monorepo, m.refs.join(", ")))
            .collect();
        bail!(
            "refusing to roll back: refs moved or were created in the monorepos since the last apply, and rollback would lose that work ({}); push or save them first, or run `tfmono rollback --force`, which saves them to {}/rollback-saved-<monorepo>.bundle before rolling back",
            list.join("; "),
            out.display()
        );
    }
    for m in &moved {
        let bundle = out.join(format!("rollback-saved-{}.bundle", m.monorepo));
        let status = Command::new("git")
            .arg("--git-dir")
            .arg(&m.dir)
            .args(["bundle", "create", "-q"])
            .arg(&bundle)
            .args(&m.refs)
            .status()
            .with_context(|| format!("running git bundle create for {}", m.monorepo))?;
        if !status.success() {
            bail!(
                "saving the moved refs of {} to {} failed ({status}); nothing was rolled back",
                m.monorepo,
                bundle.display()
            );
        }
        ui.status(format!(
            "saved {} ref(s) of {} made since the last apply to {} (restore with `git fetch {} 'refs/*:refs/*'`)",
            m.refs.len(),
            m.monorepo,
            bundle.display(),
            bundle.display()
        ));
    }
    let script = out.join(outdir::ROLLBACK_SCRIPT);
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .env("ROLLBACK_STATE", if *state { "1" } else { "0" });
    if let Some(dir) = monorepos {
        let dir = std::path::absolute(dir).context("making --monorepos absolute")?;
        cmd.env("MONOREPOS", dir);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!(
            "{} failed ({status}); fix what it printed and run it again (it is re-runnable)",
            script.display()
        );
    }
    outdir::forget_applied(out)?;
    ui.status(format!("Rolled back {}", out.display()));
    Ok(ExitCode::SUCCESS)
}

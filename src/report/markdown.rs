//! The Markdown report, ready to paste into the migration pull request.

use std::io::{self, Write};

use super::totals;
use crate::plan::Plan;
use crate::redact;

pub(super) fn render(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    let t = totals(plan);
    writeln!(out, "# tfmono migration plan")?;
    writeln!(out)?;
    writeln!(
        out,
        "{} legacy repos, {} commits, {} branches and {} tags into {} monorepos. Plan fingerprint `{}`.",
        t.repos,
        t.commits,
        t.branches,
        t.tags,
        plan.monorepos.len(),
        &plan.fingerprint[..12.min(plan.fingerprint.len())]
    )?;
    for mono in &plan.monorepos {
        writeln!(out)?;
        writeln!(out, "## `{}` ({})", mono.name, redact::url(&mono.url))?;
        writeln!(out)?;
        writeln!(
            out,
            "| path | legacy repo | default branch | commits | branches | tags |"
        )?;
        writeln!(out, "|---|---|---|---:|---:|---:|")?;
        for i in &mono.imports {
            writeln!(
                out,
                "| `{}/` | {} | `{}` | {} | {} | {} |",
                i.path,
                i.repo,
                i.default_branch,
                i.commits,
                i.branches.len(),
                i.tags.len()
            )?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Warnings")?;
        writeln!(out)?;
        for w in &plan.warnings {
            writeln!(out, "- **{}**: {}", w.subject, redact::text(&w.message))?;
        }
    }
    Ok(())
}

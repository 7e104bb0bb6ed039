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
                "| `{}/` | {} | {} | {} | {} | {} |",
                i.path,
                i.repo,
                i.default_branch
                    .as_ref()
                    .map_or("none: tags only".to_string(), |b| format!("`{b}`")),
                i.commits,
                i.branches.len(),
                i.tags.len()
            )?;
        }
    }
    for mono in plan.monorepos.iter().filter(|m| !m.files.is_empty()) {
        writeln!(out)?;
        writeln!(out, "## Module sources in `{}`", mono.name)?;
        writeln!(out)?;
        writeln!(out, "| file:line | before | after | notes |")?;
        writeln!(out, "|---|---|---|---|")?;
        for f in &mono.files {
            for r in &f.rewrites {
                writeln!(
                    out,
                    "| `{}:{}` | `{}` | `{}` | {} |",
                    f.path,
                    r.line,
                    r.old,
                    r.new,
                    r.notes.join("; ")
                )?;
            }
            for e in &f.edits {
                writeln!(out, "| `{}` | | | {} |", f.path, e)?;
            }
        }
        let left: Vec<_> = mono
            .files
            .iter()
            .flat_map(|f| f.left_alone.iter().map(move |l| (f, l)))
            .collect();
        if !left.is_empty() {
            writeln!(out)?;
            writeln!(out, "Left alone:")?;
            writeln!(out)?;
            for (f, l) in left {
                let flag = if l.attention {
                    " **needs attention**"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "- `{}:{}` `{}`: {}{flag}",
                    f.path, l.line, l.source, l.reason
                )?;
            }
        }
    }
    for mono in plan.monorepos.iter().filter(|m| !m.unparsed.is_empty()) {
        writeln!(out)?;
        writeln!(out, "## Files not parsed in `{}`", mono.name)?;
        writeln!(out)?;
        writeln!(
            out,
            "Left unchanged (templates, test fixtures, files Terraform would refuse)."
        )?;
        writeln!(out)?;
        writeln!(out, "| repo | files | mentioning a migrated repo |")?;
        writeln!(out, "|---|---:|---:|")?;
        let mut repos: Vec<&str> = mono.unparsed.iter().map(|u| u.repo.as_str()).collect();
        repos.dedup();
        for repo in repos {
            let list: Vec<_> = mono.unparsed.iter().filter(|u| u.repo == repo).collect();
            let flagged = list.iter().filter(|u| u.needs_attention()).count();
            writeln!(out, "| `{repo}` | {} | {flagged} |", list.len())?;
        }
    }
    let attention = plan.needs_attention();
    if !attention.is_empty() {
        writeln!(out)?;
        writeln!(out, "## Needs attention")?;
        writeln!(out)?;
        for a in &attention {
            writeln!(out, "- `{}`: {}", a.place, a.what.replace('`', "'"))?;
        }
    }
    for mono in plan.monorepos.iter().filter(|m| !m.tag_rewrites.is_empty()) {
        writeln!(out)?;
        writeln!(out, "## Tags with rewritten sources in `{}`", mono.name)?;
        writeln!(out)?;
        writeln!(out, "Each tag points at a \"Rewrite module sources for <tag>\" commit whose parent is the unchanged image.")?;
        writeln!(out)?;
        for t in &mono.tag_rewrites {
            let n: usize = t.files.iter().map(|f| f.rewrites.len()).sum();
            let files: Vec<String> = t.files.iter().map(|f| format!("`{}`", f.path)).collect();
            let tag = t.tag.strip_prefix("refs/tags/").unwrap_or(&t.tag);
            writeln!(out, "- `{tag}`: {n} source(s) in {}", files.join(", "))?;
        }
    }
    if !plan.state.roots.is_empty() {
        writeln!(out)?;
        writeln!(out, "## State moves")?;
        writeln!(out)?;
        writeln!(out, "| root | from | to | instances |")?;
        writeln!(out, "|---|---|---|---:|")?;
        for root in &plan.state.roots {
            for m in &root.moves {
                let from = match &m.from_state {
                    Some(src) => format!("{src}: `{}`", m.from),
                    None => format!("`{}`", m.from),
                };
                let n = m
                    .instances
                    .map_or("unchecked".to_string(), |n| n.to_string());
                writeln!(out, "| `{}` | {from} | `{}` | {n} |", root.root, m.to)?;
            }
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

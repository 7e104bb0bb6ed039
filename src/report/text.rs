//! The text report: per monorepo, which legacy repo lands where, with refs and counts.

use std::io::{self, Write};

use super::totals;
use crate::plan::{Plan, MAIN_BRANCH};
use crate::redact;

struct Paint(bool);

impl Paint {
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub(super) fn render(plan: &Plan, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint(color);
    let t = totals(plan);
    writeln!(
        out,
        "{} {} legacy repos, {} commits, {} branches, {} tags into {} monorepos",
        p.bold("Plan:"),
        t.repos,
        t.commits,
        t.branches,
        t.tags,
        plan.monorepos.len()
    )?;
    for mono in &plan.monorepos {
        let commits: usize = mono.imports.iter().map(|i| i.commits).sum();
        writeln!(out)?;
        writeln!(
            out,
            "{} {}  {}",
            p.bold(&format!("monorepo {}", mono.name)),
            p.dim(&redact::url(&mono.url)),
            p.dim(&format!(
                "({} repos, {commits} commits -> {})",
                mono.imports.len(),
                mono.dir
            ))
        )?;
        let width = mono.imports.iter().map(|i| i.path.len()).max().unwrap_or(0);
        for i in &mono.imports {
            writeln!(
                out,
                "  {:<width$}  <- {}  {}",
                p.green(&format!("{}/", i.path)),
                i.repo,
                p.dim(&match &i.default_branch {
                    Some(b) => format!("{} commits, {b} -> {MAIN_BRANCH}", i.commits),
                    None => format!("{} commits, no branch: tags only", i.commits),
                }),
                width = width + 1 + if color { 9 } else { 0 },
            )?;
            let annotated = i.tags.iter().filter(|t| t.annotated).count();
            if !i.tags.is_empty() {
                // Lowest and highest in version order (`v9.9.0` < `v10.0.0`), not text order.
                let first = i
                    .tags
                    .iter()
                    .min_by(|a, b| natural_cmp(&a.to, &b.to))
                    .map(|t| short(&t.to))
                    .unwrap_or_default();
                let last = i
                    .tags
                    .iter()
                    .max_by(|a, b| natural_cmp(&a.to, &b.to))
                    .map(|t| short(&t.to))
                    .unwrap_or_default();
                let range = if i.tags.len() == 1 {
                    first.to_string()
                } else {
                    format!("{first} .. {last}")
                };
                writeln!(
                    out,
                    "  {:width$}     tags: {} ({annotated} annotated) as {range}",
                    "",
                    i.tags.len(),
                    width = width + 1
                )?;
            }
            let extra: Vec<&str> = i.branches.iter().skip(1).map(|b| short(&b.to)).collect();
            if let Some(default) = i.branches.first() {
                writeln!(
                    out,
                    "  {:width$}     import ref: {}",
                    "",
                    short(&default.to),
                    width = width + 1
                )?;
            }
            if !extra.is_empty() {
                writeln!(
                    out,
                    "  {:width$}     branches: {}",
                    "",
                    extra.join(", "),
                    width = width + 1
                )?;
            }
        }
    }
    for mono in plan.monorepos.iter().filter(|m| !m.files.is_empty()) {
        let changed = mono.files.iter().filter(|f| f.content.is_some()).count();
        let rewrites: usize = mono.files.iter().map(|f| f.rewrites.len()).sum();
        writeln!(out)?;
        writeln!(
            out,
            "{} {}",
            p.bold(&format!("sources in {}:", mono.name)),
            p.dim(&if changed == 0 {
                format!("{rewrites} rewritten: no file changes, no commit")
            } else {
                format!(
                    "{rewrites} rewritten in {changed} file(s), one commit \"Rewrite module sources to monorepos\" on {MAIN_BRANCH}"
                )
            })
        )?;
        for f in &mono.files {
            for r in &f.rewrites {
                writeln!(out, "  {}:{}", f.path, r.line)?;
                writeln!(out, "      {}", p.dim(&format!("- {}", r.old)))?;
                writeln!(out, "      {}", p.green(&format!("+ {}", r.new)))?;
                for n in &r.notes {
                    writeln!(out, "      {}", p.yellow(&format!("! {n}")))?;
                }
            }
            for e in &f.edits {
                writeln!(out, "  {}: {}", f.path, e)?;
            }
            for l in &f.left_alone {
                let line = format!(
                    "  {}:{}  left alone ({}): {}",
                    f.path, l.line, l.reason, l.source
                );
                if l.attention {
                    writeln!(out, "{}", p.yellow(&line))?;
                } else {
                    writeln!(out, "{}", p.dim(&line))?;
                }
            }
        }
    }
    for mono in plan.monorepos.iter().filter(|m| !m.unparsed.is_empty()) {
        unparsed(out, &p, mono)?;
    }
    for mono in plan.monorepos.iter().filter(|m| !m.tag_rewrites.is_empty()) {
        writeln!(out)?;
        writeln!(
            out,
            "{} {}",
            p.bold(&format!("tags in {} with rewritten sources:", mono.name)),
            p.dim("each points at a \"Rewrite module sources for <tag>\" commit on top of the unchanged image")
        )?;
        for t in &mono.tag_rewrites {
            let n: usize = t.files.iter().map(|f| f.rewrites.len()).sum();
            let files: Vec<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
            writeln!(
                out,
                "  {}  {n} source(s) in {}",
                short(&t.tag),
                files.join(", ")
            )?;
        }
    }
    if !plan.state.roots.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", p.bold("state moves:"))?;
        for root in &plan.state.roots {
            let checked = match root.check {
                crate::state::plan::Check::Checked => "checked against its snapshot",
                crate::state::plan::Check::Unchecked => "UNCHECKED (no --states snapshot)",
            };
            let style = match root.style {
                crate::state::Style::StateMv => "state mv scripts",
                crate::state::Style::MovedBlocks => "moved blocks (cross-state moves: scripts)",
            };
            writeln!(
                out,
                "  {}  {}",
                root.root,
                p.dim(&format!("{style}; {checked}"))
            )?;
            for m in &root.moves {
                let from = match &m.from_state {
                    Some(src) => format!("{src}: {}", m.from),
                    None => m.from.to_string(),
                };
                let carries = m
                    .instances
                    .map(|n| format!(" ({n} instance(s))"))
                    .unwrap_or_default();
                writeln!(out, "    {from} -> {}{carries}", m.to)?;
            }
            if let Some(k) = &root.key_change {
                writeln!(
                    out,
                    "    backend key {} -> {} ({:?})",
                    k.old_key, k.new_key, root.backend_mode
                )?;
            }
        }
        if plan.state.roots.iter().any(|r| r.needs_script()) {
            writeln!(out, "  {}", p.dim("scripts: <out>/state/migrate-all.sh and rollback-all.sh (DRY_RUN=1 to rehearse)"))?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            p.yellow(&format!("{} warning(s):", plan.warnings.len()))
        )?;
        for w in &plan.warnings {
            writeln!(out, "  - {}: {}", w.subject, redact::text(&w.message))?;
        }
    }
    let attention = plan.needs_attention();
    if !attention.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            p.yellow(&format!(
                "{} item(s) need attention (left unchanged; --strict refuses the plan):",
                attention.len()
            ))
        )?;
        for a in &attention {
            writeln!(out, "  - {}: {}", a.place, a.what)?;
        }
    }
    Ok(())
}

/// How many example paths a repo's unparsed files show.
const UNPARSED_EXAMPLES: usize = 3;

/// Files that do not parse, grouped per repo: counts, a few examples, every file that
/// mentions a migrated repo.
fn unparsed(
    out: &mut dyn Write,
    p: &Paint,
    mono: &crate::plan::MonorepoPlan,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{} {}",
        p.bold(&format!("files not parsed in {}:", mono.name)),
        p.dim("left unchanged (templates, test fixtures, files Terraform would refuse)")
    )?;
    let mut by_repo: Vec<(&str, Vec<&crate::plan::UnparsedFile>)> = Vec::new();
    for u in &mono.unparsed {
        match by_repo.iter_mut().find(|(r, _)| *r == u.repo) {
            Some((_, list)) => list.push(u),
            None => by_repo.push((&u.repo, vec![u])),
        }
    }
    for (repo, list) in by_repo {
        let flagged = list.iter().filter(|u| u.needs_attention()).count();
        writeln!(
            out,
            "  {repo}: {} file(s){}",
            list.len(),
            if flagged > 0 {
                format!(", {flagged} mention a migrated repo (needs attention)")
            } else {
                String::new()
            }
        )?;
        for u in list
            .iter()
            .filter(|u| !u.needs_attention())
            .take(UNPARSED_EXAMPLES)
        {
            let line = format!(
                "    {} ({}; at {})",
                u.path,
                u.message,
                crate::plan::summarize_refs(&u.at)
            );
            writeln!(out, "{}", p.dim(&line))?;
        }
        let quiet = list.iter().filter(|u| !u.needs_attention()).count();
        if quiet > UNPARSED_EXAMPLES {
            writeln!(
                out,
                "{}",
                p.dim(&format!("    … and {} more", quiet - UNPARSED_EXAMPLES))
            )?;
        }
        for u in list.iter().filter(|u| u.needs_attention()) {
            let line = format!(
                "    {} ({}; at {})",
                u.path,
                u.message,
                crate::plan::summarize_refs(&u.at)
            );
            writeln!(out, "{}", p.yellow(&line))?;
            for m in &u.mentions {
                writeln!(
                    out,
                    "{}",
                    p.yellow(&format!("      line {}: {}", m.line, m.text))
                )?;
            }
        }
    }
    Ok(())
}

/// Compares `a` and `b` with runs of digits compared as numbers (`v9.9.0` < `v10.0.0`),
/// then as text.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            let digit = c.is_ascii_digit();
            let len = rest
                .find(|ch: char| ch.is_ascii_digit() != digit)
                .unwrap_or(rest.len());
            out.push((digit, &rest[..len]));
            rest = &rest[len..];
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord.is_ne() {
            return ord;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

fn short(r: &str) -> &str {
    r.strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/tags/"))
        .unwrap_or(r)
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn tags_compare_in_version_order() {
        assert_eq!(natural_cmp("iam/v9.9.0", "iam/v10.0.0"), Less);
        assert_eq!(natural_cmp("v1.10.0", "v1.9.0"), Greater);
        assert_eq!(natural_cmp("v1.0.0", "v1.0.0"), Equal);
        assert_eq!(natural_cmp("v01", "v1"), Less);
        assert_eq!(natural_cmp("v1.0.0", "v1.0.0-rc1"), Less);
        assert_eq!(natural_cmp("a", "b"), Less);
    }
}

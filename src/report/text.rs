//! The text report: a summary that fits one screen, then the detail, grouped. Every line
//! fits [`WIDTH`] columns: long sources are shortened in the middle, long messages wrapped.

use std::io::{self, Write};

use super::group::{self, short};
use super::summary::{summarize, Summary};
use crate::plan::{MonorepoPlan, Plan, MAIN_BRANCH};
use crate::redact;

/// The widest line the report prints.
pub(crate) const WIDTH: usize = 100;

/// How many needs-attention items the summary lists (all are listed at the end).
const SUMMARY_ATTENTION: usize = 12;

/// How many example paths a repo's unparsed files show.
const UNPARSED_EXAMPLES: usize = 3;

/// How many runs of tags a collapsed tag change shows.
const TAG_RUNS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Dim,
    Yellow,
    Green,
}

/// Writes lines no wider than [`WIDTH`], painted when colours are on.
struct Out<'w> {
    w: &'w mut dyn Write,
    color: bool,
}

impl Out<'_> {
    fn paint(&self, style: Style, s: &str) -> String {
        let code = match style {
            Style::Plain => return s.to_string(),
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Yellow => "33",
            Style::Green => "32",
        };
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn blank(&mut self) -> io::Result<()> {
        writeln!(self.w)
    }

    /// One line, cut at the end with `…` if too wide.
    fn line(&mut self, style: Style, s: &str) -> io::Result<()> {
        let s = fit_end(&one_line(s), WIDTH);
        writeln!(self.w, "{}", self.paint(style, &s))
    }

    /// A heading in bold followed by a dim remark, on the next lines when it does not fit.
    fn heading(&mut self, title: &str, remark: &str) -> io::Result<()> {
        if title.chars().count() + 1 + remark.chars().count() <= WIDTH {
            let sep = if remark.is_empty() { "" } else { " " };
            return writeln!(
                self.w,
                "{}{sep}{}",
                self.paint(Style::Bold, title),
                self.paint(Style::Dim, remark)
            );
        }
        writeln!(self.w, "{}", self.paint(Style::Bold, title))?;
        self.wrapped(Style::Dim, 2, remark)
    }

    /// `s` wrapped to the width, continuation lines indented by `indent` + 2.
    fn wrapped(&mut self, style: Style, indent: usize, s: &str) -> io::Result<()> {
        for l in wrap(&one_line(s), WIDTH, indent) {
            writeln!(self.w, "{}", self.paint(style, &l))?;
        }
        Ok(())
    }
}

/// `s` with its line breaks shown as ` ⏎ ` (a heredoc stays on its report line).
fn one_line(s: &str) -> String {
    if s.contains('\n') {
        s.lines().map(str::trim).collect::<Vec<_>>().join(" ⏎ ")
    } else {
        s.to_string()
    }
}

/// `s` cut to `width` characters, ending with `…` when cut.
pub(crate) fn fit_end(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` cut to `width` characters by replacing its middle with `…` (a source keeps its
/// host and its `?ref=`).
pub(crate) fn fit_middle(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width || width < 5 {
        return fit_end(s, width);
    }
    let head = (width - 1) * 2 / 5;
    let tail = width - 1 - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// `s` (prefixed by `indent` spaces) in lines of at most `width` characters, broken at
/// spaces when possible; continuation lines are indented by `indent + 2`.
pub(crate) fn wrap(s: &str, width: usize, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pad = " ".repeat(indent);
    let mut rest: Vec<char> = s.chars().collect();
    loop {
        let room = width.saturating_sub(pad.chars().count()).max(10);
        if rest.len() <= room {
            lines.push(format!("{pad}{}", rest.iter().collect::<String>()));
            return lines;
        }
        let cut = rest[..=room]
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|&i| i > room / 2)
            .unwrap_or(room);
        let head: String = rest[..cut].iter().collect();
        lines.push(format!("{pad}{}", head.trim_end()));
        rest = rest[cut..].to_vec();
        while rest.first() == Some(&' ') {
            rest.remove(0);
        }
        pad = " ".repeat(indent + 2);
    }
}

pub(super) fn render(
    plan: &Plan,
    color: bool,
    verbose: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut o = Out { w: out, color };
    let s = summarize(plan);
    summary(&mut o, &s)?;
    imports(&mut o, plan)?;
    for mono in plan.monorepos.iter().filter(|m| !m.files.is_empty()) {
        sources(&mut o, mono, verbose)?;
    }
    for mono in plan.monorepos.iter().filter(|m| !m.unparsed.is_empty()) {
        unparsed(&mut o, mono)?;
    }
    for mono in plan.monorepos.iter().filter(|m| !m.tag_rewrites.is_empty()) {
        tag_changes(&mut o, mono)?;
    }
    root_only(&mut o, plan, &s)?;
    state(&mut o, plan)?;
    if !plan.warnings.is_empty() {
        o.blank()?;
        o.line(
            Style::Yellow,
            &format!("{} warning(s):", plan.warnings.len()),
        )?;
        for w in &plan.warnings {
            let text = format!("- {}: {}", w.subject, redact::text(&w.message));
            o.wrapped(Style::Plain, 2, &text)?;
        }
    }
    if !s.needs_attention.is_empty() {
        o.blank()?;
        o.line(
            Style::Yellow,
            &format!(
                "{} item(s) need attention (left unchanged; --strict refuses the plan):",
                s.needs_attention.len()
            ),
        )?;
        for a in plan.needs_attention() {
            o.wrapped(Style::Plain, 2, &format!("- {}: {}", a.place, a.what))?;
        }
    }
    Ok(())
}

/// The summary: one screen at most.
fn summary(o: &mut Out<'_>, s: &Summary) -> io::Result<()> {
    o.line(
        Style::Bold,
        &format!(
            "Plan: {} legacy repos, {} commits, {} branches, {} tags into {} monorepos",
            s.repos, s.commits, s.branches, s.tags, s.monorepos
        ),
    )?;
    let row = |label: &str, text: String| format!("  {label:<15} {text}");
    let mut rows = vec![row(
        "sources",
        format!(
            "{} rewritten in {} file(s) on {MAIN_BRANCH}",
            s.rewrites, s.files_changed
        ),
    )];
    if s.tags_rewritten > 0 {
        rows.push(row(
            "tags",
            format!(
                "{} tag(s) get a rewrite commit: {} distinct change(s)",
                s.tags_rewritten, s.tag_changes
            ),
        ));
    }
    if s.left_alone > 0 {
        rows.push(row(
            "left alone",
            format!(
                "{} source(s): local paths, external repos (counted per repo below)",
                s.left_alone
            ),
        ));
    }
    if s.unparsed > 0 {
        rows.push(row(
            "not parsed",
            format!(
                "{} file(s): templates, test fixtures (imported unchanged)",
                s.unparsed
            ),
        ));
    }
    if s.state_moves > 0 || s.key_changes > 0 {
        rows.push(row(
            "state",
            format!(
                "{} move(s) in {} root(s); {} backend key(s) would change",
                s.state_moves, s.state_roots, s.key_changes
            ),
        ));
    }
    if s.root_only > 0 {
        rows.push(row(
            "root-only files",
            format!(
                "{} in {} repo(s) stop working under their path (CI, CODEOWNERS, …: see below)",
                s.root_only, s.root_only_repos,
            ),
        ));
    }
    rows.push(row(
        "warnings",
        format!("{} (listed at the end)", s.warnings),
    ));
    for r in rows {
        o.line(Style::Plain, &r)?;
    }
    if s.needs_attention.is_empty() {
        o.line(Style::Green, &row("needs attention", "nothing".into()))?;
    } else {
        o.line(
            Style::Yellow,
            &row(
                "needs attention",
                format!(
                    "{} item(s), left unchanged (--strict refuses the plan):",
                    s.needs_attention.len()
                ),
            ),
        )?;
        for a in s.needs_attention.iter().take(SUMMARY_ATTENTION) {
            o.line(Style::Yellow, &format!("    {}", a.place))?;
            o.line(Style::Plain, &format!("      {}: {}", a.why, a.text))?;
        }
        if s.needs_attention.len() > SUMMARY_ATTENTION {
            o.line(
                Style::Yellow,
                &format!(
                    "    … and {} more, all listed at the end",
                    s.needs_attention.len() - SUMMARY_ATTENTION
                ),
            )?;
        }
    }
    Ok(())
}

/// Per monorepo, which legacy repo lands where, with refs and counts.
fn imports(o: &mut Out<'_>, plan: &Plan) -> io::Result<()> {
    for mono in &plan.monorepos {
        let commits: usize = mono.imports.iter().map(|i| i.commits).sum();
        o.blank()?;
        o.heading(
            &format!("monorepo {}", mono.name),
            &format!(
                "{}  ({} repos, {commits} commits -> {})",
                redact::url(&mono.url),
                mono.imports.len(),
                mono.dir
            ),
        )?;
        let width = mono
            .imports
            .iter()
            .map(|i| i.path.len() + 1)
            .max()
            .unwrap_or(0)
            .min(40);
        let pad = " ".repeat(width + 7);
        for i in &mono.imports {
            let branch = match &i.default_branch {
                Some(b) => format!("{} commits, {b} -> {MAIN_BRANCH}", i.commits),
                None => format!("{} commits, no branch: tags only", i.commits),
            };
            let path = fit_middle(&format!("{}/", i.path), width);
            o.line(
                Style::Plain,
                &format!("  {path:<width$}  <- {}  {branch}", i.repo),
            )?;
            if !i.tags.is_empty() {
                let annotated = i.tags.iter().filter(|t| t.annotated).count();
                let all: Vec<&str> = {
                    let mut v: Vec<&str> = i.tags.iter().map(|t| short(&t.to)).collect();
                    v.sort_by(|a, b| group::natural_cmp(a, b));
                    v
                };
                let range = match all.as_slice() {
                    [one] => one.to_string(),
                    [first, .., last] => format!("{first} .. {last}"),
                    [] => String::new(),
                };
                o.line(
                    Style::Dim,
                    &format!(
                        "{pad}tags: {} ({annotated} annotated) as {range}",
                        i.tags.len()
                    ),
                )?;
            }
            if i.branches.len() > 1 {
                let extra: Vec<&str> = i.branches.iter().skip(1).map(|b| short(&b.to)).collect();
                o.line(Style::Dim, &format!("{pad}branches: {}", extra.join(", ")))?;
            }
        }
    }
    Ok(())
}

/// The rewrites on `main`, the edits, and the sources left alone (counted per repo unless
/// `verbose`).
fn sources(o: &mut Out<'_>, mono: &MonorepoPlan, verbose: bool) -> io::Result<()> {
    let changed = mono.files.iter().filter(|f| f.content.is_some()).count();
    let rewrites: usize = mono.files.iter().map(|f| f.rewrites.len()).sum();
    o.blank()?;
    o.heading(
        &format!("sources in {}:", mono.name),
        &if changed == 0 {
            format!("{rewrites} rewritten: no file changes, no commit")
        } else {
            format!("{rewrites} rewritten in {changed} file(s), one commit on {MAIN_BRANCH}")
        },
    )?;
    for f in &mono.files {
        for r in &f.rewrites {
            o.line(Style::Plain, &format!("  {}:{}", f.path, r.line))?;
            o.line(
                Style::Dim,
                &fit_middle(&format!("      - {}", r.old), WIDTH),
            )?;
            o.line(
                Style::Green,
                &fit_middle(&format!("      + {}", r.new), WIDTH),
            )?;
            for n in &r.notes {
                o.line(Style::Yellow, &format!("      ! {n}"))?;
            }
        }
        for e in &f.edits {
            o.wrapped(Style::Plain, 2, &format!("{}: {e}", f.path))?;
        }
        for l in f.left_alone.iter().filter(|l| l.attention || verbose) {
            let style = if l.attention {
                Style::Yellow
            } else {
                Style::Dim
            };
            let flag = if l.attention { ", needs attention" } else { "" };
            o.line(
                style,
                &format!(
                    "  {}:{}  left alone ({}{flag}): {}",
                    f.path,
                    l.line,
                    l.reason.label(),
                    l.source.lines().next().unwrap_or("")
                ),
            )?;
        }
    }
    let counts = group::left_alone_counts(mono);
    if !verbose && !counts.is_empty() {
        let total: usize = counts.iter().flat_map(|(_, r)| r).map(|(_, n)| n).sum();
        o.line(
            Style::Dim,
            &format!("  left alone on purpose: {total} source(s) (--verbose lists them)"),
        )?;
        for (repo, reasons) in counts {
            let list: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            o.line(Style::Dim, &format!("    {repo}: {}", list.join(", ")))?;
        }
    }
    Ok(())
}

/// The tag rewrites, one entry per distinct change with the tags it applies to.
fn tag_changes(o: &mut Out<'_>, mono: &MonorepoPlan) -> io::Result<()> {
    let changes = group::tag_changes(mono);
    let mut all_tags: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    o.blank()?;
    o.heading(
        &format!("tags in {} with rewritten sources:", mono.name),
        &format!(
            "{} tag(s), {} distinct change(s); each tag points at a \"Rewrite module sources for <tag>\" commit on top of the unchanged image",
            mono.tag_rewrites.len(),
            changes.len()
        ),
    )?;
    for c in &changes {
        let all = all_tags
            .entry(c.repo)
            .or_insert_with(|| group::repo_tags(mono, c.repo));
        o.line(
            Style::Plain,
            &format!(
                "  {}  at {}",
                c.path,
                group::tag_runs(&c.tags, all, TAG_RUNS)
            ),
        )?;
        o.line(
            Style::Dim,
            &fit_middle(&format!("      - {}", c.rewrite.old), WIDTH),
        )?;
        o.line(
            Style::Green,
            &fit_middle(&format!("      + {}", c.rewrite.new), WIDTH),
        )?;
    }
    Ok(())
}

/// Files that only work at a repo root, per import, and what to do per kind.
fn root_only(o: &mut Out<'_>, plan: &Plan, s: &Summary) -> io::Result<()> {
    if s.root_only == 0 {
        return Ok(());
    }
    o.blank()?;
    o.heading(
        "root-only files:",
        "imported unchanged under the repo's path, where they stop working",
    )?;
    for mono in &plan.monorepos {
        for i in mono.imports.iter().filter(|i| !i.root_only.is_empty()) {
            let files: Vec<&str> = i.root_only.iter().map(|f| f.path.as_str()).collect();
            o.wrapped(
                Style::Plain,
                2,
                &format!(
                    "{}/{}/ ({}): {}",
                    mono.name,
                    i.path,
                    i.repo,
                    files.join(", ")
                ),
            )?;
        }
    }
    o.line(
        Style::Plain,
        "  what to do (<path> is the repo's path in its monorepo):",
    )?;
    for k in &s.root_only_kinds {
        o.wrapped(
            Style::Dim,
            4,
            &format!("{} ({}): {}", k.label, k.files, k.advice),
        )?;
    }
    Ok(())
}

/// State moves per root.
fn state(o: &mut Out<'_>, plan: &Plan) -> io::Result<()> {
    if plan.state.roots.is_empty() {
        return Ok(());
    }
    o.blank()?;
    o.line(Style::Bold, "state moves:")?;
    for root in &plan.state.roots {
        let checked = match root.check {
            crate::state::plan::Check::Checked => "checked against its snapshot",
            crate::state::plan::Check::Unchecked => "UNCHECKED (no --states snapshot)",
        };
        let style = match root.style {
            crate::state::Style::StateMv => "state mv scripts",
            crate::state::Style::MovedBlocks => "moved blocks (cross-state moves: scripts)",
        };
        o.line(
            Style::Plain,
            &format!("  {}  {style}; {checked}", root.root),
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
            o.wrapped(Style::Plain, 4, &format!("{from} -> {}{carries}", m.to))?;
        }
        if let Some(k) = &root.key_change {
            o.wrapped(
                Style::Plain,
                4,
                &format!(
                    "backend key {} -> {} ({:?})",
                    k.old_key, k.new_key, root.backend_mode
                ),
            )?;
        }
    }
    if plan.state.roots.iter().any(|r| r.needs_script()) {
        o.line(
            Style::Dim,
            "  scripts: <out>/state/migrate-all.sh and rollback-all.sh (DRY_RUN=1 to rehearse)",
        )?;
    }
    Ok(())
}

/// Files that do not parse, grouped per repo: counts, a few examples, every file that
/// mentions a migrated repo.
fn unparsed(o: &mut Out<'_>, mono: &MonorepoPlan) -> io::Result<()> {
    o.blank()?;
    o.heading(
        &format!("files not parsed in {}:", mono.name),
        "left unchanged (templates, test fixtures, files Terraform would refuse)",
    )?;
    let mut by_repo: Vec<(&str, Vec<&crate::plan::UnparsedFile>)> = Vec::new();
    for u in &mono.unparsed {
        match by_repo.iter_mut().find(|(r, _)| *r == u.repo) {
            Some((_, list)) => list.push(u),
            None => by_repo.push((&u.repo, vec![u])),
        }
    }
    let describe = |u: &crate::plan::UnparsedFile| {
        format!(
            "    {} ({}; at {})",
            u.path,
            u.message,
            crate::plan::summarize_refs(&u.at)
        )
    };
    for (repo, list) in by_repo {
        let flagged = list.iter().filter(|u| u.needs_attention()).count();
        o.line(
            Style::Plain,
            &format!(
                "  {repo}: {} file(s){}",
                list.len(),
                if flagged > 0 {
                    format!(", {flagged} mention a migrated repo (needs attention)")
                } else {
                    String::new()
                }
            ),
        )?;
        let quiet: Vec<_> = list.iter().filter(|u| !u.needs_attention()).collect();
        for u in quiet.iter().take(UNPARSED_EXAMPLES) {
            o.line(Style::Dim, &describe(u))?;
        }
        if quiet.len() > UNPARSED_EXAMPLES {
            o.line(
                Style::Dim,
                &format!("    … and {} more", quiet.len() - UNPARSED_EXAMPLES),
            )?;
        }
        for u in list.iter().filter(|u| u.needs_attention()) {
            o.wrapped(Style::Yellow, 4, describe(u).trim_start())?;
            for m in &u.mentions {
                o.line(Style::Yellow, &format!("      line {}: {}", m.line, m.text))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{fit_end, fit_middle, wrap};

    #[test]
    fn fit_end_cuts_with_an_ellipsis() {
        assert_eq!(fit_end("abcdef", 4), "abc…");
        assert_eq!(fit_end("abc", 4), "abc");
    }

    #[test]
    fn fit_middle_keeps_both_ends() {
        let s = fit_middle("git::https://example.com/a/very/long/path?ref=v1.2.3", 20);
        assert_eq!(s.chars().count(), 20);
        assert!(s.starts_with("git::h") && s.ends_with("ref=v1.2.3"), "{s}");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_indents() {
        let lines = wrap("aaaa bbbb cccc dddd", 14, 2);
        assert_eq!(lines, vec!["  aaaa bbbb", "    cccc dddd"]);
        assert!(wrap(&"x".repeat(50), 20, 0)
            .iter()
            .all(|l| l.chars().count() <= 20));
    }
}

//! The Markdown report, ready to paste into the migration pull request.
//!
//! GitHub-flavoured: tables, `<details>` for long sections, every text escaped and every
//! source in a code span. The main report stays under [`BUDGET`] characters whatever the
//! org's size (a PR body holds 65,536): long lists are cut to a number of rows that fits,
//! and the full detail is the same report without cuts ([`Mode::Detail`]), written to a
//! second file.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::group;
use super::summary::{summarize, Summary};
use crate::plan::{MonorepoPlan, Plan, MAIN_BRANCH};
use crate::redact;

/// The most characters the main report may have.
pub const BUDGET: usize = 60_000;

/// Rows per list tried, from all to none, until the report fits the budget.
const ROW_LIMITS: [usize; 6] = [usize::MAX, 200, 60, 20, 5, 0];

/// A section longer than this many rows is folded in `<details>`.
const FOLD: usize = 10;

/// Which report to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The main report, within the budget; `detail` names the full report's file, if any.
    Main,
    /// The full detail, no cuts.
    Detail,
}

pub(super) fn render(
    plan: &Plan,
    mode: Mode,
    detail: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = summarize(plan);
    let text = match mode {
        Mode::Detail => report(plan, &s, usize::MAX, mode, detail),
        Mode::Main => ROW_LIMITS
            .iter()
            .map(|&rows| report(plan, &s, rows, mode, detail))
            .find(|t| t.chars().count() < BUDGET)
            .unwrap_or_else(|| fit_budget(report(plan, &s, 0, mode, detail))),
    };
    out.write_all(text.as_bytes())
}

/// Cuts `text` at a line boundary under the budget (a last resort: with no rows the report
/// has only its fixed parts, which fit any org of sane size).
fn fit_budget(text: String) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if out.chars().count() + line.chars().count() + 200 >= BUDGET {
            out.push_str("\n*(report cut at the size limit of a pull request body)*\n");
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A list of rows, cut to `limit` with a note naming the detail.
struct Rows<'a> {
    limit: usize,
    detail: Option<&'a str>,
    cut: bool,
}

impl Rows<'_> {
    /// Takes at most `limit` of `items`; remembers a cut.
    fn take<'i, T>(&mut self, items: &'i [T]) -> &'i [T] {
        if items.len() > self.limit {
            self.cut = true;
            &items[..self.limit]
        } else {
            items
        }
    }

    /// The line after a cut list: how many rows are left out and where they are.
    fn more(&self, total: usize, out: &mut String) {
        if total > self.limit {
            let _ = writeln!(
                out,
                "\n*… and {} more; {}*",
                total - self.limit,
                match self.detail {
                    Some(f) => format!("all of them are in {}", code(f)),
                    None =>
                        "write the full detail with `tfmono plan --format markdown --detail FILE`"
                            .to_string(),
                }
            );
        }
    }
}

fn report(plan: &Plan, s: &Summary, limit: usize, mode: Mode, detail: Option<&str>) -> String {
    let mut o = String::new();
    let mut rows = Rows {
        limit,
        detail,
        cut: false,
    };
    summary(&mut o, plan, s, &mut rows, mode);
    imports(&mut o, plan, &mut rows);
    for mono in plan.monorepos.iter().filter(|m| !m.files.is_empty()) {
        sources(&mut o, mono, &mut rows);
    }
    for mono in plan.monorepos.iter().filter(|m| !m.tag_rewrites.is_empty()) {
        tag_changes(&mut o, mono, &mut rows);
    }
    unparsed(&mut o, plan, &mut rows);
    root_only(&mut o, plan, s, &mut rows);
    state(&mut o, plan, &mut rows);
    if !plan.warnings.is_empty() {
        let _ = writeln!(o, "\n## Warnings\n");
        fold_open(
            &mut o,
            plan.warnings.len(),
            &format!("{} warnings", plan.warnings.len()),
        );
        for w in rows.take(&plan.warnings) {
            let _ = writeln!(
                o,
                "- **{}**: {}",
                text(&w.subject),
                text(&redact::text(&w.message))
            );
        }
        fold_close(&mut o, plan.warnings.len());
        rows.more(plan.warnings.len(), &mut o);
    }
    o
}

fn summary(o: &mut String, plan: &Plan, s: &Summary, rows: &mut Rows<'_>, mode: Mode) {
    let title = match mode {
        Mode::Main => "# tfmono migration plan",
        Mode::Detail => "# tfmono migration plan: full detail",
    };
    let _ = writeln!(o, "{title}\n");
    let _ = writeln!(
        o,
        "**{} legacy repos** ({} commits, {} branches, {} tags) into {} monorepos. Plan fingerprint {}.\n",
        s.repos,
        s.commits,
        s.branches,
        s.tags,
        s.monorepos,
        code(&plan.fingerprint[..12.min(plan.fingerprint.len())])
    );
    let _ = writeln!(o, "| summary | |\n|---|---|");
    let _ = writeln!(
        o,
        "| module sources rewritten | {} in {} file(s) on {} |",
        s.rewrites,
        s.files_changed,
        code(MAIN_BRANCH)
    );
    let _ = writeln!(
        o,
        "| tags with rewritten sources | {} ({} distinct change(s)) |",
        s.tags_rewritten, s.tag_changes
    );
    let _ = writeln!(
        o,
        "| sources left alone | {} (local paths, external repos) |",
        s.left_alone
    );
    let _ = writeln!(o, "| files not parsed | {} |", s.unparsed);
    let _ = writeln!(
        o,
        "| state moves | {} in {} root(s); {} backend key(s) would change |",
        s.state_moves, s.state_roots, s.key_changes
    );
    let _ = writeln!(
        o,
        "| root-only files | {} in {} repo(s): they stop working under their path |",
        s.root_only, s.root_only_repos
    );
    let _ = writeln!(o, "| warnings | {} |", s.warnings);
    let _ = writeln!(
        o,
        "| **needs attention** | **{}** |",
        s.needs_attention.len()
    );
    if !s.needs_attention.is_empty() {
        let _ = writeln!(
            o,
            "\n### Needs attention\n\nLeft unchanged; `--strict` refuses the plan.\n"
        );
        for a in rows.take(&s.needs_attention) {
            let _ = writeln!(
                o,
                "- {} {}: {}",
                code(&a.place),
                text(&a.why),
                code(&clip(&a.text, 200))
            );
        }
        rows.more(s.needs_attention.len(), o);
    }
    if mode == Mode::Main {
        if let Some(f) = rows.detail {
            let _ = writeln!(
                o,
                "\nThe full detail (every rewrite, every tag, every source left alone) is in {}.",
                code(f)
            );
        }
    }
}

fn imports(o: &mut String, plan: &Plan, rows: &mut Rows<'_>) {
    for mono in &plan.monorepos {
        let _ = writeln!(
            o,
            "\n## Monorepo {} ({})\n",
            code(&mono.name),
            code(&redact::url(&mono.url))
        );
        fold_open(
            o,
            mono.imports.len(),
            &format!("{} legacy repos", mono.imports.len()),
        );
        let _ = writeln!(
            o,
            "| path | legacy repo | default branch | commits | branches | tags |"
        );
        let _ = writeln!(o, "|---|---|---|---:|---:|---:|");
        for i in rows.take(&mono.imports) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                cell_code(&format!("{}/", i.path)),
                cell(&i.repo),
                i.default_branch
                    .as_ref()
                    .map_or("none: tags only".to_string(), |b| cell_code(b)),
                i.commits,
                i.branches.len(),
                i.tags.len()
            );
        }
        fold_close(o, mono.imports.len());
        rows.more(mono.imports.len(), o);
    }
}

fn sources(o: &mut String, mono: &MonorepoPlan, rows: &mut Rows<'_>) {
    let list: Vec<(&str, &crate::plan::SourceRewrite)> = mono
        .files
        .iter()
        .flat_map(|f| f.rewrites.iter().map(move |r| (f.path.as_str(), r)))
        .collect();
    let edits: Vec<(&str, &String)> = mono
        .files
        .iter()
        .flat_map(|f| f.edits.iter().map(move |e| (f.path.as_str(), e)))
        .collect();
    let _ = writeln!(o, "\n## Module sources in {}\n", code(&mono.name));
    if !list.is_empty() {
        fold_open(
            o,
            list.len(),
            &format!("{} rewritten source(s)", list.len()),
        );
        let _ = writeln!(
            o,
            "| file:line | before | after | notes |\n|---|---|---|---|"
        );
        for (path, r) in rows.take(&list) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                cell_code(&format!("{path}:{}", r.line)),
                cell_code(&r.old),
                cell_code(&r.new),
                cell(&r.notes.join("; "))
            );
        }
        fold_close(o, list.len());
        rows.more(list.len(), o);
    }
    if !edits.is_empty() {
        let _ = writeln!(o, "\nOther edits:\n");
        fold_open(o, edits.len(), &format!("{} edit(s)", edits.len()));
        for (path, e) in rows.take(&edits) {
            let _ = writeln!(o, "- {}: {}", code(path), text(e));
        }
        fold_close(o, edits.len());
        rows.more(edits.len(), o);
    }
    let counts = group::left_alone_counts(mono);
    if !counts.is_empty() {
        let left: Vec<(&str, &crate::plan::SourceLeft)> = mono
            .files
            .iter()
            .flat_map(|f| {
                f.left_alone
                    .iter()
                    .filter(|l| !l.attention)
                    .map(move |l| (f.path.as_str(), l))
            })
            .collect();
        let _ = writeln!(o, "\nLeft alone on purpose, per repo:\n");
        for (repo, reasons) in &counts {
            let list: Vec<String> = reasons
                .iter()
                .map(|(r, n)| format!("{n} {}", text(r)))
                .collect();
            let _ = writeln!(o, "- {}: {}", code(repo), list.join(", "));
        }
        let _ = writeln!(
            o,
            "\n<details><summary>{} source(s) left alone</summary>\n",
            left.len()
        );
        for (path, l) in rows.take(&left) {
            let _ = writeln!(
                o,
                "- {} {}: {}",
                code(&format!("{path}:{}", l.line)),
                code(&clip(&l.source, 200)),
                text(l.reason.label())
            );
        }
        let _ = writeln!(o, "\n</details>");
        rows.more(left.len(), o);
    }
}

fn tag_changes(o: &mut String, mono: &MonorepoPlan, rows: &mut Rows<'_>) {
    let changes = group::tag_changes(mono);
    let mut all_tags: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    let _ = writeln!(
        o,
        "\n## Tags with rewritten sources in {}\n",
        code(&mono.name)
    );
    let _ = writeln!(
        o,
        "{} tag(s) point at a \"Rewrite module sources for {}\" commit whose parent is the unchanged image; {} distinct change(s):\n",
        mono.tag_rewrites.len(),
        code("<tag>"),
        changes.len()
    );
    fold_open(o, changes.len(), &format!("{} change(s)", changes.len()));
    let _ = writeln!(o, "| file | before | after | tags |\n|---|---|---|---|");
    for c in rows.take(&changes) {
        let all = all_tags
            .entry(c.repo)
            .or_insert_with(|| group::repo_tags(mono, c.repo));
        let runs = group::tag_runs(
            &c.tags,
            all,
            if rows.limit == usize::MAX {
                usize::MAX
            } else {
                4
            },
        );
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            cell_code(c.path),
            cell_code(&c.rewrite.old),
            cell_code(&c.rewrite.new),
            cell(&runs)
        );
    }
    fold_close(o, changes.len());
    rows.more(changes.len(), o);
}

fn unparsed(o: &mut String, plan: &Plan, rows: &mut Rows<'_>) {
    for mono in plan.monorepos.iter().filter(|m| !m.unparsed.is_empty()) {
        let _ = writeln!(o, "\n## Files not parsed in {}\n", code(&mono.name));
        let _ = writeln!(
            o,
            "Left unchanged (templates, test fixtures, files Terraform would refuse).\n"
        );
        let _ = writeln!(
            o,
            "| repo | files | mentioning a migrated repo |\n|---|---:|---:|"
        );
        let mut repos: Vec<&str> = mono.unparsed.iter().map(|u| u.repo.as_str()).collect();
        repos.dedup();
        for repo in rows.take(&repos) {
            let list: Vec<_> = mono.unparsed.iter().filter(|u| u.repo == *repo).collect();
            let flagged = list.iter().filter(|u| u.needs_attention()).count();
            let _ = writeln!(o, "| {} | {} | {flagged} |", cell_code(repo), list.len());
        }
        rows.more(repos.len(), o);
        let _ = writeln!(
            o,
            "\n<details><summary>{} file(s)</summary>\n",
            mono.unparsed.len()
        );
        for u in rows.take(&mono.unparsed) {
            let _ = writeln!(
                o,
                "- {}: {} (at {})",
                code(&u.path),
                text(&clip(&u.message, 200)),
                text(&crate::plan::summarize_refs(&u.at))
            );
        }
        let _ = writeln!(o, "\n</details>");
        rows.more(mono.unparsed.len(), o);
    }
}

fn root_only(o: &mut String, plan: &Plan, s: &Summary, rows: &mut Rows<'_>) {
    if s.root_only == 0 {
        return;
    }
    let _ = writeln!(o, "\n## Root-only files\n");
    let _ = writeln!(
        o,
        "These files only work at a repository's root. They are imported unchanged under the repo's path, where they stop working.\n"
    );
    let list: Vec<(&MonorepoPlan, &crate::plan::ImportStep)> = plan
        .monorepos
        .iter()
        .flat_map(|m| {
            m.imports
                .iter()
                .filter(|i| !i.root_only.is_empty())
                .map(move |i| (m, i))
        })
        .collect();
    fold_open(o, list.len(), &format!("{} repo(s)", list.len()));
    let _ = writeln!(o, "| lands under | legacy repo | files |\n|---|---|---|");
    for (m, i) in rows.take(&list) {
        let files: Vec<String> = i.root_only.iter().map(|f| cell_code(&f.path)).collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            cell_code(&format!("{}/{}/", m.name, i.path)),
            cell(&i.repo),
            files.join(", ")
        );
    }
    fold_close(o, list.len());
    rows.more(list.len(), o);
    let _ = writeln!(
        o,
        "\nWhat to do ({} is the repo's path in its monorepo):\n",
        code("<path>")
    );
    for k in &s.root_only_kinds {
        let _ = writeln!(
            o,
            "- **{}** ({}): {}",
            text(&k.label),
            k.files,
            text(&k.advice)
        );
    }
}

fn state(o: &mut String, plan: &Plan, rows: &mut Rows<'_>) {
    if plan.state.roots.is_empty() {
        return;
    }
    let moves: Vec<(&str, &crate::state::plan::PlannedMove)> = plan
        .state
        .roots
        .iter()
        .flat_map(|r| r.moves.iter().map(move |m| (r.root.as_str(), m)))
        .collect();
    let _ = writeln!(o, "\n## State moves\n");
    fold_open(o, moves.len(), &format!("{} move(s)", moves.len()));
    let _ = writeln!(o, "| root | from | to | instances |\n|---|---|---|---:|");
    for (root, m) in rows.take(&moves) {
        let from = match &m.from_state {
            Some(src) => format!(
                "{}: {}",
                cell(&src.to_string()),
                cell_code(&m.from.to_string())
            ),
            None => cell_code(&m.from.to_string()),
        };
        let n = m
            .instances
            .map_or("unchecked".to_string(), |n| n.to_string());
        let _ = writeln!(
            o,
            "| {} | {from} | {} | {n} |",
            cell_code(root),
            cell_code(&m.to.to_string())
        );
    }
    fold_close(o, moves.len());
    rows.more(moves.len(), o);
}

/// Opens a `<details>` block when a section has more than [`FOLD`] rows.
fn fold_open(o: &mut String, n: usize, what: &str) {
    if n > FOLD {
        let _ = writeln!(o, "<details><summary>{}</summary>\n", text(what));
    }
}

/// Closes what [`fold_open`] opened.
fn fold_close(o: &mut String, n: usize) {
    if n > FOLD {
        let _ = writeln!(o, "\n</details>");
    }
}

/// `s` on one line, at most `max` characters.
fn clip(s: &str, max: usize) -> String {
    let one: String = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ⏎ ");
    super::text::fit_end(&one, max)
}

/// `s` as Markdown text: every character Markdown or HTML could read as syntax is
/// escaped, line breaks become spaces.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// `s` in a code span (outside tables): the fence is longer than any backtick run inside.
pub(crate) fn code(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A code span inside a table cell: `|` escaped (GitHub splits cells before code spans).
fn cell_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// Text inside a table cell.
fn cell(s: &str) -> String {
    text(s)
}

#[cfg(test)]
mod tests {
    use super::{code, text};

    #[test]
    fn text_escapes_html_and_table_syntax() {
        assert_eq!(text("a <tag> | b"), "a \\<tag\\> \\| b");
        assert_eq!(text("x\ny"), "x y");
    }

    #[test]
    fn code_spans_outgrow_backticks_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a `b` c"), "``a `b` c``");
        assert_eq!(code("`x"), "`` `x ``");
    }
}

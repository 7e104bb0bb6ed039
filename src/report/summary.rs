//! The summary every report opens with: counts, and every item that needs attention.

use std::collections::BTreeMap;

use serde::Serialize;

use super::group;
use crate::inventory::root_only::RootOnlyKind;
use crate::plan::Plan;

/// What a plan does, in numbers, plus the items a human must look at. Serialised as the
/// `summary` object of the JSON report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Monorepos written.
    pub monorepos: usize,
    /// Legacy repos imported.
    pub repos: usize,
    /// Commits imported.
    pub commits: usize,
    /// Branches imported.
    pub branches: usize,
    /// Tags imported.
    pub tags: usize,
    /// Module sources rewritten on `main` (the "Rewrite module sources" commits).
    pub rewrites: usize,
    /// Files changed on `main` (rewrites, backend pins, generated `moved.tf`).
    pub files_changed: usize,
    /// Tags that get a "Rewrite module sources for `<tag>`" commit.
    pub tags_rewritten: usize,
    /// Distinct source changes over those tags (one per file, old and new source).
    pub tag_changes: usize,
    /// Sources left alone on purpose (local paths, external repos …), not counting the
    /// ones that need attention.
    pub left_alone: usize,
    /// Files with a Terraform name that do not parse (imported unchanged).
    pub unparsed: usize,
    /// Every item that needs attention (`--strict` refuses the plan when there is any).
    pub needs_attention: Vec<AttentionItem>,
    /// Warnings (listed in the plan's `warnings`).
    pub warnings: usize,
    /// State roots with moves.
    pub state_roots: usize,
    /// State moves over all roots.
    pub state_moves: usize,
    /// Backend keys that would change with the directory (pinned or copied).
    pub key_changes: usize,
    /// Files that only work at a repo root, over all imports.
    pub root_only: usize,
    /// Imported repos holding such files.
    pub root_only_repos: usize,
    /// Root-only files per kind, with what to do (`<path>` stands for the import's path).
    pub root_only_kinds: Vec<RootOnlyCount>,
}

/// One item that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttentionItem {
    /// `monorepo/path:line`.
    pub place: String,
    /// Why it was left unchanged.
    pub why: String,
    /// The text found there, on one line (redacted).
    pub text: String,
}

/// How many root-only files of one kind the imports hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootOnlyCount {
    /// The kind.
    pub kind: RootOnlyKind,
    /// Its label (`GitHub workflow`).
    pub label: String,
    /// Files of that kind.
    pub files: usize,
    /// What to do, with `<path>` for the import's path.
    pub advice: String,
}

/// Returns the summary of `plan`.
pub fn summarize(plan: &Plan) -> Summary {
    let mut s = Summary {
        monorepos: plan.monorepos.len(),
        warnings: plan.warnings.len(),
        state_roots: plan.state.roots.len(),
        state_moves: plan.state.roots.iter().map(|r| r.moves.len()).sum(),
        key_changes: plan.key_changes.len(),
        ..Summary::default()
    };
    let mut kinds: BTreeMap<RootOnlyKind, usize> = BTreeMap::new();
    for mono in &plan.monorepos {
        for i in &mono.imports {
            s.repos += 1;
            s.commits += i.commits;
            s.branches += i.branches.len();
            s.tags += i.tags.len();
            s.root_only += i.root_only.len();
            s.root_only_repos += usize::from(!i.root_only.is_empty());
            for f in &i.root_only {
                *kinds.entry(f.kind).or_default() += 1;
            }
        }
        s.rewrites += mono.files.iter().map(|f| f.rewrites.len()).sum::<usize>();
        s.files_changed += mono.files.iter().filter(|f| f.content.is_some()).count();
        s.left_alone += mono
            .files
            .iter()
            .flat_map(|f| &f.left_alone)
            .filter(|l| !l.attention)
            .count();
        s.unparsed += mono.unparsed.len();
        s.tags_rewritten += mono.tag_rewrites.len();
        s.tag_changes += group::tag_changes(mono).len();
    }
    s.needs_attention = plan
        .needs_attention()
        .into_iter()
        .map(|a| AttentionItem {
            place: a.place,
            why: a.why,
            text: a.text,
        })
        .collect();
    s.root_only_kinds = kinds
        .into_iter()
        .map(|(kind, files)| RootOnlyCount {
            kind,
            label: kind.label().to_string(),
            files,
            advice: kind.advice("<path>"),
        })
        .collect();
    s
}

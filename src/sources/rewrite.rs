//! The rewrite rules, shared by the HCL and JSON walkers, and edit splicing.

use std::ops::Range;

use super::address::{
    decode_query_value, encode_query_value, Address, GitSource, Query, RegistrySource,
};
use super::split::{SplitEntry, UnitTemplate};
use super::{Context, FileOutcome, LeftAlone, Reason, Rewrite, SameMonorepo, SourceError, Target};
use crate::redact;

/// The kinds of files [`rewrite_file`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `*.tf`, `*.tofu` (and `*_override.tf`): `module` blocks.
    Terraform,
    /// `*.tf.json`, `*.tofu.json`: `{"module": {...}}`.
    Json,
    /// `*.hcl` (Terragrunt): `terraform { source }`.
    Terragrunt,
    /// `*.hcl.json` (`terragrunt.hcl.json`): `{"terraform": {"source": …}}`.
    TerragruntJson,
    /// `*.tftest.hcl`, `*.tofutest.hcl`: `run { module { source version } }`.
    Test,
    /// `terragrunt.stack.hcl`: `unit`/`stack` blocks' `source`.
    Stack,
}

impl FileKind {
    pub(crate) fn of(path: &str) -> Option<FileKind> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let kind = if name.ends_with(".tftest.hcl") || name.ends_with(".tofutest.hcl") {
            FileKind::Test
        } else if name == "terragrunt.stack.hcl" {
            FileKind::Stack
        } else if name.ends_with(".hcl.json") {
            FileKind::TerragruntJson
        } else if name.ends_with(".tf.json") || name.ends_with(".tofu.json") {
            FileKind::Json
        } else if name.ends_with(".tf") || name.ends_with(".tofu") {
            FileKind::Terraform
        } else if name.ends_with(".hcl") {
            FileKind::Terragrunt
        } else {
            return None;
        };
        Some(kind)
    }
}

/// A replacement of `range` (bytes of the original) by `text`.
#[derive(Debug, Clone)]
pub(crate) struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// The `version` attribute next to a module source.
pub(crate) enum VersionAttr {
    /// A literal string, with the byte range the attribute's removal deletes.
    Literal(String, Range<usize>),
    /// Something that is not a literal string.
    Expression,
}

/// Where a string literal sits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A module `source` (or Terragrunt `terraform { source }`).
    Source,
    /// Any other string literal.
    Other,
}

/// Collects edits and findings for one file.
pub(crate) struct Rewriter<'c, 'a> {
    pub ctx: &'c Context<'a>,
    pub file: &'c str,
    pub content: &'c str,
    pub edits: Vec<Edit>,
    pub out: FileOutcome,
    /// Byte offsets of every `\n`, for line numbers.
    pub newlines: Vec<usize>,
}

impl<'c, 'a> Rewriter<'c, 'a> {
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }

    /// Reports a non-literal (template, expression) at `range`: always for sources, and for
    /// other expressions when they mention a legacy repo.
    pub(crate) fn expression(&mut self, range: Range<usize>, role: Role) {
        let raw = self.content.get(range.clone()).unwrap_or("");
        if role == Role::Other && !self.ctx.targets.may_mention(raw) {
            return; // names no target (see `other_literal`)
        }
        let text = raw.to_string();
        let legacy = self.ctx.targets.find_legacy(&text).map(|t| t.repo.clone());
        if role == Role::Other && legacy.is_some() {
            // A template or heredoc that is not a source (a script, a description): name
            // the line that mentions the legacy repo, not the whole text.
            let first = self.line(range.start);
            for (n, line) in text.lines().enumerate() {
                if let Some(t) = self.ctx.targets.find_legacy(line) {
                    self.out.left_alone.push(LeftAlone {
                        line: first + n,
                        source: line.trim().chars().take(200).collect(),
                        reason: Reason::LegacyReference,
                        repo: Some(t.repo.clone()),
                    });
                }
            }
            return;
        }
        if role == Role::Source || legacy.is_some() {
            self.out.left_alone.push(LeftAlone {
                line: self.line(range.start),
                source: text,
                reason: Reason::Expression,
                repo: legacy,
            });
        }
    }

    /// Handles the string literal `value` at `range` (the quoted token) playing `role`;
    /// `encode` turns a new value into the token text. Returns whether it was rewritten.
    pub(crate) fn literal(
        &mut self,
        value: &str,
        range: Range<usize>,
        role: Role,
        version: Option<&VersionAttr>,
        encode: fn(&str) -> String,
    ) -> bool {
        let line = self.line(range.start);
        if role == Role::Other {
            return self.other_literal(value, range, line, encode);
        }
        if value.contains("${") || value.contains("%{") {
            // A template inside a JSON string.
            self.expression(range, Role::Source);
            return false;
        }
        match decide(value, version, self.file, self.ctx) {
            Decision::Rewrite {
                new,
                repo,
                notes,
                drop_version,
            } => {
                self.edits.push(Edit {
                    range,
                    text: encode(&new),
                });
                if drop_version {
                    if let Some(VersionAttr::Literal(_, r)) = version {
                        self.edits.push(Edit {
                            range: r.clone(),
                            text: String::new(),
                        });
                    }
                }
                self.out.rewrites.push(Rewrite {
                    line,
                    old: value.to_string(),
                    new,
                    repo,
                    notes,
                });
                true
            }
            Decision::Leave(reason, repo) => {
                self.out.left_alone.push(LeftAlone {
                    line,
                    source: value.to_string(),
                    reason,
                    repo,
                });
                false
            }
            Decision::Error(message) => {
                self.out.errors.push(SourceError { line, message });
                false
            }
        }
    }

    fn other_literal(
        &mut self,
        value: &str,
        range: Range<usize>,
        line: usize,
        encode: fn(&str) -> String,
    ) -> bool {
        // Most strings of a file name no target at all: the literal prefilter (the patterns
        // every reference to a target contains) rules them out without parsing.
        if !self.ctx.targets.may_mention(value) {
            return false;
        }
        let legacy = self.ctx.targets.find_legacy(value).map(|t| t.repo.clone());
        let parsed = Address::parse(value);
        let registry = match &parsed {
            Address::Registry(r) => self.ctx.targets.by_registry(r).map(|t| t.repo.clone()),
            _ => None,
        };
        let Some(repo) = legacy.or(registry) else {
            return false;
        };
        if value.contains("${") || value.contains("%{") {
            self.expression(range, Role::Other);
            return false;
        }
        // Only a complete git source address is unambiguous: `git::…`, or any git form with a
        // ref or a subdir. A bare clone URL may be used for anything else.
        let complete = !value.contains(char::is_whitespace)
            && match &parsed {
                Address::Git(g) => g.forced || g.git_ref().is_some() || g.subdir.is_some(),
                _ => false,
            };
        if complete {
            if let Decision::Rewrite {
                new,
                repo,
                mut notes,
                ..
            } = decide_parsed(&parsed, value, None, self.file, self.ctx)
            {
                let prefix = self
                    .ctx
                    .targets
                    .iter()
                    .find(|t| t.repo == repo)
                    .map(|t| t.tag_prefix.clone())
                    .unwrap_or_default();
                notes.push(format!(
                    "not a module source attribute: check every expression that uses this value \
                     (a ref appended to it must become {prefix}<tag>)"
                ));
                self.edits.push(Edit {
                    range,
                    text: encode(&new),
                });
                self.out.rewrites.push(Rewrite {
                    line,
                    old: value.to_string(),
                    new,
                    repo,
                    notes,
                });
                return true;
            }
        }
        self.out.left_alone.push(LeftAlone {
            line,
            source: value.to_string(),
            reason: Reason::LegacyReference,
            repo: Some(repo),
        });
        false
    }

    /// The base URL `value` (the token at `range`) of a split source: rewritten to the
    /// monorepo URL and path when every unit's ref maps, else left alone with the reason.
    pub(crate) fn split_base(&mut self, value: &str, range: Range<usize>, entry: &SplitEntry) {
        let line = self.line(range.start);
        let repo = Some(entry.repo.clone());
        if entry.problem.is_none() {
            if let Address::Git(g) = Address::parse(value) {
                if let Decision::Rewrite { new, repo, .. } = decide_git(&g, self.file, self.ctx) {
                    self.edits.push(Edit {
                        range,
                        text: crate::hcl::quote(&new),
                    });
                    self.out.rewrites.push(Rewrite {
                        line,
                        old: value.to_string(),
                        new,
                        repo,
                        notes: vec![format!(
                            "Terragrunt split source: base URL of {} unit(s), whose ?ref= is \
                             rewritten with it",
                            entry.units
                        )],
                    });
                    return;
                }
            }
        }
        self.out.left_alone.push(LeftAlone {
            line,
            source: value.to_string(),
            reason: Reason::Split,
            repo,
        });
    }

    /// A unit's source template at `range` composing a split source's base URL: its ref is
    /// rewritten when the split source is, else it is left alone with the reason.
    pub(crate) fn split_unit(
        &mut self,
        range: Range<usize>,
        unit: &UnitTemplate,
        entry: &SplitEntry,
    ) {
        let line = self.line(range.start);
        let token = self.content.get(range.clone()).unwrap_or("").to_string();
        let target = self.ctx.targets.iter().find(|t| t.repo == entry.repo);
        if let (None, Some(target)) = (&entry.problem, target) {
            let change = map_ref(target, unit.git_ref.as_deref(), unit.shallow, self.ctx);
            if let RefChange::To(new_ref, mut notes) = change {
                let inner = |t: &str| t[1..t.len() - 1].to_string();
                let new_token = match (&unit.ref_range, &new_ref) {
                    (Some(r), Some(new_ref)) => {
                        format!("{}{new_ref}{}", &token[..r.start], &token[r.end..])
                    }
                    _ => token.clone(),
                };
                if new_token != token {
                    self.edits.push(Edit {
                        range,
                        text: new_token.clone(),
                    });
                }
                notes.insert(
                    0,
                    format!(
                        "Terragrunt split source: the base URL `{}` is rewritten with it",
                        unit.name
                    ),
                );
                self.out.rewrites.push(Rewrite {
                    line,
                    old: inner(&token),
                    new: inner(&new_token),
                    repo: entry.repo.clone(),
                    notes,
                });
                return;
            }
        }
        self.out.left_alone.push(LeftAlone {
            line,
            source: token,
            reason: Reason::Split,
            repo: Some(entry.repo.clone()),
        });
    }

    /// Applies the edits and returns the outcome.
    pub(crate) fn finish(mut self) -> FileOutcome {
        self.out.rewrites.sort_by_key(|r| r.line);
        self.out.left_alone.sort_by_key(|l| l.line);
        self.out.errors.sort_by_key(|e| e.line);
        if self.edits.is_empty() {
            return self.out;
        }
        self.edits.sort_by_key(|e| e.range.start);
        let mut s = String::with_capacity(self.content.len() + 64);
        let mut at = 0;
        for e in &self.edits {
            if e.range.start < at || e.range.end > self.content.len() {
                // Overlapping edits cannot happen by construction; refuse rather than guess.
                self.out.errors.push(SourceError {
                    line: self.newlines.partition_point(|&n| n < e.range.start) + 1,
                    message: "internal: overlapping edits; file left unchanged".to_string(),
                });
                return self.out;
            }
            s.push_str(&self.content[at..e.range.start]);
            s.push_str(&e.text);
            at = e.range.end;
        }
        s.push_str(&self.content[at..]);
        if s != self.content {
            self.out.new_content = Some(s);
        }
        self.out
    }
}

/// Extends `range` (an attribute or member) to whole lines when it is alone on them: from
/// the line start (only blanks before) through the end of line (only blanks or a comment
/// after), newline included.
pub(crate) fn whole_lines(content: &str, range: Range<usize>) -> Range<usize> {
    let b = content.as_bytes();
    let mut start = range.start;
    while start > 0 && matches!(b[start - 1], b' ' | b'\t') {
        start -= 1;
    }
    let line_start = start == 0 || b[start - 1] == b'\n';
    let mut end = range.end;
    while end < b.len() && matches!(b[end], b' ' | b'\t' | b'\r') {
        end += 1;
    }
    let rest = &content[end..];
    let comment = rest.starts_with('#') || rest.starts_with("//");
    if comment {
        end += rest.find('\n').unwrap_or(rest.len());
    }
    if line_start && (end == b.len() || b[end] == b'\n') {
        Range {
            start,
            end: (end + 1).min(b.len()),
        }
    } else {
        range
    }
}

pub(crate) enum Decision {
    Rewrite {
        new: String,
        repo: String,
        notes: Vec<String>,
        drop_version: bool,
    },
    Leave(Reason, Option<String>),
    Error(String),
}

/// The new ref for a legacy ref, with notes.
pub(crate) enum RefChange {
    To(Option<String>, Vec<String>),
    Error(String),
}

fn is_hex_sha(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Whether a source with this `depth` query value is fetched with a shallow clone (a
/// `depth` above 0): Terraform 1.0.3's go-getter (1.5.2) then runs `git clone --depth N`
/// (the default branch only) and `git checkout <ref>`, as after a full clone; later
/// go-getter releases run `git clone --depth N --branch <ref>`.
pub(crate) fn shallow(depth: Option<&str>) -> bool {
    depth
        .and_then(decode_query_value)
        .is_some_and(|d| d.parse::<i64>().is_ok_and(|n| n > 0))
}

/// The monorepo ref a legacy ref of `target` becomes; `shallow` when the source has a
/// `depth` (see [`shallow`]), which is noted where newer Terraform releases would fetch
/// another ref.
///
/// `old` is the query value as written: go-getter URL-decodes it (`release%2F1.0` is
/// `release/1.0`), so it is looked up decoded, and the new ref is encoded where a query
/// value needs it.
pub(crate) fn map_ref(
    target: &Target,
    old: Option<&str>,
    shallow: bool,
    ctx: &Context<'_>,
) -> RefChange {
    let decoded = match old.map(decode_query_value) {
        None => None,
        Some(Some(d)) => Some(d),
        Some(None) => {
            return RefChange::Error(format!(
                "ref {:?} is not a valid URL query value (a `%` not followed by two hex digits, \
                 or not UTF-8); write the ref of {} percent-encoded or plain",
                redact::text(old.unwrap_or_default()),
                target.repo
            ))
        }
    };
    match map_decoded_ref(target, decoded.as_deref(), shallow, ctx) {
        RefChange::To(new, notes) => RefChange::To(new.map(|r| encode_query_value(&r)), notes),
        e => e,
    }
}

/// [`map_ref`] for a decoded ref; the new ref is returned decoded.
fn map_decoded_ref(
    target: &Target,
    old: Option<&str>,
    shallow: bool,
    ctx: &Context<'_>,
) -> RefChange {
    let Some(r) = old else {
        return RefChange::To(
            None,
            vec![format!(
                "no ref: pinned to nothing; follows the default branch (main) of {} instead of \
                 the legacy default branch",
                target.monorepo
            )],
        );
    };
    let (prefix, name) = if let Some(t) = r.strip_prefix("refs/tags/") {
        ("refs/tags/", t)
    } else if let Some(h) = r.strip_prefix("refs/heads/") {
        ("refs/heads/", h)
    } else {
        ("", r)
    };
    let tag = prefix != "refs/heads/" && target.tags.iter().any(|t| t == name);
    let mut notes = Vec::new();
    let mut use_tag = tag;
    if tag && prefix.is_empty() && target.has_branch(name) {
        // Terraform 1.0.3 (go-getter 1.5.2) clones (`--depth N` too when asked: then only
        // the default branch) and runs `git checkout X`, which takes the one local branch,
        // the default one, and otherwise resolves X as a tag before any remote branch.
        let default = target.default_branch.as_deref() == Some(name);
        let (what, why) = if default {
            (
                "branch",
                "it is the default branch, which `git clone` checks out and `git checkout` \
                 prefers to a tag",
            )
        } else {
            (
                "tag",
                "`git checkout` after the clone prefers a tag to a branch other than the default",
            )
        };
        let mut note = format!(
            "`{name}` names both a branch and a tag of {}; Terraform fetches the {what} ({why}), \
             so it becomes the monorepo's {what}",
            target.repo
        );
        if shallow && !default {
            note.push_str(
                "; with `depth` Terraform 1.0.3 still checks the tag out after a shallow clone \
                 of the default branch, while later go-getter releases clone `--branch X` and \
                 would fetch the branch",
            );
        }
        use_tag = !default;
        notes.push(note);
    }
    if use_tag {
        return RefChange::To(Some(format!("{prefix}{}{name}", target.tag_prefix)), notes);
    }
    if prefix != "refs/tags/" {
        if let Some(b) = target.branch(name) {
            notes.push(format!(
                "branch ref {name:?} -> {b:?}: it now moves with the whole monorepo {}",
                target.monorepo
            ));
            return RefChange::To(Some(format!("{prefix}{b}")), notes);
        }
    }
    if prefix.is_empty() && is_hex_sha(name) {
        return match ctx.commits.image(&target.repo, name) {
            Some(new) => RefChange::To(Some(new), Vec::new()),
            None => RefChange::Error(format!(
                "commit {name} of {} has no image in {}: is it on an imported branch?",
                target.repo, target.monorepo
            )),
        };
    }
    RefChange::Error(format!(
        "ref {:?} is neither a tag, an imported branch nor a commit of {} (tags, branches = \
         \"all\" in the mapping?)",
        redact::text(r),
        target.repo
    ))
}

/// `from_dir` → `to` as a local source path (`./x`, `../../x`).
fn relative_path(from_dir: &[&str], to: &str) -> String {
    let to: Vec<&str> = to
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let common = from_dir
        .iter()
        .zip(to.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = from_dir.len() - common;
    let rest = to[common..].join("/");
    let mut s = if ups == 0 {
        "./".to_string()
    } else {
        "../".repeat(ups)
    };
    s.push_str(&rest);
    if rest.is_empty() && s.len() > 2 {
        s.pop();
    }
    s
}

fn module_path(target: &Target, dir: Option<&str>) -> String {
    let base = target.path.trim_matches('/');
    match dir.map(|d| d.trim_matches('/')).filter(|d| !d.is_empty()) {
        Some(d) => format!("{base}/{d}"),
        None => base.to_string(),
    }
}

/// What the new source points at, inside a target.
struct NewSource<'x> {
    /// The module directory inside the legacy repo.
    module_dir: Option<&'x str>,
    /// The old query args to keep (`ref` is replaced or removed).
    query: Option<&'x Query>,
    /// The new ref.
    new_ref: Option<&'x str>,
    /// Whether a relative path may replace it (no ref, or the default branch).
    relative_ok: bool,
}

/// Builds the new source for `target` (see [`NewSource`]).
fn build(
    target: &Target,
    new: NewSource<'_>,
    file: &str,
    ctx: &Context<'_>,
    notes: &mut Vec<String>,
) -> String {
    let NewSource {
        module_dir,
        query,
        new_ref,
        relative_ok,
    } = new;
    let path = module_path(target, module_dir);
    if target.monorepo == ctx.monorepo {
        if ctx.same_monorepo == SameMonorepo::Relative && relative_ok {
            let dir: Vec<&str> = file.split('/').filter(|s| !s.is_empty()).collect();
            let dir = &dir[..dir.len().saturating_sub(1)];
            notes.push(format!(
                "self-reference within {}: now a relative path (same_monorepo = \"relative\")",
                target.monorepo
            ));
            return relative_path(dir, &path);
        }
        notes.push(format!(
            "self-reference within {}: kept as a pinned git source",
            target.monorepo
        ));
    }
    let mut q = query.cloned().unwrap_or_default();
    match new_ref {
        Some(r) => q.set("ref", r),
        None => q.remove("ref"),
    }
    let mut s = format!("git::{}//{path}", target.monorepo_base());
    if !q.is_empty() {
        s.push('?');
        s.push_str(&q.render());
    }
    s
}

fn decide(value: &str, version: Option<&VersionAttr>, file: &str, ctx: &Context<'_>) -> Decision {
    decide_parsed(&Address::parse(value), value, version, file, ctx)
}

/// [`decide`] for a `value` already parsed into `addr`.
fn decide_parsed(
    addr: &Address,
    value: &str,
    version: Option<&VersionAttr>,
    file: &str,
    ctx: &Context<'_>,
) -> Decision {
    match addr {
        Address::Local(_) => Decision::Leave(Reason::Local, None),
        Address::Other(_) => match ctx.targets.find_legacy(value) {
            Some(t) => Decision::Leave(Reason::LegacyReference, Some(t.repo.clone())),
            None => Decision::Leave(Reason::Other, None),
        },
        Address::Registry(r) => decide_registry(r, version, file, ctx),
        Address::Git(g) => decide_git(g, file, ctx),
    }
}

pub(crate) fn decide_git(g: &GitSource, file: &str, ctx: &Context<'_>) -> Decision {
    let Some(target) = ctx.targets.by_key(&g.repo.key) else {
        return if ctx.targets.monorepo(&g.repo.key).is_some() {
            Decision::Leave(Reason::Monorepo, None)
        } else {
            Decision::Leave(Reason::External, None)
        };
    };
    let old_ref = g.git_ref();
    let depth = g.query.as_ref().and_then(|q| q.get("depth"));
    let (new_ref, mut notes) = match map_ref(target, old_ref, shallow(depth), ctx) {
        RefChange::To(r, n) => (r, n),
        RefChange::Error(e) => return Decision::Error(e),
    };
    if !g.forced && g.repo.style == super::address::RepoStyle::Url && g.repo.raw.starts_with("http")
    {
        notes.push("had no git:: prefix (go-getter would have fetched it over HTTP)".to_string());
    }
    // A repo without a default branch is not on main: no relative path reaches it.
    let relative_ok = target
        .default_branch
        .as_deref()
        .is_some_and(|d| old_ref.is_none_or(|r| decode_query_value(r).as_deref() == Some(d)));
    let dir = g.module_dir();
    let new = build(
        target,
        NewSource {
            module_dir: dir.as_deref(),
            query: g.query.as_ref(),
            new_ref: new_ref.as_deref(),
            relative_ok,
        },
        file,
        ctx,
        &mut notes,
    );
    Decision::Rewrite {
        new,
        repo: target.repo.clone(),
        notes,
        drop_version: false,
    }
}

fn decide_registry(
    r: &RegistrySource,
    version: Option<&VersionAttr>,
    file: &str,
    ctx: &Context<'_>,
) -> Decision {
    let Some(target) = ctx.targets.by_registry(r) else {
        return Decision::Leave(Reason::External, None);
    };
    let mut notes = Vec::new();
    let constraint = match (version, r.tfr_version()) {
        (Some(VersionAttr::Expression), _) => {
            return Decision::Leave(Reason::Expression, Some(target.repo.clone()))
        }
        (Some(VersionAttr::Literal(v, _)), _) => v.clone(),
        (None, Some(v)) => v.to_string(),
        (None, None) => {
            notes.push(
                "no version constraint: pinned to the highest legacy release tag".to_string(),
            );
            ">= 0.0.0".to_string()
        }
    };
    let tag = match ctx.targets.highest_matching(target, &constraint) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Decision::Error(format!(
                "no tag of {} satisfies version {:?} of registry module {} ({} tags): tag the \
                 legacy repo or change the constraint",
                target.repo,
                constraint,
                r.module(),
                target.tags.len()
            ))
        }
        Err(e) => return Decision::Error(e.to_string()),
    };
    notes.insert(
        0,
        format!(
            "registry module {} version {constraint:?} -> legacy tag {tag}",
            r.module()
        ),
    );
    let new_ref = format!("{}{tag}", target.tag_prefix);
    // A tfr:// query may carry more than `version`; keep the rest.
    let query = r.query.as_ref().map(|q| {
        let mut q = q.clone();
        q.remove("version");
        q
    });
    let new = build(
        target,
        NewSource {
            module_dir: r.subdir.as_deref(),
            query: query.as_ref().filter(|q| !q.is_empty()),
            new_ref: Some(&new_ref),
            relative_ok: false,
        },
        file,
        ctx,
        &mut notes,
    );
    Decision::Rewrite {
        new,
        repo: target.repo.clone(),
        notes,
        drop_version: matches!(version, Some(VersionAttr::Literal(..))),
    }
}

/// At most this many mentions are listed per unparsed file.
const MAX_MENTIONS: usize = 20;

/// The lines of an unparsed file that mention a legacy repo or a forked registry module: a
/// lexical scan, since the file has no structure to walk.
fn mentions(content: &str, ctx: &Context<'_>) -> Vec<super::Mention> {
    if !ctx.targets.may_mention(content) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, line) in content.lines().enumerate() {
        if let Some(t) = ctx.targets.mentioned_in(line) {
            let text: String = line.trim().chars().take(200).collect();
            out.push(super::Mention {
                line: n + 1,
                text,
                repo: t.repo.clone(),
            });
            if out.len() == MAX_MENTIONS {
                break;
            }
        }
    }
    out
}

/// Rewrites the module sources of one file (see the module docs for the rules).
///
/// `file` is the file's path inside its monorepo (`dev/korea/api/static/main.tf`): it picks
/// the parser ([`is_source_file`](super::is_source_file); other files are returned
/// unchanged) and anchors relative paths. Line numbers are 1-based lines of the original
/// `content`. A file that does not parse is left unchanged and described in
/// [`FileOutcome::unparsed`](super::FileOutcome::unparsed), with the lines that mention a
/// legacy repo.
pub fn rewrite_file(file: &str, content: &str, ctx: &Context<'_>) -> FileOutcome {
    let Some(kind) = FileKind::of(file) else {
        return FileOutcome::default();
    };
    let mut rw = Rewriter {
        ctx,
        file,
        content,
        edits: Vec::new(),
        out: FileOutcome::default(),
        newlines: content
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect(),
    };
    let ok = match kind {
        FileKind::Json | FileKind::TerragruntJson => super::jsonfile::walk(&mut rw, kind),
        _ => super::hclfile::walk(&mut rw, kind),
    };
    if !ok {
        rw.edits.clear();
        if let Some(unparsed) = &mut rw.out.unparsed {
            unparsed.mentions = mentions(content, ctx);
        }
    }
    rw.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{CommitMap, Targets};
    use proptest::prelude::*;

    fn targets() -> Targets {
        Targets::new(vec![Target {
            repo: "x".into(),
            legacy_url: "https://github.com/acme/x.git".into(),
            monorepo: "m".into(),
            monorepo_url: "git::https://github.com/acme/m.git".into(),
            path: "x".into(),
            tag_prefix: "x/".into(),
            registry: vec!["ns/x/aws".into()],
            tags: vec!["v1.0.0".into()],
            default_branch: Some("master".into()),
            branches: vec![],
            other_branches: vec![],
        }])
    }

    proptest! {
        /// Arbitrary (mostly broken) files never panic, and a changed file still parses.
        #[test]
        fn arbitrary_files_never_panic(
            pieces in proptest::collection::vec(prop_oneof![
                Just("module \"a\" {\n".to_string()),
                Just("  source = \"git::https://github.com/acme/x.git?ref=v1.0.0\"\n".to_string()),
                Just("  source  = \"ns/x/aws\"\n  version = \"~> 1.0\"\n".to_string()),
                Just("}\n".to_string()),
                Just("{\"module\": {\"a\": {\"source\": \"github.com/acme/x?ref=v1.0.0\"}}}".to_string()),
                Just("terraform {\n source = \"github.com/acme/x\"\n}\n".to_string()),
                Just("# github.com/acme/x\n".to_string()),
                ".{0,12}",
            ], 0..12),
            kind in 0..3usize,
        ) {
            let content: String = pieces.concat();
            let file = ["main.tf", "main.tf.json", "terragrunt.hcl"][kind];
            let t = targets();
            let c = CommitMap::new();
            let ctx = Context { targets: &t, commits: &c, monorepo: "live", same_monorepo: SameMonorepo::Pinned, split: None };
            let out = rewrite_file(file, &content, &ctx);
            if let Some(new) = &out.new_content {
                match kind {
                    1 => prop_assert!(serde_json::from_str::<serde_json::Value>(new).is_ok()),
                    // Both readers read it back if they read the original.
                    _ => {
                        prop_assert!(super::super::syntax::scan(new).is_ok(), "{}", new);
                        if hcl_edit::parser::parse_body(&content).is_ok() {
                            prop_assert!(hcl_edit::parser::parse_body(new).is_ok(), "{}", new);
                        }
                    }
                }
                let again = rewrite_file(file, new, &ctx);
                prop_assert_eq!(again.new_content, None);
            }
        }
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative_path(&["dev", "korea"], "alb"), "../../alb");
        assert_eq!(relative_path(&["svc"], "svc/modules/x"), "./modules/x");
        assert_eq!(relative_path(&[], "alb"), "./alb");
        assert_eq!(relative_path(&["a", "b"], "a/c"), "../c");
        assert_eq!(relative_path(&["a"], "a"), "./");
    }

    #[test]
    fn whole_line_removal() {
        let s = "a {\n  source = 1\n  version = \"1\" # pin\n}\n";
        let start = s.find("version").expect("present");
        let end = start + "version = \"1\"".len();
        let r = whole_lines(s, start..end);
        assert_eq!(
            format!("{}{}", &s[..r.start], &s[r.end..]),
            "a {\n  source = 1\n}\n"
        );
    }

    #[test]
    fn file_kinds() {
        assert_eq!(FileKind::of("a/main.tf"), Some(FileKind::Terraform));
        assert_eq!(FileKind::of("a/main.tf.json"), Some(FileKind::Json));
        assert_eq!(FileKind::of("terragrunt.hcl"), Some(FileKind::Terragrunt));
        assert_eq!(FileKind::of("README.md"), None);
        assert_eq!(FileKind::of("main.tofu"), Some(FileKind::Terraform));
        assert_eq!(FileKind::of("x_override.tf"), Some(FileKind::Terraform));
        assert_eq!(FileKind::of("a.tofu.json"), Some(FileKind::Json));
        assert_eq!(
            FileKind::of("terragrunt.hcl.json"),
            Some(FileKind::TerragruntJson)
        );
        assert_eq!(FileKind::of("t/basic.tftest.hcl"), Some(FileKind::Test));
        assert_eq!(FileKind::of("t/basic.tofutest.hcl"), Some(FileKind::Test));
        assert_eq!(
            FileKind::of("live/terragrunt.stack.hcl"),
            Some(FileKind::Stack)
        );
        assert_eq!(FileKind::of("main.tf.bak"), None);
    }
}

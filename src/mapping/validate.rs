//! Validation of a parsed mapping, and the expansion of rules over the inventory.
//!
//! Every check adds a [`Problem`] naming `file:line:column` (or the inventory file and
//! line) and the fix; all problems are reported together so a user fixes them in one go.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;

use super::parse::{did_you_mean, Parsed, RawFile};
use super::rules;
use super::{
    Branches, Error, Mapping, Monorepo, Origin, Position, Problem, RepoSpec, SameMonorepo,
    Unmatched,
};

struct Checker<'a> {
    parsed: &'a Parsed,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            at: self.parsed.place(key),
            message: message.into(),
        });
    }

    fn choice<T: Copy>(
        &mut self,
        key: &str,
        value: Option<&str>,
        options: &[(&str, T)],
    ) -> Option<T> {
        let value = value?;
        match options.iter().find(|(name, _)| *name == value) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.problem(
                    key,
                    format!(
                        "`{}` must be one of {}, not \"{value}\"",
                        key.rsplit('.').next().unwrap_or(key),
                        quoted(&names)
                    ),
                );
                None
            }
        }
    }

    fn monorepo(&mut self, key: &str, into: &str, known: &[Monorepo]) {
        if !known.iter().any(|m| m.name == into) {
            let names: Vec<&str> = known.iter().map(|m| m.name.as_str()).collect();
            let hint = match did_you_mean(into, &names) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!(
                    "declare it with `monorepo \"{into}\" {{ url = \"…\" }}` or use one of {}",
                    quoted(&names)
                ),
            };
            self.problem(key, format!("unknown monorepo \"{into}\"; {hint}"));
        }
    }

    fn path(&mut self, key: &str, path: &str, context: &str) -> bool {
        match check_path(path) {
            Ok(()) => true,
            Err(why) => {
                self.problem(key, format!("{context}path {path:?} {why}; use a relative path like \"dev/korea/api/static\""));
                false
            }
        }
    }

    fn tag_prefix(&mut self, key: &str, prefix: &str, context: &str) {
        if let Err(why) = check_tag_prefix(prefix) {
            self.problem(key, format!("{context}tag_prefix {prefix:?} does not make valid tag names: it {why}; use letters, digits, `-`, `_`, `.` and `/`, e.g. \"alb/\""));
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns why `path` cannot be a monorepo path, if it cannot.
///
/// These are git's own rules for tree entries (`verify_path` in git's `read-cache.c`, enforced
/// by `fsck` on push to any fsck-checking remote), so a tree tfmono writes is accepted
/// everywhere: no `.git` or `.gitmodules` component in any spelling a case-insensitive,
/// NTFS or HFS+ file system treats as the same name, no control bytes, no `.`/`..`/empty
/// components.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("is empty".into());
    }
    if path.starts_with('/') || path.contains('\\') || path.chars().nth(1) == Some(':') {
        return Err("is absolute".into());
    }
    check_components(path.split('/'))
}

/// Returns why a `/`-separated list of names cannot all be tree entry names, if it cannot.
fn check_components<'a>(components: impl Iterator<Item = &'a str>) -> Result<(), String> {
    for c in components {
        if let Some(b) = c.bytes().find(|b| *b < 0x20 || *b == 0x7f) {
            return Err(format!("contains the control byte 0x{b:02x}"));
        }
        if c == ".." {
            return Err("contains `..`".into());
        }
        if c.is_empty() || c == "." {
            return Err("has an empty or `.` component".into());
        }
        match git_special(c) {
            Some(GitName::Dir) => {
                return Err(format!(
                    "has the component {c:?}, which git reads as `.git` (case-insensitive, NTFS or HFS+ alias)"
                ))
            }
            Some(GitName::Modules) => {
                return Err(format!(
                    "has the component {c:?}, which git reads as `.gitmodules` (case-insensitive, NTFS or HFS+ alias)"
                ))
            }
            None => {}
        }
    }
    Ok(())
}

/// A name git treats as special on some file system.
#[derive(Debug, PartialEq, Eq)]
enum GitName {
    Dir,
    Modules,
}

/// Returns which of `.git` / `.gitmodules` the component `c` aliases, if any: after dropping
/// the code points HFS+ ignores, an NTFS alternate data stream (`:…`) and the trailing dots
/// and spaces NTFS ignores, compared case-insensitively, with the 8.3 short names.
fn git_special(c: &str) -> Option<GitName> {
    let no_hfs: String = c.chars().filter(|ch| !hfs_ignorable(*ch)).collect();
    let no_stream = no_hfs.split(':').next().unwrap_or_default();
    let name = no_stream.trim_end_matches(['.', ' ']).to_lowercase();
    if name == ".git" || name == "git~1" {
        return Some(GitName::Dir);
    }
    let short_modules = name
        .strip_prefix("gitmod~")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let hashed_modules = name
        .strip_prefix("gi7eba~")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if name == ".gitmodules" || short_modules || hashed_modules {
        return Some(GitName::Modules);
    }
    None
}

/// Whether HFS+ ignores `ch` in file names (git's `next_hfs_char` list).
fn hfs_ignorable(ch: char) -> bool {
    matches!(
        ch,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}'
    )
}

/// Returns why `prefix` cannot prefix tag names, if it cannot: `git check-ref-format` on
/// `refs/tags/<prefix>v1.0.0`, a full component ending in `.`, and the tree-entry rules of
/// [`check_components`] (loose refs are files, so `.git` aliases and control bytes are out).
fn check_tag_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("is empty".into());
    }
    let components: Vec<&str> = prefix.split('/').collect();
    let (last, full) = components.split_last().unwrap_or((&"", &[]));
    let mut all = full.to_vec();
    if !last.is_empty() {
        all.push(last);
    }
    check_components(all.iter().copied())?;
    if let Some(c) = full.iter().find(|c| c.ends_with('.')) {
        return Err(format!("has the component {c:?} ending in `.`"));
    }
    for bad in ["..", "@{"] {
        if prefix.contains(bad) {
            return Err(format!("contains `{bad}`"));
        }
    }
    if let Some(ch) = prefix
        .chars()
        .find(|ch| matches!(ch, '~' | '^' | ':' | '?' | '*' | '[' | '\\' | ' '))
    {
        return Err(format!("contains {ch:?}"));
    }
    let probe = format!("refs/tags/{prefix}v1.0.0");
    if gix::validate::reference::name(probe.as_bytes().into()).is_err() {
        return Err(
            "breaks `git check-ref-format` (a component starting with `.` or ending in `.lock`?)"
                .into(),
        );
    }
    Ok(())
}

struct Rule {
    name: String,
    regex: Regex,
    into: String,
    path: String,
    tag_prefix: Option<String>,
    registry: Vec<String>,
    branches: Branches,
    matched: usize,
}

/// Validates `parsed` and expands it into a [`Mapping`].
pub(super) fn validate(
    file: &Path,
    base_dir: &Path,
    text: &str,
    parsed: Parsed,
) -> Result<Mapping, Error> {
    let mut c = Checker {
        parsed: &parsed,
        problems: Vec::new(),
    };
    let raw: &RawFile = &parsed.raw;
    let unmatched = c
        .choice(
            "unmatched",
            raw.unmatched.as_deref(),
            &[("error", Unmatched::Error), ("skip", Unmatched::Skip)],
        )
        .unwrap_or_default();
    let same_monorepo = c
        .choice(
            "same_monorepo",
            raw.same_monorepo.as_deref(),
            &[
                ("pinned", SameMonorepo::Pinned),
                ("relative", SameMonorepo::Relative),
            ],
        )
        .unwrap_or_default();

    let monorepos = check_monorepos(&mut c);
    let mut repos = explicit_repos(&mut c, &monorepos);
    let mut rules_list = compile_rules(&mut c, &monorepos);

    let inventory = raw.inventory.as_ref().map(|p| base_dir.join(p));
    let mut warnings = Vec::new();
    if let Some(inv_path) = &inventory {
        let expanded = Expansion {
            inv_path,
            unmatched,
            repos: &mut repos,
            rules: &mut rules_list,
            warnings: &mut warnings,
        };
        expand_inventory(&mut c, expanded)?;
    }
    unused_warnings(&parsed, &rules_list, &monorepos, &repos, &mut warnings);

    check_collisions(&mut c, &repos);
    let identity = raw.identity.as_ref().and_then(|id| {
        let get = |k: &str| id.get(k).map(String::as_str).unwrap_or_default();
        match super::Identity::check(get("name"), get("email")) {
            Ok(i) => Some(i),
            Err(why) => {
                c.problem("identity", format!("`identity`: {why}; write `identity = {{ name = \"Platform Team\", email = \"platform@example.com\" }}`"));
                None
            }
        }
    });
    let snapshots = raw
        .snapshots
        .iter()
        .map(|(root, f)| {
            let entry = super::SnapshotFile {
                file: base_dir.join(f),
                at: parsed.place(&format!("snapshots.{root}")),
            };
            (root.clone(), entry)
        })
        .collect();

    let raw_state: Vec<(String, Position, hcl::Value)> = raw
        .state
        .iter()
        .map(|(label, value)| {
            (
                label.clone(),
                parsed.at(&format!("state.{label}")),
                value.clone(),
            )
        })
        .collect();
    let (state, state_problems) =
        super::state::parse(&file.display().to_string(), text, &raw_state);
    c.problems.extend(state_problems);
    if !c.problems.is_empty() {
        return Err(Error::Invalid {
            file: file.to_owned(),
            problems: c.problems,
        });
    }
    repos.sort_by(|a, b| (&a.into, &a.path).cmp(&(&b.into, &b.path)));
    Ok(Mapping {
        file: file.to_owned(),
        base_dir: base_dir.to_owned(),
        text: text.to_string(),
        monorepos,
        repos_dir: raw.repos_dir.as_ref().map(|d| base_dir.join(d)),
        inventory,
        unmatched,
        same_monorepo,
        repos,
        state,
        warnings,
        identity,
        snapshots,
    })
}

const BRANCH_OPTIONS: [(&str, Branches); 2] =
    [("default", Branches::Default), ("all", Branches::All)];

/// The `monorepo` blocks in file order; an empty url or no block at all is a problem.
fn check_monorepos(c: &mut Checker<'_>) -> Vec<Monorepo> {
    let parsed = c.parsed;
    let raw: &RawFile = &parsed.raw;
    let mut monorepos = Vec::new();
    for (kind, label) in &parsed.order {
        if kind == "monorepo" {
            let url = raw
                .monorepo
                .get(label)
                .map(|m| m.url.clone())
                .unwrap_or_default();
            if url.trim().is_empty() {
                c.problem(
                    &format!("monorepo.{label}.url"),
                    format!("monorepo \"{label}\" has an empty url"),
                );
            }
            monorepos.push(Monorepo {
                name: label.clone(),
                url,
            });
        }
    }
    if monorepos.is_empty() {
        c.problem("", "no `monorepo` block: declare at least one, e.g. `monorepo \"live\" { url = \"git::https://github.com/acme/live.git\" }`");
    }
    monorepos
}

/// The repos of the `repo` blocks, checked.
fn explicit_repos(c: &mut Checker<'_>, monorepos: &[Monorepo]) -> Vec<RepoSpec> {
    let parsed = c.parsed;
    let mut repos: Vec<RepoSpec> = Vec::new();
    for (name, r) in &parsed.raw.repo {
        let key = format!("repo.{name}");
        c.monorepo(&format!("{key}.into"), &r.into, monorepos);
        let path_ok = c.path(&format!("{key}.path"), &r.path, "");
        let tag_prefix = r
            .tag_prefix
            .clone()
            .unwrap_or_else(|| format!("{}/", r.path));
        // A derived prefix (`<path>/`) is reported at `path`, the attribute to fix.
        let attr = if r.tag_prefix.is_some() {
            "tag_prefix"
        } else {
            "path"
        };
        if path_ok || r.tag_prefix.is_some() {
            c.tag_prefix(&format!("{key}.{attr}"), &tag_prefix, "");
        }
        let branches = c
            .choice(
                &format!("{key}.branches"),
                r.branches.as_deref(),
                &BRANCH_OPTIONS,
            )
            .unwrap_or_default();
        repos.push(RepoSpec {
            name: name.clone(),
            url: r.url.clone(),
            into: r.into.clone(),
            path: r.path.clone(),
            tag_prefix,
            registry: r.registry.clone(),
            branches,
            origin: Origin::Repo(parsed.at(&key)),
        });
    }
    repos
}

/// The `rule` blocks with their regexes compiled and placeholders checked; a rule whose
/// regex does not compile is left out (after its problem is recorded).
fn compile_rules(c: &mut Checker<'_>, monorepos: &[Monorepo]) -> Vec<Rule> {
    let parsed = c.parsed;
    let mut rules_list = Vec::new();
    for (name, r) in &parsed.raw.rule {
        let key = format!("rule.{name}");
        c.monorepo(&format!("{key}.into"), &r.into, monorepos);
        let branches = c
            .choice(
                &format!("{key}.branches"),
                r.branches.as_deref(),
                &BRANCH_OPTIONS,
            )
            .unwrap_or_default();
        let regex = match Regex::new(&r.pattern) {
            Ok(re) => re,
            Err(e) => {
                let detail = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                c.problem(&format!("{key}.match"), format!("rule \"{name}\": `match` is not a valid regex ({detail}); check brackets and escapes (`\\\\.` for a dot)"));
                continue;
            }
        };
        let groups: Vec<&str> = regex.capture_names().flatten().collect();
        let templates = std::iter::once(("path", &r.path))
            .chain(r.tag_prefix.iter().map(|t| ("tag_prefix", t)))
            .chain(r.registry.iter().map(|t| ("registry", t)));
        for (attr, template) in templates {
            for ph in rules::placeholders(template) {
                if !groups.contains(&ph.as_str()) {
                    c.problem(
                        &format!("{key}.{attr}"),
                        format!("rule \"{name}\": placeholder {{{ph}}} in `{attr}` names no capture group of `match`; add `(?P<{ph}>…)` to the regex or use one of {}", quoted(&groups)),
                    );
                }
            }
        }
        rules_list.push(Rule {
            name: name.clone(),
            regex,
            into: r.into.clone(),
            path: r.path.clone(),
            tag_prefix: r.tag_prefix.clone(),
            registry: r.registry.clone(),
            branches,
            matched: 0,
        });
    }
    rules_list
}

/// What the expansion of the rules over the inventory reads and adds to.
struct Expansion<'a> {
    inv_path: &'a Path,
    unmatched: Unmatched,
    repos: &'a mut Vec<RepoSpec>,
    rules: &'a mut Vec<Rule>,
    warnings: &'a mut Vec<String>,
}

/// Reads the inventory at `e.inv_path` and adds a repo for every entry no `repo` block
/// names, through the one rule that matches it.
fn expand_inventory(c: &mut Checker<'_>, e: Expansion<'_>) -> Result<(), Error> {
    let parsed = c.parsed;
    let Expansion {
        inv_path,
        unmatched,
        repos,
        rules: rules_list,
        warnings,
    } = e;
    let inv_text = std::fs::read_to_string(inv_path).map_err(|source| Error::ReadInventory {
        file: inv_path.to_owned(),
        at: parsed.place("inventory"),
        source,
    })?;
    let entries = rules::read_inventory(&inv_text);
    let explicit: std::collections::HashSet<String> =
        repos.iter().map(|r| rules::identity(&r.url)).collect();
    // The first line naming each repo (by identity), to catch a repo listed twice.
    let mut seen: std::collections::HashMap<String, (usize, String)> =
        std::collections::HashMap::new();
    for entry in entries {
        let ident = rules::identity(&entry.url);
        if let Some((first, first_url)) = seen.get(&ident) {
            let at_inv = format!("{}:{}", inv_path.display(), entry.line);
            let url = crate::redact::url(&entry.url);
            if *first_url == entry.url {
                // The same text twice (concatenated listings): harmless, it can only
                // mean the one repo, so it is imported once.
                warnings.push(format!("{at_inv}: {url} is listed again (first at line {first}); the repeat is ignored"));
            } else {
                // Two spellings of one repo: which one decides the clone URL and which
                // rule matches, so the user must choose.
                c.problems.push(Problem {
                    at: at_inv,
                    message: format!("{url} is listed twice: line {first} ({}) names the same repo; keep one of the two lines", crate::redact::url(first_url)),
                });
            }
            continue;
        }
        seen.insert(ident.clone(), (entry.line, entry.url.clone()));
        if explicit.contains(&ident) {
            continue; // a `repo` block names it: explicit beats patterns
        }
        let hits: Vec<usize> = rules_list
            .iter()
            .enumerate()
            .filter(|(_, r)| r.regex.is_match(&entry.url))
            .map(|(i, _)| i)
            .collect();
        let at_inv = format!("{}:{}", inv_path.display(), entry.line);
        let url = crate::redact::url(&entry.url);
        match hits.as_slice() {
            [] => match unmatched {
                Unmatched::Error => c.problems.push(Problem {
                    at: at_inv,
                    message: format!("{url} is matched by no repo or rule; add a rule for it, or set `unmatched = \"skip\"` to leave it out"),
                }),
                Unmatched::Skip => warnings.push(format!("{at_inv}: {url} matched by no rule; skipped")),
            },
            [i] => {
                let spec = from_rule(c, &mut rules_list[*i], &entry, &url);
                repos.push(spec);
            }
            many => {
                let names: Vec<&str> = many.iter().map(|i| rules_list[*i].name.as_str()).collect();
                c.problems.push(Problem {
                    at: at_inv,
                    message: format!("{url} is matched by rules {}; make the `match` regexes exclusive or add a `repo` block for it", quoted(&names)),
                });
            }
        }
    }
    Ok(())
}

/// The repo `rule` makes of the inventory entry `entry` (`url` redacted), checked.
fn from_rule(c: &mut Checker<'_>, rule: &mut Rule, entry: &rules::Entry, url: &str) -> RepoSpec {
    let parsed = c.parsed;
    rule.matched += 1;
    let caps = rule
        .regex
        .captures(&entry.url)
        .expect("the regex matched this entry above");
    let path = rules::expand(&rule.path, &caps);
    let tag_prefix = rule
        .tag_prefix
        .as_ref()
        .map_or_else(|| format!("{path}/"), |t| rules::expand(t, &caps));
    let registry = rule
        .registry
        .iter()
        .map(|t| rules::expand(t, &caps))
        .collect();
    let key = format!("rule.{}", rule.name);
    let context = format!(
        "inventory line {} ({url}) via rule \"{}\": ",
        entry.line, rule.name
    );
    let origin = Origin::Rule {
        rule: rule.name.clone(),
        at: parsed.at(&key),
        inventory_line: entry.line,
    };
    let spec = RepoSpec {
        name: rules::repo_name(&entry.url),
        url: entry.url.clone(),
        into: rule.into.clone(),
        path,
        tag_prefix,
        registry,
        branches: rule.branches,
        origin,
    };
    if c.path(&format!("{key}.path"), &spec.path, &context) {
        let attr = if rule.tag_prefix.is_some() {
            "tag_prefix"
        } else {
            "path"
        };
        c.tag_prefix(&format!("{key}.{attr}"), &spec.tag_prefix, &context);
    }
    spec
}

/// Warnings for a rule that matches no inventory entry and a monorepo that receives no repo.
fn unused_warnings(
    parsed: &Parsed,
    rules_list: &[Rule],
    monorepos: &[Monorepo],
    repos: &[RepoSpec],
    warnings: &mut Vec<String>,
) {
    for rule in rules_list {
        if rule.matched == 0 {
            warnings.push(format!(
                "{}: rule \"{}\" matches no inventory entry",
                parsed.place(&format!("rule.{}", rule.name)),
                rule.name
            ));
        }
    }

    for m in monorepos {
        if !repos.iter().any(|r| r.into == m.name) {
            warnings.push(format!(
                "{}: monorepo \"{}\" receives no repo; apply leaves it empty and push.sh skips it",
                parsed.place(&format!("monorepo.{}", m.name)),
                m.name
            ));
        }
    }
}

fn describe(r: &RepoSpec) -> String {
    format!("\"{}\" ({})", r.name, r.origin)
}

/// Checks names, paths and tag prefixes for clashes between repos.
fn check_collisions(c: &mut Checker<'_>, repos: &[RepoSpec]) {
    let mut by_name: BTreeMap<&str, &RepoSpec> = BTreeMap::new();
    for r in repos {
        if let Some(first) = by_name.insert(&r.name, r) {
            c.problems.push(Problem {
                at: c.parsed.file.clone(),
                message: format!(
                    "two repos are named \"{}\": {} and {}; rename one with a `repo` block",
                    r.name,
                    describe(first),
                    describe(r)
                ),
            });
        }
    }
    let mut by_monorepo: BTreeMap<&str, Vec<&RepoSpec>> = BTreeMap::new();
    for r in repos {
        by_monorepo.entry(&r.into).or_default().push(r);
    }
    for (mono, list) in by_monorepo {
        // Compared case-folded: `App` and `app` are one directory on the case-insensitive
        // file systems of macOS and Windows, where a checkout would mix both repos' files.
        let slashed: Vec<String> = list
            .iter()
            .map(|r| format!("{}/", r.path).to_lowercase())
            .collect();
        let prefixes: Vec<String> = list.iter().map(|r| r.tag_prefix.to_lowercase()).collect();
        // Every pair is compared only when some pair clashes (found in sorted order): a
        // 1,000-repo mapping has half a million pairs.
        if !any_prefix_pair(&slashed) && !any_prefix_pair(&prefixes) {
            continue;
        }
        for (i, a) in list.iter().enumerate() {
            for (j, b) in list.iter().enumerate().skip(i + 1) {
                let (ap, bp) = (slashed[i].as_str(), slashed[j].as_str());
                // Only where there is a problem: formatting a place for every pair was most of
                // a 1,000-repo mapping's load.
                let at = || place_of(c.parsed, b, "path");
                if ap == bp {
                    let message = if a.path == b.path {
                        format!("{} and {} both go to path \"{}\" in monorepo \"{mono}\"; give each its own path", describe(a), describe(b), a.path)
                    } else {
                        format!("{} goes to path \"{}\" and {} to path \"{}\" in monorepo \"{mono}\": they differ only in case, so they are one directory on macOS and Windows; give each its own path", describe(a), a.path, describe(b), b.path)
                    };
                    c.problems.push(Problem { at: at(), message });
                } else if ap.starts_with(bp) || bp.starts_with(ap) {
                    let (outer, inner) = if ap.starts_with(bp) { (b, a) } else { (a, b) };
                    c.problems.push(Problem {
                        at: at(),
                        message: format!("path \"{}\" of {} is nested in path \"{}\" of {} in monorepo \"{mono}\"; paths must not contain each other (compared ignoring case, as macOS and Windows do)", inner.path, describe(inner), outer.path, describe(outer)),
                    });
                }
                let (at_, bt) = (prefixes[i].as_str(), prefixes[j].as_str());
                if at_.starts_with(bt) || bt.starts_with(at_) {
                    let case = if a.tag_prefix.starts_with(&b.tag_prefix)
                        || b.tag_prefix.starts_with(&a.tag_prefix)
                    {
                        ""
                    } else {
                        " (ignoring case: loose refs are files, one name on macOS and Windows)"
                    };
                    c.problems.push(Problem {
                        at: place_of(c.parsed, b, "tag_prefix"),
                        message: format!("tag prefixes \"{}\" of {} and \"{}\" of {} can make the same tag name in monorepo \"{mono}\"{case}; choose prefixes that are not prefixes of each other (end them with `/`)", a.tag_prefix, describe(a), b.tag_prefix, describe(b)),
                    });
                }
            }
        }
    }
}

/// Whether one string of `list` is a prefix of (or equal to) another. In sorted order the
/// strings between a prefix and a string it begins begin with it too, so neighbours tell.
fn any_prefix_pair(list: &[String]) -> bool {
    let mut sorted: Vec<&str> = list.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[1].starts_with(w[0]))
}

/// Returns `file:line:column` of attribute `attr` of the block `r` comes from (its `path`
/// when `attr` is not written, as for a tag prefix derived from the path).
fn place_of(parsed: &Parsed, r: &RepoSpec, attr: &str) -> String {
    let block = match &r.origin {
        Origin::Repo(_) => format!("repo.{}", r.name),
        Origin::Rule { rule, .. } => format!("rule.{rule}"),
    };
    let key = format!("{block}.{attr}");
    if parsed.positions.contains_key(&key) {
        parsed.place(&key)
    } else {
        parsed.place(&format!("{block}.path"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_pair_is_found_wherever_it_sorts() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!any_prefix_pair(&v(&[])));
        assert!(!any_prefix_pair(&v(&["b/", "a/", "ab/", "a-b/"])));
        assert!(any_prefix_pair(&v(&["x/", "a/", "x/"])), "equal");
        // "a/" begins "a/c/" two places away in sorted order, and "a/b/" in between.
        assert!(any_prefix_pair(&v(&["a/c/", "z/", "a/", "a/b/"])));
        assert!(any_prefix_pair(&v(&["svc/x/", "svc/"])));
        assert!(!any_prefix_pair(&v(&["svc/", "svc-x/"])));
    }

    #[test]
    fn paths_git_refuses() {
        for bad in [
            "a/.git",
            "a/.GIT",
            ".Git",
            ".git.",
            ".git ",
            ".git. .",
            "git~1",
            "GIT~1/x",
            ".g\u{200c}it",
            "\u{feff}.git",
            ".git::$INDEX_ALLOCATION",
            ".gitmodules",
            "x/.GitModules",
            ".gitmodules.",
            "gitmod~1",
            "GI7EBA~1",
            "a\0b",
            "a\nb",
            "a\x7fb",
            "a/../b",
            "a//b",
            "a/./b",
            "a/",
            "",
            "/abs",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "alb",
            "dev/korea/api/static",
            ".github",
            "gitx",
            "a.git",
            "git",
            ".gitignore",
        ] {
            assert_eq!(check_path(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn tag_prefixes_check_ref_format_refuses() {
        for bad in [
            "a..b/", "a@{b/", "a~/", "a^/", "a:/", "a?/", "a*/", "a[/", "a\\/", ".a/", "a.lock/",
            "a./", "a/.git/", "a\tb/", "", "a//",
        ] {
            assert!(check_tag_prefix(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["alb/", "dev/korea/api/static/", "alb-", "v.", "a.b/"] {
            assert_eq!(check_tag_prefix(good), Ok(()), "{good:?}");
        }
    }
}

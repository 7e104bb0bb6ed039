//! Terragrunt's split source, as in Gruntwork's own live example: an included file holds the
//! base URL in a local (`_envcommon/mysql.hcl`: `locals { base_source_url =
//! "git::git@github.com:acme/modules.git//mysql" }`) and each unit composes
//! `source = "${include.envcommon.locals.base_source_url}?ref=v0.8.0"`.
//!
//! Neither half is a complete source on its own, so both are rewritten together or not at
//! all: [`SplitTable::build`] looks at every base local and every unit of one tree (a repo's
//! default branch, or one tag) and decides, per local name, whether every unit's ref maps
//! to the monorepo. When it does, the base URL becomes the monorepo URL and path, and each
//! unit's `?ref=` the mapped ref. When it does not (the name points at different repos, a
//! unit's ref is unknown), neither half changes and every place is reported as needing
//! attention with the reason.

use std::collections::BTreeMap;
use std::ops::Range;

use super::address::Address;
use super::rewrite::{map_ref, FileKind, RefChange};
use super::syntax;
use super::{Context, Targets};

/// What one file contributes to a split source: base locals it defines, units it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SplitParts {
    /// `(local name, legacy repo)` for each ref-less git source of a legacy repo in a
    /// `locals` block.
    pub bases: Vec<(String, String)>,
    /// `(local name, ref)` for each `terraform { source = "${…locals.NAME}?ref=…" }`.
    pub units: Vec<(String, Option<String>)>,
}

/// One local name's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SplitEntry {
    /// The legacy repo the base URL points at.
    pub repo: String,
    /// Why the halves cannot be rewritten consistently; `None` when they can.
    pub problem: Option<String>,
    /// How many units use it.
    pub units: usize,
}

/// Every split source of one tree, by local name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SplitTable {
    entries: BTreeMap<String, SplitEntry>,
}

/// A unit's source template: `"${<expr>.NAME}<query>"`.
pub(crate) struct UnitTemplate {
    /// The local's name.
    pub name: String,
    /// The `ref` value, if any.
    pub git_ref: Option<String>,
    /// The bytes of the ref value inside the token.
    pub ref_range: Option<Range<usize>>,
}

/// Parses a unit's `source` token (quotes included): `"${include.X.locals.NAME}?ref=R"` or
/// `"${local.NAME}?ref=R"`, with any other query arguments; nothing else.
pub(crate) fn parse_unit(token: &str) -> Option<UnitTemplate> {
    let inner = token.strip_prefix('"')?.strip_suffix('"')?;
    let rest = inner.strip_prefix("${")?;
    let close = rest.find('}')?;
    let expr = rest[..close].trim();
    let suffix = &rest[close + 1..];
    let parts: Vec<&str> = expr.split('.').collect();
    let name = match parts.as_slice() {
        ["local", name] => *name,
        ["include", _, "locals", name] => *name,
        _ => return None,
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !parts.iter().all(|p| ident(p)) {
        return None;
    }
    if suffix.contains(['$', '%', '"', '\\', '{', '}']) {
        return None;
    }
    let (git_ref, ref_range) = if suffix.is_empty() {
        (None, None)
    } else {
        let query = suffix.strip_prefix('?')?;
        // Offset of the query inside the token: `"` + `${` + expr + `}` + `?`.
        let base = 1 + 2 + close + 1 + 1;
        let mut at = base;
        let mut found = (None, None);
        for arg in query.split('&') {
            if let Some(v) = arg.strip_prefix("ref=") {
                let start = at + 4;
                found = (Some(v.to_string()), Some(start..start + v.len()));
            }
            at += arg.len() + 1;
        }
        found
    };
    Some(UnitTemplate {
        name: name.to_string(),
        git_ref,
        ref_range,
    })
}

/// The ref-less legacy git source `value`, as a base URL: its legacy repo.
pub(crate) fn base_repo(value: &str, targets: &Targets) -> Option<String> {
    match Address::parse(value) {
        Address::Git(g) if g.git_ref().is_none() => {
            targets.by_key(&g.repo.key).map(|t| t.repo.clone())
        }
        _ => None,
    }
}

/// What `content` (a Terragrunt file at `file`) contributes to split sources. Files of other
/// kinds and files that do not parse contribute nothing.
pub fn collect(file: &str, content: &str, targets: &Targets) -> SplitParts {
    let mut parts = SplitParts::default();
    if FileKind::of(file) != Some(FileKind::Terragrunt) {
        return parts;
    }
    let parsed = match syntax::parse_hcl_edit(content) {
        Ok(f) => f,
        Err(_) => match syntax::scan(content) {
            Ok(f) => f,
            Err(_) => return parts,
        },
    };
    for block in parsed.body.blocks("locals") {
        for item in &block.body.items {
            if let syntax::Item::Attr(a) = item {
                if let Some(repo) = a.literal.as_deref().and_then(|v| base_repo(v, targets)) {
                    parts.bases.push((a.name.clone(), repo));
                }
            }
        }
    }
    for block in parsed.body.blocks("terraform") {
        let Some(source) = block.body.attr("source") else {
            continue;
        };
        if source.literal.is_some() {
            continue;
        }
        if let Some(u) = content.get(source.value.clone()).and_then(parse_unit) {
            parts.units.push((u.name, u.git_ref));
        }
    }
    parts
}

impl SplitTable {
    /// Decides every local name used as a base URL (see the module docs).
    pub fn build<'p>(parts: impl IntoIterator<Item = &'p SplitParts>, ctx: &Context<'_>) -> Self {
        let mut bases: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut units: BTreeMap<&str, Vec<Option<&str>>> = BTreeMap::new();
        for p in parts {
            for (name, repo) in &p.bases {
                bases.entry(name).or_default().push(repo);
            }
            for (name, r) in &p.units {
                units.entry(name).or_default().push(r.as_deref());
            }
        }
        let mut entries = BTreeMap::new();
        for (name, mut repos) in bases {
            let Some(uses) = units.get(name) else {
                // A base URL no unit composes here: an ordinary string, handled as one.
                continue;
            };
            repos.sort_unstable();
            repos.dedup();
            let repo = repos[0].to_string();
            let mut problem = None;
            if repos.len() > 1 {
                problem = Some(format!(
                    "local `{name}` is a base URL of different repos ({}); rewrite the base URLs \
                     and the units' refs by hand",
                    repos.join(", ")
                ));
            } else if let Some(target) = ctx.targets.iter().find(|t| t.repo == repo) {
                for r in uses {
                    if let RefChange::Error(e) = map_ref(target, *r, ctx) {
                        problem = Some(format!(
                            "a unit composing local `{name}` uses ref {:?}: {e}; neither the base \
                             URL nor the units were rewritten",
                            r.unwrap_or("")
                        ));
                        break;
                    }
                }
            }
            entries.insert(
                name.to_string(),
                SplitEntry {
                    repo,
                    problem,
                    units: uses.len(),
                },
            );
        }
        SplitTable { entries }
    }

    /// The verdict for local `name`, when it is the base URL of a split source.
    pub fn get(&self, name: &str) -> Option<&SplitEntry> {
        self.entries.get(name)
    }

    /// Whether there is no split source.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, by local name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &SplitEntry)> {
        self.entries.iter()
    }

    /// Whether `text` may be a half of a split source in this table (it names one of its
    /// locals): such files are scanned even when they mention no legacy repo.
    pub fn may_use(&self, text: &str) -> bool {
        self.entries.keys().any(|n| text.contains(n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_templates() {
        let t = "\"${include.envcommon.locals.base_source_url}?ref=v0.8.0\"";
        let u = parse_unit(t).expect("unit");
        assert_eq!(u.name, "base_source_url");
        assert_eq!(u.git_ref.as_deref(), Some("v0.8.0"));
        assert_eq!(&t[u.ref_range.expect("range")], "v0.8.0");
        let t = "\"${local.base}?depth=1&ref=main\"";
        let u = parse_unit(t).expect("unit");
        assert_eq!(&t[u.ref_range.expect("range")], "main");
        let u = parse_unit("\"${local.base}\"").expect("unit");
        assert_eq!((u.git_ref, u.ref_range), (None, None));
        for bad in [
            "\"${var.x}?ref=1\"",
            "\"${local.a}${local.b}\"",
            "\"x${local.a}\"",
            "\"${local.a}//sub?ref=1\"",
            "\"${include.e.locals.a}?ref=${local.v}\"",
            "local.a",
        ] {
            assert!(parse_unit(bad).is_none(), "{bad}");
        }
    }
}

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
    /// The file's path (in the monorepo).
    pub file: String,
    /// `(local name, legacy repo)` for each ref-less git source of a legacy repo in a
    /// `locals` block.
    pub bases: Vec<(String, String)>,
    /// Each `terraform { source = "${…locals.NAME}?ref=…" }`.
    pub units: Vec<UnitUse>,
}

/// A unit composing a base URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitUse {
    /// The local's name.
    pub name: String,
    /// Where the local is defined: the literal tail of the include block's `path`
    /// (`/_envcommon/mysql.hcl`), or `None` for `local.NAME` (this file).
    pub include: Option<String>,
    /// The unit's ref.
    pub git_ref: Option<String>,
    /// Whether the unit's query has a `depth` above 0 (a shallow clone).
    pub shallow: bool,
}

/// One base URL's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SplitEntry {
    /// The legacy repo the base URL points at.
    pub repo: String,
    /// Why the halves cannot be rewritten consistently; `None` when they can.
    pub problem: Option<String>,
    /// How many units use it.
    pub units: usize,
}

/// A base URL's place: (file, local name).
type BaseKey = (String, String);

/// Every split source of one tree: base URLs by (file, local name), and which base each
/// unit composes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SplitTable {
    bases: BTreeMap<BaseKey, SplitEntry>,
    /// (unit file, local name) -> the base it composes.
    units: BTreeMap<(String, String), BaseKey>,
}

/// A unit's source template: `"${<expr>.NAME}<query>"`.
pub(crate) struct UnitTemplate {
    /// The local's name.
    pub name: String,
    /// The include block's label (`include.<label>.locals.NAME`); `None` for `local.NAME`.
    pub include: Option<String>,
    /// The `ref` value, if any.
    pub git_ref: Option<String>,
    /// The bytes of the ref value inside the token.
    pub ref_range: Option<Range<usize>>,
    /// Whether the query has a `depth` above 0 (a shallow clone).
    pub shallow: bool,
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
    let (name, include) = match parts.as_slice() {
        ["local", name] => (*name, None),
        ["include", label, "locals", name] => (*name, Some(label.to_string())),
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
    // `%{` is a template directive; a lone `%` is a percent-encoded ref.
    if suffix.contains(['$', '"', '\\', '{', '}']) {
        return None;
    }
    let mut depth = None;
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
            if let Some(d) = arg.strip_prefix("depth=") {
                depth.get_or_insert(d);
            }
            at += arg.len() + 1;
        }
        found
    };
    Some(UnitTemplate {
        name: name.to_string(),
        include,
        git_ref,
        ref_range,
        shallow: super::rewrite::shallow(depth),
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

/// What `content` (a Terragrunt file at `file`, its monorepo path) contributes to split
/// sources. Files of other kinds and files that do not parse contribute nothing.
pub fn collect(file: &str, content: &str, targets: &Targets) -> SplitParts {
    let mut parts = SplitParts {
        file: file.to_string(),
        ..SplitParts::default()
    };
    if FileKind::of(file) != Some(FileKind::Terragrunt) {
        return parts;
    }
    let parsed = match syntax::scan(content) {
        Ok(f) => f,
        Err(_) => match syntax::parse_hcl_edit(content) {
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
        let Some(u) = content.get(source.value.clone()).and_then(parse_unit) else {
            continue;
        };
        let include = u.include.as_ref().map(|label| {
            parsed
                .body
                .items
                .iter()
                .find_map(|i| match i {
                    syntax::Item::Block(b)
                        if b.ident == "include" && b.labels.first() == Some(label) =>
                    {
                        b.body
                            .attr("path")
                            .map(|p| include_tail(content.get(p.value.clone()).unwrap_or("")))
                    }
                    _ => None,
                })
                .flatten()
                .unwrap_or_default()
        });
        parts.units.push(UnitUse {
            name: u.name,
            include,
            git_ref: u.git_ref,
            shallow: u.shallow,
        });
    }
    parts
}

/// The literal end of an include `path` expression (`"${dirname(…)}/_envcommon/x.hcl"` →
/// `/_envcommon/x.hcl`): what the included file's path ends with. Empty when the path ends
/// in an expression.
fn include_tail(expr: &str) -> Option<String> {
    let inner = expr.trim().strip_prefix('"')?.strip_suffix('"')?;
    let tail = match inner.rfind('}') {
        Some(i) => &inner[i + 1..],
        None => inner,
    };
    let tail = tail.trim_start_matches("./");
    (!tail.is_empty() && !tail.contains(['$', '%', '"'])).then(|| tail.to_string())
}

/// `relative` (an include path) from the directory of `file`, normalised; `None` when it
/// climbs above the root.
fn resolve(file: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = file.split('/').collect();
    parts.pop();
    for seg in relative.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Whether `file` is the file an include path ending in `tail` names.
fn names(file: &str, tail: &str) -> bool {
    let tail = tail.trim_start_matches('/');
    file == tail || file.ends_with(&format!("/{tail}"))
}

impl SplitTable {
    /// Decides every base URL some unit composes (see the module docs).
    pub fn build<'p>(parts: impl IntoIterator<Item = &'p SplitParts>, ctx: &Context<'_>) -> Self {
        let parts: Vec<&SplitParts> = parts.into_iter().collect();
        let mut table = SplitTable::default();
        // Which base each unit composes: (base file, name) per (unit file, name).
        let mut uses: BTreeMap<BaseKey, Vec<(String, Option<String>, bool)>> = BTreeMap::new();
        let mut unresolved: Vec<(String, String, String)> = Vec::new();
        for p in &parts {
            for u in &p.units {
                let candidates: Vec<&SplitParts> = parts
                    .iter()
                    .copied()
                    .filter(|b| b.bases.iter().any(|(n, _)| *n == u.name))
                    .filter(|b| match &u.include {
                        None => b.file == p.file,
                        Some(tail) if tail.is_empty() => true,
                        Some(tail) if tail.starts_with('/') => names(&b.file, tail),
                        Some(relative) => {
                            resolve(&p.file, relative).as_deref() == Some(b.file.as_str())
                        }
                    })
                    .collect();
                match candidates.as_slice() {
                    [] => {}
                    [one] => {
                        let key = (one.file.clone(), u.name.clone());
                        uses.entry(key.clone()).or_default().push((
                            p.file.clone(),
                            u.git_ref.clone(),
                            u.shallow,
                        ));
                        table.units.insert((p.file.clone(), u.name.clone()), key);
                    }
                    many => {
                        for b in many {
                            unresolved.push((b.file.clone(), u.name.clone(), p.file.clone()));
                        }
                    }
                }
            }
        }
        for p in &parts {
            for (name, repo) in &p.bases {
                let key = (p.file.clone(), name.clone());
                let ambiguous: Vec<&str> = unresolved
                    .iter()
                    .filter(|(f, n, _)| *f == key.0 && n == name)
                    .map(|(_, _, unit)| unit.as_str())
                    .collect();
                let Some(units) = uses.get(&key) else {
                    if let Some(unit) = ambiguous.first() {
                        table.bases.insert(
                            key,
                            SplitEntry {
                                repo: repo.clone(),
                                problem: Some(format!(
                                    "unit {unit} composes local `{name}` but its include path \
                                     does not say which file defines it; rewrite the base URL \
                                     and the units' refs by hand"
                                )),
                                units: 0,
                            },
                        );
                    }
                    continue;
                };
                let mut problem = None;
                if let Some(target) = ctx.targets.iter().find(|t| t.repo == *repo) {
                    for (unit, r, shallow) in units {
                        if let RefChange::Error(e) = map_ref(target, r.as_deref(), *shallow, ctx) {
                            problem = Some(format!(
                                "unit {unit} composes local `{name}` of {} with ref {:?}: {e}; \
                                 neither the base URL nor its units were rewritten",
                                p.file,
                                r.as_deref().unwrap_or("")
                            ));
                            break;
                        }
                    }
                }
                table.bases.insert(
                    key,
                    SplitEntry {
                        repo: repo.clone(),
                        problem,
                        units: units.len(),
                    },
                );
            }
        }
        table
    }

    /// The verdict for local `name` defined in `file`, when it is a split source's base URL.
    pub fn base(&self, file: &str, name: &str) -> Option<&SplitEntry> {
        self.bases.get(&(file.to_string(), name.to_string()))
    }

    /// The verdict for the base URL that the unit in `file` composes through local `name`.
    pub fn unit(&self, file: &str, name: &str) -> Option<&SplitEntry> {
        let base = self.units.get(&(file.to_string(), name.to_string()))?;
        self.bases.get(base)
    }

    /// Whether there is no split source.
    pub fn is_empty(&self) -> bool {
        self.bases.is_empty()
    }

    /// Every base URL: `(file, local name)` and its verdict.
    pub fn iter(&self) -> impl Iterator<Item = (&(String, String), &SplitEntry)> {
        self.bases.iter()
    }

    /// Whether `text` may be a half of a split source in this table (it names one of its
    /// locals): such files are scanned even when they mention no legacy repo.
    pub fn may_use(&self, text: &str) -> bool {
        self.bases.keys().any(|(_, n)| text.contains(n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_tails_name_files() {
        let t = include_tail(
            "\"${dirname(find_in_parent_folders(\"root.hcl\"))}/_envcommon/mysql.hcl\"",
        );
        assert_eq!(t.as_deref(), Some("/_envcommon/mysql.hcl"));
        assert!(names("live/_envcommon/mysql.hcl", "/_envcommon/mysql.hcl"));
        assert!(!names(
            "live/x_envcommon/mysql.hcl",
            "/_envcommon/mysql.hcl"
        ));
        assert_eq!(include_tail("find_in_parent_folders()"), None);
        assert_eq!(include_tail("\"${local.x}\""), None);
        assert_eq!(
            include_tail("\"../common.hcl\"").as_deref(),
            Some("../common.hcl")
        );
        assert_eq!(
            resolve("live/dev/api/terragrunt.hcl", "../common.hcl").as_deref(),
            Some("live/dev/common.hcl")
        );
        assert_eq!(resolve("a.hcl", "../../x.hcl"), None);
    }

    #[test]
    fn unit_templates() {
        let t = "\"${include.envcommon.locals.base_source_url}?ref=v0.8.0\"";
        let u = parse_unit(t).expect("unit");
        assert_eq!(u.name, "base_source_url");
        assert_eq!(u.include.as_deref(), Some("envcommon"));
        assert_eq!(u.git_ref.as_deref(), Some("v0.8.0"));
        assert_eq!(&t[u.ref_range.expect("range")], "v0.8.0");
        let t = "\"${local.base}?depth=1&ref=main\"";
        let u = parse_unit(t).expect("unit");
        assert_eq!(&t[u.ref_range.expect("range")], "main");
        assert!(u.shallow, "depth=1 is a shallow clone");
        let u = parse_unit("\"${local.base}?ref=main&depth=0\"").expect("unit");
        assert!(!u.shallow, "depth=0 is a full clone");
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

//! Reads the mapping file twice: hcl-edit for structure and positions, hcl-rs for values.
//!
//! hcl-rs (serde) gives typed values but no positions, so a structural pass over hcl-edit's
//! syntax tree runs first: it reports syntax errors, unknown keys (with a "did you mean"),
//! duplicate labels and values of the wrong shape, each at `file:line:column`, and records
//! the position of every block and attribute for the validation that follows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span;
use serde::{Deserialize, Serialize};

use super::{Error, Problem};

/// A 1-based line and column in the mapping file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The file as hcl-rs reads it (unknown keys were already reported with positions).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub inventory: Option<String>,
    pub repos_dir: Option<String>,
    pub unmatched: Option<String>,
    pub same_monorepo: Option<String>,
    #[serde(default)]
    pub monorepo: BTreeMap<String, RawMonorepo>,
    #[serde(default)]
    pub repo: BTreeMap<String, RawRepo>,
    #[serde(default)]
    pub rule: BTreeMap<String, RawRule>,
    #[serde(default)]
    pub state: BTreeMap<String, hcl::Value>,
    pub identity: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub snapshots: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMonorepo {
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRepo {
    pub url: String,
    pub into: String,
    pub path: String,
    pub tag_prefix: Option<String>,
    #[serde(default)]
    pub registry: Vec<String>,
    pub branches: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(rename = "match")]
    pub pattern: String,
    pub into: String,
    pub path: String,
    pub tag_prefix: Option<String>,
    #[serde(default)]
    pub registry: Vec<String>,
    pub branches: Option<String>,
}

/// The parsed file: typed values plus the position of every block and attribute.
pub(super) struct Parsed {
    pub raw: RawFile,
    /// Positions keyed by `kind`, `kind.label` and `kind.label.attr` (`repo.alb.path`).
    pub positions: BTreeMap<String, Position>,
    /// Block kinds and labels in file order (`("repo", "alb")`).
    pub order: Vec<(String, String)>,
    /// The file's display name, for `file:line:column`.
    pub file: String,
}

impl Parsed {
    /// Returns the position recorded for `key`, or the file start.
    pub fn at(&self, key: &str) -> Position {
        self.positions
            .get(key)
            .copied()
            .unwrap_or(Position { line: 1, column: 1 })
    }

    /// Returns `file:line:column` for `key`.
    pub fn place(&self, key: &str) -> String {
        format!("{}:{}", self.file, self.at(key))
    }
}

const TOP_ATTRS: &[&str] = &[
    "inventory",
    "repos_dir",
    "unmatched",
    "same_monorepo",
    "identity",
    "snapshots",
];
/// Top-level attributes whose value is an object of plain strings (with their allowed keys,
/// or `None` for any key).
const OBJECT_ATTRS: &[(&str, Option<&[&str]>)] =
    &[("identity", Some(&["name", "email"])), ("snapshots", None)];
const BLOCKS: &[&str] = &["monorepo", "repo", "rule", "state"];
const MONOREPO_ATTRS: &[&str] = &["url"];
const REPO_ATTRS: &[&str] = &["url", "into", "path", "tag_prefix", "registry", "branches"];
const RULE_ATTRS: &[&str] = &[
    "match",
    "into",
    "path",
    "tag_prefix",
    "registry",
    "branches",
];
const REQUIRED_REPO: &[&str] = &["url", "into", "path"];
const REQUIRED_RULE: &[&str] = &["match", "into", "path"];

/// Parses `text`, reporting structural problems with positions.
pub(super) fn parse(file: &Path, text: &str) -> Result<Parsed, Error> {
    let name = file.display().to_string();
    let body: Body = hcl_edit::parser::parse_body(text).map_err(|e| Error::Syntax {
        file: file.display().to_string(),
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_string(),
        snippet: e.line().to_string(),
    })?;
    let mut walk = Walk {
        text,
        file: &name,
        problems: Vec::new(),
        positions: BTreeMap::new(),
    };
    let mut order = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let key = attr.key.as_str();
                let at = walk.pos(attr.key.span());
                if let Some((_, keys)) = OBJECT_ATTRS.iter().find(|(k, _)| *k == key) {
                    walk.record(key.to_string(), at);
                    walk.string_object(key, &attr.value, *keys);
                } else if TOP_ATTRS.contains(&key) {
                    walk.record(key.to_string(), at);
                    walk.expect_string(&attr.value, &format!("`{key}`"));
                } else {
                    walk.unknown(at, key, "at the top level", TOP_ATTRS);
                }
            }
            Structure::Block(block) => {
                if let Some(entry) = walk.block(block) {
                    order.push(entry);
                }
            }
        }
    }
    if !walk.problems.is_empty() {
        return Err(Error::Invalid {
            file: file.to_owned(),
            problems: walk.problems,
        });
    }
    let raw: RawFile = hcl::from_str(text).map_err(|e| Error::Invalid {
        file: file.to_owned(),
        problems: vec![Problem {
            at: file.display().to_string(),
            message: e.to_string(),
        }],
    })?;
    Ok(Parsed {
        raw,
        positions: walk.positions,
        order,
        file: name,
    })
}

struct Walk<'a> {
    text: &'a str,
    file: &'a str,
    problems: Vec<Problem>,
    positions: BTreeMap<String, Position>,
}

impl Walk<'_> {
    fn pos(&self, span: Option<std::ops::Range<usize>>) -> Position {
        let offset = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        Position { line, column }
    }

    fn problem(&mut self, at: Position, message: String) {
        self.problems.push(Problem {
            at: format!("{}:{at}", self.file),
            message,
        });
    }

    fn record(&mut self, key: String, at: Position) {
        self.positions.entry(key).or_insert(at);
    }

    fn unknown(&mut self, at: Position, key: &str, place: &str, allowed: &[&str]) {
        let hint = match did_you_mean(key, allowed) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("allowed here: {}", allowed.join(", ")),
        };
        self.problem(at, format!("unknown key `{key}` {place}; {hint}"));
    }

    fn expect_string(&mut self, value: &Expression, what: &str) {
        if value.as_str().is_none() {
            let at = self.pos(value.span());
            self.problem(
                at,
                format!(
                    "{what} must be a plain string in double quotes (no `${{}}` interpolation)"
                ),
            );
        }
    }

    /// Checks that `value` (of top-level attribute `attr`) is an object of plain strings with
    /// keys among `keys` (any key when `None`); records `attr.<key>` positions.
    fn string_object(&mut self, attr: &str, value: &Expression, keys: Option<&[&str]>) {
        let Some(object) = value.as_object() else {
            let at = self.pos(value.span());
            let example = match keys {
                Some(k) => k
                    .iter()
                    .map(|k| format!("{k} = \"…\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => "\"live/prod/korea/api/static\" = \"api-static-prod-korea.tfstate\"".into(),
            };
            self.problem(
                at,
                format!("`{attr}` must be an object: `{attr} = {{ {example} }}`"),
            );
            return;
        };
        for (key, entry) in object.iter() {
            let at = self.pos(key.span());
            let name = match key {
                hcl_edit::expr::ObjectKey::Ident(i) => Some(i.as_str().to_string()),
                hcl_edit::expr::ObjectKey::Expression(e) => e.as_str().map(str::to_string),
            };
            let Some(name) = name else {
                self.problem(at, format!("the keys of `{attr}` must be plain strings"));
                continue;
            };
            if let Some(allowed) = keys {
                if !allowed.contains(&name.as_str()) {
                    self.unknown(at, &name, &format!("in `{attr}`"), allowed);
                    continue;
                }
            }
            self.record(format!("{attr}.{name}"), at);
            self.expect_string(entry.expr(), &format!("`{attr}.{name}`"));
        }
    }

    /// Checks one top-level block; returns its kind and label.
    fn block(&mut self, block: &Block) -> Option<(String, String)> {
        let kind = block.ident.as_str();
        let at = self.pos(block.ident.span());
        if !BLOCKS.contains(&kind) {
            self.unknown(at, kind, "(not a block tfmono knows)", BLOCKS);
            return None;
        }
        if block.labels.len() != 1 {
            self.problem(
                at,
                format!("a `{kind}` block takes exactly one label in double quotes, e.g. `{kind} \"name\" {{ … }}`"),
            );
            return None;
        }
        let label = block.labels[0].as_str().to_string();
        let key = format!("{kind}.{label}");
        if let Some(first) = self.positions.get(&key).copied() {
            self.problem(
                at,
                format!("duplicate {kind} \"{label}\" (first declared at line {}); give each {kind} a unique name", first.line),
            );
            return None;
        }
        self.record(key.clone(), at);
        let (allowed, required): (&[&str], &[&str]) = match kind {
            "monorepo" => (MONOREPO_ATTRS, MONOREPO_ATTRS),
            "repo" => (REPO_ATTRS, REQUIRED_REPO),
            "rule" => (RULE_ATTRS, REQUIRED_RULE),
            // `state` blocks are checked by the state module, with positions from here.
            _ => {
                self.nested_positions(&key, &block.body);
                return Some((kind.to_string(), label));
            }
        };
        let mut seen = Vec::new();
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    let at = self.pos(attr.key.span());
                    if !allowed.contains(&name) {
                        self.unknown(at, name, &format!("in {kind} \"{label}\""), allowed);
                        continue;
                    }
                    self.record(format!("{key}.{name}"), at);
                    seen.push(name.to_string());
                    if name == "registry" {
                        match attr.value.as_array() {
                            Some(items) => {
                                for item in items.iter() {
                                    self.expect_string(item, "each `registry` entry");
                                }
                            }
                            None => {
                                let at = self.pos(attr.value.span());
                                self.problem(at, "`registry` must be a list of strings, e.g. `[\"terraform-aws-modules/alb/aws\"]`".into());
                            }
                        }
                    } else {
                        self.expect_string(&attr.value, &format!("`{name}`"));
                    }
                }
                Structure::Block(inner) => {
                    let at = self.pos(inner.ident.span());
                    self.problem(
                        at,
                        format!(
                            "unexpected block `{}` in {kind} \"{label}\"; allowed attributes: {}",
                            inner.ident.as_str(),
                            allowed.join(", ")
                        ),
                    );
                }
            }
        }
        for req in required {
            if !seen.iter().any(|s| s == req) {
                self.problem(
                    at,
                    format!("{kind} \"{label}\" is missing the required attribute `{req}`"),
                );
            }
        }
        Some((kind.to_string(), label))
    }

    fn nested_positions(&mut self, key: &str, body: &Body) {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let at = self.pos(attr.key.span());
                    self.record(format!("{key}.{}", attr.key.as_str()), at);
                }
                Structure::Block(inner) => {
                    let ident = inner.ident.as_str().to_string();
                    let n = counts.entry(ident.clone()).or_default();
                    let at = self.pos(inner.ident.span());
                    let inner_key = format!("{key}.{ident}[{n}]");
                    *n += 1;
                    self.record(inner_key.clone(), at);
                    self.nested_positions(&inner_key, &inner.body);
                }
            }
        }
    }
}

/// Returns the allowed word closest to `word`, when it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (levenshtein(word, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 3))
        .min()
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_suggests_closest_key() {
        assert_eq!(did_you_mean("pth", REPO_ATTRS), Some("path"));
        assert_eq!(did_you_mean("tagprefix", REPO_ATTRS), Some("tag_prefix"));
        assert_eq!(did_you_mean("zzzzzzzz", REPO_ATTRS), None);
    }

    #[test]
    fn positions_are_one_based() {
        let parsed = parse(
            Path::new("m.hcl"),
            "monorepo \"live\" {\n  url = \"x\"\n}\n",
        )
        .expect("parses");
        assert_eq!(parsed.at("monorepo.live").line, 1);
        assert_eq!(parsed.at("monorepo.live.url").line, 2);
        assert_eq!(parsed.at("monorepo.live.url").column, 3);
    }
}

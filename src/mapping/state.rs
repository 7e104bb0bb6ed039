//! The mapping's `state` blocks, parsed once into typed declarations ([`StateBlock`]: moves
//! with their [`Address`]es parsed and checked as pairs, the style, the backend mode), each
//! problem naming `file:line:column` of the exact attribute. The `state` module plans and
//! scripts them; see its docs for the block's syntax.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::address::{self, Address};
use super::parse::did_you_mean;
use super::{Position, Problem};

/// How same-state moves are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// `terraform state mv` in `migrate.sh` (the default).
    #[default]
    StateMv,
    /// `moved {}` blocks in the root's `moved.tf` (Terraform >= 1.1); cross-state moves
    /// still go to the scripts.
    MovedBlocks,
}

/// One `move { from = … to = … }` block, its addresses parsed and checked as a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveSpec {
    /// The address in the source state.
    pub from: Address,
    /// The address in this root's state.
    pub to: Address,
    /// For a cross-state move, the root whose state holds `from`.
    pub from_state: Option<String>,
}

/// What to do when a root's backend key would change with its new path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendMode {
    /// Rewrite the key expression to the old literal key (see [`backend::pin`]); the default.
    #[default]
    Pin,
    /// Copy the state from the old key to the new key in `migrate.sh`.
    Copy,
}

/// The `backend { mode = … }` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackendSpec {
    /// Pin or copy.
    pub mode: BackendMode,
}

/// One validated `state` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateBlock {
    /// How same-state moves are carried out.
    pub style: Style,
    /// The moves, in file order.
    pub moves: Vec<MoveSpec>,
    /// The backend block, if any.
    pub backend: Option<BackendSpec>,
    /// Where the block and its parts are in the mapping, for later checks' messages.
    pub at: Places,
}

/// Where a `state` block's parts are in the mapping: `file:line:column (what)`, as every
/// problem about them names it (empty for blocks not read from a mapping file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Places {
    /// The block's label (`mapping.hcl:36:1 (state "live/dev/api")`).
    pub block: String,
    /// Each move's `from_state` attribute (or the move, when it has none), by move index.
    pub from_state: Vec<String>,
}

/// Where things are in the mapping: keys like `L`, `L.move[0]`, `L.move[0].from`,
/// `L.style`, `L.backend`, `L.backend.mode` (L = the block label).
struct Locator {
    file: Option<String>,
    positions: BTreeMap<String, Position>,
    text: String,
}

impl Locator {
    fn coarse(file: Option<&str>, blocks: &[(String, Position, hcl::Value)]) -> Locator {
        Locator {
            file: file.map(str::to_string),
            positions: blocks.iter().map(|(l, p, _)| (l.clone(), *p)).collect(),
            text: String::new(),
        }
    }

    /// Records exact positions by reading the mapping text with hcl-edit.
    fn refine(&mut self, text: &str) {
        self.text = text.to_string();
        let Ok(body) = hcl_edit::parser::parse_body(text) else {
            return;
        };
        for block in body.get_blocks("state") {
            let Some(label) = block.labels.first().map(|l| l.as_str().to_string()) else {
                continue;
            };
            self.walk(&label, &block.body);
        }
    }

    fn walk(&mut self, key: &str, body: &hcl_edit::structure::Body) {
        use hcl_edit::structure::Structure;
        use hcl_edit::Span;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let p = self.pos(a.key.span());
                    self.positions
                        .entry(format!("{key}.{}", a.key.as_str()))
                        .or_insert(p);
                }
                Structure::Block(b) => {
                    let ident = b.ident.as_str().to_string();
                    let n = counts.entry(ident.clone()).or_default();
                    let inner = format!("{key}.{ident}[{n}]");
                    *n += 1;
                    let p = self.pos(b.ident.span());
                    self.positions.entry(inner.clone()).or_insert(p);
                    if ident == "backend" {
                        self.positions.entry(format!("{key}.backend")).or_insert(p);
                        self.walk(&format!("{key}.backend"), &b.body);
                    }
                    self.walk(&inner, &b.body);
                }
            }
        }
    }

    fn pos(&self, span: Option<std::ops::Range<usize>>) -> Position {
        let offset = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        Position {
            line: before.matches('\n').count() + 1,
            column: before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0)
                + 1,
        }
    }

    /// `file:line:col` for the most precise key known, plus a readable suffix.
    fn at(&self, label: &str, path: &[&str], what: &str) -> String {
        let mut best = self.positions.get(label).copied().unwrap_or_default();
        let mut key = label.to_string();
        let mut exact = true;
        for part in path {
            key = format!("{key}.{part}");
            match self.positions.get(&key) {
                Some(p) if exact => best = *p,
                _ => exact = false,
            }
        }
        let place = match &self.file {
            Some(f) => format!("{f}:{best}"),
            None => best.to_string(),
        };
        if what.is_empty() {
            place
        } else {
            format!("{place} ({what})")
        }
    }
}

const BLOCK_KEYS: &[&str] = &["style", "move", "backend"];
const MOVE_KEYS: &[&str] = &["from", "to", "from_state"];
const BACKEND_KEYS: &[&str] = &["mode"];

/// Parses the raw `state` blocks (label, position of the label, value) of mapping `file`
/// (its text `text`); every problem names `file:line:column` of the exact attribute.
pub(super) fn parse(
    file: &str,
    text: &str,
    blocks: &[(String, Position, hcl::Value)],
) -> (Vec<(String, StateBlock)>, Vec<Problem>) {
    let mut loc = Locator::coarse(Some(file), blocks);
    loc.refine(text);
    parse_with(blocks, &loc)
}

fn parse_with(
    blocks: &[(String, Position, hcl::Value)],
    loc: &Locator,
) -> (Vec<(String, StateBlock)>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (label, _, value) in blocks {
        let p = |problems: &mut Vec<Problem>, at: String, message: String| {
            problems.push(Problem { at, message })
        };
        let block_at = loc.at(label, &[], &format!("state \"{label}\""));
        let mut block = StateBlock::default();
        block.at.block = block_at.clone();
        if let Err(m) = check_root_label(label) {
            p(&mut problems, block_at.clone(), m);
        }
        let Some(obj) = value.as_object() else {
            p(
                &mut problems,
                block_at,
                "a `state` block holds `style`, `move { … }` and `backend { … }`".into(),
            );
            continue;
        };
        for (k, v) in obj {
            if !BLOCK_KEYS.contains(&k.as_str()) {
                p(
                    &mut problems,
                    loc.at(label, &[k], &format!("state \"{label}\"")),
                    unknown(k, "in a `state` block", BLOCK_KEYS),
                );
                continue;
            }
            match k.as_str() {
                "style" => match v.as_str() {
                    Some("state-mv") => block.style = Style::StateMv,
                    Some("moved-blocks") => block.style = Style::MovedBlocks,
                    _ => p(
                        &mut problems,
                        loc.at(label, &["style"], &format!("state \"{label}\"")),
                        format!("`style` is {}; use \"state-mv\" (terraform state mv scripts) or \"moved-blocks\" (moved {{}} blocks, Terraform >= 1.1)", show(v)),
                    ),
                },
                "backend" => block.backend = Some(parse_backend(label, v, loc, &mut problems)),
                _ => {
                    for (m, at) in parse_moves(label, v, loc, &mut problems) {
                        block.moves.push(m);
                        block.at.from_state.push(at);
                    }
                }
            }
        }
        out.push((label.clone(), block));
    }
    (out, problems)
}

/// The `backend { … }` block of state block `label`; problems go to `problems`.
fn parse_backend(
    label: &str,
    v: &hcl::Value,
    loc: &Locator,
    problems: &mut Vec<Problem>,
) -> BackendSpec {
    let mut p = |at: String, message: String| problems.push(Problem { at, message });
    let what = format!("state \"{label}\" backend");
    let mut spec = BackendSpec::default();
    match v.as_object() {
        Some(b) => {
            for (bk, bv) in b {
                match (bk.as_str(), bv.as_str()) {
                    ("mode", Some("pin")) => spec.mode = BackendMode::Pin,
                    ("mode", Some("copy")) => spec.mode = BackendMode::Copy,
                    ("mode", _) => p(
                        loc.at(label, &["backend", "mode"], &what),
                        format!("backend `mode` is {}; use \"pin\" (keep the old key literally) or \"copy\" (copy the state to the new key)", show(bv)),
                    ),
                    _ => p(
                        loc.at(label, &["backend", bk], &what),
                        unknown(bk, "in a `backend` block", BACKEND_KEYS),
                    ),
                }
            }
        }
        None => p(
            loc.at(label, &["backend"], &what),
            "`backend` is a block: `backend {\n    mode = \"pin\"\n  }` (only one `backend` block per state block)".into(),
        ),
    }
    spec
}

/// The valid `move { … }` blocks of state block `label`, each with the place of its
/// `from_state`; problems go to `problems`.
fn parse_moves(
    label: &str,
    v: &hcl::Value,
    loc: &Locator,
    problems: &mut Vec<Problem>,
) -> Vec<(MoveSpec, String)> {
    let items: Vec<&hcl::Value> = match v {
        hcl::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, item)| parse_move(label, i, item, loc, problems))
        .collect()
}

/// Move `i` (`item`) of state block `label` and the place of its `from_state`, when it is
/// valid; problems go to `problems`.
fn parse_move(
    label: &str,
    i: usize,
    item: &hcl::Value,
    loc: &Locator,
    problems: &mut Vec<Problem>,
) -> Option<(MoveSpec, String)> {
    let before = problems.len();
    let mut p = |at: String, message: String| problems.push(Problem { at, message });
    let mv = format!("move[{i}]");
    let what = format!("state \"{label}\" move #{}", i + 1);
    let here = |attr: &str| {
        if attr.is_empty() {
            loc.at(label, &[&mv], &what)
        } else {
            loc.at(label, &[&mv, attr], &what)
        }
    };
    let Some(m) = item.as_object() else {
        p(here(""), "`move` is a block with `from` and `to`".into());
        return None;
    };
    let mut get = |name: &str| -> Option<String> {
        match m.get(name) {
            None => None,
            Some(hcl::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                p(
                    here(name),
                    format!(
                        "`{name}` must be a string in double quotes, not {}",
                        show(other)
                    ),
                );
                None
            }
        }
    };
    let from = get("from");
    let to = get("to");
    let from_state = get("from_state");
    for k in m.keys() {
        if !MOVE_KEYS.contains(&k.as_str()) {
            p(here(k), unknown(k, "in a `move` block", MOVE_KEYS));
        }
    }
    for (name, val) in [("from", &from), ("to", &to)] {
        if val.is_none() && !m.contains_key(name) {
            p(
                here(""),
                format!("this move has no `{name}`; add `{name} = \"<address>\"` (e.g. `module.alb` or `aws_instance.web[0]`)"),
            );
        }
    }
    let mut parsed = Vec::new();
    for (name, val) in [("from", &from), ("to", &to)] {
        if let Some(s) = val {
            match address::parse(s) {
                Ok(a) => parsed.push(a),
                Err(e) => p(here(name), format!("`{name}`: {e}")),
            }
        }
    }
    if let [a, b] = parsed.as_slice() {
        if let Err(msg) = check_pair(a, b) {
            p(here(""), msg);
        } else if a == b && from_state.is_none() {
            p(here(""), format!("`from` and `to` are the same address `{a}` in the same state; remove this move, or add `from_state` for a cross-state move"));
        }
    }
    if let Some(fs) = &from_state {
        if fs == label {
            p(here("from_state"), format!("`from_state` names this same root \"{label}\"; remove `from_state` for a move within one state"));
        } else if let Err(msg) = check_root_label(fs) {
            p(here("from_state"), format!("`from_state`: {msg}"));
        }
    }
    let from_state_at = here("from_state");
    let [from, to] = <[Address; 2]>::try_from(parsed).ok()?;
    let valid = problems.len() == before;
    valid.then_some((
        MoveSpec {
            from,
            to,
            from_state,
        },
        from_state_at,
    ))
}

fn show(v: &hcl::Value) -> String {
    match v {
        hcl::Value::String(s) => format!("\"{s}\""),
        hcl::Value::Array(_) => "a list".into(),
        hcl::Value::Object(_) => "a block or object".into(),
        other => other.to_string(),
    }
}

fn unknown(key: &str, place: &str, allowed: &[&str]) -> String {
    match did_you_mean(key, allowed) {
        Some(s) => format!("unknown key `{key}` {place}; did you mean `{s}`?"),
        None => format!(
            "unknown key `{key}` {place}; allowed: {}",
            allowed.join(", ")
        ),
    }
}

/// A root label is `<monorepo>/<path>`: relative, `/`-separated, no empty or `..` parts.
fn check_root_label(label: &str) -> Result<(), String> {
    let ok = !label.is_empty()
        && !label.starts_with('/')
        && !label.ends_with('/')
        && label
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !label.contains(['\\', '\n', '\0']);
    if ok {
        Ok(())
    } else {
        Err(format!("\"{label}\" is not a root directory; write `<monorepo>/<path of the root>`, e.g. \"live/prod/korea/api/static\" (relative, no `..`, no leading or trailing `/`)"))
    }
}

/// Checks that `to` can receive what `from` names (what `terraform state mv` accepts).
pub fn check_pair(from: &Address, to: &Address) -> Result<(), String> {
    use address::Kind;
    for a in [from, to] {
        if let Some(key) = a.template_module_key() {
            return Err(format!(
                "`{a}`: its module instance key {} holds `${{` or `%{{`; Terraform 1.x writes such a key into the state but cannot read that state back (\"Template sequences are not allowed in this string\"), so every later `terraform` command on the root would fail; give the module instance a key without `${{` or `%{{`",
                address::Key::Str(key.to_string())
            ));
        }
    }
    let (fk, tk) = (from.kind(), to.kind());
    if (fk == Kind::Module) != (tk == Kind::Module) {
        return Err(format!(
            "cannot move {fk} (`{from}`) to {tk} (`{to}`): a module moves to a module address (`module.NAME`), a resource to a resource address"
        ));
    }
    if let (Some(a), Some(b)) = (&from.resource, &to.resource) {
        if a.mode != b.mode {
            return Err(format!(
                "cannot move `{from}` to `{to}`: a data source and a managed resource are different things; keep `data.` on both or on neither"
            ));
        }
        if a.kind != b.kind {
            return Err(format!(
                "cannot move `{from}` to `{to}`: resource types differ (`{}` vs `{}`); Terraform only moves objects between addresses of the same type",
                a.kind, b.kind
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses the `state` blocks of `text` as the mapping does.
    fn parse_text(text: &str) -> (Vec<(String, StateBlock)>, Vec<Problem>) {
        #[derive(Deserialize)]
        struct F {
            state: BTreeMap<String, hcl::Value>,
        }
        let f: F = hcl::from_str(text).expect("hcl");
        let blocks: Vec<(String, Position, hcl::Value)> = f
            .state
            .into_iter()
            .map(|(l, v)| (l, Position { line: 1, column: 1 }, v))
            .collect();
        parse("m.hcl", text, &blocks)
    }

    #[test]
    fn single_and_repeated_moves() {
        let (got, problems) = parse_text("state \"live/a\" {\n  move {\n    from = \"module.a\"\n    to = \"module.b\"\n  }\n}\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(got[0].1.moves.len(), 1);
        assert_eq!(got[0].1.moves[0].to.to_string(), "module.b");
        assert_eq!(got[0].1.style, Style::StateMv);
        let (got, problems) = parse_text("state \"live/a\" {\n  style = \"moved-blocks\"\n  move {\n    from = \"module.a\"\n    to = \"module.b\"\n  }\n  move {\n    from = \"aws_x.y\"\n    to = \"aws_x.z\"\n    from_state = \"live/b\"\n  }\n  backend {\n    mode = \"copy\"\n  }\n}\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(got[0].1.moves.len(), 2);
        assert_eq!(got[0].1.moves[1].from_state.as_deref(), Some("live/b"));
        assert_eq!(got[0].1.style, Style::MovedBlocks);
        assert_eq!(got[0].1.backend.map(|b| b.mode), Some(BackendMode::Copy));
        assert_eq!(got[0].1.at.block, "m.hcl:1:1 (state \"live/a\")");
        assert_eq!(
            got[0].1.at.from_state[1],
            "m.hcl:10:5 (state \"live/a\" move #2)"
        );
    }

    #[test]
    fn problems_name_move_and_fix() {
        let (_, p) = parse_text("state \"live/a\" {\n  stlye = \"x\"\n  move {\n    from = \"module.a\"\n  }\n  move {\n    from = \"module.a\"\n    to = \"aws_x.y\"\n  }\n  move {\n    from = \"aws_x.y[\"\n    to = \"aws_x.z\"\n  }\n  backend {\n    mode = \"move\"\n  }\n}\n");
        let all: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        let text = all.join("\n");
        assert!(
            text.contains("m.hcl:2:3 (state \"live/a\"): unknown key `stlye`"),
            "{text}"
        );
        assert!(text.contains("did you mean `style`"), "{text}");
        assert!(
            text.contains("move #1") && text.contains("no `to`"),
            "{text}"
        );
        assert!(
            text.contains("move #2") && text.contains("cannot move a whole module"),
            "{text}"
        );
        assert!(
            text.contains("m.hcl:11:5 (state \"live/a\" move #3)") && text.contains("unclosed"),
            "{text}"
        );
        assert!(text.contains("\"pin\""), "{text}");
        assert_eq!(p.len(), 5, "{text}");
    }
}

//! `.tf.json` / `.tofu.json` files (`{"module": {"<name>": {"source": …, "version": …}}}`)
//! and `terragrunt.hcl.json` (`{"terraform": {"source": …}}`).
//!
//! serde_json validates the file; a small scanner then records the byte range of every
//! string token, so a rewrite replaces exactly the JSON string token (and removes the
//! `"version"` member with its comma) and every other byte stays identical, whatever the
//! formatting.

use std::collections::HashSet;
use std::ops::Range;

use super::rewrite::{FileKind, Rewriter, Role, VersionAttr};
use super::Unparsed;

enum J {
    Obj(Vec<Member>),
    Arr(Vec<J>),
    Str(String, Range<usize>),
    Scalar,
}

struct Member {
    key: String,
    key_start: usize,
    value: J,
    value_end: usize,
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<(String, Range<usize>)> {
        let start = self.i;
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let range = start..self.i;
                    let value: String = serde_json::from_str(self.text.get(range.clone())?).ok()?;
                    return Some((value, range));
                }
                _ => self.i += 1,
            }
        }
        None
    }

    fn value(&mut self, depth: usize) -> Option<J> {
        if depth > 256 {
            return None;
        }
        self.ws();
        match self.b.get(self.i)? {
            b'"' => self.string().map(|(s, r)| J::Str(s, r)),
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                loop {
                    self.ws();
                    match self.b.get(self.i)? {
                        b'}' => {
                            self.i += 1;
                            return Some(J::Obj(members));
                        }
                        b',' => self.i += 1,
                        _ => {
                            let key_start = self.i;
                            let (key, _) = self.string()?;
                            self.ws();
                            if self.b.get(self.i) != Some(&b':') {
                                return None;
                            }
                            self.i += 1;
                            let value = self.value(depth + 1)?;
                            members.push(Member {
                                key,
                                key_start,
                                value,
                                value_end: self.i,
                            });
                        }
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match self.b.get(self.i)? {
                        b']' => {
                            self.i += 1;
                            return Some(J::Arr(items));
                        }
                        b',' => self.i += 1,
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.b.len()
                    && !matches!(
                        self.b[self.i],
                        b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                (self.i > start).then_some(J::Scalar)
            }
        }
    }
}

/// Encodes `s` as a JSON string token.
fn json_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// The attribute lists of every module block under a `module` value.
fn module_bodies<'j>(module: &'j J, out: &mut Vec<&'j Vec<Member>>) {
    match module {
        J::Obj(members) => {
            for m in members {
                match &m.value {
                    J::Obj(attrs) => out.push(attrs),
                    J::Arr(items) => {
                        for item in items {
                            if let J::Obj(attrs) = item {
                                out.push(attrs);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        J::Arr(items) => {
            for item in items {
                module_bodies(item, out);
            }
        }
        _ => {}
    }
}

/// The bytes removing member `idx` of `members` takes (with one neighbouring comma).
fn member_removal(members: &[Member], idx: usize) -> Range<usize> {
    let m = &members[idx];
    if idx + 1 < members.len() {
        m.key_start..members[idx + 1].key_start
    } else if idx > 0 {
        members[idx - 1].value_end..m.value_end
    } else {
        m.key_start..m.value_end
    }
}

fn strings<'j>(v: &'j J, out: &mut Vec<&'j J>) {
    match v {
        J::Str(..) => out.push(v),
        J::Obj(members) => members.iter().for_each(|m| strings(&m.value, out)),
        J::Arr(items) => items.iter().for_each(|i| strings(i, out)),
        J::Scalar => {}
    }
}

/// Walks one JSON file of `kind`. Returns `false` when it is not valid JSON.
pub(crate) fn walk(rw: &mut Rewriter<'_, '_>, kind: FileKind) -> bool {
    // A byte-order mark is not JSON, but Terraform's reader skips it.
    let bom = if rw.content.starts_with('\u{feff}') {
        3
    } else {
        0
    };
    let unparsed = |line: usize, message: String| Unparsed {
        line,
        message,
        mentions: Vec::new(),
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&rw.content[bom..]) {
        rw.out.unparsed = Some(unparsed(
            e.line().max(1),
            format!("line {}, column {}: not JSON: {e}", e.line(), e.column()),
        ));
        return false;
    }
    let mut sc = Scanner {
        text: rw.content,
        b: rw.content.as_bytes(),
        i: bom,
    };
    let Some(root) = sc.value(0) else {
        rw.out.unparsed = Some(unparsed(1, "cannot scan the JSON tokens".to_string()));
        return false;
    };
    let mut handled: HashSet<usize> = HashSet::new();
    let mut bodies = Vec::new();
    if let J::Obj(top) = &root {
        if kind == FileKind::TerragruntJson {
            for m in top.iter().filter(|m| m.key == "terraform") {
                match &m.value {
                    J::Obj(attrs) => bodies.push(attrs),
                    J::Arr(items) => bodies.extend(items.iter().filter_map(|i| match i {
                        J::Obj(attrs) => Some(attrs),
                        _ => None,
                    })),
                    _ => {}
                }
            }
        } else {
            for m in top.iter().filter(|m| m.key == "module") {
                module_bodies(&m.value, &mut bodies);
            }
        }
    }
    for attrs in bodies {
        let version = attrs.iter().position(|m| m.key == "version");
        let version = version.filter(|_| kind == FileKind::Json).map(|i| {
            let m = &attrs[i];
            match &m.value {
                J::Str(v, r) => {
                    handled.insert(r.start);
                    VersionAttr::Literal(v.clone(), member_removal(attrs, i))
                }
                _ => VersionAttr::Expression,
            }
        });
        let Some(source) = attrs.iter().find(|m| m.key == "source") else {
            continue;
        };
        match &source.value {
            J::Str(v, r) => {
                handled.insert(r.start);
                rw.literal(v, r.clone(), Role::Source, version.as_ref(), json_quote);
            }
            _ => rw.expression(source.key_start..source.value_end, Role::Source),
        }
    }
    let mut all = Vec::new();
    strings(&root, &mut all);
    for s in all {
        if let J::Str(v, r) = s {
            if !handled.contains(&r.start) {
                rw.literal(v, r.clone(), Role::Other, None, json_quote);
            }
        }
    }
    true
}

//! Terraform resource and module addresses (the grammar `terraform state mv` accepts).
//!
//! ```text
//! address  = { "module." NAME [ key ] "." } [ ( "data." TYPE "." NAME | TYPE "." NAME ) [ key ] ]
//! key      = "[" ( DIGITS | STRING ) "]"
//! NAME     = [A-Za-z_][A-Za-z0-9_-]*
//! STRING   = an HCL double-quoted string: \" \\ \n \r \t \uXXXX \UXXXXXXXX escapes
//! ```
//!
//! An address with no resource part names a whole module instance (`module.x`,
//! `module.x[0]`); at least one `module.` step is needed then. [`Address`]'s `Display` is
//! Terraform's canonical spelling (the one `terraform state list` prints), so generated
//! scripts can match `state list` lines exactly.

use std::fmt;

use serde::Serialize;

/// An instance key: `[0]` or `["a b"]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Key {
    /// A `count` index.
    Int(u64),
    /// A `for_each` key.
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(n) => write!(f, "[{n}]"),
            Key::Str(s) => write!(f, "[{}]", go_quote(s)),
        }
    }
}

impl Key {
    /// The key as Terraform's address parser reads it (see [`Address::to_hcl`]).
    pub fn to_hcl(&self) -> String {
        match self {
            Key::Int(n) => format!("[{n}]"),
            Key::Str(s) => format!("[{}]", crate::hcl::quote(s)),
        }
    }
}

/// Quotes `s` the way Terraform 1.0 prints string keys in `terraform state list` (Go's `%q`
/// as of Go 1.16): `\a \b \f \n \r \t \v`, other bytes below 0x20 as `\xHH`, other
/// non-printable characters as `\uXXXX` / `\UXXXXXXXX`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !crate::hcl::go_printable(c) => out.push_str(&crate::hcl::unicode_escape(c)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One `module.NAME[KEY]` step of a module path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ModuleStep {
    /// The module call's name.
    pub name: String,
    /// The instance key, if the call uses `count`/`for_each`.
    pub key: Option<Key>,
}

/// Whether a resource is managed (`aws_x.y`) or a data source (`data.aws_x.y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Mode {
    /// A managed resource.
    Managed,
    /// A data source.
    Data,
}

/// The resource part of an address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Resource {
    /// Managed or data.
    pub mode: Mode,
    /// The resource type (`aws_instance`).
    pub kind: String,
    /// The resource name.
    pub name: String,
    /// The instance key; `None` names the whole resource (or its single unkeyed instance).
    pub key: Option<Key>,
}

/// A parsed Terraform address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Address {
    /// The module path, outermost first (empty for the root module).
    pub module: Vec<ModuleStep>,
    /// The resource, or `None` for a whole module instance.
    pub resource: Option<Resource>,
}

/// What an address names, for type checks between `from` and `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// A whole module instance (`module.x`, `module.x[0]`).
    Module,
    /// A whole resource (`aws_x.y`): all its instances.
    Resource,
    /// One resource instance (`aws_x.y[0]`).
    Instance,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Module => "a whole module",
            Kind::Resource => "a resource",
            Kind::Instance => "a resource instance",
        })
    }
}

impl Address {
    /// What the address names.
    pub fn kind(&self) -> Kind {
        match &self.resource {
            None => Kind::Module,
            Some(r) if r.key.is_none() => Kind::Resource,
            Some(_) => Kind::Instance,
        }
    }

    /// Returns the first module instance key holding a template sequence (`${` or `%{`).
    ///
    /// Terraform 1.0 writes such a module path into the state's `module` field as it prints
    /// it and then fails to load that state ("Template sequences are not allowed in this
    /// string"): no quoting of the `state mv` argument avoids it. Resource instance keys are
    /// stored apart (`index_key`) and are fine.
    pub fn template_module_key(&self) -> Option<&str> {
        self.module.iter().find_map(|step| match &step.key {
            Some(Key::Str(s)) if s.contains("${") || s.contains("%{") => Some(s.as_str()),
            _ => None,
        })
    }

    /// The module path as Terraform writes it in state JSON (`module.a.module.b["k"]`),
    /// empty for the root module.
    pub fn module_string(&self) -> String {
        module_path_string(&self.module)
    }
}

/// Renders a module path like Terraform (`module.a.module.b["k"]`).
pub fn module_path_string(steps: &[ModuleStep]) -> String {
    let mut s = String::new();
    push_module_path(&mut s, steps, &Key::to_string);
    s
}

/// Appends `module.a.module.b["k"]`, each key rendered by `key`.
fn push_module_path(s: &mut String, steps: &[ModuleStep], key: &dyn Fn(&Key) -> String) {
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str("module.");
        s.push_str(&step.name);
        if let Some(k) = &step.key {
            s.push_str(&key(k));
        }
    }
}

impl Address {
    /// The address as an argument of `terraform state mv` (HCL string syntax: only HCL
    /// escapes, `${` and `%{` doubled). It differs from the `Display` form (what
    /// `terraform state list` prints) only for string keys holding `${`, `%{`, control or
    /// non-printable characters.
    pub fn to_hcl(&self) -> String {
        self.render(&Key::to_hcl)
    }

    fn render(&self, key: &dyn Fn(&Key) -> String) -> String {
        let mut s = String::new();
        push_module_path(&mut s, &self.module, key);
        if let Some(r) = &self.resource {
            if !self.module.is_empty() {
                s.push('.');
            }
            if r.mode == Mode::Data {
                s.push_str("data.");
            }
            s.push_str(&r.kind);
            s.push('.');
            s.push_str(&r.name);
            if let Some(k) = &r.key {
                s.push_str(&key(k));
            }
        }
        s
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Key::to_string))
    }
}

/// Why an address does not parse: what is wrong, at which character, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address `{input}` at character {offset}: {message}")]
pub struct AddressError {
    /// The address as written.
    pub input: String,
    /// 1-based character offset of the problem.
    pub offset: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Parses a Terraform address such as `module.a.module.b["k"].aws_x.y[0]`.
pub fn parse(input: &str) -> Result<Address, AddressError> {
    let mut p = Parser {
        input,
        chars: input.chars().collect(),
        pos: 0,
    };
    p.address()
}

struct Parser<'a> {
    input: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> AddressError {
        AddressError {
            input: self.input.to_string(),
            offset: self.pos + 1,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn name(&mut self, what: &str) -> Result<String, AddressError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.pos += 1,
            Some(c) => {
                return Err(self.err(format!(
                    "expected {what} (a name starting with a letter or `_`), found `{c}`"
                )))
            }
            None => {
                return Err(self.err(format!(
                    "expected {what} after the `.`, but the address ends here"
                )))
            }
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn dot(&mut self, after: &str) -> Result<(), AddressError> {
        match self.peek() {
            Some('.') => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(self.err(format!("expected `.` after {after}, found `{c}`"))),
            None => Err(self.err(format!(
                "the address ends after {after}; a resource address is `TYPE.NAME` (e.g. `aws_instance.web`)"
            ))),
        }
    }

    fn key(&mut self) -> Result<Option<Key>, AddressError> {
        if self.peek() != Some('[') {
            return Ok(None);
        }
        self.pos += 1;
        let key = match self.peek() {
            Some('"') => Key::Str(self.string()?),
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                let digits: String = self.chars[start..self.pos].iter().collect();
                let n = digits
                    .parse::<u64>()
                    .map_err(|_| self.err(format!("index {digits} is too large")))?;
                Key::Int(n)
            }
            Some('\'') => {
                return Err(self.err(
                    "string keys use double quotes: write `[\"key\"]`, not `['key']`",
                ))
            }
            Some(c) => {
                return Err(self.err(format!(
                    "an instance key is a number (`[0]`) or a double-quoted string (`[\"a b\"]`), found `{c}`"
                )))
            }
            None => return Err(self.err("unclosed `[`: add the key and `]`")),
        };
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                Ok(Some(key))
            }
            Some(c) => Err(self.err(format!("expected `]` to close the key, found `{c}`"))),
            None => Err(self.err("unclosed `[`: add `]` after the key")),
        }
    }

    fn string(&mut self) -> Result<String, AddressError> {
        // at the opening quote
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string key: add the closing `\"`"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(s),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape in string key"));
                    };
                    self.pos += 1;
                    match e {
                        'n' => s.push('\n'),
                        'r' => s.push('\r'),
                        't' => s.push('\t'),
                        '"' => s.push('"'),
                        '\\' => s.push('\\'),
                        // Go escapes, as `terraform state list` prints them
                        'a' => s.push('\u{7}'),
                        'b' => s.push('\u{8}'),
                        'f' => s.push('\u{c}'),
                        'v' => s.push('\u{b}'),
                        'x' | 'u' | 'U' => {
                            let len = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = self
                                .chars
                                .get(self.pos..self.pos + len)
                                .map(|h| h.iter().collect())
                                .unwrap_or_default();
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == len)
                                .and_then(char::from_u32)
                                .ok_or_else(|| {
                                    self.err(format!("`\\{e}` must be followed by {len} hex digits"))
                                })?;
                            self.pos += len;
                            s.push(ch);
                        }
                        other => {
                            return Err(self.err(format!(
                                "unknown escape `\\{other}` in string key; use \\\" \\\\ \\n \\r \\t, \\uXXXX or \\xHH"
                            )))
                        }
                    }
                }
                c => s.push(c),
            }
        }
    }

    fn address(&mut self) -> Result<Address, AddressError> {
        if self.input.trim().is_empty() {
            return Err(self.err(
                "empty address; write e.g. `module.alb`, `aws_instance.web` or `aws_instance.web[0]`",
            ));
        }
        if self.input.trim() != self.input {
            return Err(self.err("remove the spaces around the address"));
        }
        let mut module = Vec::new();
        loop {
            let save = self.pos;
            let word = self.name("a module name or resource type")?;
            if word == "module" {
                if self.at_end() {
                    return Err(
                        self.err("`module` must be followed by `.NAME` (e.g. `module.alb`)")
                    );
                }
                self.dot("`module`")?;
                let name = self.name("the module name")?;
                let key = self.key()?;
                module.push(ModuleStep { name, key });
                if self.at_end() {
                    return Ok(Address {
                        module,
                        resource: None,
                    });
                }
                self.dot(&format!("`{}`", module_path_string(&module)))?;
                continue;
            }
            self.pos = save;
            break;
        }
        let first = self.name("a resource type")?;
        let (mode, kind) = if first == "data" {
            self.dot("`data`")?;
            (Mode::Data, self.name("the data source type")?)
        } else {
            (Mode::Managed, first)
        };
        self.dot(&format!("the resource type `{kind}`"))?;
        let name = self.name("the resource name")?;
        let key = self.key()?;
        if let Some(c) = self.peek() {
            return Err(self.err(format!(
                "unexpected `{c}` after the resource `{kind}.{name}`; a resource address ends with its name or instance key"
            )));
        }
        Ok(Address {
            module,
            resource: Some(Resource {
                mode,
                kind,
                name,
                key,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        parse(s).expect("parses").to_string()
    }

    #[test]
    fn canonical_round_trip() {
        for s in [
            "module.alb",
            "module.alb[0]",
            "module.a.module.b[\"k\"].aws_x.y[0]",
            "data.aws_x.y",
            "aws_instance.web[\"a b\"]",
            "module.x[\"a \\\"q\\\" \\\\ b\"].aws_x.y",
            "aws_x.y-z_1",
        ] {
            assert_eq!(round(s), s);
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(parse("module.a").expect("ok").kind(), Kind::Module);
        assert_eq!(parse("module.a[1]").expect("ok").kind(), Kind::Module);
        assert_eq!(parse("aws_x.y").expect("ok").kind(), Kind::Resource);
        assert_eq!(parse("aws_x.y[1]").expect("ok").kind(), Kind::Instance);
        let a = parse("module.m.data.aws_x.y[\"k\"]").expect("ok");
        assert_eq!(a.module_string(), "module.m");
        assert_eq!(a.resource.as_ref().map(|r| r.mode), Some(Mode::Data));
    }

    /// Lines as Terraform 1.0.3 `state list` printed them for state JSON `index_key`s
    /// (checked with the real binary), and the `state mv` argument it accepts for each.
    #[test]
    fn display_matches_state_list_and_to_hcl_matches_state_mv() {
        for (key, list, arg) in [
            ("a b", r#"["a b"]"#, r#"["a b"]"#),
            ("it's", r#"["it's"]"#, r#"["it's"]"#),
            ("say \"hi\"", r#"["say \"hi\""]"#, r#"["say \"hi\""]"#),
            ("$HOME", r#"["$HOME"]"#, r#"["$HOME"]"#),
            ("${x}", r#"["${x}"]"#, r#"["$${x}"]"#),
            ("%{x}", r#"["%{x}"]"#, r#"["%%{x}"]"#),
            ("back\\slash", r#"["back\\slash"]"#, r#"["back\\slash"]"#),
            ("tab\there", r#"["tab\there"]"#, r#"["tab\there"]"#),
            ("bell\u{7}", r#"["bell\a"]"#, r#"["bell\u0007"]"#),
            ("ctl\u{1}", r#"["ctl\x01"]"#, r#"["ctl\u0001"]"#),
            ("del\u{7f}", r#"["del\u007f"]"#, r#"["del\u007f"]"#),
            ("nb\u{a0}sp", r#"["nb\u00a0sp"]"#, r#"["nb\u00a0sp"]"#),
            ("zw\u{200b}sp", r#"["zw\u200bsp"]"#, r#"["zw\u200bsp"]"#),
            ("soft\u{ad}hy", r#"["soft\u00adhy"]"#, r#"["soft\u00adhy"]"#),
            ("bom\u{feff}", r#"["bom\ufeff"]"#, r#"["bom\ufeff"]"#),
            ("ls\u{2028}x", r#"["ls\u2028x"]"#, r#"["ls\u2028x"]"#),
            ("pua\u{e000}", r#"["pua\ue000"]"#, r#"["pua\ue000"]"#),
            (
                "emoji\u{1f600}é",
                "[\"emoji\u{1f600}é\"]",
                "[\"emoji\u{1f600}é\"]",
            ),
        ] {
            let k = Key::Str(key.to_string());
            assert_eq!(k.to_string(), list, "{key:?}");
            assert_eq!(k.to_hcl(), arg, "{key:?}");
            // both forms parse back to the key, except `$${`/`%%{`, which the mapping's
            // HCL parser has already undone before an address reaches `parse`
            let a = parse(&format!("module.m{list}.aws_x.y{list}")).expect(list);
            assert_eq!(
                a.resource.as_ref().and_then(|r| r.key.clone()),
                Some(k.clone())
            );
            assert_eq!(a.to_string(), format!("module.m{list}.aws_x.y{list}"));
            assert_eq!(a.to_hcl(), format!("module.m{arg}.aws_x.y{arg}"));
            if !key.contains('{') {
                assert_eq!(
                    parse(&format!("aws_x.y{arg}"))
                        .expect(arg)
                        .resource
                        .and_then(|r| r.key),
                    Some(k)
                );
            }
        }
    }

    #[test]
    fn unicode_escape_is_decoded() {
        let a = parse("aws_x.y[\"\\u00e9\"]").expect("ok");
        assert_eq!(a.to_string(), "aws_x.y[\"é\"]");
    }

    #[test]
    fn errors_say_where_and_what() {
        for (bad, at, needle) in [
            ("", 1, "empty address"),
            ("aws_instance", 13, "TYPE.NAME"),
            ("module.", 8, "module name"),
            ("module", 7, "`module` must be followed"),
            ("aws_x.y[", 9, "unclosed"),
            ("aws_x.y['a']", 9, "double quotes"),
            ("aws_x.y[\"a]", 12, "unterminated"),
            ("aws_x.y[0].z", 11, "unexpected `.`"),
            ("1aws.y", 1, "starting with a letter"),
            (" aws_x.y", 1, "spaces"),
            ("aws_x.y[-1]", 9, "instance key is a number"),
            ("aws_x.y[\"\\q\"]", 12, "unknown escape"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.offset, at, "{bad}: {e}");
            assert!(e.message.contains(needle), "{bad}: {e}");
        }
    }
}

//! The structure of an HCL file as the source rewriter needs it: blocks, attributes with
//! byte spans, and every string token, read either by hcl-edit or by a token-level scanner.
//!
//! hcl-edit is stricter than Terraform: it refuses object literals that repeat a key (Terraform
//! keeps the last value), a leading UTF-8 byte-order mark, and some newer syntax. Where it
//! refuses a file, [`scan`] reads the same structure token by token: comments, quoted strings
//! (escapes and `${…}`/`%{…}` templates, nested), heredocs, brackets, attributes (`name =
//! expression` up to the end of the line at bracket depth 0) and blocks (`ident labels… {`).
//! It does not evaluate expressions, so repeated keys and unknown functions do not matter; it
//! does insist on a well-formed token structure, so a Go template (`{{ .sourceUrl }}`) or a
//! truncated test fixture is reported as not parsed, never guessed at.
//!
//! Both readers produce a [`Body`]: the walker in `hclfile` does not know which one ran, so a
//! file gets the same rewrite whichever reader understood it.

use std::ops::Range;

use hcl_edit::expr::Expression;
use hcl_edit::visit::{visit_expr, Visit};
use hcl_edit::Span;

/// A body: attributes and blocks in file order.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// The items of the body, in order.
    pub items: Vec<Item>,
}

/// One attribute or block.
#[derive(Debug)]
pub(crate) enum Item {
    /// `name = value`.
    Attr(Attr),
    /// `ident "label" … { body }`.
    Block(Block),
}

/// An attribute with its spans.
#[derive(Debug)]
pub(crate) struct Attr {
    /// The attribute name.
    pub name: String,
    /// From the first byte of the name to the last byte of the value.
    pub span: Range<usize>,
    /// The value expression's bytes.
    pub value: Range<usize>,
    /// The value when it is one string literal without interpolation.
    pub literal: Option<String>,
}

/// A block.
#[derive(Debug)]
pub(crate) struct Block {
    /// The block type (`module`).
    pub ident: String,
    /// Its labels, decoded.
    pub labels: Vec<String>,
    /// Its body.
    pub body: Body,
}

/// A string token anywhere in an expression.
#[derive(Debug)]
pub(crate) enum Str {
    /// A string literal with no interpolation: its value and the quoted token's bytes.
    Literal(String, Range<usize>),
    /// A template (quoted with `${…}`/`%{…}`, or a heredoc): its bytes.
    Template(Range<usize>),
}

/// A parsed file: its body and every string token of its expressions.
#[derive(Debug, Default)]
pub(crate) struct File {
    /// The top-level body.
    pub body: Body,
    /// Every string token of every expression, in file order.
    pub strings: Vec<Str>,
}

impl Body {
    /// The attribute `name`, if present (the last one when repeated, as Terraform would
    /// refuse a repeated attribute anyway).
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.items.iter().rev().find_map(|i| match i {
            Item::Attr(a) if a.name == name => Some(a),
            _ => None,
        })
    }

    /// The blocks of type `ident`, in order.
    pub fn blocks<'b>(&'b self, ident: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
        self.items.iter().filter_map(move |i| match i {
            Item::Block(b) if b.ident == ident => Some(b),
            _ => None,
        })
    }
}

/// Why a file could not be read: a 0-based byte offset and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Where, as a byte offset into the file.
    pub offset: usize,
    /// What was expected or found.
    pub message: String,
}

/// Reads `text` with hcl-edit.
pub(crate) fn parse_hcl_edit(text: &str) -> Result<File, hcl_edit::parser::Error> {
    let body = hcl_edit::parser::parse_body(text)?;
    let mut strings = Strings::default();
    strings.visit_body(&body);
    Ok(File {
        body: convert_body(&body),
        strings: strings.found,
    })
}

fn convert_body(body: &hcl_edit::structure::Body) -> Body {
    let mut items = Vec::new();
    for s in body.iter() {
        if let Some(a) = s.as_attribute() {
            let (Some(span), Some(value)) = (a.span(), a.value.span()) else {
                continue;
            };
            let literal = match &a.value {
                Expression::String(s) => Some(s.value().to_string()),
                _ => None,
            };
            items.push(Item::Attr(Attr {
                name: a.key.as_str().to_string(),
                span,
                value,
                literal,
            }));
        } else if let Some(b) = s.as_block() {
            items.push(Item::Block(Block {
                ident: b.ident.as_str().to_string(),
                labels: b
                    .labels
                    .iter()
                    .map(|l| match l {
                        hcl_edit::structure::BlockLabel::String(s) => s.value().to_string(),
                        hcl_edit::structure::BlockLabel::Ident(i) => i.as_str().to_string(),
                    })
                    .collect(),
                body: convert_body(&b.body),
            }));
        }
    }
    Body { items }
}

#[derive(Default)]
struct Strings {
    found: Vec<Str>,
}

impl Visit for Strings {
    fn visit_expr(&mut self, expr: &Expression) {
        match expr {
            Expression::String(s) => {
                if let Some(span) = expr.span() {
                    self.found.push(Str::Literal(s.value().clone(), span));
                }
            }
            Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
                if let Some(span) = expr.span() {
                    self.found.push(Str::Template(span));
                }
                visit_expr(self, expr);
            }
            _ => visit_expr(self, expr),
        }
    }
}

/// Reads `text` token by token (see the module docs).
pub(crate) fn scan(text: &str) -> Result<File, SyntaxError> {
    let mut s = Scanner {
        t: text,
        b: text.as_bytes(),
        i: 0,
        strings: Vec::new(),
    };
    if s.b.starts_with(b"\xef\xbb\xbf") {
        s.i = 3;
    }
    let body = s.body(false, 0)?;
    Ok(File {
        body,
        strings: s.strings,
    })
}

/// How deep blocks and brackets may nest before the file is refused (no stack overflow on
/// hostile input).
const MAX_DEPTH: usize = 200;

struct Scanner<'a> {
    t: &'a str,
    b: &'a [u8],
    i: usize,
    strings: Vec<Str>,
}

impl Scanner<'_> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            offset: at,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn at(&self, s: &str) -> bool {
        self.b[self.i..].starts_with(s.as_bytes())
    }

    /// Skips blanks and comments; newlines too when `newlines`. A line comment's newline is
    /// left for the caller.
    fn trivia(&mut self, newlines: bool) -> Result<(), SyntaxError> {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' if newlines => self.i += 1,
                b'#' => self.line_comment(),
                b'/' if self.at("//") => self.line_comment(),
                b'/' if self.at("/*") => {
                    let start = self.i;
                    match self.t[self.i + 2..].find("*/") {
                        Some(end) => self.i += 2 + end + 2,
                        None => return self.err(start, "unterminated /* comment"),
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn line_comment(&mut self) {
        match self.b[self.i..].iter().position(|&c| c == b'\n') {
            Some(n) => self.i += n,
            None => self.i = self.b.len(),
        }
    }

    fn ident(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        let mut chars = self.t[self.i..].char_indices();
        match chars.next() {
            Some((_, c)) if c.is_alphabetic() || c == '_' => {}
            _ => return None,
        }
        let mut end = self.t.len();
        for (n, c) in chars {
            if !(c.is_alphanumeric() || c == '_' || c == '-') {
                end = start + n;
                break;
            }
        }
        self.i = end;
        Some(start..end)
    }

    /// A body: items until `}` (when `nested`) or the end of the file.
    fn body(&mut self, nested: bool, depth: usize) -> Result<Body, SyntaxError> {
        if depth > MAX_DEPTH {
            return self.err(self.i, "blocks nested too deeply");
        }
        let mut items = Vec::new();
        loop {
            self.trivia(true)?;
            let Some(c) = self.peek() else {
                if nested {
                    return self.err(self.i, "a block is not closed: expected `}`");
                }
                return Ok(Body { items });
            };
            if c == b'}' {
                if nested {
                    self.i += 1;
                    return Ok(Body { items });
                }
                return self.err(self.i, "unexpected `}`");
            }
            let start = self.i;
            let Some(name) = self.ident() else {
                return self.err(start, "expected an attribute name or a block type");
            };
            self.trivia(false)?;
            if self.peek() == Some(b'=') && !self.at("==") {
                let key = &self.t[name.clone()];
                let repeated = items
                    .iter()
                    .any(|i| matches!(i, Item::Attr(a) if a.name == key));
                if repeated {
                    // Terraform refuses this too ("Attribute redefined").
                    return self.err(start, format!("attribute `{key}` is defined twice"));
                }
                self.i += 1;
                self.trivia(false)?;
                let vstart = self.i;
                let first = self.strings.len();
                self.expr(nested, depth)?;
                let vend = self.trim_end(vstart, self.i);
                if vend == vstart {
                    return self.err(vstart, "expected an expression after `=`");
                }
                let literal = match &self.strings[first..] {
                    [Str::Literal(v, r)] if *r == (vstart..vend) => Some(v.clone()),
                    _ => None,
                };
                items.push(Item::Attr(Attr {
                    name: self.t[name].to_string(),
                    span: start..vend,
                    value: vstart..vend,
                    literal,
                }));
                self.end_of_item(nested)?;
                continue;
            }
            let mut labels = Vec::new();
            loop {
                self.trivia(false)?;
                match self.peek() {
                    Some(b'{') => break,
                    Some(b'"') => {
                        let at = self.i;
                        let first = self.strings.len();
                        self.quoted(depth)?;
                        let label = self.strings.drain(first..).next();
                        match label {
                            Some(Str::Literal(v, _)) => labels.push(v),
                            _ => return self.err(at, "a block label cannot be a template"),
                        }
                    }
                    _ => match self.ident() {
                        Some(r) => labels.push(self.t[r].to_string()),
                        None => {
                            return self.err(
                                self.i,
                                format!(
                                    "expected `=`, a block label or `{{` after `{}`",
                                    &self.t[name.clone()]
                                ),
                            )
                        }
                    },
                }
            }
            self.i += 1; // `{`
            let body = self.body(true, depth + 1)?;
            items.push(Item::Block(Block {
                ident: self.t[name].to_string(),
                labels,
                body,
            }));
            self.end_of_item(nested)?;
        }
    }

    /// After an item: blanks and a comment, then a newline, the end of the file or (in a
    /// nested body) the closing `}`.
    fn end_of_item(&mut self, nested: bool) -> Result<(), SyntaxError> {
        self.trivia(false)?;
        match self.peek() {
            None | Some(b'\n') => Ok(()),
            Some(b'}') if nested => Ok(()),
            _ => self.err(self.i, "expected a newline after an attribute or block"),
        }
    }

    /// `end` moved back over trailing blanks (comments are never inside the range).
    fn trim_end(&self, start: usize, mut end: usize) -> usize {
        while end > start && matches!(self.b[end - 1], b' ' | b'\t' | b'\r') {
            end -= 1;
        }
        end
    }

    /// An expression: up to a newline, a comment or the body's `}` at bracket depth 0.
    fn expr(&mut self, in_block: bool, depth: usize) -> Result<(), SyntaxError> {
        let mut stack: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                if let Some(open) = stack.last() {
                    return self.err(self.i, format!("`{}` is not closed", *open as char));
                }
                return Ok(());
            };
            let top = stack.is_empty();
            match c {
                b'\n' if top => return Ok(()),
                b'#' if top => return Ok(()),
                b'/' if top && (self.at("//") || self.at("/*")) => {
                    // A comment ends the expression unless more follows on the line.
                    let save = self.i;
                    self.trivia(false)?;
                    if matches!(self.peek(), None | Some(b'\n'))
                        || (in_block && self.peek() == Some(b'}'))
                    {
                        self.i = save;
                        return Ok(());
                    }
                }
                b'\n' | b' ' | b'\t' | b'\r' => self.i += 1,
                b'#' => self.line_comment(),
                b'/' if self.at("//") => self.line_comment(),
                b'/' if self.at("/*") => self.trivia(false)?,
                b'"' => self.quoted(depth)?,
                b'<' if self.at("<<") && self.heredoc_start() => self.heredoc(depth)?,
                b'(' | b'[' | b'{' => {
                    if depth + stack.len() > MAX_DEPTH {
                        return self.err(self.i, "expression nested too deeply");
                    }
                    stack.push(c);
                    self.i += 1;
                }
                b')' | b']' | b'}' => {
                    if top {
                        if c == b'}' && in_block {
                            return Ok(());
                        }
                        return self.err(self.i, format!("unexpected `{}`", c as char));
                    }
                    let open = stack.pop().expect("not empty: checked above");
                    let want = match open {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    };
                    if c != want {
                        return self.err(
                            self.i,
                            format!("`{}` closed by `{}`", open as char, c as char),
                        );
                    }
                    self.i += 1;
                }
                _ => {
                    // A run of bytes that mean nothing here (names, operators, numbers,
                    // blanks, any non-ASCII text): skipped at once. It ends at an ASCII byte,
                    // so on a character boundary.
                    self.i += 1;
                    self.skip_while(|b| {
                        !matches!(
                            b,
                            b'\n'
                                | b'#'
                                | b'/'
                                | b'"'
                                | b'<'
                                | b'('
                                | b'['
                                | b'{'
                                | b')'
                                | b']'
                                | b'}'
                        )
                    });
                }
            }
        }
    }

    /// Moves past the bytes `plain` accepts, up to the first it refuses or the end.
    fn skip_while(&mut self, plain: impl Fn(u8) -> bool) {
        let n = self.b[self.i..].iter().take_while(|&&b| plain(b)).count();
        self.i += n;
    }

    /// A quoted string at `"`; records it in `strings`.
    fn quoted(&mut self, depth: usize) -> Result<(), SyntaxError> {
        let start = self.i;
        // A template comes before the strings nested in it, as hcl-edit's visitor has it.
        let slot = self.strings.len();
        self.strings.push(Str::Template(start..start));
        self.i += 1;
        let mut value = String::new();
        let mut template = false;
        loop {
            let Some(c) = self.peek() else {
                return self.err(start, "unterminated string");
            };
            match c {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\n' => return self.err(start, "a quoted string cannot span lines"),
                b'\\' => {
                    let esc = self.i;
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return self.err(start, "unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'n' => value.push('\n'),
                        b'r' => value.push('\r'),
                        b't' => value.push('\t'),
                        b'"' => value.push('"'),
                        b'\\' => value.push('\\'),
                        b'u' | b'U' => {
                            let n = if e == b'u' { 4 } else { 8 };
                            let hex = self.t.get(self.i..self.i + n).unwrap_or("");
                            let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            match ch {
                                Some(ch) if hex.len() == n => value.push(ch),
                                _ => return self.err(esc, "invalid unicode escape"),
                            }
                            self.i += n;
                        }
                        _ => return self.err(esc, "invalid escape sequence"),
                    }
                }
                b'$' | b'%' if self.b.get(self.i + 1) == Some(&b'{') => {
                    template = true;
                    self.i += 2;
                    self.interpolation(depth)?;
                }
                b'$' | b'%'
                    if self.b.get(self.i + 1) == Some(&c)
                        && self.b.get(self.i + 2) == Some(&b'{') =>
                {
                    // `$${` and `%%{` are the literal `${` and `%{`.
                    value.push(c as char);
                    value.push('{');
                    self.i += 3;
                }
                _ => {
                    // The text up to the next byte that means something in a string (ASCII:
                    // a character boundary), copied at once.
                    let from = self.i;
                    self.i += 1;
                    self.skip_while(|b| !matches!(b, b'"' | b'\n' | b'\\' | b'$' | b'%'));
                    value.push_str(&self.t[from..self.i]);
                }
            }
        }
        let range = start..self.i;
        self.strings[slot] = if template {
            Str::Template(range)
        } else {
            Str::Literal(value, range)
        };
        Ok(())
    }

    /// The inside of `${…}` / `%{…}`, after the opening brace, through the closing one.
    fn interpolation(&mut self, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            return self.err(self.i, "templates nested too deeply");
        }
        let start = self.i;
        let mut braces = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return self.err(start, "unterminated `${` interpolation");
            };
            match c {
                b'"' => self.quoted(depth + 1)?,
                b'<' if self.at("<<") && self.heredoc_start() => self.heredoc(depth + 1)?,
                b'{' => {
                    braces += 1;
                    self.i += 1;
                }
                b'}' if braces == 0 => {
                    self.i += 1;
                    return Ok(());
                }
                b'}' => {
                    braces -= 1;
                    self.i += 1;
                }
                _ => {
                    self.i += 1;
                    self.skip_while(|b| !matches!(b, b'"' | b'<' | b'{' | b'}'));
                }
            }
        }
    }

    /// Whether `<<` starts a heredoc (`<<EOT` or `<<-EOT`).
    fn heredoc_start(&self) -> bool {
        let rest = &self.b[self.i + 2..];
        let rest = rest.strip_prefix(b"-").unwrap_or(rest);
        rest.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    }

    /// A heredoc at `<<`: through its closing marker line (the newline stays). Strings in
    /// its interpolations are recorded after it.
    fn heredoc(&mut self, depth: usize) -> Result<(), SyntaxError> {
        let start = self.i;
        let slot = self.strings.len();
        self.strings.push(Str::Template(start..start));
        self.i += 2;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let Some(marker) = self.ident() else {
            return self.err(start, "expected a heredoc marker");
        };
        let marker = &self.t[marker];
        let rest = &self.t[self.i..];
        let Some(nl) = rest.find('\n') else {
            return self.err(start, "a heredoc marker must end its line");
        };
        if !rest[..nl].trim().is_empty() {
            return self.err(start, "a heredoc marker must end its line");
        }
        let mut pos = self.i + nl + 1;
        loop {
            if pos >= self.t.len() {
                return self.err(start, format!("heredoc {marker} is not closed"));
            }
            let line_end = self.t[pos..].find('\n').map_or(self.t.len(), |n| pos + n);
            if self.t[pos..line_end].trim() == marker {
                let end = pos + self.t[pos..line_end].trim_end().len();
                self.strings[slot] = Str::Template(start..end);
                self.i = end;
                return Ok(());
            }
            // Interpolations in this line (one may run over several lines): their strings
            // are tokens too.
            let mut k = pos;
            let mut end = line_end;
            while k < end {
                let b = self.b[k];
                if (b == b'$' || b == b'%')
                    && self.b.get(k + 1) == Some(&b)
                    && self.b.get(k + 2) == Some(&b'{')
                {
                    k += 3; // `$${` is a literal `${`
                    continue;
                }
                if (b == b'$' || b == b'%') && self.b.get(k + 1) == Some(&b'{') {
                    self.i = k + 2;
                    self.interpolation(depth + 1)?;
                    k = self.i;
                    if k > end {
                        end = self.t[k..].find('\n').map_or(self.t.len(), |n| k + n);
                    }
                    continue;
                }
                k += 1;
            }
            pos = end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The structure a walker sees, as text, for comparing the two readers.
    fn shape(f: &File) -> String {
        fn body(b: &Body, out: &mut String) {
            for i in &b.items {
                match i {
                    Item::Attr(a) => out.push_str(&format!(
                        "A {} {:?} {:?} {:?}\n",
                        a.name, a.span, a.value, a.literal
                    )),
                    Item::Block(b) => {
                        out.push_str(&format!("B {} {:?} {{\n", b.ident, b.labels));
                        body(&b.body, out);
                        out.push_str("}\n");
                    }
                }
            }
        }
        let mut out = String::new();
        body(&f.body, &mut out);
        for s in &f.strings {
            match s {
                Str::Literal(v, r) => out.push_str(&format!("L {v:?} {r:?}\n")),
                Str::Template(r) => out.push_str(&format!("T {r:?}\n")),
            }
        }
        out
    }

    /// Compares both readers on every `.tf`/`.hcl` blob of every ref of the bare repos in
    /// `$TFMONO_REAL_CORPUS` (a corpus of real public repos; see `scripts/bench.sh --real`).
    /// Run with `cargo test --release --lib readers_agree_on_a_real_corpus -- --ignored`.
    #[test]
    #[ignore = "needs a corpus of real repos in TFMONO_REAL_CORPUS"]
    fn readers_agree_on_a_real_corpus() {
        let dir = std::env::var("TFMONO_REAL_CORPUS").expect("TFMONO_REAL_CORPUS");
        let mut compared = 0;
        let mut only_scan = 0;
        let mut neither = 0;
        let mut mismatches = Vec::new();
        for entry in std::fs::read_dir(dir).expect("corpus dir") {
            let path = entry.expect("entry").path();
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&path)
                .args(["rev-list", "--objects", "--all"])
                .output()
                .expect("git");
            let list = String::from_utf8_lossy(&out.stdout).to_string();
            let ids: Vec<&str> = list
                .lines()
                .filter_map(|l| l.split_once(' '))
                .filter(|(_, name)| {
                    name.ends_with(".tf") || name.ends_with(".hcl") || name.ends_with(".tofu")
                })
                .map(|(id, _)| id)
                .collect();
            let mut cat = std::process::Command::new("git")
                .arg("-C")
                .arg(&path)
                .args(["cat-file", "--batch"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("git cat-file");
            let mut stdin = cat.stdin.take().expect("stdin");
            let input = ids.join("\n") + "\n";
            let writer = std::thread::spawn(move || {
                use std::io::Write;
                stdin.write_all(input.as_bytes()).expect("write");
            });
            let out = cat.wait_with_output().expect("cat-file");
            writer.join().expect("writer");
            let data = out.stdout;
            let mut at = 0;
            while at < data.len() {
                let nl = at + data[at..].iter().position(|&c| c == b'\n').expect("header");
                let header = String::from_utf8_lossy(&data[at..nl]).to_string();
                let size: usize = header
                    .rsplit(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("size");
                let blob = &data[nl + 1..nl + 1 + size];
                at = nl + 1 + size + 1;
                let Ok(text) = std::str::from_utf8(blob) else {
                    continue;
                };
                match (parse_hcl_edit(text), scan(text)) {
                    (Ok(a), Ok(b)) => {
                        compared += 1;
                        let (sa, sb) = (shape(&a), shape(&b));
                        if sa != sb {
                            let first = sa
                                .lines()
                                .zip(sb.lines())
                                .find(|(x, y)| x != y)
                                .map(|(x, y)| format!("hcl-edit: {x}\n    scan: {y}"))
                                .unwrap_or_else(|| "(length differs)".into());
                            mismatches.push(format!("{} {header}\n    {first}", path.display()));
                        }
                    }
                    (Err(_), Ok(_)) => only_scan += 1,
                    (Ok(_), Err(e)) => mismatches.push(format!(
                        "{} {header}: only hcl-edit reads it; scan: {e:?}",
                        path.display()
                    )),
                    (Err(_), Err(_)) => neither += 1,
                }
            }
        }
        eprintln!(
            "{compared} compared, {only_scan} read by the scanner only, {neither} by neither"
        );
        assert!(compared > 0);
        assert!(
            mismatches.is_empty(),
            "{} mismatches:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    }

    fn literal<'f>(f: &'f File, block: &'f str, attr: &str) -> Option<&'f str> {
        f.body
            .blocks(block)
            .next()?
            .body
            .attr(attr)?
            .literal
            .as_deref()
    }

    #[test]
    fn repeated_object_keys_are_read() {
        let src = "locals {\n  tags = {\n    Name = \"a\"\n    Name = \"b\"\n  }\n}\nmodule \"x\" {\n  source  = \"git::https://h/o/r.git?ref=v1\" # c\n  version = \"1.0\"\n}\n";
        assert!(
            hcl_edit::parser::parse_body(src).is_err(),
            "hcl-edit refuses it"
        );
        let f = scan(src).expect("scans");
        assert_eq!(
            literal(&f, "module", "source"),
            Some("git::https://h/o/r.git?ref=v1")
        );
        let m = f.body.blocks("module").next().expect("module");
        let a = m.body.attr("source").expect("source");
        assert_eq!(&src[a.value.clone()], "\"git::https://h/o/r.git?ref=v1\"");
        assert_eq!(
            &src[a.span.clone()],
            "source  = \"git::https://h/o/r.git?ref=v1\""
        );
        let v = m.body.attr("version").expect("version");
        assert_eq!(&src[v.span.clone()], "version = \"1.0\"");
    }

    #[test]
    fn same_structure_as_hcl_edit_on_valid_files() {
        let src = "# c\nterraform {\n  source = \"${include.e.locals.u}?ref=v1\"\n}\nmodule a { source = \"./x\" }\ninputs = {\n  x = [\"a\", <<-EOT\n    heredoc ${x}\n  EOT\n  ]\n  y = \"$${lit}\"\n}\n";
        let a = parse_hcl_edit(src).expect("hcl-edit");
        let b = scan(src).expect("scan");
        let shape = |f: &File| {
            f.strings
                .iter()
                .map(|s| match s {
                    Str::Literal(v, r) => format!("L {v} {r:?}"),
                    Str::Template(r) => format!("T {r:?}"),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&a), shape(&b));
        assert_eq!(literal(&b, "module", "source"), Some("./x"));
        assert_eq!(
            b.body.attr("inputs").map(|a| a.literal.is_none()),
            Some(true)
        );
    }

    #[test]
    fn bom_is_skipped() {
        let src = "\u{feff}module \"a\" {\n  source = \"x\"\n}\n";
        let f = scan(src).expect("scans");
        let a = f
            .body
            .blocks("module")
            .next()
            .expect("m")
            .body
            .attr("source")
            .expect("s");
        assert_eq!(&src[a.value.clone()], "\"x\"");
    }

    #[test]
    fn templates_and_broken_files_are_refused() {
        for bad in [
            "terraform {\n  source = \"{{ .sourceUrl }}\"\n}\n{{ if .x }}\n",
            "{{ .x }}\n",
            "module \"a\" {\n  source = \"x\"\n",
            "module \"a\" {\n  source = \"x\n}\n",
            "a = (1]\n",
            "a = <<EOT\nno end\n",
            "a = \"\\q\"\n",
            "a b c\n",
            "= 1\n",
            "a = 1\na = 2\n",
        ] {
            assert!(scan(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escapes_are_decoded() {
        let f = scan("a = \"x\\\"y\\\\z\\u00e9%%{w}\"\n").expect("scans");
        let a = f.body.attr("a").expect("a");
        assert_eq!(a.literal.as_deref(), Some("x\"y\\z\u{e9}%{w}"));
    }

    #[test]
    fn text_is_read_in_runs_whatever_its_characters() {
        // Runs of plain text end on the bytes that mean something, never inside a
        // character; `$` and `%` alone are plain; both readers see the same strings.
        let src = "a = \"héllo $x 100% wörld ✓\"\nb = [\"ü\" /* ✓ */, 1 / 2 < 3]\n\
                   c = \"${var.ü} ✓ ${join(\"—\", [\"x\"])}\"\nmodule \"ü\" {\n  source = \"./ü\"\n}\n";
        let f = scan(src).expect("scans");
        assert_eq!(
            f.body.attr("a").and_then(|a| a.literal.as_deref()),
            Some("héllo $x 100% wörld ✓")
        );
        assert_eq!(literal(&f, "module", "source"), Some("./ü"));
        let edit = parse_hcl_edit(src).expect("hcl-edit parses it");
        assert_eq!(shape(&f), shape(&edit));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("a = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(scan(&src).is_err());
        let src = "b {\n".repeat(1000);
        assert!(scan(&src).is_err());
    }
}

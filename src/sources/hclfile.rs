//! `.tf`, `.tofu`, Terragrunt `.hcl`, `terragrunt.stack.hcl` and test files: find sources in
//! the file's structure ([`syntax`](super::syntax)), splice new strings in.
//!
//! The rewriter replaces exactly the bytes of each changed string token (and deletes whole
//! `version = …` lines), so comments, alignment and everything else stay byte-identical.

use std::collections::HashSet;

use super::rewrite::{whole_lines, FileKind, Rewriter, Role, VersionAttr};
use super::split::{self, SplitTable};
use super::syntax::{self, Attr, Body, Str};
use super::Unparsed;

/// The `(source, version)` attributes of every module call in `body` for files of `kind`.
fn calls<'b>(body: &'b Body, kind: FileKind) -> Vec<(Option<&'b Attr>, Option<&'b Attr>)> {
    let module = |b: &'b syntax::Block| (b.body.attr("source"), b.body.attr("version"));
    match kind {
        FileKind::Terraform => body.blocks("module").map(module).collect(),
        FileKind::Terragrunt => body
            .blocks("terraform")
            .map(|b| (b.body.attr("source"), None))
            .collect(),
        // `run "x" { module { source = … version = … } }`
        FileKind::Test => body
            .blocks("run")
            .flat_map(|run| run.body.blocks("module").map(module))
            .collect(),
        // `unit "x" { source = … }` and `stack "x" { source = … }`
        FileKind::Stack => body
            .blocks("unit")
            .chain(body.blocks("stack"))
            .map(|b| (b.body.attr("source"), None))
            .collect(),
        FileKind::Json | FileKind::TerragruntJson => Vec::new(),
    }
}

/// Reads one HCL file with the token scanner (hcl-edit where the scanner refuses it and
/// hcl-edit does not). `None` (with [`FileOutcome::unparsed`](super::FileOutcome::unparsed)
/// set) when neither can.
///
/// The scanner comes first because it is several times faster and reads what Terraform
/// reads; on every `.tf`/`.hcl` version of a corpus of real module repos both readers give
/// the same structure (`readers_agree_on_a_real_corpus` in `syntax`).
pub(crate) fn read(rw: &mut Rewriter<'_, '_>) -> Option<syntax::File> {
    if let Ok(f) = syntax::scan(rw.content) {
        return Some(f);
    }
    match syntax::parse_hcl_edit(rw.content) {
        Ok(f) => Some(f),
        Err(e) => {
            let why = format!(
                "line {}, column {}: {}",
                e.location().line(),
                e.location().column(),
                e.message()
            );
            rw.out.unparsed = Some(Unparsed {
                line: e.location().line(),
                message: why,
                mentions: Vec::new(),
            });
            None
        }
    }
}

/// Walks one HCL file of `kind`. Returns `false` when it does not parse.
pub(crate) fn walk(rw: &mut Rewriter<'_, '_>, kind: FileKind) -> bool {
    let Some(file) = read(rw) else {
        return false;
    };
    let mut handled: HashSet<usize> = HashSet::new();
    if kind == FileKind::Terragrunt {
        if let Some(table) = rw.ctx.split {
            split_halves(rw, &file.body, table, &mut handled);
        }
    }
    for (source, version) in calls(&file.body, kind) {
        let version_attr = version.map(|a| {
            handled.insert(a.value.start);
            match &a.literal {
                Some(v) => VersionAttr::Literal(v.clone(), whole_lines(rw.content, a.span.clone())),
                None => VersionAttr::Expression,
            }
        });
        let Some(source) = source else {
            continue;
        };
        if !handled.insert(source.value.start) {
            continue; // a split source's unit, done above
        }
        match &source.literal {
            Some(v) => {
                rw.literal(
                    v,
                    source.value.clone(),
                    Role::Source,
                    version_attr.as_ref(),
                    crate::hcl::quote,
                );
            }
            None => rw.expression(source.value.clone(), Role::Source),
        }
    }
    for found in file.strings {
        match found {
            Str::Literal(value, span) => {
                if !handled.contains(&span.start) {
                    rw.literal(&value, span, Role::Other, None, crate::hcl::quote);
                }
            }
            Str::Template(span) => {
                if !handled.contains(&span.start) {
                    rw.expression(span, Role::Other);
                }
            }
        }
    }
    true
}

/// Both halves of Terragrunt split sources in one file: base URLs in `locals` blocks and
/// units' `terraform { source }` templates, per the tree's [`SplitTable`].
fn split_halves(
    rw: &mut Rewriter<'_, '_>,
    body: &Body,
    table: &SplitTable,
    handled: &mut HashSet<usize>,
) {
    for block in body.blocks("locals") {
        for item in &block.body.items {
            let syntax::Item::Attr(a) = item else {
                continue;
            };
            let Some(entry) = table.base(rw.file, &a.name) else {
                continue;
            };
            let Some(value) = a.literal.as_deref() else {
                continue;
            };
            if split::base_repo(value, rw.ctx.targets).as_deref() != Some(entry.repo.as_str()) {
                continue;
            }
            handled.insert(a.value.start);
            rw.split_base(value, a.value.clone(), entry);
        }
    }
    for block in body.blocks("terraform") {
        let Some(source) = block.body.attr("source") else {
            continue;
        };
        if source.literal.is_some() {
            continue;
        }
        let token = rw.content.get(source.value.clone()).unwrap_or("");
        let Some(unit) = split::parse_unit(token) else {
            continue;
        };
        let Some(entry) = table.unit(rw.file, &unit.name) else {
            continue;
        };
        handled.insert(source.value.start);
        rw.split_unit(source.value.clone(), &unit, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_spans_cover_the_quoted_token() {
        let src = "module \"a\" {\n  source  = \"x\" # c\n  version = \"1\"\n}\n";
        for file in [
            syntax::parse_hcl_edit(src).expect("parses"),
            syntax::scan(src).expect("scans"),
        ] {
            let block = file.body.blocks("module").next().expect("block");
            let attr = block.body.attr("source").expect("source");
            assert_eq!(&src[attr.value.clone()], "\"x\"");
            let v = block.body.attr("version").expect("version");
            assert!(src[v.span.clone()].starts_with("version"));
            assert_eq!(calls(&file.body, FileKind::Terraform).len(), 1);
            assert_eq!(calls(&file.body, FileKind::Terragrunt).len(), 0);
        }
    }

    #[test]
    fn calls_per_kind() {
        let src = "run \"a\" {\n  module {\n    source = \"x\"\n  }\n}\nunit \"u\" {\n  source = \"y\"\n  path = \"u\"\n}\nstack \"s\" {\n  source = \"z\"\n}\n";
        let file = syntax::parse_hcl_edit(src).expect("parses");
        let lit = |k| {
            calls(&file.body, k)
                .iter()
                .filter_map(|(s, _)| s.and_then(|a| a.literal.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(lit(FileKind::Test), ["x"]);
        assert_eq!(lit(FileKind::Stack), ["y", "z"]);
        assert!(lit(FileKind::Terraform).is_empty());
    }
}

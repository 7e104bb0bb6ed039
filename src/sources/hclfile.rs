//! `.tf` and Terragrunt `.hcl` files: find sources with hcl-edit, splice new strings in.
//!
//! hcl-edit parses the file with spans; the rewriter replaces exactly the bytes of each
//! changed string token (and deletes whole `version = …` lines), so comments, alignment and
//! everything else stay byte-identical.

use std::collections::HashSet;
use std::ops::Range;

use hcl_edit::expr::Expression;
use hcl_edit::visit::{visit_expr, Visit};
use hcl_edit::Span;

use super::rewrite::{whole_lines, Rewriter, Role, VersionAttr};
use super::SourceError;

enum Found {
    Literal(String, Range<usize>),
    Template(Range<usize>),
}

#[derive(Default)]
struct Strings {
    found: Vec<Found>,
}

impl Visit for Strings {
    fn visit_expr(&mut self, expr: &Expression) {
        match expr {
            Expression::String(s) => {
                if let Some(span) = expr.span() {
                    self.found.push(Found::Literal(s.value().clone(), span));
                }
            }
            Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
                if let Some(span) = expr.span() {
                    self.found.push(Found::Template(span));
                }
                visit_expr(self, expr);
            }
            _ => visit_expr(self, expr),
        }
    }
}

/// Walks one HCL file; `terraform` selects `module` blocks (`.tf`) rather than Terragrunt's
/// `terraform { source }`. Returns `false` when the file does not parse.
pub(crate) fn walk(rw: &mut Rewriter<'_, '_>, terraform: bool) -> bool {
    let body = match hcl_edit::parser::parse_body(rw.content) {
        Ok(b) => b,
        Err(e) => {
            rw.out.errors.push(SourceError {
                line: e.location().line(),
                message: format!(
                    "cannot parse {} at column {}: {}; file left unchanged",
                    rw.file,
                    e.location().column(),
                    e.message()
                ),
            });
            return false;
        }
    };
    let mut handled: HashSet<usize> = HashSet::new();
    for block in body.blocks() {
        let wanted = if terraform { "module" } else { "terraform" };
        if block.ident.as_str() != wanted {
            continue;
        }
        let version = if terraform {
            block.body.get_attribute("version")
        } else {
            None
        };
        let version_attr = version.and_then(|a| {
            let vspan = a.value.span()?;
            handled.insert(vspan.start);
            Some(match &a.value {
                Expression::String(s) => {
                    VersionAttr::Literal(s.value().clone(), whole_lines(rw.content, a.span()?))
                }
                _ => VersionAttr::Expression,
            })
        });
        let Some(source) = block.body.get_attribute("source") else {
            continue;
        };
        let Some(span) = source.value.span() else {
            continue;
        };
        handled.insert(span.start);
        match &source.value {
            Expression::String(s) => {
                rw.literal(
                    s.value(),
                    span,
                    Role::Source,
                    version_attr.as_ref(),
                    crate::hcl::quote,
                );
            }
            _ => rw.expression(span, Role::Source),
        }
    }
    let mut strings = Strings::default();
    strings.visit_body(&body);
    for found in strings.found {
        match found {
            Found::Literal(value, span) => {
                if !handled.contains(&span.start) {
                    rw.literal(&value, span, Role::Other, None, crate::hcl::quote);
                }
            }
            Found::Template(span) => {
                if !handled.contains(&span.start) {
                    rw.expression(span, Role::Other);
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_spans_cover_the_quoted_token() {
        let src = "module \"a\" {\n  source  = \"x\" # c\n  version = \"1\"\n}\n";
        let body = hcl_edit::parser::parse_body(src).expect("parses");
        let block = body.blocks().next().expect("block");
        let attr = block.body.get_attribute("source").expect("source");
        let span = attr.value.span().expect("span");
        assert_eq!(&src[span], "\"x\"");
        let v = block.body.get_attribute("version").expect("version");
        let aspan = v.span().expect("span");
        assert!(src[aspan].starts_with("version"));
    }
}

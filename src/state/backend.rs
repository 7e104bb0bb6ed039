//! Backend keys that change when a root moves, and pinning them.
//!
//! # What Terragrunt computes
//!
//! A Terragrunt `remote_state` whose key is `"${path_relative_to_include()}/terraform.tfstate"`
//! stores the state at a key derived from the directory layout. Terragrunt's
//! `path_relative_to_include()` is `filepath.Rel(dir of the included config, dir of the child
//! config)` with `/` separators, and `"."` when the config has no `include` (or both are the
//! same directory). Terragrunt does not clean the result, so a root without `include` uses
//! the key `./terraform.tfstate` (with the leading `./`).
//!
//! In a legacy repo whose root config (`<old_dir>/terragrunt.hcl`) defines `remote_state`
//! itself, the value is `"."`. tfmono's live monorepo evaluates every root under the
//! monorepo's top-level `terragrunt.hcl` (the include root that `find_in_parent_folders()`
//! finds), so there the value is the root's path in the monorepo (`new_dir`, e.g.
//! `prod/korea/api/static`) and the key becomes `prod/korea/api/static/terraform.tfstate`:
//! without a pin or a copy Terraform would start from an empty state.
//!
//! When the root includes a parent config that lives inside the same legacy repo, the parent
//! moves along with it, the relative path stays the same and the key does not change.
//! A parent outside the repo (not in `files`) cannot be evaluated: no change is reported.
//!
//! Plain Terraform `backend "s3" { key = "…" }` blocks only take literals (Terraform does
//! not allow expressions there), so their keys never change when a root moves.

use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Body, Structure};
use hcl_edit::template::Element;
use hcl_edit::Span;
use serde::Serialize;

/// A backend key that changes when the root moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    /// The file holding the key expression (relative to the legacy repo root).
    pub file: String,
    /// 1-based line of the `key` attribute.
    pub line: usize,
    /// The key in the legacy repo (where the state is now).
    pub old_key: String,
    /// The key the root would use in the monorepo.
    pub new_key: String,
    /// How both were computed, for reports.
    pub how: String,
}

/// Why [`pin`] could not rewrite a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The content is not valid HCL.
    #[error("not valid HCL at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// No `remote_state { config = { key = … } }` or `backend { key = … }` was found.
    #[error("no backend `key` attribute found (looked for remote_state {{ config = {{ key = … }} }} and terraform {{ backend \"…\" {{ key = … }} }})")]
    NoKey,
}

/// Where a key expression is, and what it is.
struct Found {
    span: Range<usize>,
    expr: Expression,
}

fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Finds the `key` of `remote_state { config = { key = … } }` (block or attribute form)
/// or of `terraform { backend "…" { key = … } }`.
fn find_key(body: &Body) -> Option<Found> {
    for s in body.iter() {
        match s {
            Structure::Block(b) if b.ident.as_str() == "remote_state" => {
                if let Some(f) = b
                    .body
                    .get_attribute("config")
                    .and_then(|a| object_key(&a.value))
                {
                    return Some(f);
                }
            }
            Structure::Attribute(a) if a.key.as_str() == "remote_state" => {
                if let Some(cfg) = a.value.as_object().and_then(|o| {
                    o.iter()
                        .find(|(k, _)| key_name(k) == Some("config"))
                        .map(|(_, v)| v.expr().clone())
                }) {
                    if let Some(f) = object_key(&cfg) {
                        return Some(f);
                    }
                }
            }
            Structure::Block(b) if b.ident.as_str() == "terraform" => {
                for inner in b.body.get_blocks("backend") {
                    if let Some(a) = inner.body.get_attribute("key") {
                        if let Some(span) = a.value.span() {
                            return Some(Found {
                                span,
                                expr: a.value.clone(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn key_name(k: &ObjectKey) -> Option<&str> {
    match k {
        ObjectKey::Ident(i) => Some(i.as_str()),
        ObjectKey::Expression(e) => e.as_str(),
    }
}

fn object_key(expr: &Expression) -> Option<Found> {
    let (_, v) = expr
        .as_object()?
        .iter()
        .find(|(k, _)| key_name(k) == Some("key"))?;
    Some(Found {
        span: v.expr().span()?,
        expr: v.expr().clone(),
    })
}

/// Evaluates a key expression with `path_relative_to_include()` = `rel`; `None` when the
/// expression uses anything else.
fn eval_key(expr: &Expression, rel: &str) -> Option<(String, bool)> {
    if let Some(s) = expr.as_str() {
        return Some((s.to_string(), false));
    }
    let t = expr.as_string_template()?;
    let mut out = String::new();
    let mut uses = false;
    for el in t.iter() {
        match el {
            Element::Literal(l) => out.push_str(l.as_str()),
            Element::Interpolation(i) => {
                let call = i.expr.as_func_call()?;
                if call.name.name.as_str() != "path_relative_to_include" {
                    return None;
                }
                uses = true;
                out.push_str(rel);
            }
            Element::Directive(_) => return None,
        }
    }
    Some((out, uses))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or("").matches('\n').count() + 1
}

/// Finds the backend key of the root at `old_dir` in a legacy repo (`files`: paths relative
/// to the repo root and contents) that changes when the root moves to `new_dir` in the
/// monorepo. See the module docs for exactly what is computed. `None`: no change (or nothing
/// tfmono can evaluate).
pub fn detect(files: &[(String, String)], old_dir: &str, new_dir: &str) -> Option<KeyChange> {
    let file = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.as_str())
    };
    detect_in(file, old_dir, new_dir)
}

/// [`detect`] over a lookup of file contents by path (relative to the legacy repo root).
pub fn detect_in<'a>(
    file: impl Fn(&str) -> Option<&'a str>,
    old_dir: &str,
    new_dir: &str,
) -> Option<KeyChange> {
    let old_dir = old_dir.trim_matches('/');
    let new_dir = new_dir.trim_matches('/');
    let root_cfg = join(old_dir, "terragrunt.hcl");
    let text = file(&root_cfg)?;
    let body = hcl_edit::parser::parse_body(text).ok()?;
    // With an `include`, the parent either lives in the repo and moves along with the root
    // (the relative path, so the key, stays) or lies outside it (cannot be evaluated):
    // either way no change is reported. Without one, the key is in the root config itself.
    if body.get_blocks("include").next().is_some() {
        return None;
    }
    let found = find_key(&body)?;
    let (key_file, key_text) = (root_cfg.clone(), text);
    let old_rel = ".".to_string();
    let new_rel = if new_dir.is_empty() {
        ".".to_string()
    } else {
        new_dir.to_string()
    };
    let how = format!("terragrunt path_relative_to_include() is \".\" in the legacy repo ({root_cfg} has no include) and \"{new_dir}\" under the monorepo's root terragrunt.hcl");
    let (old_key, uses) = eval_key(&found.expr, &old_rel)?;
    if !uses {
        return None;
    }
    let (new_key, _) = eval_key(&found.expr, &new_rel)?;
    if old_key == new_key {
        return None;
    }
    Some(KeyChange {
        file: key_file,
        line: line_of(key_text, found.span.start),
        old_key,
        new_key,
        how,
    })
}

/// Rewrites the backend `key` expression in `content` to the literal `old_key`, leaving every
/// other byte (comments, layout) as it was.
pub fn pin(content: &str, old_key: &str) -> Result<String, PinError> {
    let body = hcl_edit::parser::parse_body(content).map_err(|e| PinError::Syntax {
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_string(),
    })?;
    let found = find_key(&body).ok_or(PinError::NoKey)?;
    let mut out = String::with_capacity(content.len() + old_key.len());
    out.push_str(content.get(..found.span.start).unwrap_or(""));
    out.push_str(&crate::hcl::quote(old_key));
    out.push_str(content.get(found.span.end..).unwrap_or(""));
    Ok(out)
}

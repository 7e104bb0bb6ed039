//! Finds the root modules to prove in a checkout of a monorepo's `main`: directories with a
//! Terraform `backend` (or `cloud`) block, directories whose `terragrunt.hcl` has a
//! `remote_state` or `include` block (a Terragrunt unit), and directories a mapping `state`
//! block names. Each belongs to the import whose path holds it (the longest one), which gives
//! the legacy repo and the directory in it.
//!
//! The scan is lexical (a line starting `backend "…" {`), as Terraform files with
//! templates or syntax errors must not stop the proof; files holding Go template markers
//! (`{{ … }}`, boilerplate templates) are not units.

use std::path::Path;

use regex::Regex;
use serde::Serialize;

use crate::plan::{ImportStep, MonorepoPlan};

/// How a root is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `terraform get` in the directory.
    Terraform,
    /// `terragrunt get` in the directory (a Terragrunt unit).
    Terragrunt,
}

/// A root module found in a monorepo, and where it was in its legacy repo.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Root {
    /// `<monorepo>/<path>` (`live/prod/korea/api/static`), as `state` blocks name roots.
    pub name: String,
    /// The monorepo.
    pub monorepo: String,
    /// The directory in the monorepo (`prod/korea/api/static`).
    pub dir: String,
    /// The legacy repo it was imported from.
    pub repo: String,
    /// The directory in the legacy repo (empty: its top level).
    pub legacy_dir: String,
    /// How it is run.
    pub kind: Kind,
    /// Whether it also has a Terraform backend block (a Terragrunt unit that Terraform can
    /// run alone).
    pub backend: bool,
}

/// A `--roots` pattern: `*` matches within one path component, `**` across components,
/// `?` one character; it must match the whole root name.
#[derive(Debug, Clone)]
pub struct RootFilter(Regex);

impl RootFilter {
    /// Compiles a glob such as `live/prod/**`.
    pub fn parse(glob: &str) -> Result<RootFilter, regex::Error> {
        let mut re = String::from("^");
        let mut chars = glob.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    re.push_str(".*");
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        Regex::new(&re).map(RootFilter)
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// Every root in `checkout` (a checkout of `m`'s `main`) plus the directories `state_roots`
/// names in this monorepo (`<monorepo>/<dir>`); sorted by name. A named directory that does
/// not exist or belongs to no import is returned in the second list.
pub fn find(
    m: &MonorepoPlan,
    checkout: &Path,
    state_roots: &[String],
) -> std::io::Result<(Vec<Root>, Vec<String>)> {
    let mut dirs = Vec::new();
    walk(checkout, checkout, &mut dirs)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for s in state_roots {
        let Some(dir) = s
            .strip_prefix(&m.name)
            .and_then(|d| d.strip_prefix('/'))
            .map(|d| d.trim_matches('/'))
        else {
            continue;
        };
        if !dirs.iter().any(|(d, _, _)| d == dir) {
            match checkout.join(dir).is_dir() {
                true => {
                    let (kind, backend) =
                        kind_of(&checkout.join(dir))?.unwrap_or((Kind::Terraform, false));
                    dirs.push((dir.to_string(), kind, backend));
                }
                false => {
                    missing.push(s.clone());
                    continue;
                }
            }
        }
    }
    for (dir, kind, backend) in dirs {
        match owner(&m.imports, &dir) {
            Some(step) => {
                let legacy_dir = dir[step.path.len()..].trim_start_matches('/').to_string();
                found.push(Root {
                    name: format!("{}/{dir}", m.name),
                    monorepo: m.name.clone(),
                    dir,
                    repo: step.repo.clone(),
                    legacy_dir,
                    kind,
                    backend,
                });
            }
            None if state_roots.contains(&format!("{}/{dir}", m.name)) => {
                missing.push(format!("{}/{dir}", m.name));
            }
            None => {}
        }
    }
    found.sort();
    Ok((found, missing))
}

/// The import whose path holds `dir` (the longest), if it has a default branch (only
/// those are on `main`).
fn owner<'a>(imports: &'a [ImportStep], dir: &str) -> Option<&'a ImportStep> {
    imports
        .iter()
        .filter(|s| s.default_branch.is_some())
        .filter(|s| {
            s.path.is_empty()
                || dir == s.path
                || dir
                    .strip_prefix(&s.path)
                    .is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(|s| s.path.len())
}

/// Collects (relative dir, kind, has a backend) for every root directory below `dir`,
/// skipping dot directories (`.git`, `.terraform`, `.terragrunt-cache`).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Kind, bool)>) -> std::io::Result<()> {
    if let Some((kind, backend)) = kind_of(dir)? {
        let rel = dir.strip_prefix(root).unwrap_or(dir).to_string_lossy();
        out.push((rel.into_owned(), kind, backend));
    }
    let mut subdirs = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() && !e.file_name().to_string_lossy().starts_with('.') {
            subdirs.push(e.path());
        }
    }
    subdirs.sort();
    for d in subdirs {
        walk(root, &d, out)?;
    }
    Ok(())
}

/// Whether `dir` is a root: its kind and whether it has a Terraform backend block.
pub(super) fn kind_of(dir: &Path) -> std::io::Result<Option<(Kind, bool)>> {
    let backend = has_backend(dir)?;
    let unit = dir.join("terragrunt.hcl");
    if unit.is_file() {
        let text = String::from_utf8_lossy(&std::fs::read(&unit)?).into_owned();
        let block = Regex::new(r"(?m)^\s*(remote_state|include)\b").expect("a valid regex");
        if !text.contains("{{") && block.is_match(&text) {
            return Ok(Some((Kind::Terragrunt, backend)));
        }
    }
    Ok(backend.then_some((Kind::Terraform, true)))
}

/// Whether a `.tf`/`.tf.json` file of `dir` has a `backend` or `cloud` block.
fn has_backend(dir: &Path) -> std::io::Result<bool> {
    let backend =
        Regex::new(r#"(?m)^\s*(backend\s+"[^"]*"\s*\{|cloud\s*\{)"#).expect("a valid regex");
    let json_backend = Regex::new(r#""backend"\s*:"#).expect("a valid regex");
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let re = if name.ends_with(".tf") || name.ends_with(".tofu") {
            &backend
        } else if name.ends_with(".tf.json") || name.ends_with(".tofu.json") {
            &json_backend
        } else {
            continue;
        };
        if p.is_file() && re.is_match(&String::from_utf8_lossy(&std::fs::read(&p)?)) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_stays_in_one_component() {
        let f = RootFilter::parse("live/*/korea/**").expect("glob");
        assert!(f.matches("live/prod/korea/api/static"));
        assert!(!f.matches("live/prod/x/korea/api"));
        assert!(!f.matches("service-modules/api"));
    }

    #[test]
    fn glob_is_anchored_and_escapes_dots() {
        let f = RootFilter::parse("live/a.b").expect("glob");
        assert!(f.matches("live/a.b"));
        assert!(!f.matches("live/axb"));
        assert!(!f.matches("x/live/a.b"));
    }

    #[test]
    fn backend_block_and_terragrunt_unit_are_roots_templates_are_not() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = |n: &str, file: &str, text: &str| {
            let dir = tmp.path().join(n);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(file), text).expect("write");
            dir
        };
        let tf = d(
            "a",
            "backend.tf",
            "terraform {\n  backend \"s3\" {\n  }\n}\n",
        );
        let commented = d("b", "main.tf", "# backend \"s3\" {\nmodule \"x\" {}\n");
        let unit = d(
            "c",
            "terragrunt.hcl",
            "include \"root\" {\n  path = \"x\"\n}\n",
        );
        let tpl = d(
            "d",
            "terragrunt.hcl",
            "include \"root\" {}\nsource = \"{{ .x }}\"\n",
        );
        assert_eq!(kind_of(&tf).expect("reads"), Some((Kind::Terraform, true)));
        assert_eq!(kind_of(&commented).expect("reads"), None);
        assert_eq!(
            kind_of(&unit).expect("reads"),
            Some((Kind::Terragrunt, false))
        );
        assert_eq!(kind_of(&tpl).expect("reads"), None);
        std::fs::write(
            unit.join("backend.tf"),
            "terraform {\n  backend \"s3\" {}\n}\n",
        )
        .expect("write");
        assert_eq!(
            kind_of(&unit).expect("reads"),
            Some((Kind::Terragrunt, true))
        );
    }
}

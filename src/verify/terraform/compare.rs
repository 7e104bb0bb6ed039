//! Compares what two `terraform get` runs installed: `.terraform/modules/modules.json` must
//! list the same module keys, and each module's directory the same files with the same bytes
//! apart from `source`/`version` assignment lines (the lines the migration rewrites).
//!
//! Dot entries (`.git`, `.terraform`, `.gitignore`) are not compared: when one run needs the
//! same package twice, Terraform copies its first download and skips dot files
//! (`internal/initwd/copy_dir.go`), so which module has them depends on the call order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Serialize;

/// One installed module: its `modules.json` entry.
#[derive(Debug, Clone)]
pub struct Module {
    /// The source as Terraform recorded it.
    pub source: String,
    /// The registry version, if any.
    pub version: Option<String>,
    /// Its directory.
    pub dir: PathBuf,
}

/// One difference between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The module key (`api.alb`; empty for the root module).
    pub module: String,
    /// The file, relative to the module's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The first differing line (1-based, in the legacy file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// That line on the legacy side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy: Option<String>,
    /// The corresponding line on the monorepo side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monorepo: Option<String>,
    /// What differs.
    pub message: String,
}

/// How much was compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Modules compared (the root included).
    pub modules: usize,
    /// Files compared.
    pub files: usize,
}

/// Reads `<dir>/.terraform/modules/modules.json` into module key -> module; a root without
/// module calls may have none: then the root alone.
pub fn read_manifest(dir: &Path) -> Result<BTreeMap<String, Module>, String> {
    let path = dir.join(".terraform/modules/modules.json");
    let mut out = BTreeMap::new();
    if path.is_file() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        for m in v["Modules"].as_array().into_iter().flatten() {
            let (Some(key), Some(d)) = (m["Key"].as_str(), m["Dir"].as_str()) else {
                return Err(format!("{}: an entry without Key or Dir", path.display()));
            };
            out.insert(
                key.to_string(),
                Module {
                    source: m["Source"].as_str().unwrap_or_default().to_string(),
                    version: m["Version"].as_str().map(str::to_string),
                    dir: dir.join(d),
                },
            );
        }
    }
    out.entry(String::new()).or_insert_with(|| Module {
        source: String::new(),
        version: None,
        dir: dir.to_path_buf(),
    });
    Ok(out)
}

/// Compares the two sides. The root module (key `""`) is what Terraform reads of the root
/// directory: its top-level files only, less `root_skip` (files the migration edits on
/// purpose, such as pinned backend keys); every other module is compared recursively.
pub fn compare(
    legacy: &BTreeMap<String, Module>,
    mono: &BTreeMap<String, Module>,
    root_skip: &[String],
) -> Result<(Vec<Difference>, Counts), String> {
    let mut diffs = Vec::new();
    let mut counts = Counts::default();
    let keys = |m: &BTreeMap<String, Module>| m.keys().cloned().collect::<BTreeSet<_>>();
    for (key, side) in [
        (keys(legacy), "the monorepo"),
        (keys(mono), "the legacy repos"),
    ] {
        let other = if side == "the monorepo" { mono } else { legacy };
        for k in key.iter().filter(|k| !other.contains_key(*k)) {
            diffs.push(Difference {
                module: k.clone(),
                file: None,
                line: None,
                legacy: None,
                monorepo: None,
                message: format!("not installed from {side}"),
            });
        }
    }
    for (key, old) in legacy {
        let Some(new) = mono.get(key) else { continue };
        let (skip, deep) = if key.is_empty() {
            (root_skip, false)
        } else {
            (&[][..], true)
        };
        let before = files(&old.dir, skip, deep)?;
        let after = files(&new.dir, skip, deep)?;
        counts.modules += 1;
        counts.files += before.len();
        for (path, side) in before
            .keys()
            .filter(|p| !after.contains_key(*p))
            .map(|p| (p, "legacy side only"))
            .chain(
                after
                    .keys()
                    .filter(|p| !before.contains_key(*p))
                    .map(|p| (p, "monorepo side only")),
            )
        {
            diffs.push(Difference {
                module: key.clone(),
                file: Some(path.clone()),
                line: None,
                legacy: None,
                monorepo: None,
                message: format!("file on the {side}"),
            });
        }
        for (path, a) in &before {
            if let Some(b) = after.get(path) {
                if let Some(mut d) = first_difference(key, path, a, b) {
                    d.message = format!(
                        "content differs (legacy {}, monorepo {})",
                        describe(old),
                        describe(new)
                    );
                    diffs.push(d);
                }
            }
        }
    }
    // Per module, so a module's own file differences come before its children's.
    diffs.sort_by(|a, b| (&a.module, &a.file).cmp(&(&b.module, &b.file)));
    Ok((diffs, counts))
}

/// `source` (and `version`) of a module, redacted; `local` for the root.
fn describe(m: &Module) -> String {
    match (&m.source, &m.version) {
        (s, _) if s.is_empty() => "root".to_string(),
        (s, Some(v)) => format!("{} {v}", crate::redact::url(s)),
        (s, None) => crate::redact::url(s),
    }
}

/// Every file below `dir` (only its top level unless `deep`), path -> bytes, except the
/// names in `skip` and dot entries.
fn files(dir: &Path, skip: &[String], deep: bool) -> Result<BTreeMap<String, Vec<u8>>, String> {
    fn walk(
        root: &Path,
        dir: &Path,
        skip: &[String],
        deep: bool,
        out: &mut BTreeMap<String, Vec<u8>>,
    ) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name else { continue };
            if name.starts_with('.') || skip.contains(&name) {
                continue;
            }
            if p.is_dir() {
                if deep {
                    walk(root, &p, skip, deep, out)?;
                }
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.insert(rel.to_string_lossy().into_owned(), std::fs::read(&p)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, deep, &mut out).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    Ok(out)
}

/// Whether `path` is a file whose `source`/`version` lines the migration may rewrite.
fn rewritable(path: &str) -> bool {
    [
        ".tf",
        ".tf.json",
        ".tofu",
        ".tofu.json",
        ".hcl",
        ".hcl.json",
    ]
    .iter()
    .any(|e| path.ends_with(e))
}

/// The first line where `a` and `b` differ, ignoring `source`/`version` assignments in
/// Terraform and Terragrunt files; `None` when they agree.
fn first_difference(module: &str, path: &str, a: &[u8], b: &[u8]) -> Option<Difference> {
    if a == b {
        return None;
    }
    let assignment = Regex::new(r#"^\s*"?(source|version)"?\s*[=:]"#).expect("a valid regex");
    let keep = rewritable(path);
    let lines = |bytes: &[u8]| -> Vec<(usize, String)> {
        String::from_utf8_lossy(bytes)
            .split_inclusive('\n')
            .enumerate()
            .filter(|(_, l)| !(keep && assignment.is_match(l)))
            .map(|(i, l)| (i + 1, l.to_string()))
            .collect()
    };
    let (la, lb) = (lines(a), lines(b));
    let n = la.len().max(lb.len());
    (0..n).find_map(|i| {
        let (x, y) = (la.get(i), lb.get(i));
        (x.map(|l| &l.1) != y.map(|l| &l.1)).then(|| Difference {
            module: module.to_string(),
            file: Some(path.to_string()),
            line: x.or(y).map(|l| l.0),
            legacy: x.map(|l| l.1.trim_end().to_string()),
            monorepo: y.map(|l| l.1.trim_end().to_string()),
            message: "content differs".to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_and_version_lines_are_ignored_in_terraform_files() {
        let a = b"module \"x\" {\n  source = \"git::a\"\n  version = \"1\"\n  n = 1\n}\n";
        let b = b"module \"x\" {\n  source = \"git::b\"\n  n = 1\n}\n";
        assert_eq!(first_difference("", "main.tf", a, b), None);
    }

    #[test]
    fn source_lines_count_in_other_files() {
        let d = first_difference("m", "README.md", b"source = a\n", b"source = b\n");
        assert_eq!(d.map(|d| d.line), Some(Some(1)));
    }

    #[test]
    fn first_differing_line_is_named_with_both_texts() {
        let a = b"a\nsource = \"x\"\nb = 1\nc\n";
        let b = b"a\nsource = \"y\"\nb = 2\nc\n";
        let d = first_difference("api.alb", "main.tf", a, b).expect("differs");
        assert_eq!(d.line, Some(3));
        assert_eq!(d.legacy.as_deref(), Some("b = 1"));
        assert_eq!(d.monorepo.as_deref(), Some("b = 2"));
        assert_eq!(d.module, "api.alb");
    }

    #[test]
    fn json_source_keys_are_ignored() {
        let a = b"{\n  \"source\": \"a\",\n  \"n\": 1\n}\n";
        let b = b"{\n  \"source\": \"b\",\n  \"n\": 1\n}\n";
        assert_eq!(first_difference("", "x.tf.json", a, b), None);
    }

    #[test]
    fn missing_module_and_extra_file_are_differences() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d.join("sub")).expect("mkdir");
            std::fs::write(d.join("main.tf"), "x = 1\n").expect("write");
        }
        std::fs::write(b.join("sub/extra.tf"), "y = 1\n").expect("write");
        let m = |dir: &Path| Module {
            source: String::new(),
            version: None,
            dir: dir.to_path_buf(),
        };
        let legacy = BTreeMap::from([("".to_string(), m(&a)), ("x".to_string(), m(&a))]);
        let mono = BTreeMap::from([
            ("".to_string(), m(&b)),
            ("x".to_string(), m(&b)),
            ("y".to_string(), m(&b)),
        ]);
        let (diffs, counts) = compare(&legacy, &mono, &[]).expect("compares");
        // The root is read one level deep: sub/extra.tf only counts for module x.
        assert_eq!(counts.modules, 2);
        let msgs: Vec<_> = diffs
            .iter()
            .map(|d| (d.module.as_str(), d.file.as_deref(), d.message.as_str()))
            .collect();
        assert_eq!(
            msgs,
            [
                ("x", Some("sub/extra.tf"), "file on the monorepo side only"),
                ("y", None, "not installed from the legacy repos"),
            ]
        );
    }
}

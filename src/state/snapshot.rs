//! Pulled state snapshots (`terraform state pull` output, state JSON version 4).
//!
//! [`Snapshots::load`] reads one file per root from a directory: the root label with `/`
//! replaced by `__`, plus `.tfstate` (`live__prod__korea__api__static.tfstate`). An empty
//! file stands for a root with no state yet (`state pull` prints nothing then).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::address::{self, Address, Key, Mode, ModuleStep, Resource};

/// A snapshot could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The directory or a file could not be read.
    #[error("cannot read state snapshot {}: {source}; --states must be a directory of `terraform state pull` outputs, one per root, named <root with / as __>.tfstate", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a Terraform state this version understands.
    #[error("state snapshot {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// The resource instances of one pulled state, as addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Every resource instance, by its full address (`module.a.aws_x.y[0]`).
    pub instances: BTreeSet<Address>,
    /// The file it came from.
    pub file: PathBuf,
}

/// One pulled state per root.
#[derive(Debug, Clone, Default)]
pub struct Snapshots {
    /// The directory they were read from.
    pub dir: PathBuf,
    /// States keyed by root label (`live/prod/korea/api/static`).
    pub states: BTreeMap<String, State>,
}

/// The snapshot file name for a root: `/` becomes `__`, plus `.tfstate`.
pub fn file_name(root: &str) -> String {
    format!("{}.tfstate", root.replace('/', "__"))
}

/// Where `--states` finds the snapshot of each root: a directory of
/// `<root with / as __>.tfstate` files, or a path template with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory of `<root with / as __>.tfstate` files.
    Dir(PathBuf),
    /// A path with [`PLACEHOLDERS`] (`states/{repo}.tfstate`), one file per root.
    Template(String),
}

impl Source {
    /// Reads a `--states` value: a template when it holds a `{`, else a directory.
    pub fn parse(arg: &str) -> Source {
        if arg.contains('{') {
            Source::Template(arg.to_string())
        } else {
            Source::Dir(PathBuf::from(arg))
        }
    }
}

/// The placeholders of a [`Source::Template`], for root `live/prod/korea/api/static`
/// imported from repo `api-static-prod-korea`: `{root}` the label, `{flat}` the label with
/// `/` as `__` (`live__prod__korea__api__static`), `{monorepo}` (`live`), `{path}` the path in
/// the monorepo (`prod/korea/api/static`), `{repo}` the legacy repo imported there.
pub const PLACEHOLDERS: &[&str] = &["root", "flat", "monorepo", "path", "repo"];

/// Fills the placeholders of `template` for `root`, imported from legacy repo `repo`;
/// an unknown placeholder or an unclosed `{` is an error naming it.
pub fn expand(template: &str, root: &str, repo: &str) -> Result<String, String> {
    let (monorepo, path) = root.split_once('/').unwrap_or((root, ""));
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(format!("`{template}` has a `{{` without its `}}`"));
        };
        let value = match &after[..end] {
            "root" => root.to_string(),
            "flat" => root.replace('/', "__"),
            "monorepo" => monorepo.to_string(),
            "path" => path.to_string(),
            "repo" => repo.to_string(),
            other => {
                let hint = match crate::mapping::did_you_mean(other, PLACEHOLDERS) {
                    Some(s) => format!("did you mean {{{s}}}?"),
                    None => format!(
                        "use {}",
                        PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(format!(
                    "`{template}`: unknown placeholder {{{other}}}; {hint}"
                ));
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Deserialize)]
struct RawState {
    version: Option<u64>,
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    index_key: Option<serde_json::Value>,
}

impl Snapshots {
    /// Reads every `*.tfstate` file in `dir`.
    pub fn load(dir: &Path) -> Result<Snapshots, SnapshotError> {
        let read_err = |source| SnapshotError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tfstate") && p.is_file())
            .collect();
        files.sort();
        let mut states = BTreeMap::new();
        for path in files {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let root = stem.replace("__", "/");
            let text = std::fs::read_to_string(&path).map_err(|source| SnapshotError::Read {
                path: path.clone(),
                source,
            })?;
            states.insert(root, State::parse(&path, &text)?);
        }
        Ok(Snapshots {
            dir: dir.to_path_buf(),
            states,
        })
    }

    /// The state of `root`, if its snapshot was loaded.
    pub fn get(&self, root: &str) -> Option<&State> {
        self.states.get(root)
    }
}

impl State {
    /// Reads and parses the snapshot file at `path`.
    pub fn read(path: &Path) -> Result<State, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        State::parse(path, &text)
    }

    /// Parses state JSON `text` read from `path` (for messages).
    pub fn parse(path: &Path, text: &str) -> Result<State, SnapshotError> {
        let invalid = |message: String| SnapshotError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if text.trim().is_empty() {
            return Ok(State {
                instances: BTreeSet::new(),
                file: path.to_path_buf(),
            });
        }
        let raw: RawState = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "not Terraform state JSON ({e}); write it with `terraform state pull > FILE`"
            ))
        })?;
        match raw.version {
            Some(4) => {}
            Some(v) => {
                return Err(invalid(format!(
                    "state format version {v}; tfmono reads version 4 (Terraform >= 0.12): pull it with Terraform 1.x"
                )))
            }
            None => {
                return Err(invalid(
                    "no `version` field: not a Terraform state; write it with `terraform state pull > FILE`"
                        .into(),
                ))
            }
        }
        let mut instances = BTreeSet::new();
        for r in raw.resources {
            let module = match r.module.as_deref() {
                None | Some("") => Vec::new(),
                Some(m) => {
                    let a = address::parse(m).map_err(|e| {
                        invalid(format!(
                            "resource {}.{} has module `{m}`: {e}",
                            r.kind, r.name
                        ))
                    })?;
                    if a.resource.is_some() {
                        return Err(invalid(format!(
                            "resource {}.{} has module `{m}`, which is not a module path",
                            r.kind, r.name
                        )));
                    }
                    a.module
                }
            };
            let mode = match r.mode.as_str() {
                "managed" => Mode::Managed,
                "data" => Mode::Data,
                other => {
                    return Err(invalid(format!(
                        "resource {}.{} has mode `{other}` (expected managed or data)",
                        r.kind, r.name
                    )))
                }
            };
            for inst in r.instances {
                let key = match inst.index_key {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(Key::Str(s)),
                    Some(serde_json::Value::Number(n)) => match n.as_u64() {
                        Some(n) => Some(Key::Int(n)),
                        None => {
                            return Err(invalid(format!(
                                "resource {}.{} has index_key {n}",
                                r.kind, r.name
                            )))
                        }
                    },
                    Some(other) => {
                        return Err(invalid(format!(
                            "resource {}.{} has index_key {other}",
                            r.kind, r.name
                        )))
                    }
                };
                instances.insert(Address {
                    module: module.clone(),
                    resource: Some(Resource {
                        mode,
                        kind: r.kind.clone(),
                        name: r.name.clone(),
                        key,
                    }),
                });
            }
        }
        Ok(State {
            instances,
            file: path.to_path_buf(),
        })
    }

    /// The instances `addr` names: everything under a module, every instance of a resource,
    /// or one instance.
    pub fn matching(&self, addr: &Address) -> Vec<Address> {
        self.instances
            .iter()
            .filter(|i| covers(addr, i))
            .cloned()
            .collect()
    }
}

/// Whether `addr` names instance `inst`.
pub fn covers(addr: &Address, inst: &Address) -> bool {
    match &addr.resource {
        None => inst.module.starts_with(&addr.module),
        Some(r) => {
            let Some(ir) = &inst.resource else {
                return false;
            };
            inst.module == addr.module
                && ir.mode == r.mode
                && ir.kind == r.kind
                && ir.name == r.name
                && (r.key.is_none() || ir.key == r.key)
        }
    }
}

/// Rewrites instance `inst` (named by `from`) to its address under `to`.
pub fn relocate(from: &Address, to: &Address, inst: &Address) -> Address {
    match (&from.resource, &to.resource) {
        (None, None) => {
            let mut module: Vec<ModuleStep> = to.module.clone();
            module.extend_from_slice(&inst.module[from.module.len().min(inst.module.len())..]);
            Address {
                module,
                resource: inst.resource.clone(),
            }
        }
        (Some(fr), Some(tr)) => {
            let key = match (&fr.key, &tr.key) {
                (None, None) => inst.resource.as_ref().and_then(|r| r.key.clone()),
                (_, k) => k.clone(),
            };
            Address {
                module: to.module.clone(),
                resource: Some(Resource {
                    mode: tr.mode,
                    kind: tr.kind.clone(),
                    name: tr.name.clone(),
                    key,
                }),
            }
        }
        _ => inst.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_placeholders_fill_from_the_root_and_repo() {
        let t = "s/{monorepo}/{path}/{repo}-{flat}.tfstate";
        assert_eq!(
            expand(t, "live/prod/api", "api-prod").as_deref(),
            Ok("s/live/prod/api/api-prod-live__prod__api.tfstate")
        );
        assert_eq!(expand("{root}", "live/a", "x").as_deref(), Ok("live/a"));
    }

    #[test]
    fn template_unknown_placeholder_suggests_one() {
        let e = expand("states/{rpo}.tfstate", "live/a", "x").unwrap_err();
        assert!(e.contains("did you mean {repo}?"), "{e}");
        assert!(expand("states/{repo.tfstate", "live/a", "x").is_err());
    }

    #[test]
    fn states_value_with_a_brace_is_a_template() {
        assert_eq!(Source::parse("st"), Source::Dir("st".into()));
        assert!(matches!(
            Source::parse("st/{repo}.tfstate"),
            Source::Template(_)
        ));
    }
}

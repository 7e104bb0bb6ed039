//! Everything that can be checked before the legacy repos are scanned, checked at once.
//!
//! Scanning a large org takes a while, so before it starts [`check`] looks at the output
//! directory (`apply`: absent, empty or tfmono's), every repo's local copy (all missing repos
//! are named, not just the first), the mapping's `state` blocks (addresses, roots that no
//! imported repo lands at, with "did you mean") and the state snapshots (`--states` directory
//! or template, the mapping's `snapshots` map: every file there and readable). Every problem
//! found goes into one [`Error`]; what passes comes back as the loaded snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::inventory;
use crate::mapping::{did_you_mean, Mapping};
use crate::state::snapshot::{self, Snapshots, Source, State};
use crate::state::{self, roots};

/// What to check besides the mapping itself.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How the legacy repos are found (as the scan will look for them).
    pub locate: inventory::Options,
    /// The `--states` value, if given.
    pub states: Option<Source>,
    /// The output directory `apply` will claim, if any.
    pub out: Option<PathBuf>,
}

/// Every problem found before the scan, one line each.
#[derive(Debug, thiserror::Error)]
#[error("{} found before reading the legacy repos (nothing was read or written):\n{}", plural(problems.len()), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct Error {
    /// One line per problem: where, what, and the fix.
    pub problems: Vec<String>,
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 problem".into()
    } else {
        format!("{n} problems")
    }
}

/// What passed the checks.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The snapshots to check state moves against (`None`: no `--states`, no `snapshots`).
    pub snapshots: Option<Snapshots>,
}

/// Checks everything that needs no scan; returns every problem at once.
pub fn check(mapping: &Mapping, opts: &Options) -> Result<Outcome, Error> {
    let mut problems = Vec::new();
    if let Some(out) = &opts.out {
        if let Err(e) = crate::outdir::check_output(out) {
            problems.push(e.to_string());
        }
    }
    problems.extend(
        inventory::missing(mapping, &opts.locate)
            .iter()
            .map(ToString::to_string),
    );
    let mut ps = roots::check(mapping);
    if let Err(more) = state::plan::build(&mapping.state, None) {
        ps.extend(more);
    }
    problems.extend(ps.into_iter().map(|p| p.to_string()));
    let snapshots = load_snapshots(mapping, opts.states.as_ref(), &mut problems);
    if problems.is_empty() {
        Ok(Outcome { snapshots })
    } else {
        Err(Error { problems })
    }
}

/// Loads the snapshot of every root the state blocks involve, from the mapping's
/// `snapshots` map first, then from `--states`.
fn load_snapshots(
    mapping: &Mapping,
    source: Option<&Source>,
    problems: &mut Vec<String>,
) -> Option<Snapshots> {
    if source.is_none() && mapping.snapshots.is_empty() {
        return None;
    }
    let involved: BTreeSet<&str> = mapping
        .state
        .iter()
        .flat_map(|(label, b)| {
            std::iter::once(label.as_str())
                .chain(b.moves.iter().filter_map(|m| m.from_state.as_deref()))
        })
        .collect();
    let names: Vec<&str> = involved.iter().copied().collect();
    for (root, entry) in &mapping.snapshots {
        if !involved.contains(root.as_str()) {
            let hint = match did_you_mean(root, &names) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => "remove the entry, or add a `state` block for that root".into(),
            };
            problems.push(format!(
                "{}: `snapshots` names \"{root}\", which no `state` block moves anything in; {hint}",
                entry.at
            ));
        }
    }
    let imported = roots::imported_roots(mapping);
    let repo_at: BTreeMap<String, &str> = mapping
        .repos
        .iter()
        .map(|r| (format!("{}/{}", r.into, r.path), r.name.as_str()))
        .collect();
    let mut snaps = Snapshots {
        dir: match source {
            Some(Source::Dir(d)) => d.clone(),
            _ => mapping.base_dir.clone(),
        },
        states: BTreeMap::new(),
    };
    if let Some(Source::Dir(dir)) = source {
        match Snapshots::load(dir) {
            Ok(all) => snaps.states = all.states,
            Err(e) => problems.push(e.to_string()),
        }
    }
    for root in involved {
        let path: PathBuf = if let Some(entry) = mapping.snapshots.get(root) {
            entry.file.clone()
        } else {
            match source {
                Some(Source::Dir(dir)) => {
                    if !snaps.states.contains_key(root) && dir.is_dir() {
                        problems.push(missing(root, &dir.join(snapshot::file_name(root))));
                    }
                    continue;
                }
                Some(Source::Template(t)) => {
                    let repo = roots::import_of(&imported, root)
                        .and_then(|i| repo_at.get(i).copied())
                        .unwrap_or_default();
                    match snapshot::expand(t, root, repo) {
                        Ok(p) => PathBuf::from(p),
                        Err(e) => {
                            problems.push(format!("--states: {e}"));
                            return None;
                        }
                    }
                }
                None => {
                    problems.push(format!(
                        "{}: `snapshots` has no entry for root \"{root}\", which a `state` block moves things in; add `\"{root}\" = \"<file>.tfstate\"` or pass --states",
                        mapping.file.display()
                    ));
                    continue;
                }
            }
        };
        if !path.is_file() {
            problems.push(missing(root, &path));
            continue;
        }
        match State::read(&path) {
            Ok(s) => {
                snaps.states.insert(root.to_string(), s);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    Some(snaps)
}

fn missing(root: &str, path: &Path) -> String {
    format!(
        "{}: no state snapshot for root \"{root}\"; write it with `terraform state pull > {}` in that root (an empty file means no state yet)",
        path.display(),
        path.display()
    )
}

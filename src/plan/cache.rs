//! Tag scans kept across runs: what scanning one repo's tags found, with the inputs it was
//! computed from, so that a re-sync re-scans only the repos whose tags (or whose sources'
//! targets) changed.
//!
//! An entry is reused only when everything its result was computed from is unchanged: the
//! identities of every target (their URLs, paths, registry addresses: the literal patterns
//! decide which files are read at all), the repo's own tags, and, for every target a file of
//! the repo mentions (its repo path or registry address appears in a file that was read),
//! that target's tags, branches and imported tips (version constraints resolve against the
//! tags; `?ref=<sha>` against the commit images). So a cached result is always the result a
//! fresh scan would give; a damaged or foreign cache is simply not used. `apply` records the
//! cache in the output directory ([`crate::outdir::record_scans`]); `plan --out` reads it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::{ImportStep, TagRewrite, UnparsedFile, Warning};
use crate::sources::{SameMonorepo, Target, Targets};

/// Bumped whenever what a scan finds could change for the same inputs (the scanner's rules).
const FORMAT: u32 = 1;

/// The tag scans of a run, by legacy repo name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScanCache {
    /// The crate version and [`FORMAT`] that wrote it; another one's entries are not used.
    pub version: String,
    /// One entry per repo with tags.
    pub repos: BTreeMap<String, CachedScan>,
    /// Per repo, a digest of the files of its default branch the plan changes (paths and
    /// new contents: [`tip_digest`]): a repo whose digest did not change since the last
    /// apply has those files in `main` already.
    #[serde(default)]
    pub tips: BTreeMap<String, String>,
    /// The repos whose entry this run reused instead of scanning (not stored).
    #[serde(skip)]
    pub reused: BTreeSet<String>,
    /// Whether this is exactly the cache the run started from (every entry reused, none
    /// added or dropped): then it need not be written again (not stored).
    #[serde(skip)]
    pub unchanged: bool,
}

impl ScanCache {
    /// An empty cache of this version of tfmono.
    pub fn new() -> ScanCache {
        ScanCache {
            version: version(),
            ..ScanCache::default()
        }
    }

    /// The stored scan of `repo` if it was computed from inputs `key` and every target it
    /// depended on still has the fingerprint it had then (`dep`: a target's current one).
    pub fn get(
        &self,
        repo: &str,
        key: &str,
        dep: impl Fn(&str, bool) -> Option<String>,
    ) -> Option<&CachedScan> {
        if self.version != version() {
            return None;
        }
        let entry = self.repos.get(repo)?;
        let fresh = entry.key == key
            && entry
                .deps
                .iter()
                .all(|(target, d)| dep(target, d.tips).as_deref() == Some(d.key.as_str()));
        fresh.then_some(entry)
    }
}

fn version() -> String {
    format!("tfmono {} scan {FORMAT}", env!("CARGO_PKG_VERSION"))
}

/// A target a scan depended on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dep {
    /// Whether the scan looked up commit images in it (`?ref=<sha>`): then its imported
    /// tips are part of the fingerprint.
    pub tips: bool,
    /// Its fingerprint ([`target_key`]).
    pub key: String,
}

/// What scanning the tags of one repo found, and what it was computed from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedScan {
    /// The fingerprint of the run's targets and the repo's tags ([`repo_key`]).
    pub key: String,
    /// Every target a read file mentions -> its fingerprint ([`target_key`]) at the time.
    pub deps: BTreeMap<String, Dep>,
    /// The tag rewrites found (file contents in `texts`).
    pub rewrites: Vec<TagRewrite>,
    /// Per rewrite, per file: the index of its new content in `texts`.
    pub contents: Vec<Vec<Option<u32>>>,
    /// The distinct new file contents.
    pub texts: Vec<String>,
    /// The warnings found.
    pub warnings: Vec<Warning>,
    /// The files that did not parse.
    pub unparsed: Vec<UnparsedFile>,
}

impl CachedScan {
    /// Stores a scan's results (contents once each, however many tags share them).
    pub(super) fn store(
        key: String,
        deps: BTreeMap<String, Dep>,
        rewrites: &[TagRewrite],
        warnings: &[Warning],
        unparsed: &[UnparsedFile],
    ) -> CachedScan {
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut texts = Vec::new();
        let contents = rewrites
            .iter()
            .map(|r| {
                r.files
                    .iter()
                    .map(|f| {
                        f.content.as_deref().map(|c| {
                            *index.entry(c).or_insert_with(|| {
                                texts.push(c.to_string());
                                (texts.len() - 1) as u32
                            })
                        })
                    })
                    .collect()
            })
            .collect();
        CachedScan {
            key,
            deps,
            rewrites: rewrites.to_vec(),
            contents,
            texts,
            warnings: warnings.to_vec(),
            unparsed: unparsed.to_vec(),
        }
    }

    /// The tag rewrites with their contents, as the scan returned them. `None` when the
    /// entry is inconsistent (then it is not used).
    pub(super) fn rewrites(&self) -> Option<Vec<TagRewrite>> {
        if self.contents.len() != self.rewrites.len() {
            return None;
        }
        let texts: Vec<std::sync::Arc<str>> =
            self.texts.iter().map(|t| t.as_str().into()).collect();
        let mut out = self.rewrites.clone();
        for (r, contents) in out.iter_mut().zip(&self.contents) {
            if contents.len() != r.files.len() {
                return None;
            }
            for (f, c) in r.files.iter_mut().zip(contents) {
                f.content = match c {
                    Some(i) => Some(texts.get(*i as usize)?.clone()),
                    None => None,
                };
            }
        }
        Some(out)
    }
}

/// The digest of `files` (one repo's default-branch files the plan changes): their paths
/// and new contents, in order.
pub(super) fn tip_digest<'a>(files: impl Iterator<Item = &'a crate::plan::FileChange>) -> String {
    let mut h = Sha1::new();
    for f in files {
        h.update(f.path.as_bytes());
        h.update([0]);
        match &f.content {
            Some(c) => {
                h.update(b"+");
                h.update(c.as_bytes());
            }
            None => h.update(b"-"),
        }
        h.update([0]);
    }
    hex(h)
}

/// The fingerprint of what every tag scan of monorepo `monorepo` reads beyond the repo
/// itself: the identity of every target (not their tags: see [`target_key`]).
pub(super) fn context_key(targets: &Targets, monorepo: &str, same: SameMonorepo) -> String {
    let mut h = Sha1::new();
    h.update(format!("{}\0{monorepo}\0{same:?}\n", version()));
    for t in targets.iter() {
        h.update(format!(
            "{}\0{}\0{}\0{}\0{}\0{}\0{}\n",
            t.repo,
            t.legacy_url,
            t.monorepo,
            t.monorepo_url,
            t.path,
            t.tag_prefix,
            t.registry.join("\0")
        ));
    }
    hex(h)
}

/// The fingerprint of one repo's tag scan inputs: the context ([`context_key`]) and the
/// repo's tags with the commits they name.
pub(super) fn repo_key(context: &str, step: &ImportStep) -> String {
    let mut h = Sha1::new();
    h.update(format!(
        "{context}\0{}\0{}\0{}\n",
        step.repo, step.path, step.tag_prefix
    ));
    for t in &step.tags {
        h.update(format!("{}\0{}\0{}\n", t.from, t.to, t.commit));
    }
    hex(h)
}

/// The fingerprint of what a source resolving to `target` reads: its tags, branches and
/// default branch, and, given its import `step`, the tips of that import (what the commit
/// images of `?ref=<sha>` are computed from).
pub(super) fn target_key(target: &Target, step: Option<&ImportStep>) -> String {
    let mut h = Sha1::new();
    h.update(format!(
        "{}\0{:?}\0{:?}\0{:?}\0{:?}\n",
        target.repo, target.tags, target.default_branch, target.branches, target.other_branches
    ));
    if let Some(step) = step {
        for r in step.branches.iter().chain(&step.tags) {
            h.update(format!("{}\0{}\0{}\n", r.from, r.to, r.commit));
        }
    }
    hex(h)
}

/// The dependencies of a scan that read files mentioning `mentioned` (target repo names;
/// `None`: a file could spell any target, so it depends on all of them) and looked up
/// commit images in the repos `imaged`.
pub(super) fn deps(
    targets: &Targets,
    steps: &BTreeMap<String, ImportStep>,
    mentioned: Option<&BTreeSet<String>>,
    imaged: &BTreeSet<String>,
) -> BTreeMap<String, Dep> {
    targets
        .iter()
        .filter(|t| mentioned.is_none_or(|m| m.contains(&t.repo)) || imaged.contains(&t.repo))
        .map(|t| {
            let tips = imaged.contains(&t.repo);
            let key = target_key(t, steps.get(&t.repo).filter(|_| tips));
            (t.repo.clone(), Dep { tips, key })
        })
        .collect()
}

fn hex(h: Sha1) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{FileChange, Origin};

    fn entry(deps: &[(&str, bool, &str)]) -> CachedScan {
        CachedScan {
            key: "k".into(),
            deps: deps
                .iter()
                .map(|(r, tips, key)| {
                    (
                        r.to_string(),
                        Dep {
                            tips: *tips,
                            key: key.to_string(),
                        },
                    )
                })
                .collect(),
            ..CachedScan::default()
        }
    }

    #[test]
    fn an_entry_is_used_only_with_its_key_its_deps_and_this_version() {
        let mut cache = ScanCache::new();
        cache
            .repos
            .insert("a".into(), entry(&[("x", false, "x1"), ("y", true, "y1")]));
        let now = |r: &str, tips: bool| match (r, tips) {
            ("x", false) => Some("x1".to_string()),
            ("y", true) => Some("y1".to_string()),
            _ => None,
        };
        assert!(cache.get("a", "k", now).is_some());
        assert!(cache.get("a", "other", now).is_none(), "another key");
        assert!(cache.get("b", "k", now).is_none(), "another repo");
        let moved = |r: &str, tips: bool| {
            if r == "y" {
                Some("y2".into())
            } else {
                now(r, tips)
            }
        };
        assert!(cache.get("a", "k", moved).is_none(), "a dependency changed");
        let gone = |r: &str, tips: bool| if r == "x" { None } else { now(r, tips) };
        assert!(cache.get("a", "k", gone).is_none(), "a dependency is gone");
        cache.version = "tfmono 0.0.0 scan 0".into();
        assert!(cache.get("a", "k", now).is_none(), "another tfmono");
    }

    #[test]
    fn stored_contents_come_back_shared_and_an_inconsistent_entry_is_refused() {
        let text: std::sync::Arc<str> = "module \"x\" {}\n".into();
        let file = |content: Option<std::sync::Arc<str>>| FileChange {
            path: "m/main.tf".into(),
            origin: Origin::Tag,
            rewrites: Vec::new(),
            left_alone: Vec::new(),
            edits: Vec::new(),
            content,
        };
        let rewrite = |files| TagRewrite {
            repo: "r".into(),
            tag: "refs/tags/m/v1".into(),
            commit: gix::ObjectId::null(gix::hash::Kind::Sha1),
            files,
        };
        let rewrites = vec![
            rewrite(vec![file(Some(text.clone())), file(None)]),
            rewrite(vec![file(Some(text.clone()))]),
        ];
        let stored = CachedScan::store("k".into(), BTreeMap::new(), &rewrites, &[], &[]);
        assert_eq!(stored.texts.len(), 1, "one copy of a shared content");
        let json = serde_json::to_string(&stored).expect("json");
        let back: CachedScan = serde_json::from_str(&json).expect("read back");
        assert_eq!(back.rewrites(), Some(rewrites));
        let mut broken = back.clone();
        broken.contents[0].pop();
        assert_eq!(broken.rewrites(), None);
        let mut broken = back;
        broken.contents[1][0] = Some(7);
        assert_eq!(broken.rewrites(), None);
    }
}

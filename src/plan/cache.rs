//! Source scans kept across runs: what scanning one repo's tags (and, apart, its default
//! branch's tip: [`CachedTips`]) found, with the inputs it was computed from, so that a
//! re-sync re-scans only the repos whose tags or tip (or whose sources' targets) changed.
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
use std::sync::Arc;

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
    pub repos: BTreeMap<String, Stored<CachedScan>>,
    /// Per repo, a digest of the files of its default branch the plan changes (paths and
    /// new contents: [`tip_digest`]): a repo whose digest did not change since the last
    /// apply has those files in `main` already.
    #[serde(default)]
    pub tips: BTreeMap<String, String>,
    /// Per repo, what scanning its default branch found ([`CachedTips`]).
    #[serde(default)]
    pub tip_scans: BTreeMap<String, Stored<CachedTips>>,
    /// The repos whose entry this run reused instead of scanning (not stored).
    #[serde(skip)]
    pub reused: BTreeSet<String>,
    /// The repos whose default-branch scan this run reused (not stored).
    #[serde(skip)]
    pub reused_tips: BTreeSet<String>,
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

    /// The stored default-branch scan of `repo` if it was computed from inputs `key` and
    /// every target it depended on still has the fingerprint it had then (as [`Self::get`]).
    pub fn get_tips(
        &self,
        repo: &str,
        key: &str,
        dep: impl Fn(&str, bool) -> Option<String>,
    ) -> Option<(Arc<CachedTips>, Stored<CachedTips>)> {
        let (entry, stored) = self.fresh(&self.tip_scans, repo, key, |e| (&e.key, &e.deps), dep)?;
        (entry.contents.len() == entry.files.len()).then_some((entry, stored))
    }

    /// The stored scan of `repo` if it was computed from inputs `key` and every target it
    /// depended on still has the fingerprint it had then (`dep`: a target's current one):
    /// its value, and the entry to keep for the next run.
    pub fn get(
        &self,
        repo: &str,
        key: &str,
        dep: impl Fn(&str, bool) -> Option<String>,
    ) -> Option<(Arc<CachedScan>, Stored<CachedScan>)> {
        self.fresh(&self.repos, repo, key, |e| (&e.key, &e.deps), dep)
    }

    /// The entry of `repo` in `entries` (one of this cache's maps) if this version of tfmono
    /// wrote it, from inputs `key`, its dependencies (`inputs` gives both) are fresh and it
    /// decodes.
    fn fresh<T: serde::de::DeserializeOwned>(
        &self,
        entries: &BTreeMap<String, Stored<T>>,
        repo: &str,
        key: &str,
        inputs: impl Fn(&T) -> (&String, &BTreeMap<String, Dep>),
        dep: impl Fn(&str, bool) -> Option<String>,
    ) -> Option<(Arc<T>, Stored<T>)> {
        if self.version != version() {
            return None;
        }
        let stored = entries.get(repo)?;
        let entry = stored.value()?;
        let (stored_key, deps) = inputs(&entry);
        (stored_key == key && fresh_deps(deps, dep)).then(|| (entry.clone(), stored.clone()))
    }
}

/// One entry of the cache: as the record holds it (its JSON text, decoded each time it is
/// used and written back byte for byte), or made by this run. Thousands of entries decoded
/// at once were most of the memory, and so of the time, of a re-sync of 1,000 repos: each
/// is now decoded only while it is used.
#[derive(Debug)]
pub enum Stored<T> {
    /// As read from the record.
    Read(Arc<serde_json::value::RawValue>),
    /// Made by this run.
    Made(Arc<T>),
}

impl<T> Clone for Stored<T> {
    fn clone(&self) -> Self {
        match self {
            Stored::Read(raw) => Stored::Read(raw.clone()),
            Stored::Made(value) => Stored::Made(value.clone()),
        }
    }
}

impl<T> Stored<T> {
    /// An entry made by this run.
    pub fn new(value: T) -> Stored<T> {
        Stored::Made(Arc::new(value))
    }
}

impl<T: serde::de::DeserializeOwned> Stored<T> {
    /// The entry's value; `None` when its text does not decode (a damaged record: the scan
    /// is made again).
    pub fn value(&self) -> Option<Arc<T>> {
        match self {
            Stored::Read(raw) => serde_json::from_str(raw.get()).ok().map(Arc::new),
            Stored::Made(value) => Some(value.clone()),
        }
    }
}

impl<T: Serialize> Serialize for Stored<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stored::Read(raw) => raw.serialize(s),
            Stored::Made(value) => value.serialize(s),
        }
    }
}

impl<'de, T> Deserialize<'de> for Stored<T> {
    /// Keeps the entry's JSON text (the cache is read with `serde_json` only).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(Stored::Read(Arc::from(raw)))
    }
}

impl<T: Serialize> PartialEq for Stored<T> {
    /// The same JSON.
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_string(self).ok() == serde_json::to_string(other).ok()
    }
}

impl<T: Serialize> Eq for Stored<T> {}

/// Whether every target in `deps` still has the fingerprint it had (`dep`: its current one).
fn fresh_deps(deps: &BTreeMap<String, Dep>, dep: impl Fn(&str, bool) -> Option<String>) -> bool {
    deps.iter()
        .all(|(target, d)| dep(target, d.tips).as_deref() == Some(d.key.as_str()))
}

/// What scanning the default branch of one repo found (its files the plan changes or
/// leaves alone, with their new contents), and what it was computed from: the run's
/// targets, the repo's import path and its default-branch tip ([`tip_key`]), and the
/// targets its files mention.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedTips {
    /// The fingerprint of its inputs ([`tip_key`]).
    pub key: String,
    /// Every target a file mentions -> its fingerprint ([`target_key`]) at the time.
    pub deps: BTreeMap<String, Dep>,
    /// The files found (their contents in `contents`).
    pub files: Vec<crate::plan::FileChange>,
    /// Per file, its new content.
    pub contents: Vec<Option<Arc<str>>>,
    /// The files that did not parse.
    pub unparsed: Vec<UnparsedFile>,
    /// The warnings found.
    pub warnings: Vec<Warning>,
    /// The problems found (they stop the plan).
    pub problems: Vec<String>,
}

impl CachedTips {
    /// The files with their contents, as the scan returned them, and what else the plan
    /// needs of it, taken out of the entry (one decoded from the record for this use alone
    /// is not copied).
    pub(super) fn into_found(self) -> TipsFound {
        let mut files = self.files;
        for (f, c) in files.iter_mut().zip(self.contents) {
            f.content = c;
        }
        TipsFound {
            files,
            unparsed: self.unparsed,
            warnings: self.warnings,
            problems: self.problems,
        }
    }
}

/// What the plan takes of a default-branch scan ([`CachedTips::into_found`]).
pub(super) struct TipsFound {
    pub files: Vec<crate::plan::FileChange>,
    pub unparsed: Vec<UnparsedFile>,
    pub warnings: Vec<Warning>,
    pub problems: Vec<String>,
}

/// The fingerprint of one repo's default-branch scan inputs: the context ([`context_key`]),
/// the repo, its import path and the tip commit its files are read from.
pub(super) fn tip_key(context: &str, step: &ImportStep, tip: Option<&str>) -> String {
    let mut h = Sha1::new();
    h.update(format!(
        "{context}\0tips\0{}\0{}\0{}\n",
        step.repo,
        step.path,
        tip.unwrap_or("")
    ));
    hex(h)
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
    pub texts: Vec<Arc<str>>,
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
        // By content; a content shared by many tags is one `Arc`, looked up by its address
        // (hashing kilobytes of text once per tag holding it was most of storing a scan).
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut by_address: HashMap<*const u8, u32> = HashMap::new();
        let mut texts: Vec<Arc<str>> = Vec::new();
        let contents = rewrites
            .iter()
            .map(|r| {
                r.files
                    .iter()
                    .map(|f| {
                        f.content.as_ref().map(|c| {
                            *by_address.entry(c.as_ptr()).or_insert_with(|| {
                                *index.entry(c).or_insert_with(|| {
                                    texts.push(c.clone());
                                    (texts.len() - 1) as u32
                                })
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
    ///
    /// Taken out of the entry: one decoded from the record for this use alone is not copied.
    pub(super) fn into_rewrites(self) -> Option<Vec<TagRewrite>> {
        if self.contents.len() != self.rewrites.len() {
            return None;
        }
        let texts = &self.texts;
        let mut out = self.rewrites;
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
    fn a_tip_entry_is_used_only_with_its_key_its_deps_and_whole() {
        let mut cache = ScanCache::new();
        let file = FileChange {
            path: "live/main.tf".into(),
            origin: Origin::Legacy("live".into()),
            rewrites: Vec::new(),
            left_alone: Vec::new(),
            edits: Vec::new(),
            content: None,
        };
        let entry = CachedTips {
            key: "k".into(),
            deps: entry(&[("x", true, "x1")]).deps,
            files: vec![file.clone(), file],
            contents: vec![Some("new\n".into()), None],
            ..CachedTips::default()
        };
        cache
            .tip_scans
            .insert("live".into(), Stored::new(entry.clone()));
        let now = |r: &str, tips: bool| (r == "x" && tips).then(|| "x1".to_string());
        let (got, _) = cache.get_tips("live", "k", now).expect("fresh");
        let files = (*got).clone().into_found().files;
        assert_eq!(files[0].content.as_deref(), Some("new\n"));
        assert_eq!(files[1].content, None);
        assert!(
            cache.get_tips("live", "other", now).is_none(),
            "another tip"
        );
        assert!(cache.get_tips("other", "k", now).is_none(), "another repo");
        let moved = |r: &str, tips: bool| now(r, tips).map(|_| "x2".to_string());
        assert!(
            cache.get_tips("live", "k", moved).is_none(),
            "a dependency changed"
        );
        let mut broken = entry;
        broken.contents.pop();
        cache.tip_scans.insert("live".into(), Stored::new(broken));
        assert!(
            cache.get_tips("live", "k", now).is_none(),
            "an inconsistent entry"
        );
        // The key names the repo, its path and its tip.
        let step = |path: &str| ImportStep {
            repo: "live".into(),
            url: String::new(),
            git_dir: Default::default(),
            monorepo: "live".into(),
            path: path.into(),
            tag_prefix: String::new(),
            default_branch: None,
            branches: Vec::new(),
            tags: Vec::new(),
            commits: 0,
            root_only: Vec::new(),
            unchanged: false,
        };
        let a = tip_key("c", &step("dev/a"), Some("1"));
        assert_ne!(a, tip_key("c", &step("dev/b"), Some("1")));
        assert_ne!(a, tip_key("c", &step("dev/a"), Some("2")));
        assert_ne!(a, tip_key("d", &step("dev/a"), Some("1")));
        assert_eq!(a, tip_key("c", &step("dev/a"), Some("1")));
    }

    #[test]
    fn an_entry_is_used_only_with_its_key_its_deps_and_this_version() {
        let mut cache = ScanCache::new();
        cache.repos.insert(
            "a".into(),
            Stored::new(entry(&[("x", false, "x1"), ("y", true, "y1")])),
        );
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
    fn a_read_entry_is_decoded_when_used_and_written_back_as_it_was_read() {
        let mut cache = ScanCache::new();
        cache
            .repos
            .insert("a".into(), Stored::new(entry(&[("x", false, "x1")])));
        let mut damaged = entry(&[]);
        damaged.key = "d".into();
        cache.repos.insert("d".into(), Stored::new(damaged));
        let json = serde_json::to_string(&cache).expect("json");
        // An entry of the right JSON but the wrong shape: only that entry is not used.
        let json = json.replace("\"key\":\"d\"", "\"key\":7");
        let back: ScanCache = serde_json::from_str(&json).expect("read back");
        assert!(matches!(back.repos["a"], Stored::Read(_)));
        let now = |r: &str, _: bool| (r == "x").then(|| "x1".to_string());
        let (value, kept) = back.get("a", "k", now).expect("fresh");
        assert_eq!(*value, entry(&[("x", false, "x1")]));
        assert!(matches!(kept, Stored::Read(_)), "kept as read");
        assert!(back.get("d", "d", now).is_none(), "a damaged entry");
        assert!(back.get("a", "other", now).is_none(), "another key");
        // Written back byte for byte, read entries and made ones alike.
        assert_eq!(serde_json::to_string(&back).expect("json"), json);
        let mut mixed = back.clone();
        mixed
            .repos
            .insert("a".into(), Stored::new(entry(&[("x", false, "x1")])));
        assert_eq!(mixed, back, "the same JSON is the same entry");
        assert_eq!(serde_json::to_string(&mixed).expect("json"), json);
        mixed.repos.insert("a".into(), Stored::new(entry(&[])));
        assert_ne!(mixed, back);
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
        assert_eq!(back.clone().into_rewrites(), Some(rewrites));
        let mut broken = back.clone();
        broken.contents[0].pop();
        assert_eq!(broken.into_rewrites(), None);
        let mut broken = back;
        broken.contents[1][0] = Some(7);
        assert_eq!(broken.into_rewrites(), None);
    }
}

//! The second half of planning: module source rewrites, backend key pins, `moved.tf` files
//! and state moves. Writes nothing. It reads the files of every tagged commit through the
//! inventory's [`Reader`] (never opening a repo itself), and computes the commit images of
//! `?ref=<sha>` pins from the commits the inventory preloaded; a failure of either is a
//! problem of the plan, never a silently dropped rewrite.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use super::{
    build, cache, Error, FileChange, ImportStep, KeyChangePlan, Mention, MonorepoPlan, Origin,
    Plan, RefImport, SourceLeft, SourceRewrite, TagRewrite, UnparsedFile, Warning,
};
use crate::history::{self, CommitMap};
use crate::inventory::blobs::{Handle, Reader, SourceBlobs};
use crate::inventory::{Inventory, LegacyRepo};
use crate::mapping::Mapping;
use crate::progress::NoProgress;
use crate::redact;
use crate::sources::split::{self, SplitParts, SplitTable};
use crate::sources::{self, Target, Targets};
use crate::state::{self, backend, BackendMode, StatePlan, Style};

/// Inputs of planning beyond the mapping and the inventory.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The state snapshots to check moves against (loaded by [`crate::preflight::check`]).
    pub snapshots: Option<state::Snapshots>,
    /// The tag scans of an earlier run (see [`cache`](super::cache)); empty: scan every tag.
    pub scans: super::cache::ScanCache,
    /// What the last completed apply into the output directory left, when this plan builds
    /// on it (empty: every import is done again).
    pub baseline: super::Baseline,
}

/// Computes everything `apply` will do: imports ([`build`]), then source rewrites, backend
/// key pins, `moved.tf` files and state moves.
pub fn build_with(mapping: &Mapping, inventory: &Inventory, opts: &Options) -> Result<Plan, Error> {
    let preload = history::preload::Store::default();
    build_with_progress(mapping, inventory, opts, &preload, &NoProgress)
}

/// [`build_with`], counting the tags scanned on `progress` (one task per monorepo); the
/// images of pinned commits are computed from the commits `preload` holds (the inventory
/// scan's, see [`crate::inventory::scan_with`]).
pub fn build_with_progress(
    mapping: &Mapping,
    inventory: &Inventory,
    opts: &Options,
    preload: &history::preload::Store,
    progress: &dyn crate::progress::Progress,
) -> Result<Plan, Error> {
    let mut plan = build(mapping, inventory)?;
    let mut problems = Vec::new();
    let legacy: BTreeMap<&str, &LegacyRepo> = inventory
        .repos
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let steps: BTreeMap<String, ImportStep> = plan
        .monorepos
        .iter()
        .flat_map(|m| &m.imports)
        .map(|s| (s.repo.clone(), s.clone()))
        .collect();

    // Sources.
    let targets = targets(mapping, &plan, &legacy);
    let images = Images {
        steps: &steps,
        preload,
        cache: Mutex::new(HashMap::new()),
    };
    let scan = SourceScan {
        mapping,
        targets: &targets,
        images: &images,
        legacy: &legacy,
        steps: &steps,
        cache: &opts.scans,
        by_name: targets.iter().fold(HashMap::new(), |mut m, t| {
            m.entry(t.repo.as_str()).or_insert(t);
            m
        }),
        target_keys: Mutex::new(HashMap::new()),
    };
    let mut scans = cache::ScanCache::new();
    for mono in &mut plan.monorepos {
        rewrite_sources(
            mono,
            &scan,
            progress,
            &mut plan.warnings,
            &mut problems,
            &mut scans,
        );
    }
    problems.extend(images.errors());
    scans.unchanged = scans.version == opts.scans.version
        && scans.reused.len() == scans.repos.len()
        && opts.scans.repos.len() == scans.repos.len()
        && scans.reused_tips.len() == scans.tip_scans.len()
        && opts.scans.tip_scans.len() == scans.tip_scans.len();
    plan.scans = scans;

    // State moves.
    let (mut state_plan, warnings) = plan_state(mapping, opts, &plan, &legacy, &mut problems);
    plan.warnings.extend(warnings);

    // Backend keys that change with the directory, and moved.tf files.
    let mut key_changes = Vec::new();
    for mono in &mut plan.monorepos {
        key_changes.extend(backend_keys(mono, &legacy, &mut state_plan, &mut problems));
        moved_files(mono, &legacy, &state_plan);
        mono.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    if !problems.is_empty() {
        return Err(Error::Invalid { problems });
    }
    mark_unchanged(&mut plan, opts);
    for kc in &key_changes {
        plan.warnings.push(Warning {
            subject: kc.root.clone(),
            message: format!(
                "backend key would change from \"{}\" to \"{}\" ({}); apply will {}",
                kc.old_key,
                kc.new_key,
                kc.how,
                if kc.action == BackendMode::Pin {
                    "pin the old key"
                } else {
                    "write state scripts that copy the state"
                }
            ),
        });
    }
    state_plan.roots.sort_by(|a, b| a.root.cmp(&b.root));
    plan.state = state_plan;
    plan.key_changes = key_changes;
    Ok(plan)
}

/// Marks the imports whose repo did not change since the last apply: its refs are those
/// that apply read ([`Options::baseline`]), its tag scan was reused and its default-branch
/// files change as they did then (the same digest): its images, refs, tag rewrites and
/// files in `main` are what that apply wrote. Records each repo's digest for the next run.
fn mark_unchanged(plan: &mut Plan, opts: &Options) {
    let scans = &mut plan.scans;
    for mono in &mut plan.monorepos {
        let mut by_repo: BTreeMap<&str, Vec<&FileChange>> = BTreeMap::new();
        for f in &mono.files {
            if let Origin::Legacy(repo) = &f.origin {
                by_repo.entry(repo).or_default().push(f);
            }
        }
        for step in &mut mono.imports {
            let files = by_repo.remove(step.repo.as_str()).unwrap_or_default();
            let digest = cache::tip_digest(files.into_iter());
            let same_files = opts.scans.tips.get(&step.repo) == Some(&digest);
            step.unchanged = same_files
                && opts.baseline.repos.contains(&step.repo)
                && (scans.reused.contains(&step.repo) || !scans.repos.contains_key(&step.repo));
            scans.tips.insert(step.repo.clone(), digest);
        }
    }
    scans.unchanged = scans.unchanged && scans.tips == opts.scans.tips;
}

/// What rewriting the module sources of a monorepo reads.
struct SourceScan<'a> {
    mapping: &'a Mapping,
    targets: &'a Targets,
    images: &'a Images<'a>,
    legacy: &'a BTreeMap<&'a str, &'a LegacyRepo>,
    /// Every import step, by repo name.
    steps: &'a BTreeMap<String, ImportStep>,
    /// The tag scans of an earlier run.
    cache: &'a cache::ScanCache,
    /// The targets by repo name (the first of a name, as a search in order finds).
    by_name: HashMap<&'a str, &'a sources::Target>,
    /// [`cache::target_key`] by (target repo, with its tips), each computed once.
    target_keys: Mutex<HashMap<(String, bool), Option<String>>>,
}

impl SourceScan<'_> {
    /// The current fingerprint of target `repo` (with its imported tips when `tips`), as
    /// the cached scans compare them; `None` when it is no target.
    fn target_key(&self, repo: &str, tips: bool) -> Option<String> {
        let key = (repo.to_string(), tips);
        if let Some(k) = self.target_keys.lock().ok()?.get(&key) {
            return k.clone();
        }
        let k = self
            .by_name
            .get(repo)
            .map(|t| cache::target_key(t, self.steps.get(repo).filter(|_| tips)));
        self.target_keys.lock().ok()?.insert(key, k.clone());
        k
    }
}

/// Sets the files, tag rewrites and unparsed files of `mono`: the source rewrites of every
/// imported repo's default branch, then of its tags.
fn rewrite_sources(
    mono: &mut MonorepoPlan,
    scan: &SourceScan<'_>,
    progress: &dyn crate::progress::Progress,
    warnings: &mut Vec<Warning>,
    problems: &mut Vec<String>,
    scans_out: &mut cache::ScanCache,
) {
    let mut files = Vec::new();
    let mut unparsed = Vec::new();
    let context = cache::context_key(scan.targets, &mono.name, scan.mapping.same_monorepo);
    // The repos' default branches are independent: rewritten in parallel, kept in order; a
    // repo whose scan inputs did not change since the cached run takes its cached result.
    let tips: Vec<(String, TipScanning)> = {
        use rayon::prelude::*;
        mono.imports
            .par_iter()
            .filter_map(|step| {
                let repo = scan.legacy.get(step.repo.as_str())?;
                let found = cached_tip_changes(&mono.name, &context, step, repo, scan);
                Some((step.repo.clone(), found))
            })
            .collect()
    };
    for (repo, scanned) in tips {
        let TipScanning {
            found,
            entry,
            reused,
        } = scanned;
        // A scan decoded for this use alone (an entry of the record) is taken, not copied.
        let found = std::sync::Arc::unwrap_or_clone(found).into_found();
        files.extend(found.files);
        unparsed.extend(found.unparsed);
        warnings.extend(found.warnings);
        problems.extend(found.problems);
        if reused {
            scans_out.reused_tips.insert(repo.clone());
        }
        scans_out.tip_scans.insert(repo, entry);
    }
    mono.files = files;
    let mut tag_rewrites = Vec::new();
    let ctx = sources::Context {
        targets: scan.targets,
        commits: scan.images,
        monorepo: &mono.name,
        same_monorepo: scan.mapping.same_monorepo,
        split: None,
    };
    // Repos are independent: scan their tags in parallel, keep the results in order. A
    // repo whose scan inputs did not change since the cached run takes its cached result.
    let total: usize = mono.imports.iter().map(|s| s.tags.len()).sum();
    let task = progress.task(&format!("scan tags of {}", mono.name), total as u64);
    let scans: Vec<Result<Scanning, String>> = {
        use rayon::prelude::*;
        mono.imports
            .par_iter()
            .map(|step| cached_tag_rewrites(step, &context, &ctx, scan, task.as_ref()))
            .collect()
    };
    drop(task);
    for (step, found) in mono.imports.iter().zip(scans) {
        match found {
            Ok(Scanning {
                found,
                entry,
                reused,
            }) => {
                tag_rewrites.extend(found.rewrites);
                warnings.extend(found.warnings);
                unparsed.extend(found.unparsed);
                if let Some(entry) = entry {
                    scans_out.repos.insert(step.repo.clone(), entry);
                }
                if reused {
                    scans_out.reused.insert(step.repo.clone());
                }
            }
            Err(e) => problems.push(e),
        }
    }
    mono.tag_rewrites = tag_rewrites;
    mono.unparsed = merge_unparsed(unparsed);
}

/// The tag scan of one repo, and its cache entry.
struct Scanning {
    found: TagScan,
    /// The entry for the next run (`None` for a repo without tags).
    entry: Option<cache::Stored<cache::CachedScan>>,
    /// Whether `found` is the earlier run's.
    reused: bool,
}

/// The tag scan of `step`: the cached one when its inputs are unchanged, else a fresh one;
/// with the cache entry for the next run.
fn cached_tag_rewrites(
    step: &ImportStep,
    context: &str,
    ctx: &sources::Context<'_>,
    scan: &SourceScan<'_>,
    task: &dyn crate::progress::Task,
) -> Result<Scanning, String> {
    if step.tags.is_empty() {
        return Ok(Scanning {
            found: TagScan::default(),
            entry: None,
            reused: false,
        });
    }
    let key = cache::repo_key(context, step);
    let dep = |repo: &str, tips: bool| scan.target_key(repo, tips);
    if let Some((entry, stored)) = scan.cache.get(&step.repo, &key, dep) {
        // Decoded for this use alone (an entry of the record): taken, not copied.
        let entry = std::sync::Arc::unwrap_or_clone(entry);
        let (warnings, unparsed) = (entry.warnings.clone(), entry.unparsed.clone());
        if let Some(rewrites) = entry.into_rewrites() {
            task.inc(step.tags.len() as u64);
            let found = TagScan {
                rewrites,
                warnings,
                unparsed,
                mentions: Mentions::default(),
            };
            return Ok(Scanning {
                found,
                entry: Some(stored),
                reused: true,
            });
        }
    }
    let imaged = Recording {
        inner: ctx.commits,
        repos: Mutex::new(std::collections::BTreeSet::new()),
    };
    let recorded = sources::Context {
        commits: &imaged,
        ..*ctx
    };
    let found = tag_rewrites_of(step, &recorded, task)?;
    let mentioned = (!found.mentions.all).then_some(&found.mentions.repos);
    let imaged = imaged.repos.into_inner().unwrap_or_else(|e| e.into_inner());
    let deps = cache::deps(scan.targets, scan.steps, mentioned, &imaged);
    let entry = cache::Stored::new(cache::CachedScan::store(
        key,
        deps,
        &found.rewrites,
        &found.warnings,
        &found.unparsed,
    ));
    Ok(Scanning {
        found,
        entry: Some(entry),
        reused: false,
    })
}

/// The default-branch scan of one repo, and its cache entry.
struct TipScanning {
    found: std::sync::Arc<cache::CachedTips>,
    /// The entry for the next run.
    entry: cache::Stored<cache::CachedTips>,
    /// Whether `found` is the earlier run's.
    reused: bool,
}

/// The default-branch scan of `step` (legacy `repo`): the cached one when its inputs are
/// unchanged, else a fresh one; with the cache entry for the next run.
fn cached_tip_changes(
    mono_name: &str,
    context: &str,
    step: &ImportStep,
    repo: &LegacyRepo,
    scan: &SourceScan<'_>,
) -> TipScanning {
    let key = cache::tip_key(context, step, repo.tip.as_deref());
    let dep = |target: &str, tips: bool| scan.target_key(target, tips);
    if let Some((found, entry)) = scan.cache.get_tips(&step.repo, &key, dep) {
        return TipScanning {
            found,
            entry,
            reused: true,
        };
    }
    let imaged = Recording {
        inner: scan.images,
        repos: Mutex::new(std::collections::BTreeSet::new()),
    };
    let found = tip_changes(mono_name, step, repo, scan, &imaged);
    let imaged = imaged.repos.into_inner().unwrap_or_else(|e| e.into_inner());
    // The targets a file may refer to: a file no target's pattern appears in refers to none.
    let mut mentioned = Some(std::collections::BTreeSet::new());
    for f in &repo.files {
        let Some(all) = mentioned.as_mut() else { break };
        if !scan.targets.may_mention(&f.content) {
            continue;
        }
        match scan.targets.mentioned_repos(&f.content) {
            Some(repos) => all.extend(repos.into_iter().map(str::to_string)),
            None => mentioned = None,
        }
    }
    let deps = cache::deps(scan.targets, scan.steps, mentioned.as_ref(), &imaged);
    let contents = found.files.iter().map(|f| f.content.clone()).collect();
    let found = std::sync::Arc::new(cache::CachedTips {
        key,
        deps,
        files: found.files,
        contents,
        unparsed: found.unparsed,
        warnings: found.warnings,
        problems: found.problems,
    });
    TipScanning {
        entry: cache::Stored::Made(found.clone()),
        found,
        reused: false,
    }
}

/// The source rewrites of the default branch of `step` (legacy `repo`): the changed files,
/// the files that could not be parsed, the warnings and the problems (commit images looked
/// up through `images`).
fn tip_changes(
    mono_name: &str,
    step: &ImportStep,
    repo: &LegacyRepo,
    scan: &SourceScan<'_>,
    images: &dyn sources::CommitLookup,
) -> TipChanges {
    let mut files = Vec::new();
    let mut unparsed = Vec::new();
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    let tip_files: Vec<&crate::inventory::SourceFile> = repo
        .files
        .iter()
        .filter(|f| {
            sources::is_source_file(&f.path) && !f.path.split('/').any(|c| c == ".terraform")
        })
        .collect();
    let base_ctx = sources::Context {
        targets: scan.targets,
        commits: images,
        monorepo: mono_name,
        same_monorepo: scan.mapping.same_monorepo,
        split: None,
    };
    let parts: Vec<SplitParts> = tip_files
        .iter()
        .map(|f| split::collect(&join(&step.path, &f.path), &f.content, scan.targets))
        .collect();
    let table = SplitTable::build(&parts, &base_ctx);
    warnings.extend(split_warnings(&step.repo, "default branch", &table));
    for file in tip_files {
        let path = join(&step.path, &file.path);
        let ctx = sources::Context {
            split: Some(&table),
            ..base_ctx
        };
        let outcome = sources::rewrite_file(&path, &file.content, &ctx);
        if let Some(u) = &outcome.unparsed {
            unparsed.push(unparsed_file(&step.repo, &path, u, "default branch"));
            continue;
        }
        for e in &outcome.errors {
            problems.push(format!(
                "{path}:{} (legacy repo {} file {}): {}",
                e.line,
                step.repo,
                file.path,
                redact::text(&e.message)
            ));
        }
        if outcome.rewrites.is_empty() && outcome.left_alone.is_empty() {
            continue;
        }
        files.push(FileChange {
            path,
            origin: Origin::Legacy(step.repo.clone()),
            rewrites: outcome.rewrites.iter().map(planned_rewrite).collect(),
            left_alone: outcome
                .left_alone
                .iter()
                .map(|l| SourceLeft {
                    line: l.line,
                    source: redact::text(&l.source),
                    reason: l.reason,
                    attention: l.reason.needs_attention(),
                })
                .collect(),
            edits: Vec::new(),
            content: outcome.new_content.map(Into::into),
        });
    }
    TipChanges {
        files,
        unparsed,
        warnings,
        problems,
    }
}

/// What [`tip_changes`] found in one repo's default branch.
struct TipChanges {
    files: Vec<FileChange>,
    unparsed: Vec<UnparsedFile>,
    warnings: Vec<Warning>,
    problems: Vec<String>,
}

/// The state plan of the mapping's `state` blocks (problems go to `problems`), and the
/// warnings about its roots: roots no import lands at, undeclared roots.
fn plan_state(
    mapping: &Mapping,
    opts: &Options,
    plan: &Plan,
    legacy: &BTreeMap<&str, &LegacyRepo>,
    problems: &mut Vec<String>,
) -> (StatePlan, Vec<Warning>) {
    let mut warnings = Vec::new();
    let state_plan = match state::plan::build(&mapping.state, opts.snapshots.as_ref()) {
        Ok(p) => p,
        Err(ps) => {
            problems.extend(ps.into_iter().map(|p| format!("{}: {}", p.at, p.message)));
            Default::default()
        }
    };
    for root in &state_plan.roots {
        let known = plan.monorepos.iter().any(|m| {
            m.imports.iter().any(|s| {
                let full = format!("{}/{}", m.name, s.path);
                root.root == full || root.root.starts_with(&format!("{full}/"))
            })
        });
        if !known {
            warnings.push(Warning {
                subject: format!("state \"{}\"", root.root),
                message: "no imported repo lands at this root (labels are <monorepo>/<path>); its scripts assume the directory exists".into(),
            });
        }
    }

    warnings.extend(super::targets::undeclared(&state_plan, plan, legacy));
    (state_plan, warnings)
}

/// The backend keys of `mono` that change with the directory: each pinned in its file
/// (`pin` mode) or recorded on its state root for the scripts to copy (`copy` mode).
fn backend_keys(
    mono: &mut MonorepoPlan,
    legacy: &BTreeMap<&str, &LegacyRepo>,
    state_plan: &mut StatePlan,
    problems: &mut Vec<String>,
) -> Vec<KeyChangePlan> {
    let mut key_changes = Vec::new();
    for step in &mono.imports {
        let Some(repo) = legacy.get(step.repo.as_str()) else {
            continue;
        };
        let file = |path: &str| {
            repo.files
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.content.as_str())
        };
        let Some(change) = backend::detect_in(file, "", &step.path) else {
            continue;
        };
        let root = format!("{}/{}", mono.name, step.path);
        let mode = match state_plan.root_mut(&root) {
            Some(r) => {
                r.key_change = Some(change.clone());
                r.backend_mode
            }
            None => BackendMode::Pin,
        };
        let path = join(&step.path, &change.file);
        if mode == BackendMode::Pin {
            let current = mono
                .files
                .iter()
                .find(|f| f.path == path)
                .and_then(|f| f.content.clone())
                .or_else(|| file(&change.file).map(Into::into));
            let Some(current) = current else { continue };
            match backend::pin(&current, &change.old_key) {
                Ok(pinned) => {
                    let edit = format!(
                        "backend key pinned to \"{}\" (line {}; it would become \"{}\")",
                        change.old_key, change.line, change.new_key
                    );
                    match mono.files.iter_mut().find(|f| f.path == path) {
                        Some(f) => {
                            f.content = Some(pinned.into());
                            f.edits.push(edit);
                        }
                        None => mono.files.push(FileChange {
                            path: path.clone(),
                            origin: Origin::Legacy(step.repo.clone()),
                            rewrites: Vec::new(),
                            left_alone: Vec::new(),
                            edits: vec![edit],
                            content: Some(pinned.into()),
                        }),
                    }
                }
                Err(e) => problems.push(format!(
                    "{path}:{}: cannot pin the backend key: {e}; set `backend {{ mode = \"copy\" }}` in a `state \"{root}\"` block",
                    change.line
                )),
            }
        }
        key_changes.push(KeyChangePlan {
            root,
            file: path,
            line: change.line,
            old_key: change.old_key.clone(),
            new_key: change.new_key.clone(),
            how: change.how.clone(),
            action: mode,
        });
    }
    key_changes
}

/// Adds the generated `moved.tf` (or `tfmono-moved.tf` when that name is taken) of every
/// `moved`-blocks state root inside `mono`.
fn moved_files(
    mono: &mut MonorepoPlan,
    legacy: &BTreeMap<&str, &LegacyRepo>,
    state_plan: &StatePlan,
) {
    for root in state_plan
        .roots
        .iter()
        .filter(|r| r.style == Style::MovedBlocks)
    {
        let Some(dir) = root.root.strip_prefix(&format!("{}/", mono.name)) else {
            continue;
        };
        let Some(text) = state::moved_blocks(root) else {
            continue;
        };
        let taken = |name: &str| {
            let p = join(dir, name);
            mono.files.iter().any(|f| f.path == p)
                || mono.imports.iter().any(|s| {
                    legacy
                        .get(s.repo.as_str())
                        .is_some_and(|r| r.files.iter().any(|f| join(&s.path, &f.path) == p))
                })
        };
        let name = if taken("moved.tf") {
            "tfmono-moved.tf"
        } else {
            "moved.tf"
        };
        mono.files.push(FileChange {
            path: join(dir, name),
            origin: Origin::Generated,
            rewrites: Vec::new(),
            left_alone: Vec::new(),
            edits: vec![format!(
                "generated: {} moved block(s) for state \"{}\"",
                root.moves.iter().filter(|m| m.from_state.is_none()).count(),
                root.root
            )],
            content: Some(text.into()),
        });
    }
}

/// What scanning the tags of one imported repo found.
#[derive(Default)]
struct TagScan {
    rewrites: Vec<TagRewrite>,
    warnings: Vec<Warning>,
    unparsed: Vec<UnparsedFile>,
    /// The targets the files read may refer to.
    mentions: Mentions,
}

/// One file version's scan result, cached by (blob id, monorepo path): the result depends
/// on nothing else in a run.
#[derive(Default)]
struct Scanned {
    change: Option<FileChange>,
    errors: Vec<String>,
    unparsed: Option<sources::Unparsed>,
    /// The targets the file may refer to (see [`cache`](super::cache)).
    mentions: Mentions,
}

/// The targets files may refer to: by repo name, or all of them.
#[derive(Default, Debug, Clone)]
struct Mentions {
    all: bool,
    repos: std::collections::BTreeSet<String>,
}

impl Mentions {
    fn add(&mut self, other: &Mentions) {
        self.all |= other.all;
        if !self.all {
            self.repos.extend(other.repos.iter().cloned());
        }
    }
}

/// The source rewrites of every imported tag of `step` (files read at each tagged commit).
/// Problems in old tags do not stop the plan: the source stays as it was in that tag, and
/// a warning says so.
///
/// Each distinct (blob, path) is scanned once for all tags, subtrees are listed once per
/// tree id, and a file in which no migrated repo's name or registry address appears (a
/// literal multi-pattern search) is not parsed at all. The file versions are read and
/// scanned in parallel, tree by tree (a repo with hundreds of tags is otherwise one long
/// sequential read that the whole plan waits for); the result is the same in any order.
fn tag_rewrites_of(
    step: &ImportStep,
    ctx: &sources::Context<'_>,
    task: &dyn crate::progress::Task,
) -> Result<TagScan, String> {
    let mut out = TagScan::default();
    if step.tags.is_empty() {
        return Ok(out);
    }
    let reader = Reader::open(&step.repo, &step.git_dir).map_err(|e| e.to_string())?;
    let handle = reader.handle();
    let mut scanner = TagScanner {
        step,
        ctx,
        reader: &reader,
        handle: &handle,
        lister: handle.lister(sources::is_source_file),
        split_parts: HashMap::new(),
        tables: Vec::new(),
    };
    // 1. The files and split table of every distinct tagged commit, in tag order.
    let mut trees: Vec<TaggedTree> = Vec::new();
    let mut tree_of: HashMap<gix::ObjectId, usize> = HashMap::new();
    for tag in &step.tags {
        if let Some(&i) = tree_of.get(&tag.commit) {
            trees[i].tags += 1;
            continue;
        }
        tree_of.insert(tag.commit, trees.len());
        trees.push(scanner.tree(tag)?);
    }
    // 2. Every distinct file version scanned once, tree by tree in parallel (each tree
    // scans the versions no earlier tree has), with one repo handle per thread.
    let mut owned: Vec<Vec<ScanKey>> = vec![Vec::new(); trees.len()];
    let mut seen: std::collections::HashSet<ScanKey> = std::collections::HashSet::new();
    for (tree, keys) in trees.iter().zip(&mut owned) {
        for (file, blob) in tree.entries.iter() {
            let key = (*blob, &**file, tree.fingerprint);
            if seen.insert(key) {
                keys.push(key);
            }
        }
    }
    let scanned = scanner.scan(&trees, &owned, task)?;
    for found in scanned.values() {
        out.mentions.add(&found.mentions);
    }
    // 3. The rewrites, warnings and unparsed files, in tag order.
    let tables = &scanner.tables;
    let mut by_tree: HashMap<usize, Vec<FileChange>> = HashMap::new();
    for tag in &step.tags {
        let i = tree_of[&tag.commit];
        let changes = match by_tree.get(&i) {
            Some(files) => files.clone(),
            None => {
                let files = collect(step, &trees[i], &tables[trees[i].table], &scanned, &mut out);
                by_tree.insert(i, files.clone());
                files
            }
        };
        if !changes.is_empty() {
            out.rewrites.push(TagRewrite {
                repo: step.repo.clone(),
                tag: tag.to.clone(),
                commit: tag.commit,
                files: changes,
            });
        }
    }
    Ok(out)
}

/// One file version in one split context: (blob, path in the legacy repo, split table
/// fingerprint).
type ScanKey<'t> = (gix::ObjectId, &'t str, u64);

/// A file version and what scanning it found.
type Found<'t> = (ScanKey<'t>, std::sync::Arc<Scanned>);

/// The source files of one tagged commit and the split table decided from them.
struct TaggedTree<'s> {
    /// The first tag naming the commit.
    tag: &'s RefImport,
    /// How many tags name it.
    tags: u64,
    entries: std::sync::Arc<Vec<crate::inventory::blobs::Entry>>,
    /// Index into [`TagScanner::tables`].
    table: usize,
    fingerprint: u64,
}

/// The file changes of tree `tree` (first tagged `tree.tag`); its warnings and unparsed
/// files go to `out`.
fn collect(
    step: &ImportStep,
    tree: &TaggedTree<'_>,
    table: &SplitTable,
    scanned: &HashMap<ScanKey<'_>, std::sync::Arc<Scanned>>,
    out: &mut TagScan,
) -> Vec<FileChange> {
    let tag_name = tree.tag.from.trim_start_matches("refs/tags/");
    out.warnings.extend(split_warnings(
        &step.repo,
        &format!("tag {tag_name}"),
        table,
    ));
    let mut changes = Vec::new();
    for (file, blob) in tree.entries.iter() {
        let Some(result) = scanned.get(&(*blob, &**file, tree.fingerprint)) else {
            continue;
        };
        if result.errors.is_empty() && result.unparsed.is_none() && result.change.is_none() {
            continue;
        }
        let path = join(&step.path, file);
        for e in &result.errors {
            out.warnings.push(Warning {
                subject: format!("repo \"{}\" tag {tag_name}", step.repo),
                message: format!("{path}:{e}; this source stays as it was in that tag"),
            });
        }
        if let Some(u) = &result.unparsed {
            out.unparsed
                .push(unparsed_file(&step.repo, &path, u, tag_name));
        }
        if let Some(change) = &result.change {
            changes.push(change.clone());
        }
    }
    changes
}

/// A read error in the legacy repo of `step`, saying what to do.
fn read_err(step: &ImportStep, what: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "repo \"{}\" at {}: cannot read {what}: {e}; run `git fsck` in it",
        step.repo,
        step.git_dir.display()
    )
}

/// Lists the tagged commits of one repo and decides their split tables, remembering every
/// subtree and Terragrunt file it has read.
struct TagScanner<'s, 'r> {
    step: &'s ImportStep,
    ctx: &'s sources::Context<'s>,
    reader: &'r Reader,
    handle: &'r Handle,
    lister: SourceBlobs<'r>,
    /// By (blob, monorepo path).
    split_parts: HashMap<(gix::ObjectId, String), std::sync::Arc<SplitParts>>,
    /// The distinct split tables, one per fingerprint.
    tables: Vec<SplitTable>,
}

impl TagScanner<'_, '_> {
    fn read_err(&self, what: &str, e: &dyn std::fmt::Display) -> String {
        read_err(self.step, what, e)
    }

    /// The source files of the commit `tag` peels to, and its split table.
    fn tree<'t>(&mut self, tag: &'t RefImport) -> Result<TaggedTree<'t>, String> {
        let commit = tag.commit;
        let entries = self
            .lister
            .of_commit(commit)
            .map_err(|e| self.read_err(&format!("the tree of {}", tag.from), &e))?;
        let table = self.split_table(&entries, tag)?;
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            table.hash(&mut h);
            h.finish()
        };
        let table = match self.tables.iter().position(|t| *t == table) {
            Some(i) => i,
            None => {
                self.tables.push(table);
                self.tables.len() - 1
            }
        };
        Ok(TaggedTree {
            tag,
            tags: 1,
            entries,
            table,
            fingerprint,
        })
    }

    /// Scans the file versions `owned[i]` of each tree `trees[i]`, in parallel, each thread
    /// with its own handle on the repo; counts each tree's tags on `task` once its versions
    /// are scanned. The first error in tag order wins, as in a sequential scan.
    ///
    /// The versions are read in the order of their packs: git writes a delta's base before
    /// it and a file's versions together, so each thread reads a run of them and decodes
    /// every link of a delta chain about once (tree by tree, every version decoded its whole
    /// chain again).
    fn scan<'t>(
        &self,
        trees: &[TaggedTree<'_>],
        owned: &'t [Vec<ScanKey<'t>>],
        task: &dyn crate::progress::Task,
    ) -> Result<HashMap<ScanKey<'t>, std::sync::Arc<Scanned>>, String> {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let reader = self.reader;
        let (step, tables, base) = (self.step, &self.tables, self.ctx);
        // (where in the packs, tree, place in the tree, key); versions no pack holds last.
        let mut work: Vec<((usize, u64), usize, usize, ScanKey<'t>)> = Vec::new();
        for (t, keys) in owned.iter().enumerate() {
            for (n, &key) in keys.iter().enumerate() {
                let at = reader.position(&key.0).unwrap_or((usize::MAX, u64::MAX));
                work.push((at, t, n, key));
            }
        }
        work.sort_unstable_by_key(|w| (w.0, w.1, w.2));
        let left: Vec<AtomicUsize> = owned.iter().map(|k| AtomicUsize::new(k.len())).collect();
        for (tree, keys) in trees.iter().zip(owned) {
            if keys.is_empty() {
                task.inc(tree.tags);
            }
        }
        // Of the versions read, only those another one is a delta of are worth keeping.
        let bases = std::sync::Arc::new(
            reader.bases(work.iter().map(|w| w.0).filter(|&(p, _)| p != usize::MAX)),
        );
        // A few runs per thread, so that one slow run does not hold the others up.
        let run = work.len().div_ceil(rayon::current_num_threads() * 4).max(1);
        type Scan<'t> = Result<Found<'t>, (usize, usize, String)>;
        let results: Vec<Vec<Scan<'t>>> = work
            .par_chunks(run)
            .map_init(
                || {
                    let handle = reader.handle();
                    handle.keep_only(bases.clone());
                    handle
                },
                |repo, chunk| {
                    chunk
                        .iter()
                        .map(|&(_, t, n, key)| {
                            let tree = &trees[t];
                            let ctx = sources::Context {
                                split: Some(&tables[tree.table]),
                                ..*base
                            };
                            let (blob, file, _) = key;
                            let found = scan_blob(repo, blob, &join(&step.path, file), &ctx)
                                .map(|r| (key, std::sync::Arc::new(r)))
                                .map_err(|e| {
                                    let at = format!("{file} in {}", tree.tag.from);
                                    (t, n, read_err(step, &at, &e))
                                });
                            if left[t].fetch_sub(1, Ordering::Relaxed) == 1 {
                                task.inc(tree.tags);
                            }
                            found
                        })
                        .collect()
                },
            )
            .collect();
        let mut out = HashMap::new();
        let mut first: Option<(usize, usize, String)> = None;
        for found in results.into_iter().flatten() {
            match found {
                Ok((key, scanned)) => {
                    out.insert(key, scanned);
                }
                Err(e) => {
                    if first.as_ref().is_none_or(|f| (e.0, e.1) < (f.0, f.1)) {
                        first = Some(e);
                    }
                }
            }
        }
        match first {
            Some((_, _, e)) => Err(e),
            None => Ok(out),
        }
    }

    /// The split sources of one tagged tree (decided per tree, from its Terragrunt files).
    fn split_table(
        &mut self,
        entries: &[crate::inventory::blobs::Entry],
        tag: &RefImport,
    ) -> Result<SplitTable, String> {
        let mut parts = Vec::new();
        for (file, blob) in entries.iter().filter(|(f, _)| f.ends_with(".hcl")) {
            let key = (*blob, join(&self.step.path, file));
            let p = match self.split_parts.get(&key) {
                Some(p) => p.clone(),
                None => {
                    let p = split_parts_of(self.handle, *blob, &key.1, self.ctx.targets)
                        .map_err(|e| self.read_err(&format!("{file} in {}", tag.from), &e))?;
                    self.split_parts.insert(key, p.clone());
                    p
                }
            };
            parts.push(p);
        }
        Ok(SplitTable::build(
            parts.iter().map(|p| p.as_ref()),
            self.ctx,
        ))
    }
}

/// Scans one file version of a tag for sources to rewrite.
fn scan_blob(
    repo: &Handle,
    blob: gix::ObjectId,
    path: &str,
    ctx: &sources::Context<'_>,
) -> Result<Scanned, gix::Error> {
    repo.with_text(blob, |text| match text {
        Some(content) => scan_text(content, path, ctx),
        None => Scanned::default(),
    })
}

/// Scans one file version's text for sources to rewrite.
fn scan_text(content: &str, path: &str, ctx: &sources::Context<'_>) -> Scanned {
    let split_half = ctx
        .split
        .is_some_and(|t| !t.is_empty() && t.may_use(content));
    if !split_half && !ctx.targets.may_mention(content) {
        return Scanned::default();
    }
    let mentions = match ctx.targets.mentioned_repos(content) {
        Some(repos) => Mentions {
            all: false,
            repos: repos.into_iter().map(str::to_string).collect(),
        },
        None => Mentions {
            all: true,
            ..Mentions::default()
        },
    };
    let outcome = sources::rewrite_file(path, content, ctx);
    let errors = outcome
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.line, redact::text(&e.message)))
        .collect();
    let unparsed = outcome.unparsed.filter(|u| !u.mentions.is_empty());
    let change = outcome.new_content.map(|content| FileChange {
        path: path.to_string(),
        origin: Origin::Tag,
        rewrites: outcome.rewrites.iter().map(planned_rewrite).collect(),
        left_alone: Vec::new(),
        edits: Vec::new(),
        content: Some(content.into()),
    });
    Scanned {
        change,
        errors,
        unparsed,
        mentions,
    }
}

/// What the Terragrunt file `blob` contributes to split sources (nothing when it mentions no
/// legacy repo and composes no local).
fn split_parts_of(
    repo: &Handle,
    blob: gix::ObjectId,
    file: &str,
    targets: &Targets,
) -> Result<std::sync::Arc<SplitParts>, gix::Error> {
    repo.with_text(blob, |text| match text {
        Some(content) if targets.may_mention(content) || content.contains("local") => {
            std::sync::Arc::new(split::collect(file, content, targets))
        }
        _ => Default::default(),
    })
}

/// One warning per split source whose halves cannot be rewritten together.
fn split_warnings(repo: &str, at: &str, table: &SplitTable) -> Vec<Warning> {
    table
        .iter()
        .filter_map(|(_, e)| {
            e.problem.as_ref().map(|p| Warning {
                subject: format!("repo \"{repo}\" {at}"),
                message: redact::text(p),
            })
        })
        .collect()
}

/// An unparsed file as the plan shows it: secrets redacted.
fn unparsed_file(repo: &str, path: &str, u: &sources::Unparsed, at: &str) -> UnparsedFile {
    UnparsedFile {
        repo: repo.to_string(),
        path: path.to_string(),
        line: u.line,
        message: redact::text(&u.message),
        at: vec![at.to_string()],
        mentions: u
            .mentions
            .iter()
            .map(|m| Mention {
                line: m.line,
                text: redact::text(&m.text),
                repo: m.repo.clone(),
            })
            .collect(),
    }
}

/// One entry per (repo, path): where it does not parse (the default branch first, then
/// tags in order), and every distinct mention.
fn merge_unparsed(list: Vec<UnparsedFile>) -> Vec<UnparsedFile> {
    let mut merged: BTreeMap<(String, String), UnparsedFile> = BTreeMap::new();
    for u in list {
        match merged.entry((u.repo.clone(), u.path.clone())) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(u);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let m = o.get_mut();
                m.at.extend(u.at);
                for mention in u.mentions {
                    if !m
                        .mentions
                        .iter()
                        .any(|x| x.line == mention.line && x.text == mention.text)
                    {
                        m.mentions.push(mention);
                    }
                }
            }
        }
    }
    merged.into_values().collect()
}

/// A source rewrite as the plan shows it: secrets redacted.
fn planned_rewrite(r: &crate::sources::Rewrite) -> SourceRewrite {
    SourceRewrite {
        line: r.line,
        old: redact::text(&r.old),
        new: redact::text(&r.new),
        repo: r.repo.clone(),
        notes: r.notes.iter().map(|n| redact::text(n)).collect(),
    }
}

fn join(dir: &str, file: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        file.to_string()
    } else {
        format!("{dir}/{file}")
    }
}

fn targets(mapping: &Mapping, plan: &Plan, legacy: &BTreeMap<&str, &LegacyRepo>) -> Targets {
    let steps: BTreeMap<&str, &ImportStep> = plan
        .monorepos
        .iter()
        .flat_map(|m| &m.imports)
        .map(|s| (s.repo.as_str(), s))
        .collect();
    let mut out = Vec::new();
    for spec in &mapping.repos {
        let Some(step) = steps.get(spec.name.as_str()) else {
            continue;
        };
        let Some(mono) = mapping.monorepo(&spec.into) else {
            continue;
        };
        let tags = step
            .tags
            .iter()
            .map(|t| t.from.trim_start_matches("refs/tags/").to_string())
            .collect();
        let branches = step
            .branches
            .iter()
            .skip(1) // the default branch became main
            .map(|b| {
                (
                    b.from.trim_start_matches("refs/heads/").to_string(),
                    b.to.trim_start_matches("refs/heads/").to_string(),
                )
            })
            .collect();
        let mut target = Target::from_spec(
            spec,
            &mono.url,
            tags,
            step.default_branch.as_deref(),
            branches,
        );
        // Branches left out (`branches = "default"`): a ref naming one of them and a tag is
        // noted as ambiguous.
        if let Some(repo) = legacy.get(spec.name.as_str()) {
            target.other_branches = repo
                .branches
                .iter()
                .filter(|b| !step.branches.iter().any(|i| i.from == b.name))
                .map(|b| b.short().to_string())
                .collect();
        }
        out.push(target);
    }
    Targets::new(out)
}

/// Commit images for `?ref=<sha>`, computed on demand (images are deterministic, so the
/// plan knows them before apply writes them).
struct Images<'a> {
    steps: &'a BTreeMap<String, ImportStep>,
    preload: &'a history::preload::Store,
    /// By repo: its images (`None`: not imported), or why they could not be computed.
    cache: Mutex<HashMap<String, Result<Option<CommitMap>, String>>>,
}

impl Images<'_> {
    /// Why computing the images of a repo failed, one line per repo: problems of the plan
    /// (the pins into it could not be resolved).
    fn errors(&self) -> Vec<String> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<String> = cache
            .iter()
            .filter_map(|(repo, r)| {
                r.as_ref().err().map(|e| {
                    format!(
                        "repo \"{repo}\": its commit images (for sources pinned to one of its commits by `?ref=<sha>`) cannot be computed: {e}; run `git fsck` in it"
                    )
                })
            })
            .collect();
        out.sort();
        out
    }
}

/// A [`sources::CommitLookup`] that records which repos it was asked about.
struct Recording<'a> {
    inner: &'a dyn sources::CommitLookup,
    repos: Mutex<std::collections::BTreeSet<String>>,
}

impl sources::CommitLookup for Recording<'_> {
    fn image(&self, repo: &str, sha: &str) -> Option<String> {
        if let Ok(mut repos) = self.repos.lock() {
            repos.insert(repo.to_string());
        }
        self.inner.image(repo, sha)
    }
}

impl sources::CommitLookup for Images<'_> {
    fn image(&self, repo: &str, sha: &str) -> Option<String> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let entry = cache.entry(repo.to_string()).or_insert_with(|| {
            let Some(step) = self.steps.get(repo) else {
                return Ok(None);
            };
            let task = NoProgress;
            let image = history::rewrite(
                &step.history_input(),
                &CommitMap::default(),
                self.preload,
                &AtomicBool::new(false),
                crate::progress::Progress::task(&task, "", 0).as_ref(),
            )
            .map_err(|e| redact::text(&e.to_string()))?;
            let mut map = CommitMap::default();
            for (old, new) in image.commits {
                map.insert(repo, old, new);
            }
            Ok(Some(map))
        });
        match entry {
            Ok(Some(m)) => m.find_prefix(repo, sha).map(|id| id.to_string()),
            _ => None,
        }
    }
}

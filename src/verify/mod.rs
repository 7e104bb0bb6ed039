//! Proves the import: every legacy commit reachable from an imported ref has an image in its
//! monorepo whose tree at the repo's path equals the legacy tree, whose parents are the
//! images of the legacy parents and whose metadata (author, committer, dates, encoding,
//! message) is byte-identical; every branch and tag is mapped; `main` contains every import.
//!
//! It re-walks the legacy repos itself (it does not trust what `apply` computed) and reads
//! the monorepo through gix, from the monorepo's own object store only; only the commit map
//! tells it where to look. Every legacy tree it compares by id must also be present in the
//! monorepo (the legacy packs apply links in hold them), and with `full` every object
//! reachable from every monorepo ref is read: a connectivity check, as `git fsck
//! --connectivity-only` does.
//!
//! Every verify records what it proved (`.tfmono/verified.json`, see [`since`]);
//! [`run_since_last`] walks each legacy repo only from its tips down to the tips proven
//! before, so after a re-sync it checks what that apply wrote.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gix::objs::Kind;
use gix::ObjectId;
use serde::Serialize;

mod metadata;
mod scripts;
pub mod since;
pub mod terraform;

use crate::history::{self, CommitMap};
use crate::objects;
use crate::plan::{ImportStep, MonorepoPlan, Plan};
use crate::progress::Progress;
use since::{Verified, VerifiedMonorepo, VerifiedRepo};

/// What can stop verification before it reaches a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading failed.
    #[error(transparent)]
    History(#[from] history::Error),
    /// The monorepo is missing.
    #[error("monorepo {name}: {} is not there; run `tfmono apply` with the same --out first", path.display())]
    Missing {
        /// The monorepo name.
        name: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// The journal of the output directory cannot be read.
    #[error(transparent)]
    Journal(#[from] crate::outdir::Error),
    /// The monorepo exists but cannot be opened as a git repository.
    #[error("monorepo {name} at {}: cannot open it as a git repository ({message}); if something replaced it, run `tfmono apply` with the same --out again", path.display())]
    Unreadable {
        /// The monorepo's name.
        name: String,
        /// Its git directory.
        path: PathBuf,
        /// What gix said.
        message: String,
    },
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

/// The kind of a mismatch, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Class {
    /// A script apply recorded is missing, empty, not executable or cut short.
    Script,
    /// A legacy commit has no image.
    MissingImage,
    /// An object the monorepo's history needs is not in its object store.
    MissingObject,
    /// The image's tree at the path differs from the legacy tree.
    Tree,
    /// The image's parents are not the images of the legacy parents.
    Parents,
    /// Author, committer, dates, encoding or message differ.
    Metadata,
    /// A branch or tag is missing or points elsewhere.
    Ref,
    /// `main` does not contain an import.
    Main,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Script => "script damaged",
            Class::MissingImage => "missing image",
            Class::MissingObject => "object missing from the monorepo",
            Class::Tree => "tree differs",
            Class::Parents => "parents differ",
            Class::Metadata => "metadata differs",
            Class::Ref => "ref not mapped",
            Class::Main => "main lacks an import",
        })
    }
}

/// One mismatch.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    /// What kind.
    pub class: Class,
    /// The monorepo.
    pub monorepo: String,
    /// The legacy repo.
    pub repo: String,
    /// The legacy commit or ref.
    pub subject: String,
    /// Details and what to do.
    pub message: String,
}

/// Counts per monorepo.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checked {
    /// The monorepo.
    pub monorepo: String,
    /// Legacy commits checked.
    pub commits: usize,
    /// Branches and tags checked.
    pub refs: usize,
    /// Imports found in main.
    pub imports: usize,
    /// Objects found reachable from the monorepo's refs (`full` only; else 0).
    pub objects: usize,
}

/// The verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// What was checked.
    pub checked: Vec<Checked>,
    /// Everything that does not match (empty: verified).
    pub mismatches: Vec<Mismatch>,
    /// What [`run_since_last`] checked and skipped (absent in a full verify).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_last: Option<SinceLast>,
}

/// What [`run_since_last`] checked: the legacy commits new since the last verify.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SinceLast {
    /// Whether a record of an earlier verify was found (else everything was checked).
    pub record: bool,
    /// Legacy commits checked (those not below a tip an earlier verify proved).
    pub commits: usize,
    /// Legacy repos walked from their tips down to the tips an earlier verify proved.
    pub repos_changed: usize,
    /// Legacy repos walked in full: no usable record of them (never verified, a mismatch
    /// last time, their images or path changed since).
    pub repos_unverified: usize,
    /// Legacy repos whose tips were all proven before: no commit walked (refs still checked).
    pub repos_unchanged: usize,
}

impl Report {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// The first class of mismatch found, if any.
    pub fn first_class(&self) -> Option<Class> {
        self.mismatches.iter().map(|m| m.class).min()
    }
}

/// What [`run`] needs besides the plan and the output directory.
pub struct Context<'a> {
    /// Commits inflated ahead (by the inventory scan of the same run, or here): each repo's
    /// are released once it is verified.
    pub preload: &'a history::preload::Store,
    /// Where progress goes.
    pub progress: &'a dyn Progress,
    /// Set on Ctrl-C.
    pub should_interrupt: &'a AtomicBool,
}

/// Verifies every monorepo of `plan` under `out`; with `full`, also checks that every
/// object reachable from every monorepo ref is in the monorepo's object store. Records
/// what it proved (for [`run_since_last`]) when `out` is tfmono's.
pub fn run(plan: &Plan, out: &Path, full: bool, ctx: &Context<'_>) -> Result<Report, Error> {
    run_with(plan, out, full, None, ctx)
}

/// Verifies, in every monorepo of `plan` under `out`, the legacy commits not proven by an
/// earlier verify (every commit when none is recorded), every branch and tag, and that
/// `main` contains every import; records what it proved.
pub fn run_since_last(plan: &Plan, out: &Path, ctx: &Context<'_>) -> Result<Report, Error> {
    let last: Option<Verified> = crate::outdir::last_verified(out)?;
    let mut report = run_with(plan, out, false, Some(last.as_ref()), ctx)?;
    if let Some(s) = report.since_last.as_mut() {
        s.record = last.is_some();
    }
    Ok(report)
}

/// [`run`], or with `since` (`Some(the record, if any)`) [`run_since_last`].
fn run_with(
    plan: &Plan,
    out: &Path,
    full: bool,
    since: Option<Option<&Verified>>,
    ctx: &Context<'_>,
) -> Result<Report, Error> {
    let mut report = Report {
        mismatches: scripts::check(out)?,
        since_last: since.map(|_| SinceLast::default()),
        ..Report::default()
    };
    let mut proven = Verified::default();
    for m in &plan.monorepos {
        let last = since.map(|v| v.and_then(|v| v.monorepos.get(&m.name)));
        let p = verify_monorepo(m, plan, out, full, last, ctx, &mut report)?;
        proven.monorepos.insert(m.name.clone(), p);
    }
    if crate::outdir::is_ours(out) {
        crate::outdir::record_verified(out, &proven)?;
    }
    Ok(report)
}

struct Ctx<'a> {
    preload: &'a history::preload::Store,
    mono: &'a gix::Repository,
    /// Who authors the commits apply writes (`Name <email>`).
    identity: String,
    monorepo: &'a str,
    map: &'a CommitMap,
    report: &'a mut Report,
}

impl Ctx<'_> {
    fn mismatch(&mut self, class: Class, repo: &str, subject: String, message: String) {
        self.report.mismatches.push(Mismatch {
            class,
            monorepo: self.monorepo.to_string(),
            repo: repo.to_string(),
            subject,
            message,
        });
    }

    fn read_mono(&self, id: ObjectId) -> Option<(Kind, Vec<u8>)> {
        let obj = self.mono.find_object(id).ok()?.detach();
        Some((obj.kind, obj.data))
    }

    /// Whether `commit` is tfmono's "Rewrite module sources for `<tag>`" commit whose only
    /// parent is `image` (tags point there so pinned calls resolve in the monorepos).
    fn is_source_rewrite_of(&self, commit: ObjectId, image: ObjectId) -> bool {
        let Some((Kind::Commit, data)) = self.read_mono(commit) else {
            return false;
        };
        let Some(h) = objects::parse_commit(&data) else {
            return false;
        };
        let author = format!("\nauthor {} ", self.identity);
        h.parents == [image]
            && data.windows(author.len()).any(|w| w == author.as_bytes())
            && data
                .windows(b"Rewrite module sources for ".len())
                .any(|w| w == b"Rewrite module sources for ")
    }

    /// The entry id at `path` below the tree `root` in the monorepo.
    fn tree_at(&self, root: ObjectId, path: &str) -> Option<ObjectId> {
        let mut current = root;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            let (_, data) = self.read_mono(current)?;
            let entries = objects::parse_tree(&data)?;
            current = entries
                .into_iter()
                .find(|e| e.name == c.as_bytes() && e.is_tree())?
                .id;
        }
        Some(current)
    }
}

/// Verifies monorepo `m`; with `since` (`Some(its record, if any)`) only what that record
/// does not prove. Returns what it proved.
fn verify_monorepo(
    m: &MonorepoPlan,
    plan: &Plan,
    out: &Path,
    full: bool,
    since: Option<Option<&VerifiedMonorepo>>,
    run: &Context<'_>,
    report: &mut Report,
) -> Result<VerifiedMonorepo, Error> {
    let Context {
        preload,
        progress,
        should_interrupt,
    } = *run;
    let dir = out.join(&m.dir);
    if !dir.join("HEAD").is_file() {
        return Err(Error::Missing {
            name: m.name.clone(),
            path: dir,
        });
    }
    let mono = history::open(&m.name, &dir).map_err(|e| Error::Unreadable {
        name: m.name.clone(),
        message: match e {
            history::Error::Open { message, .. } => message,
            other => other.to_string(),
        },
        path: dir.clone(),
    })?;
    let map = CommitMap::load(&crate::outdir::commit_map_path(out, &m.name))?;
    let total: u64 = m.imports.iter().map(|s| s.commits as u64).sum();
    let task = progress.task(&format!("verify {}", m.name), total);
    let mut checked = Checked {
        monorepo: m.name.clone(),
        ..Checked::default()
    };
    let mut ctx = Ctx {
        preload,
        mono: &mono,
        identity: plan.identity.to_string(),
        monorepo: &m.name,
        map: &map,
        report,
    };
    let mut proven = VerifiedMonorepo::default();
    for step in &m.imports {
        let before = ctx.report.mismatches.len();
        let last = since.map(|v| v.and_then(|v| v.repos.get(&step.repo)));
        let walked = verify_commits(&mut ctx, step, last, should_interrupt, task.as_ref())?;
        checked.commits += walked.count;
        checked.refs += verify_refs(&mut ctx, step)?;
        if let Some(s) = ctx.report.since_last.as_mut() {
            s.commits += walked.count;
            match walked.kind {
                Walk::Unchanged => s.repos_unchanged += 1,
                Walk::Changed => s.repos_changed += 1,
                Walk::Full => s.repos_unverified += 1,
            }
        }
        let clean = ctx.report.mismatches[before..]
            .iter()
            .all(|x| x.repo != step.repo);
        let record = VerifiedRepo::of(&step.path, &walked.tips, &map.images_of(&step.repo));
        if let Some(r) = record.filter(|_| clean) {
            proven.repos.insert(step.repo.clone(), r);
        }
    }
    let before = ctx.report.mismatches.len();
    let (imports, contained) = match since.flatten() {
        Some(last) => verify_main_since(&mut ctx, m, last)?,
        None => verify_main(&mut ctx, m)?,
    };
    checked.imports = imports;
    if ctx.report.mismatches.len() == before {
        proven.main = main_tip(&mono).map(|t| t.to_string());
        proven.contained = contained.iter().map(ToString::to_string).collect();
    }
    if full {
        checked.objects = connectivity(&mut ctx, should_interrupt)?;
    }
    ctx.report.checked.push(checked);
    Ok(proven)
}

/// How [`verify_commits`] walked a legacy repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Every commit reachable from its refs.
    Full,
    /// From its tips down to the tips proven before.
    Changed,
    /// Not at all: every tip was proven before.
    Unchanged,
}

/// What [`verify_commits`] did.
struct Walked {
    kind: Walk,
    /// Commits checked.
    count: usize,
    /// The legacy tips walked from (every branch and tag, peeled, distinct).
    tips: Vec<ObjectId>,
}

fn legacy_tips(step: &ImportStep, legacy: &gix::Repository) -> Vec<(String, ObjectId)> {
    // Re-read the legacy refs now, independently of what the plan recorded.
    step.branches
        .iter()
        .chain(&step.tags)
        .filter_map(|r| {
            let mut reference = legacy.find_reference(r.from.as_str()).ok()?;
            let id = reference.peel_to_id().ok()?.detach();
            Some((r.from.clone(), id))
        })
        .collect()
}

/// Checks the image of every legacy commit of `step` reachable from its refs; with `since`
/// (`Some(its record, if any)`) only of those not below a tip the record proves.
fn verify_commits(
    ctx: &mut Ctx<'_>,
    step: &ImportStep,
    since: Option<Option<&VerifiedRepo>>,
    should_interrupt: &AtomicBool,
    task: &dyn crate::progress::Task,
) -> Result<Walked, Error> {
    let name = step.repo.as_str();
    let legacy = history::open(name, &step.git_dir)?;
    let mut tips: Vec<ObjectId> = legacy_tips(step, &legacy)
        .into_iter()
        .map(|t| t.1)
        .collect();
    tips.sort();
    tips.dedup();
    let bounds = since
        .flatten()
        .map(|r| r.boundaries(name, &step.path, ctx.map, ctx.mono, &legacy))
        .unwrap_or_default();
    if !bounds.is_empty() {
        let (kind, count) = if tips.iter().all(|t| bounds.contains(t)) {
            (Walk::Unchanged, 0)
        } else {
            let count = verify_new_commits(ctx, step, &legacy, &tips, bounds, should_interrupt)?;
            (Walk::Changed, count)
        };
        ctx.preload.release(&step.git_dir);
        return Ok(Walked { kind, count, tips });
    }
    let preloaded = ctx.preload.shared(&step.git_dir);
    let mut stack = tips.clone();
    let image_of = ctx.map.images_of(name);
    let mut seen = gix::hashtable::HashSet::default();
    seen.reserve(preloaded.len());
    let mut count = 0usize;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        count += 1;
        if count.is_multiple_of(4096) {
            task.inc(4096);
            if should_interrupt.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
        }
        // Preloaded commits come with their headers parsed; others are read and parsed here.
        let (data, header) = match preloaded.get(&id) {
            Some(c) => (
                Cow::Borrowed(c.data.as_slice()),
                c.header.as_ref().map(Cow::Borrowed),
            ),
            None => {
                let data = history::read(name, &legacy, id)?.1;
                let header = objects::parse_commit(&data).map(Cow::Owned);
                (Cow::Owned(data), header)
            }
        };
        let Some(header) = header else {
            return Err(history::Error::Malformed {
                repo: name.to_string(),
                kind: "commit",
                id: id.to_string(),
            }
            .into());
        };
        stack.extend(header.parents.iter().copied());
        check_image(ctx, step, id, &header, &data, &image_of);
    }
    task.inc((count % 4096) as u64);
    drop(preloaded);
    ctx.preload.release(&step.git_dir);
    Ok(Walked {
        kind: Walk::Full,
        count,
        tips,
    })
}

/// Checks the image of every legacy commit reachable from `tips` but not from `bounds`
/// (tips whose history an earlier verify proved); returns how many.
fn verify_new_commits(
    ctx: &mut Ctx<'_>,
    step: &ImportStep,
    legacy: &gix::Repository,
    tips: &[ObjectId],
    bounds: Vec<ObjectId>,
    should_interrupt: &AtomicBool,
) -> Result<usize, Error> {
    let name = step.repo.as_str();
    let walk_error = |e: &dyn fmt::Display| history::Error::Open {
        repo: name.to_string(),
        path: step.git_dir.clone(),
        message: format!("walking its history: {e}"),
    };
    let walk = legacy
        .rev_walk(tips.iter().copied())
        .with_hidden(bounds)
        .all()
        .map_err(|e| walk_error(&e))?;
    let mut new = Vec::new();
    for info in walk {
        new.push(info.map_err(|e| walk_error(&e))?.id);
        if should_interrupt.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
    }
    let image_of = ctx.map.images_of(name);
    for &id in &new {
        let data = history::read(name, legacy, id)?.1;
        let Some(header) = objects::parse_commit(&data) else {
            return Err(history::Error::Malformed {
                repo: name.to_string(),
                kind: "commit",
                id: id.to_string(),
            }
            .into());
        };
        check_image(ctx, step, id, &header, &data, &image_of);
    }
    Ok(new.len())
}

/// Compares the image of legacy commit `id` (raw `data`, parsed `header`) with it: present,
/// its tree at the repo's path, its parents, its metadata; records every mismatch.
fn check_image(
    ctx: &mut Ctx<'_>,
    step: &ImportStep,
    id: ObjectId,
    header: &objects::CommitHeader,
    data: &[u8],
    image_of: &impl Fn(&ObjectId) -> Option<ObjectId>,
) {
    let name = step.repo.as_str();
    let Some(image) = image_of(&id) else {
        ctx.mismatch(
            Class::MissingImage,
            name,
            id.to_string(),
            "no image in the commit map; the legacy repo may have new commits: run `tfmono apply` again".into(),
        );
        return;
    };
    let Some((Kind::Commit, img)) = ctx.read_mono(image) else {
        ctx.mismatch(
            Class::MissingImage,
            name,
            id.to_string(),
            format!("its image {image} is not a commit in the monorepo"),
        );
        return;
    };
    let Some(img_header) = objects::parse_commit(&img) else {
        ctx.mismatch(
            Class::MissingImage,
            name,
            id.to_string(),
            format!("image {image} is malformed"),
        );
        return;
    };
    // The tree is compared by id; it must also be in the monorepo's own store (it comes
    // from the legacy packs apply links in), or the image's content is gone.
    if !ctx.mono.has_object(header.tree) {
        ctx.mismatch(
            Class::MissingObject,
            name,
            id.to_string(),
            format!(
                "tree {} of image {image} is missing from the monorepo's objects; run `tfmono apply` again",
                header.tree
            ),
        );
    }
    if ctx.tree_at(img_header.tree, &step.path) != Some(header.tree) {
        ctx.mismatch(
            Class::Tree,
            name,
            id.to_string(),
            format!(
                "the tree of image {image} at {} is not the legacy tree {}",
                step.path, header.tree
            ),
        );
    }
    let expected: Vec<Option<ObjectId>> = header.parents.iter().map(&image_of).collect();
    let actual: Vec<Option<ObjectId>> = img_header.parents.iter().map(|p| Some(*p)).collect();
    if expected != actual {
        ctx.mismatch(
            Class::Parents,
            name,
            id.to_string(),
            format!("image {image} has parents {actual:?}, expected the images {expected:?}"),
        );
    }
    let differs = metadata::differences(data, &img);
    if !differs.is_empty() {
        ctx.mismatch(
            Class::Metadata,
            name,
            id.to_string(),
            format!("image {image} differs in {}", differs.join(", ")),
        );
    }
}

fn verify_refs(ctx: &mut Ctx<'_>, step: &ImportStep) -> Result<usize, Error> {
    let name = step.repo.as_str();
    let legacy = history::open(name, &step.git_dir)?;
    let mut n = 0;
    for r in step.branches.iter().chain(&step.tags) {
        n += 1;
        let Ok(mut legacy_ref) = legacy.find_reference(r.from.as_str()) else {
            ctx.mismatch(
                Class::Ref,
                name,
                r.from.clone(),
                "the legacy ref is gone; run `tfmono plan` again".into(),
            );
            continue;
        };
        let legacy_target = legacy_ref.target().try_id().map(|i| i.to_owned());
        let Ok(legacy_commit) = legacy_ref.peel_to_id().map(|i| i.detach()) else {
            continue;
        };
        let Ok(mut mono_ref) = ctx.mono.find_reference(r.to.as_str()) else {
            ctx.mismatch(
                Class::Ref,
                name,
                r.from.clone(),
                format!("{} is missing in the monorepo", r.to),
            );
            continue;
        };
        let mono_target = mono_ref.target().try_id().map(|i| i.to_owned());
        let mono_commit = mono_ref.peel_to_id().ok().map(|i| i.detach());
        let image = ctx.map.get(name, &legacy_commit);
        let points_at_image = mono_commit.is_some() && mono_commit == image;
        let rewrite_of_image = match (mono_commit, image, r.to.starts_with("refs/tags/")) {
            (Some(c), Some(img), true) => ctx.is_source_rewrite_of(c, img),
            _ => false,
        };
        if !points_at_image && !rewrite_of_image {
            ctx.mismatch(
                Class::Ref,
                name,
                r.from.clone(),
                format!("{} does not point at the image of {legacy_commit}", r.to),
            );
            continue;
        }
        if r.annotated {
            let legacy_tag = legacy_target.and_then(|t| history::read(name, &legacy, t).ok());
            let mono_tag = mono_target.and_then(|t| ctx.read_mono(t));
            let same = match (legacy_tag, mono_tag) {
                (Some((Kind::Tag, a)), Some((Kind::Tag, b))) => {
                    tag_metadata(&a) == tag_metadata(&b)
                }
                _ => false,
            };
            if !same {
                ctx.mismatch(
                    Class::Ref,
                    name,
                    r.from.clone(),
                    format!(
                        "{} is not an annotated tag with the legacy tagger and message",
                        r.to
                    ),
                );
            }
        }
    }
    Ok(n)
}

/// Reads every object reachable from every monorepo ref; each object that is missing (or
/// unreadable) is a mismatch naming the ref and the object that points at it. Returns how
/// many objects were found.
fn connectivity(ctx: &mut Ctx<'_>, should_interrupt: &AtomicBool) -> Result<usize, Error> {
    let mut refs: Vec<(String, ObjectId)> = Vec::new();
    let platform = ctx.mono.references().map_err(|e| history::Error::Open {
        repo: ctx.monorepo.to_string(),
        path: ctx.mono.git_dir().to_owned(),
        message: e.to_string(),
    })?;
    let all = platform.all().map_err(|e| history::Error::Open {
        repo: ctx.monorepo.to_string(),
        path: ctx.mono.git_dir().to_owned(),
        message: e.to_string(),
    })?;
    for r in all.flatten() {
        if let Some(id) = r.target().try_id() {
            refs.push((r.name().as_bstr().to_string(), id.to_owned()));
        }
    }
    refs.sort();
    let mut seen = gix::hashtable::HashSet::default();
    let mut found = 0usize;
    for (name, tip) in refs {
        // (object, what points at it)
        let mut stack: Vec<(ObjectId, Option<ObjectId>)> = vec![(tip, None)];
        while let Some((id, from)) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            if found % 4096 == 4095 && should_interrupt.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            let Some((kind, data)) = ctx.read_mono(id) else {
                let via = from.map_or_else(|| "the ref itself".to_string(), |f| f.to_string());
                ctx.mismatch(
                    Class::MissingObject,
                    "connectivity",
                    name.clone(),
                    format!(
                        "object {id} (pointed at by {via}) is missing from the monorepo's objects; run `tfmono apply` again"
                    ),
                );
                continue;
            };
            found += 1;
            match kind {
                Kind::Commit => {
                    if let Some(h) = objects::parse_commit(&data) {
                        stack.push((h.tree, Some(id)));
                        stack.extend(h.parents.into_iter().map(|p| (p, Some(id))));
                    }
                }
                Kind::Tree => {
                    for e in objects::parse_tree(&data).unwrap_or_default() {
                        if e.is_tree() {
                            stack.push((e.id, Some(id)));
                        } else if e.mode != b"160000" && seen.insert(e.id) {
                            // Blobs are only looked up, not read.
                            if ctx.mono.has_object(e.id) {
                                found += 1;
                            } else {
                                ctx.mismatch(
                                    Class::MissingObject,
                                    "connectivity",
                                    name.clone(),
                                    format!("blob {} (in tree {id}) is missing from the monorepo's objects; run `tfmono apply` again", e.id),
                                );
                            }
                        }
                    }
                }
                Kind::Tag => {
                    if let Some(target) = tag_target(&data) {
                        stack.push((target, Some(id)));
                    }
                }
                Kind::Blob => {}
            }
        }
    }
    Ok(found)
}

/// The `object` line of an annotated tag.
fn tag_target(data: &[u8]) -> Option<ObjectId> {
    let line = data.split(|&b| b == b'\n').next()?;
    let hex = line.strip_prefix(b"object ")?;
    ObjectId::from_hex(hex).ok()
}

fn tag_metadata(data: &[u8]) -> Vec<u8> {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(data.len(), |p| p + 2);
    let (head, body) = data.split_at(split);
    let mut out: Vec<u8> = head
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"tagger "))
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    out.extend_from_slice(objects::strip_signature(body));
    out
}

/// The commit `main` points at, if any.
fn main_tip(mono: &gix::Repository) -> Option<ObjectId> {
    mono.find_reference(crate::outdir::MAIN_REF)
        .ok()
        .and_then(|mut r| r.peel_to_id().ok().map(|i| i.detach()))
}

/// [`verify_main`], reading only what is new since `last`: when `main` still has the `main`
/// `last` proved as a first-parent ancestor, an import is in it when `last` proved its image
/// there or a merge made since has it as a parent. Anything else: [`verify_main`].
fn verify_main_since(
    ctx: &mut Ctx<'_>,
    m: &MonorepoPlan,
    last: &VerifiedMonorepo,
) -> Result<(usize, BTreeSet<ObjectId>), Error> {
    let old = last
        .main
        .as_deref()
        .and_then(|h| ObjectId::from_hex(h.as_bytes()).ok());
    let (Some(old), Some(mut at)) = (old, main_tip(ctx.mono)) else {
        return verify_main(ctx, m);
    };
    let mut merged: BTreeSet<ObjectId> = BTreeSet::new();
    while at != old {
        let Some(h) = ctx
            .read_mono(at)
            .and_then(|(_, d)| objects::parse_commit(&d))
        else {
            return verify_main(ctx, m);
        };
        let Some((&first, others)) = h.parents.split_first() else {
            return verify_main(ctx, m); // the root: `old` is not below `main`
        };
        merged.extend(others.iter().copied());
        at = first;
    }
    let mut contained = BTreeSet::new();
    for step in &m.imports {
        let Some(default) = step.branches.first() else {
            continue;
        };
        match ctx.map.get(&step.repo, &default.commit) {
            Some(img) if merged.contains(&img) || last.contained.contains(&img.to_string()) => {
                contained.insert(img);
            }
            _ => return verify_main(ctx, m),
        }
    }
    Ok((contained.len(), contained))
}

/// Checks that `main` contains the image of every import's default branch tip; returns how
/// many it found, and their images.
fn verify_main(ctx: &mut Ctx<'_>, m: &MonorepoPlan) -> Result<(usize, BTreeSet<ObjectId>), Error> {
    let main_ref = crate::outdir::MAIN_REF;
    let main = main_tip(ctx.mono);
    let mut reachable: HashMap<ObjectId, ()> = HashMap::new();
    let mut stack: Vec<ObjectId> = main.into_iter().collect();
    while let Some(id) = stack.pop() {
        if reachable.insert(id, ()).is_some() {
            continue;
        }
        if let Some((_, data)) = ctx.read_mono(id) {
            if let Some(h) = objects::parse_commit(&data) {
                stack.extend(h.parents);
            }
        }
    }
    let mut found = 0;
    let mut contained = BTreeSet::new();
    for step in &m.imports {
        let Some(default) = step.branches.first() else {
            continue;
        };
        let legacy_tip = default.commit;
        match ctx.map.get(&step.repo, &legacy_tip) {
            Some(img) if reachable.contains_key(&img) => {
                found += 1;
                contained.insert(img);
            }
            _ => ctx.mismatch(
                Class::Main,
                &step.repo,
                default.from.clone(),
                format!("{main_ref} does not contain the import of {} at {legacy_tip}; run `tfmono apply` again", step.repo),
            ),
        }
    }
    Ok((found, contained))
}

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

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gix::objs::Kind;
use gix::ObjectId;
use serde::Serialize;

mod metadata;
mod scripts;
pub mod terraform;

use crate::history::{self, CommitMap};
use crate::objects;
use crate::plan::{ImportStep, MonorepoPlan, Plan};
use crate::progress::Progress;

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
/// object reachable from every monorepo ref is in the monorepo's object store.
pub fn run(plan: &Plan, out: &Path, full: bool, ctx: &Context<'_>) -> Result<Report, Error> {
    let mut report = Report {
        mismatches: scripts::check(out)?,
        ..Report::default()
    };
    for m in &plan.monorepos {
        verify_monorepo(m, plan, out, full, ctx, &mut report)?;
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

fn verify_monorepo(
    m: &MonorepoPlan,
    plan: &Plan,
    out: &Path,
    full: bool,
    run: &Context<'_>,
    report: &mut Report,
) -> Result<(), Error> {
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
    for step in &m.imports {
        checked.commits += verify_commits(&mut ctx, step, should_interrupt, task.as_ref())?;
        checked.refs += verify_refs(&mut ctx, step)?;
    }
    checked.imports = verify_main(&mut ctx, m)?;
    if full {
        checked.objects = connectivity(&mut ctx, should_interrupt)?;
    }
    ctx.report.checked.push(checked);
    Ok(())
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

fn verify_commits(
    ctx: &mut Ctx<'_>,
    step: &ImportStep,
    should_interrupt: &AtomicBool,
    task: &dyn crate::progress::Task,
) -> Result<usize, Error> {
    let name = step.repo.as_str();
    let legacy = history::open(name, &step.git_dir)?;
    let preloaded = ctx.preload.shared(&step.git_dir);
    let mut stack: Vec<ObjectId> = legacy_tips(step, &legacy)
        .into_iter()
        .map(|t| t.1)
        .collect();
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
    Ok(count)
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

fn verify_main(ctx: &mut Ctx<'_>, m: &MonorepoPlan) -> Result<usize, Error> {
    let main_ref = crate::outdir::MAIN_REF;
    let main = ctx
        .mono
        .find_reference(main_ref)
        .ok()
        .and_then(|mut r| r.peel_to_id().ok().map(|i| i.detach()));
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
    for step in &m.imports {
        let Some(default) = step.branches.first() else {
            continue;
        };
        let legacy_tip = default.commit;
        match ctx.map.get(&step.repo, &legacy_tip) {
            Some(img) if reachable.contains_key(&img) => found += 1,
            _ => ctx.mismatch(
                Class::Main,
                &step.repo,
                default.from.clone(),
                format!("{main_ref} does not contain the import of {} at {legacy_tip}; run `tfmono apply` again", step.repo),
            ),
        }
    }
    Ok(found)
}

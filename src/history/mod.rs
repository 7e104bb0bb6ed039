//! History rewriting: every legacy commit gets an image whose tree holds the legacy tree under
//! the repo's path; parents are mapped, every other byte of the commit is kept.
//!
//! Images are computed in memory ([`rewrite`]), deterministically (the same legacy commit and
//! path always give the same image id), and written in bulk by [`pack::write`]. Unchanged
//! legacy trees and blobs are reused as they are: only one small wrapper tree per path
//! component and the commit itself are new per legacy commit.

pub mod commit_map;
pub mod pack;
pub mod preload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gix::hashtable::{HashMap, HashSet};
use gix::objs::Kind;
use gix::ObjectId;

pub use crate::objects::Object;
pub use commit_map::CommitMap;

use crate::objects;
use crate::progress::Task;

/// What can go wrong while reading legacy history or writing images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A legacy repo cannot be opened.
    #[error("legacy repo {repo} at {path}: cannot open it: {message}")]
    Open {
        /// The repo name.
        repo: String,
        /// Its git dir.
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// An object is missing or unreadable.
    #[error("legacy repo {repo}: object {id} is missing or unreadable ({message}); run `git fsck --full` in that repo")]
    Object {
        /// The repo name.
        repo: String,
        /// The object id.
        id: String,
        /// The cause.
        message: String,
    },
    /// A commit, tree or tag does not parse.
    #[error("legacy repo {repo}: {kind} {id} is malformed; run `git fsck --full` in that repo")]
    Malformed {
        /// The repo name.
        repo: String,
        /// The object kind.
        kind: &'static str,
        /// The object id.
        id: String,
    },
    /// A ref in the plan no longer resolves as planned.
    #[error(
        "legacy repo {repo}: {reference} changed since the plan was made; run `tfmono plan` again"
    )]
    Moved {
        /// The repo name.
        repo: String,
        /// The ref name.
        reference: String,
    },
    /// Ctrl-C.
    #[error("interrupted; nothing was half-written: run the same command again to finish")]
    Interrupted,
    /// The commit map file does not parse.
    #[error(transparent)]
    CommitMap(#[from] commit_map::ParseError),
    /// File I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing into the output directory failed: a full disk, a read-only or unwritable
    /// file system. The legacy repos are not at fault: they are only read.
    #[error("cannot write {} ({source}): the output directory's disk is full or not writable; the legacy repos are only read and are not at fault. Free space (or fix permissions) there and re-run the same command: it converges", path.display())]
    Output {
        /// The path in the output directory being written.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing objects or refs failed.
    #[error("{}: {message}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Maps an I/O error while writing `path`, in the output directory, to [`Error::Output`].
pub fn output_io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Output {
        path: path.to_owned(),
        source,
    }
}

/// How every repo is opened: isolated from user and system configuration, and with
/// replacement objects (`refs/replace/*`) disabled, whatever the repo's own config says. The
/// history is imported and verified as stored, the way the pack preload reads it; `git
/// replace` is a local view that neither clones nor the monorepo would carry. (gix does not
/// read `info/grafts` at all.)
pub fn open_options() -> gix::open::Options {
    gix::open::Options::isolated().config_overrides(["core.useReplaceRefs=false"])
}

/// Opens a repo read-only with [`open_options`].
pub fn open(repo: &str, git_dir: &Path) -> Result<gix::Repository, Error> {
    gix::open_opts(git_dir, open_options())
        .map(|mut r| {
            r.object_cache_size_if_unset(16 * 1024 * 1024);
            // A miss must not rescan the object directories: packs are known at open time.
            r.objects.refresh_never();
            r
        })
        .map_err(|e| Error::Open {
            repo: repo.to_string(),
            path: git_dir.to_owned(),
            message: e.to_string(),
        })
}

/// Reads one object's kind and content.
pub fn read(
    repo_name: &str,
    repo: &gix::Repository,
    id: ObjectId,
) -> Result<(Kind, Vec<u8>), Error> {
    let obj = repo.find_object(id).map_err(|e| Error::Object {
        repo: repo_name.to_string(),
        id: id.to_string(),
        message: e.to_string(),
    })?;
    let obj = obj.detach();
    Ok((obj.kind, obj.data))
}

/// One legacy ref and the monorepo ref it becomes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefImport {
    /// The full legacy ref name (`refs/heads/master`, `refs/tags/v1.0.0`).
    pub from: String,
    /// The full monorepo ref name (`refs/heads/import/alb/master`, `refs/tags/alb/v1.0.0`).
    pub to: String,
    /// The legacy object id the ref points at: a commit, or an annotated tag object.
    #[serde(with = "crate::objects::hex")]
    pub target: ObjectId,
    /// The commit the ref peels to.
    #[serde(with = "crate::objects::hex")]
    pub commit: ObjectId,
    /// Whether the legacy ref is an annotated tag (it becomes a new annotated tag).
    pub annotated: bool,
}

/// One legacy repo's history to image, as [`rewrite`] reads it (the plan's import step of
/// the repo gives it).
#[derive(Debug, Clone, Copy)]
pub struct Import<'a> {
    /// The legacy repo's name.
    pub repo: &'a str,
    /// Its local git directory (only read).
    pub git_dir: &'a Path,
    /// The path of its tree inside the monorepo.
    pub path: &'a str,
    /// Every branch imported, the default one first.
    pub branches: &'a [RefImport],
    /// Every tag imported.
    pub tags: &'a [RefImport],
    /// Commits reachable from the imported refs.
    pub commits: usize,
}

/// The images of one legacy repo's history, ready to be written.
#[derive(Debug, Default)]
pub struct Image {
    /// The legacy repo name.
    pub repo: String,
    /// New `(legacy, image)` commit pairs, parents before children.
    pub commits: Vec<(ObjectId, ObjectId)>,
    /// Commits found in the commit map (not rewritten again).
    pub reused: usize,
    /// New objects: wrapper trees, commits, annotated tags.
    pub objects: Vec<Object>,
    /// Monorepo refs and what they must point at.
    pub refs: Vec<(String, ObjectId)>,
    /// The image of the default branch's tip.
    pub tip: Option<ObjectId>,
    /// The legacy tip of the default branch.
    pub legacy_tip: Option<ObjectId>,
    /// The legacy root tree of the default branch's tip.
    pub tip_tree: Option<ObjectId>,
    /// The committer time of the default branch's tip.
    pub tip_time: i64,
}

/// Computes the images of every commit reachable from `step`'s refs that `known` does not
/// already map, and the refs they get. Reads the legacy repo only (its commits from
/// `preload` when most of its history is new).
pub fn rewrite(
    step: &Import<'_>,
    known: &CommitMap,
    preload: &preload::Store,
    should_interrupt: &AtomicBool,
    task: &dyn Task,
) -> Result<Image, Error> {
    let name = step.repo;
    let repo = open(name, step.git_dir)?;
    let mut tips = Vec::new();
    for r in step.branches.iter().chain(step.tags) {
        tips.push(r.commit);
    }

    // Commits inflated in parallel up front when most of the history is new.
    let preloaded = if known.len_for(name) * 2 < step.commits {
        preload.shared(step.git_dir)
    } else {
        Default::default()
    };
    let known_image = known.images_of(name);
    let mut legacy = Legacy {
        name,
        preloaded: &preloaded,
        read_here: HashMap::default(),
    };
    let order = walk(&repo, &tips, &known_image, &mut legacy, should_interrupt)?;

    let mut image = Image {
        repo: name.to_string(),
        ..Image::default()
    };
    let wrapped = wrap_trees(step, &order, &legacy, &mut image)?;
    let mapped = map_commits(
        &order,
        &legacy,
        &wrapped,
        &known_image,
        &mut image,
        should_interrupt,
        task,
    )?;
    let image_of = |id: &ObjectId| mapped.get(id).copied().or_else(|| known_image(id));
    image.reused = step.commits.saturating_sub(order.len());
    image_refs(step, &repo, &image_of, &mut image)?;
    if let Some(default) = step.branches.first() {
        let legacy = default.commit;
        let (_, data) = read(name, &repo, legacy)?;
        let header = objects::parse_commit(&data).ok_or_else(|| Error::Malformed {
            repo: name.to_string(),
            kind: "commit",
            id: legacy.to_string(),
        })?;
        image.legacy_tip = Some(legacy);
        image.tip = image_of(&legacy);
        image.tip_tree = Some(header.tree);
        image.tip_time = header.committer_time;
    }
    Ok(image)
}

/// The legacy commits of one rewrite: preloaded, or read one by one by [`walk`].
struct Legacy<'a> {
    /// The legacy repo's name.
    name: &'a str,
    /// Commits inflated ahead (empty for an incremental run).
    preloaded: &'a preload::Commits,
    /// Commits not preloaded (loose, deltified, or an incremental run), read one by one.
    read_here: HashMap<ObjectId, (Vec<u8>, objects::CommitHeader)>,
}

impl Legacy<'_> {
    fn malformed(&self, id: &ObjectId) -> Error {
        Error::Malformed {
            repo: self.name.to_string(),
            kind: "commit",
            id: id.to_string(),
        }
    }

    /// A commit [`walk`] visited, from one map or the other.
    fn raw(&self, id: &ObjectId) -> Result<(&[u8], &objects::CommitHeader), Error> {
        match self.preloaded.get(id) {
            Some(c) => Ok((
                &c.data,
                c.header.as_ref().ok_or_else(|| self.malformed(id))?,
            )),
            None => self
                .read_here
                .get(id)
                .map(|(d, h)| (d.as_slice(), h))
                .ok_or_else(|| self.malformed(id)),
        }
    }
}

/// The commits reachable from `tips` that have no image yet, depth-first post-order:
/// parents before children; stops at commits already mapped. Reads those not preloaded
/// into `legacy`.
fn walk(
    repo: &gix::Repository,
    tips: &[ObjectId],
    known_image: &impl Fn(&ObjectId) -> Option<ObjectId>,
    legacy: &mut Legacy<'_>,
    should_interrupt: &AtomicBool,
) -> Result<Vec<ObjectId>, Error> {
    let name = legacy.name;
    let preloaded = legacy.preloaded;
    let mut order: Vec<ObjectId> = Vec::with_capacity(preloaded.len());
    let mut seen: HashSet<ObjectId> = HashSet::default();
    seen.reserve(preloaded.len());
    let mut stack: Vec<(ObjectId, bool)> = tips.iter().rev().map(|t| (*t, false)).collect();
    while let Some((id, expanded)) = stack.pop() {
        if expanded {
            order.push(id);
            continue;
        }
        if known_image(&id).is_some() || !seen.insert(id) {
            continue;
        }
        if order.len().is_multiple_of(4096) && should_interrupt.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        stack.push((id, true));
        let header = match preloaded.get(&id) {
            Some(c) => c.header.as_ref().ok_or_else(|| legacy.malformed(&id))?,
            None => {
                let (kind, data) = read(name, repo, id)?;
                if kind != Kind::Commit {
                    return Err(legacy.malformed(&id));
                }
                let header = objects::parse_commit(&data).ok_or_else(|| legacy.malformed(&id))?;
                &legacy.read_here.entry(id).or_insert((data, header)).1
            }
        };
        for p in header.parents.iter().rev() {
            if !seen.contains(p) && known_image(p).is_none() {
                stack.push((*p, false));
            }
        }
    }
    Ok(order)
}

/// Builds the wrapper trees of every legacy tree of `order` (they depend only on the legacy
/// tree: in parallel, in walk order) into `image`; returns legacy tree -> wrapper root.
fn wrap_trees(
    step: &Import<'_>,
    order: &[ObjectId],
    legacy: &Legacy<'_>,
    image: &mut Image,
) -> Result<HashMap<ObjectId, ObjectId>, Error> {
    let mut distinct: Vec<ObjectId> = Vec::new();
    {
        let mut seen_trees = HashSet::default();
        for id in order {
            let t = legacy.raw(id)?.1.tree;
            if seen_trees.insert(t) {
                distinct.push(t);
            }
        }
    }
    let wraps: Vec<(ObjectId, ObjectId, Vec<Object>)> = {
        use rayon::prelude::*;
        distinct
            .par_iter()
            .map(|t| {
                let (root, trees) = objects::wrap_tree(*t, step.path);
                (*t, root, trees)
            })
            .collect()
    };
    let mut wrapped: HashMap<ObjectId, ObjectId> = HashMap::default();
    wrapped.reserve(wraps.len());
    image
        .objects
        .reserve(wraps.iter().map(|w| w.2.len()).sum::<usize>() + order.len() + step.tags.len());
    image.commits.reserve(order.len());
    for (t, root, trees) in wraps {
        wrapped.insert(t, root);
        image.objects.extend(trees);
    }
    Ok(wrapped)
}

/// Writes the image of every commit of `order` into `image` (its wrapper tree, its
/// parents' images, every other byte kept); returns legacy commit -> image. The commits'
/// bytes are drafted in parallel (all but their parents); setting the parents and hashing
/// follow the order (a parent's image is known before its children's).
fn map_commits(
    order: &[ObjectId],
    legacy: &Legacy<'_>,
    wrapped: &HashMap<ObjectId, ObjectId>,
    known_image: &impl Fn(&ObjectId) -> Option<ObjectId>,
    image: &mut Image,
    should_interrupt: &AtomicBool,
    task: &dyn Task,
) -> Result<HashMap<ObjectId, ObjectId>, Error> {
    use rayon::prelude::*;
    let name = legacy.name;
    let drafts: Vec<(objects::CommitDraft, &objects::CommitHeader)> = order
        .par_iter()
        .map(|id| {
            let (data, header) = legacy.raw(id)?;
            let tree = wrapped
                .get(&header.tree)
                .copied()
                .ok_or_else(|| Error::Malformed {
                    repo: name.to_string(),
                    kind: "tree",
                    id: header.tree.to_string(),
                })?;
            Ok((
                objects::CommitDraft::new(data, tree, header.parents.len()),
                header,
            ))
        })
        .collect::<Result<_, Error>>()?;
    let mut mapped: HashMap<ObjectId, ObjectId> = HashMap::default();
    mapped.reserve(order.len());
    for (i, (id, (mut draft, header))) in order.iter().zip(drafts).enumerate() {
        if i % 4096 == 0 && should_interrupt.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        for (k, p) in header.parents.iter().enumerate() {
            let img = mapped
                .get(p)
                .copied()
                .or_else(|| known_image(p))
                .ok_or_else(|| Error::Object {
                    repo: name.to_string(),
                    id: p.to_string(),
                    message: "parent commit was not visited".into(),
                })?;
            draft.set_parent(k, &img);
        }
        let obj = Object::new(Kind::Commit, draft.data);
        mapped.insert(*id, obj.id);
        image.commits.push((*id, obj.id));
        image.objects.push(obj);
        if i % 1024 == 1023 {
            task.inc(1024);
        }
    }
    task.inc((order.len() % 1024) as u64);
    Ok(mapped)
}

/// The ref of every branch and tag of `step` in `image`: its commit's image, or for an
/// annotated tag a new tag object pointing at it.
fn image_refs(
    step: &Import<'_>,
    repo: &gix::Repository,
    image_of: &impl Fn(&ObjectId) -> Option<ObjectId>,
    image: &mut Image,
) -> Result<(), Error> {
    let name = step.repo;
    for r in step.branches.iter().chain(step.tags) {
        let commit = r.commit;
        let new = image_of(&commit).ok_or_else(|| Error::Moved {
            repo: name.to_string(),
            reference: r.from.clone(),
        })?;
        if r.annotated {
            let target = r.target;
            let (kind, data) = read(name, repo, target)?;
            if kind != Kind::Tag {
                return Err(Error::Moved {
                    repo: name.to_string(),
                    reference: r.from.clone(),
                });
            }
            let tag_name = r.to.strip_prefix("refs/tags/").unwrap_or(&r.to);
            let obj = Object::new(Kind::Tag, objects::edit_tag(&data, new, tag_name));
            image.refs.push((r.to.clone(), obj.id));
            image.objects.push(obj);
        } else {
            image.refs.push((r.to.clone(), new));
        }
    }
    Ok(())
}

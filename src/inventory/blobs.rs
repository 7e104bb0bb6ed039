//! The Terraform files of a commit as (path, blob id) pairs, listed without reading blobs:
//! subtrees are listed once per tree id and reused across commits, so listing hundreds of
//! tags of one module costs little more than listing one.

use std::collections::HashMap;
use std::sync::Arc;

use gix::ObjectId;

/// One file: its path from the repo root and its blob id. Paths are shared: a subtree
/// that did not change from one tag to the next lends the next the same strings.
pub type Entry = (Arc<str>, ObjectId);

/// Lists source files by commit, remembering every subtree it has listed (by tree id and
/// the directory it is at).
pub struct SourceBlobs<'r> {
    repo: &'r Handle,
    trees: HashMap<(ObjectId, Arc<str>), Arc<Vec<Entry>>>,
    is_source: fn(&str) -> bool,
}

impl<'r> SourceBlobs<'r> {
    /// A lister over `repo` keeping files whose name `is_source` accepts.
    pub fn new(repo: &'r Handle, is_source: fn(&str) -> bool) -> Self {
        SourceBlobs {
            repo,
            trees: HashMap::new(),
            is_source,
        }
    }

    /// The source files of commit `commit`, sorted by path. `.terraform` directories (the
    /// local cache of `terraform init`) are left out.
    pub fn of_commit(&mut self, commit: ObjectId) -> Result<Arc<Vec<Entry>>, gix::Error> {
        let tree = self.repo.with_object(commit, |data| {
            gix::objs::CommitRefIter::from_bytes(data, gix::hash::Kind::Sha1)
                .tree_id()
                .ok()
        })?;
        match tree {
            Some(tree) => self.of_tree(tree, Arc::from(""), 0),
            None => Ok(Arc::default()),
        }
    }

    /// The source files of `tree`, which is at directory `dir` (`""`: the root).
    fn of_tree(
        &mut self,
        tree: ObjectId,
        dir: Arc<str>,
        depth: usize,
    ) -> Result<Arc<Vec<Entry>>, gix::Error> {
        let key = (tree, dir);
        if let Some(found) = self.trees.get(&key) {
            return Ok(found.clone());
        }
        let (tree, dir) = key;
        let path = |name: &str| -> Arc<str> {
            match dir.is_empty() {
                true => Arc::from(name),
                false => Arc::from([&*dir, "/", name].concat()),
            }
        };
        let is_source = self.is_source;
        let (subtrees, mut files) = self.repo.with_object(tree, |data| {
            let mut subtrees = Vec::new();
            let mut files = Vec::new();
            for entry in gix::objs::TreeRefIter::from_bytes(data, gix::hash::Kind::Sha1).flatten() {
                // A name that is not UTF-8 is never rewritten (the inventory reports it at
                // the tip): a lossy copy would add a second file next to the original.
                let Ok(name) = std::str::from_utf8(entry.filename) else {
                    continue;
                };
                if entry.mode.is_tree() {
                    if name != ".terraform" && depth < 64 {
                        subtrees.push((path(name), entry.oid.to_owned()));
                    }
                } else if entry.mode.is_blob() && is_source(name) {
                    files.push((path(name), entry.oid.to_owned()));
                }
            }
            (subtrees, files)
        })?;
        for (sub, id) in subtrees {
            files.extend(self.of_tree(id, sub, depth + 1)?.iter().cloned());
        }
        files.sort();
        let files = Arc::new(files);
        self.trees.insert((tree, dir), files.clone());
        Ok(files)
    }
}

/// Read access to one legacy repo's objects for the stages after the inventory (the plan
/// reads the files of every tagged commit through it, lazily: holding every version of
/// every file of an org at once would not fit in memory). Opens the repo read-only.
pub struct Reader {
    shared: gix::ThreadSafeRepository,
    /// Its packs, read directly (see [`crate::objects::packs`]).
    packs: Arc<crate::objects::packs::Packs>,
}

impl Reader {
    /// Opens the legacy repo `repo` at `git_dir`.
    pub fn open(repo: &str, git_dir: &std::path::Path) -> Result<Reader, crate::history::Error> {
        let shared = crate::history::open(repo, git_dir)?.into_sync();
        let packs = Arc::new(crate::objects::packs::Packs::open(shared.objects_dir()));
        Ok(Reader { shared, packs })
    }

    /// Where object `id` is in this repo's packs (pack, offset): objects read in that order
    /// decode their delta chains about once.
    pub fn position(&self, id: &ObjectId) -> Option<(usize, u64)> {
        self.packs.position(id)
    }

    /// The delta bases among the chains of the objects at `positions` (see
    /// [`crate::objects::packs::Packs::bases`]).
    pub fn bases(
        &self,
        positions: impl Iterator<Item = (usize, u64)>,
    ) -> std::collections::HashSet<(usize, u64)> {
        self.packs.bases(positions)
    }

    /// A handle for the calling thread.
    pub fn handle(&self) -> Handle {
        let mut repo = self.shared.to_thread_local();
        // No object cache: each blob is read once (the scan keys them by id) and the lister
        // keeps the trees it listed; copying every object into a cache only costs.
        repo.object_cache_size(None);
        repo.objects.refresh_never();
        Handle {
            repo,
            packs: std::cell::RefCell::new(crate::objects::packs::Reader::new(self.packs.clone())),
        }
    }
}

/// One thread's handle on a [`Reader`]'s repo.
pub struct Handle {
    repo: gix::Repository,
    /// Objects in packs are read here first; the repo reads the others (and reports errors).
    packs: std::cell::RefCell<crate::objects::packs::Reader>,
}

impl Handle {
    /// A lister of this repo's source files (`is_source` picks the file names).
    pub fn lister(&self, is_source: fn(&str) -> bool) -> SourceBlobs<'_> {
        SourceBlobs::new(self, is_source)
    }

    /// Keeps only the objects at `bases` in this handle's cache (see
    /// [`crate::objects::packs::Reader::keep_only`]).
    pub fn keep_only(&self, bases: Arc<std::collections::HashSet<(usize, u64)>>) {
        self.packs.borrow_mut().keep_only(bases);
    }

    /// Calls `f` with the data of object `id`.
    pub fn with_object<R>(
        &self,
        id: ObjectId,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, gix::Error> {
        let found = self.packs.borrow_mut().find(&id);
        match found {
            Some((_, data)) => Ok(f(&data)),
            None => Ok(f(&self.repo.find_object(id)?.data)),
        }
    }

    /// Calls `f` with the text of blob `id` (`None` when it is not UTF-8).
    pub fn with_text<R>(
        &self,
        id: ObjectId,
        f: impl FnOnce(Option<&str>) -> R,
    ) -> Result<R, gix::Error> {
        self.with_object(id, |data| f(std::str::from_utf8(data).ok()))
    }
}

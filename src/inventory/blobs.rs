//! The Terraform files of a commit as (path, blob id) pairs, listed without reading blobs:
//! subtrees are listed once per tree id and reused across commits, so listing hundreds of
//! tags of one module costs little more than listing one.

use std::collections::HashMap;
use std::sync::Arc;

use gix::ObjectId;

/// One file: its path from the repo root and its blob id.
pub type Entry = (String, ObjectId);

/// Lists source files by commit, remembering every subtree it has listed.
pub struct SourceBlobs<'r> {
    repo: &'r gix::Repository,
    trees: HashMap<ObjectId, Arc<Vec<Entry>>>,
    is_source: fn(&str) -> bool,
}

impl<'r> SourceBlobs<'r> {
    /// A lister over `repo` keeping files whose name `is_source` accepts.
    pub fn new(repo: &'r gix::Repository, is_source: fn(&str) -> bool) -> Self {
        SourceBlobs {
            repo,
            trees: HashMap::new(),
            is_source,
        }
    }

    /// The source files of commit `commit`, sorted by path. `.terraform` directories (the
    /// local cache of `terraform init`) are left out.
    pub fn of_commit(&mut self, commit: ObjectId) -> Result<Arc<Vec<Entry>>, gix::Error> {
        let data = self.repo.find_object(commit)?;
        let tree = match gix::objs::CommitRefIter::from_bytes(&data.data, self.repo.object_hash())
            .tree_id()
        {
            Ok(t) => t,
            Err(_) => return Ok(Arc::default()),
        };
        drop(data);
        self.of_tree(tree, 0)
    }

    fn of_tree(&mut self, tree: ObjectId, depth: usize) -> Result<Arc<Vec<Entry>>, gix::Error> {
        if let Some(found) = self.trees.get(&tree) {
            return Ok(found.clone());
        }
        let obj = self.repo.find_object(tree)?;
        let mut subtrees = Vec::new();
        let mut files = Vec::new();
        for entry in
            gix::objs::TreeRefIter::from_bytes(&obj.data, self.repo.object_hash()).flatten()
        {
            // A name that is not UTF-8 is never rewritten (the inventory reports it at the
            // tip): a lossy copy would add a second file next to the original.
            let Ok(name) = std::str::from_utf8(entry.filename).map(str::to_string) else {
                continue;
            };
            if entry.mode.is_tree() {
                if name != ".terraform" && depth < 64 {
                    subtrees.push((name, entry.oid.to_owned()));
                }
            } else if entry.mode.is_blob() && (self.is_source)(&name) {
                files.push((name, entry.oid.to_owned()));
            }
        }
        drop(obj);
        for (name, id) in subtrees {
            for (path, blob) in self.of_tree(id, depth + 1)?.iter() {
                files.push((format!("{name}/{path}"), *blob));
            }
        }
        files.sort();
        let files = Arc::new(files);
        self.trees.insert(tree, files.clone());
        Ok(files)
    }
}

/// Read access to one legacy repo's objects for the stages after the inventory (the plan
/// reads the files of every tagged commit through it, lazily: holding every version of
/// every file of an org at once would not fit in memory). Opens the repo read-only.
pub struct Reader {
    shared: gix::ThreadSafeRepository,
}

impl Reader {
    /// Opens the legacy repo `repo` at `git_dir`.
    pub fn open(repo: &str, git_dir: &std::path::Path) -> Result<Reader, crate::history::Error> {
        Ok(Reader {
            shared: crate::history::open(repo, git_dir)?.into_sync(),
        })
    }

    /// A handle for the calling thread.
    pub fn handle(&self) -> Handle {
        let mut repo = self.shared.to_thread_local();
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        repo.objects.refresh_never();
        Handle { repo }
    }
}

/// One thread's handle on a [`Reader`]'s repo.
pub struct Handle {
    repo: gix::Repository,
}

impl Handle {
    /// A lister of this repo's source files (`is_source` picks the file names).
    pub fn lister(&self, is_source: fn(&str) -> bool) -> SourceBlobs<'_> {
        SourceBlobs::new(&self.repo, is_source)
    }

    /// Calls `f` with the text of blob `id` (`None` when it is not UTF-8).
    pub fn with_text<R>(
        &self,
        id: ObjectId,
        f: impl FnOnce(Option<&str>) -> R,
    ) -> Result<R, gix::Error> {
        let obj = self.repo.find_object(id)?;
        Ok(f(std::str::from_utf8(&obj.data).ok()))
    }
}

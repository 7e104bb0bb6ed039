//! Parallel decompression of the commits a legacy repo stores whole in its packs.
//!
//! Walking a history reads one commit at a time (each parent is known only after its child
//! is decoded), and zlib inflation dominates that walk. Packs list every object up front, so
//! the commits can be inflated in parallel first and the walk then runs from memory. Commits
//! stored as deltas (rare) and loose commits are left to the walk's normal reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::hashtable::HashMap as IdMap;
use std::sync::{Arc, Mutex};

use gix::odb::pack;
use gix::ObjectId;
use rayon::prelude::*;

/// A commit read ahead: its raw bytes and, parsed in the same parallel pass, its headers
/// (`None` when they do not parse; the walk reports that commit as malformed).
#[derive(Debug)]
pub struct Commit {
    /// The raw commit.
    pub data: Vec<u8>,
    /// Its tree, parents and committer time.
    pub header: Option<crate::objects::CommitHeader>,
}

/// Preloaded commits by id.
pub type Commits = IdMap<ObjectId, Commit>;

/// Every non-delta commit in the packs of `git_dir` (errors just leave commits out).
pub fn commits(git_dir: &Path) -> Commits {
    let mut out = IdMap::default();
    for idx_path in crate::objects::packs::pack_indexes(&git_dir.join("objects")) {
        let Ok(index) = pack::index::File::at(&idx_path, gix::hash::Kind::Sha1) else {
            continue;
        };
        let Ok(data) = pack::data::File::at(idx_path.with_extension("pack"), gix::hash::Kind::Sha1)
        else {
            continue;
        };
        // In pack order: git writes commits together, and the pack is read front to back.
        let order = PackOrder::of(&idx_path, &index);
        let wanted = commit_entries(&data, &order);
        let found: Vec<Vec<(ObjectId, Commit)>> = wanted
            .par_chunks(1024)
            .map_init(libdeflater::Decompressor::new, |inflate, chunk| {
                chunk
                    .iter()
                    .filter_map(|&(oid, data_offset, size)| {
                        // libdeflate stops at the end of the zlib stream: the rest of the
                        // pack after it is not read.
                        let zlib = data.entry_slice(data_offset..data.pack_end() as u64)?;
                        let mut buf = vec![0u8; size];
                        let n = inflate.zlib_decompress(zlib, &mut buf).ok()?;
                        (n == buf.len()).then_some(())?;
                        let header = crate::objects::parse_commit(&buf);
                        Some((oid, Commit { data: buf, header }))
                    })
                    .collect()
            })
            .collect();
        out.reserve(found.iter().map(Vec::len).sum());
        out.extend(found.into_iter().flatten());
    }
    out
}

/// The entries of a pack index in pack order: from the pack's reverse index (`.rev`, which
/// git writes beside its packs since 2.41) when there is a valid one, else sorted here
/// (300,000 entries: about 30 ms).
struct PackOrder<'a> {
    index: &'a pack::index::File,
    /// Index positions in pack order.
    order: Vec<u32>,
}

impl<'a> PackOrder<'a> {
    fn of(idx_path: &Path, index: &'a pack::index::File) -> PackOrder<'a> {
        let order = reverse_index(&idx_path.with_extension("rev"), index).unwrap_or_else(|| {
            let mut by_offset: Vec<(u64, u32)> = (0..index.num_objects())
                .map(|i| (index.pack_offset_at_index(i), i))
                .collect();
            by_offset.sort_unstable();
            by_offset.into_iter().map(|(_, i)| i).collect()
        });
        PackOrder { index, order }
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    /// The pack offset of the `k`th entry in pack order.
    fn offset(&self, k: usize) -> u64 {
        self.index.pack_offset_at_index(self.order[k])
    }

    /// The id of the `k`th entry in pack order.
    fn id(&self, k: usize) -> ObjectId {
        self.index.oid_at_index(self.order[k]).to_owned()
    }
}

/// The index positions in pack order that the reverse index at `path` holds, if it is one
/// (version 1, SHA-1) for `index`'s pack: every position once, the pack checksum matching.
/// Anything else (missing, truncated, stale) is `None`: then the order is computed.
fn reverse_index(path: &Path, index: &pack::index::File) -> Option<Vec<u32>> {
    let bytes = std::fs::read(path).ok()?;
    let n = index.num_objects() as usize;
    let (head, rest) = bytes.split_at_checked(12)?;
    if head[..4] != *b"RIDX" || head[4..8] != 1u32.to_be_bytes() || head[8..] != 1u32.to_be_bytes()
    {
        return None;
    }
    if rest.len() != n * 4 + 40 || rest[n * 4..n * 4 + 20] != *index.pack_checksum().as_bytes() {
        return None;
    }
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for p in rest[..n * 4].chunks_exact(4) {
        let p = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        let slot = seen.get_mut(p as usize)?;
        if std::mem::replace(slot, true) {
            return None;
        }
        order.push(p);
    }
    Some(order)
}

/// Base trees and blobs in a row, with no commit among them, after which the rest of a
/// pack is only sampled for commits (see [`commit_entries`]).
const GAP: usize = 4096;

/// How far apart (in bytes) the samples of the rest of a pack are after a [`GAP`]: reading a
/// header faults in the pages around it (the kernel maps up to 64 KiB at once).
const STRIDE: u64 = 1 << 20;

/// The commits stored whole in the pack whose entries `order` lists in pack order, as `(id,
/// data offset, size)`, read from their entry headers only.
///
/// git (and JGit) write every commit of a pack before its trees and blobs, so once a long
/// run of trees and blobs follows the last commit, the rest of the pack is only sampled:
/// reading an entry header pages in the pack around it, and the trees and blobs are most of
/// a pack's bytes. If a sample is a commit (a pack written in another order, by
/// `git fast-import` say), the rest is read in full. A commit missed by the samples is not
/// lost: the walk reads it on its own.
fn commit_entries(data: &pack::data::File, order: &PackOrder<'_>) -> Vec<(ObjectId, u64, usize)> {
    use pack::data::entry::Header;
    let mut out = Vec::new();
    let mut gap = 0usize;
    let mut sampled = false;
    let mut i = 0;
    while i < order.len() {
        let offset = order.offset(i);
        i += 1;
        let Ok(entry) = data.entry(offset) else {
            continue;
        };
        match entry.header {
            Header::Commit => {
                gap = 0;
                if let Ok(size) = usize::try_from(entry.decompressed_size) {
                    out.push((order.id(i - 1), entry.data_offset, size));
                }
            }
            Header::Tree | Header::Blob => gap += 1,
            _ => {}
        }
        if gap >= GAP && !sampled {
            sampled = true;
            let mut next = offset + STRIDE;
            let commit_later = (i..order.len()).map(|k| order.offset(k)).any(|at| {
                if at < next {
                    return false;
                }
                next = at + STRIDE;
                data.entry(at)
                    .is_ok_and(|e| matches!(e.header, Header::Commit))
            });
            if !commit_later {
                break;
            }
        }
    }
    out
}

/// How many commits a [`Store`] keeps by default (about 1 KB each): enough for a large
/// repo or many small ones, and memory that does not grow with the org.
pub const BUDGET: usize = 200_000;

/// Inflated commits per git dir, shared by the stages that follow each other in one run
/// (the inventory scan counts commits, the import and verify walk them): commits are
/// immutable, so a cached id is never stale. The caller creates one store per run and
/// passes it to each stage; a stage that is done with a repo [`release`](Store::release)s
/// it, and dropping the store frees the rest. The store keeps at most its budget of
/// commits: a repo loaded beyond it is handed out without being kept (a later stage
/// inflates it again), so an org of any size is held in bounded memory.
pub struct Store {
    repos: Mutex<Held>,
    budget: usize,
}

#[derive(Default)]
struct Held {
    repos: HashMap<PathBuf, Arc<Commits>>,
    commits: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store::with_budget(BUDGET)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.repos.lock().map(|r| r.repos.len()).unwrap_or(0);
        f.debug_struct("Store")
            .field("repos", &held)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Store {
    /// A store that keeps at most `budget` commits.
    pub fn with_budget(budget: usize) -> Store {
        Store {
            repos: Mutex::default(),
            budget,
        }
    }

    /// [`commits`] of `git_dir`, inflated once per store and kept until
    /// [`release`](Store::release) while the budget allows.
    pub fn shared(&self, git_dir: &Path) -> Arc<Commits> {
        if let Some(found) = self
            .repos
            .lock()
            .ok()
            .and_then(|c| c.repos.get(git_dir).cloned())
        {
            return found;
        }
        let loaded = Arc::new(commits(git_dir));
        if let Ok(mut c) = self.repos.lock() {
            if c.commits + loaded.len() <= self.budget && !c.repos.contains_key(git_dir) {
                c.commits += loaded.len();
                c.repos.insert(git_dir.to_owned(), Arc::clone(&loaded));
            }
        }
        loaded
    }

    /// Drops the cached commits of `git_dir`.
    pub fn release(&self, git_dir: &Path) {
        if let Ok(mut c) = self.repos.lock() {
            if let Some(gone) = c.repos.remove(git_dir) {
                c.commits -= gone.len();
            }
        }
    }

    /// Whether the commits of `git_dir` are held.
    pub fn holds(&self, git_dir: &Path) -> bool {
        self.repos
            .lock()
            .is_ok_and(|c| c.repos.contains_key(git_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_shares_one_load_until_released() {
        let store = Store::default();
        let dir = Path::new("/nonexistent/repo.git");
        let a = store.shared(dir);
        let b = store.shared(dir);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(store.holds(dir));
        store.release(dir);
        assert!(!store.holds(dir));
        // another store is another cache: nothing is shared through the process
        assert!(!Store::default().holds(dir));
    }

    #[test]
    fn a_store_keeps_no_more_than_its_budget() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo.git");
        let repo = gix::init_bare(&dir).expect("init");
        let mut ids = Vec::new();
        let empty = repo.empty_tree().id;
        for i in 0..3 {
            let commit = gix::objs::Commit {
                tree: empty,
                parents: ids.last().copied().into_iter().collect(),
                author: gix::actor::Signature::default(),
                committer: gix::actor::Signature::default(),
                encoding: None,
                message: format!("c{i}").into(),
                extra_headers: Vec::new(),
            };
            ids.push(repo.write_object(&commit).expect("write").detach());
        }
        // Loose objects are not preloaded: pack them (reachable from a branch).
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .status()
                .is_ok_and(|s| s.success())
        };
        let tip = ids.last().expect("three commits").to_string();
        let ok = git(&["update-ref", "refs/heads/main", &tip]) && git(&["repack", "-adq"]);
        if ok {
            // (git may store one of them as a delta: those are left to the walk)
            let n = commits(&dir).len();
            assert!(n >= 2, "{n}");
            let small = Store::with_budget(n - 1);
            assert_eq!(small.shared(&dir).len(), n, "handed out whole");
            assert!(!small.holds(&dir), "but not kept beyond the budget");
            let big = Store::with_budget(n);
            assert_eq!(big.shared(&dir).len(), n);
            assert!(big.holds(&dir));
            big.release(&dir);
            assert!(!big.holds(&dir));
        }
        assert!(ok, "git repack failed");
    }

    #[test]
    fn the_reverse_index_gives_the_pack_order_and_a_bad_one_is_not_used() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("repo.git");
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(tmp.path())
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "a")
                .env("GIT_AUTHOR_EMAIL", "a@x")
                .env("GIT_COMMITTER_NAME", "a")
                .env("GIT_COMMITTER_EMAIL", "a@x")
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(git(&["init", "-q", "--bare", "repo.git"]));
        let w = tmp.path().join("w");
        assert!(git(&["init", "-q", "w"]));
        for i in 0..40 {
            std::fs::write(w.join(format!("f{}.tf", i % 7)), format!("# {i}\n")).expect("write");
            assert!(git(&["-C", "w", "add", "-A"]));
            assert!(git(&["-C", "w", "commit", "-qm", &format!("c{i}")]));
        }
        assert!(git(&[
            "-C",
            "w",
            "push",
            "-q",
            "../repo.git",
            "HEAD:refs/heads/main"
        ]));
        assert!(git(&[
            "-C",
            "repo.git",
            "-c",
            "pack.writeReverseIndex=true",
            "repack",
            "-adq"
        ]));
        let idx_path = crate::objects::packs::pack_indexes(&dir.join("objects"))
            .pop()
            .expect("one pack");
        let rev_path = idx_path.with_extension("rev");
        assert!(rev_path.is_file(), "git wrote no .rev");
        let index = pack::index::File::at(&idx_path, gix::hash::Kind::Sha1).expect("index");
        let mut sorted: Vec<(u64, u32)> = (0..index.num_objects())
            .map(|i| (index.pack_offset_at_index(i), i))
            .collect();
        sorted.sort_unstable();
        let sorted: Vec<u32> = sorted.into_iter().map(|(_, i)| i).collect();
        let read = reverse_index(&rev_path, &index).expect("a valid .rev");
        assert_eq!(read, sorted);
        let with_rev = commits(&dir);
        assert_eq!(with_rev.len(), 40);

        // A damaged or stale .rev is not used: the order is computed and the commits are the same.
        let good = std::fs::read(&rev_path).expect("read .rev");
        let mut damaged = vec![
            good[..good.len() - 4].to_vec(),                    // truncated
            [&good[..12], &good[16..20], &good[16..]].concat(), // a position twice
        ];
        let mut stale = good.clone();
        stale[12 + sorted.len() * 4] ^= 0xff; // another pack's checksum
        damaged.push(stale);
        let mut foreign = good.clone();
        foreign[13] = 0xff; // a position out of range
        damaged.push(foreign);
        for bad in damaged {
            std::fs::write(&rev_path, &bad).expect("write .rev");
            assert_eq!(reverse_index(&rev_path, &index), None);
            let again = commits(&dir);
            assert_eq!(again.len(), with_rev.len());
            assert!(again.keys().all(|id| with_rev.contains_key(id)));
        }
        std::fs::remove_file(&rev_path).expect("remove .rev");
        assert_eq!(commits(&dir).len(), 40);
        assert_eq!(PackOrder::of(&idx_path, &index).order, sorted);
    }
}

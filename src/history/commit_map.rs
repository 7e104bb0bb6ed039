//! The commit map: legacy commit -> its image, per legacy repo.
//!
//! One directory per monorepo (`<monorepo>.commit-map/`) holding one file per legacy repo
//! (`<repo>.map`, one line per imported commit: `<old> <new> <repo>`, like
//! git-filter-repo's `commit-map`; `cat <monorepo>.commit-map/*.map` gives the whole map)
//! and an `index` (`# repo <count> <name> <path>` per repo, `# notes <commit> <sources>`).
//! It doubles as the cache of incremental runs: a legacy commit already in the map is not
//! rewritten again. A re-sync loads and rewrites only the files of the repos it imports
//! again ([`CommitMap::load_some`], [`CommitMap::files_to_write`]): the map of a large org is
//! never read or written whole for one new commit. The single-file map of earlier versions
//! is still read.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gix::hashtable::HashMap as IdMap;
use gix::ObjectId;

/// The name of the index file in a commit map directory.
pub const INDEX: &str = "index";

/// Legacy commit ids and their images, keyed by legacy repo name (two legacy repos may
/// share commits, e.g. forks of one upstream; each gets its own image). The entries of a
/// repo may be left on disk ([`CommitMap::load_some`]): then only its count is known.
#[derive(Debug, Default, Clone)]
pub struct CommitMap {
    /// Repo names, indexed by the `u32` slot of the vectors below.
    names: Vec<String>,
    index: HashMap<String, u32>,
    maps: Vec<IdMap<ObjectId, ObjectId>>,
    /// Per slot: its legacy commits in insertion order.
    order: Vec<Vec<ObjectId>>,
    /// Per slot: the entries on disk, for a repo whose entries were not loaded.
    on_disk: Vec<Option<usize>>,
    /// Per slot: changed since loaded (its file is written again).
    dirty: Vec<bool>,
    paths: BTreeMap<String, String>,
    notes: Option<NotesRecord>,
    /// The index text as loaded (rewritten only when it changes).
    index_text: String,
}

/// What a commit map file records of the notes written with it (`# notes <commit>
/// <sources>`): the notes commit the run set, and a digest of the `Migrated-from:` source of
/// each of the map's repos. The next run adds only its new entries to those notes when the
/// notes ref still points at that commit and the sources are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesRecord {
    /// The notes commit.
    pub commit: ObjectId,
    /// The digest of the sources (hex).
    pub sources: String,
}

/// A line of a commit map file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: not a commit map line (`<old sha> <new sha> <repo>`, or in its index `# repo <count> <name> <path>`): {text:?}; delete the commit map to rebuild it (the import is deterministic)")]
pub struct ParseError {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The offending line.
    pub text: String,
}

/// The file name of `repo`'s entries in a commit map directory (see
/// [`crate::objects::file_name`]).
pub fn repo_file(repo: &str) -> String {
    format!("{}.map", crate::objects::file_name(repo))
}

/// What [`CommitMap::files_to_write`] asks its caller to do with one file of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    /// The file name inside the map's directory.
    pub name: String,
    /// Its new text; `None`: remove the file.
    pub text: Option<String>,
}

impl CommitMap {
    /// Parses the text of a commit map file (the single file of earlier versions, or one
    /// repo's file): every repo read is marked changed.
    pub fn parse(file: &Path, text: &str) -> Result<CommitMap, ParseError> {
        let mut map = CommitMap::default();
        map.parse_into(file, text)?;
        Ok(map)
    }

    fn parse_into(&mut self, file: &Path, text: &str) -> Result<(), ParseError> {
        for (i, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("# path ") {
                if let Some((repo, path)) = rest.split_once(' ') {
                    self.paths.insert(repo.to_string(), path.to_string());
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("# notes ") {
                self.notes = parse_notes(rest);
                continue;
            }
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || ParseError {
                file: file.display().to_string(),
                line: i + 1,
                text: line.to_string(),
            };
            let mut parts = line.splitn(3, ' ');
            let (Some(old), Some(new), Some(repo)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let old = ObjectId::from_hex(old.as_bytes()).map_err(|_| bad())?;
            let new = ObjectId::from_hex(new.as_bytes()).map_err(|_| bad())?;
            self.insert(repo, old, new);
        }
        Ok(())
    }

    /// Loads the map at `path` whole; a missing map is an empty one.
    pub fn load(path: &Path) -> Result<CommitMap, crate::history::Error> {
        CommitMap::load_some(path, &|_| true)
    }

    /// Loads the map at `path`, the entries of the repos `want` selects only: of the others
    /// it knows the name, path and count (from the index), enough to plan with and to write
    /// the index again. A missing map is an empty one; a single-file map of an earlier
    /// version is loaded whole.
    pub fn load_some(
        path: &Path,
        want: &dyn Fn(&str) -> bool,
    ) -> Result<CommitMap, crate::history::Error> {
        let io = |e: std::io::Error| crate::history::Error::Io {
            path: path.to_owned(),
            source: e,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CommitMap::default()),
            Err(e) => return Err(io(e)),
        };
        if !meta.is_dir() {
            let text = std::fs::read_to_string(path).map_err(io)?;
            return Ok(CommitMap::parse(path, &text)?);
        }
        let index_file = path.join(INDEX);
        let text = match std::fs::read_to_string(&index_file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(crate::history::Error::Io {
                    path: index_file,
                    source: e,
                })
            }
        };
        let mut map = CommitMap::default();
        for (i, line) in text.lines().enumerate() {
            let bad = || ParseError {
                file: index_file.display().to_string(),
                line: i + 1,
                text: line.to_string(),
            };
            if let Some(rest) = line.strip_prefix("# notes ") {
                map.notes = parse_notes(rest);
                continue;
            }
            let Some(rest) = line.strip_prefix("# repo ") else {
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                return Err(bad().into());
            };
            let (count, rest) = rest.split_once(' ').ok_or_else(bad)?;
            let count: usize = count.parse().map_err(|_| bad())?;
            let (name, repo_path) = rest.split_once(' ').unwrap_or((rest, ""));
            if !repo_path.is_empty() {
                map.paths.insert(name.to_string(), repo_path.to_string());
            }
            let slot = map.slot(name);
            if want(name) {
                map.read_repo(path, slot)?;
            } else if count > 0 {
                map.on_disk[slot as usize] = Some(count);
            }
        }
        map.index_text = text;
        Ok(map)
    }

    /// Reads the file of the repo in `slot` from the map directory `dir` (a missing file:
    /// no entries), keeping it unchanged.
    fn read_repo(&mut self, dir: &Path, slot: u32) -> Result<(), crate::history::Error> {
        let file = dir.join(repo_file(&self.names[slot as usize]));
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(crate::history::Error::Io {
                    path: file,
                    source: e,
                })
            }
        };
        let s = slot as usize;
        self.on_disk[s] = None;
        let was_dirty = self.dirty[s];
        self.parse_into(&file, &text)?;
        self.dirty[s] = was_dirty;
        Ok(())
    }

    /// Loads the entries [`CommitMap::load_some`] left on disk, from the map at `path`.
    pub fn load_rest(&mut self, path: &Path) -> Result<(), crate::history::Error> {
        for slot in 0..self.names.len() {
            if self.on_disk[slot].is_some() {
                self.read_repo(path, slot as u32)?;
            }
        }
        Ok(())
    }

    /// Whether every entry is loaded (nothing left on disk by [`CommitMap::load_some`]).
    pub fn is_complete(&self) -> bool {
        self.on_disk.iter().all(Option::is_none)
    }

    fn slot(&mut self, repo: &str) -> u32 {
        if let Some(i) = self.index.get(repo) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(repo.to_string());
        self.maps.push(IdMap::default());
        self.order.push(Vec::new());
        self.on_disk.push(None);
        self.dirty.push(false);
        self.index.insert(repo.to_string(), i);
        i
    }

    fn repo_map(&self, repo: &str) -> Option<&IdMap<ObjectId, ObjectId>> {
        self.index.get(repo).map(|i| &self.maps[*i as usize])
    }

    /// Records `old -> new` for `repo` (first value wins).
    pub fn insert(&mut self, repo: &str, old: ObjectId, new: ObjectId) {
        let i = self.slot(repo);
        self.insert_at(i, old, new);
    }

    fn insert_at(&mut self, i: u32, old: ObjectId, new: ObjectId) {
        let s = i as usize;
        debug_assert!(
            self.on_disk[s].is_none(),
            "entries added to {} whose entries were not loaded",
            self.names[s]
        );
        if let gix::hashtable::hash_map::Entry::Vacant(v) = self.maps[s].entry(old) {
            v.insert(new);
            self.order[s].push(old);
            self.dirty[s] = true;
        }
    }

    /// Records every `(old, new)` pair of `pairs` for `repo` (first value wins).
    pub fn extend(&mut self, repo: &str, pairs: &[(ObjectId, ObjectId)]) {
        let i = self.slot(repo);
        self.maps[i as usize].reserve(pairs.len());
        self.order[i as usize].reserve(pairs.len());
        for (old, new) in pairs {
            self.insert_at(i, *old, *new);
        }
    }

    /// The image of `old` in `repo`'s import.
    pub fn get(&self, repo: &str, old: &ObjectId) -> Option<ObjectId> {
        self.repo_map(repo).and_then(|m| m.get(old)).copied()
    }

    /// A lookup of `repo`'s images, resolving the repo name once.
    pub fn images_of<'a>(&'a self, repo: &str) -> impl Fn(&ObjectId) -> Option<ObjectId> + 'a {
        let m = self.repo_map(repo);
        move |old| m.and_then(|m| m.get(old)).copied()
    }

    /// The image of a legacy commit given by a full or abbreviated (>= 7 hex) sha.
    pub fn find_prefix(&self, repo: &str, prefix: &str) -> Option<ObjectId> {
        let m = self.repo_map(repo)?;
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 7 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut hex = [0u8; 40];
        let mut found = m
            .iter()
            .filter(|(old, _)| old.hex_to_buf(&mut hex).starts_with(prefix.as_str()))
            .map(|(_, new)| *new);
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The path `repo`'s images were made for, if recorded.
    pub fn path(&self, repo: &str) -> Option<&str> {
        self.paths.get(repo).map(String::as_str)
    }

    /// Records the path `repo`'s images are made for.
    pub fn set_path(&mut self, repo: &str, path: &str) {
        if self.path(repo) != Some(path) {
            self.paths.insert(repo.to_string(), path.to_string());
        }
    }

    /// Drops every entry of `repo` (its images were made for another path).
    pub fn forget(&mut self, repo: &str) {
        if let Some(i) = self.index.get(repo).copied() {
            let s = i as usize;
            self.maps[s].clear();
            self.order[s].clear();
            self.on_disk[s] = None;
            self.dirty[s] = true;
        }
        self.paths.remove(repo);
    }

    /// What the file records of the notes written with it.
    pub fn notes(&self) -> Option<&NotesRecord> {
        self.notes.as_ref()
    }

    /// Sets what the file records of the notes written with it.
    pub fn set_notes(&mut self, record: Option<NotesRecord>) {
        self.notes = record;
    }

    /// The repos with at least one entry (loaded or not), in the order they were first seen.
    pub fn repos(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.names.len())
            .filter(|s| self.count(*s) > 0)
            .map(|s| self.names[s].as_str())
    }

    fn count(&self, slot: usize) -> usize {
        self.on_disk[slot].unwrap_or(self.maps[slot].len())
    }

    /// Number of entries for `repo` (loaded or not).
    pub fn len_for(&self, repo: &str) -> usize {
        self.index.get(repo).map_or(0, |i| self.count(*i as usize))
    }

    /// Total number of entries (loaded or not).
    pub fn len(&self) -> usize {
        (0..self.names.len()).map(|s| self.count(s)).sum()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every loaded entry as `(repo, old, new)`, repo by repo, each in insertion order
    /// (see [`CommitMap::is_complete`]).
    pub fn entries(&self) -> impl Iterator<Item = (&str, ObjectId, ObjectId)> + '_ {
        self.order.iter().enumerate().flat_map(move |(s, olds)| {
            let name = self.names[s].as_str();
            olds.iter()
                .filter_map(move |old| Some((name, *old, *self.maps[s].get(old)?)))
        })
    }

    /// The text of one repo's file: `<old> <new> <repo>` lines in insertion order.
    fn repo_text(&self, slot: usize) -> String {
        let name = self.names[slot].as_str();
        let mut out = String::with_capacity(self.order[slot].len() * (82 + name.len() + 1));
        let mut hex = [0u8; 40];
        for old in &self.order[slot] {
            let Some(new) = self.maps[slot].get(old) else {
                continue;
            };
            out.push_str(old.hex_to_buf(&mut hex));
            out.push(' ');
            out.push_str(new.hex_to_buf(&mut hex));
            out.push(' ');
            out.push_str(name);
            out.push('\n');
        }
        out
    }

    /// The index text: `# repo <count> <name> <path>` per repo (sorted by name), then the
    /// notes record.
    fn index_text(&self) -> String {
        use std::fmt::Write;
        let mut names: Vec<&str> = self
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| self.len_for(n) > 0)
            .chain(self.paths.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut out = String::from(
            "# tfmono commit map: one file per legacy repo beside this index, `<old> <new> <repo>` lines\n",
        );
        for name in names {
            let _ = writeln!(
                out,
                "# repo {} {name} {}",
                self.len_for(name),
                self.path(name).unwrap_or("")
            );
        }
        if let Some(n) = &self.notes {
            let _ = writeln!(out, "# notes {} {}", n.commit, n.sources);
        }
        out
    }

    /// The files of the map that changed since it was loaded, the index last (write them in
    /// this order: the index names the repos a later run reads). A repo left without
    /// entries has its file removed.
    pub fn files_to_write(&self) -> Vec<FileWrite> {
        let mut out: Vec<FileWrite> = (0..self.names.len())
            .filter(|s| self.dirty[*s])
            .map(|s| FileWrite {
                name: repo_file(&self.names[s]),
                text: (!self.order[s].is_empty()).then(|| self.repo_text(s)),
            })
            .collect();
        let index = self.index_text();
        if index != self.index_text {
            out.push(FileWrite {
                name: INDEX.to_string(),
                text: Some(index),
            });
        }
        out
    }
}

/// `<commit> <sources>` of a `# notes` line.
fn parse_notes(rest: &str) -> Option<NotesRecord> {
    rest.split_once(' ').and_then(|(commit, sources)| {
        Some(NotesRecord {
            commit: ObjectId::from_hex(commit.as_bytes()).ok()?,
            sources: sources.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    /// Writes what `map` asks for into `dir`, as apply does.
    fn save(map: &CommitMap, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for f in map.files_to_write() {
            match f.text {
                Some(t) => std::fs::write(dir.join(&f.name), t).unwrap(),
                None => std::fs::remove_file(dir.join(&f.name)).unwrap(),
            }
        }
    }

    #[test]
    fn repo_files_are_safe_names() {
        assert_eq!(repo_file("terraform-aws-alb"), "terraform-aws-alb.map");
        assert_eq!(repo_file("a.b_c"), "a.b_c.map");
        assert_eq!(repo_file("org/x y"), "org%2Fx%20y.map");
        assert_eq!(repo_file(".hidden"), "%2Ehidden.map");
        assert_eq!(repo_file("index"), "index.map");
    }

    #[test]
    fn a_partial_load_reads_only_the_wanted_repos_and_writes_only_what_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m.commit-map");
        let mut map = CommitMap::default();
        map.extend("a", &[(id(1), id(2)), (id(3), id(4))]);
        map.extend("b", &[(id(5), id(6))]);
        map.set_path("a", "alb");
        map.set_path("b", "my vpc");
        map.set_notes(Some(NotesRecord {
            commit: id(9),
            sources: "abc".into(),
        }));
        let written = map.files_to_write();
        assert_eq!(
            written.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["a.map", "b.map", INDEX]
        );
        save(&map, &dir);

        let mut some = CommitMap::load_some(&dir, &|r| r == "b").unwrap();
        assert!(!some.is_complete());
        assert_eq!(some.len_for("a"), 2, "the count of a repo left on disk");
        assert_eq!(some.get("a", &id(1)), None, "its entries are not loaded");
        assert_eq!(some.get("b", &id(5)), Some(id(6)));
        assert_eq!(some.len(), 3);
        assert_eq!(some.path("b"), Some("my vpc"));
        assert_eq!(some.repos().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(some.notes().map(|n| n.commit), Some(id(9)));
        assert!(some.files_to_write().is_empty(), "nothing changed");

        some.insert("b", id(7), id(8));
        let written = some.files_to_write();
        assert_eq!(
            written.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["b.map", INDEX],
            "a's file is not written again"
        );
        save(&some, &dir);
        some.load_rest(&dir).unwrap();
        assert!(some.is_complete());
        assert_eq!(some.get("a", &id(3)), Some(id(4)));

        let all = CommitMap::load(&dir).unwrap();
        assert_eq!(all.len(), 4);
        let entries: Vec<_> = all
            .entries()
            .map(|(r, o, n)| (r.to_string(), o, n))
            .collect();
        assert_eq!(
            entries,
            [
                ("a".to_string(), id(1), id(2)),
                ("a".to_string(), id(3), id(4)),
                ("b".to_string(), id(5), id(6)),
                ("b".to_string(), id(7), id(8)),
            ]
        );
    }

    #[test]
    fn a_forgotten_repo_loses_its_file_and_the_old_single_file_map_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m.commit-map");
        let mut map = CommitMap::default();
        map.extend("a", &[(id(1), id(2))]);
        map.set_path("a", "alb");
        save(&map, &dir);
        let mut map = CommitMap::load(&dir).unwrap();
        map.forget("a");
        assert_eq!(
            map.files_to_write()[0],
            FileWrite {
                name: "a.map".into(),
                text: None
            }
        );
        save(&map, &dir);
        assert!(!dir.join("a.map").exists());
        assert!(CommitMap::load(&dir).unwrap().is_empty());

        let file = tmp.path().join("old.commit-map");
        let old = format!(
            "# path a alb\n# notes {} xyz\n{} {} a\n",
            id(9),
            id(1),
            id(2)
        );
        std::fs::write(&file, old).unwrap();
        let map = CommitMap::load_some(&file, &|_| false).unwrap();
        assert!(map.is_complete(), "an old map is read whole");
        assert_eq!(map.get("a", &id(1)), Some(id(2)));
        assert_eq!(map.path("a"), Some("alb"));
        assert_eq!(map.notes().map(|n| n.sources.as_str()), Some("xyz"));
        assert_eq!(
            map.files_to_write().len(),
            2,
            "and written again as a directory"
        );
    }

    #[test]
    fn a_bad_index_line_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m.commit-map");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(INDEX), "# repo x a alb\n").unwrap();
        let e = CommitMap::load(&dir).unwrap_err().to_string();
        assert!(e.contains("index:1") && e.contains("# repo x a alb"), "{e}");
    }
}

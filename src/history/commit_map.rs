//! The commit map: legacy commit -> its image, per legacy repo.
//!
//! One file per monorepo, one line per imported commit: `<old> <new> <repo>`, like
//! git-filter-repo's `commit-map`. It doubles as the cache of incremental runs: a legacy
//! commit already in the map is not rewritten again.

use std::collections::HashMap;
use std::path::Path;

use gix::hashtable::HashMap as IdMap;
use gix::ObjectId;

/// Legacy commit ids and their images, keyed by legacy repo name (two legacy repos may
/// share commits, e.g. forks of one upstream; each gets its own image).
#[derive(Debug, Default, Clone)]
pub struct CommitMap {
    /// Repo names, indexed by the `u32` of `maps` and `order`.
    names: Vec<String>,
    index: HashMap<String, u32>,
    maps: Vec<IdMap<ObjectId, ObjectId>>,
    order: Vec<(u32, ObjectId)>,
    paths: std::collections::BTreeMap<String, String>,
    notes: Option<NotesRecord>,
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
#[error("{file}:{line}: not a commit map line (`<old sha> <new sha> <repo>`): {text:?}; delete the file to rebuild it (the import is deterministic)")]
pub struct ParseError {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The offending line.
    pub text: String,
}

impl CommitMap {
    /// Parses a commit map file's text.
    pub fn parse(file: &Path, text: &str) -> Result<CommitMap, ParseError> {
        let mut map = CommitMap::default();
        for (i, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("# path ") {
                if let Some((repo, path)) = rest.split_once(' ') {
                    map.paths.insert(repo.to_string(), path.to_string());
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("# notes ") {
                map.notes = rest.split_once(' ').and_then(|(commit, sources)| {
                    Some(NotesRecord {
                        commit: ObjectId::from_hex(commit.as_bytes()).ok()?,
                        sources: sources.to_string(),
                    })
                });
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
            map.insert(repo, old, new);
        }
        Ok(map)
    }

    /// Loads `file`; a missing file is an empty map.
    pub fn load(file: &Path) -> Result<CommitMap, crate::history::Error> {
        Ok(CommitMap::load_with_text(file)?.0)
    }

    /// Loads `file` and returns its text too (empty for a missing file), for a caller that
    /// rewrites the file only when its text changes.
    pub fn load_with_text(file: &Path) -> Result<(CommitMap, String), crate::history::Error> {
        match std::fs::read_to_string(file) {
            Ok(text) => Ok((CommitMap::parse(file, &text)?, text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((CommitMap::default(), String::new()))
            }
            Err(e) => Err(crate::history::Error::Io {
                path: file.to_owned(),
                source: e,
            }),
        }
    }

    fn slot(&mut self, repo: &str) -> u32 {
        if let Some(i) = self.index.get(repo) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(repo.to_string());
        self.maps.push(IdMap::default());
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
        if let gix::hashtable::hash_map::Entry::Vacant(v) = self.maps[i as usize].entry(old) {
            v.insert(new);
            self.order.push((i, old));
        }
    }

    /// Records every `(old, new)` pair of `pairs` for `repo` (first value wins).
    pub fn extend(&mut self, repo: &str, pairs: &[(ObjectId, ObjectId)]) {
        let i = self.slot(repo);
        self.maps[i as usize].reserve(pairs.len());
        self.order.reserve(pairs.len());
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
        self.paths.insert(repo.to_string(), path.to_string());
    }

    /// Drops every entry of `repo` (its images were made for another path).
    pub fn forget(&mut self, repo: &str) {
        if let Some(i) = self.index.get(repo).copied() {
            self.maps[i as usize].clear();
            self.order.retain(|(r, _)| *r != i);
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

    /// The repos with at least one entry, in the order they first got one.
    pub fn repos(&self) -> impl Iterator<Item = &str> + '_ {
        self.names
            .iter()
            .zip(&self.maps)
            .filter(|(_, m)| !m.is_empty())
            .map(|(n, _)| n.as_str())
    }

    /// Number of entries for `repo`.
    pub fn len_for(&self, repo: &str) -> usize {
        self.repo_map(repo).map_or(0, |m| m.len())
    }

    /// Total number of entries.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Every entry as `(repo, old, new)` in insertion order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, ObjectId, ObjectId)> + '_ {
        self.order.iter().filter_map(|(i, old)| {
            let new = self.maps[*i as usize].get(old)?;
            Some((self.names[*i as usize].as_str(), *old, *new))
        })
    }

    /// The file text: `<old> <new> <repo>` lines in insertion order.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.order.len() * 100);
        for (repo, path) in &self.paths {
            let _ = writeln!(out, "# path {repo} {path}");
        }
        if let Some(n) = &self.notes {
            let _ = writeln!(out, "# notes {} {}", n.commit, n.sources);
        }
        let mut hex = [0u8; 40];
        for (repo, old, new) in self.entries() {
            out.push_str(old.hex_to_buf(&mut hex));
            out.push(' ');
            out.push_str(new.hex_to_buf(&mut hex));
            out.push(' ');
            out.push_str(repo);
            out.push('\n');
        }
        out
    }
}

//! The journal of an `apply`.
//!
//! Before `apply` changes anything it records, per monorepo, whether the repository existed
//! and the previous value of every ref it will create or move, plus every file it writes
//! under the output directory ([`Journal`]). The journal only grows: a re-run after a crash
//! keeps the earliest previous values, so `rollback.sh` always returns to the state before
//! the first `apply`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{read_json, write_data, Error, JOURNAL_FILE, MARKER_DIR};

/// What an `apply` changed or will change, with previous values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The fingerprint of the plan last applied.
    pub fingerprint: String,
    /// One entry per monorepo.
    pub monorepos: Vec<JournalRepo>,
    /// Files written under the output directory (relative paths), sorted.
    pub files: Vec<String>,
}

/// One monorepo in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRepo {
    /// The monorepo's name.
    pub name: String,
    /// Its git directory, relative to the output directory.
    pub dir: String,
    /// Its URL (redacted), for the push script.
    pub url: String,
    /// Whether tfmono created the repository (rollback then deletes it).
    pub created: bool,
    /// Every ref tfmono creates or moves, with its value before the first apply.
    pub refs: Vec<JournalRef>,
}

/// A ref and its value before tfmono touched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRef {
    /// The full ref name.
    pub name: String,
    /// Its previous target (hex), or `None` when tfmono creates it.
    pub before: Option<String>,
}

/// One monorepo an apply is about to write, as [`record`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalTarget {
    /// The monorepo's name.
    pub name: String,
    /// Its git directory, relative to the output directory.
    pub dir: String,
    /// Its URL (redacted when recorded).
    pub url: String,
    /// Every ref the apply creates or moves in it, sorted.
    pub refs: Vec<String>,
}

/// Returns the journal file's path under `out`.
pub fn journal_path(out: &Path) -> PathBuf {
    out.join(MARKER_DIR).join(JOURNAL_FILE)
}

/// Reads the journal under `out`, if there is one.
pub fn load(out: &Path) -> Result<Option<Journal>, Error> {
    read_json(journal_path(out))
}

/// Writes `journal` atomically (temporary file, fsync, rename).
pub fn save(out: &Path, journal: &Journal) -> Result<(), Error> {
    let path = journal_path(out);
    let json = serde_json::to_vec_pretty(journal).expect("a journal always serialises");
    write_data(&path, &json)
}

/// Records, before anything changes, the previous value of every ref of `targets` (the
/// monorepos of the plan of inputs `fingerprint`) and the files the apply will write,
/// merged into any earlier journal (earliest values win).
pub fn record(
    out: &Path,
    fingerprint: &str,
    targets: &[JournalTarget],
    files: &[String],
) -> Result<Journal, Error> {
    let mut journal = load(out)?.unwrap_or_default();
    journal.fingerprint = fingerprint.to_string();
    for mono in targets {
        let git_dir = out.join(&mono.dir);
        let exists = git_dir.exists();
        let idx = match journal.monorepos.iter().position(|m| m.name == mono.name) {
            Some(i) => i,
            None => {
                journal.monorepos.push(JournalRepo {
                    name: mono.name.clone(),
                    dir: mono.dir.clone(),
                    url: crate::redact::url(&mono.url),
                    created: !exists,
                    refs: Vec::new(),
                });
                journal.monorepos.len() - 1
            }
        };
        let entry = &mut journal.monorepos[idx];
        let refs_err = |message: String| Error::Refs {
            path: git_dir.clone(),
            message,
        };
        // Opened only for refs no earlier apply recorded.
        let mut repo: Option<gix::Repository> = None;
        // An earlier apply recorded these: their earliest values are kept.
        let mut known: std::collections::HashSet<&str> =
            entry.refs.iter().map(|r| r.name.as_str()).collect();
        let mut added = Vec::new();
        for name in &mono.refs {
            if !known.insert(name) {
                continue;
            }
            let before = if !exists {
                None
            } else {
                if repo.is_none() {
                    repo = Some(
                        gix::open_opts(&git_dir, crate::history::open_options())
                            .map_err(|e| refs_err(e.to_string()))?,
                    );
                }
                match &repo {
                    Some(repo) => current(repo, name).map_err(refs_err)?,
                    None => None,
                }
            };
            added.push(JournalRef {
                name: name.clone(),
                before,
            });
        }
        entry.refs.extend(added);
        entry.refs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    journal.files.extend(files.iter().cloned());
    journal.files.sort();
    journal.files.dedup();
    save(out, &journal)?;
    Ok(journal)
}

fn current(repo: &gix::Repository, name: &str) -> Result<Option<String>, String> {
    match repo.try_find_reference(name).map_err(|e| e.to_string())? {
        Some(r) => Ok(r.target().try_id().map(|id| id.to_string())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_previous_value_wins_and_files_only_grow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        super::super::claim_output(out).expect("claimed");
        let target = JournalTarget {
            name: "live".into(),
            dir: "live.git".into(),
            url: "https://user:secret@example.com/live.git".into(),
            refs: vec!["refs/heads/main".into()],
        };
        let first = record(
            out,
            "f1",
            std::slice::from_ref(&target),
            &["b".into(), "a".into()],
        )
        .expect("recorded");
        assert_eq!(first.files, ["a", "b"]);
        assert!(first.monorepos[0].created);
        assert!(!first.monorepos[0].url.contains("secret"));
        let second = record(out, "f2", &[target], &["c".into()]).expect("recorded again");
        assert_eq!(second.fingerprint, "f2");
        assert_eq!(second.files, ["a", "b", "c"]);
        assert_eq!(load(out).expect("read"), Some(second));
    }
}

//! The journal of an `apply` and the scripts that undo or publish it.
//!
//! Before `apply` changes anything it records, per monorepo, whether the repository existed
//! and the previous value of every ref the plan will create or move, plus every file it
//! writes under the output directory ([`Journal`]). The journal only grows: a re-run after
//! a crash keeps the earliest previous values, so `rollback.sh` always returns to the state
//! before the first `apply`. [`rollback_script`] and [`push_script`] render from it.

mod scripts;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::Plan;

pub use scripts::{push_script, rollback_script};

/// The directory under the output directory that marks it as tfmono's.
pub const MARKER_DIR: &str = ".tfmono";
/// The notes ref holding `Migrated-from:` lines.
pub use crate::apply::NOTES_REF;

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

/// Errors reading or writing the journal; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output directory holds files that are not tfmono's.
    #[error("output directory {} is not empty and was not made by tfmono (no {MARKER_DIR}/ in it); choose an empty or new directory", dir.display())]
    NotOurs {
        /// The output directory.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another tfmono holds the output directory.
    #[error("another tfmono is running on {} (an apply, rollback or verify holds {}); wait for it to finish and run this again", dir.display(), dir.join(MARKER_DIR).join("lock").display())]
    Busy {
        /// The output directory.
        dir: PathBuf,
    },
    /// The journal is not valid JSON.
    #[error("the journal {} is damaged ({source}); restore it from a backup or start with a new output directory", path.display())]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A monorepo's refs could not be read.
    #[error("cannot read the refs of {}: {message}", path.display())]
    Refs {
        /// The monorepo's git directory.
        path: PathBuf,
        /// What gix said.
        message: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Returns the journal file's path under `out`.
pub fn journal_path(out: &Path) -> PathBuf {
    out.join(MARKER_DIR).join("journal.json")
}

/// Checks that `out` is usable (missing, empty, or tfmono's) and claims it with the marker.
pub fn claim_output(out: &Path) -> Result<(), Error> {
    check_output(out)?;
    let marker = out.join(MARKER_DIR);
    std::fs::create_dir_all(&marker).map_err(io("create the output directory", &marker))?;
    Ok(())
}

/// Checks, without writing, that `out` can be claimed: absent, empty, or tfmono's.
pub fn check_output(out: &Path) -> Result<(), Error> {
    if out.exists() {
        let marker = out.join(MARKER_DIR);
        let mut entries = std::fs::read_dir(out).map_err(io("read the output directory", out))?;
        if !marker.is_dir() && entries.next().is_some() {
            return Err(Error::NotOurs {
                dir: out.to_owned(),
            });
        }
    }
    Ok(())
}

/// An exclusive lock on an output directory, released when dropped (or when the process
/// dies: the OS drops it). While it is held, leftovers of a killed run (`*.lock` files in
/// the monorepos, staging directories) are known to be stale.
#[derive(Debug)]
pub struct OutputLock {
    _file: std::fs::File,
}

/// Takes the exclusive lock of `out` (after [`claim_output`]); fails at once if another
/// tfmono holds it.
pub fn lock_output(out: &Path) -> Result<OutputLock, Error> {
    let path = out.join(MARKER_DIR).join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("create", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(OutputLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy {
            dir: out.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Io {
            action: "lock",
            path,
            source: e,
        }),
    }
}

/// Reads the journal under `out`, if there is one.
pub fn load(out: &Path) -> Result<Option<Journal>, Error> {
    let path = journal_path(out);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Damaged { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            action: "read",
            path,
            source: e,
        }),
    }
}

/// Writes `journal` atomically (temporary file, fsync, rename).
pub fn save(out: &Path, journal: &Journal) -> Result<(), Error> {
    let path = journal_path(out);
    let json = serde_json::to_vec_pretty(journal).expect("a journal always serialises");
    write_atomic(&path, &json)
}

/// Writes `bytes` to `path` atomically: a crash leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::apply::files::write_atomic(path, bytes, crate::apply::files::Mode::Data)
        .map_err(io("write", path))
}

/// Returns every ref `plan` creates or moves in `mono`, sorted.
pub fn planned_refs(plan: &Plan, mono: &str) -> Vec<String> {
    let mut refs: Vec<String> = plan
        .monorepos
        .iter()
        .filter(|m| m.name == mono)
        .flat_map(|m| &m.imports)
        .flat_map(|i| i.branches.iter().chain(&i.tags))
        .map(|r| r.to.clone())
        .collect();
    refs.push(crate::plan::MAIN_REF.to_string());
    refs.push(NOTES_REF.to_string());
    refs.sort();
    refs.dedup();
    refs
}

/// Records, before anything changes, the previous value of every ref `plan` will touch and
/// the files it will write, merged into any earlier journal (earliest values win).
pub fn record(plan: &Plan, out: &Path, files: &[String]) -> Result<Journal, Error> {
    let mut journal = load(out)?.unwrap_or_default();
    journal.fingerprint = plan.fingerprint.clone();
    for mono in &plan.monorepos {
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
        let repo = if exists {
            Some(
                gix::open_opts(&git_dir, crate::history::open_options()).map_err(|e| {
                    Error::Refs {
                        path: git_dir.clone(),
                        message: e.to_string(),
                    }
                })?,
            )
        } else {
            None
        };
        for name in planned_refs(plan, &mono.name) {
            if entry.refs.iter().any(|r| r.name == name) {
                continue; // an earlier apply recorded it: keep the earliest value
            }
            let before = match &repo {
                Some(repo) => current(repo, &name).map_err(|message| Error::Refs {
                    path: git_dir.clone(),
                    message,
                })?,
                None => None,
            };
            entry.refs.push(JournalRef { name, before });
        }
        entry.refs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    for f in files {
        if !journal.files.contains(f) {
            journal.files.push(f.clone());
        }
    }
    journal.files.sort();
    save(out, &journal)?;
    Ok(journal)
}

/// The file under [`MARKER_DIR`] holding every monorepo ref's value right after the last
/// apply: rollback compares with it to find work made in the monorepos since.
const APPLIED_FILE: &str = "applied.json";

/// Every ref of each journal monorepo: name -> target (hex), by monorepo name.
type RefValues = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

fn all_refs(git_dir: &Path) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let err = |e: &dyn std::fmt::Display| Error::Refs {
        path: git_dir.to_owned(),
        message: e.to_string(),
    };
    let repo = gix::open_opts(git_dir, crate::history::open_options()).map_err(|e| err(&e))?;
    let platform = repo.references().map_err(|e| err(&e))?;
    let mut out = std::collections::BTreeMap::new();
    for r in platform.all().map_err(|e| err(&e))? {
        let r = r.map_err(|e| err(&e))?;
        if let Some(id) = r.target().try_id() {
            out.insert(r.name().as_bstr().to_string(), id.to_string());
        }
    }
    Ok(out)
}

/// What [`record_applied`] recorded, if anything.
fn load_applied(out: &Path) -> Result<Option<RefValues>, Error> {
    let path = out.join(MARKER_DIR).join(APPLIED_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Damaged { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            action: "read",
            path,
            source: e,
        }),
    }
}

/// Records every ref of every monorepo in `journal` as apply left it (called at the end of a
/// successful apply).
pub fn record_applied(out: &Path, journal: &Journal) -> Result<(), Error> {
    let mut values = RefValues::new();
    for m in &journal.monorepos {
        let dir = out.join(&m.dir);
        if dir.join("HEAD").is_file() {
            values.insert(m.name.clone(), all_refs(&dir)?);
        }
    }
    let json = serde_json::to_vec_pretty(&values).expect("ref values always serialise");
    write_atomic(&out.join(MARKER_DIR).join(APPLIED_FILE), &json)
}

/// Forgets what [`record_applied`] recorded (after a rollback: nothing is applied).
pub fn forget_applied(out: &Path) -> Result<(), Error> {
    for name in [SYNCED_FILE, APPLIED_FILE] {
        let path = out.join(MARKER_DIR).join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Io {
                    action: "remove",
                    path,
                    source: e,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// The file under [`MARKER_DIR`] holding the input fingerprint
/// ([`crate::plan::inputs_fingerprint`]) and the legacy refs of the last apply that completed.
const SYNCED_FILE: &str = "synced.json";

/// What the last completed apply imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced {
    /// The fingerprint of its inputs, with whatever else decided its output (the caller's
    /// key: e.g. where the state scripts look for the monorepo checkouts).
    pub fingerprint: String,
    /// The refs of every legacy repo as it read them.
    pub repos: Vec<crate::inventory::RepoRefs>,
}

/// Records that the apply of inputs `fingerprint`, reading legacy refs `repos`, completed
/// (after [`record_applied`]).
pub fn record_synced(
    out: &Path,
    fingerprint: &str,
    repos: Vec<crate::inventory::RepoRefs>,
) -> Result<(), Error> {
    let synced = Synced {
        fingerprint: fingerprint.to_string(),
        repos,
    };
    let json = serde_json::to_vec_pretty(&synced).expect("refs always serialise");
    write_atomic(&out.join(MARKER_DIR).join(SYNCED_FILE), &json)
}

/// What the last completed apply into `out` imported, if it recorded it (a damaged record
/// counts as none: it only lets a re-run skip work, and the next full run rewrites it).
pub fn last_synced(out: &Path) -> Result<Option<Synced>, Error> {
    let path = out.join(MARKER_DIR).join(SYNCED_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            action: "read",
            path,
            source: e,
        }),
    }
}

/// Whether `out` already holds exactly what applying inputs `fingerprint` makes (`key`: the
/// fingerprint with what else decided the output, as [`record_synced`] got it): the last
/// apply that completed had these inputs, no apply was started since with others, every file
/// it wrote is there and every monorepo ref has the value it left (none moved, added or
/// deleted). Reads ref files and the records only, no object.
pub fn is_synced(out: &Path, fingerprint: &str, key: &str) -> Result<bool, Error> {
    if last_synced(out)?.is_none_or(|s| s.fingerprint != key) {
        return Ok(false);
    }
    let Some(journal) = load(out)? else {
        return Ok(false);
    };
    if journal.fingerprint != fingerprint || journal.files.iter().any(|f| !out.join(f).is_file()) {
        return Ok(false);
    }
    let Some(applied) = load_applied(out)? else {
        return Ok(false);
    };
    for m in &journal.monorepos {
        let dir = out.join(&m.dir);
        let Some(then) = applied.get(&m.name) else {
            return Ok(false);
        };
        if !dir.join("HEAD").is_file() || &all_refs(&dir)? != then {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Refs of one monorepo that rollback would lose: moved or created since the last apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The monorepo's name.
    pub monorepo: String,
    /// Its git directory.
    pub dir: PathBuf,
    /// The full ref names, sorted.
    pub refs: Vec<String>,
}

/// The refs rollback would lose, per monorepo: in a monorepo apply created (rollback
/// removes it) every ref that is new or moved since the last apply; in one that existed,
/// every ref rollback resets that moved since. Empty when no apply recorded its refs.
pub fn moved_since_apply(out: &Path, journal: &Journal) -> Result<Vec<Moved>, Error> {
    let Some(applied) = load_applied(out)? else {
        return Ok(Vec::new());
    };
    let mut moved = Vec::new();
    for m in &journal.monorepos {
        let dir = out.join(&m.dir);
        let Some(then) = applied.get(&m.name) else {
            continue;
        };
        if !dir.join("HEAD").is_file() {
            continue;
        }
        let now = all_refs(&dir)?;
        let refs: Vec<String> = now
            .iter()
            .filter(|(name, value)| {
                (m.created || m.refs.iter().any(|r| &r.name == *name))
                    && then.get(*name) != Some(*value)
            })
            .map(|(name, _)| name.clone())
            .collect();
        if !refs.is_empty() {
            moved.push(Moved {
                monorepo: m.name.clone(),
                dir,
                refs,
            });
        }
    }
    Ok(moved)
}

fn current(repo: &gix::Repository, name: &str) -> Result<Option<String>, String> {
    match repo.try_find_reference(name).map_err(|e| e.to_string())? {
        Some(r) => Ok(r.target().try_id().map(|id| id.to_string())),
        None => Ok(None),
    }
}

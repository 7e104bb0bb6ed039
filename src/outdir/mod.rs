//! The output directory `apply` writes, and everything about its layout.
//!
//! ```text
//! out/
//!   .tfmono/              the marker: this directory is tfmono's (MARKER_DIR)
//!     lock                held while an apply, rollback or verify runs (lock_output)
//!     journal.json        refs before the first apply, files written (Journal)
//!     applied.json        every monorepo ref as the last apply left it (record_applied)
//!     synced.json         the inputs of the last completed apply (record_synced)
//!     scans.json.z        the source scans of the last completed apply, zlib'd JSON (record_scans)
//!     repos/<repo>.json   how an apply read each legacy repo, for the next (record_repo)
//!     verified.json       what the last verify proved, for `verify --since-last` (record_verified)
//!   <monorepo>.git/       one bare repo per monorepo (MAIN_REF, NOTES_REF, imports, tags)
//!   <monorepo>.commit-map/ the commit map: an index and a file per legacy repo (commit_map_file)
//!   rollback.sh, push.sh  rendered from the journal (ROLLBACK_SCRIPT, PUSH_SCRIPT)
//!   state/…               the Terraform state scripts (STATE_DIR)
//! ```
//!
//! This module owns those names, claims and locks the directory, keeps the journal and the
//! records, and is the one writer of its files ([`write_file`], [`write_script`]). It knows
//! nothing of plans: callers describe what they touch ([`JournalTarget`]).

mod journal;
mod records;
mod write;

use std::path::{Path, PathBuf};

pub use journal::{
    journal_path, load, record, save, Journal, JournalRef, JournalRepo, JournalTarget,
};
pub use records::{
    forget_applied, is_intact, is_synced, is_synced_as, last_repo, last_scans, last_stamps,
    last_synced, last_verified, moved_since_apply, prepare_repo, prepare_scans, record_applied,
    record_prepared_repo, record_prepared_scans, record_repo, record_scans, record_stamps,
    record_synced, record_verified, Moved, Prepared, Synced,
};
pub use write::{write_file, write_script, SCRIPT_END};

/// The directory under the output directory that marks it as tfmono's.
pub const MARKER_DIR: &str = ".tfmono";
/// The lock file under [`MARKER_DIR`].
pub const LOCK_FILE: &str = "lock";
/// The journal file under [`MARKER_DIR`].
pub const JOURNAL_FILE: &str = "journal.json";
/// The file under [`MARKER_DIR`] holding every monorepo ref's value right after the last
/// apply: rollback compares with it to find work made in the monorepos since.
pub const APPLIED_FILE: &str = "applied.json";
/// The file under [`MARKER_DIR`] holding the input fingerprint and the legacy refs of the
/// last apply that completed.
pub const SYNCED_FILE: &str = "synced.json";
/// The file under [`MARKER_DIR`] holding the tag scans of the last apply that completed:
/// a cache, keyed by its inputs, that a later run may reuse.
pub const SCANS_FILE: &str = "scans.json.z";
/// The directory under [`MARKER_DIR`] holding how the last applies read each legacy repo
/// (`record_repo`), one file per repo.
pub const REPOS_DIR: &str = "repos";
/// The file under [`MARKER_DIR`] holding the stat stamps of the legacy repos' ref files as
/// the last run that read them found them: a re-run takes the refs of a repo whose files
/// still stamp the same without reading them (see `inventory::stamps`).
pub const STAMPS_FILE: &str = "ref-stamps.json";
/// The file under [`MARKER_DIR`] holding what the last verify proved (the legacy tips whose
/// whole history has an identical image): `verify --since-last` checks only what is new.
pub const VERIFIED_FILE: &str = "verified.json";
/// The script that undoes an apply, at the top of the output directory.
pub const ROLLBACK_SCRIPT: &str = "rollback.sh";
/// The script that pushes the monorepos, at the top of the output directory.
pub const PUSH_SCRIPT: &str = "push.sh";
/// The directory of the Terraform state scripts.
pub const STATE_DIR: &str = "state";
/// The branch every import is merged into.
pub const MAIN_REF: &str = "refs/heads/main";
/// The ref holding the commit-map notes (`Migrated-from:` lines).
pub const NOTES_REF: &str = "refs/notes/tfmono";

/// The commit map's directory name for `monorepo`, relative to the output directory (see
/// [`crate::history::commit_map`]).
pub fn commit_map_file(monorepo: &str) -> String {
    format!("{monorepo}.commit-map")
}

/// The commit map directory of a monorepo.
pub fn commit_map_path(out: &Path, monorepo: &str) -> PathBuf {
    out.join(commit_map_file(monorepo))
}

/// A state script's path relative to the output directory, from its path relative to
/// [`STATE_DIR`].
pub fn state_file(relative: &str) -> String {
    format!("{STATE_DIR}/{relative}")
}

/// Errors claiming, locking, reading or writing the output directory; each names the file.
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
    #[error("another tfmono is running on {} (an apply, rollback or verify holds {}); wait for it to finish and run this again", dir.display(), dir.join(MARKER_DIR).join(LOCK_FILE).display())]
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

/// Writes the data `bytes` to `path` with [`write_file`], naming the file in the error.
pub(crate) fn write_data(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_file(path, bytes).map_err(io("write", path))
}

/// Writes the script `body` to `out/name` with [`write_script`], naming the file in the
/// error.
pub fn write_script_in(out: &Path, name: &str, body: &str) -> Result<(), Error> {
    let path = out.join(name);
    write_script(&path, body).map_err(io("write", &path))
}

/// Whether `out` is marked as tfmono's.
pub fn is_ours(out: &Path) -> bool {
    out.join(MARKER_DIR).is_dir()
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
    let path = out.join(MARKER_DIR).join(LOCK_FILE);
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

/// What decides a run's output beyond the plan, as [`record_synced`] records it: the plan's
/// input fingerprint and where the state scripts will look for the monorepo checkouts
/// (`monorepos`, made absolute).
pub fn run_key(fingerprint: &str, monorepos: Option<&Path>) -> Result<String, Error> {
    Ok(match monorepos {
        Some(dir) => format!(
            "{fingerprint} monorepos={}",
            std::path::absolute(dir)
                .map_err(io("make absolute", dir))?
                .display()
        ),
        None => fingerprint.to_string(),
    })
}

/// Reads and parses the JSON record at `path`, if the file is there.
fn read_json<T: serde::de::DeserializeOwned>(path: PathBuf) -> Result<Option<T>, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_are_stable() {
        // These names are on disk in every output directory already written.
        let out = Path::new("o");
        assert_eq!(journal_path(out), Path::new("o/.tfmono/journal.json"));
        assert_eq!(commit_map_path(out, "live"), Path::new("o/live.commit-map"));
        assert_eq!(state_file("migrate-all.sh"), "state/migrate-all.sh");
        assert_eq!(NOTES_REF, "refs/notes/tfmono");
        assert_eq!(MAIN_REF, "refs/heads/main");
    }

    #[test]
    fn a_foreign_directory_is_refused_and_a_claimed_one_locks_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("x"), "").expect("write");
        assert!(matches!(
            claim_output(dir.path()),
            Err(Error::NotOurs { .. })
        ));
        let out = dir.path().join("out");
        claim_output(&out).expect("claimed");
        assert!(is_ours(&out));
        let held = lock_output(&out).expect("locked");
        assert!(matches!(lock_output(&out), Err(Error::Busy { .. })));
        drop(held);
        lock_output(&out).expect("locked again");
    }

    #[test]
    fn run_key_adds_the_checkout_dir() {
        assert_eq!(run_key("abc", None).expect("key"), "abc");
        assert_eq!(
            run_key("abc", Some(Path::new("/m"))).expect("key"),
            "abc monorepos=/m"
        );
    }
}

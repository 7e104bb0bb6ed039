//! What the last completed apply left: every monorepo ref's value ([`record_applied`], read
//! by rollback to find work made since) and its inputs ([`record_synced`], read by a re-run
//! to skip everything when nothing changed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    io, journal, read_json, write_data, Error, Journal, APPLIED_FILE, MARKER_DIR, REPOS_DIR,
    SCANS_FILE, STAMPS_FILE, SYNCED_FILE, VERIFIED_FILE,
};

/// Every ref of each journal monorepo: name -> target (hex), by monorepo name.
type RefValues = BTreeMap<String, BTreeMap<String, String>>;

fn all_refs(git_dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    let err = |e: &dyn std::fmt::Display| Error::Refs {
        path: git_dir.to_owned(),
        message: e.to_string(),
    };
    // The ref store alone: a monorepo is a plain bare repo tfmono made, and opening it as a
    // repository (its config, its object store) costs more than reading its refs.
    let store = gix::refs::file::Store::at(git_dir.to_owned(), gix::hash::Kind::Sha1);
    let platform = store.iter().map_err(|e| err(&e))?;
    let mut out = BTreeMap::new();
    for r in platform.all().map_err(|e| err(&e))? {
        let r = r.map_err(|e| err(&e))?;
        if let gix::refs::Target::Object(id) = r.target {
            out.insert(r.name.as_bstr().to_string(), id.to_string());
        }
    }
    Ok(out)
}

/// What [`record_applied`] recorded, if anything.
fn load_applied(out: &Path) -> Result<Option<RefValues>, Error> {
    read_json(out.join(MARKER_DIR).join(APPLIED_FILE))
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
    let json = serde_json::to_vec(&values).expect("ref values always serialise");
    write_data(&out.join(MARKER_DIR).join(APPLIED_FILE), &json)
}

/// Forgets what [`record_applied`], [`record_synced`], [`record_scans`],
/// [`record_verified`] and [`record_stamps`] recorded (after a rollback: nothing is
/// applied, nothing is verified).
pub fn forget_applied(out: &Path) -> Result<(), Error> {
    let repos = out.join(MARKER_DIR).join(REPOS_DIR);
    match std::fs::remove_dir_all(&repos) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("remove", &repos)(e));
        }
        _ => {}
    }
    for name in [
        SYNCED_FILE,
        APPLIED_FILE,
        SCANS_FILE,
        VERIFIED_FILE,
        STAMPS_FILE,
    ] {
        let path = out.join(MARKER_DIR).join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove", &path)(e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// What the last completed apply imported. `R` is the caller's record of one legacy repo's
/// refs (the inventory's `RepoRefs`); this module only stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced<R> {
    /// The fingerprint of its inputs, with whatever else decided its output (the caller's
    /// key: see [`super::run_key`]).
    pub fingerprint: String,
    /// The fingerprint of its inputs but the legacy refs (the caller's: a later run with
    /// the same one may build on this apply's output repo by repo; see [`last_intact`]).
    #[serde(default)]
    pub base: String,
    /// The fingerprint of its inputs as its journal records it.
    #[serde(default)]
    pub inputs: String,
    /// The refs of every legacy repo as it read them.
    pub repos: Vec<R>,
}

/// Records that the apply of inputs `key` (see [`super::run_key`]; `inputs` as the journal
/// has it, `base` as [`Synced::base`] says), reading legacy refs `repos`, completed (after
/// [`record_applied`]).
pub fn record_synced<R: Serialize>(
    out: &Path,
    key: &str,
    base: &str,
    inputs: &str,
    repos: &[R],
) -> Result<(), Error> {
    #[derive(Serialize)]
    struct SyncedRef<'a, R> {
        fingerprint: &'a str,
        base: &'a str,
        inputs: &'a str,
        repos: &'a [R],
    }
    let synced = SyncedRef {
        fingerprint: key,
        base,
        inputs,
        repos,
    };
    let json = serde_json::to_vec(&synced).expect("refs always serialise");
    write_data(&out.join(MARKER_DIR).join(SYNCED_FILE), &json)
}

/// Records the stamps of the legacy repos' ref files (the caller's: see
/// `inventory::StampedRefs`; this module only stores them). They describe the legacy repos,
/// not the output: any run that read them may write them (under the output's lock), a
/// no-op re-run included; a rollback forgets them with the other records.
pub fn record_stamps<S: Serialize>(out: &Path, stamps: &[S]) -> Result<(), Error> {
    let json = serde_json::to_vec(stamps).expect("stamps always serialise");
    write_data(&out.join(MARKER_DIR).join(STAMPS_FILE), &json)
}

/// What [`record_stamps`] recorded in `out`, if anything (a damaged record counts as none:
/// the refs are read again).
pub fn last_stamps<S: serde::de::DeserializeOwned>(out: &Path) -> Result<Option<Vec<S>>, Error> {
    read_record(out, STAMPS_FILE)
}

/// What the last completed apply into `out` imported, if it recorded it (a damaged record
/// counts as none: it only lets a re-run skip work, and the next full run rewrites it).
pub fn last_synced<R: serde::de::DeserializeOwned>(out: &Path) -> Result<Option<Synced<R>>, Error> {
    read_record(out, SYNCED_FILE)
}

/// The record `file` under the marker directory of `out`, if it is there. A damaged record
/// counts as none: records only let a later run skip work, and that run rewrites them.
fn read_record<T: serde::de::DeserializeOwned>(out: &Path, file: &str) -> Result<Option<T>, Error> {
    match read_json(out.join(MARKER_DIR).join(file)) {
        Err(Error::Damaged { .. }) => Ok(None),
        other => other,
    }
}

/// Records the tag scans `scans` of the apply that completed (the caller's cache: see
/// `plan::cache`; this module only stores it). Written before [`record_synced`].
pub fn record_scans<S: Serialize>(out: &Path, scans: &S) -> Result<(), Error> {
    record_prepared_scans(out, &prepare_scans(scans))
}

/// A record serialised ahead of its writing (by a thread of its own while the monorepos
/// are written, say): [`prepare_scans`], [`prepare_repo`].
#[derive(Debug)]
pub struct Prepared {
    /// The repo a repo record is of (empty for the scans).
    name: String,
    bytes: Vec<u8>,
}

/// The tag scans `scans`, ready for [`record_prepared_scans`].
pub fn prepare_scans<S: Serialize>(scans: &S) -> Prepared {
    Prepared {
        name: String::new(),
        bytes: compressed_json(scans),
    }
}

/// `value` as JSON, zlib-compressed (fast): records that hold file contents keep them as
/// the git objects do, so nothing of them shows as text in the output directory, and
/// megabytes of JSON become a fraction to write and read.
fn compressed_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Streamed into the compressor through a small buffer: the JSON of the scans record is
    // megabytes that were a quarter of the fresh memory a whole apply touched.
    let z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut json = std::io::BufWriter::with_capacity(64 * 1024, z);
    // Writing into memory does not fail, and records always serialise.
    serde_json::to_writer(&mut json, value).expect("records always serialise");
    json.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|z| z.finish())
        .expect("compressing into memory")
}

/// What [`compressed_json`] made of a `T`, if `bytes` is that (a damaged record is none).
fn from_compressed_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    thread_local! {
        // The JSON is inflated into a buffer each thread keeps: a thousand records read in a
        // row each zeroed a fresh one before.
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // Kept only up to this size: a record of megabytes (the scans) gets a buffer of its own.
    const KEEP: usize = 1 << 20;
    BUFFER.with(|buffer| {
        let mut kept = buffer.try_borrow_mut().ok();
        let mut own = Vec::new();
        let json = match kept.as_deref_mut() {
            Some(b) => b,
            None => &mut own,
        };
        let n = inflate(bytes, json)?;
        let value = serde_json::from_slice(&json[..n]).ok();
        if json.len() > KEEP {
            *json = Vec::new();
        }
        value
    })
}

/// Inflates the zlib stream `bytes` into `json` (grown as needed; whatever it holds past the
/// result is left as it was), returning the length of the result; `None` when it is damaged.
fn inflate(bytes: &[u8], json: &mut Vec<u8>) -> Option<usize> {
    // One call into libdeflate (a streaming decoder's set-up was most of reading a thousand
    // small records): the buffer grows until the JSON fits.
    let mut inflate = libdeflater::Decompressor::new();
    // JSON this compressed is about 9 times larger: a first guess of 16 fits it (the pages
    // of a fresh zeroed buffer that are not written cost nothing).
    let guess = bytes.len().saturating_mul(16).max(4096);
    if json.len() < guess {
        json.resize(guess, 0);
    }
    loop {
        match inflate.zlib_decompress(bytes, json) {
            Ok(n) => return Some(n),
            Err(libdeflater::DecompressionError::InsufficientSpace) if json.len() < 1 << 32 => {
                let grown = json.len().saturating_mul(4);
                json.resize(grown, 0);
            }
            Err(_) => return None,
        }
    }
}

/// The compressed record at `path`, if it is there and reads (a damaged record counts as
/// none).
fn read_compressed<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(from_compressed_json(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// [`record_scans`] with what [`prepare_scans`] made.
pub fn record_prepared_scans(out: &Path, scans: &Prepared) -> Result<(), Error> {
    write_data(&out.join(MARKER_DIR).join(SCANS_FILE), &scans.bytes)?;
    // The uncompressed record of earlier versions is superseded.
    let _ = std::fs::remove_file(out.join(MARKER_DIR).join("scans.json"));
    Ok(())
}

/// The tag scans the last completed apply into `out` recorded, if any (a damaged record
/// counts as none: it is a cache, keyed by its inputs).
pub fn last_scans<S: serde::de::DeserializeOwned>(out: &Path) -> Result<Option<S>, Error> {
    read_compressed(&out.join(MARKER_DIR).join(SCANS_FILE))
}

/// The file of legacy repo `name`'s record under the marker directory of `out`.
fn repo_record(out: &Path, name: &str) -> PathBuf {
    out.join(MARKER_DIR)
        .join(REPOS_DIR)
        .join(format!("{}.json.z", crate::objects::file_name(name)))
}

/// Records how an apply read legacy repo `name` (the caller's record: see
/// `inventory::Recorded`; this module only stores it). The JSON is zlib-compressed: the
/// record holds the repo's files as its git objects do (compressed, as in the packs apply
/// links), so nothing of them shows as text in the output directory.
pub fn record_repo<R: Serialize>(out: &Path, name: &str, record: &R) -> Result<(), Error> {
    record_prepared_repo(out, &prepare_repo(name, record))
}

/// The record of legacy repo `name`, ready for [`record_prepared_repo`].
pub fn prepare_repo<R: Serialize>(name: &str, record: &R) -> Prepared {
    Prepared {
        name: name.to_string(),
        bytes: compressed_json(record),
    }
}

/// [`record_repo`] with what [`prepare_repo`] made.
pub fn record_prepared_repo(out: &Path, record: &Prepared) -> Result<(), Error> {
    write_data(&repo_record(out, &record.name), &record.bytes)
}

/// How an earlier apply into `out` read legacy repo `name`, if it recorded it (a damaged
/// record counts as none: the repo is read again).
pub fn last_repo<R: serde::de::DeserializeOwned>(
    out: &Path,
    name: &str,
) -> Result<Option<R>, Error> {
    read_compressed(&repo_record(out, name))
}

/// Records what a verify of `out` proved (the caller's record: see `verify`; this module
/// only stores it).
pub fn record_verified<V: Serialize>(out: &Path, verified: &V) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(verified).expect("records always serialise");
    write_data(&out.join(MARKER_DIR).join(VERIFIED_FILE), &json)
}

/// What the last verify of `out` proved, if it recorded it (a damaged record counts as
/// none: `verify --since-last` then verifies everything again).
pub fn last_verified<V: serde::de::DeserializeOwned>(out: &Path) -> Result<Option<V>, Error> {
    read_record(out, VERIFIED_FILE)
}

/// Whether a run with inputs `base` (see [`Synced::base`]) may build repo by repo on the
/// output of the last completed apply into `out`, which recorded `synced`: it had the same
/// base, no apply was started since with other inputs, every file it wrote is there and
/// every monorepo ref has the value it left. Any doubt means `false`: the run does
/// everything again.
pub fn is_intact<R>(out: &Path, synced: &Synced<R>, base: &str) -> Result<bool, Error> {
    if synced.base.is_empty() || synced.base != base {
        return Ok(false);
    }
    as_left(out, &synced.inputs)
}

/// Whether the journal of `out` is that of an apply of inputs `fingerprint`, every file it
/// lists is there and every monorepo ref has the value the last apply left.
fn as_left(out: &Path, fingerprint: &str) -> Result<bool, Error> {
    let Some(journal) = journal::load(out)? else {
        return Ok(false);
    };
    if journal.fingerprint != fingerprint || journal.files.iter().any(|f| !out.join(f).exists()) {
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

/// Whether `out` already holds exactly what applying inputs `fingerprint` makes (`key`: the
/// fingerprint with what else decided the output, as [`record_synced`] got it): the last
/// apply that completed had these inputs, no apply was started since with others, every file
/// it wrote is there and every monorepo ref has the value it left (none moved, added or
/// deleted). Reads ref files and the records only, no object.
pub fn is_synced(out: &Path, fingerprint: &str, key: &str) -> Result<bool, Error> {
    let synced: Option<Synced<serde::de::IgnoredAny>> = last_synced(out)?;
    is_synced_as(out, synced.as_ref(), fingerprint, key)
}

/// [`is_synced`], with the record `synced` [`last_synced`] read of `out`.
pub fn is_synced_as<R>(
    out: &Path,
    synced: Option<&Synced<R>>,
    fingerprint: &str,
    key: &str,
) -> Result<bool, Error> {
    if synced.is_none_or(|s| s.fingerprint != key) {
        return Ok(false);
    }
    as_left(out, fingerprint)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_round_trips_and_a_damaged_record_counts_as_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        super::super::claim_output(out).expect("claimed");
        let none: Option<Synced<String>> = last_synced(out).expect("read");
        assert_eq!(none, None);
        record_synced(out, "key", "base", "inputs", &["a".to_string()]).expect("recorded");
        let got: Option<Synced<String>> = last_synced(out).expect("read");
        assert_eq!(
            got.map(|s| (s.fingerprint, s.base, s.inputs, s.repos)),
            Some((
                "key".into(),
                "base".into(),
                "inputs".into(),
                vec!["a".into()]
            ))
        );
        std::fs::write(out.join(MARKER_DIR).join(SYNCED_FILE), "{").expect("damage");
        let damaged: Option<Synced<String>> = last_synced(out).expect("read");
        assert_eq!(damaged, None);
        // and the verify record the same way; a rollback forgets it
        record_verified(out, &["v".to_string()]).expect("recorded");
        let got: Option<Vec<String>> = last_verified(out).expect("read");
        assert_eq!(got, Some(vec!["v".to_string()]));
        std::fs::write(out.join(MARKER_DIR).join(VERIFIED_FILE), "[").expect("damage");
        let damaged: Option<Vec<String>> = last_verified(out).expect("read");
        assert_eq!(damaged, None);
        forget_applied(out).expect("forgotten");
        assert!(!out.join(MARKER_DIR).join(VERIFIED_FILE).exists());
        // and without a journal, nothing is in sync
        record_synced(out, "key", "base", "f", &["a".to_string()]).expect("recorded");
        assert!(!is_synced(out, "f", "key").expect("checked"));
        let synced: Synced<String> = last_synced(out).expect("read").expect("recorded");
        assert!(synced.base == "base" && synced.inputs == "f");
        assert!(
            !is_intact(out, &synced, "base").expect("checked"),
            "no journal: nothing to build on"
        );
    }
}
